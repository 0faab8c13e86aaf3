/* Node-to-node transport: one NNG pull0 inbox, one push0 socket dialed to
 * each peer's inbox (a new one each time its connection is lost: NNG 1.5's
 * push cannot be sent on safely after that), all driven from the libuv loop
 * through NNG_OPT_RECVFD and uv_poll. Sends never block: a full or unconnected peer drops the
 * message and the protocol above retransmits. Bytes only; sealing and
 * decoding are the caller's.
 *
 * Inbound connections are bounded, since anyone who can reach the inbox
 * port can connect and NNG allocates the whole announced frame (up to
 * TRANSPORT_MAX_MSG) before the envelope is checked:
 * - at most TRANSPORT_MAX_PIPES_PER_PEER per peer plus TRANSPORT_SPARE_PIPES
 *   connections are open at once (each peer legitimately holds one); NNG
 *   hands us a connection after its SP handshake, before it can receive,
 *   and one beyond the cap takes the place of the oldest connection that
 *   never delivered an authentic message, or is closed when all did;
 * - a connection that delivers no authentic message (transport_heard) for
 *   TRANSPORT_IDLE_MS is closed (peers heartbeat at least every 10 s, the
 *   largest --heartbeat-ms), which also ends a frame announced and never
 *   sent and a stream of garbage;
 * - NNG itself closes a connection that does not finish the SP handshake
 *   within 10 s and backs off 10 ms when accept() runs out of descriptors.
 * Hitting the cap is reported through the notice callback, at most once
 * every TRANSPORT_NOTICE_INTERVAL_MS, with a count of what it held back. */
#ifndef CHIMERA_TRANSPORT_H
#define CHIMERA_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#define TRANSPORT_MAX_MSG (4u * 1024u * 1024u) /* the envelope's ENV_MAX_MSG */
#define TRANSPORT_MAX_PEERS 16 /* outboxes: at least the configuration's CONFIG_MAX_MEMBERS */
#define TRANSPORT_MAX_PIPES_PER_PEER 2
#define TRANSPORT_SPARE_PIPES 4
#define TRANSPORT_IDLE_MS 30000
#define TRANSPORT_NOTICE_INTERVAL_MS 10000
#define TRANSPORT_STALE_MS 1200    /* transport_set_stale_ms's default */
#define TRANSPORT_STALE_MIN_MS 500 /* below, a busy machine's stalls would look like deaths */
/* transport_set_reconnect_ms's defaults */
#define TRANSPORT_RECONNECT_MIN_MS 50
#define TRANSPORT_RECONNECT_MAX_MS 1000

struct transport;

/* Called on the loop thread to report a limit that was hit, with an event
 * kind ("transport.connection_limit") and one line. */
typedef void (*transport_notice_fn)(void *ctx, const char *kind, const char *msg);

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

/* Called from on_recv when the message it is handling proved authentic:
 * its connection is a peer's (kept at the cap, not idle), and peer (an index
 * from transport_add_peer, or -1 when it is none) is alive: see
 * transport_set_stale_ms. A peer heard while our connection to it is down
 * (it restarted) is redialed at once, not when the dialer's backoff runs
 * out (transport_live_redial_on_heard). */
void transport_heard(struct transport *t, int peer);

/* Outgoing connections are black-holed when their path goes away without a
 * reset (an address changed): TCP keeps them for many minutes. A connection
 * to a peer is closed, and so redialed (resolving the peer's name again),
 * when nothing authentic was heard from the peer for ms while sending to it,
 * or when the peer redialed us meanwhile (transport_live.h), reported as a
 * "transport.pipe_stale" notice. Peers hello each other every heartbeat: a
 * few election timeouts suit (at least TRANSPORT_STALE_MIN_MS). */
void transport_set_stale_ms(struct transport *t, uint64_t ms);

/* The backoff of the dialers opened from now on (transport_add_peer, and
 * each replacement of a lost connection's): NNG redials a peer it cannot
 * reach after min_ms, doubling up to max_ms. A peer heard again is
 * redialed at once whatever it says (transport_heard). */
void transport_set_reconnect_ms(struct transport *t, uint32_t min_ms, uint32_t max_ms);

/* From now on the caller runs transport_tick on a tick of its own, at
 * least every few hundred milliseconds (the node's heartbeat tick), and
 * the transport's scans (the live scan above, every stale window / 4, and
 * the close of inbound connections idle for TRANSPORT_IDLE_MS, every
 * second) ride on it rather than on timers of their own, which would wake
 * an idle loop ~4 times a second besides. Each scan keeps its period as a
 * floor; the tick's spacing bounds how much later it runs. */
void transport_ride_tick(struct transport *t);

/* The scans that are due (after transport_ride_tick; else nothing). */
void transport_tick(struct transport *t);

/* A filter on every message, both directions, for fault injection without
 * root (the transport knows nothing of why): dir says which way; peer is
 * transport_send's index for outgoing messages and -1 for incoming ones
 * (their sender is known only once the envelope is opened). Returns
 * TRANSPORT_PASS, TRANSPORT_DROP, or a number of ms > 0 to hold an outgoing
 * message that long before it is sent (an incoming one passes). */
enum transport_dir { TRANSPORT_OUT, TRANSPORT_IN };
#define TRANSPORT_PASS 0
#define TRANSPORT_DROP (-1)
#define TRANSPORT_HELD_MAX 4096 /* outgoing messages held at once; more are dropped */
typedef long (*transport_filter_fn)(void *ctx, enum transport_dir dir, int peer);

/* Sets the filter (NULL: none, the default). */
void transport_set_filter(struct transport *t, transport_filter_fn fn, void *ctx);

/* Called on the loop thread when a connection with peer idx (an index from
 * transport_add_peer) closed (up false: ours to it, or the one it sends on,
 * once transport_heard vouched for it; the peer's process died, or the
 * connection was reset or found silent: transport_set_stale_ms) or ours
 * opened again (up true). Ours closed because the peer redialed us is no
 * loss: the peer is heard on its new connection. Every loss is reported,
 * even when ours was back (or never closed) before the loop ran (then a
 * loss, then up); the first open is reported as up. */
typedef void (*transport_link_fn)(void *ctx, int peer, bool up);

/* Sets the connection callback (none by default). */
void transport_set_link(struct transport *t, transport_link_fn fn, void *ctx);

/* Sets the callback for limit notices (none by default). */
void transport_set_notice(struct transport *t, transport_notice_fn fn, void *ctx);

/* Stops polling; once libuv has closed the handles (run the loop after
 * calling this), every socket is closed on the transport's own thread. */
void transport_stop(struct transport *t);

/* After the loop ran out: waits up to ms for the stopped transports'
 * sockets to finish closing and frees them. Returns false when some did not
 * (NNG 1.5.2's reaper can wedge for good: nng issue #1636); they stay
 * allocated for NNG's threads, and since NNG's exit handler (nng_fini)
 * would wait for them too, the process should end with _exit. */
bool transport_drain(uint64_t ms);

#endif
