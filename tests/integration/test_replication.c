/* Integration: three real chimerad processes replicate the ledger through
 * the consensus core. Notes posted to the leader are answered once
 * committed and reach every node with the same head; a follower points at
 * the leader (307); a killed leader's successor takes notes and the old
 * leader, restarted, catches up; every stopped node's ledger verifies
 * offline. Every wait is on a condition, never on time. */
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
#include "harness_release.h"

#define NODES 3

/* POSTs body to /ledger/notes on node i with the token. */
static json_t *post_notes(struct h_cluster *c, int i, const char *body, long *status)
{
    char *text = h_http_request(c, i, "POST", "/ledger/notes", body, c->token, 0, status);
    json_t *j = text ? json_loads(text, 0, NULL) : NULL;
    free(text);
    return j;
}

struct post_arg {
    struct h_cluster *c;
    int node;
    const char *body;
    json_int_t last; /* out: last_index of the 201 */
};

static bool posted(void *arg)
{
    struct post_arg *a = arg;
    long st = 0;
    json_t *j = post_notes(a->c, a->node, a->body, &st);
    bool ok = st == 201;
    if (ok)
        a->last = json_integer_value(json_object_get(j, "last_index"));
    json_decref(j);
    return ok;
}

/* Posts until the leader answers 201 (a brand-new leader may still lose
 * its office); returns the last index. */
static json_int_t post_committed(struct h_cluster *c, int leader, const char *body)
{
    struct post_arg a = {.c = c, .node = leader, .body = body};
    if (!h_wait_until(posted, &a, h_timeout_ms()))
        fail_msg("%s never committed %s: %s", c->nodes[leader].id, body, h_views_line(c));
    return a.last;
}

struct heads_arg {
    struct h_cluster *c;
    json_int_t at_least;
    char hash[80];
};

/* Every node reports the same head, at or beyond at_least. */
static bool same_heads(void *arg)
{
    struct heads_arg *a = arg;
    json_int_t index0 = -1;
    bool ok = true;
    for (int i = 0; ok && i < a->c->n; i++) {
        long st = 0;
        json_t *h = h_http_get_json(a->c, i, "/ledger/head", &st);
        json_int_t index = json_integer_value(json_object_get(h, "index"));
        const char *hash = json_string_value(json_object_get(h, "hash"));
        if (st != 200 || !hash || index < a->at_least || (i > 0 && index != index0) ||
            (i > 0 && strcmp(hash, a->hash) != 0))
            ok = false;
        else if (i == 0) {
            index0 = index;
            snprintf(a->hash, sizeof(a->hash), "%s", hash);
        }
        json_decref(h);
    }
    return ok;
}

static void expect_same_heads(struct h_cluster *c, json_int_t at_least)
{
    struct heads_arg a = {.c = c, .at_least = at_least};
    if (!h_wait_until(same_heads, &a, h_timeout_ms()))
        fail_msg("the nodes never reached one head at index >= %lld", (long long)at_least);
}

/* Stops every node and verifies its ledger offline. */
static void stop_and_verify_all(struct h_cluster *c)
{
    for (int i = 0; i < c->n; i++)
        assert_int_equal(h_node_stop(c, i), 0);
    for (int i = 0; i < c->n; i++)
        json_decref(h_ledger_verify(c, i));
}

static void test_notes_commit_on_every_node_and_followers_redirect(void **state)
{
    struct h_cluster *c = *state;
    unsigned long long term;
    int leader = h_start_leader(c, "test_replication", 0, &term);

    long st = 0;
    json_t *j = post_notes(c, leader, "{\"notes\":[\"one\",\"two\",\"three\"]}", &st);
    if (st != 201)
        fail_msg("leader answered %ld", st);
    json_int_t first = json_integer_value(json_object_get(j, "first_index"));
    json_int_t last = json_integer_value(json_object_get(j, "last_index"));
    assert_true(first >= 2); /* after the election entry */
    assert_int_equal(last, first + 2);
    json_decref(j);
    expect_same_heads(c, last);

    /* The committed index the leader reports covers the notes. */
    j = h_http_get_json(c, leader, "/federation/state", &st);
    assert_true(json_integer_value(json_object_get(json_object_get(j, "ledger"), "committed")) >=
                last);
    json_decref(j);

    /* A follower points at the leader. */
    int follower = (leader + 1) % c->n;
    j = post_notes(c, follower, "{\"note\":\"to a follower\"}", &st);
    assert_int_equal(st, 307);
    assert_string_equal(json_string_value(json_object_get(j, "leader")), c->nodes[leader].id);
    char port[16];
    snprintf(port, sizeof(port), ":%d", c->nodes[leader].http_port);
    const char *http = json_string_value(json_object_get(j, "leader_http"));
    assert_non_null(http);
    assert_non_null(strstr(http, port));
    json_decref(j);

    /* Bad input names the JSON path of the problem. */
    j = post_notes(c, leader, "{\"notes\":[\"a\",\"b\",7]}", &st);
    assert_int_equal(st, 400);
    assert_non_null(strstr(json_string_value(json_object_get(j, "error")), "notes[2]"));
    json_decref(j);

    stop_and_verify_all(c);
    h_cluster_pass(c);
}

static void test_a_killed_leader_restarts_and_catches_up(void **state)
{
    struct h_cluster *c = *state;
    unsigned long long t1, t2;
    int l1 = h_start_leader(c, "test_replication", 0, &t1);
    json_int_t last = post_committed(c, l1, "{\"note\":\"before the kill\"}");
    expect_same_heads(c, last);

    h_node_kill(c, l1);
    int l2;
    if (!h_wait_agreed(c, t1, h_timeout_ms(), &l2, &t2))
        fail_msg("no new leader after killing %s: %s", c->nodes[l1].id, h_views_line(c));
    assert_true(l2 != l1);
    json_int_t last2 = post_committed(c, l2, "{\"notes\":[\"after\",\"the\",\"kill\"]}");
    assert_true(last2 > last);

    assert_int_equal(h_node_start(c, l1), 0);
    if (!h_wait_http_up(c, l1, h_timeout_ms()))
        fail_msg("%s did not come back (log: %s)", c->nodes[l1].id, c->nodes[l1].log);
    expect_same_heads(c, last2);

    stop_and_verify_all(c);
    h_cluster_pass(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_notes_commit_on_every_node_and_followers_redirect,
                                        h_setup_three_nodes, h_teardown_cluster),
        cmocka_unit_test_setup_teardown(test_a_killed_leader_restarts_and_catches_up,
                                        h_setup_three_nodes, h_teardown_cluster),
    };
    return cmocka_run_group_tests_name("replication", tests, NULL, NULL);
}
