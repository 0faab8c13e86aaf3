/* The ledger's read side of the HTTP API: GET /ledger?from=&limit= and
 * GET /ledger/head. Hashes, keys and signatures are hex; each entry's
 * payload is given as hex of its exact msgpack bytes, since those bytes
 * (not a re-encoding) are what the chain covers, and, for people and
 * scripts, as JSON in "data" (byte strings as hex; a membership change as
 * {"op","node","pubkey"}). */
#include <errno.h>
#include <inttypes.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/api/api.h"

#define LEDGER_PAGE_DEFAULT 100
#define LEDGER_PAGE_MAX 1000
/* An answer stops before the entry that would take its JSON past this
 * (it always holds at least one entry). It is built on the loop that also
 * sends heartbeats: 1,000 entries of 4 KB notes made 12 MB of JSON and held
 * the loop for about half a second, long enough to depose a leader. Since
 * an entry's JSON is larger than its bytes (the payload is in hex), the
 * ledger is read up to the same number of bytes. */
#define LEDGER_PAGE_JSON_BYTES (256u * 1024u)
static json_t *hex_json(const uint8_t *b, size_t n)
{
    char *hex = malloc(2 * n + 1);
    if (!hex)
        return json_null();
    ledger_hex(b, n, hex);
    json_t *s = json_stringn_nocheck(hex, 2 * n); /* ASCII: no need to check UTF-8 */
    free(hex);
    return s;
}

static json_t *head_hash_json(struct node_api *api)
{
    if (ledger_last_index(api->raft->ledger) == 0)
        return json_null();
    uint8_t h[LEDGER_HASH_BYTES];
    ledger_head_hash(api->raft->ledger, h);
    return hex_json(h, sizeof(h));
}

static uint64_t checkpoint_index(struct node_api *api, struct ledger_signed_checkpoint *cp)
{
    return ledger_last_checkpoint(api->raft->ledger, cp) == LEDGER_OK ? cp->cp.index : 0;
}

json_t *api_ledger_summary(struct node_api *api)
{
    /* committed: the consensus core's commit index (entries up to it are
     * on a majority and never lost). */
    return json_pack("{s:I, s:I, s:o}", "index", (json_int_t)ledger_last_index(api->raft->ledger),
                     "committed", (json_int_t)api->raft->cons.commit, "head", head_hash_json(api));
}

/* msgpack to JSON for display; depth is bounded by the entry decoder. */
static json_t *mp_json(const msgpack_object *o)
{
    switch (o->type) {
    case MSGPACK_OBJECT_BOOLEAN:
        return json_boolean(o->via.boolean);
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        return o->via.u64 <= INT64_MAX ? json_integer((json_int_t)o->via.u64)
                                       : json_real((double)o->via.u64);
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        return json_integer((json_int_t)o->via.i64);
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        return json_real(o->via.f64);
    case MSGPACK_OBJECT_STR:
        return json_stringn_nocheck(o->via.str.ptr, o->via.str.size);
    case MSGPACK_OBJECT_BIN:
        return hex_json((const uint8_t *)o->via.bin.ptr, o->via.bin.size);
    case MSGPACK_OBJECT_ARRAY: {
        json_t *a = json_array();
        for (uint32_t i = 0; i < o->via.array.size; i++)
            json_array_append_new(a, mp_json(&o->via.array.ptr[i]));
        return a;
    }
    case MSGPACK_OBJECT_MAP: {
        json_t *m = json_object();
        for (uint32_t i = 0; i < o->via.map.size; i++) {
            const msgpack_object *k = &o->via.map.ptr[i].key;
            char key[64];
            if (k->type == MSGPACK_OBJECT_STR)
                snprintf(key, sizeof(key), "%.*s", (int)k->via.str.size, k->via.str.ptr);
            else if (k->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
                snprintf(key, sizeof(key), "%" PRIu64, k->via.u64);
            else
                snprintf(key, sizeof(key), "key%" PRIu32, i);
            json_object_set_new(m, key, mp_json(&o->via.map.ptr[i].val));
        }
        return m;
    }
    default:
        return json_null();
    }
}

static json_t *payload_json(const struct ledger_entry *e)
{
    struct ledger_membership m;
    if (e->type == LEDGER_ENTRY_MEMBERSHIP &&
        ledger_membership_decode(e->payload, e->payload_len, &m) == LEDGER_OK)
        return json_pack("{s:s, s:s, s:o}", "op", m.op == LEDGER_MEMBER_ADD ? "add" : "remove",
                         "node", m.node, "pubkey", hex_json(m.pubkey, LEDGER_PUBKEY_BYTES));
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    json_t *j = json_null();
    if (msgpack_unpack_next(&u, (const char *)e->payload, e->payload_len, &off) ==
        MSGPACK_UNPACK_SUCCESS) {
        json_decref(j);
        j = mp_json(&u.data);
    }
    msgpack_unpacked_destroy(&u);
    return j;
}

/* The answer is built as text, entry by entry, so its size is known
 * before an entry is added. */
struct page {
    char *text;
    size_t len, cap;
    uint64_t given;
    uint64_t next; /* the first index not given */
    const char *error;
    uint64_t covered; /* entries up to this index are under a checkpoint */
};

static int page_put(const char *buf, size_t size, void *arg)
{
    struct page *pg = arg;
    if (pg->len + size + 1 > pg->cap) {
        size_t cap = pg->cap ? pg->cap : 4096;
        while (cap < pg->len + size + 1)
            cap *= 2;
        char *t = realloc(pg->text, cap);
        if (!t)
            return -1;
        pg->text = t;
        pg->cap = cap;
    }
    memcpy(pg->text + pg->len, buf, size);
    pg->len += size;
    pg->text[pg->len] = '\0';
    return 0;
}

static int add_entry(uint64_t index, uint64_t term, const uint8_t *bytes, size_t len, void *arg)
{
    struct page *pg = arg;
    struct ledger_entry e;
    const char *why = NULL;
    if (ledger_entry_decode(bytes, len, &e, &why) != LEDGER_OK) {
        pg->error = why ? why : "undecodable entry";
        return 1;
    }
    uint8_t hash[LEDGER_HASH_BYTES];
    ledger_entry_hash(e.prev_hash, bytes, len, hash);
    json_t *o = json_pack(
        "{s:I, s:I, s:s, s:i, s:I, s:s, s:o, s:o, s:o, s:o, s:o}", "index", (json_int_t)index,
        "term", (json_int_t)term, "type", ledger_entry_type_name(e.type), "type_code", (int)e.type,
        "timestamp_ms", (json_int_t)e.timestamp_ms, "author", e.author, "hash",
        hex_json(hash, sizeof(hash)), "prev_hash", hex_json(e.prev_hash, sizeof(e.prev_hash)),
        "payload", hex_json(e.payload, e.payload_len), "data", payload_json(&e), "checkpoint",
        index <= pg->covered ? json_integer((json_int_t)pg->covered) : json_null());
    char *text = o ? json_dumps(o, HTTP_JSON_FLAGS) : NULL;
    json_decref(o);
    if (!text) {
        pg->error = "cannot encode the entry as JSON";
        return 1;
    }
    size_t n = strlen(text);
    if (pg->given > 0 && pg->len + n + 1 > LEDGER_PAGE_JSON_BYTES) {
        free(text);
        return 1; /* the page is full: the answer says where to go on */
    }
    int rv = (pg->given > 0 ? page_put(",", 1, pg) : 0) || page_put(text, n, pg);
    free(text);
    if (rv != 0) {
        pg->error = "out of memory";
        return 1;
    }
    pg->given++;
    pg->next = index + 1;
    return 0;
}

void api_ledger_get(struct node_api *api, struct http_request *req)
{
    uint64_t from = 1, limit = LEDGER_PAGE_DEFAULT, last = ledger_last_index(api->raft->ledger);
    /* Echoed as a JSON integer: at most INT64_MAX. */
    if (api_query_u64(req->query, "from", 1, INT64_MAX, &from) < 0) {
        http_respond_error(req, 400, "from: must be an entry index from 1 to %" PRId64, INT64_MAX);
        return;
    }
    if (api_query_u64(req->query, "limit", 1, LEDGER_PAGE_MAX, &limit) < 0) {
        http_respond_error(req, 400, "limit: must be a whole number from 1 to %d", LEDGER_PAGE_MAX);
        return;
    }
    static struct ledger_signed_checkpoint cp;
    struct page pg = {.covered = checkpoint_index(api, &cp), .next = from};
    if (from <= last) {
        enum ledger_error rv = ledger_read_range(api->raft->ledger, from, limit,
                                                 LEDGER_PAGE_JSON_BYTES, add_entry, &pg);
        if (rv != LEDGER_OK || pg.error) {
            free(pg.text);
            http_respond_error(req, 500, "ledger: cannot read from index %" PRIu64 ": %s", from,
                               pg.error ? pg.error : ledger_strerror(rv));
            return;
        }
    }
    /* next_from: where the next page starts when this one stopped short of
     * last_index (by limit or by size); null when it reached it. */
    char head[160], next[24] = "null";
    if (pg.given > 0 && pg.next <= last)
        snprintf(next, sizeof(next), "%" PRIu64, pg.next);
    int hlen =
        snprintf(head, sizeof(head),
                 "{\"from\":%" PRIu64 ",\"last_index\":%" PRIu64 ",\"next_from\":%s,\"entries\":[",
                 from, last, next);
    char *body = malloc((size_t)hlen + pg.len + 4);
    if (!body) {
        free(pg.text);
        http_respond_error(req, 500, "out of memory");
        return;
    }
    memcpy(body, head, (size_t)hlen);
    if (pg.len)
        memcpy(body + hlen, pg.text, pg.len);
    memcpy(body + (size_t)hlen + pg.len, "]}\n", 3);
    free(pg.text);
    http_respond(req, 200, "application/json", body, (size_t)hlen + pg.len + 3);
    free(body);
}

void api_ledger_get_head(struct node_api *api, struct http_request *req)
{
    static struct ledger_signed_checkpoint cp;
    json_t *checkpoint = json_null();
    if (ledger_last_checkpoint(api->raft->ledger, &cp) == LEDGER_OK) {
        json_t *sigs = json_array();
        for (size_t i = 0; i < cp.nsigs; i++)
            json_array_append_new(
                sigs, json_pack("{s:s, s:o, s:o}", "signer", cp.sigs[i].signer, "pubkey",
                                hex_json(cp.sigs[i].pubkey, LEDGER_PUBKEY_BYTES), "signature",
                                hex_json(cp.sigs[i].sig, LEDGER_SIG_BYTES)));
        size_t members = ledger_members_at(api->raft->ledger, cp.cp.index, NULL, NULL);
        checkpoint = json_pack(
            "{s:s, s:I, s:o, s:I, s:o, s:b, s:I}", "origin", cp.cp.origin, "index",
            (json_int_t)cp.cp.index, "head_hash", hex_json(cp.cp.head_hash, LEDGER_HASH_BYTES),
            "term", (json_int_t)cp.cp.term, "signatures", sigs, "notarized",
            node_witness_notarized(api->wit, &cp), "quorum", (json_int_t)(members / 2 + 1));
    }
    json_t *body = json_pack(
        "{s:I, s:I, s:I, s:o, s:o, s:s, s:o}", "index",
        (json_int_t)ledger_last_index(api->raft->ledger), "committed",
        (json_int_t)api->raft->cons.commit, "term", (json_int_t)ledger_last_term(api->raft->ledger),
        "hash", head_hash_json(api), "checkpoint", checkpoint, "node", api->base->cfg.id,
        "node_pubkey", hex_json(api->raft->key_pair.pk, LEDGER_PUBKEY_BYTES));
    http_respond_json(req, 200, body);
}
