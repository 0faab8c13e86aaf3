/* Integration: chimeractl drill validate, list and run against a real
 * federation. Faults need the node's chaos endpoints (issue 12); until a
 * node has them, a drill that injects one is refused before it starts. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "harness.h"
#include "harness_fixture.h"
#include "ctl_support.h"
#include "harness_release.h"

#define NODES 3

static struct h_cluster *cluster;
static int leader;

/* kill_node is a fault only where listed: the --restart-cmd test kills a
 * follower. */
static const char *const node_args[] = {
    "--chaos-faults", "kill_service,pause_service,isolate_node,delay_messages,kill_node", NULL};

static int group_setup(void **state)
{
    (void)state;
    h_path_add_bin_dir(); /* chimera-demo, for the bad-release drill */
    cluster = h_cluster_create(NODES);
    if (!cluster)
        return -1;
    cluster->node_args = node_args;
    /* These drills are about the runner, not about election timing: on a
     * loaded machine (sanitizers, parallel tests) the 150 ms default deposes
     * leaders by itself, and a drill then finds no steady state (exit 11). */
    cluster->heartbeat_ms = 100;
    cluster->election_timeout_ms = 1000;
    return 0;
}

static int setup(void **state)
{
    (void)state;
    if (!cluster->nodes[0].pid)
        leader = h_start_leader(cluster, "test_ctl_drill", 0, NULL);
    return 0;
}

static void path_in(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", cluster->dir, name);
}

static json_t *load_journal(const char *path)
{
    json_error_t e;
    json_t *j = json_load_file(path, 0, &e);
    if (!j)
        fail_msg("journal %s: %s", path, e.text);
    return j;
}

static void test_every_builtin_drill_validates(void **state)
{
    (void)state;
    static const char *const names[] = {"leader-loss", "minority-partition", "service-crash",
                                        "bad-release", "node-restart"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        struct run r = CTL(cluster, -1, "drill", "validate", names[i]);
        EXPECT(r.code == 0 && strstr(r.out, "valid drill"), r);
        run_free(&r);
    }
}

static void test_list_names_the_builtin_drills(void **state)
{
    (void)state;
    struct run r = CTL(cluster, -1, "drill", "list", "--json");
    EXPECT(r.code == 0, r);
    json_t *list = json_loads(r.out, 0, NULL);
    EXPECT(json_array_size(list) >= 5, r);
    EXPECT(strstr(r.out, "\"minority-partition\"") && strstr(r.out, "\"bad-release\""), r);
    json_decref(list);
    run_free(&r);
}

/* A directory given as the drill: the error says why it cannot be read. */
static void test_a_directory_given_as_the_drill_says_why_it_cannot_be_read(void **state)
{
    (void)state;
    char dir[H_PATH_MAX + 2];
    snprintf(dir, sizeof dir, "%s/", cluster->dir);
    struct run r = CTL(cluster, -1, "drill", "validate", dir);
    EXPECT(r.code == 1 && strstr(r.err, "cannot read") && strstr(r.err, strerror(EISDIR)), r);
    run_free(&r);
}

static void test_an_invalid_drill_exits_2_naming_its_json_path(void **state)
{
    (void)state;
    char file[H_PATH_MAX];
    path_in(file, sizeof file, "bad-drill.json");
    write_file(file, "{\"title\": \"t\", \"steady-state-hypothesis\": {\"probes\": [{\"name\": "
                     "\"l\", \"provider\": {\"type\": \"leader_exists\"}}]}, \"method\": "
                     "[{\"name\": \"p\", \"provider\": {\"type\": \"pause\", \"duration\": 5}}]}");
    struct run r = CTL(cluster, -1, "drill", "validate", file);
    EXPECT(r.code == 2 && strstr(r.err, "invalid drill at method[0].provider.duration"), r);
    run_free(&r);
    r = CTL(cluster, 0, "drill", "run", file, "--token-file", cluster->token_file);
    EXPECT(r.code == 2 && strstr(r.err, "method[0].provider.duration"), r);
    run_free(&r);
}

static void test_an_unknown_drill_name_suggests_the_nearest(void **state)
{
    (void)state;
    struct run r = CTL(cluster, -1, "drill", "validate", "leader-los");
    EXPECT(r.code == 2 && strstr(r.err, "did you mean 'leader-loss'?"), r);
    run_free(&r);
}

static void test_a_drill_named_without_run_says_how_to_run_it(void **state)
{
    (void)state;
    struct run r = CTL(cluster, -1, "drill", "leader-loss");
    EXPECT(r.code == 2 && strstr(r.err, "to run that drill: chimeractl drill run leader-loss"), r);
    run_free(&r);
}

static const char steady_drill[] =
    "{\"title\": \"Steady\", \"steady-state-hypothesis\": {\"probes\": [\n"
    " {\"name\": \"a leader exists\", \"provider\": {\"type\": \"leader_exists\"}},\n"
    " {\"name\": \"every node is alive\", \"provider\": {\"type\": \"all_alive\"}},\n"
    " {\"name\": \"no node is read-only\", \"provider\": {\"type\": \"none_read_only\"}},\n"
    " {\"name\": \"a note commits\", \"provider\": {\"type\": \"note_commits\"}, "
    "\"tolerance\": \"1h\"}]},\n"
    " \"method\": [{\"name\": \"wait a little\", \"provider\": {\"type\": \"pause\", "
    "\"duration\": \"100ms\"}}]}\n";

/* The steady drill through node i, its journal (H_PATH_MAX) named name;
 * verbose: with --verbose. */
static struct run run_steady(int i, const char *name, char *journal, bool verbose)
{
    char file[H_PATH_MAX];
    path_in(file, sizeof file, "steady.json");
    path_in(journal, H_PATH_MAX, name);
    write_file(file, steady_drill);
    if (verbose)
        return CTL(cluster, i, "drill", "run", file, "--journal", journal, "--token-file",
                   cluster->token_file, "--verbose");
    return CTL(cluster, i, "drill", "run", file, "--journal", journal, "--token-file",
               cluster->token_file);
}

static void test_a_drill_without_faults_holds_and_is_recorded(void **state)
{
    (void)state;
    char journal[H_PATH_MAX];
    struct run r = run_steady(0, "steady-journal.json", journal, false);
    EXPECT(r.code == 0 && strstr(r.out, "Verdict: held") &&
               strstr(r.out, "Recorded in the ledger at index"),
           r);
    json_t *j = load_journal(journal);
    assert_string_equal(json_string_value(json_object_get(j, "verdict")), "held");
    json_t *before = json_object_get(json_object_get(j, "steady_states"), "before");
    assert_true(json_is_true(json_object_get(before, "held")));
    assert_int_equal(json_array_size(json_object_get(before, "probes")), 4);
    json_decref(j);
    /* drill history finds it, with the digest the report printed. */
    const char *hex = strstr(r.out, "(BLAKE2b ");
    EXPECT(hex, r);
    char digest[65];
    snprintf(digest, sizeof digest, "%s", hex + strlen("(BLAKE2b "));
    struct run h = CTL(cluster, 1, "drill", "history", "--json");
    EXPECT(h.code == 0, h);
    json_t *list = json_loads(h.out, 0, NULL),
           *last = json_array_get(list, json_array_size(list) - 1);
    EXPECT(last && strcmp(json_string_value(json_object_get(last, "title")), "Steady") == 0 &&
               strcmp(json_string_value(json_object_get(last, "verdict")), "held") == 0 &&
               strcmp(json_string_value(json_object_get(last, "digest")), digest) == 0,
           h);
    json_decref(list);
    run_free(&h);
    run_free(&r);
}

/* Without USER (cron, systemd services, docker exec) the record names
 * who ran the drill from the user database, not the host alone. */
static void test_a_drill_run_without_USER_is_recorded_by_the_users_name(void **state)
{
    (void)state;
    const struct passwd *pw = getpwuid(geteuid());
    char host[256] = "", want[300], journal[H_PATH_MAX];
    assert_non_null(pw);
    assert_int_equal(gethostname(host, sizeof host - 1), 0);
    snprintf(want, sizeof want, "%s@%s", pw->pw_name, host);
    char *user = getenv("USER") ? strdup(getenv("USER")) : NULL;
    unsetenv("USER");
    struct run r = run_steady(0, "no-user-journal.json", journal, false);
    if (user)
        setenv("USER", user, 1);
    free(user);
    EXPECT(r.code == 0, r);
    run_free(&r);
    struct run h = CTL(cluster, 0, "drill", "history", "--json");
    json_t *list = json_loads(h.out, 0, NULL),
           *last = json_array_get(list, json_array_size(list) - 1);
    const char *by = json_string_value(json_object_get(last, "by"));
    EXPECT(h.code == 0 && by && strncmp(by, want, strlen(by)) == 0 && strlen(by) > strlen(host), h);
    json_decref(list);
    run_free(&h);
}

/* Its note probe is refused for the token: exit 6, as for every command
 * whose token is refused (not 11, could not run), with the journal. */
static void test_a_drill_run_with_a_wrong_token_exits_6(void **state)
{
    (void)state;
    char file[H_PATH_MAX], journal[H_PATH_MAX], wrong[H_PATH_MAX];
    path_in(file, sizeof file, "steady.json");
    path_in(journal, sizeof journal, "wrong-token-journal.json");
    path_in(wrong, sizeof wrong, "wrong.token");
    write_file(file, steady_drill);
    write_file(wrong, "not-the-admin-token\n");
    struct run r =
        CTL(cluster, 0, "drill", "run", file, "--journal", journal, "--token-file", wrong);
    EXPECT(r.code == 6 && strstr(r.err, "refused the admin token"), r);
    json_t *j = load_journal(journal);
    assert_string_equal(json_string_value(json_object_get(j, "verdict")), "could_not_run");
    json_decref(j);
    run_free(&r);
}

static void test_a_drill_refuses_to_start_when_the_steady_state_does_not_hold(void **state)
{
    (void)state;
    char file[H_PATH_MAX], journal[H_PATH_MAX], doc[1024];
    path_in(file, sizeof file, "unsteady.json");
    path_in(journal, sizeof journal, "unsteady-journal.json");
    /* Nothing listens on a free port: the probe cannot hold. */
    snprintf(doc, sizeof doc,
             "{\"title\": \"Unsteady\", \"steady-state-hypothesis\": {\"probes\": [{\"name\": "
             "\"web answers\", \"provider\": {\"type\": \"http\", \"url\": "
             "\"http://127.0.0.1:%d/\"}}]}, \"method\": [{\"name\": \"wait\", \"provider\": "
             "{\"type\": \"pause\", \"duration\": \"1s\"}}]}",
             h_free_port());
    write_file(file, doc);
    struct run r = CTL(cluster, 0, "drill", "run", file, "--journal", journal, "--token-file",
                       cluster->token_file);
    EXPECT(r.code == 11 && strstr(r.out, "the steady state did not hold before the method"), r);
    json_t *j = load_journal(journal);
    assert_string_equal(json_string_value(json_object_get(j, "verdict")), "could_not_run");
    json_t *step = json_array_get(json_object_get(j, "run"), 0);
    assert_string_equal(json_string_value(json_object_get(step, "status")), "skipped");
    json_decref(j);
    run_free(&r);
}

/* The node has the chaos endpoints (GET /chaos answers), so a drill with a
 * fault goes on to its steady state, which without a release does not
 * hold: refused before any fault is injected. */
static void test_a_drill_with_faults_is_refused_when_its_steady_state_does_not_hold(void **state)
{
    (void)state;
    struct run r =
        CTL(cluster, 0, "drill", "run", "service-crash", "--token-file", cluster->token_file);
    EXPECT(r.code == 11 && strstr(r.out, "the steady state did not hold before the method") &&
               strstr(r.out, "skipped kill web"),
           r);
    run_free(&r);
}

static void test_a_drill_against_no_node_exits_5(void **state)
{
    (void)state;
    char addr[32];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", h_free_port());
    struct run r = CTL(cluster, -1, "--addr", addr, "drill", "run", "service-crash", "--token-file",
                       cluster->token_file);
    EXPECT(r.code == 5 && strstr(r.err, "cannot reach"), r);
    run_free(&r);
}

static struct run run_long(const char *file, const char *journal);

/* A release whose health fails is reverted automatically: the built-in
 * drill holds against a federation running a stable demo release. */
static void test_the_bad_release_drill_holds(void **state)
{
    (void)state;
    char journal[H_PATH_MAX];
    path_in(journal, sizeof journal, "bad-release-journal.json");
    char *id = h_deploy_stable(cluster, leader, "demo-good.json", h_timeout_ms());
    if (!id)
        fail_msg("demo-good.json did not become stable");
    free(id);
    /* A rollout, its failure and the revert take longer than one wait. */
    struct run r = run_long("bad-release", journal);
    EXPECT(r.code == 0 && strstr(r.out, "Verdict: held"), r);
    json_t *j = load_journal(journal);
    json_t *step = json_array_get(json_object_get(j, "run"), 0);
    assert_true(json_is_true(json_object_get(step, "slo_met")));
    assert_true(json_is_integer(json_object_get(step, "recover_ms")));
    json_decref(j);
    run_free(&r);
}

/* chimeractl drill run FILE with a timeout long enough for a rollout. */
static struct run run_long(const char *file, const char *journal)
{
    char ctl[H_PATH_MAX + 16], addr[64];
    snprintf(ctl, sizeof ctl, "%s/chimeractl", h_bin_dir());
    snprintf(addr, sizeof addr, "%s:%d", cluster->nodes[leader].http_host,
             cluster->nodes[leader].http_port);
    const char *const argv[] = {ctl,  "--addr",    addr,    "drill",        "run",
                                file, "--journal", journal, "--token-file", cluster->token_file,
                                NULL};
    struct run r = {0};
    if (!h_run(cluster, argv, 6 * h_timeout_ms(), &r.code, &r.out, &r.err))
        fail_msg("chimeractl drill run %s did not finish", file);
    return r;
}

/* No rollout fails and reverts within a millisecond: the same drill with
 * that SLO deviates (exit 10), and says by how much. Runs after the
 * bad-release drill, against the stable release it left. */
static void test_an_impossible_slo_deviates(void **state)
{
    (void)state;
    char src[H_PATH_MAX + 32], file[H_PATH_MAX], journal[H_PATH_MAX];
    h_release_example_path("../drills/bad-release.json", src, sizeof src);
    path_in(file, sizeof file, "impossible.json");
    path_in(journal, sizeof journal, "impossible-journal.json");
    char *doc = h_read_file(src);
    if (!doc)
        fail_msg("cannot read %s", src);
    char *slo = strstr(doc, "\"recover_within\": \"30s\""),
         *version = strstr(doc, "drill-bad-release");
    assert_non_null(slo);
    assert_non_null(version);
    memcpy(slo + strlen("\"recover_within\": "), "\"1ms\"", 5);
    memcpy(version, "drill-bad-releas2", 17); /* a version of its own */
    write_file(file, doc);
    free(doc);
    struct run r = run_long(file, journal);
    EXPECT(r.code == 10 && strstr(r.out, "Verdict: deviated") &&
               strstr(r.out, "over its SLO of 1ms"),
           r);
    run_free(&r);
}

/* A drill's heal trips the kill switch; it must lift it again, or the
 * next drill's fault is refused 409 (exit 11). Runs after the bad-release
 * drill, against the stable release it left. */
static void test_a_fault_drill_can_be_run_twice_in_a_row(void **state)
{
    (void)state;
    char journal[H_PATH_MAX];
    path_in(journal, sizeof journal, "service-crash-journal.json");
    for (int k = 0; k < 2; k++) {
        struct run r = run_long("service-crash", journal);
        EXPECT(r.code == 0 && strstr(r.out, "Verdict: held"), r);
        run_free(&r);
    }
}

/* Mutations go to the leader through whichever node --addr names: the
 * drill says nothing of the redirect amid its progress, unless asked
 * (--verbose). */
static void test_a_drill_through_a_follower_says_nothing_of_the_redirect(void **state)
{
    (void)state;
    char journal[H_PATH_MAX];
    int follower = (leader + 1) % NODES;
    struct run r = run_steady(follower, "follower-journal.json", journal, false);
    EXPECT(r.code == 0 && !strstr(r.err, "is not the leader"), r);
    run_free(&r);
    r = run_steady(follower, "follower-journal.json", journal, true);
    EXPECT(r.code == 0 && strstr(r.err, "is not the leader"), r);
    run_free(&r);
}

/* Whether text writes a duration as "N ms" rather than as the drill file
 * does ("101ms", "2s685ms"). */
static bool spaced_ms(const char *text)
{
    for (const char *p = strstr(text, " ms"); p; p = strstr(p + 1, " ms"))
        if (p > text && p[-1] >= '0' && p[-1] <= '9')
            return true;
    return false;
}

/* The watchtower restarts a killed service between two sweeps of the
 * probes, often before any sees it: the time to recover is the node's
 * own (its recovery.restarted after the kill), never "masked". The
 * progress and the report give it in the same words, saying whose it is
 * and what the probes saw, every duration written one way: the progress
 * said "detected after 101 ms" (the probes') where the report said
 * "detected in 1ms" (the node's). One run for both: each kill of web adds
 * to the watchtower's restart backoff. Runs after the bad-release drill,
 * against the stable release it left. */
static void test_a_killed_service_is_measured_by_its_nodes_restart(void **state)
{
    (void)state;
    char journal[H_PATH_MAX];
    path_in(journal, sizeof journal, "service-crash-node-journal.json");
    struct run r = run_long("service-crash", journal);
    EXPECT(r.code == 0 && strstr(r.out, "Verdict: held") && !strstr(r.out, "masked") &&
               strstr(r.out, "recovery.restarted"),
           r);
    json_t *j = load_journal(journal);
    json_t *step = json_array_get(json_object_get(j, "run"), 0);
    json_t *node = json_object_get(step, "node");
    assert_string_equal(json_string_value(json_object_get(step, "figures_from")), "node");
    assert_true(json_is_integer(json_object_get(node, "recover_ms")));
    assert_int_equal(json_integer_value(json_object_get(step, "recover_ms")),
                     json_integer_value(json_object_get(node, "recover_ms")));
    assert_true(json_integer_value(json_object_get(step, "recover_ms")) > 0);
    assert_non_null(strstr(json_string_value(json_object_get(node, "what")), "healthy again"));
    json_decref(j);
    const char *line = strstr(r.out, "  recovered: ");
    EXPECT(line && !spaced_ms(r.out), r);
    char figures[512];
    snprintf(figures, sizeof figures, "%.*s", (int)strcspn(line + 13, "\n"), line + 13);
    const char *by = strstr(figures, "; by the node: ");
    EXPECT(by && strstr(by, "; the probes (every 100ms) saw: "), r);
    /* The report: the same figures, then the SLO, then the same sources. */
    char head[128];
    snprintf(head, sizeof head, "-- %.*s, SLO 5s (met)", (int)(by - figures), figures);
    EXPECT(strstr(r.out, head) && strstr(strstr(r.out, head), by), r);
    run_free(&r);
}

/* The deployment d, as the leader lists it. */
static json_t *deployment(const char *id)
{
    char path[160];
    long st = 0;
    snprintf(path, sizeof path, "/deployments/%s", id);
    json_t *d = h_http_get_json(cluster, leader, path, &st);
    if (st != 200 || !d)
        fail_msg("GET %s answered %ld", path, st);
    return d;
}

/* The rollback the leader started after the deployment that began at
 * started. */
static json_t *rollback_after(json_int_t started)
{
    long st = 0;
    json_t *list = h_http_get_json(cluster, leader, "/deployments", &st), *d, *found = NULL;
    size_t i;
    json_array_foreach(json_object_get(list, "deployments"), i, d)
    {
        if (json_is_true(json_object_get(d, "rollback")) &&
            json_integer_value(json_object_get(d, "started_ms")) >= started)
            found = json_incref(d);
    }
    json_decref(list);
    if (!found)
        fail_msg("no rollback listed after %" JSON_INTEGER_FORMAT, started);
    return found;
}

static json_int_t ms_of(json_t *o, const char *key)
{
    return json_integer_value(json_object_get(o, key));
}

/* A release expected to be reverted: its step ends once the revert has
 * ended and the probes hold, not when its SLO has passed (10 minutes
 * here, with a probe the release does not touch, so the probes see no
 * failure). Its figures are the deployments': from the failure to the
 * revert's end. Runs after the bad-release drill, against the stable
 * release it left. */
static void test_a_reverted_release_ends_its_step_once_the_revert_is_over(void **state)
{
    (void)state;
    char src[H_PATH_MAX + 32], file[H_PATH_MAX], journal[H_PATH_MAX];
    h_release_example_path("../drills/bad-release.json", src, sizeof src);
    path_in(file, sizeof file, "long-slo.json");
    path_in(journal, sizeof journal, "long-slo-journal.json");
    json_t *doc = json_load_file(src, 0, NULL);
    assert_non_null(doc);
    json_t *act = json_array_get(json_object_get(doc, "method"), 0);
    json_object_set_new(
        act, "slo", json_pack("{s:s,s:[s]}", "recover_within", "10m", "probes", "a leader exists"));
    json_object_set_new(json_object_get(json_object_get(act, "provider"), "manifest"), "version",
                        json_string("drill-bad-releas3"));
    assert_int_equal(json_dump_file(doc, file, 0), 0);
    json_decref(doc);
    struct run r = run_long(file, journal);
    EXPECT(r.code == 0 && strstr(r.out, "Verdict: held"), r);
    json_t *j = load_journal(journal);
    json_t *step = json_array_get(json_object_get(j, "run"), 0);
    char id[64] = "";
    if (sscanf(json_string_value(json_object_get(step, "detail")), "deployment %63[^ ]", id) != 1)
        fail_msg("no deployment id in the step's detail");
    json_t *bad = deployment(id), *rb = rollback_after(ms_of(bad, "started_ms"));
    assert_string_equal(json_string_value(json_object_get(rb, "stage")), "reverted");
    /* Ended after the revert, before the SLO had run out. */
    assert_true(ms_of(step, "ended") >= ms_of(rb, "finished_ms"));
    assert_true(ms_of(step, "ended") < ms_of(bad, "started_ms") + 10 * 60 * 1000);
    assert_string_equal(json_string_value(json_object_get(step, "figures_from")), "node");
    assert_int_equal(ms_of(step, "recover_ms"),
                     ms_of(rb, "finished_ms") - ms_of(bad, "finished_ms"));
    json_decref(bad);
    json_decref(rb);
    json_decref(j);
    run_free(&r);
}

/* The leader keeps the last health a member reported; of a member it no
 * longer hears that is stale. release_healthy does not take it for health:
 * with a member down, the steady state does not hold (exit 11) and says
 * which member. Runs last, against the stable release the bad-release
 * drill left; the member is started again after. */
static void test_a_dead_members_last_health_does_not_count_as_healthy(void **state)
{
    (void)state;
    static const char drill[] =
        "{\"title\": \"Healthy\", \"steady-state-hypothesis\": {\"probes\": [{\"name\": "
        "\"the release is healthy everywhere\", \"provider\": {\"type\": "
        "\"release_healthy\"}}]}, \"method\": [{\"name\": \"wait\", \"provider\": "
        "{\"type\": \"pause\", \"duration\": \"1s\"}}]}";
    char file[H_PATH_MAX], journal[H_PATH_MAX], want[64];
    path_in(file, sizeof file, "healthy.json");
    path_in(journal, sizeof journal, "healthy-journal.json");
    write_file(file, drill);
    int down = (leader + 1) % NODES;
    h_node_stop(cluster, down);
    if (!h_wait_member_is(cluster, leader, cluster->nodes[down].id, "dead", h_timeout_ms()))
        fail_msg("the leader does not see %s dead", cluster->nodes[down].id);
    struct run r = CTL(cluster, leader, "drill", "run", file, "--journal", journal, "--token-file",
                       cluster->token_file);
    snprintf(want, sizeof want, "%s unknown (dead)", cluster->nodes[down].id);
    EXPECT(r.code == 11 && strstr(r.out, "the steady state did not hold before the method") &&
               strstr(r.out, want),
           r);
    run_free(&r);
    assert_int_equal(h_node_start(cluster, down), 0);
    assert_true(h_wait_http_up(cluster, down, h_timeout_ms()));
    assert_true(h_wait_all_alive(cluster, h_timeout_ms()));
    assert_true(h_wait_read_only(cluster, &down, 1, false, h_timeout_ms()));
}

/* A --restart-cmd that fails: the rollback says the status the command
 * exited with (3), not system()'s wait status (768), and the run, whose
 * verdict held, exits 12: a stopped node may remain. Runs last; the
 * killed follower is started again after. */
static void test_a_failed_restart_rollback_exits_12_saying_the_commands_status(void **state)
{
    (void)state;
    static const char drill[] =
        "{\"title\": \"Restart\", \"steady-state-hypothesis\": {\"probes\": [{\"name\": "
        "\"a leader exists\", \"provider\": {\"type\": \"leader_exists\"}}]}, \"method\": "
        "[{\"name\": \"kill a follower\", \"provider\": {\"type\": \"fault\", \"kind\": "
        "\"kill_node\", \"target\": \"follower\"}, \"slo\": {\"recover_within\": \"5s\"}}]}";
    char file[H_PATH_MAX], journal[H_PATH_MAX];
    path_in(file, sizeof file, "restart.json");
    path_in(journal, sizeof journal, "restart-journal.json");
    write_file(file, drill);
    struct run r = CTL(cluster, leader, "drill", "run", file, "--journal", journal, "--token-file",
                       cluster->token_file, "--restart-cmd", "exit 3");
    EXPECT(strstr(r.out, "`exit 3` exited with status 3"), r);
    /* The verdict held; the rollback's failure is the exit code's news. */
    EXPECT(r.code == 12 && strstr(r.out, "Verdict: held") &&
               strstr(r.err, "rollback \"restart killed nodes\" failed") &&
               strstr(r.err, "may still carry a fault or a stopped node"),
           r);
    run_free(&r);
    for (int i = 0; i < NODES; i++)
        if (!h_node_running(cluster, i)) {
            assert_int_equal(h_node_start(cluster, i), 0);
            assert_true(h_wait_http_up(cluster, i, h_timeout_ms()));
            assert_true(h_wait_read_only(cluster, &i, 1, false, h_timeout_ms()));
        }
    assert_true(h_wait_all_alive(cluster, h_timeout_ms()));
}

/* A file that says something: for h_wait_until. */
struct watched {
    const char *path, *text;
};

static bool file_says(void *arg)
{
    const struct watched *w = arg;
    char *s = h_read_file(w->path);
    bool yes = s && strstr(s, w->text);
    free(s);
    return yes;
}

/* A drill that isolates a follower for 60 s (the most a fault lasts): the
 * majority commits on, the follower turns read-only until the fault ends. */
static void write_isolation_drill(const char *file, const char *slo)
{
    char doc[1024];
    snprintf(doc, sizeof doc,
             "{\"title\": \"Isolation\", \"steady-state-hypothesis\": {\"probes\": [{\"name\": "
             "\"a leader exists\", \"provider\": {\"type\": \"leader_exists\"}}, {\"name\": "
             "\"no node is read-only\", \"provider\": {\"type\": \"none_read_only\"}}]}, "
             "\"method\": [{\"name\": \"isolate a follower\", \"provider\": {\"type\": "
             "\"fault\", \"kind\": \"isolate_node\", \"target\": \"follower\", \"duration\": "
             "\"60s\"}, \"slo\": {\"recover_within\": \"%s\", \"probes\": [\"no node is "
             "read-only\"]}}]}",
             slo);
    write_file(file, doc);
}

/* The node the run's "injected ... on nX" line names, or -1. */
static int injected_on(const char *out)
{
    const char *on = strstr(out, "injected isolate_node follower on ");
    for (int i = 0; on && i < NODES; i++) {
        const char *id = cluster->nodes[i].id,
                   *at = on + strlen("injected isolate_node follower on ");
        if (strncmp(at, id, strlen(id)) == 0 && at[strlen(id)] == '\n')
            return i;
    }
    return -1;
}

static void wait_none_read_only(void)
{
    int all[NODES];
    for (int i = 0; i < NODES; i++)
        all[i] = i;
    assert_true(h_wait_read_only(cluster, all, NODES, false, h_timeout_ms()));
}

/* The heal rollback stops the fault on its target too: a node cut off from
 * the leader does not hear the stop the leader commits. Here the follower
 * stays read-only past the SLO, the runner gives up (twice the SLO and
 * 5 s) and goes on to its rollbacks while the fault has most of its 60 s
 * to go, and right after the run nothing is applied on it any more. */
static void test_the_heal_rollback_heals_an_isolated_target_too(void **state)
{
    (void)state;
    char file[H_PATH_MAX], journal[H_PATH_MAX];
    path_in(file, sizeof file, "isolation-missed.json");
    path_in(journal, sizeof journal, "isolation-missed-journal.json");
    write_isolation_drill(file, "5s");
    struct run r = run_long(file, journal);
    int target = injected_on(r.out);
    EXPECT(r.code == 10 && target >= 0 && strstr(r.out, "done    heal every fault"), r);
    long st;
    json_t *chaos = h_http_get_json(cluster, target, "/chaos", &st);
    EXPECT(st == 200 && json_array_size(json_object_get(chaos, "applied_here")) == 0, r);
    json_decref(chaos);
    run_free(&r);
    wait_none_read_only();
}

/* Ctrl-C while a fault's SLO still runs: nothing was measured against it,
 * so the run could not finish (11), not deviated (10), and the ledger's
 * record says so. */
static void test_a_drill_interrupted_within_its_slo_could_not_run(void **state)
{
    (void)state;
    char file[H_PATH_MAX], journal[H_PATH_MAX], out[H_PATH_MAX], addr[64], ctl[H_PATH_MAX + 16];
    path_in(file, sizeof file, "isolation.json");
    path_in(journal, sizeof journal, "isolation-journal.json");
    path_in(out, sizeof out, "isolation.out");
    write_isolation_drill(file, "20s");
    snprintf(ctl, sizeof ctl, "%s/chimeractl", h_bin_dir());
    snprintf(addr, sizeof addr, "%s:%d", cluster->nodes[leader].http_host,
             cluster->nodes[leader].http_port);
    const char *const argv[] = {ctl,  "--addr",    addr,    "drill",        "run",
                                file, "--journal", journal, "--token-file", cluster->token_file,
                                NULL};
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd < 0 || dup2(fd, STDOUT_FILENO) < 0 || dup2(fd, STDERR_FILENO) < 0)
            _exit(127);
        signal(SIGINT, SIG_DFL);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    struct watched w = {out, "detected by the probes"};
    if (!h_wait_until(file_says, &w, h_timeout_ms())) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        fail_msg("the drill never saw the follower read-only; it printed:\n%s", h_read_file(out));
    }
    kill(pid, SIGINT);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    char *printed = h_read_file(out);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 11)
        fail_msg("wait status %#x; it printed:\n%s", status, printed);
    free(printed);
    json_t *j = load_journal(journal);
    assert_string_equal(json_string_value(json_object_get(j, "verdict")), "could_not_run");
    json_decref(j);
    wait_none_read_only();
}

int main(void)
{
    static const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_every_builtin_drill_validates, setup, NULL),
        cmocka_unit_test_setup_teardown(test_list_names_the_builtin_drills, setup, NULL),
        cmocka_unit_test_setup_teardown(test_an_invalid_drill_exits_2_naming_its_json_path, setup,
                                        NULL),
        cmocka_unit_test_setup_teardown(
            test_a_directory_given_as_the_drill_says_why_it_cannot_be_read, setup, NULL),
        cmocka_unit_test_setup_teardown(test_a_drill_named_without_run_says_how_to_run_it, setup,
                                        NULL),
        cmocka_unit_test_setup_teardown(test_an_unknown_drill_name_suggests_the_nearest, setup,
                                        NULL),
        cmocka_unit_test_setup_teardown(test_a_drill_without_faults_holds_and_is_recorded, setup,
                                        NULL),
        cmocka_unit_test_setup_teardown(test_a_drill_run_with_a_wrong_token_exits_6, setup, NULL),
        cmocka_unit_test_setup_teardown(test_a_drill_run_without_USER_is_recorded_by_the_users_name,
                                        setup, NULL),
        cmocka_unit_test_setup_teardown(
            test_a_drill_refuses_to_start_when_the_steady_state_does_not_hold, setup, NULL),
        cmocka_unit_test_setup_teardown(
            test_a_drill_with_faults_is_refused_when_its_steady_state_does_not_hold, setup, NULL),
        cmocka_unit_test_setup_teardown(test_a_drill_against_no_node_exits_5, setup, NULL),
        cmocka_unit_test_setup_teardown(test_the_bad_release_drill_holds, setup, NULL),
        cmocka_unit_test_setup_teardown(test_an_impossible_slo_deviates, setup, NULL),
        cmocka_unit_test_setup_teardown(
            test_a_drill_through_a_follower_says_nothing_of_the_redirect, setup, NULL),
        cmocka_unit_test_setup_teardown(test_a_killed_service_is_measured_by_its_nodes_restart,
                                        setup, NULL),
        cmocka_unit_test_setup_teardown(
            test_a_reverted_release_ends_its_step_once_the_revert_is_over, setup, NULL),
        cmocka_unit_test_setup_teardown(test_a_fault_drill_can_be_run_twice_in_a_row, setup, NULL),
        cmocka_unit_test_setup_teardown(test_a_dead_members_last_health_does_not_count_as_healthy,
                                        setup, NULL),
        cmocka_unit_test_setup_teardown(
            test_a_failed_restart_rollback_exits_12_saying_the_commands_status, setup, NULL),
        cmocka_unit_test_setup_teardown(test_the_heal_rollback_heals_an_isolated_target_too, setup,
                                        NULL),
        cmocka_unit_test_setup_teardown(test_a_drill_interrupted_within_its_slo_could_not_run,
                                        setup, NULL),
    };
    return h_group_end(cluster, cmocka_run_group_tests(tests, group_setup, NULL));
}
