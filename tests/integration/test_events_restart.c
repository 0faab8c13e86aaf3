/* Integration: events across restarts of a node, on three real chimerad
 * processes. A node rebuilding its state from the ledger raises no event
 * for that history (it raised them when they happened), yet raises the
 * events of what happens after; its event sequence numbers continue above
 * those of its earlier run, so a reader's `since` cursor loses nothing, and
 * `chimeractl events --follow` carries on across the restart and says so.
 * Every wait is on a condition with a deadline. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "harness_release.h"

#define NODES 3
#define DEPLOY_MS 60000

static int start(struct h_cluster *c)
{
    int leader = h_start_agreed(c, "test_events_restart", NULL);
    if (leader < 0)
        fail_msg("the federation did not come up with a leader");
    return leader;
}

static char *deploy(struct h_cluster *c, int leader, const char *file, const char *version)
{
    char *id = h_release_submit(c, leader, file, version, 0);
    assert_non_null(id);
    return id;
}

static void restart(struct h_cluster *c, int i)
{
    h_node_stop(c, i);
    assert_int_equal(h_node_start(c, i), 0);
    if (!h_wait_http_up(c, i, h_timeout_ms()))
        fail_msg("%s did not come back (log: %s)", c->nodes[i].id, c->nodes[i].log);
}

/* What replaying the ledger used to raise again at every start. */
static const char *const HISTORY_KINDS[] = {
    "deploy.initiated",      "chimera.deploy.wave",        "chimera.deploy.complete",
    "chimera.deploy.failed", "chimera.rollback.triggered", "chimera.rollback.complete",
    "deploy.record_ignored", "ledger.member_key_recorded", "ledger.member_key_retired",
};

/* Fails when node i holds an event of a history kind. */
static void expect_no_history_events(struct h_cluster *c, int i)
{
    json_t *ev = h_events(c, i);
    size_t k;
    json_t *e;
    json_array_foreach(ev, k, e)
    {
        const char *kind = json_string_value(json_object_get(e, "kind"));
        for (size_t h = 0; kind && h < sizeof(HISTORY_KINDS) / sizeof(HISTORY_KINDS[0]); h++)
            if (strcmp(kind, HISTORY_KINDS[h]) == 0)
                fail_msg("%s raised %s again after its restart: %s", c->nodes[i].id, kind,
                         json_string_value(json_object_get(e, "message")));
    }
    json_decref(ev);
}

/* Node i holds an event of kind whose message names id. */
static void expect_named_event(struct h_cluster *c, int i, const char *kind, const char *id)
{
    if (!h_release_wait_event(c, i, kind, id, DEPLOY_MS, NULL, 0))
        fail_msg("%s raised no %s for %s", c->nodes[i].id, kind, id);
}

static void test_a_restarted_node_raises_no_events_for_the_deployment_history(void **state)
{
    struct h_cluster *c = *state;
    int leader = start(c);
    char *v1 = deploy(c, leader, "demo-good.json", NULL);
    assert_true(h_release_wait_stage(c, v1, "stable", DEPLOY_MS));
    char *v3 = deploy(c, leader, "demo-crash.json", NULL);
    assert_true(h_release_wait_stage(c, v3, "failed", DEPLOY_MS));
    char *rb = h_release_newest_after(c, leader, v3, DEPLOY_MS);
    assert_non_null(rb);
    assert_true(h_release_wait_stage(c, rb, "reverted", DEPLOY_MS));

    int follower = (leader + 1) % NODES;
    int restarted[2] = {follower, leader};
    for (int k = 0; k < 2; k++) {
        int i = restarted[k];
        restart(c, i);
        if (!h_wait_agreed(c, 0, h_timeout_ms(), &leader, NULL))
            fail_msg("no leader after restarting %s: %s", c->nodes[i].id, h_views_line(c));
        /* Its state is rebuilt from the ledger: the last record applied. */
        json_t *d = h_release_stage_at(c, i, rb, "reverted", h_timeout_ms());
        if (!d)
            fail_msg("%s did not rebuild the deployments from its ledger", c->nodes[i].id);
        json_decref(d);
        if (!h_event_seq(c, i, "node.start", NULL, 0))
            fail_msg("%s raised no node.start", c->nodes[i].id);
        expect_no_history_events(c, i);
    }

    /* What happens after the restart is news again. */
    char *v11 = deploy(c, leader, "demo-good.json", "1.1.0");
    assert_true(h_release_wait_stage(c, v11, "stable", DEPLOY_MS));
    for (int k = 0; k < 2; k++) {
        expect_named_event(c, restarted[k], "deploy.initiated", v11);
        expect_named_event(c, restarted[k], "chimera.deploy.complete", v11);
    }
    free(v1);
    free(v3);
    free(rb);
    free(v11);
    h_cluster_pass(c);
}

/* The last event node i holds: its seq and boot. */
static void last_event(struct h_cluster *c, int i, long long *seq, long long *boot)
{
    json_t *ev = h_events(c, i);
    json_t *e = json_array_get(ev, json_array_size(ev) - 1);
    if (!e)
        fail_msg("%s holds no event", c->nodes[i].id);
    *seq = json_integer_value(json_object_get(e, "seq"));
    *boot = json_integer_value(json_object_get(e, "boot"));
    json_decref(ev);
}

static void test_event_numbers_continue_across_a_restart_and_name_the_new_boot(void **state)
{
    struct h_cluster *c = *state;
    start(c);
    long long before, boot_before;
    last_event(c, 1, &before, &boot_before);
    assert_true(boot_before > 0);
    restart(c, 1);
    if (!h_wait_event(c, 1, "node.start", NULL, 0, h_timeout_ms()))
        fail_msg("n2 raised no node.start after its restart");

    /* A cursor from the earlier run gets every event of the new one. The
     * node goes on raising events (its peers, an election) between two
     * requests: what it held first must all come with the cursor asked
     * after, from the first on. */
    json_t *all = h_events(c, 1);
    char path[96];
    snprintf(path, sizeof(path), "/events?limit=1000&since=%lld", before);
    long st = 0;
    json_t *since = h_http_get_json(c, 1, path, &st);
    assert_int_equal(st, 200);
    assert_true(json_array_size(all) > 0);
    assert_true(json_array_size(since) >= json_array_size(all));
    assert_int_equal(json_integer_value(json_object_get(json_array_get(since, 0), "seq")),
                     json_integer_value(json_object_get(json_array_get(all, 0), "seq")));
    size_t k;
    json_t *e;
    bool started = false;
    json_array_foreach(since, k, e)
    {
        long long seq = json_integer_value(json_object_get(e, "seq"));
        long long boot = json_integer_value(json_object_get(e, "boot"));
        if (seq <= before || boot <= boot_before)
            fail_msg("event %lld (boot %lld) of the new run is not above %lld (boot %lld)", seq,
                     boot, before, boot_before);
        started |= strcmp(json_string_value(json_object_get(e, "kind")), "node.start") == 0;
    }
    assert_true(started);
    json_decref(since);
    json_decref(all);
    h_cluster_pass(c);
}

/* Spawns `chimeractl --addr NODE events --follow --json` with its output in
 * files under the cluster's directory. */
static pid_t follow(struct h_cluster *c, int i, char *out, char *err, size_t len)
{
    snprintf(out, len, "%s/follow.out", c->dir);
    snprintf(err, len, "%s/follow.err", c->dir);
    char ctl[H_PATH_MAX + 16], addr[64];
    snprintf(ctl, sizeof(ctl), "%s/chimeractl", h_bin_dir());
    snprintf(addr, sizeof(addr), "%s:%d", c->nodes[i].http_host, c->nodes[i].http_port);
    pid_t pid = fork();
    if (pid == 0) {
        int fo = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int fe = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2(fo, 1);
        dup2(fe, 2);
        execl(ctl, ctl, "--addr", addr, "events", "--follow", "--json", "--limit", "1000",
              (char *)NULL);
        _exit(127);
    }
    return pid;
}

struct in_file {
    const char *path, *needle;
    size_t times;
};

static bool file_has(void *arg)
{
    struct in_file *a = arg;
    char *text = h_read_file(a->path);
    size_t n = 0;
    for (const char *p = text; p && (p = strstr(p, a->needle)); p++)
        n++;
    free(text);
    return n >= a->times;
}

static void test_chimeractl_events_follow_carries_on_across_a_restart(void **state)
{
    struct h_cluster *c = *state;
    start(c);
    char out[H_PATH_MAX + 16], err[H_PATH_MAX + 16];
    pid_t pid = follow(c, 1, out, err, sizeof(out));
    assert_true(pid > 0);
    struct in_file first = {out, "\"node.start\"", 1};
    bool ok = h_wait_until(file_has, &first, h_timeout_ms());
    if (ok) {
        restart(c, 1);
        struct in_file again = {out, "\"node.start\"", 2}, said = {err, "restarted", 1};
        ok = h_wait_until(file_has, &again, h_timeout_ms()) &&
             h_wait_until(file_has, &said, h_timeout_ms());
    }
    kill(pid, SIGTERM);
    int status;
    waitpid(pid, &status, 0);
    if (!ok)
        fail_msg("chimeractl events --follow did not carry on across the restart (see %s, %s)", out,
                 err);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    h_cluster_pass(c);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, h_setup_three_nodes, h_teardown_cluster)
    const struct CMUnitTest tests[] = {
        T(test_a_restarted_node_raises_no_events_for_the_deployment_history),
        T(test_event_numbers_continue_across_a_restart_and_name_the_new_boot),
        T(test_chimeractl_events_follow_carries_on_across_a_restart),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
