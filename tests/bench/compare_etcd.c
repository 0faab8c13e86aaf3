/* Benchmark: Chimera side by side with etcd (issue 15), in one run, with the
 * same client code for both, posting JSON to chimerad's POST /ledger/notes
 * (admin token; 201 = committed) and to etcd's v3 HTTP/JSON gateway
 * (POST /v3/kv/put with base64 key and value, or /v3/kv/txn with 100 puts;
 * 200 = committed). The write levels use the light client of bench_ledger
 * (harness_writers.h: keep-alive connections, 32 to an epoll thread): a
 * thread and a libcurl handle per writer spent as much of the two shared
 * cores as the system it measured, and so capped the faster one most;
 * --curl runs those writers instead, to compare. The failover probes and
 * the set-up writes use libcurl for both. Both fsync every commit
 * (chimerad by default, etcd always). Everything runs on 127.0.0.1 in temp
 * directories on free ports; every process started here is killed on exit,
 * on failure and on ^C (etcd members also die with this process:
 * PR_SET_PDEATHSIG).
 *
 * Workloads (--only failover,writes,idle picks some):
 *   failover  5 members: wait for a leader all agree on and a write
 *             committed, a random 0-200 ms more, kill -9 the leader, then
 *             write to every survivor at once (a fresh request to each every
 *             PROBE_EVERY_MS, PROBE_TIMEOUT_MS each; chimerad's 307 to the
 *             leader is followed) until one is acknowledged: kill -> ack.
 *             --runs N (10) per system: Chimera at its defaults (heartbeat
 *             50 ms, election timeout 150 ms), etcd at its defaults
 *             (100/1000) and etcd tuned to Chimera's election timeout (30/150:
 *             etcd refuses an election timeout under 5 heartbeats).
 *   writes    3 members, on the leader: 64 writers with one note
 *             (100 bytes) per request, then 1 writer with batches of 100
 *             ({"notes":[...]} / a txn of 100 puts), then 1 writer with one
 *             note; --seconds S (10) each. Each writer keeps one connection
 *             (light: opened, and a first request made, before the level
 *             starts; --curl: inside it) and sends its next request when
 *             its answer comes; after an answer that is not a commit, or a
 *             failure, it pauses ERROR_BACKOFF_MS.
 *   idle      the same 3 members before the writes, at the same heartbeat
 *             (50 ms; etcd's election timeout 250 ms): CPU % and RSS of
 *             each member from /proc over IDLE_SECONDS (30), the CPU as
 *             its threads' run time in ns (/proc/PID/task/TID/schedstat;
 *             utime and stime count clock ticks, 0.033 % of a core over
 *             the window, about 5 % of an idle member's figure).
 * It also measures the machine's fdatasync latency on the filesystem the
 * data directories are on, and prints every figure for both systems with
 * the ratio Chimera/etcd. It judges nothing: it fails only when a system
 * cannot be set up or does not recover.
 *
 * etcd: $ETCD_BIN, else `etcd` on PATH (Debian's etcd-server;
 * tests/bench/install-etcd.sh installs it, --install-etcd runs it first).
 *
 *   bench_compare_etcd [--runs N] [--seconds S] [--pairs N] [--only LIST]
 *                      [--json] [--no-etcd] [--install-etcd] [--curl]
 * --pairs N runs the 64-writer level and the idle window N times per
 * system, each pair on freshly started members, Chimera then etcd, and
 * prints each ratio's median, min and max (this machine's speed drifts
 * between runs minutes apart, and one pair's ratio with it).
 * Exit: 0 done, 1 a system could not be set up or did not recover,
 * 2 usage, 77 etcd absent (without --no-etcd), 130 interrupted. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "harness.h"
#include "harness_writers.h"

#define FAILOVER_NODES 5
#define WRITE_NODES 3
#define WRITERS 64
#define NOTE_BYTES 100
#define BATCH 100
#define IDLE_SECONDS 30
#define SETTLE_MS 1000
#define MAX_JITTER_MS 200
/* Failover probes: the resolution of the figure is about PROBE_EVERY_MS. */
#define PROBE_EVERY_MS 5
#define PROBE_TIMEOUT_MS 300
#define PROBE_MAX_INFLIGHT 64
/* A failover that has not recovered by then is a failure, not a figure. */
#define RECOVERY_LIMIT_MS 20000
/* A writer's pause after a write that was not acknowledged. */
#define ERROR_BACKOFF_MS 5
#define WRITERS_PER_THREAD 32 /* the light client's, as bench_ledger's */
#define FSYNC_SAMPLES 300
#define FSYNC_BYTES 4096

static FILE *out;     /* the human report: stdout, or stderr under --json */
static bool use_curl; /* --curl: the write levels on a libcurl thread per writer */

/* ---- the systems under test ------------------------------------------- */

enum kind { CHIMERA, ETCD };

/* One federation or etcd cluster. etcd members use what h_cluster_create
 * makes for chimerad (directory, data and log paths, two free ports each:
 * http_port serves clients, listen_port peers), so the harness's cleanup and
 * HTTP helpers serve both. */
struct sut {
    enum kind kind;
    char label[48];
    int heartbeat_ms, election_ms; /* etcd only: chimerad runs its defaults */
    struct h_cluster *c;
    struct curl_slist *headers;
};

static const char *etcd_bin;

static double now_ms(void)
{
    return (double)h_now_ns() / 1e6;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR && !h_interrupted()) {
    }
}

/* Starts etcd member i; its stdout and stderr go to its log. */
static int etcd_start(struct sut *s, int i)
{
    const struct h_node *nd = &s->c->nodes[i];
    char cluster[H_MAX_NODES * 48] = "", client[48], peer[48], hb[16], el[16];
    for (int k = 0; k < s->c->n; k++) {
        size_t off = strlen(cluster);
        snprintf(cluster + off, sizeof cluster - off, "%s%s=http://127.0.0.1:%d", k ? "," : "",
                 s->c->nodes[k].id, s->c->nodes[k].listen_port);
    }
    snprintf(client, sizeof client, "http://127.0.0.1:%d", nd->http_port);
    snprintf(peer, sizeof peer, "http://127.0.0.1:%d", nd->listen_port);
    snprintf(hb, sizeof hb, "%d", s->heartbeat_ms);
    snprintf(el, sizeof el, "%d", s->election_ms);
    const char *argv[] = {etcd_bin, "--name", nd->id, "--data-dir", nd->data,
                          "--listen-client-urls", client, "--advertise-client-urls", client,
                          "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
                          "--initial-cluster", cluster, "--initial-cluster-state", "new",
                          /* unique per cluster, so no stray member can join */
                          "--initial-cluster-token", s->c->dir, "--heartbeat-interval", hb,
                          "--election-timeout", el, "--logger", "zap", "--log-outputs", "stderr",
                          "--log-level", "warn", NULL};
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "bench_compare_etcd: fork: %s\n", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        /* Dies with the bench, whatever kills it. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        int in = open("/dev/null", O_RDONLY),
            log = open(nd->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (in < 0 || log < 0 || dup2(in, 0) < 0 || dup2(log, 1) < 0 || dup2(log, 2) < 0)
            _exit(127);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGPIPE, SIG_DFL);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    s->c->nodes[i].pid = pid;
    return 0;
}

/* What one etcd member says of itself in its status. */
struct etcd_view {
    char self[32], leader[32]; /* member ids, as etcd prints them */
    unsigned long long term;
};

/* Member i's view; false when it does not answer or names no leader. */
static bool etcd_status(const struct sut *s, int i, int timeout_ms, struct etcd_view *v)
{
    long st = 0;
    char *body =
        h_http_request(s->c, i, "POST", "/v3/maintenance/status", "{}", NULL, timeout_ms, &st);
    json_t *j = body && st == 200 ? json_loads(body, 0, NULL) : NULL;
    free(body);
    const char *me = json_string_value(json_object_get(json_object_get(j, "header"), "member_id"));
    const char *l = json_string_value(json_object_get(j, "leader"));
    const char *term = json_string_value(json_object_get(j, "raftTerm"));
    bool ok = me && l && *l && strcmp(l, "0") != 0;
    if (ok) {
        snprintf(v->self, sizeof v->self, "%s", me);
        snprintf(v->leader, sizeof v->leader, "%s", l);
        v->term = term ? strtoull(term, NULL, 10) : 0;
    }
    json_decref(j);
    return ok;
}

/* The highest term a running member reports: how many elections a load
 * caused is the difference. */
static unsigned long long sut_term(struct sut *s)
{
    unsigned long long max = 0;
    for (int i = 0; i < s->c->n; i++) {
        struct h_view hv;
        struct etcd_view ev;
        if (!h_node_up(s->c, i))
            continue;
        if (s->kind == CHIMERA && h_view(s->c, i, 1000, &hv) && hv.term > max)
            max = hv.term;
        if (s->kind == ETCD && etcd_status(s, i, 1000, &ev) && ev.term > max)
            max = ev.term;
    }
    return max;
}

/* The index of the leader every running member names, or -1. */
static int sut_leader(struct sut *s)
{
    if (s->kind == CHIMERA) {
        int leader;
        return h_agreed(s->c, 0, &leader, NULL) ? leader : -1;
    }
    char named[32] = "";
    int found = -1;
    for (int i = 0; i < s->c->n; i++) {
        struct etcd_view v;
        if (!h_node_up(s->c, i))
            continue;
        if (!etcd_status(s, i, 500, &v) || (named[0] && strcmp(named, v.leader)))
            return -1;
        snprintf(named, sizeof named, "%s", v.leader);
        if (strcmp(v.self, v.leader) == 0)
            found = i;
    }
    return found;
}

/* Kills every member; the directory (logs) is kept unless ok. */
static void sut_destroy(struct sut *s, bool ok)
{
    curl_slist_free_all(s->headers);
    s->headers = NULL;
    if (!s->c)
        return;
    if (ok || h_interrupted())
        h_cluster_pass(s->c);
    h_cluster_destroy(s->c);
    s->c = NULL;
}

/* Makes and starts a system of n members (etcd: heartbeat/election in ms).
 * Returns 0, or -1 after printing why (logs kept). */
static int sut_start(struct sut *s, enum kind kind, int n, int heartbeat_ms, int election_ms)
{
    memset(s, 0, sizeof *s);
    s->kind = kind;
    s->heartbeat_ms = heartbeat_ms;
    s->election_ms = election_ms;
    if (kind == CHIMERA)
        snprintf(s->label, sizeof s->label, "Chimera %d members (50/150 ms)", n);
    else
        snprintf(s->label, sizeof s->label, "etcd %d members (%d/%d ms)", n, heartbeat_ms,
                 election_ms);
    int code;
    s->c = kind == CHIMERA ? h_bench_cluster(n, "bench_compare_etcd", &code) : h_cluster_create(n);
    if (!s->c)
        return -1;
    char auth[128];
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", s->c->token);
    s->headers = curl_slist_append(NULL, "Content-Type: application/json");
    /* No "Expect: 100-continue" round trip for the larger batch bodies. */
    s->headers = curl_slist_append(s->headers, "Expect:");
    if (kind == CHIMERA)
        s->headers = curl_slist_append(s->headers, auth);
    for (int i = 0; kind == ETCD && i < n; i++)
        if (etcd_start(s, i) != 0)
            return -1;
    return 0;
}

/* ---- the client, the same for both ------------------------------------ */

/* The head of an answer, kept so that a refusal can be reported. */
struct reply {
    char text[160];
    size_t n;
};

static size_t keep_head(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct reply *r = userdata;
    size_t len = size * nmemb;
    if (r && r->n + 1 < sizeof r->text) {
        size_t take = len < sizeof r->text - 1 - r->n ? len : sizeof r->text - 1 - r->n;
        memcpy(r->text + r->n, ptr, take);
        r->n += take;
        r->text[r->n] = '\0';
        r->text[strcspn(r->text, "\r\n")] = '\0'; /* one line in the report */
        r->n = strlen(r->text);
    }
    return len;
}

static size_t base64(char *dst, const char *src, size_t n)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)(unsigned char)src[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)(unsigned char)src[i + 1] << 8;
        if (i + 2 < n)
            v |= (uint32_t)(unsigned char)src[i + 2];
        dst[o++] = tab[v >> 18 & 63];
        dst[o++] = tab[v >> 12 & 63];
        dst[o++] = i + 1 < n ? tab[v >> 6 & 63] : '=';
        dst[o++] = i + 2 < n ? tab[v & 63] : '=';
    }
    dst[o] = '\0';
    return o;
}

/* Room for a request body of `batch` notes. */
static size_t body_room(int batch)
{
    return (size_t)batch * (NOTE_BYTES * 2 + 96) + 64;
}

/* The request for `batch` notes of NOTE_BYTES each: {"note":...} or
 * {"notes":[...]} for chimerad; for etcd a put of key bench/W/SEQ/K, or a
 * txn of such puts. */
static size_t make_body(const struct sut *s, char *buf, size_t len, int writer, uint64_t seq,
                        int batch)
{
    size_t off = 0;
    if (s->kind == CHIMERA)
        off += (size_t)snprintf(buf, len, batch == 1 ? "{\"note\":" : "{\"notes\":[");
    else if (batch > 1)
        off += (size_t)snprintf(buf, len, "{\"success\":[");
    for (int k = 0; k < batch; k++) {
        char note[NOTE_BYTES + 1], key[64], k64[96], v64[NOTE_BYTES * 2];
        int m = snprintf(note, sizeof note, "bench writer %d request %llu note %d ", writer,
                         (unsigned long long)seq, k);
        memset(note + m, 'x', NOTE_BYTES - (size_t)m);
        note[NOTE_BYTES] = '\0';
        const char *sep = k ? "," : "";
        if (s->kind == CHIMERA) {
            off += (size_t)snprintf(buf + off, len - off, "%s\"%s\"", sep, note);
            continue;
        }
        base64(k64, key,
               (size_t)snprintf(key, sizeof key, "bench/%d/%llu/%d", writer,
                                (unsigned long long)seq, k));
        base64(v64, note, NOTE_BYTES);
        off += (size_t)snprintf(buf + off, len - off,
                                batch == 1 ? "%s{\"key\":\"%s\",\"value\":\"%s\"}"
                                           : "%s{\"requestPut\":{\"key\":\"%s\",\"value\":\"%s\"}}",
                                sep, k64, v64);
    }
    if (s->kind == CHIMERA || batch > 1)
        off += (size_t)snprintf(buf + off, len - off, batch == 1 ? "}" : "]}");
    return off;
}

static void write_url(const struct sut *s, int i, int batch, char *url, size_t len)
{
    snprintf(url, len, "http://127.0.0.1:%d%s", s->c->nodes[i].http_port,
             s->kind == CHIMERA ? "/ledger/notes"
             : batch == 1       ? "/v3/kv/put"
                                : "/v3/kv/txn");
}

static bool acknowledged(const struct sut *s, CURLcode rc, long status)
{
    return rc == CURLE_OK && status == (s->kind == CHIMERA ? 201 : 200);
}

/* A write handle: keep-alive, no proxy, a follower's 307 to the leader
 * followed with the same POST and token. */
static void setup_handle(CURL *cu, const struct sut *s, const char *url, long timeout_ms)
{
    curl_easy_setopt(cu, CURLOPT_URL, url);
    curl_easy_setopt(cu, CURLOPT_HTTPHEADER, s->headers);
    curl_easy_setopt(cu, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(cu, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(cu, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(cu, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms < 2000 ? timeout_ms : 2000L);
    curl_easy_setopt(cu, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(cu, CURLOPT_WRITEFUNCTION, keep_head);
    curl_easy_setopt(cu, CURLOPT_WRITEDATA, NULL);
    curl_easy_setopt(cu, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(cu, CURLOPT_POSTREDIR, (long)CURL_REDIR_POST_ALL);
    curl_easy_setopt(cu, CURLOPT_UNRESTRICTED_AUTH, 1L);
}

/* One write of one note to member i, acknowledged or not. */
static bool write_once(const struct sut *s, int i, int timeout_ms)
{
    char url[128], body[1024];
    write_url(s, i, 1, url, sizeof url);
    CURL *cu = curl_easy_init();
    if (!cu)
        return false;
    setup_handle(cu, s, url, timeout_ms);
    curl_easy_setopt(cu, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(cu, CURLOPT_POSTFIELDSIZE, (long)make_body(s, body, sizeof body, 0, 0, 1));
    CURLcode rc = curl_easy_perform(cu);
    long status = 0;
    curl_easy_getinfo(cu, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(cu);
    return acknowledged(s, rc, status);
}

struct steady_arg {
    struct sut *s;
    int leader;
};

/* A leader every running member names, and it commits a write. */
static bool steady_now(void *arg)
{
    struct steady_arg *a = arg;
    a->leader = sut_leader(a->s);
    return a->leader >= 0 && write_once(a->s, a->leader, 2000);
}

/* Waits for the steady state; the leader's index, or -1 after saying why. */
static int wait_steady(struct sut *s)
{
    struct steady_arg a = {s, -1};
    if (h_wait_until(steady_now, &a, 3 * h_timeout_ms()))
        return a.leader;
    if (!h_interrupted())
        fprintf(stderr,
                "bench_compare_etcd: %s never settled with a leader that commits (logs: %s)\n",
                s->label, s->c->dir);
    return -1;
}

/* ---- failover ----------------------------------------------------------- */

struct probe {
    CURL *cu;
    int member;
};

/* Writes to every member but `dead` at once until one write is
 * acknowledged: a fresh request to each every PROBE_EVERY_MS (at most
 * PROBE_MAX_INFLIGHT in flight to one member). Returns ms from t0 to that
 * acknowledgement, or -1. */
static double probe_until_ack(const struct sut *s, int dead, double t0)
{
    CURLM *m = curl_multi_init();
    struct probe live[H_MAX_NODES * PROBE_MAX_INFLIGHT] = {{0}};
    int inflight[H_MAX_NODES] = {0};
    double next[H_MAX_NODES] = {0}, acked = -1;
    char body[1024], url[128];
    uint64_t seq = 0;
    while (m && acked < 0 && !h_interrupted() && now_ms() - t0 < RECOVERY_LIMIT_MS) {
        for (int i = 0; i < s->c->n; i++) {
            if (i == dead || inflight[i] >= PROBE_MAX_INFLIGHT || now_ms() < next[i])
                continue;
            size_t slot = 0;
            while (live[slot].cu)
                slot++;
            CURL *cu = curl_easy_init();
            if (!cu)
                break;
            write_url(s, i, 1, url, sizeof url);
            setup_handle(cu, s, url, PROBE_TIMEOUT_MS);
            curl_easy_setopt(cu, CURLOPT_POSTFIELDSIZE,
                             (long)make_body(s, body, sizeof body, 9999, ++seq, 1));
            curl_easy_setopt(cu, CURLOPT_COPYPOSTFIELDS, body);
            curl_easy_setopt(cu, CURLOPT_PRIVATE, (void *)&live[slot]);
            live[slot] = (struct probe){cu, i};
            curl_multi_add_handle(m, cu);
            inflight[i]++;
            next[i] = now_ms() + PROBE_EVERY_MS;
        }
        int running, left;
        curl_multi_perform(m, &running);
        CURLMsg *msg;
        while ((msg = curl_multi_info_read(m, &left))) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            struct probe *p;
            long status = 0;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&p);
            curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &status);
            if (acked < 0 && acknowledged(s, msg->data.result, status))
                acked = now_ms() - t0;
            curl_multi_remove_handle(m, p->cu);
            curl_easy_cleanup(p->cu);
            inflight[p->member]--;
            p->cu = NULL;
        }
        if (acked < 0)
            curl_multi_poll(m, NULL, 0, 1, NULL);
    }
    for (size_t k = 0; k < sizeof live / sizeof live[0]; k++)
        if (live[k].cu) {
            curl_multi_remove_handle(m, live[k].cu);
            curl_easy_cleanup(live[k].cu);
        }
    curl_multi_cleanup(m);
    return acked;
}

/* Starts member i again and waits until it answers. */
static bool restart_member(struct sut *s, int i)
{
    if (s->kind == CHIMERA)
        return h_node_start(s->c, i) == 0 && h_wait_http_up(s->c, i, h_timeout_ms());
    if (etcd_start(s, i) != 0)
        return false;
    struct etcd_view v;
    double deadline = now_ms() + h_timeout_ms();
    while (!etcd_status(s, i, 500, &v))
        if (h_interrupted() || now_ms() > deadline || !h_node_running(s->c, i))
            return false;
        else
            sleep_ms(20);
    return true;
}

static uint64_t rng_state;
static int rng_below(int n)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return (int)((z ^ (z >> 31)) % (uint64_t)n);
}

/* `runs` kill -9 rounds on a started system; summarises kill -> ack into
 * *lat. Returns 0, or -1 (a round did not recover). */
static int failover(struct sut *s, int runs, struct h_latency *lat)
{
    struct h_samples acks = {0};
    int rc = 0, moved = 0;
    for (int r = 1; r <= runs && rc == 0 && !h_interrupted(); r++) {
        int leader = wait_steady(s), jitter = rng_below(MAX_JITTER_MS + 1);
        sleep_ms(jitter);
        if (leader >= 0 && sut_leader(s) != leader && ++moved < 5) {
            r--; /* the leader moved while idle: again */
            continue;
        }
        if (leader < 0 || sut_leader(s) != leader) {
            if (leader >= 0)
                fprintf(stderr, "bench_compare_etcd: %s: the leader keeps moving while idle\n",
                        s->label);
            rc = -1;
            break;
        }
        double t0 = now_ms();
        kill(s->c->nodes[leader].pid, SIGKILL);
        double ms = probe_until_ack(s, leader, t0);
        h_node_kill(s->c, leader); /* reap it */
        if (ms < 0) {
            if (!h_interrupted())
                fprintf(stderr,
                        "bench_compare_etcd: %s: no write acknowledged %d ms after killing %s "
                        "(logs: %s)\n",
                        s->label, RECOVERY_LIMIT_MS, s->c->nodes[leader].id, s->c->dir);
            rc = -1;
            break;
        }
        h_samples_add(&acks, (uint64_t)(ms * 1e6));
        fprintf(out,
                "  %s run %2d: killed leader %s %3d ms into steady state; write acknowledged after "
                "%7.1f ms\n",
                s->label, r, s->c->nodes[leader].id, jitter, ms);
        fflush(out);
        if (!restart_member(s, leader)) {
            if (!h_interrupted())
                fprintf(stderr, "bench_compare_etcd: %s: %s did not come back (log: %s)\n",
                        s->label, s->c->nodes[leader].id, s->c->nodes[leader].log);
            rc = -1;
        }
    }
    h_samples_summarise(&acks, lat);
    return rc;
}

/* ---- writes ------------------------------------------------------------- */

static atomic_bool stop_writers;

struct writer {
    const struct sut *s;
    int id, batch;
    const char *url;
    pthread_barrier_t *start;
    struct h_samples lat;
    uint64_t entries, errors;
    long last_error; /* HTTP status, or -curl code */
    struct reply reply, last_reply;
    bool setup_failed;
};

static void *run_writer(void *arg)
{
    struct writer *w = arg;
    size_t room = body_room(w->batch);
    char *body = malloc(room);
    CURL *cu = body ? curl_easy_init() : NULL;
    if (cu) {
        setup_handle(cu, w->s, w->url, 10000);
        curl_easy_setopt(cu, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(cu, CURLOPT_WRITEDATA, &w->reply);
    }
    w->setup_failed = !cu;
    pthread_barrier_wait(w->start);
    for (uint64_t seq = 1; cu && !atomic_load_explicit(&stop_writers, memory_order_relaxed);
         seq++) {
        curl_easy_setopt(cu, CURLOPT_POSTFIELDSIZE,
                         (long)make_body(w->s, body, room, w->id, seq, w->batch));
        w->reply.n = 0;
        w->reply.text[0] = '\0';
        uint64_t t0 = h_now_ns();
        CURLcode rc = curl_easy_perform(cu);
        uint64_t t1 = h_now_ns();
        long status = 0;
        curl_easy_getinfo(cu, CURLINFO_RESPONSE_CODE, &status);
        if (acknowledged(w->s, rc, status)) {
            w->entries += (uint64_t)w->batch;
            h_samples_add(&w->lat, t1 - t0);
        } else {
            w->errors++;
            w->last_error = rc == CURLE_OK ? status : -(long)rc;
            w->last_reply = w->reply;
            /* As a client told "retry shortly" would, rather than spin. */
            sleep_ms(ERROR_BACKOFF_MS);
        }
    }
    if (cu)
        curl_easy_cleanup(cu);
    free(body);
    return NULL;
}

struct level {
    double eps; /* entries committed per second */
    uint64_t errors;
    long last_error;
    struct reply last_reply;
    struct h_latency lat;
    unsigned long long elections; /* terms that began during the level */
};

/* `writers` threads write batches of `batch` to the leader for `seconds`.
 * Each thread's first request opens its connection inside the window (as
 * for both systems alike). Returns 0, or -1 when a thread had no handle. */
static int run_level(struct sut *s, int leader, int writers, int batch, int seconds,
                     struct level *r)
{
    char url[128];
    write_url(s, leader, batch, url, sizeof url);
    struct writer w[WRITERS];
    pthread_t th[WRITERS];
    pthread_barrier_t start;
    if (pthread_barrier_init(&start, NULL, (unsigned)writers + 1) != 0)
        return -1;
    atomic_store(&stop_writers, false);
    for (int k = 0; k < writers; k++)
        w[k] = (struct writer){.s = s, .id = k, .batch = batch, .url = url, .start = &start};
    unsigned long long term0 = sut_term(s);
    h_bench_spawn("bench_compare_etcd", th, writers, run_writer, w, sizeof w[0]);
    pthread_barrier_wait(&start);
    uint64_t t0 = h_now_ns();
    h_bench_sleep(seconds);
    atomic_store(&stop_writers, true);
    for (int k = 0; k < writers; k++)
        pthread_join(th[k], NULL);
    double secs = (double)(h_now_ns() - t0) / 1e9;
    pthread_barrier_destroy(&start);
    struct h_samples all = {0};
    uint64_t entries = 0;
    bool failed = false;
    memset(r, 0, sizeof *r);
    for (int k = 0; k < writers; k++) {
        entries += w[k].entries;
        r->errors += w[k].errors;
        if (w[k].last_error) {
            r->last_error = w[k].last_error;
            r->last_reply = w[k].last_reply;
        }
        failed |= w[k].setup_failed || !h_samples_take(&all, &w[k].lat);
    }
    h_samples_summarise(&all, &r->lat);
    r->eps = secs > 0 ? (double)entries / secs : 0;
    unsigned long long term1 = sut_term(s);
    r->elections = term1 > term0 ? term1 - term0 : 0;
    return failed ? -1 : 0;
}

struct light_arg {
    const struct sut *s;
    int batch;
};

static size_t light_body(char *buf, size_t cap, int id, uint64_t seq, void *arg)
{
    const struct light_arg *a = arg;
    return make_body(a->s, buf, cap, id, seq, a->batch);
}

/* run_level on the light client (harness_writers.h), counted alike:
 * committed entries over the time to the last answer, latency from a
 * request's send to its answer's last byte, every other answer or failure
 * an error followed by ERROR_BACKOFF_MS. Returns 0, or -1 when the writers
 * could not be set up. */
static int run_level_light(struct sut *s, int leader, int writers, int batch, int seconds,
                           struct level *r)
{
    struct light_arg a = {s, batch};
    struct h_writers_spec spec = {
        .port = s->c->nodes[leader].http_port,
        .path = s->kind == CHIMERA ? "/ledger/notes"
                : batch == 1       ? "/v3/kv/put"
                                   : "/v3/kv/txn",
        .token = s->kind == CHIMERA ? s->c->token : NULL,
        .writers = writers,
        .threads = (writers + WRITERS_PER_THREAD - 1) / WRITERS_PER_THREAD,
        .max_body = body_room(batch),
        .body = light_body,
        .arg = &a,
        .status = s->kind == CHIMERA ? 201 : 200,
        .backoff_ms = ERROR_BACKOFF_MS,
    };
    struct h_writer_stats st[WRITERS];
    memset(st, 0, sizeof st);
    double secs = 0;
    memset(r, 0, sizeof *r);
    unsigned long long term0 = sut_term(s);
    int rc = h_writers_run(&spec, seconds, st, &secs);
    struct h_samples all = {0};
    uint64_t entries = 0;
    bool failed = rc != 0;
    for (int k = 0; k < writers; k++) {
        entries += st[k].ok * (uint64_t)batch;
        r->errors += st[k].errors;
        if (st[k].last_status)
            r->last_error = st[k].last_status;
        failed |= !h_samples_take(&all, &st[k].lat);
    }
    h_samples_summarise(&all, &r->lat);
    r->eps = secs > 0 ? (double)entries / secs : 0;
    unsigned long long term1 = sut_term(s);
    r->elections = term1 > term0 ? term1 - term0 : 0;
    return failed ? -1 : 0;
}

/* ---- idle --------------------------------------------------------------- */

static long rss_kib(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "re");
    long kib = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld", &kib) == 1)
            break;
    if (f)
        fclose(f);
    return kib;
}

struct idle {
    double leader_cpu, follower_cpu; /* % of one core; followers: mean */
    double rss_mib;                  /* largest member */
};

/* Samples every member's CPU time over IDLE_SECONDS and its RSS at the end.
 * The CPU time is its threads' run time to the nanosecond (schedstat): in
 * clock ticks (utime + stime) an idle member's ~20 ticks over the window
 * moved its figure by 5 % a tick, as much as the margin being judged. */
static int idle(struct sut *s, int leader, struct idle *r)
{
    static struct h_thread_cpu cpu0[H_MAX_NODES], cpu1;
    bool read0[H_MAX_NODES];
    sleep_ms(SETTLE_MS);
    double t0 = now_ms();
    for (int i = 0; i < s->c->n; i++)
        read0[i] = h_thread_cpu_read(s->c->nodes[i].pid, &cpu0[i]);
    h_bench_sleep(IDLE_SECONDS);
    double secs = (now_ms() - t0) / 1e3;
    memset(r, 0, sizeof *r);
    for (int i = 0; i < s->c->n; i++) {
        bool read1 = h_thread_cpu_read(s->c->nodes[i].pid, &cpu1);
        int gone = 0;
        double pct = h_thread_cpu_delta(&cpu0[i], &cpu1, &gone) / secs * 100.0;
        long kib = rss_kib(s->c->nodes[i].pid);
        if (!read0[i] || !read1 || kib < 0 || !h_node_running(s->c, i)) {
            fprintf(stderr, "bench_compare_etcd: %s: %s went away (log: %s)\n", s->label,
                    s->c->nodes[i].id, s->c->nodes[i].log);
            return -1;
        }
        if (gone > 0)
            fprintf(out,
                    "idle: %s: %d of %s's %d threads exited during the window (their "
                    "run time since its start is not counted)\n",
                    s->label, gone, s->c->nodes[i].id, cpu0[i].n);
        if (i == leader)
            r->leader_cpu = pct;
        else
            r->follower_cpu += pct / (s->c->n - 1);
        if (kib / 1024.0 > r->rss_mib)
            r->rss_mib = kib / 1024.0;
    }
    return h_interrupted() ? -1 : 0;
}

/* ---- the machine ---------------------------------------------------------- */

/* write + fdatasync of FSYNC_BYTES appended to a temp file in /tmp, where
 * both systems keep their data. */
static int fsync_latency(struct h_latency *lat)
{
    char dir[] = "/tmp/chimera-fsync-XXXXXX", path[64];
    if (!mkdtemp(dir))
        return -1;
    snprintf(path, sizeof path, "%s/probe", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    char buf[FSYNC_BYTES];
    memset(buf, 'f', sizeof buf);
    struct h_samples s = {0};
    for (int k = 0; fd >= 0 && k < FSYNC_SAMPLES && !h_interrupted(); k++) {
        uint64_t t0 = h_now_ns();
        if (write(fd, buf, sizeof buf) != (ssize_t)sizeof buf || fdatasync(fd) != 0)
            break;
        h_samples_add(&s, h_now_ns() - t0);
    }
    bool ok = fd >= 0 && s.n == FSYNC_SAMPLES;
    if (fd >= 0)
        close(fd);
    unlink(path);
    rmdir(dir);
    h_samples_summarise(&s, lat);
    return ok ? 0 : -1;
}

/* The three load averages, "1.00 0.50 0.25". */
static void loadavg(char *buf, size_t len)
{
    FILE *f = fopen("/proc/loadavg", "re");
    char a[16], b[16], c[16];
    if (f && fscanf(f, "%15s %15s %15s", a, b, c) == 3)
        snprintf(buf, len, "%s %s %s", a, b, c);
    else
        snprintf(buf, len, "?");
    if (f)
        fclose(f);
}

/* ---- the figures -------------------------------------------------------- */

#define MAX_FIGS 32
struct fig {
    const char *key, *what, *unit;
    double chimera, etcd; /* etcd < 0: not measured */
};
static struct fig figs[MAX_FIGS];
static int nfigs;

/* --pairs: a ratio Chimera/etcd over several pairs of runs: the 64-writer
 * level's rate, and the idle leader's and followers' CPU. */
#define MAX_PAIRS 20
struct series {
    const char *key, *what;
    double ratio[MAX_PAIRS];
    int n;
};
static struct series writes64 = {.key = "writes64", .what = "64 writers"},
                     idle_leader = {.key = "idle_leader_cpu", .what = "idle leader CPU"},
                     idle_follower = {.key = "idle_follower_cpu", .what = "idle follower CPU"};
static struct series *const all_series[] = {&writes64, &idle_leader, &idle_follower};
#define NSERIES (sizeof all_series / sizeof all_series[0])

static void series_add(struct series *se, double chimera, double etcd)
{
    if (etcd > 0 && se->n < MAX_PAIRS)
        se->ratio[se->n++] = chimera / etcd;
}

static void fig(const char *key, const char *what, const char *unit, double chimera, double etcd)
{
    if (nfigs < MAX_FIGS)
        figs[nfigs++] = (struct fig){key, what, unit, chimera, etcd};
}

static void fig_latency(const char *key, const char *what, const struct h_latency *c,
                        const struct h_latency *e)
{
    static char keys[3][MAX_FIGS][64], whats[3][MAX_FIGS][96];
    const char *names[3] = {"p50", "p99", "max"};
    double cv[3] = {c->p50_ms, c->p99_ms, c->max_ms};
    double ev[3] = {e ? e->p50_ms : -1, e ? e->p99_ms : -1, e ? e->max_ms : -1};
    for (int k = 0; k < 3; k++) {
        snprintf(keys[k][nfigs], sizeof keys[k][0], "%s_%s_ms", key, names[k]);
        snprintf(whats[k][nfigs], sizeof whats[k][0], "%s %s", what, names[k]);
        fig(keys[k][nfigs], whats[k][nfigs], "ms", cv[k], ev[k]);
    }
}

static void print_table(void)
{
    fprintf(out, "\n%-54s %6s %10s %10s %13s\n", "figure", "unit", "Chimera", "etcd",
            "Chimera/etcd");
    for (int k = 0; k < nfigs; k++) {
        const struct fig *f = &figs[k];
        char e[16] = "-", ratio[16] = "-";
        if (f->etcd > 0)
            snprintf(ratio, sizeof ratio, "%.2fx", f->chimera / f->etcd);
        /* CPU % to the hundredth: the idle figures are around 1 % */
        int digits = strcmp(f->unit, "%") == 0 ? 2 : 1;
        if (f->etcd >= 0)
            snprintf(e, sizeof e, "%.*f", digits, f->etcd);
        fprintf(out, "%-54s %6s %10.*f %10s %13s\n", f->what, f->unit, digits, f->chimera, e,
                ratio);
    }
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* A ratio over the pairs run (--pairs). */
struct pairs_summary {
    double median, min, max;
};

static struct pairs_summary pairs_summary(const struct series *se)
{
    double v[MAX_PAIRS];
    int n = se->n;
    memcpy(v, se->ratio, sizeof v);
    qsort(v, (size_t)n, sizeof v[0], by_value);
    if (n == 0)
        return (struct pairs_summary){0, 0, 0};
    double median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
    return (struct pairs_summary){median, v[0], v[n - 1]};
}

static void print_json(const char *version, const char *load0, const char *load1,
                       const struct h_latency *fs, int runs, int seconds)
{
    json_t *list = json_array();
    for (int k = 0; k < nfigs; k++) {
        const struct fig *f = &figs[k];
        json_t *o = json_pack("{s:s, s:s, s:s, s:f}", "key", f->key, "figure", f->what, "unit",
                              f->unit, "chimera", f->chimera);
        json_object_set_new(o, "etcd", f->etcd >= 0 ? json_real(f->etcd) : json_null());
        json_object_set_new(o, "ratio",
                            f->etcd > 0 ? json_real(f->chimera / f->etcd) : json_null());
        json_array_append_new(list, o);
    }
    json_t *doc = json_pack("{s:s, s:s?, s:i, s:i, s:i, s:s, s:s, s:{s:f, s:f, s:i}, s:o}", "bench",
                            "compare_etcd", "etcd_version", version, "runs", runs, "seconds",
                            seconds, "nproc", (int)sysconf(_SC_NPROCESSORS_ONLN), "loadavg_start",
                            load0, "loadavg_end", load1, "fdatasync_ms", "p50", fs->p50_ms, "p99",
                            fs->p99_ms, "bytes", FSYNC_BYTES, "figures", list);
    json_object_set_new(doc, "client", json_string(use_curl ? "curl" : "light"));
    for (size_t k = 0; k < NSERIES; k++) {
        const struct series *se = all_series[k];
        if (se->n == 0)
            continue;
        struct pairs_summary ps = pairs_summary(se);
        char key[64];
        snprintf(key, sizeof key, "%s_ratio", se->key);
        json_object_set_new(doc, key,
                            json_pack("{s:i, s:f, s:f, s:f}", "pairs", se->n, "median", ps.median,
                                      "min", ps.min, "max", ps.max));
    }
    char *text = json_dumps(doc, JSON_INDENT(2) | JSON_REAL_PRECISION(6));
    if (text)
        printf("%s\n", text);
    free(text);
    json_decref(doc);
}

/* ---- main --------------------------------------------------------------- */

/* etcd's path: $ETCD_BIN, or `etcd` on PATH; NULL when neither. */
static const char *find_etcd(void)
{
    static char path[512];
    const char *env = getenv("ETCD_BIN");
    if (env && *env)
        return access(env, X_OK) == 0 ? env : NULL;
    const char *p = getenv("PATH");
    for (p = p ? p : "/usr/bin:/bin"; *p;) {
        size_t n = strcspn(p, ":");
        snprintf(path, sizeof path, "%.*s/etcd", (int)n, p);
        if (n && access(path, X_OK) == 0)
            return path;
        p += n + (p[n] == ':');
    }
    return NULL;
}

static void etcd_version(char *buf, size_t len)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "'%s' --version 2>/dev/null", etcd_bin);
    FILE *p = popen(cmd, "r");
    snprintf(buf, len, "?");
    if (p && fgets(buf, (int)len, p)) {
        buf[strcspn(buf, "\n")] = '\0';
        const char *v = strstr(buf, "Version: ");
        if (v)
            memmove(buf, v + 9, strlen(v + 9) + 1);
    }
    if (p)
        pclose(p);
}

/* The install script beside this source file. */
static int install_etcd(void)
{
    char script[1024];
    snprintf(script, sizeof script, "%s", __FILE__);
    char *slash = strrchr(script, '/');
    snprintf(slash ? slash + 1 : script, sizeof script - (size_t)(slash ? slash + 1 - script : 0),
             "install-etcd.sh");
    char cmd[1100];
    snprintf(cmd, sizeof cmd, "bash '%s' >&2", script);
    return system(cmd) == 0 ? 0 : -1;
}

struct opts {
    int runs, seconds, pairs;
    bool failover, writes, idle, json, no_etcd, install;
};

static int usage(const char *prog)
{
    fprintf(stderr,
            "usage: %s [--runs N] [--seconds S] [--pairs N] [--only failover,writes,idle] [--json] "
            "[--no-etcd] [--install-etcd] [--curl]\n"
            "  --runs N        kill -9 rounds per system (default 10)\n"
            "  --seconds S     seconds per write level (default 10)\n"
            "  --pairs N       the 64-writer level and the idle window N times per system\n"
            "                  (default 1), each pair on freshly started members, Chimera\n"
            "                  then etcd: each ratio's median, min and max over the pairs\n"
            "  --only LIST     some of failover, writes, idle (default all)\n"
            "  --json          figures as JSON on stdout (progress on stderr)\n"
            "  --no-etcd       Chimera's figures alone when etcd is not installed\n"
            "  --install-etcd  run tests/bench/install-etcd.sh first (root, apt)\n"
            "  --curl          write levels on a thread and a libcurl handle per writer (the\n"
            "                  older client) instead of the light one, for both systems\n"
            "exit: 0 done, 1 setup or recovery failed, 2 usage, 77 no etcd, 130 interrupted\n",
            prog);
    return 2;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
    *o = (struct opts){
        .runs = 10, .seconds = 10, .pairs = 1, .failover = true, .writes = true, .idle = true};
    for (int a = 1; a < argc; a++) {
        const char *arg = argv[a], *val = a + 1 < argc ? argv[a + 1] : NULL;
        if (strcmp(arg, "--json") == 0)
            o->json = true;
        else if (strcmp(arg, "--no-etcd") == 0)
            o->no_etcd = true;
        else if (strcmp(arg, "--install-etcd") == 0)
            o->install = true;
        else if (strcmp(arg, "--curl") == 0)
            use_curl = true;
        else if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0)
            return usage(argv[0]) & 0;
        else if (strcmp(arg, "--runs") == 0 && val && h_parse_seconds(val, 1000, &o->runs) == 0)
            a++;
        else if (strcmp(arg, "--seconds") == 0 && val &&
                 h_parse_seconds(val, 3600, &o->seconds) == 0)
            a++;
        else if (strcmp(arg, "--pairs") == 0 && val &&
                 h_parse_seconds(val, MAX_PAIRS, &o->pairs) == 0)
            a++;
        else if (strcmp(arg, "--only") == 0 && val) {
            o->failover = o->writes = o->idle = false;
            for (const char *p = val; *p;) {
                size_t n = strcspn(p, ",");
                if (n == 8 && strncmp(p, "failover", n) == 0)
                    o->failover = true;
                else if (n == 6 && strncmp(p, "writes", n) == 0)
                    o->writes = true;
                else if (n == 4 && strncmp(p, "idle", n) == 0)
                    o->idle = true;
                else {
                    fprintf(stderr,
                            "--only: unknown workload '%.*s' (want failover, writes, idle)\n",
                            (int)n, p);
                    return 2;
                }
                p += n + (p[n] == ',');
            }
            a++;
        } else {
            fprintf(stderr,
                    "%s: bad option or value at '%s' (--runs 1..1000, --seconds 1..3600, "
                    "--pairs 1..%d)\n",
                    argv[0], arg, MAX_PAIRS);
            return usage(argv[0]);
        }
    }
    return -1;
}

/* The failover workload: Chimera, etcd at its defaults, etcd tuned. */
static int run_failover(const struct opts *o, bool with_etcd)
{
    struct {
        enum kind kind;
        int hb, el;
    } systems[] = {{CHIMERA, 0, 0}, {ETCD, 100, 1000}, {ETCD, 30, 150}};
    struct h_latency lat[3] = {{0}};
    for (int k = 0; k < (with_etcd ? 3 : 1) && !h_interrupted(); k++) {
        struct sut s;
        int rc = sut_start(&s, systems[k].kind, FAILOVER_NODES, systems[k].hb, systems[k].el);
        fprintf(out, "failover: %s, %d runs\n", s.label, o->runs);
        rc = rc == 0 ? failover(&s, o->runs, &lat[k]) : -1;
        sut_destroy(&s, rc == 0);
        if (rc != 0)
            return -1;
    }
    fig_latency("failover_vs_etcd_default", "kill -9 leader -> write ack, 5 (etcd 100/1000)",
                &lat[0], with_etcd ? &lat[1] : NULL);
    fig_latency("failover_vs_etcd_tuned", "kill -9 leader -> write ack, 5 (etcd 30/150)", &lat[0],
                with_etcd ? &lat[2] : NULL);
    return 0;
}

/* The 3 members of the write and idle workloads, at a 50 ms heartbeat
 * (etcd's election timeout 250 ms): the leader once steady, or -1. */
static int start_three(struct sut *s, enum kind kind)
{
    return sut_start(s, kind, WRITE_NODES, 50, 250) == 0 ? wait_steady(s) : -1;
}

/* One write level on the client --curl picks. */
static int write_level(struct sut *s, int leader, int writers, int batch, int seconds,
                       struct level *l)
{
    return use_curl ? run_level(s, leader, writers, batch, seconds, l)
                    : run_level_light(s, leader, writers, batch, seconds, l);
}

static void print_errors(const struct level *l, const char *what)
{
    if (l->errors && l->last_error < 0 && !use_curl)
        fprintf(out, "  %s: %llu requests not acknowledged (the last: %s)\n", what,
                (unsigned long long)l->errors, strerror((int)-l->last_error));
    else if (l->errors)
        fprintf(out, "  %s: %llu requests not acknowledged (the last: %s %ld %s)\n", what,
                (unsigned long long)l->errors, l->last_error < 0 ? "curl error" : "HTTP",
                l->last_error < 0 ? -l->last_error : l->last_error, l->last_reply.text);
}

/* Idle, then writes, on 3 members of each system. */
/* One system on 3 fresh members: the idle window, then the 64-writer
 * level, and with batch and one (the first pair) the other two levels. */
static int run_system(const struct opts *o, enum kind kind, struct idle *id, struct level *many,
                      struct level *batch, struct level *one)
{
    struct sut s;
    int leader = start_three(&s, kind);
    int rc = leader < 0 ? -1 : 0;
    if (rc == 0 && o->idle) {
        fprintf(out, "idle: %s, %d s (CPU: the threads' run time, schedstat, ns)\n", s.label,
                IDLE_SECONDS);
        rc = idle(&s, leader, id);
    }
    if (rc == 0 && o->writes) {
        fprintf(out, "writes: %s, leader %s, %d s per level\n", s.label, s.c->nodes[leader].id,
                o->seconds);
        rc = write_level(&s, leader, WRITERS, 1, o->seconds, many);
        print_errors(many, "64 writers");
        if (rc == 0 && batch) {
            rc = write_level(&s, leader, 1, BATCH, o->seconds, batch);
            print_errors(batch, "batches");
        }
        if (rc == 0 && one) {
            rc = write_level(&s, leader, 1, 1, o->seconds, one);
            print_errors(one, "one writer");
        }
    }
    sut_destroy(&s, rc == 0);
    return rc;
}

/* The paired ratios of one pair (--pairs). */
static void add_pair(const struct opts *o, const struct idle id[2], const struct level many[2])
{
    if (o->writes)
        series_add(&writes64, many[0].eps, many[1].eps);
    if (o->idle) {
        series_add(&idle_leader, id[0].leader_cpu, id[1].leader_cpu);
        series_add(&idle_follower, id[0].follower_cpu, id[1].follower_cpu);
    }
}

static int run_three(const struct opts *o, bool with_etcd)
{
    struct idle id[2] = {{0}};
    struct level many[2] = {{0}}, batch[2] = {{0}}, one[2] = {{0}};
    for (int k = 0; k < (with_etcd ? 2 : 1) && !h_interrupted(); k++)
        if (run_system(o, k ? ETCD : CHIMERA, &id[k], &many[k], &batch[k], &one[k]) != 0)
            return -1;
    double e = with_etcd ? 0 : -1;
    if (with_etcd)
        add_pair(o, id, many);
    if (o->writes) {
        fig("writes64_per_s", "64 writers, 1 note each, 3 members: entries/s", "/s", many[0].eps,
            e < 0 ? e : many[1].eps);
        fig("writes64_p50_ms", "64 writers: latency p50", "ms", many[0].lat.p50_ms,
            e < 0 ? e : many[1].lat.p50_ms);
        fig("writes64_p99_ms", "64 writers: latency p99", "ms", many[0].lat.p99_ms,
            e < 0 ? e : many[1].lat.p99_ms);
        fig("writes64_errors", "64 writers: requests not acknowledged", "req",
            (double)many[0].errors, e < 0 ? e : (double)many[1].errors);
        fig("writes64_elections", "64 writers: elections during the level", "terms",
            (double)many[0].elections, e < 0 ? e : (double)many[1].elections);
        fig("batch100_per_s", "1 writer, batches of 100 (txn for etcd): entries/s", "/s",
            batch[0].eps, e < 0 ? e : batch[1].eps);
        fig("writes1_per_s", "1 writer, 1 note each: entries/s", "/s", one[0].eps,
            e < 0 ? e : one[1].eps);
        fig("writes1_p50_ms", "1 writer: latency p50", "ms", one[0].lat.p50_ms,
            e < 0 ? e : one[1].lat.p50_ms);
    }
    if (o->idle) {
        fig("idle_rss_mib", "idle member RSS (largest of 3), heartbeat 50 ms", "MiB", id[0].rss_mib,
            e < 0 ? e : id[1].rss_mib);
        fig("idle_follower_cpu_pct", "idle follower CPU (mean of 2), heartbeat 50 ms", "%",
            id[0].follower_cpu, e < 0 ? e : id[1].follower_cpu);
        fig("idle_leader_cpu_pct", "idle leader CPU, heartbeat 50 ms", "%", id[0].leader_cpu,
            e < 0 ? e : id[1].leader_cpu);
    }
    return 0;
}

/* --pairs N: the idle window and the 64-writer level N - 1 more times per
 * system, each pair on freshly started members, Chimera then etcd, back to
 * back. A machine whose speed drifts between runs minutes apart (seen: the
 * same build's CPU per entry moving 32-46 us, etcd's rate 5.0-7.2k/s, the
 * idle leader's ratio 0.51-0.63x) moves one pair's ratio; the median over
 * pairs says where it stands. */
static int run_pairs(const struct opts *o)
{
    for (int p = 1; p < o->pairs && !h_interrupted(); p++) {
        struct level l[2] = {{0}};
        struct idle id[2] = {{0}};
        for (int k = 0; k < 2; k++)
            if (run_system(o, k ? ETCD : CHIMERA, &id[k], &l[k], NULL, NULL) != 0)
                return -1;
        add_pair(o, id, l);
        fprintf(out, "pair %d of %d:", p + 1, o->pairs);
        if (o->writes)
            fprintf(out, " 64 writers, Chimera %.0f/s, etcd %.0f/s: %.2fx;", l[0].eps, l[1].eps,
                    l[1].eps > 0 ? l[0].eps / l[1].eps : 0);
        if (o->idle) {
            fprintf(out,
                    " idle leader CPU %.2f %% vs %.2f %%: %.2fx, followers %.2f %% vs %.2f %%: "
                    "%.2fx",
                    id[0].leader_cpu, id[1].leader_cpu,
                    id[1].leader_cpu > 0 ? id[0].leader_cpu / id[1].leader_cpu : 0,
                    id[0].follower_cpu, id[1].follower_cpu,
                    id[1].follower_cpu > 0 ? id[0].follower_cpu / id[1].follower_cpu : 0);
        }
        fprintf(out, "\n");
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct opts o;
    int rc = parse_args(argc, argv, &o);
    if (rc >= 0)
        return rc;
    out = o.json ? stderr : stdout;
    etcd_bin = find_etcd();
    if (!etcd_bin && o.install && install_etcd() == 0)
        etcd_bin = find_etcd();
    if (!etcd_bin && !o.no_etcd) {
        fprintf(stderr,
                "bench_compare_etcd: skipped: etcd is not installed (no $ETCD_BIN, no etcd on "
                "PATH). Install Debian's etcd-server with tests/bench/install-etcd.sh (root), or "
                "run with --install-etcd, or with --no-etcd for Chimera's figures alone.\n");
        return 77;
    }
    bool with_etcd = etcd_bin && !o.no_etcd;
    signal(SIGPIPE, SIG_IGN);
    h_on_interrupt();
    setvbuf(stdout, NULL, _IOLBF, 0);
    rng_state = (uint64_t)time(NULL) ^ (uint64_t)getpid();

    char version[64] = "", load0[64], load1[64];
    if (with_etcd)
        etcd_version(version, sizeof version);
    loadavg(load0, sizeof load0);
    fprintf(out,
            "bench_compare_etcd: Chimera (chimerad in %s) vs %s%s, on 127.0.0.1, nproc %ld, "
            "loadavg %s; the same client for both (writes: %s); fsync on both\n",
            h_bin_dir(), with_etcd ? "etcd " : "no etcd (--no-etcd)", version,
            sysconf(_SC_NPROCESSORS_ONLN), load0,
            use_curl ? "curl, a thread and a libcurl handle per writer (--curl)"
                     : "light, keep-alive connections 32 to an epoll thread");
    struct h_latency fs = {0};
    if (fsync_latency(&fs) != 0)
        fprintf(stderr, "bench_compare_etcd: cannot measure fdatasync in /tmp\n");
    fprintf(out, "fdatasync: write %d B + fdatasync in /tmp, %d times: p50 %.3f ms, p99 %.3f ms\n",
            FSYNC_BYTES, FSYNC_SAMPLES, fs.p50_ms, fs.p99_ms);

    rc = 0;
    if (o.failover && !h_interrupted())
        rc = run_failover(&o, with_etcd);
    if (rc == 0 && (o.writes || o.idle) && !h_interrupted())
        rc = run_three(&o, with_etcd);
    if (rc == 0 && (o.writes || o.idle) && with_etcd && o.pairs > 1 && !h_interrupted())
        rc = run_pairs(&o);
    loadavg(load1, sizeof load1);

    if (nfigs > 0) {
        print_table();
        fprintf(out,
                "ratio = Chimera / etcd: above 1 Chimera is higher (better for /s, worse for ms, "
                "MiB, %%)\nfdatasync p50 %.3f ms, p99 %.3f ms; loadavg at start %s, at end %s\n",
                fs.p50_ms, fs.p99_ms, load0, load1);
        for (size_t k = 0; k < NSERIES; k++) {
            const struct series *se = all_series[k];
            struct pairs_summary ps = pairs_summary(se);
            if (se->n > 1)
                fprintf(out, "%s over %d pairs: Chimera/etcd median %.2fx, min %.2fx, max %.2fx\n",
                        se->what, se->n, ps.median, ps.min, ps.max);
        }
        /* One line for scripts, like the other benchmarks' RESULT lines. */
        fprintf(out,
                "RESULT bench=compare_etcd etcd=%s client=%s runs=%d seconds=%d "
                "fdatasync_p50_ms=%.3f fdatasync_p99_ms=%.3f",
                with_etcd ? version : "none", use_curl ? "curl" : "light", o.runs, o.seconds,
                fs.p50_ms, fs.p99_ms);
        if (o.idle)
            fprintf(out, " idle_seconds=%d idle_cpu_resolution_pct=%g idle_cpu_source=schedstat",
                    IDLE_SECONDS, 1e-9 / IDLE_SECONDS * 100.0);
        for (int k = 0; k < nfigs; k++) {
            fprintf(out, " %s_chimera=%.3f", figs[k].key, figs[k].chimera);
            if (figs[k].etcd >= 0)
                fprintf(out, " %s_etcd=%.3f", figs[k].key, figs[k].etcd);
        }
        for (size_t k = 0; k < NSERIES; k++) {
            const struct series *se = all_series[k];
            struct pairs_summary ps = pairs_summary(se);
            if (se->n > 0)
                fprintf(out,
                        " %s_pairs=%d %s_ratio_median=%.3f %s_ratio_min=%.3f %s_ratio_max=%.3f",
                        se->key, se->n, se->key, ps.median, se->key, ps.min, se->key, ps.max);
        }
        fprintf(out, "\n");
        if (o.json)
            print_json(with_etcd ? version : NULL, load0, load1, &fs, o.runs, o.seconds);
    }
    if (h_interrupted())
        return 130;
    return rc == 0 ? 0 : 1;
}
