#include "node/transport.h"

#include <nng/nng.h>
#include <nng/protocol/pipeline0/pull.h>
#include <nng/protocol/pipeline0/push.h>
#include <stdio.h>
#include <stdlib.h>

#include "node/config.h"

#define RECV_MAX_BYTES (4u * 1024u * 1024u)
#define RECONNECT_MIN_MS 50
#define RECONNECT_MAX_MS 1000
#define SEND_QUEUE_MSGS 128

struct transport {
    uv_loop_t *loop;
    uv_poll_t poll;
    nng_socket inbox;
    nng_socket out[CONFIG_MAX_MEMBERS];
    int nout;
    transport_recv_fn on_recv;
    void *ctx;
};

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
        t->on_recv(t->ctx, nng_msg_body(msg), nng_msg_len(msg));
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
    if ((rv = nng_pull0_open(&t->inbox)) != 0) {
        snprintf(err, errlen, "transport: cannot open inbox socket: %s", nng_strerror(rv));
        free(t);
        return rv;
    }
    if ((rv = nng_socket_set_size(t->inbox, NNG_OPT_RECVMAXSZ, RECV_MAX_BYTES)) != 0 ||
        (rv = nng_listen(t->inbox, listen_url, NULL, 0)) != 0) {
        if (rv == NNG_EADDRINUSE)
            snprintf(err, errlen, "--listen: %s is already in use; pick a free port", listen_url);
        else
            snprintf(err, errlen, "--listen: cannot listen on %s: %s", listen_url,
                     nng_strerror(rv));
        nng_close(t->inbox);
        free(t);
        return rv;
    }
    if ((rv = nng_socket_get_int(t->inbox, NNG_OPT_RECVFD, &fd)) != 0 ||
        (rv = uv_poll_init(loop, &t->poll, fd)) != 0) {
        snprintf(err, errlen, "transport: cannot poll the inbox: %s",
                 rv > 0 ? nng_strerror(rv) : uv_strerror(rv));
        nng_close(t->inbox);
        free(t);
        return rv;
    }
    t->poll.data = t;
    uv_poll_start(&t->poll, UV_READABLE, on_readable);
    *out = t;
    return 0;
}

int transport_add_peer(struct transport *t, const char *url, char *err, size_t errlen)
{
    if (t->nout >= CONFIG_MAX_MEMBERS) {
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
    t->out[t->nout] = s;
    return t->nout++;
}

int transport_send(struct transport *t, int idx, const void *buf, size_t len)
{
    if (idx < 0 || idx >= t->nout)
        return -1;
    nng_msg *msg;
    if (nng_msg_alloc(&msg, 0) != 0)
        return -1;
    if (nng_msg_append(msg, buf, len) != 0 ||
        nng_sendmsg(t->out[idx], msg, NNG_FLAG_NONBLOCK) != 0) {
        nng_msg_free(msg);
        return -1;
    }
    return 0;
}

static void on_poll_closed(uv_handle_t *h)
{
    struct transport *t = h->data;
    nng_close(t->inbox);
    free(t);
}

void transport_stop(struct transport *t)
{
    /* Close the push sockets now; the inbox only once uv has let go of its
     * notification fd, so the poll never watches a closed descriptor. */
    for (int i = 0; i < t->nout; i++)
        nng_close(t->out[i]);
    t->nout = 0;
    uv_poll_stop(&t->poll);
    uv_close((uv_handle_t *)&t->poll, on_poll_closed);
}
