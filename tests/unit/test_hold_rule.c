/* The rule of writes held during a leadership transfer (node/api/hold_rule.h). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "node/api/hold_rule.h"

#define LIMIT 150

static const struct api_hold_view leading = {.leader = true};
static const struct api_hold_view handing_over = {.leader = true, .transferring = true};
static const struct api_hold_view following = {0}; /* no leader known */
static const struct api_hold_view led = {.leader_known = true};
static const struct api_hold_view standing = {.standing = true};
static const struct api_hold_view succeeded = {.successor_known = true};

static void test_a_write_goes_to_its_endpoint_when_no_transfer_runs(void **state)
{
    (void)state;
    assert_int_equal(api_hold_admit(&leading, 0), API_HOLD_PASS);
    /* A follower answers as it always did (307 to the leader). */
    assert_int_equal(api_hold_admit(&led, 0), API_HOLD_PASS);
}

static void test_a_write_during_a_transfer_is_held(void **state)
{
    (void)state;
    assert_int_equal(api_hold_admit(&handing_over, 0), API_HOLD_WAIT);
    assert_int_equal(api_hold_admit(&handing_over, API_HOLD_MAX - 1), API_HOLD_WAIT);
}

static void test_no_more_than_the_bound_wait(void **state)
{
    (void)state;
    assert_int_equal(api_hold_admit(&handing_over, API_HOLD_MAX), API_HOLD_FULL);
}

static void test_a_held_write_waits_while_the_transfer_runs(void **state)
{
    (void)state;
    assert_int_equal(api_hold_fate(&handing_over, 1000 + LIMIT - 1, 1000, LIMIT), API_HOLD_KEEP);
}

static void test_a_held_write_goes_to_the_new_leader_once_it_leads(void **state)
{
    (void)state;
    assert_int_equal(api_hold_fate(&led, 1010, 1000, LIMIT), API_HOLD_REDIRECT);
    /* Even when it took the whole limit: the new leader is the answer. */
    assert_int_equal(api_hold_fate(&led, 1000 + 5 * LIMIT, 1000, LIMIT), API_HOLD_REDIRECT);
}

static void test_a_held_write_is_taken_here_when_the_transfer_failed(void **state)
{
    (void)state;
    assert_int_equal(api_hold_fate(&leading, 1010, 1000, LIMIT), API_HOLD_RETRY);
}

static void test_a_held_write_waits_for_an_election_up_to_the_limit(void **state)
{
    (void)state;
    /* Stepped down with no leader known yet (another member stands). */
    assert_int_equal(api_hold_fate(&following, 1010, 1000, LIMIT), API_HOLD_KEEP);
    assert_int_equal(api_hold_fate(&following, 1000 + LIMIT, 1000, LIMIT), API_HOLD_GIVE_UP);
}

static void test_a_transfer_that_outlives_the_limit_gives_the_write_up(void **state)
{
    (void)state;
    assert_int_equal(api_hold_fate(&handing_over, 1000 + LIMIT, 1000, LIMIT), API_HOLD_GIVE_UP);
}

static void test_a_clock_before_the_arrival_is_not_late(void **state)
{
    (void)state;
    assert_int_equal(api_hold_fate(&handing_over, 999, 1000, LIMIT), API_HOLD_KEEP);
}

static void test_a_write_to_a_node_that_handed_over_goes_to_its_standing_successor(void **state)
{
    (void)state;
    /* Not refused for want of a leader: the target stands with our vote. */
    assert_int_equal(api_hold_admit(&succeeded, 0), API_HOLD_WAIT);
    assert_int_equal(api_hold_fate(&succeeded, 1000, 1000, LIMIT), API_HOLD_REDIRECT);
}

static void test_a_write_to_the_standing_target_waits_until_it_leads(void **state)
{
    (void)state;
    assert_int_equal(api_hold_admit(&standing, 0), API_HOLD_WAIT);
    assert_int_equal(api_hold_fate(&standing, 1010, 1000, LIMIT), API_HOLD_KEEP);
    /* It won: taken with its first entry. */
    assert_int_equal(api_hold_fate(&leading, 1010, 1000, LIMIT), API_HOLD_RETRY);
}

static void test_a_write_to_a_target_that_lost_goes_to_the_winner(void **state)
{
    (void)state;
    assert_int_equal(api_hold_fate(&led, 1010, 1000, LIMIT), API_HOLD_REDIRECT);
}

static void test_a_write_to_a_target_that_never_wins_is_given_up_at_the_limit(void **state)
{
    (void)state;
    assert_int_equal(api_hold_fate(&standing, 1000 + LIMIT, 1000, LIMIT), API_HOLD_GIVE_UP);
}

static void test_a_candidate_of_its_own_holds_nothing(void **state)
{
    (void)state;
    /* An election after a timeout, not a hand-over: 503 as before. */
    assert_int_equal(api_hold_admit(&following, 0), API_HOLD_PASS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_write_goes_to_its_endpoint_when_no_transfer_runs),
        cmocka_unit_test(test_a_write_during_a_transfer_is_held),
        cmocka_unit_test(test_no_more_than_the_bound_wait),
        cmocka_unit_test(test_a_held_write_waits_while_the_transfer_runs),
        cmocka_unit_test(test_a_held_write_goes_to_the_new_leader_once_it_leads),
        cmocka_unit_test(test_a_held_write_is_taken_here_when_the_transfer_failed),
        cmocka_unit_test(test_a_held_write_waits_for_an_election_up_to_the_limit),
        cmocka_unit_test(test_a_transfer_that_outlives_the_limit_gives_the_write_up),
        cmocka_unit_test(test_a_clock_before_the_arrival_is_not_late),
        cmocka_unit_test(test_a_write_to_a_node_that_handed_over_goes_to_its_standing_successor),
        cmocka_unit_test(test_a_write_to_the_standing_target_waits_until_it_leads),
        cmocka_unit_test(test_a_write_to_a_target_that_lost_goes_to_the_winner),
        cmocka_unit_test(test_a_write_to_a_target_that_never_wins_is_given_up_at_the_limit),
        cmocka_unit_test(test_a_candidate_of_its_own_holds_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
