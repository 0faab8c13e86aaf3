/* The recovery watchtower: the pure core that keeps the services of the
 * release this node runs alive (issue 12, design.md "Chaos and recovery").
 * Events in (a service exited, started, a health check answered, time is
 * now T, the release changed, a marked process was found, the leader's
 * verdict on a crash loop), actions out (restart now, restart at T, stop a
 * process, report a crash loop, mark failed, record a recovery). No clock,
 * no I/O, no randomness of its own: time is an argument, jitter comes from
 * an injected generator, so every decision is replayable in a test.
 * Public names use the prefix wt_.
 *
 * Restarts follow Nomad's restart block (attempts, interval, delay, mode),
 * with exponential backoff as the issue asks:
 *   - the first failure in an interval is restarted at once;
 *   - failure n (2..attempts) waits min(delay * 2^(n-2), max_delay),
 *     jittered downwards by up to a quarter: the wait w for a base b is
 *     b - floor(b/4 * r / 2^32) with r the generator's 32-bit value, so
 *     3b/4 < w <= b <= max_delay. Jitter spreads the restarts of many
 *     services (or nodes) that failed together; jittering only downwards
 *     keeps max_delay a hard bound;
 *   - attempts are counted within interval, which starts at the first
 *     failure and, once it has passed, starts again at the next one;
 *   - one more failure within the interval is a crash loop: reported to
 *     the leader once per interval (WT_ACT_REPORT_CRASH_LOOP). Mode
 *     "delay" keeps restarting at the longest backoff (max_delay,
 *     jittered) and marks the service failed only when the leader says so
 *     (wt_leader_decide returned WT_VERDICT_MARK_FAILED; a revert changes
 *     the release instead). Mode "fail" marks it failed at once and stops
 *     restarting it until the release changes (Nomad's "fail").
 *
 * Defaults (WT_DEFAULT_*): attempts 3, interval 1m, delay 500ms, mode
 * delay, max_delay 30s. Nomad's service defaults (2 attempts in 30m, 15s
 * delay, fail) suit a scheduler that can place the job elsewhere; Chimera
 * runs every service on every node and must heal in seconds: a crash is
 * restarted at once, and a service that crashes as soon as it starts is a
 * crash loop within about 1.5 s (restarts after 0, 0.5 s and 1 s), so the
 * leader hears of a bad release in seconds and can revert it; mode
 * "delay" keeps a node trying (every 30 s at most) rather than giving up
 * on a service nobody can move. A release overrides them per service with
 * a "restart" block in its manifest (README, "Releases (manifests)").
 *
 * Liveness (Kubernetes' livenessProbe): a running service whose health
 * check has failed continuously for liveness_ms (the shell derives it from
 * the manifest: unhealthy_threshold x interval, i.e. failureThreshold x
 * periodSeconds) is stopped and restarted under the same restart policy,
 * not only reported: STOP first; the restart (RESTART or RESTART_AT, and
 * its count) comes with the stopped process's exit, which the shell feeds
 * as for any exit (WT_S_STOPPING until then), so that a fixed port is free
 * and one restart is one attempt. A passing check ends the streak. Checks are not held
 * against a service during start_grace_ms after it started (Kubernetes'
 * startupProbe / initialDelaySeconds): a slow start is not a failure.
 *
 * Time to recover: from the failure seen (the exit, or the first failing
 * check of a streak that led to a restart) to the first passing check
 * after it (for a service without a health check: to its start). Only
 * failures that led to at least one restart are recoveries. MTTR per
 * service: count, sum, max and the median of the last ones; the node's
 * histogram of them all (node/chaos/watch.c, one node/base/histogram: a
 * pure core includes nothing of node/) has the bounds wt_mttr_bounds_s.
 *
 * Strays: a process carrying this node's mark that is not the process of a
 * service the current release wants is stopped, at any time.
 *
 * Processes are told apart by pid: an exit whose pid is not the one the
 * watchtower tracks for that service (an old release's process the deploy
 * shell stopped) is not a failure; the exit of the process it stopped for
 * liveness is the cue of the restart, with the liveness cause.
 *
 * A release the ledger marked failed and that is about to be reverted
 * (WT_EV_REVERTING) gets no restart: a service down, or whose restart is
 * pending, is WT_S_FAILED (without MARK_FAILED: nothing of the service's
 * own) until the release changes, and a failing check stops nothing; what
 * still runs is the rollback's to stop.
 *
 * The shell (node/chaos/) feeds: WT_EV_RELEASE when the node's release
 * changes (before it stops the old services, so their exits are not
 * failures), WT_EV_REVERTING when the ledger dooms the release, WT_EV_STARTED/EXITED/START_FAILED
 * from the process driver, every health check's answer, WT_EV_MARKED for each marked process that
 * is not one of its own children (a periodic scan), the leader's verdict,
 * and a tick at wt_next_due. It performs the actions in order: RESTART
 * starts the service as the deploy shell does; RESTART_AT is a promise (an event "restart in 2 s",
 * a timer); STOP stops the pid's process group (SIGTERM, SIGKILL after stop_grace) and feeds its
 * exit (or an exit at once when the process is gone); REPORT_CRASH_LOOP sends [node, service,
 * attempts, cause] to the leader until the node knows the outcome (wt_loop_verdict_is_outcome);
 * the leader answers, when wt_report_answer says so, with wt_leader_decide (and reverts through
 * the rollout core on WT_VERDICT_REVERT); MARK_FAILED sets the service's state, an event and a
 * metric; RECORD emits the event "recovery.restarted" (wt_recovery_text), asks the leader to commit
 * it to the ledger, and feeds the MTTR histogram. */
#ifndef CHIMERA_CHAOS_WATCHTOWER_H
#define CHIMERA_CHAOS_WATCHTOWER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WT_MAX_SERVICES 16 /* as MANIFEST_MAX_SERVICES */
#define WT_NAME_MAX 64     /* node and service ids, with the NUL */
/* Per event at most: stop + report + mark failed + restart, per service. */
#define WT_MAX_ACTIONS (4 * WT_MAX_SERVICES)

#define WT_DEFAULT_ATTEMPTS 3u
#define WT_DEFAULT_INTERVAL_MS 60000u
#define WT_DEFAULT_DELAY_MS 500u
#define WT_DEFAULT_MODE WT_MODE_DELAY
#define WT_DEFAULT_MAX_DELAY_MS 30000u
#define WT_DEFAULT_LIVENESS_MS 3000u        /* 3 failures x 1s, the manifest's health defaults */
#define WT_DEFAULT_START_GRACE_MS 10000u    /* as rollout.min_healthy_time's default */
#define WT_DEFAULT_REVERT_WINDOW_MS 300000u /* a release stable for less than 5m is reverted */

/* The bounds of the recovery-time histogram (/metrics), in seconds (+Inf
 * is the count). */
#define WT_MTTR_NBUCKETS 11
extern const double wt_mttr_bounds_s[WT_MTTR_NBUCKETS];

enum wt_mode {
    WT_MODE_DELAY = 1, /* after a crash loop: keep restarting at max_delay */
    WT_MODE_FAIL,      /* after a crash loop: mark failed, stop restarting */
};

/* Nomad's restart block, plus the cap of the exponential backoff. */
struct wt_restart {
    uint32_t attempts; /* restarts allowed within interval (0: the first failure is a loop) */
    uint64_t interval_ms;
    uint64_t delay_ms;     /* base of the backoff (the 2nd restart's wait) */
    uint64_t max_delay_ms; /* cap; below delay_ms it is raised to delay_ms */
    enum wt_mode mode;
};

/* One service the release wants on this node. */
struct wt_service_spec {
    char name[WT_NAME_MAX];
    struct wt_restart restart;
    bool has_check;          /* false: healthy as soon as it started */
    uint64_t liveness_ms;    /* failing checks this long: restart (0: WT_DEFAULT_LIVENESS_MS) */
    uint64_t start_grace_ms; /* checks not held against a fresh start this long */
};

/* Why a service failed. */
enum wt_cause_kind {
    WT_CAUSE_EXIT = 1,    /* exited with status code */
    WT_CAUSE_SIGNAL,      /* killed by signal code */
    WT_CAUSE_LIVENESS,    /* health failing for code milliseconds */
    WT_CAUSE_START_FAILED /* could not be started */
};

struct wt_cause {
    enum wt_cause_kind kind;
    int64_t code;
};

enum wt_event_kind {
    WT_EV_RELEASE = 1,  /* the release changed: specs, nspecs ("" name: none) */
    WT_EV_STARTED,      /* service started as pid */
    WT_EV_EXITED,       /* service's pid exited: status, or signal when signal != 0 */
    WT_EV_START_FAILED, /* service could not be started */
    WT_EV_CHECK,        /* service's health check: pass */
    WT_EV_TICK,         /* time passes (the shell ticks at wt_next_due, or at least every second) */
    WT_EV_MARKED,       /* a process carrying this node's mark: pid */
    WT_EV_VERDICT,      /* the leader's verdict on service's crash loop */
    WT_EV_REVERTING,    /* the ledger marked the release failed and its revert is coming */
};

enum wt_verdict {
    WT_VERDICT_REVERT = 1,  /* the leader reverts the release (coordinated rollback) */
    WT_VERDICT_MARK_FAILED, /* the service is marked failed on that node */
};

struct wt_event {
    enum wt_event_kind kind;
    uint64_t at_ms; /* now: every event carries the time */
    char service[WT_NAME_MAX];
    int64_t pid;
    int64_t status;
    int signal;
    bool pass;
    enum wt_verdict verdict;
    const struct wt_service_spec *specs; /* WT_EV_RELEASE */
    size_t nspecs;
};

/* A recovery: from the failure seen to healthy again. */
struct wt_recovery {
    char node[WT_NAME_MAX];
    char service[WT_NAME_MAX];
    struct wt_cause cause; /* the failure that began it */
    uint32_t attempts;     /* restarts it took */
    uint64_t failed_at_ms;
    uint64_t healthy_at_ms;
    uint64_t ttr_ms; /* healthy_at_ms - failed_at_ms */
    bool was_failed; /* it had been marked failed; now it is not */
};

enum wt_action_kind {
    WT_ACT_RESTART = 1,       /* start service now (its process is gone or was stopped) */
    WT_ACT_RESTART_AT,        /* service will be restarted at at_ms: tick then (informational) */
    WT_ACT_STOP,              /* stop pid (SIGTERM to its group, SIGKILL after stop_grace) */
    WT_ACT_REPORT_CRASH_LOOP, /* tell the leader: attempts restarts since window_ms, cause */
    WT_ACT_MARK_FAILED,       /* service is failed on this node (state, event, metric) */
    WT_ACT_RECORD,            /* a recovery: event, and a ledger entry via the leader */
};

struct wt_action {
    enum wt_action_kind kind;
    char service[WT_NAME_MAX];   /* "" for a stray */
    uint64_t at_ms;              /* RESTART_AT: when; others: now */
    int64_t pid;                 /* STOP */
    bool stray;                  /* STOP: a stray (else a liveness stop of service) */
    uint32_t attempt;            /* RESTART, RESTART_AT: 1, 2, ... within the interval */
    uint32_t attempts;           /* REPORT_CRASH_LOOP: restarts within the interval */
    uint64_t window_ms;          /* REPORT_CRASH_LOOP: when the interval began */
    struct wt_cause cause;       /* RESTART*, STOP (liveness), REPORT_CRASH_LOOP, MARK_FAILED:
                                  * the latest failure */
    struct wt_cause first_cause; /* RESTART*, REPORT_CRASH_LOOP, MARK_FAILED: the failure that
                                  * began the episode (the same, or an earlier one) */
    struct wt_recovery recovery; /* RECORD */
};

struct wt_actions {
    struct wt_action a[WT_MAX_ACTIONS];
    size_t n;
};

/* MTTR of one service (or of every service of a node). */
#define WT_MTTR_RECENT 32 /* the p50 is that of the last recoveries, this many */
struct wt_mttr {
    uint64_t count;
    uint64_t sum_ms;
    uint64_t max_ms;
    uint64_t recent_ms[WT_MTTR_RECENT]; /* a ring, the next at count % WT_MTTR_RECENT */
};

/* Counts one recovery that took ttr_ms. */
void wt_mttr_observe(struct wt_mttr *m, uint64_t ttr_ms);
/* The median of the last WT_MTTR_RECENT recoveries (the lower one of an
 * even count), 0 when there were none. */
uint64_t wt_mttr_p50(const struct wt_mttr *m);

enum wt_state {
    WT_S_STARTING = 1, /* wanted, not yet healthy (or not yet started) */
    WT_S_HEALTHY,
    WT_S_UNHEALTHY, /* running, checks failing */
    WT_S_DOWN,      /* gone; a restart is due at restart_due_ms */
    WT_S_FAILED,    /* mode fail after a crash loop: not restarted */
    WT_S_STOPPING,  /* stopped for liveness: restarted (and counted) at its exit */
};

struct wt_service {
    struct wt_service_spec spec;
    enum wt_state state;
    bool marked_failed;
    int64_t pid; /* 0: none tracked */
    uint64_t started_ms;
    uint64_t failing_since_ms;  /* first failing check of the streak (0: passing) */
    struct wt_cause stop_cause; /* WT_S_STOPPING: the liveness failure it is stopped for */
    bool failing;
    uint64_t restart_due_ms; /* WT_S_DOWN */
    uint32_t restart_attempt;
    uint64_t window_ms; /* start of the interval */
    uint32_t window_count;
    bool loop_reported;
    bool episode; /* a failure not yet recovered from */
    uint64_t episode_ms;
    struct wt_cause episode_cause;
    uint32_t episode_attempts;
    struct wt_mttr mttr;
    /* Kept across releases, as mttr: restarts since the node started, and
     * the cause of the last failure (kind 0: none yet). */
    uint64_t restarts;
    struct wt_cause last_cause;
};

struct wt_config {
    char node[WT_NAME_MAX];
    /* Uniform 32-bit values for the jitter; NULL: no jitter. */
    uint32_t (*rand32)(void *arg);
    void *rand_arg;
};

struct wt {
    struct wt_config cfg;
    struct wt_service svc[WT_MAX_SERVICES];
    size_t nsvc;
    /* WT_EV_REVERTING until the next release: nothing of it is restarted
     * (the rollback would only have to stop it again, and a service left
     * down is one less to stop: the good release starts sooner). */
    bool reverting;
};

/* A restart block with every default. */
struct wt_restart wt_restart_default(void);

/* The node's recovery settings that a manifest does not carry. */
struct wt_tuning {
    uint64_t max_delay_ms;   /* the backoff's cap (WT_DEFAULT_MAX_DELAY_MS) */
    uint64_t start_grace_ms; /* WT_DEFAULT_START_GRACE_MS */
    uint64_t liveness_ms;    /* 0: from the health check, unhealthy_threshold x interval */
};

struct wt_tuning wt_tuning_default(void);

struct manifest_service;
/* The spec of a manifest's service: its restart block, its health check
 * (a service without one is healthy once started; with one, liveness is
 * the time unhealthy_threshold checks take, Kubernetes' failureThreshold x
 * periodSeconds, unless the node sets liveness_ms), and the node's t. */
struct wt_service_spec wt_spec_from_manifest(const struct manifest_service *s,
                                             const struct wt_tuning *t);

/* An empty watchtower (no release yet). */
void wt_init(struct wt *w, const struct wt_config *cfg);

/* Feeds one event; out receives the actions, in the order to perform them.
 * An event about a service the release does not want is ignored. */
void wt_step(struct wt *w, const struct wt_event *ev, struct wt_actions *out);

/* The earliest time a tick has work to do (a restart due, a liveness
 * deadline), or UINT64_MAX when none: so while the release is being
 * reverted, when ticks do nothing. After a tick at t, nothing is due at
 * or before t. */
uint64_t wt_next_due(const struct wt *w);

/* The service's state, or NULL when the release does not want it. */
const struct wt_service *wt_find(const struct wt *w, const char *service);

/* The backoff before restart attempt n (1-based) of policy r, before
 * jitter: 0 for n = 1, else min(delay * 2^(n-2), max(max_delay, delay)). */
uint64_t wt_backoff_ms(const struct wt_restart *r, uint32_t n);

/* A crash loop's report is repeated until the leader's verdict arrives
 * (a leader may be missing, or its verdict lost): the wait after report n
 * (1-based) is WT_LOOP_RESEND_MIN_MS doubled n - 1 times, at most
 * WT_LOOP_RESEND_MAX_MS. The shell does not count a report while no
 * leader is known, so the first one after an election goes out at once. */
#define WT_LOOP_RESEND_MIN_MS 1000u
#define WT_LOOP_RESEND_MAX_MS 16000u
uint64_t wt_loop_resend_ms(uint32_t n);

/* The leader's decision on a crash loop, from what the ledger says about
 * the release the node runs. */
enum wt_release_stage {
    WT_REL_ROLLING_OUT = 1, /* its deployment is still being applied */
    WT_REL_STABLE,          /* stable since stable_since_ms */
    WT_REL_ROLLING_BACK,    /* it is itself a rollback under way or done */
    WT_REL_FAILED,          /* its deployment failed: its rollout policy says what follows */
};

struct wt_release_age {
    enum wt_release_stage stage;
    uint64_t stable_since_ms;
    bool has_previous; /* a previous stable release exists to revert to */
};

/* Revert when the release is rolling out, or became stable less than
 * window_ms before now, and there is a previous stable release to go back
 * to; otherwise (a rollback, a failed release, an old stable release,
 * nothing to go back to) mark the service failed on that node. A failed
 * release is reverted by its own auto_revert or not at all: an operator
 * who turned that off decides. */
enum wt_verdict wt_leader_decide(const struct wt_release_age *rel, uint64_t window_ms,
                                 uint64_t now_ms);

/* A crash loop's report is kept (and repeated, wt_loop_resend_ms) until the
 * node knows its outcome: whether verdict v is that outcome. A
 * mark_failed is. A revert is not: it is the leader's intent, and the
 * leader may lose its place before the rollback commits; the report ends
 * when the node's own ledger wants another release of it (the rollback
 * committed, which ends every report), so a revert lost with its leader is
 * decided again by the next one. */
bool wt_loop_verdict_is_outcome(enum wt_verdict v);

/* What the leader does with a crash loop's report (the same report may
 * come again, to it or to the next leader, until the node sees the
 * outcome). */
enum wt_report_answer {
    WT_ANSWER_DECIDE = 1, /* decide now (wt_leader_decide) and answer */
    WT_ANSWER_LATER,      /* not yet: entries of an earlier leader are not settled here (one
                           * may be its revert of this very release), or the deployment state
                           * lags the commit; no answer, the node reports again */
    WT_ANSWER_STALE,      /* about a release the ledger no longer wants on that node (a revert
                           * committed): no answer, the node drops it as it applies the same */
};

struct wt_report_view {
    bool about_desired;      /* the report names the deployment the ledger wants on that node */
    bool own_term_committed; /* the leader has committed an entry of its own term */
    bool state_applied;      /* the leader's deployment state includes every committed entry */
};

enum wt_report_answer wt_report_answer(const struct wt_report_view *v);

/* "exit 137", "signal 9", "liveness failing 3s", "start failed". */
void wt_cause_text(const struct wt_cause *c, char *out, size_t cap);

/* An action's cause: the latest failure, and the one that began the
 * episode when it was another: "exit 3 (first liveness failing 3s)". */
void wt_action_cause_text(const struct wt_action *a, char *out, size_t cap);

/* The recovery event's message (kind "recovery.restarted"): "service web
 * on n2 after exit 137, attempt 2, healthy again in 412ms". */
void wt_recovery_text(const struct wt_recovery *r, char *out, size_t cap);

const char *wt_action_name(enum wt_action_kind k);
const char *wt_verdict_name(enum wt_verdict v);

#endif
