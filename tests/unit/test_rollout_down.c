/* The rollout core when members are down (the shell says so through
 * pl_member): waves pass over them, nobody waits for them, deployments and
 * rollbacks complete over the members that are up, and the records say
 * who was passed over so that a member coming back runs what the ledger
 * says. */
#include "test_rollout_support.h"

static bool named(const struct pl_record *r, const char *node)
{
    for (size_t i = 0; i < r->ndown; i++)
        if (strcmp(r->down[i], node) == 0)
            return true;
    return false;
}

static void test_a_wave_passes_over_a_member_that_is_down(void **state)
{
    (void)state;
    static struct pl_state s;
    pl_init(&s, nodes3, 3);
    struct pl_release v1 = release("1", 2, true);
    begin(&s, "d1", &v1, 0);
    pl_member(&s, "n1", false, 0);
    struct pl_record r;
    assert_int_equal(step(&s, 0, &r), PL_REC_WAVE);
    assert_int_equal(r.nnodes, 2);
    assert_string_equal(r.nodes[0], "n2");
    assert_string_equal(r.nodes[1], "n3");
    assert_int_equal(r.ndown, 1);
    assert_string_equal(r.down[0], "n1");
    assert_true(pl_find(&s, "d1")->down[0]);
}

static void test_a_release_becomes_stable_over_the_members_that_are_up(void **state)
{
    (void)state;
    static struct pl_state s;
    pl_init(&s, nodes3, 3);
    struct pl_release v1 = release("1", 1, true);
    pl_member(&s, "n3", false, 0);
    begin(&s, "d1", &v1, 0);
    struct pl_record r;
    uint64_t t = 0;
    for (int w = 0; w < 2; w++) {
        assert_int_equal(step(&s, t, &r), PL_REC_WAVE);
        assert_int_equal(r.nnodes, 1);
        healthy(&s, r.nodes[0], "d1", t);
        t += 2 * SEC;
    }
    assert_int_equal(step(&s, t, &r), PL_REC_STABLE);
    assert_true(named(&r, "n3"));
    assert_string_equal(s.deps[s.stable].id, "d1");
    assert_true(pl_find(&s, "d1")->down[2]);
}

static void test_a_member_down_during_its_wave_is_not_waited_for(void **state)
{
    (void)state;
    static struct pl_state s;
    d1_first_wave(&s, 3, true);
    /* n3 was told and is killed before it is healthy (say, the leader). */
    pl_member(&s, "n3", false, SEC);
    healthy(&s, "n1", "d1", 0);
    healthy(&s, "n2", "d1", 0);
    struct pl_record r;
    assert_int_equal(step(&s, 2 * SEC, &r), PL_REC_STABLE);
    assert_int_equal(r.ndown, 1);
    assert_string_equal(r.down[0], "n3");
}

static void test_a_member_down_never_fails_the_release_past_the_healthy_deadline(void **state)
{
    (void)state;
    static struct pl_state s;
    d1_first_wave(&s, 3, true);
    pl_member(&s, "n2", false, 0);
    reports(&s, "n1", "d1", PL_H_STARTING, "");
    reports(&s, "n3", "d1", PL_H_STARTING, "");
    assert_int_equal(step(&s, 5 * SEC, NULL), 0);
    healthy(&s, "n1", "d1", 9 * SEC);
    healthy(&s, "n3", "d1", 9 * SEC);
    assert_int_equal(step(&s, 10 * SEC + 1, NULL), 0); /* past the deadline: waits for n1, n3 */
    assert_int_equal(step(&s, 11 * SEC, NULL), PL_REC_STABLE);
}

static void test_a_member_that_comes_back_is_told_the_stable_release(void **state)
{
    (void)state;
    static struct pl_state s;
    pl_init(&s, nodes3, 3);
    struct pl_release v1 = release("1", 3, true), v2 = release("2", 3, true);
    uint64_t t = roll_to_stable(&s, "d1", &v1, 0);
    pl_member(&s, "n2", false, t);
    uint32_t gen = pl_desired_gen(&s, "n2");
    t = roll_to_stable(&s, "d2", &v2, t);
    assert_string_equal(s.deps[s.stable].id, "d2");
    assert_false(pl_find(&s, "d2")->assigned[1]); /* no wave reached it */
    /* The ledger tells n2 to run d2: it applies it when it comes back. */
    assert_string_equal(pl_desired(&s, "n2"), "d2");
    assert_true(pl_desired_gen(&s, "n2") > gen);
    pl_member(&s, "n2", true, t);
    assert_int_equal(step(&s, t + 100 * SEC, NULL), 0); /* nothing left to decide */
}

static void test_a_member_down_at_the_start_joins_a_later_wave_once_up(void **state)
{
    (void)state;
    static struct pl_state s;
    pl_init(&s, nodes3, 3);
    struct pl_release v1 = release("1", 1, true);
    pl_member(&s, "n2", false, 0);
    begin(&s, "d1", &v1, 0);
    struct pl_record r;
    assert_int_equal(step(&s, 0, &r), PL_REC_WAVE);
    assert_string_equal(r.nodes[0], "n1");
    assert_true(named(&r, "n2"));
    healthy(&s, "n1", "d1", 0);
    pl_member(&s, "n2", true, SEC);
    assert_int_equal(step(&s, 2 * SEC, &r), PL_REC_WAVE);
    assert_string_equal(r.nodes[0], "n2");
    assert_int_equal(r.ndown, 0);
    assert_false(pl_find(&s, "d1")->down[1]);
    healthy(&s, "n2", "d1", 2 * SEC);
    assert_int_equal(step(&s, 4 * SEC, &r), PL_REC_WAVE);
    assert_string_equal(r.nodes[0], "n3");
    healthy(&s, "n3", "d1", 4 * SEC);
    assert_int_equal(step(&s, 6 * SEC, &r), PL_REC_STABLE);
    assert_int_equal(r.ndown, 0);
}

static void test_a_member_that_comes_back_late_gets_a_fresh_healthy_deadline(void **state)
{
    (void)state;
    static struct pl_state s;
    pl_init(&s, nodes3, 3);
    struct pl_release v1 = release("1", 3, true);
    v1.policy.min_healthy_time_ms = 5 * SEC;
    begin(&s, "d1", &v1, 0);
    assert_int_equal(step(&s, 0, NULL), PL_REC_WAVE);
    pl_member(&s, "n3", false, SEC);
    healthy(&s, "n1", "d1", 8 * SEC);
    healthy(&s, "n2", "d1", 8 * SEC);
    pl_member(&s, "n3", true, 9 * SEC);
    reports(&s, "n3", "d1", PL_H_STARTING, "");
    /* Past the wave's deadline, not past n3's (from when it came back). */
    assert_int_equal(step(&s, 10 * SEC + 1, NULL), 0);
    healthy(&s, "n3", "d1", 12 * SEC);
    assert_int_equal(step(&s, 17 * SEC, NULL), PL_REC_STABLE);
}

static void test_an_automatic_rollback_completes_with_a_member_down(void **state)
{
    (void)state;
    static struct pl_state s;
    uint64_t t = stable_then_d2_reports(&s, true, PL_H_CRASHED, "");
    pl_member(&s, "n3", false, t);
    assert_int_equal(step(&s, t, NULL), PL_REC_FAILED);
    struct pl_record rb, r;
    assert_int_equal(step(&s, t, &rb), PL_REC_ROLLBACK);
    healthy(&s, "n1", "d1", t);
    healthy(&s, "n2", "d1", 0);
    /* Never failed for n3, not even past the healthy deadline. */
    assert_int_equal(step(&s, t + 100 * SEC, &r), PL_REC_REVERTED);
    assert_true(named(&r, "n3"));
    assert_int_equal(pl_find(&s, rb.deployment)->stage, PL_STAGE_REVERTED);
    assert_true(pl_find(&s, rb.deployment)->down[2]);
    assert_string_equal(pl_desired(&s, "n3"), "d1");
}

/* The core does not count votes: with three members the shell has no
 * leader without a quorum; this is what the core does regardless. */
static void test_a_rollback_with_every_other_member_down_completes_on_the_leader(void **state)
{
    (void)state;
    static struct pl_state s;
    uint64_t t = two_stable(&s, 3);
    pl_member(&s, "n2", false, t);
    pl_member(&s, "n3", false, t);
    struct pl_record r;
    rollback(&s, "r1", "1", t, &r);
    assert_int_equal(step(&s, t, &r), PL_REC_WAVE);
    assert_int_equal(r.nnodes, 1);
    assert_int_equal(r.ndown, 2);
    healthy(&s, "n1", "d1", t);
    assert_int_equal(step(&s, t + 100 * SEC, &r), PL_REC_REVERTED);
    assert_int_equal(r.ndown, 2);
    assert_string_equal(s.deps[s.stable].id, "d1");
    assert_string_equal(pl_desired(&s, "n2"), "d1");
    assert_string_equal(pl_desired(&s, "n3"), "d1");
}

static void test_a_member_up_again_is_judged_again(void **state)
{
    (void)state;
    static struct pl_state s;
    d1_first_wave(&s, 3, false);
    pl_member(&s, "n3", false, SEC);
    pl_member(&s, "n3", true, 2 * SEC);
    reports(&s, "n3", "d1", PL_H_CRASHED, "web exited with status 1");
    struct pl_record r;
    assert_int_equal(step(&s, 2 * SEC, &r), PL_REC_FAILED);
    assert_non_null(strstr(r.reason, "n3"));
}

/* The others ran it healthy for min_healthy_time: a member that comes
 * back and cannot run it is that member's fault, shown in its report, and
 * the release stays stable (the operator may roll back). */
static void test_a_member_that_comes_back_and_crashes_leaves_the_release_stable(void **state)
{
    (void)state;
    static struct pl_state s;
    pl_init(&s, nodes3, 3);
    struct pl_release v1 = release("1", 3, true);
    pl_member(&s, "n3", false, 0);
    uint64_t t = roll_to_stable(&s, "d1", &v1, 0);
    pl_member(&s, "n3", true, t);
    reports(&s, "n3", "d1", PL_H_CRASHED, "web exited with status 1");
    assert_int_equal(step(&s, t + 100 * SEC, NULL), 0);
    assert_int_equal(pl_find(&s, "d1")->stage, PL_STAGE_STABLE);
    assert_int_equal(s.reports[2].health, PL_H_CRASHED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_wave_passes_over_a_member_that_is_down),
        cmocka_unit_test(test_a_release_becomes_stable_over_the_members_that_are_up),
        cmocka_unit_test(test_a_member_down_during_its_wave_is_not_waited_for),
        cmocka_unit_test(test_a_member_down_never_fails_the_release_past_the_healthy_deadline),
        cmocka_unit_test(test_a_member_that_comes_back_is_told_the_stable_release),
        cmocka_unit_test(test_a_member_down_at_the_start_joins_a_later_wave_once_up),
        cmocka_unit_test(test_a_member_that_comes_back_late_gets_a_fresh_healthy_deadline),
        cmocka_unit_test(test_an_automatic_rollback_completes_with_a_member_down),
        cmocka_unit_test(test_a_rollback_with_every_other_member_down_completes_on_the_leader),
        cmocka_unit_test(test_a_member_up_again_is_judged_again),
        cmocka_unit_test(test_a_member_that_comes_back_and_crashes_leaves_the_release_stable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
