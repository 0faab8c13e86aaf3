/* Integration: every built-in drill (deploy/drills/) passes against a real
 * federation of 5 nodes running the demo release: `chimeractl drill run
 * NAME` exits 0 with "Verdict: held" and its fault recovered within its SLO.
 * While the drill runs, the test is the nodes' supervisor (as `make run` or
 * compose are): a node that exits is started again after a second, and its
 * exit status is kept, so a kill_node fault shows as status 75. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "harness.h"
#include "harness_fixture.h"
#include "harness_release.h"

#define NODES 5
#define KILL_NODE_STATUS 75 /* chaos/fault.h: CHAOS_KILL_NODE_STATUS */

static struct h_cluster *cluster;

static int group_setup(void **state)
{
    (void)state;
    h_path_add_bin_dir(); /* chimera-demo, for the release */
    cluster = h_cluster_create(NODES);
    if (!cluster)
        return -1;
    /* Five nodes on a loaded machine (sanitizers, parallel tests) depose
     * leaders by themselves at the 150 ms default; the drills' SLOs leave
     * room for slower elections. */
    cluster->heartbeat_ms = 100;
    cluster->election_timeout_ms = 1000;
    /* kill_node only when listed: the test restarts what it kills. */
    static const char *const args[] = {
        "--chaos-faults", "kill_service,pause_service,isolate_node,delay_messages,kill_node", NULL};
    cluster->node_args = args;
    int leader = h_start_agreed(cluster, "test_drills_builtin", NULL);
    if (leader < 0)
        return -1;
    char *id = h_deploy_stable(cluster, leader, "demo-good.json", 3 * h_timeout_ms());
    free(id);
    return id ? 0 : -1;
}

/* ---- the steady state every drill starts from ------------------------- */

/* The leader's view: every member alive and the release healthy on each
 * (what the drills' hypotheses probe). */
static bool federation_steady(void *arg)
{
    (void)arg;
    int leader;
    if (!h_agreed(cluster, 0, &leader, NULL))
        return false;
    long st;
    json_t *s = h_http_get_json(cluster, leader, "/federation/state", &st), *m;
    json_t *peers = json_object_get(s, "peers");
    bool ok = json_array_size(peers) == NODES;
    size_t i;
    json_array_foreach(peers, i, m)
    {
        const char *status = json_string_value(json_object_get(m, "status"));
        const char *health =
            json_string_value(json_object_get(json_object_get(m, "release"), "health"));
        ok = ok && status && strcmp(status, "alive") == 0 && health &&
             strcmp(health, "healthy") == 0;
    }
    json_decref(s);
    return ok;
}

/* A drill before this one may have left a node catching up: wait for the
 * steady state, or the drill would rightly refuse to start. */
static int setup(void **state)
{
    (void)state;
    if (!h_wait_until(federation_steady, NULL, 6 * h_timeout_ms()))
        fail_msg("the federation is not steady before the drill: %s", h_views_line(cluster));
    return 0;
}

/* ---- running a drill with the test as the nodes' supervisor ----------- */

struct drill_run {
    int code;         /* chimeractl's exit code; -1 when it did not finish */
    char *out, *err;  /* what it printed */
    json_t *journal;  /* its --journal */
    int exits[NODES]; /* raw wait status of each node's last exit; -1: none */
    int nexits;
    long long restart_at[NODES]; /* when to start an exited node again; 0: none due */
    bool unsupervised;           /* no node is started again while the drill runs */
};

static pid_t spawn(const char *const argv[], const char *out, const char *err)
{
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    int o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int e = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int in = open("/dev/null", O_RDONLY);
    if (o < 0 || e < 0 || in < 0 || dup2(in, 0) < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0)
        _exit(127);
    execv(argv[0], (char *const *)argv);
    _exit(127);
}

/* As `make run` does: a node that exits is started again a second after
 * (its first backoff), and its exit status is kept. */
#define RESTART_DELAY_MS 1000

static long long mono_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000LL + t.tv_nsec / 1000000;
}

static void supervise(struct drill_run *r)
{
    for (int i = 0; i < NODES; i++) {
        if (cluster->nodes[i].pid && !h_node_running(cluster, i)) {
            r->exits[i] = cluster->nodes[i].exit_status;
            r->nexits++;
            /* Unsupervised: down until the drill is over. */
            r->restart_at[i] = r->unsupervised ? LLONG_MAX : mono_ms() + RESTART_DELAY_MS;
        }
        if (!r->restart_at[i] || mono_ms() < r->restart_at[i])
            continue;
        r->restart_at[i] = 0;
        if (h_node_start(cluster, i) != 0)
            fail_msg("%s exited and could not be started again", cluster->nodes[i].id);
    }
}

/* `chimeractl drill run name` with every node's address (the runner passes
 * over a killed one), supervising the nodes until it ends (unless
 * unsupervised: then a node that exits is started again only after). */
static struct drill_run run_drill_as(const char *name, const char *file, bool unsupervised)
{
    struct drill_run r = {.code = -1, .unsupervised = unsupervised};
    for (int i = 0; i < NODES; i++)
        r.exits[i] = -1;
    char ctl[H_PATH_MAX + 16], addrs[NODES * 32] = "", journal[H_PATH_MAX + 64],
                                             out[H_PATH_MAX + 64], err[H_PATH_MAX + 64];
    snprintf(ctl, sizeof ctl, "%s/chimeractl", h_bin_dir());
    for (int i = 0; i < NODES; i++) {
        size_t n = strlen(addrs);
        snprintf(addrs + n, sizeof addrs - n, "%s%s:%d", i ? "," : "", cluster->nodes[i].http_host,
                 cluster->nodes[i].http_port);
    }
    snprintf(journal, sizeof journal, "%s/%s-journal.json", cluster->dir, name);
    snprintf(out, sizeof out, "%s/%s.out", cluster->dir, name);
    snprintf(err, sizeof err, "%s/%s.err", cluster->dir, name);
    const char *const argv[] = {ctl,  "--addr",    addrs,   "drill",        "run",
                                file, "--journal", journal, "--token-file", cluster->token_file,
                                NULL};
    pid_t pid = spawn(argv, out, err);
    assert_true(pid > 0);
    /* A drill lasts its method, its SLOs and the settling after them. */
    long long give_up = mono_ms() + 12LL * h_timeout_ms();
    int st;
    for (;;) {
        supervise(&r);
        pid_t done = waitpid(pid, &st, WNOHANG);
        if (done == pid) {
            r.code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
            break;
        }
        if (mono_ms() > give_up) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            break;
        }
        usleep(50 * 1000); /* a supervisor's poll, not a wait on the outcome */
    }
    supervise(&r);
    for (int i = 0; i < NODES; i++) /* what is still due starts now: the next drill needs it */
        if (r.restart_at[i])
            r.restart_at[i] = 1;
    supervise(&r);
    r.out = h_read_file(out);
    r.err = h_read_file(err);
    r.journal = json_load_file(journal, 0, NULL);
    return r;
}

static struct drill_run run_drill(const char *name)
{
    return run_drill_as(name, name, false);
}

static void drill_free(struct drill_run *r)
{
    free(r->out);
    free(r->err);
    json_decref(r->journal);
}

/* The drill held: exit 0, "Verdict: held", and its fault (the method's
 * step `step`) recovered within the SLO; prints the measured times. */
static void expect_held(const char *name, struct drill_run *r, size_t step)
{
    if (r->code != 0 || !r->out || !strstr(r->out, "Verdict: held"))
        fail_msg("drill %s exited %d, not 0 with \"Verdict: held\"\nstdout:\n%s\nstderr:\n%s\n%s",
                 name, r->code, r->out ? r->out : "", r->err ? r->err : "", h_views_line(cluster));
    json_t *s = json_array_get(json_object_get(r->journal, "run"), step);
    assert_non_null(s);
    assert_true(json_is_true(json_object_get(s, "slo_met")));
    json_t *recover = json_object_get(s, "recover_ms"), *detect = json_object_get(s, "detect_ms");
    assert_true(json_is_integer(recover));
    print_message("    %s: detected after %" JSON_INTEGER_FORMAT
                  " ms, recovered after %" JSON_INTEGER_FORMAT " ms\n",
                  name, json_is_integer(detect) ? json_integer_value(detect) : -1,
                  json_integer_value(recover));
}

/* The node a kill_node fault took down exited with the fault's status
 * (so a supervisor can tell it from a crash) and was started again. */
static void expect_killed_node(const struct drill_run *r)
{
    int killed = 0;
    for (int i = 0; i < NODES; i++)
        if (r->exits[i] != -1) {
            if (!WIFEXITED(r->exits[i]) || WEXITSTATUS(r->exits[i]) != KILL_NODE_STATUS)
                fail_msg("%s exited with raw status %d, not %d", cluster->nodes[i].id, r->exits[i],
                         KILL_NODE_STATUS);
            killed++;
        }
    assert_int_equal(killed, 1);
}

/* ---- the drills ---------------------------------------------------------- */

/* Built-in drill `name` holds; its fault kills a node process (kill_node)
 * or none. */
static void expect_drill_holds(const char *name, bool kills_a_node)
{
    struct drill_run r = run_drill(name);
    expect_held(name, &r, 0);
    if (kills_a_node)
        expect_killed_node(&r);
    else
        assert_int_equal(r.nexits, 0);
    drill_free(&r);
}

/* The method's step `step` carries the node's own record, saying what. */
static void expect_node_figure(const struct drill_run *r, size_t step, const char *what)
{
    json_t *s = json_array_get(json_object_get(r->journal, "run"), step);
    const char *said = json_string_value(json_object_get(json_object_get(s, "node"), "what"));
    if (!said || !strstr(said, what))
        fail_msg("the step's node figure is not about \"%s\" but %s\nstdout:\n%s", what,
                 said ? said : "absent", r->out ? r->out : "");
}

/* Besides the probes' figures, the new leader's election as the nodes
 * recorded it (consensus.elected). */
static void test_leader_loss_holds(void **state)
{
    (void)state;
    struct drill_run r = run_drill("leader-loss");
    expect_held("leader-loss", &r, 0);
    expect_killed_node(&r);
    expect_node_figure(&r, 0, "elected");
    drill_free(&r);
}

static void test_minority_partition_holds(void **state)
{
    (void)state;
    expect_drill_holds("minority-partition", false);
}

/* The time to recover is the node's: its watchtower's restart after the
 * kill (recovery.restarted), often over between two sweeps. */
static void test_service_crash_holds(void **state)
{
    (void)state;
    struct drill_run r = run_drill("service-crash");
    expect_held("service-crash", &r, 0);
    assert_int_equal(r.nexits, 0);
    expect_node_figure(&r, 0, "healthy again");
    json_t *s = json_array_get(json_object_get(r.journal, "run"), 0);
    assert_string_equal(json_string_value(json_object_get(s, "figures_from")), "node");
    drill_free(&r);
}

/* Recovered from the failure to the revert's end, as the deployments say. */
static void test_bad_release_holds(void **state)
{
    (void)state;
    struct drill_run r = run_drill("bad-release");
    expect_held("bad-release", &r, 0);
    assert_int_equal(r.nexits, 0);
    expect_node_figure(&r, 0, "reverted and healthy everywhere");
    drill_free(&r);
}

static void test_node_restart_holds(void **state)
{
    (void)state;
    expect_drill_holds("node-restart", true);
}

/* The runner must find the new leader itself: a note probe that kept
 * posting to the leader it was redirected to before the kill failed until
 * the killed node came back, so the time to recover was the supervisor's
 * (and without one the drill never recovered). leader-loss without the
 * probe that needs the killed node back, and no supervisor meanwhile. */
static void test_leader_loss_recovers_before_the_killed_leader_is_back(void **state)
{
    (void)state;
    char src[H_PATH_MAX + 32], file[H_PATH_MAX + 32];
    h_release_example_path("../drills/leader-loss.json", src, sizeof src);
    snprintf(file, sizeof file, "%s/leader-loss-unsupervised.json", cluster->dir);
    json_t *d = json_load_file(src, 0, NULL);
    assert_non_null(d);
    json_t *probes = json_object_get(json_object_get(d, "steady-state-hypothesis"), "probes");
    for (size_t i = json_array_size(probes); i-- > 0;) {
        const char *type = json_string_value(
            json_object_get(json_object_get(json_array_get(probes, i), "provider"), "type"));
        if (type && strcmp(type, "all_alive") == 0)
            json_array_remove(probes, i);
    }
    json_object_set_new(d, "rollbacks",
                        json_pack("[{s:s, s:{s:s}}]", "name", "heal", "provider", "type", "heal"));
    assert_int_equal(json_dump_file(d, file, 0), 0);
    json_decref(d);
    struct drill_run r = run_drill_as("leader-loss-unsupervised", file, true);
    expect_held("leader-loss without a supervisor", &r, 0);
    expect_killed_node(&r);
    drill_free(&r);
}

int main(void)
{
    static const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_leader_loss_holds, setup, NULL),
        cmocka_unit_test_setup_teardown(test_leader_loss_recovers_before_the_killed_leader_is_back,
                                        setup, NULL),
        cmocka_unit_test_setup_teardown(test_minority_partition_holds, setup, NULL),
        cmocka_unit_test_setup_teardown(test_service_crash_holds, setup, NULL),
        cmocka_unit_test_setup_teardown(test_bad_release_holds, setup, NULL),
        cmocka_unit_test_setup_teardown(test_node_restart_holds, setup, NULL),
    };
    return h_group_end(cluster, cmocka_run_group_tests(tests, group_setup, NULL));
}
