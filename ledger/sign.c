/* Checkpoints, signatures, notarization and equivocation (sign.h). Pure:
 * the key file lives in key.c. */
#include "ledger/internal.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#define CHECKPOINT_FIELDS 4
#define TAG_MAX 32

/* Ed25519 over tag || msg. Both are short (a checkpoint or a statement),
 * so they are joined on the stack rather than hashed first. */
static void sign_tagged(const struct ledger_key *key, const char *tag, const uint8_t *msg,
                        size_t len, uint8_t sig[LEDGER_SIG_BYTES])
{
    uint8_t buf[TAG_MAX + LEDGER_CHECKPOINT_MAX];
    size_t tn = strlen(tag);
    if (sodium_init() < 0 || len > LEDGER_CHECKPOINT_MAX) {
        memset(sig, 0, LEDGER_SIG_BYTES); /* verifies against nothing */
        return;
    }
    memcpy(buf, tag, tn);
    memcpy(buf + tn, msg, len);
    crypto_sign_detached(sig, NULL, buf, tn + len, key->sk);
}

static bool valid_tagged(const char *tag, const uint8_t *msg, size_t len,
                         const struct ledger_sig *s)
{
    uint8_t buf[TAG_MAX + LEDGER_CHECKPOINT_MAX];
    size_t tn = strlen(tag);
    if (sodium_init() < 0 || msg == NULL || len > LEDGER_CHECKPOINT_MAX)
        return false;
    memcpy(buf, tag, tn);
    memcpy(buf + tn, msg, len);
    return crypto_sign_verify_detached(s->sig, buf, tn + len, s->pubkey) == 0;
}

static void set_signer(struct ledger_sig *out, const struct ledger_key *key, const char *signer)
{
    memset(out, 0, sizeof(*out));
    if (signer != NULL)
        snprintf(out->signer, sizeof(out->signer), "%s", signer);
    memcpy(out->pubkey, key->pk, LEDGER_PUBKEY_BYTES);
}

/* ---- checkpoints ------------------------------------------------------ */

enum ledger_error ledger_checkpoint_encode(const struct ledger_checkpoint *cp,
                                           uint8_t out[LEDGER_CHECKPOINT_MAX], size_t *len)
{
    size_t on = strnlen(cp->origin, LEDGER_ID_MAX);
    if (!ledger_valid_id(cp->origin, on) || cp->index == 0 || cp->term == 0)
        return LEDGER_EINVAL;
    struct ledger_mpw w = {out, LEDGER_CHECKPOINT_MAX, 0};
    ledger_mpw_array(&w, CHECKPOINT_FIELDS);
    ledger_mpw_str(&w, cp->origin, on);
    ledger_mpw_uint(&w, cp->index);
    ledger_mpw_bin(&w, cp->head_hash, LEDGER_HASH_BYTES);
    ledger_mpw_uint(&w, cp->term);
    *len = w.len;
    return LEDGER_OK;
}

enum ledger_error ledger_checkpoint_decode(const uint8_t *bytes, size_t len,
                                           struct ledger_checkpoint *cp)
{
    struct ledger_mpr r = {bytes, len, 0};
    uint32_t n;
    memset(cp, 0, sizeof(*cp));
    if (bytes == NULL || len > LEDGER_CHECKPOINT_MAX || !ledger_mpr_array(&r, &n) ||
        n != CHECKPOINT_FIELDS || !ledger_mpr_id(&r, cp->origin) ||
        !ledger_mpr_uint(&r, &cp->index) || cp->index == 0 ||
        !ledger_mpr_bin_exact(&r, cp->head_hash, LEDGER_HASH_BYTES) ||
        !ledger_mpr_uint(&r, &cp->term) || cp->term == 0 || r.off != len)
        return LEDGER_EMALFORMED;
    return LEDGER_OK;
}

void ledger_checkpoint_sign(const struct ledger_key *key, const char *signer, const uint8_t *bytes,
                            size_t len, struct ledger_sig *out)
{
    set_signer(out, key, signer);
    sign_tagged(key, LEDGER_CHECKPOINT_SIG_TAG, bytes, len, out->sig);
}

bool ledger_checkpoint_sig_valid(const uint8_t *bytes, size_t len, const struct ledger_sig *sig)
{
    return valid_tagged(LEDGER_CHECKPOINT_SIG_TAG, bytes, len, sig);
}

/* Starts memo afresh unless it holds these bytes. */
static void memo_for(struct ledger_sig_memo *memo, const uint8_t *bytes, size_t len)
{
    if (memo->len == len && memcmp(memo->bytes, bytes, len) == 0)
        return;
    memcpy(memo->bytes, bytes, len);
    memo->len = len;
    memo->n = 0;
}

static bool memo_has(const struct ledger_sig_memo *memo, const struct ledger_sig *sig)
{
    for (size_t i = 0; i < memo->n; i++)
        if (memcmp(memo->valid[i].pubkey, sig->pubkey, LEDGER_PUBKEY_BYTES) == 0 &&
            memcmp(memo->valid[i].sig, sig->sig, LEDGER_SIG_BYTES) == 0)
            return true;
    return false;
}

void ledger_sig_memo_vouch(struct ledger_sig_memo *memo, const uint8_t *bytes, size_t len,
                           const struct ledger_sig *sig)
{
    if (bytes == NULL || len > LEDGER_CHECKPOINT_MAX)
        return;
    memo_for(memo, bytes, len);
    if (memo_has(memo, sig))
        return;
    /* Full (more signatures than a checkpoint holds): the oldest goes,
     * to be checked again if it is asked for. */
    if (memo->n == LEDGER_MAX_SIGS)
        memmove(&memo->valid[0], &memo->valid[1], (LEDGER_MAX_SIGS - 1) * sizeof(memo->valid[0]));
    else
        memo->n++;
    memo->valid[memo->n - 1] = *sig;
}

bool ledger_sig_memo_valid(struct ledger_sig_memo *memo, const uint8_t *bytes, size_t len,
                           const struct ledger_sig *sig)
{
    if (bytes == NULL || len > LEDGER_CHECKPOINT_MAX)
        return false;
    memo_for(memo, bytes, len);
    if (memo_has(memo, sig))
        return true;
    memo->checks++;
    if (!ledger_checkpoint_sig_valid(bytes, len, sig))
        return false;
    ledger_sig_memo_vouch(memo, bytes, len, sig);
    return true;
}

static bool sig_valid(struct ledger_sig_memo *memo, const uint8_t *bytes, size_t len,
                      const struct ledger_sig *sig)
{
    return memo ? ledger_sig_memo_valid(memo, bytes, len, sig)
                : ledger_checkpoint_sig_valid(bytes, len, sig);
}

size_t ledger_checkpoint_signers(const uint8_t *bytes, size_t len, const struct ledger_sig *sigs,
                                 size_t nsigs, const uint8_t (*pinned)[LEDGER_PUBKEY_BYTES],
                                 size_t npinned, struct ledger_sig_memo *memo)
{
    size_t count = 0;
    for (size_t k = 0; k < npinned; k++) {
        bool dup = false; /* the same key pinned twice counts once */
        for (size_t j = 0; j < k && !dup; j++)
            dup = memcmp(pinned[j], pinned[k], LEDGER_PUBKEY_BYTES) == 0;
        for (size_t i = 0; i < nsigs && !dup; i++)
            if (memcmp(sigs[i].pubkey, pinned[k], LEDGER_PUBKEY_BYTES) == 0 &&
                sig_valid(memo, bytes, len, &sigs[i])) {
                count++;
                break;
            }
    }
    return count;
}

bool ledger_checkpoint_notarized(const uint8_t *bytes, size_t len, const struct ledger_sig *sigs,
                                 size_t nsigs, const uint8_t (*pinned)[LEDGER_PUBKEY_BYTES],
                                 size_t npinned, struct ledger_sig_memo *memo)
{
    return npinned > 0 && ledger_checkpoint_signers(bytes, len, sigs, nsigs, pinned, npinned,
                                                    memo) >= npinned / 2 + 1;
}

/* ---- entry signatures ------------------------------------------------- */

static void put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (56 - 8 * i));
}

static uint64_t get_be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

void ledger_entry_statement(uint64_t index, uint64_t term, const uint8_t hash[LEDGER_HASH_BYTES],
                            uint8_t out[LEDGER_ENTRY_STATEMENT_BYTES])
{
    put_be64(out, index);
    put_be64(out + 8, term);
    memcpy(out + 16, hash, LEDGER_HASH_BYTES);
}

void ledger_entry_sign(const struct ledger_key *key, const char *signer, uint64_t index,
                       uint64_t term, const uint8_t hash[LEDGER_HASH_BYTES], struct ledger_sig *out)
{
    uint8_t st[LEDGER_ENTRY_STATEMENT_BYTES];
    ledger_entry_statement(index, term, hash, st);
    set_signer(out, key, signer);
    sign_tagged(key, LEDGER_ENTRY_SIG_TAG, st, sizeof(st), out->sig);
}

bool ledger_entry_sig_valid(uint64_t index, uint64_t term, const uint8_t hash[LEDGER_HASH_BYTES],
                            const struct ledger_sig *sig)
{
    uint8_t st[LEDGER_ENTRY_STATEMENT_BYTES];
    ledger_entry_statement(index, term, hash, st);
    return valid_tagged(LEDGER_ENTRY_SIG_TAG, st, sizeof(st), sig);
}

/* ---- equivocation ----------------------------------------------------- */

void ledger_statement_entry(uint64_t index, uint64_t term, const uint8_t hash[LEDGER_HASH_BYTES],
                            const struct ledger_sig *sig, struct ledger_statement *out)
{
    memset(out, 0, sizeof(*out));
    out->kind = LEDGER_STMT_ENTRY;
    ledger_entry_statement(index, term, hash, out->bytes);
    out->len = LEDGER_ENTRY_STATEMENT_BYTES;
    out->sig = *sig;
}

enum ledger_error ledger_statement_checkpoint(const uint8_t *bytes, size_t len,
                                              const struct ledger_sig *sig,
                                              struct ledger_statement *out)
{
    memset(out, 0, sizeof(*out));
    if (bytes == NULL || len > LEDGER_CHECKPOINT_MAX)
        return LEDGER_ETOOBIG;
    out->kind = LEDGER_STMT_CHECKPOINT;
    memcpy(out->bytes, bytes, len);
    out->len = len;
    out->sig = *sig;
    return LEDGER_OK;
}

/* What a statement says: index, term and hash. */
struct claim {
    uint64_t index, term;
    uint8_t hash[LEDGER_HASH_BYTES];
};

static bool read_claim(const struct ledger_statement *s, struct claim *c)
{
    if (s->kind == LEDGER_STMT_ENTRY) {
        if (s->len != LEDGER_ENTRY_STATEMENT_BYTES)
            return false;
        c->index = get_be64(s->bytes);
        c->term = get_be64(s->bytes + 8);
        memcpy(c->hash, s->bytes + 16, LEDGER_HASH_BYTES);
        return c->index != 0 && ledger_entry_sig_valid(c->index, c->term, c->hash, &s->sig);
    }
    if (s->kind == LEDGER_STMT_CHECKPOINT) {
        struct ledger_checkpoint cp;
        if (s->len > LEDGER_CHECKPOINT_MAX ||
            ledger_checkpoint_decode(s->bytes, s->len, &cp) != LEDGER_OK)
            return false;
        c->index = cp.index;
        c->term = cp.term;
        memcpy(c->hash, cp.head_hash, LEDGER_HASH_BYTES);
        return ledger_checkpoint_sig_valid(s->bytes, s->len, &s->sig);
    }
    return false;
}

bool ledger_equivocation(const struct ledger_statement *a, const struct ledger_statement *b,
                         struct ledger_evidence *ev)
{
    struct claim ca, cb;
    if (a->kind != b->kind || !read_claim(a, &ca) || !read_claim(b, &cb) || ca.index != cb.index ||
        sodium_memcmp(ca.hash, cb.hash, LEDGER_HASH_BYTES) == 0)
        return false;
    if (a->kind == LEDGER_STMT_ENTRY &&
        (ca.term != cb.term || memcmp(a->sig.pubkey, b->sig.pubkey, LEDGER_PUBKEY_BYTES) != 0))
        return false;
    if (ev != NULL) {
        memset(ev, 0, sizeof(*ev));
        ev->kind = a->kind;
        ev->index = ca.index;
        ev->a = *a;
        ev->b = *b;
    }
    return true;
}

bool ledger_evidence_valid(const struct ledger_evidence *ev)
{
    struct claim c;
    return ev->a.kind == ev->kind && read_claim(&ev->a, &c) && c.index == ev->index &&
           ledger_equivocation(&ev->a, &ev->b, NULL);
}
