/* Consensus core: pre-vote (§9.6), RequestVote (§3.4), the vote restriction
 * (§3.6.1), persistence of the vote (§3.8) and leader stickiness (§4.2.3),
 * each driven by hand on a single core. */
#include "test_consensus_support.h"

static struct cons_msg prevote(int32_t from, int32_t to, uint64_t term, uint64_t lli, uint64_t llt)
{
    struct cons_msg m = mk(CONS_MSG_PREVOTE, from, to, term);
    m.last_log_index = lli;
    m.last_log_term = llt;
    return m;
}

static struct cons_msg vote(int32_t from, int32_t to, uint64_t term, uint64_t lli, uint64_t llt)
{
    struct cons_msg m = prevote(from, to, term, lli, llt);
    m.type = CONS_MSG_VOTE;
    return m;
}

static struct cons_msg resp(enum cons_msg_type type, int32_t from, int32_t to, uint64_t term,
                            bool granted)
{
    struct cons_msg m = mk(type, from, to, term);
    m.granted = granted;
    return m;
}

static void
test_a_timeout_sends_prevotes_for_the_next_term_without_changing_term_or_vote(void **state)
{
    (void)state;
    struct cons c;
    struct cons_out out;
    init_node(&c, 0, 3, 4, 2, 1);
    c.last_log_index = 9;
    c.last_log_term = 3;
    tick(&c, c.election_deadline, &out);
    assert_int_equal(c.role, CONS_PRECANDIDATE);
    assert_int_equal(c.term, 4);
    assert_int_equal(c.voted_for, 2);
    assert_false(out.persist);
    assert_int_equal(out.nmsgs, 2);
    for (int32_t to = 1; to <= 2; to++) {
        const struct cons_msg *m = find(&out, CONS_MSG_PREVOTE, to);
        assert_non_null(m);
        assert_int_equal(m->term, 5);
        assert_int_equal(m->last_log_index, 9);
        assert_int_equal(m->last_log_term, 3);
    }
}

static void test_a_prevote_is_granted_without_changing_the_voters_term_or_vote(void **state)
{
    (void)state;
    struct cons c;
    struct cons_out out;
    init_node(&c, 1, 3, 4, 2, 1);
    recv_one(&c, START + 1, prevote(0, 1, 5, 0, 0), &out);
    const struct cons_msg *r = find(&out, CONS_MSG_PREVOTE_RESP, 0);
    assert_non_null(r);
    assert_true(r->granted);
    assert_int_equal(r->term, 5);
    assert_false(out.persist);
    assert_int_equal(c.term, 4);
    assert_int_equal(c.voted_for, 2);
    assert_int_equal(c.role, CONS_FOLLOWER);
}

static void test_a_prevote_for_a_term_that_is_not_newer_is_refused_with_own_term(void **state)
{
    (void)state;
    struct cons c;
    struct cons_out out;
    init_node(&c, 1, 3, 4, CONS_NONE, 1);
    recv_one(&c, START + 1, prevote(0, 1, 4, 0, 0), &out);
    const struct cons_msg *r = find(&out, CONS_MSG_PREVOTE_RESP, 0);
    assert_non_null(r);
    assert_false(r->granted);
    assert_int_equal(r->term, 4);
    assert_int_equal(c.term, 4);
}

static void test_a_prevote_from_a_candidate_with_an_older_log_is_refused(void **state)
{
    (void)state;
    struct cons c;
    struct cons_out out;
    init_node(&c, 1, 3, 4, CONS_NONE, 1);
    c.last_log_index = 10;
    c.last_log_term = 4;
    recv_one(&c, START + 1, prevote(0, 1, 5, 20, 3), &out); /* older last term */
    assert_false(find(&out, CONS_MSG_PREVOTE_RESP, 0)->granted);
    recv_one(&c, START + 1, prevote(0, 1, 5, 9, 4), &out); /* same term, shorter */
    assert_false(find(&out, CONS_MSG_PREVOTE_RESP, 0)->granted);
    recv_one(&c, START + 1, prevote(0, 1, 5, 10, 4), &out); /* as up to date */
    assert_true(find(&out, CONS_MSG_PREVOTE_RESP, 0)->granted);
}

static void test_a_prevote_is_refused_by_a_follower_that_hears_its_leader(void **state)
{
    (void)state;
    struct cons c;
    struct cons_out out;
    init_node(&c, 1, 3, 4, CONS_NONE, 1);
    recv_one(&c, START + 10, mk(CONS_MSG_HEARTBEAT, 2, 1, 4), &out);
    recv_one(&c, START + 10 + T_MS - 1, prevote(0, 1, 5, 0, 0), &out);
    const struct cons_msg *r = find(&out, CONS_MSG_PREVOTE_RESP, 0);
    assert_false(r->granted);
    assert_int_equal(r->term, 4);
    /* Once the leader has been silent for T, the lease is over. */
    recv_one(&c, START + 10 + T_MS, prevote(0, 1, 5, 0, 0), &out);
    assert_true(find(&out, CONS_MSG_PREVOTE_RESP, 0)->granted);
}

static void test_a_prevote_majority_makes_a_candidate_that_persists_its_self_vote(void **state)
{
    (void)state;
    struct cons c;
    struct cons_out out;
    init_node(&c, 0, 5, 4, CONS_NONE, 1);
    uint64_t now = c.election_deadline;
    tick(&c, now, &out);
    recv_one(&c, now, resp(CONS_MSG_PREVOTE_RESP, 1, 0, 5, true), &out);
    assert_int_equal(c.role, CONS_PRECANDIDATE); /* 2 of 5 */
    recv_one(&c, now, resp(CONS_MSG_PREVOTE_RESP, 1, 0, 5, true), &out);
    assert_int_equal(c.role, CONS_PRECANDIDATE); /* a duplicate counts once */
    recv_one(&c, now, resp(CONS_MSG_PREVOTE_RESP, 3, 0, 5, true), &out);
    assert_int_equal(c.role, CONS_CANDIDATE);
    assert_int_equal(c.term, 5);
    assert_int_equal(c.voted_for, 0);
    assert_true(out.persist);
    assert_int_equal(out.state.term, 5);
    assert_int_equal(out.state.voted_for, 0);
    assert_int_equal(count_type(&out, CONS_MSG_VOTE), 4);
    assert_int_equal(find(&out, CONS_MSG_VOTE, 4)->term, 5);
}

static void test_granted_prevotes_for_another_term_are_ignored(void **state)
{
    (void)state;
    struct cons c;
    struct cons_out out;
    init_node(&c, 0, 3, 4, CONS_NONE, 1);
    uint64_t now = c.election_deadline;
    tick(&c, now, &out);
    recv_one(&c, now, resp(CONS_MSG_PREVOTE_RESP, 1, 0, 4, true), &out);
    recv_one(&c, now, resp(CONS_MSG_PREVOTE_RESP, 1, 0, 7, true), &out);
    assert_int_equal(c.role, CONS_PRECANDIDATE);
    assert_int_equal(c.term, 4);
    assert_false(out.persist);
}

static void test_a_refused_prevote_carrying_a_newer_term_makes_the_node_follow_it(void **state)
{
    (void)state;
    struct cons c;
    struct cons_out out;
    init_node(&c, 0, 3, 4, 0, 1);
    uint64_t now = c.election_deadline;
    tick(&c, now, &out);
    recv_one(&c, now, resp(CONS_MSG_PREVOTE_RESP, 1, 0, 9, false), &out);
    assert_int_equal(c.role, CONS_FOLLOWER);
    assert_int_equal(c.term, 9);
    assert_int_equal(c.voted_for, CONS_NONE);
    assert_true(out.persist);
}

static void test_a_vote_is_granted_once_per_term(void **state)
{
    (void)state;
    struct cons c;
    struct cons_out out;
    init_node(&c, 1, 3, 0, CONS_NONE, 1);
    recv_one(&c, START + 1, vote(0, 1, 1, 0, 0), &out);
    assert_true(find(&out, CONS_MSG_VOTE_RESP, 0)->granted);
    assert_int_equal(c.voted_for, 0);
    recv_one(&c, START + 2, vote(2, 1, 1, 0, 0), &out);
    const struct cons_msg *r = find(&out, CONS_MSG_VOTE_RESP, 2);
    assert_false(r->granted);
    assert_int_equal(r->term, 1);
    assert_false(out.persist);
    assert_int_equal(c.voted_for, 0);
    /* The candidate it chose may ask again (a lost reply) and is granted. */
    recv_one(&c, START + 3, vote(0, 1, 1, 0, 0), &out);
    assert_true(find(&out, CONS_MSG_VOTE_RESP, 0)->granted);
}

static void test_a_vote_is_persisted_in_the_same_out_as_its_grant(void **state)
{
    (void)state;
    struct cons c;
    struct cons_out out;
    init_node(&c, 1, 3, 2, CONS_NONE, 1);
    recv_one(&c, START + 1, vote(2, 1, 3, 0, 0), &out);
    assert_true(out.persist);
    assert_int_equal(out.state.term, 3);
    assert_int_equal(out.state.voted_for, 2);
    assert_int_equal(out.nmsgs, 1);
    assert_true(find(&out, CONS_MSG_VOTE_RESP, 2)->granted);
    assert_int_equal(find(&out, CONS_MSG_VOTE_RESP, 2)->term, 3);
}

static void test_a_restarted_node_does_not_vote_for_another_in_its_persisted_term(void **state)
{
    (void)state;
    struct cons c;
    struct cons_out out;
    init_node(&c, 1, 3, 3, 0, 77); /* restarted: voted for 0 in term 3 */
    recv_one(&c, START + 1, vote(2, 1, 3, 0, 0), &out);
    assert_false(find(&out, CONS_MSG_VOTE_RESP, 2)->granted);
    assert_int_equal(c.voted_for, 0);
    assert_false(out.persist);
}

static void test_a_vote_for_a_candidate_with_an_older_log_is_refused(void **state)
{
    (void)state;
    struct cons c;
    struct cons_out out;
    init_node(&c, 1, 3, 5, CONS_NONE, 1);
    c.last_log_index = 10;
    c.last_log_term = 5;
    recv_one(&c, START + 1, vote(0, 1, 6, 99, 4), &out);
    assert_false(find(&out, CONS_MSG_VOTE_RESP, 0)->granted);
    recv_one(&c, START + 1, vote(0, 1, 6, 9, 5), &out);
    assert_false(find(&out, CONS_MSG_VOTE_RESP, 0)->granted);
    assert_int_equal(c.voted_for, CONS_NONE);
    recv_one(&c, START + 1, vote(2, 1, 6, 1, 6), &out); /* newer last term wins */
    assert_true(find(&out, CONS_MSG_VOTE_RESP, 2)->granted);
}

static void test_a_refused_vote_in_a_newer_term_still_moves_the_voter_to_that_term(void **state)
{
    (void)state;
    struct cons c;
    struct cons_out out;
    init_node(&c, 1, 3, 5, 1, 1);
    c.last_log_term = 5;
    recv_one(&c, START + 1, vote(0, 1, 8, 0, 0), &out);
    const struct cons_msg *r = find(&out, CONS_MSG_VOTE_RESP, 0);
    assert_false(r->granted);
    assert_int_equal(r->term, 8);
    assert_int_equal(c.term, 8);
    assert_int_equal(c.voted_for, CONS_NONE);
    assert_true(out.persist);
    assert_int_equal(out.state.term, 8);
    assert_int_equal(out.state.voted_for, CONS_NONE);
}

static void test_granting_a_vote_restarts_the_election_timer(void **state)
{
    (void)state;
    struct cons c;
    struct cons_out out;
    init_node(&c, 1, 3, 0, CONS_NONE, 1);
    uint64_t now = c.election_deadline - 1;
    recv_one(&c, now, vote(0, 1, 1, 0, 0), &out);
    assert_in_range(c.election_deadline, now + T_MS, now + 2 * T_MS - 1);
}

static void test_a_follower_that_hears_its_leader_ignores_a_vote_in_a_newer_term(void **state)
{
    (void)state;
    struct cons c;
    struct cons_out out;
    init_node(&c, 1, 3, 2, CONS_NONE, 1);
    recv_one(&c, START + 10, mk(CONS_MSG_HEARTBEAT, 2, 1, 2), &out);
    recv_one(&c, START + 20, vote(0, 1, 3, 0, 0), &out);
    assert_int_equal(out.nmsgs, 0);
    assert_false(out.persist);
    assert_int_equal(c.term, 2);
    assert_int_equal(c.voted_for, CONS_NONE);
    assert_int_equal(c.leader, 2);
}

static void test_a_vote_in_a_newer_term_is_granted_once_the_leader_has_gone_silent(void **state)
{
    (void)state;
    struct cons c;
    struct cons_out out;
    init_node(&c, 1, 3, 2, CONS_NONE, 1);
    recv_one(&c, START + 10, mk(CONS_MSG_HEARTBEAT, 2, 1, 2), &out);
    recv_one(&c, START + 10 + T_MS, vote(0, 1, 3, 0, 0), &out);
    assert_true(find(&out, CONS_MSG_VOTE_RESP, 0)->granted);
    assert_int_equal(c.term, 3);
    assert_int_equal(c.leader, CONS_NONE);
}

static void test_a_candidate_with_a_majority_of_votes_becomes_leader(void **state)
{
    (void)state;
    struct cons c;
    struct cons_out out;
    init_node(&c, 0, 3, 0, CONS_NONE, 1);
    uint64_t now = c.election_deadline;
    tick(&c, now, &out);
    recv_one(&c, now, resp(CONS_MSG_PREVOTE_RESP, 2, 0, 1, true), &out);
    recv_one(&c, now + 1, resp(CONS_MSG_VOTE_RESP, 1, 0, 1, false), &out);
    assert_int_equal(c.role, CONS_CANDIDATE); /* a refusal counts for nothing */
    recv_one(&c, now + 2, resp(CONS_MSG_VOTE_RESP, 2, 0, 1, true), &out);
    assert_int_equal(c.role, CONS_LEADER);
    assert_int_equal(c.leader, 0);
    assert_int_equal(c.term, 1);
}

static void test_vote_responses_from_an_older_term_are_ignored(void **state)
{
    (void)state;
    struct cons c;
    struct cons_out out;
    init_node(&c, 0, 3, 3, CONS_NONE, 1);
    uint64_t now = c.election_deadline;
    tick(&c, now, &out);
    recv_one(&c, now, resp(CONS_MSG_PREVOTE_RESP, 2, 0, 4, true), &out);
    assert_int_equal(c.term, 4);
    recv_one(&c, now, resp(CONS_MSG_VOTE_RESP, 1, 0, 3, true), &out);
    assert_int_equal(c.role, CONS_CANDIDATE);
    assert_int_equal(out.nmsgs, 0);
}

static void test_a_candidate_whose_election_times_out_goes_back_to_prevote(void **state)
{
    (void)state;
    struct cons c;
    struct cons_out out;
    init_node(&c, 0, 3, 0, CONS_NONE, 1);
    uint64_t now = c.election_deadline;
    tick(&c, now, &out);
    recv_one(&c, now, resp(CONS_MSG_PREVOTE_RESP, 1, 0, 1, true), &out);
    assert_int_equal(c.role, CONS_CANDIDATE);
    now = c.election_deadline;
    tick(&c, now, &out);
    assert_int_equal(c.role, CONS_PRECANDIDATE);
    assert_int_equal(c.term, 1); /* not raised again until a majority agrees */
    assert_false(out.persist);
    assert_int_equal(count_type(&out, CONS_MSG_PREVOTE), 2);
    assert_int_equal(find(&out, CONS_MSG_PREVOTE, 1)->term, 2);
    assert_in_range(c.election_deadline, now + T_MS, now + 2 * T_MS - 1);
}

static void test_a_candidate_hearing_a_leader_of_its_term_becomes_its_follower(void **state)
{
    (void)state;
    struct cons c;
    struct cons_out out;
    init_node(&c, 0, 3, 0, CONS_NONE, 1);
    uint64_t now = c.election_deadline;
    tick(&c, now, &out);
    recv_one(&c, now, resp(CONS_MSG_PREVOTE_RESP, 1, 0, 1, true), &out);
    recv_one(&c, now + 5, mk(CONS_MSG_HEARTBEAT, 2, 0, 1), &out);
    assert_int_equal(c.role, CONS_FOLLOWER);
    assert_int_equal(c.leader, 2);
    assert_int_equal(c.term, 1);
    assert_int_equal(c.voted_for, 0); /* its vote in term 1 stands */
    assert_true(find(&out, CONS_MSG_HEARTBEAT_RESP, 2)->granted);
}

static void test_a_precandidate_hearing_a_leader_becomes_its_follower(void **state)
{
    (void)state;
    struct cons c;
    struct cons_out out;
    init_node(&c, 0, 3, 2, CONS_NONE, 1);
    uint64_t now = c.election_deadline;
    tick(&c, now, &out);
    recv_one(&c, now + 5, mk(CONS_MSG_HEARTBEAT, 1, 0, 2), &out);
    assert_int_equal(c.role, CONS_FOLLOWER);
    assert_int_equal(c.leader, 1);
    /* Late pre-vote grants no longer count. */
    recv_one(&c, now + 6, resp(CONS_MSG_PREVOTE_RESP, 2, 0, 3, true), &out);
    assert_int_equal(c.role, CONS_FOLLOWER);
    assert_int_equal(c.term, 2);
}

static void test_a_precandidate_granting_a_vote_in_its_term_stands_down(void **state)
{
    (void)state;
    struct cons c;
    struct cons_out out;
    init_node(&c, 0, 3, 1, CONS_NONE, 1);
    uint64_t now = c.election_deadline;
    tick(&c, now, &out);
    assert_int_equal(c.role, CONS_PRECANDIDATE);
    recv_one(&c, now + 1, vote(2, 0, 1, 0, 0), &out);
    assert_true(find(&out, CONS_MSG_VOTE_RESP, 2)->granted);
    assert_int_equal(c.role, CONS_FOLLOWER);
    /* It no longer races the candidate it voted for into term 2. */
    recv_one(&c, now + 2, resp(CONS_MSG_PREVOTE_RESP, 1, 0, 2, true), &out);
    assert_int_equal(c.role, CONS_FOLLOWER);
    assert_int_equal(c.term, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(
            test_a_timeout_sends_prevotes_for_the_next_term_without_changing_term_or_vote),
        cmocka_unit_test(test_a_prevote_is_granted_without_changing_the_voters_term_or_vote),
        cmocka_unit_test(test_a_prevote_for_a_term_that_is_not_newer_is_refused_with_own_term),
        cmocka_unit_test(test_a_prevote_from_a_candidate_with_an_older_log_is_refused),
        cmocka_unit_test(test_a_prevote_is_refused_by_a_follower_that_hears_its_leader),
        cmocka_unit_test(test_a_prevote_majority_makes_a_candidate_that_persists_its_self_vote),
        cmocka_unit_test(test_granted_prevotes_for_another_term_are_ignored),
        cmocka_unit_test(test_a_refused_prevote_carrying_a_newer_term_makes_the_node_follow_it),
        cmocka_unit_test(test_a_vote_is_granted_once_per_term),
        cmocka_unit_test(test_a_vote_is_persisted_in_the_same_out_as_its_grant),
        cmocka_unit_test(test_a_restarted_node_does_not_vote_for_another_in_its_persisted_term),
        cmocka_unit_test(test_a_vote_for_a_candidate_with_an_older_log_is_refused),
        cmocka_unit_test(test_a_refused_vote_in_a_newer_term_still_moves_the_voter_to_that_term),
        cmocka_unit_test(test_granting_a_vote_restarts_the_election_timer),
        cmocka_unit_test(test_a_follower_that_hears_its_leader_ignores_a_vote_in_a_newer_term),
        cmocka_unit_test(test_a_vote_in_a_newer_term_is_granted_once_the_leader_has_gone_silent),
        cmocka_unit_test(test_a_candidate_with_a_majority_of_votes_becomes_leader),
        cmocka_unit_test(test_vote_responses_from_an_older_term_are_ignored),
        cmocka_unit_test(test_a_candidate_whose_election_times_out_goes_back_to_prevote),
        cmocka_unit_test(test_a_candidate_hearing_a_leader_of_its_term_becomes_its_follower),
        cmocka_unit_test(test_a_precandidate_hearing_a_leader_becomes_its_follower),
        cmocka_unit_test(test_a_precandidate_granting_a_vote_in_its_term_stands_down),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
