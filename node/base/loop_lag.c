/* See loop_lag.h. */
#include "node/base/loop_lag.h"

#include <inttypes.h>

static const double bucket_le[LOOP_LAG_BUCKETS] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                   0.05,   0.1,   0.25,   0.5,   1.0,  2.5};

double loop_lag_bucket_le(int i)
{
    return bucket_le[i];
}

void loop_lag_tick(struct loop_lag *l, uint64_t now_ns, uint32_t interval_ms)
{
    uint64_t prev = l->last_ns;
    l->last_ns = now_ns;
    if (prev == 0)
        return; /* the first tick has no schedule to be late for */
    uint64_t due = prev + (uint64_t)interval_ms * 1000000u;
    uint64_t lag = now_ns > due ? now_ns - due : 0;
    int b = 0;
    while (b < LOOP_LAG_BUCKETS && (double)lag > bucket_le[b] * 1e9)
        b++;
    l->count[b]++;
    l->ticks++;
    l->sum_ns += lag;
    if (lag > l->max_ns)
        l->max_ns = lag;
}

void loop_lag_metrics(FILE *f, const struct loop_lag *l)
{
    const char *h = "chimera_loop_lag_seconds";
    fprintf(f,
            "# HELP %s How late the heartbeat tick ran after its schedule: how long the event "
            "loop was held.\n# TYPE %s histogram\n",
            h, h);
    uint64_t cum = 0;
    for (int b = 0; b < LOOP_LAG_BUCKETS; b++) {
        cum += l->count[b];
        fprintf(f, "%s_bucket{le=\"%g\"} %" PRIu64 "\n", h, bucket_le[b], cum);
    }
    fprintf(f, "%s_bucket{le=\"+Inf\"} %" PRIu64 "\n", h, l->ticks);
    fprintf(f, "%s_sum %.6f\n%s_count %" PRIu64 "\n", h, (double)l->sum_ns / 1e9, h, l->ticks);
    const char *m = "chimera_loop_lag_max_seconds";
    fprintf(f,
            "# HELP %s The longest the heartbeat tick ran late since the node started.\n"
            "# TYPE %s gauge\n%s %.6f\n",
            m, m, m, (double)l->max_ns / 1e9);
}
