/* Benchmark: GET /federation/state on one node of a 3-node federation under
 * C concurrent keep-alive clients. Prints throughput and latency figures per
 * concurrency level; it never judges them, so it fails only when the
 * federation cannot be set up or the node dies under load.
 *
 *   bench_http_state [--seconds N] [--concurrency a,b,c]   (10; 1,8,32) */
#include <errno.h>
#include <pthread.h>
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

/* Workers poll this between requests; relaxed is enough, as the join that
 * follows orders everything else. */
static atomic_bool stop;

struct worker {
    const char *url;
    pthread_barrier_t *start;
    struct h_samples lat; /* one per request */
    uint64_t errors;
    uint64_t connects; /* new connections: stays at the worker count with keep-alive */
    size_t body_bytes; /* of the current response */
    size_t last_body;  /* of the last good response, for the header */
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
        uint64_t t0 = h_now_ns();
        CURLcode rc = curl_easy_perform(cu);
        uint64_t t1 = h_now_ns();
        long code = 0, conns = 0;
        curl_easy_getinfo(cu, CURLINFO_RESPONSE_CODE, &code);
        curl_easy_getinfo(cu, CURLINFO_NUM_CONNECTS, &conns);
        w->connects += (uint64_t)conns;
        if (rc != CURLE_OK || code != 200 || w->body_bytes == 0)
            w->errors++;
        else
            w->last_body = w->body_bytes;
        h_samples_add(&w->lat, t1 - t0);
    }
    if (cu)
        curl_easy_cleanup(cu);
    return NULL;
}

struct level_result {
    int conc;
    uint64_t errors, connects;
    double secs, rps;
    struct h_latency lat;
    double node_cpu_pct, client_cpu_pct;
    size_t body;
};

static double self_cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
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

    for (int k = 0; k < conc; k++)
        w[k] = (struct worker){.url = url, .start = &start};
    pthread_t th[MAX_CONCURRENCY];
    h_bench_spawn("bench_http_state", th, conc, run_worker, w, sizeof *w);

    pthread_barrier_wait(&start);
    double node0 = h_proc_cpu_seconds(c->nodes[TARGET].pid), self0 = self_cpu_s();
    uint64_t t0 = h_now_ns();
    h_bench_sleep(seconds);
    atomic_store_explicit(&stop, true, memory_order_relaxed);
    for (int k = 0; k < conc; k++)
        pthread_join(th[k], NULL);
    uint64_t t1 = h_now_ns();
    double node1 = h_proc_cpu_seconds(c->nodes[TARGET].pid), self1 = self_cpu_s();
    pthread_barrier_destroy(&start);

    memset(r, 0, sizeof *r);
    r->conc = conc;
    struct h_samples all = {0};
    bool failed = false;
    for (int k = 0; k < conc; k++) {
        r->errors += w[k].errors;
        r->connects += w[k].connects;
        failed |= !h_samples_take(&all, &w[k].lat) || w[k].setup_failed;
        if (w[k].last_body)
            r->body = w[k].last_body;
    }
    free(w);
    h_samples_summarise(&all, &r->lat);
    if (failed)
        return -1;

    r->secs = (double)(t1 - t0) / 1e9;
    r->rps = r->secs > 0 ? (double)r->lat.n / r->secs : 0;
    r->node_cpu_pct = node0 >= 0 && node1 >= 0 ? (node1 - node0) / r->secs * 100.0 : -1;
    r->client_cpu_pct = (self1 - self0) / r->secs * 100.0;
    return 0;
}

int main(int argc, char **argv)
{
    int seconds = 10, levels[MAX_LEVELS] = {1, 8, 32}, nlevels = 3;
    const struct h_bench_opts opts = {3600, "--concurrency", MAX_CONCURRENCY, MAX_LEVELS, NULL};
    if (h_bench_args(argc, argv, &opts, &seconds, levels, &nlevels) != 0)
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
               (unsigned long long)r->lat.n, (unsigned long long)r->errors, r->rps, r->lat.p50_ms,
               r->lat.p90_ms, r->lat.p99_ms, r->lat.max_ms, (unsigned long long)r->connects,
               r->node_cpu_pct, r->client_cpu_pct,
               r->lat.lost ? "  (some latencies lost: out of memory)" : "",
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
                   r->conc, (unsigned long long)r->lat.n, r->conc, (unsigned long long)r->errors,
                   r->conc, r->rps, r->conc, r->lat.p50_ms, r->conc, r->lat.p90_ms, r->conc,
                   r->lat.p99_ms, r->conc, r->lat.max_ms);
        }
        printf("\n");
    }
    return h_bench_finish(c, rc);
}
