/* The chaos injector's decisions (see injector.h). */
#include "chaos/injector.h"
#include "pipeline/core/manifest.h"
#include "chaos/chaos_err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define DELAY_MIN_MS 50 /* delay_messages: a random delay per message in this range */
#define DELAY_MAX_MS 500

void chaos_settings_default(struct chaos_settings *s)
{
    memset(s, 0, sizeof *s);
    s->interval_ms = 600000;
    s->probability = 0.15;
    s->kinds = CHAOS_KINDS_DEFAULT;
    s->max_duration_ms = 60000;
    s->window.always = true;
}

bool chaos_settings_excludes(const struct chaos_settings *s, const char *name)
{
    for (size_t i = 0; i < s->nexclude; i++)
        if (strcmp(s->exclude[i], name) == 0)
            return true;
    return false;
}

json_t *chaos_settings_json(const struct chaos_settings *s, const char *window_text)
{
    json_t *o = json_object(), *kinds = json_array(), *ex = json_array();
    for (int k = 0; k < CHAOS_KIND_COUNT; k++)
        if (s->kinds & CHAOS_KIND_BIT(k))
            json_array_append_new(kinds, json_string(chaos_kind_name((enum chaos_kind)k)));
    for (size_t i = 0; i < s->nexclude; i++)
        json_array_append_new(ex, json_string(s->exclude[i]));
    json_object_set_new(o, "enabled", json_boolean(s->enabled));
    json_object_set_new(o, "interval_ms", json_integer((json_int_t)s->interval_ms));
    json_object_set_new(o, "probability", json_real(s->probability));
    json_object_set_new(o, "dry_run", json_boolean(s->dry_run));
    json_object_set_new(o, "faults", kinds);
    json_object_set_new(o, "exclude", ex);
    json_object_set_new(o, "max_duration_ms", json_integer((json_int_t)s->max_duration_ms));
    json_object_set_new(o, "window", json_string(window_text ? window_text : "always"));
    return o;
}

/* ---- the ledger's chaos state ---------------------------------------------- */

void chaos_state_init(struct chaos_state *s)
{
    memset(s, 0, sizeof *s);
}

static void drop_active(struct chaos_state *s, size_t i)
{
    memmove(&s->active[i], &s->active[i + 1], (s->nactive - i - 1) * sizeof s->active[0]);
    memmove(&s->restarted[i], &s->restarted[i + 1], (s->nactive - i - 1) * sizeof s->restarted[0]);
    s->nactive--;
}

void chaos_state_apply(struct chaos_state *s, const struct chaos_record *r)
{
    switch (r->kind) {
    case CHAOS_REC_FAULT:
        if (s->nactive == CHAOS_ACTIVE_MAX)
            drop_active(s, 0); /* the oldest has expired long since, or been forced past */
        s->restarted[s->nactive] = false;
        s->active[s->nactive++] = r->fault;
        break;
    case CHAOS_REC_HEALED:
        for (size_t i = 0; i < s->nactive; i++)
            if (strcmp(s->active[i].id, r->fault.id) == 0) {
                drop_active(s, i);
                break;
            }
        break;
    case CHAOS_REC_STOP:
        s->stopped = true;
        s->nactive = 0;
        break;
    case CHAOS_REC_ENABLE:
        s->stopped = false;
        break;
    default:
        break;
    }
}

void chaos_state_restarted(struct chaos_state *s, const struct chaos_restart *r)
{
    for (size_t i = 0; i < s->nactive; i++) {
        const struct chaos_fault *f = &s->active[i];
        if (f->kind == CHAOS_KILL_SERVICE && strcmp(f->node, r->node) == 0 &&
            strcmp(f->service, r->service) == 0 && r->failed_at_ms >= f->start_ms)
            s->restarted[i] = true;
    }
}

void chaos_state_members(struct chaos_state *s, const struct chaos_member *m, size_t n)
{
    for (size_t i = 0; i < s->nactive; i++) {
        const struct chaos_fault *f = &s->active[i];
        for (size_t j = 0; f->kind == CHAOS_KILL_NODE && f->boot && j < n; j++)
            if (strcmp(m[j].id, f->node) == 0 && m[j].boot && m[j].boot != f->boot &&
                m[j].status == CHAOS_MEMBER_ALIVE && !m[j].read_only)
                s->restarted[i] = true;
    }
}

bool chaos_state_awaits_node(const struct chaos_state *s)
{
    for (size_t i = 0; i < s->nactive; i++)
        if (s->active[i].kind == CHAOS_KILL_NODE && s->active[i].boot && !s->restarted[i])
            return true;
    return false;
}

const struct chaos_fault *chaos_state_active(const struct chaos_state *s, uint64_t now_ms)
{
    for (size_t i = 0; i < s->nactive; i++)
        if (now_ms < s->active[i].expires_ms && !s->restarted[i])
            return &s->active[i];
    return NULL;
}

const struct chaos_fault *chaos_state_expired(const struct chaos_state *s, uint64_t now_ms,
                                              const char **reason)
{
    for (size_t i = 0; i < s->nactive; i++)
        if (now_ms >= s->active[i].expires_ms || s->restarted[i]) {
            if (reason)
                *reason = s->restarted[i] ? "restarted" : "expired";
            return &s->active[i];
        }
    return NULL;
}

/* ---- safety rules ---------------------------------------------------------- */

static const char *status_name(const struct chaos_member *m)
{
    if (m->status == CHAOS_MEMBER_DEAD)
        return "dead";
    if (m->status == CHAOS_MEMBER_SUSPECT)
        return "suspect";
    return m->read_only ? "read-only" : "alive";
}

static bool refuse(struct chaos_decision *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static bool refuse(struct chaos_decision *d, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->reason, sizeof d->reason, fmt, ap);
    va_end(ap);
    d->action = CHAOS_ACT_REFUSED;
    return false;
}

/* The rules that hold whatever the fault: false (and d refused) when one fails. */
static bool federation_allows(const struct chaos_view *v, struct chaos_decision *d)
{
    if (v->state && v->state->stopped)
        return refuse(d, "stopped: chaos was stopped by the kill switch; enable it again first");
    const struct chaos_fault *a = v->state ? chaos_state_active(v->state, v->now_ms) : NULL;
    char more[32];
    if (a) /* in whole seconds, rounded up: "1s" while any of it is left */
        return refuse(d, "active: fault %s (%s on %s) is active for %s more", a->id,
                      chaos_kind_name(a->kind), a->node,
                      manifest_duration_text((a->expires_ms - v->now_ms + 999) / 1000 * 1000, more,
                                             sizeof more));
    if (v->rollout_running)
        return refuse(d, "rollout: a rollout or rollback is running");
    for (size_t i = 0; i < v->nmembers; i++) {
        const struct chaos_member *m = &v->members[i];
        if (m->status != CHAOS_MEMBER_ALIVE || m->read_only)
            return refuse(d, "unhealthy: member %s is %s", m->id, status_name(m));
    }
    return true;
}

/* A fault on a node takes its vote away for a while. */
static bool kind_costs_a_vote(enum chaos_kind k)
{
    return !chaos_kind_on_service(k);
}

static const struct chaos_member *member(const struct chaos_view *v, const char *id)
{
    for (size_t i = 0; i < v->nmembers; i++)
        if (strcmp(v->members[i].id, id) == 0)
            return &v->members[i];
    return NULL;
}

/* Whether the federation keeps a quorum without target's vote. */
static bool spare_vote(const struct chaos_view *v, const struct chaos_member *target, char *why,
                       size_t cap)
{
    size_t voters = 0, up = 0;
    for (size_t i = 0; i < v->nmembers; i++) {
        const struct chaos_member *m = &v->members[i];
        voters += m->voter;
        up += m->voter && m->status == CHAOS_MEMBER_ALIVE && !m->read_only;
    }
    size_t quorum = voters / 2 + 1, left = up - (target->voter && up > 0);
    if (left >= quorum)
        return true;
    snprintf(why, cap,
             "no spare vote: a fault on %s would leave %zu of %zu voters up, a quorum is %zu",
             target->id, left, voters, quorum);
    return false;
}

static bool runs(const struct chaos_member *m, const char *service)
{
    for (size_t i = 0; i < m->nservices; i++)
        if (strcmp(m->services[i], service) == 0)
            return true;
    return false;
}

/* ---- the tick ---------------------------------------------------------------- */

void chaos_injector_init(struct chaos_injector *inj, const struct chaos_settings *s,
                         uint64_t now_ms)
{
    inj->settings = *s;
    inj->next_tick_ms = now_ms + s->interval_ms;
}

static uint64_t pick(const struct chaos_rng *rng, uint64_t n)
{
    return n ? rng->next(rng->ctx) % n : 0; /* n is tiny: the modulo's bias is nil */
}

/* A candidate target of the tick. */
struct cand {
    const struct chaos_member *m;
    const char *service;
};

#define CAND_MAX (CHAOS_MAX_MEMBERS * CHAOS_MAX_SERVICES)

/* Every target of kind k the settings and the quorum allow; the reason of
 * the last one turned away by the quorum in why. */
static size_t candidates(const struct chaos_settings *s, const struct chaos_view *v,
                         enum chaos_kind k, struct cand *c, char *why, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < v->nmembers && i < CHAOS_MAX_MEMBERS; i++) {
        const struct chaos_member *m = &v->members[i];
        if (chaos_settings_excludes(s, m->id))
            continue;
        if (!chaos_kind_on_service(k)) {
            if (spare_vote(v, m, why, cap))
                c[n++] = (struct cand){m, NULL};
            continue;
        }
        for (size_t j = 0; j < m->nservices && j < CHAOS_MAX_SERVICES; j++)
            if (!chaos_settings_excludes(s, m->services[j]))
                c[n++] = (struct cand){m, m->services[j]};
    }
    return n;
}

/* isolate_node: from every peer, or from one that is not excluded. */
static void pick_peer(const struct chaos_settings *s, const struct chaos_view *v,
                      const struct chaos_rng *rng, struct chaos_fault *f)
{
    const char *peers[CHAOS_MAX_MEMBERS + 1] = {""};
    size_t n = 1;
    for (size_t i = 0; i < v->nmembers && n <= CHAOS_MAX_MEMBERS; i++)
        if (strcmp(v->members[i].id, f->node) != 0 && !chaos_settings_excludes(s, v->members[i].id))
            peers[n++] = v->members[i].id;
    snprintf(f->peer, sizeof f->peer, "%s", peers[pick(rng, n)]);
}

static void set_times(struct chaos_fault *f, uint64_t now_ms, uint64_t duration_ms)
{
    f->start_ms = now_ms;
    f->duration_ms = duration_ms;
    f->expires_ms = now_ms + duration_ms;
}

/* Chooses a kind among the enabled ones that have a target, then a target. */
static void choose(const struct chaos_settings *s, const struct chaos_view *v,
                   const struct chaos_rng *rng, struct chaos_decision *d)
{
    struct cand c[CHAOS_KIND_COUNT][CAND_MAX];
    size_t nc[CHAOS_KIND_COUNT] = {0};
    enum chaos_kind usable[CHAOS_KIND_COUNT];
    size_t nusable = 0;
    char quorum_why[CHAOS_REASON_MAX] = "";
    for (int k = 0; k < CHAOS_KIND_COUNT; k++) {
        if (!(s->kinds & CHAOS_KIND_BIT(k)))
            continue;
        nc[k] = candidates(s, v, (enum chaos_kind)k, c[k], quorum_why, sizeof quorum_why);
        if (nc[k])
            usable[nusable++] = (enum chaos_kind)k;
    }
    if (!nusable) {
        if (quorum_why[0])
            refuse(d, "%s", quorum_why);
        else
            refuse(d, "no target: every enabled fault kind's targets are excluded or absent");
        return;
    }
    enum chaos_kind k = usable[pick(rng, nusable)];
    const struct cand *t = &c[k][pick(rng, nc[k])];
    struct chaos_fault *f = &d->fault;
    memset(f, 0, sizeof *f);
    f->kind = k;
    f->origin = CHAOS_ORIGIN_INJECTOR;
    snprintf(f->node, sizeof f->node, "%s", t->m->id);
    if (t->service)
        snprintf(f->service, sizeof f->service, "%s", t->service);
    if (k == CHAOS_ISOLATE_NODE)
        pick_peer(s, v, rng, f);
    if (k == CHAOS_DELAY_MESSAGES)
        f->delay_ms = DELAY_MIN_MS + pick(rng, DELAY_MAX_MS - DELAY_MIN_MS + 1);
    set_times(f, v->now_ms, s->max_duration_ms);
    d->has_fault = true;
    d->action = s->dry_run ? CHAOS_ACT_WOULD_INJECT : CHAOS_ACT_INJECT;
}

void chaos_injector_tick(struct chaos_injector *inj, const struct chaos_view *v,
                         const struct chaos_rng *rng, struct chaos_decision *d)
{
    const struct chaos_settings *s = &inj->settings;
    memset(d, 0, sizeof *d);
    d->action = CHAOS_ACT_NONE;
    if (v->now_ms < inj->next_tick_ms) {
        d->next_tick_ms = inj->next_tick_ms;
        snprintf(d->reason, sizeof d->reason, "not yet: the next tick is due later");
        return;
    }
    inj->next_tick_ms = v->now_ms + s->interval_ms;
    d->next_tick_ms = inj->next_tick_ms;
    if (!s->enabled) {
        snprintf(d->reason, sizeof d->reason, "disabled");
        return;
    }
    if (v->state && v->state->stopped) {
        snprintf(d->reason, sizeof d->reason, "stopped by the kill switch");
        return;
    }
    if (!chaos_window_inside(&s->window, v->now_ms)) {
        uint64_t open = chaos_window_next_open(&s->window, v->now_ms);
        if (open != UINT64_MAX && open > inj->next_tick_ms)
            inj->next_tick_ms = d->next_tick_ms = open;
        snprintf(d->reason, sizeof d->reason, "outside the window");
        return;
    }
    /* 53 random bits make a uniform double in [0, 1): probability 1 always fires. */
    double u = (double)(rng->next(rng->ctx) >> 11) * 0x1.0p-53;
    if (!(u < s->probability)) {
        snprintf(d->reason, sizeof d->reason, "not this time (probability %.2f)", s->probability);
        return;
    }
    if (federation_allows(v, d))
        choose(s, v, rng, d);
}

/* ---- an operator's fault --------------------------------------------------------- */

static bool request_valid(const struct chaos_settings *s, const struct chaos_view *v,
                          const struct chaos_fault *f, struct chaos_decision *d)
{
    const struct chaos_member *m = member(v, f->node);
    if (!m)
        return refuse(d, "no target: %s is not a member", f->node);
    if (f->peer[0] && !member(v, f->peer))
        return refuse(d, "no target: peer %s is not a member", f->peer);
    if (chaos_kind_on_service(f->kind) && !runs(m, f->service))
        return refuse(d, "no target: %s runs no service %s", f->node, f->service);
    char asked[32], most[32];
    if (f->duration_ms > s->max_duration_ms)
        return refuse(d, "duration: %s is more than the maximum %s",
                      manifest_duration_text(f->duration_ms, asked, sizeof asked),
                      manifest_duration_text(s->max_duration_ms, most, sizeof most));
    return true;
}

static bool request_safe(const struct chaos_settings *s, const struct chaos_view *v,
                         const struct chaos_fault *f, struct chaos_decision *d)
{
    if (!federation_allows(v, d))
        return false;
    const char *names[3] = {f->node, f->service, f->peer};
    for (size_t i = 0; i < 3; i++)
        if (names[i][0] && chaos_settings_excludes(s, names[i]))
            return refuse(d, "excluded: %s is excluded from chaos", names[i]);
    if (kind_costs_a_vote(f->kind) &&
        !spare_vote(v, member(v, f->node), d->reason, sizeof d->reason)) {
        d->action = CHAOS_ACT_REFUSED;
        return false;
    }
    return true;
}

void chaos_injector_check(const struct chaos_settings *s, const struct chaos_view *v,
                          const struct chaos_fault *request, struct chaos_decision *d)
{
    memset(d, 0, sizeof *d);
    d->fault = *request;
    d->fault.origin = CHAOS_ORIGIN_OPERATOR;
    d->has_fault = true;
    set_times(&d->fault, v->now_ms,
              request->duration_ms ? request->duration_ms : s->max_duration_ms);
    if (!request_valid(s, v, &d->fault, d))
        return;
    if (!request->forced && !request_safe(s, v, &d->fault, d))
        return;
    d->action = CHAOS_ACT_INJECT;
}
