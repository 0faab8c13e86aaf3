/* Benchmark: how fast a 5-node federation (chimerad's default timeouts:
 * heartbeat 50 ms, election timeout 150 ms) recovers when its leader dies,
 * and how fast a cut-off minority turns read-only. Prints figures and never
 * judges them: it fails only when the federation cannot be set up or does
 * not recover at all.
 *
 * Failover rounds (--rounds, default 30): wait for the steady state (one
 * leader, all five agree, none read-only), then a random 0-200 ms more so
 * the kill lands anywhere in the heartbeat cycle; SIGKILL the leader and,
 * from just before kill(), poll the four survivors every few ms:
 *   (a) until one of them reports itself leader in a higher term;
 *   (b) until the federation accepts a mutation again: a token-bearing
 *       POST /ledger/notes to the node claiming leadership is answered with
 *       anything but 401, 403, 503 or another 5xx (see h_mutation_accepted);
 *       a leader answers 201 only once the note is committed, so this is
 *       the time until a write commits again.
 * Then the killed node is restarted and the next round waits for steady
 * state again. A killed leader's connections close at once, and its
 * followers start a pre-vote on that (consensus.leader_disconnected) rather
 * than after the election timeout.
 *
 * Pause rounds (--pause-rounds, default 20): the same with SIGSTOP instead
 * of SIGKILL: a paused leader keeps its connections open, so only the
 * election timeout finds it ((d): T = 150 ms plus a vote is the floor).
 * Then SIGCONT: it hears the new term and follows.
 *
 * Minority rounds (--minority-rounds, default 10): SIGSTOP three of the
 * five (the leader among them in every other round); to the two still
 * running that is indistinguishable from a partition. (c) is the time from
 * the first SIGSTOP until both running nodes report read_only true. Then
 * SIGCONT and steady state again.
 *
 *   bench_failover [--rounds N] [--pause-rounds N] [--minority-rounds N] [--seed S]
 *
 * The machine's load average is printed with the figures: on a loaded
 * machine they are slower and noisier. */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define NODES 5
#define DEFAULT_HEARTBEAT_MS 50
#define DEFAULT_ELECTION_MS 150
#define MAX_JITTER_MS 200
/* Short, so that one slow answer does not blur the measurement. */
#define POLL_HTTP_TIMEOUT_MS 100
/* Pause between polling sweeps (a sweep itself takes ~1 ms). */
#define POLL_PAUSE_US 1000
/* A round that has not recovered by then is a failure, not a figure. */
#define RECOVERY_LIMIT_MS 15000
/* Issue 15's targets: (b) p50 <= 30 ms and p99 <= 100 ms; (d) p50 <= 190. */
#define TARGET_P50_MS 30.0
#define TARGET_P99_MS 100.0
#define TARGET_PAUSE_P50_MS 190.0

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void sleep_us(long us)
{
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR && !h_interrupted()) {
    }
}

/* splitmix64: the schedule (jitter, which nodes stop) is reproducible from
 * --seed; the timings of course are not. */
static uint64_t rng_state;
static uint64_t rng_next(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}
static int rng_below(int n)
{
    return (int)(rng_next() % (uint64_t)n);
}

/* ---- statistics --------------------------------------------------------- */

struct series {
    double v[1024];
    int n;
};

static void add(struct series *s, double v)
{
    if (s->n < (int)(sizeof s->v / sizeof s->v[0]))
        s->v[s->n++] = v;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank percentile (p in (0, 100]) of a sorted copy. */
static double pct(const struct series *s, double p)
{
    if (s->n == 0)
        return 0;
    double sorted[1024];
    memcpy(sorted, s->v, (size_t)s->n * sizeof sorted[0]);
    qsort(sorted, (size_t)s->n, sizeof sorted[0], cmp_double);
    int rank = (int)(p / 100.0 * s->n + 0.999999);
    if (rank < 1)
        rank = 1;
    if (rank > s->n)
        rank = s->n;
    return sorted[rank - 1];
}

static void print_series(const char *name, const struct series *s)
{
    if (s->n == 0) {
        printf("  %-44s (no samples)\n", name);
        return;
    }
    printf("  %-44s n=%-3d min %7.1f  p50 %7.1f  p99 %7.1f  max %7.1f ms\n", name, s->n,
           pct(s, 0.0001), pct(s, 50), pct(s, 99), pct(s, 100));
}

static void result_kv(const char *key, const struct series *s)
{
    printf(" %s_n=%d %s_min_ms=%.1f %s_p50_ms=%.1f %s_p99_ms=%.1f %s_max_ms=%.1f", key, s->n, key,
           pct(s, 0.0001), key, pct(s, 50), key, pct(s, 99), key, pct(s, 100));
}

/* ---- steps ---------------------------------------------------------------- */

/* Waits for the steady state; false (after printing why) when it does not
 * come. */
static bool steady(struct h_cluster *c, int *leader, unsigned long long *term)
{
    if (h_wait_agreed(c, 0, 3 * h_timeout_ms(), leader, term))
        return true;
    if (!h_interrupted())
        fprintf(stderr, "bench_failover: the federation never settled; now: %s (logs: %s)\n",
                h_views_line(c), c->dir);
    return false;
}

/* Steady, then a random extra pause; the leader must not have changed
 * meanwhile (it would not, short of a fault, but then try again). */
static bool steady_then_jitter(struct h_cluster *c, int *leader, unsigned long long *term,
                               int *jitter)
{
    for (int attempt = 0; attempt < 5; attempt++) {
        if (!steady(c, leader, term))
            return false;
        *jitter = rng_below(MAX_JITTER_MS + 1);
        sleep_us((long)*jitter * 1000);
        int l2;
        unsigned long long t2;
        if (h_agreed(c, 0, &l2, &t2) && l2 == *leader && t2 == *term)
            return true;
    }
    fprintf(stderr, "bench_failover: the leader keeps changing while idle; now: %s\n",
            h_views_line(c));
    return false;
}

struct failover {
    double elected_ms, accepted_ms; /* from just before kill() */
    int new_leader;
    unsigned long long new_term;
    double sweeps, sweep_ms_total;
};

/* Kills (or, with pause, stops) the leader and polls the survivors until
 * one claims leadership in a higher term and accepts a mutation. */
static bool measure_failover(struct h_cluster *c, int leader, unsigned long long term, bool pause,
                             struct failover *f)
{
    memset(f, 0, sizeof *f);
    f->elected_ms = f->accepted_ms = -1;
    f->new_leader = -1;
    pid_t pid = c->nodes[leader].pid;
    double t0 = now_ms();
    if (pause)
        h_node_pause(c, leader);
    else
        kill(pid, SIGKILL);
    while (!h_interrupted()) {
        double sweep0 = now_ms();
        for (int i = 0; i < c->n && f->accepted_ms < 0; i++) {
            if (i == leader)
                continue;
            struct h_view v;
            if (!h_view(c, i, POLL_HTTP_TIMEOUT_MS, &v) || strcmp(v.role, "leader") != 0 ||
                v.term <= term)
                continue;
            if (f->elected_ms < 0 || f->new_leader != i) {
                if (f->elected_ms < 0)
                    f->elected_ms = now_ms() - t0;
                f->new_leader = i;
                f->new_term = v.term;
            }
            long st = h_mutation(c, i, c->token, POLL_HTTP_TIMEOUT_MS, NULL);
            if (h_mutation_accepted(st))
                f->accepted_ms = now_ms() - t0;
        }
        double t = now_ms();
        f->sweeps++;
        f->sweep_ms_total += t - sweep0;
        if (f->accepted_ms >= 0)
            break;
        if (t - t0 > RECOVERY_LIMIT_MS) {
            fprintf(stderr,
                    "bench_failover: %d ms after %s leader %s no survivor accepted a "
                    "mutation; now: %s (logs: %s)\n",
                    RECOVERY_LIMIT_MS, pause ? "stopping" : "killing", c->nodes[leader].id,
                    h_views_line(c), c->dir);
            if (pause)
                h_node_resume(c, leader);
            return false;
        }
        sleep_us(POLL_PAUSE_US);
    }
    if (pause)
        h_node_resume(c, leader);
    else
        h_node_kill(c, leader); /* reap it */
    return f->accepted_ms >= 0;
}

/* Stops three nodes (the leader among them when with_leader) and polls the
 * two left running until both report read_only. Returns the time in ms
 * from the first SIGSTOP, or -1. */
static double measure_minority(struct h_cluster *c, int leader, bool with_leader, int running[2],
                               double *sweeps, double *sweep_ms)
{
    int order[NODES], k = 0;
    for (int i = 0; i < NODES; i++)
        if (i != leader)
            order[k++] = i;
    for (int i = k - 1; i > 0; i--) { /* shuffle the followers */
        int j = rng_below(i + 1), tmp = order[i];
        order[i] = order[j];
        order[j] = tmp;
    }
    int stop[3];
    if (with_leader) {
        stop[0] = leader, stop[1] = order[0], stop[2] = order[1];
        running[0] = order[2], running[1] = order[3];
    } else {
        stop[0] = order[0], stop[1] = order[1], stop[2] = order[2];
        running[0] = leader, running[1] = order[3];
    }
    double t0 = now_ms(), result = -1;
    for (int s = 0; s < 3; s++)
        h_node_pause(c, stop[s]);
    bool ro[2] = {false, false};
    while (!h_interrupted()) {
        double sweep0 = now_ms();
        for (int r = 0; r < 2; r++) {
            struct h_view v;
            if (!ro[r] && h_view(c, running[r], POLL_HTTP_TIMEOUT_MS, &v) && v.read_only)
                ro[r] = true;
        }
        double t = now_ms();
        (*sweeps)++;
        *sweep_ms += t - sweep0;
        if (ro[0] && ro[1]) {
            result = t - t0;
            break;
        }
        if (t - t0 > RECOVERY_LIMIT_MS) {
            fprintf(stderr,
                    "bench_failover: the running minority never turned read-only; now: %s\n",
                    h_views_line(c));
            break;
        }
        sleep_us(POLL_PAUSE_US);
    }
    for (int s = 0; s < 3; s++)
        h_node_resume(c, stop[s]);
    return result;
}

/* ---- main ---------------------------------------------------------------- */

/* The load averages, for the figures' context. */
static void print_load(const char *when)
{
    char buf[128] = "?";
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (!fgets(buf, sizeof buf, f))
            snprintf(buf, sizeof buf, "?\n");
        fclose(f);
    }
    buf[strcspn(buf, "\n")] = '\0';
    printf("load average %s: %s\n", when, buf);
}

static int parse_int(const char *flag, const char *s, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || errno != 0 || v < min || v > max) {
        fprintf(stderr, "%s: want %ld..%ld, got %s\n", flag, min, max, s);
        return -1;
    }
    *out = v;
    return 0;
}

int main(int argc, char **argv)
{
    long rounds = 30, prounds = 20, mrounds = 10, seed = -1;
    for (int a = 1; a < argc; a += 2) { /* each option takes a value */
        long *dst = NULL, min = 1, max = 1000;
        if (strcmp(argv[a], "--rounds") == 0)
            dst = &rounds;
        else if (strcmp(argv[a], "--pause-rounds") == 0)
            dst = &prounds, min = 0;
        else if (strcmp(argv[a], "--minority-rounds") == 0)
            dst = &mrounds, min = 0;
        else if (strcmp(argv[a], "--seed") == 0)
            dst = &seed, min = 0, max = 0x7fffffffL;
        if (!dst || a + 1 >= argc) {
            fprintf(stderr,
                    "usage: %s [--rounds N] [--pause-rounds N] [--minority-rounds N] [--seed S]\n",
                    argv[0]);
            return 2;
        }
        if (parse_int(argv[a], argv[a + 1], min, max, dst) != 0)
            return 2;
    }
    if (seed < 0)
        seed = (long)(time(NULL) ^ getpid()) & 0x7fffffffL;
    rng_state = (uint64_t)seed;
    signal(SIGPIPE, SIG_IGN);
    h_on_interrupt();

    printf("bench_failover: %d nodes on 127.0.0.1, heartbeat %d ms, election timeout %d ms "
           "(chimerad defaults), %ld failover rounds, %ld pause rounds, %ld minority rounds, "
           "seed %ld, nproc %ld\n",
           NODES, DEFAULT_HEARTBEAT_MS, DEFAULT_ELECTION_MS, rounds, prounds, mrounds, seed,
           sysconf(_SC_NPROCESSORS_ONLN));
    print_load("at the start");
    fflush(stdout);
    int code;
    struct h_cluster *c = h_bench_cluster(NODES, "bench_failover", &code);
    if (!c)
        return code;

    struct series elected = {0}, accepted = {0}, ro_all = {0}, ro_leader = {0}, ro_follow = {0};
    struct series p_elected = {0}, p_accepted = {0};
    double fsweeps = 0, fsweep_ms = 0, msweeps = 0, msweep_ms = 0;
    int rc = 0;
    for (long r = 1; r <= rounds && rc == 0 && !h_interrupted(); r++) {
        int leader, jitter;
        unsigned long long term;
        struct failover f;
        if (!steady_then_jitter(c, &leader, &term, &jitter) ||
            !measure_failover(c, leader, term, false, &f)) {
            rc = h_interrupted() ? 130 : 1;
            break;
        }
        add(&elected, f.elected_ms);
        add(&accepted, f.accepted_ms);
        fsweeps += f.sweeps;
        fsweep_ms += f.sweep_ms_total;
        printf("failover %2ld: killed %s (term %llu) %3d ms into steady state; %s leads term "
               "%llu: (a) elected %6.1f ms, (b) accepting %6.1f ms\n",
               r, c->nodes[leader].id, term, jitter, c->nodes[f.new_leader].id, f.new_term,
               f.elected_ms, f.accepted_ms);
        fflush(stdout);
        if (h_node_start(c, leader) != 0 || !h_wait_http_up(c, leader, h_timeout_ms())) {
            if (!h_interrupted())
                fprintf(stderr, "bench_failover: %s did not come back (log: %s)\n",
                        c->nodes[leader].id, c->nodes[leader].log);
            rc = h_interrupted() ? 130 : 1;
        }
    }
    for (long r = 1; r <= prounds && rc == 0 && !h_interrupted(); r++) {
        int leader, jitter;
        unsigned long long term;
        struct failover f;
        if (!steady_then_jitter(c, &leader, &term, &jitter) ||
            !measure_failover(c, leader, term, true, &f)) {
            rc = h_interrupted() ? 130 : 1;
            break;
        }
        add(&p_elected, f.elected_ms);
        add(&p_accepted, f.accepted_ms);
        printf("pause %2ld: stopped %s (term %llu) %3d ms into steady state; %s leads term "
               "%llu: elected %6.1f ms, (d) accepting %6.1f ms\n",
               r, c->nodes[leader].id, term, jitter, c->nodes[f.new_leader].id, f.new_term,
               f.elected_ms, f.accepted_ms);
        fflush(stdout);
    }
    for (long r = 1; r <= mrounds && rc == 0 && !h_interrupted(); r++) {
        int leader, jitter, running[2];
        unsigned long long term;
        bool with_leader = r % 2 == 1;
        if (!steady_then_jitter(c, &leader, &term, &jitter)) {
            rc = h_interrupted() ? 130 : 1;
            break;
        }
        double ms = measure_minority(c, leader, with_leader, running, &msweeps, &msweep_ms);
        if (ms < 0) {
            rc = h_interrupted() ? 130 : 1;
            break;
        }
        add(&ro_all, ms);
        add(with_leader ? &ro_leader : &ro_follow, ms);
        printf("minority %2ld: stopped 3 of 5 (%s) %3d ms into steady state; %s and %s "
               "read-only after (c) %6.1f ms\n",
               r, with_leader ? "the leader among them" : "the leader still running", jitter,
               c->nodes[running[0]].id, c->nodes[running[1]].id, ms);
        fflush(stdout);
    }

    if (h_interrupted())
        printf("\n(interrupted: the figures cover the rounds that finished)\n");
    double fres = fsweeps > 0 ? fsweep_ms / fsweeps + POLL_PAUSE_US / 1000.0 : 0;
    double mres = msweeps > 0 ? msweep_ms / msweeps + POLL_PAUSE_US / 1000.0 : 0;
    printf("\nresults (ms from just before kill() / the first SIGSTOP; nearest-rank "
           "percentiles, so p99 is the max below 100 samples):\n");
    print_series("(a) kill -> a survivor is leader (higher term)", &elected);
    print_series("(b) kill -> a mutation is accepted again", &accepted);
    print_series("    SIGSTOP leader -> a survivor is leader", &p_elected);
    print_series("(d) SIGSTOP leader -> a mutation is accepted", &p_accepted);
    print_series("(c) 3 of 5 stopped -> both others read-only", &ro_all);
    print_series("    (c) with the leader among the stopped", &ro_leader);
    print_series("    (c) with the leader still running", &ro_follow);
    printf("polling resolution: one sweep every %.1f ms on average for (a)/(b) (4 survivors, "
           "GET /federation/state each, then the POST), every %.1f ms for (c) (2 nodes)\n",
           fres, mres);
    bool met = accepted.n > 0 && pct(&accepted, 50) <= TARGET_P50_MS &&
               pct(&accepted, 99) <= TARGET_P99_MS;
    bool met_d = p_accepted.n > 0 && pct(&p_accepted, 50) <= TARGET_PAUSE_P50_MS;
    if (accepted.n > 0)
        printf("target for (b), p50 <= %.0f ms and p99 <= %.0f ms: %s (information only)\n",
               TARGET_P50_MS, TARGET_P99_MS, met ? "met" : "NOT met");
    if (p_accepted.n > 0)
        printf("target for (d), p50 <= %.0f ms: %s (information only)\n", TARGET_PAUSE_P50_MS,
               met_d ? "met" : "NOT met");
    printf("RESULT bench=failover nodes=%d heartbeat_ms=%d election_timeout_ms=%d seed=%ld "
           "nproc=%ld poll_ab_ms=%.1f poll_c_ms=%.1f",
           NODES, DEFAULT_HEARTBEAT_MS, DEFAULT_ELECTION_MS, seed, sysconf(_SC_NPROCESSORS_ONLN),
           fres, mres);
    result_kv("elected", &elected);
    result_kv("accepted", &accepted);
    result_kv("paused_accepted", &p_accepted);
    result_kv("read_only", &ro_all);
    result_kv("read_only_leader_stopped", &ro_leader);
    result_kv("read_only_leader_running", &ro_follow);
    printf(" target_b=%s target_d=%s\n",
           accepted.n == 0 ? "none"
           : met           ? "met"
                           : "not_met",
           p_accepted.n == 0 ? "none"
           : met_d           ? "met"
                             : "not_met");
    print_load("at the end");

    if (rc == 0 || h_interrupted())
        h_cluster_pass(c); /* nothing went wrong: no logs to keep */
    h_cluster_destroy(c);
    if (rc == 0 && h_interrupted())
        rc = 130;
    return rc;
}
