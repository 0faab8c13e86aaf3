/* For the tests of the HTTP listener's streams and headers: raw HTTP over
 * a socket of the test's own (its receive buffer, when it reads, and every
 * header line of an answer), and the reading of a Server-Sent Events
 * stream. Every read waits on a condition with a deadline. */
#ifndef CHIMERA_TEST_SSE_SUPPORT_H
#define CHIMERA_TEST_SSE_SUPPORT_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"

/* A connection to node i's HTTP port; rcvbuf > 0 shrinks its receive
 * buffer first (a consumer that will stop reading). */
static inline int sse_connect(const struct h_cluster *c, int i, int rcvbuf)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    if (rcvbuf > 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)c->nodes[i].http_port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0)
        fail_msg("connect to port %d: %s", c->nodes[i].http_port, strerror(errno));
    return fd;
}

/* What was read from a connection so far. */
struct sse {
    int fd;
    char *text;
    size_t len, cap;
    bool closed; /* the node closed its end */
};

/* Sends head (a request without body) on a new connection to node i. */
static inline void sse_open_raw(struct sse *s, const struct h_cluster *c, int i, int rcvbuf,
                                const char *head)
{
    memset(s, 0, sizeof(*s));
    s->fd = sse_connect(c, i, rcvbuf);
    size_t n = strlen(head);
    assert_int_equal(send(s->fd, head, n, MSG_NOSIGNAL), (ssize_t)n);
}

/* GET path (with more header lines, "" none) as a stream's client sends it. */
static inline void sse_open(struct sse *s, const struct h_cluster *c, int i, const char *path,
                            const char *headers)
{
    char head[1024];
    snprintf(head, sizeof(head),
             "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n%s\r\n", path,
             headers);
    sse_open_raw(s, c, i, 0, head);
}

/* Reads what is there, waiting up to wait_ms for something. */
static inline void sse_pump(struct sse *s, int wait_ms)
{
    struct pollfd p = {.fd = s->fd, .events = POLLIN};
    if (s->closed || poll(&p, 1, wait_ms) <= 0)
        return;
    if (s->cap - s->len < 4097) {
        s->cap = s->cap ? 2 * s->cap : 16384;
        s->text = realloc(s->text, s->cap);
        assert_non_null(s->text);
    }
    ssize_t r = recv(s->fd, s->text + s->len, 4096, MSG_DONTWAIT);
    if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR))
        s->closed = true;
    if (r > 0)
        s->len += (size_t)r;
    s->text[s->len] = '\0';
}

/* Reads until the text holds needle (true), the node closes, or timeout_ms
 * pass. */
static inline bool sse_wait_for(struct sse *s, const char *needle, int timeout_ms)
{
    uint64_t end = h_now_ns() + (uint64_t)timeout_ms * 1000000u;
    while (!(s->text && strstr(s->text, needle))) {
        if (s->closed || h_now_ns() >= end)
            return false;
        sse_pump(s, 20);
    }
    return true;
}

/* Reads until the node closes (true) or timeout_ms pass. */
static inline bool sse_wait_closed(struct sse *s, int timeout_ms)
{
    uint64_t end = h_now_ns() + (uint64_t)timeout_ms * 1000000u;
    while (!s->closed && h_now_ns() < end)
        sse_pump(s, 20);
    return s->closed;
}

static inline void sse_close(struct sse *s)
{
    if (s->fd >= 0)
        close(s->fd);
    free(s->text);
    memset(s, 0, sizeof(*s));
    s->fd = -1;
}

/* The answer's status (0: none yet). */
static inline int sse_status(const struct sse *s)
{
    int st = 0;
    if (s->text)
        sscanf(s->text, "HTTP/1.1 %d", &st);
    return st;
}

/* The value of header name in the answer (case as sent), copied; false
 * when absent. */
static inline bool sse_header(const struct sse *s, const char *name, char *out, size_t cap)
{
    const char *end = s->text ? strstr(s->text, "\r\n\r\n") : NULL;
    size_t n = strlen(name);
    for (const char *p = s->text ? strstr(s->text, "\r\n") : NULL; p && p < end;
         p = strstr(p + 2, "\r\n")) {
        if (strncasecmp(p + 2, name, n) == 0 && p[2 + n] == ':') {
            const char *v = p + 3 + n + strspn(p + 3 + n, " ");
            size_t k = strcspn(v, "\r");
            snprintf(out, cap, "%.*s", (int)k, v);
            return true;
        }
    }
    return false;
}

/* The events in the stream so far: ids[] of each "id:" and the JSON of its
 * "data:" line (new references in data[], may be NULL). Returns how many. */
static inline size_t sse_events(const struct sse *s, unsigned long long *ids, json_t **data,
                                size_t max)
{
    size_t n = 0;
    const char *p = s->text ? strstr(s->text, "\r\n\r\n") : NULL;
    while (p && n < max && (p = strstr(p, "\nid: "))) {
        const char *block_end = strstr(p + 1, "\n\n");
        if (!block_end)
            break; /* not whole yet */
        ids[n] = strtoull(p + 5, NULL, 10);
        const char *d = strstr(p, "\ndata: ");
        if (data)
            data[n] =
                d && d < block_end ? json_loadb(d + 7, (size_t)(block_end - d - 7), 0, NULL) : NULL;
        n++;
        p = block_end;
    }
    return n;
}

/* A whole answer to head on a new connection (the node closes it: send
 * "Connection: close"), with its status; free the text. */
static inline char *raw_answer(const struct h_cluster *c, int i, const char *head, int *status)
{
    struct sse s;
    sse_open_raw(&s, c, i, 0, head);
    sse_wait_closed(&s, h_timeout_ms());
    *status = sse_status(&s);
    char *text = s.text ? s.text : strdup("");
    s.text = NULL;
    sse_close(&s);
    return text;
}

#endif
