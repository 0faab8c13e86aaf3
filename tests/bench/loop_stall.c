/* Benchmark: how long requests hold a node's event loop, and whether that
 * costs the federation its leader. A 3-node federation (default heartbeat
 * and election timeout) is filled with notes of 4 KB; then, for each level,
 * R readers hammer GET /ledger?limit=1000 (reader k on the leader when k is
 * even, on a follower when odd) while one writer posts batches of 256 notes
 * of 4 KB to the leader (following a 307 should leadership move).
 *
 * Figures per level: the readers' and the writer's latencies; each node's
 * loop lag (chimera_loop_lag_seconds: how late its heartbeat tick ran) over
 * the level as p50/p99 (bucket upper bounds) and max; elections (term
 * change), consensus.step_down and consensus.read_only.enter events, and
 * failed writes during the level. It judges nothing: it fails only when the
 * federation cannot be set up.
 *
 *   bench_loop_stall [--seconds N] [--readers a,b,c]   (15; 3) */
#include <inttypes.h>
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
#define MAX_LEVELS 8
#define MAX_READERS 16
#define BATCH 256
#define NOTE_BYTES 4080   /* the batch fits the 1 MiB body limit (HTTP_MAX_BODY) */
#define PREFILL_BATCHES 4 /* 1,024 notes: a full page of 1,000 to read */
#define WRITER_PAUSE_MS 200
#define LAG_BUCKETS 16

static atomic_bool stop;

struct body_count {
    size_t bytes;
};

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    (void)ptr;
    ((struct body_count *)userdata)->bytes += size * nmemb;
    return size * nmemb;
}

static CURL *new_handle(const char *url, struct body_count *bc, long timeout_ms)
{
    CURL *cu = curl_easy_init();
    if (!cu)
        return NULL;
    curl_easy_setopt(cu, CURLOPT_URL, url);
    curl_easy_setopt(cu, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(cu, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(cu, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(cu, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
    curl_easy_setopt(cu, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(cu, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(cu, CURLOPT_WRITEDATA, bc);
    return cu;
}

struct reader {
    char url[128];
    pthread_barrier_t *start;
    struct h_samples lat;
    uint64_t errors;
    size_t max_body;
    bool setup_failed;
};

static void *run_reader(void *arg)
{
    struct reader *r = arg;
    struct body_count bc = {0};
    CURL *cu = new_handle(r->url, &bc, 10000L);
    r->setup_failed = !cu;
    pthread_barrier_wait(r->start);
    while (cu && !atomic_load_explicit(&stop, memory_order_relaxed)) {
        bc.bytes = 0;
        uint64_t t0 = h_now_ns();
        CURLcode rc = curl_easy_perform(cu);
        uint64_t t1 = h_now_ns();
        long code = 0;
        curl_easy_getinfo(cu, CURLINFO_RESPONSE_CODE, &code);
        if (rc != CURLE_OK || code != 200)
            r->errors++;
        else if (bc.bytes > r->max_body)
            r->max_body = bc.bytes;
        h_samples_add(&r->lat, t1 - t0);
    }
    if (cu)
        curl_easy_cleanup(cu);
    return NULL;
}

struct writer {
    char url[128];
    const char *token;
    const char *body;
    pthread_barrier_t *start;
    struct h_samples lat;
    uint64_t ok, failed;
    long last_failure; /* status (0: no answer) */
    bool setup_failed;
};

/* One POST of the batch; the HTTP status, 0 when there was no answer. */
static long post_batch(CURL *cu, struct body_count *bc)
{
    bc->bytes = 0;
    long code = 0;
    if (curl_easy_perform(cu) == CURLE_OK)
        curl_easy_getinfo(cu, CURLINFO_RESPONSE_CODE, &code);
    return code;
}

static CURL *writer_handle(struct writer *w, struct body_count *bc, struct curl_slist **hdrs)
{
    CURL *cu = new_handle(w->url, bc, 20000L);
    char auth[128];
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", w->token);
    *hdrs = curl_slist_append(NULL, auth);
    *hdrs = curl_slist_append(*hdrs, "Content-Type: application/json");
    if (cu) {
        curl_easy_setopt(cu, CURLOPT_HTTPHEADER, *hdrs);
        curl_easy_setopt(cu, CURLOPT_POSTFIELDS, w->body);
        curl_easy_setopt(cu, CURLOPT_FOLLOWLOCATION, 1L);
        curl_easy_setopt(cu, CURLOPT_POSTREDIR, (long)CURL_REDIR_POST_ALL);
        curl_easy_setopt(cu, CURLOPT_UNRESTRICTED_AUTH, 1L);
    }
    return cu;
}

static void *run_writer(void *arg)
{
    struct writer *w = arg;
    struct body_count bc = {0};
    struct curl_slist *hdrs = NULL;
    CURL *cu = writer_handle(w, &bc, &hdrs);
    w->setup_failed = !cu;
    pthread_barrier_wait(w->start);
    while (cu && !atomic_load_explicit(&stop, memory_order_relaxed)) {
        uint64_t t0 = h_now_ns();
        long code = post_batch(cu, &bc);
        h_samples_add(&w->lat, h_now_ns() - t0);
        if (code == 201) {
            w->ok++;
        } else {
            w->failed++;
            w->last_failure = code;
        }
        struct timespec ts = {0, WRITER_PAUSE_MS * 1000000L};
        nanosleep(&ts, NULL);
    }
    if (cu)
        curl_easy_cleanup(cu);
    curl_slist_free_all(hdrs);
    return NULL;
}

/* {"notes":["xxx…", …]}: BATCH notes of NOTE_BYTES. */
static char *batch_body(void)
{
    size_t cap = (size_t)BATCH * (NOTE_BYTES + 3) + 32;
    char *b = malloc(cap), *p = b;
    if (!b)
        return NULL;
    p += sprintf(p, "{\"notes\":[");
    for (int k = 0; k < BATCH; k++) {
        *p++ = '"';
        memset(p, 'a' + k % 26, NOTE_BYTES);
        p += NOTE_BYTES;
        *p++ = '"';
        if (k + 1 < BATCH)
            *p++ = ',';
    }
    strcpy(p, "]}");
    return b;
}

/* What a node's /metrics says about its loop lag and term. */
struct lag_snap {
    bool ok;
    double le[LAG_BUCKETS];
    uint64_t cum[LAG_BUCKETS]; /* cumulative, as printed; the last is +Inf */
    int nb;
    double max_s;
    unsigned long long term;
    unsigned long long last_seq;
};

static bool snap(const struct h_cluster *c, int i, struct lag_snap *s)
{
    memset(s, 0, sizeof *s);
    long st;
    char *text = h_http_get_text(c, i, "/metrics", &st);
    if (!text || st != 200) {
        free(text);
        return false;
    }
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        char le[32];
        unsigned long long v;
        double d;
        if (sscanf(line, "chimera_loop_lag_seconds_bucket{le=\"%31[^\"]\"} %llu", le, &v) == 2 &&
            s->nb < LAG_BUCKETS) {
            s->le[s->nb] = strcmp(le, "+Inf") == 0 ? -1 : strtod(le, NULL);
            s->cum[s->nb++] = v;
        } else if (sscanf(line, "chimera_loop_lag_max_seconds %lf", &d) == 1) {
            s->max_s = d;
        } else if (sscanf(line, "chimera_term %llu", &v) == 1) {
            s->term = v;
        }
    }
    free(text);
    s->last_seq = h_last_event_seq(c, i);
    s->ok = s->nb > 0;
    return s->ok;
}

/* The bucket bound (ms) at or below which a fraction p of the level's
 * ticks ran; -1 for "above the last bound". */
static double lag_pct_ms(const struct lag_snap *a, const struct lag_snap *b, double p)
{
    uint64_t total = b->cum[b->nb - 1] - a->cum[a->nb - 1];
    if (total == 0)
        return 0;
    for (int k = 0; k < b->nb; k++)
        if ((double)(b->cum[k] - a->cum[k]) >= p * (double)total)
            return b->le[k] < 0 ? -1 : b->le[k] * 1000.0;
    return -1;
}

/* The highest bucket bound (ms) any tick of the level reached. */
static double lag_top_ms(const struct lag_snap *a, const struct lag_snap *b)
{
    double top = 0;
    for (int k = 0; k < b->nb; k++) {
        uint64_t below = k ? b->cum[k - 1] - a->cum[k - 1] : 0;
        if (b->cum[k] - a->cum[k] > below)
            top = b->le[k] < 0 ? -1 : b->le[k] * 1000.0;
    }
    return top;
}

static int count_events(const struct h_cluster *c, int i, unsigned long long after,
                        const char *kind)
{
    json_t *ev = h_events(c, i);
    size_t k;
    json_t *e;
    int n = 0;
    json_array_foreach(ev, k, e)
    {
        const char *ek = json_string_value(json_object_get(e, "kind"));
        json_int_t seq = json_integer_value(json_object_get(e, "seq"));
        n += ek && strcmp(ek, kind) == 0 && (unsigned long long)seq > after;
    }
    json_decref(ev);
    return n;
}

struct level {
    int readers;
    struct h_latency get, post;
    uint64_t get_errors, writes_ok, writes_failed;
    long last_failure;
    size_t max_body;
    double lag_p50[NODES], lag_p99[NODES], lag_top[NODES], lag_max[NODES];
    uint64_t ticks[NODES];
    unsigned long long elections;
    int step_downs, ro_enters;
    bool snap_failed;
};

static void fmt_ms(char *out, size_t len, double ms)
{
    if (ms < 0)
        snprintf(out, len, ">2500");
    else
        snprintf(out, len, "<=%g", ms);
}

static int run_level(struct h_cluster *c, int leader, int follower, const char *body, int readers,
                     int seconds, struct level *L)
{
    memset(L, 0, sizeof *L);
    L->readers = readers;
    struct lag_snap before[NODES], after[NODES];
    for (int i = 0; i < NODES; i++)
        L->snap_failed |= !snap(c, i, &before[i]);

    pthread_barrier_t start;
    if (pthread_barrier_init(&start, NULL, (unsigned)readers + 2) != 0)
        return -1;
    atomic_store(&stop, false);
    struct reader rd[MAX_READERS];
    for (int k = 0; k < readers; k++) {
        rd[k] = (struct reader){.start = &start};
        int at = k % 2 ? follower : leader;
        snprintf(rd[k].url, sizeof rd[k].url, "http://127.0.0.1:%d/ledger?limit=1000",
                 c->nodes[at].http_port);
    }
    struct writer w = {.token = c->token, .body = body, .start = &start};
    snprintf(w.url, sizeof w.url, "http://127.0.0.1:%d/ledger/notes", c->nodes[leader].http_port);
    pthread_t th[MAX_READERS], wt;
    h_bench_spawn("bench_loop_stall", th, readers, run_reader, rd, sizeof *rd);
    h_bench_spawn("bench_loop_stall", &wt, 1, run_writer, &w, sizeof w);
    pthread_barrier_wait(&start);
    h_bench_sleep(seconds);
    atomic_store_explicit(&stop, true, memory_order_relaxed);
    for (int k = 0; k < readers; k++)
        pthread_join(th[k], NULL);
    pthread_join(wt, NULL);
    pthread_barrier_destroy(&start);

    bool failed = w.setup_failed;
    struct h_samples all = {0};
    for (int k = 0; k < readers; k++) {
        L->get_errors += rd[k].errors;
        if (rd[k].max_body > L->max_body)
            L->max_body = rd[k].max_body;
        failed |= !h_samples_take(&all, &rd[k].lat) || rd[k].setup_failed;
    }
    h_samples_summarise(&all, &L->get);
    h_samples_summarise(&w.lat, &L->post);
    L->writes_ok = w.ok;
    L->writes_failed = w.failed;
    L->last_failure = w.last_failure;

    unsigned long long t0 = 0, t1 = 0;
    for (int i = 0; i < NODES; i++) {
        if (!snap(c, i, &after[i]) || !before[i].ok || after[i].nb != before[i].nb) {
            L->snap_failed = true;
            continue;
        }
        L->lag_p50[i] = lag_pct_ms(&before[i], &after[i], 0.50);
        L->lag_p99[i] = lag_pct_ms(&before[i], &after[i], 0.99);
        L->lag_top[i] = lag_top_ms(&before[i], &after[i]);
        /* The gauge is a maximum since start: exact for this level only when
         * it grew during it. */
        L->lag_max[i] = after[i].max_s > before[i].max_s ? after[i].max_s * 1000.0 : -1;
        L->ticks[i] = after[i].cum[after[i].nb - 1] - before[i].cum[before[i].nb - 1];
        t0 = before[i].term > t0 ? before[i].term : t0;
        t1 = after[i].term > t1 ? after[i].term : t1;
        L->step_downs += count_events(c, i, before[i].last_seq, "consensus.step_down");
        L->ro_enters += count_events(c, i, before[i].last_seq, "consensus.read_only.enter");
    }
    L->elections = t1 - t0;
    return failed ? -1 : 0;
}

/* Fills the ledger so that a read of 1,000 entries is a full page. */
static int prefill(struct h_cluster *c, int leader, const char *body)
{
    struct writer w = {.token = c->token, .body = body};
    snprintf(w.url, sizeof w.url, "http://127.0.0.1:%d/ledger/notes", c->nodes[leader].http_port);
    struct body_count bc = {0};
    struct curl_slist *hdrs = NULL;
    CURL *cu = writer_handle(&w, &bc, &hdrs);
    int done = 0;
    for (int tries = 0; cu && done < PREFILL_BATCHES && tries < 4 * PREFILL_BATCHES; tries++)
        done += post_batch(cu, &bc) == 201;
    if (cu)
        curl_easy_cleanup(cu);
    curl_slist_free_all(hdrs);
    return done == PREFILL_BATCHES ? 0 : -1;
}

static void print_level(const struct level *L)
{
    printf("\nreaders=%d: GET /ledger?limit=1000 x%llu (errors %llu), largest answer %zu bytes\n",
           L->readers, (unsigned long long)L->get.n, (unsigned long long)L->get_errors,
           L->max_body);
    printf("  GET  latency ms   p50 %8.1f  p99 %8.1f  max %8.1f\n", L->get.p50_ms, L->get.p99_ms,
           L->get.max_ms);
    printf("  POST 256x4KB ms   p50 %8.1f  p99 %8.1f  max %8.1f   ok %llu failed %llu",
           L->post.p50_ms, L->post.p99_ms, L->post.max_ms, (unsigned long long)L->writes_ok,
           (unsigned long long)L->writes_failed);
    if (L->writes_failed)
        printf(" (last failure: status %ld)", L->last_failure);
    printf("\n  loop lag   %6s %8s %8s %10s %10s\n", "node", "ticks", "p50_ms", "p99_ms", "max_ms");
    for (int i = 0; i < NODES; i++) {
        char p50[16], p99[16], max[24];
        fmt_ms(p50, sizeof p50, L->lag_p50[i]);
        fmt_ms(p99, sizeof p99, L->lag_p99[i]);
        if (L->lag_max[i] >= 0)
            snprintf(max, sizeof max, "%.1f", L->lag_max[i]);
        else
            fmt_ms(max, sizeof max, L->lag_top[i]);
        printf("             n%-5d %8llu %8s %10s %10s\n", i + 1, (unsigned long long)L->ticks[i],
               p50, p99, max);
    }
    printf("  elections %llu, consensus.step_down %d, consensus.read_only.enter %d%s\n",
           L->elections, L->step_downs, L->ro_enters,
           L->snap_failed ? "  (some /metrics could not be read)" : "");
}

int main(int argc, char **argv)
{
    int seconds = 15, levels[MAX_LEVELS] = {3}, nlevels = 1;
    const struct h_bench_opts opts = {3600, "--readers", MAX_READERS, MAX_LEVELS, NULL};
    if (h_bench_args(argc, argv, &opts, &seconds, levels, &nlevels) != 0)
        return 2;
    h_on_interrupt();
    setvbuf(stdout, NULL, _IOLBF, 0);
    char *body = batch_body();
    if (!body)
        return 1;
    int rc;
    struct h_cluster *c = h_bench_cluster(NODES, "bench_loop_stall", &rc);
    if (!c) {
        free(body);
        return rc;
    }
    int leader = -1;
    if (!h_wait_agreed(c, 0, h_timeout_ms(), &leader, NULL) || prefill(c, leader, body) != 0) {
        fprintf(stderr, "bench_loop_stall: no leader, or the ledger could not be filled (%s)\n",
                h_views_line(c));
        free(body);
        h_cluster_destroy(c);
        return 1;
    }
    int follower = (leader + 1) % NODES;
    printf("bench_loop_stall: %d-node federation, heartbeat and election timeout at their "
           "defaults; ledger prefilled with %d notes of %d bytes\n",
           NODES, PREFILL_BATCHES * BATCH, NOTE_BYTES);
    printf("  readers   GET /ledger?limit=1000 back to back, reader k on the leader (n%d) when k "
           "is even, on n%d when odd\n",
           leader + 1, follower + 1);
    printf("  writer    POST /ledger/notes of %d notes x %d bytes to the leader, %d ms apart\n",
           BATCH, NOTE_BYTES, WRITER_PAUSE_MS);
    printf("  loop lag  how late each heartbeat tick ran (chimera_loop_lag_seconds over the "
           "level; p50/p99 are bucket bounds)\n");
    printf("  machine   nproc=%ld; clients and all %d nodes share it; %d s per level\n",
           sysconf(_SC_NPROCESSORS_ONLN), NODES, seconds);

    rc = 0;
    for (int k = 0; k < nlevels && !h_interrupted(); k++) {
        struct level L;
        if (run_level(c, leader, follower, body, levels[k], seconds, &L) != 0) {
            fprintf(stderr, "bench_loop_stall: cannot set up the clients\n");
            rc = 1;
            break;
        }
        print_level(&L);
        double worst_max = 0, worst_p99 = 0;
        for (int i = 0; i < NODES; i++) {
            double m = L.lag_max[i] >= 0 ? L.lag_max[i] : L.lag_top[i];
            worst_max = m < 0 || worst_max < 0 ? -1 : (m > worst_max ? m : worst_max);
            worst_p99 = L.lag_p99[i] < 0 || worst_p99 < 0
                            ? -1
                            : (L.lag_p99[i] > worst_p99 ? L.lag_p99[i] : worst_p99);
        }
        printf("RESULT bench=loop_stall readers=%d seconds=%d gets=%llu get_p99_ms=%.1f "
               "get_max_body=%zu posts_ok=%llu posts_failed=%llu post_p99_ms=%.1f "
               "lag_p99_ms=%.1f lag_max_ms=%.1f elections=%llu step_downs=%d ro_enters=%d\n",
               L.readers, seconds, (unsigned long long)L.get.n, L.get.p99_ms, L.max_body,
               (unsigned long long)L.writes_ok, (unsigned long long)L.writes_failed, L.post.p99_ms,
               worst_p99, worst_max, L.elections, L.step_downs, L.ro_enters);
        if (!h_node_running(c, leader) || !h_node_running(c, follower)) {
            fprintf(stderr, "bench_loop_stall: a node died under load (see %s)\n", c->dir);
            rc = 1;
            break;
        }
        /* The next level starts from a steady federation. */
        if (k + 1 < nlevels && !h_wait_agreed(c, 0, h_timeout_ms(), &leader, NULL)) {
            fprintf(stderr, "bench_loop_stall: no leader after the level (%s)\n", h_views_line(c));
            rc = 1;
            break;
        }
        follower = (leader + 1) % NODES;
    }
    free(body);
    return h_bench_finish(c, rc);
}
