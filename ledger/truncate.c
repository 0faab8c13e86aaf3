/* Raft truncation: remove every entry after an index (store.h). */
#include "ledger/internal.h"

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

/* Copies the non-entry records from (s, o) to the end into keep, as framed
 * bytes. Reads only: nothing has changed yet if this fails. */
static enum ledger_error collect(struct ledger *l, size_t s, uint64_t o, struct ledger_buf *keep)
{
    struct ledger_buf b = {0};
    enum ledger_error err = LEDGER_OK;
    for (size_t k = s; k < l->nsegs && err == LEDGER_OK; k++) {
        uint64_t start = k == s ? o : 0;
        size_t n = (size_t)(l->segs[k].size - start);
        err = ledger_read_span(l, k, start, n, &b);
        for (size_t pos = 0; err == LEDGER_OK && pos < n;) {
            uint32_t len;
            if (ledger_frame_check(b.p + pos, n - pos, &len) != LEDGER_FRAME_OK) {
                err = LEDGER_ECORRUPT;
                break;
            }
            size_t whole = LEDGER_FRAME_HDR + (size_t)len;
            if (b.p[pos + LEDGER_FRAME_HDR] != LEDGER_REC_ENTRY) {
                if (!ledger_buf_reserve(keep, whole))
                    err = LEDGER_ENOMEM;
                else {
                    memcpy(keep->p + keep->len, b.p + pos, whole);
                    keep->len += whole;
                }
            }
            pos += whole;
        }
    }
    ledger_buf_free(&b);
    return err;
}

static bool remove_seg(struct ledger *l, size_t k)
{
    char path[LEDGER_PATH_MAX];
    ledger_seg_path(l, k, path, sizeof(path));
    /* One directory sync per file: a crash leaves a prefix of the segments,
     * never a later one without an earlier one. */
    return unlink(path) == 0 && ledger_sync(l, l->dirfd, LEDGER_SYNC_DIR) == 0;
}

enum ledger_error ledger_truncate_after(struct ledger *l, uint64_t index)
{
    struct ledger_chain_state *st = &l->chain.st;
    uint8_t head[LEDGER_HASH_BYTES];
    uint64_t term;
    enum ledger_error err;
    if (l->poisoned)
        return LEDGER_EFATAL;
    if (l->opt.read_only)
        return LEDGER_EINVAL;
    if (index >= st->last_index)
        return LEDGER_OK;
    if (st->have_cp && st->cp.cp.index > index)
        return LEDGER_ECONFLICT; /* signed as committed: Raft never cuts those */
    if ((err = ledger_hash_at(l, index, head)) != LEDGER_OK ||
        (err = ledger_term_at(l, index, &term)) != LEDGER_OK)
        return err;
    size_t s = l->idx[index].seg; /* entry index + 1: where the cut goes */
    uint64_t o = l->idx[index].off;
    struct ledger_buf keep = {0};
    if ((err = collect(l, s, o, &keep)) != LEDGER_OK) {
        ledger_buf_free(&keep);
        return err;
    }

    /* From here on a failure leaves the files somewhere between the old and
     * the new state: fatal, and the next open judges them. A segment a roll
     * left unsynced is synced first: it may be the one cut, or be removed. */
    if (!ledger_sync_left(l))
        goto fatal;
    ledger_tail_drop(l);
    ledger_drop_rfd(l);
    if (l->wfd >= 0)
        close(l->wfd);
    l->wfd = -1;
    l->gen++;
    while (l->nsegs > s + 1)
        if (!remove_seg(l, --l->nsegs))
            goto fatal;
    if (o == 0 && (s > 0 || keep.len == 0)) {
        /* The cut is the whole segment: a later segment must start with an
         * entry, and an empty first one has no reason to exist. */
        if (!remove_seg(l, s))
            goto fatal;
        l->nsegs = s;
    } else {
        char path[LEDGER_PATH_MAX];
        ledger_seg_path(l, s, path, sizeof(path));
        int fd = open(path, O_RDWR | O_CLOEXEC);
        if (fd < 0 || ftruncate(fd, (off_t)o) != 0 || ledger_sync(l, fd, LEDGER_SYNC_DATA) != 0) {
            if (fd >= 0)
                close(fd);
            goto fatal;
        }
        close(fd);
        l->segs[s].size = o;
    }
    st->last_index = index;
    st->last_term = term;
    memcpy(st->head, head, LEDGER_HASH_BYTES);
    ledger_hist_cut(&l->hist, index);
    if (l->nsegs > 0) {
        char path[LEDGER_PATH_MAX];
        ledger_seg_path(l, l->nsegs - 1, path, sizeof(path));
        l->wfd = open(path, O_RDWR | O_CLOEXEC);
        if (l->wfd < 0)
            goto fatal;
    }
    /* The checkpoints, cosignatures and evidence that sat after the cut go
     * back, in their order; the chain state already includes them. */
    if (keep.len > 0) {
        size_t seg;
        uint64_t off;
        if (ledger_write_frames(l, keep.p, keep.len, false, &seg, &off) != LEDGER_OK)
            goto fatal;
    }
    ledger_buf_free(&keep);
    return LEDGER_OK;
fatal:
    ledger_buf_free(&keep);
    return ledger_poison(l, "truncate");
}
