/* Test harness: keep-alive HTTP writers, many per thread (harness_writers.h).
 * A minimal HTTP/1.1 client for the benchmarks' own requests: it reads a
 * status line, the headers it needs (Content-Length, Transfer-Encoding:
 * chunked, Connection: close) and the body they announce; nothing else (no
 * chunk trailers, no 1xx). etcd's JSON gateway (Go's net/http) chunks any
 * answer over 2 KiB, such as a txn of 100 puts. */
#include "harness_writers.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define ANSWER_MAX 16384
#define REQUEST_TIMEOUT_NS 10000000000ull /* as the libcurl writers' CURLOPT_TIMEOUT_MS */
#define HEAD_MAX 1024

struct wconn {
    const struct h_writers_spec *spec;
    struct h_writer_stats *st;
    int id, fd;
    uint64_t seq, t0;
    uint64_t resume_ns; /* after a failure: no request before then */
    bool busy, timed;
    char *req; /* room for a head and the largest body */
    char *out; /* the request in flight: its head, then its body */
    size_t req_len;
    char ans[ANSWER_MAX];
    size_t got;
};

struct wthread {
    const struct h_writers_spec *spec;
    struct wconn *w;
    int n;
    pthread_barrier_t *start;
    atomic_bool *stop;
    bool setup_failed;
    uint64_t last_ns; /* when its last answer came */
};

static int dial(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    if (fd >= 0 && (connect(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
                    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0)) {
        close(fd);
        fd = -1;
    }
    return fd;
}

/* Sends all of buf; the socket may be non-blocking (a large body that the
 * send buffer does not take at once waits for room). */
static bool send_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
        if (n > 0) {
            buf += n;
            len -= (size_t)n;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            struct pollfd p = {.fd = fd, .events = POLLOUT};
            if (poll(&p, 1, 10000) <= 0)
                return false;
        } else if (n < 0 && errno != EINTR) {
            return false;
        }
    }
    return true;
}

/* The request seq of w: head and body in one buffer. */
static void build(struct wconn *w)
{
    const struct h_writers_spec *s = w->spec;
    char *body = w->req + HEAD_MAX;
    size_t blen = s->body(body, s->max_body + 1, w->id, w->seq, s->arg);
    char head[HEAD_MAX];
    int hl = snprintf(head, sizeof head,
                      "POST %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Type: %s\r\n"
                      "%s%s%sContent-Length: %zu\r\n\r\n",
                      s->path, s->port, s->content_type ? s->content_type : "application/json",
                      s->token ? "Authorization: Bearer " : "", s->token ? s->token : "",
                      s->token ? "\r\n" : "", blen);
    if (hl < 0 || hl >= HEAD_MAX)
        abort(); /* a path or token of a kilobyte: not a benchmark's */
    /* the head goes right before the body: one send */
    w->out = body - hl;
    memcpy(w->out, head, (size_t)hl);
    w->req_len = (size_t)hl + blen;
}

/* The length of the chunked body at body (avail bytes, NUL-terminated
 * there): 0 while it is not all there, SIZE_MAX when it is not one we read. */
static size_t chunked_len(const char *body, size_t avail)
{
    size_t at = 0;
    for (;;) {
        const char *line = body + at, *crlf = strstr(line, "\r\n");
        if (!crlf)
            return 0;
        char *hex_end;
        unsigned long long n = strtoull(line, &hex_end, 16);
        if (hex_end == line || n >= ANSWER_MAX)
            return SIZE_MAX;
        at = (size_t)(crlf + 2 - body);
        if (n == 0) /* the last chunk, then no trailer: an empty line */
            return at + 2 > avail ? 0 : strncmp(body + at, "\r\n", 2) == 0 ? at + 2 : SIZE_MAX;
        at += (size_t)n + 2;
        if (at > avail)
            return 0;
        if (strncmp(body + at - 2, "\r\n", 2) != 0) /* the chunk's data ends its line */
            return SIZE_MAX;
    }
}

/* How far w's answer is: 0 not whole yet, the status once it is (*close:
 * the node ends the connection after it), -1 not an answer we read. */
static int parse(struct wconn *w, bool *close_after)
{
    w->ans[w->got] = '\0';
    char *end = strstr(w->ans, "\r\n\r\n");
    if (!end)
        return w->got >= ANSWER_MAX - 1 ? -1 : 0;
    if (strncmp(w->ans, "HTTP/1.", 7) != 0)
        return -1;
    int status = atoi(w->ans + 9);
    size_t len = 0;
    bool chunked = false;
    *close_after = false;
    for (char *line = strstr(w->ans, "\r\n") + 2; line < end; line = strstr(line, "\r\n") + 2) {
        if (strncasecmp(line, "Content-Length:", 15) == 0)
            len = strtoull(line + 15, NULL, 10);
        else if (strncasecmp(line, "Transfer-Encoding:", 18) == 0)
            chunked = strncasecmp(line + 18 + strspn(line + 18, " \t"), "chunked", 7) == 0;
        else if (strncasecmp(line, "Connection: close", 17) == 0)
            *close_after = true;
    }
    size_t head = (size_t)(end + 4 - w->ans);
    if (chunked) {
        size_t body = chunked_len(end + 4, w->got - head);
        if (body == SIZE_MAX || (body == 0 && w->got >= ANSWER_MAX - 1))
            return -1;
        return body ? status : 0;
    }
    size_t whole = head + len;
    if (whole >= ANSWER_MAX)
        return -1;
    return w->got >= whole ? status : 0;
}

/* After a failure, as a client told "retry shortly" would, rather than spin. */
static void back_off(struct wconn *w)
{
    w->resume_ns = h_now_ns() + (uint64_t)w->spec->backoff_ms * 1000000u;
}

static bool may_send(const struct wconn *w, bool stopping, uint64_t now)
{
    return !stopping && !w->busy && w->fd >= 0 && now >= w->resume_ns;
}

static void send_next(struct wconn *w)
{
    w->seq++;
    build(w);
    w->got = 0;
    w->busy = true;
    w->t0 = h_now_ns();
    if (!send_all(w->fd, w->out, w->req_len)) {
        w->st->errors += w->timed;
        w->st->last_status = -errno;
        w->busy = false;
        back_off(w);
    }
}

/* A blocking request on a fresh connection: the untimed first one. */
static bool first_request(struct wconn *w)
{
    w->fd = dial(w->spec->port);
    if (w->fd < 0)
        return false;
    send_next(w);
    bool close_after;
    int st = 0;
    while (w->busy && st == 0) {
        ssize_t n = recv(w->fd, w->ans + w->got, ANSWER_MAX - 1 - w->got, 0);
        if (n <= 0)
            return false;
        w->got += (size_t)n;
        st = parse(w, &close_after);
    }
    w->busy = false;
    return st > 0 && !close_after;
}

/* w's connection failed or ended: a new one (counted). */
static void redial(struct wconn *w, int ep)
{
    epoll_ctl(ep, EPOLL_CTL_DEL, w->fd, NULL);
    close(w->fd);
    w->busy = false;
    w->fd = dial(w->spec->port);
    if (w->fd < 0)
        return;
    w->st->connects++;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = w};
    epoll_ctl(ep, EPOLL_CTL_ADD, w->fd, &ev);
}

static void failed(struct wconn *w, int ep, long why)
{
    w->st->errors++;
    w->st->last_status = why;
    back_off(w);
    redial(w, ep);
}

/* Reads what came for w; an answer done starts the next request. */
static void readable(struct wthread *t, struct wconn *w, int ep, bool stopping)
{
    for (;;) {
        ssize_t n = recv(w->fd, w->ans + w->got, ANSWER_MAX - 1 - w->got, MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n <= 0 || !w->busy) {
            failed(w, ep, n < 0 ? -errno : -ECONNRESET);
            break;
        }
        w->got += (size_t)n;
        bool close_after;
        int st = parse(w, &close_after);
        if (st == 0)
            continue;
        if (st < 0) { /* an answer this client cannot read: what follows it is not an answer */
            w->busy = false;
            failed(w, ep, -EPROTO);
            break;
        }
        uint64_t now = h_now_ns();
        t->last_ns = now;
        w->busy = false;
        if (st == w->spec->status) {
            w->st->ok++;
            h_samples_add(&w->st->lat, now - w->t0);
        } else {
            w->st->errors++; /* an answer all the same: the connection goes on */
            w->st->last_status = st;
            back_off(w);
        }
        if (close_after)
            redial(w, ep);
        break;
    }
    if (may_send(w, stopping, h_now_ns()))
        send_next(w);
}

static void *run_thread(void *arg)
{
    struct wthread *t = arg;
    int ep = epoll_create1(EPOLL_CLOEXEC);
    for (int k = 0; k < t->n; k++) {
        struct wconn *w = &t->w[k];
        if (ep < 0 || !first_request(w))
            t->setup_failed = true;
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = w};
        if (w->fd >= 0)
            epoll_ctl(ep, EPOLL_CTL_ADD, w->fd, &ev);
        w->timed = true;
    }
    pthread_barrier_wait(t->start);
    for (int k = 0; k < t->n && !t->setup_failed; k++)
        send_next(&t->w[k]);
    struct epoll_event evs[64];
    while (!t->setup_failed) {
        bool stopping = atomic_load_explicit(t->stop, memory_order_relaxed);
        int busy = 0, wait_ms = 100;
        uint64_t now = h_now_ns();
        for (int k = 0; k < t->n; k++) {
            struct wconn *w = &t->w[k];
            if (w->busy && now - w->t0 > REQUEST_TIMEOUT_NS)
                failed(w, ep, -ETIMEDOUT);
            if (may_send(w, stopping, now))
                send_next(w);
            else if (!stopping && !w->busy && w->fd >= 0 && w->resume_ns > now &&
                     (int)((w->resume_ns - now) / 1000000u) + 1 < wait_ms)
                wait_ms = (int)((w->resume_ns - now) / 1000000u) + 1; /* its backoff ends */
            busy += w->busy;
        }
        if (stopping && busy == 0)
            break;
        int n = epoll_wait(ep, evs, 64, wait_ms);
        for (int i = 0; i < n; i++)
            readable(t, evs[i].data.ptr, ep, stopping);
    }
    if (ep >= 0)
        close(ep);
    return NULL;
}

int h_writers_run(const struct h_writers_spec *spec, int seconds, struct h_writer_stats *out,
                  double *secs)
{
    int nt = spec->threads < 1 ? 1 : spec->threads > spec->writers ? spec->writers : spec->threads;
    struct wconn *w = calloc((size_t)spec->writers, sizeof *w);
    struct wthread *t = calloc((size_t)nt, sizeof *t);
    pthread_t *th = calloc((size_t)nt, sizeof *th);
    atomic_bool stop = false;
    pthread_barrier_t start;
    bool ok = w && t && th && pthread_barrier_init(&start, NULL, (unsigned)nt + 1) == 0;
    for (int k = 0; ok && k < spec->writers; k++) {
        out[k] = (struct h_writer_stats){0};
        w[k] = (struct wconn){.spec = spec, .st = &out[k], .id = k, .fd = -1};
        ok = (w[k].req = malloc(HEAD_MAX + spec->max_body + 1)) != NULL;
    }
    if (ok) {
        for (int i = 0, at = 0; i < nt; i++) {
            int n = spec->writers / nt + (i < spec->writers % nt);
            t[i] =
                (struct wthread){.spec = spec, .w = w + at, .n = n, .start = &start, .stop = &stop};
            at += n;
        }
        h_bench_spawn("h_writers_run", th, nt, run_thread, t, sizeof *t);
        pthread_barrier_wait(&start);
        uint64_t t0 = h_now_ns();
        h_bench_sleep(seconds);
        atomic_store(&stop, true);
        uint64_t last = t0;
        for (int i = 0; i < nt; i++) {
            pthread_join(th[i], NULL);
            ok &= !t[i].setup_failed;
            if (t[i].last_ns > last)
                last = t[i].last_ns;
        }
        pthread_barrier_destroy(&start);
        *secs = (double)(last - t0) / 1e9;
    }
    for (int k = 0; w && k < spec->writers; k++) {
        if (w[k].fd >= 0)
            close(w[k].fd);
        free(w[k].req);
    }
    free(w);
    free(t);
    free(th);
    return ok ? 0 : -1;
}
