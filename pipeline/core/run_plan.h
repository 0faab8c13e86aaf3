/* Run plan: which release this node runs, and when it stops, starts or
 * restarts one. Pure: the rollout core (pl_desired, pl_desired_gen) says
 * what the node must run; the shell runs the processes and asks, at every
 * tick and whenever the last service of a stop exits, what to do next.
 * Time comes in as an argument.
 *
 * A change of release stops every service of the old one and waits for
 * all of them to exit before it starts the new one, so that a fixed port
 * is free again (stop-then-start, never both at once). A new decision for
 * the release already running (a rollback to it, a new wave naming this
 * node: pl_desired_gen moved) restarts it only if it is broken, crashed or
 * failed to start; a healthy one simply answers the new decision. */
#ifndef CHIMERA_PIPELINE_CORE_RUN_PLAN_H
#define CHIMERA_PIPELINE_CORE_RUN_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pipeline/core/manifest.h"
#include "pipeline/core/rollout.h"

/* How often a node tells the leader what it runs, news or not. */
#define RUN_PLAN_REPORT_EVERY_MS 250
/* The stop grace of a service whose manifest is gone (it did not parse). */
#define RUN_PLAN_STOP_GRACE_MS 5000

struct run_plan {
    char running[PL_ID_MAX]; /* the deployment whose release runs here ("" none) */
    uint32_t gen;            /* the pl_desired_gen it answers */
    bool stopping;           /* a stop under way: services still to exit */
};

/* What a tick asks of the shell, to be done in this order. */
enum run_plan_action {
    RUN_PLAN_SETTLE = 1u << 0, /* the stop is over: nothing runs here (health none) */
    RUN_PLAN_STOP = 1u << 1,   /* stop every service still running (its stop grace) */
    RUN_PLAN_START = 1u << 2,  /* start the release of p->running */
    RUN_PLAN_WATCH = 1u << 3,  /* probe what is due, then judge the node's health */
};

/* One step: the node's health now, whether any service process is still
 * running, and what the ledger says it must run (desired, "" for nothing,
 * and the decision's generation). Updates p; returns run_plan_action bits. */
unsigned run_plan_tick(struct run_plan *p, enum pl_health health, bool any_running,
                       const char *desired, uint32_t desired_gen);

/* Whether a report is due at loop time now_ms; if so, the next one is due
 * RUN_PLAN_REPORT_EVERY_MS later. News (verdict_set) sets *due to 0. */
bool run_plan_report_due(uint64_t *due, uint64_t now_ms);

/* The stop grace of service i of m (NULL: its manifest is gone). */
uint32_t run_plan_stop_grace(const struct manifest *m, size_t i);

#endif
