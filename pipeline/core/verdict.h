/* Verdict: how healthy the release running on this node is, decided from
 * what its services did. Pure: the shell (the node's run of a release)
 * runs the processes and the HTTP probes and feeds their outcomes here
 * with the wall clock; this core counts passes and failures against the
 * manifest's thresholds, judges the node from its services, and says when
 * a change of health is news for the leader and for the operators' events.
 *
 * The thresholds are Consul's and Kubernetes': healthy_threshold
 * consecutive passes make a service healthy, unhealthy_threshold
 * consecutive failures make it unhealthy; a service without a health check
 * is healthy once it runs. A node is crashed when any service exited,
 * unhealthy when one failed its checks past the threshold (the detail
 * names it), starting while one has not passed yet, and healthy when all
 * are, since the last of them became so. */
#ifndef CHIMERA_PIPELINE_CORE_VERDICT_H
#define CHIMERA_PIPELINE_CORE_VERDICT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pipeline/core/manifest.h"
#include "pipeline/core/rollout.h"

/* A service's last health error, whole: a probe's that got no answer
 * names the URL probed, what happened there and curl's own words
 * (pipeline/exec/health.c), which 128 bytes used to cut. Longer is cut
 * with "..." (pl_cut_text). Only memory holds it: the node's detail
 * (PL_DETAIL_MAX) names the service before it. */
#define VERDICT_ERROR_MAX 512
_Static_assert(PL_DETAIL_MAX >= MANIFEST_ID_MAX + 2 + VERDICT_ERROR_MAX,
               "a node's detail holds a service's name and its whole last error");

/* What one service did, as far as its health goes. */
struct verdict_service {
    bool exited; /* its process ended: status or sig says how */
    int64_t status;
    int sig;
    bool healthy, unhealthy;
    uint32_t passes, fails; /* consecutive */
    uint64_t healthy_since; /* wall clock ms */
    char last_error[VERDICT_ERROR_MAX];
};

/* The node's health as last judged (and reported). */
struct verdict {
    enum pl_health health;
    uint64_t healthy_since; /* wall clock ms; 0 unless healthy */
    char detail[PL_DETAIL_MAX];
};

/* What a change of health calls for. */
struct verdict_news {
    bool report;       /* health or detail changed: tell the leader now */
    const char *event; /* "deploy.healthy" or "deploy.unhealthy", or NULL */
};

/* One probe of service s answered (healthy or not, with error) at wall
 * time now_ms, judged against h's thresholds. */
void verdict_probe(struct verdict_service *s, const struct manifest_health *h, bool healthy,
                   const char *error, uint64_t now_ms);

/* The process of s ended with status, or by signal sig (0 if none). */
void verdict_exited(struct verdict_service *s, int64_t status, int sig);

/* Judges the node from its nsvc services (svc[i]: service i's state,
 * wherever the shell keeps it; ms: their manifest entries) at wall time
 * now_ms into out. A service without a health check becomes healthy here,
 * since now_ms. Returns false, leaving out alone, when there is nothing to
 * judge: the release failed to start, or has no manifest. */
bool verdict_judge(const struct verdict *cur, bool have_manifest,
                   struct verdict_service *const *svc, const struct manifest_service *ms,
                   size_t nsvc, uint64_t now_ms, struct verdict *out);

/* Sets v to health h (since, detail) and says what the change calls for. */
struct verdict_news verdict_set(struct verdict *v, enum pl_health h, uint64_t since,
                                const char *detail);

/* A node's report to the leader says how long it has been healthy, not
 * since when, so that clocks that disagree between nodes do not shorten
 * or stretch min_healthy_time. The node's side: the duration at wall time
 * now_ms (0 unless healthy). */
uint64_t verdict_healthy_for(enum pl_health h, uint64_t healthy_since, uint64_t now_ms);
/* The leader's side: since when, on its own clock at now_ms (0 unless
 * healthy; a duration longer than the clock's age is cut to it). */
uint64_t verdict_healthy_since(enum pl_health h, uint64_t healthy_for, uint64_t now_ms);

#endif
