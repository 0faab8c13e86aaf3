/* Probe: the simulate stage's facts on this machine (commands, working
 * directories, ports on 127.0.0.1, health URLs), the heal action that
 * creates a working directory, and the facts' JSON form with its strict
 * decoding. Local only (a temporary directory and loopback ports): no
 * cluster needed. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "pipeline/core/certify.h"
#include "pipeline/exec/probe.h"

struct fixture {
    char dir[64]; /* a fresh temporary directory */
    char *saved_path;
    struct manifest m;
    struct probe_facts f;
};

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));
    assert_non_null(fx);
    snprintf(fx->dir, sizeof(fx->dir), "/tmp/chimera-probe-XXXXXX");
    assert_non_null(mkdtemp(fx->dir));
    const char *p = getenv("PATH");
    fx->saved_path = p ? strdup(p) : NULL;
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    manifest_free(&fx->m);
    if (fx->saved_path)
        setenv("PATH", fx->saved_path, 1);
    free(fx->saved_path);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->dir);
    assert_int_equal(system(cmd), 0);
    free(fx);
    return 0;
}

/* One service "svc" with the given command, port ("auto", a number or
 * NULL) and working_dir (or NULL). */
static void manifest_of(struct fixture *fx, const char *command, const char *port,
                        const char *working_dir)
{
    char doc[2048];
    char portpart[64] = "", wdpart[512] = "";
    if (port)
        snprintf(portpart, sizeof(portpart), ", \"port\": %s", port);
    if (working_dir)
        snprintf(wdpart, sizeof(wdpart), ", \"working_dir\": \"%s\"", working_dir);
    snprintf(doc, sizeof(doc),
             "{\"name\": \"demo\", \"version\": \"1.0\", \"services\": [{\"name\": \"svc\","
             " \"command\": \"%s\"%s%s%s, \"env\": {\"ADDR\": \"127.0.0.1:%s\"}}]}",
             command, portpart, wdpart,
             port ? ", \"health\": {\"url\": \"http://127.0.0.1:${PORT}/health\"}" : "",
             port ? "${PORT}" : "0");
    struct manifest_error e;
    int rc = manifest_parse(doc, strlen(doc), &fx->m, &e);
    if (rc)
        fprintf(stderr, "%s: %s: %s\n", doc, e.path, e.message);
    assert_int_equal(rc, 0);
}

static void write_file(const char *path, mode_t mode)
{
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("#!/bin/sh\nexit 0\n", fp);
    assert_int_equal(fclose(fp), 0);
    assert_int_equal(chmod(path, mode), 0);
}

/* manifest_of with a fixed port. */
static void manifest_on_port(struct fixture *fx, uint16_t port)
{
    char p[16];
    snprintf(p, sizeof(p), "%u", (unsigned)port);
    manifest_of(fx, "/bin/sh", p, NULL);
}

/* manifest_of with working_dir sub below the temporary directory (under a
 * plain file when under_file). */
static void manifest_in_dir(struct fixture *fx, const char *port, const char *sub, bool under_file)
{
    char file[128], wd[192];
    snprintf(file, sizeof(file), "%s/file", fx->dir);
    if (under_file)
        write_file(file, 0644);
    snprintf(wd, sizeof(wd), "%s/%s", under_file ? file : fx->dir, sub);
    manifest_of(fx, "/bin/sh", port, wd);
}

static const struct probe_service *probe(struct fixture *fx)
{
    assert_int_equal(probe_release(&fx->m, "n1", &fx->f), 0);
    assert_true(fx->f.answered);
    assert_string_equal(fx->f.node, "n1");
    assert_int_equal(fx->f.nservices, 1);
    assert_string_equal(fx->f.services[0].name, "svc");
    return &fx->f.services[0];
}

/* A listening socket on 127.0.0.1, any port. */
static int listen_any(uint16_t *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(sa);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(fd, 1), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    *port = ntohs(sa.sin_port);
    return fd;
}

/* ---- commands ----------------------------------------------------------- */

static void test_missing_command_is_not_found(void **state)
{
    struct fixture *fx = *state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "%s/nosuch", fx->dir);
    manifest_of(fx, cmd, NULL, NULL);
    const struct probe_service *ps = probe(fx);
    assert_false(ps->command_found);
    assert_false(ps->command_executable);
    assert_string_equal(ps->command_path, "");
}

static void test_missing_command_name_is_not_found_in_path(void **state)
{
    struct fixture *fx = *state;
    setenv("PATH", fx->dir, 1);
    manifest_of(fx, "chimera-no-such-command", NULL, NULL);
    assert_false(probe(fx)->command_found);
}

static void test_non_executable_file_is_found_but_not_executable(void **state)
{
    struct fixture *fx = *state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "%s/plain", fx->dir);
    write_file(cmd, 0644);
    manifest_of(fx, cmd, NULL, NULL);
    const struct probe_service *ps = probe(fx);
    assert_true(ps->command_found);
    assert_false(ps->command_executable); /* even root needs an x bit */
    assert_string_equal(ps->command_path, cmd);
}

static void test_directory_as_command_is_not_executable(void **state)
{
    struct fixture *fx = *state;
    manifest_of(fx, fx->dir, NULL, NULL);
    const struct probe_service *ps = probe(fx);
    assert_true(ps->command_found);
    assert_false(ps->command_executable);
}

static void test_command_is_found_in_path(void **state)
{
    struct fixture *fx = *state;
    char bin[128], cmd[160], path[400];
    snprintf(bin, sizeof(bin), "%s/bin", fx->dir);
    assert_int_equal(mkdir(bin, 0755), 0);
    snprintf(cmd, sizeof(cmd), "%s/my-service", bin);
    write_file(cmd, 0755);
    snprintf(path, sizeof(path), "%s/empty:%s:/usr/bin", fx->dir, bin);
    setenv("PATH", path, 1);
    manifest_of(fx, "my-service", NULL, NULL);
    const struct probe_service *ps = probe(fx);
    assert_true(ps->command_found);
    assert_true(ps->command_executable);
    assert_string_equal(ps->command_path, cmd);
}

static void test_path_search_skips_non_executable_candidate(void **state)
{
    struct fixture *fx = *state;
    char a[128], b[128], ca[160], cb[160], path[300];
    snprintf(a, sizeof(a), "%s/a", fx->dir);
    snprintf(b, sizeof(b), "%s/b", fx->dir);
    assert_int_equal(mkdir(a, 0755), 0);
    assert_int_equal(mkdir(b, 0755), 0);
    snprintf(ca, sizeof(ca), "%s/tool", a);
    snprintf(cb, sizeof(cb), "%s/tool", b);
    write_file(ca, 0644);
    write_file(cb, 0755);
    snprintf(path, sizeof(path), "%s:%s", a, b);
    setenv("PATH", path, 1);
    manifest_of(fx, "tool", NULL, NULL);
    const struct probe_service *ps = probe(fx);
    assert_true(ps->command_executable);
    assert_string_equal(ps->command_path, cb);
}

/* ---- ports -------------------------------------------------------------- */

static void test_fixed_port_in_use_is_not_free(void **state)
{
    struct fixture *fx = *state;
    uint16_t port;
    int fd = listen_any(&port);
    manifest_on_port(fx, port);
    const struct probe_service *ps = probe(fx);
    close(fd);
    assert_int_equal(ps->port_kind, MANIFEST_PORT_FIXED);
    assert_int_equal(ps->port, port);
    assert_false(ps->port_free);
}

static void test_fixed_port_free_is_free(void **state)
{
    struct fixture *fx = *state;
    uint16_t port;
    close(listen_any(&port)); /* a port that was just free */
    manifest_on_port(fx, port);
    const struct probe_service *ps = probe(fx);
    assert_int_equal(ps->port, port);
    assert_true(ps->port_free);
    /* the probe released it */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    close(fd);
}

static void test_port_in_use_by_running_release_is_marked_own(void **state)
{
    struct fixture *fx = *state;
    uint16_t port;
    int fd = listen_any(&port);
    manifest_on_port(fx, port);
    probe(fx);
    close(fd);
    const uint16_t other = (uint16_t)(port + 1);
    probe_mark_own_ports(&fx->f, &other, 1);
    assert_false(fx->f.services[0].port_own);
    probe_mark_own_ports(&fx->f, &port, 1);
    assert_true(fx->f.services[0].port_own);
}

static void test_auto_port_is_assigned_and_expanded(void **state)
{
    struct fixture *fx = *state;
    manifest_of(fx, "/bin/sh", "\"auto\"", NULL);
    const struct probe_service *ps = probe(fx);
    assert_int_equal(ps->port_kind, MANIFEST_PORT_AUTO);
    assert_true(ps->port_free);
    assert_true(ps->port != 0);
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/health", (unsigned)ps->port);
    assert_true(ps->health_set);
    assert_true(ps->health_ok);
    assert_string_equal(ps->health_url, url);
    assert_true(ps->env_ok);
    assert_true(ps->args_ok);
}

static void test_two_auto_services_get_different_ports(void **state)
{
    struct fixture *fx = *state;
    const char *doc = "{\"name\": \"d\", \"version\": \"1\", \"services\": ["
                      "{\"name\": \"a\", \"command\": \"/bin/sh\", \"port\": \"auto\"},"
                      "{\"name\": \"b\", \"command\": \"/bin/sh\", \"port\": \"auto\"}]}";
    struct manifest_error e;
    assert_int_equal(manifest_parse(doc, strlen(doc), &fx->m, &e), 0);
    assert_int_equal(probe_release(&fx->m, "n1", &fx->f), 0);
    assert_int_equal(fx->f.nservices, 2);
    assert_true(fx->f.services[0].port != 0);
    assert_true(fx->f.services[0].port != fx->f.services[1].port);
}

/* ---- health URL --------------------------------------------------------- */

static void test_health_url_without_host_is_invalid(void **state)
{
    struct fixture *fx = *state;
    const char *doc = "{\"name\": \"d\", \"version\": \"1\", \"services\": ["
                      "{\"name\": \"svc\", \"command\": \"/bin/sh\", \"port\": 8080,"
                      " \"health\": {\"url\": \"http://:${PORT}/health\"}}]}";
    struct manifest_error e;
    int rc = manifest_parse(doc, strlen(doc), &fx->m, &e);
    if (rc != 0) /* the manifest itself refuses it: nothing left for the probe */
        skip();
    const struct probe_service *ps = probe(fx);
    assert_false(ps->health_ok);
    assert_non_null(strstr(ps->health_error, "no host"));
}

static const struct probe_service *probe_health_url(struct fixture *fx, const char *url)
{
    char doc[512];
    snprintf(doc, sizeof(doc),
             "{\"name\": \"d\", \"version\": \"1\", \"services\": ["
             "{\"name\": \"svc\", \"command\": \"/bin/sh\", \"port\": \"auto\","
             " \"health\": {\"url\": \"%s\"}}]}",
             url);
    struct manifest_error e;
    assert_int_equal(manifest_parse(doc, strlen(doc), &fx->m, &e), 0);
    return probe(fx);
}

static void test_health_url_with_userinfo_says_userinfo_is_not_supported(void **state)
{
    const struct probe_service *ps =
        probe_health_url(*state, "http://user:pw@127.0.0.1:${PORT}/health");
    assert_false(ps->health_ok);
    assert_non_null(strstr(ps->health_error, "userinfo"));
    assert_null(strstr(ps->health_error, "1..65535"));
}

static void test_health_url_with_user_only_says_userinfo_is_not_supported(void **state)
{
    const struct probe_service *ps = probe_health_url(*state, "http://user@127.0.0.1:${PORT}/");
    assert_false(ps->health_ok);
    assert_non_null(strstr(ps->health_error, "userinfo"));
}

static void test_health_url_with_at_in_the_path_is_valid(void **state)
{
    const struct probe_service *ps =
        probe_health_url(*state, "http://127.0.0.1:${PORT}/health?who=a@b");
    assert_true(ps->health_ok);
}

/* ---- working_dir and healing -------------------------------------------- */

static void test_existing_working_dir_is_a_directory(void **state)
{
    struct fixture *fx = *state;
    manifest_of(fx, "/bin/sh", NULL, fx->dir);
    const struct probe_service *ps = probe(fx);
    assert_true(ps->working_dir_set);
    assert_true(ps->working_dir_exists);
    assert_true(ps->working_dir_is_dir);
}

static void test_missing_working_dir_is_creatable(void **state)
{
    struct fixture *fx = *state;
    manifest_in_dir(fx, NULL, "a/b/c", false);
    const struct probe_service *ps = probe(fx);
    assert_false(ps->working_dir_exists);
    assert_true(ps->working_dir_creatable);
}

static void test_working_dir_under_a_file_is_not_creatable(void **state)
{
    struct fixture *fx = *state;
    manifest_in_dir(fx, NULL, "sub", true);
    const struct probe_service *ps = probe(fx);
    assert_false(ps->working_dir_exists);
    assert_false(ps->working_dir_creatable);
}

static void test_heal_creates_missing_working_dir(void **state)
{
    struct fixture *fx = *state;
    char wd[128];
    snprintf(wd, sizeof(wd), "%s/a/b/c/", fx->dir);
    manifest_of(fx, "/bin/sh", NULL, wd);
    assert_false(probe(fx)->working_dir_exists);

    struct cert_heal_action a = {.node = "n1", .service = "svc", .kind = CERT_HEAL_CREATE_DIR};
    struct cert_heal_result r;
    assert_int_equal(probe_heal(&fx->m, &a, 1, &r), 0);
    assert_true(r.ok);
    assert_non_null(strstr(r.detail, "created"));

    const struct probe_service *ps = probe(fx);
    assert_true(ps->working_dir_exists);
    assert_true(ps->working_dir_is_dir);
    struct stat st;
    assert_int_equal(stat(wd, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
}

static void test_heal_reports_failure_under_a_file(void **state)
{
    struct fixture *fx = *state;
    manifest_in_dir(fx, NULL, "sub", true);
    struct cert_heal_action a = {.node = "n1", .service = "svc", .kind = CERT_HEAL_CREATE_DIR};
    struct cert_heal_result r;
    assert_int_equal(probe_heal(&fx->m, &a, 1, &r), 1);
    assert_false(r.ok);
    assert_non_null(strstr(r.detail, "mkdir"));
}

/* The whole loop on this machine: the core plans, the probe heals. */
static void test_session_heals_working_dir_then_certifies(void **state)
{
    struct fixture *fx = *state;
    manifest_in_dir(fx, "\"auto\"", "work", false);
    struct cert_session *s = malloc(sizeof(*s));
    assert_non_null(s);
    cert_session_init(s);
    struct cert_heal_action a[4];
    struct cert_heal_result r[4];
    size_t na;
    enum cert_next next;
    while (probe(fx),
           (next = cert_session_next(s, &fx->m, &fx->f, 1, a, 4, &na)) == CERT_NEXT_HEAL) {
        probe_heal(&fx->m, a, na, r);
        cert_session_record(s, a, r, na);
    }
    assert_int_equal(next, CERT_NEXT_CERTIFY);
    assert_int_equal(s->attempts, 1);
    assert_int_equal(s->nchanges, 1);
    assert_true(s->changes[0].ok);
    free(s);
}

/* ---- user --------------------------------------------------------------- */

/* A manifest whose one service runs as user. */
static void manifest_as(struct fixture *fx, const char *user)
{
    char doc[512];
    snprintf(doc, sizeof(doc),
             "{\"name\": \"demo\", \"version\": \"1\", \"services\": [{\"name\": \"svc\","
             " \"command\": \"/bin/sh\", \"user\": \"%s\"}]}",
             user);
    struct manifest_error e;
    assert_int_equal(manifest_parse(doc, strlen(doc), &fx->m, &e), 0);
}

static void test_user_name_resolves_to_its_uid_gid_and_home(void **state)
{
    (void)state;
    struct probe_user u;
    char err[200];
    assert_int_equal(probe_user_resolve("root", &u, err, sizeof(err)), 0);
    assert_int_equal(u.uid, 0);
    assert_int_equal(u.gid, 0);
    assert_true(u.named);
    assert_string_equal(u.name, "root");
    assert_true(u.home[0] == '/');
}

static void test_unknown_user_name_does_not_resolve(void **state)
{
    (void)state;
    struct probe_user u;
    char err[200];
    assert_int_equal(probe_user_resolve("no-such-user-x9", &u, err, sizeof(err)), -1);
    assert_string_equal(err, "user \"no-such-user-x9\" does not exist on this node");
}

static void test_uid_and_gid_are_taken_as_given(void **state)
{
    (void)state;
    struct probe_user u;
    char err[200];
    assert_int_equal(probe_user_resolve("4000111:4000222", &u, err, sizeof(err)), 0);
    assert_int_equal(u.uid, 4000111);
    assert_int_equal(u.gid, 4000222);
    assert_false(u.named);
}

static void test_uid_alone_needs_an_entry_for_its_group(void **state)
{
    (void)state;
    struct probe_user u;
    char err[200];
    assert_int_equal(probe_user_resolve("4000111", &u, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "uid 4000111 has no entry"));
    assert_non_null(strstr(err, "\"4000111:4000111\""));
    assert_int_equal(probe_user_resolve("0", &u, err, sizeof(err)), 0);
    assert_true(u.named);
    assert_int_equal(u.gid, 0);
}

static void test_probe_of_a_user_says_whether_chimerad_may_switch(void **state)
{
    struct fixture *fx = *state;
    manifest_as(fx, "root");
    const struct probe_service *ps = probe(fx);
    assert_true(ps->user_set);
    assert_int_equal(ps->user_root, geteuid() == 0);
    assert_int_equal(ps->user_ok, geteuid() == 0);
    if (geteuid() != 0)
        assert_non_null(strstr(ps->user_error, "user set but chimerad is not root"));
}

static void test_probe_of_an_unknown_user_is_not_ok(void **state)
{
    struct fixture *fx = *state;
    manifest_as(fx, "no-such-user-x9");
    const struct probe_service *ps = probe(fx);
    assert_true(ps->user_set);
    assert_false(ps->user_ok);
    assert_true(ps->user_error[0] != '\0');
}

static void test_user_facts_survive_json(void **state)
{
    struct fixture *fx = *state;
    manifest_as(fx, "no-such-user-x9");
    probe(fx);
    json_t *js = probe_facts_to_json(&fx->f);
    struct probe_facts *back = malloc(sizeof(*back));
    char err[200];
    assert_int_equal(probe_facts_from_json(js, back, err, sizeof(err)), 0);
    assert_true(back->services[0].user_set);
    assert_string_equal(back->services[0].user_error, fx->f.services[0].user_error);
    json_decref(js);
    free(back);
}

/* ---- JSON --------------------------------------------------------------- */

static void test_facts_json_round_trip(void **state)
{
    struct fixture *fx = *state;
    manifest_in_dir(fx, "\"auto\"", "missing", false);
    probe(fx);
    json_t *js = probe_facts_to_json(&fx->f);
    assert_non_null(js);
    struct probe_facts *back = malloc(sizeof(*back));
    assert_non_null(back);
    char err[200];
    assert_int_equal(probe_facts_from_json(js, back, err, sizeof(err)), 0);
    assert_string_equal(back->node, "n1");
    assert_int_equal(back->nservices, 1);
    assert_int_equal(back->services[0].port, fx->f.services[0].port);
    assert_int_equal(back->services[0].port_kind, MANIFEST_PORT_AUTO);
    assert_true(back->services[0].working_dir_creatable);
    assert_string_equal(back->services[0].health_url, fx->f.services[0].health_url);
    json_t *again = probe_facts_to_json(back);
    assert_true(json_equal(js, again));
    json_decref(again);
    json_decref(js);
    free(back);
}

/* A node of an earlier version sends no env_file and no user facts: they
 * read as not set (and fine), so a federation being upgraded can deploy. */
static void test_facts_of_an_earlier_version_without_env_file_and_user_decode(void **state)
{
    struct fixture *fx = *state;
    manifest_of(fx, "/bin/sh", "\"auto\"", NULL);
    probe(fx);
    json_t *js = probe_facts_to_json(&fx->f);
    json_t *svc = json_array_get(json_object_get(js, "services"), 0);
    json_object_del(svc, "env_file");
    json_object_del(svc, "user");
    struct probe_facts *back = malloc(sizeof(*back));
    assert_non_null(back);
    char err[200] = "";
    if (probe_facts_from_json(js, back, err, sizeof(err)) != 0)
        fail_msg("facts without env_file and user refused: %s", err);
    assert_false(back->services[0].env_file_set);
    assert_true(back->services[0].env_file_ok);
    assert_false(back->services[0].user_set);
    assert_true(back->services[0].user_ok);
    json_decref(js);
    free(back);
}

/* Decodes the facts of a probe after their JSON was changed: key of the
 * object in (the root when NULL, else that object of the first service) set
 * to value (a new reference), or deleted when value is NULL. Expects the
 * error to start with want. */
static void decode_fails(struct fixture *fx, const char *in, const char *key, json_t *value,
                         const char *want)
{
    manifest_of(fx, "/bin/sh", "\"auto\"", NULL);
    probe(fx);
    json_t *js = probe_facts_to_json(&fx->f);
    json_t *o = in ? json_object_get(json_array_get(json_object_get(js, "services"), 0), in) : js;
    assert_non_null(o);
    if (value)
        json_object_set_new(o, key, value);
    else
        json_object_del(o, key);
    struct probe_facts *back = malloc(sizeof(*back));
    assert_non_null(back);
    char err[200];
    assert_int_equal(probe_facts_from_json(js, back, err, sizeof(err)), -1);
    if (strncmp(err, want, strlen(want)) != 0)
        fprintf(stderr, "got \"%s\", want \"%s...\"\n", err, want);
    assert_int_equal(strncmp(err, want, strlen(want)), 0);
    assert_int_equal(back->nservices, 0);
    json_decref(js);
    free(back);
}

#define DECODE_FAILS(test, in, key, value, want)                                                   \
    static void test(void **state)                                                                 \
    {                                                                                              \
        decode_fails(*state, in, key, value, want);                                                \
    }

DECODE_FAILS(test_decode_names_missing_field, "port", "free", NULL,
             "services[0].port.free: missing")
DECODE_FAILS(test_decode_refuses_unknown_field, "health", "extra", json_true(),
             "services[0].health.extra: unknown field")
DECODE_FAILS(test_decode_refuses_wrong_type, NULL, "answered", json_string("yes"),
             "answered: must be true or false")
DECODE_FAILS(test_decode_refuses_port_out_of_range, "port", "port", json_integer(70000),
             "services[0].port.port: must be an integer 0..65535")
DECODE_FAILS(test_decode_refuses_unknown_port_kind, "port", "kind", json_string("random"),
             "services[0].port.kind: must be")
DECODE_FAILS(test_decode_names_missing_user_field, "user", "root", NULL,
             "services[0].user.root: missing")
DECODE_FAILS(test_decode_refuses_services_not_array, NULL, "services", json_object(),
             "services: must be an array")

static void test_decode_refuses_overlong_string(void **state)
{
    char big[200];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    decode_fails(*state, NULL, "node", json_string(big), "node: longer than");
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_missing_command_is_not_found),
        T(test_missing_command_name_is_not_found_in_path),
        T(test_non_executable_file_is_found_but_not_executable),
        T(test_directory_as_command_is_not_executable),
        T(test_command_is_found_in_path),
        T(test_path_search_skips_non_executable_candidate),
        T(test_fixed_port_in_use_is_not_free),
        T(test_fixed_port_free_is_free),
        T(test_port_in_use_by_running_release_is_marked_own),
        T(test_auto_port_is_assigned_and_expanded),
        T(test_two_auto_services_get_different_ports),
        T(test_health_url_without_host_is_invalid),
        T(test_health_url_with_userinfo_says_userinfo_is_not_supported),
        T(test_health_url_with_user_only_says_userinfo_is_not_supported),
        T(test_health_url_with_at_in_the_path_is_valid),
        T(test_existing_working_dir_is_a_directory),
        T(test_missing_working_dir_is_creatable),
        T(test_working_dir_under_a_file_is_not_creatable),
        T(test_heal_creates_missing_working_dir),
        T(test_heal_reports_failure_under_a_file),
        T(test_session_heals_working_dir_then_certifies),
        T(test_user_name_resolves_to_its_uid_gid_and_home),
        T(test_unknown_user_name_does_not_resolve),
        T(test_uid_and_gid_are_taken_as_given),
        T(test_uid_alone_needs_an_entry_for_its_group),
        T(test_probe_of_a_user_says_whether_chimerad_may_switch),
        T(test_probe_of_an_unknown_user_is_not_ok),
        T(test_user_facts_survive_json),
        T(test_decode_names_missing_user_field),
        T(test_facts_json_round_trip),
        T(test_facts_of_an_earlier_version_without_env_file_and_user_decode),
        T(test_decode_names_missing_field),
        T(test_decode_refuses_unknown_field),
        T(test_decode_refuses_wrong_type),
        T(test_decode_refuses_port_out_of_range),
        T(test_decode_refuses_unknown_port_kind),
        T(test_decode_refuses_overlong_string),
        T(test_decode_refuses_services_not_array),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
