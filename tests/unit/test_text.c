/* Texts cut to the room they have (pipeline/core/text.h): whole when they
 * fit, else whole characters then "...". */
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_text_that_fits_is_copied_whole),
        cmocka_unit_test(test_a_longer_text_is_cut_and_ends_in_dots),
        cmocka_unit_test(test_a_cut_never_splits_a_utf8_character),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
