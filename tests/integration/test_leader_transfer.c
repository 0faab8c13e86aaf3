/* Integration: leadership transfer (Raft dissertation §3.10) with three real
 * chimerad processes on 127.0.0.1: SIGTERM on the leader hands leadership to
 * a follower before the process exits (no acknowledged note lost on the
 * way), POST /leader/transfer and `chimeractl leader transfer` move it on
 * demand. Every wait is on a condition with a deadline. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "harness_fixture.h"
#include "harness_release.h"
#include "ctl_support.h"

#define NODES 3
#define MAX_ACKS 4096

/* ---- a writer posting notes while leadership moves ---------------------- */

struct ack {
    long long index;
    char text[32];
};

struct writer {
    struct h_cluster *c;
    pthread_t thread;
    atomic_bool stop;
    atomic_int skip;   /* a node not to write to (stopped), or -1 */
    atomic_int nacked; /* acks[0 .. nacked) are filled */
    struct ack acks[MAX_ACKS];
};

/* Posts numbered notes one after the other, to the node that took the last
 * one, moving on to the next running node on anything but 201: a refusal
 * during the transfer (503), a 307 from a follower, a stopped node. */
static void *write_notes(void *arg)
{
    struct writer *w = arg;
    int at = 0;
    for (int k = 0; !atomic_load(&w->stop) && atomic_load(&w->nacked) < MAX_ACKS; k++) {
        if (at == atomic_load(&w->skip))
            at = (at + 1) % NODES;
        char body[64], text[32];
        snprintf(text, sizeof text, "w-%d", k);
        snprintf(body, sizeof body, "{\"note\":\"%s\"}", text);
        long st = 0;
        char *ans = h_http_request(w->c, at, "POST", "/ledger/notes", body, w->c->token, 2000, &st);
        json_t *j = st == 201 && ans ? json_loads(ans, 0, NULL) : NULL;
        free(ans);
        if (!j) {
            at = (at + 1) % NODES;
            continue;
        }
        int n = atomic_load(&w->nacked);
        w->acks[n].index = json_integer_value(json_object_get(j, "last_index"));
        snprintf(w->acks[n].text, sizeof w->acks[n].text, "%s", text);
        atomic_store(&w->nacked, n + 1);
        json_decref(j);
    }
    return NULL;
}

struct acked_past {
    struct writer *w;
    int n;
};

static bool acked_past(void *arg)
{
    struct acked_past *a = arg;
    return atomic_load(&a->w->nacked) >= a->n;
}

static void wait_acks(struct writer *w, int n)
{
    struct acked_past a = {w, n};
    if (!h_wait_until(acked_past, &a, 2 * h_timeout_ms()))
        fail_msg("the writer got %d acknowledgements, waited for %d", atomic_load(&w->nacked), n);
}

/* The note at index on node i. */
static bool note_at(struct h_cluster *c, int i, long long index, const char *text)
{
    char path[96];
    snprintf(path, sizeof path, "/ledger?from=%lld&limit=1", index);
    long st;
    json_t *j = h_http_get_json(c, i, path, &st);
    const json_t *e = json_array_get(json_object_get(j, "entries"), 0);
    bool ok = e && json_integer_value(json_object_get(e, "index")) == index &&
              json_is_string(json_object_get(e, "data")) &&
              strcmp(json_string_value(json_object_get(e, "data")), text) == 0;
    json_decref(j);
    return ok;
}

/* The line of node i's log that holds needle, copied into out. */
static bool log_line(const struct h_cluster *c, int i, const char *needle, char *out, size_t len)
{
    char *log = h_read_file(c->nodes[i].log);
    const char *p = log ? strstr(log, needle) : NULL;
    if (p) {
        const char *b = p, *e = strchr(p, '\n');
        while (b > log && b[-1] != '\n')
            b--;
        size_t n = e ? (size_t)(e - b) : strlen(b);
        snprintf(out, len, "%.*s", (int)(n < len ? n : len - 1), b);
    }
    free(log);
    return p != NULL;
}

/* ---- SIGTERM ----------------------------------------------------------- */

static void test_sigterm_on_the_leader_hands_over_and_no_acknowledged_note_is_lost(void **state)
{
    struct h_cluster *c = *state;
    unsigned long long term;
    int old = h_start_leader(c, "test_leader_transfer", 0, &term);
    static struct writer w;
    memset(&w, 0, sizeof w);
    w.c = c;
    atomic_store(&w.skip, -1);
    assert_int_equal(pthread_create(&w.thread, NULL, write_notes, &w), 0);
    wait_acks(&w, 20);

    h_node_signal(c, old, SIGTERM);
    int status;
    if (!h_node_wait_exit(c, old, 2 * h_timeout_ms(), &status))
        fail_msg("%s did not exit after SIGTERM (log: %s)", c->nodes[old].id, c->nodes[old].log);
    atomic_store(&w.skip, old);
    char start_line[512], done_line[512];
    if (!log_line(c, old, "consensus.transfer.start", start_line, sizeof start_line) ||
        !log_line(c, old, "consensus.transfer.done", done_line, sizeof done_line))
        fail_msg("%s stopped without handing over (log: %s)", c->nodes[old].id, c->nodes[old].log);

    int alive[NODES - 1], k = 0;
    for (int i = 0; i < NODES; i++)
        if (i != old)
            alive[k++] = i;
    int leader;
    unsigned long long t2;
    if (!h_wait_agreed_among(c, alive, k, term, 2 * h_timeout_ms(), &leader, &t2))
        fail_msg("the others never agreed on a new leader: %s", h_views_line(c));
    /* The target stood at once on TIMEOUT_NOW: the very next term, and the
     * member the old leader named. */
    assert_int_equal(t2, term + 1);
    char named[64];
    snprintf(named, sizeof named, "hands leadership to %s ", c->nodes[leader].id);
    if (!strstr(start_line, named))
        fail_msg("%s leads, but the transfer named another: %s", c->nodes[leader].id, start_line);
    snprintf(named, sizeof named, "%s leads in term %llu", c->nodes[leader].id, t2);
    if (!strstr(done_line, named))
        fail_msg("expected \"%s\" in: %s", named, done_line);

    int before = atomic_load(&w.nacked);
    wait_acks(&w, before + 20);
    atomic_store(&w.stop, true);
    pthread_join(w.thread, NULL);
    int n = atomic_load(&w.nacked);
    for (int i = 0; i < n; i++)
        if (!note_at(c, leader, w.acks[i].index, w.acks[i].text))
            fail_msg("acknowledged note %s (index %lld) is not in %s's ledger", w.acks[i].text,
                     w.acks[i].index, c->nodes[leader].id);
    h_cluster_pass(c);
}

/* ---- POST /leader/transfer --------------------------------------------- */

static int a_follower(int leader)
{
    return (leader + 1) % NODES;
}

static void test_post_leader_transfer_moves_leadership_to_the_member_named(void **state)
{
    struct h_cluster *c = *state;
    unsigned long long term;
    int leader = h_start_leader(c, "test_leader_transfer", 0, &term), to = a_follower(leader);
    char body[64];
    snprintf(body, sizeof body, "{\"to\":\"%s\"}", c->nodes[to].id);
    long st;
    char *ans = h_http_request(c, leader, "POST", "/leader/transfer", body, c->token, 0, &st);
    json_t *j = ans ? json_loads(ans, 0, NULL) : NULL;
    if (st != 200 || !j)
        fail_msg("POST /leader/transfer: %ld %s", st, ans ? ans : "");
    assert_string_equal(json_string_value(json_object_get(j, "from")), c->nodes[leader].id);
    assert_string_equal(json_string_value(json_object_get(j, "to")), c->nodes[to].id);
    assert_int_equal(json_integer_value(json_object_get(j, "term")), term + 1);
    json_decref(j);
    free(ans);
    int now;
    unsigned long long t2;
    if (!h_wait_agreed(c, term, 2 * h_timeout_ms(), &now, &t2))
        fail_msg("no agreement after the transfer: %s", h_views_line(c));
    assert_int_equal(now, to);
    assert_int_equal(t2, term + 1);
    h_cluster_pass(c);
}

static void test_post_leader_transfer_is_refused_when_it_cannot_run(void **state)
{
    struct h_cluster *c = *state;
    int leader = h_start_leader(c, "test_leader_transfer", 0, NULL), follower = a_follower(leader);
    long st;
    char body[64];
    /* A follower sends the client to the leader. */
    free(h_http_request(c, follower, "POST", "/leader/transfer", NULL, c->token, 0, &st));
    assert_int_equal(st, 307);
    free(h_http_request(c, leader, "POST", "/leader/transfer", "{\"to\":\"nosuch\"}", c->token, 0,
                        &st));
    assert_int_equal(st, 409);
    snprintf(body, sizeof body, "{\"to\":\"%s\"}", c->nodes[leader].id);
    char *ans = h_http_request(c, leader, "POST", "/leader/transfer", body, c->token, 0, &st);
    assert_int_equal(st, 409);
    assert_non_null(ans && strstr(ans, "leads already: nothing to do"));
    free(ans);
    free(h_http_request(c, leader, "POST", "/leader/transfer", "{\"to\":7}", c->token, 0, &st));
    assert_int_equal(st, 400);
    free(h_http_request(c, leader, "POST", "/leader/transfer", NULL, NULL, 0, &st));
    assert_int_equal(st, 401);
    h_cluster_pass(c);
}

/* ---- chimeractl leader transfer ---------------------------------------- */

static void test_chimeractl_leader_transfer_moves_leadership_and_says_to_whom(void **state)
{
    struct h_cluster *c = *state;
    unsigned long long term;
    int leader = h_start_leader(c, "test_leader_transfer", 0, &term), follower = a_follower(leader);
    /* Asked of a follower: the 307 is followed; no --to: the most up to
     * date follower. */
    struct run r = CTL(c, follower, "--token-file", c->token_file, "leader", "transfer", "--json");
    EXPECT(r.code == 0, r);
    json_t *j = json_loads(r.out, 0, NULL);
    EXPECT(j && strcmp(json_string_value(json_object_get(j, "from")), c->nodes[leader].id) == 0, r);
    int to = h_node_index(c, json_string_value(json_object_get(j, "to")));
    EXPECT(to >= 0 && to != leader, r);
    json_decref(j);
    run_free(&r);
    int now;
    unsigned long long t2;
    if (!h_wait_agreed(c, term, 2 * h_timeout_ms(), &now, &t2))
        fail_msg("no agreement after the transfer: %s", h_views_line(c));
    assert_int_equal(now, to);
    r = CTL(c, now, "--token-file", c->token_file, "leader", "transfer", "--to", "nosuch");
    EXPECT(r.code == 8 /* conflict */ && strstr(r.err, "nosuch"), r);
    run_free(&r);
    r = CTL(c, now, "leader", "move");
    EXPECT(r.code == 2 /* usage */, r);
    run_free(&r);
    r = CTL(c, -1, "leader", "transfer", "--help");
    EXPECT(r.code == 0 && strstr(r.out, "Usage: chimeractl leader transfer"), r);
    run_free(&r);
    h_cluster_pass(c);
}

/* Asking for the leader it has is no error: what was asked holds, nothing
 * is done (no election), and the output says so plainly. */
static void test_chimeractl_leader_transfer_to_the_leader_says_so_and_exits_0(void **state)
{
    struct h_cluster *c = *state;
    unsigned long long term;
    int leader = h_start_leader(c, "test_leader_transfer", 0, &term), follower = a_follower(leader);
    const char *id = c->nodes[leader].id;
    /* Through a follower: the 409 comes from the leader after the 307. */
    struct run r =
        CTL(c, follower, "--token-file", c->token_file, "leader", "transfer", "--to", id);
    char want[96];
    snprintf(want, sizeof want, "%s is already the leader (term %llu); nothing was done", id, term);
    EXPECT(r.code == 0 && strstr(r.out, want) && !strstr(r.err, "voting member"), r);
    run_free(&r);
    r = CTL(c, leader, "--token-file", c->token_file, "leader", "transfer", "--to", id, "--json");
    json_t *j = json_loads(r.out, 0, NULL);
    EXPECT(r.code == 0 && j && strcmp(json_string_value(json_object_get(j, "to")), id) == 0 &&
               json_is_false(json_object_get(j, "transferred")),
           r);
    json_decref(j);
    run_free(&r);
    int now;
    unsigned long long t2;
    if (!h_wait_agreed(c, 0, 2 * h_timeout_ms(), &now, &t2))
        fail_msg("no agreement: %s", h_views_line(c));
    assert_int_equal(now, leader);
    assert_int_equal(t2, term);
    h_cluster_pass(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_sigterm_on_the_leader_hands_over_and_no_acknowledged_note_is_lost,
            h_setup_three_nodes_for_transfer, h_teardown_cluster),
        cmocka_unit_test_setup_teardown(
            test_post_leader_transfer_moves_leadership_to_the_member_named,
            h_setup_three_nodes_for_transfer, h_teardown_cluster),
        cmocka_unit_test_setup_teardown(test_post_leader_transfer_is_refused_when_it_cannot_run,
                                        h_setup_three_nodes_for_transfer, h_teardown_cluster),
        cmocka_unit_test_setup_teardown(
            test_chimeractl_leader_transfer_moves_leadership_and_says_to_whom,
            h_setup_three_nodes_for_transfer, h_teardown_cluster),
        cmocka_unit_test_setup_teardown(
            test_chimeractl_leader_transfer_to_the_leader_says_so_and_exits_0,
            h_setup_three_nodes_for_transfer, h_teardown_cluster),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
