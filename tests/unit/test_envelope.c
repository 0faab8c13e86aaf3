/* env_seal / env_open: round trips, tampering, truncation and sealing
 * rules. Hostile plaintexts are in test_envelope_hostile.c, the pre-scan
 * in test_wire_prescan.c, the replay window in test_envelope_replay.c. */
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
static const uint8_t other_key[ENV_KEY_BYTES] = "fedcba9876543210fedcba9876543210";

/* A heartbeat-like body: ["leader-1", 7]. */
static const uint8_t heartbeat_body[] = {0x92, 0xa8, 'l', 'e', 'a', 'd', 'e', 'r', '-', '1', 0x07};

static void seal_heartbeat(const uint8_t *k, uint8_t **out, size_t *out_len)
{
    int rc = env_seal(k, ENV_HELLO, "node-a", UINT64_C(5) << 32 | 1, heartbeat_body,
                      sizeof(heartbeat_body), out, out_len);
    assert_int_equal(rc, ENV_OK);
    assert_non_null(*out);
}

/* A failed open leaves msg zeroed, and freeing it is harmless. */
static void assert_open_fails(const uint8_t *buf, size_t len)
{
    struct env_msg msg;
    memset(&msg, 0xa5, sizeof(msg));
    assert_int_not_equal(env_open(key, buf, len, &msg), ENV_OK);
    assert_null(msg.zone);
    assert_int_equal(msg.counter, 0);
    env_msg_free(&msg);
}

static void test_round_trip_heartbeat(void **state)
{
    (void)state;
    uint8_t *wire;
    size_t n;
    seal_heartbeat(key, &wire, &n);
    assert_int_equal(n, crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + 1 + 1 + 1 + 7 +
                            9 + sizeof(heartbeat_body));

    struct env_msg msg;
    assert_int_equal(env_open(key, wire, n, &msg), ENV_OK);
    free(wire); /* the decoded body must not depend on the wire buffer */
    assert_int_equal(msg.version, ENV_VERSION);
    assert_int_equal(msg.type, ENV_HELLO);
    assert_string_equal(msg.from, "node-a");
    assert_true(msg.counter == (UINT64_C(5) << 32 | 1));
    assert_int_equal(msg.body.type, MSGPACK_OBJECT_ARRAY);
    assert_int_equal(msg.body.via.array.size, 2);
    const msgpack_object *f = msg.body.via.array.ptr;
    assert_int_equal(f[0].type, MSGPACK_OBJECT_STR);
    assert_int_equal(f[0].via.str.size, 8);
    assert_memory_equal(f[0].via.str.ptr, "leader-1", 8);
    assert_int_equal(f[1].type, MSGPACK_OBJECT_POSITIVE_INTEGER);
    assert_int_equal(f[1].via.u64, 7);
    env_msg_free(&msg);
    assert_null(msg.zone);
}

static void test_round_trip_longest_from(void **state)
{
    (void)state;
    char from[ENV_FROM_MAX];
    memset(from, 'x', sizeof(from) - 1);
    from[sizeof(from) - 1] = '\0';
    uint8_t *wire;
    size_t n;
    assert_int_equal(env_seal(key, ENV_HELLO, from, 1, "\xc0", 1, &wire, &n), ENV_OK);
    struct env_msg msg;
    assert_int_equal(env_open(key, wire, n, &msg), ENV_OK);
    assert_string_equal(msg.from, from);
    assert_int_equal(msg.body.type, MSGPACK_OBJECT_NIL);
    env_msg_free(&msg);
    free(wire);
}

static void test_seal_uses_fresh_nonce(void **state)
{
    (void)state;
    uint8_t *a, *b;
    size_t na, nb;
    seal_heartbeat(key, &a, &na);
    seal_heartbeat(key, &b, &nb);
    assert_int_equal(na, nb);
    assert_memory_not_equal(a, b, crypto_secretbox_NONCEBYTES);
    free(a);
    free(b);
}

static void test_wrong_key_is_eauth(void **state)
{
    (void)state;
    uint8_t *wire;
    size_t n;
    seal_heartbeat(other_key, &wire, &n);
    struct env_msg msg;
    assert_int_equal(env_open(key, wire, n, &msg), ENV_EAUTH);
    assert_null(msg.zone);
    env_msg_free(&msg);
    free(wire);
}

static void test_every_flipped_bit_fails_to_open(void **state)
{
    (void)state;
    uint8_t *wire;
    size_t n;
    seal_heartbeat(key, &wire, &n);
    for (size_t i = 0; i < n; i++) {
        for (int bit = 0; bit < 8; bit++) {
            wire[i] ^= (uint8_t)(1u << bit);
            struct env_msg msg;
            assert_int_equal(env_open(key, wire, n, &msg), ENV_EAUTH);
            wire[i] ^= (uint8_t)(1u << bit);
        }
    }
    free(wire);
}

static void test_every_truncation_fails_to_open(void **state)
{
    (void)state;
    uint8_t *wire;
    size_t n;
    seal_heartbeat(key, &wire, &n);
    for (size_t len = 0; len < n; len++) {
        /* An exact-size copy, so ASan sees any read past the end. */
        uint8_t *cut = malloc(len ? len : 1);
        assert_non_null(cut);
        memcpy(cut, wire, len);
        assert_open_fails(cut, len);
        free(cut);
    }
    free(wire);
}

static void test_shorter_than_overhead_is_etooshort(void **state)
{
    (void)state;
    uint8_t buf[crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES] = {0};
    struct env_msg msg;
    assert_int_equal(env_open(key, buf, sizeof(buf), &msg), ENV_ETOOSHORT);
    assert_int_equal(env_open(key, NULL, 0, &msg), ENV_ETOOSHORT);
}

static void test_longer_than_max_is_etoolong(void **state)
{
    (void)state;
    uint8_t *buf = calloc(1, ENV_MAX_MSG + 1);
    assert_non_null(buf);
    struct env_msg msg;
    assert_int_equal(env_open(key, buf, ENV_MAX_MSG + 1, &msg), ENV_ETOOLONG);
    assert_null(msg.zone);
    free(buf);
}

static void test_seal_rejects_body_not_one_object(void **state)
{
    (void)state;
    static const struct {
        const char *bytes;
        size_t len;
    } bad[] = {
        {"", 0},         /* nothing */
        {"\x01\x02", 2}, /* two objects */
        {"\xa3"
         "ab",
         3},             /* truncated str */
        {"\x92\x01", 2}, /* truncated array */
        {"\xc1", 1},     /* never-used byte */
        {"\x01\xc1", 2}, /* trailing garbage */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        static uint8_t sentinel;
        uint8_t *wire = &sentinel;
        size_t n = 99;
        assert_int_equal(env_seal(key, ENV_HELLO, "a", 1, bad[i].bytes, bad[i].len, &wire, &n),
                         ENV_EMALFORMED);
        assert_null(wire);
        assert_int_equal(n, 0);
    }
    uint8_t *wire;
    size_t n;
    assert_int_equal(env_seal(key, ENV_HELLO, "a", 1, NULL, 0, &wire, &n), ENV_EMALFORMED);
}

/* The envelope array is one level, so the body may nest ENV_MAX_DEPTH - 1. */
static void test_seal_rejects_body_receivers_would_drop(void **state)
{
    (void)state;
    uint8_t body[ENV_MAX_DEPTH + 1];
    uint8_t *wire;
    size_t n;

    memset(body, 0x91, ENV_MAX_DEPTH - 1);
    body[ENV_MAX_DEPTH - 1] = 0xc0;
    assert_int_equal(env_seal(key, ENV_HELLO, "a", 1, body, ENV_MAX_DEPTH, &wire, &n), ENV_OK);
    struct env_msg msg;
    assert_int_equal(env_open(key, wire, n, &msg), ENV_OK);
    env_msg_free(&msg);
    free(wire);

    memset(body, 0x91, ENV_MAX_DEPTH);
    body[ENV_MAX_DEPTH] = 0xc0;
    assert_int_equal(env_seal(key, ENV_HELLO, "a", 1, body, sizeof(body), &wire, &n),
                     ENV_EMALFORMED);
}

static void test_seal_rejects_bad_header_fields(void **state)
{
    (void)state;
    char long_from[ENV_FROM_MAX + 1];
    memset(long_from, 'x', ENV_FROM_MAX);
    long_from[ENV_FROM_MAX] = '\0';
    uint8_t *wire;
    size_t n;

    assert_int_equal(env_seal(key, 0, "a", 1, "\xc0", 1, &wire, &n), ENV_ESHAPE);
    assert_int_equal(env_seal(key, ENV_TYPE_MAX, "a", 1, "\xc0", 1, &wire, &n), ENV_ESHAPE);
    assert_int_equal(env_seal(key, ENV_HELLO, "", 1, "\xc0", 1, &wire, &n), ENV_ESHAPE);
    assert_int_equal(env_seal(key, ENV_HELLO, long_from, 1, "\xc0", 1, &wire, &n), ENV_ESHAPE);
    assert_int_equal(env_seal(key, ENV_HELLO, NULL, 1, "\xc0", 1, &wire, &n), ENV_ESHAPE);
    assert_int_equal(env_seal(key, ENV_HELLO, "a", 0, "\xc0", 1, &wire, &n), ENV_ESHAPE);
    assert_null(wire);
}

static void test_seal_rejects_message_over_max(void **state)
{
    (void)state;
    /* A bin32 that alone fits ENV_MAX_MSG but not with the envelope. */
    size_t len = ENV_MAX_MSG - 8;
    uint8_t *body = calloc(1, len);
    assert_non_null(body);
    uint32_t data = (uint32_t)(len - 5);
    body[0] = 0xc6;
    body[1] = (uint8_t)(data >> 24);
    body[2] = (uint8_t)(data >> 16);
    body[3] = (uint8_t)(data >> 8);
    body[4] = (uint8_t)data;
    uint8_t *wire;
    size_t n;
    assert_int_equal(env_seal(key, ENV_HELLO, "a", 1, body, len, &wire, &n), ENV_ETOOLONG);
    assert_null(wire);
    free(body);
}

static void test_strerror_names_every_error(void **state)
{
    (void)state;
    assert_string_equal(env_strerror(ENV_OK), "ok");
    assert_string_equal(env_strerror(ENV_ETOOSHORT), "too short");
    assert_string_equal(env_strerror(ENV_ETOOLONG), "too long");
    assert_string_equal(env_strerror(ENV_EAUTH), "auth");
    assert_string_equal(env_strerror(ENV_EMALFORMED), "malformed");
    assert_string_equal(env_strerror(ENV_ESHAPE), "shape");
    assert_string_equal(env_strerror(ENV_EVERSION), "version");
    assert_string_equal(env_strerror(ENV_ENOMEM), "no memory");
    assert_string_equal(env_strerror((enum env_error)99), "unknown");
}

static void test_msg_free_on_zeroed_msg_is_safe(void **state)
{
    (void)state;
    struct env_msg msg;
    memset(&msg, 0, sizeof(msg));
    env_msg_free(&msg);
    env_msg_free(&msg);
    env_msg_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_heartbeat),
        cmocka_unit_test(test_round_trip_longest_from),
        cmocka_unit_test(test_seal_uses_fresh_nonce),
        cmocka_unit_test(test_wrong_key_is_eauth),
        cmocka_unit_test(test_every_flipped_bit_fails_to_open),
        cmocka_unit_test(test_every_truncation_fails_to_open),
        cmocka_unit_test(test_shorter_than_overhead_is_etooshort),
        cmocka_unit_test(test_longer_than_max_is_etoolong),
        cmocka_unit_test(test_seal_rejects_body_not_one_object),
        cmocka_unit_test(test_seal_rejects_body_receivers_would_drop),
        cmocka_unit_test(test_seal_rejects_bad_header_fields),
        cmocka_unit_test(test_seal_rejects_message_over_max),
        cmocka_unit_test(test_strerror_names_every_error),
        cmocka_unit_test(test_msg_free_on_zeroed_msg_is_safe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
