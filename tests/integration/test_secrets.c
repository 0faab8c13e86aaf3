/* Integration: secrets on three real chimerad processes. A release whose
 * service takes its secret from an env_file (one file per node, named with
 * ${NODE}) gets the value into the service's environment, while the ledger
 * (over HTTP and on disk), the deployment, the events and the nodes' logs
 * never hold it; an env_file missing on one node fails the dry run with a
 * critical issue naming that node and the deploy is refused (422); a
 * malformed env_file at a restart fails the service's start with the file
 * and line; with a read token configured, reads that reveal manifests need
 * it (or the admin token) while monitoring stays open. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "harness_release.h"

#define NODES 3

struct fixture {
    struct h_cluster *c;
    char secret[48];
    char tmpl[H_PATH_MAX]; /* DIR/${NODE}.env */
};

static int setup(void **state)
{
    h_path_add_bin_dir();
    struct fixture *f = calloc(1, sizeof(*f));
    if (!f || !(f->c = h_cluster_create(NODES))) {
        free(f);
        return -1;
    }
    snprintf(f->secret, sizeof(f->secret), "sekrit-%08lx-%d", (unsigned long)time(NULL),
             (int)getpid());
    snprintf(f->tmpl, sizeof(f->tmpl), "%s/${NODE}.env", f->c->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    h_cluster_destroy(f->c);
    free(f);
    return 0;
}

/* DIR/<node id>.env holding text, mode 0600. */
static void write_env_file(const struct fixture *f, int i, const char *text)
{
    char p[H_PATH_MAX + 32];
    snprintf(p, sizeof(p), "%s/%s.env", f->c->dir, f->c->nodes[i].id);
    FILE *fp = fopen(p, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
    assert_int_equal(chmod(p, 0600), 0);
}

static void write_secret_files(const struct fixture *f, int except)
{
    char text[128];
    snprintf(text, sizeof(text), "# the demo's secret\nexport DEMO_SECRET=\"%s\"\n", f->secret);
    for (int i = 0; i < f->c->n; i++)
        if (i != except)
            write_env_file(f, i, text);
}

/* The demo release: its service shows DEMO_SECRET at GET /env/DEMO_SECRET. */
static char *manifest(const struct fixture *f, const char *version)
{
    char *m = malloc(2048);
    assert_non_null(m);
    snprintf(m, 2048,
             "{\"name\": \"demo\", \"version\": \"%s\", \"services\": [{\"name\": \"web\","
             " \"command\": \"chimera-demo\", \"args\": [\"--port\", \"${PORT}\", \"--version\","
             " \"${VERSION}\", \"--echo-env\", \"DEMO_SECRET\"], \"port\": \"auto\","
             " \"env\": {\"MODE\": \"fast\"}, \"env_file\": \"%s\","
             " \"health\": {\"url\": \"http://127.0.0.1:${PORT}/health\", \"interval\": \"200ms\","
             " \"timeout\": \"200ms\"}}],"
             " \"rollout\": {\"min_healthy_time\": \"1s\", \"healthy_deadline\": \"20s\","
             " \"progress_deadline\": \"60s\"}}",
             version, f->tmpl);
    return m;
}

static int start(struct h_cluster *c)
{
    int leader = h_start_agreed(c, "test_secrets", NULL);
    if (leader < 0)
        fail_msg("the federation did not come up with a leader");
    return leader;
}

struct stable_arg {
    struct h_cluster *c;
    int node;
    const char *id;
    const char *bearer;
    char got[32];
};

static bool is_stable(void *arg)
{
    struct stable_arg *a = arg;
    char path[160];
    snprintf(path, sizeof(path), "/deployments/%s", a->id);
    long st = 0;
    char *text = h_http_request(a->c, a->node, "GET", path, NULL, a->bearer, 0, &st);
    json_t *j = text ? json_loads(text, 0, NULL) : NULL;
    free(text);
    const char *stage = json_string_value(json_object_get(j, "stage"));
    snprintf(a->got, sizeof(a->got), "%s", stage ? stage : "?");
    bool ok = st == 200 && stage && strcmp(stage, "stable") == 0;
    json_decref(j);
    return ok;
}

/* Deploys the demo through the leader and waits until it is stable. */
static char *deploy_stable(struct fixture *f, int leader, const char *bearer)
{
    char *m = manifest(f, "1.0.0");
    char why[1024];
    char *copy = h_release_deploy(f->c, leader, m, 0, why, sizeof(why));
    free(m);
    if (!copy)
        fail_msg("%s", why);
    struct stable_arg a = {.c = f->c, .node = leader, .id = copy, .bearer = bearer};
    if (!h_wait_until(is_stable, &a, 60000))
        fail_msg("deployment %s never became stable (last seen: %s): %s", copy, a.got,
                 h_views_line(f->c));
    return copy;
}

/* The port chimera-demo listens on for node i, from its service log. */
static int service_port(const struct h_cluster *c, int i)
{
    char p[H_PATH_MAX + 32];
    snprintf(p, sizeof(p), "%s/services/web.log", c->nodes[i].data);
    char *log = h_read_file(p);
    int port = 0;
    const char *at = log;
    while (at && (at = strstr(at, "listening on 127.0.0.1:")) != NULL) {
        port = atoi(at + strlen("listening on 127.0.0.1:"));
        at++;
    }
    free(log);
    return port;
}

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
    char *buf = arg;
    size_t have = strlen(buf), len = size * n;
    if (have + len < 512) {
        memcpy(buf + have, data, len);
        buf[have + len] = '\0';
    }
    return len;
}

/* GET http://127.0.0.1:port/path into out (512 bytes); the status. */
static long get_service(int port, const char *path, char out[512])
{
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
    out[0] = '\0';
    CURL *cu = curl_easy_init();
    assert_non_null(cu);
    curl_easy_setopt(cu, CURLOPT_URL, url);
    curl_easy_setopt(cu, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(cu, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(cu, CURLOPT_TIMEOUT_MS, 2000L);
    long status = 0;
    if (curl_easy_perform(cu) == CURLE_OK)
        curl_easy_getinfo(cu, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(cu);
    return status;
}

/* Whether the file's bytes (all of them, NULs included) hold needle. */
static bool file_holds(const char *path, const char *needle)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return false;
    size_t cap = 1 << 20, len = 0, k;
    char *buf = malloc(cap);
    assert_non_null(buf);
    while ((k = fread(buf + len, 1, cap - len, fp)) > 0) {
        len += k;
        if (len == cap) {
            cap *= 2;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
    }
    fclose(fp);
    bool found = memmem(buf, len, needle, strlen(needle)) != NULL;
    free(buf);
    return found;
}

/* Any file directly in dir holds needle. */
static bool dir_holds(const char *dir, const char *needle)
{
    DIR *d = opendir(dir);
    if (!d)
        return false;
    struct dirent *e;
    bool found = false;
    while (!found && (e = readdir(d)) != NULL) {
        char p[H_PATH_MAX + 300];
        snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
        struct stat st;
        found = stat(p, &st) == 0 && S_ISREG(st.st_mode) && file_holds(p, needle);
    }
    closedir(d);
    return found;
}

static char *get_text(struct h_cluster *c, int i, const char *path, const char *bearer, long *st)
{
    char *t = h_http_request(c, i, "GET", path, NULL, bearer, 0, st);
    if (!t)
        fail_msg("GET %s on %s: no answer", path, c->nodes[i].id);
    return t;
}

static void test_env_file_secret_reaches_the_service_and_nothing_else(void **state)
{
    struct fixture *f = *state;
    struct h_cluster *c = f->c;
    write_secret_files(f, -1);
    int leader = start(c);
    char *id = deploy_stable(f, leader, NULL);

    for (int i = 0; i < c->n; i++) {
        int port = service_port(c, i);
        if (!port)
            fail_msg("%s: no chimera-demo port in its service log", c->nodes[i].id);
        char body[512];
        assert_int_equal(get_service(port, "/env/DEMO_SECRET", body), 200);
        if (!strstr(body, f->secret))
            fail_msg("%s: the service sees %s, not the secret", c->nodes[i].id, body);
    }

    char dpath[160];
    snprintf(dpath, sizeof(dpath), "/deployments/%s", id);
    const char *reads[] = {"/ledger?limit=1000", dpath, "/deployments", "/events?limit=1000",
                           "/federation/state"};
    for (int i = 0; i < c->n; i++) {
        for (size_t r = 0; r < sizeof(reads) / sizeof(reads[0]); r++) {
            long st = 0;
            char *t = get_text(c, i, reads[r], NULL, &st);
            assert_int_equal(st, 200);
            if (strstr(t, f->secret))
                fail_msg("GET %s on %s shows the secret", reads[r], c->nodes[i].id);
            free(t);
        }
        /* The path is what the ledger holds (the check above is not vacuous). */
        long st = 0;
        char *t = get_text(c, i, "/ledger?limit=1000", NULL, &st);
        assert_non_null(strstr(t, "${NODE}.env"));
        free(t);
        char ldir[H_PATH_MAX + 16];
        snprintf(ldir, sizeof(ldir), "%s/ledger", c->nodes[i].data);
        assert_false(dir_holds(ldir, f->secret));
        assert_false(file_holds(c->nodes[i].log, f->secret));
    }
    free(id);
    h_cluster_pass(c);
}

static void test_env_file_missing_on_one_node_fails_certification_naming_it(void **state)
{
    struct fixture *f = *state;
    struct h_cluster *c = f->c;
    write_secret_files(f, 1); /* n2 has none */
    int leader = start(c);
    char *m = manifest(f, "1.0.0");
    long st = 0;
    json_t *dry = h_release_post(c, leader, "/deployments?dry_run=1", m, 0, &st);
    assert_non_null(dry);
    json_t *issue = NULL, *is;
    size_t k;
    json_array_foreach(json_object_get(json_object_get(dry, "simulation"), "issues"), k, is)
    {
        const char *code = json_string_value(json_object_get(is, "code"));
        if (code && strcmp(code, "env_file_invalid") == 0) {
            assert_null(issue); /* only n2's */
            issue = is;
        }
    }
    if (!issue) {
        char *text = json_dumps(dry, JSON_COMPACT);
        fail_msg("the dry run (%ld) reports no env_file_invalid: %s", st, text);
    }
    assert_string_equal(json_string_value(json_object_get(issue, "node")), "n2");
    assert_string_equal(json_string_value(json_object_get(issue, "service")), "web");
    assert_string_equal(json_string_value(json_object_get(issue, "severity")), "critical");
    assert_true(json_is_false(json_object_get(issue, "healable")));
    char n2file[H_PATH_MAX + 16];
    snprintf(n2file, sizeof(n2file), "%s/n2.env", c->dir);
    assert_non_null(strstr(json_string_value(json_object_get(issue, "message")), n2file));
    assert_true(json_is_false(json_object_get(json_object_get(dry, "certification"), "certified")));
    json_decref(dry);

    json_t *real = h_release_post(c, leader, "/deployments", m, 0, &st);
    assert_int_equal(st, 422);
    json_decref(real);
    st = 0;
    json_t *list = h_http_get_json(c, leader, "/deployments", &st);
    assert_int_equal(json_array_size(json_object_get(list, "deployments")), 0);
    json_decref(list);
    free(m);
    h_cluster_pass(c);
}

static void test_malformed_env_file_fails_the_start_with_file_and_line_only(void **state)
{
    struct fixture *f = *state;
    struct h_cluster *c = f->c;
    write_secret_files(f, -1);
    int leader = start(c);
    char *id = deploy_stable(f, leader, NULL);
    int i = (leader + 1) % c->n; /* a follower, so the federation keeps its leader */
    h_node_stop(c, i);
    char bad[128];
    snprintf(bad, sizeof(bad), "OK=1\nDEMO_SECRET=\"%s\n", f->secret); /* unterminated */
    write_env_file(f, i, bad);
    assert_int_equal(h_node_start(c, i), 0);
    assert_true(h_wait_http_up(c, i, h_timeout_ms()));
    char message[512];
    if (!h_release_wait_event(c, i, "deploy.start_failed", NULL, h_timeout_ms(), message,
                              sizeof(message)))
        fail_msg("%s raised no deploy.start_failed: %s", c->nodes[i].id, h_views_line(c));
    char file[H_PATH_MAX + 16];
    snprintf(file, sizeof(file), "%s/%s.env", c->dir, c->nodes[i].id);
    if (!strstr(message, file) || !strstr(message, "line 2: unterminated double quote"))
        fail_msg("the start failure does not name the file and line: %s", message);
    assert_null(strstr(message, f->secret));
    assert_false(file_holds(c->nodes[i].log, f->secret));
    free(id);
    h_cluster_pass(c);
}

static void test_read_token_guards_reads_that_reveal_manifests(void **state)
{
    struct fixture *f = *state;
    struct h_cluster *c = f->c;
    static const char token[] = "viewer-0123456789abcdef";
    char tfile[H_PATH_MAX + 16];
    snprintf(tfile, sizeof(tfile), "%s/read.token", c->dir);
    FILE *fp = fopen(tfile, "w");
    assert_non_null(fp);
    fprintf(fp, "%s\n", token);
    fclose(fp);
    assert_int_equal(chmod(tfile, 0600), 0);
    write_secret_files(f, -1);
    const char *extra[] = {"--read-token-file", tfile, NULL};
    const struct h_start opts = {.extra = extra};
    for (int i = 0; i < c->n; i++)
        assert_int_equal(h_node_start_opts(c, i, &opts), 0);
    int leader = -1;
    for (int i = 0; i < c->n; i++)
        assert_true(h_wait_http_up(c, i, h_timeout_ms()));
    if (!h_wait_agreed(c, 0, h_timeout_ms(), &leader, NULL))
        fail_msg("no leader agreed: %s", h_views_line(c));
    char *id = deploy_stable(f, leader, token);
    char dpath[160];
    snprintf(dpath, sizeof(dpath), "/deployments/%s", id);

    for (int i = 0; i < c->n; i++) {
        long st = 0;
        char *t = get_text(c, i, "/ledger", NULL, &st);
        assert_int_equal(st, 401);
        json_t *j = json_loads(t, 0, NULL);
        assert_non_null(strstr(json_string_value(json_object_get(j, "error")),
                               "Authorization: Bearer <read token>"));
        json_decref(j);
        free(t);
        free(get_text(c, i, "/ledger", token, &st));
        assert_int_equal(st, 200);
        free(get_text(c, i, "/ledger", c->token, &st));
        assert_int_equal(st, 200);
        /* Counted; the api.auth_failure event is rate-limited (the 401
         * above raised one). */
        static const char wrong[] = "chimera_http_auth_failures_total{reason=\"wrong\"}";
        double before = -1, now = -1;
        assert_true(h_metric(c, i, wrong, &before));
        t = get_text(c, i, "/ledger", "wrong-token-of-some-length", &st);
        assert_int_equal(st, 403);
        assert_non_null(strstr(t, "wrong read token"));
        free(t);
        assert_true(h_metric(c, i, wrong, &now));
        assert_true(now == before + 1);
        assert_true(h_event_seq(c, i, "api.auth_failure", NULL, 0) > 0);
        free(get_text(c, i, dpath, NULL, &st));
        assert_int_equal(st, 401);
        free(get_text(c, i, dpath, token, &st));
        assert_int_equal(st, 200);
        /* Monitoring stays open. */
        const char *open[] = {"/federation/state", "/health/live", "/metrics",
                              "/events",           "/ledger/head", "/deployments"};
        for (size_t r = 0; r < sizeof(open) / sizeof(open[0]); r++) {
            free(get_text(c, i, open[r], NULL, &st));
            if (st != 200)
                fail_msg("GET %s on %s answered %ld without a token", open[r], c->nodes[i].id, st);
        }
    }
    /* chimeractl's reads send --token-file's token: the viewer's token
     * works there, and without one the node's 401 is exit 6 (auth). */
    int code = -1;
    char *out = NULL, *err = NULL;
    assert_true(
        h_ctl(c, 0, &code, &out, &err, "--token-file", tfile, "ledger", "tail", "-n", "2", NULL));
    if (code != 0)
        fail_msg("ledger tail with the read token: exit %d\n%s%s", code, out, err);
    free(out), free(err);
    assert_true(h_ctl(c, 0, &code, &out, &err, "deployment", id, "--token-file", tfile, NULL));
    if (code != 0)
        fail_msg("deployment ID with the read token: exit %d\n%s%s", code, out, err);
    free(out), free(err);
    assert_true(h_ctl(c, 0, &code, &out, &err, "ledger", "tail", NULL));
    if (code != 6)
        fail_msg("ledger tail without a token: exit %d (want 6)\n%s%s", code, out, err);
    free(out), free(err);
    free(id);
    h_cluster_pass(c);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    static const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_env_file_secret_reaches_the_service_and_nothing_else,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_env_file_missing_on_one_node_fails_certification_naming_it, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_malformed_env_file_fails_the_start_with_file_and_line_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_token_guards_reads_that_reveal_manifests, setup,
                                        teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
