/* When the node's heartbeat tick runs. It runs on its own timer every
 * interval, but the loop is awake anyway several times an interval (a
 * leader's Raft heartbeat, a follower's APPEND and its answer): a tick due
 * within the slack either side (a fifth of the interval) runs with such a
 * wake-up instead of waking the loop once more a few milliseconds away, and
 * its timer starts over from then. Its own timer is set an interval plus
 * the slack after the last tick, so the tick locks onto a wake-up that
 * recurs every interval (the leader's heartbeat) even when that one drifts
 * later each time, and stays there. Ticks are never closer than an
 * interval less the slack nor, on a loop that is not held, further apart
 * than an interval plus the slack, so the hellos (due after 1.5 intervals),
 * the peers' statuses (suspect after 3) and the layers' timers keep their
 * pace.
 * Pure: times are loop ms, passed in. */
#ifndef CHIMERA_TICK_SLACK_H
#define CHIMERA_TICK_SLACK_H

#include <stdbool.h>
#include <stdint.h>

struct tick_slack {
    uint64_t last_ms; /* when the tick last ran */
    bool ran;         /* it ran at least once */
    uint32_t every_ms, slack_ms;
};

/* The tick runs every every_ms; nothing ran yet. */
void tick_slack_init(struct tick_slack *s, uint32_t every_ms);

/* Whether a loop turn at now_ms, awake for something else, runs the tick
 * now rather than leave it to its timer. */
bool tick_slack_early(const struct tick_slack *s, uint64_t now_ms);

/* The tick ran at now_ms (on its timer or with another wake-up). */
void tick_slack_ran(struct tick_slack *s, uint64_t now_ms);

/* How long after a tick its own timer runs the next one: an interval plus
 * the slack. */
uint64_t tick_slack_timer_ms(const struct tick_slack *s);

/* A job with a period of its own that rides on the tick rather than wake
 * the loop on a timer (the transport's scans): it runs at the first tick
 * at least every_ms after it last ran, so its period stays a floor and the
 * tick's spacing bounds how much later it runs. */
struct tick_every {
    uint64_t last_ms; /* when it last ran (or the period started) */
    uint32_t every_ms;
};

/* Its period starts at now_ms: first due every_ms later. */
void tick_every_init(struct tick_every *e, uint32_t every_ms, uint64_t now_ms);

/* Whether it is due at a tick at now_ms; when it is, its next period
 * starts now. */
bool tick_every_due(struct tick_every *e, uint64_t now_ms);

#endif
