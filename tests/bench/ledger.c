/* Benchmark: committed-write throughput and commit latency of the ledger on
 * a federation of 3 nodes (or --nodes N) (defaults, fsync on every node). W concurrent writers
 * POST /ledger/notes on the leader back to back, one note (~100 bytes) per
 * request; a 201 means the note is committed (on a majority, fsynced). The
 * last levels post batches of BATCH notes per request, in JSON and then in
 * msgpack, with one writer (a round trip at a time: bound by the round's
 * latency) and with each count of --batch-writers (enough requests in
 * flight to fill the machine: the federation's throughput).
 * Prints figures only; it fails only when the federation cannot be set up.
 *
 * The writers are keep-alive connections served a few to a thread
 * (harness_writers.h), so that the client takes little of the CPU the nodes
 * share with it; --curl runs the older client instead (a thread and a
 * libcurl handle per writer), to compare.
 *
 *   bench_ledger [--nodes N] [--seconds N] [--writers a,b,c] [--batch-writers a,b] [--curl]
 *                                                          (3; 10; 1,64; 1) */
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
#include <msgpack.h>
#include <dirent.h>

#include "harness.h"
#include "harness_release.h"
#include "harness_writers.h"

#define NODES_DEFAULT 3
#define MAX_LEVELS 16
#define MAX_BATCH_LEVELS 4 /* counts of --batch-writers, each in JSON and msgpack */
#define MAX_WRITERS 1024
#define NOTE_BYTES 100
#define BATCH 100
#define TARGET_EPS 100000.0   /* issue 15: batches of 100 on 3 nodes */
#define WRITERS_PER_THREAD 32 /* the light client's */

static atomic_bool stop; /* polled by writers between requests */

struct writer {
    int id, batch;
    const char *url;
    struct curl_slist *headers;
    pthread_barrier_t *start;
    struct h_samples lat; /* one per committed request */
    uint64_t entries, errors, connects;
    long last_status; /* of the last failed request, for the report */
    bool setup_failed;
};

static size_t discard(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    (void)ptr;
    (void)userdata;
    return size * nmemb;
}

/* Note k of request seq of writer id: NOTE_BYTES long. */
static void make_note(char note[NOTE_BYTES + 1], int id, uint64_t seq, int k)
{
    int m = snprintf(note, NOTE_BYTES + 1, "bench-ledger writer %d request %llu note %d ", id,
                     (unsigned long long)seq, k);
    memset(note + m, 'x', NOTE_BYTES - (size_t)m);
    note[NOTE_BYTES] = '\0';
}

/* {"note":"..."} or {"notes":["...",...]}, each note NOTE_BYTES long. */
static size_t make_body(char *buf, size_t len, int id, uint64_t seq, int batch)
{
    size_t off = (size_t)snprintf(buf, len, batch == 1 ? "{\"note\":" : "{\"notes\":[");
    for (int k = 0; k < batch; k++) {
        char note[NOTE_BYTES + 1];
        make_note(note, id, seq, k);
        off += (size_t)snprintf(buf + off, len - off, "%s\"%s\"", k ? "," : "", note);
    }
    off += (size_t)snprintf(buf + off, len - off, batch == 1 ? "}" : "]}");
    return off;
}

/* msgpack-c's writer into a caller's buffer (the writers' own). */
struct fixed_buf {
    char *buf;
    size_t len, cap;
};

static int fixed_write(void *data, const char *bytes, size_t n)
{
    struct fixed_buf *f = data;
    if (n > f->cap - f->len)
        abort(); /* the level sizes its buffer for the largest body */
    memcpy(f->buf + f->len, bytes, n);
    f->len += n;
    return 0;
}

/* The same notes as {"notes": [...]} in msgpack (Content-Type
 * application/msgpack). */
static size_t make_body_msgpack(char *buf, size_t len, int id, uint64_t seq, int batch)
{
    struct fixed_buf f = {.buf = buf, .cap = len};
    msgpack_packer pk;
    msgpack_packer_init(&pk, &f, fixed_write);
    msgpack_pack_map(&pk, 1);
    msgpack_pack_str_with_body(&pk, "notes", 5);
    msgpack_pack_array(&pk, (size_t)batch);
    for (int k = 0; k < batch; k++) {
        char note[NOTE_BYTES + 1];
        make_note(note, id, seq, k);
        msgpack_pack_str_with_body(&pk, note, NOTE_BYTES);
    }
    return f.len;
}

/* One POST; true on 201. */
static bool post(CURL *cu, struct writer *w, char *body, size_t bodylen, uint64_t seq)
{
    size_t n = make_body(body, bodylen, w->id, seq, w->batch);
    curl_easy_setopt(cu, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(cu, CURLOPT_POSTFIELDSIZE, (long)n);
    CURLcode rc = curl_easy_perform(cu);
    long code = 0, conns = 0;
    curl_easy_getinfo(cu, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_getinfo(cu, CURLINFO_NUM_CONNECTS, &conns);
    w->connects += (uint64_t)conns;
    if (rc == CURLE_OK && code == 201)
        return true;
    w->last_status = rc == CURLE_OK ? code : -(long)rc;
    return false;
}

static void *run_writer(void *arg)
{
    struct writer *w = arg;
    size_t bodylen = (size_t)w->batch * (NOTE_BYTES + 4) + 32;
    char *body = malloc(bodylen);
    CURL *cu = body ? curl_easy_init() : NULL;
    if (cu) {
        curl_easy_setopt(cu, CURLOPT_URL, w->url);
        curl_easy_setopt(cu, CURLOPT_HTTPHEADER, w->headers);
        curl_easy_setopt(cu, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(cu, CURLOPT_NOPROXY, "*");
        curl_easy_setopt(cu, CURLOPT_TCP_NODELAY, 1L);
        curl_easy_setopt(cu, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
        curl_easy_setopt(cu, CURLOPT_TIMEOUT_MS, 10000L);
        curl_easy_setopt(cu, CURLOPT_WRITEFUNCTION, discard);
        /* Untimed: opens the connection (and commits one request). */
        post(cu, w, body, bodylen, 0);
        w->connects = 0;
        w->last_status = 0;
    } else {
        w->setup_failed = true;
    }
    pthread_barrier_wait(w->start);

    for (uint64_t seq = 1; cu && !atomic_load_explicit(&stop, memory_order_relaxed); seq++) {
        uint64_t t0 = h_now_ns();
        bool ok = post(cu, w, body, bodylen, seq);
        uint64_t t1 = h_now_ns();
        if (ok) {
            w->entries += (uint64_t)w->batch;
            h_samples_add(&w->lat, t1 - t0);
        } else {
            w->errors++;
        }
    }
    if (cu)
        curl_easy_cleanup(cu);
    free(body);
    return NULL;
}

struct level_result {
    int writers, batch;
    bool msgpack; /* the batch went as msgpack */
    uint64_t entries, errors, connects;
    long last_status;
    double secs, eps;
    struct h_latency lat;
};

/* Runs one level against node `leader`. Returns 0, or -1 on setup failure. */
static int run_level(const struct h_cluster *c, int leader, int writers, int batch, int seconds,
                     struct level_result *r)
{
    char url[128], auth[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/ledger/notes", c->nodes[leader].http_port);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", c->token);
    struct curl_slist *hd = curl_slist_append(NULL, "Content-Type: application/json");
    struct curl_slist *h2 = hd ? curl_slist_append(hd, auth) : NULL;
    /* No "Expect: 100-continue" round trip for the larger batch bodies. */
    struct curl_slist *h3 = h2 ? curl_slist_append(h2, "Expect:") : NULL;
    struct writer *w = calloc((size_t)writers, sizeof *w);
    pthread_barrier_t start;
    if (!h3 || !w || pthread_barrier_init(&start, NULL, (unsigned)writers + 1) != 0) {
        curl_slist_free_all(hd);
        free(w);
        return -1;
    }
    atomic_store(&stop, false);

    for (int k = 0; k < writers; k++)
        w[k] = (struct writer){.id = k, .batch = batch, .url = url, .headers = hd, .start = &start};
    pthread_t th[MAX_WRITERS];
    h_bench_spawn("bench_ledger", th, writers, run_writer, w, sizeof *w);

    pthread_barrier_wait(&start);
    uint64_t t0 = h_now_ns();
    h_bench_sleep(seconds);
    atomic_store_explicit(&stop, true, memory_order_relaxed);
    for (int k = 0; k < writers; k++)
        pthread_join(th[k], NULL);
    uint64_t t1 = h_now_ns();
    pthread_barrier_destroy(&start);
    curl_slist_free_all(hd);

    memset(r, 0, sizeof *r);
    r->writers = writers;
    r->batch = batch;
    struct h_samples all = {0};
    bool failed = false;
    for (int k = 0; k < writers; k++) {
        r->entries += w[k].entries;
        r->errors += w[k].errors;
        r->connects += w[k].connects;
        failed |= !h_samples_take(&all, &w[k].lat) || w[k].setup_failed;
        if (w[k].last_status)
            r->last_status = w[k].last_status;
    }
    free(w);
    h_samples_summarise(&all, &r->lat);
    if (failed)
        return -1;
    r->secs = (double)(t1 - t0) / 1e9;
    r->eps = r->secs > 0 ? (double)r->entries / r->secs : 0;
    return 0;
}

static size_t writers_body(char *buf, size_t cap, int id, uint64_t seq, void *arg)
{
    return make_body(buf, cap, id, seq, *(int *)arg);
}

static size_t writers_body_msgpack(char *buf, size_t cap, int id, uint64_t seq, void *arg)
{
    return make_body_msgpack(buf, cap, id, seq, *(int *)arg);
}

/* run_level with the light client (harness_writers.h). */
static int run_level_light(const struct h_cluster *c, int leader, int writers, int batch,
                           bool msgpack, int seconds, struct level_result *r)
{
    struct h_writers_spec spec = {
        .port = c->nodes[leader].http_port,
        .path = "/ledger/notes",
        .token = c->token,
        .writers = writers,
        .threads = (writers + WRITERS_PER_THREAD - 1) / WRITERS_PER_THREAD,
        .max_body = (size_t)batch * (NOTE_BYTES + 4) + 32,
        .body = msgpack ? writers_body_msgpack : writers_body,
        .content_type = msgpack ? "application/msgpack" : NULL,
        .arg = &batch,
        .status = 201,
    };
    struct h_writer_stats *st = calloc((size_t)writers, sizeof *st);
    memset(r, 0, sizeof *r);
    r->writers = writers;
    r->batch = batch;
    r->msgpack = msgpack;
    if (!st || h_writers_run(&spec, seconds, st, &r->secs) != 0) {
        for (int k = 0; st && k < writers; k++)
            h_samples_free(&st[k].lat);
        free(st);
        return -1;
    }
    struct h_samples all = {0};
    bool failed = false;
    for (int k = 0; k < writers; k++) {
        r->entries += st[k].ok * (uint64_t)batch;
        r->errors += st[k].errors;
        r->connects += st[k].connects;
        failed |= !h_samples_take(&all, &st[k].lat);
        if (st[k].last_status)
            r->last_status = st[k].last_status;
    }
    free(st);
    h_samples_summarise(&all, &r->lat);
    r->eps = r->secs > 0 ? (double)r->entries / r->secs : 0;
    return failed ? -1 : 0;
}

struct first_arg {
    struct h_cluster *c;
    int leader;
};

/* A brand-new leader may still lose its office: posts until it commits. */
static bool first_commit(void *arg)
{
    struct first_arg *a = arg;
    long st = 0;
    free(h_http_request(a->c, a->leader, "POST", "/ledger/notes", "{\"note\":\"bench warm-up\"}",
                        a->c->token, 0, &st));
    return st == 201;
}

static void print_level(const struct level_result *r)
{
    char name[32];
    snprintf(name, sizeof name,
             r->batch == 1 ? "%d"
             : r->msgpack  ? "%dx%d mp"
                           : "%dx%d",
             r->writers, r->batch);
    printf("%9s %9llu %9llu %7llu %10.0f %8.3f %8.3f %8.3f %8.3f %6llu%s%s", name,
           (unsigned long long)r->lat.n, (unsigned long long)r->entries,
           (unsigned long long)r->errors, r->eps, r->lat.p50_ms, r->lat.p90_ms, r->lat.p99_ms,
           r->lat.max_ms, (unsigned long long)r->connects,
           r->lat.lost ? "  (some latencies lost: out of memory)" : "",
           h_interrupted() ? "  (interrupted)" : "");
    if (r->errors)
        printf("  (last error: %s %ld)", r->last_status < 0 ? "curl" : "HTTP",
               r->last_status < 0 ? -r->last_status : r->last_status);
    printf("\n");
}

/* The leader's loop lag (chimera_loop_lag_seconds: how late each heartbeat
 * tick ran) over a level: the histogram before and after, the difference
 * is the level's. Quantiles are read as the bound of the bucket they fall
 * in (so "p99 <= 5 ms"), the max as the bound of the highest bucket used. */
static const char *const lag_le[] = {"0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025",
                                     "0.05",   "0.1",   "0.25",   "0.5",   "1",    "2.5"};
#define LAG_BUCKETS (sizeof(lag_le) / sizeof(lag_le[0]))
struct lag_snap {
    double count, le[LAG_BUCKETS], max_s;
};

struct lag_figures {
    double ticks, p50_ms, p99_ms, max_ms, within5; /* ms: bucket bounds; -1: beyond 2.5 s */
};

/* One sample of text (a /metrics page), 0 when absent. */
static double sample_in(const char *text, const char *name)
{
    size_t n = strlen(name);
    for (const char *line = text; line && *line;) {
        if (strncmp(line, name, n) == 0 && line[n] == ' ')
            return atof(line + n + 1);
        line = strchr(line, '\n');
        line = line ? line + 1 : NULL;
    }
    return 0;
}

/* From one scrape, so that the count and the buckets agree. */
static void lag_snap(const struct h_cluster *c, int i, struct lag_snap *s)
{
    *s = (struct lag_snap){0};
    long st = 0;
    char *text = h_http_get_text(c, i, "/metrics", &st);
    if (!text || st != 200) {
        free(text);
        return;
    }
    s->count = sample_in(text, "chimera_loop_lag_seconds_count");
    for (size_t b = 0; b < LAG_BUCKETS; b++) {
        char name[96];
        snprintf(name, sizeof name, "chimera_loop_lag_seconds_bucket{le=\"%s\"}", lag_le[b]);
        s->le[b] = sample_in(text, name);
    }
    s->max_s = sample_in(text, "chimera_loop_lag_max_seconds");
    free(text);
}

/* The bound (ms) of the bucket holding the q-quantile of the level's ticks. */
static double lag_quantile(const struct lag_snap *a, const struct lag_snap *b, double n, double q)
{
    for (size_t k = 0; k < LAG_BUCKETS; k++)
        if (b->le[k] - a->le[k] >= q * n)
            return atof(lag_le[k]) * 1e3;
    return -1;
}

static struct lag_figures lag_figures(const struct lag_snap *a, const struct lag_snap *b)
{
    struct lag_figures f = {.ticks = b->count - a->count};
    if (f.ticks <= 0)
        return f;
    f.p50_ms = lag_quantile(a, b, f.ticks, 0.5);
    f.p99_ms = lag_quantile(a, b, f.ticks, 0.99);
    f.max_ms = lag_quantile(a, b, f.ticks, 1.0);
    f.within5 = 100.0 * (b->le[3] - a->le[3]) / f.ticks;
    return f;
}

static void print_lag(const struct lag_figures *f, const struct lag_snap *b)
{
    if (f->ticks <= 0)
        return;
    printf("%9s leader loop lag under write load: p50 <= %g ms, p99 <= %g ms, max <= %g ms "
           "(%.0f ticks, %.1f%% within 5 ms; -1: beyond 2.5 s); max since start %.1f ms\n",
           "", f->p50_ms, f->p99_ms, f->max_ms, f->ticks, f->within5, b->max_s * 1e3);
}

/* What each node spent over a level, per committed entry: CPU time (all its
 * threads), context switches (voluntary and not, all threads), fdatasyncs
 * and node-to-node messages (sent and received: bench_transport_floor
 * prints what NNG alone costs per message, so the two give NNG's share).
 * Figures a loaded machine does not move much, unlike the throughput: what
 * the nodes cost rather than what they got. */
struct cost_snap {
    double cpu_s[H_MAX_NODES], syncs[H_MAX_NODES];
    double switches[H_MAX_NODES], msgs[H_MAX_NODES];
};

static double switches_of(pid_t pid)
{
    char dir[64];
    snprintf(dir, sizeof dir, "/proc/%d/task", (int)pid);
    DIR *d = opendir(dir);
    double n = 0;
    for (struct dirent *e; d && (e = readdir(d));) {
        if (e->d_name[0] == '.')
            continue;
        char path[384], line[128];
        snprintf(path, sizeof path, "%s/%s/status", dir, e->d_name);
        FILE *f = fopen(path, "re");
        while (f && fgets(line, sizeof line, f)) {
            unsigned long long v;
            if (sscanf(line, "voluntary_ctxt_switches: %llu", &v) == 1 ||
                sscanf(line, "nonvoluntary_ctxt_switches: %llu", &v) == 1)
                n += (double)v;
        }
        if (f)
            fclose(f);
    }
    if (d)
        closedir(d);
    return n;
}

static void cost_snap(struct h_cluster *c, int nodes, struct cost_snap *s)
{
    *s = (struct cost_snap){0};
    for (int i = 0; i < nodes; i++) {
        if (!h_node_running(c, i))
            continue;
        s->cpu_s[i] = h_proc_cpu_seconds(c->nodes[i].pid);
        s->switches[i] = switches_of(c->nodes[i].pid);
        long st = 0;
        char *text = h_http_get_text(c, i, "/metrics", &st);
        if (text && st == 200) {
            s->syncs[i] = sample_in(text, "chimera_ledger_fsync_duration_seconds_count");
            s->msgs[i] = sample_in(text, "chimera_messages_sent_total") +
                         sample_in(text, "chimera_messages_received_total");
        }
        free(text);
    }
}

struct cost_figures {
    double leader_us, leader_cs, leader_syncs, leader_msgs;         /* per entry */
    double follower_us, follower_cs, follower_syncs, follower_msgs; /* the followers' mean */
    double all_us;                                                  /* every node's CPU */
};

static struct cost_figures cost_figures(const struct cost_snap *a, const struct cost_snap *b,
                                        int nodes, int leader, double entries)
{
    struct cost_figures f = {0};
    if (entries <= 0)
        return f;
    for (int i = 0; i < nodes; i++) {
        double us = (b->cpu_s[i] - a->cpu_s[i]) * 1e6 / entries;
        double cs = (b->switches[i] - a->switches[i]) / entries;
        double sy = (b->syncs[i] - a->syncs[i]) / entries;
        double ms = (b->msgs[i] - a->msgs[i]) / entries;
        f.all_us += us;
        if (i == leader) {
            f.leader_us = us, f.leader_cs = cs, f.leader_syncs = sy, f.leader_msgs = ms;
        } else if (nodes > 1) {
            f.follower_us += us / (nodes - 1);
            f.follower_cs += cs / (nodes - 1);
            f.follower_syncs += sy / (nodes - 1);
            f.follower_msgs += ms / (nodes - 1);
        }
    }
    return f;
}

static void print_cost(const struct cost_figures *f, long nproc)
{
    if (f->all_us <= 0)
        return;
    printf("%9s per entry: leader %.1f us CPU, %.2f context switches, %.3f fdatasyncs, %.3f "
           "peer messages; followers %.1f us, %.2f, %.3f, %.3f; all nodes %.1f us CPU (the nodes "
           "alone could do %.0f/s on %ld cores)\n",
           "", f->leader_us, f->leader_cs, f->leader_syncs, f->leader_msgs, f->follower_us,
           f->follower_cs, f->follower_syncs, f->follower_msgs, f->all_us,
           1e6 * (double)nproc / f->all_us, nproc);
}

static int nodes = NODES_DEFAULT;
static bool use_curl; /* --curl: the older client */

int main(int argc, char **argv)
{
    int seconds = 10, levels[MAX_LEVELS] = {1, 64}, nlevels = 2;
    int bwriters[MAX_BATCH_LEVELS] = {1}, nbwriters = 1;
    const struct h_bench_opts opts = {3600, "--writers", MAX_WRITERS, MAX_LEVELS,
                                      "[--batch-writers a,b] [--nodes N] [--curl]"};
    /* --nodes N (3 by default) is taken out before the common options. */
    int kept = 1;
    for (int a = 1; a < argc; a++) {
        if (strcmp(argv[a], "--nodes") == 0 && a + 1 < argc) {
            char *end;
            long v = strtol(argv[++a], &end, 10);
            if (*end || v < 1 || v > H_MAX_NODES) {
                fprintf(stderr, "--nodes: want 1..%d, got %s\n", H_MAX_NODES, argv[a]);
                return 2;
            }
            nodes = (int)v;
        } else if (strcmp(argv[a], "--batch-writers") == 0 && a + 1 < argc) {
            if (h_parse_levels(argv[++a], 1, MAX_WRITERS, bwriters, MAX_BATCH_LEVELS, &nbwriters) !=
                0) {
                fprintf(stderr, "--batch-writers: want up to %d comma-separated values in 1..%d\n",
                        MAX_BATCH_LEVELS, MAX_WRITERS);
                return 2;
            }
        } else if (strcmp(argv[a], "--curl") == 0) {
            use_curl = true;
        } else
            argv[kept++] = argv[a];
    }
    argc = kept;
    if (h_bench_args(argc, argv, &opts, &seconds, levels, &nlevels) != 0)
        return 2;

    h_on_interrupt(); /* ^C ends the current level; the levels done are printed */
    setvbuf(stdout, NULL, _IOLBF, 0);
    int rc;
    struct h_cluster *c = h_bench_cluster(nodes, "bench_ledger", &rc);
    if (!c)
        return rc;
    int leader = -1;
    unsigned long long term = 0;
    struct first_arg fa = {.c = c};
    if (!h_wait_agreed(c, 0, h_timeout_ms(), &leader, &term) ||
        (fa.leader = leader, !h_wait_until(first_commit, &fa, h_timeout_ms()))) {
        rc = h_interrupted() ? 130 : 1;
        if (rc == 1)
            fprintf(stderr, "bench_ledger: no leader took a note: %s\n", h_views_line(c));
        else
            h_cluster_pass(c);
        h_cluster_destroy(c);
        return rc;
    }

    long nproc = sysconf(_SC_NPROCESSORS_ONLN);
    printf("bench_ledger: POST /ledger/notes on the leader (%s, term %llu) of a %d-node "
           "federation\n",
           c->nodes[leader].id, term, nodes);
    printf("  setup       %d chimerad on 127.0.0.1, default options, fsync on every node; "
           "201 = committed on a majority\n",
           nodes);
    if (use_curl)
        printf("  writers     W threads, one reused libcurl handle each (keep-alive), back to "
               "back (--curl)\n");
    else
        printf("  writers     W keep-alive connections, %d to a client thread (epoll), back to "
               "back\n",
               WRITERS_PER_THREAD);
    printf("  levels      W =");
    for (int k = 0; k < nlevels; k++)
        printf(" %d", levels[k]);
    printf(" with 1 note (%d bytes) per request, then W =", NOTE_BYTES);
    for (int k = 0; k < nbwriters; k++)
        printf(" %d", bwriters[k]);
    printf(" with %d notes per request in JSON, each then the same in msgpack (\"mp\": "
           "Content-Type application/msgpack, light client); %d s each\n",
           BATCH, seconds);
    printf("  latency     %s of each committed request, CLOCK_MONOTONIC\n",
           use_curl ? "curl_easy_perform" : "from the request's send to its answer's last byte");
    printf("  errors      curl failure or status != 201\n");
    printf("  machine     nproc=%ld; writers and all %d nodes share it\n", nproc, nodes);

    /* the single-note levels, then each count of batch writers in JSON,
     * then in msgpack */
    enum { MAX_ALL = MAX_LEVELS + 2 * MAX_BATCH_LEVELS };
    struct level_result res[MAX_ALL];
    struct lag_figures lags[MAX_ALL];
    struct cost_figures costs[MAX_ALL];
    int writers_of[MAX_ALL], nall = 0;
    for (int k = 0; k < nlevels; k++)
        writers_of[nall++] = levels[k];
    for (int k = 0; k < nbwriters; k++) {
        writers_of[nall++] = bwriters[k]; /* JSON */
        writers_of[nall++] = bwriters[k]; /* msgpack */
    }
    double load_start = h_load_average();
    int done = 0;
    rc = 0;
    printf("\n%9s %9s %9s %7s %10s %8s %8s %8s %8s %6s\n", "W[xB]", "requests", "entries", "errors",
           "entries/s", "p50_ms", "p90_ms", "p99_ms", "max_ms", "conns");
    for (int k = 0; k < nall && !h_interrupted(); k++) {
        int batch = k >= nlevels ? BATCH : 1;
        bool msgpack = k >= nlevels && (k - nlevels) % 2 == 1;
        struct lag_snap lag0, lag1;
        struct cost_snap cost0, cost1;
        lag_snap(c, leader, &lag0);
        cost_snap(c, nodes, &cost0);
        if ((use_curl && !msgpack ? run_level(c, leader, writers_of[k], batch, seconds, &res[k])
                                  : run_level_light(c, leader, writers_of[k], batch, msgpack,
                                                    seconds, &res[k])) != 0) {
            fprintf(stderr, "bench_ledger: cannot set up %d writer threads\n", writers_of[k]);
            rc = 1;
            break;
        }
        done++;
        print_level(&res[k]);
        cost_snap(c, nodes, &cost1);
        costs[k] = cost_figures(&cost0, &cost1, nodes, leader, (double)res[k].entries);
        print_cost(&costs[k], nproc);
        lag_snap(c, leader, &lag1);
        lags[k] = lag_figures(&lag0, &lag1);
        print_lag(&lags[k], &lag1);
        for (int i = 0; i < nodes; i++)
            if (!h_node_running(c, i))
                printf("  warning: %s died (log: %s)\n", c->nodes[i].id, c->nodes[i].log);
    }
    if (done > 0) {
        printf("\nentries = notes committed (201s x notes per request); conns = new TCP "
               "connections during the level (0 = all kept alive)\n");
        /* Issue 15's figures, as its table names them. */
        printf("\nissue 15 figures (%d nodes, fsync on; load average %.2f at the start, %.2f at "
               "the end; information only):\n",
               nodes, load_start, h_load_average());
        for (int k = 0; k < done; k++) {
            const struct level_result *r = &res[k];
            if (r->batch == 1 && r->writers == 64)
                printf("  64 concurrent single writers   %8.0f notes/s, p99 %.1f ms (target >= "
                       "20000/s)\n",
                       r->eps, r->lat.p99_ms);
            if (r->batch == 1 && r->writers == 64 && costs[k].all_us > 0)
                printf("  cost per entry (64 writers)    leader %.1f us CPU, %.2f context "
                       "switches; followers %.1f us, %.2f; all nodes %.1f us (load-insensitive)\n",
                       costs[k].leader_us, costs[k].leader_cs, costs[k].follower_us,
                       costs[k].follower_cs, costs[k].all_us);
            if (r->batch == 1 && r->writers == 64 && lags[k].ticks > 0)
                printf("  longest loop stall (64 writers) p50 <= %g ms, p99 <= %g ms, max <= %g ms "
                       "(target p99 <= 5 ms)\n",
                       lags[k].p50_ms, lags[k].p99_ms, lags[k].max_ms);
        }
        for (int k = nlevels; k < done; k++) {
            char what[48];
            snprintf(what, sizeof what, "batches of %d (%s, %d writer%s)", BATCH,
                     res[k].msgpack ? "msgpack" : "JSON", res[k].writers,
                     res[k].writers == 1 ? "" : "s");
            printf("  %-36s %8.0f notes/s, p99 %.1f ms (target >= %.0f/s)\n", what, res[k].eps,
                   res[k].lat.p99_ms, TARGET_EPS);
        }
        printf("RESULT bench=ledger nodes=%d fsync=on seconds=%d nproc=%ld client=%s", nodes,
               seconds, nproc, use_curl ? "curl" : "light");
        for (int k = 0; k < done; k++) {
            const struct level_result *r = &res[k];
            /* one batch writer keeps the names it always had */
            char p[32];
            if (r->batch == 1)
                snprintf(p, sizeof p, "w%d", r->writers);
            else
                snprintf(p, sizeof p, "batch%d%s", r->batch, r->msgpack ? "mp" : "");
            if (r->batch > 1 && r->writers > 1)
                snprintf(p + strlen(p), sizeof p - strlen(p), "w%d", r->writers);
            printf(" %s_req=%llu %s_notes=%llu %s_err=%llu %s_eps=%.0f %s_p50_ms=%.3f "
                   "%s_p90_ms=%.3f %s_p99_ms=%.3f %s_max_ms=%.3f",
                   p, (unsigned long long)r->lat.n, p, (unsigned long long)r->entries, p,
                   (unsigned long long)r->errors, p, r->eps, p, r->lat.p50_ms, p, r->lat.p90_ms, p,
                   r->lat.p99_ms, p, r->lat.max_ms);
            printf(" %s_lag_p50_ms=%g %s_lag_p99_ms=%g %s_lag_max_ms=%g", p, lags[k].p50_ms, p,
                   lags[k].p99_ms, p, lags[k].max_ms);
            printf(" %s_leader_us=%.1f %s_leader_cs=%.2f %s_follower_us=%.1f %s_follower_cs=%.2f "
                   "%s_all_us=%.1f %s_leader_msgs=%.3f %s_follower_msgs=%.3f",
                   p, costs[k].leader_us, p, costs[k].leader_cs, p, costs[k].follower_us, p,
                   costs[k].follower_cs, p, costs[k].all_us, p, costs[k].leader_msgs, p,
                   costs[k].follower_msgs);
        }
        /* the first batch levels (one writer, unless --batch-writers says
         * otherwise), as before */
        if (done > nlevels)
            printf(" target_eps=%.0f target_met=%d load_start=%.2f", TARGET_EPS,
                   res[nlevels].eps > TARGET_EPS, load_start);
        if (done > nlevels + 1)
            printf(" target_met_msgpack=%d", res[nlevels + 1].eps > TARGET_EPS);
        printf(" load_end=%.2f", h_load_average());
        printf("\n");
    }
    return h_bench_finish(c, rc);
}
