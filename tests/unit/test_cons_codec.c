/* The consensus message body on the wire. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#include "consensus/consensus.h"

static int decode_bytes(const void *buf, size_t len, struct cons_msg *m)
{
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    int rv = -2;
    if (msgpack_unpack_next(&u, buf, len, &off) == MSGPACK_UNPACK_SUCCESS)
        rv = cons_msg_decode(&u.data, m);
    msgpack_unpacked_destroy(&u);
    return rv;
}

static void test_every_type_round_trips(void **state)
{
    (void)state;
    for (int t = CONS_MSG_PREVOTE; t < CONS_MSG_TYPE_END; t++) {
        struct cons_msg m = {.type = (enum cons_msg_type)t,
                             .term = 7 + (uint64_t)t,
                             .last_log_index = UINT64_MAX,
                             .last_log_term = 3,
                             .granted = t % 2 == 0},
                        back;
        uint8_t *buf;
        size_t len;
        assert_int_equal(cons_msg_encode(&m, &buf, &len), 0);
        assert_int_equal(decode_bytes(buf, len, &back), 0);
        free(buf);
        assert_int_equal(back.type, m.type);
        assert_true(back.term == m.term);
        assert_true(back.last_log_index == UINT64_MAX);
        assert_true(back.last_log_term == 3);
        assert_int_equal(back.granted, m.granted);
    }
}

static void test_unknown_types_are_refused(void **state)
{
    (void)state;
    struct cons_msg m;
    /* [0, 1, 0, 0, false] and [TYPE_END, ...] */
    const uint8_t zero[] = {0x95, 0x00, 0x01, 0x00, 0x00, 0xc2};
    const uint8_t end[] = {0x95, CONS_MSG_TYPE_END, 0x01, 0x00, 0x00, 0xc2};
    assert_int_equal(decode_bytes(zero, sizeof(zero), &m), -1);
    assert_int_equal(decode_bytes(end, sizeof(end), &m), -1);
}

static void test_wrong_shapes_are_refused(void **state)
{
    (void)state;
    struct cons_msg m;
    const uint8_t four[] = {0x94, 0x01, 0x01, 0x00, 0x00};
    const uint8_t negative_term[] = {0x95, 0x01, 0xff, 0x00, 0x00, 0xc2};
    const uint8_t str_term[] = {0x95, 0x01, 0xa1, 'x', 0x00, 0x00, 0xc2};
    const uint8_t int_granted[] = {0x95, 0x01, 0x01, 0x00, 0x00, 0x01};
    const uint8_t map[] = {0x81, 0x01, 0x02};
    assert_int_equal(decode_bytes(four, sizeof(four), &m), -1);
    assert_int_equal(decode_bytes(negative_term, sizeof(negative_term), &m), -1);
    assert_int_equal(decode_bytes(str_term, sizeof(str_term), &m), -1);
    assert_int_equal(decode_bytes(int_granted, sizeof(int_granted), &m), -1);
    assert_int_equal(decode_bytes(map, sizeof(map), &m), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_type_round_trips),
        cmocka_unit_test(test_unknown_types_are_refused),
        cmocka_unit_test(test_wrong_shapes_are_refused),
    };
    return cmocka_run_group_tests_name("cons_codec", tests, NULL, NULL);
}
