/* Consensus core: writing apart from syncing (§10.2.1; consensus.h,
 * cons_written and cons_synced). The leader sends what it wrote at once but
 * counts itself only for durable entries; a follower acknowledges only
 * durable entries. */
#include "test_consensus_support.h"

/* A leader of term 1 (member 0 of 3) with async sync and log l attached. */
static uint64_t async_leader(struct cons *c, struct cl_log *l)
{
    memset(l, 0, sizeof(*l));
    init_node(c, 0, 3, 0, CONS_NONE, 7);
    cons_set_async_sync(c, true);
    log_attach(c, l, 0);
    return elect_by_hand(c);
}

/* A follower (member 1 of 3) in term 1 with async sync and log l attached. */
static void async_follower(struct cons *c, struct cl_log *l)
{
    memset(l, 0, sizeof(*l));
    init_node(c, 1, 3, 1, CONS_NONE, 9);
    cons_set_async_sync(c, true);
    log_attach(c, l, 0);
}

/* The leader's APPEND of entries prev+1 .. prev+n of l (term 1). */
static struct cons_msg append_of(const struct cl_log *l, uint64_t term, uint64_t prev, uint32_t n,
                                 uint64_t commit)
{
    struct cons_msg m = mk(CONS_MSG_APPEND, 0, 1, term);
    m.prev_index = prev;
    if (prev)
        memcpy(m.prev_hash, l->e[prev].hash, CONS_HASH_BYTES);
    m.n_entries = n;
    m.entries = n ? &l->e[prev + 1] : NULL;
    m.commit = commit;
    return m;
}

static struct cons_msg ack_from(int32_t from, uint64_t prev, uint64_t match)
{
    struct cons_msg m = mk(CONS_MSG_APPEND_RESP, from, 0, 1);
    m.granted = true;
    m.prev_index = prev;
    m.match_index = match;
    return m;
}

static void test_a_leader_sends_what_it_wrote_before_its_sync_returns(void **state)
{
    (void)state;
    static struct cl_log l;
    struct cons c;
    struct cons_out out;
    uint64_t now = async_leader(&c, &l);
    log_push(&l, 1, 1);
    log_push(&l, 1, 2);
    cons_written(&c, now, &l.e[2], &out);
    assert_int_equal(count_type(&out, CONS_MSG_APPEND), 2);
    assert_int_equal(find(&out, CONS_MSG_APPEND, 1)->n_entries, 2);
    assert_int_equal(c.match_index[0], 0);
}

static void test_a_leader_counts_itself_only_once_its_sync_returns(void **state)
{
    (void)state;
    static struct cl_log l;
    struct cons c;
    struct cons_out out;
    uint64_t now = async_leader(&c, &l);
    log_push(&l, 1, 1);
    cons_written(&c, now, &l.e[1], &out);
    /* One follower's durable copy is not a majority of durable copies. */
    recv_one(&c, now, ack_from(1, 0, 1), &out);
    assert_int_equal(c.commit, 0);
    cons_synced(&c, now, 1, &out);
    assert_int_equal(out.commit, 1);
    assert_int_equal(c.commit, 1);
}

static void test_two_followers_commit_without_the_leaders_sync(void **state)
{
    (void)state;
    static struct cl_log l;
    struct cons c;
    struct cons_out out;
    uint64_t now = async_leader(&c, &l);
    log_push(&l, 1, 1);
    cons_written(&c, now, &l.e[1], &out);
    recv_one(&c, now, ack_from(1, 0, 1), &out);
    recv_one(&c, now, ack_from(2, 0, 1), &out);
    assert_int_equal(c.commit, 1); /* two of three durable copies */
    assert_int_equal(c.match_index[0], 0);
}

static void test_synced_beyond_what_was_written_counts_only_the_written(void **state)
{
    (void)state;
    static struct cl_log l;
    struct cons c;
    struct cons_out out;
    uint64_t now = async_leader(&c, &l);
    log_push(&l, 1, 1);
    cons_written(&c, now, &l.e[1], &out);
    cons_synced(&c, now, 5, &out);
    assert_int_equal(c.match_index[0], 1);
    assert_int_equal(c.synced, 1);
}

static void test_appended_is_written_and_synced_at_once(void **state)
{
    (void)state;
    static struct cl_log l;
    struct cons c;
    struct cons_out out;
    uint64_t now = async_leader(&c, &l);
    log_push(&l, 1, 1);
    cons_appended(&c, now, &l.e[1], &out);
    assert_int_equal(c.match_index[0], 1);
    assert_int_equal(count_type(&out, CONS_MSG_APPEND), 2);
}

static void test_a_follower_holds_its_answer_until_the_entries_are_durable(void **state)
{
    (void)state;
    static struct cl_log l, lead;
    struct cons c;
    struct cons_out out;
    async_follower(&c, &l);
    memset(&lead, 0, sizeof(lead));
    log_push(&lead, 1, 1);
    log_push(&lead, 1, 2);
    recv_one(&c, START, append_of(&lead, 1, 0, 2, 0), &out);
    assert_int_equal(out.append_count, 2);
    assert_int_equal(count_type(&out, CONS_MSG_APPEND_RESP), 0);
    l = lead; /* the shell wrote them */
    cons_synced(&c, START + 1, 1, &out);
    assert_int_equal(out.nmsgs, 0); /* entry 2 is not durable yet */
    cons_synced(&c, START + 2, 2, &out);
    assert_int_equal(count_type(&out, CONS_MSG_APPEND_RESP), 1);
    const struct cons_msg *r = find(&out, CONS_MSG_APPEND_RESP, 0);
    assert_true(r->granted);
    assert_int_equal(r->match_index, 2);
    assert_int_equal(r->prev_index, 0);
}

static void test_a_follower_answers_at_once_what_is_durable_already(void **state)
{
    (void)state;
    static struct cl_log l, lead;
    struct cons c;
    struct cons_out out;
    async_follower(&c, &l);
    memset(&lead, 0, sizeof(lead));
    log_push(&lead, 1, 1);
    recv_one(&c, START, append_of(&lead, 1, 0, 1, 0), &out);
    l = lead;
    cons_synced(&c, START, 1, &out);
    /* A probe at what is durable, and a duplicate of it. */
    recv_one(&c, START + 1, append_of(&lead, 1, 1, 0, 0), &out);
    assert_int_equal(count_type(&out, CONS_MSG_APPEND_RESP), 1);
    recv_one(&c, START + 1, append_of(&lead, 1, 0, 1, 0), &out);
    assert_int_equal(count_type(&out, CONS_MSG_APPEND_RESP), 1);
}

static void
test_a_probe_whose_answer_waits_is_answered_at_once_with_a_heartbeat_answer(void **state)
{
    (void)state;
    static struct cl_log l, lead;
    struct cons c;
    struct cons_out out;
    async_follower(&c, &l);
    memset(&lead, 0, sizeof(lead));
    log_push(&lead, 1, 1);
    recv_one(&c, START, append_of(&lead, 1, 0, 1, 0), &out);
    assert_int_equal(out.nmsgs, 0); /* entries: the answer waits, nothing else */
    l = lead;
    recv_one(&c, START + HB_MS, append_of(&lead, 1, 1, 0, 0), &out); /* the leader's probe */
    assert_int_equal(count_type(&out, CONS_MSG_APPEND_RESP), 0);
    const struct cons_msg *hb = find(&out, CONS_MSG_HEARTBEAT_RESP, 0);
    assert_non_null(hb);
    assert_true(hb->granted);
    assert_int_equal(hb->term, 1);
    cons_synced(&c, START + HB_MS, 1, &out);
    assert_int_equal(count_type(&out, CONS_MSG_APPEND_RESP), 2);
}

static void test_a_refusal_is_never_held(void **state)
{
    (void)state;
    static struct cl_log l, lead;
    struct cons c;
    struct cons_out out;
    async_follower(&c, &l);
    memset(&lead, 0, sizeof(lead));
    for (int k = 0; k < 3; k++)
        log_push(&lead, 1, 1);
    recv_one(&c, START, append_of(&lead, 1, 2, 1, 0), &out); /* it lacks 1..2 */
    const struct cons_msg *r = find(&out, CONS_MSG_APPEND_RESP, 0);
    assert_non_null(r);
    assert_false(r->granted);
}

static void test_held_answers_of_an_older_term_are_dropped(void **state)
{
    (void)state;
    static struct cl_log l, lead;
    struct cons c;
    struct cons_out out;
    async_follower(&c, &l);
    memset(&lead, 0, sizeof(lead));
    log_push(&lead, 1, 1);
    recv_one(&c, START, append_of(&lead, 1, 0, 1, 0), &out);
    l = lead;
    /* A candidate now, while the sync runs: the old leader must not hear
     * an answer of its term after this node moved on. */
    tick(&c, c.election_deadline, &out);
    struct cons_msg pv = mk(CONS_MSG_PREVOTE_RESP, 2, 1, c.term + 1);
    pv.granted = true;
    recv_one(&c, c.election_deadline, pv, &out);
    assert_int_equal(c.role, CONS_CANDIDATE);
    cons_synced(&c, c.election_deadline, 1, &out);
    assert_int_equal(count_type(&out, CONS_MSG_APPEND_RESP), 0);
    assert_int_equal(c.nheld, 0);
}

static void
test_a_truncation_drops_held_answers_beyond_it_and_what_it_cut_is_not_durable(void **state)
{
    (void)state;
    static struct cl_log l, old, lead;
    struct cons c;
    struct cons_out out;
    async_follower(&c, &l);
    memset(&old, 0, sizeof(old));
    log_push(&old, 1, 1);
    log_push(&old, 1, 2);
    recv_one(&c, START, append_of(&old, 1, 0, 2, 0), &out); /* held: not durable */
    l = old;
    cons_synced(&c, START, 2, &out); /* answered */
    assert_int_equal(c.synced, 2);
    /* A leader of term 2 whose entry 2 differs. */
    lead = old;
    lead.len = 1;
    log_push(&lead, 2, 9);
    recv_one(&c, START + 1, append_of(&lead, 2, 1, 1, 0), &out);
    assert_true(out.truncate);
    assert_int_equal(out.truncate_after, 1);
    assert_int_equal(c.synced, 1); /* the new entry 2 is not durable */
    assert_int_equal(count_type(&out, CONS_MSG_APPEND_RESP), 0);
    l = lead;
    cons_synced(&c, START + 2, 2, &out);
    const struct cons_msg *r = find(&out, CONS_MSG_APPEND_RESP, 0);
    assert_non_null(r);
    assert_int_equal(r->term, 2);
    assert_int_equal(r->match_index, 2);
}

static void test_a_full_queue_drops_the_oldest_answer(void **state)
{
    (void)state;
    static struct cl_log l, lead;
    struct cons c;
    struct cons_out out;
    async_follower(&c, &l);
    memset(&lead, 0, sizeof(lead));
    const uint32_t cap = sizeof(c.held) / sizeof(c.held[0]);
    for (uint32_t k = 0; k <= cap; k++) {
        log_push(&lead, 1, k);
        recv_one(&c, START, append_of(&lead, 1, k, 1, 0), &out);
    }
    l = lead;
    assert_int_equal(c.nheld, cap);
    cons_synced(&c, START, cap + 1, &out);
    assert_int_equal(count_type(&out, CONS_MSG_APPEND_RESP), cap);
    assert_int_equal(out.msgs[0].prev_index, 1); /* the answer to prev 0 was dropped */
}

static void test_a_follower_elected_while_syncing_counts_only_what_is_durable(void **state)
{
    (void)state;
    static struct cl_log l, lead;
    struct cons c;
    struct cons_out out;
    async_follower(&c, &l);
    memset(&lead, 0, sizeof(lead));
    log_push(&lead, 1, 1);
    recv_one(&c, START, append_of(&lead, 1, 0, 1, 0), &out);
    l = lead;
    uint64_t now = c.election_deadline;
    tick(&c, now, &out);
    struct cons_msg m = mk(CONS_MSG_PREVOTE_RESP, 2, 1, c.term + 1);
    m.granted = true;
    recv_one(&c, now, m, &out);
    m = mk(CONS_MSG_VOTE_RESP, 2, 1, c.term);
    m.granted = true;
    recv_one(&c, now, m, &out);
    assert_int_equal(c.role, CONS_LEADER);
    assert_int_equal(c.match_index[1], 0);
    cons_synced(&c, now, 1, &out);
    assert_int_equal(c.match_index[1], 1);
}

static void test_without_async_sync_a_follower_answers_in_the_same_output(void **state)
{
    (void)state;
    static struct cl_log l, lead;
    struct cons c;
    struct cons_out out;
    memset(&l, 0, sizeof(l));
    init_node(&c, 1, 3, 1, CONS_NONE, 9);
    log_attach(&c, &l, 0);
    memset(&lead, 0, sizeof(lead));
    log_push(&lead, 1, 1);
    recv_one(&c, START, append_of(&lead, 1, 0, 1, 0), &out);
    assert_int_equal(count_type(&out, CONS_MSG_APPEND_RESP), 1);
    assert_int_equal(c.synced, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_leader_sends_what_it_wrote_before_its_sync_returns),
        cmocka_unit_test(test_a_leader_counts_itself_only_once_its_sync_returns),
        cmocka_unit_test(test_two_followers_commit_without_the_leaders_sync),
        cmocka_unit_test(test_synced_beyond_what_was_written_counts_only_the_written),
        cmocka_unit_test(test_appended_is_written_and_synced_at_once),
        cmocka_unit_test(test_a_follower_holds_its_answer_until_the_entries_are_durable),
        cmocka_unit_test(test_a_follower_answers_at_once_what_is_durable_already),
        cmocka_unit_test(
            test_a_probe_whose_answer_waits_is_answered_at_once_with_a_heartbeat_answer),
        cmocka_unit_test(test_a_refusal_is_never_held),
        cmocka_unit_test(test_held_answers_of_an_older_term_are_dropped),
        cmocka_unit_test(
            test_a_truncation_drops_held_answers_beyond_it_and_what_it_cut_is_not_durable),
        cmocka_unit_test(test_a_full_queue_drops_the_oldest_answer),
        cmocka_unit_test(test_a_follower_elected_while_syncing_counts_only_what_is_durable),
        cmocka_unit_test(test_without_async_sync_a_follower_answers_in_the_same_output),
    };
    return cmocka_run_group_tests_name("consensus_sync", tests, NULL, NULL);
}
