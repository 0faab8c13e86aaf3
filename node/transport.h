/* Node-to-node transport: one NNG pull0 inbox, one push0 socket dialed to
 * each peer's inbox, all driven from the libuv loop through NNG_OPT_RECVFD
 * and uv_poll. Sends never block: a full or unconnected peer drops the
 * message and the protocol above retransmits. Bytes only; sealing and
 * decoding are the caller's. */
#ifndef CHIMERA_TRANSPORT_H
#define CHIMERA_TRANSPORT_H

#include <stddef.h>
#include <uv.h>

struct transport;

/* Called on the loop thread for every message received. buf is valid only
 * during the call. */
typedef void (*transport_recv_fn)(void *ctx, const void *buf, size_t len);

/* Listens on listen_url. On failure returns an NNG error code and writes one
 * line to err; NNG_EADDRINUSE means the port is taken. */
int transport_start(struct transport **out, uv_loop_t *loop, const char *listen_url,
                    transport_recv_fn on_recv, void *ctx, char *err, size_t errlen);

/* Dials url (non-blocking; NNG reconnects by itself). Returns the peer's
 * index for transport_send, or -1 with err filled. */
int transport_add_peer(struct transport *t, const char *url, char *err, size_t errlen);

/* Queues a copy of buf to peer idx. Returns 0, or -1 when the message was
 * dropped (peer unconnected or its queue full). */
int transport_send(struct transport *t, int idx, const void *buf, size_t len);

/* Stops polling and closes every socket; the struct is freed once libuv has
 * closed the poll handle (run the loop after calling this). */
void transport_stop(struct transport *t);

#endif
