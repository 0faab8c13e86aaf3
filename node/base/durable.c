#include "node/base/durable.h"

#include "ledger/base.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int fail(char *err, size_t errlen, const char *what, const char *path)
{
    char why[128];
    snprintf(err, errlen, "cannot %s %s: %s", what, path, ledger_syserror(errno, why, sizeof(why)));
    return -1;
}

/* Gives up on the temporary file (it must not hold on to the space a full
 * disk lacks); errno stays the failure's. */
static int drop_tmp(int fd, const char *tmp, char *err, size_t errlen, const char *what)
{
    int saved = errno;
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    errno = saved;
    return fail(err, errlen, what, tmp);
}

/* Creates path with len bytes of buf and syncs it: 0, or -1 with one line
 * in err and no file left behind. */
static int write_synced(const char *path, const void *buf, size_t len, char *err, size_t errlen)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return drop_tmp(-1, path, err, errlen, "create");
    const char *p = buf;
    for (size_t done = 0; done < len;) {
        ssize_t k = write(fd, p + done, len - done);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            if (k == 0)
                errno = ENOSPC;
            return drop_tmp(fd, path, err, errlen, "write");
        }
        done += (size_t)k;
    }
    if (fsync(fd) != 0)
        return drop_tmp(fd, path, err, errlen, "fsync");
    close(fd);
    return 0;
}

int durable_write(const char *dir, const char *name, const void *buf, size_t len, char *err,
                  size_t errlen)
{
    char path[4096], tmp[4112];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    /* A failed sync of the temporary file is retryable, unlike one of the
     * ledger's: the file is thrown away, and the old one was not touched. */
    if (write_synced(tmp, buf, len, err, errlen) != 0)
        return -1;
    if (rename(tmp, path) != 0)
        return drop_tmp(-1, tmp, err, errlen, "rename");
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rv = dfd >= 0 ? fsync(dfd) : -1;
    if (dfd >= 0)
        close(dfd);
    if (rv == 0)
        return 0;
    fail(err, errlen, "fsync", dir);
    return -2;
}

int durable_probe(const char *dir, size_t bytes, char *err, size_t errlen)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/.write-probe", dir);
    char *buf = calloc(1, bytes ? bytes : 1);
    if (!buf) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int rv = write_synced(path, buf, bytes, err, errlen);
    if (rv == 0)
        unlink(path);
    free(buf);
    return rv;
}

long durable_read(const char *dir, const char *name, void *buf, size_t cap, char *err,
                  size_t errlen)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return -1;
        fail(err, errlen, "open", path);
        return -2;
    }
    size_t got = 0;
    char *p = buf;
    for (;;) {
        char extra;
        ssize_t k = got < cap ? read(fd, p + got, cap - got) : read(fd, &extra, 1);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            close(fd);
            fail(err, errlen, "read", path);
            return -2;
        }
        if (k == 0)
            break;
        if (got >= cap) {
            close(fd);
            snprintf(err, errlen, "%s is larger than %zu bytes", path, cap);
            return -2;
        }
        got += (size_t)k;
    }
    close(fd);
    return (long)got;
}
