/* Writes held while this leader hands leadership over (api_hold.c; the
 * rule: hold_rule.h). */
#ifndef CHIMERA_NODE_API_HOLD_H
#define CHIMERA_NODE_API_HOLD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "node/api/hold_rule.h"

struct http_request;
struct node_api;

struct api_hold {
    uv_check_t check; /* runs after each turn of the loop while writes wait */
    bool open;        /* check is initialized */
    size_t n;
    struct {
        struct http_request *req;
        uint64_t since; /* loop time */
    } q[API_HOLD_MAX];
    uint64_t first_since; /* when the first of this batch arrived */
    size_t batch;         /* held since the queue was last empty */
};

/* A mutation that passed the gate: true when it was taken (held, or
 * answered 503 because too many wait), false when it goes on to its
 * endpoint. Never holds POST /leader/transfer or the chaos kill switch. */
bool api_hold_take(struct node_api *api, struct http_request *req);
/* After each output of the Raft layer: the held writes another member's
 * leadership decides are answered (307) at once. */
void api_hold_poll(struct node_api *api);
/* The node stops (before the HTTP server does): every held write is
 * answered, 307 when another member is known to lead, else 503. */
void api_hold_stop(struct node_api *api);

#endif
