/* Integration: a real network partition. Five chimerad processes, each in a
 * network namespace of its own, wired through a switch namespace with two
 * bridges (see h_netns_setup in harness.h); cutting two of them off moves
 * their switch ports to the other bridge, so the two still reach each other
 * but not the three. The test reaches every node's HTTP API from inside the
 * node's namespace, so it sees the cut-off side too.
 *
 * Needs root and iproute2 (CI has both). Elsewhere every test is skipped
 * with a loud message; CHIMERA_REQUIRE_NETNS=1 turns the skip into a
 * failure.
 *
 * A mutation: every POST passes the node's gate first: the admin token,
 * then read-only mode (503). "A mutation is accepted" means a token-bearing
 * POST /ledger/notes gets past the gate (anything but 401, 403 or 503; a leader
 * commits the note and answers 201); see h_mutation_accepted(). */
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

#define NODES 5

/* ---- fixtures and helpers ---------------------------------------------- */

static int group_setup(void **state)
{
    (void)state;
    return h_netns_check("test_partition", "every test");
}

static int setup5(void **state)
{
    return h_netns_cluster_setup(state, NODES, "test_partition");
}

/* Healing waits for TCP to retransmit into the restored path, which after a
 * long cut can take seconds: be generous. */
static int deadline(void)
{
    return 3 * h_timeout_ms();
}

static void expect_event(struct h_cluster *c, int i, const char *kind, unsigned long long after)
{
    if (!h_wait_event(c, i, kind, NULL, after, h_timeout_ms()))
        fail_msg("%s recorded no %s event after seq %llu", c->nodes[i].id, kind, after);
}

/* The rest of the federation: every node not in minority[0..2). */
static void split(const int minority[2], int majority[NODES - 2])
{
    for (int i = 0, k = 0; i < NODES; i++)
        if (i != minority[0] && i != minority[1])
            majority[k++] = i;
}

static void cut(struct h_cluster *c, const int minority[2])
{
    if (h_netns_partition(c, minority, 2) != 0)
        fail_msg("cannot cut %s and %s off (the lines above say why)", c->nodes[minority[0]].id,
                 c->nodes[minority[1]].id);
}

/* The network really is cut where the test says: each side sees the other
 * side dead and its own side alive. */
static void expect_sides(struct h_cluster *c, const int minority[2], const int majority[3])
{
    for (int a = 0; a < 2; a++) {
        int i = minority[a];
        for (int b = 0; b < 3; b++)
            if (!h_wait_member_is(c, i, c->nodes[majority[b]].id, "dead", deadline()))
                fail_msg("cut-off %s still hears %s", c->nodes[i].id, c->nodes[majority[b]].id);
        if (!h_member_is(c, i, c->nodes[minority[1 - a]].id, "alive"))
            fail_msg("%s no longer hears %s on its own side of the cut", c->nodes[i].id,
                     c->nodes[minority[1 - a]].id);
    }
    for (int b = 0; b < 3; b++)
        for (int a = 0; a < 2; a++)
            if (!h_wait_member_is(c, majority[b], c->nodes[minority[a]].id, "dead", deadline()))
                fail_msg("%s still hears cut-off %s", c->nodes[majority[b]].id,
                         c->nodes[minority[a]].id);
}

/* Both cut-off nodes turn read-only, refuse a mutation with 503 and a
 * read-only JSON error, and are not ready. */
static void expect_minority_read_only(struct h_cluster *c, const int minority[2])
{
    if (!h_wait_read_only(c, minority, 2, true, deadline()))
        fail_msg("the cut-off minority never turned read-only; now: %s", h_views_line(c));
    for (int a = 0; a < 2; a++) {
        int i = minority[a];
        char *body = NULL;
        long st = h_mutation(c, i, c->token, 0, &body);
        json_t *j = body ? json_loads(body, 0, NULL) : NULL;
        const char *err = json_string_value(json_object_get(j, "error"));
        if (st != 503 || !err || strncmp(err, "read-only", 9) != 0 ||
            !json_is_true(json_object_get(j, "read_only")))
            fail_msg("cut-off %s answered a mutation with %ld: %s", c->nodes[i].id, st,
                     body ? body : "(no body)");
        json_decref(j);
        free(body);
        h_expect_ready(c, i, 503);
    }
    /* The operator sees it too (chimeractl runs inside the namespace). */
    int code;
    char *out = NULL, *err = NULL;
    assert_true(h_ctl(c, minority[0], &code, &out, &err, "status", "--json", NULL));
    json_t *j = out ? json_loads(out, 0, NULL) : NULL;
    if (code != 7 || !json_is_true(json_object_get(j, "read_only"))) /* 7: unavailable */
        fail_msg("chimeractl status --json on cut-off %s exited %d: %s%s", c->nodes[minority[0]].id,
                 code, out ? out : "", err ? err : "");
    json_decref(j);
    free(out);
    free(err);
}

/* The majority agrees on a leader in a term after after_term, which is
 * ready and accepts a mutation; returns it. */
static int expect_majority_leader(struct h_cluster *c, const int majority[3],
                                  unsigned long long after_term, unsigned long long *term)
{
    int leader;
    if (!h_wait_agreed_among(c, majority, 3, after_term, deadline(), &leader, term))
        fail_msg("the majority never agreed on a leader after term %llu; now: %s", after_term,
                 h_views_line(c));
    for (int b = 0; b < 3; b++)
        h_expect_ready(c, majority[b], 200);
    long st = h_mutation(c, leader, c->token, 0, NULL);
    if (!h_mutation_accepted(st))
        fail_msg("majority leader %s refused a mutation with %ld", c->nodes[leader].id, st);
    return leader;
}

/* After healing, all five agree on one leader and none is read-only. */
static int expect_healed(struct h_cluster *c, unsigned long long *term)
{
    if (h_netns_heal(c) != 0)
        fail_msg("cannot heal the partition (the lines above say why)");
    int leader;
    if (!h_wait_agreed(c, 0, deadline(), &leader, term))
        fail_msg("after healing, the five never agreed on one leader; now: %s", h_views_line(c));
    for (int i = 0; i < NODES; i++)
        h_expect_ready(c, i, 200);
    return leader;
}

/* ---- tests --------------------------------------------------------------- */

static void test_cut_off_minority_turns_read_only_while_the_majority_keeps_its_leader(void **state)
{
    struct h_cluster *c = *state;
    h_require_netns(c, "test_partition");
    unsigned long long t1, t2, t3;
    int l1 = h_start_leader(c, "test_partition", deadline(), &t1);
    int minority[2] = {(l1 + 1) % NODES, (l1 + 2) % NODES}, majority[3];
    split(minority, majority);
    unsigned long long base[2] = {h_last_event_seq(c, minority[0]),
                                  h_last_event_seq(c, minority[1])};

    cut(c, minority);
    expect_minority_read_only(c, minority);
    for (int a = 0; a < 2; a++)
        expect_event(c, minority[a], "consensus.read_only.enter", base[a]);
    /* The leader still hears a majority (itself and two): it stays. */
    int l2 = expect_majority_leader(c, majority, 0, &t2);
    if (l2 != l1 || t2 != t1)
        fail_msg("the majority replaced its leader %s (term %llu) with %s (term %llu)",
                 c->nodes[l1].id, t1, c->nodes[l2].id, t2);
    expect_sides(c, minority, majority);
    /* Still read-only after the majority settled: no flapping back. */
    expect_minority_read_only(c, minority);

    /* Pre-vote kept the minority from inflating its term, so on healing it
     * simply follows the leader it lost. */
    int l3 = expect_healed(c, &t3);
    if (l3 != l1 || t3 != t1)
        fail_msg("healing replaced leader %s (term %llu) with %s (term %llu)", c->nodes[l1].id, t1,
                 c->nodes[l3].id, t3);
    for (int a = 0; a < 2; a++)
        expect_event(c, minority[a], "consensus.read_only.exit", base[a]);
    h_cluster_pass(c);
}

static void test_cut_off_leader_steps_down_and_the_majority_elects_another(void **state)
{
    struct h_cluster *c = *state;
    h_require_netns(c, "test_partition");
    unsigned long long t1, t2, t3;
    int l1 = h_start_leader(c, "test_partition", deadline(), &t1);
    int minority[2] = {l1, (l1 + 1) % NODES}, majority[3];
    split(minority, majority);
    unsigned long long base = h_last_event_seq(c, l1);

    cut(c, minority);
    /* Check-quorum: the old leader, hearing no majority, steps down. */
    expect_minority_read_only(c, minority);
    expect_event(c, l1, "consensus.step_down", base);
    expect_event(c, l1, "consensus.read_only.enter", base);
    struct h_view v;
    assert_true(h_view(c, l1, 0, &v));
    assert_string_not_equal(v.role, "leader");

    int l2 = expect_majority_leader(c, majority, t1, &t2);
    assert_int_not_equal(l2, l1);
    expect_sides(c, minority, majority);
    expect_minority_read_only(c, minority);

    /* After healing the old leader follows; the majority's leader (whose
     * term is the highest) leads everyone. */
    int l3 = expect_healed(c, &t3);
    assert_true(t3 >= t2);
    assert_true(h_view(c, l1, 0, &v));
    assert_string_equal(v.role, "follower");
    assert_string_equal(v.leader, c->nodes[l3].id);
    expect_event(c, l1, "consensus.read_only.exit", base);
    h_cluster_pass(c);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup5, h_teardown_cluster)

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        T(test_cut_off_minority_turns_read_only_while_the_majority_keeps_its_leader),
        T(test_cut_off_leader_steps_down_and_the_majority_elects_another),
    };
    int failed = cmocka_run_group_tests_name("partition", tests, group_setup, NULL);
    if (failed) {
        fflush(NULL);
        _exit(1);
    }
    return 0;
}
