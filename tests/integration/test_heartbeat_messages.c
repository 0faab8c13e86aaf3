/* Integration: an idle 3-node federation sends each peer one message per
 * heartbeat interval (base/peers.h: peers_hello_due), not a liveness hello
 * and Raft's heartbeat both: the leader's heartbeats and the followers'
 * answers stand for the hellos, and only followers, which exchange nothing
 * else, hello each other. Counted by the nodes themselves: messages sent
 * (chimera_messages_sent_by_type_total) per tick of their heartbeat timer
 * (chimera_loop_lag_seconds_count), so a loaded machine that runs the
 * timers late changes neither side of the ratio. Liveness, read-only and
 * leadership stay as they were over the window. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define NODES 3
#define PEERS (NODES - 1)
/* Ticks counted per window: long enough that an odd extra message (a hello
 * when Raft's heartbeat ran late) is a small share. */
#define WINDOW_TICKS 40
/* Generous: one message per peer per interval is 1.0; two (today's
 * hello plus Raft's) would be 2.0 on the leader and 1.5 on a follower. */
#define MAX_PER_PEER_PER_TICK 1.25
#define MIN_PER_PEER_PER_TICK 0.5

static struct h_cluster *cluster;

struct counts {
    double ticks, sent, hello, consensus, ledger, alive;
};

/* The value of one sample in a /metrics text; false when absent. */
static bool sample(const char *text, const char *name, double *v)
{
    size_t n = strlen(name);
    for (const char *line = text; line && *line;) {
        if (strncmp(line, name, n) == 0 && line[n] == ' ') {
            *v = strtod(line + n + 1, NULL);
            return true;
        }
        const char *nl = strchr(line, '\n');
        line = nl ? nl + 1 : NULL;
    }
    return false;
}

/* One scrape of node i, so every figure is of the same moment. */
static void scrape(int i, struct counts *c)
{
    long st;
    char *text = h_http_get_text(cluster, i, "/metrics", &st);
    assert_int_equal(st, 200);
    bool ok =
        sample(text, "chimera_loop_lag_seconds_count", &c->ticks) &&
        sample(text, "chimera_messages_sent_total", &c->sent) &&
        sample(text, "chimera_messages_sent_by_type_total{type=\"hello\"}", &c->hello) &&
        sample(text, "chimera_messages_sent_by_type_total{type=\"consensus\"}", &c->consensus) &&
        sample(text, "chimera_messages_sent_by_type_total{type=\"ledger\"}", &c->ledger) &&
        sample(text, "chimera_members{status=\"alive\"}", &c->alive);
    free(text);
    if (!ok)
        fail_msg("node %s: /metrics lacks a sample this test reads", cluster->nodes[i].id);
}

struct ticks_arg {
    int i;
    double from;
};

static bool ticked_enough(void *arg)
{
    struct ticks_arg *a = arg;
    struct counts c;
    scrape(a->i, &c);
    return c.ticks >= a->from + WINDOW_TICKS;
}

/* Counts over one window of every node's ticks; false when leadership
 * moved during it (a loaded machine: elections are traffic of their own). */
static bool window(struct counts d[NODES], int *leader)
{
    unsigned long long term;
    if (!h_wait_agreed(cluster, 0, h_timeout_ms(), leader, &term))
        fail_msg("no leader: %s", h_views_line(cluster));
    assert_true(h_wait_all_alive(cluster, h_timeout_ms()));
    struct counts a[NODES], b[NODES];
    for (int i = 0; i < NODES; i++)
        scrape(i, &a[i]);
    for (int i = 0; i < NODES; i++) {
        struct ticks_arg arg = {i, a[i].ticks};
        if (!h_wait_until(ticked_enough, &arg, 20 * h_timeout_ms()))
            fail_msg("node %s ticked fewer than %d times", cluster->nodes[i].id, WINDOW_TICKS);
    }
    for (int i = 0; i < NODES; i++) {
        scrape(i, &b[i]);
        d[i] = (struct counts){.ticks = b[i].ticks - a[i].ticks,
                               .sent = b[i].sent - a[i].sent,
                               .hello = b[i].hello - a[i].hello,
                               .consensus = b[i].consensus - a[i].consensus,
                               .ledger = b[i].ledger - a[i].ledger,
                               .alive = b[i].alive};
    }
    int after;
    unsigned long long term_after;
    return h_agreed(cluster, 0, &after, &term_after) && after == *leader && term_after == term;
}

static void test_idle_federation_sends_each_peer_one_message_per_interval(void **state)
{
    (void)state;
    struct counts d[NODES];
    int leader = -1;
    bool steady = false;
    /* A starved machine moves leadership now and then: another window. */
    for (int attempt = 0; attempt < 10 && !steady; attempt++)
        steady = window(d, &leader);
    if (!steady)
        fail_msg("leadership moved in every window: %s", h_views_line(cluster));
    for (int i = 0; i < NODES; i++) {
        double per = d[i].sent / d[i].ticks / PEERS;
        print_message("%s%s: %.0f ticks, %.0f sent (hello %.0f, consensus %.0f, ledger %.0f): "
                      "%.2f per peer per interval\n",
                      cluster->nodes[i].id, i == leader ? " (leader)" : "", d[i].ticks, d[i].sent,
                      d[i].hello, d[i].consensus, d[i].ledger, per);
        if (per > MAX_PER_PEER_PER_TICK || per < MIN_PER_PEER_PER_TICK)
            fail_msg("%s sent %.2f messages per peer per interval (want about 1)",
                     cluster->nodes[i].id, per);
        assert_int_equal((int)d[i].alive, NODES); /* liveness as before */
    }
    /* The leader's peers hear Raft's heartbeats from it: hellos are rare. */
    double leader_hellos = d[leader].hello / d[leader].ticks / PEERS;
    if (leader_hellos > 0.25)
        fail_msg("the leader sent %.2f hellos per peer per interval besides its heartbeats",
                 leader_hellos);
    int ro[NODES] = {0, 1, 2};
    assert_true(h_wait_read_only(cluster, ro, NODES, false, h_timeout_ms()));
    h_cluster_pass(cluster);
}

static int setup(void **state)
{
    (void)state;
    cluster = h_cluster_create(NODES);
    if (!cluster)
        return -1;
    return h_start_agreed(cluster, "test_heartbeat_messages", NULL) < 0 ? -1 : 0;
}

static int teardown(void **state)
{
    (void)state;
    h_cluster_destroy(cluster);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_idle_federation_sends_each_peer_one_message_per_interval, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
