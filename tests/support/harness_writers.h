/* Test harness: benchmark writers that cost the machine little. Each
 * writer keeps one HTTP/1.1 keep-alive connection and POSTs one request
 * after another, waiting for each answer; a few threads serve many writers
 * each (epoll), one send and one or two receives per request. A thread per
 * writer with libcurl spent as much CPU on the shared two cores as the
 * node it measured, and its 64 threads woke one by one for 64 answers. */
#ifndef CHIMERA_HARNESS_WRITERS_H
#define CHIMERA_HARNESS_WRITERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "harness.h"

/* Writes request seq's body of writer id into buf (cap bytes); its length. */
typedef size_t (*h_writers_body_fn)(char *buf, size_t cap, int id, uint64_t seq, void *arg);

struct h_writers_spec {
    int port;                 /* on 127.0.0.1 */
    const char *path;         /* e.g. "/ledger/notes" */
    const char *token;        /* Authorization: Bearer (NULL: none) */
    const char *content_type; /* NULL: application/json */
    int writers;
    int threads;     /* that serve them (at most writers) */
    size_t max_body; /* the largest body fn writes */
    h_writers_body_fn body;
    void *arg;
    int status;     /* the status that counts as done (e.g. 201) */
    int backoff_ms; /* a writer's pause after a request that failed (0: none) */
};

/* One writer's figures over the timed part of a run. */
struct h_writer_stats {
    struct h_samples lat; /* ns, one per request answered with spec.status */
    uint64_t ok, errors, connects;
    long last_status; /* of the last failed request: the status, or -errno */
};

/* Connects every writer and makes one untimed request on each, then runs
 * them back to back for `seconds` (h_bench_sleep: ^C ends it early); the
 * requests in flight then are waited for and counted. out[writers] gets
 * each writer's figures, *secs the time from the start to the last answer.
 * 0, or -1 when the writers could not be set up. */
int h_writers_run(const struct h_writers_spec *spec, int seconds, struct h_writer_stats *out,
                  double *secs);

#endif
