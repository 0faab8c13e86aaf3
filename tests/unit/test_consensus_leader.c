/* Consensus core: whole elections through an in-test router, the leader's
 * heartbeats, stepping down on a newer term, and check-quorum (§6.2). */
#include "test_consensus_support.h"

static int32_t earliest(const struct cluster *cl)
{
    int32_t first = 0;
    for (int32_t i = 1; i < cl->n; i++)
        if (cl->node[i].election_deadline < cl->node[first].election_deadline)
            first = i;
    for (int32_t i = 0; i < cl->n; i++)
        if (i != first)
            assert_true(cl->node[i].election_deadline > cl->node[first].election_deadline);
    return first;
}

static struct cons_msg ack(int32_t from, uint64_t term)
{
    return mk(CONS_MSG_HEARTBEAT_RESP, from, 0, term);
}

static void test_three_nodes_the_first_to_time_out_prevotes_votes_and_leads_term_1(void **state)
{
    (void)state;
    static struct cluster cl;
    cl_init(&cl, 3, 10);
    int32_t first = earliest(&cl);
    cl_run(&cl, cl.node[first].election_deadline);
    assert_int_equal(cl_leader(&cl), first);
    for (int32_t i = 0; i < 3; i++) {
        assert_int_equal(cl.node[i].term, 1);
        assert_int_equal(cl.node[i].leader, first);
        assert_int_equal(cl.disk[i].term, 1);
        assert_int_equal(cl.disk[i].voted_for, first);
        assert_false(cons_read_only(&cl.node[i], cl.now));
    }
    assert_int_equal(cl.sent[first][CONS_MSG_PREVOTE], 2);
    assert_int_equal(cl.sent[first][CONS_MSG_VOTE], 2);
    assert_int_equal(cl.sent[first][CONS_MSG_HEARTBEAT], 2);
}

static void test_a_prevote_round_changes_no_ones_term_or_vote(void **state)
{
    (void)state;
    static struct cluster cl;
    cl_init(&cl, 3, 10);
    int32_t first = earliest(&cl);
    cl.now = cl.node[first].election_deadline;
    cl_tick(&cl, first);
    /* In flight: the two PREVOTEs. Deliver them, leaving the replies. */
    assert_true(cl_deliver_one(&cl));
    assert_true(cl_deliver_one(&cl));
    for (int32_t i = 0; i < 3; i++) {
        assert_int_equal(cl.node[i].term, 0);
        assert_int_equal(cl.node[i].voted_for, CONS_NONE);
        assert_int_equal(cl.disk[i].term, 0);
    }
    assert_int_equal(cl.node[first].role, CONS_PRECANDIDATE);
}

static void test_a_partitioned_node_keeps_its_term_and_does_not_disrupt_on_rejoin(void **state)
{
    (void)state;
    static struct cluster cl;
    cl_init(&cl, 3, 10);
    int32_t lead = earliest(&cl);
    cl_run(&cl, cl.node[lead].election_deadline);
    int32_t x = (lead + 1) % 3;
    cl_isolate(&cl, x, true);
    cl_run(&cl, cl.now + 20 * T_MS);
    /* It timed out again and again, and every pre-vote went unanswered. */
    assert_true(cl.sent[x][CONS_MSG_PREVOTE] >= 10);
    assert_int_equal(cl.sent[x][CONS_MSG_VOTE], 0);
    assert_int_equal(cl.node[x].term, 1);
    assert_true(cons_read_only(&cl.node[x], cl.now));
    assert_int_equal(cl_leader(&cl), lead);

    cl_isolate(&cl, x, false);
    cl_run(&cl, cl.now + 10 * T_MS);
    assert_int_equal(cl_leader(&cl), lead);
    for (int32_t i = 0; i < 3; i++) {
        assert_int_equal(cl.node[i].term, 1);
        assert_int_equal(cl.node[i].leader, lead);
    }
    assert_int_equal(cl.node[x].role, CONS_FOLLOWER);
    assert_false(cons_read_only(&cl.node[x], cl.now));
}

static void test_an_isolated_leader_is_replaced_and_follows_the_new_one_on_rejoin(void **state)
{
    (void)state;
    static struct cluster cl;
    cl_init(&cl, 3, 10);
    int32_t old = earliest(&cl);
    cl_run(&cl, cl.node[old].election_deadline);
    cl_isolate(&cl, old, true);
    cl_run(&cl, cl.now + 10 * T_MS);
    /* Check-quorum deposed it; the other two elected one of themselves. */
    assert_int_not_equal(cl.node[old].role, CONS_LEADER); /* it pre-votes in vain now */
    assert_int_equal(cl.node[old].term, 1);
    int32_t lead = cl_leader(&cl);
    assert_true(lead != CONS_NONE && lead != old);
    assert_int_equal(cl.node[lead].term, 2);

    cl_isolate(&cl, old, false);
    cl_run(&cl, cl.now + 10 * T_MS);
    assert_int_equal(cl_leader(&cl), lead);
    assert_int_equal(cl.node[old].term, 2);
    assert_int_equal(cl.node[old].leader, lead);
}

static void test_five_node_clusters_elect_exactly_one_leader_across_seeds(void **state)
{
    (void)state;
    static struct cluster cl;
    for (uint64_t seed = 0; seed < 300; seed++) {
        cl_init(&cl, 5, seed * 7919);
        cl_run(&cl, START + 10 * T_MS);
        int32_t lead = cl_leader(&cl);
        assert_int_not_equal(lead, CONS_NONE);
        for (int32_t i = 0; i < 5; i++)
            assert_int_equal(cl.node[i].leader, lead);
    }
}

static void test_a_new_leader_heartbeats_everyone_at_once(void **state)
{
    (void)state;
    struct cons c;
    struct cons_out out;
    init_node(&c, 0, 3, 0, CONS_NONE, 1);
    uint64_t now = c.election_deadline;
    tick(&c, now, &out);
    struct cons_msg m = mk(CONS_MSG_PREVOTE_RESP, 1, 0, 1);
    m.granted = true;
    recv_one(&c, now, m, &out);
    m = mk(CONS_MSG_VOTE_RESP, 2, 0, 1);
    m.granted = true;
    recv_one(&c, now, m, &out);
    assert_int_equal(c.role, CONS_LEADER);
    assert_int_equal(count_type(&out, CONS_MSG_HEARTBEAT), 2);
    assert_int_equal(find(&out, CONS_MSG_HEARTBEAT, 1)->term, 1);
    assert_int_equal(find(&out, CONS_MSG_HEARTBEAT, 2)->term, 1);
    assert_false(cons_read_only(&c, now));
}

static void test_a_leader_sends_heartbeats_every_heartbeat_interval(void **state)
{
    (void)state;
    struct cons c;
    struct cons_out out;
    init_node(&c, 0, 3, 0, CONS_NONE, 1);
    uint64_t won = elect_by_hand(&c);
    for (uint64_t k = 1; k <= 20; k++) {
        tick(&c, won + k * HB_MS - 1, &out);
        assert_int_equal(out.nmsgs, 0);
        tick(&c, won + k * HB_MS, &out);
        assert_int_equal(count_type(&out, CONS_MSG_HEARTBEAT), 2);
        recv_one(&c, won + k * HB_MS, ack(1, 1), &out);
    }
    assert_int_equal(c.role, CONS_LEADER);
}

static void test_a_stale_heartbeat_is_answered_with_the_receivers_term(void **state)
{
    (void)state;
    struct cons c;
    struct cons_out out;
    init_node(&c, 1, 3, 3, CONS_NONE, 1);
    recv_one(&c, START + 5, mk(CONS_MSG_HEARTBEAT, 0, 1, 2), &out);
    const struct cons_msg *r = find(&out, CONS_MSG_HEARTBEAT_RESP, 0);
    assert_non_null(r);
    assert_int_equal(r->term, 3);
    assert_false(r->granted);
    assert_int_equal(c.term, 3);
    assert_int_equal(c.leader, CONS_NONE);
    assert_false(out.persist);
}

static void test_a_stale_leader_steps_down_on_a_newer_term_in_a_response(void **state)
{
    (void)state;
    struct cons c;
    struct cons_out out;
    init_node(&c, 0, 3, 0, CONS_NONE, 1);
    uint64_t won = elect_by_hand(&c);
    recv_one(&c, won + 5, ack(2, 3), &out);
    assert_int_equal(c.role, CONS_FOLLOWER);
    assert_int_equal(c.term, 3);
    assert_int_equal(c.voted_for, CONS_NONE);
    assert_int_equal(c.leader, CONS_NONE);
    assert_true(out.persist);
    assert_int_equal(out.state.term, 3);
    assert_true(cons_read_only(&c, won + 5));
}

static void test_a_leader_hearing_no_acks_is_read_only_after_T_and_steps_down(void **state)
{
    (void)state;
    struct cons c;
    struct cons_out out;
    init_node(&c, 0, 3, 0, CONS_NONE, 1);
    uint64_t won = elect_by_hand(&c);
    tick(&c, won + HB_MS, &out);
    tick(&c, won + 2 * HB_MS, &out);
    assert_false(cons_read_only(&c, won + T_MS - 1));
    /* Read-only the moment the majority is lost, even before the tick. */
    assert_true(cons_read_only(&c, won + T_MS));
    assert_int_equal(c.role, CONS_LEADER);
    tick(&c, won + T_MS, &out);
    assert_int_equal(c.role, CONS_FOLLOWER);
    assert_int_equal(c.term, 1); /* same term: nothing newer was seen */
    assert_int_equal(c.leader, CONS_NONE);
    assert_false(out.persist);
    assert_int_equal(out.nmsgs, 0);
    assert_true(cons_read_only(&c, won + T_MS));
    assert_in_range(c.election_deadline, won + 2 * T_MS, won + 3 * T_MS - 1);
}

/* Found by the simulator (seed 247201, 5 nodes): check-quorum counts from
 * when each vote arrived, not from the election, so a leader whose voters
 * fell silent while it was still collecting votes is not writable for a
 * further election timeout. */
static void test_a_new_leaders_quorum_clock_starts_at_its_votes_not_its_election(void **state)
{
    (void)state;
    struct cons c;
    struct cons_out out;
    init_node(&c, 0, 5, 0, CONS_NONE, 1);
    uint64_t t0 = c.election_deadline;
    tick(&c, t0, &out);
    for (int32_t from = 1; from <= 2; from++) {
        struct cons_msg m = mk(CONS_MSG_PREVOTE_RESP, from, 0, 1);
        m.granted = true;
        recv_one(&c, t0, m, &out);
    }
    assert_int_equal(c.role, CONS_CANDIDATE);
    /* n1 votes at t0 + 10 and is never heard again; n2's vote at t0 + 100
     * completes the election, and n2 goes on answering heartbeats. */
    struct cons_msg m = mk(CONS_MSG_VOTE_RESP, 1, 0, 1);
    m.granted = true;
    recv_one(&c, t0 + 10, m, &out);
    m = mk(CONS_MSG_VOTE_RESP, 2, 0, 1);
    m.granted = true;
    recv_one(&c, t0 + 100, m, &out);
    assert_int_equal(c.role, CONS_LEADER);
    recv_one(&c, t0 + 140, mk(CONS_MSG_HEARTBEAT_RESP, 2, 0, 1), &out);
    /* Only two of five have been heard within T of t0 + 10 + T. */
    assert_false(cons_read_only(&c, t0 + 10 + T_MS - 1));
    assert_true(cons_read_only(&c, t0 + 10 + T_MS));
}

static void test_a_leader_acked_by_a_majority_stays_leader(void **state)
{
    (void)state;
    struct cons c;
    struct cons_out out;
    init_node(&c, 0, 3, 0, CONS_NONE, 1);
    uint64_t won = elect_by_hand(&c);
    for (uint64_t t = won + HB_MS; t < won + 40 * T_MS; t += HB_MS) {
        tick(&c, t, &out);
        recv_one(&c, t + 3, ack(2, 1), &out); /* one follower is enough of 3 */
        assert_false(cons_read_only(&c, t + 3));
    }
    assert_int_equal(c.role, CONS_LEADER);
}

static void test_a_five_node_leader_needs_acks_from_two_others(void **state)
{
    (void)state;
    struct cons c;
    struct cons_out out;
    init_node(&c, 0, 5, 0, CONS_NONE, 1);
    uint64_t won = c.election_deadline;
    tick(&c, won, &out);
    for (int32_t i = 1; i <= 2; i++) {
        struct cons_msg m = mk(CONS_MSG_PREVOTE_RESP, i, 0, 1);
        m.granted = true;
        recv_one(&c, won, m, &out);
    }
    for (int32_t i = 1; i <= 2; i++) {
        struct cons_msg m = mk(CONS_MSG_VOTE_RESP, i, 0, 1);
        m.granted = true;
        recv_one(&c, won, m, &out);
    }
    assert_int_equal(c.role, CONS_LEADER);
    /* Member 1 acks at +100, member 3 at +120: the second-newest ack (+100)
     * decides, so the majority lapses at +250, not +270. */
    recv_one(&c, won + 100, mk(CONS_MSG_HEARTBEAT_RESP, 1, 0, 1), &out);
    recv_one(&c, won + 120, mk(CONS_MSG_HEARTBEAT_RESP, 3, 0, 1), &out);
    assert_false(cons_read_only(&c, won + 100 + T_MS - 1));
    assert_true(cons_read_only(&c, won + 100 + T_MS));
    for (uint64_t t = won + HB_MS; t <= won + 100 + T_MS; t += HB_MS)
        tick(&c, t, &out);
    assert_int_equal(c.role, CONS_FOLLOWER);
}

static void test_acks_from_an_older_term_do_not_keep_a_leader_in_office(void **state)
{
    (void)state;
    struct cons c;
    struct cons_out out;
    init_node(&c, 0, 3, 4, CONS_NONE, 1);
    uint64_t won = elect_by_hand(&c);
    assert_int_equal(c.term, 5);
    recv_one(&c, won + 100, ack(1, 4), &out);
    tick(&c, won + T_MS, &out);
    assert_int_equal(c.role, CONS_FOLLOWER);
}

static void test_a_leader_ignores_vote_requests_and_refuses_prevotes(void **state)
{
    (void)state;
    struct cons c;
    struct cons_out out;
    init_node(&c, 0, 3, 0, CONS_NONE, 1);
    uint64_t won = elect_by_hand(&c);
    recv_one(&c, won + 1, mk(CONS_MSG_VOTE, 2, 0, 9), &out);
    assert_int_equal(out.nmsgs, 0);
    assert_int_equal(c.role, CONS_LEADER);
    assert_int_equal(c.term, 1);
    recv_one(&c, won + 1, mk(CONS_MSG_PREVOTE, 2, 0, 9), &out);
    assert_false(find(&out, CONS_MSG_PREVOTE_RESP, 2)->granted);
    assert_int_equal(find(&out, CONS_MSG_PREVOTE_RESP, 2)->term, 1);
    assert_int_equal(c.role, CONS_LEADER);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_three_nodes_the_first_to_time_out_prevotes_votes_and_leads_term_1),
        cmocka_unit_test(test_a_prevote_round_changes_no_ones_term_or_vote),
        cmocka_unit_test(test_a_partitioned_node_keeps_its_term_and_does_not_disrupt_on_rejoin),
        cmocka_unit_test(test_an_isolated_leader_is_replaced_and_follows_the_new_one_on_rejoin),
        cmocka_unit_test(test_five_node_clusters_elect_exactly_one_leader_across_seeds),
        cmocka_unit_test(test_a_new_leader_heartbeats_everyone_at_once),
        cmocka_unit_test(test_a_leader_sends_heartbeats_every_heartbeat_interval),
        cmocka_unit_test(test_a_stale_heartbeat_is_answered_with_the_receivers_term),
        cmocka_unit_test(test_a_stale_leader_steps_down_on_a_newer_term_in_a_response),
        cmocka_unit_test(test_a_leader_hearing_no_acks_is_read_only_after_T_and_steps_down),
        cmocka_unit_test(test_a_new_leaders_quorum_clock_starts_at_its_votes_not_its_election),
        cmocka_unit_test(test_a_leader_acked_by_a_majority_stays_leader),
        cmocka_unit_test(test_a_five_node_leader_needs_acks_from_two_others),
        cmocka_unit_test(test_acks_from_an_older_term_do_not_keep_a_leader_in_office),
        cmocka_unit_test(test_a_leader_ignores_vote_requests_and_refuses_prevotes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
