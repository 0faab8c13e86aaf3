/* The recovery watchtower beyond exits: liveness restarts (Kubernetes'
 * livenessProbe), strays, the recovery record with its time to recover,
 * the MTTR histogram, and the leader's revert-or-mark-failed decision. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "node/base/histogram.h"
#include "test_watchtower_support.h"

static struct wt w;

/* "web" healthy since 1 s. */
static void healthy_web(void)
{
    setup_spec(&w, web_spec(WT_MODE_DELAY, true));
    check(&w, true, 1 * SEC);
}

/* "web" (pid 100) fails its checks from 10 s, is stopped for it at 13 s,
 * exits of the SIGTERM at 13.02 s, is restarted and runs again as pid 101
 * from 13.05 s. */
static void restarted_for_liveness(void)
{
    healthy_web();
    check(&w, false, 10 * SEC);
    check(&w, false, 13 * SEC);
    exited(&w, 100, 15, 13 * SEC + 20);
    started(&w, 101, 13 * SEC + 50);
}

static void test_a_health_check_failing_past_the_liveness_time_restarts_the_service(void **state)
{
    (void)state;
    healthy_web();
    check(&w, false, 10 * SEC);
    check(&w, false, 11 * SEC);
    struct wt_actions *out = check(&w, false, 13 * SEC);
    assert_int_equal(out->n, 1);
    assert_int_equal(out->a[0].kind, WT_ACT_STOP);
    assert_int_equal(out->a[0].pid, 100);
    assert_false(out->a[0].stray);
    assert_int_equal(out->a[0].cause.kind, WT_CAUSE_LIVENESS);
    assert_int_equal(out->a[0].cause.code, 3 * SEC);
    /* Its exit (of the stop's SIGTERM) is the cue: restarted at once, for
     * liveness. */
    out = exited(&w, 100, 15, 13 * SEC + 20);
    assert_int_equal(out->n, 1);
    assert_int_equal(out->a[0].kind, WT_ACT_RESTART);
    assert_int_equal(out->a[0].attempt, 1);
    assert_int_equal(out->a[0].cause.kind, WT_CAUSE_LIVENESS);
}

/* The defect the drills bench found: the restart was counted when the stop
 * was asked for, and again by a tick while the stopped process had not
 * exited yet ("restarting ... attempt 1", then "restarted ... attempt 2"). */
static void test_a_liveness_restart_waits_for_the_exit_and_counts_one_attempt(void **state)
{
    (void)state;
    healthy_web();
    check(&w, false, 10 * SEC);
    assert_int_equal(count_actions(check(&w, false, 13 * SEC), WT_ACT_RESTART), 0);
    assert_int_equal(wt_next_due(&w), UINT64_MAX); /* nothing to do before the exit */
    assert_int_equal(count_actions(tick(&w, 13 * SEC + 10), WT_ACT_RESTART), 0);
    assert_int_equal(count_actions(check(&w, false, 13 * SEC + 15), WT_ACT_RESTART), 0);
    assert_int_equal(count_actions(exited(&w, 100, 15, 13 * SEC + 20), WT_ACT_RESTART), 1);
    started(&w, 101, 13 * SEC + 50);
    assert_int_equal(count_actions(tick(&w, 14 * SEC), WT_ACT_RESTART), 0);
    const struct wt_action *a = find_action(check(&w, true, 14 * SEC), WT_ACT_RECORD);
    assert_non_null(a);
    assert_int_equal(a->recovery.attempts, 1);
    assert_int_equal(wt_find(&w, "web")->restarts, 1);
    assert_int_equal(wt_find(&w, "web")->window_count, 1);
}

static void test_a_liveness_stop_of_a_backed_off_service_restarts_it_after_the_backoff(void **state)
{
    (void)state;
    healthy_web();
    exited(&w, 100, 9, 5 * SEC); /* attempt 1, at once */
    started(&w, 101, 5 * SEC);
    check(&w, true, 6 * SEC);
    check(&w, false, 10 * SEC);
    check(&w, false, 13 * SEC);
    struct wt_actions *out = exited(&w, 101, 15, 13 * SEC + 20);
    const struct wt_action *later = find_action(out, WT_ACT_RESTART_AT);
    assert_non_null(later);
    assert_int_equal(later->attempt, 2);
    assert_int_equal(later->at_ms, 14 * SEC + 20); /* delay 1 s */
    assert_int_equal(count_actions(tick(&w, 14 * SEC), WT_ACT_RESTART), 0);
    assert_int_equal(count_actions(tick(&w, 14 * SEC + 20), WT_ACT_RESTART), 1);
}

static void
test_a_health_check_failing_for_less_than_the_liveness_time_is_not_restarted(void **state)
{
    (void)state;
    healthy_web();
    check(&w, false, 10 * SEC);
    assert_int_equal(check(&w, false, 12 * SEC)->n, 0);
    assert_int_equal(tick(&w, 13 * SEC - 1)->n, 0);
    assert_int_equal(wt_find(&w, "web")->state, WT_S_UNHEALTHY);
}

static void test_the_liveness_deadline_is_also_judged_on_a_tick(void **state)
{
    (void)state;
    healthy_web();
    check(&w, false, 10 * SEC);
    assert_int_equal(wt_next_due(&w), 13 * SEC);
    struct wt_actions *out = tick(&w, 13 * SEC);
    assert_int_equal(out->a[0].kind, WT_ACT_STOP);
}

static void test_a_passing_check_resets_the_liveness_streak(void **state)
{
    (void)state;
    healthy_web();
    check(&w, false, 10 * SEC);
    check(&w, false, 12 * SEC);
    check(&w, true, 12 * SEC + 500);
    check(&w, false, 13 * SEC);
    assert_int_equal(check(&w, false, 15 * SEC)->n, 0); /* 2 s of a new streak */
    assert_int_equal(check(&w, false, 16 * SEC)->a[0].kind, WT_ACT_STOP);
}

static void test_failing_checks_during_the_start_grace_are_not_held_against_a_start(void **state)
{
    (void)state;
    struct wt_service_spec s = web_spec(WT_MODE_DELAY, true);
    s.start_grace_ms = 10 * SEC;
    setup_spec(&w, s);
    for (uint64_t t = 0; t < 10 * SEC; t += SEC)
        assert_int_equal(check(&w, false, t)->n, 0);
    check(&w, false, 10 * SEC);
    assert_int_equal(check(&w, false, 12 * SEC)->n, 0);
    assert_int_equal(check(&w, false, 13 * SEC)->a[0].kind, WT_ACT_STOP);
}

static void test_a_new_process_of_a_healthy_service_gets_the_start_grace(void **state)
{
    (void)state;
    struct wt_service_spec s = web_spec(WT_MODE_DELAY, true);
    s.start_grace_ms = 10 * SEC;
    setup_spec(&w, s);
    check(&w, true, 1 * SEC);
    started(&w, 101, 20 * SEC); /* started anew by the shell itself, while healthy */
    check(&w, false, 21 * SEC);
    assert_int_equal(check(&w, false, 25 * SEC)->n, 0);
}

static void test_a_tick_from_before_a_failing_streak_began_does_not_restart(void **state)
{
    (void)state;
    healthy_web();
    check(&w, false, 10 * SEC);
    assert_int_equal(tick(&w, 10 * SEC - 1)->n, 0);
}

static void test_the_exit_of_a_process_stopped_for_liveness_is_not_another_failure(void **state)
{
    (void)state;
    restarted_for_liveness();
    assert_int_equal(exited(&w, 100, 15, 13 * SEC + 60)->n, 0);
}

static void test_a_marked_process_no_release_wants_is_stopped(void **state)
{
    (void)state;
    healthy_web();
    struct wt_actions *out =
        feed(&w, (struct wt_event){.kind = WT_EV_MARKED, .at_ms = 5, .pid = 4242});
    assert_int_equal(out->n, 1);
    assert_int_equal(out->a[0].kind, WT_ACT_STOP);
    assert_int_equal(out->a[0].pid, 4242);
    assert_true(out->a[0].stray);
    assert_string_equal(out->a[0].service, "");
}

static void test_the_process_of_a_wanted_service_is_not_a_stray(void **state)
{
    (void)state;
    healthy_web();
    assert_int_equal(feed(&w, (struct wt_event){.kind = WT_EV_MARKED, .at_ms = 5, .pid = 100})->n,
                     0);
}

static void test_a_recovery_records_cause_attempts_and_time_to_recover(void **state)
{
    (void)state;
    healthy_web();
    uint64_t t = crash_and_restart(&w, 100, 5 * SEC); /* exit at 5 s, restarted at once */
    t = crash_and_restart(&w, 101, t + 100);          /* again: after 1 s */
    struct wt_actions *out = check(&w, true, t + 412);
    const struct wt_action *a = find_action(out, WT_ACT_RECORD);
    assert_non_null(a);
    const struct wt_recovery *r = &a->recovery;
    assert_string_equal(r->node, "n2");
    assert_string_equal(r->service, "web");
    assert_int_equal(r->cause.kind, WT_CAUSE_SIGNAL);
    assert_int_equal(r->cause.code, 9);
    assert_int_equal(r->attempts, 2);
    assert_int_equal(r->failed_at_ms, 5 * SEC);
    assert_int_equal(r->healthy_at_ms, t + 412);
    assert_int_equal(r->ttr_ms, t + 412 - 5 * SEC);
    assert_false(r->was_failed);
    assert_int_equal(check(&w, true, t + 1000)->n, 0); /* recorded once */
}

static void test_a_service_counts_its_restarts_and_keeps_its_last_cause(void **state)
{
    (void)state;
    healthy_web();
    uint64_t t = crash_and_restart(&w, 100, 5 * SEC);
    t = crash_and_restart(&w, 101, t + 100);
    const struct wt_service *s = wt_find(&w, "web");
    assert_int_equal(s->restarts, 2);
    assert_int_equal(s->last_cause.kind, WT_CAUSE_SIGNAL);
    assert_int_equal(s->last_cause.code, 9);
    check(&w, true, t + 412);
    assert_int_equal(wt_find(&w, "web")->restarts, 2); /* recovered: still counted */
}

static void test_a_crash_loop_report_is_repeated_with_a_doubling_wait_up_to_a_cap(void **state)
{
    (void)state;
    assert_int_equal(wt_loop_resend_ms(1), WT_LOOP_RESEND_MIN_MS);
    assert_int_equal(wt_loop_resend_ms(2), 2 * WT_LOOP_RESEND_MIN_MS);
    assert_int_equal(wt_loop_resend_ms(3), 4 * WT_LOOP_RESEND_MIN_MS);
    assert_int_equal(wt_loop_resend_ms(5), WT_LOOP_RESEND_MAX_MS);
    assert_int_equal(wt_loop_resend_ms(1000), WT_LOOP_RESEND_MAX_MS);
    assert_int_equal(wt_loop_resend_ms(UINT32_MAX), WT_LOOP_RESEND_MAX_MS);
}

static void test_mttr_keeps_the_longest_and_the_median_of_the_last_recoveries(void **state)
{
    (void)state;
    struct wt_mttr m;
    memset(&m, 0, sizeof m);
    assert_int_equal(wt_mttr_p50(&m), 0);
    const uint64_t ttr[] = {900, 100, 400, 300, 200};
    for (size_t i = 0; i < 5; i++)
        wt_mttr_observe(&m, ttr[i]);
    assert_int_equal(m.count, 5);
    assert_int_equal(m.max_ms, 900);
    assert_int_equal(wt_mttr_p50(&m), 300);
    /* WT_MTTR_RECENT fast ones later, the median is theirs; the max stays. */
    for (size_t i = 0; i < WT_MTTR_RECENT; i++)
        wt_mttr_observe(&m, 50);
    assert_int_equal(wt_mttr_p50(&m), 50);
    assert_int_equal(m.max_ms, 900);
}

static void test_a_liveness_recovery_is_timed_from_the_first_failing_check(void **state)
{
    (void)state;
    restarted_for_liveness();
    const struct wt_action *a = find_action(check(&w, true, 14 * SEC), WT_ACT_RECORD);
    assert_non_null(a);
    assert_int_equal(a->recovery.cause.kind, WT_CAUSE_LIVENESS);
    assert_int_equal(a->recovery.ttr_ms, 4 * SEC);
    assert_int_equal(a->recovery.attempts, 1);
}

static void test_checks_that_fail_and_pass_again_without_a_restart_are_no_recovery(void **state)
{
    (void)state;
    healthy_web();
    check(&w, false, 10 * SEC);
    assert_int_equal(check(&w, true, 11 * SEC)->n, 0);
    assert_int_equal(wt_find(&w, "web")->mttr.count, 0);
}

static void test_a_service_without_a_check_has_recovered_when_it_starts_again(void **state)
{
    (void)state;
    setup_spec(&w, web_spec(WT_MODE_DELAY, false));
    exited(&w, 100, 0, 1 * SEC);
    const struct wt_action *a = find_action(started(&w, 101, 1 * SEC + 30), WT_ACT_RECORD);
    assert_non_null(a);
    assert_int_equal(a->recovery.cause.kind, WT_CAUSE_EXIT);
    assert_int_equal(a->recovery.ttr_ms, 30);
}

static void test_a_recovery_after_a_mark_failed_clears_it(void **state)
{
    (void)state;
    setup_spec(&w, web_spec(WT_MODE_DELAY, true));
    uint64_t t = use_every_attempt(&w);
    t = crash_and_restart(&w, 103, t); /* the crash loop, restarted at max_delay */
    feed(&w,
         (struct wt_event){.kind = WT_EV_VERDICT, .at_ms = t, .verdict = WT_VERDICT_MARK_FAILED});
    const struct wt_action *a = find_action(check(&w, true, t + 10), WT_ACT_RECORD);
    assert_non_null(a);
    assert_true(a->recovery.was_failed);
    assert_int_equal(a->recovery.attempts, 4);
    assert_false(wt_find(&w, "web")->marked_failed);
}

static void test_mttr_counts_times_to_recover_with_their_sum_max_and_median(void **state)
{
    (void)state;
    setup_spec(&w, web_spec(WT_MODE_DELAY, false));
    /* recoveries of 30 ms, 400 ms and 2 s, each in its own interval */
    exited(&w, 100, 9, 0);
    started(&w, 101, 30);
    exited(&w, 101, 9, 100 * SEC);
    started(&w, 102, 100 * SEC + 400);
    exited(&w, 102, 9, 200 * SEC);
    started(&w, 103, 200 * SEC + 2 * SEC); /* as if the shell took 2 s to start it */
    const struct wt_mttr *m = &wt_find(&w, "web")->mttr;
    assert_int_equal(m->count, 3);
    assert_int_equal(m->sum_ms, 30 + 400 + 2000);
    assert_int_equal(m->max_ms, 2000);
    assert_int_equal(wt_mttr_p50(m), 400);
}

/* Each recovery's record, observed as node/chaos/watch.c does into the
 * node's histogram of them (/metrics, chimera_recovery_time_seconds). */
static void observe_recovery(struct histogram *h, const struct wt_actions *out)
{
    const struct wt_action *a = find_action(out, WT_ACT_RECORD);
    assert_non_null(a);
    histogram_observe(h, (double)a->recovery.ttr_ms / 1000.0);
}

static void test_recoveries_fall_in_the_metrics_buckets_of_their_times(void **state)
{
    (void)state;
    struct histogram h = {0};
    histogram_init(&h, wt_mttr_bounds_s, WT_MTTR_NBUCKETS);
    assert_int_equal(h.nb, WT_MTTR_NBUCKETS); /* none cut off */
    setup_spec(&w, web_spec(WT_MODE_DELAY, false));
    /* recoveries of 30 ms, 400 ms and 2 s, each in its own interval */
    exited(&w, 100, 9, 0);
    observe_recovery(&h, started(&w, 101, 30));
    exited(&w, 101, 9, 100 * SEC);
    observe_recovery(&h, started(&w, 102, 100 * SEC + 400));
    exited(&w, 102, 9, 200 * SEC);
    observe_recovery(&h, started(&w, 103, 200 * SEC + 2 * SEC));
    /* le 0.05, 0.1, 0.25, 0.5, 1, 2.5, ...: one each in 0.05, 0.5 and 2.5 */
    uint64_t want[WT_MTTR_NBUCKETS + 1] = {[0] = 1, [3] = 1, [5] = 1};
    for (size_t b = 0; b <= WT_MTTR_NBUCKETS; b++)
        if (h.count[b] != want[b])
            fail_msg("bucket le=%g holds %llu recoveries, want %llu",
                     b < WT_MTTR_NBUCKETS ? wt_mttr_bounds_s[b] : -1.0,
                     (unsigned long long)h.count[b], (unsigned long long)want[b]);
    assert_int_equal(h.n, 3);
    assert_true(h.sum > 2.429 && h.sum < 2.431);
}

static void test_mttr_is_kept_across_a_release_change(void **state)
{
    (void)state;
    setup_spec(&w, web_spec(WT_MODE_DELAY, false));
    exited(&w, 100, 9, 0);
    started(&w, 101, 30);
    struct wt_service_spec s = web_spec(WT_MODE_DELAY, false);
    set_release(&w, &s, 1, 1 * SEC);
    assert_int_equal(wt_find(&w, "web")->mttr.count, 1);
}

static void test_the_leader_reverts_a_crash_loop_of_a_release_still_rolling_out(void **state)
{
    (void)state;
    struct wt_release_age rel = {.stage = WT_REL_ROLLING_OUT, .has_previous = true};
    assert_int_equal(wt_leader_decide(&rel, 300 * SEC, 1000 * SEC), WT_VERDICT_REVERT);
}

static void test_the_leader_reverts_a_release_stable_for_less_than_the_window(void **state)
{
    (void)state;
    struct wt_release_age rel = {
        .stage = WT_REL_STABLE, .stable_since_ms = 800 * SEC, .has_previous = true};
    assert_int_equal(wt_leader_decide(&rel, 300 * SEC, 1000 * SEC), WT_VERDICT_REVERT);
    assert_int_equal(wt_leader_decide(&rel, 300 * SEC, 1100 * SEC - 1), WT_VERDICT_REVERT);
}

static void test_the_leader_marks_failed_when_the_release_is_stable_for_the_window(void **state)
{
    (void)state;
    struct wt_release_age rel = {
        .stage = WT_REL_STABLE, .stable_since_ms = 800 * SEC, .has_previous = true};
    assert_int_equal(wt_leader_decide(&rel, 300 * SEC, 1100 * SEC), WT_VERDICT_MARK_FAILED);
}

static void test_the_leader_never_reverts_a_rollback_or_without_a_previous_release(void **state)
{
    (void)state;
    struct wt_release_age rel = {.stage = WT_REL_ROLLING_BACK, .has_previous = true};
    assert_int_equal(wt_leader_decide(&rel, 300 * SEC, 0), WT_VERDICT_MARK_FAILED);
    rel = (struct wt_release_age){.stage = WT_REL_ROLLING_OUT, .has_previous = false};
    assert_int_equal(wt_leader_decide(&rel, 300 * SEC, 0), WT_VERDICT_MARK_FAILED);
}

/* Its auto_revert reverts it already, or the operator turned that off. */
static void test_the_leader_never_reverts_a_failed_release(void **state)
{
    (void)state;
    struct wt_release_age rel = {
        .stage = WT_REL_FAILED, .stable_since_ms = 1000 * SEC, .has_previous = true};
    assert_int_equal(wt_leader_decide(&rel, 300 * SEC, 1000 * SEC), WT_VERDICT_MARK_FAILED);
}

/* web crashes (signal 9) and is restarted, then its new process exits 1
 * before it was healthy again: the backoff's restart is for exit 1, the
 * episode began with signal 9. */
static void test_a_backoff_restart_names_the_latest_cause_and_the_first(void **state)
{
    (void)state;
    setup_spec(&w, web_spec(WT_MODE_DELAY, true));
    exited(&w, 100, 9, 0);
    started(&w, 101, 0);
    const struct wt_action *later = find_action(exited(&w, 101, 0, 1 * SEC), WT_ACT_RESTART_AT);
    assert_non_null(later);
    assert_int_equal(later->cause.kind, WT_CAUSE_EXIT);
    const struct wt_action *a = find_action(tick(&w, later->at_ms), WT_ACT_RESTART);
    assert_non_null(a);
    assert_int_equal(a->cause.kind, WT_CAUSE_EXIT);
    assert_int_equal(a->cause.code, 1);
    assert_int_equal(a->first_cause.kind, WT_CAUSE_SIGNAL);
    char b[96];
    wt_action_cause_text(a, b, sizeof b);
    assert_string_equal(b, "exit 1 (first signal 9)");
}

static void test_a_mark_failed_verdict_names_the_latest_cause(void **state)
{
    (void)state;
    setup_spec(&w, web_spec(WT_MODE_DELAY, true));
    uint64_t t = use_every_attempt(&w); /* signal 9, three times */
    assert_non_null(find_action(exited(&w, 103, 0, t + 10), WT_ACT_REPORT_CRASH_LOOP));
    const struct wt_action *a =
        find_action(feed(&w, (struct wt_event){.kind = WT_EV_VERDICT,
                                               .at_ms = t + 20,
                                               .verdict = WT_VERDICT_MARK_FAILED}),
                    WT_ACT_MARK_FAILED);
    assert_non_null(a);
    assert_int_equal(a->cause.kind, WT_CAUSE_EXIT);
    assert_int_equal(a->first_cause.kind, WT_CAUSE_SIGNAL);
}

static void test_one_cause_throughout_reads_once(void **state)
{
    (void)state;
    struct wt_action a = {.cause = {WT_CAUSE_SIGNAL, 9}, .first_cause = {WT_CAUSE_SIGNAL, 9}};
    char b[96];
    wt_action_cause_text(&a, b, sizeof b);
    assert_string_equal(b, "signal 9");
    a.first_cause.kind = 0;
    wt_action_cause_text(&a, b, sizeof b);
    assert_string_equal(b, "signal 9");
}

/* A revert verdict is the leader's intent: the leader may lose its place
 * before the rollback commits (the drills bench saw the bad release stay
 * up), so the node keeps reporting until its ledger wants another release. */
static void test_a_revert_verdict_does_not_end_a_crash_loop_report(void **state)
{
    (void)state;
    assert_false(wt_loop_verdict_is_outcome(WT_VERDICT_REVERT));
}

static void test_a_mark_failed_verdict_ends_a_crash_loop_report(void **state)
{
    (void)state;
    assert_true(wt_loop_verdict_is_outcome(WT_VERDICT_MARK_FAILED));
}

static void test_a_leader_decides_a_report_about_the_release_its_ledger_wants(void **state)
{
    (void)state;
    struct wt_report_view v = {
        .about_desired = true, .own_term_committed = true, .state_applied = true};
    assert_int_equal(wt_report_answer(&v), WT_ANSWER_DECIDE);
}

/* Its predecessor's revert may still be in its log, uncommitted: deciding
 * now could revert a second time. */
static void test_a_new_leader_answers_only_once_its_own_term_is_committed(void **state)
{
    (void)state;
    struct wt_report_view v = {
        .about_desired = true, .own_term_committed = false, .state_applied = true};
    assert_int_equal(wt_report_answer(&v), WT_ANSWER_LATER);
    v = (struct wt_report_view){
        .about_desired = true, .own_term_committed = true, .state_applied = false};
    assert_int_equal(wt_report_answer(&v), WT_ANSWER_LATER);
}

static void test_a_report_about_a_release_already_reverted_gets_no_verdict(void **state)
{
    (void)state;
    struct wt_report_view v = {
        .about_desired = false, .own_term_committed = true, .state_applied = true};
    assert_int_equal(wt_report_answer(&v), WT_ANSWER_STALE);
}

static void test_causes_read_as_the_events_say_them(void **state)
{
    (void)state;
    char b[64];
    wt_cause_text(&(struct wt_cause){WT_CAUSE_EXIT, 137}, b, sizeof b);
    assert_string_equal(b, "exit 137");
    wt_cause_text(&(struct wt_cause){WT_CAUSE_SIGNAL, 9}, b, sizeof b);
    assert_string_equal(b, "signal 9");
    wt_cause_text(&(struct wt_cause){WT_CAUSE_LIVENESS, 3000}, b, sizeof b);
    assert_string_equal(b, "liveness failing 3s");
}

static void test_a_recovery_reads_as_the_issue_words_it(void **state)
{
    (void)state;
    struct wt_recovery r = {.node = "n2",
                            .service = "web",
                            .cause = {WT_CAUSE_EXIT, 137},
                            .attempts = 2,
                            .ttr_ms = 412};
    char b[160];
    wt_recovery_text(&r, b, sizeof b);
    assert_string_equal(b, "service web on n2 after exit 137, attempt 2, healthy again in 412ms");
    r.ttr_ms = 2685; /* as a drill report writes it */
    wt_recovery_text(&r, b, sizeof b);
    assert_string_equal(b, "service web on n2 after exit 137, attempt 2, healthy again in 2s685ms");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_health_check_failing_past_the_liveness_time_restarts_the_service),
        cmocka_unit_test(
            test_a_health_check_failing_for_less_than_the_liveness_time_is_not_restarted),
        cmocka_unit_test(test_the_liveness_deadline_is_also_judged_on_a_tick),
        cmocka_unit_test(test_a_passing_check_resets_the_liveness_streak),
        cmocka_unit_test(test_failing_checks_during_the_start_grace_are_not_held_against_a_start),
        cmocka_unit_test(test_a_new_process_of_a_healthy_service_gets_the_start_grace),
        cmocka_unit_test(test_a_tick_from_before_a_failing_streak_began_does_not_restart),
        cmocka_unit_test(test_the_exit_of_a_process_stopped_for_liveness_is_not_another_failure),
        cmocka_unit_test(test_a_marked_process_no_release_wants_is_stopped),
        cmocka_unit_test(test_the_process_of_a_wanted_service_is_not_a_stray),
        cmocka_unit_test(test_a_recovery_records_cause_attempts_and_time_to_recover),
        cmocka_unit_test(test_a_liveness_recovery_is_timed_from_the_first_failing_check),
        cmocka_unit_test(test_checks_that_fail_and_pass_again_without_a_restart_are_no_recovery),
        cmocka_unit_test(test_a_service_without_a_check_has_recovered_when_it_starts_again),
        cmocka_unit_test(test_a_recovery_after_a_mark_failed_clears_it),
        cmocka_unit_test(test_mttr_counts_times_to_recover_with_their_sum_max_and_median),
        cmocka_unit_test(test_recoveries_fall_in_the_metrics_buckets_of_their_times),
        cmocka_unit_test(test_mttr_is_kept_across_a_release_change),
        cmocka_unit_test(test_the_leader_reverts_a_crash_loop_of_a_release_still_rolling_out),
        cmocka_unit_test(test_the_leader_reverts_a_release_stable_for_less_than_the_window),
        cmocka_unit_test(test_the_leader_marks_failed_when_the_release_is_stable_for_the_window),
        cmocka_unit_test(test_the_leader_never_reverts_a_rollback_or_without_a_previous_release),
        cmocka_unit_test(test_the_leader_never_reverts_a_failed_release),
        cmocka_unit_test(test_causes_read_as_the_events_say_them),
        cmocka_unit_test(test_a_recovery_reads_as_the_issue_words_it),
        cmocka_unit_test(test_a_service_counts_its_restarts_and_keeps_its_last_cause),
        cmocka_unit_test(test_mttr_keeps_the_longest_and_the_median_of_the_last_recoveries),
        cmocka_unit_test(test_a_crash_loop_report_is_repeated_with_a_doubling_wait_up_to_a_cap),
        cmocka_unit_test(test_a_liveness_restart_waits_for_the_exit_and_counts_one_attempt),
        cmocka_unit_test(
            test_a_liveness_stop_of_a_backed_off_service_restarts_it_after_the_backoff),
        cmocka_unit_test(test_a_backoff_restart_names_the_latest_cause_and_the_first),
        cmocka_unit_test(test_a_mark_failed_verdict_names_the_latest_cause),
        cmocka_unit_test(test_one_cause_throughout_reads_once),
        cmocka_unit_test(test_a_revert_verdict_does_not_end_a_crash_loop_report),
        cmocka_unit_test(test_a_mark_failed_verdict_ends_a_crash_loop_report),
        cmocka_unit_test(test_a_leader_decides_a_report_about_the_release_its_ledger_wants),
        cmocka_unit_test(test_a_new_leader_answers_only_once_its_own_term_is_committed),
        cmocka_unit_test(test_a_report_about_a_release_already_reverted_gets_no_verdict),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
