/* A crash loop's revert survives a change of leader (issue 12, README
 * "Recovery watchtower"): the drills bench saw a leader decide "revert",
 * lose its place before the rollback committed, and the bad release stay
 * up, since the node had its verdict and stopped reporting. A node now
 * keeps its report until its own ledger wants another release of it.
 *
 * The test makes the leader itself the crash-looping node, so that the
 * verdict cannot be lost on the way: with both other members killed (a
 * killed node leaves nothing queued for the leader's entries), the leader
 * decides the revert and appends the rollback, which nobody can commit;
 * check-quorum makes it step down. Held paused, it cannot campaign with
 * its longer log while the other two come back and elect one of them,
 * whose log never held that rollback. Resumed, the node must report its
 * crash loop again to the new leader, which reverts the release. The
 * election timeout is raised so that the leader, alone, surely decides
 * before check-quorum makes it step down. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <cmocka.h>
#include <jansson.h>

#include "harness.h"
#include "harness_release.h"

#define NODES 3
#define DEPLOY_MS 60000
#define ELECTION_MS 4000

/* demo 5.0.0, whose service exits 3 at once on a node whose data directory
 * holds a file "crash" (the service's CHIMERA_SERVICE_OWNER); one restart
 * allowed within 5 m. */
static const char flaky[] =
    "{\"name\": \"demo\", \"version\": \"5.0.0\", \"services\": [{\"name\": \"web\", "
    "\"command\": \"/bin/sh\", \"args\": [\"-c\", \"test -e \\\"$$CHIMERA_SERVICE_OWNER/crash\\\" "
    "&& exit 3; exec chimera-demo --port ${PORT} --version ${VERSION}\"], \"port\": \"auto\", "
    "\"health\": {\"url\": \"http://127.0.0.1:${PORT}/health\", \"interval\": \"200ms\", "
    "\"timeout\": \"200ms\"}, \"restart\": {\"attempts\": 1, \"interval\": \"5m\", \"delay\": "
    "\"100ms\"}}], \"rollout\": {\"max_parallel\": 3, \"min_healthy_time\": \"1s\", "
    "\"healthy_deadline\": \"10s\", \"progress_deadline\": \"30s\"}}";

/* Whether node i's ledger holds a rollback whose reason says a crash loop. */
struct rollback_arg {
    struct h_cluster *c;
    int i;
};

static bool reverted_for_a_crash_loop(void *arg)
{
    struct rollback_arg *a = arg;
    long st = 0;
    json_t *page = h_http_get_json(a->c, a->i, "/ledger?from=1&limit=1000", &st);
    size_t k;
    json_t *e;
    bool found = false;
    json_array_foreach(json_object_get(page, "entries"), k, e)
    {
        const char *type = json_string_value(json_object_get(e, "type"));
        const char *reason =
            json_string_value(json_object_get(json_object_get(e, "data"), "reason"));
        found |= type && strcmp(type, "rollback") == 0 && reason && strstr(reason, "crash loop");
    }
    json_decref(page);
    return found;
}

/* Release 1 (demo-good) stable, then flaky stable on every node: a release
 * a crash loop reverts (stable for less than the revert window, with a
 * previous one). Returns release 1's id; *leader the leader. */
static char *two_releases(struct h_cluster *c, int *leader)
{
    unsigned long long term = 0;
    *leader = h_start_agreed(c, "test_recovery_revert", &term);
    if (*leader < 0)
        fail_msg("the federation did not come up with a leader");
    char *v1 = h_release_submit(c, *leader, "demo-good.json", NULL, 0);
    assert_non_null(v1);
    if (!h_release_wait_stage(c, v1, "stable", DEPLOY_MS))
        fail_msg("demo 1.0.0 did not become stable: %s", h_views_line(c));
    char why[1024];
    char *v5 = h_release_deploy(c, *leader, flaky, 0, why, sizeof(why));
    if (!v5)
        fail_msg("demo 5.0.0 was not accepted: %s", why);
    if (!h_release_wait_stage(c, v5, "stable", DEPLOY_MS) ||
        !h_release_wait_running(c, v5, DEPLOY_MS))
        fail_msg("demo 5.0.0 did not become stable on every node: %s", h_views_line(c));
    free(v5);
    return v1;
}

/* Node i's service crash-loops from its next start: the file, then a kill. */
static void crash_loop(struct h_cluster *c, int i)
{
    char abs[PATH_MAX], path[PATH_MAX + 16];
    if (!realpath(c->nodes[i].data, abs))
        fail_msg("no data directory %s", c->nodes[i].data);
    snprintf(path, sizeof(path), "%s/crash", abs);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fclose(f);
    long st = 0;
    json_t *j = h_http_get_json(c, i, "/federation/state", &st);
    json_t *pid = json_object_get(
        json_array_get(json_object_get(json_object_get(j, "release"), "services"), 0), "pid");
    assert_true(json_is_integer(pid));
    assert_int_equal(kill((pid_t)json_integer_value(pid), SIGKILL), 0);
    json_decref(j);
}

static void test_a_revert_lost_with_the_leader_that_decided_it_is_decided_again(void **state)
{
    struct h_cluster *c = *state;
    int leader = -1;
    char *v1 = two_releases(c, &leader);
    int o1 = (leader + 1) % NODES, o2 = (leader + 2) % NODES;
    struct h_view view;
    assert_true(h_view(c, leader, h_timeout_ms(), &view));
    unsigned long long term = view.term;

    /* Alone, the leader decides the revert of its own crash loop and
     * appends a rollback nobody can commit. */
    h_node_kill(c, o1);
    h_node_kill(c, o2);
    h_node_kill_services(c, o1);
    h_node_kill_services(c, o2);
    crash_loop(c, leader);
    char about[128];
    snprintf(about, sizeof(about), "service web on %s", c->nodes[leader].id);
    char msg[512];
    if (!h_release_wait_event(c, leader, "recovery.verdict", about, h_timeout_ms(), msg,
                              sizeof(msg)))
        fail_msg("%s gave no verdict on its own crash loop", c->nodes[leader].id);
    if (!strstr(msg, ": revert"))
        fail_msg("%s did not decide a revert: %s", c->nodes[leader].id, msg);
    int alone[] = {leader};
    if (!h_wait_read_only(c, alone, 1, true, h_timeout_ms()))
        fail_msg("%s alone did not step down: %s", c->nodes[leader].id, h_views_line(c));

    /* The other two elect one of them, whose log never held that rollback. */
    h_node_pause(c, leader);
    assert_int_equal(h_node_start(c, o1), 0);
    assert_int_equal(h_node_start(c, o2), 0);
    int two[] = {o1, o2}, next = -1;
    if (!h_wait_agreed_among(c, two, 2, term, h_timeout_ms(), &next, NULL))
        fail_msg("%s and %s elected no leader: %s", c->nodes[o1].id, c->nodes[o2].id,
                 h_views_line(c));
    h_node_resume(c, leader);

    /* The node reports its crash loop again; the new leader reverts. */
    for (int i = 0; i < c->n; i++) {
        struct rollback_arg a = {c, i};
        if (!h_wait_until(reverted_for_a_crash_loop, &a, DEPLOY_MS))
            fail_msg("%s's ledger holds no rollback for the crash loop: %s", c->nodes[i].id,
                     h_views_line(c));
    }
    if (!h_release_wait_running(c, v1, DEPLOY_MS))
        fail_msg("the nodes did not go back to demo 1.0.0: %s", h_views_line(c));
    snprintf(about, sizeof(about), "service web on %s: crash loop reported again",
             c->nodes[leader].id);
    if (!h_release_wait_event(c, leader, "recovery.crash_loop_resent", about, h_timeout_ms(), NULL,
                              0))
        fail_msg("%s did not report its crash loop again", c->nodes[leader].id);
    free(v1);
    h_cluster_pass(c);
}

static int setup(void **state)
{
    h_path_add_bin_dir();
    struct h_cluster *c = h_cluster_create(NODES);
    if (!c)
        return -1;
    c->election_timeout_ms = ELECTION_MS;
    *state = c;
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_a_revert_lost_with_the_leader_that_decided_it_is_decided_again, setup,
            h_teardown_cluster),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
