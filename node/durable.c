#include "node/durable.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int fail(char *err, size_t errlen, const char *what, const char *path)
{
    snprintf(err, errlen, "cannot %s %s: %s", what, path, strerror(errno));
    return -1;
}

int durable_write(const char *dir, const char *name, const void *buf, size_t len, char *err,
                  size_t errlen)
{
    char path[4096], tmp[4112];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return fail(err, errlen, "create", tmp);
    const char *p = buf;
    for (size_t done = 0; done < len;) {
        ssize_t k = write(fd, p + done, len - done);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            close(fd);
            return fail(err, errlen, "write", tmp);
        }
        done += (size_t)k;
    }
    if (fsync(fd) != 0) {
        close(fd);
        return fail(err, errlen, "fsync", tmp);
    }
    close(fd);
    if (rename(tmp, path) != 0)
        return fail(err, errlen, "rename", tmp);
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return fail(err, errlen, "open", dir);
    int rv = fsync(dfd);
    close(dfd);
    return rv == 0 ? 0 : fail(err, errlen, "fsync", dir);
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
