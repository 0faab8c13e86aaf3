/* Appending (batches, group commit) and Raft truncation (store.h). */
#include "ledger/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct batch_entry {
    uint64_t index, term;
    uint8_t hash[LEDGER_HASH_BYTES];
    size_t off;   /* of its frame in buf */
    uint32_t len; /* length field */
};

struct ledger_batch {
    struct ledger *l; /* NULL: not begun */
    uint64_t gen;     /* l->gen at begin */
    uint64_t base;    /* l's last index at begin */
    struct ledger_chain chain;
    struct ledger_hist pending; /* membership changes in this batch */
    struct ledger_buf buf;      /* the framed records, written as they are */
    struct batch_entry *ents;
    size_t nents, capents, nrec;
    uint8_t first_kind;
};

static void put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

struct ledger_batch *ledger_batch_new(void)
{
    return calloc(1, sizeof(struct ledger_batch));
}

void ledger_batch_free(struct ledger_batch *b)
{
    if (b == NULL)
        return;
    ledger_buf_free(&b->buf);
    free(b->pending.v);
    free(b->ents);
    free(b);
}

static void batch_reset(struct ledger_batch *b)
{
    b->l = NULL;
    b->buf.len = 0;
    b->nents = b->nrec = 0;
    b->pending.n = 0;
}

/* Entries in the batch come from the batch; older ones from the store. */
static enum ledger_error batch_lookup(void *arg, uint64_t index, uint64_t *term,
                                      uint8_t hash[LEDGER_HASH_BYTES])
{
    struct ledger_batch *b = arg;
    if (index > b->base && index - b->base <= b->nents) {
        const struct batch_entry *e = &b->ents[index - b->base - 1];
        *term = e->term;
        memcpy(hash, e->hash, LEDGER_HASH_BYTES);
        return LEDGER_OK;
    }
    return ledger_lookup(b->l, index, term, hash);
}

void ledger_batch_begin(struct ledger_batch *b, struct ledger *l)
{
    batch_reset(b);
    b->l = l;
    b->gen = l->gen;
    b->base = l->chain.st.last_index;
    b->chain = l->chain;
    b->chain.base = &l->hist;
    b->chain.nbase = l->hist.n;
    b->chain.hist = &b->pending;
    b->chain.lookup = batch_lookup;
    b->chain.lookup_arg = b;
}

size_t ledger_batch_records(const struct ledger_batch *b)
{
    return b->nrec;
}

size_t ledger_batch_bytes(const struct ledger_batch *b)
{
    return b->buf.len;
}

static enum ledger_error usable(const struct ledger_batch *b)
{
    if (b == NULL || b->l == NULL)
        return LEDGER_EINVAL;
    return b->l->poisoned ? LEDGER_EFATAL : LEDGER_OK;
}

/* The body (len bytes) already sits after room for a header at the end of
 * buf: frame it in place. */
static void seal(struct ledger_batch *b, uint8_t kind, size_t len)
{
    uint8_t *p = b->buf.p + b->buf.len;
    p[LEDGER_FRAME_HDR] = kind;
    put_le32(p, (uint32_t)(len + 1));
    put_le32(p + 4, ledger_crc32c(0, p + LEDGER_FRAME_HDR, len + 1));
    if (b->nrec++ == 0)
        b->first_kind = kind;
    b->buf.len += LEDGER_FRAME_HDR + 1 + len;
}

static uint8_t *room(struct ledger_batch *b, size_t len)
{
    if (len >= LEDGER_MAX_RECORD || !ledger_buf_reserve(&b->buf, LEDGER_FRAME_HDR + 1 + len))
        return NULL;
    return b->buf.p + b->buf.len + LEDGER_FRAME_HDR + 1;
}

/* Checks the entry bytes at room(b, len) against the chain and frames them;
 * known (may be NULL) is those bytes decoded and hashed by the caller. */
static enum ledger_error take_entry(struct ledger_batch *b, size_t len, uint64_t *index_out,
                                    uint8_t hash_out[LEDGER_HASH_BYTES],
                                    const struct ledger_known_entry *known)
{
    struct ledger_entry e;
    uint8_t hash[LEDGER_HASH_BYTES];
    if (b->nents == b->capents) {
        size_t cap = b->capents ? 2 * b->capents : 64;
        void *v = realloc(b->ents, cap * sizeof(*b->ents));
        if (v == NULL)
            return LEDGER_ENOMEM;
        b->ents = v;
        b->capents = cap;
    }
    const uint8_t *bytes = b->buf.p + b->buf.len + LEDGER_FRAME_HDR + 1;
    enum ledger_error err;
    if (known != NULL) {
        err = ledger_chain_decoded(&b->chain, &known->e, bytes, len, known->hash, hash, NULL, 0);
        e.index = known->e.index;
        e.term = known->e.term;
    } else {
        err = ledger_chain_entry(&b->chain, bytes, len, &e, hash, NULL, 0);
    }
    if (err != LEDGER_OK)
        return err;
    b->ents[b->nents++] = (struct batch_entry){e.index, e.term, {0}, b->buf.len, (uint32_t)len + 1};
    memcpy(b->ents[b->nents - 1].hash, hash, LEDGER_HASH_BYTES);
    seal(b, LEDGER_REC_ENTRY, len);
    if (index_out != NULL)
        *index_out = e.index;
    if (hash_out != NULL)
        memcpy(hash_out, hash, LEDGER_HASH_BYTES);
    return LEDGER_OK;
}

enum ledger_error ledger_batch_add_entry(struct ledger_batch *b, uint64_t term, uint32_t type,
                                         uint64_t timestamp_ms, const char *author,
                                         const uint8_t *payload, size_t payload_len,
                                         uint64_t *index_out, uint8_t hash_out[LEDGER_HASH_BYTES])
{
    enum ledger_error err = usable(b);
    if (err != LEDGER_OK)
        return err;
    struct ledger_entry e = {
        .index = b->chain.st.last_index + 1,
        .term = term,
        .type = type,
        .timestamp_ms = timestamp_ms,
        .payload = payload,
        .payload_len = payload_len,
    };
    if (author == NULL || strlen(author) >= LEDGER_ID_MAX)
        return LEDGER_EINVAL;
    strcpy(e.author, author);
    memcpy(e.prev_hash, b->chain.st.head, LEDGER_HASH_BYTES);
    size_t len = ledger_entry_encoded_len(&e);
    if (len == 0)
        return payload_len > LEDGER_MAX_ENTRY ? LEDGER_ETOOBIG : LEDGER_EINVAL;
    if (len > LEDGER_MAX_ENTRY)
        return LEDGER_ETOOBIG;
    uint8_t *at = room(b, len);
    if (at == NULL)
        return LEDGER_ENOMEM;
    /* Written from e, so e is what the bytes decode to: the chain checks
     * run on it without decoding (and prescanning the payload) again. */
    struct ledger_known_entry k = {.e = e};
    ledger_entry_write(&e, at, len);
    ledger_entry_hash(e.prev_hash, at, len, k.hash);
    return take_entry(b, len, index_out, hash_out, &k);
}

enum ledger_error ledger_batch_add_entry_bytes(struct ledger_batch *b, const uint8_t *bytes,
                                               size_t len, uint8_t hash_out[LEDGER_HASH_BYTES])
{
    return ledger_batch_add_entry_known(b, bytes, len, NULL, hash_out);
}

enum ledger_error ledger_batch_add_entry_known(struct ledger_batch *b, const uint8_t *bytes,
                                               size_t len, const struct ledger_known_entry *known,
                                               uint8_t hash_out[LEDGER_HASH_BYTES])
{
    enum ledger_error err = usable(b);
    if (err != LEDGER_OK)
        return err;
    if (bytes == NULL || len == 0)
        return LEDGER_EMALFORMED;
    if (len > LEDGER_MAX_ENTRY)
        return LEDGER_ETOOBIG;
    uint8_t *at = room(b, len);
    if (at == NULL)
        return LEDGER_ENOMEM;
    memcpy(at, bytes, len);
    return take_entry(b, len, NULL, hash_out, known);
}

/* Encodes a non-entry body with enc, checks it against the chain, frames it. */
static enum ledger_error take_other(struct ledger_batch *b, uint8_t kind, size_t len)
{
    const uint8_t *body = b->buf.p + b->buf.len + LEDGER_FRAME_HDR + 1;
    enum ledger_error err = ledger_chain_record(&b->chain, kind, body, len, NULL, NULL, 0);
    if (err == LEDGER_OK)
        seal(b, kind, len);
    return err;
}

enum ledger_error ledger_batch_add_checkpoint(struct ledger_batch *b, const uint8_t *bytes,
                                              size_t len, const struct ledger_sig *sigs,
                                              size_t nsigs)
{
    enum ledger_error err = usable(b);
    if (err != LEDGER_OK)
        return err;
    if (bytes == NULL || sigs == NULL || nsigs == 0 || nsigs > LEDGER_MAX_SIGS)
        return LEDGER_EINVAL;
    if (len > LEDGER_CHECKPOINT_MAX)
        return LEDGER_ETOOBIG;
    size_t n = ledger_rec_checkpoint_encode(bytes, len, sigs, nsigs, NULL, 0);
    uint8_t *at = room(b, n);
    if (at == NULL)
        return LEDGER_ENOMEM;
    ledger_rec_checkpoint_encode(bytes, len, sigs, nsigs, at, n);
    return take_other(b, LEDGER_REC_CHECKPOINT, n);
}

enum ledger_error ledger_batch_add_cosignature(struct ledger_batch *b, const uint8_t *bytes,
                                               size_t len, const struct ledger_sig *sig)
{
    enum ledger_error err = usable(b);
    if (err != LEDGER_OK)
        return err;
    if (bytes == NULL || sig == NULL)
        return LEDGER_EINVAL;
    if (len > LEDGER_CHECKPOINT_MAX)
        return LEDGER_ETOOBIG;
    size_t n = ledger_rec_cosig_encode(bytes, len, sig, NULL, 0);
    uint8_t *at = room(b, n);
    if (at == NULL)
        return LEDGER_ENOMEM;
    ledger_rec_cosig_encode(bytes, len, sig, at, n);
    return take_other(b, LEDGER_REC_COSIGNATURE, n);
}

enum ledger_error ledger_batch_add_evidence(struct ledger_batch *b,
                                            const struct ledger_evidence *ev)
{
    enum ledger_error err = usable(b);
    if (err != LEDGER_OK)
        return err;
    if (ev == NULL || ev->a.len > LEDGER_CHECKPOINT_MAX || ev->b.len > LEDGER_CHECKPOINT_MAX)
        return LEDGER_EINVAL;
    size_t n = ledger_rec_evidence_encode(ev, NULL, 0);
    uint8_t *at = room(b, n);
    if (at == NULL)
        return LEDGER_ENOMEM;
    ledger_rec_evidence_encode(ev, at, n);
    return take_other(b, LEDGER_REC_EVIDENCE, n);
}

enum ledger_error ledger_batch_rebuild(struct ledger_batch *b, struct ledger *l, size_t keep)
{
    if (b == NULL || l == NULL || b->l == NULL || keep > b->nents || b->nrec != b->nents)
        return LEDGER_EINVAL;
    if (keep == b->nents && b->l == l && b->gen == l->gen)
        return LEDGER_OK;
    /* The entries' bytes do not change: only what they are checked against
     * (the store's head, checkpoint, membership) may have. */
    struct ledger_buf old = b->buf;
    struct batch_entry *ents = b->ents;
    b->buf = (struct ledger_buf){0};
    b->ents = NULL;
    b->capents = 0;
    ledger_batch_begin(b, l);
    enum ledger_error err = LEDGER_OK;
    for (size_t i = 0; i < keep && err == LEDGER_OK; i++)
        err = ledger_batch_add_entry_bytes(b, old.p + ents[i].off + LEDGER_FRAME_HDR + 1,
                                           ents[i].len - 1, NULL);
    ledger_buf_free(&old);
    free(ents);
    if (err != LEDGER_OK)
        ledger_batch_begin(b, l);
    return err;
}

/* ---- writing ---------------------------------------------------------- */

static int pwrite_all(int fd, const uint8_t *p, size_t len, uint64_t off)
{
    while (len > 0) {
        ssize_t k = pwrite(fd, p, len, (off_t)off);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        p += k;
        len -= (size_t)k;
        off += (uint64_t)k;
    }
    return 0;
}

enum ledger_error ledger_io_fail(struct ledger *l, const char *what, enum ledger_error err)
{
    l->io_what = what;
    l->io_errno = errno;
    return err;
}

enum ledger_error ledger_poison(struct ledger *l, const char *what)
{
    l->poisoned = true;
    return ledger_io_fail(l, what, LEDGER_EFATAL);
}

/* sync false: the caller syncs the segment later (ledger_append_batch_nosync). */
static enum ledger_error write_frames(struct ledger *l, const uint8_t *p, size_t len, bool may_roll,
                                      bool sync, size_t *seg, uint64_t *off)
{
    bool roll = l->nsegs == 0 || (may_roll && l->segs[l->nsegs - 1].size >= l->opt.segment_bytes);
    int fd = l->wfd;
    uint64_t at = roll ? 0 : l->segs[l->nsegs - 1].size;
    char path[LEDGER_PATH_MAX];
    if (roll) {
        if (l->nsegs == l->capsegs) {
            size_t cap = l->capsegs ? 2 * l->capsegs : 16;
            void *v = realloc(l->segs, cap * sizeof(*l->segs));
            if (v == NULL)
                return LEDGER_ENOMEM;
            l->segs = v;
            l->capsegs = cap;
        }
        /* Unsynced writes may sit in the segment being left. A caller that
         * syncs later takes its descriptor with the new one's
         * (ledger_sync_fd), so the loop does not wait for the disk here; a
         * segment left before that, or a write synced now, syncs it here. */
        if (l->wfd >= 0 && (sync || l->left_fd >= 0) &&
            ledger_sync(l, l->wfd, LEDGER_SYNC_DATA) != 0)
            return ledger_poison(l, "fdatasync");
        l->segs[l->nsegs] = (struct ledger_seg){l->chain.st.last_index + 1, 0};
        ledger_seg_path(l, l->nsegs, path, sizeof(path));
        fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0)
            return ledger_io_fail(l, "create a segment", LEDGER_EIO);
    }
    /* Which failures are retryable. A write that fails (ENOSPC, EDQUOT,
     * EFBIG, EIO) before any sync is undone here: the file is cut back to
     * its synced length (or the new segment removed), so the store is
     * exactly as it was and the caller may retry once there is room; a
     * leader steps down meanwhile (consensus.h, cons_storage_failed). If
     * the undo fails, what is on disk is unknown: fatal. */
    if (pwrite_all(fd, p, len, at) != 0) {
        int saved = errno;
        bool undone = roll ? unlink(path) == 0 : ftruncate(fd, (off_t)at) == 0;
        if (roll)
            close(fd);
        errno = saved;
        return undone ? ledger_io_fail(l, "write", LEDGER_EIO) : ledger_poison(l, "write");
    }
    /* Persist before acknowledge: one fdatasync for the whole batch. A
     * failed sync, ENOSPC included (filesystems that allocate at writeback
     * report it only here), may have dropped the dirty pages while marking
     * them clean, so what reached the disk is unknown and retrying proves
     * nothing: fatal, and start-up recovery judges the files (the rule of
     * PostgreSQL's "fsyncgate", 2018; Raft's persist before respond, §3.8,
     * cannot be kept otherwise). */
    if (sync && (ledger_sync(l, fd, LEDGER_SYNC_DATA) != 0 || !ledger_sync_left(l))) {
        if (roll)
            close(fd);
        return ledger_poison(l, "fdatasync");
    }
    if (roll && ledger_sync(l, l->dirfd, LEDGER_SYNC_DIR) != 0) {
        close(fd);
        return ledger_poison(l, "fsync the directory");
    }
    if (roll) {
        if (l->wfd >= 0 && !sync && l->left_fd < 0)
            l->left_fd = l->wfd; /* synced with the next ledger_sync_fd */
        else if (l->wfd >= 0)
            close(l->wfd);
        l->wfd = fd;
        l->nsegs++;
    }
    l->segs[l->nsegs - 1].size = at + len;
    *seg = l->nsegs - 1;
    *off = at;
    ledger_tail_note(l, *seg, at, p, len);
    return LEDGER_OK;
}

enum ledger_error ledger_write_frames(struct ledger *l, const uint8_t *p, size_t len, bool may_roll,
                                      size_t *seg, uint64_t *off)
{
    return write_frames(l, p, len, may_roll, true, seg, off);
}

static enum ledger_error append_batch(struct ledger *l, struct ledger_batch *b, bool sync)
{
    enum ledger_error err = LEDGER_OK;
    size_t seg;
    uint64_t off;
    if (l->poisoned)
        err = LEDGER_EFATAL;
    else if (l->opt.read_only)
        err = LEDGER_EINVAL;
    else if (b->l != l || b->gen != l->gen)
        err = LEDGER_ESTALE;
    else if (b->nrec > 0) {
        /* Room in memory first: after the write, nothing may fail. */
        if (!ledger_idx_reserve(l, b->chain.st.last_index) ||
            !ledger_hist_reserve(&l->hist, b->pending.n))
            err = LEDGER_ENOMEM;
        else
            err = write_frames(l, b->buf.p, b->buf.len, b->first_kind == LEDGER_REC_ENTRY, sync,
                               &seg, &off);
    }
    if (err == LEDGER_OK && b->nrec > 0) {
        for (size_t i = 0; i < b->nents; i++) {
            const struct batch_entry *e = &b->ents[i];
            struct ledger_idx x = {e->term, off + e->off, (uint32_t)seg, e->len};
            ledger_idx_set(l, e->index, &x);
        }
        for (size_t i = 0; i < b->pending.n; i++)
            l->hist.v[l->hist.n++] = b->pending.v[i];
        l->chain.st = b->chain.st;
        l->gen++;
    }
    batch_reset(b);
    return err;
}

enum ledger_error ledger_append_batch(struct ledger *l, struct ledger_batch *b)
{
    return append_batch(l, b, true);
}

enum ledger_error ledger_append_batch_nosync(struct ledger *l, struct ledger_batch *b, int *sync_fd)
{
    *sync_fd = -1;
    enum ledger_error err = append_batch(l, b, false);
    if (err != LEDGER_OK || l->wfd < 0)
        return err;
    /* A descriptor of its own: the ledger may close or replace the
     * segment's (a truncation, a roll) while the sync is under way. */
    if (!ledger_sync_left(l))
        return ledger_poison(l, "fdatasync");
    *sync_fd = fcntl(l->wfd, F_DUPFD_CLOEXEC, 0);
    if (*sync_fd < 0 && ledger_sync(l, l->wfd, LEDGER_SYNC_DATA) != 0)
        return ledger_poison(l, "fdatasync");
    return LEDGER_OK;
}

enum ledger_error ledger_append_batch_unsynced(struct ledger *l, struct ledger_batch *b)
{
    return append_batch(l, b, false);
}

int ledger_sync_fd(struct ledger *l, int *left)
{
    *left = -1;
    int fd = l->wfd < 0 ? -1 : fcntl(l->wfd, F_DUPFD_CLOEXEC, 0);
    if (fd >= 0) {
        *left = l->left_fd; /* the caller's now */
        l->left_fd = -1;
    }
    return fd;
}

enum ledger_error ledger_sync_now(struct ledger *l)
{
    if (!ledger_sync_left(l) || (l->wfd >= 0 && ledger_sync(l, l->wfd, LEDGER_SYNC_DATA) != 0))
        return ledger_poison(l, "fdatasync");
    return LEDGER_OK;
}

void ledger_sync_failed(struct ledger *l, int err)
{
    errno = err;
    ledger_poison(l, "fdatasync");
}
