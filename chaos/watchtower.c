/* The recovery watchtower's decisions (see watchtower.h). */
#include "chaos/watchtower.h"
#include "pipeline/core/manifest.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const double wt_mttr_bounds_s[WT_MTTR_NBUCKETS] = {0.05, 0.1, 0.25, 0.5, 1,  2.5,
                                                   5,    10,  30,   60,  120};

struct wt_restart wt_restart_default(void)
{
    return (struct wt_restart){.attempts = WT_DEFAULT_ATTEMPTS,
                               .interval_ms = WT_DEFAULT_INTERVAL_MS,
                               .delay_ms = WT_DEFAULT_DELAY_MS,
                               .max_delay_ms = WT_DEFAULT_MAX_DELAY_MS,
                               .mode = WT_DEFAULT_MODE};
}

void wt_init(struct wt *w, const struct wt_config *cfg)
{
    memset(w, 0, sizeof *w);
    w->cfg = *cfg;
}

static uint64_t cap_of(const struct wt_restart *r)
{
    return r->max_delay_ms > r->delay_ms ? r->max_delay_ms : r->delay_ms;
}

uint64_t wt_backoff_ms(const struct wt_restart *r, uint32_t n)
{
    if (n <= 1)
        return 0;
    uint64_t cap = cap_of(r), b = r->delay_ms;
    for (uint32_t i = 2; i < n && b < cap; i++)
        b *= 2; /* b < cap <= UINT64_MAX / 2 in practice: durations are at most 24h */
    return b < cap ? b : cap;
}

/* Downwards only, by up to a quarter: max_delay stays a hard bound. */
static uint64_t jitter(const struct wt *w, uint64_t base)
{
    if (!w->cfg.rand32 || base < 4)
        return base;
    uint64_t r = w->cfg.rand32(w->cfg.rand_arg);
    return base - ((base / 4) * r >> 32);
}

const struct wt_service *wt_find(const struct wt *w, const char *service)
{
    for (size_t i = 0; i < w->nsvc; i++)
        if (strcmp(w->svc[i].spec.name, service) == 0)
            return &w->svc[i];
    return NULL;
}

static struct wt_service *find(struct wt *w, const char *service)
{
    return (struct wt_service *)wt_find(w, service);
}

static struct wt_action *add(struct wt_actions *out, enum wt_action_kind k, const char *service,
                             uint64_t at)
{
    if (out->n >= WT_MAX_ACTIONS)
        return NULL; /* cannot happen: at most 4 per service per event */
    struct wt_action *a = &out->a[out->n++];
    memset(a, 0, sizeof *a);
    a->kind = k;
    a->at_ms = at;
    snprintf(a->service, sizeof a->service, "%s", service);
    return a;
}

static uint64_t liveness_of(const struct wt_service *s)
{
    return s->spec.liveness_ms ? s->spec.liveness_ms : WT_DEFAULT_LIVENESS_MS;
}

void wt_mttr_observe(struct wt_mttr *m, uint64_t ttr_ms)
{
    m->recent_ms[m->count % WT_MTTR_RECENT] = ttr_ms;
    m->count++;
    m->sum_ms += ttr_ms;
    if (ttr_ms > m->max_ms)
        m->max_ms = ttr_ms;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

uint64_t wt_mttr_p50(const struct wt_mttr *m)
{
    size_t n = m->count < WT_MTTR_RECENT ? (size_t)m->count : WT_MTTR_RECENT;
    if (n == 0)
        return 0;
    uint64_t v[WT_MTTR_RECENT];
    memcpy(v, m->recent_ms, n * sizeof v[0]);
    qsort(v, n, sizeof v[0], cmp_u64);
    return v[(n - 1) / 2];
}

/* The service is healthy at now: the end of a recovery, if one was under
 * way and took a restart. */
static void healthy(struct wt *w, struct wt_service *s, uint64_t now, struct wt_actions *out)
{
    s->state = WT_S_HEALTHY;
    s->failing = false;
    if (!s->episode)
        return;
    s->episode = false;
    if (s->episode_attempts == 0)
        return; /* a blip of failing checks that passed again by itself */
    struct wt_action *a = add(out, WT_ACT_RECORD, s->spec.name, now);
    if (!a)
        return;
    struct wt_recovery *r = &a->recovery;
    snprintf(r->node, sizeof r->node, "%s", w->cfg.node);
    snprintf(r->service, sizeof r->service, "%s", s->spec.name);
    r->cause = s->episode_cause;
    r->attempts = s->episode_attempts;
    r->failed_at_ms = s->episode_ms;
    r->healthy_at_ms = now;
    r->ttr_ms = now > s->episode_ms ? now - s->episode_ms : 0;
    r->was_failed = s->marked_failed;
    s->marked_failed = false;
    wt_mttr_observe(&s->mttr, r->ttr_ms);
}

static void open_episode(struct wt_service *s, uint64_t at, struct wt_cause cause)
{
    if (s->episode)
        return;
    s->episode = true;
    s->episode_ms = at;
    s->episode_cause = cause;
    s->episode_attempts = 0;
}

/* The service's process is gone (or was just stopped) at now: restart it
 * under its policy, or declare the crash loop. */
static void failed(struct wt *w, struct wt_service *s, uint64_t now, struct wt_cause cause,
                   struct wt_actions *out)
{
    const struct wt_restart *r = &s->spec.restart;
    s->pid = 0;
    s->failing = false;
    s->last_cause = cause;
    if (w->reverting) {
        s->state = WT_S_FAILED; /* the revert replaces it; no episode to recover from */
        return;
    }
    open_episode(s, now, cause);
    if (s->window_count == 0 || now - s->window_ms >= r->interval_ms) {
        s->window_ms = now;
        s->window_count = 0;
        s->loop_reported = false;
    }
    uint64_t wait;
    if (s->window_count >= r->attempts) {
        if (!s->loop_reported) {
            s->loop_reported = true;
            struct wt_action *a = add(out, WT_ACT_REPORT_CRASH_LOOP, s->spec.name, now);
            if (a) {
                a->attempts = s->window_count;
                a->window_ms = s->window_ms;
                a->cause = cause;
                a->first_cause = s->episode_cause;
            }
        }
        if (r->mode == WT_MODE_FAIL) {
            s->state = WT_S_FAILED;
            if (!s->marked_failed) {
                s->marked_failed = true;
                struct wt_action *a = add(out, WT_ACT_MARK_FAILED, s->spec.name, now);
                if (a) {
                    a->cause = cause;
                    a->first_cause = s->episode_cause;
                }
            }
            return;
        }
        wait = jitter(w, cap_of(r));
        s->restart_attempt = s->window_count + 1; /* beyond attempts: the loop goes on */
    } else {
        s->window_count++;
        s->restart_attempt = s->window_count;
        wait = jitter(w, wt_backoff_ms(r, s->window_count));
    }
    s->state = WT_S_DOWN;
    s->restart_due_ms = now + wait;
    struct wt_action *a =
        add(out, wait ? WT_ACT_RESTART_AT : WT_ACT_RESTART, s->spec.name, s->restart_due_ms);
    if (a) {
        a->attempt = s->restart_attempt;
        a->cause = cause;
        a->first_cause = s->episode_cause;
    }
    if (!wait) {
        s->episode_attempts++;
        s->restarts++;
    }
}

/* A due restart, or a liveness deadline passed, at now. */
static void tick(struct wt_service *s, uint64_t now, struct wt_actions *out)
{
    if (s->state == WT_S_DOWN && now >= s->restart_due_ms) {
        s->state = WT_S_STARTING;
        s->episode_attempts++;
        s->restarts++;
        struct wt_action *a = add(out, WT_ACT_RESTART, s->spec.name, now);
        if (a) {
            a->attempt = s->restart_attempt;
            a->cause = s->last_cause;
            a->first_cause = s->episode_cause;
        }
        return;
    }
    if (s->pid && s->failing && s->state != WT_S_STOPPING && now >= s->failing_since_ms &&
        now - s->failing_since_ms >= liveness_of(s)) {
        struct wt_cause cause = {WT_CAUSE_LIVENESS, (int64_t)(now - s->failing_since_ms)};
        struct wt_action *a = add(out, WT_ACT_STOP, s->spec.name, now);
        if (a) {
            a->pid = s->pid;
            a->cause = cause;
        }
        /* The recovery is timed from the first failing check: that is when
         * users began to see it. */
        open_episode(s, s->failing_since_ms, cause);
        /* The restart waits for the exit (a fixed port must be free), and
         * is counted then, once: until it, nothing is due. */
        s->state = WT_S_STOPPING;
        s->stop_cause = cause;
        s->failing = false;
    }
}

static void check(struct wt *w, struct wt_service *s, const struct wt_event *ev,
                  struct wt_actions *out)
{
    if (!s->pid || s->state == WT_S_DOWN || s->state == WT_S_FAILED || s->state == WT_S_STOPPING)
        return; /* a late answer about a process that is gone (or going) */
    if (ev->pass) {
        healthy(w, s, ev->at_ms, out);
        return;
    }
    if (ev->at_ms < s->started_ms + s->spec.start_grace_ms && s->state == WT_S_STARTING)
        return; /* a slow start is not a failure */
    if (!s->failing) {
        s->failing = true;
        s->failing_since_ms = ev->at_ms;
    }
    if (s->state == WT_S_HEALTHY)
        s->state = WT_S_UNHEALTHY;
    tick(s, ev->at_ms, out);
}

/* The release is being reverted: restarts due are dropped. */
static void reverting(struct wt *w)
{
    w->reverting = true;
    for (size_t i = 0; i < w->nsvc; i++)
        if (w->svc[i].state == WT_S_DOWN)
            w->svc[i].state = WT_S_FAILED;
}

static void release(struct wt *w, const struct wt_event *ev)
{
    w->reverting = false;
    struct wt_service old[WT_MAX_SERVICES];
    size_t nold = w->nsvc;
    memcpy(old, w->svc, sizeof old);
    memset(w->svc, 0, sizeof w->svc);
    w->nsvc = 0;
    for (size_t i = 0; i < ev->nspecs && w->nsvc < WT_MAX_SERVICES; i++) {
        struct wt_service *s = &w->svc[w->nsvc++];
        s->spec = ev->specs[i];
        s->spec.name[WT_NAME_MAX - 1] = '\0';
        s->state = WT_S_STARTING; /* the deploy shell starts it */
        for (size_t k = 0; k < nold; k++)
            if (strcmp(old[k].spec.name, s->spec.name) == 0) {
                /* MTTR and history are the service's, across releases */
                s->mttr = old[k].mttr;
                s->restarts = old[k].restarts;
                s->last_cause = old[k].last_cause;
            }
    }
}

static void marked(struct wt *w, const struct wt_event *ev, struct wt_actions *out)
{
    if (ev->pid <= 0)
        return;
    for (size_t i = 0; i < w->nsvc; i++)
        if (w->svc[i].pid == ev->pid)
            return;
    struct wt_action *a = add(out, WT_ACT_STOP, "", ev->at_ms);
    if (a) {
        a->pid = ev->pid;
        a->stray = true;
    }
}

void wt_step(struct wt *w, const struct wt_event *ev, struct wt_actions *out)
{
    out->n = 0;
    uint64_t now = ev->at_ms;
    if (ev->kind == WT_EV_RELEASE) {
        release(w, ev);
        return;
    }
    if (ev->kind == WT_EV_MARKED) {
        marked(w, ev, out);
        return;
    }
    if (ev->kind == WT_EV_REVERTING) {
        reverting(w);
        return;
    }
    if (ev->kind == WT_EV_TICK) {
        for (size_t i = 0; i < w->nsvc && !w->reverting; i++)
            tick(&w->svc[i], now, out);
        return;
    }
    struct wt_service *s = find(w, ev->service);
    if (!s)
        return;
    switch (ev->kind) {
    case WT_EV_STARTED:
        s->pid = ev->pid;
        s->started_ms = now;
        s->failing = false;
        s->state = WT_S_STARTING; /* a new process: healthy at its first passing check */
        if (!s->spec.has_check)
            healthy(w, s, now, out);
        break;
    case WT_EV_EXITED:
        if (!s->pid || ev->pid != s->pid || s->state == WT_S_FAILED)
            break; /* not the process it tracks: stopped on purpose, or an old one */
        /* A process stopped for liveness died of the stop, not of itself. */
        failed(w, s, now,
               s->state == WT_S_STOPPING ? s->stop_cause
               : ev->signal              ? (struct wt_cause){WT_CAUSE_SIGNAL, ev->signal}
                                         : (struct wt_cause){WT_CAUSE_EXIT, ev->status},
               out);
        break;
    case WT_EV_START_FAILED:
        if (s->state == WT_S_FAILED)
            break;
        failed(w, s, now, (struct wt_cause){WT_CAUSE_START_FAILED, 0}, out);
        break;
    case WT_EV_CHECK:
        if (!w->reverting)
            check(w, s, ev, out);
        break;
    case WT_EV_VERDICT:
        if (ev->verdict == WT_VERDICT_MARK_FAILED && s->episode && !s->marked_failed) {
            s->marked_failed = true;
            struct wt_action *a = add(out, WT_ACT_MARK_FAILED, s->spec.name, now);
            if (a) {
                a->cause = s->last_cause;
                a->first_cause = s->episode_cause;
            }
        }
        break;
    default:
        break;
    }
}

uint64_t wt_next_due(const struct wt *w)
{
    /* A tick does nothing while the release is reverted (wt_step): a
     * liveness deadline that passes then is no work, and a time due that
     * no tick moves on is one the shell's timer would fire at again and
     * again without the loop ever polling. */
    if (w->reverting)
        return UINT64_MAX;
    uint64_t due = UINT64_MAX;
    for (size_t i = 0; i < w->nsvc; i++) {
        const struct wt_service *s = &w->svc[i];
        uint64_t t = UINT64_MAX;
        if (s->state == WT_S_DOWN)
            t = s->restart_due_ms;
        else if (s->pid && s->failing)
            t = s->failing_since_ms + liveness_of(s);
        if (t < due)
            due = t;
    }
    return due;
}

enum wt_verdict wt_leader_decide(const struct wt_release_age *rel, uint64_t window_ms,
                                 uint64_t now_ms)
{
    if (!rel->has_previous || rel->stage == WT_REL_ROLLING_BACK || rel->stage == WT_REL_FAILED)
        return WT_VERDICT_MARK_FAILED; /* nothing to go back to; never revert a revert, nor a
                                        * failure its own policy settles */
    if (rel->stage == WT_REL_ROLLING_OUT)
        return WT_VERDICT_REVERT;
    bool fresh = now_ms < rel->stable_since_ms || now_ms - rel->stable_since_ms < window_ms;
    return fresh ? WT_VERDICT_REVERT : WT_VERDICT_MARK_FAILED;
}

bool wt_loop_verdict_is_outcome(enum wt_verdict v)
{
    return v == WT_VERDICT_MARK_FAILED;
}

enum wt_report_answer wt_report_answer(const struct wt_report_view *v)
{
    /* Until its own term's first entry commits, a leader cannot tell
     * whether its predecessor's revert will: deciding now could revert
     * twice (to the release before the previous one). */
    if (!v->own_term_committed || !v->state_applied)
        return WT_ANSWER_LATER;
    return v->about_desired ? WT_ANSWER_DECIDE : WT_ANSWER_STALE;
}

void wt_cause_text(const struct wt_cause *c, char *out, size_t cap)
{
    switch (c->kind) {
    case WT_CAUSE_EXIT:
        snprintf(out, cap, "exit %" PRId64, c->code);
        break;
    case WT_CAUSE_SIGNAL:
        snprintf(out, cap, "signal %" PRId64, c->code);
        break;
    case WT_CAUSE_LIVENESS: {
        char d[32];
        snprintf(out, cap, "liveness failing %s",
                 manifest_duration_text(c->code < 0 ? 0 : (uint64_t)c->code, d, sizeof d));
        break;
    }
    case WT_CAUSE_START_FAILED:
        snprintf(out, cap, "start failed");
        break;
    default:
        snprintf(out, cap, "unknown");
        break;
    }
}

void wt_action_cause_text(const struct wt_action *a, char *out, size_t cap)
{
    char last[48], first[48];
    wt_cause_text(&a->cause, last, sizeof last);
    const struct wt_cause *f = &a->first_cause;
    if (!f->kind || (f->kind == a->cause.kind && f->code == a->cause.code)) {
        snprintf(out, cap, "%s", last);
        return;
    }
    wt_cause_text(f, first, sizeof first);
    snprintf(out, cap, "%s (first %s)", last, first);
}

void wt_recovery_text(const struct wt_recovery *r, char *out, size_t cap)
{
    char cause[48], ttr[32];
    wt_cause_text(&r->cause, cause, sizeof cause);
    snprintf(out, cap, "service %s on %s after %s, attempt %" PRIu32 ", healthy again in %s",
             r->service, r->node, cause, r->attempts,
             manifest_duration_text(r->ttr_ms, ttr, sizeof ttr));
}

const char *wt_action_name(enum wt_action_kind k)
{
    switch (k) {
    case WT_ACT_RESTART:
        return "restart";
    case WT_ACT_RESTART_AT:
        return "restart_at";
    case WT_ACT_STOP:
        return "stop";
    case WT_ACT_REPORT_CRASH_LOOP:
        return "report_crash_loop";
    case WT_ACT_MARK_FAILED:
        return "mark_failed";
    case WT_ACT_RECORD:
        return "record";
    }
    return "unknown";
}

uint64_t wt_loop_resend_ms(uint32_t n)
{
    uint64_t wait = WT_LOOP_RESEND_MIN_MS;
    for (uint32_t i = 1; i < n && wait < WT_LOOP_RESEND_MAX_MS; i++)
        wait *= 2;
    return wait < WT_LOOP_RESEND_MAX_MS ? wait : WT_LOOP_RESEND_MAX_MS;
}

const char *wt_verdict_name(enum wt_verdict v)
{
    return v == WT_VERDICT_REVERT        ? "revert"
           : v == WT_VERDICT_MARK_FAILED ? "mark_failed"
                                         : "unknown";
}
