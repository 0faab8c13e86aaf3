/* Integration: HTTP health checks (pipeline/exec/health.h) on a libuv loop,
 * against chimera-demo started through the process driver, a closed port
 * and a server that never answers. Every wait is on a condition with a
 * deadline, never on time. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <limits.h>
#include <libgen.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"
#include "pipeline/exec/driver.h"
#include "pipeline/exec/health.h"

#define DEADLINE_MS 20000
#define MANY 50

struct fixture {
    uv_loop_t loop;
    struct health_checker *hc;
    struct drv_proc *demo;
    bool demo_exited;
    int silent_fd; /* a listening socket nobody accepts on, or -1 */
    char dir[64];
    char log[128];
    char url[96];
};

struct answers {
    int calls;
    struct health_result last;
    int healthy;
};

static void on_result(const struct health_result *r, void *arg)
{
    struct answers *a = arg;
    a->calls++;
    a->last = *r;
    if (r->healthy)
        a->healthy++;
}

static bool run_until(uv_loop_t *loop, bool (*pred)(void *), void *arg)
{
    return h_loop_until(loop, pred, arg, DEADLINE_MS);
}

static void drain(uv_loop_t *loop)
{
    h_loop_drain(loop, DEADLINE_MS);
}

struct count_wait {
    struct answers *a;
    int want;
};

static bool enough_answers(void *arg)
{
    struct count_wait *w = arg;
    return w->a->calls >= w->want;
}

/* One probe, waited for. */
static struct health_result probe(struct fixture *f, const char *url, uint32_t timeout_ms)
{
    struct answers a = {0};
    assert_int_equal(health_probe(f->hc, url, timeout_ms, on_result, &a), 0);
    struct count_wait w = {&a, 1};
    if (!run_until(&f->loop, enough_answers, &w))
        fail_msg("no answer from %s within %d ms", url, DEADLINE_MS);
    assert_int_equal(a.calls, 1);
    return a.last;
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    close(fd);
    return ntohs(sa.sin_port);
}

struct log_wait {
    const char *path;
    const char *needle;
};

static bool log_contains(void *arg)
{
    struct log_wait *w = arg;
    return h_file_contains(w->path, w->needle);
}

static const char *demo_path(void)
{
    static char path[PATH_MAX];
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    assert_true(n > 0);
    self[n] = '\0';
    snprintf(path, sizeof path, "%s/chimera-demo", dirname(self));
    return path;
}

static void on_demo_exit(struct drv_proc *p, int64_t status, int sig, void *arg)
{
    (void)p;
    (void)status;
    (void)sig;
    ((struct fixture *)arg)->demo_exited = true;
}

/* Starts chimera-demo on a free port (handed over in $PORT) and waits until
 * it listens (it says so in its log after listen()); f->url is its /health. */
static void start_demo(struct fixture *f, const char *fail_after)
{
    char port[16], env_port[32];
    int p = free_port();
    snprintf(port, sizeof port, "%d", p);
    snprintf(env_port, sizeof env_port, "PORT=%d", p);
    const char *argv[] = {demo_path(), "--version",
                          "1.2.3",     fail_after ? "--fail-health-after" : NULL,
                          fail_after,  NULL};
    const char *env[] = {env_port, NULL};
    struct drv_spec spec = {.argv = argv, .env = env, .log_path = f->log};
    char err[256];
    if (drv_start(&f->loop, &spec, on_demo_exit, f, &f->demo, err, sizeof err) != 0)
        fail_msg("%s", err);
    snprintf(f->url, sizeof f->url, "http://127.0.0.1:%s/health", port);
    char needle[64];
    snprintf(needle, sizeof needle, "listening on 127.0.0.1:%s", port);
    struct log_wait w = {f->log, needle};
    if (!run_until(&f->loop, log_contains, &w))
        fail_msg("chimera-demo did not come up (see %s)", f->log);
}

/* A server that accepts connections (the kernel does) and never answers. */
static int silent_server(struct fixture *f)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(fd, 128), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    f->silent_fd = fd;
    return ntohs(sa.sin_port);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    if (!f || uv_loop_init(&f->loop) != 0)
        return -1;
    f->silent_fd = -1;
    snprintf(f->dir, sizeof f->dir, "/tmp/chimera-health-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->log, sizeof f->log, "%s/demo.log", f->dir);
    f->hc = health_new(&f->loop);
    *state = f;
    return f->hc ? 0 : -1;
}

static bool demo_gone(void *arg)
{
    return ((struct fixture *)arg)->demo_exited;
}

static void stop_demo(struct fixture *f)
{
    if (!f->demo)
        return;
    drv_stop(f->demo, 5000);
    if (!run_until(&f->loop, demo_gone, f))
        fprintf(stderr, "chimera-demo did not stop\n");
    drv_free(f->demo);
    f->demo = NULL;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    health_free(f->hc);
    stop_demo(f);
    if (f->silent_fd >= 0)
        close(f->silent_fd);
    int rc = h_loop_close(&f->loop, DEADLINE_MS);
    h_remove_tree(f->dir);
    free(f);
    return rc;
}

static void test_probe_of_running_demo_is_healthy(void **state)
{
    struct fixture *f = *state;
    start_demo(f, NULL);
    struct health_result r = probe(f, f->url, 5000);
    assert_true(r.healthy);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.error, "");
    assert_true(r.elapsed_ms >= 0);
    assert_int_equal(health_in_flight(f->hc), 0);
}

static bool saw_503(void *arg)
{
    struct fixture *f = arg;
    struct health_result r = probe(f, f->url, 5000);
    if (r.status == 503) {
        assert_false(r.healthy);
        assert_string_equal(r.error, "HTTP 503");
        return true;
    }
    assert_true(r.healthy);
    return false;
}

static void test_probe_turns_unhealthy_after_fail_health_after(void **state)
{
    struct fixture *f = *state;
    start_demo(f, "1s");
    struct health_result first = probe(f, f->url, 5000);
    if (!first.healthy) {
        /* a slow start: then the demo must already have said it fails */
        struct log_wait w = {f->log, "health check now failing"};
        assert_true(log_contains(&w));
    }
    if (!run_until(&f->loop, saw_503, f))
        fail_msg("the health check never turned 503");
    struct log_wait w = {f->log, "health check now failing"};
    assert_true(log_contains(&w));
}

static void test_closed_port_gives_connection_error(void **state)
{
    struct fixture *f = *state;
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/health", free_port());
    struct health_result r = probe(f, url, 15000);
    assert_false(r.healthy);
    assert_int_equal(r.status, 0);
    if (!strstr(r.error, "onnect"))
        fail_msg("not a connection error: %s", r.error);
    assert_null(strstr(r.error, "timed out"));
}

/* What the operator reads in the node's health detail: the URL probed and
 * that nothing answered there, not curl's "select/poll returned error". */
static void test_a_killed_service_is_named_by_its_url_as_refusing_the_connection(void **state)
{
    struct fixture *f = *state;
    start_demo(f, NULL);
    assert_true(probe(f, f->url, 5000).healthy);
    stop_demo(f);
    struct health_result r = probe(f, f->url, 5000);
    assert_false(r.healthy);
    assert_int_equal(r.status, 0);
    char want[160];
    snprintf(want, sizeof want, "GET %s: connection refused", f->url);
    if (strncmp(r.error, want, strlen(want)) != 0)
        fail_msg("expected '%s...', got '%s'", want, r.error);
}

/* A server that takes one request and resets the connection instead of
 * answering (a service killed with the request in flight). */
static void *reset_one(void *arg)
{
    int fd = accept(*(int *)arg, NULL, NULL);
    char buf[512];
    if (fd >= 0 && recv(fd, buf, sizeof buf, 0) > 0) {
        struct linger l = {.l_onoff = 1, .l_linger = 0};
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    }
    if (fd >= 0)
        close(fd);
    return NULL;
}

static void test_a_connection_reset_before_the_answer_says_so_with_the_url(void **state)
{
    struct fixture *f = *state;
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/health", silent_server(f));
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, reset_one, &f->silent_fd), 0);
    struct health_result r = probe(f, url, 5000);
    pthread_join(t, NULL);
    assert_false(r.healthy);
    assert_int_equal(r.status, 0);
    char want[160];
    snprintf(want, sizeof want, "GET %s: the connection broke before an answer", url);
    if (strncmp(r.error, want, strlen(want)) != 0)
        fail_msg("expected '%s...', got '%s'", want, r.error);
}

/* A long URL leaves the detail room for curl's words all the same: the
 * whole of it reaches the verdict (VERDICT_ERROR_MAX). */
static void test_a_long_url_keeps_curls_words_in_the_detail(void **state)
{
    struct fixture *f = *state;
    char url[160];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/internal/health/ready?verbose=1&probe=chimera",
             silent_server(f));
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, reset_one, &f->silent_fd), 0);
    struct health_result r = probe(f, url, 5000);
    pthread_join(t, NULL);
    assert_false(r.healthy);
    size_t n = strlen(r.error);
    if (!strstr(r.error, url) || !strstr(r.error, " (curl: ") || n == 0 || r.error[n - 1] != ')')
        fail_msg("expected the URL and curl's words in parentheses, got '%s'", r.error);
}

static void test_silent_server_gives_timeout(void **state)
{
    struct fixture *f = *state;
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/health", silent_server(f));
    struct health_result r = probe(f, url, 300);
    assert_false(r.healthy);
    assert_int_equal(r.status, 0);
    if (!strstr(r.error, "timed out"))
        fail_msg("not a timeout: %s", r.error);
}

static void test_fifty_probes_in_flight_all_complete(void **state)
{
    struct fixture *f = *state;
    start_demo(f, NULL);
    struct answers a = {0};
    for (int i = 0; i < MANY; i++)
        assert_int_equal(health_probe(f->hc, f->url, 10000, on_result, &a), 0);
    assert_int_equal(health_in_flight(f->hc), MANY); /* none answered from within */
    assert_int_equal(a.calls, 0);
    struct count_wait w = {&a, MANY};
    if (!run_until(&f->loop, enough_answers, &w))
        fail_msg("%d of %d probes answered", a.calls, MANY);
    assert_int_equal(a.calls, MANY);
    assert_int_equal(a.healthy, MANY);
    assert_int_equal(health_in_flight(f->hc), 0);
}

static void test_free_with_probes_in_flight_cancels_them(void **state)
{
    struct fixture *f = *state;
    start_demo(f, NULL);
    char silent[64];
    snprintf(silent, sizeof silent, "http://127.0.0.1:%d/health", silent_server(f));
    struct answers a = {0};
    for (int i = 0; i < 10; i++) {
        assert_int_equal(health_probe(f->hc, silent, 60000, on_result, &a), 0);
        assert_int_equal(health_probe(f->hc, f->url, 60000, on_result, &a), 0);
    }
    /* once the demo's 10 have answered, the silent server's 10 are
     * connected and waiting for an answer that never comes */
    struct count_wait w = {&a, 10};
    if (!run_until(&f->loop, enough_answers, &w))
        fail_msg("the demo answered %d of 10 probes", a.calls);
    assert_int_equal(a.calls, 10);
    assert_int_equal(a.healthy, 10);
    assert_int_equal(health_in_flight(f->hc), 10);
    for (int i = 0; i < 5; i++) /* and some not even started */
        assert_int_equal(health_probe(f->hc, f->url, 60000, on_result, &a), 0);
    health_free(f->hc);
    f->hc = NULL;
    stop_demo(f);
    drain(&f->loop);               /* returns once every handle is closed */
    assert_int_equal(a.calls, 10); /* no callback after health_free */
}

struct self_free {
    struct fixture *f;
    int calls;
};

static void free_from_callback(const struct health_result *r, void *arg)
{
    (void)r;
    struct self_free *s = arg;
    s->calls++;
    health_free(s->f->hc);
    s->f->hc = NULL;
}

static bool called_once(void *arg)
{
    return ((struct self_free *)arg)->calls > 0;
}

static void test_free_from_a_callback_drops_the_rest(void **state)
{
    struct fixture *f = *state;
    start_demo(f, NULL);
    struct self_free s = {f, 0};
    for (int i = 0; i < 10; i++)
        assert_int_equal(health_probe(f->hc, f->url, 10000, free_from_callback, &s), 0);
    assert_true(run_until(&f->loop, called_once, &s));
    stop_demo(f);
    drain(&f->loop);
    assert_int_equal(s.calls, 1);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_probe_of_running_demo_is_healthy),
        T(test_probe_turns_unhealthy_after_fail_health_after),
        T(test_closed_port_gives_connection_error),
        T(test_a_long_url_keeps_curls_words_in_the_detail),
        T(test_a_killed_service_is_named_by_its_url_as_refusing_the_connection),
        T(test_a_connection_reset_before_the_answer_says_so_with_the_url),
        T(test_silent_server_gives_timeout),
        T(test_fifty_probes_in_flight_all_complete),
        T(test_free_with_probes_in_flight_cancels_them),
        T(test_free_from_a_callback_drops_the_rest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
