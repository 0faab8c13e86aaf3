/* The node's events over HTTP: GET /events (a page of the ring) and GET
 * /events/stream (Server-Sent Events: each event as it is recorded, one
 * serialization shared by every stream). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/api/api.h"

/* A comment this often on every stream: clients, and proxies that close
 * idle connections, see it live. */
#define STREAM_HEARTBEAT_MS 5000

/* The event streams among the HTTP server's streams (its address is the
 * topic). */
static const char stream_topic;

json_t *api_event_json(const struct event *e)
{
    char when[40];
    node_iso_time(e->time_ms, when, sizeof(when));
    json_t *o = json_pack("{s:I, s:s, s:I, s:s, s:s, s:s, s:I}", "seq", (json_int_t)e->seq, "time",
                          when, "time_ms", (json_int_t)e->time_ms, "node", e->node, "kind", e->kind,
                          "message", e->message, "boot", (json_int_t)e->boot);
    if (o && e->peer[0])
        json_object_set_new(o, "peer", json_string(e->peer));
    return o;
}

void api_events_get(struct node_api *api, struct http_request *req)
{
    uint64_t limit = EVENTS_DEFAULT_LIMIT, since = 0;
    if (api_query_u64(req->query, "limit", 1, EVENTS_CAPACITY, &limit) < 0) {
        http_respond_error(req, 400, "limit: must be a whole number from 1 to %d", EVENTS_CAPACITY);
        return;
    }
    int has_since = api_query_u64(req->query, "since", 0, UINT64_MAX, &since);
    if (has_since < 0) {
        http_respond_error(req, 400, "since: must be a sequence number (0 or more)");
        return;
    }
    const struct event *found[EVENTS_CAPACITY];
    size_t k = events_query(&api->base->events, has_since == 1, since, (size_t)limit, found);
    json_t *arr = json_array();
    for (size_t i = 0; i < k; i++)
        json_array_append_new(arr, api_event_json(found[i]));
    http_respond_json(req, 200, arr);
}

/* One event as Server-Sent Events: "id: SEQ\ndata: JSON\n\n" (the JSON of
 * GET /events, on one line: strings escape their newlines). */
#define SSE_HEAD "id: %" PRIu64 "\ndata: "
#define SSE_TAIL "\n\n"

/* Room for most events at once; one whose text is longer (escapes) is
 * written again into the room it takes. */
#define SSE_ROOM 768

/* Writes o, event seq, as SSE into buf (room bytes, NULL when 0): the
 * bytes it takes (past room: buf holds nothing usable), 0 on error. */
static size_t sse_write(json_t *o, uint64_t seq, char *buf, size_t room)
{
    size_t at = (size_t)snprintf(buf, room, SSE_HEAD, seq);
    size_t n =
        json_dumpb(o, at < room ? buf + at : NULL, at < room ? room - at : 0, HTTP_JSON_FLAGS);
    if (n == 0)
        return 0;
    size_t total = at + n + strlen(SSE_TAIL);
    if (total <= room)
        memcpy(buf + at + n, SSE_TAIL, strlen(SSE_TAIL));
    return total;
}

/* The event, formatted once into the chunk every stream is sent (and the
 * one formatter of a replay too); *len: the bytes it holds. */
static struct http_chunk *sse_chunk(const struct event *e, size_t *len)
{
    json_t *o = api_event_json(e);
    if (!o)
        return NULL;
    struct http_chunk *ch = http_chunk_alloc(SSE_ROOM);
    size_t n = ch ? sse_write(o, e->seq, http_chunk_data(ch), SSE_ROOM) : 0;
    if (n > SSE_ROOM) {
        http_chunk_unref(ch);
        ch = http_chunk_alloc(n);
        if (ch && sse_write(o, e->seq, http_chunk_data(ch), n) != n)
            n = 0;
    }
    json_decref(o);
    if (n == 0) {
        http_chunk_unref(ch);
        return NULL;
    }
    if (ch)
        http_chunk_set_len(ch, n);
    *len = n;
    return ch;
}

static void on_event(void *ctx, const struct event *e)
{
    struct node_api *api = ctx;
    if (!api->http || http_stats(api->http)->streams == 0)
        return;
    size_t len;
    struct http_chunk *ch = sse_chunk(e, &len);
    http_stream_broadcast(api->http, &stream_topic, ch);
    http_chunk_unref(ch);
}

/* Where a stream resumes: the Last-Event-ID header (an EventSource that
 * reconnects sends it, keeping the URL of its first connection), else
 * ?since=. -1: answered 400; 0: neither (new events only); 1: *since. */
static int resume_point(struct http_request *req, uint64_t *since)
{
    const char *id = req->last_event_id;
    if (id[0]) {
        if (!api_parse_u64(id, 0, UINT64_MAX, since)) {
            http_respond_error(req, 400,
                               "Last-Event-ID: \"%.40s\" is not an event sequence number (the "
                               "id: of an event this stream sent)",
                               id);
            return -1;
        }
        return 1;
    }
    int has = api_query_u64(req->query, "since", 0, UINT64_MAX, since);
    if (has < 0)
        http_respond_error(req, 400, "since: must be a sequence number (0 or more)");
    return has;
}

void api_events_stream(struct node_api *api, struct http_request *req)
{
    uint64_t since = 0;
    int has = resume_point(req, &since);
    if (has < 0)
        return;
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) {
        http_respond_error(req, 503, "out of memory");
        return;
    }
    fputs(": ok\n\n", f); /* a comment at once: the client sees the stream open */
    if (has) {            /* what the ring holds after since, in one write */
        const struct event *found[EVENTS_CAPACITY];
        size_t k = events_query(&api->base->events, true, since, EVENTS_CAPACITY, found);
        for (size_t i = 0; i < k; i++) {
            size_t n;
            struct http_chunk *ch = sse_chunk(found[i], &n);
            if (ch)
                fwrite(http_chunk_data(ch), 1, n, f);
            http_chunk_unref(ch);
        }
    }
    fclose(f);
    http_stream_open(req, &stream_topic, "text/event-stream", text, len);
    free(text);
}

void api_events_start(struct node_api *api)
{
    const struct config *cfg = &api->base->cfg;
    http_set_max_streams(api->http, cfg->http_max_streams);
    http_set_cors_origins(api->http, cfg->http_cors_origins);
    http_set_stream_heartbeat(api->http, ": keep-alive\n\n", STREAM_HEARTBEAT_MS);
    api->base->on_event = on_event;
    api->base->on_event_ctx = api;
}

void api_events_stop(struct node_api *api)
{
    api->base->on_event = NULL;
    api->http = NULL; /* stopped: its streams close with it */
}
