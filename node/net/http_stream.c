/* Streams: answers without an end (Server-Sent Events) that the node
 * writes to as things happen. A broadcast writes one shared chunk to every
 * stream of a topic; a stream whose client falls behind (more than
 * max_queued bytes unsent) or takes nothing for the idle timeout is dropped
 * and reported; a heartbeat shows idle streams live.
 *
 * Unsent counts what waits in the kernel's send buffer too, not only in
 * libuv's queue: the kernel grows a socket's send buffer to megabytes
 * (net.ipv4.tcp_wmem), and a client that stopped reading would otherwise
 * look like one that keeps up until all of that is full. */
#include "node/net/http_conn.h"
#include "pipeline/core/manifest.h"

#include <arpa/inet.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct http_chunk {
    unsigned refs;
    size_t len;
    char data[];
};

struct http_chunk *http_chunk_alloc(size_t room)
{
    struct http_chunk *ch = malloc(sizeof(*ch) + room);
    if (!ch)
        return NULL;
    ch->refs = 1;
    ch->len = room;
    return ch;
}

char *http_chunk_data(struct http_chunk *ch)
{
    return ch->data;
}

void http_chunk_set_len(struct http_chunk *ch, size_t len)
{
    if (len < ch->len)
        ch->len = len;
}

struct http_chunk *http_chunk_new(const char *data, size_t len)
{
    struct http_chunk *ch = http_chunk_alloc(len);
    if (ch)
        memcpy(ch->data, data, len);
    return ch;
}

struct http_chunk *http_chunk_ref(struct http_chunk *ch)
{
    ch->refs++;
    return ch;
}

void http_chunk_unref(struct http_chunk *ch)
{
    if (ch && --ch->refs == 0)
        free(ch);
}

/* ---- the server's side ---- */

static void on_beat(uv_timer_t *t)
{
    struct http_server *s = t->data;
    if (s->beat && s->stats.streams)
        http_stream_broadcast(s, NULL, s->beat);
}

static void on_beat_closed(uv_handle_t *h)
{
    http_server_release(h->data);
}

void http_stream_init(struct http_server *s)
{
    uv_timer_init(s->loop, &s->heartbeat);
    s->heartbeat.data = s;
    s->handles++;
    s->casts_tail = &s->casts;
}

void http_stream_stop(struct http_server *s)
{
    uv_close((uv_handle_t *)&s->heartbeat, on_beat_closed);
    http_chunk_unref(s->beat);
    s->beat = NULL;
}

void http_set_max_streams(struct http_server *s, unsigned max)
{
    s->stats.max_streams = max;
}

void http_set_stream_heartbeat(struct http_server *s, const char *text, uint64_t every_ms)
{
    http_chunk_unref(s->beat);
    s->beat = http_chunk_new(text, strlen(text));
    uv_timer_start(&s->heartbeat, on_beat, every_ms, every_ms);
}

/* ---- one stream ---- */

/* The kernel's count of c's bytes: SIOCOUTQNSD, not yet sent (the
 * client's receive window is shut), or SIOCOUTQ, not yet acknowledged. */
static size_t in_kernel(struct conn *c, unsigned long what)
{
    uv_os_fd_t fd;
    int n = 0;
    if (uv_fileno((uv_handle_t *)&c->tcp, &fd) != 0 || ioctl(fd, what, &n) != 0 || n < 0)
        return 0;
    return (size_t)n;
}

/* Output the client has not taken: in libuv's queue, or in the kernel's
 * send buffer unsent. */
static size_t unsent(struct conn *c)
{
    return uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) + in_kernel(c, SIOCOUTQNSD);
}

/* Bytes the client's end has acknowledged so far. */
static uint64_t taken(struct conn *c)
{
    uint64_t held = uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) + in_kernel(c, SIOCOUTQ);
    return c->queued > held ? c->queued - held : 0;
}

/* Output waits (waiting: the bytes the client has not taken, or a lower
 * bound of them): the client must take some of it in every idle timeout
 * from the first byte that waits (or it took nothing that long). Progress is
 * what the client acknowledged, not a write libuv completed: that may only
 * have moved the bytes into the kernel's buffer. A timer already running
 * looks again when it ends (http_stream_stalled), so it needs no answer from
 * the kernel now: each event costs a stream one or two ioctls, not four. */
static void watch_stall(struct conn *c, size_t waiting)
{
    if (waiting > 0 && !http_conn_armed(c)) {
        c->taken = taken(c);
        http_conn_arm(c, c->s->idle_ms);
    }
}

void http_stream_written(struct conn *c)
{
    if (!http_conn_armed(c))
        watch_stall(c, unsent(c));
}

static void drop(struct conn *c, bool stalled)
{
    struct http_server *s = c->s;
    char msg[320], idle[32];
    if (stalled)
        snprintf(msg, sizeof(msg),
                 "dropped the stream to %s: its client took none of the output for %s", c->peer,
                 manifest_duration_text(s->idle_ms, idle, sizeof idle));
    else
        snprintf(msg, sizeof(msg),
                 "dropped the stream to %s: its client fell behind, leaving more than %zu bytes "
                 "unread",
                 c->peer, s->max_queued);
    s->stats.streams_dropped++;
    http_conn_close(c);
    if (s->notice)
        s->notice(s->notice_ctx, "http.stream_dropped", msg);
}

void http_stream_stalled(struct conn *c)
{
    if (unsent(c) == 0)
        return; /* it all went out since */
    uint64_t now = taken(c);
    if (now == c->taken) {
        drop(c, true);
        return;
    }
    c->taken = now; /* it took some: a new period from here */
    http_conn_arm(c, c->s->idle_ms);
}

static void peer_name(struct conn *c)
{
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    char host[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) == 0) {
        if (ss.ss_family == AF_INET6) {
            uv_ip6_name((struct sockaddr_in6 *)&ss, host, sizeof(host));
            port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
        } else {
            uv_ip4_name((struct sockaddr_in *)&ss, host, sizeof(host));
            port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
        }
    }
    snprintf(c->peer, sizeof(c->peer), ss.ss_family == AF_INET6 ? "[%s]:%d" : "%s:%d", host, port);
}

int http_stream_open(struct http_request *req, const void *topic, const char *ctype,
                     const char *first, size_t len)
{
    struct pending *p = req->priv;
    struct conn *c = p->c;
    if (!c || c->state != C_HANDLER) {
        http_conn_release(req); /* the client left */
        return -1;
    }
    struct http_server *s = c->s;
    if (s->stats.streams >= s->stats.max_streams) {
        http_respond_error(req, 503,
                           "too many streams open (at most %llu, --http-max-streams); try again "
                           "later",
                           (unsigned long long)s->stats.max_streams);
        return -1;
    }
    /* the request is answered: what it held goes, and what the client
     * pipelined behind it is never read */
    if (req->on_answer)
        req->on_answer(req, 200); /* timed to its first byte */
    http_conn_release(req);
    c->state = C_STREAM;
    c->topic = topic;
    c->dropping = false;
    c->close_after = true;
    s->stats.streams++;
    peer_name(c);
    if (s->stream_sndbuf)
        uv_send_buffer_size((uv_handle_t *)&c->tcp, &s->stream_sndbuf);
    free(c->rest);
    c->rest = NULL;
    c->rest_len = 0;
    http_conn_arm(c, 0);
    /* a proxy must pass each event on as it comes */
    long n = http_conn_answer(c,
                              (struct http_answer){.status = 200,
                                                   .ctype = ctype,
                                                   .len = HTTP_LEN_NONE,
                                                   .conn_hdr = "Connection: close\r\n"},
                              false, "X-Accel-Buffering: no\r\n", first, len);
    if (n < 0)
        return -1;
    c->queued = (size_t)n;
    watch_stall(c, unsent(c));
    http_conn_read(c); /* to see the client go */
    return 0;
}

/* ---- broadcasts ---- */

static void cast_one(struct http_server *s, const void *topic, struct http_chunk *ch)
{
    struct conn *next;
    for (struct conn *c = s->conns; c; c = next) {
        next = c->next;
        if (c->state != C_STREAM || c->dropping || (topic && c->topic != topic))
            continue;
        /* The kernel is asked once per event: what libuv could not write at
         * once shows in its queue, and the write's completion looks again
         * (http_stream_written). */
        size_t waiting = unsent(c);
        if (waiting + ch->len > s->max_queued)
            c->dropping = true; /* after the broadcast: its notice raises an event */
        else {
            c->queued += ch->len;
            if (http_conn_write(c, ch->data, ch->len, ch) == 0)
                watch_stall(c, waiting + uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp));
        }
    }
    for (struct conn *c = s->conns; c; c = next) {
        next = c->next;
        if (c->state == C_STREAM && c->dropping)
            drop(c, false);
    }
}

void http_stream_broadcast(struct http_server *s, const void *topic, struct http_chunk *ch)
{
    if (!ch || s->stopping)
        return;
    if (s->casting) {
        /* raised by a drop's notice: sent after the one under way */
        struct http_cast *q = malloc(sizeof(*q));
        if (!q)
            return;
        *q = (struct http_cast){.topic = topic, .ch = http_chunk_ref(ch)};
        *s->casts_tail = q;
        s->casts_tail = &q->next;
        return;
    }
    s->casting = true;
    cast_one(s, topic, ch);
    struct http_cast *q;
    while ((q = s->casts)) {
        s->casts = q->next;
        if (!s->casts)
            s->casts_tail = &s->casts;
        cast_one(s, q->topic, q->ch);
        http_chunk_unref(q->ch);
        free(q);
    }
    s->casting = false;
}
