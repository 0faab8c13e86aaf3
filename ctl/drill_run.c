/* chimeractl drill run FILE|NAME: a drill against a live federation. The
 * decisions (the verdict, the journal, its digest, the report) are
 * chaos/drill's; this file only asks the nodes and keeps the clock.
 *
 * The flow, as Chaos Toolkit's users know it:
 *  1. Load and validate the drill (exit 2 when invalid). A method with
 *     faults needs the node's chaos endpoints: GET /chaos answering 404
 *     refuses the drill before anything is touched (exit 11).
 *  2. Steady state before: every probe once. Not holding: exit 11, nothing
 *     done.
 *  3. The method, in order, each action between its pauses. A fault is
 *     POST /chaos/inject {"kind","target","service","peer","duration_ms",
 *     "delay_ms"} (selectors such as "leader" resolved from GET /federation/state
 *     first); from then on the SLO's probes are swept every DRILL_SWEEP_MS
 *     (a note probe at most every DRILL_NOTE_SWEEP_MS): the first sweep
 *     that fails is the time to detect (from the injection), the first
 *     that holds after it the time to recover (from the SLO's start: the
 *     injection, or the fault's end with "from": "heal"), as
 *     drill_measure_sweep keeps them: a lasting fault is watched to its
 *     end. Meanwhile the nodes' events give their own figures: a killed
 *     service's restart on its node, a killed node's successor elected;
 *     drill_step_settle chooses. Neither the probes nor the node seeing a
 *     failure within the SLO (and the fault) means the federation masked
 *     the fault (recovered, not detected). Probes still failing twice the
 *     SLO plus 5 s past its start are given up on, so a miss is still
 *     measured. A deploy is POST /deployments, then GET
 *     /deployments/ID until it ends as expected (stable; or failed, and the
 *     leader's rollback listed by GET /deployments ended reverted: the
 *     node's figures, failure to revert) and, at once, its SLO's probes
 *     hold.
 *  4. Steady state after: swept until it holds, for as long as the longest
 *     SLO (at least 5 s).
 *  5. The rollbacks, always, also after a failure or Ctrl-C: "heal" is POST
 *     /chaos/stop (the kill switch) then POST /chaos/enable when this run
 *     injected a fault (chaos was not stopped before, or it could not have);
 *     "restart_nodes" runs --restart-cmd for each node a kill_node fault
 *     took down (without it, the node's supervisor is trusted).
 *  6. The verdict, the report, the journal (--journal, default
 *     journal.json) and its BLAKE2b digest, recorded in the ledger as a
 *     drill record of its own (POST /drills: a chaos entry; a node that
 *     answers 404 gets an operator note, POST /ledger/notes, instead);
 *     then, for at most a few seconds, GET /drills until a checkpoint at
 *     or after it is notarized, and the report names it and its signers.
 * Exit: 0 held, 10 deviated, 11 could not run; before the run starts, 5
 * and 6 as for every command when no node answers GET /federation/state or
 * refuses the read; and 6, as for every command, when a node refused the
 * admin token (401, 403) of a mutation: the run goes on to its report and
 * journal, which say what that failed. */
#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ctl/deploy_int.h"
#include "ctl/drill_int.h"
#include "pipeline/core/manifest.h"

#define SETTLE_MIN_MS 5000u
#define NO_CHAOS "chaos injection is not available on this federation yet (POST /chaos/inject)"

struct runner {
    const struct ctl_opts *o;
    const char *token;
    struct ctl_conn conn; /* mutations: follows a follower's 307 to the leader */
    struct ctl_drill_file f;
    struct drill_run r;
    char killed[DRILL_MAX_ACTIONS][DRILL_ID_MAX]; /* nodes a kill_node took down */
    size_t nkilled;
    /* Nodes a lasting fault (pause, isolate, delay) was applied on. */
    char faulted[DRILL_MAX_ACTIONS][DRILL_ID_MAX];
    size_t nfaulted;
    bool injected;
    bool token_refused; /* a mutation was answered 401 or 403 */
    const char *restart_cmd;
    int64_t mono0, wall0; /* the run's clocks: Unix ms = wall0 + (mono - mono0) */
    /* Each probe's last result and when it ran (monotonic ms; 0: not
     * since the last fresh start), for the probes that do not run every
     * sweep (drill_probe_due). */
    struct drill_probe_result last[DRILL_MAX_PROBES];
    int64_t last_ms[DRILL_MAX_PROBES];
    /* Mutations with a follower's 307 followed quietly: "is not the leader"
     * lines amid the progress are noise (--verbose keeps them). */
    struct ctl_opts conn_opts;
};

static int64_t now_ms(const struct runner *x)
{
    return x->wall0 + (ctl_mono_ms() - x->mono0);
}

/* ms as every drill figure is written ("101ms", "2s685ms"). */
static const char *ms_text(int64_t ms, char *out, size_t cap)
{
    manifest_format_duration(ms < 0 ? 0 : ms > UINT32_MAX ? UINT32_MAX : (uint32_t)ms, out, cap);
    return out;
}

static void progress(const struct runner *x, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void progress(const struct runner *x, const char *fmt, ...)
{
    if (x->o->json)
        return;
    char clock[16];
    va_list ap;
    ctl_clock(clock, sizeof clock);
    printf("[%s] ", clock);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    fflush(stdout);
}

/* ---- asking the federation -------------------------------------------- */

static void append(char *out, size_t cap, const char *s)
{
    size_t n = strlen(out);
    snprintf(out + n, cap - n, "%s%s", n ? ", " : "", s);
}

static bool probe_state(const struct runner *x, const struct drill_probe *p, json_t *state,
                        char *detail, size_t cap)
{
    detail[0] = '\0';
    if (!state) {
        snprintf(detail, cap, "no node answered");
        return false;
    }
    json_t *peers = json_object_get(state, "peers"), *m;
    size_t i;
    switch (p->kind) {
    case DRILL_PROBE_LEADER: {
        const char *l = json_string_value(json_object_get(state, "leader"));
        snprintf(detail, cap, l ? "leader %s" : "no leader", l);
        return l != NULL;
    }
    case DRILL_PROBE_ALL_ALIVE:
        json_array_foreach(peers, i, m)
        {
            const char *st = json_string_value(json_object_get(m, "status"));
            if (!st || strcmp(st, "alive") != 0) {
                char one[96];
                snprintf(one, sizeof one, "%s %s", ctl_json_str(m, "node", "?"), st ? st : "?");
                append(detail, cap, one);
            }
        }
        if (!*detail)
            snprintf(detail, cap, "%zu members alive", json_array_size(peers));
        return strstr(detail, "members alive") != NULL;
    case DRILL_PROBE_NONE_READ_ONLY: {
        /* Each member says for itself; one that does not answer is
         * all_alive's business. */
        bool any = false;
        json_array_foreach(peers, i, m)
        {
            const char *http = json_string_value(json_object_get(m, "http"));
            long st;
            json_t *s = http ? ctl_get_json(x->o, http, "/federation/state", &st) : NULL;
            if (s && json_is_true(json_object_get(s, "read_only"))) {
                append(detail, cap, ctl_json_str(m, "node", "?"));
                any = true;
            }
            json_decref(s);
        }
        if (any) {
            char tmp[160];
            snprintf(tmp, sizeof tmp, "read-only: %s", detail);
            snprintf(detail, cap, "%s", tmp);
        } else
            snprintf(detail, cap, "no member read-only");
        return !any;
    }
    case DRILL_PROBE_RELEASE_HEALTHY: {
        bool any_release = false;
        json_array_foreach(peers, i, m)
        {
            json_t *rel = json_object_get(m, "release");
            const char *h = json_string_value(json_object_get(rel, "health"));
            if (json_is_string(json_object_get(rel, "running")))
                any_release = true;
            /* The leader's view of a member it no longer hears is that
             * member's last report: stale, as chimeractl status shows it. */
            if (strcmp(ctl_json_str(m, "status", ""), "dead") == 0)
                h = "unknown (dead)";
            if (!h || strcmp(h, "healthy") != 0) {
                char one[96];
                snprintf(one, sizeof one, "%s %s", ctl_json_str(m, "node", "?"), h ? h : "?");
                append(detail, cap, one);
            }
        }
        if (!any_release) {
            snprintf(detail, cap, "no release deployed");
            return false;
        }
        if (*detail)
            return false;
        snprintf(detail, cap, "healthy on %zu members", json_array_size(peers));
        return true;
    }
    default:
        return false;
    }
}

/* POSTs through the runner's connection. The leader it follows may be the
 * node a fault just killed, and its client, pinned to a node that went
 * away, tries no other: after no answer, the connection starts over from
 * --addr, whose 307 names the new leader. A request that may be sent twice
 * (the kill switch) is sent again at once; a probe's note is not: its
 * failure is what the sweep reports. */
/* POSTs with the admin token, noting a refusal of it (exit 6). */
static int post_once(struct runner *x, const char *path, const char *payload, struct ctl_reply *r)
{
    int rc = ctl_conn_post(&x->conn, path, payload, x->token, r);
    if (rc == 0 && (r->status == 401 || r->status == 403))
        x->token_refused = true;
    return rc;
}

static int post(struct runner *x, const char *path, const char *payload, bool twice,
                struct ctl_reply *r)
{
    int rc = post_once(x, path, payload, r);
    struct ctl_conn fresh;
    if (rc != 0 && r->no_answer && ctl_conn_open(&fresh, &x->conn_opts) == 0) {
        ctl_conn_close(&x->conn);
        x->conn = fresh;
        if (twice) {
            ctl_reply_free(r);
            rc = post_once(x, path, payload, r);
        }
    }
    return rc;
}

static bool probe_note(struct runner *x, const struct drill_probe *p, char *detail, size_t cap)
{
    char text[DRILL_TITLE_MAX + DRILL_NAME_MAX + 32];
    snprintf(text, sizeof text, "drill \"%s\": probe \"%s\"", x->f.d.title, p->name);
    json_t *body = json_pack("{s:[s]}", "notes", text);
    char *payload = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (!payload) {
        snprintf(detail, cap, "out of memory");
        return false;
    }
    int64_t t = ctl_mono_ms();
    struct ctl_reply r;
    int rc = post(x, "/ledger/notes", payload, false, &r);
    int64_t took = ctl_mono_ms() - t;
    free(payload);
    bool ok = rc == 0 && r.status >= 200 && r.status < 300;
    char want[32], in[32];
    manifest_format_duration(p->within_ms, want, sizeof want);
    if (!ok)
        snprintf(detail, cap, "not committed: %.120s",
                 rc != 0 ? r.error : ctl_json_str(r.json, "error", "error status"));
    else
        snprintf(detail, cap, "committed in %s (tolerance %s)", ms_text(took, in, sizeof in), want);
    ctl_reply_free(&r);
    return ok && took <= (int64_t)p->within_ms;
}

static bool probe_http(const struct drill_probe *p, char *detail, size_t cap)
{
    CURL *c = curl_easy_init();
    if (!c) {
        snprintf(detail, cap, "curl cannot start");
        return false;
    }
    struct ctl_body body = {.max = 64 * 1024};
    curl_easy_setopt(c, CURLOPT_URL, p->url);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)p->timeout_ms);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, ctl_body_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
    CURLcode rc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    free(body.buf);
    if (rc != CURLE_OK && !body.too_big) {
        snprintf(detail, cap, "%s", curl_easy_strerror(rc));
        return false;
    }
    snprintf(detail, cap, "answered %ld", status);
    for (size_t i = 0; i < p->nstatuses; i++)
        if (p->statuses[i] == status)
            return true;
    return false;
}

/* One sweep of the probes in mask; res gets each one's result. True when
 * every one held. */
static bool sweep(struct runner *x, uint32_t mask, struct drill_probe_result *res)
{
    const struct drill *d = &x->f.d;
    json_t *state = NULL;
    bool have_state = false, all = true;
    for (size_t i = 0; i < d->nprobes; i++) {
        if (!(mask & (1u << i)))
            continue;
        const struct drill_probe *p = &d->probes[i];
        bool got;
        int64_t now = ctl_mono_ms();
        if (!drill_probe_due(p, x->last_ms[i], now)) {
            res[i] = x->last[i];
            all = all && res[i].held;
            continue;
        }
        x->last_ms[i] = now;
        if (p->kind == DRILL_PROBE_NOTE_COMMITS)
            got = probe_note(x, p, res[i].detail, sizeof res[i].detail);
        else if (p->kind == DRILL_PROBE_HTTP)
            got = probe_http(p, res[i].detail, sizeof res[i].detail);
        else {
            if (!have_state)
                state = ctl_leader_state(x->o), have_state = true;
            got = probe_state(x, p, state, res[i].detail, sizeof res[i].detail) == p->expect;
        }
        res[i].held = got;
        x->last[i] = res[i];
        all = all && res[i].held;
    }
    json_decref(state);
    return all;
}

/* The next sweep runs fresh: every probe is due. */
static void sweep_fresh(struct runner *x)
{
    memset(x->last_ms, 0, sizeof x->last_ms);
}

static uint32_t all_probes(const struct drill *d)
{
    return d->nprobes >= 32 ? 0xffffffffu : (1u << d->nprobes) - 1;
}

/* ---- what the nodes recorded ----------------------------------------- */

/* The node's own record of a fault, read from its events while the runner
 * sweeps: a killed service's restart on its node (chaos.injected, then
 * recovery.restarted: the node's clock at both ends), a killed leader's
 * successor (consensus.elected on a survivor, against this runner's clock
 * at the injection: the killed node's own events go with it). */
#define WATCH_MAX 16
struct node_watch {
    enum { WATCH_NONE, WATCH_SERVICE, WATCH_ELECTION } kind;
    size_t n;
    char id[WATCH_MAX][DRILL_ID_MAX];
    char http[WATCH_MAX][256];
    json_int_t since[WATCH_MAX]; /* each one's last event before the injection */
    char fault_id[80];           /* the injected fault's, as its events name it */
    char service[DRILL_ID_MAX];
    int64_t injected_wall;               /* Unix ms, this runner's clock */
    json_int_t injected_seq, injected_t; /* WATCH_SERVICE: the target's chaos.injected */
};

/* Node i's events after seq since; NULL when it does not answer. */
static json_t *events_since(const struct runner *x, const char *http, json_int_t since)
{
    char path[96];
    long st;
    snprintf(path, sizeof path, "/events?since=%" JSON_INTEGER_FORMAT "&limit=1000", since);
    struct ctl_opts oo = *x->o;
    oo.addr = http;
    struct ctl_client *cl = ctl_client_new(&oo);
    struct ctl_reply r;
    json_t *j = NULL;
    st = 0;
    if (cl && ctl_get(cl, path, &r) == 0) {
        st = r.status;
        if (st == 200 && json_is_array(r.json))
            j = json_incref(r.json);
    }
    if (cl) {
        ctl_reply_free(&r);
        ctl_client_free(cl);
    }
    return j;
}

/* The first event after seq after of this kind whose message holds about
 * (and about2, unless NULL) in evs; NULL when none. */
static json_t *event_find(json_t *evs, json_int_t after, const char *kind, const char *about,
                          const char *about2)
{
    size_t i;
    json_t *e;
    json_array_foreach(evs, i, e)
    {
        const char *k = json_string_value(json_object_get(e, "kind"));
        const char *m = json_string_value(json_object_get(e, "message"));
        if (k && m && json_integer_value(json_object_get(e, "seq")) > after &&
            strcmp(k, kind) == 0 && strstr(m, about) && (!about2 || strstr(m, about2)))
            return e;
    }
    return NULL;
}

/* Before the injection: every member but skip (or only, with only_skip)
 * and its last event's seq. */
static void watch_members(const struct runner *x, struct node_watch *w, const char *node,
                          bool only_node)
{
    json_t *s = ctl_leader_state(x->o), *m;
    size_t i;
    w->n = 0;
    json_array_foreach(s ? json_object_get(s, "peers") : NULL, i, m)
    {
        const char *id = json_string_value(json_object_get(m, "node"));
        const char *http = json_string_value(json_object_get(m, "http"));
        if (!id || !http || w->n == WATCH_MAX || (strcmp(id, node) == 0) != only_node)
            continue;
        json_t *evs = events_since(x, http, 0);
        size_t k = json_array_size(evs);
        w->since[w->n] =
            k ? json_integer_value(json_object_get(json_array_get(evs, k - 1), "seq")) : 0;
        json_decref(evs);
        snprintf(w->id[w->n], sizeof w->id[0], "%s", id);
        snprintf(w->http[w->n], sizeof w->http[0], "%s", http);
        w->n++;
    }
    json_decref(s);
}

static void watch_start(const struct runner *x, const struct drill_action *a, const char *node,
                        struct node_watch *w)
{
    memset(w, 0, sizeof *w);
    if (a->kind != DRILL_ACTION_FAULT || a->slo.from != DRILL_SLO_FROM_INJECT)
        return;
    if (a->fault == DRILL_FAULT_KILL_SERVICE) {
        w->kind = WATCH_SERVICE;
        snprintf(w->service, sizeof w->service, "%s", a->target);
        watch_members(x, w, node, true);
    } else if (a->fault == DRILL_FAULT_KILL_NODE) {
        w->kind = WATCH_ELECTION;
        watch_members(x, w, node, false);
    }
}

static uint32_t ms_between(json_int_t from, json_int_t to)
{
    return to > from ? (uint32_t)(to - from) : 0;
}

/* Looks for the node's record of the fault once more; fills s->node when
 * found. */
static void watch_poll(const struct runner *x, struct node_watch *w, struct drill_step_result *s)
{
    if (w->kind == WATCH_NONE || s->node.seen || w->n == 0)
        return;
    struct drill_node_times *nt = &s->node;
    if (w->kind == WATCH_SERVICE) {
        json_t *evs = events_since(x, w->http[0], w->since[0]);
        if (!w->injected_seq) {
            json_t *inj = event_find(evs, 0, "chaos.injected", w->fault_id, NULL);
            w->injected_seq = json_integer_value(json_object_get(inj, "seq"));
            w->injected_t = json_integer_value(json_object_get(inj, "time_ms"));
        }
        char about[96];
        snprintf(about, sizeof about, "service %s on ", w->service);
        /* The first restart after the kill: the watchtower may have
         * restarted the service for another cause before it. */
        json_t *rec = w->injected_seq ? event_find(evs, w->injected_seq, "recovery.restarted",
                                                   about, "after signal")
                                      : NULL;
        const char *msg = json_string_value(json_object_get(rec, "message"));
        const char *again = msg ? strstr(msg, "healthy again in ") : NULL;
        if (again) {
            json_int_t t = json_integer_value(json_object_get(rec, "time_ms"));
            long took = strtol(again + strlen("healthy again in "), NULL, 10);
            nt->seen = true;
            nt->t.detected = nt->t.recovered = true;
            nt->t.recover_ms = ms_between(w->injected_t, t);
            nt->t.detect_ms = ms_between(w->injected_t, t - took);
            char in[32];
            snprintf(nt->what, sizeof nt->what,
                     "%.24s on %.24s healthy again %s after the kill (recovery.restarted)",
                     w->service, w->id[0], ms_text(nt->t.recover_ms, in, sizeof in));
        }
        json_decref(evs);
        return;
    }
    json_int_t first = 0;
    const char *by = NULL;
    for (size_t i = 0; i < w->n; i++) {
        json_t *evs = events_since(x, w->http[i], w->since[i]);
        json_t *e = event_find(evs, 0, "consensus.elected", "elected leader", NULL);
        json_int_t t = json_integer_value(json_object_get(e, "time_ms"));
        if (e && (!first || t < first)) {
            first = t;
            by = w->id[i];
        }
        json_decref(evs);
    }
    if (!first)
        return;
    nt->seen = true;
    nt->t.detected = nt->t.recovered = true;
    nt->t.detect_ms = nt->t.recover_ms = ms_between(w->injected_wall, first);
    char in[32];
    snprintf(nt->what, sizeof nt->what,
             "new leader %.32s elected %s after the kill (consensus.elected)", by,
             ms_text(nt->t.recover_ms, in, sizeof in));
}

/* ---- the actions ------------------------------------------------------ */

static void fail_step(struct drill_step_result *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void fail_step(struct drill_step_result *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->detail, sizeof s->detail, fmt, ap);
    va_end(ap);
    s->status = DRILL_STEP_FAILED;
}

/* The error of a refused mutation, for a step's detail. */
static void refusal(const struct ctl_reply *r, int rc, char *out, size_t cap)
{
    if (rc != 0)
        snprintf(out, cap, "%.200s", r->error);
    else
        snprintf(out, cap, "%ld: %.200s", r->status,
                 ctl_json_str(r->json, "error", "error status"));
}

static int inject(struct runner *x, const struct drill_action *a, struct drill_step_result *s,
                  char *node, size_t cap, struct node_watch *w)
{
    char why[256];
    bool svc = a->fault == DRILL_FAULT_KILL_SERVICE || a->fault == DRILL_FAULT_PAUSE_SERVICE;
    if (ctl_resolve_node(x->o, svc ? a->node : a->target, node, cap, why, sizeof why) != 0) {
        fail_step(s, "%s", why);
        return -1;
    }
    /* The node's request (chaos/fault.h, chaos_request_from_json): the
     * target is always a node; a kill's duration is the time the
     * federation is given to recover, the SLO's. */
    watch_start(x, a, node, w);
    json_t *body = json_pack(
        "{s:s,s:s,s:I}", "kind", drill_fault_name(a->fault), "target", node, "duration_ms",
        (json_int_t)(a->duration_ms ? a->duration_ms : a->slo.recover_within_ms));
    if (svc)
        json_object_set_new(body, "service", json_string(a->target));
    if (a->delay_ms)
        json_object_set_new(body, "delay_ms", json_integer(a->delay_ms));
    if (a->peer[0])
        json_object_set_new(body, "peer", json_string(a->peer));
    char *payload = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    struct ctl_reply r;
    int rc = payload ? post(x, "/chaos/inject", payload, false, &r) : -1;
    free(payload);
    if (!payload) {
        fail_step(s, "out of memory");
        return -1;
    }
    bool ok = rc == 0 && r.status >= 200 && r.status < 300;
    w->injected_wall = now_ms(x);
    snprintf(w->fault_id, sizeof w->fault_id, "(%s)",
             ctl_json_str(json_object_get(r.json, "fault"), "id", "?"));
    if (!ok && rc == 0 && r.status == 404)
        fail_step(s, NO_CHAOS);
    else if (!ok) {
        refusal(&r, rc, why, sizeof why);
        fail_step(s, "the fault was refused: %s", why);
    }
    ctl_reply_free(&r);
    return ok ? 0 : -1;
}

/* The probes' first failure, as it happens: the node's figures, where
 * they count, come with the step's last line. */
static void say_detected(const struct runner *x, const struct drill_action *a,
                         const struct drill_step_result *s)
{
    char in[32], every[32];
    progress(x, "  detected by the probes (every %s), %s after the %s",
             ms_text(drill_sweep_resolution(&x->f.d, a->slo.probes), every, sizeof every),
             ms_text(s->probes.detect_ms, in, sizeof in),
             a->kind == DRILL_ACTION_DEPLOY ? "submission" : "injection");
}

/* Sweeps the SLO's probes of action a, started (injected, submitted) at
 * t_start (monotonic ms), until drill_measure_sweep says it is done or
 * probes that fail reach drill_measure_give_up_ms. ended: a deployment
 * that has ended as expected, so the probes holding is the end. w (may be
 * NULL) looks for the node's own record meanwhile. */
static void measure(struct runner *x, const struct drill_action *a, struct drill_step_result *s,
                    int64_t t_start, bool ended, struct node_watch *w)
{
    struct drill_probe_result res[DRILL_MAX_PROBES];
    uint32_t give_up = drill_measure_give_up_ms(a, (uint32_t)(ctl_mono_ms() - t_start));
    uint32_t since = 0;
    bool done = false, held = false;
    s->resolution_ms = drill_sweep_resolution(&x->f.d, a->slo.probes);
    memset(res, 0, sizeof res);
    while (!done && !ctl_interrupted && (held || since <= give_up)) {
        int64_t begun = ctl_mono_ms();
        held = sweep(x, a->slo.probes, res);
        since = (uint32_t)(ctl_mono_ms() - t_start);
        bool seen = s->probes.detected;
        if (w)
            watch_poll(x, w, s);
        done = drill_measure_sweep(a, s, held, since, ended);
        if (!seen && s->probes.detected)
            say_detected(x, a, s);
        /* A sweep every DRILL_SWEEP_MS from its start, not after it. */
        int64_t next = begun + DRILL_SWEEP_MS - ctl_mono_ms();
        if (!done)
            ctl_sleep_ms(next > 0 ? (uint32_t)next : 0);
    }
    /* Unfinished, the probes failing past the SLO already missed it; a
     * recovery seen while the fault still acted is not one yet. */
    bool missed =
        !held && s->probes.detected && since > drill_slo_start_ms(a) + a->slo.recover_within_ms;
    if (!done)
        s->probes.recovered = false;
    drill_step_settle(a, s);
    char got[32];
    size_t n = strlen(s->detail);
    /* A Ctrl-C before the step could be judged leaves it unmeasured: the
     * step did not finish (could not run), rather than missing its SLO
     * (deviated). One past its SLO, unrecovered, did miss it. */
    if (!s->recovered && ctl_interrupted && !missed) {
        char what[sizeof s->detail / 2];
        snprintf(what, sizeof what, "%.*s", (int)sizeof what - 1, s->detail);
        manifest_format_duration(a->slo.recover_within_ms, got, sizeof got);
        fail_step(s, "%s; interrupted before it recovered, within its SLO of %s", what, got);
    } else if (!s->recovered) {
        snprintf(s->detail + n, sizeof s->detail - n, "; not recovered");
        progress(x, "  NOT recovered");
    } else if (!s->detected) {
        snprintf(s->detail + n, sizeof s->detail - n,
                 "; not detected: the probes held throughout and the node recorded no failure");
        progress(x, "  masked: the probes held throughout and the node recorded no failure");
    } else {
        char figures[512];
        drill_step_figures(a, s, figures, sizeof figures);
        progress(x, "  recovered: %s", figures);
    }
}

/* Node id had a lasting fault applied (once each: heal stops it there). */
static void note_faulted(struct runner *x, const char *id)
{
    for (size_t i = 0; i < x->nfaulted; i++)
        if (strcmp(x->faulted[i], id) == 0)
            return;
    if (x->nfaulted < DRILL_MAX_ACTIONS)
        snprintf(x->faulted[x->nfaulted++], DRILL_ID_MAX, "%s", id);
}

static void run_fault(struct runner *x, const struct drill_action *a, struct drill_step_result *s)
{
    char node[DRILL_ID_MAX];
    struct node_watch w = {0};
    if (inject(x, a, s, node, sizeof node, &w) != 0)
        return;
    int64_t t = ctl_mono_ms();
    x->injected = true;
    if (a->fault == DRILL_FAULT_KILL_NODE && x->nkilled < DRILL_MAX_ACTIONS)
        snprintf(x->killed[x->nkilled++], DRILL_ID_MAX, "%s", node);
    else if (a->fault != DRILL_FAULT_KILL_SERVICE)
        note_faulted(x, node);
    snprintf(s->detail, sizeof s->detail, "%s %s%s%s", drill_fault_name(a->fault), a->target,
             strcmp(a->target, node) ? " on " : "", strcmp(a->target, node) ? node : "");
    progress(x, "  injected %s", s->detail);
    s->status = DRILL_STEP_DONE;
    measure(x, a, s, t, false, &w);
}

/* A deployment's start and end (the leader's record: Unix ms, the
 * committing node's clock; finished 0 while it goes on). */
struct span {
    json_int_t started, finished;
};

/* The stage of deployment id ("unknown" when not heard); its times in
 * *times. */
static void deployment_stage(struct runner *x, const char *id, char *stage, size_t cap,
                             struct span *times)
{
    char path[160];
    long st;
    snprintf(path, sizeof path, "/deployments/%.128s", id);
    json_t *d = ctl_get_json(x->o, NULL, path, &st);
    snprintf(stage, cap, "%s", d ? ctl_json_str(d, "stage", "unknown") : "unknown");
    times->started = json_integer_value(json_object_get(d, "started_ms"));
    times->finished = json_integer_value(json_object_get(d, "finished_ms"));
    json_decref(d);
}

/* The stage of the rollback the leader started for deployment ours (which
 * started at started): "" while none is listed. */
static void rollback_stage(struct runner *x, const char *ours, json_int_t started, char *stage,
                           size_t cap, struct span *times)
{
    long st;
    json_t *list = ctl_get_json(x->o, NULL, "/deployments", &st), *d;
    size_t i;
    char other[128];
    stage[0] = '\0';
    json_array_foreach(json_object_get(list, "deployments"), i, d)
    {
        ctl_deploy_id(d, other, sizeof other);
        if (json_is_true(json_object_get(d, "rollback")) && strcmp(other, ours) != 0 &&
            json_integer_value(json_object_get(d, "started_ms")) >= started) {
            snprintf(stage, cap, "%s", ctl_json_str(d, "stage", "unknown"));
            times->started = json_integer_value(json_object_get(d, "started_ms"));
            times->finished = json_integer_value(json_object_get(d, "finished_ms"));
            break;
        }
    }
    json_decref(list);
}

static bool unfinished(const char *stage, bool rollback)
{
    return (rollback && !*stage) || strcmp(stage, "deploying") == 0 ||
           strcmp(stage, "rolling_back") == 0 || strcmp(stage, "unknown") == 0;
}

/* Waits until the deployment (or its rollback) ends, watching the SLO's
 * probes meanwhile: the time to detect is the federation's, not the
 * rollout's end. */
static void wait_deployment(struct runner *x, const struct drill_action *a,
                            struct drill_step_result *s, const char *id, bool rollback,
                            json_int_t started, int64_t t, char *stage, size_t cap,
                            struct span *times)
{
    /* The rollout's own deadlines bound it; this only guards the runner. */
    int64_t give_up = t + 15 * 60 * 1000;
    struct drill_probe_result res[DRILL_MAX_PROBES];
    for (;;) {
        if (rollback)
            rollback_stage(x, id, started, stage, cap, times);
        else
            deployment_stage(x, id, stage, cap, times);
        if (!unfinished(stage, rollback) || ctl_interrupted || ctl_mono_ms() >= give_up)
            return;
        if (a->slo.set && !s->probes.detected && !sweep(x, a->slo.probes, res)) {
            s->probes.detected = true;
            s->probes.detect_ms = (uint32_t)(ctl_mono_ms() - t);
            say_detected(x, a, s);
        }
        ctl_sleep_ms(DRILL_SWEEP_MS);
    }
}

/* The node's figures for a release reverted: detected when it failed
 * (from its start), recovered when its rollback ended reverted, healthy
 * everywhere (from the failure). */
static void revert_times(struct drill_node_times *nt, const struct span *ours,
                         const struct span *back)
{
    nt->seen = true;
    nt->t.detected = nt->t.recovered = true;
    nt->t.detect_ms = ms_between(ours->started, ours->finished);
    nt->t.recover_ms = ms_between(ours->finished, back->finished);
    char failed[32], reverted[32];
    snprintf(nt->what, sizeof nt->what,
             "failed %s after it started, reverted and healthy everywhere %s after the failure "
             "(GET /deployments)",
             ms_text(nt->t.detect_ms, failed, sizeof failed),
             ms_text(nt->t.recover_ms, reverted, sizeof reverted));
}

static void run_deploy(struct runner *x, const struct drill_action *a, struct drill_step_result *s)
{
    char why[512], id[128], stage[32], rb[32] = "";
    char *doc = ctl_drill_manifest(&x->f, a, why, sizeof why);
    if (!doc) {
        fail_step(s, "%s", why);
        return;
    }
    struct ctl_reply r;
    int rc = post(x, "/deployments", doc, false, &r);
    free(doc);
    int64_t t = ctl_mono_ms();
    if (rc != 0 || r.status != 202) {
        refusal(&r, rc, why, sizeof why);
        fail_step(s, "the deployment was refused: %s", why);
        ctl_reply_free(&r);
        return;
    }
    ctl_deploy_id(r.json, id, sizeof id);
    ctl_reply_free(&r);
    progress(x, "  deployment %s submitted", id);
    struct span ours = {0}, back = {0};
    wait_deployment(x, a, s, id, false, 0, t, stage, sizeof stage, &ours);
    deployment_stage(x, id, stage, sizeof stage, &ours);
    bool as_expected = strcmp(stage, "stable") == 0;
    if (a->expect_reverted && strcmp(stage, "failed") == 0) {
        /* Reverted means the leader's rollback is over, not just begun. */
        wait_deployment(x, a, s, id, true, ours.started, t, rb, sizeof rb, &back);
        as_expected = strcmp(rb, "reverted") == 0;
        if (as_expected && ours.finished && back.finished)
            revert_times(&s->node, &ours, &back);
    } else if (a->expect_reverted) {
        as_expected = strcmp(stage, "reverted") == 0;
    }
    snprintf(s->detail, sizeof s->detail, "deployment %s ended %s%s%s (expected %s)", id, stage,
             *rb ? ", its rollback " : "", rb,
             a->expect_reverted ? "failed and reverted" : "stable");
    progress(x, "  %s", s->detail);
    if (!as_expected) {
        s->status = DRILL_STEP_FAILED;
        return;
    }
    s->status = DRILL_STEP_DONE;
    if (a->slo.set)
        measure(x, a, s, t, true, NULL);
}

/* POST path to the leader (twice if need be); false after failing s. */
static bool heal_call(struct runner *x, const char *path, struct drill_step_result *s)
{
    struct ctl_reply r;
    int rc = post(x, path, "{}", true, &r);
    bool ok = rc == 0 && r.status >= 200 && r.status < 300;
    char why[256];
    if (!ok)
        refusal(&r, rc, why, sizeof why);
    ctl_reply_free(&r);
    if (!ok)
        fail_step(s, "POST %s: %s", path, why);
    return ok;
}

static void run_heal(struct runner *x, struct drill_step_result *s)
{
    if (!x->injected) {
        snprintf(s->detail, sizeof s->detail, "nothing to heal: this run injected no fault");
        s->status = DRILL_STEP_DONE;
        return;
    }
    /* The kill switch heals everywhere at once but leaves chaos stopped,
     * also on each node a lasting fault was applied on (before chaos is
     * enabled again: a node that redirects its stop to the leader must not
     * stop chaos after that). A fault was injected, so chaos was not
     * stopped before this run: lift the switch again, or the next drill
     * would be refused. */
    char there[160] = "";
    if (!heal_call(x, "/chaos/stop", s))
        return;
    json_t *state = x->nfaulted ? ctl_leader_state(x->o) : NULL;
    for (size_t k = 0; k < x->nfaulted; k++)
        if (ctl_chaos_stop_at(x->o, x->token, ctl_member_http(state, x->faulted[k])) >= 0)
            append(there, sizeof there, x->faulted[k]);
    json_decref(state);
    if (!heal_call(x, "/chaos/enable", s))
        return;
    snprintf(s->detail, sizeof s->detail,
             "every fault healed (POST /chaos/stop%s%s), chaos enabled again as before the drill",
             *there ? ", also on " : "", there);
    s->status = DRILL_STEP_DONE;
}

static void run_restart(struct runner *x, struct drill_step_result *s)
{
    s->status = DRILL_STEP_DONE;
    if (x->nkilled == 0) {
        snprintf(s->detail, sizeof s->detail, "no node was killed");
        return;
    }
    if (!x->restart_cmd) {
        snprintf(s->detail, sizeof s->detail,
                 "left to the nodes' supervisor (no --restart-cmd given)");
        return;
    }
    for (size_t i = 0; i < x->nkilled; i++) {
        char cmd[2048] = "";
        for (const char *p = x->restart_cmd; *p; p++) {
            size_t n = strlen(cmd);
            if (strncmp(p, "{node}", 6) == 0) {
                snprintf(cmd + n, sizeof cmd - n, "%s", x->killed[i]);
                p += 5;
            } else if (n + 1 < sizeof cmd) {
                cmd[n] = *p;
                cmd[n + 1] = '\0';
            }
        }
        /* system()'s answer is a wait status (256 for exit 1), not the
         * code the command exited with. */
        int st = system(cmd);
        if (st == -1) {
            fail_step(s, "restarting %s: `%s` could not be run: %s", x->killed[i], cmd,
                      strerror(errno));
            return;
        }
        if (WIFSIGNALED(st)) {
            fail_step(s, "restarting %s: `%s` was killed by signal %d", x->killed[i], cmd,
                      WTERMSIG(st));
            return;
        }
        if (WEXITSTATUS(st) != 0) {
            fail_step(s, "restarting %s: `%s` exited with status %d", x->killed[i], cmd,
                      WEXITSTATUS(st));
            return;
        }
    }
    snprintf(s->detail, sizeof s->detail, "restarted %zu node(s) with --restart-cmd", x->nkilled);
}

static void run_action(struct runner *x, const struct drill_action *a, struct drill_step_result *s)
{
    progress(x, "%s (%s)", a->name, drill_action_name(a->kind));
    s->started_ms = now_ms(x);
    ctl_sleep_ms(a->pause_before_ms);
    switch (a->kind) {
    case DRILL_ACTION_FAULT:
        run_fault(x, a, s);
        break;
    case DRILL_ACTION_DEPLOY:
        run_deploy(x, a, s);
        break;
    case DRILL_ACTION_PAUSE:
        ctl_sleep_ms(a->duration_ms);
        s->status = DRILL_STEP_DONE;
        break;
    case DRILL_ACTION_HEAL:
        run_heal(x, s);
        break;
    case DRILL_ACTION_RESTART_NODES:
        run_restart(x, s);
        break;
    }
    if (s->status == DRILL_STEP_FAILED)
        progress(x, "  FAILED: %s", s->detail);
    else
        ctl_sleep_ms(a->pause_after_ms);
    s->ended_ms = now_ms(x);
}

/* ---- the run ---------------------------------------------------------- */

/* Refuses a drill with faults up front when the node has no chaos
 * endpoints: nothing is touched. */
static bool chaos_missing(struct runner *x)
{
    long st;
    json_t *j = ctl_get_json(x->o, NULL, "/chaos", &st);
    json_decref(j);
    return st == 404;
}

static void steady_after(struct runner *x)
{
    const struct drill *d = &x->f.d;
    uint32_t wait = SETTLE_MIN_MS;
    for (size_t i = 0; i < d->nmethod; i++)
        if (d->method[i].slo.set && d->method[i].slo.recover_within_ms > wait)
            wait = d->method[i].slo.recover_within_ms;
    int64_t until = ctl_mono_ms() + wait;
    x->r.after_checked = true;
    sweep_fresh(x); /* the steady state after is seen anew, not from the last step's notes */
    while (!sweep(x, all_probes(d), x->r.after) && !ctl_interrupted && ctl_mono_ms() < until)
        ctl_sleep_ms(DRILL_SWEEP_MS);
}

static void print_hypothesis(const struct runner *x, const char *when,
                             const struct drill_probe_result *res)
{
    size_t held = 0;
    for (size_t i = 0; i < x->f.d.nprobes; i++)
        held += res[i].held;
    progress(x, "steady state %s: %zu of %zu probes hold", when, held, x->f.d.nprobes);
}

/* How the result went into the ledger. */
struct recorded {
    bool ok;
    bool as_note; /* the node has no POST /drills: an operator note instead */
    json_int_t index;
    json_t *notarization; /* GET /drills's, once a checkpoint notarizes it */
};

/* Who ran the drill, for the record: user@host, cut to an id's length.
 * USER is often unset (cron, systemd services, docker exec): then the
 * user database names the user, rather than the record naming a host. */
static void runner_name(char *out, size_t cap)
{
    const char *user = getenv("USER");
    if (!user || !*user) {
        const struct passwd *pw = getpwuid(geteuid());
        user = pw ? pw->pw_name : NULL;
    }
    char host[256] = "";
    if (gethostname(host, sizeof host - 1) != 0)
        host[0] = '\0';
    snprintf(out, cap, "%s%s%s", user ? user : "", user && *host ? "@" : "", host);
    for (char *p = out; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
}

/* The result as an operator note (drill_note), for a node without POST
 * /drills. */
static bool record_note(struct runner *x, const uint8_t digest[DRILL_DIGEST_BYTES],
                        json_int_t *index)
{
    char text[DRILL_NOTE_MAX];
    drill_note(&x->f.d, &x->r, digest, text, sizeof text);
    json_t *body = json_pack("{s:[s]}", "notes", text);
    char *payload = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (!payload)
        return false;
    struct ctl_reply r;
    int rc = post_once(x, "/ledger/notes", payload, &r);
    free(payload);
    bool ok = rc == 0 && r.status >= 200 && r.status < 300 &&
              json_is_integer(json_object_get(r.json, "first_index"));
    if (ok)
        *index = json_integer_value(json_object_get(r.json, "first_index"));
    ctl_reply_free(&r);
    return ok;
}

/* The result as a drill record (POST /drills), or a note when the node
 * answers 404 (an older node). */
static void record(struct runner *x, const uint8_t digest[DRILL_DIGEST_BYTES], struct recorded *out)
{
    struct drill_record rec;
    char by[DRILL_ID_MAX];
    runner_name(by, sizeof by);
    drill_record_from_run(&x->f.d, &x->r, digest, by, &rec);
    json_t *body = drill_record_json(&rec);
    char *payload = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (!payload)
        return;
    struct ctl_reply r;
    int rc = post_once(x, "/drills", payload, &r);
    free(payload);
    out->as_note = rc == 0 && r.status == 404;
    out->ok = rc == 0 && r.status == 201 && json_is_integer(json_object_get(r.json, "index"));
    if (out->ok)
        out->index = json_integer_value(json_object_get(r.json, "index"));
    else if (!out->as_note)
        fprintf(stderr, "chimeractl: drill run: the result was not recorded: %s\n",
                rc != 0 ? r.error : ctl_json_str(r.json, "error", "error status"));
    ctl_reply_free(&r);
    if (out->as_note)
        out->ok = record_note(x, digest, &out->index);
}

/* Waits (at most NOTARY_WAIT_MS) for a checkpoint at or after the record
 * to be notarized: the leader checkpoints at most once per heartbeat (50
 * ms by default) while commits go on and asks again for missing
 * cosignatures every four, so a few heartbeats are enough. */
#define NOTARY_WAIT_MS 5000
static void await_notarization(struct runner *x, struct recorded *rec)
{
    char path[96];
    snprintf(path, sizeof path, "/drills?from=%" JSON_INTEGER_FORMAT "&limit=1", rec->index);
    int64_t until = ctl_mono_ms() + NOTARY_WAIT_MS;
    progress(x,
             "recorded in the ledger at index %" JSON_INTEGER_FORMAT
             "; waiting for a checkpoint's witness quorum to notarize it",
             rec->index);
    while (!ctl_interrupted) {
        struct ctl_reply r;
        if (ctl_conn_get(&x->conn, path, &r) == 0 && r.status == 200) {
            json_t *d = json_array_get(json_object_get(r.json, "drills"), 0);
            json_t *n = json_object_get(d, "notarization");
            if (json_integer_value(json_object_get(d, "index")) == rec->index && json_is_object(n))
                rec->notarization = json_incref(n);
        }
        ctl_reply_free(&r);
        if (rec->notarization || ctl_mono_ms() >= until)
            return;
        ctl_sleep_ms(200);
    }
}

static void print_recorded(const struct recorded *rec)
{
    if (!rec->ok) {
        printf("Not recorded in the ledger (the node refused it)\n");
        return;
    }
    if (rec->as_note) {
        printf("Recorded in the ledger at index %" JSON_INTEGER_FORMAT
               " as a note (this node has no POST /drills); the first checkpoint at or after it "
               "notarizes it (chimeractl ledger show %" JSON_INTEGER_FORMAT ")\n",
               rec->index, rec->index);
        return;
    }
    printf("Recorded in the ledger at index %" JSON_INTEGER_FORMAT "\n", rec->index);
    if (!rec->notarization) {
        printf("Not notarized yet: no checkpoint covering index %" JSON_INTEGER_FORMAT
               " has a quorum of witness signatures so far; check later with chimeractl drill "
               "history\n",
               rec->index);
        return;
    }
    char signers[512] = "";
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(rec->notarization, "signers"), i, s)
    {
        size_t n = strlen(signers);
        snprintf(signers + n, sizeof signers - n, "%s%s", i ? ", " : "", json_string_value(s));
    }
    printf("Notarized by checkpoint %" JSON_INTEGER_FORMAT " (signed by %s)\n",
           json_integer_value(json_object_get(rec->notarization, "checkpoint")), signers);
}

static int finish(struct runner *x, const char *journal_file)
{
    x->r.ended_ms = now_ms(x);
    char why[320], hex[2 * DRILL_DIGEST_BYTES + 1] = "";
    enum drill_verdict v = drill_verdict(&x->f.d, &x->r, why, sizeof why);
    json_t *journal = drill_journal(&x->f.d, &x->r);
    uint8_t digest[DRILL_DIGEST_BYTES] = {0};
    if (journal && drill_journal_digest(journal, digest) == 0)
        for (size_t i = 0; i < sizeof digest; i++)
            snprintf(hex + 2 * i, 3, "%02x", digest[i]);
    if (journal && json_dump_file(journal, journal_file, JSON_INDENT(2)) != 0)
        fprintf(stderr, "chimeractl: drill run: cannot write the journal to %s\n", journal_file);
    struct recorded rec = {0};
    record(x, digest, &rec);
    /* --json prints the journal alone, as written: its digest is over it. */
    if (rec.ok && !rec.as_note && !x->o->json)
        await_notarization(x, &rec);
    if (x->o->json) {
        json_dumpf(journal, stdout, JSON_INDENT(2));
        putchar('\n');
    } else {
        char *report = drill_report(&x->f.d, &x->r);
        printf("\n%s", report ? report : "(out of memory)\n");
        free(report);
        printf("Journal: %s (BLAKE2b %s)\n", journal_file, hex);
        print_recorded(&rec);
    }
    json_decref(rec.notarization);
    json_decref(journal);
    /* The verdict is about the hypothesis (as Chaos Toolkit's status is);
     * a rollback that failed may have left a fault or a stopped node
     * behind, which whoever runs drills from a script must hear of. */
    bool rollback_failed = false;
    for (size_t i = 0; i < x->f.d.nrollbacks; i++)
        if (x->r.rollbacks[i].status == DRILL_STEP_FAILED) {
            rollback_failed = true;
            fprintf(stderr,
                    "chimeractl: drill run: rollback \"%s\" failed: %s; the federation may still "
                    "carry a fault or a stopped node\n",
                    x->f.d.rollbacks[i].name, x->r.rollbacks[i].detail);
        }
    if (x->token_refused) {
        fprintf(stderr, "chimeractl: drill run: the node refused the admin token (check "
                        "--token-file or CHIMERA_ADMIN_TOKEN_FILE): exit 6\n");
        return CTL_AUTH;
    }
    if (v == DRILL_HELD)
        return rollback_failed ? CTL_DRILL_ROLLBACK_FAILED : CTL_OK;
    return v == DRILL_DEVIATED ? CTL_DRILL_DEVIATED : CTL_DRILL_COULD_NOT_RUN;
}

static int usage(const char *what, const char *arg)
{
    fprintf(stderr, "chimeractl: drill run: %s%s%s%s (see chimeractl drill run --help)\n", what,
            arg ? " '" : "", arg ? arg : "", arg ? "'" : "");
    return CTL_USAGE;
}

int ctl_cmd_drill_run(const struct ctl_opts *o, int argc, char **argv)
{
    const char *arg = NULL, *journal = "journal.json", *restart = NULL;
    bool verbose = false;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--verbose") == 0 || strcmp(a, "-v") == 0) {
            verbose = true;
            continue;
        }
        const char **val = strcmp(a, "--journal") == 0       ? &journal
                           : strcmp(a, "--restart-cmd") == 0 ? &restart
                                                             : NULL;
        if (val) {
            if (i + 1 >= argc || !*argv[i + 1])
                return usage("needs a value after", a);
            *val = argv[++i];
        } else if (a[0] == '-' && a[1])
            return usage("unknown option", a);
        else if (arg)
            return usage("one drill at a time; unexpected argument", a);
        else
            arg = a;
    }
    if (!arg)
        return usage("needs a drill FILE or the NAME of a built-in drill", NULL);
    struct runner *x = calloc(1, sizeof *x);
    if (!x)
        return CTL_FAILED;
    x->o = o;
    x->restart_cmd = restart;
    /* The connection's redirect notice is the only thing json silences. */
    x->conn_opts = *o;
    x->conn_opts.json = o->json || !verbose;
    int rc = ctl_drill_load("drill run", arg, false, &x->f);
    if (rc == CTL_OK && !(x->token = ctl_token_for(o, "drill run")))
        rc = CTL_USAGE;
    if (rc == CTL_OK && ctl_conn_open(&x->conn, &x->conn_opts) != 0)
        rc = ctl_exit_code(CTL_FAM_COMMON, CTL_O_NO_ANSWER);
    if (rc != CTL_OK) {
        ctl_drill_unload(&x->f);
        free(x);
        return rc;
    }
    ctl_catch_signals();
    ctl_client_set_cancel(x->conn.first, &ctl_interrupted);
    x->mono0 = ctl_mono_ms();
    /* To the ms: the journal's times are compared with the nodes'. */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    x->wall0 = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    x->r.started_ms = x->wall0;
    const struct drill *d = &x->f.d;
    /* A federation that cannot be reached, or refuses our reads, gets the
     * common codes (5, 6) before anything is measured. */
    struct ctl_reply st;
    rc = ctl_check_reply(ctl_get(x->conn.first, "/federation/state", &st), &st);
    ctl_reply_free(&st);
    if (rc != CTL_OK)
        goto out;
    progress(x, "drill \"%s\" against %s", d->title, ctl_conn_addr(&x->conn));
    if (drill_has_faults(d) && chaos_missing(x)) {
        fprintf(stderr, "chimeractl: drill run: %s: the method injects faults, but %s\n", x->f.path,
                NO_CHAOS);
        snprintf(x->r.stopped, sizeof x->r.stopped, "%s", NO_CHAOS);
        rc = CTL_DRILL_COULD_NOT_RUN;
        goto out;
    }
    x->r.before_checked = true;
    bool steady = sweep(x, all_probes(d), x->r.before);
    print_hypothesis(x, "before", x->r.before);
    for (size_t i = 0; steady && i < d->nmethod && !ctl_interrupted; i++) {
        run_action(x, &d->method[i], &x->r.method[i]);
        if (x->r.method[i].status == DRILL_STEP_FAILED)
            break;
    }
    if (ctl_interrupted)
        snprintf(x->r.stopped, sizeof x->r.stopped, "interrupted");
    bool failed = false;
    for (size_t i = 0; i < d->nmethod; i++)
        failed = failed || x->r.method[i].status == DRILL_STEP_FAILED;
    if (steady && !failed && !ctl_interrupted) {
        steady_after(x);
        print_hypothesis(x, "after", x->r.after);
    }
    /* The rollbacks always run: a Ctrl-C stops the method, not them. */
    ctl_interrupted = 0;
    for (size_t i = 0; steady && i < d->nrollbacks; i++)
        run_action(x, &d->rollbacks[i], &x->r.rollbacks[i]);
    rc = finish(x, journal);
out:
    ctl_conn_close(&x->conn);
    ctl_drill_unload(&x->f);
    free(x);
    return rc;
}
