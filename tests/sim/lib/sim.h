/* The deterministic whole-cluster simulation of the consensus core.
 *
 * n cores (struct cons) live in one process on a virtual clock in ms. One
 * seeded PRNG drives everything: latencies, drops, duplicates, the fault
 * schedule and every core's cons_init seed, so a schedule is a pure function
 * of (seed, n, break mode) and replays exactly.
 *
 * The event loop takes the earliest of: a scheduled fault, a message delivery
 * (ties in send order), a core's cons_next_deadline (ties by member number),
 * a leader's proposal (the workload, lib/log.c). It advances the clock,
 * applies the event, routes the cons_out in the contract's order (term and
 * vote to the node's disk, then the log's truncate and append, synced to
 * the disk, then the messages, APPENDs filled from the sender's log, then
 * the commit) and runs every invariant of check.c and check_log.c. See
 * those for the invariants and the derivation of their time bounds. */
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
/* L5: from the agreement on a leader, every log equals the leader's and
 * every commit index reaches its last entry within this bound (see
 * check_log.c for the derivation and the measured figures). */
#define SIM_CONV_BOUND (SIM_T + 5u * SIM_H)
/* Client entries proposed per schedule at most, so that logs stay under
 * ~2000 entries (election no-ops come on top). */
#define SIM_PROPOSE_BUDGET 1800u
/* More messages in flight than this is a storm: the schedule fails. */
#define SIM_MAX_IN_FLIGHT 20000u
/* Commit latency histogram: 1 ms buckets, the last one catches the rest. */
#define SIM_LAT_BUCKETS 60001u

enum sim_break {
    BREAK_NONE = 0,
    BREAK_VOTE,    /* the shell loses the persisted vote on restart */
    BREAK_QUORUM,  /* the shell forges heartbeat acks: check-quorum is defeated */
    BREAK_HEAL,    /* the "heal" leaves the links as they were */
    BREAK_PERSIST, /* the shell never writes out.state to the disk */
    /* The shell's recovery cuts committed entries off the disk on restart. */
    BREAK_TRUNCATE_COMMITTED,
    BREAK_FLIP_HASH, /* on restart, one committed entry's hash is flipped */
    BREAK_ACK_EARLY, /* log changes reach the disk after the out's messages */
    /* A leader's shell drops what its disk refuses and tells the core
     * nothing (no cons_storage_failed): the leader stays leader. */
    BREAK_DISK,
    /* With slow syncs: the leader's shell tells its core that entries are
     * durable when they are written, before their sync returned: it counts
     * itself in a quorum too early (§10.2.1 sends in parallel, but counts
     * the leader only once durable). */
    BREAK_TELL_EARLY,
    /* The shell hears of one node's lost connection to a peer as every
     * node's (cons_peer_lost everywhere): with --flap, an election storm. */
    BREAK_NOTICE_ALL,
    /* With slow syncs: a follower's shell tells its core that appended
     * entries are durable before their sync returned: it acknowledges them
     * too early (L4). */
    BREAK_ACK_UNSYNCED,
    BREAK_COUNT
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
    F_DISK,    /* a node's disk refuses every write (often the leader's), or one takes them again */
    F_TRANSFER,  /* the leader is asked to hand over (§3.10), to a member or the best follower */
    F_FLAP,      /* a pair's connection drops and comes back, repeatedly (lib/faults.c) */
    F_CONN_DROP, /* every connection of a live node (often the leader) drops at once */
    F_COUNT
};

/* A log entry as the simulated shell stores it: the core's metadata plus the
 * payload (an id: the bytes the hash covers). */
struct sim_ent {
    struct cons_entry e;
    uint64_t payload;
};

struct sim_log {
    struct sim_ent *v; /* v[k] is the entry with index k + 1 */
    uint64_t len, cap;
};

struct sim_node {
    struct cons c;
    /* The log: mem is what the running node has, disk what survives a
     * crash; the shell syncs mem to disk before sending (persist before
     * acknowledge). A down node's mem is empty. */
    struct sim_log mem, disk;
    struct cons_log view; /* the core's read-only view of mem */
    uint64_t commit;      /* highest commit this incarnation reported */
    uint64_t held;        /* the checker's: the prefix of the committed log it holds */
    uint64_t noop_term;   /* last term whose election entry was appended */
    bool up;
    uint32_t inc;                   /* incarnation: bumped by every crash */
    struct cons_persist disk_state; /* term and vote: survive crashes */
    enum cons_role role;            /* role seen after the previous step */
    uint64_t term;                  /* term seen after the previous step */
    /* Last step at which this node was leader (NET_NEVER: never), and at
     * which it was a leader that was not read-only. */
    uint64_t last_leader_at, last_writable_leader_at;
    /* Last HEARTBEAT or APPEND delivered to this node, and last answer to
     * one delivered to it from each member (NET_NEVER: none). */
    int32_t hb_from;
    uint64_t hb_at, ack_at[SIM_MAX_NODES];
    /* The disk refuses every write (F_DISK; the heal ends it). refused: the
     * shell saw a refusal and no write or probe has succeeded since (what
     * it told the core: cons_storage_failed, then cons_storage_ok). */
    bool disk_bad, refused;
    /* Slow syncs (struct sim, slow_sync): as the node's shell does
     * (node/raft/node_group.c), log changes reach mem at once and disk when
     * a sync returns, at sync_at (NET_NEVER: none under way); it covers
     * mem up to sync_to as it was when it began, except past sync_cut (a
     * truncation made since; UINT64_MAX: none). */
    uint64_t sync_at, sync_to, sync_cut;
};

struct sim_stats {
    uint64_t virtual_ms, steps, sent, delivered, dropped_cut, dropped_loss, dropped_crash;
    uint64_t duplicated, elections, crashes, restarts, partitions, faults;
    uint64_t dual_writable; /* moments two leaders were both not read-only */
    /* Replication. */
    uint64_t proposed, noops, committed, committed_noops, max_log, truncations, truncated;
    uint64_t stale_appends; /* APPENDs dropped: the sender's log lacked the entries */
    uint64_t max_in_flight, bursts;
    uint64_t entries_sent, entries_appended; /* in APPENDs; appended by followers */
    /* Where the entries sent went (the resend amplification is sent over
     * appended): lost (cut, loss, crash, or still in flight at the end;
     * computed in the summary, counting a duplicated APPEND's second copy),
     * or delivered in an APPEND the follower refused, or accepted but
     * already held (a resend), or ignored. */
    uint64_t entries_refused, entries_held, entries_ignored, entries_dup;
    uint64_t conv_ms; /* L5: agreement to converged logs */
    /* Disk faults, writes refused, leaders that stepped down for one. */
    uint64_t disk_faults, disk_refusals, disk_stepdowns;
    /* Leadership transfers: started, ended done, ended failed (and of
     * those, how many left the leader leading, taking proposals again). */
    uint64_t transfers, transfers_done, transfers_failed, transfers_resumed;
    /* Connection loss: notices delivered, pre-votes started early for one,
     * flapping episodes and live nodes' connection drops; leaders crashed
     * and replaced, with the time from the crash to the next leader. */
    uint64_t notices, early_prevotes, flaps, conn_drops;
    uint64_t failovers, failover_ms_total, failover_ms_max;
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

    /* The workload and the replication checker. */
    uint64_t next_propose_at, propose_gap_max, budget;
    /* Every node syncs off its loop, sometimes slowly (see sim_node). */
    bool slow_sync;
    bool burst_done;
    uint64_t *propose_at; /* payload id -> time proposed (NET_NEVER: a no-op) */
    uint64_t npayload, cappayload;
    struct sim_log committed; /* every entry ever reported committed */
    uint64_t *lat_hist;       /* SIM_LAT_BUCKETS, owned by the caller; may be NULL */
    bool converged;
    uint64_t converged_at;

    /* Connection loss (lib/faults.c). flap_mode: the schedule's only fault
     * is one flapping link at a time, from the first agreement (at
     * flap_term) on; flap_until: the running episode's end. */
    bool conn_loss; /* connection notices are modelled (faults_conn_loss) */
    bool flap_mode, flap_based;
    uint64_t flap_term, flap_until;
    /* A leader crashed at crash_at in term crash_term (NET_NEVER: none
     * waiting for its successor); fo_hist: crash to the next leader, 1 ms
     * buckets (SIM_LAT_BUCKETS), owned by the caller, may be NULL. */
    uint64_t crash_at, crash_term;
    uint64_t *fo_hist;

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
const struct sim_log *sim_log_of(const struct sim_node *nd);

/* lib/log.c: the shell's log, the workload and the filling of APPENDs. */
void log_hash(const uint8_t prev[CONS_HASH_BYTES], uint64_t term, uint64_t payload,
              uint8_t out[CONS_HASH_BYTES]);
const uint8_t *log_hash_at(const struct sim_log *l, uint64_t index);
void log_push(struct sim_log *l, const struct sim_ent *e);
void log_cut(struct sim_log *l, uint64_t after);
void log_copy(struct sim_log *dst, const struct sim_log *src, uint64_t from);
void log_free(struct sim_log *l);
/* Gives node i's core its log view and its last entry (init and restart). */
void log_attach(struct sim *s, int i);
/* The leader i appends count entries (a no-op when noop), durably. */
void log_leader_append(struct sim *s, int i, uint64_t count, bool noop, struct cons_entry *last);
/* Draws the next proposal: a batch size, or 0 when the budget is spent. */
uint64_t log_next_batch(struct sim *s);
void log_free_all(struct sim *s);
/* The same, written to mem only (slow syncs: the disk gets them when a
 * sync returns). */
void log_leader_write(struct sim *s, int i, uint64_t count, bool noop, struct cons_entry *last);

/* lib/check_log.c: L1-L5 (see there). */
void check_log_changed(struct sim *s, int i, uint64_t from);
void check_log_truncate(struct sim *s, int i, uint64_t after);
void check_log_commit(struct sim *s, int i, uint64_t commit);
void check_log_send(struct sim *s, int i, const struct cons_msg *m);
void check_log_step(struct sim *s);

/* Asks the leader i to hand leadership to `to` (CONS_NONE: its choice). */
void sim_transfer(struct sim *s, int i, int32_t to);

void faults_plan(struct sim *s);
/* Adds flapping connections and live nodes' connection drops to the
 * schedule's faults (after sim_init), or makes them its only fault
 * (faults_flapping; see flap_mode). */
void faults_conn_loss(struct sim *s);
void faults_flapping(struct sim *s);
void faults_apply(struct sim *s);
void faults_heal(struct sim *s);
/* Connection notices: node i crashed / restarted (its peers' transports
 * see its connections drop / open), and the next notice is due. */
void faults_crashed(struct sim *s, int i);
void faults_restarted(struct sim *s, int i);
void faults_notice(struct sim *s);

void check_init(struct sim *s);
void check_free(struct sim *s);
/* Node i is about to persist st (before anything is written). */
void check_persist(struct sim *s, int i, const struct cons_persist *st);
/* Node i sends m (after its persist, before the network sees it). */
void check_send(struct sim *s, int i, const struct cons_msg *m);
/* After every step. */
void check_step(struct sim *s);

#endif
