/* The deployment layer of the node: the ledger's deployment records
 * (deploy_records.c, node_deploy.c), the plan of a submitted release
 * (deploy_plan.c) and the release running here (deploy_run.c). */
#ifndef CHIMERA_NODE_DEPLOY_H
#define CHIMERA_NODE_DEPLOY_H

#include <jansson.h>
#include <limits.h>
#include <msgpack.h>
#include <stdbool.h>
#include <stdint.h>

#include "node/base/base.h"
#include "node/raft/raft.h"
#include "node/base/release_watch.h"
#include "pipeline/core/certify.h"
#include "pipeline/exec/driver.h"
#include "pipeline/exec/health.h"
#include "pipeline/core/manifest.h"
#include "pipeline/exec/probe.h"
#include "pipeline/core/rollout.h"
#include "pipeline/core/rollout_outcome.h"
#include "pipeline/core/run_plan.h"
#include "pipeline/core/verdict.h"

/* A release the ledger holds (its RELEASE record): what a node needs to
 * run it. */
struct node_release {
    char id[PL_ID_MAX];
    char *manifest; /* the exact submitted JSON */
    size_t mlen;
    char *cert; /* the certificate as JSON text */
};

/* Simulate on every node, heal, certify (deploy_plan.c): the leader's plan
 * of a submitted release, one at a time. It ends in the completion callback
 * its starter gave (the HTTP API answers from there). */
enum deploy_plan_start {
    DEPLOY_PLAN_STARTED,
    DEPLOY_PLAN_BUSY,        /* another plan is under way */
    DEPLOY_PLAN_CANNOT_HOLD, /* no memory for the manifest */
};
enum deploy_plan_end {
    DEPLOY_PLAN_JUDGED,    /* plan holds the verdict */
    DEPLOY_PLAN_NO_MEMORY, /* the verdict could not be built */
    DEPLOY_PLAN_STOPPING,  /* the node is stopping: nothing was judged */
};
struct deploy_plan_outcome {
    enum deploy_plan_end end;
    const char *manifest; /* the submitted text and its parse */
    size_t mlen;
    const struct manifest *m;
    json_t *plan; /* DEPLOY_PLAN_JUDGED: the verdict, the callback's to keep */
    bool certified;
    bool dry_run;
};
typedef void (*deploy_plan_done_cb)(void *ctx, void *arg, const struct deploy_plan_outcome *o);

/* The plan under way (deploy_plan.c). */
struct deploy_plan {
    bool active;
    uint64_t id, last_id;
    deploy_plan_done_cb done;
    void *ctx, *arg;
    char *manifest;
    size_t mlen;
    struct manifest m;
    bool dry_run;
    uint64_t deadline; /* loop time */
    struct cert_session sess;
    struct probe_facts facts[CONFIG_MAX_MEMBERS];
    bool got[CONFIG_MAX_MEMBERS];
    struct cert_heal_action actions[CERT_MAX_ACTIONS];
    struct cert_heal_result results[CERT_MAX_ACTIONS];
    size_t nactions;
    json_t *planned; /* dry run: the heal actions that would run */
};

/* One service of the release running here (deploy_run.c). */
struct deploy_service_run {
    struct node_deploy *owner; /* the layer that started it */
    char name[MANIFEST_ID_MAX];
    struct drv_proc *proc;    /* NULL once exited */
    struct verdict_service v; /* its health, as the verdict core counts it */
    uint16_t port;
    char url[1024];
    uint64_t started_ms, next_probe;
    bool probing;
    int64_t pid;     /* of the last start (kept after it exits) */
    bool restarting; /* stopped to be restarted (deploy_run_stop_service): not a crash */
};

struct deploy_run {
    struct run_plan plan; /* what runs here, and whether it is stopping (run_plan.h) */
    uint64_t epoch;       /* counts starts; a probe answer of an older one is dropped */
    struct manifest m;
    bool have_manifest;
    struct deploy_service_run svc[MANIFEST_MAX_SERVICES];
    size_t nsvc;
    /* The services of the release an overlapping change replaced, still
     * exiting (run_plan_may_overlap): no release's any more. */
    struct deploy_service_run old[MANIFEST_MAX_SERVICES];
    bool told_reverting; /* obs.reverting was called for the release started last */
    uint64_t min_healthy_ms;
    struct verdict verdict;          /* the node's health, as last judged (verdict.h) */
    struct run_plan_reports reports; /* what the leader was last told, and when */
    struct release_watch watch;      /* leader: the members' release health, as events */
    struct health_checker *hc;       /* the HTTP health checks of the services here */
    /* CHIMERA_SERVICE_OWNER=<the data directory's real path>, resolved
     * once ("" not yet): every service of this run carries the same mark. */
    char mark[PATH_MAX + 32];
    /* A committed record changed what this node must run: the switch is
     * made in the loop's next turn (deploy_run_soon), once this turn's
     * messages, the leader's commit notices among them, have left. */
    uv_idle_t next_turn;
    bool next_turn_ready; /* next_turn initialised (node_deploy_start) */
};

/* Who watches the release running here (the recovery watchtower,
 * node/chaos/watch.c): node.c installs it; deploy knows nothing of it.
 * Every callback may be NULL. release: the services wanted here changed
 * (m NULL: none; called before the old ones are stopped, so their exits
 * are not failures); the others: what the driver and the health checks
 * said about a service of the running release. */
struct deploy_observer {
    void *arg;
    void (*release)(void *arg, const struct manifest *m);
    void (*started)(void *arg, const char *svc, int64_t pid);
    void (*exited)(void *arg, const char *svc, int64_t pid, int64_t status, int sig);
    void (*start_failed)(void *arg, const char *svc, const char *why);
    void (*check)(void *arg, const char *svc, bool pass);
    /* The ledger marked the release running here failed and its automatic
     * revert is coming (pl_being_reverted): once per release started. */
    void (*reverting)(void *arg);
};

/* The deployment layer's state, embedded in struct node. */
struct node_deploy {
    struct node_base *base; /* set by node.c */
    struct node_raft *raft;
    struct pl_state pl;
    uint64_t applied; /* ledger index fed to the core so far */
    bool fed_record;  /* the feed applied a deployment record (node_deploy_committed) */
    struct node_release rels[PL_MAX_DEPLOYMENTS];
    size_t nrels;
    uint64_t pending_index;     /* leader: a record appended and not yet committed */
    uint64_t history_before_ms; /* wall clock at start: older records are history (node_deploy.c) */
    struct deploy_plan plan;
    struct deploy_run run; /* the release running here (deploy_run.c) */
    struct deploy_observer obs;
    /* Every committed record this node applied, history included (so every
     * member, and a node restarted, counts the same once it has caught
     * up), for /metrics: deployments of releases by outcome, rollbacks by
     * cause (rollout_outcome.h). */
    uint64_t outcomes[PL_OUTCOME_COUNT];
    uint64_t rollbacks[PL_CAUSE_COUNT];
};

/* Deployment records (deploy_records.c): encode returns the entry type. */
uint32_t deploy_record_encode(const struct pl_record *r, const char *manifest, size_t mlen,
                              const char *cert, struct node_pack *p);
int deploy_record_decode(const uint8_t *payload, size_t len, uint64_t at_ms, struct pl_record *r,
                         const char **manifest, size_t *mlen, const char **cert, size_t *clen);

/* Deployments (node_deploy.c): start after the ledger and consensus; feed
 * committed entries; the leader's decisions on each tick. */
int node_deploy_start(struct node_deploy *dp);
void node_deploy_stop(struct node_deploy *dp);
void node_deploy_committed(struct node_deploy *dp, uint64_t commit);
void node_deploy_tick(struct node_deploy *dp);
/* This node became the leader: the members' reports heard in an earlier
 * term may be stale. */
void node_deploy_elected(struct node_deploy *dp);
/* Leader: appends a record (one fdatasync); *index is its entry. */
int node_deploy_append(struct node_deploy *dp, const struct pl_record *r, const char *manifest,
                       size_t mlen, const char *cert, uint64_t *index, char *err, size_t errlen);
/* The release table (deploy_releases.c): the release with this id, or
 * NULL; keep: holds a committed release, evicting the oldest one the
 * rollout core no longer needs when the table is full (or not holding
 * this one when every one is needed: it stays in the ledger). */
const struct node_release *deploy_releases_find(const struct node_deploy *dp, const char *id);
void deploy_releases_keep(struct node_deploy *dp, const char *id, const char *manifest, size_t mlen,
                          const char *cert, size_t clen);

/* The release running here (deploy_run.c). */
void deploy_run_cleanup_strays(struct node_deploy *dp);
void deploy_run_tick(struct node_deploy *dp);
/* deploy_run_tick in the loop's next turn, before it waits (a committed
 * change of release: see next_turn). */
void deploy_run_soon(struct node_deploy *dp);
void deploy_run_stop(struct node_deploy *dp);
/* The pid (also its process group id) of the running service here with
 * this name, or -1 (the chaos layer's kill_service and pause_service). */
int deploy_run_service_pid(const struct node_deploy *dp, const char *service);
/* The watchtower's hands: starts service svc of the running release
 * again (its process must be gone); stops it (pid: the one to stop, with
 * its stop_grace); the mark every service of this node carries; whether
 * pid leads the process group of a service of this node. */
int deploy_run_restart(struct node_deploy *dp, const char *svc, char *err, size_t errlen);
bool deploy_run_stop_service(struct node_deploy *dp, const char *svc, int64_t pid);
const char *deploy_run_mark(struct node_deploy *dp);
bool deploy_run_owns_group(const struct node_deploy *dp, int64_t pgid);
/* MSG_DEPLOY_REPORT arrived (shape checked by node/msg.c). */
void deploy_run_on_report(struct node_deploy *dp, size_t from, const msgpack_object *f);

enum deploy_plan_start deploy_plan_start(struct node_deploy *dp, const char *manifest, size_t mlen,
                                         bool dry_run, deploy_plan_done_cb done, void *ctx,
                                         void *arg);
void deploy_plan_tick(struct node_deploy *dp);
/* MSG_PLAN_PROBE (a member heals and probes for the leader) and
 * MSG_PLAN_FACTS (the leader takes its answer) arrived (shape checked by
 * node/msg.c). */
void deploy_plan_on_probe(struct node_deploy *dp, size_t from, const msgpack_object *f);
void deploy_plan_on_facts(struct node_deploy *dp, size_t from, const msgpack_object *f);

#endif
