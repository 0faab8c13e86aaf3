/* Helpers shared by the test_ledger*.c programs (each its own executable,
 * so these are static rather than a library): temporary data directories,
 * fixed keys for three nodes, a small standard ledger, and byte-level
 * access to segment files and their records for damaging them. */
#ifndef CHIMERA_TEST_LEDGER_SUPPORT_H
#define CHIMERA_TEST_LEDGER_SUPPORT_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ledger/internal.h"
#include "ledger/ledger.h"

#define ORIGIN "fed-test"
#define NKEYS 4 /* n1..n3 are members; n4 is an outsider */

static const char *const node_ids[NKEYS] = {"n1", "n2", "n3", "n4"};

struct fx {
    char data[256]; /* the data directory */
    char ldir[300]; /* data/ledger */
    struct ledger_key keys[NKEYS];
    struct ledger *l;
    struct ledger_batch *b;
};

static inline void fx_key(int i, struct ledger_key *k)
{
    uint8_t seed[LEDGER_SEED_BYTES];
    memset(seed, 0x11 * (i + 1), sizeof(seed));
    ledger_key_from_seed(seed, k);
}

static inline int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}

static inline void rm_rf(const char *dir)
{
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static inline struct fx *fx_new(void)
{
    struct fx *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    snprintf(f->data, sizeof(f->data), "/tmp/chimera-ledger-XXXXXX");
    assert_non_null(mkdtemp(f->data));
    snprintf(f->ldir, sizeof(f->ldir), "%s/ledger", f->data);
    for (int i = 0; i < NKEYS; i++)
        fx_key(i, &f->keys[i]);
    f->b = ledger_batch_new();
    assert_non_null(f->b);
    return f;
}

static inline void fx_close(struct fx *f)
{
    ledger_close(f->l);
    f->l = NULL;
}

static inline enum ledger_error fx_open_opt(struct fx *f, const struct ledger_options *opt,
                                            struct ledger_recovery *rec, char *err, size_t n)
{
    fx_close(f);
    return ledger_open(f->data, opt, &f->l, rec, NULL, err, n);
}

static inline void fx_open(struct fx *f, const struct ledger_options *opt)
{
    char err[512] = "";
    enum ledger_error rc = fx_open_opt(f, opt, NULL, err, sizeof(err));
    if (rc != LEDGER_OK)
        fail_msg("ledger_open: %s (%s)", ledger_strerror(rc), err);
}

static inline void fx_free(struct fx *f)
{
    fx_close(f);
    ledger_batch_free(f->b);
    rm_rf(f->data);
    free(f);
}

/* ---- appending ---------------------------------------------------------- */

static inline void fx_begin(struct fx *f)
{
    ledger_batch_begin(f->b, f->l);
}

static inline void fx_commit(struct fx *f)
{
    assert_int_equal(ledger_append_batch(f->l, f->b), LEDGER_OK);
}

/* A note whose payload is the msgpack string "note <k>". */
static inline void fx_note(struct fx *f, uint64_t term, int k)
{
    char text[32];
    uint8_t mp[40];
    int n = snprintf(text, sizeof(text), "note %d", k);
    mp[0] = (uint8_t)(0xa0 | n);
    memcpy(mp + 1, text, (size_t)n);
    assert_int_equal(ledger_batch_add_entry(f->b, term, LEDGER_ENTRY_NOTE,
                                            1700000000000ull + (uint64_t)k, "n1", mp, (size_t)n + 1,
                                            NULL, NULL),
                     LEDGER_OK);
}

static inline void fx_member(struct fx *f, uint64_t term, uint32_t op, int who)
{
    struct ledger_membership m = {.op = op};
    uint8_t p[LEDGER_MEMBERSHIP_MAX];
    size_t n;
    snprintf(m.node, sizeof(m.node), "%s", node_ids[who]);
    memcpy(m.pubkey, f->keys[who].pk, LEDGER_PUBKEY_BYTES);
    assert_int_equal(ledger_membership_encode(&m, p, &n), LEDGER_OK);
    assert_int_equal(
        ledger_batch_add_entry(f->b, term, LEDGER_ENTRY_MEMBERSHIP, 1, "n1", p, n, NULL, NULL),
        LEDGER_OK);
}

/* The checkpoint for the batch's head entry (committed state: call after
 * fx_commit and fx_begin), in term. */
static inline size_t fx_cp_bytes(struct fx *f, uint64_t term, uint8_t out[LEDGER_CHECKPOINT_MAX])
{
    struct ledger_checkpoint cp = {.index = ledger_last_index(f->l), .term = term};
    size_t n;
    snprintf(cp.origin, sizeof(cp.origin), ORIGIN);
    ledger_head_hash(f->l, cp.head_hash);
    assert_int_equal(ledger_checkpoint_encode(&cp, out, &n), LEDGER_OK);
    return n;
}

/* A checkpoint of the head signed by signer, then cosignatures by the
 * listed others (-1 ends the list), each its own record. */
static inline void fx_checkpoint(struct fx *f, uint64_t term, int signer, int cosigner1,
                                 int cosigner2)
{
    uint8_t cp[LEDGER_CHECKPOINT_MAX];
    size_t n = fx_cp_bytes(f, term, cp);
    struct ledger_sig s;
    ledger_checkpoint_sign(&f->keys[signer], node_ids[signer], cp, n, &s);
    assert_int_equal(ledger_batch_add_checkpoint(f->b, cp, n, &s, 1), LEDGER_OK);
    int co[2] = {cosigner1, cosigner2};
    for (int i = 0; i < 2; i++) {
        if (co[i] < 0)
            continue;
        ledger_checkpoint_sign(&f->keys[co[i]], node_ids[co[i]], cp, n, &s);
        assert_int_equal(ledger_batch_add_cosignature(f->b, cp, n, &s), LEDGER_OK);
    }
}

/* The standard small ledger, one batch per line:
 *   members n1 n2 n3 (entries 1-3), notes 4-6
 *   checkpoint(6) by n1, cosigned by n2 and n3
 *   notes 7-8 (term 2)
 *   checkpoint(8) by n1, cosigned by n2
 *   note 9 (term 2)
 * Its last record is entry 9. */
static inline void fx_build_small(struct fx *f, const struct ledger_options *opt)
{
    fx_open(f, opt);
    fx_begin(f);
    for (int i = 0; i < 3; i++)
        fx_member(f, 1, LEDGER_MEMBER_ADD, i);
    for (int k = 4; k <= 6; k++)
        fx_note(f, 1, k);
    fx_commit(f);
    fx_begin(f);
    fx_checkpoint(f, 1, 0, 1, 2);
    fx_commit(f);
    fx_begin(f);
    fx_note(f, 2, 7);
    fx_note(f, 2, 8);
    fx_commit(f);
    fx_begin(f);
    fx_checkpoint(f, 2, 0, 1, -1);
    fx_commit(f);
    fx_begin(f);
    fx_note(f, 2, 9);
    fx_commit(f);
    assert_int_equal(ledger_last_index(f->l), 9);
}

/* ---- files and records --------------------------------------------------- */

static inline uint8_t *read_file(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    uint8_t *p = malloc((size_t)n + 1);
    assert_non_null(p);
    assert_int_equal(fread(p, 1, (size_t)n, fp), (size_t)n);
    fclose(fp);
    *len = (size_t)n;
    return p;
}

static inline void write_file(const char *path, const uint8_t *p, size_t len)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(p, 1, len, fp), len);
    assert_int_equal(fclose(fp), 0);
}

static inline int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The segment paths in order (malloc'ed; free with free_paths). */
static inline size_t seg_paths(const char *ldir, char ***out)
{
    DIR *d = opendir(ldir);
    char **v = NULL;
    size_t n = 0;
    struct dirent *de;
    assert_non_null(d);
    while ((de = readdir(d)) != NULL) {
        if (strncmp(de->d_name, "seg-", 4) != 0)
            continue;
        v = realloc(v, (n + 1) * sizeof(*v));
        assert_non_null(v);
        v[n] = malloc(strlen(ldir) + strlen(de->d_name) + 2);
        sprintf(v[n++], "%s/%s", ldir, de->d_name);
    }
    closedir(d);
    if (n > 1)
        qsort(v, n, sizeof(*v), by_name);
    *out = v;
    return n;
}

static inline void free_paths(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

struct frame {
    size_t off, size; /* the whole framed record */
    uint8_t kind;
};

/* The records of a well-formed segment image. */
static inline size_t frames_of(const uint8_t *p, size_t len, struct frame *out, size_t max)
{
    size_t n = 0;
    for (size_t off = 0; off < len && n < max;) {
        uint32_t rl;
        assert_int_equal(ledger_frame_check(p + off, len - off, &rl), LEDGER_FRAME_OK);
        out[n++] = (struct frame){off, LEDGER_FRAME_HDR + rl, p[off + LEDGER_FRAME_HDR]};
        off += LEDGER_FRAME_HDR + rl;
    }
    return n;
}

/* Recomputes the CRC of the record at p after its bytes were edited, so
 * that only the deeper checks (hash, chain, signature) can notice. */
static inline void reframe(uint8_t *p)
{
    uint32_t len =
        (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    uint32_t crc = ledger_crc32c(0, p + LEDGER_FRAME_HDR, len);
    for (int i = 0; i < 4; i++)
        p[4 + i] = (uint8_t)(crc >> (8 * i));
}

static inline enum ledger_verdict verify_dir(const struct fx *f, struct ledger_verify_report *rep)
{
    return ledger_verify(f->ldir, NULL, 0, rep);
}

#endif
