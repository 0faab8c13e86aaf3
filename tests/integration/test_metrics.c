/* Integration: GET /metrics on a real 3-node federation (README "Metrics").
 * Every series of the metrics contract is exposed with its type, and the
 * exposition passes `promtool check metrics` when promtool is installed;
 * each series moves with what it measures: a note committed counts as a
 * proposal on every member, is timed from append to commit on the leader
 * and synced to disk on each; heartbeats time each member's round trip; an
 * HTTP request counts under its route's pattern and status; a deployment
 * that becomes stable, one that crashes and is rolled back (and its
 * rollback, by cause), a chaos fault refused, one injected and healed, and
 * a drill's record count on every member, and the active-fault gauges
 * follow the fault; a note appended by a leader that loses its quorum
 * before it commits is a failed proposal; a leader killed is a leader
 * change the others see, and with a second node gone the last one knows no
 * leader. One federation serves every test, in this order (the last kills
 * nodes). Every wait is on a condition with a deadline. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <jansson.h>

#include "harness.h"
#include "harness_fixture.h"
#include "harness_release.h"

#define NODES 3
#define DIGEST "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define DRILL                                                                                      \
    "{\"title\": \"Metrics\", \"verdict\": \"held\", \"digest\": \"" DIGEST "\", "                 \
    "\"started_ms\": 1704067200000, \"ended_ms\": 1704067201000, \"by\": \"tester\", "             \
    "\"faults\": [{\"name\": \"kill the leader\", \"kind\": \"kill_node\", \"target\": "           \
    "\"leader\", \"time_to_detect_ms\": 120, \"time_to_recover_ms\": 900, \"slo_ms\": 5000, "      \
    "\"met\": true}]}"

static struct h_cluster *cluster;
static int leader;

static int group_setup(void **state)
{
    (void)state;
    h_path_add_bin_dir(); /* the nodes find chimera-demo */
    cluster = h_cluster_create(NODES);
    return cluster ? 0 : -1;
}

static int setup(void **state)
{
    (void)state;
    if (!cluster->nodes[0].pid)
        leader = h_start_leader(cluster, "test_metrics", 0, NULL);
    /* A loaded machine may have seen an election since. */
    if (!h_wait_agreed(cluster, 0, h_timeout_ms(), &leader, NULL))
        fail_msg("no leader: %s", h_views_line(cluster));
    return 0;
}

/* Sample `sample` of node i's /metrics; fails the test when it is absent. */
static double sample(int i, const char *name)
{
    double v = 0;
    if (!h_metric(cluster, i, name, &v))
        fail_msg("%s: /metrics has no sample %s", cluster->nodes[i].id, name);
    return v;
}

/* For h_wait_until: node i's sample is want (exact) or at least want. */
struct sample_wait {
    int i;
    const char *sample;
    double want;
    bool exact;
};

static bool sample_there(void *arg)
{
    struct sample_wait *w = arg;
    double v = 0;
    return h_metric(cluster, w->i, w->sample, &v) && (w->exact ? v == w->want : v >= w->want);
}

static void wait_sample(int i, const char *name, double want, bool exact)
{
    struct sample_wait w = {i, name, want, exact};
    if (!h_wait_until(sample_there, &w, h_timeout_ms())) {
        double v = -1;
        h_metric(cluster, i, name, &v);
        fail_msg("%s: %s is %g, not %s%g", cluster->nodes[i].id, name, v, exact ? "" : "at least ",
                 want);
    }
}

static void wait_at_least(int i, const char *name, double min)
{
    wait_sample(i, name, min, false);
}

static void wait_equal(int i, const char *name, double want)
{
    wait_sample(i, name, want, true);
}

/* method path (body) with the admin token to the leader of the moment,
 * again while a loaded machine moves leadership under it (307 not the
 * leader, 503 no leader known or read-only), up to a deadline: the answer
 * (malloc'd), its status in *st and the node that gave it in *at. */
static char *to_leader(const char *method, const char *path, const char *body, long *st, int *at)
{
    char *answer = NULL;
    uint64_t end = h_now_ns() + (uint64_t)h_timeout_ms() * 4000000u;
    do {
        free(answer);
        if (!h_wait_agreed(cluster, 0, h_timeout_ms(), &leader, NULL))
            fail_msg("no leader: %s", h_views_line(cluster));
        *at = leader;
        answer = h_http_request(cluster, leader, method, path, body, cluster->token,
                                4 * h_timeout_ms(), st);
    } while ((*st == 307 || (*st == 503 && answer &&
                             (strstr(answer, "no leader") || strstr(answer, "read-only")))) &&
             h_now_ns() < end);
    return answer;
}

/* ---- the exposition ---- */

static void test_every_contract_series_is_exposed_with_its_type(void **state)
{
    (void)state;
    static const char *const types[] = {
        "chimera_build_info gauge",
        "chimera_has_leader gauge",
        "chimera_leader_changes_seen_total counter",
        "chimera_term gauge",
        "chimera_is_leader gauge",
        "chimera_read_only gauge",
        "chimera_ledger_index gauge",
        "chimera_ledger_committed_index gauge",
        "chimera_proposals_committed_total counter",
        "chimera_proposals_failed_total counter",
        "chimera_proposals_pending gauge",
        "chimera_ledger_fsync_duration_seconds histogram",
        "chimera_ledger_commit_duration_seconds histogram",
        "chimera_peer_round_trip_time_seconds histogram",
        "chimera_http_request_duration_seconds histogram",
        "chimera_deployments_total counter",
        "chimera_rollbacks_total counter",
        "chimera_recovery_restarts_total counter",
        "chimera_recovery_failed_total counter",
        "chimera_recovery_time_seconds histogram",
        "chimera_chaos_faults_total counter",
        "chimera_chaos_fault_active gauge",
        "chimera_chaos_fault_active_seconds gauge",
        "chimera_chaos_fault_planned_seconds gauge",
        "chimera_drills_total counter",
        "chimera_ledger_equivocations_total counter",
        "chimera_members gauge",
    };
    long st;
    char *text = h_http_get_text(cluster, leader, "/metrics", &st);
    assert_int_equal(st, 200);
    for (size_t k = 0; k < sizeof(types) / sizeof(types[0]); k++) {
        char line[128];
        snprintf(line, sizeof(line), "# TYPE %s\n", types[k]);
        if (!strstr(text, line))
            fail_msg("/metrics lacks \"# TYPE %s\"", types[k]);
    }
    assert_non_null(strstr(text, "chimera_build_info{version=\"" CHIMERA_VERSION "\",commit=\""));
    static const char *const labelled[] = {
        "chimera_deployments_total{outcome=\"stable\"}",
        "chimera_deployments_total{outcome=\"rolled_back\"}",
        "chimera_deployments_total{outcome=\"failed\"}",
        "chimera_deployments_total{outcome=\"aborted\"}",
        "chimera_rollbacks_total{cause=\"manual\"}",
        "chimera_rollbacks_total{cause=\"crash_loop\"}",
        "chimera_chaos_faults_total{kind=\"kill_service\",outcome=\"injected\"}",
        "chimera_chaos_faults_total{kind=\"isolate_node\",outcome=\"healed\"}",
        "chimera_chaos_faults_total{kind=\"kill_node\",outcome=\"refused\"}",
        "chimera_drills_total{verdict=\"held\"}",
        "chimera_drills_total{verdict=\"deviated\"}",
    };
    for (size_t k = 0; k < sizeof(labelled) / sizeof(labelled[0]); k++)
        (void)sample(leader, labelled[k]);
    wait_equal(leader, "chimera_has_leader", 1);
    assert_true(sample(leader, "chimera_leader_changes_seen_total") >= 1);
    free(text);
}

static void test_the_exposition_passes_promtool_check_metrics(void **state)
{
    (void)state;
    if (access("/usr/bin/promtool", X_OK) != 0) {
        fprintf(stderr, "test_metrics: no /usr/bin/promtool (Debian's prometheus package): "
                        "the exposition is not checked by promtool here\n");
        skip();
    }
    for (int i = 0; i < NODES; i++) {
        long st;
        char *text = h_http_get_text(cluster, i, "/metrics", &st);
        assert_int_equal(st, 200);
        char path[H_PATH_MAX + 32];
        snprintf(path, sizeof(path), "%s/metrics-%d.txt", cluster->dir, i);
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fputs(text, f);
        fclose(f);
        free(text);
        char cmd[2 * H_PATH_MAX];
        snprintf(cmd, sizeof(cmd), "promtool check metrics < %s 2>&1", path);
        FILE *p = popen(cmd, "r");
        assert_non_null(p);
        char out[4096];
        size_t n = fread(out, 1, sizeof(out) - 1, p);
        out[n] = '\0';
        int rc = pclose(p);
        if (rc != 0)
            fail_msg("%s: promtool check metrics failed (%d): %s", cluster->nodes[i].id, rc, out);
    }
}

/* ---- consensus and the ledger ---- */

static void test_a_committed_note_is_a_proposal_committed_timed_and_synced(void **state)
{
    (void)state;
    double committed[NODES], fsyncs[NODES];
    for (int i = 0; i < NODES; i++) {
        committed[i] = sample(i, "chimera_proposals_committed_total");
        fsyncs[i] = sample(i, "chimera_ledger_fsync_duration_seconds_count");
    }
    double timed[NODES];
    for (int i = 0; i < NODES; i++)
        timed[i] = sample(i, "chimera_ledger_commit_duration_seconds_count");
    long st;
    int at;
    free(to_leader("POST", "/ledger/notes", "{\"note\":\"metrics\"}", &st, &at));
    assert_int_equal(st, 201);
    for (int i = 0; i < NODES; i++) {
        wait_at_least(i, "chimera_proposals_committed_total", committed[i] + 1);
        wait_at_least(i, "chimera_ledger_fsync_duration_seconds_count", fsyncs[i] + 1);
    }
    wait_at_least(at, "chimera_ledger_commit_duration_seconds_count", timed[at] + 1);
    wait_equal(at, "chimera_proposals_pending", 0);
    double index = sample(at, "chimera_ledger_index");
    assert_true(index >= 2); /* the election entry and the note */
    for (int i = 0; i < NODES; i++)
        wait_at_least(i, "chimera_ledger_committed_index", index);
}

static void test_the_leader_times_a_heartbeat_round_trip_to_each_member(void **state)
{
    (void)state;
    for (int i = 0; i < NODES; i++) {
        if (i == leader)
            continue;
        char name[128];
        snprintf(name, sizeof(name), "chimera_peer_round_trip_time_seconds_count{peer=\"%s\"}",
                 cluster->nodes[i].id);
        wait_at_least(leader, name, 1);
        snprintf(name, sizeof(name),
                 "chimera_peer_round_trip_time_seconds_bucket{peer=\"%s\",le=\"+Inf\"}",
                 cluster->nodes[i].id);
        (void)sample(leader, name);
    }
    char self[128];
    snprintf(self, sizeof(self), "chimera_peer_round_trip_time_seconds_count{peer=\"%s\"}",
             cluster->nodes[leader].id);
    double v;
    assert_false(h_metric(cluster, leader, self, &v)); /* no round trip to itself */
}

/* ---- HTTP ---- */

/* Opens GET /events/stream on node i and returns the status of its answer
 * once its head arrived (0: none within the deadline), then hangs up. */
static int stream_status(int i)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)cluster->nodes[i].http_port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    static const char head[] = "GET /events/stream HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    assert_int_equal(send(fd, head, sizeof(head) - 1, MSG_NOSIGNAL), (ssize_t)(sizeof(head) - 1));
    char buf[4096];
    size_t len = 0;
    buf[0] = '\0';
    uint64_t end = h_now_ns() + (uint64_t)h_timeout_ms() * 1000000u;
    while (!strstr(buf, "\r\n\r\n") && len < sizeof(buf) - 1 && h_now_ns() < end) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 20) <= 0)
            continue;
        ssize_t r = recv(fd, buf + len, sizeof(buf) - 1 - len, 0);
        if (r <= 0)
            break;
        len += (size_t)r;
        buf[len] = '\0';
    }
    close(fd);
    int st = 0;
    if (strstr(buf, "\r\n\r\n"))
        sscanf(buf, "HTTP/1.1 %d", &st);
    return st;
}

static void test_a_request_counts_under_its_routes_pattern_and_status(void **state)
{
    (void)state;
    int n = (leader + 1) % NODES;
    const char *state_ok =
        "chimera_http_request_duration_seconds_count{route=\"/federation/state\",code=\"200\"}";
    const char *one = "chimera_http_request_duration_seconds_count{route=\"/deployments/\","
                      "code=\"404\"}";
    const char *other = "chimera_http_request_duration_seconds_count{route=\"other\",code=\"404\"}";
    double before = 0, before_one = 0, before_other = 0;
    h_metric(cluster, n, state_ok, &before);
    h_metric(cluster, n, one, &before_one);
    h_metric(cluster, n, other, &before_other);
    long st;
    free(h_http_get_text(cluster, n, "/federation/state", &st));
    assert_int_equal(st, 200);
    free(h_http_get_text(cluster, n, "/deployments/no-such-id", &st));
    assert_int_equal(st, 404);
    free(h_http_get_text(cluster, n, "/no/such/path", &st));
    assert_int_equal(st, 404);
    assert_true(sample(n, state_ok) >= before + 1);
    assert_true(sample(n, one) >= before_one + 1);
    assert_true(sample(n, other) >= before_other + 1);
    /* A stream counts once it is open: its answer is its head. */
    const char *stream =
        "chimera_http_request_duration_seconds_count{route=\"/events/stream\",code=\"200\"}";
    double before_stream = 0;
    h_metric(cluster, n, stream, &before_stream);
    assert_int_equal(stream_status(n), 200);
    assert_true(sample(n, stream) >= before_stream + 1);
    char *text = h_http_get_text(cluster, n, "/metrics", &st);
    assert_null(strstr(text, "no-such-id")); /* the pattern, never the raw path */
    assert_null(strstr(text, "/no/such/path"));
    free(text);
}

/* ---- records every member folds from the ledger ---- */

/* Deploys deploy/examples/FILE through the leader of the moment; its id. */
static char *submit(const char *file)
{
    char *manifest = h_release_example(file, NULL);
    assert_non_null(manifest);
    long st;
    int at;
    char *answer = to_leader("POST", "/deployments", manifest, &st, &at);
    free(manifest);
    json_t *j = answer ? json_loads(answer, 0, NULL) : NULL;
    const char *id = json_string_value(json_object_get(j, "id"));
    if (st != 202 || !id)
        fail_msg("POST /deployments %s answered %ld: %s", file, st, answer ? answer : "");
    char *copy = strdup(id);
    json_decref(j);
    free(answer);
    return copy;
}

static void test_a_stable_deployment_counts_on_every_member(void **state)
{
    (void)state;
    char *id = submit("demo-good.json");
    assert_true(h_release_wait_stage(cluster, id, "stable", 60000));
    free(id);
    for (int i = 0; i < NODES; i++) {
        wait_equal(i, "chimera_deployments_total{outcome=\"stable\"}", 1);
        assert_true(sample(i, "chimera_deployments_total{outcome=\"failed\"}") == 0);
        assert_true(sample(i, "chimera_rollbacks_total{cause=\"manual\"}") == 0);
    }
}

static void test_a_crashing_release_counts_as_rolled_back_and_its_revert_by_cause(void **state)
{
    (void)state;
    char *id = submit("demo-crash.json");
    assert_true(h_release_wait_stage(cluster, id, "failed", 60000));
    int at = -1;
    if (!h_wait_agreed(cluster, 0, h_timeout_ms(), &at, NULL))
        fail_msg("no leader: %s", h_views_line(cluster));
    char *rb = h_release_newest_after(cluster, at, id, 60000);
    assert_non_null(rb);
    assert_true(h_release_wait_stage(cluster, rb, "reverted", 60000));
    for (int i = 0; i < NODES; i++) {
        wait_equal(i, "chimera_deployments_total{outcome=\"rolled_back\"}", 1);
        wait_equal(i, "chimera_rollbacks_total{cause=\"crashed\"}", 1);
        assert_true(sample(i, "chimera_deployments_total{outcome=\"stable\"}") == 1);
        assert_true(sample(i, "chimera_deployments_total{outcome=\"failed\"}") == 0);
    }
    free(rb);
    free(id);
}

/* POST /chaos/inject {kind, target: member t, more} on the leader;
 * fails the test unless it answers want. */
static void inject(const char *kind, int t, const char *more, long want)
{
    char body[256];
    snprintf(body, sizeof(body), "{\"kind\":\"%s\",\"target\":\"%s\"%s}", kind,
             cluster->nodes[t].id, more);
    long st;
    int at;
    char *answer = to_leader("POST", "/chaos/inject", body, &st, &at);
    if (st != want)
        fail_msg("POST /chaos/inject %s answered %ld: %s", body, st, answer ? answer : "");
    free(answer);
}

static void test_a_refused_chaos_fault_counts_as_refused_on_every_member(void **state)
{
    (void)state;
    const char *refused = "chimera_chaos_faults_total{kind=\"kill_node\",outcome=\"refused\"}";
    double before[NODES];
    for (int i = 0; i < NODES; i++)
        before[i] = sample(i, refused);
    /* kill_node runs only when listed in --chaos-faults: refused, on record */
    inject("kill_node", (leader + 1) % NODES, ",\"duration_ms\":1000", 409);
    for (int i = 0; i < NODES; i++)
        wait_equal(i, refused, before[i] + 1);
}

static void test_a_chaos_fault_counts_injected_then_healed_and_the_gauges_follow_it(void **state)
{
    (void)state;
    /* Forced: a member a loaded machine makes suspect for a moment would
     * have it refused (the safety rules are not what this test is about). */
    inject("delay_messages", (leader + 1) % NODES,
           ",\"delay_ms\":20,\"duration_ms\":3000,\"force\":true", 201);
    const char *injected =
        "chimera_chaos_faults_total{kind=\"delay_messages\",outcome=\"injected\"}";
    const char *healed = "chimera_chaos_faults_total{kind=\"delay_messages\",outcome=\"healed\"}";
    for (int i = 0; i < NODES; i++)
        wait_equal(i, injected, 1);
    /* In force now or healed already (3 s on a loaded machine): the gauges
     * say which, consistently. */
    double active = sample(leader, "chimera_chaos_fault_active");
    double planned = sample(leader, "chimera_chaos_fault_planned_seconds");
    assert_true(active == 0 || (active == 1 && planned == 3));
    for (int i = 0; i < NODES; i++) {
        wait_equal(i, healed, 1);
        wait_equal(i, "chimera_chaos_fault_active", 0);
        assert_true(sample(i, "chimera_chaos_fault_active_seconds") == 0);
        assert_true(sample(i, "chimera_chaos_fault_planned_seconds") == 0);
    }
}

static void test_a_drill_record_counts_by_its_verdict_on_every_member(void **state)
{
    (void)state;
    long st;
    int at;
    char *answer = to_leader("POST", "/drills", DRILL, &st, &at);
    if (st != 201)
        fail_msg("POST /drills answered %ld: %s", st, answer ? answer : "");
    free(answer);
    for (int i = 0; i < NODES; i++) {
        wait_equal(i, "chimera_drills_total{verdict=\"held\"}", 1);
        assert_true(sample(i, "chimera_drills_total{verdict=\"deviated\"}") == 0);
    }
}

/* ---- losing leaders (last: it kills nodes) ---- */

/* With every follower paused, posts a note to the leader and resumes them:
 * true when the leader appended it and lost its quorum before the commit
 * (503 "leadership lost"), false when it refused the note as read-only
 * first (a loaded machine can take an election timeout to send it). */
static bool note_over_a_lost_quorum(int old)
{
    for (int i = 0; i < NODES; i++)
        if (i != old)
            h_node_pause(cluster, i);
    char *body = NULL;
    long st = h_mutation(cluster, old, cluster->token, 4 * h_timeout_ms(), &body);
    for (int i = 0; i < NODES; i++)
        if (i != old)
            h_node_resume(cluster, i);
    bool lost = st == 503 && body && strstr(body, "leadership lost");
    if (!lost && !(st == 503 && body && strstr(body, "read-only")))
        fail_msg("POST /ledger/notes answered %ld: %s", st, body ? body : "");
    free(body);
    return lost;
}

static void test_a_note_the_leader_loses_its_quorum_over_is_a_failed_proposal(void **state)
{
    (void)state;
    for (int attempt = 0; attempt < 5; attempt++) {
        int old = leader;
        double failed = sample(old, "chimera_proposals_failed_total");
        if (note_over_a_lost_quorum(old)) {
            wait_at_least(old, "chimera_proposals_failed_total", failed + 1);
            wait_equal(old, "chimera_proposals_pending", 0);
            return;
        }
        if (!h_wait_agreed(cluster, 0, h_timeout_ms(), &leader, NULL))
            fail_msg("no leader: %s", h_views_line(cluster));
    }
    fail_msg("every note was refused as read-only before it could be appended");
}

static void test_a_killed_leader_is_a_leader_change_the_others_see(void **state)
{
    (void)state;
    double seen[NODES];
    for (int i = 0; i < NODES; i++)
        seen[i] = i == leader ? 0 : sample(i, "chimera_leader_changes_seen_total");
    int old = leader;
    h_node_kill(cluster, old);
    int next = -1;
    if (!h_wait_agreed(cluster, 0, h_timeout_ms(), &next, NULL))
        fail_msg("no new leader: %s", h_views_line(cluster));
    for (int i = 0; i < NODES; i++) {
        if (i == old)
            continue;
        wait_at_least(i, "chimera_leader_changes_seen_total", seen[i] + 1);
        wait_equal(i, "chimera_has_leader", 1);
    }
    /* With a second node gone no quorum is left: the last one knows no
     * leader (the no-leader alert's series). */
    int other = -1;
    for (int i = 0; i < NODES; i++)
        if (i != old && i != next)
            other = i;
    h_node_kill(cluster, next);
    wait_equal(other, "chimera_has_leader", 0);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, NULL)
    const struct CMUnitTest tests[] = {
        T(test_every_contract_series_is_exposed_with_its_type),
        T(test_a_committed_note_is_a_proposal_committed_timed_and_synced),
        T(test_the_leader_times_a_heartbeat_round_trip_to_each_member),
        T(test_a_request_counts_under_its_routes_pattern_and_status),
        T(test_a_stable_deployment_counts_on_every_member),
        T(test_a_crashing_release_counts_as_rolled_back_and_its_revert_by_cause),
        T(test_a_refused_chaos_fault_counts_as_refused_on_every_member),
        T(test_a_chaos_fault_counts_injected_then_healed_and_the_gauges_follow_it),
        T(test_a_drill_record_counts_by_its_verdict_on_every_member),
        T(test_the_exposition_passes_promtool_check_metrics),
        T(test_a_note_the_leader_loses_its_quorum_over_is_a_failed_proposal),
        T(test_a_killed_leader_is_a_leader_change_the_others_see),
    };
#undef T
    return h_group_end(cluster, cmocka_run_group_tests_name("metrics", tests, group_setup, NULL));
}
