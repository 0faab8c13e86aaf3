/* Integration: one chimerad per data directory. A second chimerad started
 * on a directory in use (other ports) exits 2 with one line naming the
 * directory and the pid that holds it, and leaves the running node alone:
 * its services, its boot epoch, its events. A LOCK file left by a node
 * that was killed does not block the next start. `chimeractl ledger
 * verify` on a running node's directory says the node runs and refuses
 * (exit 8). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "harness_release.h"

static void start(struct h_cluster *c)
{
    if (h_start_agreed(c, "test_datadir_lock", NULL) < 0)
        fail_msg("n1 did not come up as leader (log: %s)", c->nodes[0].log);
}

static char *read_rel(const struct h_cluster *c, const char *name)
{
    char path[H_PATH_MAX + 32];
    snprintf(path, sizeof(path), "%s/%s", c->nodes[0].data, name);
    char *text = h_read_file(path);
    if (!text)
        fail_msg("cannot read %s", path);
    return text;
}

/* Runs a second chimerad as n1 on n1's data directory, on ports of its
 * own; returns its exit code (-1: still running after the deadline, then
 * killed) and its stderr. */
static int second_chimerad(struct h_cluster *c, char **err)
{
    char listen[64], http[64];
    snprintf(listen, sizeof(listen), "tcp://127.0.0.1:%d", h_free_port());
    snprintf(http, sizeof(http), "127.0.0.1:%d", h_free_port());
    char bin[H_PATH_MAX + 16];
    snprintf(bin, sizeof(bin), "%s/chimerad", h_bin_dir());
    const char *argv[] = {bin,
                          "--id",
                          "n1",
                          "--listen",
                          listen,
                          "--http",
                          http,
                          "--data",
                          c->nodes[0].data,
                          "--cluster-key-file",
                          c->key_file,
                          "--admin-token-file",
                          c->token_file,
                          NULL};
    int code = 0;
    h_run(c, argv, 10000, &code, NULL, err);
    return code;
}

static void test_a_second_chimerad_on_a_data_directory_in_use_exits_2_naming_its_pid(void **state)
{
    struct h_cluster *c = *state;
    start(c);
    char *id = h_deploy_stable(c, 0, "demo-good.json", 60000);
    assert_non_null(id);
    pid_t svc[4];
    size_t nsvc = h_service_pids(c, 0, svc, 4);
    assert_int_equal(nsvc, 1);
    char *boot = read_rel(c, "boot");
    unsigned long long seen = h_last_event_seq(c, 0);

    char *err = NULL;
    int code = second_chimerad(c, &err);
    char want[H_PATH_MAX + 160];
    snprintf(want, sizeof(want),
             "chimerad: --data: %s is in use by another chimerad (pid %ld); stop it first or "
             "choose another --data\n",
             c->nodes[0].data, (long)c->nodes[0].pid);
    if (code != 2 || !err || strcmp(err, want) != 0)
        fail_msg("the second chimerad exited %d saying \"%s\"; wanted 2 and \"%s\"", code,
                 err ? err : "", want);

    /* The first node is untouched: same process, same boot epoch, its
     * service still the one it started, and nothing happened to it. */
    assert_true(h_node_running(c, 0));
    assert_true(h_http_up(c, 0));
    char *boot_after = read_rel(c, "boot");
    assert_string_equal(boot_after, boot);
    assert_int_equal(kill(svc[0], 0), 0);
    pid_t now[4];
    assert_int_equal(h_service_pids(c, 0, now, 4), 1);
    assert_int_equal(now[0], svc[0]);
    assert_int_equal(h_event_seq(c, 0, "node.stop", NULL, seen), 0);
    assert_int_equal(h_event_seq(c, 0, "deploy.stray_stopped", NULL, seen), 0);
    free(boot_after);
    free(boot);
    free(err);
    free(id);
    h_cluster_pass(c);
}

static void test_a_lock_file_left_by_a_killed_node_does_not_block_its_restart(void **state)
{
    struct h_cluster *c = *state;
    start(c);
    h_node_kill(c, 0);
    char *left = read_rel(c, "LOCK");
    assert_true(atol(left) > 0); /* the dead node's pid is still written there */
    start(c);
    char *lock = read_rel(c, "LOCK");
    assert_int_equal(atol(lock), (long)c->nodes[0].pid);
    free(lock);
    free(left);
    h_cluster_pass(c);
}

static void test_ledger_verify_on_a_running_node_says_it_runs_and_refuses(void **state)
{
    struct h_cluster *c = *state;
    start(c);
    int code = 0;
    char *err = NULL;
    h_ctl(c, -1, &code, NULL, &err, "ledger", "verify", "--data", c->nodes[0].data, NULL);
    char want[64];
    snprintf(want, sizeof(want), "in use by a running chimerad (pid %ld)", (long)c->nodes[0].pid);
    if (code != 8 || !err || !strstr(err, want))
        fail_msg("ledger verify on a running node exited %d saying \"%s\"; wanted 8 and \"%s\"",
                 code, err ? err : "", want);
    free(err);
    /* Stopped, the same directory verifies. */
    assert_int_equal(h_node_stop(c, 0), 0);
    h_ctl(c, -1, &code, NULL, NULL, "ledger", "verify", "--data", c->nodes[0].data, NULL);
    assert_int_equal(code, 0);
    h_cluster_pass(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_a_second_chimerad_on_a_data_directory_in_use_exits_2_naming_its_pid,
            h_setup_one_node, h_teardown_cluster),
        cmocka_unit_test_setup_teardown(
            test_a_lock_file_left_by_a_killed_node_does_not_block_its_restart, h_setup_one_node,
            h_teardown_cluster),
        cmocka_unit_test_setup_teardown(
            test_ledger_verify_on_a_running_node_says_it_runs_and_refuses, h_setup_one_node,
            h_teardown_cluster),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
