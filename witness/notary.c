/* Notary: when to checkpoint, ask again, refuse, store, cosign and count
 * a checkpoint notarized (notary.h). Pure: no store, no clock, no sends. */
#include "witness/notary.h"

#include <string.h>

void notary_init(struct notary *nt, uint32_t heartbeat_ms)
{
    *nt = (struct notary){.heartbeat_ms = heartbeat_ms};
}

bool notary_due(const struct notary *nt, uint64_t now_ms, uint64_t commit, uint64_t last_index)
{
    return now_ms >= nt->checkpoint_due && commit != 0 && commit <= last_index;
}

bool notary_lacks(const struct ledger_signed_checkpoint *cp, const char *id)
{
    for (size_t i = 0; i < cp->nsigs; i++)
        if (strcmp(cp->sigs[i].signer, id) == 0)
            return false;
    return true;
}

enum notary_tick notary_tick(struct notary *nt, uint64_t now_ms, uint64_t commit,
                             const struct ledger_signed_checkpoint *latest, const char *self)
{
    if (!latest || latest->cp.index < commit)
        return NOTARY_CHECKPOINT;
    /* Only a checkpoint this node signed first: witnesses take one from its
     * first signer and nobody else, so a new leader relaying its
     * predecessor's would be dropped after every election. Its own
     * checkpoint of its election entry is notarized in its turn. */
    if (now_ms < nt->resend_due || latest->nsigs == 0 || strcmp(latest->sigs[0].signer, self) != 0)
        return NOTARY_WAIT;
    nt->resend_due = now_ms + (uint64_t)NOTARY_RESEND_HEARTBEATS * nt->heartbeat_ms;
    return NOTARY_RESEND;
}

void notary_checkpointed(struct notary *nt, uint64_t now_ms)
{
    nt->checkpoint_due = now_ms + nt->heartbeat_ms;
}

void notary_elected(struct notary *nt, uint64_t now_ms)
{
    notary_checkpointed(nt, now_ms); /* as if it had just checkpointed */
}

void notary_checkpoint_refused(struct notary *nt, uint64_t now_ms)
{
    nt->checkpoint_due = now_ms + (uint64_t)NOTARY_REFUSED_HEARTBEATS * nt->heartbeat_ms;
}

enum notary_offer notary_offer(const char *from, const char *federation, const uint8_t *bytes,
                               size_t len, const struct ledger_sig *sigs, size_t nsigs,
                               struct ledger_checkpoint *cp)
{
    if (nsigs == 0 || ledger_checkpoint_decode(bytes, len, cp) != LEDGER_OK ||
        strcmp(sigs[0].signer, from) != 0)
        return NOTARY_OFFER_MALFORMED;
    if (strcmp(cp->origin, federation) != 0)
        return NOTARY_OFFER_FOREIGN;
    return NOTARY_OFFER_VALID;
}

static bool same_bytes(const struct ledger_signed_checkpoint *mine, const uint8_t *bytes,
                       size_t len)
{
    return mine && mine->len == len && memcmp(mine->bytes, bytes, len) == 0;
}

enum notary_take notary_take(const struct ledger_signed_checkpoint *mine, const uint8_t *bytes,
                             size_t len, const struct ledger_checkpoint *cp, notary_holds_fn holds,
                             void *ctx)
{
    if (same_bytes(mine, bytes, len))
        return NOTARY_TAKE_MERGE;
    /* Not yet replicated here, or this log still holds an uncommitted entry
     * of another term there: nothing to vouch for (yet). Another checkpoint
     * at the index of this node's own goes to the store, which tells
     * equivocation. */
    if (!holds(ctx, cp) && !(mine && mine->cp.index == cp->index))
        return NOTARY_TAKE_IGNORE;
    return NOTARY_TAKE_STORE;
}

const struct ledger_sig *notary_own_again(const struct ledger_signed_checkpoint *mine,
                                          const struct ledger_sig *sigs, size_t nsigs,
                                          const char *self)
{
    for (size_t i = 0; i < nsigs; i++)
        if (strcmp(sigs[i].signer, self) == 0)
            return NULL;
    for (size_t i = 0; i < mine->nsigs; i++)
        if (strcmp(mine->sigs[i].signer, self) == 0)
            return &mine->sigs[i];
    return NULL;
}

enum notary_stored notary_stored(enum ledger_error rv)
{
    switch (rv) {
    case LEDGER_OK:
        return NOTARY_STORED_KEPT;
    case LEDGER_EEQUIVOCATION:
        return NOTARY_STORED_EQUIVOCATION;
    case LEDGER_EEXIST:
        return NOTARY_STORED_DUPLICATE;
    default:
        return NOTARY_STORED_REFUSED;
    }
}

bool notary_cosigns(bool self_recorded, const struct ledger_sig *sigs, size_t nsigs,
                    const char *self)
{
    for (size_t i = 0; i < nsigs && self_recorded; i++)
        if (strcmp(sigs[i].signer, self) == 0)
            return false;
    return self_recorded;
}

enum notary_cosign notary_cosign(const char *from, const struct ledger_sig *sig,
                                 const struct ledger_signed_checkpoint *mine, const uint8_t *bytes,
                                 size_t len)
{
    if (strcmp(sig->signer, from) != 0)
        return NOTARY_COSIGN_MALFORMED;
    if (!same_bytes(mine, bytes, len) || !notary_lacks(mine, sig->signer))
        return NOTARY_COSIGN_STALE;
    return NOTARY_COSIGN_ADD;
}

unsigned notary_tally(bool was, bool is, bool leads)
{
    if (was || !is)
        return 0;
    return NOTARY_TALLY_COUNT | (leads ? NOTARY_TALLY_BROADCAST : 0u);
}
