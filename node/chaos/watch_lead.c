/* The watchtower's conversation with the leader (issue 12): a crash loop is
 * reported to the leader, which decides (wt_leader_decide) between a
 * coordinated rollback of the release (through the rollout core, as an
 * automatic revert) and marking the service failed on that node; and every
 * recovery is recorded in the ledger by the leader on the node's behalf,
 * as read-only episodes are (witness/node_episodes.c): the node reports,
 * the leader appends a LEDGER_ENTRY_RECOVERY entry and acknowledges with
 * its index, the node forgets it; unacknowledged, it reports again.
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

#define RESEND_MS 2000u

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
    a.stable_since_ms = d->finished_ms;
    a.has_previous = a.stage == WT_REL_ROLLING_OUT ? pl->stable >= 0 : pl->prev_stable[0] != 0;
    return a;
}

/* A revert of a stable release: a rollback to the previous stable one,
 * recorded as automatic. A release still rolling out needs none: its crash
 * has failed the deployment already, and its auto_revert reverts it
 * (rollout.c). Returns false when the rollout core refuses. */
static bool revert(struct watch *w, const char *node, const char *service, const char *why)
{
    struct node_deploy *dp = w->dp;
    const struct pl_deployment *d = pl_find(&dp->pl, pl_desired(&dp->pl, node));
    if (d && d->stage == PL_STAGE_DEPLOYING)
        return true;
    /* Another member's crash loop asked first: its rollback is under way
     * (or being committed). */
    if ((dp->pl.active >= 0 && dp->pl.deps[dp->pl.active].rollback) || dp->pending_index)
        return true;
    char id[PL_ID_MAX], err[512];
    uint8_t r8[4];
    randombytes_buf(r8, sizeof(r8));
    snprintf(id, sizeof(id), "r-%02x%02x%02x%02x", r8[0], r8[1], r8[2], r8[3]);
    static struct pl_record r;
    if (pl_rollback(&dp->pl, id, NULL, (uint64_t)node_wall_ms(), &r, err, sizeof(err)) != 0) {
        node_event(w->base, "recovery.revert_refused", node, "crash loop of %s on %s: %s", service,
                   node, err);
        return false;
    }
    r.automatic = true;
    if (d)
        snprintf(r.from_deployment, sizeof(r.from_deployment), "%s", d->id);
    snprintf(r.reason, sizeof(r.reason), "crash loop: service %s on %s (%s)", service, node, why);
    uint64_t index;
    if (node_deploy_append(dp, &r, NULL, 0, NULL, &index, err, sizeof(err)) != 0) {
        node_event(w->base, "recovery.revert_refused", node, "crash loop of %s on %s: %s", service,
                   node, err);
        return false;
    }
    return true;
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

static void lead_crash_loop(struct watch *w, size_t from, const char *service, uint32_t attempts,
                            const struct wt_cause *cause)
{
    if (!is_leader(w) || from >= w->base->peers.n)
        return;
    const char *node = w->base->peers.m[from].id;
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

void watch_lead_report_loop(struct watch *w, const struct wt_action *a)
{
    int32_t leader = w->raft->cons.leader;
    if (leader == CONS_NONE)
        return; /* the next crash loop is reported again; the core keeps restarting */
    if (leader == w->raft->cons.cfg.self) {
        lead_crash_loop(w, w->base->peers.self, a->service, a->attempts, &a->cause);
        return;
    }
    const char *dep = pl_desired(&w->dp->pl, w->base->cfg.id);
    struct node_pack p;
    node_pack_init(&p);
    msgpack_pack_array(&p.pk, 6);
    msgpack_pack_uint32(&p.pk, MSG_CRASH_LOOP);
    pack_str(&p.pk, a->service);
    msgpack_pack_uint32(&p.pk, a->attempts);
    msgpack_pack_uint32(&p.pk, (uint32_t)a->cause.kind);
    msgpack_pack_int64(&p.pk, a->cause.code);
    pack_str(&p.pk, dep);
    node_pack_send(w->base, (size_t)leader, ENV_LEDGER, &p);
}

void watch_on_crash_loop(struct watch *w, size_t from, const msgpack_object *f)
{
    char service[WT_NAME_MAX];
    str_of(&f[1], service, sizeof(service));
    struct wt_cause c = {.kind = (enum wt_cause_kind)f[3].via.u64, .code = int_of(&f[4])};
    lead_crash_loop(w, from, service, (uint32_t)f[2].via.u64, &c);
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

/* Leader: appends node's recovery, unless it did so already (a report
 * repeated after a lost acknowledgement). Returns its index, or 0. */
static uint64_t lead_record(struct watch *w, const char *node, const struct watch_pending *r)
{
    for (size_t i = 0; i < WATCH_RECENT; i++) {
        const struct watch_appended *a = &w->appended[i];
        if (a->index && a->failed_at_ms == r->failed_at_ms && strcmp(a->node, node) == 0 &&
            strcmp(a->service, r->rec.service) == 0)
            return a->index;
    }
    char cause[128];
    wt_cause_text(&r->rec.cause, cause, sizeof(cause));
    struct node_pack p;
    node_pack_init(&p);
    msgpack_pack_map(&p.pk, 7);
    node_mp_kv_str(&p.pk, "node", node, strlen(node));
    node_mp_kv_str(&p.pk, "service", r->rec.service, strlen(r->rec.service));
    node_mp_kv_str(&p.pk, "cause", cause, strlen(cause));
    node_mp_kv_u64(&p.pk, "attempts", r->rec.attempts);
    node_mp_kv_u64(&p.pk, "failed_at_ms", r->failed_at_ms);
    node_mp_kv_u64(&p.pk, "ttr_ms", r->rec.ttr_ms);
    node_mp_kv_str(&p.pk, "leader", w->base->cfg.id, strlen(w->base->cfg.id));
    const uint8_t *payload = (const uint8_t *)p.sb.data;
    size_t len = p.sb.size;
    uint64_t first = 0, last;
    char err[256];
    if (node_repl_append(w->raft, LEDGER_ENTRY_RECOVERY, &payload, &len, 1, &first, &last, err,
                         sizeof(err)) != 0)
        first = 0;
    node_pack_free(&p);
    if (first) {
        struct watch_appended *a = &w->appended[w->next_appended];
        w->next_appended = (w->next_appended + 1) % WATCH_RECENT;
        snprintf(a->node, sizeof(a->node), "%s", node);
        snprintf(a->service, sizeof(a->service), "%s", r->rec.service);
        a->failed_at_ms = r->failed_at_ms;
        a->index = first;
    }
    return first;
}

void watch_lead_queue(struct watch *w, const struct wt_recovery *r)
{
    if (w->npending == WATCH_RECENT) /* the oldest goes: the event has it */
        memmove(&w->pending_rec[0], &w->pending_rec[1],
                sizeof(w->pending_rec[0]) * (WATCH_RECENT - 1)),
            w->npending--;
    struct watch_pending *p = &w->pending_rec[w->npending++];
    uint64_t now = uv_now(w->base->loop);
    p->rec = *r;
    p->failed_at_ms =
        (uint64_t)node_wall_ms() - (now > r->failed_at_ms ? now - r->failed_at_ms : 0);
    p->sent_at = 0;
    p->sent = false;
}

static void forget(struct watch *w, uint64_t failed_at_ms)
{
    for (size_t i = 0; i < w->npending; i++)
        if (w->pending_rec[i].failed_at_ms == failed_at_ms) {
            memmove(&w->pending_rec[i], &w->pending_rec[i + 1],
                    sizeof(w->pending_rec[0]) * (w->npending - i - 1));
            w->npending--;
            return;
        }
}

/* Reports what the ledger does not hold yet (every watch tick). */
void watch_lead_tick(struct watch *w)
{
    int32_t leader = w->raft->cons.leader;
    if (leader == CONS_NONE || w->base->stopping)
        return;
    uint64_t now = uv_now(w->base->loop);
    for (size_t i = 0; i < w->npending;) {
        struct watch_pending *p = &w->pending_rec[i];
        if (leader == w->raft->cons.cfg.self) {
            if (lead_record(w, w->base->cfg.id, p) != 0) {
                forget(w, p->failed_at_ms);
                continue;
            }
            i++;
            continue;
        }
        if (!p->sent || now - p->sent_at >= RESEND_MS) {
            p->sent = true;
            p->sent_at = now;
            struct node_pack m;
            node_pack_init(&m);
            msgpack_pack_array(&m.pk, 7);
            msgpack_pack_uint32(&m.pk, MSG_RECOVERY);
            pack_str(&m.pk, p->rec.service);
            msgpack_pack_uint32(&m.pk, (uint32_t)p->rec.cause.kind);
            msgpack_pack_int64(&m.pk, p->rec.cause.code);
            msgpack_pack_uint32(&m.pk, p->rec.attempts);
            msgpack_pack_uint64(&m.pk, p->failed_at_ms);
            msgpack_pack_uint64(&m.pk, p->rec.ttr_ms);
            node_pack_send(w->base, (size_t)leader, ENV_LEDGER, &m);
        }
        i++;
    }
}

void watch_on_recovery(struct watch *w, size_t from, const msgpack_object *f)
{
    if (!is_leader(w) || w->base->stopping || from >= w->base->peers.n)
        return; /* it reports again to whoever leads */
    struct watch_pending p = {0};
    str_of(&f[1], p.rec.service, sizeof(p.rec.service));
    p.rec.cause =
        (struct wt_cause){.kind = (enum wt_cause_kind)f[2].via.u64, .code = int_of(&f[3])};
    p.rec.attempts = (uint32_t)f[4].via.u64;
    p.failed_at_ms = f[5].via.u64;
    p.rec.ttr_ms = f[6].via.u64;
    uint64_t index = lead_record(w, w->base->peers.m[from].id, &p);
    if (index == 0)
        return;
    struct node_pack m;
    node_pack_init(&m);
    msgpack_pack_array(&m.pk, 3);
    msgpack_pack_uint32(&m.pk, MSG_RECOVERY_ACK);
    msgpack_pack_uint64(&m.pk, p.failed_at_ms);
    msgpack_pack_uint64(&m.pk, index);
    node_pack_send(w->base, from, ENV_LEDGER, &m);
}

void watch_on_recovery_ack(struct watch *w, size_t from, const msgpack_object *f)
{
    if ((int32_t)from == w->raft->cons.leader)
        forget(w, f[1].via.u64);
}
