/* Replication: the ledger is the consensus core's log. The core knows
 * entries by metadata only; this file moves the exact bytes between the
 * ledger and the wire, verifies what arrives before the core sees it, and
 * makes the core's log changes durable (one fdatasync per batch) before
 * anything that depends on them is sent.
 *
 * The election entry's payload (LEDGER_ENTRY_ELECTION) is the msgpack map
 *     {"leader": <node id (str)>, "term": <term (uint)>}
 * and a note's (LEDGER_ENTRY_NOTE) is the msgpack str of the note. */
#include <inttypes.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/node.h"

/* The entry bytes one APPEND carries (always at least one entry; an
 * envelope has room for 3 MiB). Everything about an APPEND costs the loop
 * time in proportion to its bytes, on both sides (read back, seal, send;
 * open, decode, hash, write, sync), and the loop also sends heartbeats: a
 * batch of 256 notes of 4 KB in one APPEND held a follower's loop for 20 to
 * 40 ms and the leader's for as long again per follower. Smaller APPENDs
 * spread a large batch over several turns of the loop; the rest follows
 * each answer (the core resumes after the follower's match). */
#define REPL_MAX_APPEND_BYTES (256u * 1024u)

/* Sending an APPEND costs the loop time in proportion to its bytes (read
 * back, sign, encode, seal: about 11 ms for 256 KiB on the sanitized build),
 * and a batch of notes goes to every follower in the same turn. So at most
 * one APPEND that carries entries leaves per loop turn; the others wait, in
 * order, for the next turns (an idle handle runs once per turn). One still
 * waiting when this node is no longer the leader of its term is dropped:
 * the core sends again what a follower lacks. Heartbeats never wait. */
#define REPL_DEFER_MAX (2 * CONFIG_MAX_MEMBERS)
static struct {
    uv_idle_t idle;
    bool open;
    bool spent; /* an APPEND with entries left in this turn */
    struct cons_msg q[REPL_DEFER_MAX];
    size_t head, count;
} defer; /* one node per process; the loop is single-threaded */

static void fatal(struct node *n, const char *what, enum ledger_error rv)
{
    char desc[256];
    node_fatal(&n->base, "ledger: %s: %s", what, ledger_describe(n->raft.ledger, rv, desc, sizeof(desc)));
}

static int log_meta(void *ctx, uint64_t index, uint64_t *term, uint8_t hash[CONS_HASH_BYTES])
{
    struct node *n = ctx;
    if (index == 0 || index > ledger_last_index(n->raft.ledger))
        return -1;
    if (ledger_term_at(n->raft.ledger, index, term) != LEDGER_OK ||
        ledger_hash_at(n->raft.ledger, index, hash) != LEDGER_OK)
        return -1;
    return 0;
}

int node_repl_start(struct node *n)
{
    n->raft.batch = ledger_batch_new();
    if (!n->raft.batch) {
        fprintf(stderr, "chimerad: out of memory\n");
        return -1;
    }
    static struct ledger_signed_checkpoint cp; /* large; the loop is single-threaded */
    uint64_t commit = ledger_last_checkpoint(n->raft.ledger, &cp) == LEDGER_OK ? cp.cp.index : 0;
    struct cons_entry last = {.index = ledger_last_index(n->raft.ledger),
                              .term = ledger_last_term(n->raft.ledger)};
    ledger_head_hash(n->raft.ledger, last.hash);
    struct cons_log log = {.ctx = n, .meta = log_meta};
    cons_set_log(&n->raft.cons, &log, &last, commit);
    uv_idle_init(n->base.loop, &defer.idle);
    defer.idle.data = n;
    defer.open = true;
    return 0;
}

struct read_state {
    struct cons_wire_entry *e;
    uint8_t **bufs;
    uint32_t count, want;
};

static int copy_entry(uint64_t index, uint64_t term, const uint8_t *bytes, size_t len, void *arg)
{
    (void)index;
    (void)term;
    struct read_state *rs = arg;
    if (rs->count >= rs->want)
        return 1;
    uint8_t *copy = malloc(len);
    if (!copy)
        return 1;
    memcpy(copy, bytes, len);
    rs->bufs[rs->count] = copy;
    rs->e[rs->count].bytes = copy;
    rs->e[rs->count].len = len;
    rs->count++;
    return 0;
}

static void send_now(struct node *n, struct cons_msg *m);

static void next_turn(uv_idle_t *h)
{
    struct node *n = h->data;
    defer.spent = false;
    while (defer.count > 0 && !defer.spent) {
        struct cons_msg m = defer.q[defer.head];
        defer.head = (defer.head + 1) % REPL_DEFER_MAX;
        defer.count--;
        if (!n->base.stopping && n->raft.cons.role == CONS_LEADER && n->raft.cons.term == m.term)
            send_now(n, &m);
    }
    if (!defer.spent)
        uv_idle_stop(&defer.idle);
}

/* An APPEND with entries is leaving: the next one waits for the next turn. */
static void start_turn(void)
{
    if (!defer.open)
        return; /* stopped: no turn to wait for */
    defer.spent = true;
    uv_idle_start(&defer.idle, next_turn);
}

void node_repl_send_append(struct node *n, struct cons_msg *m)
{
    if (!defer.open || (!defer.spent && defer.count == 0)) {
        send_now(n, m);
        return;
    }
    if (defer.count == REPL_DEFER_MAX) { /* more members than it holds: never */
        send_now(n, m);
        return;
    }
    defer.q[(defer.head + defer.count++) % REPL_DEFER_MAX] = *m;
}

void node_repl_stop(struct node *n)
{
    (void)n;
    defer.count = 0;
    if (defer.open)
        uv_close((uv_handle_t *)&defer.idle, NULL);
    defer.open = false;
}

static void send_now(struct node *n, struct cons_msg *m)
{
    static struct cons_wire_entry e[CONS_MAX_BATCH];
    static uint8_t *bufs[CONS_MAX_BATCH];
    struct read_state rs = {.e = e, .bufs = bufs, .want = m->n_entries};
    if (m->n_entries > CONS_MAX_BATCH || m->prev_index >= ledger_last_index(n->raft.ledger))
        return;
    start_turn();
    /* An APPEND larger than an envelope carries fewer entries; the
     * follower's answer then moves the leader back to what it lacks. */
    if (ledger_read_range(n->raft.ledger, m->prev_index + 1, m->n_entries, REPL_MAX_APPEND_BYTES,
                          copy_entry, &rs) == LEDGER_OK &&
        rs.count > 0) {
        m->n_entries = rs.count;
        uint8_t *body;
        size_t blen;
        if (node_witness_sign_append(n, m, e) == 0 && cons_msg_encode(m, e, &body, &blen) == 0) {
            node_send(&n->base, (size_t)m->to, ENV_CONSENSUS, body, blen);
            free(body);
        }
    }
    for (uint32_t i = 0; i < rs.count; i++)
        free(bufs[i]);
}

int node_repl_check(struct node *n, size_t from, const struct cons_msg *m,
                    const struct cons_wire_entry *carried, struct cons_entry *meta)
{
    const uint8_t *prev = m->prev_hash;
    for (uint32_t i = 0; i < m->n_entries; i++) {
        struct ledger_entry e;
        if (ledger_entry_decode(carried[i].bytes, carried[i].len, &e, NULL) != LEDGER_OK)
            return -1;
        /* Contiguous after prev_index and chained to each other (the first
         * to the prev hash the core checks against this node's log). */
        if (e.index != m->prev_index + 1 + i || memcmp(e.prev_hash, prev, CONS_HASH_BYTES) != 0)
            return -1;
        if (i > 0 && e.term < meta[i - 1].term)
            return -1;
        meta[i].index = e.index;
        meta[i].term = e.term;
        ledger_entry_hash(e.prev_hash, carried[i].bytes, carried[i].len, meta[i].hash);
        prev = meta[i].hash;
    }
    int verified = m->n_entries > 0 ? node_witness_verify_append(n, from, m, carried, meta) : 0;
    if (verified != 0) {
        node_drop(&n->base, DROP_SIGNATURE, verified == -2 ? "equivocation" : n->base.peers.m[from].id);
        return 1;
    }
    return 0;
}

bool node_repl_apply_log(struct node *n, const struct cons_out *out,
                         const struct cons_wire_entry *carried)
{
    enum ledger_error rv;
    if (out->truncate && out->truncate_after < ledger_last_index(n->raft.ledger)) {
        uint64_t before = ledger_last_index(n->raft.ledger);
        rv = ledger_truncate_after(n->raft.ledger, out->truncate_after);
        if (rv != LEDGER_OK)
            fatal(n, "truncate", rv);
        node_event(&n->base, "ledger.truncated", NULL,
                   "dropped entries %" PRIu64 "..%" PRIu64 " (a conflicting uncommitted suffix)",
                   out->truncate_after + 1, before);
    }
    if (out->append_count == 0)
        return true;
    ledger_batch_begin(n->raft.batch, n->raft.ledger);
    for (uint32_t i = 0; i < out->append_count; i++) {
        const struct cons_wire_entry *w = &carried[out->append_from + i];
        rv = ledger_batch_add_entry_bytes(n->raft.batch, w->bytes, w->len, NULL);
        if (rv != LEDGER_OK)
            fatal(n, "append", rv);
    }
    rv = ledger_append_batch(n->raft.ledger, n->raft.batch);
    char why[256];
    if (rv != LEDGER_OK && node_ledger_failed(n, rv, "append", why, sizeof(why)))
        return false; /* nothing is acknowledged; the leader will resend */
    if (rv != LEDGER_OK)
        fatal(n, "append", rv);
    node_cons_storage_ok(n);
    return true;
}

/* Tells the core about entries appended up to the ledger's head. */
static void appended(struct node *n)
{
    struct cons_entry last = {.index = ledger_last_index(n->raft.ledger),
                              .term = ledger_last_term(n->raft.ledger)};
    ledger_head_hash(n->raft.ledger, last.hash);
    struct cons_out out;
    cons_appended(&n->raft.cons, uv_now(n->base.loop), &last, &out);
    node_cons_apply(n, &out);
}

int node_repl_append(struct node *n, uint32_t type, const uint8_t *const *payloads,
                     const size_t *lens, size_t count, uint64_t *first, uint64_t *last, char *err,
                     size_t errlen)
{
    uint32_t *types = malloc(count * sizeof(*types));
    if (!types) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < count; i++)
        types[i] = type;
    int rv = node_repl_append_types(n, types, payloads, lens, count, first, last, err, errlen);
    free(types);
    return rv;
}

int node_repl_append_types(struct node *n, const uint32_t *types, const uint8_t *const *payloads,
                           const size_t *lens, size_t count, uint64_t *first, uint64_t *last,
                           char *err, size_t errlen)
{
    if (n->raft.cons.role != CONS_LEADER || count == 0) {
        snprintf(err, errlen, "not the leader");
        return -1;
    }
    ledger_batch_begin(n->raft.batch, n->raft.ledger);
    uint64_t now = (uint64_t)node_wall_ms();
    for (size_t i = 0; i < count; i++) {
        uint64_t index;
        enum ledger_error rv = ledger_batch_add_entry(
            n->raft.batch, n->raft.cons.term, types[i], now, n->base.cfg.id, payloads[i], lens[i], &index, NULL);
        if (rv != LEDGER_OK) {
            snprintf(err, errlen, "entry %zu: %s", i, ledger_strerror(rv));
            ledger_batch_begin(n->raft.batch, n->raft.ledger); /* abandon it */
            return -1;
        }
        if (i == 0)
            *first = index;
        *last = index;
    }
    enum ledger_error rv = ledger_append_batch(n->raft.ledger, n->raft.batch);
    char why[256];
    if (rv != LEDGER_OK && node_ledger_failed(n, rv, "append", why, sizeof(why))) {
        snprintf(err, errlen, "%s; this node stepped down as leader, retry with the next one", why);
        return -2;
    }
    if (rv != LEDGER_OK) {
        snprintf(err, errlen, "ledger append failed: %s", ledger_strerror(rv));
        return -1;
    }
    node_cons_storage_ok(n);
    appended(n);
    return 0;
}

void node_repl_elected(struct node *n)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 2);
    msgpack_pack_str_with_body(&pk, "leader", 6);
    msgpack_pack_str_with_body(&pk, n->base.cfg.id, strlen(n->base.cfg.id));
    msgpack_pack_str_with_body(&pk, "term", 4);
    msgpack_pack_uint64(&pk, n->raft.cons.term);
    const uint8_t *p = (const uint8_t *)sb.data;
    size_t len = sb.size;
    uint64_t first, last;
    char err[256];
    int rv =
        node_repl_append(n, LEDGER_ENTRY_ELECTION, &p, &len, 1, &first, &last, err, sizeof(err));
    msgpack_sbuffer_destroy(&sb);
    if (rv == -2)
        return; /* the disk refused it: stepped down already */
    if (rv != 0)
        node_fatal(&n->base, "cannot record the election: %s", err);
    node_witness_record_members(n);
}

void node_notes_committed(struct node *n, uint64_t commit)
{
    size_t k = 0;
    for (size_t i = 0; i < n->api.nnotes; i++) {
        struct node_note_wait *w = &n->api.notes[i];
        if (w->last <= commit && w->reply) {
            http_respond_json(w->req, w->status, w->reply);
            continue;
        }
        if (w->last <= commit) {
            http_respond_json(w->req, 201,
                              json_pack("{s:I, s:I, s:I}", "first_index", (json_int_t)w->first,
                                        "last_index", (json_int_t)w->last, "term",
                                        (json_int_t)w->term));
            continue;
        }
        n->api.notes[k++] = *w;
    }
    n->api.nnotes = k;
}

void node_notes_fail_all(struct node *n, const char *why)
{
    if (n->base.stopping)
        api_notes_stop(n); /* not yet appended: "node is shutting down" */
    for (size_t i = 0; i < n->api.nnotes; i++) {
        json_decref(n->api.notes[i].reply);
        http_respond_error(n->api.notes[i].req, 503, "%s", why);
    }
    n->api.nnotes = 0;
}
