/* The node shell: one libuv loop that owns every piece of state and does all
 * the I/O (transport, HTTP, timers, signals, files) on behalf of the cores. */
#ifndef CHIMERA_NODE_H
#define CHIMERA_NODE_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

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

/* The HTTP API (api.c): answers one request on the loop thread. */
void api_handle(void *ctx, struct http_request *req);

#endif
