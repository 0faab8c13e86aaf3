/* Integration: leader election with five real chimerad processes on
 * 127.0.0.1. Leaders are killed with SIGKILL and restarted; a minority is
 * made by stopping (SIGSTOP) three of the five, which to the two still
 * running is indistinguishable from a network partition (the real one, with
 * network namespaces, is test_partition). Every wait is on a condition with
 * a generous deadline, never on elapsed time.
 *
 * A mutation: every POST passes the node's gate first: the admin token
 * (401 missing, 403 wrong), then read-only mode (503). So "a mutation is
 * accepted" means a token-bearing POST /ledger/notes gets past the gate:
 * anything but 401, 403 or 503 (POST /ledger/notes now commits the note and answers 201); see
 * h_mutation_accepted(). */
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
#include "harness_fixture.h"
#include "harness_release.h"

#define NODES 5

/* ---- fixtures and helpers ---------------------------------------------- */

/* Elections can need a few rounds after a kill; restarts need reconnects. */
static int deadline(void)
{
    return 2 * h_timeout_ms();
}

static void start(struct h_cluster *c, int i)
{
    assert_int_equal(h_node_start(c, i), 0);
    if (!h_wait_http_up(c, i, h_timeout_ms()))
        fail_msg("%s did not serve /health/live on 127.0.0.1:%d (log: %s)", c->nodes[i].id,
                 c->nodes[i].http_port, c->nodes[i].log);
}

/* Waits until the running nodes agree on one leader in a term after
 * after_term; returns its index and stores the term in *term. */
static int expect_agreed(struct h_cluster *c, unsigned long long after_term,
                         unsigned long long *term)
{
    int leader;
    unsigned long long t;
    if (!h_wait_agreed(c, after_term, deadline(), &leader, &t))
        fail_msg("the running nodes never agreed on one leader in a term after %llu; now: %s "
                 "(logs: %s/n*.log)",
                 after_term, h_views_line(c), c->dir);
    if (term)
        *term = t;
    return leader;
}

/* Starts all five and waits for them to elect a leader. */
static int start_all(struct h_cluster *c, unsigned long long *term)
{
    if (h_cluster_start_all(c, h_timeout_ms(), "test_election") != 0)
        fail_msg("the federation did not come up (the line above says why; logs in %s)", c->dir);
    return expect_agreed(c, 0, term);
}

/* Node i records an event of this kind (about peer, unless NULL) after seq
 * `after`; returns its seq. */
static unsigned long long expect_event(struct h_cluster *c, int i, const char *kind,
                                       const char *peer, unsigned long long after)
{
    unsigned long long seq = h_wait_event(c, i, kind, peer, after, h_timeout_ms());
    if (!seq)
        fail_msg("%s recorded no %s event%s%s after seq %llu", c->nodes[i].id, kind,
                 peer ? " about " : "", peer ? peer : "", after);
    return seq;
}

/* Node i's view, which must be readable. */
static struct h_view view(struct h_cluster *c, int i)
{
    struct h_view v;
    if (!h_view(c, i, 0, &v))
        fail_msg("%s did not answer GET /federation/state (log: %s)", c->nodes[i].id,
                 c->nodes[i].log);
    return v;
}

struct role_arg {
    struct h_cluster *c;
    int i;
};

static bool not_leader(void *arg)
{
    struct role_arg *r = arg;
    struct h_view v;
    return h_view(r->c, r->i, 0, &v) && strcmp(v.role, "leader") != 0;
}

/* ---- election ------------------------------------------------------------ */

static void test_five_nodes_elect_one_leader_all_agree_on(void **state)
{
    struct h_cluster *c = *state;
    unsigned long long term;
    int leader = start_all(c, &term);
    assert_true(term >= 1);
    for (int i = 0; i < c->n; i++) {
        struct h_view v = view(c, i);
        assert_string_equal(v.role, i == leader ? "leader" : "follower");
        assert_int_equal(v.term, term);
        assert_string_equal(v.leader, c->nodes[leader].id);
        assert_false(v.read_only);
        assert_int_equal(v.quorum, 3);
        h_expect_ready(c, i, 200);

        /* Every node lists the leader as such among its peers. */
        long st;
        json_t *fs = h_http_get_json(c, i, "/federation/state", &st);
        const json_t *p = h_find_peer(fs, c->nodes[leader].id);
        assert_string_equal(json_string_value(json_object_get(p, "role")), "leader");
        json_decref(fs);
    }
    expect_event(c, leader, "consensus.elected", NULL, 0);
    for (int i = 0; i < c->n; i++)
        if (i != leader)
            expect_event(c, i, "consensus.leader", c->nodes[leader].id, 0);
    h_cluster_pass(c);
}

static void test_killed_leader_is_replaced_by_a_new_leader(void **state)
{
    struct h_cluster *c = *state;
    unsigned long long t1, t2;
    int l1 = start_all(c, &t1);
    h_node_kill(c, l1);
    int l2 = expect_agreed(c, t1, &t2);
    assert_int_not_equal(l2, l1);
    assert_true(t2 > t1);
    expect_event(c, l2, "consensus.elected", NULL, 0);
    for (int i = 0; i < c->n; i++)
        if (i != l1)
            h_expect_ready(c, i, 200);
    h_cluster_pass(c);
}

static void test_leader_killed_twice_still_leaves_a_majority_leader(void **state)
{
    struct h_cluster *c = *state;
    unsigned long long t1, t2, t3;
    int l1 = start_all(c, &t1);
    h_node_kill(c, l1);
    int l2 = expect_agreed(c, t1, &t2);
    h_node_kill(c, l2);
    int l3 = expect_agreed(c, t2, &t3); /* 3 of 5 are still a majority */
    assert_true(l3 != l1 && l3 != l2);
    assert_true(t3 > t2);
    expect_event(c, l3, "consensus.elected", NULL, 0);
    long st = h_mutation(c, l3, c->token, 0, NULL);
    if (!h_mutation_accepted(st))
        fail_msg("the leader of the remaining majority refused a mutation with %ld", st);
    h_cluster_pass(c);
}

static void test_restarted_nodes_rejoin_as_followers(void **state)
{
    struct h_cluster *c = *state;
    unsigned long long t1, t2, t3, t4;
    int l1 = start_all(c, &t1);
    h_node_kill(c, l1);
    int l2 = expect_agreed(c, t1, &t2);
    h_node_kill(c, l2);
    int l3 = expect_agreed(c, t2, &t3);

    start(c, l1);
    start(c, l2);
    /* The current leader keeps its place: the returning nodes, in older
     * terms and held back by pre-vote, do not disrupt it. */
    int l4 = expect_agreed(c, 0, &t4);
    if (l4 != l3 || t4 != t3)
        fail_msg("leader %s (term %llu) was replaced by %s (term %llu) when the dead rejoined",
                 c->nodes[l3].id, t3, c->nodes[l4].id, t4);
    for (int k = 0; k < 2; k++) {
        int i = k ? l2 : l1;
        struct h_view v = view(c, i);
        assert_string_equal(v.role, "follower");
        assert_string_equal(v.leader, c->nodes[l3].id);
        assert_false(v.read_only);
        /* Fresh processes, fresh event logs: any such event is new. */
        expect_event(c, i, "consensus.leader", c->nodes[l3].id, 0);
        expect_event(c, i, "consensus.read_only.exit", NULL, 0);
    }
    h_cluster_pass(c);
}

/* ---- minority ------------------------------------------------------------ */

static void expect_read_only_refusal(struct h_cluster *c, int i)
{
    char *body = NULL;
    long st = h_mutation(c, i, c->token, 0, &body);
    json_t *j = body ? json_loads(body, 0, NULL) : NULL;
    const char *err = json_string_value(json_object_get(j, "error"));
    if (st != 503 || !err || strncmp(err, "read-only", 9) != 0 ||
        !json_is_true(json_object_get(j, "read_only")))
        fail_msg("%s in the minority answered a mutation with %ld: %s", c->nodes[i].id, st,
                 body ? body : "(no body)");
    json_decref(j);
    free(body);
    if (h_ready_status(c, i) != 503)
        fail_msg("%s in the minority is still ready", c->nodes[i].id);
}

static void test_minority_refuses_mutations_with_503(void **state)
{
    struct h_cluster *c = *state;
    unsigned long long t1, t2;
    int leader = start_all(c, &t1);
    /* The leader and one follower keep running; the other three stop. With
     * the leader on the minority side, check-quorum must depose it. */
    int minority[2] = {leader, (leader + 1) % NODES};
    unsigned long long base[NODES];
    for (int i = 0; i < c->n; i++)
        base[i] = h_last_event_seq(c, i);
    for (int k = 2; k < NODES; k++)
        h_node_pause(c, (leader + k) % NODES);

    if (!h_wait_read_only(c, minority, 2, true, deadline()))
        fail_msg("the running minority never turned read-only; now: %s", h_views_line(c));
    struct role_arg r = {c, leader};
    if (!h_wait_until(not_leader, &r, deadline()))
        fail_msg("%s stayed leader without a quorum; now: %s", c->nodes[leader].id,
                 h_views_line(c));
    for (int k = 0; k < 2; k++)
        expect_read_only_refusal(c, minority[k]);
    expect_event(c, leader, "consensus.step_down", NULL, base[leader]);
    for (int k = 0; k < 2; k++)
        expect_event(c, minority[k], "consensus.read_only.enter", NULL, base[minority[k]]);

    for (int k = 2; k < NODES; k++)
        h_node_resume(c, (leader + k) % NODES);
    int l2 = expect_agreed(c, 0, &t2);
    assert_true(t2 >= t1);
    for (int i = 0; i < c->n; i++) {
        assert_false(view(c, i).read_only);
        h_expect_ready(c, i, 200);
    }
    for (int k = 0; k < 2; k++)
        expect_event(c, minority[k], "consensus.read_only.exit", NULL, base[minority[k]]);
    long st = h_mutation(c, l2, c->token, 0, NULL);
    if (!h_mutation_accepted(st))
        fail_msg("after the minority came back, leader %s refused a mutation with %ld",
                 c->nodes[l2].id, st);
    h_cluster_pass(c);
}

/* ---- the mutation gate ---------------------------------------------------- */

/* A refused mutation on the leader: this status and a JSON error. */
static void expect_refused(struct h_cluster *c, int i, const char *bearer, long want)
{
    char *body = NULL;
    long st = h_mutation(c, i, bearer, 0, &body);
    json_t *j = body ? json_loads(body, 0, NULL) : NULL;
    if (st != want || !json_string_value(json_object_get(j, "error")))
        fail_msg("want %ld with a JSON error; got %ld: %s", want, st, body ? body : "(no body)");
    json_decref(j);
    free(body);
}

static void test_mutation_without_token_is_refused_with_401(void **state)
{
    struct h_cluster *c = *state;
    int leader = start_all(c, NULL);
    unsigned long long base = h_last_event_seq(c, leader);
    expect_refused(c, leader, NULL, 401);
    expect_event(c, leader, "api.auth_failure", NULL, base);
    /* The same request with the token gets past the gate. */
    long st = h_mutation(c, leader, c->token, 0, NULL);
    if (!h_mutation_accepted(st))
        fail_msg("the leader refused a mutation with the right token: %ld", st);
    h_cluster_pass(c);
}

static void test_mutation_with_wrong_token_is_refused_with_403(void **state)
{
    struct h_cluster *c = *state;
    int leader = start_all(c, NULL);
    char wrong[sizeof c->token];
    snprintf(wrong, sizeof wrong, "%s", c->token);
    wrong[0] = wrong[0] == 'a' ? 'b' : 'a';
    expect_refused(c, leader, wrong, 403);
    h_cluster_pass(c);
}

/* ---- persisted state ------------------------------------------------------ */

/* Restarts stopped node i over a consensus.state holding `len` bytes of
 * `bytes` and expects it to refuse: non-zero exit and one line on stderr
 * naming the file. */
static void expect_refuses_state(struct h_cluster *c, int i, const void *bytes, size_t len,
                                 const char *what)
{
    char path[H_PATH_MAX + 32], errpath[H_PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/consensus.state", c->nodes[i].data);
    snprintf(errpath, sizeof errpath, "%s/%s-%s.err", c->dir, c->nodes[i].id, what);
    FILE *f = fopen(path, "we");
    assert_non_null(f);
    assert_int_equal(fwrite(bytes, 1, len, f), len);
    assert_int_equal(fclose(f), 0);

    struct h_start o = {.stderr_path = errpath};
    assert_int_equal(h_node_start_opts(c, i, &o), 0);
    int st;
    if (!h_node_wait_exit(c, i, h_timeout_ms(), &st))
        fail_msg("%s kept running over a %s consensus.state", c->nodes[i].id, what);
    char *err = h_read_file(errpath);
    assert_non_null(err);
    if (!WIFEXITED(st) || WEXITSTATUS(st) == 0 || h_count_lines(err) != 1 || !strstr(err, path))
        fail_msg("%s state: want a non-zero exit and one line naming %s; got %s %d and "
                 "stderr:\n%s",
                 what, path, WIFEXITED(st) ? "exit" : "signal",
                 WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st), err);
    free(err);
}

static void test_corrupt_consensus_state_refuses_to_start(void **state)
{
    struct h_cluster *c = *state;
    int leader = start_all(c, NULL);
    int victim = (leader + 1) % NODES;
    int st = h_node_stop(c, victim);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);

    /* Right length, wrong content; then a torn (short) file. */
    char garbage[97];
    for (size_t k = 0; k < sizeof garbage; k++)
        garbage[k] = (char)(k * 37 + 11);
    expect_refuses_state(c, victim, garbage, sizeof garbage, "garbage");
    expect_refuses_state(c, victim, "CHRCONS1", 8, "torn");

    /* Refusing is all it did: the others carry on with their leader. */
    int l2 = expect_agreed(c, 0, NULL);
    assert_int_equal(l2, leader);
    h_cluster_pass(c);
}

#define T(name) cmocka_unit_test_setup_teardown(name, h_setup_five_nodes, h_teardown_cluster)

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        T(test_five_nodes_elect_one_leader_all_agree_on),
        T(test_killed_leader_is_replaced_by_a_new_leader),
        T(test_leader_killed_twice_still_leaves_a_majority_leader),
        T(test_restarted_nodes_rejoin_as_followers),
        T(test_minority_refuses_mutations_with_503),
        T(test_mutation_without_token_is_refused_with_401),
        T(test_mutation_with_wrong_token_is_refused_with_403),
        T(test_corrupt_consensus_state_refuses_to_start),
    };
    int failed = cmocka_run_group_tests_name("election", tests, NULL, NULL);
    if (failed) {
        /* A failed assertion longjmps past the frees of its test; skipping
         * the exit-time leak check keeps the failure itself readable. */
        fflush(NULL);
        _exit(1);
    }
    return 0;
}
