/* HTTP health checks on the node's libuv loop: libcurl's multi interface
 * driven by the loop (curl_multi_socket_action, a uv_poll per socket curl
 * opens, a uv_timer for curl's timeouts). Nothing here blocks the loop: name
 * resolution is curl's (threaded resolver), connects and transfers are
 * non-blocking. Shell code; the rollout core judges the results. Everything
 * runs on the loop's thread.
 *
 * Lifetime. health_free cancels the probes still in flight: their callbacks
 * are NOT called, then or later. The checker's memory goes back when libuv
 * has run the close callbacks of its handles, so the loop must run after
 * health_free (as for any libuv handle). health_free may be called from a
 * probe's callback; the remaining completions are then dropped too. */
#ifndef CHIMERA_PIPELINE_HEALTH_H
#define CHIMERA_PIPELINE_HEALTH_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "pipeline/core/verdict.h"

struct health_result {
    bool healthy;      /* a 2xx answer */
    long status;       /* the HTTP status, 0 when there was no answer */
    double elapsed_ms; /* from health_probe to the verdict */
    /* "" when healthy; "HTTP 503"; or, with no answer, the URL probed and
     * why in plain words ("GET URL: connection refused (...)"), curl's
     * own words as a suffix where they add something. */
    char error[VERDICT_ERROR_MAX]; /* what the verdict keeps of it */
};

typedef void (*health_fn)(const struct health_result *result, void *arg);

struct health_checker;

/* NULL when curl cannot be initialized. */
struct health_checker *health_new(uv_loop_t *loop);

/* Starts one GET of url (http or https), answered within timeout_ms (the
 * whole transfer, connect included; 0 means curl's default: none). cb is
 * called once, from the loop, never from within health_probe. Any number of
 * probes may be in flight. Returns 0, or -1 when the probe could not even be
 * started (cb is then not called). */
int health_probe(struct health_checker *hc, const char *url, uint32_t timeout_ms, health_fn cb,
                 void *arg);

/* Probes in flight (started, callback not yet called). */
unsigned health_in_flight(const struct health_checker *hc);

/* Cancels everything and releases the checker (see Lifetime). NULL is
 * accepted. */
void health_free(struct health_checker *hc);

#endif
