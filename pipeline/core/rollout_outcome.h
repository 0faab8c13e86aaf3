/* What a committed deployment record settles, for /metrics: the outcome
 * of a release's deployment (chimera_deployments_total{outcome}) and the
 * cause of a rollback (chimera_rollbacks_total{cause}). Pure, bounded
 * label sets, so that every node folding the same ledger counts the same. */
#ifndef CHIMERA_ROLLOUT_OUTCOME_H
#define CHIMERA_ROLLOUT_OUTCOME_H

#include "pipeline/core/rollout.h"

enum pl_outcome {
    PL_OUTCOME_NONE = -1,   /* the record settles no deployment of a release */
    PL_OUTCOME_STABLE = 0,  /* it ran everywhere it had to, healthy */
    PL_OUTCOME_ROLLED_BACK, /* it failed, and its policy rolls it back */
    PL_OUTCOME_FAILED,      /* it failed, and stays failed */
    PL_OUTCOME_ABORTED,     /* a rollback replaced it before it settled */
    PL_OUTCOME_COUNT
};

enum pl_cause {
    PL_CAUSE_MANUAL = 0,        /* an operator's rollback */
    PL_CAUSE_CRASH_LOOP,        /* the recovery watchtower's revert after a crash loop */
    PL_CAUSE_CRASHED,           /* a service of the release crashed during its rollout */
    PL_CAUSE_START_FAILED,      /* a service could not start */
    PL_CAUSE_VERIFY_FAILED,     /* not healthy (or not applied) within the healthy deadline */
    PL_CAUSE_PROGRESS_DEADLINE, /* no wave made progress within the progress deadline */
    PL_CAUSE_OTHER,
    PL_CAUSE_COUNT
};

/* The outcome record r settles, judged on the state s before r is applied
 * (pl_apply): STABLE of a release's deployment; FAILED of one (rolled
 * back when its policy's auto_revert has a stable release to go back to);
 * a ROLLBACK while a release's deployment is in progress (aborted).
 * Rollbacks themselves are no deployments here: they count by cause. */
enum pl_outcome pl_record_outcome(const struct pl_state *s, const struct pl_record *r);

/* The cause of ROLLBACK record r: manual unless automatic, else from its
 * reason (the failure it reverts, as rollout.c and the watchtower word it). */
enum pl_cause pl_rollback_cause(const struct pl_record *r);

/* Label values: "stable", "rolled_back", "failed", "aborted"; "manual",
 * "crash_loop", "crashed", "start_failed", "verify_failed",
 * "progress_deadline", "other". */
const char *pl_outcome_name(enum pl_outcome o);
const char *pl_cause_name(enum pl_cause c);

#endif
