/* Integration: a write that reaches the leader while it hands leadership
 * over (§3.10) waits for the transfer's end instead of being refused: a
 * 307 to the new leader when the transfer succeeds, the write taken when
 * it fails and this node leads on; never a 503 the client must back off
 * from. And it does not wait for the election's end: once the target
 * stands with the old leader's vote, the write goes to it and waits there
 * until it wins. Three (or five) real chimerad processes on 127.0.0.1; the
 * target (or the voters it needs) are paused (SIGSTOP) so that each step
 * is certainly under way while the write arrives. Every wait is on a
 * condition with a deadline. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "harness_fixture.h"
#include "harness_release.h"

#define NODES 3

static int setup_n(void **state, int n)
{
    struct h_cluster *c = h_cluster_create(n);
    /* The transfer to a paused target lasts an election timeout: long
     * enough for the write to arrive while it runs, whatever the load. */
    if (c)
        c->election_timeout_ms = 3000;
    *state = c;
    return c ? 0 : -1;
}

static int setup(void **state)
{
    return setup_n(state, NODES);
}

static int setup5(void **state)
{
    return setup_n(state, 5);
}

/* POST /leader/transfer on its own thread: it answers when the transfer
 * ends. */
struct transfer {
    struct h_cluster *c;
    int leader, to;
    pthread_t thread;
    long status;
};

static void *post_transfer(void *arg)
{
    struct transfer *t = arg;
    char body[64];
    snprintf(body, sizeof body, "{\"to\":\"%s\"}", t->c->nodes[t->to].id);
    free(h_http_request(t->c, t->leader, "POST", "/leader/transfer", body, t->c->token,
                        4 * t->c->election_timeout_ms, &t->status));
    return NULL;
}

static void wait_event(struct h_cluster *c, int node, const char *kind)
{
    if (!h_wait_event(c, node, kind, NULL, 0, 2 * h_timeout_ms()))
        fail_msg("%s never raised %s (log: %s)", c->nodes[node].id, kind, c->nodes[node].log);
}

/* Pauses member `to`, then has the leader hand over to it: the transfer
 * runs until `to` resumes or an election timeout passes. */
static void start_stuck_transfer(struct h_cluster *c, struct transfer *t, int leader, int to)
{
    *t = (struct transfer){.c = c, .leader = leader, .to = to};
    h_node_signal(c, to, SIGSTOP);
    assert_int_equal(pthread_create(&t->thread, NULL, post_transfer, t), 0);
    wait_event(c, leader, "consensus.transfer.start");
}

static void test_a_write_during_a_transfer_that_fails_is_committed_by_the_leader(void **state)
{
    struct h_cluster *c = *state;
    int leader = h_start_leader(c, "test_transfer_held", 0, NULL), to = (leader + 1) % NODES;
    struct transfer t;
    start_stuck_transfer(c, &t, leader, to);
    long st;
    char *ans = h_http_request(c, leader, "POST", "/ledger/notes", "{\"note\":\"held\"}", c->token,
                               4 * c->election_timeout_ms, &st);
    h_node_signal(c, to, SIGCONT);
    pthread_join(t.thread, NULL);
    if (st != 201)
        fail_msg("a note posted during the transfer: %ld %s (expected 201 once it failed)", st,
                 ans ? ans : "");
    free(ans);
    assert_int_equal(t.status, 503); /* the transfer itself failed */
    wait_event(c, leader, "api.writes_released");
    h_cluster_pass(*(struct h_cluster **)state);
}

struct note {
    struct h_cluster *c;
    int node;
    pthread_t thread;
    long status;
    char *answer;
};

static void *post_note(void *arg)
{
    struct note *n = arg;
    n->answer = h_http_request(n->c, n->node, "POST", "/ledger/notes", "{\"note\":\"moved\"}",
                               n->c->token, 4 * n->c->election_timeout_ms, &n->status);
    return NULL;
}

static void test_a_write_during_a_transfer_that_succeeds_is_sent_to_the_new_leader(void **state)
{
    struct h_cluster *c = *state;
    int leader = h_start_leader(c, "test_transfer_held", 0, NULL), to = (leader + 1) % NODES;
    struct transfer t;
    start_stuck_transfer(c, &t, leader, to);
    struct note n = {.c = c, .node = leader};
    assert_int_equal(pthread_create(&n.thread, NULL, post_note, &n), 0);
    /* Held for certain (the target is still paused): now let it take over. */
    wait_event(c, leader, "api.writes_held");
    h_node_signal(c, to, SIGCONT);
    pthread_join(n.thread, NULL);
    pthread_join(t.thread, NULL);
    json_t *j = n.answer ? json_loads(n.answer, 0, NULL) : NULL;
    if (t.status == 200) {
        /* The transfer succeeded: the write goes to the member that leads. */
        if (n.status != 307)
            fail_msg("expected 307 to %s, got %ld %s", c->nodes[to].id, n.status,
                     n.answer ? n.answer : "");
        assert_string_equal(json_string_value(json_object_get(j, "leader")), c->nodes[to].id);
    } else if (n.status != 201) {
        /* A machine too slow for the target to stand within the timeout:
         * the transfer failed, and the write is taken by the old leader. */
        fail_msg("transfer %ld, and the note got %ld %s", t.status, n.status,
                 n.answer ? n.answer : "");
    }
    json_decref(j);
    free(n.answer);
    h_cluster_pass(*(struct h_cluster **)state);
}

/* Five members: the leader hands over to `to` while the three others are
 * paused, so `to` stands with the leader's vote (2 of 5) and cannot win
 * until they resume. Meanwhile a write to the old leader is sent to `to`
 * at once (before: 503, no leader known), and `to` holds it until it wins,
 * then commits it as the new leader. Returns `to`; the note's answer in
 * *n. */
static int hold_a_write_at_the_standing_target(struct h_cluster *c, struct note *n)
{
    int leader = h_start_leader(c, "test_transfer_held", 0, NULL), to = (leader + 1) % c->n;
    /* Everything the leader wrote as it won is committed first: with three
     * members paused, what is not yet committed never is, and the transfer
     * waits for it (it failed so under load, before `to` stood). */
    long st;
    free(h_http_request(c, leader, "POST", "/ledger/notes", "{\"note\":\"settled\"}", c->token,
                        4 * c->election_timeout_ms, &st));
    assert_int_equal(st, 201);
    for (int k = 2; k < c->n; k++)
        h_node_signal(c, (leader + k) % c->n, SIGSTOP);
    struct transfer t = {.c = c, .leader = leader, .to = to};
    assert_int_equal(pthread_create(&t.thread, NULL, post_transfer, &t), 0);
    wait_event(c, to, "consensus.candidate");
    wait_event(c, leader, "consensus.step_down"); /* it heard the VOTE */
    char *ans = h_http_request(c, leader, "POST", "/ledger/notes", "{\"note\":\"early\"}", c->token,
                               4 * c->election_timeout_ms, &st);
    json_t *j = ans ? json_loads(ans, 0, NULL) : NULL;
    if (st != 307 || !j ||
        strcmp(json_string_value(json_object_get(j, "leader")) ?: "", c->nodes[to].id) != 0)
        fail_msg("a note to %s while %s stands: %ld %s (expected 307 to %s)", c->nodes[leader].id,
                 c->nodes[to].id, st, ans ? ans : "", c->nodes[to].id);
    json_decref(j);
    free(ans);
    /* Followed to the target, it waits there until the target wins. */
    *n = (struct note){.c = c, .node = to};
    assert_int_equal(pthread_create(&n->thread, NULL, post_note, n), 0);
    wait_event(c, to, "api.writes_held");
    for (int k = 2; k < c->n; k++)
        h_node_signal(c, (leader + k) % c->n, SIGCONT);
    pthread_join(n->thread, NULL);
    pthread_join(t.thread, NULL);
    if (n->status != 201)
        fail_msg("the note held by %s: %ld %s (expected 201 once it won)", c->nodes[to].id,
                 n->status, n->answer ? n->answer : "");
    assert_int_equal(t.status, 200);
    return to;
}

static void test_a_write_goes_to_the_target_as_soon_as_it_stands_and_waits_there(void **state)
{
    struct note n;
    hold_a_write_at_the_standing_target(*state, &n);
    free(n.answer);
    h_cluster_pass(*(struct h_cluster **)state);
}

/* The type names of node i's entries from index `from` on, at most k. */
static size_t entry_types(struct h_cluster *c, int i, json_int_t from, const char **types,
                          json_t **page, size_t k)
{
    char path[96];
    snprintf(path, sizeof(path), "/ledger?from=%lld&limit=%zu", (long long)from, k);
    long st;
    *page = h_http_get_json(c, i, path, &st);
    json_t *entries = json_object_get(*page, "entries");
    if (st != 200)
        fail_msg("GET %s on %s answered %ld", path, c->nodes[i].id, st);
    size_t n = json_array_size(entries);
    for (size_t e = 0; e < n; e++)
        types[e] = json_string_value(json_object_get(json_array_get(entries, e), "type"));
    return n;
}

/* A transfer is planned: the leader that asked still had its quorum, so no
 * member it backed is read-only while the election runs (cons_handing_over)
 * and the ledger records no read-only episode for it: the held write follows the
 * new leader's election entry (member keys it records as it wins, none
 * here normally, may come between). Before, every member's momentary
 * episode was recorded (six entries), the old leader's as one that lost its
 * quorum (was_leader). */
static void test_a_transfer_records_no_read_only_episode(void **state)
{
    struct h_cluster *c = *state;
    unsigned long long seq[H_MAX_NODES];
    for (int i = 0; i < c->n; i++)
        seq[i] = h_last_event_seq(c, i);
    struct note n;
    int to = hold_a_write_at_the_standing_target(c, &n);
    json_t *j = json_loads(n.answer, 0, NULL);
    json_int_t note = json_integer_value(json_object_get(j, "first_index"));
    json_decref(j);
    free(n.answer);
    enum { WINDOW = 8 };
    json_int_t from = note > WINDOW ? note - WINDOW + 1 : 1;
    const char *types[WINDOW] = {0};
    json_t *page;
    size_t k = entry_types(c, to, from, types, &page, (size_t)(note - from + 1));
    assert_int_equal(k, (size_t)(note - from + 1));
    char seen[WINDOW * 24] = "";
    size_t elected = WINDOW, m = 0;
    const char *after[WINDOW];
    for (size_t i = 0; i < k; i++) {
        snprintf(seen + strlen(seen), sizeof(seen) - strlen(seen), " %s", types[i] ?: "-");
        if (types[i] && strcmp(types[i], "election") == 0)
            elected = i, m = 0;
        else if (elected < WINDOW && types[i] && strcmp(types[i], "membership") != 0)
            after[m++] = types[i];
    }
    if (elected == WINDOW || m != 1 || strcmp(after[0], "note") != 0)
        fail_msg("%s's entries up to the held note %lld:%s (expected election, note)",
                 c->nodes[to].id, (long long)note, seen);
    json_decref(page);
    /* The old leader and the target (the other members were paused, and
     * may well have been silent for T). */
    int pair[2] = {(to + c->n - 1) % c->n, to};
    for (int p = 0; p < 2; p++)
        if (h_event_seq(c, pair[p], "consensus.read_only.enter", NULL, seq[pair[p]]) != 0)
            fail_msg("%s went read-only during the transfer", c->nodes[pair[p]].id);
    h_cluster_pass(*(struct h_cluster **)state);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_a_write_during_a_transfer_that_fails_is_committed_by_the_leader, setup,
            h_teardown_cluster),
        cmocka_unit_test_setup_teardown(
            test_a_write_during_a_transfer_that_succeeds_is_sent_to_the_new_leader, setup,
            h_teardown_cluster),
        cmocka_unit_test_setup_teardown(
            test_a_write_goes_to_the_target_as_soon_as_it_stands_and_waits_there, setup5,
            h_teardown_cluster),
        cmocka_unit_test_setup_teardown(test_a_transfer_records_no_read_only_episode, setup5,
                                        h_teardown_cluster),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
