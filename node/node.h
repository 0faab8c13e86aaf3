/* The node: one libuv loop that owns every layer's state and does all the
 * I/O (transport, HTTP, timers, signals, files) on behalf of the cores.
 * node.c holds the loop and the composition: start/stop, the tick, signals,
 * and the dispatch of arriving messages to the layers. */
#ifndef CHIMERA_NODE_H
#define CHIMERA_NODE_H

#include <stdint.h>
#include <uv.h>

#include "node/api/api.h"
#include "node/base/base.h"
#include "node/base/loop_lag.h"
#include "node/base/tick_slack.h"
#include "node/chaos/chaos.h"
#include "node/chaos/watch.h"
#include "node/deploy/deploy.h"
#include "node/net/http.h"
#include "node/msg.h"
#include "node/raft/raft.h"
#include "node/witness/witness.h"

#define NODE_STOP_SIGNALS 4
#define NODE_STOP_DRAIN_MS 5000 /* the wait for NNG to close its connections at the stop */

/* The composition: each layer's state, and the loop's own handles. */
struct node {
    struct node_base base;
    struct node_raft raft;
    struct node_witness wit;
    struct node_deploy deploy;
    struct node_chaos chaos;
    struct watch watch; /* the recovery watchtower (chaos/watch.h) */
    struct node_api api;
    struct node_msg msg; /* the message registry's view of the layers */
    uv_timer_t tick;
    uv_prepare_t tick_ride;      /* runs a tick due within the slack with a wake-up at hand */
    struct tick_slack tick_plan; /* when (tick_slack.h) */
    uv_timer_t stop_timer;       /* the stop after a hand-over, on the loop's next turn (node.c) */
    uv_signal_t signals[NODE_STOP_SIGNALS]; /* SIGINT, SIGTERM, SIGHUP, SIGQUIT (node.c) */
    struct http_server *http;
    struct loop_lag lag; /* how late on_tick runs (loop_lag.h) */
};

/* Runs a node until SIGINT or SIGTERM. Returns the process exit status:
 * 0 after a clean stop, 1 on a fatal runtime error, 2 when the configuration
 * cannot be served (port in use, ...), with one line already printed. */
int node_run(const struct config *cfg, const uint8_t key[CONFIG_KEY_BYTES], const char *token);

#endif
