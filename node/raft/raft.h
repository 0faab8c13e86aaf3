/* The Raft layer of the node: the consensus shell (node_cons.c), the
 * ledger as the core's log (node_repl.c), the ledger shell (node_ledger.c)
 * and the consensus state file (cons_store.c). */
#ifndef CHIMERA_NODE_RAFT_H
#define CHIMERA_NODE_RAFT_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "consensus/consensus.h"
#include "ledger/group.h"
#include "ledger/ledger.h"
#include "node/base/base.h"
#include "node/raft/cons_store.h"
#include "node/raft/raft_metrics.h"

/* What the Raft layer tells the layers above it: node.c installs these
 * (the layer reaches up only through them). ctx is node.c's. */
struct node_raft_hooks {
    void *ctx;
    /* Entries up to commit are committed. */
    void (*on_commit)(void *ctx, uint64_t commit);
    /* This node became the leader (gained), or stopped being the leader of
     * its term (lost: what waits on that leadership can no longer be
     * promised). */
    void (*on_leadership)(void *ctx, bool gained);
    /* Read-only mode entered (ro) or left; was_leader: this node led before
     * or after the change. */
    void (*on_read_only)(void *ctx, bool ro, bool was_leader);
    /* After every core output was performed (the leader's checkpoints). */
    void (*after_output)(void *ctx);
    /* Leader: the entry recording its election joined the group of this
     * turn (node_group.c); what this appends joins it too. */
    void (*on_elected)(void *ctx);
    /* Stopping, before the timer closes and the HTTP server stops. */
    void (*on_stop)(void *ctx);
    /* Leader: signs the APPEND m carrying entries e (sets m->sig). -1:
     * unsigned. Required. */
    int (*sign_append)(void *ctx, struct cons_msg *m, const struct cons_wire_entry *e);
    /* Follower: 0 when the APPEND from member `from` carries a valid
     * signature of its leader (or nothing to verify yet); -1: drop it
     * unacknowledged. Required. */
    int (*verify_append)(void *ctx, size_t from, const struct cons_msg *m,
                         const struct cons_wire_entry *carried, const struct cons_entry *meta);
};

/* APPENDs with entries waiting for a later loop turn (node_repl.c). */
#define NODE_REPL_DEFER_MAX (2 * CONFIG_MAX_MEMBERS)
struct node_repl_defer {
    uv_idle_t idle;
    bool open;
    bool spent; /* an APPEND with entries left in this turn */
    struct cons_msg q[NODE_REPL_DEFER_MAX];
    size_t head, count;
    /* The entries of the APPEND being sent, copied back to back: kept from
     * one APPEND to the next (node_repl.c). */
    uint8_t *carried;
    size_t carried_cap;
};

/* The leader's open group of entries: everything appended in one turn of
 * the loop, written at the end of the turn and sent at once (node_group.c).
 * Every log write, the leader's groups and a follower's APPENDs, is synced
 * by one fdatasync at a time on the thread pool; what is written while one
 * runs is covered by the next. */
struct node_group {
    struct ledger_batch *batch;
    struct ledger_group g;
    uv_prepare_t before_poll; /* appends made in timers, before the loop waits */
    uv_check_t after_poll;    /* appends made in I/O callbacks */
    bool open;                /* the handles are initialized */
    bool armed;               /* the handles run (a group is open) */
    struct {
        uv_work_t work;
        bool busy;                 /* the pool holds work: fd, rc, err, t0, t1 are the pool's */
        bool stopped;              /* the node stopped: the completion only closes fd */
        uint64_t durable;          /* the ledger is durable up to this index */
        uint64_t target;           /* the sync under way covers entries up to it ... */
        uint64_t cut;              /* ... except after a truncation made since (UINT64_MAX: none) */
        int fd, rc, err;           /* rc, err: the pool's fdatasync */
        int left;                  /* the segment a roll left, synced first (-1: none) */
        uint64_t t0, t1;           /* when it ran (uv_hrtime) */
        struct ledger_records rec; /* checkpoints, cosignatures, evidence */
    } sync;
    /* Messages that announce records not durable yet (node_ledger_send_durable). */
    struct ledger_held held;
};

/* The end of a leadership transfer (node_cons_transfer): done (member `to`
 * leads in term), or failed (why: one line). */
struct node_raft;
typedef void (*node_transfer_fn)(struct node_raft *r, void *arg, bool done, int32_t to,
                                 uint64_t term, const char *why);
struct node_cons_transfer {
    node_transfer_fn fn; /* NULL: no transfer running */
    void *arg;
    uint64_t started_ms; /* loop time */
};

/* What the consensus shell last reported, to raise events on changes. */
struct node_cons_seen {
    enum cons_role role;
    uint64_t term;
    int32_t leader;
    bool read_only;
};

/* The Raft layer's state, embedded in struct node. */
struct node_raft {
    struct node_base *base; /* set by node.c */
    struct node_raft_hooks hooks;
    struct cons cons;
    uv_timer_t cons_timer;
    struct cons_persist cons_disk; /* the term and vote consensus.state holds */
    char storage_error[256];       /* why the last write failed (cons.storage_failed) */
    struct ledger *ledger;
    struct ledger_key key_pair; /* this node's Ed25519 key (DATA/node.key) */
    struct node_cons_seen seen;
    struct ledger_batch *batch; /* reused for every append */
    bool elected_pending;       /* became leader: append the election entry */
    struct node_repl_defer defer;
    struct node_group group;
    struct raft_metrics metrics; /* for /metrics (raft_metrics.h) */
    /* Syncs of the ledger the loop waited for (for /metrics): start-up,
     * a new segment's folder, a truncation, a fallback. */
    uint64_t loop_syncs;
    struct node_cons_transfer transfer;
    /* The term this node stands in because its leader handed over to it
     * (TIMEOUT_NOW): node_cons_standing_by_transfer. */
    uint64_t stand_term;
    /* Runs once per loop wake-up while the leader's commit index advanced:
     * followers hear it at once (cons_flush). */
    uv_check_t flush;
    /* The consensus shell's answers to what the files below it report
     * (node_repl.c, node_ledger.c): node_cons_apply, node_cons_storage_failed
     * and node_cons_storage_ok, installed by node_cons_start, so that
     * replication and the ledger shell never call up into node_cons.c. */
    struct {
        void (*apply)(struct node_raft *r, const struct cons_out *out);
        void (*storage_failed)(struct node_raft *r, const char *why);
        void (*storage_ok)(struct node_raft *r);
    } shell;
    /* consensus.state as this node last left it (node_cons.c). */
    struct cons_store store;
    /* The probe of a disk that refused a write (node_cons.c), on the pool. */
    struct node_cons_probe {
        uv_work_t work;
        bool running; /* the pool holds it: rc and err are the pool's */
        bool ran;     /* one started before, at last_ms (loop ms) */
        uint64_t last_ms;
        int rc;
        char err[256];
    } probe;
};

/* Consensus (node_cons.c): start after the transport is up; stop on shutdown. */
int node_cons_start(struct node_raft *r);
void node_cons_stop(struct node_raft *r);
/* Raft's deadlines and read-only changes (which have no deadline of their
 * own) looked at now; node.c calls it every heartbeat interval. */
void node_cons_tick(struct node_raft *r);
/* Hears the transport's link notices (cons_peer_lost/back); call once the
 * transport has started. */
void node_cons_watch_links(struct node_raft *r);
void node_cons_recv(struct node_raft *r, size_t from, const struct msgpack_object *body);

/* Leader: hands leadership to member `to` (CONS_NONE: the most up-to-date
 * follower), cause saying why in the events ("SIGTERM"). CONS_TRANSFER_OK:
 * fn is called exactly once when it ends (done or failed, at most an
 * election timeout later, or when the node stops); else nothing started. */
enum cons_transfer_rc node_cons_transfer(struct node_raft *r, int32_t to, const char *cause,
                                         node_transfer_fn fn, void *arg);
/* This node stands for election because its leader handed leadership to
 * it (§3.10), and has not lost yet: it most likely leads within a vote's
 * round trip (writes sent to it wait for that: api_hold.c). */
bool node_cons_standing_by_transfer(const struct node_raft *r);
/* The id of member idx, or NULL. */
const char *node_cons_member_id(const struct node_raft *r, int32_t idx);

/* Performs a core output (node_cons.c): persist, log changes, sends,
 * commit, events. */
void node_cons_apply(struct node_raft *r, const struct cons_out *out);
/* A write that was undone failed (why: one line, e.g. "cannot write the
 * ledger: no space left on device"): the core returns to what the disk
 * holds and, if leader, steps down (cons_storage_failed); an event on the
 * first failure. node_cons_storage_ok: a write succeeded again. */
void node_cons_storage_failed(struct node_raft *r, const char *why);
void node_cons_storage_ok(struct node_raft *r);
/* After the ledger opened: refuses (-1, one line printed) a missing
 * consensus.state next to a ledger that has entries (node_cons.c). */
int node_cons_check_state(struct node_raft *r);

/* Replication (node_repl.c): the ledger as the core's log. */
int node_repl_start(struct node_raft *r); /* cons_set_log, after the ledger opens */
void node_repl_stop(struct node_raft *r); /* drops the APPENDs waiting for a turn */
/* Fills the entry bytes of an APPEND the core emitted and sends it, in this
 * loop turn or a later one (one APPEND with entries per turn); skips it when
 * the ledger no longer has them. */
void node_repl_send_append(struct node_raft *r, struct cons_msg *m);
/* Verifies the carried entries of a received APPEND from member `from`
 * (decoding, chaining, the leader's signature) and fills their metadata
 * (meta[] room for CONS_MAX_BATCH). 0: hand it to the core; -1: malformed,
 * drop it; 1: not signed by the leader's key, dropped and counted. */
int node_repl_check(struct node_raft *r, size_t from, const struct cons_msg *m,
                    const struct cons_wire_entry *carried, struct cons_entry *meta);
/* Makes a follower's log changes of out durable: true, or false after a
 * write that was undone (reported with node_cons_storage_failed); fatal
 * on any other failure. */
bool node_repl_apply_log(struct node_raft *r, const struct cons_out *out,
                         const struct cons_wire_entry *carried);
/* Leader: appends the entry recording its election and tells the core. */
void node_repl_elected(struct node_raft *r);
/* Leader: appends entries of type with these payloads to the open group
 * (node_group.c: written with one fdatasync at the end of the loop's turn,
 * then told to the core; their commit is what to wait for). Returns 0 with the index range, or -1
 * with a message in err, or -2 when the disk refused the write and this
 * node stepped down (answer 503: another node can take it). */
int node_repl_append(struct node_raft *r, uint32_t type, const uint8_t *const *payloads,
                     const size_t *lens, size_t count, uint64_t *first, uint64_t *last, char *err,
                     size_t errlen);
/* The same with a type per entry. */
int node_repl_append_types(struct node_raft *r, const uint32_t *types,
                           const uint8_t *const *payloads, const size_t *lens, size_t count,
                           uint64_t *first, uint64_t *last, char *err, size_t errlen);

/* Group commit (node_group.c). The leader's entries join the open group
 * (node_repl_append_types): 0 with their indexes, which are theirs once
 * written; -1/-2 as node_repl_append. The group is written and handed to
 * the core (cons_written: it replicates at once, §10.2.1) at the end of the
 * loop's turn, or at once by node_group_flush; it is dropped unwritten if
 * this node no longer leads its term by then (what waited on it hears
 * "leadership lost"). */
int node_group_start(struct node_raft *r);
void node_group_stop(struct node_raft *r);
int node_group_add(struct node_raft *r, const uint32_t *types, const uint8_t *const *payloads,
                   const size_t *lens, size_t count, uint64_t *first, uint64_t *last, char *err,
                   size_t errlen);
void node_group_flush(struct node_raft *r);
/* A record was written (node_ledger_write): synced at the end of the turn
 * with whatever else the turn wrote. */
void node_group_records_written(struct node_raft *r);
/* The ledger grew (a group, or a follower's APPEND, written without a
 * sync): a sync starts unless one is under way (its completion starts the
 * next). The core hears what is durable (cons_synced) when it returns. */
void node_sync_kick(struct node_raft *r);
/* The ledger was cut after index (durably): a sync under way proves
 * nothing beyond it. */
void node_sync_cut(struct node_raft *r, uint64_t after);

/* Feeds the entries after *applied up to commit (at most the ledger's
 * last) to fn in order, for a layer that folds committed entries; fn sets
 * *applied as it goes (node_ledger.c). */
void node_ledger_feed(struct node_raft *r, uint64_t *applied, uint64_t commit, ledger_entry_fn fn,
                      void *arg);
/* The ledger (node_ledger.c): open with recovery before the node serves;
 * close on the way out. */
int node_ledger_open(struct node_raft *r);
void node_ledger_close(struct node_raft *r);
/* Appends what r->batch holds (nothing to do when empty) without waiting
 * for the disk: the records join the next sync on the thread pool
 * (node_group.c), so whatever announces them goes through
 * node_ledger_send_durable. A failed sync ends the process; a failed write
 * makes the node step down (node_cons_storage_failed); another failure is
 * an event; false. */
bool node_ledger_write(struct node_raft *r, const char *what);
/* Sends p (node_pack_send, which it frees) to member `to` once every
 * record written so far is durable: at once if they are, else when the
 * sync covering them returns, after what was held before it. Dropped if
 * the node stops first (as if lost). */
void node_ledger_send_durable(struct node_raft *r, size_t to, uint32_t type, struct node_pack *p);
/* After a failed append (rv): the storage failure's one line in why
 * ("cannot write the ledger: no space left on device"), reported to the
 * core when it was an undone write (true), or the process ends (a failed
 * sync). False: not an I/O error. */
bool node_ledger_failed(struct node_raft *r, enum ledger_error rv, const char *what, char *why,
                        size_t len);
/* Whether this node can write its ledger; if not, why (for /health/ready). */
bool node_ledger_writable(const struct node_raft *r, char *why, size_t len);

#endif
