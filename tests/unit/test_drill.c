/* Drills: a good drill file parses with its defaults filled in, the
 * built-in drills of deploy/drills are valid, the verdict follows from
 * what the runner measured, and the journal's digest is stable. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chaos/drill.h"

#ifndef CHIMERA_DRILLS_DIR
#error "CHIMERA_DRILLS_DIR: the folder of the built-in drills"
#endif

/* A drill with one probe of each kind, a fault of each kind, a deploy and
 * a pause. */
static const char full[] =
    "{\"version\": \"1.0.0\", \"title\": \"Everything\", \"description\": \"d\",\n"
    " \"tags\": [\"t\"],\n"
    " \"steady-state-hypothesis\": {\"title\": \"healthy\", \"probes\": [\n"
    "  {\"type\": \"probe\", \"name\": \"leader\", \"provider\": {\"type\": \"leader_exists\"}},\n"
    "  {\"type\": \"probe\", \"name\": \"alive\", \"provider\": {\"type\": \"all_alive\"},\n"
    "   \"tolerance\": true},\n"
    "  {\"name\": \"writable\", \"provider\": {\"type\": \"none_read_only\"}},\n"
    "  {\"name\": \"healthy\", \"provider\": {\"type\": \"release_healthy\"}, \"tolerance\": "
    "false},\n"
    "  {\"name\": \"commits\", \"provider\": {\"type\": \"note_commits\"}, \"tolerance\": "
    "\"250ms\"},\n"
    "  {\"name\": \"web\", \"provider\": {\"type\": \"http\", \"url\": "
    "\"http://127.0.0.1:9/health\", \"timeout\": \"2s\"}, \"tolerance\": [200, 204]}]},\n"
    " \"method\": [\n"
    "  {\"type\": \"action\", \"name\": \"kill web\", \"provider\": {\"type\": \"fault\",\n"
    "   \"kind\": \"kill_service\", \"target\": \"web\", \"node\": \"n2\"},\n"
    "   \"slo\": {\"recover_within\": \"5s\", \"probes\": [\"healthy\", \"web\"]}},\n"
    "  {\"name\": \"freeze web\", \"provider\": {\"type\": \"fault\", \"kind\": "
    "\"pause_service\",\n"
    "   \"target\": \"web\", \"duration\": \"3s\"}, \"slo\": {\"recover_within\": \"2s\", "
    "\"from\": \"heal\"}},\n"
    "  {\"name\": \"cut n3 off\", \"provider\": {\"type\": \"fault\", \"kind\": "
    "\"isolate_node\",\n"
    "   \"target\": \"n3\", \"duration\": \"10s\", \"peer\": \"n1\"}, \"slo\": "
    "{\"recover_within\": \"5s\"}},\n"
    "  {\"name\": \"slow leader\", \"provider\": {\"type\": \"fault\", \"kind\": "
    "\"delay_messages\",\n"
    "   \"target\": \"leader\", \"duration\": \"10s\", \"delay\": \"200ms\"}, \"slo\": "
    "{\"recover_within\": \"1s\"}},\n"
    "  {\"name\": \"kill a follower\", \"provider\": {\"type\": \"fault\", \"kind\": "
    "\"kill_node\",\n"
    "   \"target\": \"follower\"}, \"slo\": {\"recover_within\": \"15s\"}, \"pauses\": "
    "{\"before\": \"1s\", \"after\": \"2s\"}},\n"
    "  {\"name\": \"deploy\", \"provider\": {\"type\": \"deploy\", \"manifest\": "
    "\"../examples/demo-bad-health.json\", \"expect\": \"reverted\"}},\n"
    "  {\"name\": \"settle\", \"provider\": {\"type\": \"pause\", \"duration\": \"1m30s\"}}]}\n";

static void parse_ok(const char *doc, struct drill *d)
{
    struct drill_error err;
    if (drill_parse(doc, strlen(doc), d, &err) != 0)
        fail_msg("drill_parse: %s: %s", err.path, err.message);
}

static void test_probes_are_read_with_their_tolerances(void **state)
{
    (void)state;
    struct drill d;
    parse_ok(full, &d);
    assert_string_equal(d.title, "Everything");
    assert_string_equal(d.hypothesis_title, "healthy");
    assert_int_equal(d.nprobes, 6);
    assert_int_equal(d.probes[0].kind, DRILL_PROBE_LEADER);
    assert_true(d.probes[0].expect);
    assert_int_equal(d.probes[2].kind, DRILL_PROBE_NONE_READ_ONLY);
    assert_false(d.probes[3].expect);
    assert_int_equal(d.probes[4].within_ms, 250);
    assert_string_equal(d.probes[5].url, "http://127.0.0.1:9/health");
    assert_int_equal(d.probes[5].timeout_ms, 2000);
    assert_int_equal(d.probes[5].nstatuses, 2);
    assert_int_equal(d.probes[5].statuses[1], 204);
    drill_free(&d);
}

static void test_faults_are_read_with_their_targets_and_slos(void **state)
{
    (void)state;
    struct drill d;
    parse_ok(full, &d);
    assert_int_equal(d.nmethod, 7);
    const struct drill_action *a = d.method;
    assert_int_equal(a[0].fault, DRILL_FAULT_KILL_SERVICE);
    assert_string_equal(a[0].target, "web");
    assert_string_equal(a[0].node, "n2");
    assert_int_equal(a[0].slo.recover_within_ms, 5000);
    assert_int_equal(a[0].slo.probes, (1u << 3) | (1u << 5));
    assert_string_equal(a[1].node, "any");
    assert_int_equal(a[1].slo.from, DRILL_SLO_FROM_HEAL);
    assert_int_equal(a[1].slo.probes, 0x3f);
    assert_string_equal(a[2].peer, "n1");
    assert_string_equal(a[3].peer, "");
    assert_int_equal(a[3].delay_ms, 200);
    assert_string_equal(a[3].target, "leader");
    assert_int_equal(a[4].pause_before_ms, 1000);
    assert_int_equal(a[4].pause_after_ms, 2000);
    assert_int_equal(a[4].duration_ms, 0);
    assert_true(drill_has_faults(&d));
    drill_free(&d);
}

static void test_deploys_and_pauses_are_read(void **state)
{
    (void)state;
    struct drill d;
    parse_ok(full, &d);
    assert_int_equal(d.method[5].kind, DRILL_ACTION_DEPLOY);
    assert_string_equal(d.method[5].manifest, "../examples/demo-bad-health.json");
    assert_false(d.method[5].manifest_inline);
    assert_true(d.method[5].expect_reverted);
    assert_false(d.method[5].slo.set);
    assert_int_equal(d.method[6].kind, DRILL_ACTION_PAUSE);
    assert_int_equal(d.method[6].duration_ms, 90000);
    drill_free(&d);
}

static const char minimal[] =
    "{\"title\": \"t\", \"steady-state-hypothesis\": {\"probes\": [{\"name\": \"c\", "
    "\"provider\": {\"type\": \"note_commits\"}}, {\"name\": \"h\", \"provider\": {\"type\": "
    "\"http\", \"url\": \"https://x/\"}}]}, \"method\": [{\"name\": \"p\", \"provider\": "
    "{\"type\": \"pause\", \"duration\": \"1s\"}}]}";

static void test_missing_rollbacks_default_to_heal_then_restart(void **state)
{
    (void)state;
    struct drill d;
    parse_ok(minimal, &d);
    assert_int_equal(d.nrollbacks, 2);
    assert_int_equal(d.rollbacks[0].kind, DRILL_ACTION_HEAL);
    assert_int_equal(d.rollbacks[1].kind, DRILL_ACTION_RESTART_NODES);
    assert_false(drill_has_faults(&d));
    drill_free(&d);
}

static void test_probe_defaults_are_one_second_and_status_200(void **state)
{
    (void)state;
    struct drill d;
    parse_ok(minimal, &d);
    assert_int_equal(d.probes[0].within_ms, DRILL_DEFAULT_COMMIT_WITHIN_MS);
    assert_int_equal(d.probes[1].timeout_ms, DRILL_DEFAULT_HTTP_TIMEOUT_MS);
    assert_int_equal(d.probes[1].nstatuses, 1);
    assert_int_equal(d.probes[1].statuses[0], 200);
    drill_free(&d);
}

static void test_null_reads_as_absent(void **state)
{
    (void)state;
    struct drill d;
    const char *doc =
        "{\"title\": \"t\", \"description\": null, \"rollbacks\": null, "
        "\"steady-state-hypothesis\": {\"title\": null, \"probes\": [{\"name\": \"l\", "
        "\"provider\": {\"type\": \"leader_exists\"}, \"tolerance\": null}]}, \"method\": "
        "[{\"name\": \"p\", \"provider\": {\"type\": \"heal\"}, \"pauses\": null}]}";
    parse_ok(doc, &d);
    assert_true(d.probes[0].expect);
    assert_int_equal(d.nrollbacks, 2);
    drill_free(&d);
}

static void test_to_json_gives_a_drill_that_parses_the_same(void **state)
{
    (void)state;
    struct drill d, again;
    parse_ok(full, &d);
    json_t *j = drill_to_json(&d);
    assert_non_null(j);
    char *text = json_dumps(j, 0);
    parse_ok(text, &again);
    assert_int_equal(again.nmethod, d.nmethod);
    assert_int_equal(again.method[0].slo.probes, d.method[0].slo.probes);
    assert_int_equal(again.method[3].delay_ms, 200);
    assert_int_equal(again.probes[4].within_ms, 250);
    assert_int_equal(again.method[6].duration_ms, 90000);
    free(text);
    json_decref(j);
    drill_free(&again);
    drill_free(&d);
}

/* ---- the built-in drills ---- */

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s", path);
    char *buf = malloc(DRILL_MAX_BYTES + 1);
    assert_non_null(buf);
    *len = fread(buf, 1, DRILL_MAX_BYTES, f);
    fclose(f);
    buf[*len] = '\0';
    return buf;
}

static void test_builtin_drills_are_valid(void **state)
{
    (void)state;
    static const char *const names[] = {"leader-loss", "minority-partition", "service-crash",
                                        "bad-release", "node-restart"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char path[512];
        size_t len;
        snprintf(path, sizeof path, "%s/%s.json", CHIMERA_DRILLS_DIR, names[i]);
        char *doc = slurp(path, &len);
        struct drill d;
        struct drill_error err;
        if (drill_parse(doc, len, &d, &err) != 0)
            fail_msg("%s: %s: %s", path, err.path, err.message);
        assert_true(d.nrollbacks >= 1);
        drill_free(&d);
        free(doc);
    }
}

/* ---- verdicts ---- */

static const char one_fault[] =
    "{\"title\": \"t\", \"steady-state-hypothesis\": {\"probes\": [{\"name\": \"l\", "
    "\"provider\": {\"type\": \"leader_exists\"}}]}, \"method\": [{\"name\": \"kill\", "
    "\"provider\": {\"type\": \"fault\", \"kind\": \"kill_node\", \"target\": \"leader\"}, "
    "\"slo\": {\"recover_within\": \"5s\"}}, {\"name\": \"wait\", \"provider\": {\"type\": "
    "\"pause\", \"duration\": \"1s\"}}]}";

/* A run in which everything went well: held before and after, recovered
 * in 1.2 s against an SLO of 5 s. */
static void good_run(struct drill_run *r)
{
    memset(r, 0, sizeof *r);
    r->started_ms = 1700000000000;
    r->ended_ms = 1700000012000;
    r->before_checked = r->after_checked = true;
    r->before[0] = (struct drill_probe_result){true, "leader n1"};
    r->after[0] = (struct drill_probe_result){true, "leader n2"};
    r->method[0] = (struct drill_step_result){.status = DRILL_STEP_DONE,
                                              .started_ms = 1700000001000,
                                              .ended_ms = 1700000002200,
                                              .detail = "killed n1",
                                              .detected = true,
                                              .detect_ms = 150,
                                              .recovered = true,
                                              .recover_ms = 1200};
    r->method[1].status = DRILL_STEP_DONE;
    r->rollbacks[0].status = r->rollbacks[1].status = DRILL_STEP_DONE;
}

static enum drill_verdict verdict_of(void (*change)(struct drill_run *), char *why, size_t len)
{
    struct drill d;
    struct drill_run r;
    parse_ok(one_fault, &d);
    good_run(&r);
    if (change)
        change(&r);
    enum drill_verdict v = drill_verdict(&d, &r, why, len);
    drill_free(&d);
    return v;
}

static void test_recovery_within_every_slo_holds(void **state)
{
    (void)state;
    char why[320];
    assert_int_equal(verdict_of(NULL, why, sizeof why), DRILL_HELD);
}

static void slow(struct drill_run *r)
{
    r->method[0].recover_ms = 5001;
}

static void test_recovery_over_its_slo_deviates(void **state)
{
    (void)state;
    char why[320];
    assert_int_equal(verdict_of(slow, why, sizeof why), DRILL_DEVIATED);
    assert_string_equal(why, "\"kill\": recovered in 5s1ms, over its SLO of 5s");
}

static void exact(struct drill_run *r)
{
    r->method[0].recover_ms = 5000;
}

static void test_recovery_exactly_at_the_slo_holds(void **state)
{
    (void)state;
    assert_int_equal(verdict_of(exact, NULL, 0), DRILL_HELD);
}

static void never(struct drill_run *r)
{
    r->method[0].recovered = false;
}

static void test_no_recovery_deviates(void **state)
{
    (void)state;
    char why[320];
    assert_int_equal(verdict_of(never, why, sizeof why), DRILL_DEVIATED);
    assert_non_null(strstr(why, "did not recover (SLO 5s)"));
}

static void unsteady_start(struct drill_run *r)
{
    r->before[0] = (struct drill_probe_result){false, "no leader"};
}

static void test_no_steady_state_at_the_start_could_not_run(void **state)
{
    (void)state;
    char why[320];
    assert_int_equal(verdict_of(unsteady_start, why, sizeof why), DRILL_COULD_NOT_RUN);
    assert_string_equal(why,
                        "the steady state did not hold before the method: probe \"l\": no leader");
}

static void unsteady_end(struct drill_run *r)
{
    r->after[0] = (struct drill_probe_result){false, "no leader"};
}

static void test_steady_state_lost_after_the_method_deviates(void **state)
{
    (void)state;
    assert_int_equal(verdict_of(unsteady_end, NULL, 0), DRILL_DEVIATED);
}

static void refused(struct drill_run *r)
{
    memset(&r->method[0], 0, sizeof r->method[0]);
    r->method[0].status = DRILL_STEP_FAILED;
    snprintf(r->method[0].detail, sizeof r->method[0].detail,
             "chaos injection is not available on this federation yet (POST /chaos/inject)");
    r->method[1].status = DRILL_STEP_SKIPPED;
    r->after_checked = false;
}

static void test_a_refused_fault_could_not_run(void **state)
{
    (void)state;
    char why[320];
    assert_int_equal(verdict_of(refused, why, sizeof why), DRILL_COULD_NOT_RUN);
    assert_non_null(strstr(why, "\"kill\" could not be carried out: chaos injection"));
}

static void slow_then_failed(struct drill_run *r)
{
    r->method[0].recover_ms = 9000;
    r->method[1].status = DRILL_STEP_FAILED;
}

static void test_a_measured_deviation_outweighs_a_later_failure(void **state)
{
    (void)state;
    assert_int_equal(verdict_of(slow_then_failed, NULL, 0), DRILL_DEVIATED);
}

static void interrupted(struct drill_run *r)
{
    snprintf(r->stopped, sizeof r->stopped, "interrupted (Ctrl-C)");
}

static void test_a_stopped_run_could_not_run(void **state)
{
    (void)state;
    char why[320];
    assert_int_equal(verdict_of(interrupted, why, sizeof why), DRILL_COULD_NOT_RUN);
    assert_string_equal(why, "the run stopped: interrupted (Ctrl-C)");
}

/* ---- journal, digest, report ---- */

static json_t *journal_of(void (*change)(struct drill_run *))
{
    struct drill d;
    struct drill_run r;
    parse_ok(one_fault, &d);
    good_run(&r);
    if (change)
        change(&r);
    json_t *j = drill_journal(&d, &r);
    drill_free(&d);
    assert_non_null(j);
    return j;
}

static void test_journal_records_verdict_and_times(void **state)
{
    (void)state;
    json_t *j = journal_of(slow);
    assert_string_equal(json_string_value(json_object_get(j, "verdict")), "deviated");
    assert_int_equal(json_integer_value(json_object_get(j, "duration_ms")), 12000);
    json_t *step = json_array_get(json_object_get(j, "run"), 0);
    assert_int_equal(json_integer_value(json_object_get(step, "detect_ms")), 150);
    assert_int_equal(json_integer_value(json_object_get(step, "recover_ms")), 5001);
    assert_int_equal(json_integer_value(json_object_get(step, "slo_ms")), 5000);
    assert_false(json_is_true(json_object_get(step, "slo_met")));
    assert_string_equal(json_string_value(json_object_get(json_object_get(step, "fault"), "kind")),
                        "kill_node");
    /* A pause has no SLO, so no times either. */
    assert_null(json_object_get(json_array_get(json_object_get(j, "run"), 1), "recover_ms"));
    json_decref(j);
}

static void digest_of(void (*change)(struct drill_run *), uint8_t out[DRILL_DIGEST_BYTES])
{
    json_t *j = journal_of(change);
    assert_int_equal(drill_journal_digest(j, out), 0);
    json_decref(j);
}

static void test_journal_digest_is_stable(void **state)
{
    (void)state;
    uint8_t a[DRILL_DIGEST_BYTES], b[DRILL_DIGEST_BYTES];
    digest_of(NULL, a);
    digest_of(NULL, b);
    assert_memory_equal(a, b, sizeof a);
}

/* The digests of journals already in a ledger must keep verifying: a
 * change to the journal's form changes this value, on purpose only (last:
 * each step with an SLO gained figures_from, resolution_ms, probes and
 * node; a journal written before keeps its own digest, which is over the
 * file as written). */
static void test_journal_digest_is_pinned(void **state)
{
    (void)state;
    uint8_t a[DRILL_DIGEST_BYTES];
    char hex[2 * DRILL_DIGEST_BYTES + 1];
    digest_of(NULL, a);
    for (size_t i = 0; i < sizeof a; i++)
        snprintf(hex + 2 * i, 3, "%02x", a[i]);
    assert_string_equal(hex, "7e1554bf23a42cba8fd4e8805c38783512a9bf2d445649ac1ec0a7aff3107e23");
}

static void test_journal_digest_ignores_key_order(void **state)
{
    (void)state;
    uint8_t a[DRILL_DIGEST_BYTES], b[DRILL_DIGEST_BYTES];
    json_t *j = journal_of(NULL), *reversed = json_object();
    const char *keys[64];
    size_t n = 0;
    const char *k;
    json_t *v;
    json_object_foreach(j, k, v) keys[n++] = k;
    while (n-- > 0)
        json_object_set(reversed, keys[n], json_object_get(j, keys[n]));
    assert_int_equal(drill_journal_digest(j, a), 0);
    assert_int_equal(drill_journal_digest(reversed, b), 0);
    assert_memory_equal(a, b, sizeof a);
    json_decref(reversed);
    json_decref(j);
}

static void test_journal_digest_changes_with_a_measured_time(void **state)
{
    (void)state;
    uint8_t a[DRILL_DIGEST_BYTES], b[DRILL_DIGEST_BYTES];
    digest_of(NULL, a);
    digest_of(exact, b);
    assert_memory_not_equal(a, b, sizeof a);
}

static void test_report_names_times_slo_and_verdict(void **state)
{
    (void)state;
    struct drill d;
    struct drill_run r;
    parse_ok(one_fault, &d);
    good_run(&r);
    char *text = drill_report(&d, &r);
    assert_non_null(text);
    assert_non_null(
        strstr(text, "done    kill -- detected in 150ms, recovered in 1s200ms, SLO 5s (met)"));
    assert_non_null(strstr(text, "Verdict: held (every SLO met; the steady state held before and "
                                 "after), in 12s"));
    free(text);
    drill_free(&d);
}

/* ---- the ledger note ---- */

static size_t note_of(void (*change)(struct drill_run *), char *out, size_t cap)
{
    struct drill d;
    struct drill_run r;
    uint8_t digest[DRILL_DIGEST_BYTES];
    parse_ok(one_fault, &d);
    good_run(&r);
    if (change)
        change(&r);
    for (size_t i = 0; i < sizeof digest; i++)
        digest[i] = (uint8_t)i;
    size_t n = drill_note(&d, &r, digest, out, cap);
    drill_free(&d);
    return n;
}

static void test_note_names_title_verdict_digest_and_recoveries(void **state)
{
    (void)state;
    char text[DRILL_NOTE_MAX];
    size_t n = note_of(slow, text, sizeof text);
    assert_int_equal(n, strlen(text));
    assert_string_equal(text, "drill \"t\": deviated; journal blake2b "
                              "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f; "
                              "kill: recovered in 5s1ms (SLO 5s)");
}

static void test_note_reads_back(void **state)
{
    (void)state;
    char text[DRILL_NOTE_MAX];
    struct drill_note nt;
    note_of(never, text, sizeof text);
    assert_true(drill_note_parse(text, &nt));
    assert_string_equal(nt.title, "t");
    assert_string_equal(nt.verdict, "deviated");
    assert_string_equal(nt.digest,
                        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
    assert_string_equal(nt.results, "kill: not recovered (SLO 5s)");
}

static void test_note_cut_short_keeps_whole_results(void **state)
{
    (void)state;
    char text[120];
    note_of(NULL, text, sizeof text);
    assert_null(strstr(text, "kill"));
    struct drill_note nt;
    assert_true(drill_note_parse(text, &nt));
    assert_string_equal(nt.results, "");
}

static void test_a_title_with_quotes_reads_back(void **state)
{
    (void)state;
    struct drill_note nt;
    assert_true(drill_note_parse("drill \"the \"big\": one\": held; journal blake2b "
                                 "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
                                 &nt));
    assert_string_equal(nt.title, "the \"big\": one");
    assert_string_equal(nt.verdict, "held");
}

static void test_a_probe_note_is_not_a_result(void **state)
{
    (void)state;
    struct drill_note nt;
    assert_false(drill_note_parse("drill \"t\": probe \"a note commits\"", &nt));
    assert_false(drill_note_parse("restarted n3 after a kernel panic", &nt));
    assert_false(drill_note_parse("drill \"t\": held; journal blake2b 00ff", &nt));
}

int main(void)
{
    static const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_probes_are_read_with_their_tolerances),
        cmocka_unit_test(test_faults_are_read_with_their_targets_and_slos),
        cmocka_unit_test(test_deploys_and_pauses_are_read),
        cmocka_unit_test(test_missing_rollbacks_default_to_heal_then_restart),
        cmocka_unit_test(test_probe_defaults_are_one_second_and_status_200),
        cmocka_unit_test(test_null_reads_as_absent),
        cmocka_unit_test(test_to_json_gives_a_drill_that_parses_the_same),
        cmocka_unit_test(test_builtin_drills_are_valid),
        cmocka_unit_test(test_recovery_within_every_slo_holds),
        cmocka_unit_test(test_recovery_over_its_slo_deviates),
        cmocka_unit_test(test_recovery_exactly_at_the_slo_holds),
        cmocka_unit_test(test_no_recovery_deviates),
        cmocka_unit_test(test_no_steady_state_at_the_start_could_not_run),
        cmocka_unit_test(test_steady_state_lost_after_the_method_deviates),
        cmocka_unit_test(test_a_refused_fault_could_not_run),
        cmocka_unit_test(test_a_measured_deviation_outweighs_a_later_failure),
        cmocka_unit_test(test_a_stopped_run_could_not_run),
        cmocka_unit_test(test_journal_records_verdict_and_times),
        cmocka_unit_test(test_journal_digest_is_stable),
        cmocka_unit_test(test_journal_digest_ignores_key_order),
        cmocka_unit_test(test_journal_digest_is_pinned),
        cmocka_unit_test(test_journal_digest_changes_with_a_measured_time),
        cmocka_unit_test(test_report_names_times_slo_and_verdict),
        cmocka_unit_test(test_note_names_title_verdict_digest_and_recoveries),
        cmocka_unit_test(test_note_reads_back),
        cmocka_unit_test(test_note_cut_short_keeps_whole_results),
        cmocka_unit_test(test_a_title_with_quotes_reads_back),
        cmocka_unit_test(test_a_probe_note_is_not_a_result),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
