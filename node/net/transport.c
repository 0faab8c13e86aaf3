#include "node/net/transport_int.h"
#include "pipeline/core/manifest.h"

#include <nng/nng.h>
#include <nng/protocol/pipeline0/pull.h>
#include <nng/supplemental/util/platform.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int find_inbound(const struct transport *t, nng_pipe p)
{
    for (int i = 0; i < t->nin; i++)
        if (nng_pipe_id(t->in[i].pipe) == nng_pipe_id(p))
            return i;
    return -1;
}

void transport_heard(struct transport *t, int peer)
{
    nng_time now = nng_clock();
    bool redial = false;
    nng_mtx_lock(t->mtx);
    int i = find_inbound(t, t->delivering);
    if (i >= 0) {
        t->in[i].last = now;
        t->in[i].vouched = true;
        t->in[i].peer = peer;
    }
    if (peer >= 0 && peer < t->nout) {
        struct outbox *o = &t->out[peer];
        transport_live_heard(&o->live, (uint32_t)nng_pipe_id(t->delivering), now, t->stale_ms);
        /* It is back (a restart) while our dialer still backs off:
         * transport_live.h. A socket without a connection holds nothing to
         * lose. */
        if (!o->replace &&
            transport_live_redial_on_heard(&o->live, now, TRANSPORT_LIVE_REDIAL_MIN_MS)) {
            o->replace = true;
            redial = true;
        }
    }
    nng_mtx_unlock(t->mtx);
    if (redial)
        transport__replace_outboxes(t);
}

/* The connection to give up at the cap: the oldest that never delivered an
 * authentic message, or -1 when every one did. */
static int evictable(const struct transport *t)
{
    int oldest = -1;
    for (int i = 0; i < t->nin; i++)
        if (!t->in[i].vouched && (oldest < 0 || t->in[i].added < t->in[oldest].added))
            oldest = i;
    return oldest;
}

/* Peers hold one connection each (two while one reconnects); the spares
 * leave room for tools that inject frames as a peer does. */
static int pipe_cap(const struct transport *t)
{
    int peers = t->nout > 0 ? t->nout : 1;
    return TRANSPORT_MAX_PIPES_PER_PEER * peers + TRANSPORT_SPARE_PIPES;
}

/* Runs on an NNG thread once a connection finished its SP handshake and
 * before it can receive: a connection closed here never allocates a frame.
 * At the cap the newcomer takes the place of the oldest connection that has
 * sent nothing authentic (a peer that reconnects gets in while strangers
 * hold the spares, and proves itself with its next heartbeat); when every
 * connection has, the newcomer is refused. */
static void on_pipe_added(nng_pipe p, nng_pipe_ev ev, void *arg)
{
    (void)ev;
    struct transport *t = arg;
    nng_pipe close = NNG_PIPE_INITIALIZER;
    struct inbound fresh = {p, nng_clock(), nng_clock(), false, -1};
    nng_mtx_lock(t->mtx);
    if (t->nin < pipe_cap(t)) {
        t->in[t->nin++] = fresh;
    } else {
        int i = evictable(t);
        if (i >= 0) {
            close = t->in[i].pipe;
            t->in[i] = fresh;
        } else {
            close = p;
        }
        t->limited.count++;
        if (!t->stopping)
            uv_async_send(&t->wake); /* under the lock: cannot race uv_close */
    }
    nng_mtx_unlock(t->mtx);
    if (nng_pipe_id(close) > 0)
        nng_pipe_close(close); /* an evicted one's removal finds it gone */
}

/* A peer's own connection to us closing is a loss too (link callback):
 * when it dies, ours to it may not be open (its redial still backing off
 * after an earlier restart), but the one it sends its heartbeats on is. */
static void on_pipe_removed(nng_pipe p, nng_pipe_ev ev, void *arg)
{
    (void)ev;
    struct transport *t = arg;
    nng_mtx_lock(t->mtx);
    int i = find_inbound(t, p);
    if (i >= 0) {
        int peer = t->in[i].vouched ? t->in[i].peer : -1;
        /* The peer already reconnected (it closed a stale connection and
         * redialed): the old one's end is no loss. */
        for (int j = 0; j < t->nin && peer >= 0; j++)
            if (j != i && t->in[j].vouched && t->in[j].peer == peer)
                peer = -1;
        if (peer >= 0 && peer < t->nout) {
            t->out[peer].losses++;
            if (!t->stopping)
                uv_async_send(&t->wake); /* under the lock: cannot race uv_close */
        }
        t->in[i] = t->in[--t->nin];
    }
    nng_mtx_unlock(t->mtx);
}

/* Formats into msg what r counted since its last report, at most once an
 * interval (call with the lock held); what is held back goes into the next
 * report, and the metrics count all. Returns false when there is nothing to
 * say now. */
static bool take_report(struct limit_report *r, const char *what, int open, int cap, char *msg,
                        size_t len)
{
    nng_time now = nng_clock();
    if (r->count == r->reported || (r->used && now - r->last_ms < TRANSPORT_NOTICE_INTERVAL_MS))
        return false;
    snprintf(msg, len,
             "%llu inbound peer connection(s) %s (%d open, at most %d; %llu since the start)",
             (unsigned long long)(r->count - r->reported), what, open, cap,
             (unsigned long long)r->count);
    r->reported = r->count;
    r->last_ms = now;
    r->used = true;
    return true;
}

static void report_all(struct transport *t)
{
    char limited[256], idle[256], why[64], quiet[32];
    snprintf(why, sizeof(why), "closed idle (no authentic message for %s)",
             manifest_duration_text(TRANSPORT_IDLE_MS, quiet, sizeof quiet));
    nng_mtx_lock(t->mtx);
    int open = t->nin, cap = pipe_cap(t);
    bool say_limited = take_report(&t->limited,
                                   "turned away at the cap (the oldest that sent nothing authentic "
                                   "closed, or the newcomer refused)",
                                   open, cap, limited, sizeof(limited));
    bool say_idle = take_report(&t->idle, why, open, cap, idle, sizeof(idle));
    nng_mtx_unlock(t->mtx);
    if (say_limited && t->notice)
        t->notice(t->notice_ctx, "transport.connection_limit", limited);
    if (say_idle && t->notice)
        t->notice(t->notice_ctx, "transport.connection_idle", idle);
}

/* Tells the link callback what changed since it was last told: a loss
 * first (even if the connection is back already: the layer above may
 * have lost messages, and the peer may have restarted), then an open. */
void transport__report_links(struct transport *t)
{
    for (int i = 0; i < t->nout && t->link; i++) {
        struct outbox *o = &t->out[i];
        nng_mtx_lock(t->mtx);
        uint64_t losses = o->losses;
        bool up = nng_pipe_id(o->pipe) > 0;
        nng_mtx_unlock(t->mtx);
        if (losses != o->told_losses) {
            o->told_losses = losses;
            o->told_up = false;
            t->link(t->link_ctx, i, false);
        }
        if (up && !o->told_up) {
            o->told_up = true;
            t->link(t->link_ctx, i, true);
        }
    }
}

static void on_wake(uv_async_t *a)
{
    report_all(a->data);
    transport__replace_outboxes(a->data);
    transport__report_links(a->data);
}

static void idle_scan(struct transport *t)
{
    nng_pipe quiet[MAX_PIPES];
    int n = 0;
    nng_time now = nng_clock();
    nng_mtx_lock(t->mtx);
    for (int i = 0; i < t->nin; i++)
        if (now - t->in[i].last >= TRANSPORT_IDLE_MS) {
            quiet[n++] = t->in[i].pipe;
            t->in[i].last = now; /* not counted again before its removal */
        }
    t->idle.count += (uint64_t)n;
    nng_mtx_unlock(t->mtx);
    for (int i = 0; i < n; i++)
        nng_pipe_close(quiet[i]); /* its removal callback takes it off the list */
    report_all(t);
}

static void on_idle_scan(uv_timer_t *h)
{
    idle_scan(h->data);
}

void transport_ride_tick(struct transport *t)
{
    t->ridden = true;
    uv_timer_stop(&t->idle_scan);
    uv_timer_stop(&t->live_scan);
    tick_every_init(&t->idle_every, IDLE_SCAN_MS, uv_now(t->loop));
    tick_every_init(&t->live_every, t->live_every.every_ms, uv_now(t->loop));
}

void transport_tick(struct transport *t)
{
    uint64_t now = uv_now(t->loop);
    if (!t->ridden || t->stopping)
        return;
    if (tick_every_due(&t->live_every, now))
        transport__live_scan(t);
    if (tick_every_due(&t->idle_every, now))
        idle_scan(t);
}

/* The poll handle only tells us the inbox has messages; drain it until NNG
 * says EAGAIN, because the notification fd is not a byte count. */
static void on_readable(uv_poll_t *h, int status, int events)
{
    (void)events;
    struct transport *t = h->data;
    if (status < 0)
        return;
    for (;;) {
        /* What nng_recvmsg(NNG_FLAG_NONBLOCK) does, with our aio. */
        nng_aio_set_timeout(t->rx, NNG_DURATION_ZERO);
        nng_recv_aio(t->inbox, t->rx);
        nng_aio_wait(t->rx);
        if (nng_aio_result(t->rx) != 0)
            break;
        nng_msg *msg = nng_aio_get_msg(t->rx);
        if (t->filter && t->filter(t->filter_ctx, TRANSPORT_IN, -1) == TRANSPORT_DROP) {
            nng_msg_free(msg);
            continue;
        }
        t->delivering = nng_msg_get_pipe(msg);
        t->on_recv(t->ctx, nng_msg_body(msg), nng_msg_len(msg));
        t->delivering = (nng_pipe)NNG_PIPE_INITIALIZER;
        nng_msg_free(msg);
    }
}

/* Closes what is queued and ends the closer thread. */
static void stop_closer(struct transport *t)
{
    nng_mtx_lock(t->mtx);
    t->closer_done = true;
    nng_cv_wake(t->close_cv);
    nng_mtx_unlock(t->mtx);
    nng_thread_destroy(t->closer); /* joins it */
}

int transport_start(struct transport **out, uv_loop_t *loop, const char *listen_url,
                    transport_recv_fn on_recv, void *ctx, char *err, size_t errlen)
{
    struct transport *t = calloc(1, sizeof(*t));
    if (!t) {
        snprintf(err, errlen, "transport: out of memory");
        return NNG_ENOMEM;
    }
    t->loop = loop;
    t->on_recv = on_recv;
    t->ctx = ctx;
    t->stopping = true; /* until wake exists: the listener calls back at once */
    int rv, fd = -1;
    if ((rv = nng_mtx_alloc(&t->mtx)) != 0 || (rv = nng_aio_alloc(&t->rx, NULL, NULL)) != 0 ||
        (rv = nng_aio_alloc(&t->tx, NULL, NULL)) != 0) {
        snprintf(err, errlen, "transport: out of memory");
        if (t->rx)
            nng_aio_free(t->rx);
        if (t->mtx)
            nng_mtx_free(t->mtx);
        free(t);
        return rv;
    }
    if ((rv = nng_cv_alloc(&t->close_cv, t->mtx)) != 0 ||
        (rv = nng_thread_create(&t->closer, transport__closer_main, t)) != 0) {
        snprintf(err, errlen, "transport: cannot start its closer thread: %s", nng_strerror(rv));
        goto no_closer;
    }
    if ((rv = nng_pull0_open(&t->inbox)) != 0) {
        snprintf(err, errlen, "transport: cannot open inbox socket: %s", nng_strerror(rv));
        goto no_inbox;
    }
    if ((rv = nng_socket_set_size(t->inbox, NNG_OPT_RECVMAXSZ, TRANSPORT_MAX_MSG)) != 0 ||
        (rv = nng_pipe_notify(t->inbox, NNG_PIPE_EV_ADD_PRE, on_pipe_added, t)) != 0 ||
        (rv = nng_pipe_notify(t->inbox, NNG_PIPE_EV_REM_POST, on_pipe_removed, t)) != 0 ||
        (rv = nng_listen(t->inbox, listen_url, NULL, 0)) != 0) {
        if (rv == NNG_EADDRINUSE)
            snprintf(err, errlen, "--listen: %s is already in use; pick a free port", listen_url);
        else
            snprintf(err, errlen, "--listen: cannot listen on %s: %s", listen_url,
                     nng_strerror(rv));
        goto fail;
    }
    if ((rv = nng_socket_get_int(t->inbox, NNG_OPT_RECVFD, &fd)) != 0 ||
        (rv = uv_poll_init(loop, &t->poll, fd)) != 0) {
        snprintf(err, errlen, "transport: cannot poll the inbox: %s",
                 rv > 0 ? nng_strerror(rv) : uv_strerror(rv));
        goto fail;
    }
    t->poll.data = t->wake.data = t->idle_scan.data = t->held_timer.data = t->live_scan.data = t;
    uv_async_init(loop, &t->wake, on_wake);
    uv_timer_init(loop, &t->idle_scan);
    uv_timer_init(loop, &t->held_timer);
    uv_timer_init(loop, &t->live_scan);
    t->open_handles = 5;
    nng_mtx_lock(t->mtx);
    t->stopping = false;
    nng_mtx_unlock(t->mtx);
    uv_poll_start(&t->poll, UV_READABLE, on_readable);
    uv_timer_start(&t->idle_scan, on_idle_scan, IDLE_SCAN_MS, IDLE_SCAN_MS);
    transport_set_stale_ms(t, TRANSPORT_STALE_MS);
    transport_set_reconnect_ms(t, TRANSPORT_RECONNECT_MIN_MS, TRANSPORT_RECONNECT_MAX_MS);
    *out = t;
    return 0;

fail:
    nng_close(t->inbox); /* before the lock its pipe callbacks take */
no_inbox:
    stop_closer(t);
no_closer:
    if (t->close_cv)
        nng_cv_free(t->close_cv);
    nng_mtx_free(t->mtx);
    nng_aio_free(t->rx);
    nng_aio_free(t->tx);
    free(t->to_close);
    free(t);
    return rv;
}

void transport_set_filter(struct transport *t, transport_filter_fn fn, void *ctx)
{
    t->filter = fn;
    t->filter_ctx = ctx;
}

void transport_set_link(struct transport *t, transport_link_fn fn, void *ctx)
{
    t->link = fn;
    t->link_ctx = ctx;
    transport__report_links(t); /* connections opened before this call */
}

void transport_set_notice(struct transport *t, transport_notice_fn fn, void *ctx)
{
    t->notice = fn;
    t->notice_ctx = ctx;
}

/* Transports stopped and not yet freed (transport_drain); loop thread. */
static struct transport *stopped;

static void free_transport(struct transport *t)
{
    nng_thread_destroy(t->closer); /* it ended: joins at once */
    nng_cv_free(t->close_cv);
    nng_mtx_free(t->mtx);
    nng_aio_free(t->rx);
    nng_aio_free(t->tx);
    free(t->to_close);
    free(t);
}

/* The inbox goes last, once uv has let go of its notification fd, so the
 * poll never watches a closed descriptor; the struct is freed by
 * transport_drain once the closer closed everything (no pipe callback runs
 * after nng_close(inbox) returns). */
static void on_handle_closed(uv_handle_t *h)
{
    struct transport *t = h->data;
    if (--t->open_handles > 0)
        return;
    nng_mtx_lock(t->mtx);
    bool queued = true;
    for (int i = 0; i < t->nstopped_out; i++)
        if (nng_socket_id(t->out[i].sock) > 0)
            queued = queued && transport__queue_close(t, t->out[i].sock);
    queued = queued && transport__queue_close(t, t->inbox);
    t->closer_done = true;
    nng_cv_wake(t->close_cv);
    nng_mtx_unlock(t->mtx);
    if (!queued) { /* out of memory: close here, unbounded, rather than leave them open */
        for (int i = 0; i < t->nstopped_out; i++)
            nng_close(t->out[i].sock);
        nng_close(t->inbox);
    }
    t->next_stopped = stopped;
    stopped = t;
}

void transport_stop(struct transport *t)
{
    nng_mtx_lock(t->mtx);
    t->stopping = true; /* pipe callbacks no longer wake the loop */
    t->nstopped_out = t->nout;
    t->nout = 0;
    nng_mtx_unlock(t->mtx);
    transport__free_held(t);
    uv_poll_stop(&t->poll);
    uv_close((uv_handle_t *)&t->poll, on_handle_closed);
    uv_close((uv_handle_t *)&t->wake, on_handle_closed);
    uv_close((uv_handle_t *)&t->idle_scan, on_handle_closed);
    uv_close((uv_handle_t *)&t->held_timer, on_handle_closed);
    uv_close((uv_handle_t *)&t->live_scan, on_handle_closed);
}

bool transport_drain(uint64_t ms)
{
    nng_time deadline = nng_clock() + ms;
    struct transport **link = &stopped;
    while (*link) {
        struct transport *t = *link;
        nng_mtx_lock(t->mtx);
        while (!t->closed && nng_cv_until(t->close_cv, deadline) != NNG_ETIMEDOUT)
            ;
        bool closed = t->closed;
        nng_mtx_unlock(t->mtx);
        if (!closed)
            return false; /* left reachable: a stuck NNG thread may still touch it */
        *link = t->next_stopped;
        free_transport(t);
    }
    return true;
}
