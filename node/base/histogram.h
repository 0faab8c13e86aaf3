/* A Prometheus histogram: fixed upper bounds (seconds) chosen per metric,
 * observations counted per bucket, and the text exposition format for
 * /metrics. One piece of code for every histogram the node exposes, so that
 * each prints the same valid series (cumulative _bucket lines ending in
 * le="+Inf", then _sum and _count). Pure: the caller measures. */
#ifndef CHIMERA_HISTOGRAM_H
#define CHIMERA_HISTOGRAM_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define HISTOGRAM_MAX_BUCKETS 16

/* Zero it, then histogram_init. */
struct histogram {
    const double *le; /* upper bounds in seconds, ascending; +Inf is implied */
    size_t nb;        /* how many (at most HISTOGRAM_MAX_BUCKETS) */
    uint64_t count[HISTOGRAM_MAX_BUCKETS + 1]; /* per bucket, not cumulative; last: +Inf */
    uint64_t n;
    double sum;
};

/* Sets the bounds (le[0..nb-1], ascending, kept by pointer: a static
 * array) and empties it. nb above HISTOGRAM_MAX_BUCKETS keeps the first
 * HISTOGRAM_MAX_BUCKETS. */
void histogram_init(struct histogram *h, const double *le, size_t nb);

/* Counts one observation of v seconds in the first bucket whose bound is
 * at least v (a negative v counts as 0). */
void histogram_observe(struct histogram *h, double v);

/* The same, for a duration in nanoseconds between two monotonic times
 * (0 when end is before start). */
void histogram_observe_ns(struct histogram *h, uint64_t start_ns, uint64_t end_ns);

/* "# HELP name help" and "# TYPE name histogram": once per metric name,
 * before its series. */
void histogram_header(FILE *f, const char *name, const char *help);

/* The series of h: name_bucket{labels,le="..."} for each bound and +Inf
 * (cumulative), name_sum{labels} and name_count{labels}. labels: "" for
 * none, or label pairs as Prometheus writes them (peer="n1",code="200"),
 * their values escaped by the caller (histogram_label_value). */
void histogram_write(FILE *f, const char *name, const char *labels, const struct histogram *h);

/* Copies value into out (cap bytes, always terminated) escaped for a label
 * value: backslash, double quote and newline as \\, \" and \n. Truncated
 * to fit. Returns out. */
char *histogram_label_value(const char *value, char *out, size_t cap);

#endif
