/* See raft_metrics.h. */
#include "node/raft/raft_metrics.h"

#include <string.h>

/* Bounds in seconds: a local disk's sync takes from a tenth of a ms to
 * seconds when it stalls (etcd's WAL fsync buckets); a commit is a round
 * trip and a sync or more; a round trip on a LAN is well under a ms. */
static const double fsync_le[] = {0.0005, 0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064,
                                  0.128,  0.256, 0.512, 1.024, 2.048, 4.096, 8.192};
static const double commit_le[] = {0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1,
                                   0.25,  0.5,   1,     2.5,  5,     10};
static const double rtt_le[] = {0.0001, 0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01,
                                0.025,  0.05,   0.1,    0.25,  0.5,   1,     2.5};
#define NB(a) (sizeof(a) / sizeof((a)[0]))

void raft_metrics_init(struct raft_metrics *m)
{
    memset(m, 0, sizeof(*m));
    histogram_init(&m->fsync, fsync_le, NB(fsync_le));
    histogram_init(&m->commit, commit_le, NB(commit_le));
    for (size_t i = 0; i < CONFIG_MAX_MEMBERS; i++)
        histogram_init(&m->rtt[i], rtt_le, NB(rtt_le));
}

void raft_metrics_from(struct raft_metrics *m, uint64_t commit)
{
    m->commit_seen = commit;
}

void raft_metrics_appended(struct raft_metrics *m, uint64_t last, uint64_t at_ns)
{
    m->led_last = last;
    if (m->count == RAFT_METRICS_APPENDS) {
        m->head = (m->head + 1) % RAFT_METRICS_APPENDS;
        m->count--;
    }
    size_t at = (m->head + m->count++) % RAFT_METRICS_APPENDS;
    m->appends[at].last = last;
    m->appends[at].at_ns = at_ns;
}

void raft_metrics_refused(struct raft_metrics *m, size_t count)
{
    m->failed += count;
}

void raft_metrics_committed(struct raft_metrics *m, uint64_t commit, uint64_t now_ns)
{
    if (commit > m->commit_seen) {
        m->committed += commit - m->commit_seen;
        m->commit_seen = commit;
    }
    while (m->count > 0 && m->appends[m->head].last <= commit) {
        histogram_observe_ns(&m->commit, m->appends[m->head].at_ns, now_ns);
        m->head = (m->head + 1) % RAFT_METRICS_APPENDS;
        m->count--;
    }
}

void raft_metrics_lost_lead(struct raft_metrics *m, uint64_t commit)
{
    if (m->led_last > commit)
        m->failed += m->led_last - commit;
    m->led_last = 0;
    m->count = 0;
    memset(m->hb_sent_ns, 0, sizeof(m->hb_sent_ns));
}

uint64_t raft_metrics_pending(const struct raft_metrics *m, bool leading, uint64_t commit)
{
    return leading && m->led_last > commit ? m->led_last - commit : 0;
}

void raft_metrics_heartbeat_sent(struct raft_metrics *m, size_t to, bool quiet, uint64_t now_ns,
                                 uint64_t lost_ns)
{
    if (to >= CONFIG_MAX_MEMBERS || quiet)
        return;
    uint64_t *sent = &m->hb_sent_ns[to];
    if (*sent == 0 || now_ns - *sent > lost_ns)
        *sent = now_ns;
}

void raft_metrics_heartbeat_answered(struct raft_metrics *m, size_t from, uint64_t now_ns)
{
    if (from >= CONFIG_MAX_MEMBERS || m->hb_sent_ns[from] == 0)
        return;
    histogram_observe_ns(&m->rtt[from], m->hb_sent_ns[from], now_ns);
    m->hb_sent_ns[from] = 0;
}
