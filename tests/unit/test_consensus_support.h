/* Helpers shared by the test_consensus*.c programs (each is its own
 * executable, so these are static inline rather than a library): message
 * builders, output inspection, and a tiny in-memory cluster with a manual
 * clock and a partition matrix. */
#ifndef CHIMERA_TEST_CONSENSUS_SUPPORT_H
#define CHIMERA_TEST_CONSENSUS_SUPPORT_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "consensus/consensus.h"

#define HB_MS 50u
#define T_MS 150u
#define START 1000u /* every test starts its clock here, so "now - T_MS" never wraps */

static inline struct cons_config ccfg(int32_t self, int32_t n)
{
    struct cons_config cfg = {
        .self = self, .n = n, .heartbeat_ms = HB_MS, .election_timeout_ms = T_MS};
    return cfg;
}

static inline void init_node(struct cons *c, int32_t self, int32_t n, uint64_t term,
                             int32_t voted_for, uint64_t seed)
{
    struct cons_config cfg = ccfg(self, n);
    struct cons_persist p = {.term = term, .voted_for = voted_for};
    cons_init(c, &cfg, &p, START, seed);
}

static inline struct cons_msg mk(enum cons_msg_type type, int32_t from, int32_t to, uint64_t term)
{
    struct cons_msg m = {.type = type, .from = from, .to = to, .term = term};
    return m;
}

static inline const struct cons_msg *find(const struct cons_out *out, enum cons_msg_type type,
                                          int32_t to)
{
    for (size_t i = 0; i < out->nmsgs; i++)
        if (out->msgs[i].type == type && out->msgs[i].to == to)
            return &out->msgs[i];
    return NULL;
}

static inline size_t count_type(const struct cons_out *out, enum cons_msg_type type)
{
    size_t k = 0;
    for (size_t i = 0; i < out->nmsgs; i++)
        k += out->msgs[i].type == type;
    return k;
}

/* What every output must satisfy, whatever produced it. */
static inline void check_out(const struct cons *c, const struct cons_out *out)
{
    assert_true(out->nmsgs <= CONS_MAX_OUT);
    for (size_t i = 0; i < out->nmsgs; i++) {
        assert_int_equal(out->msgs[i].from, c->cfg.self);
        assert_int_not_equal(out->msgs[i].to, c->cfg.self);
        assert_in_range(out->msgs[i].to, 0, c->cfg.n - 1);
    }
    if (out->persist) {
        assert_int_equal(out->state.term, c->term);
        assert_int_equal(out->state.voted_for, c->voted_for);
    }
}

static inline void recv_one(struct cons *c, uint64_t now, struct cons_msg m, struct cons_out *out)
{
    cons_recv(c, now, &m, out);
    check_out(c, out);
}

static inline void tick(struct cons *c, uint64_t now, struct cons_out *out)
{
    cons_tick(c, now, out);
    check_out(c, out);
}

/* Makes c (member 0 of n >= 3) leader by hand at its election deadline, with
 * member 1 granting the pre-vote and the vote; returns the time it won. */
static inline uint64_t elect_by_hand(struct cons *c)
{
    struct cons_out out;
    uint64_t now = c->election_deadline;
    tick(c, now, &out);
    assert_int_equal(c->role, CONS_PRECANDIDATE);
    struct cons_msg m = mk(CONS_MSG_PREVOTE_RESP, 1, c->cfg.self, c->term + 1);
    m.granted = true;
    recv_one(c, now, m, &out);
    assert_int_equal(c->role, CONS_CANDIDATE);
    m = mk(CONS_MSG_VOTE_RESP, 1, c->cfg.self, c->term);
    m.granted = true;
    recv_one(c, now, m, &out);
    assert_int_equal(c->role, CONS_LEADER);
    return now;
}

/* ---- in-memory logs ---------------------------------------------------- */

#define CL_LOG 2048

/* A node's log: e[1..len] (e[0] unused). */
struct cl_log {
    struct cons_entry e[CL_LOG + 1];
    uint64_t len;
};

static inline uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* A stand-in for the ledger's chain: the hash of an entry covers the previous
 * hash, its index, term and a payload tag (two entries with the same index
 * and term but different tags are different entries). */
static inline struct cons_entry chain_entry(const uint8_t prev_hash[CONS_HASH_BYTES],
                                            uint64_t index, uint64_t term, uint64_t tag)
{
    struct cons_entry e = {.index = index, .term = term};
    uint64_t acc = mix64(index * 0x9E3779B97F4A7C15ULL ^ term) ^ mix64(tag + 17);
    for (size_t w = 0; w < CONS_HASH_BYTES / 8; w++) {
        uint64_t p;
        memcpy(&p, prev_hash + 8 * w, 8);
        acc = mix64(acc ^ p ^ w);
        memcpy(e.hash + 8 * w, &acc, 8);
    }
    return e;
}

/* Appends one entry to a log, chained to its last one. */
static inline const struct cons_entry *log_push(struct cl_log *l, uint64_t term, uint64_t tag)
{
    static const uint8_t zero[CONS_HASH_BYTES];
    assert_true(l->len < CL_LOG);
    const uint8_t *prev = l->len ? l->e[l->len].hash : zero;
    l->e[l->len + 1] = chain_entry(prev, l->len + 1, term, tag);
    l->len++;
    return &l->e[l->len];
}

static inline int log_meta(void *ctx, uint64_t index, uint64_t *term, uint8_t hash[CONS_HASH_BYTES])
{
    const struct cl_log *l = ctx;
    if (index < 1 || index > l->len)
        return -1;
    *term = l->e[index].term;
    memcpy(hash, l->e[index].hash, CONS_HASH_BYTES);
    return 0;
}

/* Hands a core its log (with the view) and commit index. */
static inline void log_attach(struct cons *c, struct cl_log *l, uint64_t commit)
{
    struct cons_log view = {.ctx = l, .meta = log_meta};
    cons_set_log(c, &view, l->len ? &l->e[l->len] : NULL, commit);
}

/* Builds a log from terms[0..n) with one tag for all. */
static inline void log_fill(struct cl_log *l, const uint64_t *terms, size_t n, uint64_t tag)
{
    memset(l, 0, sizeof(*l));
    for (size_t k = 0; k < n; k++)
        log_push(l, terms[k], tag);
}

/* ---- the in-test cluster ---------------------------------------------- */

#define CL_MAX 5
#define CL_QUEUE 1024

struct cluster {
    int32_t n;
    uint64_t now;
    struct cons node[CL_MAX];
    struct cons_persist disk[CL_MAX]; /* what each node last asked to persist */
    bool cut[CL_MAX][CL_MAX];         /* cut[a][b]: a's messages to b are lost */
    struct cons_msg q[CL_QUEUE];
    size_t qhead, qtail;
    size_t sent[CL_MAX][CONS_MSG_TYPE_END]; /* by sender and type */
    int32_t leader_of[64];                  /* election safety: one leader per term */
    /* Replication: each node's log, the entries carried by each queued
     * APPEND (copied from the sender's log when sent), each node's commit
     * index as reported in out->commit, and every entry ever committed
     * anywhere (nothing committed may ever change). */
    struct cl_log log[CL_MAX];
    struct cons_entry *carried[CL_QUEUE];
    uint64_t commit[CL_MAX];
    struct cons_entry committed[CL_LOG + 1];
    uint64_t ncommitted;
    size_t truncations; /* log actions that dropped entries */
};

static inline void cl_init(struct cluster *cl, int32_t n, uint64_t seed)
{
    memset(cl, 0, sizeof(*cl));
    cl->n = n;
    cl->now = START;
    for (int32_t i = 0; i < n; i++) {
        init_node(&cl->node[i], i, n, 0, CONS_NONE, seed + (uint64_t)i);
        cl->disk[i].voted_for = CONS_NONE;
        log_attach(&cl->node[i], &cl->log[i], 0);
    }
    for (size_t t = 0; t < 64; t++)
        cl->leader_of[t] = CONS_NONE;
}

/* Performs a node's log actions, as a shell would, before its messages
 * leave; in is the message being handled (NULL for ticks and appends). */
static inline void cl_apply_log(struct cluster *cl, int32_t i, const struct cons_msg *in,
                                const struct cons_out *out)
{
    const struct cons *c = &cl->node[i];
    struct cl_log *l = &cl->log[i];
    if (out->truncate) {
        /* Never a committed entry. */
        assert_true(out->truncate_after >= cl->commit[i]);
        assert_true(out->truncate_after <= l->len);
        cl->truncations += out->truncate_after < l->len;
        l->len = out->truncate_after;
    }
    if (out->append_count) {
        assert_non_null(in);
        assert_int_equal(in->type, CONS_MSG_APPEND);
        assert_true(out->append_from + out->append_count <= in->n_entries);
        for (uint32_t k = 0; k < out->append_count; k++) {
            const struct cons_entry *e = &in->entries[out->append_from + k];
            assert_int_equal(e->index, l->len + 1);
            assert_true(l->len < CL_LOG);
            l->e[++l->len] = *e;
        }
    }
    /* The core's idea of the last entry is the log's. */
    assert_int_equal(c->last_log_index, l->len);
    if (l->len) {
        assert_int_equal(c->last_log_term, l->e[l->len].term);
        assert_memory_equal(c->last_log_hash, l->e[l->len].hash, CONS_HASH_BYTES);
    }
    if (out->commit) {
        assert_true(out->commit > cl->commit[i]);
        assert_true(out->commit <= l->len);
        for (uint64_t x = cl->commit[i] + 1; x <= out->commit; x++) {
            if (x <= cl->ncommitted) {
                assert_int_equal(cl->committed[x].term, l->e[x].term);
                assert_memory_equal(cl->committed[x].hash, l->e[x].hash, CONS_HASH_BYTES);
            } else {
                assert_int_equal(x, cl->ncommitted + 1);
                cl->committed[++cl->ncommitted] = l->e[x];
            }
        }
        cl->commit[i] = out->commit;
    }
    assert_int_equal(c->commit, cl->commit[i]);
}

static inline void cl_apply_msg(struct cluster *cl, int32_t i, const struct cons_msg *in,
                                const struct cons_out *out)
{
    const struct cons *c = &cl->node[i];
    check_out(c, out);
    cl_apply_log(cl, i, in, out);
    if (out->persist)
        cl->disk[i] = out->state;
    /* The disk always holds what the node runs on before anything leaves. */
    assert_int_equal(cl->disk[i].term, c->term);
    assert_int_equal(cl->disk[i].voted_for, c->voted_for);
    if (c->role == CONS_LEADER && c->term < 64) {
        if (cl->leader_of[c->term] == CONS_NONE)
            cl->leader_of[c->term] = i;
        assert_int_equal(cl->leader_of[c->term], i);
    }
    for (size_t k = 0; k < out->nmsgs; k++) {
        const struct cons_msg *m = &out->msgs[k];
        cl->sent[i][m->type]++;
        if (cl->cut[i][m->to])
            continue;
        assert_true(cl->qtail - cl->qhead < CL_QUEUE);
        size_t slot = cl->qtail++ % CL_QUEUE;
        cl->q[slot] = *m;
        if (m->type == CONS_MSG_APPEND && m->n_entries) {
            /* The shell reads the carried entries from its log as it sends. */
            assert_true(m->prev_index + m->n_entries <= cl->log[i].len);
            size_t bytes = m->n_entries * sizeof(struct cons_entry);
            cl->carried[slot] = malloc(bytes);
            assert_non_null(cl->carried[slot]);
            memcpy(cl->carried[slot], &cl->log[i].e[m->prev_index + 1], bytes);
            cl->q[slot].entries = cl->carried[slot];
        }
    }
}

static inline void cl_apply(struct cluster *cl, int32_t i, const struct cons_out *out)
{
    cl_apply_msg(cl, i, NULL, out);
}

/* Frees what is still in flight. */
static inline void cl_free(struct cluster *cl)
{
    for (size_t k = 0; k < CL_QUEUE; k++) {
        free(cl->carried[k]);
        cl->carried[k] = NULL;
    }
    cl->qhead = cl->qtail;
}

/* The leader i appends count entries of its term (tagged tag) and tells
 * its core, as the shell does for clients' entries. */
static inline void cl_propose(struct cluster *cl, int32_t i, size_t count, uint64_t tag)
{
    struct cons *c = &cl->node[i];
    assert_int_equal(c->role, CONS_LEADER);
    const struct cons_entry *last = NULL;
    for (size_t k = 0; k < count; k++)
        last = log_push(&cl->log[i], c->term, tag);
    struct cons_out out;
    cons_appended(c, cl->now, last, &out);
    cl_apply(cl, i, &out);
}

static inline void cl_tick(struct cluster *cl, int32_t i)
{
    struct cons_out out;
    cons_tick(&cl->node[i], cl->now, &out);
    cl_apply(cl, i, &out);
}

/* Delivers the oldest message in flight, if any. */
static inline bool cl_deliver_one(struct cluster *cl)
{
    if (cl->qhead == cl->qtail)
        return false;
    size_t slot = cl->qhead++ % CL_QUEUE;
    struct cons_msg m = cl->q[slot];
    struct cons_out out;
    cons_recv(&cl->node[m.to], cl->now, &m, &out);
    cl_apply_msg(cl, m.to, &m, &out);
    free(cl->carried[slot]);
    cl->carried[slot] = NULL;
    return true;
}

/* Delivers everything in flight, and whatever that provokes, at the current
 * time (a network with no delay). */
static inline void cl_deliver(struct cluster *cl)
{
    while (cl_deliver_one(cl))
        ;
}

/* Runs the clock to `until`, jumping from deadline to deadline. */
static inline void cl_run(struct cluster *cl, uint64_t until)
{
    for (;;) {
        uint64_t next = UINT64_MAX;
        for (int32_t i = 0; i < cl->n; i++) {
            uint64_t d = cons_next_deadline(&cl->node[i]);
            if (d < next)
                next = d;
        }
        if (next > until)
            break;
        if (next > cl->now)
            cl->now = next;
        for (int32_t i = 0; i < cl->n; i++)
            if (cons_next_deadline(&cl->node[i]) <= cl->now)
                cl_tick(cl, i);
        cl_deliver(cl);
    }
    cl->now = until;
}

static inline int32_t cl_leader(const struct cluster *cl)
{
    int32_t who = CONS_NONE;
    for (int32_t i = 0; i < cl->n; i++)
        if (cl->node[i].role == CONS_LEADER) {
            assert_int_equal(who, CONS_NONE);
            who = i;
        }
    return who;
}

/* The first node to time out in a fresh cluster, run until it leads. */
static inline int32_t cl_elect(struct cluster *cl)
{
    int32_t first = 0;
    for (int32_t i = 1; i < cl->n; i++)
        if (cl->node[i].election_deadline < cl->node[first].election_deadline)
            first = i;
    cl_run(cl, cl->node[first].election_deadline);
    assert_int_equal(cl_leader(cl), first);
    return first;
}

/* cl_elect, with its election entry replicated and committed everywhere. */
static inline int32_t cl_elect_settled(struct cluster *cl)
{
    int32_t first = cl_elect(cl);
    cl_propose(cl, first, 1, 1);
    cl_deliver(cl);
    cl_run(cl, cl->now + HB_MS);
    return first;
}

/* The leader hands over to `to`; its output is performed. */
static inline void cl_transfer(struct cluster *cl, int32_t lead, int32_t to)
{
    struct cons_out out;
    cons_transfer(&cl->node[lead], cl->now, to, NULL, &out);
    cl_apply(cl, lead, &out);
}

/* The member k places after lead in a 3-node cluster. */
static inline int32_t other(int32_t lead, int32_t k)
{
    return (lead + k) % 3;
}

/* Isolates node i from everyone, both ways (or heals it). */
static inline void cl_isolate(struct cluster *cl, int32_t i, bool cut)
{
    for (int32_t j = 0; j < cl->n; j++) {
        cl->cut[i][j] = cut;
        cl->cut[j][i] = cut;
    }
}

#endif
