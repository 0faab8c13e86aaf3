/* The consensus message body on the wire: every field round trips, entry
 * bytes travel beside the metadata, and malformed bodies are refused. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#include "consensus/consensus.h"

static struct cons_wire_entry got[CONS_MAX_BATCH];

static int decode_bytes(const void *buf, size_t len, struct cons_msg *m)
{
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    int rv = -2;
    if (msgpack_unpack_next(&u, buf, len, &off) == MSGPACK_UNPACK_SUCCESS)
        rv = cons_msg_decode(&u.data, m, got);
    msgpack_unpacked_destroy(&u);
    return rv;
}

/* Encodes m with entries, then decodes it into back; got[] points into the
 * encoded bytes, so they are kept until the next call. */
static uint8_t *wire;
static void round_trip(const struct cons_msg *m, const struct cons_wire_entry *entries,
                       struct cons_msg *back)
{
    size_t len;
    free(wire);
    assert_int_equal(cons_msg_encode(m, entries, &wire, &len), 0);
    msgpack_zone *zone = msgpack_zone_new(4096);
    msgpack_object obj;
    size_t off = 0;
    assert_int_equal(msgpack_unpack((const char *)wire, len, &off, zone, &obj),
                     MSGPACK_UNPACK_SUCCESS);
    assert_int_equal(cons_msg_decode(&obj, back, got), 0);
    msgpack_zone_free(zone);
}

static void test_every_field_round_trips(void **state)
{
    (void)state;
    for (int t = CONS_MSG_PREVOTE; t < CONS_MSG_TYPE_END; t++) {
        struct cons_msg m = {.type = (enum cons_msg_type)t,
                             .term = 7 + (uint64_t)t,
                             .last_log_index = UINT64_MAX,
                             .last_log_term = 3,
                             .granted = t % 2 == 0,
                             .commit = 41,
                             .prev_index = 40,
                             .match_index = 39},
                        back;
        memset(m.prev_hash, 0xab, CONS_HASH_BYTES);
        round_trip(&m, NULL, &back);
        assert_int_equal(back.type, m.type);
        assert_true(back.term == m.term);
        assert_true(back.last_log_index == UINT64_MAX);
        assert_true(back.last_log_term == 3);
        assert_int_equal(back.granted, m.granted);
        assert_int_equal(back.commit, 41);
        assert_int_equal(back.prev_index, 40);
        assert_int_equal(back.match_index, 39);
        assert_memory_equal(back.prev_hash, m.prev_hash, CONS_HASH_BYTES);
        assert_int_equal(back.n_entries, 0);
        assert_null(back.entries);
    }
}

static void test_a_quiet_heartbeat_round_trips_in_the_slot_granted_has_elsewhere(void **state)
{
    (void)state;
    struct cons_msg m = {.type = CONS_MSG_HEARTBEAT, .term = 3, .commit = 9, .quiet = true}, back;
    round_trip(&m, NULL, &back);
    assert_true(back.quiet);
    assert_false(back.granted);
    m.quiet = false;
    round_trip(&m, NULL, &back);
    assert_false(back.quiet);
    /* on any other message the slot is granted, as before */
    struct cons_msg r = {.type = CONS_MSG_HEARTBEAT_RESP, .term = 3, .granted = true};
    round_trip(&r, NULL, &back);
    assert_true(back.granted);
    assert_false(back.quiet);
}

static void test_an_appends_entry_bytes_travel_beside_it(void **state)
{
    (void)state;
    static const uint8_t a[] = {1, 2, 3}, b[] = {0x93, 0x01, 0x02, 0x03};
    struct cons_wire_entry entries[] = {{a, sizeof(a)}, {b, sizeof(b)}};
    struct cons_msg m = {.type = CONS_MSG_APPEND, .term = 2, .prev_index = 5, .n_entries = 2}, back;
    round_trip(&m, entries, &back);
    assert_int_equal(back.n_entries, 2);
    assert_int_equal(got[0].len, sizeof(a));
    assert_memory_equal(got[0].bytes, a, sizeof(a));
    assert_int_equal(got[1].len, sizeof(b));
    assert_memory_equal(got[1].bytes, b, sizeof(b));
}

static void test_encode_refuses_entries_it_was_not_given_or_too_many(void **state)
{
    (void)state;
    uint8_t *buf = NULL;
    size_t len;
    struct cons_msg m = {.type = CONS_MSG_APPEND, .n_entries = 1};
    assert_int_equal(cons_msg_encode(&m, NULL, &buf, &len), -1);
    m.n_entries = CONS_MAX_BATCH + 1;
    static struct cons_wire_entry many[CONS_MAX_BATCH + 1];
    assert_int_equal(cons_msg_encode(&m, many, &buf, &len), -1);
    assert_null(buf);
}

/* A valid heartbeat body, byte by byte, to damage one field at a time:
 * [5, 1, 0, 0, false, 0, 0, bin8(32 zeros), 0, []] */
static size_t heartbeat_body(uint8_t *b)
{
    size_t k = 0;
    b[k++] = 0x9a;
    b[k++] = CONS_MSG_HEARTBEAT;
    b[k++] = 0x01;
    b[k++] = 0x00;
    b[k++] = 0x00;
    b[k++] = 0xc2;
    b[k++] = 0x00;
    b[k++] = 0x00;
    b[k++] = 0xc4;
    b[k++] = CONS_HASH_BYTES;
    memset(b + k, 0, CONS_HASH_BYTES);
    k += CONS_HASH_BYTES;
    b[k++] = 0x00;
    b[k++] = 0x90;
    return k;
}

static void test_a_valid_body_decodes(void **state)
{
    (void)state;
    uint8_t b[64];
    struct cons_msg m;
    assert_int_equal(decode_bytes(b, heartbeat_body(b), &m), 0);
    assert_int_equal(m.type, CONS_MSG_HEARTBEAT);
}

static void test_unknown_types_are_refused(void **state)
{
    (void)state;
    uint8_t b[64];
    struct cons_msg m;
    size_t n = heartbeat_body(b);
    b[1] = 0;
    assert_int_equal(decode_bytes(b, n, &m), -1);
    b[1] = CONS_MSG_TYPE_END;
    assert_int_equal(decode_bytes(b, n, &m), -1);
}

static void test_wrong_shapes_are_refused(void **state)
{
    (void)state;
    uint8_t b[64];
    struct cons_msg m;
    size_t n = heartbeat_body(b);
    b[0] = 0x99; /* nine fields */
    assert_int_equal(decode_bytes(b, n - 1, &m), -1);
    n = heartbeat_body(b);
    b[2] = 0xff; /* negative term */
    assert_int_equal(decode_bytes(b, n, &m), -1);
    n = heartbeat_body(b);
    b[5] = 0x01; /* granted not a boolean */
    assert_int_equal(decode_bytes(b, n, &m), -1);
    n = heartbeat_body(b);
    b[9] = CONS_HASH_BYTES - 1; /* a short prev_hash */
    assert_int_equal(decode_bytes(b, n - 1, &m), -1);
    const uint8_t map[] = {0x81, 0x01, 0x02};
    assert_int_equal(decode_bytes(map, sizeof(map), &m), -1);
}

static void test_entries_on_anything_but_an_append_are_refused(void **state)
{
    (void)state;
    uint8_t b[64];
    struct cons_msg m;
    size_t n = heartbeat_body(b);
    b[n - 1] = 0x91; /* [bin8 "x"] */
    b[n++] = 0xc4;
    b[n++] = 0x01;
    b[n++] = 'x';
    assert_int_equal(decode_bytes(b, n, &m), -1);
    b[1] = CONS_MSG_APPEND;
    assert_int_equal(decode_bytes(b, n, &m), 0);
    assert_int_equal(m.n_entries, 1);
}

static int free_wire(void **state)
{
    (void)state;
    free(wire);
    wire = NULL;
    return 0;
}

static void test_a_signature_round_trips_and_its_absence_too(void **state)
{
    (void)state;
    static const uint8_t a[] = {1, 2, 3};
    struct cons_wire_entry entries[] = {{a, sizeof(a)}};
    struct cons_msg m = {.type = CONS_MSG_APPEND, .term = 2, .n_entries = 1, .has_sig = true}, back;
    for (int i = 0; i < CONS_SIG_BYTES; i++)
        m.sig[i] = (uint8_t)i;
    round_trip(&m, entries, &back);
    assert_true(back.has_sig);
    assert_memory_equal(back.sig, m.sig, CONS_SIG_BYTES);
    m.has_sig = false;
    round_trip(&m, entries, &back);
    assert_false(back.has_sig);
}

/* The ten-field form from before signatures decodes, unsigned. */
static void test_a_body_without_the_signature_field_decodes_unsigned(void **state)
{
    (void)state;
    uint8_t b[64];
    struct cons_msg m;
    assert_int_equal(decode_bytes(b, heartbeat_body(b), &m), 0);
    assert_false(m.has_sig);
}

static void test_a_signature_of_the_wrong_size_or_type_is_refused(void **state)
{
    (void)state;
    uint8_t b[128];
    struct cons_msg m;
    size_t n = heartbeat_body(b);
    b[0] = 0x9b; /* 11 fields */
    b[n] = 0xc4;
    b[n + 1] = 63;
    memset(b + n + 2, 0, 63);
    assert_int_equal(decode_bytes(b, n + 2 + 63, &m), -1);
    b[n + 1] = 0;
    assert_int_equal(decode_bytes(b, n + 2, &m), 0);
    b[n] = 0xc0; /* nil */
    assert_int_equal(decode_bytes(b, n + 1, &m), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_field_round_trips),
        cmocka_unit_test(test_a_quiet_heartbeat_round_trips_in_the_slot_granted_has_elsewhere),
        cmocka_unit_test(test_an_appends_entry_bytes_travel_beside_it),
        cmocka_unit_test(test_encode_refuses_entries_it_was_not_given_or_too_many),
        cmocka_unit_test(test_a_valid_body_decodes),
        cmocka_unit_test(test_unknown_types_are_refused),
        cmocka_unit_test(test_wrong_shapes_are_refused),
        cmocka_unit_test(test_entries_on_anything_but_an_append_are_refused),
        cmocka_unit_test(test_a_signature_round_trips_and_its_absence_too),
        cmocka_unit_test(test_a_body_without_the_signature_field_decodes_unsigned),
        cmocka_unit_test(test_a_signature_of_the_wrong_size_or_type_is_refused),
    };
    return cmocka_run_group_tests_name("cons_codec", tests, NULL, free_wire);
}
