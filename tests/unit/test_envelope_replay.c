/* env_replay_accept: the 64-message sliding window over a sender's
 * counters. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "node/envelope.h"

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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
