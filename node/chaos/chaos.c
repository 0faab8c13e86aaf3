/* The chaos layer (chaos.h): the committed chaos records folded and the
 * faults aimed at this node applied and healed. The decisions are the pure
 * cores' (chaos/fault.c: apply or not, when to heal; chaos/injector.c:
 * what the leader injects, chaos_inject.c here drives it). */
#include "node/chaos/chaos.h"

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/entry.h"
#include "ledger/store.h"
#include "node/net/transport.h"
#include "node/base/timer_at.h"

/* ---- the transport's filter ---- */

static long filter(void *ctx, enum transport_dir dir, int peer)
{
    const struct node_chaos *c = ctx;
    if (c->isolated_all)
        return TRANSPORT_DROP;
    if (dir == TRANSPORT_IN)
        return TRANSPORT_PASS; /* one peer's: node_chaos_admits, once the sender is known */
    for (size_t i = 0; i < c->base->peers.n; i++)
        if (c->base->out[i] == peer && c->isolated_from[i])
            return TRANSPORT_DROP;
    return c->delay_ms ? (long)c->delay_ms : TRANSPORT_PASS;
}

bool node_chaos_admits(const struct node_chaos *c, size_t idx)
{
    return idx >= CONFIG_MAX_MEMBERS || !c->isolated_from[idx];
}

/* Recomputes the filter from the faults applied here. */
static void refilter(struct node_chaos *c)
{
    c->isolated_all = false;
    memset(c->isolated_from, 0, sizeof(c->isolated_from));
    c->delay_ms = 0;
    for (size_t i = 0; i < c->local.n; i++) {
        const struct chaos_fault *f = &c->local.a[i].fault;
        if (f->kind == CHAOS_DELAY_MESSAGES && f->delay_ms > c->delay_ms)
            c->delay_ms = f->delay_ms;
        if (f->kind != CHAOS_ISOLATE_NODE)
            continue;
        int p = f->peer[0] ? peers_find(&c->base->peers, f->peer) : -1;
        if (p >= 0 && (size_t)p < CONFIG_MAX_MEMBERS)
            c->isolated_from[p] = true;
        else
            c->isolated_all = true;
    }
}

/* ---- doing and undoing a fault here ---- */

/* Signals the process group of a service running here: 0, or -1 with why. */
static int signal_service(struct node_chaos *c, const char *service, int sig, char *why, size_t cap)
{
    int pid = deploy_run_service_pid(c->deploy, service);
    if (pid <= 0) {
        snprintf(why, cap, "service %s is not running on %s", service, c->local.self);
        return -1;
    }
    if (kill(-pid, sig) != 0) {
        snprintf(why, cap, "cannot signal service %s (process group %d)", service, pid);
        return -1;
    }
    return 0;
}

/* Time for the answers of this loop turn to leave before a kill_node exit. */
#define KILL_NODE_GRACE_MS 50

static void exit_killed(uv_timer_t *t)
{
    (void)t;
    fflush(NULL);
    _exit(CHAOS_KILL_NODE_STATUS); /* as a crash: no clean stop */
}

static void inflict(struct node_chaos *c, const struct chaos_fault *f)
{
    char what[320], why[160];
    chaos_fault_describe(f, what, sizeof(what));
    int rv = 0;
    switch (f->kind) {
    case CHAOS_KILL_SERVICE:
        rv = signal_service(c, f->service, SIGKILL, why, sizeof(why));
        break;
    case CHAOS_PAUSE_SERVICE:
        rv = signal_service(c, f->service, SIGSTOP, why, sizeof(why));
        break;
    case CHAOS_ISOLATE_NODE:
    case CHAOS_DELAY_MESSAGES:
        refilter(c);
        break;
    case CHAOS_KILL_NODE:
        node_event(c->base, "chaos.injected", NULL, "%s (%s): exiting with status %d", what, f->id,
                   CHAOS_KILL_NODE_STATUS);
        /* Not within this fold: a leader killing itself answers the POST
         * /chaos/inject that asked for it only after its chaos fold
         * (raft_on_commit), and the caller must hear that it was injected. */
        static uv_timer_t exit_timer;
        uv_timer_init(c->base->loop, &exit_timer);
        uv_timer_start(&exit_timer, exit_killed, KILL_NODE_GRACE_MS, 0);
        return;
    case CHAOS_KIND_COUNT:
        break;
    }
    if (rv != 0)
        node_event(c->base, "chaos.failed", NULL, "could not %s (%s): %s", what, f->id, why);
    else
        node_event(c->base, "chaos.injected", NULL, "%s (%s)", what, f->id);
}

static void undo(struct node_chaos *c, const struct chaos_fault *f, const char *reason)
{
    char what[320], why[160];
    chaos_fault_describe(f, what, sizeof(what));
    if (f->kind == CHAOS_PAUSE_SERVICE &&
        signal_service(c, f->service, SIGCONT, why, sizeof(why)) != 0)
        node_event(c->base, "chaos.failed", NULL, "could not resume after %s (%s): %s", what, f->id,
                   why);
    refilter(c);
    node_event(c->base, "chaos.healed", NULL, "%s (%s): %s", what, f->id, reason);
}

static void arm_heal(struct node_chaos *c);

static void heal_list(struct node_chaos *c, const struct chaos_fault *f, size_t n,
                      const char *reason)
{
    refilter(c); /* already off the local list: undo sees the filter without them */
    for (size_t i = 0; i < n; i++)
        undo(c, &f[i], reason);
    arm_heal(c);
}

static void on_heal_timer(uv_timer_t *t)
{
    struct node_chaos *c = t->data;
    struct chaos_fault due[CHAOS_LOCAL_MAX];
    size_t n = chaos_local_due(&c->local, (uint64_t)node_wall_ms(), due, CHAOS_LOCAL_MAX);
    heal_list(c, due, n, "expired");
}

/* Heals at the next heal time, on the loop's clock (the wall clock may
 * step: checked again at each firing). */
static void arm_heal(struct node_chaos *c)
{
    if (!c->started || c->base->stopping)
        return;
    uint64_t at = chaos_local_next_heal(&c->local);
    if (at == UINT64_MAX) {
        uv_timer_stop(&c->heal_timer);
        return;
    }
    node_timer_at(&c->heal_timer, on_heal_timer, at, (uint64_t)node_wall_ms());
}

size_t node_chaos_heal_local(struct node_chaos *c, const char *why)
{
    struct chaos_fault all[CHAOS_LOCAL_MAX];
    size_t n = chaos_local_heal_all(&c->local, all, CHAOS_LOCAL_MAX);
    heal_list(c, all, n, why);
    return n;
}

/* ---- committed records ---- */

static void remember(struct node_chaos *c, uint64_t index, uint64_t at_ms,
                     const struct chaos_record *r)
{
    size_t slot = (c->hist_head + c->nhist) % CHAOS_HISTORY_MAX;
    if (c->nhist == CHAOS_HISTORY_MAX)
        c->hist_head = (c->hist_head + 1) % CHAOS_HISTORY_MAX;
    else
        c->nhist++;
    c->history[slot] = (struct node_chaos_seen){.index = index, .at_ms = at_ms, .rec = *r};
}

/* The record is the caller's (some 8 KiB on the stack): no state shared
 * between nodes of one process, or with a fold under way. */
static void count_drill(struct node_chaos *c, const struct ledger_entry *e)
{
    struct drill_record d;
    if (drill_record_decode(e->payload, e->payload_len, &d, NULL, 0) == 0 &&
        (size_t)d.verdict < DRILL_VERDICTS)
        c->drills[d.verdict]++;
}

static size_t kind_row(enum chaos_kind k)
{
    return (unsigned)k < CHAOS_KIND_COUNT ? (size_t)k : CHAOS_KIND_COUNT;
}

/* Counts record r before the state folds it (a HEALED record names its
 * fault by id only: its kind is the active fault's). */
static void count_faults(struct node_chaos *c, const struct chaos_record *r)
{
    const struct chaos_state *s = &c->state;
    switch (r->kind) {
    case CHAOS_REC_FAULT:
        c->faults[kind_row(r->fault.kind)][CHAOS_INJECTED]++;
        break;
    case CHAOS_REC_REFUSED:
        c->faults[r->has_fault ? kind_row(r->fault.kind) : CHAOS_KIND_COUNT][CHAOS_REFUSED]++;
        break;
    case CHAOS_REC_HEALED:
        for (size_t i = 0; i < s->nactive; i++)
            if (strcmp(s->active[i].id, r->fault.id) == 0)
                c->faults[kind_row(s->active[i].kind)][CHAOS_HEALED]++;
        break;
    case CHAOS_REC_STOP:
        for (size_t i = 0; i < s->nactive; i++)
            c->faults[kind_row(s->active[i].kind)][CHAOS_HEALED]++;
        break;
    default:
        break;
    }
}

static void fold(struct node_chaos *c, uint64_t index, const struct ledger_entry *e)
{
    struct chaos_record r;
    char err[256];
    if (chaos_record_decode(e->payload, e->payload_len, &r, err, sizeof(err)) != 0) {
        if (e->timestamp_ms >= c->history_before_ms)
            node_event(c->base, "chaos.record_ignored", NULL, "ledger entry %" PRIu64 ": %s", index,
                       err);
        return;
    }
    if (r.kind == CHAOS_REC_OTHER) {
        count_drill(c, e); /* a drill's result */
        return;
    }
    count_faults(c, &r);
    chaos_state_apply(&c->state, &r);
    remember(c, index, e->timestamp_ms, &r);
    struct chaos_fault healed[CHAOS_LOCAL_MAX];
    switch (r.kind) {
    case CHAOS_REC_FAULT:
        if (chaos_local_apply(&c->local, &r.fault, (uint64_t)node_wall_ms()) == CHAOS_APPLY)
            inflict(c, &r.fault);
        arm_heal(c);
        break;
    case CHAOS_REC_HEALED:
        if (chaos_local_heal_id(&c->local, r.fault.id, healed))
            heal_list(c, healed, 1, r.reason[0] ? r.reason : "healed");
        break;
    case CHAOS_REC_STOP:
        node_chaos_heal_local(c, "stopped");
        break;
    default:
        break;
    }
}

static int fold_entry(uint64_t index, uint64_t term, const uint8_t *bytes, size_t len, void *arg)
{
    (void)term;
    struct node_chaos *c = arg;
    struct ledger_entry e;
    uint32_t type;
    c->applied = index;
    if (ledger_entry_peek_type(bytes, len, &type) != LEDGER_OK ||
        (type != LEDGER_ENTRY_CHAOS && type != LEDGER_ENTRY_RECOVERY) ||
        ledger_entry_decode(bytes, len, &e, NULL) != LEDGER_OK)
        return 0;
    struct chaos_restart r;
    if (type == LEDGER_ENTRY_CHAOS)
        fold(c, index, &e);
    else if (chaos_restart_decode(e.payload, e.payload_len, &r) == 0)
        chaos_state_restarted(&c->state, &r); /* a killed service runs again: its kill is over */
    return 0;
}

void node_chaos_committed(struct node_chaos *c, uint64_t commit)
{
    if (!c->started)
        return;
    node_ledger_feed(c->raft, &c->applied, commit, fold_entry, c);
    if (c->pending_index && c->applied >= c->pending_index)
        c->pending_index = 0;
}

/* ---- appending (leader) ---- */

void node_chaos_fault_id(const struct node_chaos *c, char *out, size_t cap)
{
    snprintf(out, cap, "chaos-%" PRIu64, ledger_last_index(c->raft->ledger) + 1);
}

/* The boot epoch of member i as this node last heard it (its own: known). */
static uint64_t member_boot(const struct node_chaos *c, size_t i)
{
    return i == c->base->peers.self ? c->base->boot : c->base->peers.m[i].boot;
}

int node_chaos_append(struct node_chaos *c, const struct chaos_record *r, uint64_t *index,
                      char *err, size_t errlen)
{
    struct chaos_record rec = *r;
    int target = peers_find(&c->base->peers, rec.fault.node);
    /* Which process a kill_node kills: another epoch heard later is its
     * node back (chaos_state_members), whichever member leads by then. */
    if (rec.kind == CHAOS_REC_FAULT && rec.fault.kind == CHAOS_KILL_NODE && target >= 0)
        rec.fault.boot = member_boot(c, (size_t)target);
    struct node_pack p;
    node_pack_init(&p);
    chaos_record_pack(&rec, &p.pk);
    const uint8_t *payload = (const uint8_t *)p.sb.data;
    size_t len = p.sb.size;
    uint64_t first;
    int rv = node_repl_append(c->raft, LEDGER_ENTRY_CHAOS, &payload, &len, 1, &first, index, err,
                              errlen);
    node_pack_free(&p);
    if (rv == 0)
        c->pending_index = *index;
    return rv;
}

/* ---- the view and GET /chaos ---- */

/* Whether member i is read-only as far as this node can tell. Its own mode
 * it knows. A follower's it learns from the answers the consensus core
 * gets as leader: a follower in a leader's lease answers its heartbeats,
 * so one that has not answered for an election timeout is out of that
 * lease (cut off, or its answers do not come through): read-only, or about
 * to be. Liveness cannot tell: a member cut off stays alive to it for
 * suspect_after_ms, which may be longer than the lease, and the member's
 * own word cannot reach the leader while it is cut off. Only the leader
 * asks (the injector runs there; POST /chaos/inject goes there). */
static bool member_read_only(const struct node_chaos *c, size_t i, uint64_t now)
{
    const struct cons *k = &c->raft->cons;
    if (i == c->base->peers.self)
        return cons_read_only(k, now);
    if (k->role != CONS_LEADER || i >= (size_t)k->cfg.n)
        return false;
    return now >= k->last_ack[i] && now - k->last_ack[i] >= k->cfg.election_timeout_ms;
}

void node_chaos_view(struct node_chaos *c, struct chaos_member *members, struct chaos_view *v)
{
    static const char *svcs[CHAOS_MAX_SERVICES];
    size_t nsvc = 0;
    const struct deploy_run *run = &c->deploy->run;
    for (size_t i = 0; run->have_manifest && i < run->m.nservices && nsvc < CHAOS_MAX_SERVICES; i++)
        svcs[nsvc++] = run->m.services[i].name;
    uint64_t now = uv_now(c->base->loop);
    for (size_t i = 0; i < c->base->peers.n; i++) {
        const struct peer *p = &c->base->peers.m[i];
        bool self = i == c->base->peers.self;
        members[i] =
            (struct chaos_member){.id = p->id,
                                  .status = self || p->status == PEER_ALIVE ? CHAOS_MEMBER_ALIVE
                                            : p->status == PEER_SUSPECT     ? CHAOS_MEMBER_SUSPECT
                                                                            : CHAOS_MEMBER_DEAD,
                                  .read_only = member_read_only(c, i, now),
                                  .voter = i < (size_t)c->raft->cons.cfg.n,
                                  .boot = member_boot(c, i),
                                  .services = svcs,
                                  .nservices = nsvc};
    }
    const struct pl_state *pl = &c->deploy->pl;
    *v = (struct chaos_view){.now_ms = (uint64_t)node_wall_ms(),
                             .members = members,
                             .nmembers = c->base->peers.n,
                             /* a deployment record appended and not yet committed
                                starts (or moves) a rollout: pl does not show it yet */
                             .rollout_running = pl->active >= 0 || pl->revert_pending >= 0 ||
                                                c->deploy->pending_index != 0,
                             .state = &c->state};
}

json_t *node_chaos_json(const struct node_chaos *c)
{
    uint64_t now = (uint64_t)node_wall_ms();
    const struct chaos_fault *active = chaos_state_active(&c->state, now);
    json_t *applied = json_array(), *hist = json_array();
    for (size_t i = 0; i < c->local.n; i++)
        json_array_append_new(applied, chaos_fault_json(&c->local.a[i].fault));
    for (size_t i = 0; i < c->nhist; i++) {
        const struct node_chaos_seen *s = &c->history[(c->hist_head + i) % CHAOS_HISTORY_MAX];
        json_t *r = chaos_record_json(&s->rec);
        json_object_set_new(r, "index", json_integer((json_int_t)s->index));
        json_object_set_new(r, "at_ms", json_integer((json_int_t)s->at_ms));
        json_array_append_new(hist, r);
    }
    return json_pack("{s:o, s:b, s:o, s:o, s:o}", "settings",
                     chaos_settings_json(&c->base->cfg.chaos, c->base->cfg.chaos_window), "stopped",
                     c->state.stopped, "active", active ? chaos_fault_json(active) : json_null(),
                     "applied_here", applied, "history", hist);
}

/* ---- lifecycle ---- */

int node_chaos_start(struct node_chaos *c)
{
    c->history_before_ms = (uint64_t)node_wall_ms();
    chaos_state_init(&c->state);
    chaos_local_init(&c->local, c->base->cfg.id, c->history_before_ms);
    uv_timer_init(c->base->loop, &c->heal_timer);
    uv_timer_init(c->base->loop, &c->inject_timer);
    c->heal_timer.data = c->inject_timer.data = c;
    c->started = true;
    transport_set_filter(c->base->transport, filter, c);
    node_chaos_committed(c, c->raft->cons.commit);
    return 0;
}

void node_chaos_stop(struct node_chaos *c)
{
    if (!c->started)
        return;
    struct chaos_fault all[CHAOS_LOCAL_MAX];
    size_t n = chaos_local_heal_all(&c->local, all, CHAOS_LOCAL_MAX);
    for (size_t i = 0; i < n; i++)
        undo(c, &all[i], "node stopping"); /* a paused service must not stay stopped */
    c->started = false;
    uv_close((uv_handle_t *)&c->heal_timer, NULL);
    uv_close((uv_handle_t *)&c->inject_timer, NULL);
}
