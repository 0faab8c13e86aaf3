/* Integration: a follower's connections black-holed, as when its address
 * changes under it (docker network disconnect/connect): TCP keeps such a
 * connection for many minutes, NNG keeps its pipe and never redials. The
 * transport closes a connection found dead (transport_live.h) so that NNG
 * redials it; the follower is heard again and catches up.
 *
 * Three chimerad processes, each in a network namespace of its own (see
 * h_netns_setup); iptables in the follower's namespace drops the packets of
 * the connections it has now, both ways and without a reset, while new
 * connections pass (h_netns_blackhole). Needs root, iproute2 and iptables;
 * elsewhere skipped loudly (CHIMERA_REQUIRE_NETNS=1: a failure). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "harness_fixture.h"

#define NODES 3
#define WHO "test_transport_blackhole"

static int group_setup(void **state)
{
    (void)state;
    return h_netns_check(WHO, "every test");
}

static int setup3(void **state)
{
    return h_netns_cluster_setup(state, NODES, WHO);
}

static int teardown(void **state)
{
    h_cluster_destroy(*state); /* also deletes the namespaces */
    return 0;
}

static int deadline(void)
{
    return 3 * h_timeout_ms();
}

static void post_note(struct h_cluster *c, int leader)
{
    long st = h_mutation(c, leader, c->token, 0, NULL);
    if (st != 201)
        fail_msg("leader %s answered a note with %ld", c->nodes[leader].id, st);
}

/* Every node's ledger head index, or -1 for one that does not answer. */
static json_int_t head_of(struct h_cluster *c, int i)
{
    long st = 0;
    json_t *h = h_http_get_json(c, i, "/ledger/head", &st);
    json_int_t index = st == 200 ? json_integer_value(json_object_get(h, "index")) : -1;
    json_decref(h);
    return index;
}

static bool same_heads(void *arg)
{
    struct h_cluster *c = arg;
    json_int_t first = head_of(c, 0);
    for (int i = 1; i < c->n; i++)
        if (head_of(c, i) != first)
            return false;
    return first > 0;
}

static void expect_same_heads(struct h_cluster *c, const char *when)
{
    if (!h_wait_until(same_heads, c, deadline()))
        fail_msg("%s, the ledgers never reached one head: %s", when, h_views_line(c));
}

/* The follower cut (outgoing_only: only the connections it dialed; it still
 * hears the leader) is first found dead by the leader, then heard again on
 * new connections, and catches up with a note written meanwhile. */
static void blackhole_and_expect_recovery(struct h_cluster *c, bool outgoing_only)
{
    unsigned long long term;
    /* What is tested is how connections recover, not elections: the notes go
     * to the leader found first, and at the default 150 ms a loaded machine's
     * scheduler alone costs the leader now and then (it answered 307). Only
     * 500 ms: a connection is stale after 8 election timeouts, which is what
     * the test waits for. */
    c->election_timeout_ms = 500;
    int leader = h_start_leader(c, WHO, deadline(), &term);
    int f = (leader + 1) % NODES;
    const char *fid = c->nodes[f].id;
    post_note(c, leader);
    expect_same_heads(c, "before the black hole");
    unsigned long long lseq = h_last_event_seq(c, leader), fseq = h_last_event_seq(c, f);

    int n = h_netns_blackhole(c, f, outgoing_only);
    if (n <= 0)
        fail_msg("cannot black-hole %s's connections (%d; the lines above say why)", fid, n);
    unsigned long long dead = h_wait_event(c, leader, "peer.dead", fid, lseq, deadline());
    if (!dead)
        fail_msg("leader %s still hears %s through %d black-holed connection(s)",
                 c->nodes[leader].id, fid, n);
    post_note(c, leader); /* the other follower makes the majority */

    if (!h_wait_event(c, leader, "peer.alive", fid, dead, deadline()))
        fail_msg("leader %s never heard %s again: its connections stayed black-holed",
                 c->nodes[leader].id, fid);
    expect_same_heads(c, "after the black hole");
    if (!h_wait_event(c, f, "transport.pipe_stale", NULL, fseq, h_timeout_ms()))
        fail_msg("%s closed no connection as stale", fid);
    /* Hearing its leader throughout, the follower never took the close of
     * its own dead connection to the leader (found dead when the leader
     * redialed it) for the leader's death. */
    if (outgoing_only && h_event_seq(c, f, "consensus.leader_disconnected", NULL, fseq))
        fail_msg("%s, which heard its leader throughout, took it for dead: %s", fid,
                 h_views_line(c));
    h_cluster_pass(c);
}

static void test_a_follower_whose_outgoing_connections_are_black_holed_is_heard_again(void **state)
{
    struct h_cluster *c = *state;
    h_require_netns(c, WHO);
    blackhole_and_expect_recovery(c, true);
}

static void test_a_follower_whose_every_connection_is_black_holed_catches_up(void **state)
{
    struct h_cluster *c = *state;
    h_require_netns(c, WHO);
    blackhole_and_expect_recovery(c, false);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_a_follower_whose_outgoing_connections_are_black_holed_is_heard_again, setup3,
            teardown),
        cmocka_unit_test_setup_teardown(
            test_a_follower_whose_every_connection_is_black_holed_catches_up, setup3, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, NULL);
}
