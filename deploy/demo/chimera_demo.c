/* chimera-demo: a tiny HTTP/1.1 service to rehearse releases with.
 *   GET /health  200 {"status":"ok","version":V}, or 503 {"status":"failing",...}
 *                once --fail-health-after has passed
 *   GET /        200 {"service":"chimera-demo","version":V,"pid":N}
 *   GET /env/NAME 200 {"name":NAME,"value":V}: only for the one variable named
 *                by --echo-env NAME (to show where a release's env came from,
 *                e.g. an env_file); 404 for any other name or when it is unset
 *   anything else 404
 * --crash-after makes it exit 3; SIGTERM (or SIGINT) makes it exit 0. One
 * request per connection (the answer says Connection: close). */
#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uv.h>

#define REQ_MAX 8192

static const char *version = "0.0.0";
static const char *echo_env; /* the one variable GET /env/NAME may show */
static bool health_failing;

struct conn {
    uv_tcp_t tcp;
    uv_write_t wr;
    size_t len;
    bool answered;
    char req[REQ_MAX];
    char resp[512];
};

static void usage(FILE *f)
{
    fprintf(f, "usage: chimera-demo [--port N] [--host ADDR] [--version V]\n"
               "                    [--fail-health-after DURATION] [--crash-after DURATION]\n"
               "  --port N                   listen on port N (default: $PORT, else 8080)\n"
               "  --host ADDR                listen on ADDR (default 127.0.0.1)\n"
               "  --version V                the version shown in answers (default 0.0.0)\n"
               "  --fail-health-after D      GET /health answers 503 after D (e.g. 500ms, 2s)\n"
               "  --crash-after D            exit with status 3 after D\n"
               "  --echo-env NAME            GET /env/NAME answers that variable's value\n"
               "durations: a number with ms, s, m or h (a bare number is milliseconds)\n");
}

__attribute__((format(printf, 1, 2), noreturn)) static void die_usage(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "chimera-demo: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (see --help)\n");
    va_end(ap);
    exit(2);
}

/* "500ms", "2s", "1m", "1h", "250": milliseconds, or -1. */
static long long parse_duration(const char *s)
{
    char *end;
    errno = 0;
    if (!isdigit((unsigned char)s[0]))
        return -1;
    long long v = strtoll(s, &end, 10);
    if (errno)
        return -1;
    long long mul;
    if (*end == '\0' || strcmp(end, "ms") == 0)
        mul = 1;
    else if (strcmp(end, "s") == 0)
        mul = 1000;
    else if (strcmp(end, "m") == 0)
        mul = 60 * 1000;
    else if (strcmp(end, "h") == 0)
        mul = 3600 * 1000;
    else
        return -1;
    if (v > (long long)1e12)
        return -1;
    return v * mul;
}

static void log_line(const char *msg)
{
    fprintf(stderr, "chimera-demo[%d]: %s\n", (int)getpid(), msg);
    fflush(stderr);
}

static void on_closed(uv_handle_t *h)
{
    free(h->data);
}

static void on_written(uv_write_t *w, int status)
{
    (void)status;
    struct conn *c = w->data;
    uv_close((uv_handle_t *)&c->tcp, on_closed);
}

static void answer(struct conn *c, int code, const char *body)
{
    const char *reason = code == 200   ? "OK"
                         : code == 503 ? "Service Unavailable"
                         : code == 500 ? "Internal Server Error"
                                       : "Not Found";
    int n = snprintf(c->resp, sizeof c->resp,
                     "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                     code, reason, strlen(body), body);
    uv_buf_t buf = uv_buf_init(c->resp, (unsigned)n);
    c->answered = true;
    c->wr.data = c;
    uv_read_stop((uv_stream_t *)&c->tcp);
    if (uv_write(&c->wr, (uv_stream_t *)&c->tcp, &buf, 1, on_written) != 0)
        uv_close((uv_handle_t *)&c->tcp, on_closed);
}

/* {"name":N,"value":V} with V escaped for JSON; 500 when it does not fit. */
static void answer_env(struct conn *c, const char *name, const char *value)
{
    char body[320];
    size_t k = (size_t)snprintf(body, sizeof body, "{\"name\":\"%s\",\"value\":\"", name);
    for (const unsigned char *v = (const unsigned char *)value; *v; v++) {
        if (k + 8 >= sizeof body) {
            answer(c, 500, "{\"error\":\"value too long to show\"}");
            return;
        }
        if (*v == '"' || *v == '\\')
            k += (size_t)snprintf(body + k, sizeof body - k, "\\%c", *v);
        else if (*v < 0x20)
            k += (size_t)snprintf(body + k, sizeof body - k, "\\u%04x", *v);
        else
            body[k++] = (char)*v;
    }
    memcpy(body + k, "\"}", 3);
    answer(c, 200, body);
}

static void route(struct conn *c)
{
    char method[16], path[256], body[256];
    if (sscanf(c->req, "%15s %255s", method, path) != 2) {
        answer(c, 404, "{\"error\":\"bad request\"}");
        return;
    }
    char *q = strchr(path, '?');
    if (q)
        *q = '\0';
    bool get = strcmp(method, "GET") == 0;
    if (get && strcmp(path, "/health") == 0) {
        snprintf(body, sizeof body, "{\"status\":\"%s\",\"version\":\"%s\"}",
                 health_failing ? "failing" : "ok", version);
        answer(c, health_failing ? 503 : 200, body);
    } else if (get && echo_env && strncmp(path, "/env/", 5) == 0 &&
               strcmp(path + 5, echo_env) == 0 && getenv(echo_env)) {
        answer_env(c, echo_env, getenv(echo_env));
    } else if (get && strcmp(path, "/") == 0) {
        snprintf(body, sizeof body, "{\"service\":\"chimera-demo\",\"version\":\"%s\",\"pid\":%d}",
                 version, (int)getpid());
        answer(c, 200, body);
    } else {
        answer(c, 404, "{\"error\":\"not found\"}");
    }
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    (void)hint;
    struct conn *c = h->data;
    *buf = uv_buf_init(c->req + c->len, (unsigned)(REQ_MAX - 1 - c->len));
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    (void)buf;
    struct conn *c = s->data;
    if (n < 0) {
        uv_close((uv_handle_t *)s, on_closed);
        return;
    }
    c->len += (size_t)n;
    c->req[c->len] = '\0';
    if (strstr(c->req, "\r\n\r\n") || strstr(c->req, "\n\n"))
        route(c);
    else if (c->len >= REQ_MAX - 1)
        answer(c, 404, "{\"error\":\"request too large\"}");
}

static void on_connection(uv_stream_t *server, int status)
{
    if (status < 0)
        return;
    struct conn *c = calloc(1, sizeof *c);
    if (!c)
        return;
    uv_tcp_init(server->loop, &c->tcp);
    c->tcp.data = c;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0 ||
        uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0)
        uv_close((uv_handle_t *)&c->tcp, on_closed);
}

static void on_fail_health(uv_timer_t *t)
{
    (void)t;
    health_failing = true;
    log_line("health check now failing (--fail-health-after)");
}

static void on_crash(uv_timer_t *t)
{
    (void)t;
    log_line("crashing on purpose (--crash-after): exit 3");
    exit(3);
}

static void on_signal(uv_signal_t *s, int signum)
{
    (void)s;
    char msg[64];
    snprintf(msg, sizeof msg, "%s received: exiting", signum == SIGTERM ? "SIGTERM" : "SIGINT");
    log_line(msg);
    exit(0);
}

int main(int argc, char **argv)
{
    const char *host = "127.0.0.1";
    const char *port_s = getenv("PORT");
    long long fail_after = -1, crash_after = -1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        }
        bool takes = strcmp(a, "--port") == 0 || strcmp(a, "--host") == 0 ||
                     strcmp(a, "--version") == 0 || strcmp(a, "--fail-health-after") == 0 ||
                     strcmp(a, "--crash-after") == 0 || strcmp(a, "--echo-env") == 0;
        if (!takes)
            die_usage("unknown option %s", a);
        if (i + 1 >= argc)
            die_usage("%s needs a value", a);
        const char *v = argv[++i];
        if (strcmp(a, "--port") == 0)
            port_s = v;
        else if (strcmp(a, "--host") == 0)
            host = v;
        else if (strcmp(a, "--version") == 0)
            version = v;
        else if (strcmp(a, "--echo-env") == 0)
            echo_env = v;
        else if (strcmp(a, "--fail-health-after") == 0 && (fail_after = parse_duration(v)) < 0)
            die_usage("bad duration for --fail-health-after: %s", v);
        else if (strcmp(a, "--crash-after") == 0 && (crash_after = parse_duration(v)) < 0)
            die_usage("bad duration for --crash-after: %s", v);
    }
    if (echo_env && (strlen(echo_env) > 64 || strpbrk(echo_env, "\"\\/")))
        die_usage("bad --echo-env %s (a variable name)", echo_env);
    if (strlen(version) > 64 || strpbrk(version, "\"\\"))
        die_usage("bad --version %s (at most 64 characters, no quotes)", version);
    long port = 8080;
    if (port_s) {
        char *end;
        port = strtol(port_s, &end, 10);
        if (!*port_s || *end || port < 0 || port > 65535)
            die_usage("bad port %s", port_s);
    }

    uv_loop_t *loop = uv_default_loop();
    struct sockaddr_storage addr;
    if (uv_ip4_addr(host, (int)port, (struct sockaddr_in *)&addr) != 0 &&
        uv_ip6_addr(host, (int)port, (struct sockaddr_in6 *)&addr) != 0)
        die_usage("bad host %s (an IPv4 or IPv6 address)", host);
    uv_tcp_t server;
    uv_tcp_init(loop, &server);
    int rc = uv_tcp_bind(&server, (const struct sockaddr *)&addr, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&server, 128, on_connection);
    if (rc != 0) {
        fprintf(stderr, "chimera-demo: cannot listen on %s:%ld: %s\n", host, port, uv_strerror(rc));
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    uv_signal_t sigterm, sigint;
    uv_signal_init(loop, &sigterm);
    uv_signal_start(&sigterm, on_signal, SIGTERM);
    uv_signal_init(loop, &sigint);
    uv_signal_start(&sigint, on_signal, SIGINT);
    uv_timer_t fail_timer, crash_timer;
    if (fail_after >= 0) {
        uv_timer_init(loop, &fail_timer);
        uv_timer_start(&fail_timer, on_fail_health, (uint64_t)fail_after, 0);
    }
    if (crash_after >= 0) {
        uv_timer_init(loop, &crash_timer);
        uv_timer_start(&crash_timer, on_crash, (uint64_t)crash_after, 0);
    }
    char msg[160];
    snprintf(msg, sizeof msg, "version %s listening on %s:%ld", version, host, port);
    log_line(msg);
    uv_run(loop, UV_RUN_DEFAULT);
    return 0;
}
