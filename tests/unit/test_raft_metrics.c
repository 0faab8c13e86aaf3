/* What the Raft layer measures for /metrics (node/raft/raft_metrics.h):
 * proposals committed, failed and pending, the leader's append-to-commit
 * times, and heartbeat round trips per member. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "node/raft/raft_metrics.h"

#define MS 1000000ull

static void test_committed_counts_entries_from_the_commit_the_node_started_at(void **state)
{
    (void)state;
    struct raft_metrics m;
    raft_metrics_init(&m);
    raft_metrics_from(&m, 10);
    raft_metrics_committed(&m, 12, 1 * MS);
    raft_metrics_committed(&m, 12, 2 * MS); /* heard again: nothing new */
    raft_metrics_committed(&m, 11, 3 * MS); /* never backwards */
    assert_int_equal(m.committed, 2);
}

static void test_an_append_is_timed_from_its_start_to_the_commit_that_covers_it(void **state)
{
    (void)state;
    struct raft_metrics m;
    raft_metrics_init(&m);
    raft_metrics_appended(&m, 3, 100 * MS);
    raft_metrics_appended(&m, 5, 110 * MS);
    raft_metrics_committed(&m, 4, 120 * MS); /* covers the first only */
    assert_int_equal(m.commit.n, 1);
    assert_true(m.commit.sum > 0.0199 && m.commit.sum < 0.0201);
    assert_int_equal(raft_metrics_pending(&m, true, 4), 1);
    raft_metrics_committed(&m, 5, 130 * MS);
    assert_int_equal(m.commit.n, 2);
    assert_int_equal(raft_metrics_pending(&m, true, 5), 0);
}

static void test_pending_is_the_leaders_alone(void **state)
{
    (void)state;
    struct raft_metrics m;
    raft_metrics_init(&m);
    raft_metrics_appended(&m, 7, 1 * MS);
    assert_int_equal(raft_metrics_pending(&m, true, 4), 3);
    assert_int_equal(raft_metrics_pending(&m, false, 4), 0);
}

static void test_what_a_leader_had_not_seen_committed_fails_when_it_stops_leading(void **state)
{
    (void)state;
    struct raft_metrics m;
    raft_metrics_init(&m);
    raft_metrics_appended(&m, 8, 1 * MS);
    raft_metrics_lost_lead(&m, 6);
    assert_int_equal(m.failed, 2);
    assert_int_equal(raft_metrics_pending(&m, true, 6), 0);
    raft_metrics_committed(&m, 8, 2 * MS); /* committed by the next leader: not timed here */
    assert_int_equal(m.commit.n, 0);
    raft_metrics_lost_lead(&m, 8); /* a follower's step: nothing more */
    assert_int_equal(m.failed, 2);
}

static void test_refused_appends_fail_every_entry_they_held(void **state)
{
    (void)state;
    struct raft_metrics m;
    raft_metrics_init(&m);
    raft_metrics_refused(&m, 3);
    assert_int_equal(m.failed, 3);
}

static void test_a_full_ring_of_appends_forgets_the_oldest_untimed(void **state)
{
    (void)state;
    struct raft_metrics m;
    raft_metrics_init(&m);
    for (uint64_t i = 1; i <= RAFT_METRICS_APPENDS + 1; i++)
        raft_metrics_appended(&m, i, i * MS);
    raft_metrics_committed(&m, RAFT_METRICS_APPENDS + 1, 1000 * MS);
    assert_int_equal(m.commit.n, RAFT_METRICS_APPENDS);
}

static void test_a_heartbeat_round_trip_is_timed_per_member(void **state)
{
    (void)state;
    struct raft_metrics m;
    raft_metrics_init(&m);
    raft_metrics_heartbeat_sent(&m, 1, false, 100 * MS, 150 * MS);
    raft_metrics_heartbeat_sent(&m, 1, false, 150 * MS, 150 * MS); /* one timed at a time */
    raft_metrics_heartbeat_answered(&m, 1, 102 * MS);
    raft_metrics_heartbeat_answered(&m, 1, 152 * MS); /* nothing awaited: ignored */
    assert_int_equal(m.rtt[1].n, 1);
    assert_true(m.rtt[1].sum > 0.00199 && m.rtt[1].sum < 0.00201);
    assert_int_equal(m.rtt[2].n, 0);
}

static void test_a_quiet_heartbeat_is_not_timed_and_leaves_the_next_one_timed(void **state)
{
    (void)state;
    struct raft_metrics m;
    raft_metrics_init(&m);
    raft_metrics_heartbeat_sent(&m, 1, true, 100 * MS, 150 * MS); /* a commit push */
    raft_metrics_heartbeat_sent(&m, 1, false, 130 * MS, 150 * MS);
    raft_metrics_heartbeat_answered(&m, 1, 131 * MS);
    assert_int_equal(m.rtt[1].n, 1);
    assert_true(m.rtt[1].sum > 0.00099 && m.rtt[1].sum < 0.00101);
}

static void test_a_heartbeat_unanswered_past_the_loss_time_gives_way_to_the_next(void **state)
{
    (void)state;
    struct raft_metrics m;
    raft_metrics_init(&m);
    raft_metrics_heartbeat_sent(&m, 2, false, 100 * MS, 150 * MS);
    raft_metrics_heartbeat_sent(&m, 2, false, 300 * MS, 150 * MS);
    raft_metrics_heartbeat_answered(&m, 2, 301 * MS);
    assert_true(m.rtt[2].sum > 0.00099 && m.rtt[2].sum < 0.00101);
}

static void test_losing_the_lead_forgets_the_heartbeats_awaited(void **state)
{
    (void)state;
    struct raft_metrics m;
    raft_metrics_init(&m);
    raft_metrics_heartbeat_sent(&m, 1, false, 100 * MS, 150 * MS);
    raft_metrics_lost_lead(&m, 0);
    raft_metrics_heartbeat_answered(&m, 1, 101 * MS);
    assert_int_equal(m.rtt[1].n, 0);
}

static void test_a_member_out_of_range_is_ignored(void **state)
{
    (void)state;
    struct raft_metrics m;
    raft_metrics_init(&m);
    raft_metrics_heartbeat_sent(&m, CONFIG_MAX_MEMBERS, false, 1 * MS, 150 * MS);
    raft_metrics_heartbeat_answered(&m, CONFIG_MAX_MEMBERS, 2 * MS);
    for (size_t i = 0; i < CONFIG_MAX_MEMBERS; i++)
        assert_int_equal(m.rtt[i].n, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_committed_counts_entries_from_the_commit_the_node_started_at),
        cmocka_unit_test(test_an_append_is_timed_from_its_start_to_the_commit_that_covers_it),
        cmocka_unit_test(test_pending_is_the_leaders_alone),
        cmocka_unit_test(test_what_a_leader_had_not_seen_committed_fails_when_it_stops_leading),
        cmocka_unit_test(test_refused_appends_fail_every_entry_they_held),
        cmocka_unit_test(test_a_full_ring_of_appends_forgets_the_oldest_untimed),
        cmocka_unit_test(test_a_heartbeat_round_trip_is_timed_per_member),
        cmocka_unit_test(test_a_quiet_heartbeat_is_not_timed_and_leaves_the_next_one_timed),
        cmocka_unit_test(test_a_heartbeat_unanswered_past_the_loss_time_gives_way_to_the_next),
        cmocka_unit_test(test_losing_the_lead_forgets_the_heartbeats_awaited),
        cmocka_unit_test(test_a_member_out_of_range_is_ignored),
    };
    return cmocka_run_group_tests_name("raft_metrics", tests, NULL, NULL);
}
