/* Record framing and the bodies of checkpoint, cosignature and evidence
 * records (store.h). Pure. */
#include "ledger/internal.h"

#include <stdlib.h>
#include <string.h>

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

enum ledger_frame ledger_frame_check(const uint8_t *p, size_t avail, uint32_t *len)
{
    if (avail < LEDGER_FRAME_HDR)
        return LEDGER_FRAME_SHORT;
    uint32_t n = le32(p);
    *len = n;
    /* The length is judged before it is used for anything. */
    if (n == 0 || n > LEDGER_MAX_RECORD)
        return LEDGER_FRAME_BADLEN;
    if (n > avail - LEDGER_FRAME_HDR)
        return LEDGER_FRAME_SHORT;
    if (ledger_crc32c(0, p + LEDGER_FRAME_HDR, n) != le32(p + 4))
        return LEDGER_FRAME_BADCRC;
    uint8_t kind = p[LEDGER_FRAME_HDR];
    if (kind == 0 || kind >= LEDGER_REC_KIND_END)
        return LEDGER_FRAME_BADKIND;
    return LEDGER_FRAME_OK;
}

const char *ledger_frame_reason(enum ledger_frame f)
{
    switch (f) {
    case LEDGER_FRAME_OK:
        return "ok";
    case LEDGER_FRAME_SHORT:
        return "record cut short (its length runs past the end of the file)";
    case LEDGER_FRAME_BADLEN:
        return "impossible record length";
    case LEDGER_FRAME_BADCRC:
        return "CRC mismatch (bytes changed)";
    case LEDGER_FRAME_BADKIND:
        return "unknown record kind";
    }
    return "?";
}

const char *ledger_rec_kind_name(uint8_t kind)
{
    switch (kind) {
    case LEDGER_REC_ENTRY:
        return "entry";
    case LEDGER_REC_CHECKPOINT:
        return "checkpoint";
    case LEDGER_REC_COSIGNATURE:
        return "cosignature";
    case LEDGER_REC_EVIDENCE:
        return "evidence";
    default:
        return "unknown";
    }
}

bool ledger_buf_reserve(struct ledger_buf *b, size_t more)
{
    if (more <= b->cap - b->len)
        return true;
    if (more > SIZE_MAX / 2 - b->len)
        return false;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap - b->len < more)
        cap *= 2;
    uint8_t *p = realloc(b->p, cap);
    if (p == NULL)
        return false;
    b->p = p;
    b->cap = cap;
    return true;
}

void ledger_buf_free(struct ledger_buf *b)
{
    free(b->p);
    *b = (struct ledger_buf){0};
}

bool ledger_frame_append(struct ledger_buf *b, uint8_t kind, const uint8_t *body, size_t len)
{
    if (len >= LEDGER_MAX_RECORD || !ledger_buf_reserve(b, LEDGER_FRAME_HDR + 1 + len))
        return false;
    uint8_t *p = b->p + b->len;
    p[LEDGER_FRAME_HDR] = kind;
    memcpy(p + LEDGER_FRAME_HDR + 1, body, len);
    put_le32(p, (uint32_t)(len + 1));
    put_le32(p + 4, ledger_crc32c(0, p + LEDGER_FRAME_HDR, len + 1));
    b->len += LEDGER_FRAME_HDR + 1 + len;
    return true;
}

/* ---- bodies ----------------------------------------------------------- */

static size_t finish(struct ledger_mpw *w)
{
    return w->len <= w->cap ? w->len : 0;
}

size_t ledger_rec_checkpoint_encode(const uint8_t *cp, size_t cplen, const struct ledger_sig *sigs,
                                    size_t nsigs, uint8_t *out, size_t cap)
{
    struct ledger_mpw w = {out, out ? cap : 0, 0};
    ledger_mpw_array(&w, 2);
    ledger_mpw_bin(&w, cp, cplen);
    ledger_mpw_array(&w, (uint32_t)nsigs);
    for (size_t i = 0; i < nsigs; i++)
        ledger_sig_write(&w, &sigs[i]);
    return out ? finish(&w) : w.len;
}

size_t ledger_rec_cosig_encode(const uint8_t *cp, size_t cplen, const struct ledger_sig *sig,
                               uint8_t *out, size_t cap)
{
    struct ledger_mpw w = {out, out ? cap : 0, 0};
    ledger_mpw_array(&w, 2);
    ledger_mpw_bin(&w, cp, cplen);
    ledger_sig_write(&w, sig);
    return out ? finish(&w) : w.len;
}

size_t ledger_rec_evidence_encode(const struct ledger_evidence *ev, uint8_t *out, size_t cap)
{
    struct ledger_mpw w = {out, out ? cap : 0, 0};
    ledger_mpw_array(&w, 6);
    ledger_mpw_uint(&w, ev->kind);
    ledger_mpw_uint(&w, ev->index);
    ledger_mpw_bin(&w, ev->a.bytes, ev->a.len);
    ledger_sig_write(&w, &ev->a.sig);
    ledger_mpw_bin(&w, ev->b.bytes, ev->b.len);
    ledger_sig_write(&w, &ev->b.sig);
    return out ? finish(&w) : w.len;
}

bool ledger_rec_checkpoint_decode(const uint8_t *body, size_t len, const uint8_t **cp,
                                  size_t *cplen, struct ledger_sig *sigs, size_t *nsigs)
{
    struct ledger_mpr r = {body, len, 0};
    uint32_t n, ns;
    if (!ledger_mpr_array(&r, &n) || n != 2 || !ledger_mpr_bin(&r, cp, cplen) ||
        *cplen > LEDGER_CHECKPOINT_MAX || !ledger_mpr_array(&r, &ns) || ns == 0 ||
        ns > LEDGER_MAX_SIGS)
        return false;
    for (uint32_t i = 0; i < ns; i++)
        if (!ledger_sig_read(&r, &sigs[i]))
            return false;
    *nsigs = ns;
    return r.off == len;
}

bool ledger_rec_cosig_decode(const uint8_t *body, size_t len, const uint8_t **cp, size_t *cplen,
                             struct ledger_sig *sig)
{
    struct ledger_mpr r = {body, len, 0};
    uint32_t n;
    return ledger_mpr_array(&r, &n) && n == 2 && ledger_mpr_bin(&r, cp, cplen) &&
           *cplen <= LEDGER_CHECKPOINT_MAX && ledger_sig_read(&r, sig) && r.off == len;
}

static bool read_stmt(struct ledger_mpr *r, uint32_t kind, struct ledger_statement *s)
{
    const uint8_t *b;
    size_t n;
    if (!ledger_mpr_bin(r, &b, &n) || n > LEDGER_CHECKPOINT_MAX)
        return false;
    s->kind = kind;
    memcpy(s->bytes, b, n);
    s->len = n;
    return ledger_sig_read(r, &s->sig);
}

bool ledger_rec_evidence_decode(const uint8_t *body, size_t len, struct ledger_evidence *ev)
{
    struct ledger_mpr r = {body, len, 0};
    uint32_t n;
    uint64_t kind;
    memset(ev, 0, sizeof(*ev));
    if (!ledger_mpr_array(&r, &n) || n != 6 || !ledger_mpr_uint(&r, &kind) ||
        (kind != LEDGER_STMT_ENTRY && kind != LEDGER_STMT_CHECKPOINT) ||
        !ledger_mpr_uint(&r, &ev->index))
        return false;
    ev->kind = (uint32_t)kind;
    return read_stmt(&r, ev->kind, &ev->a) && read_stmt(&r, ev->kind, &ev->b) && r.off == len;
}
