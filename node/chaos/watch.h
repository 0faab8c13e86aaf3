/* The recovery watchtower's shell (issue 12): feeds the pure core
 * (chaos/watchtower.h) from the deployment layer's observer hooks
 * (deploy.h, struct deploy_observer), a timer at wt_next_due and a
 * periodic scan for stray processes carrying this node's mark, and
 * performs the core's actions: restart a service through the deploy
 * layer, stop a process group, report a crash loop, mark a service failed,
 * record a recovery (event, metric, ledger entry via the leader).
 * Public names use the prefix watch_. */
#ifndef CHIMERA_NODE_CHAOS_WATCH_H
#define CHIMERA_NODE_CHAOS_WATCH_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "chaos/watchtower.h"
#include "chaos/watchtower_scan.h"
#include "node/base/base.h"
#include "node/base/histogram.h"
#include "node/deploy/deploy.h"
#include "node/raft/raft.h"
#include "node/witness/witness.h"

#define WATCH_RECENT 16           /* recoveries kept for GET /recovery */
#define WATCH_MAX_STRAYS 32       /* stray process groups being stopped at once */
#define WATCH_SCAN_EVERY_MS 2000u /* the stray scan */
#define WATCH_TICK_EVERY_MS 1000u /* the core is ticked at least this often */
#define WATCH_STRAY_GRACE_MS 5000u

/* A stray being stopped: SIGTERM sent, SIGKILL at kill_at. */
struct watch_stray {
    int64_t pid;
    uint64_t kill_at;
};

/* Recoveries owed to the ledger (watch_lead.c), kept until this node sees
 * them committed in its own ledger: their reporting follows the read-only
 * episodes' core (witness/episodes.h), an episode per recovery whose
 * enter_ms is the recovery's identity (its wall-clock failed_at_ms, made
 * unique per node) and whose index is that of its entry once appended. */
struct watch_owed {
    struct episodes eps;                  /* only list, n: the reporting state */
    struct wt_recovery rec[EPISODES_MAX]; /* what each of eps.list is */
    uint64_t sent_at[EPISODES_MAX];       /* loop ms of the last report (0: none) */
    uint64_t last_failed_at;              /* the newest identity handed out */
};

/* A crash loop reported until the node knows its outcome (watch_lead.c,
 * wt_loop_verdict_is_outcome): sent at once when a leader is known, then
 * again at next_at (wt_loop_resend_ms); while no leader is known it waits,
 * and goes out as soon as one is. Dropped at a mark_failed verdict, or
 * when the node's desired deployment changes (a revert committed, or any
 * other release); a revert verdict only sets reverting. */
struct watch_loop_report {
    bool active;
    char service[WT_NAME_MAX];
    char deployment[PL_ID_MAX];
    uint32_t attempts;
    struct wt_cause cause;
    uint64_t next_at; /* loop ms; 0: as soon as a leader is known */
    uint32_t sends;
    bool reverting; /* a leader answered revert; its rollback is not committed here yet */
};

struct watch {
    struct node_base *base;
    struct node_raft *raft;
    struct node_deploy *dp;
    bool enabled;
    bool started;
    struct wt wt;
    uv_timer_t timer;
    uint64_t timer_at; /* loop ms the timer is armed for (UINT64_MAX: none) */
    uint64_t scan_due, tick_due;
    struct watch_stray strays[WATCH_MAX_STRAYS];
    size_t nstrays;
    struct wt_scan scan; /* processes known to carry no mark */
    const char *mark;    /* deploy_run_mark: the environment entry of this node's services */
    struct wt_recovery recent[WATCH_RECENT]; /* a ring, newest at (next - 1) */
    size_t nrecent, next;
    uint64_t restarts_total;
    uint64_t failed_total;
    struct histogram recovery; /* every service's times to recover, for /metrics */
    struct watch_owed owed;
    struct watch_loop_report loops[WT_MAX_SERVICES];
};

/* Installs the observer in dp (deploy.h) and starts the timer; with
 * recovery disabled it installs nothing and the node behaves as without a
 * watchtower. Call after the deploy layer's start. */
int watch_start(struct watch *w, struct node_base *base, struct node_raft *raft,
                struct node_deploy *dp);
void watch_stop(struct watch *w);
/* Every node tick: the stray scan, SIGKILLs due. */
void watch_tick(struct watch *w);
/* The leader's verdict on this node's crash loop of service arrived. */
void watch_verdict(struct watch *w, const char *service, enum wt_verdict v);

/* The leader's side (watch_lead.c): a crash loop to report (until a
 * verdict comes back), a recovery to record in the ledger (reported until
 * this node sees it committed, every watch tick),
 * and the messages (shapes checked by node/msg.c). The leader-side
 * handlers work with the watchtower off too: members may have it on. */
void watch_lead_report_loop(struct watch *w, const struct wt_action *a);
void watch_lead_queue(struct watch *w, const struct wt_recovery *r);
void watch_lead_tick(struct watch *w);
/* Verdict v on service's crash loop arrived: its report is done with, or
 * (a revert) kept until the rollback is committed here. */
void watch_lead_verdict_arrived(struct watch *w, const char *service, enum wt_verdict v);
void watch_on_crash_loop(struct watch *w, size_t from, const msgpack_object *f);
void watch_on_crash_verdict(struct watch *w, size_t from, const msgpack_object *f);
void watch_on_recovery(struct watch *w, size_t from, const msgpack_object *f);
void watch_on_recovery_ack(struct watch *w, size_t from, const msgpack_object *f);

#endif
