/* sim_witness: the deterministic simulation of the witness protocol's
 * decisions (witness/notary.h): a leader checkpoints its commit index,
 * witnesses store and cosign what their logs hold, the leader asks again
 * for what is missing and counts a checkpoint notarized once a quorum
 * signed it, under partitions, loss, duplicates, reordering, lagging and
 * diverging followers and changes of leader, on a virtual clock.
 *
 *   sim_witness --schedules N [--start S] [--nodes 3|5|7] [--break MODE]
 *   sim_witness --seed S [--nodes 3|5|7] [--trace] [--break MODE]
 *
 * Consensus is not simulated here (sim_consensus does that): the committed
 * log is one sequence every node holds a prefix of, a follower may hold an
 * uncommitted entry of a deposed leader past it, and a new leader holds the
 * whole committed log (Raft's leader completeness). The ledger's store is
 * modelled on ledger/chain.c (latest checkpoint, EEXIST, ERANGE, ECONFLICT,
 * EEQUIVOCATION, ESTALE); signatures are not computed (the store's checks
 * of them are unit-tested in tests/unit/test_ledger_sign.c).
 *
 * Invariants, after every step:
 *   W1 a node's own signature is only ever on a checkpoint of an entry its
 *      log holds (a witness never vouches for what it does not hold);
 *   W2 every checkpoint a node holds names a committed entry;
 *   W3 honest leaders never look like equivocation (no evidence raised);
 *   W4 once the network heals and writes stop, the leader's latest
 *      checkpoint covers its commit index and is notarized within
 *      W_LIVE_BOUND.
 * Also counted, not judged: schedules that end with a member holding the
 * leader's latest checkpoint without the notarized form (the notarized
 * broadcast goes once; asking again goes only to members whose
 * cosignature the leader lacks).
 *
 * --break injects a deliberate bug into the simulated shell to show the
 * checker catches it: vouch (a witness takes every checkpoint as one of an
 * entry it holds), resend (the leader never asks again). */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/opts.h"
#include "lib/rng.h"
#include "witness/notary.h"

#define W_MAX 7
#define W_H 50u            /* heartbeat interval (ms) */
#define W_STEP 5u          /* the clock advances this much between steps */
#define W_HEAL 6000u       /* the final heal, and the end of writes */
#define W_END 9000u        /* the end of a schedule */
#define W_LIVE_BOUND 1500u /* W4: from the final heal */
#define W_MSGS 4096

/* W_LIVE_BOUND: after the heal a follower holds the commit index within one
 * heartbeat plus a latency (20 ms), a due checkpoint goes out within ten
 * heartbeats (the longest wait, after a refusal), and a lost answer is
 * asked for again within four heartbeats: 10H + 4H + 2(H + 20) + slack. */

enum brk { BREAK_NONE, BREAK_VOUCH, BREAK_RESEND, BREAK_COUNT };
static const char *const break_names[BREAK_COUNT] = {"none", "vouch", "resend"};

enum kind { M_REPL, M_CHECKPOINT, M_COSIGN };

struct msg {
    uint64_t at, seq;
    int from, to;
    enum kind kind;
    uint64_t index;                     /* M_REPL: the leader's commit index */
    struct ledger_signed_checkpoint cp; /* M_CHECKPOINT: bytes and sigs; M_COSIGN: bytes, sigs[0] */
};

struct wnode {
    char id[LEDGER_ID_MAX];
    uint64_t last;   /* the committed prefix it holds */
    uint64_t div_at; /* 0, or the index of an uncommitted entry of another leader it holds */
    bool have_cp;
    struct ledger_signed_checkpoint cp; /* the store's latest */
    struct notary nt;
};

struct sim {
    struct rng rng;
    int n, lead;
    enum brk brk;
    bool trace;
    uint64_t now, term, commit, seq;
    struct wnode nd[W_MAX];
    bool link[W_MAX][W_MAX];
    uint32_t loss_ppm, dup_ppm, lat_max;
    struct msg *pool;      /* W_MSGS slots */
    uint32_t free[W_MSGS]; /* free slots */
    uint32_t q[W_MSGS];    /* slots in flight */
    size_t nfree, nq;
    bool failed;
    char why[512];
    /* figures */
    uint64_t checkpoints, cosigns, notarized, resends, delivered, lost, heal_notarized_ms;
    bool lacks_notarized_form;
};

static void fail(struct sim *s, const char *inv, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fail(struct sim *s, const char *inv, const char *fmt, ...)
{
    if (s->failed)
        return;
    s->failed = true;
    char more[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(more, sizeof(more), fmt, ap);
    va_end(ap);
    snprintf(s->why, sizeof(s->why), "%s at %" PRIu64 " ms: %s", inv, s->now, more);
}

static void trace(const struct sim *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void trace(const struct sim *s, const char *fmt, ...)
{
    if (!s->trace)
        return;
    va_list ap;
    va_start(ap, fmt);
    printf("%6" PRIu64 " ", s->now);
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
}

/* The head hash of entry index: the committed one, or (alt) another
 * leader's uncommitted entry at that index. */
static void head_of(uint64_t index, bool alt, uint8_t out[LEDGER_HASH_BYTES])
{
    uint64_t x = index * 2 + (alt ? 1 : 0);
    for (size_t k = 0; k < LEDGER_HASH_BYTES; k += 8) {
        uint64_t v = splitmix64(&x);
        memcpy(out + k, &v, 8);
    }
}

/* The hash w's log holds at index, false if it holds none. */
static bool hash_at(const struct wnode *w, uint64_t index, uint8_t out[LEDGER_HASH_BYTES])
{
    if (index != 0 && index == w->div_at) {
        head_of(index, true, out);
        return true;
    }
    if (index == 0 || index > w->last)
        return false;
    head_of(index, false, out);
    return true;
}

static uint64_t last_index(const struct wnode *w)
{
    return w->div_at > w->last ? w->div_at : w->last;
}

/* A quorum signed it (the store keeps one signature per key). */
static bool notarized(const struct sim *s, const struct ledger_signed_checkpoint *cp)
{
    return cp->nsigs >= (size_t)(s->n / 2 + 1);
}

/* ---- the store (ledger/chain.c's checkpoint and cosignature rules) ---- */

static enum ledger_error store_checkpoint(struct wnode *w,
                                          const struct ledger_signed_checkpoint *in)
{
    if (w->have_cp) {
        if (in->cp.index == w->cp.cp.index &&
            memcmp(in->cp.head_hash, w->cp.cp.head_hash, LEDGER_HASH_BYTES) != 0)
            return LEDGER_EEQUIVOCATION;
        if (in->cp.index <= w->cp.cp.index)
            return LEDGER_EEXIST;
    }
    uint8_t h[LEDGER_HASH_BYTES];
    if (in->cp.index > last_index(w))
        return LEDGER_ERANGE;
    if (!hash_at(w, in->cp.index, h) || memcmp(h, in->cp.head_hash, LEDGER_HASH_BYTES) != 0)
        return LEDGER_ECONFLICT;
    w->have_cp = true;
    w->cp = *in;
    return LEDGER_OK;
}

static enum ledger_error store_cosign(struct wnode *w, const uint8_t *bytes, size_t len,
                                      const struct ledger_sig *sig)
{
    if (!w->have_cp)
        return LEDGER_ESTALE;
    if (len != w->cp.len || memcmp(bytes, w->cp.bytes, len) != 0)
        return LEDGER_ESTALE;
    if (!notary_lacks(&w->cp, sig->signer))
        return LEDGER_EEXIST;
    w->cp.sigs[w->cp.nsigs++] = *sig;
    return LEDGER_OK;
}

/* ---- the network -------------------------------------------------------- */

static void send(struct sim *s, int from, int to, struct msg m)
{
    if (!s->link[from][to] || rng_chance(&s->rng, s->loss_ppm)) {
        s->lost++;
        return;
    }
    for (int copy = 0; copy < 1 + rng_chance(&s->rng, s->dup_ppm); copy++) {
        if (s->nfree == 0) {
            s->lost++;
            return;
        }
        uint32_t slot = s->free[--s->nfree];
        m.from = from;
        m.to = to;
        m.at = s->now + rng_range(&s->rng, 1, s->lat_max);
        m.seq = s->seq++;
        s->pool[slot] = m;
        s->q[s->nq++] = slot;
    }
}

static void send_checkpoint(struct sim *s, int from, int to,
                            const struct ledger_signed_checkpoint *cp)
{
    struct msg m = {.kind = M_CHECKPOINT, .cp = *cp};
    send(s, from, to, m);
}

/* ---- the shell: what node/witness does with the core's answers ---------- */

static void leader_tick(struct sim *s)
{
    struct wnode *w = &s->nd[s->lead];
    if (!notary_due(&w->nt, s->now, s->commit, last_index(w)))
        return;
    enum notary_tick next =
        notary_tick(&w->nt, s->now, s->commit, w->have_cp ? &w->cp : NULL, w->id);
    if (next == NOTARY_RESEND && s->brk != BREAK_RESEND) {
        s->resends++;
        for (int i = 0; i < s->n; i++)
            if (i != s->lead && notary_lacks(&w->cp, s->nd[i].id))
                send_checkpoint(s, s->lead, i, &w->cp);
    }
    if (next != NOTARY_CHECKPOINT)
        return;
    struct ledger_signed_checkpoint out;
    memset(&out, 0, sizeof(out));
    out.cp = (struct ledger_checkpoint){.index = s->commit, .term = s->term};
    snprintf(out.cp.origin, sizeof(out.cp.origin), "sim");
    head_of(s->commit, false, out.cp.head_hash);
    if (ledger_checkpoint_encode(&out.cp, out.bytes, &out.len) != LEDGER_OK) {
        fail(s, "setup", "cannot encode a checkpoint");
        return;
    }
    snprintf(out.sigs[0].signer, LEDGER_ID_MAX, "%s", w->id);
    out.nsigs = 1;
    if (store_checkpoint(w, &out) != LEDGER_OK) {
        notary_checkpoint_refused(&w->nt, s->now);
        return;
    }
    notary_checkpointed(&w->nt, s->now);
    s->checkpoints++;
    trace(s, "%s checkpoints %" PRIu64, w->id, s->commit);
    for (int i = 0; i < s->n; i++)
        if (i != s->lead)
            send_checkpoint(s, s->lead, i, &out);
}

/* Whether w's log holds the entry cp names (notary_holds_fn). */
static bool holds(void *ctx, const struct ledger_checkpoint *cp)
{
    const struct wnode *w = ctx;
    uint8_t h[LEDGER_HASH_BYTES];
    return cp->index <= last_index(w) && hash_at(w, cp->index, h) &&
           memcmp(h, cp->head_hash, LEDGER_HASH_BYTES) == 0;
}

/* --break vouch: a witness that takes every checkpoint as one it holds. */
static bool holds_anything(void *ctx, const struct ledger_checkpoint *cp)
{
    (void)ctx;
    (void)cp;
    return true;
}

static void on_checkpoint(struct sim *s, int at, const struct msg *m)
{
    struct wnode *w = &s->nd[at];
    struct ledger_checkpoint cp;
    if (notary_offer(s->nd[m->from].id, "sim", m->cp.bytes, m->cp.len, m->cp.sigs, m->cp.nsigs,
                     &cp) != NOTARY_OFFER_VALID)
        return;
    enum notary_take take = notary_take(w->have_cp ? &w->cp : NULL, m->cp.bytes, m->cp.len, &cp,
                                        s->brk == BREAK_VOUCH ? holds_anything : holds, w);
    if (take == NOTARY_TAKE_MERGE) {
        for (size_t i = 0; i < m->cp.nsigs; i++)
            if (notary_lacks(&w->cp, m->cp.sigs[i].signer))
                store_cosign(w, m->cp.bytes, m->cp.len, &m->cp.sigs[i]);
        const struct ledger_sig *again = notary_own_again(&w->cp, m->cp.sigs, m->cp.nsigs, w->id);
        if (again) {
            struct msg c = {.kind = M_COSIGN, .cp = w->cp};
            c.cp.sigs[0] = *again;
            send(s, at, m->from, c);
        }
        return;
    }
    if (take == NOTARY_TAKE_IGNORE)
        return;
    struct ledger_signed_checkpoint in = m->cp;
    in.cp = cp;
    enum ledger_error rv = store_checkpoint(w, &in);
    if (s->brk == BREAK_VOUCH && rv == LEDGER_ECONFLICT) {
        w->have_cp = true; /* the broken shell keeps what its log does not hold */
        w->cp = in;
        rv = LEDGER_OK;
    }
    enum notary_stored stored = notary_stored(rv);
    if (stored == NOTARY_STORED_EQUIVOCATION)
        fail(s, "W3", "%s sees equivocation at index %" PRIu64 " from honest %s", w->id, cp.index,
             s->nd[m->from].id);
    if (stored != NOTARY_STORED_KEPT)
        return;
    if (!notary_cosigns(true, in.sigs, in.nsigs, w->id))
        return;
    struct ledger_sig own;
    memset(&own, 0, sizeof(own));
    snprintf(own.signer, LEDGER_ID_MAX, "%s", w->id);
    if (store_cosign(w, in.bytes, in.len, &own) != LEDGER_OK)
        return;
    s->cosigns++;
    struct msg c = {.kind = M_COSIGN, .cp = in};
    c.cp.sigs[0] = own;
    send(s, at, m->from, c);
}

static void on_cosign(struct sim *s, int at, const struct msg *m)
{
    struct wnode *w = &s->nd[at];
    const struct ledger_sig *sig = &m->cp.sigs[0];
    if (notary_cosign(s->nd[m->from].id, sig, w->have_cp ? &w->cp : NULL, m->cp.bytes, m->cp.len) !=
        NOTARY_COSIGN_ADD)
        return;
    bool was = notarized(s, &w->cp);
    if (store_cosign(w, m->cp.bytes, m->cp.len, sig) != LEDGER_OK)
        return;
    unsigned tally = notary_tally(was, notarized(s, &w->cp), at == s->lead);
    if (tally & NOTARY_TALLY_COUNT)
        s->notarized++;
    if (tally & NOTARY_TALLY_BROADCAST)
        for (int i = 0; i < s->n; i++)
            if (i != at)
                send_checkpoint(s, at, i, &w->cp);
}

static void deliver(struct sim *s, const struct msg *m)
{
    s->delivered++;
    struct wnode *w = &s->nd[m->to];
    if (m->kind == M_REPL) {
        /* Raft's APPEND: the leader's log overwrites an uncommitted tail. */
        if (m->index > w->last)
            w->last = m->index;
        if (w->div_at != 0 && w->div_at <= w->last)
            w->div_at = 0;
    } else if (m->kind == M_CHECKPOINT) {
        on_checkpoint(s, m->to, m);
    } else {
        on_cosign(s, m->to, m);
    }
}

/* ---- faults, writes, invariants ------------------------------------------ */

static void heal(struct sim *s)
{
    for (int a = 0; a < s->n; a++)
        for (int b = 0; b < s->n; b++)
            s->link[a][b] = true;
    s->loss_ppm = s->dup_ppm = 0;
    s->lat_max = 20;
}

static void fault(struct sim *s)
{
    switch (rng_below(&s->rng, 5)) {
    case 0: { /* a partition */
        int cut = (int)rng_below(&s->rng, (uint64_t)s->n);
        for (int b = 0; b < s->n; b++)
            if (b != cut)
                s->link[cut][b] = s->link[b][cut] = false;
        trace(s, "%s cut off", s->nd[cut].id);
        break;
    }
    case 1: { /* one direction of one link */
        int a = (int)rng_below(&s->rng, (uint64_t)s->n),
            b = (int)rng_below(&s->rng, (uint64_t)s->n);
        s->link[a][b] = false;
        break;
    }
    case 2:
        heal(s);
        break;
    case 3:
        s->loss_ppm = (uint32_t)rng_below(&s->rng, 400000);
        s->dup_ppm = (uint32_t)rng_below(&s->rng, 200000);
        s->lat_max = (uint32_t)rng_range(&s->rng, 2, 120);
        break;
    default: { /* a new leader: one that holds the whole committed log */
        int k = (int)rng_below(&s->rng, (uint64_t)s->n);
        if (k == s->lead || s->nd[k].last < s->commit)
            break;
        /* The deposed leader's last, unreplicated entry stays in its log
         * (uncommitted): the new leader's entry at that index differs. */
        s->nd[s->lead].div_at = s->commit + 1;
        s->lead = k;
        s->term++;
        s->nd[k].div_at = 0;
        /* Its election entry (Raft's no-op, node_repl_elected) commits: the
         * checkpoint it signs first covers it, and its predecessor's
         * checkpoint needs no relay. */
        s->nd[k].last = ++s->commit;
        trace(s, "%s leads in term %" PRIu64, s->nd[k].id, s->term);
        break;
    }
    }
}

static void check(struct sim *s)
{
    for (int i = 0; i < s->n && !s->failed; i++) {
        const struct wnode *w = &s->nd[i];
        if (!w->have_cp)
            continue;
        uint8_t h[LEDGER_HASH_BYTES];
        head_of(w->cp.cp.index, false, h);
        if (w->cp.cp.index > s->commit || memcmp(h, w->cp.cp.head_hash, LEDGER_HASH_BYTES) != 0)
            fail(s, "W2", "%s holds a checkpoint of index %" PRIu64 " that is not committed", w->id,
                 w->cp.cp.index);
        if (!notary_lacks(&w->cp, w->id) && (!hash_at(w, w->cp.cp.index, h) ||
                                             memcmp(h, w->cp.cp.head_hash, LEDGER_HASH_BYTES) != 0))
            fail(s, "W1", "%s signed a checkpoint of index %" PRIu64 " its log does not hold",
                 w->id, w->cp.cp.index);
    }
    const struct wnode *l = &s->nd[s->lead];
    bool done = l->have_cp && l->cp.cp.index == s->commit && notarized(s, &l->cp);
    if (s->now >= W_HEAL && done && s->heal_notarized_ms == UINT64_MAX)
        s->heal_notarized_ms = s->now - W_HEAL;
    if (s->now >= W_HEAL + W_LIVE_BOUND && !done)
        fail(s, "W4",
             "the leader's checkpoint of %" PRIu64 " is not notarized %u ms after the heal",
             s->commit, W_LIVE_BOUND);
}

static bool before(const struct msg *x, const struct msg *y)
{
    return x->at != y->at ? x->at < y->at : x->seq < y->seq;
}

/* Delivers every message due by now, in (delivery time, send order). What
 * a delivery sends is due later (latencies are at least 1 ms). */
static void deliver_due(struct sim *s)
{
    uint32_t due[W_MSGS];
    size_t ndue = 0, k = 0;
    for (size_t i = 0; i < s->nq; i++) {
        if (s->pool[s->q[i]].at > s->now) {
            s->q[k++] = s->q[i];
            continue;
        }
        uint32_t slot = s->q[i];
        size_t j = ndue++;
        for (; j > 0 && before(&s->pool[slot], &s->pool[due[j - 1]]); j--)
            due[j] = due[j - 1];
        due[j] = slot;
    }
    s->nq = k;
    for (size_t i = 0; i < ndue; i++) {
        if (!s->failed)
            deliver(s, &s->pool[due[i]]);
        s->free[s->nfree++] = due[i];
    }
}

static int run(struct sim *s, uint64_t seed, int n, enum brk brk, bool tr)
{
    memset(s, 0, sizeof(*s));
    s->pool = calloc(W_MSGS, sizeof(*s->pool));
    if (!s->pool)
        return -1;
    for (uint32_t i = 0; i < W_MSGS; i++)
        s->free[s->nfree++] = W_MSGS - 1 - i;
    rng_seed(&s->rng, seed);
    s->n = n;
    s->brk = brk;
    s->trace = tr;
    s->term = 1;
    s->commit = 1;
    s->heal_notarized_ms = UINT64_MAX;
    for (int i = 0; i < n; i++) {
        snprintf(s->nd[i].id, LEDGER_ID_MAX, "n%d", i);
        s->nd[i].last = 1;
        notary_init(&s->nd[i].nt, W_H);
    }
    heal(s);
    s->lat_max = 40;
    uint64_t next_repl = 0;
    for (s->now = 0; s->now <= W_END && !s->failed; s->now += W_STEP) {
        if (s->now == W_HEAL)
            heal(s);
        if (s->now < W_HEAL) {
            if (rng_chance(&s->rng, 20000))
                fault(s);
            if (rng_chance(&s->rng, 150000)) {
                s->commit++; /* a write commits (a quorum holds it: the leader does) */
                s->nd[s->lead].last = s->commit;
            }
        }
        if (s->now >= next_repl) {
            next_repl = s->now + W_H;
            for (int i = 0; i < n; i++)
                if (i != s->lead)
                    send(s, s->lead, i, (struct msg){.kind = M_REPL, .index = s->commit});
        }
        deliver_due(s);
        leader_tick(s);
        check(s);
    }
    const struct wnode *l = &s->nd[s->lead];
    for (int i = 0; i < n; i++)
        if (s->nd[i].have_cp && s->nd[i].cp.len == l->cp.len &&
            memcmp(s->nd[i].cp.bytes, l->cp.bytes, l->cp.len) == 0 && !notarized(s, &s->nd[i].cp))
            s->lacks_notarized_form = true;
    free(s->pool);
    return s->failed ? 1 : 0;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: sim_witness [--schedules N] [--start S] [--seed S] [--nodes 3|5|7]\n"
               "                   [--trace] [--keep-going] [--break vouch|resend]\n");
}

int main(int argc, char **argv)
{
    struct sim_opts o;
    int status = sim_opts_parse(&o, argc, argv, "sim_witness", break_names, BREAK_COUNT, usage);
    if (status >= 0)
        return status;
    enum brk brk = (enum brk)o.brk;
    static struct sim s;
    uint64_t checkpoints = 0, cosigns = 0, notarized_n = 0, resends = 0, delivered = 0, lost = 0;
    uint64_t slowest = 0, slowest_seed = 0, lacking = 0;
    uint64_t failed = 0;
    for (uint64_t k = 0; k < o.schedules; k++) {
        uint64_t sd = o.start + k;
        int n = sim_opts_nodes(&o, sd);
        int rc = run(&s, sd, n, brk, o.trace);
        if (rc < 0) {
            fprintf(stderr, "sim_witness: out of memory\n");
            return 2;
        }
        if (rc) {
            printf("VIOLATION seed=%" PRIu64 " nodes=%d %s\n", sd, n, s.why);
            printf("replay: %s --seed %" PRIu64 " --nodes %d --trace%s%s\n", argv[0], sd, n,
                   brk ? " --break " : "", brk ? break_names[brk] : "");
            failed++;
            if (o.keep_going)
                continue;
            printf("%" PRIu64 " passed, 1 failed\n", k);
            return 1;
        }
        checkpoints += s.checkpoints;
        cosigns += s.cosigns;
        notarized_n += s.notarized;
        resends += s.resends;
        delivered += s.delivered;
        lost += s.lost;
        lacking += s.lacks_notarized_form;
        if (s.heal_notarized_ms >= slowest) {
            slowest = s.heal_notarized_ms;
            slowest_seed = sd;
        }
    }
    printf("checkpoints %" PRIu64 ", cosignatures %" PRIu64 ", notarized %" PRIu64
           ", rounds of asking again %" PRIu64 "; messages delivered %" PRIu64 ", lost %" PRIu64
           "\n",
           checkpoints, cosigns, notarized_n, resends, delivered, lost);
    printf("notarized after the final heal: max %" PRIu64 " ms (seed %" PRIu64 "; bound %u)\n",
           slowest, slowest_seed, W_LIVE_BOUND);
    printf("schedules ending with a member that holds the latest checkpoint without its "
           "notarized form: %" PRIu64 "\n",
           lacking);
    printf("%" PRIu64 " passed, %" PRIu64 " failed\n", o.schedules - failed, failed);
    return failed ? 1 : 0;
}
