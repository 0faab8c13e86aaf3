/* Waiting on a libuv loop in tests of the node's shell pieces (drivers,
 * health checks): run it until a condition holds, or until it is empty. */
#include <stdio.h>
#include <uv.h>

#include "harness.h"

static void on_tick(uv_timer_t *t)
{
    (void)t; /* only wakes the loop so the condition is looked at again */
}

bool h_loop_until(uv_loop_t *loop, bool (*pred)(void *), void *arg, int timeout_ms)
{
    uv_timer_t tick;
    uv_timer_init(loop, &tick);
    uv_timer_start(&tick, on_tick, 10, 10);
    uint64_t deadline = uv_now(loop) + (uint64_t)timeout_ms;
    bool ok;
    while (!(ok = pred(arg)) && uv_now(loop) < deadline)
        uv_run(loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&tick, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
    return ok;
}

static void on_watchdog(uv_timer_t *t)
{
    uv_stop(t->loop);
}

void h_loop_drain(uv_loop_t *loop, int timeout_ms)
{
    uv_timer_t dog;
    uv_timer_init(loop, &dog);
    uv_timer_start(&dog, on_watchdog, (uint64_t)timeout_ms, 0);
    uv_unref((uv_handle_t *)&dog);
    uv_run(loop, UV_RUN_DEFAULT);
    uv_close((uv_handle_t *)&dog, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
}

int h_loop_close(uv_loop_t *loop, int timeout_ms)
{
    h_loop_drain(loop, timeout_ms);
    int rc = uv_loop_close(loop);
    if (rc != 0)
        fprintf(stderr, "uv_loop_close: %s (a handle was left open)\n", uv_strerror(rc));
    return rc == 0 ? 0 : -1;
}
