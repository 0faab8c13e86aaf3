/* Integration: the trust boundary between chimerad and the services it
 * runs, and chimerad's own secrets: a cluster key or admin token file that
 * others may read stops chimerad (status 2, one line with the fix). A service gets none of
 * chimerad's CHIMERA_* variables, so not the paths of its cluster key and admin token, even when
 * chimerad was configured through its environment; a service with "user" runs as that user
 * (chimerad runs as root: CI). The user test is skipped when the test does not run as root, unless
 * CHIMERA_REQUIRE_NETNS=1 (CI's switch for the root-only tests), which makes it fail instead. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "harness_release.h"

extern char **environ;

#define DEADLINE_MS 30000

/* The manifest of a service that sleeps, with "user" when user is set. */
static void sleeper(char *out, size_t cap, const char *user)
{
    char u[96] = "";
    if (user)
        snprintf(u, sizeof(u), ", \"user\": \"%s\"", user);
    snprintf(out, cap,
             "{\"name\": \"sleeper\", \"version\": \"1\", \"services\": [{\"name\": \"nap\","
             " \"command\": \"sleep\", \"args\": [\"600\"]%s}],"
             " \"rollout\": {\"min_healthy_time\": \"200ms\", \"healthy_deadline\": \"20s\","
             " \"progress_deadline\": \"30s\"}}",
             u);
}

/* Starts n1 configured through CHIMERA_* variables only (key and token
 * paths included), as an operator's unit file might, and waits for it to
 * lead its federation of one. */
static void start_from_environment(struct h_cluster *c)
{
    struct h_node *nd = &c->nodes[0];
    char vars[7][H_PATH_MAX + 64];
    snprintf(vars[0], sizeof(vars[0]), "CHIMERA_ID=%s", nd->id);
    snprintf(vars[1], sizeof(vars[1]), "CHIMERA_LISTEN=tcp://%s:%d", nd->host, nd->listen_port);
    snprintf(vars[2], sizeof(vars[2]), "CHIMERA_HTTP=%s:%d", nd->http_host, nd->http_port);
    snprintf(vars[3], sizeof(vars[3]), "CHIMERA_DATA=%s", nd->data);
    snprintf(vars[4], sizeof(vars[4]), "CHIMERA_CLUSTER_KEY_FILE=%s", c->key_file);
    snprintf(vars[5], sizeof(vars[5]), "CHIMERA_ADMIN_TOKEN_FILE=%s", c->token_file);
    snprintf(vars[6], sizeof(vars[6]), "CHIMERA_LOG_LEVEL=info");
    size_t n = 0;
    while (environ[n])
        n++;
    char **env = calloc(n + 8, sizeof(*env));
    assert_non_null(env);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], "CHIMERA_", 8) != 0)
            env[k++] = environ[i];
    for (size_t i = 0; i < 7; i++)
        env[k++] = vars[i];
    char bin[H_PATH_MAX + 16];
    snprintf(bin, sizeof(bin), "%s/chimerad", h_bin_dir());
    char *const argv[] = {bin, NULL};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, nd->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    pid_t pid = -1;
    int rc = posix_spawn(&pid, bin, &fa, NULL, argv, env);
    posix_spawn_file_actions_destroy(&fa);
    free(env);
    assert_int_equal(rc, 0);
    nd->pid = pid; /* h_cluster_destroy stops it and its services */
    if (!h_wait_http_up(c, 0, DEADLINE_MS))
        fail_msg("n1 did not serve HTTP (log: %s)", nd->log);
}

struct deploy_arg {
    struct h_cluster *c;
    const char *manifest;
    char *id;
    char why[512];
};

/* A federation of one leads within an election timeout; until then the
 * deployment is refused with 503. */
static bool deployed(void *arg)
{
    struct deploy_arg *a = arg;
    a->id = h_release_deploy(a->c, 0, a->manifest, 0, a->why, sizeof(a->why));
    return a->id != NULL;
}

struct pid_arg {
    const struct h_cluster *c;
    pid_t pid;
};

static bool one_service(void *arg)
{
    struct pid_arg *a = arg;
    return h_service_pids(a->c, 0, &a->pid, 1) == 1;
}

/* Deploys the manifest and returns the pid of its one service. */
static pid_t deploy_one(struct h_cluster *c, const char *manifest)
{
    struct deploy_arg a = {.c = c, .manifest = manifest};
    if (!h_wait_until(deployed, &a, DEADLINE_MS))
        fail_msg("the deployment was refused: %s", a.why);
    if (!h_release_wait_running(c, a.id, DEADLINE_MS))
        fail_msg("n1 never ran deployment %s (log: %s)", a.id, c->nodes[0].log);
    free(a.id);
    struct pid_arg p = {c, 0};
    if (!h_wait_until(one_service, &p, DEADLINE_MS))
        fail_msg("no service process of n1 found");
    return p.pid;
}

static size_t read_all(pid_t pid, const char *what, char *buf, size_t cap)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, what);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    size_t n = 0;
    ssize_t r;
    while (n < cap - 1 && (r = read(fd, buf + n, cap - 1 - n)) > 0)
        n += (size_t)r;
    close(fd);
    buf[n] = '\0';
    return n;
}

/* Whether the NUL-separated environment holds a variable named name. */
static bool env_has(const char *env, size_t len, const char *name)
{
    size_t nl = strlen(name);
    for (size_t at = 0; at < len; at += strlen(env + at) + 1)
        if (strncmp(env + at, name, nl) == 0 && env[at + nl] == '=')
            return true;
    return false;
}

static void test_a_service_gets_none_of_chimerads_secret_paths(void **state)
{
    struct h_cluster *c = *state;
    start_from_environment(c);
    char manifest[1024];
    sleeper(manifest, sizeof(manifest), NULL);
    pid_t pid = deploy_one(c, manifest);
    static char env[256 * 1024];
    size_t len = read_all(pid, "environ", env, sizeof(env));
    const char *secret[] = {"CHIMERA_ADMIN_TOKEN_FILE", "CHIMERA_CLUSTER_KEY_FILE", "CHIMERA_ID",
                            "CHIMERA_DATA", "CHIMERA_HTTP"};
    for (size_t i = 0; i < sizeof(secret) / sizeof(secret[0]); i++)
        if (env_has(env, len, secret[i]))
            fail_msg("service %d has %s in its environment", (int)pid, secret[i]);
    for (size_t at = 0; at < len; at += strlen(env + at) + 1)
        if (strncmp(env + at, "CHIMERA_", 8) == 0 &&
            strncmp(env + at, "CHIMERA_SERVICE_OWNER=", 22) != 0)
            fail_msg("service %d has %s in its environment", (int)pid, env + at);
    assert_true(env_has(env, len, "PATH")); /* sleep was found through it */
    assert_true(env_has(env, len, "CHIMERA_SERVICE_OWNER"));
    h_cluster_pass(c);
}

static void skip_unless_root(struct h_cluster *c)
{
    if (geteuid() == 0)
        return;
    const char *req = getenv("CHIMERA_REQUIRE_NETNS");
    if (req && strcmp(req, "1") == 0)
        fail_msg("CHIMERA_REQUIRE_NETNS=1 but the test does not run as root: a service's "
                 "\"user\" needs chimerad to be root");
    fprintf(stderr, "*** test_service_user: \"user\" SKIPPED (not root: chimerad cannot switch "
                    "users)\n");
    h_cluster_pass(c);
    skip();
}

/* The value of the line "Key:\t..." of /proc/PID/status (its fields). */
static void status_line(pid_t pid, const char *key, char *out, size_t cap)
{
    static char st[16384];
    read_all(pid, "status", st, sizeof(st));
    char want[32];
    snprintf(want, sizeof(want), "\n%s:", key);
    const char *p = strstr(st, want);
    assert_non_null(p);
    p += strlen(want);
    size_t n = strcspn(p, "\n");
    snprintf(out, cap, "%.*s", (int)n, p);
}

static void test_a_service_with_a_user_runs_as_that_user(void **state)
{
    struct h_cluster *c = *state;
    skip_unless_root(c);
    struct passwd *pw = getpwnam("nobody");
    assert_non_null(pw);
    uid_t uid = pw->pw_uid;
    gid_t gid = pw->pw_gid;
    assert_true(h_start_agreed(c, "test_service_user", NULL) >= 0);
    char manifest[1024];
    sleeper(manifest, sizeof(manifest), "nobody");
    pid_t pid = deploy_one(c, manifest);
    char line[256], want[128];
    status_line(pid, "Uid", line, sizeof(line));
    snprintf(want, sizeof(want), "\t%u\t%u\t%u\t%u", (unsigned)uid, (unsigned)uid, (unsigned)uid,
             (unsigned)uid);
    assert_string_equal(line, want);
    status_line(pid, "Gid", line, sizeof(line));
    snprintf(want, sizeof(want), "\t%u\t%u\t%u\t%u", (unsigned)gid, (unsigned)gid, (unsigned)gid,
             (unsigned)gid);
    assert_string_equal(line, want);
    /* libuv drops every supplementary group: none of root's remain. */
    status_line(pid, "Groups", line, sizeof(line));
    assert_int_equal(strspn(line, "\t "), strlen(line));
    static char env[256 * 1024];
    size_t len = read_all(pid, "environ", env, sizeof(env));
    char user[64];
    snprintf(user, sizeof(user), "USER=%s", pw->pw_name);
    bool found = false;
    for (size_t at = 0; at < len; at += strlen(env + at) + 1)
        found = found || strcmp(env + at, user) == 0;
    assert_true(found);
    h_cluster_pass(c);
}

static void test_a_user_missing_on_a_node_is_a_critical_issue_naming_it(void **state)
{
    struct h_cluster *c = *state;
    assert_true(h_start_agreed(c, "test_service_user", NULL) >= 0);
    char manifest[1024];
    sleeper(manifest, sizeof(manifest), "no-such-user-x9");
    long st = 0;
    char *out = h_http_request(c, 0, "POST", "/deployments", manifest, c->token, 0, &st);
    const char *code = geteuid() == 0 ? "\"user_unknown\"" : "\"user_not_root\"";
    if (st != 422 || !out || !strstr(out, code) || !strstr(out, "node n1"))
        fail_msg("POST /deployments answered %ld, want 422 with %s naming n1: %s", st, code,
                 out ? out : "");
    free(out);
    assert_int_equal(h_service_pids(c, 0, NULL, 0), 0);
    h_cluster_pass(c);
}

/* Runs chimerad as n1 with the cluster's files; returns its exit code and
 * its stderr in *err. */
static int chimerad_with(struct h_cluster *c, char **err)
{
    struct h_node *nd = &c->nodes[0];
    char listen[64], http[64], bin[H_PATH_MAX + 16];
    snprintf(listen, sizeof(listen), "tcp://%s:%d", nd->host, nd->listen_port);
    snprintf(http, sizeof(http), "%s:%d", nd->http_host, nd->http_port);
    snprintf(bin, sizeof(bin), "%s/chimerad", h_bin_dir());
    const char *argv[] = {
        bin,           "--id",   nd->id,   "--listen",           listen,      "--http",
        http,          "--data", nd->data, "--cluster-key-file", c->key_file, "--admin-token-file",
        c->token_file, NULL};
    int code = -1;
    if (!h_run(c, argv, DEADLINE_MS, &code, NULL, err))
        fail_msg("chimerad did not exit");
    return code;
}

static void test_a_token_file_others_can_read_stops_chimerad_with_status_2(void **state)
{
    struct h_cluster *c = *state;
    assert_int_equal(chmod(c->token_file, 0644), 0);
    char *err = NULL;
    int code = chimerad_with(c, &err);
    char want[2 * H_PATH_MAX + 128];
    snprintf(want, sizeof(want),
             "chimerad: --admin-token-file: %s has mode 0644; a token others can read is no "
             "secret: chmod 600 %s\n",
             c->token_file, c->token_file);
    if (code != 2 || !err || strcmp(err, want) != 0)
        fail_msg("chimerad exited %d saying \"%s\"; wanted 2 and \"%s\"", code, err ? err : "",
                 want);
    free(err);
    h_cluster_pass(c);
}

static void test_a_cluster_key_others_can_read_stops_chimerad_with_status_2(void **state)
{
    struct h_cluster *c = *state;
    assert_int_equal(chmod(c->key_file, 0640), 0);
    char *err = NULL;
    int code = chimerad_with(c, &err);
    if (code != 2 || !err || !strstr(err, "--cluster-key-file: ") ||
        !strstr(err, "has mode 0640") || !strstr(err, "chmod 600 "))
        fail_msg("chimerad exited %d saying \"%s\"; wanted 2 and chmod 600", code, err ? err : "");
    free(err);
    h_cluster_pass(c);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, h_setup_one_node, h_teardown_cluster)
    const struct CMUnitTest tests[] = {
        T(test_a_service_gets_none_of_chimerads_secret_paths),
        T(test_a_service_with_a_user_runs_as_that_user),
        T(test_a_user_missing_on_a_node_is_a_critical_issue_naming_it),
        T(test_a_token_file_others_can_read_stops_chimerad_with_status_2),
        T(test_a_cluster_key_others_can_read_stops_chimerad_with_status_2),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
