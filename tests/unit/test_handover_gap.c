/* bench_handover's write gap (tests/bench/handover_gap.h): taken only when
 * the old leader acknowledged a write in the round. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "../bench/handover_gap.h"

#define MS 1000000ull
#define ROUND_START (69220000 * MS) /* a monotonic clock some hours after boot */

static void test_the_gap_runs_from_the_old_leaders_last_ack_to_the_first_by_another(void **state)
{
    (void)state;
    uint64_t gap = 0;
    assert_true(handover_gap(ROUND_START, ROUND_START + 30 * MS, ROUND_START + 37 * MS, &gap));
    assert_int_equal(gap, 7 * MS);
}

static void test_a_round_the_old_leader_acknowledged_nothing_in_is_skipped(void **state)
{
    (void)state;
    uint64_t gap = 0;
    assert_false(handover_gap(ROUND_START, 0, ROUND_START + 20 * MS, &gap));
    assert_int_equal(gap, 0);
}

static void test_an_ack_by_the_old_leader_in_an_earlier_round_is_not_its_last(void **state)
{
    (void)state;
    uint64_t gap = 0;
    assert_false(handover_gap(ROUND_START, ROUND_START - 900 * MS, ROUND_START + 20 * MS, &gap));
    assert_int_equal(gap, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_the_gap_runs_from_the_old_leaders_last_ack_to_the_first_by_another),
        cmocka_unit_test(test_a_round_the_old_leader_acknowledged_nothing_in_is_skipped),
        cmocka_unit_test(test_an_ack_by_the_old_leader_in_an_earlier_round_is_not_its_last),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
