/* sim_consensus: the deterministic whole-cluster simulation of the Raft
 * core (consensus/consensus.h), election and log replication, under
 * partitions, one-way cuts, loss, latency spikes, reordering, duplicates,
 * crashes and restarts from the persisted state, disks that refuse writes
 * for a while, while leaders append
 * entries; every invariant of lib/check.c and lib/check_log.c after every
 * step.
 *
 *   sim_consensus --schedules N [--start S] [--nodes 3|5|7] [--break MODE]
 *   sim_consensus --seed S [--nodes 3|5|7] [--trace] [--break MODE]
 *
 * Schedule k runs seed start + k (start defaults to 1, so CI is
 * deterministic) with 3, 5 or 7 nodes by seed % 3 unless --nodes. A
 * schedule is a pure function of (seed, nodes, break mode): a failure prints
 * the one line that replays it. --break injects a deliberate bug into the
 * simulated shell (vote: the disk forgets the vote on restart; quorum: the
 * shell forges heartbeat acks, defeating check-quorum; heal: the final heal
 * leaves the links cut; persist: the shell never writes the term and vote;
 * truncate-committed: the shell's recovery cuts committed entries off its
 * log on restart; flip-hash: the recovery flips a bit of a committed entry's
 * hash; ack-early: log changes reach the disk after the out's messages;
 * disk: a leader's shell drops the entries its failed disk refuses without
 * telling the core; tell-early, with --slow-sync: the leader's core hears
 * its entries are durable before their sync returned; ack-unsynced, with
 * --slow-sync: a follower's core does; notice-all, with --flap: every node
 * hears of one node's lost connection as its own) to show that the checker
 * catches it. --slow-sync models the node's shell, which syncs off its loop
 * (node/raft/node_group.c, §10.2.1): log changes reach mem (and the
 * leader's go out) at once, the disk when the sync returns, 1 to 5 ms or
 * often 50 to 100 ms later; the core counts the leader's own match and
 * lets a follower acknowledge only then. --keep-going reports
 * every failing schedule instead of stopping at the first.
 *
 * Connection loss (--conn-loss): a crashed node's peers hear its
 * connections drop (cons_peer_lost) within 2 ms, and see them back when it
 * restarts, as chimerad's transport reports them; and two more faults: one
 * pair's connection flaps (notices only,
 * while messages flow as the other faults let them) and every connection
 * of a live node, often the leader, drops at once. --flap makes the schedule's only fault a
 * flapping connection, one pair at a time, often the leader's with a follower, its link sometimes
 * cut while down, and checks N (lib/check.c): no election storm, the term never moves once every
 * node follows one leader. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/opts.h"
#include "lib/sim.h"

struct totals {
    uint64_t schedules, per_n[SIM_MAX_NODES + 1];
    struct sim_stats st;
    uint64_t *ttl; /* time to leader after each heal */
    size_t nttl, capttl;
    uint64_t over[11]; /* over[k]: schedules whose time to leader exceeded k*T */
    uint64_t slowest_seed, slowest_ms;
    int slowest_n;
    uint64_t lat[SIM_LAT_BUCKETS]; /* commit latency histogram (ms) */
    uint64_t conv_max, conv_seed;
    uint64_t fo[SIM_LAT_BUCKETS]; /* leader crash to the next leader (ms) */
};

static void usage(FILE *f)
{
    fprintf(f, "usage: sim_consensus [--schedules N] [--start S] [--seed S] [--nodes 3|5|7]\n"
               "                     [--trace] [--keep-going] [--break vote|quorum|heal|persist|\n"
               "                     truncate-committed|flip-hash|ack-early|disk|tell-early|\n"
               "                     notice-all, ack-unsynced]\n"
               "                     [--slow-sync] [--conn-loss] [--flap]\n");
}

static void add_stats(struct sim_stats *a, const struct sim_stats *b)
{
    a->virtual_ms += b->virtual_ms;
    a->steps += b->steps;
    a->sent += b->sent;
    a->delivered += b->delivered;
    a->dropped_cut += b->dropped_cut;
    a->dropped_loss += b->dropped_loss;
    a->dropped_crash += b->dropped_crash;
    a->duplicated += b->duplicated;
    a->elections += b->elections;
    a->crashes += b->crashes;
    a->restarts += b->restarts;
    a->partitions += b->partitions;
    a->faults += b->faults;
    a->dual_writable += b->dual_writable;
    a->proposed += b->proposed;
    a->noops += b->noops;
    a->committed += b->committed;
    a->committed_noops += b->committed_noops;
    a->max_log = a->max_log > b->max_log ? a->max_log : b->max_log;
    a->truncations += b->truncations;
    a->truncated += b->truncated;
    a->stale_appends += b->stale_appends;
    a->bursts += b->bursts;
    a->entries_sent += b->entries_sent;
    a->entries_appended += b->entries_appended;
    a->entries_refused += b->entries_refused;
    a->entries_held += b->entries_held;
    a->entries_ignored += b->entries_ignored;
    a->entries_dup += b->entries_dup;
    a->max_in_flight = a->max_in_flight > b->max_in_flight ? a->max_in_flight : b->max_in_flight;
    a->disk_faults += b->disk_faults;
    a->disk_refusals += b->disk_refusals;
    a->disk_stepdowns += b->disk_stepdowns;
    a->transfers += b->transfers;
    a->transfers_done += b->transfers_done;
    a->transfers_failed += b->transfers_failed;
    a->transfers_resumed += b->transfers_resumed;
    a->notices += b->notices;
    a->early_prevotes += b->early_prevotes;
    a->flaps += b->flaps;
    a->conn_drops += b->conn_drops;
    a->failovers += b->failovers;
    a->failover_ms_total += b->failover_ms_total;
    a->failover_ms_max =
        a->failover_ms_max > b->failover_ms_max ? a->failover_ms_max : b->failover_ms_max;
}

/* Nearest-rank percentile of a histogram of 1 ms buckets. */
static uint64_t hist_pct(const uint64_t *h, size_t nb, unsigned p)
{
    uint64_t total = 0, seen = 0;
    for (size_t k = 0; k < nb; k++)
        total += h[k];
    if (!total)
        return 0;
    uint64_t rank = (total * p + 99) / 100;
    for (size_t k = 0; k < nb; k++) {
        seen += h[k];
        if (seen >= rank)
            return k;
    }
    return nb - 1;
}

static void add_ttl(struct totals *t, uint64_t ms, uint64_t seed, int n)
{
    if (ms >= t->slowest_ms) {
        t->slowest_ms = ms;
        t->slowest_seed = seed;
        t->slowest_n = n;
    }
    if (t->nttl == t->capttl) {
        t->capttl = t->capttl ? 2 * t->capttl : 1024;
        t->ttl = realloc(t->ttl, t->capttl * sizeof *t->ttl);
        if (!t->ttl) {
            fprintf(stderr, "sim: out of memory\n");
            exit(2);
        }
    }
    t->ttl[t->nttl++] = ms;
    for (int k = 0; k <= 10; k++)
        t->over[k] += ms > (uint64_t)k * SIM_T;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank percentile of the sorted samples. */
static uint64_t pct(const uint64_t *v, size_t n, unsigned p)
{
    if (!n)
        return 0;
    size_t rank = (n * p + 99) / 100;
    return v[rank ? rank - 1 : 0];
}

static void summary(struct totals *t, double wall)
{
    const struct sim_stats *st = &t->st;
    qsort(t->ttl, t->nttl, sizeof *t->ttl, cmp_u64);
    printf("schedules: %" PRIu64 " (3 nodes: %" PRIu64 ", 5 nodes: %" PRIu64 ", 7 nodes: %" PRIu64
           ")\n",
           t->schedules, t->per_n[3], t->per_n[5], t->per_n[7]);
    printf("virtual time simulated: %.1f s in %" PRIu64 " steps; wall time %.1f s\n",
           st->virtual_ms / 1e3, st->steps, wall);
    printf("faults: %" PRIu64 " (partitions %" PRIu64 ", crashes %" PRIu64 ", restarts %" PRIu64
           ")\n",
           st->faults, st->partitions, st->crashes, st->restarts);
    printf("disk faults: %" PRIu64 " (writes refused %" PRIu64
           ", leaders stepped down for one %" PRIu64 ")\n",
           st->disk_faults, st->disk_refusals, st->disk_stepdowns);
    printf("leadership transfers: %" PRIu64 " started, %" PRIu64 " done, %" PRIu64
           " failed (%" PRIu64 " of those with the leader leading on)\n",
           st->transfers, st->transfers_done, st->transfers_failed, st->transfers_resumed);
    printf("connection loss: %" PRIu64 " notices, %" PRIu64 " early pre-votes, %" PRIu64
           " flapping episodes, %" PRIu64 " live nodes' connections dropped\n",
           st->notices, st->early_prevotes, st->flaps, st->conn_drops);
    printf("leader crashed -> next leader (virtual ms): %" PRIu64 " times, p50 %" PRIu64
           ", p99 %" PRIu64 ", max %" PRIu64 "\n",
           st->failovers, hist_pct(t->fo, SIM_LAT_BUCKETS, 50),
           hist_pct(t->fo, SIM_LAT_BUCKETS, 99), st->failover_ms_max);
    printf("elections (distinct term leaders): %" PRIu64
           "; moments with two writable leaders: %" PRIu64 "\n",
           st->elections, st->dual_writable);
    printf("messages: sent %" PRIu64 ", delivered %" PRIu64 ", dropped %" PRIu64 " (cut %" PRIu64
           ", loss %" PRIu64 ", crash %" PRIu64 "), duplicated %" PRIu64 "\n",
           st->sent, st->delivered, st->dropped_cut + st->dropped_loss + st->dropped_crash,
           st->dropped_cut, st->dropped_loss, st->dropped_crash, st->duplicated);
    printf("time to agreed leader after heal (virtual ms): p50 %" PRIu64 ", p99 %" PRIu64
           ", max %" PRIu64 " (seed %" PRIu64 ", %d nodes; bound %u = 10T)\n",
           pct(t->ttl, t->nttl, 50), pct(t->ttl, t->nttl, 99), t->slowest_ms, t->slowest_seed,
           t->slowest_n, SIM_LIVE_BOUND);
    printf("schedules over a bound of kT (T=%u ms):", SIM_T);
    for (int k = 1; k <= 10; k++)
        printf(" %dT:%" PRIu64, k, t->over[k]);
    printf("\n");
    printf("entries: proposed %" PRIu64 " (+%" PRIu64 " election entries), committed %" PRIu64
           " (+%" PRIu64 "), truncated %" PRIu64 " in %" PRIu64 " truncations; max log %" PRIu64
           "; stale APPENDs dropped %" PRIu64 "\n",
           st->proposed, st->noops, st->committed, st->committed_noops, st->truncated,
           st->truncations, st->max_log, st->stale_appends);
    /* The resend amplification: entries sent per entry a follower appended
     * (1.0 would be every entry sent once to every follower that lacked it;
     * losses to cuts and crashes and truncated suffixes add to it). */
    uint64_t delivered =
        st->entries_appended + st->entries_held + st->entries_refused + st->entries_ignored;
    uint64_t lost = st->entries_sent + st->entries_dup > delivered
                        ? st->entries_sent + st->entries_dup - delivered
                        : 0;
    printf("entries in APPENDs sent: %" PRIu64 ", appended by followers: %" PRIu64
           " (amplification %.2fx); of those sent: lost %" PRIu64 ", refused %" PRIu64
           ", already held %" PRIu64 ", ignored %" PRIu64 " (+%" PRIu64 " duplicated copies)\n",
           st->entries_sent, st->entries_appended,
           st->entries_appended ? (double)st->entries_sent / (double)st->entries_appended : 0.0,
           lost, st->entries_refused, st->entries_held, st->entries_ignored, st->entries_dup);
    printf("bursts over one follower's pipeline (%u entries): %" PRIu64
           "; most messages in flight: %" PRIu64 " (storm limit %u)\n",
           CONS_MAX_BATCH * CONS_MAX_INFLIGHT, st->bursts, st->max_in_flight, SIM_MAX_IN_FLIGHT);
    printf("commit latency (virtual ms, proposal to first commit): p50 %" PRIu64 ", p99 %" PRIu64
           ", max %" PRIu64 "%s\n",
           hist_pct(t->lat, SIM_LAT_BUCKETS, 50), hist_pct(t->lat, SIM_LAT_BUCKETS, 99),
           hist_pct(t->lat, SIM_LAT_BUCKETS, 100), t->lat[SIM_LAT_BUCKETS - 1] ? " (capped)" : "");
    printf("logs converged after agreement (virtual ms): max %" PRIu64 " (seed %" PRIu64
           "; bound %u = T + 5H)\n",
           t->conv_max, t->conv_seed, SIM_CONV_BOUND);
}

int main(int argc, char **argv)
{
    static const char *const breaks[BREAK_COUNT] = {
        "none",      "vote",      "quorum", "heal",       "persist",    "truncate-committed",
        "flip-hash", "ack-early", "disk",   "tell-early", "notice-all", "ack-unsynced"};
    struct sim_opts o;
    int status = sim_opts_parse(&o, argc, argv, "sim_consensus", breaks, BREAK_COUNT, usage);
    if (status >= 0)
        return status;
    enum sim_break brk = (enum sim_break)o.brk;
    uint64_t failed = 0;

    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    static struct totals tot;
    static struct sim s;
    for (uint64_t k = 0; k < o.schedules; k++) {
        uint64_t sd = o.start + k;
        int n = sim_opts_nodes(&o, sd);
        sim_init(&s, sd, n, brk, o.trace);
        s.slow_sync = o.slow_sync;
        s.lat_hist = tot.lat;
        s.fo_hist = tot.fo;
        if (o.conn_loss)
            faults_conn_loss(&s);
        if (o.flap)
            faults_flapping(&s);
        int rc = sim_run(&s);
        tot.schedules++;
        tot.per_n[n]++;
        add_stats(&tot.st, &s.st);
        if (rc) {
            printf("VIOLATION seed=%" PRIu64 " nodes=%d invariant \"%s\" at %" PRIu64 " ms: %s\n",
                   sd, n, s.inv, s.now, s.why);
            printf("replay: %s --seed %" PRIu64 " --nodes %d --trace%s%s%s%s%s\n", argv[0], sd, n,
                   o.slow_sync ? " --slow-sync" : "", o.conn_loss ? " --conn-loss" : "",
                   o.flap ? " --flap" : "", brk ? " --break " : "", brk ? breaks[brk] : "");
            failed++;
            sim_free(&s);
            if (o.keep_going)
                continue;
            printf("%" PRIu64 " passed, 1 failed\n", k);
            free(tot.ttl);
            return 1;
        }
        add_ttl(&tot, sim_time_to_leader(&s), sd, n);
        if (s.st.conv_ms >= tot.conv_max) {
            tot.conv_max = s.st.conv_ms;
            tot.conv_seed = sd;
        }
        sim_free(&s);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    summary(&tot, (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
    printf("%" PRIu64 " passed, %" PRIu64 " failed\n", tot.schedules - failed, failed);
    free(tot.ttl);
    return failed ? 1 : 0;
}
