/* The leader's injector (chaos.h): chaos_injector_tick on its own timer,
 * what it decides committed; the healed records of expired faults; and the
 * judgement of an operator's fault (POST /chaos/inject). */
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "node/chaos/chaos.h"
#include "node/base/timer_at.h"

static uint64_t random64(void *ctx)
{
    (void)ctx;
    uint64_t v;
    randombytes_buf(&v, sizeof(v));
    return v;
}

static bool leads(const struct node_chaos *c)
{
    return c->started && !c->base->stopping && c->raft->cons.role == CONS_LEADER;
}

/* Commits r, or reports why it could not be. */
static bool commit_record(struct node_chaos *c, const struct chaos_record *r)
{
    char err[256];
    uint64_t index;
    if (node_chaos_append(c, r, &index, err, sizeof(err)) == 0)
        return true;
    node_event(c->base, "chaos.failed", NULL, "cannot commit a chaos %s record: %s",
               chaos_record_name(r->kind), err);
    return false;
}

/* A refusal is an event every time, and a ledger entry when its reason
 * changed since the last one: at probability 1 an active fault would
 * otherwise add an entry at every interval. */
static void refused(struct node_chaos *c, const struct chaos_decision *d)
{
    node_event(c->base, "chaos.refused", NULL, "%s", d->reason);
    static char last[CHAOS_REASON_MAX];
    if (strcmp(last, d->reason) == 0)
        return;
    snprintf(last, sizeof(last), "%s", d->reason);
    struct chaos_record r = {.kind = CHAOS_REC_REFUSED, .has_fault = d->has_fault};
    if (d->has_fault)
        r.fault = d->fault;
    r.fault.origin = CHAOS_ORIGIN_INJECTOR;
    snprintf(r.reason, sizeof(r.reason), "%s", d->reason);
    commit_record(c, &r);
}

static void on_inject_timer(uv_timer_t *t);

static void arm_inject(struct node_chaos *c, uint64_t at_ms)
{
    node_timer_at(&c->inject_timer, on_inject_timer, at_ms, (uint64_t)node_wall_ms());
}

static void on_inject_timer(uv_timer_t *t)
{
    struct node_chaos *c = t->data;
    if (!leads(c) || !c->base->cfg.chaos.enabled)
        return;
    /* The last record is not folded yet, or a fault expired and its healed
     * record is not committed yet (node_chaos_tick commits it within a
     * heartbeat): the core counts a fault as over at its expiry, but it is
     * over for the federation once the ledger says it healed. Look again soon. */
    if (c->pending_index || chaos_state_expired(&c->state, (uint64_t)node_wall_ms(), NULL)) {
        arm_inject(c, (uint64_t)node_wall_ms() + c->base->cfg.heartbeat_ms);
        return;
    }
    struct chaos_member members[CONFIG_MAX_MEMBERS];
    struct chaos_view v;
    node_chaos_view(c, members, &v);
    struct chaos_rng rng = {.next = random64};
    struct chaos_decision d;
    chaos_injector_tick(&c->inj, &v, &rng, &d);
    char what[320];
    switch (d.action) {
    case CHAOS_ACT_INJECT:
        node_chaos_fault_id(c, d.fault.id, sizeof(d.fault.id));
        commit_record(c, &(struct chaos_record){.kind = CHAOS_REC_FAULT, .fault = d.fault});
        break;
    case CHAOS_ACT_WOULD_INJECT:
        chaos_fault_describe(&d.fault, what, sizeof(what));
        node_event(c->base, "chaos.would_inject", NULL, "dry run: would %s", what);
        break;
    case CHAOS_ACT_REFUSED:
        refused(c, &d);
        break;
    case CHAOS_ACT_NONE:
        break;
    }
    arm_inject(c, d.next_tick_ms);
}

void node_chaos_leadership(struct node_chaos *c, bool gained)
{
    if (!c->started)
        return;
    c->pending_index = 0;
    if (!gained || !c->base->cfg.chaos.enabled) {
        uv_timer_stop(&c->inject_timer);
        return;
    }
    uint64_t now = (uint64_t)node_wall_ms();
    chaos_injector_init(&c->inj, &c->base->cfg.chaos, now);
    arm_inject(c, c->inj.next_tick_ms);
}

void node_chaos_tick(struct node_chaos *c)
{
    if (!leads(c) || c->pending_index)
        return;
    /* A killed node back: its kill is over. The members' view is built
     * only while such a kill is in force, not at every heartbeat. */
    if (chaos_state_awaits_node(&c->state)) {
        struct chaos_member members[CONFIG_MAX_MEMBERS];
        struct chaos_view v;
        node_chaos_view(c, members, &v);
        chaos_state_members(&c->state, members, v.nmembers);
    }
    const char *why = NULL;
    const struct chaos_fault *f = chaos_state_expired(&c->state, (uint64_t)node_wall_ms(), &why);
    if (!f)
        return;
    struct chaos_record r = {.kind = CHAOS_REC_HEALED, .fault = *f};
    snprintf(r.reason, sizeof(r.reason), "%s", why);
    commit_record(c, &r);
}

void node_chaos_check(struct node_chaos *c, const struct chaos_fault *want,
                      struct chaos_decision *d)
{
    /* Killing a node process is opted into by listing it (README "Chaos"),
     * for an operator's fault as for the injector's, forced or not: a
     * supervisor must be there to start the node again. */
    if (want->kind == CHAOS_KILL_NODE &&
        !(c->base->cfg.chaos.kinds & CHAOS_KIND_BIT(CHAOS_KILL_NODE))) {
        *d =
            (struct chaos_decision){.action = CHAOS_ACT_REFUSED, .has_fault = true, .fault = *want};
        snprintf(d->reason, sizeof(d->reason), "%s",
                 "kind: kill_node runs only when listed explicitly in the leader's "
                 "--chaos-faults (CHIMERA_CHAOS_FAULTS), on a federation whose nodes a "
                 "supervisor restarts");
        return;
    }
    struct chaos_member members[CONFIG_MAX_MEMBERS];
    struct chaos_view v;
    node_chaos_view(c, members, &v);
    chaos_injector_check(&c->base->cfg.chaos, &v, want, d);
}
