/* GET /recovery: the recovery watchtower on this node (node/chaos/watch.h):
 * per service of the release running here its state, restarts within the
 * current interval and in all, the last failure's cause and MTTR (count,
 * sum, max, and the p50 of the last recoveries), and the recent
 * recoveries, newest first. The
 * watchtower's metrics for /metrics live here too. */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>

#include "node/api/api.h"
#include "node/chaos/watch.h"

static const char *state_name(const struct wt_service *s)
{
    if (s->marked_failed)
        return "failed";
    switch (s->state) {
    case WT_S_STARTING:
        return "starting";
    case WT_S_HEALTHY:
        return "healthy";
    case WT_S_UNHEALTHY:
        return "unhealthy";
    case WT_S_DOWN:
        return "down";
    case WT_S_FAILED:
        return "failed";
    case WT_S_STOPPING:
        return "stopping";
    }
    return "unknown";
}

static json_t *recovery_json(const struct watch *w, const struct wt_recovery *r)
{
    char cause[128];
    wt_cause_text(&r->cause, cause, sizeof(cause));
    return json_pack("{s:s, s:s, s:I, s:I, s:I}", "service", r->service, "cause", cause, "attempts",
                     (json_int_t)r->attempts, "failed_at_ms",
                     (json_int_t)node_wall_of_loop(w->base->loop, r->failed_at_ms), "ttr_ms",
                     (json_int_t)r->ttr_ms);
}

void api_recovery_get(struct node_api *api, struct http_request *req)
{
    const struct watch *w = api->watch;
    json_t *svcs = json_array(), *recent = json_array();
    for (size_t i = 0; w->enabled && i < w->wt.nsvc; i++) {
        const struct wt_service *s = &w->wt.svc[i];
        char cause[128];
        wt_cause_text(&s->last_cause, cause, sizeof(cause));
        json_array_append_new(
            svcs,
            json_pack(
                "{s:s, s:s, s:o, s:I, s:I, s:o, s:o, s:{s:I, s:I, s:I, s:I}}", "name", s->spec.name,
                "state", state_name(s), "pid", s->pid > 0 ? json_integer(s->pid) : json_null(),
                "attempts", (json_int_t)s->window_count, "restarts", (json_int_t)s->restarts,
                "last_cause", s->last_cause.kind ? json_string(cause) : json_null(),
                "restart_due_ms",
                s->state == WT_S_DOWN
                    ? json_integer((json_int_t)node_wall_of_loop(w->base->loop, s->restart_due_ms))
                    : json_null(),
                "mttr", "count", (json_int_t)s->mttr.count, "sum_ms", (json_int_t)s->mttr.sum_ms,
                "max_ms", (json_int_t)s->mttr.max_ms, "p50_ms", (json_int_t)wt_mttr_p50(&s->mttr)));
    }
    for (size_t k = 0; k < w->nrecent; k++) {
        size_t at = (w->next + WATCH_RECENT - 1 - k) % WATCH_RECENT;
        json_array_append_new(recent, recovery_json(w, &w->recent[at]));
    }
    json_t *o = json_pack("{s:s, s:b, s:I, s:I, s:I, s:o, s:o}", "node", api->base->cfg.id,
                          "enabled", w->enabled, "revert_window_ms",
                          (json_int_t)api->base->cfg.recovery_revert_window_ms, "restarts_total",
                          (json_int_t)w->restarts_total, "failed_total",
                          (json_int_t)w->failed_total, "services", svcs, "recent", recent);
    if (!o) {
        http_respond_error(req, 500, "cannot build the answer");
        return;
    }
    http_respond_json(req, 200, o);
}

void api_recovery_metrics(struct node_api *api, FILE *f)
{
    const struct watch *w = api->watch;
    fprintf(f, "# HELP chimera_recovery_restarts_total Services the recovery watchtower restarted "
               "on this node.\n# TYPE chimera_recovery_restarts_total counter\n");
    fprintf(f, "chimera_recovery_restarts_total %" PRIu64 "\n", w->restarts_total);
    fprintf(f, "# HELP chimera_recovery_failed_total Services marked failed after a crash loop "
               "on this node.\n# TYPE chimera_recovery_failed_total counter\n");
    fprintf(f, "chimera_recovery_failed_total %" PRIu64 "\n", w->failed_total);
    histogram_header(f, "chimera_recovery_time_seconds",
                     "Time from a service's failure to healthy again, per recovery.");
    histogram_write(f, "chimera_recovery_time_seconds", "", &w->recovery);
}
