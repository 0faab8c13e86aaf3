/* Streams: answers without an end (Server-Sent Events) that the node
 * writes to as things happen. A broadcast writes one shared chunk to every
 * stream of a topic; a stream whose client falls behind (more than
 * max_queued bytes unsent) or takes nothing for the idle timeout is dropped
 * and reported; a heartbeat shows idle streams live. */
#include "node/net/http_conn.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct http_chunk {
    unsigned refs;
    size_t len;
    char data[];
};

struct http_chunk *http_chunk_new(const char *data, size_t len)
{
    struct http_chunk *ch = malloc(sizeof(*ch) + len);
    if (!ch)
        return NULL;
    ch->refs = 1;
    ch->len = len;
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

static size_t unsent(struct conn *c)
{
    return uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp);
}

/* Output waits: the client must take some of it within the idle timeout
 * (from the first byte that waits, or from the last write it took). */
static void watch_stall(struct conn *c)
{
    if (unsent(c) > 0 && !uv_is_active((uv_handle_t *)&c->timer))
        http_conn_arm(c, c->s->idle_ms);
}

void http_stream_written(struct conn *c)
{
    http_conn_arm(c, unsent(c) > 0 ? c->s->idle_ms : 0);
}

static void drop(struct conn *c, bool stalled)
{
    struct http_server *s = c->s;
    char msg[320];
    if (stalled)
        snprintf(msg, sizeof(msg),
                 "dropped the stream to %s: its client took none of the output for %llu ms",
                 c->peer, (unsigned long long)s->idle_ms);
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
    drop(c, true);
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
    char extra[ORIGIN_MAX + 256];
    http_conn_extra_headers(c, false, extra, sizeof(extra));
    /* a proxy must pass each event on as it comes */
    snprintf(extra + strlen(extra), sizeof(extra) - strlen(extra), "X-Accel-Buffering: no\r\n");
    static const char close_hdr[] = "Connection: close\r\n";
    int hl = http_answer_head(NULL, 0, 200, ctype, HTTP_LEN_NONE, NULL, close_hdr, extra);
    char *buf = hl < 0 ? NULL : malloc((size_t)hl + 1 + len);
    if (!buf) {
        http_respond_error(req, 503, "out of memory");
        return -1;
    }
    http_answer_head(buf, (size_t)hl + 1, 200, ctype, HTTP_LEN_NONE, NULL, close_hdr, extra);
    if (len)
        memcpy(buf + hl, first, len);
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
    int rv = http_conn_write(c, buf, (size_t)hl + len, NULL);
    free(buf);
    if (rv != 0)
        return -1;
    watch_stall(c);
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
        if (unsent(c) + ch->len > s->max_queued)
            c->dropping = true; /* after the broadcast: its notice raises an event */
        else if (http_conn_write(c, ch->data, ch->len, ch) == 0)
            watch_stall(c);
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
    struct http_cast *q = malloc(sizeof(*q));
    if (!q)
        return;
    *q = (struct http_cast){.topic = topic, .ch = http_chunk_ref(ch)};
    *s->casts_tail = q;
    s->casts_tail = &q->next;
    if (s->casting)
        return; /* raised by a drop's notice: sent after the one under way */
    s->casting = true;
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
