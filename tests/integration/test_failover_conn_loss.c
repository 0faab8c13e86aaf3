/* Integration: failover on connection loss, with five real chimerad
 * processes on 127.0.0.1. A leader killed with SIGKILL closes its TCP
 * connections at once; its followers see that and ask for a pre-vote (§9.6)
 * without waiting out the election timeout, and say so in a
 * consensus.leader_disconnected event. A follower whose own connection to a
 * live leader is reset (ss -K, as root) may ask too (unless its redial or
 * the leader's next heartbeat comes first), but the others still hear the
 * leader and refuse: the leader leads on in the same term, and the
 * follower, which kept it known, never turns read-only. Every wait is
 * on a condition with a deadline; no timing is asserted (bench_failover
 * measures it). */
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
#include "harness_fixture.h"
#include "harness_release.h"

#define WHO "test_failover_conn_loss"
#define KIND "consensus.leader_disconnected"
/* Resets of a follower's connection to a live leader. */
#define RESETS 5

static void test_a_killed_leaders_followers_start_a_prevote_for_the_lost_connection(void **state)
{
    struct h_cluster *c = *state;
    unsigned long long term, new_term;
    int leader = h_start_leader(c, WHO, 2 * h_timeout_ms(), &term);
    h_node_kill(c, leader);
    int next;
    if (!h_wait_agreed(c, term, 2 * h_timeout_ms(), &next, &new_term))
        fail_msg("the survivors never agreed on a new leader after term %llu; now: %s (logs: %s)",
                 term, h_views_line(c), c->dir);
    assert_int_not_equal(next, leader);
    assert_true(new_term > term);
    int saw = 0;
    for (int i = 0; i < c->n; i++)
        if (i != leader && h_event_seq(c, i, KIND, c->nodes[leader].id, 0) > 0)
            saw++;
    if (!saw)
        fail_msg("no survivor recorded %s about %s (logs: %s)", KIND, c->nodes[leader].id, c->dir);
    h_cluster_pass(c);
}

/* The local port of node i's connection to port `to` (its outbox to that
 * peer), from `ss -tnp`; 0 when there is none. */
static int outbox_port(struct h_cluster *c, int i, int to)
{
    char filter[64];
    snprintf(filter, sizeof filter, "dport = :%d", to);
    const char *argv[] = {"/usr/bin/ss", "-Htnp", "state", "established", filter, NULL};
    int code;
    char *out = NULL;
    if (!h_run(c, argv, h_timeout_ms(), &code, &out, NULL) || code != 0) {
        free(out);
        return 0;
    }
    char pid[32];
    snprintf(pid, sizeof pid, "pid=%d,", (int)c->nodes[i].pid);
    int port = 0;
    for (char *line = strtok(out, "\n"); line && !port; line = strtok(NULL, "\n")) {
        char local[64];
        if (!strstr(line, pid) || sscanf(line, "%*s %*s %63s", local) != 1)
            continue;
        char *colon = strrchr(local, ':');
        port = colon ? atoi(colon + 1) : 0;
    }
    free(out);
    return port;
}

/* Resets node i's connection to port `to` (both ends get a reset), as a
 * middlebox or a flapping link would. True when one was reset. */
static bool reset_outbox(struct h_cluster *c, int i, int to)
{
    int port = outbox_port(c, i, to);
    if (!port)
        return false;
    char filter[96];
    snprintf(filter, sizeof filter, "sport = :%d and dport = :%d", port, to);
    const char *argv[] = {"/usr/bin/ss", "-HKtn", filter, NULL};
    int code;
    char *out = NULL;
    bool ok = h_run(c, argv, h_timeout_ms(), &code, &out, NULL) && code == 0 && out &&
              strstr(out, "ESTAB");
    free(out);
    return ok;
}

struct conn_arg {
    struct h_cluster *c;
    int i, to, not_port;
};

/* Node i has a connection to port `to` other than the one on not_port. */
static bool connected(void *arg)
{
    struct conn_arg *a = arg;
    int port = outbox_port(a->c, a->i, a->to);
    return port != 0 && port != a->not_port;
}

static void test_a_follower_losing_its_connection_to_a_live_leader_does_not_depose_it(void **state)
{
    struct h_cluster *c = *state;
    if (geteuid() != 0 || access("/usr/bin/ss", X_OK) != 0) {
        print_message("skipped: resetting a connection takes root and ss -K\n");
        skip();
    }
    /* A long election timeout: a loaded machine (sanitizers, parallel
     * builds) must not change the leader by itself here; the early pre-vote
     * does not wait for it anyway. */
    c->heartbeat_ms = 100;
    c->election_timeout_ms = 1500;
    unsigned long long term;
    int leader = h_start_leader(c, WHO, 2 * h_timeout_ms(), &term);
    /* The lowest-numbered follower asks first (CONS_LOST_STEP_MS). */
    int f = leader == 0 ? 1 : 0;
    const char *lid = c->nodes[leader].id;
    struct conn_arg conn = {c, f, c->nodes[leader].listen_port, 0};
    int early = 0;
    for (int k = 0; k < RESETS; k++) {
        if (!h_wait_until(connected, &conn, h_timeout_ms()))
            fail_msg("%s has no connection to %s's inbox (port %d)", c->nodes[f].id, lid, conn.to);
        conn.not_port = outbox_port(c, f, conn.to);
        unsigned long long after = h_last_event_seq(c, f);
        if (!reset_outbox(c, f, conn.to)) {
            print_message("skipped: ss -K cannot reset connections here\n");
            skip();
        }
        /* NNG redials at once: the new connection usually calls the early
         * pre-vote off before it starts; one that started is refused by
         * the members that still hear the leader, and the follower follows
         * it again. */
        if (!h_wait_until(connected, &conn, h_timeout_ms()))
            fail_msg("%s did not reconnect to %s", c->nodes[f].id, lid);
        unsigned long long seen = h_event_seq(c, f, KIND, lid, after);
        if (seen) {
            early++;
            /* h_agreed: every node, f too, follows one leader, none
             * read-only. */
            int again = -1;
            if (!h_wait_agreed(c, 0, h_timeout_ms(), &again, NULL) || again != leader)
                fail_msg("%s does not follow %s again after its early pre-vote; now: %s",
                         c->nodes[f].id, lid, h_views_line(c));
        }
        /* It kept its leader through the round: no read-only turn, so its
         * /health/ready never answered 503 for a reset connection. */
        if (h_event_seq(c, f, "consensus.read_only.enter", NULL, after))
            fail_msg("%s turned read-only after its connection to the live leader %s was reset "
                     "(logs: %s)",
                     c->nodes[f].id, lid, c->dir);
    }
    print_message("%d of %d resets started an early pre-vote\n", early, RESETS);
    int now_leader;
    unsigned long long now_term;
    if (!h_wait_agreed(c, 0, h_timeout_ms(), &now_leader, &now_term))
        fail_msg("no agreement after the resets; now: %s", h_views_line(c));
    assert_int_equal(now_leader, leader);
    assert_int_equal(now_term, term);
    h_cluster_pass(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_a_killed_leaders_followers_start_a_prevote_for_the_lost_connection,
            h_setup_five_nodes, h_teardown_cluster),
        cmocka_unit_test_setup_teardown(
            test_a_follower_losing_its_connection_to_a_live_leader_does_not_depose_it,
            h_setup_five_nodes, h_teardown_cluster),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
