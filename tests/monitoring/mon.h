/* What the monitoring tests (tests/monitoring) share: finding Prometheus'
 * programs, reading deploy/'s files, plain HTTP GETs to a server that is not
 * a node, and the metric names a text mentions or a node exposes. */
#ifndef CHIMERA_TEST_MON_H
#define CHIMERA_TEST_MON_H

#include <stdbool.h>
#include <stddef.h>

/* What a test program exits with to tell CTest it was skipped
 * (SKIP_RETURN_CODE). */
#define MON_SKIPPED 77

/* Whether Prometheus' programs must be there (CHIMERA_REQUIRE_PROMETHEUS=1,
 * as CI sets it): a missing one then fails the test instead of skipping it. */
bool mon_prometheus_required(void);

/* The path of program `name` found on PATH, copied into out; false when
 * there is none. */
bool mon_find_program(const char *name, char *out, size_t len);

/* The text of a file of the source tree (path relative to its top), malloc'd;
 * NULL after saying which file could not be read. */
char *mon_source_file(const char *rel);

/* GET http://127.0.0.1:<port><path> (a server that is not a node), as
 * h_http_request does. Returns the body, malloc'd, and the status in
 * *status; NULL (and 0) when unreachable. */
char *mon_http_get(int port, const char *path, int timeout_ms, long *status);

/* A set of metric names. Zero-initialise; mon_names_free() releases. */
struct mon_names {
    char **v;
    size_t n, cap;
};
void mon_names_free(struct mon_names *s);
bool mon_names_has(const struct mon_names *s, const char *name);

/* Adds every chimera_* name the text mentions (in a PromQL expression, a
 * rule or a dashboard's JSON) to refs. */
void mon_names_referenced(const char *text, struct mon_names *refs);

/* Adds what a /metrics text (Prometheus text format) exposes: every family
 * named by a # TYPE line and every sample's name to names, the histogram
 * and summary families to hist. */
void mon_names_exposed(const char *exposition, struct mon_names *names, struct mon_names *hist);

/* The names of refs that are not exposed: neither a family nor a sample
 * name, nor a histogram's or summary's _bucket, _sum or _count. NULL when
 * there are none, else a malloc'd list separated by ", ". */
char *mon_names_missing(const struct mon_names *refs, const struct mon_names *names,
                        const struct mon_names *hist);

#endif
