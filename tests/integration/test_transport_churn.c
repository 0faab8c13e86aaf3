/* Integration: the transport keeps sending while its connections close.
 *
 * NNG 1.5's push protocol puts a connection back on its list of ready ones
 * when a send on it completes as it closes, and frees it there; the
 * socket's next send then goes through freed memory (chimerad died that way
 * on its loop thread, in pthread_mutex_lock or calling a NULL function
 * pointer, right after transport.pipe_stale). Here, in one process,
 * transport a sends to transport b on every outbox every ms, and closes as
 * dead, every TRANSPORT_STALE_MIN_MS or so, the connections it never hears
 * back on (b never answers). Freed memory is overwritten, so a send through a freed
 * connection crashes instead of passing unnoticed. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <malloc.h>
#include <stdio.h>
#include <string.h>
#include <uv.h>

#include "harness.h"
#include "node/net/transport.h"

/* glibc and ASan: fill freed memory, so that what reads it reads garbage. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "max_free_fill_size=4096:free_fill_byte=165";
}

/* NNG 1.5 loses a message handed to a connection as it closes (its issue
 * 1713, fixed in 1.6): with hundreds of closes, a few bytes inside libnng. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
    return "leak:libnng.so\n";
}

#define DELIVERED 10000 /* messages b receives before the run ends */
#define CLOSES 300      /* connections a closed as dead before the run ends */
#define OUTBOXES 8      /* a's connections to b */

struct run {
    uv_loop_t loop;
    struct transport *a, *b;
    int outboxes;
    uint64_t received, stale_closes;
    uv_timer_t sender;
    uv_timer_t deadline;
    bool timed_out;
};

static void on_recv(void *ctx, const void *buf, size_t len)
{
    (void)buf;
    (void)len;
    ((struct run *)ctx)->received++;
}

static void on_recv_a(void *ctx, const void *buf, size_t len)
{
    (void)ctx;
    (void)buf;
    (void)len;
}

/* "... (N closes since the last report)": N, or 1 without it. */
static uint64_t closes_in(const char *msg)
{
    const char *end = strstr(msg, " closes since the last report");
    const char *open = end ? end : msg;
    while (open > msg && *open != '(')
        open--;
    unsigned long long n;
    if (end && sscanf(open, "(%llu closes", &n) == 1)
        return n;
    return 1;
}

static void on_notice(void *ctx, const char *kind, const char *msg)
{
    struct run *r = ctx;
    if (strcmp(kind, "transport.pipe_stale") == 0)
        r->stale_closes += closes_in(msg);
}

static void stop(struct run *r)
{
    uv_timer_stop(&r->sender);
    uv_timer_stop(&r->deadline);
    uv_stop(&r->loop); /* the transports' handles would keep it running */
}

static void on_send(uv_timer_t *h)
{
    struct run *r = h->data;
    static const char hello[64] = "hello";
    for (int i = 0; i < r->outboxes; i++)
        transport_send(r->a, i, hello, sizeof hello);
    if (r->received >= DELIVERED && r->stale_closes >= CLOSES)
        stop(r);
}

static void on_deadline(uv_timer_t *h)
{
    struct run *r = h->data;
    r->timed_out = true;
    stop(r);
}

static void test_sending_survives_connections_closing_under_it(void **state)
{
    (void)state;
    mallopt(M_PERTURB, 0xa5);
    struct run r = {0};
    char url_a[64], url_b[64], err[256];
    snprintf(url_a, sizeof url_a, "tcp://127.0.0.1:%d", h_free_port());
    snprintf(url_b, sizeof url_b, "tcp://127.0.0.1:%d", h_free_port());
    assert_int_equal(uv_loop_init(&r.loop), 0);
    if (transport_start(&r.b, &r.loop, url_b, on_recv, &r, err, sizeof err) != 0 ||
        transport_start(&r.a, &r.loop, url_a, on_recv_a, &r, err, sizeof err) != 0)
        fail_msg("%s", err);
    transport_set_notice(r.a, on_notice, &r);
    transport_set_notice(r.b, on_notice, &r);
    transport_set_stale_ms(r.a, TRANSPORT_STALE_MIN_MS);
    /* b's outboxes only raise the number of connections it accepts well
     * above a's, so that it turns none away */
    for (int i = 0; i < TRANSPORT_MAX_PEERS; i++)
        if ((i < OUTBOXES && transport_add_peer(r.a, url_b, err, sizeof err) != i) ||
            transport_add_peer(r.b, url_a, err, sizeof err) != i)
            fail_msg("%s", err);
    r.outboxes = OUTBOXES;
    r.sender.data = r.deadline.data = &r;
    uv_timer_init(&r.loop, &r.sender);
    uv_timer_start(&r.sender, on_send, 1, 1);
    uv_timer_init(&r.loop, &r.deadline);
    uv_timer_start(&r.deadline, on_deadline, 10 * (uint64_t)h_timeout_ms(), 0);
    uv_run(&r.loop, UV_RUN_DEFAULT);

    transport_stop(r.a);
    transport_stop(r.b);
    uv_close((uv_handle_t *)&r.sender, NULL);
    uv_close((uv_handle_t *)&r.deadline, NULL);
    uv_run(&r.loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&r.loop), 0);
    if (!transport_drain((uint64_t)h_timeout_ms()))
        fail_msg("NNG did not finish closing the transports' sockets");
    print_message("b received %llu messages; a closed %llu connections as dead\n",
                  (unsigned long long)r.received, (unsigned long long)r.stale_closes);
    if (r.timed_out)
        fail_msg("deadline: b received %llu messages, a closed %llu connections as dead",
                 (unsigned long long)r.received, (unsigned long long)r.stale_closes);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sending_survives_connections_closing_under_it),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
