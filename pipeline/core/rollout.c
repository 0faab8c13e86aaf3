/* The rollout core: see rollout.h. Pure. */
#include "pipeline/core/rollout.h"
#include "pipeline/core/manifest.h"
#include "pipeline/core/text.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* Ids are at most PL_ID_MAX - 1 bytes; copies may be between fields of
 * one state, so no snprintf (restrict). */
static void copy_id(char *dst, const char *src)
{
    size_t n = strnlen(src, PL_ID_MAX - 1);
    memmove(dst, src, n);
    dst[n] = '\0';
}

void pl_init(struct pl_state *s, const char (*nodes)[PL_ID_MAX], size_t n)
{
    memset(s, 0, sizeof(*s));
    s->nnodes = n > PL_MAX_NODES ? PL_MAX_NODES : n;
    for (size_t i = 0; i < s->nnodes; i++)
        copy_id(s->nodes[i], nodes[i]);
    s->stable = -1;
    s->active = -1;
    s->revert_pending = -1;
    for (size_t i = 0; i < s->nnodes; i++)
        s->up[i] = true;
}

static int node_index(const struct pl_state *s, const char *node)
{
    for (size_t i = 0; i < s->nnodes; i++)
        if (strcmp(s->nodes[i], node) == 0)
            return (int)i;
    return -1;
}

static int dep_index(const struct pl_state *s, const char *id)
{
    for (size_t i = s->ndeps; i-- > 0;)
        if (strcmp(s->deps[i].id, id) == 0)
            return (int)i;
    return -1;
}

const struct pl_deployment *pl_find(const struct pl_state *s, const char *id)
{
    int i = dep_index(s, id);
    return i < 0 ? NULL : &s->deps[i];
}

/* Room for one more deployment: the oldest that is neither the stable one,
 * the one before it, the active one, nor the target of either, is
 * forgotten (the ledger keeps it). Indices held in the state move down
 * with it. */
static bool make_room(struct pl_state *s, const char *keep)
{
    if (s->ndeps < PL_MAX_DEPLOYMENTS)
        return true;
    const char *keep_target = s->active >= 0 ? s->deps[s->active].target : "";
    for (size_t i = 0; i < s->ndeps; i++) {
        if ((int)i == s->stable || (int)i == s->active || (int)i == s->revert_pending ||
            strcmp(s->deps[i].id, keep_target) == 0 || strcmp(s->deps[i].id, keep) == 0 ||
            strcmp(s->deps[i].id, s->prev_stable) == 0)
            continue;
        memmove(&s->deps[i], &s->deps[i + 1], sizeof(s->deps[0]) * (s->ndeps - i - 1));
        s->ndeps--;
        if (s->stable > (int)i)
            s->stable--;
        if (s->active > (int)i)
            s->active--;
        if (s->revert_pending > (int)i)
            s->revert_pending--;
        return true;
    }
    return false;
}

/* keep: a deployment that must not be forgotten to make room (a
 * rollback's target). */
static struct pl_deployment *add_dep(struct pl_state *s, const char *id, const char *keep,
                                     uint64_t at_ms)
{
    if (dep_index(s, id) >= 0 || !make_room(s, keep))
        return NULL;
    struct pl_deployment *d = &s->deps[s->ndeps++];
    memset(d, 0, sizeof(*d));
    copy_id(d->id, id);
    d->started_ms = at_ms;
    return d;
}

/* An unfinished deployment that another takes over from ends as failed. */
static void end_active(struct pl_state *s, const char *why, uint64_t at_ms)
{
    if (s->active < 0)
        return;
    struct pl_deployment *d = &s->deps[s->active];
    d->stage = PL_STAGE_FAILED;
    d->finished_ms = at_ms;
    snprintf(d->reason, PL_REASON_MAX, "%s", why);
    s->active = -1;
}

static void make_stable(struct pl_state *s, int idx)
{
    if (s->stable >= 0 && s->stable != idx) {
        s->deps[s->stable].stage = PL_STAGE_SUPERSEDED;
        copy_id(s->prev_stable, s->deps[s->stable].id);
    }
    s->stable = idx;
    s->deps[idx].stage = PL_STAGE_STABLE;
}

/* The deployment whose release d's nodes run: a rollback runs its target's. */
static const char *runs(const struct pl_deployment *d)
{
    return d->rollback ? d->target : d->id;
}

static void tell(struct pl_state *s, size_t i, const char *dep)
{
    copy_id(s->desired[i], dep);
    s->desired_gen[i]++;
}

static bool listed(const char (*ids)[PL_ID_MAX], size_t n, const char *id)
{
    for (size_t k = 0; k < n; k++)
        if (strcmp(ids[k], id) == 0)
            return true;
    return false;
}

/* d is done (STABLE, REVERTED): the record names who was passed over as
 * down, and every member no wave reached is told to run the release, so
 * that one coming back applies what the ledger says. */
static void complete(struct pl_state *s, struct pl_deployment *d, const struct pl_record *r)
{
    for (size_t i = 0; i < s->nnodes; i++) {
        d->down[i] = listed(r->down, r->ndown, s->nodes[i]);
        if (!d->assigned[i])
            tell(s, i, runs(d));
    }
    d->finished_ms = r->at_ms;
    s->active = -1;
}

int pl_apply(struct pl_state *s, const struct pl_record *r)
{
    int idx = dep_index(s, r->deployment);
    struct pl_deployment *d = idx >= 0 ? &s->deps[idx] : NULL;
    switch (r->kind) {
    case PL_REC_RELEASE: {
        if (d)
            return -1;
        char why[PL_REASON_MAX];
        snprintf(why, sizeof(why), "superseded by deployment %.*s", PL_ID_MAX - 1, r->deployment);
        end_active(s, why, r->at_ms);
        d = add_dep(s, r->deployment, "", r->at_ms);
        if (!d)
            return -1;
        d->release = r->release;
        d->stage = PL_STAGE_DEPLOYING;
        s->active = (int)(d - s->deps);
        return 0;
    }
    case PL_REC_WAVE:
        if (!d || (int)(d - s->deps) != s->active || (d->rollback && !d->in_waves))
            return -1;
        d->waves = r->wave;
        d->wave_started_ms = r->at_ms;
        for (size_t i = 0; i < s->nnodes; i++)
            if (!d->assigned[i])
                d->down[i] = listed(r->down, r->ndown, s->nodes[i]);
        for (size_t k = 0; k < r->nnodes; k++) {
            int ni = node_index(s, r->nodes[k]);
            if (ni < 0)
                continue;
            d->assigned[ni] = true;
            d->down[ni] = false;
            tell(s, (size_t)ni, runs(d));
        }
        return 0;
    case PL_REC_STABLE:
        if (!d || (int)(d - s->deps) != s->active || d->rollback)
            return -1;
        complete(s, d, r);
        make_stable(s, idx);
        return 0;
    case PL_REC_FAILED:
        if (!d || (int)(d - s->deps) != s->active)
            return -1;
        d->stage = PL_STAGE_FAILED;
        d->finished_ms = r->at_ms;
        snprintf(d->reason, PL_REASON_MAX, "%s", r->reason);
        s->active = -1;
        /* A failed release goes back to the last good one when its policy
         * says so; a failed rollback does not (that would loop). */
        if (!d->rollback && d->release.policy.auto_revert && s->stable >= 0)
            s->revert_pending = idx;
        return 0;
    case PL_REC_ROLLBACK: {
        int target = dep_index(s, r->target);
        if (d || target < 0 || !make_room(s, r->target))
            return -1;
        char why[PL_REASON_MAX];
        snprintf(why, sizeof(why), "rolled back by %.*s", PL_ID_MAX - 1, r->deployment);
        end_active(s, why, r->at_ms);
        d = add_dep(s, r->deployment, r->target, r->at_ms);
        target = dep_index(s, r->target); /* add_dep may have moved it */
        if (!d || target < 0)
            return -1;
        d->rollback = true;
        copy_id(d->target, r->target);
        snprintf(d->reason, PL_REASON_MAX, "%s", r->reason);
        d->release = s->deps[target].release;
        d->stage = PL_STAGE_ROLLING_BACK;
        d->wave_started_ms = r->at_ms;
        d->in_waves = r->in_waves;
        d->automatic = r->automatic;
        /* Coordinated, unless in waves: every node at once. */
        for (size_t i = 0; i < s->nnodes && !d->in_waves; i++) {
            d->assigned[i] = true;
            tell(s, i, d->target);
        }
        d->waves = d->in_waves ? 0 : 1;
        s->active = (int)(d - s->deps);
        s->revert_pending = -1;
        return 0;
    }
    case PL_REC_REVERTED:
        if (!d || (int)(d - s->deps) != s->active || !d->rollback)
            return -1;
        d->stage = PL_STAGE_REVERTED;
        complete(s, d, r);
        if (dep_index(s, d->target) >= 0)
            make_stable(s, dep_index(s, d->target));
        return 0;
    }
    return -1;
}

void pl_report(struct pl_state *s, const char *node, const struct pl_report *r)
{
    int i = node_index(s, node);
    if (i < 0)
        return;
    s->reports[i] = *r;
    s->reported[i] = true;
}

void pl_forget_reports(struct pl_state *s)
{
    memset(s->reported, 0, sizeof(s->reported));
}

void pl_member(struct pl_state *s, const char *node, bool up, uint64_t now_ms)
{
    int i = node_index(s, node);
    if (i < 0)
        return;
    if (up && !s->up[i])
        s->up_since_ms[i] = now_ms;
    s->up[i] = up;
}

const char *pl_desired(const struct pl_state *s, const char *node)
{
    int i = node_index(s, node);
    return i < 0 ? "" : s->desired[i];
}

uint32_t pl_desired_gen(const struct pl_state *s, const char *node)
{
    int i = node_index(s, node);
    return i < 0 ? 0 : s->desired_gen[i];
}

bool pl_automatic_revert_to(const struct pl_state *s, const char *id)
{
    if (s->active < 0)
        return false;
    const struct pl_deployment *d = &s->deps[s->active];
    return d->rollback && d->automatic && d->stage == PL_STAGE_ROLLING_BACK &&
           strcmp(d->target, id) == 0;
}

bool pl_being_reverted(const struct pl_state *s, const char *id)
{
    const struct pl_deployment *d = pl_find(s, id);
    return d && !d->rollback && d->stage == PL_STAGE_FAILED && d->release.policy.auto_revert &&
           s->stable >= 0;
}

static void record(struct pl_record *out, enum pl_record_kind kind, const char *dep, uint64_t now)
{
    memset(out, 0, sizeof(*out));
    out->kind = kind;
    out->at_ms = now;
    copy_id(out->deployment, dep);
}

/* A FAILED record for d: what happened, and the detail a node gave. */
static bool fail(const struct pl_deployment *d, uint64_t now, struct pl_record *out,
                 const char *what, const char *detail)
{
    record(out, PL_REC_FAILED, d->id, now);
    char full[PL_REASON_MAX + 2 + PL_DETAIL_MAX];
    snprintf(full, sizeof(full), "%s%s%s", what, detail && detail[0] ? ": " : "",
             detail ? detail : "");
    pl_cut_text(out->reason, PL_REASON_MAX, full); /* the ledger record's room */
    return true;
}

/* Judges the nodes assigned to d. Returns true with a FAILED record when
 * one of them failed; otherwise *all_ready says whether every assigned
 * node has been healthy for min_healthy_time. A rollback's nodes run the
 * release of its target, so that is what their reports must name. */
static bool judge(const struct pl_state *s, const struct pl_deployment *d, uint64_t now,
                  bool *all_ready, struct pl_record *out)
{
    const struct pl_policy *p = &d->release.policy;
    *all_ready = true;
    for (size_t i = 0; i < s->nnodes; i++) {
        /* A member down is not waited for (nor judged): it applies the
         * release when it comes back, and is judged again from then. */
        if (!d->assigned[i] || !s->up[i])
            continue;
        uint64_t from =
            s->up_since_ms[i] > d->wave_started_ms ? s->up_since_ms[i] : d->wave_started_ms;
        bool late = now > from && now - from > p->healthy_deadline_ms;
        const struct pl_report *r = &s->reports[i];
        bool current =
            s->reported[i] && strcmp(r->deployment, runs(d)) == 0 && r->gen == s->desired_gen[i];
        char what[PL_REASON_MAX];
        if (current && (r->health == PL_H_CRASHED || r->health == PL_H_START_FAILED)) {
            snprintf(what, sizeof(what), "%s: a service %s", s->nodes[i],
                     r->health == PL_H_CRASHED ? "crashed" : "could not start");
            return fail(d, now, out, what, r->detail);
        }
        bool ready = current && r->health == PL_H_HEALTHY && now >= r->healthy_since_ms &&
                     now - r->healthy_since_ms >= p->min_healthy_time_ms;
        if (ready)
            continue;
        *all_ready = false;
        if (late && !(current && r->health == PL_H_HEALTHY)) {
            char deadline[32];
            snprintf(what, sizeof(what), "%s: %s within the healthy deadline (%s)", s->nodes[i],
                     current ? "not healthy" : "did not apply the release",
                     manifest_duration_text(p->healthy_deadline_ms, deadline, sizeof(deadline)));
            return fail(d, now, out, what, current ? r->detail : "");
        }
    }
    return false;
}

/* The next wave of d: up to max_parallel members that are up and must
 * change (those already told to run its release come along at no cost),
 * the members down passed over; or, when no member that is up is left, d
 * is done over the members reached. */
static bool next_wave(const struct pl_state *s, const struct pl_deployment *d, uint64_t now,
                      struct pl_record *out)
{
    size_t want = d->release.policy.max_parallel ? d->release.policy.max_parallel : 1;
    size_t k = 0, changing = 0, reached = 0;
    record(out, PL_REC_WAVE, d->id, now);
    for (size_t i = 0; i < s->nnodes; i++) {
        if (d->assigned[i])
            reached += s->up[i];
        else if (strcmp(s->desired[i], runs(d)) == 0)
            copy_id(out->nodes[k++], s->nodes[i]);
        else if (!s->up[i])
            copy_id(out->down[out->ndown++], s->nodes[i]);
        else if (changing < want) {
            copy_id(out->nodes[k++], s->nodes[i]);
            changing++;
        }
    }
    if (k > 0) {
        out->nnodes = k;
        out->wave = d->waves + 1;
        return true;
    }
    /* Done only over someone who ran it: never over nobody (a leader is
     * always up, so this waits only on a state no shell feeds). */
    if (reached == 0)
        return false;
    record(out, d->rollback ? PL_REC_REVERTED : PL_REC_STABLE, d->id, now);
    for (size_t i = 0; i < s->nnodes; i++)
        if (!s->up[i])
            copy_id(out->down[out->ndown++], s->nodes[i]);
    return true;
}

bool pl_tick(const struct pl_state *s, uint64_t now, struct pl_record *out)
{
    if (s->revert_pending >= 0 && s->stable >= 0) {
        const struct pl_deployment *f = &s->deps[s->revert_pending];
        char id[PL_ID_MAX];
        snprintf(id, sizeof(id), "%.*s-revert", PL_ID_MAX - 8, f->id);
        record(out, PL_REC_ROLLBACK, id, now);
        copy_id(out->target, s->deps[s->stable].id);
        copy_id(out->from_deployment, f->id);
        snprintf(out->reason, PL_REASON_MAX, "%s", f->reason);
        out->automatic = true;
        return true;
    }
    if (s->active < 0)
        return false;
    const struct pl_deployment *d = &s->deps[s->active];
    const struct pl_policy *p = &d->release.policy;
    bool ready = true;
    if (d->waves > 0 && judge(s, d, now, &ready, out))
        return true;
    /* A wave that is ready made progress, however late the tick. */
    if (ready && next_wave(s, d, now, out))
        return true;
    /* As Nomad's: the deadline to make progress restarts with each wave. */
    uint64_t progress = d->wave_started_ms > d->started_ms ? d->wave_started_ms : d->started_ms;
    if (now > progress && now - progress > p->progress_deadline_ms) {
        char what[PL_REASON_MAX], deadline[32];
        snprintf(what, sizeof(what), "the progress deadline (%s) passed",
                 manifest_duration_text(p->progress_deadline_ms, deadline, sizeof(deadline)));
        return fail(d, now, out, what, NULL);
    }
    return false;
}

int pl_begin(const struct pl_state *s, const char *id, const struct pl_release *rel,
             uint64_t now_ms, struct pl_record *out, char *why, size_t whylen)
{
    if (s->active >= 0) {
        const struct pl_deployment *d = &s->deps[s->active];
        snprintf(why, whylen, "deployment %s (%s %s) is %s; wait for it or roll back", d->id,
                 d->release.name, d->release.version, pl_stage_name(d->stage));
        return 409;
    }
    if (s->revert_pending >= 0) {
        snprintf(why, whylen, "deployment %s failed and is being reverted",
                 s->deps[s->revert_pending].id);
        return 409;
    }
    if (dep_index(s, id) >= 0) {
        snprintf(why, whylen, "deployment id %s is taken", id);
        return 409;
    }
    if (s->stable >= 0 && memcmp(s->deps[s->stable].release.digest, rel->digest, 32) == 0) {
        snprintf(why, whylen, "%s %s is already the stable release (deployment %s)", rel->name,
                 rel->version, s->deps[s->stable].id);
        return 409;
    }
    record(out, PL_REC_RELEASE, id, now_ms);
    out->release = *rel;
    return 0;
}

/* Nothing is under way and every member is told to run deployment idx. */
static bool settled_on(const struct pl_state *s, int idx)
{
    if (s->active >= 0 || s->revert_pending >= 0)
        return false;
    for (size_t i = 0; i < s->nnodes; i++)
        if (strcmp(s->desired[i], s->deps[idx].id) != 0)
            return false;
    return true;
}

int pl_rollback(const struct pl_state *s, const char *id, const char *to_version, uint64_t now_ms,
                struct pl_record *out, char *why, size_t whylen)
{
    int target = -1;
    if (!to_version) {
        /* As `kubectl rollout undo`: the one before the current, unless
         * the current is not settled everywhere (back to it, then). */
        target = s->stable;
        if (target < 0) {
            snprintf(why, whylen, "there is no stable release to roll back to");
            return 409;
        }
        if (settled_on(s, target)) {
            const struct pl_deployment *cur = &s->deps[target];
            target = s->prev_stable[0] ? dep_index(s, s->prev_stable) : -1;
            if (target < 0) {
                snprintf(why, whylen,
                         "%s %s (deployment %s) runs on every node and there is no earlier stable "
                         "release to roll back to",
                         cur->release.name, cur->release.version, cur->id);
                return 409;
            }
        }
    } else {
        for (size_t i = s->ndeps; i-- > 0 && target < 0;) {
            const struct pl_deployment *d = &s->deps[i];
            if (!d->rollback && strcmp(d->release.version, to_version) == 0 &&
                (d->stage == PL_STAGE_STABLE || d->stage == PL_STAGE_SUPERSEDED))
                target = (int)i;
        }
        if (target < 0) {
            snprintf(why, whylen, "no stable release has version %s", to_version);
            return 404;
        }
    }
    const struct pl_deployment *t = &s->deps[target];
    if (target == s->stable && settled_on(s, target)) {
        snprintf(why, whylen, "%s %s (deployment %s) is already the release running",
                 t->release.name, t->release.version, t->id);
        return 409;
    }
    if (dep_index(s, id) >= 0) {
        snprintf(why, whylen, "deployment id %s is taken", id);
        return 409;
    }
    record(out, PL_REC_ROLLBACK, id, now_ms);
    copy_id(out->target, t->id);
    if (s->active >= 0)
        copy_id(out->from_deployment, s->deps[s->active].id);
    snprintf(out->reason, PL_REASON_MAX, "rollback to %s %s requested by an operator",
             t->release.name, t->release.version);
    out->in_waves = true; /* nobody is rushed: no outage for it */
    return 0;
}

int pl_fail(const struct pl_state *s, const char *id, const char *reason, uint64_t now_ms,
            struct pl_record *out, char *why, size_t whylen)
{
    const struct pl_deployment *d = s->active >= 0 ? &s->deps[s->active] : NULL;
    if (!d || d->rollback || strcmp(d->id, id) != 0) {
        snprintf(why, whylen, "deployment %s is not a release's deployment in progress", id);
        return 409;
    }
    fail(d, now_ms, out, reason, NULL);
    return 0;
}

const char *pl_stage_name(enum pl_stage st)
{
    switch (st) {
    case PL_STAGE_DEPLOYING:
        return "deploying";
    case PL_STAGE_STABLE:
        return "stable";
    case PL_STAGE_FAILED:
        return "failed";
    case PL_STAGE_ROLLING_BACK:
        return "rolling_back";
    case PL_STAGE_REVERTED:
        return "reverted";
    case PL_STAGE_SUPERSEDED:
        return "superseded";
    }
    return "unknown";
}

const char *pl_health_name(enum pl_health h)
{
    static const char *const names[] = {"none",      "starting", "healthy",
                                        "unhealthy", "crashed",  "start_failed"};
    return (size_t)h < sizeof(names) / sizeof(names[0]) ? names[h] : "unknown";
}

const char *pl_record_name(enum pl_record_kind k)
{
    static const char *const names[] = {"",       "release",  "wave",    "stable",
                                        "failed", "rollback", "reverted"};
    return (size_t)k < sizeof(names) / sizeof(names[0]) && k > 0 ? names[k] : "unknown";
}
