/* The store's handle: open and recovery, state, reads (store.h). Appends
 * and truncation are in append.c. */
#include "ledger/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void ledger_seg_name(uint64_t first, char out[32])
{
    snprintf(out, 32, "seg-%020" PRIu64 ".log", first);
}

bool ledger_seg_path(const struct ledger *l, size_t seg, char *out, size_t n)
{
    char name[32];
    ledger_seg_name(l->segs[seg].first, name);
    /* Cannot be cut short: ledger_alloc refuses a longer dir. Joined by
     * hand, since snprintf's truncation warning cannot see that. */
    size_t dl = strlen(l->dir), nl = strlen(name);
    if (dl + 1 + nl + 1 > n)
        return false;
    memcpy(out, l->dir, dl);
    out[dl] = '/';
    memcpy(out + dl + 1, name, nl + 1);
    return true;
}

void ledger_drop_rfd(struct ledger *l)
{
    if (l->rfd >= 0)
        close(l->rfd);
    l->rfd = -1;
}

int ledger_seg_fd(struct ledger *l, size_t seg)
{
    if (seg + 1 == l->nsegs && l->wfd >= 0)
        return l->wfd;
    if (l->rfd >= 0 && l->rseg == seg)
        return l->rfd;
    ledger_drop_rfd(l);
    char path[LEDGER_PATH_MAX];
    ledger_seg_path(l, seg, path, sizeof(path));
    l->rfd = open(path, O_RDONLY | O_CLOEXEC);
    l->rseg = seg;
    return l->rfd;
}

int ledger_sync(struct ledger *l, int fd, enum ledger_sync_what what)
{
    if (l->opt.sync != NULL)
        return l->opt.sync(fd, what, l->opt.sync_arg);
    return what == LEDGER_SYNC_DATA ? fdatasync(fd) : fsync(fd);
}

bool ledger_sync_left(struct ledger *l)
{
    if (l->left_fd < 0)
        return true;
    int rc = ledger_sync(l, l->left_fd, LEDGER_SYNC_DATA);
    close(l->left_fd);
    l->left_fd = -1;
    return rc == 0;
}

bool ledger_idx_reserve(struct ledger *l, uint64_t n)
{
    if (n > l->capidx) {
        size_t cap = l->capidx ? 2 * l->capidx : 1024;
        while (cap < n)
            cap *= 2;
        void *v = realloc(l->idx, cap * sizeof(*l->idx));
        if (v == NULL)
            return false;
        l->idx = v;
        l->capidx = cap;
    }
    return true;
}

bool ledger_idx_set(struct ledger *l, uint64_t n, const struct ledger_idx *e)
{
    if (!ledger_idx_reserve(l, n))
        return false;
    l->idx[n - 1] = *e;
    return true;
}

static ssize_t pread_all(int fd, uint8_t *p, size_t len, uint64_t off)
{
    size_t done = 0;
    while (done < len) {
        ssize_t k = pread(fd, p + done, len - done, (off_t)(off + done));
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return k < 0 ? -1 : (ssize_t)done;
        done += (size_t)k;
    }
    return (ssize_t)done;
}

void ledger_tail_drop(struct ledger *l)
{
    l->tail.len = 0;
}

void ledger_tail_note(struct ledger *l, size_t seg, uint64_t off, const uint8_t *p, size_t len)
{
    if (l->tail.len > 0 && (seg != l->tail.seg || off != l->tail.off + l->tail.len))
        l->tail.len = 0; /* not a continuation: start over */
    if (len > LEDGER_TAIL_MAX / 2) {
        l->tail.len = 0;
        return;
    }
    if (l->tail.len + len > LEDGER_TAIL_MAX) {
        /* Keep the newer half: each byte is moved at most once more. */
        size_t keep = LEDGER_TAIL_MAX / 2 - len, drop = l->tail.len - keep;
        memmove(l->tail.p, l->tail.p + drop, keep);
        l->tail.off += drop;
        l->tail.len = keep;
    }
    if (l->tail.len + len > l->tail.cap) {
        size_t cap = l->tail.cap ? 2 * l->tail.cap : 16u * 1024u;
        while (cap < l->tail.len + len)
            cap *= 2;
        if (cap > LEDGER_TAIL_MAX)
            cap = LEDGER_TAIL_MAX;
        uint8_t *v = realloc(l->tail.p, cap);
        if (v == NULL) {
            l->tail.len = 0; /* reads go to the file */
            return;
        }
        l->tail.p = v;
        l->tail.cap = cap;
    }
    if (l->tail.len == 0) {
        l->tail.seg = seg;
        l->tail.off = off;
    }
    memcpy(l->tail.p + l->tail.len, p, len);
    l->tail.len += len;
}

enum ledger_error ledger_read_span(struct ledger *l, size_t seg, uint64_t off, size_t len,
                                   struct ledger_buf *b)
{
    b->len = 0;
    if (!ledger_buf_reserve(b, len))
        return LEDGER_ENOMEM;
    if (l->tail.len > 0 && seg == l->tail.seg && off >= l->tail.off &&
        off - l->tail.off + len <= l->tail.len) {
        memcpy(b->p, l->tail.p + (off - l->tail.off), len);
        b->len = len;
        return LEDGER_OK;
    }
    int fd = ledger_seg_fd(l, seg);
    if (fd < 0)
        return LEDGER_EIO;
    ssize_t got = pread_all(fd, b->p, len, off);
    if (got < 0)
        return LEDGER_EIO;
    if ((size_t)got != len)
        return LEDGER_ECORRUPT; /* the file shrank under us */
    b->len = len;
    return LEDGER_OK;
}

/* The entry record at p: frames, is an entry, and has the indexed length. */
static bool entry_frame(const uint8_t *p, size_t avail, const struct ledger_idx *e)
{
    uint32_t len;
    return ledger_frame_check(p, avail, &len) == LEDGER_FRAME_OK && len == e->len &&
           p[LEDGER_FRAME_HDR] == LEDGER_REC_ENTRY;
}

enum ledger_error ledger_read_at(struct ledger *l, uint64_t index, const uint8_t **bytes,
                                 size_t *len)
{
    if (index == 0 || index > l->chain.st.last_index)
        return LEDGER_ERANGE;
    const struct ledger_idx *e = &l->idx[index - 1];
    size_t need = LEDGER_FRAME_HDR + e->len;
    enum ledger_error err = ledger_read_span(l, e->seg, e->off, need, &l->rbuf);
    if (err != LEDGER_OK)
        return err;
    if (!entry_frame(l->rbuf.p, need, e))
        return LEDGER_ECORRUPT;
    *bytes = l->rbuf.p + LEDGER_FRAME_HDR + 1;
    *len = e->len - 1;
    return LEDGER_OK;
}

enum ledger_error ledger_lookup(void *arg, uint64_t index, uint64_t *term,
                                uint8_t hash[LEDGER_HASH_BYTES])
{
    struct ledger *l = arg;
    const uint8_t *b;
    size_t n;
    struct ledger_entry e;
    enum ledger_error err = ledger_read_at(l, index, &b, &n);
    if (err != LEDGER_OK)
        return err;
    if (ledger_entry_decode(b, n, &e, NULL) != LEDGER_OK || e.index != index)
        return LEDGER_ECORRUPT;
    ledger_entry_hash(e.prev_hash, b, n, hash);
    *term = l->idx[index - 1].term;
    return LEDGER_OK;
}

struct ledger *ledger_alloc(const char *dir, const struct ledger_options *opt)
{
    if (strlen(dir) > LEDGER_DIR_MAX)
        return NULL;
    struct ledger *l = calloc(1, sizeof(*l));
    if (l == NULL)
        return NULL;
    snprintf(l->dir, sizeof(l->dir), "%s", dir);
    l->dirfd = l->wfd = l->rfd = l->left_fd = -1;
    if (opt != NULL)
        l->opt = *opt;
    if (l->opt.segment_bytes == 0)
        l->opt.segment_bytes = LEDGER_SEGMENT_DEFAULT;
    if (l->opt.keys == LEDGER_KEYS_PINNED && l->opt.npinned > 0) {
        l->pinned = malloc(l->opt.npinned * sizeof(*l->pinned));
        if (l->pinned == NULL) {
            free(l);
            return NULL;
        }
        memcpy(l->pinned, l->opt.pinned, l->opt.npinned * sizeof(*l->pinned));
    }
    l->opt.pinned = (const uint8_t(*)[LEDGER_PUBKEY_BYTES])l->pinned;
    l->chain.hist = &l->hist;
    l->chain.keys = l->opt.keys;
    l->chain.pinned = l->opt.pinned;
    l->chain.npinned = l->pinned ? l->opt.npinned : 0;
    l->chain.lookup = ledger_lookup;
    l->chain.lookup_arg = l;
    return l;
}

void ledger_free(struct ledger *l)
{
    if (l == NULL)
        return;
    ledger_drop_rfd(l);
    if (l->wfd >= 0)
        close(l->wfd);
    if (l->left_fd >= 0)
        close(l->left_fd); /* unsynced, as after a crash */
    if (l->dirfd >= 0)
        close(l->dirfd);
    free(l->segs);
    free(l->idx);
    free(l->hist.v);
    free(l->pinned);
    ledger_buf_free(&l->rbuf);
    free(l->tail.p);
    free(l);
}

void ledger_close(struct ledger *l)
{
    ledger_free(l);
}

/* Cuts the torn tail found by the load. */
static enum ledger_error cut_tail(struct ledger *l, const struct ledger_load_out *lo,
                                  struct ledger_recovery *rec)
{
    size_t s = lo->seg;
    rec->at = lo->at;
    rec->bytes = lo->torn_bytes;
    if (l->opt.read_only)
        return LEDGER_OK;
    if (lo->at.offset == 0) {
        /* Nothing valid in it: the segment goes (it would otherwise start
         * with whatever the next append writes, maybe not an entry). */
        if (unlink(lo->at.file) != 0)
            return LEDGER_EIO;
        if (ledger_sync(l, l->dirfd, LEDGER_SYNC_DIR) != 0)
            return LEDGER_EFATAL;
        l->nsegs--;
        rec->removed_file = true;
    } else {
        int fd = open(lo->at.file, O_RDWR | O_CLOEXEC);
        if (fd < 0 || ftruncate(fd, (off_t)lo->at.offset) != 0) {
            if (fd >= 0)
                close(fd);
            return LEDGER_EIO;
        }
        int rc = ledger_sync(l, fd, LEDGER_SYNC_DATA);
        close(fd);
        if (rc != 0)
            return LEDGER_EFATAL;
        l->segs[s].size = lo->at.offset;
    }
    rec->truncated = true;
    return LEDGER_OK;
}

static enum ledger_error make_dir(const char *data_dir, const char *dir, struct ledger *l,
                                  char *err, size_t errlen)
{
    struct stat sb;
    if (stat(dir, &sb) == 0 && S_ISDIR(sb.st_mode))
        return LEDGER_OK;
    if (l->opt.read_only || mkdir(dir, 0700) != 0) {
        snprintf(err, errlen, "cannot %s %s: %s", l->opt.read_only ? "find" : "create", dir,
                 l->opt.read_only ? "no ledger there" : strerror(errno));
        return LEDGER_EIO;
    }
    int fd = open(data_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc = fd >= 0 ? ledger_sync(l, fd, LEDGER_SYNC_DIR) : -1;
    if (fd >= 0)
        close(fd);
    if (rc != 0) {
        snprintf(err, errlen, "cannot sync %s: %s", data_dir, strerror(errno));
        return LEDGER_EFATAL;
    }
    return LEDGER_OK;
}

enum ledger_error ledger_open(const char *data_dir, const struct ledger_options *opt,
                              struct ledger **out, struct ledger_recovery *rec,
                              struct ledger_problem *bad, char *err, size_t errlen)
{
    char dir[LEDGER_PATH_MAX];
    struct ledger_recovery rec_local;
    struct ledger_load_out lo;
    enum ledger_error rc;

    *out = NULL;
    if (rec == NULL)
        rec = &rec_local;
    memset(rec, 0, sizeof(*rec));
    if (bad != NULL)
        memset(bad, 0, sizeof(*bad));
    if (sodium_init() < 0) {
        snprintf(err, errlen, "libsodium failed to initialise");
        return LEDGER_EIO;
    }
    if ((size_t)snprintf(dir, sizeof(dir), "%s/%s", data_dir, LEDGER_SUBDIR) > LEDGER_DIR_MAX) {
        snprintf(err, errlen, "data directory path too long");
        return LEDGER_EINVAL;
    }
    struct ledger *l = ledger_alloc(dir, opt);
    if (l == NULL) {
        snprintf(err, errlen, "out of memory");
        return LEDGER_ENOMEM;
    }
    rc = make_dir(data_dir, dir, l, err, errlen);
    if (rc != LEDGER_OK)
        goto fail;
    l->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (l->dirfd < 0) {
        snprintf(err, errlen, "cannot open %s: %s", dir, strerror(errno));
        rc = LEDGER_EIO;
        goto fail;
    }
    ledger_load(l, NULL, NULL, &lo);
    switch (lo.result) {
    case LEDGER_LOAD_OK:
        break;
    case LEDGER_LOAD_TORN:
        rc = cut_tail(l, &lo, rec);
        if (rc != LEDGER_OK) {
            snprintf(err, errlen, "cannot cut the torn tail of %s at byte offset %llu: %s",
                     lo.at.file, (unsigned long long)lo.at.offset, strerror(errno));
            goto fail;
        }
        break;
    case LEDGER_LOAD_BAD:
        if (bad != NULL)
            *bad = lo.at;
        snprintf(err, errlen,
                 "%s: byte offset %llu (index %llu): %s. The ledger is damaged, not torn by a "
                 "crash: refusing to open it. Run chimeractl ledger verify on it, then restore "
                 "this node's data from a peer or a backup",
                 lo.at.file, (unsigned long long)lo.at.offset, (unsigned long long)lo.at.index,
                 lo.at.reason);
        rc = LEDGER_ECORRUPT;
        goto fail;
    case LEDGER_LOAD_IO:
        if (bad != NULL)
            *bad = lo.at;
        snprintf(err, errlen, "%s: %s", lo.at.file, lo.at.reason);
        rc = lo.code == LEDGER_ENOMEM ? LEDGER_ENOMEM : LEDGER_EIO;
        goto fail;
    }
    ledger_drop_rfd(l);
    if (!l->opt.read_only && l->nsegs > 0) {
        char path[LEDGER_PATH_MAX];
        ledger_seg_path(l, l->nsegs - 1, path, sizeof(path));
        l->wfd = open(path, O_RDWR | O_CLOEXEC);
        if (l->wfd < 0) {
            snprintf(err, errlen, "cannot open %s for appending: %s", path, strerror(errno));
            rc = LEDGER_EIO;
            goto fail;
        }
    }
    *out = l;
    return LEDGER_OK;
fail:
    ledger_free(l);
    return rc;
}

/* ---- state ------------------------------------------------------------ */

uint64_t ledger_last_index(const struct ledger *l)
{
    return l->chain.st.last_index;
}

uint64_t ledger_last_term(const struct ledger *l)
{
    return l->chain.st.last_term;
}

void ledger_head_hash(const struct ledger *l, uint8_t out[LEDGER_HASH_BYTES])
{
    memcpy(out, l->chain.st.head, LEDGER_HASH_BYTES);
}

enum ledger_error ledger_term_at(const struct ledger *l, uint64_t index, uint64_t *term)
{
    if (index > l->chain.st.last_index)
        return LEDGER_ERANGE;
    *term = index == 0 ? 0 : l->idx[index - 1].term;
    return LEDGER_OK;
}

enum ledger_error ledger_hash_at(struct ledger *l, uint64_t index, uint8_t out[LEDGER_HASH_BYTES])
{
    uint64_t term;
    if (index > l->chain.st.last_index)
        return LEDGER_ERANGE;
    if (index == 0) {
        memset(out, 0, LEDGER_HASH_BYTES);
        return LEDGER_OK;
    }
    if (index == l->chain.st.last_index) {
        memcpy(out, l->chain.st.head, LEDGER_HASH_BYTES);
        return LEDGER_OK;
    }
    return ledger_lookup(l, index, &term, out);
}

enum ledger_error ledger_last_checkpoint(const struct ledger *l,
                                         struct ledger_signed_checkpoint *out)
{
    if (!l->chain.st.have_cp)
        return LEDGER_ERANGE;
    *out = l->chain.st.cp;
    return LEDGER_OK;
}

size_t ledger_members_at(const struct ledger *l, uint64_t index,
                         uint8_t keys[][LEDGER_PUBKEY_BYTES], char ids[][LEDGER_ID_MAX])
{
    struct ledger_membership set[LEDGER_MAX_MEMBERS];
    size_t n = ledger_chain_members(&l->chain, index, set);
    for (size_t i = 0; i < n; i++) {
        if (keys != NULL)
            memcpy(keys[i], set[i].pubkey, LEDGER_PUBKEY_BYTES);
        if (ids != NULL)
            memcpy(ids[i], set[i].node, LEDGER_ID_MAX);
    }
    return n;
}

int ledger_io_errno(const struct ledger *l)
{
    return l->io_what ? l->io_errno : 0;
}

const char *ledger_describe(const struct ledger *l, enum ledger_error err, char *buf, size_t len)
{
    if ((err != LEDGER_EIO && err != LEDGER_EFATAL) || !l || !l->io_what || !l->io_errno) {
        snprintf(buf, len, "%s", ledger_strerror(err));
        return buf;
    }
    char why[128];
    ledger_syserror(l->io_errno, why, sizeof(why));
    if (err == LEDGER_EFATAL)
        snprintf(buf, len,
                 "fatal: %s: %s (what reached the disk is unknown: the process must abort)",
                 l->io_what, why);
    else
        snprintf(buf, len, "%s: %s: %s", ledger_strerror(err), l->io_what, why);
    return buf;
}

/* ---- reads ------------------------------------------------------------ */

enum ledger_error ledger_read_entry(struct ledger *l, uint64_t index, uint8_t **bytes, size_t *len)
{
    const uint8_t *b;
    size_t n;
    *bytes = NULL;
    if (l->poisoned)
        return LEDGER_EFATAL;
    enum ledger_error err = ledger_read_at(l, index, &b, &n);
    if (err != LEDGER_OK)
        return err;
    *bytes = malloc(n);
    if (*bytes == NULL)
        return LEDGER_ENOMEM;
    memcpy(*bytes, b, n);
    *len = n;
    return LEDGER_OK;
}

enum ledger_error ledger_read_range(struct ledger *l, uint64_t from, uint64_t max_count,
                                    size_t max_bytes, ledger_entry_fn fn, void *arg)
{
    uint64_t last = l->chain.st.last_index;
    struct ledger_buf b = {0};
    enum ledger_error err = LEDGER_OK;
    uint64_t given = 0;
    size_t bytes = 0;
    if (l->poisoned)
        return LEDGER_EFATAL;
    if (from == 0 || from > last)
        return LEDGER_ERANGE;
    /* One pread per run of entries in one segment: the records are adjacent
     * (apart from the odd checkpoint record between them). */
    for (uint64_t i = from; i <= last && given < max_count && err == LEDGER_OK;) {
        const struct ledger_idx *first = &l->idx[i - 1];
        if (given > 0 && bytes + (first->len - 1u) > max_bytes)
            break;
        uint64_t j = i;
        size_t run = first->len - 1u;
        while (j < last && j - i + 1 < max_count - given && l->idx[j].seg == first->seg &&
               bytes + run + (l->idx[j].len - 1u) <= max_bytes) {
            run += l->idx[j].len - 1u;
            j++;
        }
        const struct ledger_idx *end = &l->idx[j - 1];
        size_t span = (size_t)(end->off - first->off) + LEDGER_FRAME_HDR + end->len;
        err = ledger_read_span(l, first->seg, first->off, span, &b);
        for (uint64_t k = i; k <= j && err == LEDGER_OK; k++) {
            const struct ledger_idx *e = &l->idx[k - 1];
            size_t rel = (size_t)(e->off - first->off);
            if (!entry_frame(b.p + rel, span - rel, e)) {
                err = LEDGER_ECORRUPT;
                break;
            }
            given++;
            bytes += e->len - 1u;
            if (fn(k, e->term, b.p + rel + LEDGER_FRAME_HDR + 1, e->len - 1u, arg) != 0) {
                ledger_buf_free(&b);
                return LEDGER_OK;
            }
        }
        i = j + 1;
    }
    ledger_buf_free(&b);
    return err;
}
