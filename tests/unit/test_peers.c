/* Peer liveness: alive, suspect and dead by missed heartbeats. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "node/base/peers.h"

static struct config cfg;
static struct peers p;

static int setup(void **state)
{
    (void)state;
    memset(&cfg, 0, sizeof(cfg));
    snprintf(cfg.id, sizeof(cfg.id), "n1");
    snprintf(cfg.http, sizeof(cfg.http), "127.0.0.1:8101");
    cfg.nmembers = 3;
    for (int i = 0; i < 3; i++) {
        snprintf(cfg.members[i].id, sizeof(cfg.members[i].id), "n%d", i + 1);
        snprintf(cfg.members[i].url, sizeof(cfg.members[i].url), "tcp://127.0.0.1:%d", 7101 + i);
    }
    cfg.suspect_after_ms = 150;
    cfg.dead_after_ms = 1000;
    peers_init(&p, &cfg, 10000);
    return 0;
}

static void test_self_is_alive_from_the_start(void **state)
{
    (void)state;
    assert_int_equal(p.self, 0);
    assert_int_equal(p.m[0].status, PEER_ALIVE);
    assert_string_equal(p.m[0].http, "127.0.0.1:8101");
    assert_int_equal(peers_age_ms(&p, 0, 99999), 0);
}

static void test_members_never_heard_are_dead_with_no_contact_age(void **state)
{
    (void)state;
    assert_int_equal(p.m[1].status, PEER_DEAD);
    assert_int_equal(peers_age_ms(&p, 1, 10500), -1);
    assert_int_equal(p.m[1].status, PEER_DEAD);
    assert_int_equal(p.m[2].status, PEER_DEAD);
}

static void test_a_heartbeat_makes_a_member_alive_and_reports_the_change(void **state)
{
    (void)state;
    struct peer_change c;
    assert_true(peers_heard(&p, 1, 10010, &c));
    assert_int_equal(c.idx, 1);
    assert_int_equal(c.from, PEER_DEAD);
    assert_int_equal(c.to, PEER_ALIVE);
    assert_false(peers_heard(&p, 1, 10060, &c));
    assert_int_equal(peers_age_ms(&p, 1, 10100), 40);
}

static void test_missed_heartbeats_make_a_member_suspect_then_dead(void **state)
{
    (void)state;
    struct peer_change c, out[4];
    peers_heard(&p, 2, 10000, &c);
    assert_int_equal(peers_tick(&p, 10150, out, 4), 0);
    assert_int_equal(peers_tick(&p, 10151, out, 4), 1);
    assert_int_equal(out[0].idx, 2);
    assert_int_equal(out[0].to, PEER_SUSPECT);
    assert_int_equal(peers_tick(&p, 11000, out, 4), 0);
    assert_int_equal(peers_tick(&p, 11001, out, 4), 1);
    assert_int_equal(out[0].from, PEER_SUSPECT);
    assert_int_equal(out[0].to, PEER_DEAD);
}

static void test_a_dead_member_heard_again_is_alive(void **state)
{
    (void)state;
    struct peer_change c, out[4];
    peers_heard(&p, 1, 10000, &c);
    peers_tick(&p, 20000, out, 4);
    assert_int_equal(p.m[1].status, PEER_DEAD);
    assert_true(peers_heard(&p, 1, 20001, &c));
    assert_int_equal(c.from, PEER_DEAD);
    assert_int_equal(c.to, PEER_ALIVE);
}

static void test_a_long_silence_skips_suspect_and_reports_dead_once(void **state)
{
    (void)state;
    struct peer_change c, out[4];
    peers_heard(&p, 1, 10000, &c);
    assert_int_equal(peers_tick(&p, 15000, out, 4), 1);
    assert_int_equal(out[0].from, PEER_ALIVE);
    assert_int_equal(out[0].to, PEER_DEAD);
    assert_int_equal(peers_tick(&p, 16000, out, 4), 0);
}

static void test_a_late_heartbeat_does_not_move_last_contact_back(void **state)
{
    (void)state;
    struct peer_change c;
    peers_heard(&p, 1, 10500, &c);
    peers_heard(&p, 1, 10400, &c);
    assert_int_equal(peers_age_ms(&p, 1, 10600), 100);
}

static void test_find_returns_the_member_index_or_minus_one(void **state)
{
    (void)state;
    assert_int_equal(peers_find(&p, "n3"), 2);
    assert_int_equal(peers_find(&p, "n4"), -1);
    assert_string_equal(peer_status_name(PEER_SUSPECT), "suspect");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_self_is_alive_from_the_start, setup),
        cmocka_unit_test_setup(test_members_never_heard_are_dead_with_no_contact_age, setup),
        cmocka_unit_test_setup(test_a_heartbeat_makes_a_member_alive_and_reports_the_change, setup),
        cmocka_unit_test_setup(test_missed_heartbeats_make_a_member_suspect_then_dead, setup),
        cmocka_unit_test_setup(test_a_dead_member_heard_again_is_alive, setup),
        cmocka_unit_test_setup(test_a_long_silence_skips_suspect_and_reports_dead_once, setup),
        cmocka_unit_test_setup(test_a_late_heartbeat_does_not_move_last_contact_back, setup),
        cmocka_unit_test_setup(test_find_returns_the_member_index_or_minus_one, setup),
    };
    return cmocka_run_group_tests_name("peers", tests, NULL, NULL);
}
