/* The ledger's msgpack: a bounded writer that always emits the shortest
 * encoding and a strict reader for fixed shapes. The ledger decodes fixed
 * shapes by hand rather than through msgpack_unpack: nothing is allocated
 * for hostile input, and every length is compared with the bytes left
 * before it is used. Caller-supplied payloads and skipped fields go through
 * the pre-scan shared with the node's envelope (wire/prescan.h), so both
 * agree on what is well-formed. */
#include "ledger/internal.h"
#include "wire/prescan.h"

#include <string.h>

/* ---- writer ----------------------------------------------------------- */

static void put(struct ledger_mpw *w, const void *b, size_t n)
{
    if (w->len <= w->cap && n <= w->cap - w->len)
        memcpy(w->p + w->len, b, n);
    w->len += n;
}

static void put_be(struct ledger_mpw *w, uint8_t tag, uint64_t v, size_t bytes)
{
    uint8_t b[9];
    b[0] = tag;
    for (size_t i = 0; i < bytes; i++)
        b[1 + i] = (uint8_t)(v >> (8 * (bytes - 1 - i)));
    put(w, b, 1 + bytes);
}

void ledger_mpw_array(struct ledger_mpw *w, uint32_t n)
{
    if (n <= 15)
        put_be(w, (uint8_t)(0x90u | n), 0, 0);
    else if (n <= 0xffff)
        put_be(w, 0xdc, n, 2);
    else
        put_be(w, 0xdd, n, 4);
}

void ledger_mpw_uint(struct ledger_mpw *w, uint64_t v)
{
    if (v <= 0x7f)
        put_be(w, (uint8_t)v, 0, 0);
    else if (v <= 0xff)
        put_be(w, 0xcc, v, 1);
    else if (v <= 0xffff)
        put_be(w, 0xcd, v, 2);
    else if (v <= 0xffffffffu)
        put_be(w, 0xce, v, 4);
    else
        put_be(w, 0xcf, v, 8);
}

void ledger_mpw_str(struct ledger_mpw *w, const char *s, size_t n)
{
    if (n <= 31)
        put_be(w, (uint8_t)(0xa0u | n), 0, 0);
    else if (n <= 0xff)
        put_be(w, 0xd9, n, 1);
    else if (n <= 0xffff)
        put_be(w, 0xda, n, 2);
    else
        put_be(w, 0xdb, n, 4);
    put(w, s, n);
}

void ledger_mpw_bin(struct ledger_mpw *w, const void *b, size_t n)
{
    if (n <= 0xff)
        put_be(w, 0xc4, n, 1);
    else if (n <= 0xffff)
        put_be(w, 0xc5, n, 2);
    else
        put_be(w, 0xc6, n, 4);
    put(w, b, n);
}

/* ---- reader ----------------------------------------------------------- */

static bool take(struct ledger_mpr *r, size_t n, const uint8_t **at)
{
    if (r->off > r->len || n > r->len - r->off)
        return false;
    *at = r->p + r->off;
    r->off += n;
    return true;
}

static bool take_be(struct ledger_mpr *r, size_t bytes, uint64_t *v)
{
    const uint8_t *p;
    if (!take(r, bytes, &p))
        return false;
    *v = 0;
    for (size_t i = 0; i < bytes; i++)
        *v = *v << 8 | p[i];
    return true;
}

static bool tag(struct ledger_mpr *r, uint8_t *t)
{
    const uint8_t *p;
    if (!take(r, 1, &p))
        return false;
    *t = *p;
    return true;
}

bool ledger_mpr_array(struct ledger_mpr *r, uint32_t *n)
{
    uint8_t t;
    uint64_t v;
    if (!tag(r, &t))
        return false;
    if (t >= 0x90 && t <= 0x9f)
        v = t & 0x0fu;
    else if (t == 0xdc) {
        if (!take_be(r, 2, &v))
            return false;
    } else if (t == 0xdd) {
        if (!take_be(r, 4, &v))
            return false;
    } else
        return false;
    /* Each element needs at least a byte: a count beyond the bytes left is
     * a lie, whatever the caller does next. */
    if (v > r->len - r->off)
        return false;
    *n = (uint32_t)v;
    return true;
}

bool ledger_mpr_uint(struct ledger_mpr *r, uint64_t *v)
{
    uint8_t t;
    if (!tag(r, &t))
        return false;
    if (t <= 0x7f) {
        *v = t;
        return true;
    }
    size_t width;
    bool is_signed = false;
    switch (t) {
    case 0xcc:
    case 0xcd:
    case 0xce:
    case 0xcf:
        width = (size_t)1 << (t - 0xcc);
        break;
    case 0xd0:
    case 0xd1:
    case 0xd2:
    case 0xd3:
        width = (size_t)1 << (t - 0xd0);
        is_signed = true;
        break;
    default:
        return false; /* negative fixint, floats, anything else */
    }
    if (!take_be(r, width, v))
        return false;
    /* A signed format carrying a non-negative value is still a uint. */
    if (is_signed && (*v >> (8 * width - 1)) != 0)
        return false;
    return true;
}

static bool take_sized(struct ledger_mpr *r, uint8_t t, uint8_t w8, const uint8_t **b, size_t *n)
{
    uint64_t v;
    if (t == w8) {
        if (!take_be(r, 1, &v))
            return false;
    } else if (t == w8 + 1) {
        if (!take_be(r, 2, &v))
            return false;
    } else if (t == w8 + 2) {
        if (!take_be(r, 4, &v))
            return false;
    } else
        return false;
    if (!take(r, (size_t)v, b))
        return false;
    *n = (size_t)v;
    return true;
}

bool ledger_mpr_str(struct ledger_mpr *r, const uint8_t **s, size_t *n)
{
    uint8_t t;
    if (!tag(r, &t))
        return false;
    if (t >= 0xa0 && t <= 0xbf) {
        *n = t & 0x1fu;
        return take(r, *n, s);
    }
    return take_sized(r, t, 0xd9, s, n);
}

bool ledger_mpr_bin(struct ledger_mpr *r, const uint8_t **b, size_t *n)
{
    uint8_t t;
    return tag(r, &t) && take_sized(r, t, 0xc4, b, n);
}

bool ledger_mpr_id(struct ledger_mpr *r, char out[LEDGER_ID_MAX])
{
    const uint8_t *s;
    size_t n;
    if (!ledger_mpr_str(r, &s, &n) || !ledger_valid_id((const char *)s, n))
        return false;
    memcpy(out, s, n);
    out[n] = '\0';
    return true;
}

bool ledger_mpr_bin_exact(struct ledger_mpr *r, uint8_t *out, size_t n)
{
    const uint8_t *b;
    size_t got;
    if (!ledger_mpr_bin(r, &b, &got) || got != n)
        return false;
    memcpy(out, b, n);
    return true;
}

bool ledger_mpr_skip(struct ledger_mpr *r)
{
    if (r->off > r->len)
        return false;
    size_t n = wire_object_len(r->p + r->off, r->len - r->off, LEDGER_MAX_DEPTH);
    if (n == 0)
        return false;
    r->off += n;
    return true;
}

/* ---- signatures ------------------------------------------------------- */

void ledger_sig_write(struct ledger_mpw *w, const struct ledger_sig *s)
{
    ledger_mpw_array(w, 3);
    ledger_mpw_str(w, s->signer, strnlen(s->signer, LEDGER_ID_MAX - 1));
    ledger_mpw_bin(w, s->pubkey, LEDGER_PUBKEY_BYTES);
    ledger_mpw_bin(w, s->sig, LEDGER_SIG_BYTES);
}

bool ledger_sig_read(struct ledger_mpr *r, struct ledger_sig *s)
{
    uint32_t n;
    return ledger_mpr_array(r, &n) && n == 3 && ledger_mpr_id(r, s->signer) &&
           ledger_mpr_bin_exact(r, s->pubkey, LEDGER_PUBKEY_BYTES) &&
           ledger_mpr_bin_exact(r, s->sig, LEDGER_SIG_BYTES);
}
