/* --http-max-streams and --http-cors-origins: their defaults, where they
 * come from, and the errors that name the setting. */
#include "test_config_support.h"

static void test_streams_default_to_64_and_cors_to_off(void **state)
{
    (void)state;
    struct config c;
    char err[512];
    assert_int_equal(LOAD(&c, err, ARGV(REQ), NOENV), CONFIG_OK);
    assert_int_equal(c.http_max_streams, 64);
    assert_string_equal(c.http_cors_origins, "");
}

static void test_the_stream_cap_comes_from_the_flag_or_the_environment(void **state)
{
    (void)state;
    struct config c;
    char err[512];
    assert_int_equal(LOAD(&c, err, ARGV(REQ, "--http-max-streams", "8"), NOENV), CONFIG_OK);
    assert_int_equal(c.http_max_streams, 8);
    assert_int_equal(LOAD(&c, err, ARGV(REQ), ENV("CHIMERA_HTTP_MAX_STREAMS=200")), CONFIG_OK);
    assert_int_equal(c.http_max_streams, 200);
}

static void test_a_stream_cap_out_of_range_is_refused_as_a_number_not_milliseconds(void **state)
{
    (void)state;
    assert_config_error(ARGV(REQ, "--http-max-streams", "0"), NOENV,
                        "--http-max-streams: must be a whole number between 1 and 4096");
    assert_config_error(ARGV(REQ), ENV("CHIMERA_HTTP_MAX_STREAMS=lots"),
                        "CHIMERA_HTTP_MAX_STREAMS: must be a whole number between 1 and 4096");
}

static void test_cors_origins_are_kept_as_a_comma_list(void **state)
{
    (void)state;
    struct config c;
    char err[512];
    assert_int_equal(LOAD(&c, err,
                          ARGV(REQ, "--http-cors-origins",
                               "https://console.example.com:8443, http://10.0.0.7:3000"),
                          NOENV),
                     CONFIG_OK);
    assert_string_equal(c.http_cors_origins,
                        "https://console.example.com:8443,http://10.0.0.7:3000");
    assert_int_equal(LOAD(&c, err, ARGV(REQ), ENV("CHIMERA_HTTP_CORS_ORIGINS=*")), CONFIG_OK);
    assert_string_equal(c.http_cors_origins, "*");
}

static void test_a_cors_origin_with_a_path_or_no_scheme_is_refused_naming_it(void **state)
{
    (void)state;
    assert_config_error(ARGV(REQ, "--http-cors-origins", "https://a.example/ui"), NOENV,
                        "\"https://a.example/ui\" is not an origin");
    assert_config_error(ARGV(REQ), ENV("CHIMERA_HTTP_CORS_ORIGINS=a.example"),
                        "CHIMERA_HTTP_CORS_ORIGINS: \"a.example\" is not an origin");
    assert_config_error(ARGV(REQ, "--http-cors-origins", "ftp://a.example"), NOENV,
                        "SCHEME://HOST[:PORT]");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_streams_default_to_64_and_cors_to_off),
        cmocka_unit_test(test_the_stream_cap_comes_from_the_flag_or_the_environment),
        cmocka_unit_test(test_a_stream_cap_out_of_range_is_refused_as_a_number_not_milliseconds),
        cmocka_unit_test(test_cors_origins_are_kept_as_a_comma_list),
        cmocka_unit_test(test_a_cors_origin_with_a_path_or_no_scheme_is_refused_naming_it),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
