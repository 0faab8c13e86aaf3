/* Integration: deployments and rollbacks on three real chimerad processes
 * while one member is down (killed with its services, as a machine that
 * died). With the quorum intact the federation still deploys and rolls
 * back: over the two members that are up, the one down named as skipped;
 * a member that comes back runs what the ledger says. Every wait is on a
 * condition with a deadline. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "harness_release.h"

#define NODES 3

static int start(struct h_cluster *c)
{
    int leader = h_start_agreed(c, "test_deploy_down", NULL);
    if (leader < 0)
        fail_msg("the federation did not come up with a leader");
    return leader;
}

/* Kills member i and its services (a machine that died) and waits until
 * the leader counts it dead. */
static void kill_member(struct h_cluster *c, int i, int leader)
{
    h_node_kill(c, i);
    h_node_kill_services(c, i);
    if (!h_wait_member_is(c, leader, c->nodes[i].id, "dead", h_timeout_ms()))
        fail_msg("%s never saw %s dead", c->nodes[leader].id, c->nodes[i].id);
}

/* The index of a member other than `not`. */
static int other(int not )
{
    return (not +1) % NODES;
}

/* Submits deploy/examples/NAME through node i; its deployment id. The
 * plan waits for the member that is down as long as a round lasts: no
 * short timeout. */
static char *submit(struct h_cluster *c, int i, const char *name)
{
    char *id = h_release_submit(c, i, name, NULL, 30000);
    assert_non_null(id);
    return id;
}

/* chimeractl deploy NAME --wait through node i; its exit code. */
static int ctl_deploy_wait(struct h_cluster *c, int i, const char *name)
{
    char path[PATH_MAX + 64], ctl[PATH_MAX + 16], addr[64];
    h_release_example_path(name, path, sizeof(path));
    snprintf(ctl, sizeof(ctl), "%s/chimeractl", h_bin_dir());
    snprintf(addr, sizeof(addr), "%s:%d", c->nodes[i].http_host, c->nodes[i].http_port);
    const char *argv[] = {ctl,  "--addr", addr,        "--token-file", c->token_file, "deploy",
                          path, "--wait", "--timeout", "90s",          NULL};
    int code = -1;
    char *out = NULL, *err = NULL;
    if (!h_run(c, argv, 120000, &code, &out, &err))
        fail_msg("chimeractl deploy %s --wait did not end", name);
    if (code != 0 && code != 3)
        fprintf(stderr, "chimeractl deploy %s exited %d:\n%s\n%s\n", name, code, out, err);
    free(out);
    free(err);
    return code;
}

/* Waits until deployment id is in stage (as node i reports it, i < 0: any
 * node up); returns the deployment object (json_decref it). */
static json_t *expect_stage(struct h_cluster *c, int i, const char *id, const char *stage)
{
    json_t *d = h_release_stage_at(c, i, id, stage, 90000);
    assert_non_null(d);
    return d;
}

/* The deployment names member `id` as skipped because it was down, in its
 * "skipped" list and in its nodes. */
static void expect_skipped(const json_t *dep, const char *id)
{
    bool listed = false, marked = false;
    size_t k;
    json_t *v;
    json_array_foreach(json_object_get(dep, "skipped"), k, v) listed |=
        strcmp(json_string_value(v), id) == 0;
    json_array_foreach(json_object_get(dep, "nodes"), k, v)
    {
        const char *skipped = json_string_value(json_object_get(v, "skipped"));
        marked |= strcmp(json_string_value(json_object_get(v, "node")), id) == 0 && skipped &&
                  strcmp(skipped, "down") == 0;
    }
    char *text = json_dumps(dep, JSON_COMPACT);
    if (!listed || !marked)
        fail_msg("deployment does not name %s as skipped (down): %s", id, text);
    free(text);
}

struct run_arg {
    struct h_cluster *c;
    int node;
    const char *id;
};

/* Node a->node runs deployment a->id's release, healthy. */
static bool runs_healthy(void *arg)
{
    struct run_arg *a = arg;
    long st = 0;
    json_t *s = h_http_get_json(a->c, a->node, "/federation/state", &st);
    const char *running =
        json_string_value(json_object_get(json_object_get(s, "release"), "running"));
    bool ok = st == 200 && running && strcmp(running, a->id) == 0;
    json_decref(s);
    if (!ok)
        return false;
    char path[160];
    snprintf(path, sizeof(path), "/deployments/%s", a->id);
    json_t *d = h_http_get_json(a->c, a->node, path, &st);
    size_t k;
    json_t *v;
    json_array_foreach(json_object_get(d, "nodes"), k, v)
    {
        if (strcmp(json_string_value(json_object_get(v, "node")), a->c->nodes[a->node].id) == 0)
            ok = strcmp(json_string_value(json_object_get(v, "health")), "healthy") == 0;
    }
    json_decref(d);
    return ok;
}

static void expect_runs(struct h_cluster *c, int i, const char *id)
{
    struct run_arg a = {c, i, id};
    if (!h_wait_until(runs_healthy, &a, 60000))
        fail_msg("%s does not run deployment %s healthy: %s", c->nodes[i].id, id, h_views_line(c));
}

struct shown_arg {
    struct h_cluster *c;
    int node;
    const char *id;
    const char *want;
    char *out; /* the last output */
};

/* chimeractl deployment ID, asked of node a->node, prints a->want. */
static bool ctl_deployment_shows(void *arg)
{
    struct shown_arg *a = arg;
    int code = -1;
    char *err = NULL;
    free(a->out);
    a->out = NULL;
    bool ran = h_ctl(a->c, a->node, &code, &a->out, &err, "deployment", a->id, NULL);
    free(err);
    return ran && code == 0 && a->out && strstr(a->out, a->want);
}

struct member_arg {
    struct h_cluster *c;
    int node;
    const char *id, *member, *want;
};

/* GET /deployments/ID on a->node names a->member's liveness as a->want. */
static bool deployment_names_member(void *arg)
{
    struct member_arg *a = arg;
    char path[160];
    snprintf(path, sizeof path, "/deployments/%s", a->id);
    long st = 0;
    json_t *d = h_http_get_json(a->c, a->node, path, &st), *n;
    size_t i;
    bool found = false;
    json_array_foreach(json_object_get(d, "nodes"), i, n)
    {
        const char *member = json_string_value(json_object_get(n, "member"));
        found |= strcmp(json_string_value(json_object_get(n, "node")), a->member) == 0 && member &&
                 strcmp(member, a->want) == 0;
    }
    json_decref(d);
    return st == 200 && found;
}

static void test_a_release_becomes_stable_over_the_members_that_are_up(void **state)
{
    struct h_cluster *c = *state;
    int leader = start(c);
    int down = other(leader);
    kill_member(c, down, leader);
    assert_int_equal(ctl_deploy_wait(c, leader, "demo-good.json"), 0);
    char *id = h_release_newest(c, leader);
    assert_non_null(id);
    json_t *d = expect_stage(c, leader, id, "stable");
    expect_skipped(d, c->nodes[down].id);
    json_decref(d);
    for (int i = 0; i < NODES; i++)
        if (i != down)
            expect_runs(c, i, id);
    /* The leader's view of each member now comes with the report it holds. */
    struct member_arg dead = {c, leader, id, c->nodes[down].id, "dead"},
                      up = {c, leader, id, c->nodes[leader].id, "alive"};
    if (!h_wait_until(deployment_names_member, &dead, h_timeout_ms()) ||
        !deployment_names_member(&up))
        fail_msg("GET /deployments/%s does not name %s dead and %s alive", id, dead.member,
                 up.member);
    /* chimeractl shows the member passed over, not a stale health. */
    int code = -1;
    char *out = NULL, *err = NULL;
    assert_true(h_ctl(c, leader, &code, &out, &err, "deployment", id, NULL));
    if (code != 0 || !strstr(out, "skipped (down)"))
        fail_msg("chimeractl deployment %s (exit %d) does not show %s skipped: %s%s", id, code,
                 c->nodes[down].id, out, err);
    free(out);
    free(err);
    free(id);
    h_cluster_pass(c);
}

static void test_a_member_that_comes_back_runs_the_stable_release(void **state)
{
    struct h_cluster *c = *state;
    int leader = start(c);
    int down = other(leader);
    kill_member(c, down, leader);
    char *id = submit(c, leader, "demo-good.json");
    json_decref(expect_stage(c, leader, id, "stable"));
    assert_int_equal(h_node_start(c, down), 0);
    expect_runs(c, down, id);
    /* chimeractl shows it as it is now, the skip as the past step it was,
     * not "skipped (down)" as if it were still down. */
    struct shown_arg a = {c, leader, id, "healthy (passed over while down)", NULL};
    if (!h_wait_until(ctl_deployment_shows, &a, 30000) || strstr(a.out, "skipped (down)"))
        fail_msg("chimeractl deployment %s does not show %s back and healthy: %s", id,
                 c->nodes[down].id, a.out ? a.out : "");
    free(a.out);
    free(id);
    h_cluster_pass(c);
}

static void test_a_failing_release_with_a_member_down_is_reverted_over_the_others(void **state)
{
    struct h_cluster *c = *state;
    int leader = start(c);
    char *v1 = submit(c, leader, "demo-good.json");
    json_decref(expect_stage(c, leader, v1, "stable"));
    int down = other(leader);
    kill_member(c, down, leader);
    /* 3: failed and reverted to the last stable release. */
    assert_int_equal(ctl_deploy_wait(c, leader, "demo-crash.json"), 3);
    char *rb = h_release_newest(c, leader);
    assert_non_null(rb);
    json_t *d = expect_stage(c, leader, rb, "reverted");
    assert_true(json_is_true(json_object_get(d, "rollback")));
    expect_skipped(d, c->nodes[down].id);
    json_decref(d);
    /* Its row shows nothing of the report the leader kept from before it
     * went down (healthy on v1 since ...): no time, no detail. */
    struct shown_arg a = {c, leader, rb, "skipped (down)", NULL};
    if (!ctl_deployment_shows(&a))
        fail_msg("chimeractl deployment %s does not show %s skipped: %s", rb, c->nodes[down].id,
                 a.out ? a.out : "");
    char row[32];
    snprintf(row, sizeof(row), "\n  %s ", c->nodes[down].id);
    const char *at = strstr(a.out, row), *end = at ? strchr(at + 1, '\n') : NULL;
    if (!at || !end || memchr(at, ':', (size_t)(end - at)))
        fail_msg("%s's row carries a stale time: %s", c->nodes[down].id, a.out);
    free(a.out);
    for (int i = 0; i < NODES; i++)
        if (i != down)
            expect_runs(c, i, v1);
    /* Back, it runs the release the rollback went back to. */
    assert_int_equal(h_node_start(c, down), 0);
    expect_runs(c, down, v1);
    free(v1);
    free(rb);
    h_cluster_pass(c);
}

static void test_a_leader_killed_during_a_rollout_is_passed_over_by_the_next(void **state)
{
    struct h_cluster *c = *state;
    int leader = start(c);
    char *id = submit(c, leader, "demo-good.json");
    kill_member(c, leader, other(leader));
    int next;
    if (!h_wait_agreed(c, 0, h_timeout_ms(), &next, NULL))
        fail_msg("no new leader: %s", h_views_line(c));
    json_t *d = expect_stage(c, next, id, "stable");
    expect_skipped(d, c->nodes[leader].id);
    json_decref(d);
    for (int i = 0; i < NODES; i++)
        if (i != leader)
            expect_runs(c, i, id);
    free(id);
    h_cluster_pass(c);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, h_setup_three_nodes, h_teardown_cluster)
    const struct CMUnitTest tests[] = {
        T(test_a_release_becomes_stable_over_the_members_that_are_up),
        T(test_a_member_that_comes_back_runs_the_stable_release),
        T(test_a_failing_release_with_a_member_down_is_reverted_over_the_others),
        T(test_a_leader_killed_during_a_rollout_is_passed_over_by_the_next),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
