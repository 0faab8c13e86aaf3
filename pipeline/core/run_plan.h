/* Run plan: which release this node runs, and when it stops, starts or
 * restarts one. Pure: the rollout core (pl_desired, pl_desired_gen) says
 * what the node must run; the shell runs the processes and asks, at every
 * tick and whenever the last service of a stop exits, what to do next.
 * Time comes in as an argument.
 *
 * A change of release stops every service of the old one and waits for
 * all of them to exit before it starts the new one, so that a fixed port
 * is free again (stop-then-start, never both at once), with one exception
 * (run_plan_may_overlap): an automatic revert whose releases, the one
 * stopped and the one started, give every service "port": "auto" starts
 * the good release at once, while the failing one is still exiting (its
 * SIGTERM-to-exit was half of a node's switch, and the release being
 * reverted is failing now; nothing of theirs can clash on a port). A new decision for
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

/* A node tells the leader what it runs at once when that changed (or the
 * leader did), and otherwise again only this often: a keep-alive, for a
 * report lost on the way (the transport drops what it cannot send at
 * once). The leader keeps a member's last report until a new term, and
 * judges a healthy one by its start (healthy_since), so a repeat brings it
 * nothing new: an idle member sends one message every 20 heartbeats, not
 * every 5. */
#define RUN_PLAN_REPORT_EVERY_MS 1000
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

/* Whether a change from release from to release to may start to while
 * from is still exiting: only for an automatic revert (automatic_revert:
 * the decision is the automatic rollback to to) and only when every
 * service of both releases has "port": "auto" (a fixed port, or none, may
 * stand for a resource the two would share: stop-then-start). NULL
 * manifests (one did not parse) never overlap. */
bool run_plan_may_overlap(bool automatic_revert, const struct manifest *from,
                          const struct manifest *to);

/* Every service of m has "port": "auto" (false for NULL): one side of
 * run_plan_may_overlap, for a caller that can stop before parsing the other. */
bool run_plan_ports_auto(const struct manifest *m);

/* One step: the node's health now, whether any service process is still
 * running, and what the ledger says it must run (desired, "" for nothing,
 * and the decision's generation). overlap: the shell may start desired
 * while what runs (or is stopping) still exits (run_plan_may_overlap, and
 * the shell has room to keep the old processes until they exit); then a
 * change answers STOP | START in one step: stop the old services, hand
 * them aside, start the new release at once. Updates p; returns
 * run_plan_action bits. */
unsigned run_plan_tick(struct run_plan *p, enum pl_health health, bool any_running,
                       const char *desired, uint32_t desired_gen, bool overlap);

/* What a report says, and to which leader (by term). */
struct run_plan_said {
    char deployment[PL_ID_MAX];
    enum pl_health health;
    uint64_t healthy_since; /* wall clock ms; 0 unless healthy */
    uint32_t gen;
    char detail[PL_DETAIL_MAX];
    int64_t leader;
    uint64_t term;
};

struct run_plan_reports {
    struct run_plan_said last; /* the last report sent */
    uint64_t due;              /* loop ms of the next keep-alive; 0: at once */
};

/* Whether to send the report that says now_says at loop time now_ms: it
 * says something else than the last one sent (or to another leader), or
 * the keep-alive is due. If so, it is the last one sent, and the next
 * keep-alive is due RUN_PLAN_REPORT_EVERY_MS later. News (verdict_set)
 * sets due to 0. */
bool run_plan_report_due(struct run_plan_reports *r, const struct run_plan_said *now_says,
                         uint64_t now_ms);

/* The stop grace of service i of m (NULL: its manifest is gone). */
uint32_t run_plan_stop_grace(const struct manifest *m, size_t i);

#endif
