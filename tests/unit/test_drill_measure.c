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
    "\"target\": \"follower\", \"duration\": \"2s\"}, \"slo\": {\"recover_within\": \"5s\"}}]}";

enum { KILL_WEB, KILL_LEADER, BAD_RELEASE, CUT };

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
    snprintf(s.node.what, sizeof s.node.what, "web on n2 healthy again 70 ms after the kill");
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
    assert_false(drill_measure_done(&d.method[KILL_WEB], &s, false, true, true, true));
}

static void test_a_masked_fault_is_measured_until_its_slo_passes(void **state)
{
    (void)state;
    struct drill_step_result s = step(probes_masked, false, (struct drill_times){0});
    s.probes.recovered = false;
    assert_false(drill_measure_done(&d.method[CUT], &s, true, true, false, false));
    assert_true(drill_measure_done(&d.method[CUT], &s, true, true, false, true));
}

static void test_a_service_the_node_saw_restarted_stops_measuring(void **state)
{
    (void)state;
    struct drill_step_result s = step(probes_masked, true, node_saw);
    assert_true(drill_measure_done(&d.method[KILL_WEB], &s, true, true, false, false));
}

static void test_a_deployment_that_ended_stops_measuring_once_the_probes_hold(void **state)
{
    (void)state;
    struct drill_step_result s = step(probes_masked, false, (struct drill_times){0});
    assert_true(drill_measure_done(&d.method[BAD_RELEASE], &s, true, true, true, false));
}

static void test_nothing_stops_before_the_slos_clock_starts(void **state)
{
    (void)state;
    struct drill_step_result s = step(probes_saw, true, node_saw);
    assert_false(drill_measure_done(&d.method[CUT], &s, true, false, true, true));
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
    assert_non_null(strstr(text, "recovered in 70ms"));
    assert_non_null(strstr(text, "node: web on n2 healthy again 70 ms after the kill"));
    assert_non_null(strstr(text, "probes every 100ms saw: detected in 117ms, recovered in 217ms"));
    free(text);
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
        cmocka_unit_test(test_a_service_the_node_saw_restarted_stops_measuring),
        cmocka_unit_test(test_a_deployment_that_ended_stops_measuring_once_the_probes_hold),
        cmocka_unit_test(test_nothing_stops_before_the_slos_clock_starts),
        cmocka_unit_test(test_the_journal_keeps_both_sources_and_the_resolution),
        cmocka_unit_test(test_the_journal_says_null_when_the_node_recorded_nothing),
        cmocka_unit_test(test_the_report_shows_the_nodes_figure_and_the_probes),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
