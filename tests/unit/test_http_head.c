/* Unit: what the HTTP listener decides from a request's headers before it
 * reads any of its body (http_head_verdict). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "node/net/http.h"

#define TOKEN "an-admin-token-of-32-bytes-long!"

struct verdict {
    int status;
    bool cont;
    char msg[300];
};

static struct verdict judge(struct http_head h, const char *token)
{
    struct verdict v;
    if (!h.auth)
        h.auth = "";
    if (!h.expect)
        h.expect = "";
    v.status = http_head_verdict(&h, token, &v.cont, v.msg, sizeof(v.msg));
    return v;
}

static void test_a_chunked_body_is_refused_with_411(void **state)
{
    (void)state;
    struct verdict v = judge((struct http_head){.transfer_encoding = true, .http11 = true}, TOKEN);
    assert_int_equal(v.status, 411);
    assert_non_null(strstr(v.msg, "Content-Length"));
}

static void test_an_expectation_other_than_100_continue_is_refused_with_417(void **state)
{
    (void)state;
    struct verdict v = judge((struct http_head){.expect = "teapot\x01", .http11 = true}, TOKEN);
    assert_int_equal(v.status, 417);
    assert_non_null(strstr(v.msg, "\"teapot?\""));
}

static void test_a_body_over_the_limit_is_refused_with_413_even_with_the_token(void **state)
{
    (void)state;
    struct verdict v = judge(
        (struct http_head){.auth = "Bearer " TOKEN, .length = HTTP_MAX_BODY + 1, .http11 = true},
        TOKEN);
    assert_int_equal(v.status, 413);
    assert_non_null(strstr(v.msg, "at most 1048576"));
}

static void test_a_large_body_without_the_admin_token_is_refused_with_413(void **state)
{
    (void)state;
    struct verdict v = judge(
        (struct http_head){.length = HTTP_MAX_UNAUTH_BODY + 1, .expect = "100-continue"}, TOKEN);
    assert_int_equal(v.status, 413);
    assert_false(v.cont);
    assert_non_null(strstr(v.msg, "without the admin token"));
}

static void test_a_large_body_with_a_wrong_token_is_refused_with_413(void **state)
{
    (void)state;
    struct verdict v = judge(
        (struct http_head){.auth = "Bearer not-the-token", .length = 8192, .http11 = true}, TOKEN);
    assert_int_equal(v.status, 413);
}

static void test_no_large_body_is_read_while_no_admin_token_is_set(void **state)
{
    (void)state;
    struct verdict v =
        judge((struct http_head){.auth = "Bearer ", .length = 8192, .http11 = true}, "");
    assert_int_equal(v.status, 413);
}

static void test_a_large_body_with_the_admin_token_is_read_after_100_continue(void **state)
{
    (void)state;
    struct verdict v = judge((struct http_head){.auth = "bearer  " TOKEN,
                                                .expect = "100-Continue",
                                                .length = HTTP_MAX_BODY,
                                                .http11 = true},
                             TOKEN);
    assert_int_equal(v.status, 0);
    assert_true(v.cont);
}

static void test_a_small_body_is_read_without_a_token(void **state)
{
    (void)state;
    struct verdict v =
        judge((struct http_head){.length = HTTP_MAX_UNAUTH_BODY, .http11 = true}, TOKEN);
    assert_int_equal(v.status, 0);
    assert_false(v.cont);
}

static void test_100_continue_is_not_sent_for_no_body_nor_to_http_1_0(void **state)
{
    (void)state;
    struct verdict none =
        judge((struct http_head){.expect = "100-continue", .http11 = true}, TOKEN);
    assert_int_equal(none.status, 0);
    assert_false(none.cont);
    struct verdict old = judge((struct http_head){.expect = "100-continue", .length = 10}, TOKEN);
    assert_int_equal(old.status, 0);
    assert_false(old.cont);
}

static void test_cors_is_off_without_origins(void **state)
{
    (void)state;
    assert_false(http_cors_allowed("", "https://a.example"));
    assert_false(http_cors_allowed(NULL, "https://a.example"));
}

static void test_cors_allows_a_listed_origin_ignoring_case_and_spaces(void **state)
{
    (void)state;
    const char *list = "https://a.example:8443, http://b.example";
    assert_true(http_cors_allowed(list, "https://a.example:8443"));
    assert_true(http_cors_allowed(list, "HTTP://B.example"));
}

static void test_cors_refuses_an_origin_not_listed_or_only_like_one(void **state)
{
    (void)state;
    const char *list = "https://a.example:8443,http://b.example";
    assert_false(http_cors_allowed(list, "https://a.example"));     /* another port */
    assert_false(http_cors_allowed(list, "http://b.example.evil")); /* longer */
    assert_false(http_cors_allowed(list, "http://b.exampl"));       /* shorter */
    assert_false(http_cors_allowed(list, ""));
}

static void test_cors_star_allows_any_origin_but_never_one_with_odd_bytes(void **state)
{
    (void)state;
    assert_true(http_cors_allowed("*", "https://anything.example:1"));
    assert_false(http_cors_allowed("*", "https://a.example\r\nSet-Cookie: x=1"));
    assert_false(http_cors_allowed("*", "https://a.example x"));
}

static void test_if_none_match_names_the_etag_among_others_or_weakly(void **state)
{
    (void)state;
    const char *tag = "\"abc123\"";
    assert_true(http_etag_matches("\"abc123\"", tag));
    assert_true(http_etag_matches("\"x\", \"abc123\"", tag));
    assert_true(http_etag_matches("W/\"abc123\"", tag)); /* weak comparison */
    assert_true(http_etag_matches("*", tag));
}

static void test_if_none_match_of_another_tag_or_nothing_does_not_match(void **state)
{
    (void)state;
    const char *tag = "\"abc123\"";
    assert_false(http_etag_matches("\"abc12\"", tag));
    assert_false(http_etag_matches("\"abc1234\"", tag));
    assert_false(http_etag_matches("abc123", tag));   /* not quoted: no entity tag */
    assert_false(http_etag_matches("\"abc123", tag)); /* cut short */
    assert_false(http_etag_matches("", tag));
    assert_false(http_etag_matches(NULL, tag));
    assert_false(http_etag_matches("junk, W/", tag));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_chunked_body_is_refused_with_411),
        cmocka_unit_test(test_an_expectation_other_than_100_continue_is_refused_with_417),
        cmocka_unit_test(test_a_body_over_the_limit_is_refused_with_413_even_with_the_token),
        cmocka_unit_test(test_a_large_body_without_the_admin_token_is_refused_with_413),
        cmocka_unit_test(test_a_large_body_with_a_wrong_token_is_refused_with_413),
        cmocka_unit_test(test_no_large_body_is_read_while_no_admin_token_is_set),
        cmocka_unit_test(test_a_large_body_with_the_admin_token_is_read_after_100_continue),
        cmocka_unit_test(test_a_small_body_is_read_without_a_token),
        cmocka_unit_test(test_100_continue_is_not_sent_for_no_body_nor_to_http_1_0),
        cmocka_unit_test(test_cors_is_off_without_origins),
        cmocka_unit_test(test_cors_allows_a_listed_origin_ignoring_case_and_spaces),
        cmocka_unit_test(test_cors_refuses_an_origin_not_listed_or_only_like_one),
        cmocka_unit_test(test_cors_star_allows_any_origin_but_never_one_with_odd_bytes),
        cmocka_unit_test(test_if_none_match_names_the_etag_among_others_or_weakly),
        cmocka_unit_test(test_if_none_match_of_another_tag_or_nothing_does_not_match),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
