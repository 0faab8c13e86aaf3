/* Entry codec and hash: round trips, the exact bytes, what encode refuses,
 * and the membership payload. Hostile input is in test_ledger_entry_hostile.c. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sodium.h>
#include <string.h>

#include "ledger/ledger.h"

static const uint8_t payload[] = {0x82, 0xa1, 'k', 0x01, 0xa1, 'v', 0x92, 0xc3, 0xc0};

static struct ledger_entry sample(void)
{
    struct ledger_entry e = {
        .index = 300,
        .term = 70000,
        .type = LEDGER_ENTRY_NOTE,
        .timestamp_ms = 1700000000123ull,
        .author = "node-1",
        .payload = payload,
        .payload_len = sizeof(payload),
    };
    for (int i = 0; i < LEDGER_HASH_BYTES; i++)
        e.prev_hash[i] = (uint8_t)i;
    return e;
}

static void test_round_trip_keeps_every_field(void **state)
{
    (void)state;
    struct ledger_entry e = sample(), d;
    uint8_t buf[256];
    size_t n;
    assert_int_equal(ledger_entry_encode(&e, buf, sizeof(buf), &n), LEDGER_OK);
    assert_int_equal(ledger_entry_decode(buf, n, &d, NULL), LEDGER_OK);
    assert_true(d.index == e.index && d.term == e.term && d.type == e.type);
    assert_true(d.timestamp_ms == e.timestamp_ms);
    assert_string_equal(d.author, "node-1");
    assert_int_equal(d.payload_len, sizeof(payload));
    assert_memory_equal(d.payload, payload, sizeof(payload));
    assert_memory_equal(d.prev_hash, e.prev_hash, LEDGER_HASH_BYTES);
    assert_ptr_equal(d.payload, buf + (n - 34 - sizeof(payload))); /* points into the bytes */
}

static void test_encoding_is_the_documented_array(void **state)
{
    (void)state;
    struct ledger_entry e = sample();
    uint8_t buf[256];
    size_t n;
    assert_int_equal(ledger_entry_encode(&e, buf, sizeof(buf), &n), LEDGER_OK);
    const uint8_t head[] = {0x97, 0xcd, 0x01, 0x2c, 0xce, 0x00, 0x01, 0x11,           0x70, 0x05,
                            0xcf, 0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x68,           0x7b, 0xa6,
                            'n',  'o',  'd',  'e',  '-',  '1',  0xc4, sizeof(payload)};
    assert_memory_equal(buf, head, sizeof(head));
    assert_int_equal(buf[n - 34], 0xc4);
    assert_int_equal(buf[n - 33], 32);
    assert_int_equal(n, sizeof(head) + sizeof(payload) + 34);
    assert_int_equal(ledger_entry_encoded_len(&e), n);
}

static void test_peek_type_reads_the_type_of_an_entry_and_refuses_what_is_not_one(void **state)
{
    (void)state;
    struct ledger_entry e = sample();
    e.type = LEDGER_ENTRY_ROLLBACK;
    uint8_t buf[256];
    size_t n;
    uint32_t type = 0;
    assert_int_equal(ledger_entry_encode(&e, buf, sizeof(buf), &n), LEDGER_OK);
    assert_int_equal(ledger_entry_peek_type(buf, n, &type), LEDGER_OK);
    assert_int_equal(type, LEDGER_ENTRY_ROLLBACK);
    assert_int_equal(ledger_entry_peek_type(buf, 0, &type), LEDGER_EMALFORMED);
    assert_int_equal(ledger_entry_peek_type(buf, 4, &type), LEDGER_EMALFORMED); /* cut in term */
    buf[0] = 0x96;                                                              /* six fields */
    assert_int_equal(ledger_entry_peek_type(buf, n, &type), LEDGER_EMALFORMED);
}

static void test_hash_is_blake2b_of_tag_prev_and_bytes(void **state)
{
    (void)state;
    struct ledger_entry e = sample();
    uint8_t buf[256], h[32], want[32], in[512];
    size_t n, k = 0;
    assert_int_equal(ledger_entry_encode(&e, buf, sizeof(buf), &n), LEDGER_OK);
    ledger_entry_hash(e.prev_hash, buf, n, h);
    memcpy(in, "chimera/ledger/entry/v1", 23);
    k = 23;
    memcpy(in + k, e.prev_hash, 32);
    k += 32;
    memcpy(in + k, buf, n);
    k += n;
    crypto_generichash(want, 32, in, k, NULL, 0);
    assert_memory_equal(h, want, 32);
}

static void test_hash_depends_on_prev_hash_and_every_byte(void **state)
{
    (void)state;
    struct ledger_entry e = sample();
    uint8_t buf[256], h[32], h2[32], prev[32];
    size_t n;
    assert_int_equal(ledger_entry_encode(&e, buf, sizeof(buf), &n), LEDGER_OK);
    ledger_entry_hash(e.prev_hash, buf, n, h);
    memcpy(prev, e.prev_hash, 32);
    prev[5] ^= 1;
    ledger_entry_hash(prev, buf, n, h2);
    assert_memory_not_equal(h, h2, 32);
    for (size_t i = 0; i < n; i++) {
        buf[i] ^= 0x40;
        ledger_entry_hash(e.prev_hash, buf, n, h2);
        assert_memory_not_equal(h, h2, 32);
        buf[i] ^= 0x40;
    }
}

static void test_non_canonical_integers_decode_and_hash_as_stored(void **state)
{
    (void)state;
    /* index 1 as uint64, term 1 as int8, type 5 as uint16: another encoder's
     * bytes are taken as they are, and hashed as they are. */
    uint8_t b[64] = {0x97, 0xcf, 0,    0,    0,    0,   0,   0,    0,    1,    0xd0, 0x01,
                     0xcd, 0x00, 0x05, 0x00, 0xa2, 'n', '1', 0xc4, 0x01, 0xc0, 0xc4, 0x20};
    size_t n = 24 + 32;
    struct ledger_entry d;
    assert_int_equal(ledger_entry_decode(b, n, &d, NULL), LEDGER_OK);
    assert_true(d.index == 1 && d.term == 1 && d.type == 5);
    uint8_t canon[64], h1[32], h2[32];
    size_t cn;
    assert_int_equal(ledger_entry_encode(&d, canon, sizeof(canon), &cn), LEDGER_OK);
    assert_true(cn < n);
    ledger_entry_hash(d.prev_hash, b, n, h1);
    ledger_entry_hash(d.prev_hash, canon, cn, h2);
    assert_memory_not_equal(h1, h2, 32); /* which is why nothing is re-encoded */
}

static void test_encode_refuses_zero_index_term_or_type(void **state)
{
    (void)state;
    uint8_t buf[256];
    size_t n;
    struct ledger_entry e = sample();
    e.index = 0;
    assert_int_equal(ledger_entry_encode(&e, buf, sizeof(buf), &n), LEDGER_EINVAL);
    e = sample();
    e.term = 0;
    assert_int_equal(ledger_entry_encode(&e, buf, sizeof(buf), &n), LEDGER_EINVAL);
    e = sample();
    e.type = 0;
    assert_int_equal(ledger_entry_encode(&e, buf, sizeof(buf), &n), LEDGER_EINVAL);
}

static void test_encode_refuses_a_bad_author(void **state)
{
    (void)state;
    uint8_t buf[256];
    size_t n;
    const char *bad[] = {"", "-lead", "has space", "a/b", "x\n"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct ledger_entry e = sample();
        snprintf(e.author, sizeof(e.author), "%s", bad[i]);
        assert_int_equal(ledger_entry_encode(&e, buf, sizeof(buf), &n), LEDGER_EINVAL);
    }
    struct ledger_entry e = sample();
    memset(e.author, 'a', sizeof(e.author)); /* no NUL within 64 */
    assert_int_equal(ledger_entry_encode(&e, buf, sizeof(buf), &n), LEDGER_EINVAL);
}

static void test_encode_refuses_a_payload_that_is_not_one_object(void **state)
{
    (void)state;
    uint8_t buf[256];
    size_t n;
    const uint8_t two[] = {0x01, 0x02}, cut[] = {0x92, 0x01}, none[] = {0xc1};
    const uint8_t *bad[] = {two, cut, none};
    size_t len[] = {2, 2, 1};
    for (int i = 0; i < 3; i++) {
        struct ledger_entry e = sample();
        e.payload = bad[i];
        e.payload_len = len[i];
        assert_int_equal(ledger_entry_encode(&e, buf, sizeof(buf), &n), LEDGER_EINVAL);
    }
    struct ledger_entry e = sample();
    e.payload_len = 0;
    assert_int_equal(ledger_entry_encode(&e, buf, sizeof(buf), &n), LEDGER_EINVAL);
}

static void test_encode_refuses_too_small_a_buffer_without_writing(void **state)
{
    (void)state;
    struct ledger_entry e = sample();
    uint8_t buf[256];
    size_t n, need = ledger_entry_encoded_len(&e);
    memset(buf, 0x5a, sizeof(buf));
    assert_int_equal(ledger_entry_encode(&e, buf, need - 1, &n), LEDGER_ETOOBIG);
    for (size_t i = 0; i < sizeof(buf); i++)
        assert_int_equal(buf[i], 0x5a);
}

static void test_unknown_types_decode_for_forward_compatibility(void **state)
{
    (void)state;
    struct ledger_entry e = sample(), d;
    uint8_t buf[256];
    size_t n;
    e.type = 4000000000u;
    assert_int_equal(ledger_entry_encode(&e, buf, sizeof(buf), &n), LEDGER_OK);
    assert_int_equal(ledger_entry_decode(buf, n, &d, NULL), LEDGER_OK);
    assert_int_equal(d.type, 4000000000u);
    assert_string_equal(ledger_entry_type_name(d.type), "unknown");
    assert_string_equal(ledger_entry_type_name(LEDGER_ENTRY_READ_ONLY_ENTER), "read_only_enter");
}

static void test_membership_round_trip(void **state)
{
    (void)state;
    struct ledger_membership m = {.op = LEDGER_MEMBER_ADD, .node = "node-7"}, d;
    uint8_t p[LEDGER_MEMBERSHIP_MAX];
    size_t n;
    memset(m.pubkey, 0xab, sizeof(m.pubkey));
    assert_int_equal(ledger_membership_encode(&m, p, &n), LEDGER_OK);
    assert_int_equal(ledger_membership_decode(p, n, &d), LEDGER_OK);
    assert_int_equal(d.op, LEDGER_MEMBER_ADD);
    assert_string_equal(d.node, "node-7");
    assert_memory_equal(d.pubkey, m.pubkey, 32);
    for (size_t cut = 0; cut < n; cut++)
        assert_int_equal(ledger_membership_decode(p, cut, &d), LEDGER_EMALFORMED);
}

static void test_membership_ignores_extra_fields_but_not_bad_ops(void **state)
{
    (void)state;
    struct ledger_membership m = {.op = LEDGER_MEMBER_REMOVE, .node = "n2"}, d;
    uint8_t p[LEDGER_MEMBERSHIP_MAX + 8];
    size_t n;
    assert_int_equal(ledger_membership_encode(&m, p, &n), LEDGER_OK);
    p[0] = 0x95; /* two more elements: a map and nil */
    p[n] = 0x81, p[n + 1] = 0x01, p[n + 2] = 0x02, p[n + 3] = 0xc0;
    assert_int_equal(ledger_membership_decode(p, n + 4, &d), LEDGER_OK);
    p[0] = 0x93;
    p[1] = 0x03; /* op 3 */
    assert_int_equal(ledger_membership_decode(p, n, &d), LEDGER_EMALFORMED);
    m.op = 9;
    assert_int_equal(ledger_membership_encode(&m, p, &n), LEDGER_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_keeps_every_field),
        cmocka_unit_test(test_encoding_is_the_documented_array),
        cmocka_unit_test(test_peek_type_reads_the_type_of_an_entry_and_refuses_what_is_not_one),
        cmocka_unit_test(test_hash_is_blake2b_of_tag_prev_and_bytes),
        cmocka_unit_test(test_hash_depends_on_prev_hash_and_every_byte),
        cmocka_unit_test(test_non_canonical_integers_decode_and_hash_as_stored),
        cmocka_unit_test(test_encode_refuses_zero_index_term_or_type),
        cmocka_unit_test(test_encode_refuses_a_bad_author),
        cmocka_unit_test(test_encode_refuses_a_payload_that_is_not_one_object),
        cmocka_unit_test(test_encode_refuses_too_small_a_buffer_without_writing),
        cmocka_unit_test(test_unknown_types_decode_for_forward_compatibility),
        cmocka_unit_test(test_membership_round_trip),
        cmocka_unit_test(test_membership_ignores_extra_fields_but_not_bad_ops),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
