/* The recovery watchtower's shell: the core (chaos/watchtower.c) decides,
 * this file feeds it and does what it says. Time fed to the core is the
 * loop's (monotonic, ms); the stray scan reads /proc through the driver
 * (drv_pid_has_mark). A process group of a service this node runs is never
 * a stray, nor any process in it (a service's own children carry the mark
 * too). */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "node/chaos/watch.h"
#include "pipeline/core/manifest.h"
#include "node/base/timer_at.h"

static uint64_t now_ms(const struct watch *w)
{
    return uv_now(w->base->loop);
}

static uint32_t rand32(void *arg)
{
    (void)arg;
    return (uint32_t)random();
}

static int svc_index(const struct watch *w, const char *svc)
{
    for (size_t i = 0; i < w->wt.nsvc; i++)
        if (strcmp(w->wt.svc[i].spec.name, svc) == 0)
            return (int)i;
    return -1;
}

static void record(struct watch *w, const struct wt_recovery *r)
{
    char text[512];
    wt_recovery_text(r, text, sizeof(text));
    node_event(w->base, "recovery.restarted", NULL, "%s", text);
    w->recent[w->next] = *r;
    w->next = (w->next + 1) % WATCH_RECENT;
    if (w->nrecent < WATCH_RECENT)
        w->nrecent++;
    histogram_observe(&w->recovery, (double)r->ttr_ms / 1000.0);
    watch_lead_queue(w, r);
}

static void restart(struct watch *w, const struct wt_action *a)
{
    char err[512], why[128];
    wt_action_cause_text(a, why, sizeof(why));
    if (deploy_run_restart(w->dp, a->service, err, sizeof(err)) != 0) {
        node_event(w->base, "recovery.restart_failed", NULL, "service %s on %s: %s", a->service,
                   w->base->cfg.id, err);
        return;
    }
    w->restarts_total++;
    node_event(w->base, "recovery.restarting", NULL, "service %s on %s after %s, attempt %" PRIu32,
               a->service, w->base->cfg.id, why, a->attempt);
}

static void stop_stray(struct watch *w, int64_t pid)
{
    for (size_t i = 0; i < w->nstrays; i++)
        if (w->strays[i].pid == pid)
            return; /* already being stopped */
    if (w->nstrays == WATCH_MAX_STRAYS)
        return; /* the next scan finds it again */
    pid_t pg = getpgid((pid_t)pid);
    /* A stray that leads its own group (the driver's services do) goes
     * with its group; any other only by itself. */
    pid_t target = pg == (pid_t)pid ? -(pid_t)pid : (pid_t)pid;
    if (kill(target, SIGTERM) != 0)
        return;
    w->strays[w->nstrays++] = (struct watch_stray){pid, now_ms(w) + WATCH_STRAY_GRACE_MS};
    node_event(w->base, "recovery.stray_stopped", NULL,
               "%s: stopped process %" PRId64 " carrying this node's mark, no release wants it",
               w->base->cfg.id, pid);
}

static void step(struct watch *w, struct wt_event *ev);

static void gone(struct watch *w, const char *svc, int64_t pid)
{
    struct wt_event ev = {.kind = WT_EV_EXITED, .pid = pid};
    snprintf(ev.service, sizeof(ev.service), "%s", svc);
    step(w, &ev);
}

static void perform(struct watch *w, const struct wt_actions *out)
{
    for (size_t k = 0; k < out->n; k++) {
        const struct wt_action *a = &out->a[k];
        int i = svc_index(w, a->service);
        char why[128];
        wt_action_cause_text(a, why, sizeof(why));
        switch (a->kind) {
        case WT_ACT_RESTART:
            restart(w, a);
            break;
        case WT_ACT_RESTART_AT: {
            char in[32];
            manifest_duration_text(a->at_ms > now_ms(w) ? a->at_ms - now_ms(w) : 0, in, sizeof(in));
            node_event(w->base, "recovery.backoff", NULL,
                       "service %s on %s after %s: attempt %" PRIu32 " in %s", a->service,
                       w->base->cfg.id, why, a->attempt, in);
            break;
        }
        case WT_ACT_STOP:
            if (a->stray)
                stop_stray(w, a->pid);
            else if (i >= 0 && deploy_run_stop_service(w->dp, a->service, a->pid))
                node_event(w->base, "recovery.liveness_stop", NULL, "service %s on %s: %s",
                           a->service, w->base->cfg.id, why);
            else /* gone already: its exit is the core's cue to restart it */
                gone(w, a->service, a->pid);
            break;
        case WT_ACT_REPORT_CRASH_LOOP:
            node_event(w->base, "recovery.crash_loop", NULL,
                       "service %s on %s: %" PRIu32 " restarts within its interval, last %s",
                       a->service, w->base->cfg.id, a->attempts, why);
            watch_lead_report_loop(w, a);
            break;
        case WT_ACT_MARK_FAILED:
            w->failed_total++;
            node_event(w->base, "recovery.failed", NULL, "service %s on %s marked failed: %s",
                       a->service, w->base->cfg.id, why);
            break;
        case WT_ACT_RECORD:
            record(w, &a->recovery);
            break;
        }
    }
}

static void on_timer(uv_timer_t *t);

/* Arms the timer at the core's next deadline. */
static void rearm(struct watch *w)
{
    uint64_t due = wt_next_due(&w->wt);
    if (due == w->timer_at)
        return;
    w->timer_at = due;
    uv_timer_stop(&w->timer);
    if (due == UINT64_MAX)
        return;
    node_timer_at(&w->timer, on_timer, due, now_ms(w));
}

static void step(struct watch *w, struct wt_event *ev)
{
    struct wt_actions out = {0};
    ev->at_ms = now_ms(w);
    wt_step(&w->wt, ev, &out);
    perform(w, &out);
    rearm(w);
}

static void on_timer(uv_timer_t *t)
{
    struct watch *w = t->data;
    w->timer_at = UINT64_MAX;
    step(w, &(struct wt_event){.kind = WT_EV_TICK});
}

static void named(struct wt_event *ev, const char *svc)
{
    snprintf(ev->service, sizeof(ev->service), "%s", svc);
}

static void on_release(void *arg, const struct manifest *m)
{
    struct watch *w = arg;
    struct wt_service_spec specs[WT_MAX_SERVICES];
    size_t n = 0;
    struct wt_tuning t = wt_tuning_default();
    for (size_t i = 0; m && i < m->nservices && n < WT_MAX_SERVICES; i++)
        specs[n++] = wt_spec_from_manifest(&m->services[i], &t);
    step(w, &(struct wt_event){.kind = WT_EV_RELEASE, .specs = specs, .nspecs = n});
}

static void on_started(void *arg, const char *svc, int64_t pid)
{
    struct wt_event ev = {.kind = WT_EV_STARTED, .pid = pid};
    named(&ev, svc);
    step(arg, &ev);
}

static void on_exited(void *arg, const char *svc, int64_t pid, int64_t status, int sig)
{
    struct wt_event ev = {.kind = WT_EV_EXITED, .pid = pid, .status = status, .signal = sig};
    named(&ev, svc);
    step(arg, &ev);
}

static void on_start_failed(void *arg, const char *svc, const char *why)
{
    (void)why;
    struct wt_event ev = {.kind = WT_EV_START_FAILED};
    named(&ev, svc);
    step(arg, &ev);
}

static void on_check(void *arg, const char *svc, bool pass)
{
    struct wt_event ev = {.kind = WT_EV_CHECK, .pass = pass};
    named(&ev, svc);
    step(arg, &ev);
}

static void on_reverting(void *arg)
{
    step(arg, &(struct wt_event){.kind = WT_EV_REVERTING});
}

void watch_verdict(struct watch *w, const char *service, enum wt_verdict v)
{
    if (!w->started)
        return;
    watch_lead_verdict_arrived(w, service, v);
    struct wt_event ev = {.kind = WT_EV_VERDICT, .verdict = v};
    named(&ev, service);
    step(w, &ev);
}

/* Marked processes that are not in the group of a service of this node.
 * Processes already found unmarked are not read again (w->scan,
 * chaos/watchtower_scan.h): an idle node's scan is a listing of /proc. */
static void scan_strays(struct watch *w)
{
    DIR *d = opendir("/proc");
    if (!d)
        return;
    const char *mark = w->mark; /* deploy_run_mark's realpath is the same each time */
    size_t mlen = strlen(mark);
    pid_t self = getpid();
    wt_scan_begin(&w->scan);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        char *end;
        long pid = strtol(e->d_name, &end, 10);
        if (*end || pid <= 0 || pid == self || !wt_scan_check(&w->scan, pid, e->d_ino))
            continue;
        pid_t pg = getpgid((pid_t)pid);
        if (pg < 0 || deploy_run_owns_group(w->dp, pg))
            continue;
        if (!drv_pid_has_mark(pid, mark, mlen)) {
            wt_scan_unmarked(&w->scan, pid, e->d_ino);
            continue;
        }
        step(w, &(struct wt_event){.kind = WT_EV_MARKED, .pid = pid});
    }
    closedir(d);
    wt_scan_end(&w->scan);
}

void watch_tick(struct watch *w)
{
    if (!w->started)
        return;
    uint64_t now = now_ms(w);
    for (size_t i = 0; i < w->nstrays;) {
        struct watch_stray *s = &w->strays[i];
        bool gone = kill((pid_t)s->pid, 0) != 0 && errno == ESRCH;
        if (!gone && now < s->kill_at) {
            i++;
            continue;
        }
        if (!gone) {
            kill(-(pid_t)s->pid, SIGKILL);
            kill((pid_t)s->pid, SIGKILL);
        }
        *s = w->strays[--w->nstrays];
    }
    if (now >= w->scan_due) {
        w->scan_due = now + WATCH_SCAN_EVERY_MS;
        scan_strays(w);
    }
    if (now >= w->tick_due) {
        w->tick_due = now + WATCH_TICK_EVERY_MS;
        step(w, &(struct wt_event){.kind = WT_EV_TICK}); /* the core's "at least every second" */
    }
    watch_lead_tick(w);
}

int watch_start(struct watch *w, struct node_base *base, struct node_raft *raft,
                struct node_deploy *dp)
{
    w->base = base;
    w->raft = raft;
    w->dp = dp;
    w->enabled = base->cfg.recovery_enabled;
    histogram_init(&w->recovery, wt_mttr_bounds_s, WT_MTTR_NBUCKETS);
    if (!w->enabled)
        return 0;
    struct wt_config cfg = {.rand32 = rand32};
    snprintf(cfg.node, sizeof(cfg.node), "%s", base->cfg.id);
    wt_init(&w->wt, &cfg);
    srandom((unsigned)(uv_hrtime() ^ (uint64_t)getpid()));
    if (uv_timer_init(base->loop, &w->timer) != 0)
        return -1;
    w->timer.data = w;
    w->timer_at = UINT64_MAX;
    w->scan_due = now_ms(w) + WATCH_SCAN_EVERY_MS;
    w->mark = deploy_run_mark(dp);
    dp->obs = (struct deploy_observer){.arg = w,
                                       .release = on_release,
                                       .started = on_started,
                                       .exited = on_exited,
                                       .start_failed = on_start_failed,
                                       .check = on_check,
                                       .reverting = on_reverting};
    w->started = true;
    return 0;
}

void watch_stop(struct watch *w)
{
    if (!w->started)
        return;
    w->started = false;
    w->dp->obs = (struct deploy_observer){0};
    uv_timer_stop(&w->timer);
    uv_close((uv_handle_t *)&w->timer, NULL);
}
