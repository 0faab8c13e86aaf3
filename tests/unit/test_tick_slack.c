/* The heartbeat tick rides on a wake-up the loop has anyway when it is due
 * within the slack, and otherwise waits for its own timer. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "node/base/tick_slack.h"

#define EVERY 50 /* ms: chimerad's default heartbeat; the slack is 10 ms */

static struct tick_slack ran_at(uint64_t ms)
{
    struct tick_slack s;
    tick_slack_init(&s, EVERY);
    tick_slack_ran(&s, ms);
    return s;
}

static void test_the_first_tick_waits_for_its_timer(void **state)
{
    (void)state;
    struct tick_slack s;
    tick_slack_init(&s, EVERY);
    assert_false(tick_slack_early(&s, 1000));
}

static void test_a_tick_due_within_the_slack_runs_with_the_wake_up_at_hand(void **state)
{
    (void)state;
    struct tick_slack s = ran_at(1000);
    assert_true(tick_slack_early(&s, 1040)); /* due at 1050, 10 ms off */
    assert_true(tick_slack_early(&s, 1049));
}

static void test_a_tick_further_off_than_the_slack_waits_for_its_timer(void **state)
{
    (void)state;
    struct tick_slack s = ran_at(1000);
    assert_false(tick_slack_early(&s, 1000)); /* never twice in one turn */
    assert_false(tick_slack_early(&s, 1020));
    assert_false(tick_slack_early(&s, 1039));
}

static void test_a_tick_overdue_runs_with_any_wake_up(void **state)
{
    (void)state;
    struct tick_slack s = ran_at(1000);
    assert_true(tick_slack_early(&s, 1050));
    assert_true(tick_slack_early(&s, 1300)); /* its timer is late: the loop was held */
}

static void test_ticks_are_never_closer_than_an_interval_less_the_slack(void **state)
{
    (void)state;
    struct tick_slack s;
    tick_slack_init(&s, EVERY);
    tick_slack_ran(&s, 0);
    /* A wake-up every millisecond, the tick taking each one it may. */
    uint64_t last = 0;
    for (uint64_t now = 1; now < 10000; now++) {
        if (!tick_slack_early(&s, now))
            continue;
        assert_true(now - last >= EVERY - EVERY / 5);
        tick_slack_ran(&s, now);
        last = now;
    }
    assert_true(last > 0);
}

/* The leader's heartbeats arrive at 7, 57, 107, ... plus drift_ms more
 * each interval; the tick ran first at 37. Returns how many ticks after
 * the first second ran on their own timer (a wake-up of their own) rather
 * than with a heartbeat. */
static int own_wakeups_after_locking(uint64_t drift_ms)
{
    struct tick_slack s = ran_at(37);
    uint64_t last = 37, beat = 7 + EVERY + drift_ms;
    int own = 0;
    for (uint64_t now = 38; now < 3000; now++) {
        if (now == beat) {
            beat += EVERY + drift_ms;
            if (tick_slack_early(&s, now)) {
                tick_slack_ran(&s, now);
                last = now;
                continue;
            }
        }
        if (now == last + tick_slack_timer_ms(&s)) {
            tick_slack_ran(&s, now);
            last = now;
            own += now >= 1000;
        }
    }
    return own;
}

static void test_the_tick_locks_onto_a_wake_up_that_recurs_every_interval(void **state)
{
    (void)state;
    assert_int_equal(own_wakeups_after_locking(0), 0);
}

static void test_the_tick_stays_locked_onto_a_wake_up_that_drifts_later(void **state)
{
    (void)state;
    assert_int_equal(own_wakeups_after_locking(2), 0); /* a loop 2 ms late every interval */
}

static void
test_a_tick_with_nothing_to_ride_on_runs_on_its_timer_an_interval_and_the_slack_later(void **state)
{
    (void)state;
    struct tick_slack s = ran_at(1000);
    assert_int_equal(tick_slack_timer_ms(&s), EVERY + EVERY / 5);
}

static void test_no_slack_under_five_ms(void **state)
{
    (void)state;
    struct tick_slack s;
    tick_slack_init(&s, 4);
    tick_slack_ran(&s, 100);
    assert_false(tick_slack_early(&s, 103));
    assert_true(tick_slack_early(&s, 104)); /* due: any wake-up runs it */
}

static void test_a_job_on_the_tick_waits_its_period_after_it_starts(void **state)
{
    (void)state;
    struct tick_every e;
    tick_every_init(&e, 300, 1000);
    assert_false(tick_every_due(&e, 1050));
    assert_false(tick_every_due(&e, 1299));
    assert_true(tick_every_due(&e, 1300));
}

static void test_a_job_on_the_tick_runs_at_the_first_tick_past_its_period(void **state)
{
    (void)state;
    struct tick_every e;
    tick_every_init(&e, 300, 0);
    int runs = 0;
    uint64_t last = 0;
    for (uint64_t now = 0; now <= 3000; now += 70) /* ticks 70 ms apart */
        if (tick_every_due(&e, now)) {
            if (runs > 0) {
                assert_true(now - last >= 300);
                assert_true(now - last < 300 + 70);
            }
            last = now;
            runs++;
        }
    assert_int_equal(runs, 8); /* at 350, 700, ..., 2800 */
}

static void test_a_job_on_the_tick_late_once_starts_its_period_over(void **state)
{
    (void)state;
    struct tick_every e;
    tick_every_init(&e, 1000, 0);
    assert_true(tick_every_due(&e, 2500));  /* the loop was held */
    assert_false(tick_every_due(&e, 3000)); /* no catching up */
    assert_true(tick_every_due(&e, 3500));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_the_first_tick_waits_for_its_timer),
        cmocka_unit_test(test_a_tick_due_within_the_slack_runs_with_the_wake_up_at_hand),
        cmocka_unit_test(test_a_tick_further_off_than_the_slack_waits_for_its_timer),
        cmocka_unit_test(test_a_tick_overdue_runs_with_any_wake_up),
        cmocka_unit_test(test_ticks_are_never_closer_than_an_interval_less_the_slack),
        cmocka_unit_test(test_the_tick_locks_onto_a_wake_up_that_recurs_every_interval),
        cmocka_unit_test(test_the_tick_stays_locked_onto_a_wake_up_that_drifts_later),
        cmocka_unit_test(
            test_a_tick_with_nothing_to_ride_on_runs_on_its_timer_an_interval_and_the_slack_later),
        cmocka_unit_test(test_no_slack_under_five_ms),
        cmocka_unit_test(test_a_job_on_the_tick_waits_its_period_after_it_starts),
        cmocka_unit_test(test_a_job_on_the_tick_runs_at_the_first_tick_past_its_period),
        cmocka_unit_test(test_a_job_on_the_tick_late_once_starts_its_period_over),
    };
    return cmocka_run_group_tests_name("tick_slack", tests, NULL, NULL);
}
