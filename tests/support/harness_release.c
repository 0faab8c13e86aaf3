/* Releases and service processes for integration tests (harness_release.h). */
#include "harness_release.h"

#include "pipeline/exec/driver.h"

#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void h_path_add_bin_dir(void)
{
    static char path[8192];
    const char *old = getenv("PATH");
    snprintf(path, sizeof(path), "%s:%s", h_bin_dir(), old ? old : "");
    setenv("PATH", path, 1);
}

static int setup_nodes(void **state, int n)
{
    h_path_add_bin_dir();
    struct h_cluster *c = h_cluster_create(n);
    *state = c;
    return c ? 0 : -1;
}

int h_setup_one_node(void **state)
{
    return setup_nodes(state, 1);
}

int h_setup_three_nodes(void **state)
{
    return setup_nodes(state, 3);
}

int h_setup_five_nodes(void **state)
{
    return setup_nodes(state, 5);
}

int h_setup_three_nodes_for_transfer(void **state)
{
    int rc = setup_nodes(state, 3);
    if (rc == 0)
        ((struct h_cluster *)*state)->election_timeout_ms = 600;
    return rc;
}

int h_teardown_cluster(void **state)
{
    h_cluster_destroy(*state);
    return 0;
}

void h_release_example_path(const char *name, char *out, size_t len)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s", __FILE__);
    snprintf(out, len, "%s/../../deploy/examples/%s", dirname(dir), name);
}

char *h_release_example(const char *name, const char *version)
{
    char path[PATH_MAX + 64];
    h_release_example_path(name, path, sizeof(path));
    char *text = h_read_file(path);
    char *at = text && version ? strstr(text, "\"1.0.0\"") : NULL;
    if (!at)
        return text;
    size_t len = strlen(text) + strlen(version) + 8;
    char *out = malloc(len);
    if (out)
        snprintf(out, len, "%.*s\"%s\"%s", (int)(at - text), text, version, at + 7);
    free(text);
    return out;
}

json_t *h_release_post(const struct h_cluster *c, int i, const char *path, const char *body,
                       int timeout_ms, long *status)
{
    char *out = h_http_request(c, i, "POST", path, body, c->token, timeout_ms, status);
    json_t *j = out ? json_loads(out, 0, NULL) : NULL;
    free(out);
    return j;
}

/* Where a refused mutation goes next: the leader a 307 names, node i again
 * after a 503 that says no leader is known (an election under way, or a
 * read-only minority), or -1: the answer stands. Both refusals come before
 * anything is proposed, so asking again cannot apply a mutation twice. */
static int next_hop(const struct h_cluster *c, int i, long status, const char *answer)
{
    json_t *j = answer ? json_loads(answer, 0, NULL) : NULL;
    const char *leader = json_string_value(json_object_get(j, "leader"));
    const char *error = json_string_value(json_object_get(j, "error"));
    int k = leader ? h_node_index(c, leader) : -1;
    int next = -1;
    if (status == 307 && k >= 0)
        next = k;
    else if (status == 503 &&
             (json_is_true(json_object_get(j, "read_only")) ||
              (error && (strstr(error, "no leader") || strstr(error, "not the leader")))))
        next = i;
    json_decref(j);
    return next;
}

char *h_release_post_text(const struct h_cluster *c, int i, const char *path, const char *body,
                          int timeout_ms, long *status, int *at)
{
    /* the election a loaded machine may hold mid-test takes a few election
     * timeouts at most */
    uint64_t end = h_now_ns() + (uint64_t)h_timeout_ms() * 1000000u;
    for (;;) {
        char *out = h_http_request(c, i, "POST", path, body, c->token, timeout_ms, status);
        int next = next_hop(c, i, *status, out);
        if (next < 0 || h_now_ns() >= end) {
            if (at)
                *at = i;
            return out;
        }
        free(out);
        if (next == i)
            usleep(50000); /* until an election ends: polled, with the deadline above */
        i = next;
    }
}

json_t *h_release_post_leader(const struct h_cluster *c, int i, const char *path, const char *body,
                              int timeout_ms, long *status)
{
    char *out = h_release_post_text(c, i, path, body, timeout_ms, status, NULL);
    json_t *j = out ? json_loads(out, 0, NULL) : NULL;
    free(out);
    return j;
}

char *h_release_deploy(struct h_cluster *c, int i, const char *manifest, int timeout_ms, char *why,
                       size_t whylen)
{
    long st = 0;
    int at = i;
    char *out = h_release_post_text(c, i, "/deployments", manifest, timeout_ms, &st, &at);
    json_t *j = out ? json_loads(out, 0, NULL) : NULL;
    const char *id = json_string_value(json_object_get(j, "id"));
    char *copy = st == 202 && id ? strdup(id) : NULL;
    if (!copy)
        snprintf(why, whylen, "POST /deployments to %s answered %ld: %s", c->nodes[at].id, st,
                 out ? out : "");
    json_decref(j);
    free(out);
    return copy;
}

char *h_release_submit(struct h_cluster *c, int i, const char *file, const char *version,
                       int timeout_ms)
{
    char *manifest = h_release_example(file, version);
    if (!manifest) {
        fprintf(stderr, "harness: cannot read deploy/examples/%s\n", file);
        return NULL;
    }
    char why[1024];
    char *id = h_release_deploy(c, i, manifest, timeout_ms, why, sizeof(why));
    free(manifest);
    if (!id)
        fprintf(stderr, "harness: %s: %s\n", file, why);
    return id;
}

struct release_arg {
    struct h_cluster *c;
    int node; /* asked of this node; -1: of any that is up */
    const char *id, *stage;
    json_t *got; /* the deployment object that matched (owned) */
    char seen[32];
};

static bool in_stage(void *arg)
{
    struct release_arg *a = arg;
    for (int i = 0; i < a->c->n; i++) {
        if ((a->node >= 0 && i != a->node) || !h_node_up(a->c, i))
            continue;
        char path[160];
        snprintf(path, sizeof(path), "/deployments/%s", a->id);
        long st = 0;
        json_t *j = h_http_get_json(a->c, i, path, &st);
        const char *stage = json_string_value(json_object_get(j, "stage"));
        if (st == 200 && stage)
            snprintf(a->seen, sizeof(a->seen), "%s", stage);
        if (st == 200 && stage && strcmp(stage, a->stage) == 0) {
            a->got = j;
            return true;
        }
        json_decref(j);
    }
    return false;
}

json_t *h_release_stage_at(struct h_cluster *c, int i, const char *id, const char *stage,
                           int timeout_ms)
{
    struct release_arg a = {.c = c, .node = i, .id = id, .stage = stage};
    if (!h_wait_until(in_stage, &a, timeout_ms)) {
        fprintf(stderr, "harness: deployment %s never reached %s (last seen: %s): %s\n", id, stage,
                a.seen[0] ? a.seen : "nothing", h_views_line(c));
        return NULL;
    }
    return a.got;
}

bool h_release_wait_stage(struct h_cluster *c, const char *id, const char *stage, int timeout_ms)
{
    json_t *d = h_release_stage_at(c, -1, id, stage, timeout_ms);
    json_decref(d);
    return d != NULL;
}

static bool all_run(void *arg)
{
    struct release_arg *a = arg;
    for (int i = 0; i < a->c->n; i++) {
        if (!h_node_up(a->c, i))
            continue;
        long st = 0;
        json_t *j = h_http_get_json(a->c, i, "/federation/state", &st);
        const char *running =
            json_string_value(json_object_get(json_object_get(j, "release"), "running"));
        bool ok = st == 200 && running && strcmp(running, a->id) == 0;
        json_decref(j);
        if (!ok)
            return false;
    }
    return true;
}

bool h_release_wait_running(struct h_cluster *c, const char *id, int timeout_ms)
{
    struct release_arg a = {.c = c, .node = -1, .id = id};
    if (h_wait_until(all_run, &a, timeout_ms))
        return true;
    fprintf(stderr, "harness: not every node runs deployment %s: %s\n", id, h_views_line(c));
    return false;
}

char *h_release_newest(struct h_cluster *c, int i)
{
    long st = 0;
    json_t *j = h_http_get_json(c, i, "/deployments", &st);
    const char *id = json_string_value(
        json_object_get(json_array_get(json_object_get(j, "deployments"), 0), "id"));
    char *copy = id ? strdup(id) : NULL;
    json_decref(j);
    if (!copy)
        fprintf(stderr, "harness: %s lists no deployment\n", c->nodes[i].id);
    return copy;
}

struct newest_arg {
    struct h_cluster *c;
    int i;
    const char *than;
    char *id;
};

static bool newest_differs(void *arg)
{
    struct newest_arg *a = arg;
    long st = 0;
    json_t *j = h_http_get_json(a->c, a->i, "/deployments", &st);
    const char *id = json_string_value(
        json_object_get(json_array_get(json_object_get(j, "deployments"), 0), "id"));
    if (id && strcmp(id, a->than) != 0)
        a->id = strdup(id);
    json_decref(j);
    return a->id != NULL;
}

char *h_release_newest_after(struct h_cluster *c, int i, const char *than, int timeout_ms)
{
    struct newest_arg a = {.c = c, .i = i, .than = than};
    if (!h_wait_until(newest_differs, &a, timeout_ms))
        fprintf(stderr, "harness: %s lists nothing newer than %s\n", c->nodes[i].id, than);
    return a.id;
}

char *h_deploy_stable(struct h_cluster *c, int i, const char *file, int timeout_ms)
{
    char *id = h_release_submit(c, i, file, NULL, 0);
    json_t *d = id ? h_release_stage_at(c, i, id, "stable", timeout_ms) : NULL;
    if (!d) {
        free(id);
        return NULL;
    }
    json_decref(d);
    return id;
}

struct event_arg {
    const struct h_cluster *c;
    int node;
    const char *kind, *about;
    char *message;
    size_t len;
};

static bool has_event(void *arg)
{
    struct event_arg *a = arg;
    json_t *ev = h_events(a->c, a->node);
    size_t k;
    json_t *e;
    bool found = false;
    json_array_foreach(ev, k, e)
    {
        const char *kind = json_string_value(json_object_get(e, "kind"));
        const char *msg = json_string_value(json_object_get(e, "message"));
        if (!kind || strcmp(kind, a->kind) != 0 || (a->about && (!msg || !strstr(msg, a->about))))
            continue;
        if (a->len)
            snprintf(a->message, a->len, "%s", msg ? msg : "");
        found = true;
    }
    json_decref(ev);
    return found;
}

bool h_release_wait_event(const struct h_cluster *c, int i, const char *kind, const char *about,
                          int timeout_ms, char *message, size_t len)
{
    struct event_arg a = {c, i, kind, about, message, message ? len : 0};
    return h_wait_until(has_event, &a, timeout_ms);
}

size_t h_service_pids(const struct h_cluster *c, int i, pid_t *pids, size_t max)
{
    char mark[PATH_MAX + 64], abs[PATH_MAX];
    snprintf(mark, sizeof(mark), "CHIMERA_SERVICE_OWNER=%s",
             realpath(c->nodes[i].data, abs) ? abs : c->nodes[i].data);
    DIR *d = opendir("/proc");
    size_t k = 0;
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL) {
        if (!isdigit((unsigned char)de->d_name[0]) ||
            !drv_pid_has_mark(atol(de->d_name), mark, strlen(mark)))
            continue;
        if (k < max)
            pids[k] = (pid_t)atol(de->d_name);
        k++;
    }
    if (d)
        closedir(d);
    return k;
}

struct none_arg {
    const struct h_cluster *c;
    int node;
};

static bool no_services(void *arg)
{
    struct none_arg *a = arg;
    return h_service_pids(a->c, a->node, NULL, 0) == 0;
}

bool h_wait_no_services(const struct h_cluster *c, int i, int timeout_ms)
{
    struct none_arg a = {c, i};
    return h_wait_until(no_services, &a, timeout_ms);
}

double h_load_average(void)
{
    double l = -1;
    FILE *f = fopen("/proc/loadavg", "re");
    if (f) {
        if (fscanf(f, "%lf", &l) != 1)
            l = -1;
        fclose(f);
    }
    return l;
}
