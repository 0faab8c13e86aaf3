/* Shared by the watchtower's tests: a watchtower over one service "web"
 * (restart: 3 attempts in 60 s, delay 1 s, cap 8 s) whose jitter comes
 * from a value the test sets, and short ways to feed it events. */
#ifndef CHIMERA_TEST_WATCHTOWER_SUPPORT_H
#define CHIMERA_TEST_WATCHTOWER_SUPPORT_H

#include <stdio.h>
#include <string.h>

#include "chaos/watchtower.h"

#define SEC 1000u

static uint32_t jitter_value; /* what the injected generator returns */

static inline uint32_t fixed_rand(void *arg)
{
    (void)arg;
    return jitter_value;
}

static inline struct wt_service_spec web_spec(enum wt_mode mode, bool has_check)
{
    struct wt_service_spec s;
    memset(&s, 0, sizeof s);
    snprintf(s.name, sizeof s.name, "web");
    s.restart = (struct wt_restart){.attempts = 3,
                                    .interval_ms = 60 * SEC,
                                    .delay_ms = 1 * SEC,
                                    .max_delay_ms = 8 * SEC,
                                    .mode = mode};
    s.has_check = has_check;
    s.liveness_ms = 3 * SEC;
    s.start_grace_ms = 0;
    return s;
}

static inline void set_release(struct wt *w, const struct wt_service_spec *specs, size_t n,
                               uint64_t at)
{
    struct wt_event ev = {.kind = WT_EV_RELEASE, .at_ms = at, .specs = specs, .nspecs = n};
    struct wt_actions out;
    wt_step(w, &ev, &out);
}

/* A watchtower on node n2 running "web" as pid 100 since time 0. */
static inline void setup_spec(struct wt *w, struct wt_service_spec spec)
{
    struct wt_config cfg = {.rand32 = fixed_rand};
    snprintf(cfg.node, sizeof cfg.node, "n2");
    jitter_value = 0;
    wt_init(w, &cfg);
    set_release(w, &spec, 1, 0);
    struct wt_event ev = {.kind = WT_EV_STARTED, .at_ms = 0, .pid = 100};
    snprintf(ev.service, sizeof ev.service, "web");
    struct wt_actions out;
    wt_step(w, &ev, &out);
}

static inline struct wt_actions *feed(struct wt *w, struct wt_event ev)
{
    static struct wt_actions out;
    if (!ev.service[0] && ev.kind != WT_EV_TICK && ev.kind != WT_EV_MARKED)
        snprintf(ev.service, sizeof ev.service, "web");
    wt_step(w, &ev, &out);
    return &out;
}

static inline struct wt_actions *exited(struct wt *w, int64_t pid, int sig, uint64_t at)
{
    return feed(
        w,
        (struct wt_event){
            .kind = WT_EV_EXITED, .at_ms = at, .pid = pid, .status = sig ? 0 : 1, .signal = sig});
}

static inline struct wt_actions *started(struct wt *w, int64_t pid, uint64_t at)
{
    return feed(w, (struct wt_event){.kind = WT_EV_STARTED, .at_ms = at, .pid = pid});
}

static inline struct wt_actions *check(struct wt *w, bool pass, uint64_t at)
{
    return feed(w, (struct wt_event){.kind = WT_EV_CHECK, .at_ms = at, .pass = pass});
}

static inline struct wt_actions *tick(struct wt *w, uint64_t at)
{
    return feed(w, (struct wt_event){.kind = WT_EV_TICK, .at_ms = at});
}

/* The first action of kind k, or NULL. */
static inline const struct wt_action *find_action(const struct wt_actions *out,
                                                  enum wt_action_kind k)
{
    for (size_t i = 0; i < out->n; i++)
        if (out->a[i].kind == k)
            return &out->a[i];
    return NULL;
}

static inline size_t count_actions(const struct wt_actions *out, enum wt_action_kind k)
{
    size_t n = 0;
    for (size_t i = 0; i < out->n; i++)
        n += out->a[i].kind == k;
    return n;
}

/* Crash pid at `at`, tick at the restart's due time, start it again as
 * pid + 1 there. Returns the due time. */
static inline uint64_t crash_and_restart(struct wt *w, int64_t pid, uint64_t at)
{
    struct wt_actions *out = exited(w, pid, 9, at);
    const struct wt_action *later = find_action(out, WT_ACT_RESTART_AT);
    uint64_t due = later ? later->at_ms : at;
    if (later)
        tick(w, due);
    started(w, pid + 1, due);
    return due;
}

/* pid 100 crashes and is restarted 3 times (every attempt of web_spec's
 * policy, from time 0): pid 103 runs; its exit within the interval is a
 * crash loop. Returns the time of the last restart. */
static inline uint64_t use_every_attempt(struct wt *w)
{
    uint64_t t = crash_and_restart(w, 100, 0);
    t = crash_and_restart(w, 101, t);
    return crash_and_restart(w, 102, t);
}

#endif
