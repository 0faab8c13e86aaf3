/* node_timer_at (timer_at.h). */
#include "node/base/timer_at.h"

void node_timer_at(uv_timer_t *t, uv_timer_cb cb, uint64_t at, uint64_t now)
{
    uv_timer_start(t, cb, at > now ? at - now : 1, 0);
}
