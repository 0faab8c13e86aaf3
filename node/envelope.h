/* The wire envelope between nodes.
 *
 * On the wire: nonce (24 bytes) || crypto_secretbox(plaintext, nonce, key).
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

enum env_type {
    ENV_HEARTBEAT = 1,
    ENV_CONSENSUS = 2, /* body: see cons_msg_encode */
    ENV_LEDGER = 3,    /* body: checkpoints, cosignatures, episodes (node_witness.c) */
    ENV_TYPE_MAX       /* first unused type */
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

/* Opens and decodes buf. On ENV_OK, msg must be released with env_msg_free. */
enum env_error env_open(const uint8_t key[ENV_KEY_BYTES], const void *buf, size_t len,
                        struct env_msg *msg);

void env_msg_free(struct env_msg *msg);

/* A short lower-case reason for err, for metrics labels and events. */
const char *env_strerror(enum env_error err);

/* Replay protection: a 64-message sliding window over a sender's counters.
 * Senders draw counters from the wall clock (seconds << 32 plus the
 * fraction), so a restarted sender moves past its old counters. */
struct env_replay {
    uint64_t top;    /* highest counter accepted; 0 = none yet */
    uint64_t window; /* bit i set: counter top - i was accepted */
};

/* Returns true and records counter if it is fresh, false if it is a replay
 * or too old to tell. */
bool env_replay_accept(struct env_replay *r, uint64_t counter);

#endif
