/* Integration: a peer that comes back is dialed again as soon as it is
 * heard, not when our dialer's backoff runs out.
 *
 * A node restarted less than a second ago could not be reached by peers
 * whose dialers were still backing off (up to TRANSPORT_RECONNECT_MAX_MS), so it could
 * be chosen for a leadership transfer, or win an election and then lose
 * check-quorum. Here, in one process, transport a talks to transport b; b
 * stops, and a's dialer is refused once, so that it backs off; a's dialers
 * back off for an hour (transport_set_reconnect_ms), so a's dialer can no
 * longer reach b by itself within the test. Then b starts again on the same
 * address and sends to a: a hears it, and its connection to b opens. Before
 * the redial on hearing, a's connection stayed down until the deadline. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <nng/nng.h>
#include <stdio.h>
#include <string.h>
#include <uv.h>

#include "harness.h"
#include "node/net/transport.h"

/* NNG 1.5 loses a message handed to a connection as it closes (its issue
 * 1713, fixed in 1.6). */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
    return "leak:libnng.so\n";
}

#define BACKOFF_MS (3600u * 1000u)

enum phase {
    CONNECTING,  /* a dials b */
    B_STOPPED,   /* b is gone: a lost it, then its dialer was refused */
    B_RESTARTED, /* b is back and sends to a */
    DONE,
};

struct run {
    uv_loop_t loop;
    struct transport *a, *b;
    char url_a[64], url_b[64];
    enum phase phase;
    int ups, losses; /* a's link to b, as its link callback told */
    uint64_t heard;  /* messages a received from the restarted b */
    uv_timer_t step, deadline;
    bool timed_out;
    char err[256];
};

static void on_recv_a(void *ctx, const void *buf, size_t len)
{
    (void)buf;
    (void)len;
    struct run *r = ctx;
    r->heard++;
    transport_heard(r->a, 0); /* authentic: b is a's peer 0 */
}

static void on_recv_b(void *ctx, const void *buf, size_t len)
{
    (void)ctx;
    (void)buf;
    (void)len;
}

static void on_link_a(void *ctx, int peer, bool up)
{
    struct run *r = ctx;
    if (peer != 0)
        return;
    if (up)
        r->ups++;
    else
        r->losses++;
}

/* Connections refused to the dialers of this process that dial url (NNG's
 * statistics): a's dialer to b once b is gone. */
static uint64_t refused_in(nng_stat *s, const char *url)
{
    uint64_t n = 0;
    if (nng_stat_type(s) != NNG_STAT_SCOPE)
        return 0;
    nng_stat *u = NULL, *refused = NULL;
    for (nng_stat *c = nng_stat_child(s); c; c = nng_stat_next(c)) {
        if (strcmp(nng_stat_name(c), "url") == 0 && nng_stat_type(c) == NNG_STAT_STRING)
            u = c;
        else if (strcmp(nng_stat_name(c), "refused") == 0)
            refused = c;
        else
            n += refused_in(c, url);
    }
    if (u && refused && strcmp(nng_stat_string(u), url) == 0)
        n += nng_stat_value(refused);
    return n;
}

static uint64_t refused(const char *url)
{
    nng_stat *root;
    if (nng_stats_get(&root) != 0)
        return 0;
    uint64_t n = refused_in(root, url);
    nng_stats_free(root);
    return n;
}

static void stop(struct run *r)
{
    uv_timer_stop(&r->step);
    uv_timer_stop(&r->deadline);
    uv_stop(&r->loop); /* the transports' handles would keep it running */
}

static void on_step(uv_timer_t *h)
{
    struct run *r = h->data;
    static const char hello[64] = "hello";
    switch (r->phase) {
    case CONNECTING:
        if (r->ups < 1)
            return;
        transport_stop(r->b);
        r->b = NULL;
        r->phase = B_STOPPED;
        return;
    case B_STOPPED:
        /* Its dialer tried and was refused: it backs off now. */
        if (r->losses < 1 || refused(r->url_b) < 1)
            return;
        if (transport_start(&r->b, &r->loop, r->url_b, on_recv_b, r, r->err, sizeof r->err) != 0)
            return; /* the old inbox may not be closed yet: again at the next step */
        if (transport_add_peer(r->b, r->url_a, r->err, sizeof r->err) != 0) {
            stop(r);
            return;
        }
        r->phase = B_RESTARTED;
        return;
    case B_RESTARTED:
        transport_send(r->b, 0, hello, sizeof hello); /* b's heartbeats */
        if (r->ups >= 2) {
            r->phase = DONE;
            stop(r);
        }
        return;
    case DONE:
        return;
    }
}

static void on_deadline(uv_timer_t *h)
{
    struct run *r = h->data;
    r->timed_out = true;
    stop(r);
}

static void test_a_peer_heard_again_after_an_outage_is_redialed_at_once(void **state)
{
    (void)state;
    static struct run r;
    snprintf(r.url_a, sizeof r.url_a, "tcp://127.0.0.1:%d", h_free_port());
    snprintf(r.url_b, sizeof r.url_b, "tcp://127.0.0.1:%d", h_free_port());
    assert_int_equal(uv_loop_init(&r.loop), 0);
    if (transport_start(&r.b, &r.loop, r.url_b, on_recv_b, &r, r.err, sizeof r.err) != 0 ||
        transport_start(&r.a, &r.loop, r.url_a, on_recv_a, &r, r.err, sizeof r.err) != 0)
        fail_msg("%s", r.err);
    transport_set_link(r.a, on_link_a, &r);
    transport_set_reconnect_ms(r.a, BACKOFF_MS, BACKOFF_MS);
    if (transport_add_peer(r.a, r.url_b, r.err, sizeof r.err) != 0)
        fail_msg("%s", r.err);
    r.step.data = r.deadline.data = &r;
    uv_timer_init(&r.loop, &r.step);
    uv_timer_start(&r.step, on_step, 5, 5);
    uv_timer_init(&r.loop, &r.deadline);
    uv_timer_start(&r.deadline, on_deadline, (uint64_t)h_timeout_ms(), 0);
    uv_run(&r.loop, UV_RUN_DEFAULT);

    transport_stop(r.a);
    if (r.b)
        transport_stop(r.b);
    uv_close((uv_handle_t *)&r.step, NULL);
    uv_close((uv_handle_t *)&r.deadline, NULL);
    uv_run(&r.loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&r.loop), 0);
    if (!transport_drain((uint64_t)h_timeout_ms()))
        fail_msg("NNG did not finish closing the transports' sockets");
    if (r.timed_out)
        fail_msg("deadline in phase %d: a's connection to b opened %d time(s), lost %d; a heard "
                 "%llu message(s) from the restarted b (%s)",
                 (int)r.phase, r.ups, r.losses, (unsigned long long)r.heard, r.err);
    print_message("a heard %llu message(s) from the restarted b before its connection opened\n",
                  (unsigned long long)r.heard);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_peer_heard_again_after_an_outage_is_redialed_at_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
