/* Integration: a drill's result as a ledger entry of its own (POST /drills,
 * GET /drills) on a real 3-node federation: the record is a chaos entry on
 * every node, a checkpoint's witness quorum notarizes it, `chimeractl drill
 * run` names that checkpoint and `drill history` lists it with its
 * signers; POST /drills is gated as every mutation and a malformed body is
 * refused naming its JSON path while the node keeps running. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <jansson.h>

#include "harness.h"
#include "harness_fixture.h"
#include "ctl_support.h"

#define NODES 3
#define DIGEST "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define RECORD                                                                                     \
    "{\"title\": \"Posted\", \"verdict\": \"held\", \"digest\": \"" DIGEST "\", "                  \
    "\"started_ms\": 1704067200000, \"ended_ms\": 1704067201000, \"by\": \"tester\", "             \
    "\"faults\": [{\"name\": \"kill the leader\", \"kind\": \"kill_node\", \"target\": "           \
    "\"leader\", \"time_to_detect_ms\": 120, \"time_to_recover_ms\": 900, \"slo_ms\": 5000, "      \
    "\"met\": true}]}"

static struct h_cluster *cluster;
static int leader;

static int group_setup(void **state)
{
    (void)state;
    cluster = h_cluster_create(NODES);
    if (!cluster)
        return -1;
    /* What is tested is how drills are recorded, not elections: the tests keep
     * the leader they found, and at the default 150 ms a loaded machine's
     * scheduler alone costs the leader now and then. */
    cluster->election_timeout_ms = 1000;
    return 0;
}

static int setup(void **state)
{
    (void)state;
    if (!cluster->nodes[0].pid)
        leader = h_start_leader(cluster, "test_drills_record", 0, NULL);
    return 0;
}

static json_t *post(int i, const char *body, const char *bearer, long *status)
{
    char *text = h_http_request(cluster, i, "POST", "/drills", body, bearer, 10000, status);
    json_t *j = text ? json_loads(text, 0, NULL) : NULL;
    free(text);
    return j;
}

/* ---- the gate and the body ---- */

static void test_post_drills_without_the_token_is_401_and_with_a_wrong_one_403(void **state)
{
    (void)state;
    long st;
    json_decref(post(leader, RECORD, NULL, &st));
    assert_int_equal(st, 401);
    json_decref(post(leader, RECORD, "not-the-token", &st));
    assert_int_equal(st, 403);
}

static void test_a_malformed_body_is_400_naming_its_path_and_the_node_keeps_running(void **state)
{
    (void)state;
    long st;
    json_t *j = post(leader,
                     "{\"title\": \"T\", \"verdict\": \"held\", \"digest\": \"" DIGEST "\", "
                     "\"started_ms\": 1, \"ended_ms\": 2, \"faults\": [{\"kind\": \"kill_node\", "
                     "\"slo_ms\": \"5s\", \"met\": true}]}",
                     cluster->token, &st);
    assert_int_equal(st, 400);
    assert_string_equal(json_string_value(json_object_get(j, "path")), "faults[0].slo_ms");
    assert_non_null(strstr(json_string_value(json_object_get(j, "error")), "faults[0].slo_ms"));
    json_decref(j);
    j = post(leader, "{\"title\": ", cluster->token, &st); /* not JSON */
    assert_int_equal(st, 400);
    json_decref(j);
    j = post(leader, "{\"verdict\": \"won\"}", cluster->token, &st);
    assert_int_equal(st, 400);
    json_decref(j);
    json_t *live = h_http_get_json(cluster, leader, "/health/live", &st);
    assert_int_equal(st, 200);
    json_decref(live);
}

static void test_a_follower_answers_307_to_the_leader(void **state)
{
    (void)state;
    int follower = (leader + 1) % NODES;
    long st;
    json_t *j = post(follower, RECORD, cluster->token, &st);
    assert_int_equal(st, 307);
    assert_non_null(json_object_get(j, "leader_http"));
    json_decref(j);
}

/* ---- the record ---- */

struct entry_wait {
    int node;
    json_int_t index;
};

/* The first page of one entry of GET PATH?from=INDEX&limit=1 on node i
 * (PATH's list under key), a new reference; NULL when none. */
static json_t *first_of(int i, const char *path, const char *key, json_int_t index)
{
    char url[96];
    long st;
    snprintf(url, sizeof url, "%s?from=%" JSON_INTEGER_FORMAT "&limit=1", path, index);
    json_t *page = h_http_get_json(cluster, i, url, &st);
    json_t *first = json_incref(json_array_get(json_object_get(page, key), 0));
    json_decref(page);
    return json_integer_value(json_object_get(first, "index")) == index
               ? first
               : (json_decref(first), NULL);
}

/* Node w->node lists the drill (committed) and holds it as a chaos entry. */
static bool chaos_entry_there(void *arg)
{
    const struct entry_wait *w = arg;
    json_t *d = first_of(w->node, "/drills", "drills", w->index);
    json_t *e = d ? first_of(w->node, "/ledger", "entries", w->index) : NULL;
    const char *type = json_string_value(json_object_get(e, "type"));
    const char *rec = json_string_value(json_object_get(json_object_get(e, "data"), "record"));
    bool ok = type && rec && strcmp(type, "chaos") == 0 && strcmp(rec, "drill") == 0;
    json_decref(d);
    json_decref(e);
    return ok;
}

/* Node w->node lists the drill notarized by a quorum (2 of 3). */
static bool notarized_there(void *arg)
{
    const struct entry_wait *w = arg;
    json_t *d = first_of(w->node, "/drills", "drills", w->index);
    json_t *n = json_object_get(d, "notarization");
    bool ok = json_integer_value(json_object_get(n, "checkpoint")) >= w->index &&
              json_array_size(json_object_get(n, "signers")) >= 2;
    json_decref(d);
    return ok;
}

static void test_a_posted_record_is_committed_listed_and_notarized_on_every_node(void **state)
{
    (void)state;
    long st;
    unsigned long long before = h_last_event_seq(cluster, leader);
    json_t *j = post(leader, RECORD, cluster->token, &st);
    assert_int_equal(st, 201);
    json_int_t index = json_integer_value(json_object_get(j, "index"));
    assert_true(index > 0);
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "drill"), "verdict")),
                        "held");
    json_decref(j);
    assert_true(h_wait_event(cluster, leader, "drill.recorded", NULL, before, h_timeout_ms()) > 0);
    for (int i = 0; i < NODES; i++) {
        struct entry_wait w = {i, index};
        if (!h_wait_until(chaos_entry_there, &w, h_timeout_ms()))
            fail_msg("node %d does not list drill %" JSON_INTEGER_FORMAT " as a chaos entry", i,
                     index);
        if (!h_wait_until(notarized_there, &w, h_timeout_ms()))
            fail_msg("node %d names no notarizing checkpoint for drill %" JSON_INTEGER_FORMAT, i,
                     index);
    }
    json_t *d = h_http_get_json(cluster, leader, "/drills", &st);
    assert_int_equal(st, 200);
    assert_true(json_is_true(json_object_get(d, "complete")));
    json_t *list = json_object_get(d, "drills"),
           *last = json_array_get(list, json_array_size(list) - 1);
    assert_string_equal(json_string_value(json_object_get(last, "title")), "Posted");
    assert_string_equal(json_string_value(json_object_get(last, "by")), "tester");
    json_t *f = json_array_get(json_object_get(last, "faults"), 0);
    assert_int_equal(json_integer_value(json_object_get(f, "time_to_recover_ms")), 900);
    json_decref(d);
}

static void test_get_drills_pages_oldest_first_and_refuses_a_bad_limit(void **state)
{
    (void)state;
    long st;
    for (int k = 0; k < 2; k++) {
        json_t *j = post(leader, RECORD, cluster->token, &st);
        assert_int_equal(st, 201);
        json_decref(j);
    }
    json_t *page = h_http_get_json(cluster, leader, "/drills?limit=1", &st);
    assert_int_equal(st, 200);
    json_t *list = json_object_get(page, "drills");
    assert_int_equal(json_array_size(list), 1);
    json_int_t first = json_integer_value(json_object_get(json_array_get(list, 0), "index"));
    json_int_t next = json_integer_value(json_object_get(page, "next_from"));
    assert_true(next > first);
    json_decref(page);
    json_decref(h_http_get_json(cluster, leader, "/drills?limit=0", &st));
    assert_int_equal(st, 400);
}

/* ---- chimeractl ---- */

static const char steady_drill[] =
    "{\"title\": \"Steady\", \"steady-state-hypothesis\": {\"probes\": [\n"
    " {\"name\": \"a leader exists\", \"provider\": {\"type\": \"leader_exists\"}}]},\n"
    " \"method\": [{\"name\": \"wait a little\", \"provider\": {\"type\": \"pause\", "
    "\"duration\": \"100ms\"}}]}\n";

static void test_a_drill_run_names_its_notarizing_checkpoint_and_history_lists_it(void **state)
{
    (void)state;
    char file[H_PATH_MAX], journal[H_PATH_MAX];
    snprintf(file, sizeof file, "%s/steady.json", cluster->dir);
    snprintf(journal, sizeof journal, "%s/steady-journal.json", cluster->dir);
    write_file(file, steady_drill);
    struct run r = CTL(cluster, (leader + 1) % NODES, "drill", "run", file, "--journal", journal,
                       "--token-file", cluster->token_file);
    EXPECT(r.code == 0 && strstr(r.out, "Notarized by checkpoint ") && strstr(r.out, "(signed by "),
           r);
    const char *at = strstr(r.out, "Recorded in the ledger at index ");
    EXPECT(at, r);
    json_int_t index = strtoll(at + strlen("Recorded in the ledger at index "), NULL, 10);
    for (int i = 0; i < NODES; i++) {
        struct entry_wait w = {i, index};
        if (!h_wait_until(chaos_entry_there, &w, h_timeout_ms()))
            fail_msg("node %d does not hold drill %" JSON_INTEGER_FORMAT " as a chaos entry", i,
                     index);
    }
    struct entry_wait w = {2, index};
    assert_true(h_wait_until(notarized_there, &w, h_timeout_ms()));
    struct run h = CTL(cluster, 2, "drill", "history", "--json");
    EXPECT(h.code == 0, h);
    json_t *list = json_loads(h.out, 0, NULL), *found = NULL, *d;
    size_t i;
    json_array_foreach(list, i, d) if (json_integer_value(json_object_get(d, "index")) == index)
        found = d;
    EXPECT(found, h);
    EXPECT(strcmp(json_string_value(json_object_get(found, "recorded_as")), "drill") == 0 &&
               strcmp(json_string_value(json_object_get(found, "title")), "Steady") == 0 &&
               json_integer_value(json_object_get(found, "checkpoint")) >= index &&
               json_array_size(
                   json_object_get(json_object_get(found, "notarization"), "signers")) >= 2,
           h);
    json_decref(list);
    run_free(&h);
    h = CTL(cluster, 2, "drill", "history");
    EXPECT(h.code == 0 && strstr(h.out, "Steady") && strstr(h.out, "signed by "), h);
    run_free(&h);
    run_free(&r);
}

/* /drills looks at checkpoints on a timer from its first request on: the
 * node still stops cleanly, leaving no handle open. */
static void test_a_node_that_served_drills_stops_cleanly(void **state)
{
    (void)state;
    int i = (leader + 2) % NODES;
    long st;
    json_decref(h_http_get_json(cluster, i, "/drills", &st));
    assert_int_equal(st, 200);
    int status = h_node_stop(cluster, i);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_false(h_file_contains(cluster->nodes[i].log, "handles left open"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_post_drills_without_the_token_is_401_and_with_a_wrong_one_403, setup, NULL),
        cmocka_unit_test_setup_teardown(
            test_a_malformed_body_is_400_naming_its_path_and_the_node_keeps_running, setup, NULL),
        cmocka_unit_test_setup_teardown(test_a_follower_answers_307_to_the_leader, setup, NULL),
        cmocka_unit_test_setup_teardown(
            test_a_posted_record_is_committed_listed_and_notarized_on_every_node, setup, NULL),
        cmocka_unit_test_setup_teardown(test_get_drills_pages_oldest_first_and_refuses_a_bad_limit,
                                        setup, NULL),
        cmocka_unit_test_setup_teardown(
            test_a_drill_run_names_its_notarizing_checkpoint_and_history_lists_it, setup, NULL),
        cmocka_unit_test_setup_teardown(test_a_node_that_served_drills_stops_cleanly, setup, NULL),
    };
    return h_group_end(cluster, cmocka_run_group_tests(tests, group_setup, NULL));
}
