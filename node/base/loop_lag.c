/* See loop_lag.h. */
#include "node/base/loop_lag.h"

#include <inttypes.h>

static const double bucket_le[LOOP_LAG_BUCKETS] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                   0.05,   0.1,   0.25,   0.5,   1.0,  2.5};

double loop_lag_bucket_le(int i)
{
    return bucket_le[i];
}

void loop_lag_init(struct loop_lag *l)
{
    *l = (struct loop_lag){0};
    histogram_init(&l->hist, bucket_le, LOOP_LAG_BUCKETS);
}

void loop_lag_tick(struct loop_lag *l, uint64_t now_ns, uint32_t interval_ms)
{
    uint64_t prev = l->last_ns;
    l->last_ns = now_ns;
    if (prev == 0)
        return; /* the first tick has no schedule to be late for */
    uint64_t due = prev + (uint64_t)interval_ms * 1000000u;
    uint64_t lag = now_ns > due ? now_ns - due : 0;
    histogram_observe_ns(&l->hist, due, due + lag);
    if (lag > l->max_ns)
        l->max_ns = lag;
}

void loop_lag_metrics(FILE *f, const struct loop_lag *l)
{
    const char *h = "chimera_loop_lag_seconds";
    histogram_header(f, h,
                     "How late the heartbeat tick ran after its schedule: how long the event "
                     "loop was held.");
    histogram_write(f, h, "", &l->hist);
    const char *m = "chimera_loop_lag_max_seconds";
    fprintf(f,
            "# HELP %s The longest the heartbeat tick ran late since the node started.\n"
            "# TYPE %s gauge\n%s %.6f\n",
            m, m, m, (double)l->max_ns / 1e9);
}
