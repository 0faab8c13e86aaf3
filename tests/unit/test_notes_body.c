/* POST /ledger/notes bodies, JSON and msgpack (node/api/notes_body.h). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <msgpack.h>
#include <string.h>

#include "node/api/notes_body.h"

struct parsed {
    struct notes_body nb;
    struct http_body_error e;
    char err[256];
    size_t count;
};

/* A msgpack body built by the test: a packer over an sbuffer. */
struct mp {
    msgpack_sbuffer sb;
    msgpack_packer pk;
};

static void mp_init(struct mp *m)
{
    msgpack_sbuffer_init(&m->sb);
    msgpack_packer_init(&m->pk, &m->sb, msgpack_sbuffer_write);
}

static void mp_str(struct mp *m, const char *s, size_t len)
{
    msgpack_pack_str_with_body(&m->pk, s, len);
}

static void mp_key(struct mp *m, const char *k)
{
    mp_str(m, k, strlen(k));
}

static void parse(struct parsed *p, const void *buf, size_t len)
{
    memset(p, 0, sizeof(*p));
    p->count = notes_body_from_msgpack(buf, len, &p->nb, &p->e, p->err, sizeof(p->err));
}

static void parse_mp(struct parsed *p, struct mp *m)
{
    parse(p, m->sb.data, m->sb.size);
    msgpack_sbuffer_destroy(&m->sb);
}

/* A map of n keys, each with a str value (pairs: key, value, ...). */
static void pairs(struct mp *m, size_t n, const char *const kv[])
{
    mp_init(m);
    msgpack_pack_map(&m->pk, n);
    for (size_t i = 0; i < 2 * n; i++)
        mp_str(m, kv[i], strlen(kv[i]));
}

/* {"notes": [the given strings]} */
static void batch(struct mp *m, const char *const notes[], size_t n)
{
    mp_init(m);
    msgpack_pack_map(&m->pk, 1);
    mp_key(m, "notes");
    msgpack_pack_array(&m->pk, n);
    for (size_t i = 0; i < n; i++)
        mp_str(m, notes[i], strlen(notes[i]));
}

static void test_msgpack_is_known_by_its_content_type_with_or_without_parameters(void **state)
{
    (void)state;
    assert_true(notes_body_is_msgpack("application/msgpack"));
    assert_true(notes_body_is_msgpack("Application/MsgPack; charset=binary"));
    assert_true(notes_body_is_msgpack("  application/x-msgpack"));
    assert_true(notes_body_is_msgpack("application/vnd.msgpack"));
    assert_false(notes_body_is_msgpack("application/json"));
    assert_false(notes_body_is_msgpack("application/msgpackx"));
    assert_false(notes_body_is_msgpack(""));
    assert_false(notes_body_is_msgpack(NULL));
}

static void test_a_json_batch_gives_its_notes_in_order(void **state)
{
    (void)state;
    json_t *body = json_loads("{\"notes\":[\"first\",\"second\"]}", 0, NULL);
    struct notes_body nb;
    char err[256];
    assert_int_equal(notes_body_from_json(body, &nb, err, sizeof(err)), 2);
    assert_memory_equal(nb.notes[0], "first", 5);
    assert_int_equal(nb.lens[1], 6);
    json_decref(body);
}

static void test_a_json_note_that_is_not_a_string_is_named_in_the_error(void **state)
{
    (void)state;
    json_t *body = json_loads("{\"notes\":[\"ok\", 7]}", 0, NULL);
    struct notes_body nb;
    char err[256];
    assert_int_equal(notes_body_from_json(body, &nb, err, sizeof(err)), 0);
    assert_string_equal(err, "notes[1]: must be a string of 1..4096 bytes");
    json_decref(body);
}

static void test_a_note_given_as_an_array_is_refused_in_either_encoding(void **state)
{
    (void)state;
    json_t *body = json_loads("{\"note\":[\"x\"]}", 0, NULL);
    struct notes_body nb;
    char err[256];
    assert_int_equal(notes_body_from_json(body, &nb, err, sizeof(err)), 0);
    assert_string_equal(err, "note: must be a string of 1..4096 bytes");
    json_decref(body);
    struct mp m;
    mp_init(&m);
    msgpack_pack_map(&m.pk, 1);
    mp_key(&m, "note");
    msgpack_pack_array(&m.pk, 1);
    mp_str(&m, "x", 1);
    struct parsed p;
    parse_mp(&p, &m);
    assert_int_equal(p.count, 0);
    assert_string_equal(p.err, "note: must be a string of 1..4096 bytes");
}

static void test_a_msgpack_note_is_read_like_a_json_one(void **state)
{
    (void)state;
    struct mp m;
    pairs(&m, 1, (const char *const[]){"note", "deploy window opens"});
    struct parsed p;
    parse_mp(&p, &m);
    assert_int_equal(p.count, 1);
    assert_int_equal(p.nb.lens[0], 19);
}

static void test_a_msgpack_batch_gives_its_notes_in_order(void **state)
{
    (void)state;
    const char *const notes[] = {"a", "bb", "ccc"};
    struct mp m;
    batch(&m, notes, 3);
    /* the notes point into the body: keep it until they are read */
    struct parsed p;
    parse(&p, m.sb.data, m.sb.size);
    assert_int_equal(p.count, 3);
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(p.nb.lens[i], i + 1);
        assert_memory_equal(p.nb.notes[i], notes[i], i + 1);
    }
    msgpack_sbuffer_destroy(&m.sb);
}

static void test_a_truncated_msgpack_body_is_refused_as_a_body(void **state)
{
    (void)state;
    const char *const notes[] = {"one", "two"};
    struct mp m;
    batch(&m, notes, 2);
    struct parsed p;
    parse(&p, m.sb.data, m.sb.size - 1);
    assert_int_equal(p.count, 0);
    assert_non_null(strstr(p.e.msg, "not one well-formed msgpack object"));
    assert_non_null(strstr(p.e.msg, "bytes"));
    msgpack_sbuffer_destroy(&m.sb);
}

static void test_bytes_after_the_msgpack_body_are_refused(void **state)
{
    (void)state;
    const char *const notes[] = {"one"};
    struct mp m;
    batch(&m, notes, 1);
    msgpack_pack_nil(&m.pk);
    struct parsed p;
    parse_mp(&p, &m);
    assert_int_equal(p.count, 0);
    assert_non_null(strstr(p.e.msg, "well-formed"));
}

static void test_a_count_the_body_cannot_hold_is_refused_before_unpacking(void **state)
{
    (void)state;
    /* {"notes": array32 of four billion} in 12 bytes */
    const unsigned char hostile[] = {0x81, 0xa5, 'n',  'o',  't',  'e',
                                     's',  0xdd, 0xff, 0xff, 0xff, 0xff};
    struct parsed p;
    parse(&p, hostile, sizeof(hostile));
    assert_int_equal(p.count, 0);
    assert_non_null(strstr(p.e.msg, "well-formed"));
}

static void test_an_empty_msgpack_body_is_refused(void **state)
{
    (void)state;
    struct parsed p;
    parse(&p, "", 0);
    assert_int_equal(p.count, 0);
    assert_non_null(strstr(p.e.msg, "empty body"));
}

static void test_a_msgpack_body_that_is_not_a_map_is_refused(void **state)
{
    (void)state;
    struct mp m;
    mp_init(&m);
    msgpack_pack_array(&m.pk, 1);
    mp_str(&m, "x", 1);
    struct parsed p;
    parse_mp(&p, &m);
    assert_int_equal(p.count, 0);
    assert_non_null(strstr(p.e.msg, "not a msgpack map"));
    assert_non_null(strstr(p.e.msg, "expected {\"note\""));
}

static void test_an_unknown_msgpack_key_is_named_with_its_path(void **state)
{
    (void)state;
    struct mp m;
    pairs(&m, 2, (const char *const[]){"note", "x", "colour", "red"});
    struct parsed p;
    parse_mp(&p, &m);
    assert_int_equal(p.count, 0);
    assert_string_equal(p.e.path, "colour");
    assert_non_null(strstr(p.e.msg, "unknown key \"colour\""));
}

static void test_a_long_or_binary_unknown_key_is_shown_cut_and_printable(void **state)
{
    (void)state;
    char key[100];
    memset(key, 'k', sizeof(key));
    key[0] = '\xc3'; /* not ASCII: shown as '?' so that the answer stays UTF-8 */
    key[1] = '\n';
    struct mp m;
    mp_init(&m);
    msgpack_pack_map(&m.pk, 1);
    mp_str(&m, key, sizeof(key));
    mp_str(&m, "x", 1);
    struct parsed p;
    parse_mp(&p, &m);
    assert_int_equal(p.count, 0);
    assert_int_equal(strlen(p.e.path), 67);
    assert_memory_equal(p.e.path, "??kkk", 5);
    assert_string_equal(p.e.path + 64, "...");
    assert_null(strchr(p.e.msg, '\n'));
}

static void test_a_duplicate_msgpack_key_is_refused(void **state)
{
    (void)state;
    struct mp m;
    pairs(&m, 2, (const char *const[]){"note", "x", "note", "y"});
    struct parsed p;
    parse_mp(&p, &m);
    assert_int_equal(p.count, 0);
    assert_string_equal(p.e.path, "note");
    assert_non_null(strstr(p.e.msg, "duplicate key \"note\""));
}

static void test_a_msgpack_body_with_both_keys_says_to_give_one(void **state)
{
    (void)state;
    struct mp m;
    mp_init(&m);
    msgpack_pack_map(&m.pk, 2);
    mp_key(&m, "note");
    mp_str(&m, "x", 1);
    mp_key(&m, "notes");
    msgpack_pack_array(&m.pk, 0);
    struct parsed p;
    parse_mp(&p, &m);
    assert_int_equal(p.count, 0);
    assert_string_equal(p.e.msg, "");
    assert_non_null(strstr(p.err, "give exactly one of"));
}

static void test_a_msgpack_note_of_bytes_not_text_is_refused(void **state)
{
    (void)state;
    struct mp m;
    mp_init(&m);
    msgpack_pack_map(&m.pk, 1);
    mp_key(&m, "note");
    msgpack_pack_bin_with_body(&m.pk, "x", 1);
    struct parsed p;
    parse_mp(&p, &m);
    assert_int_equal(p.count, 0);
    assert_string_equal(p.err, "note: must be a string of 1..4096 bytes");
}

static void test_an_empty_msgpack_note_is_named_by_its_index(void **state)
{
    (void)state;
    const char *const notes[] = {"a", "b", ""};
    struct mp m;
    batch(&m, notes, 3);
    struct parsed p;
    parse_mp(&p, &m);
    assert_int_equal(p.count, 0);
    assert_string_equal(p.err, "notes[2]: must be a string of 1..4096 bytes");
}

static void test_a_msgpack_note_that_is_not_utf8_is_refused(void **state)
{
    (void)state;
    const char *const notes[] = {"fine", "caf\xe9"};
    struct mp m;
    batch(&m, notes, 2);
    struct parsed p;
    parse_mp(&p, &m);
    assert_int_equal(p.count, 0);
    assert_string_equal(p.err, "notes[1]: not valid UTF-8");
}

static void test_a_msgpack_note_holding_a_nul_is_refused(void **state)
{
    (void)state;
    struct mp m;
    mp_init(&m);
    msgpack_pack_map(&m.pk, 1);
    mp_key(&m, "note");
    mp_str(&m, "a\0b", 3);
    struct parsed p;
    parse_mp(&p, &m);
    assert_int_equal(p.count, 0);
    assert_string_equal(p.err, "note: holds a NUL byte");
}

static void test_more_msgpack_notes_than_a_batch_holds_are_refused(void **state)
{
    (void)state;
    struct mp m;
    mp_init(&m);
    msgpack_pack_map(&m.pk, 1);
    mp_key(&m, "notes");
    msgpack_pack_array(&m.pk, NOTES_BODY_MAX + 1);
    for (int i = 0; i <= NOTES_BODY_MAX; i++)
        mp_str(&m, "n", 1);
    struct parsed p;
    parse_mp(&p, &m);
    assert_int_equal(p.count, 0);
    assert_string_equal(p.err, "notes: must be an array of 1..256 strings");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_msgpack_is_known_by_its_content_type_with_or_without_parameters),
        cmocka_unit_test(test_a_json_batch_gives_its_notes_in_order),
        cmocka_unit_test(test_a_json_note_that_is_not_a_string_is_named_in_the_error),
        cmocka_unit_test(test_a_note_given_as_an_array_is_refused_in_either_encoding),
        cmocka_unit_test(test_a_msgpack_note_is_read_like_a_json_one),
        cmocka_unit_test(test_a_msgpack_batch_gives_its_notes_in_order),
        cmocka_unit_test(test_a_truncated_msgpack_body_is_refused_as_a_body),
        cmocka_unit_test(test_bytes_after_the_msgpack_body_are_refused),
        cmocka_unit_test(test_a_count_the_body_cannot_hold_is_refused_before_unpacking),
        cmocka_unit_test(test_an_empty_msgpack_body_is_refused),
        cmocka_unit_test(test_a_msgpack_body_that_is_not_a_map_is_refused),
        cmocka_unit_test(test_an_unknown_msgpack_key_is_named_with_its_path),
        cmocka_unit_test(test_a_long_or_binary_unknown_key_is_shown_cut_and_printable),
        cmocka_unit_test(test_a_duplicate_msgpack_key_is_refused),
        cmocka_unit_test(test_a_msgpack_body_with_both_keys_says_to_give_one),
        cmocka_unit_test(test_a_msgpack_note_of_bytes_not_text_is_refused),
        cmocka_unit_test(test_an_empty_msgpack_note_is_named_by_its_index),
        cmocka_unit_test(test_a_msgpack_note_that_is_not_utf8_is_refused),
        cmocka_unit_test(test_a_msgpack_note_holding_a_nul_is_refused),
        cmocka_unit_test(test_more_msgpack_notes_than_a_batch_holds_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
