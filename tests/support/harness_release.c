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

struct stage_arg {
    const struct h_cluster *c;
    int node;
    char path[128];
    char stage[32];
};

static bool is_stable(void *arg)
{
    struct stage_arg *a = arg;
    long st = 0;
    json_t *j = h_http_get_json(a->c, a->node, a->path, &st);
    const char *stage = json_string_value(json_object_get(j, "stage"));
    snprintf(a->stage, sizeof(a->stage), "%s", stage ? stage : "");
    json_decref(j);
    return strcmp(a->stage, "stable") == 0;
}

char *h_deploy_stable(struct h_cluster *c, int i, const char *file, int timeout_ms)
{
    char dir[PATH_MAX], path[PATH_MAX + 64];
    snprintf(dir, sizeof(dir), "%s", __FILE__);
    snprintf(path, sizeof(path), "%s/../../deploy/examples/%s", dirname(dir), file);
    char *manifest = h_read_file(path);
    if (!manifest) {
        fprintf(stderr, "harness: cannot read %s\n", path);
        return NULL;
    }
    long st = 0;
    char *out = h_http_request(c, i, "POST", "/deployments", manifest, c->token, 0, &st);
    free(manifest);
    json_t *j = out ? json_loads(out, 0, NULL) : NULL;
    const char *id = json_string_value(json_object_get(j, "id"));
    char *copy = st == 202 && id ? strdup(id) : NULL;
    if (!copy)
        fprintf(stderr, "harness: POST /deployments %s answered %ld: %s\n", file, st,
                out ? out : "");
    free(out);
    json_decref(j);
    if (!copy)
        return NULL;
    struct stage_arg a = {.c = c, .node = i};
    snprintf(a.path, sizeof(a.path), "/deployments/%s", copy);
    if (!h_wait_until(is_stable, &a, timeout_ms)) {
        fprintf(stderr, "harness: deployment %s of %s is %s, not stable\n", copy, file,
                a.stage[0] ? a.stage : "unknown");
        free(copy);
        return NULL;
    }
    return copy;
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
