/* node_timer_at: a timer whose callback arms it again at a time already
 * past lets the loop poll between its runs (libuv 1.44 would run a 0 ms
 * one again in the same pass, for ever). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "node/base/timer_at.h"

#define RUNS 5

static int fired, polled_between;
static uv_prepare_t prepare;
static int prepared;

static void on_past_due(uv_timer_t *t)
{
    fired++;
    if (fired < RUNS) /* the time it has work for stays in the past */
        node_timer_at(t, on_past_due, 0, uv_now(t->loop));
}

static void on_prepare(uv_prepare_t *p)
{
    (void)p;
    prepared++;
    if (fired > 0 && fired < RUNS)
        polled_between++;
}

static void test_a_timer_rearmed_at_a_past_time_lets_the_loop_poll_between_its_runs(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_timer_t t;
    assert_int_equal(uv_loop_init(&loop), 0);
    uv_timer_init(&loop, &t);
    uv_prepare_init(&loop, &prepare);
    uv_prepare_start(&prepare, on_prepare);
    uv_unref((uv_handle_t *)&prepare);
    node_timer_at(&t, on_past_due, 0, uv_now(&loop));
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(fired, RUNS);
    /* each run after the first came after a pass that reached the poll */
    assert_true(polled_between >= RUNS - 1);
    uv_close((uv_handle_t *)&t, NULL);
    uv_close((uv_handle_t *)&prepare, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void fire_once(uv_timer_t *t)
{
    (void)t;
    fired++;
}

static void test_a_timer_at_a_future_time_runs_that_much_later(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_timer_t t;
    assert_int_equal(uv_loop_init(&loop), 0);
    uv_timer_init(&loop, &t);
    fired = 0;
    uint64_t now = uv_now(&loop);
    node_timer_at(&t, fire_once, now + 30, now);
    assert_int_equal(uv_timer_get_due_in(&t), 30);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(fired, 1);
    assert_true(uv_now(&loop) >= now + 30);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_timer_rearmed_at_a_past_time_lets_the_loop_poll_between_its_runs),
        cmocka_unit_test(test_a_timer_at_a_future_time_runs_that_much_later),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
