/* Releases for integration tests (harness_release.h). */
#include "harness_release.h"

#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void h_release_path_setup(void)
{
    static char path[8192];
    snprintf(path, sizeof(path), "%s:%s", h_bin_dir(), getenv("PATH") ? getenv("PATH") : "");
    setenv("PATH", path, 1);
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

struct stage_arg {
    struct h_cluster *c;
    const char *id, *stage;
};

static bool in_stage(void *arg)
{
    struct stage_arg *a = arg;
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
    struct stage_arg a = {c, id, stage};
    return h_wait_until(in_stage, &a, timeout_ms);
}

static bool all_run(void *arg)
{
    struct stage_arg *a = arg;
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
    struct stage_arg a = {c, id, NULL};
    return h_wait_until(all_run, &a, timeout_ms);
}
