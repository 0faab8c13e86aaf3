/* Requests that wait for their entries to commit (commit_wait.h): the Raft
 * layer says when entries commit and when leadership is lost (its hooks,
 * installed by node.c), and this file answers. */
#include "node/api/commit_wait.h"

#include <inttypes.h>
#include <stdio.h>

#include "node/net/http.h"

bool api_commit_wait_full(const struct api_commit_waits *cw)
{
    return cw->n >= API_COMMIT_WAITS_MAX;
}

void api_commit_wait_notes(struct api_commit_waits *cw, struct http_request *req, uint64_t first,
                           uint64_t last, uint64_t term)
{
    cw->w[cw->n++] =
        (struct api_commit_wait){.req = req, .first = first, .last = last, .term = term};
}

void api_commit_wait_answer(struct api_commit_waits *cw, const struct cons *c,
                            struct http_request *req, uint64_t index, int status, json_t *reply)
{
    if (c->role == CONS_LEADER && c->commit >= index) {
        http_respond_json(req, status, reply);
        return;
    }
    if (c->role != CONS_LEADER || api_commit_wait_full(cw)) {
        json_decref(reply);
        api_commit_wait_unknown(req, "leadership lost", "change", "/deployments");
        return;
    }
    cw->w[cw->n++] = (struct api_commit_wait){.req = req,
                                              .first = index,
                                              .last = index,
                                              .term = c->term,
                                              .status = status,
                                              .reply = reply};
}

void api_commit_wait_committed(struct api_commit_waits *cw, uint64_t commit)
{
    size_t k = 0;
    for (size_t i = 0; i < cw->n; i++) {
        struct api_commit_wait *w = &cw->w[i];
        if (w->last <= commit && w->reply)
            http_respond_json(w->req, w->status, w->reply);
        else if (w->last <= commit)
            api_commit_wait_created(w->req, w->first, w->last, w->term);
        else
            cw->w[k++] = *w;
    }
    cw->n = k;
}

void api_commit_wait_fail_all(struct api_commit_waits *cw, const char *cause)
{
    for (size_t i = 0; i < cw->n; i++) {
        json_decref(cw->w[i].reply);
        api_commit_wait_unknown(cw->w[i].req, cause, "note", "/ledger");
    }
    cw->n = 0;
}

/* Printed, not packed and dumped: the answer to every note, the same bytes
 * as http_respond_json's (compact, a newline) without three allocations. */
void api_commit_wait_created(struct http_request *req, uint64_t first, uint64_t last, uint64_t term)
{
    char body[128];
    int n =
        snprintf(body, sizeof(body),
                 "{\"first_index\":%" PRIu64 ",\"last_index\":%" PRIu64 ",\"term\":%" PRIu64 "}\n",
                 first, last, term);
    http_respond(req, 201, "application/json", body, (size_t)n);
}

void api_commit_wait_unknown(struct http_request *req, const char *cause, const char *what,
                             const char *where)
{
    http_respond_error(req, 503,
                       "%s before the %s was committed; it may or may not be committed, "
                       "check GET %s",
                       cause, what, where);
}
