/* Drills, measuring: how often each probe runs, how late the probes may
 * see a change, whose figures a step keeps (the node's own record or the
 * runner's probes), when the runner stops measuring, and how the journal
 * and the report show both sources. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chaos/drill.h"

/* Probes: leader (0), healthy (1), commits (2). Actions: a killed service,
 * a killed node, a release expected to be reverted, a partition. */
static const char doc[] =
    "{\"title\": \"m\", \"steady-state-hypothesis\": {\"probes\": ["
    "{\"name\": \"leader\", \"provider\": {\"type\": \"leader_exists\"}},"
    "{\"name\": \"healthy\", \"provider\": {\"type\": \"release_healthy\"}},"
    "{\"name\": \"commits\", \"provider\": {\"type\": \"note_commits\"}}]},"
    "\"method\": ["
    "{\"name\": \"kill web\", \"provider\": {\"type\": \"fault\", \"kind\": \"kill_service\", "
    "\"target\": \"web\"}, \"slo\": {\"recover_within\": \"5s\", \"probes\": [\"healthy\"]}},"
    "{\"name\": \"kill leader\", \"provider\": {\"type\": \"fault\", \"kind\": \"kill_node\", "
    "\"target\": \"leader\"}, \"slo\": {\"recover_within\": \"5s\"}},"
    "{\"name\": \"bad\", \"provider\": {\"type\": \"deploy\", \"manifest\": \"m.json\", "
    "\"expect\": \"reverted\"}, \"slo\": {\"recover_within\": \"30s\"}},"
    "{\"name\": \"cut\", \"provider\": {\"type\": \"fault\", \"kind\": \"isolate_node\", "
    "\"target\": \"follower\", \"duration\": \"2s\"}, \"slo\": {\"recover_within\": \"5s\"}},"
    "{\"name\": \"long cut\", \"provider\": {\"type\": \"fault\", \"kind\": \"isolate_node\", "
    "\"target\": \"follower\", \"duration\": \"10s\"}, \"slo\": {\"recover_within\": "
    "\"500ms\"}}]}";

enum { KILL_WEB, KILL_LEADER, BAD_RELEASE, CUT, LONG_CUT };

static struct drill d;

static int setup(void **state)
{
    (void)state;
    struct drill_error err;
    return drill_parse(doc, strlen(doc), &d, &err);
}

static int teardown(void **state)
{
    (void)state;
    drill_free(&d);
    return 0;
}

static const struct drill_times probes_saw = {true, 117, true, 217};
static const struct drill_times node_saw = {true, 1, true, 70};
static const struct drill_times probes_masked = {false, 0, true, 0};

static struct drill_step_result step(struct drill_times probes, bool node_seen,
                                     struct drill_times node)
{
    struct drill_step_result s = {.status = DRILL_STEP_DONE, .probes = probes};
    s.resolution_ms = DRILL_SWEEP_MS;
    s.node.seen = node_seen;
    s.node.t = node;
    snprintf(s.node.what, sizeof s.node.what, "web on n2 healthy again 70ms after the kill");
    return s;
}

/* ---- how often ---- */

static void test_a_state_probe_runs_every_sweep(void **state)
{
    (void)state;
    assert_true(drill_probe_due(&d.probes[0], 1000, 1001));
}

static void test_a_note_probe_runs_at_most_every_note_sweep(void **state)
{
    (void)state;
    const struct drill_probe *note = &d.probes[2];
    assert_true(drill_probe_due(note, 0, 5));
    assert_false(drill_probe_due(note, 1000, 1000 + DRILL_NOTE_SWEEP_MS - 1));
    assert_true(drill_probe_due(note, 1000, 1000 + DRILL_NOTE_SWEEP_MS));
}

static void test_the_resolution_is_the_slowest_probes(void **state)
{
    (void)state;
    assert_int_equal(drill_sweep_resolution(&d, 1u << 0 | 1u << 1), DRILL_SWEEP_MS);
    assert_int_equal(drill_sweep_resolution(&d, 1u << 0 | 1u << 2), DRILL_NOTE_SWEEP_MS);
}

/* ---- whose figures ---- */

static void test_a_killed_service_takes_the_nodes_figures(void **state)
{
    (void)state;
    struct drill_step_result s = step(probes_masked, true, node_saw);
    drill_step_settle(&d.method[KILL_WEB], &s);
    assert_true(s.detected && s.recovered);
    assert_int_equal(s.detect_ms, 1);
    assert_int_equal(s.recover_ms, 70);
}

static void test_a_reverted_release_takes_the_nodes_figures_over_the_probes(void **state)
{
    (void)state;
    struct drill_step_result s =
        step(probes_saw, true, (struct drill_times){true, 3482, true, 2303});
    drill_step_settle(&d.method[BAD_RELEASE], &s);
    assert_int_equal(s.detect_ms, 3482);
    assert_int_equal(s.recover_ms, 2303);
}

static void test_a_killed_node_keeps_the_probes_figures(void **state)
{
    (void)state;
    struct drill_step_result s = step(probes_saw, true, (struct drill_times){true, 178, true, 178});
    drill_step_settle(&d.method[KILL_LEADER], &s);
    assert_int_equal(s.detect_ms, 117);
    assert_int_equal(s.recover_ms, 217);
}

static void test_a_failure_only_the_node_saw_is_not_masked(void **state)
{
    (void)state;
    struct drill_step_result s =
        step(probes_masked, true, (struct drill_times){true, 178, true, 178});
    drill_step_settle(&d.method[KILL_LEADER], &s);
    assert_true(s.detected);
    assert_int_equal(s.recover_ms, 178);
}

static void test_masked_when_neither_the_probes_nor_the_node_saw_a_failure(void **state)
{
    (void)state;
    struct drill_step_result s = step(probes_masked, false, (struct drill_times){0});
    drill_step_settle(&d.method[KILL_WEB], &s);
    assert_false(s.detected);
    assert_true(s.recovered);
}

static void test_without_the_nodes_recovery_the_probes_figures_stand(void **state)
{
    (void)state;
    struct drill_step_result s = step(probes_saw, true, (struct drill_times){true, 1, false, 0});
    drill_step_settle(&d.method[KILL_WEB], &s);
    assert_int_equal(s.recover_ms, 217);
}

/* ---- when to stop ---- */

static void test_measuring_goes_on_while_a_probe_fails(void **state)
{
    (void)state;
    struct drill_step_result s = step(probes_saw, true, node_saw);
    assert_false(drill_measure_sweep(&d.method[KILL_WEB], &s, false, 9000, true));
}

static void test_a_masked_fault_is_measured_until_its_slo_passes(void **state)
{
    (void)state;
    struct drill_step_result s = {0};
    assert_false(drill_measure_sweep(&d.method[CUT], &s, true, 5000, false));
    assert_true(drill_measure_sweep(&d.method[CUT], &s, true, 5001, false));
    assert_false(s.probes.detected);
    assert_true(s.probes.recovered);
}

/* An isolation takes an election timeout or more to show: probes that
 * held through a shorter SLO have not seen it masked. */
static void test_an_isolation_is_not_masked_before_it_ends(void **state)
{
    (void)state;
    struct drill_step_result s = {0};
    assert_false(drill_measure_sweep(&d.method[LONG_CUT], &s, true, 600, false));
    assert_false(drill_measure_sweep(&d.method[LONG_CUT], &s, true, 9999, false));
    assert_true(drill_measure_sweep(&d.method[LONG_CUT], &s, true, 10000, false));
}

/* Seen only after its 500 ms SLO, the isolation misses it, whenever the
 * probes hold again. */
static void test_an_isolation_seen_after_its_slo_misses_it(void **state)
{
    (void)state;
    const struct drill_action *a = &d.method[LONG_CUT];
    struct drill_run r = {.before_checked = true, .after_checked = true};
    for (size_t i = 0; i < d.nprobes; i++)
        r.before[i].held = r.after[i].held = true;
    struct drill_step_result *s = &r.method[LONG_CUT];
    s->status = DRILL_STEP_DONE;
    assert_false(drill_measure_sweep(a, s, true, 600, false));
    assert_false(drill_measure_sweep(a, s, false, 1500, false));
    assert_true(drill_measure_sweep(a, s, true, 10300, false));
    drill_step_settle(a, s);
    assert_int_equal(s->detect_ms, 1500);
    assert_int_equal(s->recover_ms, 10300);
    assert_int_equal(drill_verdict(&d, &r, NULL, 0), DRILL_DEVIATED);
}

/* Holding again while the fault still acts is no recovery yet: a failure
 * after it starts the recovery over. */
static void test_a_relapse_while_the_fault_acts_starts_recovery_over(void **state)
{
    (void)state;
    const struct drill_action *a = &d.method[LONG_CUT];
    struct drill_step_result s = {0};
    assert_false(drill_measure_sweep(a, &s, false, 200, false));
    assert_false(drill_measure_sweep(a, &s, true, 400, false));
    assert_false(drill_measure_sweep(a, &s, false, 1200, false));
    assert_true(drill_measure_sweep(a, &s, true, 10100, false));
    assert_true(s.probes.recovered);
    assert_int_equal(s.probes.detect_ms, 200);
    assert_int_equal(s.probes.recover_ms, 10100);
}

static void test_a_service_the_node_saw_restarted_stops_measuring(void **state)
{
    (void)state;
    struct drill_step_result s = step(probes_masked, true, node_saw);
    s.probes.recovered = false;
    assert_true(drill_measure_sweep(&d.method[KILL_WEB], &s, true, 300, false));
}

static void test_a_deployment_that_ended_stops_measuring_once_the_probes_hold(void **state)
{
    (void)state;
    struct drill_step_result s = {0};
    assert_true(drill_measure_sweep(&d.method[BAD_RELEASE], &s, true, 300, true));
}

static void test_nothing_stops_before_the_slos_clock_starts(void **state)
{
    (void)state;
    struct drill_action heal = d.method[CUT];
    heal.slo.from = DRILL_SLO_FROM_HEAL;
    struct drill_step_result s = step(probes_saw, true, node_saw);
    assert_false(drill_measure_sweep(&heal, &s, true, 1999, true));
    assert_true(drill_measure_sweep(&heal, &s, true, 2000, true));
}

static void test_probes_that_fail_are_given_up_twice_the_slo_and_5s_past_its_start(void **state)
{
    (void)state;
    struct drill_action heal = d.method[CUT];
    heal.slo.from = DRILL_SLO_FROM_HEAL;
    assert_int_equal(drill_measure_give_up_ms(&d.method[LONG_CUT], 0), 6000);
    assert_int_equal(drill_measure_give_up_ms(&heal, 0), 2000 + 15000);
    assert_int_equal(drill_measure_give_up_ms(&d.method[BAD_RELEASE], 4000), 4000 + 65000);
}

/* ---- journal and report ---- */

static struct drill_run run_with(struct drill_step_result s)
{
    struct drill_run r = {.before_checked = true, .after_checked = true};
    for (size_t i = 0; i < d.nprobes; i++)
        r.before[i].held = r.after[i].held = true;
    drill_step_settle(&d.method[KILL_WEB], &s);
    r.method[KILL_WEB] = s;
    return r;
}

static void test_the_journal_keeps_both_sources_and_the_resolution(void **state)
{
    (void)state;
    struct drill_run r = run_with(step(probes_saw, true, node_saw));
    json_t *j = drill_journal(&d, &r);
    json_t *s = json_array_get(json_object_get(j, "run"), KILL_WEB);
    assert_int_equal(json_integer_value(json_object_get(s, "recover_ms")), 70);
    assert_string_equal(json_string_value(json_object_get(s, "figures_from")), "node");
    assert_int_equal(json_integer_value(json_object_get(s, "resolution_ms")), DRILL_SWEEP_MS);
    json_t *p = json_object_get(s, "probes"), *n = json_object_get(s, "node");
    assert_int_equal(json_integer_value(json_object_get(p, "recover_ms")), 217);
    assert_int_equal(json_integer_value(json_object_get(n, "recover_ms")), 70);
    assert_non_null(strstr(json_string_value(json_object_get(n, "what")), "healthy again"));
    json_decref(j);
}

static void test_the_journal_says_null_when_the_node_recorded_nothing(void **state)
{
    (void)state;
    struct drill_run r = run_with(step(probes_saw, false, (struct drill_times){0}));
    json_t *j = drill_journal(&d, &r);
    json_t *s = json_array_get(json_object_get(j, "run"), KILL_WEB);
    assert_true(json_is_null(json_object_get(s, "node")));
    assert_string_equal(json_string_value(json_object_get(s, "figures_from")), "probes");
    json_decref(j);
}

static void test_the_report_shows_the_nodes_figure_and_the_probes(void **state)
{
    (void)state;
    struct drill_run r = run_with(step(probes_saw, true, node_saw));
    char *text = drill_report(&d, &r);
    assert_non_null(strstr(text, "detected in 1ms, recovered in 70ms, SLO 5s (met); by the node: "
                                 "web on n2 healthy again 70ms after the kill; the probes (every "
                                 "100ms) saw: detected in 117ms, recovered in 217ms"));
    free(text);
}

/* The runner's last progress line for a step and the report's say the
 * same figures in the same words: the report's, but for the SLO. */
static void test_the_progress_line_gives_the_reports_figures(void **state)
{
    (void)state;
    struct drill_run r = run_with(step(probes_saw, true, node_saw));
    char line[512], *text = drill_report(&d, &r);
    drill_step_figures(&d.method[KILL_WEB], &r.method[KILL_WEB], line, sizeof line);
    assert_string_equal(line, "detected in 1ms, recovered in 70ms; by the node: web on n2 healthy "
                              "again 70ms after the kill; the probes (every 100ms) saw: detected "
                              "in 117ms, recovered in 217ms");
    assert_non_null(strstr(text, strstr(line, "; by the node")));
    free(text);
}

/* Where the probes' figures stand, they say so, and the node's record
 * follows as what it saw. */
static void test_the_probes_figures_say_they_are_the_probes(void **state)
{
    (void)state;
    struct drill_step_result s = step(probes_saw, true, (struct drill_times){true, 178, true, 178});
    snprintf(s.node.what, sizeof s.node.what, "new leader n1 elected 178ms after the kill");
    drill_step_settle(&d.method[KILL_LEADER], &s);
    char line[512];
    drill_step_figures(&d.method[KILL_LEADER], &s, line, sizeof line);
    assert_string_equal(line, "detected in 117ms, recovered in 217ms; by the probes (every 100ms); "
                              "the node saw: new leader n1 elected 178ms after the kill");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_state_probe_runs_every_sweep),
        cmocka_unit_test(test_a_note_probe_runs_at_most_every_note_sweep),
        cmocka_unit_test(test_the_resolution_is_the_slowest_probes),
        cmocka_unit_test(test_a_killed_service_takes_the_nodes_figures),
        cmocka_unit_test(test_a_reverted_release_takes_the_nodes_figures_over_the_probes),
        cmocka_unit_test(test_a_killed_node_keeps_the_probes_figures),
        cmocka_unit_test(test_a_failure_only_the_node_saw_is_not_masked),
        cmocka_unit_test(test_masked_when_neither_the_probes_nor_the_node_saw_a_failure),
        cmocka_unit_test(test_without_the_nodes_recovery_the_probes_figures_stand),
        cmocka_unit_test(test_measuring_goes_on_while_a_probe_fails),
        cmocka_unit_test(test_a_masked_fault_is_measured_until_its_slo_passes),
        cmocka_unit_test(test_an_isolation_is_not_masked_before_it_ends),
        cmocka_unit_test(test_an_isolation_seen_after_its_slo_misses_it),
        cmocka_unit_test(test_a_relapse_while_the_fault_acts_starts_recovery_over),
        cmocka_unit_test(test_a_service_the_node_saw_restarted_stops_measuring),
        cmocka_unit_test(test_a_deployment_that_ended_stops_measuring_once_the_probes_hold),
        cmocka_unit_test(test_nothing_stops_before_the_slos_clock_starts),
        cmocka_unit_test(test_probes_that_fail_are_given_up_twice_the_slo_and_5s_past_its_start),
        cmocka_unit_test(test_the_journal_keeps_both_sources_and_the_resolution),
        cmocka_unit_test(test_the_journal_says_null_when_the_node_recorded_nothing),
        cmocka_unit_test(test_the_report_shows_the_nodes_figure_and_the_probes),
        cmocka_unit_test(test_the_progress_line_gives_the_reports_figures),
        cmocka_unit_test(test_the_probes_figures_say_they_are_the_probes),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
