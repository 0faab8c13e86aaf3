/* Integration: chimeractl's exit codes (README "Exit codes"), each one
 * produced by real chimerad processes: a 3-node federation that agrees on a
 * leader, and a lone member of another one that knows no leader (read-only).
 * 8 (conflict) has no common-family command that can meet a 409 today;
 * deploy and rollback keep their documented 2 for one (test_ctl_cli). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "ctl_support.h"

static struct h_cluster *fed;  /* three nodes with a leader */
static struct h_cluster *lone; /* n1 of three, alone: read-only */
static int leader;
static char wrong_token[H_PATH_MAX], never_healthy[H_PATH_MAX];

static int group_setup(void **state)
{
    (void)state;
    /* chimera-demo is built beside chimerad; the nodes find it on PATH. */
    static char path[8192];
    snprintf(path, sizeof(path), "%s:%s", h_bin_dir(), getenv("PATH") ? getenv("PATH") : "");
    setenv("PATH", path, 1);
    fed = h_cluster_create(3);
    lone = h_cluster_create(3);
    if (!fed || !lone)
        return -1;
    leader = h_start_agreed(fed, "test_ctl_exit", NULL);
    if (leader < 0 || h_node_start(lone, 0) != 0 || !h_wait_http_up(lone, 0, h_timeout_ms()))
        return -1;
    snprintf(wrong_token, sizeof wrong_token, "%s/wrong.token", fed->dir);
    write_file(wrong_token, "not-the-admin-token\n");
    /* Its health check never passes and its deadlines are far away: the
     * deployment stays "deploying" for as long as any test waits. */
    snprintf(never_healthy, sizeof never_healthy, "%s/never-healthy.json", fed->dir);
    write_file(never_healthy,
               "{\"name\":\"demo\",\"version\":\"9.9.9\",\"services\":[{\"name\":\"web\","
               "\"command\":\"chimera-demo\",\"args\":[\"--port\",\"${PORT}\","
               "\"--fail-health-after\",\"1ms\"],\"port\":\"auto\",\"health\":{\"url\":"
               "\"http://127.0.0.1:${PORT}/health\",\"interval\":\"200ms\",\"timeout\":"
               "\"200ms\"}}],\"rollout\":{\"max_parallel\":1,\"healthy_deadline\":\"1h\","
               "\"progress_deadline\":\"1h\",\"auto_revert\":false}}\n");
    return 0;
}

/* "127.0.0.1:PORT" of node i of c. */
static const char *addr_of(const struct h_cluster *c, int i, char *buf, size_t len)
{
    snprintf(buf, len, "%s:%d", c->nodes[i].http_host, c->nodes[i].http_port);
    return buf;
}

/* ---- one test per code ------------------------------------------------- */

static void test_exit_0_when_the_command_succeeds(void **state)
{
    (void)state;
    struct run r = CTL(fed, leader, "status");
    EXPECT(r.code == 0, r);
    run_free(&r);
    r = CTL(fed, (leader + 1) % 3, "ledger", "head");
    EXPECT(r.code == 0, r);
    run_free(&r);
}

static void test_exit_1_when_the_command_fails_otherwise(void **state)
{
    (void)state;
    char key[H_PATH_MAX];
    snprintf(key, sizeof key, "%s/exists.key", fed->dir);
    write_file(key, "x\n");
    struct run r = CTL(fed, -1, "keygen", "--out", key);
    EXPECT(r.code == 1 && strstr(r.err, "already exists"), r);
    run_free(&r);
}

static void test_exit_2_for_a_usage_error(void **state)
{
    (void)state;
    struct run r = CTL(fed, leader, "status", "--bogus");
    EXPECT(r.code == 2, r);
    run_free(&r);
    r = CTL(fed, -1, "statsu");
    EXPECT(r.code == 2 && strstr(r.err, "did you mean 'status'"), r);
    run_free(&r);
}

static void test_an_invalid_addr_is_a_usage_error_that_says_what_is_wrong(void **state)
{
    (void)state;
    struct run r = CTL(fed, -1, "--addr", "127.0.0.1:99999", "status");
    EXPECT(r.code == 2 && strstr(r.err, "'127.0.0.1:99999'") && strstr(r.err, "port") &&
               !strstr(r.err, "is chimerad running"),
           r);
    run_free(&r);
    r = CTL(fed, -1, "--addr", ":8101", "status");
    EXPECT(r.code == 2 && strstr(r.err, "empty host"), r);
    run_free(&r);
    r = CTL(fed, -1, "--addr", "127.0.0.1", "events");
    EXPECT(r.code == 2 && strstr(r.err, "missing port"), r);
    run_free(&r);
    /* The same rules for the environment, which the message names. */
    const char *argv[] = {"/usr/bin/env", "CHIMERA_ADDR=127.0.0.1:8101,nohost:x", NULL, "status",
                          NULL};
    char ctl[H_PATH_MAX];
    snprintf(ctl, sizeof ctl, "%s/chimeractl", h_bin_dir());
    argv[2] = ctl;
    assert_true(h_run(fed, argv, h_timeout_ms(), &r.code, &r.out, &r.err));
    EXPECT(r.code == 2 && strstr(r.err, "CHIMERA_ADDR") && strstr(r.err, "'nohost:x'"), r);
    run_free(&r);
}

static void test_exit_3_when_the_node_refuses_the_request(void **state)
{
    (void)state;
    struct run r = CTL(fed, leader, "--token-file", fed->token_file, "ledger", "note", "");
    EXPECT(r.code == 3 && strstr(r.err, "notes[0]") && strstr(r.err, "HTTP 400"), r);
    run_free(&r);
}

static void test_exit_4_when_there_is_no_such_thing(void **state)
{
    (void)state;
    struct run r = CTL(fed, leader, "deployment", "d-nosuch");
    EXPECT(r.code == 4 && strstr(r.err, "no deployment d-nosuch"), r);
    run_free(&r);
    r = CTL(fed, leader, "ledger", "show", "99999999");
    EXPECT(r.code == 4 && strstr(r.err, "no entry at index 99999999"), r);
    run_free(&r);
}

/* The NNG port is the usual slip (7101 beside 8101): it answers, in no
 * HTTP. Said as such, not as curl's "Received HTTP/0.9". */
static void test_a_nodes_nng_port_as_addr_says_it_is_not_http(void **state)
{
    (void)state;
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", fed->nodes[leader].listen_port);
    struct run r = CTL(fed, -1, "--addr", addr, "status");
    EXPECT(r.code == 5 && strstr(r.err, "no HTTP there (a node's NNG port?"), r);
    EXPECT(!strstr(r.err, "HTTP/0.9"), r);
    run_free(&r);
}

static void test_exit_5_when_no_endpoint_answers(void **state)
{
    (void)state;
    int p1 = h_free_port(), p2 = h_free_port();
    assert_true(p1 > 0 && p2 > 0);
    char list[64];
    snprintf(list, sizeof list, "127.0.0.1:%d,127.0.0.1:%d", p1, p2);
    struct run r = CTL(fed, -1, "--addr", list, "status");
    char a1[32], a2[32];
    snprintf(a1, sizeof a1, "127.0.0.1:%d: Connection refused", p1);
    snprintf(a2, sizeof a2, "127.0.0.1:%d: Connection refused", p2);
    EXPECT(r.code == 5 && strstr(r.err, a1) && strstr(r.err, a2), r);
    EXPECT(strcmp(r.out, "") == 0, r);
    run_free(&r);
    r = CTL(fed, -1, "--addr", list, "--token-file", fed->token_file, "ledger", "note", "x");
    EXPECT(r.code == 5, r);
    run_free(&r);
}

static void test_exit_6_when_the_token_is_refused(void **state)
{
    (void)state;
    struct run r = CTL(fed, leader, "--token-file", wrong_token, "ledger", "note", "hello");
    EXPECT(r.code == 6 && strstr(r.err, "wrong admin token") && strstr(r.err, "HTTP 403"), r);
    run_free(&r);
    r = CTL(fed, leader, "--token-file", wrong_token, "rollback");
    EXPECT(r.code == 6, r);
    run_free(&r);
}

static void test_exit_7_when_the_node_is_read_only(void **state)
{
    (void)state;
    struct run r = CTL(lone, 0, "status");
    EXPECT(r.code == 7 && strstr(r.out, "read_only=true") && strstr(r.err, "read-only"), r);
    run_free(&r);
    r = CTL(lone, 0, "status", "--json");
    EXPECT(r.code == 7, r);
    json_t *j = json_loads(r.out, 0, NULL);
    EXPECT(json_is_true(json_object_get(j, "read_only")), r);
    json_decref(j);
    run_free(&r);
    r = CTL(lone, 0, "--token-file", lone->token_file, "ledger", "note", "hello");
    EXPECT(r.code == 7 && strstr(r.err, "read-only"), r);
    run_free(&r);
    r = CTL(lone, 0, "--token-file", lone->token_file, "deploy", never_healthy);
    EXPECT(r.code == 7, r);
    run_free(&r);
}

static void test_a_dead_endpoint_is_skipped_for_the_next(void **state)
{
    (void)state;
    char list[160], live[64];
    snprintf(list, sizeof list, "127.0.0.1:%d,%s", h_free_port(), addr_of(fed, leader, live, 64));
    struct run r = CTL(fed, -1, "--addr", list, "status");
    EXPECT(r.code == 0 && strstr(r.out, "federation: leader="), r);
    run_free(&r);
}

static void test_an_error_answer_ends_the_search_for_an_endpoint(void **state)
{
    (void)state;
    /* The read-only node answers 503: that is an answer, so the live
     * leader after it is not tried. */
    char list[160], ro[64], live[64];
    snprintf(list, sizeof list, "%s,%s", addr_of(lone, 0, ro, 64), addr_of(fed, leader, live, 64));
    struct run r = CTL(fed, -1, "--addr", list, "--token-file", lone->token_file, "ledger", "note",
                       "must not reach the second endpoint");
    EXPECT(r.code == 7, r);
    run_free(&r);
}

static void test_exit_9_when_a_wait_times_out(void **state)
{
    (void)state;
    struct run r = CTL(fed, leader, "--token-file", fed->token_file, "deploy", never_healthy,
                       "--wait", "--timeout", "1s");
    EXPECT(r.code == 9 && strstr(r.err, "timed out"), r);
    const char *at = strstr(r.out, "deployment d-");
    EXPECT(at, r);
    char id[64];
    assert_int_equal(sscanf(at, "deployment %63s", id), 1);
    run_free(&r);
    r = CTL(fed, leader, "deployment", id, "--watch", "--timeout", "1s");
    EXPECT(r.code == 9 && strstr(r.err, "timed out"), r);
    run_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exit_0_when_the_command_succeeds),
        cmocka_unit_test(test_exit_1_when_the_command_fails_otherwise),
        cmocka_unit_test(test_exit_2_for_a_usage_error),
        cmocka_unit_test(test_an_invalid_addr_is_a_usage_error_that_says_what_is_wrong),
        cmocka_unit_test(test_exit_3_when_the_node_refuses_the_request),
        cmocka_unit_test(test_exit_4_when_there_is_no_such_thing),
        cmocka_unit_test(test_exit_5_when_no_endpoint_answers),
        cmocka_unit_test(test_a_nodes_nng_port_as_addr_says_it_is_not_http),
        cmocka_unit_test(test_exit_6_when_the_token_is_refused),
        cmocka_unit_test(test_exit_7_when_the_node_is_read_only),
        cmocka_unit_test(test_a_dead_endpoint_is_skipped_for_the_next),
        cmocka_unit_test(test_an_error_answer_ends_the_search_for_an_endpoint),
        /* Last: it leaves a deployment in progress. */
        cmocka_unit_test(test_exit_9_when_a_wait_times_out),
    };
    int failed = cmocka_run_group_tests(tests, group_setup, NULL);
    h_group_end(lone, failed);
    return h_group_end(fed, failed);
}
