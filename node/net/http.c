/* The HTTP listener: the listening socket, accepting (by hand, to back off
 * when descriptors run out), the connection cap and its refusals, the limit
 * notices, and the server's start and stop. One connection's life is in
 * http_conn.c, answers in http_answer.c. */
#include "node/net/http_conn.h"
#include "pipeline/core/manifest.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define ACCEPT_BATCH 64

void http_server_release(struct http_server *s)
{
    if (--s->handles == 0)
        free(s);
}

static void on_handle_closed(uv_handle_t *h)
{
    http_server_release(h->data);
}

static void on_reporter(uv_timer_t *t);

/* Whether r has something to report now: at most once an interval; what is
 * held back goes into the next report, which the reporter timer brings. */
static bool due(struct http_server *s, struct limit_report *r)
{
    uint64_t now = uv_now(s->loop);
    if (r->count == r->reported)
        return false;
    if (r->used && now - r->last_ms < HTTP_NOTICE_INTERVAL_MS) {
        if (!uv_is_active((uv_handle_t *)&s->reporter))
            uv_timer_start(&s->reporter, on_reporter, HTTP_NOTICE_INTERVAL_MS - (now - r->last_ms),
                           0);
        return false;
    }
    r->last_ms = now;
    r->used = true;
    return true;
}

static void report_all(struct http_server *s)
{
    char msg[320];
    if (due(s, &s->limited)) {
        snprintf(
            msg, sizeof(msg),
            "%llu HTTP connection(s) turned away at the cap with 503 (%llu open, at most %llu; "
            "%llu since the start)",
            (unsigned long long)(s->limited.count - s->limited.reported),
            (unsigned long long)s->stats.open, (unsigned long long)s->stats.max_open,
            (unsigned long long)s->limited.count);
        s->limited.reported = s->limited.count;
        if (s->notice)
            s->notice(s->notice_ctx, "http.connection_limit", msg);
    }
    if (due(s, &s->accept_failed)) {
        char most[32];
        snprintf(msg, sizeof(msg),
                 "accepting HTTP connections failed %llu time(s): %s; backing off (at most %s) "
                 "until descriptors free up (%llu open; %llu since the start)",
                 (unsigned long long)(s->accept_failed.count - s->accept_failed.reported),
                 strerror(s->accept_errno),
                 manifest_duration_text(HTTP_ACCEPT_BACKOFF_MAX_MS, most, sizeof most),
                 (unsigned long long)s->stats.open, (unsigned long long)s->accept_failed.count);
        s->accept_failed.reported = s->accept_failed.count;
        if (s->notice)
            s->notice(s->notice_ctx, "http.accept_failed", msg);
    }
}

static void on_reporter(uv_timer_t *t)
{
    report_all(t->data);
}

/* ---- accepting ---- */

static void on_listen(uv_poll_t *h, int status, int events);

static void on_backoff(uv_timer_t *t)
{
    struct http_server *s = t->data;
    if (!s->stopping)
        uv_poll_start(&s->poll, UV_READABLE, on_listen);
}

/* accept() failed for want of descriptors (or memory): stop polling the
 * listener, which would report it readable at once, and try again later. */
static void accept_failed(struct http_server *s, int err)
{
    s->stats.accept_errors++;
    s->accept_failed.count++;
    s->accept_errno = err;
    s->backoff_ms = s->backoff_ms ? 2 * s->backoff_ms : HTTP_ACCEPT_BACKOFF_MIN_MS;
    if (s->backoff_ms > HTTP_ACCEPT_BACKOFF_MAX_MS)
        s->backoff_ms = HTTP_ACCEPT_BACKOFF_MAX_MS;
    uv_poll_stop(&s->poll);
    uv_timer_start(&s->backoff, on_backoff, s->backoff_ms, 0);
    report_all(s);
}

/* One over the cap with max_refusing refusals already lingering: the
 * 503 if the socket takes it now (what the client sent is dropped first,
 * so that closing sends no reset over the answer), and closed at once. */
static void refuse_at_once(struct http_server *s, int fd, const char *msg)
{
    for (int i = 0; i < 4 && recv(fd, s->rbuf, sizeof(s->rbuf), MSG_DONTWAIT) > 0; i++) {
    }
    char body[400], head[768];
    int bl = http_error_body(body, sizeof(body), msg);
    int hl = http_answer_head(head, sizeof(head),
                              &(struct http_answer){.status = 503,
                                                    .ctype = "application/json",
                                                    .len = (size_t)bl,
                                                    .conn_hdr = "Connection: close\r\n",
                                                    .extra = ""});
    if (hl > 0 && (size_t)hl < sizeof(head)) {
        struct iovec iov[2] = {{head, (size_t)hl}, {body, (size_t)bl}};
        struct msghdr m = {.msg_iov = iov, .msg_iovlen = 2};
        (void)sendmsg(fd, &m, MSG_DONTWAIT | MSG_NOSIGNAL); /* best effort */
    }
    close(fd);
}

static void adopt(struct http_server *s, int fd)
{
    if (s->stats.open >= s->stats.max_open) {
        s->stats.refused++;
        s->limited.count++;
        char msg[160];
        snprintf(msg, sizeof(msg), "too many HTTP connections (at most %llu); try again later",
                 (unsigned long long)s->stats.max_open);
        struct conn *c = s->refusing < s->max_refusing ? http_conn_new(s, fd) : NULL;
        if (c) {
            c->refusing = true;
            s->refusing++;
            http_conn_refuse(c, 503, msg);
        } else if (s->refusing >= s->max_refusing) {
            refuse_at_once(s, fd, msg);
        }
        report_all(s);
        return;
    }
    struct conn *c = http_conn_new(s, fd);
    if (!c)
        return;
    c->counted = true;
    s->stats.open++;
    http_conn_serve(c);
}

static void on_listen(uv_poll_t *h, int status, int events)
{
    (void)events;
    struct http_server *s = h->data;
    if (status < 0) {
        accept_failed(s, -status);
        return;
    }
    for (int i = 0; i < ACCEPT_BATCH && !s->stopping; i++) {
        int fd = accept4(s->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            s->backoff_ms = 0;
            adopt(s, fd);
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            return;
        } else if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO || errno == EPERM) {
            continue; /* that connection is gone; the next may be fine */
        } else {
            accept_failed(s, errno);
            return;
        }
    }
}

/* The listening socket for hostport ("host:port", "[v6]:port", ":port"). */
static int listen_on(struct http_server *s, const char *hostport, char *err, size_t errlen)
{
    const char *colon = strrchr(hostport, ':');
    char host[256], port[16];
    size_t hl = colon ? (size_t)(colon - hostport) : 0;
    if (!colon || hl >= sizeof(host) || !colon[1] || strlen(colon + 1) >= sizeof(port) ||
        strspn(colon + 1, "0123456789") != strlen(colon + 1)) {
        snprintf(err, errlen, "--http: \"%s\" is not a valid host:port", hostport);
        return UV_EINVAL;
    }
    memcpy(host, hostport, hl);
    host[hl] = '\0';
    snprintf(port, sizeof(port), "%s", colon + 1);
    char *h = host;
    if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {
        host[hl - 1] = '\0';
        h = host + 1;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    int gai = getaddrinfo(*h ? h : NULL, port, &hints, &res);
    if (gai != 0) {
        snprintf(err, errlen, "--http: cannot resolve \"%s\": %s", hostport, gai_strerror(gai));
        return UV_EINVAL;
    }
    int fd = -1, last = EADDRNOTAVAIL;
    for (struct addrinfo *a = res; a && fd < 0; a = a->ai_next) {
        fd = socket(a->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        int one = 1;
        if (fd >= 0 && (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
                        bind(fd, a->ai_addr, a->ai_addrlen) != 0 || listen(fd, 511) != 0)) {
            last = errno;
            close(fd);
            fd = -1;
        } else if (fd < 0) {
            last = errno;
        }
    }
    freeaddrinfo(res);
    if (fd < 0) {
        if (last == EADDRINUSE)
            snprintf(err, errlen, "--http: %s is already in use; pick a free port", hostport);
        else
            snprintf(err, errlen, "--http: cannot serve on %s: %s", hostport, strerror(last));
        return -last;
    }
    s->fd = fd;
    return 0;
}

/* A hidden override for tests (see http.h), else dflt. */
static uint64_t tunable(const char *name, uint64_t dflt)
{
    const char *v = getenv(name);
    char *end;
    unsigned long long n = v ? strtoull(v, &end, 10) : 0;
    return v && *v && !*end && n > 0 ? n : dflt;
}

/* HTTP_MAX_CONNS, or half the open files limit when that is lower. */
static uint64_t conn_cap(void)
{
    uint64_t cap = HTTP_MAX_CONNS;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur / 2 < cap)
        cap = rl.rlim_cur / 2 > 0 ? rl.rlim_cur / 2 : 1;
    return tunable("CHIMERAD_TEST_HTTP_MAX_CONNS", cap);
}

int http_start(struct http_server **out, uv_loop_t *loop, const char *hostport,
               http_handler_fn handler, void *ctx, char *err, size_t errlen)
{
    struct http_server *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(err, errlen, "http: out of memory");
        return UV_ENOMEM;
    }
    int rv = listen_on(s, hostport, err, errlen);
    if (rv != 0) {
        free(s);
        return rv;
    }
    s->loop = loop;
    s->handler = handler;
    s->ctx = ctx;
    s->header_ms = tunable("CHIMERAD_TEST_HTTP_HEADER_TIMEOUT_MS", HTTP_HEADER_TIMEOUT_MS);
    s->body_ms = tunable("CHIMERAD_TEST_HTTP_BODY_TIMEOUT_MS", HTTP_BODY_TIMEOUT_MS);
    s->idle_ms = tunable("CHIMERAD_TEST_HTTP_IDLE_TIMEOUT_MS", HTTP_IDLE_TIMEOUT_MS);
    s->stats.max_open = conn_cap();
    s->stats.max_streams = HTTP_MAX_STREAMS;
    s->max_queued = tunable("CHIMERAD_TEST_HTTP_STREAM_MAX_QUEUED", HTTP_STREAM_MAX_QUEUED);
    s->stream_sndbuf = (int)tunable("CHIMERAD_TEST_HTTP_STREAM_SNDBUF", 0);
    /* a quarter of the cap at most: the cap leaves half the descriptors to
     * the rest of the node, and refusals must not take them */
    s->max_refusing = s->stats.max_open / 4 < HTTP_MAX_REFUSING
                          ? (unsigned)(s->stats.max_open / 4 > 0 ? s->stats.max_open / 4 : 1)
                          : HTTP_MAX_REFUSING;
    uv_poll_init(loop, &s->poll, s->fd);
    uv_timer_init(loop, &s->backoff);
    uv_timer_init(loop, &s->reporter);
    s->poll.data = s->backoff.data = s->reporter.data = s;
    s->handles = 3;
    http_stream_init(s);
    uv_poll_start(&s->poll, UV_READABLE, on_listen);
    *out = s;
    return 0;
}

void http_set_admin_token(struct http_server *s, const char *token)
{
    snprintf(s->token, sizeof(s->token), "%s", token ? token : "");
}

void http_set_cors_origins(struct http_server *s, const char *list)
{
    snprintf(s->cors, sizeof(s->cors), "%s", list ? list : "");
}

void http_set_notice(struct http_server *s, http_notice_fn fn, void *ctx)
{
    s->notice = fn;
    s->notice_ctx = ctx;
}

const struct http_stats *http_stats(const struct http_server *s)
{
    return &s->stats;
}

void http_stop(struct http_server *s)
{
    s->stopping = true;
    uv_close((uv_handle_t *)&s->poll, on_handle_closed);
    close(s->fd); /* uv_close stopped polling it */
    uv_close((uv_handle_t *)&s->backoff, on_handle_closed);
    uv_close((uv_handle_t *)&s->reporter, on_handle_closed);
    http_stream_stop(s);
    while (s->conns)
        http_conn_close(s->conns);
}
