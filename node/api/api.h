/* The HTTP API of the node (api.c): the ledger's reads (api_ledger.c),
 * notes (api_notes.c), deployments (api_deploy.c). */
#ifndef CHIMERA_NODE_API_H
#define CHIMERA_NODE_API_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "node/base/events.h"
#include "node/http.h"
#include "pipeline/manifest.h"

struct node;

/* A POST /ledger/notes waiting for its notes to commit (leader only). */
#define NODE_NOTES_PENDING_MAX 64
struct node_note_wait {
    struct http_request *req;
    uint64_t first, last, term;
    /* Set for other mutations answered at commit (deployments): this status
     * and body (owned) instead of the notes' answer. */
    int status;
    json_t *reply;
};

/* The API layer's state, embedded in struct node. */
struct node_api {
    char token[256]; /* "" when no admin token is configured */
    struct node_note_wait notes[NODE_NOTES_PENDING_MAX];
    size_t nnotes;
    struct node_notes_job *notes_jobs; /* bodies of POST /ledger/notes on the pool (api_notes.c) */
    struct events_limiter auth_limit;  /* api.auth_failure events (api.c) */
};

/* POST /ledger/notes (api_notes.c): the body is parsed on libuv's thread
 * pool, the rest on the loop. api_notes_stop: on shutdown, before the HTTP
 * server stops, answers 503 the requests whose body is still on the pool. */
void api_post_ledger_notes(struct node *n, struct http_request *req);
void api_notes_stop(struct node *n);
/* The mutation gate's read-only check (api.c): answers 503 and returns true
 * when this node is read-only. */
bool api_refuse_read_only(struct node *n, struct http_request *req);
/* Not the leader: 307 to the leader's path (or 503 when none is known). */
void api_redirect_to_leader(struct node *n, struct http_request *req, const char *path);
/* Answers req with status and reply (owned) once entry index of this
 * term is committed, or 503 if leadership is lost first. */
void api_answer_at_commit(struct node *n, struct http_request *req, uint64_t index, int status,
                          json_t *reply);

/* Deployments over HTTP (api_deploy.c). Returns false when the path is not
 * one of them. */
bool api_deploy_route(struct node *n, struct http_request *req);
json_t *api_deploy_summary(struct node *n);
/* The plan of a submitted release is ready (deploy_plan.c calls it): answer
 * the dry run, refuse the uncertified, or commit the release. Takes plan. */
void api_deploy_planned(struct node *n, struct http_request *req, const char *manifest, size_t mlen,
                        const struct manifest *m, json_t *plan, bool certified, bool dry_run);
/* The ledger's HTTP reads (api_ledger.c). */
void api_get_ledger(struct node *n, struct http_request *req);
void api_get_ledger_head(struct node *n, struct http_request *req);
json_t *api_ledger_summary(struct node *n);

/* The HTTP API (api.c): answers one request on the loop thread. */
void api_handle(void *ctx, struct http_request *req);

#endif
