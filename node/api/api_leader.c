/* POST /leader/transfer {"to": "<member id>"} (the body, or "to", may be
 * left out: the most up-to-date follower): the leader hands leadership over
 * (§3.10, node_cons_transfer) and answers once the target leads: 200
 * {"from","to","term"}. A follower answers 307 to the leader; 409 when the
 * target is not another member, has not been heard within an election
 * timeout, or a transfer is already running; 503 when it failed (this node
 * leads on, or another member was elected). */
#include <jansson.h>

#include "node/api/api.h"

#define TRANSFER_BODY "{\"to\": \"<member id>\"} or no body"

static void transfer_ended(struct node_raft *r, void *arg, bool done, int32_t to, uint64_t term,
                           const char *why)
{
    struct http_request *req = arg;
    const char *tid = node_cons_member_id(r, to) ? node_cons_member_id(r, to) : "?";
    if (!done) {
        http_respond_error(req, 503, "leadership transfer to %s failed: %s", tid, why);
        return;
    }
    http_respond_json(
        req, 200,
        json_pack("{s:s, s:s, s:I}", "from", r->base->cfg.id, "to", tid, "term", (json_int_t)term));
}

void api_leader_transfer(struct node_api *api, struct http_request *req)
{
    if (api->raft->cons.role != CONS_LEADER) {
        api_gate_redirect_to_leader(api, req, "/leader/transfer");
        return;
    }
    static const char *const known[] = {"to", NULL};
    json_t *body = req->body_len ? http_body_object(req, known, TRANSFER_BODY) : json_object();
    if (!body)
        return;
    json_t *to = json_object_get(body, "to");
    int32_t target = CONS_NONE;
    if (to && !json_is_null(to) && !json_is_string(to)) {
        http_respond_json(
            req, 400,
            json_pack("{s:s, s:s}", "error",
                      "to: must be a string, the id of a member (expected " TRANSFER_BODY ")",
                      "path", "to"));
        json_decref(body);
        return;
    }
    if (json_is_string(to) && (target = peers_find(&api->base->peers, json_string_value(to))) < 0) {
        http_respond_error(req, 409, "to: \"%s\" is not a member of this federation",
                           json_string_value(to));
        json_decref(body);
        return;
    }
    json_decref(body);
    enum cons_transfer_rc rc =
        node_cons_transfer(api->raft, target, "requested over HTTP", transfer_ended, req);
    if (rc == CONS_TRANSFER_NOT_LEADER)
        api_gate_redirect_to_leader(api, req, "/leader/transfer");
    else if (rc != CONS_TRANSFER_OK)
        http_respond_error(
            req, 409, "cannot transfer leadership%s%s: %s", target >= 0 ? " to " : "",
            target >= 0 ? api->base->peers.m[target].id : "", cons_transfer_strerror(rc));
}
