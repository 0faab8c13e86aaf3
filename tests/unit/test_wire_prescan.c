/* wire_prescan and wire_object_len: every msgpack format family, counts,
 * depth and the one-object rule. Whatever they accept must unpack fully
 * with msgpack-c. The node's envelope and the ledger both rely on them;
 * their own tests check only how each uses the result. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "wire/prescan.h"

#define DEEP 40
/* The depth both callers use (MAX_DEPTH, LEDGER_MAX_DEPTH). */
#define MAX_DEPTH 8

static void assert_unpacks_fully(const void *buf, size_t len)
{
    msgpack_zone *z = msgpack_zone_new(MSGPACK_ZONE_CHUNK_SIZE);
    assert_non_null(z);
    msgpack_object obj;
    size_t off = 0;
    assert_int_equal(msgpack_unpack(buf, len, &off, z, &obj), MSGPACK_UNPACK_SUCCESS);
    assert_int_equal(off, len);
    msgpack_zone_free(z);
}

/* One complete object: accepted, unpackable, and its length found; with a
 * byte after it: rejected as a whole but its length still found; every
 * proper prefix: neither. Each is copied to an exact-size buffer so ASan
 * catches a read past the end. */
static void assert_object(const void *obj, size_t len)
{
    uint8_t *b = malloc(len + 1);
    assert_non_null(b);
    memcpy(b, obj, len);
    assert_int_equal(wire_prescan(b, len, MAX_DEPTH), 0);
    assert_int_equal(wire_object_len(b, len, MAX_DEPTH), len);
    assert_unpacks_fully(b, len);
    b[len] = 0x00;
    assert_int_equal(wire_prescan(b, len + 1, MAX_DEPTH), -1);
    assert_int_equal(wire_object_len(b, len + 1, MAX_DEPTH), len);
    free(b);

    for (size_t n = 0; n < len; n++) {
        uint8_t *cut = malloc(n ? n : 1);
        assert_non_null(cut);
        memcpy(cut, obj, n);
        if (wire_prescan(cut, n, MAX_DEPTH) != -1)
            fail_msg("prefix of %zu of %zu bytes accepted", n, len);
        if (wire_object_len(cut, n, MAX_DEPTH) != 0)
            fail_msg("prefix of %zu of %zu bytes has a length", n, len);
        free(cut);
    }
}

#define OBJ(...)                                                                                   \
    do {                                                                                           \
        static const uint8_t o_[] = {__VA_ARGS__};                                                 \
        assert_object(o_, sizeof(o_));                                                             \
    } while (0)

static void test_positive_fixint(void **state)
{
    (void)state;
    OBJ(0x00);
    OBJ(0x7f);
}

static void test_negative_fixint(void **state)
{
    (void)state;
    OBJ(0xe0);
    OBJ(0xff);
}

static void test_nil_false_true(void **state)
{
    (void)state;
    OBJ(0xc0);
    OBJ(0xc2);
    OBJ(0xc3);
}

static void test_fixstr(void **state)
{
    (void)state;
    OBJ(0xa0);
    OBJ(0xa3, 'a', 'b', 'c');
    uint8_t s[32];
    s[0] = 0xbf;
    memset(s + 1, 'x', 31);
    assert_object(s, sizeof(s));
}

static void test_str8_16_32(void **state)
{
    (void)state;
    OBJ(0xd9, 0x02, 'a', 'b');
    OBJ(0xd9, 0x00);
    OBJ(0xda, 0x00, 0x02, 'a', 'b');
    OBJ(0xdb, 0x00, 0x00, 0x00, 0x02, 'a', 'b');
}

static void test_bin8_16_32(void **state)
{
    (void)state;
    OBJ(0xc4, 0x02, 0x00, 0xff);
    OBJ(0xc4, 0x00);
    OBJ(0xc5, 0x00, 0x02, 0x00, 0xff);
    OBJ(0xc6, 0x00, 0x00, 0x00, 0x02, 0x00, 0xff);
}

static void test_ext8_16_32(void **state)
{
    (void)state;
    OBJ(0xc7, 0x02, 0x05, 'a', 'b');
    OBJ(0xc7, 0x00, 0x05); /* no data, still a type byte */
    OBJ(0xc8, 0x00, 0x02, 0xfb, 'a', 'b');
    OBJ(0xc9, 0x00, 0x00, 0x00, 0x02, 0x05, 'a', 'b');
}

static void test_fixext_1_to_16(void **state)
{
    (void)state;
    OBJ(0xd4, 0x01, 0xaa);
    OBJ(0xd5, 0x01, 0xaa, 0xbb);
    OBJ(0xd6, 0x01, 1, 2, 3, 4);
    OBJ(0xd7, 0xff, 1, 2, 3, 4, 5, 6, 7, 8);
    OBJ(0xd8, 0x01, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16);
}

static void test_float32_64(void **state)
{
    (void)state;
    OBJ(0xca, 0x3f, 0x80, 0x00, 0x00);
    OBJ(0xcb, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0);
}

static void test_uint8_to_64(void **state)
{
    (void)state;
    OBJ(0xcc, 0xff);
    OBJ(0xcd, 0xff, 0xff);
    OBJ(0xce, 0xff, 0xff, 0xff, 0xff);
    OBJ(0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff);
}

static void test_int8_to_64(void **state)
{
    (void)state;
    OBJ(0xd0, 0x80);
    OBJ(0xd1, 0x80, 0x00);
    OBJ(0xd2, 0x80, 0x00, 0x00, 0x00);
    OBJ(0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0);
}

static void test_fixarray_array16_32(void **state)
{
    (void)state;
    OBJ(0x90);
    OBJ(0x92, 0x01, 0xa1, 'x');
    OBJ(0xdc, 0x00, 0x02, 0x01, 0x02);
    OBJ(0xdc, 0x00, 0x00);
    OBJ(0xdd, 0x00, 0x00, 0x00, 0x02, 0x01, 0x02);
}

static void test_fixmap_map16_32(void **state)
{
    (void)state;
    OBJ(0x80);
    OBJ(0x81, 0xa1, 'k', 0x02);
    OBJ(0xde, 0x00, 0x01, 0x01, 0x02);
    OBJ(0xdf, 0x00, 0x00, 0x00, 0x01, 0x01, 0x02);
}

static void test_mixed_containers(void **state)
{
    (void)state;
    /* {"a": [1, {"b": nil}], "c": []} */
    OBJ(0x82, 0xa1, 'a', 0x92, 0x01, 0x81, 0xa1, 'b', 0xc0, 0xa1, 'c', 0x90);
}

static void test_byte_c1_is_rejected(void **state)
{
    (void)state;
    assert_int_equal(wire_prescan("\xc1", 1, MAX_DEPTH), -1);
    assert_int_equal(wire_prescan("\x92\x01\xc1", 3, MAX_DEPTH), -1);
    assert_int_equal(wire_prescan("\x81\xc1\x01", 3, MAX_DEPTH), -1);
}

static void test_empty_and_null_are_rejected(void **state)
{
    (void)state;
    assert_int_equal(wire_prescan("", 0, MAX_DEPTH), -1);
    assert_int_equal(wire_prescan(NULL, 0, MAX_DEPTH), -1);
}

static void test_two_objects_are_rejected(void **state)
{
    (void)state;
    assert_int_equal(wire_prescan("\x01\x02", 2, MAX_DEPTH), -1);
    assert_int_equal(wire_prescan("\x90\x90", 2, MAX_DEPTH), -1);
}

static void test_count_beyond_bytes_left_is_rejected(void **state)
{
    (void)state;
    assert_int_equal(wire_prescan("\x93\x01\x02", 3, MAX_DEPTH), -1);
    assert_int_equal(wire_prescan("\x82\x01\x02\x03", 4, MAX_DEPTH), -1);
    assert_int_equal(wire_prescan("\xdc\xff\xff\x01\x02", 5, MAX_DEPTH), -1);
    assert_int_equal(wire_prescan("\xdd\xff\xff\xff\xff\x01", 6, MAX_DEPTH), -1);
    /* 2 * 0x80000000 must not wrap */
    assert_int_equal(wire_prescan("\xdf\x80\x00\x00\x00\x01", 6, MAX_DEPTH), -1);
}

/* Counts are judged against what every open container still needs, not
 * only the innermost: in [[nil, nil, nil], ?] the three bytes after the
 * inner header fit the inner array but not the outer's second element. */
static void test_pending_counts_across_levels(void **state)
{
    (void)state;
    assert_int_equal(wire_prescan("\x92\x93\xc0\xc0\xc0", 5, MAX_DEPTH), -1);
    assert_int_equal(wire_prescan("\x92\x93\xc0\xc0\xc0\xc0", 6, MAX_DEPTH), 0);
}

static void test_length_past_end_is_rejected(void **state)
{
    (void)state;
    assert_int_equal(wire_prescan("\xdb\xff\xff\xff\xff"
                                  "a",
                                  6, MAX_DEPTH),
                     -1);
    assert_int_equal(wire_prescan("\xc6\xff\xff\xff\xff"
                                  "a",
                                  6, MAX_DEPTH),
                     -1);
    assert_int_equal(wire_prescan("\xc9\xff\xff\xff\xff\x01"
                                  "a",
                                  7, MAX_DEPTH),
                     -1);
    assert_int_equal(wire_prescan("\xa5"
                                  "abc",
                                  4, MAX_DEPTH),
                     -1);
}

/* n nested one-element arrays around a nil: depth n. */
static size_t nested(uint8_t *b, unsigned n)
{
    memset(b, 0x91, n);
    b[n] = 0xc0;
    return n + 1;
}

static void test_scalar_is_depth_0(void **state)
{
    (void)state;
    assert_int_equal(wire_prescan("\x01", 1, 0), 0);
    assert_int_equal(wire_prescan("\x90", 1, 0), -1);
    assert_int_equal(wire_prescan("\x90", 1, 1), 0);
}

static void test_depth_8_accepted_9_rejected(void **state)
{
    (void)state;
    uint8_t b[DEEP];
    size_t n = nested(b, 8);
    assert_int_equal(wire_prescan(b, n, 8), 0);
    n = nested(b, 9);
    assert_int_equal(wire_prescan(b, n, 8), -1);
    assert_int_equal(wire_prescan(b, n, 9), 0);
}

static void test_empty_containers_count_for_depth(void **state)
{
    (void)state;
    assert_int_equal(wire_prescan("\x91\x90", 2, 1), -1);
    assert_int_equal(wire_prescan("\x91\x90", 2, 2), 0);
    assert_int_equal(wire_prescan("\x81\x01\x80", 3, 1), -1);
    assert_int_equal(wire_prescan("\x81\x01\x80", 3, 2), 0);
}

static void test_map_values_count_for_depth(void **state)
{
    (void)state;
    /* {1: {1: [1]}} */
    static const uint8_t p[] = {0x81, 0x01, 0x81, 0x01, 0x91, 0x01};
    assert_int_equal(wire_prescan(p, sizeof(p), 2), -1);
    assert_int_equal(wire_prescan(p, sizeof(p), 3), 0);
}

static void test_siblings_do_not_add_depth(void **state)
{
    (void)state;
    /* [[1], [2], {3: [4]}] is depth 3, however many siblings */
    static const uint8_t p[] = {0x93, 0x91, 0x01, 0x91, 0x02, 0x81, 0x03, 0x91, 0x04};
    assert_int_equal(wire_prescan(p, sizeof(p), 3), 0);
    assert_int_equal(wire_prescan(p, sizeof(p), 2), -1);
    /* a deep branch then a shallow one: [[[[1]]], 2] */
    static const uint8_t q[] = {0x92, 0x91, 0x91, 0x91, 0x01, 0x02};
    assert_int_equal(wire_prescan(q, sizeof(q), 4), 0);
    assert_int_equal(wire_prescan(q, sizeof(q), 3), -1);
}

/* wire_object_len is for readers that walk a sequence (the ledger skips
 * fields with it): it stops after the first object and refuses what
 * wire_prescan refuses in that object. */
static void test_object_len_stops_after_the_first_object(void **state)
{
    (void)state;
    assert_int_equal(wire_object_len("\x01\x02", 2, MAX_DEPTH), 1);
    assert_int_equal(wire_object_len("\x90\x90", 2, MAX_DEPTH), 1);
    assert_int_equal(wire_object_len("\x92\x01\x02\xc1", 4, MAX_DEPTH), 3);
    assert_int_equal(wire_object_len("\x81\xa1k\x90\x01", 5, MAX_DEPTH), 4);
}

static void test_object_len_refuses_what_prescan_refuses(void **state)
{
    (void)state;
    assert_int_equal(wire_object_len(NULL, 0, MAX_DEPTH), 0);
    assert_int_equal(wire_object_len("", 0, MAX_DEPTH), 0);
    assert_int_equal(wire_object_len("\xc1\x01", 2, MAX_DEPTH), 0);
    assert_int_equal(wire_object_len("\x93\x01\x02", 3, MAX_DEPTH), 0);
    assert_int_equal(wire_object_len("\xdd\xff\xff\xff\xff\x01", 6, MAX_DEPTH), 0);
    assert_int_equal(wire_object_len("\xdb\xff\xff\xff\xff"
                                     "a",
                                     6, MAX_DEPTH),
                     0);
    assert_int_equal(wire_object_len("\x91\x90\x01", 3, 1), 0);
    assert_int_equal(wire_object_len("\x91\x90\x01", 3, 2), 2);
    uint8_t b[DEEP];
    memset(b, 0x91, 33);
    b[33] = 0xc0;
    assert_int_equal(wire_object_len(b, 34, UINT_MAX), 0);
    assert_int_equal(wire_object_len(b + 1, 33, UINT_MAX), 33);
}

/* Above msgpack-c's own limit of 32 the pre-scan could not keep its
 * promise, so larger max_depth values act as 32. */
static void test_depth_capped_at_msgpack_limit(void **state)
{
    (void)state;
    uint8_t b[DEEP];
    size_t n = nested(b, 32);
    assert_int_equal(wire_prescan(b, n, UINT_MAX), 0);
    assert_unpacks_fully(b, n);
    n = nested(b, 33);
    assert_int_equal(wire_prescan(b, n, UINT_MAX), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_positive_fixint),
        cmocka_unit_test(test_negative_fixint),
        cmocka_unit_test(test_nil_false_true),
        cmocka_unit_test(test_fixstr),
        cmocka_unit_test(test_str8_16_32),
        cmocka_unit_test(test_bin8_16_32),
        cmocka_unit_test(test_ext8_16_32),
        cmocka_unit_test(test_fixext_1_to_16),
        cmocka_unit_test(test_float32_64),
        cmocka_unit_test(test_uint8_to_64),
        cmocka_unit_test(test_int8_to_64),
        cmocka_unit_test(test_fixarray_array16_32),
        cmocka_unit_test(test_fixmap_map16_32),
        cmocka_unit_test(test_mixed_containers),
        cmocka_unit_test(test_byte_c1_is_rejected),
        cmocka_unit_test(test_empty_and_null_are_rejected),
        cmocka_unit_test(test_two_objects_are_rejected),
        cmocka_unit_test(test_count_beyond_bytes_left_is_rejected),
        cmocka_unit_test(test_pending_counts_across_levels),
        cmocka_unit_test(test_length_past_end_is_rejected),
        cmocka_unit_test(test_scalar_is_depth_0),
        cmocka_unit_test(test_depth_8_accepted_9_rejected),
        cmocka_unit_test(test_empty_containers_count_for_depth),
        cmocka_unit_test(test_map_values_count_for_depth),
        cmocka_unit_test(test_siblings_do_not_add_depth),
        cmocka_unit_test(test_depth_capped_at_msgpack_limit),
        cmocka_unit_test(test_object_len_stops_after_the_first_object),
        cmocka_unit_test(test_object_len_refuses_what_prescan_refuses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
