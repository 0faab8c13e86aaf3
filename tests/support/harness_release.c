/* Releases and service processes for integration tests (harness_release.h). */
#include "harness_release.h"

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

int h_setup_one_node(void **state)
{
    h_path_add_bin_dir();
    struct h_cluster *c = h_cluster_create(1);
    *state = c;
    return c ? 0 : -1;
}

int h_teardown_cluster(void **state)
{
    h_cluster_destroy(*state);
    return 0;
}

char *h_release_example(const char *name, const char *version)
{
    char dir[PATH_MAX], path[PATH_MAX + 64];
    snprintf(dir, sizeof(dir), "%s", __FILE__);
    snprintf(path, sizeof(path), "%s/../../deploy/examples/%s", dirname(dir), name);
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

char *h_release_deploy(struct h_cluster *c, int i, const char *manifest, char *why, size_t whylen)
{
    long st = 0;
    char *out = h_http_request(c, i, "POST", "/deployments", manifest, c->token, 0, &st);
    json_t *j = out ? json_loads(out, 0, NULL) : NULL;
    const char *id = json_string_value(json_object_get(j, "id"));
    char *copy = st == 202 && id ? strdup(id) : NULL;
    if (!copy)
        snprintf(why, whylen, "POST /deployments answered %ld: %s", st, out ? out : "");
    json_decref(j);
    free(out);
    return copy;
}

struct release_arg {
    struct h_cluster *c;
    const char *id, *stage;
};

static bool in_stage(void *arg)
{
    struct release_arg *a = arg;
    for (int i = 0; i < a->c->n; i++) {
        if (!h_node_up(a->c, i))
            continue;
        char path[128];
        snprintf(path, sizeof(path), "/deployments/%s", a->id);
        long st = 0;
        json_t *j = h_http_get_json(a->c, i, path, &st);
        const char *stage = json_string_value(json_object_get(j, "stage"));
        bool ok = st == 200 && stage && strcmp(stage, a->stage) == 0;
        json_decref(j);
        if (ok)
            return true;
    }
    return false;
}

bool h_release_wait_stage(struct h_cluster *c, const char *id, const char *stage, int timeout_ms)
{
    struct release_arg a = {c, id, stage};
    return h_wait_until(in_stage, &a, timeout_ms);
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
    struct release_arg a = {c, id, NULL};
    return h_wait_until(all_run, &a, timeout_ms);
}

struct stable_arg {
    const struct h_cluster *c;
    int node;
    char path[128];
    char stage[32];
};

static bool is_stable(void *arg)
{
    struct stable_arg *a = arg;
    long st = 0;
    json_t *j = h_http_get_json(a->c, a->node, a->path, &st);
    const char *stage = json_string_value(json_object_get(j, "stage"));
    snprintf(a->stage, sizeof(a->stage), "%s", stage ? stage : "");
    json_decref(j);
    return strcmp(a->stage, "stable") == 0;
}

char *h_deploy_stable(struct h_cluster *c, int i, const char *file, int timeout_ms)
{
    char *manifest = h_release_example(file, NULL);
    if (!manifest) {
        fprintf(stderr, "harness: cannot read deploy/examples/%s\n", file);
        return NULL;
    }
    char why[512];
    char *id = h_release_deploy(c, i, manifest, why, sizeof(why));
    free(manifest);
    if (!id) {
        fprintf(stderr, "harness: %s: %s\n", file, why);
        return NULL;
    }
    struct stable_arg a = {.c = c, .node = i};
    snprintf(a.path, sizeof(a.path), "/deployments/%s", id);
    if (!h_wait_until(is_stable, &a, timeout_ms)) {
        fprintf(stderr, "harness: deployment %s of %s is %s, not stable\n", id, file,
                a.stage[0] ? a.stage : "unknown");
        free(id);
        return NULL;
    }
    return id;
}

/* Whether /proc/PID/environ holds exactly the entry mark. */
static bool has_mark(const char *pid, const char *mark)
{
    char path[300];
    snprintf(path, sizeof(path), "/proc/%s/environ", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    static char env[256 * 1024];
    ssize_t n = read(fd, env, sizeof(env) - 1);
    close(fd);
    if (n <= 0)
        return false;
    env[n] = '\0';
    for (ssize_t at = 0; at < n; at += (ssize_t)strlen(env + at) + 1)
        if (strcmp(env + at, mark) == 0)
            return true;
    return false;
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
        if (!isdigit((unsigned char)de->d_name[0]) || !has_mark(de->d_name, mark))
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
