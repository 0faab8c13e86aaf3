/* config_load: the log format (--log-format, CHIMERA_LOG_FORMAT, the
 * file's log_format): text by default, or json. */
#include "test_config_support.h"

static void test_log_format_is_text_by_default(void **state)
{
    (void)state;
    struct config c;
    char err[256];
    assert_int_equal(LOAD(&c, err, ARGV(REQ), NOENV), CONFIG_OK);
    assert_string_equal(c.log_format, "text");
}

static void test_log_format_flag_selects_json(void **state)
{
    (void)state;
    struct config c;
    char err[256];
    assert_int_equal(LOAD(&c, err, ARGV(REQ, "--log-format=json"), NOENV), CONFIG_OK);
    assert_string_equal(c.log_format, "json");
}

static void test_log_format_env_variable_selects_json(void **state)
{
    (void)state;
    struct config c;
    char err[256];
    assert_int_equal(LOAD(&c, err, ARGV(REQ), ENV("CHIMERA_LOG_FORMAT=json")), CONFIG_OK);
    assert_string_equal(c.log_format, "json");
}

static void test_log_format_flag_wins_over_the_env_variable(void **state)
{
    (void)state;
    struct config c;
    char err[256];
    assert_int_equal(
        LOAD(&c, err, ARGV(REQ, "--log-format", "text"), ENV("CHIMERA_LOG_FORMAT=json")),
        CONFIG_OK);
    assert_string_equal(c.log_format, "text");
}

static void test_log_format_file_key_selects_json(void **state)
{
    struct config c;
    char err[256];
    const char *p = conf(state, "{\"log_format\": \"json\"}");
    assert_int_equal(LOAD(&c, err, ARGV(REQ, "--config", p), NOENV), CONFIG_OK);
    assert_string_equal(c.log_format, "json");
}

static void test_bad_log_format_is_an_error_naming_the_value(void **state)
{
    (void)state;
    assert_config_error(ARGV(REQ, "--log-format", "yaml"), NOENV,
                        "--log-format: \"yaml\" is not a log format; use text");
}

static void test_bad_log_format_from_env_names_the_env_variable(void **state)
{
    (void)state;
    assert_config_error(ARGV(REQ), ENV("CHIMERA_LOG_FORMAT=JSON"),
                        "CHIMERA_LOG_FORMAT: \"JSON\" is not a log format");
}

static void test_help_lists_the_log_format(void **state)
{
    (void)state;
    const char *u = config_usage();
    assert_err_has(u, "--log-format FORMAT");
    assert_err_has(u, "CHIMERA_LOG_FORMAT (default text)");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_log_format_is_text_by_default),
        cmocka_unit_test(test_log_format_flag_selects_json),
        cmocka_unit_test(test_log_format_env_variable_selects_json),
        cmocka_unit_test(test_log_format_flag_wins_over_the_env_variable),
        cmocka_unit_test_setup_teardown(test_log_format_file_key_selects_json, file_fixture_setup,
                                        file_fixture_teardown),
        cmocka_unit_test(test_bad_log_format_is_an_error_naming_the_value),
        cmocka_unit_test(test_bad_log_format_from_env_names_the_env_variable),
        cmocka_unit_test(test_help_lists_the_log_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
