/* Consensus core: Raft log replication (§3.5), commitment (§3.6.2) and the
 * election restriction (§3.6.1), through hand-made messages and the in-test
 * router with per-node in-memory logs. */
#include "test_consensus_support.h"

static struct cons_msg append_msg(int32_t from, int32_t to, uint64_t term, const struct cl_log *l,
                                  uint64_t prev, uint32_t n, uint64_t commit)
{
    struct cons_msg m = mk(CONS_MSG_APPEND, from, to, term);
    m.prev_index = prev;
    if (prev)
        memcpy(m.prev_hash, l->e[prev].hash, CONS_HASH_BYTES);
    m.n_entries = n;
    m.entries = n ? &l->e[prev + 1] : NULL;
    m.commit = commit;
    return m;
}

static struct cons_msg append_resp(int32_t from, uint64_t term, bool ok, uint64_t prev,
                                   uint64_t match)
{
    struct cons_msg m = mk(CONS_MSG_APPEND_RESP, from, 0, term);
    m.granted = ok;
    m.prev_index = prev;
    m.match_index = match;
    return m;
}

static bool same_logs(const struct cluster *cl, int32_t a, int32_t b)
{
    const struct cl_log *x = &cl->log[a], *y = &cl->log[b];
    return x->len == y->len && memcmp(&x->e[1], &y->e[1], x->len * sizeof(struct cons_entry)) == 0;
}

/* A leader of term 1 (member 0 of n) by hand, with log l emptied and
 * attached. */
static uint64_t lead_with_log(struct cons *c, int32_t n, struct cl_log *l)
{
    memset(l, 0, sizeof(*l));
    init_node(c, 0, n, 0, CONS_NONE, 7);
    log_attach(c, l, 0);
    return elect_by_hand(c);
}

/* The pipeline tests below send one-entry APPENDs back to back: a leader
 * configured to pipeline whatever there is (batch_min 1). By default only
 * full batches are pipelined; the rest waits for an answer (see the tests
 * of batching). The machinery is the same either way. */
static void pipeline_any_batch(struct cons *c)
{
    c->cfg.batch_min = 1;
}

/* The leader's shell appends count entries of term 1 at once. */
static void append_entries(struct cons *c, struct cl_log *l, uint64_t now, int count,
                           struct cons_out *out)
{
    for (int k = 0; k < count; k++)
        log_push(l, 1, 1);
    cons_appended(c, now, &l->e[l->len], out);
}

/* Ends the heartbeat interval in which entries were last sent, with no
 * answer: nothing is probed yet (the entries may still be on their way),
 * only HEARTBEATs go out. The next heartbeat probes followers still
 * silent. Returns the time. */
static uint64_t heartbeat_after_sending(struct cons *c, struct cons_out *out)
{
    uint64_t now = c->heartbeat_due;
    tick(c, now, out);
    assert_int_equal(count_type(out, CONS_MSG_APPEND), 0);
    return now;
}

/* ---- the happy path ---------------------------------------------------- */

static void test_a_leader_replicates_entries_and_commits_by_majority(void **state)
{
    (void)state;
    static struct cluster cl;
    cl_init(&cl, 3, 10);
    int32_t lead = cl_elect(&cl);
    cl_propose(&cl, lead, 1, 1); /* the election entry */
    cl_propose(&cl, lead, 5, 2);
    assert_int_equal(cl.node[lead].commit, 0); /* nobody answered yet */
    cl_deliver(&cl);
    assert_int_equal(cl.node[lead].commit, 6);
    for (int32_t i = 0; i < 3; i++)
        assert_true(same_logs(&cl, lead, i));
    /* Followers learn the commit index with the next message. */
    cl_run(&cl, cl.now + HB_MS);
    for (int32_t i = 0; i < 3; i++)
        assert_int_equal(cl.node[i].commit, 6);
    cl_free(&cl);
}

static void test_a_single_node_commits_at_once_on_appended(void **state)
{
    (void)state;
    static struct cluster cl;
    cl_init(&cl, 1, 3);
    cl_run(&cl, cl.node[0].election_deadline);
    assert_int_equal(cl.node[0].role, CONS_LEADER);
    struct cons_entry e = *log_push(&cl.log[0], cl.node[0].term, 1);
    struct cons_out out;
    cons_appended(&cl.node[0], cl.now, &e, &out);
    assert_int_equal(out.commit, 1);
    assert_int_equal(out.nmsgs, 0);
    cl_apply(&cl, 0, &out);
    assert_int_equal(cl.node[0].commit, 1);
}

static void test_appended_is_ignored_unless_leader_of_that_term(void **state)
{
    (void)state;
    static struct cl_log l;
    struct cons c;
    struct cons_out out;
    memset(&l, 0, sizeof(l));
    init_node(&c, 0, 3, 0, CONS_NONE, 7);
    log_attach(&c, &l, 0);
    struct cons_entry e = *log_push(&l, 1, 1);
    cons_appended(&c, START, &e, &out); /* a follower */
    assert_int_equal(out.nmsgs, 0);
    assert_int_equal(c.last_log_index, 0);
    elect_by_hand(&c);
    struct cons_entry old = e;
    old.term = 0; /* not this term */
    cons_appended(&c, START, &old, &out);
    assert_int_equal(out.nmsgs, 0);
    assert_int_equal(c.last_log_index, 0);
}

/* ---- consistency check and back-off ------------------------------------ */

static void test_a_follower_behind_refuses_with_its_last_index_and_the_leader_backs_off_in_one_step(
    void **state)
{
    (void)state;
    static struct cl_log lead_log, fol_log;
    uint64_t t[10] = {0};
    log_fill(&lead_log, t, 0, 0);
    struct cons c;
    struct cons_out out;
    uint64_t now = lead_with_log(&c, 3, &lead_log);
    append_entries(&c, &lead_log, now, 10, &out);
    const struct cons_msg *a = find(&out, CONS_MSG_APPEND, 1);
    assert_non_null(a);
    assert_int_equal(a->prev_index, 0);
    /* That APPEND is lost; after a whole heartbeat interval with no answer,
     * the leader probes after 10. */
    heartbeat_after_sending(&c, &out);
    now = c.heartbeat_due;
    tick(&c, now, &out);
    a = find(&out, CONS_MSG_APPEND, 1);
    assert_non_null(a);
    assert_int_equal(a->prev_index, 10);
    assert_int_equal(a->n_entries, 0);
    /* A follower with the first 3 entries refuses it. */
    memcpy(&fol_log, &lead_log, sizeof(fol_log));
    fol_log.len = 3;
    struct cons f;
    init_node(&f, 1, 3, 1, 0, 9);
    log_attach(&f, &fol_log, 0);
    recv_one(&f, now, append_msg(0, 1, 1, &lead_log, 10, 0, 0), &out);
    const struct cons_msg *r = find(&out, CONS_MSG_APPEND_RESP, 0);
    assert_false(r->granted);
    assert_int_equal(r->match_index, 3);
    assert_int_equal(r->prev_index, 10);
    /* The leader backs off to 4 at once and resends from there. */
    recv_one(&c, now, append_resp(1, 1, false, 10, 3), &out);
    a = find(&out, CONS_MSG_APPEND, 1);
    assert_non_null(a);
    assert_int_equal(a->prev_index, 3);
    assert_memory_equal(a->prev_hash, lead_log.e[3].hash, CONS_HASH_BYTES);
    assert_int_equal(a->n_entries, 7);
    assert_int_equal(c.next_index[1], 11);
    assert_int_equal(c.inflight[1], 1);
}

static void test_a_mismatch_is_refused_with_a_hint_before_the_conflicting_term(void **state)
{
    (void)state;
    static struct cl_log lead_log, fol_log;
    /* Leader: 1 1 3 3 3 3; follower: 1 1 2 2 2 2 2 2 (term 2 never committed). */
    uint64_t lt[] = {1, 1, 3, 3, 3, 3}, ft[] = {1, 1, 2, 2, 2, 2, 2, 2};
    log_fill(&lead_log, lt, 6, 0);
    log_fill(&fol_log, ft, 8, 0);
    struct cons f;
    struct cons_out out;
    init_node(&f, 1, 3, 3, CONS_NONE, 9);
    log_attach(&f, &fol_log, 1);
    recv_one(&f, START, append_msg(0, 1, 4, &lead_log, 6, 0, 0), &out);
    const struct cons_msg *r = find(&out, CONS_MSG_APPEND_RESP, 0);
    assert_false(r->granted);
    assert_int_equal(r->term, 4);
    /* The whole of term 2 (3..8) is skipped: retry after 2. */
    assert_int_equal(r->match_index, 2);
    assert_false(out.truncate);
    assert_int_equal(out.append_count, 0);
    /* It is still the leader speaking: followed, lease renewed. */
    assert_int_equal(f.leader, 0);
    assert_false(cons_read_only(&f, START));
}

static void test_a_late_refusal_restarts_from_the_known_match_not_below(void **state)
{
    (void)state;
    static struct cl_log l;
    struct cons c;
    struct cons_out out;
    uint64_t now = lead_with_log(&c, 3, &l);
    pipeline_any_batch(&c);
    for (uint64_t k = 1; k <= 3; k++) {
        log_push(&l, 1, k);
        cons_appended(&c, now, &l.e[k], &out);
    }
    /* In flight to 1: prev 0, 1, 2. The third arrived first and was
     * refused (hint 0); then the first two succeeded; the refusal comes
     * last. Entry 3 is still missing on 1: it must be sent again. */
    recv_one(&c, now, append_resp(1, 1, true, 0, 1), &out);
    recv_one(&c, now, append_resp(1, 1, true, 1, 2), &out);
    assert_int_equal(c.match_index[1], 2);
    assert_int_equal(c.next_index[1], 4);
    recv_one(&c, now, append_resp(1, 1, false, 2, 0), &out);
    const struct cons_msg *a = find(&out, CONS_MSG_APPEND, 1);
    assert_non_null(a);
    assert_int_equal(a->prev_index, 2); /* never below the match */
    assert_int_equal(a->n_entries, 1);
    assert_int_equal(c.match_index[1], 2);
    assert_int_equal(c.inflight[1], 1);
}

/* ---- conflicts --------------------------------------------------------- */

static void test_a_conflicting_uncommitted_suffix_is_truncated_and_replaced(void **state)
{
    (void)state;
    static struct cl_log lead_log, fol_log;
    uint64_t lt[] = {1, 1, 3, 3, 3}, ft[] = {1, 1, 2, 2};
    log_fill(&lead_log, lt, 5, 0);
    log_fill(&fol_log, ft, 4, 0);
    static struct cluster cl; /* only for its log-applying checks */
    cl_init(&cl, 3, 1);
    struct cons *f = &cl.node[1];
    memcpy(&cl.log[1], &fol_log, sizeof(fol_log));
    log_attach(f, &cl.log[1], 2);
    cl.commit[1] = 2;
    cl.ncommitted = 2;
    memcpy(&cl.committed[1], &fol_log.e[1], 2 * sizeof(struct cons_entry));
    struct cons_msg m = append_msg(0, 1, 3, &lead_log, 2, 3, 4);
    struct cons_out out;
    cons_recv(f, START, &m, &out);
    assert_true(out.truncate);
    assert_int_equal(out.truncate_after, 2);
    assert_int_equal(out.append_from, 0);
    assert_int_equal(out.append_count, 3);
    const struct cons_msg *r = find(&out, CONS_MSG_APPEND_RESP, 0);
    assert_true(r->granted);
    assert_int_equal(r->match_index, 5);
    assert_int_equal(out.commit, 4);
    cl_apply_msg(&cl, 1, &m, &out);
    assert_int_equal(cl.log[1].len, 5);
    assert_memory_equal(&cl.log[1].e[1], &lead_log.e[1], 5 * sizeof(struct cons_entry));
    cl_free(&cl);
}

static void test_an_append_that_would_replace_a_committed_entry_is_ignored(void **state)
{
    (void)state;
    static struct cl_log lead_log, fol_log;
    uint64_t lt[] = {1, 1, 3, 3}, ft[] = {1, 1, 2, 2};
    log_fill(&lead_log, lt, 4, 0);
    log_fill(&fol_log, ft, 4, 0);
    struct cons f;
    struct cons_out out;
    init_node(&f, 1, 3, 2, CONS_NONE, 9);
    log_attach(&f, &fol_log, 3); /* entry 3 (term 2) is committed */
    recv_one(&f, START, append_msg(0, 1, 3, &lead_log, 2, 2, 4), &out);
    assert_int_equal(out.nmsgs, 0);
    assert_false(out.truncate);
    assert_int_equal(out.append_count, 0);
    assert_int_equal(out.commit, 0);
    assert_false(out.persist);
    /* Nothing changed: no term, no leader, no lease. */
    assert_int_equal(f.term, 2);
    assert_int_equal(f.leader, CONS_NONE);
    assert_int_equal(f.last_log_index, 4);
    assert_int_equal(f.commit, 3);
}

static void test_entries_already_present_are_skipped_and_later_ones_kept(void **state)
{
    (void)state;
    static struct cl_log l;
    uint64_t t[] = {1, 1, 1, 1, 1, 1};
    log_fill(&l, t, 6, 0);
    struct cons f;
    struct cons_out out;
    init_node(&f, 1, 3, 1, 0, 9);
    log_attach(&f, &l, 0);
    /* A duplicate (or late) APPEND of 2..3. */
    recv_one(&f, START, append_msg(0, 1, 1, &l, 1, 2, 6), &out);
    assert_false(out.truncate);
    assert_int_equal(out.append_count, 0);
    assert_int_equal(f.last_log_index, 6);
    const struct cons_msg *r = find(&out, CONS_MSG_APPEND_RESP, 0);
    assert_true(r->granted);
    assert_int_equal(r->match_index, 3);
    /* Commit capped at what this APPEND proved to match. */
    assert_int_equal(f.commit, 3);
    assert_int_equal(out.commit, 3);
}

static void test_only_the_entries_beyond_the_log_are_appended(void **state)
{
    (void)state;
    static struct cl_log l;
    uint64_t t[] = {1, 1, 1, 1, 1, 1};
    log_fill(&l, t, 6, 0);
    static struct cl_log fl;
    memcpy(&fl, &l, sizeof(fl));
    fl.len = 4;
    struct cons f;
    struct cons_out out;
    init_node(&f, 1, 3, 1, 0, 9);
    log_attach(&f, &fl, 0);
    recv_one(&f, START, append_msg(0, 1, 1, &l, 2, 4, 0), &out);
    assert_false(out.truncate);
    assert_int_equal(out.append_from, 2);
    assert_int_equal(out.append_count, 2);
    assert_int_equal(f.last_log_index, 6);
    assert_memory_equal(f.last_log_hash, l.e[6].hash, CONS_HASH_BYTES);
    assert_int_equal(out.commit, 0);
}

/* ---- catching up ------------------------------------------------------- */

static void test_a_follower_that_was_down_catches_up_through_heartbeats(void **state)
{
    (void)state;
    static struct cluster cl;
    cl_init(&cl, 3, 10);
    int32_t lead = cl_elect(&cl);
    int32_t x = (lead + 1) % 3, y = (lead + 2) % 3;
    cl_isolate(&cl, x, true);
    cl_propose(&cl, lead, 1, 1);
    for (int k = 0; k < 8; k++) {
        cl_propose(&cl, lead, 100, 2 + (uint64_t)k);
        cl_deliver(&cl);
    }
    assert_int_equal(cl.node[lead].commit, 801);
    assert_int_equal(cl.log[x].len, 0);
    /* Back, with no new proposals: heartbeats alone bring it up to date. */
    cl_isolate(&cl, x, false);
    cl_run(&cl, cl.now + 4 * T_MS);
    assert_int_equal(cl_leader(&cl), lead);
    assert_true(same_logs(&cl, lead, x));
    assert_true(same_logs(&cl, lead, y));
    assert_int_equal(cl.node[x].commit, 801);
    cl_free(&cl);
}

static void test_a_wiped_follower_catches_up_once_the_leader_learns_it_restarted(void **state)
{
    (void)state;
    static struct cluster cl;
    cl_init(&cl, 3, 10);
    int32_t lead = cl_elect(&cl);
    int32_t x = (lead + 1) % 3;
    cl_propose(&cl, lead, 1, 1);
    cl_propose(&cl, lead, 5, 2);
    cl_deliver(&cl);
    cl_run(&cl, cl.now + HB_MS);
    assert_true(same_logs(&cl, lead, x));
    /* x loses its data directory and starts as a blank node. */
    struct cons_config cfg = cl.node[x].cfg;
    struct cons_persist blank = {.term = 0, .voted_for = CONS_NONE};
    cl.log[x].len = 0;
    cl.commit[x] = 0;
    cl.disk[x] = blank;
    cons_init(&cl.node[x], &cfg, &blank, cl.now, 99);
    log_attach(&cl.node[x], &cl.log[x], 0);
    cons_peer_restarted(&cl.node[lead], x);
    cl_run(&cl, cl.now + 4 * T_MS);
    assert_int_equal(cl_leader(&cl), lead);
    assert_true(same_logs(&cl, lead, x));
    cl_free(&cl);
}

static void test_on_a_heartbeat_a_lagging_follower_gets_a_probe_instead(void **state)
{
    (void)state;
    static struct cl_log l;
    struct cons c;
    struct cons_out out;
    uint64_t now = lead_with_log(&c, 3, &l);
    pipeline_any_batch(&c);
    for (uint64_t k = 1; k <= CONS_MAX_INFLIGHT; k++) {
        log_push(&l, 1, k);
        cons_appended(&c, now, &l.e[k], &out);
    }
    assert_int_equal(c.inflight[2], CONS_MAX_INFLIGHT);
    /* Every answer was lost: after a whole heartbeat interval without one,
     * both followers get an empty APPEND after the last entry sent, not a
     * HEARTBEAT. */
    heartbeat_after_sending(&c, &out);
    now = c.heartbeat_due;
    tick(&c, now, &out);
    for (int32_t i = 1; i <= 2; i++) {
        const struct cons_msg *p = find(&out, CONS_MSG_APPEND, i);
        assert_non_null(p);
        assert_int_equal(p->prev_index, CONS_MAX_INFLIGHT);
        assert_memory_equal(p->prev_hash, l.e[CONS_MAX_INFLIGHT].hash, CONS_HASH_BYTES);
        assert_int_equal(p->n_entries, 0);
        assert_null(find(&out, CONS_MSG_HEARTBEAT, i));
    }
    /* Member 1 had everything (only its answers were lost): it accepts, and
     * the leader learns its match and commits. */
    recv_one(&c, now, append_resp(1, 1, true, 4, CONS_MAX_INFLIGHT), &out);
    assert_int_equal(c.match_index[1], CONS_MAX_INFLIGHT);
    assert_int_equal(out.commit, CONS_MAX_INFLIGHT);
    /* Member 2 got nothing: it refuses, and the pipeline restarts. */
    recv_one(&c, now, append_resp(2, 1, false, 4, 0), &out);
    const struct cons_msg *a = find(&out, CONS_MSG_APPEND, 2);
    assert_non_null(a);
    assert_int_equal(a->prev_index, 0);
    assert_int_equal(a->n_entries, CONS_MAX_INFLIGHT);
    assert_int_equal(c.inflight[2], 1);
    /* A follower known to hold the whole log gets a plain HEARTBEAT. */
    tick(&c, c.heartbeat_due, &out);
    assert_non_null(find(&out, CONS_MSG_HEARTBEAT, 1));
    assert_null(find(&out, CONS_MSG_APPEND, 1));
}

/* ---- late and out-of-order answers (§3.5 with §10.2.2 pipelining) ------ */

/* The leader's shell appends one entry of term 1 at a time, count times:
 * one single-entry APPEND to each follower per call while there is room. */
static void append_singles(struct cons *c, struct cl_log *l, uint64_t now, int count,
                           struct cons_out *out)
{
    for (int k = 0; k < count; k++) {
        log_push(l, 1, 1);
        cons_appended(c, now, &l->e[l->len], out);
    }
}

static void test_an_append_resp_echoes_the_prev_index_of_the_append_it_answers(void **state)
{
    (void)state;
    static struct cl_log lead_log, fol_log;
    uint64_t t[] = {1, 1, 1, 1, 1, 1};
    log_fill(&lead_log, t, 6, 0);
    memcpy(&fol_log, &lead_log, sizeof(fol_log));
    fol_log.len = 2;
    struct cons f;
    struct cons_out out;
    init_node(&f, 1, 3, 1, 0, 9);
    log_attach(&f, &fol_log, 0);
    /* Accepted: entries 3..4 after 2. */
    recv_one(&f, START, append_msg(0, 1, 1, &lead_log, 2, 2, 0), &out);
    const struct cons_msg *r = find(&out, CONS_MSG_APPEND_RESP, 0);
    assert_true(r->granted);
    assert_int_equal(r->prev_index, 2);
    fol_log.len = 4; /* the shell appended them */
    /* Refused: after 5, which it does not have. */
    recv_one(&f, START, append_msg(0, 1, 1, &lead_log, 5, 1, 0), &out);
    r = find(&out, CONS_MSG_APPEND_RESP, 0);
    assert_false(r->granted);
    assert_int_equal(r->prev_index, 5);
    assert_int_equal(r->match_index, 4);
}

static void test_a_refusal_of_an_append_after_the_pipeline_head_does_not_rewind(void **state)
{
    (void)state;
    static struct cl_log l;
    struct cons c;
    struct cons_out out;
    uint64_t now = lead_with_log(&c, 3, &l);
    pipeline_any_batch(&c);
    append_singles(&c, &l, now, CONS_MAX_INFLIGHT, &out);
    assert_int_equal(c.next_index[1], CONS_MAX_INFLIGHT + 1);
    /* The APPEND after 2 overtook those after 0 and 1 and was refused:
     * they are still on their way, so nothing is resent yet. */
    recv_one(&c, now, append_resp(1, 1, false, 2, 0), &out);
    assert_int_equal(count_type(&out, CONS_MSG_APPEND), 0);
    assert_int_equal(c.next_index[1], CONS_MAX_INFLIGHT + 1);
}

static void test_a_refusal_from_before_the_last_rewind_is_ignored(void **state)
{
    (void)state;
    static struct cl_log l;
    struct cons c;
    struct cons_out out;
    uint64_t now = lead_with_log(&c, 3, &l);
    pipeline_any_batch(&c);
    append_singles(&c, &l, now, CONS_MAX_INFLIGHT, &out);
    /* No answer for a heartbeat interval: a probe after 4, refused with a
     * hint of 3; the new pipeline starts after 3. */
    heartbeat_after_sending(&c, &out);
    now = c.heartbeat_due;
    tick(&c, now, &out);
    assert_int_equal(find(&out, CONS_MSG_APPEND, 1)->prev_index, CONS_MAX_INFLIGHT);
    recv_one(&c, now, append_resp(1, 1, false, CONS_MAX_INFLIGHT, 3), &out);
    const struct cons_msg *a = find(&out, CONS_MSG_APPEND, 1);
    assert_non_null(a);
    assert_int_equal(a->prev_index, 3);
    assert_int_equal(c.next_index[1], CONS_MAX_INFLIGHT + 1);
    /* A refusal of the first pipeline's APPEND after 2 comes late: it says
     * nothing about the new pipeline. */
    recv_one(&c, now, append_resp(1, 1, false, 2, 0), &out);
    assert_int_equal(count_type(&out, CONS_MSG_APPEND), 0);
    assert_int_equal(c.next_index[1], CONS_MAX_INFLIGHT + 1);
}

static void test_a_refusal_hint_below_the_known_match_does_not_refill_the_pipeline(void **state)
{
    (void)state;
    static struct cl_log l;
    struct cons c;
    struct cons_out out;
    uint64_t now = lead_with_log(&c, 3, &l);
    pipeline_any_batch(&c);
    append_singles(&c, &l, now, 4, &out);
    for (uint64_t k = 0; k < 4; k++)
        recv_one(&c, now, append_resp(1, 1, true, k, k + 1), &out);
    assert_int_equal(c.match_index[1], 4);
    append_singles(&c, &l, now, 4, &out);
    assert_int_equal(c.next_index[1], 9);
    /* A refusal hinting 0 (< the match, 4) answers an APPEND the follower
     * saw before it acknowledged 4: its log only grows while we lead, so it
     * is stale. The pipeline in flight (5..8) is left alone. */
    recv_one(&c, now, append_resp(1, 1, false, 1, 0), &out);
    assert_int_equal(count_type(&out, CONS_MSG_APPEND), 0);
    assert_int_equal(c.next_index[1], 9);
    assert_int_equal(c.match_index[1], 4);
}

static void test_a_rewind_sends_no_more_than_the_room_left_by_appends_in_flight(void **state)
{
    (void)state;
    static struct cl_log l;
    uint64_t t[] = {1, 1, 1, 1, 1, 1, 1, 1};
    log_fill(&l, t, 8, 0);
    struct cons c;
    struct cons_out out;
    init_node(&c, 0, 3, 1, CONS_NONE, 7);
    log_attach(&c, &l, 0);
    uint64_t now = elect_by_hand(&c); /* term 2; probes after 8 */
    pipeline_any_batch(&c);
    /* Three single entries and then a backlog of three batches. */
    for (int k = 0; k < 3; k++) {
        log_push(&l, 2, 1);
        cons_appended(&c, now, &l.e[l.len], &out);
    }
    assert_int_equal(c.inflight[1], CONS_MAX_INFLIGHT);
    for (int k = 0; k < 3 * CONS_MAX_BATCH; k++)
        log_push(&l, 2, 2);
    cons_appended(&c, now, &l.e[l.len], &out);
    assert_int_equal(count_type(&out, CONS_MSG_APPEND), 0);
    /* The probe (the head) is refused with a hint of 5: three APPENDs are
     * still in flight, so the new pipeline gets one APPEND now, not a
     * whole window on top of them. */
    recv_one(&c, now, append_resp(1, 2, false, 8, 5), &out);
    assert_int_equal(count_type(&out, CONS_MSG_APPEND), 1);
    assert_int_equal(find(&out, CONS_MSG_APPEND, 1)->prev_index, 5);
    assert_int_equal(c.inflight[1], CONS_MAX_INFLIGHT);
}

static void test_a_refused_append_is_resent_once_the_follower_reaches_its_start(void **state)
{
    (void)state;
    static struct cl_log l;
    struct cons c;
    struct cons_out out;
    uint64_t now = lead_with_log(&c, 3, &l);
    pipeline_any_batch(&c);
    append_singles(&c, &l, now, CONS_MAX_INFLIGHT, &out);
    /* After 2 arrived first and was refused; then after 0 and 1 succeed. */
    recv_one(&c, now, append_resp(1, 1, false, 2, 0), &out);
    recv_one(&c, now, append_resp(1, 1, true, 0, 1), &out);
    assert_int_equal(count_type(&out, CONS_MSG_APPEND), 0);
    recv_one(&c, now, append_resp(1, 1, true, 1, 2), &out);
    /* The follower is at 2 and the APPEND after 2 was not stored: resend
     * from 3 at once, without waiting for the answer after 3. */
    const struct cons_msg *a = find(&out, CONS_MSG_APPEND, 1);
    assert_non_null(a);
    assert_int_equal(a->prev_index, 2);
    assert_int_equal(a->n_entries, 2);
}

static void test_a_pipeline_answered_short_of_its_end_is_resent_from_the_match(void **state)
{
    (void)state;
    static struct cl_log l;
    struct cons c;
    struct cons_out out;
    uint64_t now = lead_with_log(&c, 3, &l);
    pipeline_any_batch(&c);
    append_singles(&c, &l, now, 3, &out);
    /* After 2 refused; after 0 accepted, and its answer duplicated; the
     * answer after 1 is lost. Every APPEND is answered as far as the
     * count knows, and the follower holds only 1: resend from 2. */
    recv_one(&c, now, append_resp(1, 1, false, 2, 0), &out);
    recv_one(&c, now, append_resp(1, 1, true, 0, 1), &out);
    assert_int_equal(count_type(&out, CONS_MSG_APPEND), 0);
    recv_one(&c, now, append_resp(1, 1, true, 0, 1), &out);
    const struct cons_msg *a = find(&out, CONS_MSG_APPEND, 1);
    assert_non_null(a);
    assert_int_equal(a->prev_index, 1);
    assert_int_equal(a->n_entries, 2);
}

static void test_duplicated_refusals_resend_a_drained_pipeline_once_per_interval(void **state)
{
    (void)state;
    static struct cl_log l;
    struct cons c;
    struct cons_out out;
    uint64_t now = lead_with_log(&c, 3, &l);
    append_singles(&c, &l, now, CONS_MAX_INFLIGHT, &out);
    /* The follower's disk refuses the head (after 0): it answers nothing
     * (cons_storage_failed). The APPENDs after it are refused with its last
     * index, 0, and every answer arrives twice. The count drains early and
     * the pipeline is resent from 0 once; its head is refused by the disk
     * again, so the stale answers left must not resend it again and again
     * (each resend drew more answers than it sent: a storm). */
    size_t sent = 0;
    for (uint64_t p = 1; p < CONS_MAX_INFLIGHT; p++)
        for (int copy = 0; copy < 2; copy++) {
            recv_one(&c, now, append_resp(1, 1, false, p, 0), &out);
            sent += count_type(&out, CONS_MSG_APPEND);
        }
    assert_int_equal(sent, 1);
    /* The next heartbeat finds the pipeline drained and probes it. */
    tick(&c, c.heartbeat_due, &out);
    const struct cons_msg *probe = find(&out, CONS_MSG_APPEND, 1);
    assert_non_null(probe);
    assert_int_equal(probe->n_entries, 0);
}

static void test_a_heartbeat_does_not_probe_a_follower_whose_pipeline_is_answering(void **state)
{
    (void)state;
    static struct cl_log l;
    struct cons c;
    struct cons_out out;
    uint64_t now = lead_with_log(&c, 3, &l);
    pipeline_any_batch(&c);
    append_singles(&c, &l, now, CONS_MAX_INFLIGHT, &out);
    now = heartbeat_after_sending(&c, &out);
    recv_one(&c, now, append_resp(1, 1, true, 0, 1), &out);
    /* Member 1 answered during the interval: the rest of its pipeline is
     * presumably on its way, and a probe would overtake it and be refused.
     * Member 2 did not: it is probed. */
    tick(&c, c.heartbeat_due, &out);
    assert_non_null(find(&out, CONS_MSG_HEARTBEAT, 1));
    assert_null(find(&out, CONS_MSG_APPEND, 1));
    assert_non_null(find(&out, CONS_MSG_APPEND, 2));
    /* Silent for a whole interval since: probed. */
    tick(&c, c.heartbeat_due, &out);
    const struct cons_msg *p = find(&out, CONS_MSG_APPEND, 1);
    assert_non_null(p);
    assert_int_equal(p->prev_index, CONS_MAX_INFLIGHT);
    assert_int_equal(p->n_entries, 0);
}

static void test_a_heartbeat_right_after_entries_were_sent_does_not_probe(void **state)
{
    (void)state;
    static struct cl_log l;
    struct cons c;
    struct cons_out out;
    uint64_t now = lead_with_log(&c, 3, &l);
    pipeline_any_batch(&c);
    append_singles(&c, &l, now, CONS_MAX_INFLIGHT, &out);
    /* The heartbeat comes 1 ms later: no answer could have come yet, and a
     * probe would only overtake the APPENDs. */
    tick(&c, c.heartbeat_due, &out);
    assert_null(find(&out, CONS_MSG_APPEND, 1));
    assert_null(find(&out, CONS_MSG_APPEND, 2));
    assert_non_null(find(&out, CONS_MSG_HEARTBEAT, 1));
    assert_non_null(find(&out, CONS_MSG_HEARTBEAT, 2));
}

static void test_a_silent_follower_gets_only_probes_until_it_answers(void **state)
{
    (void)state;
    static struct cl_log l;
    struct cons c;
    struct cons_out out;
    uint64_t now = lead_with_log(&c, 3, &l);
    pipeline_any_batch(&c);
    append_singles(&c, &l, now, 2, &out); /* the pipelines have room left */
    now = heartbeat_after_sending(&c, &out);
    /* The followers answer HEARTBEATs (so the leader keeps its quorum), but
     * no APPEND_RESP comes. */
    for (int32_t i = 1; i <= 2; i++) {
        struct cons_msg hr = mk(CONS_MSG_HEARTBEAT_RESP, i, 0, 1);
        hr.granted = true;
        recv_one(&c, now, hr, &out);
    }
    now = c.heartbeat_due;
    tick(&c, now, &out); /* probes: the pipelines are presumed lost */
    assert_int_equal(count_type(&out, CONS_MSG_APPEND), 2);
    /* New entries go nowhere until a probe is answered. */
    append_entries(&c, &l, now, 10, &out);
    assert_int_equal(count_type(&out, CONS_MSG_APPEND), 0);
    tick(&c, c.heartbeat_due, &out);
    assert_int_equal(count_type(&out, CONS_MSG_APPEND), 2);
    for (size_t k = 0; k < out.nmsgs; k++)
        assert_int_equal(out.msgs[k].n_entries, 0);
}

static void test_the_answer_to_a_probe_reopens_the_whole_window(void **state)
{
    (void)state;
    static struct cl_log l;
    struct cons c;
    struct cons_out out;
    uint64_t now = lead_with_log(&c, 3, &l);
    pipeline_any_batch(&c);
    append_singles(&c, &l, now, CONS_MAX_INFLIGHT, &out);
    heartbeat_after_sending(&c, &out);
    now = c.heartbeat_due;
    tick(&c, now, &out); /* every answer was lost: probes after 4 */
    append_entries(&c, &l, now, CONS_MAX_INFLIGHT * CONS_MAX_BATCH, &out);
    /* Member 1 had everything: its answer to the probe repairs the lost
     * count, and a full window goes out. */
    recv_one(&c, now, append_resp(1, 1, true, CONS_MAX_INFLIGHT, CONS_MAX_INFLIGHT), &out);
    assert_int_equal(c.match_index[1], CONS_MAX_INFLIGHT);
    assert_int_equal(count_type(&out, CONS_MSG_APPEND), CONS_MAX_INFLIGHT);
    assert_int_equal(find(&out, CONS_MSG_APPEND, 1)->prev_index, CONS_MAX_INFLIGHT);
}

/* ---- pipelining and batching ------------------------------------------- */

static void test_several_appends_are_in_flight_before_any_answer_up_to_max_inflight(void **state)
{
    (void)state;
    static struct cl_log l;
    struct cons c;
    struct cons_out out;
    uint64_t now = lead_with_log(&c, 3, &l);
    pipeline_any_batch(&c);
    for (uint64_t k = 1; k <= CONS_MAX_INFLIGHT + 2; k++) {
        log_push(&l, 1, k);
        cons_appended(&c, now, &l.e[k], &out);
        size_t want = k <= CONS_MAX_INFLIGHT ? 2 : 0;
        assert_int_equal(count_type(&out, CONS_MSG_APPEND), want);
        if (want) {
            assert_int_equal(find(&out, CONS_MSG_APPEND, 1)->prev_index, k - 1);
            assert_int_equal(find(&out, CONS_MSG_APPEND, 1)->n_entries, 1);
        }
    }
    assert_int_equal(c.inflight[1], CONS_MAX_INFLIGHT);
    assert_int_equal(c.next_index[1], CONS_MAX_INFLIGHT + 1);
    /* An answer opens the pipeline again: the rest goes in one APPEND. */
    recv_one(&c, now, append_resp(1, 1, true, 0, 1), &out);
    const struct cons_msg *a = find(&out, CONS_MSG_APPEND, 1);
    assert_non_null(a);
    assert_int_equal(a->prev_index, CONS_MAX_INFLIGHT);
    assert_int_equal(a->n_entries, 2);
    assert_int_equal(c.inflight[1], CONS_MAX_INFLIGHT);
}

static void
test_entries_that_come_while_an_append_is_unanswered_wait_and_then_go_together(void **state)
{
    (void)state;
    static struct cl_log l;
    struct cons c;
    struct cons_out out;
    uint64_t now = lead_with_log(&c, 3, &l);
    append_entries(&c, &l, now, 1, &out);
    assert_int_equal(count_type(&out, CONS_MSG_APPEND), 2); /* nothing ahead: at once */
    for (int k = 0; k < 3; k++) {
        append_entries(&c, &l, now, 1, &out);
        assert_int_equal(count_type(&out, CONS_MSG_APPEND), 0);
    }
    recv_one(&c, now, append_resp(1, 1, true, 0, 1), &out);
    const struct cons_msg *a = find(&out, CONS_MSG_APPEND, 1);
    assert_non_null(a);
    assert_int_equal(a->prev_index, 1);
    assert_int_equal(a->n_entries, 3);
    assert_null(find(&out, CONS_MSG_APPEND, 2)); /* its own APPEND is still unanswered */
}

static void test_a_full_batch_does_not_wait_for_the_append_ahead_of_it(void **state)
{
    (void)state;
    static struct cl_log l;
    struct cons c;
    struct cons_out out;
    uint64_t now = lead_with_log(&c, 3, &l);
    append_entries(&c, &l, now, 1, &out);
    append_entries(&c, &l, now, CONS_MAX_BATCH, &out);
    assert_int_equal(count_type(&out, CONS_MSG_APPEND), 2);
    assert_int_equal(find(&out, CONS_MSG_APPEND, 1)->prev_index, 1);
    assert_int_equal(find(&out, CONS_MSG_APPEND, 1)->n_entries, CONS_MAX_BATCH);
    assert_int_equal(c.inflight[1], 2);
}

static void
test_a_backlog_goes_as_full_batches_and_its_remainder_waits_for_the_answers(void **state)
{
    (void)state;
    static struct cl_log l;
    struct cons c;
    struct cons_out out;
    uint64_t now = lead_with_log(&c, 3, &l);
    const int rest = 10;
    append_entries(&c, &l, now, 2 * CONS_MAX_BATCH + rest, &out);
    /* The first APPEND goes whatever it carries (nothing ahead of it); the
     * two that follow are full, the remainder waits. */
    assert_int_equal(count_type(&out, CONS_MSG_APPEND), 2 * 2);
    assert_int_equal(c.next_index[1], 2 * CONS_MAX_BATCH + 1);
    recv_one(&c, now, append_resp(1, 1, true, 0, CONS_MAX_BATCH), &out);
    assert_null(find(&out, CONS_MSG_APPEND, 1)); /* one is still in flight */
    recv_one(&c, now, append_resp(1, 1, true, CONS_MAX_BATCH, 2 * CONS_MAX_BATCH), &out);
    const struct cons_msg *a = find(&out, CONS_MSG_APPEND, 1);
    assert_non_null(a);
    assert_int_equal(a->prev_index, 2 * CONS_MAX_BATCH);
    assert_int_equal(a->n_entries, rest);
}

/* Held entries and lost answers. inflight is a flow-control count that a
 * lost answer keeps high until a probe is answered (see the top of
 * replicate.c). Before Nagle's rule that only narrowed the window; behind
 * the rule it holds every entry short of a full batch, and under a light
 * load the pipeline is one APPEND deep, so any lost answer is the last one:
 * the follower gets nothing new until the heartbeat probes it. The first
 * test pins that bound; the three after it say what should happen instead
 * and fail on bb26c72 (review branch). */

static void
test_entries_held_behind_a_lost_answer_go_once_the_second_heartbeats_probe_is_answered(void **state)
{
    (void)state;
    static struct cl_log l;
    struct cons c;
    struct cons_out out;
    uint64_t now = lead_with_log(&c, 3, &l);
    append_entries(&c, &l, now, 1, &out);
    append_entries(&c, &l, now, 3, &out);
    assert_int_equal(count_type(&out, CONS_MSG_APPEND), 0);
    /* Member 2 answers and gets the three; member 1's answer is lost. */
    recv_one(&c, now, append_resp(2, 1, true, 0, 1), &out);
    assert_int_equal(find(&out, CONS_MSG_APPEND, 2)->n_entries, 3);
    /* The interval that ends here saw an APPEND leave for member 1: its
     * answer may still come, so no probe, and the three stay held. */
    tick(&c, c.heartbeat_due, &out);
    assert_non_null(find(&out, CONS_MSG_HEARTBEAT, 1));
    assert_null(find(&out, CONS_MSG_APPEND, 1));
    /* A whole interval of silence: the probe, and nothing more until it
     * is answered. */
    now = c.heartbeat_due;
    tick(&c, now, &out);
    const struct cons_msg *p = find(&out, CONS_MSG_APPEND, 1);
    assert_non_null(p);
    assert_int_equal(p->prev_index, 1);
    assert_int_equal(p->n_entries, 0);
    /* Its answer restarts the count: the three go, two heartbeat
     * intervals and a round trip after they were written. */
    recv_one(&c, now, append_resp(1, 1, true, 1, 1), &out);
    const struct cons_msg *a = find(&out, CONS_MSG_APPEND, 1);
    assert_non_null(a);
    assert_int_equal(a->prev_index, 1);
    assert_int_equal(a->n_entries, 3);
}

static void
test_an_answer_for_everything_sent_lets_held_entries_go_though_an_earlier_one_was_lost(void **state)
{
    (void)state;
    static struct cl_log l;
    struct cons c;
    struct cons_out out;
    uint64_t now = lead_with_log(&c, 3, &l);
    append_entries(&c, &l, now, 1, &out);
    append_entries(&c, &l, now, CONS_MAX_BATCH, &out); /* full: pipelined */
    append_entries(&c, &l, now, 3, &out);              /* held */
    assert_int_equal(count_type(&out, CONS_MSG_APPEND), 0);
    assert_int_equal(c.inflight[1], 2);
    /* The answer after 0 is lost; the one after 1 says member 1 holds
     * everything it was sent: nothing it was sent is still on its way, so
     * nothing is left to wait for. On bb26c72 the count stays at 1 and the
     * three wait for the heartbeat's probe. */
    recv_one(&c, now, append_resp(1, 1, true, 1, 1 + CONS_MAX_BATCH), &out);
    const struct cons_msg *a = find(&out, CONS_MSG_APPEND, 1);
    assert_non_null(a);
    assert_int_equal(a->prev_index, 1 + CONS_MAX_BATCH);
    assert_int_equal(a->n_entries, 3);
}

static void test_a_commit_notice_in_flight_does_not_hold_back_the_next_entries(void **state)
{
    (void)state;
    static struct cl_log l;
    struct cons c;
    struct cons_out out;
    uint64_t now = lead_with_log(&c, 3, &l);
    append_entries(&c, &l, now, 1, &out);
    /* Member 2 answers first: entry 1 is committed, and member 1, which was
     * sent it, gets a commit notice (counted in flight like an APPEND). */
    recv_one(&c, now, append_resp(2, 1, true, 0, 1), &out);
    assert_int_equal(c.commit, 1);
    cons_flush(&c, now, &out);
    const struct cons_msg *notice = find(&out, CONS_MSG_APPEND, 1);
    assert_non_null(notice);
    assert_int_equal(notice->n_entries, 0);
    assert_int_equal(notice->prev_index, 1);
    append_entries(&c, &l, now, 1, &out); /* to member 2 at once; held for 1 */
    assert_non_null(find(&out, CONS_MSG_APPEND, 2));
    assert_null(find(&out, CONS_MSG_APPEND, 1));
    /* Member 1's answer for entry 1: it holds everything it was sent. The
     * notice adds nothing to wait for (its answer carries no entries, and
     * may be lost); on bb26c72 entry 2 waits for it, a round trip, or for
     * the heartbeat's probe when it is lost. */
    recv_one(&c, now, append_resp(1, 1, true, 0, 1), &out);
    const struct cons_msg *a = find(&out, CONS_MSG_APPEND, 1);
    assert_non_null(a);
    assert_int_equal(a->prev_index, 1);
    assert_int_equal(a->n_entries, 1);
}

static void test_a_transfer_sends_its_target_the_entries_held_for_it_at_once(void **state)
{
    (void)state;
    static struct cl_log l;
    struct cons c;
    struct cons_out out;
    uint64_t now = lead_with_log(&c, 3, &l);
    struct cons_msg alive = mk(CONS_MSG_HEARTBEAT_RESP, 1, 0, 1);
    alive.granted = true;
    recv_one(&c, now, alive, &out);
    append_entries(&c, &l, now, 1, &out);
    append_entries(&c, &l, now, 3, &out); /* held behind the unanswered APPEND */
    assert_null(find(&out, CONS_MSG_APPEND, 1));
    /* The log stays put while the transfer runs (proposals are refused):
     * there is nothing to batch with, and TIMEOUT_NOW waits for the target
     * to hold the whole log. On bb26c72 the three leave only when the
     * answer ahead of them comes: TIMEOUT_NOW a round trip (and a follower
     * sync) later, or after the heartbeat's probe if that answer is lost,
     * within a transfer deadline of one election timeout. */
    int32_t got = CONS_NONE;
    assert_int_equal(cons_transfer(&c, now, 1, &got, &out), CONS_TRANSFER_OK);
    check_out(&c, &out);
    const struct cons_msg *a = find(&out, CONS_MSG_APPEND, 1);
    assert_non_null(a);
    assert_int_equal(a->prev_index, 1);
    assert_int_equal(a->n_entries, 3);
}

static void test_batches_are_bounded_by_max_batch(void **state)
{
    (void)state;
    static struct cl_log l;
    struct cons c;
    struct cons_out out;
    uint64_t now = lead_with_log(&c, 3, &l);
    pipeline_any_batch(&c);
    append_entries(&c, &l, now, 1000, &out);
    check_out(&c, &out);
    assert_int_equal(count_type(&out, CONS_MSG_APPEND), 2 * CONS_MAX_INFLIGHT);
    uint64_t next = 0;
    for (size_t k = 0; k < out.nmsgs; k++) {
        const struct cons_msg *a = &out.msgs[k];
        assert_true(a->n_entries <= CONS_MAX_BATCH);
        if (a->to == 1) {
            assert_int_equal(a->prev_index, next);
            next += a->n_entries;
        }
    }
    assert_int_equal(next, 4 * CONS_MAX_BATCH < 1000 ? 4 * CONS_MAX_BATCH : 1000);
}

static void test_a_leader_with_many_followers_never_overflows_out(void **state)
{
    (void)state;
    static struct cl_log l;
    memset(&l, 0, sizeof(l));
    struct cons c;
    struct cons_out out;
    init_node(&c, 0, CONS_MAX_MEMBERS, 0, CONS_NONE, 7);
    log_attach(&c, &l, 0);
    /* Elected by members 1..8. */
    uint64_t now = c.election_deadline;
    tick(&c, now, &out);
    for (int32_t i = 1; i <= CONS_MAX_MEMBERS / 2; i++) {
        struct cons_msg m = mk(CONS_MSG_PREVOTE_RESP, i, 0, 1);
        m.granted = true;
        recv_one(&c, now, m, &out);
    }
    for (int32_t i = 1; i <= CONS_MAX_MEMBERS / 2; i++) {
        struct cons_msg m = mk(CONS_MSG_VOTE_RESP, i, 0, 1);
        m.granted = true;
        recv_one(&c, now, m, &out);
    }
    assert_int_equal(c.role, CONS_LEADER);
    append_entries(&c, &l, now, 2000, &out);
    check_out(&c, &out);
    assert_int_equal(out.nmsgs, CONS_MAX_OUT);
    /* Round-robin: every follower got its share. */
    for (int32_t i = 1; i < CONS_MAX_MEMBERS; i++)
        assert_non_null(find(&out, CONS_MSG_APPEND, i));
    /* On the heartbeat everyone hears something, APPEND or HEARTBEAT. */
    tick(&c, now + HB_MS, &out);
    for (int32_t i = 1; i < CONS_MAX_MEMBERS; i++)
        assert_true(find(&out, CONS_MSG_APPEND, i) || find(&out, CONS_MSG_HEARTBEAT, i));
}

/* ---- commitment -------------------------------------------------------- */

static void test_a_leader_never_commits_an_older_term_entry_by_counting_replicas(void **state)
{
    (void)state;
    /* Figure 3.7 (c): S1 leads term 4 with entry 2 of term 2 on a majority;
     * it must not commit it until an entry of term 4 is on a majority. */
    static struct cl_log l;
    uint64_t t[] = {1, 2};
    log_fill(&l, t, 2, 0);
    struct cons c;
    struct cons_out out;
    init_node(&c, 0, 5, 3, CONS_NONE, 7);
    log_attach(&c, &l, 1);
    uint64_t now = c.election_deadline;
    tick(&c, now, &out);
    for (int32_t i = 1; i <= 2; i++) {
        struct cons_msg m = mk(CONS_MSG_PREVOTE_RESP, i, 0, 4);
        m.granted = true;
        recv_one(&c, now, m, &out);
    }
    for (int32_t i = 1; i <= 2; i++) {
        struct cons_msg m = mk(CONS_MSG_VOTE_RESP, i, 0, 4);
        m.granted = true;
        recv_one(&c, now, m, &out);
    }
    assert_int_equal(c.role, CONS_LEADER);
    assert_int_equal(c.term, 4);
    recv_one(&c, now, append_resp(1, 4, true, 1, 2), &out);
    recv_one(&c, now, append_resp(2, 4, true, 1, 2), &out);
    assert_int_equal(c.match_index[1], 2);
    assert_int_equal(c.match_index[2], 2);
    assert_int_equal(c.commit, 1);
    assert_int_equal(out.commit, 0);
    /* Its own entry of term 4 on a majority commits both. */
    log_push(&l, 4, 9);
    cons_appended(&c, now, &l.e[3], &out);
    assert_int_equal(c.commit, 1);
    recv_one(&c, now, append_resp(1, 4, true, 2, 3), &out);
    assert_int_equal(c.commit, 1);
    recv_one(&c, now, append_resp(2, 4, true, 2, 3), &out);
    assert_int_equal(c.commit, 3);
    assert_int_equal(out.commit, 3);
}

static void test_heartbeat_commit_never_exceeds_what_the_follower_matched(void **state)
{
    (void)state;
    static struct cl_log l;
    struct cons c;
    struct cons_out out;
    uint64_t now = lead_with_log(&c, 3, &l);
    append_entries(&c, &l, now, 5, &out);
    recv_one(&c, now, append_resp(1, 1, true, 0, 5), &out);
    assert_int_equal(c.commit, 5);
    /* Member 2 did not answer: it is probed after 5 and refuses (hint 2),
     * and the log view can no longer read entry 2, so nothing can be sent
     * to it: it gets a HEARTBEAT, with a commit of 0 since nothing of its
     * log is known to match. */
    heartbeat_after_sending(&c, &out);
    now = c.heartbeat_due;
    tick(&c, now, &out);
    assert_int_equal(find(&out, CONS_MSG_APPEND, 2)->prev_index, 5);
    c.log.meta = NULL;
    recv_one(&c, now, append_resp(2, 1, false, 5, 2), &out);
    assert_int_equal(count_type(&out, CONS_MSG_APPEND), 0);
    tick(&c, c.heartbeat_due, &out);
    assert_int_equal(find(&out, CONS_MSG_HEARTBEAT, 1)->commit, 5);
    assert_int_equal(find(&out, CONS_MSG_HEARTBEAT, 2)->commit, 0);
    assert_int_equal(count_type(&out, CONS_MSG_APPEND), 0);
}

static void
test_a_new_leader_probes_followers_and_heartbeats_carry_no_unverified_commit(void **state)
{
    (void)state;
    static struct cl_log l;
    uint64_t t[] = {1, 1, 1};
    log_fill(&l, t, 3, 0);
    struct cons c;
    struct cons_out out;
    init_node(&c, 0, 3, 1, CONS_NONE, 7);
    log_attach(&c, &l, 2);
    uint64_t now = c.election_deadline;
    tick(&c, now, &out);
    struct cons_msg m = mk(CONS_MSG_PREVOTE_RESP, 1, 0, 2);
    m.granted = true;
    recv_one(&c, now, m, &out);
    m = mk(CONS_MSG_VOTE_RESP, 1, 0, 2);
    m.granted = true;
    recv_one(&c, now, m, &out);
    assert_int_equal(c.role, CONS_LEADER);
    /* §3.5: nothing is known of the followers' logs: an empty APPEND after
     * the leader's last entry finds out at once. */
    for (int32_t i = 1; i <= 2; i++) {
        const struct cons_msg *p = find(&out, CONS_MSG_APPEND, i);
        assert_non_null(p);
        assert_int_equal(p->prev_index, 3);
        assert_int_equal(p->n_entries, 0);
    }
    recv_one(&c, now, append_resp(1, 2, true, 3, 3), &out);
    recv_one(&c, now, append_resp(2, 2, true, 3, 3), &out);
    /* Entry 3 is of term 1: not committed by counting (§3.6.2), and a
     * HEARTBEAT never carries more than the follower matched. */
    assert_int_equal(out.commit, 0);
    assert_int_equal(c.commit, 2);
    tick(&c, c.heartbeat_due, &out);
    assert_int_equal(find(&out, CONS_MSG_HEARTBEAT, 1)->commit, 2);
}

static void test_a_follower_commits_from_a_heartbeat_at_most_its_last_index(void **state)
{
    (void)state;
    static struct cl_log l;
    uint64_t t[] = {1, 1, 1};
    log_fill(&l, t, 3, 0);
    struct cons f;
    struct cons_out out;
    init_node(&f, 1, 3, 1, 0, 9);
    log_attach(&f, &l, 0);
    struct cons_msg hb = mk(CONS_MSG_HEARTBEAT, 0, 1, 1);
    hb.commit = 2;
    recv_one(&f, START, hb, &out);
    assert_int_equal(out.commit, 2);
    hb.commit = 10;
    recv_one(&f, START, hb, &out);
    assert_int_equal(out.commit, 3);
    assert_int_equal(f.commit, 3);
    hb.commit = 1; /* never backwards */
    recv_one(&f, START, hb, &out);
    assert_int_equal(out.commit, 0);
    assert_int_equal(f.commit, 3);
}

/* ---- elections and terms ------------------------------------------------ */

static void test_the_vote_restriction_keeps_a_node_with_a_shorter_log_from_winning(void **state)
{
    (void)state;
    static struct cluster cl;
    cl_init(&cl, 3, 10);
    int32_t first = 0;
    for (int32_t i = 1; i < 3; i++)
        if (cl.node[i].election_deadline < cl.node[first].election_deadline)
            first = i;
    /* The first to time out has only entry 1; the others have 1 and 2. */
    uint64_t t[] = {1, 1};
    for (int32_t i = 0; i < 3; i++) {
        log_fill(&cl.log[i], t, i == first ? 1 : 2, 0);
        log_attach(&cl.node[i], &cl.log[i], 0);
    }
    cl_run(&cl, cl.now + 4 * T_MS);
    int32_t lead = cl_leader(&cl);
    assert_true(lead != CONS_NONE && lead != first);
    assert_true(cl.sent[first][CONS_MSG_PREVOTE] > 0);
    assert_int_equal(cl.sent[first][CONS_MSG_VOTE], 0);
    /* And the new leader brings it up to date. */
    cl_propose(&cl, lead, 1, 5);
    cl_run(&cl, cl.now + 2 * HB_MS);
    assert_true(same_logs(&cl, lead, first));
    assert_int_equal(cl.node[first].commit, 3);
    cl_free(&cl);
}

static void test_an_append_from_a_stale_term_is_refused_with_the_current_term(void **state)
{
    (void)state;
    static struct cl_log l;
    uint64_t t[] = {1, 1};
    log_fill(&l, t, 2, 0);
    struct cons f;
    struct cons_out out;
    init_node(&f, 1, 3, 5, CONS_NONE, 9);
    recv_one(&f, START, append_msg(0, 1, 3, &l, 0, 2, 2), &out);
    const struct cons_msg *r = find(&out, CONS_MSG_APPEND_RESP, 0);
    assert_non_null(r);
    assert_false(r->granted);
    assert_int_equal(r->term, 5);
    assert_int_equal(out.append_count, 0);
    assert_int_equal(f.leader, CONS_NONE);
    assert_int_equal(f.commit, 0);
    /* And the stale leader steps down on it. */
    static struct cl_log ll;
    struct cons c;
    uint64_t now = lead_with_log(&c, 3, &ll);
    struct cons_msg back = *r;
    back.to = 0;
    recv_one(&c, now, back, &out);
    assert_int_equal(c.role, CONS_FOLLOWER);
    assert_int_equal(c.term, 5);
    assert_true(out.persist);
}

static void test_an_append_of_the_current_term_makes_a_candidate_follow(void **state)
{
    (void)state;
    static struct cl_log l;
    uint64_t t[] = {2};
    log_fill(&l, t, 1, 0);
    struct cons f;
    struct cons_out out;
    init_node(&f, 1, 3, 1, CONS_NONE, 9);
    tick(&f, f.election_deadline, &out); /* pre-candidate */
    struct cons_msg m = mk(CONS_MSG_PREVOTE_RESP, 2, 1, 2);
    m.granted = true;
    recv_one(&f, f.election_deadline, m, &out);
    assert_int_equal(f.role, CONS_CANDIDATE);
    recv_one(&f, f.election_deadline, append_msg(0, 1, 2, &l, 0, 1, 0), &out);
    assert_int_equal(f.role, CONS_FOLLOWER);
    assert_int_equal(f.leader, 0);
    assert_int_equal(out.append_count, 1);
    assert_true(find(&out, CONS_MSG_APPEND_RESP, 0)->granted);
}

static void test_malformed_entry_metadata_is_ignored(void **state)
{
    (void)state;
    static struct cl_log l;
    uint64_t t[] = {1, 1, 2, 2};
    log_fill(&l, t, 4, 0);
    static struct cons_entry bad[4];
    struct cons f;
    struct cons_out out;
    init_node(&f, 1, 3, 1, CONS_NONE, 9);
    struct cons_msg ms[6];
    ms[0] = append_msg(0, 1, 2, &l, 0, 4, 0);
    ms[0].entries = NULL; /* entries missing */
    static struct cl_log big;
    memset(&big, 0, sizeof(big));
    for (int k = 0; k <= CONS_MAX_BATCH; k++)
        log_push(&big, 1, 1);
    ms[1] = append_msg(0, 1, 2, &big, 0, CONS_MAX_BATCH + 1, 0); /* too many */
    memcpy(bad, &l.e[1], sizeof(bad));
    bad[2].index = 7; /* not contiguous */
    ms[2] = append_msg(0, 1, 2, &l, 0, 4, 0);
    ms[2].entries = bad;
    ms[3] = append_msg(0, 1, 1, &l, 0, 4, 0); /* entries of term 2 in an APPEND of term 1 */
    static struct cons_entry dec[2];
    memcpy(dec, &l.e[2], sizeof(dec));
    dec[0].term = 2;
    dec[1].term = 1; /* decreasing */
    ms[4] = append_msg(0, 1, 2, &l, 1, 2, 0);
    ms[4].entries = dec;
    ms[5] = append_msg(0, 1, 2, &l, 0, 0, 0);
    ms[5].prev_index = UINT64_MAX - 1;
    ms[5].n_entries = 2; /* past the last index */
    ms[5].entries = &l.e[1];
    for (size_t k = 0; k < 6; k++) {
        recv_one(&f, START, ms[k], &out);
        assert_int_equal(out.nmsgs, 0);
        assert_false(out.persist);
        assert_int_equal(out.append_count, 0);
        assert_int_equal(f.term, 1);
        assert_int_equal(f.leader, CONS_NONE);
    }
}

static void test_append_responses_count_for_check_quorum(void **state)
{
    (void)state;
    static struct cl_log l;
    struct cons c;
    struct cons_out out;
    uint64_t now = lead_with_log(&c, 3, &l);
    /* Only APPEND_RESPs from member 1 for 5 timeouts: still leader. */
    for (uint64_t k = 1; k <= 5 * T_MS / HB_MS; k++) {
        uint64_t at = now + k * HB_MS;
        log_push(&l, 1, k);
        cons_appended(&c, at, &l.e[k], &out);
        recv_one(&c, at, append_resp(1, 1, true, k - 1, k), &out);
        tick(&c, at, &out);
        assert_int_equal(c.role, CONS_LEADER);
        assert_false(cons_read_only(&c, at));
    }
    /* A refusal in this term is an answer too. */
    uint64_t at = now + 5 * T_MS + HB_MS;
    recv_one(&c, at, append_resp(1, 1, false, c.last_log_index, c.last_log_index - 1), &out);
    tick(&c, at + T_MS - 1, &out);
    assert_int_equal(c.role, CONS_LEADER);
    tick(&c, at + T_MS, &out);
    assert_int_equal(c.role, CONS_FOLLOWER);
}

/* ---- the whole thing under loss ----------------------------------------- */

/* Under partitions a deposed leader may not know it yet: the newest one. */
static int32_t newest_leader(const struct cluster *cl)
{
    int32_t who = CONS_NONE;
    for (int32_t i = 0; i < cl->n; i++)
        if (cl->node[i].role == CONS_LEADER &&
            (who == CONS_NONE || cl->node[i].term > cl->node[who].term))
            who = i;
    return who;
}

static void test_random_partitions_never_change_a_committed_entry(void **state)
{
    (void)state;
    static struct cluster cl;
    size_t truncations = 0, commits = 0;
    for (uint64_t seed = 1; seed <= 20; seed++) {
        int32_t n = seed % 2 ? 3 : 5;
        cl_init(&cl, n, seed * 101);
        uint64_t rng = seed;
        uint64_t tag = 1;
        for (int step = 0; step < 60; step++) {
            uint64_t r = mix64(++rng);
            if (r % 4 == 0) {
                int32_t x = (int32_t)((r >> 8) % (uint64_t)n);
                cl_isolate(&cl, x, (r >> 16) % 2);
            }
            int32_t lead = newest_leader(&cl);
            if (lead != CONS_NONE && cl.log[lead].len + 20 < CL_LOG)
                cl_propose(&cl, lead, 1 + (r >> 24) % 10, tag++);
            cl_run(&cl, cl.now + HB_MS / 2 + (r >> 32) % T_MS);
        }
        for (int32_t i = 0; i < n; i++)
            cl_isolate(&cl, i, false);
        cl_run(&cl, cl.now + 4 * T_MS);
        int32_t lead = cl_leader(&cl);
        assert_true(lead != CONS_NONE);
        cl_propose(&cl, lead, 1, tag++);
        cl_run(&cl, cl.now + 4 * T_MS);
        for (int32_t i = 0; i < n; i++) {
            assert_true(same_logs(&cl, lead, i));
            assert_int_equal(cl.node[i].commit, cl.log[lead].len);
        }
        truncations += cl.truncations;
        commits += cl.ncommitted;
        cl_free(&cl);
    }
    /* The schedules did exercise conflicts. */
    assert_true(truncations > 0);
    assert_true(commits > 1000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_leader_replicates_entries_and_commits_by_majority),
        cmocka_unit_test(test_a_single_node_commits_at_once_on_appended),
        cmocka_unit_test(test_appended_is_ignored_unless_leader_of_that_term),
        cmocka_unit_test(
            test_a_follower_behind_refuses_with_its_last_index_and_the_leader_backs_off_in_one_step),
        cmocka_unit_test(test_a_mismatch_is_refused_with_a_hint_before_the_conflicting_term),
        cmocka_unit_test(test_a_late_refusal_restarts_from_the_known_match_not_below),
        cmocka_unit_test(test_a_conflicting_uncommitted_suffix_is_truncated_and_replaced),
        cmocka_unit_test(test_an_append_that_would_replace_a_committed_entry_is_ignored),
        cmocka_unit_test(test_entries_already_present_are_skipped_and_later_ones_kept),
        cmocka_unit_test(test_only_the_entries_beyond_the_log_are_appended),
        cmocka_unit_test(test_a_follower_that_was_down_catches_up_through_heartbeats),
        cmocka_unit_test(test_a_wiped_follower_catches_up_once_the_leader_learns_it_restarted),
        cmocka_unit_test(test_on_a_heartbeat_a_lagging_follower_gets_a_probe_instead),
        cmocka_unit_test(test_an_append_resp_echoes_the_prev_index_of_the_append_it_answers),
        cmocka_unit_test(test_a_refusal_of_an_append_after_the_pipeline_head_does_not_rewind),
        cmocka_unit_test(test_a_refusal_from_before_the_last_rewind_is_ignored),
        cmocka_unit_test(test_a_refusal_hint_below_the_known_match_does_not_refill_the_pipeline),
        cmocka_unit_test(test_a_rewind_sends_no_more_than_the_room_left_by_appends_in_flight),
        cmocka_unit_test(test_a_refused_append_is_resent_once_the_follower_reaches_its_start),
        cmocka_unit_test(test_a_pipeline_answered_short_of_its_end_is_resent_from_the_match),
        cmocka_unit_test(test_duplicated_refusals_resend_a_drained_pipeline_once_per_interval),
        cmocka_unit_test(test_a_heartbeat_does_not_probe_a_follower_whose_pipeline_is_answering),
        cmocka_unit_test(test_a_heartbeat_right_after_entries_were_sent_does_not_probe),
        cmocka_unit_test(test_a_silent_follower_gets_only_probes_until_it_answers),
        cmocka_unit_test(test_the_answer_to_a_probe_reopens_the_whole_window),
        cmocka_unit_test(test_several_appends_are_in_flight_before_any_answer_up_to_max_inflight),
        cmocka_unit_test(test_batches_are_bounded_by_max_batch),
        cmocka_unit_test(
            test_entries_that_come_while_an_append_is_unanswered_wait_and_then_go_together),
        cmocka_unit_test(test_a_full_batch_does_not_wait_for_the_append_ahead_of_it),
        cmocka_unit_test(
            test_a_backlog_goes_as_full_batches_and_its_remainder_waits_for_the_answers),
        cmocka_unit_test(
            test_entries_held_behind_a_lost_answer_go_once_the_second_heartbeats_probe_is_answered),
        cmocka_unit_test(
            test_an_answer_for_everything_sent_lets_held_entries_go_though_an_earlier_one_was_lost),
        cmocka_unit_test(test_a_commit_notice_in_flight_does_not_hold_back_the_next_entries),
        cmocka_unit_test(test_a_transfer_sends_its_target_the_entries_held_for_it_at_once),
        cmocka_unit_test(test_a_leader_with_many_followers_never_overflows_out),
        cmocka_unit_test(test_a_leader_never_commits_an_older_term_entry_by_counting_replicas),
        cmocka_unit_test(test_heartbeat_commit_never_exceeds_what_the_follower_matched),
        cmocka_unit_test(
            test_a_new_leader_probes_followers_and_heartbeats_carry_no_unverified_commit),
        cmocka_unit_test(test_a_follower_commits_from_a_heartbeat_at_most_its_last_index),
        cmocka_unit_test(test_the_vote_restriction_keeps_a_node_with_a_shorter_log_from_winning),
        cmocka_unit_test(test_an_append_from_a_stale_term_is_refused_with_the_current_term),
        cmocka_unit_test(test_an_append_of_the_current_term_makes_a_candidate_follow),
        cmocka_unit_test(test_malformed_entry_metadata_is_ignored),
        cmocka_unit_test(test_append_responses_count_for_check_quorum),
        cmocka_unit_test(test_random_partitions_never_change_a_committed_entry),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
