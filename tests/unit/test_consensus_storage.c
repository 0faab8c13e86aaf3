/* Consensus core: a node whose disk refuses writes (cons_storage_failed)
 * steps down, stands for no election until a write succeeds again
 * (cons_storage_ok), and asks its shell to probe the disk with a backoff;
 * the others elect a leader that can write. */
#include "test_consensus_support.h"

static struct cons_persist persisted(const struct cons *c)
{
    struct cons_persist p = {.term = c->term, .voted_for = c->voted_for};
    return p;
}

static void fail_storage(struct cons *c, uint64_t now, const struct cl_log *l)
{
    struct cons_persist p = persisted(c);
    cons_storage_failed(c, now, &p, l->len ? &l->e[l->len] : NULL);
}

/* Node 0 of 3 with an empty log, in term `term`. */
static void start(struct cons *c, struct cl_log *l, uint64_t term)
{
    memset(l, 0, sizeof(*l));
    init_node(c, 0, 3, term, CONS_NONE, 1);
    log_attach(c, l, 0);
}

/* Node 0, elected in term 5, whose disk then fails; returns the time. */
static uint64_t failed_leader(struct cons *c, struct cl_log *l)
{
    start(c, l, 4);
    uint64_t now = elect_by_hand(c);
    fail_storage(c, now, l);
    return now;
}

static void test_a_leader_whose_disk_fails_steps_down_in_its_term(void **state)
{
    (void)state;
    struct cons c;
    static struct cl_log l;
    uint64_t now = failed_leader(&c, &l);
    assert_int_equal(c.role, CONS_FOLLOWER);
    assert_int_equal(c.term, 5);
    assert_int_equal(c.voted_for, 0);
    assert_int_equal(c.leader, CONS_NONE);
    assert_true(cons_read_only(&c, now));
    assert_true(c.storage_failed);
}

static void test_a_node_whose_disk_failed_stands_for_no_election(void **state)
{
    (void)state;
    struct cons c;
    static struct cl_log l;
    uint64_t now = failed_leader(&c, &l);
    struct cons_out out;
    /* Many election timeouts: never a pre-vote, never a new term. */
    for (int k = 0; k < 50; k++) {
        now = cons_next_deadline(&c);
        tick(&c, now, &out);
        assert_int_equal(count_type(&out, CONS_MSG_PREVOTE), 0);
        assert_int_equal(count_type(&out, CONS_MSG_VOTE), 0);
        assert_int_equal(c.role, CONS_FOLLOWER);
        assert_int_equal(c.term, 5);
        assert_true(cons_next_deadline(&c) > now);
    }
}

static void test_once_a_write_succeeds_the_node_stands_again(void **state)
{
    (void)state;
    struct cons c;
    static struct cl_log l;
    uint64_t now = failed_leader(&c, &l);
    cons_storage_ok(&c);
    struct cons_out out;
    now = c.election_deadline;
    tick(&c, now, &out);
    assert_int_equal(c.role, CONS_PRECANDIDATE);
    assert_int_equal(count_type(&out, CONS_MSG_PREVOTE), 2);
}

static void test_the_disk_is_probed_after_t_then_2t_then_every_4t(void **state)
{
    (void)state;
    struct cons c;
    static struct cl_log l;
    start(&c, &l, 0);
    uint64_t failed_at = START + 10;
    fail_storage(&c, failed_at, &l);
    uint64_t want[] = {failed_at + T_MS, failed_at + 3 * T_MS, failed_at + 7 * T_MS,
                       failed_at + 11 * T_MS, failed_at + 15 * T_MS};
    size_t got = 0;
    struct cons_out out;
    for (uint64_t now = failed_at; got < 5;) {
        now = cons_next_deadline(&c);
        assert_true(now <= want[got]);
        tick(&c, now, &out);
        if (out.probe_storage)
            assert_int_equal(now, want[got++]);
    }
    /* A success ends the probing. */
    cons_storage_ok(&c);
    for (int k = 0; k < 10; k++) {
        uint64_t now = cons_next_deadline(&c);
        tick(&c, now, &out);
        assert_false(out.probe_storage);
        if (c.role != CONS_FOLLOWER)
            break;
    }
}

static void test_a_second_failure_does_not_postpone_the_probe(void **state)
{
    (void)state;
    struct cons c;
    static struct cl_log l;
    start(&c, &l, 0);
    fail_storage(&c, START, &l);
    uint64_t due = c.storage_probe_at;
    fail_storage(&c, START + T_MS / 2, &l);
    assert_int_equal(c.storage_probe_at, due);
}

static void test_a_failed_out_is_rolled_back_to_the_disk(void **state)
{
    (void)state;
    /* A follower takes two entries and a newer term from an APPEND; the
     * shell cannot write them: the core returns to the disk's term and log
     * (never past it), and its commit index to what the log holds. */
    struct cons c;
    static struct cl_log l, leader;
    memset(&l, 0, sizeof(l));
    memset(&leader, 0, sizeof(leader));
    log_push(&l, 1, 7);
    log_push(&leader, 1, 7);
    log_push(&leader, 2, 8);
    log_push(&leader, 2, 8);
    init_node(&c, 1, 3, 1, CONS_NONE, 1);
    log_attach(&c, &l, 1);
    struct cons_msg m = mk(CONS_MSG_APPEND, 0, 1, 2);
    m.prev_index = 1;
    memcpy(m.prev_hash, leader.e[1].hash, CONS_HASH_BYTES);
    m.n_entries = 2;
    m.entries = &leader.e[2];
    m.commit = 3;
    struct cons_out out;
    recv_one(&c, START, m, &out);
    assert_true(out.persist);
    assert_int_equal(out.append_count, 2);
    assert_int_equal(c.last_log_index, 3);
    assert_int_equal(c.commit, 3);
    struct cons_persist disk = {.term = 1, .voted_for = CONS_NONE};
    cons_storage_failed(&c, START, &disk, &l.e[1]);
    assert_int_equal(c.term, 1);
    assert_int_equal(c.last_log_index, 1);
    assert_memory_equal(c.last_log_hash, l.e[1].hash, CONS_HASH_BYTES);
    assert_int_equal(c.commit, 1);
    assert_int_equal(c.leader, CONS_NONE); /* heard in term 2, which it does not hold */
    /* The same APPEND again, once the disk takes it, is accepted as new. */
    cons_storage_ok(&c);
    recv_one(&c, START + 1, m, &out);
    assert_int_equal(out.append_count, 2);
    assert_int_equal(out.commit, 3);
}

static void test_a_follower_whose_append_fails_keeps_its_leader_of_the_same_term(void **state)
{
    (void)state;
    struct cons c;
    static struct cl_log l, leader;
    memset(&l, 0, sizeof(l));
    memset(&leader, 0, sizeof(leader));
    log_push(&leader, 2, 8);
    init_node(&c, 1, 3, 2, CONS_NONE, 1);
    log_attach(&c, &l, 0);
    struct cons_msg m = mk(CONS_MSG_APPEND, 0, 1, 2);
    m.n_entries = 1;
    m.entries = &leader.e[1];
    struct cons_out out;
    recv_one(&c, START, m, &out);
    assert_false(out.persist);
    assert_int_equal(out.append_count, 1);
    struct cons_persist disk = {.term = 2, .voted_for = CONS_NONE};
    cons_storage_failed(&c, START, &disk, NULL);
    /* Still following: no read-only episode for every refused APPEND. */
    assert_int_equal(c.leader, 0);
    assert_false(cons_read_only(&c, START + 1));
    assert_int_equal(c.last_log_index, 0);
    assert_true(c.storage_failed);
}

static void test_the_others_elect_a_leader_when_the_leaders_disk_fails(void **state)
{
    (void)state;
    static struct cluster cl;
    cl_init(&cl, 3, 10);
    cl_run(&cl, START + 10 * T_MS);
    int32_t old = cl_leader(&cl);
    assert_int_not_equal(old, CONS_NONE);
    uint64_t term = cl.node[old].term;
    fail_storage(&cl.node[old], cl.now, &cl.log[old]);
    cl_run(&cl, cl.now + 20 * T_MS);
    int32_t now_leader = cl_leader(&cl);
    assert_int_not_equal(now_leader, CONS_NONE);
    assert_int_not_equal(now_leader, old);
    assert_true(cl.node[now_leader].term > term);
    /* The old leader follows the new one. */
    assert_int_equal(cl.node[old].leader, now_leader);
    assert_false(cons_read_only(&cl.node[old], cl.now));
    cl_free(&cl);
}

/* A follower whose log ends in a suffix of an old term gets an APPEND that
 * replaces it and commits into it; the disk refuses the write. What it
 * holds is still the old suffix, which is not committed: the commit index
 * goes back to what it was, so the leader's retry is taken, not ignored as
 * an attempt to replace a committed entry (which left the follower stuck
 * forever). */
static void test_a_refused_append_does_not_leave_the_commit_index_over_the_old_suffix(void **state)
{
    (void)state;
    struct cons c;
    static struct cl_log mine, leader;
    static const uint64_t old_terms[] = {1, 1, 2, 2, 2};
    static const uint64_t new_terms[] = {1, 1, 3, 3};
    log_fill(&mine, old_terms, 5, 7);
    log_fill(&leader, new_terms, 4, 7);
    memcpy(&leader.e[1], &mine.e[1], 2 * sizeof(struct cons_entry));
    for (uint64_t k = 3; k <= 4; k++)
        leader.e[k] = chain_entry(leader.e[k - 1].hash, k, 3, 9);
    init_node(&c, 1, 3, 3, CONS_NONE, 1);
    log_attach(&c, &mine, 2);
    struct cons_msg m = mk(CONS_MSG_APPEND, 0, 1, 3);
    m.prev_index = 2;
    memcpy(m.prev_hash, leader.e[2].hash, CONS_HASH_BYTES);
    m.n_entries = 2;
    m.entries = &leader.e[3];
    m.commit = 4;
    struct cons_out out;
    recv_one(&c, START, m, &out);
    assert_true(out.truncate);
    assert_int_equal(out.commit, 4);
    /* The disk refuses the truncation and the append. */
    fail_storage(&c, START, &mine);
    assert_int_equal(c.commit, 2);
    recv_one(&c, START + 1, m, &out);
    assert_true(out.truncate);
    assert_int_equal(out.append_count, 2);
    assert_non_null(find(&out, CONS_MSG_APPEND_RESP, 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_refused_append_does_not_leave_the_commit_index_over_the_old_suffix),
        cmocka_unit_test(test_a_leader_whose_disk_fails_steps_down_in_its_term),
        cmocka_unit_test(test_a_node_whose_disk_failed_stands_for_no_election),
        cmocka_unit_test(test_once_a_write_succeeds_the_node_stands_again),
        cmocka_unit_test(test_the_disk_is_probed_after_t_then_2t_then_every_4t),
        cmocka_unit_test(test_a_second_failure_does_not_postpone_the_probe),
        cmocka_unit_test(test_a_failed_out_is_rolled_back_to_the_disk),
        cmocka_unit_test(test_a_follower_whose_append_fails_keeps_its_leader_of_the_same_term),
        cmocka_unit_test(test_the_others_elect_a_leader_when_the_leaders_disk_fails),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
