/* A stub of chimerad's HTTP API for the chimeractl integration tests: a
 * thread with a listening socket that answers canned JSON per request and
 * records every request (method, path, token, body). Scripted sequences
 * advance per request, never per unit of time. Include after cmocka.h. */
#ifndef CHIMERA_CTL_STUB_H
#define CHIMERA_CTL_STUB_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_REQS 256

struct req {
    char method[8];
    char path[256];
    char auth[256];
    char *body;
};

struct answer {
    int status;
    char location[256];
    char body[8192];
};

struct stub;
/* Fills a from the request; n is how many requests for this method and
 * path came before this one. */
typedef void (*stub_fn)(struct stub *s, const struct req *rq, int n, struct answer *a);

struct stub {
    int fd, port;
    pthread_t thread;
    atomic_bool stop;
    stub_fn fn;
    pthread_mutex_t mu;
    struct req reqs[MAX_REQS];
    int nreqs;
    struct answer ans; /* the stub thread's own */
    char buf[512 * 1024];
};

static inline void answer_json(struct answer *a, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static inline void answer_json(struct answer *a, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    a->status = status;
    vsnprintf(a->body, sizeof a->body, fmt, ap);
    va_end(ap);
}

static inline void write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        p += w;
        n -= (size_t)w;
    }
}

/* Reads one request (headers, then Content-Length bytes of body). */
static inline bool read_request(struct stub *s, int fd, struct req *rq)
{
    char *buf = s->buf;
    const size_t cap = sizeof s->buf;
    size_t len = 0;
    char *end = NULL;
    while (!end && len < cap - 1) {
        ssize_t got = read(fd, buf + len, cap - 1 - len);
        if (got <= 0)
            return false;
        len += (size_t)got;
        buf[len] = '\0';
        end = strstr(buf, "\r\n\r\n");
    }
    if (!end)
        return false;
    size_t head = (size_t)(end + 4 - buf), clen = 0;
    if (sscanf(buf, "%7s %255s", rq->method, rq->path) != 2)
        return false;
    for (char *line = strstr(buf, "\r\n"); line && line < end; line = strstr(line + 2, "\r\n")) {
        if (strncasecmp(line + 2, "Content-Length:", 15) == 0)
            clen = strtoul(line + 17, NULL, 10);
        if (strncasecmp(line + 2, "Authorization:", 14) == 0)
            sscanf(line + 16, " %255[^\r]", rq->auth);
    }
    while (len - head < clen && len < cap - 1) {
        ssize_t got = read(fd, buf + len, cap - 1 - len);
        if (got <= 0)
            return false;
        len += (size_t)got;
    }
    rq->body = strndup(buf + head, clen);
    return rq->body != NULL;
}

static inline void *stub_main(void *arg)
{
    struct stub *s = arg;
    while (!atomic_load(&s->stop)) {
        struct pollfd p = {.fd = s->fd, .events = POLLIN};
        if (poll(&p, 1, 50) <= 0)
            continue;
        int fd = accept(s->fd, NULL, NULL);
        if (fd < 0)
            continue;
        struct req rq = {0};
        if (!read_request(s, fd, &rq)) {
            close(fd);
            free(rq.body);
            continue;
        }
        pthread_mutex_lock(&s->mu);
        int n = 0;
        for (int i = 0; i < s->nreqs; i++)
            n += strcmp(s->reqs[i].method, rq.method) == 0 && strcmp(s->reqs[i].path, rq.path) == 0;
        struct answer *ap = &s->ans;
        memset(ap, 0, sizeof *ap);
        ap->status = 404;
        snprintf(ap->body, sizeof ap->body, "{\"error\":\"no such path in the stub\"}");
        if (s->fn)
            s->fn(s, &rq, n, ap);
        if (s->nreqs < MAX_REQS)
            s->reqs[s->nreqs++] = rq;
        else
            free(rq.body);
        pthread_mutex_unlock(&s->mu);
        if (ap->status < 0) { /* a node gone: the connection closes unanswered */
            close(fd);
            continue;
        }
        char head[1024];
        int hl = snprintf(head, sizeof head,
                          "HTTP/1.1 %d Stub\r\nContent-Type: application/json\r\n"
                          "Content-Length: %zu\r\nConnection: close\r\n%s%s%s\r\n",
                          ap->status, strlen(ap->body), ap->location[0] ? "Location: " : "",
                          ap->location, ap->location[0] ? "\r\n" : "");
        write_all(fd, head, (size_t)hl);
        write_all(fd, ap->body, strlen(ap->body));
        close(fd);
    }
    return NULL;
}

static inline struct stub *stub_start(stub_fn fn)
{
    struct stub *s = calloc(1, sizeof *s);
    assert_non_null(s);
    s->fn = fn;
    pthread_mutex_init(&s->mu, NULL);
    s->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(s->fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof sa;
    assert_int_equal(bind(s->fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(s->fd, 16), 0);
    assert_int_equal(getsockname(s->fd, (struct sockaddr *)&sa, &sl), 0);
    s->port = ntohs(sa.sin_port);
    assert_int_equal(pthread_create(&s->thread, NULL, stub_main, s), 0);
    return s;
}

static inline void stub_stop(struct stub *s)
{
    atomic_store(&s->stop, true);
    pthread_join(s->thread, NULL);
    close(s->fd);
    for (int i = 0; i < s->nreqs; i++)
        free(s->reqs[i].body);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

/* How many requests with this method and path (path NULL: any) came. */
static inline int stub_count(struct stub *s, const char *method, const char *path)
{
    pthread_mutex_lock(&s->mu);
    int n = 0;
    for (int i = 0; i < s->nreqs; i++)
        n +=
            strcmp(s->reqs[i].method, method) == 0 && (!path || strcmp(s->reqs[i].path, path) == 0);
    pthread_mutex_unlock(&s->mu);
    return n;
}

/* The first request with this method and path; NULL if none. Valid until
 * stub_stop (the stub only appends). */
static inline const struct req *stub_find(struct stub *s, const char *method, const char *path)
{
    const struct req *found = NULL;
    pthread_mutex_lock(&s->mu);
    for (int i = 0; i < s->nreqs && !found; i++)
        if (strcmp(s->reqs[i].method, method) == 0 && strcmp(s->reqs[i].path, path) == 0)
            found = &s->reqs[i];
    pthread_mutex_unlock(&s->mu);
    return found;
}

#endif
