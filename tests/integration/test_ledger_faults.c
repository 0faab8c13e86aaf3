/* Integration: the ledger under faults. Writer threads post notes with
 * unique texts to whatever node leads while the test kills the leader with
 * SIGKILL, cuts the old leader off with a real network partition, or wipes
 * a follower's data directory. The property, from the issue: notes appended
 * during leader kills and a namespace partition are either committed on all
 * nodes with identical heads, or refused; never lost after acknowledgement.
 *
 * Every note a writer posts is recorded with its outcome. At the end, with
 * every node up, one leader and every node's head and commit index agreed,
 * the test reads the whole ledger from every node and checks:
 *   - every node holds the same entries (index by index, the same hash) and
 *     the chain links (each prev_hash is the hash before it);
 *   - every note acknowledged with 201 is at the index it was acknowledged
 *     at, with its text, in the term of the answer;
 *   - no note appears twice; a refused note (503, no answer) may or may not
 *     be present, except one refused by a node already seen read-only,
 *     which must never appear.
 * The partition test also cuts the old leader off while a writer keeps
 * posting to it: what it acknowledged must be committed, and what the
 * cut-off side refused once read-only must never appear.
 *
 * The wipe tests delete a follower's data directory and restart it: it must
 * catch up the whole ledger (same head as the leader), and `chimeractl
 * ledger verify` must pass on every stopped node's data. Two of them put the
 * follower's boot epoch where a wiped start cannot take a fresh one (after
 * quick restarts, or within the second of its last epoch); see
 * wiped_after_recent_start_rejoins.
 *
 * Each test prints its figures (notes acknowledged, refused, faults) to
 * stdout.
 *
 * Writers run in threads of their own and only talk HTTP (h_http_request,
 * which is safe from several threads: one curl handle per request, and the
 * namespace is entered per thread); only the main thread starts, stops and
 * waits on nodes, and only it asserts. Every wait is on a condition with a
 * deadline, never on elapsed time. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "harness_fixture.h"

#define MAX_WRITERS 4
#define KILLS 3
#define POST_TIMEOUT_MS 3000
#define TEXT_MAX 48
#define BATCH_MAX 8

/* ---- what writers record ------------------------------------------------- */

enum outcome {
    ACKED,     /* 201: committed, at index */
    REFUSED,   /* 503 */
    NO_ANSWER, /* no HTTP answer within the timeout (connection refused or reset, or cut off) */
    NOT_SENT,  /* 307 to a node the writer may not use, or too many redirects: nothing appended */
    OTHER,     /* anything else (400, 401, 500, a malformed 201): a failure */
};

struct note_rec {
    char text[TEXT_MAX];
    enum outcome outcome;
    long status;
    int node;  /* where it was last posted */
    int phase; /* the pool's phase when the post began */
    json_int_t index, term;
};

struct pool;

struct writer {
    struct pool *p;
    int id;
    int targets[H_MAX_NODES]; /* nodes this writer posts to */
    int ntargets;
    int batch; /* notes per request; 1 uses {"note": ...} */
    /* Posts to the cut-off minority: from phase 1 on (the minority seen
     * read-only) it alternates between its targets, and every note it posts
     * then must be refused and never appear. */
    bool minority;
    atomic_bool stop;
    atomic_long acked;       /* notes acknowledged so far */
    atomic_long phase_posts; /* requests begun in phase >= 1 */
    atomic_long last_status; /* of the last answer, for failure messages */
    bool running;
    pthread_t th;
    /* Written by the writer only; read by the main thread after joining. */
    struct note_rec *recs;
    size_t n, cap;
    unsigned redirects;
    char other[256]; /* the first OTHER answer, for the failure message */
};

struct pool {
    struct h_cluster *c;
    char tag[16];
    atomic_int phase;
    int nw;
    struct writer w[MAX_WRITERS];
};

/* The pool of the running test: static, so teardown can still stop its
 * writers (before the cluster goes away) when an assertion has left the
 * test half-way. */
static struct pool the_pool;
static struct pool *active;

static void nap_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static struct note_rec *rec_add(struct writer *w)
{
    if (w->n == w->cap) {
        size_t cap = w->cap ? 2 * w->cap : 1024;
        struct note_rec *r = realloc(w->recs, cap * sizeof *r);
        if (!r)
            return NULL;
        w->recs = r;
        w->cap = cap;
    }
    struct note_rec *r = &w->recs[w->n++];
    memset(r, 0, sizeof *r);
    return r;
}

static bool is_target(const struct writer *w, int node)
{
    for (int k = 0; k < w->ntargets; k++)
        if (w->targets[k] == node)
            return true;
    return false;
}

static int next_target(const struct writer *w, int node)
{
    for (int k = 0; k < w->ntargets; k++)
        if (w->targets[k] == node)
            return w->targets[(k + 1) % w->ntargets];
    return w->targets[0];
}

/* Posts one request of `count` fresh notes to *target, following 307s to
 * other targets (nothing was appended by a node that redirects), and records
 * the outcome of every note. */
static void post_once(struct writer *w, int *target, unsigned *seq, int phase)
{
    struct pool *p = w->p;
    struct h_cluster *c = p->c;
    int count = w->batch;
    char texts[BATCH_MAX][TEXT_MAX];
    json_t *arr = json_array();
    for (int k = 0; k < count; k++) {
        snprintf(texts[k], TEXT_MAX, "%s-w%d-%06u", p->tag, w->id, (*seq)++);
        json_array_append_new(arr, json_string(texts[k]));
    }
    json_t *body = count == 1 ? json_pack("{s:O}", "note", json_array_get(arr, 0))
                              : json_pack("{s:O}", "notes", arr);
    json_decref(arr);
    char *body_text = json_dumps(body, JSON_COMPACT);
    json_decref(body);

    long st = 0;
    json_t *ans = NULL;
    for (int hops = 0;; hops++) {
        char *text = h_http_request(c, *target, "POST", "/ledger/notes", body_text, c->token,
                                    POST_TIMEOUT_MS, &st);
        json_decref(ans);
        ans = text ? json_loads(text, 0, NULL) : NULL;
        free(text);
        if (st != 307)
            break;
        int to = h_node_index(c, json_string_value(json_object_get(ans, "leader")));
        if (to < 0 || !is_target(w, to) || to == *target || hops >= 3)
            break;
        w->redirects++;
        *target = to;
    }
    free(body_text);

    enum outcome o;
    json_int_t first = json_integer_value(json_object_get(ans, "first_index"));
    json_int_t last = json_integer_value(json_object_get(ans, "last_index"));
    json_int_t term = json_integer_value(json_object_get(ans, "term"));
    if (st == 201 && first > 0 && last - first + 1 == count && term > 0)
        o = ACKED;
    else if (st == 503)
        o = REFUSED;
    else if (st == 0)
        o = NO_ANSWER;
    else if (st == 307)
        o = NOT_SENT;
    else {
        o = OTHER;
        if (!w->other[0]) {
            char *dump = ans ? json_dumps(ans, JSON_COMPACT) : NULL;
            snprintf(w->other, sizeof w->other, "%s answered %ld: %s", c->nodes[*target].id, st,
                     dump ? dump : "(no JSON body)");
            free(dump);
        }
    }
    json_decref(ans);
    atomic_store(&w->last_status, st);
    for (int k = 0; k < count; k++) {
        struct note_rec *r = rec_add(w);
        if (!r)
            break; /* out of memory: the note goes unrecorded, as if never sent */
        memcpy(r->text, texts[k], sizeof r->text);
        r->outcome = o;
        r->status = st;
        r->node = *target;
        r->phase = phase;
        if (o == ACKED) {
            r->index = first + k;
            r->term = term;
        }
    }
    if (o == ACKED)
        atomic_fetch_add(&w->acked, count);
    else
        *target = next_target(w, *target); /* somebody else may lead by now */
}

static void *writer_main(void *arg)
{
    struct writer *w = arg;
    unsigned seq = 0, posts = 0;
    int target = w->targets[w->id % w->ntargets];
    while (!atomic_load(&w->stop)) {
        int phase = atomic_load(&w->p->phase);
        if (phase >= 1) {
            atomic_fetch_add(&w->phase_posts, 1);
            if (w->minority)
                target = w->targets[posts % (unsigned)w->ntargets];
        }
        posts++;
        size_t before = w->n;
        post_once(w, &target, &seq, phase);
        /* A short pause after a failure, so a dead node is not hammered;
         * nothing waits on it. */
        if (w->n > before && w->recs[w->n - 1].outcome != ACKED)
            nap_ms(10);
    }
    return NULL;
}

static struct pool *pool_new(struct h_cluster *c, const char *tag)
{
    struct pool *p = &the_pool;
    memset(p, 0, sizeof *p);
    p->c = c;
    snprintf(p->tag, sizeof p->tag, "%s", tag);
    atomic_init(&p->phase, 0);
    active = p;
    return p;
}

/* Starts a writer posting `batch` notes per request to targets[0..n). */
static struct writer *pool_spawn(struct pool *p, const int *targets, int n, int batch,
                                 bool minority)
{
    assert_true(p->nw < MAX_WRITERS && n > 0 && n <= H_MAX_NODES && batch >= 1 &&
                batch <= BATCH_MAX);
    struct writer *w = &p->w[p->nw];
    w->p = p;
    w->id = p->nw;
    memcpy(w->targets, targets, (size_t)n * sizeof *targets);
    w->ntargets = n;
    w->batch = batch;
    w->minority = minority;
    atomic_init(&w->stop, false);
    atomic_init(&w->acked, 0);
    atomic_init(&w->phase_posts, 0);
    atomic_init(&w->last_status, -1);
    if (pthread_create(&w->th, NULL, writer_main, w) != 0)
        fail_msg("cannot start writer %d", p->nw);
    w->running = true;
    p->nw++;
    return w;
}

static void writer_stop(struct writer *w)
{
    if (!w->running)
        return;
    atomic_store(&w->stop, true);
    pthread_join(w->th, NULL);
    w->running = false;
}

static void pool_stop(struct pool *p)
{
    for (int k = 0; k < p->nw; k++)
        atomic_store(&p->w[k].stop, true);
    for (int k = 0; k < p->nw; k++)
        writer_stop(&p->w[k]);
}

static void pool_free(struct pool *p)
{
    pool_stop(p);
    for (int k = 0; k < p->nw; k++) {
        free(p->w[k].recs);
        p->w[k].recs = NULL;
    }
    if (active == p)
        active = NULL;
}

static long acked_by(struct pool *p, int from, int to)
{
    long sum = 0;
    for (int k = from; k < to; k++)
        sum += atomic_load(&p->w[k].acked);
    return sum;
}

struct progress_arg {
    struct pool *p;
    int from, to; /* writers */
    long target;
};

static bool progressed(void *arg)
{
    struct progress_arg *a = arg;
    return acked_by(a->p, a->from, a->to) >= a->target;
}

/* Waits until writers [from, to) have had `more` notes acknowledged beyond
 * what they had when called. */
static void expect_progress(struct pool *p, int from, int to, long more, int timeout_ms,
                            const char *when)
{
    struct progress_arg a = {p, from, to, acked_by(p, from, to) + more};
    if (h_wait_until(progressed, &a, timeout_ms))
        return;
    char last[256];
    size_t off = 0;
    last[0] = '\0';
    for (int k = from; k < to && off < sizeof last; k++)
        off += (size_t)snprintf(last + off, sizeof last - off, " w%d:%ld", k,
                                atomic_load(&p->w[k].last_status));
    fail_msg("%s: writers got %ld notes acknowledged, waited for %ld (last answers:%s); now: %s",
             when, acked_by(p, from, to), a.target, last, h_views_line(p->c));
}

/* ---- fixtures ------------------------------------------------------------ */

static int group_setup(void **state)
{
    (void)state;
    return h_netns_check("test_ledger_faults", "the partition test");
}

static int setup_n(void **state, int n)
{
    struct h_cluster *c = h_cluster_create(n);
    *state = c;
    return c ? 0 : -1;
}

static int setup3(void **state)
{
    return setup_n(state, 3);
}

static int setup5(void **state)
{
    return setup_n(state, 5);
}

static int setup5_netns(void **state)
{
    return h_netns_cluster_setup(state, 5, "test_ledger_faults");
}

static int teardown(void **state)
{
    if (active)
        pool_free(active); /* writers first: they talk to the cluster */
    h_cluster_destroy(*state);
    return 0;
}

/* Elections after a kill may take a few rounds; healing a cut waits on TCP
 * retransmission. */
static int deadline(void)
{
    return 3 * h_timeout_ms();
}

static void start_node(struct h_cluster *c, int i)
{
    assert_int_equal(h_node_start(c, i), 0);
    if (!h_wait_http_up(c, i, h_timeout_ms()))
        fail_msg("%s did not serve HTTP again (log: %s)", c->nodes[i].id, c->nodes[i].log);
}

/* ---- convergence ----------------------------------------------------------- */

/* No node but `except` (-1: none) is down: only the test kills and stops
 * them, so one that is down died by itself. */
static void expect_running_except(struct h_cluster *c, int except)
{
    for (int i = 0; i < c->n; i++) {
        if (i == except || h_node_running(c, i))
            continue;
        int st = c->nodes[i].exit_status;
        if (st != -1 && WIFSIGNALED(st))
            fail_msg("%s died of signal %d (%s); log: %s", c->nodes[i].id, WTERMSIG(st),
                     strsignal(WTERMSIG(st)), c->nodes[i].log);
        fail_msg("%s is not running (exit status %d); log: %s", c->nodes[i].id,
                 st != -1 && WIFEXITED(st) ? WEXITSTATUS(st) : -1, c->nodes[i].log);
    }
}

static void expect_all_running(struct h_cluster *c)
{
    expect_running_except(c, -1);
}

struct converged_arg {
    struct h_cluster *c;
    json_int_t index;
    char head[80];
};

/* Every node answers, reports the same ledger index and head hash, and has
 * committed all of it. */
static bool converged(void *arg)
{
    struct converged_arg *a = arg;
    struct h_cluster *c = a->c;
    bool ok = true;
    for (int i = 0; ok && i < c->n; i++) {
        long st = 0;
        json_t *s = h_http_get_json(c, i, "/federation/state", &st);
        json_t *l = json_object_get(s, "ledger");
        json_int_t index = json_integer_value(json_object_get(l, "index"));
        json_int_t committed = json_integer_value(json_object_get(l, "committed"));
        const char *head = json_string_value(json_object_get(l, "head"));
        if (st != 200 || !head || index <= 0 || committed != index)
            ok = false;
        else if (i == 0) {
            a->index = index;
            snprintf(a->head, sizeof a->head, "%s", head);
        } else if (index != a->index || strcmp(head, a->head) != 0)
            ok = false;
        json_decref(s);
    }
    return ok;
}

/* Waits for one agreed leader and then for every node to hold and have
 * committed the same head; returns the head index. A failure says hint
 * (may be NULL) too. */
static json_int_t expect_converged_hint(struct h_cluster *c, int *leader, int timeout_ms,
                                        const char *hint)
{
    expect_all_running(c);
    if (!h_wait_agreed(c, 0, deadline(), leader, NULL))
        fail_msg("the nodes never agreed on one leader: %s", h_views_line(c));
    struct converged_arg a = {.c = c};
    if (!h_wait_until(converged, &a, timeout_ms)) {
        char line[1024];
        size_t off = 0;
        for (int i = 0; i < c->n && off < sizeof line; i++) {
            long st = 0;
            json_t *s = h_http_get_json(c, i, "/federation/state", &st);
            json_t *l = json_object_get(s, "ledger");
            off += (size_t)snprintf(line + off, sizeof line - off, "%s%s index=%lld committed=%lld",
                                    i ? " | " : "", c->nodes[i].id,
                                    (long long)json_integer_value(json_object_get(l, "index")),
                                    (long long)json_integer_value(json_object_get(l, "committed")));
            json_decref(s);
        }
        fail_msg("the ledgers never converged (same head, all committed): %s%s%s", line,
                 hint ? "; " : "", hint ? hint : "");
    }
    return a.index;
}

static json_int_t expect_converged(struct h_cluster *c, int *leader, int timeout_ms)
{
    return expect_converged_hint(c, leader, timeout_ms, NULL);
}

/* ---- reading and checking the ledgers -------------------------------------- */

struct entry {
    json_int_t term;
    char type[16];
    char hash[65], prev[65];
    char *text; /* a note's text (malloc'd), NULL for other entries */
};

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* A note's payload is the hex of a msgpack str; returns its text or NULL. */
static char *note_text(const char *hex)
{
    size_t hl = hex ? strlen(hex) : 0;
    if (hl < 2 || hl % 2)
        return NULL;
    size_t n = hl / 2;
    unsigned char *b = malloc(n);
    if (!b)
        return NULL;
    for (size_t k = 0; k < n; k++) {
        int hi = hexval(hex[2 * k]), lo = hexval(hex[2 * k + 1]);
        if (hi < 0 || lo < 0) {
            free(b);
            return NULL;
        }
        b[k] = (unsigned char)(hi << 4 | lo);
    }
    size_t hdr, len;
    if ((b[0] & 0xe0) == 0xa0) {
        hdr = 1;
        len = b[0] & 0x1f;
    } else if (b[0] == 0xd9 && n >= 2) {
        hdr = 2;
        len = b[1];
    } else if (b[0] == 0xda && n >= 3) {
        hdr = 3;
        len = (size_t)b[1] << 8 | b[2];
    } else if (b[0] == 0xdb && n >= 5) {
        hdr = 5;
        len = (size_t)b[1] << 24 | (size_t)b[2] << 16 | (size_t)b[3] << 8 | b[4];
    } else {
        free(b);
        return NULL;
    }
    char *s = NULL;
    if (hdr + len == n && (s = malloc(len + 1)) != NULL) {
        memcpy(s, b + hdr, len);
        s[len] = '\0';
    }
    free(b);
    return s;
}

static void free_entries(struct entry *e, json_int_t n)
{
    for (json_int_t k = 0; e && k < n; k++)
        free(e[k].text);
    free(e);
}

/* Reads entries 1..upto from node i (e[k] is index k + 1). Returns NULL and
 * a reason in why on any problem. */
static struct entry *read_ledger(struct h_cluster *c, int i, json_int_t upto, char *why,
                                 size_t whylen)
{
    struct entry *e = calloc((size_t)upto + 1, sizeof *e);
    if (!e) {
        snprintf(why, whylen, "out of memory");
        return NULL;
    }
    json_int_t next = 1;
    while (next <= upto) {
        char path[96];
        json_int_t want = upto - next + 1 < 1000 ? upto - next + 1 : 1000;
        snprintf(path, sizeof path, "/ledger?from=%lld&limit=%lld", (long long)next,
                 (long long)want);
        long st = 0;
        json_t *page = h_http_get_json(c, i, path, &st);
        json_t *entries = json_object_get(page, "entries");
        size_t got = json_array_size(entries);
        if (st != 200 || got == 0) {
            snprintf(why, whylen, "GET %s answered %ld with %zu entries", path, st, got);
            json_decref(page);
            free_entries(e, upto);
            return NULL;
        }
        for (size_t k = 0; k < got && next <= upto; k++, next++) {
            json_t *o = json_array_get(entries, k);
            struct entry *x = &e[next - 1];
            const char *type = json_string_value(json_object_get(o, "type"));
            const char *hash = json_string_value(json_object_get(o, "hash"));
            const char *prev = json_string_value(json_object_get(o, "prev_hash"));
            if (json_integer_value(json_object_get(o, "index")) != next || !type || !hash ||
                !prev) {
                snprintf(why, whylen, "GET %s: entry %zu is not index %lld or lacks a field", path,
                         k, (long long)next);
                json_decref(page);
                free_entries(e, upto);
                return NULL;
            }
            x->term = json_integer_value(json_object_get(o, "term"));
            snprintf(x->type, sizeof x->type, "%s", type);
            snprintf(x->hash, sizeof x->hash, "%s", hash);
            snprintf(x->prev, sizeof x->prev, "%s", prev);
            if (strcmp(type, "note") == 0)
                x->text = note_text(json_string_value(json_object_get(o, "payload")));
        }
        json_decref(page);
    }
    return e;
}

struct text_at {
    const char *text;
    json_int_t index;
};

static int cmp_text_at(const void *a, const void *b)
{
    return strcmp(((const struct text_at *)a)->text, ((const struct text_at *)b)->text);
}

struct figures {
    long acked, refused, no_answer, not_sent, other;
    long refused_present; /* refused or unanswered, yet committed */
    unsigned redirects;
    json_int_t head;
    /* The minority writer's (partition test): notes to the old leader
     * acknowledged before the cut, not acknowledged around it (and of those,
     * committed anyway), and refused once the minority was read-only. */
    long cut_acked, cut_unacked, cut_unacked_present, late_refused;
    char cut_first[TEXT_MAX + 32]; /* the first note not acknowledged around the cut */
};

/* The heart of it: reads every node's ledger up to the converged head and
 * checks the records of every writer against it. */
static void check_ledgers(struct h_cluster *c, struct pool *p, json_int_t head, struct figures *f)
{
    char why[256];
    struct entry *ref = read_ledger(c, 0, head, why, sizeof why);
    if (!ref)
        fail_msg("%s: %s", c->nodes[0].id, why);
    for (json_int_t k = 1; k < head; k++)
        if (strcmp(ref[k].prev, ref[k - 1].hash) != 0)
            fail_msg("%s: entry %lld's prev_hash is not entry %lld's hash", c->nodes[0].id,
                     (long long)k + 1, (long long)k);
    for (int i = 1; i < c->n; i++) {
        struct entry *e = read_ledger(c, i, head, why, sizeof why);
        if (!e)
            fail_msg("%s: %s", c->nodes[i].id, why);
        for (json_int_t k = 0; k < head; k++)
            if (strcmp(e[k].hash, ref[k].hash) != 0 || e[k].term != ref[k].term)
                fail_msg("%s and %s differ at index %lld: %s (term %lld) vs %s (term %lld)",
                         c->nodes[0].id, c->nodes[i].id, (long long)k + 1, ref[k].hash,
                         (long long)ref[k].term, e[k].hash, (long long)e[k].term);
        free_entries(e, head);
    }

    /* Every note of this test in the ledger, sorted by text. */
    size_t ntag = strlen(p->tag);
    struct text_at *seen = calloc((size_t)head + 1, sizeof *seen);
    assert_non_null(seen);
    size_t nseen = 0;
    for (json_int_t k = 0; k < head; k++)
        if (ref[k].text && strncmp(ref[k].text, p->tag, ntag) == 0 && ref[k].text[ntag] == '-')
            seen[nseen++] = (struct text_at){ref[k].text, k + 1};
    qsort(seen, nseen, sizeof *seen, cmp_text_at);
    for (size_t k = 1; k < nseen; k++)
        if (strcmp(seen[k].text, seen[k - 1].text) == 0)
            fail_msg("note \"%s\" appears twice: at %lld and %lld", seen[k].text,
                     (long long)seen[k - 1].index, (long long)seen[k].index);

    memset(f, 0, sizeof *f);
    f->head = head;
    for (int w = 0; w < p->nw; w++) {
        struct writer *wr = &p->w[w];
        if (wr->other[0])
            fail_msg("writer %d got an unexpected answer: %s", w, wr->other);
        f->redirects += wr->redirects;
        for (size_t k = 0; k < wr->n; k++) {
            struct note_rec *r = &wr->recs[k];
            struct text_at key = {r->text, 0};
            struct text_at *at = bsearch(&key, seen, nseen, sizeof *seen, cmp_text_at);
            if (wr->minority && r->phase >= 1) {
                /* Posted once the minority was seen read-only. */
                if (r->outcome != REFUSED && r->outcome != NO_ANSWER)
                    fail_msg("note \"%s\", posted to %s after it was seen read-only, was "
                             "answered %ld",
                             r->text, c->nodes[r->node].id, r->status);
                if (at)
                    fail_msg("note \"%s\", refused (%ld) by read-only %s, is in the ledger at "
                             "index %lld",
                             r->text, r->status, c->nodes[r->node].id, (long long)at->index);
                f->late_refused++;
            } else if (wr->minority) {
                if (r->outcome == ACKED)
                    f->cut_acked++;
                else {
                    if (!f->cut_unacked)
                        snprintf(f->cut_first, sizeof f->cut_first, "%s to %s: %ld", r->text,
                                 c->nodes[r->node].id, r->status);
                    f->cut_unacked++;
                    f->cut_unacked_present += at != NULL;
                }
            }
            switch (r->outcome) {
            case ACKED:
                f->acked++;
                if (!at)
                    fail_msg("note \"%s\", acknowledged by %s at index %lld (term %lld), is "
                             "LOST: no node holds it (head %lld)",
                             r->text, c->nodes[r->node].id, (long long)r->index, (long long)r->term,
                             (long long)head);
                if (at->index != r->index || ref[at->index - 1].term != r->term)
                    fail_msg("note \"%s\" was acknowledged at index %lld term %lld but is at "
                             "index %lld term %lld",
                             r->text, (long long)r->index, (long long)r->term, (long long)at->index,
                             (long long)ref[at->index - 1].term);
                break;
            case REFUSED:
                f->refused++;
                f->refused_present += at != NULL;
                break;
            case NO_ANSWER:
                f->no_answer++;
                f->refused_present += at != NULL;
                break;
            case NOT_SENT:
                f->not_sent++;
                f->refused_present += at != NULL;
                break;
            case OTHER:
                f->other++;
                break;
            }
        }
    }
    free(seen);
    free_entries(ref, head);
    assert_int_equal(f->other, 0);
}

static void print_figures(const char *test, const struct figures *f, const char *faults)
{
    printf("[ figures  ] %s: acknowledged %ld notes, refused %ld (503), %ld unanswered, %ld not "
           "sent (307 elsewhere); %ld of the refused/unanswered were committed anyway; %u "
           "redirects followed; %s; final head %lld\n",
           test, f->acked, f->refused, f->no_answer, f->not_sent, f->refused_present, f->redirects,
           faults, (long long)f->head);
    fflush(stdout);
}

/* ---- 1, 2: leader kills ------------------------------------------------------ */

/* Writers post to every node, following 307s, while the leader is killed
 * (SIGKILL) KILLS times and restarted each time. */
static void leader_kills(struct h_cluster *c, const char *tag, int nwriters, const char *name)
{
    unsigned long long term;
    int leader = h_start_leader(c, "test_ledger_faults", deadline(), &term);
    (void)leader;
    int all[H_MAX_NODES];
    for (int i = 0; i < c->n; i++)
        all[i] = i;
    struct pool *p = pool_new(c, tag);
    for (int k = 0; k < nwriters; k++)
        pool_spawn(p, all, c->n, k == 0 ? 5 : 1, false); /* writer 0 posts batches */

    for (int kill = 0; kill < KILLS; kill++) {
        expect_progress(p, 0, p->nw, 30, deadline(), "before a kill");
        if (!h_wait_agreed(c, 0, deadline(), &leader, &term))
            fail_msg("no leader to kill: %s", h_views_line(c));
        expect_all_running(c);
        h_node_kill(c, leader);
        int next;
        unsigned long long next_term;
        if (!h_wait_agreed(c, term, deadline(), &next, &next_term)) {
            expect_running_except(c, leader);
            fail_msg("no new leader after killing %s (term %llu): %s", c->nodes[leader].id, term,
                     h_views_line(c));
        }
        start_node(c, leader);
    }
    expect_progress(p, 0, p->nw, 30, deadline(), "after the last restart");
    pool_stop(p);

    json_int_t head = expect_converged(c, &leader, deadline());
    struct figures f;
    check_ledgers(c, p, head, &f);
    char faults[64];
    snprintf(faults, sizeof faults, "%d leader kills, %d writers", KILLS, nwriters);
    print_figures(name, &f, faults);
    assert_true(f.acked > 0);
    pool_free(p);
    h_cluster_pass(c);
}

static void test_notes_acknowledged_across_three_leader_kills_survive_on_three_nodes(void **state)
{
    leader_kills(*state, "k3", 3, "3 nodes, leader kills");
}

static void test_notes_acknowledged_across_three_leader_kills_survive_on_five_nodes(void **state)
{
    leader_kills(*state, "k5", 4, "5 nodes, leader kills");
}

/* ---- 3: a namespace partition cuts the old leader off ----------------------- */

struct posts_arg {
    struct writer *w;
    long at_least;
};

static bool posted_enough(void *arg)
{
    struct posts_arg *a = arg;
    return atomic_load(&a->w->phase_posts) >= a->at_least;
}

static void
test_cut_off_leader_acknowledges_nothing_it_cannot_commit_and_majority_notes_survive(void **state)
{
    struct h_cluster *c = *state;
    h_require_netns(c, "test_ledger_faults");
    unsigned long long t1, t2;
    int l1 = h_start_leader(c, "test_ledger_faults", deadline(), &t1);
    int minority[2] = {l1, (l1 + 1) % c->n}, majority[3];
    for (int i = 0, k = 0; i < c->n; i++)
        if (i != minority[0] && i != minority[1])
            majority[k++] = i;

    struct pool *p = pool_new(c, "pt");
    /* Writer 0 keeps posting to the old leader through the cut; from phase 1
     * (the minority seen read-only) it alternates between the two cut-off
     * nodes. */
    struct writer *mw = pool_spawn(p, minority, 2, 1, true);
    expect_progress(p, 0, 1, 20, deadline(), "the old leader before the cut");

    if (h_netns_partition(c, minority, 2) != 0)
        fail_msg("cannot cut %s and %s off (the lines above say why)", c->nodes[minority[0]].id,
                 c->nodes[minority[1]].id);
    /* Writers 1 and 2 post to the majority side only. */
    pool_spawn(p, majority, 3, 1, false);
    pool_spawn(p, majority, 3, 4, false);

    if (!h_wait_read_only(c, minority, 2, true, deadline()))
        fail_msg("the cut-off minority never turned read-only: %s", h_views_line(c));
    atomic_store(&p->phase, 1);
    int l2;
    if (!h_wait_agreed_among(c, majority, 3, t1, deadline(), &l2, &t2))
        fail_msg("the majority never elected a leader after term %llu: %s", t1, h_views_line(c));
    expect_progress(p, 1, 3, 100, deadline(), "the majority during the cut");
    struct posts_arg posts = {mw, 10};
    if (!h_wait_until(posted_enough, &posts, deadline()))
        fail_msg("only %ld posts reached the read-only minority", atomic_load(&mw->phase_posts));
    writer_stop(mw); /* before healing: a healed node would redirect, not refuse */

    if (h_netns_heal(c) != 0)
        fail_msg("cannot heal the partition (the lines above say why)");
    int l3;
    if (!h_wait_agreed(c, 0, deadline(), &l3, NULL))
        fail_msg("after healing, the five never agreed on one leader: %s", h_views_line(c));
    expect_progress(p, 1, 3, 30, deadline(), "after healing");
    pool_stop(p);

    json_int_t head = expect_converged(c, &l3, deadline());
    struct figures f;
    check_ledgers(c, p, head, &f);
    assert_true(f.cut_acked > 0 && f.late_refused >= posts.at_least);

    char faults[512];
    snprintf(faults, sizeof faults,
             "old leader %s cut off with %s: it acknowledged %ld notes before the cut, %ld posted "
             "around the cut were not acknowledged (first: %s; %ld of them committed anyway), the "
             "read-only minority refused all %ld posted to it later; majority leader %s (term "
             "%llu), leader after healing %s",
             c->nodes[l1].id, c->nodes[minority[1]].id, f.cut_acked, f.cut_unacked,
             f.cut_unacked ? f.cut_first : "none", f.cut_unacked_present, f.late_refused,
             c->nodes[l2].id, t2, c->nodes[l3].id);
    print_figures("5 nodes, partition", &f, faults);
    pool_free(p);
    h_cluster_pass(c);
}

/* ---- 4: a follower wiped of its data rejoins ------------------------------ */

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static json_int_t post_batches(struct h_cluster *c, int *leader, const char *tag, int batches,
                               int per_batch, unsigned *seq)
{
    json_int_t last = 0;
    for (int b = 0; b < batches; b++) {
        json_t *arr = json_array();
        for (int k = 0; k < per_batch; k++) {
            char text[TEXT_MAX];
            snprintf(text, sizeof text, "%s-%06u", tag, (*seq)++);
            json_array_append_new(arr, json_string(text));
        }
        json_t *body = json_pack("{s:o}", "notes", arr);
        char *body_text = json_dumps(body, JSON_COMPACT);
        json_decref(body);
        long st = 0;
        char *ans = h_http_request(c, *leader, "POST", "/ledger/notes", body_text, c->token,
                                   POST_TIMEOUT_MS, &st);
        json_t *j = ans ? json_loads(ans, 0, NULL) : NULL;
        if (st != 201) {
            free(body_text);
            fail_msg("leader %s answered batch %d with %ld: %s", c->nodes[*leader].id, b, st,
                     ans ? ans : "(nothing)");
        }
        json_int_t first = json_integer_value(json_object_get(j, "first_index"));
        last = json_integer_value(json_object_get(j, "last_index"));
        assert_int_equal(last - first + 1, per_batch);
        json_decref(j);
        free(ans);
        free(body_text);
    }
    return last;
}

static char *node_pubkey(struct h_cluster *c, int i)
{
    long st = 0;
    json_t *h = h_http_get_json(c, i, "/ledger/head", &st);
    const char *pk = json_string_value(json_object_get(h, "node_pubkey"));
    char *copy = st == 200 && pk ? strdup(pk) : NULL;
    json_decref(h);
    return copy;
}

/* The boot epoch node i's log reports for its latest start, or 0. */
static unsigned long long boot_epoch(struct h_cluster *c, int i)
{
    char *log = h_read_file(c->nodes[i].log);
    unsigned long long epoch = 0;
    for (const char *at = log; at && (at = strstr(at, "boot epoch ")) != NULL; at++)
        epoch = strtoull(at + strlen("boot epoch "), NULL, 10);
    free(log);
    return epoch;
}

static bool clock_past(void *arg)
{
    return (unsigned long long)time(NULL) > *(const unsigned long long *)arg;
}

/* Every node holds every note of tag, once and in order, and chains. */
static void expect_all_notes(struct h_cluster *c, json_int_t head, const char *tag, unsigned count)
{
    char why[256], prefix[16];
    snprintf(prefix, sizeof prefix, "%s-", tag);
    for (int i = 0; i < c->n; i++) {
        struct entry *e = read_ledger(c, i, head, why, sizeof why);
        if (!e)
            fail_msg("%s: %s", c->nodes[i].id, why);
        unsigned want = 0;
        for (json_int_t k = 0; k < head; k++) {
            if (k > 0 && strcmp(e[k].prev, e[k - 1].hash) != 0)
                fail_msg("%s: entry %lld does not chain", c->nodes[i].id, (long long)k + 1);
            if (!e[k].text || strncmp(e[k].text, prefix, strlen(prefix)) != 0)
                continue;
            char expect[TEXT_MAX];
            snprintf(expect, sizeof expect, "%s%06u", prefix, want++);
            if (strcmp(e[k].text, expect) != 0)
                fail_msg("%s: index %lld holds \"%s\", expected \"%s\"", c->nodes[i].id,
                         (long long)k + 1, e[k].text, expect);
        }
        free_entries(e, head);
        if (want != count)
            fail_msg("%s holds %u of the %u notes", c->nodes[i].id, want, count);
    }
}

/* Stops the follower, deletes its data directory (the key and token files
 * the harness passes on the command line stay), lets `before_restart` run,
 * and starts it again: it regenerates its node key and has an empty ledger. */
static void wipe_and_restart(struct h_cluster *c, int i, void (*before_restart)(struct h_cluster *))
{
    assert_int_equal(h_node_stop(c, i), 0);
    if (nftw(c->nodes[i].data, rm_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
        fail_msg("cannot delete %s: %s", c->nodes[i].data, strerror(errno));
    struct stat sb;
    assert_true(stat(c->nodes[i].data, &sb) != 0);
    if (before_restart)
        before_restart(c);
    start_node(c, i);
}

static unsigned wipe_seq;

static void post_one_batch(struct h_cluster *c)
{
    int leader;
    if (!h_wait_agreed(c, 0, deadline(), &leader, NULL))
        fail_msg("no leader to post to: %s", h_views_line(c));
    post_batches(c, &leader, "wp", 1, 50, &wipe_seq);
}

static void test_a_follower_wiped_of_its_data_catches_up_and_verifies_offline(void **state)
{
    struct h_cluster *c = *state;
    unsigned long long term;
    int leader = h_start_leader(c, "test_ledger_faults", deadline(), &term);
    wipe_seq = 0;
    json_int_t last = post_batches(c, &leader, "wp", 6, 50, &wipe_seq); /* 300 notes */
    int l;
    json_int_t head = expect_converged(c, &l, deadline());
    assert_true(head >= last);

    int wiped = (leader + 1) % c->n;
    char *old_pk = node_pubkey(c, wiped);
    assert_non_null(old_pk);
    unsigned long long old_epoch = boot_epoch(c, wiped);
    assert_true(old_epoch > 0);
    /* Restarted as an operator would: not within the second of its last
     * start (test_a_follower_wiped_right_after_quick_restarts_catches_up covers that). */
    if (!h_wait_until(clock_past, &old_epoch, h_timeout_ms()))
        fail_msg("the wall clock never passed %llu", old_epoch);
    wipe_and_restart(c, wiped, post_one_batch); /* 50 more while it is away */
    head = expect_converged(c, &l, deadline());
    char *new_pk = node_pubkey(c, wiped);
    assert_non_null(new_pk);
    bool new_key = strcmp(old_pk, new_pk) != 0;
    unsigned long long new_epoch = boot_epoch(c, wiped);

    /* It takes part again: a batch after its return reaches it too. */
    post_one_batch(c);
    head = expect_converged(c, &l, deadline());
    expect_all_notes(c, head, "wp", wipe_seq);

    if (!h_wait_agreed(c, 0, deadline(), &leader, NULL))
        fail_msg("no leader: %s", h_views_line(c));
    assert_int_equal(h_node_stop(c, wiped), 0);
    json_decref(h_ledger_verify(c, wiped));
    assert_int_equal(h_node_stop(c, leader), 0);
    json_decref(h_ledger_verify(c, leader));
    int third = 3 - leader - wiped;
    assert_int_equal(h_node_stop(c, third), 0);
    json_decref(h_ledger_verify(c, third));

    printf("[ figures  ] wiped follower: %u notes (300 before the wipe, 50 while away, 50 after "
           "its return); %s wiped and restarted with %s node key (boot epoch %llu -> %llu), "
           "caught up to head %lld; ledger verify exit 0 on %s, %s and %s\n",
           wipe_seq, c->nodes[wiped].id, new_key ? "a new" : "THE SAME", old_epoch, new_epoch,
           (long long)head, c->nodes[wiped].id, c->nodes[leader].id, c->nodes[third].id);
    fflush(stdout);
    free(old_pk);
    free(new_pk);
    h_cluster_pass(c);
}

static bool clock_reached(void *arg)
{
    return (unsigned long long)time(NULL) >= *(const unsigned long long *)arg;
}

/* The same wipe, but with the follower's boot epoch (the wall-clock second
 * of its start, or one past the last epoch if that is later) such that the
 * wiped restart cannot get a fresh one:
 *   - quick: after a few quick restarts (a crash loop, an operator retrying)
 *     the epoch has run ahead of the clock, and the wiped start, knowing no
 *     last epoch, takes the clock's: a lower one;
 *   - same second: the same quick restarts, a catch-up, and the wipe and
 *     restart within the wall-clock second that equals the last epoch: the
 *     wiped start takes the same epoch again.
 * The node's own design says a wiped data directory must not make a
 * restarted node look like a replay (node.c, load_boot_epoch), and a wiped
 * node must rejoin: it must catch up like any other. */
static void wiped_after_recent_start_rejoins(struct h_cluster *c, bool quick)
{
    unsigned long long term;
    int leader = h_start_leader(c, "test_ledger_faults", deadline(), &term);
    wipe_seq = 0;
    post_batches(c, &leader, "wp", 2, 50, &wipe_seq);
    int l;
    expect_converged(c, &l, deadline());

    int wiped = (leader + 1) % c->n, attempts = 0;
    unsigned long long old_epoch = 0, new_epoch = 0;
    for (bool met = false; !met && attempts < 2;) {
        attempts++;
        /* Quick restarts run the boot epoch ahead of the clock. */
        for (int k = 0; k < 4; k++) {
            assert_int_equal(h_node_stop(c, wiped), 0);
            start_node(c, wiped);
        }
        old_epoch = boot_epoch(c, wiped);
        if (!quick) {
            /* Caught up again, and acknowledged a new batch since, so the
             * leader knows how far its log matches (past its restart); then
             * the wipe as soon as the clock reaches the epoch, so the wiped
             * start takes the same one. */
            expect_converged(c, &l, deadline());
            post_one_batch(c);
            expect_converged(c, &l, deadline());
            if (!h_wait_until(clock_reached, &old_epoch, deadline()))
                fail_msg("the wall clock never reached %llu", old_epoch);
        }
        wipe_and_restart(c, wiped, NULL);
        new_epoch = boot_epoch(c, wiped);
        met = quick ? new_epoch < old_epoch : new_epoch == old_epoch;
        if (!met)
            expect_converged(c, &l, deadline()); /* a plain rejoin: settle, then retry */
    }
    bool met = quick ? new_epoch < old_epoch : new_epoch == old_epoch;
    printf("[ figures  ] %s, then wipe: %s boot epoch %llu, after the wipe %llu (%s; %d "
           "attempt%s)\n",
           quick ? "4 quick restarts" : "4 quick restarts, a catch-up, the clock at the epoch",
           c->nodes[wiped].id, old_epoch, new_epoch,
           met ? (quick ? "lower" : "the same")
               : "fresh: the precondition was not met, this run checks a plain rejoin",
           attempts, attempts == 1 ? "" : "s");
    fflush(stdout);

    post_one_batch(c);
    char hint[512];
    if (!met)
        hint[0] = '\0';
    else if (quick)
        snprintf(hint, sizeof hint,
                 "wiped %s restarted with boot epoch %llu, below its last one %llu: its envelope "
                 "counters fall below its peers' replay windows, so they drop every message from "
                 "it as a replay (transport.malformed \"replay\" events) and the leader never "
                 "hears it",
                 c->nodes[wiped].id, new_epoch, old_epoch);
    else
        snprintf(hint, sizeof hint,
                 "wiped %s restarted with the boot epoch of its last start (%llu): its first "
                 "messages are dropped as replays, and since the epoch did not change the leader "
                 "never sees it restart (no peer.restarted event), keeps its old match index and "
                 "never sends the entries the empty node lacks",
                 c->nodes[wiped].id, new_epoch);
    json_int_t head = expect_converged_hint(c, &l, h_timeout_ms(), hint[0] ? hint : NULL);
    expect_all_notes(c, head, "wp", wipe_seq);
    assert_int_equal(h_node_stop(c, wiped), 0);
    json_decref(h_ledger_verify(c, wiped));
    h_cluster_pass(c);
}

static void test_a_follower_wiped_right_after_quick_restarts_catches_up(void **state)
{
    wiped_after_recent_start_rejoins(*state, true);
}

static void test_a_follower_wiped_within_the_second_of_its_last_start_catches_up(void **state)
{
    wiped_after_recent_start_rejoins(*state, false);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_notes_acknowledged_across_three_leader_kills_survive_on_three_nodes, setup3,
            teardown),
        cmocka_unit_test_setup_teardown(
            test_notes_acknowledged_across_three_leader_kills_survive_on_five_nodes, setup5,
            teardown),
        cmocka_unit_test_setup_teardown(
            test_cut_off_leader_acknowledges_nothing_it_cannot_commit_and_majority_notes_survive,
            setup5_netns, teardown),
        cmocka_unit_test_setup_teardown(
            test_a_follower_wiped_of_its_data_catches_up_and_verifies_offline, setup3, teardown),
        cmocka_unit_test_setup_teardown(test_a_follower_wiped_right_after_quick_restarts_catches_up,
                                        setup3, teardown),
        cmocka_unit_test_setup_teardown(
            test_a_follower_wiped_within_the_second_of_its_last_start_catches_up, setup3, teardown),
    };
    int failed = cmocka_run_group_tests_name("ledger_faults", tests, group_setup, NULL);
    if (failed) {
        fflush(NULL);
        _exit(1);
    }
    return 0;
}
