/* chimeractl ledger: offline commands on a ledger's files.
 *
 *   ledger verify --data DIR [--pubkey HEX ...]
 *
 * verify reads the segment files directly (never the HTTP API), so it works
 * on a stopped node's data directory and on a copy of it. DIR is the node's
 * data directory (its ledger/ is checked) or the ledger directory itself.
 * Exit status: 0 ok, 3 torn tail, 4 tampered or forked, 1 unreadable,
 * 2 usage (CTL_LEDGER_* in ctl.h), 8 the directory belongs to a running
 * chimerad (VERIFY_IN_USE). */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "ledger/ledger.h"
#include "ctl/ctl.h"
#include "ledger/datadir.h"

#define MAX_PUBKEYS 64

/* A running node appends while verify reads, so its last record may look
 * torn: verify refuses rather than report a false TORN TAIL. 8, as the
 * common table's "conflict": the directory is taken. */
enum { VERIFY_IN_USE = 8 };

/* verify's options are on its own page, not on the top one. */
static int usage(const char *what, const char *arg)
{
    fprintf(stderr, "chimeractl: ledger: %s%s%s%s (see chimeractl ledger verify --help)\n", what,
            arg ? " '" : "", arg ? arg : "", arg ? "'" : "");
    return CTL_USAGE;
}

static bool is_dir(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static bool has_segments(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    bool found = false;
    while (d != NULL && !found && (de = readdir(d)) != NULL)
        found = strncmp(de->d_name, "seg-", 4) == 0;
    if (d != NULL)
        closedir(d);
    return found;
}

static double seconds_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

static int exit_code(enum ledger_verdict v)
{
    switch (v) {
    case LEDGER_VERIFY_OK:
        return CTL_OK;
    case LEDGER_VERIFY_TORN_TAIL:
        return CTL_LEDGER_TORN;
    case LEDGER_VERIFY_TAMPERED:
    case LEDGER_VERIFY_FORKED:
        return CTL_LEDGER_TAMPERED;
    case LEDGER_VERIFY_UNREADABLE:
        break;
    }
    return CTL_UNREACHABLE;
}

static void print_json(const char *dir, const struct ledger_verify_report *r, double secs,
                       double rate)
{
    char head[2 * LEDGER_HASH_BYTES + 1];
    ledger_hex(r->head_hash, LEDGER_HASH_BYTES, head);
    json_t *o = json_pack(
        "{s:s, s:s, s:b, s:I, s:I, s:I, s:I, s:I, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:s,"
        " s:f, s:f}",
        "ledger", dir, "verdict", ledger_verdict_name(r->verdict), "ok",
        r->verdict == LEDGER_VERIFY_OK, "segments", (json_int_t)r->segments, "bytes",
        (json_int_t)r->bytes, "entries", (json_int_t)r->entries, "last_index",
        (json_int_t)r->last_index, "last_term", (json_int_t)r->last_term, "head", head,
        "checkpoints", (json_int_t)r->checkpoints, "cosignatures", (json_int_t)r->cosignatures,
        "evidence", (json_int_t)r->evidence, "last_checkpoint", (json_int_t)r->last_checkpoint,
        "last_notarized", (json_int_t)r->last_notarized, "uncovered", (json_int_t)r->uncovered,
        "keys", (json_int_t)r->keys, "keys_from", r->pinned ? "pinned" : "membership", "seconds",
        secs, "entries_per_second", rate);
    if (o != NULL && r->verdict != LEDGER_VERIFY_OK) {
        json_t *at = json_pack("{s:s, s:I, s:I, s:s}", "file", r->at.file, "offset",
                               (json_int_t)r->at.offset, "index", (json_int_t)r->at.index, "reason",
                               r->at.reason);
        if (at != NULL && r->verdict == LEDGER_VERIFY_TORN_TAIL)
            json_object_set_new(at, "torn_bytes", json_integer((json_int_t)r->torn_bytes));
        json_object_set_new(o, "problem", at);
    }
    if (o == NULL) {
        fprintf(stderr, "chimeractl: ledger verify: out of memory\n");
        return;
    }
    json_dumpf(o, stdout, JSON_INDENT(2) | CTL_JSON_REAL);
    putchar('\n');
    json_decref(o);
}

static void print_human(const char *dir, const struct ledger_verify_report *r, double secs,
                        double rate)
{
    static const char *const names[] = {"OK", "TORN TAIL", "TAMPERED", "FORKED", "UNREADABLE"};
    char head[2 * LEDGER_HASH_BYTES + 1];
    ledger_hex(r->head_hash, LEDGER_HASH_BYTES, head);
    printf("ledger %s: %s\n", dir, names[r->verdict]);
    switch (r->verdict) {
    case LEDGER_VERIFY_OK:
        break;
    case LEDGER_VERIFY_TORN_TAIL:
        printf("  torn tail: the last %" PRIu64 " bytes of %s, from byte offset %" PRIu64
               " (index %" PRIu64 "): %s\n"
               "  a crash interrupted a write there; chimerad cuts it at its next start\n",
               r->torn_bytes, r->at.file, r->at.offset, r->at.index, r->at.reason);
        break;
    case LEDGER_VERIFY_TAMPERED:
        printf("  first bad index %" PRIu64 ": %s, byte offset %" PRIu64 ": %s\n", r->at.index,
               r->at.file, r->at.offset, r->at.reason);
        printf("  the node refuses to start on this ledger; restore its data from a peer or a "
               "backup\n");
        break;
    case LEDGER_VERIFY_FORKED:
        /* Evidence the node stored itself: the files are sound (the node
         * starts on them); the federation is what went wrong. */
        printf("  equivocation evidence at index %" PRIu64 ": %s, byte offset %" PRIu64 ": %s\n",
               r->at.index, r->at.file, r->at.offset, r->at.reason);
        printf("  a signer made two conflicting statements for one index; the node kept the "
               "first and stored the proof: find out whose key signed both\n");
        break;
    case LEDGER_VERIFY_UNREADABLE:
        printf("  %s: %s\n", r->at.file, r->at.reason);
        return;
    }
    printf("  %s: %" PRIu64 " segment%s, %" PRIu64 " bytes; entries 1..%" PRIu64
           ", last term %" PRIu64 ", head %s\n",
           r->verdict == LEDGER_VERIFY_OK ? "verified" : "valid before the problem", r->segments,
           r->segments == 1 ? "" : "s", r->bytes, r->last_index, r->last_term, head);
    printf("  checkpoints %" PRIu64 " (last at index %" PRIu64 ", last notarized at %" PRIu64
           "), cosignatures %" PRIu64 ", evidence %" PRIu64 "; %" PRIu64
           " entries after the last checkpoint\n",
           r->checkpoints, r->last_checkpoint, r->last_notarized, r->cosignatures, r->evidence,
           r->uncovered);
    if (r->pinned)
        printf("  keys: %zu pinned with --pubkey\n", r->keys);
    else
        printf("  keys: %zu recorded in the ledger's membership entries (pin them with "
               "--pubkey to check who signed)\n",
               r->keys);
    char took[32];
    printf("  %" PRIu64 " entries verified in %s (%.0f entries/s)\n", r->entries,
           ctl_ms_text((int64_t)(secs * 1000 + 0.5), took, sizeof took), rate);
}

static int verify(const struct ctl_opts *o, int argc, char **argv)
{
    const char *data = NULL;
    uint8_t(*keys)[LEDGER_PUBKEY_BYTES] = NULL;
    size_t nkeys = 0;
    int rc = CTL_OK;
    keys = calloc(MAX_PUBKEYS, sizeof(*keys));
    if (keys == NULL) {
        fprintf(stderr, "chimeractl: out of memory\n");
        return CTL_UNREACHABLE;
    }
    for (int i = 2; i < argc && rc == CTL_OK; i++) {
        const char *a = argv[i], *val = NULL;
        bool is_data = strncmp(a, "--data", 6) == 0 && (a[6] == '\0' || a[6] == '=');
        bool is_key = strncmp(a, "--pubkey", 8) == 0 && (a[8] == '\0' || a[8] == '=');
        if (is_data || is_key) {
            const char *eq = strchr(a, '=');
            val = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
            if (val == NULL || *val == '\0')
                rc = usage(is_data ? "--data needs a directory" : "--pubkey needs 64 hex digits",
                           NULL);
            else if (is_data)
                data = val;
            else if (nkeys == MAX_PUBKEYS)
                rc = usage("too many --pubkey options", NULL);
            else if (ledger_unhex(val, keys[nkeys], LEDGER_PUBKEY_BYTES) != 0)
                rc = usage("--pubkey needs 64 hex digits (an Ed25519 public key), got", val);
            else
                nkeys++;
        } else {
            rc = ctl_bad_argument("ledger verify", a);
        }
    }
    if (rc == CTL_OK && data == NULL)
        rc = usage("verify needs --data DIR", NULL);
    if (rc != CTL_OK) {
        free(keys);
        return rc;
    }
    struct stat sb;
    const char *why = stat(data, &sb) != 0   ? strerror(errno)
                      : !S_ISDIR(sb.st_mode) ? "not a directory"
                                             : NULL;
    if (why != NULL) {
        fprintf(stderr, "chimeractl: ledger verify: cannot read %s: %s\n", data, why);
        free(keys);
        return CTL_UNREACHABLE;
    }
    /* DIR is a data directory holding ledger/, or the ledger directory. */
    char dir[LEDGER_PATH_MAX];
    int n = snprintf(dir, sizeof(dir), "%s/%s", data, LEDGER_SUBDIR);
    if (n < 0 || (size_t)n >= sizeof(dir) || !is_dir(dir)) {
        if (!has_segments(data)) {
            /* Rather than "OK, 0 entries" for a mistyped path. */
            fprintf(stderr,
                    "chimeractl: ledger verify: no ledger in %s (expected %s/%s/seg-*.log or "
                    "%s/seg-*.log)\n",
                    data, data, LEDGER_SUBDIR, data);
            free(keys);
            return CTL_UNREACHABLE;
        }
        snprintf(dir, sizeof(dir), "%s", data);
    }

    /* The lock lives in the data directory: DIR, or the parent of a
     * ledger directory given directly. */
    char owner[LEDGER_PATH_MAX], why_lock[512] = "";
    snprintf(owner, sizeof(owner), "%s%s", data, strcmp(dir, data) == 0 ? "/.." : "");
    pid_t pid = 0;
    int busy = datadir_in_use(owner, &pid, why_lock, sizeof(why_lock));
    if (busy != 0) {
        char who[32] = "pid unknown";
        if (pid > 0)
            snprintf(who, sizeof(who), "pid %ld", (long)pid);
        if (busy > 0)
            fprintf(stderr,
                    "chimeractl: ledger verify: %s is in use by a running chimerad (%s): "
                    "its ledger changes while it is read; stop the node first, verify a copy "
                    "(cp -a), or read it over HTTP (chimeractl ledger head)\n",
                    data, who);
        else
            fprintf(stderr, "chimeractl: ledger verify: %s\n", why_lock);
        free(keys);
        return busy > 0 ? VERIFY_IN_USE : CTL_UNREACHABLE;
    }

    struct ledger_verify_report rep;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    enum ledger_verdict v =
        ledger_verify(dir, (const uint8_t(*)[LEDGER_PUBKEY_BYTES])keys, nkeys, &rep);
    double secs = seconds_since(&t0);
    double rate = secs > 0 ? (double)rep.entries / secs : 0;
    free(keys);
    if (o->json)
        print_json(dir, &rep, secs, rate);
    else
        print_human(dir, &rep, secs, rate);
    if (fflush(stdout) != 0)
        return CTL_UNREACHABLE;
    return exit_code(v);
}

int ctl_cmd_ledger(const struct ctl_opts *o, int argc, char **argv)
{
    if (argc < 2)
        return usage("which ledger command? (verify)", NULL);
    if (strcmp(argv[1], "verify") == 0)
        return verify(o, argc, argv);
    return usage("unknown ledger command (known: verify)", argv[1]);
}
