/* config_load: every validation error is CONFIG_ERROR with one line that
 * names the field (as the operator spelled it) and says how to fix it. */
#include "test_config_support.h"

static void test_missing_id_is_an_error(void **state)
{
    (void)state;
    assert_config_error(ARGV("--cluster-key-file", "/k"), NOENV, "--id: missing");
}

static void test_missing_cluster_key_file_is_an_error(void **state)
{
    (void)state;
    assert_config_error(ARGV("--id", "a"), NOENV, "--cluster-key-file: missing");
    assert_config_error(ARGV("--id", "a"), NOENV, "chimeractl keygen");
}

static void test_id_with_a_bad_character_is_an_error(void **state)
{
    (void)state;
    assert_config_error(ARGV("--id", "no/de", "--cluster-key-file", "/k"), NOENV,
                        "--id: \"no/de\" is not a valid id");
}

static void test_id_starting_with_punctuation_is_an_error(void **state)
{
    (void)state;
    assert_config_error(ARGV("--id", ".a", "--cluster-key-file", "/k"), NOENV, "--id:");
}

static void test_id_of_64_characters_is_an_error(void **state)
{
    (void)state;
    char id[65];
    memset(id, 'x', 64);
    id[64] = '\0';
    assert_config_error(ARGV("--id", id, "--cluster-key-file", "/k"), NOENV,
                        "--id: 64 bytes is too long; at most 63");
}

static void test_bad_id_from_env_names_the_env_variable(void **state)
{
    (void)state;
    assert_config_error(ARGV("--cluster-key-file", "/k"), ENV("CHIMERA_ID=a b"), "CHIMERA_ID:");
}

static void test_unknown_flag_is_an_error_that_points_to_help(void **state)
{
    (void)state;
    assert_config_error(ARGV(REQ, "--bogus", "1"), NOENV, "--bogus: unknown flag; see --help");
}

static void test_unknown_flag_suggests_the_flag_it_abbreviates(void **state)
{
    (void)state;
    assert_config_error(ARGV(REQ, "--heartbeat=5"), NOENV, "did you mean --heartbeat-ms?");
}

static void test_missing_value_at_the_end_is_an_error(void **state)
{
    (void)state;
    assert_config_error(ARGV(REQ, "--listen"), NOENV, "--listen: missing value");
}

static void test_flag_followed_by_a_flag_is_a_missing_value(void **state)
{
    (void)state;
    assert_config_error(ARGV("--id", "--cluster-key-file", "/k"), NOENV, "--id: missing value");
}

static void test_positional_argument_is_an_error(void **state)
{
    (void)state;
    assert_config_error(ARGV(REQ, "stray"), NOENV, "unexpected argument \"stray\"");
}

static void test_chaos_switch_followed_by_a_value_says_use_equals(void **state)
{
    (void)state;
    assert_config_error(ARGV(REQ, "--chaos-enabled", "false"), NOENV,
                        "--chaos-enabled: takes no separate value; use --chaos-enabled=false");
}

static void test_peers_entry_without_equals_is_an_error(void **state)
{
    (void)state;
    assert_config_error(ARGV(REQ, "--peers", "b=tcp://h:1,tcp://h:2"), NOENV,
                        "--peers: \"tcp://h:2\": missing '='; use ID=URL");
}

static void test_bad_member_id_is_an_error(void **state)
{
    (void)state;
    assert_config_error(ARGV(REQ, "--peers", "b!=tcp://h:1"), NOENV,
                        "--peers: \"b!=tcp://h:1\": bad member id \"b!\"");
}

static void test_empty_member_id_is_an_error(void **state)
{
    (void)state;
    assert_config_error(ARGV(REQ, "--peers", "=tcp://h:1"), NOENV, "bad member id");
}

static void test_duplicate_member_ids_is_an_error(void **state)
{
    (void)state;
    assert_config_error(ARGV(REQ, "--peers", "b=tcp://h:1,b=tcp://h:2"), NOENV,
                        "--peers: member id b appears twice");
}

static void test_duplicate_member_urls_is_an_error(void **state)
{
    (void)state;
    assert_config_error(ARGV(REQ, "--peers", "b=tcp://h:1,c=tcp://h:1"), NOENV,
                        "--peers: members b and c have the same URL tcp://h:1");
}

static void test_self_listen_url_clashing_with_a_peer_is_an_error(void **state)
{
    (void)state;
    assert_config_error(ARGV(REQ, "--peers", "b=tcp://127.0.0.1:7100"), NOENV,
                        "--listen: \"tcp://127.0.0.1:7100\" is also the URL of member b");
}

static void test_bad_member_url_is_an_error(void **state)
{
    (void)state;
    assert_config_error(ARGV(REQ, "--peers", "b=tcp//x:1"), NOENV,
                        "--peers: \"b=tcp//x:1\": bad URL for member b");
}

static void test_member_url_too_long_is_an_error(void **state)
{
    (void)state;
    char peers[400] = "b=tcp://";
    memset(peers + strlen(peers), 'h', 300);
    strcat(peers, ":1");
    assert_config_error(ARGV(REQ, "--peers", peers), NOENV, "--peers: URL of member b is");
}

static void test_seventeen_peers_is_an_error(void **state)
{
    (void)state;
    char peers[1024] = "";
    for (int i = 0; i < CONFIG_MAX_MEMBERS + 1; i++)
        snprintf(peers + strlen(peers), sizeof peers - strlen(peers), "%sp%d=tcp://h:%d",
                 i ? "," : "", i, 1000 + i);
    assert_config_error(ARGV(REQ, "--peers", peers), NOENV, "--peers: more than 16 members");
}

static void test_sixteen_peers_without_self_is_an_error(void **state)
{
    (void)state;
    char peers[1024] = "";
    for (int i = 0; i < CONFIG_MAX_MEMBERS; i++)
        snprintf(peers + strlen(peers), sizeof peers - strlen(peers), "%sp%d=tcp://h:%d",
                 i ? "," : "", i, 1000 + i);
    assert_config_error(ARGV(REQ, "--peers", peers), NOENV,
                        "--peers: names 16 members but not this node (a)");
}

static void test_listen_with_unknown_scheme_is_an_error(void **state)
{
    (void)state;
    assert_config_error(ARGV(REQ, "--listen", "http://h:1"), NOENV,
                        "--listen: \"http://h:1\": bad URL (scheme must be");
}

static void test_listen_without_port_is_an_error(void **state)
{
    (void)state;
    assert_config_error(ARGV(REQ, "--listen", "tcp://h"), NOENV, "--listen: \"tcp://h\": bad URL");
}

static void test_listen_without_host_is_an_error(void **state)
{
    (void)state;
    assert_config_error(ARGV(REQ, "--listen", "tcp://:7100"), NOENV, "missing host");
}

static void test_listen_port_zero_is_an_error(void **state)
{
    (void)state;
    assert_config_error(ARGV(REQ, "--listen", "tcp://h:0"), NOENV, "port must be 1 to 65535");
}

static void test_listen_port_above_65535_is_an_error(void **state)
{
    (void)state;
    assert_config_error(ARGV(REQ, "--listen", "tcp://h:65536"), NOENV, "port must be 1 to 65535");
}

static void test_listen_with_a_path_is_an_error(void **state)
{
    (void)state;
    assert_config_error(ARGV(REQ, "--listen", "tcp://h:1/x"), NOENV, "no path allowed");
}

static void test_unbracketed_ipv6_is_an_error(void **state)
{
    (void)state;
    assert_config_error(ARGV(REQ, "--listen", "tcp6://::1:7100"), NOENV, "need brackets");
}

static void test_ipc_without_path_is_an_error(void **state)
{
    (void)state;
    assert_config_error(ARGV(REQ, "--listen", "ipc://"), NOENV, "ipc:// needs a path");
}

static void test_http_without_port_is_an_error(void **state)
{
    (void)state;
    assert_config_error(ARGV(REQ, "--http", "localhost"), NOENV,
                        "--http: \"localhost\": missing :PORT; use HOST:PORT");
}

static void test_http_with_a_scheme_is_an_error(void **state)
{
    (void)state;
    assert_config_error(ARGV(REQ, "--http", "http://h:80"), NOENV, "--http: \"http://h:80\"");
}

static void test_http_port_out_of_range_is_an_error(void **state)
{
    (void)state;
    assert_config_error(ARGV(REQ, "--http", "h:99999"), NOENV, "--http: \"h:99999\": port");
}

static void test_http_host_with_a_space_is_an_error(void **state)
{
    (void)state;
    assert_config_error(ARGV(REQ, "--http", "a b:80"), NOENV, "bad character in host");
}

static void test_heartbeat_that_is_not_a_number_is_an_error(void **state)
{
    (void)state;
    assert_config_error(
        ARGV(REQ, "--heartbeat-ms", "fast"), NOENV,
        "--heartbeat-ms: must be a whole number of milliseconds between 5 and 10000");
}

static void test_heartbeat_with_a_fraction_is_an_error(void **state)
{
    (void)state;
    assert_config_error(ARGV(REQ, "--heartbeat-ms", "50.5"), NOENV, "--heartbeat-ms: must be");
}

static void test_heartbeat_below_range_is_an_error(void **state)
{
    (void)state;
    assert_config_error(ARGV(REQ, "--heartbeat-ms", "4"), NOENV, "--heartbeat-ms: must be");
}

static void test_heartbeat_above_range_is_an_error(void **state)
{
    (void)state;
    assert_config_error(ARGV(REQ, "--heartbeat-ms", "10001", "--election-timeout-ms", "60000"),
                        NOENV, "--heartbeat-ms: must be");
}

static void test_negative_number_is_an_error(void **state)
{
    (void)state;
    assert_config_error(ARGV(REQ, "--election-timeout-ms", "-5"), NOENV,
                        "--election-timeout-ms: must be");
}

static void test_huge_number_is_an_error(void **state)
{
    (void)state;
    assert_config_error(ARGV(REQ, "--dead-after-ms", "99999999999999999999999"), NOENV,
                        "--dead-after-ms: must be");
}

static void test_empty_number_is_an_error(void **state)
{
    (void)state;
    assert_config_error(ARGV(REQ, "--suspect-after-ms="), NOENV, "--suspect-after-ms: must be");
}

static void test_bad_number_from_env_names_the_env_variable(void **state)
{
    (void)state;
    assert_config_error(ARGV(REQ), ENV("CHIMERA_HEARTBEAT_MS=1e3"),
                        "CHIMERA_HEARTBEAT_MS: must be");
}

static void test_heartbeat_not_below_half_the_election_timeout_is_an_error(void **state)
{
    (void)state;
    assert_config_error(ARGV(REQ, "--heartbeat-ms", "75"), NOENV,
                        "--heartbeat-ms: 75 ms must be less than half of --election-timeout-ms "
                        "(150 ms) for a sane ratio; lower --heartbeat-ms or raise "
                        "--election-timeout-ms above 150");
}

static void test_suspect_after_not_below_dead_after_is_an_error(void **state)
{
    (void)state;
    assert_config_error(ARGV(REQ, "--suspect-after-ms", "1000"), NOENV,
                        "--suspect-after-ms: 1000 ms must be less than --dead-after-ms (1000 ms)");
}

static void test_dead_after_below_default_suspect_after_is_an_error(void **state)
{
    (void)state;
    assert_config_error(ARGV(REQ, "--dead-after-ms", "100"), NOENV,
                        "must be less than --dead-after-ms (100 ms)");
}

static void test_bad_chaos_value_is_an_error(void **state)
{
    (void)state;
    assert_config_error(ARGV(REQ), ENV("CHIMERA_CHAOS_ENABLED=maybe"),
                        "CHIMERA_CHAOS_ENABLED: must be true or false");
}

static void test_bad_log_level_is_an_error(void **state)
{
    (void)state;
    assert_config_error(ARGV(REQ, "--log-level", "verbose"), NOENV,
                        "--log-level: \"verbose\" is not a log level; use debug, info, warn or "
                        "error");
}

static void test_log_level_too_long_is_an_error(void **state)
{
    (void)state;
    assert_config_error(ARGV(REQ, "--log-level", "extraordinarily-verbose"), NOENV,
                        "--log-level: 23 bytes is too long; at most 15");
}

static void test_data_path_too_long_is_an_error(void **state)
{
    (void)state;
    char path[CONFIG_PATH_MAX + 1];
    memset(path, 'd', CONFIG_PATH_MAX);
    path[CONFIG_PATH_MAX] = '\0';
    assert_config_error(ARGV(REQ, "--data", path), NOENV, "--data: 1024 bytes is too long");
}

static void test_empty_data_path_is_an_error(void **state)
{
    (void)state;
    assert_config_error(ARGV(REQ, "--data="), NOENV, "--data: empty");
}

static void test_listen_too_long_is_an_error(void **state)
{
    (void)state;
    char url[CONFIG_URL_MAX + 16] = "tcp://";
    memset(url + 6, 'h', CONFIG_URL_MAX);
    url[CONFIG_URL_MAX + 6] = '\0';
    assert_config_error(ARGV(REQ, "--listen", url), NOENV, "--listen: 262 bytes is too long");
}

static void test_value_with_a_newline_still_gives_one_line(void **state)
{
    (void)state;
    assert_config_error(ARGV(REQ, "--listen", "tcp://h\n:1"), NOENV, "--listen: \"tcp://h?:1\"");
}

static void test_error_fits_a_small_buffer(void **state)
{
    (void)state;
    struct config c;
    char err[8];
    assert_int_equal(LOAD(&c, err, ARGV("--id"), NOENV), CONFIG_ERROR);
    assert_string_equal(err, "--id: m");
    assert_int_equal(config_load(&c, 2, (char *const[]){"x", "--id", NULL}, NULL, NULL, 0),
                     CONFIG_ERROR);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_missing_id_is_an_error),
        cmocka_unit_test(test_missing_cluster_key_file_is_an_error),
        cmocka_unit_test(test_id_with_a_bad_character_is_an_error),
        cmocka_unit_test(test_id_starting_with_punctuation_is_an_error),
        cmocka_unit_test(test_id_of_64_characters_is_an_error),
        cmocka_unit_test(test_bad_id_from_env_names_the_env_variable),
        cmocka_unit_test(test_unknown_flag_is_an_error_that_points_to_help),
        cmocka_unit_test(test_unknown_flag_suggests_the_flag_it_abbreviates),
        cmocka_unit_test(test_missing_value_at_the_end_is_an_error),
        cmocka_unit_test(test_flag_followed_by_a_flag_is_a_missing_value),
        cmocka_unit_test(test_positional_argument_is_an_error),
        cmocka_unit_test(test_chaos_switch_followed_by_a_value_says_use_equals),
        cmocka_unit_test(test_peers_entry_without_equals_is_an_error),
        cmocka_unit_test(test_bad_member_id_is_an_error),
        cmocka_unit_test(test_empty_member_id_is_an_error),
        cmocka_unit_test(test_duplicate_member_ids_is_an_error),
        cmocka_unit_test(test_duplicate_member_urls_is_an_error),
        cmocka_unit_test(test_self_listen_url_clashing_with_a_peer_is_an_error),
        cmocka_unit_test(test_bad_member_url_is_an_error),
        cmocka_unit_test(test_member_url_too_long_is_an_error),
        cmocka_unit_test(test_seventeen_peers_is_an_error),
        cmocka_unit_test(test_sixteen_peers_without_self_is_an_error),
        cmocka_unit_test(test_listen_with_unknown_scheme_is_an_error),
        cmocka_unit_test(test_listen_without_port_is_an_error),
        cmocka_unit_test(test_listen_without_host_is_an_error),
        cmocka_unit_test(test_listen_port_zero_is_an_error),
        cmocka_unit_test(test_listen_port_above_65535_is_an_error),
        cmocka_unit_test(test_listen_with_a_path_is_an_error),
        cmocka_unit_test(test_unbracketed_ipv6_is_an_error),
        cmocka_unit_test(test_ipc_without_path_is_an_error),
        cmocka_unit_test(test_http_without_port_is_an_error),
        cmocka_unit_test(test_http_with_a_scheme_is_an_error),
        cmocka_unit_test(test_http_port_out_of_range_is_an_error),
        cmocka_unit_test(test_http_host_with_a_space_is_an_error),
        cmocka_unit_test(test_heartbeat_that_is_not_a_number_is_an_error),
        cmocka_unit_test(test_heartbeat_with_a_fraction_is_an_error),
        cmocka_unit_test(test_heartbeat_below_range_is_an_error),
        cmocka_unit_test(test_heartbeat_above_range_is_an_error),
        cmocka_unit_test(test_negative_number_is_an_error),
        cmocka_unit_test(test_huge_number_is_an_error),
        cmocka_unit_test(test_empty_number_is_an_error),
        cmocka_unit_test(test_bad_number_from_env_names_the_env_variable),
        cmocka_unit_test(test_heartbeat_not_below_half_the_election_timeout_is_an_error),
        cmocka_unit_test(test_suspect_after_not_below_dead_after_is_an_error),
        cmocka_unit_test(test_dead_after_below_default_suspect_after_is_an_error),
        cmocka_unit_test(test_bad_chaos_value_is_an_error),
        cmocka_unit_test(test_bad_log_level_is_an_error),
        cmocka_unit_test(test_log_level_too_long_is_an_error),
        cmocka_unit_test(test_data_path_too_long_is_an_error),
        cmocka_unit_test(test_empty_data_path_is_an_error),
        cmocka_unit_test(test_listen_too_long_is_an_error),
        cmocka_unit_test(test_value_with_a_newline_still_gives_one_line),
        cmocka_unit_test(test_error_fits_a_small_buffer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
