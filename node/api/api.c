/* The HTTP API's read side: every answer is built from the loop's state on
 * the loop thread. Field names are a stable contract (design guide, HTTP
 * API): extend, never rename. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "node/api/api.h"

/* A member's role as far as this node can tell: its own from the core, the
 * leader it follows, and "follower" for the rest it hears from. */
static const char *member_role(const struct node_api *api, size_t i)
{
    if (i == api->base->peers.self)
        return cons_role_name(api->raft->cons.role);
    if ((int32_t)i == api->raft->cons.leader)
        return "leader";
    return api->base->peers.m[i].status == PEER_DEAD ? "unknown" : "follower";
}

static json_t *peer_json(const struct node_api *api, size_t i, uint64_t now)
{
    const struct peer *p = &api->base->peers.m[i];
    int64_t age = peers_age_ms(&api->base->peers, i, now);
    return json_pack("{s:s, s:s, s:s?, s:s, s:s, s:o, s:b}", "node", p->id, "address", p->address,
                     "http", p->http[0] ? p->http : NULL, "role", member_role(api, i), "status",
                     peer_status_name(p->status), "last_contact_ms",
                     age < 0 ? json_null() : json_integer(age), "self", p->self);
}

/* ---- the health of the release each member runs ---------------------- */

enum pl_health api_own_health(const struct node_api *api)
{
    return api->deploy->run.plan.running[0] ? api->deploy->run.verdict.health : PL_H_NONE;
}

/* What member i runs as far as this node knows: itself from its own state,
 * the others from their reports when it leads (only the leader hears
 * them). False when unknown. */
static bool member_release(const struct node_api *api, size_t i, const char **deployment,
                           enum pl_health *h, const char **detail)
{
    const struct pl_state *s = &api->deploy->pl;
    if (i == api->base->peers.self) {
        *deployment = api->deploy->run.plan.running;
        *h = api_own_health(api);
        *detail = api->deploy->run.verdict.detail;
        return true;
    }
    if (api->raft->cons.role != CONS_LEADER || i >= s->nnodes || !s->reported[i])
        return false;
    *deployment = s->reports[i].deployment;
    *h = s->reports[i].health;
    *detail = s->reports[i].detail;
    return true;
}

static const struct pl_release *release_of(const struct node_api *api, const char *deployment)
{
    const struct pl_deployment *d = deployment[0] ? pl_find(&api->deploy->pl, deployment) : NULL;
    return d ? &d->release : NULL;
}

static json_t *str_or_null(const char *s)
{
    return s && s[0] ? json_string(s) : json_null();
}

static json_t *member_release_json(const struct node_api *api, size_t i)
{
    const char *dep, *detail;
    enum pl_health h;
    if (!member_release(api, i, &dep, &h, &detail))
        return json_null();
    const struct pl_release *rel = release_of(api, dep);
    return json_pack("{s:o, s:o, s:s, s:o}", "running", str_or_null(dep), "version",
                     str_or_null(rel ? rel->version : NULL), "health", pl_health_name(h), "detail",
                     str_or_null(detail));
}

/* "degraded" and "unhealthy_nodes" of a summary object (stable, current):
 * the members known to run its release unhealthy, crashed or not started. */
static void add_degraded(const struct node_api *api, json_t *summary)
{
    if (!json_is_object(summary))
        return;
    const char *name = json_string_value(json_object_get(summary, "name"));
    const char *version = json_string_value(json_object_get(summary, "version"));
    json_t *bad = json_array();
    for (size_t i = 0; i < api->base->peers.n && name && version; i++) {
        const char *dep, *detail;
        enum pl_health h;
        if (!member_release(api, i, &dep, &h, &detail) || !release_watch_bad(h))
            continue;
        const struct pl_release *rel = release_of(api, dep);
        if (rel && strcmp(rel->name, name) == 0 && strcmp(rel->version, version) == 0)
            json_array_append_new(bad, json_string(api->base->peers.m[i].id));
    }
    json_object_set_new(summary, "degraded", json_boolean(json_array_size(bad) > 0));
    json_object_set_new(summary, "unhealthy_nodes", bad);
}

/* A service's state: spawned and not yet healthy is "starting"; one an
 * earlier service's failure kept from starting is "stopped". */
const char *api_service_state(const struct deploy_run *r, size_t i)
{
    const struct deploy_service_run *s = &r->svc[i];
    if (i >= r->nsvc)
        return "stopped";
    if (s->v.exited)
        return "exited";
    if (s->proc)
        return s->v.healthy || s->v.unhealthy ? "running" : "starting";
    return r->verdict.health == PL_H_START_FAILED && i + 1 == r->nsvc ? "start_failed" : "stopped";
}

static const char *service_health(const struct deploy_service_run *s)
{
    return !s->proc ? "none" : s->v.healthy ? "healthy" : s->v.unhealthy ? "unhealthy" : "starting";
}

/* Why service i is not well ("" when it is). */
static void service_detail(const struct deploy_run *r, size_t i, char *out, size_t cap)
{
    const struct deploy_service_run *s = &r->svc[i];
    const char *state = api_service_state(r, i);
    out[0] = '\0';
    if (strcmp(state, "exited") == 0)
        snprintf(out, cap, "exited (%s %d)", s->v.sig ? "signal" : "status",
                 s->v.sig ? s->v.sig : (int)s->v.status);
    else if (strcmp(state, "start_failed") == 0)
        snprintf(out, cap, "%s", r->verdict.detail);
    else if (s->proc && s->v.unhealthy && !s->v.healthy)
        snprintf(out, cap, "%s", s->v.last_error);
}

static json_t *services_json(const struct node_api *api)
{
    const struct deploy_run *r = &api->deploy->run;
    json_t *out = json_array();
    for (size_t i = 0; r->plan.running[0] && r->have_manifest && i < r->m.nservices; i++) {
        const struct deploy_service_run *s = &r->svc[i];
        bool started = i < r->nsvc;
        char detail[PL_DETAIL_MAX]; /* a last error, or the node's detail */
        service_detail(r, i, detail, sizeof(detail));
        json_array_append_new(
            out,
            json_pack("{s:s, s:s, s:o, s:o, s:s, s:o}", "name", r->m.services[i].name, "state",
                      api_service_state(r, i), "pid",
                      started && s->proc ? json_integer(drv_pid(s->proc)) : json_null(), "port",
                      started && s->port ? json_integer(s->port) : json_null(), "health",
                      started ? service_health(s) : "none", "detail", str_or_null(detail)));
    }
    return out;
}

/* The release summary (api_deploy.c) with this node's release, its health
 * and its services, and what the federation knows of the stable and the
 * current release's health. */
static json_t *release_json(struct node_api *api)
{
    json_t *o = api_deploy_summary(api);
    const struct deploy_run *r = &api->deploy->run;
    const struct pl_release *rel = release_of(api, r->plan.running);
    enum pl_health h = api_own_health(api);
    json_object_set_new(o, "name", str_or_null(rel ? rel->name : NULL));
    json_object_set_new(o, "version", str_or_null(rel ? rel->version : NULL));
    json_object_set_new(o, "health", json_string(pl_health_name(h)));
    json_object_set_new(o, "healthy_since_ms",
                        h == PL_H_HEALTHY && r->verdict.healthy_since
                            ? json_integer((json_int_t)r->verdict.healthy_since)
                            : json_null());
    json_object_set_new(o, "detail", str_or_null(h == PL_H_NONE ? NULL : r->verdict.detail));
    json_object_set_new(o, "services", services_json(api));
    add_degraded(api, json_object_get(o, "stable"));
    add_degraded(api, json_object_get(o, "current"));
    return o;
}

/* How far member i's ledger is, as far as this node knows: its own, and on
 * the leader every other voter's match index (what it is known to hold)
 * and the commit index the leader lets it apply (never past that match);
 * null elsewhere. For the console's member cards. */
static json_t *member_ledger_json(const struct node_api *api, size_t i)
{
    const struct cons *c = &api->raft->cons;
    if (i == api->base->peers.self)
        return json_pack("{s:I, s:I}", "index", (json_int_t)c->last_log_index, "committed",
                         (json_int_t)c->commit);
    if (c->role != CONS_LEADER || i >= (size_t)c->cfg.n)
        return json_null();
    uint64_t match = c->match_index[i];
    return json_pack("{s:I, s:I}", "index", (json_int_t)match, "committed",
                     (json_int_t)(match < c->commit ? match : c->commit));
}

static void get_state(struct node_api *api, struct http_request *req)
{
    uint64_t now = uv_now(api->base->loop);
    json_t *peers = json_array();
    for (size_t i = 0; i < api->base->peers.n; i++) {
        json_t *p = peer_json(api, i, now);
        json_object_set_new(p, "release", member_release_json(api, i));
        json_object_set_new(p, "ledger", member_ledger_json(api, i));
        json_array_append_new(peers, p);
    }
    json_t *state = json_pack(
        "{s:s, s:s, s:I, s:s?, s:b, s:i, s:o, s:o, s:o, s:s, s:I, s:I}", "node", api->base->cfg.id,
        "role", cons_role_name(api->raft->cons.role), "term", (json_int_t)api->raft->cons.term,
        "leader", api_gate_leader_id(api), "read_only", api_gate_read_only(api), "quorum",
        (int)cons_quorum(&api->raft->cons), "peers", peers, "ledger", api_ledger_summary(api),
        "release", release_json(api), "version", CHIMERA_VERSION, "uptime_ms",
        (json_int_t)(now - api->base->started_ms), "boot", (json_int_t)api->base->boot);
    http_respond_json(req, 200, state);
}

/* The console (api_ui.c) is the node's front page. */
static void get_root(struct node_api *api, struct http_request *req)
{
    (void)api;
    http_respond_redirect(req, 302, "/ui/", NULL);
}

static void get_live(struct node_api *api, struct http_request *req)
{
    http_respond_json(req, 200,
                      json_pack("{s:s, s:s, s:I}", "status", "ok", "node", api->base->cfg.id,
                                "uptime_ms",
                                (json_int_t)(uv_now(api->base->loop) - api->base->started_ms)));
}

/* Why this node's release makes it unready ("" when it does not): it
 * crashed, could not start, or its health checks failed past their
 * unhealthy_threshold (that is when a release is unhealthy at all, so a
 * probe that fails once does not flap readiness). A release still starting
 * keeps the node ready: every node starts one in each rollout. A node that
 * runs nothing is ready. *service names the service at fault. */
static void release_problem(const struct node_api *api, char *out, size_t cap, const char **service)
{
    const struct deploy_run *r = &api->deploy->run;
    enum pl_health h = api_own_health(api);
    out[0] = '\0';
    *service = NULL;
    if (!release_watch_bad(h))
        return;
    for (size_t i = 0; i < r->nsvc && r->have_manifest && !*service; i++) {
        const char *st = api_service_state(r, i);
        if (strcmp(st, "exited") == 0 || strcmp(st, "start_failed") == 0 ||
            strcmp(service_health(&r->svc[i]), "unhealthy") == 0)
            *service = r->m.services[i].name;
    }
    const struct pl_release *rel = release_of(api, r->plan.running);
    char what[PL_ID_MAX + PL_VERSION_MAX + 1] = "";
    if (rel)
        snprintf(what, sizeof(what), "%s %s ", rel->name, rel->version);
    snprintf(out, cap, "release %s(deployment %s) is %s%s%s%s: %s", what, r->plan.running,
             pl_health_name(h), *service ? " (service " : "", *service ? *service : "",
             *service ? ")" : "", r->verdict.detail[0] ? r->verdict.detail : "no detail");
}

/* /health/ready: when the ledger cannot be written, answers req 503
 * {"status":"unavailable","node","reason","leader","read_only"} with the
 * cause as reason, and returns true. */
static bool ledger_unready(struct node_api *api, struct http_request *req)
{
    char why[256];
    if (node_ledger_writable(api->raft, why, sizeof(why)))
        return false;
    const struct cons *c = &api->raft->cons;
    const char *leader = c->leader >= 0 && (size_t)c->leader < api->base->peers.n
                             ? api->base->peers.m[c->leader].id
                             : NULL;
    http_respond_json(req, 503,
                      json_pack("{s:s, s:s, s:s, s:s?, s:b}", "status", "unavailable", "node",
                                api->base->cfg.id, "reason", why, "leader", leader, "read_only",
                                cons_read_only(c, uv_now(api->base->loop))));
    return true;
}

static void get_ready(struct node_api *api, struct http_request *req)
{
    if (ledger_unready(api, req))
        return; /* the disk refuses writes: 503 naming why */
    const char *leader = api_gate_leader_id(api);
    bool ro = api_gate_read_only(api);
    char problem[PL_DETAIL_MAX + 384]; /* release, deployment, service and the detail */
    const char *service;
    release_problem(api, problem, sizeof(problem), &service);
    const char *health = pl_health_name(api_own_health(api));
    if (leader && !ro && !problem[0]) {
        http_respond_json(req, 200,
                          json_pack("{s:s, s:s, s:s, s:I, s:b, s:s}", "status", "ok", "node",
                                    api->base->cfg.id, "leader", leader, "term",
                                    (json_int_t)api->raft->cons.term, "read_only", 0,
                                    "release_health", health));
        return;
    }
    const char *quorum = leader && !ro ? NULL
                         : leader      ? "the leader has lost contact with a quorum"
                                       : "no quorum-backed leader is known";
    char reason[sizeof(problem) + 64];
    snprintf(reason, sizeof(reason), "%s%s%s", quorum ? quorum : "",
             quorum && problem[0] ? "; " : "", problem);
    http_respond_json(req, 503,
                      json_pack("{s:s, s:s, s:s, s:s?, s:b, s:s, s:s?}", "status", "unavailable",
                                "node", api->base->cfg.id, "reason", reason, "leader", leader,
                                "read_only", ro, "release_health", health, "service", service));
}

/* ---- the route table: every endpoint, in one place ---- */

/* Which methods a row takes. */
enum route_method {
    ROUTE_READ,     /* GET or HEAD */
    ROUTE_GET,      /* GET only */
    ROUTE_POST,     /* POST only */
    ROUTE_MUTATION, /* anything but GET and HEAD: the handler says which it takes */
};

/* How a row's path is matched. */
enum route_match {
    PATH_TRIMMED, /* equal, once trailing slashes are dropped ("/events/" is "/events") */
    PATH_EXACT,   /* equal to the letter */
    PATH_PREFIX,  /* starts with it (the rest is an id) */
};

/* Rows are tried in order. Open rows answer before the mutation gate (a
 * mutation sent to one is refused 405 at once); every mutation that reaches
 * the gated rows, or no row, passes the gate first (admin token, then
 * read-only mode). A row whose path matches and whose method does not
 * answers 405 "<method> <path>: <refuse>", unless refuse is NULL (then
 * the search goes on, and ends in 404). */
static const struct api_route {
    bool gated;
    enum route_method method;
    const char *path;
    enum route_match match;
    void (*handle)(struct node_api *api, struct http_request *req);
    bool admin; /* needs the admin token: a mutation */
    const char *refuse;
} routes[] = {
    {false, ROUTE_READ, "/federation/state", PATH_TRIMMED, get_state, false,
     "method not allowed; use GET"},
    {false, ROUTE_READ, "/", PATH_EXACT, get_root, false, "method not allowed; use GET"},
    {false, ROUTE_READ, "/events", PATH_TRIMMED, api_events_get, false,
     "method not allowed; use GET"},
    {false, ROUTE_GET, "/events/stream", PATH_TRIMMED, api_events_stream, false,
     "method not allowed; use GET"},
    {false, ROUTE_READ, "/health/live", PATH_TRIMMED, get_live, false,
     "method not allowed; use GET"},
    {false, ROUTE_READ, "/health/ready", PATH_TRIMMED, get_ready, false,
     "method not allowed; use GET"},
    {false, ROUTE_READ, "/metrics", PATH_TRIMMED, api_metrics_get, false,
     "method not allowed; use GET"},
    {false, ROUTE_READ, "/ledger", PATH_TRIMMED, api_ledger_get, false,
     "method not allowed; use GET"},
    {false, ROUTE_READ, "/recovery", PATH_TRIMMED, api_recovery_get, false,
     "method not allowed; use GET"},
    {false, ROUTE_READ, "/ledger/head", PATH_TRIMMED, api_ledger_get_head, false,
     "method not allowed; use GET"},
    {true, ROUTE_GET, "/deployments", PATH_TRIMMED, api_deploy_list, false, "use GET or POST"},
    {true, ROUTE_POST, "/deployments", PATH_TRIMMED, api_deploy_submit, true, "use GET or POST"},
    {true, ROUTE_GET, "/deployments/", PATH_PREFIX, api_deploy_get, false, "use GET"},
    {true, ROUTE_POST, "/rollback", PATH_EXACT, api_deploy_rollback, true, "use POST"},
    {true, ROUTE_MUTATION, "/ledger/notes", PATH_TRIMMED, api_notes_post, true, NULL},
    {false, ROUTE_READ, "/chaos", PATH_TRIMMED, api_chaos_get, false,
     "method not allowed; use GET"},
    {true, ROUTE_POST, "/chaos/inject", PATH_TRIMMED, api_chaos_inject, true, "use POST"},
    {true, ROUTE_POST, "/chaos/stop", PATH_TRIMMED, api_chaos_stop, true, "use POST"},
    {true, ROUTE_POST, "/chaos/enable", PATH_TRIMMED, api_chaos_enable, true, "use POST"},
    {false, ROUTE_READ, "/drills", PATH_TRIMMED, api_drills_get, false, NULL},
    {true, ROUTE_POST, "/drills", PATH_TRIMMED, api_drills_post, true, "use GET or POST"},
    {true, ROUTE_POST, "/leader/transfer", PATH_TRIMMED, api_leader_transfer, true, "use POST"},
    /* The console (api_ui.c). */
    {false, ROUTE_READ, "/ui", PATH_EXACT, api_ui_get, false, "method not allowed; use GET"},
    {false, ROUTE_READ, "/ui/", PATH_PREFIX, api_ui_get, false, "method not allowed; use GET"},
};

static bool method_fits(enum route_method m, const char *method)
{
    switch (m) {
    case ROUTE_READ:
        return !api_gate_is_mutation(method);
    case ROUTE_GET:
        return strcmp(method, "GET") == 0;
    case ROUTE_POST:
        return strcmp(method, "POST") == 0;
    case ROUTE_MUTATION:
        return api_gate_is_mutation(method);
    }
    return false;
}

static bool path_fits(const struct api_route *r, const char *path, size_t plen)
{
    size_t rlen = strlen(r->path);
    switch (r->match) {
    case PATH_TRIMMED:
        return rlen == plen && strncmp(r->path, path, plen) == 0;
    case PATH_EXACT:
        return strcmp(r->path, path) == 0;
    case PATH_PREFIX:
        return strncmp(r->path, path, rlen) == 0;
    }
    return false;
}

/* What one scan of the table found for a request: per tier (open, gated),
 * the row to serve it and the first row whose path fits (its 405), and
 * the first fitting row of all, whose path labels the request in /metrics. */
struct route_found {
    const struct api_route *serve[2], *fits[2];
    const struct api_route *label;
};

static struct route_found route_find(const struct http_request *req, size_t plen)
{
    struct route_found f = {0};
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        const struct api_route *r = &routes[i];
        if (!path_fits(r, req->path, plen))
            continue;
        if (!f.label)
            f.label = r;
        if (!f.fits[r->gated])
            f.fits[r->gated] = r;
        if (!f.serve[r->gated] && method_fits(r->method, req->method))
            f.serve[r->gated] = r;
    }
    return f;
}

/* Serves req from the tier's row, or refuses it 405 when a row's path fits
 * and its method does not: true when answered. */
static bool route(struct node_api *api, struct http_request *req, const struct route_found *f,
                  bool gated)
{
    if (f->serve[gated]) {
        f->serve[gated]->handle(api, req);
        return true;
    }
    const struct api_route *matched = f->fits[gated];
    if (!matched || !matched->refuse)
        return false;
    http_respond_error(req, 405, "%s %s: %s", req->method,
                       matched->match == PATH_PREFIX ? req->path : matched->path, matched->refuse);
    return true;
}

static size_t trimmed_len(const char *path)
{
    size_t plen = strlen(path);
    while (plen > 1 && path[plen - 1] == '/')
        plen--; /* "/events/" is "/events" */
    return plen;
}

/* Serves req from what the scan of the table found (the gates first). */
static void dispatch(struct node_api *api, struct http_request *req, size_t plen,
                     const struct route_found *found)
{
    if (!api_gate_is_mutation(req->method) && !api_gate_read(api, req, plen))
        return;
    if (route(api, req, found, false))
        return;
    if (api_gate_is_mutation(req->method) && !api_gate_mutation(api, req, found->serve[true]))
        return;
    if (route(api, req, found, true))
        return;
    http_respond_error(req, 404, "%s %s: no such endpoint", req->method, req->path);
}

void api_handle(void *ctx, struct http_request *req)
{
    struct node_api *api = ctx;
    api->base->metrics.http_requests++;
    size_t plen = trimmed_len(req->path);
    struct route_found found = route_find(req, plen);
    /* The first row whose path fits, whatever the method, or "other"
     * (never the raw path: the labels stay bounded). api_metrics.c tells
     * the series apart by this pointer. */
    req->route = found.label ? found.label->path : api_route_other;
    req->started_ns = uv_hrtime();
    req->answer_ctx = api;
    req->on_answer = api_metrics_answered;
    dispatch(api, req, plen, &found);
}

void api_serve_held(struct node_api *api, struct http_request *req, const struct api_route *row)
{
    if (!api_gate_refuse_read_only(api, req))
        row->handle(api, req);
}
