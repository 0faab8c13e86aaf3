/* Offline verification (verify.h): the same scan as start-up recovery,
 * read-only, with the key policy the caller asked for, plus the counting
 * and the notarization bookkeeping that a report needs. */
#include "ledger/internal.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

struct vstate {
    struct ledger_verify_report *rep;
    /* Each cosignature record asks again whether the latest checkpoint is
     * notarized: its signatures already found valid are not checked again. */
    struct ledger_sig_memo memo;
};

static void notarization(struct ledger *l, struct vstate *v)
{
    struct ledger_verify_report *rep = v->rep;
    const struct ledger_signed_checkpoint *cp = &l->chain.st.cp;
    uint8_t keys[LEDGER_MAX_MEMBERS][LEDGER_PUBKEY_BYTES];
    const uint8_t(*pinned)[LEDGER_PUBKEY_BYTES] = l->chain.pinned;
    size_t n = l->chain.npinned;
    if (l->chain.keys != LEDGER_KEYS_PINNED) {
        n = ledger_members_at(l, cp->cp.index, keys, NULL);
        pinned = (const uint8_t(*)[LEDGER_PUBKEY_BYTES])keys;
    }
    if (ledger_checkpoint_notarized(cp->bytes, cp->len, cp->sigs, cp->nsigs, pinned, n, &v->memo))
        rep->last_notarized = cp->cp.index;
}

static int hook(void *arg, struct ledger *l, uint8_t kind, const uint8_t *body, size_t len,
                struct ledger_load_out *out)
{
    struct vstate *v = arg;
    struct ledger_evidence ev;
    switch (kind) {
    case LEDGER_REC_ENTRY:
        v->rep->entries++;
        return 0;
    case LEDGER_REC_CHECKPOINT:
        v->rep->checkpoints++;
        notarization(l, v);
        return 0;
    case LEDGER_REC_COSIGNATURE:
        v->rep->cosignatures++;
        notarization(l, v);
        return 0;
    case LEDGER_REC_EVIDENCE:
        /* Valid evidence (the scan checked it): the federation equivocated,
         * whatever else the ledger says. */
        v->rep->evidence++;
        ledger_rec_evidence_decode(body, len, &ev);
        out->code = LEDGER_EEQUIVOCATION;
        snprintf(out->at.reason, sizeof(out->at.reason),
                 "equivocation evidence: two validly signed %s for index %llu by %s and %s",
                 ev.kind == LEDGER_STMT_ENTRY ? "entries" : "checkpoints",
                 (unsigned long long)ev.index, ev.a.sig.signer, ev.b.sig.signer);
        return 1;
    default:
        return 0;
    }
}

const char *ledger_verdict_name(enum ledger_verdict v)
{
    switch (v) {
    case LEDGER_VERIFY_OK:
        return "ok";
    case LEDGER_VERIFY_TORN_TAIL:
        return "torn_tail";
    case LEDGER_VERIFY_TAMPERED:
        return "tampered";
    case LEDGER_VERIFY_FORKED:
        return "forked";
    case LEDGER_VERIFY_UNREADABLE:
        return "unreadable";
    }
    return "unknown";
}

enum ledger_verdict ledger_verify(const char *ledger_dir,
                                  const uint8_t (*pinned)[LEDGER_PUBKEY_BYTES], size_t npinned,
                                  struct ledger_verify_report *rep)
{
    struct ledger_options opt = {
        .keys = npinned > 0 ? LEDGER_KEYS_PINNED : LEDGER_KEYS_MEMBERSHIP,
        .pinned = pinned,
        .npinned = npinned,
        .read_only = true,
    };
    struct ledger_load_out lo;
    struct vstate v = {.rep = rep};
    memset(rep, 0, sizeof(*rep));
    rep->pinned = npinned > 0;
    if (sodium_init() < 0 || ledger_dir == NULL) {
        rep->verdict = LEDGER_VERIFY_UNREADABLE;
        snprintf(rep->at.reason, sizeof(rep->at.reason), "cannot initialise libsodium");
        return rep->verdict;
    }
    struct ledger *l = ledger_alloc(ledger_dir, &opt);
    if (l == NULL) {
        rep->verdict = LEDGER_VERIFY_UNREADABLE;
        snprintf(rep->at.reason, sizeof(rep->at.reason), "%s",
                 strlen(ledger_dir) > LEDGER_DIR_MAX ? "path too long" : "out of memory");
        return rep->verdict;
    }
    ledger_load(l, hook, &v, &lo);
    switch (lo.result) {
    case LEDGER_LOAD_OK:
        rep->verdict = LEDGER_VERIFY_OK;
        break;
    case LEDGER_LOAD_TORN:
        rep->verdict = LEDGER_VERIFY_TORN_TAIL;
        rep->torn_bytes = lo.torn_bytes;
        break;
    case LEDGER_LOAD_BAD:
        rep->verdict =
            lo.code == LEDGER_EEQUIVOCATION ? LEDGER_VERIFY_FORKED : LEDGER_VERIFY_TAMPERED;
        break;
    case LEDGER_LOAD_IO:
        rep->verdict = LEDGER_VERIFY_UNREADABLE;
        break;
    }
    if (rep->verdict != LEDGER_VERIFY_OK)
        rep->at = lo.at;
    rep->segments = l->nsegs;
    rep->bytes = lo.bytes;
    rep->last_index = l->chain.st.last_index;
    rep->last_term = l->chain.st.last_term;
    memcpy(rep->head_hash, l->chain.st.head, LEDGER_HASH_BYTES);
    rep->last_checkpoint = l->chain.st.have_cp ? l->chain.st.cp.cp.index : 0;
    rep->uncovered = rep->last_index - rep->last_checkpoint;
    rep->keys = npinned > 0 ? npinned : ledger_members_at(l, rep->last_index, NULL, NULL);
    ledger_free(l);
    return rep->verdict;
}
