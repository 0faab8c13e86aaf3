/* Node keys, signatures, checkpoints, cosignatures, notarization and
 * equivocation evidence. Everything here is pure except
 * ledger_key_load_or_create, which reads or writes DATA/node.key.
 *
 * Checkpoint: the msgpack array
 *     [origin (str: federation id), index (uint), head_hash (bin 32), term (uint)]
 * stating "in federation origin, the entry at index has hash head_hash",
 * signed by the leader of term. Witnesses (the other voters) sign the same
 * exact bytes: cosignatures. A checkpoint whose valid signatures come from
 * a quorum of pinned keys is notarized.
 *   checkpoint signature: Ed25519 over "chimera/ledger/checkpoint/v1" || bytes
 * An entry is signed directly through its statement, 48 bytes:
 *     u64 big-endian index || u64 big-endian term || entry hash
 *   entry signature: Ed25519 over "chimera/ledger/entry-sig/v1" || statement
 * The domain tags keep a signature of one kind from being passed off as
 * another. */
#ifndef CHIMERA_LEDGER_SIGN_H
#define CHIMERA_LEDGER_SIGN_H

#include "ledger/base.h"

#define LEDGER_CHECKPOINT_SIG_TAG "chimera/ledger/checkpoint/v1"
#define LEDGER_ENTRY_SIG_TAG "chimera/ledger/entry-sig/v1"
#define LEDGER_KEY_FILE "node.key"

/* Upper bound of an encoded checkpoint (and of any signed statement). */
#define LEDGER_CHECKPOINT_MAX (1 + 2 + LEDGER_ID_MAX + 9 + 2 + LEDGER_HASH_BYTES + 9)
#define LEDGER_ENTRY_STATEMENT_BYTES (8 + 8 + LEDGER_HASH_BYTES)

/* ---- keys ------------------------------------------------------------- */

struct ledger_key {
    uint8_t pk[LEDGER_PUBKEY_BYTES];
    uint8_t sk[LEDGER_SECKEY_BYTES];
};

/* Loads DIR/node.key, or creates it on first start: 64 lower-case hex
 * digits of an Ed25519 seed and a newline, mode 0600, written to a
 * temporary file, fsynced and linked into place (never overwriting a key
 * that appeared meanwhile). Refuses a key file that group or others may
 * read or write (like ssh), a malformed one, and a missing DIR. Returns 1
 * created, 0 loaded, -1 with one line in err. */
int ledger_key_load_or_create(const char *dir, struct ledger_key *key, char *err, size_t errlen);

/* A key from a known seed: for tests and the simulation. */
void ledger_key_from_seed(const uint8_t seed[LEDGER_SEED_BYTES], struct ledger_key *key);

/* Zeroes the secret key. */
void ledger_key_wipe(struct ledger_key *key);

/* A signature and who made it. signer is informational for pinned keys
 * given as bare public keys; for keys pinned by membership entries it must
 * be the node the key was recorded for. */
struct ledger_sig {
    char signer[LEDGER_ID_MAX];
    uint8_t pubkey[LEDGER_PUBKEY_BYTES];
    uint8_t sig[LEDGER_SIG_BYTES];
};

/* ---- checkpoints ------------------------------------------------------ */

struct ledger_checkpoint {
    char origin[LEDGER_ID_MAX];
    uint64_t index; /* >= 1 */
    uint8_t head_hash[LEDGER_HASH_BYTES];
    uint64_t term; /* >= 1: the signing leader's term (>= the entry's term) */
};

enum ledger_error ledger_checkpoint_encode(const struct ledger_checkpoint *cp,
                                           uint8_t out[LEDGER_CHECKPOINT_MAX], size_t *len);
/* Strict like ledger_entry_decode. */
enum ledger_error ledger_checkpoint_decode(const uint8_t *bytes, size_t len,
                                           struct ledger_checkpoint *cp);

/* Signs exact checkpoint bytes (the leader, or a witness cosigning). */
void ledger_checkpoint_sign(const struct ledger_key *key, const char *signer, const uint8_t *bytes,
                            size_t len, struct ledger_sig *out);
/* True when sig is a valid signature of the bytes by sig->pubkey. Says
 * nothing about whether the key is pinned. */
bool ledger_checkpoint_sig_valid(const uint8_t *bytes, size_t len, const struct ledger_sig *sig);

/* The signatures of one checkpoint's bytes found valid so far. The same
 * checkpoint's signers are counted again and again (the leader at each
 * cosignature it takes, a node at each GET /ledger/head, the offline check
 * at each cosignature record), and each count re-ran Ed25519 on every
 * signature: through a memo, only the signatures not yet found valid are
 * checked. A signature valid for some bytes and key stays valid; one that
 * fails is never remembered, so a forgery is checked, and refused, every
 * time. A memo holds one checkpoint: other bytes start it afresh. Zero it
 * before first use. */
struct ledger_sig_memo {
    uint8_t bytes[LEDGER_CHECKPOINT_MAX];
    size_t len;
    struct ledger_sig valid[LEDGER_MAX_SIGS]; /* pubkey and sig matter */
    size_t n;
    uint64_t checks; /* Ed25519 verifications it made (what tests count) */
};

/* ledger_checkpoint_sig_valid, asking Ed25519 only when memo has not found
 * this signature (key and signature bytes) valid for these bytes before. */
bool ledger_sig_memo_valid(struct ledger_sig_memo *memo, const uint8_t *bytes, size_t len,
                           const struct ledger_sig *sig);
/* Remembers sig as valid for bytes without a check: only for a signature
 * checked already, one the store accepted (it verifies every signature it
 * stores) or one made here. */
void ledger_sig_memo_vouch(struct ledger_sig_memo *memo, const uint8_t *bytes, size_t len,
                           const struct ledger_sig *sig);

/* The number of distinct keys in pinned[0..npinned) with a valid signature
 * of the bytes among sigs (a repeated signer counts once). memo: NULL
 * checks every signature. */
size_t ledger_checkpoint_signers(const uint8_t *bytes, size_t len, const struct ledger_sig *sigs,
                                 size_t nsigs, const uint8_t (*pinned)[LEDGER_PUBKEY_BYTES],
                                 size_t npinned, struct ledger_sig_memo *memo);

/* Notarized: at least a majority (npinned / 2 + 1) of the pinned keys,
 * which are the federation's voting members, signed the bytes. */
bool ledger_checkpoint_notarized(const uint8_t *bytes, size_t len, const struct ledger_sig *sigs,
                                 size_t nsigs, const uint8_t (*pinned)[LEDGER_PUBKEY_BYTES],
                                 size_t npinned, struct ledger_sig_memo *memo);

/* A checkpoint with its signatures, the leader's first; what the store
 * returns for the head (GET /ledger/head). */
struct ledger_signed_checkpoint {
    uint8_t bytes[LEDGER_CHECKPOINT_MAX];
    size_t len;
    struct ledger_checkpoint cp; /* decoded from bytes */
    struct ledger_sig sigs[LEDGER_MAX_SIGS];
    size_t nsigs;
};

/* ---- entry signatures ------------------------------------------------- */

void ledger_entry_statement(uint64_t index, uint64_t term, const uint8_t hash[LEDGER_HASH_BYTES],
                            uint8_t out[LEDGER_ENTRY_STATEMENT_BYTES]);
void ledger_entry_sign(const struct ledger_key *key, const char *signer, uint64_t index,
                       uint64_t term, const uint8_t hash[LEDGER_HASH_BYTES],
                       struct ledger_sig *out);
bool ledger_entry_sig_valid(uint64_t index, uint64_t term, const uint8_t hash[LEDGER_HASH_BYTES],
                            const struct ledger_sig *sig);

/* ---- equivocation ----------------------------------------------------- */

enum ledger_statement_kind { LEDGER_STMT_ENTRY = 1, LEDGER_STMT_CHECKPOINT = 2 };

/* One signed statement about an index: an entry statement (48 bytes) or
 * exact checkpoint bytes, and its signature. */
struct ledger_statement {
    uint32_t kind; /* enum ledger_statement_kind */
    uint8_t bytes[LEDGER_CHECKPOINT_MAX];
    size_t len;
    struct ledger_sig sig;
};

/* Two signed statements that cannot both be true: proof that a signer
 * equivocated (or that the federation forked). Kept, never both accepted. */
struct ledger_evidence {
    uint32_t kind;  /* enum ledger_statement_kind */
    uint64_t index; /* the index both statements are about */
    struct ledger_statement a, b;
};

/* Builders for statements. checkpoint: len <= LEDGER_CHECKPOINT_MAX. */
void ledger_statement_entry(uint64_t index, uint64_t term, const uint8_t hash[LEDGER_HASH_BYTES],
                            const struct ledger_sig *sig, struct ledger_statement *out);
enum ledger_error ledger_statement_checkpoint(const uint8_t *bytes, size_t len,
                                              const struct ledger_sig *sig,
                                              struct ledger_statement *out);

/* Equivocation check. True (and *ev filled when ev is not NULL) when both
 * signatures are valid, both statements decode and are about the same
 * index, and they disagree:
 *   entries:     same index and term, different hash, one signing key (a
 *                term has one leader; different terms may legitimately
 *                hold different entries until one is committed);
 *   checkpoints: same index, different head hash, any signers (checkpoints
 *                cover committed entries only, which never change).
 * Whether the keys are pinned is the caller's judgement. */
bool ledger_equivocation(const struct ledger_statement *a, const struct ledger_statement *b,
                         struct ledger_evidence *ev);

/* Re-checks stored or received evidence from scratch. */
bool ledger_evidence_valid(const struct ledger_evidence *ev);

#endif
