/* Notary: the decisions of checkpoints and their cosignatures, without
 * the ledger store, the keys' files or the network. Pure: the node's
 * witness shell reads its ledger, signs, stores and sends; it asks this
 * core, with the loop time as an argument, when to checkpoint, when to
 * ask again for missing cosignatures, whether a checkpoint or a
 * cosignature received is to be refused, merged, stored or ignored,
 * whether to cosign, and when a checkpoint became notarized.
 *
 * The rules (node/witness/node_witness.c's opening comment tells the
 * protocol):
 *   - the leader checkpoints its commit index at most once per heartbeat
 *     while the commit index moves, and waits ten heartbeats after the
 *     store refused one;
 *   - every four heartbeats it sends its latest checkpoint again to each
 *     member whose cosignature it lacks, but only one it signed first
 *     (witnesses take a checkpoint only from its first signer);
 *   - a witness refuses a checkpoint that does not decode, that its sender
 *     did not sign first, or of another federation; merges the
 *     cosignatures of the one it holds (and sends its own again when the
 *     sender lacks it); stores one for an entry it holds, or for the index
 *     of its own latest (so that equivocation is caught); ignores the
 *     rest (not replicated here yet);
 *   - it cosigns what it stored when the ledger records its key at that
 *     index and it is not a signer already;
 *   - the leader takes a cosignature only from its signer and only of its
 *     latest checkpoint, once; the first time a quorum signed it, it is
 *     counted and, by a leader, sent to every witness once more. */
#ifndef CHIMERA_WITNESS_NOTARY_H
#define CHIMERA_WITNESS_NOTARY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ledger/base.h"
#include "ledger/sign.h"

#define NOTARY_RESEND_HEARTBEATS 4   /* between two rounds of asking again */
#define NOTARY_REFUSED_HEARTBEATS 10 /* after the store refused a checkpoint */

struct notary {
    uint32_t heartbeat_ms;
    uint64_t checkpoint_due; /* loop time of the next checkpoint */
    uint64_t resend_due;     /* loop time of the next round of asking again */
};

void notary_init(struct notary *nt, uint32_t heartbeat_ms);

/* ---- the leader -------------------------------------------------------- */

/* Whether the leader may checkpoint at loop time now_ms: due, and a
 * committed index its log holds. */
bool notary_due(const struct notary *nt, uint64_t now_ms, uint64_t commit, uint64_t last_index);

enum notary_tick {
    NOTARY_WAIT,       /* nothing to do */
    NOTARY_RESEND,     /* send latest to every member it lacks (notary_lacks) */
    NOTARY_CHECKPOINT, /* sign a checkpoint of commit, if its key is recorded there */
};

/* What a due leader does (latest: the last checkpoint it holds, NULL
 * none; self: its id). NOTARY_RESEND also sets the next round. */
enum notary_tick notary_tick(struct notary *nt, uint64_t now_ms, uint64_t commit,
                             const struct ledger_signed_checkpoint *latest, const char *self);

/* This node was just elected leader: its first checkpoint is due a
 * heartbeat later, not in the turn it won. A checkpoint is stored and
 * synced on the loop, and each witness's cosignature after it: taken at
 * once they block the new leader while its election entry, the writes
 * held for the hand-over (§3.10) and its followers' answers wait. The
 * commit index it would sign then is its predecessor's (which that one
 * checkpointed at most a heartbeat before); a heartbeat later it covers
 * this term's entries. */
void notary_elected(struct notary *nt, uint64_t now_ms);

/* The checkpoint was stored (next one a heartbeat later) or the store
 * refused it (ten heartbeats later). */
void notary_checkpointed(struct notary *nt, uint64_t now_ms);
void notary_checkpoint_refused(struct notary *nt, uint64_t now_ms);

/* Whether cp lacks a signature by id. */
bool notary_lacks(const struct ledger_signed_checkpoint *cp, const char *id);

/* ---- a witness receives a checkpoint ----------------------------------- */

enum notary_offer {
    NOTARY_OFFER_VALID,     /* decoded into *cp */
    NOTARY_OFFER_MALFORMED, /* does not decode, or its sender did not sign it first */
    NOTARY_OFFER_FOREIGN,   /* of another federation */
};

enum notary_offer notary_offer(const char *from, const char *federation, const uint8_t *bytes,
                               size_t len, const struct ledger_sig *sigs, size_t nsigs,
                               struct ledger_checkpoint *cp);

enum notary_take {
    NOTARY_TAKE_MERGE,  /* the one it holds: add the cosignatures it lacks */
    NOTARY_TAKE_IGNORE, /* nothing to vouch for here (yet) */
    NOTARY_TAKE_STORE,  /* store it (the store may refuse it, or find equivocation) */
};

/* Whether this node's log holds the entry cp names, with cp's head hash: a
 * read of the ledger, asked only when the answer matters. */
typedef bool (*notary_holds_fn)(void *ctx, const struct ledger_checkpoint *cp);

/* mine: the latest checkpoint this node holds (NULL none). */
enum notary_take notary_take(const struct ledger_signed_checkpoint *mine, const uint8_t *bytes,
                             size_t len, const struct ledger_checkpoint *cp, notary_holds_fn holds,
                             void *ctx);

/* After a merge: this node's cosignature in mine, to send again because
 * the sender's sigs lack it (lost on the way), or NULL. */
const struct ledger_sig *notary_own_again(const struct ledger_signed_checkpoint *mine,
                                          const struct ledger_sig *sigs, size_t nsigs,
                                          const char *self);

enum notary_stored {
    NOTARY_STORED_KEPT,         /* stored: cosign if notary_cosigns */
    NOTARY_STORED_EQUIVOCATION, /* another head at that index: record the evidence */
    NOTARY_STORED_DUPLICATE,    /* already held: nothing more */
    NOTARY_STORED_REFUSED,      /* a bad signature or key: drop and count it */
};

enum notary_stored notary_stored(enum ledger_error rv);

/* Whether this node cosigns a checkpoint it stored: its key is recorded
 * at the checkpoint's index (self_recorded) and it is not a signer yet. */
bool notary_cosigns(bool self_recorded, const struct ledger_sig *sigs, size_t nsigs,
                    const char *self);

/* ---- the leader receives a cosignature ---------------------------------- */

enum notary_cosign {
    NOTARY_COSIGN_ADD,       /* add it to the latest checkpoint */
    NOTARY_COSIGN_MALFORMED, /* not signed by its sender */
    NOTARY_COSIGN_STALE,     /* of a checkpoint superseded, unknown, or a repeat */
};

enum notary_cosign notary_cosign(const char *from, const struct ledger_sig *sig,
                                 const struct ledger_signed_checkpoint *mine, const uint8_t *bytes,
                                 size_t len);

/* What a stored cosignature calls for: was, is: notarized before and
 * after it; leads: still the leader. */
enum notary_tally {
    NOTARY_TALLY_COUNT = 1u << 0,     /* newly notarized: count it */
    NOTARY_TALLY_BROADCAST = 1u << 1, /* send the notarized form to every witness */
};

unsigned notary_tally(bool was, bool is, bool leads);

#endif
