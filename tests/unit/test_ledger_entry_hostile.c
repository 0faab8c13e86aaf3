/* The entry decoder against hostile bytes: every truncation, trailing
 * bytes, a wrong type in each field, counts and lengths far beyond the
 * buffer, nesting beyond the limit, and random garbage. Nothing may crash,
 * allocate by a length it was given, or be accepted. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "ledger/ledger.h"

static size_t good(uint8_t *buf, size_t cap)
{
    static const uint8_t payload[] = {0x91, 0xa2, 'h', 'i'};
    struct ledger_entry e = {.index = 1000,
                             .term = 3,
                             .type = LEDGER_ENTRY_NOTE,
                             .timestamp_ms = 5,
                             .author = "n1",
                             .payload = payload,
                             .payload_len = sizeof(payload)};
    size_t n;
    assert_int_equal(ledger_entry_encode(&e, buf, cap, &n), LEDGER_OK);
    return n;
}

static enum ledger_error decode(const uint8_t *b, size_t n, const char **why)
{
    struct ledger_entry d;
    return ledger_entry_decode(b, n, &d, why);
}

static void test_every_truncation_is_refused(void **state)
{
    (void)state;
    uint8_t buf[128];
    size_t n = good(buf, sizeof(buf));
    for (size_t cut = 0; cut < n; cut++) {
        /* A copy of exactly cut bytes, so ASan sees any read past it. */
        uint8_t *p = malloc(cut ? cut : 1);
        memcpy(p, buf, cut);
        assert_int_equal(decode(p, cut, NULL), LEDGER_EMALFORMED);
        free(p);
    }
}

static void test_trailing_bytes_are_refused(void **state)
{
    (void)state;
    uint8_t buf[128];
    size_t n = good(buf, sizeof(buf));
    const char *why;
    buf[n] = 0xc0;
    assert_int_equal(decode(buf, n + 1, &why), LEDGER_EMALFORMED);
    assert_string_equal(why, "bytes after the entry");
}

static void test_wrong_array_length_is_refused(void **state)
{
    (void)state;
    uint8_t buf[128];
    size_t n = good(buf, sizeof(buf));
    buf[0] = 0x96;
    assert_int_equal(decode(buf, n, NULL), LEDGER_EMALFORMED);
    buf[0] = 0x98;
    assert_int_equal(decode(buf, n, NULL), LEDGER_EMALFORMED);
    buf[0] = 0x87; /* a map of 7 */
    assert_int_equal(decode(buf, n, NULL), LEDGER_EMALFORMED);
}

/* Replaces field k (0-based) of the good entry by the given bytes. */
static size_t with_field(uint8_t *out, int k, const uint8_t *field, size_t flen)
{
    static const uint8_t prev[34] = {0xc4, 0x20};
    const uint8_t *fields[7] = {(const uint8_t *)"\xcd\x03\xe8",
                                (const uint8_t *)"\x03",
                                (const uint8_t *)"\x05",
                                (const uint8_t *)"\x05",
                                (const uint8_t *)"\xa2n1",
                                (const uint8_t *)"\xc4\x04\x91\xa2hi",
                                prev};
    size_t lens[7] = {3, 1, 1, 1, 3, 6, 34};
    size_t n = 0;
    out[n++] = 0x97;
    for (int i = 0; i < 7; i++) {
        const uint8_t *f = i == k ? field : fields[i];
        size_t fl = i == k ? flen : lens[i];
        memcpy(out + n, f, fl);
        n += fl;
    }
    return n;
}

static void test_with_field_rebuilds_the_good_entry(void **state)
{
    (void)state;
    uint8_t a[128], b[128];
    size_t n = good(a, sizeof(a));
    assert_int_equal(with_field(b, 1, (const uint8_t *)"\x03", 1), n);
    assert_memory_equal(a, b, n);
}

static void test_a_wrong_type_in_each_field_is_refused(void **state)
{
    (void)state;
    struct {
        int field;
        const char *bytes;
        size_t len;
    } cases[] = {
        {0, "\xa1x", 2},
        {0, "\xff", 1},
        {0, "\x00", 1},                     /* index: str, -1, 0 */
        {0, "\xcb\x3f\xf0\0\0\0\0\0\0", 9}, /* index: float 1.0 */
        {1, "\xc0", 1},
        {1, "\xd0\xff", 2},
        {1, "\x00", 1}, /* term: nil, -1, 0 */
        {2, "\xc3", 1},
        {2, "\xcf\0\0\0\1\0\0\0\0", 9}, /* type: true, 2^32 */
        {2, "\x00", 1},                 /* type 0 */
        {3, "\x90", 1},                 /* timestamp: [] */
        {4, "\xc4\x02n1", 4},
        {4, "\xa0", 1},
        {4, "\xa3n 1", 4}, /* author */
        {5, "\xa4\x91\xa2hi", 5},
        {5, "\xc4\x00", 2},
        {5, "\xc4\x01\xc1", 3},     /* payload */
        {5, "\xc4\x02\x01\x02", 4}, /* two objects */
        {6, "\xc4\x1f", 2},
        {6, "\xc0", 1}, /* prev_hash */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint8_t buf[160];
        size_t n = with_field(buf, cases[i].field, (const uint8_t *)cases[i].bytes, cases[i].len);
        if (cases[i].field == 6 && cases[i].len == 2) {
            memset(buf + n, 0, 31);
            n += 31;
        }
        const char *why = NULL;
        if (decode(buf, n, &why) != LEDGER_EMALFORMED)
            fail_msg("case %zu (field %d) was accepted", i, cases[i].field);
        assert_non_null(why);
    }
}

static void test_huge_counts_and_lengths_are_refused_before_use(void **state)
{
    (void)state;
    const char *cases[] = {
        "\xdd\xff\xff\xff\xff", /* array32 of 4 billion */
        "\xdc\xff\xff",         /* array16 of 65535 */
    };
    for (size_t i = 0; i < 2; i++)
        assert_int_equal(decode((const uint8_t *)cases[i], strlen(cases[i]), NULL),
                         LEDGER_EMALFORMED);
    /* A good prefix, then a bin32, str32 or str8 claiming far more than is there. */
    const struct {
        int field;
        const char *b;
        size_t n;
    } big[] = {
        {5, "\xc6\xff\xff\xff\xff", 5},   {5, "\xc6\x7f\xff\xff\xff\x00", 6},
        {4, "\xdb\xff\xff\xff\xf0n1", 7}, {4, "\xd9\xffn1", 4},
        {6, "\xc5\xff\xff", 3},
    };
    for (size_t i = 0; i < sizeof(big) / sizeof(big[0]); i++) {
        uint8_t buf[160];
        size_t n = with_field(buf, big[i].field, (const uint8_t *)big[i].b, big[i].n);
        assert_int_equal(decode(buf, n, NULL), LEDGER_EMALFORMED);
    }
}

static void test_payload_nesting_beyond_the_limit_is_refused(void **state)
{
    (void)state;
    uint8_t field[64], buf[160];
    for (int depth = 1; depth <= LEDGER_MAX_DEPTH + 2; depth++) {
        size_t k = 0;
        field[k++] = 0xc4;
        field[k++] = (uint8_t)(depth + 1);
        for (int i = 0; i < depth; i++)
            field[k++] = 0x91;
        field[k++] = 0xc0;
        size_t n = with_field(buf, 5, field, k);
        assert_int_equal(decode(buf, n, NULL),
                         depth <= LEDGER_MAX_DEPTH ? LEDGER_OK : LEDGER_EMALFORMED);
    }
}

static void test_payload_container_counts_beyond_its_bytes_are_refused(void **state)
{
    (void)state;
    const char *bad[] = {"\xc4\x05\xdd\x7f\xff\xff\xff", "\xc4\x03\xdf\x00\xff", "\xc4\x01\x9f"};
    size_t lens[] = {7, 5, 3};
    for (int i = 0; i < 3; i++) {
        uint8_t buf[160];
        size_t n = with_field(buf, 5, (const uint8_t *)bad[i], lens[i]);
        assert_int_equal(decode(buf, n, NULL), LEDGER_EMALFORMED);
    }
}

static void test_oversized_input_is_refused_without_parsing(void **state)
{
    (void)state;
    size_t n = LEDGER_MAX_ENTRY + 1;
    uint8_t *p = calloc(1, n);
    const char *why;
    assert_non_null(p);
    assert_int_equal(decode(p, n, &why), LEDGER_EMALFORMED);
    assert_non_null(strstr(why, "limit"));
    free(p);
    assert_int_equal(decode(NULL, 0, NULL), LEDGER_EMALFORMED);
}

static void test_random_mutations_never_crash(void **state)
{
    (void)state;
    uint8_t orig[128], buf[128];
    size_t n = good(orig, sizeof(orig));
    uint32_t x = 42;
    for (int round = 0; round < 200000; round++) {
        memcpy(buf, orig, n);
        int edits = 1 + round % 4;
        for (int e = 0; e < edits; e++) {
            x = x * 1664525u + 1013904223u;
            buf[(x >> 8) % n] = (uint8_t)(x >> 24);
        }
        x = x * 1664525u + 1013904223u;
        size_t len = round % 3 == 0 ? (x >> 8) % (n + 1) : n;
        struct ledger_entry d;
        if (ledger_entry_decode(buf, len, &d, NULL) == LEDGER_OK) {
            /* Whatever passes is a well-formed entry. */
            assert_true(d.index > 0 && d.term > 0 && d.type > 0);
            assert_true(strlen(d.author) > 0 && strlen(d.author) < LEDGER_ID_MAX);
            assert_true(d.payload >= buf && d.payload + d.payload_len <= buf + len);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_truncation_is_refused),
        cmocka_unit_test(test_trailing_bytes_are_refused),
        cmocka_unit_test(test_wrong_array_length_is_refused),
        cmocka_unit_test(test_with_field_rebuilds_the_good_entry),
        cmocka_unit_test(test_a_wrong_type_in_each_field_is_refused),
        cmocka_unit_test(test_huge_counts_and_lengths_are_refused_before_use),
        cmocka_unit_test(test_payload_nesting_beyond_the_limit_is_refused),
        cmocka_unit_test(test_payload_container_counts_beyond_its_bytes_are_refused),
        cmocka_unit_test(test_oversized_input_is_refused_without_parsing),
        cmocka_unit_test(test_random_mutations_never_crash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
