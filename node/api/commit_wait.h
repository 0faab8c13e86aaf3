/* Requests answered when what they appended commits (commit_wait.c): "answer
 * this request when index I of term T commits, 503 if leadership is lost".
 * Notes (201 with the index range) and deployments (their own status and
 * body) wait here. */
#ifndef CHIMERA_NODE_API_COMMIT_WAIT_H
#define CHIMERA_NODE_API_COMMIT_WAIT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "consensus/consensus.h"

struct http_request;

#define API_COMMIT_WAITS_MAX 64
struct api_commit_wait {
    struct http_request *req;
    uint64_t first, last, term;
    /* Set for other mutations than notes (deployments): this status and
     * body (owned) instead of the notes' answer. */
    int status;
    json_t *reply;
};

struct api_commit_waits {
    struct api_commit_wait w[API_COMMIT_WAITS_MAX];
    size_t n;
};

/* Whether no request can wait any more (the caller answers 503). */
bool api_commit_wait_full(const struct api_commit_waits *cw);
/* Notes first..last appended in term: answered 201 once last commits. */
void api_commit_wait_notes(struct api_commit_waits *cw, struct http_request *req, uint64_t first,
                           uint64_t last, uint64_t term);
/* Answers req with status and reply (owned) once entry index of this term
 * is committed (at once when it is), or 503 if leadership is lost first. */
void api_commit_wait_answer(struct api_commit_waits *cw, const struct cons *c,
                            struct http_request *req, uint64_t index, int status, json_t *reply);
/* Answers those committed up to commit. */
void api_commit_wait_committed(struct api_commit_waits *cw, uint64_t commit);
/* Answers every waiting request 503 "<cause> before the note was committed;
 * it may or may not be committed, check GET /ledger". */
void api_commit_wait_fail_all(struct api_commit_waits *cw, const char *cause);

/* The answers (one place for each text users' scripts may read): 201
 * {"first_index","last_index","term"} of notes; 503 "<cause> before the
 * <what> was committed; it may or may not be committed, check GET <where>". */
void api_commit_wait_created(struct http_request *req, uint64_t first, uint64_t last,
                             uint64_t term);
void api_commit_wait_unknown(struct http_request *req, const char *cause, const char *what,
                             const char *where);

#endif
