/* The node shell: one libuv loop that owns every piece of state and does all
 * the I/O (transport, HTTP, timers, signals, files) on behalf of the cores. */
#ifndef CHIMERA_NODE_H
#define CHIMERA_NODE_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "consensus/consensus.h"
#include "ledger/ledger.h"
#include "node/config.h"
#include "node/events.h"
#include "node/http.h"
#include "node/peers.h"
#include "node/transport.h"

enum node_drop {
    DROP_AUTH,
    DROP_MALFORMED,
    DROP_SHAPE,
    DROP_VERSION,
    DROP_REPLAY,
    DROP_UNKNOWN_MEMBER,
    DROP_SEND,
    DROP_COUNT
};

struct node_metrics {
    uint64_t msgs_received;
    uint64_t msgs_sent;
    uint64_t dropped[DROP_COUNT];
    uint64_t http_requests;
};

/* What the consensus shell last reported, to raise events on changes. */
struct node_cons_seen {
    enum cons_role role;
    uint64_t term;
    int32_t leader;
    bool read_only;
};

struct node {
    struct config cfg;
    uint8_t key[CONFIG_KEY_BYTES];
    char token[256]; /* "" when no admin token is configured */
    uv_loop_t *loop;
    uv_timer_t tick;
    uv_signal_t sigint, sigterm;
    struct transport *transport;
    struct http_server *http;
    struct events events;
    struct peers peers;
    int out[CONFIG_MAX_MEMBERS]; /* transport index of each member, -1 for self */
    uint64_t boot;               /* boot epoch: persisted, grows every start */
    uint64_t counter;            /* next envelope counter */
    uint64_t started_ms;         /* loop time at start */
    struct cons cons;
    uv_timer_t cons_timer;
    struct ledger *ledger;
    struct ledger_key key_pair; /* this node's Ed25519 key (DATA/node.key) */
    struct node_cons_seen seen;
    struct node_metrics metrics;
    struct events_limiter drop_limit[DROP_COUNT];
    bool stopping;
};

/* Runs a node until SIGINT or SIGTERM. Returns the process exit status:
 * 0 after a clean stop, 1 on a fatal runtime error, 2 when the configuration
 * cannot be served (port in use, ...), with one line already printed. */
int node_run(const struct config *cfg, const uint8_t key[CONFIG_KEY_BYTES], const char *token);

/* Records an event in the ring and logs it. */
void node_event(struct node *n, const char *kind, const char *peer, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Wall-clock milliseconds since the Unix epoch. */
int64_t node_wall_ms(void);

/* Names of the drop reasons, for metrics labels. */
const char *node_drop_name(enum node_drop d);

/* Seals body (one msgpack object) as an envelope of this type and sends it
 * to member idx; counts it as sent or dropped. */
void node_send(struct node *n, size_t idx, uint32_t type, const void *body, size_t len);

/* Counts a dropped message and reports it as a rate-limited event. */
void node_drop(struct node *n, enum node_drop why, const char *detail);

/* Consensus (node_cons.c): start after the transport is up; stop on shutdown. */
int node_cons_start(struct node *n);
void node_cons_stop(struct node *n);
struct msgpack_object;
void node_cons_recv(struct node *n, size_t from, const struct msgpack_object *body);

/* The ledger (node_ledger.c): open with recovery before the node serves;
 * close on the way out. */
int node_ledger_open(struct node *n);
void node_ledger_close(struct node *n);

/* The ledger's HTTP reads (api_ledger.c). */
void api_get_ledger(struct node *n, struct http_request *req);
void api_get_ledger_head(struct node *n, struct http_request *req);
json_t *api_ledger_summary(struct node *n);

/* The HTTP API (api.c): answers one request on the loop thread. */
void api_handle(void *ctx, struct http_request *req);

#endif
