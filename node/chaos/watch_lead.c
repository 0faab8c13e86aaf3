/* The watchtower's conversation with the leader (issue 12): a crash loop is
 * reported to the leader, which decides (wt_leader_decide) between a
 * coordinated rollback of the release (through the rollout core, as an
 * automatic revert) and marking the service failed on that node; and every
 * recovery is recorded in the ledger by the leader on the node's behalf,
 * as read-only episodes are (witness/node_episodes.c), with their core
 * (witness/episodes.h): the node reports, the leader appends a
 * LEDGER_ENTRY_RECOVERY entry and acknowledges with its index, and the
 * node forgets it once that entry is committed in its own ledger;
 * unacknowledged, or acknowledged by a leader whose entry did not last, it
 * reports again. A recovery's identity is (node, failed_at_ms): the node
 * hands out strictly increasing failed_at_ms, and a leader looks for the
 * identity in its ledger before it appends, so a report repeated after a
 * lost acknowledgement or a change of leader is recorded once.
 *
 * A crash loop reported while no leader is known (or whose verdict never
 * comes) is kept and reported again (watch.h, struct watch_loop_report)
 * until the node knows the outcome (wt_loop_verdict_is_outcome): a
 * mark_failed verdict, or its release changed; a revert verdict is not
 * enough, since its leader may lose its place before the rollback
 * commits. A leader answers only once its own term's entry is committed
 * and never a report about a release the ledger no longer wants on that
 * node (wt_report_answer), so a repeated report does not revert twice.
 *
 * Messages (ENV_LEDGER; shapes checked by node/msg.c):
 *   MSG_CRASH_LOOP    [8, service, attempts, cause_kind, cause_code, deployment]
 *   MSG_CRASH_VERDICT [9, service, verdict (enum wt_verdict)]
 *   MSG_RECOVERY      [10, service, cause_kind, cause_code, attempts, failed_at_ms, ttr_ms]
 *   MSG_RECOVERY_ACK  [11, failed_at_ms, index]
 * Entry payload (LEDGER_ENTRY_RECOVERY, a msgpack map):
 *   {"node", "service", "cause" (text, "signal 9"), "attempts", "failed_at_ms"
 *    (wall ms), "ttr_ms", "leader"} */
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "ledger/entry.h"
#include "node/chaos/watch.h"

#define RESEND_MS 2000u /* a recovery report without an answer */

static void pack_str(msgpack_packer *pk, const char *s)
{
    msgpack_pack_str_with_body(pk, s, strlen(s));
}

static void str_of(const msgpack_object *o, char *out, size_t cap)
{
    snprintf(out, cap, "%.*s", (int)o->via.str.size, o->via.str.ptr);
}

static int64_t int_of(const msgpack_object *o)
{
    return o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER ? o->via.i64 : (int64_t)o->via.u64;
}

static bool is_leader(const struct watch *w)
{
    return w->raft->cons.role == CONS_LEADER;
}

/* ---- the leader's verdict on a crash loop ----------------------------- */

/* What the ledger says about the release node runs (wt_leader_decide). */
static struct wt_release_age release_age(const struct pl_state *pl, const struct pl_deployment *d)
{
    struct wt_release_age a = {.stage = WT_REL_STABLE};
    if (!d)
        return a;
    if (d->rollback || d->stage == PL_STAGE_ROLLING_BACK || d->stage == PL_STAGE_REVERTED)
        a.stage = WT_REL_ROLLING_BACK;
    else if (d->stage == PL_STAGE_DEPLOYING)
        a.stage = WT_REL_ROLLING_OUT;
    else if (d->stage == PL_STAGE_FAILED)
        a.stage = WT_REL_FAILED;
    a.stable_since_ms = d->finished_ms;
    a.has_previous = a.stage == WT_REL_ROLLING_OUT ? pl->stable >= 0 : pl->prev_stable[0] != 0;
    return a;
}

/* Says why node's crash loop of service could not be reverted; false. */
static bool refused(struct watch *w, const char *node, const char *service, const char *err)
{
    node_event(w->base, "recovery.revert_refused", node, "crash loop of %s on %s: %s", service,
               node, err);
    return false;
}

/* Appends r, the revert of node's crash loop of service; false (saying
 * why) when the ledger refuses it. */
static bool append_revert(struct watch *w, const char *node, const char *service,
                          const struct pl_record *r)
{
    char err[512];
    uint64_t index;
    if (node_deploy_append(w->dp, r, NULL, 0, NULL, &index, err, sizeof(err)) != 0)
        return refused(w, node, service, err);
    return true;
}

/* A release still rolling out fails for the crash loop, and its
 * auto_revert reverts it (rollout.c): the restarts kept it from reporting
 * a crash, so until the healthy deadline it would only have looked
 * unhealthy (or healthy, between restarts). Returns false when the
 * rollout core refuses. */
static bool fail_rollout(struct watch *w, const char *node, const char *service,
                         const struct pl_deployment *d, const char *reason)
{
    struct pl_record r = {0};
    char err[512];
    if (pl_fail(&w->dp->pl, d->id, reason, (uint64_t)node_wall_ms(), &r, err, sizeof(err)) != 0)
        return refused(w, node, service, err);
    return append_revert(w, node, service, &r);
}

/* A revert: of a release still rolling out, its failure (fail_rollout); of
 * a stable one, a rollback to the previous stable one, recorded as
 * automatic. Returns false when the rollout core refuses. */
static bool revert(struct watch *w, const char *node, const char *service, const char *why)
{
    struct node_deploy *dp = w->dp;
    const struct pl_deployment *d = pl_find(&dp->pl, pl_desired(&dp->pl, node));
    /* Another member's crash loop asked first (or the rollout decided): a
     * failure or a rollback is being committed, or a rollback is under way. */
    if ((dp->pl.active >= 0 && dp->pl.deps[dp->pl.active].rollback) || dp->pending_index)
        return true;
    char reason[PL_REASON_MAX];
    snprintf(reason, sizeof(reason), "crash loop: service %s on %s (%s)", service, node, why);
    if (d && d->stage == PL_STAGE_DEPLOYING)
        return fail_rollout(w, node, service, d, reason);
    char id[PL_ID_MAX], err[512];
    uint8_t r8[4];
    randombytes_buf(r8, sizeof(r8));
    snprintf(id, sizeof(id), "r-%02x%02x%02x%02x", r8[0], r8[1], r8[2], r8[3]);
    struct pl_record r = {0};
    if (pl_rollback(&dp->pl, id, NULL, (uint64_t)node_wall_ms(), &r, err, sizeof(err)) != 0)
        return refused(w, node, service, err);
    r.automatic = true;
    if (d)
        snprintf(r.from_deployment, sizeof(r.from_deployment), "%s", d->id);
    snprintf(r.reason, sizeof(r.reason), "%s", reason);
    return append_revert(w, node, service, &r);
}

static void send_verdict(struct watch *w, size_t to, const char *service, enum wt_verdict v)
{
    if (to == w->base->peers.self) {
        watch_verdict(w, service, v);
        return;
    }
    struct node_pack p;
    node_pack_init(&p);
    msgpack_pack_array(&p.pk, 3);
    msgpack_pack_uint32(&p.pk, MSG_CRASH_VERDICT);
    pack_str(&p.pk, service);
    msgpack_pack_uint32(&p.pk, (uint32_t)v);
    node_pack_send(w->base, to, ENV_LEDGER, &p);
}

/* Whether this leader may answer node's report about deployment now
 * (wt_report_answer). */
static enum wt_report_answer answer_of(struct watch *w, const char *node, const char *deployment)
{
    const struct cons *cons = &w->raft->cons;
    uint64_t term = 0;
    struct wt_report_view v = {
        .about_desired = strcmp(deployment, pl_desired(&w->dp->pl, node)) == 0,
        .own_term_committed = w->raft->ledger &&
                              ledger_term_at(w->raft->ledger, cons->commit, &term) == LEDGER_OK &&
                              term == cons->term,
        .state_applied = w->dp->applied >= cons->commit,
    };
    return wt_report_answer(&v);
}

static void lead_crash_loop(struct watch *w, size_t from, const char *service, uint32_t attempts,
                            const struct wt_cause *cause, const char *deployment)
{
    if (!is_leader(w) || from >= w->base->peers.n)
        return;
    const char *node = w->base->peers.m[from].id;
    if (answer_of(w, node, deployment) != WT_ANSWER_DECIDE)
        return; /* the node reports again until it sees the outcome */
    struct pl_state *pl = &w->dp->pl;
    struct wt_release_age age = release_age(pl, pl_find(pl, pl_desired(pl, node)));
    enum wt_verdict v =
        wt_leader_decide(&age, w->base->cfg.recovery_revert_window_ms, (uint64_t)node_wall_ms());
    char why[128];
    wt_cause_text(cause, why, sizeof(why));
    if (v == WT_VERDICT_REVERT && !revert(w, node, service, why))
        v = WT_VERDICT_MARK_FAILED;
    node_event(w->base, "recovery.verdict", node,
               "crash loop of service %s on %s (%" PRIu32 " restarts, last %s): %s", service, node,
               attempts, why, wt_verdict_name(v));
    send_verdict(w, from, service, v);
}

static void send_loop(struct watch *w, const struct watch_loop_report *r)
{
    int32_t leader = w->raft->cons.leader;
    if (leader == w->raft->cons.cfg.self) {
        lead_crash_loop(w, w->base->peers.self, r->service, r->attempts, &r->cause, r->deployment);
        return;
    }
    struct node_pack p;
    node_pack_init(&p);
    msgpack_pack_array(&p.pk, 6);
    msgpack_pack_uint32(&p.pk, MSG_CRASH_LOOP);
    pack_str(&p.pk, r->service);
    msgpack_pack_uint32(&p.pk, r->attempts);
    msgpack_pack_uint32(&p.pk, (uint32_t)r->cause.kind);
    msgpack_pack_int64(&p.pk, r->cause.code);
    pack_str(&p.pk, r->deployment);
    node_pack_send(w->base, (size_t)leader, ENV_LEDGER, &p);
}

static struct watch_loop_report *loop_of(struct watch *w, const char *service)
{
    struct watch_loop_report *free_slot = NULL;
    for (size_t i = 0; i < WT_MAX_SERVICES; i++) {
        struct watch_loop_report *r = &w->loops[i];
        if (r->active && strcmp(r->service, service) == 0)
            return r;
        if (!r->active && !free_slot)
            free_slot = r;
    }
    return free_slot;
}

/* Sends the reports that are due; a report waits while no leader is known
 * (without growing its wait), so it goes out as soon as one is. */
static void loops_tick(struct watch *w)
{
    int32_t leader = w->raft->cons.leader;
    uint64_t now = uv_now(w->base->loop);
    for (size_t i = 0; i < WT_MAX_SERVICES; i++) {
        struct watch_loop_report *r = &w->loops[i];
        if (!r->active)
            continue;
        if (strcmp(r->deployment, pl_desired(&w->dp->pl, w->base->cfg.id)) != 0) {
            r->active = false; /* the release it was about is gone */
            continue;
        }
        if (leader == CONS_NONE || now < r->next_at)
            continue;
        r->sends++;
        r->next_at = now + wt_loop_resend_ms(r->sends);
        if (r->sends > 1)
            node_event(w->base, "recovery.crash_loop_resent", NULL,
                       "service %s on %s: crash loop reported again (report %" PRIu32 "), %s",
                       r->service, w->base->cfg.id, r->sends,
                       r->reverting ? "the revert is not committed yet" : "no verdict yet");
        send_loop(w, r); /* may answer at once (this node leads) */
    }
}

void watch_lead_report_loop(struct watch *w, const struct wt_action *a)
{
    struct watch_loop_report *r = loop_of(w, a->service);
    if (!r)
        return;
    *r = (struct watch_loop_report){.active = true, .attempts = a->attempts, .cause = a->cause};
    snprintf(r->service, sizeof(r->service), "%s", a->service);
    snprintf(r->deployment, sizeof(r->deployment), "%s", pl_desired(&w->dp->pl, w->base->cfg.id));
    if (w->raft->cons.leader == CONS_NONE)
        node_event(w->base, "recovery.crash_loop_held", NULL,
                   "service %s on %s: no leader to report the crash loop to; reporting it once "
                   "there is one",
                   a->service, w->base->cfg.id);
    loops_tick(w);
}

void watch_lead_verdict_arrived(struct watch *w, const char *service, enum wt_verdict v)
{
    struct watch_loop_report *r = loop_of(w, service);
    if (!r || !r->active)
        return;
    if (wt_loop_verdict_is_outcome(v))
        r->active = false;
    else /* kept until the node's ledger wants another release of it */
        r->reverting = true;
}

void watch_on_crash_loop(struct watch *w, size_t from, const msgpack_object *f)
{
    char service[WT_NAME_MAX];
    str_of(&f[1], service, sizeof(service));
    char deployment[PL_ID_MAX];
    str_of(&f[5], deployment, sizeof(deployment));
    struct wt_cause c = {.kind = (enum wt_cause_kind)f[3].via.u64, .code = int_of(&f[4])};
    lead_crash_loop(w, from, service, (uint32_t)f[2].via.u64, &c, deployment);
}

void watch_on_crash_verdict(struct watch *w, size_t from, const msgpack_object *f)
{
    if ((int32_t)from != w->raft->cons.leader)
        return; /* only the leader's word counts */
    char service[WT_NAME_MAX];
    str_of(&f[1], service, sizeof(service));
    watch_verdict(w, service, (enum wt_verdict)f[2].via.u64);
}

/* ---- recoveries in the ledger ----------------------------------------- */

/* Leader: appends node's recovery identified by failed_at_ms, unless the
 * ledger holds it already. Returns its index, or 0. */
static uint64_t lead_record(struct watch *w, const char *node, const struct wt_recovery *rec,
                            uint64_t failed_at_ms)
{
    uint64_t have =
        node_ledger_recorded(w->raft, LEDGER_ENTRY_RECOVERY, node, "failed_at_ms", failed_at_ms);
    if (have != 0)
        return have;
    char cause[128];
    wt_cause_text(&rec->cause, cause, sizeof(cause));
    struct node_pack p;
    node_pack_init(&p);
    msgpack_pack_map(&p.pk, 7);
    node_mp_kv_str(&p.pk, "node", node, strlen(node));
    node_mp_kv_str(&p.pk, "service", rec->service, strlen(rec->service));
    node_mp_kv_str(&p.pk, "cause", cause, strlen(cause));
    node_mp_kv_u64(&p.pk, "attempts", rec->attempts);
    node_mp_kv_u64(&p.pk, "failed_at_ms", failed_at_ms);
    node_mp_kv_u64(&p.pk, "ttr_ms", rec->ttr_ms);
    node_mp_kv_str(&p.pk, "leader", w->base->cfg.id, strlen(w->base->cfg.id));
    const uint8_t *payload = (const uint8_t *)p.sb.data;
    size_t len = p.sb.size;
    uint64_t first = 0, last;
    char err[256];
    if (node_repl_append(w->raft, LEDGER_ENTRY_RECOVERY, &payload, &len, 1, &first, &last, err,
                         sizeof(err)) != 0)
        first = 0;
    node_pack_free(&p);
    return first;
}

void watch_lead_queue(struct watch *w, const struct wt_recovery *r)
{
    struct watch_owed *o = &w->owed;
    if (o->eps.n == EPISODES_MAX) { /* the oldest goes: the event has it */
        memmove(&o->eps.list[0], &o->eps.list[1], sizeof(o->eps.list[0]) * (EPISODES_MAX - 1));
        memmove(&o->rec[0], &o->rec[1], sizeof(o->rec[0]) * (EPISODES_MAX - 1));
        memmove(&o->sent_at[0], &o->sent_at[1], sizeof(o->sent_at[0]) * (EPISODES_MAX - 1));
        o->eps.n--;
        node_event(w->base, "recovery.record_dropped", NULL,
                   "too many recoveries waiting to be recorded; the oldest was dropped");
    }
    uint64_t at = (uint64_t)node_wall_of_loop(w->base->loop, r->failed_at_ms);
    if (at <= o->last_failed_at)
        at = o->last_failed_at + 1; /* two failures in one ms: still two identities */
    o->last_failed_at = at;
    size_t k = o->eps.n++;
    o->eps.list[k] = (struct episode){.enter_ms = at};
    o->rec[k] = *r;
    o->sent_at[k] = 0;
}

static void report(struct watch *w, int32_t leader, size_t k)
{
    const struct watch_owed *o = &w->owed;
    struct node_pack m;
    node_pack_init(&m);
    msgpack_pack_array(&m.pk, 7);
    msgpack_pack_uint32(&m.pk, MSG_RECOVERY);
    pack_str(&m.pk, o->rec[k].service);
    msgpack_pack_uint32(&m.pk, (uint32_t)o->rec[k].cause.kind);
    msgpack_pack_int64(&m.pk, o->rec[k].cause.code);
    msgpack_pack_uint32(&m.pk, o->rec[k].attempts);
    msgpack_pack_uint64(&m.pk, o->eps.list[k].enter_ms);
    msgpack_pack_uint64(&m.pk, o->rec[k].ttr_ms);
    node_pack_send(w->base, (size_t)leader, ENV_LEDGER, &m);
}

/* Whether recovery k's entry is committed in this node's ledger. */
static bool committed_here(struct watch *w, size_t k)
{
    const struct episode *e = &w->owed.eps.list[k];
    return episodes_may_be_recorded(e, w->raft->cons.commit, ledger_last_index(w->raft->ledger)) &&
           node_ledger_holds(w->raft, e->index, LEDGER_ENTRY_RECOVERY, w->base->cfg.id,
                             "failed_at_ms", e->enter_ms);
}

/* Reports, records and forgets recoveries as the episodes' core says
 * (every watch tick). */
static void owed_tick(struct watch *w)
{
    struct watch_owed *o = &w->owed;
    int32_t leader = w->raft->cons.leader;
    if (o->eps.n == 0 || leader == CONS_NONE || !w->raft->ledger)
        return;
    uint64_t now = uv_now(w->base->loop);
    enum episodes_do what[EPISODES_MAX];
    for (size_t k = 0; k < o->eps.n; k++) {
        struct episode *e = &o->eps.list[k];
        what[k] = episodes_step(e, committed_here(w, k), w->raft->cons.commit,
                                leader == w->raft->cons.cfg.self);
        if (what[k] == EPISODES_RECORD) {
            e->index = lead_record(w, w->base->cfg.id, &o->rec[k], e->enter_ms);
        } else if (what[k] == EPISODES_REPORT &&
                   (o->sent_at[k] == 0 || now - o->sent_at[k] >= RESEND_MS)) {
            o->sent_at[k] = now;
            report(w, leader, k);
        }
    }
    size_t n = 0;
    for (size_t k = 0; k < o->eps.n; k++)
        if (what[k] != EPISODES_FORGET) {
            o->rec[n] = o->rec[k];
            o->sent_at[n++] = o->sent_at[k];
        }
    episodes_sweep(&o->eps, what);
}

void watch_lead_tick(struct watch *w)
{
    if (w->base->stopping)
        return;
    loops_tick(w);
    owed_tick(w);
}

void watch_on_recovery(struct watch *w, size_t from, const msgpack_object *f)
{
    if (!is_leader(w) || w->base->stopping || from >= w->base->peers.n)
        return; /* it reports again to whoever leads */
    struct wt_recovery rec = {0};
    str_of(&f[1], rec.service, sizeof(rec.service));
    rec.cause = (struct wt_cause){.kind = (enum wt_cause_kind)f[2].via.u64, .code = int_of(&f[3])};
    rec.attempts = (uint32_t)f[4].via.u64;
    uint64_t failed_at_ms = f[5].via.u64;
    rec.ttr_ms = f[6].via.u64;
    uint64_t index = lead_record(w, w->base->peers.m[from].id, &rec, failed_at_ms);
    if (index == 0)
        return;
    struct node_pack m;
    node_pack_init(&m);
    msgpack_pack_array(&m.pk, 3);
    msgpack_pack_uint32(&m.pk, MSG_RECOVERY_ACK);
    msgpack_pack_uint64(&m.pk, failed_at_ms);
    msgpack_pack_uint64(&m.pk, index);
    node_pack_send(w->base, from, ENV_LEDGER, &m);
}

void watch_on_recovery_ack(struct watch *w, size_t from, const msgpack_object *f)
{
    episodes_ack(&w->owed.eps, f[1].via.u64, f[2].via.u64, (int32_t)from == w->raft->cons.leader);
}
