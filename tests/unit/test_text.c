/* Texts cut to the room they have (pipeline/core/text.h): whole when they
 * fit, else whole characters then "..."; and made UTF-8. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "pipeline/core/text.h"

static void test_a_text_that_fits_is_copied_whole(void **state)
{
    (void)state;
    char out[8];
    pl_cut_text(out, sizeof out, "short");
    assert_string_equal(out, "short");
    pl_cut_text(out, sizeof out, "1234567");
    assert_string_equal(out, "1234567"); /* fits exactly */
}

static void test_a_longer_text_is_cut_and_ends_in_dots(void **state)
{
    (void)state;
    char out[8];
    pl_cut_text(out, sizeof out, "12345678");
    assert_string_equal(out, "1234...");
}

static void test_a_cut_never_splits_a_utf8_character(void **state)
{
    (void)state;
    char out[8];
    pl_cut_text(out, sizeof out, "ab\xc3\xa9\xc3\xa9\xc3\xa9"); /* "abééé" */
    assert_string_equal(out, "ab\xc3\xa9...");
}

static void test_a_utf8_text_is_left_as_it_is(void **state)
{
    (void)state;
    char s[] = "ab\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"; /* "abé € 😀" */
    assert_int_equal(pl_clean_text(s), 0);
    assert_string_equal(s, "ab\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
}

/* What "%.4s" leaves of "/xéé", and a stray byte: '?' each. */
static void test_bytes_that_are_not_utf8_become_question_marks(void **state)
{
    (void)state;
    char cut[] = "/x\xc3\xa9\xc3 here";
    assert_int_equal(pl_clean_text(cut), 1);
    assert_string_equal(cut, "/x\xc3\xa9? here");
    char stray[] = "a\xff\xfe"
                   "b\x80";
    assert_int_equal(pl_clean_text(stray), 3);
    assert_string_equal(stray, "a??b?");
}

/* Forms a JSON parser refuses: overlong, a surrogate, past U+10FFFF. */
static void test_malformed_characters_become_question_marks(void **state)
{
    (void)state;
    char overlong[] = "\xc0\xaf\xe0\x80\xaf";
    pl_clean_text(overlong);
    assert_string_equal(overlong, "?????");
    char surrogate[] = "\xed\xa0\x80";
    pl_clean_text(surrogate);
    assert_string_equal(surrogate, "???");
    char beyond[] = "\xf4\x90\x80\x80";
    pl_clean_text(beyond);
    assert_string_equal(beyond, "????");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_text_that_fits_is_copied_whole),
        cmocka_unit_test(test_a_longer_text_is_cut_and_ends_in_dots),
        cmocka_unit_test(test_a_cut_never_splits_a_utf8_character),
        cmocka_unit_test(test_a_utf8_text_is_left_as_it_is),
        cmocka_unit_test(test_bytes_that_are_not_utf8_become_question_marks),
        cmocka_unit_test(test_malformed_characters_become_question_marks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
