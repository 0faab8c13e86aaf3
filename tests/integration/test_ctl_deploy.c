/* Integration: chimeractl deploy, deployments and rollback against a stub
 * of the node's HTTP API (ctl_stub.h): a thread with a listening socket
 * that answers canned JSON per request and records every request (method,
 * path, token, body). Scripted sequences advance per request, never per
 * unit of time, so nothing here sleeps and hopes; the only clock is
 * chimeractl's own --timeout, and no test asserts on how long anything
 * took. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "ctl_support.h"
#include "ctl_stub.h"

#define TOKEN "stub-admin-token-0123456789"

/* ---- fixtures --------------------------------------------------------- */

static char dir[64], token_file[128], manifest_file[128], bad_file[128], no_revert_file[128];

static const char manifest[] =
    "{\n  \"name\": \"demo\",\n  \"version\": \"1.1.0\",\n"
    "  \"services\": [{\"name\": \"web\", \"command\": \"chimera-demo\",\n"
    "    \"args\": [\"--port\", \"${PORT}\"], \"port\": \"auto\",\n"
    "    \"health\": {\"url\": \"http://127.0.0.1:${PORT}/health\"}}]\n}\n";

static int group_setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/chimera-ctl-deploy-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    snprintf(token_file, sizeof token_file, "%s/token", dir);
    snprintf(manifest_file, sizeof manifest_file, "%s/demo.json", dir);
    snprintf(bad_file, sizeof bad_file, "%s/bad.json", dir);
    snprintf(no_revert_file, sizeof no_revert_file, "%s/no-revert.json", dir);
    FILE *f = fopen(token_file, "w");
    if (!f)
        return -1;
    fputs(TOKEN "\n", f);
    fclose(f);
    f = fopen(manifest_file, "w");
    if (!f)
        return -1;
    fputs(manifest, f);
    fclose(f);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    unlink(token_file);
    unlink(manifest_file);
    unlink(bad_file);
    unlink(no_revert_file);
    rmdir(dir);
    return 0;
}

/* Runs chimeractl against stub s with the token, and the NULL-terminated
 * arguments. */
static struct run ctl(struct stub *s, ...)
{
    const char *argv[32] = {0};
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", s->port);
    int a = 0;
    argv[a++] = "--addr";
    argv[a++] = addr;
    argv[a++] = "--token-file";
    argv[a++] = token_file;
    va_list ap;
    va_start(ap, s);
    const char *arg;
    while ((arg = va_arg(ap, const char *)) != NULL && a < 30)
        argv[a++] = arg;
    va_end(ap);
    argv[a] = NULL;
    struct run r = {0};
    /* h_ctl takes varargs too: pass the collected ones through a fixed
     * list (unused slots are the NULL terminator). */
    bool done = h_ctl(NULL, -1, &r.code, &r.out, &r.err, argv[0], argv[1], argv[2], argv[3],
                      argv[4], argv[5], argv[6], argv[7], argv[8], argv[9], argv[10], argv[11],
                      argv[12], argv[13], NULL);
    assert_true(a <= 14);
    if (!done)
        fail_msg("chimeractl did not finish; stdout:\n%s\nstderr:\n%s", r.out, r.err);
    return r;
}

/* As ctl, with --addr addr (a list, say) in place of one stub. */
static struct run ctl_at(const char *addr, ...)
{
    const char *argv[16] = {"--addr", addr, "--token-file", token_file};
    int a = 4;
    va_list ap;
    va_start(ap, addr);
    const char *arg;
    while ((arg = va_arg(ap, const char *)) != NULL && a < 15)
        argv[a++] = arg;
    va_end(ap);
    struct run r = {0};
    bool done = h_ctl(NULL, -1, &r.code, &r.out, &r.err, argv[0], argv[1], argv[2], argv[3],
                      argv[4], argv[5], argv[6], argv[7], argv[8], argv[9], argv[10], argv[11],
                      argv[12], argv[13], NULL);
    assert_true(a <= 14);
    if (!done)
        fail_msg("chimeractl did not finish; stdout:\n%s\nstderr:\n%s", r.out, r.err);
    return r;
}

/* Some line of text holds a, b and c. */
static bool has_line(const char *text, const char *a, const char *b, const char *c)
{
    for (const char *line = text; line && *line;) {
        const char *nl = strchr(line, '\n');
        size_t n = nl ? (size_t)(nl - line) : strlen(line);
        char *copy = strndup(line, n);
        bool all = copy && strstr(copy, a) && strstr(copy, b) && strstr(copy, c);
        free(copy);
        if (all)
            return true;
        line = nl ? nl + 1 : NULL;
    }
    return false;
}

/* ---- canned answers --------------------------------------------------- */

#define RELEASE "\"release\":{\"name\":\"demo\",\"version\":\"1.1.0\",\"digest\":\"ab12cd34\"}"
#define PLAN_OK                                                                                    \
    "\"simulation\":{\"issues\":[{\"node\":\"n2\",\"service\":\"web\",\"code\":\"port_in_use\","   \
    "\"severity\":\"warning\",\"message\":\"port 8080 is taken\",\"healable\":true}]},"            \
    "\"healing\":{\"attempts\":1,\"changes\":[{\"node\":\"n2\",\"action\":\"reassign_port\","      \
    "\"detail\":\"8080 -> 8081\",\"ok\":true}]},"                                                  \
    "\"certification\":{\"certified\":true,\"links\":[{\"name\":\"simulation_passed\","            \
    "\"ok\":true,\"detail\":\"3 nodes\"},{\"name\":\"no_critical_issue\",\"ok\":true,"             \
    "\"detail\":\"none\"}],\"signer\":\"n1\",\"signature\":\"5151\",\"digest\":\"ab12cd34\"}"
#define PLAN_BAD                                                                                   \
    "\"simulation\":{\"issues\":[{\"node\":\"n3\",\"service\":\"web\",\"code\":\"command\","       \
    "\"severity\":\"critical\",\"message\":\"chimera-demo is not on the PATH\","                   \
    "\"healable\":false}]},\"healing\":{\"attempts\":3,\"changes\":[]},"                           \
    "\"certification\":{\"certified\":false,\"links\":[{\"name\":\"simulation_passed\","           \
    "\"ok\":true,\"detail\":\"\"},{\"name\":\"no_critical_issue\",\"ok\":false,"                   \
    "\"detail\":\"1 critical issue on n3\"}],\"signer\":null,\"signature\":null,"                  \
    "\"digest\":\"ab12cd34\"}"

static void accept_deploy(struct answer *a)
{
    answer_json(a, 202, "{\"id\":\"d-7\"," RELEASE "," PLAN_OK "}");
}

/* A deployment object at some stage, with nodes n1 and n2. */
static void deployment(struct answer *a, const char *id, bool rollback, const char *version,
                       const char *stage, const char *h1, const char *h2, const char *reason)
{
    answer_json(a, 200,
                "{\"id\":\"%s\",\"rollback\":%s,\"target\":%s,\"release\":{\"name\":\"demo\","
                "\"version\":\"%s\",\"digest\":\"ab\"},\"stage\":\"%s\",\"started_ms\":"
                "1795600000000,\"finished_ms\":null,\"reason\":%s%s%s,\"waves\":2,\"nodes\":["
                "{\"node\":\"n1\",\"desired\":\"%s\",\"running\":\"%s\",\"health\":\"%s\","
                "\"healthy_since_ms\":null,\"detail\":\"\"},"
                "{\"node\":\"n2\",\"desired\":\"%s\",\"running\":\"%s\",\"health\":\"%s\","
                "\"healthy_since_ms\":null,\"detail\":\"\"}],\"events\":[]}",
                id, rollback ? "true" : "false", rollback ? "\"d-1\"" : "null", version, stage,
                reason ? "\"" : "", reason ? reason : "null", reason ? "\"" : "", version, version,
                h1, version, version, h2);
}

/* ---- deploy ----------------------------------------------------------- */

static void fn_accept(struct stub *s, const struct req *rq, int n, struct answer *a)
{
    (void)s, (void)n;
    if (strcmp(rq->method, "POST") == 0 && strcmp(rq->path, "/deployments") == 0)
        accept_deploy(a);
}

static void test_deploy_prints_the_plan_and_the_id(void **state)
{
    (void)state;
    struct stub *s = stub_start(fn_accept);
    struct run r = ctl(s, "deploy", manifest_file, NULL);
    EXPECT(r.code == 0, r);
    EXPECT(strstr(r.out, "d-7"), r);
    EXPECT(strstr(r.out, "port 8080 is taken"), r);
    EXPECT(strstr(r.out, "reassign_port"), r);
    EXPECT(strstr(r.out, "8080 -> 8081"), r);
    EXPECT(strstr(r.out, "simulation_passed"), r);
    EXPECT(strstr(r.out, "certified"), r);
    const struct req *rq = stub_find(s, "POST", "/deployments");
    assert_non_null(rq);
    assert_string_equal(rq->body, manifest); /* byte for byte: it is what gets signed */
    assert_string_equal(rq->auth, "Bearer " TOKEN);
    run_free(&r);
    stub_stop(s);
}

static void fn_dry_run(struct stub *s, const struct req *rq, int n, struct answer *a)
{
    (void)s, (void)n;
    if (strcmp(rq->path, "/deployments?dry_run=1") == 0)
        answer_json(a, 200, "{\"dry_run\":true," RELEASE "," PLAN_OK "}");
}

static void test_dry_run_of_a_certified_release_exits_0_and_deploys_nothing(void **state)
{
    (void)state;
    struct stub *s = stub_start(fn_dry_run);
    struct run r = ctl(s, "deploy", manifest_file, "--dry-run", NULL);
    EXPECT(r.code == 0, r);
    EXPECT(strstr(r.out, "port 8080 is taken") && strstr(r.out, "nothing deployed"), r);
    assert_int_equal(stub_count(s, "POST", "/deployments?dry_run=1"), 1);
    assert_int_equal(stub_count(s, "POST", "/deployments"), 0);
    run_free(&r);
    stub_stop(s);
}

static void fn_dry_run_uncertified(struct stub *s, const struct req *rq, int n, struct answer *a)
{
    (void)s, (void)n;
    if (strcmp(rq->path, "/deployments?dry_run=1") == 0)
        answer_json(a, 200, "{\"dry_run\":true," RELEASE "," PLAN_BAD "}");
}

static void test_dry_run_of_an_uncertified_release_exits_2(void **state)
{
    (void)state;
    struct stub *s = stub_start(fn_dry_run_uncertified);
    struct run r = ctl(s, "deploy", manifest_file, "--dry-run", NULL);
    EXPECT(r.code == 2, r);
    EXPECT(strstr(r.out, "not on the PATH") && strstr(r.out, "FAILED"), r);
    run_free(&r);
    stub_stop(s);
}

/* What a node's dry run answers when only healing must mend the release:
 * nothing healed (a dry run changes nothing), one action it would run. */
#define PLAN_HEALABLE                                                                              \
    "\"simulation\":{\"issues\":[{\"node\":\"n2\",\"service\":\"web\",\"code\":"                   \
    "\"working_dir_missing\",\"severity\":\"critical\",\"message\":\"/srv/web is missing\","       \
    "\"healable\":true}]},\"healing\":{\"attempts\":1,\"changes\":[],\"would_run\":[{"             \
    "\"node\":\"n2\",\"service\":\"web\",\"action\":\"create_working_dir\"}]},"                    \
    "\"certification\":{\"certified\":false,\"links\":[{\"name\":\"no_critical_issue\","           \
    "\"ok\":false,\"detail\":\"1 critical issue on n2\"}],\"signer\":null,\"signature\":null,"     \
    "\"digest\":\"ab12cd34\"}"

static void fn_dry_run_healable(struct stub *s, const struct req *rq, int n, struct answer *a)
{
    (void)s, (void)n;
    if (strcmp(rq->path, "/deployments?dry_run=1") == 0)
        answer_json(a, 200, "{\"dry_run\":true," RELEASE "," PLAN_HEALABLE "}");
}

/* The healing line says what the real deploy would run, as the lines
 * under it do, not the dry run's bookkeeping ("1 attempt, 0 changes"). */
static void test_a_dry_run_counts_the_healing_it_would_run(void **state)
{
    (void)state;
    struct stub *s = stub_start(fn_dry_run_healable);
    struct run r = ctl(s, "deploy", manifest_file, "--dry-run", NULL);
    EXPECT(r.code == 0, r);
    EXPECT(strstr(r.out, "healing:        would run 1 action (a dry run heals nothing)\n"), r);
    EXPECT(strstr(r.out, "  would run:    create_working_dir on n2 (service web)"), r);
    EXPECT(!strstr(r.out, "attempt"), r);
    run_free(&r);
    stub_stop(s);
}

static void fn_400(struct stub *s, const struct req *rq, int n, struct answer *a)
{
    (void)s, (void)n, (void)rq;
    answer_json(a, 400,
                "{\"error\":\"unknown key \\\"colour\\\"\",\"path\":\"services[0].colour\"}");
}

static void test_a_manifest_the_node_refuses_prints_the_path_and_exits_2(void **state)
{
    (void)state;
    struct stub *s = stub_start(fn_400);
    struct run r = ctl(s, "deploy", manifest_file, NULL);
    EXPECT(r.code == 2, r);
    EXPECT(strstr(r.err, "services[0].colour") && strstr(r.err, "unknown key"), r);
    run_free(&r);
    stub_stop(s);
}

static void test_a_local_parse_error_exits_2_without_contacting_the_node(void **state)
{
    (void)state;
    struct stub *s = stub_start(fn_accept);
    write_file(bad_file, "{\"name\":\"demo\",\"version\":\"2\",\"services\":[{\"name\":\"web\","
                         "\"command\":\"x\",\"colour\":\"red\"}]}");
    struct run r = ctl(s, "deploy", bad_file, NULL);
    EXPECT(r.code == 2, r);
    EXPECT(strstr(r.err, "services[0].colour"), r);
    assert_int_equal(stub_count(s, "POST", NULL) + stub_count(s, "GET", NULL), 0);
    run_free(&r);
    stub_stop(s);
}

/* A directory read as a manifest: the error says why it cannot be read. */
/* The harness gives chimeractl an empty stdin: not a manifest. */
static void test_a_manifest_from_stdin_is_named_stdin_in_its_error(void **state)
{
    (void)state;
    struct stub *s = stub_start(fn_accept);
    struct run r = ctl(s, "deploy", "-", NULL);
    EXPECT(r.code == 2, r);
    EXPECT(strstr(r.err, "chimeractl: deploy: (stdin): invalid manifest at (document)"), r);
    assert_int_equal(stub_count(s, "POST", NULL), 0);
    run_free(&r);
    stub_stop(s);
}

static void test_a_directory_given_as_the_manifest_says_why_it_cannot_be_read(void **state)
{
    (void)state;
    struct stub *s = stub_start(fn_accept);
    struct run r = ctl(s, "deploy", dir, NULL);
    EXPECT(r.code == 1 && strstr(r.err, "cannot read") && strstr(r.err, strerror(EISDIR)), r);
    assert_int_equal(stub_count(s, "POST", NULL) + stub_count(s, "GET", NULL), 0);
    run_free(&r);
    stub_stop(s);
}

/* A manifest over the 256 KiB a node takes is refused with its real size,
 * not the size of the part read before the limit. */
static void test_an_oversized_manifest_is_refused_with_its_size(void **state)
{
    (void)state;
    struct stub *s = stub_start(fn_accept);
    size_t size = 300000;
    char *doc = malloc(size + 1);
    assert_non_null(doc);
    memset(doc, ' ', size);
    memcpy(doc, "{\"description\": \"", 17);
    memcpy(doc + size - 2, "\"}", 2);
    doc[size] = '\0';
    write_file(bad_file, doc);
    free(doc);
    struct run r = ctl(s, "deploy", bad_file, NULL);
    EXPECT(r.code == 2 && strstr(r.err, "300000 bytes") && strstr(r.err, "262144"), r);
    assert_int_equal(stub_count(s, "POST", NULL) + stub_count(s, "GET", NULL), 0);
    run_free(&r);
    stub_stop(s);
}

static void fn_422(struct stub *s, const struct req *rq, int n, struct answer *a)
{
    (void)s, (void)n, (void)rq;
    answer_json(a, 422,
                "{\"error\":\"the release is not certified; nothing was deployed\"," PLAN_BAD "}");
}

static void test_an_uncertified_release_prints_the_failed_links_and_exits_2(void **state)
{
    (void)state;
    struct stub *s = stub_start(fn_422);
    struct run r = ctl(s, "deploy", manifest_file, NULL);
    EXPECT(r.code == 2, r);
    EXPECT(strstr(r.out, "FAILED") && strstr(r.out, "no_critical_issue") &&
               strstr(r.out, "1 critical issue on n3"),
           r);
    /* Said once, as the node says it. */
    EXPECT(
        strstr(r.err, "chimeractl: deploy: the release is not certified; nothing was deployed\n"),
        r);
    EXPECT(!strstr(r.err, "not certified: the release is not certified"), r);
    run_free(&r);
    stub_stop(s);
}

static void fn_409(struct stub *s, const struct req *rq, int n, struct answer *a)
{
    (void)s, (void)n, (void)rq;
    answer_json(a, 409, "{\"error\":\"deployment d-6 is in progress\"}");
}

static void test_a_deployment_in_progress_409_exits_2_with_the_reason(void **state)
{
    (void)state;
    struct stub *s = stub_start(fn_409);
    struct run r = ctl(s, "deploy", manifest_file, NULL);
    EXPECT(r.code == 2, r);
    EXPECT(strstr(r.err, "deployment d-6 is in progress"), r);
    run_free(&r);
    stub_stop(s);
}

static struct stub *leader_stub; /* for fn_follower */

static void fn_follower(struct stub *s, const struct req *rq, int n, struct answer *a)
{
    (void)s, (void)n, (void)rq;
    answer_json(a, 307,
                "{\"error\":\"not the leader\",\"leader\":\"n1\","
                "\"leader_http\":\"127.0.0.1:%d\"}",
                leader_stub->port);
    snprintf(a->location, sizeof a->location, "http://127.0.0.1:%d/deployments", leader_stub->port);
}

static void test_a_redirect_from_a_follower_is_followed_with_the_token_and_body(void **state)
{
    (void)state;
    leader_stub = stub_start(fn_accept);
    struct stub *follower = stub_start(fn_follower);
    struct run r = ctl(follower, "deploy", manifest_file, NULL);
    EXPECT(r.code == 0, r);
    EXPECT(strstr(r.out, "d-7"), r);
    assert_int_equal(stub_count(follower, "POST", "/deployments"), 1);
    const struct req *rq = stub_find(leader_stub, "POST", "/deployments");
    assert_non_null(rq);
    assert_string_equal(rq->auth, "Bearer " TOKEN);
    assert_string_equal(rq->body, manifest);
    run_free(&r);
    stub_stop(follower);
    stub_stop(leader_stub);
}

/* A message writes the leader's address, learned from the 307, as --addr
 * writes addresses: without the scheme, or with it. */
static void test_a_redirect_names_the_leader_as_addr_writes_addresses(void **state)
{
    (void)state;
    leader_stub = stub_start(fn_accept);
    struct stub *follower = stub_start(fn_follower);
    char want[160], addr[64];
    struct run r = ctl(follower, "deploy", manifest_file, NULL);
    snprintf(want, sizeof want,
             "chimeractl: 127.0.0.1:%d is not the leader; sending to the leader at 127.0.0.1:%d\n",
             follower->port, leader_stub->port);
    EXPECT(r.code == 0 && strstr(r.err, want), r);
    run_free(&r);
    snprintf(addr, sizeof addr, "http://127.0.0.1:%d", follower->port);
    r = ctl_at(addr, "deploy", manifest_file, NULL);
    snprintf(want, sizeof want,
             "chimeractl: http://127.0.0.1:%d is not the leader; sending to the leader at "
             "http://127.0.0.1:%d\n",
             follower->port, leader_stub->port);
    EXPECT(r.code == 0 && strstr(r.err, want), r);
    run_free(&r);
    stub_stop(follower);
    stub_stop(leader_stub);
}

/* The node's Location names the path without the query: a dry run must
 * reach the leader as a dry run all the same. */
static void test_a_redirected_dry_run_stays_a_dry_run(void **state)
{
    (void)state;
    leader_stub = stub_start(fn_dry_run);
    struct stub *follower = stub_start(fn_follower);
    struct run r = ctl(follower, "deploy", manifest_file, "--dry-run", NULL);
    EXPECT(r.code == 0, r);
    assert_int_equal(stub_count(follower, "POST", "/deployments?dry_run=1"), 1);
    assert_int_equal(stub_count(leader_stub, "POST", "/deployments?dry_run=1"), 1);
    assert_int_equal(stub_count(leader_stub, "POST", "/deployments"), 0);
    run_free(&r);
    stub_stop(follower);
    stub_stop(leader_stub);
}

/* --wait: d-7 deploying (n1 starting), deploying (n1 healthy), then stable. */
static void fn_goes_stable(struct stub *s, const struct req *rq, int n, struct answer *a)
{
    (void)s;
    if (strcmp(rq->path, "/deployments") == 0 && strcmp(rq->method, "POST") == 0)
        accept_deploy(a);
    else if (strcmp(rq->path, "/deployments/d-7") == 0)
        deployment(a, "d-7", false, "1.1.0",
                   n == 0   ? "deploying"
                   : n == 1 ? "deploying"
                            : "stable",
                   n == 0 ? "starting" : "healthy", n < 2 ? "none" : "healthy", NULL);
}

static void test_wait_exits_0_when_the_deployment_becomes_stable(void **state)
{
    (void)state;
    struct stub *s = stub_start(fn_goes_stable);
    struct run r = ctl(s, "deploy", manifest_file, "--wait", NULL);
    EXPECT(r.code == 0, r);
    EXPECT(strstr(r.out, "stage deploying") && strstr(r.out, "stage stable"), r);
    EXPECT(has_line(r.out, "n1", "running 1.1.0", "health starting"), r);
    EXPECT(has_line(r.out, "n1", "running 1.1.0", "health healthy"), r);
    EXPECT(has_line(r.out, "n2", "running 1.1.0", "health healthy"), r);
    EXPECT(strstr(r.out, "is stable"), r);
    assert_int_equal(stub_count(s, "GET", "/deployments/d-7"), 3);
    run_free(&r);
    stub_stop(s);
}

/* d-7 fails on its second poll; the leader's rollback d-8 (rollback of it
 * to 1.0.0, which d-1 made stable) rolls back, then is reverted. */
static void fn_reverted(struct stub *s, const struct req *rq, int n, struct answer *a)
{
    (void)s;
    if (strcmp(rq->path, "/deployments") == 0 && strcmp(rq->method, "POST") == 0)
        accept_deploy(a);
    else if (strcmp(rq->path, "/deployments/d-7") == 0)
        deployment(a, "d-7", false, "1.1.0", n == 0 ? "deploying" : "failed", "starting",
                   n == 0 ? "none" : "unhealthy",
                   n == 0 ? NULL : "n2: health check failed past healthy_deadline");
    else if (strcmp(rq->path, "/deployments/d-8") == 0)
        deployment(a, "d-8", true, "1.0.0", n == 0 ? "rolling_back" : "reverted", "healthy",
                   n == 0 ? "starting" : "healthy", "rollback of d-7");
    else if (strcmp(rq->path, "/deployments") == 0)
        answer_json(a, 200,
                    "{\"current\":\"d-8\",\"stable\":\"d-1\",\"deployments\":["
                    "{\"id\":\"d-8\",\"rollback\":true,\"target\":\"d-1\",\"release\":{\"name\":"
                    "\"demo\",\"version\":\"1.0.0\",\"digest\":\"aa\"},\"stage\":\"rolling_back\","
                    "\"started_ms\":1795600005000,\"finished_ms\":null,\"reason\":\"rollback of "
                    "d-7\"},"
                    "{\"id\":\"d-7\",\"rollback\":false,\"target\":null,\"release\":{\"name\":"
                    "\"demo\",\"version\":\"1.1.0\",\"digest\":\"ab\"},\"stage\":\"failed\","
                    "\"started_ms\":1795600000000,\"finished_ms\":1795600004000,\"reason\":\"n2: "
                    "health\"},"
                    "{\"id\":\"d-1\",\"rollback\":false,\"target\":null,\"release\":{\"name\":"
                    "\"demo\",\"version\":\"1.0.0\",\"digest\":\"aa\"},\"stage\":\"stable\","
                    "\"started_ms\":1795500000000,\"finished_ms\":1795500009000,\"reason\":null}"
                    "]}");
}

static void test_wait_exits_3_when_the_deployment_fails_and_is_reverted(void **state)
{
    (void)state;
    struct stub *s = stub_start(fn_reverted);
    struct run r = ctl(s, "deploy", manifest_file, "--wait", NULL);
    EXPECT(r.code == 3, r);
    EXPECT(strstr(r.err, "n2: health check failed past healthy_deadline"), r);
    EXPECT(strstr(r.err, "d-8"), r);
    EXPECT(strstr(r.out, "stage reverted"), r);
    EXPECT(strstr(r.out, "reverted to demo 1.0.0 by deployment d-8"), r);
    assert_int_equal(stub_count(s, "GET", "/deployments/d-8"), 2);
    run_free(&r);
    stub_stop(s);
}

static void test_wait_json_prints_one_line_per_change_then_the_final_object(void **state)
{
    (void)state;
    struct stub *s = stub_start(fn_goes_stable);
    struct run r = ctl(s, "deploy", manifest_file, "--wait", "--json", NULL);
    EXPECT(r.code == 0, r);
    /* The 202, then changes, then the final deployment: every line an object. */
    size_t lines = 0;
    json_t *last = NULL;
    for (char *line = strtok(r.out, "\n"); line; line = strtok(NULL, "\n")) {
        json_decref(last);
        last = json_loads(line, 0, NULL);
        EXPECT(json_is_object(last), r);
        lines++;
    }
    EXPECT(lines >= 5, r);
    assert_string_equal(json_string_value(json_object_get(last, "stage")), "stable");
    assert_string_equal(json_string_value(json_object_get(last, "id")), "d-7");
    json_decref(last);
    run_free(&r);
    stub_stop(s);
}

static void fn_never_ends(struct stub *s, const struct req *rq, int n, struct answer *a)
{
    (void)s, (void)n;
    if (strcmp(rq->path, "/deployments") == 0 && strcmp(rq->method, "POST") == 0)
        accept_deploy(a);
    else if (strcmp(rq->path, "/deployments/d-7") == 0)
        deployment(a, "d-7", false, "1.1.0", "deploying", "starting", "none", NULL);
}

/* 9, the common timeout code (it was 1 before the one exit-code scheme). */
static void test_wait_exits_9_when_the_timeout_passes(void **state)
{
    (void)state;
    struct stub *s = stub_start(fn_never_ends);
    struct run r = ctl(s, "deploy", manifest_file, "--wait", "--timeout", "1s", NULL);
    EXPECT(r.code == 9, r);
    EXPECT(strstr(r.err, "timed out") && strstr(r.err, "d-7"), r);
    run_free(&r);
    stub_stop(s);
}

/* d-7 fails; no rollback ever appears (its manifest has auto_revert off). */
static void fn_fails(struct stub *s, const struct req *rq, int n, struct answer *a)
{
    (void)s;
    if (strcmp(rq->path, "/deployments") == 0 && strcmp(rq->method, "POST") == 0)
        accept_deploy(a);
    else if (strcmp(rq->path, "/deployments/d-7") == 0)
        deployment(a, "d-7", false, "1.1.0", n == 0 ? "deploying" : "failed", "starting", "crashed",
                   n == 0 ? NULL : "n2: web crashed");
    else if (strcmp(rq->path, "/deployments") == 0)
        answer_json(a, 200, "{\"current\":null,\"stable\":\"d-1\",\"deployments\":[]}");
}

static void test_wait_exits_1_when_the_deployment_fails_without_a_rollback(void **state)
{
    (void)state;
    struct stub *s = stub_start(fn_fails);
    char *no_revert = strdup(manifest);
    assert_non_null(no_revert);
    no_revert[strlen(no_revert) - 2] = '\0'; /* cut the final "}\n" */
    char doc[2048];
    snprintf(doc, sizeof doc, "%s,\n  \"rollout\": {\"auto_revert\": false}\n}\n", no_revert);
    free(no_revert);
    write_file(no_revert_file, doc);
    struct run r = ctl(s, "deploy", no_revert_file, "--wait", NULL);
    EXPECT(r.code == 1, r);
    EXPECT(strstr(r.err, "n2: web crashed") && strstr(r.err, "auto_revert"), r);
    run_free(&r);
    stub_stop(s);
}

static void test_deployment_watch_exits_0_when_it_becomes_stable(void **state)
{
    (void)state;
    struct stub *s = stub_start(fn_goes_stable);
    struct run r = ctl(s, "deployment", "d-7", "--watch", NULL);
    EXPECT(r.code == 0, r);
    EXPECT(strstr(r.out, "NODE") && strstr(r.out, "stage stable"), r);
    assert_int_equal(stub_count(s, "POST", NULL), 0);
    run_free(&r);
    stub_stop(s);
}

/* Leadership moves while --wait follows the rollout: the old leader (n1)
 * answers on, as a follower that hears no node's reports and whose view
 * never ends; the node behind --addr (n3) names n2 as the leader now. */
static struct stub *new_leader_stub;

static void fn_old_leader(struct stub *s, const struct req *rq, int n, struct answer *a)
{
    (void)s, (void)n;
    if (strcmp(rq->path, "/deployments") == 0 && strcmp(rq->method, "POST") == 0)
        accept_deploy(a);
    else if (strcmp(rq->path, "/deployments/d-7") == 0)
        deployment(a, "d-7", false, "1.1.0", "deploying", "healthy", "none", NULL);
}

static void fn_new_leader(struct stub *s, const struct req *rq, int n, struct answer *a)
{
    (void)s, (void)n;
    if (strcmp(rq->path, "/federation/state") == 0)
        answer_json(a, 200, "{\"node\":\"n2\",\"role\":\"leader\",\"leader\":\"n2\"}");
    else if (strcmp(rq->path, "/deployments/d-7") == 0)
        deployment(a, "d-7", false, "1.1.0", "stable", "healthy", "healthy", NULL);
}

static void fn_follower_naming_n2(struct stub *s, const struct req *rq, int n, struct answer *a)
{
    (void)s, (void)n;
    if (strcmp(rq->path, "/federation/state") == 0)
        answer_json(a, 200,
                    "{\"node\":\"n3\",\"role\":\"follower\",\"leader\":\"n2\",\"peers\":["
                    "{\"node\":\"n1\",\"http\":\"127.0.0.1:%d\",\"self\":false},"
                    "{\"node\":\"n2\",\"http\":\"127.0.0.1:%d\",\"self\":false},"
                    "{\"node\":\"n3\",\"http\":\"127.0.0.1:1\",\"self\":true}]}",
                    leader_stub->port, new_leader_stub->port);
    else
        fn_follower(s, rq, n, a);
}

/* deploy --wait through n3 (--addr), whose 307 sends it to n1 (answering
 * with old_leader) while n3 names n2 as the leader; *polled: how often n2
 * was asked for d-7. */
static struct run wait_across_a_transfer(stub_fn old_leader, int *polled)
{
    leader_stub = stub_start(old_leader);
    new_leader_stub = stub_start(fn_new_leader);
    struct stub *follower = stub_start(fn_follower_naming_n2);
    struct run r = ctl(follower, "deploy", manifest_file, "--wait", NULL);
    *polled = stub_count(new_leader_stub, "GET", "/deployments/d-7");
    stub_stop(follower);
    stub_stop(new_leader_stub);
    stub_stop(leader_stub);
    return r;
}

static void test_wait_follows_the_leader_when_leadership_moves_during_the_rollout(void **state)
{
    (void)state;
    int polled;
    struct run r = wait_across_a_transfer(fn_old_leader, &polled);
    EXPECT(r.code == 0, r);
    EXPECT(strstr(r.out, "is stable"), r);
    EXPECT(has_line(r.out, "n2", "running 1.1.0", "health healthy"), r);
    EXPECT(polled > 0, r);
    run_free(&r);
}

/* After a transfer the old leader answers on at once, as a follower: n2,
 * reported starting a poll before, is "unknown" to it. That view is not
 * printed; the new leader is asked. */
static void fn_old_leader_loses_sight(struct stub *s, const struct req *rq, int n, struct answer *a)
{
    (void)s;
    if (strcmp(rq->path, "/deployments") == 0 && strcmp(rq->method, "POST") == 0)
        accept_deploy(a);
    else if (strcmp(rq->path, "/deployments/d-7") == 0)
        deployment(a, "d-7", false, "1.1.0", "deploying", "healthy",
                   n == 0 ? "starting" : "unknown", NULL);
}

static void test_wait_prints_no_view_of_a_node_that_no_longer_leads(void **state)
{
    (void)state;
    int polled;
    struct run r = wait_across_a_transfer(fn_old_leader_loses_sight, &polled);
    EXPECT(r.code == 0, r);
    EXPECT(has_line(r.out, "n2", "running 1.1.0", "health starting"), r);
    EXPECT(!has_line(r.out, "n2", "health unknown", "n2"), r);
    EXPECT(has_line(r.out, "n2", "running 1.1.0", "health healthy"), r);
    run_free(&r);
}

static void test_deployment_without_an_id_says_where_ids_are_listed(void **state)
{
    (void)state;
    struct stub *s = stub_start(fn_goes_stable);
    struct run r = ctl(s, "deployment", NULL);
    EXPECT(r.code == 2, r);
    EXPECT(strstr(r.err, "chimeractl: deployment: needs a deployment ID; chimeractl deployments "
                         "lists them (see chimeractl deployment --help)\n"),
           r);
    assert_int_equal(stub_count(s, "GET", NULL), 0);
    run_free(&r);
    stub_stop(s);
}

/* n3, a follower, naming n2 as the leader at 127.0.0.1:port. */
static void follower_naming_n2_at(int port, struct stub *s, const struct req *rq, int n,
                                  struct answer *a)
{
    if (strcmp(rq->path, "/federation/state") == 0)
        answer_json(a, 200,
                    "{\"node\":\"n3\",\"role\":\"follower\",\"leader\":\"n2\",\"peers\":["
                    "{\"node\":\"n2\",\"http\":\"127.0.0.1:%d\",\"self\":false},"
                    "{\"node\":\"n3\",\"http\":\"127.0.0.1:1\",\"self\":true}]}",
                    port);
    else
        fn_follower(s, rq, n, a);
}

/* n3 names n2 as the leader at an address that does not answer here (a
 * container's, say): the polls stay with n1, which answers, and the watch
 * sees d-7 through to its end (after the look at n3 on the 8th poll). */
static void fn_follower_naming_n2_out_of_reach(struct stub *s, const struct req *rq, int n,
                                               struct answer *a)
{
    follower_naming_n2_at(1, s, rq, n, a);
}

static void fn_stable_after_ten_polls(struct stub *s, const struct req *rq, int n, struct answer *a)
{
    (void)s;
    if (strcmp(rq->path, "/deployments") == 0 && strcmp(rq->method, "POST") == 0)
        accept_deploy(a);
    else if (strcmp(rq->path, "/deployments/d-7") == 0)
        deployment(a, "d-7", false, "1.1.0", n < 10 ? "deploying" : "stable", "healthy",
                   n < 10 ? "starting" : "healthy", NULL);
}

static void test_wait_stays_with_a_node_that_answers_when_the_leader_is_out_of_reach(void **state)
{
    (void)state;
    leader_stub = stub_start(fn_stable_after_ten_polls);
    struct stub *follower = stub_start(fn_follower_naming_n2_out_of_reach);
    struct run r = ctl(follower, "deploy", manifest_file, "--wait", NULL);
    EXPECT(r.code == 0 && strstr(r.out, "is stable"), r);
    EXPECT(!strstr(r.err, "no answer"), r);
    EXPECT(stub_count(follower, "GET", "/federation/state") > 0, r);
    run_free(&r);
    stub_stop(follower);
    stub_stop(leader_stub);
}

/* n2 leads since n1 died, at an address out of reach here (n3, first in
 * the --addr list, names it there) but at its endpoint in the list, where
 * the watch polls it. n1, healthy at first, is "unknown" to n2 from the
 * second poll on (a new leader forgets the reports of the term before). */
static void fn_leader_in_the_addr_list(struct stub *s, const struct req *rq, int n,
                                       struct answer *a)
{
    (void)s;
    if (strcmp(rq->path, "/federation/state") == 0)
        answer_json(a, 200,
                    "{\"node\":\"n2\",\"role\":\"leader\",\"leader\":\"n2\",\"peers\":["
                    "{\"node\":\"n2\",\"http\":\"127.0.0.1:1\",\"self\":true}]}");
    else if (strcmp(rq->path, "/deployments/d-7") == 0)
        deployment(a, "d-7", false, "1.1.0", n < 4 ? "deploying" : "stable",
                   n < 2 ? "healthy" : "unknown", n < 4 ? "starting" : "healthy", NULL);
}

/* The leader polled at its --addr endpoint is where the watch already is:
 * a look at who leads is no move, and drops none of its answers, so a
 * member it will never hear of again does not hide the end. */
static void
test_watch_at_the_leaders_addr_endpoint_sees_the_end_past_a_member_gone_unknown(void **state)
{
    (void)state;
    leader_stub = stub_start(fn_leader_in_the_addr_list);
    struct stub *follower = stub_start(fn_follower_naming_n2_out_of_reach);
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%d,127.0.0.1:%d", follower->port, leader_stub->port);
    struct run r = ctl_at(addr, "deployment", "d-7", "--watch", NULL);
    EXPECT(r.code == 0, r);
    EXPECT(strstr(r.out, "stage stable"), r);
    EXPECT(has_line(r.out, "n1", "health unknown", "n1"), r);
    run_free(&r);
    stub_stop(follower);
    stub_stop(leader_stub);
}

/* d-7 at poll n: n2 starting, told to run d-1 then d-7 (a field no line
 * shows), then healthy and stable. */
static void fn_desired_moves(struct stub *s, const struct req *rq, int n, struct answer *a)
{
    (void)s;
    if (strcmp(rq->path, "/deployments") == 0 && strcmp(rq->method, "POST") == 0)
        accept_deploy(a);
    else if (strcmp(rq->path, "/deployments/d-7") == 0)
        answer_json(a, 200,
                    "{\"id\":\"d-7\",\"rollback\":false,\"release\":{\"name\":\"demo\","
                    "\"version\":\"1.1.0\"},\"stage\":\"%s\",\"nodes\":[{\"node\":\"n2\","
                    "\"desired\":\"%s\",\"running\":\"d-7\",\"health\":\"%s\"}]}",
                    n < 2 ? "deploying" : "stable", n == 0 ? "d-1" : "d-7",
                    n < 2 ? "starting" : "healthy");
}

static void test_wait_prints_a_node_line_only_when_what_it_shows_changes(void **state)
{
    (void)state;
    struct stub *s = stub_start(fn_desired_moves);
    struct run r = ctl(s, "deploy", manifest_file, "--wait", NULL);
    EXPECT(r.code == 0, r);
    const char *first = strstr(r.out, "n2       running 1.1.0        health starting");
    EXPECT(first && !strstr(strchr(first, '\n'), "health starting"), r);
    EXPECT(has_line(r.out, "n2", "running 1.1.0", "health healthy"), r);
    run_free(&r);
    stub_stop(s);
}

/* n2 went down after its last report, and the rollout has not passed it
 * over (yet): the leader names it dead beside the report it holds. */
static void fn_member_down(struct stub *s, const struct req *rq, int n, struct answer *a)
{
    (void)s, (void)n;
    if (strcmp(rq->path, "/deployments/d-7") == 0)
        answer_json(a, 200,
                    "{\"id\":\"d-7\",\"rollback\":false,\"target\":null,\"release\":{\"name\":"
                    "\"demo\",\"version\":\"1.1.0\",\"digest\":\"ab\"},\"stage\":\"deploying\","
                    "\"started_ms\":1795600000000,\"finished_ms\":null,\"reason\":null,\"waves\":2,"
                    "\"nodes\":[{\"node\":\"n1\",\"desired\":\"d-7\",\"running\":\"d-7\","
                    "\"health\":\"healthy\",\"healthy_since_ms\":null,\"detail\":\"\",\"member\":"
                    "\"alive\"},{\"node\":\"n2\",\"desired\":\"d-6\",\"running\":\"d-6\","
                    "\"health\":\"healthy\",\"healthy_since_ms\":null,\"detail\":\"\",\"member\":"
                    "\"dead\"}],\"events\":[]}");
}

static void test_deployment_shows_a_member_down_now_as_down_not_its_last_health(void **state)
{
    (void)state;
    struct stub *s = stub_start(fn_member_down);
    struct run r = ctl(s, "deployment", "d-7", NULL);
    EXPECT(r.code == 0, r);
    EXPECT(has_line(r.out, "n2", "down (its last report: healthy)", "n2"), r);
    EXPECT(has_line(r.out, "n1", "healthy", "n1"), r);
    run_free(&r);
    stub_stop(s);
}

/* n1, first in --addr, took the deployment and answered two polls, then
 * went away; n2, next in the list, leads now. */
static void fn_gone_after_two_polls(struct stub *s, const struct req *rq, int n, struct answer *a)
{
    (void)s;
    if (strcmp(rq->path, "/deployments") == 0 && strcmp(rq->method, "POST") == 0)
        accept_deploy(a);
    else if (strcmp(rq->path, "/deployments/d-7") == 0 && n < 2)
        deployment(a, "d-7", false, "1.1.0", "deploying", "healthy", "starting", NULL);
    else
        a->status = -1;
}

static void fn_leads_now(struct stub *s, const struct req *rq, int n, struct answer *a)
{
    (void)s, (void)n;
    if (strcmp(rq->path, "/federation/state") == 0)
        answer_json(a, 200,
                    "{\"node\":\"n2\",\"role\":\"leader\",\"leader\":\"n2\",\"peers\":["
                    "{\"node\":\"n2\",\"http\":\"127.0.0.1:1\",\"self\":true}]}");
    else if (strcmp(rq->path, "/deployments/d-7") == 0)
        deployment(a, "d-7", false, "1.1.0", "stable", "healthy", "healthy", NULL);
}

static void test_wait_moves_to_another_addr_endpoint_when_the_one_it_polled_is_gone(void **state)
{
    (void)state;
    struct stub *gone = stub_start(fn_gone_after_two_polls), *next = stub_start(fn_leads_now);
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%d,127.0.0.1:%d", gone->port, next->port);
    struct run r = ctl_at(addr, "deploy", manifest_file, "--wait", "--timeout", "20s", NULL);
    EXPECT(r.code == 0, r);
    EXPECT(strstr(r.out, "is stable"), r);
    EXPECT(stub_count(next, "GET", "/deployments/d-7") > 0, r);
    run_free(&r);
    stub_stop(next);
    stub_stop(gone);
}

/* An address that takes no connection, as a blackholed or firewalled port
 * does: a listening socket with a backlog of none whose one place is
 * taken, so that the kernel drops every later SYN unanswered. */
struct blackhole {
    int fd, filler, port;
};

static struct blackhole blackhole_open(void)
{
    struct blackhole b;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof sa;
    b.fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(b.fd >= 0);
    assert_int_equal(bind(b.fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(b.fd, 0), 0);
    assert_int_equal(getsockname(b.fd, (struct sockaddr *)&sa, &sl), 0);
    b.port = ntohs(sa.sin_port);
    b.filler = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(b.filler >= 0);
    assert_int_equal(connect(b.filler, (struct sockaddr *)&sa, sizeof sa), 0);
    return b;
}

static void blackhole_close(struct blackhole *b)
{
    close(b->filler);
    close(b->fd);
}

static int blackhole_port; /* for fn_follower_naming_n2_blackholed */

/* n3 names n2 as the leader at an address that takes no connection. */
static void fn_follower_naming_n2_blackholed(struct stub *s, const struct req *rq, int n,
                                             struct answer *a)
{
    follower_naming_n2_at(blackhole_port, s, rq, n, a);
}

/* The look for the leader meets an address that takes no connection twice:
 * the one n3 names for n2, and the next endpoint of --addr. Each costs a
 * short connect timeout of its own, not the request's: with an hour for a
 * request, waiting that out (or the kernel's SYN retries, two minutes)
 * would not finish. It moves on to n2's endpoint, which says stable. */
static void test_a_look_for_the_leader_moves_past_an_address_that_takes_no_connection(void **state)
{
    (void)state;
    struct blackhole bh = blackhole_open();
    blackhole_port = bh.port;
    leader_stub = stub_start(fn_leads_now);
    struct stub *follower = stub_start(fn_follower_naming_n2_blackholed);
    char addr[96];
    snprintf(addr, sizeof addr, "127.0.0.1:%d,127.0.0.1:%d,127.0.0.1:%d", follower->port, bh.port,
             leader_stub->port);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    struct run r = ctl_at(addr, "--timeout-ms", "3600000", "deployment", "d-7", "--watch", NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    print_message("deployment --watch past 2 addresses that take no connection: %ld ms "
                  "(information, not judged)\n",
                  (long)((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000));
    EXPECT(r.code == 0, r);
    EXPECT(strstr(r.out, "stage stable"), r);
    EXPECT(stub_count(leader_stub, "GET", "/deployments/d-7") > 0, r);
    run_free(&r);
    stub_stop(follower);
    stub_stop(leader_stub);
    blackhole_close(&bh);
}

/* ---- deployments, rollback -------------------------------------------- */

static void test_deployments_prints_a_table_marking_current_and_stable(void **state)
{
    (void)state;
    struct stub *s = stub_start(fn_reverted);
    struct run r = ctl(s, "deployments", NULL);
    EXPECT(r.code == 0, r);
    EXPECT(strstr(r.out, "ID") && strstr(r.out, "VERSION") && strstr(r.out, "STAGE"), r);
    EXPECT(strstr(r.out, "d-8 (current)") && strstr(r.out, "d-1 (stable)"), r);
    EXPECT(strstr(r.out, "1.0.0 (rollback)") && strstr(r.out, "rolling_back"), r);
    EXPECT(strstr(r.out, "2026-11-25T") && strstr(r.out, "n2: health"), r);
    assert_int_equal(h_count_lines(r.out), 4);
    run_free(&r);
    stub_stop(s);
}

static void fn_rollback_409(struct stub *s, const struct req *rq, int n, struct answer *a)
{
    (void)s, (void)n;
    if (strcmp(rq->path, "/rollback") == 0)
        answer_json(a, 409, "{\"error\":\"every node already runs demo 1.0.0\"}");
}

static void test_rollback_refused_409_exits_2_with_the_reason(void **state)
{
    (void)state;
    struct stub *s = stub_start(fn_rollback_409);
    struct run r = ctl(s, "rollback", "--to", "1.0.0", NULL);
    EXPECT(r.code == 2, r);
    EXPECT(strstr(r.err, "every node already runs demo 1.0.0"), r);
    const struct req *rq = stub_find(s, "POST", "/rollback");
    assert_non_null(rq);
    assert_string_equal(rq->body, "{\"to\":\"1.0.0\"}");
    assert_string_equal(rq->auth, "Bearer " TOKEN);
    run_free(&r);
    stub_stop(s);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_deploy_prints_the_plan_and_the_id),
        cmocka_unit_test(test_dry_run_of_a_certified_release_exits_0_and_deploys_nothing),
        cmocka_unit_test(test_dry_run_of_an_uncertified_release_exits_2),
        cmocka_unit_test(test_a_dry_run_counts_the_healing_it_would_run),
        cmocka_unit_test(test_a_manifest_the_node_refuses_prints_the_path_and_exits_2),
        cmocka_unit_test(test_a_local_parse_error_exits_2_without_contacting_the_node),
        cmocka_unit_test(test_a_manifest_from_stdin_is_named_stdin_in_its_error),
        cmocka_unit_test(test_a_directory_given_as_the_manifest_says_why_it_cannot_be_read),
        cmocka_unit_test(test_an_oversized_manifest_is_refused_with_its_size),
        cmocka_unit_test(test_an_uncertified_release_prints_the_failed_links_and_exits_2),
        cmocka_unit_test(test_a_deployment_in_progress_409_exits_2_with_the_reason),
        cmocka_unit_test(test_a_redirect_from_a_follower_is_followed_with_the_token_and_body),
        cmocka_unit_test(test_a_redirect_names_the_leader_as_addr_writes_addresses),
        cmocka_unit_test(test_a_redirected_dry_run_stays_a_dry_run),
        cmocka_unit_test(test_wait_exits_0_when_the_deployment_becomes_stable),
        cmocka_unit_test(test_wait_exits_3_when_the_deployment_fails_and_is_reverted),
        cmocka_unit_test(test_wait_json_prints_one_line_per_change_then_the_final_object),
        cmocka_unit_test(test_wait_exits_9_when_the_timeout_passes),
        cmocka_unit_test(test_wait_exits_1_when_the_deployment_fails_without_a_rollback),
        cmocka_unit_test(test_wait_follows_the_leader_when_leadership_moves_during_the_rollout),
        cmocka_unit_test(test_wait_prints_no_view_of_a_node_that_no_longer_leads),
        cmocka_unit_test(test_wait_stays_with_a_node_that_answers_when_the_leader_is_out_of_reach),
        cmocka_unit_test(test_wait_prints_a_node_line_only_when_what_it_shows_changes),
        cmocka_unit_test(
            test_watch_at_the_leaders_addr_endpoint_sees_the_end_past_a_member_gone_unknown),
        cmocka_unit_test(test_deployment_watch_exits_0_when_it_becomes_stable),
        cmocka_unit_test(test_deployment_shows_a_member_down_now_as_down_not_its_last_health),
        cmocka_unit_test(test_wait_moves_to_another_addr_endpoint_when_the_one_it_polled_is_gone),
        cmocka_unit_test(test_a_look_for_the_leader_moves_past_an_address_that_takes_no_connection),
        cmocka_unit_test(test_deployment_without_an_id_says_where_ids_are_listed),
        cmocka_unit_test(test_deployments_prints_a_table_marking_current_and_stable),
        cmocka_unit_test(test_rollback_refused_409_exits_2_with_the_reason),
    };
    int failed = cmocka_run_group_tests_name("ctl_deploy", tests, group_setup, group_teardown);
    if (failed) {
        fflush(NULL);
        _exit(1);
    }
    return 0;
}
