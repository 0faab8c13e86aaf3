#include "node/raft/cons_store.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "node/base/durable.h"

static const char MAGIC_V1[8] = {'C', 'H', 'R', 'C', 'O', 'N', 'S', '1'};
static const char MAGIC_SLOT[8] = {'C', 'H', 'R', 'C', 'O', 'N', 'S', '2'};
#define ID_FIELD 64
#define SUM_BYTES 16

static void put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (56 - 8 * i));
}

static uint64_t get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

/* magic | [sequence] | term | id length | id | sum: the v1 record and a
 * slot differ only in the magic and the sequence. */
static void encode(const char magic[8], const uint64_t *seq, const struct cons_stored *s,
                   uint8_t *out, size_t len)
{
    memset(out, 0, len);
    memcpy(out, magic, 8);
    uint8_t *p = out + 8;
    if (seq) {
        put_u64(p, *seq);
        p += 8;
    }
    put_u64(p, s->term);
    size_t idlen = strnlen(s->voted_for, ID_FIELD - 1);
    p[8] = (uint8_t)idlen;
    memcpy(p + 9, s->voted_for, idlen);
    crypto_generichash(out + len - SUM_BYTES, SUM_BYTES, out, len - SUM_BYTES, NULL, 0);
}

static int decode(const char magic[8], uint64_t *seq, const uint8_t *buf, size_t len,
                  struct cons_stored *s, char *err, size_t errlen)
{
    if (memcmp(buf, magic, 8) != 0) {
        snprintf(err, errlen, "not a consensus state record (bad magic)");
        return -1;
    }
    uint8_t sum[SUM_BYTES];
    crypto_generichash(sum, sizeof(sum), buf, len - SUM_BYTES, NULL, 0);
    if (sodium_memcmp(sum, buf + len - SUM_BYTES, sizeof(sum)) != 0) {
        snprintf(err, errlen, "corrupt: checksum mismatch");
        return -1;
    }
    const uint8_t *p = buf + 8;
    if (seq) {
        *seq = get_u64(p);
        p += 8;
    }
    uint8_t idlen = p[8];
    if (idlen >= CONFIG_ID_MAX || memchr(p + 9, '\0', idlen)) {
        snprintf(err, errlen, "corrupt: bad voted-for length %u", idlen);
        return -1;
    }
    s->term = get_u64(p);
    memcpy(s->voted_for, p + 9, idlen);
    s->voted_for[idlen] = '\0';
    return 0;
}

void cons_store_encode(const struct cons_stored *s, uint8_t out[CONS_STORE_BYTES])
{
    encode(MAGIC_V1, NULL, s, out, CONS_STORE_BYTES);
}

int cons_store_decode(const uint8_t *buf, size_t len, struct cons_stored *s, char *err,
                      size_t errlen)
{
    if (len != CONS_STORE_BYTES) {
        snprintf(err, errlen, "torn: %zu bytes where %d were expected", len, CONS_STORE_BYTES);
        return -1;
    }
    return decode(MAGIC_V1, NULL, buf, len, s, err, errlen);
}

void cons_store_encode_slot(const struct cons_stored *s, uint64_t seq,
                            uint8_t out[CONS_STORE_SLOT_RECORD])
{
    encode(MAGIC_SLOT, &seq, s, out, CONS_STORE_SLOT_RECORD);
}

/* The newest valid slot of a two-slot file: its index (0 or 1) with *s and
 * *seq, or -1 with both slots' reasons in err. */
static int newest_slot(const uint8_t file[CONS_STORE_FILE_BYTES], struct cons_stored *s,
                       uint64_t *seq, char *err, size_t errlen)
{
    struct cons_stored got[2];
    uint64_t seqs[2];
    char why[2][96];
    int ok[2];
    for (int i = 0; i < 2; i++) {
        memset(&got[i], 0, sizeof(got[i]));
        ok[i] = decode(MAGIC_SLOT, &seqs[i], file + i * CONS_STORE_SLOT, CONS_STORE_SLOT_RECORD,
                       &got[i], why[i], sizeof(why[i])) == 0;
    }
    if (!ok[0] && !ok[1]) {
        snprintf(err, errlen,
                 "both slots are damaged (slot A at byte 0: %s; slot B at byte %d: %s)", why[0],
                 CONS_STORE_SLOT, why[1]);
        return -1;
    }
    int i = !ok[0] || (ok[1] && seqs[1] > seqs[0]);
    *s = got[i];
    *seq = seqs[i];
    return i;
}

int cons_store_load(const char *data_dir, struct cons_stored *s, char *err, size_t errlen)
{
    uint8_t buf[CONS_STORE_FILE_BYTES];
    char why[320];
    long len = durable_read(data_dir, CONS_STORE_FILE, buf, sizeof(buf), why, sizeof(why));
    memset(s, 0, sizeof(*s));
    s->missing = len == -1;
    if (len == -1)
        return 0;
    uint64_t seq;
    int rv = -1;
    if (len == CONS_STORE_FILE_BYTES)
        rv = newest_slot(buf, s, &seq, why, sizeof(why)) < 0 ? -1 : 0;
    else if (len == CONS_STORE_BYTES) /* the single record of before: a rolling upgrade */
        rv = cons_store_decode(buf, (size_t)len, s, why, sizeof(why));
    else if (len >= 0)
        snprintf(why, sizeof(why),
                 "torn: %ld bytes where %d (or %d, the format of before) were expected", len,
                 CONS_STORE_FILE_BYTES, CONS_STORE_BYTES);
    if (rv != 0) {
        s->missing = false;
        snprintf(err, errlen,
                 "%s/%s: %s; refusing to start, since forgetting a vote could elect two leaders "
                 "(restore the file, or wipe the data directory to rejoin as a new node)",
                 data_dir, CONS_STORE_FILE, why);
        return -1;
    }
    return 0;
}

static void state_path(const char *data_dir, char *path, size_t len)
{
    snprintf(path, len, "%s/%s", data_dir, CONS_STORE_FILE);
}

void cons_store_attach(struct cons_store *st, const char *data_dir)
{
    *st = (struct cons_store){.dir = data_dir, .fd = -1, .newest = -1};
    char path[4096], why[320];
    state_path(data_dir, path, sizeof(path));
    int fd = open(path, O_RDWR | O_CLOEXEC);
    struct stat sb;
    uint8_t file[CONS_STORE_FILE_BYTES];
    struct cons_stored had;
    if (fd >= 0 && fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) &&
        sb.st_size == CONS_STORE_FILE_BYTES &&
        pread(fd, file, sizeof(file), 0) == (ssize_t)sizeof(file))
        st->newest = newest_slot(file, &had, &st->seq, why, sizeof(why));
    if (st->newest >= 0)
        st->fd = fd;
    else if (fd >= 0)
        close(fd);
}

void cons_store_detach(struct cons_store *st)
{
    if (st->fd >= 0)
        close(st->fd);
    st->fd = st->newest = -1;
}

/* Writes the slot that does not hold the newest record, in place: 0, or
 * -2 when the write or its sync failed (what the file holds is then
 * unknown). A new file renamed over the old (durable_write) costs the file
 * system two journal commits where an overwrite costs only the data's.
 * Two slots make the overwrite safe: a write torn by a power cut can only
 * damage the slot being written, which load then skips for the other, the
 * record before it; and the record being written was never acted upon,
 * since its sync had not returned. */
static int overwrite(struct cons_store *st, const struct cons_stored *s, char *err, size_t errlen)
{
    uint8_t rec[CONS_STORE_SLOT_RECORD];
    cons_store_encode_slot(s, st->seq + 1, rec);
    ssize_t k;
    do
        k = pwrite(st->fd, rec, sizeof(rec), (off_t)(1 - st->newest) * CONS_STORE_SLOT);
    while (k < 0 && errno == EINTR);
    const char *what = k != (ssize_t)sizeof(rec) ? "write"
                       : fdatasync(st->fd) != 0  ? "fdatasync"
                                                 : NULL;
    if (!what) {
        st->seq++;
        st->newest = 1 - st->newest;
        return 0;
    }
    int e = errno;
    char path[4096];
    state_path(st->dir, path, sizeof(path));
    snprintf(err, errlen, "%s: %s: %s", path, what,
             k < 0 || what[0] == 'f' ? strerror(e) : "short");
    return -2;
}

int cons_store_write(struct cons_store *st, const struct cons_stored *s, char *err, size_t errlen)
{
    if (st->newest >= 0)
        return overwrite(st, s, err, errlen);
    /* The first vote, the single record of before (converted), or a file
     * of another size: a new two-slot file, renamed; slot B stays empty
     * until the next save. */
    uint8_t file[CONS_STORE_FILE_BYTES] = {0};
    cons_store_encode_slot(s, 1, file);
    int rv = durable_write(st->dir, CONS_STORE_FILE, file, sizeof(file), err, errlen);
    if (rv != 0)
        return rv;
    char path[4096];
    state_path(st->dir, path, sizeof(path));
    st->fd = open(path, O_RDWR | O_CLOEXEC);
    /* Without a descriptor the next save replaces the file whole again. */
    st->newest = st->fd >= 0 ? 0 : -1;
    st->seq = 1;
    return 0;
}

int cons_store_save(const char *data_dir, const struct cons_stored *s, char *err, size_t errlen)
{
    struct cons_store st;
    cons_store_attach(&st, data_dir);
    int rv = cons_store_write(&st, s, err, errlen);
    cons_store_detach(&st);
    return rv;
}
