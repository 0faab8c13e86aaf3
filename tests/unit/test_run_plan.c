/* The run plan (pipeline/core/run_plan.h): stop-then-start on a change of
 * release, a restart only of what is broken on a new decision for the
 * release running, and the report cadence. The tests play the shell: they
 * say whether services still run and what the ledger desires. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "pipeline/core/run_plan.h"

enum {
    SETTLE = RUN_PLAN_SETTLE,
    STOP = RUN_PLAN_STOP,
    START = RUN_PLAN_START,
    WATCH = RUN_PLAN_WATCH
};

/* A node that runs d1 (decision gen 1), its services up. */
static struct run_plan running_d1(void)
{
    struct run_plan p = {0};
    assert_int_equal(run_plan_tick(&p, PL_H_NONE, false, "d1", 1, false), START | WATCH);
    return p;
}

static void test_a_node_that_runs_nothing_starts_what_it_must_run(void **state)
{
    (void)state;
    struct run_plan p = running_d1();
    assert_string_equal(p.running, "d1");
    assert_int_equal(p.gen, 1);
    assert_false(p.stopping);
}

static void test_a_node_told_to_run_nothing_starts_nothing_and_watches(void **state)
{
    (void)state;
    struct run_plan p = {0};
    assert_int_equal(run_plan_tick(&p, PL_H_NONE, false, "", 0, false), WATCH);
    assert_string_equal(p.running, "");
}

static void test_a_release_that_runs_as_desired_is_only_watched(void **state)
{
    (void)state;
    struct run_plan p = running_d1();
    assert_int_equal(run_plan_tick(&p, PL_H_HEALTHY, true, "d1", 1, false), WATCH);
}

static void test_a_change_of_release_stops_the_old_one_before_anything_starts(void **state)
{
    (void)state;
    struct run_plan p = running_d1();
    assert_int_equal(run_plan_tick(&p, PL_H_HEALTHY, true, "d2", 2, false), STOP);
    assert_true(p.stopping);
    assert_string_equal(p.running, "d1");
}

static void test_nothing_happens_while_services_of_the_old_release_still_run(void **state)
{
    (void)state;
    struct run_plan p = running_d1();
    run_plan_tick(&p, PL_H_HEALTHY, true, "d2", 2, false);
    assert_int_equal(run_plan_tick(&p, PL_H_HEALTHY, true, "d2", 2, false), 0);
    assert_true(p.stopping);
}

static void test_the_new_release_starts_once_the_last_old_service_exited(void **state)
{
    (void)state;
    struct run_plan p = running_d1();
    run_plan_tick(&p, PL_H_HEALTHY, true, "d2", 2, false);
    assert_int_equal(run_plan_tick(&p, PL_H_HEALTHY, false, "d2", 2, false),
                     SETTLE | START | WATCH);
    assert_string_equal(p.running, "d2");
    assert_int_equal(p.gen, 2);
    assert_false(p.stopping);
}

static void test_a_new_decision_during_a_stop_waits_for_the_stop_to_end(void **state)
{
    (void)state;
    struct run_plan p = running_d1();
    run_plan_tick(&p, PL_H_HEALTHY, true, "d2", 2, false);
    assert_int_equal(run_plan_tick(&p, PL_H_HEALTHY, true, "d3", 3, false), 0);
    assert_int_equal(run_plan_tick(&p, PL_H_HEALTHY, false, "d3", 3, false),
                     SETTLE | START | WATCH);
    assert_string_equal(p.running, "d3");
    assert_int_equal(p.gen, 3);
}

static void test_a_crashed_release_with_nothing_left_running_is_replaced_at_once(void **state)
{
    (void)state;
    struct run_plan p = running_d1();
    assert_int_equal(run_plan_tick(&p, PL_H_CRASHED, false, "d2", 2, false),
                     SETTLE | START | WATCH);
    assert_string_equal(p.running, "d2");
}

static void test_a_new_decision_for_a_healthy_release_is_answered_without_a_restart(void **state)
{
    (void)state;
    struct run_plan p = running_d1();
    assert_int_equal(run_plan_tick(&p, PL_H_HEALTHY, true, "d1", 5, false), WATCH);
    assert_int_equal(p.gen, 5);
}

static void test_a_new_decision_for_a_crashed_release_restarts_it_stop_then_start(void **state)
{
    (void)state;
    struct run_plan p = running_d1();
    assert_int_equal(run_plan_tick(&p, PL_H_CRASHED, true, "d1", 2, false), STOP);
    assert_int_equal(p.gen, 1);
    assert_int_equal(run_plan_tick(&p, PL_H_CRASHED, false, "d1", 2, false),
                     SETTLE | START | WATCH);
    assert_string_equal(p.running, "d1");
    assert_int_equal(p.gen, 2);
}

static void test_a_new_decision_for_a_release_that_failed_to_start_starts_it_again(void **state)
{
    (void)state;
    struct run_plan p = running_d1();
    assert_int_equal(run_plan_tick(&p, PL_H_START_FAILED, false, "d1", 2, false),
                     SETTLE | START | WATCH);
    assert_int_equal(p.gen, 2);
}

static void test_a_broken_release_is_not_restarted_without_a_new_decision(void **state)
{
    (void)state;
    struct run_plan p = running_d1();
    assert_int_equal(run_plan_tick(&p, PL_H_CRASHED, true, "d1", 1, false), WATCH);
    assert_int_equal(run_plan_tick(&p, PL_H_START_FAILED, false, "d1", 1, false), WATCH);
    assert_string_equal(p.running, "d1");
}

static void test_told_to_run_nothing_a_node_stops_its_release_then_runs_nothing(void **state)
{
    (void)state;
    struct run_plan p = running_d1();
    assert_int_equal(run_plan_tick(&p, PL_H_HEALTHY, true, "", 3, false), STOP);
    assert_int_equal(run_plan_tick(&p, PL_H_HEALTHY, false, "", 3, false), SETTLE | WATCH);
    assert_string_equal(p.running, "");
    assert_int_equal(p.gen, 3);
}

static struct run_plan_said healthy_on_d1(void)
{
    struct run_plan_said s = {
        .health = PL_H_HEALTHY, .healthy_since = 500, .gen = 3, .leader = 1, .term = 7};
    snprintf(s.deployment, sizeof(s.deployment), "d1");
    return s;
}

static void test_a_report_is_due_at_once_then_every_report_interval(void **state)
{
    (void)state;
    struct run_plan_reports r = {0};
    struct run_plan_said s = healthy_on_d1();
    assert_true(run_plan_report_due(&r, &s, 1000));
    assert_false(run_plan_report_due(&r, &s, 1000 + RUN_PLAN_REPORT_EVERY_MS - 1));
    assert_true(run_plan_report_due(&r, &s, 1000 + RUN_PLAN_REPORT_EVERY_MS));
    r.due = 0; /* news */
    assert_true(run_plan_report_due(&r, &s, 1000 + RUN_PLAN_REPORT_EVERY_MS + 1));
}

/* The keep-alive is slow; a report that says something new goes at once. */
static void test_a_report_that_changed_is_due_at_once(void **state)
{
    (void)state;
    struct run_plan_reports r = {0};
    struct run_plan_said s = healthy_on_d1();
    run_plan_report_due(&r, &s, 1000);
    struct run_plan_said crashed = s;
    crashed.health = PL_H_CRASHED;
    crashed.healthy_since = 0;
    assert_true(run_plan_report_due(&r, &crashed, 1001));
    struct run_plan_said detail = crashed;
    snprintf(detail.detail, sizeof(detail.detail), "web: signal 9");
    assert_true(run_plan_report_due(&r, &detail, 1002));
    struct run_plan_said gen = detail;
    gen.gen = 4; /* it answers a new decision */
    assert_true(run_plan_report_due(&r, &gen, 1003));
    assert_false(run_plan_report_due(&r, &gen, 1004));
}

/* A new leader forgot every report it heard before its term. */
static void test_a_new_leader_or_term_is_told_at_once(void **state)
{
    (void)state;
    struct run_plan_reports r = {0};
    struct run_plan_said s = healthy_on_d1();
    run_plan_report_due(&r, &s, 1000);
    s.leader = 2;
    assert_true(run_plan_report_due(&r, &s, 1001));
    s.term = 8; /* the same leader elected again */
    assert_true(run_plan_report_due(&r, &s, 1002));
}

static void test_a_service_whose_manifest_is_gone_gets_the_default_stop_grace(void **state)
{
    (void)state;
    static struct manifest m;
    m.services[1].stop_grace_ms = 1234;
    assert_int_equal(run_plan_stop_grace(&m, 1), 1234);
    assert_int_equal(run_plan_stop_grace(NULL, 1), 5000);
}

/* A release of n services, each with a port of kind k. */
static struct manifest *release_of(size_t n, enum manifest_port k)
{
    static struct manifest m[4];
    static size_t next;
    struct manifest *r = &m[next++ % 4];
    memset(r, 0, sizeof(*r));
    r->nservices = n;
    for (size_t i = 0; i < n; i++)
        r->services[i].port_kind = k;
    return r;
}

static void test_an_automatic_revert_between_releases_of_auto_ports_may_overlap(void **state)
{
    (void)state;
    assert_true(run_plan_may_overlap(true, release_of(2, MANIFEST_PORT_AUTO),
                                     release_of(1, MANIFEST_PORT_AUTO)));
}

static void test_a_change_that_is_no_automatic_revert_never_overlaps(void **state)
{
    (void)state;
    assert_false(run_plan_may_overlap(false, release_of(1, MANIFEST_PORT_AUTO),
                                      release_of(1, MANIFEST_PORT_AUTO)));
}

static void test_a_fixed_port_or_none_on_either_side_means_stop_then_start(void **state)
{
    (void)state;
    struct manifest *fixed = release_of(2, MANIFEST_PORT_AUTO);
    fixed->services[1].port_kind = MANIFEST_PORT_FIXED;
    fixed->services[1].port = 8080;
    assert_false(run_plan_may_overlap(true, fixed, release_of(1, MANIFEST_PORT_AUTO)));
    assert_false(run_plan_may_overlap(true, release_of(1, MANIFEST_PORT_AUTO), fixed));
    assert_false(run_plan_may_overlap(true, release_of(1, MANIFEST_PORT_NONE),
                                      release_of(1, MANIFEST_PORT_AUTO)));
    assert_false(run_plan_may_overlap(true, NULL, release_of(1, MANIFEST_PORT_AUTO)));
    assert_false(run_plan_may_overlap(true, release_of(1, MANIFEST_PORT_AUTO), NULL));
}

static void
test_an_overlapping_change_stops_the_old_release_and_starts_the_new_at_once(void **state)
{
    (void)state;
    struct run_plan p = running_d1();
    assert_int_equal(run_plan_tick(&p, PL_H_CRASHED, true, "d0", 2, true), STOP | START | WATCH);
    assert_string_equal(p.running, "d0");
    assert_int_equal(p.gen, 2);
    assert_false(p.stopping);
    /* The old processes still exiting are the shell's, not the new release's. */
    assert_int_equal(run_plan_tick(&p, PL_H_STARTING, true, "d0", 2, true), WATCH);
}

static void test_an_overlap_cuts_short_a_stop_already_under_way(void **state)
{
    (void)state;
    struct run_plan p = running_d1();
    assert_int_equal(run_plan_tick(&p, PL_H_HEALTHY, true, "d2", 2, false), STOP);
    assert_int_equal(run_plan_tick(&p, PL_H_HEALTHY, true, "d0", 3, true), STOP | START | WATCH);
    assert_string_equal(p.running, "d0");
    assert_false(p.stopping);
}

static void test_an_overlap_with_nothing_left_running_is_an_ordinary_replacement(void **state)
{
    (void)state;
    struct run_plan p = running_d1();
    assert_int_equal(run_plan_tick(&p, PL_H_CRASHED, false, "d0", 2, true), SETTLE | START | WATCH);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_node_that_runs_nothing_starts_what_it_must_run),
        cmocka_unit_test(test_a_node_told_to_run_nothing_starts_nothing_and_watches),
        cmocka_unit_test(test_a_release_that_runs_as_desired_is_only_watched),
        cmocka_unit_test(test_a_change_of_release_stops_the_old_one_before_anything_starts),
        cmocka_unit_test(test_nothing_happens_while_services_of_the_old_release_still_run),
        cmocka_unit_test(test_the_new_release_starts_once_the_last_old_service_exited),
        cmocka_unit_test(test_a_new_decision_during_a_stop_waits_for_the_stop_to_end),
        cmocka_unit_test(test_a_crashed_release_with_nothing_left_running_is_replaced_at_once),
        cmocka_unit_test(test_a_new_decision_for_a_healthy_release_is_answered_without_a_restart),
        cmocka_unit_test(test_a_new_decision_for_a_crashed_release_restarts_it_stop_then_start),
        cmocka_unit_test(test_a_new_decision_for_a_release_that_failed_to_start_starts_it_again),
        cmocka_unit_test(test_a_broken_release_is_not_restarted_without_a_new_decision),
        cmocka_unit_test(test_told_to_run_nothing_a_node_stops_its_release_then_runs_nothing),
        cmocka_unit_test(test_a_report_is_due_at_once_then_every_report_interval),
        cmocka_unit_test(test_a_report_that_changed_is_due_at_once),
        cmocka_unit_test(test_a_new_leader_or_term_is_told_at_once),
        cmocka_unit_test(test_a_service_whose_manifest_is_gone_gets_the_default_stop_grace),
        cmocka_unit_test(test_an_automatic_revert_between_releases_of_auto_ports_may_overlap),
        cmocka_unit_test(test_a_change_that_is_no_automatic_revert_never_overlaps),
        cmocka_unit_test(test_a_fixed_port_or_none_on_either_side_means_stop_then_start),
        cmocka_unit_test(
            test_an_overlapping_change_stops_the_old_release_and_starts_the_new_at_once),
        cmocka_unit_test(test_an_overlap_cuts_short_a_stop_already_under_way),
        cmocka_unit_test(test_an_overlap_with_nothing_left_running_is_an_ordinary_replacement),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
