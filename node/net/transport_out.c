/* The sending half of the transport (transport_int.h): one push socket per
 * peer, replaced whenever its connection is lost or found dead, the thread
 * that closes sockets, and the filter's held messages. */
#include "node/net/transport_int.h"
#include "pipeline/core/manifest.h"

#include <nng/protocol/pipeline0/push.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
        o->losses += !o->lost;
        o->lost = true;
        o->pipe = (nng_pipe)NNG_PIPE_INITIALIZER;
        transport_live_down(&o->live);
        if (!t->stopping)
            uv_async_send(&t->wake); /* under the lock: cannot race uv_close */
    }
    nng_mtx_unlock(t->mtx);
}

static void close_later(struct transport *t, nng_socket s);

static int set_reconnect(const struct transport *t, nng_socket s)
{
    int rv = nng_socket_set_ms(s, NNG_OPT_RECONNMINT, (nng_duration)t->reconnect_min_ms);
    if (rv == 0)
        rv = nng_socket_set_ms(s, NNG_OPT_RECONNMAXT, (nng_duration)t->reconnect_max_ms);
    return rv;
}

void transport_set_reconnect_ms(struct transport *t, uint32_t min_ms, uint32_t max_ms)
{
    t->reconnect_min_ms = min_ms;
    t->reconnect_max_ms = max_ms > min_ms ? max_ms : min_ms;
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
    o->lost = false;
    nng_mtx_unlock(t->mtx);
    rv = set_reconnect(t, s);
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
void transport__closer_main(void *arg)
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
bool transport__queue_close(struct transport *t, nng_socket s)
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
    bool queued = transport__queue_close(t, s);
    nng_mtx_unlock(t->mtx);
    if (!queued)
        nng_close(s); /* out of memory: better a wait than a socket left open */
}

/* Closes the push sockets that lost their connection (struct outbox) and
 * opens new ones, which dial the peers again (resolving their names again);
 * what their queues held is dropped, as on any lost connection. One that
 * cannot be reopened is tried again at the next call. Loop thread. */
void transport__replace_outboxes(struct transport *t)
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
    char silent[32];
    if (v == TRANSPORT_LIVE_SILENT)
        snprintf(msg, len,
                 "%s: nothing heard from it for %s while sending; closing the connection to "
                 "redial it (resolving its name again)%s",
                 o->url, manifest_duration_text(silent_ms, silent, sizeof silent), more);
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
void transport__live_scan(struct transport *t)
{
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
        /* A peer that redialed us is alive: it is heard on its new
         * connection, and losing ours to it is no news to the layer above
         * (a follower would take it for its leader's death and stand for
         * election while that leader's heartbeats still reach it). One
         * silent for the whole window is found dead: a loss. */
        if (v == TRANSPORT_LIVE_SILENT && nng_pipe_id(o->pipe) > 0 && !o->lost) {
            o->losses++;
            o->lost = true;
        }
    }
    nng_mtx_unlock(t->mtx);
    transport__replace_outboxes(t);
    transport__report_links(t);
    for (int i = 0; i < n; i++) {
        if (say[i] && t->notice)
            t->notice(t->notice_ctx, "transport.pipe_stale", says[i]);
    }
}

static void on_live_scan(uv_timer_t *h)
{
    transport__live_scan(h->data);
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

void transport__free_held(struct transport *t)
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
    tick_every_init(&t->live_every, (uint32_t)every, uv_now(t->loop));
    if (!t->ridden)
        uv_timer_start(&t->live_scan, on_live_scan, every, every);
}
