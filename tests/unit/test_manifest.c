/* manifest_parse on valid manifests: every field read, defaults filled in,
 * the normalised JSON form, and the example manifests in deploy/examples. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/core/manifest.h"

static const char full[] =
    "{\n"
    "  \"name\": \"web\",\n"
    "  \"version\": \"1.4.2\",\n"
    "  \"description\": \"the web tier\",\n"
    "  \"services\": [\n"
    "    {\n"
    "      \"name\": \"api\",\n"
    "      \"driver\": \"process\",\n"
    "      \"command\": \"chimera-demo\",\n"
    "      \"args\": [\"--port\", \"${PORT}\"],\n"
    "      \"env\": {\"MODE\": \"fast\", \"NODE_ID\": \"${NODE}\"},\n"
    "      \"working_dir\": \"/srv/web\",\n"
    "      \"port\": \"auto\",\n"
    "      \"health\": {\n"
    "        \"url\": \"http://127.0.0.1:${PORT}/health\",\n"
    "        \"interval\": \"2s\", \"timeout\": \"500ms\",\n"
    "        \"healthy_threshold\": 2, \"unhealthy_threshold\": 5\n"
    "      },\n"
    "      \"stop_grace\": \"7s\"\n"
    "    },\n"
    "    {\"name\": \"worker\", \"command\": \"/usr/bin/worker\", \"port\": 9000}\n"
    "  ],\n"
    "  \"rollout\": {\n"
    "    \"max_parallel\": 2,\n"
    "    \"min_healthy_time\": \"15s\",\n"
    "    \"healthy_deadline\": \"1m30s\",\n"
    "    \"progress_deadline\": \"1h\",\n"
    "    \"auto_revert\": false\n"
    "  }\n"
    "}\n";

static void parse_ok(const char *doc, struct manifest *m)
{
    struct manifest_error err;
    if (manifest_parse(doc, strlen(doc), m, &err) != 0)
        fail_msg("%s: %s", err.path, err.message);
}

static const char minimal[] =
    "{\"name\":\"web\",\"version\":\"1\",\"services\":[{\"name\":\"api\",\"command\":\"api\"}]}";

static void test_full_manifest_parses_every_field(void **state)
{
    (void)state;
    struct manifest m;
    parse_ok(full, &m);
    assert_string_equal(m.name, "web");
    assert_string_equal(m.version, "1.4.2");
    assert_string_equal(m.description, "the web tier");
    assert_int_equal(m.nservices, 2);
    const struct manifest_service *s = &m.services[0];
    assert_string_equal(s->name, "api");
    assert_int_equal(s->driver, MANIFEST_DRIVER_PROCESS);
    assert_string_equal(s->command, "chimera-demo");
    assert_int_equal(s->nargs, 2);
    assert_string_equal(s->args[0], "--port");
    assert_string_equal(s->args[1], "${PORT}"); /* expanded by the node, not here */
    assert_int_equal(s->nenv, 2);
    assert_string_equal(s->env[0].name, "MODE");
    assert_string_equal(s->env[0].value, "fast");
    assert_string_equal(s->env[1].name, "NODE_ID");
    assert_string_equal(s->env[1].value, "${NODE}");
    assert_string_equal(s->working_dir, "/srv/web");
    assert_int_equal(s->port_kind, MANIFEST_PORT_AUTO);
    assert_int_equal(s->port, 0);
    assert_true(s->health.enabled);
    assert_string_equal(s->health.url, "http://127.0.0.1:${PORT}/health");
    assert_int_equal(s->health.interval_ms, 2000);
    assert_int_equal(s->health.timeout_ms, 500);
    assert_int_equal(s->health.healthy_threshold, 2);
    assert_int_equal(s->health.unhealthy_threshold, 5);
    assert_int_equal(s->stop_grace_ms, 7000);
    assert_int_equal(m.services[1].port_kind, MANIFEST_PORT_FIXED);
    assert_int_equal(m.services[1].port, 9000);
    assert_int_equal(m.rollout.max_parallel, 2);
    assert_int_equal(m.rollout.min_healthy_time_ms, 15000);
    assert_int_equal(m.rollout.healthy_deadline_ms, 90000);
    assert_int_equal(m.rollout.progress_deadline_ms, 3600000);
    assert_false(m.rollout.auto_revert);
    manifest_free(&m);
}

static void test_minimal_manifest_gets_every_default(void **state)
{
    (void)state;
    struct manifest m;
    parse_ok(minimal, &m);
    assert_string_equal(m.description, "");
    const struct manifest_service *s = &m.services[0];
    assert_int_equal(s->driver, MANIFEST_DRIVER_PROCESS);
    assert_int_equal(s->nargs, 0);
    assert_int_equal(s->nenv, 0);
    assert_null(s->working_dir);
    assert_int_equal(s->port_kind, MANIFEST_PORT_NONE);
    assert_false(s->health.enabled);
    assert_int_equal(s->stop_grace_ms, 5000);
    assert_int_equal(m.rollout.max_parallel, 1);
    assert_int_equal(m.rollout.min_healthy_time_ms, 10000);
    assert_int_equal(m.rollout.healthy_deadline_ms, 300000);
    assert_int_equal(m.rollout.progress_deadline_ms, 600000);
    assert_true(m.rollout.auto_revert);
    manifest_free(&m);
}

static void test_health_with_only_a_url_gets_default_timing_and_thresholds(void **state)
{
    (void)state;
    struct manifest m;
    parse_ok("{\"name\":\"w\",\"version\":\"1\",\"services\":[{\"name\":\"a\",\"command\":\"a\","
             "\"health\":{\"url\":\"https://h.example/ready\"}}]}",
             &m);
    const struct manifest_health *h = &m.services[0].health;
    assert_true(h->enabled);
    assert_int_equal(h->interval_ms, 1000);
    assert_int_equal(h->timeout_ms, 1000);
    assert_int_equal(h->healthy_threshold, 1);
    assert_int_equal(h->unhealthy_threshold, 3);
    manifest_free(&m);
}

static void test_default_timeout_shrinks_to_a_short_interval(void **state)
{
    (void)state;
    struct manifest m;
    parse_ok("{\"name\":\"w\",\"version\":\"1\",\"services\":[{\"name\":\"a\",\"command\":\"a\","
             "\"health\":{\"url\":\"http://h/\",\"interval\":\"200ms\"}}]}",
             &m);
    assert_int_equal(m.services[0].health.timeout_ms, 200);
    manifest_free(&m);
}

static void test_durations_accept_integers_of_milliseconds(void **state)
{
    (void)state;
    struct manifest m;
    parse_ok("{\"name\":\"w\",\"version\":\"1\",\"services\":[{\"name\":\"a\",\"command\":\"a\","
             "\"stop_grace\":2500}],\"rollout\":{\"min_healthy_time\":0}}",
             &m);
    assert_int_equal(m.services[0].stop_grace_ms, 2500);
    assert_int_equal(m.rollout.min_healthy_time_ms, 0);
    manifest_free(&m);
}

static void test_null_reads_as_an_absent_optional_key(void **state)
{
    (void)state;
    struct manifest m;
    parse_ok("{\"name\":\"w\",\"version\":\"1\",\"description\":null,\"services\":[{\"name\":"
             "\"a\",\"command\":\"a\",\"port\":null,\"health\":null,\"working_dir\":null,"
             "\"env_file\":null,\"args\":null,\"env\":null,\"stop_grace\":null}],\"rollout\":null}",
             &m);
    assert_int_equal(m.services[0].port_kind, MANIFEST_PORT_NONE);
    assert_false(m.services[0].health.enabled);
    assert_int_equal(m.services[0].stop_grace_ms, 5000);
    assert_true(m.rollout.auto_revert);
    manifest_free(&m);
}

static void test_variables_with_a_port_and_dollar_escapes_are_accepted(void **state)
{
    (void)state;
    struct manifest m;
    parse_ok("{\"name\":\"w\",\"version\":\"1\",\"services\":[{\"name\":\"a\",\"command\":\"a\","
             "\"port\":80,\"args\":[\"${PORT}\",\"${NODE}\",\"${NAME}-${VERSION}\",\"$$5\","
             "\"$HOME\"]}]}",
             &m);
    assert_int_equal(m.services[0].nargs, 5);
    manifest_free(&m);
}

static void test_limits_themselves_are_accepted(void **state)
{
    (void)state;
    /* 16 services, one with 64 args, a 63-character name, a 64-character version. */
    size_t cap = 64 * 1024;
    char *doc = malloc(cap), *p = doc;
    assert_non_null(doc);
    p += sprintf(p, "{\"name\":\"%063d\",\"version\":\"%064d\",\"services\":[", 0, 0);
    p += sprintf(p, "{\"name\":\"s0\",\"command\":\"c\",\"args\":[");
    for (int i = 0; i < MANIFEST_MAX_ARGS; i++)
        p += sprintf(p, "%s\"a\"", i ? "," : "");
    p += sprintf(p, "]}");
    for (int i = 1; i < MANIFEST_MAX_SERVICES; i++)
        p += sprintf(p, ",{\"name\":\"s%d\",\"command\":\"c\"}", i);
    sprintf(p, "]}");
    struct manifest m;
    parse_ok(doc, &m);
    assert_int_equal(m.nservices, MANIFEST_MAX_SERVICES);
    assert_int_equal(m.services[0].nargs, MANIFEST_MAX_ARGS);
    assert_int_equal(strlen(m.name), 63);
    assert_int_equal(strlen(m.version), 64);
    manifest_free(&m);
    free(doc);
}

static void test_document_of_exactly_256_kib_is_accepted(void **state)
{
    (void)state;
    size_t len = MANIFEST_MAX_BYTES;
    char *doc = malloc(len);
    assert_non_null(doc);
    size_t n = strlen(minimal);
    memcpy(doc, minimal, n);
    memset(doc + n, ' ', len - n); /* trailing whitespace is valid JSON */
    struct manifest m;
    struct manifest_error err;
    assert_int_equal(manifest_parse(doc, len, &m, &err), 0);
    manifest_free(&m);
    free(doc);
}

static const char *user_of(const char *user, struct manifest *m)
{
    char doc[256];
    snprintf(doc, sizeof doc,
             "{\"name\":\"w\",\"version\":\"1\",\"services\":[{\"name\":\"a\","
             "\"command\":\"a\",\"user\":\"%s\"}]}",
             user);
    parse_ok(doc, m);
    return m->services[0].user;
}

static void test_user_name_is_kept_as_given(void **state)
{
    (void)state;
    struct manifest m;
    assert_string_equal(user_of("nobody", &m), "nobody");
    manifest_free(&m);
    assert_string_equal(user_of("svc-web.1_x$", &m), "svc-web.1_x$");
    manifest_free(&m);
}

static void test_user_as_uid_or_uid_and_gid_is_accepted(void **state)
{
    (void)state;
    struct manifest m;
    assert_string_equal(user_of("65534", &m), "65534");
    manifest_free(&m);
    assert_string_equal(user_of("1000:1000", &m), "1000:1000");
    manifest_free(&m);
    assert_string_equal(user_of("0", &m), "0");
    manifest_free(&m);
}

static void test_no_user_runs_as_chimerad_and_shows_null(void **state)
{
    (void)state;
    struct manifest m;
    parse_ok(minimal, &m);
    assert_null(m.services[0].user);
    json_t *j = manifest_to_json(&m);
    json_t *svc = json_array_get(json_object_get(j, "services"), 0);
    assert_true(json_is_null(json_object_get(svc, "user")));
    json_decref(j);
    manifest_free(&m);
}

static void test_user_is_in_the_normalised_json(void **state)
{
    (void)state;
    struct manifest m;
    user_of("nobody", &m);
    json_t *j = manifest_to_json(&m);
    json_t *svc = json_array_get(json_object_get(j, "services"), 0);
    assert_string_equal(json_string_value(json_object_get(svc, "user")), "nobody");
    json_decref(j);
    manifest_free(&m);
}

static void test_to_json_fills_defaults_with_durations_in_milliseconds(void **state)
{
    (void)state;
    struct manifest m;
    parse_ok(minimal, &m);
    json_t *j = manifest_to_json(&m);
    assert_non_null(j);
    json_t *svc = json_array_get(json_object_get(j, "services"), 0);
    assert_string_equal(json_string_value(json_object_get(svc, "driver")), "process");
    assert_true(json_is_null(json_object_get(svc, "port")));
    assert_true(json_is_null(json_object_get(svc, "health")));
    assert_true(json_is_null(json_object_get(svc, "working_dir")));
    assert_true(json_is_null(json_object_get(svc, "env_file")));
    assert_int_equal(json_integer_value(json_object_get(svc, "stop_grace")), 5000);
    json_t *r = json_object_get(j, "rollout");
    assert_int_equal(json_integer_value(json_object_get(r, "max_parallel")), 1);
    assert_int_equal(json_integer_value(json_object_get(r, "min_healthy_time")), 10000);
    assert_int_equal(json_integer_value(json_object_get(r, "healthy_deadline")), 300000);
    assert_int_equal(json_integer_value(json_object_get(r, "progress_deadline")), 600000);
    assert_true(json_is_true(json_object_get(r, "auto_revert")));
    json_decref(j);
    manifest_free(&m);
}

static void test_to_json_shows_auto_and_fixed_ports(void **state)
{
    (void)state;
    struct manifest m;
    parse_ok(full, &m);
    json_t *j = manifest_to_json(&m);
    assert_non_null(j);
    json_t *svcs = json_object_get(j, "services");
    assert_string_equal(json_string_value(json_object_get(json_array_get(svcs, 0), "port")),
                        "auto");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(svcs, 1), "port")), 9000);
    json_t *h = json_object_get(json_array_get(svcs, 0), "health");
    assert_int_equal(json_integer_value(json_object_get(h, "timeout")), 500);
    json_decref(j);
    manifest_free(&m);
}

static void test_to_json_output_parses_back_to_the_same_manifest(void **state)
{
    (void)state;
    struct manifest m, again;
    parse_ok(full, &m);
    json_t *j = manifest_to_json(&m);
    char *text = json_dumps(j, JSON_COMPACT);
    assert_non_null(text);
    parse_ok(text, &again);
    json_t *j2 = manifest_to_json(&again);
    assert_true(json_equal(j, j2));
    free(text);
    json_decref(j);
    json_decref(j2);
    manifest_free(&m);
    manifest_free(&again);
}

static void test_free_on_a_zeroed_manifest_is_harmless(void **state)
{
    (void)state;
    struct manifest m;
    memset(&m, 0, sizeof m);
    manifest_free(&m);
    manifest_free(NULL);
}

/* A file of the source tree, found from this file's path. */
static char *read_source(const char *rel, size_t *len)
{
    char path[1024];
    const char *self = __FILE__, *cut = strstr(self, "tests/unit/");
    assert_non_null(cut);
    snprintf(path, sizeof path, "%.*s%s", (int)(cut - self), self, rel);
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s", path);
    char *buf = malloc(MANIFEST_MAX_BYTES + 1);
    assert_non_null(buf);
    *len = fread(buf, 1, MANIFEST_MAX_BYTES, f);
    buf[*len] = '\0';
    fclose(f);
    return buf;
}

static void parse_example(const char *name, struct manifest *m)
{
    size_t len;
    char path[256];
    snprintf(path, sizeof path, "deploy/examples/%s", name);
    char *buf = read_source(path, &len);
    struct manifest_error err;
    if (manifest_parse(buf, len, m, &err) != 0)
        fail_msg("%s: %s: %s", name, err.path, err.message);
    free(buf);
}

static void assert_demo(const struct manifest *m, const char *version)
{
    assert_string_equal(m->name, "demo");
    assert_string_equal(m->version, version);
    assert_int_equal(m->nservices, 1);
    const struct manifest_service *s = &m->services[0];
    assert_string_equal(s->name, "web");
    assert_string_equal(s->command, "chimera-demo");
    assert_true(s->nargs >= 4);
    assert_string_equal(s->args[0], "--port");
    assert_string_equal(s->args[1], "${PORT}");
    assert_string_equal(s->args[2], "--version");
    assert_string_equal(s->args[3], "${VERSION}");
    assert_int_equal(s->port_kind, MANIFEST_PORT_AUTO);
    assert_string_equal(s->health.url, "http://127.0.0.1:${PORT}/health");
    assert_int_equal(s->health.interval_ms, 200);
    assert_int_equal(s->health.timeout_ms, 200);
    assert_int_equal(m->rollout.max_parallel, 1);
    assert_int_equal(m->rollout.min_healthy_time_ms, 2000);
    assert_true(m->rollout.healthy_deadline_ms >= 10000);
    assert_int_equal(m->rollout.progress_deadline_ms, 30000);
    assert_true(m->rollout.auto_revert);
}

static void test_example_demo_good_is_a_healthy_v1(void **state)
{
    (void)state;
    struct manifest m;
    parse_example("demo-good.json", &m);
    assert_demo(&m, "1.0.0");
    assert_int_equal(m.services[0].nargs, 4);
    manifest_free(&m);
}

static void test_example_demo_bad_health_fails_its_health_after_1s(void **state)
{
    (void)state;
    struct manifest m;
    parse_example("demo-bad-health.json", &m);
    assert_demo(&m, "2.0.0");
    assert_int_equal(m.services[0].nargs, 6);
    assert_string_equal(m.services[0].args[4], "--fail-health-after");
    assert_string_equal(m.services[0].args[5], "1s");
    /* Far enough for the watchtower's crash loop to come first. */
    assert_int_equal(m.rollout.healthy_deadline_ms, 20000);
    manifest_free(&m);
}

static void test_example_demo_crash_crashes_after_1s(void **state)
{
    (void)state;
    struct manifest m;
    parse_example("demo-crash.json", &m);
    assert_demo(&m, "3.0.0");
    assert_int_equal(m.services[0].nargs, 6);
    assert_string_equal(m.services[0].args[4], "--crash-after");
    assert_string_equal(m.services[0].args[5], "1s");
    manifest_free(&m);
}

static void test_readme_example_parses(void **state)
{
    (void)state;
    size_t len;
    char *readme = read_source("README.md", &len);
    char *sec = strstr(readme, "## Releases (manifests)");
    assert_non_null(sec);
    char *start = strstr(sec, "```json\n");
    assert_non_null(start);
    start += strlen("```json\n");
    char *end = strstr(start, "```");
    assert_non_null(end);
    struct manifest m;
    struct manifest_error err;
    if (manifest_parse(start, (size_t)(end - start), &m, &err) != 0)
        fail_msg("README example: %s: %s", err.path, err.message);
    assert_string_equal(m.name, "web");
    manifest_free(&m);
    free(readme);
}

static void test_env_file_path_is_kept_and_shown_but_never_read(void **state)
{
    (void)state;
    struct manifest m;
    /* The file does not exist here: whether it does is the simulate stage's. */
    parse_ok("{\"name\":\"w\",\"version\":\"1\",\"services\":[{\"name\":\"a\",\"command\":\"a\","
             "\"env\":{\"MODE\":\"fast\"},\"env_file\":\"/nonexistent/secrets.env\"}]}",
             &m);
    assert_string_equal(m.services[0].env_file, "/nonexistent/secrets.env");
    json_t *j = manifest_to_json(&m);
    json_t *svc = json_array_get(json_object_get(j, "services"), 0);
    assert_string_equal(json_string_value(json_object_get(svc, "env_file")),
                        "/nonexistent/secrets.env");
    json_decref(j);
    manifest_free(&m);
}

static void test_absent_env_file_is_null(void **state)
{
    (void)state;
    struct manifest m;
    parse_ok(minimal, &m);
    assert_null(m.services[0].env_file);
    manifest_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_manifest_parses_every_field),
        cmocka_unit_test(test_minimal_manifest_gets_every_default),
        cmocka_unit_test(test_user_name_is_kept_as_given),
        cmocka_unit_test(test_user_as_uid_or_uid_and_gid_is_accepted),
        cmocka_unit_test(test_no_user_runs_as_chimerad_and_shows_null),
        cmocka_unit_test(test_user_is_in_the_normalised_json),
        cmocka_unit_test(test_health_with_only_a_url_gets_default_timing_and_thresholds),
        cmocka_unit_test(test_default_timeout_shrinks_to_a_short_interval),
        cmocka_unit_test(test_durations_accept_integers_of_milliseconds),
        cmocka_unit_test(test_null_reads_as_an_absent_optional_key),
        cmocka_unit_test(test_variables_with_a_port_and_dollar_escapes_are_accepted),
        cmocka_unit_test(test_limits_themselves_are_accepted),
        cmocka_unit_test(test_document_of_exactly_256_kib_is_accepted),
        cmocka_unit_test(test_to_json_fills_defaults_with_durations_in_milliseconds),
        cmocka_unit_test(test_to_json_shows_auto_and_fixed_ports),
        cmocka_unit_test(test_to_json_output_parses_back_to_the_same_manifest),
        cmocka_unit_test(test_free_on_a_zeroed_manifest_is_harmless),
        cmocka_unit_test(test_example_demo_good_is_a_healthy_v1),
        cmocka_unit_test(test_example_demo_bad_health_fails_its_health_after_1s),
        cmocka_unit_test(test_example_demo_crash_crashes_after_1s),
        cmocka_unit_test(test_readme_example_parses),
        cmocka_unit_test(test_env_file_path_is_kept_and_shown_but_never_read),
        cmocka_unit_test(test_absent_env_file_is_null),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
