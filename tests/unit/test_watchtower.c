/* The recovery watchtower's restarts (Nomad's restart block with
 * exponential backoff): at once the first time, then delay * 2^(n-2) with
 * a downward jitter of at most a quarter, capped; attempts counted within
 * the interval; a crash loop reported once; modes delay and fail. The
 * support header plays the shell. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_watchtower_support.h"

static struct wt w;

static void test_a_first_exit_is_restarted_at_once(void **state)
{
    (void)state;
    setup_spec(&w, web_spec(WT_MODE_DELAY, true));
    struct wt_actions *out = exited(&w, 100, 9, 5 * SEC);
    assert_int_equal(out->n, 1);
    assert_int_equal(out->a[0].kind, WT_ACT_RESTART);
    assert_string_equal(out->a[0].service, "web");
    assert_int_equal(out->a[0].at_ms, 5 * SEC);
    assert_int_equal(out->a[0].attempt, 1);
    assert_int_equal(out->a[0].cause.kind, WT_CAUSE_SIGNAL);
    assert_int_equal(out->a[0].cause.code, 9);
}

static void test_later_exits_back_off_exponentially_from_delay(void **state)
{
    (void)state;
    setup_spec(&w, web_spec(WT_MODE_DELAY, true));
    crash_and_restart(&w, 100, 0); /* attempt 1: at once */
    struct wt_actions *out = exited(&w, 101, 9, 100);
    const struct wt_action *a = find_action(out, WT_ACT_RESTART_AT);
    assert_non_null(a);
    assert_int_equal(a->attempt, 2);
    assert_int_equal(a->at_ms, 100 + 1 * SEC);
    tick(&w, a->at_ms);
    started(&w, 102, a->at_ms);
    out = exited(&w, 102, 9, 2 * SEC);
    a = find_action(out, WT_ACT_RESTART_AT);
    assert_non_null(a);
    assert_int_equal(a->attempt, 3);
    assert_int_equal(a->at_ms, 2 * SEC + 2 * SEC);
}

static void test_a_restart_waits_for_its_due_time_then_happens_on_a_tick(void **state)
{
    (void)state;
    setup_spec(&w, web_spec(WT_MODE_DELAY, true));
    crash_and_restart(&w, 100, 0);
    exited(&w, 101, 9, 0);
    assert_int_equal(wt_next_due(&w), 1 * SEC);
    assert_int_equal(tick(&w, 1 * SEC - 1)->n, 0);
    struct wt_actions *out = tick(&w, 1 * SEC);
    assert_int_equal(out->n, 1);
    assert_int_equal(out->a[0].kind, WT_ACT_RESTART);
    assert_int_equal(out->a[0].attempt, 2);
    assert_int_equal(tick(&w, 2 * SEC)->n, 0); /* once */
}

static void test_jitter_shortens_a_backoff_by_at_most_a_quarter(void **state)
{
    (void)state;
    setup_spec(&w, web_spec(WT_MODE_DELAY, true));
    crash_and_restart(&w, 100, 0);
    jitter_value = UINT32_MAX; /* the largest jitter the generator can give */
    const struct wt_action *a = find_action(exited(&w, 101, 9, 0), WT_ACT_RESTART_AT);
    assert_non_null(a);
    assert_true(a->at_ms > 3 * SEC / 4);
    assert_true(a->at_ms < 1 * SEC);
    tick(&w, a->at_ms);
    started(&w, 102, a->at_ms);
    jitter_value = 1u << 31; /* one half */
    uint64_t t = a->at_ms;
    a = find_action(exited(&w, 102, 9, t), WT_ACT_RESTART_AT);
    assert_non_null(a);
    assert_int_equal(a->at_ms - t, 2 * SEC - 2 * SEC / 8); /* half of the quarter */
}

/* Every generator value, for every attempt: 3/4 of the backoff < wait <= the backoff. */
static void test_every_jittered_wait_is_within_a_quarter_below_its_backoff(void **state)
{
    (void)state;
    uint32_t x = 12345;
    for (int i = 0; i < 1000; i++) {
        x = x * 1103515245u + 12345u; /* any values will do: the bound holds for all */
        setup_spec(&w, web_spec(WT_MODE_DELAY, true));
        jitter_value = i == 0 ? UINT32_MAX : x; /* the largest first */
        uint64_t t = 0;
        for (uint32_t n = 1; n <= 3; n++) {
            struct wt_actions *out = exited(&w, 100 + n - 1, 9, t);
            uint64_t base = wt_backoff_ms(&w.svc[0].spec.restart, n);
            const struct wt_action *a =
                find_action(out, n == 1 ? WT_ACT_RESTART : WT_ACT_RESTART_AT);
            assert_non_null(a);
            assert_true(a->at_ms - t <= base);
            assert_true(4 * (a->at_ms - t) >= 3 * base);
            if (n > 1)
                tick(&w, a->at_ms);
            t = a->at_ms;
            started(&w, 100 + n, t);
        }
    }
}

static void test_no_jitter_without_a_generator(void **state)
{
    (void)state;
    setup_spec(&w, web_spec(WT_MODE_DELAY, true));
    w.cfg.rand32 = NULL;
    crash_and_restart(&w, 100, 0);
    const struct wt_action *a = find_action(exited(&w, 101, 9, 0), WT_ACT_RESTART_AT);
    assert_non_null(a);
    assert_int_equal(a->at_ms, 1 * SEC);
}

static void test_the_backoff_is_capped_at_max_delay(void **state)
{
    (void)state;
    struct wt_restart r = web_spec(WT_MODE_DELAY, true).restart;
    assert_int_equal(wt_backoff_ms(&r, 1), 0);
    assert_int_equal(wt_backoff_ms(&r, 2), 1 * SEC);
    assert_int_equal(wt_backoff_ms(&r, 4), 4 * SEC);
    assert_int_equal(wt_backoff_ms(&r, 5), 8 * SEC);
    assert_int_equal(wt_backoff_ms(&r, 6), 8 * SEC);
    assert_int_equal(wt_backoff_ms(&r, 4000000000u), 8 * SEC);
    r.max_delay_ms = 10; /* below delay: delay is the cap */
    assert_int_equal(wt_backoff_ms(&r, 9), 1 * SEC);
}

static void test_attempts_are_counted_afresh_once_the_interval_has_passed(void **state)
{
    (void)state;
    setup_spec(&w, web_spec(WT_MODE_DELAY, true));
    use_every_attempt(&w); /* the next exit within 60 s would be a crash loop */
    struct wt_actions *out = exited(&w, 103, 9, 60 * SEC);
    assert_int_equal(out->n, 1);
    assert_int_equal(out->a[0].kind, WT_ACT_RESTART); /* at once: a new interval */
    assert_int_equal(out->a[0].attempt, 1);
}

static void test_a_crash_loop_is_reported_to_the_leader_once(void **state)
{
    (void)state;
    setup_spec(&w, web_spec(WT_MODE_DELAY, true));
    uint64_t t = use_every_attempt(&w);
    struct wt_actions *out = exited(&w, 103, 137 - 128, t + 10);
    const struct wt_action *a = find_action(out, WT_ACT_REPORT_CRASH_LOOP);
    assert_non_null(a);
    assert_string_equal(a->service, "web");
    assert_int_equal(a->attempts, 3);
    assert_int_equal(a->window_ms, 0);
    assert_int_equal(a->cause.kind, WT_CAUSE_SIGNAL);
    for (int i = 0; i < 5; i++) {
        const struct wt_action *later = find_action(out, WT_ACT_RESTART_AT);
        assert_non_null(later);
        tick(&w, later->at_ms);
        started(&w, 200 + i, later->at_ms);
        out = exited(&w, 200 + i, 9, later->at_ms + 1);
        assert_int_equal(count_actions(out, WT_ACT_REPORT_CRASH_LOOP), 0);
    }
}

static void test_mode_delay_keeps_restarting_at_the_longest_backoff_after_a_crash_loop(void **state)
{
    (void)state;
    setup_spec(&w, web_spec(WT_MODE_DELAY, true));
    uint64_t t = use_every_attempt(&w);
    struct wt_actions *out = exited(&w, 103, 9, t);
    assert_int_equal(count_actions(out, WT_ACT_MARK_FAILED), 0);
    const struct wt_action *a = find_action(out, WT_ACT_RESTART_AT);
    assert_non_null(a);
    assert_int_equal(a->at_ms - t, 8 * SEC);
    assert_int_equal(tick(&w, a->at_ms)->a[0].kind, WT_ACT_RESTART);
}

static void test_mode_fail_marks_the_service_failed_and_stops_restarting_it(void **state)
{
    (void)state;
    setup_spec(&w, web_spec(WT_MODE_FAIL, true));
    uint64_t t = use_every_attempt(&w);
    struct wt_actions *out = exited(&w, 103, 9, t);
    assert_int_equal(out->n, 2);
    assert_int_equal(out->a[0].kind, WT_ACT_REPORT_CRASH_LOOP);
    assert_int_equal(out->a[1].kind, WT_ACT_MARK_FAILED);
    assert_int_equal(wt_find(&w, "web")->state, WT_S_FAILED);
    assert_int_equal(wt_next_due(&w), UINT64_MAX);
    assert_int_equal(tick(&w, t + 3600 * SEC)->n, 0);
}

static void test_the_leaders_mark_failed_verdict_marks_a_delay_mode_service_failed(void **state)
{
    (void)state;
    setup_spec(&w, web_spec(WT_MODE_DELAY, true));
    uint64_t t = use_every_attempt(&w);
    exited(&w, 103, 9, t);
    struct wt_actions *out =
        feed(&w, (struct wt_event){
                     .kind = WT_EV_VERDICT, .at_ms = t + 5, .verdict = WT_VERDICT_MARK_FAILED});
    assert_int_equal(out->n, 1);
    assert_int_equal(out->a[0].kind, WT_ACT_MARK_FAILED);
    assert_true(wt_find(&w, "web")->marked_failed);
    assert_int_equal(wt_find(&w, "web")->state, WT_S_DOWN); /* still retried */
}

static void test_a_revert_verdict_leaves_the_service_to_the_release_change(void **state)
{
    (void)state;
    setup_spec(&w, web_spec(WT_MODE_DELAY, true));
    uint64_t t = use_every_attempt(&w);
    exited(&w, 103, 9, t);
    struct wt_actions *out = feed(
        &w, (struct wt_event){.kind = WT_EV_VERDICT, .at_ms = t + 5, .verdict = WT_VERDICT_REVERT});
    assert_int_equal(out->n, 0);
    assert_false(wt_find(&w, "web")->marked_failed);
}

static void test_attempts_zero_makes_the_first_exit_a_crash_loop(void **state)
{
    (void)state;
    struct wt_service_spec s = web_spec(WT_MODE_FAIL, true);
    s.restart.attempts = 0;
    setup_spec(&w, s);
    struct wt_actions *out = exited(&w, 100, 0, 0);
    assert_non_null(find_action(out, WT_ACT_REPORT_CRASH_LOOP));
    assert_non_null(find_action(out, WT_ACT_MARK_FAILED));
    assert_null(find_action(out, WT_ACT_RESTART));
}

static void test_an_exit_of_a_process_it_does_not_track_is_not_a_failure(void **state)
{
    (void)state;
    setup_spec(&w, web_spec(WT_MODE_DELAY, true));
    assert_int_equal(exited(&w, 99, 15, 10)->n, 0); /* an old release's, stopped on purpose */
    assert_int_equal(
        feed(&w, (struct wt_event){.kind = WT_EV_EXITED, .at_ms = 10, .pid = 100, .service = "api"})
            ->n,
        0); /* a service the release does not want */
}

static void test_a_service_that_cannot_start_is_retried_under_the_policy(void **state)
{
    (void)state;
    setup_spec(&w, web_spec(WT_MODE_DELAY, true));
    struct wt_actions *out = exited(&w, 100, 0, 0);
    assert_int_equal(out->a[0].kind, WT_ACT_RESTART);
    out = feed(&w, (struct wt_event){.kind = WT_EV_START_FAILED, .at_ms = 10});
    const struct wt_action *a = find_action(out, WT_ACT_RESTART_AT);
    assert_non_null(a);
    assert_int_equal(a->attempt, 2);
    assert_int_equal(a->cause.kind, WT_CAUSE_START_FAILED);
}

static void test_a_release_change_drops_a_pending_restart(void **state)
{
    (void)state;
    setup_spec(&w, web_spec(WT_MODE_DELAY, true));
    crash_and_restart(&w, 100, 0);
    exited(&w, 101, 9, 0);
    struct wt_service_spec s = web_spec(WT_MODE_DELAY, true);
    set_release(&w, &s, 1, 10);
    assert_int_equal(wt_next_due(&w), UINT64_MAX);
    assert_int_equal(tick(&w, 10 * SEC)->n, 0);
    assert_int_equal(wt_find(&w, "web")->window_count, 0);
}

static struct wt_actions *reverting(struct wt *tower, uint64_t at)
{
    return feed(tower, (struct wt_event){.kind = WT_EV_REVERTING, .at_ms = at});
}

static void test_a_crash_of_a_release_being_reverted_is_not_restarted(void **state)
{
    (void)state;
    setup_spec(&w, web_spec(WT_MODE_DELAY, true));
    assert_int_equal(reverting(&w, 10)->n, 0);
    assert_int_equal(exited(&w, 100, 0, 20)->n, 0);
    assert_int_equal(wt_find(&w, "web")->state, WT_S_FAILED);
    assert_int_equal(wt_find(&w, "web")->restarts, 0);
    assert_int_equal(wt_next_due(&w), UINT64_MAX);
}

static void test_a_restart_pending_when_the_release_is_reverted_is_dropped(void **state)
{
    (void)state;
    setup_spec(&w, web_spec(WT_MODE_DELAY, true));
    crash_and_restart(&w, 100, 0);
    exited(&w, 101, 9, 0); /* attempt 2 due at 1 s */
    reverting(&w, 10);
    assert_int_equal(wt_next_due(&w), UINT64_MAX);
    assert_int_equal(tick(&w, 10 * SEC)->n, 0);
}

static void test_a_release_being_reverted_is_not_stopped_for_failing_checks(void **state)
{
    (void)state;
    setup_spec(&w, web_spec(WT_MODE_DELAY, true));
    reverting(&w, 0);
    for (uint64_t t = 0; t <= 5 * SEC; t += SEC)
        assert_int_equal(feed(&w, (struct wt_event){.kind = WT_EV_CHECK, .at_ms = t})->n, 0);
    assert_int_equal(tick(&w, 6 * SEC)->n, 0);
}

/* A check that failed before the release was doomed leaves a liveness
 * deadline that no tick acts on while it is reverted: nothing is due. The
 * shell arms its timer at wt_next_due, again after each tick, and a time
 * already past is a timer of 0 ms that libuv (1.44) runs again before it
 * polls: the node's loop spun there, answering nothing, until it was
 * killed, and never heard the rollback that would have ended it. */
static void test_a_liveness_deadline_of_a_release_being_reverted_is_not_due(void **state)
{
    (void)state;
    setup_spec(&w, web_spec(WT_MODE_DELAY, true));
    check(&w, true, 1 * SEC);
    check(&w, false, 2 * SEC); /* liveness: due at 5 s */
    reverting(&w, 2 * SEC + 100);
    assert_int_equal(wt_next_due(&w), UINT64_MAX);
    assert_int_equal(tick(&w, 5 * SEC)->n, 0);
    assert_int_equal(wt_next_due(&w), UINT64_MAX);
}

static void test_the_next_release_is_restarted_again(void **state)
{
    (void)state;
    setup_spec(&w, web_spec(WT_MODE_DELAY, true));
    reverting(&w, 10);
    struct wt_service_spec s = web_spec(WT_MODE_DELAY, true);
    set_release(&w, &s, 1, 20);
    started(&w, 200, 30);
    struct wt_actions *out = exited(&w, 200, 9, 40);
    assert_non_null(find_action(out, WT_ACT_RESTART));
}

static void test_the_default_restart_block_is_documented_one(void **state)
{
    (void)state;
    struct wt_restart r = wt_restart_default();
    assert_int_equal(r.attempts, 3);
    assert_int_equal(r.interval_ms, 60 * SEC);
    assert_int_equal(r.delay_ms, 500);
    assert_int_equal(r.max_delay_ms, 30 * SEC);
    assert_int_equal(r.mode, WT_MODE_DELAY);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_first_exit_is_restarted_at_once),
        cmocka_unit_test(test_later_exits_back_off_exponentially_from_delay),
        cmocka_unit_test(test_a_restart_waits_for_its_due_time_then_happens_on_a_tick),
        cmocka_unit_test(test_jitter_shortens_a_backoff_by_at_most_a_quarter),
        cmocka_unit_test(test_every_jittered_wait_is_within_a_quarter_below_its_backoff),
        cmocka_unit_test(test_no_jitter_without_a_generator),
        cmocka_unit_test(test_the_backoff_is_capped_at_max_delay),
        cmocka_unit_test(test_attempts_are_counted_afresh_once_the_interval_has_passed),
        cmocka_unit_test(test_a_crash_loop_is_reported_to_the_leader_once),
        cmocka_unit_test(
            test_mode_delay_keeps_restarting_at_the_longest_backoff_after_a_crash_loop),
        cmocka_unit_test(test_mode_fail_marks_the_service_failed_and_stops_restarting_it),
        cmocka_unit_test(test_the_leaders_mark_failed_verdict_marks_a_delay_mode_service_failed),
        cmocka_unit_test(test_a_revert_verdict_leaves_the_service_to_the_release_change),
        cmocka_unit_test(test_attempts_zero_makes_the_first_exit_a_crash_loop),
        cmocka_unit_test(test_an_exit_of_a_process_it_does_not_track_is_not_a_failure),
        cmocka_unit_test(test_a_service_that_cannot_start_is_retried_under_the_policy),
        cmocka_unit_test(test_a_release_change_drops_a_pending_restart),
        cmocka_unit_test(test_a_crash_of_a_release_being_reverted_is_not_restarted),
        cmocka_unit_test(test_a_restart_pending_when_the_release_is_reverted_is_dropped),
        cmocka_unit_test(test_a_release_being_reverted_is_not_stopped_for_failing_checks),
        cmocka_unit_test(test_a_liveness_deadline_of_a_release_being_reverted_is_not_due),
        cmocka_unit_test(test_the_next_release_is_restarted_again),
        cmocka_unit_test(test_the_default_restart_block_is_documented_one),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
