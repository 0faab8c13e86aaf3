/* The node shell: one libuv loop that owns every piece of state and does all
 * the I/O (transport, HTTP, timers, signals, files) on behalf of the cores. */
#ifndef CHIMERA_NODE_H
#define CHIMERA_NODE_H

#include <msgpack.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "consensus/consensus.h"
#include "ledger/ledger.h"
#include "node/config.h"
#include "node/events.h"
#include "node/http.h"
#include "node/loop_lag.h"
#include "node/peers.h"
#include "node/release_watch.h"
#include "node/transport.h"
#include "pipeline/exec/driver.h"
#include "pipeline/exec/health.h"
#include "pipeline/core/manifest.h"
#include "pipeline/core/rollout.h"

enum node_drop {
    DROP_AUTH,
    DROP_MALFORMED,
    DROP_SHAPE,
    DROP_VERSION,
    DROP_REPLAY,
    DROP_UNKNOWN_MEMBER,
    DROP_SEND,
    DROP_SIGNATURE,
    DROP_STALE, /* sealed before this node started (node.c: on_message) */
    DROP_COUNT
};

struct node_metrics {
    uint64_t msgs_received;
    uint64_t msgs_sent;
    uint64_t dropped[DROP_COUNT];
    uint64_t http_requests;
    uint64_t checkpoints; /* stored: signed here (leader) or received (witness) */
    uint64_t notarized;   /* leader: checkpoints that reached a quorum of signatures */
    uint64_t equivocations;
    uint64_t http_auth_failures[2]; /* api.c: without a bearer token, with a wrong one */
};

/* What the consensus shell last reported, to raise events on changes. */
struct node_cons_seen {
    enum cons_role role;
    uint64_t term;
    int32_t leader;
    bool read_only;
};

/* A POST /ledger/notes waiting for its notes to commit (leader only). */
#define NODE_NOTES_PENDING_MAX 64
struct node_note_wait {
    struct http_request *req;
    uint64_t first, last, term;
    /* Set for other mutations answered at commit (deployments): this status
     * and body (owned) instead of the notes' answer. */
    int status;
    json_t *reply;
};

/* A read-only episode of this node, waiting to be on the record
 * (node_episodes.c). */
#define NODE_EPISODES_MAX 16
struct node_episode {
    uint64_t enter_ms, exit_ms; /* wall clock */
    uint64_t enter_term, exit_term;
    bool was_leader;
    uint64_t index; /* the enter entry's index, once a leader appended it */
};

/* A release the ledger holds (its RELEASE record): what a node needs to
 * run it. */
struct node_release {
    char id[PL_ID_MAX];
    char *manifest; /* the exact submitted JSON */
    size_t mlen;
    char *cert; /* the certificate as JSON text */
};

struct node_deploy {
    struct pl_state pl;
    uint64_t applied; /* ledger index fed to the core so far */
    struct node_release rels[PL_MAX_DEPLOYMENTS];
    size_t nrels;
    uint64_t pending_index;     /* leader: a record appended and not yet committed */
    uint64_t history_before_ms; /* wall clock at start: older records are history (node_deploy.c) */
};

/* One service of the release running here (deploy_run.c). */
struct node_service_run {
    struct node *node;
    char name[MANIFEST_ID_MAX];
    struct drv_proc *proc; /* NULL once exited */
    bool exited;
    int64_t status;
    int sig;
    uint16_t port;
    char url[1024];
    uint64_t started_ms, next_probe;
    bool probing, healthy, unhealthy;
    uint32_t passes, fails;
    uint64_t healthy_since; /* wall clock */
    char last_error[128];
};

struct node_run {
    char running[PL_ID_MAX]; /* the deployment whose release runs here ("" none) */
    uint32_t gen;            /* pl_desired_gen when it was started */
    uint64_t epoch;          /* counts starts; a probe answer of an older one is dropped */
    struct manifest m;
    bool have_manifest;
    struct node_service_run svc[MANIFEST_MAX_SERVICES];
    size_t nsvc;
    bool stopping;
    uint64_t min_healthy_ms;
    enum pl_health health;
    uint64_t healthy_since;
    char detail[PL_REASON_MAX];
    uint64_t report_due;
    struct release_watch watch; /* leader: the members' release health, as events */
};

#define NODE_STOP_SIGNALS 4

struct node {
    struct config cfg;
    uint8_t key[CONFIG_KEY_BYTES];
    char token[256]; /* "" when no admin token is configured */
    uv_loop_t *loop;
    uv_timer_t tick;
    uv_signal_t signals[NODE_STOP_SIGNALS]; /* SIGINT, SIGTERM, SIGHUP, SIGQUIT (node.c) */
    struct transport *transport;
    struct http_server *http;
    struct events events;
    struct peers peers;
    int out[CONFIG_MAX_MEMBERS]; /* transport index of each member, -1 for self */
    uint64_t boot;               /* boot epoch: persisted, grows every start */
    uint64_t counter;            /* last envelope counter used (node.c: next_counter) */
    uint64_t started_ms;         /* loop time at start */
    struct cons cons;
    uv_timer_t cons_timer;
    struct cons_persist cons_disk; /* the term and vote consensus.state holds */
    char storage_error[256];       /* why the last write failed (cons.storage_failed) */
    struct ledger *ledger;
    struct ledger_key key_pair; /* this node's Ed25519 key (DATA/node.key) */
    struct node_cons_seen seen;
    struct ledger_batch *batch; /* reused for every append */
    bool elected_pending;       /* became leader: append the election entry */
    struct node_note_wait notes[NODE_NOTES_PENDING_MAX];
    size_t nnotes;
    struct node_notes_job *notes_jobs; /* bodies of POST /ledger/notes on the pool (api_notes.c) */
    uint8_t peer_pk[CONFIG_MAX_MEMBERS][LEDGER_PUBKEY_BYTES]; /* announced in heartbeats */
    bool peer_has_pk[CONFIG_MAX_MEMBERS];
    uint64_t checkpoint_due;    /* leader: loop time of the next checkpoint */
    uint64_t cosign_resend_due; /* leader: when to ask again for missing cosignatures */
    bool ro_open;               /* in a read-only episode that began after a quorum */
    uint64_t ro_enter_ms, ro_enter_term;
    bool ro_was_leader;
    struct node_episode episodes[NODE_EPISODES_MAX];
    size_t nepisodes;
    struct node_deploy deploy;
    struct node_run run;
    struct health_checker *hc;
    struct node_metrics metrics;
    struct loop_lag lag; /* how late on_tick runs (loop_lag.h) */
    struct events_limiter drop_limit[DROP_COUNT];
    struct events_limiter auth_limit; /* api.auth_failure events (api.c) */
    bool stopping;
};

/* Runs a node until SIGINT or SIGTERM. Returns the process exit status:
 * 0 after a clean stop, 1 on a fatal runtime error, 2 when the configuration
 * cannot be served (port in use, ...), with one line already printed. */
int node_run(const struct config *cfg, const uint8_t key[CONFIG_KEY_BYTES], const char *token);

/* Records an event in the ring and logs it. */
void node_event(struct node *n, const char *kind, const char *peer, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Ends the process: state that had to reach the disk did not (an fsync
 * failed, a log change the core demanded could not be made). Acknowledging
 * anything after that could lose what was promised durable. */
void node_fatal(struct node *n, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), noreturn));

/* Wall-clock milliseconds since the Unix epoch. */
int64_t node_wall_ms(void);

/* Names of the drop reasons, for metrics labels. */
const char *node_drop_name(enum node_drop d);

/* Seals body (one msgpack object) as an envelope of this type and sends it
 * to member idx; counts it as sent or dropped. */
void node_send(struct node *n, size_t idx, uint32_t type, const void *body, size_t len);

/* A msgpack body being packed: node_pack_init, pack into .pk, then
 * node_pack_send (which frees it) or node_pack_free. */
struct node_pack {
    msgpack_sbuffer sb;
    msgpack_packer pk;
};
void node_pack_init(struct node_pack *p);
void node_pack_free(struct node_pack *p);
void node_pack_send(struct node *n, size_t idx, uint32_t type, struct node_pack *p);

/* msgpack maps with string keys (mp_map.c). */
void node_mp_kv_str(msgpack_packer *pk, const char *k, const char *v, size_t n);
void node_mp_kv_u64(msgpack_packer *pk, const char *k, uint64_t v);
void node_mp_kv_bool(msgpack_packer *pk, const char *k, bool v);
const msgpack_object *node_mp_get(const msgpack_object *map, const char *key);
bool node_mp_get_str(const msgpack_object *map, const char *key, char *out, size_t cap);
bool node_mp_get_u64(const msgpack_object *map, const char *key, uint64_t *out);
bool node_mp_get_bool(const msgpack_object *map, const char *key, bool *out);

/* Counts a dropped message and reports it as a rate-limited event. */
void node_drop(struct node *n, enum node_drop why, const char *detail);

/* Consensus (node_cons.c): start after the transport is up; stop on shutdown. */
int node_cons_start(struct node *n);
void node_cons_stop(struct node *n);
struct msgpack_object;
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

/* Witnesses (node_witness.c): signed APPENDs, member keys, checkpoints. */
/* Leader: signs the APPEND m carrying entries e (sets m->sig). -1: unsigned. */
int node_witness_sign_append(struct node *n, struct cons_msg *m, const struct cons_wire_entry *e);
/* Witness: 0 when the APPEND from member `from` is signed by that member's
 * key (the one the ledger records, else the one it announces), or carries
 * nothing to verify yet; -1: drop it unacknowledged. */
int node_witness_verify_append(struct node *n, size_t from, const struct cons_msg *m,
                               const struct cons_wire_entry *carried,
                               const struct cons_entry *meta);
/* After the ledger opened: 0 when this node's key is the one its ledger
 * pins for it (or none is pinned, or --replace-node-key was given), else
 * -1 with one line printed (node_witness.c). */
int node_witness_check_own_key(struct node *n);
/* A member announced its public key (heartbeat). */
void node_witness_peer_key(struct node *n, size_t idx, const uint8_t pk[LEDGER_PUBKEY_BYTES]);
/* Leader: records in the ledger every member key it knows and the ledger
 * lacks or holds another for. */
void node_witness_record_members(struct node *n);
/* Leader: checkpoints the committed head when due. */
void node_witness_tick(struct node *n);
/* Equivocation (node_evidence.c). Two signed statements about one index
 * that disagree: stored as evidence (when the ledger accepts it), counted
 * and raised as a ledger.equivocation event naming `from`. */
void node_evidence_record(struct node *n, const char *from, const struct ledger_statement *a,
                          const struct ledger_statement *b);
/* A verified APPEND (sig: its leader's signature over the last carried
 * entry) that rewrites an entry of this log in the same term is the
 * leader's equivocation: reported (with evidence when an earlier signed
 * statement for that index is at hand) and refused, -2. Otherwise the
 * statement is remembered and 0 returned. */
int node_evidence_check_append(struct node *n, const char *leader, const struct cons_msg *m,
                               const struct cons_entry *meta, const struct ledger_sig *sig);
/* Whether a quorum of the members recorded at cp's index signed it. */
bool node_witness_notarized(struct node *n, const struct ledger_signed_checkpoint *cp);
/* An ENV_LEDGER message arrived. */
void node_witness_recv(struct node *n, size_t from, const struct msgpack_object *body);

/* Read-only episodes (node_episodes.c). */
void node_episodes_change(struct node *n, bool read_only, bool was_leader);
void node_episodes_tick(struct node *n);
/* An ENV_LEDGER message of an episode kind; false if kind or shape is not
 * one of them. */
bool node_episodes_recv(struct node *n, size_t from, uint64_t kind,
                        const struct msgpack_object *body);

/* Deployment records (deploy_records.c): encode returns the entry type. */
uint32_t deploy_record_encode(const struct pl_record *r, const char *manifest, size_t mlen,
                              const char *cert, struct node_pack *p);
int deploy_record_decode(const uint8_t *payload, size_t len, uint64_t at_ms, struct pl_record *r,
                         const char **manifest, size_t *mlen, const char **cert, size_t *clen);

/* Deployments (node_deploy.c): start after the ledger and consensus; feed
 * committed entries; the leader's decisions on each tick. */
int node_deploy_start(struct node *n);
void node_deploy_stop(struct node *n);
void node_deploy_committed(struct node *n, uint64_t commit);
void node_deploy_tick(struct node *n);
/* Leader: appends a record (one fdatasync); *index is its entry. */
int node_deploy_append(struct node *n, const struct pl_record *r, const char *manifest, size_t mlen,
                       const char *cert, uint64_t *index, char *err, size_t errlen);
const struct node_release *node_deploy_release(const struct node *n, const char *id);

/* The release running here (deploy_run.c). */
void node_run_cleanup_strays(struct node *n);
void node_run_tick(struct node *n);
void node_run_stop(struct node *n);
bool node_run_recv(struct node *n, size_t from, uint64_t kind, const struct msgpack_object *body);

/* POST /ledger/notes (api_notes.c): the body is parsed on libuv's thread
 * pool, the rest on the loop. api_notes_stop: on shutdown, before the HTTP
 * server stops, answers 503 the requests whose body is still on the pool. */
void api_post_ledger_notes(struct node *n, struct http_request *req);
void api_notes_stop(struct node *n);
/* The mutation gate's read-only check (api.c): answers 503 and returns true
 * when this node is read-only. */
bool api_refuse_read_only(struct node *n, struct http_request *req);
/* Not the leader: 307 to the leader's path (or 503 when none is known). */
void api_redirect_to_leader(struct node *n, struct http_request *req, const char *path);
/* Answers req with status and reply (owned) once entry index of this
 * term is committed, or 503 if leadership is lost first. */
void api_answer_at_commit(struct node *n, struct http_request *req, uint64_t index, int status,
                          json_t *reply);

/* Deployments over HTTP (api_deploy.c). Returns false when the path is not
 * one of them. */
bool api_deploy_route(struct node *n, struct http_request *req);
json_t *api_deploy_summary(struct node *n);
/* The plan of a submitted release is ready (deploy_plan.c calls it): answer
 * the dry run, refuse the uncertified, or commit the release. Takes plan. */
void api_deploy_planned(struct node *n, struct http_request *req, const char *manifest, size_t mlen,
                        const struct manifest *m, json_t *plan, bool certified, bool dry_run);
/* Simulate on every node, heal, certify (deploy_plan.c); ends in
 * api_deploy_planned, or answers req itself on error. */
void deploy_plan_start(struct node *n, struct http_request *req, const char *manifest, size_t mlen,
                       const struct manifest *m, bool dry_run);
void node_plan_tick(struct node *n);
bool node_plan_recv(struct node *n, size_t from, uint64_t kind, const struct msgpack_object *body);

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

/* The ledger's HTTP reads (api_ledger.c). */
void api_get_ledger(struct node *n, struct http_request *req);
void api_get_ledger_head(struct node *n, struct http_request *req);
json_t *api_ledger_summary(struct node *n);

/* The HTTP API (api.c): answers one request on the loop thread. */
void api_handle(void *ctx, struct http_request *req);

#endif
