/* env_open on authentic but hostile plaintexts: what a holder of the
 * cluster key (or a bug in a peer) could send. Each plaintext is sealed
 * directly with crypto_secretbox so it bypasses env_seal's own checks. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "node/base/envelope.h"

static const uint8_t key[ENV_KEY_BYTES] = "0123456789abcdef0123456789abcdef";

/* [1, 1, "a", 5, ...]: a valid header waiting for its body. */
#define HDR 0x95, 0x01, 0x01, 0xa1, 'a', 0x05

struct bytes {
    uint8_t b[512];
    size_t n;
};

static void put(struct bytes *s, const void *p, size_t len)
{
    assert_true(s->n + len <= sizeof(s->b));
    memcpy(s->b + s->n, p, len);
    s->n += len;
}

static void put_byte(struct bytes *s, uint8_t v)
{
    put(s, &v, 1);
}

/* Seals plain as it is, with a fresh nonce, and opens it. */
static enum env_error open_plain(const void *plain, size_t len, struct env_msg *msg)
{
    size_t n = crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + len;
    uint8_t *wire = malloc(n);
    assert_non_null(wire);
    assert_true(sodium_init() >= 0);
    randombytes_buf(wire, crypto_secretbox_NONCEBYTES);
    assert_int_equal(
        crypto_secretbox_easy(wire + crypto_secretbox_NONCEBYTES, plain, len, wire, key), 0);
    memset(msg, 0xa5, sizeof(*msg));
    enum env_error err = env_open(key, wire, n, msg);
    free(wire);
    return err;
}

/* Opening plain fails with want and leaves msg zeroed. */
static void expect(const void *plain, size_t len, enum env_error want)
{
    struct env_msg msg;
    enum env_error got = open_plain(plain, len, &msg);
    if (got != want)
        fail_msg("got %s, want %s", env_strerror(got), env_strerror(want));
    assert_null(msg.zone);
    assert_int_equal(msg.type, 0);
    assert_int_equal(msg.from[0], '\0');
    env_msg_free(&msg);
}

static void expect_ok(const void *plain, size_t len)
{
    struct env_msg msg;
    enum env_error got = open_plain(plain, len, &msg);
    if (got != ENV_OK)
        fail_msg("got %s, want ok", env_strerror(got));
    env_msg_free(&msg);
}

static void test_minimal_valid_plaintext_opens(void **state)
{
    (void)state;
    static const uint8_t p[] = {HDR, 0xc0};
    expect_ok(p, sizeof(p));
}

static void test_not_an_array_is_eshape(void **state)
{
    (void)state;
    expect("\x01", 1, ENV_ESHAPE);
    expect("\x81\x01\x02", 3, ENV_ESHAPE); /* {1: 2} */
    expect("\x90", 1, ENV_ESHAPE);         /* [] */
}

static void test_array_of_four_is_eshape(void **state)
{
    (void)state;
    static const uint8_t p[] = {0x94, 0x01, 0x01, 0xa1, 'a', 0x05};
    expect(p, sizeof(p), ENV_ESHAPE);
}

static void test_array_of_six_is_eshape(void **state)
{
    (void)state;
    static const uint8_t p[] = {0x96, 0x01, 0x01, 0xa1, 'a', 0x05, 0xc0, 0xc0};
    expect(p, sizeof(p), ENV_ESHAPE);
}

static void test_version_not_uint_is_eshape(void **state)
{
    (void)state;
    static const uint8_t str[] = {0x95, 0xa1, '1', 0x01, 0xa1, 'a', 0x05, 0xc0};
    static const uint8_t neg[] = {0x95, 0xff, 0x01, 0xa1, 'a', 0x05, 0xc0};
    static const uint8_t flt[] = {0x95, 0xca, 0x3f, 0x80, 0, 0, 0x01, 0xa1, 'a', 0x05, 0xc0};
    expect(str, sizeof(str), ENV_ESHAPE);
    expect(neg, sizeof(neg), ENV_ESHAPE);
    expect(flt, sizeof(flt), ENV_ESHAPE);
}

static void test_type_not_uint_is_eshape(void **state)
{
    (void)state;
    static const uint8_t str[] = {0x95, 0x01, 0xa1, '1', 0xa1, 'a', 0x05, 0xc0};
    static const uint8_t neg[] = {0x95, 0x01, 0xff, 0xa1, 'a', 0x05, 0xc0};
    expect(str, sizeof(str), ENV_ESHAPE);
    expect(neg, sizeof(neg), ENV_ESHAPE);
}

static void test_from_not_str_is_eshape(void **state)
{
    (void)state;
    static const uint8_t uint[] = {0x95, 0x01, 0x01, 0x07, 0x05, 0xc0};
    static const uint8_t bin[] = {0x95, 0x01, 0x01, 0xc4, 0x01, 'a', 0x05, 0xc0};
    expect(uint, sizeof(uint), ENV_ESHAPE);
    expect(bin, sizeof(bin), ENV_ESHAPE);
}

static void test_counter_not_uint_is_eshape(void **state)
{
    (void)state;
    static const uint8_t str[] = {0x95, 0x01, 0x01, 0xa1, 'a', 0xa1, '5', 0xc0};
    static const uint8_t neg[] = {0x95, 0x01, 0x01, 0xa1, 'a', 0xd3, 0x80, 0,
                                  0,    0,    0,    0,    0,   0,    0xc0};
    expect(str, sizeof(str), ENV_ESHAPE);
    expect(neg, sizeof(neg), ENV_ESHAPE);
}

static void test_counter_zero_is_eshape(void **state)
{
    (void)state;
    static const uint8_t p[] = {0x95, 0x01, 0x01, 0xa1, 'a', 0x00, 0xc0};
    expect(p, sizeof(p), ENV_ESHAPE);
}

static void test_version_two_is_eversion(void **state)
{
    (void)state;
    static const uint8_t p[] = {0x95, 0x02, 0x01, 0xa1, 'a', 0x05, 0xc0};
    expect(p, sizeof(p), ENV_EVERSION);
}

/* A later version may change the shape; it is still reported as a version. */
static void test_version_two_other_shape_is_eversion(void **state)
{
    (void)state;
    static const uint8_t p[] = {0x92, 0x02, 0xc0};
    expect(p, sizeof(p), ENV_EVERSION);
}

static void test_version_zero_is_eversion(void **state)
{
    (void)state;
    static const uint8_t p[] = {0x95, 0x00, 0x01, 0xa1, 'a', 0x05, 0xc0};
    expect(p, sizeof(p), ENV_EVERSION);
}

static void test_type_zero_is_eshape(void **state)
{
    (void)state;
    static const uint8_t p[] = {0x95, 0x01, 0x00, 0xa1, 'a', 0x05, 0xc0};
    expect(p, sizeof(p), ENV_ESHAPE);
}

static void test_type_max_is_eshape(void **state)
{
    (void)state;
    static const uint8_t p[] = {0x95, 0x01, ENV_TYPE_MAX, 0xa1, 'a', 0x05, 0xc0};
    static const uint8_t huge[] = {0x95, 0x01, 0xcf, 0, 0, 0, 1, 0, 0, 0, 1, 0xa1, 'a', 0x05, 0xc0};
    expect(p, sizeof(p), ENV_ESHAPE);
    expect(huge, sizeof(huge), ENV_ESHAPE); /* 2^32 + 1 must not wrap to 1 */
}

static void test_empty_from_is_eshape(void **state)
{
    (void)state;
    static const uint8_t p[] = {0x95, 0x01, 0x01, 0xa0, 0x05, 0xc0};
    expect(p, sizeof(p), ENV_ESHAPE);
}

static void build_from_of(struct bytes *s, size_t flen)
{
    static const uint8_t head[] = {0x95, 0x01, 0x01, 0xd9};
    put(s, head, sizeof(head));
    put_byte(s, (uint8_t)flen);
    for (size_t i = 0; i < flen; i++)
        put_byte(s, 'x');
    put_byte(s, 0x05);
    put_byte(s, 0xc0);
}

static void test_from_of_64_bytes_is_eshape(void **state)
{
    (void)state;
    struct bytes s = {.n = 0};
    build_from_of(&s, ENV_FROM_MAX);
    expect(s.b, s.n, ENV_ESHAPE);
    s.n = 0;
    build_from_of(&s, 200);
    expect(s.b, s.n, ENV_ESHAPE);
}

static void test_from_of_63_bytes_opens(void **state)
{
    (void)state;
    struct bytes s = {.n = 0};
    build_from_of(&s, ENV_FROM_MAX - 1);
    struct env_msg msg;
    assert_int_equal(open_plain(s.b, s.n, &msg), ENV_OK);
    assert_int_equal(strlen(msg.from), ENV_FROM_MAX - 1);
    env_msg_free(&msg);
}

static void test_from_with_nul_is_eshape(void **state)
{
    (void)state;
    static const uint8_t p[] = {0x95, 0x01, 0x01, 0xa3, 'a', 0, 'b', 0x05, 0xc0};
    expect(p, sizeof(p), ENV_ESHAPE);
}

static void test_trailing_bytes_are_emalformed(void **state)
{
    (void)state;
    static const uint8_t p[] = {HDR, 0xc0, 0x00};
    expect(p, sizeof(p), ENV_EMALFORMED);
}

static void test_huge_array_count_is_emalformed(void **state)
{
    (void)state;
    static const uint8_t top[] = {0xdd, 0xff, 0xff, 0xff, 0xff, 0x01, 0x01, 0x01};
    static const uint8_t body[] = {HDR, 0xdd, 0xff, 0xff, 0xff, 0xff, 0xc0, 0xc0};
    expect(top, sizeof(top), ENV_EMALFORMED);
    expect(body, sizeof(body), ENV_EMALFORMED);
}

static void test_huge_map_count_is_emalformed(void **state)
{
    (void)state;
    static const uint8_t top[] = {0xdf, 0xff, 0xff, 0xff, 0xff, 0x01, 0x01, 0x01};
    static const uint8_t body[] = {HDR, 0xdf, 0x80, 0x00, 0x00, 0x00, 0xc0, 0xc0};
    expect(top, sizeof(top), ENV_EMALFORMED);
    expect(body, sizeof(body), ENV_EMALFORMED);
}

static void test_str32_claiming_4gib_is_emalformed(void **state)
{
    (void)state;
    static const uint8_t body[] = {HDR, 0xdb, 0xff, 0xff, 0xff, 0xff, 'a'};
    static const uint8_t from[] = {0x95, 0x01, 0x01, 0xdb, 0xff, 0xff, 0xff, 0xff, 'a', 0x05, 0xc0};
    expect(body, sizeof(body), ENV_EMALFORMED);
    expect(from, sizeof(from), ENV_EMALFORMED);
}

/* Depth counts containers: the envelope is depth 1, so a body of
 * ENV_MAX_DEPTH - 1 nested arrays makes ENV_MAX_DEPTH in all. */
static void build_nested(struct bytes *s, unsigned total_depth)
{
    static const uint8_t head[] = {HDR};
    put(s, head, sizeof(head));
    for (unsigned i = 1; i < total_depth; i++)
        put_byte(s, 0x91);
    put_byte(s, 0x01);
}

static void test_nesting_8_deep_opens(void **state)
{
    (void)state;
    struct bytes s = {.n = 0};
    build_nested(&s, ENV_MAX_DEPTH);
    expect_ok(s.b, s.n);
}

static void test_nesting_9_deep_is_emalformed(void **state)
{
    (void)state;
    struct bytes s = {.n = 0};
    build_nested(&s, ENV_MAX_DEPTH + 1);
    expect(s.b, s.n, ENV_EMALFORMED);
}

static void test_byte_c1_is_emalformed(void **state)
{
    (void)state;
    static const uint8_t body[] = {HDR, 0xc1};
    expect(body, sizeof(body), ENV_EMALFORMED);
    expect("\xc1", 1, ENV_EMALFORMED);
}

static void test_truncated_plaintext_is_emalformed(void **state)
{
    (void)state;
    static const uint8_t p[] = {HDR, 0x92, 0x01};
    expect(p, sizeof(p), ENV_EMALFORMED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_minimal_valid_plaintext_opens),
        cmocka_unit_test(test_not_an_array_is_eshape),
        cmocka_unit_test(test_array_of_four_is_eshape),
        cmocka_unit_test(test_array_of_six_is_eshape),
        cmocka_unit_test(test_version_not_uint_is_eshape),
        cmocka_unit_test(test_type_not_uint_is_eshape),
        cmocka_unit_test(test_from_not_str_is_eshape),
        cmocka_unit_test(test_counter_not_uint_is_eshape),
        cmocka_unit_test(test_counter_zero_is_eshape),
        cmocka_unit_test(test_version_two_is_eversion),
        cmocka_unit_test(test_version_two_other_shape_is_eversion),
        cmocka_unit_test(test_version_zero_is_eversion),
        cmocka_unit_test(test_type_zero_is_eshape),
        cmocka_unit_test(test_type_max_is_eshape),
        cmocka_unit_test(test_empty_from_is_eshape),
        cmocka_unit_test(test_from_of_64_bytes_is_eshape),
        cmocka_unit_test(test_from_of_63_bytes_opens),
        cmocka_unit_test(test_from_with_nul_is_eshape),
        cmocka_unit_test(test_trailing_bytes_are_emalformed),
        cmocka_unit_test(test_huge_array_count_is_emalformed),
        cmocka_unit_test(test_huge_map_count_is_emalformed),
        cmocka_unit_test(test_str32_claiming_4gib_is_emalformed),
        cmocka_unit_test(test_nesting_8_deep_opens),
        cmocka_unit_test(test_nesting_9_deep_is_emalformed),
        cmocka_unit_test(test_byte_c1_is_emalformed),
        cmocka_unit_test(test_truncated_plaintext_is_emalformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
