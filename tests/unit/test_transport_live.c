/* When the transport closes its connection to a peer so that NNG redials it
 * (node/net/transport_live.h). Times in ms; STALE is the window. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "node/net/transport_live.h"

#define STALE 1200
#define T0 10000 /* our connection opened */

/* Sends to the peer and hears it on connection conn every 100 ms. */
static void talk(struct transport_live *l, uint32_t conn, uint64_t from, uint64_t to)
{
    for (uint64_t t = from; t <= to; t += 100) {
        transport_live_sent(l, t);
        transport_live_heard(l, conn, t, STALE);
    }
}

/* A settled conversation: connected at T0, talking on connection 7 until at. */
static struct transport_live talking_until(uint64_t at)
{
    struct transport_live l = {0};
    transport_live_up(&l, T0);
    talk(&l, 7, T0, at);
    return l;
}

/* Keeps sending to the peer until at without hearing it. */
static void send_until(struct transport_live *l, uint64_t from, uint64_t at)
{
    for (uint64_t t = from; t <= at; t += 100)
        transport_live_sent(l, t);
}

static void test_a_conversation_in_both_directions_is_kept(void **state)
{
    (void)state;
    struct transport_live l = talking_until(T0 + 10 * STALE);
    assert_int_equal(transport_live_check(&l, T0 + 10 * STALE + 50, STALE), TRANSPORT_LIVE_KEEP);
}

static void test_silence_for_the_window_while_sending_closes(void **state)
{
    (void)state;
    struct transport_live l = talking_until(T0 + 5000);
    send_until(&l, T0 + 5100, T0 + 5000 + STALE);
    assert_int_equal(transport_live_check(&l, T0 + 5000 + STALE, STALE), TRANSPORT_LIVE_SILENT);
}

static void test_silence_shorter_than_the_window_is_kept(void **state)
{
    (void)state;
    struct transport_live l = talking_until(T0 + 5000);
    send_until(&l, T0 + 5100, T0 + 5000 + STALE - 1);
    assert_int_equal(transport_live_check(&l, T0 + 5000 + STALE - 1, STALE), TRANSPORT_LIVE_KEEP);
}

static void test_silence_while_not_sending_is_kept(void **state)
{
    (void)state;
    struct transport_live l = talking_until(T0 + 5000); /* then nothing either way */
    assert_int_equal(transport_live_check(&l, T0 + 5000 + 3 * STALE, STALE), TRANSPORT_LIVE_KEEP);
}

static void test_a_connection_younger_than_the_window_is_kept(void **state)
{
    (void)state;
    struct transport_live l = {0};
    transport_live_up(&l, T0);
    send_until(&l, T0, T0 + STALE - 1);
    assert_int_equal(transport_live_check(&l, T0 + STALE - 1, STALE), TRANSPORT_LIVE_KEEP);
}

static void test_a_peer_never_heard_on_a_settled_connection_closes(void **state)
{
    (void)state;
    struct transport_live l = {0};
    transport_live_up(&l, T0);
    send_until(&l, T0, T0 + STALE);
    assert_int_equal(transport_live_check(&l, T0 + STALE, STALE), TRANSPORT_LIVE_SILENT);
}

static void test_silence_counts_from_the_redial_not_from_the_last_message(void **state)
{
    (void)state;
    struct transport_live l = talking_until(T0 + 5000);
    transport_live_down(&l);
    transport_live_up(&l, T0 + 9000); /* redialed long after */
    send_until(&l, T0 + 9000, T0 + 9000 + STALE - 1);
    assert_int_equal(transport_live_check(&l, T0 + 9000 + STALE - 1, STALE), TRANSPORT_LIVE_KEEP);
    transport_live_sent(&l, T0 + 9000 + STALE);
    assert_int_equal(transport_live_check(&l, T0 + 9000 + STALE, STALE), TRANSPORT_LIVE_SILENT);
}

static void test_a_closed_connection_is_left_to_the_dialer(void **state)
{
    (void)state;
    struct transport_live l = talking_until(T0 + 5000);
    transport_live_down(&l);
    send_until(&l, T0 + 5100, T0 + 5000 + 3 * STALE);
    assert_int_equal(transport_live_check(&l, T0 + 5000 + 3 * STALE, STALE), TRANSPORT_LIVE_KEEP);
}

static void test_the_peer_redialing_us_while_ours_is_settled_closes_ours(void **state)
{
    (void)state;
    struct transport_live l = talking_until(T0 + 5000);
    transport_live_heard(&l, 8, T0 + 5100, STALE); /* we still hear it: on a new connection */
    assert_int_equal(transport_live_check(&l, T0 + 5100, STALE), TRANSPORT_LIVE_PEER_REDIALED);
}

static void test_the_peer_redialing_in_answer_to_our_redial_is_kept(void **state)
{
    (void)state;
    struct transport_live l = talking_until(T0 + 5000);
    transport_live_down(&l);
    transport_live_up(&l, T0 + 5100);              /* we redialed */
    transport_live_heard(&l, 8, T0 + 5300, STALE); /* it answers by redialing */
    talk(&l, 8, T0 + 5300, T0 + 5100 + 3 * STALE);
    assert_int_equal(transport_live_check(&l, T0 + 5100 + 3 * STALE, STALE), TRANSPORT_LIVE_KEEP);
}

static void test_our_redial_answers_the_peers_redial(void **state)
{
    (void)state;
    struct transport_live l = talking_until(T0 + 5000);
    transport_live_heard(&l, 8, T0 + 5100, STALE);
    transport_live_down(&l);
    transport_live_up(&l, T0 + 5200);
    talk(&l, 8, T0 + 5200, T0 + 5200 + 2 * STALE);
    assert_int_equal(transport_live_check(&l, T0 + 5200 + 2 * STALE, STALE), TRANSPORT_LIVE_KEEP);
}

static void test_the_first_connection_the_peer_is_heard_on_is_no_redial(void **state)
{
    (void)state;
    struct transport_live l = {0};
    transport_live_up(&l, T0);
    transport_live_sent(&l, T0 + 2 * STALE);
    transport_live_heard(&l, 7, T0 + 2 * STALE, STALE);
    assert_int_equal(transport_live_check(&l, T0 + 2 * STALE, STALE), TRANSPORT_LIVE_KEEP);
}

static void test_silence_is_measured_from_the_later_of_heard_and_opened(void **state)
{
    (void)state;
    struct transport_live l = talking_until(T0 + 5000);
    assert_int_equal(transport_live_silent_ms(&l, T0 + 6200), 1200);
    transport_live_down(&l);
    transport_live_up(&l, T0 + 6000);
    assert_int_equal(transport_live_silent_ms(&l, T0 + 6200), 200);
}

/* A peer heard while our connection to it is down is back: redial now. */
static void test_hearing_a_peer_while_our_connection_is_down_redials_it(void **state)
{
    (void)state;
    struct transport_live l = talking_until(T0 + 5000);
    transport_live_down(&l); /* it died; our dialer backs off */
    assert_true(transport_live_redial_on_heard(&l, T0 + 5100, TRANSPORT_LIVE_REDIAL_MIN_MS));
}

static void test_hearing_a_peer_on_an_open_connection_redials_nothing(void **state)
{
    (void)state;
    struct transport_live l = talking_until(T0 + 5000);
    assert_false(transport_live_redial_on_heard(&l, T0 + 5100, TRANSPORT_LIVE_REDIAL_MIN_MS));
}

/* A flood of messages while the redial connects. */
static void test_a_second_redial_waits_the_minimum(void **state)
{
    (void)state;
    struct transport_live l = {0};
    assert_true(transport_live_redial_on_heard(&l, T0, TRANSPORT_LIVE_REDIAL_MIN_MS));
    assert_false(transport_live_redial_on_heard(&l, T0 + TRANSPORT_LIVE_REDIAL_MIN_MS - 1,
                                                TRANSPORT_LIVE_REDIAL_MIN_MS));
    assert_true(transport_live_redial_on_heard(&l, T0 + TRANSPORT_LIVE_REDIAL_MIN_MS,
                                               TRANSPORT_LIVE_REDIAL_MIN_MS));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_conversation_in_both_directions_is_kept),
        cmocka_unit_test(test_silence_for_the_window_while_sending_closes),
        cmocka_unit_test(test_silence_shorter_than_the_window_is_kept),
        cmocka_unit_test(test_silence_while_not_sending_is_kept),
        cmocka_unit_test(test_a_connection_younger_than_the_window_is_kept),
        cmocka_unit_test(test_a_peer_never_heard_on_a_settled_connection_closes),
        cmocka_unit_test(test_silence_counts_from_the_redial_not_from_the_last_message),
        cmocka_unit_test(test_a_closed_connection_is_left_to_the_dialer),
        cmocka_unit_test(test_the_peer_redialing_us_while_ours_is_settled_closes_ours),
        cmocka_unit_test(test_the_peer_redialing_in_answer_to_our_redial_is_kept),
        cmocka_unit_test(test_our_redial_answers_the_peers_redial),
        cmocka_unit_test(test_the_first_connection_the_peer_is_heard_on_is_no_redial),
        cmocka_unit_test(test_silence_is_measured_from_the_later_of_heard_and_opened),
        cmocka_unit_test(test_hearing_a_peer_while_our_connection_is_down_redials_it),
        cmocka_unit_test(test_hearing_a_peer_on_an_open_connection_redials_nothing),
        cmocka_unit_test(test_a_second_redial_waits_the_minimum),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
