/* A drill's result as a ledger record of its own (chaos/drill.h): built
 * from a run, read from POST /drills's JSON with the path of each problem,
 * packed and decoded back, hostile payloads refused, and a chaos record
 * that is not a drill's told apart. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chaos/drill.h"
#include "chaos/fault.h"

#define DIGEST "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static struct drill_record sample(void)
{
    struct drill_record r = {.verdict = DRILL_DEVIATED,
                             .started_ms = 1704067200000ull,
                             .ended_ms = 1704067260000ull,
                             .nfaults = 2};
    strcpy(r.title, "Leader loss");
    strcpy(r.digest, DIGEST);
    strcpy(r.by, "alice@ops1");
    r.faults[0] = (struct drill_fault_result){.kind = "kill_node",
                                              .target = "leader",
                                              .name = "kill the leader",
                                              .detected = true,
                                              .detect_ms = 512,
                                              .recovered = true,
                                              .recover_ms = 1830,
                                              .slo_ms = 5000,
                                              .met = true};
    r.faults[1] = (struct drill_fault_result){
        .kind = "isolate_node", .target = "n3", .slo_ms = 1000, .met = false};
    return r;
}

/* Two records are the same when their JSON is. */
static void assert_same(const struct drill_record *a, const struct drill_record *b)
{
    json_t *ja = drill_record_json(a), *jb = drill_record_json(b);
    char *sa = json_dumps(ja, JSON_COMPACT | JSON_SORT_KEYS);
    char *sb = json_dumps(jb, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(sa, sb);
    free(sa);
    free(sb);
    json_decref(ja);
    json_decref(jb);
}

static size_t pack(const struct drill_record *r, msgpack_sbuffer *sb)
{
    msgpack_packer pk;
    msgpack_sbuffer_init(sb);
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    drill_record_pack(r, &pk);
    return sb->size;
}

/* The payload of a msgpack document written as JSON-ish by hand: packs a
 * json_t (objects as maps, null as nil). */
static void pack_json(msgpack_packer *pk, const json_t *j)
{
    const char *k;
    json_t *v;
    size_t i;
    switch (json_typeof(j)) {
    case JSON_OBJECT:
        msgpack_pack_map(pk, (uint32_t)json_object_size(j));
        json_object_foreach((json_t *)j, k, v)
        {
            msgpack_pack_str_with_body(pk, k, strlen(k));
            pack_json(pk, v);
        }
        break;
    case JSON_ARRAY:
        msgpack_pack_array(pk, (uint32_t)json_array_size(j));
        json_array_foreach(j, i, v) pack_json(pk, v);
        break;
    case JSON_STRING:
        msgpack_pack_str_with_body(pk, json_string_value(j), json_string_length(j));
        break;
    case JSON_INTEGER:
        if (json_integer_value(j) < 0)
            msgpack_pack_int64(pk, json_integer_value(j));
        else
            msgpack_pack_uint64(pk, (uint64_t)json_integer_value(j));
        break;
    case JSON_TRUE:
        msgpack_pack_true(pk);
        break;
    case JSON_FALSE:
        msgpack_pack_false(pk);
        break;
    default:
        msgpack_pack_nil(pk);
    }
}

/* Decodes the sample's payload with one change made to it (as JSON). */
static int decode_changed(void (*change)(json_t *doc), struct drill_record *out, char *err,
                          size_t errlen)
{
    struct drill_record r = sample();
    json_t *doc = drill_record_json(&r);
    json_object_set_new(doc, "record", json_string("drill"));
    change(doc);
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    pack_json(&pk, doc);
    json_decref(doc);
    int rv = drill_record_decode((const uint8_t *)sb.data, sb.size, out, err, errlen);
    msgpack_sbuffer_destroy(&sb);
    return rv;
}

static void assert_refused(void (*change)(json_t *doc), const char *needle)
{
    struct drill_record out;
    char err[256];
    assert_int_equal(decode_changed(change, &out, err, sizeof err), -1);
    if (!strstr(err, needle))
        fail_msg("error \"%s\" does not name \"%s\"", err, needle);
    assert_null(strchr(err, '\n'));
    assert_string_equal(out.title, ""); /* nothing half-decoded */
}

/* POST /drills's body from JSON text: 0, or -1 with the path. */
static int from_text(const char *text, struct drill_record *out, struct drill_error *err)
{
    json_t *j = json_loads(text, 0, NULL);
    assert_non_null(j);
    int rv = drill_record_from_json(j, out, err);
    json_decref(j);
    return rv;
}

static void assert_body_refused_at(const char *text, const char *path, const char *needle)
{
    struct drill_record out;
    struct drill_error err;
    assert_int_equal(from_text(text, &out, &err), -1);
    if (strcmp(err.path, path) != 0 || !strstr(err.message, needle))
        fail_msg("refused at \"%s\": %s; expected \"%s\" and \"%s\"", err.path, err.message, path,
                 needle);
}

/* ---- round trips ---- */

static void test_a_record_packs_and_decodes_back_unchanged(void **state)
{
    (void)state;
    struct drill_record in = sample(), out;
    msgpack_sbuffer sb;
    size_t n = pack(&in, &sb);
    char err[256];
    assert_int_equal(drill_record_decode((const uint8_t *)sb.data, n, &out, err, sizeof err), 0);
    assert_same(&in, &out);
    msgpack_sbuffer_destroy(&sb);
}

static void test_a_record_without_who_ran_it_round_trips(void **state)
{
    (void)state;
    struct drill_record in = sample(), out;
    in.by[0] = '\0';
    in.nfaults = 0;
    msgpack_sbuffer sb;
    size_t n = pack(&in, &sb);
    assert_int_equal(drill_record_decode((const uint8_t *)sb.data, n, &out, NULL, 0), 0);
    assert_same(&in, &out);
    msgpack_sbuffer_destroy(&sb);
}

static void test_the_json_of_a_record_is_read_back_unchanged(void **state)
{
    (void)state;
    struct drill_record in = sample(), out;
    struct drill_error err;
    json_t *j = drill_record_json(&in);
    assert_int_equal(drill_record_from_json(j, &out, &err), 0);
    assert_same(&in, &out);
    /* a time not measured is null */
    json_t *f1 = json_array_get(json_object_get(j, "faults"), 1);
    assert_true(json_is_null(json_object_get(f1, "time_to_recover_ms")));
    json_decref(j);
}

static void test_the_record_of_a_run_lists_each_action_with_an_slo_that_ran(void **state)
{
    (void)state;
    struct drill d;
    struct drill_error derr;
    static const char doc[] =
        "{\"title\": \"T\", \"steady-state-hypothesis\": {\"probes\": [{\"name\": \"l\", "
        "\"provider\": {\"type\": \"leader_exists\"}}]}, \"method\": ["
        "{\"name\": \"kill\", \"provider\": {\"type\": \"fault\", \"kind\": \"kill_node\", "
        "\"target\": \"leader\"}, \"slo\": {\"recover_within\": \"5s\"}},"
        "{\"name\": \"wait\", \"provider\": {\"type\": \"pause\", \"duration\": \"1s\"}},"
        "{\"name\": \"again\", \"provider\": {\"type\": \"fault\", \"kind\": \"kill_node\", "
        "\"target\": \"leader\"}, \"slo\": {\"recover_within\": \"1s\"}}]}";
    assert_int_equal(drill_parse(doc, strlen(doc), &d, &derr), 0);
    struct drill_run r = {.started_ms = 1000, .ended_ms = 9000, .before_checked = true};
    r.before[0].held = true;
    r.method[0] = (struct drill_step_result){.status = DRILL_STEP_DONE,
                                             .detected = true,
                                             .detect_ms = 100,
                                             .recovered = true,
                                             .recover_ms = 6000};
    r.method[1].status = DRILL_STEP_DONE;
    uint8_t digest[DRILL_DIGEST_BYTES];
    memset(digest, 0xab, sizeof digest);
    struct drill_record rec;
    drill_record_from_run(&d, &r, digest, "bob", &rec);
    assert_string_equal(rec.title, "T");
    assert_int_equal(rec.verdict, DRILL_DEVIATED);
    assert_int_equal(rec.nfaults, 1); /* the pause has no SLO; the last did not run */
    assert_string_equal(rec.faults[0].kind, "kill_node");
    assert_string_equal(rec.faults[0].name, "kill");
    assert_int_equal(rec.faults[0].recover_ms, 6000);
    assert_int_equal(rec.faults[0].slo_ms, 5000);
    assert_false(rec.faults[0].met);
    assert_int_equal(strspn(rec.digest, "ab"), 64);
    assert_string_equal(rec.by, "bob");
    drill_free(&d);
}

static void test_the_record_of_a_run_replaces_control_characters_so_the_node_takes_it(void **state)
{
    (void)state;
    struct drill d;
    struct drill_error derr;
    static const char doc[] =
        "{\"title\": \"tab\\there\", \"steady-state-hypothesis\": {\"probes\": [{\"name\": "
        "\"l\", \"provider\": {\"type\": \"leader_exists\"}}]}, \"method\": [{\"name\": "
        "\"wait\", \"provider\": {\"type\": \"pause\", \"duration\": \"1s\"}}]}";
    assert_int_equal(drill_parse(doc, strlen(doc), &d, &derr), 0);
    struct drill_run r = {.started_ms = 1000, .ended_ms = 2000};
    uint8_t digest[DRILL_DIGEST_BYTES] = {0};
    struct drill_record rec, back;
    drill_record_from_run(&d, &r, digest, "ops\n1", &rec);
    assert_string_equal(rec.title, "tab?here");
    assert_string_equal(rec.by, "ops?1");
    json_t *j = drill_record_json(&rec);
    assert_int_equal(drill_record_from_json(j, &back, &derr), 0);
    json_decref(j);
    drill_free(&d);
}

/* ---- POST /drills's body ---- */

#define BODY_HEAD "{\"title\": \"T\", \"verdict\": \"held\", \"digest\": \"" DIGEST "\", "

static void test_a_body_with_an_unknown_verdict_is_refused_at_verdict(void **state)
{
    (void)state;
    assert_body_refused_at("{\"title\": \"T\", \"verdict\": \"passed\", \"digest\": \"" DIGEST
                           "\", \"started_ms\": 1, \"ended_ms\": 2, \"faults\": []}",
                           "verdict", "\"passed\" is not a verdict");
}

static void test_a_body_with_a_bad_fault_field_is_refused_at_its_path(void **state)
{
    (void)state;
    assert_body_refused_at(BODY_HEAD "\"started_ms\": 1, \"ended_ms\": 2, \"faults\": [{\"kind\": "
                                     "\"kill_node\", \"slo_ms\": 1, \"met\": true}, {\"kind\": "
                                     "\"kill_node\", \"slo_ms\": \"5s\", \"met\": true}]}",
                           "faults[1].slo_ms", "whole number of milliseconds");
}

static void test_a_body_with_an_unknown_key_is_refused_naming_it(void **state)
{
    (void)state;
    assert_body_refused_at(BODY_HEAD "\"started_ms\": 1, \"ended_ms\": 2, \"faults\": [], "
                                     "\"score\": 3}",
                           "score", "");
}

static void test_a_body_without_faults_is_refused_at_faults(void **state)
{
    (void)state;
    assert_body_refused_at(BODY_HEAD "\"started_ms\": 1, \"ended_ms\": 2}", "faults", "missing");
}

static void test_a_body_whose_digest_is_not_hex_is_refused_at_digest(void **state)
{
    (void)state;
    assert_body_refused_at("{\"title\": \"T\", \"verdict\": \"held\", \"digest\": \"xyz\", "
                           "\"started_ms\": 1, \"ended_ms\": 2, \"faults\": []}",
                           "digest", "64 lowercase hex digits");
}

static void test_a_body_that_ends_before_it_starts_is_refused_at_ended_ms(void **state)
{
    (void)state;
    assert_body_refused_at(BODY_HEAD "\"started_ms\": 5, \"ended_ms\": 2, \"faults\": []}",
                           "ended_ms", "before started_ms");
}

static void test_a_body_with_a_control_character_in_the_title_is_refused(void **state)
{
    (void)state;
    assert_body_refused_at("{\"title\": \"a\\nb\", \"verdict\": \"held\", \"digest\": \"" DIGEST
                           "\", \"started_ms\": 1, \"ended_ms\": 2, \"faults\": []}",
                           "title", "control characters");
}

static void test_a_body_with_too_many_faults_is_refused_at_faults(void **state)
{
    (void)state;
    char text[8192] = BODY_HEAD "\"started_ms\": 1, \"ended_ms\": 2, \"faults\": [";
    for (int i = 0; i <= DRILL_MAX_ACTIONS; i++)
        strcat(text, i ? ",{\"kind\":\"k\",\"slo_ms\":1,\"met\":true}"
                       : "{\"kind\":\"k\",\"slo_ms\":1,\"met\":true}");
    strcat(text, "]}");
    assert_body_refused_at(text, "faults", "at most 32");
}

static void test_a_body_that_is_not_an_object_is_refused_at_the_document(void **state)
{
    (void)state;
    assert_body_refused_at("[1, 2]", "", "must be a JSON object");
}

/* ---- hostile payloads ---- */

static void no_digest(json_t *d)
{
    json_object_del(d, "digest");
}
static void verdict_number(json_t *d)
{
    json_object_set_new(d, "verdict", json_integer(1));
}
static void fault_met_missing(json_t *d)
{
    json_object_del(json_array_get(json_object_get(d, "faults"), 1), "met");
}
static void fault_kind_bad(json_t *d)
{
    json_object_set_new(json_array_get(json_object_get(d, "faults"), 0), "kind",
                        json_string("Kill Node"));
}
static void time_negative(json_t *d)
{
    json_object_set_new(d, "started_ms", json_integer(-5));
}
static void title_too_long(json_t *d)
{
    char t[DRILL_TITLE_MAX + 8];
    memset(t, 'x', sizeof t - 1);
    t[sizeof t - 1] = '\0';
    json_object_set_new(d, "title", json_string(t));
}
static void faults_not_array(json_t *d)
{
    json_object_set_new(d, "faults", json_string("none"));
}
static void fault_not_map(json_t *d)
{
    json_array_set_new(json_object_get(d, "faults"), 0, json_integer(7));
}

static void test_hostile_fields_are_refused_naming_the_field(void **state)
{
    (void)state;
    assert_refused(no_digest, "digest: missing");
    assert_refused(verdict_number, "verdict: must be a string");
    assert_refused(fault_met_missing, "faults[1].met");
    assert_refused(fault_kind_bad, "faults[0].kind");
    assert_refused(time_negative, "started_ms");
    assert_refused(title_too_long, "title: too long");
    assert_refused(faults_not_array, "faults");
    assert_refused(fault_not_map, "faults[0]: must be a map");
}

static void test_a_title_with_a_nul_byte_is_refused(void **state)
{
    (void)state;
    struct drill_record in = sample(), out;
    msgpack_sbuffer sb;
    size_t n = pack(&in, &sb);
    char *t = memmem(sb.data, n, "Leader", 6);
    assert_non_null(t);
    t[2] = '\0';
    char err[256];
    assert_int_equal(drill_record_decode((const uint8_t *)sb.data, n, &out, err, sizeof err), -1);
    assert_non_null(strstr(err, "title"));
    msgpack_sbuffer_destroy(&sb);
}

static void test_a_truncated_payload_is_refused(void **state)
{
    (void)state;
    struct drill_record in = sample(), out;
    msgpack_sbuffer sb;
    size_t n = pack(&in, &sb);
    char err[256];
    for (size_t cut = 0; cut < n; cut += 7)
        assert_int_equal(drill_record_decode((const uint8_t *)sb.data, cut, &out, err, sizeof err),
                         -1);
    assert_int_equal(drill_record_decode(NULL, 4, &out, err, sizeof err), -1);
    msgpack_sbuffer_destroy(&sb);
}

static void test_a_huge_announced_array_is_refused_before_unpacking(void **state)
{
    (void)state;
    /* {"faults": array32 of 4e9} */
    static const uint8_t p[] = {0x81, 0xa6, 'f',  'a',  'u',  'l',  't',
                                's',  0xdd, 0xff, 0xff, 0xff, 0xff, 0xc0};
    struct drill_record out;
    char err[256];
    assert_int_equal(drill_record_decode(p, sizeof p, &out, err, sizeof err), -1);
    assert_non_null(strstr(err, "well-formed"));
}

static void test_nesting_deeper_than_a_fault_is_refused(void **state)
{
    (void)state;
    static const uint8_t p[] = {0x81, 0xa1, 'a', 0x91, 0x91, 0x90}; /* {"a": [[[]]]} */
    struct drill_record out;
    char err[256];
    assert_int_equal(drill_record_decode(p, sizeof p, &out, err, sizeof err), -1);
    assert_non_null(strstr(err, "depth at most 3"));
}

static void test_another_chaos_record_is_not_a_drill(void **state)
{
    (void)state;
    struct chaos_record stop = {.kind = CHAOS_REC_STOP};
    strcpy(stop.reason, "POST /chaos/stop on n1");
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    chaos_record_pack(&stop, &pk);
    struct drill_record out;
    char err[256];
    assert_int_equal(drill_record_decode((const uint8_t *)sb.data, sb.size, &out, err, sizeof err),
                     1);
    msgpack_sbuffer_destroy(&sb);
}

/* Every node folds chaos entries with chaos_record_decode: a drill's must
 * read as "another record kind", not as a damaged entry (which raises
 * chaos.record_ignored on every node). */
static void test_the_injector_decoder_reads_a_drill_record_as_another_kind(void **state)
{
    (void)state;
    struct drill_record in = sample();
    msgpack_sbuffer sb;
    size_t n = pack(&in, &sb);
    struct chaos_record r;
    char err[256];
    assert_int_equal(chaos_record_decode((const uint8_t *)sb.data, n, &r, err, sizeof err), 0);
    assert_int_equal(r.kind, CHAOS_REC_OTHER);
    msgpack_sbuffer_destroy(&sb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_record_packs_and_decodes_back_unchanged),
        cmocka_unit_test(test_a_record_without_who_ran_it_round_trips),
        cmocka_unit_test(test_the_json_of_a_record_is_read_back_unchanged),
        cmocka_unit_test(test_the_record_of_a_run_lists_each_action_with_an_slo_that_ran),
        cmocka_unit_test(test_the_record_of_a_run_replaces_control_characters_so_the_node_takes_it),
        cmocka_unit_test(test_a_body_with_an_unknown_verdict_is_refused_at_verdict),
        cmocka_unit_test(test_a_body_with_a_bad_fault_field_is_refused_at_its_path),
        cmocka_unit_test(test_a_body_with_an_unknown_key_is_refused_naming_it),
        cmocka_unit_test(test_a_body_without_faults_is_refused_at_faults),
        cmocka_unit_test(test_a_body_whose_digest_is_not_hex_is_refused_at_digest),
        cmocka_unit_test(test_a_body_that_ends_before_it_starts_is_refused_at_ended_ms),
        cmocka_unit_test(test_a_body_with_a_control_character_in_the_title_is_refused),
        cmocka_unit_test(test_a_body_with_too_many_faults_is_refused_at_faults),
        cmocka_unit_test(test_a_body_that_is_not_an_object_is_refused_at_the_document),
        cmocka_unit_test(test_hostile_fields_are_refused_naming_the_field),
        cmocka_unit_test(test_a_title_with_a_nul_byte_is_refused),
        cmocka_unit_test(test_a_truncated_payload_is_refused),
        cmocka_unit_test(test_a_huge_announced_array_is_refused_before_unpacking),
        cmocka_unit_test(test_nesting_deeper_than_a_fault_is_refused),
        cmocka_unit_test(test_another_chaos_record_is_not_a_drill),
        cmocka_unit_test(test_the_injector_decoder_reads_a_drill_record_as_another_kind),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
