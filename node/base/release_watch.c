#include "node/base/release_watch.h"

#include <stdio.h>
#include <string.h>

bool release_watch_bad(enum pl_health h)
{
    return h == PL_H_UNHEALTHY || h == PL_H_CRASHED || h == PL_H_START_FAILED;
}

enum release_watch_news release_watch_report(struct release_watch *w, uint64_t term, size_t idx,
                                             enum pl_health h, const char *deployment,
                                             int64_t now_ms, int64_t interval_ms,
                                             uint64_t *held_back)
{
    if (idx >= PL_MAX_NODES)
        return RELEASE_WATCH_NOTHING;
    if (term != w->term) {
        memset(w->m, 0, sizeof(w->m));
        w->term = term;
    }
    struct release_watch_member *m = &w->m[idx];
    if (!release_watch_bad(h)) {
        /* Starting (a service being started again) is not yet a recovery. */
        if (h != PL_H_HEALTHY)
            return RELEASE_WATCH_NOTHING;
        m->pending = false;
        if (!m->alerted)
            return RELEASE_WATCH_NOTHING;
        m->alerted = false;
        return RELEASE_WATCH_HEALTHY;
    }
    if (m->alerted && m->health == h && strcmp(m->deployment, deployment) == 0)
        return RELEASE_WATCH_NOTHING; /* raised already */
    if (m->used && now_ms - m->last_ms < interval_ms) {
        if (!m->pending || m->pending_health != h)
            m->held++;
        m->pending = true;
        m->pending_health = h;
        return RELEASE_WATCH_NOTHING;
    }
    *held_back = m->held > 0 && m->pending ? m->held - 1 : m->held;
    m->held = 0;
    m->pending = false;
    m->alerted = true;
    m->health = h;
    snprintf(m->deployment, sizeof(m->deployment), "%s", deployment);
    m->used = true;
    m->last_ms = now_ms;
    return RELEASE_WATCH_UNHEALTHY;
}
