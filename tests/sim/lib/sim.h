/* The deterministic whole-cluster simulation of the consensus core.
 *
 * n cores (struct cons) live in one process on a virtual clock in ms. One
 * seeded PRNG drives everything: latencies, drops, duplicates, the fault
 * schedule and every core's cons_init seed, so a schedule is a pure function
 * of (seed, n, break mode) and replays exactly.
 *
 * The event loop takes the earliest of: a scheduled fault, a message delivery
 * (ties in send order), a core's cons_next_deadline (ties by member number).
 * It advances the clock, applies the event, routes the cons_out (persist to
 * the node's disk FIRST, then enqueue the messages) and runs every invariant
 * of check.c. See check.c for the invariants and the derivation of their
 * time bounds. */
#ifndef SIM_SIM_H
#define SIM_SIM_H

#include <stdbool.h>
#include <stdint.h>

#include "consensus/consensus.h"
#include "lib/map.h"
#include "lib/net.h"
#include "lib/rng.h"

#define SIM_MAX_NODES NET_MAX_NODES

/* The cores run with the design's defaults. */
#define SIM_T 150u /* election timeout T: timeouts are drawn from [T, 2T) */
#define SIM_H 50u  /* heartbeat interval */
#define SIM_SLACK 2u
/* After the full heal: one agreed leader within this bound (see check.c). */
#define SIM_LIVE_BOUND (10u * SIM_T)
/* The schedule runs this long past the liveness bound: once agreed, the
 * cluster must stay agreed (same leader, same term) until the end. */
#define SIM_STABLE_MS 1000u

enum sim_break {
    BREAK_NONE = 0,
    BREAK_VOTE,    /* the shell loses the persisted vote on restart */
    BREAK_QUORUM,  /* the shell forges heartbeat acks: check-quorum is defeated */
    BREAK_HEAL,    /* the "heal" leaves the links as they were */
    BREAK_PERSIST, /* the shell never writes out.state to the disk */
};

enum fault_kind {
    F_PARTITION,        /* random split into two groups */
    F_PARTITION_LEADER, /* split with the current leader in the minority */
    F_ONEWAY,           /* cut a few directed links */
    F_HEAL_LINK,        /* restore one pair */
    F_HEAL_LINKS,       /* restore all links */
    F_CRASH,
    F_CRASH_LEADER,
    F_RESTART,
    F_DROP,    /* change the loss probability */
    F_DUP,     /* change the duplication probability */
    F_LATENCY, /* change the latency profile (spikes up to NET_D_MAX) */
    F_CALM,    /* everything healed, all up: lets leaders form mid-schedule */
    F_COUNT
};

struct sim_node {
    struct cons c;
    bool up;
    uint32_t inc;             /* incarnation: bumped by every crash */
    struct cons_persist disk; /* survives crashes */
    enum cons_role role;      /* role seen after the previous step */
    uint64_t term;            /* term seen after the previous step */
    /* Last step at which this node was leader (NET_NEVER: never). */
    uint64_t last_leader_at;
    /* Last HEARTBEAT delivered to this node, and last HEARTBEAT_RESP
     * delivered to it from each member (NET_NEVER: none). */
    int32_t hb_from;
    uint64_t hb_at, ack_at[SIM_MAX_NODES];
};

struct sim_stats {
    uint64_t virtual_ms, steps, sent, delivered, dropped_cut, dropped_loss, dropped_crash;
    uint64_t duplicated, elections, crashes, restarts, partitions, faults;
    uint64_t dual_writable; /* moments two leaders were both not read-only */
};

struct sim {
    int n;
    uint64_t seed;
    bool trace;
    enum sim_break brk;
    struct rng rng;
    struct net net;
    struct sim_node nodes[SIM_MAX_NODES];
    uint64_t now;

    /* The schedule. */
    uint64_t heal_at, end_at, next_fault_at;
    bool healed;
    uint32_t weight[F_COUNT];
    uint32_t gap_max;

    /* The checker's history. */
    struct tmap leader_of; /* (term, 0) -> leader */
    struct tmap vote_of;   /* (term, voter) -> candidate */
    struct tmap grants;    /* (term, candidate) -> bitmask of voters */
    bool dual;
    bool agreed;
    uint64_t agreed_at, agreed_term;
    int32_t agreed_leader;

    /* The outcome. */
    bool failed;
    char inv[80];
    char why[400];
    struct sim_stats st;
};

void sim_init(struct sim *s, uint64_t seed, int n, enum sim_break brk, bool trace);
/* Runs the schedule to its end or to the first violation: 0 or 1. */
int sim_run(struct sim *s);
void sim_free(struct sim *s);
/* Time from the full heal to the agreed leader (valid when run returned 0). */
uint64_t sim_time_to_leader(const struct sim *s);

/* Internal to the library. */
void sim_tracef(const struct sim *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sim_fail(struct sim *s, const char *inv, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void sim_crash(struct sim *s, int i);
void sim_restart(struct sim *s, int i);
void sim_refresh(struct sim *s);
/* The up leader with the highest term, or -1. */
int sim_leader(const struct sim *s);
const char *sim_msg_name(enum cons_msg_type t);

void faults_plan(struct sim *s);
void faults_apply(struct sim *s);
void faults_heal(struct sim *s);

void check_init(struct sim *s);
void check_free(struct sim *s);
/* Node i is about to persist st (before anything is written). */
void check_persist(struct sim *s, int i, const struct cons_persist *st);
/* Node i sends m (after its persist, before the network sees it). */
void check_send(struct sim *s, int i, const struct cons_msg *m);
/* After every step. */
void check_step(struct sim *s);

#endif
