#include "node/raft/cons_store.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "node/base/durable.h"

static const char MAGIC[8] = {'C', 'H', 'R', 'C', 'O', 'N', 'S', '1'};
#define BODY_BYTES (CONS_STORE_BYTES - 16)
#define ID_FIELD 64

void cons_store_encode(const struct cons_stored *s, uint8_t out[CONS_STORE_BYTES])
{
    memset(out, 0, CONS_STORE_BYTES);
    memcpy(out, MAGIC, sizeof(MAGIC));
    for (int i = 0; i < 8; i++)
        out[8 + i] = (uint8_t)(s->term >> (56 - 8 * i));
    size_t idlen = strnlen(s->voted_for, ID_FIELD - 1);
    out[16] = (uint8_t)idlen;
    memcpy(out + 17, s->voted_for, idlen);
    crypto_generichash(out + BODY_BYTES, 16, out, BODY_BYTES, NULL, 0);
}

int cons_store_decode(const uint8_t *buf, size_t len, struct cons_stored *s, char *err,
                      size_t errlen)
{
    if (len != CONS_STORE_BYTES) {
        snprintf(err, errlen, "torn: %zu bytes where %d were expected", len, CONS_STORE_BYTES);
        return -1;
    }
    if (memcmp(buf, MAGIC, sizeof(MAGIC)) != 0) {
        snprintf(err, errlen, "not a consensus state file (bad magic)");
        return -1;
    }
    uint8_t sum[16];
    crypto_generichash(sum, sizeof(sum), buf, BODY_BYTES, NULL, 0);
    if (sodium_memcmp(sum, buf + BODY_BYTES, sizeof(sum)) != 0) {
        snprintf(err, errlen, "corrupt: checksum mismatch");
        return -1;
    }
    uint8_t idlen = buf[16];
    if (idlen >= CONFIG_ID_MAX || memchr(buf + 17, '\0', idlen)) {
        snprintf(err, errlen, "corrupt: bad voted-for length %u", idlen);
        return -1;
    }
    s->term = 0;
    for (int i = 0; i < 8; i++)
        s->term = s->term << 8 | buf[8 + i];
    memcpy(s->voted_for, buf + 17, idlen);
    s->voted_for[idlen] = '\0';
    return 0;
}

int cons_store_load(const char *data_dir, struct cons_stored *s, char *err, size_t errlen)
{
    uint8_t buf[CONS_STORE_BYTES];
    char why[256];
    long len = durable_read(data_dir, CONS_STORE_FILE, buf, sizeof(buf), why, sizeof(why));
    memset(s, 0, sizeof(*s));
    s->missing = len == -1;
    if (len == -1)
        return 0;
    if (len == -2 || cons_store_decode(buf, (size_t)len, s, why, sizeof(why)) != 0) {
        snprintf(err, errlen,
                 "%s/%s: %s; refusing to start, since forgetting a vote could elect two leaders "
                 "(restore the file, or wipe the data directory to rejoin as a new node)",
                 data_dir, CONS_STORE_FILE, why);
        return -1;
    }
    return 0;
}

/* Overwrites an existing record of the right size in place: 0; 1 when
 * there is none to overwrite (nothing was written); -2 when the write or
 * its sync failed (what the file holds is then unknown). The record (97
 * bytes) lies within the first 512-byte sector, which a disk writes whole:
 * the reasoning behind PostgreSQL's pg_control, kept under 512 bytes to be
 * overwritten in place; and a torn write would fail the checksum at the
 * next start, which refuses to start rather than forget a vote. A new file
 * renamed over the old (durable_write) costs the file system two journal
 * commits, and a vote is on the critical path of every election (§3.8: the
 * candidate's own, then each voter's). */
static int overwrite(const char *data_dir, const uint8_t *buf, char *err, size_t errlen)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", data_dir, CONS_STORE_FILE);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size != CONS_STORE_BYTES) {
        if (fd >= 0)
            close(fd);
        return 1;
    }
    ssize_t k;
    do
        k = pwrite(fd, buf, CONS_STORE_BYTES, 0);
    while (k < 0 && errno == EINTR);
    const char *what = k != CONS_STORE_BYTES ? "write" : fdatasync(fd) != 0 ? "fdatasync" : NULL;
    int e = errno;
    close(fd);
    if (!what)
        return 0;
    snprintf(err, errlen, "%s: %s: %s", path, what,
             k < 0 || what[0] == 'f' ? strerror(e) : "short");
    return -2;
}

int cons_store_save(const char *data_dir, const struct cons_stored *s, char *err, size_t errlen)
{
    uint8_t buf[CONS_STORE_BYTES];
    cons_store_encode(s, buf);
    int rv = overwrite(data_dir, buf, err, errlen);
    /* The first vote, or a file of another size: a new file, renamed. */
    return rv == 1 ? durable_write(data_dir, CONS_STORE_FILE, buf, sizeof(buf), err, errlen) : rv;
}
