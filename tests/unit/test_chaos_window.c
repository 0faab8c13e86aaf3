/* The chaos window: when the injector may run ("Mon-Fri 09:00-17:00" in
 * UTC), parsed with clear errors; inside at T, and the next opening. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "chaos/window.h"

/* Monday 2024-01-01 00:00 UTC, in milliseconds. */
#define MONDAY 1704067200000ull
#define DAY 86400000ull
#define AT(day, h, m) (MONDAY + (uint64_t)(day)*DAY + ((uint64_t)(h)*60 + (m)) * 60000ull)
enum { MON, TUE, WED, THU, FRI, SAT, SUN, NEXT_MON };

static struct chaos_window parse_ok(const char *text)
{
    struct chaos_window w;
    char err[256];
    if (chaos_window_parse(text, &w, err, sizeof err) != 0) {
        print_error("\"%s\" did not parse: %s\n", text, err);
        fail();
    }
    return w;
}

static void assert_parse_error(const char *text, const char *needle)
{
    struct chaos_window w;
    char err[256];
    assert_int_equal(chaos_window_parse(text, &w, err, sizeof err), -1);
    assert_null(strchr(err, '\n'));
    if (!strstr(err, needle)) {
        print_error("error \"%s\" does not mention \"%s\"\n", err, needle);
        fail();
    }
}

static void test_always_is_inside_at_any_time(void **state)
{
    (void)state;
    struct chaos_window w = parse_ok("always");
    assert_true(chaos_window_inside(&w, 0));
    assert_true(chaos_window_inside(&w, AT(SUN, 23, 59)));
    assert_int_equal(chaos_window_next_open(&w, AT(SAT, 3, 0)), AT(SAT, 3, 0));
}

static void test_always_is_case_insensitive_and_trimmed(void **state)
{
    (void)state;
    assert_true(parse_ok("  Always ").always);
}

static void test_business_hours_contain_a_weekday_afternoon(void **state)
{
    (void)state;
    struct chaos_window w = parse_ok("Mon-Fri 09:00-17:00");
    assert_true(chaos_window_inside(&w, AT(WED, 14, 30)));
}

static void test_business_hours_exclude_the_weekend(void **state)
{
    (void)state;
    struct chaos_window w = parse_ok("Mon-Fri 09:00-17:00");
    assert_false(chaos_window_inside(&w, AT(SAT, 12, 0)));
    assert_false(chaos_window_inside(&w, AT(SUN, 12, 0)));
}

static void test_the_start_is_inside_and_the_end_is_not(void **state)
{
    (void)state;
    struct chaos_window w = parse_ok("Mon-Fri 09:00-17:00");
    assert_false(chaos_window_inside(&w, AT(MON, 9, 0) - 1));
    assert_true(chaos_window_inside(&w, AT(MON, 9, 0)));
    assert_true(chaos_window_inside(&w, AT(MON, 17, 0) - 1));
    assert_false(chaos_window_inside(&w, AT(MON, 17, 0)));
}

static void test_a_range_ending_at_24_00_closes_at_midnight(void **state)
{
    (void)state;
    struct chaos_window w = parse_ok("Fri 20:00-24:00");
    assert_true(chaos_window_inside(&w, AT(SAT, 0, 0) - 1));
    assert_false(chaos_window_inside(&w, AT(SAT, 0, 0)));
}

static void test_a_range_crossing_midnight_closes_the_next_day(void **state)
{
    (void)state;
    struct chaos_window w = parse_ok("Fri 22:00-02:00");
    assert_true(chaos_window_inside(&w, AT(FRI, 23, 0)));
    assert_true(chaos_window_inside(&w, AT(SAT, 1, 59)));
    assert_false(chaos_window_inside(&w, AT(SAT, 2, 0)));
    assert_false(chaos_window_inside(&w, AT(FRI, 1, 0))); /* Thursday's night is not named */
}

static void test_a_day_span_wraps_over_the_week_end(void **state)
{
    (void)state;
    struct chaos_window w = parse_ok("Sat-Mon 10:00-11:00");
    assert_true(chaos_window_inside(&w, AT(SUN, 10, 30)));
    assert_true(chaos_window_inside(&w, AT(MON, 10, 30)));
    assert_false(chaos_window_inside(&w, AT(TUE, 10, 30)));
}

static void test_a_range_crossing_sunday_midnight_wraps_into_monday(void **state)
{
    (void)state;
    struct chaos_window w = parse_ok("Sun 23:00-01:00");
    assert_true(chaos_window_inside(&w, AT(NEXT_MON, 0, 30)));
    assert_true(chaos_window_inside(&w, AT(MON, 0, 30))); /* the Sunday before */
    assert_false(chaos_window_inside(&w, AT(TUE, 0, 30)));
}

static void test_hours_without_days_mean_every_day(void **state)
{
    (void)state;
    struct chaos_window w = parse_ok("09:00-10:00");
    assert_true(chaos_window_inside(&w, AT(SUN, 9, 30)));
    assert_true(chaos_window_inside(&w, AT(TUE, 9, 30)));
}

static void test_several_ranges_are_each_inside(void **state)
{
    (void)state;
    struct chaos_window w = parse_ok("Mon-Fri 09:00-12:00, Sat 14:00-15:00");
    assert_int_equal(w.n, 2);
    assert_true(chaos_window_inside(&w, AT(TUE, 10, 0)));
    assert_true(chaos_window_inside(&w, AT(SAT, 14, 30)));
    assert_false(chaos_window_inside(&w, AT(TUE, 13, 0)));
}

static void test_full_day_names_and_any_case_are_accepted(void **state)
{
    (void)state;
    struct chaos_window w = parse_ok("monday-FRIDAY 09:00-17:00");
    assert_true(chaos_window_inside(&w, AT(FRI, 9, 0)));
}

static void test_next_open_inside_is_now(void **state)
{
    (void)state;
    struct chaos_window w = parse_ok("Mon-Fri 09:00-17:00");
    assert_int_equal(chaos_window_next_open(&w, AT(TUE, 11, 0)), AT(TUE, 11, 0));
}

static void test_next_open_before_the_start_is_the_same_morning(void **state)
{
    (void)state;
    struct chaos_window w = parse_ok("Mon-Fri 09:00-17:00");
    assert_int_equal(chaos_window_next_open(&w, AT(TUE, 3, 0)), AT(TUE, 9, 0));
}

static void test_next_open_after_friday_close_is_monday_morning(void **state)
{
    (void)state;
    struct chaos_window w = parse_ok("Mon-Fri 09:00-17:00");
    assert_int_equal(chaos_window_next_open(&w, AT(FRI, 17, 0)), AT(NEXT_MON, 9, 0));
    assert_int_equal(chaos_window_next_open(&w, AT(SUN, 23, 59)), AT(NEXT_MON, 9, 0));
}

static void test_next_open_of_a_weekly_range_just_missed_is_a_week_later(void **state)
{
    (void)state;
    struct chaos_window w = parse_ok("Wed 10:00-11:00");
    assert_int_equal(chaos_window_next_open(&w, AT(WED, 11, 0)), AT(WED, 10, 0) + 7 * DAY);
}

static void test_next_open_picks_the_earliest_of_several_ranges(void **state)
{
    (void)state;
    struct chaos_window w = parse_ok("Sat 14:00-15:00, Mon-Fri 09:00-17:00");
    assert_int_equal(chaos_window_next_open(&w, AT(FRI, 18, 0)), AT(SAT, 14, 0));
}

static void test_an_empty_window_is_an_error(void **state)
{
    (void)state;
    assert_parse_error("", "empty");
    assert_parse_error("  ", "empty");
}

static void test_an_unknown_day_is_an_error_naming_the_range(void **state)
{
    (void)state;
    assert_parse_error("Mon-Fry 09:00-17:00", "\"Mon-Fry 09:00-17:00\": unknown day");
}

static void test_bad_hours_are_an_error(void **state)
{
    (void)state;
    assert_parse_error("Mon 9:00-17:00", "HH:MM-HH:MM");
    assert_parse_error("Mon 09:60-17:00", "HH:MM-HH:MM");
    assert_parse_error("Mon 25:00-26:00", "HH:MM-HH:MM");
    assert_parse_error("Mon 24:00-01:00", "HH:MM-HH:MM");
    assert_parse_error("Mon 09:00", "HH:MM-HH:MM");
    assert_parse_error("Mon 09:00-17:00x", "HH:MM-HH:MM");
}

static void test_days_glued_to_hours_are_an_error(void **state)
{
    (void)state;
    assert_parse_error("Mon09:00-17:00", "space between the days and the hours");
}

static void test_a_range_opening_and_closing_at_once_is_an_error(void **state)
{
    (void)state;
    assert_parse_error("Mon 09:00-09:00", "same minute");
}

static void test_an_empty_range_between_commas_is_an_error(void **state)
{
    (void)state;
    assert_parse_error("Mon 09:00-10:00,,Tue 09:00-10:00", "empty range");
    assert_parse_error("Mon 09:00-10:00,", "empty range");
}

static void test_too_many_ranges_are_an_error(void **state)
{
    (void)state;
    assert_parse_error("01:00-02:00,02:00-03:00,03:00-04:00,04:00-05:00,05:00-06:00,"
                       "06:00-07:00,07:00-08:00,08:00-09:00,09:00-10:00",
                       "more than 8 ranges");
}

static void test_a_control_character_in_the_text_stays_one_line(void **state)
{
    (void)state;
    assert_parse_error("Mon\x01 09:00-10:00", "\"Mon? 09:00-10:00\"");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_always_is_inside_at_any_time),
        cmocka_unit_test(test_always_is_case_insensitive_and_trimmed),
        cmocka_unit_test(test_business_hours_contain_a_weekday_afternoon),
        cmocka_unit_test(test_business_hours_exclude_the_weekend),
        cmocka_unit_test(test_the_start_is_inside_and_the_end_is_not),
        cmocka_unit_test(test_a_range_ending_at_24_00_closes_at_midnight),
        cmocka_unit_test(test_a_range_crossing_midnight_closes_the_next_day),
        cmocka_unit_test(test_a_day_span_wraps_over_the_week_end),
        cmocka_unit_test(test_a_range_crossing_sunday_midnight_wraps_into_monday),
        cmocka_unit_test(test_hours_without_days_mean_every_day),
        cmocka_unit_test(test_several_ranges_are_each_inside),
        cmocka_unit_test(test_full_day_names_and_any_case_are_accepted),
        cmocka_unit_test(test_next_open_inside_is_now),
        cmocka_unit_test(test_next_open_before_the_start_is_the_same_morning),
        cmocka_unit_test(test_next_open_after_friday_close_is_monday_morning),
        cmocka_unit_test(test_next_open_of_a_weekly_range_just_missed_is_a_week_later),
        cmocka_unit_test(test_next_open_picks_the_earliest_of_several_ranges),
        cmocka_unit_test(test_an_empty_window_is_an_error),
        cmocka_unit_test(test_an_unknown_day_is_an_error_naming_the_range),
        cmocka_unit_test(test_bad_hours_are_an_error),
        cmocka_unit_test(test_days_glued_to_hours_are_an_error),
        cmocka_unit_test(test_a_range_opening_and_closing_at_once_is_an_error),
        cmocka_unit_test(test_an_empty_range_between_commas_is_an_error),
        cmocka_unit_test(test_too_many_ranges_are_an_error),
        cmocka_unit_test(test_a_control_character_in_the_text_stays_one_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
