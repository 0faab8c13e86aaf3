/* Integration: the federation's view of a release reflects each node's
 * service health, on three real chimerad processes running chimera-demo.
 * A service killed on two nodes shows as crashed in the leader's
 * /federation/state (the stable release degraded, those nodes named), makes
 * those nodes unready with the service named, and raises an event on the
 * leader; a node restarted where its service cannot be found shows
 * start_failed in the same three places, and is not healthy since any time.
 * Every wait is on a condition with a deadline. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "harness_release.h"

#define NODES 3
#define DEPLOY_MS 60000

/* A federation running demo 1.0.0, stable on every node; the leader's
 * index, and the deployment id in *id (malloc'd). */
static int start_stable(struct h_cluster *c, char **id)
{
    int leader = h_start_agreed(c, "test_service_health", NULL);
    if (leader < 0)
        fail_msg("the federation did not come up with a leader");
    *id = h_release_submit(c, leader, "demo-good.json", NULL, 0);
    assert_non_null(*id);
    if (!h_release_wait_stage(c, *id, "stable", DEPLOY_MS) ||
        !h_release_wait_running(c, *id, DEPLOY_MS))
        fail_msg("demo 1.0.0 did not become stable on every node: %s", h_views_line(c));
    return leader;
}

static json_t *state_of(struct h_cluster *c, int i)
{
    long st = 0;
    json_t *j = h_http_get_json(c, i, "/federation/state", &st);
    if (st != 200 || !j)
        fail_msg("%s: GET /federation/state answered %ld", c->nodes[i].id, st);
    return j;
}

/* The pid of node i's service (release.services[0].pid), once it runs. */
struct pid_arg {
    struct h_cluster *c;
    int i;
    long long pid;
};

static bool service_pid_known(void *arg)
{
    struct pid_arg *a = arg;
    long st = 0;
    json_t *j = h_http_get_json(a->c, a->i, "/federation/state", &st);
    json_t *svc = json_array_get(json_object_get(json_object_get(j, "release"), "services"), 0);
    json_t *pid = json_object_get(svc, "pid");
    a->pid = json_is_integer(pid) ? json_integer_value(pid) : 0;
    const char *state = json_string_value(json_object_get(svc, "state"));
    bool ok = a->pid > 0 && state && strcmp(state, "running") == 0 &&
              json_integer_value(json_object_get(svc, "port")) > 0;
    json_decref(j);
    return ok;
}

/* What the observer says member `member` runs: peers[].release.health. */
struct peer_health {
    struct h_cluster *c;
    int observer;
    const char *member, *health;
    char seen[32];
};

/* The leader all running nodes agree on now, or -1. On a loaded machine an
 * election may move the leadership while a test waits; what the test
 * checks (the leader's view of its members) holds for whichever node
 * leads, once it has heard their reports. */
static int leader_now(struct h_cluster *c)
{
    int l = -1;
    return h_agreed(c, 0, &l, NULL) ? l : -1;
}

static bool peer_has_health(void *arg)
{
    struct peer_health *a = arg;
    long st = 0;
    int observer = a->observer >= 0 ? a->observer : leader_now(a->c);
    if (observer < 0)
        return false;
    json_t *j = h_http_get_json(a->c, observer, "/federation/state", &st);
    const json_t *p = h_find_peer(j, a->member);
    const char *h = json_string_value(json_object_get(json_object_get(p, "release"), "health"));
    snprintf(a->seen, sizeof(a->seen), "%s", h ? h : "(none)");
    bool ok = h && strcmp(h, a->health) == 0;
    json_decref(j);
    return ok;
}

static void expect_peer_health(struct h_cluster *c, int observer, int member, const char *health)
{
    struct peer_health a = {c, observer, c->nodes[member].id, health, ""};
    if (!h_wait_until(peer_has_health, &a, h_timeout_ms()))
        fail_msg("%s never said %s runs its release %s (last: %s)",
                 observer >= 0 ? c->nodes[observer].id : "the leader", c->nodes[member].id, health,
                 a.seen);
}

/* The leader's stable summary is degraded, naming exactly these nodes. */
struct degraded_arg {
    struct h_cluster *c;
    const int *bad;
    int nbad;
    char seen[256];
};

static bool is_degraded(void *arg)
{
    struct degraded_arg *a = arg;
    int leader = leader_now(a->c);
    if (leader < 0)
        return false;
    long st = 0;
    json_t *j = h_http_get_json(a->c, leader, "/federation/state", &st);
    json_t *stable = json_object_get(json_object_get(j, "release"), "stable");
    json_t *ids = json_object_get(stable, "unhealthy_nodes");
    bool ok = json_is_true(json_object_get(stable, "degraded")) &&
              json_array_size(ids) == (size_t)a->nbad;
    for (int k = 0; ok && k < a->nbad; k++) {
        bool found = false;
        for (size_t x = 0; x < json_array_size(ids); x++)
            found |=
                strcmp(json_string_value(json_array_get(ids, x)), a->c->nodes[a->bad[k]].id) == 0;
        ok = found;
    }
    char *text = stable ? json_dumps(stable, JSON_COMPACT) : NULL;
    snprintf(a->seen, sizeof(a->seen), "%s: %s", a->c->nodes[leader].id, text ? text : "null");
    free(text);
    json_decref(j);
    return ok;
}

static void expect_degraded(struct h_cluster *c, const int *bad, int nbad)
{
    struct degraded_arg a = {c, bad, nbad, ""};
    if (!h_wait_until(is_degraded, &a, h_timeout_ms()))
        fail_msg("the leader's stable release is not degraded naming exactly the %d crashed "
                 "nodes: %s",
                 nbad, a.seen);
}

/* Node i answers /health/ready 503 naming the service and the health. */
static void expect_unready(struct h_cluster *c, int i, const char *health)
{
    long st = 0;
    json_t *j = h_http_get_json(c, i, "/health/ready", &st);
    const char *reason = json_string_value(json_object_get(j, "reason"));
    const char *service = json_string_value(json_object_get(j, "service"));
    if (st != 503 || !reason || !strstr(reason, "web") || !strstr(reason, health) || !service ||
        strcmp(service, "web") != 0)
        fail_msg("%s: /health/ready answered %ld, reason \"%s\", service %s", c->nodes[i].id, st,
                 reason ? reason : "", service ? service : "null");
    assert_string_equal(json_string_value(json_object_get(j, "release_health")), health);
    json_decref(j);
}

/* Only a leader raises release.unhealthy: the event on any node is the
 * leader's (whichever led when the report came). */
struct event_arg {
    struct h_cluster *c;
    int member;
};

static bool leader_raised(void *arg)
{
    struct event_arg *a = arg;
    for (int i = 0; i < a->c->n; i++)
        if (h_node_up(a->c, i) &&
            h_wait_event(a->c, i, "release.unhealthy", a->c->nodes[a->member].id, 0, 1))
            return true;
    return false;
}

static void expect_leader_event(struct h_cluster *c, int member)
{
    struct event_arg a = {c, member};
    if (!h_wait_until(leader_raised, &a, h_timeout_ms()))
        fail_msg("no leader raised release.unhealthy for %s", c->nodes[member].id);
}

struct ready_arg {
    struct h_cluster *c;
    int i;
};

static bool is_ready(void *arg)
{
    struct ready_arg *a = arg;
    return h_ready_status(a->c, a->i) == 200;
}

/* With the recovery watchtower off: with it on, the killed services are
 * restarted (test_recovery.c). */
static void test_a_service_killed_on_two_nodes_shows_crashed_degraded_and_unready(void **state)
{
    struct h_cluster *c = *state;
    static const char *const no_recovery[] = {"--recovery-enabled=false", NULL};
    c->node_args = no_recovery;
    char *id;
    int leader = start_stable(c, &id);
    int bad[2] = {(leader + 1) % NODES, (leader + 2) % NODES};
    for (int k = 0; k < 2; k++) {
        struct pid_arg a = {c, bad[k], 0};
        if (!h_wait_until(service_pid_known, &a, h_timeout_ms()))
            fail_msg("%s names no running service pid and port", c->nodes[bad[k]].id);
        assert_int_equal(kill((pid_t)a.pid, SIGKILL), 0);
    }
    for (int k = 0; k < 2; k++) {
        expect_peer_health(c, -1, bad[k], "crashed");
        expect_unready(c, bad[k], "crashed");
        expect_leader_event(c, bad[k]);
    }
    expect_peer_health(c, -1, leader, "healthy");
    expect_degraded(c, bad, 2);
    /* Its own release is healthy: ready (once it knows a leader again, if
     * an election is under way). */
    struct ready_arg r = {c, leader};
    if (!h_wait_until(is_ready, &r, h_timeout_ms()))
        fail_msg("%s, whose service runs, is not ready: %s", c->nodes[leader].id, h_views_line(c));
    double healthy = -1;
    assert_true(h_metric(c, bad[0], "chimera_release_healthy", &healthy));
    assert_true(healthy == 0);
    free(id);
    h_cluster_pass(c);
}

/* PATH without the build directory: chimera-demo cannot be found. */
static void start_without_demo(struct h_cluster *c, int i)
{
    char *saved = strdup(getenv("PATH"));
    char without[8192] = "", *copy = strdup(saved), *save = NULL;
    for (char *dir = strtok_r(copy, ":", &save); dir; dir = strtok_r(NULL, ":", &save))
        if (strcmp(dir, h_bin_dir()) != 0)
            snprintf(without + strlen(without), sizeof(without) - strlen(without), "%s%s",
                     without[0] ? ":" : "", dir);
    free(copy);
    setenv("PATH", without, 1);
    int rv = h_node_start(c, i);
    setenv("PATH", saved, 1);
    free(saved);
    assert_int_equal(rv, 0);
    if (!h_wait_http_up(c, i, h_timeout_ms()))
        fail_msg("%s did not come back (log: %s)", c->nodes[i].id, c->nodes[i].log);
}

/* The leader's GET /deployments/ID shows node i with healthy_since_ms null. */
static void expect_not_healthy_since(struct h_cluster *c, int leader, const char *id, int i)
{
    char path[128];
    snprintf(path, sizeof(path), "/deployments/%s", id);
    long st = 0;
    json_t *j = h_http_get_json(c, leader, path, &st);
    size_t k;
    json_t *node;
    bool seen = false;
    json_array_foreach(json_object_get(j, "nodes"), k, node)
    {
        if (strcmp(json_string_value(json_object_get(node, "node")), c->nodes[i].id) != 0)
            continue;
        seen = true;
        if (!json_is_null(json_object_get(node, "healthy_since_ms")))
            fail_msg("%s never started its service, yet is healthy since %lld", c->nodes[i].id,
                     (long long)json_integer_value(json_object_get(node, "healthy_since_ms")));
    }
    assert_true(seen);
    json_decref(j);
}

static void test_a_node_that_cannot_start_its_service_shows_start_failed(void **state)
{
    struct h_cluster *c = *state;
    char *id;
    int leader = start_stable(c, &id);
    int f = (leader + 1) % NODES;
    h_node_stop(c, f);
    start_without_demo(c, f);

    expect_peer_health(c, f, f, "start_failed");
    json_t *j = state_of(c, f);
    json_t *rel = json_object_get(j, "release");
    assert_string_equal(json_string_value(json_object_get(rel, "health")), "start_failed");
    assert_true(json_is_null(json_object_get(rel, "healthy_since_ms")));
    assert_string_equal(json_string_value(json_object_get(rel, "version")), "1.0.0");
    json_t *svc = json_array_get(json_object_get(rel, "services"), 0);
    assert_string_equal(json_string_value(json_object_get(svc, "state")), "start_failed");
    assert_true(json_is_null(json_object_get(svc, "pid")));
    const char *detail = json_string_value(json_object_get(svc, "detail"));
    if (!detail || !strstr(detail, "chimera-demo"))
        fail_msg("the service's detail does not say what could not start: %s",
                 detail ? detail : "null");
    json_decref(j);
    expect_unready(c, f, "start_failed");

    expect_peer_health(c, -1, f, "start_failed");
    expect_leader_event(c, f);
    int bad[1] = {f};
    expect_degraded(c, bad, 1);
    if (!h_wait_agreed(c, 0, h_timeout_ms(), &leader, NULL))
        fail_msg("no leader: %s", h_views_line(c));
    expect_not_healthy_since(c, leader, id, f);
    free(id);
    h_cluster_pass(c);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, h_setup_three_nodes, h_teardown_cluster)
    const struct CMUnitTest tests[] = {
        T(test_a_service_killed_on_two_nodes_shows_crashed_degraded_and_unready),
        T(test_a_node_that_cannot_start_its_service_shows_start_failed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
