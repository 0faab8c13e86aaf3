/* Writes held while this leader hands leadership over (api_hold.c; the
 * rule: hold_rule.h). */
#ifndef CHIMERA_NODE_API_HOLD_H
#define CHIMERA_NODE_API_HOLD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "node/api/hold_rule.h"

struct api_route;
struct http_request;
struct node_api;

struct api_hold {
    uv_check_t check; /* runs after each turn of the loop while writes wait */
    bool open;        /* check is initialized */
    size_t n;
    struct {
        struct http_request *req;
        const struct api_route *row; /* what serves it (api_serve_held) */
        uint64_t since;              /* loop time */
    } q[API_HOLD_MAX];
    uint64_t first_since; /* when the first of this batch arrived */
    size_t batch;         /* held since the queue was last empty */
    /* Answering: a write taken here may append, and the Raft layer's
     * output hook (api_hold_poll) then finds the queue being walked. */
    bool releasing;
};

/* A mutation that passed the gate, served by route row `row`: true when it
 * was taken (held, or answered 503 because too many wait), false when it
 * goes on to its endpoint. Never holds POST /leader/transfer or the chaos
 * kill switch. */
bool api_hold_take(struct node_api *api, struct http_request *req, const struct api_route *row);
/* After each output of the Raft layer: the held writes whose fate is
 * decided are answered at once (307 to the successor as soon as it stands;
 * taken by this node in the output that made it leader, so that they join
 * the group of its election entry). */
void api_hold_poll(struct node_api *api);
/* The node stops (before the HTTP server does): every held write is
 * answered, 307 when another member is known to lead or stands as the
 * successor, else 503. */
void api_hold_stop(struct node_api *api);

#endif
