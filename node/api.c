/* The HTTP API's read side: every answer is built from the loop's state on
 * the loop thread. Field names are a stable contract (design guide, HTTP
 * API): extend, never rename. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include <time.h>

#include "node/node.h"

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

static void get_state(struct node *n, struct http_request *req)
{
    uint64_t now = uv_now(n->loop);
    json_t *peers = json_array();
    for (size_t i = 0; i < n->peers.n; i++)
        json_array_append_new(peers, peer_json(n, i, now));
    json_t *state =
        json_pack("{s:s, s:s, s:I, s:s?, s:b, s:i, s:o, s:o, s:o, s:s, s:I}", "node", n->cfg.id,
                  "role", cons_role_name(n->cons.role), "term", (json_int_t)n->cons.term, "leader",
                  leader_id(n), "read_only", read_only(n), "quorum", (int)cons_quorum(&n->cons),
                  "peers", peers, "ledger", api_ledger_summary(n), "release", api_deploy_summary(n),
                  "version", CHIMERA_VERSION, "uptime_ms", (json_int_t)(now - n->started_ms));
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
        json_t *o = json_pack("{s:I, s:s, s:I, s:s, s:s, s:s}", "seq", (json_int_t)e->seq, "time",
                              when, "time_ms", (json_int_t)e->time_ms, "node", e->node, "kind",
                              e->kind, "message", e->message);
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

static void get_ready(struct node *n, struct http_request *req)
{
    if (node_ledger_unready(n, req))
        return; /* the disk refuses writes: 503 naming why */
    const char *leader = leader_id(n);
    bool ro = read_only(n);
    if (leader && !ro) {
        http_respond_json(req, 200,
                          json_pack("{s:s, s:s, s:s, s:I, s:b}", "status", "ok", "node", n->cfg.id,
                                    "leader", leader, "term", (json_int_t)n->cons.term, "read_only",
                                    0));
        return;
    }
    http_respond_json(req, 503,
                      json_pack("{s:s, s:s, s:s, s:s?, s:b}", "status", "unavailable", "node",
                                n->cfg.id, "reason",
                                leader ? "the leader has lost contact with a quorum"
                                       : "no quorum-backed leader is known",
                                "leader", leader, "read_only", ro));
}

static void metric(FILE *f, const char *name, const char *type, const char *help)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
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
    fprintf(f, "chimera_events_total %" PRIu64 "\n", n->events.next_seq - 1);
    metric(f, "chimera_http_requests_total", "counter", "HTTP requests served.");
    fprintf(f, "chimera_http_requests_total %" PRIu64 "\n", n->metrics.http_requests);
    metric(f, "chimera_ledger_checkpoints_total", "counter",
           "Ledger checkpoints stored (signed here as leader, or received and cosigned).");
    fprintf(f, "chimera_ledger_checkpoints_total %" PRIu64 "\n", n->metrics.checkpoints);
    metric(f, "chimera_ledger_notarized_total", "counter",
           "Checkpoints this node led that a quorum of members signed.");
    fprintf(f, "chimera_ledger_notarized_total %" PRIu64 "\n", n->metrics.notarized);
    metric(f, "chimera_ledger_equivocations_total", "counter",
           "Conflicting signed checkpoints detected (evidence kept).");
    fprintf(f, "chimera_ledger_equivocations_total %" PRIu64 "\n", n->metrics.equivocations);
    metric(f, "chimera_term", "gauge", "Current consensus term.");
    fprintf(f, "chimera_term %" PRIu64 "\n", n->cons.term);
    metric(f, "chimera_is_leader", "gauge", "1 when this node is the leader.");
    fprintf(f, "chimera_is_leader %d\n", n->cons.role == CONS_LEADER);
    metric(f, "chimera_read_only", "gauge", "1 when this node refuses mutations.");
    fprintf(f, "chimera_read_only %d\n", read_only(n));
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

/* Every mutation passes the same gate, before any endpoint sees it: the
 * admin token (401 missing, 403 wrong), then read-only mode (503: a node
 * without a quorum-backed leader must not accept what it cannot commit). */
static bool mutation_allowed(struct node *n, struct http_request *req)
{
    static const char prefix[] = "Bearer ";
    if (!n->token[0]) {
        http_respond_error(req, 403,
                           "mutations are disabled: this node has no admin token "
                           "(start it with --admin-token-file)");
        return false;
    }
    if (strncmp(req->auth, prefix, sizeof(prefix) - 1) != 0) {
        node_event(n, "api.auth_failure", NULL, "%s %s without a bearer token", req->method,
                   req->path);
        http_respond_error(req, 401, "missing \"Authorization: Bearer <admin token>\"");
        return false;
    }
    const char *given = req->auth + sizeof(prefix) - 1;
    size_t glen = strlen(given), tlen = strlen(n->token);
    if (glen != tlen || sodium_memcmp(given, n->token, tlen) != 0) {
        node_event(n, "api.auth_failure", NULL, "%s %s with a wrong admin token", req->method,
                   req->path);
        http_respond_error(req, 403, "wrong admin token");
        return false;
    }
    if (read_only(n)) {
        const char *leader = leader_id(n);
        json_t *body =
            json_pack("{s:s, s:b, s:s?, s:I}", "error",
                      "read-only: this node is in the minority and knows no quorum-backed leader; "
                      "retry against a node on the majority side",
                      "read_only", 1, "leader", leader, "term", (json_int_t)n->cons.term);
        http_respond_json(req, 503, body);
        return false;
    }
    return true;
}

void api_handle(void *ctx, struct http_request *req)
{
    struct node *n = ctx;
    n->metrics.http_requests++;
    size_t plen = strlen(req->path);
    while (plen > 1 && req->path[plen - 1] == '/')
        plen--; /* "/events/" is "/events" */
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
