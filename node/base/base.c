/* The services every layer of the node may call and that call nobody in
 * node/: events (logged), the envelope send/pack helpers, drop counting, the
 * fatal exit and the wall clock. */
#include "node/base/base.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "node/base/envelope.h"
#include "node/net/transport.h"
#include "pipeline/core/text.h"

_Static_assert(TRANSPORT_MAX_PEERS >= CONFIG_MAX_MEMBERS, "a transport outbox for every member");

void node_iso_time(int64_t ms, char *buf, size_t len)
{
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    size_t k = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + k, len - k, ".%03dZ", (int)(ms % 1000));
}

int64_t node_wall_ms(void)
{
    uv_timeval64_t tv;
    uv_gettimeofday(&tv);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

int64_t node_wall_of_loop(uv_loop_t *loop, uint64_t loop_ms)
{
    return node_wall_ms() + ((int64_t)loop_ms - (int64_t)uv_now(loop));
}

const char *node_drop_name(enum node_drop d)
{
    static const char *names[DROP_COUNT] = {
        [DROP_AUTH] = "auth",     [DROP_MALFORMED] = "malformed",
        [DROP_SHAPE] = "shape",   [DROP_VERSION] = "version",
        [DROP_REPLAY] = "replay", [DROP_UNKNOWN_MEMBER] = "unknown_member",
        [DROP_SEND] = "send",     [DROP_SIGNATURE] = "signature",
        [DROP_STALE] = "stale",
    };
    return d < DROP_COUNT ? names[d] : "unknown";
}

/* Log severity of an event kind: trouble is a warning, the rest news. */
static int event_level(const char *kind)
{
    static const char *const warn[] = {
        "failure",    "malformed",   "dead",         "step_down", "read_only.enter", "suspect",
        "unverified", "_failed",     "equivocation", "dropped",   "key_changed",     "unhealthy",
        ".failed",    "connection_", "clock_skew",   "_wildcard", "_stuck"};
    for (size_t i = 0; i < sizeof(warn) / sizeof(warn[0]); i++)
        if (strstr(kind, warn[i]))
            return 2;
    return 1;
}

static int config_level(const char *name)
{
    return strcmp(name, "debug") == 0   ? 0
           : strcmp(name, "warn") == 0  ? 2
           : strcmp(name, "error") == 0 ? 3
                                        : 1;
}

/* A JSON string of s; bytes that are not UTF-8 become '?' as in an
 * event's text (pl_clean_text), so the line stays one valid object. */
static json_t *json_text(const char *s)
{
    json_t *j = json_string(s);
    if (j)
        return j;
    char clean[EVENTS_MESSAGE_MAX];
    snprintf(clean, sizeof(clean), "%s", s);
    pl_clean_text(clean);
    return json_string(clean);
}

/* --log-format=json: one object per line on stderr, for log shippers:
 * {"time", "level", "node", "kind", "message", "fields": {...}}; fields
 * holds the event's seq and its peer when it has one (e NULL: none). */
static void log_json(const struct node_base *b, int64_t time_ms, const char *level,
                     const char *kind, const char *msg, const struct event *e)
{
    char when[40];
    node_iso_time(time_ms, when, sizeof(when));
    json_t *fields = json_object();
    if (e) {
        json_object_set_new(fields, "seq", json_integer((json_int_t)e->seq));
        if (e->peer[0])
            json_object_set_new(fields, "peer", json_text(e->peer));
    }
    json_t *o = json_object();
    json_object_set_new(o, "time", json_string(when));
    json_object_set_new(o, "level", json_string(level));
    json_object_set_new(o, "node", json_text(b->cfg.id));
    json_object_set_new(o, "kind", json_text(kind));
    json_object_set_new(o, "message", json_text(msg));
    json_object_set_new(o, "fields", fields);
    char *line = json_dumps(o, JSON_COMPACT);
    if (line)
        fprintf(stderr, "%s\n", line);
    free(line);
    json_decref(o);
}

static bool log_is_json(const struct node_base *b)
{
    return strcmp(b->cfg.log_format, "json") == 0;
}

void node_event(struct node_base *b, const char *kind, const char *peer, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    const struct event *e = events_vadd(&b->events, node_wall_ms(), kind, peer, fmt, ap);
    va_end(ap);
    const char *msg = e->message; /* the log says what the ring holds */
    if (b->on_event)
        b->on_event(b->on_event_ctx, e);
    int level = event_level(kind);
    if (level < config_level(b->cfg.log_level))
        return;
    if (log_is_json(b)) {
        log_json(b, e->time_ms, level >= 2 ? "warn" : "info", kind, msg, e);
        return;
    }
    char when[40];
    node_iso_time((int64_t)e->time_ms, when, sizeof(when));
    fprintf(stderr, "%s %s %s %s: %s\n", when, level >= 2 ? "WARN" : "INFO", b->cfg.id, kind, msg);
}

void node_fatal(struct node_base *b, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (log_is_json(b))
        log_json(b, node_wall_ms(), "fatal", "node.fatal", msg, NULL);
    else
        fprintf(stderr, "chimerad: %s: fatal: %s\n", b->cfg.id, msg);
    exit(1);
}

void node_drop(struct node_base *b, enum node_drop why, const char *detail)
{
    b->metrics.dropped[why]++;
    uint64_t held;
    if (why == DROP_SEND || !events_limiter_allow(&b->drop_limit[why], node_wall_ms(),
                                                  NODE_DROP_EVENT_INTERVAL_MS, &held))
        return;
    const char *kind = why == DROP_AUTH        ? "transport.auth_failure"
                       : why == DROP_SIGNATURE ? "transport.unverified"
                                               : "transport.malformed";
    char more[64] = "";
    if (held)
        snprintf(more, sizeof(more), "; %" PRIu64 " more since the last report", held);
    node_event(b, kind, NULL, "dropped a message (%s: %s)%s", node_drop_name(why), detail, more);
}

/* ---- sending ---- */

/* Envelope counters follow the wall clock in 2^-32 s ticks (seconds in the
 * high word, as boot epochs were), never going back within a process:
 * whatever an earlier incarnation of this node sent carries counters below
 * the clock of any later start, with or without its data directory (a
 * wiped node, one restarted many times within a second), so peers never
 * mistake a restarted node for a replay. Only a clock set back can: its
 * messages are dropped until the clock passes what peers saw. */
uint64_t node_wall_counter(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return env_counter_at((uint64_t)ts.tv_sec, (uint32_t)ts.tv_nsec);
}

static uint64_t next_counter(struct node_base *b)
{
    uint64_t ticks = node_wall_counter();
    b->counter = b->counter + 1 > ticks ? b->counter + 1 : ticks;
    return b->counter;
}

void node_send(struct node_base *b, size_t idx, uint32_t type, const void *body, size_t len)
{
    uint8_t *wire;
    size_t wlen;
    if (b->out[idx] < 0 ||
        env_seal(b->key, type, b->cfg.id, next_counter(b), body, len, &wire, &wlen) != ENV_OK)
        return;
    if (transport_send(b->transport, b->out[idx], wire, wlen) == 0) {
        b->metrics.msgs_sent++;
        b->metrics.sent_by_type[type]++; /* env_seal took only types below ENV_TYPE_MAX */
        b->metrics.sent_bytes_by_type[type] += wlen;
        peers_sent(&b->peers, idx, type == ENV_HELLO, uv_now(b->loop));
    } else
        node_drop(b, DROP_SEND, b->peers.m[idx].id);
    free(wire);
}

void node_pack_init(struct node_pack *p)
{
    msgpack_sbuffer_init(&p->sb);
    msgpack_packer_init(&p->pk, &p->sb, msgpack_sbuffer_write);
}

void node_pack_free(struct node_pack *p)
{
    msgpack_sbuffer_destroy(&p->sb);
}

void node_pack_send(struct node_base *b, size_t idx, uint32_t type, struct node_pack *p)
{
    node_send(b, idx, type, p->sb.data, p->sb.size);
    node_pack_free(p);
}
