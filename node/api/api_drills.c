/* Drill results in the ledger (README "Drills"): POST /drills commits a
 * run's result as a chaos entry of record kind "drill" (chaos/drill.h is
 * its codec) and answers once it is committed; GET /drills lists past
 * drills, oldest first, each with the checkpoint whose quorum of witness
 * signatures notarizes it.
 *
 * The ledger store keeps only its latest checkpoint (ledger/store.h), so a
 * drill's notarization is what this node saw: a latest checkpoint that is
 * notarized names itself for every drill at or below its index that had
 * none yet, and keeps that name for this process's life. It is looked at
 * when drills are listed and, once /drills was first asked, at every
 * heartbeat: checkpoints are made at most once per heartbeat while the
 * commit index moves (witness/notary.h), so the one named is the first
 * that covers the drill and was notarized, but for one superseded within
 * a heartbeat. A node restarted since names the latest notarized one.
 *
 * Where drills are in the ledger is remembered too (their indexes, found
 * by scanning committed entries once); a scan reads at most a budget of
 * bytes per request or heartbeat so that a long ledger does not hold the
 * loop, and the answer says how far it got ("complete"). */
#include <inttypes.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chaos/drill.h"
#include "node/api/api.h"

#define DRILLS_PAGE_DEFAULT 100
#define DRILLS_PAGE_MAX 1000
#define DRILLS_PAGE_JSON_BYTES (256u * 1024u) /* as GET /ledger's pages */
#define DRILL_BODY_MAX (64u * 1024u)
#define SCAN_BUDGET (8u * 1024u * 1024u) /* a request's */
#define SCAN_CHUNK (1024u * 1024u)       /* also a heartbeat's budget */
#define DRILL_BODY                                                                                 \
    "{\"title\", \"verdict\", \"digest\", \"started_ms\", \"ended_ms\", \"by\", \"faults\": "      \
    "[{\"name\", \"kind\", \"target\", \"time_to_detect_ms\", \"time_to_recover_ms\", "            \
    "\"slo_ms\", \"met\"}]}"

/* A drill this node found in its committed ledger. */
struct seen_drill {
    uint64_t index;
    bool notarized;
    uint64_t checkpoint;
    size_t nsigners;
    char signers[LEDGER_MAX_SIGS][LEDGER_ID_MAX];
};

/* One node per process: the scan's state lives as long as the process. */
static struct {
    uint64_t scanned; /* committed entries searched: 1..scanned */
    struct seen_drill *v;
    size_t n, cap;
    bool oom;
    /* The last checkpoint judged (index, signatures) and the verdict, so
     * that its signatures are verified once, not at every heartbeat. */
    uint64_t judged_index;
    size_t judged_nsigs;
    bool judged_notarized;
    uv_timer_t timer; /* the heartbeat's look, once /drills was asked */
    bool watching;
} seen;

static void watch(struct node_api *api);

/* ---- POST /drills ---- */

void api_drills_post(struct node_api *api, struct http_request *req)
{
    watch(api);
    if (api->raft->cons.role != CONS_LEADER) {
        api_gate_redirect_to_leader(api, req, "/drills");
        return;
    }
    if (req->body_len > DRILL_BODY_MAX) {
        http_respond_error(req, 413, "body: %zu bytes; a drill's record is at most %u bytes",
                           req->body_len, DRILL_BODY_MAX);
        return;
    }
    static const char *const known[] = {"title",    "verdict", "digest", "started_ms",
                                        "ended_ms", "by",      "faults", NULL};
    json_t *body = http_body_object(req, known, DRILL_BODY);
    if (!body)
        return;
    struct drill_record rec;
    struct drill_error derr;
    int rv = drill_record_from_json(body, &rec, &derr);
    json_decref(body);
    if (rv != 0) {
        char msg[sizeof(derr.path) + sizeof(derr.message) + 4];
        snprintf(msg, sizeof(msg), "%s: %s", derr.path[0] ? derr.path : "body", derr.message);
        http_respond_json(req, 400, json_pack("{s:s, s:s}", "error", msg, "path", derr.path));
        return;
    }
    if (api_commit_wait_full(&api->waits)) {
        http_respond_error(req, 503, "too many changes waiting to commit; retry shortly");
        return;
    }
    struct node_pack p;
    node_pack_init(&p);
    drill_record_pack(&rec, &p.pk);
    const uint8_t *payload = (const uint8_t *)p.sb.data;
    size_t len = p.sb.size;
    uint64_t first, index;
    char err[256];
    rv = node_repl_append(api->raft, LEDGER_ENTRY_CHAOS, &payload, &len, 1, &first, &index, err,
                          sizeof(err));
    node_pack_free(&p);
    if (rv != 0) {
        /* -2: the disk refused it and this node stepped down: 503, retry. */
        http_respond_error(req, rv == -2 ? 503 : 500, "cannot record the drill: %s", err);
        return;
    }
    node_event(api->base, "drill.recorded", NULL,
               "drill \"%s\": %s, %zu fault(s), journal blake2b %.16s..., at ledger index %" PRIu64
               "%s%s",
               rec.title, drill_verdict_name(rec.verdict), rec.nfaults, rec.digest, index,
               rec.by[0] ? ", run by " : "", rec.by);
    json_t *reply =
        json_pack("{s:I, s:o}", "index", (json_int_t)index, "drill", drill_record_json(&rec));
    api_commit_wait_answer(&api->waits, &api->raft->cons, req, index, 201, reply);
}

/* ---- finding drills in the ledger ---- */

static int scan_entry(uint64_t index, uint64_t term, const uint8_t *bytes, size_t len, void *arg)
{
    (void)term;
    (void)arg;
    struct drill_record rec;
    struct ledger_entry e;
    seen.scanned = index;
    if (ledger_entry_decode(bytes, len, &e, NULL) != LEDGER_OK || e.type != LEDGER_ENTRY_CHAOS ||
        drill_record_decode(e.payload, e.payload_len, &rec, NULL, 0) != 0)
        return 0;
    if (seen.n == seen.cap) {
        size_t cap = seen.cap ? 2 * seen.cap : 16;
        struct seen_drill *v = realloc(seen.v, cap * sizeof(*v));
        if (!v) {
            seen.scanned = index - 1; /* looked at again next time */
            seen.oom = true;
            return 1;
        }
        seen.v = v;
        seen.cap = cap;
    }
    seen.v[seen.n++] = (struct seen_drill){.index = index};
    return 0;
}

/* Searches committed entries not searched yet, up to SCAN_BUDGET bytes.
 * Returns the index searched up to; *complete when that is the commit. */
static uint64_t scan(struct node_api *api, size_t budget, bool *complete)
{
    uint64_t last = ledger_last_index(api->raft->ledger), commit = api->raft->cons.commit;
    uint64_t upto = commit < last ? commit : last;
    size_t spent = 0;
    seen.oom = false;
    while (seen.scanned < upto && spent < budget && !seen.oom) {
        uint64_t before = seen.scanned;
        if (ledger_read_range(api->raft->ledger, before + 1, upto - before, SCAN_CHUNK, scan_entry,
                              NULL) != LEDGER_OK ||
            seen.scanned == before)
            break;
        spent += SCAN_CHUNK;
    }
    *complete = seen.scanned >= upto;
    return seen.scanned;
}

/* Names the latest checkpoint, when notarized, for every drill it covers
 * that had no notarization yet. */
static void notarize(struct node_api *api)
{
    struct ledger_signed_checkpoint cp;
    if (ledger_last_checkpoint(api->raft->ledger, &cp) != LEDGER_OK)
        return;
    bool checked = false, notarized = false;
    for (size_t i = 0; i < seen.n; i++) {
        struct seen_drill *d = &seen.v[i];
        if (d->notarized || d->index > cp.cp.index)
            continue;
        if (!checked && (cp.cp.index != seen.judged_index || cp.nsigs != seen.judged_nsigs)) {
            /* verifies every signature: once per checkpoint and signature count */
            seen.judged_index = cp.cp.index;
            seen.judged_nsigs = cp.nsigs;
            seen.judged_notarized = node_witness_notarized(api->wit, &cp);
        }
        checked = true;
        notarized = seen.judged_notarized;
        if (!notarized)
            return;
        d->notarized = true;
        d->checkpoint = cp.cp.index;
        d->nsigners = cp.nsigs < LEDGER_MAX_SIGS ? cp.nsigs : LEDGER_MAX_SIGS;
        for (size_t k = 0; k < d->nsigners; k++)
            snprintf(d->signers[k], sizeof(d->signers[k]), "%s", cp.sigs[k].signer);
    }
}

static void on_heartbeat(uv_timer_t *t)
{
    struct node_api *api = t->data;
    if (api->base->stopping) {
        uv_close((uv_handle_t *)t, NULL);
        return;
    }
    bool complete;
    scan(api, SCAN_CHUNK, &complete);
    notarize(api);
}

/* From the first request on, drills are looked at every heartbeat. The
 * timer closes itself once the node stops (within a heartbeat; the loop
 * runs until it has). */
static void watch(struct node_api *api)
{
    if (seen.watching || api->base->stopping)
        return;
    seen.watching = true;
    uv_timer_init(api->base->loop, &seen.timer);
    seen.timer.data = api;
    uv_timer_start(&seen.timer, on_heartbeat, api->base->cfg.heartbeat_ms,
                   api->base->cfg.heartbeat_ms);
}

static json_t *notarization_json(struct node_api *api, const struct seen_drill *d)
{
    if (!d->notarized)
        return json_null();
    json_t *signers = json_array();
    for (size_t k = 0; k < d->nsigners; k++)
        json_array_append_new(signers, json_string(d->signers[k]));
    size_t members = ledger_members_at(api->raft->ledger, d->checkpoint, NULL, NULL);
    return json_pack("{s:I, s:o, s:I}", "checkpoint", (json_int_t)d->checkpoint, "signers", signers,
                     "quorum", (json_int_t)(members / 2 + 1));
}

/* The drill at d as GET /drills shows it; NULL when it cannot be read. */
static json_t *drill_json(struct node_api *api, const struct seen_drill *d)
{
    uint8_t *bytes = NULL;
    size_t len = 0;
    struct ledger_entry e;
    struct drill_record rec;
    json_t *o = NULL;
    if (ledger_read_entry(api->raft->ledger, d->index, &bytes, &len) == LEDGER_OK &&
        ledger_entry_decode(bytes, len, &e, NULL) == LEDGER_OK &&
        drill_record_decode(e.payload, e.payload_len, &rec, NULL, 0) == 0 &&
        (o = drill_record_json(&rec))) {
        json_object_set_new(o, "index", json_integer((json_int_t)d->index));
        json_object_set_new(o, "time_ms", json_integer((json_int_t)e.timestamp_ms));
        json_object_set_new(o, "author", json_string(e.author));
        json_object_set_new(o, "notarization", notarization_json(api, d));
    }
    free(bytes);
    return o;
}

void api_drills_get(struct node_api *api, struct http_request *req)
{
    uint64_t from = 1, limit = DRILLS_PAGE_DEFAULT;
    if (api_query_u64(req->query, "from", 1, INT64_MAX, &from) < 0) {
        http_respond_error(req, 400, "from: must be an entry index from 1 to %" PRId64, INT64_MAX);
        return;
    }
    if (api_query_u64(req->query, "limit", 1, DRILLS_PAGE_MAX, &limit) < 0) {
        http_respond_error(req, 400, "limit: must be a whole number from 1 to %d", DRILLS_PAGE_MAX);
        return;
    }
    watch(api);
    bool complete;
    uint64_t scanned = scan(api, SCAN_BUDGET, &complete);
    notarize(api);
    json_t *list = json_array();
    size_t bytes = 0, given = 0, i = 0;
    while (i < seen.n && seen.v[i].index < from)
        i++;
    for (; i < seen.n && given < limit; i++) {
        json_t *d = drill_json(api, &seen.v[i]);
        if (!d)
            continue; /* cannot be read now: the next request tries again */
        size_t n = json_dumpb(d, NULL, 0, HTTP_JSON_FLAGS); /* measured as answered */
        if (given > 0 && bytes + n > DRILLS_PAGE_JSON_BYTES) {
            json_decref(d);
            break;
        }
        bytes += n;
        given++;
        json_array_append_new(list, d);
    }
    json_t *body = json_pack("{s:o, s:o, s:I, s:b}", "drills", list, "next_from",
                             i < seen.n ? json_integer((json_int_t)seen.v[i].index) : json_null(),
                             "scanned_to", (json_int_t)scanned, "complete", complete);
    if (!body) {
        http_respond_error(req, 500, "cannot build the answer");
        return;
    }
    http_respond_json(req, 200, body);
}
