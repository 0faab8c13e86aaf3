/* bench_ledger_store: the ledger's storage on this machine's disk, alone.
 * Appends note entries in group-committed batches (one write and one
 * fdatasync per batch, as the node does) and prints, per batch size, the
 * entries per second and the latency of one batch (p50, p99, max); then the
 * speed of an offline verify. This is the ceiling that replicated commits
 * (issue 4's 3-node benchmark) will sit under; it prints figures and never
 * judges them.
 *   bench_ledger_store [--dir DIR] [--entries N] [--payload BYTES] */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ledger/ledger.h"

#define MAX_PAYLOAD 4096

static const size_t batch_sizes[] = {1, 8, 64, 512, 4096};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static double pct_ms(const uint64_t *sorted, size_t n, double p)
{
    size_t k = (size_t)(p * (double)(n - 1) + 0.5);
    return (double)sorted[k] / 1e6;
}

static void remove_tree(const char *dir)
{
    char cmd[1200];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "bench_ledger_store: could not remove %s\n", dir);
}

/* A msgpack bin of `size` bytes: one object, as the ledger requires. */
static size_t make_payload(uint8_t *buf, size_t size)
{
    buf[0] = 0xc5; /* bin16 */
    buf[1] = (uint8_t)(size >> 8);
    buf[2] = (uint8_t)size;
    memset(buf + 3, 'x', size);
    return size + 3;
}

struct level {
    size_t batch, batches, entries;
    double seconds, p50, p99, max;
};

static int run_level(const char *root, size_t batch, size_t total, const uint8_t *payload,
                     size_t plen, struct level *out)
{
    char dir[1100];
    snprintf(dir, sizeof(dir), "%s/batch-%zu", root, batch);
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return -1;
    struct ledger *l;
    struct ledger_options opt = {0};
    char err[512];
    if (ledger_open(dir, &opt, &l, NULL, NULL, err, sizeof(err)) != LEDGER_OK) {
        fprintf(stderr, "bench_ledger_store: %s\n", err);
        return -1;
    }
    struct ledger_batch *b = ledger_batch_new();
    size_t nbatches = (total + batch - 1) / batch;
    uint64_t *lat = calloc(nbatches, sizeof(*lat));
    if (!b || !lat) {
        fprintf(stderr, "bench_ledger_store: out of memory\n");
        return -1;
    }
    uint64_t start = now_ns();
    size_t done = 0;
    for (size_t k = 0; k < nbatches; k++) {
        uint64_t t0 = now_ns();
        size_t take = total - done < batch ? total - done : batch;
        ledger_batch_begin(b, l);
        for (size_t i = 0; i < take; i++)
            if (ledger_batch_add_entry(b, 1, LEDGER_ENTRY_NOTE, 1000, "bench", payload, plen, NULL,
                                       NULL) != LEDGER_OK)
                return -1;
        enum ledger_error rv = ledger_append_batch(l, b);
        if (rv != LEDGER_OK) {
            fprintf(stderr, "bench_ledger_store: append: %s\n", ledger_strerror(rv));
            return -1;
        }
        lat[k] = now_ns() - t0;
        done += take;
    }
    uint64_t elapsed = now_ns() - start;
    ledger_batch_free(b);
    ledger_close(l);
    qsort(lat, nbatches, sizeof(*lat), cmp_u64);
    *out = (struct level){.batch = batch,
                          .batches = nbatches,
                          .entries = total,
                          .seconds = (double)elapsed / 1e9,
                          .p50 = pct_ms(lat, nbatches, 0.50),
                          .p99 = pct_ms(lat, nbatches, 0.99),
                          .max = (double)lat[nbatches - 1] / 1e6};
    free(lat);
    return 0;
}

int main(int argc, char **argv)
{
    const char *base = "/tmp";
    size_t total = 50000, psize = 100;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
            base = argv[++i];
        else if (strcmp(argv[i], "--entries") == 0 && i + 1 < argc)
            total = strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--payload") == 0 && i + 1 < argc)
            psize = strtoul(argv[++i], NULL, 10);
        else {
            fprintf(stderr, "usage: %s [--dir DIR] [--entries N] [--payload BYTES]\n", argv[0]);
            return 2;
        }
    }
    if (total == 0 || psize == 0 || psize > MAX_PAYLOAD) {
        fprintf(stderr, "bench_ledger_store: --entries must be > 0, --payload 1..%d\n",
                MAX_PAYLOAD);
        return 2;
    }
    char root[1024];
    snprintf(root, sizeof(root), "%s/chimera-bench-ledger-XXXXXX", base);
    if (!mkdtemp(root)) {
        fprintf(stderr, "bench_ledger_store: mkdtemp under %s: %s\n", base, strerror(errno));
        return 1;
    }
    static uint8_t payload[MAX_PAYLOAD + 3];
    size_t plen = make_payload(payload, psize);
    printf("bench_ledger_store: group-committed appends on %s (one pwrite + one fdatasync per "
           "batch)\n  %zu note entries per level, payload %zu bytes\n\n",
           base, total, psize);
    printf("%8s %9s %12s %10s %10s %10s\n", "batch", "batches", "entries/s", "p50_ms", "p99_ms",
           "max_ms");
    char result[1024];
    int off = snprintf(result, sizeof(result), "RESULT bench=ledger_store entries=%zu payload=%zu",
                       total, psize);
    int status = 0;
    for (size_t i = 0; i < sizeof(batch_sizes) / sizeof(batch_sizes[0]); i++) {
        size_t batch = batch_sizes[i];
        /* One fsync per entry is slow: fewer entries keep the level short. */
        size_t n = batch == 1 ? (total < 2000 ? total : 2000) : total;
        struct level lv;
        if (run_level(root, batch, n, payload, plen, &lv) != 0) {
            status = 1;
            break;
        }
        printf("%8zu %9zu %12.0f %10.3f %10.3f %10.3f\n", lv.batch, lv.batches,
               (double)lv.entries / lv.seconds, lv.p50, lv.p99, lv.max);
        off +=
            snprintf(result + off, sizeof(result) - (size_t)off, " b%zu_eps=%.0f b%zu_p99_ms=%.3f",
                     batch, (double)lv.entries / lv.seconds, batch, lv.p99);
    }
    if (status == 0) {
        char dir[1100];
        snprintf(dir, sizeof(dir), "%s/batch-512/ledger", root);
        struct ledger_verify_report rep;
        uint64_t t0 = now_ns();
        enum ledger_verdict v = ledger_verify(dir, NULL, 0, &rep);
        double secs = (double)(now_ns() - t0) / 1e9;
        printf("\nverify (batch-512 ledger): %s, %llu entries in %.3f s = %.0f entries/s\n",
               ledger_verdict_name(v), (unsigned long long)rep.entries, secs,
               (double)rep.entries / secs);
        snprintf(result + off, sizeof(result) - (size_t)off, " verify_eps=%.0f",
                 (double)rep.entries / secs);
        printf("%s\n", result);
    }
    remove_tree(root);
    return status;
}
