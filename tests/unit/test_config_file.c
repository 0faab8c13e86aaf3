/* config_load with a JSON --config file: its keys, its precedence below flags
 * and the environment, and errors that name both the key and the file. */
#include "test_config_support.h"

static void test_file_sets_every_key(void **state)
{
    const char *p = conf(state, "{\"id\": \"f1\", \"listen\": \"tcp://0.0.0.0:7300\","
                                " \"http\": \"0.0.0.0:8300\", \"peers\": \"f2=tcp://f2:7300\","
                                " \"data\": \"/srv/f1\", \"cluster_key_file\": \"/k\","
                                " \"admin_token_file\": \"/t\", \"heartbeat_ms\": 25,"
                                " \"election_timeout_ms\": 200, \"suspect_after_ms\": 90,"
                                " \"dead_after_ms\": 900, \"chaos_enabled\": true,"
                                " \"log_level\": \"error\"}");
    struct config c;
    char err[512];
    assert_int_equal(LOAD(&c, err, ARGV("--config", p), NOENV), CONFIG_OK);
    assert_string_equal(c.config_file, p);
    assert_string_equal(c.id, "f1");
    assert_string_equal(c.listen, "tcp://0.0.0.0:7300");
    assert_string_equal(c.http, "0.0.0.0:8300");
    assert_string_equal(c.data, "/srv/f1");
    assert_string_equal(c.cluster_key_file, "/k");
    assert_string_equal(c.admin_token_file, "/t");
    assert_int_equal(c.heartbeat_ms, 25);
    assert_int_equal(c.election_timeout_ms, 200);
    assert_int_equal(c.suspect_after_ms, 90);
    assert_int_equal(c.dead_after_ms, 900);
    assert_true(c.chaos.enabled);
    assert_string_equal(c.log_level, "error");
}

static void test_file_sets_the_read_token_file(void **state)
{
    const char *p = conf(state, "{\"id\": \"f1\", \"cluster_key_file\": \"/k\","
                                " \"read_token_file\": \"/run/secrets/read.token\"}");
    struct config c;
    char err[512];
    assert_int_equal(LOAD(&c, err, ARGV("--config", p), NOENV), CONFIG_OK);
    assert_string_equal(c.read_token_file, "/run/secrets/read.token");
}

static void test_file_with_string_peers(void **state)
{
    const char *p = conf(state, "{\"peers\": \"a=tcp://n1:7100,b=tcp://n2:7100\"}");
    struct config c;
    char err[512];
    assert_int_equal(LOAD(&c, err, ARGV(REQ, "--config", p), NOENV), CONFIG_OK);
    assert_int_equal(c.nmembers, 2);
    assert_string_equal(c.members[0].id, "a");
    assert_string_equal(c.members[0].url, "tcp://n1:7100");
    assert_string_equal(c.members[1].id, "b");
}

static void test_file_with_object_peers(void **state)
{
    const char *p =
        conf(state, "{\"peers\": {\"b\": \"tcp://n2:7100\", \"c\": \"tcp://n3:7100\"}}");
    struct config c;
    char err[512];
    assert_int_equal(LOAD(&c, err, ARGV(REQ, "--config", p), NOENV), CONFIG_OK);
    assert_int_equal(c.nmembers, 3);
    assert_string_equal(c.members[0].id, "b");
    assert_string_equal(c.members[0].url, "tcp://n2:7100");
    assert_string_equal(c.members[1].id, "c");
    assert_string_equal(c.members[2].id, "a");
}

static void test_file_path_from_env(void **state)
{
    const char *p = conf(state, "{\"http\": \"h:1\"}");
    char var[300];
    snprintf(var, sizeof var, "CHIMERA_CONFIG=%s", p);
    struct config c;
    char err[512];
    assert_int_equal(LOAD(&c, err, ARGV(REQ), ENV(var)), CONFIG_OK);
    assert_string_equal(c.http, "h:1");
    assert_string_equal(c.config_file, p);
}

static void test_file_wins_over_default(void **state)
{
    const char *p = conf(state, "{\"election_timeout_ms\": 400}");
    struct config c;
    char err[512];
    assert_int_equal(LOAD(&c, err, ARGV(REQ, "--config", p), NOENV), CONFIG_OK);
    assert_int_equal(c.election_timeout_ms, 400);
}

static void test_env_wins_over_file(void **state)
{
    const char *p = conf(state, "{\"election_timeout_ms\": 400}");
    struct config c;
    char err[512];
    assert_int_equal(
        LOAD(&c, err, ARGV(REQ, "--config", p), ENV("CHIMERA_ELECTION_TIMEOUT_MS=500")), CONFIG_OK);
    assert_int_equal(c.election_timeout_ms, 500);
}

static void test_flag_wins_over_env_and_file(void **state)
{
    const char *p = conf(state, "{\"log_level\": \"warn\"}");
    struct config c;
    char err[512];
    assert_int_equal(LOAD(&c, err, ARGV(REQ, "--config", p, "--log-level", "debug"),
                          ENV("CHIMERA_LOG_LEVEL=error")),
                     CONFIG_OK);
    assert_string_equal(c.log_level, "debug");
}

static void test_flag_peers_replace_file_object_peers(void **state)
{
    const char *p = conf(state, "{\"peers\": {\"b\": \"tcp://n2:7100\"}}");
    struct config c;
    char err[512];
    assert_int_equal(LOAD(&c, err, ARGV(REQ, "--config", p, "--peers", "c=tcp://n3:1"), NOENV),
                     CONFIG_OK);
    assert_int_equal(c.nmembers, 2);
    assert_string_equal(c.members[0].id, "c");
}

static void test_null_value_in_file_means_unset(void **state)
{
    const char *p = conf(state, "{\"admin_token_file\": null, \"heartbeat_ms\": null}");
    struct config c;
    char err[512];
    assert_int_equal(LOAD(&c, err, ARGV(REQ, "--config", p), NOENV), CONFIG_OK);
    assert_string_equal(c.admin_token_file, "");
    assert_int_equal(c.heartbeat_ms, 50);
}

static void test_unknown_json_key_is_an_error_naming_key_and_file(void **state)
{
    const char *p = conf(state, "{\"hearbeat_ms\": 20}");
    struct config c;
    char err[512];
    assert_int_equal(LOAD(&c, err, ARGV(REQ, "--config", p), NOENV), CONFIG_ERROR);
    assert_err_has(err, "--config: ");
    assert_err_has(err, p);
    assert_err_has(err, "unknown key \"hearbeat_ms\"");
}

static void test_wrong_json_type_is_an_error_naming_key_and_file(void **state)
{
    const char *p = conf(state, "{\"heartbeat_ms\": \"20\"}");
    struct config c;
    char err[512];
    assert_int_equal(LOAD(&c, err, ARGV(REQ, "--config", p), NOENV), CONFIG_ERROR);
    assert_err_has(err, p);
    assert_err_has(err, ": heartbeat_ms: must be a whole number");
}

static void test_wrong_json_type_is_an_error_even_when_a_flag_overrides_it(void **state)
{
    const char *p = conf(state, "{\"listen\": 7100}");
    struct config c;
    char err[512];
    assert_int_equal(LOAD(&c, err, ARGV(REQ, "--config", p, "--listen", "tcp://h:1"), NOENV),
                     CONFIG_ERROR);
    assert_err_has(err, ": listen: must be a string");
}

static void test_fractional_json_number_is_an_error(void **state)
{
    const char *p = conf(state, "{\"dead_after_ms\": 1000.5}");
    struct config c;
    char err[512];
    assert_int_equal(LOAD(&c, err, ARGV(REQ, "--config", p), NOENV), CONFIG_ERROR);
    assert_err_has(err, ": dead_after_ms: must be a whole number");
}

static void test_string_json_bool_is_an_error(void **state)
{
    const char *p = conf(state, "{\"chaos_enabled\": \"true\"}");
    struct config c;
    char err[512];
    assert_int_equal(LOAD(&c, err, ARGV(REQ, "--config", p), NOENV), CONFIG_ERROR);
    assert_err_has(err, ": chaos_enabled: must be true or false");
}

static void test_json_peers_array_is_an_error(void **state)
{
    const char *p = conf(state, "{\"peers\": [\"a=tcp://h:1\"]}");
    struct config c;
    char err[512];
    assert_int_equal(LOAD(&c, err, ARGV(REQ, "--config", p), NOENV), CONFIG_ERROR);
    assert_err_has(err, ": peers: must be a string");
}

static void test_json_peers_object_with_non_string_url_is_an_error(void **state)
{
    const char *p = conf(state, "{\"peers\": {\"b\": 7100}}");
    struct config c;
    char err[512];
    assert_int_equal(LOAD(&c, err, ARGV(REQ, "--config", p), NOENV), CONFIG_ERROR);
    assert_err_has(err, ": peers: member \"b\" must map to a URL string");
}

static void test_bad_url_in_json_peers_names_the_file(void **state)
{
    const char *p = conf(state, "{\"peers\": {\"b\": \"tcp//x:1\"}}");
    struct config c;
    char err[512];
    assert_int_equal(LOAD(&c, err, ARGV(REQ, "--config", p), NOENV), CONFIG_ERROR);
    assert_err_has(err, p);
    assert_err_has(err, ": peers: \"b=tcp//x:1\": bad URL for member b");
}

static void test_out_of_range_json_number_names_the_file(void **state)
{
    const char *p = conf(state, "{\"heartbeat_ms\": -3}");
    struct config c;
    char err[512];
    assert_int_equal(LOAD(&c, err, ARGV(REQ, "--config", p), NOENV), CONFIG_ERROR);
    assert_err_has(err, p);
    assert_err_has(err, ": heartbeat_ms: must be a whole number of milliseconds between 5");
}

static void test_json_syntax_error_names_file_and_line(void **state)
{
    const char *p = conf(state, "{\n  \"id\": \"a\",\n  \"http\": \n}\n");
    struct config c;
    char err[512];
    assert_int_equal(LOAD(&c, err, ARGV(REQ, "--config", p), NOENV), CONFIG_ERROR);
    assert_err_has(err, "--config: ");
    assert_err_has(err, p);
    assert_err_has(err, "line 4");
}

static void test_json_duplicate_key_is_an_error(void **state)
{
    const char *p = conf(state, "{\"id\": \"a\", \"id\": \"b\"}");
    struct config c;
    char err[512];
    assert_int_equal(LOAD(&c, err, ARGV(REQ, "--config", p), NOENV), CONFIG_ERROR);
    assert_err_has(err, "duplicate");
}

static void test_json_top_level_array_is_an_error(void **state)
{
    const char *p = conf(state, "[]");
    struct config c;
    char err[512];
    assert_int_equal(LOAD(&c, err, ARGV(REQ, "--config", p), NOENV), CONFIG_ERROR);
    assert_err_has(err, "must hold a JSON object");
}

static void test_missing_config_file_is_an_error(void **state)
{
    struct file_fixture *f = *state;
    char p[256];
    snprintf(p, sizeof p, "%s/nope.json", f->dir);
    struct config c;
    char err[512];
    assert_int_equal(LOAD(&c, err, ARGV(REQ, "--config", p), NOENV), CONFIG_ERROR);
    assert_err_has(err, "--config: ");
    assert_err_has(err, p);
    assert_err_has(err, "No such file or directory");
}

static void test_config_key_inside_the_file_is_unknown(void **state)
{
    const char *p = conf(state, "{\"config\": \"/other.json\"}");
    struct config c;
    char err[512];
    assert_int_equal(LOAD(&c, err, ARGV(REQ, "--config", p), NOENV), CONFIG_ERROR);
    assert_err_has(err, "unknown key \"config\"");
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, file_fixture_setup, file_fixture_teardown)
    const struct CMUnitTest tests[] = {
        T(test_file_sets_every_key),
        T(test_file_with_string_peers),
        T(test_file_with_object_peers),
        T(test_file_path_from_env),
        T(test_file_wins_over_default),
        T(test_env_wins_over_file),
        T(test_flag_wins_over_env_and_file),
        T(test_flag_peers_replace_file_object_peers),
        T(test_null_value_in_file_means_unset),
        T(test_unknown_json_key_is_an_error_naming_key_and_file),
        T(test_wrong_json_type_is_an_error_naming_key_and_file),
        T(test_wrong_json_type_is_an_error_even_when_a_flag_overrides_it),
        T(test_fractional_json_number_is_an_error),
        T(test_string_json_bool_is_an_error),
        T(test_json_peers_array_is_an_error),
        T(test_json_peers_object_with_non_string_url_is_an_error),
        T(test_bad_url_in_json_peers_names_the_file),
        T(test_out_of_range_json_number_names_the_file),
        T(test_json_syntax_error_names_file_and_line),
        T(test_json_duplicate_key_is_an_error),
        T(test_json_top_level_array_is_an_error),
        T(test_missing_config_file_is_an_error),
        T(test_config_key_inside_the_file_is_unknown),
        T(test_file_sets_the_read_token_file),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
