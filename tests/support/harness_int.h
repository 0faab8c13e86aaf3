/* Shared between the harness's own sources; tests use harness.h only. */
#ifndef CHIMERA_TEST_HARNESS_INT_H
#define CHIMERA_TEST_HARNESS_INT_H

#include <stdbool.h>
#include <sys/types.h>

/* CLOCK_MONOTONIC in ms, and a sleep that survives signals (but ends
 * early once h_interrupted()). */
long long h_now_ms(void);
void h_sleep_ms(int ms);

/* Spawns argv (argv[0] a path) with stdin from /dev/null, stdout to
 * out_path and stderr to err_path (both appended; the same path shares one
 * descriptor), default signal dispositions and an empty mask, and an
 * environment without CHIMERA_* settings or proxies. Returns the pid, or
 * -1 after printing why. */
pid_t h_spawn(const char *const argv[], const char *out_path, const char *err_path);

/* Waits for pid up to timeout_ms; true with *status (may be NULL) when it
 * exited and was reaped. */
bool h_wait_pid(pid_t pid, int timeout_ms, int *status);

#endif
