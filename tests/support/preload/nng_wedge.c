/* Preloaded (LD_PRELOAD) into chimerad by test_stop_wedged_nng: makes NNG
 * 1.5.2 wedge its reaper for good, every time, as it does by chance on a
 * loaded machine (nng issue #1636, fixed in 1.6.0). A TCP pipe closed while
 * a read of its connection completes runs its receive callback after the
 * close stopped the read's aio; the callback submits the rest of the frame
 * on the stopped aio, which NNG drops without a callback, so the pipe never
 * finishes closing and the reaper waits on it forever.
 *
 * Here a read that returns the start of a frame's body beginning with
 * WEDGE_MARK is held (on NNG's poller thread, with the connection's lock
 * that the close's cancellation waits for) until the node closes its inbox,
 * and a while longer, so the close always comes first.
 *
 * Files in $NNG_WEDGE_DIR tell the test how far it got: "header" once a
 * frame header announcing WEDGE_LEN bytes was read, "held" once the body's
 * read is held. */
#include <dlfcn.h>
#include <fcntl.h>
#include <nng/nng.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "nng_wedge.h"

#define HOLD_AFTER_CLOSE_MS 1000 /* the close reaches the held connection well within */
#define HOLD_MAX_MS 60000        /* never hold NNG's poller for good */

static atomic_uint inbox_id;
static atomic_bool inbox_closing;

static void *next(const char *name)
{
    void *fn = dlsym(RTLD_NEXT, name);
    if (!fn) {
        fprintf(stderr, "nng_wedge: no %s to wrap\n", name);
        abort();
    }
    return fn;
}

static void mark(const char *what)
{
    const char *dir = getenv("NNG_WEDGE_DIR");
    char path[512];
    if (!dir)
        return;
    snprintf(path, sizeof path, "%s/%s", dir, what);
    int fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
    if (fd >= 0)
        close(fd);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

int nng_pull0_open(nng_socket *s)
{
    int (*real)(nng_socket *) = (int (*)(nng_socket *))next("nng_pull0_open");
    int rv = real(s);
    if (rv == 0)
        atomic_store(&inbox_id, (unsigned)nng_socket_id(*s));
    return rv;
}

int nng_close(nng_socket s)
{
    int (*real)(nng_socket) = (int (*)(nng_socket))next("nng_close");
    if (nng_socket_id(s) > 0 && (unsigned)nng_socket_id(s) == atomic_load(&inbox_id))
        atomic_store(&inbox_closing, true);
    return real(s);
}

static bool starts_with(const struct iovec *iov, int n, ssize_t got, const void *what, size_t len)
{
    return n > 0 && got >= (ssize_t)len && iov[0].iov_len >= len &&
           memcmp(iov[0].iov_base, what, len) == 0;
}

ssize_t readv(int fd, const struct iovec *iov, int n)
{
    ssize_t (*real)(int, const struct iovec *, int) =
        (ssize_t(*)(int, const struct iovec *, int))next("readv");
    ssize_t got = real(fd, iov, n);
    uint8_t header[8];
    for (int i = 0; i < 8; i++)
        header[i] = (uint8_t)((uint64_t)WEDGE_LEN >> (56 - 8 * i));
    if (got == 8 && iov[0].iov_len == 8 && starts_with(iov, n, got, header, 8)) {
        mark("header");
    } else if (starts_with(iov, n, got, WEDGE_MARK, strlen(WEDGE_MARK))) {
        mark("held");
        long waited = 0;
        while (!atomic_load(&inbox_closing) && waited < HOLD_MAX_MS) {
            sleep_ms(10);
            waited += 10;
        }
        sleep_ms(HOLD_AFTER_CLOSE_MS);
    }
    return got;
}
