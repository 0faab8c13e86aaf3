/* The services every layer of the node may call and that call nobody in
 * node/ (base.c, mp_map.c): the state they share (configuration, members,
 * events, the transport's outboxes, counters), events, sending sealed
 * envelopes, drop counting, the fatal exit, the wall clock. */
#ifndef CHIMERA_NODE_BASE_H
#define CHIMERA_NODE_BASE_H

#include <msgpack.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "node/base/config.h"
#include "wire/map.h"
#include "node/base/events.h"
#include "node/base/peers.h"

struct transport;

/* At most one event per drop reason in this time (node_drop). */
#define NODE_DROP_EVENT_INTERVAL_MS 5000

enum node_drop {
    DROP_AUTH,
    DROP_MALFORMED,
    DROP_SHAPE,
    DROP_VERSION,
    DROP_REPLAY,
    DROP_UNKNOWN_MEMBER,
    DROP_SEND,
    DROP_SIGNATURE,
    DROP_STALE, /* sealed before this node started (node.c: on_message) */
    DROP_COUNT
};

struct node_metrics {
    uint64_t msgs_received;
    uint64_t msgs_sent;
    uint64_t sent_by_type[ENV_TYPE_MAX];       /* by envelope type (base.c: node_send) */
    uint64_t sent_bytes_by_type[ENV_TYPE_MAX]; /* sealed bytes, by envelope type */
    uint64_t dropped[DROP_COUNT];
    uint64_t http_requests;
    uint64_t checkpoints; /* stored: signed here (leader) or received (witness) */
    uint64_t notarized;   /* leader: checkpoints that reached a quorum of signatures */
    uint64_t equivocations;
    uint64_t http_auth_failures[2]; /* api/gate.c: without a bearer token, with a wrong one */
};

/* What every layer shares; node.c fills it at start. */
struct node_base {
    struct config cfg;
    uint8_t key[CONFIG_KEY_BYTES]; /* the cluster key that seals envelopes */
    uv_loop_t *loop;
    struct transport *transport;
    struct events events;
    struct peers peers;
    int out[CONFIG_MAX_MEMBERS]; /* transport index of each member, -1 for self */
    uint64_t boot;               /* boot epoch: persisted, grows every start */
    uint64_t counter;            /* last envelope counter used (base.c: next_counter) */
    uint64_t started_ms;         /* loop time at start */
    struct node_metrics metrics;
    struct events_limiter drop_limit[DROP_COUNT];
    bool stopping;
    /* Called with every event as it is recorded (the live event stream,
     * node/api/api_events.c); NULL: none. */
    void (*on_event)(void *ctx, const struct event *e);
    void *on_event_ctx;
};

/* Records an event in the ring and logs it. */
void node_event(struct node_base *b, const char *kind, const char *peer, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Ends the process: state that had to reach the disk did not (an fsync
 * failed, a log change the core demanded could not be made). Acknowledging
 * anything after that could lose what was promised durable. */
void node_fatal(struct node_base *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), noreturn));

/* ms since the Unix epoch as "2026-01-02T03:04:05.678Z" (UTC). */
void node_iso_time(int64_t ms, char *buf, size_t len);

/* Wall-clock milliseconds since the Unix epoch. */
int64_t node_wall_ms(void);
/* A time of this loop's clock (uv_now), past or future, as wall-clock ms. */
int64_t node_wall_of_loop(uv_loop_t *loop, uint64_t loop_ms);
/* The wall clock as an envelope counter (2^-32 s ticks). */
uint64_t node_wall_counter(void);

/* Names of the drop reasons, for metrics labels. */
const char *node_drop_name(enum node_drop d);

/* Counts a dropped message and reports it as a rate-limited event. */
void node_drop(struct node_base *b, enum node_drop why, const char *detail);

/* Seals body (one msgpack object) as an envelope of this type and sends it
 * to member idx; counts it as sent or dropped. */
void node_send(struct node_base *b, size_t idx, uint32_t type, const void *body, size_t len);

/* A msgpack body being packed: node_pack_init, pack into .pk, then
 * node_pack_send (which frees it) or node_pack_free. */
struct node_pack {
    msgpack_sbuffer sb;
    msgpack_packer pk;
};
void node_pack_init(struct node_pack *p);
void node_pack_free(struct node_pack *p);
void node_pack_send(struct node_base *b, size_t idx, uint32_t type, struct node_pack *p);

/* msgpack maps with string keys (mp_map.c; the lookup is wire/map.h). */
void node_mp_kv_str(msgpack_packer *pk, const char *k, const char *v, size_t n);
void node_mp_kv_u64(msgpack_packer *pk, const char *k, uint64_t v);
void node_mp_kv_bool(msgpack_packer *pk, const char *k, bool v);
bool node_mp_get_str(const msgpack_object *map, const char *key, char *out, size_t cap);
bool node_mp_get_u64(const msgpack_object *map, const char *key, uint64_t *out);
bool node_mp_get_bool(const msgpack_object *map, const char *key, bool *out);

#endif
