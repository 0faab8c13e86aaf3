/* The event ring: ordering, wrap-around, queries, and the drop limiter. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "node/base/events.h"

static struct events ev; /* large: keep it off the stack */

static void add_n(size_t n)
{
    for (size_t i = 0; i < n; i++)
        events_add(&ev, 1000 + (int64_t)i, "test.kind", NULL, "event %zu", i + 1);
}

static int setup(void **state)
{
    (void)state;
    events_init(&ev, "n1");
    return 0;
}

static void test_sequence_numbers_start_at_one_and_grow(void **state)
{
    (void)state;
    add_n(3);
    const struct event *out[3];
    assert_int_equal(events_query(&ev, false, 0, 10, out), 3);
    assert_int_equal(out[0]->seq, 1);
    assert_int_equal(out[2]->seq, 3);
    assert_string_equal(out[0]->node, "n1");
    assert_string_equal(out[1]->message, "event 2");
}

static void test_without_since_returns_the_newest_oldest_first(void **state)
{
    (void)state;
    add_n(10);
    const struct event *out[4];
    assert_int_equal(events_query(&ev, false, 0, 4, out), 4);
    assert_int_equal(out[0]->seq, 7);
    assert_int_equal(out[3]->seq, 10);
}

static void test_since_returns_the_first_events_after_it(void **state)
{
    (void)state;
    add_n(10);
    const struct event *out[3];
    assert_int_equal(events_query(&ev, true, 4, 3, out), 3);
    assert_int_equal(out[0]->seq, 5);
    assert_int_equal(out[2]->seq, 7);
}

static void test_since_at_the_newest_returns_nothing(void **state)
{
    (void)state;
    add_n(5);
    const struct event *out[5];
    assert_int_equal(events_query(&ev, true, 5, 5, out), 0);
    assert_int_equal(events_query(&ev, true, 99, 5, out), 0);
}

static void test_ring_keeps_only_the_last_capacity_events(void **state)
{
    (void)state;
    add_n(EVENTS_CAPACITY + 250);
    assert_int_equal(events_count(&ev), EVENTS_CAPACITY);
    static const struct event *out[EVENTS_CAPACITY];
    assert_int_equal(events_query(&ev, true, 0, EVENTS_CAPACITY, out), EVENTS_CAPACITY);
    assert_int_equal(out[0]->seq, 251);
    assert_int_equal(out[EVENTS_CAPACITY - 1]->seq, EVENTS_CAPACITY + 250);
}

static void test_since_older_than_the_ring_starts_at_the_oldest_held(void **state)
{
    (void)state;
    add_n(EVENTS_CAPACITY + 10);
    const struct event *out[2];
    assert_int_equal(events_query(&ev, true, 3, 2, out), 2);
    assert_int_equal(out[0]->seq, 11);
}

static void test_limit_is_clamped_to_capacity(void **state)
{
    (void)state;
    add_n(EVENTS_CAPACITY + 1);
    static const struct event *out[EVENTS_CAPACITY];
    assert_int_equal(events_query(&ev, false, 0, 5000, out), EVENTS_CAPACITY);
}

static void test_long_messages_are_cut_not_overflowed(void **state)
{
    (void)state;
    char big[1000];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    const struct event *e = events_add(&ev, 1, "k", "peer-1", "%s", big);
    assert_int_equal(strlen(e->message), sizeof(e->message) - 1);
    assert_string_equal(e->peer, "peer-1");
}

static void test_limiter_allows_one_per_interval_and_counts_the_rest(void **state)
{
    (void)state;
    struct events_limiter l = {0};
    uint64_t held = 99;
    assert_true(events_limiter_allow(&l, 1000, 5000, &held));
    assert_int_equal(held, 0);
    assert_false(events_limiter_allow(&l, 2000, 5000, &held));
    assert_false(events_limiter_allow(&l, 5999, 5000, &held));
    assert_true(events_limiter_allow(&l, 6000, 5000, &held));
    assert_int_equal(held, 2);
    assert_false(events_limiter_allow(&l, 6001, 5000, &held));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_sequence_numbers_start_at_one_and_grow, setup),
        cmocka_unit_test_setup(test_without_since_returns_the_newest_oldest_first, setup),
        cmocka_unit_test_setup(test_since_returns_the_first_events_after_it, setup),
        cmocka_unit_test_setup(test_since_at_the_newest_returns_nothing, setup),
        cmocka_unit_test_setup(test_ring_keeps_only_the_last_capacity_events, setup),
        cmocka_unit_test_setup(test_since_older_than_the_ring_starts_at_the_oldest_held, setup),
        cmocka_unit_test_setup(test_limit_is_clamped_to_capacity, setup),
        cmocka_unit_test_setup(test_long_messages_are_cut_not_overflowed, setup),
        cmocka_unit_test(test_limiter_allows_one_per_interval_and_counts_the_rest),
    };
    return cmocka_run_group_tests_name("events", tests, NULL, NULL);
}
