/* Integration: the chaos injector's shell on real chimerad processes
 * (README "Chaos"): an operator's faults through POST /chaos/inject, the
 * kill switch on a read-only node, one active fault at a time, and the
 * leader's injector at probability 1 never overlapping two faults. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "harness_fixture.h"
#include "harness_release.h"
#include "test_chaos_support.h"

/* ---- helpers ----------------------------------------------------------- */

static json_t *inject(struct h_cluster *c, int leader, const char *kind, int target,
                      const char *service, int duration_ms, long *st)
{
    char body[512];
    snprintf(body, sizeof(body), "{\"kind\":\"%s\",\"target\":\"%s\"%s%s%s,\"duration_ms\":%d}",
             kind, c->nodes[target].id, service ? ",\"service\":\"" : "", service ? service : "",
             service ? "\"" : "", duration_ms);
    return chaos_post(c, leader, "/chaos/inject", body, st);
}

static int follower_of(int leader)
{
    return leader == 0 ? 1 : 0;
}

struct alive {
    pid_t pid;
};

static bool pid_gone(void *arg)
{
    return kill(((struct alive *)arg)->pid, 0) != 0 && errno == ESRCH;
}

/* The state letter of /proc/PID/stat ('T': stopped), or 0. */
static char proc_state(pid_t pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *close = strrchr(buf, ')');
    return close && close[1] == ' ' ? close[2] : 0;
}

struct stopped {
    pid_t pid;
    bool want;
};

static bool stopped_is(void *arg)
{
    struct stopped *s = arg;
    char st = proc_state(s->pid);
    /* resumed means running again: a process gone (0) or dead (Z) is not */
    return s->want ? st == 'T' : st != 'T' && st != 0 && st != 'Z';
}

/* A leader, and the demo release stable on every node: its leader. */
static int start_with_release(struct h_cluster *c)
{
    int leader = h_start_leader(c, "test_chaos", 0, NULL);
    char *dep = h_deploy_stable(c, leader, "demo-good.json", 4 * h_timeout_ms());
    assert_non_null(dep);
    free(dep);
    return leader;
}

/* ---- tests ------------------------------------------------------------- */

static void
operator_kill_service_kills_its_process_group_and_the_fault_heals_on_record(void **state)
{
    struct h_cluster *c = *state;
    int leader = start_with_release(c);
    int t = follower_of(leader);
    pid_t pids[8];
    size_t n = h_service_pids(c, t, pids, 8);
    if (n == 0)
        fail_msg("%s runs no service", c->nodes[t].id);
    long st;
    json_t *j = inject(c, leader, "kill_service", t, "web", 1500, &st);
    if (st != 201)
        fail_msg("POST /chaos/inject answered %ld: %s", st, json_dumps(j, JSON_COMPACT));
    const char *id = json_string_value(json_object_get(json_object_get(j, "fault"), "id"));
    assert_non_null(id);
    struct alive a = {pids[0]};
    if (!h_wait_until(pid_gone, &a, h_timeout_ms()))
        fail_msg("service pid %d on %s still runs after the kill_service fault", (int)pids[0],
                 c->nodes[t].id);
    if (!h_release_wait_event(c, t, "chaos.injected", "kill service web", h_timeout_ms(), NULL, 0))
        fail_msg("%s raised no chaos.injected event", c->nodes[t].id);
    struct chaos_seen s = {c, leader, "healed", id};
    if (!h_wait_until(chaos_has_record, &s, 2 * h_timeout_ms()))
        fail_msg("no healed record of %s in the leader's GET /chaos", id);
    s.i = t;
    if (!h_wait_until(chaos_has_record, &s, h_timeout_ms()))
        fail_msg("no healed record of %s in %s's GET /chaos", id, c->nodes[t].id);
    json_decref(j);
    h_cluster_pass(c);
}

static void pause_service_stops_the_service_until_its_expiry(void **state)
{
    struct h_cluster *c = *state;
    int leader = start_with_release(c);
    int t = follower_of(leader);
    pid_t pids[8];
    if (h_service_pids(c, t, pids, 8) == 0)
        fail_msg("%s runs no service", c->nodes[t].id);
    long st;
    json_t *j = inject(c, leader, "pause_service", t, "web", 2000, &st);
    if (st != 201)
        fail_msg("POST /chaos/inject answered %ld", st);
    json_decref(j);
    struct stopped s = {pids[0], true};
    if (!h_wait_until(stopped_is, &s, h_timeout_ms()))
        fail_msg("service pid %d on %s was never stopped", (int)pids[0], c->nodes[t].id);
    /* A paused service fails its health checks: the watchtower's liveness
     * rule may restart it before the fault expires (README "Recovery
     * watchtower"). Either way it must run again: the same process resumed,
     * or a new one the watchtower started for liveness. */
    s.want = false;
    if (!h_wait_until(stopped_is, &s, 2 * h_timeout_ms()) &&
        !h_release_wait_event(c, t, "recovery.restarted", "liveness", h_timeout_ms(), NULL, 0))
        fail_msg("service pid %d on %s was neither resumed at expiry nor restarted for liveness",
                 (int)pids[0], c->nodes[t].id);
    if (!h_release_wait_event(c, t, "chaos.healed", "expired", h_timeout_ms(), NULL, 0))
        fail_msg("%s raised no chaos.healed event", c->nodes[t].id);
    h_cluster_pass(c);
}

static void kill_switch_heals_an_isolated_read_only_node_at_once(void **state)
{
    struct h_cluster *c = *state;
    int leader = h_start_leader(c, "test_chaos", 0, NULL);
    int t = follower_of(leader);
    long st;
    json_t *j = inject(c, leader, "isolate_node", t, NULL, 30000, &st);
    if (st != 201)
        fail_msg("POST /chaos/inject answered %ld", st);
    json_decref(j);
    struct chaos_ro r = {c, t, true};
    if (!h_wait_until(chaos_read_only_is, &r, 2 * h_timeout_ms()))
        fail_msg("isolated %s never became read-only: %s", c->nodes[t].id, h_views_line(c));
    j = chaos_post(c, t, "/chaos/stop", "{}", &st);
    if (st != 200)
        fail_msg("POST /chaos/stop on read-only %s answered %ld", c->nodes[t].id, st);
    assert_int_equal(json_integer_value(json_object_get(j, "healed_here")), 1);
    json_decref(j);
    r.want = false;
    if (!h_wait_until(chaos_read_only_is, &r, 2 * h_timeout_ms()))
        fail_msg("%s stayed read-only after the kill switch: %s", c->nodes[t].id, h_views_line(c));
    h_cluster_pass(c);
}

static void a_second_fault_while_one_is_active_is_refused_409_and_chimeractl_exits_8(void **state)
{
    struct h_cluster *c = *state;
    int leader = h_start_leader(c, "test_chaos", 0, NULL);
    int t = follower_of(leader);
    long st;
    json_t *j = inject(c, leader, "isolate_node", t, NULL, 30000, &st);
    json_decref(j);
    if (st != 201)
        fail_msg("the first fault answered %ld, not 201", st);
    j = inject(c, leader, "isolate_node", 3 - leader - t, NULL, 1000, &st);
    if (st != 409)
        fail_msg("a second fault answered %ld, not 409", st);
    const char *why = json_string_value(json_object_get(j, "error"));
    assert_non_null(why);
    assert_non_null(strstr(why, "active"));
    json_decref(j);
    int code;
    char *out = NULL, *err = NULL;
    assert_true(h_ctl(c, leader, &code, &out, &err, "--token-file", c->token_file, "chaos",
                      "inject", "isolate_node", "--target", c->nodes[3 - leader - t].id,
                      "--duration", "1s", NULL));
    if (code != 8)
        fail_msg("chimeractl chaos inject exited %d, not 8 (refused): %s", code, err);
    free(out);
    free(err);
    assert_true(h_ctl(c, leader, &code, &out, &err, "chaos", "status", "--json", NULL));
    json_t *status = json_loads(out ? out : "", 0, NULL);
    if (code != 0 || !json_is_object(json_object_get(status, "active")))
        fail_msg("chimeractl chaos status exited %d without the active fault: %s", code, out);
    json_decref(status);
    free(out);
    free(err);
    h_cluster_pass(c);
}

/* A kill is over once the watchtower has restarted what it killed: given
 * a minute to recover, the kill_service fault stops counting as active
 * (GET /chaos, the rule "active") when the ledger records the service
 * running again, with a healed record that says so, and another fault may
 * follow at once. It blocked every other fault for its whole minute. */
static void a_killed_service_blocks_no_fault_once_its_node_restarted_it(void **state)
{
    struct h_cluster *c = *state;
    int leader = start_with_release(c);
    int t = follower_of(leader);
    long st;
    json_t *j = inject(c, leader, "kill_service", t, "web", 60000, &st);
    if (st != 201)
        fail_msg("POST /chaos/inject answered %ld", st);
    char id[64];
    snprintf(id, sizeof id, "%s",
             json_string_value(json_object_get(json_object_get(j, "fault"), "id")));
    json_decref(j);
    struct chaos_seen s = {c, leader, "healed", id};
    if (!h_wait_until(chaos_has_record, &s, 2 * h_timeout_ms()))
        fail_msg("no healed record of %s in the leader's GET /chaos", id);
    json_t *chaos = h_http_get_json(c, leader, "/chaos", &st);
    json_t *h = json_object_get(chaos, "history"), *last = NULL, *r;
    size_t k;
    json_array_foreach(h, k, r)
    {
        if (strcmp(json_string_value(json_object_get(r, "record")), "healed") == 0)
            last = r;
    }
    assert_string_equal(json_string_value(json_object_get(last, "reason")), "restarted");
    assert_true(json_is_null(json_object_get(chaos, "active")));
    json_decref(chaos);
    j = inject(c, leader, "isolate_node", 3 - leader - t, NULL, 1000, &st);
    if (st != 201)
        fail_msg("a fault after the restart answered %ld: %s", st,
                 json_string_value(json_object_get(j, "error")));
    json_decref(j);
    h_cluster_pass(c);
}

/* chimeractl chaos inject takes drill run's selectors for its target: the
 * leader, a follower (any alive member but the leader), resolved from the
 * leader's view, and says which node it picked. They were refused. */
static void chaos_inject_picks_the_leader_or_a_follower_and_says_which(void **state)
{
    struct h_cluster *c = *state;
    int leader = h_start_leader(c, "test_chaos", 0, NULL);
    int code;
    char *out = NULL, *err = NULL, want[96];
    assert_true(h_ctl(c, (leader + 1) % 3, &code, &out, &err, "--token-file", c->token_file,
                      "chaos", "inject", "delay_messages", "--target", "leader", "--delay", "50ms",
                      "--duration", "1s", NULL));
    snprintf(want, sizeof want, "target     leader: %s ", c->nodes[leader].id);
    if (code != 0 || !strstr(out, want) || !strstr(out, "delay_messages on "))
        fail_msg("chaos inject --target leader exited %d:\n%s%s", code, out, err);
    snprintf(want, sizeof want, "delay_messages on %s by ", c->nodes[leader].id);
    if (!strstr(out, want))
        fail_msg("the fault is not on the leader %s:\n%s", c->nodes[leader].id, out);
    free(out);
    free(err);
    assert_true(h_ctl(c, leader, &code, &out, &err, "--token-file", c->token_file, "chaos",
                      "inject", "isolate_node", "--target", "follower", "--duration", "1s",
                      "--force", NULL));
    const char *picked = out ? strstr(out, "target     follower: ") : NULL;
    if (code != 0 || !picked)
        fail_msg("chaos inject --target follower exited %d:\n%s%s", code, out, err);
    picked += strlen("target     follower: ");
    if (strncmp(picked, c->nodes[leader].id, strlen(c->nodes[leader].id)) == 0 &&
        picked[strlen(c->nodes[leader].id)] == ' ')
        fail_msg("a follower was asked for and the leader picked:\n%s", out);
    free(out);
    free(err);
    h_cluster_pass(c);
}

/* chimeractl's chaos output writes durations as drill output does
 * ("1s500ms", "10m"); --json keeps the API's numbers of ms. It wrote
 * "1500 ms" and "10m00s" beside drills' "1s500ms". */
static void chaos_output_writes_durations_as_drills_do(void **state)
{
    struct h_cluster *c = *state;
    int leader = h_start_leader(c, "test_chaos", 0, NULL);
    int code;
    char *out = NULL, *err = NULL, want[96];
    assert_true(h_ctl(c, leader, &code, &out, &err, "--token-file", c->token_file, "chaos",
                      "inject", "delay_messages", "--target", c->nodes[follower_of(leader)].id,
                      "--delay", "50ms", "--duration", "1500ms", NULL));
    snprintf(want, sizeof want, "delay_messages on %s by 50ms, 1s500ms, operator",
             c->nodes[follower_of(leader)].id);
    if (code != 0 || !strstr(out, want))
        fail_msg("chaos inject exited %d, without \"%s\":\n%s%s", code, want, out, err);
    free(out);
    free(err);
    assert_true(h_ctl(c, leader, &code, &out, &err, "chaos", "status", NULL));
    if (code != 0 || !strstr(out, "every 10m,") || !strstr(out, ", at most 1m\n"))
        fail_msg("chaos status exited %d:\n%s%s", code, out, err);
    free(out);
    free(err);
    assert_true(h_ctl(c, leader, &code, &out, &err, "chaos", "status", "--json", NULL));
    json_t *j = json_loads(out ? out : "", 0, NULL);
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(j, "settings"), "interval_ms")), 600000);
    json_decref(j);
    free(out);
    free(err);
    h_cluster_pass(c);
}

/* ---- the injector ------------------------------------------------------ */

static int start_with_injector(struct h_cluster *c)
{
    static const char *const extra[] = {"--chaos-enabled",
                                        "--chaos-interval",
                                        "1s",
                                        "--chaos-probability",
                                        "1",
                                        "--chaos-max-duration",
                                        "1s",
                                        "--chaos-faults",
                                        "isolate_node,delay_messages",
                                        NULL};
    for (int i = 0; i < c->n; i++)
        if (h_node_start_opts(c, i, &(struct h_start){.extra = extra}) != 0)
            return -1;
    int leader = -1;
    if (!h_wait_agreed(c, 0, 2 * h_timeout_ms(), &leader, NULL))
        return -1;
    return leader;
}

struct injected {
    struct h_cluster *c;
    int i;
    int faults;
};

static bool faults_at_least(void *arg)
{
    struct injected *x = arg;
    long st;
    json_t *j = h_http_get_json(x->c, x->i, "/chaos", &st);
    int n = 0;
    size_t k;
    json_t *r;
    json_array_foreach(json_object_get(j, "history"), k, r)
    {
        const char *rec = json_string_value(json_object_get(r, "record"));
        n += rec && strcmp(rec, "fault") == 0;
    }
    json_decref(j);
    return n >= x->faults;
}

static void injector_at_probability_1_never_has_two_active_faults(void **state)
{
    struct h_cluster *c = *state;
    int leader = start_with_injector(c);
    if (leader < 0)
        fail_msg("no leader: %s", h_views_line(c));
    struct injected x = {c, 0, 2};
    bool two = false;
    for (int i = 0; i < c->n && !two; i++) {
        x.i = i;
        two = h_wait_until(faults_at_least, &x, 6 * h_timeout_ms());
    }
    if (!two)
        fail_msg("the injector committed fewer than 2 faults: %s", h_views_line(c));
    long st;
    json_t *j = h_http_get_json(c, x.i, "/chaos", &st);
    json_int_t prev_expires = 0;
    const char *prev = NULL;
    size_t k;
    json_t *r;
    json_array_foreach(json_object_get(j, "history"), k, r)
    {
        const char *rec = json_string_value(json_object_get(r, "record"));
        if (!rec)
            continue;
        const char *id = json_string_value(json_object_get(r, "id"));
        if (strcmp(rec, "healed") == 0 && prev && id && strcmp(id, prev) == 0)
            prev = NULL;
        if (strcmp(rec, "stop") == 0)
            prev = NULL;
        if (strcmp(rec, "fault") != 0)
            continue;
        json_int_t start = json_integer_value(json_object_get(r, "start_ms"));
        if (prev && start < prev_expires)
            fail_msg("fault %s started while %s was active (until %lld)", id, prev,
                     (long long)prev_expires);
        prev = id;
        prev_expires = json_integer_value(json_object_get(r, "expires_ms"));
    }
    json_decref(j);
    h_cluster_pass(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            operator_kill_service_kills_its_process_group_and_the_fault_heals_on_record,
            h_setup_three_nodes, h_teardown_cluster),
        cmocka_unit_test_setup_teardown(pause_service_stops_the_service_until_its_expiry,
                                        h_setup_three_nodes, h_teardown_cluster),
        cmocka_unit_test_setup_teardown(kill_switch_heals_an_isolated_read_only_node_at_once,
                                        h_setup_three_nodes, h_teardown_cluster),
        cmocka_unit_test_setup_teardown(
            a_second_fault_while_one_is_active_is_refused_409_and_chimeractl_exits_8,
            h_setup_three_nodes, h_teardown_cluster),
        cmocka_unit_test_setup_teardown(a_killed_service_blocks_no_fault_once_its_node_restarted_it,
                                        h_setup_three_nodes, h_teardown_cluster),
        cmocka_unit_test_setup_teardown(chaos_inject_picks_the_leader_or_a_follower_and_says_which,
                                        h_setup_three_nodes, h_teardown_cluster),
        cmocka_unit_test_setup_teardown(chaos_output_writes_durations_as_drills_do,
                                        h_setup_three_nodes, h_teardown_cluster),
        cmocka_unit_test_setup_teardown(injector_at_probability_1_never_has_two_active_faults,
                                        h_setup_three_nodes, h_teardown_cluster),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
