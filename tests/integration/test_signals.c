/* Integration: every signal that ends chimerad leaves no service behind.
 * SIGHUP and SIGQUIT stop the node as SIGTERM does: its services stopped,
 * node.stop logged with the signal's name, exit status 0. A node killed
 * with SIGKILL (it cannot catch that) leaves its services running; its
 * next start finds them by their mark and stops them (and is not refused:
 * the services do not hold the node's data directory lock). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "harness_release.h"

/* n1 up, leader, running demo-good; its service's pid. */
static pid_t start_with_service(struct h_cluster *c)
{
    if (h_start_agreed(c, "test_signals", NULL) < 0)
        fail_msg("n1 did not come up as leader (log: %s)", c->nodes[0].log);
    char *id = h_deploy_stable(c, 0, "demo-good.json", 60000);
    assert_non_null(id);
    free(id);
    pid_t svc[4];
    assert_int_equal(h_service_pids(c, 0, svc, 4), 1);
    return svc[0];
}

static void expect_clean_stop_on(struct h_cluster *c, int sig, const char *name)
{
    start_with_service(c);
    h_node_signal(c, 0, sig);
    int st = 0;
    if (!h_node_wait_exit(c, 0, h_timeout_ms(), &st))
        fail_msg("n1 did not exit after %s", name);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        fail_msg("n1 ended with wait status %#x after %s; wanted exit 0", st, name);
    assert_int_equal(h_service_pids(c, 0, NULL, 0), 0);
    char line[64];
    snprintf(line, sizeof(line), "node.stop: stopping (%s)", name);
    if (!h_file_contains(c->nodes[0].log, line))
        fail_msg("n1's log (%s) does not say \"%s\"", c->nodes[0].log, line);
    h_cluster_pass(c);
}

static void test_sighup_stops_the_node_and_its_services_cleanly(void **state)
{
    expect_clean_stop_on(*state, SIGHUP, "SIGHUP");
}

static void test_sigquit_stops_the_node_and_its_services_cleanly(void **state)
{
    expect_clean_stop_on(*state, SIGQUIT, "SIGQUIT");
}

static void
test_services_left_by_a_node_killed_with_sigkill_are_stopped_at_its_next_start(void **state)
{
    struct h_cluster *c = *state;
    pid_t old = start_with_service(c);
    h_node_kill(c, 0);
    assert_int_equal(kill(old, 0), 0); /* orphaned, still running */
    if (h_start_agreed(c, "test_signals", NULL) < 0)
        fail_msg("n1 did not come back (log: %s)", c->nodes[0].log);
    if (h_wait_event(c, 0, "deploy.stray_stopped", NULL, 0, h_timeout_ms()) == 0)
        fail_msg("n1 raised no deploy.stray_stopped after its restart");
    /* The node starts its release again: one service, not the old one. */
    pid_t svc[4];
    size_t k = h_service_pids(c, 0, svc, 4);
    for (size_t i = 0; i < k && i < 4; i++)
        assert_int_not_equal(svc[i], old);
    assert_true(k <= 1);
    h_cluster_pass(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sighup_stops_the_node_and_its_services_cleanly,
                                        h_setup_one_node, h_teardown_cluster),
        cmocka_unit_test_setup_teardown(test_sigquit_stops_the_node_and_its_services_cleanly,
                                        h_setup_one_node, h_teardown_cluster),
        cmocka_unit_test_setup_teardown(
            test_services_left_by_a_node_killed_with_sigkill_are_stopped_at_its_next_start,
            h_setup_one_node, h_teardown_cluster),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
