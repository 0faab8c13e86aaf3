/* Replication: the ledger is the consensus core's log. The core knows
 * entries by metadata only; this file moves the exact bytes between the
 * ledger and the wire, verifies what arrives before the core sees it, and
 * writes the core's log changes: a truncation durably before anything is
 * sent, appended entries synced off the loop (node_group.c) while the core
 * holds the answer that acknowledges them.
 *
 * The election entry's payload (LEDGER_ENTRY_ELECTION) is the msgpack map
 *     {"leader": <node id (str)>, "term": <term (uint)>}
 * and a note's (LEDGER_ENTRY_NOTE) is the msgpack str of the note. */
#include <inttypes.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/raft/raft.h"

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

static void fatal(struct node_raft *r, const char *what, enum ledger_error rv)
{
    char desc[256];
    node_fatal(r->base, "ledger: %s: %s", what, ledger_describe(r->ledger, rv, desc, sizeof(desc)));
}

static int log_meta(void *ctx, uint64_t index, uint64_t *term, uint8_t hash[CONS_HASH_BYTES])
{
    struct node_raft *r = ctx;
    if (index == 0 || index > ledger_last_index(r->ledger))
        return -1;
    if (ledger_term_at(r->ledger, index, term) != LEDGER_OK ||
        ledger_hash_at(r->ledger, index, hash) != LEDGER_OK)
        return -1;
    return 0;
}

int node_repl_start(struct node_raft *r)
{
    r->batch = ledger_batch_new();
    if (!r->batch) {
        fprintf(stderr, "chimerad: out of memory\n");
        return -1;
    }
    static struct ledger_signed_checkpoint cp; /* large; the loop is single-threaded */
    uint64_t commit = ledger_last_checkpoint(r->ledger, &cp) == LEDGER_OK ? cp.cp.index : 0;
    struct cons_entry last = {.index = ledger_last_index(r->ledger),
                              .term = ledger_last_term(r->ledger)};
    ledger_head_hash(r->ledger, last.hash);
    struct cons_log log = {.ctx = r, .meta = log_meta};
    cons_set_log(&r->cons, &log, &last, commit);
    raft_metrics_from(&r->metrics, commit);
    uv_idle_init(r->base->loop, &r->defer.idle);
    r->defer.idle.data = r;
    r->defer.open = true;
    return node_group_start(r);
}

/* The entries an APPEND carries, copied back to back into one buffer (the
 * ledger's read buffer is reused from one run of a segment to the next):
 * one copy per APPEND instead of an allocation per entry, which the leader
 * made again for every follower. The buffer is kept between APPENDs (loop
 * thread only) unless it grew past REPL_KEEP_BYTES for a large batch. */
#define REPL_KEEP_BYTES (64u * 1024u)

struct read_state {
    struct node_repl_defer *d; /* its carried buffer */
    struct cons_wire_entry *e;
    size_t off[CONS_MAX_BATCH], len;
    uint32_t count, want;
};

static int copy_entry(uint64_t index, uint64_t term, const uint8_t *bytes, size_t len, void *arg)
{
    (void)index;
    (void)term;
    struct read_state *rs = arg;
    if (rs->count >= rs->want)
        return 1;
    struct node_repl_defer *d = rs->d;
    if (rs->len + len > d->carried_cap) {
        size_t cap = d->carried_cap ? d->carried_cap : 4096;
        while (cap < rs->len + len)
            cap *= 2;
        uint8_t *p = realloc(d->carried, cap);
        if (!p)
            return 1; /* the APPEND carries what was read */
        d->carried = p;
        d->carried_cap = cap;
    }
    memcpy(d->carried + rs->len, bytes, len);
    rs->off[rs->count] = rs->len;
    rs->e[rs->count].len = len;
    rs->len += len;
    rs->count++;
    return 0;
}

static void send_now(struct node_raft *r, struct cons_msg *m);

static void drop_carried(struct node_repl_defer *d)
{
    free(d->carried);
    d->carried = NULL;
    d->carried_cap = 0;
}

static void next_turn(uv_idle_t *h)
{
    struct node_raft *r = h->data;
    r->defer.spent = false;
    while (r->defer.count > 0 && !r->defer.spent) {
        struct cons_msg m = r->defer.q[r->defer.head];
        r->defer.head = (r->defer.head + 1) % NODE_REPL_DEFER_MAX;
        r->defer.count--;
        if (!r->base->stopping && r->cons.role == CONS_LEADER && r->cons.term == m.term)
            send_now(r, &m);
    }
    if (!r->defer.spent)
        uv_idle_stop(&r->defer.idle);
}

/* An APPEND with entries is leaving: the next one waits for the next turn. */
static void start_turn(struct node_raft *r)
{
    if (!r->defer.open)
        return; /* stopped: no turn to wait for */
    r->defer.spent = true;
    uv_idle_start(&r->defer.idle, next_turn);
}

void node_repl_send_append(struct node_raft *r, struct cons_msg *m)
{
    if (!r->defer.open || (!r->defer.spent && r->defer.count == 0)) {
        send_now(r, m);
        return;
    }
    if (r->defer.count == NODE_REPL_DEFER_MAX) { /* more members than it holds: never */
        send_now(r, m);
        return;
    }
    r->defer.q[(r->defer.head + r->defer.count++) % NODE_REPL_DEFER_MAX] = *m;
}

void node_repl_stop(struct node_raft *r)
{
    drop_carried(&r->defer);
    node_group_stop(r);
    r->defer.count = 0;
    if (r->defer.open)
        uv_close((uv_handle_t *)&r->defer.idle, NULL);
    r->defer.open = false;
}

static void send_now(struct node_raft *r, struct cons_msg *m)
{
    static struct cons_wire_entry e[CONS_MAX_BATCH];
    static struct read_state rs;
    rs = (struct read_state){.d = &r->defer, .e = e, .want = m->n_entries};
    if (m->n_entries > CONS_MAX_BATCH || m->prev_index >= ledger_last_index(r->ledger))
        return;
    start_turn(r);
    /* An APPEND larger than an envelope carries fewer entries; the
     * follower's answer then moves the leader back to what it lacks. */
    if (ledger_read_range(r->ledger, m->prev_index + 1, m->n_entries, REPL_MAX_APPEND_BYTES,
                          copy_entry, &rs) == LEDGER_OK &&
        rs.count > 0) {
        m->n_entries = rs.count;
        for (uint32_t i = 0; i < rs.count; i++)
            e[i].bytes = r->defer.carried + rs.off[i];
        uint8_t *body;
        size_t blen;
        if (r->hooks.sign_append(r->hooks.ctx, m, e) == 0 &&
            cons_msg_encode(m, e, &body, &blen) == 0) {
            node_send(r->base, (size_t)m->to, ENV_CONSENSUS, body, blen);
            free(body);
        }
    }
    if (r->defer.carried_cap > REPL_KEEP_BYTES)
        drop_carried(&r->defer);
}

/* The carried entries node_repl_check decoded and hashed, handed to
 * node_repl_apply_log for the same message so the ledger's chain check runs
 * on them without decoding and hashing each entry a second time. Keyed by
 * the bytes' address and length, and cleared on every check and every use:
 * anything else takes the full path. */
static struct {
    const uint8_t *bytes[CONS_MAX_BATCH];
    size_t len[CONS_MAX_BATCH];
    struct ledger_known_entry k[CONS_MAX_BATCH];
    uint32_t n;
} known;

static const struct ledger_known_entry *known_for(const struct cons_wire_entry *w, uint32_t at)
{
    return at < known.n && known.bytes[at] == w->bytes && known.len[at] == w->len ? &known.k[at]
                                                                                  : NULL;
}

int node_repl_check(struct node_raft *r, size_t from, const struct cons_msg *m,
                    const struct cons_wire_entry *carried, struct cons_entry *meta)
{
    const uint8_t *prev = m->prev_hash;
    known.n = 0;
    for (uint32_t i = 0; i < m->n_entries; i++) {
        struct ledger_entry *e = &known.k[i].e;
        if (ledger_entry_decode(carried[i].bytes, carried[i].len, e, NULL) != LEDGER_OK)
            return -1;
        /* Contiguous after prev_index and chained to each other (the first
         * to the prev hash the core checks against this node's log). */
        if (e->index != m->prev_index + 1 + i || memcmp(e->prev_hash, prev, CONS_HASH_BYTES) != 0)
            return -1;
        if (i > 0 && e->term < meta[i - 1].term)
            return -1;
        meta[i].index = e->index;
        meta[i].term = e->term;
        ledger_entry_hash(e->prev_hash, carried[i].bytes, carried[i].len, meta[i].hash);
        prev = meta[i].hash;
        memcpy(known.k[i].hash, meta[i].hash, CONS_HASH_BYTES);
        known.bytes[i] = carried[i].bytes;
        known.len[i] = carried[i].len;
    }
    known.n = m->n_entries;
    int verified =
        m->n_entries > 0 ? r->hooks.verify_append(r->hooks.ctx, from, m, carried, meta) : 0;
    if (verified != 0) {
        node_drop(r->base, DROP_SIGNATURE,
                  verified == -2 ? "equivocation" : r->base->peers.m[from].id);
        return 1;
    }
    return 0;
}

bool node_repl_apply_log(struct node_raft *r, const struct cons_out *out,
                         const struct cons_wire_entry *carried)
{
    enum ledger_error rv;
    if (out->truncate && out->truncate_after < ledger_last_index(r->ledger)) {
        uint64_t before = ledger_last_index(r->ledger);
        rv = ledger_truncate_after(r->ledger, out->truncate_after);
        if (rv != LEDGER_OK)
            fatal(r, "truncate", rv);
        node_sync_cut(r, out->truncate_after);
        node_event(r->base, "ledger.truncated", NULL,
                   "dropped entries %" PRIu64 "..%" PRIu64 " (a conflicting uncommitted suffix)",
                   out->truncate_after + 1, before);
    }
    if (out->append_count == 0)
        return true;
    ledger_batch_begin(r->batch, r->ledger);
    for (uint32_t i = 0; i < out->append_count; i++) {
        const struct cons_wire_entry *w = &carried[out->append_from + i];
        rv = ledger_batch_add_entry_known(r->batch, w->bytes, w->len,
                                          known_for(w, out->append_from + i), NULL);
        if (rv != LEDGER_OK)
            fatal(r, "append", rv);
    }
    known.n = 0;
    /* Written, not synced: the core holds its answer until the sync that
     * covers these entries returned (node_group.c), and the loop goes on
     * meanwhile. */
    rv = ledger_append_batch_unsynced(r->ledger, r->batch);
    char why[256];
    if (rv != LEDGER_OK && node_ledger_failed(r, rv, "append", why, sizeof(why)))
        return false; /* nothing is acknowledged; the leader will resend */
    if (rv != LEDGER_OK)
        fatal(r, "append", rv);
    r->shell.storage_ok(r);
    node_sync_kick(r);
    return true;
}

int node_repl_append(struct node_raft *r, uint32_t type, const uint8_t *const *payloads,
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
    int rv = node_repl_append_types(r, types, payloads, lens, count, first, last, err, errlen);
    free(types);
    return rv;
}

int node_repl_append_types(struct node_raft *r, const uint32_t *types,
                           const uint8_t *const *payloads, const size_t *lens, size_t count,
                           uint64_t *first, uint64_t *last, char *err, size_t errlen)
{
    if (r->cons.role != CONS_LEADER || count == 0) {
        raft_metrics_refused(&r->metrics, count);
        snprintf(err, errlen, "not the leader");
        return -1;
    }
    if (cons_transferring(&r->cons)) {
        /* Refused, not queued: the target must catch up with a log that
         * stays put, and the next leader takes the retry. */
        raft_metrics_refused(&r->metrics, count);
        snprintf(err, errlen, "leadership transfer in progress; retry with the next leader");
        return -2;
    }
    return node_group_add(r, types, payloads, lens, count, first, last, err, errlen);
}

void node_repl_elected(struct node_raft *r)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 2);
    msgpack_pack_str_with_body(&pk, "leader", 6);
    msgpack_pack_str_with_body(&pk, r->base->cfg.id, strlen(r->base->cfg.id));
    msgpack_pack_str_with_body(&pk, "term", 4);
    msgpack_pack_uint64(&pk, r->cons.term);
    const uint8_t *p = (const uint8_t *)sb.data;
    size_t len = sb.size;
    uint64_t first, last;
    char err[256];
    int rv =
        node_repl_append(r, LEDGER_ENTRY_ELECTION, &p, &len, 1, &first, &last, err, sizeof(err));
    msgpack_sbuffer_destroy(&sb);
    if (rv == -2)
        return; /* the disk refused it: stepped down already */
    if (rv != 0)
        node_fatal(r->base, "cannot record the election: %s", err);
    if (r->hooks.on_elected)
        r->hooks.on_elected(r->hooks.ctx);
}
