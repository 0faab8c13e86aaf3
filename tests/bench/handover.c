/* Benchmark: the write gap when the leader of a 5-node federation stops,
 * with a writer running: SIGTERM (the leader hands leadership to the most
 * up-to-date follower first, §3.10) against SIGKILL (the others must wait
 * for an election timeout). Prints figures and never judges them; it fails
 * only when the federation cannot be set up or does not take writes again.
 *
 * One writer thread posts single notes one after the other, to the node it
 * believes leads (following a 307's "leader", moving on to the next node on
 * anything else but 201; never to the node signalled). Each round: wait
 * until all five agree on a leader and the writer has been acknowledged
 * since, signal the leader, and take the gap = the first acknowledgement by
 * another node minus the last one by the old leader (a request in flight
 * may still be answered after the signal). Then restart the node and wait
 * for all five to agree again.
 * Rounds alternate SIGTERM and SIGKILL.
 *
 *   bench_handover [--rounds N]   (N per signal, default 10) */
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define NODES 5
#define ROUND_LIMIT_MS 15000
#define WRITE_TIMEOUT_MS 1000

struct writer {
    struct h_cluster *c;
    atomic_bool stop;
    atomic_int skip;                     /* the node signalled (not written to), or -1 */
    atomic_uint_fast64_t last;           /* monotonic ns of the last 201 */
    atomic_uint_fast64_t last_of[NODES]; /* the same, by the node that answered */
    atomic_int watch;                    /* the old leader, or -1 */
    atomic_uint_fast64_t first_other;    /* the first 201 by another node since (0: none) */
    atomic_uint_fast64_t acks;
};

static int next_node(struct writer *w, int at)
{
    do
        at = (at + 1) % NODES;
    while (at == atomic_load(&w->skip));
    return at;
}

static void *write_notes(void *arg)
{
    struct writer *w = arg;
    int at = 0;
    for (uint64_t k = 0; !atomic_load(&w->stop); k++) {
        if (at == atomic_load(&w->skip))
            at = next_node(w, at);
        char body[64];
        snprintf(body, sizeof body, "{\"note\":\"h-%" PRIu64 "\"}", k);
        long st = 0;
        char *ans = h_http_request(w->c, at, "POST", "/ledger/notes", body, w->c->token,
                                   WRITE_TIMEOUT_MS, &st);
        uint64_t t = h_now_ns();
        if (st == 201) {
            atomic_store(&w->last_of[at], t);
            int old = atomic_load(&w->watch);
            if (old >= 0 && at != old && atomic_load(&w->first_other) == 0)
                atomic_store(&w->first_other, t);
            atomic_store(&w->last, t);
            atomic_fetch_add(&w->acks, 1);
        } else if (st == 307 && ans) {
            json_t *j = json_loads(ans, 0, NULL);
            int l = h_node_index(w->c, json_string_value(json_object_get(j, "leader")));
            at = l >= 0 && l != atomic_load(&w->skip) ? l : next_node(w, at);
            json_decref(j);
        } else {
            at = next_node(w, at);
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

static bool another_acked(void *arg)
{
    return atomic_load(&((struct writer *)arg)->first_other) != 0;
}

static bool all_agree(struct h_cluster *c, unsigned long long after, int *leader,
                      unsigned long long *term)
{
    return h_wait_agreed(c, after, ROUND_LIMIT_MS, leader, term);
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
    if (!all_agree(c, 0, &leader, &term)) {
        fprintf(stderr, "bench_handover: no leader: %s\n", h_views_line(c));
        return h_bench_finish(c, 1);
    }
    printf("bench_handover: write gap when the leader of %d nodes stops, a writer running; "
           "%d rounds per signal\n",
           NODES, rounds);
    static struct writer w;
    w.c = c;
    atomic_store(&w.skip, -1);
    pthread_t th;
    h_bench_spawn("bench_handover", &th, 1, write_notes, &w, sizeof w);
    static const int sigs[2] = {SIGTERM, SIGKILL};
    static const char *const names[2] = {"SIGTERM", "SIGKILL"};
    struct h_samples gaps[2] = {{0}};
    int rc = 0;
    for (int r = 0; r < 2 * rounds && rc == 0 && !h_interrupted(); r++) {
        int s = r % 2;
        struct acked_after since = {&w, h_now_ns()};
        if (!h_wait_until(acked_after, &since, ROUND_LIMIT_MS)) {
            fprintf(stderr, "bench_handover: round %d: no write acknowledged: %s\n", r + 1,
                    h_views_line(c));
            rc = 1;
            break;
        }
        atomic_store(&w.first_other, 0);
        atomic_store(&w.watch, leader);
        atomic_store(&w.skip, leader);
        h_node_signal(c, leader, sigs[s]);
        if (!h_wait_until(another_acked, &w, ROUND_LIMIT_MS)) {
            fprintf(stderr, "bench_handover: round %d (%s): no write after %d ms: %s\n", r + 1,
                    names[s], ROUND_LIMIT_MS, h_views_line(c));
            rc = 1;
            break;
        }
        uint64_t gap = atomic_load(&w.first_other) - atomic_load(&w.last_of[leader]);
        atomic_store(&w.watch, -1);
        h_samples_add(&gaps[s], gap);
        printf("  round %2d %-7s gap %7.1f ms\n", r / 2 + 1, names[s], gap / 1e6);
        fflush(stdout);
        int status;
        if (!h_node_wait_exit(c, leader, ROUND_LIMIT_MS, &status) || h_node_start(c, leader) != 0 ||
            !h_wait_http_up(c, leader, ROUND_LIMIT_MS)) {
            fprintf(stderr, "bench_handover: %s did not restart\n", c->nodes[leader].id);
            rc = 1;
            break;
        }
        atomic_store(&w.skip, -1);
        if (!all_agree(c, term, &leader, &term)) {
            fprintf(stderr, "bench_handover: no agreement after the restart: %s\n",
                    h_views_line(c));
            rc = 1;
        }
    }
    atomic_store(&w.stop, true);
    pthread_join(th, NULL);
    struct h_latency l[2];
    for (int s = 0; s < 2; s++)
        h_samples_summarise(&gaps[s], &l[s]);
    printf("\nwrite gap, last acknowledged write before the signal to the first after "
           "(%" PRIu64 " notes acknowledged in all):\n",
           (uint64_t)atomic_load(&w.acks));
    for (int s = 0; s < 2; s++)
        printf("  %-7s  n=%-3" PRIu64 " p50 %7.1f  p99 %7.1f  max %7.1f ms\n", names[s], l[s].n,
               l[s].p50_ms, l[s].p99_ms, l[s].max_ms);
    printf("RESULT bench=handover nodes=%d sigterm_p50_ms=%.1f sigterm_p99_ms=%.1f "
           "sigkill_p50_ms=%.1f sigkill_p99_ms=%.1f\n",
           NODES, l[0].p50_ms, l[0].p99_ms, l[1].p50_ms, l[1].p99_ms);
    return h_bench_finish(c, rc);
}
