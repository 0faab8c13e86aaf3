/* The event ring: ordering, wrap-around, queries, and the drop limiter. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <string.h>

#include "node/base/events.h"

static struct events ev; /* large: keep it off the stack */

static void add_n(size_t n)
{
    for (size_t i = 0; i < n; i++)
        events_add(&ev, 1000 + (int64_t)i, "test.kind", NULL, "event %zu", i + 1);
}

static int setup(void **state)
{
    (void)state;
    events_init(&ev, "n1");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    events_free(&ev);
    return 0;
}

static void test_sequence_numbers_start_at_one_and_grow(void **state)
{
    (void)state;
    add_n(3);
    const struct event *out[3];
    assert_int_equal(events_query(&ev, false, 0, 10, out), 3);
    assert_int_equal(out[0]->seq, 1);
    assert_int_equal(out[2]->seq, 3);
    assert_string_equal(out[0]->node, "n1");
    assert_string_equal(out[1]->message, "event 2");
}

static void test_without_since_returns_the_newest_oldest_first(void **state)
{
    (void)state;
    add_n(10);
    const struct event *out[4];
    assert_int_equal(events_query(&ev, false, 0, 4, out), 4);
    assert_int_equal(out[0]->seq, 7);
    assert_int_equal(out[3]->seq, 10);
}

static void test_since_returns_the_first_events_after_it(void **state)
{
    (void)state;
    add_n(10);
    const struct event *out[3];
    assert_int_equal(events_query(&ev, true, 4, 3, out), 3);
    assert_int_equal(out[0]->seq, 5);
    assert_int_equal(out[2]->seq, 7);
}

static void test_since_at_the_newest_returns_nothing(void **state)
{
    (void)state;
    add_n(5);
    const struct event *out[5];
    assert_int_equal(events_query(&ev, true, 5, 5, out), 0);
    assert_int_equal(events_query(&ev, true, 99, 5, out), 0);
}

static void test_ring_keeps_only_the_last_capacity_events(void **state)
{
    (void)state;
    add_n(EVENTS_CAPACITY + 250);
    assert_int_equal(events_count(&ev), EVENTS_CAPACITY);
    static const struct event *out[EVENTS_CAPACITY];
    assert_int_equal(events_query(&ev, true, 0, EVENTS_CAPACITY, out), EVENTS_CAPACITY);
    assert_int_equal(out[0]->seq, 251);
    assert_int_equal(out[EVENTS_CAPACITY - 1]->seq, EVENTS_CAPACITY + 250);
}

static void test_since_older_than_the_ring_starts_at_the_oldest_held(void **state)
{
    (void)state;
    add_n(EVENTS_CAPACITY + 10);
    const struct event *out[2];
    assert_int_equal(events_query(&ev, true, 3, 2, out), 2);
    assert_int_equal(out[0]->seq, 11);
}

static void test_limit_is_clamped_to_capacity(void **state)
{
    (void)state;
    add_n(EVENTS_CAPACITY + 1);
    static const struct event *out[EVENTS_CAPACITY];
    assert_int_equal(events_query(&ev, false, 0, 5000, out), EVENTS_CAPACITY);
}

/* A health check's whole detail, as /deployments gives it, with the
 * member and the release before it: an event holds it whole. */
static void test_a_long_text_is_kept_whole(void **state)
{
    (void)state;
    char detail[900];
    memset(detail, 'x', sizeof(detail) - 1);
    detail[sizeof(detail) - 1] = '\0';
    const struct event *e = events_add(&ev, 1, "release.unhealthy", "n2", "n2: %s", detail);
    assert_int_equal(strlen(e->message), strlen("n2: ") + strlen(detail));
    assert_string_equal(e->message + strlen("n2: "), detail);
    assert_string_equal(e->peer, "n2");
}

static void test_a_text_longer_than_an_event_holds_is_cut_visibly(void **state)
{
    (void)state;
    static char big[3 * EVENTS_MESSAGE_MAX];
    memset(big, 'x', sizeof(big) - 1);
    const struct event *e = events_add(&ev, 1, "k", NULL, "%s", big);
    size_t n = strlen(e->message);
    assert_int_equal(n, EVENTS_MESSAGE_MAX - 1);
    assert_string_equal(e->message + n - 3, "...");
    assert_memory_equal(e->message, big, n - 3);
}

/* A text cut inside a character would not be UTF-8: /events could not
 * give the event as a JSON string. */
static void test_a_cut_text_keeps_whole_utf8_characters(void **state)
{
    (void)state;
    static char accents[EVENTS_MESSAGE_MAX + 200];
    for (size_t k = 0; k + 2 < sizeof(accents); k += 2)
        memcpy(accents + k, "\xc3\xa9", 2); /* é */
    /* "a" first: the room ends inside an "é" */
    const struct event *e = events_add(&ev, 1, "k", NULL, "a%s", accents);
    size_t n = strlen(e->message);
    assert_string_equal(e->message + n - 3, "...");
    assert_int_equal(n - 3, EVENTS_MESSAGE_MAX - 5); /* one byte less than the room */
    assert_memory_equal(e->message + 1, accents, n - 4);
    json_t *j = json_string(e->message);
    assert_non_null(j); /* UTF-8, as /events and the log need it */
    json_decref(j);
}

/* A request's path cut by "%.Ns" inside a character (api.auth_failure),
 * or bytes that were never UTF-8: the event is still a JSON string, so
 * /events and the stream give it. */
static void test_a_text_that_is_not_utf8_is_stored_with_question_marks(void **state)
{
    (void)state;
    const struct event *e = events_add(&ev, 1, "api.auth_failure", NULL,
                                       "POST %.5s without a bearer token", "/x\xc3\xa9\xc3\xa9");
    assert_string_equal(e->message, "POST /x\xc3\xa9? without a bearer token");
    json_t *j = json_string(e->message);
    assert_non_null(j);
    json_decref(j);
    e = events_add(&ev, 1, "k", NULL, "%s", "a\xff");
    assert_string_equal(e->message, "a?");
}

/* A peer's name off the wire, or one the copy cut inside a character:
 * the event's peer is a JSON string too. */
static void test_a_peer_that_is_not_utf8_is_stored_with_question_marks(void **state)
{
    (void)state;
    const struct event *e = events_add(&ev, 1, "peer.dead",
                                       "n\xff"
                                       "2",
                                       "gone");
    assert_string_equal(e->peer, "n?2");
}

static void test_an_overwritten_event_gives_its_room_back(void **state)
{
    (void)state;
    static char big[EVENTS_MESSAGE_MAX];
    memset(big, 'x', sizeof(big) - 1);
    events_add(&ev, 1, "k", NULL, "%s", big);
    add_n(EVENTS_CAPACITY); /* the sanitized build's leak check sees the first text freed */
    const struct event *out[1];
    assert_int_equal(events_query(&ev, true, 0, 1, out), 1);
    assert_string_equal(out[0]->message, "event 1");
}

static void test_limiter_allows_one_per_interval_and_counts_the_rest(void **state)
{
    (void)state;
    struct events_limiter l = {0};
    uint64_t held = 99;
    assert_true(events_limiter_allow(&l, 1000, 5000, &held));
    assert_int_equal(held, 0);
    assert_false(events_limiter_allow(&l, 2000, 5000, &held));
    assert_false(events_limiter_allow(&l, 5999, 5000, &held));
    assert_true(events_limiter_allow(&l, 6000, 5000, &held));
    assert_int_equal(held, 2);
    assert_false(events_limiter_allow(&l, 6001, 5000, &held));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sequence_numbers_start_at_one_and_grow, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_without_since_returns_the_newest_oldest_first, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_since_returns_the_first_events_after_it, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_since_at_the_newest_returns_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ring_keeps_only_the_last_capacity_events, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_since_older_than_the_ring_starts_at_the_oldest_held,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_limit_is_clamped_to_capacity, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_long_text_is_kept_whole, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_text_longer_than_an_event_holds_is_cut_visibly,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_cut_text_keeps_whole_utf8_characters, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_a_text_that_is_not_utf8_is_stored_with_question_marks,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_peer_that_is_not_utf8_is_stored_with_question_marks,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_an_overwritten_event_gives_its_room_back, setup,
                                        teardown),
        cmocka_unit_test(test_limiter_allows_one_per_interval_and_counts_the_rest),
    };
    return cmocka_run_group_tests_name("events", tests, NULL, NULL);
}
