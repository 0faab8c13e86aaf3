/* Verdict: service health thresholds and the node's health (verdict.h).
 * Pure: no clock (the wall time comes in), no processes, no probes. */
#include "pipeline/core/verdict.h"
#include "pipeline/core/text.h"

#include <stdio.h>
#include <string.h>

void verdict_probe(struct verdict_service *s, const struct manifest_health *h, bool healthy,
                   const char *error, uint64_t now_ms)
{
    if (healthy) {
        s->fails = 0;
        if (++s->passes >= h->healthy_threshold && !s->healthy) {
            s->healthy = true;
            s->healthy_since = now_ms;
        }
        return;
    }
    /* "unhealthy" stays set once reached: a service that recovers is
     * healthy again, and the flag only matters while it is not. */
    s->passes = 0;
    pl_cut_text(s->last_error, sizeof(s->last_error), error ? error : "");
    if (++s->fails >= h->unhealthy_threshold) {
        s->healthy = false;
        s->unhealthy = true;
    }
}

void verdict_exited(struct verdict_service *s, int64_t status, int sig)
{
    s->exited = true;
    s->status = status;
    s->sig = sig;
}

bool verdict_judge(const struct verdict *cur, bool have_manifest,
                   struct verdict_service *const *svc, const struct manifest_service *ms,
                   size_t nsvc, uint64_t now_ms, struct verdict *out)
{
    /* A start that failed stays failed until the next decision restarts it. */
    if (cur->health == PL_H_START_FAILED || !have_manifest)
        return false;
    uint64_t since = 0;
    bool all_healthy = true;
    char detail[PL_DETAIL_MAX] = "";
    for (size_t i = 0; i < nsvc; i++) {
        struct verdict_service *s = svc[i];
        if (s->exited) {
            *out = (struct verdict){.health = PL_H_CRASHED};
            snprintf(out->detail, sizeof(out->detail), "%s exited (%s %d)", ms[i].name,
                     s->sig ? "signal" : "status", s->sig ? s->sig : (int)s->status);
            return true;
        }
        if (!ms[i].health.enabled && !s->healthy) {
            s->healthy = true; /* running is all it promises */
            s->healthy_since = now_ms;
        }
        if (s->unhealthy && !s->healthy)
            snprintf(detail, sizeof(detail), "%s: %s", ms[i].name, s->last_error);
        all_healthy = all_healthy && s->healthy;
        if (s->healthy && s->healthy_since > since)
            since = s->healthy_since;
    }
    if (all_healthy)
        *out = (struct verdict){.health = PL_H_HEALTHY, .healthy_since = since};
    else
        *out = (struct verdict){.health = detail[0] ? PL_H_UNHEALTHY : PL_H_STARTING};
    snprintf(out->detail, sizeof(out->detail), "%s", all_healthy ? "" : detail);
    return true;
}

struct verdict_news verdict_set(struct verdict *v, enum pl_health h, uint64_t since,
                                const char *given)
{
    /* Compared as kept: a detail cut the same way twice is no news. */
    char detail[sizeof(v->detail)];
    pl_cut_text(detail, sizeof(detail), given);
    struct verdict_news news = {.report = v->health != h || strcmp(v->detail, detail) != 0};
    /* Operators hear of the turns that matter to a rollout, not of every
     * start or stop. */
    if (v->health != h && (h == PL_H_HEALTHY || h == PL_H_UNHEALTHY || h == PL_H_CRASHED))
        news.event = h == PL_H_HEALTHY ? "deploy.healthy" : "deploy.unhealthy";
    v->health = h;
    v->healthy_since = since;
    memcpy(v->detail, detail, strlen(detail) + 1);
    return news;
}

uint64_t verdict_healthy_for(enum pl_health h, uint64_t healthy_since, uint64_t now_ms)
{
    return h == PL_H_HEALTHY && now_ms > healthy_since ? now_ms - healthy_since : 0;
}

uint64_t verdict_healthy_since(enum pl_health h, uint64_t healthy_for, uint64_t now_ms)
{
    if (healthy_for > now_ms)
        healthy_for = now_ms;
    return h == PL_H_HEALTHY ? now_ms - healthy_for : 0;
}
