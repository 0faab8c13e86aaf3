/* CRC32C: the standard check value, the iSCSI (RFC 3720) vectors, and the
 * slicing-by-8 path agreeing with the byte-at-a-time path at every
 * alignment and length. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "ledger/base.h"

static void test_check_value_of_123456789(void **state)
{
    (void)state;
    assert_int_equal(ledger_crc32c(0, "123456789", 9), 0xE3069283u);
}

static void test_empty_input_is_zero(void **state)
{
    (void)state;
    assert_int_equal(ledger_crc32c(0, "", 0), 0);
}

static void test_rfc3720_vectors(void **state)
{
    (void)state;
    uint8_t buf[32];
    memset(buf, 0, sizeof(buf));
    assert_int_equal(ledger_crc32c(0, buf, 32), 0x8A9136AAu);
    memset(buf, 0xff, sizeof(buf));
    assert_int_equal(ledger_crc32c(0, buf, 32), 0x62A8AB43u);
    for (int i = 0; i < 32; i++)
        buf[i] = (uint8_t)i;
    assert_int_equal(ledger_crc32c(0, buf, 32), 0x46DD794Eu);
    for (int i = 0; i < 32; i++)
        buf[i] = (uint8_t)(31 - i);
    assert_int_equal(ledger_crc32c(0, buf, 32), 0x113FDB5Cu);
}

/* The reference: one bit at a time, straight from the definition. */
static uint32_t bitwise(const uint8_t *p, size_t n)
{
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1u)));
    }
    return ~c;
}

static void test_matches_bitwise_at_every_alignment_and_length(void **state)
{
    (void)state;
    uint8_t buf[300];
    uint32_t x = 12345;
    for (size_t i = 0; i < sizeof(buf); i++) {
        x = x * 1103515245u + 12345u;
        buf[i] = (uint8_t)(x >> 16);
    }
    for (size_t start = 0; start < 16; start++)
        for (size_t len = 0; start + len <= sizeof(buf); len += 7)
            assert_int_equal(ledger_crc32c(0, buf + start, len), bitwise(buf + start, len));
}

static void test_incremental_equals_one_shot(void **state)
{
    (void)state;
    const char *s = "the quick brown fox jumps over the lazy dog, twice over";
    size_t n = strlen(s);
    uint32_t whole = ledger_crc32c(0, s, n);
    for (size_t cut = 0; cut <= n; cut++)
        assert_int_equal(ledger_crc32c(ledger_crc32c(0, s, cut), s + cut, n - cut), whole);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check_value_of_123456789),
        cmocka_unit_test(test_empty_input_is_zero),
        cmocka_unit_test(test_rfc3720_vectors),
        cmocka_unit_test(test_matches_bitwise_at_every_alignment_and_length),
        cmocka_unit_test(test_incremental_equals_one_shot),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
