/* The HTTP API's read side: every answer is built from the loop's state on
 * the loop thread. Field names are a stable contract (design guide, HTTP
 * API): extend, never rename. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "node/node.h"

/* As transport drops (node.c): one api.auth_failure event per interval. */
#define AUTH_EVENT_INTERVAL_MS 5000

/* Why a request failed the token check: the index of its counter. */
enum auth_failure { AUTH_MISSING, AUTH_WRONG };

static const char *leader_id(const struct node *n)
{
    int32_t l = n->cons.leader;
    return l >= 0 && (size_t)l < n->peers.n ? n->peers.m[l].id : NULL;
}

static bool read_only(const struct node *n)
{
    return cons_read_only(&n->cons, uv_now(n->loop));
}

/* A member's role as far as this node can tell: its own from the core, the
 * leader it follows, and "follower" for the rest it hears from. */
static const char *member_role(const struct node *n, size_t i)
{
    if (i == n->peers.self)
        return cons_role_name(n->cons.role);
    if ((int32_t)i == n->cons.leader)
        return "leader";
    return n->peers.m[i].status == PEER_DEAD ? "unknown" : "follower";
}

static json_t *peer_json(const struct node *n, size_t i, uint64_t now)
{
    const struct peer *p = &n->peers.m[i];
    int64_t age = peers_age_ms(&n->peers, i, now);
    return json_pack("{s:s, s:s, s:s?, s:s, s:s, s:o, s:b}", "node", p->id, "address", p->address,
                     "http", p->http[0] ? p->http : NULL, "role", member_role(n, i), "status",
                     peer_status_name(p->status), "last_contact_ms",
                     age < 0 ? json_null() : json_integer(age), "self", p->self);
}

/* ---- the health of the release each member runs ---------------------- */

static enum pl_health own_health(const struct node *n)
{
    return n->run.running[0] ? n->run.health : PL_H_NONE;
}

/* What member i runs as far as this node knows: itself from its own state,
 * the others from their reports when it leads (only the leader hears
 * them). False when unknown. */
static bool member_release(const struct node *n, size_t i, const char **deployment,
                           enum pl_health *h, const char **detail)
{
    const struct pl_state *s = &n->deploy.pl;
    if (i == n->peers.self) {
        *deployment = n->run.running;
        *h = own_health(n);
        *detail = n->run.detail;
        return true;
    }
    if (n->cons.role != CONS_LEADER || i >= s->nnodes || !s->reported[i])
        return false;
    *deployment = s->reports[i].deployment;
    *h = s->reports[i].health;
    *detail = s->reports[i].detail;
    return true;
}

static const struct pl_release *release_of(const struct node *n, const char *deployment)
{
    const struct pl_deployment *d = deployment[0] ? pl_find(&n->deploy.pl, deployment) : NULL;
    return d ? &d->release : NULL;
}

static json_t *str_or_null(const char *s)
{
    return s && s[0] ? json_string(s) : json_null();
}

static json_t *member_release_json(const struct node *n, size_t i)
{
    const char *dep, *detail;
    enum pl_health h;
    if (!member_release(n, i, &dep, &h, &detail))
        return json_null();
    const struct pl_release *rel = release_of(n, dep);
    return json_pack("{s:o, s:o, s:s, s:o}", "running", str_or_null(dep), "version",
                     str_or_null(rel ? rel->version : NULL), "health", pl_health_name(h), "detail",
                     str_or_null(detail));
}

/* "degraded" and "unhealthy_nodes" of a summary object (stable, current):
 * the members known to run its release unhealthy, crashed or not started. */
static void add_degraded(const struct node *n, json_t *summary)
{
    if (!json_is_object(summary))
        return;
    const char *name = json_string_value(json_object_get(summary, "name"));
    const char *version = json_string_value(json_object_get(summary, "version"));
    json_t *bad = json_array();
    for (size_t i = 0; i < n->peers.n && name && version; i++) {
        const char *dep, *detail;
        enum pl_health h;
        if (!member_release(n, i, &dep, &h, &detail) || !release_watch_bad(h))
            continue;
        const struct pl_release *rel = release_of(n, dep);
        if (rel && strcmp(rel->name, name) == 0 && strcmp(rel->version, version) == 0)
            json_array_append_new(bad, json_string(n->peers.m[i].id));
    }
    json_object_set_new(summary, "degraded", json_boolean(json_array_size(bad) > 0));
    json_object_set_new(summary, "unhealthy_nodes", bad);
}

/* A service's state: spawned and not yet healthy is "starting"; one an
 * earlier service's failure kept from starting is "stopped". */
static const char *service_state(const struct node_run *r, size_t i)
{
    const struct node_service_run *s = &r->svc[i];
    if (i >= r->nsvc)
        return "stopped";
    if (s->exited)
        return "exited";
    if (s->proc)
        return s->healthy || s->unhealthy ? "running" : "starting";
    return r->health == PL_H_START_FAILED && i + 1 == r->nsvc ? "start_failed" : "stopped";
}

static const char *service_health(const struct node_service_run *s)
{
    return !s->proc ? "none" : s->healthy ? "healthy" : s->unhealthy ? "unhealthy" : "starting";
}

/* Why service i is not well ("" when it is). */
static void service_detail(const struct node_run *r, size_t i, char *out, size_t cap)
{
    const struct node_service_run *s = &r->svc[i];
    const char *state = service_state(r, i);
    out[0] = '\0';
    if (strcmp(state, "exited") == 0)
        snprintf(out, cap, "exited (%s %d)", s->sig ? "signal" : "status",
                 s->sig ? s->sig : (int)s->status);
    else if (strcmp(state, "start_failed") == 0)
        snprintf(out, cap, "%s", r->detail);
    else if (s->proc && s->unhealthy && !s->healthy)
        snprintf(out, cap, "%s", s->last_error);
}

static json_t *services_json(const struct node *n)
{
    const struct node_run *r = &n->run;
    json_t *out = json_array();
    for (size_t i = 0; r->running[0] && r->have_manifest && i < r->m.nservices; i++) {
        const struct node_service_run *s = &r->svc[i];
        bool started = i < r->nsvc;
        char detail[PL_REASON_MAX];
        service_detail(r, i, detail, sizeof(detail));
        json_array_append_new(
            out,
            json_pack("{s:s, s:s, s:o, s:o, s:s, s:o}", "name", r->m.services[i].name, "state",
                      service_state(r, i), "pid",
                      started && s->proc ? json_integer(drv_pid(s->proc)) : json_null(), "port",
                      started && s->port ? json_integer(s->port) : json_null(), "health",
                      started ? service_health(s) : "none", "detail", str_or_null(detail)));
    }
    return out;
}

/* The release summary (api_deploy.c) with this node's release, its health
 * and its services, and what the federation knows of the stable and the
 * current release's health. */
static json_t *release_json(struct node *n)
{
    json_t *o = api_deploy_summary(n);
    const struct node_run *r = &n->run;
    const struct pl_release *rel = release_of(n, r->running);
    enum pl_health h = own_health(n);
    json_object_set_new(o, "name", str_or_null(rel ? rel->name : NULL));
    json_object_set_new(o, "version", str_or_null(rel ? rel->version : NULL));
    json_object_set_new(o, "health", json_string(pl_health_name(h)));
    json_object_set_new(o, "healthy_since_ms",
                        h == PL_H_HEALTHY && r->healthy_since
                            ? json_integer((json_int_t)r->healthy_since)
                            : json_null());
    json_object_set_new(o, "detail", str_or_null(h == PL_H_NONE ? NULL : r->detail));
    json_object_set_new(o, "services", services_json(n));
    add_degraded(n, json_object_get(o, "stable"));
    add_degraded(n, json_object_get(o, "current"));
    return o;
}

static void get_state(struct node *n, struct http_request *req)
{
    uint64_t now = uv_now(n->loop);
    json_t *peers = json_array();
    for (size_t i = 0; i < n->peers.n; i++) {
        json_t *p = peer_json(n, i, now);
        json_object_set_new(p, "release", member_release_json(n, i));
        json_array_append_new(peers, p);
    }
    json_t *state = json_pack(
        "{s:s, s:s, s:I, s:s?, s:b, s:i, s:o, s:o, s:o, s:s, s:I, s:I}", "node", n->cfg.id, "role",
        cons_role_name(n->cons.role), "term", (json_int_t)n->cons.term, "leader", leader_id(n),
        "read_only", read_only(n), "quorum", (int)cons_quorum(&n->cons), "peers", peers, "ledger",
        api_ledger_summary(n), "release", release_json(n), "version", CHIMERA_VERSION, "uptime_ms",
        (json_int_t)(now - n->started_ms), "boot", (json_int_t)n->boot);
    http_respond_json(req, 200, state);
}

static void format_time(int64_t ms, char *buf, size_t len)
{
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    size_t k = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + k, len - k, ".%03dZ", (int)(ms % 1000));
}

/* Parses a decimal query parameter in [min, max]; -1 bad, 0 absent, 1 ok. */
static int query_number(const char *query, const char *name, uint64_t min, uint64_t max,
                        uint64_t *out)
{
    char buf[32];
    if (!http_query_param(query, name, buf, sizeof(buf)))
        return 0;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(buf, &end, 10);
    if (buf[0] == '\0' || buf[0] == '-' || *end != '\0' || errno != 0 || v < min || v > max)
        return -1;
    *out = v;
    return 1;
}

static void get_events(struct node *n, struct http_request *req)
{
    uint64_t limit = EVENTS_DEFAULT_LIMIT, since = 0;
    if (query_number(req->query, "limit", 1, EVENTS_CAPACITY, &limit) < 0) {
        http_respond_error(req, 400, "limit: must be a whole number from 1 to %d", EVENTS_CAPACITY);
        return;
    }
    int has_since = query_number(req->query, "since", 0, UINT64_MAX, &since);
    if (has_since < 0) {
        http_respond_error(req, 400, "since: must be a sequence number (0 or more)");
        return;
    }
    const struct event *found[EVENTS_CAPACITY];
    size_t k = events_query(&n->events, has_since == 1, since, (size_t)limit, found);
    json_t *arr = json_array();
    for (size_t i = 0; i < k; i++) {
        const struct event *e = found[i];
        char when[40];
        format_time(e->time_ms, when, sizeof(when));
        json_t *o = json_pack("{s:I, s:s, s:I, s:s, s:s, s:s, s:I}", "seq", (json_int_t)e->seq,
                              "time", when, "time_ms", (json_int_t)e->time_ms, "node", e->node,
                              "kind", e->kind, "message", e->message, "boot", (json_int_t)e->boot);
        if (e->peer[0])
            json_object_set_new(o, "peer", json_string(e->peer));
        json_array_append_new(arr, o);
    }
    http_respond_json(req, 200, arr);
}

static void get_live(struct node *n, struct http_request *req)
{
    http_respond_json(req, 200,
                      json_pack("{s:s, s:s, s:I}", "status", "ok", "node", n->cfg.id, "uptime_ms",
                                (json_int_t)(uv_now(n->loop) - n->started_ms)));
}

/* Why this node's release makes it unready ("" when it does not): it
 * crashed, could not start, or its health checks failed past their
 * unhealthy_threshold (that is when a release is unhealthy at all, so a
 * probe that fails once does not flap readiness). A release still starting
 * keeps the node ready: every node starts one in each rollout. A node that
 * runs nothing is ready. *service names the service at fault. */
static void release_problem(const struct node *n, char *out, size_t cap, const char **service)
{
    const struct node_run *r = &n->run;
    enum pl_health h = own_health(n);
    out[0] = '\0';
    *service = NULL;
    if (!release_watch_bad(h))
        return;
    for (size_t i = 0; i < r->nsvc && r->have_manifest && !*service; i++) {
        const char *st = service_state(r, i);
        if (strcmp(st, "exited") == 0 || strcmp(st, "start_failed") == 0 ||
            strcmp(service_health(&r->svc[i]), "unhealthy") == 0)
            *service = r->m.services[i].name;
    }
    const struct pl_release *rel = release_of(n, r->running);
    char what[PL_ID_MAX + PL_VERSION_MAX + 1] = "";
    if (rel)
        snprintf(what, sizeof(what), "%s %s ", rel->name, rel->version);
    snprintf(out, cap, "release %s(deployment %s) is %s%s%s%s: %s", what, r->running,
             pl_health_name(h), *service ? " (service " : "", *service ? *service : "",
             *service ? ")" : "", r->detail[0] ? r->detail : "no detail");
}

static void get_ready(struct node *n, struct http_request *req)
{
    if (node_ledger_unready(n, req))
        return; /* the disk refuses writes: 503 naming why */
    const char *leader = leader_id(n);
    bool ro = read_only(n);
    char problem[PL_REASON_MAX + 256];
    const char *service;
    release_problem(n, problem, sizeof(problem), &service);
    const char *health = pl_health_name(own_health(n));
    if (leader && !ro && !problem[0]) {
        http_respond_json(req, 200,
                          json_pack("{s:s, s:s, s:s, s:I, s:b, s:s}", "status", "ok", "node",
                                    n->cfg.id, "leader", leader, "term", (json_int_t)n->cons.term,
                                    "read_only", 0, "release_health", health));
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
                                "node", n->cfg.id, "reason", reason, "leader", leader, "read_only",
                                ro, "release_health", health, "service", service));
}

static void metric(FILE *f, const char *name, const char *type, const char *help)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* The HTTP listener's counters (http.h). */
static void http_metrics(FILE *f, const struct http_stats *hs)
{
    const struct {
        const char *name, *type, *help;
        uint64_t value;
    } m[] = {
        {"chimera_http_connections", "gauge", "HTTP connections open.", hs->open},
        {"chimera_http_connections_max", "gauge", "HTTP connections allowed at once.",
         hs->max_open},
        {"chimera_http_connections_refused_total", "counter",
         "HTTP connections turned away at the cap (503).", hs->refused},
        {"chimera_http_connections_timed_out_total", "counter",
         "HTTP connections closed by the header, body or write timeout.", hs->timed_out},
        {"chimera_http_accept_errors_total", "counter",
         "accept() failures on the HTTP listener (out of descriptors).", hs->accept_errors},
    };
    for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
        metric(f, m[i].name, m[i].type, m[i].help);
        fprintf(f, "%s %" PRIu64 "\n", m[i].name, m[i].value);
    }
}

static void get_metrics(struct node *n, struct http_request *req)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) {
        http_respond_error(req, 500, "out of memory");
        return;
    }
    uint64_t now = uv_now(n->loop);
    metric(f, "chimera_uptime_seconds", "gauge", "Seconds since this node started.");
    fprintf(f, "chimera_uptime_seconds %.3f\n", (double)(now - n->started_ms) / 1000.0);
    metric(f, "chimera_messages_received_total", "counter", "Node-to-node messages accepted.");
    fprintf(f, "chimera_messages_received_total %" PRIu64 "\n", n->metrics.msgs_received);
    metric(f, "chimera_messages_sent_total", "counter",
           "Node-to-node messages queued for sending.");
    fprintf(f, "chimera_messages_sent_total %" PRIu64 "\n", n->metrics.msgs_sent);
    metric(f, "chimera_messages_dropped_total", "counter",
           "Node-to-node messages dropped, by reason.");
    for (int d = 0; d < DROP_COUNT; d++)
        fprintf(f, "chimera_messages_dropped_total{reason=\"%s\"} %" PRIu64 "\n",
                node_drop_name((enum node_drop)d), n->metrics.dropped[d]);
    metric(f, "chimera_members", "gauge", "Members by liveness status.");
    size_t count[3] = {0};
    for (size_t i = 0; i < n->peers.n; i++)
        count[n->peers.m[i].status]++;
    for (int s = PEER_DEAD; s <= PEER_ALIVE; s++)
        fprintf(f, "chimera_members{status=\"%s\"} %zu\n", peer_status_name((enum peer_status)s),
                count[s]);
    metric(f, "chimera_peer_last_contact_seconds", "gauge",
           "Seconds since each member was last heard from (absent: never).");
    for (size_t i = 0; i < n->peers.n; i++) {
        int64_t age = peers_age_ms(&n->peers, i, now);
        if (age >= 0)
            fprintf(f, "chimera_peer_last_contact_seconds{peer=\"%s\"} %.3f\n", n->peers.m[i].id,
                    (double)age / 1000.0);
    }
    metric(f, "chimera_events_total", "counter", "Events recorded.");
    fprintf(f, "chimera_events_total %" PRIu64 "\n", events_recorded(&n->events));
    metric(f, "chimera_http_requests_total", "counter", "HTTP requests served.");
    fprintf(f, "chimera_http_requests_total %" PRIu64 "\n", n->metrics.http_requests);
    metric(f, "chimera_http_auth_failures_total", "counter",
           "HTTP requests refused for want of a token (missing: 401) or with a wrong one (403).");
    fprintf(f, "chimera_http_auth_failures_total{reason=\"missing\"} %" PRIu64 "\n",
            n->metrics.http_auth_failures[AUTH_MISSING]);
    fprintf(f, "chimera_http_auth_failures_total{reason=\"wrong\"} %" PRIu64 "\n",
            n->metrics.http_auth_failures[AUTH_WRONG]);
    if (n->http)
        http_metrics(f, http_stats(n->http));
    metric(f, "chimera_ledger_checkpoints_total", "counter",
           "Ledger checkpoints stored (signed here as leader, or received and cosigned).");
    fprintf(f, "chimera_ledger_checkpoints_total %" PRIu64 "\n", n->metrics.checkpoints);
    metric(f, "chimera_ledger_notarized_total", "counter",
           "Checkpoints this node led that a quorum of members signed.");
    fprintf(f, "chimera_ledger_notarized_total %" PRIu64 "\n", n->metrics.notarized);
    metric(f, "chimera_ledger_equivocations_total", "counter",
           "Conflicting signed checkpoints detected (evidence kept).");
    fprintf(f, "chimera_ledger_equivocations_total %" PRIu64 "\n", n->metrics.equivocations);
    const struct node_run *r = &n->run;
    enum pl_health own = own_health(n);
    metric(f, "chimera_release_healthy", "gauge",
           "1 when the release running here is healthy (or nothing runs), 0 otherwise.");
    fprintf(f, "chimera_release_healthy %d\n", own == PL_H_HEALTHY || own == PL_H_NONE);
    metric(f, "chimera_release_health", "gauge",
           "1 for the health of the release running here, 0 for the others.");
    for (int h = PL_H_NONE; h <= PL_H_START_FAILED; h++)
        fprintf(f, "chimera_release_health{health=\"%s\"} %d\n", pl_health_name((enum pl_health)h),
                own == (enum pl_health)h);
    static const char *const states[] = {"starting", "running", "exited", "start_failed",
                                         "stopped"};
    metric(f, "chimera_services", "gauge", "Services of the release running here, by state.");
    for (size_t k = 0; k < sizeof(states) / sizeof(states[0]); k++) {
        size_t in_state = 0;
        for (size_t i = 0; r->running[0] && r->have_manifest && i < r->m.nservices; i++)
            in_state += strcmp(service_state(r, i), states[k]) == 0;
        fprintf(f, "chimera_services{state=\"%s\"} %zu\n", states[k], in_state);
    }
    metric(f, "chimera_term", "gauge", "Current consensus term.");
    fprintf(f, "chimera_term %" PRIu64 "\n", n->cons.term);
    metric(f, "chimera_is_leader", "gauge", "1 when this node is the leader.");
    fprintf(f, "chimera_is_leader %d\n", n->cons.role == CONS_LEADER);
    metric(f, "chimera_read_only", "gauge", "1 when this node refuses mutations.");
    fprintf(f, "chimera_read_only %d\n", read_only(n));
    loop_lag_metrics(f, &n->lag);
    fclose(f);
    http_respond(req, 200, "text/plain; version=0.0.4", text, len);
    free(text);
}

struct route {
    const char *path;
    void (*get)(struct node *, struct http_request *);
};

static const struct route routes[] = {
    {"/federation/state", get_state},      {"/events", get_events},   {"/health/live", get_live},
    {"/health/ready", get_ready},          {"/metrics", get_metrics}, {"/ledger", api_get_ledger},
    {"/ledger/head", api_get_ledger_head},
};

static bool is_mutation(const char *method)
{
    return strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0;
}

/* Counts a refused request and raises api.auth_failure, at most one per
 * interval (saying how many were held back): anyone who reaches the port
 * can fail, and must not flush the event ring or flood the log with it. */
static void auth_failed(struct node *n, const struct http_request *req, enum auth_failure why,
                        const char *whose)
{
    n->metrics.http_auth_failures[why]++;
    uint64_t held;
    if (!events_limiter_allow(&n->auth_limit, node_wall_ms(), AUTH_EVENT_INTERVAL_MS, &held))
        return;
    char more[64] = "";
    if (held)
        snprintf(more, sizeof(more), "; %" PRIu64 " more since the last report", held);
    node_event(n, "api.auth_failure", NULL, "%s %.100s %s%s%s", req->method, req->path,
               why == AUTH_MISSING ? "without a bearer token" : "with a wrong ",
               why == AUTH_MISSING ? "" : whose, more);
}

/* Whether req carries "Bearer <one of tokens>" (empty ones never match;
 * the scheme in any case). Answers 401 (no bearer token) or 403 (a wrong
 * one), naming whose token it had to be, and returns false. */
static bool bearer_ok(struct node *n, struct http_request *req, const char *whose,
                      const char *const tokens[], size_t ntokens)
{
    const char *given = http_bearer_token(req->auth);
    if (!given) {
        auth_failed(n, req, AUTH_MISSING, whose);
        http_respond_error(req, 401, "missing \"Authorization: Bearer <%s>\"", whose);
        return false;
    }
    for (size_t i = 0; i < ntokens; i++)
        if (http_token_equal(given, tokens[i]))
            return true;
    auth_failed(n, req, AUTH_WRONG, whose);
    http_respond_error(req, 403, "wrong %s", whose);
    return false;
}

/* Every mutation passes the same gate, before any endpoint sees it: the
 * admin token (401 missing, 403 wrong), then read-only mode (503: a node
 * without a quorum-backed leader must not accept what it cannot commit). */
static bool mutation_allowed(struct node *n, struct http_request *req)
{
    if (!n->token[0]) {
        http_respond_error(req, 403,
                           "mutations are disabled: this node has no admin token "
                           "(start it with --admin-token-file)");
        return false;
    }
    const char *const admin[] = {n->token};
    return bearer_ok(n, req, "admin token", admin, 1) && !api_refuse_read_only(n, req);
}

bool api_refuse_read_only(struct node *n, struct http_request *req)
{
    if (!read_only(n))
        return false;
    const char *leader = leader_id(n);
    json_t *body =
        json_pack("{s:s, s:b, s:s?, s:I}", "error",
                  "read-only: this node is in the minority and knows no quorum-backed leader; "
                  "retry against a node on the majority side",
                  "read_only", 1, "leader", leader, "term", (json_int_t)n->cons.term);
    http_respond_json(req, 503, body);
    return true;
}

/* Reads that reveal manifests (and so a service's env values): the ledger's
 * entries and one deployment. With a read token configured they need it or
 * the admin token; everything else stays open to monitoring. */
static bool reveals_manifests(const char *path, size_t plen)
{
    return (plen == strlen("/ledger") && strncmp(path, "/ledger", plen) == 0) ||
           (strncmp(path, "/deployments/", 13) == 0 && plen > 13);
}

static bool read_allowed(struct node *n, struct http_request *req, size_t plen)
{
    if (!n->cfg.read_token[0] || !reveals_manifests(req->path, plen))
        return true;
    const char *const tokens[] = {n->cfg.read_token, n->token};
    return bearer_ok(n, req, "read token", tokens, 2);
}

void api_handle(void *ctx, struct http_request *req)
{
    struct node *n = ctx;
    n->metrics.http_requests++;
    size_t plen = strlen(req->path);
    while (plen > 1 && req->path[plen - 1] == '/')
        plen--; /* "/events/" is "/events" */
    if (!is_mutation(req->method) && !read_allowed(n, req, plen))
        return;
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        if (strlen(routes[i].path) != plen || strncmp(routes[i].path, req->path, plen) != 0)
            continue;
        if (is_mutation(req->method)) {
            http_respond_error(req, 405, "%s %s: method not allowed; use GET", req->method,
                               routes[i].path);
            return;
        }
        routes[i].get(n, req);
        return;
    }
    if (is_mutation(req->method) && !mutation_allowed(n, req))
        return;
    if (api_deploy_route(n, req))
        return;
    if (plen == strlen("/ledger/notes") && strncmp(req->path, "/ledger/notes", plen) == 0 &&
        is_mutation(req->method)) {
        api_post_ledger_notes(n, req);
        return;
    }
    http_respond_error(req, 404, "%s %s: no such endpoint", req->method, req->path);
}
