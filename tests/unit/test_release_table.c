/* The release table's eviction (pipeline/core/release_table.h): which
 * release a node forgets when its table is full. The tests build the
 * rollout's state by hand: only which deployments it knows, and which are
 * stable, in progress, or desired, matter here. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "pipeline/core/release_table.h"

#define CAP 4

static const char *const table[CAP] = {"d1", "d2", "d3", "d4"};

/* A rollout that knows d1..d4 (ids from first on; first 5: none), with
 * nothing stable, in progress or desired. */
static struct pl_state *knows_from(int first)
{
    static struct pl_state s;
    memset(&s, 0, sizeof(s));
    s.stable = s.active = s.revert_pending = -1;
    s.nnodes = 2;
    snprintf(s.nodes[0], PL_ID_MAX, "n1");
    snprintf(s.nodes[1], PL_ID_MAX, "n2");
    for (int i = first; i <= CAP; i++)
        snprintf(s.deps[s.ndeps++].id, PL_ID_MAX, "d%d", i);
    return &s;
}

static int index_of(const struct pl_state *s, const char *id)
{
    for (size_t i = 0; i < s->ndeps; i++)
        if (strcmp(s->deps[i].id, id) == 0)
            return (int)i;
    return -1;
}

static enum release_table_room room(const struct pl_state *s, const char *running, size_t *drop)
{
    *drop = 99;
    return release_table_room(s, running, table, CAP, CAP, drop);
}

static void test_a_table_with_room_keeps_the_new_release_and_forgets_nothing(void **state)
{
    (void)state;
    size_t drop = 99;
    assert_int_equal(release_table_room(knows_from(1), "", table, CAP - 1, CAP, &drop),
                     RELEASE_TABLE_ROOM);
    assert_int_equal(drop, 99);
}

static void test_a_full_table_forgets_the_oldest_release_the_rollout_forgot(void **state)
{
    (void)state;
    size_t drop;
    assert_int_equal(room(knows_from(3), "", &drop), RELEASE_TABLE_EVICT);
    assert_int_equal(drop, 0);
}

static void test_the_release_running_here_is_kept_though_the_rollout_forgot_it(void **state)
{
    (void)state;
    size_t drop;
    assert_int_equal(room(knows_from(3), "d1", &drop), RELEASE_TABLE_EVICT);
    assert_int_equal(drop, 1);
}

static void test_when_the_rollout_knows_all_the_oldest_release_nobody_needs_goes(void **state)
{
    (void)state;
    size_t drop;
    assert_int_equal(room(knows_from(1), "", &drop), RELEASE_TABLE_EVICT);
    assert_int_equal(drop, 0);
    assert_int_equal(room(knows_from(1), "d1", &drop), RELEASE_TABLE_EVICT);
    assert_int_equal(drop, 1);
}

static void test_the_stable_release_and_the_one_before_it_are_kept(void **state)
{
    (void)state;
    struct pl_state *s = knows_from(1);
    s->stable = index_of(s, "d2");
    snprintf(s->prev_stable, PL_ID_MAX, "d1");
    size_t drop;
    assert_int_equal(room(s, "", &drop), RELEASE_TABLE_EVICT);
    assert_int_equal(drop, 2);
}

static void test_the_deployment_in_progress_and_its_rollback_target_are_kept(void **state)
{
    (void)state;
    struct pl_state *s = knows_from(1);
    s->active = index_of(s, "d3");
    snprintf(s->deps[s->active].target, PL_ID_MAX, "d1");
    size_t drop;
    assert_int_equal(room(s, "", &drop), RELEASE_TABLE_EVICT);
    assert_int_equal(drop, 1);
    s->active = index_of(s, "d1"); /* no target: a deployment, not a rollback */
    assert_int_equal(room(s, "", &drop), RELEASE_TABLE_EVICT);
    assert_int_equal(drop, 1);
}

static void test_what_any_node_must_run_is_kept(void **state)
{
    (void)state;
    struct pl_state *s = knows_from(1);
    snprintf(s->desired[1], PL_ID_MAX, "d1");
    size_t drop;
    assert_int_equal(room(s, "", &drop), RELEASE_TABLE_EVICT);
    assert_int_equal(drop, 1);
}

static void test_when_every_release_is_needed_the_new_one_is_not_kept(void **state)
{
    (void)state;
    struct pl_state *s = knows_from(1);
    s->stable = index_of(s, "d3");
    snprintf(s->prev_stable, PL_ID_MAX, "d2");
    snprintf(s->desired[0], PL_ID_MAX, "d4");
    size_t drop;
    assert_int_equal(room(s, "d1", &drop), RELEASE_TABLE_FULL);
    assert_int_equal(drop, 99);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_table_with_room_keeps_the_new_release_and_forgets_nothing),
        cmocka_unit_test(test_a_full_table_forgets_the_oldest_release_the_rollout_forgot),
        cmocka_unit_test(test_the_release_running_here_is_kept_though_the_rollout_forgot_it),
        cmocka_unit_test(test_when_the_rollout_knows_all_the_oldest_release_nobody_needs_goes),
        cmocka_unit_test(test_the_stable_release_and_the_one_before_it_are_kept),
        cmocka_unit_test(test_the_deployment_in_progress_and_its_rollback_target_are_kept),
        cmocka_unit_test(test_what_any_node_must_run_is_kept),
        cmocka_unit_test(test_when_every_release_is_needed_the_new_one_is_not_kept),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
