/* Record-level tampering that keeps every CRC valid: reordered, deleted
 * and duplicated records, rewritten chains, forged signatures, keys that
 * are not pinned, and equivocation (forked). */
#include "test_ledger_support.h"

#define SEG1 "seg-00000000000000000001.log"

/* The standard small ledger's records (see fx_build_small):
 *   0-8: entries 1-9 interleaved as
 *   [e1 e2 e3 e4 e5 e6 cp6 co6 co6 e7 e8 cp8 co8 e9] */
enum { E1, E2, E3, E4, E5, E6, CP6, CO6A, CO6B, E7, E8, CP8, CO8, E9, NREC };

struct image {
    struct fx *f;
    char path[400];
    uint8_t *p;
    size_t len;
    struct frame fr[NREC];
};

static void load(struct image *im)
{
    im->f = fx_new();
    fx_build_small(im->f, NULL);
    fx_close(im->f);
    snprintf(im->path, sizeof(im->path), "%s/" SEG1, im->f->ldir);
    im->p = read_file(im->path, &im->len);
    assert_int_equal(frames_of(im->p, im->len, im->fr, NREC), NREC);
    assert_int_equal(im->fr[CP6].kind, LEDGER_REC_CHECKPOINT);
    assert_int_equal(im->fr[CO8].kind, LEDGER_REC_COSIGNATURE);
}

static void done(struct image *im)
{
    free(im->p);
    fx_free(im->f);
}

/* Writes the records in the order given (-1 ends it). */
static void write_order(struct image *im, const int *order)
{
    uint8_t *out = malloc(2 * im->len);
    size_t n = 0;
    for (; *order >= 0; order++) {
        memcpy(out + n, im->p + im->fr[*order].off, im->fr[*order].size);
        n += im->fr[*order].size;
    }
    write_file(im->path, out, n);
    free(out);
}

static enum ledger_verdict verdict(struct image *im, struct ledger_verify_report *rep)
{
    return verify_dir(im->f, rep);
}

static void expect_tampered(struct image *im, const int *order, size_t at_record,
                            const char *reason)
{
    struct ledger_verify_report rep;
    write_order(im, order);
    if (verdict(im, &rep) != LEDGER_VERIFY_TAMPERED || strstr(rep.at.reason, reason) == NULL)
        fail_msg("verdict %s: %s", ledger_verdict_name(rep.verdict), rep.at.reason);
    size_t off = 0;
    for (size_t i = 0; i < at_record; i++)
        off += im->fr[order[i]].size;
    assert_int_equal(rep.at.offset, off);
}

static void test_swapped_entries_are_tampering(void **state)
{
    (void)state;
    struct image im;
    load(&im);
    const int order[] = {E1, E2, E4, E3, E5, E6, CP6, CO6A, CO6B, E7, E8, CP8, CO8, E9, -1};
    expect_tampered(&im, order, 2, "index 4, expected 3");
    done(&im);
}

static void test_a_checkpoint_moved_before_its_entry_is_tampering(void **state)
{
    (void)state;
    struct image im;
    load(&im);
    const int order[] = {E1, E2, E3, E4, E5, CP6, E6, CO6A, CO6B, E7, E8, CP8, CO8, E9, -1};
    expect_tampered(&im, order, 5, "beyond the last entry");
    done(&im);
}

static void test_a_cosignature_moved_before_its_checkpoint_is_tampering(void **state)
{
    (void)state;
    struct image im;
    load(&im);
    const int order[] = {E1, E2, E3, E4, E5, E6, CP6, CO6A, CO6B, E7, E8, CO8, CP8, E9, -1};
    expect_tampered(&im, order, 11, "not the latest");
    done(&im);
}

static void test_a_deleted_entry_is_tampering(void **state)
{
    (void)state;
    struct image im;
    load(&im);
    const int order[] = {E1, E2, E3, E5, E6, CP6, CO6A, CO6B, E7, E8, CP8, CO8, E9, -1};
    expect_tampered(&im, order, 3, "index 5, expected 4");
    done(&im);
}

static void test_a_deleted_checkpoint_is_tampering(void **state)
{
    (void)state;
    struct image im;
    load(&im);
    const int order[] = {E1, E2, E3, E4, E5, E6, CO6A, CO6B, E7, E8, CP8, CO8, E9, -1};
    expect_tampered(&im, order, 6, "before any checkpoint");
    done(&im);
}

static void test_duplicated_records_are_tampering(void **state)
{
    (void)state;
    struct image im;
    load(&im);
    const int dup_entry[] = {E1, E2, E2, E3, E4, E5, E6, CP6, CO6A, CO6B, E7, E8, CP8, CO8, E9, -1};
    expect_tampered(&im, dup_entry, 2, "index 2, expected 3");
    const int dup_cp[] = {E1, E2, E3, E4, E5, E6, CP6, CO6A, CO6B, CP6, E7, E8, CP8, CO8, E9, -1};
    expect_tampered(&im, dup_cp, 9, "not above the latest");
    const int dup_co[] = {E1, E2, E3, E4, E5, E6, CP6, CO6A, CO6B, CO6A, E7, E8, CP8, CO8, E9, -1};
    expect_tampered(&im, dup_co, 9, "already signed");
    done(&im);
}

static void test_a_rewritten_chain_is_caught_by_the_checkpoint(void **state)
{
    (void)state;
    struct image im;
    load(&im);
    /* Change note 5's text, then recompute every later prev_hash and CRC:
     * a chain consistent with itself, but not with what was signed. */
    uint8_t prev[32] = {0}, h[32];
    for (int r = E1; r < NREC; r++) {
        if (im.fr[r].kind != LEDGER_REC_ENTRY)
            continue;
        uint8_t *e = im.p + im.fr[r].off + LEDGER_FRAME_HDR + 1;
        size_t n = im.fr[r].size - LEDGER_FRAME_HDR - 1;
        if (r == E5)
            e[n - 34 - 1] ^= 0x01; /* the note's last character */
        memcpy(e + n - 32, prev, 32);
        reframe(im.p + im.fr[r].off);
        ledger_entry_hash(prev, e, n, h);
        memcpy(prev, h, 32);
    }
    write_file(im.path, im.p, im.len);
    struct ledger_verify_report rep;
    assert_int_equal(verdict(&im, &rep), LEDGER_VERIFY_TAMPERED);
    assert_non_null(strstr(rep.at.reason, "head hash is not the hash of entry 6"));
    assert_int_equal(rep.at.offset, im.fr[CP6].off);
    assert_int_equal(rep.at.index, 6);
    done(&im);
}

static void test_a_forged_cosignature_is_tampering(void **state)
{
    (void)state;
    struct image im;
    load(&im);
    im.p[im.fr[CO8].off + im.fr[CO8].size - 1] ^= 1; /* the signature's last byte */
    reframe(im.p + im.fr[CO8].off);
    write_file(im.path, im.p, im.len);
    struct ledger_verify_report rep;
    assert_int_equal(verdict(&im, &rep), LEDGER_VERIFY_TAMPERED);
    assert_non_null(strstr(rep.at.reason, "does not verify"));
    assert_int_equal(rep.at.offset, im.fr[CO8].off);
    assert_int_equal(rep.at.index, 8);
    done(&im);
}

static void test_a_signature_by_a_key_not_pinned_is_tampering(void **state)
{
    (void)state;
    struct image im;
    load(&im);
    uint8_t pinned[2][32];
    memcpy(pinned[0], im.f->keys[0].pk, 32);
    memcpy(pinned[1], im.f->keys[1].pk, 32); /* n3 left out; it cosigned checkpoint 6 */
    struct ledger_verify_report rep;
    assert_int_equal(ledger_verify(im.f->ldir, (const uint8_t(*)[32])pinned, 2, &rep),
                     LEDGER_VERIFY_TAMPERED);
    assert_non_null(strstr(rep.at.reason, "n3"));
    assert_non_null(strstr(rep.at.reason, "not pinned"));
    assert_int_equal(rep.at.offset, im.fr[CO6B].off);
    done(&im);
}

static void test_a_signer_outside_the_membership_is_tampering(void **state)
{
    (void)state;
    struct fx *f = fx_new();
    fx_build_small(f, NULL);
    fx_begin(f);
    fx_checkpoint(f, 2, 3, -1, -1); /* n4 signs: the store (any key) takes it */
    fx_commit(f);
    fx_close(f);
    struct ledger_verify_report rep;
    assert_int_equal(verify_dir(f, &rep), LEDGER_VERIFY_TAMPERED);
    assert_non_null(strstr(rep.at.reason, "membership"));
    assert_int_equal(rep.at.index, 9);
    fx_free(f);
}

static void test_evidence_in_the_ledger_is_forked(void **state)
{
    (void)state;
    struct fx *f = fx_new();
    fx_build_small(f, NULL);
    uint8_t h1[32], h2[32];
    memset(h1, 1, 32);
    memset(h2, 2, 32);
    struct ledger_sig s1, s2;
    ledger_entry_sign(&f->keys[0], "n1", 9, 2, h1, &s1);
    ledger_entry_sign(&f->keys[0], "n1", 9, 2, h2, &s2);
    struct ledger_statement a, b;
    struct ledger_evidence ev;
    ledger_statement_entry(9, 2, h1, &s1, &a);
    ledger_statement_entry(9, 2, h2, &s2, &b);
    assert_true(ledger_equivocation(&a, &b, &ev));
    fx_begin(f);
    assert_int_equal(ledger_batch_add_evidence(f->b, &ev), LEDGER_OK);
    fx_commit(f);
    fx_close(f);
    struct ledger_verify_report rep;
    assert_int_equal(verify_dir(f, &rep), LEDGER_VERIFY_FORKED);
    assert_int_equal(rep.at.index, 9);
    assert_non_null(strstr(rep.at.reason, "equivocation"));
    assert_int_equal(rep.evidence, 1);
    fx_free(f);
}

static void test_two_signed_checkpoints_for_one_index_are_forked(void **state)
{
    (void)state;
    struct image im;
    load(&im);
    /* A second checkpoint for index 8 with another head hash, validly signed
     * by n1, written in as a raw record (the store would refuse it). */
    struct ledger_checkpoint c = {.origin = ORIGIN, .index = 8, .term = 2};
    memset(c.head_hash, 0x42, 32);
    uint8_t cp[LEDGER_CHECKPOINT_MAX], body[512];
    size_t n;
    assert_int_equal(ledger_checkpoint_encode(&c, cp, &n), LEDGER_OK);
    struct ledger_sig s;
    ledger_checkpoint_sign(&im.f->keys[0], "n1", cp, n, &s);
    size_t bn = ledger_rec_checkpoint_encode(cp, n, &s, 1, body, sizeof(body));
    struct ledger_buf out = {0};
    assert_true(ledger_buf_reserve(&out, im.len));
    memcpy(out.p, im.p, im.fr[E9].off);
    out.len = im.fr[E9].off;
    assert_true(ledger_frame_append(&out, LEDGER_REC_CHECKPOINT, body, bn));
    write_file(im.path, out.p, out.len);
    struct ledger_verify_report rep;
    assert_int_equal(verdict(&im, &rep), LEDGER_VERIFY_FORKED);
    assert_int_equal(rep.at.index, 8);
    assert_int_equal(rep.at.offset, im.fr[E9].off);
    ledger_buf_free(&out);
    done(&im);
}

static void test_a_renamed_segment_is_tampering(void **state)
{
    (void)state;
    struct image im;
    load(&im);
    char to[400];
    snprintf(to, sizeof(to), "%s/seg-00000000000000000002.log", im.f->ldir);
    assert_int_equal(rename(im.path, to), 0);
    struct ledger_verify_report rep;
    assert_int_equal(verdict(&im, &rep), LEDGER_VERIFY_TAMPERED);
    assert_non_null(strstr(rep.at.reason, "not 1"));
    done(&im);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_swapped_entries_are_tampering),
        cmocka_unit_test(test_a_checkpoint_moved_before_its_entry_is_tampering),
        cmocka_unit_test(test_a_cosignature_moved_before_its_checkpoint_is_tampering),
        cmocka_unit_test(test_a_deleted_entry_is_tampering),
        cmocka_unit_test(test_a_deleted_checkpoint_is_tampering),
        cmocka_unit_test(test_duplicated_records_are_tampering),
        cmocka_unit_test(test_a_rewritten_chain_is_caught_by_the_checkpoint),
        cmocka_unit_test(test_a_forged_cosignature_is_tampering),
        cmocka_unit_test(test_a_signature_by_a_key_not_pinned_is_tampering),
        cmocka_unit_test(test_a_signer_outside_the_membership_is_tampering),
        cmocka_unit_test(test_evidence_in_the_ledger_is_forked),
        cmocka_unit_test(test_two_signed_checkpoints_for_one_index_are_forked),
        cmocka_unit_test(test_a_renamed_segment_is_tampering),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
