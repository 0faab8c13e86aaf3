/* Consensus core: a leadership transfer (§3.10) is planned, so it puts no
 * member into read-only mode (cons_handing_over) while its election runs,
 * and the grace is no longer than the member would have had without it. */
#include "test_consensus_support.h"

/* to's transfer VOTE for the next term, as its TIMEOUT_NOW makes it send. */
static struct cons_msg transfer_vote(const struct cluster *cl, int32_t to, int32_t voter)
{
    struct cons_msg v = mk(CONS_MSG_VOTE, to, voter, cl->node[to].term + 1);
    v.last_log_index = cl->node[to].last_log_index;
    v.last_log_term = cl->node[to].last_log_term;
    v.transfer = true;
    return v;
}

static void test_no_member_is_read_only_at_any_step_of_a_transfer(void **state)
{
    (void)state;
    static struct cluster cl;
    cl_init(&cl, 3, 41);
    int32_t lead = cl_elect_settled(&cl), to = other(lead, 1);
    uint64_t term = cl.node[lead].term;
    cl_transfer(&cl, lead, to);
    int steps = 0;
    while (cl_deliver_one(&cl)) {
        steps++;
        for (int32_t i = 0; i < cl.n; i++)
            if (cons_read_only(&cl.node[i], cl.now))
                fail_msg("n%d (%s, term %llu, leader %d) is read-only after step %d", i,
                         cons_role_name(cl.node[i].role), (unsigned long long)cl.node[i].term,
                         cl.node[i].leader, steps);
    }
    assert_int_equal(cl_leader(&cl), to);
    assert_int_equal(cl.node[to].term, term + 1);
    cl_free(&cl);
}

/* The grace is the one silence allows: T after the leader was last heard,
 * even if the target never wins. */
static void test_a_transfer_voter_is_read_only_once_its_leader_has_been_silent_for_t(void **state)
{
    (void)state;
    static struct cluster cl;
    cl_init(&cl, 3, 42);
    int32_t lead = cl_elect_settled(&cl), to = other(lead, 1), voter = other(lead, 2);
    uint64_t heard = cl.node[voter].last_leader_contact;
    cl.now = heard + 20;
    struct cons_out out;
    struct cons_msg v = transfer_vote(&cl, to, voter);
    recv_one(&cl.node[voter], cl.now, v, &out);
    assert_int_equal(cl.node[voter].leader, CONS_NONE); /* the new term has none yet */
    assert_true(cons_handing_over(&cl.node[voter], cl.now));
    assert_false(cons_read_only(&cl.node[voter], heard + T_MS - 1));
    assert_true(cons_read_only(&cl.node[voter], heard + T_MS));
    cl_free(&cl);
}

static void test_a_transfer_vote_gives_no_grace_to_a_voter_whose_leader_was_silent(void **state)
{
    (void)state;
    static struct cluster cl;
    cl_init(&cl, 3, 43);
    int32_t lead = cl_elect_settled(&cl), to = other(lead, 1), voter = other(lead, 2);
    cl.now = cl.node[voter].last_leader_contact + T_MS; /* read-only already */
    assert_true(cons_read_only(&cl.node[voter], cl.now));
    struct cons_out out;
    recv_one(&cl.node[voter], cl.now, transfer_vote(&cl, to, voter), &out);
    assert_false(cons_handing_over(&cl.node[voter], cl.now));
    assert_true(cons_read_only(&cl.node[voter], cl.now));
    cl_free(&cl);
}

static void test_an_ordinary_vote_gives_no_grace(void **state)
{
    (void)state;
    static struct cluster cl;
    cl_init(&cl, 3, 44);
    int32_t lead = cl_elect_settled(&cl), to = other(lead, 1), voter = other(lead, 2);
    /* The lease is over (its connection to the leader dropped), so the
     * vote is heard, but no leader asked for this election. */
    struct cons_out out;
    cons_peer_lost(&cl.node[voter], cl.now, lead);
    struct cons_msg v = transfer_vote(&cl, to, voter);
    v.transfer = false;
    recv_one(&cl.node[voter], cl.now, v, &out);
    assert_int_equal(cl.node[voter].term, cl.node[lead].term + 1);
    assert_false(cons_handing_over(&cl.node[voter], cl.now));
    assert_true(cons_read_only(&cl.node[voter], cl.now));
    cl_free(&cl);
}

/* The leader that handed over keeps what its quorum gave it, no more: it is
 * not read-only until its check-quorum would have failed. */
static void test_the_leader_that_handed_over_is_not_read_only_until_its_quorum_lapses(void **state)
{
    (void)state;
    static struct cluster cl;
    cl_init(&cl, 3, 45);
    int32_t lead = cl_elect_settled(&cl), to = other(lead, 1);
    cl_transfer(&cl, lead, to);
    assert_true(cl_deliver_one(&cl)); /* the TIMEOUT_NOW: the target stands */
    uint64_t lapse = cl.node[lead].quorum_check_due;
    struct cons_out out;
    /* The target's VOTE as it sent it: it stands in term + 1 already. */
    struct cons_msg v = transfer_vote(&cl, to, lead);
    v.term = cl.node[to].term;
    recv_one(&cl.node[lead], cl.now, v, &out);
    assert_int_equal(cl.node[lead].role, CONS_FOLLOWER);
    assert_true(cons_handing_over(&cl.node[lead], cl.now));
    assert_false(cons_read_only(&cl.node[lead], lapse - 1));
    assert_true(cons_read_only(&cl.node[lead], lapse));
    cl_free(&cl);
}

/* A leader deposed by a newer term while it was not handing over lost its
 * leadership: it is read-only until it hears the new leader. */
static void test_a_leader_deposed_outside_a_transfer_is_read_only_at_once(void **state)
{
    (void)state;
    static struct cluster cl;
    cl_init(&cl, 3, 46);
    int32_t lead = cl_elect_settled(&cl), f = other(lead, 1);
    struct cons_msg r = mk(CONS_MSG_HEARTBEAT_RESP, f, lead, cl.node[lead].term + 1);
    struct cons_out out;
    recv_one(&cl.node[lead], cl.now, r, &out);
    assert_int_equal(cl.node[lead].role, CONS_FOLLOWER);
    assert_false(cons_handing_over(&cl.node[lead], cl.now));
    assert_true(cons_read_only(&cl.node[lead], cl.now));
    cl_free(&cl);
}

/* Another member (not the target) leads the next term: the transfer failed
 * ("another member was elected"), so the leader lost its leadership to an
 * election it did not ask for; node_cons.c skips its was_leader episode
 * when cons_handing_over says so. */
static void
test_a_transferring_leader_deposed_by_another_members_election_gets_no_grace(void **state)
{
    (void)state;
    static struct cluster cl;
    cl_init(&cl, 3, 47);
    int32_t lead = cl_elect_settled(&cl), to = other(lead, 1), y = other(lead, 2);
    cl_transfer(&cl, lead, to); /* its TIMEOUT_NOW stays in flight */
    struct cons_msg hb = mk(CONS_MSG_HEARTBEAT, y, lead, cl.node[lead].term + 1);
    struct cons_out out;
    recv_one(&cl.node[lead], cl.now, hb, &out);
    assert_int_equal(cl.node[lead].role, CONS_FOLLOWER);
    assert_int_equal(cl.node[lead].leader, y);
    assert_int_equal(out.transfer_end, CONS_TRANSFER_FAILED);
    assert_false(cons_handing_over(&cl.node[lead], cl.now));
    cl_free(&cl);
}

/* A term two ahead cannot be the transfer's election (it runs in term + 1). */
static void test_a_transferring_leader_that_hears_term_plus_two_is_read_only_at_once(void **state)
{
    (void)state;
    static struct cluster cl;
    cl_init(&cl, 3, 48);
    int32_t lead = cl_elect_settled(&cl), to = other(lead, 1), y = other(lead, 2);
    cl_transfer(&cl, lead, to);
    struct cons_msg r = mk(CONS_MSG_HEARTBEAT_RESP, y, lead, cl.node[lead].term + 2);
    struct cons_out out;
    recv_one(&cl.node[lead], cl.now, r, &out);
    assert_int_equal(cl.node[lead].role, CONS_FOLLOWER);
    assert_true(cons_read_only(&cl.node[lead], cl.now));
    cl_free(&cl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_member_is_read_only_at_any_step_of_a_transfer),
        cmocka_unit_test(test_a_transfer_voter_is_read_only_once_its_leader_has_been_silent_for_t),
        cmocka_unit_test(test_a_transfer_vote_gives_no_grace_to_a_voter_whose_leader_was_silent),
        cmocka_unit_test(test_an_ordinary_vote_gives_no_grace),
        cmocka_unit_test(test_the_leader_that_handed_over_is_not_read_only_until_its_quorum_lapses),
        cmocka_unit_test(test_a_leader_deposed_outside_a_transfer_is_read_only_at_once),
        cmocka_unit_test(
            test_a_transferring_leader_deposed_by_another_members_election_gets_no_grace),
        cmocka_unit_test(test_a_transferring_leader_that_hears_term_plus_two_is_read_only_at_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
