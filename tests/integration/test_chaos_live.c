/* Integration: the chaos injector on five real chimerad processes (README
 * "Chaos", issue 12's tests): what the safety rules see of the federation
 * (a member cut off and read-only while liveness still calls it alive),
 * delay_messages and kill_node as their targets live them, and the leader's
 * injector at probability 1 for a minute with deployments running: never
 * two faults at once, never one injected during a rollout, checked in the
 * ledger of every node. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "harness.h"
#include "harness_fixture.h"
#include "harness_release.h"
#include "test_chaos_support.h"

#define NODES 5

/* ---- helpers ----------------------------------------------------------- */

/* POST /chaos/inject to node i with body; fails the test unless it answers
 * want. The answer (json_decref it). */
static json_t *inject_expect(struct h_cluster *c, int i, const char *body, long want)
{
    long st;
    json_t *j = chaos_post(c, i, "/chaos/inject", body, &st);
    if (st != want) {
        char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
        fail_msg("POST /chaos/inject %s answered %ld, not %ld: %s", body, st, want,
                 text ? text : "(no JSON)");
    }
    return j;
}

/* The i-th member (from 0) other than the ones listed (-1: none). */
static int member_besides(int a, int b, int nth)
{
    for (int i = 0; i < NODES; i++)
        if (i != a && i != b && nth-- == 0)
            return i;
    return -1;
}

/* A node that says it leads and is not read-only, or -1. */
static int writable_leader(struct h_cluster *c)
{
    for (int i = 0; i < c->n; i++) {
        struct h_view v;
        if (h_node_up(c, i) && h_view(c, i, 500, &v) && strcmp(v.role, "leader") == 0 &&
            !v.read_only)
            return i;
    }
    return -1;
}

static const char *fault_id(const json_t *answer)
{
    const char *id = json_string_value(json_object_get(json_object_get(answer, "fault"), "id"));
    if (!id)
        fail_msg("the answer names no fault id");
    return id;
}

/* ---- what the safety rules see ---------------------------------------- */

/* Liveness that lags far behind the lease: a member cut off stays "alive"
 * to the others for 30 s while it is read-only after an election timeout. */
static const char *const slow_liveness[] = {"--suspect-after-ms", "30000", "--dead-after-ms",
                                            "60000", NULL};

static void the_leader_refuses_to_inject_while_a_member_cut_off_from_it_is_read_only(void **state)
{
    struct h_cluster *c = *state;
    c->node_args = slow_liveness;
    int leader = h_start_leader(c, "test_chaos_live", 0, NULL);
    int m = member_besides(leader, -1, 0), x = member_besides(leader, m, 0);
    char body[256];
    /* m cut off from the leader only: the others still hear it. */
    snprintf(body, sizeof(body),
             "{\"kind\":\"isolate_node\",\"target\":\"%s\",\"peer\":\"%s\",\"duration_ms\":30000}",
             c->nodes[m].id, c->nodes[leader].id);
    json_decref(inject_expect(c, leader, body, 201));
    struct chaos_ro r = {c, m, true};
    if (!h_wait_until(chaos_read_only_is, &r, 2 * h_timeout_ms()))
        fail_msg("%s cut off from the leader never became read-only: %s", c->nodes[m].id,
                 h_views_line(c));
    /* The kill switch on the leader commits a stop that m, cut off, never
     * sees; enabling chaos again leaves no active fault in the ledger while
     * m stays isolated and read-only. */
    long st;
    json_t *j = chaos_post(c, leader, "/chaos/stop", "{}", &st);
    if (st != 200 || !json_is_true(json_object_get(j, "stopped")))
        fail_msg("POST /chaos/stop on the leader answered %ld", st);
    json_decref(j);
    j = chaos_post(c, leader, "/chaos/enable", "{}", &st);
    if (st != 200)
        fail_msg("POST /chaos/enable on the leader answered %ld", st);
    json_decref(j);
    struct h_view v;
    if (!h_view(c, m, 0, &v) || !v.read_only)
        fail_msg("%s is no longer read-only: %s", c->nodes[m].id, h_views_line(c));
    if (!h_member_is(c, leader, c->nodes[m].id, "alive"))
        fail_msg("the premise: the leader's liveness should still call %s alive", c->nodes[m].id);
    snprintf(body, sizeof(body),
             "{\"kind\":\"delay_messages\",\"target\":\"%s\",\"delay_ms\":100,\"duration_ms\":"
             "1000}",
             c->nodes[x].id);
    j = inject_expect(c, leader, body, 409);
    const char *why = json_string_value(json_object_get(j, "error"));
    char want[64];
    snprintf(want, sizeof(want), "member %s is read-only", c->nodes[m].id);
    if (!why || strncmp(why, "unhealthy: ", 11) != 0 || !strstr(why, want))
        fail_msg("refused for another reason than \"unhealthy: %s\": %s", want, why ? why : "");
    json_decref(j);
    /* The kill switch on m itself heals it at once. */
    json_decref(chaos_post(c, m, "/chaos/stop", "{}", &st));
    r.want = false;
    if (!h_wait_until(chaos_read_only_is, &r, 2 * h_timeout_ms()))
        fail_msg("%s stayed read-only after the kill switch: %s", c->nodes[m].id, h_views_line(c));
    h_cluster_pass(c);
}

/* ---- delay_messages ---------------------------------------------------- */

static void delay_messages_holds_back_the_targets_outgoing_messages_until_its_expiry(void **state)
{
    struct h_cluster *c = *state;
    int leader = h_start_leader(c, "test_chaos_live", 0, NULL);
    int d = member_besides(leader, -1, 0);
    const char *id = c->nodes[d].id;
    /* Held 3 s, longer than dead_after_ms (1 s by default): the leader
     * hears nothing from d for that long after the fault starts. */
    char body[256];
    snprintf(body, sizeof(body),
             "{\"kind\":\"delay_messages\",\"target\":\"%s\",\"delay_ms\":3000,\"duration_ms\":"
             "6000}",
             id);
    json_t *j = inject_expect(c, leader, body, 201);
    char fid[64];
    snprintf(fid, sizeof(fid), "%s", fault_id(j));
    json_decref(j);
    if (!h_wait_member_is(c, leader, id, "dead", 2 * h_timeout_ms()))
        fail_msg("the leader never stopped hearing %s, whose messages are delayed: %s", id,
                 h_views_line(c));
    /* Only what d sends is held: it still hears its leader, in its lease. */
    struct h_view v;
    if (!h_view(c, d, 0, &v) || v.read_only || strcmp(v.leader, c->nodes[leader].id) != 0)
        fail_msg("%s, whose incoming messages are not delayed, lost its leader: %s", id,
                 h_views_line(c));
    if (!h_release_wait_event(c, d, "chaos.healed", "expired", 3 * h_timeout_ms(), NULL, 0))
        fail_msg("%s raised no chaos.healed event at the delay's expiry", id);
    struct chaos_seen s = {c, leader, "healed", fid};
    if (!h_wait_until(chaos_has_record, &s, 2 * h_timeout_ms()))
        fail_msg("no healed record of %s in the leader's GET /chaos", fid);
    if (!h_wait_all_alive(c, 2 * h_timeout_ms()))
        fail_msg("the members do not all see each other alive after the heal: %s", h_views_line(c));
    long st;
    j = h_http_get_json(c, d, "/chaos", &st);
    if (json_array_size(json_object_get(j, "applied_here")) != 0)
        fail_msg("%s still applies a fault after its expiry", id);
    json_decref(j);
    h_cluster_pass(c);
}

/* ---- kill_node --------------------------------------------------------- */

static void kill_node_is_refused_unless_listed_in_the_fault_kinds(void **state)
{
    struct h_cluster *c = *state;
    int leader = h_start_leader(c, "test_chaos_live", 0, NULL);
    int t = member_besides(leader, -1, 0);
    char body[256];
    snprintf(body, sizeof(body), "{\"kind\":\"kill_node\",\"target\":\"%s\",\"duration_ms\":5000}",
             c->nodes[t].id);
    json_t *j = inject_expect(c, leader, body, 409);
    const char *why = json_string_value(json_object_get(j, "error"));
    if (!why || strncmp(why, "kind: kill_node", 15) != 0)
        fail_msg("refused for another reason than the kind: %s", why ? why : "");
    json_decref(j);
    /* force lifts the safety rules, not the opt-in */
    snprintf(body, sizeof(body),
             "{\"kind\":\"kill_node\",\"target\":\"%s\",\"duration_ms\":5000,\"force\":true}",
             c->nodes[t].id);
    json_decref(inject_expect(c, leader, body, 409));
    if (!h_node_running(c, t))
        fail_msg("%s exited although kill_node was refused", c->nodes[t].id);
    h_cluster_pass(c);
}

static const char *const kill_node_listed[] = {
    "--chaos-faults", "kill_service,pause_service,isolate_node,delay_messages,kill_node", NULL};

/* Injects a kill_node of t through node via for duration_ms: the fault's id
 * in fid (64 bytes); waits for t to exit, its wait status. */
static int kill_node(struct h_cluster *c, int via, int t, int duration_ms, char *fid)
{
    char body[256];
    snprintf(body, sizeof(body), "{\"kind\":\"kill_node\",\"target\":\"%s\",\"duration_ms\":%d}",
             c->nodes[t].id, duration_ms);
    json_t *j = inject_expect(c, via, body, 201);
    snprintf(fid, 64, "%s", fault_id(j));
    json_decref(j);
    int status;
    if (!h_node_wait_exit(c, t, 2 * h_timeout_ms(), &status))
        fail_msg("%s did not exit after the kill_node fault", c->nodes[t].id);
    return status;
}

static void kill_node_listed_exits_the_target_with_status_75_and_is_recorded(void **state)
{
    struct h_cluster *c = *state;
    c->node_args = kill_node_listed;
    int leader = h_start_leader(c, "test_chaos_live", 0, NULL);
    int t = member_besides(leader, -1, 0);
    char fid[64];
    int status = kill_node(c, leader, t, 5000, fid);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 75)
        fail_msg("%s ended with wait status %#x, not exit status 75", c->nodes[t].id, status);
    for (int i = 0; i < c->n; i++) {
        struct chaos_seen s = {c, i, "fault", fid};
        if (i != t && !h_wait_until(chaos_has_record, &s, h_timeout_ms()))
            fail_msg("no fault record of %s in %s's GET /chaos", fid, c->nodes[i].id);
    }
    h_cluster_pass(c);
}

/* The reason of node i's healed record of fault id in its GET /chaos
 * (strdup'ed; NULL: none). */
static char *healed_reason(struct h_cluster *c, int i, const char *id)
{
    long st;
    json_t *j = h_http_get_json(c, i, "/chaos", &st), *r;
    char *why = NULL;
    size_t k;
    json_array_foreach(json_object_get(j, "history"), k, r)
    {
        const char *rec = json_string_value(json_object_get(r, "record"));
        const char *rid = json_string_value(json_object_get(r, "id"));
        if (rec && rid && strcmp(rec, "healed") == 0 && strcmp(rid, id) == 0)
            why = strdup(json_string_value(json_object_get(r, "reason")));
    }
    json_decref(j);
    return why;
}

/* A kill_node is over once its node is back as a member: the leader killed
 * and started again (as a supervisor would), the new leader hears it back,
 * commits the fault's healed record ("restarted"), shows no active fault,
 * and takes another at once. It blocked every other fault for its minute. */
static void a_killed_leader_back_as_a_member_blocks_no_other_fault(void **state)
{
    struct h_cluster *c = *state;
    c->node_args = kill_node_listed;
    int old = h_start_leader(c, "test_chaos_live", 0, NULL);
    char fid[64], body[256];
    kill_node(c, old, old, 60000, fid);
    if (h_node_start(c, old) != 0)
        fail_msg("%s did not start again", c->nodes[old].id);
    int other = member_besides(old, -1, 0);
    struct chaos_seen s = {c, other, "healed", fid};
    if (!h_wait_until(chaos_has_record, &s, 3 * h_timeout_ms()))
        fail_msg("no healed record of %s while %s is back: %s", fid, c->nodes[old].id,
                 h_views_line(c));
    char *why = healed_reason(c, other, fid);
    assert_non_null(why);
    assert_string_equal(why, "restarted");
    free(why);
    int leader = writable_leader(c);
    assert_true(leader >= 0);
    long st;
    json_t *j = h_http_get_json(c, leader, "/chaos", &st);
    assert_true(json_is_null(json_object_get(j, "active")));
    json_decref(j);
    snprintf(body, sizeof(body),
             "{\"kind\":\"isolate_node\",\"target\":\"%s\",\"duration_ms\":1000}",
             c->nodes[member_besides(leader, old, 0)].id);
    json_decref(inject_expect(c, leader, body, 201));
    h_cluster_pass(c);
}

/* ---- the injector for a minute ----------------------------------------- */

static const char *const injector_args[] = {
    "--chaos-enabled",
    "--chaos-interval",
    "1s",
    "--chaos-probability",
    "1",
    "--chaos-max-duration",
    "2s",
    "--chaos-faults",
    "kill_service,pause_service,isolate_node,delay_messages",
    NULL};

#define RUN_MS 60000
#define DEPLOY_EVERY_MS 15000

struct run {
    struct h_cluster *c;
    uint64_t start_ns, next_deploy_ns;
    int version, deployed;
};

/* The minute's clock: submits a deployment to the leader of the moment
 * every DEPLOY_EVERY_MS (some fail while a fault cuts the leader off:
 * chaos is on); true once the minute is over. */
static bool minute_over(void *arg)
{
    struct run *r = arg;
    uint64_t now = h_now_ns();
    if (now >= r->next_deploy_ns) {
        r->next_deploy_ns = now + (uint64_t)DEPLOY_EVERY_MS * 1000000u;
        int l = writable_leader(r->c);
        char version[16], why[256];
        snprintf(version, sizeof(version), "1.0.%d", ++r->version);
        char *manifest = h_release_example("demo-good.json", version);
        char *dep =
            l >= 0 && manifest ? h_release_deploy(r->c, l, manifest, 0, why, sizeof(why)) : NULL;
        r->deployed += dep != NULL;
        free(dep);
        free(manifest);
    }
    return now - r->start_ns >= (uint64_t)RUN_MS * 1000000u;
}

static bool has_writable_leader(void *arg)
{
    return writable_leader(arg) >= 0;
}

/* The kill switch through whichever node leads: the stop's ledger index. */
static json_int_t stop_everything(struct h_cluster *c)
{
    for (int attempt = 0; attempt < 50; attempt++) {
        int l = writable_leader(c);
        long st = 0;
        json_t *j = l >= 0 ? chaos_post(c, l, "/chaos/stop", "{}", &st) : NULL;
        json_int_t index = json_integer_value(json_object_get(j, "index"));
        bool stopped = st == 200 && json_is_true(json_object_get(j, "stopped"));
        json_decref(j);
        if (stopped && index > 0)
            return index;
        h_wait_until(has_writable_leader, c, h_timeout_ms());
    }
    fail_msg("the kill switch could not be committed: %s", h_views_line(c));
    return 0;
}

struct committed {
    struct h_cluster *c;
    json_int_t index;
};

static bool all_committed(void *arg)
{
    struct committed *x = arg;
    for (int i = 0; i < x->c->n; i++) {
        long st;
        json_t *h = h_http_get_json(x->c, i, "/ledger/head", &st);
        json_int_t got = json_integer_value(json_object_get(h, "committed"));
        json_decref(h);
        if (got < x->index)
            return false;
    }
    return true;
}

#define MAX_FAULTS 256

/* The fault records of node i's ledger up to index last, in ledger order:
 * fails the test when one is committed while another has no healed (or
 * stop) record yet. Their ledger times go to at[], their count is
 * returned. */
static size_t faults_one_at_a_time(struct h_cluster *c, int i, json_int_t last, json_int_t *at)
{
    char open[64] = "";
    size_t n = 0;
    for (json_int_t from = 1; from <= last;) {
        char path[96];
        snprintf(path, sizeof(path), "/ledger?from=%lld&limit=1000", (long long)from);
        long st;
        json_t *page = h_http_get_json(c, i, path, &st);
        json_t *entries = json_object_get(page, "entries");
        if (st != 200 || json_array_size(entries) == 0)
            fail_msg("GET %s on %s answered %ld", path, c->nodes[i].id, st);
        size_t k;
        json_t *e;
        json_array_foreach(entries, k, e)
        {
            json_int_t index = json_integer_value(json_object_get(e, "index"));
            from = index + 1;
            if (index > last)
                break;
            const char *type = json_string_value(json_object_get(e, "type"));
            json_t *data = json_object_get(e, "data");
            const char *rec = json_string_value(json_object_get(data, "record"));
            const char *id = json_string_value(json_object_get(data, "id"));
            if (!type || strcmp(type, "chaos") != 0 || !rec)
                continue;
            if (strcmp(rec, "fault") == 0) {
                if (open[0])
                    fail_msg("%s's ledger: fault %s (entry %lld) was injected while %s was not "
                             "healed yet",
                             c->nodes[i].id, id ? id : "?", (long long)index, open);
                snprintf(open, sizeof(open), "%s", id ? id : "?");
                if (n < MAX_FAULTS)
                    at[n++] = json_integer_value(json_object_get(e, "timestamp_ms"));
            } else if (strcmp(rec, "stop") == 0 ||
                       (strcmp(rec, "healed") == 0 && id && strcmp(id, open) == 0)) {
                open[0] = '\0';
            }
        }
        json_decref(page);
    }
    return n;
}

/* Fails the test when one of the fault times at[0..n) falls inside a
 * rollout or rollback node i lists (unfinished ones run on). */
static void none_during_a_rollout(struct h_cluster *c, int i, const json_int_t *at, size_t n)
{
    long st;
    json_t *j = h_http_get_json(c, i, "/deployments", &st);
    size_t k;
    json_t *d;
    json_array_foreach(json_object_get(j, "deployments"), k, d)
    {
        json_int_t started = json_integer_value(json_object_get(d, "started_ms"));
        json_t *fin = json_object_get(d, "finished_ms");
        json_int_t finished = json_is_integer(fin) ? json_integer_value(fin) : INT64_MAX;
        for (size_t f = 0; f < n; f++)
            if (at[f] > started && at[f] < finished)
                fail_msg("%s: a fault was injected at %lld, during deployment %s (%lld to %lld)",
                         c->nodes[i].id, (long long)at[f],
                         json_string_value(json_object_get(d, "id")), (long long)started,
                         (long long)finished);
    }
    json_decref(j);
}

static void injector_at_probability_1_for_a_minute_never_overlaps_faults_nor_rollouts(void **state)
{
    struct h_cluster *c = *state;
    c->node_args = injector_args;
    h_start_leader(c, "test_chaos_live", 0, NULL);
    struct run r = {.c = c, .start_ns = h_now_ns()};
    r.next_deploy_ns = r.start_ns;
    h_wait_until(minute_over, &r, RUN_MS + 10 * h_timeout_ms());
    if (!minute_over(&r))
        fail_msg("the minute did not end");
    if (r.deployed == 0)
        fail_msg("no deployment could be submitted during the minute: %s", h_views_line(c));
    struct committed x = {c, stop_everything(c)};
    if (!h_wait_until(all_committed, &x, 4 * h_timeout_ms()))
        fail_msg("not every node committed the stop (entry %lld): %s", (long long)x.index,
                 h_views_line(c));
    static json_int_t at[MAX_FAULTS];
    size_t faults = 0;
    for (int i = 0; i < c->n; i++) {
        faults = faults_one_at_a_time(c, i, x.index, at);
        none_during_a_rollout(c, i, at, faults);
    }
    if (faults < 3)
        fail_msg("the injector committed only %zu faults in a minute", faults);
    print_message("%zu faults and %d deployments in %d s, never two at once, none in a rollout\n",
                  faults, r.deployed, RUN_MS / 1000);
    h_cluster_pass(c);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, h_setup_five_nodes, h_teardown_cluster)
    const struct CMUnitTest tests[] = {
        T(the_leader_refuses_to_inject_while_a_member_cut_off_from_it_is_read_only),
        T(delay_messages_holds_back_the_targets_outgoing_messages_until_its_expiry),
        T(kill_node_is_refused_unless_listed_in_the_fault_kinds),
        T(kill_node_listed_exits_the_target_with_status_75_and_is_recorded),
        T(a_killed_leader_back_as_a_member_blocks_no_other_fault),
        T(injector_at_probability_1_for_a_minute_never_overlaps_faults_nor_rollouts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
