/* The chaos injector: the leader's decision, pure. At each interval tick,
 * inside the allowed window and with the configured probability (from an
 * injected random source), it picks a fault kind among the enabled ones and
 * a target, subject to the safety rules; the shell commits the fault it
 * returns to the ledger (or, in dry-run, only reports it). It also judges an
 * operator's POST /chaos/inject under the same rules (unless forced).
 *
 * Safety rules (each refusal's reason starts with the rule's name):
 *   stopped      the kill switch was used and chaos was not re-enabled
 *   active       a fault is already active in the federation (the ledger
 *                says so, across changes of leader)
 *   rollout      a rollout or rollback is running
 *   unhealthy    a member is dead, suspect or read-only
 *   no spare vote  a fault on a node (isolate, delay, kill_node) would leave
 *                fewer voters than a quorum: it needs a spare vote
 *   excluded     the target (node or service) is excluded
 *   kind         the kind is not enabled (kill_node only when listed)
 *   no target    nothing left to choose from
 * The shell reports a refusal as the event "chaos.refused: REASON".
 *
 * The chaos ledger state (struct chaos_state) is folded from the committed
 * chaos records in ledger order on every node, so a new leader knows the
 * active fault and whether chaos is stopped. */
#ifndef CHIMERA_CHAOS_INJECTOR_H
#define CHIMERA_CHAOS_INJECTOR_H

#include "chaos/fault.h"
#include "chaos/window.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CHAOS_EXCLUDE_MAX 32  /* names in CHIMERA_CHAOS_EXCLUDE */
#define CHAOS_MAX_MEMBERS 16  /* as CONFIG_MAX_MEMBERS */
#define CHAOS_MAX_SERVICES 32 /* services a member runs, as the view gives them */
#define CHAOS_ACTIVE_MAX 8    /* forced faults may overlap; the injector never does */

/* The settings (node/base/config.h holds them as parsed). */
struct chaos_settings {
    bool enabled;
    uint64_t interval_ms;
    double probability; /* 0..1 */
    bool dry_run;
    uint32_t kinds;                                  /* CHAOS_KIND_BIT mask */
    char exclude[CHAOS_EXCLUDE_MAX][CHAOS_NAME_MAX]; /* nodes and services */
    size_t nexclude;
    uint64_t max_duration_ms;
    struct chaos_window window;
};

/* What the ledger says about chaos, folded from its records. */
struct chaos_state {
    bool stopped;                                /* a STOP committed and no ENABLE since */
    struct chaos_fault active[CHAOS_ACTIVE_MAX]; /* FAULTs not yet HEALED */
    /* A kill_service whose service's restart the ledger recorded, or a
     * kill_node whose node is back (chaos_state_members): over, and due
     * for a HEALED record, as at its expiry. */
    bool restarted[CHAOS_ACTIVE_MAX];
    size_t nactive;
};

void chaos_state_init(struct chaos_state *s);
/* Feeds one committed chaos record (ledger order). A STOP heals everything. */
void chaos_state_apply(struct chaos_state *s, const struct chaos_record *r);
/* Feeds a committed recovery (ledger order): a kill_service fault on that
 * node and service, committed before it and started at or before the
 * failure, is over. The kill is instantaneous and the watchtower restarts
 * what it killed; the fault's duration only bounds the wait for that
 * restart (a service that does not come back keeps it active until it
 * expires, as does a node's clock behind the leader's). */
void chaos_state_restarted(struct chaos_state *s, const struct chaos_restart *r);
/* The fault still in force at now (not healed, not expired, not
 * restarted), or NULL. */
const struct chaos_fault *chaos_state_active(const struct chaos_state *s, uint64_t now_ms);
/* The first fault that is over at now, expired or restarted (a service or
 * a node), but has no HEALED record yet (the leader commits one with *reason, "expired" or
 * "restarted"; reason may be NULL), or NULL. */
const struct chaos_fault *chaos_state_expired(const struct chaos_state *s, uint64_t now_ms,
                                              const char **reason);

enum chaos_member_status { CHAOS_MEMBER_ALIVE, CHAOS_MEMBER_SUSPECT, CHAOS_MEMBER_DEAD };

struct chaos_member {
    const char *id;
    enum chaos_member_status status;
    bool read_only;
    bool voter;                  /* counts towards the quorum */
    const char *const *services; /* the services it runs (the committed release) */
    size_t nservices;
    uint64_t boot; /* its boot epoch as last heard; 0: not yet */
};

/* Feeds the members as this node sees them (the leader, at its tick): a
 * kill_node fault is over once its node is back as a member, that is heard
 * from with a boot epoch other than the fault's (a new process: the killed
 * one cannot answer again), alive and not read-only (it answers the
 * leader's heartbeats: it rejoined the consensus). Silence alone cannot
 * tell, a node restarted within the suspicion delay never looks dead; a
 * fault without a boot epoch keeps its duration. Over stays over. */
void chaos_state_members(struct chaos_state *s, const struct chaos_member *m, size_t n);
/* Whether chaos_state_members has anything to decide: a kill_node fault
 * with a boot epoch is in force. Most ticks have none, and need no view. */
bool chaos_state_awaits_node(const struct chaos_state *s);

/* The federation as the leader sees it at a tick. */
struct chaos_view {
    uint64_t now_ms;
    const struct chaos_member *members; /* every member, the leader included */
    size_t nmembers;
    bool rollout_running; /* a rollout or a rollback in progress */
    const struct chaos_state *state;
};

/* Injected randomness: 64 random bits per call (a seeded PRNG in tests). */
struct chaos_rng {
    uint64_t (*next)(void *ctx);
    void *ctx;
};

enum chaos_action {
    CHAOS_ACT_NONE,         /* nothing this time (disabled, stopped, outside the window,
                               not the interval's turn, or the dice said no) */
    CHAOS_ACT_INJECT,       /* commit a FAULT record with decision.fault */
    CHAOS_ACT_WOULD_INJECT, /* dry-run: report "would inject", commit nothing */
    CHAOS_ACT_REFUSED,      /* report "chaos.refused: reason" (and its record) */
};

struct chaos_decision {
    enum chaos_action action;
    struct chaos_fault fault; /* INJECT, WOULD_INJECT; REFUSED when has_fault */
    bool has_fault;
    char reason[CHAOS_REASON_MAX]; /* REFUSED: why; NONE: why not (for debug logs) */
    uint64_t next_tick_ms;         /* when to call chaos_injector_tick again */
};

struct chaos_injector {
    struct chaos_settings settings;
    uint64_t next_tick_ms;
};

/* A leader taking office starts its injector: the first tick is one
 * interval later (a new leader does not fire at once). */
void chaos_injector_init(struct chaos_injector *inj, const struct chaos_settings *s,
                         uint64_t now_ms);

/* The interval tick. The fault's id is left to the shell (unique in the
 * ledger, e.g. "chaos-<index>"); its times are set from view->now_ms and a
 * duration of settings.max_duration_ms. */
void chaos_injector_tick(struct chaos_injector *inj, const struct chaos_view *v,
                         const struct chaos_rng *rng, struct chaos_decision *d);

/* Judges an operator's fault (chaos_request_from_json filled it; forced
 * when "force" was given): the target must be a member (and run the
 * service, for service kinds), the duration at most max_duration_ms (0:
 * max_duration_ms). Unless forced: the kill switch, and every safety rule
 * but the enabled kinds, the window and the probability (an operator's
 * drill runs with the injector off). Fills times from view->now_ms; returns
 * INJECT or REFUSED. */
void chaos_injector_check(const struct chaos_settings *s, const struct chaos_view *v,
                          const struct chaos_fault *request, struct chaos_decision *d);

/* Whether name is excluded by the settings. */
bool chaos_settings_excludes(const struct chaos_settings *s, const char *name);

/* The settings as GET /chaos shows them: {"enabled", "interval_ms",
 * "probability", "dry_run", "faults": [kind, ...], "exclude": [name, ...],
 * "max_duration_ms", "window": window_text}. New reference. */
json_t *chaos_settings_json(const struct chaos_settings *s, const char *window_text);

/* The defaults: disabled, 600 s, 0.15, every kind but kill_node, 60 s, always. */
void chaos_settings_default(struct chaos_settings *s);

#endif
