/* A service's "restart" block in a release manifest (Nomad's restart
 * block, the recovery watchtower's policy): parsed, with its defaults.
 * Each bad field's error and path is a row of test_manifest_errors.c. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chaos/watchtower.h"
#include "pipeline/core/manifest.h"

#define DOC(restart)                                                                               \
    "{\"name\":\"web\",\"version\":\"1\",\"services\":[{\"name\":\"db\",\"command\":\"/bin/"       \
    "true\"},"                                                                                     \
    "{\"name\":\"api\",\"command\":\"/bin/true\"" restart "}]}"

static int parse(const char *doc, struct manifest *m, struct manifest_error *err)
{
    return manifest_parse(doc, strlen(doc), m, err);
}

static void test_a_restart_block_is_parsed_with_nomads_names(void **state)
{
    (void)state;
    struct manifest m;
    struct manifest_error err;
    assert_int_equal(parse(DOC(",\"restart\":{\"attempts\":5,\"interval\":\"2m\",\"delay\":\"1s\","
                               "\"mode\":\"fail\"}"),
                           &m, &err),
                     0);
    const struct manifest_restart *r = &m.services[1].restart;
    assert_int_equal(r->attempts, 5);
    assert_int_equal(r->interval_ms, 120000);
    assert_int_equal(r->delay_ms, 1000);
    assert_int_equal(r->mode, MANIFEST_RESTART_FAIL);
    manifest_free(&m);
}

static void test_without_a_restart_block_a_service_gets_the_watchtowers_defaults(void **state)
{
    (void)state;
    struct manifest m;
    struct manifest_error err;
    assert_int_equal(parse(DOC(""), &m, &err), 0);
    const struct manifest_restart *r = &m.services[1].restart;
    assert_int_equal(r->attempts, WT_DEFAULT_ATTEMPTS);
    assert_int_equal(r->interval_ms, WT_DEFAULT_INTERVAL_MS);
    assert_int_equal(r->delay_ms, WT_DEFAULT_DELAY_MS);
    assert_int_equal(r->mode, MANIFEST_RESTART_DELAY);
    assert_int_equal(WT_DEFAULT_MODE, WT_MODE_DELAY);
    manifest_free(&m);
}

static void test_a_partial_restart_block_defaults_the_other_fields(void **state)
{
    (void)state;
    struct manifest m;
    struct manifest_error err;
    assert_int_equal(parse(DOC(",\"restart\":{\"attempts\":0,\"delay\":0}"), &m, &err), 0);
    const struct manifest_restart *r = &m.services[1].restart;
    assert_int_equal(r->attempts, 0);
    assert_int_equal(r->delay_ms, 0);
    assert_int_equal(r->interval_ms, MANIFEST_DEFAULT_RESTART_INTERVAL_MS);
    assert_int_equal(r->mode, MANIFEST_RESTART_DELAY);
    manifest_free(&m);
}

static void test_a_null_restart_block_reads_as_absent(void **state)
{
    (void)state;
    struct manifest m;
    struct manifest_error err;
    assert_int_equal(parse(DOC(",\"restart\":null"), &m, &err), 0);
    assert_int_equal(m.services[1].restart.attempts, MANIFEST_DEFAULT_RESTART_ATTEMPTS);
    manifest_free(&m);
}

static void test_the_normalised_manifest_shows_the_restart_block_and_parses_back(void **state)
{
    (void)state;
    struct manifest m, again;
    struct manifest_error err;
    assert_int_equal(parse(DOC(",\"restart\":{\"interval\":\"90s\",\"mode\":\"fail\"}"), &m, &err),
                     0);
    json_t *j = manifest_to_json(&m);
    assert_non_null(j);
    json_t *r = json_object_get(json_array_get(json_object_get(j, "services"), 1), "restart");
    assert_int_equal(json_integer_value(json_object_get(r, "attempts")), 3);
    assert_int_equal(json_integer_value(json_object_get(r, "interval")), 90000);
    assert_int_equal(json_integer_value(json_object_get(r, "delay")), 500);
    assert_string_equal(json_string_value(json_object_get(r, "mode")), "fail");
    char *text = json_dumps(j, JSON_COMPACT);
    assert_int_equal(manifest_parse(text, strlen(text), &again, &err), 0);
    assert_int_equal(again.services[1].restart.interval_ms, 90000);
    assert_int_equal(again.services[1].restart.mode, MANIFEST_RESTART_FAIL);
    free(text);
    json_decref(j);
    manifest_free(&again);
    manifest_free(&m);
}

static void test_a_manifest_service_becomes_the_watchtowers_spec(void **state)
{
    (void)state;
    struct manifest m;
    struct manifest_error err;
    assert_int_equal(
        parse(DOC(",\"port\":\"auto\",\"health\":{\"url\":\"http://127.0.0.1:${PORT}/\","
                  "\"interval\":\"2s\",\"unhealthy_threshold\":4},"
                  "\"restart\":{\"attempts\":5,\"mode\":\"fail\"}"),
              &m, &err),
        0);
    struct wt_tuning t = wt_tuning_default();
    struct wt_service_spec api = wt_spec_from_manifest(&m.services[1], &t);
    assert_string_equal(api.name, "api");
    assert_int_equal(api.restart.attempts, 5);
    assert_int_equal(api.restart.interval_ms, WT_DEFAULT_INTERVAL_MS);
    assert_int_equal(api.restart.delay_ms, WT_DEFAULT_DELAY_MS);
    assert_int_equal(api.restart.max_delay_ms, WT_DEFAULT_MAX_DELAY_MS);
    assert_int_equal(api.restart.mode, WT_MODE_FAIL);
    assert_true(api.has_check);
    assert_int_equal(api.liveness_ms, 8000); /* 4 failures x 2s */
    assert_int_equal(api.start_grace_ms, WT_DEFAULT_START_GRACE_MS);
    struct wt_service_spec db = wt_spec_from_manifest(&m.services[0], &t);
    assert_false(db.has_check);
    assert_int_equal(db.restart.mode, WT_MODE_DELAY);
    t.liveness_ms = 1500; /* the node's setting wins */
    assert_int_equal(wt_spec_from_manifest(&m.services[1], &t).liveness_ms, 1500);
    manifest_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_restart_block_is_parsed_with_nomads_names),
        cmocka_unit_test(test_without_a_restart_block_a_service_gets_the_watchtowers_defaults),
        cmocka_unit_test(test_a_partial_restart_block_defaults_the_other_fields),
        cmocka_unit_test(test_a_null_restart_block_reads_as_absent),
        cmocka_unit_test(test_the_normalised_manifest_shows_the_restart_block_and_parses_back),
        cmocka_unit_test(test_a_manifest_service_becomes_the_watchtowers_spec),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
