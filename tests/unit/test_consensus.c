/* Consensus core basics: start-up, election-timeout randomization, the
 * single-node cluster, input validation, deadlines and read-only mode. */
#include "test_consensus_support.h"

static void test_init_starts_a_follower_in_the_persisted_term_with_no_leader(void **state)
{
    (void)state;
    struct cons c;
    init_node(&c, 2, 3, 7, 1, 42);
    assert_int_equal(c.role, CONS_FOLLOWER);
    assert_int_equal(c.term, 7);
    assert_int_equal(c.voted_for, 1);
    assert_int_equal(c.leader, CONS_NONE);
    assert_false(c.heard_leader);
}

static void test_election_timeouts_are_drawn_within_T_to_2T_over_many_seeds(void **state)
{
    (void)state;
    for (uint64_t seed = 0; seed < 2000; seed++) {
        struct cons c;
        init_node(&c, 0, 3, 0, CONS_NONE, seed);
        assert_in_range(c.election_deadline, START + T_MS, START + 2 * T_MS - 1);
        /* Every later draw too: each timeout re-arms from the tick's time. */
        uint64_t now = START;
        for (int k = 0; k < 5; k++) {
            now = c.election_deadline;
            struct cons_out out;
            tick(&c, now, &out);
            assert_in_range(c.election_deadline, now + T_MS, now + 2 * T_MS - 1);
        }
    }
}

static void test_election_timeouts_differ_across_seeds(void **state)
{
    (void)state;
    bool seen[2 * T_MS] = {false};
    size_t distinct = 0;
    for (uint64_t seed = 0; seed < 200; seed++) {
        struct cons c;
        init_node(&c, 0, 3, 0, CONS_NONE, seed);
        uint64_t off = c.election_deadline - START;
        if (!seen[off]) {
            seen[off] = true;
            distinct++;
        }
    }
    /* 200 draws from 150 values: far more than a handful must differ. */
    assert_true(distinct > 50);
}

static void test_the_same_seed_repeats_the_same_timeouts(void **state)
{
    (void)state;
    struct cons a, b;
    init_node(&a, 1, 3, 0, CONS_NONE, 99);
    init_node(&b, 1, 3, 0, CONS_NONE, 99);
    for (int k = 0; k < 20; k++) {
        assert_int_equal(a.election_deadline, b.election_deadline);
        struct cons_out out;
        tick(&a, a.election_deadline, &out);
        tick(&b, b.election_deadline, &out);
    }
}

static void test_members_given_the_same_seed_draw_different_timeouts(void **state)
{
    (void)state;
    /* Identical timers would split every vote forever; the core mixes the
     * member number into the seed. */
    size_t same = 0;
    for (uint64_t seed = 0; seed < 100; seed++) {
        struct cons a, b;
        init_node(&a, 0, 3, 0, CONS_NONE, seed);
        init_node(&b, 1, 3, 0, CONS_NONE, seed);
        same += a.election_deadline == b.election_deadline;
    }
    assert_true(same < 10);
}

static void test_a_single_node_elects_itself_at_its_first_deadline(void **state)
{
    (void)state;
    struct cons c;
    struct cons_out out;
    init_node(&c, 0, 1, 0, CONS_NONE, 5);
    tick(&c, c.election_deadline - 1, &out);
    assert_int_equal(c.role, CONS_FOLLOWER);
    assert_false(out.persist);
    tick(&c, c.election_deadline, &out);
    assert_int_equal(c.role, CONS_LEADER);
    assert_int_equal(c.term, 1);
    assert_int_equal(c.leader, 0);
    assert_true(out.persist);
    assert_int_equal(out.state.term, 1);
    assert_int_equal(out.state.voted_for, 0);
    assert_int_equal(out.nmsgs, 0);
}

static void test_a_single_node_leader_is_never_read_only(void **state)
{
    (void)state;
    struct cons c;
    struct cons_out out;
    init_node(&c, 0, 1, 0, CONS_NONE, 5);
    uint64_t now = c.election_deadline;
    tick(&c, now, &out);
    for (uint64_t t = now; t < now + 20 * T_MS; t += HB_MS) {
        tick(&c, t, &out);
        assert_int_equal(c.role, CONS_LEADER);
        assert_false(cons_read_only(&c, t));
    }
}

/* A heartbeat in a newer term: had it been accepted it would change term,
 * leader and role, so "nothing changed" shows it was ignored. */
static void assert_ignored(struct cons_msg m)
{
    struct cons c, before;
    struct cons_out out;
    init_node(&c, 0, 3, 2, CONS_NONE, 1);
    memcpy(&before, &c, sizeof(c));
    memset(&out, 0xAB, sizeof(out));
    cons_recv(&c, START + 10, &m, &out);
    assert_false(out.persist);
    assert_int_equal(out.nmsgs, 0);
    assert_memory_equal(&c, &before, sizeof(c));
}

static void test_a_message_from_an_out_of_range_member_is_ignored(void **state)
{
    (void)state;
    assert_ignored(mk(CONS_MSG_HEARTBEAT, 3, 0, 5));
    assert_ignored(mk(CONS_MSG_HEARTBEAT, -1, 0, 5));
    assert_ignored(mk(CONS_MSG_HEARTBEAT, CONS_MAX_MEMBERS, 0, 5));
}

static void test_a_message_claiming_to_come_from_self_is_ignored(void **state)
{
    (void)state;
    assert_ignored(mk(CONS_MSG_HEARTBEAT, 0, 0, 5));
}

static void test_a_message_addressed_to_another_member_is_ignored(void **state)
{
    (void)state;
    assert_ignored(mk(CONS_MSG_HEARTBEAT, 1, 2, 5));
    assert_ignored(mk(CONS_MSG_HEARTBEAT, 1, CONS_NONE, 5));
}

static void test_a_message_of_unknown_type_is_ignored(void **state)
{
    (void)state;
    assert_ignored(mk((enum cons_msg_type)0, 1, 0, 5));
    assert_ignored(mk(CONS_MSG_TYPE_END, 1, 0, 5));
    assert_ignored(mk((enum cons_msg_type)77, 1, 0, 5));
}

static void test_out_is_cleared_even_when_nothing_is_due(void **state)
{
    (void)state;
    struct cons c;
    struct cons_out out;
    init_node(&c, 0, 3, 0, CONS_NONE, 1);
    memset(&out, 0xAB, sizeof(out));
    cons_tick(&c, START, &out);
    assert_false(out.persist);
    assert_int_equal(out.nmsgs, 0);
}

static void test_next_deadline_of_a_follower_is_its_election_deadline(void **state)
{
    (void)state;
    struct cons c;
    struct cons_out out;
    init_node(&c, 0, 3, 0, CONS_NONE, 3);
    assert_int_equal(cons_next_deadline(&c), c.election_deadline);
    tick(&c, cons_next_deadline(&c) - 1, &out);
    assert_int_equal(out.nmsgs, 0); /* nothing happens before it */
    tick(&c, cons_next_deadline(&c), &out);
    assert_int_equal(count_type(&out, CONS_MSG_PREVOTE), 2);
    /* The pre-candidate's next deadline is its re-armed election timer. */
    assert_int_equal(cons_next_deadline(&c), c.election_deadline);
}

static void test_next_deadline_of_a_leader_is_the_heartbeat_while_acks_are_fresh(void **state)
{
    (void)state;
    struct cons c;
    struct cons_out out;
    init_node(&c, 0, 3, 0, CONS_NONE, 3);
    uint64_t won = elect_by_hand(&c);
    /* Heartbeat at won+50; check-quorum can fail no earlier than won+T. */
    assert_int_equal(cons_next_deadline(&c), won + HB_MS);
    tick(&c, won + HB_MS, &out);
    assert_int_equal(cons_next_deadline(&c), won + 2 * HB_MS);
}

static void test_next_deadline_of_a_leader_is_the_quorum_check_when_it_comes_first(void **state)
{
    (void)state;
    struct cons c;
    struct cons_out out;
    init_node(&c, 0, 3, 0, CONS_NONE, 3);
    uint64_t won = elect_by_hand(&c);
    /* Nobody acks: heartbeats at +50, +100; the majority is lost at +150,
     * which coincides with the third heartbeat and wins the min. */
    tick(&c, won + HB_MS, &out);
    tick(&c, won + 2 * HB_MS, &out);
    assert_int_equal(cons_next_deadline(&c), won + T_MS);
    /* An ack at +120 from member 2 pushes the failure to +270. */
    recv_one(&c, won + 120, mk(CONS_MSG_HEARTBEAT_RESP, 2, 0, c.term), &out);
    assert_int_equal(cons_next_deadline(&c), won + 3 * HB_MS);
    tick(&c, won + 3 * HB_MS, &out);
    tick(&c, won + 4 * HB_MS, &out);
    tick(&c, won + 5 * HB_MS, &out);
    assert_int_equal(cons_next_deadline(&c), won + 120 + T_MS);
}

static void test_a_follower_that_never_heard_a_leader_is_read_only(void **state)
{
    (void)state;
    struct cons c;
    init_node(&c, 1, 3, 4, CONS_NONE, 3);
    assert_true(cons_read_only(&c, START));
}

static void test_a_follower_is_writable_while_its_leader_is_heard_then_read_only(void **state)
{
    (void)state;
    struct cons c;
    struct cons_out out;
    init_node(&c, 1, 3, 4, CONS_NONE, 3);
    recv_one(&c, START + 10, mk(CONS_MSG_HEARTBEAT, 0, 1, 4), &out);
    assert_int_equal(c.leader, 0);
    assert_false(cons_read_only(&c, START + 10));
    assert_false(cons_read_only(&c, START + 10 + T_MS - 1));
    assert_true(cons_read_only(&c, START + 10 + T_MS));
}

static void test_quorum_is_a_strict_majority_and_roles_have_names(void **state)
{
    (void)state;
    struct cons c;
    const int32_t want[] = {1, 2, 2, 3, 3, 4, 4, 5};
    for (int32_t n = 1; n <= 8; n++) {
        init_node(&c, 0, n, 0, CONS_NONE, 1);
        assert_int_equal(cons_quorum(&c), want[n - 1]);
    }
    assert_string_equal(cons_role_name(CONS_FOLLOWER), "follower");
    assert_string_equal(cons_role_name(CONS_PRECANDIDATE), "precandidate");
    assert_string_equal(cons_role_name(CONS_CANDIDATE), "candidate");
    assert_string_equal(cons_role_name(CONS_LEADER), "leader");
    assert_string_equal(cons_role_name((enum cons_role)9), "unknown");
}

static uint64_t next_rand(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static void test_arbitrary_message_sequences_keep_the_output_contract(void **state)
{
    (void)state;
    /* Whatever arrives, in whatever order: no overflow, every message from
     * self to a member, the persisted state is the one the core runs on, the
     * term never goes down, and a vote once cast in a term never changes. */
    uint64_t r = 12345;
    for (int run = 0; run < 200; run++) {
        struct cons c;
        struct cons_out out;
        int32_t n = (int32_t)(next_rand(&r) % CONS_MAX_MEMBERS) + 1;
        init_node(&c, (int32_t)(next_rand(&r) % (uint64_t)n), n, 0, CONS_NONE, r);
        uint64_t now = START;
        for (int k = 0; k < 500; k++) {
            uint64_t term = c.term, prev_term = c.term;
            int32_t prev_vote = c.voted_for;
            now += next_rand(&r) % (T_MS / 2);
            if (next_rand(&r) % 4 == 0) {
                tick(&c, now, &out);
            } else {
                struct cons_msg m = {
                    .type = (enum cons_msg_type)(next_rand(&r) % (CONS_MSG_TYPE_END + 1)),
                    .from = (int32_t)(next_rand(&r) % (uint64_t)(n + 1)) - (k % 7 == 0),
                    .to = next_rand(&r) % 8 ? c.cfg.self : (int32_t)(next_rand(&r) % 20),
                    .term = term + next_rand(&r) % 3 - (term > 0),
                    .last_log_index = next_rand(&r) % 3,
                    .last_log_term = next_rand(&r) % 3,
                    .granted = next_rand(&r) % 2,
                };
                recv_one(&c, now, m, &out);
            }
            assert_true(c.term >= prev_term);
            if (c.term == prev_term && prev_vote != CONS_NONE)
                assert_int_equal(c.voted_for, prev_vote);
            if (c.term != prev_term || c.voted_for != prev_vote)
                assert_true(out.persist);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_starts_a_follower_in_the_persisted_term_with_no_leader),
        cmocka_unit_test(test_election_timeouts_are_drawn_within_T_to_2T_over_many_seeds),
        cmocka_unit_test(test_election_timeouts_differ_across_seeds),
        cmocka_unit_test(test_the_same_seed_repeats_the_same_timeouts),
        cmocka_unit_test(test_members_given_the_same_seed_draw_different_timeouts),
        cmocka_unit_test(test_a_single_node_elects_itself_at_its_first_deadline),
        cmocka_unit_test(test_a_single_node_leader_is_never_read_only),
        cmocka_unit_test(test_a_message_from_an_out_of_range_member_is_ignored),
        cmocka_unit_test(test_a_message_claiming_to_come_from_self_is_ignored),
        cmocka_unit_test(test_a_message_addressed_to_another_member_is_ignored),
        cmocka_unit_test(test_a_message_of_unknown_type_is_ignored),
        cmocka_unit_test(test_out_is_cleared_even_when_nothing_is_due),
        cmocka_unit_test(test_next_deadline_of_a_follower_is_its_election_deadline),
        cmocka_unit_test(test_next_deadline_of_a_leader_is_the_heartbeat_while_acks_are_fresh),
        cmocka_unit_test(test_next_deadline_of_a_leader_is_the_quorum_check_when_it_comes_first),
        cmocka_unit_test(test_a_follower_that_never_heard_a_leader_is_read_only),
        cmocka_unit_test(test_a_follower_is_writable_while_its_leader_is_heard_then_read_only),
        cmocka_unit_test(test_quorum_is_a_strict_majority_and_roles_have_names),
        cmocka_unit_test(test_arbitrary_message_sequences_keep_the_output_contract),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
