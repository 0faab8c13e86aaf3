/* Benchmark: coordinated rollback on a 5-node federation on 127.0.0.1.
 * Release 1 of chimera-demo (all nodes at once, healthy after one probe)
 * is made stable; then, --runs times (default 20), a release that crashes
 * 200 ms after it starts is deployed to every node, fails, and is reverted
 * automatically to release 1. From the nodes' own events (wall clock, one
 * machine):
 *   (a) the rollback decision (the leader's chimera.rollback.triggered) to
 *       the last node having applied it (its deploy.applied for release 1);
 *   (c) the first crash of the failing release (its first
 *       deploy.service_exited, on any node) to the last node having applied
 *       release 1: the whole way, the leader's decisions included;
 *   (b) the failing verdict (the leader's chimera.deploy.failed) to release
 *       1 healthy on every node (the last deploy.healthy for it).
 * Event times have millisecond resolution. Prints figures and never judges
 * them; it fails only when the federation cannot be set up or a run does
 * not revert.
 *
 *   bench_rollback [--runs N] */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "harness_release.h"

#define NODES 5
#define RUN_LIMIT_MS 30000
#define TARGET_A_P50_MS 10.0
#define TARGET_B_P50_MS 1200.0

static const char *manifest(const char *version, const char *extra_args)
{
    static char buf[2048];
    snprintf(buf, sizeof(buf),
             "{\"name\":\"bench\",\"version\":\"%s\",\"services\":[{\"name\":\"web\","
             "\"command\":\"chimera-demo\",\"args\":[\"--port\",\"${PORT}\",\"--version\","
             "\"${VERSION}\"%s],\"port\":\"auto\",\"health\":{\"url\":"
             "\"http://127.0.0.1:${PORT}/health\",\"interval\":\"50ms\",\"timeout\":\"50ms\","
             "\"healthy_threshold\":1,\"unhealthy_threshold\":2},\"stop_grace\":\"1s\"}],"
             "\"rollout\":{\"max_parallel\":%d,\"min_healthy_time\":\"300ms\","
             "\"healthy_deadline\":\"5s\",\"progress_deadline\":\"20s\",\"auto_revert\":true}}",
             version, extra_args, NODES);
    return buf;
}

/* POST /deployments on node i; the new id, or NULL after printing why. */
static char *deploy(struct h_cluster *c, int i, const char *body)
{
    char why[1024];
    char *id = h_release_deploy(c, i, body, 5000, why, sizeof(why));
    if (!id)
        fprintf(stderr, "bench_rollback: %s\n", why);
    return id;
}

/* Waits until node i reports deployment id (NULL: none) in stage. */
static bool reaches(struct h_cluster *c, int i, const char *id, const char *stage)
{
    json_t *d = id ? h_release_stage_at(c, i, id, stage, RUN_LIMIT_MS) : NULL;
    json_decref(d);
    return d != NULL;
}

/* The newest rollback listed on node i, or NULL. */
static char *newest_rollback(struct h_cluster *c, int i)
{
    long st = 0;
    json_t *j = h_http_get_json(c, i, "/deployments", &st);
    size_t k;
    json_t *d;
    char *id = NULL;
    json_array_foreach(json_object_get(j, "deployments"), k, d)
    {
        if (json_is_true(json_object_get(d, "rollback"))) {
            id = strdup(json_string_value(json_object_get(d, "id")));
            break;
        }
    }
    json_decref(j);
    return id;
}

/* The time of the first event of kind on node i, at or after `after`, whose
 * message contains `about`; 0 when there is none. last: the latest instead. */
static int64_t event_time(struct h_cluster *c, int i, const char *kind, const char *about,
                          int64_t after, bool last)
{
    json_t *ev = h_events(c, i);
    size_t k;
    json_t *e;
    int64_t found = 0;
    json_array_foreach(ev, k, e)
    {
        int64_t t = json_integer_value(json_object_get(e, "time_ms"));
        const char *kd = json_string_value(json_object_get(e, "kind"));
        const char *msg = json_string_value(json_object_get(e, "message"));
        if (t < after || !kd || strcmp(kd, kind) != 0 || !msg || !strstr(msg, about))
            continue;
        if (!found || last)
            found = t;
        if (!last)
            break;
    }
    json_decref(ev);
    return found;
}

int main(int argc, char **argv)
{
    int runs = 20;
    for (int a = 1; a < argc; a++) {
        if (strcmp(argv[a], "--runs") == 0 && a + 1 < argc && atoi(argv[a + 1]) > 0)
            runs = atoi(argv[++a]);
        else {
            fprintf(stderr, "usage: %s [--runs N]\n", argv[0]);
            return 2;
        }
    }
    h_path_add_bin_dir();
    h_on_interrupt();
    setvbuf(stdout, NULL, _IOLBF, 0);
    int rc;
    struct h_cluster *c = h_bench_cluster(NODES, "bench_rollback", &rc);
    if (!c)
        return rc;
    int leader;
    if (!h_wait_agreed(c, 0, h_timeout_ms(), &leader, NULL)) {
        fprintf(stderr, "bench_rollback: no leader: %s\n", h_views_line(c));
        h_cluster_destroy(c);
        return 1;
    }
    double load0 = h_load_average();
    printf("bench_rollback: coordinated rollback on %d nodes (leader %s), %d runs; load average "
           "%.2f\n",
           NODES, c->nodes[leader].id, runs, load0);
    printf("  release 1: chimera-demo, healthy after one probe (every 50 ms); each run deploys a\n"
           "  release that crashes 200 ms after it starts to all %d nodes at once\n",
           NODES);
    char *good = deploy(c, leader, manifest("1.0.0", ""));
    if (!reaches(c, leader, good, "stable")) {
        fprintf(stderr, "bench_rollback: release 1 never became stable (logs in %s)\n", c->dir);
        h_cluster_destroy(c);
        return 1;
    }
    struct h_samples a_s = {0}, b_s = {0}, c_s = {0};
    int done = 0;
    for (int r = 0; r < runs && !h_interrupted(); r++) {
        char version[32];
        snprintf(version, sizeof(version), "2.0.%d", r);
        char *bad = deploy(c, leader, manifest(version, ",\"--crash-after\",\"200ms\""));
        if (!reaches(c, leader, bad, "failed")) {
            fprintf(stderr, "bench_rollback: run %d never failed\n", r + 1);
            free(bad);
            break;
        }
        char *rb = NULL;
        for (int tries = 0; tries < 200 && !rb; tries++) {
            rb = newest_rollback(c, leader);
            if (rb && !strstr(rb, bad)) { /* not this run's yet */
                free(rb);
                rb = NULL;
                usleep(10000);
            }
        }
        if (!reaches(c, leader, rb, "reverted")) {
            fprintf(stderr, "bench_rollback: run %d never reverted\n", r + 1);
            free(bad);
            free(rb);
            break;
        }
        /* The decision is the first node to learn that the rollback record
         * committed (its chimera.rollback.triggered): usually the leader,
         * but the leader may have changed since the run began (a loaded
         * machine has elections). */
        int64_t failed = 0, decided = 0, learned[NODES], applied = 0, healthy = 0, crashed = 0;
        for (int i = 0; i < c->n; i++) {
            int64_t f = event_time(c, i, "chimera.deploy.failed", bad, 0, false);
            int64_t x = event_time(c, i, "deploy.service_exited", bad, 0, false);
            crashed = x && (!crashed || x < crashed) ? x : crashed;
            learned[i] = event_time(c, i, "chimera.rollback.triggered", rb, 0, false);
            failed = f && (!failed || f < failed) ? f : failed;
            decided = learned[i] && (!decided || learned[i] < decided) ? learned[i] : decided;
        }
        bool all = failed && decided && crashed;
        int64_t spread = 0, local = 0; /* commit learned, and the switch on one node */
        for (int i = 0; i < c->n && all; i++) {
            int64_t ap = event_time(c, i, "deploy.applied", good, decided, false);
            int64_t he = event_time(c, i, "deploy.healthy", good, decided, false);
            all = ap && he && learned[i];
            applied = ap > applied ? ap : applied;
            healthy = he > healthy ? he : healthy;
            spread = learned[i] - decided > spread ? learned[i] - decided : spread;
            local = ap - learned[i] > local ? ap - learned[i] : local;
        }
        if (!all) {
            fprintf(stderr, "bench_rollback: run %d: events missing (logs in %s)\n", r + 1, c->dir);
        } else {
            h_samples_add(&a_s, (uint64_t)(applied - decided) * 1000000u);
            h_samples_add(&b_s, (uint64_t)(healthy - failed) * 1000000u);
            h_samples_add(&c_s, (uint64_t)(applied - crashed) * 1000000u);
            printf("  run %2d: (a) %4" PRId64 " ms  (b) %5" PRId64 " ms  (c) %4" PRId64
                   " ms   (a) = the last node to learn the commit %3" PRId64
                   " ms + the slowest switch %3" PRId64 " ms, at most\n",
                   r + 1, applied - decided, healthy - failed, applied - crashed, spread, local);
            done++;
        }
        free(bad);
        free(rb);
    }
    struct h_latency la, lb, lc;
    h_samples_summarise(&a_s, &la);
    h_samples_summarise(&b_s, &lb);
    h_samples_summarise(&c_s, &lc);
    double load1 = h_load_average();
    printf("\nresults over %d runs (event times, ms resolution; load average %.2f at the start, "
           "%.2f at the end):\n",
           done, load0, load1);
    printf(
        "  (a) rollback decision -> every node applied it    p50 %7.1f  p99 %7.1f  max %7.1f ms\n",
        la.p50_ms, la.p99_ms, la.max_ms);
    printf(
        "  (b) failing verdict -> last good healthy on all   p50 %7.1f  p99 %7.1f  max %7.1f ms\n",
        lb.p50_ms, lb.p99_ms, lb.max_ms);
    printf(
        "  (c) first crash -> every node applied the revert  p50 %7.1f  p99 %7.1f  max %7.1f ms\n",
        lc.p50_ms, lc.p99_ms, lc.max_ms);
    printf("targets (information only): (a) p50 < %.0f ms: %s; (b) p50 < %.0f ms: %s\n",
           TARGET_A_P50_MS, la.p50_ms < TARGET_A_P50_MS ? "met" : "NOT met", TARGET_B_P50_MS,
           lb.p50_ms < TARGET_B_P50_MS ? "met" : "NOT met");
    printf("RESULT bench=rollback nodes=%d load=%.2f runs=%d a_p50_ms=%.1f a_p99_ms=%.1f "
           "a_max_ms=%.1f "
           "b_p50_ms=%.1f b_p99_ms=%.1f b_max_ms=%.1f c_p50_ms=%.1f c_p99_ms=%.1f\n",
           NODES, load1, done, la.p50_ms, la.p99_ms, la.max_ms, lb.p50_ms, lb.p99_ms, lb.max_ms,
           lc.p50_ms, lc.p99_ms);
    free(good);
    h_cluster_pass(c);
    h_cluster_destroy(c);
    return done == runs ? 0 : 1;
}
