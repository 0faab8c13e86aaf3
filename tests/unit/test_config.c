/* config_load: flags, environment, defaults, membership, --help.
 * Validation errors are in test_config_validate.c, the JSON file in
 * test_config_file.c, config_check_files in test_config_check.c. */
#include "test_config_support.h"

static void test_required_flags_alone_give_the_defaults(void **state)
{
    (void)state;
    struct config c;
    char err[256];
    assert_int_equal(LOAD(&c, err, ARGV(REQ), NOENV), CONFIG_OK);
    assert_string_equal(c.id, "a");
    assert_string_equal(c.cluster_key_file, "/k");
    assert_string_equal(c.listen, "tcp://127.0.0.1:7100");
    assert_string_equal(c.http, "127.0.0.1:8100");
    assert_string_equal(c.data, "./data/a");
    assert_string_equal(c.admin_token_file, "");
    assert_string_equal(c.config_file, "");
    assert_int_equal(c.heartbeat_ms, 50);
    assert_int_equal(c.election_timeout_ms, 150);
    assert_int_equal(c.suspect_after_ms, 150);
    assert_int_equal(c.dead_after_ms, 1000);
    assert_false(c.chaos.enabled);
    assert_string_equal(c.log_level, "info");
}

static void test_every_flag_is_applied(void **state)
{
    (void)state;
    struct config c;
    char err[256];
    assert_int_equal(
        LOAD(&c, err,
             ARGV("--id", "n1", "--listen", "tcp://0.0.0.0:7200", "--http", "0.0.0.0:8200",
                  "--peers", "n1=tcp://node1:7200", "--data", "/var/x", "--cluster-key-file", "/k",
                  "--admin-token-file", "/t", "--heartbeat-ms", "20", "--election-timeout-ms",
                  "300", "--suspect-after-ms", "100", "--dead-after-ms", "2000", "--chaos-enabled",
                  "--log-level", "debug"),
             NOENV),
        CONFIG_OK);
    assert_string_equal(c.listen, "tcp://0.0.0.0:7200");
    assert_string_equal(c.http, "0.0.0.0:8200");
    assert_string_equal(c.data, "/var/x");
    assert_string_equal(c.admin_token_file, "/t");
    assert_int_equal(c.heartbeat_ms, 20);
    assert_int_equal(c.election_timeout_ms, 300);
    assert_int_equal(c.suspect_after_ms, 100);
    assert_int_equal(c.dead_after_ms, 2000);
    assert_true(c.chaos.enabled);
    assert_string_equal(c.log_level, "debug");
}

static void test_every_env_variable_is_applied(void **state)
{
    (void)state;
    struct config c;
    char err[256];
    assert_int_equal(
        LOAD(&c, err, NOARGS,
             ENV("CHIMERA_ID=e1", "CHIMERA_LISTEN=ipc:///tmp/e1", "CHIMERA_HTTP=localhost:9000",
                 "CHIMERA_PEERS=e2=tcp://e2:7100", "CHIMERA_DATA=/d", "CHIMERA_CLUSTER_KEY_FILE=/k",
                 "CHIMERA_ADMIN_TOKEN_FILE=/t", "CHIMERA_HEARTBEAT_MS=10",
                 "CHIMERA_ELECTION_TIMEOUT_MS=100", "CHIMERA_SUSPECT_AFTER_MS=40",
                 "CHIMERA_DEAD_AFTER_MS=500", "CHIMERA_CHAOS_ENABLED=yes",
                 "CHIMERA_LOG_LEVEL=warn")),
        CONFIG_OK);
    assert_string_equal(c.id, "e1");
    assert_string_equal(c.listen, "ipc:///tmp/e1");
    assert_string_equal(c.http, "localhost:9000");
    assert_string_equal(c.data, "/d");
    assert_string_equal(c.cluster_key_file, "/k");
    assert_string_equal(c.admin_token_file, "/t");
    assert_int_equal(c.heartbeat_ms, 10);
    assert_int_equal(c.election_timeout_ms, 100);
    assert_int_equal(c.suspect_after_ms, 40);
    assert_int_equal(c.dead_after_ms, 500);
    assert_true(c.chaos.enabled);
    assert_string_equal(c.log_level, "warn");
    assert_int_equal(c.nmembers, 2);
}

static void test_flag_equals_value_form(void **state)
{
    (void)state;
    struct config c;
    char err[256];
    assert_int_equal(LOAD(&c, err,
                          ARGV("--id=b", "--cluster-key-file=/k", "--heartbeat-ms=30",
                               "--peers=a=tcp://h:1,b=tcp://h:2"),
                          NOENV),
                     CONFIG_OK);
    assert_string_equal(c.id, "b");
    assert_int_equal(c.heartbeat_ms, 30);
    assert_int_equal(c.nmembers, 2);
    assert_string_equal(c.members[0].url, "tcp://h:1");
}

static void test_last_repeated_flag_wins(void **state)
{
    (void)state;
    struct config c;
    char err[256];
    assert_int_equal(LOAD(&c, err, ARGV(REQ, "--log-level", "warn", "--log-level=error"), NOENV),
                     CONFIG_OK);
    assert_string_equal(c.log_level, "error");
}

static void test_flag_wins_over_env(void **state)
{
    (void)state;
    struct config c;
    char err[256];
    assert_int_equal(
        LOAD(&c, err, ARGV(REQ, "--heartbeat-ms", "20"), ENV("CHIMERA_HEARTBEAT_MS=30")),
        CONFIG_OK);
    assert_int_equal(c.heartbeat_ms, 20);
}

static void test_env_wins_over_default(void **state)
{
    (void)state;
    struct config c;
    char err[256];
    assert_int_equal(LOAD(&c, err, ARGV(REQ), ENV("PATH=/bin", "CHIMERA_HTTP=0.0.0.0:9")),
                     CONFIG_OK);
    assert_string_equal(c.http, "0.0.0.0:9");
}

static void test_empty_env_variable_counts_as_unset(void **state)
{
    (void)state;
    struct config c;
    char err[256];
    assert_int_equal(LOAD(&c, err, ARGV(REQ), ENV("CHIMERA_LISTEN=", "CHIMERA_HEARTBEAT_MS=")),
                     CONFIG_OK);
    assert_string_equal(c.listen, "tcp://127.0.0.1:7100");
    assert_int_equal(c.heartbeat_ms, 50);
}

static void test_env_with_similar_prefix_is_ignored(void **state)
{
    (void)state;
    struct config c;
    char err[256];
    assert_int_equal(LOAD(&c, err, ARGV(REQ), ENV("CHIMERA_IDX=zz", "CHIMERA_ID", "OTHER=1")),
                     CONFIG_OK);
    assert_string_equal(c.id, "a");
}

static void test_required_values_can_come_from_env(void **state)
{
    (void)state;
    struct config c;
    char err[256];
    assert_int_equal(LOAD(&c, err, ARGV("--log-level", "info"),
                          ENV("CHIMERA_ID=z", "CHIMERA_CLUSTER_KEY_FILE=/k")),
                     CONFIG_OK);
    assert_string_equal(c.id, "z");
}

static void test_chaos_flag_alone_enables_chaos(void **state)
{
    (void)state;
    struct config c;
    char err[256];
    assert_int_equal(LOAD(&c, err, ARGV(REQ, "--chaos-enabled"), NOENV), CONFIG_OK);
    assert_true(c.chaos.enabled);
}

static void test_chaos_flag_with_false_disables_chaos_set_by_env(void **state)
{
    (void)state;
    struct config c;
    char err[256];
    assert_int_equal(
        LOAD(&c, err, ARGV(REQ, "--chaos-enabled=false"), ENV("CHIMERA_CHAOS_ENABLED=1")),
        CONFIG_OK);
    assert_false(c.chaos.enabled);
}

static void test_chaos_env_accepts_true_false_1_0_yes_no(void **state)
{
    (void)state;
    static const struct {
        const char *env;
        bool want;
    } cases[] = {
        {"CHIMERA_CHAOS_ENABLED=true", true}, {"CHIMERA_CHAOS_ENABLED=false", false},
        {"CHIMERA_CHAOS_ENABLED=1", true},    {"CHIMERA_CHAOS_ENABLED=0", false},
        {"CHIMERA_CHAOS_ENABLED=yes", true},  {"CHIMERA_CHAOS_ENABLED=no", false},
        {"CHIMERA_CHAOS_ENABLED=TRUE", true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct config c;
        char err[256];
        assert_int_equal(LOAD(&c, err, ARGV(REQ), ENV(cases[i].env)), CONFIG_OK);
        assert_int_equal(c.chaos.enabled, cases[i].want);
    }
}

static void test_dead_after_default_is_at_least_twice_the_election_timeout(void **state)
{
    (void)state;
    struct config c;
    char err[256];
    assert_int_equal(LOAD(&c, err, ARGV(REQ, "--election-timeout-ms", "800"), NOENV), CONFIG_OK);
    assert_int_equal(c.dead_after_ms, 1600);
}

static void test_suspect_after_default_is_three_heartbeats(void **state)
{
    (void)state;
    struct config c;
    char err[256];
    assert_int_equal(LOAD(&c, err, ARGV(REQ, "--heartbeat-ms", "70"), NOENV), CONFIG_OK);
    assert_int_equal(c.suspect_after_ms, 210);
}

static void test_empty_peers_is_a_federation_of_one(void **state)
{
    (void)state;
    struct config c;
    char err[256];
    assert_int_equal(LOAD(&c, err, ARGV(REQ, "--peers", ""), NOENV), CONFIG_OK);
    assert_int_equal(c.nmembers, 1);
    assert_string_equal(c.members[0].id, "a");
    assert_string_equal(c.members[0].url, "tcp://127.0.0.1:7100");
}

static void test_self_appended_when_absent_from_peers(void **state)
{
    (void)state;
    struct config c;
    char err[256];
    assert_int_equal(LOAD(&c, err,
                          ARGV(REQ, "--listen", "tcp://10.0.0.1:7100", "--peers",
                               "b=tcp://10.0.0.2:7100,c=tcp://10.0.0.3:7100"),
                          NOENV),
                     CONFIG_OK);
    assert_int_equal(c.nmembers, 3);
    assert_string_equal(c.members[0].id, "b");
    assert_string_equal(c.members[1].id, "c");
    assert_string_equal(c.members[2].id, "a");
    assert_string_equal(c.members[2].url, "tcp://10.0.0.1:7100");
}

static void test_self_url_kept_when_present_in_peers(void **state)
{
    (void)state;
    struct config c;
    char err[256];
    assert_int_equal(LOAD(&c, err,
                          ARGV(REQ, "--listen", "tcp://0.0.0.0:7100", "--peers",
                               "a=tcp://node1:7100,b=tcp://node2:7100"),
                          NOENV),
                     CONFIG_OK);
    assert_int_equal(c.nmembers, 2);
    assert_string_equal(c.members[0].url, "tcp://node1:7100");
    assert_string_equal(c.listen, "tcp://0.0.0.0:7100");
}

static void test_peers_tolerate_spaces_and_a_trailing_comma(void **state)
{
    (void)state;
    struct config c;
    char err[256];
    assert_int_equal(LOAD(&c, err, ARGV(REQ, "--peers", " b = tcp://h:2 , c=tcp://h:3 ,"), NOENV),
                     CONFIG_OK);
    assert_int_equal(c.nmembers, 3);
    assert_string_equal(c.members[0].id, "b");
    assert_string_equal(c.members[0].url, "tcp://h:2");
    assert_string_equal(c.members[1].url, "tcp://h:3");
}

static void test_sixteen_members_including_self_are_accepted(void **state)
{
    (void)state;
    char peers[1024] = "";
    for (int i = 0; i < CONFIG_MAX_MEMBERS - 1; i++)
        snprintf(peers + strlen(peers), sizeof peers - strlen(peers), "%sp%d=tcp://h:%d",
                 i ? "," : "", i, 1000 + i);
    struct config c;
    char err[256];
    assert_int_equal(LOAD(&c, err, ARGV(REQ, "--peers", peers), NOENV), CONFIG_OK);
    assert_int_equal(c.nmembers, CONFIG_MAX_MEMBERS);
}

static void test_urls_accept_tcp_tcp4_tcp6_ipc_and_ipv6(void **state)
{
    (void)state;
    static const char *const ok[] = {"tcp://h:1",       "tcp4://1.2.3.4:65535",
                                     "tcp6://[::1]:80", "tcp://[fe80::1]:7100",
                                     "ipc:///tmp/sock", "tcp://my-host.example_1:7"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        struct config c;
        char err[256];
        if (LOAD(&c, err, ARGV(REQ, "--listen", ok[i]), NOENV) != CONFIG_OK) {
            print_error("%s rejected: %s\n", ok[i], err);
            fail();
        }
    }
}

static void test_http_accepts_bracketed_ipv6(void **state)
{
    (void)state;
    struct config c;
    char err[256];
    assert_int_equal(LOAD(&c, err, ARGV(REQ, "--http", "[::]:8100"), NOENV), CONFIG_OK);
    assert_string_equal(c.http, "[::]:8100");
}

static void test_id_of_63_characters_is_accepted(void **state)
{
    (void)state;
    char id[64];
    memset(id, 'x', 63);
    id[63] = '\0';
    struct config c;
    char err[256];
    assert_int_equal(LOAD(&c, err, ARGV("--id", id, "--cluster-key-file", "/k"), NOENV), CONFIG_OK);
    assert_string_equal(c.id, id);
}

static void test_null_envp_means_no_environment(void **state)
{
    (void)state;
    struct config c;
    char err[256];
    assert_int_equal(LOAD(&c, err, ARGV(REQ), NOENV), CONFIG_OK);
}

static void test_long_help_flag_returns_help(void **state)
{
    (void)state;
    struct config c;
    char err[256];
    assert_int_equal(LOAD(&c, err, ARGV("--help"), NOENV), CONFIG_HELP);
}

static void test_short_help_flag_returns_help(void **state)
{
    (void)state;
    struct config c;
    char err[256];
    assert_int_equal(LOAD(&c, err, ARGV("-h"), NOENV), CONFIG_HELP);
}

static void test_help_wins_over_bad_flags(void **state)
{
    (void)state;
    struct config c;
    char err[256];
    assert_int_equal(LOAD(&c, err, ARGV("--bogus", "--heartbeat-ms", "x", "--help"), NOENV),
                     CONFIG_HELP);
}

static void test_members_are_numbered_peers_first_then_an_unlisted_self(void **state)
{
    (void)state;
    struct config c;
    char err[256];
    assert_int_equal(LOAD(&c, err, ARGV(REQ, "--peers", "b=tcp://h:2"), NOENV), CONFIG_OK);
    assert_int_equal(c.nmembers, 2);
    assert_string_equal(c.members[0].id, "b");
    assert_string_equal(c.members[1].id, "a");
}

static void test_usage_lists_every_flag_its_env_variable_and_default(void **state)
{
    (void)state;
    static const char *const want[] = {
        "--id",
        "CHIMERA_ID",
        "--listen",
        "CHIMERA_LISTEN",
        "tcp://127.0.0.1:7100",
        "--http",
        "CHIMERA_HTTP",
        "127.0.0.1:8100",
        "--peers",
        "CHIMERA_PEERS",
        "--data",
        "CHIMERA_DATA",
        "./data/ID",
        "--cluster-key-file",
        "CHIMERA_CLUSTER_KEY_FILE",
        "--admin-token-file",
        "CHIMERA_ADMIN_TOKEN_FILE",
        "--heartbeat-ms",
        "CHIMERA_HEARTBEAT_MS",
        "default 50",
        "--election-timeout-ms",
        "CHIMERA_ELECTION_TIMEOUT_MS",
        "default 150",
        "--suspect-after-ms",
        "CHIMERA_SUSPECT_AFTER_MS",
        "--dead-after-ms",
        "CHIMERA_DEAD_AFTER_MS",
        "default 1000",
        "--chaos-enabled",
        "CHIMERA_CHAOS_ENABLED",
        "--log-level",
        "CHIMERA_LOG_LEVEL",
        "default info",
        "--config",
        "CHIMERA_CONFIG",
        "--help",
    };
    const char *u = config_usage();
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        assert_err_has(u, want[i]);
}

/* ---- the read token (viewer) ------------------------------------------- */

static void test_read_token_is_off_by_default(void **state)
{
    (void)state;
    struct config c;
    char err[512];
    assert_int_equal(LOAD(&c, err, ARGV(REQ), NOENV), CONFIG_OK);
    assert_string_equal(c.read_token_file, "");
    assert_string_equal(c.read_token, "");
}

static void test_read_token_file_flag_sets_the_path(void **state)
{
    (void)state;
    struct config c;
    char err[512];
    assert_int_equal(LOAD(&c, err, ARGV(REQ, "--read-token-file", "/r"), NOENV), CONFIG_OK);
    assert_string_equal(c.read_token_file, "/r");
}

static void test_read_token_file_env_sets_the_path(void **state)
{
    (void)state;
    struct config c;
    char err[512];
    assert_int_equal(LOAD(&c, err, ARGV(REQ), ENV("CHIMERA_HTTP_READ_TOKEN_FILE=/r")), CONFIG_OK);
    assert_string_equal(c.read_token_file, "/r");
}

static void test_chimera_http_read_token_names_the_file_too(void **state)
{
    (void)state;
    struct config c;
    char err[512];
    assert_int_equal(LOAD(&c, err, ARGV(REQ), ENV("CHIMERA_HTTP_READ_TOKEN=/r")), CONFIG_OK);
    assert_string_equal(c.read_token_file, "/r");
    assert_string_equal(c.read_token, ""); /* a path, never the token */
}

static void test_both_read_token_variables_naming_one_file_are_accepted(void **state)
{
    (void)state;
    struct config c;
    char err[512];
    assert_int_equal(LOAD(&c, err, ARGV(REQ),
                          ENV("CHIMERA_HTTP_READ_TOKEN=/r", "CHIMERA_HTTP_READ_TOKEN_FILE=/r")),
                     CONFIG_OK);
    assert_string_equal(c.read_token_file, "/r");
}

static void test_read_token_variables_naming_two_files_are_an_error(void **state)
{
    (void)state;
    assert_config_error(ARGV(REQ),
                        ENV("CHIMERA_HTTP_READ_TOKEN_FILE=/a", "CHIMERA_HTTP_READ_TOKEN=/b"),
                        "CHIMERA_HTTP_READ_TOKEN_FILE: and CHIMERA_HTTP_READ_TOKEN name different "
                        "files; set only one of them");
    assert_config_error(ARGV(REQ),
                        ENV("CHIMERA_HTTP_READ_TOKEN=/b", "CHIMERA_HTTP_READ_TOKEN_FILE=/a"),
                        "name different files");
}

static void test_read_token_file_flag_wins_over_the_environment(void **state)
{
    (void)state;
    struct config c;
    char err[512];
    assert_int_equal(
        LOAD(&c, err, ARGV(REQ, "--read-token-file=/f"), ENV("CHIMERA_HTTP_READ_TOKEN=/e")),
        CONFIG_OK);
    assert_string_equal(c.read_token_file, "/f");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_required_flags_alone_give_the_defaults),
        cmocka_unit_test(test_every_flag_is_applied),
        cmocka_unit_test(test_every_env_variable_is_applied),
        cmocka_unit_test(test_flag_equals_value_form),
        cmocka_unit_test(test_last_repeated_flag_wins),
        cmocka_unit_test(test_flag_wins_over_env),
        cmocka_unit_test(test_env_wins_over_default),
        cmocka_unit_test(test_empty_env_variable_counts_as_unset),
        cmocka_unit_test(test_env_with_similar_prefix_is_ignored),
        cmocka_unit_test(test_required_values_can_come_from_env),
        cmocka_unit_test(test_chaos_flag_alone_enables_chaos),
        cmocka_unit_test(test_chaos_flag_with_false_disables_chaos_set_by_env),
        cmocka_unit_test(test_chaos_env_accepts_true_false_1_0_yes_no),
        cmocka_unit_test(test_dead_after_default_is_at_least_twice_the_election_timeout),
        cmocka_unit_test(test_suspect_after_default_is_three_heartbeats),
        cmocka_unit_test(test_empty_peers_is_a_federation_of_one),
        cmocka_unit_test(test_self_appended_when_absent_from_peers),
        cmocka_unit_test(test_self_url_kept_when_present_in_peers),
        cmocka_unit_test(test_peers_tolerate_spaces_and_a_trailing_comma),
        cmocka_unit_test(test_sixteen_members_including_self_are_accepted),
        cmocka_unit_test(test_urls_accept_tcp_tcp4_tcp6_ipc_and_ipv6),
        cmocka_unit_test(test_http_accepts_bracketed_ipv6),
        cmocka_unit_test(test_id_of_63_characters_is_accepted),
        cmocka_unit_test(test_null_envp_means_no_environment),
        cmocka_unit_test(test_long_help_flag_returns_help),
        cmocka_unit_test(test_short_help_flag_returns_help),
        cmocka_unit_test(test_help_wins_over_bad_flags),
        cmocka_unit_test(test_members_are_numbered_peers_first_then_an_unlisted_self),
        cmocka_unit_test(test_usage_lists_every_flag_its_env_variable_and_default),
        cmocka_unit_test(test_read_token_is_off_by_default),
        cmocka_unit_test(test_read_token_file_flag_sets_the_path),
        cmocka_unit_test(test_read_token_file_env_sets_the_path),
        cmocka_unit_test(test_chimera_http_read_token_names_the_file_too),
        cmocka_unit_test(test_both_read_token_variables_naming_one_file_are_accepted),
        cmocka_unit_test(test_read_token_variables_naming_two_files_are_an_error),
        cmocka_unit_test(test_read_token_file_flag_wins_over_the_environment),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
