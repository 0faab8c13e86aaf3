/* Which peers get a hello on a tick (base/peers.h: peers_hello_due): one
 * message per peer per heartbeat interval, restarts still told until the
 * peer shows it knows, and a peer of an earlier version hello'd every tick. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "node/base/peers.h"

#define HB 50
#define T0 100000

static struct peers p;

static void init_peers(struct peers *ps, int self)
{
    struct config cfg;
    memset(&cfg, 0, sizeof(cfg));
    snprintf(cfg.id, sizeof(cfg.id), "n%d", self + 1);
    cfg.nmembers = 3;
    for (int i = 0; i < 3; i++) {
        snprintf(cfg.members[i].id, sizeof(cfg.members[i].id), "n%d", i + 1);
        snprintf(cfg.members[i].url, sizeof(cfg.members[i].url), "tcp://127.0.0.1:%d", 7101 + i);
    }
    cfg.suspect_after_ms = 3 * HB;
    cfg.dead_after_ms = 20 * HB;
    peers_init(ps, &cfg, T0);
}

static int setup(void **state)
{
    (void)state;
    init_peers(&p, 0);
    return 0;
}

/* Member 1 has shown it knows this node's epoch (7) and wants nothing. */
static void settled(size_t idx)
{
    struct peer_hello h = {.boot = 9, .has_handshake = true, .knows = 7, .wants_answer = false};
    peers_hello_heard(&p, idx, &h, 7);
}

static void test_self_never_gets_a_hello(void **state)
{
    (void)state;
    assert_false(peers_hello_due(&p, 0, T0, HB));
}

static void test_a_peer_not_yet_shown_to_know_this_node_gets_one_every_tick(void **state)
{
    (void)state;
    peers_sent(&p, 1, false, T0); /* Raft's traffic does not tell it our epoch */
    for (uint64_t t = T0; t < T0 + 10 * HB; t += HB) {
        assert_true(peers_hello_due(&p, 1, t, HB));
        peers_sent(&p, 1, true, t);
    }
}

static void test_a_peer_that_knows_and_got_rafts_heartbeat_gets_no_hello(void **state)
{
    (void)state;
    settled(1);
    for (uint64_t t = T0; t < T0 + 20 * HB; t += HB) {
        peers_sent(&p, 1, false, t + 13); /* a heartbeat, out of phase with the tick */
        assert_false(peers_hello_due(&p, 1, t + HB, HB));
    }
}

static void test_a_raft_heartbeat_late_by_less_than_half_an_interval_still_covers(void **state)
{
    (void)state;
    settled(1);
    peers_sent(&p, 1, false, T0);
    assert_false(peers_hello_due(&p, 1, T0 + HB + HB / 2 - 1, HB));
    assert_true(peers_hello_due(&p, 1, T0 + HB + HB / 2, HB));
}

static void test_a_peer_that_gets_only_hellos_gets_one_every_tick(void **state)
{
    (void)state;
    settled(2);
    for (uint64_t t = T0; t < T0 + 10 * HB; t += HB) {
        assert_true(peers_hello_due(&p, 2, t, HB));
        peers_sent(&p, 2, true, t);
    }
}

static void test_a_hello_that_asks_is_answered_once(void **state)
{
    (void)state;
    settled(1);
    peers_sent(&p, 1, false, T0);
    struct peer_hello h = {.boot = 9, .has_handshake = true, .knows = 7, .wants_answer = true};
    peers_hello_heard(&p, 1, &h, 7);
    assert_true(peers_hello_due(&p, 1, T0 + 1, HB));
    peers_sent(&p, 1, true, T0 + 1);
    assert_false(peers_hello_due(&p, 1, T0 + 2, HB));
}

static void test_a_restarted_peer_gets_hellos_until_it_shows_it_knows(void **state)
{
    (void)state;
    settled(1);
    peers_sent(&p, 1, false, T0);
    struct peer_hello fresh = {.boot = 10, .has_handshake = true, .knows = 0, .wants_answer = true};
    peers_hello_heard(&p, 1, &fresh, 7);
    assert_true(peers_hello_wants_answer(&p, 1));
    for (uint64_t t = T0 + 1; t < T0 + 5 * HB; t += HB) {
        peers_sent(&p, 1, false, t);
        assert_true(peers_hello_due(&p, 1, t + 1, HB));
        peers_sent(&p, 1, true, t + 1);
    }
    struct peer_hello knows = {
        .boot = 10, .has_handshake = true, .knows = 7, .wants_answer = false};
    peers_hello_heard(&p, 1, &knows, 7);
    assert_false(peers_hello_wants_answer(&p, 1));
    peers_sent(&p, 1, false, T0 + 5 * HB);
    assert_false(peers_hello_due(&p, 1, T0 + 5 * HB + 1, HB));
}

static void test_a_peer_of_an_earlier_version_gets_one_every_tick(void **state)
{
    (void)state;
    struct peer_hello old = {.boot = 9}; /* [boot, http, key]: no handshake */
    peers_hello_heard(&p, 1, &old, 7);
    for (uint64_t t = T0; t < T0 + 10 * HB; t += HB) {
        peers_sent(&p, 1, false, t);
        assert_true(peers_hello_due(&p, 1, t + 1, HB));
        peers_sent(&p, 1, true, t + 1);
    }
}

/* ---- two nodes exchanging hellos ---- */

/* Node a (member 0) and node b (member 1) of the same 3-member federation:
 * Raft traffic flows both ways every interval (a leader and a follower),
 * hellos as the rule says, some lost. */
struct side {
    struct peers ps;
    uint64_t boot;
    size_t me, other;
};

static int hellos_sent;

/* a's tick: sends b a hello when due; delivered unless lost. */
static void tick(struct side *a, struct side *b, uint64_t now, bool lost)
{
    if (!peers_hello_due(&a->ps, a->other, now, HB))
        return;
    hellos_sent++;
    struct peer_hello h = {.boot = a->boot,
                           .has_handshake = true,
                           .knows = a->ps.m[a->other].boot,
                           .wants_answer = peers_hello_wants_answer(&a->ps, a->other)};
    peers_sent(&a->ps, a->other, true, now);
    if (lost)
        return;
    b->ps.m[b->other].boot = h.boot; /* what node_msg.c's on_hello records */
    peers_hello_heard(&b->ps, b->other, &h, b->boot);
}

static void start(struct side *s, int self, uint64_t boot)
{
    init_peers(&s->ps, self);
    s->boot = boot;
    s->me = (size_t)self;
    s->other = (size_t)(1 - self);
}

/* Runs intervals [from, to) with Raft's message each way every interval;
 * lose(k) says whether the k-th hello sent is lost. Returns hellos sent. */
static int run(struct side *a, struct side *b, int from, int to, bool (*lose)(int k))
{
    int before = hellos_sent;
    for (int i = from; i < to; i++) {
        uint64_t t = T0 + (uint64_t)i * HB;
        peers_sent(&a->ps, a->other, false, t + 20); /* a leads: its heartbeat */
        peers_sent(&b->ps, b->other, false, t + 21); /* b answers */
        tick(a, b, t, lose(hellos_sent));
        tick(b, a, t + 7, lose(hellos_sent));
    }
    return hellos_sent - before;
}

static bool never(int k)
{
    (void)k;
    return false;
}

/* Not every other: with both sides sending each interval, that would lose
 * all of one side's hellos, a cut link rather than losses. */
static bool every_third(int k)
{
    return k % 3 == 0;
}

static void test_after_a_start_hellos_stop_once_both_know(void **state)
{
    (void)state;
    struct side a, b;
    start(&a, 0, 7);
    start(&b, 1, 9);
    hellos_sent = 0;
    assert_true(run(&a, &b, 0, 5, never) > 0);
    assert_int_equal(run(&a, &b, 5, 100, never), 0); /* then Raft's messages alone */
    assert_true(a.ps.m[1].boot == 9 && b.ps.m[0].boot == 7);
}

static void test_a_restart_is_learnt_and_the_exchange_ends_even_with_losses(void **state)
{
    (void)state;
    struct side a, b;
    start(&a, 0, 7);
    start(&b, 1, 9);
    hellos_sent = 0;
    run(&a, &b, 0, 5, never);
    start(&b, 1, 11); /* b restarts: it knows nothing, a still has epoch 9 */
    run(&a, &b, 5, 25, every_third);
    assert_true(a.ps.m[1].boot == 11); /* the restart is learnt */
    assert_true(b.ps.m[0].boot == 7);
    assert_int_equal(run(&a, &b, 25, 100, every_third), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_self_never_gets_a_hello, setup),
        cmocka_unit_test_setup(test_a_peer_not_yet_shown_to_know_this_node_gets_one_every_tick,
                               setup),
        cmocka_unit_test_setup(test_a_peer_that_knows_and_got_rafts_heartbeat_gets_no_hello, setup),
        cmocka_unit_test_setup(
            test_a_raft_heartbeat_late_by_less_than_half_an_interval_still_covers, setup),
        cmocka_unit_test_setup(test_a_peer_that_gets_only_hellos_gets_one_every_tick, setup),
        cmocka_unit_test_setup(test_a_hello_that_asks_is_answered_once, setup),
        cmocka_unit_test_setup(test_a_restarted_peer_gets_hellos_until_it_shows_it_knows, setup),
        cmocka_unit_test_setup(test_a_peer_of_an_earlier_version_gets_one_every_tick, setup),
        cmocka_unit_test(test_after_a_start_hellos_stop_once_both_know),
        cmocka_unit_test(test_a_restart_is_learnt_and_the_exchange_ends_even_with_losses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
