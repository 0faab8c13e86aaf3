/* Records off the loop (ledger/group.h): a checkpoint, cosignature or
 * evidence record is written without a sync and joins the sync the
 * entries share; the messages that announce it are held until the records
 * written before them are durable, and leave in the order they were held.
 * The store's side is in test_ledger_group.c. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "ledger/group.h"

/* ---- the decisions ------------------------------------------------------ */

static struct ledger_held_msg msg(uint64_t seq, size_t to)
{
    return (struct ledger_held_msg){.seq = seq, .to = to, .type = 2};
}

static void test_a_message_leaves_at_once_when_every_record_is_durable(void **state)
{
    (void)state;
    struct ledger_records r = {0};
    struct ledger_held h = {0};
    assert_true(ledger_held_may_send(&h, &r));
    ledger_records_written(&r);
    ledger_records_sync_started(&r);
    ledger_records_synced(&r);
    assert_true(ledger_held_may_send(&h, &r));
}

static void test_a_message_waits_while_a_record_before_it_is_not_durable(void **state)
{
    (void)state;
    struct ledger_records r = {0};
    struct ledger_held h = {0};
    assert_int_equal(ledger_records_written(&r), 1);
    assert_true(ledger_records_unsynced(&r));
    assert_false(ledger_held_may_send(&h, &r));
    ledger_records_sync_started(&r);
    assert_false(ledger_held_may_send(&h, &r)); /* under way is not durable */
}

static void test_a_held_message_leaves_when_the_sync_covering_its_records_returns(void **state)
{
    (void)state;
    struct ledger_records r = {0};
    struct ledger_held h = {0};
    struct ledger_held_msg m = msg(ledger_records_written(&r), 1), out;
    assert_true(ledger_held_push(&h, &m));
    ledger_records_sync_started(&r);
    assert_false(ledger_held_pop(&h, r.durable, &out));
    ledger_records_synced(&r);
    assert_false(ledger_records_unsynced(&r));
    assert_true(ledger_held_pop(&h, r.durable, &out));
    assert_int_equal(out.to, 1);
    assert_false(ledger_held_pop(&h, r.durable, &out));
}

static void test_a_record_written_while_a_sync_runs_waits_for_the_next_sync(void **state)
{
    (void)state;
    struct ledger_records r = {0};
    struct ledger_held h = {0};
    ledger_records_written(&r);
    ledger_records_sync_started(&r);
    struct ledger_held_msg first = msg(r.written, 1), second, out;
    assert_true(ledger_held_push(&h, &first));
    second = msg(ledger_records_written(&r), 2); /* after the sync took its descriptor */
    assert_true(ledger_held_push(&h, &second));
    ledger_records_synced(&r);
    assert_true(ledger_records_unsynced(&r));
    assert_true(ledger_held_pop(&h, r.durable, &out));
    assert_int_equal(out.to, 1);
    assert_false(ledger_held_pop(&h, r.durable, &out));
    ledger_records_sync_started(&r);
    ledger_records_synced(&r);
    assert_true(ledger_held_pop(&h, r.durable, &out));
    assert_int_equal(out.to, 2);
}

static void test_nothing_overtakes_a_held_message(void **state)
{
    (void)state;
    struct ledger_records r = {0};
    struct ledger_held h = {0};
    struct ledger_held_msg m = msg(ledger_records_written(&r), 1);
    assert_true(ledger_held_push(&h, &m));
    /* A sync made here covers every record, but the held message goes
     * first: a later one is held behind it, not sent past it. */
    ledger_records_all_durable(&r);
    assert_false(ledger_held_may_send(&h, &r));
}

static void test_held_messages_leave_in_the_order_they_were_held(void **state)
{
    (void)state;
    struct ledger_records r = {0};
    struct ledger_held h = {0};
    for (size_t i = 0; i < 3; i++) {
        struct ledger_held_msg m = msg(ledger_records_written(&r), i);
        assert_true(ledger_held_push(&h, &m));
    }
    ledger_records_sync_started(&r);
    ledger_records_synced(&r);
    struct ledger_held_msg out;
    for (size_t i = 0; i < 3; i++) {
        assert_true(ledger_held_pop(&h, r.durable, &out));
        assert_int_equal(out.to, i);
    }
    assert_true(ledger_held_may_send(&h, &r));
}

static void test_a_full_queue_holds_no_more(void **state)
{
    (void)state;
    struct ledger_held h = {0};
    for (size_t i = 0; i < LEDGER_HELD_MAX; i++) {
        struct ledger_held_msg m = msg(1, i);
        assert_true(ledger_held_push(&h, &m));
    }
    struct ledger_held_msg m = msg(1, 99), out;
    assert_false(ledger_held_push(&h, &m));
    assert_true(ledger_held_pop(&h, 1, &out));
    assert_int_equal(out.to, 0);
    assert_true(ledger_held_push(&h, &m)); /* the ring wraps */
}

static void test_a_sync_that_returns_late_moves_nothing_back(void **state)
{
    (void)state;
    struct ledger_records r = {0};
    ledger_records_written(&r);
    ledger_records_sync_started(&r);
    ledger_records_written(&r);
    ledger_records_all_durable(&r); /* synced on the loop meanwhile */
    ledger_records_synced(&r);      /* the pool's sync returns */
    assert_int_equal(r.durable, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_message_leaves_at_once_when_every_record_is_durable),
        cmocka_unit_test(test_a_message_waits_while_a_record_before_it_is_not_durable),
        cmocka_unit_test(test_a_held_message_leaves_when_the_sync_covering_its_records_returns),
        cmocka_unit_test(test_a_record_written_while_a_sync_runs_waits_for_the_next_sync),
        cmocka_unit_test(test_nothing_overtakes_a_held_message),
        cmocka_unit_test(test_held_messages_leave_in_the_order_they_were_held),
        cmocka_unit_test(test_a_full_queue_holds_no_more),
        cmocka_unit_test(test_a_sync_that_returns_late_moves_nothing_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
