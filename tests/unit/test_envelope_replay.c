/* env_replay_accept: the 64-message sliding window over a sender's
 * counters; env_replay_check with a floor (env_replay_start): a restarted
 * receiver refuses whatever was sealed before it started. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "node/base/envelope.h"

/* Counters as a sender numbers them: boot epoch << 32, then 1, 2, ... */
#define C(n) ((UINT64_C(3) << 32) + (n))

static void test_fresh_increasing_counters_accepted(void **state)
{
    (void)state;
    struct env_replay r = {0};
    for (uint64_t i = 1; i <= 200; i++)
        assert_true(env_replay_accept(&r, C(i)));
    assert_true(r.top == C(200));
}

static void test_exact_duplicate_rejected(void **state)
{
    (void)state;
    struct env_replay r = {0};
    assert_true(env_replay_accept(&r, C(1)));
    assert_false(env_replay_accept(&r, C(1)));
    assert_true(env_replay_accept(&r, C(2)));
    assert_false(env_replay_accept(&r, C(1)));
    assert_false(env_replay_accept(&r, C(2)));
}

static void test_out_of_order_within_window_accepted_once(void **state)
{
    (void)state;
    struct env_replay r = {0};
    assert_true(env_replay_accept(&r, C(100)));
    assert_true(env_replay_accept(&r, C(90)));
    assert_false(env_replay_accept(&r, C(90)));
    assert_true(env_replay_accept(&r, C(37))); /* top - 63: the oldest in the window */
    assert_false(env_replay_accept(&r, C(37)));
    assert_true(env_replay_accept(&r, C(99)));
    assert_false(env_replay_accept(&r, C(99)));
    /* the window slides, remembering what it saw */
    assert_true(env_replay_accept(&r, C(101)));
    assert_false(env_replay_accept(&r, C(90)));
    assert_true(env_replay_accept(&r, C(91)));
}

static void test_older_than_window_rejected(void **state)
{
    (void)state;
    struct env_replay r = {0};
    assert_true(env_replay_accept(&r, C(100)));
    assert_false(env_replay_accept(&r, C(36))); /* top - 64 */
    assert_false(env_replay_accept(&r, C(1)));
}

static void test_jump_by_2_pow_40_then_old_rejected(void **state)
{
    (void)state;
    struct env_replay r = {0};
    assert_true(env_replay_accept(&r, C(5)));
    assert_true(env_replay_accept(&r, C(5) + (UINT64_C(1) << 40)));
    assert_false(env_replay_accept(&r, C(5)));
    assert_false(env_replay_accept(&r, C(6)));
    assert_true(env_replay_accept(&r, C(4) + (UINT64_C(1) << 40)));
}

/* A shift of exactly 64 clears the window: the old top falls out of it. */
static void test_jump_by_exactly_64(void **state)
{
    (void)state;
    struct env_replay r = {0};
    assert_true(env_replay_accept(&r, C(10)));
    assert_true(env_replay_accept(&r, C(74)));
    assert_false(env_replay_accept(&r, C(10)));
    assert_true(env_replay_accept(&r, C(11)));
    assert_false(env_replay_accept(&r, C(74)));
}

static void test_counter_zero_rejected(void **state)
{
    (void)state;
    struct env_replay r = {0};
    assert_false(env_replay_accept(&r, 0));
    assert_true(env_replay_accept(&r, 1));
    assert_false(env_replay_accept(&r, 0));
}

static void test_counter_max_accepted_once(void **state)
{
    (void)state;
    struct env_replay r = {0};
    assert_true(env_replay_accept(&r, 1));
    assert_true(env_replay_accept(&r, UINT64_MAX));
    assert_false(env_replay_accept(&r, UINT64_MAX));
    assert_true(env_replay_accept(&r, UINT64_MAX - 63));
    assert_false(env_replay_accept(&r, UINT64_MAX - 64));
}

/* Counters of wall-clock time: seconds in the high word. */
static void test_counter_of_a_time_has_the_seconds_in_the_high_word(void **state)
{
    (void)state;
    assert_true(env_counter_at(3, 500000000) == ((UINT64_C(3) << 32) | UINT64_C(0x80000000)));
    assert_true(env_counter_at(1764900000, 0) == (UINT64_C(1764900000) << 32));
    assert_true(env_counter_ms(env_counter_at(3, 500000000)) == 3500);
    assert_true(env_counter_ms(env_counter_at(1764900000, 999999999)) == UINT64_C(1764900000999));
}

/* What a receiver accepted before its restart, captured and sent to it
 * again after: all stale, though its window starts empty. */
static void test_frames_captured_before_a_restart_are_stale_after_it(void **state)
{
    (void)state;
    uint64_t t0 = env_counter_at(1764900000, 0);
    struct env_replay before = {0};
    env_replay_start(&before, t0);
    uint64_t captured[100];
    for (int i = 0; i < 100; i++) {
        captured[i] = t0 + (uint64_t)(i + 1) * 4000000; /* about 1 ms apart */
        assert_int_equal(env_replay_check(&before, captured[i]), ENV_FRESH);
    }
    struct env_replay after;
    env_replay_start(&after, env_counter_at(1764900005, 0)); /* restarted 5 s later */
    for (int i = 0; i < 100; i++)
        assert_int_equal(env_replay_check(&after, captured[i]), ENV_STALE);
    assert_true(after.top == 0); /* nothing recorded */
}

static void test_counter_at_the_floor_is_stale_and_just_above_it_fresh(void **state)
{
    (void)state;
    uint64_t floor = env_counter_at(1764900000, 250000000);
    struct env_replay r;
    env_replay_start(&r, floor);
    assert_int_equal(env_replay_check(&r, floor), ENV_STALE);
    assert_int_equal(env_replay_check(&r, floor - 1), ENV_STALE);
    assert_int_equal(env_replay_check(&r, 1), ENV_STALE);
    assert_int_equal(env_replay_check(&r, floor + 1), ENV_FRESH);
}

/* After the start the window does its work: a repeat is a replay. */
static void test_fresh_after_the_start_then_a_replay(void **state)
{
    (void)state;
    uint64_t floor = env_counter_at(1764900000, 0);
    struct env_replay r;
    env_replay_start(&r, floor);
    uint64_t c = floor + env_counter_at(0, 1000000); /* sealed 1 ms after the start */
    assert_int_equal(env_replay_check(&r, c), ENV_FRESH);
    assert_int_equal(env_replay_check(&r, c), ENV_REPLAY);
    assert_int_equal(env_replay_check(&r, c + 1), ENV_FRESH);
    assert_int_equal(env_replay_check(&r, 0), ENV_REPLAY);
}

/* A sender whose clock lags the receiver's by one second is heard once its
 * clock passes the receiver's start. */
static void test_lagging_sender_is_heard_once_its_clock_passes_the_start(void **state)
{
    (void)state;
    uint64_t start = env_counter_at(1764900000, 0);
    struct env_replay r;
    env_replay_start(&r, start);
    assert_int_equal(env_replay_check(&r, env_counter_at(1764899999, 500000000)), ENV_STALE);
    assert_int_equal(env_replay_check(&r, env_counter_at(1764900000, 500000000)), ENV_FRESH);
}

/* A zeroed window (no start) has no floor: every positive counter fresh. */
static void test_zeroed_window_has_no_floor(void **state)
{
    (void)state;
    struct env_replay r = {0};
    assert_int_equal(env_replay_check(&r, 1), ENV_FRESH);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fresh_increasing_counters_accepted),
        cmocka_unit_test(test_exact_duplicate_rejected),
        cmocka_unit_test(test_out_of_order_within_window_accepted_once),
        cmocka_unit_test(test_older_than_window_rejected),
        cmocka_unit_test(test_jump_by_2_pow_40_then_old_rejected),
        cmocka_unit_test(test_jump_by_exactly_64),
        cmocka_unit_test(test_counter_zero_rejected),
        cmocka_unit_test(test_counter_max_accepted_once),
        cmocka_unit_test(test_counter_of_a_time_has_the_seconds_in_the_high_word),
        cmocka_unit_test(test_frames_captured_before_a_restart_are_stale_after_it),
        cmocka_unit_test(test_counter_at_the_floor_is_stale_and_just_above_it_fresh),
        cmocka_unit_test(test_fresh_after_the_start_then_a_replay),
        cmocka_unit_test(test_lagging_sender_is_heard_once_its_clock_passes_the_start),
        cmocka_unit_test(test_zeroed_window_has_no_floor),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
