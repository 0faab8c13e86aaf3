/* Read-only episodes (witness/episodes.h): which falls from a quorum are
 * episodes, how many wait, and when a node reports, records, waits for,
 * and forgets one. The tests play the shell: they say when the node turns
 * read-only and back, what its ledger holds, and who leads. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "witness/episodes.h"

/* One episode: read-only from enter (term 3) to enter + 500 (term 4). */
static void episode(struct episodes *eps, uint64_t enter, bool was_leader)
{
    episodes_change(eps, true, was_leader, 3, enter);
    episodes_change(eps, false, false, 4, enter + 500);
}

static void test_a_node_that_starts_read_only_owes_no_episode(void **state)
{
    (void)state;
    struct episodes eps = {0};
    assert_false(episodes_change(&eps, false, false, 1, 100));
    assert_int_equal(eps.n, 0);
}

static void test_a_fall_from_a_quorum_and_the_way_back_are_one_episode(void **state)
{
    (void)state;
    struct episodes eps = {0};
    episodes_change(&eps, true, false, 3, 1000);
    assert_int_equal(eps.n, 0);
    episodes_change(&eps, false, false, 4, 1700);
    assert_int_equal(eps.n, 1);
    const struct episode *e = &eps.list[0];
    assert_int_equal(e->enter_ms, 1000);
    assert_int_equal(e->exit_ms, 1700);
    assert_int_equal(e->enter_term, 3);
    assert_int_equal(e->exit_term, 4);
    assert_false(e->was_leader);
    assert_int_equal(e->index, 0);
    assert_int_equal(episodes_duration(e), 700);
    episodes_change(&eps, false, false, 4, 1800);
    assert_int_equal(eps.n, 1);
}

static void test_an_episode_says_whether_the_node_led_when_it_lost_its_quorum(void **state)
{
    (void)state;
    struct episodes eps = {0};
    episode(&eps, 1000, true);
    assert_true(eps.list[0].was_leader);
}

static void test_with_the_most_waiting_the_oldest_is_dropped_for_the_newest(void **state)
{
    (void)state;
    struct episodes eps = {0};
    for (uint64_t i = 0; i < EPISODES_MAX; i++)
        episode(&eps, 1000 * (i + 1), false);
    episodes_change(&eps, true, false, 9, 99000);
    assert_true(episodes_change(&eps, false, false, 9, 99500));
    assert_int_equal(eps.n, EPISODES_MAX);
    assert_int_equal(eps.list[0].enter_ms, 2000);
    assert_int_equal(eps.list[EPISODES_MAX - 1].enter_ms, 99000);
}

static void test_episodes_are_told_only_to_a_known_leader_by_a_node_not_read_only(void **state)
{
    (void)state;
    struct episodes eps = {0};
    assert_false(episodes_due(&eps, true, false));
    episode(&eps, 1000, false);
    assert_true(episodes_due(&eps, true, false));
    assert_false(episodes_due(&eps, false, false));
    assert_false(episodes_due(&eps, true, true));
}

static void test_a_follower_reports_an_episode_no_leader_appended_yet(void **state)
{
    (void)state;
    struct episode e = {.enter_ms = 1000};
    assert_int_equal(episodes_step(&e, false, 10, false), EPISODES_REPORT);
}

static void test_a_leader_records_its_own_episode(void **state)
{
    (void)state;
    struct episode e = {.enter_ms = 1000};
    assert_int_equal(episodes_step(&e, false, 10, true), EPISODES_RECORD);
}

static void test_a_leader_records_again_an_episode_whose_append_failed(void **state)
{
    (void)state;
    struct episode e = {.enter_ms = 1000};
    assert_int_equal(episodes_step(&e, false, 10, true), EPISODES_RECORD);
    e.index = 0; /* the append failed */
    assert_int_equal(episodes_step(&e, false, 10, true), EPISODES_RECORD);
}

static void test_an_appended_episode_waits_for_its_entry_to_commit(void **state)
{
    (void)state;
    struct episode e = {.enter_ms = 1000, .index = 12};
    assert_int_equal(episodes_step(&e, false, 10, false), EPISODES_WAIT);
    assert_int_equal(episodes_step(&e, false, 10, true), EPISODES_WAIT);
    assert_int_equal(e.index, 12);
}

static void test_an_episode_on_the_record_is_forgotten(void **state)
{
    (void)state;
    struct episodes eps = {0};
    episode(&eps, 1000, false);
    episode(&eps, 2000, false);
    episode(&eps, 3000, false);
    enum episodes_do what[3];
    for (size_t i = 0; i < 3; i++)
        what[i] = episodes_step(&eps.list[i], i == 1, 10, false);
    assert_int_equal(what[1], EPISODES_FORGET);
    episodes_sweep(&eps, what);
    assert_int_equal(eps.n, 2);
    assert_int_equal(eps.list[0].enter_ms, 1000);
    assert_int_equal(eps.list[1].enter_ms, 3000);
}

static void test_an_episode_whose_committed_index_holds_another_entry_is_told_again(void **state)
{
    (void)state;
    /* That leader's log was cut: the acknowledged index is not its entry. */
    struct episode e = {.enter_ms = 1000, .index = 8};
    assert_int_equal(episodes_step(&e, false, 10, false), EPISODES_REPORT);
    assert_int_equal(e.index, 0);
}

static void test_only_an_appended_committed_index_of_this_log_is_worth_reading(void **state)
{
    (void)state;
    struct episode e = {.enter_ms = 1000};
    assert_false(episodes_may_be_recorded(&e, 10, 10));
    e.index = 8;
    assert_true(episodes_may_be_recorded(&e, 10, 10));
    assert_false(episodes_may_be_recorded(&e, 7, 10));
    assert_false(episodes_may_be_recorded(&e, 10, 7));
}

static void test_only_the_leaders_acknowledgement_sets_the_index(void **state)
{
    (void)state;
    struct episodes eps = {0};
    episode(&eps, 1000, false);
    episode(&eps, 2000, false);
    episodes_ack(&eps, 2000, 40, false);
    assert_int_equal(eps.list[1].index, 0);
    episodes_ack(&eps, 2000, 40, true);
    assert_int_equal(eps.list[0].index, 0);
    assert_int_equal(eps.list[1].index, 40);
}

static void test_an_episode_over_a_clock_that_went_back_lasted_nothing(void **state)
{
    (void)state;
    struct episode e = {.enter_ms = 2000, .exit_ms = 1500};
    assert_int_equal(episodes_duration(&e), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_node_that_starts_read_only_owes_no_episode),
        cmocka_unit_test(test_a_fall_from_a_quorum_and_the_way_back_are_one_episode),
        cmocka_unit_test(test_an_episode_says_whether_the_node_led_when_it_lost_its_quorum),
        cmocka_unit_test(test_with_the_most_waiting_the_oldest_is_dropped_for_the_newest),
        cmocka_unit_test(test_episodes_are_told_only_to_a_known_leader_by_a_node_not_read_only),
        cmocka_unit_test(test_a_follower_reports_an_episode_no_leader_appended_yet),
        cmocka_unit_test(test_a_leader_records_its_own_episode),
        cmocka_unit_test(test_a_leader_records_again_an_episode_whose_append_failed),
        cmocka_unit_test(test_an_appended_episode_waits_for_its_entry_to_commit),
        cmocka_unit_test(test_an_episode_on_the_record_is_forgotten),
        cmocka_unit_test(test_an_episode_whose_committed_index_holds_another_entry_is_told_again),
        cmocka_unit_test(test_only_an_appended_committed_index_of_this_log_is_worth_reading),
        cmocka_unit_test(test_only_the_leaders_acknowledgement_sets_the_index),
        cmocka_unit_test(test_an_episode_over_a_clock_that_went_back_lasted_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
