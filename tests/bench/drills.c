/* Benchmark: time to recover per fault kind (issue 12, "Tests and
 * figures"), on one 5-node federation of real chimerad processes on
 * 127.0.0.1 (chimerad's default timeouts: heartbeat 50 ms, election
 * timeout 150 ms). Each kind runs --runs times (default 10), one fault at
 * a time, each after the federation is quiet again (one leader all agree
 * on, every member alive in every view, no active chaos fault). Prints
 * figures and never judges them: it fails only when the federation cannot
 * be set up or a fault is not recovered from at all.
 *
 * Times come from the nodes' own events (GET /events: wall clock, ms
 * resolution, one machine, so comparable across nodes and with this
 * program's CLOCK_REALTIME) wherever an event marks the moment; where
 * only a client can tell (a write commits), the program polls every
 * POLL_US plus a sweep, and says so.
 *
 *   leader   SIGKILL the leader's process (the point is a crash: not the
 *            injector's kill_node, whose exit is a clean _exit). From just
 *            before kill() to (a) the new leader's consensus.elected event
 *            and (b) the first POST /ledger/notes it answers 201 (answered
 *            once committed: the federation is writable again; polled).
 *            Then the node is restarted and the federation settles.
 *   isolate  POST /chaos/inject isolate_node (from all peers, ISOLATE_MS),
 *            alternately on the leader and on a follower: a minority of
 *            one (the injector allows one fault at a time, and an isolated
 *            node is cut off from every peer, so two would be two
 *            minorities of one). (a) the target's chaos.injected to its
 *            consensus.read_only.enter; (b) the target's chaos.healed (its
 *            own timer at expiry) to one leader that all five agree on,
 *            none read-only, and a note committing through it (polled);
 *            (c) chaos.healed to the target's consensus.read_only.exit.
 *   service  POST /chaos/inject kill_service (SIGKILL to web's process
 *            group) on each node in turn, with release 1 running: the
 *            target's chaos.injected to its recovery.restarted (the
 *            watchtower restarted web and a health check passed); also
 *            the watchtower's own figure in that event (exit seen ->
 *            first passing check). Health checks every 50 ms bound it.
 *   release  a release whose service answers its health check with 503
 *            FAIL_HEALTH_AFTER after it starts (chimera-demo
 *            --fail-health-after), one restart allowed (restart attempts
 *            1): it becomes stable, then fails on every node; the
 *            watchtower's liveness check stops and restarts it, it fails
 *            again, the crash loop is reported to the leader, which
 *            reverts to release 1 (README "Recovery watchtower"). From the
 *            first failing health check (the earliest
 *            recovery.liveness_stop minus the failing time it states) to
 *            release 1 healthy on every node (the last deploy.healthy),
 *            split at the first recovery.crash_loop and at the leader's
 *            chimera.rollback.triggered (the revert committed); also the
 *            revert committed to release 1 applied on every node (the last
 *            deploy.applied) and to the leader's chimera.rollback.complete
 *            (the rollback recorded as done, min_healthy_time later).
 * The first part is the release's own doing: it fails again
 * FAIL_HEALTH_AFTER after its restart, and liveness needs
 * unhealthy_threshold x interval (200 ms) of failing checks each time.
 *
 *   bench_drills [--runs N] [--kinds leader,isolate,service,release] [--seed S] */
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
#include "ctl/ctl.h"
#include "harness_release.h"

#define NODES 5
#define POLL_US 2000       /* pause between polling sweeps */
#define POLL_HTTP_MS 200   /* one poll's request; a slow answer must not blur much */
#define LIMIT_MS 30000     /* a fault not recovered from by then is a failure */
#define ISOLATE_MS 1500    /* long enough for the isolated node to turn read-only */
#define KILL_FAULT_MS 1000 /* a kill's duration: the time it counts as the active fault */
#define MAX_JITTER_MS 100  /* the leader's kill lands anywhere in two heartbeats */
#define FAIL_HEALTH_AFTER "1500ms"

enum kind { K_LEADER, K_ISOLATE, K_SERVICE, K_RELEASE, K_COUNT };
static const char *const kind_names[K_COUNT] = {"leader", "isolate", "service", "release"};

/* The figures, in the order they are printed. */
enum fig {
    F_SVC,
    F_SVC_WT,
    F_LEAD_WRITE,
    F_LEAD_ELECT,
    F_ISO_RO,
    F_ISO_HEAL,
    F_ISO_HEAL_LEADER,
    F_ISO_HEAL_FOLLOWER,
    F_ISO_REJOIN,
    F_REL,
    F_REL_DETECT,
    F_REL_DECIDE,
    F_REL_APPLIED,
    F_REL_APPLY,
    F_REL_RECORDED,
    F_COUNT
};

static const struct {
    enum kind kind;
    const char *key, *name, *how;
} figs[F_COUNT] = {
    [F_SVC] = {K_SERVICE, "service", "service killed -> healthy again",
               "target's chaos.injected -> its recovery.restarted (events)"},
    [F_SVC_WT] = {K_SERVICE, "service_watchtower", "  watchtower's own time to recover",
                  "exit seen -> first passing check (in recovery.restarted)"},
    [F_LEAD_WRITE] = {K_LEADER, "leader", "leader killed -> writable again",
                      "kill() -> first note committed via the new leader (polled)"},
    [F_LEAD_ELECT] = {K_LEADER, "leader_elected", "  leader killed -> new leader elected",
                      "kill() -> new leader's consensus.elected (event)"},
    [F_ISO_RO] = {K_ISOLATE, "isolate_read_only", "minority isolated -> read-only",
                  "target's chaos.injected -> its read_only.enter (events)"},
    [F_ISO_HEAL] = {K_ISOLATE, "isolate_healed", "  healed -> one leader and writable",
                    "target's chaos.healed -> 5 agree, note commits (polled)"},
    [F_ISO_HEAL_LEADER] = {K_ISOLATE, "isolate_healed_leader", "    (the leader was isolated)", ""},
    [F_ISO_HEAL_FOLLOWER] = {K_ISOLATE, "isolate_healed_follower", "    (a follower was isolated)",
                             ""},
    [F_ISO_REJOIN] = {K_ISOLATE, "isolate_rejoined", "  healed -> target under a leader again",
                      "target's chaos.healed -> its read_only.exit (events)"},
    [F_REL] = {K_RELEASE, "release", "bad release -> reverted and healthy",
               "first failing check -> release 1 healthy on all (events)"},
    [F_REL_DETECT] = {K_RELEASE, "release_detect", "  first failing check -> crash loop",
                      "-> first recovery.crash_loop (events)"},
    [F_REL_DECIDE] = {K_RELEASE, "release_decide", "  crash loop -> revert committed",
                      "-> leader's chimera.rollback.triggered (events)"},
    [F_REL_APPLIED] = {K_RELEASE, "release_applied", "  revert committed -> applied on all",
                       "-> the last deploy.applied of release 1 (events)"},
    [F_REL_APPLY] = {K_RELEASE, "release_apply", "  revert committed -> healthy on all",
                     "-> the last deploy.healthy of release 1 (events)"},
    [F_REL_RECORDED] = {K_RELEASE, "release_recorded", "  revert committed -> rollback complete",
                        "-> leader's chimera.rollback.complete (events)"},
};

struct bench {
    struct h_cluster *c;
    struct h_samples s[F_COUNT];
    int refusals; /* 409s from POST /chaos/inject, retried */
    double sweeps, sweep_ms;
    char *good; /* release 1's deployment id */
};

/* CLOCK_MONOTONIC for durations, CLOCK_REALTIME to compare with the
 * nodes' event times (node_wall_ms), in ms. */
static double clock_ms(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}
static double mono_ms(void)
{
    return clock_ms(CLOCK_MONOTONIC);
}
static double wall_ms(void)
{
    return clock_ms(CLOCK_REALTIME);
}

static void add(struct bench *b, enum fig f, double ms)
{
    h_samples_add(&b->s[f], (uint64_t)(ms < 0 ? 0 : ms * 1e6));
}

/* ---- events --------------------------------------------------------------- */

/* An event found: its time (0: none found), its seq and its message. */
struct ev {
    int64_t t;
    unsigned long long seq;
    char msg[512];
};

/* The first event (last: the latest) that node i raised after seq `since`
 * with this kind and, unless about is NULL, a message containing about;
 * its time_ms (0: none), and all of it in *out unless out is NULL. */
static int64_t ev_time(struct h_cluster *c, int i, unsigned long long since, const char *kind,
                       const char *about, bool last, struct ev *out)
{
    char path[96];
    snprintf(path, sizeof(path), "/events?since=%llu&limit=1000", since);
    long st = 0;
    json_t *evs = h_http_get_json(c, i, path, &st);
    size_t k;
    json_t *e;
    struct ev found = {0};
    json_array_foreach(evs, k, e)
    {
        const char *kd = json_string_value(json_object_get(e, "kind"));
        const char *m = json_string_value(json_object_get(e, "message"));
        if (!kd || strcmp(kd, kind) != 0 || (about && (!m || !strstr(m, about))))
            continue;
        found.t = json_integer_value(json_object_get(e, "time_ms"));
        found.seq = (unsigned long long)json_integer_value(json_object_get(e, "seq"));
        snprintf(found.msg, sizeof found.msg, "%s", m ? m : "");
        if (!last)
            break;
    }
    json_decref(evs);
    if (out)
        *out = found;
    return found.t;
}

/* Waits for such an event (polling every 5 ms); its time, or 0. */
static int64_t ev_wait(struct h_cluster *c, int i, unsigned long long since, const char *kind,
                       const char *about, int timeout_ms, struct ev *out)
{
    double until = mono_ms() + timeout_ms;
    while (!h_interrupted() && mono_ms() < until) {
        int64_t t = ev_time(c, i, since, kind, about, false, out);
        if (t)
            return t;
        usleep(5000);
    }
    return 0;
}

/* ---- the federation ------------------------------------------------------ */

static int leader_now(struct bench *b)
{
    int leader = -1;
    if (!h_wait_agreed(b->c, 0, LIMIT_MS, &leader, NULL) && !h_interrupted())
        fprintf(stderr, "bench_drills: no leader all agree on: %s (logs: %s)\n", h_views_line(b->c),
                b->c->dir);
    return leader;
}

static bool no_active_fault(void *arg)
{
    struct bench *b = arg;
    int leader;
    if (!h_agreed(b->c, 0, &leader, NULL))
        return false;
    long st = 0;
    json_t *j = h_http_get_json(b->c, leader, "/chaos", &st);
    bool none = st == 200 && json_is_null(json_object_get(j, "active"));
    json_decref(j);
    return none;
}

/* Quiet: one leader all agree on, every member alive in every view (the
 * injector's "unhealthy" rule) and no active fault (its "active" rule).
 * The leader's index, or -1 after printing why. */
static int quiet(struct bench *b)
{
    if (leader_now(b) < 0)
        return -1;
    if (!h_wait_all_alive(b->c, LIMIT_MS) || !h_wait_until(no_active_fault, b, LIMIT_MS)) {
        if (!h_interrupted())
            fprintf(stderr, "bench_drills: the federation did not settle: %s (logs: %s)\n",
                    h_views_line(b->c), b->c->dir);
        return -1;
    }
    return leader_now(b);
}

/* The fault of this kind on target that the leader's GET /chaos history
 * holds with a start at or after since_ms (a new reference), or NULL. */
static json_t *fault_since(struct bench *b, int leader, const char *kind, int target,
                           double since_ms)
{
    long st = 0;
    json_t *j = h_http_get_json(b->c, leader, "/chaos", &st);
    size_t k;
    json_t *r, *found = NULL;
    json_array_foreach(json_object_get(j, "history"), k, r)
    {
        const char *rec = json_string_value(json_object_get(r, "record"));
        const char *kd = json_string_value(json_object_get(r, "kind"));
        const char *node = json_string_value(json_object_get(r, "node"));
        if (rec && strcmp(rec, "fault") == 0 && kd && strcmp(kd, kind) == 0 && node &&
            strcmp(node, b->c->nodes[target].id) == 0 &&
            (double)json_integer_value(json_object_get(r, "start_ms")) >= since_ms)
            found = r;
    }
    json_incref(found);
    json_decref(j);
    return found;
}

/* POST /chaos/inject to the leader, retried while a safety rule refuses it
 * (a member not yet alive in the leader's view, say) or leadership moves.
 * An answer that is neither 201 nor 409 (leadership lost before the commit,
 * say) is no proof that the fault was not committed: a leader elected next
 * may commit it still, so the history is looked at before trying again.
 * The committed fault (json_decref it), or NULL after printing why. */
static json_t *inject(struct bench *b, int leader, const char *kind, int target,
                      const char *service, int duration_ms)
{
    struct h_cluster *c = b->c;
    char body[256];
    snprintf(body, sizeof(body), "{\"kind\":\"%s\",\"target\":\"%s\"%s%s%s,\"duration_ms\":%d}",
             kind, c->nodes[target].id, service ? ",\"service\":\"" : "", service ? service : "",
             service ? "\"" : "", duration_ms);
    double until = mono_ms() + LIMIT_MS, since = wall_ms() - 1;
    char last[512] = "";
    while (!h_interrupted() && mono_ms() < until && leader >= 0) {
        long st = 0;
        json_t *j = h_release_post(c, leader, "/chaos/inject", body, 5000, &st);
        json_t *fault = json_object_get(j, "fault");
        if (st == 201 && json_is_object(fault)) {
            json_incref(fault);
            json_decref(j);
            return fault;
        }
        const char *err = json_string_value(json_object_get(j, "error"));
        snprintf(last, sizeof(last), "%ld %s", st, err ? err : "");
        json_decref(j);
        if (st == 409) {
            b->refusals++;
            usleep(50000);
        } else if ((leader = leader_now(b)) >= 0) {
            json_t *committed = fault_since(b, leader, kind, target, since);
            if (committed)
                return committed;
        }
    }
    if (!h_interrupted())
        fprintf(stderr, "bench_drills: POST /chaos/inject %s was not accepted: %s\n", body, last);
    return NULL;
}

/* ---- leader killed ------------------------------------------------------ */

static bool drill_leader(struct bench *b, int run)
{
    struct h_cluster *c = b->c;
    int leader = quiet(b);
    unsigned long long term = 0;
    if (leader < 0 || !h_wait_agreed(c, 0, LIMIT_MS, &leader, &term))
        return false;
    usleep((random() % (MAX_JITTER_MS + 1)) * 1000L);
    unsigned long long since[NODES];
    for (int i = 0; i < NODES; i++)
        since[i] = h_last_event_seq(c, i);
    int elected = -1;
    double written = -1, t0w = wall_ms(), t0 = mono_ms();
    kill(c->nodes[leader].pid, SIGKILL);
    while (written < 0 && !h_interrupted()) {
        double sweep0 = mono_ms();
        for (int i = 0; i < NODES && written < 0; i++) {
            struct h_view v;
            if (i == leader || !h_view(c, i, POLL_HTTP_MS, &v) || strcmp(v.role, "leader") != 0 ||
                v.term <= term)
                continue;
            elected = i;
            if (h_mutation_accepted(h_mutation(c, i, c->token, POLL_HTTP_MS, NULL)))
                written = mono_ms() - t0;
        }
        b->sweeps++;
        b->sweep_ms += mono_ms() - sweep0;
        if (written < 0 && mono_ms() - t0 > LIMIT_MS) {
            fprintf(stderr, "bench_drills: no survivor took writes after %s was killed: %s\n",
                    c->nodes[leader].id, h_views_line(c));
            return false;
        }
        if (written < 0)
            usleep(POLL_US);
    }
    if (h_interrupted())
        return false;
    h_node_kill(c, leader); /* reaps it */
    int64_t te = ev_time(c, elected, since[elected], "consensus.elected", NULL, false, NULL);
    add(b, F_LEAD_WRITE, written);
    if (te)
        add(b, F_LEAD_ELECT, (double)te - t0w);
    printf("leader  %2d: killed %s; %s elected after %6.1f ms, writable after %6.1f ms\n", run,
           c->nodes[leader].id, c->nodes[elected].id, te ? (double)te - t0w : -1.0, written);
    if (h_node_start(c, leader) != 0 || !h_wait_http_up(c, leader, LIMIT_MS)) {
        fprintf(stderr, "bench_drills: %s did not come back (log: %s)\n", c->nodes[leader].id,
                c->nodes[leader].log);
        return false;
    }
    return true;
}

/* ---- a minority isolated -------------------------------------------------- */

/* Polls until one leader all agree on takes a write; its wall time, or 0. */
static double writable_again(struct bench *b, double until_mono)
{
    struct h_cluster *c = b->c;
    while (!h_interrupted() && mono_ms() < until_mono) {
        double sweep0 = mono_ms();
        int leader;
        if (h_agreed(c, 0, &leader, NULL) &&
            h_mutation_accepted(h_mutation(c, leader, c->token, POLL_HTTP_MS, NULL)))
            return wall_ms();
        b->sweeps++;
        b->sweep_ms += mono_ms() - sweep0;
        usleep(POLL_US);
    }
    return 0;
}

static bool drill_isolate(struct bench *b, int run)
{
    struct h_cluster *c = b->c;
    int leader = quiet(b);
    if (leader < 0)
        return false;
    bool on_leader = run % 2 == 1;
    int target = on_leader ? leader : (leader + 1 + run / 2) % NODES;
    if (target == leader)
        target = (target + 1) % NODES;
    unsigned long long since = h_last_event_seq(c, target);
    json_t *fault = inject(b, leader, "isolate_node", target, NULL, ISOLATE_MS);
    if (!fault)
        return false;
    double expires = (double)json_integer_value(json_object_get(fault, "expires_ms"));
    char id[80];
    snprintf(id, sizeof id, "(%s)", json_string_value(json_object_get(fault, "id")));
    json_decref(fault);
    /* Read-only first (so that "agreed" below can only come after the heal). */
    double until = mono_ms() + (expires - wall_ms()) + LIMIT_MS;
    struct h_view v = {0};
    while (!h_interrupted() && mono_ms() < until && wall_ms() < expires &&
           !(h_view(c, target, POLL_HTTP_MS, &v) && v.read_only))
        usleep(POLL_US);
    if (!v.read_only) {
        fprintf(stderr,
                "bench_drills: isolated %s was not read-only before the fault expired: %s\n",
                c->nodes[target].id, h_views_line(c));
        return false;
    }
    double ok = writable_again(b, until);
    if (!ok) {
        fprintf(stderr, "bench_drills: after isolating %s the federation did not agree again: %s\n",
                c->nodes[target].id, h_views_line(c));
        return false;
    }
    struct ev inj, heal;
    int64_t t_inj = ev_time(c, target, since, "chaos.injected", id, false, &inj);
    int64_t t_ro =
        t_inj ? ev_time(c, target, inj.seq, "consensus.read_only.enter", NULL, false, NULL) : 0;
    int64_t t_heal = ev_wait(c, target, since, "chaos.healed", id, LIMIT_MS, &heal);
    int64_t t_back =
        t_heal ? ev_wait(c, target, heal.seq, "consensus.read_only.exit", NULL, LIMIT_MS, NULL) : 0;
    if (!t_inj || !t_ro || !t_heal || !t_back) {
        fprintf(stderr, "bench_drills: %s lacks events of the isolation (logs: %s)\n",
                c->nodes[target].id, c->dir);
        return false;
    }
    add(b, F_ISO_RO, (double)(t_ro - t_inj));
    add(b, F_ISO_HEAL, ok - (double)t_heal);
    add(b, on_leader ? F_ISO_HEAL_LEADER : F_ISO_HEAL_FOLLOWER, ok - (double)t_heal);
    add(b, F_ISO_REJOIN, (double)(t_back - t_heal));
    printf("isolate %2d: %s (%s) read-only after %4" PRId64 " ms; healed -> agreed and writable "
           "after %6.1f ms, it under a leader after %4" PRId64 " ms\n",
           run, c->nodes[target].id, on_leader ? "the leader" : "a follower", t_ro - t_inj,
           ok - (double)t_heal, t_back - t_heal);
    return true;
}

/* ---- releases ------------------------------------------------------------- */

/* A chimera-demo release, health checked every 50 ms (the resolution of
 * "healthy again").
 * Release 1 (fail_after NULL): a restart block whose interval is short
 * enough that each kill of the service drill is the first failure of its
 * interval, restarted at once (the defaults, 3 in 1m, would back the
 * second kill on a node off by 500 ms); liveness after 20 failed checks
 * (1 s), so that a loaded machine's stalls (checks time out after 50 ms)
 * do not restart it between kills.
 * A bad release (fail_after): its health turns 503 that long after it
 * starts, liveness after 4 failed checks (200 ms), and one restart is
 * allowed, so the second failure is a crash loop. */
static const char *manifest(const char *version, const char *fail_after)
{
    static char buf[2048];
    char extra[64] = "";
    if (fail_after)
        snprintf(extra, sizeof(extra), ",\"--fail-health-after\",\"%s\"", fail_after);
    snprintf(buf, sizeof(buf),
             "{\"name\":\"bench\",\"version\":\"%s\",\"services\":[{\"name\":\"web\","
             "\"command\":\"chimera-demo\",\"args\":[\"--port\",\"${PORT}\",\"--version\","
             "\"${VERSION}\"%s],\"port\":\"auto\",\"health\":{\"url\":"
             "\"http://127.0.0.1:${PORT}/health\",\"interval\":\"50ms\",\"timeout\":\"50ms\","
             "\"healthy_threshold\":1,\"unhealthy_threshold\":%d},\"restart\":%s,"
             "\"stop_grace\":\"1s\"}],"
             "\"rollout\":{\"max_parallel\":%d,\"min_healthy_time\":\"300ms\","
             "\"healthy_deadline\":\"5s\",\"progress_deadline\":\"20s\",\"auto_revert\":true}}",
             version, extra, fail_after ? 4 : 20,
             fail_after ? "{\"attempts\":1,\"interval\":\"1m\",\"delay\":\"100ms\"}"
                        : "{\"attempts\":3,\"interval\":\"2s\",\"delay\":\"500ms\"}",
             NODES);
    return buf;
}

/* The stage node i reports for deployment id ("" when it does not say). */
static void stage_of(struct h_cluster *c, int i, const char *id, char *out, size_t cap)
{
    char path[160];
    snprintf(path, sizeof(path), "/deployments/%s", id);
    long st = 0;
    json_t *j = h_http_get_json(c, i, path, &st);
    const char *s = json_string_value(json_object_get(j, "stage"));
    snprintf(out, cap, "%s", st == 200 && s ? s : "");
    json_decref(j);
}

static bool deploy_good(struct bench *b)
{
    int leader = leader_now(b);
    char why[1024];
    b->good = leader < 0
                  ? NULL
                  : h_release_deploy(b->c, leader, manifest("1.0.0", NULL), 5000, why, sizeof(why));
    if (!b->good) {
        if (leader >= 0)
            fprintf(stderr, "bench_drills: release 1 was not accepted: %s\n", why);
        return false;
    }
    json_t *d = h_release_stage_at(b->c, leader, b->good, "stable", LIMIT_MS);
    json_decref(d);
    return d && h_release_wait_running(b->c, b->good, LIMIT_MS);
}

struct on_node {
    struct h_cluster *c;
    int i;
};

/* What the watchtower says of web on the node: healthy. */
static bool web_healthy(void *arg)
{
    const struct on_node *a = arg;
    long st = 0;
    json_t *j = h_http_get_json(a->c, a->i, "/recovery", &st);
    const char *state = json_string_value(
        json_object_get(json_array_get(json_object_get(j, "services"), 0), "state"));
    bool ok = state && strcmp(state, "healthy") == 0;
    json_decref(j);
    return ok;
}

/* ---- a service killed ------------------------------------------------------ */

static bool drill_service(struct bench *b, int run)
{
    struct h_cluster *c = b->c;
    int target = (run - 1) % NODES;
    struct on_node arg = {c, target};
    int leader = quiet(b);
    if (leader < 0 || !h_wait_until(web_healthy, &arg, LIMIT_MS)) {
        if (leader >= 0)
            fprintf(stderr, "bench_drills: web is not healthy on %s\n", c->nodes[target].id);
        return false;
    }
    unsigned long long since = h_last_event_seq(c, target);
    json_t *fault = inject(b, leader, "kill_service", target, "web", KILL_FAULT_MS);
    if (!fault)
        return false;
    char id[80];
    snprintf(id, sizeof id, "(%s)", json_string_value(json_object_get(fault, "id")));
    json_decref(fault);
    /* Its restart: the first after the kill (the watchtower may have
     * restarted web for another cause before, on a loaded machine). */
    struct ev inj = {0}, rec = {0}, failed = {0};
    double until = mono_ms() + LIMIT_MS;
    while (!h_interrupted() && mono_ms() < until && !inj.t && !failed.t) {
        if (!ev_time(c, target, since, "chaos.injected", id, false, &inj))
            ev_time(c, target, since, "chaos.failed", id, false, &failed);
        usleep(5000);
    }
    if (inj.t)
        ev_wait(c, target, inj.seq, "recovery.restarted", "after signal 9", LIMIT_MS, &rec);
    if (!rec.t) {
        fprintf(stderr, "bench_drills: %s: %s (logs: %s)\n", c->nodes[target].id,
                failed.t ? failed.msg
                : inj.t  ? "no recovery.restarted after the kill"
                         : "the kill was not applied",
                c->dir);
        return false;
    }
    const char *msg = rec.msg;
    int64_t t_rec = rec.t, t_inj = inj.t;
    const char *p = strstr(msg, "healthy again in ");
    long ttr = p ? ctl_ms_of_text(p + strlen("healthy again in ")) : -1;
    add(b, F_SVC, (double)(t_rec - t_inj));
    if (ttr >= 0)
        add(b, F_SVC_WT, (double)ttr);
    printf("service %2d: killed web on %s; healthy again after %4" PRId64
           " ms (watchtower: %ld ms)\n",
           run, c->nodes[target].id, t_rec - t_inj, ttr);
    return true;
}

/* ---- a bad release ------------------------------------------------------- */

/* Waits until node i reports deployment id in a stage other than
 * "deploying"; that stage in out ("" on timeout). */
static void settled_stage(struct h_cluster *c, int i, const char *id, char *out, size_t cap)
{
    double until = mono_ms() + LIMIT_MS;
    do {
        stage_of(c, i, id, out, cap);
        if (out[0] && strcmp(out, "deploying") != 0)
            return;
        usleep(10000);
    } while (!h_interrupted() && mono_ms() < until);
    out[0] = '\0';
}

/* The earliest first failing check among the nodes: each
 * recovery.liveness_stop says how long the checks had failed. */
static double first_failing_check(struct h_cluster *c, const unsigned long long *since)
{
    double first = 0;
    for (int i = 0; i < NODES; i++) {
        struct ev stop;
        int64_t t = ev_time(c, i, since[i], "recovery.liveness_stop", NULL, false, &stop);
        const char *p = t ? strstr(stop.msg, "liveness failing ") : NULL;
        if (!p)
            continue;
        long failing = ctl_ms_of_text(p + strlen("liveness failing "));
        if (failing < 0)
            continue;
        double at = (double)t - (double)failing;
        if (first == 0 || at < first)
            first = at;
    }
    return first;
}

static bool drill_release(struct bench *b, int run)
{
    struct h_cluster *c = b->c;
    int leader = quiet(b);
    if (leader < 0)
        return false;
    unsigned long long since[NODES];
    for (int i = 0; i < NODES; i++)
        since[i] = h_last_event_seq(c, i);
    char version[32], why[1024], stage[32];
    snprintf(version, sizeof(version), "2.0.%d", run);
    double posted = mono_ms();
    char *bad =
        h_release_deploy(c, leader, manifest(version, FAIL_HEALTH_AFTER), 5000, why, sizeof(why));
    if (!bad) {
        fprintf(stderr, "bench_drills: release %s was not accepted: %s\n", version, why);
        return false;
    }
    settled_stage(c, leader, bad, stage, sizeof stage);
    double to_stable = mono_ms() - posted;
    char *rb = h_release_newest_after(c, leader, bad, LIMIT_MS);
    json_t *d = rb ? h_release_stage_at(c, leader, rb, "reverted", LIMIT_MS) : NULL;
    bool reverted = d != NULL;
    json_decref(d);
    if (!reverted || !h_release_wait_running(c, b->good, LIMIT_MS)) {
        fprintf(stderr, "bench_drills: release %s was not reverted (stage %s; logs: %s)\n", version,
                stage, c->dir);
        free(bad);
        free(rb);
        return false;
    }
    if (strcmp(stage, "stable") != 0) { /* failed while rolling out: another path */
        printf("release %2d: %s went %s, not stable, before failing: not counted\n", run, version,
               stage[0] ? stage : "nowhere");
        free(bad);
        free(rb);
        return true;
    }
    double failing = first_failing_check(c, since);
    int64_t loop = 0, decided = ev_time(c, leader, since[leader], "chimera.rollback.triggered", rb,
                                        false, NULL);
    int64_t healthy = 0, applied = 0,
            complete =
                ev_wait(c, leader, since[leader], "chimera.rollback.complete", rb, LIMIT_MS, NULL);
    bool all = failing > 0 && decided && complete;
    for (int i = 0; i < NODES && all; i++) {
        int64_t t = ev_time(c, i, since[i], "recovery.crash_loop", NULL, false, NULL);
        if (t && (!loop || t < loop))
            loop = t;
        int64_t h = ev_wait(c, i, since[i], "deploy.healthy", b->good, LIMIT_MS, NULL);
        int64_t a = ev_time(c, i, since[i], "deploy.applied", b->good, false, NULL);
        all = h >= decided && a >= decided;
        healthy = h > healthy ? h : healthy;
        applied = a > applied ? a : applied;
    }
    free(bad);
    free(rb);
    if (!all || !loop) {
        fprintf(stderr, "bench_drills: release %s: events missing (logs: %s)\n", version, c->dir);
        return false;
    }
    add(b, F_REL, (double)healthy - failing);
    add(b, F_REL_DETECT, (double)loop - failing);
    add(b, F_REL_DECIDE, (double)(decided - loop));
    add(b, F_REL_APPLIED, (double)(applied - decided));
    add(b, F_REL_APPLY, (double)(healthy - decided));
    add(b, F_REL_RECORDED, (double)(complete - decided));
    printf("release %2d: %s stable %5.0f ms after the POST; failing -> crash loop %5.0f ms -> "
           "revert committed %4" PRId64 " ms -> healthy on all %4" PRId64 " ms: %6.0f ms\n",
           run, version, to_stable, (double)loop - failing, decided - loop, healthy - decided,
           (double)healthy - failing);
    return true;
}

/* ---- main ------------------------------------------------------------------- */

static void print_figure(struct bench *b, enum fig f, FILE *kv)
{
    struct h_latency l;
    h_samples_summarise(&b->s[f], &l);
    if (l.n == 0)
        printf("  %-41s (no samples)\n", figs[f].name);
    else
        printf("  %-41s n=%-3" PRIu64 " p50 %7.1f  p99 %7.1f  max %7.1f ms  %s\n", figs[f].name,
               l.n, l.p50_ms, l.p99_ms, l.max_ms, figs[f].how);
    fprintf(kv, " %s_n=%" PRIu64 " %s_p50_ms=%.1f %s_p99_ms=%.1f %s_max_ms=%.1f", figs[f].key, l.n,
            figs[f].key, l.p50_ms, figs[f].key, l.p99_ms, figs[f].key, l.max_ms);
}

static void print_usage(FILE *f, const char *prog)
{
    fprintf(f,
            "usage: %s [--runs N (1..1000, default 10)] [--kinds leader,isolate,service,release] "
            "[--seed S]\n",
            prog);
}

/* Says what was wrong (opt, and its value unless NULL) and how to call
 * the program; the exit code of a usage error. */
static int usage(const char *prog, const char *opt, const char *value)
{
    if (value)
        fprintf(stderr, "%s: bad value for %s: \"%s\"\n", prog, opt, value);
    else
        fprintf(stderr, "%s: %s: unknown option, or its value is missing\n", prog, opt);
    print_usage(stderr, prog);
    return 2;
}

/* "leader,release" into on[]; false for an unknown name or none at all. */
static bool parse_kinds(const char *s, bool *on)
{
    memset(on, 0, K_COUNT * sizeof *on);
    if (!*s)
        return false;
    while (*s) {
        size_t n = strcspn(s, ",");
        int k = 0;
        while (k < K_COUNT && (strlen(kind_names[k]) != n || strncmp(s, kind_names[k], n) != 0))
            k++;
        if (k == K_COUNT)
            return false;
        on[k] = true;
        s += n + (s[n] == ',');
    }
    return true;
}

int main(int argc, char **argv)
{
    long runs = 10, seed = -1;
    bool on[K_COUNT] = {true, true, true, true};
    for (int a = 1; a < argc; a += 2) {
        const char *opt = argv[a], *val = a + 1 < argc ? argv[a + 1] : NULL;
        char *end = NULL;
        bool ok;
        if (strcmp(opt, "--help") == 0 || strcmp(opt, "-h") == 0) {
            print_usage(stdout, argv[0]);
            return 0;
        }
        if (val && strcmp(opt, "--runs") == 0) {
            runs = strtol(val, &end, 10);
            ok = *val && !*end && runs >= 1 && runs <= 1000;
        } else if (val && strcmp(opt, "--seed") == 0) {
            seed = strtol(val, &end, 10);
            ok = *val && !*end && seed >= 0;
        } else if (val && strcmp(opt, "--kinds") == 0) {
            ok = parse_kinds(val, on);
        } else {
            return usage(argv[0], opt, NULL);
        }
        if (!ok)
            return usage(argv[0], opt, val);
    }
    if (seed < 0)
        seed = (long)(time(NULL) ^ getpid()) & 0x7fffffffL;
    srandom((unsigned)seed);
    signal(SIGPIPE, SIG_IGN);
    h_path_add_bin_dir();
    h_on_interrupt();
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("bench_drills: %d nodes on 127.0.0.1 (heartbeat 50 ms, election timeout 150 ms), "
           "%ld runs per fault kind, seed %ld, nproc %ld\n",
           NODES, runs, seed, sysconf(_SC_NPROCESSORS_ONLN));
    struct bench b = {0};
    int rc;
    b.c = h_bench_cluster(NODES, "bench_drills", &rc);
    if (!b.c)
        return rc;
    rc = 0;
    static bool (*const drill[K_COUNT])(struct bench *, int) = {drill_leader, drill_isolate,
                                                                drill_service, drill_release};
    double started = mono_ms();
    for (int k = 0; k < K_COUNT && rc == 0; k++) {
        if (!on[k])
            continue;
        if ((k == K_SERVICE || (k == K_RELEASE && !on[K_SERVICE])) && !deploy_good(&b)) {
            rc = 1;
            break;
        }
        for (int r = 1; r <= runs && rc == 0; r++)
            if (!drill[k](&b, r))
                rc = 1;
    }
    if (h_interrupted())
        printf("\n(interrupted: the figures cover the runs that finished)\n");
    printf("\nresults after %.0f s (ms; nearest-rank percentiles, so p99 is the max below 100 "
           "samples; event times have ms resolution; polled figures are taken every %.1f ms on "
           "average; %d injections refused by a safety rule and retried):\n",
           (mono_ms() - started) / 1000.0, b.sweeps > 0 ? b.sweep_ms / b.sweeps + POLL_US / 1e3 : 0,
           b.refusals);
    char *kv = NULL;
    size_t kvlen = 0;
    FILE *f = open_memstream(&kv, &kvlen);
    for (int i = 0; i < F_COUNT && f; i++)
        if (on[figs[i].kind])
            print_figure(&b, (enum fig)i, f);
    if (f)
        fclose(f);
    if (on[K_RELEASE])
        printf("the bad release's \"failing -> crash loop\" is its own doing: liveness after 4 "
               "failed checks (200 ms), a restart, healthy for %s again, liveness again; the "
               "revert starts at the crash loop\n",
               FAIL_HEALTH_AFTER);
    printf("RESULT bench=drills nodes=%d runs=%ld seed=%ld%s\n", NODES, runs, seed, kv ? kv : "");
    free(kv);
    free(b.good);
    return h_bench_finish(b.c, rc);
}
