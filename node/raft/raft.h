/* The Raft layer of the node: the consensus shell (node_cons.c), the
 * ledger as the core's log (node_repl.c), the ledger shell (node_ledger.c)
 * and the consensus state file (cons_store.c). */
#ifndef CHIMERA_NODE_RAFT_H
#define CHIMERA_NODE_RAFT_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "consensus/consensus.h"
#include "ledger/ledger.h"
#include "node/base/base.h"

struct node;
struct http_request;

/* What the consensus shell last reported, to raise events on changes. */
struct node_cons_seen {
    enum cons_role role;
    uint64_t term;
    int32_t leader;
    bool read_only;
};

/* The Raft layer's state, embedded in struct node. */
struct node_raft {
    struct cons cons;
    uv_timer_t cons_timer;
    struct cons_persist cons_disk; /* the term and vote consensus.state holds */
    char storage_error[256];       /* why the last write failed (cons.storage_failed) */
    struct ledger *ledger;
    struct ledger_key key_pair; /* this node's Ed25519 key (DATA/node.key) */
    struct node_cons_seen seen;
    struct ledger_batch *batch; /* reused for every append */
    bool elected_pending;       /* became leader: append the election entry */
};

/* Consensus (node_cons.c): start after the transport is up; stop on shutdown. */
int node_cons_start(struct node *n);
void node_cons_stop(struct node *n);
void node_cons_recv(struct node *n, size_t from, const struct msgpack_object *body);

/* Performs a core output (node_cons.c): persist, log changes, sends,
 * commit, events. */
void node_cons_apply(struct node *n, const struct cons_out *out);
/* A write that was undone failed (why: one line, e.g. "cannot write the
 * ledger: no space left on device"): the core returns to what the disk
 * holds and, if leader, steps down (cons_storage_failed); an event on the
 * first failure. node_cons_storage_ok: a write succeeded again. */
void node_cons_storage_failed(struct node *n, const char *why);
void node_cons_storage_ok(struct node *n);
/* After the ledger opened: refuses (-1, one line printed) a missing
 * consensus.state next to a ledger that has entries (node_cons.c). */
int node_cons_check_state(struct node *n);

/* Replication (node_repl.c): the ledger as the core's log. */
int node_repl_start(struct node *n); /* cons_set_log, after the ledger opens */
void node_repl_stop(struct node *n); /* drops the APPENDs waiting for a turn */
/* Fills the entry bytes of an APPEND the core emitted and sends it, in this
 * loop turn or a later one (one APPEND with entries per turn); skips it when
 * the ledger no longer has them. */
void node_repl_send_append(struct node *n, struct cons_msg *m);
/* Verifies the carried entries of a received APPEND from member `from`
 * (decoding, chaining, the leader's signature) and fills their metadata
 * (meta[] room for CONS_MAX_BATCH). 0: hand it to the core; -1: malformed,
 * drop it; 1: not signed by the leader's key, dropped and counted. */
int node_repl_check(struct node *n, size_t from, const struct cons_msg *m,
                    const struct cons_wire_entry *carried, struct cons_entry *meta);
/* Makes a follower's log changes of out durable: true, or false after a
 * write that was undone (reported with node_cons_storage_failed); fatal
 * on any other failure. */
bool node_repl_apply_log(struct node *n, const struct cons_out *out,
                         const struct cons_wire_entry *carried);
/* Leader: appends the entry recording its election and tells the core. */
void node_repl_elected(struct node *n);
/* Leader: appends entries of type with these payloads as one batch (one
 * fdatasync) and tells the core. Returns 0 with the index range, or -1
 * with a message in err, or -2 when the disk refused the write and this
 * node stepped down (answer 503: another node can take it). */
int node_repl_append(struct node *n, uint32_t type, const uint8_t *const *payloads,
                     const size_t *lens, size_t count, uint64_t *first, uint64_t *last, char *err,
                     size_t errlen);
/* The same with a type per entry. */
int node_repl_append_types(struct node *n, const uint32_t *types, const uint8_t *const *payloads,
                           const size_t *lens, size_t count, uint64_t *first, uint64_t *last,
                           char *err, size_t errlen);
/* Notes waiting for commit: answer those committed up to commit, or fail
 * every one (leadership lost, shutdown) with 503 and this message. */
void node_notes_committed(struct node *n, uint64_t commit);
void node_notes_fail_all(struct node *n, const char *why);

/* The ledger (node_ledger.c): open with recovery before the node serves;
 * close on the way out. */
int node_ledger_open(struct node *n);
void node_ledger_close(struct node *n);
/* Appends what n->batch holds (nothing to do when empty). A failed sync
 * ends the process; a failed write makes the node step down
 * (node_cons_storage_failed); another failure is an event; false. */
bool node_ledger_write(struct node *n, const char *what);
/* After a failed append (rv): the storage failure's one line in why
 * ("cannot write the ledger: no space left on device"), reported to the
 * core when it was an undone write (true), or the process ends (a failed
 * sync). False: not an I/O error. */
bool node_ledger_failed(struct node *n, enum ledger_error rv, const char *what, char *why,
                        size_t len);
/* Whether this node can write its ledger; if not, why (for /health/ready). */
bool node_ledger_writable(const struct node *n, char *why, size_t len);
/* /health/ready: when the ledger cannot be written, answers req 503
 * {"status":"unavailable","node","reason","leader","read_only"} with the
 * cause as reason, and returns true. */
bool node_ledger_unready(struct node *n, struct http_request *req);

#endif
