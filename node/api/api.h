/* The HTTP API of the node (api.c): the ledger's reads (api_ledger.c),
 * notes (api_notes.c), deployments (api_deploy.c). */
#ifndef CHIMERA_NODE_API_H
#define CHIMERA_NODE_API_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "node/base/base.h"
#include "node/base/histogram.h"
#include "node/base/loop_lag.h"
#include "node/chaos/chaos.h"
#include "node/chaos/watch.h"
#include "node/deploy/deploy.h"
#include "node/raft/raft.h"
#include "node/witness/witness.h"
#include "node/api/commit_wait.h"
#include "node/api/api_hold.h"
#include "node/net/http.h"
#include "pipeline/core/manifest.h"

/* Why a request failed the token check: the index of its counter
 * (node_metrics.http_auth_failures). */
enum api_auth_failure { API_AUTH_MISSING, API_AUTH_WRONG };

/* HTTP request durations by route and status (api_metrics.c): one
 * histogram per pair seen, at most API_REQUEST_SERIES (the routes are the
 * route table's, the statuses the few the API answers); past that, the
 * last one takes the rest as route "other", code "other". */
#define API_REQUEST_SERIES 160
/* The route of a request no row's path fits (api_metrics.c). */
extern const char api_route_other[];
struct api_request_series {
    const char *route; /* a route table row's path, or api_route_other */
    int code;          /* 0: "other" (the table was full) */
    struct histogram h;
};

/* The API layer's state, embedded in struct node. */
struct node_api {
    struct node_base *base; /* set by node.c, as the rest below */
    struct node_raft *raft;
    struct node_witness *wit;
    struct node_deploy *deploy;
    struct node_chaos *chaos;
    struct watch *watch; /* the recovery watchtower (node/chaos/watch.h) */
    const struct loop_lag *lag;
    struct http_server *http;         /* its counters feed /metrics; set once serving */
    char token[256];                  /* "" when no admin token is configured */
    struct api_commit_waits waits;    /* requests answered at commit (commit_wait.c) */
    struct api_notes_job *notes_jobs; /* bodies of POST /ledger/notes on the pool (api_notes.c) */
    struct events_limiter auth_limit; /* api.auth_failure events (api.c) */
    struct api_request_series requests[API_REQUEST_SERIES];
    size_t nrequests;
    /* ledger.notes_appended events (api_notes.c) */
    struct events_limiter notes_limit;
    struct api_hold hold; /* writes held during a leadership transfer (api_hold.c) */
};

/* POST /ledger/notes (api_notes.c): the body is parsed on libuv's thread
 * pool, the rest on the loop. api_notes_stop: on shutdown, before the HTTP
 * server stops, answers 503 the requests whose body is still on the pool. */
void api_notes_post(struct node_api *api, struct http_request *req);
void api_notes_stop(struct node_api *api);
/* The gate (gate.c). */
bool api_gate_is_mutation(const char *method); /* anything but GET and HEAD */
/* The read token, for reads that reveal manifests (plen: the path's length
 * without trailing slashes): true, or answered 401/403. */
bool api_gate_read(struct node_api *api, struct http_request *req, size_t plen);
/* The admin token (401 missing, 403 wrong), then read-only mode (503),
 * then a leadership hand-over (the write is held: api_hold.c): true, or
 * answered or held. row: the route table's row that serves it (NULL: none,
 * and nothing to hold). */
struct api_route;
bool api_gate_mutation(struct node_api *api, struct http_request *req, const struct api_route *row);
/* Read-only mode: answers 503 and returns true when this node is read-only. */
bool api_gate_refuse_read_only(struct node_api *api, struct http_request *req);
/* Not the leader: 307 to the leader's path (or 503 when none is known). */
void api_gate_redirect_to_leader(struct node_api *api, struct http_request *req, const char *path);
/* The same to member `member` (the successor of a hand-over). */
void api_gate_redirect_to(struct node_api *api, struct http_request *req, const char *path,
                          int32_t member);
/* The leader's id (NULL when none is known); whether this node is read-only. */
const char *api_gate_leader_id(const struct node_api *api);
bool api_gate_read_only(const struct node_api *api);
/* Decimal text (digits only: no sign, no blanks) in [min, max] into *out;
 * false: it is not (out untouched). */
bool api_parse_u64(const char *text, uint64_t min, uint64_t max, uint64_t *out);
/* A decimal query parameter in [min, max] (as api_parse_u64): -1 bad, 0
 * absent (out untouched), 1 ok. */
int api_query_u64(const char *query, const char *name, uint64_t min, uint64_t max, uint64_t *out);

/* Deployments over HTTP (api_deploy.c): GET /deployments, POST
 * /deployments, GET /deployments/ID, POST /rollback (routes: api.c). */
void api_deploy_list(struct node_api *api, struct http_request *req);
void api_deploy_submit(struct node_api *api, struct http_request *req);
void api_deploy_get(struct node_api *api, struct http_request *req);
void api_deploy_rollback(struct node_api *api, struct http_request *req);
json_t *api_deploy_summary(struct node_api *api);
/* The ledger's HTTP reads (api_ledger.c). */
void api_ledger_get(struct node_api *api, struct http_request *req);
/* GET /recovery and the watchtower's metrics (api_recovery.c). */
void api_recovery_get(struct node_api *api, struct http_request *req);
void api_recovery_metrics(struct node_api *api, FILE *f);
void api_ledger_get_head(struct node_api *api, struct http_request *req);
json_t *api_ledger_summary(struct node_api *api);

/* The HTTP API (api.c): answers one request on the loop thread, through
 * the route table. */
void api_handle(void *ctx, struct http_request *req);
/* A write held during a leadership hand-over and taken here after all
 * (api_hold.c): served from the row its first scan found, as if it arrived
 * now (read-only mode is asked again; the token was checked). */
void api_serve_held(struct node_api *api, struct http_request *req, const struct api_route *row);
/* What api.c's read side tells /metrics (api.c): the health of the release
 * running here, and the state of its service i ("starting", "running",
 * "exited", "start_failed", "stopped"). */
enum pl_health api_own_health(const struct node_api *api);
const char *api_service_state(const struct deploy_run *r, size_t i);

/* GET /metrics (api_metrics.c). api_metrics_answered: a request api.c
 * labelled (req->route, req->started_ns, req->answer_ctx: the API) was
 * answered with status; counted in its route's histogram. */
void api_metrics_get(struct node_api *api, struct http_request *req);
void api_metrics_answered(struct http_request *req, int status);

/* Events over HTTP (api_events.c): GET /events, GET /events/stream (SSE).
 * api_events_start, once the HTTP server serves: the stream cap and CORS
 * origins from the configuration, the keep-alive comment, and the hook
 * that sends every event recorded to the streams; api_events_stop before
 * the server stops. */
json_t *api_event_json(const struct event *e); /* the object GET /events gives */
void api_events_get(struct node_api *api, struct http_request *req);
void api_events_stream(struct node_api *api, struct http_request *req);
void api_events_start(struct node_api *api);
void api_events_stop(struct node_api *api);

/* Drill results in the ledger (api_drills.c): POST /drills, GET /drills. */
void api_drills_post(struct node_api *api, struct http_request *req);
void api_drills_get(struct node_api *api, struct http_request *req);

/* POST /leader/transfer (api_leader.c). */
void api_leader_transfer(struct node_api *api, struct http_request *req);

/* The chaos endpoints (api_chaos.c). */
void api_chaos_get(struct node_api *api, struct http_request *req);
void api_chaos_inject(struct node_api *api, struct http_request *req);
void api_chaos_stop(struct node_api *api, struct http_request *req);
void api_chaos_enable(struct node_api *api, struct http_request *req);

/* The console (api_ui.c): GET /ui/<file> from the assets compiled in; GET
 * /ui redirects to /ui/. */
void api_ui_get(struct node_api *api, struct http_request *req);

#endif
