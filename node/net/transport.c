#include "node/net/transport.h"

#include <nng/nng.h>
#include <nng/protocol/pipeline0/pull.h>
#include <nng/protocol/pipeline0/push.h>
#include <nng/supplemental/util/platform.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#define MAX_PIPES (TRANSPORT_MAX_PIPES_PER_PEER * TRANSPORT_MAX_PEERS + TRANSPORT_SPARE_PIPES)
#define IDLE_SCAN_MS 1000
#define RECONNECT_MIN_MS 50
#define RECONNECT_MAX_MS 1000
#define SEND_QUEUE_MSGS 128

struct inbound {
    nng_pipe pipe;
    nng_time added;
    nng_time last; /* when it was added or last delivered an authentic message */
    bool vouched;  /* it delivered an authentic message (transport_heard) */
};

/* What the cap and the idle scan did, and what was already reported. */
struct limit_report {
    uint64_t count, reported;
    nng_time last_ms;
    bool used;
};

struct transport {
    uv_loop_t *loop;
    uv_poll_t poll;
    uv_async_t wake;      /* a pipe callback has something to report */
    uv_timer_t idle_scan; /* closes inbound connections gone quiet */
    int open_handles;     /* libuv handles not yet closed */
    nng_mtx *mtx;         /* guards what follows, shared with NNG's pipe callbacks */
    struct inbound in[MAX_PIPES];
    int nin;
    bool stopping;
    struct limit_report limited, idle;
    nng_pipe delivering; /* the pipe of the message on_recv is handling (loop thread) */
    transport_notice_fn notice;
    void *notice_ctx;
    nng_socket inbox;
    nng_socket out[TRANSPORT_MAX_PEERS];
    int nout;
    transport_recv_fn on_recv;
    void *ctx;
    transport_filter_fn filter;
    void *filter_ctx;
    uv_timer_t held_timer;              /* sends the held messages that are due */
    struct held *held_head, *held_tail; /* in the order they are due */
    size_t nheld;
};

/* An outgoing message the filter holds back (a delay). Every message is
 * held for the same delay while a fault lasts, so the queue is in due
 * order but for a change of delay, which only sends some late. */
struct held {
    struct held *next;
    uint64_t due; /* loop time */
    int idx;
    nng_msg *msg;
};

static int find_inbound(const struct transport *t, nng_pipe p)
{
    for (int i = 0; i < t->nin; i++)
        if (nng_pipe_id(t->in[i].pipe) == nng_pipe_id(p))
            return i;
    return -1;
}

void transport_heard(struct transport *t)
{
    nng_mtx_lock(t->mtx);
    int i = find_inbound(t, t->delivering);
    if (i >= 0) {
        t->in[i].last = nng_clock();
        t->in[i].vouched = true;
    }
    nng_mtx_unlock(t->mtx);
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
    struct inbound fresh = {p, nng_clock(), nng_clock(), false};
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

static void on_pipe_removed(nng_pipe p, nng_pipe_ev ev, void *arg)
{
    (void)ev;
    struct transport *t = arg;
    nng_mtx_lock(t->mtx);
    int i = find_inbound(t, p);
    if (i >= 0)
        t->in[i] = t->in[--t->nin];
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
    char limited[256], idle[256], why[64];
    snprintf(why, sizeof(why), "closed idle (no authentic message for %d s)",
             TRANSPORT_IDLE_MS / 1000);
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

static void on_wake(uv_async_t *a)
{
    report_all(a->data);
}

static void on_idle_scan(uv_timer_t *h)
{
    struct transport *t = h->data;
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

/* The poll handle only tells us the inbox has messages; drain it until NNG
 * says EAGAIN, because the notification fd is not a byte count. */
static void on_readable(uv_poll_t *h, int status, int events)
{
    (void)events;
    struct transport *t = h->data;
    if (status < 0)
        return;
    for (;;) {
        nng_msg *msg;
        int rv = nng_recvmsg(t->inbox, &msg, NNG_FLAG_NONBLOCK);
        if (rv != 0)
            break;
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

static int set_reconnect(nng_socket s)
{
    int rv = nng_socket_set_ms(s, NNG_OPT_RECONNMINT, RECONNECT_MIN_MS);
    if (rv == 0)
        rv = nng_socket_set_ms(s, NNG_OPT_RECONNMAXT, RECONNECT_MAX_MS);
    return rv;
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
    int rv, fd = -1;
    if ((rv = nng_mtx_alloc(&t->mtx)) != 0) {
        snprintf(err, errlen, "transport: out of memory");
        free(t);
        return rv;
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
    t->poll.data = t->wake.data = t->idle_scan.data = t->held_timer.data = t;
    uv_async_init(loop, &t->wake, on_wake);
    uv_timer_init(loop, &t->idle_scan);
    uv_timer_init(loop, &t->held_timer);
    t->open_handles = 4;
    uv_poll_start(&t->poll, UV_READABLE, on_readable);
    uv_timer_start(&t->idle_scan, on_idle_scan, IDLE_SCAN_MS, IDLE_SCAN_MS);
    *out = t;
    return 0;

fail:
    nng_close(t->inbox); /* before the lock its pipe callbacks take */
no_inbox:
    nng_mtx_free(t->mtx);
    free(t);
    return rv;
}

int transport_add_peer(struct transport *t, const char *url, char *err, size_t errlen)
{
    if (t->nout >= TRANSPORT_MAX_PEERS) {
        snprintf(err, errlen, "transport: too many peers");
        return -1;
    }
    nng_socket s = NNG_SOCKET_INITIALIZER;
    int rv = nng_push0_open(&s);
    if (rv == 0)
        rv = set_reconnect(s);
    /* A bounded queue per peer absorbs short stalls; NNG builds without
     * push send buffers report ENOTSUP, which only costs the buffering. */
    if (rv == 0) {
        rv = nng_socket_set_int(s, NNG_OPT_SENDBUF, SEND_QUEUE_MSGS);
        if (rv == NNG_ENOTSUP)
            rv = 0;
    }
    if (rv == 0)
        rv = nng_dial(s, url, NULL, NNG_FLAG_NONBLOCK);
    if (rv != 0) {
        snprintf(err, errlen, "transport: cannot dial %s: %s", url, nng_strerror(rv));
        if (nng_socket_id(s) > 0)
            nng_close(s);
        return -1;
    }
    nng_mtx_lock(t->mtx); /* pipe_cap reads nout on NNG's threads */
    t->out[t->nout] = s;
    int idx = t->nout++;
    nng_mtx_unlock(t->mtx);
    return idx;
}

static void on_held_due(uv_timer_t *h)
{
    struct transport *t = h->data;
    uint64_t now = uv_now(t->loop);
    while (t->held_head && t->held_head->due <= now) {
        struct held *m = t->held_head;
        t->held_head = m->next;
        if (!t->held_head)
            t->held_tail = NULL;
        t->nheld--;
        if (m->idx >= t->nout || nng_sendmsg(t->out[m->idx], m->msg, NNG_FLAG_NONBLOCK) != 0)
            nng_msg_free(m->msg);
        free(m);
    }
    if (t->held_head)
        uv_timer_start(&t->held_timer, on_held_due, t->held_head->due - now, 0);
}

static int hold(struct transport *t, int idx, nng_msg *msg, long ms)
{
    struct held *m = t->nheld < TRANSPORT_HELD_MAX ? malloc(sizeof(*m)) : NULL;
    if (!m)
        return -1;
    *m = (struct held){.due = uv_now(t->loop) + (uint64_t)ms, .idx = idx, .msg = msg};
    if (t->held_tail)
        t->held_tail->next = m;
    else
        t->held_head = m;
    t->held_tail = m;
    t->nheld++;
    if (!uv_is_active((uv_handle_t *)&t->held_timer))
        uv_timer_start(&t->held_timer, on_held_due, (uint64_t)ms, 0);
    return 0;
}

static void free_held(struct transport *t)
{
    while (t->held_head) {
        struct held *m = t->held_head;
        t->held_head = m->next;
        nng_msg_free(m->msg);
        free(m);
    }
    t->held_tail = NULL;
    t->nheld = 0;
}

int transport_send(struct transport *t, int idx, const void *buf, size_t len)
{
    if (idx < 0 || idx >= t->nout)
        return -1;
    long verdict = t->filter ? t->filter(t->filter_ctx, TRANSPORT_OUT, idx) : TRANSPORT_PASS;
    if (verdict == TRANSPORT_DROP)
        return -1;
    nng_msg *msg;
    if (nng_msg_alloc(&msg, 0) != 0)
        return -1;
    if (nng_msg_append(msg, buf, len) != 0 ||
        (verdict > 0 ? hold(t, idx, msg, verdict)
                     : nng_sendmsg(t->out[idx], msg, NNG_FLAG_NONBLOCK)) != 0) {
        nng_msg_free(msg);
        return -1;
    }
    return 0;
}

void transport_set_filter(struct transport *t, transport_filter_fn fn, void *ctx)
{
    t->filter = fn;
    t->filter_ctx = ctx;
}

void transport_set_notice(struct transport *t, transport_notice_fn fn, void *ctx)
{
    t->notice = fn;
    t->notice_ctx = ctx;
}

static void on_handle_closed(uv_handle_t *h)
{
    struct transport *t = h->data;
    if (--t->open_handles > 0)
        return;
    nng_close(t->inbox); /* no pipe callback runs after this returns */
    nng_mtx_free(t->mtx);
    free(t);
}

void transport_stop(struct transport *t)
{
    /* Close the push sockets now; the inbox only once uv has let go of its
     * notification fd, so the poll never watches a closed descriptor. */
    nng_mtx_lock(t->mtx);
    t->stopping = true; /* pipe callbacks no longer wake the loop */
    int nout = t->nout;
    t->nout = 0;
    nng_mtx_unlock(t->mtx);
    free_held(t); /* before the sockets they would go out on close */
    for (int i = 0; i < nout; i++)
        nng_close(t->out[i]);
    uv_poll_stop(&t->poll);
    uv_close((uv_handle_t *)&t->poll, on_handle_closed);
    uv_close((uv_handle_t *)&t->wake, on_handle_closed);
    uv_close((uv_handle_t *)&t->idle_scan, on_handle_closed);
    uv_close((uv_handle_t *)&t->held_timer, on_handle_closed);
}
