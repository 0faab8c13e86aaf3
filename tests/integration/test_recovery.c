/* The recovery watchtower (issue 12, README "Recovery watchtower") on real
 * chimerad processes: a service killed with SIGKILL is restarted, the
 * event says so and the ledger records the recovery; a service whose
 * health check keeps failing past its liveness time is restarted and
 * recorded; a release that crash-loops soon after it became stable is
 * reverted, one stable for longer than the revert window has the service
 * marked failed on that node and retried; a crash loop seen while there is
 * no leader is reported once there is one; a revert lost with the leader
 * that decided it is decided again by the next one; with the watchtower
 * off a killed service stays down. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>
#include <jansson.h>

#include "harness.h"
#include "harness_release.h"

#define NODES 3
#define DEPLOY_MS 60000

static int start_stable(struct h_cluster *c, char **id)
{
    int leader = h_start_agreed(c, "test_recovery", NULL);
    if (leader < 0)
        fail_msg("the federation did not come up with a leader");
    *id = h_release_submit(c, leader, "demo-good.json", NULL, 0);
    assert_non_null(*id);
    if (!h_release_wait_stage(c, *id, "stable", DEPLOY_MS) ||
        !h_release_wait_running(c, *id, DEPLOY_MS))
        fail_msg("demo 1.0.0 did not become stable on every node: %s", h_views_line(c));
    return leader;
}

/* Node i's service: its pid and state (release.services[0]). */
struct svc_arg {
    struct h_cluster *c;
    int i;
    long long not_pid; /* wait for a running pid other than this one */
    long long pid;
    char state[32];
};

static bool service_runs(void *arg)
{
    struct svc_arg *a = arg;
    long st = 0;
    json_t *j = h_http_get_json(a->c, a->i, "/federation/state", &st);
    json_t *svc = json_array_get(json_object_get(json_object_get(j, "release"), "services"), 0);
    json_t *pid = json_object_get(svc, "pid");
    a->pid = json_is_integer(pid) ? json_integer_value(pid) : 0;
    const char *state = json_string_value(json_object_get(svc, "state"));
    snprintf(a->state, sizeof(a->state), "%s", state ? state : "(none)");
    bool ok = a->pid > 0 && a->pid != a->not_pid && state && strcmp(state, "running") == 0;
    json_decref(j);
    return ok;
}

static long long running_pid(struct h_cluster *c, int i, long long not_pid)
{
    struct svc_arg a = {c, i, not_pid, 0, ""};
    if (!h_wait_until(service_runs, &a, h_timeout_ms()))
        fail_msg("%s runs no service (other than pid %lld): last state %s", c->nodes[i].id, not_pid,
                 a.state);
    return a.pid;
}

/* Whether node i's ledger holds an entry of type whose data's "node" (or
 * "reason", for a rollback) contains who and whose "cause" contains what. */
struct entry_arg {
    struct h_cluster *c;
    int i;
    const char *type, *who, *what;
};

static bool ledger_has(void *arg)
{
    struct entry_arg *a = arg;
    long st = 0;
    json_t *page = h_http_get_json(a->c, a->i, "/ledger?from=1&limit=1000", &st);
    size_t k;
    json_t *e;
    bool found = false;
    json_array_foreach(json_object_get(page, "entries"), k, e)
    {
        const char *type = json_string_value(json_object_get(e, "type"));
        json_t *d = json_object_get(e, "data");
        const char *node = json_string_value(json_object_get(d, "node"));
        const char *cause = json_string_value(json_object_get(d, "cause"));
        const char *reason = json_string_value(json_object_get(d, "reason"));
        if (!type || strcmp(type, a->type) != 0)
            continue;
        if (strcmp(a->type, "rollback") == 0)
            found |= reason && strstr(reason, a->what) != NULL;
        else
            found |= node && strcmp(node, a->who) == 0 && cause && strstr(cause, a->what);
    }
    json_decref(page);
    return found;
}

/* Every node's ledger holds a recovery of node v's service whose cause
 * says cause: the leader recorded it on v's behalf. */
static void assert_every_ledger_records(struct h_cluster *c, int v, const char *cause)
{
    for (int i = 0; i < c->n; i++) {
        struct entry_arg e = {c, i, "recovery", c->nodes[v].id, cause};
        if (!h_wait_until(ledger_has, &e, h_timeout_ms()))
            fail_msg("%s's ledger holds no recovery of %s's service after %s", c->nodes[i].id,
                     c->nodes[v].id, cause);
    }
}

/* Every ledger holds a rollback for a crash loop, and every node runs v1
 * again. */
static void assert_reverted_to(struct h_cluster *c, const char *v1)
{
    for (int i = 0; i < c->n; i++) {
        struct entry_arg e = {c, i, "rollback", NULL, "crash loop"};
        if (!h_wait_until(ledger_has, &e, DEPLOY_MS))
            fail_msg("%s's ledger holds no rollback for a crash loop: %s", c->nodes[i].id,
                     h_views_line(c));
    }
    if (!h_release_wait_running(c, v1, DEPLOY_MS))
        fail_msg("the nodes did not go back to %s: %s", v1, h_views_line(c));
}

static void test_a_service_killed_with_sigkill_is_restarted_and_the_event_says_so(void **state)
{
    struct h_cluster *c = *state;
    char *id;
    int leader = start_stable(c, &id);
    int v = (leader + 1) % NODES;
    long long pid = running_pid(c, v, 0);
    assert_int_equal(kill((pid_t)pid, SIGKILL), 0);
    char about[128], msg[512];
    snprintf(about, sizeof(about), "service web on %s after signal 9", c->nodes[v].id);
    if (!h_release_wait_event(c, v, "recovery.restarted", about, h_timeout_ms(), msg, sizeof(msg)))
        fail_msg("%s recorded no recovery.restarted event about %s", c->nodes[v].id, about);
    if (!strstr(msg, "attempt 1") || !strstr(msg, "healthy again in"))
        fail_msg("the recovery event does not say the attempt and the time: %s", msg);
    long long again = running_pid(c, v, pid);
    assert_true(again != pid);
    /* GET /recovery and /metrics on the node say so. */
    long st = 0;
    json_t *r = h_http_get_json(c, v, "/recovery", &st);
    assert_int_equal(st, 200);
    assert_true(json_is_true(json_object_get(r, "enabled")));
    json_t *svc = json_array_get(json_object_get(r, "services"), 0);
    assert_string_equal(json_string_value(json_object_get(svc, "name")), "web");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(svc, "mttr"), "count")), 1);
    json_t *rec = json_array_get(json_object_get(r, "recent"), 0);
    assert_string_equal(json_string_value(json_object_get(rec, "cause")), "signal 9");
    assert_int_equal(json_integer_value(json_object_get(rec, "attempts")), 1);
    json_decref(r);
    double restarts = 0, count = 0;
    assert_true(h_metric(c, v, "chimera_recovery_restarts_total", &restarts));
    assert_true(h_metric(c, v, "chimera_recovery_time_seconds_count", &count));
    assert_true(restarts == 1 && count == 1);
    /* The leader recorded it on the node's behalf, in every ledger. */
    assert_every_ledger_records(c, v, "signal 9");
    free(id);
    h_cluster_pass(c);
}

/* demo 4.0.0: stable within seconds (every node at once, healthy for 1 s),
 * then its service crashes 12 s after each start; one restart allowed. */
static const char later_crash[] =
    "{\"name\": \"demo\", \"version\": \"4.0.0\", \"services\": [{\"name\": \"web\", "
    "\"command\": \"chimera-demo\", \"args\": [\"--port\", \"${PORT}\", \"--version\", "
    "\"${VERSION}\", \"--crash-after\", \"12s\"], \"port\": \"auto\", \"health\": "
    "{\"url\": \"http://127.0.0.1:${PORT}/health\", \"interval\": \"200ms\", \"timeout\": "
    "\"200ms\"}, \"restart\": {\"attempts\": 1, \"interval\": \"5m\", \"delay\": "
    "\"100ms\"}}], \"rollout\": {\"max_parallel\": 3, \"min_healthy_time\": \"1s\", "
    "\"healthy_deadline\": \"10s\", \"progress_deadline\": \"30s\"}}";

static void test_a_release_that_crash_loops_soon_after_it_became_stable_is_reverted(void **state)
{
    struct h_cluster *c = *state;
    char *v1;
    start_stable(c, &v1);
    int leader = -1;
    if (!h_wait_agreed(c, 0, h_timeout_ms(), &leader, NULL))
        fail_msg("no leader: %s", h_views_line(c));
    char why[1024];
    char *v4 = h_release_deploy(c, leader, later_crash, 0, why, sizeof(why));
    if (!v4)
        fail_msg("demo 4.0.0 was not accepted: %s", why);
    if (!h_release_wait_stage(c, v4, "stable", DEPLOY_MS))
        fail_msg("demo 4.0.0 did not become stable: %s", h_views_line(c));
    /* Two crashes on a node are its crash loop; the leader reverts. */
    assert_reverted_to(c, v1);
    free(v1);
    free(v4);
    h_cluster_pass(c);
}

/* demo 6.0.0: its health check fails 1 s after each start, so the
 * watchtower restarts it (liveness); one restart allowed. It can never be
 * healthy for min_healthy_time, and its healthy deadline is far off. */
static const char sick_rollout[] =
    "{\"name\": \"demo\", \"version\": \"6.0.0\", \"services\": [{\"name\": \"web\", "
    "\"command\": \"chimera-demo\", \"args\": [\"--port\", \"${PORT}\", \"--version\", "
    "\"${VERSION}\", \"--fail-health-after\", \"1s\"], \"port\": \"auto\", \"health\": "
    "{\"url\": \"http://127.0.0.1:${PORT}/health\", \"interval\": \"200ms\", \"timeout\": "
    "\"200ms\"}, \"restart\": {\"attempts\": 1, \"interval\": \"5m\", \"delay\": "
    "\"100ms\"}}], \"rollout\": {\"max_parallel\": 3, \"min_healthy_time\": \"30s\", "
    "\"healthy_deadline\": \"10m\", \"progress_deadline\": \"10m\"}}";

/* The restarts keep the release from ever reporting a crash: without the
 * crash loop failing it, it would be reverted only at its healthy
 * deadline, ten minutes on, for "not healthy within the healthy deadline". */
static void test_a_release_that_crash_loops_while_it_rolls_out_is_reverted_for_it(void **state)
{
    struct h_cluster *c = *state;
    char *v1;
    int leader = start_stable(c, &v1);
    char why[1024];
    char *v6 = h_release_deploy(c, leader, sick_rollout, 0, why, sizeof(why));
    if (!v6)
        fail_msg("demo 6.0.0 was not accepted: %s", why);
    assert_reverted_to(c, v1);
    long st = 0;
    char path[256];
    snprintf(path, sizeof(path), "/deployments/%s", v6);
    json_t *d = h_http_get_json(c, leader, path, &st);
    const char *stage = json_string_value(json_object_get(d, "stage"));
    const char *reason = json_string_value(json_object_get(d, "reason"));
    if (!stage || strcmp(stage, "failed") != 0 || !reason || strncmp(reason, "crash loop:", 11))
        fail_msg("deployment %s: stage %s, reason %s", v6, stage ? stage : "(none)",
                 reason ? reason : "(none)");
    json_decref(d);
    free(v1);
    free(v6);
    h_cluster_pass(c);
}

/* demo 5.0.0, whose service on a node misbehaves as the test says through
 * files in that node's data directory (the service's CHIMERA_SERVICE_OWNER):
 * "crash" makes it exit 3 at once, "sick" makes its health check fail 1 s
 * after it started. One restart allowed within 5 m, 100 ms apart. */
static const char flaky[] =
    "{\"name\": \"demo\", \"version\": \"5.0.0\", \"services\": [{\"name\": \"web\", "
    "\"command\": \"/bin/sh\", \"args\": [\"-c\", \"test -e \\\"$$CHIMERA_SERVICE_OWNER/crash\\\" "
    "&& exit 3; f=; test -e \\\"$$CHIMERA_SERVICE_OWNER/sick\\\" && f='--fail-health-after 1s'; "
    "exec chimera-demo --port ${PORT} --version ${VERSION} $$f\"], \"port\": \"auto\", "
    "\"health\": {\"url\": \"http://127.0.0.1:${PORT}/health\", \"interval\": \"200ms\", "
    "\"timeout\": \"200ms\"}, \"restart\": {\"attempts\": %d, \"interval\": \"5m\", \"delay\": "
    "\"100ms\"}}], \"rollout\": {\"max_parallel\": 3, \"min_healthy_time\": \"1s\", "
    "\"healthy_deadline\": \"10s\", \"progress_deadline\": \"30s\"}}";

/* Deploys flaky with `attempts` restarts through leader, stable and running
 * everywhere. */
static void deploy_flaky(struct h_cluster *c, int leader, int attempts)
{
    char manifest[sizeof(flaky) + 16], why[1024];
    snprintf(manifest, sizeof(manifest), flaky, attempts);
    char *id = h_release_deploy(c, leader, manifest, 0, why, sizeof(why));
    if (!id)
        fail_msg("demo 5.0.0 was not accepted: %s", why);
    if (!h_release_wait_stage(c, id, "stable", DEPLOY_MS) ||
        !h_release_wait_running(c, id, DEPLOY_MS))
        fail_msg("demo 5.0.0 did not become stable on every node: %s", h_views_line(c));
    free(id);
}

/* Starts the cluster and deploys flaky with `attempts` restarts, stable and
 * running everywhere; returns the leader. */
static int start_flaky(struct h_cluster *c, int attempts)
{
    int leader = h_start_agreed(c, "test_recovery", NULL);
    if (leader < 0)
        fail_msg("the federation did not come up with a leader");
    deploy_flaky(c, leader, attempts);
    return leader;
}

/* Creates (or removes) the file that tells node i's service to misbehave. */
static void misbehave(struct h_cluster *c, int i, const char *what, bool on)
{
    char abs[PATH_MAX], path[PATH_MAX + 16];
    if (!realpath(c->nodes[i].data, abs))
        fail_msg("no data directory %s", c->nodes[i].data);
    snprintf(path, sizeof(path), "%s/%s", abs, what);
    if (!on) {
        unlink(path);
        return;
    }
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fclose(f);
}

/* Kills node v's service, whose next process misbehaves as `what` says. */
static void kill_into(struct h_cluster *c, int v, const char *what)
{
    misbehave(c, v, what, true);
    long long pid = running_pid(c, v, 0);
    assert_int_equal(kill((pid_t)pid, SIGKILL), 0);
}

/* Node i's service in GET /recovery is in state. */
struct state_arg {
    struct h_cluster *c;
    int i;
    const char *want;
    char seen[32];
};

static bool recovery_state_is(void *arg)
{
    struct state_arg *a = arg;
    long st = 0;
    json_t *r = h_http_get_json(a->c, a->i, "/recovery", &st);
    const char *s = json_string_value(
        json_object_get(json_array_get(json_object_get(r, "services"), 0), "state"));
    snprintf(a->seen, sizeof(a->seen), "%s", s ? s : "(none)");
    json_decref(r);
    return strcmp(a->seen, a->want) == 0;
}

static void
test_a_service_failing_its_health_check_past_the_liveness_time_is_restarted(void **state)
{
    struct h_cluster *c = *state;
    int leader = start_flaky(c, 10);
    int v = (leader + 1) % NODES;
    /* Its next process answers its health check for 1 s, then fails it. */
    kill_into(c, v, "sick");
    char about[128];
    snprintf(about, sizeof(about), "service web on %s: liveness failing", c->nodes[v].id);
    if (!h_release_wait_event(c, v, "recovery.liveness_stop", about, DEPLOY_MS, NULL, 0))
        fail_msg("%s did not stop its service for failing its health check", c->nodes[v].id);
    misbehave(c, v, "sick", false);
    snprintf(about, sizeof(about), "service web on %s after liveness failing", c->nodes[v].id);
    char msg[512];
    if (!h_release_wait_event(c, v, "recovery.restarted", about, DEPLOY_MS, msg, sizeof(msg)))
        fail_msg("%s recorded no recovery.restarted event about %s", c->nodes[v].id, about);
    assert_every_ledger_records(c, v, "liveness failing");
    h_cluster_pass(c);
}

/* Node v's service crash-loops: it exits 3 from its next start on. */
static void crash_loop(struct h_cluster *c, int v)
{
    kill_into(c, v, "crash");
    char about[128];
    snprintf(about, sizeof(about), "service web on %s:", c->nodes[v].id);
    if (!h_release_wait_event(c, v, "recovery.crash_loop", about, DEPLOY_MS, NULL, 0))
        fail_msg("%s saw no crash loop of its service", c->nodes[v].id);
}

/* What a node marked failed shows: state, event, metric. */
static void assert_marked_failed(struct h_cluster *c, int v)
{
    char about[128];
    snprintf(about, sizeof(about), "service web on %s marked failed", c->nodes[v].id);
    if (!h_release_wait_event(c, v, "recovery.failed", about, DEPLOY_MS, NULL, 0))
        fail_msg("%s did not mark its service failed", c->nodes[v].id);
    /* On the leader's word: whichever node led then says so. */
    snprintf(about, sizeof(about), "service web on %s", c->nodes[v].id);
    bool verdict = false;
    for (int i = 0; i < c->n && !verdict; i++)
        verdict = h_node_up(c, i) && h_event_seq(c, i, "recovery.verdict", c->nodes[v].id, 0) != 0;
    if (!verdict)
        fail_msg("no node gave a verdict on %s's crash loop", c->nodes[v].id);
    struct state_arg a = {c, v, "failed", ""};
    if (!h_wait_until(recovery_state_is, &a, h_timeout_ms()))
        fail_msg("GET /recovery on %s says %s, not failed", c->nodes[v].id, a.seen);
    double failed = 0;
    assert_true(h_metric(c, v, "chimera_recovery_failed_total", &failed));
    assert_true(failed >= 1);
}

/* With a revert window of 0 every stable release is old: a follower's crash
 * loop has its service marked failed there. Returns the leader. */
static int marked_failed_on_a_follower(struct h_cluster *c, int *v)
{
    static const char *const window0[] = {"--recovery-revert-window=0", NULL};
    c->node_args = window0;
    int leader = start_flaky(c, 1);
    *v = (leader + 1) % NODES;
    crash_loop(c, *v);
    assert_marked_failed(c, *v);
    return leader;
}

static void
test_a_crash_loop_on_a_release_stable_past_the_revert_window_marks_the_service_failed(void **state)
{
    struct h_cluster *c = *state;
    int v;
    int leader = marked_failed_on_a_follower(c, &v);
    /* Failed, it is still retried, at the longest backoff. */
    unsigned long long failed = h_event_seq(c, v, "recovery.failed", NULL, 0);
    if (!h_wait_event(c, v, "recovery.restarting", NULL, failed, 2 * DEPLOY_MS))
        fail_msg("%s did not restart its failed service again", c->nodes[v].id);
    struct entry_arg e = {c, leader, "rollback", NULL, "crash loop"};
    assert_false(ledger_has(&e));
    h_cluster_pass(c);
}

static void
test_chimeractl_recovery_shows_every_member_and_a_failed_service_stands_out(void **state)
{
    struct h_cluster *c = *state;
    int v;
    int leader = marked_failed_on_a_follower(c, &v);
    int code = -1;
    char *out = NULL, *err = NULL;
    assert_true(h_ctl(c, leader, &code, &out, &err, "recovery", NULL));
    if (code != 0)
        fail_msg("chimeractl recovery exited %d: %s", code, err);
    char row[64];
    snprintf(row, sizeof(row), "%-10s %-16s %-10s", c->nodes[v].id, "web", "FAILED");
    if (!strstr(out, row) || !strstr(out, "1 service(s) FAILED"))
        fail_msg("chimeractl recovery does not show web on %s failed:\n%s", c->nodes[v].id, out);
    for (int i = 0; i < c->n; i++)
        if (!strstr(out, c->nodes[i].id))
            fail_msg("chimeractl recovery shows no row of %s:\n%s", c->nodes[i].id, out);
    free(out);
    free(err);
    out = err = NULL;
    assert_true(h_ctl(c, leader, &code, &out, &err, "recovery", "--json", NULL));
    assert_int_equal(code, 0);
    json_t *j = json_loads(out, 0, NULL);
    json_t *members = json_object_get(j, "members");
    assert_int_equal(json_array_size(members), NODES);
    size_t k;
    json_t *m;
    bool seen = false;
    json_array_foreach(members, k, m)
    {
        assert_true(json_is_true(json_object_get(m, "reachable")));
        json_t *svc =
            json_array_get(json_object_get(json_object_get(m, "recovery"), "services"), 0);
        const char *node = json_string_value(json_object_get(m, "node"));
        if (node && strcmp(node, c->nodes[v].id) == 0) {
            seen = true;
            assert_string_equal(json_string_value(json_object_get(svc, "state")), "failed");
            assert_string_equal(json_string_value(json_object_get(svc, "last_cause")), "exit 3");
        }
    }
    assert_true(seen);
    json_decref(j);
    free(out);
    free(err);
    h_cluster_pass(c);
}

static void test_a_crash_loop_seen_without_a_leader_is_reported_once_there_is_one(void **state)
{
    struct h_cluster *c = *state;
    static const char *const window0[] = {"--recovery-revert-window=0", NULL};
    c->node_args = window0;
    int leader = start_flaky(c, 1);
    int v = (leader + 1) % NODES, other = (leader + 2) % NODES;
    h_node_stop(c, leader);
    h_node_stop(c, other);
    int alone[] = {v};
    if (!h_wait_read_only(c, alone, 1, true, h_timeout_ms()))
        fail_msg("%s alone did not become read-only: %s", c->nodes[v].id, h_views_line(c));
    crash_loop(c, v);
    /* The quorum comes back: the report goes out, the verdict comes back. */
    assert_int_equal(h_node_start(c, leader), 0);
    assert_int_equal(h_node_start(c, other), 0);
    int now_leader = -1;
    if (!h_wait_agreed(c, 0, h_timeout_ms(), &now_leader, NULL))
        fail_msg("no leader after the quorum came back: %s", h_views_line(c));
    assert_marked_failed(c, v);
    h_cluster_pass(c);
}

/* The drills bench saw a leader decide "revert", lose its place before the
 * rollback committed, and the bad release stay up: the node had its verdict
 * and stopped reporting. A node now keeps its report until its own ledger
 * wants another release of it.
 *
 * The leader itself is the crash-looping node, so that the verdict cannot
 * be lost on the way: with both other members killed (a killed node leaves
 * nothing queued for the leader's entries), the leader decides the revert
 * and appends a rollback nobody can commit; check-quorum makes it step
 * down. Held paused, it cannot campaign with its longer log while the
 * other two come back and elect one of them, whose log never held that
 * rollback. Resumed, it must report its crash loop again to the new
 * leader, which reverts the release. The election timeout is raised so
 * that the leader, alone, surely decides before check-quorum makes it
 * step down. */
static void test_a_revert_lost_with_the_leader_that_decided_it_is_decided_again(void **state)
{
    struct h_cluster *c = *state;
    c->election_timeout_ms = 4000;
    char *v1;
    int leader = start_stable(c, &v1);
    deploy_flaky(c, leader, 1);
    int o1 = (leader + 1) % NODES, o2 = (leader + 2) % NODES;
    struct h_view view;
    assert_true(h_view(c, leader, h_timeout_ms(), &view));

    h_node_kill(c, o1);
    h_node_kill(c, o2);
    h_node_kill_services(c, o1);
    h_node_kill_services(c, o2);
    kill_into(c, leader, "crash");
    char about[128], msg[512];
    snprintf(about, sizeof(about), "service web on %s", c->nodes[leader].id);
    if (!h_release_wait_event(c, leader, "recovery.verdict", about, h_timeout_ms(), msg,
                              sizeof(msg)))
        fail_msg("%s gave no verdict on its own crash loop", c->nodes[leader].id);
    if (!strstr(msg, ": revert"))
        fail_msg("%s did not decide a revert: %s", c->nodes[leader].id, msg);
    int alone[] = {leader};
    if (!h_wait_read_only(c, alone, 1, true, h_timeout_ms()))
        fail_msg("%s alone did not step down: %s", c->nodes[leader].id, h_views_line(c));

    h_node_pause(c, leader);
    assert_int_equal(h_node_start(c, o1), 0);
    assert_int_equal(h_node_start(c, o2), 0);
    int two[] = {o1, o2}, next = -1;
    if (!h_wait_agreed_among(c, two, 2, view.term, h_timeout_ms(), &next, NULL))
        fail_msg("%s and %s elected no leader: %s", c->nodes[o1].id, c->nodes[o2].id,
                 h_views_line(c));
    h_node_resume(c, leader);

    assert_reverted_to(c, v1);
    snprintf(about, sizeof(about), "service web on %s: crash loop reported again",
             c->nodes[leader].id);
    if (!h_release_wait_event(c, leader, "recovery.crash_loop_resent", about, h_timeout_ms(), NULL,
                              0))
        fail_msg("%s did not report its crash loop again", c->nodes[leader].id);
    free(v1);
    h_cluster_pass(c);
}

/* A process carrying node i's mark that no release wants (what a node
 * killed mid-spawn could leave behind): `sleep 600` in its own group. */
static pid_t spawn_marked(struct h_cluster *c, int i)
{
    char abs[PATH_MAX], mark[PATH_MAX + 32];
    if (!realpath(c->nodes[i].data, abs))
        fail_msg("no data directory %s", c->nodes[i].data);
    snprintf(mark, sizeof(mark), "CHIMERA_SERVICE_OWNER=%s", abs);
    pid_t pid = fork();
    if (pid == 0) {
        setpgid(0, 0);
        char *const argv[] = {"sleep", "600", NULL};
        char *const envp[] = {mark, "PATH=/usr/bin:/bin", NULL};
        execve("/bin/sleep", argv, envp);
        _exit(127);
    }
    assert_true(pid > 0);
    return pid;
}

static bool reaped(void *arg)
{
    pid_t pid = *(pid_t *)arg;
    return waitpid(pid, NULL, WNOHANG) == pid;
}

static void test_a_stray_process_carrying_the_nodes_mark_is_stopped(void **state)
{
    struct h_cluster *c = *state;
    char *id;
    int leader = start_stable(c, &id);
    int v = (leader + 1) % NODES;
    pid_t stray = spawn_marked(c, v);
    if (!h_wait_until(reaped, &stray, h_timeout_ms()))
        fail_msg("%s did not stop the stray process %d carrying its mark", c->nodes[v].id,
                 (int)stray);
    char about[48];
    snprintf(about, sizeof(about), "process %d carrying", (int)stray);
    if (!h_release_wait_event(c, v, "recovery.stray_stopped", about, h_timeout_ms(), NULL, 0))
        fail_msg("%s recorded no recovery.stray_stopped event about %s", c->nodes[v].id, about);
    /* Its own service is not a stray. */
    running_pid(c, v, 0);
    assert_int_equal(h_event_seq(c, v, "deploy.service_exited", NULL, 0), 0);
    free(id);
    h_cluster_pass(c);
}

/* The node reports the crash to the leader, and nothing restarts it. */
struct raised_arg {
    struct h_cluster *c;
    int v;
};

/* Some node, as the leader of its term, raised release.unhealthy for v. Any
 * node: a loaded machine may cost the leader its office between the crash
 * and its report, and the report then goes to the next leader. */
static bool unhealthy_raised(void *arg)
{
    struct raised_arg *a = arg;
    for (int i = 0; i < a->c->n; i++)
        if (h_event_seq(a->c, i, "release.unhealthy", a->c->nodes[a->v].id, 0) > 0)
            return true;
    return false;
}

static void test_with_recovery_disabled_a_killed_service_stays_down(void **state)
{
    struct h_cluster *c = *state;
    static const char *const no_recovery[] = {"--recovery-enabled=false", NULL};
    c->node_args = no_recovery;
    char *id;
    int leader = start_stable(c, &id);
    int v = (leader + 1) % NODES;
    long long pid = running_pid(c, v, 0);
    assert_int_equal(kill((pid_t)pid, SIGKILL), 0);
    if (!h_release_wait_event(c, v, "deploy.service_exited", "signal 9", h_timeout_ms(), NULL, 0))
        fail_msg("%s did not see its service exit", c->nodes[v].id);
    /* Once a leader has heard of the crash, the node still runs nothing. */
    struct raised_arg r = {c, v};
    if (!h_wait_until(unhealthy_raised, &r, h_timeout_ms()))
        fail_msg("no leader ever heard that %s crashed: %s", c->nodes[v].id, h_views_line(c));
    struct svc_arg a = {c, v, 0, 0, ""};
    assert_false(service_runs(&a));
    assert_int_equal(h_event_seq(c, v, "recovery.restarting", NULL, 0), 0);
    assert_int_equal(h_event_seq(c, v, "recovery.restarted", NULL, 0), 0);
    free(id);
    h_cluster_pass(c);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, h_setup_three_nodes, h_teardown_cluster)
    const struct CMUnitTest tests[] = {
        T(test_a_service_killed_with_sigkill_is_restarted_and_the_event_says_so),
        T(test_a_stray_process_carrying_the_nodes_mark_is_stopped),
        T(test_a_release_that_crash_loops_soon_after_it_became_stable_is_reverted),
        T(test_a_release_that_crash_loops_while_it_rolls_out_is_reverted_for_it),
        T(test_with_recovery_disabled_a_killed_service_stays_down),
        T(test_a_service_failing_its_health_check_past_the_liveness_time_is_restarted),
        T(test_a_crash_loop_on_a_release_stable_past_the_revert_window_marks_the_service_failed),
        T(test_a_crash_loop_seen_without_a_leader_is_reported_once_there_is_one),
        T(test_chimeractl_recovery_shows_every_member_and_a_failed_service_stands_out),
        T(test_a_revert_lost_with_the_leader_that_decided_it_is_decided_again),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
