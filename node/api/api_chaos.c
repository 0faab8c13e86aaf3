/* The chaos endpoints (README "Chaos"): GET /chaos, POST /chaos/inject,
 * POST /chaos/stop (the kill switch), POST /chaos/enable. The decisions
 * are chaos/injector.c's; the layer below (node/chaos) applies and heals. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "node/api/api.h"

#define INJECT_BODY                                                                                \
    "{\"kind\": K, \"target\": NODE, \"service\": S, \"peer\": P, \"duration_ms\": N | "           \
    "\"duration\": \"30s\", \"delay_ms\": N, \"force\": bool}"

void api_chaos_get(struct node_api *api, struct http_request *req)
{
    http_respond_json(req, 200, node_chaos_json(api->chaos));
}

/* Appends r and answers status with reply once it commits (503 when the
 * record cannot be appended or leadership is lost first). */
static void commit_and_answer(struct node_api *api, struct http_request *req,
                              const struct chaos_record *r, int status, json_t *reply)
{
    uint64_t index;
    char err[256];
    if (api_commit_wait_full(&api->waits)) {
        json_decref(reply);
        http_respond_error(req, 503, "too many changes waiting to commit; retry shortly");
        return;
    }
    if (node_chaos_append(api->chaos, r, &index, err, sizeof(err)) != 0) {
        json_decref(reply);
        http_respond_error(req, 503, "cannot record the chaos %s: %s", chaos_record_name(r->kind),
                           err);
        return;
    }
    json_object_set_new(reply, "index", json_integer((json_int_t)index));
    api_commit_wait_answer(&api->waits, &api->raft->cons, req, index, status, reply);
}

/* A refused fault: an event, a refused record (a bonus: it may not commit)
 * and 409 with the reason. */
static void refuse(struct node_api *api, struct http_request *req, const struct chaos_fault *want,
                   const char *reason)
{
    char err[256];
    uint64_t index;
    node_event(api->base, "chaos.refused", NULL, "%s", reason);
    struct chaos_record r = {.kind = CHAOS_REC_REFUSED, .has_fault = true, .fault = *want};
    snprintf(r.reason, sizeof(r.reason), "%s", reason);
    node_chaos_append(api->chaos, &r, &index, err, sizeof(err));
    http_respond_json(req, 409,
                      json_pack("{s:s, s:o}", "error", reason, "fault", chaos_fault_json(want)));
}

void api_chaos_inject(struct node_api *api, struct http_request *req)
{
    if (api->raft->cons.role != CONS_LEADER) {
        api_gate_redirect_to_leader(api, req, "/chaos/inject");
        return;
    }
    static const char *const known[] = {"kind",        "target",   "service", "peer", "duration",
                                        "duration_ms", "delay_ms", "force",   NULL};
    json_t *body = http_body_object(req, known, INJECT_BODY);
    if (!body)
        return;
    struct chaos_fault want;
    char err[256];
    int rv = chaos_request_from_json(body, &want, err, sizeof(err));
    json_decref(body);
    if (rv != 0) {
        http_respond_error(req, 400, "%s (expected %s)", err, INJECT_BODY);
        return;
    }
    struct chaos_decision d;
    node_chaos_check(api->chaos, &want, &d);
    if (d.action != CHAOS_ACT_INJECT) {
        refuse(api, req, &want, d.reason);
        return;
    }
    node_chaos_fault_id(api->chaos, d.fault.id, sizeof(d.fault.id));
    struct chaos_record r = {.kind = CHAOS_REC_FAULT, .fault = d.fault};
    commit_and_answer(api, req, &r, 201, json_pack("{s:o}", "fault", chaos_fault_json(&d.fault)));
}

/* The kill switch: every fault applied here heals at once, whatever this
 * node's state (read-only included: the gate lets this one through), then
 * the stop is committed through the leader so that every node heals and
 * the injector stays off until POST /chaos/enable. */
void api_chaos_stop(struct node_api *api, struct http_request *req)
{
    char why[96];
    snprintf(why, sizeof(why), "POST /chaos/stop on %s", api->base->cfg.id);
    size_t healed = node_chaos_heal_local(api->chaos, "stopped (POST /chaos/stop)");
    if (api->raft->cons.role == CONS_LEADER) {
        struct chaos_record r = {.kind = CHAOS_REC_STOP};
        snprintf(r.reason, sizeof(r.reason), "%s", why);
        commit_and_answer(api, req, &r, 200,
                          json_pack("{s:I, s:b}", "healed_here", (json_int_t)healed, "stopped", 1));
        return;
    }
    const char *leader = api_gate_leader_id(api);
    if (!api_gate_read_only(api) && leader) {
        api_gate_redirect_to_leader(api, req, "/chaos/stop");
        return;
    }
    /* Cut off from the leader: healed here; the stop is not recorded. */
    http_respond_json(
        req, 200,
        json_pack("{s:I, s:b, s:s}", "healed_here", (json_int_t)healed, "stopped", 0, "warning",
                  "healed on this node only: it knows no quorum-backed leader to record the "
                  "stop; send POST /chaos/stop to a node on the majority side too"));
}

void api_chaos_enable(struct node_api *api, struct http_request *req)
{
    if (api->raft->cons.role != CONS_LEADER) {
        api_gate_redirect_to_leader(api, req, "/chaos/enable");
        return;
    }
    struct chaos_record r = {.kind = CHAOS_REC_ENABLE};
    commit_and_answer(api, req, &r, 200, json_pack("{s:b}", "stopped", 0));
}
