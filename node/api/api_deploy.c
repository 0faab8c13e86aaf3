/* Deployments over HTTP:
 *   POST /deployments[?dry_run=1]  (admin) the manifest as the body: parsed
 *        (400 with the JSON path of the first problem), simulated on every
 *        node, healed, certified (deploy_plan.c), then committed to the
 *        ledger: 202 {"id","release","simulation","healing","certification"}
 *        once committed; 200 with "dry_run": true and nothing deployed; 422
 *        when not certified; 409 when another deployment is in progress or
 *        the release is the stable one (a dry run answers the same 409, with
 *        its plan: it predicts the refusal).
 *   GET  /deployments              {"current","stable","deployments":[...]}
 *   GET  /deployments/ID           one, with its nodes and events
 *   POST /rollback                 (admin) {} (the previous stable release)
 *        or {"to": VERSION}: 202 once the rollback is committed; 409 / 404
 *        with the reason.
 * Mutations reach only the leader: a follower answers 307 (api_notes.c). */
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/api/api.h"

static json_t *hex32(const uint8_t *b)
{
    char hex[65];
    ledger_hex(b, 32, hex);
    return json_string(hex);
}

static json_t *release_json(const struct pl_release *r)
{
    return json_pack("{s:s, s:s, s:o}", "name", r->name, "version", r->version, "digest",
                     hex32(r->digest));
}

static json_t *nullable(json_int_t v)
{
    return v ? json_integer(v) : json_null();
}

/* The members d passed over because they were down. */
static json_t *skipped(const struct pl_state *s, const struct pl_deployment *d)
{
    json_t *a = json_array();
    for (size_t i = 0; i < s->nnodes; i++)
        if (d->down[i])
            json_array_append_new(a, json_string(s->nodes[i]));
    return a;
}

static json_t *summary(const struct pl_state *s, const struct pl_deployment *d)
{
    return json_pack("{s:s, s:b, s:s?, s:o, s:s, s:I, s:o, s:s?, s:o}", "id", d->id, "rollback",
                     d->rollback, "target", d->rollback ? d->target : NULL, "release",
                     release_json(&d->release), "stage", pl_stage_name(d->stage), "started_ms",
                     (json_int_t)d->started_ms, "finished_ms", nullable((json_int_t)d->finished_ms),
                     "reason", d->reason[0] ? d->reason : NULL, "skipped", skipped(s, d));
}

json_t *api_deploy_summary(struct node_api *api)
{
    const struct pl_state *s = &api->deploy->pl;
    json_t *current = json_null(), *stable = json_null();
    if (s->active >= 0) {
        const struct pl_deployment *d = &s->deps[s->active];
        current = json_pack("{s:s, s:s, s:s, s:s}", "id", d->id, "name", d->release.name, "version",
                            d->release.version, "stage", pl_stage_name(d->stage));
    }
    if (s->stable >= 0) {
        const struct pl_deployment *d = &s->deps[s->stable];
        stable = json_pack("{s:s, s:s, s:s}", "id", d->id, "name", d->release.name, "version",
                           d->release.version);
    }
    return json_pack("{s:o, s:o, s:s}", "current", current, "stable", stable, "running",
                     api->deploy->run.plan.running);
}

void api_deploy_list(struct node_api *api, struct http_request *req)
{
    const struct pl_state *s = &api->deploy->pl;
    json_t *list = json_array();
    for (size_t i = s->ndeps; i-- > 0;)
        json_array_append_new(list, summary(s, &s->deps[i]));
    http_respond_json(
        req, 200,
        json_pack("{s:s?, s:s?, s:o}", "current", s->active >= 0 ? s->deps[s->active].id : NULL,
                  "stable", s->stable >= 0 ? s->deps[s->stable].id : NULL, "deployments", list));
}

/* What each node runs: the leader hears every node's reports; another node
 * knows only its own. A deposed leader still holds the reports it heard
 * while it led, which nothing refreshes: they are not shown as the others'
 * health now. "skipped": "down" names a member d passed over; "member" is
 * this node's view of it now (alive, suspect, dead: GET /federation/state's
 * "status"), so a report from a member that has gone down since is not
 * read as its health now. */
static json_t *nodes_json(struct node_api *api, const struct pl_deployment *d)
{
    const struct pl_state *s = &api->deploy->pl;
    bool leads = api->raft->cons.role == CONS_LEADER;
    json_t *nodes = json_array();
    for (size_t i = 0; i < s->nnodes; i++) {
        const struct pl_report *r = &s->reports[i];
        bool self = i == api->base->peers.self, known = self || (leads && s->reported[i]);
        const char *running = self ? api->deploy->run.plan.running : r->deployment;
        enum pl_health h =
            self ? (api->deploy->run.plan.running[0] ? api->deploy->run.verdict.health : PL_H_NONE)
                 : r->health;
        /* Only a healthy node has a time since when it is healthy. */
        uint64_t since = h != PL_H_HEALTHY ? 0
                         : self            ? api->deploy->run.verdict.healthy_since
                                           : r->healthy_since_ms;
        const char *detail = self ? api->deploy->run.verdict.detail : r->detail;
        const char *member =
            i < api->base->peers.n
                ? peer_status_name(self ? PEER_ALIVE : api->base->peers.m[i].status)
                : NULL;
        json_array_append_new(
            nodes, json_pack("{s:s, s:s, s:s?, s:s, s:o, s:s, s:s?, s:s?}", "node", s->nodes[i],
                             "desired", s->desired[i], "running", known ? running : NULL, "health",
                             known ? pl_health_name(h) : "unknown", "healthy_since_ms",
                             nullable((json_int_t)since), "detail", known ? detail : "", "skipped",
                             d->down[i] ? "down" : NULL, "member", member));
    }
    return nodes;
}

static json_t *events_about(struct node_api *api, const char *id)
{
    json_t *out = json_array();
    const struct event *all[EVENTS_CAPACITY];
    size_t k = events_query(&api->base->events, true, 0, EVENTS_CAPACITY, all);
    for (size_t i = 0; i < k; i++)
        if (strstr(all[i]->message, id))
            json_array_append_new(out, json_pack("{s:I, s:s, s:s}", "time_ms",
                                                 (json_int_t)all[i]->time_ms, "kind", all[i]->kind,
                                                 "message", all[i]->message));
    return out;
}

void api_deploy_get(struct node_api *api, struct http_request *req)
{
    const char *id = req->path + strlen("/deployments/");
    const struct pl_deployment *d = pl_find(&api->deploy->pl, id);
    if (!d) {
        http_respond_error(req, 404, "no deployment %s (GET /deployments lists them)", id);
        return;
    }
    json_t *o = summary(&api->deploy->pl, d);
    json_object_set_new(o, "waves", json_integer(d->waves));
    json_object_set_new(o, "nodes", nodes_json(api, d));
    json_object_set_new(o, "events", events_about(api, id));
    const struct node_release *rel =
        deploy_releases_find(api->deploy, d->rollback ? d->target : d->id);
    if (rel) {
        json_t *cert = json_loads(rel->cert, 0, NULL);
        json_object_set_new(o, "certification", cert ? cert : json_null());
    }
    http_respond_json(req, 200, o);
}

static void new_id(const char *prefix, char out[PL_ID_MAX])
{
    uint8_t r[4];
    randombytes_buf(r, sizeof(r));
    snprintf(out, PL_ID_MAX, "%s%02x%02x%02x%02x", prefix, r[0], r[1], r[2], r[3]);
}

/* The plan of a submitted release is ready (deploy_plan.c's completion):
 * answer the dry run, refuse the uncertified, or commit the release. Takes
 * the plan. */
static void planned(void *ctx, void *arg, const struct deploy_plan_outcome *o)
{
    struct node_api *api = ctx;
    struct http_request *req = arg;
    if (o->end == DEPLOY_PLAN_NO_MEMORY) {
        http_respond_error(req, 500, "out of memory");
        return;
    }
    if (o->end == DEPLOY_PLAN_STOPPING) {
        http_respond_error(req, 503, "the node is stopping; nothing was deployed");
        return;
    }
    const char *manifest = o->manifest;
    size_t mlen = o->mlen;
    const struct manifest *m = o->m;
    json_t *plan = o->plan;
    bool certified = o->certified, dry_run = o->dry_run;
    struct pl_release rel = {.policy = {.max_parallel = m->rollout.max_parallel,
                                        .min_healthy_time_ms = m->rollout.min_healthy_time_ms,
                                        .healthy_deadline_ms = m->rollout.healthy_deadline_ms,
                                        .progress_deadline_ms = m->rollout.progress_deadline_ms,
                                        .auto_revert = m->rollout.auto_revert}};
    snprintf(rel.name, sizeof(rel.name), "%s", m->name);
    snprintf(rel.version, sizeof(rel.version), "%s", m->version);
    manifest_digest(manifest, mlen, rel.digest);
    char id[PL_ID_MAX], why[512];
    new_id("d-", id);
    struct pl_record r;
    /* Asked of a dry run too, so that it predicts the real one's refusal
     * (after certification, as the real one). */
    int st = certified ? pl_begin(&api->deploy->pl, id, &rel, (uint64_t)node_wall_ms(), &r, why,
                                  sizeof(why))
                       : 0;
    if (dry_run) {
        json_object_set_new(plan, "dry_run", json_true());
        json_object_set_new(plan, "release", release_json(&rel));
        if (st != 0)
            json_object_set_new(plan, "error", json_string(why));
        http_respond_json(req, st != 0 ? st : 200, plan);
        return;
    }
    if (!certified) {
        json_object_set_new(plan, "error",
                            json_string("the release is not certified; nothing was deployed"));
        http_respond_json(req, 422, plan);
        return;
    }
    if (api->raft->cons.role != CONS_LEADER) {
        json_decref(plan);
        api_gate_redirect_to_leader(api, req, "/deployments");
        return;
    }
    if (st != 0) {
        json_object_set_new(plan, "error", json_string(why));
        http_respond_json(req, st, plan);
        return;
    }
    if (api_commit_wait_full(&api->waits)) {
        json_decref(plan);
        http_respond_error(req, 503, "too many changes waiting to commit; retry shortly");
        return;
    }
    char *cert = json_dumps(json_object_get(plan, "certification"), JSON_COMPACT);
    uint64_t index;
    char err[256];
    int rv = node_deploy_append(api->deploy, &r, manifest, mlen, cert, &index, err, sizeof(err));
    free(cert);
    if (rv != 0) {
        json_decref(plan);
        http_respond_error(req, 503, "cannot record the release: %s", err);
        return;
    }
    json_object_set_new(plan, "id", json_string(id));
    json_object_set_new(plan, "release", release_json(&rel));
    api_commit_wait_answer(&api->waits, &api->raft->cons, req, index, 202, plan);
}

void api_deploy_submit(struct node_api *api, struct http_request *req)
{
    if (api->raft->cons.role != CONS_LEADER) {
        api_gate_redirect_to_leader(api, req, "/deployments");
        return;
    }
    bool dry_run = strstr(req->query, "dry_run=1") || strstr(req->query, "dry_run=true");
    if (req->body_len == 0) {
        http_respond_json(req, 400,
                          json_pack("{s:s, s:s}", "error",
                                    "empty body: expected a release manifest (a JSON object)",
                                    "path", ""));
        return;
    }
    struct manifest m;
    struct manifest_error me;
    if (manifest_parse(req->body, req->body_len, &m, &me) != 0) {
        http_respond_json(req, 400, json_pack("{s:s, s:s}", "error", me.message, "path", me.path));
        return;
    }
    manifest_free(&m);
    enum deploy_plan_start rv =
        deploy_plan_start(api->deploy, req->body, req->body_len, dry_run, planned, api, req);
    if (rv == DEPLOY_PLAN_BUSY)
        http_respond_error(req, 409, "another release is being simulated; retry in a moment");
    else if (rv == DEPLOY_PLAN_CANNOT_HOLD)
        http_respond_error(req, 500, "cannot hold the manifest");
}

#define ROLLBACK_BODY "{} or {\"to\": \"VERSION\"}"

void api_deploy_rollback(struct node_api *api, struct http_request *req)
{
    if (api->raft->cons.role != CONS_LEADER) {
        api_gate_redirect_to_leader(api, req, "/rollback");
        return;
    }
    /* No body at all is {}: the previous stable release. */
    static const char *const known[] = {"to", NULL};
    json_t *body = req->body_len ? http_body_object(req, known, ROLLBACK_BODY) : json_object();
    if (!body)
        return;
    json_t *to = json_object_get(body, "to");
    if (to && !json_is_string(to) && !json_is_null(to)) {
        http_respond_json(req, 400,
                          json_pack("{s:s++, s:s}", "error",
                                    "to: must be a string, the version of an earlier stable "
                                    "release, not ",
                                    json_is_number(to)    ? "a number"
                                    : json_is_boolean(to) ? "true or false"
                                    : json_is_array(to)   ? "an array"
                                                          : "an object",
                                    " (expected " ROLLBACK_BODY ")", "path", "to"));
        json_decref(body);
        return;
    }
    char id[PL_ID_MAX], why[512];
    new_id("r-", id);
    struct pl_record r;
    int st = pl_rollback(&api->deploy->pl, id, json_is_string(to) ? json_string_value(to) : NULL,
                         (uint64_t)node_wall_ms(), &r, why, sizeof(why));
    json_decref(body);
    if (st != 0) {
        http_respond_error(req, st, "%s", why);
        return;
    }
    uint64_t index;
    char err[256];
    if (api_commit_wait_full(&api->waits)) {
        http_respond_error(req, 503, "too many changes waiting to commit; retry shortly");
        return;
    }
    if (node_deploy_append(api->deploy, &r, NULL, 0, NULL, &index, err, sizeof(err)) != 0) {
        http_respond_error(req, 503, "cannot record the rollback: %s", err);
        return;
    }
    const struct pl_deployment *t = pl_find(&api->deploy->pl, r.target);
    api_commit_wait_answer(&api->waits, &api->raft->cons, req, index, 202,
                           json_pack("{s:s, s:s, s:o, s:s, s:b}", "id", id, "target", r.target,
                                     "release", t ? release_json(&t->release) : json_null(),
                                     "reason", r.reason, "in_waves", r.in_waves));
}
