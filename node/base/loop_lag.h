/* How late the node's periodic tick runs: the measure of how long the
 * event loop was held by something else (a large answer, a sync, a burst
 * of messages). Heartbeats leave on that tick, so a tick that runs late is
 * a heartbeat that left late; a lag near the election timeout deposes
 * leaders. Pure: the shell reports each tick's monotonic time; this module
 * keeps a histogram and the maximum and prints them for /metrics. */
#ifndef CHIMERA_LOOP_LAG_H
#define CHIMERA_LOOP_LAG_H

#include <stdint.h>
#include <stdio.h>

#include "node/base/histogram.h"

/* Upper bounds of the histogram buckets, in seconds (the +Inf bucket is
 * implied): fine below a heartbeat, coarse above an election timeout. */
#define LOOP_LAG_BUCKETS 12

/* Set up by loop_lag_init: no tick yet. */
struct loop_lag {
    uint64_t last_ns; /* when the previous tick ran; 0: none yet */
    struct histogram hist;
    uint64_t max_ns;
};

/* No tick yet, every bucket at 0. */
void loop_lag_init(struct loop_lag *l);

/* A tick of a timer repeating every interval_ms ran at now_ns (monotonic).
 * Its lag is how much later than one interval after the previous tick it
 * ran (0 when on time or early: libuv schedules in whole ms). */
void loop_lag_tick(struct loop_lag *l, uint64_t now_ns, uint32_t interval_ms);

/* Upper bound of bucket i in seconds (i < LOOP_LAG_BUCKETS). */
double loop_lag_bucket_le(int i);

/* Prints chimera_loop_lag_seconds (histogram) and
 * chimera_loop_lag_max_seconds (gauge) with their HELP and TYPE lines. */
void loop_lag_metrics(FILE *f, const struct loop_lag *l);

#endif
