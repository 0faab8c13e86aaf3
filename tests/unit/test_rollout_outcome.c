/* What a committed deployment record settles, for /metrics
 * (pipeline/core/rollout_outcome.h): the outcome of a release's deployment
 * and the cause of a rollback, judged on the state before the record. */
#include "test_rollout_support.h"

#include "pipeline/core/rollout_outcome.h"

/* What pl_tick decides at now, judged and then committed; its outcome. */
static enum pl_outcome step_outcome(struct pl_state *s, uint64_t now, struct pl_record *got)
{
    struct pl_record r;
    assert_true(pl_tick(s, now, &r));
    enum pl_outcome o = pl_record_outcome(s, &r);
    assert_int_equal(pl_apply(s, &r), 0);
    if (got)
        *got = r;
    return o;
}

static void test_a_deployment_that_becomes_stable_is_stable(void **state)
{
    (void)state;
    struct pl_state s;
    d1_first_wave(&s, 3, true);
    healthy(&s, "n1", "d1", 0);
    healthy(&s, "n2", "d1", 0);
    healthy(&s, "n3", "d1", 0);
    assert_int_equal(step_outcome(&s, 2 * SEC, NULL), PL_OUTCOME_STABLE);
}

static void test_a_failed_deployment_its_policy_reverts_is_rolled_back(void **state)
{
    (void)state;
    struct pl_state s;
    uint64_t t = stable_then_d2_reports(&s, true, PL_H_CRASHED, "exit 1");
    assert_int_equal(step_outcome(&s, t, NULL), PL_OUTCOME_ROLLED_BACK);
}

static void test_a_failed_deployment_without_auto_revert_is_failed(void **state)
{
    (void)state;
    struct pl_state s;
    uint64_t t = stable_then_d2_reports(&s, false, PL_H_CRASHED, "exit 1");
    assert_int_equal(step_outcome(&s, t, NULL), PL_OUTCOME_FAILED);
}

static void test_a_first_deployment_that_fails_has_nothing_to_revert_to_and_is_failed(void **state)
{
    (void)state;
    struct pl_state s;
    d1_first_wave(&s, 3, true);
    reports(&s, "n1", "d1", PL_H_START_FAILED, "no such program");
    assert_int_equal(step_outcome(&s, 0, NULL), PL_OUTCOME_FAILED);
}

static void test_a_deployment_a_manual_rollback_replaces_is_aborted(void **state)
{
    (void)state;
    struct pl_state s;
    uint64_t t = stable_then_d2_reports(&s, true, PL_H_STARTING, "");
    struct pl_record r;
    char why[256];
    assert_int_equal(pl_rollback(&s, "back", NULL, t, &r, why, sizeof(why)), 0);
    assert_int_equal(pl_record_outcome(&s, &r), PL_OUTCOME_ABORTED);
    assert_int_equal(pl_rollback_cause(&r), PL_CAUSE_MANUAL);
}

static void test_records_that_settle_nothing_have_no_outcome(void **state)
{
    (void)state;
    struct pl_state s;
    pl_init(&s, nodes3, 3);
    struct pl_release v1 = release("1", 1, true);
    struct pl_record r;
    char why[256];
    assert_int_equal(pl_begin(&s, "d1", &v1, 0, &r, why, sizeof(why)), 0);
    assert_int_equal(pl_record_outcome(&s, &r), PL_OUTCOME_NONE); /* RELEASE */
    assert_int_equal(pl_apply(&s, &r), 0);
    assert_int_equal(step_outcome(&s, 0, NULL), PL_OUTCOME_NONE); /* WAVE */
}

static void test_a_rollback_is_no_deployment_whether_it_completes_or_fails(void **state)
{
    (void)state;
    struct pl_state s;
    struct pl_record rb;
    uint64_t t = d2_crashed_and_rolled_back(&s, &rb);
    assert_int_equal(pl_rollback_cause(&rb), PL_CAUSE_CRASHED);
    /* The revert's own end: REVERTED settles no deployment of a release. */
    healthy(&s, "n1", "d1", t);
    healthy(&s, "n2", "d1", t);
    healthy(&s, "n3", "d1", t);
    struct pl_record r;
    assert_int_equal(step_outcome(&s, t + 2 * SEC, &r), PL_OUTCOME_NONE);
    assert_int_equal(r.kind, PL_REC_REVERTED);
    /* A rollback that fails is none either: rollbacks count by cause. */
    struct pl_state f;
    struct pl_record rb2;
    t = d2_crashed_and_rolled_back(&f, &rb2);
    reports(&f, "n2", "d1", PL_H_CRASHED, "");
    assert_int_equal(step_outcome(&f, t, &r), PL_OUTCOME_NONE);
    assert_int_equal(r.kind, PL_REC_FAILED);
}

static void test_an_automatic_rollback_is_caused_by_the_failure_it_reverts(void **state)
{
    (void)state;
    struct pl_record r = {.kind = PL_REC_ROLLBACK, .automatic = true};
    snprintf(r.reason, sizeof(r.reason), "n2: a service could not start: no such program");
    assert_int_equal(pl_rollback_cause(&r), PL_CAUSE_START_FAILED);
    snprintf(r.reason, sizeof(r.reason),
             "n1: not healthy within the healthy deadline (10s): GET /health: 500");
    assert_int_equal(pl_rollback_cause(&r), PL_CAUSE_VERIFY_FAILED);
    snprintf(r.reason, sizeof(r.reason), "the progress deadline (1m) passed");
    assert_int_equal(pl_rollback_cause(&r), PL_CAUSE_PROGRESS_DEADLINE);
    snprintf(r.reason, sizeof(r.reason), "crash loop: service web on n2 (exited (status 1))");
    assert_int_equal(pl_rollback_cause(&r), PL_CAUSE_CRASH_LOOP);
    snprintf(r.reason, sizeof(r.reason), "something else");
    assert_int_equal(pl_rollback_cause(&r), PL_CAUSE_OTHER);
}

static void test_the_failure_named_first_is_the_cause_not_a_nodes_detail(void **state)
{
    (void)state;
    struct pl_record r = {.kind = PL_REC_ROLLBACK, .automatic = true};
    snprintf(r.reason, sizeof(r.reason),
             "n1: a service crashed: its log says the progress deadline passed");
    assert_int_equal(pl_rollback_cause(&r), PL_CAUSE_CRASHED);
}

static void test_every_label_value_has_a_name(void **state)
{
    (void)state;
    assert_string_equal(pl_outcome_name(PL_OUTCOME_STABLE), "stable");
    assert_string_equal(pl_outcome_name(PL_OUTCOME_ROLLED_BACK), "rolled_back");
    assert_string_equal(pl_outcome_name(PL_OUTCOME_FAILED), "failed");
    assert_string_equal(pl_outcome_name(PL_OUTCOME_ABORTED), "aborted");
    assert_string_equal(pl_cause_name(PL_CAUSE_MANUAL), "manual");
    assert_string_equal(pl_cause_name(PL_CAUSE_CRASH_LOOP), "crash_loop");
    assert_string_equal(pl_cause_name(PL_CAUSE_VERIFY_FAILED), "verify_failed");
    for (int c = 0; c < PL_CAUSE_COUNT; c++)
        assert_non_null(pl_cause_name((enum pl_cause)c));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_deployment_that_becomes_stable_is_stable),
        cmocka_unit_test(test_a_failed_deployment_its_policy_reverts_is_rolled_back),
        cmocka_unit_test(test_a_failed_deployment_without_auto_revert_is_failed),
        cmocka_unit_test(test_a_first_deployment_that_fails_has_nothing_to_revert_to_and_is_failed),
        cmocka_unit_test(test_a_deployment_a_manual_rollback_replaces_is_aborted),
        cmocka_unit_test(test_records_that_settle_nothing_have_no_outcome),
        cmocka_unit_test(test_a_rollback_is_no_deployment_whether_it_completes_or_fails),
        cmocka_unit_test(test_an_automatic_rollback_is_caused_by_the_failure_it_reverts),
        cmocka_unit_test(test_the_failure_named_first_is_the_cause_not_a_nodes_detail),
        cmocka_unit_test(test_every_label_value_has_a_name),
    };
    return cmocka_run_group_tests_name("rollout_outcome", tests, NULL, NULL);
}
