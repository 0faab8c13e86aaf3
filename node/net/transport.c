#include "node/net/transport.h"
#include "node/net/transport_live.h"

#include <nng/nng.h>
#include <nng/protocol/pipeline0/pull.h>
#include <nng/protocol/pipeline0/push.h>
#include <nng/supplemental/util/platform.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PIPES (TRANSPORT_MAX_PIPES_PER_PEER * TRANSPORT_MAX_PEERS + TRANSPORT_SPARE_PIPES)
#define IDLE_SCAN_MS 1000
/* Overridable for the test of a redial on hearing a peer
 * (test_transport_redial), whose backoff never runs out. */
#ifndef RECONNECT_MIN_MS
#define RECONNECT_MIN_MS 50
#endif
#ifndef RECONNECT_MAX_MS
#define RECONNECT_MAX_MS 1000
#endif
#define SEND_QUEUE_MSGS 128
#define CLOSE_QUEUE_MIN TRANSPORT_MAX_PEERS
#define LIVE_SCANS_PER_WINDOW 4
#define LIVE_SCAN_MIN_MS 50

struct inbound {
    nng_pipe pipe;
    nng_time added;
    nng_time last; /* when it was added or last delivered an authentic message */
    bool vouched;  /* it delivered an authentic message (transport_heard) */
    int peer;      /* whose, as transport_heard last said (-1: unknown) */
};

struct transport;

/* Our push socket to one peer, its connection and how the conversation on
 * it goes (transport_live.h); guarded by the transport's lock.
 *
 * A push socket that lost a connection is never sent on again but replaced
 * (replace_outboxes): NNG 1.5's push protocol puts a connection back on its
 * list of ready ones when a send on it completes as it closes, and frees it
 * there, so the socket's next send goes through freed memory (chimerad died
 * in nng_sendmsg, in pthread_mutex_lock or calling a NULL function pointer,
 * after closing a dead connection). NNG frees a connection only after its
 * removal callback returned, and that callback waits for the lock sends
 * hold, so a send never meets a freed connection. */
struct outbox {
    struct transport *t;
    nng_socket sock; /* NNG_SOCKET_INITIALIZER while it could not be reopened */
    bool replace;    /* lost a connection: not sent on, replaced by the loop */
    nng_pipe pipe;   /* the open connection, if up */
    struct transport_live live;
    char url[256];
    uint64_t closes, reported; /* closed as dead; how many of those were reported */
    nng_time reported_at;
    /* Connections lost (counted under the lock), and what the link callback
     * was last told (loop thread). */
    uint64_t losses, told_losses;
    bool told_up;
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
    bool stopping; /* pipe callbacks do not wake the loop (also before wake exists) */
    /* Every socket is closed on a thread of its own, the replaced push
     * sockets as the loop goes on and all of them at the stop: nng_close
     * waits for NNG's reaper, which NNG 1.5.2 can wedge for good (a
     * connection closed while a read of it completes never finishes
     * closing: nng issue #1636), and neither the loop nor the stop may wait
     * on it without a bound (transport_drain). The queue grows rather than
     * falling back to a close on the loop: while the reaper is wedged
     * nothing closes anyway. */
    nng_thread *closer;
    nng_cv *close_cv; /* the closer has work; or it finished (closed) */
    nng_socket *to_close;
    int nclose, close_cap;
    bool closer_done;               /* close what is queued, then end */
    bool closed;                    /* the closer closed everything: no NNG thread touches this */
    struct transport *next_stopped; /* transport_drain's list (loop thread) */
    struct limit_report limited, idle;
    nng_pipe delivering; /* the pipe of the message on_recv is handling (loop thread) */
    transport_notice_fn notice;
    void *notice_ctx;
    transport_link_fn link;
    void *link_ctx;
    nng_socket inbox;
    struct outbox out[TRANSPORT_MAX_PEERS];
    int nout;
    int nstopped_out;     /* nout when transport_stop was called */
    uint64_t stale_ms;    /* transport_live's window */
    uv_timer_t live_scan; /* closes outgoing connections found dead */
    transport_recv_fn on_recv;
    void *ctx;
    transport_filter_fn filter;
    void *filter_ctx;
    uv_timer_t held_timer;              /* sends the held messages that are due */
    struct held *held_head, *held_tail; /* in the order they are due */
    size_t nheld;
    /* nng_recvmsg and nng_sendmsg allocate an aio per call, and NNG 1.5
     * draws a random number (a getrandom) for each: the loop reuses these
     * (rx on the loop thread, tx under mtx). */
    nng_aio *rx, *tx;
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

static void replace_outboxes(struct transport *t);

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
        replace_outboxes(t);
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

/* Tells the link callback what changed since it was last told: a loss
 * first (even if the connection is back already: the layer above may
 * have lost messages, and the peer may have restarted), then an open. */
static void report_links(struct transport *t)
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
    replace_outboxes(a->data);
    report_links(a->data);
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

/* Pipe callbacks of a push socket (NNG threads): its connection opened or
 * closed. A socket that lost its connection is replaced (struct outbox),
 * which redials the peer; the callbacks of a socket already replaced change
 * nothing. */
static void on_out_pipe(nng_pipe p, nng_pipe_ev ev, void *arg)
{
    struct outbox *o = arg;
    struct transport *t = o->t;
    int sock = nng_socket_id(nng_pipe_socket(p));
    nng_mtx_lock(t->mtx);
    if (sock != nng_socket_id(o->sock)) {
        /* replaced, or being closed by replace_outboxes */
    } else if (ev == NNG_PIPE_EV_ADD_POST) {
        o->pipe = p;
        transport_live_up(&o->live, nng_clock());
        if (!t->stopping)
            uv_async_send(&t->wake); /* the link callback hears it is up */
    } else {
        o->replace = true;
        o->losses++;
        o->pipe = (nng_pipe)NNG_PIPE_INITIALIZER;
        transport_live_down(&o->live);
        if (!t->stopping)
            uv_async_send(&t->wake); /* under the lock: cannot race uv_close */
    }
    nng_mtx_unlock(t->mtx);
}

static void close_later(struct transport *t, nng_socket s);

static int set_reconnect(nng_socket s)
{
    int rv = nng_socket_set_ms(s, NNG_OPT_RECONNMINT, RECONNECT_MIN_MS);
    if (rv == 0)
        rv = nng_socket_set_ms(s, NNG_OPT_RECONNMAXT, RECONNECT_MAX_MS);
    return rv;
}

/* Opens o's push socket and dials o->url (non-blocking; NNG reconnects by
 * itself until the connection is lost once). Returns 0, or an NNG error
 * with o->sock left invalid. */
static int open_outbox(struct transport *t, struct outbox *o)
{
    nng_socket s = NNG_SOCKET_INITIALIZER;
    int rv = nng_push0_open(&s);
    if (rv != 0)
        return rv;
    nng_mtx_lock(t->mtx); /* before the dial: its callbacks look for it */
    o->sock = s;
    o->replace = false;
    nng_mtx_unlock(t->mtx);
    rv = set_reconnect(s);
    if (rv == 0)
        rv = nng_pipe_notify(s, NNG_PIPE_EV_ADD_POST, on_out_pipe, o);
    if (rv == 0)
        rv = nng_pipe_notify(s, NNG_PIPE_EV_REM_POST, on_out_pipe, o);
    /* A bounded queue per peer absorbs short stalls; NNG builds without
     * push send buffers report ENOTSUP, which only costs the buffering. */
    if (rv == 0) {
        rv = nng_socket_set_int(s, NNG_OPT_SENDBUF, SEND_QUEUE_MSGS);
        if (rv == NNG_ENOTSUP)
            rv = 0;
    }
    if (rv == 0)
        rv = nng_dial(s, o->url, NULL, NNG_FLAG_NONBLOCK);
    if (rv != 0) {
        nng_mtx_lock(t->mtx);
        o->sock = (nng_socket)NNG_SOCKET_INITIALIZER;
        o->replace = true;
        nng_mtx_unlock(t->mtx);
        close_later(t, s); /* its callbacks find it replaced */
    }
    return rv;
}

/* Closes in the order queued: at the stop the push sockets go before the
 * inbox. */
static void closer_main(void *arg)
{
    struct transport *t = arg;
    nng_mtx_lock(t->mtx);
    for (int next = 0;;) {
        while (next == t->nclose && !t->closer_done)
            nng_cv_wait(t->close_cv);
        if (next == t->nclose)
            break;
        nng_socket s = t->to_close[next++];
        nng_mtx_unlock(t->mtx);
        nng_close(s);
        nng_mtx_lock(t->mtx);
        if (next == t->nclose)
            next = t->nclose = 0; /* all done: the slots are free again */
    }
    t->closed = true;
    nng_cv_wake(t->close_cv);
    nng_mtx_unlock(t->mtx);
}

/* Queues s for the closer (call with the lock held). Returns false when
 * memory ran out. */
static bool queue_close(struct transport *t, nng_socket s)
{
    if (t->nclose == t->close_cap) {
        int cap = t->close_cap ? 2 * t->close_cap : CLOSE_QUEUE_MIN;
        nng_socket *grown = realloc(t->to_close, (size_t)cap * sizeof(*grown));
        if (!grown)
            return false;
        t->to_close = grown;
        t->close_cap = cap;
    }
    t->to_close[t->nclose++] = s;
    nng_cv_wake(t->close_cv);
    return true;
}

static void close_later(struct transport *t, nng_socket s)
{
    nng_mtx_lock(t->mtx);
    bool queued = queue_close(t, s);
    nng_mtx_unlock(t->mtx);
    if (!queued)
        nng_close(s); /* out of memory: better a wait than a socket left open */
}

/* Closes the push sockets that lost their connection (struct outbox) and
 * opens new ones, which dial the peers again (resolving their names again);
 * what their queues held is dropped, as on any lost connection. One that
 * cannot be reopened is tried again at the next call. Loop thread. */
static void replace_outboxes(struct transport *t)
{
    for (int i = 0; i < t->nout; i++) {
        struct outbox *o = &t->out[i];
        nng_mtx_lock(t->mtx);
        bool due = o->replace;
        nng_socket old = o->sock;
        if (due) {
            o->sock = (nng_socket)NNG_SOCKET_INITIALIZER;
            o->pipe = (nng_pipe)NNG_PIPE_INITIALIZER;
            transport_live_down(&o->live);
        }
        nng_mtx_unlock(t->mtx);
        if (!due)
            continue;
        if (nng_socket_id(old) > 0)
            close_later(t, old); /* its pipe callbacks find it replaced */
        open_outbox(t, o);
    }
}

/* One line on a connection closed as dead, at most once an interval per
 * peer (call with the lock held); false when there is nothing to say now. */
static bool take_stale_report(struct outbox *o, enum transport_live_verdict v, uint64_t silent_ms,
                              nng_time now, char *msg, size_t len)
{
    o->closes++;
    if (o->reported > 0 && now - o->reported_at < TRANSPORT_NOTICE_INTERVAL_MS)
        return false;
    char more[64] = "";
    if (o->closes - o->reported > 1)
        snprintf(more, sizeof more, " (%llu closes since the last report)",
                 (unsigned long long)(o->closes - o->reported));
    if (v == TRANSPORT_LIVE_SILENT)
        snprintf(msg, len,
                 "%s: nothing heard from it for %llu.%03llu s while sending; closing the "
                 "connection to redial it (resolving its name again)%s",
                 o->url, (unsigned long long)(silent_ms / 1000),
                 (unsigned long long)(silent_ms % 1000), more);
    else
        snprintf(msg, len,
                 "%s: it reconnected to this node (it no longer heard this node); closing the "
                 "connection to it to redial it (resolving its name again)%s",
                 o->url, more);
    o->reported = o->closes;
    o->reported_at = now;
    return true;
}

/* A black-holed connection never fails by itself (transport_live.h): close
 * the ones found dead, and NNG redials them. */
static void on_live_scan(uv_timer_t *h)
{
    struct transport *t = h->data;
    char says[TRANSPORT_MAX_PEERS][512];
    bool say[TRANSPORT_MAX_PEERS];
    int n = 0;
    nng_time now = nng_clock();
    nng_mtx_lock(t->mtx);
    for (int i = 0; i < t->nout; i++) {
        struct outbox *o = &t->out[i];
        enum transport_live_verdict v = transport_live_check(&o->live, now, t->stale_ms);
        if (v == TRANSPORT_LIVE_KEEP)
            continue;
        say[n] = take_stale_report(o, v, transport_live_silent_ms(&o->live, now), now, says[n],
                                   sizeof says[n]);
        n++;
        o->replace = true; /* closing its socket closes the connection */
        o->losses += nng_pipe_id(o->pipe) > 0;
    }
    nng_mtx_unlock(t->mtx);
    replace_outboxes(t);
    report_links(t);
    for (int i = 0; i < n; i++) {
        if (say[i] && t->notice)
            t->notice(t->notice_ctx, "transport.pipe_stale", says[i]);
    }
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
        (rv = nng_thread_create(&t->closer, closer_main, t)) != 0) {
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

int transport_add_peer(struct transport *t, const char *url, char *err, size_t errlen)
{
    if (t->nout >= TRANSPORT_MAX_PEERS) {
        snprintf(err, errlen, "transport: too many peers");
        return -1;
    }
    nng_mtx_lock(t->mtx); /* an earlier failed dial's callbacks may still touch the slot */
    struct outbox *o = &t->out[t->nout];
    *o = (struct outbox){.t = t, .pipe = NNG_PIPE_INITIALIZER};
    snprintf(o->url, sizeof o->url, "%s", url);
    nng_mtx_unlock(t->mtx);
    int rv = open_outbox(t, o);
    if (rv != 0) {
        snprintf(err, errlen, "transport: cannot dial %s: %s", url, nng_strerror(rv));
        return -1;
    }
    nng_mtx_lock(t->mtx); /* pipe_cap reads nout on NNG's threads */
    int idx = t->nout++;
    nng_mtx_unlock(t->mtx);
    return idx;
}

/* Sends msg to peer idx, or returns nonzero (msg still ours). An attempt
 * counts as sending: a black-holed connection shows as a full queue. */
static int send_now(struct transport *t, int idx, nng_msg *msg)
{
    struct outbox *o = &t->out[idx];
    int rv = NNG_ECLOSED;
    /* Held across the send: a connection is freed only after its removal
     * callback, which takes the lock and marks the socket (struct outbox). A
     * non-blocking send waits for no NNG thread. */
    nng_mtx_lock(t->mtx);
    if (!o->replace) {
        transport_live_sent(&o->live, nng_clock());
        /* What nng_sendmsg(NNG_FLAG_NONBLOCK) does, with our aio. */
        nng_aio_set_msg(t->tx, msg);
        nng_aio_set_timeout(t->tx, NNG_DURATION_ZERO);
        nng_send_aio(o->sock, t->tx);
        nng_aio_wait(t->tx);
        rv = nng_aio_result(t->tx);
        nng_aio_set_msg(t->tx, NULL); /* on failure msg is still ours */
    }
    nng_mtx_unlock(t->mtx);
    return rv;
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
        if (m->idx >= t->nout || send_now(t, m->idx, m->msg) != 0)
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
        (verdict > 0 ? hold(t, idx, msg, verdict) : send_now(t, idx, msg)) != 0) {
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

void transport_set_stale_ms(struct transport *t, uint64_t ms)
{
    if (ms < TRANSPORT_STALE_MIN_MS)
        ms = TRANSPORT_STALE_MIN_MS;
    nng_mtx_lock(t->mtx);
    t->stale_ms = ms;
    nng_mtx_unlock(t->mtx);
    uint64_t every = ms / LIVE_SCANS_PER_WINDOW;
    if (every < LIVE_SCAN_MIN_MS)
        every = LIVE_SCAN_MIN_MS;
    uv_timer_start(&t->live_scan, on_live_scan, every, every);
}

void transport_set_link(struct transport *t, transport_link_fn fn, void *ctx)
{
    t->link = fn;
    t->link_ctx = ctx;
    report_links(t); /* connections opened before this call */
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
            queued = queued && queue_close(t, t->out[i].sock);
    queued = queued && queue_close(t, t->inbox);
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
    free_held(t);
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
