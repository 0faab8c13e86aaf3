/* The rollout core: waves of max_parallel nodes, stable after
 * min_healthy_time everywhere, failure on a crash, on a health deadline or
 * on the progress deadline, automatic and manual coordinated rollbacks,
 * and a new leader that resumes from the records alone. The tests play the
 * shell: every record pl_tick asks for is "committed" by feeding it back
 * through pl_apply. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "test_rollout_support.h"

static void test_a_release_rolls_out_in_waves_of_max_parallel_nodes(void **state)
{
    (void)state;
    static struct pl_state s;
    pl_init(&s, nodes3, 3);
    struct pl_release v1 = release("1", 2, true);
    begin(&s, "d1", &v1, 0);
    struct pl_record r;
    assert_int_equal(step(&s, 0, &r), PL_REC_WAVE);
    assert_int_equal(r.wave, 1);
    assert_int_equal(r.nnodes, 2);
    assert_string_equal(r.nodes[0], "n1");
    assert_string_equal(r.nodes[1], "n2");
    assert_string_equal(pl_desired(&s, "n1"), "d1");
    assert_string_equal(pl_desired(&s, "n3"), "");
    healthy(&s, "n1", "d1", 100);
    healthy(&s, "n2", "d1", 100);
    assert_int_equal(step(&s, 100 + 2 * SEC, &r), PL_REC_WAVE);
    assert_int_equal(r.wave, 2);
    assert_int_equal(r.nnodes, 1);
    assert_string_equal(r.nodes[0], "n3");
}

/* The FAILED record's reason is kept in the ledger at PL_REASON_MAX: a
 * node's detail longer than the room left is cut, and says so. */
static void test_a_failure_reason_too_long_for_the_record_ends_in_an_ellipsis(void **state)
{
    (void)state;
    static struct pl_state s;
    char detail[PL_DETAIL_MAX];
    memset(detail, 'e', sizeof detail - 1);
    detail[sizeof detail - 1] = '\0';
    uint64_t t = stable_then_d2_reports(&s, true, PL_H_CRASHED, detail);
    struct pl_record r;
    assert_int_equal(step(&s, t + 10, &r), PL_REC_FAILED);
    size_t n = strlen(r.reason);
    assert_int_equal(n, PL_REASON_MAX - 1);
    assert_string_equal(r.reason + n - 4, "e...");
    assert_non_null(strstr(r.reason, "n1"));
}

static void test_a_wave_waits_until_its_nodes_were_healthy_for_min_healthy_time(void **state)
{
    (void)state;
    static struct pl_state s;
    d1_first_wave(&s, 3, true);
    for (int i = 0; i < 3; i++)
        healthy(&s, nodes3[i], "d1", 500);
    assert_int_equal(step(&s, 500 + 2 * SEC - 1, NULL), 0);
    assert_int_equal(step(&s, 500 + 2 * SEC, NULL), PL_REC_STABLE);
    assert_int_equal(s.stable, 0);
    assert_int_equal(s.active, -1);
    assert_int_equal(pl_find(&s, "d1")->stage, PL_STAGE_STABLE);
}

static void test_a_crash_fails_the_release_and_reverts_every_node_to_the_last_good(void **state)
{
    (void)state;
    static struct pl_state s;
    uint64_t t = stable_then_d2_reports(&s, true, PL_H_CRASHED, "web exited with status 3");
    struct pl_record r;
    assert_int_equal(step(&s, t + 10, &r), PL_REC_FAILED);
    assert_non_null(strstr(r.reason, "n1"));
    assert_non_null(strstr(r.reason, "crashed"));
    assert_non_null(strstr(r.reason, "web exited with status 3"));
    assert_int_equal(step(&s, t + 20, &r), PL_REC_ROLLBACK);
    assert_true(r.automatic);
    assert_string_equal(r.target, "d1");
    assert_string_equal(r.from_deployment, "d2");
    assert_non_null(strstr(r.reason, "crashed"));
    for (int i = 0; i < 3; i++)
        assert_string_equal(pl_desired(&s, nodes3[i]), "d1");
    assert_int_equal(pl_find(&s, "d2")->stage, PL_STAGE_FAILED);
}

/* The watchtower's restarts hide a crash loop from the reports (a service
 * stopped to be restarted is not crashed): the leader fails the release
 * for it, and the failure reverts as any other. */
static void test_a_crash_loop_fails_the_release_in_progress_and_reverts_it(void **state)
{
    (void)state;
    static struct pl_state s;
    uint64_t t = stable_then_d2_reports(&s, true, PL_H_UNHEALTHY, "web: HTTP 503");
    assert_int_equal(step(&s, t + 10, NULL), 0); /* unhealthy: the deadline is far */
    const char *loop = "crash loop: service web on n1 (2 restarts, last liveness failing 600 ms)";
    struct pl_record r;
    char why[256];
    assert_int_equal(pl_fail(&s, "d2", loop, t + 10, &r, why, sizeof(why)), 0);
    assert_int_equal(r.kind, PL_REC_FAILED);
    assert_string_equal(r.deployment, "d2");
    assert_string_equal(r.reason, loop);
    assert_int_equal(pl_apply(&s, &r), 0);
    assert_int_equal(pl_find(&s, "d2")->stage, PL_STAGE_FAILED);
    assert_int_equal(step(&s, t + 20, &r), PL_REC_ROLLBACK);
    assert_true(r.automatic);
    assert_string_equal(r.target, "d1");
    assert_string_equal(r.reason, loop);
}

static void test_only_a_release_in_progress_is_failed_for_a_crash_loop(void **state)
{
    (void)state;
    static struct pl_state s;
    uint64_t t = stable_then_d2_reports(&s, true, PL_H_UNHEALTHY, "web: HTTP 503");
    struct pl_record r;
    char why[256];
    assert_int_equal(pl_fail(&s, "d1", "crash loop: x", t, &r, why, sizeof(why)), 409);
    assert_non_null(strstr(why, "d1"));
    assert_int_equal(pl_fail(&s, "d9", "crash loop: x", t, &r, why, sizeof(why)), 409);
    /* A rollback in progress is not failed for it either. */
    assert_int_equal(pl_rollback(&s, "r1", NULL, t, &r, why, sizeof(why)), 0);
    assert_int_equal(pl_apply(&s, &r), 0);
    assert_int_equal(pl_fail(&s, "r1", "crash loop: x", t, &r, why, sizeof(why)), 409);
    assert_int_equal(pl_fail(&s, "d2", "crash loop: x", t, &r, why, sizeof(why)), 409);
}

static void test_a_rollback_completes_when_every_node_runs_the_last_good_healthy(void **state)
{
    (void)state;
    static struct pl_state s;
    struct pl_record rb;
    uint64_t t = d2_crashed_and_rolled_back(&s, &rb);
    /* n2 and n3 never left d1: they report under the rollback's decision,
     * healthy since long ago, and count at once. */
    healthy(&s, "n2", "d1", 0);
    healthy(&s, "n3", "d1", 0);
    healthy(&s, "n1", "d1", t + SEC);
    assert_int_equal(step(&s, t + 2 * SEC, NULL), 0);
    assert_int_equal(step(&s, t + 3 * SEC, NULL), PL_REC_REVERTED);
    assert_int_equal(pl_find(&s, rb.deployment)->stage, PL_STAGE_REVERTED);
    assert_int_equal(s.deps[s.stable].stage, PL_STAGE_STABLE);
    assert_string_equal(s.deps[s.stable].id, "d1");
    assert_int_equal(s.active, -1);
}

static void test_unhealthy_nodes_fail_the_release_only_past_the_healthy_deadline(void **state)
{
    (void)state;
    static struct pl_state s;
    d1_first_wave(&s, 3, false);
    for (int i = 0; i < 3; i++)
        reports(&s, nodes3[i], "d1", PL_H_UNHEALTHY, "HTTP 503");
    assert_int_equal(step(&s, 10 * SEC, NULL), 0);
    struct pl_record r;
    assert_int_equal(step(&s, 10 * SEC + 1, &r), PL_REC_FAILED);
    assert_non_null(strstr(r.reason, "within the healthy deadline (10s): HTTP 503"));
}

static void test_a_node_that_never_applies_the_release_fails_it_past_the_deadline(void **state)
{
    (void)state;
    static struct pl_state s;
    d1_first_wave(&s, 3, false);
    healthy(&s, "n1", "d1", 0);
    healthy(&s, "n2", "d1", 0);
    struct pl_record r;
    assert_int_equal(step(&s, 10 * SEC + 1, &r), PL_REC_FAILED);
    assert_non_null(strstr(r.reason, "n3: did not apply"));
}

static void test_the_progress_deadline_fails_a_release_that_keeps_waiting(void **state)
{
    (void)state;
    static struct pl_state s;
    pl_init(&s, nodes3, 3);
    struct pl_release v1 = release("1", 1, false);
    v1.policy.healthy_deadline_ms = 100 * SEC; /* never the one that fires */
    v1.policy.progress_deadline_ms = 30 * SEC;
    begin(&s, "d1", &v1, 0);
    assert_int_equal(step(&s, 0, NULL), PL_REC_WAVE);
    struct pl_record r;
    assert_int_equal(step(&s, 30 * SEC + 1, &r), PL_REC_FAILED);
    assert_string_equal(r.reason, "the progress deadline (30s) passed");
}

static void test_without_auto_revert_a_failed_release_stays_failed(void **state)
{
    (void)state;
    static struct pl_state s;
    uint64_t t = stable_then_d2_reports(&s, false, PL_H_START_FAILED, "no such file");
    assert_int_equal(step(&s, t, NULL), PL_REC_FAILED);
    assert_int_equal(step(&s, t + SEC, NULL), 0);
    assert_string_equal(pl_desired(&s, "n1"), "d2");
}

static void test_a_first_release_that_fails_has_nothing_to_revert_to(void **state)
{
    (void)state;
    static struct pl_state s;
    d1_first_wave(&s, 1, true);
    reports(&s, "n1", "d1", PL_H_CRASHED, "");
    assert_int_equal(step(&s, 0, NULL), PL_REC_FAILED);
    assert_int_equal(step(&s, SEC, NULL), 0);
}

static void test_a_failed_rollback_is_not_rolled_back_again(void **state)
{
    (void)state;
    static struct pl_state s;
    uint64_t t = d2_crashed_and_rolled_back(&s, NULL);
    reports(&s, "n2", "d1", PL_H_CRASHED, "the good release crashed too");
    struct pl_record r;
    assert_int_equal(step(&s, t + 1, &r), PL_REC_FAILED);
    assert_int_equal(step(&s, t + 2, NULL), 0);
}

/* Replays the records a leader committed into a fresh state, as a new
 * leader does from the ledger. */
static void test_a_new_leader_resumes_a_rollout_from_the_records_alone(void **state)
{
    (void)state;
    static struct pl_state old, fresh;
    pl_init(&old, nodes3, 3);
    pl_init(&fresh, nodes3, 3);
    struct pl_release v1 = release("1", 1, true);
    struct pl_record log[8];
    size_t n = 0;
    char why[256];
    assert_int_equal(pl_begin(&old, "d1", &v1, 0, &log[n], why, sizeof(why)), 0);
    pl_apply(&old, &log[n++]);
    assert_true(pl_tick(&old, 0, &log[n]));
    pl_apply(&old, &log[n++]);
    healthy(&old, "n1", "d1", 0);
    assert_true(pl_tick(&old, 2 * SEC, &log[n]));
    assert_int_equal(log[n].kind, PL_REC_WAVE);
    pl_apply(&old, &log[n++]);
    /* The leader dies here. The next one replays the ledger... */
    for (size_t i = 0; i < n; i++)
        assert_int_equal(pl_apply(&fresh, &log[i]), 0);
    /* ... hears the nodes report again, and carries on. */
    healthy(&fresh, "n1", "d1", 0);
    healthy(&fresh, "n2", "d1", 2 * SEC);
    struct pl_record r;
    assert_int_equal(step(&fresh, 4 * SEC, &r), PL_REC_WAVE);
    assert_string_equal(r.nodes[0], "n3");
    assert_int_equal(r.wave, 3);
    /* And one past its deadlines fails and reverts instead of waiting. */
    assert_int_equal(step(&fresh, 100 * SEC, &r), PL_REC_FAILED);
}

static void test_a_deployment_is_refused_while_another_is_in_progress(void **state)
{
    (void)state;
    static struct pl_state s;
    pl_init(&s, nodes3, 3);
    struct pl_release v1 = release("1", 1, true), v2 = release("2", 1, true);
    begin(&s, "d1", &v1, 0);
    struct pl_record r;
    char why[256];
    assert_int_equal(pl_begin(&s, "d2", &v2, 0, &r, why, sizeof(why)), 409);
    assert_non_null(strstr(why, "d1"));
}

static void test_deploying_the_stable_release_again_is_refused(void **state)
{
    (void)state;
    static struct pl_state s;
    pl_init(&s, nodes3, 3);
    struct pl_release v1 = release("1", 3, true);
    roll_to_stable(&s, "d1", &v1, 0);
    struct pl_record r;
    char why[256];
    assert_int_equal(pl_begin(&s, "d2", &v1, 0, &r, why, sizeof(why)), 409);
    assert_non_null(strstr(why, "already the stable release"));
}

static void test_a_manual_rollback_goes_to_a_named_earlier_stable_version(void **state)
{
    (void)state;
    static struct pl_state s;
    uint64_t t = two_stable(&s, 3);
    assert_int_equal(pl_find(&s, "d1")->stage, PL_STAGE_SUPERSEDED);
    struct pl_record r;
    char why[256];
    assert_int_equal(pl_rollback(&s, "r1", "1", t, &r, why, sizeof(why)), 0);
    assert_string_equal(r.target, "d1");
    assert_false(r.automatic);
    assert_int_equal(pl_apply(&s, &r), 0);
    settle(&s, "d1", t);
    for (int i = 0; i < 3; i++)
        assert_string_equal(pl_desired(&s, nodes3[i]), "d1");
    assert_int_equal(pl_find(&s, "r1")->stage, PL_STAGE_REVERTED);
    assert_string_equal(s.deps[s.stable].id, "d1");
    assert_int_equal(pl_find(&s, "d2")->stage, PL_STAGE_SUPERSEDED);
}

static void test_a_rollback_to_the_release_already_running_is_refused(void **state)
{
    (void)state;
    static struct pl_state s;
    uint64_t t = d1_stable(&s);
    struct pl_record r;
    char why[256];
    assert_int_equal(pl_rollback(&s, "r1", "1", t, &r, why, sizeof(why)), 409);
    assert_non_null(strstr(why, "already the release running"));
    assert_int_equal(pl_rollback(&s, "r1", "9", t, &r, why, sizeof(why)), 404);
    assert_non_null(strstr(why, "no stable release has version 9"));
}

static void test_a_rollback_with_no_stable_release_is_refused(void **state)
{
    (void)state;
    static struct pl_state s;
    pl_init(&s, nodes3, 3);
    struct pl_record r;
    char why[256];
    assert_int_equal(pl_rollback(&s, "r1", NULL, 0, &r, why, sizeof(why)), 409);
    assert_non_null(strstr(why, "no stable release"));
}

static void test_a_manual_rollback_during_a_rollout_ends_it_as_failed(void **state)
{
    (void)state;
    static struct pl_state s;
    pl_init(&s, nodes3, 3);
    struct pl_release v1 = release("1", 3, true), v2 = release("2", 1, true);
    uint64_t t = roll_to_stable(&s, "d1", &v1, 0);
    begin(&s, "d2", &v2, t);
    assert_int_equal(step(&s, t, NULL), PL_REC_WAVE);
    struct pl_record r;
    char why[256];
    assert_int_equal(pl_rollback(&s, "r1", NULL, t, &r, why, sizeof(why)), 0);
    assert_string_equal(r.from_deployment, "d2");
    assert_int_equal(pl_apply(&s, &r), 0);
    assert_int_equal(pl_find(&s, "d2")->stage, PL_STAGE_FAILED);
    assert_non_null(strstr(pl_find(&s, "d2")->reason, "rolled back by r1"));
    assert_int_equal(s.revert_pending, -1);
}

static void test_records_that_do_not_fit_the_state_are_ignored(void **state)
{
    (void)state;
    static struct pl_state s;
    pl_init(&s, nodes3, 3);
    struct pl_record r = {.kind = PL_REC_WAVE, .wave = 1, .nnodes = 1};
    snprintf(r.deployment, sizeof(r.deployment), "nope");
    snprintf(r.nodes[0], sizeof(r.nodes[0]), "n1");
    assert_int_equal(pl_apply(&s, &r), -1);
    r.kind = PL_REC_STABLE;
    assert_int_equal(pl_apply(&s, &r), -1);
    r.kind = PL_REC_ROLLBACK;
    snprintf(r.target, sizeof(r.target), "unknown");
    assert_int_equal(pl_apply(&s, &r), -1);
    r.kind = (enum pl_record_kind)99;
    assert_int_equal(pl_apply(&s, &r), -1);
    assert_string_equal(pl_desired(&s, "n1"), "");
    struct pl_release v1 = release("1", 1, true);
    begin(&s, "d1", &v1, 0);
    struct pl_record again = {.kind = PL_REC_RELEASE, .release = v1};
    snprintf(again.deployment, sizeof(again.deployment), "d1");
    assert_int_equal(pl_apply(&s, &again), -1);
}

static void test_old_deployments_are_forgotten_but_the_stable_one_is_kept(void **state)
{
    (void)state;
    static struct pl_state s;
    pl_init(&s, nodes3, 3);
    struct pl_release v1 = release("1", 3, true);
    uint64_t t = roll_to_stable(&s, "d-stable", &v1, 0);
    for (int k = 0; k < PL_MAX_DEPLOYMENTS + 5; k++) {
        char id[PL_ID_MAX];
        snprintf(id, sizeof(id), "d%d", k);
        struct pl_release v = release("2", 3, false);
        v.digest[1] = (uint8_t)k;
        begin_and_fail(&s, id, &v, t);
    }
    assert_true(s.ndeps <= PL_MAX_DEPLOYMENTS);
    assert_non_null(pl_find(&s, "d-stable"));
    assert_string_equal(s.deps[s.stable].id, "d-stable");
}

static void
test_each_decision_for_a_node_bumps_its_generation_even_for_the_same_release(void **state)
{
    (void)state;
    static struct pl_state s;
    uint64_t t = stable_then_d2_reports(&s, true, PL_H_CRASHED, "");
    uint32_t n2 = pl_desired_gen(&s, "n2");
    assert_string_equal(pl_desired(&s, "n2"), "d1");
    assert_int_equal(step(&s, t, NULL), PL_REC_FAILED);
    assert_int_equal(step(&s, t, NULL), PL_REC_ROLLBACK);
    /* n2 never left d1, yet the rollback is a new decision for it. */
    assert_string_equal(pl_desired(&s, "n2"), "d1");
    assert_int_equal(pl_desired_gen(&s, "n2"), n2 + 1);
    assert_int_equal(pl_desired_gen(&s, "nobody"), 0);
}

static void test_a_report_from_before_the_latest_decision_is_not_judged(void **state)
{
    (void)state;
    static struct pl_state s;
    uint64_t t = stable_then_d2_reports(&s, true, PL_H_CRASHED, "v2 crashed");
    /* n2 never got d2; its d1 crashed meanwhile (reported under the old
     * decision). */
    reports(&s, "n2", "d1", PL_H_CRASHED, "v1 crashed earlier");
    assert_int_equal(step(&s, t, NULL), PL_REC_FAILED);
    assert_int_equal(step(&s, t, NULL), PL_REC_ROLLBACK);
    /* The rollback is a new decision for n2: its old report does not fail
     * it; the rollback waits for n2 to apply it. */
    assert_int_equal(step(&s, t + 1, NULL), 0);
    for (int i = 0; i < 3; i++)
        healthy(&s, nodes3[i], "d1", t + 1);
    assert_int_equal(step(&s, t + 1 + 2 * SEC, NULL), PL_REC_REVERTED);
}

static void test_a_new_leader_forgets_the_reports_it_heard_before(void **state)
{
    (void)state;
    static struct pl_state s;
    pl_init(&s, nodes3, 3);
    healthy(&s, "n1", "", 0);
    pl_forget_reports(&s);
    assert_false(s.reported[0]);
}

static void test_the_progress_deadline_restarts_with_each_wave(void **state)
{
    (void)state;
    static struct pl_state s;
    pl_init(&s, nodes3, 3);
    struct pl_release v1 = release("1", 1, false);
    v1.policy.min_healthy_time_ms = 20 * SEC;
    v1.policy.healthy_deadline_ms = 30 * SEC;
    v1.policy.progress_deadline_ms = 30 * SEC;
    begin(&s, "d1", &v1, 0);
    uint64_t t = 0;
    for (int w = 0; w < 3; w++) {
        struct pl_record r;
        assert_int_equal(step(&s, t, &r), PL_REC_WAVE);
        healthy(&s, r.nodes[0], "d1", t);
        t += 20 * SEC; /* 60 s in all: past one progress deadline, never past a wave's */
    }
    assert_int_equal(step(&s, t, NULL), PL_REC_STABLE);
}

static void test_a_rollback_to_the_oldest_kept_release_keeps_it_in_memory(void **state)
{
    (void)state;
    static struct pl_state s;
    uint64_t t = two_stable(&s, 3);
    for (int k = 0; s.ndeps < PL_MAX_DEPLOYMENTS; k++) {
        char id[PL_ID_MAX];
        snprintf(id, sizeof(id), "f%d", k);
        struct pl_release v = release("3", 3, false);
        v.digest[1] = (uint8_t)k;
        begin_and_fail(&s, id, &v, t);
    }
    assert_string_equal(s.deps[0].id, "d1"); /* the oldest still kept */
    struct pl_record r;
    rollback(&s, "rb", "1", t, &r);
    assert_non_null(pl_find(&s, "d1"));
    settle(&s, "d1", t);
    assert_string_equal(s.deps[s.stable].id, "d1");
}

/* What a node asks of the ledger: whether the release it runs is failed
 * and about to be reverted (its watchtower restarts nothing of it any
 * more), and whether the release it must run instead comes with the
 * automatic revert (run_plan_may_overlap). */
static void
test_an_automatic_revert_is_known_by_the_release_it_replaces_and_the_one_it_runs(void **state)
{
    (void)state;
    static struct pl_state s;
    uint64_t t = stable_then_d2_reports(&s, true, PL_H_CRASHED, "web exited with status 3");
    assert_false(pl_being_reverted(&s, "d2"));
    assert_int_equal(step(&s, t + 10, NULL), PL_REC_FAILED);
    assert_true(pl_being_reverted(&s, "d2"));
    assert_false(pl_being_reverted(&s, "d1"));
    assert_false(pl_automatic_revert_to(&s, "d1"));
    assert_int_equal(step(&s, t + 20, NULL), PL_REC_ROLLBACK);
    assert_true(pl_being_reverted(&s, "d2"));
    assert_true(pl_automatic_revert_to(&s, "d1"));
    assert_false(pl_automatic_revert_to(&s, "d2"));
}

static void test_a_manual_rollback_is_no_automatic_revert(void **state)
{
    (void)state;
    static struct pl_state s;
    uint64_t t = two_stable(&s, 3);
    struct pl_record r;
    char why[256];
    assert_int_equal(pl_rollback(&s, "r1", "1", t, &r, why, sizeof(why)), 0);
    assert_int_equal(pl_apply(&s, &r), 0);
    assert_false(pl_automatic_revert_to(&s, "d1"));
}

static void test_a_failed_release_without_auto_revert_is_not_being_reverted(void **state)
{
    (void)state;
    static struct pl_state s;
    uint64_t t = stable_then_d2_reports(&s, false, PL_H_CRASHED, "web exited with status 3");
    assert_int_equal(step(&s, t + 10, NULL), PL_REC_FAILED);
    assert_false(pl_being_reverted(&s, "d2"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_release_rolls_out_in_waves_of_max_parallel_nodes),
        cmocka_unit_test(test_a_wave_waits_until_its_nodes_were_healthy_for_min_healthy_time),
        cmocka_unit_test(test_a_crash_fails_the_release_and_reverts_every_node_to_the_last_good),
        cmocka_unit_test(test_a_failure_reason_too_long_for_the_record_ends_in_an_ellipsis),
        cmocka_unit_test(test_a_crash_loop_fails_the_release_in_progress_and_reverts_it),
        cmocka_unit_test(test_only_a_release_in_progress_is_failed_for_a_crash_loop),
        cmocka_unit_test(test_a_rollback_completes_when_every_node_runs_the_last_good_healthy),
        cmocka_unit_test(test_unhealthy_nodes_fail_the_release_only_past_the_healthy_deadline),
        cmocka_unit_test(test_a_node_that_never_applies_the_release_fails_it_past_the_deadline),
        cmocka_unit_test(test_the_progress_deadline_fails_a_release_that_keeps_waiting),
        cmocka_unit_test(test_without_auto_revert_a_failed_release_stays_failed),
        cmocka_unit_test(test_a_first_release_that_fails_has_nothing_to_revert_to),
        cmocka_unit_test(test_a_failed_rollback_is_not_rolled_back_again),
        cmocka_unit_test(test_a_new_leader_resumes_a_rollout_from_the_records_alone),
        cmocka_unit_test(test_a_deployment_is_refused_while_another_is_in_progress),
        cmocka_unit_test(test_deploying_the_stable_release_again_is_refused),
        cmocka_unit_test(test_a_manual_rollback_goes_to_a_named_earlier_stable_version),
        cmocka_unit_test(test_a_rollback_to_the_release_already_running_is_refused),
        cmocka_unit_test(test_a_rollback_with_no_stable_release_is_refused),
        cmocka_unit_test(test_a_manual_rollback_during_a_rollout_ends_it_as_failed),
        cmocka_unit_test(test_records_that_do_not_fit_the_state_are_ignored),
        cmocka_unit_test(test_old_deployments_are_forgotten_but_the_stable_one_is_kept),
        cmocka_unit_test(
            test_each_decision_for_a_node_bumps_its_generation_even_for_the_same_release),
        cmocka_unit_test(test_a_report_from_before_the_latest_decision_is_not_judged),
        cmocka_unit_test(test_a_new_leader_forgets_the_reports_it_heard_before),
        cmocka_unit_test(test_the_progress_deadline_restarts_with_each_wave),
        cmocka_unit_test(test_a_rollback_to_the_oldest_kept_release_keeps_it_in_memory),
        cmocka_unit_test(
            test_an_automatic_revert_is_known_by_the_release_it_replaces_and_the_one_it_runs),
        cmocka_unit_test(test_a_manual_rollback_is_no_automatic_revert),
        cmocka_unit_test(test_a_failed_release_without_auto_revert_is_not_being_reverted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
