/* The wire envelope between nodes.
 *
 * On the wire: nonce (24 bytes) || crypto_secretbox(plaintext, nonce, key).
 * The nonce is 16 bytes drawn once per process and the counter (envelope.c
 * says why that never repeats one); receivers take it as it comes.
 * Plaintext: the msgpack array [version, type, from, counter, body], where
 * body is one msgpack object whose shape depends on type. counter is the
 * sender's monotonic message counter; receivers reject replays with a
 * sliding window (env_replay_*).
 *
 * Decoding is defensive: msgpack-c has no limits of its own, so the
 * plaintext is pre-scanned with wire_prescan (container counts no larger
 * than the bytes left, nesting no deeper than ENV_MAX_DEPTH, the whole
 * buffer exactly one object) before it is unpacked, and every field's type
 * is checked. */
#ifndef CHIMERA_ENVELOPE_H
#define CHIMERA_ENVELOPE_H

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ENV_VERSION 1
#define ENV_MAX_DEPTH 8
#define ENV_KEY_BYTES 32
#define ENV_FROM_MAX 64 /* including the NUL */
#define ENV_MAX_MSG (4u * 1024u * 1024u)
#define ENV_NONCE_BYTES 24
#define ENV_NONCE_PREFIX_BYTES 16 /* then the counter, 8 bytes big-endian */

/* The envelope types and the kinds of ENV_LEDGER messages: numbers on the
 * wire, never renumbered (a mixed-version cluster must still talk). Who
 * handles each, and the shape it must have: node/msg.c, the one registry. */
enum env_type {
    /* Liveness, boot epoch, HTTP address and public key, sent to every member
     * on the node's tick (node/msg.c: node_msg_send_hello). Not Raft's
     * heartbeat: that is CONS_MSG_HEARTBEAT inside ENV_CONSENSUS, sent
     * on the consensus timer (raft/node_cons.c: cons_timer). */
    ENV_HELLO = 1,
    ENV_CONSENSUS = 2, /* body: see cons_msg_encode */
    ENV_LEDGER = 3,    /* body: [kind (enum msg_kind), ...] */
    ENV_TYPE_MAX       /* first unused type */
};

/* ENV_LEDGER kinds. */
enum msg_kind {
    MSG_CHECKPOINT = 1,     /* a leader's signed checkpoint (witness/node_witness.c) */
    MSG_COSIGN = 2,         /* a member's cosignature of one (witness/node_witness.c) */
    MSG_EPISODE_REPORT = 3, /* a read-only episode to record (witness/node_episodes.c) */
    MSG_EPISODE_ACK = 4,    /* its entry's index (witness/node_episodes.c) */
    MSG_DEPLOY_REPORT = 5,  /* the health of the release running there (deploy/deploy_run.c) */
    MSG_PLAN_PROBE = 6,     /* the leader asks to heal and probe (deploy/deploy_plan.c) */
    MSG_PLAN_FACTS = 7,     /* a member's answer (deploy/deploy_plan.c) */
    MSG_CRASH_LOOP = 8,     /* a service's crash loop, to the leader (chaos/watch_lead.c) */
    MSG_CRASH_VERDICT = 9,  /* the leader's verdict on it (chaos/watch_lead.c) */
    MSG_RECOVERY = 10,      /* a recovery to record in the ledger (chaos/watch_lead.c) */
    MSG_RECOVERY_ACK = 11,  /* its entry's index (chaos/watch_lead.c) */
    MSG_KIND_MAX            /* first unused kind */
};

enum env_error {
    ENV_OK = 0,
    ENV_ETOOSHORT,  /* shorter than nonce + MAC */
    ENV_ETOOLONG,   /* larger than ENV_MAX_MSG */
    ENV_EAUTH,      /* did not open with the cluster key */
    ENV_EMALFORMED, /* pre-scan or unpack failed, or trailing bytes */
    ENV_ESHAPE,     /* not [version, type, from, counter, body] with the right types */
    ENV_EVERSION,   /* unsupported version */
    ENV_ENOMEM,
};

/* A decoded envelope. body points into zone, which env_msg_free releases. */
struct env_msg {
    uint32_t version;
    uint32_t type;
    char from[ENV_FROM_MAX];
    uint64_t counter;
    msgpack_object body;
    msgpack_zone *zone;
};

/* Seals [ENV_VERSION, type, from, counter, body] where body_mp is exactly one
 * already-encoded msgpack object. *out is malloc'ed; the caller frees it. */
int env_seal(const uint8_t key[ENV_KEY_BYTES], uint32_t type, const char *from, uint64_t counter,
             const void *body_mp, size_t body_len, uint8_t **out, size_t *out_len);

/* The nonce env_seal uses: prefix || counter (big-endian). */
void env_nonce(uint8_t nonce[ENV_NONCE_BYTES], const uint8_t prefix[ENV_NONCE_PREFIX_BYTES],
               uint64_t counter);

/* Opens and decodes buf. On ENV_OK, msg must be released with env_msg_free. */
enum env_error env_open(const uint8_t key[ENV_KEY_BYTES], const void *buf, size_t len,
                        struct env_msg *msg);

void env_msg_free(struct env_msg *msg);

/* A short lower-case reason for err, for metrics labels and events. */
const char *env_strerror(enum env_error err);

/* Replay protection. Senders draw counters from the wall clock (seconds
 * << 32 plus the fraction: env_counter_at), so a restarted sender moves
 * past its old counters. A receiver keeps, per sender, a 64-message
 * sliding window over the counters it accepted, in memory only; what it
 * accepted before a restart is forgotten, so a restarted receiver also
 * refuses every counter sealed before it started (the floor: its own clock
 * at start). Frames captured before the restart are then refused, at no
 * cost in fsyncs and with no handshake. The price is clock skew: a sender
 * whose clock is d behind the receiver's is heard only d after the
 * receiver started (node.c reports a lag beyond the dead-after time as
 * transport.clock_skew), and one whose clock is ahead could have frames it
 * sealed up to that much before the restart replayed once. Keep the
 * members' clocks synchronized (NTP). */
struct env_replay {
    uint64_t floor;  /* counters at or below it are stale; 0: none */
    uint64_t top;    /* highest counter accepted; 0 = none yet */
    uint64_t window; /* bit i set: counter top - i was accepted */
};

enum env_verdict {
    ENV_FRESH,  /* accepted, and recorded */
    ENV_REPLAY, /* accepted before, or older than the window */
    ENV_STALE,  /* sealed at or before the floor: before this receiver started */
};

/* The counter of wall-clock time sec.nsec (nsec < 1e9). */
uint64_t env_counter_at(uint64_t sec, uint32_t nsec);

/* Milliseconds of the wall-clock time a counter stands for. */
uint64_t env_counter_ms(uint64_t counter);

/* A receiver starting at wall-clock counter floor: nothing accepted yet,
 * and every counter at or below floor stale. */
void env_replay_start(struct env_replay *r, uint64_t floor);

/* Judges counter and records it when fresh. */
enum env_verdict env_replay_check(struct env_replay *r, uint64_t counter);

/* Whether env_replay_check finds counter fresh (and records it). */
bool env_replay_accept(struct env_replay *r, uint64_t counter);

#endif
