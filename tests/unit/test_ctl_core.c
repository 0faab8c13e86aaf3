/* chimeractl's pure parts: the one mapping from an outcome to an exit code,
 * HTTP statuses as outcomes, the --addr list, and "did you mean". */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "ctl/ctl.h"

static void test_each_outcome_has_its_own_common_code(void **state)
{
    (void)state;
    assert_int_equal(ctl_exit_code(CTL_FAM_COMMON, CTL_O_OK), 0);
    assert_int_equal(ctl_exit_code(CTL_FAM_COMMON, CTL_O_FAILED), 1);
    assert_int_equal(ctl_exit_code(CTL_FAM_COMMON, CTL_O_USAGE), 2);
    assert_int_equal(ctl_exit_code(CTL_FAM_COMMON, CTL_O_SERVER), 3);
    assert_int_equal(ctl_exit_code(CTL_FAM_COMMON, CTL_O_INVALID), 3);
    assert_int_equal(ctl_exit_code(CTL_FAM_COMMON, CTL_O_NOT_FOUND), 4);
    assert_int_equal(ctl_exit_code(CTL_FAM_COMMON, CTL_O_NO_ANSWER), 5);
    assert_int_equal(ctl_exit_code(CTL_FAM_COMMON, CTL_O_AUTH), 6);
    assert_int_equal(ctl_exit_code(CTL_FAM_COMMON, CTL_O_UNAVAILABLE), 7);
    assert_int_equal(ctl_exit_code(CTL_FAM_COMMON, CTL_O_CONFLICT), 8);
    assert_int_equal(ctl_exit_code(CTL_FAM_COMMON, CTL_O_TIMEOUT), 9);
}

static void test_deploy_keeps_2_for_a_request_refused_before_deploying(void **state)
{
    (void)state;
    assert_int_equal(ctl_exit_code(CTL_FAM_DEPLOY, CTL_O_INVALID), 2);  /* 400, 422 */
    assert_int_equal(ctl_exit_code(CTL_FAM_DEPLOY, CTL_O_CONFLICT), 2); /* 409 */
    assert_int_equal(ctl_exit_code(CTL_FAM_DEPLOY, CTL_O_REVERTED), 3);
    assert_int_equal(ctl_exit_code(CTL_FAM_DEPLOY, CTL_O_AUTH), 6);
    assert_int_equal(ctl_exit_code(CTL_FAM_DEPLOY, CTL_O_UNAVAILABLE), 7);
    assert_int_equal(ctl_exit_code(CTL_FAM_DEPLOY, CTL_O_TIMEOUT), 9);
}

static void test_rollback_keeps_2_when_refused(void **state)
{
    (void)state;
    assert_int_equal(ctl_exit_code(CTL_FAM_ROLLBACK, CTL_O_CONFLICT), 2);
    assert_int_equal(ctl_exit_code(CTL_FAM_ROLLBACK, CTL_O_NOT_FOUND), 2);
    assert_int_equal(ctl_exit_code(CTL_FAM_ROLLBACK, CTL_O_NO_ANSWER), 5);
}

static void test_http_statuses_become_outcomes(void **state)
{
    (void)state;
    assert_int_equal(ctl_outcome_of_status(200), CTL_O_OK);
    assert_int_equal(ctl_outcome_of_status(201), CTL_O_OK);
    assert_int_equal(ctl_outcome_of_status(400), CTL_O_INVALID);
    assert_int_equal(ctl_outcome_of_status(422), CTL_O_INVALID);
    assert_int_equal(ctl_outcome_of_status(401), CTL_O_AUTH);
    assert_int_equal(ctl_outcome_of_status(403), CTL_O_AUTH);
    assert_int_equal(ctl_outcome_of_status(404), CTL_O_NOT_FOUND);
    assert_int_equal(ctl_outcome_of_status(409), CTL_O_CONFLICT);
    assert_int_equal(ctl_outcome_of_status(503), CTL_O_UNAVAILABLE);
    assert_int_equal(ctl_outcome_of_status(500), CTL_O_SERVER);
    assert_int_equal(ctl_outcome_of_status(307), CTL_O_SERVER);
}

static void test_an_addr_list_becomes_base_urls_in_order(void **state)
{
    (void)state;
    struct ctl_endpoint ep[4];
    char err[256];
    int n = ctl_parse_endpoints("127.0.0.1:8101, [::1]:8102,https://proxy.example/chimera/", ep, 4,
                                err, sizeof err);
    assert_int_equal(n, 3);
    assert_string_equal(ep[0].base, "http://127.0.0.1:8101");
    assert_string_equal(ep[1].base, "http://[::1]:8102");
    assert_string_equal(ep[1].shown, "[::1]:8102");
    assert_string_equal(ep[2].base, "https://proxy.example:443/chimera");
    assert_int_equal(ctl_parse_endpoints(CTL_DEFAULT_ADDR, ep, 4, err, sizeof err), 4);
    assert_string_equal(ep[0].base, "http://127.0.0.1:8100");
    assert_string_equal(ep[3].base, "http://127.0.0.1:8103");
}

/* The item is refused and the message names it and says why. */
static void refused(const char *list, const char *why)
{
    char err[256] = "";
    if (ctl_parse_endpoints(list, NULL, CTL_MAX_ENDPOINTS, err, sizeof err) != -1 ||
        !strstr(err, why))
        fail_msg("'%s': want an error with \"%s\", got \"%s\"", list, why, err);
}

static void test_an_invalid_addr_is_refused_with_the_reason(void **state)
{
    (void)state;
    refused("127.0.0.1:99999", "from 1 to 65535");
    refused("127.0.0.1:0", "from 1 to 65535");
    refused("127.0.0.1:80x", "from 1 to 65535");
    refused(":8101", "empty host");
    refused("127.0.0.1:", "empty port");
    refused("127.0.0.1", "missing port");
    refused("a:1,,b:2", "empty item");
    refused("ftp://x:1", "http:// or https://");
    refused("[::1:8101", "closing ']'");
    refused("host:1/path", "full URL");
    refused("", "no address");
}

static void test_a_near_miss_names_the_command(void **state)
{
    (void)state;
    static const char *const names[] = {"status", "deploy", "deployments", "rollback", "show"};
    assert_string_equal(ctl_nearest("deplyo", names, 5), "deploy");
    assert_string_equal(ctl_nearest("statsu", names, 5), "status");
    assert_string_equal(ctl_nearest("shwo", names, 5), "show"); /* a swap is one edit */
    assert_string_equal(ctl_nearest("rollbak", names, 5), "rollback");
    assert_null(ctl_nearest("frobnicate", names, 5));
    assert_null(ctl_nearest("xy", names, 5));
}

/* The options come from the command's help page, so that a suggestion
 * never names one the help does not. */
static void test_a_near_miss_of_an_option_names_the_commands_option(void **state)
{
    (void)state;
    assert_string_equal(ctl_nearest_option("deploy", "--wiat"), "--wait");
    assert_string_equal(ctl_nearest_option("deploy", "--timeot=5m"), "--timeout");
    assert_string_equal(ctl_nearest_option("events", "--folow"), "--follow"); /* "-f, --follow" */
    assert_string_equal(ctl_nearest_option("drill run", "--verbsoe"), "--verbose");
    assert_string_equal(ctl_nearest_option("status", "--jsno"), "--json"); /* a global one */
}

static void test_an_option_of_another_command_is_not_suggested(void **state)
{
    (void)state;
    assert_null(ctl_nearest_option("deploy", "--folow"));
    assert_null(ctl_nearest_option("deploy", "-x")); /* too short to guess from */
    assert_null(ctl_nearest_option("", "--wiat"));   /* before the command: globals only */
    assert_string_equal(ctl_nearest_option("", "--adr"), "--addr");
}

/* An address in a message takes the form of the user's --addr. */
static void test_an_address_is_written_as_addr_writes_them(void **state)
{
    (void)state;
    char out[128];
    struct ctl_opts plain = {.addr = "127.0.0.1:8101,127.0.0.1:8102"};
    struct ctl_opts urls = {.addr = "http://127.0.0.1:8101"};
    assert_string_equal(ctl_addr_text(&plain, "http://127.0.0.1:8102", out, sizeof out),
                        "127.0.0.1:8102");
    assert_string_equal(ctl_addr_text(&plain, "127.0.0.1:8102", out, sizeof out), "127.0.0.1:8102");
    assert_string_equal(ctl_addr_text(&urls, "127.0.0.1:8102", out, sizeof out),
                        "http://127.0.0.1:8102");
    assert_string_equal(ctl_addr_text(&urls, "http://127.0.0.1:8102", out, sizeof out),
                        "http://127.0.0.1:8102");
    /* What cannot be written without its scheme keeps it. */
    assert_string_equal(ctl_addr_text(&plain, "https://proxy:443/chimera", out, sizeof out),
                        "https://proxy:443/chimera");
    assert_string_equal(ctl_addr_text(&urls, "-", out, sizeof out), "-");
}

/* What a node advertises (host:port) becomes a URL to request; a URL
 * stays as it is. */
static void test_a_base_url_has_a_scheme(void **state)
{
    (void)state;
    char out[128];
    assert_string_equal(ctl_base_url("127.0.0.1:8102", out, sizeof out), "http://127.0.0.1:8102");
    assert_string_equal(ctl_base_url("https://proxy:443/chimera", out, sizeof out),
                        "https://proxy:443/chimera");
}

/* status's last contact and recovery's MTTR, given as JSON ms. */
static const char *human(json_t *v)
{
    static char out[64];
    ctl_human_ms(v, out, sizeof out);
    json_decref(v);
    return out;
}

static void test_a_duration_for_people_reads_as_a_drill_file_writes_it(void **state)
{
    (void)state;
    assert_string_equal(human(json_integer(101)), "101ms");
    assert_string_equal(human(json_integer(1000)), "1s");
    assert_string_equal(human(json_integer(2685)), "2s685ms");
    assert_string_equal(human(json_integer(600000)), "10m");
    assert_string_equal(human(json_integer(3905000)), "1h5m5s");
    assert_string_equal(human(json_integer(0)), "0ms");
    assert_string_equal(human(json_real(412.4)), "412ms");
    char out[32];
    assert_string_equal(ctl_ms_text(2685, out, sizeof out), "2s685ms");
}

static void test_a_duration_never_measured_reads_never(void **state)
{
    (void)state;
    assert_string_equal(human(json_null()), "never");
    assert_string_equal(human(NULL), "never");
    assert_string_equal(human(json_integer(-1)), "never");
    assert_string_equal(human(json_string("5s")), "never");
}

/* drill run reads the watchtower's time to recover from its event. */
static void test_a_duration_in_a_nodes_message_reads_back(void **state)
{
    (void)state;
    assert_int_equal(ctl_ms_of_text("2s685ms"), 2685);
    assert_int_equal(ctl_ms_of_text("412ms, then more"), 412);
    assert_int_equal(ctl_ms_of_text("0ms"), 0);
    assert_int_equal(ctl_ms_of_text("412 ms"), 412); /* a node before */
    assert_int_equal(ctl_ms_of_text("soon"), -1);
    assert_int_equal(ctl_ms_of_text(""), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_each_outcome_has_its_own_common_code),
        cmocka_unit_test(test_deploy_keeps_2_for_a_request_refused_before_deploying),
        cmocka_unit_test(test_rollback_keeps_2_when_refused),
        cmocka_unit_test(test_http_statuses_become_outcomes),
        cmocka_unit_test(test_an_addr_list_becomes_base_urls_in_order),
        cmocka_unit_test(test_an_invalid_addr_is_refused_with_the_reason),
        cmocka_unit_test(test_a_near_miss_names_the_command),
        cmocka_unit_test(test_a_near_miss_of_an_option_names_the_commands_option),
        cmocka_unit_test(test_an_option_of_another_command_is_not_suggested),
        cmocka_unit_test(test_an_address_is_written_as_addr_writes_them),
        cmocka_unit_test(test_a_base_url_has_a_scheme),
        cmocka_unit_test(test_a_duration_for_people_reads_as_a_drill_file_writes_it),
        cmocka_unit_test(test_a_duration_never_measured_reads_never),
        cmocka_unit_test(test_a_duration_in_a_nodes_message_reads_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
