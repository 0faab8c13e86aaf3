/* The chaos layer of the node: the shell of the chaos injector (chaos/fault.h,
 * chaos/injector.h). Every node folds the committed chaos records
 * (LEDGER_ENTRY_CHAOS) into the chaos state, applies the faults aimed at it
 * and heals them at expiry on its own timer, even with no leader; the
 * leader runs the injector on its own timer and commits what it decides.
 * Faults act through the deploy layer (a service's process group), the
 * transport's filter (drop, delay) and the process itself (kill_node).
 * It sits between api and deploy: node/api calls it; it calls deploy,
 * raft, base and net. */
#ifndef CHIMERA_NODE_CHAOS_H
#define CHIMERA_NODE_CHAOS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "chaos/drill.h"
#include "chaos/fault.h"
#include "chaos/injector.h"
#include "node/base/base.h"
#include "node/deploy/deploy.h"
#include "node/raft/raft.h"

#define CHAOS_HISTORY_MAX 64 /* the newest committed chaos records GET /chaos shows */

/* One committed chaos record, as the history shows it. */
struct node_chaos_seen {
    uint64_t index;
    uint64_t at_ms; /* the entry's ledger timestamp */
    struct chaos_record rec;
};

/* A fault's outcomes: injected (its FAULT record), healed (its HEALED
 * record, or a STOP while it was in force), refused (a REFUSED record). */
enum node_chaos_outcome { CHAOS_INJECTED, CHAOS_HEALED, CHAOS_REFUSED, CHAOS_OUTCOMES };
#define DRILL_VERDICTS (DRILL_COULD_NOT_RUN + 1)

/* The chaos layer's state, embedded in struct node. */
struct node_chaos {
    struct node_base *base; /* set by node.c, as the two below */
    struct node_raft *raft;
    struct node_deploy *deploy;
    bool started;
    struct chaos_state state; /* folded from the ledger (every node) */
    struct chaos_local local; /* what this node applied and must heal */
    uint64_t applied;         /* ledger index folded so far */
    uint64_t history_before_ms;
    struct node_chaos_seen history[CHAOS_HISTORY_MAX]; /* a ring, oldest at hist_head */
    size_t hist_head, nhist;
    /* The transport's filter, as the applied faults make it. */
    bool isolated_all;
    bool isolated_from[CONFIG_MAX_MEMBERS];
    uint64_t delay_ms;
    uv_timer_t heal_timer;
    /* Leader: the injector. */
    struct chaos_injector inj;
    bool leading;
    uv_timer_t inject_timer;
    uint64_t pending_index; /* a chaos record appended and not yet committed */
    /* Every committed record this node folded, history included (every
     * member counts the same), for /metrics: faults by kind (the last row:
     * a refusal that names none) and outcome, drills by verdict. */
    uint64_t faults[CHAOS_KIND_COUNT + 1][CHAOS_OUTCOMES];
    uint64_t drills[DRILL_VERDICTS];
};

/* Start after the ledger and the deploy layer (it folds what is committed
 * already); stop on shutdown (heals every local fault, closes the timers). */
int node_chaos_start(struct node_chaos *c);
void node_chaos_stop(struct node_chaos *c);
/* Entries up to commit are committed (raft's on_commit). */
void node_chaos_committed(struct node_chaos *c, uint64_t commit);
/* Leadership gained or lost (raft's on_leadership): the injector's timer. */
void node_chaos_leadership(struct node_chaos *c, bool gained);
/* The node's tick (leader): commits a healed record for a fault that
 * expired, a kill_service whose service's restart was committed, or a
 * kill_node whose node it hears back (chaos_inject.c), within a heartbeat. */
void node_chaos_tick(struct node_chaos *c);
/* Whether a message from member idx passes (an isolation from one peer:
 * the transport cannot tell the sender of an incoming message). */
bool node_chaos_admits(const struct node_chaos *c, size_t idx);

/* The kill switch's first half: heals every fault applied here at once,
 * whatever the ledger says (the node may be cut off from it). Returns how
 * many were healed. */
size_t node_chaos_heal_local(struct node_chaos *c, const char *why);

/* Leader: appends a chaos record (one fdatasync). As node_repl_append:
 * 0, -1 with err, -2 when this node stepped down. */
int node_chaos_append(struct node_chaos *c, const struct chaos_record *r, uint64_t *index,
                      char *err, size_t errlen);
/* A fault id unique in the ledger: "chaos-<index of its entry>". */
void node_chaos_fault_id(const struct node_chaos *c, char *out, size_t cap);

/* The federation as this node sees it now, for chaos_injector_*: fills
 * members (room for CONFIG_MAX_MEMBERS) and v. */
void node_chaos_view(struct node_chaos *c, struct chaos_member *members, struct chaos_view *v);

/* Judges an operator's fault (POST /chaos/inject) on this node's view:
 * kill_node only when the settings list it, forced or not; then the core's
 * rules (chaos_injector_check). */
void node_chaos_check(struct node_chaos *c, const struct chaos_fault *want,
                      struct chaos_decision *d);

/* GET /chaos's body: {"settings", "stopped", "active": fault|null,
 * "applied_here": [fault], "history": [{"index","at_ms", record...}]}. New reference. */
json_t *node_chaos_json(const struct node_chaos *c);

#endif
