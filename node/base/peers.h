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
    /* The hello, sent only when due (peers_hello_due). */
    uint64_t sent_ms;  /* loop ms of the last message but a hello sent to it; 0: none */
    bool knows_us;     /* its last hello carried this node's boot epoch */
    bool wants_answer; /* its last hello asked for one, not sent yet */
    bool legacy;       /* its hellos are the old [boot, http, key]: hello it every tick */
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

/* One message per peer per heartbeat interval. Liveness (peers_heard),
 * the transport's stale check and Raft all count any authentic message, so
 * a peer that got one of Raft's from this node lately needs no hello; the
 * hello's own news (boot epoch, HTTP address, key) is new only after a
 * restart, and a restart is told until the peer says it knows:
 *   - a hello carries what the sender knows of the receiver's boot epoch
 *     (0: nothing) and whether the sender wants an answer (it has not seen
 *     its own current epoch in one of the receiver's hellos yet);
 *   - a hello is due to peer idx when nothing but hellos went to it for a
 *     heartbeat and a half (Raft's heartbeats, drifting against the tick,
 *     still cover it), or it has not shown it knows this node's epoch, or
 *     its last hello asked for an answer not yet sent. An answer wants none
 *     once the asker showed it knows, so the exchange ends (three hellos
 *     after a restart, more only when some are lost);
 *   - a peer of an earlier version, whose hellos carry neither field, gets
 *     one every tick, as before (rolling upgrade). */
struct peer_hello {
    uint64_t boot;      /* the sender's epoch */
    bool has_handshake; /* the two fields below were there (not a legacy hello) */
    uint64_t knows;     /* the sender's record of the receiver's epoch; 0: none */
    bool wants_answer;
};

/* A message was queued to member idx at now_ms (hello: an ENV_HELLO). */
void peers_sent(struct peers *p, size_t idx, bool hello, uint64_t now_ms);

/* A hello from member idx arrived (after its boot was recorded or not);
 * own_boot is this node's epoch. */
void peers_hello_heard(struct peers *p, size_t idx, const struct peer_hello *h, uint64_t own_boot);

/* Whether this node's tick at now_ms sends member idx a hello. */
bool peers_hello_due(const struct peers *p, size_t idx, uint64_t now_ms, uint32_t heartbeat_ms);

/* Whether a hello to member idx asks for an answer. */
bool peers_hello_wants_answer(const struct peers *p, size_t idx);

/* Milliseconds since member idx was last heard from, or -1 if never. */
int64_t peers_age_ms(const struct peers *p, size_t idx, uint64_t now_ms);

const char *peer_status_name(enum peer_status s);

#endif
