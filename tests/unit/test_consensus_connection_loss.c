/* Consensus core: failover on connection loss (cons_peer_lost,
 * cons_peer_back). A follower whose connection to its leader drops starts a
 * pre-vote (§9.6) within a few ms instead of an election timeout; voters
 * that still hear the leader refuse it (§4.2.3), voters that lost the leader
 * too grant it; notices about anyone but the follower's own leader change
 * nothing, and a flapping link asks for few, spaced pre-votes. */
#include "test_consensus_support.h"

#define TERM 5u

/* Member self of 3 follows leader 1 in TERM, heard at START. */
static void follower_of_1(struct cons *c, int32_t self)
{
    struct cons_out out;
    init_node(c, self, 3, TERM, CONS_NONE, 7);
    recv_one(c, START, mk(CONS_MSG_HEARTBEAT, 1, self, TERM), &out);
    assert_int_equal(c->role, CONS_FOLLOWER);
    assert_int_equal(c->leader, 1);
}

static struct cons_msg prevote_from(int32_t from, int32_t to, uint64_t term)
{
    return mk(CONS_MSG_PREVOTE, from, to, term);
}

/* The connection to leader drops at START + 10 and the early pre-vote
 * starts when it is due: that time. */
static uint64_t early_prevote(struct cons *c, int32_t leader, struct cons_out *out)
{
    cons_peer_lost(c, START + 10, leader);
    uint64_t at = cons_next_deadline(c);
    tick(c, at, out);
    return at;
}

static void test_a_follower_whose_leader_connection_drops_prevotes_within_a_few_ms(void **state)
{
    (void)state;
    struct cons c;
    struct cons_out out;
    follower_of_1(&c, 0);
    cons_peer_lost(&c, START + 10, 1);
    uint64_t at = cons_next_deadline(&c);
    assert_in_range(at, START + 11, START + 10 + CONS_LOST_JITTER_MS);
    tick(&c, at, &out);
    assert_int_equal(c.role, CONS_PRECANDIDATE);
    assert_int_equal(c.term, TERM);
    assert_true(out.lost_prevote);
    assert_int_equal(out.lost_leader, 1);
    assert_non_null(find(&out, CONS_MSG_PREVOTE, 1));
    assert_non_null(find(&out, CONS_MSG_PREVOTE, 2));
}

/* Member 2's followers below it: member 0 (member 1 is the leader). */
static void test_a_follower_waits_one_step_for_each_follower_numbered_below_it(void **state)
{
    (void)state;
    struct cons c;
    follower_of_1(&c, 2);
    cons_peer_lost(&c, START + 10, 1);
    assert_in_range(cons_next_deadline(&c), START + 11 + CONS_LOST_STEP_MS,
                    START + 10 + CONS_LOST_STEP_MS + CONS_LOST_JITTER_MS);
}

static void test_a_leader_gone_without_a_drop_is_found_by_the_election_timeout(void **state)
{
    (void)state;
    struct cons c;
    struct cons_out out;
    follower_of_1(&c, 0);
    uint64_t at = cons_next_deadline(&c);
    assert_true(at >= START + T_MS);
    tick(&c, at, &out);
    assert_int_equal(c.role, CONS_PRECANDIDATE);
    assert_false(out.lost_prevote);
}

static void test_a_drop_of_a_connection_to_another_follower_is_ignored(void **state)
{
    (void)state;
    struct cons c;
    follower_of_1(&c, 0);
    uint64_t before = cons_next_deadline(&c);
    cons_peer_lost(&c, START + 10, 2);
    assert_int_equal(cons_next_deadline(&c), before);
}

static void test_a_drop_for_an_old_leader_after_a_new_one_took_over_is_ignored(void **state)
{
    (void)state;
    struct cons c;
    struct cons_out out;
    follower_of_1(&c, 0);
    recv_one(&c, START + 20, mk(CONS_MSG_HEARTBEAT, 2, 0, TERM + 1), &out);
    assert_int_equal(c.leader, 2);
    uint64_t before = cons_next_deadline(&c);
    cons_peer_lost(&c, START + 21, 1);
    assert_int_equal(cons_next_deadline(&c), before);
}

static void test_a_leader_whose_followers_connections_drop_does_nothing(void **state)
{
    (void)state;
    struct cons c;
    struct cons_out out;
    init_node(&c, 0, 3, TERM, CONS_NONE, 7);
    uint64_t now = elect_by_hand(&c);
    uint64_t before = cons_next_deadline(&c);
    cons_peer_lost(&c, now + 1, 1);
    cons_peer_lost(&c, now + 1, 2);
    assert_int_equal(cons_next_deadline(&c), before);
    tick(&c, before, &out);
    assert_int_equal(c.role, CONS_LEADER);
    assert_false(out.lost_prevote);
}

static void test_a_precandidate_ignores_a_drop(void **state)
{
    (void)state;
    struct cons c;
    struct cons_out out;
    follower_of_1(&c, 0);
    tick(&c, cons_next_deadline(&c), &out);
    assert_int_equal(c.role, CONS_PRECANDIDATE);
    uint64_t before = cons_next_deadline(&c);
    cons_peer_lost(&c, c.election_deadline - 100, 1);
    assert_int_equal(cons_next_deadline(&c), before);
}

static void test_the_connection_back_before_the_prevote_calls_it_off(void **state)
{
    (void)state;
    struct cons c;
    follower_of_1(&c, 0);
    uint64_t before = cons_next_deadline(&c);
    cons_peer_lost(&c, START + 10, 1);
    cons_peer_back(&c, START + 11, 1);
    assert_int_equal(cons_next_deadline(&c), before);
}

static void test_hearing_the_leader_after_the_drop_calls_off_the_early_prevote(void **state)
{
    (void)state;
    struct cons c;
    struct cons_out out;
    follower_of_1(&c, 0);
    cons_peer_lost(&c, START + 10, 1);
    recv_one(&c, START + 11, mk(CONS_MSG_HEARTBEAT, 1, 0, TERM), &out);
    assert_true(cons_next_deadline(&c) >= START + 11 + T_MS);
}

static void test_a_term_change_calls_off_an_early_prevote(void **state)
{
    (void)state;
    struct cons c;
    struct cons_out out;
    follower_of_1(&c, 0);
    uint64_t before = cons_next_deadline(&c);
    cons_peer_lost(&c, START + 10, 1);
    /* A refused pre-vote answer of a later term: this node catches up as a
     * follower of nobody yet, and its old leader's drop is old news. */
    struct cons_msg m = mk(CONS_MSG_PREVOTE_RESP, 2, 0, TERM + 1);
    recv_one(&c, START + 11, m, &out);
    assert_int_equal(c.term, TERM + 1);
    assert_int_equal(cons_next_deadline(&c), before);
}

static void test_a_follower_whose_disk_refuses_writes_starts_no_early_prevote(void **state)
{
    (void)state;
    struct cons c;
    follower_of_1(&c, 0);
    struct cons_persist p = {.term = TERM, .voted_for = CONS_NONE};
    struct cons_entry last = {0};
    cons_storage_failed(&c, START + 5, &p, &last);
    uint64_t before = c.election_deadline;
    cons_peer_lost(&c, START + 10, 1);
    assert_int_equal(c.election_deadline, before);
}

static void test_a_voter_that_still_hears_its_leader_refuses_the_prevote(void **state)
{
    (void)state;
    struct cons c;
    struct cons_out out;
    follower_of_1(&c, 2);
    recv_one(&c, START + 5, prevote_from(0, 2, TERM + 1), &out);
    const struct cons_msg *r = find(&out, CONS_MSG_PREVOTE_RESP, 0);
    assert_non_null(r);
    assert_false(r->granted);
}

static void test_a_voter_that_lost_its_own_connection_to_the_leader_grants_the_prevote(void **state)
{
    (void)state;
    struct cons c;
    struct cons_out out;
    follower_of_1(&c, 2);
    cons_peer_lost(&c, START + 3, 1);
    recv_one(&c, START + 5, prevote_from(0, 2, TERM + 1), &out);
    const struct cons_msg *r = find(&out, CONS_MSG_PREVOTE_RESP, 0);
    assert_non_null(r);
    assert_true(r->granted);
}

/* A connection closed and replaced (a redial after a partition healed)
 * while the leader is still heard: /health/ready must not flip. */
static void
test_a_follower_that_lost_its_connection_to_the_leader_is_not_read_only_by_it(void **state)
{
    (void)state;
    struct cons c;
    follower_of_1(&c, 2);
    cons_peer_lost(&c, START + 3, 1);
    assert_false(cons_read_only(&c, START + 4));
}

/* The early pre-vote of a follower whose connection to a live leader was
 * reset: until the leader's next heartbeat (which the others' refusals
 * wait for), it still knows its leader and takes no read-only turn. */
static void test_an_early_precandidate_still_knows_its_leader_and_is_not_read_only(void **state)
{
    (void)state;
    struct cons c;
    struct cons_out out;
    follower_of_1(&c, 0);
    uint64_t at = early_prevote(&c, 1, &out);
    assert_true(out.lost_prevote);
    assert_int_equal(c.role, CONS_PRECANDIDATE);
    assert_int_equal(c.leader, 1);
    assert_false(cons_read_only(&c, at));
    assert_false(cons_read_only(&c, START + HB_MS));
    recv_one(&c, START + HB_MS, mk(CONS_MSG_HEARTBEAT, 1, 0, TERM), &out);
    assert_int_equal(c.role, CONS_FOLLOWER);
    assert_int_equal(c.leader, 1);
}

/* What it still knows does not outlive the leader's silence: a dead
 * leader's follower turns read-only an election timeout after it last heard
 * it, as one whose leader went silent without a drop does. */
static void
test_an_early_precandidate_is_read_only_once_its_leader_is_silent_a_timeout(void **state)
{
    (void)state;
    struct cons c;
    struct cons_out out;
    follower_of_1(&c, 0);
    early_prevote(&c, 1, &out);
    assert_int_equal(c.role, CONS_PRECANDIDATE);
    assert_true(cons_read_only(&c, START + T_MS));
}

static void test_an_early_prevote_that_wins_forgets_the_old_leader(void **state)
{
    (void)state;
    struct cons c;
    struct cons_out out;
    follower_of_1(&c, 0);
    uint64_t at = early_prevote(&c, 1, &out);
    struct cons_msg g = mk(CONS_MSG_PREVOTE_RESP, 2, 0, TERM + 1);
    g.granted = true;
    recv_one(&c, at + 1, g, &out);
    assert_int_equal(c.role, CONS_CANDIDATE);
    assert_int_equal(c.term, TERM + 1);
    assert_int_equal(c.leader, CONS_NONE);
}

static void test_a_prevote_for_a_timeout_forgets_the_leader(void **state)
{
    (void)state;
    struct cons c;
    struct cons_out out;
    follower_of_1(&c, 0);
    tick(&c, cons_next_deadline(&c), &out);
    assert_false(out.lost_prevote);
    assert_int_equal(c.role, CONS_PRECANDIDATE);
    assert_int_equal(c.leader, CONS_NONE);
}

static void test_a_voter_that_lost_its_leader_grants_the_vote_that_follows(void **state)
{
    (void)state;
    struct cons c;
    struct cons_out out;
    follower_of_1(&c, 2);
    cons_peer_lost(&c, START + 3, 1);
    recv_one(&c, START + 6, mk(CONS_MSG_VOTE, 0, 2, TERM + 1), &out);
    const struct cons_msg *r = find(&out, CONS_MSG_VOTE_RESP, 0);
    assert_non_null(r);
    assert_true(r->granted);
    assert_int_equal(c.voted_for, 0);
}

static void test_a_voter_that_heard_its_leader_since_the_drop_refuses_the_prevote(void **state)
{
    (void)state;
    struct cons c;
    struct cons_out out;
    follower_of_1(&c, 2);
    cons_peer_lost(&c, START + 3, 1);
    recv_one(&c, START + 4, mk(CONS_MSG_HEARTBEAT, 1, 2, TERM), &out);
    recv_one(&c, START + 5, prevote_from(0, 2, TERM + 1), &out);
    const struct cons_msg *r = find(&out, CONS_MSG_PREVOTE_RESP, 0);
    assert_non_null(r);
    assert_false(r->granted);
}

static void test_granting_a_lower_numbered_followers_prevote_calls_off_the_early_one(void **state)
{
    (void)state;
    struct cons c;
    struct cons_out out;
    follower_of_1(&c, 2);
    uint64_t before = cons_next_deadline(&c);
    cons_peer_lost(&c, START + 10, 1);
    recv_one(&c, START + 11, prevote_from(0, 2, TERM + 1), &out);
    assert_true(find(&out, CONS_MSG_PREVOTE_RESP, 0)->granted);
    assert_int_equal(cons_next_deadline(&c), before);
}

static void test_an_early_precandidate_gives_way_to_a_lower_numbered_one(void **state)
{
    (void)state;
    struct cons c;
    struct cons_out out;
    follower_of_1(&c, 2);
    uint64_t at = early_prevote(&c, 1, &out);
    assert_int_equal(c.role, CONS_PRECANDIDATE);
    recv_one(&c, at + 1, prevote_from(0, 2, TERM + 1), &out);
    assert_true(find(&out, CONS_MSG_PREVOTE_RESP, 0)->granted);
    assert_int_equal(c.role, CONS_FOLLOWER);
    /* Its own round's grants come too late to make it a candidate. */
    struct cons_msg g = mk(CONS_MSG_PREVOTE_RESP, 0, 2, TERM + 1);
    g.granted = true;
    recv_one(&c, at + 2, g, &out);
    assert_int_equal(c.role, CONS_FOLLOWER);
    assert_int_equal(c.term, TERM);
}

static void test_an_early_precandidate_does_not_give_way_to_a_higher_numbered_one(void **state)
{
    (void)state;
    struct cons c;
    struct cons_out out;
    init_node(&c, 1, 4, TERM, CONS_NONE, 7);
    recv_one(&c, START, mk(CONS_MSG_HEARTBEAT, 0, 1, TERM), &out);
    uint64_t at = early_prevote(&c, 0, &out);
    assert_int_equal(c.role, CONS_PRECANDIDATE);
    recv_one(&c, at + 1, prevote_from(3, 1, TERM + 1), &out);
    assert_int_equal(c.role, CONS_PRECANDIDATE);
}

static void test_a_second_drop_within_an_election_timeout_starts_no_early_prevote(void **state)
{
    (void)state;
    struct cons c;
    struct cons_out out;
    follower_of_1(&c, 0);
    early_prevote(&c, 1, &out);
    assert_true(out.lost_prevote);
    /* Refused; the live leader's heartbeat brings the follower back. */
    recv_one(&c, START + 40, mk(CONS_MSG_HEARTBEAT, 1, 0, TERM), &out);
    assert_int_equal(c.role, CONS_FOLLOWER);
    uint64_t before = cons_next_deadline(&c);
    cons_peer_lost(&c, START + 50, 1);
    assert_int_equal(cons_next_deadline(&c), before);
}

static void test_a_drop_called_off_before_its_prevote_does_not_hold_back_the_next(void **state)
{
    (void)state;
    struct cons c;
    follower_of_1(&c, 0);
    cons_peer_lost(&c, START + 10, 1);
    cons_peer_back(&c, START + 11, 1);
    cons_peer_lost(&c, START + 12, 1);
    assert_in_range(cons_next_deadline(&c), START + 13, START + 12 + CONS_LOST_JITTER_MS);
}

/* A link between one follower and a live leader drops every 10 ms and is
 * back 5 ms later, for 2 s, while the leader's heartbeats still arrive:
 * the early pre-votes come at gaps of T, 2T, 4T, 8T (0, 150, 450, 1050 ms),
 * and the term never moves. */
static void test_a_flapping_link_to_a_live_leader_asks_for_few_spaced_prevotes(void **state)
{
    (void)state;
    struct cons c;
    struct cons_out out;
    follower_of_1(&c, 0);
    int prevotes = 0;
    uint64_t last_hb = START;
    for (uint64_t now = START + 1; now < START + 2000; now++) {
        if (now % 10 == 0)
            cons_peer_lost(&c, now, 1);
        if (now % 10 == 5)
            cons_peer_back(&c, now, 1);
        if (now - last_hb >= HB_MS) {
            recv_one(&c, now, mk(CONS_MSG_HEARTBEAT, 1, 0, TERM), &out);
            last_hb = now;
        }
        if (cons_next_deadline(&c) <= now) {
            tick(&c, now, &out);
            prevotes += out.lost_prevote;
            assert_false(out.persist);
        }
    }
    assert_int_equal(c.term, TERM);
    assert_in_range(prevotes, 1, 4);
}

static void test_notices_about_self_or_an_unknown_member_are_ignored(void **state)
{
    (void)state;
    struct cons c;
    follower_of_1(&c, 0);
    uint64_t before = cons_next_deadline(&c);
    cons_peer_lost(&c, START + 10, 0);
    cons_peer_lost(&c, START + 10, 3);
    cons_peer_lost(&c, START + 10, -1);
    cons_peer_back(&c, START + 10, 7);
    assert_int_equal(cons_next_deadline(&c), before);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_follower_whose_leader_connection_drops_prevotes_within_a_few_ms),
        cmocka_unit_test(test_a_follower_waits_one_step_for_each_follower_numbered_below_it),
        cmocka_unit_test(test_a_leader_gone_without_a_drop_is_found_by_the_election_timeout),
        cmocka_unit_test(test_a_drop_of_a_connection_to_another_follower_is_ignored),
        cmocka_unit_test(test_a_drop_for_an_old_leader_after_a_new_one_took_over_is_ignored),
        cmocka_unit_test(test_a_leader_whose_followers_connections_drop_does_nothing),
        cmocka_unit_test(test_a_precandidate_ignores_a_drop),
        cmocka_unit_test(test_the_connection_back_before_the_prevote_calls_it_off),
        cmocka_unit_test(test_hearing_the_leader_after_the_drop_calls_off_the_early_prevote),
        cmocka_unit_test(test_a_term_change_calls_off_an_early_prevote),
        cmocka_unit_test(test_a_follower_whose_disk_refuses_writes_starts_no_early_prevote),
        cmocka_unit_test(test_a_voter_that_still_hears_its_leader_refuses_the_prevote),
        cmocka_unit_test(
            test_a_voter_that_lost_its_own_connection_to_the_leader_grants_the_prevote),
        cmocka_unit_test(
            test_a_follower_that_lost_its_connection_to_the_leader_is_not_read_only_by_it),
        cmocka_unit_test(test_an_early_precandidate_still_knows_its_leader_and_is_not_read_only),
        cmocka_unit_test(
            test_an_early_precandidate_is_read_only_once_its_leader_is_silent_a_timeout),
        cmocka_unit_test(test_an_early_prevote_that_wins_forgets_the_old_leader),
        cmocka_unit_test(test_a_prevote_for_a_timeout_forgets_the_leader),
        cmocka_unit_test(test_a_voter_that_lost_its_leader_grants_the_vote_that_follows),
        cmocka_unit_test(test_a_voter_that_heard_its_leader_since_the_drop_refuses_the_prevote),
        cmocka_unit_test(test_granting_a_lower_numbered_followers_prevote_calls_off_the_early_one),
        cmocka_unit_test(test_an_early_precandidate_gives_way_to_a_lower_numbered_one),
        cmocka_unit_test(test_an_early_precandidate_does_not_give_way_to_a_higher_numbered_one),
        cmocka_unit_test(test_a_second_drop_within_an_election_timeout_starts_no_early_prevote),
        cmocka_unit_test(test_a_drop_called_off_before_its_prevote_does_not_hold_back_the_next),
        cmocka_unit_test(test_a_flapping_link_to_a_live_leader_asks_for_few_spaced_prevotes),
        cmocka_unit_test(test_notices_about_self_or_an_unknown_member_are_ignored),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
