/* Keys, checkpoint codec, signatures, notarization and equivocation. */
#include "test_ledger_support.h"

static struct ledger_checkpoint cp_at(uint64_t index, uint8_t fill)
{
    struct ledger_checkpoint cp = {.origin = ORIGIN, .index = index, .term = 4};
    memset(cp.head_hash, fill, sizeof(cp.head_hash));
    return cp;
}

static size_t enc(const struct ledger_checkpoint *cp, uint8_t out[LEDGER_CHECKPOINT_MAX])
{
    size_t n;
    assert_int_equal(ledger_checkpoint_encode(cp, out, &n), LEDGER_OK);
    return n;
}

static void test_key_is_created_0600_and_loaded_again(void **state)
{
    (void)state;
    struct fx *f = fx_new();
    struct ledger_key a, b;
    char err[256], path[400];
    struct stat sb;
    assert_int_equal(ledger_key_load_or_create(f->data, &a, err, sizeof(err)), 1);
    snprintf(path, sizeof(path), "%s/node.key", f->data);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    assert_int_equal(sb.st_size, 65);
    assert_int_equal(ledger_key_load_or_create(f->data, &b, err, sizeof(err)), 0);
    assert_memory_equal(a.pk, b.pk, sizeof(a.pk));
    assert_memory_equal(a.sk, b.sk, sizeof(a.sk));
    fx_free(f);
}

static void test_key_readable_by_others_is_refused(void **state)
{
    (void)state;
    struct fx *f = fx_new();
    struct ledger_key k;
    char err[256], path[400];
    assert_int_equal(ledger_key_load_or_create(f->data, &k, err, sizeof(err)), 1);
    snprintf(path, sizeof(path), "%s/node.key", f->data);
    chmod(path, 0644);
    assert_int_equal(ledger_key_load_or_create(f->data, &k, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "chmod 600"));
    fx_free(f);
}

static void test_malformed_key_file_is_refused_not_replaced(void **state)
{
    (void)state;
    struct fx *f = fx_new();
    struct ledger_key k;
    char err[256], path[400];
    snprintf(path, sizeof(path), "%s/node.key", f->data);
    int fd = open(path, O_WRONLY | O_CREAT, 0600);
    assert_int_equal(write(fd, "abcd\n", 5), 5);
    close(fd);
    assert_int_equal(ledger_key_load_or_create(f->data, &k, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "not a node key"));
    size_t n;
    uint8_t *p = read_file(path, &n);
    assert_int_equal(n, 5); /* left alone */
    free(p);
    fx_free(f);
}

static void test_key_in_missing_directory_is_an_error(void **state)
{
    (void)state;
    struct ledger_key k;
    char err[256];
    assert_int_equal(ledger_key_load_or_create("/nonexistent/chimera", &k, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "does not exist"));
}

static void test_checkpoint_round_trip_and_every_truncation(void **state)
{
    (void)state;
    struct ledger_checkpoint cp = cp_at(123456789012ull, 7), d;
    uint8_t b[LEDGER_CHECKPOINT_MAX];
    size_t n = enc(&cp, b);
    assert_int_equal(ledger_checkpoint_decode(b, n, &d), LEDGER_OK);
    assert_string_equal(d.origin, ORIGIN);
    assert_true(d.index == cp.index && d.term == cp.term);
    assert_memory_equal(d.head_hash, cp.head_hash, 32);
    for (size_t cut = 0; cut < n; cut++)
        assert_int_equal(ledger_checkpoint_decode(b, cut, &d), LEDGER_EMALFORMED);
    b[n] = 0;
    assert_int_equal(ledger_checkpoint_decode(b, n + 1, &d), LEDGER_EMALFORMED);
}

static void test_checkpoint_with_longest_origin_fits_the_bound(void **state)
{
    (void)state;
    struct ledger_checkpoint cp = cp_at(UINT64_MAX, 1);
    cp.term = UINT64_MAX;
    memset(cp.origin, 'o', LEDGER_ID_MAX - 1);
    cp.origin[LEDGER_ID_MAX - 1] = '\0';
    uint8_t b[LEDGER_CHECKPOINT_MAX];
    assert_true(enc(&cp, b) <= LEDGER_CHECKPOINT_MAX);
}

static void test_checkpoint_signature_verifies_and_forgeries_do_not(void **state)
{
    (void)state;
    struct ledger_key k;
    fx_key(0, &k);
    struct ledger_checkpoint cp = cp_at(10, 3);
    uint8_t b[LEDGER_CHECKPOINT_MAX];
    size_t n = enc(&cp, b);
    struct ledger_sig s;
    ledger_checkpoint_sign(&k, "n1", b, n, &s);
    assert_true(ledger_checkpoint_sig_valid(b, n, &s));
    for (int i = 0; i < LEDGER_SIG_BYTES; i++) {
        s.sig[i] ^= 0x01;
        assert_false(ledger_checkpoint_sig_valid(b, n, &s));
        s.sig[i] ^= 0x01;
    }
    b[n - 1] ^= 1; /* other bytes */
    assert_false(ledger_checkpoint_sig_valid(b, n, &s));
    b[n - 1] ^= 1;
    struct ledger_key other;
    fx_key(1, &other);
    memcpy(s.pubkey, other.pk, 32); /* claimed by another key */
    assert_false(ledger_checkpoint_sig_valid(b, n, &s));
}

static void test_entry_signature_is_not_a_checkpoint_signature(void **state)
{
    (void)state;
    struct ledger_key k;
    fx_key(0, &k);
    uint8_t hash[32];
    memset(hash, 9, sizeof(hash));
    struct ledger_sig s;
    ledger_entry_sign(&k, "n1", 5, 2, hash, &s);
    assert_true(ledger_entry_sig_valid(5, 2, hash, &s));
    assert_false(ledger_entry_sig_valid(5, 3, hash, &s));
    assert_false(ledger_entry_sig_valid(6, 2, hash, &s));
    uint8_t st[LEDGER_ENTRY_STATEMENT_BYTES];
    ledger_entry_statement(5, 2, hash, st);
    assert_false(ledger_checkpoint_sig_valid(st, sizeof(st), &s)); /* domain separation */
}

/* The pinned keys a test filled in, as the ledger takes them: read-only
 * (C11 converts a pointer to an array to one to a const array only by a
 * cast). */
static const uint8_t (*keys(uint8_t (*pinned)[32]))[32]
{
    return (const uint8_t(*)[32])pinned;
}

static void test_notarized_needs_a_majority_of_distinct_pinned_keys(void **state)
{
    (void)state;
    struct ledger_key k[NKEYS];
    uint8_t pinned[3][32];
    for (int i = 0; i < NKEYS; i++)
        fx_key(i, &k[i]);
    for (int i = 0; i < 3; i++)
        memcpy(pinned[i], k[i].pk, 32);
    struct ledger_checkpoint cp = cp_at(10, 3);
    uint8_t b[LEDGER_CHECKPOINT_MAX];
    size_t n = enc(&cp, b);
    struct ledger_sig s[4];
    ledger_checkpoint_sign(&k[0], "n1", b, n, &s[0]);
    ledger_checkpoint_sign(&k[0], "n1", b, n, &s[1]); /* the same key again */
    ledger_checkpoint_sign(&k[3], "n4", b, n, &s[2]); /* not pinned */
    assert_int_equal(ledger_checkpoint_signers(b, n, s, 3, keys(pinned), 3, NULL), 1);
    assert_false(ledger_checkpoint_notarized(b, n, s, 3, keys(pinned), 3, NULL));
    ledger_checkpoint_sign(&k[1], "n2", b, n, &s[3]);
    assert_int_equal(ledger_checkpoint_signers(b, n, s, 4, keys(pinned), 3, NULL), 2);
    assert_true(ledger_checkpoint_notarized(b, n, s, 4, keys(pinned), 3, NULL));
    s[3].sig[0] ^= 1; /* forged: does not count */
    assert_false(ledger_checkpoint_notarized(b, n, s, 4, keys(pinned), 3, NULL));
}

/* Three pinned keys, a checkpoint signed by the first two (s[0], s[1]) and
 * an empty memo. */
struct signed_cp {
    struct ledger_sig_memo memo;
    struct ledger_key k[NKEYS];
    uint8_t pinned[3][32];
    uint8_t b[LEDGER_CHECKPOINT_MAX];
    size_t n;
    struct ledger_sig s[3];
};

static void signed_cp(struct signed_cp *x)
{
    memset(x, 0, sizeof(*x));
    for (int i = 0; i < NKEYS; i++)
        fx_key(i, &x->k[i]);
    for (int i = 0; i < 3; i++)
        memcpy(x->pinned[i], x->k[i].pk, 32);
    struct ledger_checkpoint cp = cp_at(10, 3);
    x->n = enc(&cp, x->b);
    ledger_checkpoint_sign(&x->k[0], "n1", x->b, x->n, &x->s[0]);
    ledger_checkpoint_sign(&x->k[1], "n2", x->b, x->n, &x->s[1]);
}

/* Another checkpoint than signed_cp's, encoded. */
static size_t other_cp(uint8_t out[LEDGER_CHECKPOINT_MAX])
{
    struct ledger_checkpoint other = cp_at(11, 3);
    return enc(&other, out);
}

static void test_a_signature_counted_once_is_not_checked_again(void **state)
{
    (void)state;
    static struct signed_cp x;
    signed_cp(&x);
    assert_true(ledger_checkpoint_notarized(x.b, x.n, x.s, 2, keys(x.pinned), 3, &x.memo));
    assert_int_equal(x.memo.checks, 2);
    assert_true(ledger_checkpoint_notarized(x.b, x.n, x.s, 2, keys(x.pinned), 3, &x.memo));
    assert_int_equal(ledger_checkpoint_signers(x.b, x.n, x.s, 2, keys(x.pinned), 3, &x.memo), 2);
    assert_int_equal(x.memo.checks, 2);
    /* A third signature: only it is checked. */
    ledger_checkpoint_sign(&x.k[2], "n3", x.b, x.n, &x.s[2]);
    assert_int_equal(ledger_checkpoint_signers(x.b, x.n, x.s, 3, keys(x.pinned), 3, &x.memo), 3);
    assert_int_equal(x.memo.checks, 3);
}

static void test_a_forged_signature_is_refused_every_time_through_the_memo(void **state)
{
    (void)state;
    static struct signed_cp x;
    signed_cp(&x);
    assert_true(ledger_sig_memo_valid(&x.memo, x.b, x.n, &x.s[1]));
    struct ledger_sig forged = x.s[1]; /* the key found valid, another signature */
    forged.sig[5] ^= 1;
    for (int i = 0; i < 3; i++)
        assert_false(ledger_sig_memo_valid(&x.memo, x.b, x.n, &forged));
    assert_int_equal(x.memo.checks, 4);
    x.s[1] = forged;
    assert_false(ledger_checkpoint_notarized(x.b, x.n, x.s, 2, keys(x.pinned), 3, &x.memo));
}

static void test_a_signature_found_valid_for_other_bytes_is_checked_for_these(void **state)
{
    (void)state;
    static struct signed_cp x;
    signed_cp(&x);
    assert_true(ledger_checkpoint_notarized(x.b, x.n, x.s, 2, keys(x.pinned), 3, &x.memo));
    uint8_t ob[LEDGER_CHECKPOINT_MAX];
    size_t on = other_cp(ob);
    assert_false(ledger_checkpoint_notarized(ob, on, x.s, 2, keys(x.pinned), 3, &x.memo));
    assert_int_equal(x.memo.checks, 4);
}

static void test_a_vouched_signature_counts_without_a_check(void **state)
{
    (void)state;
    static struct signed_cp x;
    signed_cp(&x);
    ledger_sig_memo_vouch(&x.memo, x.b, x.n, &x.s[0]);
    ledger_sig_memo_vouch(&x.memo, x.b, x.n, &x.s[1]);
    assert_true(ledger_checkpoint_notarized(x.b, x.n, x.s, 2, keys(x.pinned), 3, &x.memo));
    assert_int_equal(x.memo.checks, 0);
    /* Vouched for other bytes, it is checked for these. */
    uint8_t ob[LEDGER_CHECKPOINT_MAX];
    size_t on = other_cp(ob);
    ledger_sig_memo_vouch(&x.memo, ob, on, &x.s[0]);
    assert_true(ledger_sig_memo_valid(&x.memo, x.b, x.n, &x.s[0]));
    assert_int_equal(x.memo.checks, 1);
}

static void test_two_checkpoints_for_one_index_are_equivocation(void **state)
{
    (void)state;
    struct ledger_key k;
    fx_key(0, &k);
    struct ledger_checkpoint c1 = cp_at(10, 1), c2 = cp_at(10, 2);
    uint8_t b1[LEDGER_CHECKPOINT_MAX], b2[LEDGER_CHECKPOINT_MAX];
    size_t n1 = enc(&c1, b1), n2 = enc(&c2, b2);
    struct ledger_sig s1, s2;
    ledger_checkpoint_sign(&k, "n1", b1, n1, &s1);
    ledger_checkpoint_sign(&k, "n1", b2, n2, &s2);
    struct ledger_statement a, b;
    assert_int_equal(ledger_statement_checkpoint(b1, n1, &s1, &a), LEDGER_OK);
    assert_int_equal(ledger_statement_checkpoint(b2, n2, &s2, &b), LEDGER_OK);
    struct ledger_evidence ev;
    assert_true(ledger_equivocation(&a, &b, &ev));
    assert_int_equal(ev.index, 10);
    assert_int_equal(ev.kind, LEDGER_STMT_CHECKPOINT);
    assert_true(ledger_evidence_valid(&ev));
    ev.b.sig.sig[3] ^= 1;
    assert_false(ledger_evidence_valid(&ev));
}

static void test_agreeing_or_forged_checkpoints_are_not_equivocation(void **state)
{
    (void)state;
    struct ledger_key k;
    fx_key(0, &k);
    struct ledger_checkpoint c1 = cp_at(10, 1), c2 = cp_at(10, 1), c3 = cp_at(11, 2);
    c2.term = 5; /* same head hash, another term: not a fork */
    uint8_t b1[LEDGER_CHECKPOINT_MAX], b2[LEDGER_CHECKPOINT_MAX], b3[LEDGER_CHECKPOINT_MAX];
    size_t n1 = enc(&c1, b1), n2 = enc(&c2, b2), n3 = enc(&c3, b3);
    struct ledger_sig s1, s2, s3;
    ledger_checkpoint_sign(&k, "n1", b1, n1, &s1);
    ledger_checkpoint_sign(&k, "n1", b2, n2, &s2);
    ledger_checkpoint_sign(&k, "n1", b3, n3, &s3);
    struct ledger_statement a, b, c;
    ledger_statement_checkpoint(b1, n1, &s1, &a);
    ledger_statement_checkpoint(b2, n2, &s2, &b);
    ledger_statement_checkpoint(b3, n3, &s3, &c);
    assert_false(ledger_equivocation(&a, &b, NULL));
    assert_false(ledger_equivocation(&a, &c, NULL)); /* different indexes */
    struct ledger_checkpoint c4 = cp_at(10, 9);
    uint8_t b4[LEDGER_CHECKPOINT_MAX];
    size_t n4 = enc(&c4, b4);
    struct ledger_sig s4 = s1; /* a signature of other bytes */
    struct ledger_statement d;
    ledger_statement_checkpoint(b4, n4, &s4, &d);
    assert_false(ledger_equivocation(&a, &d, NULL));
}

static void test_entry_equivocation_needs_same_term_and_key(void **state)
{
    (void)state;
    struct ledger_key k, o;
    fx_key(0, &k);
    fx_key(1, &o);
    uint8_t h1[32], h2[32];
    memset(h1, 1, 32);
    memset(h2, 2, 32);
    struct ledger_sig s1, s2, s3, s4;
    ledger_entry_sign(&k, "n1", 7, 3, h1, &s1);
    ledger_entry_sign(&k, "n1", 7, 3, h2, &s2);
    ledger_entry_sign(&k, "n1", 7, 4, h2, &s3); /* a later term may replace it */
    ledger_entry_sign(&o, "n2", 7, 3, h2, &s4); /* another key */
    struct ledger_statement a, b, c, d;
    ledger_statement_entry(7, 3, h1, &s1, &a);
    ledger_statement_entry(7, 3, h2, &s2, &b);
    ledger_statement_entry(7, 4, h2, &s3, &c);
    ledger_statement_entry(7, 3, h2, &s4, &d);
    struct ledger_evidence ev;
    assert_true(ledger_equivocation(&a, &b, &ev));
    assert_true(ledger_evidence_valid(&ev));
    assert_false(ledger_equivocation(&a, &c, NULL));
    assert_false(ledger_equivocation(&a, &d, NULL));
    assert_false(ledger_equivocation(&a, &a, NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_is_created_0600_and_loaded_again),
        cmocka_unit_test(test_key_readable_by_others_is_refused),
        cmocka_unit_test(test_malformed_key_file_is_refused_not_replaced),
        cmocka_unit_test(test_key_in_missing_directory_is_an_error),
        cmocka_unit_test(test_checkpoint_round_trip_and_every_truncation),
        cmocka_unit_test(test_checkpoint_with_longest_origin_fits_the_bound),
        cmocka_unit_test(test_checkpoint_signature_verifies_and_forgeries_do_not),
        cmocka_unit_test(test_entry_signature_is_not_a_checkpoint_signature),
        cmocka_unit_test(test_notarized_needs_a_majority_of_distinct_pinned_keys),
        cmocka_unit_test(test_a_signature_counted_once_is_not_checked_again),
        cmocka_unit_test(test_a_forged_signature_is_refused_every_time_through_the_memo),
        cmocka_unit_test(test_a_signature_found_valid_for_other_bytes_is_checked_for_these),
        cmocka_unit_test(test_a_vouched_signature_counts_without_a_check),
        cmocka_unit_test(test_two_checkpoints_for_one_index_are_equivocation),
        cmocka_unit_test(test_agreeing_or_forged_checkpoints_are_not_equivocation),
        cmocka_unit_test(test_entry_equivocation_needs_same_term_and_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
