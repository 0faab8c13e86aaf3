/* The chaos fault: its ledger record (round trip, hostile payloads), its
 * JSON, an operator's request, and healing at expiry on the target alone. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "chaos/fault.h"

#define T0 1704067200000ull

static struct chaos_fault fault(enum chaos_kind k, const char *node, uint64_t start,
                                uint64_t duration)
{
    struct chaos_fault f = {.kind = k, .start_ms = start, .duration_ms = duration};
    strcpy(f.id, "chaos-1");
    strcpy(f.node, node);
    if (chaos_kind_on_service(k))
        strcpy(f.service, "web");
    if (k == CHAOS_DELAY_MESSAGES)
        f.delay_ms = 200;
    f.expires_ms = start + duration;
    return f;
}

/* Packs r into buf; returns the length. */
static size_t pack(const struct chaos_record *r, msgpack_sbuffer *sb)
{
    msgpack_packer pk;
    msgpack_sbuffer_init(sb);
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    chaos_record_pack(r, &pk);
    return sb->size;
}

static void assert_err_has(const char *err, const char *needle)
{
    assert_null(strchr(err, '\n'));
    if (!strstr(err, needle)) {
        print_error("error \"%s\" does not mention \"%s\"\n", err, needle);
        fail();
    }
}

static void assert_rejected(const void *p, size_t n, const char *needle)
{
    struct chaos_record r;
    char err[256];
    assert_int_equal(chaos_record_decode(p, n, &r, err, sizeof err), -1);
    assert_err_has(err, needle);
}

static void test_a_fault_record_round_trips(void **state)
{
    (void)state;
    for (int k = 0; k < CHAOS_KIND_COUNT; k++) {
        struct chaos_record in = {.kind = CHAOS_REC_FAULT, .has_fault = true}, out;
        in.fault = fault((enum chaos_kind)k, "n2", T0, 30000);
        in.fault.origin = CHAOS_ORIGIN_OPERATOR;
        in.fault.forced = true;
        if (k == CHAOS_ISOLATE_NODE)
            strcpy(in.fault.peer, "n3");
        if (k == CHAOS_KILL_NODE)
            in.fault.boot = 1764979200; /* the killed process's epoch */
        msgpack_sbuffer sb;
        size_t n = pack(&in, &sb);
        char err[256] = "";
        int rc = chaos_record_decode((const uint8_t *)sb.data, n, &out, err, sizeof err);
        if (rc)
            print_error("%s: %s\n", chaos_kind_name((enum chaos_kind)k), err);
        assert_int_equal(rc, 0);
        assert_memory_equal(&in, &out, sizeof in);
        msgpack_sbuffer_destroy(&sb);
    }
}

static void test_healed_stop_enable_and_refused_records_round_trip(void **state)
{
    (void)state;
    struct chaos_record recs[4] = {
        {.kind = CHAOS_REC_HEALED, .reason = "expired"},
        {.kind = CHAOS_REC_STOP, .reason = "POST /chaos/stop on n2"},
        {.kind = CHAOS_REC_ENABLE},
        {.kind = CHAOS_REC_REFUSED, .reason = "rollout: a rollout or rollback is running"},
    };
    strcpy(recs[0].fault.id, "chaos-9");
    for (size_t i = 0; i < 4; i++) {
        struct chaos_record out;
        msgpack_sbuffer sb;
        size_t n = pack(&recs[i], &sb);
        assert_int_equal(chaos_record_decode((const uint8_t *)sb.data, n, &out, NULL, 0), 0);
        assert_memory_equal(&recs[i], &out, sizeof out);
        msgpack_sbuffer_destroy(&sb);
    }
}

static void test_a_refused_record_keeps_the_chosen_target(void **state)
{
    (void)state;
    struct chaos_record in = {.kind = CHAOS_REC_REFUSED, .has_fault = true, .reason = "x"}, out;
    in.fault.kind = CHAOS_PAUSE_SERVICE;
    strcpy(in.fault.node, "n1");
    strcpy(in.fault.service, "db");
    msgpack_sbuffer sb;
    size_t n = pack(&in, &sb);
    assert_int_equal(chaos_record_decode((const uint8_t *)sb.data, n, &out, NULL, 0), 0);
    assert_true(out.has_fault);
    assert_string_equal(out.fault.service, "db");
    assert_int_equal(out.fault.kind, CHAOS_PAUSE_SERVICE);
    msgpack_sbuffer_destroy(&sb);
}

static void test_a_drill_record_decodes_as_another_kind(void **state)
{
    (void)state;
    /* {"record": "drill", "title": "x"} */
    static const uint8_t p[] = {0x82, 0xa6, 'r', 'e',  'c', 'o', 'r', 'd', 0xa5, 'd',  'r',
                                'i',  'l',  'l', 0xa5, 't', 'i', 't', 'l', 'e',  0xa1, 'x'};
    struct chaos_record r;
    assert_int_equal(chaos_record_decode(p, sizeof p, &r, NULL, 0), 0);
    assert_int_equal(r.kind, CHAOS_REC_OTHER);
}

/* A watchtower's recovery entry, as node/chaos/watch_lead.c packs it:
 * the chaos state reads which service ran again where. */
static void test_a_recovery_entry_gives_the_restarted_service(void **state)
{
    (void)state;
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    static const char *const keys[] = {"node", "service", "cause", "leader"};
    static const char *const vals[] = {"n2", "web", "signal 9", "n1"};
    msgpack_pack_map(&pk, 7);
    for (size_t i = 0; i < 4; i++) {
        msgpack_pack_str_with_body(&pk, keys[i], strlen(keys[i]));
        msgpack_pack_str_with_body(&pk, vals[i], strlen(vals[i]));
    }
    static const char *const nums[] = {"attempts", "failed_at_ms", "ttr_ms"};
    for (size_t i = 0; i < 3; i++) {
        msgpack_pack_str_with_body(&pk, nums[i], strlen(nums[i]));
        msgpack_pack_uint64(&pk, i == 1 ? T0 + 7 : 1);
    }
    struct chaos_restart r;
    assert_int_equal(chaos_restart_decode((const uint8_t *)sb.data, sb.size, &r), 0);
    assert_string_equal(r.node, "n2");
    assert_string_equal(r.service, "web");
    assert_int_equal(r.failed_at_ms, T0 + 7);
    assert_int_equal(chaos_restart_decode((const uint8_t *)sb.data, sb.size - 1, &r), -1);
    msgpack_sbuffer_destroy(&sb);
}

static void test_an_empty_or_truncated_payload_is_rejected(void **state)
{
    (void)state;
    struct chaos_record in = {.kind = CHAOS_REC_FAULT,
                              .fault = fault(CHAOS_KILL_NODE, "n1", T0, 1)};
    msgpack_sbuffer sb;
    size_t n = pack(&in, &sb);
    assert_rejected(sb.data, 0, "well-formed");
    assert_rejected(sb.data, n - 1, "well-formed");
    assert_rejected(NULL, 5, "well-formed");
    msgpack_sbuffer_destroy(&sb);
}

static void test_a_huge_announced_map_is_rejected_before_unpacking(void **state)
{
    (void)state;
    static const uint8_t p[] = {0xdf, 0xff, 0xff, 0xff, 0xff, 0xa1, 'x'}; /* map32 of 4e9 */
    assert_rejected(p, sizeof p, "well-formed");
}

static void test_deep_nesting_is_rejected(void **state)
{
    (void)state;
    static const uint8_t p[] = {0x81, 0xa1, 'a', 0x91, 0x91, 0x90}; /* {"a": [[[]]]} */
    assert_rejected(p, sizeof p, "depth");
}

static void test_trailing_bytes_are_rejected(void **state)
{
    (void)state;
    static const uint8_t p[] = {0x81, 0xa6, 'r', 'e', 'c', 'o', 'r', 'd',
                                0xa6, 'e',  'n', 'a', 'b', 'l', 'e', 0xc0};
    assert_rejected(p, sizeof p, "well-formed");
}

static void test_a_payload_that_is_not_a_map_is_rejected(void **state)
{
    (void)state;
    static const uint8_t p[] = {0x92, 0x01, 0x02};
    assert_rejected(p, sizeof p, "must be a map");
}

static void test_a_missing_record_field_is_named(void **state)
{
    (void)state;
    static const uint8_t p[] = {0x80};
    assert_rejected(p, sizeof p, "record: missing");
}

/* A fault record with one field replaced (or dropped when v is NULL). */
static void assert_fault_field_rejected(const char *key, const char *v, const char *needle)
{
    struct chaos_fault f = fault(CHAOS_KILL_SERVICE, "n2", T0, 1000);
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    const char *keys[] = {"record",   "id",          "kind",       "node",  "service",
                          "start_ms", "duration_ms", "expires_ms", "origin"};
    size_t nk = sizeof keys / sizeof keys[0], n = 0;
    for (size_t i = 0; i < nk; i++)
        n += strcmp(keys[i], key) != 0 || v != NULL;
    msgpack_pack_map(&pk, (uint32_t)n);
    for (size_t i = 0; i < nk; i++) {
        bool mine = strcmp(keys[i], key) == 0;
        if (mine && !v)
            continue;
        msgpack_pack_str_with_body(&pk, keys[i], strlen(keys[i]));
        if (mine && strcmp(v, "#int") == 0)
            msgpack_pack_int(&pk, -1);
        else if (mine)
            msgpack_pack_str_with_body(&pk, v, strlen(v));
        else if (strstr(keys[i], "_ms"))
            msgpack_pack_uint64(&pk, strcmp(keys[i], "start_ms") == 0      ? f.start_ms
                                     : strcmp(keys[i], "duration_ms") == 0 ? f.duration_ms
                                                                           : f.expires_ms);
        else {
            const char *s = strcmp(keys[i], "record") == 0   ? "fault"
                            : strcmp(keys[i], "id") == 0     ? f.id
                            : strcmp(keys[i], "kind") == 0   ? "kill_service"
                            : strcmp(keys[i], "node") == 0   ? f.node
                            : strcmp(keys[i], "origin") == 0 ? "injector"
                                                             : f.service;
            msgpack_pack_str_with_body(&pk, s, strlen(s));
        }
    }
    assert_rejected(sb.data, sb.size, needle);
    msgpack_sbuffer_destroy(&sb);
}

static void test_a_fault_with_an_unknown_kind_is_rejected(void **state)
{
    (void)state;
    assert_fault_field_rejected("kind", "reboot_planet",
                                "kind: \"reboot_planet\" is not a fault kind");
}

static void test_a_fault_without_its_node_is_rejected(void **state)
{
    (void)state;
    assert_fault_field_rejected("node", NULL, "node: missing");
}

static void test_a_fault_with_a_bad_node_id_is_rejected(void **state)
{
    (void)state;
    assert_fault_field_rejected("node", "../etc", "node: \"../etc\" is not a node id");
}

static void test_a_service_fault_without_a_service_is_rejected(void **state)
{
    (void)state;
    assert_fault_field_rejected("service", NULL, "service: missing for kill_service");
}

static void test_a_fault_with_a_negative_time_is_rejected(void **state)
{
    (void)state;
    assert_fault_field_rejected("expires_ms", "#int", "expires_ms: must be a whole number");
}

static void test_a_string_with_a_nul_byte_is_rejected(void **state)
{
    (void)state;
    static const char id[] = {'a', '\0', 'b'};
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 2);
    msgpack_pack_str_with_body(&pk, "record", 6);
    msgpack_pack_str_with_body(&pk, "healed", 6);
    msgpack_pack_str_with_body(&pk, "id", 2);
    msgpack_pack_str_with_body(&pk, id, sizeof id);
    assert_rejected(sb.data, sb.size, "id: holds a NUL byte");
    msgpack_sbuffer_destroy(&sb);
}

static void test_a_fault_with_a_wrong_expiry_is_rejected_by_the_check(void **state)
{
    (void)state;
    struct chaos_fault f = fault(CHAOS_KILL_NODE, "n2", T0, 1000);
    char err[256];
    f.expires_ms++;
    assert_int_equal(chaos_fault_check(&f, err, sizeof err), -1);
    assert_err_has(err, "expires_ms: must be start_ms + duration_ms");
}

static void test_the_api_json_of_a_fault_names_its_target(void **state)
{
    (void)state;
    struct chaos_fault f = fault(CHAOS_ISOLATE_NODE, "n2", T0, 5000);
    json_t *j = chaos_fault_json(&f);
    assert_string_equal(json_string_value(json_object_get(j, "kind")), "isolate_node");
    assert_string_equal(json_string_value(json_object_get(j, "node")), "n2");
    assert_true(json_is_null(json_object_get(j, "peer"))); /* from every peer */
    assert_null(json_object_get(j, "service"));
    assert_int_equal(json_integer_value(json_object_get(j, "expires_ms")), T0 + 5000);
    assert_string_equal(json_string_value(json_object_get(j, "origin")), "injector");
    json_decref(j);
}

static void test_the_api_json_of_a_healed_record_has_its_reason(void **state)
{
    (void)state;
    struct chaos_record r = {.kind = CHAOS_REC_HEALED, .reason = "expired"};
    strcpy(r.fault.id, "chaos-3");
    json_t *j = chaos_record_json(&r);
    assert_string_equal(json_string_value(json_object_get(j, "record")), "healed");
    assert_string_equal(json_string_value(json_object_get(j, "id")), "chaos-3");
    assert_string_equal(json_string_value(json_object_get(j, "reason")), "expired");
    json_decref(j);
}

static void test_a_fault_is_described_for_events(void **state)
{
    (void)state;
    char out[128];
    struct chaos_fault f = fault(CHAOS_KILL_SERVICE, "n3", T0, 60000);
    chaos_fault_describe(&f, out, sizeof out);
    assert_string_equal(out, "kill service web on n3");
    f = fault(CHAOS_ISOLATE_NODE, "n2", T0, 60000);
    chaos_fault_describe(&f, out, sizeof out);
    assert_string_equal(out, "isolate n2 from all peers for 1m");
    strcpy(f.peer, "n1");
    chaos_fault_describe(&f, out, sizeof out);
    assert_string_equal(out, "isolate n2 from n1 for 1m");
    f = fault(CHAOS_DELAY_MESSAGES, "n2", T0, 1500);
    chaos_fault_describe(&f, out, sizeof out);
    assert_string_equal(out, "delay n2's messages by 200ms for 1s500ms");
    f = fault(CHAOS_KILL_NODE, "n4", T0, 1500);
    chaos_fault_describe(&f, out, sizeof out);
    assert_string_equal(out, "kill node n4");
}

static int request(const char *text, struct chaos_fault *f, char *err, size_t errlen)
{
    json_error_t je;
    json_t *body = json_loads(text, 0, &je);
    assert_non_null(body);
    int rc = chaos_request_from_json(body, f, err, errlen);
    json_decref(body);
    return rc;
}

static void test_an_operator_request_is_read_from_json(void **state)
{
    (void)state;
    struct chaos_fault f;
    char err[256];
    assert_int_equal(request("{\"kind\": \"pause_service\", \"target\": \"n3\", \"service\": "
                             "\"web\", \"duration\": \"30s\", \"force\": true}",
                             &f, err, sizeof err),
                     0);
    assert_int_equal(f.kind, CHAOS_PAUSE_SERVICE);
    assert_string_equal(f.node, "n3");
    assert_string_equal(f.service, "web");
    assert_int_equal(f.duration_ms, 30000);
    assert_true(f.forced);
    assert_int_equal(f.origin, CHAOS_ORIGIN_OPERATOR);
}

static void assert_request_error(const char *text, const char *needle)
{
    struct chaos_fault f;
    char err[256];
    assert_int_equal(request(text, &f, err, sizeof err), -1);
    assert_err_has(err, needle);
}

static void test_an_operator_request_with_an_unknown_kind_is_an_error(void **state)
{
    (void)state;
    assert_request_error("{\"kind\": \"nuke\", \"target\": \"n1\"}", "kind: \"nuke\" is not");
}

static void test_an_operator_request_without_a_target_is_an_error(void **state)
{
    (void)state;
    assert_request_error("{\"kind\": \"kill_node\"}", "target: missing");
}

static void test_an_operator_service_fault_needs_the_service(void **state)
{
    (void)state;
    assert_request_error("{\"kind\": \"kill_service\", \"target\": \"n1\"}", "service: missing");
}

static void test_an_operator_delay_needs_its_delay(void **state)
{
    (void)state;
    assert_request_error("{\"kind\": \"delay_messages\", \"target\": \"n1\"}", "delay_ms: missing");
}

static void test_an_operator_request_with_a_bad_duration_is_an_error(void **state)
{
    (void)state;
    assert_request_error("{\"kind\": \"kill_node\", \"target\": \"n1\", \"duration\": \"soon\"}",
                         "duration: must be a duration");
    assert_request_error("{\"kind\": \"kill_node\", \"target\": \"n1\", \"duration_ms\": -5}",
                         "duration_ms: must be a whole number");
}

static void test_durations_take_units(void **state)
{
    (void)state;
    uint64_t ms;
    assert_int_equal(chaos_duration_parse("90", &ms), 0);
    assert_int_equal(ms, 90000);
    assert_int_equal(chaos_duration_parse("1500ms", &ms), 0);
    assert_int_equal(ms, 1500);
    assert_int_equal(chaos_duration_parse("10m", &ms), 0);
    assert_int_equal(ms, 600000);
    assert_int_equal(chaos_duration_parse("2h", &ms), 0);
    assert_int_equal(ms, 7200000);
    assert_int_equal(chaos_duration_parse("48h", &ms), 0); /* a chaos interval may be days */
    assert_int_equal(ms, 48 * 3600000ull);
    assert_int_equal(chaos_duration_parse("10 m", &ms), -1);
    assert_int_equal(chaos_duration_parse("-1", &ms), -1);
    assert_int_equal(chaos_duration_parse("99999999999", &ms), -1);
}

/* What chimeractl and drill reports print reads back: a compound or a
 * fractional duration, as manifests and drill files take it. */
static void test_durations_read_as_drill_files_write_them(void **state)
{
    (void)state;
    uint64_t ms;
    assert_int_equal(chaos_duration_parse("1m30s", &ms), 0);
    assert_int_equal(ms, 90000);
    assert_int_equal(chaos_duration_parse("2s685ms", &ms), 0);
    assert_int_equal(ms, 2685);
    assert_int_equal(chaos_duration_parse("1.5s", &ms), 0);
    assert_int_equal(ms, 1500);
    assert_int_equal(chaos_duration_parse("1m30", &ms), -1);
    assert_int_equal(chaos_duration_parse("30sec", &ms), -1);
}

static void test_a_kinds_list_parses_into_a_mask(void **state)
{
    (void)state;
    uint32_t mask;
    char out[128];
    assert_int_equal(chaos_kinds_parse(" kill_service , kill_node", &mask, NULL, 0), 0);
    assert_int_equal(mask, CHAOS_KIND_BIT(CHAOS_KILL_SERVICE) | CHAOS_KIND_BIT(CHAOS_KILL_NODE));
    chaos_kinds_format(CHAOS_KINDS_DEFAULT, out, sizeof out);
    assert_string_equal(out, "kill_service,pause_service,isolate_node,delay_messages");
}

static void test_an_unknown_kind_in_a_list_is_an_error(void **state)
{
    (void)state;
    uint32_t mask;
    char err[256];
    assert_int_equal(chaos_kinds_parse("kill_service,kil_node", &mask, err, sizeof err), -1);
    assert_err_has(err, "\"kil_node\" is not a fault kind");
    assert_int_equal(chaos_kinds_parse(" , ", &mask, err, sizeof err), -1);
    assert_err_has(err, "names no fault kind");
}

/* ---- healing at expiry ---- */

static void test_the_target_applies_its_fault_and_others_do_not(void **state)
{
    (void)state;
    struct chaos_local me, other;
    struct chaos_fault f = fault(CHAOS_PAUSE_SERVICE, "n2", T0, 10000);
    chaos_local_init(&me, "n2", T0 - 60000);
    chaos_local_init(&other, "n1", T0 - 60000);
    assert_int_equal(chaos_local_apply(&me, &f, T0 + 5), CHAOS_APPLY);
    assert_int_equal(chaos_local_apply(&other, &f, T0 + 5), CHAOS_NOT_MINE);
    assert_int_equal(chaos_local_apply(&me, &f, T0 + 6), CHAOS_ALREADY);
}

static void test_a_fault_is_healed_at_expiry_without_the_leader(void **state)
{
    (void)state;
    struct chaos_local l;
    struct chaos_fault f = fault(CHAOS_ISOLATE_NODE, "n2", T0, 10000), out[CHAOS_LOCAL_MAX];
    chaos_local_init(&l, "n2", T0 - 60000);
    chaos_local_apply(&l, &f, T0);
    assert_int_equal(chaos_local_next_heal(&l), T0 + 10000);
    assert_int_equal(chaos_local_due(&l, T0 + 9999, out, CHAOS_LOCAL_MAX), 0);
    assert_int_equal(chaos_local_due(&l, T0 + 10000, out, CHAOS_LOCAL_MAX), 1);
    assert_string_equal(out[0].id, "chaos-1");
    assert_int_equal(l.n, 0);
    assert_int_equal(chaos_local_next_heal(&l), UINT64_MAX);
}

static void test_a_fault_seen_after_its_expiry_is_not_applied(void **state)
{
    (void)state;
    struct chaos_local l;
    struct chaos_fault f = fault(CHAOS_ISOLATE_NODE, "n2", T0, 10000);
    chaos_local_init(&l, "n2", T0 + 50000); /* restarted, replaying the ledger */
    assert_int_equal(chaos_local_apply(&l, &f, T0 + 50000), CHAOS_EXPIRED);
}

static void test_a_late_applied_fault_still_heals_at_its_expiry(void **state)
{
    (void)state;
    struct chaos_local l;
    struct chaos_fault f = fault(CHAOS_DELAY_MESSAGES, "n2", T0, 10000);
    chaos_local_init(&l, "n2", T0 - 1);
    chaos_local_apply(&l, &f, T0 + 4000);
    assert_int_equal(chaos_local_next_heal(&l), T0 + 10000);
}

static void test_a_leader_clock_ahead_does_not_stretch_a_fault(void **state)
{
    (void)state;
    struct chaos_local l;
    struct chaos_fault f = fault(CHAOS_PAUSE_SERVICE, "n2", T0 + 60000, 10000);
    chaos_local_init(&l, "n2", T0 - 1);
    chaos_local_apply(&l, &f, T0); /* this node's clock is a minute behind the leader's */
    assert_int_equal(chaos_local_next_heal(&l), T0 + 10000);
}

static void test_a_kill_is_applied_once_not_by_the_restarted_node(void **state)
{
    (void)state;
    struct chaos_local before, after;
    struct chaos_fault f = fault(CHAOS_KILL_NODE, "n2", T0, 30000);
    chaos_local_init(&before, "n2", T0 - 60000);
    chaos_local_init(&after, "n2", T0 + 2000); /* the supervisor restarted it */
    assert_int_equal(chaos_local_apply(&before, &f, T0 + 10), CHAOS_APPLY);
    assert_int_equal(before.n, 0); /* nothing to heal */
    assert_int_equal(chaos_local_apply(&after, &f, T0 + 2100), CHAOS_KILLED_ONCE);
}

static void test_the_kill_switch_heals_every_local_fault_at_once(void **state)
{
    (void)state;
    struct chaos_local l;
    struct chaos_fault a = fault(CHAOS_ISOLATE_NODE, "n2", T0, 10000),
                       b = fault(CHAOS_PAUSE_SERVICE, "n2", T0, 10000), out[CHAOS_LOCAL_MAX];
    strcpy(b.id, "chaos-2");
    chaos_local_init(&l, "n2", T0 - 1);
    chaos_local_apply(&l, &a, T0);
    chaos_local_apply(&l, &b, T0);
    assert_int_equal(chaos_local_heal_all(&l, out, CHAOS_LOCAL_MAX), 2);
    assert_int_equal(l.n, 0);
}

static void test_a_healed_record_heals_that_fault_only(void **state)
{
    (void)state;
    struct chaos_local l;
    struct chaos_fault a = fault(CHAOS_ISOLATE_NODE, "n2", T0, 10000),
                       b = fault(CHAOS_PAUSE_SERVICE, "n2", T0, 10000), out;
    strcpy(b.id, "chaos-2");
    chaos_local_init(&l, "n2", T0 - 1);
    chaos_local_apply(&l, &a, T0);
    chaos_local_apply(&l, &b, T0);
    assert_int_equal(chaos_local_heal_id(&l, "chaos-2", &out), 1);
    assert_int_equal(out.kind, CHAOS_PAUSE_SERVICE);
    assert_int_equal(chaos_local_heal_id(&l, "chaos-2", &out), 0);
    assert_int_equal(l.n, 1);
}

static void test_active_at_is_from_start_to_before_expiry(void **state)
{
    (void)state;
    struct chaos_fault f = fault(CHAOS_KILL_SERVICE, "n2", T0, 1000);
    assert_false(chaos_fault_active_at(&f, T0 - 1));
    assert_true(chaos_fault_active_at(&f, T0));
    assert_true(chaos_fault_active_at(&f, T0 + 999));
    assert_false(chaos_fault_active_at(&f, T0 + 1000));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_fault_record_round_trips),
        cmocka_unit_test(test_healed_stop_enable_and_refused_records_round_trip),
        cmocka_unit_test(test_a_refused_record_keeps_the_chosen_target),
        cmocka_unit_test(test_a_drill_record_decodes_as_another_kind),
        cmocka_unit_test(test_a_recovery_entry_gives_the_restarted_service),
        cmocka_unit_test(test_an_empty_or_truncated_payload_is_rejected),
        cmocka_unit_test(test_a_huge_announced_map_is_rejected_before_unpacking),
        cmocka_unit_test(test_deep_nesting_is_rejected),
        cmocka_unit_test(test_trailing_bytes_are_rejected),
        cmocka_unit_test(test_a_payload_that_is_not_a_map_is_rejected),
        cmocka_unit_test(test_a_missing_record_field_is_named),
        cmocka_unit_test(test_a_fault_with_an_unknown_kind_is_rejected),
        cmocka_unit_test(test_a_fault_without_its_node_is_rejected),
        cmocka_unit_test(test_a_fault_with_a_bad_node_id_is_rejected),
        cmocka_unit_test(test_a_service_fault_without_a_service_is_rejected),
        cmocka_unit_test(test_a_fault_with_a_negative_time_is_rejected),
        cmocka_unit_test(test_a_string_with_a_nul_byte_is_rejected),
        cmocka_unit_test(test_a_fault_with_a_wrong_expiry_is_rejected_by_the_check),
        cmocka_unit_test(test_the_api_json_of_a_fault_names_its_target),
        cmocka_unit_test(test_the_api_json_of_a_healed_record_has_its_reason),
        cmocka_unit_test(test_a_fault_is_described_for_events),
        cmocka_unit_test(test_an_operator_request_is_read_from_json),
        cmocka_unit_test(test_an_operator_request_with_an_unknown_kind_is_an_error),
        cmocka_unit_test(test_an_operator_request_without_a_target_is_an_error),
        cmocka_unit_test(test_an_operator_service_fault_needs_the_service),
        cmocka_unit_test(test_an_operator_delay_needs_its_delay),
        cmocka_unit_test(test_an_operator_request_with_a_bad_duration_is_an_error),
        cmocka_unit_test(test_durations_take_units),
        cmocka_unit_test(test_durations_read_as_drill_files_write_them),
        cmocka_unit_test(test_a_kinds_list_parses_into_a_mask),
        cmocka_unit_test(test_an_unknown_kind_in_a_list_is_an_error),
        cmocka_unit_test(test_the_target_applies_its_fault_and_others_do_not),
        cmocka_unit_test(test_a_fault_is_healed_at_expiry_without_the_leader),
        cmocka_unit_test(test_a_fault_seen_after_its_expiry_is_not_applied),
        cmocka_unit_test(test_a_late_applied_fault_still_heals_at_its_expiry),
        cmocka_unit_test(test_a_leader_clock_ahead_does_not_stretch_a_fault),
        cmocka_unit_test(test_a_kill_is_applied_once_not_by_the_restarted_node),
        cmocka_unit_test(test_the_kill_switch_heals_every_local_fault_at_once),
        cmocka_unit_test(test_a_healed_record_heals_that_fault_only),
        cmocka_unit_test(test_active_at_is_from_start_to_before_expiry),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
