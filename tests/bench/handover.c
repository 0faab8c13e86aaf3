/* Benchmark: the write gap when the leader of a 5-node federation hands
 * over or stops, with a writer running: SIGTERM (the leader hands
 * leadership to the most up-to-date follower first, §3.10), POST
 * /leader/transfer (the same on demand; the old leader stays up), and
 * SIGKILL (the others must wait for an election timeout). Prints figures
 * and never judges them; it fails only when the federation cannot be set
 * up or does not take writes again.
 *
 * One writer thread posts single notes one after the other, as a
 * well-behaved client does, knowing nothing of the signals: to the node it
 * believes leads; a 307 is followed at once to the member it names; a
 * refused connection or a 503 moves to the next member after a pause of
 * RETRY_PAUSE_US (so that the pause is not what the figure measures).
 * Each round: wait until all five agree on a leader and every node hears
 * every other (a restarted node's peers reconnect with a back-off: a
 * rolling restart waits for that too), and the writer has been
 * acknowledged since; then act on the leader, and take the gap = the first
 * acknowledgement by another node minus the last one by the old leader (a
 * request in flight may still be answered after the signal). What the
 * writer got in between is counted: 307s, 503s, refused connections, and
 * the longest single request (a write held during the transfer). A round
 * in which the old leader acknowledged no write has no gap to take: it is
 * skipped and counted (handover_gap.h).
 *
 *   bench_handover [--rounds N]   (N per kind, default 10) */
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "handover_gap.h"
#include "harness.h"
#include "ctl/ctl.h"
#include "harness_release.h"

#define NODES 5
#define ROUND_LIMIT_MS 15000
#define WRITE_TIMEOUT_MS 1000
#define RETRY_PAUSE_US 1000

enum kind { SIGTERM_KIND, TRANSFER_KIND, SIGKILL_KIND, KINDS };
static const char *const kind_names[KINDS] = {"SIGTERM", "transfer", "SIGKILL"};

/* What the writer got between the old leader's last acknowledgement and
 * another node's first. */
struct seen {
    atomic_uint redirects, unavailable, refused;
    atomic_uint_fast64_t longest_ns;
    atomic_uint_fast64_t held_sent, redirected; /* the first 307: its request sent, answered */
    atomic_int first_by;                        /* the node of first_other */
};

struct writer {
    struct h_cluster *c;
    atomic_bool stop;
    atomic_uint_fast64_t last;           /* monotonic ns of the last 201 */
    atomic_uint_fast64_t last_of[NODES]; /* the same, by the node that answered */
    atomic_int watch;                    /* the old leader, or -1 */
    atomic_uint_fast64_t first_other;    /* the first 201 by another node since (0: none) */
    atomic_uint_fast64_t acks;
    struct seen seen;
};

static void count(struct writer *w, long st, uint64_t took)
{
    if (atomic_load(&w->watch) < 0 || atomic_load(&w->first_other) != 0)
        return;
    if (st == 307)
        atomic_fetch_add(&w->seen.redirects, 1);
    else if (st == 0)
        atomic_fetch_add(&w->seen.refused, 1);
    else if (st != 201)
        atomic_fetch_add(&w->seen.unavailable, 1);
    if (took > atomic_load(&w->seen.longest_ns))
        atomic_store(&w->seen.longest_ns, took);
}

/* The first 307 of a round: when its request left and when it came back. */
static void count_redirect(struct writer *w, uint64_t t0, uint64_t t)
{
    if (atomic_load(&w->watch) < 0 || atomic_load(&w->first_other) != 0 ||
        atomic_load(&w->seen.redirected) != 0)
        return;
    atomic_store(&w->seen.held_sent, t0);
    atomic_store(&w->seen.redirected, t);
}

static void *write_notes(void *arg)
{
    struct writer *w = arg;
    int at = 0;
    for (uint64_t k = 0; !atomic_load(&w->stop); k++) {
        char body[64];
        snprintf(body, sizeof body, "{\"note\":\"h-%" PRIu64 "\"}", k);
        long st = 0;
        uint64_t t0 = h_now_ns();
        char *ans = h_http_request(w->c, at, "POST", "/ledger/notes", body, w->c->token,
                                   WRITE_TIMEOUT_MS, &st);
        uint64_t t = h_now_ns();
        count(w, st, t - t0);
        if (st == 307)
            count_redirect(w, t0, t);
        if (st == 201) {
            atomic_store(&w->last_of[at], t);
            int old = atomic_load(&w->watch);
            if (old >= 0 && at != old && atomic_load(&w->first_other) == 0) {
                atomic_store(&w->seen.first_by, at);
                atomic_store(&w->first_other, t);
            }
            atomic_store(&w->last, t);
            atomic_fetch_add(&w->acks, 1);
        } else if (st == 307 && ans) {
            json_t *j = json_loads(ans, 0, NULL);
            int l = h_node_index(w->c, json_string_value(json_object_get(j, "leader")));
            at = l >= 0 ? l : (at + 1) % NODES;
            json_decref(j);
        } else {
            at = (at + 1) % NODES;
            usleep(RETRY_PAUSE_US);
        }
        free(ans);
    }
    return NULL;
}

struct acked_after {
    struct writer *w;
    uint64_t after;
};

static bool acked_after(void *arg)
{
    struct acked_after *a = arg;
    return atomic_load(&a->w->last) > a->after;
}

/* Acts on the leader: a signal, or POST /leader/transfer (on a thread of
 * its own: it answers when the transfer is done). */
struct transfer {
    struct h_cluster *c;
    int leader;
    long status;
    atomic_bool done;
};

static void *post_transfer(void *arg)
{
    struct transfer *t = arg;
    free(h_http_request(t->c, t->leader, "POST", "/leader/transfer", NULL, t->c->token,
                        ROUND_LIMIT_MS, &t->status));
    atomic_store(&t->done, true);
    return NULL;
}

/* How long the hand-over itself took, as the old leader's log says (the
 * last "leadership transferred from X in 12ms" of consensus.transfer.done;
 * its loop's clock, ms), or -1: the rest of the gap is the client reaching
 * the new leader and the new leader's first commits. */
static long handover_ms(const struct h_cluster *c, int i)
{
    char *log = h_read_file(c->nodes[i].log);
    long ms = -1;
    /* The last transfer's start resets it, its done sets it. */
    for (const char *p = log; p && (p = strstr(p, "consensus.transfer.")); p++) {
        const char *from = strstr(p, "transferred from "), *eol = strchr(p, '\n');
        const char *in = from ? strstr(from, " in ") : NULL;
        ms = strncmp(p, "consensus.transfer.done", 23) == 0 && in && (!eol || in < eol)
                 ? ctl_ms_of_text(in + 4)
                 : -1;
    }
    free(log);
    return ms;
}

/* Wall-clock ms of the first event `kind` node i logged at or after
 * after_ms (its log's "YYYY-MM-DDTHH:MM:SS.mmmZ LEVEL ID KIND: ..."), or
 * -1. */
static int64_t event_ms(const struct h_cluster *c, int i, const char *kind, int64_t after_ms)
{
    char *log = h_read_file(c->nodes[i].log);
    int64_t at = -1;
    size_t klen = strlen(kind);
    for (const char *p = log; p && *p && at < 0; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        struct tm tm = {0};
        int ms = 0;
        char id[32], k[64];
        if (sscanf(p, "%d-%d-%dT%d:%d:%d.%dZ %*s %31s %63s", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                   &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms, id, k) != 9 ||
            strncmp(k, kind, klen) != 0 || k[klen] != ':')
            continue;
        tm.tm_year -= 1900;
        tm.tm_mon -= 1;
        int64_t t = (int64_t)timegm(&tm) * 1000 + ms;
        if (t >= after_ms)
            at = t;
    }
    free(log);
    return at;
}

static uint64_t wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Where the gap went: each step's time after the old leader's last
 * acknowledgement (t0, monotonic ns), from the writer's clock and the
 * nodes' logs (ms: their events carry wall-clock ms; wall_off converts). */
static void print_breakdown(const struct h_cluster *c, const struct writer *w, int old, uint64_t t0,
                            uint64_t acted, int64_t wall_off)
{
    int nl = atomic_load(&w->seen.first_by);
    int64_t from = (int64_t)((acted + (uint64_t)wall_off) / 1000000u) - 1;
    struct {
        const char *name;
        int node;
        const char *kind;
    } steps[] = {
        {"start", old, "consensus.transfer.start"}, {"held", old, "api.writes_held"},
        {"cand", nl, "consensus.candidate"},        {"elected", nl, "consensus.elected"},
        {"released", old, "api.writes_released"},
    };
    double base_ms = (double)(t0 + (uint64_t)wall_off) / 1e6;
    printf("      +ms after the last old ack: acted %.1f", ((double)acted - (double)t0) / 1e6);
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        int64_t at = nl < 0 ? -1 : event_ms(c, steps[i].node, steps[i].kind, from);
        if (at >= 0)
            printf(", %s %.0f", steps[i].name, (double)at - base_ms);
    }
    uint64_t hs = atomic_load(&w->seen.held_sent), rd = atomic_load(&w->seen.redirected);
    if (rd)
        printf(", 307 asked %.1f got %.1f", ((double)hs - (double)t0) / 1e6,
               ((double)rd - (double)t0) / 1e6);
    printf(", new ack %.1f\n", ((double)atomic_load(&w->first_other) - (double)t0) / 1e6);
}

struct round {
    struct writer *w;
    struct transfer *t; /* POST /leader/transfer, or NULL */
};

/* Another node took a write, or the transfer failed (the old leader leads
 * on: no gap to measure). */
static bool round_over(void *arg)
{
    struct round *r = arg;
    return atomic_load(&r->w->first_other) != 0 ||
           (r->t && atomic_load(&r->t->done) && r->t->status != 200);
}

/* Every node hears every other (GET /federation/state: each peer alive). */
static bool all_connected(void *arg)
{
    struct h_cluster *c = arg;
    for (int i = 0; i < c->n; i++) {
        long st = 0;
        json_t *j = h_http_get_json(c, i, "/federation/state", &st);
        size_t k;
        json_t *p;
        bool ok = st == 200;
        json_array_foreach(json_object_get(j, "peers"), k, p)
        {
            const char *s = json_string_value(json_object_get(p, "status"));
            ok = ok && (json_is_true(json_object_get(p, "self")) || (s && strcmp(s, "alive") == 0));
        }
        json_decref(j);
        if (!ok)
            return false;
    }
    return true;
}

static bool settle(struct h_cluster *c, unsigned long long after, int *leader,
                   unsigned long long *term)
{
    return h_wait_agreed(c, after, ROUND_LIMIT_MS, leader, term) &&
           h_wait_until(all_connected, c, ROUND_LIMIT_MS);
}

int main(int argc, char **argv)
{
    int rounds = 10;
    for (int a = 1; a < argc; a++) {
        if (strcmp(argv[a], "--rounds") == 0 && a + 1 < argc && atoi(argv[a + 1]) > 0)
            rounds = atoi(argv[++a]);
        else {
            fprintf(stderr, "usage: %s [--rounds N]\n", argv[0]);
            return 2;
        }
    }
    int code;
    struct h_cluster *c = h_bench_cluster(NODES, "bench_handover", &code);
    if (!c)
        return code;
    int leader;
    unsigned long long term;
    if (!settle(c, 0, &leader, &term)) {
        fprintf(stderr, "bench_handover: no leader: %s\n", h_views_line(c));
        return h_bench_finish(c, 1);
    }
    double load0 = h_load_average();
    printf("bench_handover: write gap when the leader of %d nodes hands over or stops, a writer "
           "running; %d rounds per kind; load average %.2f\n",
           NODES, rounds, load0);
    static struct writer w;
    w.c = c;
    atomic_store(&w.watch, -1);
    pthread_t th;
    h_bench_spawn("bench_handover", &th, 1, write_notes, &w, sizeof w);
    static const int sigs[KINDS] = {SIGTERM, 0, SIGKILL};
    struct h_samples gaps[KINDS] = {{0}};
    int failed[KINDS] = {0}, skipped[KINDS] = {0};
    int rc = 0;
    for (int r = 0; r < KINDS * rounds && rc == 0 && !h_interrupted(); r++) {
        enum kind s = (enum kind)(r % KINDS);
        struct acked_after since = {&w, h_now_ns()};
        if (!h_wait_until(acked_after, &since, ROUND_LIMIT_MS)) {
            fprintf(stderr, "bench_handover: round %d: no write acknowledged: %s\n", r + 1,
                    h_views_line(c));
            rc = 1;
            break;
        }
        atomic_store(&w.first_other, 0);
        atomic_store(&w.seen.redirects, 0);
        atomic_store(&w.seen.unavailable, 0);
        atomic_store(&w.seen.refused, 0);
        atomic_store(&w.seen.longest_ns, 0);
        atomic_store(&w.seen.held_sent, 0);
        atomic_store(&w.seen.redirected, 0);
        atomic_store(&w.seen.first_by, -1);
        int64_t wall_off = (int64_t)(wall_ns() - h_now_ns());
        uint64_t acted = h_now_ns();
        atomic_store(&w.watch, leader);
        pthread_t tt;
        static struct transfer tr;
        tr = (struct transfer){.c = c, .leader = leader};
        struct round rd = {&w, s == TRANSFER_KIND ? &tr : NULL};
        if (s == TRANSFER_KIND)
            pthread_create(&tt, NULL, post_transfer, &tr);
        else
            h_node_signal(c, leader, sigs[s]);
        if (!h_wait_until(round_over, &rd, ROUND_LIMIT_MS)) {
            fprintf(stderr, "bench_handover: round %d (%s): no write after %d ms: %s\n", r + 1,
                    kind_names[s], ROUND_LIMIT_MS, h_views_line(c));
            rc = 1;
            break;
        }
        if (atomic_load(&w.first_other) == 0) {
            atomic_store(&w.watch, -1);
            pthread_join(tt, NULL);
            printf("  round %2d %-8s failed: POST /leader/transfer answered %ld (not counted)\n",
                   r / KINDS + 1, kind_names[s], tr.status);
            failed[s]++;
            if (!settle(c, 0, &leader, &term))
                rc = 1;
            continue;
        }
        uint64_t gap = 0;
        bool measured = handover_gap(since.after, atomic_load(&w.last_of[leader]),
                                     atomic_load(&w.first_other), &gap);
        atomic_store(&w.watch, -1);
        int status;
        bool exited = false;
        if (s == TRANSFER_KIND)
            pthread_join(tt, NULL); /* answered once the target leads: logged by then */
        else
            exited = h_node_wait_exit(c, leader, ROUND_LIMIT_MS, &status);
        long took = s == SIGKILL_KIND ? -1 : handover_ms(c, leader);
        char handover[48] = "";
        if (took >= 0)
            snprintf(handover, sizeof handover, "; hand-over %ld ms", took);
        if (!measured) {
            printf("  round %2d %-8s skipped: %s acknowledged no write in the round (not "
                   "counted)\n",
                   r / KINDS + 1, kind_names[s], c->nodes[leader].id);
            skipped[s]++;
        } else {
            h_samples_add(&gaps[s], gap);
            printf("  round %2d %-8s gap %7.1f ms  (meanwhile: %u 307, %u 503, %u refused; "
                   "longest request %.1f ms%s)\n",
                   r / KINDS + 1, kind_names[s], gap / 1e6, atomic_load(&w.seen.redirects),
                   atomic_load(&w.seen.unavailable), atomic_load(&w.seen.refused),
                   atomic_load(&w.seen.longest_ns) / 1e6, handover);
            if (s != SIGKILL_KIND)
                print_breakdown(c, &w, leader, atomic_load(&w.last_of[leader]), acted, wall_off);
        }
        fflush(stdout);
        if (s == TRANSFER_KIND) {
            if (tr.status != 200) /* the target was elected, and the answer got lost */
                failed[s]++;
        } else {
            if (!exited || h_node_start(c, leader) != 0 ||
                !h_wait_http_up(c, leader, ROUND_LIMIT_MS)) {
                fprintf(stderr, "bench_handover: %s did not restart\n", c->nodes[leader].id);
                rc = 1;
                break;
            }
        }
        if (rc == 0 && !settle(c, term, &leader, &term)) {
            fprintf(stderr, "bench_handover: no agreement after the round: %s\n", h_views_line(c));
            rc = 1;
        }
    }
    atomic_store(&w.stop, true);
    pthread_join(th, NULL);
    double load1 = h_load_average();
    /* Load-insensitive: how often a loop waited for the disk to store the
     * ledger (each node since its last start, startup's syncs included),
     * against the checkpoints it stored (each with cosignatures). */
    double loop_syncs = 0, checkpoints = 0, lag_max = 0;
    for (int i = 0; i < c->n; i++) {
        double v;
        if (!h_node_up(c, i))
            continue;
        if (h_metric(c, i, "chimera_ledger_loop_syncs_total", &v))
            loop_syncs += v;
        if (h_metric(c, i, "chimera_ledger_checkpoints_total", &v))
            checkpoints += v;
        if (h_metric(c, i, "chimera_loop_lag_max_seconds", &v) && v > lag_max)
            lag_max = v;
    }
    printf("\nledger syncs the nodes' loops waited for: %.0f, while they stored %.0f checkpoints; "
           "longest loop stall %.1f ms (every node since its last start)\n",
           loop_syncs, checkpoints, lag_max * 1e3);
    struct h_latency l[KINDS];
    for (int s = 0; s < KINDS; s++)
        h_samples_summarise(&gaps[s], &l[s]);
    printf("\nwrite gap, last acknowledged write by the old leader to the first by another node "
           "(%" PRIu64 " notes acknowledged in all; load average %.2f at the start, %.2f at the "
           "end):\n",
           (uint64_t)atomic_load(&w.acks), load0, load1);
    for (int s = 0; s < KINDS; s++)
        printf("  %-8s  n=%-3" PRIu64 " p50 %7.1f  p99 %7.1f  max %7.1f ms; %d skipped (the old "
               "leader acknowledged nothing)%s\n",
               kind_names[s], l[s].n, l[s].p50_ms, l[s].p99_ms, l[s].max_ms, skipped[s],
               failed[s] ? "  (and transfers that failed: see the rounds)" : "");
    printf("RESULT bench=handover nodes=%d load=%.2f sigterm_p50_ms=%.1f sigterm_p99_ms=%.1f "
           "sigterm_max_ms=%.1f transfer_p50_ms=%.1f transfer_p99_ms=%.1f transfer_max_ms=%.1f "
           "sigkill_p50_ms=%.1f sigkill_p99_ms=%.1f loop_syncs=%.0f checkpoints=%.0f "
           "sigterm_skipped=%d transfer_skipped=%d sigkill_skipped=%d\n",
           NODES, load1, l[0].p50_ms, l[0].p99_ms, l[0].max_ms, l[1].p50_ms, l[1].p99_ms,
           l[1].max_ms, l[2].p50_ms, l[2].p99_ms, loop_syncs, checkpoints, skipped[0], skipped[1],
           skipped[2]);
    return h_bench_finish(c, rc);
}
