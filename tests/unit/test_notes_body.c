/* POST /ledger/notes bodies, JSON and msgpack (node/api/notes_body.h). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <msgpack.h>
#include <stdlib.h>
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

/* The heap a parse holds at its worst, counted by ASan's allocator hooks
 * (weak: a build without ASan has none, and skips the test that needs
 * them). Frees of what was held before the parse count down too, so the
 * figure may be low, never high. */
int __sanitizer_install_malloc_and_free_hooks(void (*)(const volatile void *, size_t),
                                              void (*)(const volatile void *))
    __attribute__((weak));
size_t __sanitizer_get_allocated_size(const volatile void *p) __attribute__((weak));

static bool counting;
static long long held, peak;

static void on_malloc(const volatile void *ptr, size_t size)
{
    (void)ptr;
    if (counting && (held += (long long)size) > peak)
        peak = held;
}

static void on_free(const volatile void *ptr)
{
    if (counting && ptr)
        held -= (long long)__sanitizer_get_allocated_size(ptr);
}

static long long parse_peak(struct parsed *p, const void *buf, size_t len)
{
    if (!__sanitizer_install_malloc_and_free_hooks)
        skip();
    held = peak = 0;
    counting = true;
    parse(p, buf, len);
    counting = false;
    return peak;
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

/* jansson quotes the text near a syntax error as it was sent: raw control
 * characters (a newline, an escape sequence for the terminal of whoever
 * reads the error) must not reach the one-line message. Found by
 * fuzz_notes_body. */
static void test_a_json_body_that_does_not_parse_is_refused_in_one_printable_line(void **state)
{
    (void)state;
    static const char *const known[] = {"note", "notes", NULL};
    const char body[] = "{\"notes\":[\"a\",\"\\\n\x1b[2J\n\"]}";
    struct http_body_error e;
    memset(&e, 0, sizeof e);
    assert_null(http_body_parse(body, sizeof body - 1, known, "{\"notes\": [...]}", &e));
    assert_non_null(strstr(e.msg, "not JSON"));
    for (const char *c = e.msg; *c; c++)
        assert_true((unsigned char)*c >= 0x20 && *c != 0x7f);
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

/* The 400's "path", as every endpoint gives it: the note's, the array's,
 * or the body's (""). */
static void test_a_refused_json_body_gives_the_path_of_its_problem(void **state)
{
    (void)state;
    static const struct {
        const char *json, *path;
    } cases[] = {{"{\"notes\":[\"ok\", 7]}", "notes[1]"},
                 {"{\"note\":\"\"}", "note"},
                 {"{\"notes\":[]}", "notes"},
                 {"{\"note\":\"a\", \"notes\":[\"b\"]}", ""}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *body = json_loads(cases[i].json, 0, NULL);
        struct notes_body nb;
        char err[256];
        assert_int_equal(notes_body_from_json(body, &nb, err, sizeof(err)), 0);
        assert_string_equal(nb.path, cases[i].path);
        json_decref(body);
    }
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
    assert_string_equal(p.nb.path, "notes[2]");
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

static void test_a_batch_too_long_is_refused_before_msgpack_c_allocates_for_it(void **state)
{
    (void)state;
    /* {"notes": [nil, nil, ...]} filling the largest body: msgpack-c would
     * allocate an object (24 bytes) for every nil */
    const size_t len = HTTP_MAX_BODY;
    unsigned char *body = malloc(len);
    assert_non_null(body);
    const unsigned char head[] = {0x81, 0xa5, 'n', 'o', 't', 'e', 's', 0xdd, 0, 0, 0, 0};
    uint32_t nils = (uint32_t)(len - sizeof(head));
    memcpy(body, head, sizeof(head));
    for (int i = 0; i < 4; i++)
        body[8 + i] = (unsigned char)(nils >> (24 - 8 * i));
    memset(body + sizeof(head), 0xc0, nils);
    struct parsed p;
    long long peak_bytes = parse_peak(&p, body, len);
    free(body);
    assert_int_equal(p.count, 0);
    assert_string_equal(p.err, "notes: must be an array of 1..256 strings");
    if (peak_bytes >= (long long)len)
        fail_msg("a %zu-byte body held %lld bytes of heap while parsed", len, peak_bytes);
}

/* {key: [nil x n]} */
static void nils_under(struct mp *m, const char *key, size_t n)
{
    mp_init(m);
    msgpack_pack_map(&m->pk, 1);
    mp_key(m, key);
    msgpack_pack_array(&m->pk, n);
    for (size_t i = 0; i < n; i++)
        msgpack_pack_nil(&m->pk);
}

static void test_a_long_array_under_an_unknown_key_is_refused_naming_the_key(void **state)
{
    (void)state;
    struct mp m;
    nils_under(&m, "colour", NOTES_BODY_MAX + 1);
    struct parsed p;
    parse_mp(&p, &m);
    assert_int_equal(p.count, 0);
    assert_string_equal(p.e.path, "colour");
    assert_non_null(strstr(p.e.msg, "unknown key \"colour\""));
}

static void test_a_long_array_as_the_note_is_not_a_note(void **state)
{
    (void)state;
    struct mp m;
    nils_under(&m, "note", NOTES_BODY_MAX + 1);
    struct parsed p;
    parse_mp(&p, &m);
    assert_int_equal(p.count, 0);
    assert_string_equal(p.err, "note: must be a string of 1..4096 bytes");
}

static void test_a_long_array_as_the_body_is_refused_saying_where(void **state)
{
    (void)state;
    struct mp m;
    mp_init(&m);
    msgpack_pack_array(&m.pk, NOTES_BODY_MAX + 1);
    for (int i = 0; i <= NOTES_BODY_MAX; i++)
        msgpack_pack_nil(&m.pk);
    struct parsed p;
    parse_mp(&p, &m);
    assert_int_equal(p.count, 0);
    assert_non_null(strstr(p.e.msg, "a msgpack container of 257 items at byte 0, more than 256"));
}

static void test_a_body_of_more_objects_than_a_batch_is_refused_as_a_body(void **state)
{
    (void)state;
    /* {"notes": [nil x 200], "x": [nil x 200]}: no one array too long */
    struct mp m;
    mp_init(&m);
    msgpack_pack_map(&m.pk, 2);
    for (int k = 0; k < 2; k++) {
        mp_key(&m, k ? "x" : "notes");
        msgpack_pack_array(&m.pk, 200);
        for (int i = 0; i < 200; i++)
            msgpack_pack_nil(&m.pk);
    }
    struct parsed p;
    parse_mp(&p, &m);
    assert_int_equal(p.count, 0);
    assert_string_equal(p.e.path, "");
    assert_non_null(strstr(p.e.msg, "body: 405 msgpack objects, more than a body of 256 notes"));
}

int main(void)
{
    if (__sanitizer_install_malloc_and_free_hooks)
        __sanitizer_install_malloc_and_free_hooks(on_malloc, on_free);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_msgpack_is_known_by_its_content_type_with_or_without_parameters),
        cmocka_unit_test(test_a_json_batch_gives_its_notes_in_order),
        cmocka_unit_test(test_a_json_body_that_does_not_parse_is_refused_in_one_printable_line),
        cmocka_unit_test(test_a_json_note_that_is_not_a_string_is_named_in_the_error),
        cmocka_unit_test(test_a_refused_json_body_gives_the_path_of_its_problem),
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
        cmocka_unit_test(test_a_batch_too_long_is_refused_before_msgpack_c_allocates_for_it),
        cmocka_unit_test(test_a_long_array_under_an_unknown_key_is_refused_naming_the_key),
        cmocka_unit_test(test_a_long_array_as_the_note_is_not_a_note),
        cmocka_unit_test(test_a_long_array_as_the_body_is_refused_saying_where),
        cmocka_unit_test(test_a_body_of_more_objects_than_a_batch_is_refused_as_a_body),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
