/* The gate every request passes before an endpoint sees it (api.c's route
 * table says which): the read token for reads that reveal manifests, the
 * admin token for mutations, read-only mode; and the answers that send a
 * client elsewhere (not the leader: 307 to it); the numbers a query
 * carries. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/api/api.h"

/* As transport drops (base.c: node_drop): one api.auth_failure event per interval. */
#define AUTH_EVENT_INTERVAL_MS 5000

const char *api_gate_leader_id(const struct node_api *api)
{
    int32_t l = api->raft->cons.leader;
    return l >= 0 && (size_t)l < api->base->peers.n ? api->base->peers.m[l].id : NULL;
}

bool api_gate_read_only(const struct node_api *api)
{
    return cons_read_only(&api->raft->cons, uv_now(api->base->loop));
}

bool api_gate_is_mutation(const char *method)
{
    return strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0;
}

/* Counts a refused request and raises api.auth_failure, at most one per
 * interval (saying how many were held back): anyone who reaches the port
 * can fail, and must not flush the event ring or flood the log with it. */
static void auth_failed(struct node_api *api, const struct http_request *req,
                        enum api_auth_failure why, const char *whose)
{
    api->base->metrics.http_auth_failures[why]++;
    uint64_t held;
    if (!events_limiter_allow(&api->auth_limit, node_wall_ms(), AUTH_EVENT_INTERVAL_MS, &held))
        return;
    char more[64] = "";
    if (held)
        snprintf(more, sizeof(more), "; %" PRIu64 " more since the last report", held);
    node_event(api->base, "api.auth_failure", NULL, "%s %.100s %s%s%s", req->method, req->path,
               why == API_AUTH_MISSING ? "without a bearer token" : "with a wrong ",
               why == API_AUTH_MISSING ? "" : whose, more);
}

/* Whether req carries "Bearer <one of tokens>" (empty ones never match;
 * the scheme in any case). Answers 401 (no bearer token) or 403 (a wrong
 * one), naming whose token it had to be, and returns false. */
static bool bearer_ok(struct node_api *api, struct http_request *req, const char *whose,
                      const char *const tokens[], size_t ntokens)
{
    const char *given = http_bearer_token(req->auth);
    if (!given) {
        auth_failed(api, req, API_AUTH_MISSING, whose);
        http_respond_error(req, 401, "missing \"Authorization: Bearer <%s>\"", whose);
        return false;
    }
    for (size_t i = 0; i < ntokens; i++)
        if (http_token_equal(given, tokens[i]))
            return true;
    auth_failed(api, req, API_AUTH_WRONG, whose);
    http_respond_error(req, 403, "wrong %s", whose);
    return false;
}

/* The one mutation a read-only node accepts: the chaos kill switch, which
 * heals what is applied here before anything is committed. */
static bool is_kill_switch(const struct http_request *req)
{
    size_t n = strlen(req->path);
    while (n > 1 && req->path[n - 1] == '/')
        n--;
    return strcmp(req->method, "POST") == 0 && n == strlen("/chaos/stop") &&
           strncmp(req->path, "/chaos/stop", n) == 0;
}

/* Every mutation passes the same gate, before any endpoint sees it: the
 * admin token (401 missing, 403 wrong), then read-only mode (503: a node
 * without a quorum-backed leader must not accept what it cannot commit),
 * but for the kill switch. */
bool api_gate_mutation(struct node_api *api, struct http_request *req, const struct api_route *row)
{
    if (!api->token[0]) {
        http_respond_error(req, 403,
                           "mutations are disabled: this node has no admin token "
                           "(start it with --admin-token-file)");
        return false;
    }
    const char *const admin[] = {api->token};
    /* A write during a leadership hand-over waits for its end (api_hold.c),
     * asked before read-only mode: the old leader, once it voted for its
     * successor, and the successor while it stands know no leader for a
     * moment, and the write has somewhere to go all the same. A held write
     * is asked again when it is taken here (api_serve_held). */
    return bearer_ok(api, req, "admin token", admin, 1) &&
           (is_kill_switch(req) ||
            ((!row || !api_hold_take(api, req, row)) && !api_gate_refuse_read_only(api, req)));
}

bool api_gate_refuse_read_only(struct node_api *api, struct http_request *req)
{
    if (!api_gate_read_only(api))
        return false;
    const char *leader = api_gate_leader_id(api);
    json_t *body =
        json_pack("{s:s, s:b, s:s?, s:I}", "error",
                  "read-only: this node is in the minority and knows no quorum-backed leader; "
                  "retry against a node on the majority side",
                  "read_only", 1, "leader", leader, "term", (json_int_t)api->raft->cons.term);
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

bool api_gate_read(struct node_api *api, struct http_request *req, size_t plen)
{
    if (!api->base->cfg.read_token[0] || !reveals_manifests(req->path, plen))
        return true;
    const char *const tokens[] = {api->base->cfg.read_token, api->token};
    return bearer_ok(api, req, "read token", tokens, 2);
}

void api_gate_redirect_to_leader(struct node_api *api, struct http_request *req, const char *path)
{
    api_gate_redirect_to(api, req, path, api->raft->cons.leader);
}

void api_gate_redirect_to(struct node_api *api, struct http_request *req, const char *path,
                          int32_t l)
{
    if (l < 0 || (size_t)l >= api->base->peers.n || l == api->raft->cons.cfg.self) {
        http_respond_error(req, 503, "no leader is known; retry shortly");
        return;
    }
    const struct peer *p = &api->base->peers.m[l];
    if (!p->http[0]) {
        http_respond_json(
            req, 503,
            json_pack("{s:s, s:s}", "error",
                      "not the leader, and the leader's HTTP address is not known yet", "leader",
                      p->id));
        return;
    }
    char location[1024];
    /* An advertised https://HOST:PORT (a TLS proxy in front) carries its scheme. */
    snprintf(location, sizeof(location), "%s%s%s%s%s", strstr(p->http, "://") ? "" : "http://",
             p->http, path, req->query[0] ? "?" : "", req->query);
    http_respond_redirect(req, 307, location,
                          json_pack("{s:s, s:s, s:s}", "error", "not the leader", "leader", p->id,
                                    "leader_http", p->http));
}

bool api_parse_u64(const char *text, uint64_t min, uint64_t max, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    /* strtoull would take leading blanks, a sign ("-1" wraps) and "" */
    if (text[0] < '0' || text[0] > '9' || *end != '\0' || errno != 0 || v < min || v > max)
        return false;
    *out = v;
    return true;
}

int api_query_u64(const char *query, const char *name, uint64_t min, uint64_t max, uint64_t *out)
{
    char buf[32];
    if (!http_query_param(query, name, buf, sizeof(buf)))
        return 0;
    return api_parse_u64(buf, min, max, out) ? 1 : -1;
}
