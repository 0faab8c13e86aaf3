/* Offline verification of a ledger directory (a stopped node's, or a
 * copy): framing, CRCs, decoding, index continuity, the hash chain, segment
 * names, and every checkpoint, cosignature and evidence signature. Opens
 * everything read-only and changes nothing.
 *
 * Keys: with pinned keys (chimeractl --pubkey), every signature must be by
 * one of them. Without, every signature must be by the key that the
 * membership entries at or below the statement's index record for its
 * signer; this proves the ledger consistent with itself, not who wrote it,
 * so pin keys to anchor trust. A checkpoint is notarized when a majority of
 * the keys in force (the pinned ones, or the members at its index) signed
 * it. Entries after the last checkpoint are not covered by any signature;
 * the report counts them. Removing whole records from the end of the last
 * segment leaves a valid shorter ledger: only a notarized checkpoint held
 * elsewhere (another node's) can tell. */
#ifndef CHIMERA_LEDGER_VERIFY_H
#define CHIMERA_LEDGER_VERIFY_H

#include "ledger/store.h"

enum ledger_verdict {
    LEDGER_VERIFY_OK = 0,
    /* Only the tail of the last segment is damaged, as a crash during an
     * append leaves it (see struct ledger_recovery): the node will cut it
     * at start-up. Any damage to the last record of the last segment is
     * classified so, whatever byte it hit (its length, CRC or body), since a
     * torn write can leave any of these: what tells tampering apart is a
     * valid record after the damage. */
    LEDGER_VERIFY_TORN_TAIL,
    /* Damage with valid records after it, a bad CRC, hash, signature or
     * key anywhere but the tail, a broken chain, or records reordered,
     * removed (except from the end) or duplicated. */
    LEDGER_VERIFY_TAMPERED,
    /* Equivocation: two validly signed checkpoints disagree about one index,
     * or the ledger holds equivocation evidence. */
    LEDGER_VERIFY_FORKED,
    LEDGER_VERIFY_UNREADABLE, /* the directory or a file cannot be read */
};

struct ledger_verify_report {
    enum ledger_verdict verdict;
    struct ledger_problem at; /* verdict != OK: the first problem */
    uint64_t torn_bytes;      /* TORN_TAIL: bytes from at.offset to the end */

    /* What was verified, up to the first problem. */
    uint64_t segments, bytes;
    uint64_t entries, last_index, last_term;
    uint8_t head_hash[LEDGER_HASH_BYTES];
    uint64_t checkpoints, cosignatures, evidence;
    uint64_t last_checkpoint; /* index; 0: none */
    uint64_t last_notarized;  /* index of the last notarized checkpoint; 0: none */
    uint64_t uncovered;       /* entries after the last checkpoint */
    size_t keys;              /* pinned keys, or members at the last index */
    bool pinned;              /* keys came from the caller */
};

/* Verifies the ledger in ledger_dir (the directory holding seg-*.log, i.e.
 * DATA/ledger). pinned may be NULL (npinned 0): keys then come from the
 * membership entries. Returns rep->verdict. */
enum ledger_verdict ledger_verify(const char *ledger_dir,
                                  const uint8_t (*pinned)[LEDGER_PUBKEY_BYTES], size_t npinned,
                                  struct ledger_verify_report *rep);

/* "ok", "torn_tail", "tampered", "forked", "unreadable". */
const char *ledger_verdict_name(enum ledger_verdict v);

#endif
