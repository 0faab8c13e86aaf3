/* Offline verification: a good ledger verifies with its counts, and every
 * single flipped byte of the stored files is found (as a torn tail when it
 * is in the last record of the last segment, as tampering anywhere else),
 * never reported OK. Record-level tampering is in test_ledger_tamper.c. */
#include "test_ledger_support.h"

static void pin_members(const struct fx *f, uint8_t pinned[3][32])
{
    for (int i = 0; i < 3; i++)
        memcpy(pinned[i], f->keys[i].pk, 32);
}

static void test_good_ledger_verifies_with_its_counts(void **state)
{
    (void)state;
    struct fx *f = fx_new();
    fx_build_small(f, NULL);
    uint8_t head[32];
    ledger_head_hash(f->l, head);
    fx_close(f);
    struct ledger_verify_report rep;
    assert_int_equal(verify_dir(f, &rep), LEDGER_VERIFY_OK);
    assert_int_equal(rep.segments, 1);
    assert_int_equal(rep.entries, 9);
    assert_int_equal(rep.last_index, 9);
    assert_int_equal(rep.last_term, 2);
    assert_memory_equal(rep.head_hash, head, 32);
    assert_int_equal(rep.checkpoints, 2);
    assert_int_equal(rep.cosignatures, 3);
    assert_int_equal(rep.last_checkpoint, 8);
    assert_int_equal(rep.last_notarized, 8); /* n1 + n2 of three members */
    assert_int_equal(rep.uncovered, 1);
    assert_int_equal(rep.keys, 3);
    assert_false(rep.pinned);
    assert_string_equal(ledger_verdict_name(rep.verdict), "ok");
    fx_free(f);
}

static void test_pinned_keys_verify_the_same_ledger(void **state)
{
    (void)state;
    struct fx *f = fx_new();
    fx_build_small(f, NULL);
    fx_close(f);
    uint8_t pinned[3][32];
    pin_members(f, pinned);
    struct ledger_verify_report rep;
    assert_int_equal(ledger_verify(f->ldir, (const uint8_t(*)[32])pinned, 3, &rep),
                     LEDGER_VERIFY_OK);
    assert_true(rep.pinned);
    assert_int_equal(rep.keys, 3);
    assert_int_equal(rep.last_notarized, 8);
    fx_free(f);
}

static void test_a_missing_directory_is_unreadable(void **state)
{
    (void)state;
    struct ledger_verify_report rep;
    assert_int_equal(ledger_verify("/nonexistent/ledger", NULL, 0, &rep), LEDGER_VERIFY_UNREADABLE);
    assert_non_null(strstr(rep.at.reason, "cannot open"));
}

static void test_an_empty_directory_is_an_empty_ledger(void **state)
{
    (void)state;
    struct fx *f = fx_new();
    fx_open(f, NULL);
    fx_close(f);
    struct ledger_verify_report rep;
    assert_int_equal(verify_dir(f, &rep), LEDGER_VERIFY_OK);
    assert_int_equal(rep.entries, 0);
    fx_free(f);
}

/* Flips every byte of every segment file, one at a time, and checks the
 * verdict and where it points. */
static void flip_every_byte(struct fx *f)
{
    char **paths;
    size_t nseg = seg_paths(f->ldir, &paths);
    size_t checked = 0;
    for (size_t s = 0; s < nseg; s++) {
        size_t len;
        uint8_t *p = read_file(paths[s], &len);
        struct frame fr[128];
        size_t nf = frames_of(p, len, fr, 128);
        size_t last_off = fr[nf - 1].off;
        bool last_seg = s + 1 == nseg;
        for (size_t at = 0; at < len; at++) {
            size_t rec = 0;
            while (rec + 1 < nf && fr[rec + 1].off <= at)
                rec++;
            p[at] ^= 0xff;
            write_file(paths[s], p, len);
            p[at] ^= 0xff;
            struct ledger_verify_report rep;
            enum ledger_verdict v = verify_dir(f, &rep);
            bool torn = last_seg && at >= last_off;
            if (v != (torn ? LEDGER_VERIFY_TORN_TAIL : LEDGER_VERIFY_TAMPERED))
                fail_msg("segment %zu byte %zu: verdict %s (%s), expected %s", s, at,
                         ledger_verdict_name(v), rep.at.reason, torn ? "torn_tail" : "tampered");
            /* It points at the record that holds the byte. */
            assert_int_equal(rep.at.offset, fr[rec].off);
            assert_string_equal(rep.at.file, paths[s]);
            if (torn)
                assert_int_equal(rep.torn_bytes, len - last_off);
            checked++;
        }
        write_file(paths[s], p, len);
        free(p);
    }
    assert_true(checked > 0);
    free_paths(paths, nseg);
}

static void test_every_flipped_byte_is_found(void **state)
{
    (void)state;
    struct fx *f = fx_new();
    fx_build_small(f, NULL);
    fx_close(f);
    flip_every_byte(f);
    struct ledger_verify_report rep;
    assert_int_equal(verify_dir(f, &rep), LEDGER_VERIFY_OK); /* restored */
    fx_free(f);
}

static void test_every_flipped_byte_is_found_across_segments(void **state)
{
    (void)state;
    struct fx *f = fx_new();
    struct ledger_options opt = {.segment_bytes = 250};
    fx_open(f, &opt);
    fx_begin(f);
    for (int i = 0; i < 3; i++)
        fx_member(f, 1, LEDGER_MEMBER_ADD, i);
    fx_commit(f);
    for (int k = 4; k <= 10; k++) {
        fx_begin(f);
        fx_note(f, 1, k);
        fx_commit(f);
        if (k % 3 == 0) {
            fx_begin(f);
            fx_checkpoint(f, 1, 0, 2, -1);
            fx_commit(f);
        }
    }
    fx_close(f);
    char **paths;
    size_t n = seg_paths(f->ldir, &paths);
    free_paths(paths, n);
    assert_true(n >= 3);
    flip_every_byte(f);
    fx_free(f);
}

static void test_the_first_bad_index_is_reported(void **state)
{
    (void)state;
    struct fx *f = fx_new();
    fx_build_small(f, NULL);
    fx_close(f);
    char path[400];
    size_t len;
    snprintf(path, sizeof(path), "%s/seg-00000000000000000001.log", f->ldir);
    uint8_t *p = read_file(path, &len);
    struct frame fr[64];
    frames_of(p, len, fr, 64);
    p[fr[5].off + 12] ^= 1; /* entry 6 */
    p[fr[9].off + 12] ^= 1; /* and entry 7, later */
    write_file(path, p, len);
    struct ledger_verify_report rep;
    assert_int_equal(verify_dir(f, &rep), LEDGER_VERIFY_TAMPERED);
    assert_int_equal(rep.at.index, 6);
    assert_int_equal(rep.at.offset, fr[5].off);
    assert_int_equal(rep.last_index, 5); /* verified up to the damage */
    assert_non_null(strstr(rep.at.reason, "CRC"));
    free(p);
    fx_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_ledger_verifies_with_its_counts),
        cmocka_unit_test(test_pinned_keys_verify_the_same_ledger),
        cmocka_unit_test(test_a_missing_directory_is_unreadable),
        cmocka_unit_test(test_an_empty_directory_is_an_empty_ledger),
        cmocka_unit_test(test_every_flipped_byte_is_found),
        cmocka_unit_test(test_every_flipped_byte_is_found_across_segments),
        cmocka_unit_test(test_the_first_bad_index_is_reported),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
