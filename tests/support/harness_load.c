/* Test harness: what the load benchmarks share: the clock, latency samples
 * and their percentiles, a sleep that ^C cuts short, and the command line.
 * See harness.h. */
#include "harness.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define INITIAL_SAMPLES (1u << 14)
#define SLICE_NS 100000000u /* how soon h_bench_sleep notices ^C */

uint64_t h_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static bool samples_reserve(struct h_samples *s, size_t want)
{
    if (want <= s->cap)
        return true;
    size_t cap = s->cap ? s->cap : INITIAL_SAMPLES;
    while (cap < want)
        cap *= 2;
    uint64_t *p = realloc(s->v, cap * sizeof *p);
    if (!p)
        return false;
    s->v = p;
    s->cap = cap;
    return true;
}

void h_samples_add(struct h_samples *s, uint64_t ns)
{
    if (!samples_reserve(s, s->n + 1)) {
        s->lost = true;
        return;
    }
    s->v[s->n++] = ns;
}

bool h_samples_take(struct h_samples *dst, struct h_samples *src)
{
    bool ok = src->n == 0 || samples_reserve(dst, dst->n + src->n);
    if (ok && src->n) {
        memcpy(dst->v + dst->n, src->v, src->n * sizeof *src->v);
        dst->n += src->n;
    }
    dst->lost |= src->lost;
    h_samples_free(src);
    return ok;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

void h_samples_sort(struct h_samples *s)
{
    if (s->n)
        qsort(s->v, s->n, sizeof *s->v, cmp_u64);
}

double h_samples_pct_ms(const struct h_samples *s, double p)
{
    if (s->n == 0)
        return 0;
    size_t rank = (size_t)(p * (double)s->n + 0.999999);
    if (rank < 1)
        rank = 1;
    return (double)s->v[(rank > s->n ? s->n : rank) - 1] / 1e6;
}

void h_samples_free(struct h_samples *s)
{
    free(s->v);
    *s = (struct h_samples){0};
}

void h_samples_summarise(struct h_samples *s, struct h_latency *l)
{
    h_samples_sort(s);
    *l = (struct h_latency){.n = s->n,
                            .p50_ms = h_samples_pct_ms(s, 0.50),
                            .p90_ms = h_samples_pct_ms(s, 0.90),
                            .p99_ms = h_samples_pct_ms(s, 0.99),
                            .max_ms = h_samples_pct_ms(s, 1.0),
                            .lost = s->lost};
    h_samples_free(s);
}

void h_bench_spawn(const char *who, pthread_t *th, int n, void *(*fn)(void *), void *items,
                   size_t size)
{
    /* ^C must reach the calling thread, which ends the level. */
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    int started = 0;
    while (started < n &&
           pthread_create(&th[started], NULL, fn, (char *)items + (size_t)started * size) == 0)
        started++;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (started < n) {
        /* A barrier would never open; nothing sane to do but leave. */
        fprintf(stderr, "%s: could only start %d of %d threads\n", who, started, n);
        exit(1);
    }
}

void h_bench_sleep(int seconds)
{
    uint64_t end = h_now_ns() + (uint64_t)seconds * 1000000000u;
    while (!h_interrupted()) {
        uint64_t now = h_now_ns();
        if (now >= end)
            return;
        uint64_t left = end - now;
        struct timespec ts = {0, (long)(left > SLICE_NS ? SLICE_NS : left)};
        nanosleep(&ts, NULL);
    }
}

int h_parse_levels(const char *s, int min, int max, int *levels, int max_levels, int *n)
{
    *n = 0;
    while (*s) {
        char *end;
        long v = strtol(s, &end, 10);
        if (end == s || v < min || v > max || *n == max_levels || (*end != ',' && *end != '\0'))
            return -1;
        levels[(*n)++] = (int)v;
        s = *end ? end + 1 : end;
    }
    return *n > 0 ? 0 : -1;
}

int h_parse_seconds(const char *s, int max, int *seconds)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || *end != '\0' || v < 1 || v > max)
        return -1;
    *seconds = (int)v;
    return 0;
}

int h_bench_args(int argc, char **argv, const struct h_bench_opts *o, int *seconds, int *levels,
                 int *nlevels)
{
    for (int a = 1; a < argc; a++) {
        if (strcmp(argv[a], "--seconds") == 0 && a + 1 < argc) {
            if (h_parse_seconds(argv[++a], o->max_seconds, seconds) != 0) {
                fprintf(stderr, "--seconds: want 1..%d, got %s\n", o->max_seconds, argv[a]);
                return -1;
            }
        } else if (o->levels_opt && strcmp(argv[a], o->levels_opt) == 0 && a + 1 < argc) {
            if (h_parse_levels(argv[++a], 1, o->max_level, levels, o->max_levels, nlevels) != 0) {
                fprintf(stderr, "%s: want up to %d comma-separated values in 1..%d\n",
                        o->levels_opt, o->max_levels, o->max_level);
                return -1;
            }
        } else {
            fprintf(stderr, "usage: %s [--seconds N]", argv[0]);
            if (o->levels_opt)
                fprintf(stderr, " [%s a,b,c]", o->levels_opt);
            fprintf(stderr, "%s%s\n", o->more_usage ? " " : "", o->more_usage ? o->more_usage : "");
            return -1;
        }
    }
    return 0;
}
