/* The rules for checkpoint, cosignature, evidence and membership records,
 * as the store applies them on append (open and verify apply the same
 * code: ledger/chain.c). */
#include "test_ledger_support.h"

/* Three members and three notes, committed; a batch begun on top. */
static struct fx *setup(const struct ledger_options *opt)
{
    struct fx *f = fx_new();
    fx_open(f, opt);
    fx_begin(f);
    for (int i = 0; i < 3; i++)
        fx_member(f, 1, LEDGER_MEMBER_ADD, i);
    for (int k = 4; k <= 6; k++)
        fx_note(f, 1, k);
    fx_commit(f);
    fx_begin(f);
    return f;
}

static size_t cp_for(struct fx *f, uint64_t index, uint64_t term,
                     uint8_t out[LEDGER_CHECKPOINT_MAX])
{
    struct ledger_checkpoint cp = {.origin = ORIGIN, .index = index, .term = term};
    size_t n;
    assert_int_equal(ledger_hash_at(f->l, index, cp.head_hash), LEDGER_OK);
    assert_int_equal(ledger_checkpoint_encode(&cp, out, &n), LEDGER_OK);
    return n;
}

static void sign(struct fx *f, int who, const uint8_t *cp, size_t n, struct ledger_sig *s)
{
    ledger_checkpoint_sign(&f->keys[who], node_ids[who], cp, n, s);
}

static void test_checkpoint_of_an_older_entry_is_accepted(void **state)
{
    (void)state;
    struct fx *f = setup(NULL);
    uint8_t cp[LEDGER_CHECKPOINT_MAX];
    size_t n = cp_for(f, 4, 1, cp);
    struct ledger_sig s;
    sign(f, 0, cp, n, &s);
    assert_int_equal(ledger_batch_add_checkpoint(f->b, cp, n, &s, 1), LEDGER_OK);
    fx_commit(f);
    fx_open(f, NULL);
    struct ledger_signed_checkpoint got;
    assert_int_equal(ledger_last_checkpoint(f->l, &got), LEDGER_OK);
    assert_int_equal(got.cp.index, 4);
    fx_free(f);
}

static void test_checkpoint_of_an_entry_in_the_same_batch_is_accepted(void **state)
{
    (void)state;
    struct fx *f = setup(NULL);
    uint8_t h[32];
    uint64_t idx;
    assert_int_equal(ledger_batch_add_entry(f->b, 2, LEDGER_ENTRY_NOTE, 0, "n1",
                                            (const uint8_t *)"\xc0", 1, &idx, h),
                     LEDGER_OK);
    fx_note(f, 2, 8);
    struct ledger_checkpoint c = {.origin = ORIGIN, .index = idx, .term = 2};
    memcpy(c.head_hash, h, 32);
    uint8_t cp[LEDGER_CHECKPOINT_MAX];
    size_t n;
    assert_int_equal(ledger_checkpoint_encode(&c, cp, &n), LEDGER_OK);
    struct ledger_sig s;
    sign(f, 0, cp, n, &s);
    assert_int_equal(ledger_batch_add_checkpoint(f->b, cp, n, &s, 1), LEDGER_OK);
    fx_commit(f);
    fx_free(f);
}

static void test_checkpoint_beyond_the_last_entry_is_out_of_range(void **state)
{
    (void)state;
    struct fx *f = setup(NULL);
    struct ledger_checkpoint c = {.origin = ORIGIN, .index = 7, .term = 1};
    uint8_t cp[LEDGER_CHECKPOINT_MAX];
    size_t n;
    assert_int_equal(ledger_checkpoint_encode(&c, cp, &n), LEDGER_OK);
    struct ledger_sig s;
    sign(f, 0, cp, n, &s);
    assert_int_equal(ledger_batch_add_checkpoint(f->b, cp, n, &s, 1), LEDGER_ERANGE);
    assert_int_equal(ledger_batch_records(f->b), 0);
    fx_free(f);
}

static void test_checkpoint_with_another_head_hash_conflicts(void **state)
{
    (void)state;
    struct fx *f = setup(NULL);
    struct ledger_checkpoint c = {.origin = ORIGIN, .index = 5, .term = 1};
    memset(c.head_hash, 0x77, 32);
    uint8_t cp[LEDGER_CHECKPOINT_MAX];
    size_t n;
    assert_int_equal(ledger_checkpoint_encode(&c, cp, &n), LEDGER_OK);
    struct ledger_sig s;
    sign(f, 0, cp, n, &s);
    assert_int_equal(ledger_batch_add_checkpoint(f->b, cp, n, &s, 1), LEDGER_ECONFLICT);
    fx_free(f);
}

static void test_checkpoint_term_below_the_entry_term_is_refused(void **state)
{
    (void)state;
    struct fx *f = setup(NULL);
    fx_note(f, 3, 7);
    fx_commit(f);
    fx_begin(f);
    uint8_t cp[LEDGER_CHECKPOINT_MAX];
    size_t n = cp_for(f, 7, 2, cp);
    struct ledger_sig s;
    sign(f, 0, cp, n, &s);
    assert_int_equal(ledger_batch_add_checkpoint(f->b, cp, n, &s, 1), LEDGER_EINVAL);
    fx_free(f);
}

static void test_checkpoints_must_move_forward(void **state)
{
    (void)state;
    struct fx *f = setup(NULL);
    uint8_t cp5[LEDGER_CHECKPOINT_MAX], cp4[LEDGER_CHECKPOINT_MAX];
    size_t n5 = cp_for(f, 5, 1, cp5), n4 = cp_for(f, 4, 1, cp4);
    struct ledger_sig s;
    sign(f, 0, cp5, n5, &s);
    assert_int_equal(ledger_batch_add_checkpoint(f->b, cp5, n5, &s, 1), LEDGER_OK);
    assert_int_equal(ledger_batch_add_checkpoint(f->b, cp5, n5, &s, 1), LEDGER_EEXIST);
    sign(f, 0, cp4, n4, &s);
    assert_int_equal(ledger_batch_add_checkpoint(f->b, cp4, n4, &s, 1), LEDGER_EEXIST);
    fx_free(f);
}

static void test_second_checkpoint_for_an_index_with_another_hash_is_equivocation(void **state)
{
    (void)state;
    struct fx *f = setup(NULL);
    uint8_t cp[LEDGER_CHECKPOINT_MAX], bad[LEDGER_CHECKPOINT_MAX];
    size_t n = cp_for(f, 5, 1, cp);
    struct ledger_sig s;
    sign(f, 0, cp, n, &s);
    assert_int_equal(ledger_batch_add_checkpoint(f->b, cp, n, &s, 1), LEDGER_OK);
    fx_commit(f);
    fx_begin(f);
    struct ledger_checkpoint c = {.origin = ORIGIN, .index = 5, .term = 1};
    memset(c.head_hash, 0x55, 32);
    size_t bn;
    assert_int_equal(ledger_checkpoint_encode(&c, bad, &bn), LEDGER_OK);
    sign(f, 0, bad, bn, &s);
    assert_int_equal(ledger_batch_add_checkpoint(f->b, bad, bn, &s, 1), LEDGER_EEQUIVOCATION);
    assert_int_equal(ledger_batch_add_cosignature(f->b, bad, bn, &s), LEDGER_EEQUIVOCATION);
    /* The caller builds the evidence from the stored checkpoint and this one. */
    struct ledger_signed_checkpoint have;
    struct ledger_statement a, b;
    struct ledger_evidence ev;
    assert_int_equal(ledger_last_checkpoint(f->l, &have), LEDGER_OK);
    ledger_statement_checkpoint(have.bytes, have.len, &have.sigs[0], &a);
    ledger_statement_checkpoint(bad, bn, &s, &b);
    assert_true(ledger_equivocation(&a, &b, &ev));
    assert_int_equal(ledger_batch_add_evidence(f->b, &ev), LEDGER_OK);
    fx_commit(f);
    fx_free(f);
}

static void test_checkpoint_origin_cannot_change(void **state)
{
    (void)state;
    struct fx *f = setup(NULL);
    uint8_t cp[LEDGER_CHECKPOINT_MAX];
    size_t n = cp_for(f, 4, 1, cp);
    struct ledger_sig s;
    sign(f, 0, cp, n, &s);
    assert_int_equal(ledger_batch_add_checkpoint(f->b, cp, n, &s, 1), LEDGER_OK);
    struct ledger_checkpoint c = {.origin = "other-fed", .index = 5, .term = 1};
    assert_int_equal(ledger_hash_at(f->l, 5, c.head_hash), LEDGER_OK);
    assert_int_equal(ledger_checkpoint_encode(&c, cp, &n), LEDGER_OK);
    sign(f, 0, cp, n, &s);
    assert_int_equal(ledger_batch_add_checkpoint(f->b, cp, n, &s, 1), LEDGER_EINVAL);
    fx_free(f);
}

static void test_forged_signatures_are_refused(void **state)
{
    (void)state;
    struct fx *f = setup(NULL);
    uint8_t cp[LEDGER_CHECKPOINT_MAX];
    size_t n = cp_for(f, 6, 1, cp);
    struct ledger_sig s;
    sign(f, 0, cp, n, &s);
    s.sig[10] ^= 4;
    assert_int_equal(ledger_batch_add_checkpoint(f->b, cp, n, &s, 1), LEDGER_EBADSIG);
    s.sig[10] ^= 4;
    assert_int_equal(ledger_batch_add_checkpoint(f->b, cp, n, &s, 1), LEDGER_OK);
    sign(f, 1, cp, n, &s);
    memcpy(s.pubkey, f->keys[2].pk, 32); /* n2's signature claimed for n3's key */
    assert_int_equal(ledger_batch_add_cosignature(f->b, cp, n, &s), LEDGER_EBADSIG);
    fx_free(f);
}

static void test_cosignatures_are_for_the_latest_checkpoint_once_per_key(void **state)
{
    (void)state;
    struct fx *f = setup(NULL);
    uint8_t cp4[LEDGER_CHECKPOINT_MAX], cp6[LEDGER_CHECKPOINT_MAX];
    size_t n4 = cp_for(f, 4, 1, cp4), n6 = cp_for(f, 6, 1, cp6);
    struct ledger_sig s;
    sign(f, 1, cp4, n4, &s);
    assert_int_equal(ledger_batch_add_cosignature(f->b, cp4, n4, &s), LEDGER_ESTALE);
    sign(f, 0, cp4, n4, &s);
    assert_int_equal(ledger_batch_add_checkpoint(f->b, cp4, n4, &s, 1), LEDGER_OK);
    assert_int_equal(ledger_batch_add_cosignature(f->b, cp4, n4, &s), LEDGER_EEXIST);
    sign(f, 1, cp4, n4, &s);
    assert_int_equal(ledger_batch_add_cosignature(f->b, cp4, n4, &s), LEDGER_OK);
    assert_int_equal(ledger_batch_add_cosignature(f->b, cp4, n4, &s), LEDGER_EEXIST);
    sign(f, 0, cp6, n6, &s);
    assert_int_equal(ledger_batch_add_checkpoint(f->b, cp6, n6, &s, 1), LEDGER_OK);
    sign(f, 2, cp4, n4, &s);
    assert_int_equal(ledger_batch_add_cosignature(f->b, cp4, n4, &s), LEDGER_ESTALE);
    fx_commit(f);
    struct ledger_signed_checkpoint got;
    assert_int_equal(ledger_last_checkpoint(f->l, &got), LEDGER_OK);
    assert_int_equal(got.cp.index, 6);
    assert_int_equal(got.nsigs, 1);
    fx_free(f);
}

static void test_pinned_store_refuses_other_keys(void **state)
{
    (void)state;
    struct fx *f = setup(NULL);
    uint8_t pinned[2][32];
    memcpy(pinned[0], f->keys[0].pk, 32);
    memcpy(pinned[1], f->keys[1].pk, 32);
    struct ledger_options opt = {
        .keys = LEDGER_KEYS_PINNED, .pinned = (const uint8_t(*)[32])pinned, .npinned = 2};
    fx_open(f, &opt);
    fx_begin(f);
    uint8_t cp[LEDGER_CHECKPOINT_MAX];
    size_t n = cp_for(f, 6, 1, cp);
    struct ledger_sig s;
    sign(f, 2, cp, n, &s);
    assert_int_equal(ledger_batch_add_checkpoint(f->b, cp, n, &s, 1), LEDGER_EKEY);
    sign(f, 0, cp, n, &s);
    assert_int_equal(ledger_batch_add_checkpoint(f->b, cp, n, &s, 1), LEDGER_OK);
    sign(f, 2, cp, n, &s);
    assert_int_equal(ledger_batch_add_cosignature(f->b, cp, n, &s), LEDGER_EKEY);
    fx_free(f);
}

static void test_membership_store_wants_the_key_recorded_for_the_signer(void **state)
{
    (void)state;
    struct ledger_options opt = {.keys = LEDGER_KEYS_MEMBERSHIP};
    struct fx *f = setup(&opt);
    uint8_t cp[LEDGER_CHECKPOINT_MAX];
    size_t n = cp_for(f, 6, 1, cp);
    struct ledger_sig s;
    sign(f, 3, cp, n, &s); /* n4 is not a member */
    assert_int_equal(ledger_batch_add_checkpoint(f->b, cp, n, &s, 1), LEDGER_EKEY);
    sign(f, 0, cp, n, &s);
    snprintf(s.signer, sizeof(s.signer), "n2"); /* n1's key under n2's name */
    assert_int_equal(ledger_batch_add_checkpoint(f->b, cp, n, &s, 1), LEDGER_EKEY);
    sign(f, 0, cp, n, &s);
    assert_int_equal(ledger_batch_add_checkpoint(f->b, cp, n, &s, 1), LEDGER_OK);
    fx_free(f);
}

static enum ledger_error member(struct fx *f, uint32_t op, const char *node, int key)
{
    struct ledger_membership m = {.op = op};
    uint8_t p[LEDGER_MEMBERSHIP_MAX];
    size_t n;
    snprintf(m.node, sizeof(m.node), "%s", node);
    memcpy(m.pubkey, f->keys[key].pk, 32);
    assert_int_equal(ledger_membership_encode(&m, p, &n), LEDGER_OK);
    return ledger_batch_add_entry(f->b, 1, LEDGER_ENTRY_MEMBERSHIP, 0, "n1", p, n, NULL, NULL);
}

static void test_membership_changes_follow_the_pinning_rules(void **state)
{
    (void)state;
    struct fx *f = setup(NULL);
    assert_int_equal(member(f, LEDGER_MEMBER_ADD, "n2", 3), LEDGER_EINVAL);    /* member */
    assert_int_equal(member(f, LEDGER_MEMBER_ADD, "n4", 1), LEDGER_EINVAL);    /* n2's key */
    assert_int_equal(member(f, LEDGER_MEMBER_REMOVE, "n4", 3), LEDGER_EINVAL); /* not one */
    assert_int_equal(member(f, LEDGER_MEMBER_REMOVE, "n2", 2), LEDGER_EINVAL); /* wrong key */
    assert_int_equal(member(f, LEDGER_MEMBER_REMOVE, "n2", 1), LEDGER_OK);
    assert_int_equal(member(f, LEDGER_MEMBER_ADD, "n2", 3), LEDGER_OK); /* rotated */
    assert_int_equal(ledger_batch_add_entry(f->b, 1, LEDGER_ENTRY_MEMBERSHIP, 0, "n1",
                                            (const uint8_t *)"\x92\x01\xc0", 3, NULL, NULL),
                     LEDGER_EMALFORMED);
    fx_commit(f);
    fx_open(f, NULL); /* the same rules hold when the files are read back */
    uint8_t keys[LEDGER_MAX_MEMBERS][32];
    char ids[LEDGER_MAX_MEMBERS][LEDGER_ID_MAX];
    size_t n = ledger_members_at(f->l, ledger_last_index(f->l), keys, ids);
    assert_int_equal(n, 3);
    for (size_t i = 0; i < n; i++)
        if (strcmp(ids[i], "n2") == 0)
            assert_memory_equal(keys[i], f->keys[3].pk, 32);
    assert_int_equal(ledger_members_at(f->l, 2, NULL, NULL), 2);
    fx_free(f);
}

static void test_evidence_that_does_not_hold_is_refused(void **state)
{
    (void)state;
    struct fx *f = setup(NULL);
    uint8_t h1[32], h2[32];
    memset(h1, 1, 32);
    memset(h2, 2, 32);
    struct ledger_sig s1, s2;
    ledger_entry_sign(&f->keys[0], "n1", 5, 1, h1, &s1);
    ledger_entry_sign(&f->keys[0], "n1", 5, 1, h2, &s2);
    struct ledger_evidence ev;
    struct ledger_statement a, b;
    ledger_statement_entry(5, 1, h1, &s1, &a);
    ledger_statement_entry(5, 1, h2, &s2, &b);
    assert_true(ledger_equivocation(&a, &b, &ev));
    ev.b.sig.sig[0] ^= 1;
    assert_int_equal(ledger_batch_add_evidence(f->b, &ev), LEDGER_EBADSIG);
    ev.b.sig.sig[0] ^= 1;
    assert_int_equal(ledger_batch_add_evidence(f->b, &ev), LEDGER_OK);
    fx_commit(f);
    fx_open(f, NULL);
    fx_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_checkpoint_of_an_older_entry_is_accepted),
        cmocka_unit_test(test_checkpoint_of_an_entry_in_the_same_batch_is_accepted),
        cmocka_unit_test(test_checkpoint_beyond_the_last_entry_is_out_of_range),
        cmocka_unit_test(test_checkpoint_with_another_head_hash_conflicts),
        cmocka_unit_test(test_checkpoint_term_below_the_entry_term_is_refused),
        cmocka_unit_test(test_checkpoints_must_move_forward),
        cmocka_unit_test(test_second_checkpoint_for_an_index_with_another_hash_is_equivocation),
        cmocka_unit_test(test_checkpoint_origin_cannot_change),
        cmocka_unit_test(test_forged_signatures_are_refused),
        cmocka_unit_test(test_cosignatures_are_for_the_latest_checkpoint_once_per_key),
        cmocka_unit_test(test_pinned_store_refuses_other_keys),
        cmocka_unit_test(test_membership_store_wants_the_key_recorded_for_the_signer),
        cmocka_unit_test(test_membership_changes_follow_the_pinning_rules),
        cmocka_unit_test(test_evidence_that_does_not_hold_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
