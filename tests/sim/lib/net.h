/* The simulated network: messages in flight ordered by delivery time, a
 * directed link matrix (link[a][b]: a can send to b), and for every directed
 * path the time it last became unusable, which the checker uses to decide
 * who could have heard whom. */
#ifndef SIM_NET_H
#define SIM_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "consensus/consensus.h"
#include "lib/rng.h"

#define NET_MAX_NODES 7
#define NET_NEVER UINT64_MAX
/* The largest one-way latency of any message, spikes included (ms). Every
 * timing bound of the checker is derived from it and T. */
#define NET_D_MAX 75u

struct net_msg {
    uint64_t at;  /* delivery time */
    uint64_t seq; /* send order: breaks ties, so replays are exact */
    uint32_t inc; /* the receiver's incarnation when sent */
    struct cons_msg m;
    /* APPEND: the carried entries (metadata and payload ids), owned by the
     * message: m.entries is NULL in flight and set on delivery. */
    struct cons_entry *ents;
    uint64_t *payloads;
};

/* A connection notice on its way to a node's core (cons_peer_lost, or
 * cons_peer_back when up): what its transport reports when its connection
 * to peer drops or opens again. cut: the flap also cuts the pair's link
 * while it is down (flapping schedules only, which have no other link
 * faults to undo). */
struct net_notice {
    uint64_t at, seq;
    uint32_t inc; /* the receiver's incarnation when queued */
    int8_t to, peer;
    bool up, cut;
};
#define NET_MAX_NOTICES 1024

struct net {
    int n;
    struct net_notice notes[NET_MAX_NOTICES]; /* unordered: n is small */
    size_t nnotes;
    struct net_msg *q; /* binary min-heap on (at, seq) */
    size_t len, cap;
    uint64_t seq;
    bool link[NET_MAX_NODES][NET_MAX_NODES];
    /* The directed path a->b is usable when link[a][b] holds and b is up (a
     * message already sent still arrives after its sender crashes). NET_NEVER
     * while usable, else the time it stopped being usable. */
    uint64_t down_since[NET_MAX_NODES][NET_MAX_NODES];
    /* Fault knobs. */
    uint32_t drop_ppm, dup_ppm, spike_ppm;
    uint32_t lat_min, lat_max; /* normal latency in [lat_min, lat_max] */
};

void net_init(struct net *net, int n);
void net_free(struct net *net);
/* Queues a copy of m, and of its m->n_entries entries and payload ids when
 * ents is not NULL. */
void net_push(struct net *net, uint64_t at, uint32_t inc, const struct cons_msg *m,
              const struct cons_entry *ents, const uint64_t *payloads);
/* The earliest delivery time, or NET_NEVER when nothing is in flight. */
uint64_t net_next(const struct net *net);
/* Hands the earliest message over: the caller frees it with net_msg_free. */
void net_pop(struct net *net, struct net_msg *out);
void net_msg_free(struct net_msg *nm);
/* Loses every message in flight to node; returns how many. */
size_t net_purge_to(struct net *net, int node);
/* Recomputes down_since after a change of links or of which nodes are up. */
void net_refresh(struct net *net, const bool *up, uint64_t now);
/* The path a->b has been usable at some moment of (now - window, now]. */
bool net_fresh(const struct net *net, int a, int b, uint64_t window, uint64_t now);
/* A latency drawn from the current profile, never above NET_D_MAX. */
uint32_t net_latency(const struct net *net, struct rng *r);
void net_heal_links(struct net *net);
/* Queues a notice (dropped when the queue is full: notices may be lost,
 * the core must cope). */
void net_notice(struct net *net, const struct net_notice *nt);
/* The earliest notice's time, or NET_NEVER. */
uint64_t net_notice_next(const struct net *net);
/* Takes the earliest notice (ties in queue order). */
void net_notice_pop(struct net *net, struct net_notice *out);

#endif
