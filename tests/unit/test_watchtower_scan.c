/* The stray scan's memory (chaos/watchtower_scan.h): a process found
 * without the node's mark in two scans in a row is not read again, until
 * its /proc entry changes or the next full scan. Each scan here lists the
 * same processes and finds every one unmarked unless the test says. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "chaos/watchtower_scan.h"

static struct wt_scan s;

static int reset(void **state)
{
    (void)state;
    s = (struct wt_scan){0};
    return 0;
}

/* One scan of a single process: whether it was checked; a check finds it
 * unmarked when unmarked says so. */
static bool scan_one(int64_t pid, uint64_t ino, bool unmarked)
{
    wt_scan_begin(&s);
    bool checked = wt_scan_check(&s, pid, ino);
    if (checked && unmarked)
        wt_scan_unmarked(&s, pid, ino);
    wt_scan_end(&s);
    return checked;
}

static void test_a_process_found_unmarked_once_is_checked_again(void **state)
{
    (void)state;
    assert_true(scan_one(100, 7, true));
    assert_true(scan_one(100, 7, true)); /* it may have been between fork and exec */
}

static void test_a_process_found_unmarked_twice_in_a_row_is_not_read_again(void **state)
{
    (void)state;
    scan_one(100, 7, true);
    scan_one(100, 7, true);
    assert_false(scan_one(100, 7, true));
    assert_false(scan_one(100, 7, true)); /* and stays known */
}

static void test_a_pid_reused_by_a_new_process_is_checked(void **state)
{
    (void)state;
    scan_one(100, 7, true);
    scan_one(100, 7, true);
    assert_true(scan_one(100, 8, true)); /* a new /proc entry */
}

static void test_a_process_gone_from_a_scan_is_forgotten(void **state)
{
    (void)state;
    scan_one(100, 7, true);
    scan_one(100, 7, true);
    scan_one(200, 9, true); /* 100 is not listed */
    assert_true(scan_one(100, 7, true));
}

static void test_a_marked_process_is_checked_every_scan(void **state)
{
    (void)state;
    for (int i = 0; i < 5; i++)
        assert_true(scan_one(100, 7, false));
}

static void test_every_process_is_checked_again_at_a_full_scan(void **state)
{
    (void)state;
    int checked = 0;
    for (int i = 0; i < WT_SCAN_FULL_EVERY * 3; i++)
        checked += scan_one(100, 7, true);
    /* The first two, then one full scan every WT_SCAN_FULL_EVERY. */
    assert_int_equal(checked, WT_SCAN_TRUSTED + 3);
}

static void test_a_process_that_took_the_mark_is_found_by_the_next_full_scan(void **state)
{
    (void)state;
    bool found = false;
    for (int i = 0; i < WT_SCAN_FULL_EVERY && !found; i++) {
        /* unmarked, then it execs with the mark */
        bool checked = scan_one(100, 7, i < WT_SCAN_TRUSTED);
        found = checked && i >= WT_SCAN_TRUSTED;
    }
    assert_true(found);
}

static void test_known_processes_are_looked_up_among_many(void **state)
{
    (void)state;
    for (int round = 0; round < 3; round++) {
        wt_scan_begin(&s);
        int checked = 0;
        for (int64_t pid = 1; pid <= 1000; pid++)
            if (wt_scan_check(&s, pid, (uint64_t)pid * 3)) {
                checked++;
                wt_scan_unmarked(&s, pid, (uint64_t)pid * 3);
            }
        wt_scan_end(&s);
        assert_int_equal(checked, round < WT_SCAN_TRUSTED ? 1000 : 0);
    }
}

/* /proc lists pids in ascending order, but the memory does not rely on it. */
static void test_processes_listed_out_of_pid_order_are_known_all_the_same(void **state)
{
    (void)state;
    for (int round = 0; round < 3; round++) {
        wt_scan_begin(&s);
        int checked = 0;
        for (int64_t pid = 1000; pid >= 1; pid--)
            if (wt_scan_check(&s, pid, (uint64_t)pid * 3)) {
                checked++;
                wt_scan_unmarked(&s, pid, (uint64_t)pid * 3);
            }
        wt_scan_end(&s);
        assert_int_equal(checked, round < WT_SCAN_TRUSTED ? 1000 : 0);
    }
}

int main(void)
{
#define T(name) cmocka_unit_test_setup(name, reset)
    const struct CMUnitTest tests[] = {
        T(test_a_process_found_unmarked_once_is_checked_again),
        T(test_a_process_found_unmarked_twice_in_a_row_is_not_read_again),
        T(test_a_pid_reused_by_a_new_process_is_checked),
        T(test_a_process_gone_from_a_scan_is_forgotten),
        T(test_a_marked_process_is_checked_every_scan),
        T(test_every_process_is_checked_again_at_a_full_scan),
        T(test_a_process_that_took_the_mark_is_found_by_the_next_full_scan),
        T(test_known_processes_are_looked_up_among_many),
        T(test_processes_listed_out_of_pid_order_are_known_all_the_same),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
