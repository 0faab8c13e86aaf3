/* Consensus core: the commit index pushed to followers at once (cons_flush)
 * and leadership transfer (§3.10: cons_transfer, TIMEOUT_NOW), through the
 * in-test router with per-node in-memory logs. */
#include <msgpack.h>

#include "test_consensus_support.h"

static void cl_flush(struct cluster *cl, int32_t i)
{
    struct cons_out out;
    cons_flush(&cl->node[i], cl->now, &out);
    cl_apply(cl, i, &out);
}

/* Hands a message straight to its addressee and performs the answer. */
static void cl_recv(struct cluster *cl, struct cons_msg m)
{
    struct cons_out out;
    cons_recv(&cl->node[m.to], cl->now, &m, &out);
    cl_apply_msg(cl, m.to, &m, &out);
}

/* from's APPEND_RESP to lead granting the APPEND after prev, matching up
 * to match (an answer that comes late, made by hand). */
static struct cons_msg granted_answer(const struct cluster *cl, int32_t from, int32_t lead,
                                      uint64_t prev, uint64_t match)
{
    return (struct cons_msg){.type = CONS_MSG_APPEND_RESP,
                             .from = from,
                             .to = lead,
                             .term = cl->node[lead].term,
                             .granted = true,
                             .prev_index = prev,
                             .match_index = match};
}

/* ---- the commit index pushed at once ----------------------------------- */

static void test_a_commit_advance_is_pushed_to_every_follower_on_flush(void **state)
{
    (void)state;
    static struct cluster cl;
    cl_init(&cl, 3, 10);
    int32_t lead = cl_elect_settled(&cl);
    cl_propose(&cl, lead, 3, 2);
    cl_deliver(&cl); /* the APPENDs and their answers: the leader commits */
    uint64_t last = cl.node[lead].last_log_index;
    assert_int_equal(cl.node[lead].commit, last);
    for (int32_t k = 1; k < 3; k++)
        assert_true(cl.node[other(lead, k)].commit < last);
    /* Without waiting for the heartbeat. */
    struct cons_out out;
    cons_flush(&cl.node[lead], cl.now, &out);
    for (int32_t k = 1; k < 3; k++) {
        const struct cons_msg *m = find(&out, CONS_MSG_HEARTBEAT, other(lead, k));
        assert_non_null(m);
        assert_int_equal(m->commit, last);
    }
    cl_apply(&cl, lead, &out);
    cl_deliver(&cl);
    for (int32_t k = 1; k < 3; k++)
        assert_int_equal(cl.node[other(lead, k)].commit, last);
    cl_free(&cl);
}

static void test_a_second_flush_in_a_row_sends_nothing(void **state)
{
    (void)state;
    static struct cluster cl;
    cl_init(&cl, 3, 11);
    int32_t lead = cl_elect_settled(&cl);
    cl_propose(&cl, lead, 2, 2);
    cl_deliver(&cl);
    cl_flush(&cl, lead);
    struct cons_out out;
    cons_flush(&cl.node[lead], cl.now, &out);
    assert_int_equal(out.nmsgs, 0);
    cl_free(&cl);
}

static void test_a_flush_without_a_commit_advance_sends_nothing(void **state)
{
    (void)state;
    static struct cluster cl;
    cl_init(&cl, 3, 12);
    int32_t lead = cl_elect_settled(&cl);
    cl_propose(&cl, lead, 2, 2); /* sent, not yet answered */
    struct cons_out out;
    cons_flush(&cl.node[lead], cl.now, &out);
    assert_int_equal(out.nmsgs, 0);
    cl_free(&cl);
}

static void test_a_pushed_commit_is_quiet_and_the_interval_heartbeat_is_not(void **state)
{
    (void)state;
    static struct cluster cl;
    cl_init(&cl, 3, 13);
    int32_t lead = cl_elect_settled(&cl);
    cl_propose(&cl, lead, 2, 2);
    cl_deliver(&cl);
    struct cons_out out;
    cons_flush(&cl.node[lead], cl.now, &out);
    for (int32_t k = 1; k < 3; k++)
        assert_true(find(&out, CONS_MSG_HEARTBEAT, other(lead, k))->quiet);
    cl_apply(&cl, lead, &out);
    cl_deliver(&cl);
    cons_tick(&cl.node[lead], cl.node[lead].heartbeat_due, &out);
    for (int32_t k = 1; k < 3; k++)
        assert_false(find(&out, CONS_MSG_HEARTBEAT, other(lead, k))->quiet);
    cl_free(&cl);
}

static void test_a_follower_applies_a_quiet_heartbeat_and_does_not_answer_it(void **state)
{
    (void)state;
    static struct cluster cl;
    cl_init(&cl, 3, 14);
    int32_t lead = cl_elect_settled(&cl);
    int32_t f = other(lead, 1);
    cl_propose(&cl, lead, 2, 2);
    cl_deliver(&cl);
    uint64_t last = cl.node[lead].last_log_index;
    struct cons_msg hb = {.type = CONS_MSG_HEARTBEAT,
                          .from = lead,
                          .to = f,
                          .term = cl.node[lead].term,
                          .commit = last,
                          .quiet = true};
    struct cons_out out;
    cons_recv(&cl.node[f], cl.now, &hb, &out);
    assert_int_equal(cl.node[f].commit, last);
    assert_int_equal(count_type(&out, CONS_MSG_HEARTBEAT_RESP), 0);
    /* the same heartbeat, not quiet (as the interval's, or a leader of an
     * earlier version sends it), is answered */
    hb.quiet = false;
    cons_recv(&cl.node[f], cl.now, &hb, &out);
    assert_int_equal(count_type(&out, CONS_MSG_HEARTBEAT_RESP), 1);
    cl_free(&cl);
}

static void test_a_quiet_heartbeat_of_a_stale_term_is_still_refused(void **state)
{
    (void)state;
    static struct cluster cl;
    cl_init(&cl, 3, 15);
    int32_t lead = cl_elect_settled(&cl);
    int32_t f = other(lead, 1);
    struct cons_msg hb = {.type = CONS_MSG_HEARTBEAT,
                          .from = lead,
                          .to = f,
                          .term = cl.node[f].term - 1,
                          .quiet = true};
    struct cons_out out;
    cons_recv(&cl.node[f], cl.now, &hb, &out);
    const struct cons_msg *r = find(&out, CONS_MSG_HEARTBEAT_RESP, lead);
    assert_non_null(r);
    assert_false(r->granted);
    cl_free(&cl);
}

/* The core's rule that node_cons.c's on_flush relies on when it writes the
 * turn's open group before the push (it held before that change). */
static void test_no_push_goes_to_a_follower_whose_append_already_carried_the_commit(void **state)
{
    (void)state;
    static struct cluster cl;
    cl_init(&cl, 3, 16);
    int32_t lead = cl_elect_settled(&cl);
    cl_propose(&cl, lead, 2, 2);
    cl_deliver(&cl); /* committed; the followers not told yet */
    /* more entries in the same turn, written before the push (node_cons.c
     * on_flush): their APPENDs carry the new commit index */
    struct cons_out out;
    const struct cons_entry *e = log_push(&cl.log[lead], cl.node[lead].term, 3);
    cons_appended(&cl.node[lead], cl.now, e, &out);
    for (int32_t k = 1; k < 3; k++)
        assert_int_equal(find(&out, CONS_MSG_APPEND, other(lead, k))->commit, cl.node[lead].commit);
    cl_apply(&cl, lead, &out);
    cons_flush(&cl.node[lead], cl.now, &out);
    assert_int_equal(out.nmsgs, 0);
    cl_free(&cl);
}

static void test_a_leader_that_stepped_down_with_a_push_due_pushes_nothing(void **state)
{
    (void)state;
    static struct cluster cl;
    cl_init(&cl, 3, 17);
    int32_t lead = cl_elect_settled(&cl);
    cl_propose(&cl, lead, 2, 2);
    cl_deliver(&cl);
    assert_true(cl.node[lead].commit_push);
    /* a newer term deposes it before the turn's flush */
    struct cons_msg hb = {.type = CONS_MSG_HEARTBEAT,
                          .from = other(lead, 1),
                          .to = lead,
                          .term = cl.node[lead].term + 1};
    struct cons_out out;
    cons_recv(&cl.node[lead], cl.now, &hb, &out);
    assert_int_equal(cl.node[lead].role, CONS_FOLLOWER);
    cons_flush(&cl.node[lead], cl.now, &out);
    assert_int_equal(out.nmsgs, 0);
    assert_false(cl.node[lead].commit_push); /* the shell asks no more */
    cl_free(&cl);
}

static void test_a_pushed_commit_never_exceeds_what_the_follower_matches(void **state)
{
    (void)state;
    static struct cluster cl;
    cl_init(&cl, 3, 13);
    int32_t lead = cl_elect_settled(&cl);
    int32_t cut = other(lead, 2);
    cl_isolate(&cl, cut, true);
    cl_propose(&cl, lead, 4, 2);
    cl_deliver(&cl);
    struct cons_out out;
    cons_flush(&cl.node[lead], cl.now, &out);
    const struct cons_msg *m = find(&out, CONS_MSG_HEARTBEAT, cut);
    /* It holds nothing new: nothing to push. */
    assert_null(m);
    assert_non_null(find(&out, CONS_MSG_HEARTBEAT, other(lead, 1)));
    cl_apply(&cl, lead, &out);
    cl_free(&cl);
}

static void test_a_follower_that_answers_after_the_commit_is_told_it_on_the_next_flush(void **state)
{
    (void)state;
    static struct cluster cl;
    cl_init(&cl, 3, 14);
    int32_t lead = cl_elect_settled(&cl), slow = other(lead, 2);
    uint64_t before = cl.node[lead].last_log_index;
    cl.cut[slow][lead] = true; /* its answer is late: it arrives below */
    cl_propose(&cl, lead, 2, 2);
    cl_deliver(&cl);
    cl.cut[lead][slow] = true; /* and the commit notice is lost */
    cl_flush(&cl, lead);
    cl.cut[lead][slow] = false;
    uint64_t last = cl.node[lead].last_log_index;
    assert_int_equal(cl.node[lead].commit, last);
    assert_int_equal(cl.node[slow].last_log_index, last);
    assert_true(cl.node[slow].commit < last);
    cl.cut[slow][lead] = false;
    cl_recv(&cl, granted_answer(&cl, slow, lead, before, last));
    /* Without waiting for the heartbeat. */
    struct cons_out out;
    cons_flush(&cl.node[lead], cl.now, &out);
    const struct cons_msg *m = find(&out, CONS_MSG_HEARTBEAT, slow);
    assert_non_null(m);
    assert_int_equal(m->commit, last);
    cl_apply(&cl, lead, &out);
    cl_deliver(&cl);
    assert_int_equal(cl.node[slow].commit, last);
    cl_free(&cl);
}

/* A follower that holds the committed end of the log but whose answer has
 * not come back (its own sync is slower than the quorum's). */
static int32_t commit_without(struct cluster *cl, uint64_t seed, int32_t *slow, uint64_t *last)
{
    cl_init(cl, 3, seed);
    int32_t lead = cl_elect_settled(cl);
    *slow = other(lead, 2);
    cl->cut[*slow][lead] = true;
    cl_propose(cl, lead, 2, 2);
    cl_deliver(cl);
    *last = cl->node[lead].last_log_index;
    assert_int_equal(cl->node[lead].commit, *last);
    assert_int_equal(cl->node[*slow].last_log_index, *last);
    assert_true(cl->node[*slow].commit < *last);
    return lead;
}

static void
test_a_follower_holding_the_committed_end_commits_on_the_notice_before_it_answers(void **state)
{
    (void)state;
    static struct cluster cl;
    int32_t slow;
    uint64_t last;
    int32_t lead = commit_without(&cl, 15, &slow, &last);
    struct cons_out out;
    cons_flush(&cl.node[lead], cl.now, &out);
    const struct cons_msg *m = find(&out, CONS_MSG_APPEND, slow);
    assert_non_null(m);
    assert_int_equal(m->n_entries, 0);
    assert_int_equal(m->prev_index, last);
    assert_int_equal(m->commit, last);
    cl_apply(&cl, lead, &out);
    cl_deliver(&cl);
    /* Its answer never reached the leader, and it committed all the same. */
    assert_int_equal(cl.node[lead].match_index[slow] < last, true);
    assert_int_equal(cl.node[slow].commit, last);
    cl_free(&cl);
}

static void
test_a_follower_that_took_the_notice_gets_no_heartbeat_when_its_answers_come(void **state)
{
    (void)state;
    static struct cluster cl;
    int32_t slow;
    uint64_t last;
    int32_t lead = commit_without(&cl, 19, &slow, &last);
    uint64_t before = cl.node[lead].match_index[slow];
    cl_flush(&cl, lead);
    cl_deliver(&cl);
    assert_int_equal(cl.node[slow].commit, last);
    /* Its answers, once durable: to the entries, then to the notice. */
    cl_recv(&cl, granted_answer(&cl, slow, lead, before, last));
    cl_recv(&cl, granted_answer(&cl, slow, lead, last, last));
    struct cons_out out;
    cons_flush(&cl.node[lead], cl.now, &out);
    assert_null(find(&out, CONS_MSG_HEARTBEAT, slow));
    cl_apply(&cl, lead, &out);
    cl_free(&cl);
}

static void test_a_commit_notice_goes_once_per_commit_index(void **state)
{
    (void)state;
    static struct cluster cl;
    int32_t slow;
    uint64_t last;
    int32_t lead = commit_without(&cl, 16, &slow, &last);
    cl.cut[lead][slow] = true;
    cl_flush(&cl, lead);
    cl.node[lead].commit_push = true; /* another answer, say, in the next wake-up */
    struct cons_out out;
    cons_flush(&cl.node[lead], cl.now, &out);
    assert_null(find(&out, CONS_MSG_APPEND, slow));
    cl_apply(&cl, lead, &out);
    cl_free(&cl);
}

static void
test_a_follower_without_the_committed_entry_refuses_the_notice_and_commits_nothing(void **state)
{
    (void)state;
    static struct cluster cl;
    cl_init(&cl, 3, 17);
    int32_t lead = cl_elect_settled(&cl), slow = other(lead, 2);
    uint64_t before = cl.node[slow].commit;
    cl.cut[lead][slow] = true; /* the entries never reach it */
    cl_propose(&cl, lead, 2, 2);
    cl_deliver(&cl);
    cl.cut[lead][slow] = false;
    uint64_t last = cl.node[lead].last_log_index;
    assert_int_equal(cl.node[lead].commit, last);
    struct cons_out out;
    cons_flush(&cl.node[lead], cl.now, &out);
    assert_non_null(find(&out, CONS_MSG_APPEND, slow));
    cl_apply(&cl, lead, &out);
    cl_deliver(&cl);
    assert_int_equal(cl.node[slow].commit, before);
    assert_true(cl.node[slow].last_log_index < last);
    /* The lost entries are found at the next heartbeat, as without it. */
    cl_run(&cl, cl.now + 3 * HB_MS);
    assert_int_equal(cl.node[slow].commit, last);
    cl_free(&cl);
}

static void
test_no_commit_notice_while_entries_beyond_the_commit_index_are_on_their_way(void **state)
{
    (void)state;
    static struct cluster cl;
    int32_t slow;
    uint64_t last;
    int32_t lead = commit_without(&cl, 18, &slow, &last);
    /* Sent, or held behind the slow follower's unanswered APPEND: either
     * way it carries the commit index when it goes. */
    cl_propose(&cl, lead, 1, 3);
    struct cons_out out;
    cons_flush(&cl.node[lead], cl.now, &out);
    assert_null(find(&out, CONS_MSG_APPEND, slow));
    cl_apply(&cl, lead, &out);
    cl_free(&cl);
}

/* ---- leadership transfer ---------------------------------------------- */

static void test_a_transfer_to_an_up_to_date_follower_sends_timeout_now_at_once(void **state)
{
    (void)state;
    static struct cluster cl;
    cl_init(&cl, 3, 20);
    int32_t lead = cl_elect_settled(&cl), to = other(lead, 1), got = CONS_NONE;
    struct cons_out out;
    assert_int_equal(cons_transfer(&cl.node[lead], cl.now, to, &got, &out), CONS_TRANSFER_OK);
    assert_int_equal(got, to);
    assert_non_null(find(&out, CONS_MSG_TIMEOUT_NOW, to));
    assert_true(cons_transferring(&cl.node[lead]));
    cl_apply(&cl, lead, &out);
    cl_free(&cl);
}

static void test_the_target_of_timeout_now_stands_at_once_in_the_next_term(void **state)
{
    (void)state;
    static struct cluster cl;
    cl_init(&cl, 3, 21);
    int32_t lead = cl_elect_settled(&cl), to = other(lead, 1);
    uint64_t term = cl.node[lead].term;
    cl_transfer(&cl, lead, to);
    assert_true(cl_deliver_one(&cl)); /* the TIMEOUT_NOW */
    /* No pre-vote round and no election timeout's wait. */
    assert_int_equal(cl.node[to].role, CONS_CANDIDATE);
    assert_int_equal(cl.node[to].term, term + 1);
    assert_int_equal(cl.sent[to][CONS_MSG_PREVOTE], 0);
    cl_deliver(&cl);
    assert_int_equal(cl_leader(&cl), to);
    assert_int_equal(cl.node[to].term, term + 1);
    cl_free(&cl);
}

/* Where writes go while the target stands: it, once it has this node's
 * vote in the next term; the leader itself once it is known. */
static void test_the_old_leader_names_its_successor_once_it_stands_with_its_vote(void **state)
{
    (void)state;
    static struct cluster cl;
    cl_init(&cl, 3, 23);
    int32_t lead = cl_elect_settled(&cl), to = other(lead, 1);
    uint64_t term = cl.node[lead].term;
    cl_transfer(&cl, lead, to);
    assert_int_equal(cons_transfer_successor(&cl.node[lead]), CONS_NONE); /* it still leads */
    assert_true(cl_deliver_one(&cl));                                     /* the TIMEOUT_NOW */
    struct cons_msg vote = mk(CONS_MSG_VOTE, to, lead, term + 1);
    vote.last_log_index = cl.node[to].last_log_index;
    vote.last_log_term = cl.node[to].last_log_term;
    vote.transfer = true;
    cl_recv(&cl, vote);
    assert_int_equal(cons_transfer_successor(&cl.node[lead]), to);
    cl_deliver(&cl);
    assert_int_equal(cl_leader(&cl), to);
    assert_int_equal(cons_transfer_successor(&cl.node[lead]), CONS_NONE);
    cl_free(&cl);
}

static void test_a_voter_hearing_its_leader_grants_a_transfer_vote(void **state)
{
    (void)state;
    static struct cluster cl;
    cl_init(&cl, 3, 22);
    int32_t lead = cl_elect_settled(&cl), to = other(lead, 1), voter = other(lead, 2);
    uint64_t term = cl.node[lead].term;
    struct cons_msg v = mk(CONS_MSG_VOTE, to, voter, term + 1);
    v.last_log_index = cl.node[to].last_log_index;
    v.last_log_term = cl.node[to].last_log_term;
    struct cons_out out;
    /* Without the transfer mark it is disregarded (leader stickiness)... */
    cons_recv(&cl.node[voter], cl.now, &v, &out);
    assert_int_equal(out.nmsgs, 0);
    assert_int_equal(cl.node[voter].term, term);
    /* ...with it, granted. */
    v.transfer = true;
    cons_recv(&cl.node[voter], cl.now, &v, &out);
    const struct cons_msg *r = find(&out, CONS_MSG_VOTE_RESP, to);
    assert_non_null(r);
    assert_true(r->granted);
    cl_free(&cl);
}

static void test_a_transfer_vote_still_needs_an_up_to_date_log(void **state)
{
    (void)state;
    static struct cluster cl;
    cl_init(&cl, 3, 23);
    int32_t lead = cl_elect_settled(&cl), to = other(lead, 1), voter = other(lead, 2);
    uint64_t term = cl.node[lead].term;
    struct cons_msg v = mk(CONS_MSG_VOTE, to, voter, term + 1);
    v.last_log_index = cl.node[voter].last_log_index - 1;
    v.last_log_term = cl.node[voter].last_log_term;
    v.transfer = true;
    struct cons_out out;
    cons_recv(&cl.node[voter], cl.now, &v, &out);
    const struct cons_msg *r = find(&out, CONS_MSG_VOTE_RESP, to);
    assert_non_null(r);
    assert_false(r->granted);
    cl_free(&cl);
}

static void test_a_transfer_waits_until_the_target_has_the_whole_log(void **state)
{
    (void)state;
    static struct cluster cl;
    cl_init(&cl, 3, 24);
    int32_t lead = cl_elect_settled(&cl), to = other(lead, 1);
    cl_propose(&cl, lead, 3, 2); /* in flight to the target */
    struct cons_out out;
    assert_int_equal(cons_transfer(&cl.node[lead], cl.now, to, NULL, &out), CONS_TRANSFER_OK);
    assert_null(find(&out, CONS_MSG_TIMEOUT_NOW, to));
    cl_apply(&cl, lead, &out);
    cl_deliver(&cl); /* the APPENDs land, their answers come back: TIMEOUT_NOW */
    assert_true(cl.sent[lead][CONS_MSG_TIMEOUT_NOW] >= 1);
    assert_int_equal(cl_leader(&cl), to);
    for (int32_t i = 0; i < 3; i++)
        assert_int_equal(cl.log[i].len, cl.log[to].len);
    cl_free(&cl);
}

static void test_timeout_now_waits_until_the_leader_has_committed_its_whole_log(void **state)
{
    (void)state;
    static struct cl_log l;
    struct cons c;
    struct cons_out out;
    memset(&l, 0, sizeof(l));
    init_node(&c, 0, 3, 0, CONS_NONE, 7);
    log_attach(&c, &l, 0);
    uint64_t now = elect_by_hand(&c);
    cons_set_async_sync(&c, true);
    log_push(&l, c.term, 1);
    log_push(&l, c.term, 1);
    cons_written(&c, now, &l.e[l.len], &out); /* sent; this node's own sync runs */
    struct cons_msg r = mk(CONS_MSG_APPEND_RESP, 1, 0, c.term);
    r.granted = true;
    r.match_index = l.len;
    recv_one(&c, now, r, &out);
    assert_int_equal(c.match_index[1], l.len);
    assert_true(c.commit < l.len);
    /* The target has the whole log, which is not committed yet: those who
     * wait on it here would hear "leadership lost" if this node stepped
     * down now. */
    assert_int_equal(cons_transfer(&c, now, 1, NULL, &out), CONS_TRANSFER_OK);
    assert_null(find(&out, CONS_MSG_TIMEOUT_NOW, 1));
    cons_synced(&c, now, l.len, &out);
    assert_int_equal(c.commit, l.len);
    assert_non_null(find(&out, CONS_MSG_TIMEOUT_NOW, 1));
    assert_int_equal(count_type(&out, CONS_MSG_TIMEOUT_NOW), 1);
}

static void test_a_transfer_without_a_target_picks_the_follower_with_the_longest_log(void **state)
{
    (void)state;
    static struct cluster cl;
    cl_init(&cl, 5, 25);
    int32_t lead = cl_elect_settled(&cl), ahead = (lead + 3) % 5;
    /* Only one follower gets the newest entries. */
    for (int32_t i = 0; i < 5; i++)
        if (i != lead && i != ahead)
            cl.cut[lead][i] = true;
    cl_propose(&cl, lead, 2, 2);
    cl_deliver(&cl);
    int32_t got = CONS_NONE;
    struct cons_out out;
    assert_int_equal(cons_transfer(&cl.node[lead], cl.now, CONS_NONE, &got, &out),
                     CONS_TRANSFER_OK);
    assert_int_equal(got, ahead);
    /* Its TIMEOUT_NOW waits for the entries' commit, which needs one more
     * follower. */
    assert_null(find(&out, CONS_MSG_TIMEOUT_NOW, ahead));
    cl_apply(&cl, lead, &out);
    int32_t more = (lead + 1) % 5;
    cl.cut[lead][more] = false;
    cl_run(&cl, cl.now + 3 * HB_MS); /* its stuck pipeline is probed, then filled */
    assert_true(cl.sent[lead][CONS_MSG_TIMEOUT_NOW] >= 1);
    assert_int_equal(cl_leader(&cl), ahead);
    cl_free(&cl);
}

static void test_a_transfer_is_refused_when_it_cannot_run(void **state)
{
    (void)state;
    static struct cluster cl;
    cl_init(&cl, 3, 26);
    int32_t lead = cl_elect_settled(&cl), f = other(lead, 1), g = other(lead, 2);
    struct cons_out out;
    assert_int_equal(cons_transfer(&cl.node[f], cl.now, g, NULL, &out), CONS_TRANSFER_NOT_LEADER);
    assert_int_equal(cons_transfer(&cl.node[lead], cl.now, lead, NULL, &out), CONS_TRANSFER_SELF);
    assert_int_equal(cons_transfer(&cl.node[lead], cl.now, 7, NULL, &out),
                     CONS_TRANSFER_BAD_TARGET);
    /* g goes silent for an election timeout. */
    cl_isolate(&cl, g, true);
    cl.cut[lead][f] = cl.cut[f][lead] = false;
    cl_run(&cl, cl.now + T_MS);
    assert_int_equal(cl_leader(&cl), lead);
    assert_int_equal(cons_transfer(&cl.node[lead], cl.now, g, NULL, &out), CONS_TRANSFER_SILENT);
    assert_int_equal(cons_transfer(&cl.node[lead], cl.now, f, NULL, &out), CONS_TRANSFER_OK);
    assert_int_equal(cons_transfer(&cl.node[lead], cl.now, f, NULL, &out), CONS_TRANSFER_RUNNING);
    cl_free(&cl);
}

static void test_a_transfer_with_no_follower_heard_is_refused(void **state)
{
    (void)state;
    static struct cluster cl;
    cl_init(&cl, 3, 27);
    int32_t lead = cl_elect_settled(&cl);
    struct cons_out out;
    /* Both followers silent just short of check-quorum's step-down. */
    cl_isolate(&cl, lead, true);
    cl.now += T_MS;
    assert_int_equal(cons_transfer(&cl.node[lead], cl.now, CONS_NONE, NULL, &out),
                     CONS_TRANSFER_NO_TARGET);
    cl_free(&cl);
}

static void
test_a_transfer_that_does_not_finish_in_an_election_timeout_fails_and_the_leader_resumes(
    void **state)
{
    (void)state;
    static struct cluster cl;
    cl_init(&cl, 3, 28);
    int32_t lead = cl_elect_settled(&cl), to = other(lead, 1);
    uint64_t term = cl.node[lead].term, start = cl.now;
    /* Every TIMEOUT_NOW is lost (and the target, cut off from the leader,
     * cannot win a pre-vote against the third member, who hears it). */
    cl.cut[lead][to] = true;
    struct cons_out out;
    cons_transfer(&cl.node[lead], cl.now, to, NULL, &out);
    cl_apply(&cl, lead, &out);
    /* The deadline is one of the core's: it ticks then. */
    assert_true(cons_next_deadline(&cl.node[lead]) <= start + T_MS);
    cl_run(&cl, start + T_MS - 1);
    assert_true(cons_transferring(&cl.node[lead]));
    cl.now = start + T_MS;
    cons_tick(&cl.node[lead], cl.now, &out);
    assert_int_equal(out.transfer_end, CONS_TRANSFER_FAILED);
    assert_int_equal(out.transfer_target, to);
    cl_apply(&cl, lead, &out);
    assert_int_equal(cl.node[lead].role, CONS_LEADER);
    assert_int_equal(cl.node[lead].term, term);
    assert_false(cons_transferring(&cl.node[lead]));
    cl_free(&cl);
}

static void test_a_transfer_is_reported_done_once_the_target_leads(void **state)
{
    (void)state;
    static struct cluster cl;
    cl_init(&cl, 3, 29);
    int32_t lead = cl_elect_settled(&cl), to = other(lead, 1);
    struct cons_out out;
    cons_transfer(&cl.node[lead], cl.now, to, NULL, &out);
    cl_apply(&cl, lead, &out);
    /* Deliver one message at a time and watch the old leader's outputs. */
    int done = 0;
    while (cl.qhead != cl.qtail) {
        size_t slot = cl.qhead++ % CL_QUEUE;
        struct cons_msg m = cl.q[slot];
        cons_recv(&cl.node[m.to], cl.now, &m, &out);
        if (m.to == lead && out.transfer_end == CONS_TRANSFER_DONE) {
            done++;
            assert_int_equal(out.transfer_target, to);
        }
        assert_false(m.to == lead && out.transfer_end == CONS_TRANSFER_FAILED);
        cl_apply_msg(&cl, m.to, &m, &out);
        free(cl.carried[slot]);
        cl.carried[slot] = NULL;
    }
    assert_int_equal(done, 1);
    assert_int_equal(cl_leader(&cl), to);
    assert_false(cons_transferring(&cl.node[lead]));
    cl_free(&cl);
}

static void test_a_timeout_now_of_an_older_term_is_ignored(void **state)
{
    (void)state;
    static struct cluster cl;
    cl_init(&cl, 3, 30);
    int32_t lead = cl_elect_settled(&cl), f = other(lead, 1);
    uint64_t term = cl.node[f].term;
    cl_recv(&cl, mk(CONS_MSG_TIMEOUT_NOW, lead, f, term - 1));
    assert_int_equal(cl.node[f].role, CONS_FOLLOWER);
    assert_int_equal(cl.node[f].term, term);
    cl_free(&cl);
}

static void test_timeout_now_and_a_transfer_vote_survive_the_wire(void **state)
{
    (void)state;
    struct cons_msg in[2] = {mk(CONS_MSG_TIMEOUT_NOW, 0, 1, 9), mk(CONS_MSG_VOTE, 0, 1, 10)};
    in[1].transfer = true;
    for (int k = 0; k < 2; k++) {
        uint8_t *body;
        size_t len;
        assert_int_equal(cons_msg_encode(&in[k], NULL, &body, &len), 0);
        msgpack_unpacked u;
        msgpack_unpacked_init(&u);
        assert_int_equal(msgpack_unpack_next(&u, (const char *)body, len, NULL),
                         MSGPACK_UNPACK_SUCCESS);
        struct cons_msg out;
        static struct cons_wire_entry e[CONS_MAX_BATCH];
        assert_int_equal(cons_msg_decode(&u.data, &out, e), 0);
        assert_int_equal(out.type, in[k].type);
        assert_int_equal(out.term, in[k].term);
        assert_int_equal(out.transfer, in[k].transfer);
        assert_false(out.granted);
        msgpack_unpacked_destroy(&u);
        free(body);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_commit_advance_is_pushed_to_every_follower_on_flush),
        cmocka_unit_test(test_a_second_flush_in_a_row_sends_nothing),
        cmocka_unit_test(test_a_flush_without_a_commit_advance_sends_nothing),
        cmocka_unit_test(test_a_pushed_commit_is_quiet_and_the_interval_heartbeat_is_not),
        cmocka_unit_test(test_a_follower_applies_a_quiet_heartbeat_and_does_not_answer_it),
        cmocka_unit_test(test_a_quiet_heartbeat_of_a_stale_term_is_still_refused),
        cmocka_unit_test(test_no_push_goes_to_a_follower_whose_append_already_carried_the_commit),
        cmocka_unit_test(test_a_leader_that_stepped_down_with_a_push_due_pushes_nothing),
        cmocka_unit_test(test_a_pushed_commit_never_exceeds_what_the_follower_matches),
        cmocka_unit_test(
            test_a_follower_that_answers_after_the_commit_is_told_it_on_the_next_flush),
        cmocka_unit_test(
            test_a_follower_holding_the_committed_end_commits_on_the_notice_before_it_answers),
        cmocka_unit_test(
            test_a_follower_that_took_the_notice_gets_no_heartbeat_when_its_answers_come),
        cmocka_unit_test(test_a_commit_notice_goes_once_per_commit_index),
        cmocka_unit_test(
            test_a_follower_without_the_committed_entry_refuses_the_notice_and_commits_nothing),
        cmocka_unit_test(
            test_no_commit_notice_while_entries_beyond_the_commit_index_are_on_their_way),
        cmocka_unit_test(test_a_transfer_to_an_up_to_date_follower_sends_timeout_now_at_once),
        cmocka_unit_test(test_the_target_of_timeout_now_stands_at_once_in_the_next_term),
        cmocka_unit_test(test_the_old_leader_names_its_successor_once_it_stands_with_its_vote),
        cmocka_unit_test(test_a_voter_hearing_its_leader_grants_a_transfer_vote),
        cmocka_unit_test(test_a_transfer_vote_still_needs_an_up_to_date_log),
        cmocka_unit_test(test_a_transfer_waits_until_the_target_has_the_whole_log),
        cmocka_unit_test(test_timeout_now_waits_until_the_leader_has_committed_its_whole_log),
        cmocka_unit_test(test_a_transfer_without_a_target_picks_the_follower_with_the_longest_log),
        cmocka_unit_test(test_a_transfer_is_refused_when_it_cannot_run),
        cmocka_unit_test(test_a_transfer_with_no_follower_heard_is_refused),
        cmocka_unit_test(
            test_a_transfer_that_does_not_finish_in_an_election_timeout_fails_and_the_leader_resumes),
        cmocka_unit_test(test_a_transfer_is_reported_done_once_the_target_leads),
        cmocka_unit_test(test_a_timeout_now_of_an_older_term_is_ignored),
        cmocka_unit_test(test_timeout_now_and_a_transfer_vote_survive_the_wire),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
