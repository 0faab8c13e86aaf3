/* Integration: deployments on three real chimerad processes running the
 * chimera-demo service from deploy/examples. A healthy release becomes
 * stable on every node; a release whose health check fails, or that
 * crashes, is reverted to the last good one on every node, with the reason
 * in the ledger; a leader killed during a rollout leaves the deployment to
 * the next leader, which finishes it; a node without a quorum refuses
 * deployments. Every wait is on a condition with a deadline. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "harness_release.h"

#define NODES 3

/* deploy/examples/NAME, read whole, with its version 1.0.0 replaced by
 * version unless version is NULL. */
static char *example(const char *name, const char *version)
{
    char *text = h_release_example(name, version);
    if (!text || (version && !strstr(text, version)))
        fail_msg("cannot read deploy/examples/%s as version %s", name, version ? version : "1.0.0");
    return text;
}

/* The leader now: a loaded machine (sanitizers, parallel runs) may have
 * seen an election since the start. */
static int leader_now(struct h_cluster *c)
{
    int leader = -1;
    if (!h_wait_agreed(c, 0, h_timeout_ms(), &leader, NULL))
        fail_msg("no leader: %s", h_views_line(c));
    return leader;
}

/* Deploys an example through the leader of the moment (the one the test
 * started with, unless an election moved it); returns the deployment id. */
static char *deploy(struct h_cluster *c, int leader, const char *file)
{
    (void)leader;
    char *id = h_release_submit(c, leader_now(c), file, NULL, 0);
    assert_non_null(id);
    return id;
}

struct rollback_arg {
    struct h_cluster *c;
    int node;
    const char *failed;
    char id[128], reason[512];
};

/* The newest rollback listed after deployment `failed`. */
static bool rollback_listed(void *arg)
{
    struct rollback_arg *a = arg;
    long st = 0;
    json_t *j = h_http_get_json(a->c, a->node, "/deployments", &st);
    size_t k;
    json_t *d;
    a->id[0] = '\0';
    json_array_foreach(json_object_get(j, "deployments"), k, d)
    {
        const char *id = json_string_value(json_object_get(d, "id"));
        if (!id || strcmp(id, a->failed) == 0)
            break;
        if (json_is_true(json_object_get(d, "rollback")) && !a->id[0]) {
            snprintf(a->id, sizeof(a->id), "%s", id);
            snprintf(a->reason, sizeof(a->reason), "%s",
                     json_string_value(json_object_get(d, "reason")));
        }
    }
    json_decref(j);
    return a->id[0] != '\0';
}

static char *rollback_of(struct h_cluster *c, int i, const char *failed, char *reason, size_t rlen)
{
    struct rollback_arg a = {.c = c, .node = i, .failed = failed};
    if (!h_wait_until(rollback_listed, &a, h_timeout_ms()))
        fail_msg("no rollback listed after %s", failed);
    snprintf(reason, rlen, "%s", a.reason);
    return strdup(a.id);
}

/* How many running processes' command lines contain needle. */
static int processes_with(const char *needle)
{
    char cmd[256];
    /* [c] keeps the pattern from matching the shell that runs pgrep. */
    snprintf(cmd, sizeof(cmd), "pgrep -f -c -- '[%c]%s'", needle[0], needle + 1);
    FILE *p = popen(cmd, "r");
    int count = 0;
    if (p && fscanf(p, "%d", &count) != 1)
        count = 0;
    if (p)
        pclose(p);
    return count;
}

static bool no_v2(void *arg)
{
    return processes_with((const char *)arg) == 0;
}

static int start(struct h_cluster *c)
{
    int leader = h_start_agreed(c, "test_deploy", NULL);
    if (leader < 0)
        fail_msg("the federation did not come up with a leader");
    return leader;
}

static void test_a_healthy_release_becomes_stable_on_every_node(void **state)
{
    struct h_cluster *c = *state;
    int leader = start(c);
    char *id = deploy(c, leader, "demo-good.json");
    assert_true(h_release_wait_stage(c, id, "stable", 60000));
    assert_true(h_release_wait_running(c, id, 60000));
    long st = 0;
    json_t *s = h_http_get_json(c, leader, "/federation/state", &st);
    const char *stable = json_string_value(
        json_object_get(json_object_get(json_object_get(s, "release"), "stable"), "id"));
    assert_non_null(stable);
    assert_string_equal(stable, id);
    json_decref(s);
    /* Deploying the stable release again is refused. */
    char *manifest = example("demo-good.json", NULL);
    json_t *j = h_release_post(c, leader_now(c), "/deployments", manifest, 0, &st);
    assert_int_equal(st, 409);
    json_decref(j);
    free(manifest);
    free(id);
    h_cluster_pass(c);
}

/* v1 stable, then `bad`: it fails and every node goes back to v1. */
static void expect_reverted(struct h_cluster *c, const char *bad, const char *why,
                            const char *bad_version)
{
    int leader = start(c);
    char *v1 = deploy(c, leader, "demo-good.json");
    assert_true(h_release_wait_stage(c, v1, "stable", 60000));
    char *v2 = deploy(c, leader, bad);
    assert_true(h_release_wait_stage(c, v2, "failed", 60000));
    char reason[512];
    char *rb = rollback_of(c, leader, v2, reason, sizeof(reason));
    if (!strstr(reason, why))
        fail_msg("the rollback's reason \"%s\" does not say \"%s\"", reason, why);
    assert_true(h_release_wait_stage(c, rb, "reverted", 60000));
    assert_true(h_release_wait_running(c, v1, 60000));
    /* The failed release's processes are gone. */
    char needle[64];
    snprintf(needle, sizeof(needle), "chimera-demo.*--version %s", bad_version);
    if (!h_wait_until(no_v2, needle, h_timeout_ms()))
        fail_msg("processes of %s still run", bad_version);
    /* The ledger on every node records the rollback and why. */
    for (int i = 0; i < c->n; i++) {
        long st = 0;
        json_t *page = h_http_get_json(c, i, "/ledger?from=1&limit=1000", &st);
        size_t k;
        json_t *e;
        bool found = false;
        json_array_foreach(json_object_get(page, "entries"), k, e)
        {
            json_t *d = json_object_get(e, "data");
            found |= strcmp(json_string_value(json_object_get(e, "type")), "rollback") == 0 &&
                     strstr(json_string_value(json_object_get(d, "reason")), why) != NULL;
        }
        json_decref(page);
        if (!found)
            fail_msg("%s's ledger holds no rollback entry saying \"%s\"", c->nodes[i].id, why);
    }
    free(v1);
    free(v2);
    free(rb);
    h_cluster_pass(c);
}

/* The watchtower restarts the service each time its health check fails:
 * a crash loop, which fails the release before its healthy deadline. */
static void test_a_release_whose_health_fails_is_reverted_for_its_crash_loop(void **state)
{
    expect_reverted(*state, "demo-bad-health.json", "crash loop", "2.0.0");
}

static void
test_without_the_watchtower_a_release_whose_health_fails_is_reverted_at_its_deadline(void **state)
{
    struct h_cluster *c = *state;
    static const char *const no_recovery[] = {"--recovery-enabled=false", NULL};
    c->node_args = no_recovery;
    expect_reverted(c, "demo-bad-health.json", "not healthy within the healthy deadline", "2.0.0");
}

static void test_a_release_that_crashes_is_reverted_on_every_node(void **state)
{
    expect_reverted(*state, "demo-crash.json", "crashed", "3.0.0");
}

static void test_a_leader_killed_during_a_rollout_leaves_it_to_the_next(void **state)
{
    struct h_cluster *c = *state;
    int leader = start(c);
    char *id = deploy(c, leader, "demo-good.json");
    h_node_kill(c, leader);
    int l2;
    if (!h_wait_agreed(c, 0, h_timeout_ms(), &l2, NULL))
        fail_msg("no new leader: %s", h_views_line(c));
    assert_int_equal(h_node_start(c, leader), 0);
    /* The next leader finishes the rollout (the killed node comes back and
     * applies the release too). */
    assert_true(h_release_wait_stage(c, id, "stable", 90000));
    assert_true(h_release_wait_running(c, id, 60000));
    free(id);
    h_cluster_pass(c);
}

static void test_a_node_without_a_quorum_refuses_deployments(void **state)
{
    struct h_cluster *c = *state;
    int leader = start(c);
    for (int i = 0; i < c->n; i++)
        if (i != leader)
            h_node_kill(c, i);
    int alone[1] = {leader};
    if (!h_wait_read_only(c, alone, 1, true, h_timeout_ms()))
        fail_msg("%s never turned read-only", c->nodes[leader].id);
    char *manifest = example("demo-good.json", NULL);
    long st = 0;
    json_t *j = h_release_post(c, leader, "/deployments", manifest, 0, &st);
    assert_int_equal(st, 503);
    json_decref(j);
    j = h_release_post(c, leader, "/rollback", "{}", 0, &st);
    assert_int_equal(st, 503);
    json_decref(j);
    free(manifest);
    h_cluster_pass(c);
}

static void test_a_manual_rollback_goes_back_to_a_named_stable_version(void **state)
{
    struct h_cluster *c = *state;
    int leader = start(c);
    char *v1 = deploy(c, leader, "demo-good.json");
    assert_true(h_release_wait_stage(c, v1, "stable", 60000));
    char *body = example("demo-good.json", "1.1.0");
    long st = 0;
    json_t *j = h_release_post(c, leader_now(c), "/deployments", body, 0, &st);
    free(body);
    const char *v11 = json_string_value(json_object_get(j, "id"));
    if (st != 202 || !v11)
        fail_msg("deploying 1.1.0 answered %ld", st);
    char *v11id = strdup(v11);
    json_decref(j);
    assert_true(h_release_wait_stage(c, v11id, "stable", 60000));
    /* The release running everywhere: nothing to roll back to. */
    j = h_release_post(c, leader_now(c), "/rollback", "{\"to\":\"1.1.0\"}", 0, &st);
    assert_int_equal(st, 409);
    assert_non_null(strstr(json_string_value(json_object_get(j, "error")), "already"));
    json_decref(j);
    j = h_release_post(c, leader_now(c), "/rollback", "{\"to\":\"9.9.9\"}", 0, &st);
    assert_int_equal(st, 404);
    json_decref(j);
    /* To the earlier stable version: every node goes back to it. */
    j = h_release_post(c, leader_now(c), "/rollback", "{\"to\":\"1.0.0\"}", 0, &st);
    const char *rb = json_string_value(json_object_get(j, "id"));
    if (st != 202 || !rb)
        fail_msg("POST /rollback to 1.0.0 answered %ld", st);
    assert_string_equal(json_string_value(json_object_get(j, "target")), v1);
    char *rbid = strdup(rb);
    json_decref(j);
    assert_true(h_release_wait_stage(c, rbid, "reverted", 60000));
    assert_true(h_release_wait_running(c, v1, 60000));
    free(rbid);
    h_cluster_pass(c);
    free(v1);
    free(v11id);
}

static void test_chimeractl_deploy_wait_exits_0_when_stable_and_3_when_reverted(void **state)
{
    struct h_cluster *c = *state;
    int leader = start(c);
    char good[PATH_MAX + 64], bad[PATH_MAX + 64];
    h_release_example_path("demo-good.json", good, sizeof(good));
    h_release_example_path("demo-crash.json", bad, sizeof(bad));
    int code = -1;
    char *out = NULL, *err = NULL;
    assert_true(h_ctl(c, leader, &code, &out, &err, "--token-file", c->token_file, "deploy", good,
                      "--wait", "--timeout", "60s", NULL));
    if (code != 0)
        fail_msg("chimeractl deploy --wait of a good release exited %d: %s %s", code, out, err);
    free(out);
    free(err);
    assert_true(h_ctl(c, leader, &code, &out, &err, "--token-file", c->token_file, "deploy", bad,
                      "--wait", "--timeout", "60s", NULL));
    if (code != 3)
        fail_msg("chimeractl deploy --wait of a crashing release exited %d, want 3: %s %s", code,
                 out, err);
    free(out);
    free(err);
    h_cluster_pass(c);
}

/* example() with `key: value,` inserted after the service's "name". */
static char *example_with(const char *name, const char *field)
{
    char *text = example(name, NULL);
    char *at = strstr(text, "\"command\"");
    if (!at)
        fail_msg("%s has no command", name);
    size_t len = strlen(text) + strlen(field) + 8;
    char *out = malloc(len);
    snprintf(out, len, "%.*s%s, %s", (int)(at - text), text, field, at);
    free(text);
    return out;
}

static void test_a_missing_working_dir_is_healed_on_every_node_before_certification(void **state)
{
    struct h_cluster *c = *state;
    start(c);
    char dir[H_PATH_MAX + 32], field[H_PATH_MAX + 64];
    snprintf(dir, sizeof(dir), "%s/heal/web", c->dir);
    snprintf(field, sizeof(field), "\"working_dir\": \"%s\"", dir);
    char *body = example_with("demo-good.json", field);
    long st = 0;
    /* A dry run says what healing would do, and changes nothing. */
    char *out =
        h_http_request(c, leader_now(c), "POST", "/deployments?dry_run=1", body, c->token, 0, &st);
    json_t *j = out ? json_loads(out, 0, NULL) : NULL;
    free(out);
    assert_int_equal(st, 200);
    assert_true(json_array_size(json_object_get(json_object_get(j, "healing"), "would_run")) > 0);
    json_decref(j);
    assert_false(h_file_contains(dir, ""));
    /* The real one heals, re-simulates, certifies and deploys. */
    j = h_release_post(c, leader_now(c), "/deployments", body, 0, &st);
    free(body);
    if (st != 202) {
        char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
        fail_msg("deploying with a missing working_dir answered %ld: %s", st, text ? text : "");
    }
    json_t *healing = json_object_get(j, "healing");
    assert_true(json_integer_value(json_object_get(healing, "attempts")) >= 1);
    assert_true(json_array_size(json_object_get(healing, "changes")) >= 1);
    assert_true(json_is_true(json_object_get(json_object_get(j, "certification"), "certified")));
    char *id = strdup(json_string_value(json_object_get(j, "id")));
    json_decref(j);
    assert_true(h_release_wait_stage(c, id, "stable", 60000));
    free(id);
    h_cluster_pass(c);
}

/* chimeractl deploy --dry-run of manifest body through node i: its exit
 * code, what it printed in *out and *err (the caller frees them). */
static int ctl_dry_run(struct h_cluster *c, int i, const char *body, char **out, char **err)
{
    char file[H_PATH_MAX + 32];
    snprintf(file, sizeof(file), "%s/dry-run.json", c->dir);
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    fputs(body, f);
    fclose(f);
    int code = -1;
    assert_true(h_ctl(c, i, &code, out, err, "--token-file", c->token_file, "deploy", file,
                      "--dry-run", NULL));
    return code;
}

/* The manifest example of the README's Releases section, as written. */
static char *readme_manifest(void)
{
    char dir[H_PATH_MAX], path[H_PATH_MAX + 32];
    snprintf(dir, sizeof(dir), "%s", __FILE__);
    snprintf(path, sizeof(path), "%s/../../README.md", dirname(dir));
    char *text = h_read_file(path);
    char *sec = text ? strstr(text, "\n## Releases (manifests)") : NULL;
    char *from = sec ? strstr(sec, "```json\n") : NULL;
    char *to = from ? strstr(from + 8, "\n```") : NULL;
    if (!to)
        fail_msg("no manifest example in the Releases section of %s", path);
    char *m = strndup(from + 8, (size_t)(to - from - 8) + 1);
    free(text);
    return m;
}

/* The message of node i's last event of this kind ("" if none). */
static const char *last_message(const struct h_cluster *c, int i, const char *kind)
{
    static char msg[512];
    msg[0] = '\0';
    json_t *evs = h_events(c, i), *e;
    size_t k;
    json_array_foreach(evs, k, e)
    {
        const char *m = json_string_value(json_object_get(e, "message"));
        const char *what = json_string_value(json_object_get(e, "kind"));
        if (m && what && strcmp(what, kind) == 0)
            snprintf(msg, sizeof msg, "%s", m);
    }
    json_decref(evs);
    return msg;
}

/* A dry run heals nothing: the real deploy would heal first, so a release
 * that only healing must mend is predicted certified (exit 0), with what
 * healing would run. The README's example passes its dry run as written. */
static void test_a_dry_run_that_healing_would_mend_predicts_a_certified_release(void **state)
{
    struct h_cluster *c = *state;
    int leader = start(c);
    char field[H_PATH_MAX + 64];
    snprintf(field, sizeof(field), "\"working_dir\": \"%s/heal/web\"", c->dir);
    char *body = example_with("demo-good.json", field), *out = NULL, *err = NULL;
    int code = ctl_dry_run(c, leader, body, &out, &err);
    if (code != 0 || !strstr(out, "would run:    create_working_dir on") ||
        !strstr(out, "would be certified once the healing listed has run"))
        fail_msg("chimeractl deploy --dry-run of a missing working_dir exited %d: %s %s", code, out,
                 err);
    /* The leader's event says what would run too, not an attempt that never was. */
    const char *heal = last_message(c, leader, "deploy.heal.complete");
    if (!strstr(heal, ": dry run: healing would run ") || !strstr(heal, " none ran"))
        fail_msg("deploy.heal.complete of a dry run read \"%s\"", heal);
    free(body);
    free(out);
    free(err);
    body = readme_manifest();
    code = ctl_dry_run(c, leader, body, &out, &err);
    if (code != 0 || !strstr(out, "would be certified"))
        fail_msg("chimeractl deploy --dry-run of the README's example exited %d: %s %s", code, out,
                 err);
    free(body);
    free(out);
    free(err);
    h_cluster_pass(c);
}

static void test_a_release_whose_command_is_missing_is_refused_uncertified(void **state)
{
    struct h_cluster *c = *state;
    int leader = start(c);
    char *text = example("demo-good.json", NULL);
    char *at = strstr(text, "chimera-demo\"");
    assert_non_null(at);
    memcpy(at, "chimera-nope", 12); /* same length */
    long st = 0;
    json_t *j = h_release_post(c, leader_now(c), "/deployments", text, 0, &st);
    free(text);
    assert_int_equal(st, 422);
    json_t *links = json_object_get(json_object_get(j, "certification"), "links");
    size_t k;
    json_t *l;
    bool named = false;
    json_array_foreach(links, k, l)
    {
        named |= strcmp(json_string_value(json_object_get(l, "name")), "no_critical_issue") == 0 &&
                 json_is_false(json_object_get(l, "ok"));
    }
    assert_true(named);
    json_decref(j);
    /* Nothing was deployed. */
    j = h_http_get_json(c, leader, "/deployments", &st);
    assert_int_equal(json_array_size(json_object_get(j, "deployments")), 0);
    json_decref(j);
    h_cluster_pass(c);
}

static void test_a_leader_killed_during_a_rollback_leaves_it_to_the_next(void **state)
{
    struct h_cluster *c = *state;
    int leader = start(c);
    char *v1 = deploy(c, leader, "demo-good.json");
    assert_true(h_release_wait_stage(c, v1, "stable", 60000));
    char *v3 = deploy(c, leader, "demo-crash.json");
    assert_true(h_release_wait_stage(c, v3, "failed", 60000));
    char reason[512];
    char *rb = rollback_of(c, leader, v3, reason, sizeof(reason));
    /* The rollback waits min_healthy_time (2 s) on every node: kill the
     * leader while it does. */
    assert_true(h_release_wait_stage(c, rb, "rolling_back", h_timeout_ms()));
    h_node_kill(c, leader);
    assert_int_equal(h_node_start(c, leader), 0);
    assert_true(h_release_wait_stage(c, rb, "reverted", 90000));
    assert_true(h_release_wait_running(c, v1, 60000));
    free(v1);
    free(v3);
    free(rb);
    h_cluster_pass(c);
}

static void test_a_malformed_manifest_is_refused_with_its_json_path(void **state)
{
    struct h_cluster *c = *state;
    int leader = start(c);
    char *text = example("demo-good.json", NULL);
    char *at = strstr(text, "\"max_parallel\": 1");
    if (!at)
        fail_msg("demo-good.json has no \"max_parallel\": 1");
    at[strlen("\"max_parallel\": ")] = '0';
    long st = 0;
    json_t *j = h_release_post(c, leader_now(c), "/deployments", text, 0, &st);
    free(text);
    assert_int_equal(st, 400);
    assert_string_equal(json_string_value(json_object_get(j, "path")), "rollout.max_parallel");
    json_decref(j);
    j = h_http_get_json(c, leader, "/deployments", &st);
    assert_int_equal(json_array_size(json_object_get(j, "deployments")), 0);
    json_decref(j);
    h_cluster_pass(c);
}

/* ---- manual rollbacks in waves, the bare rollback, dry runs that predict
 * a refusal --------------------------------------------------------------- */

/* text with its first `from` replaced by `to` (malloc'd; text is freed). */
static char *swap(char *text, const char *from, const char *to)
{
    char *at = strstr(text, from);
    if (!at)
        fail_msg("no \"%s\" in the manifest", from);
    size_t len = strlen(text) + strlen(to) + 1;
    char *out = malloc(len);
    snprintf(out, len, "%.*s%s%s", (int)(at - text), text, to, at + strlen(from));
    free(text);
    return out;
}

/* Posts body to the leader and expects 202; the id (malloc'd). */
static char *accepted(struct h_cluster *c, const char *path, const char *body)
{
    long st = 0;
    json_t *j = h_release_post(c, leader_now(c), path, body, 0, &st);
    const char *id = json_string_value(json_object_get(j, "id"));
    if (st != 202 || !id)
        fail_msg("POST %s answered %ld", path, st);
    char *copy = strdup(id);
    json_decref(j);
    return copy;
}

/* demo-good 1.0.0 then 1.1.0, both stable; returns 1.0.0's id. */
static char *two_stable(struct h_cluster *c, int leader)
{
    char *v1 = deploy(c, leader, "demo-good.json");
    assert_true(h_release_wait_stage(c, v1, "stable", 60000));
    char *body = example("demo-good.json", "1.1.0");
    char *v11 = accepted(c, "/deployments", body);
    free(body);
    assert_true(h_release_wait_stage(c, v11, "stable", 60000));
    free(v11);
    return v1;
}

static void test_a_manual_rollback_changes_at_most_max_parallel_nodes_at_once(void **state)
{
    struct h_cluster *c = *state;
    int leader = start(c);
    char *v1 = two_stable(c, leader);
    char *rb = accepted(c, "/rollback", "{\"to\":\"1.0.0\"}");
    assert_true(h_release_wait_stage(c, rb, "reverted", 90000));
    assert_true(h_release_wait_running(c, v1, 60000));
    /* Its waves in the ledger: each tells at most max_parallel (1) node. */
    long st = 0;
    json_t *page = h_http_get_json(c, leader, "/ledger?from=1&limit=1000", &st);
    size_t k, waves = 0;
    json_t *e;
    bool in_waves = false;
    json_array_foreach(json_object_get(page, "entries"), k, e)
    {
        json_t *d = json_object_get(e, "data");
        const char *id = json_string_value(json_object_get(d, "id"));
        const char *rec = json_string_value(json_object_get(d, "record"));
        if (!id || !rec || strcmp(id, rb) != 0)
            continue;
        if (strcmp(rec, "rollback") == 0)
            in_waves = json_is_true(json_object_get(d, "in_waves"));
        if (strcmp(rec, "wave") == 0) {
            waves++;
            assert_true(json_array_size(json_object_get(d, "nodes")) <= 1);
        }
    }
    json_decref(page);
    assert_true(in_waves);
    assert_int_equal(waves, NODES);
    free(v1);
    free(rb);
    h_cluster_pass(c);
}

static void test_a_bare_rollback_goes_to_the_previous_stable_release(void **state)
{
    struct h_cluster *c = *state;
    int leader = start(c);
    char *v1 = deploy(c, leader, "demo-good.json");
    assert_true(h_release_wait_stage(c, v1, "stable", 60000));
    long st = 0;
    json_t *j = h_release_post(c, leader_now(c), "/rollback", "{}", 0, &st);
    assert_int_equal(st, 409);
    assert_non_null(strstr(json_string_value(json_object_get(j, "error")), "no earlier stable"));
    json_decref(j);
    char *body = example("demo-good.json", "1.1.0");
    char *v11 = accepted(c, "/deployments", body);
    free(body);
    assert_true(h_release_wait_stage(c, v11, "stable", 60000));
    j = h_release_post(c, leader_now(c), "/rollback", "{}", 0, &st);
    const char *rb = json_string_value(json_object_get(j, "id"));
    if (st != 202 || !rb)
        fail_msg("a bare POST /rollback after 1.1.0 answered %ld", st);
    assert_string_equal(json_string_value(json_object_get(j, "target")), v1);
    char *rbid = strdup(rb);
    json_decref(j);
    assert_true(h_release_wait_stage(c, rbid, "reverted", 90000));
    assert_true(h_release_wait_running(c, v1, 60000));
    free(rbid);
    free(v11);
    free(v1);
    h_cluster_pass(c);
}

/* A dry run of body answers 409 with its plan and the refusal, and
 * chimeractl deploy --dry-run of it exits 2, as the real deploy would. */
static void expect_dry_run_refused(struct h_cluster *c, const char *body, const char *why)
{
    int leader = leader_now(c);
    long st = 0;
    char *out =
        h_http_request(c, leader_now(c), "POST", "/deployments?dry_run=1", body, c->token, 0, &st);
    json_t *j = out ? json_loads(out, 0, NULL) : NULL;
    if (st != 409 || !strstr(json_string_value(json_object_get(j, "error")), why))
        fail_msg("the dry run answered %ld, want 409 saying \"%s\": %s", st, why, out);
    free(out);
    assert_true(json_is_true(json_object_get(j, "dry_run")));
    assert_non_null(json_object_get(j, "certification"));
    json_decref(j);
    char *err = NULL;
    int code = ctl_dry_run(c, leader, body, &out, &err);
    if (code != 2)
        fail_msg("chimeractl deploy --dry-run exited %d, want 2: %s %s", code, out, err);
    /* It shows the plan and says the real deploy would be refused, and why. */
    if (!strstr(out, "certification:") || !strstr(out, "would be REFUSED") || !strstr(out, why))
        fail_msg("chimeractl deploy --dry-run printed no plan and refusal: %s %s", out, err);
    free(out);
    free(err);
}

static void test_a_dry_run_of_the_stable_release_predicts_the_409(void **state)
{
    struct h_cluster *c = *state;
    int leader = start(c);
    char *v1 = deploy(c, leader, "demo-good.json");
    assert_true(h_release_wait_stage(c, v1, "stable", 60000));
    char *body = example("demo-good.json", NULL);
    expect_dry_run_refused(c, body, "already the stable release");
    free(body);
    free(v1);
    h_cluster_pass(c);
}

static void test_a_dry_run_during_a_deployment_in_progress_predicts_the_409(void **state)
{
    struct h_cluster *c = *state;
    start(c);
    /* Slow to become stable: in progress for the whole test. */
    char *slow = swap(example("demo-good.json", NULL), "\"min_healthy_time\": \"2s\"",
                      "\"min_healthy_time\": \"5m\"");
    slow = swap(slow, "\"healthy_deadline\": \"10s\"", "\"healthy_deadline\": \"10m\"");
    slow = swap(slow, "\"progress_deadline\": \"30s\"", "\"progress_deadline\": \"20m\"");
    char *id = accepted(c, "/deployments", slow);
    free(slow);
    assert_true(h_release_wait_stage(c, id, "deploying", h_timeout_ms()));
    char *body = example("demo-good.json", "1.1.0");
    expect_dry_run_refused(c, body, id);
    free(body);
    free(id);
    h_cluster_pass(c);
}

struct nodes_arg {
    struct h_cluster *c;
    int node;
    const char *path;
    const char *others; /* the health every other node's entry must show */
};

/* Node a->node's GET /deployments/ID shows itself healthy and every other
 * node with health a->others. */
static bool nodes_show(void *arg)
{
    struct nodes_arg *a = arg;
    long st = 0;
    json_t *d = h_http_get_json(a->c, a->node, a->path, &st);
    size_t k, n = 0;
    json_t *e;
    json_array_foreach(json_object_get(d, "nodes"), k, e)
    {
        const char *node = json_string_value(json_object_get(e, "node"));
        const char *health = json_string_value(json_object_get(e, "health"));
        bool self = node && strcmp(node, a->c->nodes[a->node].id) == 0;
        n += health && strcmp(health, self ? "healthy" : a->others) == 0;
    }
    json_decref(d);
    return st == 200 && n == (size_t)a->c->n;
}

/* A leader hears every node's reports; once deposed it hears none, so what
 * it last heard of the others is not shown as their health now: unknown,
 * as on any other node that is not the leader (its own stays known). */
static void test_a_deposed_leader_shows_the_others_health_as_unknown(void **state)
{
    struct h_cluster *c = *state;
    int leader = start(c);
    char *id = deploy(c, leader, "demo-good.json");
    assert_true(h_release_wait_stage(c, id, "stable", 60000));
    assert_true(h_release_wait_running(c, id, 60000));
    char path[256];
    snprintf(path, sizeof path, "/deployments/%s", id);
    leader = leader_now(c);
    struct nodes_arg a = {.c = c, .node = leader, .path = path, .others = "healthy"};
    if (!h_wait_until(nodes_show, &a, 60000))
        fail_msg("the leader %s never heard every node healthy", c->nodes[leader].id);
    int to = (leader + 1) % c->n;
    char body[64];
    snprintf(body, sizeof body, "{\"to\":\"%s\"}", c->nodes[to].id);
    long st = 0;
    free(h_http_request(c, leader, "POST", "/leader/transfer", body, c->token, 0, &st));
    assert_int_equal(st, 200);
    int now = -1;
    if (!h_wait_agreed(c, 0, h_timeout_ms(), &now, NULL) || now == leader)
        fail_msg("leadership did not move: %s", h_views_line(c));
    a.others = "unknown";
    if (!h_wait_until(nodes_show, &a, h_timeout_ms()))
        fail_msg("the deposed leader %s still shows the others' last health as current",
                 c->nodes[leader].id);
    /* (not because it was elected again, which forgets what it heard) */
    if (!h_wait_agreed(c, 0, h_timeout_ms(), &now, NULL) || now == leader)
        fail_msg("leadership went back: %s", h_views_line(c));
    free(id);
    h_cluster_pass(c);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, h_setup_three_nodes, h_teardown_cluster)
    const struct CMUnitTest tests[] = {
        T(test_a_healthy_release_becomes_stable_on_every_node),
        T(test_a_dry_run_that_healing_would_mend_predicts_a_certified_release),
        T(test_a_release_whose_health_fails_is_reverted_for_its_crash_loop),
        T(test_without_the_watchtower_a_release_whose_health_fails_is_reverted_at_its_deadline),
        T(test_a_release_that_crashes_is_reverted_on_every_node),
        T(test_a_leader_killed_during_a_rollout_leaves_it_to_the_next),
        T(test_a_node_without_a_quorum_refuses_deployments),
        T(test_a_manual_rollback_goes_back_to_a_named_stable_version),
        T(test_chimeractl_deploy_wait_exits_0_when_stable_and_3_when_reverted),
        T(test_a_missing_working_dir_is_healed_on_every_node_before_certification),
        T(test_a_release_whose_command_is_missing_is_refused_uncertified),
        T(test_a_leader_killed_during_a_rollback_leaves_it_to_the_next),
        T(test_a_malformed_manifest_is_refused_with_its_json_path),
        T(test_a_manual_rollback_changes_at_most_max_parallel_nodes_at_once),
        T(test_a_bare_rollback_goes_to_the_previous_stable_release),
        T(test_a_dry_run_of_the_stable_release_predicts_the_409),
        T(test_a_dry_run_during_a_deployment_in_progress_predicts_the_409),
        T(test_a_deposed_leader_shows_the_others_health_as_unknown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
