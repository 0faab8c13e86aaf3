/* Writes that arrive while this leader hands leadership over (§3.10) wait
 * here instead of being refused: the transfer takes milliseconds, and a
 * 503 would send the client into a back-off of its own, while a write held
 * until the end is answered with a 307 to the new leader, which a client
 * follows at once (or, when the transfer failed and this node leads on,
 * goes to its endpoint as if it had just arrived). What becomes of each is
 * hold_rule.c's decision; this file asks it after every output of the
 * Raft layer (api_hold_poll: the 307s leave as soon as this node hears the
 * new leader) and after every turn of the loop while writes wait (a
 * uv_check handle); either way in the turn the transfer ended in, before a
 * SIGTERM's stop, which waits for the next turn, closes the listener. A transfer ends within an
 * election timeout (transfer.c), and no write waits longer than that. */
#include <inttypes.h>
#include <string.h>

#include "node/api/api.h"

static uint64_t limit_ms(const struct node_api *api)
{
    return api->base->cfg.election_timeout_ms;
}

/* Another member leads, and its HTTP address is known (the 307's target). */
static bool other_leader_known(const struct node_api *api)
{
    int32_t l = api->raft->cons.leader;
    return l >= 0 && (size_t)l < api->base->peers.n && l != api->raft->cons.cfg.self &&
           api->base->peers.m[l].http[0];
}

static bool never_held(const struct http_request *req)
{
    /* A second transfer is refused at once (409), not sent to the next
     * leader. (The kill switch never gets here: gate.c lets it through
     * before the hold.) */
    return strcmp(req->path, "/leader/transfer") == 0;
}

static void answer(struct node_api *api, struct http_request *req, enum api_hold_fate fate)
{
    switch (fate) {
    case API_HOLD_RETRY:
        api_dispatch(api, req);
        break;
    case API_HOLD_REDIRECT:
        api_gate_redirect_to_leader(api, req, req->path);
        break;
    case API_HOLD_KEEP: /* release_due keeps those: never answered here */
        break;
    case API_HOLD_GIVE_UP:
        http_respond_error(req, 503,
                           "leadership transfer did not end with a known leader within %" PRIu64
                           " ms; retry shortly",
                           limit_ms(api));
        break;
    }
}

static void released(struct node_api *api, enum api_hold_fate fate, uint64_t now)
{
    struct api_hold *h = &api->hold;
    const char *to = fate == API_HOLD_REDIRECT ? api_gate_leader_id(api) : NULL;
    node_event(api->base, "api.writes_released", to,
               "%zu write%s held during the leadership transfer for %" PRIu64 " ms: %s%s", h->batch,
               h->batch == 1 ? "" : "s", now - h->first_since,
               fate == API_HOLD_REDIRECT ? "sent to the new leader "
               : fate == API_HOLD_RETRY  ? "taken here (the transfer failed; this node leads on)"
                                         : "refused (503): no leader known",
               to ? to : "");
    h->batch = 0;
}

/* Answers every held write whose fate is decided (only the 307s when
 * redirect_only: what the Raft layer's output hook may do, in the middle of
 * its own work), keeps the others. */
static void release_due(struct node_api *api, bool redirect_only)
{
    struct api_hold *h = &api->hold;
    uint64_t now = uv_now(api->base->loop);
    bool leader = api->raft->cons.role == CONS_LEADER;
    bool transferring = cons_transferring(&api->raft->cons);
    bool known = other_leader_known(api);
    enum api_hold_fate last = API_HOLD_KEEP;
    size_t k = 0;
    for (size_t i = 0; i < h->n; i++) {
        enum api_hold_fate f =
            api_hold_fate(leader, transferring, known, now, h->q[i].since, limit_ms(api));
        if (f == API_HOLD_KEEP || (redirect_only && f != API_HOLD_REDIRECT)) {
            h->q[k++] = h->q[i];
            continue;
        }
        last = f;
        answer(api, h->q[i].req, f);
    }
    h->n = k;
    if (k == 0) {
        uv_check_stop(&h->check);
        if (last != API_HOLD_KEEP && h->batch)
            released(api, last, now);
    }
}

static void on_check(uv_check_t *c)
{
    release_due(c->data, false);
}

void api_hold_poll(struct node_api *api)
{
    if (api->hold.n)
        release_due(api, true);
}

bool api_hold_take(struct node_api *api, struct http_request *req)
{
    struct api_hold *h = &api->hold;
    if (never_held(req) || api->base->stopping)
        return false;
    switch (api_hold_admit(api->raft->cons.role == CONS_LEADER, cons_transferring(&api->raft->cons),
                           h->n)) {
    case API_HOLD_PASS:
        return false;
    case API_HOLD_FULL:
        http_respond_error(req, 503,
                           "leadership transfer in progress and %d writes already wait for it; "
                           "retry with the next leader",
                           API_HOLD_MAX);
        return true;
    case API_HOLD_WAIT:
        break;
    }
    if (!h->open) {
        uv_check_init(api->base->loop, &h->check);
        h->check.data = api;
        h->open = true;
    }
    uint64_t now = uv_now(api->base->loop);
    if (h->batch++ == 0) {
        h->first_since = now;
        node_event(api->base, "api.writes_held", api_gate_leader_id(api),
                   "a write arrived during the leadership transfer: writes wait here until it "
                   "ends (at most %" PRIu64 " ms), then go to the new leader (307)",
                   limit_ms(api));
    }
    h->q[h->n].req = req;
    h->q[h->n].since = now;
    h->n++;
    uv_check_start(&h->check, on_check);
    return true;
}

void api_hold_stop(struct node_api *api)
{
    struct api_hold *h = &api->hold;
    bool known = other_leader_known(api);
    for (size_t i = 0; i < h->n; i++) {
        if (known)
            api_gate_redirect_to_leader(api, h->q[i].req, h->q[i].req->path);
        else
            http_respond_error(h->q[i].req, 503, "node is shutting down");
    }
    if (h->n && h->batch)
        released(api, known ? API_HOLD_REDIRECT : API_HOLD_GIVE_UP, uv_now(api->base->loop));
    h->n = 0;
    if (h->open) {
        uv_check_stop(&h->check);
        uv_close((uv_handle_t *)&h->check, NULL);
        h->open = false;
    }
}
