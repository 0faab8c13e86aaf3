/* The data directory's lock (see datadir.h). */
#include "ledger/datadir.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

static int say(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int say(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

static void lock_path(const char *dir, char *out, size_t cap)
{
    snprintf(out, cap, "%s/" DATADIR_LOCK_FILE, dir);
}

/* The pid the holder wrote, or 0: it may not have written it yet. */
static pid_t read_pid(int fd)
{
    char buf[32];
    ssize_t k = pread(fd, buf, sizeof(buf) - 1, 0);
    if (k <= 0)
        return 0;
    buf[k] = '\0';
    char *end;
    long pid = strtol(buf, &end, 10);
    return end != buf && pid > 0 && pid <= INT_MAX ? (pid_t)pid : 0;
}

static int held_by(const char *dir, pid_t pid, char *err, size_t errlen)
{
    char who[48] = "pid unknown";
    if (pid > 0)
        snprintf(who, sizeof(who), "pid %ld", (long)pid);
    return say(err, errlen,
               "--data: %s is in use by another chimerad (%s); stop it first or choose another "
               "--data",
               dir, who);
}

int datadir_lock(const char *dir, pid_t *holder, char *err, size_t errlen)
{
    char path[PATH_MAX];
    lock_path(dir, path, sizeof(path));
    *holder = 0;
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return say(err, errlen, "--data: cannot open %s: %s", path, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        if (e == EWOULDBLOCK)
            *holder = read_pid(fd);
        close(fd);
        if (e == EWOULDBLOCK)
            return held_by(dir, *holder, err, errlen);
        return say(err, errlen, "--data: cannot lock %s: %s", path, strerror(e));
    }
    char buf[32];
    int k = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, buf, (size_t)k, 0) != k) {
        int e = errno;
        close(fd);
        return say(err, errlen, "--data: cannot write %s: %s", path, strerror(e));
    }
    return fd;
}

int datadir_in_use(const char *dir, pid_t *holder, char *err, size_t errlen)
{
    char path[PATH_MAX];
    lock_path(dir, path, sizeof(path));
    *holder = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 0 : say(err, errlen, "cannot open %s: %s", path, strerror(errno));
    int rv = 0;
    if (flock(fd, LOCK_SH | LOCK_NB) == 0) {
        flock(fd, LOCK_UN);
    } else if (errno == EWOULDBLOCK) {
        *holder = read_pid(fd);
        rv = 1;
    } else {
        rv = say(err, errlen, "cannot lock %s: %s", path, strerror(errno));
    }
    close(fd);
    return rv;
}
