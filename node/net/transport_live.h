/* When an outgoing connection to a peer is dead though NNG still holds it.
 *
 * A TCP connection whose path went away without a reset (the peer's or this
 * node's address changed, a firewall started dropping it) is black-holed:
 * sends queue in the kernel without an error, NNG keeps the pipe, and its
 * dialer never redials, so it never resolves the peer's name again, until
 * TCP gives up (tcp_retries2: about 15 minutes). TCP keepalive does not help:
 * NNG_OPT_TCP_KEEPALIVE only sets SO_KEEPALIVE (probes after the kernel's
 * 2 h of idleness), and a connection with unacknowledged data is not idle.
 * So the transport watches the conversation instead; peers heartbeat both
 * ways every heartbeat, and this core says when to close our connection to
 * a peer so that NNG redials it:
 * - silence: nothing authentic heard from the peer for stale_ms while we
 *   kept sending to it;
 * - the peer redialed: its messages now come on a new connection, opened
 *   while ours was settled; it did so because it heard nothing from us
 *   (the rule above, on its side), so our direction is the dead one, though
 *   we still hear it.
 * A connection younger than stale_ms is always kept: a redial gets its
 * chance, and two peers answering each other's redial stop after one round.
 * Pure: times are ms on any monotonic clock, passed in. */
#ifndef CHIMERA_TRANSPORT_LIVE_H
#define CHIMERA_TRANSPORT_LIVE_H

#include <stdbool.h>
#include <stdint.h>

struct transport_live {
    bool up;            /* our connection to the peer is open */
    uint64_t up_since;  /* when it opened */
    uint64_t heard;     /* last authentic message from the peer; 0: never */
    uint64_t sent;      /* last message we sent it; 0: never */
    uint32_t heard_on;  /* the id of the connection that message came on; 0: none */
    bool peer_redialed; /* it came on a new connection while ours was settled */
    uint64_t redial_at; /* a redial on hearing the peer is allowed from then */
};

enum transport_live_verdict {
    TRANSPORT_LIVE_KEEP,
    TRANSPORT_LIVE_SILENT,        /* close: nothing heard for stale_ms while sending */
    TRANSPORT_LIVE_PEER_REDIALED, /* close: the peer stopped hearing us */
};

/* A peer that restarted is dialed again only when our dialer's backoff
 * (up to a second) runs out, so for up to a second it is reachable by the
 * nodes it dials but not by us: it can be chosen for a leadership transfer
 * or win an election and then lose check-quorum. Hearing it while our
 * connection is down means it is back: redial it now, rather than wait. At
 * most once per min_ms per peer: the redial's own connect gets its chance,
 * and a flood of messages cannot spin it. */
#define TRANSPORT_LIVE_REDIAL_MIN_MS 250

/* Whether to replace our socket to the peer now, having just heard it; a
 * yes counts as the redial. */
bool transport_live_redial_on_heard(struct transport_live *l, uint64_t now, uint64_t min_ms);

/* Our connection to the peer opened / closed. */
void transport_live_up(struct transport_live *l, uint64_t now);
void transport_live_down(struct transport_live *l);

/* We sent (or tried to send) the peer a message. */
void transport_live_sent(struct transport_live *l, uint64_t now);

/* An authentic message from the peer arrived on inbound connection conn
 * (any id > 0 that names it). */
void transport_live_heard(struct transport_live *l, uint32_t conn, uint64_t now, uint64_t stale_ms);

/* Whether to close our connection to the peer now. */
enum transport_live_verdict transport_live_check(const struct transport_live *l, uint64_t now,
                                                 uint64_t stale_ms);

/* How long the peer has been silent at now (since our connection opened,
 * if we heard it before that), for the report. */
uint64_t transport_live_silent_ms(const struct transport_live *l, uint64_t now);

#endif
