/* The histogram every /metrics histogram uses (node/base/histogram.h):
 * where an observation lands, and the Prometheus text it prints. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/base/histogram.h"

static const double le[] = {0.001, 0.01, 0.1, 1};

static char *text_of(const char *name, const char *labels, const struct histogram *h)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    histogram_write(f, name, labels, h);
    fclose(f);
    return text;
}

static void test_an_observation_lands_in_the_first_bucket_whose_bound_holds_it(void **state)
{
    (void)state;
    struct histogram h;
    histogram_init(&h, le, 4);
    histogram_observe(&h, 0.005);
    histogram_observe(&h, 0.01); /* on the bound: that bucket (le is "at most") */
    assert_int_equal(h.count[0], 0);
    assert_int_equal(h.count[1], 2);
    assert_int_equal(h.n, 2);
    assert_true(h.sum > 0.01499 && h.sum < 0.01501);
}

static void test_an_observation_beyond_the_last_bound_counts_in_plus_inf_only(void **state)
{
    (void)state;
    struct histogram h;
    histogram_init(&h, le, 4);
    histogram_observe(&h, 30);
    assert_int_equal(h.count[4], 1);
    char *t = text_of("x_seconds", "", &h);
    assert_non_null(strstr(t, "x_seconds_bucket{le=\"1\"} 0\n"));
    assert_non_null(strstr(t, "x_seconds_bucket{le=\"+Inf\"} 1\n"));
    free(t);
}

static void test_a_negative_or_nan_observation_counts_as_zero(void **state)
{
    (void)state;
    struct histogram h;
    histogram_init(&h, le, 4);
    histogram_observe(&h, -2);
    histogram_observe(&h, NAN);
    assert_int_equal(h.count[0], 2);
    assert_true(h.sum == 0);
}

static void test_a_duration_between_monotonic_times_is_observed_in_seconds(void **state)
{
    (void)state;
    struct histogram h;
    histogram_init(&h, le, 4);
    histogram_observe_ns(&h, 1000000000ull, 1050000000ull); /* 50 ms */
    histogram_observe_ns(&h, 2000, 1000);                   /* backwards: 0 */
    assert_int_equal(h.count[2], 1);
    assert_int_equal(h.count[0], 1);
    assert_true(h.sum > 0.0499 && h.sum < 0.0501);
}

static void test_the_text_is_cumulative_buckets_then_sum_and_count(void **state)
{
    (void)state;
    struct histogram h;
    histogram_init(&h, le, 4);
    histogram_observe(&h, 0.0005);
    histogram_observe(&h, 0.05);
    histogram_observe(&h, 0.5);
    char *t = text_of("x_seconds", "", &h);
    assert_string_equal(t, "x_seconds_bucket{le=\"0.001\"} 1\n"
                           "x_seconds_bucket{le=\"0.01\"} 1\n"
                           "x_seconds_bucket{le=\"0.1\"} 2\n"
                           "x_seconds_bucket{le=\"1\"} 3\n"
                           "x_seconds_bucket{le=\"+Inf\"} 3\n"
                           "x_seconds_sum 0.550500\n"
                           "x_seconds_count 3\n");
    free(t);
}

static void test_labels_come_before_le_and_on_sum_and_count(void **state)
{
    (void)state;
    struct histogram h;
    histogram_init(&h, le, 1);
    char *t = text_of("x_seconds", "peer=\"n2\"", &h);
    assert_string_equal(t, "x_seconds_bucket{peer=\"n2\",le=\"0.001\"} 0\n"
                           "x_seconds_bucket{peer=\"n2\",le=\"+Inf\"} 0\n"
                           "x_seconds_sum{peer=\"n2\"} 0.000000\n"
                           "x_seconds_count{peer=\"n2\"} 0\n");
    free(t);
}

static void test_the_header_names_the_type_histogram(void **state)
{
    (void)state;
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    histogram_header(f, "x_seconds", "What it times.");
    fclose(f);
    assert_string_equal(text, "# HELP x_seconds What it times.\n# TYPE x_seconds histogram\n");
    free(text);
}

static void test_more_bounds_than_it_holds_keep_the_first(void **state)
{
    (void)state;
    static double many[HISTOGRAM_MAX_BUCKETS + 4];
    for (size_t i = 0; i < sizeof(many) / sizeof(many[0]); i++)
        many[i] = (double)(i + 1);
    struct histogram h;
    histogram_init(&h, many, sizeof(many) / sizeof(many[0]));
    assert_int_equal(h.nb, HISTOGRAM_MAX_BUCKETS);
    histogram_observe(&h, 1000);
    assert_int_equal(h.count[HISTOGRAM_MAX_BUCKETS], 1);
}

static void test_a_label_value_is_escaped_and_truncated_to_fit(void **state)
{
    (void)state;
    char out[32];
    assert_string_equal(histogram_label_value("a\"b\\c\nd", out, sizeof(out)), "a\\\"b\\\\c\\nd");
    char small[4];
    assert_string_equal(histogram_label_value("ab\"", small, sizeof(small)), "ab");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_an_observation_lands_in_the_first_bucket_whose_bound_holds_it),
        cmocka_unit_test(test_an_observation_beyond_the_last_bound_counts_in_plus_inf_only),
        cmocka_unit_test(test_a_negative_or_nan_observation_counts_as_zero),
        cmocka_unit_test(test_a_duration_between_monotonic_times_is_observed_in_seconds),
        cmocka_unit_test(test_the_text_is_cumulative_buckets_then_sum_and_count),
        cmocka_unit_test(test_labels_come_before_le_and_on_sum_and_count),
        cmocka_unit_test(test_the_header_names_the_type_histogram),
        cmocka_unit_test(test_more_bounds_than_it_holds_keep_the_first),
        cmocka_unit_test(test_a_label_value_is_escaped_and_truncated_to_fit),
    };
    return cmocka_run_group_tests_name("histogram", tests, NULL, NULL);
}
