#include "node/base/tick_slack.h"

/* A fifth of the interval: 10 ms at the default 50 ms heartbeat. Enough to
 * catch the leader's heartbeat, which drifts by the loop's lag each
 * interval; small enough that a tick is never much early or late for what
 * it times (a hello is due after 1.5 intervals of silence, a member is
 * suspect after 3). */
#define SLACK_DIVISOR 5

void tick_slack_init(struct tick_slack *s, uint32_t every_ms)
{
    *s = (struct tick_slack){.every_ms = every_ms, .slack_ms = every_ms / SLACK_DIVISOR};
}

bool tick_slack_early(const struct tick_slack *s, uint64_t now_ms)
{
    if (!s->ran)
        return false; /* the first tick runs at once on its timer */
    return now_ms + s->slack_ms >= s->last_ms + s->every_ms;
}

void tick_slack_ran(struct tick_slack *s, uint64_t now_ms)
{
    s->last_ms = now_ms;
    s->ran = true;
}

uint64_t tick_slack_timer_ms(const struct tick_slack *s)
{
    return (uint64_t)s->every_ms + s->slack_ms;
}

void tick_every_init(struct tick_every *e, uint32_t every_ms, uint64_t now_ms)
{
    *e = (struct tick_every){.last_ms = now_ms, .every_ms = every_ms};
}

bool tick_every_due(struct tick_every *e, uint64_t now_ms)
{
    if (now_ms < e->last_ms + e->every_ms)
        return false;
    e->last_ms = now_ms; /* from this run, not the schedule: never closer than a period */
    return true;
}
