/* Manual rollbacks in the rollout core: a bare rollback goes to the
 * previous stable release (kubectl rollout undo, nomad job revert), or to
 * the last good one while a rollout is unfinished; a manual rollback rolls
 * out in waves under the policy of the release it goes back to, while an
 * automatic one stays all at once. */
#include "test_rollout_support.h"

/* How many members were told to run something else since `before`. */
static size_t changed(const struct pl_state *s, char before[][PL_ID_MAX])
{
    size_t k = 0;
    for (size_t i = 0; i < s->nnodes; i++)
        if (strcmp(before[i], s->desired[i]) != 0)
            k++;
    return k;
}

static void snapshot(const struct pl_state *s, char out[][PL_ID_MAX])
{
    for (size_t i = 0; i < s->nnodes; i++)
        snprintf(out[i], PL_ID_MAX, "%s", s->desired[i]);
}

static void test_a_manual_rollback_changes_at_most_max_parallel_members_at_a_time(void **state)
{
    (void)state;
    static struct pl_state s;
    uint64_t t = two_stable(&s, 1);
    char before[PL_MAX_NODES][PL_ID_MAX];
    snapshot(&s, before);
    struct pl_record r;
    rollback(&s, "r1", "1", t, &r);
    assert_false(r.automatic);
    assert_true(r.in_waves);
    assert_int_equal(changed(&s, before), 0); /* nobody restarts on the record alone */
    for (int w = 0; w < 3; w++) {
        snapshot(&s, before);
        assert_int_equal(step(&s, t, &r), PL_REC_WAVE);
        assert_int_equal(r.nnodes, 1);
        assert_int_equal(changed(&s, before), 1);
        assert_string_equal(pl_desired(&s, r.nodes[0]), "d1");
        /* Not yet healthy for min_healthy_time: no next wave. */
        healthy(&s, r.nodes[0], "d1", t);
        assert_int_equal(step(&s, t + 1, NULL), 0);
        t += 2 * SEC;
    }
    assert_int_equal(step(&s, t, &r), PL_REC_REVERTED);
    assert_string_equal(s.deps[s.stable].id, "d1");
}

static void test_an_automatic_rollback_tells_every_member_at_once(void **state)
{
    (void)state;
    static struct pl_state s;
    struct pl_record r;
    d2_crashed_and_rolled_back(&s, &r);
    assert_false(r.in_waves);
    for (int i = 0; i < 3; i++)
        assert_true(pl_find(&s, r.deployment)->assigned[i]);
}

static void test_a_manual_rollback_counts_only_members_that_change(void **state)
{
    (void)state;
    static struct pl_state s;
    uint64_t t = stable_then_d2_reports(&s, false, PL_H_STARTING, "");
    /* n1 runs d2; n2 and n3 never left d1. */
    char before[PL_MAX_NODES][PL_ID_MAX];
    snapshot(&s, before);
    struct pl_record r;
    rollback(&s, "r1", NULL, t, &r);
    assert_string_equal(r.target, "d1");
    assert_int_equal(step(&s, t, &r), PL_REC_WAVE);
    assert_int_equal(r.nnodes, 3);
    assert_int_equal(changed(&s, before), 1);
    for (int i = 0; i < 3; i++)
        healthy(&s, nodes3[i], "d1", t);
    assert_int_equal(step(&s, t + 2 * SEC, NULL), PL_REC_REVERTED);
}

static void test_a_rollback_recorded_before_waves_existed_applies_at_once(void **state)
{
    (void)state;
    static struct pl_state s;
    uint64_t t = two_stable(&s, 1);
    struct pl_record r = {.kind = PL_REC_ROLLBACK, .at_ms = t};
    snprintf(r.deployment, sizeof(r.deployment), "r-old");
    snprintf(r.target, sizeof(r.target), "d1");
    assert_int_equal(pl_apply(&s, &r), 0);
    for (int i = 0; i < 3; i++)
        assert_string_equal(pl_desired(&s, nodes3[i]), "d1");
}

static void test_a_bare_rollback_after_a_successful_deploy_goes_to_the_previous_one(void **state)
{
    (void)state;
    static struct pl_state s;
    uint64_t t = two_stable(&s, 3);
    struct pl_record r;
    rollback(&s, "r1", NULL, t, &r);
    assert_string_equal(r.target, "d1");
    assert_non_null(strstr(r.reason, "demo 1"));
}

static void test_a_second_bare_rollback_undoes_the_first(void **state)
{
    (void)state;
    static struct pl_state s;
    uint64_t t = two_stable(&s, 3);
    struct pl_record r;
    rollback(&s, "r1", NULL, t, &r);
    t = settle(&s, "d1", t);
    assert_string_equal(s.deps[s.stable].id, "d1");
    rollback(&s, "r2", NULL, t, &r);
    assert_string_equal(r.target, "d2");
}

static void test_a_bare_rollback_with_a_single_stable_release_is_refused(void **state)
{
    (void)state;
    static struct pl_state s;
    uint64_t t = d1_stable(&s);
    struct pl_record r;
    char why[256];
    assert_int_equal(pl_rollback(&s, "r1", NULL, t, &r, why, sizeof(why)), 409);
    assert_non_null(strstr(why, "no earlier stable release"));
    assert_non_null(strstr(why, "demo 1"));
}

static void test_a_bare_rollback_after_a_failed_release_goes_to_the_last_good_one(void **state)
{
    (void)state;
    static struct pl_state s;
    uint64_t t = stable_then_d2_reports(&s, false, PL_H_CRASHED, "");
    assert_int_equal(step(&s, t, NULL), PL_REC_FAILED); /* no auto_revert: n1 stays on d2 */
    struct pl_record r;
    rollback(&s, "r1", NULL, t, &r);
    assert_string_equal(r.target, "d1");
}

static void test_a_bare_rollback_during_a_rollout_goes_to_the_last_good_one(void **state)
{
    (void)state;
    static struct pl_state s;
    uint64_t t = two_stable(&s, 3);
    struct pl_release v3 = release("3", 1, true);
    begin(&s, "d3", &v3, t);
    assert_int_equal(step(&s, t, NULL), PL_REC_WAVE);
    struct pl_record r;
    rollback(&s, "r1", NULL, t, &r);
    assert_string_equal(r.target, "d2");
    assert_string_equal(r.from_deployment, "d3");
}

static void test_the_previous_stable_release_is_kept_in_memory(void **state)
{
    (void)state;
    static struct pl_state s;
    uint64_t t = two_stable(&s, 3);
    /* Releases that fail and are reverted to d2 fill the memory. */
    for (int k = 0; k < PL_MAX_DEPLOYMENTS; k++) {
        char id[PL_ID_MAX];
        snprintf(id, sizeof(id), "f%d", k);
        struct pl_release v = release("3", 3, true);
        v.digest[1] = (uint8_t)k;
        begin_and_fail(&s, id, &v, t);
        assert_int_equal(step(&s, t, NULL), PL_REC_ROLLBACK);
        for (int i = 0; i < 3; i++)
            healthy(&s, nodes3[i], "d2", t);
        assert_int_equal(step(&s, t + 2 * SEC, NULL), PL_REC_REVERTED);
        t += 2 * SEC;
    }
    assert_int_equal(s.ndeps, PL_MAX_DEPLOYMENTS);
    struct pl_record r;
    rollback(&s, "r1", NULL, t, &r);
    assert_string_equal(r.target, "d1");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_manual_rollback_changes_at_most_max_parallel_members_at_a_time),
        cmocka_unit_test(test_an_automatic_rollback_tells_every_member_at_once),
        cmocka_unit_test(test_a_manual_rollback_counts_only_members_that_change),
        cmocka_unit_test(test_a_rollback_recorded_before_waves_existed_applies_at_once),
        cmocka_unit_test(test_a_bare_rollback_after_a_successful_deploy_goes_to_the_previous_one),
        cmocka_unit_test(test_a_second_bare_rollback_undoes_the_first),
        cmocka_unit_test(test_a_bare_rollback_with_a_single_stable_release_is_refused),
        cmocka_unit_test(test_a_bare_rollback_after_a_failed_release_goes_to_the_last_good_one),
        cmocka_unit_test(test_a_bare_rollback_during_a_rollout_goes_to_the_last_good_one),
        cmocka_unit_test(test_the_previous_stable_release_is_kept_in_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
