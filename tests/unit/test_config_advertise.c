/* --advertise-http: the HTTP address clients are told to use for this node
 * (its "http" in /federation/state, a follower's redirect to it), its
 * default from --http, and the errors that name the setting. */
#include "test_config_support.h"
#include "node/base/peers.h"

/* Expects the configuration to load with this advertised address. */
static void expect_advertised(const char *const *argv, const char *const *envp, const char *want)
{
    struct config c;
    char err[512];
    if (LOAD(&c, err, argv, envp) != CONFIG_OK)
        fail_msg("refused: %s", err);
    assert_string_equal(c.advertise_http, want);
}

/* A container's node: listening everywhere, advertising its published port. */
static void load_published(struct config *c)
{
    char err[512];
    assert_int_equal(LOAD(c, err,
                          ARGV(REQ, "--http", "0.0.0.0:8080", "--advertise-http", "127.0.0.1:8201"),
                          NOENV),
                     CONFIG_OK);
}

static void test_advertise_defaults_to_the_http_address(void **state)
{
    (void)state;
    struct config c;
    char err[512];
    assert_int_equal(LOAD(&c, err, ARGV(REQ, "--http", "127.0.0.1:8300"), NOENV), CONFIG_OK);
    assert_string_equal(c.advertise_http, "127.0.0.1:8300");
    assert_false(c.advertise_http_wildcard);
}

static void test_advertise_default_from_a_wildcard_http_is_flagged(void **state)
{
    (void)state;
    struct config c;
    char err[512];
    assert_int_equal(LOAD(&c, err, ARGV(REQ, "--http", "0.0.0.0:8080"), NOENV), CONFIG_OK);
    assert_string_equal(c.advertise_http, "0.0.0.0:8080");
    assert_true(c.advertise_http_wildcard);
    assert_int_equal(LOAD(&c, err, ARGV(REQ, "--http", "[::]:8080"), NOENV), CONFIG_OK);
    assert_true(c.advertise_http_wildcard);
}

static void test_advertise_given_is_used_and_not_flagged(void **state)
{
    (void)state;
    struct config c;
    load_published(&c);
    assert_string_equal(c.http, "0.0.0.0:8080");
    assert_string_equal(c.advertise_http, "127.0.0.1:8201");
    assert_false(c.advertise_http_wildcard);
}

static void test_advertise_from_the_environment(void **state)
{
    (void)state;
    expect_advertised(ARGV(REQ), ENV("CHIMERA_ADVERTISE_HTTP=node1.example:8100"),
                      "node1.example:8100");
}

static void test_advertise_flag_wins_over_the_environment(void **state)
{
    (void)state;
    expect_advertised(ARGV(REQ, "--advertise-http", "10.0.0.1:8100"),
                      ENV("CHIMERA_ADVERTISE_HTTP=10.0.0.2:8100"), "10.0.0.1:8100");
}

static void test_advertise_empty_environment_variable_means_the_default(void **state)
{
    (void)state;
    expect_advertised(ARGV(REQ, "--http", "127.0.0.1:8300"), ENV("CHIMERA_ADVERTISE_HTTP="),
                      "127.0.0.1:8300");
}

static void test_advertise_http_url_is_kept_as_host_and_port(void **state)
{
    (void)state;
    expect_advertised(ARGV(REQ, "--advertise-http", "http://127.0.0.1:8201/"), NOENV,
                      "127.0.0.1:8201");
}

static void test_advertise_https_url_keeps_its_scheme(void **state)
{
    (void)state;
    expect_advertised(ARGV(REQ, "--advertise-http", "https://chimera.example:443"), NOENV,
                      "https://chimera.example:443");
}

static void test_advertise_ipv6_in_brackets(void **state)
{
    (void)state;
    expect_advertised(ARGV(REQ, "--advertise-http", "[2001:db8::1]:8100"), NOENV,
                      "[2001:db8::1]:8100");
}

static void test_advertise_without_a_port_is_an_error(void **state)
{
    (void)state;
    assert_config_error(ARGV(REQ, "--advertise-http", "node1"), NOENV,
                        "--advertise-http: \"node1\": missing :PORT");
}

static void test_advertise_with_a_bad_port_is_an_error(void **state)
{
    (void)state;
    assert_config_error(ARGV(REQ, "--advertise-http", "node1:99999"), NOENV,
                        "port must be 1 to 65535");
}

static void test_advertise_with_another_scheme_is_an_error(void **state)
{
    (void)state;
    assert_config_error(ARGV(REQ, "--advertise-http", "tcp://node1:8100"), NOENV,
                        "--advertise-http: \"tcp://node1:8100\": the scheme must be http://");
}

static void test_advertise_with_a_path_is_an_error(void **state)
{
    (void)state;
    assert_config_error(ARGV(REQ, "--advertise-http", "http://node1:8100/api"), NOENV,
                        "no path allowed");
}

static void test_advertise_of_a_wildcard_is_an_error(void **state)
{
    (void)state;
    assert_config_error(ARGV(REQ, "--advertise-http", "0.0.0.0:8080"), NOENV,
                        "--advertise-http: \"0.0.0.0:8080\" is a wildcard");
    assert_config_error(ARGV(REQ, "--advertise-http", "http://[::]:8080"), NOENV, "is a wildcard");
}

static void test_bad_advertise_from_the_environment_names_the_variable(void **state)
{
    (void)state;
    assert_config_error(ARGV(REQ), ENV("CHIMERA_ADVERTISE_HTTP=nope"), "CHIMERA_ADVERTISE_HTTP:");
}

static void test_advertise_from_the_file(void **state)
{
    struct config c;
    char err[512];
    const char *p = conf(state, "{\"advertise_http\": \"127.0.0.1:8202\"}");
    assert_int_equal(LOAD(&c, err, ARGV(REQ, "--config", p), NOENV), CONFIG_OK);
    assert_string_equal(c.advertise_http, "127.0.0.1:8202");
}

static void test_bad_advertise_in_the_file_names_the_file_and_key(void **state)
{
    struct config c;
    char err[512];
    const char *p = conf(state, "{\"advertise_http\": \"0.0.0.0:1\"}");
    assert_int_equal(LOAD(&c, err, ARGV(REQ, "--config", p), NOENV), CONFIG_ERROR);
    assert_err_has(err, p);
    assert_err_has(err, ": advertise_http: ");
}

/* What the node's hellos carry and /federation/state shows for it. */
static void test_the_node_itself_has_the_advertised_http(void **state)
{
    (void)state;
    struct config c;
    load_published(&c);
    struct peers p;
    peers_init(&p, &c, 0);
    assert_string_equal(p.m[p.self].http, "127.0.0.1:8201");
}

int main(void)
{
#define F(name) cmocka_unit_test_setup_teardown(name, file_fixture_setup, file_fixture_teardown)
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_advertise_defaults_to_the_http_address),
        cmocka_unit_test(test_advertise_default_from_a_wildcard_http_is_flagged),
        cmocka_unit_test(test_advertise_given_is_used_and_not_flagged),
        cmocka_unit_test(test_advertise_from_the_environment),
        cmocka_unit_test(test_advertise_flag_wins_over_the_environment),
        cmocka_unit_test(test_advertise_empty_environment_variable_means_the_default),
        cmocka_unit_test(test_advertise_http_url_is_kept_as_host_and_port),
        cmocka_unit_test(test_advertise_https_url_keeps_its_scheme),
        cmocka_unit_test(test_advertise_ipv6_in_brackets),
        cmocka_unit_test(test_advertise_without_a_port_is_an_error),
        cmocka_unit_test(test_advertise_with_a_bad_port_is_an_error),
        cmocka_unit_test(test_advertise_with_another_scheme_is_an_error),
        cmocka_unit_test(test_advertise_with_a_path_is_an_error),
        cmocka_unit_test(test_advertise_of_a_wildcard_is_an_error),
        cmocka_unit_test(test_bad_advertise_from_the_environment_names_the_variable),
        cmocka_unit_test(test_the_node_itself_has_the_advertised_http),
        F(test_advertise_from_the_file),
        F(test_bad_advertise_in_the_file_names_the_file_and_key),
    };
#undef F
    return cmocka_run_group_tests(tests, NULL, NULL);
}
