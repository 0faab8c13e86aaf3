/* Ledger entries: format, codec and hash. Pure: no I/O, no clock.
 *
 * Stored and sent bytes of an entry (the "exact bytes") are the msgpack
 * array
 *     [index (uint), term (uint), type (uint), timestamp_ms (uint),
 *      author (str: node id), payload (bin: one msgpack object),
 *      prev_hash (bin 32)]
 * and its hash is
 *     BLAKE2b-256("chimera/ledger/entry/v1" || prev_hash || exact bytes).
 * msgpack is not canonical (7 can be written in 1 or 9 bytes), so nothing
 * is ever re-encoded to be checked: the bytes that were received are the
 * bytes that are stored, hashed, signed and sent on. The decoder accepts
 * any msgpack integer width (a non-negative value in a signed format too),
 * so another encoder's entries verify; ledger_entry_encode always writes
 * the shortest form.
 *
 * Index 1 is the first entry and has prev_hash 32 zero bytes. Terms start
 * at 1 and never decrease along the chain. */
#ifndef CHIMERA_LEDGER_ENTRY_H
#define CHIMERA_LEDGER_ENTRY_H

#include "ledger/base.h"

#define LEDGER_ENTRY_HASH_TAG "chimera/ledger/entry/v1"

/* What an entry records. Values are part of the stored format: never
 * renumber. Decoders accept any type >= 1 (a newer node may write types an
 * older chimeractl does not know; the chain still verifies); only
 * LEDGER_ENTRY_MEMBERSHIP's payload is interpreted by the ledger. */
enum ledger_entry_type {
    LEDGER_ENTRY_ELECTION = 1,        /* a leader took office: the entry a new leader appends
                                       * at the start of its term (Raft's no-op) */
    LEDGER_ENTRY_MEMBERSHIP = 2,      /* a node joined or left, with its key: payload is
                                       * ledger_membership_encode's */
    LEDGER_ENTRY_READ_ONLY_ENTER = 3, /* a node lost its quorum-backed leader */
    LEDGER_ENTRY_READ_ONLY_EXIT = 4,  /* ... and heard one again */
    LEDGER_ENTRY_NOTE = 5,            /* an operator's note (POST /ledger/notes) */
    LEDGER_ENTRY_DEPLOYMENT = 6,      /* a release or one of its stages */
    LEDGER_ENTRY_ROLLBACK = 7,
    LEDGER_ENTRY_RECOVERY = 8,    /* a watchtower action */
    LEDGER_ENTRY_CHAOS = 9,       /* an injected fault, or a drill's result */
    LEDGER_ENTRY_CHECKPOINT = 10, /* a notarized checkpoint carried into the chain (its payload
                                   * is for the replication step to define) */
    LEDGER_ENTRY_EVIDENCE = 11,   /* equivocation evidence carried into the chain (idem) */
    LEDGER_ENTRY_TYPE_END         /* first unassigned value */
};

/* A decoded entry, or one to encode. On decode, payload points into the
 * decoded buffer, which must outlive it. */
struct ledger_entry {
    uint64_t index;        /* >= 1 */
    uint64_t term;         /* >= 1 */
    uint32_t type;         /* >= 1: enum ledger_entry_type or a later one */
    uint64_t timestamp_ms; /* the author's wall clock; shown, never ordered on */
    char author[LEDGER_ID_MAX];
    const uint8_t *payload; /* exactly one msgpack object, nesting <= LEDGER_MAX_DEPTH */
    size_t payload_len;
    uint8_t prev_hash[LEDGER_HASH_BYTES];
};

/* The exact size ledger_entry_encode writes (0 if e is not encodable). */
size_t ledger_entry_encoded_len(const struct ledger_entry *e);

/* Encodes e into out (cap bytes), setting *len. Refuses (LEDGER_EINVAL) an
 * index, term or type of 0, an author that is not a valid id or a payload
 * that is not exactly one msgpack object within the limits, and
 * (LEDGER_ETOOBIG) anything over LEDGER_MAX_ENTRY or cap. */
enum ledger_error ledger_entry_encode(const struct ledger_entry *e, uint8_t *out, size_t cap,
                                      size_t *len);

/* The entry's type alone, read from its first fields without checking the
 * rest (author, payload, prev_hash): a reader that wants only some types
 * skips the others cheaply and decodes the ones it wants in full.
 * LEDGER_EMALFORMED when even those fields are not an entry's. */
enum ledger_error ledger_entry_peek_type(const uint8_t *bytes, size_t len, uint32_t *type);

/* Decodes exactly len bytes, checking every field's msgpack type and value
 * (the same rules as encode) and that nothing trails the array. On error,
 * *why (if why is not NULL) names the problem in a few words. */
enum ledger_error ledger_entry_decode(const uint8_t *bytes, size_t len, struct ledger_entry *e,
                                      const char **why);

/* The entry hash over the exact bytes; prev_hash is the one the bytes hold
 * (the caller got it from ledger_entry_decode). */
void ledger_entry_hash(const uint8_t prev_hash[LEDGER_HASH_BYTES], const uint8_t *bytes, size_t len,
                       uint8_t out[LEDGER_HASH_BYTES]);

/* A short name for a type ("election", "note", ...), "unknown" otherwise. */
const char *ledger_entry_type_name(uint32_t type);

/* ---- membership payload ------------------------------------------------
 * A LEDGER_ENTRY_MEMBERSHIP payload is the msgpack array
 *     [op (uint), node (str: node id), pubkey (bin 32)]
 * with one change per entry (Raft's single-server changes). Rules, checked
 * wherever entries are accepted (append, open, verify):
 *   ADD    node is not a member and pubkey belongs to no member;
 *   REMOVE node is a member and pubkey is the key it was added with.
 * A key is pinned from its ADD until its REMOVE; rotating a key is REMOVE
 * then ADD. Decoders ignore elements after the third (room to grow). */
enum ledger_member_op { LEDGER_MEMBER_ADD = 1, LEDGER_MEMBER_REMOVE = 2 };

struct ledger_membership {
    uint32_t op; /* enum ledger_member_op */
    char node[LEDGER_ID_MAX];
    uint8_t pubkey[LEDGER_PUBKEY_BYTES];
};

#define LEDGER_MEMBERSHIP_MAX (1 + 5 + 1 + LEDGER_ID_MAX + 2 + LEDGER_PUBKEY_BYTES)

enum ledger_error ledger_membership_encode(const struct ledger_membership *m,
                                           uint8_t out[LEDGER_MEMBERSHIP_MAX], size_t *len);
enum ledger_error ledger_membership_decode(const uint8_t *payload, size_t len,
                                           struct ledger_membership *m);

#endif
