/* From a release manifest's service to the watchtower's spec (see
 * watchtower.h): the one place where the manifest's names meet the
 * watchtower's. */
#include "chaos/watchtower.h"

#include <stdio.h>

#include "pipeline/core/manifest.h"

struct wt_tuning wt_tuning_default(void)
{
    return (struct wt_tuning){.max_delay_ms = WT_DEFAULT_MAX_DELAY_MS,
                              .start_grace_ms = WT_DEFAULT_START_GRACE_MS,
                              .liveness_ms = 0};
}

struct wt_service_spec wt_spec_from_manifest(const struct manifest_service *s,
                                             const struct wt_tuning *t)
{
    struct wt_service_spec spec = {
        .restart = {.attempts = s->restart.attempts,
                    .interval_ms = s->restart.interval_ms,
                    .delay_ms = s->restart.delay_ms,
                    .max_delay_ms = t->max_delay_ms,
                    .mode =
                        s->restart.mode == MANIFEST_RESTART_FAIL ? WT_MODE_FAIL : WT_MODE_DELAY},
        .has_check = s->health.enabled,
        .start_grace_ms = t->start_grace_ms,
    };
    snprintf(spec.name, sizeof spec.name, "%s", s->name);
    if (s->health.enabled)
        spec.liveness_ms = t->liveness_ms
                               ? t->liveness_ms
                               : (uint64_t)s->health.unhealthy_threshold * s->health.interval_ms;
    return spec;
}
