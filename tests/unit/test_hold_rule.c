/* The rule of writes held during a leadership transfer (node/api/hold_rule.h). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "node/api/hold_rule.h"

#define LIMIT 150

static void test_a_write_goes_to_its_endpoint_when_no_transfer_runs(void **state)
{
    (void)state;
    assert_int_equal(api_hold_admit(true, false, 0), API_HOLD_PASS);
    /* A follower answers as it always did (307 to the leader). */
    assert_int_equal(api_hold_admit(false, false, 0), API_HOLD_PASS);
}

static void test_a_write_during_a_transfer_is_held(void **state)
{
    (void)state;
    assert_int_equal(api_hold_admit(true, true, 0), API_HOLD_WAIT);
    assert_int_equal(api_hold_admit(true, true, API_HOLD_MAX - 1), API_HOLD_WAIT);
}

static void test_no_more_than_the_bound_wait(void **state)
{
    (void)state;
    assert_int_equal(api_hold_admit(true, true, API_HOLD_MAX), API_HOLD_FULL);
}

static void test_a_held_write_waits_while_the_transfer_runs(void **state)
{
    (void)state;
    assert_int_equal(api_hold_fate(true, true, false, 1000 + LIMIT - 1, 1000, LIMIT),
                     API_HOLD_KEEP);
}

static void test_a_held_write_goes_to_the_new_leader_once_it_leads(void **state)
{
    (void)state;
    assert_int_equal(api_hold_fate(false, false, true, 1010, 1000, LIMIT), API_HOLD_REDIRECT);
    /* Even when it took the whole limit: the new leader is the answer. */
    assert_int_equal(api_hold_fate(false, false, true, 1000 + 5 * LIMIT, 1000, LIMIT),
                     API_HOLD_REDIRECT);
}

static void test_a_held_write_is_taken_here_when_the_transfer_failed(void **state)
{
    (void)state;
    assert_int_equal(api_hold_fate(true, false, false, 1010, 1000, LIMIT), API_HOLD_RETRY);
}

static void test_a_held_write_waits_for_an_election_up_to_the_limit(void **state)
{
    (void)state;
    /* Stepped down with no leader known yet (another member stands). */
    assert_int_equal(api_hold_fate(false, false, false, 1010, 1000, LIMIT), API_HOLD_KEEP);
    assert_int_equal(api_hold_fate(false, false, false, 1000 + LIMIT, 1000, LIMIT),
                     API_HOLD_GIVE_UP);
}

static void test_a_transfer_that_outlives_the_limit_gives_the_write_up(void **state)
{
    (void)state;
    assert_int_equal(api_hold_fate(true, true, false, 1000 + LIMIT, 1000, LIMIT), API_HOLD_GIVE_UP);
}

static void test_a_clock_before_the_arrival_is_not_late(void **state)
{
    (void)state;
    assert_int_equal(api_hold_fate(true, true, false, 999, 1000, LIMIT), API_HOLD_KEEP);
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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
