/* The recovery watchtower (issue 12, README "Recovery watchtower") on real
 * chimerad processes: a service killed with SIGKILL is restarted, the
 * event says so and the ledger records the recovery; a release that
 * crash-loops soon after it became stable is reverted; with the
 * watchtower off a killed service stays down. */
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
    for (int i = 0; i < c->n; i++) {
        struct entry_arg e = {c, i, "recovery", c->nodes[v].id, "signal 9"};
        if (!h_wait_until(ledger_has, &e, h_timeout_ms()))
            fail_msg("%s's ledger holds no recovery entry of %s's service", c->nodes[i].id,
                     c->nodes[v].id);
    }
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
    for (int i = 0; i < c->n; i++) {
        struct entry_arg e = {c, i, "rollback", NULL, "crash loop"};
        if (!h_wait_until(ledger_has, &e, DEPLOY_MS))
            fail_msg("%s's ledger holds no rollback for a crash loop: %s", c->nodes[i].id,
                     h_views_line(c));
    }
    if (!h_release_wait_running(c, v1, DEPLOY_MS))
        fail_msg("the nodes did not go back to demo 1.0.0: %s", h_views_line(c));
    free(v1);
    free(v4);
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
    /* Once the leader has heard of the crash, the node still runs nothing. */
    if (!h_wait_event(c, leader, "release.unhealthy", c->nodes[v].id, 0, h_timeout_ms()))
        fail_msg("the leader never heard that %s crashed", c->nodes[v].id);
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
        T(test_with_recovery_disabled_a_killed_service_stays_down),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
