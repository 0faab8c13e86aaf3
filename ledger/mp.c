/* The ledger's msgpack: a bounded writer that always emits the shortest
 * encoding, a strict reader for fixed shapes, and a pre-scan for the
 * caller-supplied payloads. The ledger decodes fixed shapes by hand rather
 * than through msgpack_unpack: nothing is allocated for hostile input, and
 * every length is compared with the bytes left before it is used. The
 * pre-scan follows node/envelope.c's env_prescan (same depth rule), kept
 * here so that the ledger library does not depend on the node's. */
#include "ledger/internal.h"

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
    size_t n = ledger_mp_object_len(r->p + r->off, r->len - r->off, LEDGER_MAX_DEPTH);
    if (n == 0)
        return false;
    r->off += n;
    return true;
}

/* ---- pre-scan --------------------------------------------------------- */

/* msgpack-c's parser keeps a stack of 32 open containers; scanning no
 * deeper means whatever passes here also unpacks with msgpack_unpack. */
#define SCAN_DEPTH_CAP 32u

/* Bytes of the format byte and its fixed fields (hdr), and where a
 * big-endian length follows it (lenbytes; 0: size is already known). */
struct item {
    int kind; /* 0 invalid, 1 scalar, 2 array, 3 map */
    size_t hdr, lenbytes;
    uint64_t size; /* scalar: payload bytes after hdr; container: elements */
};

static struct item classify(uint8_t b)
{
    struct item it = {1, 1, 0, 0};
    if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3)
        return it;
    if (b <= 0x8f)
        return (struct item){3, 1, 0, b & 0x0fu};
    if (b <= 0x9f)
        return (struct item){2, 1, 0, b & 0x0fu};
    if (b <= 0xbf)
        return (struct item){1, 1, 0, b & 0x1fu};
    switch (b) {
    case 0xc4: /* bin 8/16/32, str 8/16/32 */
    case 0xd9:
        return (struct item){1, 2, 1, 0};
    case 0xc5:
    case 0xda:
        return (struct item){1, 3, 2, 0};
    case 0xc6:
    case 0xdb:
        return (struct item){1, 5, 4, 0};
    case 0xc7: /* ext 8/16/32: length, type byte, data */
        return (struct item){1, 3, 1, 0};
    case 0xc8:
        return (struct item){1, 4, 2, 0};
    case 0xc9:
        return (struct item){1, 6, 4, 0};
    case 0xca: /* float 32, uint 32, int 32 */
    case 0xce:
    case 0xd2:
        return (struct item){1, 5, 0, 0};
    case 0xcb: /* float 64, uint 64, int 64 */
    case 0xcf:
    case 0xd3:
        return (struct item){1, 9, 0, 0};
    case 0xcc:
    case 0xd0:
        return (struct item){1, 2, 0, 0};
    case 0xcd:
    case 0xd1:
        return (struct item){1, 3, 0, 0};
    case 0xd4: /* fixext 1..16: type byte, then data */
    case 0xd5:
    case 0xd6:
    case 0xd7:
    case 0xd8:
        return (struct item){1, 2, 0, (uint64_t)1 << (b - 0xd4)};
    case 0xdc:
        return (struct item){2, 3, 2, 0};
    case 0xdd:
        return (struct item){2, 5, 4, 0};
    case 0xde:
        return (struct item){3, 3, 2, 0};
    case 0xdf:
        return (struct item){3, 5, 4, 0};
    default: /* 0xc1 is never used */
        return (struct item){0, 0, 0, 0};
    }
}

size_t ledger_mp_object_len(const uint8_t *p, size_t len, unsigned max_depth)
{
    size_t off = 0;
    /* Objects still to read; each takes at least one byte, so pending never
     * exceeds the bytes left (checked), which bounds everything. */
    uint64_t pending = 1;
    uint64_t left[SCAN_DEPTH_CAP]; /* elements left per open container */
    unsigned sp = 0;

    if (p == NULL || len == 0)
        return 0;
    if (max_depth > SCAN_DEPTH_CAP)
        max_depth = SCAN_DEPTH_CAP;
    while (pending > 0) {
        if (off >= len)
            return 0;
        struct item it = classify(p[off]);
        if (it.kind == 0 || it.hdr > len - off)
            return 0;
        if (it.lenbytes != 0) {
            it.size = 0;
            for (size_t i = 0; i < it.lenbytes; i++)
                it.size = it.size << 8 | p[off + 1 + i];
        }
        off += it.hdr;
        pending--;
        if (sp > 0)
            left[sp - 1]--;
        if (it.kind == 1) {
            if (it.size > len - off)
                return 0;
            off += (size_t)it.size;
        } else {
            if (sp + 1 > max_depth)
                return 0;
            uint64_t elems = it.kind == 3 ? 2 * it.size : it.size;
            pending += elems;
            if (pending > len - off)
                return 0;
            if (elems > 0)
                left[sp++] = elems;
        }
        while (sp > 0 && left[sp - 1] == 0)
            sp--;
    }
    return off;
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
