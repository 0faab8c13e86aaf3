/* Scanning the segments, at open (recovery) and in verify: framing, CRC,
 * the chain rules, segment names, and the torn-tail-or-tampered judgement.
 *
 * The judgement. A crash during an append leaves, in the last segment only,
 * a valid prefix and then a record that is cut short or whose bytes did not
 * all reach the disk, and nothing valid after it: appends only go at the
 * end. So: the first record that does not frame (bad length, past the end,
 * bad CRC, unknown kind) in the last segment is a torn tail when no valid
 * frame starts at ANY later byte offset, and tampering when one does;
 * anywhere else it is tampering. The search looks at every offset because a
 * damaged length field loses the record boundaries. A record that frames
 * but breaks a rule is always tampering: its CRC says the bytes are the
 * ones written. Where this can be wrong, it errs on the safe side: a valid
 * frame inside the torn record's own payload (a note can carry any bytes),
 * or stale blocks that a filesystem without ordered data exposes after a
 * crash, make a torn write look like tampering, so the node refuses to
 * start rather than cut records that may be real. */
#include "ledger/internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define SEG_PREFIX "seg-"
#define SEG_DIGITS 20
#define SEG_SUFFIX ".log"

static void problem(struct ledger_load_out *out, enum ledger_load_result res,
                    enum ledger_error code, const char *file, uint64_t offset, uint64_t index,
                    const char *fmt, ...) __attribute__((format(printf, 7, 8)));

static void problem(struct ledger_load_out *out, enum ledger_load_result res,
                    enum ledger_error code, const char *file, uint64_t offset, uint64_t index,
                    const char *fmt, ...)
{
    va_list ap;
    out->result = res;
    out->code = code;
    snprintf(out->at.file, sizeof(out->at.file), "%s", file);
    out->at.offset = offset;
    out->at.index = index;
    va_start(ap, fmt);
    vsnprintf(out->at.reason, sizeof(out->at.reason), fmt, ap);
    va_end(ap);
}

/* "seg-" 20 digits ".log" -> first index. 1: parsed, 0: not a segment
 * name at all, -1: looks like one but is not exactly one. */
static int parse_name(const char *name, uint64_t *first)
{
    size_t pn = strlen(SEG_PREFIX);
    if (strncmp(name, SEG_PREFIX, pn) != 0)
        return 0;
    const char *d = name + pn;
    uint64_t v = 0;
    for (int i = 0; i < SEG_DIGITS; i++) {
        if (d[i] < '0' || d[i] > '9')
            return -1;
        uint64_t digit = (uint64_t)(d[i] - '0');
        if (v > (UINT64_MAX - digit) / 10)
            return -1;
        v = v * 10 + digit;
    }
    if (strcmp(d + SEG_DIGITS, SEG_SUFFIX) != 0)
        return -1;
    *first = v;
    return 1;
}

static int by_first(const void *a, const void *b)
{
    const struct ledger_seg *x = a, *y = b;
    return x->first < y->first ? -1 : x->first > y->first;
}

static bool list_segments(struct ledger *l, struct ledger_load_out *out)
{
    DIR *d = opendir(l->dir);
    if (d == NULL) {
        problem(out, LEDGER_LOAD_IO, LEDGER_EIO, l->dir, 0, 0, "cannot open the directory: %s",
                strerror(errno));
        return false;
    }
    struct dirent *de;
    bool ok = true;
    l->nsegs = 0;
    while (ok && (de = readdir(d)) != NULL) {
        uint64_t first;
        int r = parse_name(de->d_name, &first);
        if (r == 0)
            continue; /* not ours: an operator's notes, a lost+found, ... */
        if (r < 0 || first == 0) {
            problem(out, LEDGER_LOAD_BAD, LEDGER_ECORRUPT, l->dir, 0, 0,
                    "unexpected file %.64s among the segments (names are seg-<20 digits>.log)",
                    de->d_name);
            ok = false;
            break;
        }
        if (l->nsegs == l->capsegs) {
            size_t cap = l->capsegs ? 2 * l->capsegs : 16;
            void *v = realloc(l->segs, cap * sizeof(*l->segs));
            if (v == NULL) {
                problem(out, LEDGER_LOAD_IO, LEDGER_ENOMEM, l->dir, 0, 0, "out of memory");
                ok = false;
                break;
            }
            l->segs = v;
            l->capsegs = cap;
        }
        l->segs[l->nsegs++] = (struct ledger_seg){first, 0};
    }
    closedir(d);
    if (ok && l->nsegs > 1)
        qsort(l->segs, l->nsegs, sizeof(*l->segs), by_first);
    return ok;
}

static bool valid_frame_after(const uint8_t *p, size_t from, size_t size)
{
    for (size_t o = from; o + LEDGER_FRAME_HDR < size; o++) {
        uint32_t len;
        /* Cheap rejections first: most offsets fail on the length or kind
         * byte before any CRC is computed. */
        uint32_t n = (uint32_t)p[o] | (uint32_t)p[o + 1] << 8 | (uint32_t)p[o + 2] << 16 |
                     (uint32_t)p[o + 3] << 24;
        if (n == 0 || n > size - o - LEDGER_FRAME_HDR || p[o + LEDGER_FRAME_HDR] == 0 ||
            p[o + LEDGER_FRAME_HDR] >= LEDGER_REC_KIND_END)
            continue;
        if (ledger_frame_check(p + o, size - o, &len) == LEDGER_FRAME_OK)
            return true;
    }
    return false;
}

/* Scans one mapped segment. Returns false when the load must stop. */
static bool scan(struct ledger *l, size_t s, const char *path, const uint8_t *p, size_t size,
                 ledger_load_hook hook, void *arg, struct ledger_load_out *out)
{
    bool last = s + 1 == l->nsegs;
    char why[200];
    for (size_t off = 0; off < size;) {
        uint32_t len = 0;
        uint64_t next = l->chain.st.last_index + 1;
        enum ledger_frame f = ledger_frame_check(p + off, size - off, &len);
        if (f != LEDGER_FRAME_OK) {
            if (last && !valid_frame_after(p, off + 1, size)) {
                problem(out, LEDGER_LOAD_TORN, LEDGER_OK, path, off, next,
                        "%s, and nothing valid after it", ledger_frame_reason(f));
                out->seg = s;
                out->torn_bytes = size - off;
                return false;
            }
            problem(out, LEDGER_LOAD_BAD, LEDGER_ECORRUPT, path, off, next, "%s%s",
                    ledger_frame_reason(f),
                    last ? ", and valid records follow it" : " in a segment that is not the last");
            return false;
        }
        uint8_t kind = p[off + LEDGER_FRAME_HDR];
        const uint8_t *body = p + off + LEDGER_FRAME_HDR + 1;
        if (s > 0 && off == 0 && kind != LEDGER_REC_ENTRY) {
            problem(out, LEDGER_LOAD_BAD, LEDGER_ECORRUPT, path, off, next,
                    "segment starts with a %s record, not an entry", ledger_rec_kind_name(kind));
            return false;
        }
        uint64_t about = next;
        why[0] = '\0';
        enum ledger_error err =
            ledger_chain_record(&l->chain, kind, body, len - 1, &about, why, sizeof(why));
        if (err != LEDGER_OK) {
            problem(out, err == LEDGER_ENOMEM ? LEDGER_LOAD_IO : LEDGER_LOAD_BAD, err, path, off,
                    about, "%s record: %s", ledger_rec_kind_name(kind),
                    why[0] ? why : ledger_strerror(err));
            return false;
        }
        if (kind == LEDGER_REC_ENTRY) {
            struct ledger_idx e = {l->chain.st.last_term, off, (uint32_t)s, len};
            if (!ledger_idx_set(l, l->chain.st.last_index, &e)) {
                problem(out, LEDGER_LOAD_IO, LEDGER_ENOMEM, path, off, about, "out of memory");
                return false;
            }
        }
        if (hook != NULL && hook(arg, l, kind, body, len - 1, out) != 0) {
            char reason[sizeof(out->at.reason)];
            memcpy(reason, out->at.reason, sizeof(reason));
            problem(out, LEDGER_LOAD_BAD, out->code, path, off, about, "%s", reason);
            return false;
        }
        off += LEDGER_FRAME_HDR + (size_t)len;
    }
    return true;
}

void ledger_load(struct ledger *l, ledger_load_hook hook, void *arg, struct ledger_load_out *out)
{
    memset(out, 0, sizeof(*out));
    out->result = LEDGER_LOAD_OK;
    if (!list_segments(l, out))
        return;
    for (size_t s = 0; s < l->nsegs; s++) {
        char path[LEDGER_PATH_MAX];
        uint64_t next = l->chain.st.last_index + 1;
        ledger_seg_path(l, s, path, sizeof(path));
        if (l->segs[s].first != next) {
            if (s == 0)
                problem(out, LEDGER_LOAD_BAD, LEDGER_ECORRUPT, path, 0, next,
                        "the ledger starts at index %llu, not 1: segments are missing before "
                        "this one",
                        (unsigned long long)l->segs[s].first);
            else
                problem(out, LEDGER_LOAD_BAD, LEDGER_ECORRUPT, path, 0, next,
                        "segment named for index %llu follows one that ends at index %llu: "
                        "segments missing, renamed or misplaced",
                        (unsigned long long)l->segs[s].first,
                        (unsigned long long)l->chain.st.last_index);
            return;
        }
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        struct stat sb;
        if (fd < 0 || fstat(fd, &sb) != 0) {
            problem(out, LEDGER_LOAD_IO, LEDGER_EIO, path, 0, next, "cannot read: %s",
                    strerror(errno));
            if (fd >= 0)
                close(fd);
            return;
        }
        size_t size = (size_t)sb.st_size;
        l->segs[s].size = size;
        out->bytes += size;
        if (size == 0) {
            close(fd);
            if (s + 1 == l->nsegs) { /* created, then the crash came before the write */
                problem(out, LEDGER_LOAD_TORN, LEDGER_OK, path, 0, next, "empty last segment");
                out->seg = s;
                return;
            }
            problem(out, LEDGER_LOAD_BAD, LEDGER_ECORRUPT, path, 0, next,
                    "empty segment before the last");
            return;
        }
        /* Mapped rather than read: no allocation sized by the file, and the
         * torn-tail search can look back at any byte. */
        void *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
        close(fd);
        if (map == MAP_FAILED) {
            problem(out, LEDGER_LOAD_IO, LEDGER_EIO, path, 0, next, "cannot map: %s",
                    strerror(errno));
            return;
        }
        bool go_on = scan(l, s, path, map, size, hook, arg, out);
        munmap(map, size);
        if (!go_on)
            return;
    }
}
