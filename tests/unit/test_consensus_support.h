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
};

static inline void cl_init(struct cluster *cl, int32_t n, uint64_t seed)
{
    memset(cl, 0, sizeof(*cl));
    cl->n = n;
    cl->now = START;
    for (int32_t i = 0; i < n; i++) {
        init_node(&cl->node[i], i, n, 0, CONS_NONE, seed + (uint64_t)i);
        cl->disk[i].voted_for = CONS_NONE;
    }
    for (size_t t = 0; t < 64; t++)
        cl->leader_of[t] = CONS_NONE;
}

static inline void cl_apply(struct cluster *cl, int32_t i, const struct cons_out *out)
{
    const struct cons *c = &cl->node[i];
    check_out(c, out);
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
        cl->q[cl->qtail++ % CL_QUEUE] = *m;
    }
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
    struct cons_msg m = cl->q[cl->qhead++ % CL_QUEUE];
    struct cons_out out;
    cons_recv(&cl->node[m.to], cl->now, &m, &out);
    cl_apply(cl, m.to, &out);
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

/* Isolates node i from everyone, both ways (or heals it). */
static inline void cl_isolate(struct cluster *cl, int32_t i, bool cut)
{
    for (int32_t j = 0; j < cl->n; j++) {
        cl->cut[i][j] = cut;
        cl->cut[j][i] = cut;
    }
}

#endif
