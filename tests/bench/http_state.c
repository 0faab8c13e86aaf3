/* Benchmark: GET /federation/state on one node of a 3-node federation under
 * C concurrent keep-alive clients. Prints throughput and latency figures per
 * concurrency level; it never judges them, so it fails only when the
 * federation cannot be set up or the node dies under load.
 *
 *   bench_http_state [--seconds N] [--concurrency a,b,c]   (10; 1,8,32) */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "harness.h"

#define NODES 3
#define TARGET 0 /* n1 */
#define MAX_LEVELS 16
#define MAX_CONCURRENCY 1024
#define INITIAL_SAMPLES (1u << 16)

/* Workers poll this between requests; relaxed is enough, as the join that
 * follows orders everything else. */
static atomic_bool stop;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static double ns_to_ms(uint64_t ns)
{
    return (double)ns / 1e6;
}

struct worker {
    pthread_t th;
    const char *url;
    pthread_barrier_t *start;
    uint64_t *lat; /* ns, one per request, in completion order */
    size_t n, cap;
    uint64_t errors;
    uint64_t connects; /* new connections: stays at the worker count with keep-alive */
    size_t body_bytes; /* of the current response */
    size_t last_body;  /* of the last good response, for the header */
    bool lost_samples; /* the latency array could not grow */
    bool setup_failed;
};

/* Counts and discards: the body is only checked for being non-empty. */
static size_t on_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    (void)ptr;
    struct worker *w = userdata;
    w->body_bytes += size * nmemb;
    return size * nmemb;
}

static void record(struct worker *w, uint64_t ns)
{
    if (w->n == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : INITIAL_SAMPLES;
        uint64_t *p = realloc(w->lat, cap * sizeof *p);
        if (!p) {
            w->lost_samples = true;
            return;
        }
        w->lat = p;
        w->cap = cap;
    }
    w->lat[w->n++] = ns;
}

static void *run_worker(void *arg)
{
    struct worker *w = arg;
    CURL *cu = curl_easy_init();
    if (cu) {
        curl_easy_setopt(cu, CURLOPT_URL, w->url);
        curl_easy_setopt(cu, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(cu, CURLOPT_NOPROXY, "*");
        curl_easy_setopt(cu, CURLOPT_TCP_NODELAY, 1L);
        curl_easy_setopt(cu, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
        curl_easy_setopt(cu, CURLOPT_TIMEOUT_MS, 10000L);
        curl_easy_setopt(cu, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(cu, CURLOPT_WRITEDATA, w);
        /* Untimed: opens the connection, so the figures are about serving
         * requests rather than TCP handshakes. */
        curl_easy_perform(cu);
    } else {
        w->setup_failed = true;
    }
    pthread_barrier_wait(w->start);

    while (cu && !atomic_load_explicit(&stop, memory_order_relaxed)) {
        w->body_bytes = 0;
        uint64_t t0 = now_ns();
        CURLcode rc = curl_easy_perform(cu);
        uint64_t t1 = now_ns();
        long code = 0, conns = 0;
        curl_easy_getinfo(cu, CURLINFO_RESPONSE_CODE, &code);
        curl_easy_getinfo(cu, CURLINFO_NUM_CONNECTS, &conns);
        w->connects += (uint64_t)conns;
        if (rc != CURLE_OK || code != 200 || w->body_bytes == 0)
            w->errors++;
        else
            w->last_body = w->body_bytes;
        record(w, t1 - t0);
    }
    if (cu)
        curl_easy_cleanup(cu);
    return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Nearest rank: the smallest sample with at least p of them at or below it. */
static uint64_t percentile(const uint64_t *sorted, size_t n, double p)
{
    if (n == 0)
        return 0;
    size_t rank = (size_t)(p * (double)n + 0.999999);
    if (rank < 1)
        rank = 1;
    return sorted[(rank > n ? n : rank) - 1];
}

struct level_result {
    int conc;
    uint64_t requests, errors, connects;
    double secs, rps;
    uint64_t p50, p90, p99, max; /* ns */
    double node_cpu_pct, client_cpu_pct;
    size_t body;
    bool lost_samples;
};

static double self_cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Sleeps `seconds` in short slices so ^C ends the level promptly. */
static void sleep_level(int seconds)
{
    uint64_t end = now_ns() + (uint64_t)seconds * 1000000000u;
    while (!h_interrupted()) {
        uint64_t now = now_ns();
        if (now >= end)
            return;
        uint64_t left = end - now;
        if (left > 100000000u)
            left = 100000000u;
        struct timespec ts = {0, (long)left};
        nanosleep(&ts, NULL);
    }
}

/* Runs one level. Returns 0, or -1 when the threads could not be set up. */
static int run_level(const struct h_cluster *c, int conc, int seconds, struct level_result *r)
{
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/federation/state", c->nodes[TARGET].http_port);
    struct worker *w = calloc((size_t)conc, sizeof *w);
    pthread_barrier_t start;
    if (!w || pthread_barrier_init(&start, NULL, (unsigned)conc + 1) != 0) {
        free(w);
        return -1;
    }
    atomic_store(&stop, false);

    /* ^C must reach the main thread, which ends the level. */
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    int started = 0;
    for (; started < conc; started++) {
        w[started].url = url;
        w[started].start = &start;
        if (pthread_create(&w[started].th, NULL, run_worker, &w[started]) != 0)
            break;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (started < conc) {
        /* The barrier would never open; nothing sane to do but leave. */
        fprintf(stderr, "bench_http_state: could only start %d of %d threads\n", started, conc);
        exit(1);
    }

    pthread_barrier_wait(&start);
    double node0 = h_proc_cpu_seconds(c->nodes[TARGET].pid), self0 = self_cpu_s();
    uint64_t t0 = now_ns();
    sleep_level(seconds);
    atomic_store_explicit(&stop, true, memory_order_relaxed);
    for (int k = 0; k < conc; k++)
        pthread_join(w[k].th, NULL);
    uint64_t t1 = now_ns();
    double node1 = h_proc_cpu_seconds(c->nodes[TARGET].pid), self1 = self_cpu_s();
    pthread_barrier_destroy(&start);

    memset(r, 0, sizeof *r);
    r->conc = conc;
    size_t total = 0;
    bool setup_failed = false;
    for (int k = 0; k < conc; k++) {
        total += w[k].n;
        r->errors += w[k].errors;
        r->connects += w[k].connects;
        r->lost_samples |= w[k].lost_samples;
        setup_failed |= w[k].setup_failed;
        if (w[k].last_body)
            r->body = w[k].last_body;
    }
    uint64_t *all = malloc((total ? total : 1) * sizeof *all);
    if (!all || setup_failed) {
        for (int k = 0; k < conc; k++)
            free(w[k].lat);
        free(w);
        free(all);
        return -1;
    }
    size_t off = 0;
    for (int k = 0; k < conc; k++) {
        if (w[k].n)
            memcpy(all + off, w[k].lat, w[k].n * sizeof *all);
        off += w[k].n;
        free(w[k].lat);
    }
    free(w);
    qsort(all, total, sizeof *all, cmp_u64);

    r->requests = total;
    r->secs = (double)(t1 - t0) / 1e9;
    r->rps = r->secs > 0 ? (double)total / r->secs : 0;
    r->p50 = percentile(all, total, 0.50);
    r->p90 = percentile(all, total, 0.90);
    r->p99 = percentile(all, total, 0.99);
    r->max = total ? all[total - 1] : 0;
    r->node_cpu_pct = node0 >= 0 && node1 >= 0 ? (node1 - node0) / r->secs * 100.0 : -1;
    r->client_cpu_pct = (self1 - self0) / r->secs * 100.0;
    free(all);
    return 0;
}

static void usage(const char *prog)
{
    fprintf(stderr, "usage: %s [--seconds N] [--concurrency a,b,c]\n", prog);
}

static int parse_levels(const char *s, int *levels, int *n)
{
    *n = 0;
    while (*s) {
        char *end;
        long v = strtol(s, &end, 10);
        if (end == s || v < 1 || v > MAX_CONCURRENCY || *n == MAX_LEVELS ||
            (*end != ',' && *end != '\0')) {
            fprintf(stderr, "--concurrency: want up to %d comma-separated values in 1..%d\n",
                    MAX_LEVELS, MAX_CONCURRENCY);
            return -1;
        }
        levels[(*n)++] = (int)v;
        s = *end ? end + 1 : end;
    }
    return *n > 0 ? 0 : -1;
}

static int parse_args(int argc, char **argv, int *seconds, int *levels, int *nlevels)
{
    for (int a = 1; a < argc; a++) {
        if (strcmp(argv[a], "--seconds") == 0 && a + 1 < argc) {
            char *end;
            long v = strtol(argv[++a], &end, 10);
            if (*end != '\0' || v < 1 || v > 3600) {
                fprintf(stderr, "--seconds: want 1..3600, got %s\n", argv[a]);
                return -1;
            }
            *seconds = (int)v;
        } else if (strcmp(argv[a], "--concurrency") == 0 && a + 1 < argc) {
            if (parse_levels(argv[++a], levels, nlevels) != 0)
                return -1;
        } else {
            usage(argv[0]);
            return -1;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    int seconds = 10, levels[MAX_LEVELS] = {1, 8, 32}, nlevels = 3;
    if (parse_args(argc, argv, &seconds, levels, &nlevels) != 0)
        return 2;

    h_on_interrupt(); /* ^C ends the current level; the levels done are printed */
    setvbuf(stdout, NULL, _IOLBF, 0);
    /* Also runs curl_global_init, which must precede the worker threads. */
    int rc;
    struct h_cluster *c = h_bench_cluster(NODES, "bench_http_state", &rc);
    if (!c)
        return rc;

    printf("bench_http_state: GET /federation/state on n1 of a %d-node federation\n", NODES);
    printf("  clients     C threads, one reused libcurl handle each (keep-alive), back to back\n");
    printf("  levels      C =");
    for (int k = 0; k < nlevels; k++)
        printf(" %d", levels[k]);
    printf(", %d s each; latency = curl_easy_perform on CLOCK_MONOTONIC\n", seconds);
    printf("  errors      curl failure, status != 200 or empty body\n");
    printf("  machine     nproc=%ld; clients and all %d nodes share it\n",
           sysconf(_SC_NPROCESSORS_ONLN), NODES);

    struct level_result res[MAX_LEVELS];
    int done = 0;
    rc = 0;
    printf("\n%5s %9s %7s %9s %8s %8s %8s %8s %6s %8s %8s\n", "C", "requests", "errors", "req/s",
           "p50_ms", "p90_ms", "p99_ms", "max_ms", "conns", "n1_cpu%", "cli_cpu%");
    for (int k = 0; k < nlevels && !h_interrupted(); k++) {
        struct level_result *r = &res[k];
        if (run_level(c, levels[k], seconds, r) != 0) {
            fprintf(stderr, "bench_http_state: cannot set up %d client threads\n", levels[k]);
            rc = 1;
            break;
        }
        done++;
        printf("%5d %9llu %7llu %9.0f %8.3f %8.3f %8.3f %8.3f %6llu %8.1f %8.1f%s%s\n", r->conc,
               (unsigned long long)r->requests, (unsigned long long)r->errors, r->rps,
               ns_to_ms(r->p50), ns_to_ms(r->p90), ns_to_ms(r->p99), ns_to_ms(r->max),
               (unsigned long long)r->connects, r->node_cpu_pct, r->client_cpu_pct,
               r->lost_samples ? "  (some latencies lost: out of memory)" : "",
               h_interrupted() ? "  (interrupted)" : "");
        if (!h_node_running(c, TARGET)) {
            fprintf(stderr, "bench_http_state: n1 died under load (log: %s)\n",
                    c->nodes[TARGET].log);
            h_cluster_destroy(c);
            return 1;
        }
    }
    if (done > 0) {
        size_t body = 0;
        for (int k = 0; k < done; k++)
            if (res[k].body)
                body = res[k].body;
        printf("\nresponse body ~%zu bytes; conns = new TCP connections during the level "
               "(0 = all kept alive)\n",
               body);
        printf("n1_cpu%% = chimerad n1 CPU (100 = one core); cli_cpu%% = this client's CPU\n");
        printf("RESULT bench=http_state nodes=%d seconds=%d nproc=%ld", NODES, seconds,
               sysconf(_SC_NPROCESSORS_ONLN));
        for (int k = 0; k < done; k++) {
            const struct level_result *r = &res[k];
            printf(" c%d_req=%llu c%d_err=%llu c%d_rps=%.0f c%d_p50_ms=%.3f c%d_p90_ms=%.3f "
                   "c%d_p99_ms=%.3f c%d_max_ms=%.3f",
                   r->conc, (unsigned long long)r->requests, r->conc, (unsigned long long)r->errors,
                   r->conc, r->rps, r->conc, ns_to_ms(r->p50), r->conc, ns_to_ms(r->p90), r->conc,
                   ns_to_ms(r->p99), r->conc, ns_to_ms(r->max));
        }
        printf("\n");
    }
    if (rc == 0)
        h_cluster_pass(c);
    h_cluster_destroy(c);
    if (rc == 0 && h_interrupted())
        rc = 130;
    return rc;
}
