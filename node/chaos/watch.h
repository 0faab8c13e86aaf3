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
#include "node/base/base.h"
#include "node/deploy/deploy.h"
#include "node/raft/raft.h"

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

/* A recovery not yet acknowledged by the leader (watch_lead.c). */
struct watch_pending {
    struct wt_recovery rec;
    uint64_t failed_at_ms; /* wall clock: the report's identity */
    uint64_t sent_at;      /* loop ms */
    bool sent;
};

/* Leader: a recovery it appended (a repeated report is acknowledged with
 * the same index). */
struct watch_appended {
    char node[WT_NAME_MAX];
    char service[WT_NAME_MAX];
    uint64_t failed_at_ms;
    uint64_t index;
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
    bool restart_after_stop[WT_MAX_SERVICES];  /* a liveness STOP, then a RESTART */
    struct wt_action pending[WT_MAX_SERVICES]; /* that RESTART, done at the exit */
    struct watch_stray strays[WATCH_MAX_STRAYS];
    size_t nstrays;
    struct wt_recovery recent[WATCH_RECENT]; /* a ring, newest at (next - 1) */
    size_t nrecent, next;
    uint64_t restarts_total;
    uint64_t failed_total;
    struct wt_mttr mttr; /* every service's recoveries, for /metrics */
    struct watch_pending pending_rec[WATCH_RECENT];
    size_t npending;
    struct watch_appended appended[WATCH_RECENT]; /* leader: a ring */
    size_t next_appended;
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

/* The leader's side (watch_lead.c): a crash loop to report, a recovery to
 * record in the ledger (reported until acknowledged, every watch tick),
 * and the messages (shapes checked by node/msg.c). The leader-side
 * handlers work with the watchtower off too: members may have it on. */
void watch_lead_report_loop(struct watch *w, const struct wt_action *a);
void watch_lead_queue(struct watch *w, const struct wt_recovery *r);
void watch_lead_tick(struct watch *w);
void watch_on_crash_loop(struct watch *w, size_t from, const msgpack_object *f);
void watch_on_crash_verdict(struct watch *w, size_t from, const msgpack_object *f);
void watch_on_recovery(struct watch *w, size_t from, const msgpack_object *f);
void watch_on_recovery_ack(struct watch *w, size_t from, const msgpack_object *f);

#endif
