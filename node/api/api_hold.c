/* Writes that arrive while leadership is handed over (§3.10) wait here
 * instead of being refused: the hand-over takes milliseconds, and a 503
 * would send the client into a back-off of its own. On the old leader they
 * wait until the target stands for election with this node's vote, then
 * get a 307 to it, which a client follows at once (or, when the transfer
 * failed and this node leads on, go to their endpoint as if they had just
 * arrived); on the target they wait until it wins, and are taken in the
 * output that made it leader, in the same group as its election entry: the
 * client's round trip overlaps the votes, and one commit serves both. What
 * becomes of each is hold_rule.c's decision; this file asks it after every
 * output of the Raft layer (api_hold_poll) and after every turn of the loop
 * while writes wait (a uv_check handle); either way in the turn the
 * decision came in, before a SIGTERM's stop, which waits for the next turn,
 * closes the listener. A transfer ends within an election timeout
 * (transfer.c), and no write waits longer than that. */
#include <inttypes.h>
#include <string.h>

#include "node/api/api.h"
#include "pipeline/core/manifest.h"

static uint64_t limit_ms(const struct node_api *api)
{
    return api->base->cfg.election_timeout_ms;
}

/* Member m is another member whose HTTP address is known (a 307's target). */
static bool reachable(const struct node_api *api, int32_t m)
{
    return m >= 0 && (size_t)m < api->base->peers.n && m != api->raft->cons.cfg.self &&
           api->base->peers.m[m].http[0];
}

/* Where a write goes from here: the leader, or the successor standing. */
static int32_t next_leader(const struct node_api *api)
{
    const struct cons *c = &api->raft->cons;
    return reachable(api, c->leader) ? c->leader : cons_transfer_successor(c);
}

static struct api_hold_view view(const struct node_api *api)
{
    const struct cons *c = &api->raft->cons;
    return (struct api_hold_view){
        .leader = c->role == CONS_LEADER,
        .transferring = cons_transferring(c),
        .standing = node_cons_standing_by_transfer(api->raft),
        .leader_known = reachable(api, c->leader),
        .successor_known = reachable(api, cons_transfer_successor(c)),
    };
}

static bool never_held(const struct http_request *req)
{
    /* A second transfer is refused at once (409), not sent to the next
     * leader. (The kill switch never gets here: gate.c lets it through
     * before the hold.) */
    return strcmp(req->path, "/leader/transfer") == 0;
}

/* to: where a REDIRECT goes (next_leader, asked once per release). */
static void answer(struct node_api *api, struct http_request *req, const struct api_route *row,
                   enum api_hold_fate fate, int32_t to)
{
    switch (fate) {
    case API_HOLD_RETRY:
        api_serve_held(api, req, row);
        break;
    case API_HOLD_REDIRECT:
        api_gate_redirect_to(api, req, req->path, to);
        break;
    case API_HOLD_KEEP: /* release_due keeps those: never answered here */
        break;
    case API_HOLD_GIVE_UP: {
        char within[32];
        http_respond_error(req, 503,
                           "leadership transfer did not end with a known leader within %s; retry "
                           "shortly",
                           manifest_duration_text(limit_ms(api), within, sizeof(within)));
        break;
    }
    }
}

static void released(struct node_api *api, enum api_hold_fate fate, uint64_t now, int32_t next)
{
    struct api_hold *h = &api->hold;
    const char *to = fate == API_HOLD_REDIRECT ? node_cons_member_id(api->raft, next) : NULL;
    bool successor = to && api->raft->cons.leader == CONS_NONE;
    char held[32];
    node_event(api->base, "api.writes_released", to,
               "%zu write%s held during the leadership transfer for %s: %s%s%s", h->batch,
               h->batch == 1 ? "" : "s",
               manifest_duration_text(now - h->first_since, held, sizeof(held)),
               fate == API_HOLD_REDIRECT ? "sent to the new leader "
               : fate == API_HOLD_RETRY  ? "taken here (this node leads)"
                                         : "refused (503): no leader known",
               to ? to : "", successor ? ", which stands for election with this node's vote" : "");
    h->batch = 0;
}

/* Answers every held write whose fate is decided, keeps the others. Not
 * again from inside itself: a write taken here appends, and the Raft
 * layer's output hook (api_hold_poll) may then find the queue being
 * walked. */
static void release_due(struct node_api *api)
{
    struct api_hold *h = &api->hold;
    if (h->releasing || h->n == 0)
        return;
    uint64_t now = uv_now(api->base->loop);
    struct api_hold_view v = view(api);
    /* Asked once, for the first write released: the same for every one
     * released now, since nothing below changes who leads (a write taken
     * here only appends). */
    int32_t to = CONS_NONE;
    enum api_hold_fate last = API_HOLD_KEEP;
    h->releasing = true;
    size_t k = 0;
    for (size_t i = 0; i < h->n; i++) {
        enum api_hold_fate f = api_hold_fate(&v, now, h->q[i].since, limit_ms(api));
        if (f == API_HOLD_KEEP) {
            h->q[k++] = h->q[i];
            continue;
        }
        if (last == API_HOLD_KEEP)
            to = next_leader(api);
        last = f;
        answer(api, h->q[i].req, h->q[i].row, f, to);
    }
    h->n = k;
    h->releasing = false;
    if (k == 0) {
        uv_check_stop(&h->check);
        if (last != API_HOLD_KEEP && h->batch)
            released(api, last, now, to);
    }
}

static void on_check(uv_check_t *c)
{
    release_due(c->data);
}

void api_hold_poll(struct node_api *api)
{
    release_due(api);
}

bool api_hold_take(struct node_api *api, struct http_request *req, const struct api_route *row)
{
    struct api_hold *h = &api->hold;
    if (never_held(req) || api->base->stopping)
        return false;
    struct api_hold_view v = view(api);
    switch (api_hold_admit(&v, h->n)) {
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
        char most[32];
        node_event(api->base, "api.writes_held", node_cons_member_id(api->raft, next_leader(api)),
                   v.standing ? "a write arrived while this node stands for election as its "
                                "leader's successor: writes wait here until it wins (at most "
                                "%s), then are taken with its first entry"
                              : "a write arrived during the leadership transfer: writes wait "
                                "here until the successor stands (at most %s), then go to it "
                                "(307)",
                   manifest_duration_text(limit_ms(api), most, sizeof(most)));
    }
    h->q[h->n].req = req;
    h->q[h->n].row = row;
    h->q[h->n].since = now;
    h->n++;
    uv_check_start(&h->check, on_check);
    return true;
}

void api_hold_stop(struct node_api *api)
{
    struct api_hold *h = &api->hold;
    int32_t to = next_leader(api);
    bool known = reachable(api, to);
    for (size_t i = 0; i < h->n; i++) {
        if (known)
            api_gate_redirect_to(api, h->q[i].req, h->q[i].req->path, to);
        else
            http_respond_error(h->q[i].req, 503, "node is shutting down");
    }
    if (h->n && h->batch)
        released(api, known ? API_HOLD_REDIRECT : API_HOLD_GIVE_UP, uv_now(api->base->loop), to);
    h->n = 0;
    if (h->open) {
        uv_check_stop(&h->check);
        uv_close((uv_handle_t *)&h->check, NULL);
        h->open = false;
    }
}
