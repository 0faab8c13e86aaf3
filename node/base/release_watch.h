/* The leader's watch over the release each member runs: it turns the
 * members' reports (pl_report: healthy, unhealthy, crashed, failed to
 * start) into news. A member whose release turns bad, inside a deployment
 * or long after one, is raised once (release.unhealthy), again only when it
 * turns bad in another way (unhealthy, then crashed; another deployment),
 * at most once per interval for each member (what was held back is
 * counted), and its recovery once it is healthy again (release.healthy).
 * Pure: the caller passes the time and the term; a new term (a new
 * leadership) starts afresh, since what an earlier leadership raised may be
 * stale. */
#ifndef CHIMERA_RELEASE_WATCH_H
#define CHIMERA_RELEASE_WATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pipeline/core/rollout.h"

/* How often one member may be raised unhealthy. */
#define RELEASE_WATCH_INTERVAL_MS 30000

struct release_watch_member {
    bool alerted;               /* raised unhealthy and not yet recovered */
    enum pl_health health;      /* what was raised */
    char deployment[PL_ID_MAX]; /* of what was raised */
    bool used;                  /* raised at least once */
    int64_t last_ms;            /* when it was last raised */
    bool pending;               /* a bad state held back by the interval */
    enum pl_health pending_health;
    uint64_t held; /* bad states held back since the last one raised */
};

struct release_watch {
    uint64_t term;
    struct release_watch_member m[PL_MAX_NODES];
};

enum release_watch_news {
    RELEASE_WATCH_NOTHING = 0,
    RELEASE_WATCH_UNHEALTHY, /* raise release.unhealthy */
    RELEASE_WATCH_HEALTHY,   /* raise release.healthy: it recovered */
};

/* Whether a health is trouble: unhealthy, crashed or failed to start. */
bool release_watch_bad(enum pl_health h);

/* Member idx (< PL_MAX_NODES) reported health h for deployment (its
 * release runs there) at now_ms, under the leadership of term. Returns
 * the news to raise; with RELEASE_WATCH_UNHEALTHY, *held_back is how many
 * bad states of that member the interval held back since the last one. */
enum release_watch_news release_watch_report(struct release_watch *w, uint64_t term, size_t idx,
                                             enum pl_health h, const char *deployment,
                                             int64_t now_ms, int64_t interval_ms,
                                             uint64_t *held_back);

#endif
