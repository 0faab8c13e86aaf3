/* Arming a libuv timer at a time on a clock: the one way the node's shells
 * do it, so that no timer can hold the loop. */
#ifndef CHIMERA_NODE_TIMER_AT_H
#define CHIMERA_NODE_TIMER_AT_H

#include <stdint.h>
#include <uv.h>

/* Starts t (one-shot) to run cb at `at`, a time of the clock `now` is read
 * from (the loop's or the wall's, in ms), and never sooner than 1 ms from
 * now. A time already past is 1 ms, not 0: libuv before 1.48 (Debian 12
 * has 1.44) runs a timer started at 0 ms from a timer callback again in
 * the same pass over the timers (libuv/libuv#4245), so a callback whose
 * next time stays in the past would spin there without the loop ever
 * polling again: no message read, no request answered. */
void node_timer_at(uv_timer_t *t, uv_timer_cb cb, uint64_t at, uint64_t now);

#endif
