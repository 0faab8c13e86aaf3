/* Membership liveness: which members this node hears from. Pure: the shell
 * reports heartbeats and the time; this module says who is alive, suspect
 * or dead and which statuses changed. */
#ifndef CHIMERA_PEERS_H
#define CHIMERA_PEERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "node/base/config.h"
#include "node/base/envelope.h"

enum peer_status { PEER_DEAD = 0, PEER_SUSPECT, PEER_ALIVE };

struct peer {
    char id[CONFIG_ID_MAX];
    char address[CONFIG_URL_MAX]; /* NNG URL of its inbox */
    char http[CONFIG_URL_MAX];    /* its advertised HTTP address, learnt from hellos */
    bool self;
    bool heard; /* ever heard from since this node started */
    enum peer_status status;
    uint64_t last_contact; /* monotonic ms of the last valid message */
    uint64_t boot;         /* the peer's boot epoch from its last heartbeat */
    struct env_replay replay;
};

struct peers {
    struct peer m[CONFIG_MAX_MEMBERS];
    size_t n;
    size_t self;
    uint32_t suspect_after_ms;
    uint32_t dead_after_ms;
};

struct peer_change {
    size_t idx;
    enum peer_status from, to;
};

/* Members come from the configuration; this node is alive from the start. */
void peers_init(struct peers *p, const struct config *c, uint64_t now_ms);

/* Index of the member with this id, or -1. */
int peers_find(const struct peers *p, const char *id);

/* A valid message from member idx arrived at now_ms. Returns true and fills
 * *chg when its status changed. */
bool peers_heard(struct peers *p, size_t idx, uint64_t now_ms, struct peer_change *chg);

/* Re-evaluates every member at now_ms; writes up to max changes and returns
 * how many were written. */
size_t peers_tick(struct peers *p, uint64_t now_ms, struct peer_change *out, size_t max);

/* Milliseconds since member idx was last heard from, or -1 if never. */
int64_t peers_age_ms(const struct peers *p, size_t idx, uint64_t now_ms);

const char *peer_status_name(enum peer_status s);

#endif
