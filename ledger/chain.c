/* The rules every record must satisfy (store.h), in one place, so that
 * append, open and verify cannot disagree about what a valid ledger is.
 * Pure: entries below the head are looked up through c->lookup. */
#include "ledger/internal.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static enum ledger_error why_err(enum ledger_error err, char *why, size_t whylen, const char *fmt,
                                 ...) __attribute__((format(printf, 4, 5)));

static enum ledger_error why_err(enum ledger_error err, char *why, size_t whylen, const char *fmt,
                                 ...)
{
    if (why != NULL && whylen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, whylen, fmt, ap);
        va_end(ap);
    }
    return err;
}

/* ---- membership ------------------------------------------------------- */

static size_t apply(struct ledger_membership *set, size_t n, const struct ledger_membership *m)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(set[i].node, m->node) == 0) {
            if (m->op == LEDGER_MEMBER_REMOVE) {
                set[i] = set[n - 1];
                return n - 1;
            }
            return n; /* cannot happen: ADD of a member is refused */
        }
    if (m->op == LEDGER_MEMBER_ADD && n < LEDGER_MAX_MEMBERS)
        set[n++] = *m;
    return n;
}

static size_t replay(const struct ledger_hist *h, size_t count, uint64_t index,
                     struct ledger_membership *set, size_t n)
{
    for (size_t i = 0; h != NULL && i < count && h->v[i].index <= index; i++)
        n = apply(set, n, &h->v[i].m);
    return n;
}

size_t ledger_chain_members(const struct ledger_chain *c, uint64_t index,
                            struct ledger_membership *out)
{
    size_t n = replay(c->base, c->nbase, index, out, 0);
    if (c->hist != c->base)
        n = replay(c->hist, c->hist ? c->hist->n : 0, index, out, n);
    return n;
}

bool ledger_hist_reserve(struct ledger_hist *h, size_t more)
{
    if (more <= h->cap - h->n)
        return true;
    size_t cap = h->cap ? h->cap : 8;
    while (cap - h->n < more)
        cap *= 2;
    void *v = realloc(h->v, cap * sizeof(*h->v));
    if (v == NULL)
        return false;
    h->v = v;
    h->cap = cap;
    return true;
}

void ledger_hist_cut(struct ledger_hist *h, uint64_t index)
{
    while (h->n > 0 && h->v[h->n - 1].index > index)
        h->n--;
}

static enum ledger_error membership(struct ledger_chain *c, const struct ledger_entry *e, char *why,
                                    size_t whylen)
{
    struct ledger_membership m, set[LEDGER_MAX_MEMBERS];
    if (ledger_membership_decode(e->payload, e->payload_len, &m) != LEDGER_OK)
        return why_err(LEDGER_EMALFORMED, why, whylen, "membership payload malformed");
    size_t n = ledger_chain_members(c, e->index, set);
    const struct ledger_membership *same_node = NULL, *same_key = NULL;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(set[i].node, m.node) == 0)
            same_node = &set[i];
        if (memcmp(set[i].pubkey, m.pubkey, LEDGER_PUBKEY_BYTES) == 0)
            same_key = &set[i];
    }
    if (m.op == LEDGER_MEMBER_ADD && same_node != NULL)
        return why_err(LEDGER_EINVAL, why, whylen,
                       "membership adds %s, already a member (a key changes by remove, then add)",
                       m.node);
    if (m.op == LEDGER_MEMBER_ADD && same_key != NULL)
        return why_err(LEDGER_EINVAL, why, whylen, "membership adds %s with the key of %s", m.node,
                       same_key->node);
    if (m.op == LEDGER_MEMBER_ADD && n >= LEDGER_MAX_MEMBERS)
        return why_err(LEDGER_ETOOBIG, why, whylen, "more than %d members", LEDGER_MAX_MEMBERS);
    if (m.op == LEDGER_MEMBER_REMOVE && (same_node == NULL || same_key != same_node))
        return why_err(LEDGER_EINVAL, why, whylen,
                       "membership removes %s, not a member with that key", m.node);
    struct ledger_hist *h = c->hist;
    if (!ledger_hist_reserve(h, 1))
        return LEDGER_ENOMEM;
    h->v[h->n].index = e->index;
    h->v[h->n].m = m;
    h->n++;
    return LEDGER_OK;
}

/* ---- entries ---------------------------------------------------------- */

enum ledger_error ledger_chain_entry(struct ledger_chain *c, const uint8_t *b, size_t n,
                                     struct ledger_entry *e, uint8_t hash[LEDGER_HASH_BYTES],
                                     char *why, size_t whylen)
{
    struct ledger_entry local;
    const char *what;
    if (e == NULL)
        e = &local;
    if (ledger_entry_decode(b, n, e, &what) != LEDGER_OK)
        return why_err(LEDGER_EMALFORMED, why, whylen, "entry does not decode: %s", what);
    return ledger_chain_decoded(c, e, b, n, NULL, hash, why, whylen);
}

enum ledger_error ledger_chain_decoded(struct ledger_chain *c, const struct ledger_entry *e,
                                       const uint8_t *b, size_t n,
                                       const uint8_t known[LEDGER_HASH_BYTES],
                                       uint8_t hash[LEDGER_HASH_BYTES], char *why, size_t whylen)
{
    uint8_t h[LEDGER_HASH_BYTES];
    struct ledger_chain_state *st = &c->st;
    if (e->index != st->last_index + 1)
        return why_err(LEDGER_ECHAIN, why, whylen, "entry has index %llu, expected %llu",
                       (unsigned long long)e->index, (unsigned long long)(st->last_index + 1));
    if (sodium_memcmp(e->prev_hash, st->head, LEDGER_HASH_BYTES) != 0)
        return why_err(LEDGER_ECHAIN, why, whylen,
                       "prev_hash of entry %llu is not the hash of the entry before it",
                       (unsigned long long)e->index);
    if (e->term < st->last_term)
        return why_err(LEDGER_ECHAIN, why, whylen,
                       "entry %llu has term %llu, below the previous entry's %llu",
                       (unsigned long long)e->index, (unsigned long long)e->term,
                       (unsigned long long)st->last_term);
    if (e->type == LEDGER_ENTRY_MEMBERSHIP) {
        enum ledger_error err = membership(c, e, why, whylen);
        if (err != LEDGER_OK)
            return err;
    }
    if (known != NULL)
        memcpy(h, known, LEDGER_HASH_BYTES);
    else
        ledger_entry_hash(e->prev_hash, b, n, h);
    st->last_index = e->index;
    st->last_term = e->term;
    memcpy(st->head, h, LEDGER_HASH_BYTES);
    if (hash != NULL)
        memcpy(hash, h, LEDGER_HASH_BYTES);
    return LEDGER_OK;
}

/* ---- signatures ------------------------------------------------------- */

static enum ledger_error key_ok(const struct ledger_chain *c, const struct ledger_sig *s,
                                uint64_t index, char *why, size_t whylen)
{
    if (c->keys == LEDGER_KEYS_PINNED) {
        for (size_t i = 0; i < c->npinned; i++)
            if (memcmp(c->pinned[i], s->pubkey, LEDGER_PUBKEY_BYTES) == 0)
                return LEDGER_OK;
        return why_err(LEDGER_EKEY, why, whylen, "signed by %s with a key that is not pinned",
                       s->signer);
    }
    if (c->keys == LEDGER_KEYS_MEMBERSHIP) {
        struct ledger_membership set[LEDGER_MAX_MEMBERS];
        size_t n = ledger_chain_members(c, index, set);
        for (size_t i = 0; i < n; i++)
            if (strcmp(set[i].node, s->signer) == 0 &&
                memcmp(set[i].pubkey, s->pubkey, LEDGER_PUBKEY_BYTES) == 0)
                return LEDGER_OK;
        return why_err(LEDGER_EKEY, why, whylen,
                       "signed by %s with a key the membership entries up to index %llu do not "
                       "record for it",
                       s->signer, (unsigned long long)index);
    }
    return LEDGER_OK;
}

static enum ledger_error check_sig(const struct ledger_chain *c, const uint8_t *cp, size_t cplen,
                                   const struct ledger_sig *s, uint64_t index, char *why,
                                   size_t whylen)
{
    if (!ledger_checkpoint_sig_valid(cp, cplen, s))
        return why_err(LEDGER_EBADSIG, why, whylen,
                       "signature by %s on the checkpoint for index %llu does not verify",
                       s->signer, (unsigned long long)index);
    return key_ok(c, s, index, why, whylen);
}

static bool has_key(const struct ledger_sig *sigs, size_t n, const uint8_t *pk)
{
    for (size_t i = 0; i < n; i++)
        if (memcmp(sigs[i].pubkey, pk, LEDGER_PUBKEY_BYTES) == 0)
            return true;
    return false;
}

/* ---- checkpoints ------------------------------------------------------ */

static enum ledger_error checkpoint(struct ledger_chain *c, const uint8_t *body, size_t n,
                                    uint64_t *about, char *why, size_t whylen)
{
    struct ledger_chain_state *st = &c->st;
    struct ledger_sig sigs[LEDGER_MAX_SIGS];
    struct ledger_checkpoint cp;
    const uint8_t *b;
    size_t len, nsigs;
    if (!ledger_rec_checkpoint_decode(body, n, &b, &len, sigs, &nsigs) ||
        ledger_checkpoint_decode(b, len, &cp) != LEDGER_OK)
        return why_err(LEDGER_EMALFORMED, why, whylen, "checkpoint record does not decode");
    *about = cp.index;
    for (size_t i = 0; i < nsigs; i++) {
        enum ledger_error err = check_sig(c, b, len, &sigs[i], cp.index, why, whylen);
        if (err != LEDGER_OK)
            return err;
        if (has_key(sigs, i, sigs[i].pubkey))
            return why_err(LEDGER_EEXIST, why, whylen, "checkpoint signed twice by one key");
    }
    if (st->have_cp) {
        const struct ledger_checkpoint *last = &st->cp.cp;
        if (strcmp(cp.origin, last->origin) != 0)
            return why_err(LEDGER_EINVAL, why, whylen,
                           "checkpoint origin %s differs from the ledger's %s", cp.origin,
                           last->origin);
        if (cp.index == last->index &&
            memcmp(cp.head_hash, last->head_hash, LEDGER_HASH_BYTES) != 0)
            return why_err(LEDGER_EEQUIVOCATION, why, whylen,
                           "two signed checkpoints for index %llu with different head hashes",
                           (unsigned long long)cp.index);
        if (cp.index <= last->index)
            return why_err(LEDGER_EEXIST, why, whylen,
                           "checkpoint for index %llu is not above the latest one (%llu)",
                           (unsigned long long)cp.index, (unsigned long long)last->index);
    }
    if (cp.index > st->last_index)
        return why_err(LEDGER_ERANGE, why, whylen,
                       "checkpoint for index %llu is beyond the last entry (%llu)",
                       (unsigned long long)cp.index, (unsigned long long)st->last_index);
    uint64_t term = st->last_term;
    uint8_t hash[LEDGER_HASH_BYTES];
    memcpy(hash, st->head, LEDGER_HASH_BYTES);
    if (cp.index != st->last_index) {
        enum ledger_error err = c->lookup(c->lookup_arg, cp.index, &term, hash);
        if (err != LEDGER_OK)
            return why_err(err, why, whylen, "entry %llu cannot be read",
                           (unsigned long long)cp.index);
    }
    if (memcmp(hash, cp.head_hash, LEDGER_HASH_BYTES) != 0)
        return why_err(LEDGER_ECONFLICT, why, whylen,
                       "checkpoint head hash is not the hash of entry %llu",
                       (unsigned long long)cp.index);
    if (cp.term < term)
        return why_err(
            LEDGER_EINVAL, why, whylen, "checkpoint term %llu is below the term %llu of entry %llu",
            (unsigned long long)cp.term, (unsigned long long)term, (unsigned long long)cp.index);
    st->have_cp = true;
    memcpy(st->cp.bytes, b, len);
    st->cp.len = len;
    st->cp.cp = cp;
    memcpy(st->cp.sigs, sigs, nsigs * sizeof(sigs[0]));
    st->cp.nsigs = nsigs;
    return LEDGER_OK;
}

static enum ledger_error cosignature(struct ledger_chain *c, const uint8_t *body, size_t n,
                                     uint64_t *about, char *why, size_t whylen)
{
    struct ledger_chain_state *st = &c->st;
    struct ledger_sig sig;
    struct ledger_checkpoint cp;
    const uint8_t *b;
    size_t len;
    if (!ledger_rec_cosig_decode(body, n, &b, &len, &sig) ||
        ledger_checkpoint_decode(b, len, &cp) != LEDGER_OK)
        return why_err(LEDGER_EMALFORMED, why, whylen, "cosignature record does not decode");
    *about = cp.index;
    enum ledger_error err = check_sig(c, b, len, &sig, cp.index, why, whylen);
    if (err != LEDGER_OK)
        return err;
    if (!st->have_cp)
        return why_err(LEDGER_ESTALE, why, whylen, "cosignature before any checkpoint");
    if (len != st->cp.len || memcmp(b, st->cp.bytes, len) != 0) {
        if (cp.index == st->cp.cp.index &&
            memcmp(cp.head_hash, st->cp.cp.head_hash, LEDGER_HASH_BYTES) != 0)
            return why_err(LEDGER_EEQUIVOCATION, why, whylen,
                           "cosignature by %s of a different checkpoint for index %llu", sig.signer,
                           (unsigned long long)cp.index);
        return why_err(LEDGER_ESTALE, why, whylen,
                       "cosignature for a checkpoint (index %llu) that is not the latest (%llu)",
                       (unsigned long long)cp.index, (unsigned long long)st->cp.cp.index);
    }
    if (has_key(st->cp.sigs, st->cp.nsigs, sig.pubkey))
        return why_err(LEDGER_EEXIST, why, whylen,
                       "%s's key already signed the checkpoint for index %llu", sig.signer,
                       (unsigned long long)cp.index);
    if (st->cp.nsigs >= LEDGER_MAX_SIGS)
        return why_err(LEDGER_ETOOBIG, why, whylen, "more than %d signatures", LEDGER_MAX_SIGS);
    st->cp.sigs[st->cp.nsigs++] = sig;
    return LEDGER_OK;
}

static enum ledger_error evidence(struct ledger_chain *c, const uint8_t *body, size_t n,
                                  uint64_t *about, char *why, size_t whylen)
{
    struct ledger_evidence ev;
    if (!ledger_rec_evidence_decode(body, n, &ev))
        return why_err(LEDGER_EMALFORMED, why, whylen, "evidence record does not decode");
    *about = ev.index;
    if (!ledger_evidence_valid(&ev))
        return why_err(LEDGER_EBADSIG, why, whylen,
                       "evidence for index %llu does not show an equivocation",
                       (unsigned long long)ev.index);
    enum ledger_error err = key_ok(c, &ev.a.sig, ev.index, why, whylen);
    return err != LEDGER_OK ? err : key_ok(c, &ev.b.sig, ev.index, why, whylen);
}

enum ledger_error ledger_chain_record(struct ledger_chain *c, uint8_t kind, const uint8_t *body,
                                      size_t n, uint64_t *about, char *why, size_t whylen)
{
    uint64_t dummy;
    if (about == NULL)
        about = &dummy;
    *about = c->st.last_index + 1;
    switch (kind) {
    case LEDGER_REC_ENTRY:
        return ledger_chain_entry(c, body, n, NULL, NULL, why, whylen);
    case LEDGER_REC_CHECKPOINT:
        return checkpoint(c, body, n, about, why, whylen);
    case LEDGER_REC_COSIGNATURE:
        return cosignature(c, body, n, about, why, whylen);
    case LEDGER_REC_EVIDENCE:
        return evidence(c, body, n, about, why, whylen);
    default:
        return why_err(LEDGER_EMALFORMED, why, whylen, "unknown record kind %u", kind);
    }
}
