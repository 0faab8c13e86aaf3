/* Ctrl-C for chimeractl's long-running commands (events --follow, ledger
 * tail --follow, deploy --wait, deployment --watch, rollback --wait): one
 * flag set by SIGINT/SIGTERM, the sleeps it cuts short and the monotonic
 * clock their deadlines use. */
#include <signal.h>
#include <time.h>

#include "ctl/ctl.h"

volatile int ctl_interrupted;

static void on_signal(int sig)
{
    (void)sig;
    ctl_interrupted = 1;
}

void ctl_catch_signals(void)
{
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

void ctl_sleep_ms(long ms)
{
    /* In slices, so that a signal that lands between the caller's check and
     * the sleep still ends the wait promptly. */
    while (ms > 0 && !ctl_interrupted) {
        long slice = ms < 50 ? ms : 50;
        nanosleep(&(struct timespec){0, slice * 1000000L}, NULL);
        ms -= slice;
    }
}

int64_t ctl_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
