/* POST /ledger/notes: an operator's note, or a batch of them, appended to
 * the ledger by the leader and answered once committed.
 *
 * Body: {"note": "text"} or {"notes": ["a", "b", ...]} (1..NOTES_BODY_MAX
 * notes of 1..NOTES_BODY_NOTE_MAX bytes each), in JSON or, with
 * Content-Type application/msgpack, in msgpack (notes_body.h). Answers:
 *   201 {"first_index","last_index","term"}  every note is committed;
 *   307 + Location (the leader's HTTP address) on a follower, with
 *       {"error","leader","leader_http"}; 503 when no leader is known;
 *   503 when leadership was lost before the commit (the notes may or may
 *       not be committed: check GET /ledger), or the node stops;
 *   400 with the JSON path of the problem for bad input.
 * The mutation gate (token, read-only) in api.c has already passed.
 *
 * A batch is up to 1 MiB of JSON: parsing it and packing its notes held
 * the loop (which also runs the heartbeats) for tens of milliseconds on
 * the sanitized build. Both need nothing of the node's state, so they run
 * on libuv's thread pool; what does (leadership, read-only, the append)
 * runs back on the loop, where every check is made again as if the
 * request had arrived then. A small body (one note, a batch of short
 * ones) is parsed on the loop at once: microseconds, where the trip
 * through the pool cost two thread hand-offs (a futex wake and a context
 * switch each way) per request, the most of any step of a single note. */
#include <inttypes.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/api/api.h"
#include "node/api/notes_body.h"

#define API_NOTES_MAX NOTES_BODY_MAX
/* Bodies up to this size are parsed on the loop: a note of the largest
 * size, or a batch of a hundred short ones (about 11 KB), costs the loop
 * well under a millisecond; the pool is for the large batches. */
#define API_NOTES_INLINE_BYTES (64u * 1024u)

/* One request's body on its way through the thread pool. The worker reads
 * only body and writes only the results; the loop reads the results after
 * the pool hands the job back (uv_queue_work orders the two). */
struct api_notes_job {
    uv_work_t work;
    struct node_api *api;
    struct http_request *req; /* NULL once answered (the node stopped) */
    struct api_notes_job *next;
    /* The body, copied: answering req frees the request's own copy, and a
     * stopping node answers before the worker is done with it. */
    char *body;
    size_t body_len;
    bool msgpack; /* the body is msgpack (its Content-Type), not JSON */
    /* Results: a body that is not such an object (bad_body), notes that
     * are not valid (err), or count payloads packed back to back in sb. */
    bool bad_body;
    struct http_body_error body_err;
    char err[256];
    char path[32]; /* the JSON path of the note err is about */
    size_t count;
    msgpack_sbuffer sb;
    size_t ends[API_NOTES_MAX]; /* where payload i ends in sb */
};

/* On a pool thread: parse and validate the body, pack each note as a
 * msgpack str (the entry payload). Touches nothing but the job. */
static void parse_and_pack(uv_work_t *w)
{
    struct api_notes_job *j = w->data;
    struct notes_body nb;
    json_t *body = NULL;
    if (j->msgpack) {
        j->count = notes_body_from_msgpack(j->body, j->body_len, &nb, &j->body_err, j->err,
                                           sizeof(j->err));
        j->bad_body = j->count == 0 && j->body_err.msg[0] != '\0';
    } else {
        static const char *const known[] = {"note", "notes", NULL};
        body =
            http_body_parse(j->body, j->body_len, known,
                            "{\"note\": \"text\"} or {\"notes\": [\"text\", ...]}", &j->body_err);
        if (!body) {
            j->bad_body = true;
            return;
        }
        j->count = notes_body_from_json(body, &nb, j->err, sizeof(j->err));
    }
    snprintf(j->path, sizeof(j->path), "%s", nb.path);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &j->sb, msgpack_sbuffer_write);
    for (size_t i = 0; i < j->count; i++) {
        msgpack_pack_str_with_body(&pk, nb.notes[i], nb.lens[i]);
        j->ends[i] = j->sb.size;
    }
    json_decref(body);
}

/* Back on the loop: the checks that need the node's state, as if the
 * request arrived now, then the append. */
static void append_notes(struct node_api *api, struct http_request *req, struct api_notes_job *j)
{
    if (api_gate_refuse_read_only(api, req))
        return;
    if (j->bad_body) {
        http_body_refuse(req, &j->body_err);
        return;
    }
    if (j->count == 0) {
        http_respond_json(req, 400, json_pack("{s:s, s:s}", "error", j->err, "path", j->path));
        return;
    }
    if (api->raft->cons.role != CONS_LEADER) {
        api_gate_redirect_to_leader(api, req, "/ledger/notes");
        return;
    }
    if (api_commit_wait_full(&api->waits)) {
        http_respond_error(req, 503, "too many notes waiting to commit; retry shortly");
        return;
    }
    const uint8_t *payloads[API_NOTES_MAX];
    size_t lens[API_NOTES_MAX];
    for (size_t i = 0, at = 0; i < j->count; at = j->ends[i++]) {
        payloads[i] = (const uint8_t *)j->sb.data + at;
        lens[i] = j->ends[i] - at;
    }
    uint64_t term = api->raft->cons.term, first = 0, last = 0;
    char err[256];
    int rv = node_repl_append(api->raft, LEDGER_ENTRY_NOTE, payloads, lens, j->count, &first, &last,
                              err, sizeof(err));
    if (rv != 0) {
        /* -2: the disk refused it and this node stepped down: 503, retry. */
        http_respond_error(req, rv == -2 ? 503 : 500, "%s", err);
        return;
    }
    /* the numbers only: a note's text may be gated (--read-token-file),
     * events are not; one a second, for a stream of batches */
    uint64_t held;
    char more[64] = "";
    if (events_limiter_allow(&api->notes_limit, node_wall_ms(), 1000, &held)) {
        if (held)
            snprintf(more, sizeof(more), "; %" PRIu64 " more batches since the last report", held);
        node_event(api->base, "ledger.notes_appended", NULL,
                   "%zu note(s) appended at index %" PRIu64 "..%" PRIu64 " in term %" PRIu64 "%s",
                   j->count, first, last, term, more);
    }
    /* The notes joined the leader's open group: written and synced after
     * this turn, so nothing committed yet, even alone (node_group.c); but
     * appending may have cost this node its leadership. */
    if (api->raft->cons.role == CONS_LEADER && api->raft->cons.term == term &&
        api->raft->cons.commit >= last) {
        api_commit_wait_created(req, first, last, term);
        return;
    }
    if (api->raft->cons.role != CONS_LEADER || api->raft->cons.term != term) {
        api_commit_wait_unknown(req, "leadership lost", "note", "/ledger");
        return;
    }
    api_commit_wait_notes(&api->waits, req, first, last, term);
}

static void job_free(struct api_notes_job *j)
{
    msgpack_sbuffer_destroy(&j->sb);
    free(j->body);
    free(j);
}

/* On the loop, once the worker is done (status is never UV_ECANCELED: no
 * job is cancelled, a stopping node answers it and waits for it here). */
static void parsed(uv_work_t *w, int status)
{
    (void)status;
    struct api_notes_job *j = w->data;
    struct node_api *api = j->api;
    for (struct api_notes_job **p = &api->notes_jobs; *p; p = &(*p)->next) {
        if (*p == j) {
            *p = j->next;
            break;
        }
    }
    if (j->req)
        append_notes(api, j->req, j);
    job_free(j);
}

void api_notes_post(struct node_api *api, struct http_request *req)
{
    if (strcmp(req->method, "POST") != 0) {
        http_respond_error(req, 405, "%s /ledger/notes: method not allowed; use POST", req->method);
        return;
    }
    if (req->body_len <= API_NOTES_INLINE_BYTES) {
        /* on the loop at once: the job lives on the stack and reads the
         * request's own body (no copy, no allocation but the packing's) */
        struct api_notes_job j = {.body = (char *)req->body,
                                  .body_len = req->body_len,
                                  .msgpack = notes_body_is_msgpack(req->content_type)};
        msgpack_sbuffer_init(&j.sb);
        j.work.data = &j;
        parse_and_pack(&j.work);
        append_notes(api, req, &j);
        msgpack_sbuffer_destroy(&j.sb);
        return;
    }
    struct api_notes_job *j = calloc(1, sizeof(*j));
    if (j && !(j->body = malloc(req->body_len))) {
        free(j);
        j = NULL;
    }
    if (!j) {
        http_respond_error(req, 500, "out of memory");
        return;
    }
    memcpy(j->body, req->body, req->body_len);
    j->body_len = req->body_len;
    j->msgpack = notes_body_is_msgpack(req->content_type);
    j->api = api;
    j->req = req;
    j->work.data = j;
    msgpack_sbuffer_init(&j->sb);
    j->next = api->notes_jobs;
    api->notes_jobs = j;
    /* Fails only for a NULL callback. */
    uv_queue_work(api->base->loop, &j->work, parse_and_pack, parsed);
}

void api_notes_stop(struct node_api *api)
{
    /* The HTTP server waits for every request to be answered before it
     * stops; the jobs themselves are freed when the pool hands them back
     * (uv_run does not return before). */
    for (struct api_notes_job *j = api->notes_jobs; j; j = j->next) {
        if (j->req)
            http_respond_error(j->req, 503, "node is shutting down");
        j->req = NULL;
    }
}
