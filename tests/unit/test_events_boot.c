/* Event sequence numbers across restarts of the node: each run numbers its
 * events from its boot epoch, so a reader's `since` cursor from an earlier
 * run never hides an event of a later one, and each event names its run. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "node/base/events.h"

static struct events run1, run2; /* large: keep them off the stack */

/* Boot epochs as load_boot_epoch makes them: seconds, growing each start. */
#define BOOT1 1796000000ull
#define BOOT2 (BOOT1 + 1)

static void add_n(struct events *ev, size_t n)
{
    for (size_t i = 0; i < n; i++)
        events_add(ev, 1000 + (int64_t)i, "test.kind", NULL, "event %zu", i + 1);
}

static uint64_t newest_seq(const struct events *ev)
{
    const struct event *out[1];
    assert_int_equal(events_query(ev, false, 0, 1, out), 1);
    return out[0]->seq;
}

static int setup(void **state)
{
    (void)state;
    events_init(&run1, "n1");
    events_set_boot(&run1, BOOT1);
    events_init(&run2, "n1");
    events_set_boot(&run2, BOOT2);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    events_free(&run1);
    events_free(&run2);
    return 0;
}

static void test_a_restarted_node_numbers_its_events_above_the_last_run(void **state)
{
    (void)state;
    add_n(&run1, 5000); /* more than the ring holds */
    uint64_t before = newest_seq(&run1);
    add_n(&run2, 1);
    assert_true(newest_seq(&run2) > before);
}

static void test_a_since_cursor_from_the_last_run_returns_every_event_of_the_new_one(void **state)
{
    (void)state;
    add_n(&run1, 30);
    uint64_t cursor = newest_seq(&run1);
    add_n(&run2, 3);
    const struct event *out[10];
    assert_int_equal(events_query(&run2, true, cursor, 10, out), 3);
    assert_string_equal(out[0]->message, "event 1");
    assert_string_equal(out[2]->message, "event 3");
}

static void test_sequence_numbers_still_grow_by_one_within_a_run(void **state)
{
    (void)state;
    add_n(&run2, EVENTS_CAPACITY + 7); /* the ring wraps */
    static const struct event *out[EVENTS_CAPACITY];
    assert_int_equal(events_query(&run2, false, 0, EVENTS_CAPACITY, out), EVENTS_CAPACITY);
    for (size_t i = 1; i < EVENTS_CAPACITY; i++)
        assert_int_equal(out[i]->seq, out[i - 1]->seq + 1);
    assert_int_equal(out[0]->seq, (BOOT2 << EVENTS_BOOT_SHIFT) + 7);
    assert_int_equal(events_recorded(&run2), EVENTS_CAPACITY + 7);
}

static void test_each_event_names_the_boot_of_its_run(void **state)
{
    (void)state;
    add_n(&run1, 1);
    add_n(&run2, 1);
    assert_int_equal(run1.ring[0].boot, BOOT1);
    assert_int_equal(run2.ring[0].boot, BOOT2);
}

static void test_events_recorded_before_the_boot_is_known_are_renumbered(void **state)
{
    (void)state;
    struct events *ev = &run1;
    events_init(ev, "n1");
    add_n(ev, 2);
    events_set_boot(ev, BOOT2);
    add_n(ev, 1);
    const struct event *out[3];
    assert_int_equal(events_query(ev, false, 0, 3, out), 3);
    assert_int_equal(out[0]->seq, BOOT2 << EVENTS_BOOT_SHIFT);
    assert_int_equal(out[0]->boot, BOOT2);
    assert_int_equal(out[2]->seq, (BOOT2 << EVENTS_BOOT_SHIFT) + 2);
}

static void test_a_since_cursor_beyond_the_newest_returns_nothing(void **state)
{
    (void)state;
    add_n(&run2, 3);
    const struct event *out[3];
    assert_int_equal(events_query(&run2, true, UINT64_MAX, 3, out), 0);
}

static void test_sequence_numbers_stay_exact_in_a_json_double(void **state)
{
    (void)state;
    /* 2^53: what a JSON reader that parses numbers as doubles holds exactly. */
    uint64_t year_2200 = 7258118400ull;
    assert_true((year_2200 << EVENTS_BOOT_SHIFT) < (1ull << 53));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_a_restarted_node_numbers_its_events_above_the_last_run,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_a_since_cursor_from_the_last_run_returns_every_event_of_the_new_one, setup,
            teardown),
        cmocka_unit_test_setup_teardown(test_sequence_numbers_still_grow_by_one_within_a_run, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_each_event_names_the_boot_of_its_run, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_events_recorded_before_the_boot_is_known_are_renumbered, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_since_cursor_beyond_the_newest_returns_nothing,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_sequence_numbers_stay_exact_in_a_json_double, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
