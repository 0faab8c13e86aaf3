/* Integration: witnesses on three real chimerad processes. Every member's
 * key is recorded in the ledger; checkpoints over the committed head are
 * cosigned and notarized on every node; a node that comes back with a new
 * key is rotated on the record and cosigns with it; read-only episodes of
 * followers and of a deposed leader are recorded by the next leader;
 * elections raise no malformed-message drops. Every
 * wait is on a condition, never on time. */
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

#include "harness.h"
#include "harness_fixture.h"
#include "harness_release.h"

#define NODES 3
#define ROUNDS 3 /* elections in test_elections_raise_no_malformed_checkpoint_drops */

static json_t *head(struct h_cluster *c, int i)
{
    long st = 0;
    json_t *h = h_http_get_json(c, i, "/ledger/head", &st);
    if (st != 200) {
        json_decref(h);
        return NULL;
    }
    return h;
}

/* Node i's own public key, as it reports it. */
static char *node_pubkey(struct h_cluster *c, int i)
{
    json_t *h = head(c, i);
    assert_non_null(h);
    char *pk = strdup(json_string_value(json_object_get(h, "node_pubkey")));
    json_decref(h);
    return pk;
}

/* Every entry node i holds (the test ledgers stay small). */
static json_t *entries(struct h_cluster *c, int i)
{
    long st = 0;
    json_t *page = h_http_get_json(c, i, "/ledger?from=1&limit=1000", &st);
    json_t *e = page ? json_incref(json_object_get(page, "entries")) : NULL;
    json_decref(page);
    return e ? e : json_array();
}

/* The key node i's ledger records for member id after its last membership
 * change ("" when none, or removed). */
static void recorded_key(struct h_cluster *c, int i, const char *id, char out[80])
{
    out[0] = '\0';
    json_t *all = entries(c, i);
    size_t k;
    json_t *e;
    json_array_foreach(all, k, e)
    {
        if (strcmp(json_string_value(json_object_get(e, "type")), "membership") != 0)
            continue;
        json_t *d = json_object_get(e, "data");
        if (strcmp(json_string_value(json_object_get(d, "node")), id) != 0)
            continue;
        if (strcmp(json_string_value(json_object_get(d, "op")), "add") == 0)
            snprintf(out, 80, "%s", json_string_value(json_object_get(d, "pubkey")));
        else
            out[0] = '\0';
    }
    json_decref(all);
}

struct keys_arg {
    struct h_cluster *c;
    char *pk[NODES];
};

/* Every node's ledger records every member's current key. */
static bool keys_recorded(void *arg)
{
    struct keys_arg *a = arg;
    for (int i = 0; i < a->c->n; i++)
        for (int m = 0; m < a->c->n; m++) {
            char got[80];
            recorded_key(a->c, i, a->c->nodes[m].id, got);
            if (strcmp(got, a->pk[m]) != 0)
                return false;
        }
    return true;
}

static void expect_keys_recorded(struct h_cluster *c)
{
    struct keys_arg a = {.c = c};
    for (int i = 0; i < c->n; i++)
        a.pk[i] = node_pubkey(c, i);
    bool ok = h_wait_until(keys_recorded, &a, h_timeout_ms());
    for (int i = 0; i < c->n; i++)
        free(a.pk[i]);
    if (!ok)
        fail_msg("the members' keys never all reached every ledger");
}

struct notarized_arg {
    struct h_cluster *c;
    json_int_t at_least;
    const char *must_sign; /* a member that must be among the signers, or NULL */
    const char *with_key;  /* ... with this key */
    int on;                /* ... of the checkpoint this node holds (the leader: witnesses may
                            * hold the notarized form without a late cosignature) */
};

static bool signed_by(const json_t *cp, const char *id, const char *key)
{
    size_t k;
    json_t *s;
    json_array_foreach(json_object_get(cp, "signatures"), k, s)
    {
        if (strcmp(json_string_value(json_object_get(s, "signer")), id) == 0 &&
            (!key || strcmp(json_string_value(json_object_get(s, "pubkey")), key) == 0))
            return true;
    }
    return false;
}

/* Every node holds the same notarized checkpoint at or beyond at_least. */
static bool notarized_everywhere(void *arg)
{
    struct notarized_arg *a = arg;
    char first[80] = "";
    bool ok = true;
    for (int i = 0; ok && i < a->c->n; i++) {
        json_t *h = head(a->c, i);
        json_t *cp = h ? json_object_get(h, "checkpoint") : NULL;
        const char *hh = cp ? json_string_value(json_object_get(cp, "head_hash")) : NULL;
        ok = cp && json_is_object(cp) && hh &&
             json_integer_value(json_object_get(cp, "index")) >= a->at_least &&
             json_is_true(json_object_get(cp, "notarized")) &&
             (!a->must_sign || i != a->on || signed_by(cp, a->must_sign, a->with_key)) &&
             (i == 0 || strcmp(first, hh) == 0);
        if (ok && i == 0)
            snprintf(first, sizeof(first), "%s", hh);
        json_decref(h);
    }
    return ok;
}

static void expect_notarized(struct h_cluster *c, json_int_t at_least, const char *signer,
                             const char *key, int on)
{
    struct notarized_arg a = {
        .c = c, .at_least = at_least, .must_sign = signer, .with_key = key, .on = on};
    if (!h_wait_until(notarized_everywhere, &a, h_timeout_ms())) {
        for (int i = 0; i < c->n; i++) {
            json_t *h = head(c, i);
            char *text = h ? json_dumps(h, JSON_COMPACT) : NULL;
            fprintf(stderr, "%s: %s\n", c->nodes[i].id, text ? text : "(no head)");
            free(text);
            json_decref(h);
        }
        fail_msg("no notarized checkpoint at index >= %lld on every node%s%s", (long long)at_least,
                 signer ? " signed by " : "", signer ? signer : "");
    }
}

struct cp_arg {
    struct h_cluster *c;
    int node;
    json_int_t at_least;
};

/* Node holds a notarized checkpoint at or beyond at_least. */
static bool holds_notarized(void *arg)
{
    struct cp_arg *a = arg;
    long st = 0;
    json_t *h = h_http_get_json(a->c, a->node, "/ledger/head", &st);
    json_t *cp = h ? json_object_get(h, "checkpoint") : NULL;
    bool ok = st == 200 && json_is_object(cp) &&
              json_integer_value(json_object_get(cp, "index")) >= a->at_least &&
              json_is_true(json_object_get(cp, "notarized"));
    json_decref(h);
    return ok;
}

/* No running node dropped a message as malformed or misshapen, nor
 * raised a transport.malformed event. */
static void expect_no_malformed(struct h_cluster *c, const char *when)
{
    for (int i = 0; i < c->n; i++) {
        if (!h_node_up(c, i))
            continue;
        double shape = -1, malformed = -1;
        assert_true(h_metric(c, i, "chimera_messages_dropped_total{reason=\"shape\"}", &shape));
        assert_true(
            h_metric(c, i, "chimera_messages_dropped_total{reason=\"malformed\"}", &malformed));
        if (shape != 0 || malformed != 0 || h_event_seq(c, i, "transport.malformed", NULL, 0))
            fail_msg("%s %s: %g messages dropped for their shape, %g malformed (log: %s)",
                     c->nodes[i].id, when, shape, malformed, c->nodes[i].log);
    }
}

/* An honest federation raises no malformed-message warnings however often
 * it elects a leader: a new leader does not relay the checkpoint its
 * predecessor signed (witnesses take a checkpoint only from the member that
 * signed it first), and notarization carries on with its own checkpoints.
 * Each round makes the case where the relay happened: follower b is
 * stopped, a note is checkpointed by the leader and cosigned by follower a
 * (a holds the leader's checkpoint without b's signature), the leader is
 * killed and b comes back: a wins (its log is longer) and holds a
 * checkpoint b never signed. */
static void test_elections_raise_no_malformed_checkpoint_drops(void **state)
{
    struct h_cluster *c = *state;
    unsigned long long term;
    int leader = h_start_leader(c, "test_witness", 0, &term);
    for (int round = 0; round < ROUNDS; round++) {
        int a = (leader + 1) % NODES, b = (leader + 2) % NODES;
        assert_int_equal(h_node_stop(c, b), 0);
        char text[32];
        snprintf(text, sizeof(text), "round-%d", round);
        struct cp_arg arg = {.c = c, .node = a, .at_least = h_note_committed(c, leader, text)};
        if (!h_wait_until(holds_notarized, &arg, h_timeout_ms()))
            fail_msg("round %d: %s never held a notarized checkpoint at %lld", round,
                     c->nodes[a].id, (long long)arg.at_least);
        expect_no_malformed(c, "before the leader was killed");

        h_node_kill(c, leader);
        assert_int_equal(h_node_start(c, b), 0);
        int pair[2] = {a, b}, next;
        if (!h_wait_agreed_among(c, pair, 2, term, h_timeout_ms(), &next, &term))
            fail_msg("round %d: no new leader: %s", round, h_views_line(c));
        /* The new leader checkpoints its own commit index: notarization
         * goes on without the predecessor's checkpoint being relayed. */
        arg.node = b;
        arg.at_least = h_note_committed(c, next, text);
        if (!h_wait_until(holds_notarized, &arg, h_timeout_ms()))
            fail_msg("round %d: %s never held a notarized checkpoint of the new leader at %lld",
                     round, c->nodes[b].id, (long long)arg.at_least);
        expect_no_malformed(c, "after the election");

        assert_int_equal(h_node_start(c, leader), 0);
        if (!h_wait_agreed(c, 0, h_timeout_ms(), &leader, &term))
            fail_msg("round %d: no leader agreed by all: %s", round, h_views_line(c));
        expect_no_malformed(c, "after the old leader came back");
    }
    h_cluster_pass(c);
}

/* A new leader checkpoints a heartbeat after its election, not in the turn
 * it won (notary_elected): wait for one on every node before stopping. */
static void stop_and_verify_all(struct h_cluster *c)
{
    expect_notarized(c, 1, NULL, NULL, -1);
    for (int i = 0; i < c->n; i++)
        assert_int_equal(h_node_stop(c, i), 0);
    for (int i = 0; i < c->n; i++) {
        json_t *r = h_ledger_verify(c, i);
        /* The keys come from the ledger's own membership entries. */
        assert_string_equal(json_string_value(json_object_get(r, "keys_from")), "membership");
        assert_int_equal(json_integer_value(json_object_get(r, "keys")), NODES);
        assert_true(json_integer_value(json_object_get(r, "last_notarized")) > 0);
        json_decref(r);
    }
}

static void test_every_members_key_is_recorded_in_every_ledger(void **state)
{
    struct h_cluster *c = *state;
    unsigned long long term;
    h_start_leader(c, "test_witness", 0, &term);
    expect_keys_recorded(c);
    stop_and_verify_all(c);
    h_cluster_pass(c);
}

static void test_checkpoints_are_cosigned_and_notarized_on_every_node(void **state)
{
    struct h_cluster *c = *state;
    unsigned long long term;
    int leader = h_start_leader(c, "test_witness", 0, &term);
    json_int_t last = 0;
    for (int k = 0; k < 5; k++)
        last = h_note_committed(c, leader, "witnessed");
    expect_notarized(c, last, NULL, NULL, -1);
    /* The leader signs first; the others cosign. */
    json_t *h = head(c, leader);
    json_t *sigs = json_object_get(json_object_get(h, "checkpoint"), "signatures");
    assert_true(json_array_size(sigs) >= 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(sigs, 0), "signer")),
                        c->nodes[leader].id);
    json_decref(h);
    double stored = 0;
    assert_true(h_metric(c, leader, "chimera_ledger_checkpoints_total", &stored));
    assert_true(stored >= 1);
    stop_and_verify_all(c);
    h_cluster_pass(c);
}

/* Starts the federation, waits until every key is on record, and stops a
 * follower: its index, with its recorded key in *old (malloc'd). */
static int stop_recorded_follower(struct h_cluster *c, char **old)
{
    unsigned long long term;
    int leader = h_start_leader(c, "test_witness", 0, &term);
    expect_keys_recorded(c);
    int i = (leader + 1) % c->n;
    *old = node_pubkey(c, i);
    assert_int_equal(h_node_stop(c, i), 0);
    return i;
}

/* Node i, just started again, serves with a key other than old, and every
 * ledger records the new one. Returns the leader all agree on since, with
 * the new key in *fresh (malloc'd). */
static int expect_rotated(struct h_cluster *c, int i, const char *old, char **fresh)
{
    if (!h_wait_http_up(c, i, h_timeout_ms()))
        fail_msg("%s did not come back (log: %s)", c->nodes[i].id, c->nodes[i].log);
    *fresh = node_pubkey(c, i);
    assert_string_not_equal(old, *fresh);
    expect_keys_recorded(c); /* the new key replaced the old one everywhere */
    int leader;
    unsigned long long term;
    if (!h_wait_agreed(c, 0, h_timeout_ms(), &leader, &term))
        fail_msg("no leader agreed: %s", h_views_line(c));
    return leader;
}

static void test_a_wiped_node_is_rotated_to_its_new_key_and_cosigns_with_it(void **state)
{
    struct h_cluster *c = *state;
    char *old, *fresh;
    int wiped = stop_recorded_follower(c, &old);
    char cmd[H_PATH_MAX + 16];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", c->nodes[wiped].data);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(h_node_start(c, wiped), 0);
    int now_leader = expect_rotated(c, wiped, old, &fresh);
    json_int_t last = h_note_committed(c, now_leader, "after the wipe");
    if (now_leader != wiped)
        expect_notarized(c, last, c->nodes[wiped].id, fresh, now_leader);
    free(old);
    free(fresh);
    stop_and_verify_all(c);
    h_cluster_pass(c);
}

/* Rewrites node i's DATA/node.key (stopped) with text; the file keeps its
 * mode (0600). */
static void write_node_key(struct h_cluster *c, int i, const char *text)
{
    char path[H_PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/node.key", c->nodes[i].data);
    FILE *f = fopen(path, "we");
    assert_non_null(f);
    assert_true(fputs(text, f) >= 0);
    assert_int_equal(fclose(f), 0);
}

/* Starts stopped node i and expects it to exit with `code` at once; its
 * stderr (malloc'd). */
static char *expect_start_refused(struct h_cluster *c, int i, int code, const char *what)
{
    char errpath[H_PATH_MAX + 32];
    snprintf(errpath, sizeof errpath, "%s/%s-%s.err", c->dir, c->nodes[i].id, what);
    struct h_start o = {.stderr_path = errpath};
    assert_int_equal(h_node_start_opts(c, i, &o), 0);
    int st;
    if (!h_node_wait_exit(c, i, h_timeout_ms(), &st))
        fail_msg("%s kept running with a %s node.key", c->nodes[i].id, what);
    char *err = h_read_file(errpath);
    assert_non_null(err);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != code || h_count_lines(err) != 1)
        fail_msg("%s node.key: want exit %d and one line; got %s %d and stderr:\n%s", what, code,
                 WIFEXITED(st) ? "exit" : "signal", WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st),
                 err);
    return err;
}

/* One hex digit of node.key changed: the ledger pins the old key, so the
 * node refuses to take a new identity, unless told that the key was
 * replaced on purpose; then the leader rotates it on the record. */
static void test_a_changed_node_key_is_refused_unless_replaced_on_purpose(void **state)
{
    struct h_cluster *c = *state;
    char *old, *fresh;
    int victim = stop_recorded_follower(c, &old);
    char path[H_PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/node.key", c->nodes[victim].data);
    char *key = h_read_file(path);
    assert_non_null(key);
    assert_int_equal(strlen(key), 65); /* 64 hex digits and a newline */
    key[10] = key[10] == '0' ? '1' : '0';
    write_node_key(c, victim, key);
    free(key);

    char *err = expect_start_refused(c, victim, 2, "changed");
    char want[17];
    snprintf(want, sizeof want, "%.16s", old);
    if (!strstr(err, path) || !strstr(err, want) || !strstr(err, "--replace-node-key"))
        fail_msg("the refusal should name %s, the pinned key %s... and the flag:\n%s", path, want,
                 err);
    free(err);

    const char *const flag[] = {"--replace-node-key", NULL};
    struct h_start o = {.extra = flag};
    assert_int_equal(h_node_start_opts(c, victim, &o), 0);
    int now_leader = expect_rotated(c, victim, old, &fresh);
    if (now_leader != victim) {
        const char *id = c->nodes[victim].id;
        assert_true(
            h_wait_event(c, now_leader, "ledger.member_key_retired", id, 0, h_timeout_ms()));
        assert_true(
            h_wait_event(c, now_leader, "ledger.member_key_recorded", id, 0, h_timeout_ms()));
    }
    free(old);
    free(fresh);
    stop_and_verify_all(c);
    h_cluster_pass(c);
}

static void test_a_malformed_node_key_is_refused(void **state)
{
    struct h_cluster *c = *state;
    assert_int_equal(h_node_start(c, 0), 0);
    if (!h_wait_http_up(c, 0, h_timeout_ms()))
        fail_msg("n1 did not start (log: %s)", c->nodes[0].log);
    assert_int_equal(h_node_stop(c, 0), 0);
    write_node_key(c, 0, "not a key\n");
    char *err = expect_start_refused(c, 0, 1, "malformed");
    if (!strstr(err, "node.key") || !strstr(err, "64 hex digits"))
        fail_msg("the refusal should name node.key and what it must hold:\n%s", err);
    free(err);
    h_cluster_pass(c);
}

struct episode_arg {
    struct h_cluster *c;
    int reader;
    const char *node;
    int was_leader; /* -1: either */
};

/* The reader's ledger holds an enter entry for node (with was_leader as
 * asked) followed by that node's exit entry. */
static bool episode_recorded(void *arg)
{
    struct episode_arg *a = arg;
    json_t *all = entries(a->c, a->reader);
    bool entered = false, done = false;
    size_t k;
    json_t *e;
    json_array_foreach(all, k, e)
    {
        const char *type = json_string_value(json_object_get(e, "type"));
        json_t *d = json_object_get(e, "data");
        const char *node = json_string_value(json_object_get(d, "node"));
        if (!node || strcmp(node, a->node) != 0)
            continue;
        if (strcmp(type, "read_only_enter") == 0 &&
            (a->was_leader < 0 ||
             json_is_true(json_object_get(d, "was_leader")) == (a->was_leader == 1)))
            entered = true;
        else if (entered && strcmp(type, "read_only_exit") == 0)
            done = json_integer_value(json_object_get(d, "at_ms")) > 0;
    }
    json_decref(all);
    return done;
}

static void expect_episode(struct h_cluster *c, int reader, const char *node, int was_leader)
{
    struct episode_arg a = {.c = c, .reader = reader, .node = node, .was_leader = was_leader};
    if (!h_wait_until(episode_recorded, &a, h_timeout_ms()))
        fail_msg("%s's ledger never recorded a read-only episode of %s (was_leader %d)",
                 c->nodes[reader].id, node, was_leader);
}

static void test_followers_of_a_killed_leader_have_their_read_only_episode_recorded(void **state)
{
    struct h_cluster *c = *state;
    unsigned long long t1, t2;
    int l1 = h_start_leader(c, "test_witness", 0, &t1);
    h_node_kill(c, l1);
    int l2;
    if (!h_wait_agreed(c, t1, h_timeout_ms(), &l2, &t2))
        fail_msg("no new leader: %s", h_views_line(c));
    for (int i = 0; i < c->n; i++)
        if (i != l1)
            expect_episode(c, l2, c->nodes[i].id, 0);
    h_cluster_pass(c);
}

static void test_a_deposed_leader_has_its_step_down_recorded(void **state)
{
    struct h_cluster *c = *state;
    unsigned long long t1, t2;
    int l1 = h_start_leader(c, "test_witness", 0, &t1);
    /* Frozen, the leader is cut off; the others elect a new one. */
    h_node_pause(c, l1);
    int l2;
    int others[NODES - 1], k = 0;
    for (int i = 0; i < c->n; i++)
        if (i != l1)
            others[k++] = i;
    if (!h_wait_agreed_among(c, others, k, t1, h_timeout_ms(), &l2, &t2))
        fail_msg("no new leader among the others: %s", h_views_line(c));
    h_node_resume(c, l1);
    /* Thawed, it finds its quorum gone, steps down, follows, and reports. */
    expect_episode(c, l2, c->nodes[l1].id, 1);
    h_cluster_pass(c);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, h_setup_three_nodes, h_teardown_cluster)
    const struct CMUnitTest tests[] = {
        T(test_every_members_key_is_recorded_in_every_ledger),
        T(test_checkpoints_are_cosigned_and_notarized_on_every_node),
        T(test_a_wiped_node_is_rotated_to_its_new_key_and_cosigns_with_it),
        T(test_followers_of_a_killed_leader_have_their_read_only_episode_recorded),
        T(test_a_deposed_leader_has_its_step_down_recorded),
        T(test_elections_raise_no_malformed_checkpoint_drops),
        T(test_a_changed_node_key_is_refused_unless_replaced_on_purpose),
        T(test_a_malformed_node_key_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
