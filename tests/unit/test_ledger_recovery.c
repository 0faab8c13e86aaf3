/* Start-up recovery: a torn tail is cut and reported; anything else that is
 * wrong refuses to open with the file, the byte offset and the index. */
#include "test_ledger_support.h"

#define SEG1 "seg-00000000000000000001.log"

struct image {
    char path[400];
    uint8_t *bytes;
    size_t len;
    struct frame fr[64];
    size_t nfr;
};

/* The standard small ledger, closed, and its single segment's image. */
static struct fx *small(struct image *im)
{
    struct fx *f = fx_new();
    fx_build_small(f, NULL);
    fx_close(f);
    snprintf(im->path, sizeof(im->path), "%s/" SEG1, f->ldir);
    im->bytes = read_file(im->path, &im->len);
    im->nfr = frames_of(im->bytes, im->len, im->fr, 64);
    return f;
}

static void test_cutting_the_last_record_at_every_offset_keeps_the_records_before_it(void **state)
{
    (void)state;
    struct image im;
    struct fx *f = small(&im);
    const struct frame *last = &im.fr[im.nfr - 1];
    assert_int_equal(last->kind, LEDGER_REC_ENTRY);
    for (size_t cut = last->off; cut < im.len; cut++) {
        write_file(im.path, im.bytes, cut);
        struct ledger_recovery rec;
        char err[512];
        assert_int_equal(fx_open_opt(f, NULL, &rec, err, sizeof(err)), LEDGER_OK);
        assert_int_equal(ledger_last_index(f->l), 8);
        assert_int_equal(rec.truncated, cut > last->off);
        if (cut > last->off) {
            assert_int_equal(rec.at.offset, last->off);
            assert_int_equal(rec.bytes, cut - last->off);
            assert_int_equal(rec.at.index, 9);
            assert_non_null(strstr(rec.at.file, SEG1));
        }
        fx_close(f);
        size_t n;
        uint8_t *now = read_file(im.path, &n);
        assert_int_equal(n, last->off);
        assert_memory_equal(now, im.bytes, n);
        free(now);
        struct ledger_verify_report rep;
        assert_int_equal(verify_dir(f, &rep), LEDGER_VERIFY_OK);
    }
    free(im.bytes);
    fx_free(f);
}

static void test_cutting_a_last_cosignature_keeps_its_checkpoint(void **state)
{
    (void)state;
    struct fx *f = fx_new();
    fx_build_small(f, NULL);
    fx_begin(f);
    fx_checkpoint(f, 2, 0, 1, 2); /* checkpoint(9), cosigned by n2 then n3 */
    fx_commit(f);
    fx_close(f);
    char path[400];
    size_t len;
    snprintf(path, sizeof(path), "%s/" SEG1, f->ldir);
    uint8_t *p = read_file(path, &len);
    struct frame fr[64];
    size_t nf = frames_of(p, len, fr, 64);
    assert_int_equal(fr[nf - 1].kind, LEDGER_REC_COSIGNATURE);
    write_file(path, p, len - 10);
    fx_open(f, NULL);
    struct ledger_signed_checkpoint cp;
    assert_int_equal(ledger_last_checkpoint(f->l, &cp), LEDGER_OK);
    assert_int_equal(cp.cp.index, 9);
    assert_int_equal(cp.nsigs, 2);
    free(p);
    fx_free(f);
}

static void test_any_damage_to_the_last_record_is_a_torn_tail(void **state)
{
    (void)state;
    struct image im;
    struct fx *f = small(&im);
    const struct frame *last = &im.fr[im.nfr - 1];
    /* Every byte: the length field (bigger runs past the end, smaller breaks
     * the CRC), the CRC, the kind and the body. Nothing valid follows, so
     * it is indistinguishable from a write the crash interrupted. */
    for (size_t at = last->off; at < im.len; at++) {
        im.bytes[at] ^= 0x5a;
        write_file(im.path, im.bytes, im.len);
        im.bytes[at] ^= 0x5a;
        struct ledger_recovery rec;
        char err[512];
        assert_int_equal(fx_open_opt(f, NULL, &rec, err, sizeof(err)), LEDGER_OK);
        assert_true(rec.truncated);
        assert_int_equal(rec.at.offset, last->off);
        assert_int_equal(ledger_last_index(f->l), 8);
    }
    free(im.bytes);
    fx_free(f);
}

static void test_corruption_followed_by_valid_records_refuses_to_open(void **state)
{
    (void)state;
    struct image im;
    struct fx *f = small(&im);
    const struct frame *e5 = &im.fr[4]; /* entry 5 */
    assert_int_equal(e5->kind, LEDGER_REC_ENTRY);
    im.bytes[e5->off + 20] ^= 1;
    write_file(im.path, im.bytes, im.len);
    char err[600], want[64];
    struct ledger_problem bad;
    struct ledger *l = NULL;
    assert_int_equal(ledger_open(f->data, NULL, &l, NULL, &bad, err, sizeof(err)), LEDGER_ECORRUPT);
    assert_null(l);
    assert_non_null(strstr(err, SEG1));
    snprintf(want, sizeof(want), "byte offset %zu (index 5)", e5->off);
    assert_non_null(strstr(err, want));
    assert_non_null(strstr(err, "valid records follow"));
    assert_int_equal(bad.offset, e5->off);
    assert_int_equal(bad.index, 5);
    size_t n;
    uint8_t *now = read_file(im.path, &n);
    assert_int_equal(n, im.len); /* nothing was cut */
    assert_memory_equal(now, im.bytes, n);
    free(now);
    free(im.bytes);
    fx_free(f);
}

static void test_a_record_that_frames_but_breaks_the_chain_refuses_to_open(void **state)
{
    (void)state;
    struct image im;
    struct fx *f = small(&im);
    const struct frame *last = &im.fr[im.nfr - 1];
    /* The last entry's prev_hash altered and the CRC recomputed: not torn. */
    im.bytes[last->off + last->size - 1] ^= 1;
    reframe(im.bytes + last->off);
    write_file(im.path, im.bytes, im.len);
    char err[600];
    assert_int_equal(fx_open_opt(f, NULL, NULL, err, sizeof(err)), LEDGER_ECORRUPT);
    assert_non_null(strstr(err, "prev_hash"));
    assert_non_null(strstr(err, "(index 9)"));
    free(im.bytes);
    fx_free(f);
}

static void test_zero_filled_tail_is_cut(void **state)
{
    (void)state;
    struct image im;
    struct fx *f = small(&im);
    uint8_t *p = calloc(1, im.len + 4096);
    memcpy(p, im.bytes, im.len);
    write_file(im.path, p, im.len + 4096);
    struct ledger_recovery rec;
    char err[512];
    assert_int_equal(fx_open_opt(f, NULL, &rec, err, sizeof(err)), LEDGER_OK);
    assert_true(rec.truncated);
    assert_int_equal(rec.bytes, 4096);
    assert_int_equal(rec.at.offset, im.len);
    assert_int_equal(ledger_last_index(f->l), 9);
    free(p);
    free(im.bytes);
    fx_free(f);
}

/* A ledger of 12 notes in segments of about three. */
static struct fx *segmented(struct ledger_options *opt, char ***paths, size_t *n)
{
    struct fx *f = fx_new();
    *opt = (struct ledger_options){.segment_bytes = 150};
    fx_open(f, opt);
    for (int k = 1; k <= 12; k++) {
        fx_begin(f);
        fx_note(f, 1, k);
        fx_commit(f);
    }
    fx_close(f);
    *n = seg_paths(f->ldir, paths);
    assert_true(*n >= 4);
    return f;
}

static void test_an_empty_or_torn_new_segment_is_removed(void **state)
{
    (void)state;
    struct ledger_options opt;
    char **paths, next[400];
    size_t n;
    struct fx *f = segmented(&opt, &paths, &n);
    for (size_t torn = 0; torn <= 5; torn += 5) {
        snprintf(next, sizeof(next), "%s/seg-00000000000000000013.log", f->ldir);
        write_file(next, (const uint8_t *)"\x40\0\0\0\x01", torn);
        struct ledger_recovery rec;
        char err[512];
        assert_int_equal(fx_open_opt(f, &opt, &rec, err, sizeof(err)), LEDGER_OK);
        assert_true(rec.truncated && rec.removed_file);
        assert_int_equal(rec.bytes, torn);
        assert_int_equal(access(next, F_OK), -1);
        assert_int_equal(ledger_last_index(f->l), 12);
        fx_begin(f); /* and appends start that segment again */
        fx_note(f, 1, 13);
        fx_commit(f);
        assert_int_equal(access(next, F_OK), 0);
        assert_int_equal(ledger_truncate_after(f->l, 12), LEDGER_OK);
        fx_close(f);
    }
    free_paths(paths, n);
    fx_free(f);
}

static void test_damage_at_the_end_of_an_earlier_segment_refuses_to_open(void **state)
{
    (void)state;
    struct ledger_options opt;
    char **paths;
    size_t n, len;
    struct fx *f = segmented(&opt, &paths, &n);
    uint8_t *p = read_file(paths[1], &len);
    p[len - 1] ^= 1; /* the last record of the second segment */
    write_file(paths[1], p, len);
    char err[600];
    assert_int_equal(fx_open_opt(f, &opt, NULL, err, sizeof(err)), LEDGER_ECORRUPT);
    assert_non_null(strstr(err, strrchr(paths[1], '/') + 1));
    assert_non_null(strstr(err, "not the last"));
    free(p);
    free_paths(paths, n);
    fx_free(f);
}

static void test_a_missing_segment_refuses_to_open(void **state)
{
    (void)state;
    struct ledger_options opt;
    char **paths;
    size_t n;
    struct fx *f = segmented(&opt, &paths, &n);
    assert_int_equal(unlink(paths[1]), 0);
    char err[600];
    assert_int_equal(fx_open_opt(f, &opt, NULL, err, sizeof(err)), LEDGER_ECORRUPT);
    assert_non_null(strstr(err, "segments missing"));
    assert_int_equal(unlink(paths[0]), 0);
    assert_int_equal(fx_open_opt(f, &opt, NULL, err, sizeof(err)), LEDGER_ECORRUPT);
    assert_non_null(strstr(err, "not 1"));
    free_paths(paths, n);
    fx_free(f);
}

static void test_a_stray_segment_name_refuses_to_open(void **state)
{
    (void)state;
    struct ledger_options opt;
    char **paths, stray[400];
    size_t n;
    struct fx *f = segmented(&opt, &paths, &n);
    snprintf(stray, sizeof(stray), "%s/seg-1.log", f->ldir);
    write_file(stray, (const uint8_t *)"", 0);
    char err[600];
    assert_int_equal(fx_open_opt(f, &opt, NULL, err, sizeof(err)), LEDGER_ECORRUPT);
    assert_non_null(strstr(err, "unexpected file seg-1.log"));
    unlink(stray);
    snprintf(stray, sizeof(stray), "%s/NOTES.txt", f->ldir); /* not ours: ignored */
    write_file(stray, (const uint8_t *)"hello", 5);
    fx_open(f, &opt);
    free_paths(paths, n);
    fx_free(f);
}

static void test_read_only_open_reports_a_torn_tail_without_cutting(void **state)
{
    (void)state;
    struct image im;
    struct fx *f = small(&im);
    write_file(im.path, im.bytes, im.len - 3);
    struct ledger_options ro = {.read_only = true};
    struct ledger_recovery rec;
    char err[512];
    assert_int_equal(fx_open_opt(f, &ro, &rec, err, sizeof(err)), LEDGER_OK);
    assert_false(rec.truncated);
    assert_int_equal(rec.bytes, im.fr[im.nfr - 1].size - 3);
    assert_int_equal(ledger_last_index(f->l), 8);
    fx_close(f);
    size_t n;
    uint8_t *now = read_file(im.path, &n);
    assert_int_equal(n, im.len - 3);
    free(now);
    free(im.bytes);
    fx_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cutting_the_last_record_at_every_offset_keeps_the_records_before_it),
        cmocka_unit_test(test_cutting_a_last_cosignature_keeps_its_checkpoint),
        cmocka_unit_test(test_any_damage_to_the_last_record_is_a_torn_tail),
        cmocka_unit_test(test_corruption_followed_by_valid_records_refuses_to_open),
        cmocka_unit_test(test_a_record_that_frames_but_breaks_the_chain_refuses_to_open),
        cmocka_unit_test(test_zero_filled_tail_is_cut),
        cmocka_unit_test(test_an_empty_or_torn_new_segment_is_removed),
        cmocka_unit_test(test_damage_at_the_end_of_an_earlier_segment_refuses_to_open),
        cmocka_unit_test(test_a_missing_segment_refuses_to_open),
        cmocka_unit_test(test_a_stray_segment_name_refuses_to_open),
        cmocka_unit_test(test_read_only_open_reports_a_torn_tail_without_cutting),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
