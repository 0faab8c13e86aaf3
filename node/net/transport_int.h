/* The transport's insides, shared by its two halves: transport.c (the
 * inbox, the connections peers open to us, their caps and reports, the
 * start and the stop) and transport_out.c (our push socket to each peer,
 * replaced when its connection is lost, the closer thread, the live scan,
 * and sending). Not for use outside node/net/transport*.c. */
#ifndef CHIMERA_NODE_NET_TRANSPORT_INT_H
#define CHIMERA_NODE_NET_TRANSPORT_INT_H

#include "node/base/tick_slack.h"
#include "node/net/transport.h"
#include "node/net/transport_live.h"

#include <nng/nng.h>
#include <nng/supplemental/util/platform.h>
#include <stdbool.h>
#include <stdint.h>

#define MAX_PIPES (TRANSPORT_MAX_PIPES_PER_PEER * TRANSPORT_MAX_PEERS + TRANSPORT_SPARE_PIPES)
#define IDLE_SCAN_MS 1000
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
    /* This socket's loss is counted already: the live scan that finds its
     * connection dead and the removal callback of the same connection
     * count one loss, not two. */
    bool lost;
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
    /* The scans ride on the caller's tick (transport_ride_tick) instead of
     * idle_scan and live_scan: their periods. */
    bool ridden;
    struct tick_every idle_every, live_every;
    /* The dialers' backoff (transport_set_reconnect_ms; loop thread). */
    uint32_t reconnect_min_ms, reconnect_max_ms;
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

/* transport_out.c */
void transport__closer_main(void *arg);
bool transport__queue_close(struct transport *t, nng_socket s);
void transport__replace_outboxes(struct transport *t);
void transport__free_held(struct transport *t);

/* transport.c */
void transport__report_links(struct transport *t);
/* Closes the outgoing connections found dead (transport_live.h). */
void transport__live_scan(struct transport *t);

#endif
