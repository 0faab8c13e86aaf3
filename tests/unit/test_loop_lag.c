/* Loop lag: how late each heartbeat tick ran, as a histogram and a maximum
 * for /metrics. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/base/loop_lag.h"

#define MS 1000000ull

static char *metrics_text(const struct loop_lag *l)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    loop_lag_metrics(f, l);
    fclose(f);
    return text;
}

static void test_the_first_tick_is_never_late(void **state)
{
    (void)state;
    struct loop_lag l;
    loop_lag_init(&l);
    loop_lag_tick(&l, 5000 * MS, 50);
    assert_int_equal(l.hist.n, 0);
    assert_int_equal(l.max_ns, 0);
}

static void test_a_tick_one_interval_after_the_last_has_no_lag(void **state)
{
    (void)state;
    struct loop_lag l;
    loop_lag_init(&l);
    loop_lag_tick(&l, 1000 * MS, 50);
    loop_lag_tick(&l, 1050 * MS, 50);
    assert_int_equal(l.hist.n, 1);
    assert_int_equal(l.hist.count[0], 1);
    assert_int_equal(l.max_ns, 0);
}

static void test_an_early_tick_counts_as_on_time(void **state)
{
    (void)state;
    struct loop_lag l;
    loop_lag_init(&l);
    loop_lag_tick(&l, 1000 * MS, 50);
    loop_lag_tick(&l, 1049 * MS, 50);
    assert_int_equal(l.hist.count[0], 1);
    assert_true(l.hist.sum == 0);
}

static void test_a_tick_held_back_by_a_stall_lands_in_its_bucket_and_sets_the_max(void **state)
{
    (void)state;
    struct loop_lag l;
    loop_lag_init(&l);
    loop_lag_tick(&l, 1000 * MS, 50);
    loop_lag_tick(&l, 1250 * MS, 50); /* 200 ms late: the 0.25 s bucket */
    int b = 0;
    while (loop_lag_bucket_le(b) < 0.2)
        b++;
    assert_true(loop_lag_bucket_le(b) == 0.25);
    assert_int_equal(l.hist.count[b], 1);
    assert_int_equal(l.max_ns, 200 * MS);
    loop_lag_tick(&l, 1302 * MS, 50); /* 2 ms late: the max stays */
    assert_int_equal(l.max_ns, 200 * MS);
    assert_true(l.hist.sum > 0.2019 && l.hist.sum < 0.2021);
}

static void test_a_lag_beyond_the_last_bound_counts_in_plus_inf_only(void **state)
{
    (void)state;
    struct loop_lag l;
    loop_lag_init(&l);
    loop_lag_tick(&l, 1000 * MS, 50);
    loop_lag_tick(&l, 11050 * MS, 50);
    assert_int_equal(l.hist.count[LOOP_LAG_BUCKETS], 1);
    char *t = metrics_text(&l);
    assert_non_null(strstr(t, "chimera_loop_lag_seconds_bucket{le=\"2.5\"} 0\n"));
    assert_non_null(strstr(t, "chimera_loop_lag_seconds_bucket{le=\"+Inf\"} 1\n"));
    free(t);
}

static void test_metrics_before_any_tick_print_every_bucket_at_zero(void **state)
{
    (void)state;
    struct loop_lag l;
    loop_lag_init(&l);
    char *t = metrics_text(&l);
    assert_non_null(strstr(t, "chimera_loop_lag_seconds_bucket{le=\"0.0005\"} 0\n"));
    assert_non_null(strstr(t, "chimera_loop_lag_seconds_bucket{le=\"+Inf\"} 0\n"));
    assert_non_null(strstr(t, "chimera_loop_lag_seconds_count 0\n"));
    free(t);
}

static void test_metrics_print_a_cumulative_histogram_sum_count_and_max(void **state)
{
    (void)state;
    struct loop_lag l;
    loop_lag_init(&l);
    loop_lag_tick(&l, 1000 * MS, 50);
    loop_lag_tick(&l, 1050 * MS, 50);
    loop_lag_tick(&l, 1103 * MS, 50); /* 3 ms */
    loop_lag_tick(&l, 1183 * MS, 50); /* 30 ms */
    char *t = metrics_text(&l);
    assert_non_null(strstr(t, "# TYPE chimera_loop_lag_seconds histogram\n"));
    assert_non_null(strstr(t, "chimera_loop_lag_seconds_bucket{le=\"0.0005\"} 1\n"));
    assert_non_null(strstr(t, "chimera_loop_lag_seconds_bucket{le=\"0.005\"} 2\n"));
    assert_non_null(strstr(t, "chimera_loop_lag_seconds_bucket{le=\"0.025\"} 2\n"));
    assert_non_null(strstr(t, "chimera_loop_lag_seconds_bucket{le=\"0.05\"} 3\n"));
    assert_non_null(strstr(t, "chimera_loop_lag_seconds_bucket{le=\"+Inf\"} 3\n"));
    assert_non_null(strstr(t, "chimera_loop_lag_seconds_sum 0.033000\n"));
    assert_non_null(strstr(t, "chimera_loop_lag_seconds_count 3\n"));
    assert_non_null(strstr(t, "# TYPE chimera_loop_lag_max_seconds gauge\n"));
    assert_non_null(strstr(t, "chimera_loop_lag_max_seconds 0.030000\n"));
    free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_the_first_tick_is_never_late),
        cmocka_unit_test(test_a_tick_one_interval_after_the_last_has_no_lag),
        cmocka_unit_test(test_an_early_tick_counts_as_on_time),
        cmocka_unit_test(test_a_tick_held_back_by_a_stall_lands_in_its_bucket_and_sets_the_max),
        cmocka_unit_test(test_a_lag_beyond_the_last_bound_counts_in_plus_inf_only),
        cmocka_unit_test(test_metrics_before_any_tick_print_every_bucket_at_zero),
        cmocka_unit_test(test_metrics_print_a_cumulative_histogram_sum_count_and_max),
    };
    return cmocka_run_group_tests_name("loop_lag", tests, NULL, NULL);
}
