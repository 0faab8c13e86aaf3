/* Rollout: the pure core that takes a certified release across the
 * federation and back. It decides; the node shell does (commits entries to
 * the ledger, starts and stops processes, runs health checks, answers
 * HTTP). No clock, no I/O: time comes in as an argument (wall-clock
 * milliseconds, since deadlines are measured against the timestamps of
 * ledger entries written by whichever node led then).
 *
 * The ledger is the single source of truth. Every decision the leader
 * takes is a record it commits (struct pl_record); every node, leader
 * included, feeds every committed record to pl_apply in ledger order, and
 * so every node knows the same deployments, their stages, the stable
 * release (the last good one) and which release each node must run. A new
 * leader therefore knows where a rollout stood; it resumes it (or, when
 * its progress deadline has passed, fails and reverts it): nothing is ever
 * left in progress without a leader working on it.
 *
 * Stages of a deployment, as recorded:
 *   RELEASE  the certified release is committed; the rollout begins
 *   WAVE     these nodes apply it (max_parallel at a time)
 *   STABLE   every member that is up ran it healthy for min_healthy_time:
 *            the new last good
 *   FAILED   a crash, a health check failing past healthy_deadline, or the
 *            progress deadline exceeded; with auto_revert, followed by
 *   ROLLBACK every node applies the last stable release at once (coordinated)
 *   REVERTED every member that is up runs it healthy again
 * A manual rollback (to the previous stable release, or a named earlier
 * one) is a ROLLBACK record too, rolled out in WAVEs under the policy of
 * the release it goes back to: no outage for a rollback nobody is rushed
 * into. An automatic one is all at once: the release is failing now.
 *
 * Members that are down (the shell's liveness, fed through pl_member) are
 * passed over, as Nomad treats allocations on a down node as lost: a wave
 * takes the members that are up, a member down when its wave is judged is
 * not waited for, and the deployment or rollback completes over the others.
 * The WAVE, STABLE and REVERTED records name the members passed over as
 * down; STABLE and REVERTED tell every member never reached to run the
 * release, so one that comes back applies what the ledger says.
 *
 * Nodes report what they run (pl_report): which deployment's release,
 * whether it is starting, healthy (and since when), unhealthy, crashed or
 * failed to start. Reports are facts about the present, not records: the
 * leader judges them at each pl_tick. */
#ifndef CHIMERA_PIPELINE_ROLLOUT_H
#define CHIMERA_PIPELINE_ROLLOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PL_MAX_NODES 16
#define PL_ID_MAX 64      /* ids: nodes, deployments, release names (with the NUL) */
#define PL_VERSION_MAX 65 /* release version (with the NUL) */
#define PL_REASON_MAX 256 /* why a deployment failed or a rollback was made */
/* A node's health detail as it reports it: a service's name and its last
 * health error, whole (verdict.h, VERDICT_ERROR_MAX). Only memory holds it
 * at this size: the report carries it as a msgpack string of its own
 * length, and what reaches a ledger record is cut to PL_REASON_MAX. */
#define PL_DETAIL_MAX 640
#define PL_MAX_DEPLOYMENTS 64 /* kept in memory; older ones are only in the ledger */

/* The rollout policy of a release (Nomad's names; milliseconds). */
struct pl_policy {
    uint32_t max_parallel;
    uint64_t min_healthy_time_ms;
    uint64_t healthy_deadline_ms;
    uint64_t progress_deadline_ms;
    bool auto_revert;
};

/* A release as the rollout knows it; the manifest bytes stay in the ledger
 * (the RELEASE record's entry) and the shell. */
struct pl_release {
    char name[PL_ID_MAX];
    char version[PL_VERSION_MAX];
    uint8_t digest[32];
    struct pl_policy policy;
};

enum pl_record_kind {
    PL_REC_RELEASE = 1,
    PL_REC_WAVE,
    PL_REC_STABLE,
    PL_REC_FAILED,
    PL_REC_ROLLBACK,
    PL_REC_REVERTED,
};

/* A committed record (or one the leader asks to commit). at_ms is the
 * timestamp of the ledger entry holding it. */
struct pl_record {
    enum pl_record_kind kind;
    char deployment[PL_ID_MAX]; /* the deployment it is about (for ROLLBACK and
                                 * REVERTED: the rollback's own id) */
    uint64_t at_ms;
    struct pl_release release;           /* RELEASE */
    uint32_t wave;                       /* WAVE: 1, 2, ... */
    char nodes[PL_MAX_NODES][PL_ID_MAX]; /* WAVE: the nodes that apply it now */
    size_t nnodes;
    char reason[PL_REASON_MAX];      /* FAILED, ROLLBACK */
    char target[PL_ID_MAX];          /* ROLLBACK: the deployment whose release to run */
    char from_deployment[PL_ID_MAX]; /* ROLLBACK: the deployment it replaces ("" manual) */
    bool automatic;                  /* ROLLBACK: auto_revert rather than an operator */
    bool in_waves; /* ROLLBACK: in WAVEs under the policy (else every node at once) */
    /* WAVE, STABLE, REVERTED: the members down at this decision, passed
     * over (not yet reached, or not waited for). */
    char down[PL_MAX_NODES][PL_ID_MAX];
    size_t ndown;
};

enum pl_stage {
    PL_STAGE_DEPLOYING = 1, /* RELEASE committed, waves under way */
    PL_STAGE_STABLE,
    PL_STAGE_FAILED,
    PL_STAGE_ROLLING_BACK, /* a rollback deployment being applied */
    PL_STAGE_REVERTED,     /* a rollback that completed */
    PL_STAGE_SUPERSEDED,   /* a stable release that a later one replaced */
};

struct pl_deployment {
    char id[PL_ID_MAX];
    bool rollback;          /* a rollback: runs target's release */
    char target[PL_ID_MAX]; /* rollback: the deployment whose release it runs */
    struct pl_release release;
    enum pl_stage stage;
    uint64_t started_ms; /* RELEASE / ROLLBACK record time */
    uint64_t wave_started_ms;
    uint32_t waves;              /* waves committed so far */
    bool assigned[PL_MAX_NODES]; /* node i was told to apply it */
    bool down[PL_MAX_NODES];     /* node i was passed over as down (the latest record) */
    bool in_waves;               /* rollback: in waves, not every node at once */
    bool automatic;              /* rollback: an automatic revert (auto_revert) */
    char reason[PL_REASON_MAX];
    uint64_t finished_ms;
};

/* What one node says it runs. */
enum pl_health {
    PL_H_NONE = 0, /* runs nothing, or nothing for that deployment yet */
    PL_H_STARTING, /* started, not yet healthy */
    PL_H_HEALTHY,
    PL_H_UNHEALTHY,    /* running, health checks failing */
    PL_H_CRASHED,      /* a service exited */
    PL_H_START_FAILED, /* a service could not be started */
};

struct pl_report {
    char deployment[PL_ID_MAX]; /* whose release it runs ("" none) */
    enum pl_health health;
    uint64_t healthy_since_ms; /* PL_H_HEALTHY: wall clock since when */
    uint64_t at_ms;            /* when the report was made */
    /* The generation (pl_desired_gen) of the decision the node's running
     * release answers: a report from before the latest decision for that
     * node describes the past and is not judged. */
    uint32_t gen;
    char detail[PL_DETAIL_MAX];
};

struct pl_state {
    size_t nnodes;
    char nodes[PL_MAX_NODES][PL_ID_MAX];           /* member order */
    struct pl_deployment deps[PL_MAX_DEPLOYMENTS]; /* oldest first */
    size_t ndeps;
    int stable; /* index in deps of the release that is the last good one, -1 none */
    int active; /* index in deps of the deployment or rollback in progress, -1 none */
    struct pl_report reports[PL_MAX_NODES];
    bool reported[PL_MAX_NODES];
    char desired[PL_MAX_NODES][PL_ID_MAX]; /* what each node must run ("" nothing) */
    /* Bumped each time a record (a wave, a rollback) tells the node what to
     * run, even the same release again: a node whose services crashed
     * starts them afresh for a rollback to the release it was running. */
    uint32_t desired_gen[PL_MAX_NODES];
    int revert_pending; /* a failed deployment awaiting its automatic rollback, -1 none */
    /* The stable release before the current one ("" none): where a bare
     * rollback goes once the current one runs everywhere. */
    char prev_stable[PL_ID_MAX];
    /* Which members are up, as this node's shell sees them (pl_member);
     * like reports, a fact about the present and not a record. */
    bool up[PL_MAX_NODES];
    uint64_t up_since_ms[PL_MAX_NODES]; /* when it was last seen coming back up */
};

/* Members in configuration order. */
void pl_init(struct pl_state *s, const char (*nodes)[PL_ID_MAX], size_t n);

/* A committed record, in ledger order (every node). Records that do not
 * fit the state (a WAVE for an unknown deployment, ...) are ignored and
 * -1 returned, so a damaged or foreign record cannot wedge the rollout. */
int pl_apply(struct pl_state *s, const struct pl_record *r);

/* A node's report (leader). Unknown nodes are ignored. */
void pl_report(struct pl_state *s, const char *node, const struct pl_report *r);
/* A new leader starts without reports: those it heard in an earlier term
 * may be stale. */
void pl_forget_reports(struct pl_state *s);

/* Whether member node is up at now_ms (every member is up after pl_init).
 * Down means the shell stopped hearing from it (its dead status), never
 * merely slow: a member down is passed over by waves and not waited for.
 * A member that comes back gets a fresh healthy_deadline from then. */
void pl_member(struct pl_state *s, const char *node, bool up, uint64_t now_ms);

/* The leader's decisions at now_ms: at most one record to commit (the
 * shell commits it, feeds it back through pl_apply once committed, and
 * asks again). Returns true with *out filled when there is one. Calling
 * it again before the record is applied returns the same decision. */
bool pl_tick(const struct pl_state *s, uint64_t now_ms, struct pl_record *out);

/* Which deployment's release node must run now ("" none): the release of
 * the latest wave that included it, or of a rollback. */
const char *pl_desired(const struct pl_state *s, const char *node);
/* The generation of that decision (see desired_gen); 0 for an unknown node. */
uint32_t pl_desired_gen(const struct pl_state *s, const char *node);
/* Whether running deployment id on a node is the automatic revert in
 * progress (an auto_revert rollback whose release is id's): the release
 * it replaces is failing now (run_plan_may_overlap). */
bool pl_automatic_revert_to(const struct pl_state *s, const char *id);
/* Whether deployment id failed and its automatic revert is coming (or
 * under way): auto_revert, and a stable release to go back to. A node
 * restarts nothing of it any more (the watchtower's WT_EV_REVERTING). */
bool pl_being_reverted(const struct pl_state *s, const char *id);

/* Requests from operators (leader), checked against the state. They
 * return 0 with the record to commit, or an HTTP-like status with a reason:
 * 409 when a deployment is in progress or the rollback would change
 * nothing (or has nowhere to go), 404 for an unknown version. */
int pl_begin(const struct pl_state *s, const char *id, const struct pl_release *rel,
             uint64_t now_ms, struct pl_record *out, char *why, size_t whylen);
/* to_version NULL: the previous stable release, the one before the
 * current; or, while a deployment is in progress or a failed one left
 * members on another release, the current stable one (the last good). */
int pl_rollback(const struct pl_state *s, const char *id, const char *to_version, uint64_t now_ms,
                struct pl_record *out, char *why, size_t whylen);

/* Fails deployment id, a release's deployment in progress, for reason:
 * the recovery watchtower's crash loop of a member running it, which its
 * restarts hide from the reports (a service stopped to be restarted is not
 * crashed) until the healthy deadline. Returns 0 with the FAILED record to
 * commit (its auto_revert then reverts it as any failure), or 409 with why
 * when id is not a release's deployment in progress. */
int pl_fail(const struct pl_state *s, const char *id, const char *reason, uint64_t now_ms,
            struct pl_record *out, char *why, size_t whylen);

/* Lookups for the HTTP API. */
const struct pl_deployment *pl_find(const struct pl_state *s, const char *id);

const char *pl_stage_name(enum pl_stage st);
const char *pl_health_name(enum pl_health h);
const char *pl_record_name(enum pl_record_kind k);

#endif
