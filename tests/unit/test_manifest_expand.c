/* manifest_expand (${PORT}, ${NODE}, ${NAME}, ${VERSION}, $$), durations
 * both ways, and manifest_digest over the exact submitted bytes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "pipeline/core/manifest.h"

static const struct manifest_vars vars = {"node2", "web", "1.4.2", 31337};

static void expands_to(const char *tmpl, const char *want)
{
    char out[256];
    struct manifest_error err;
    if (manifest_expand(tmpl, &vars, out, sizeof out, &err) != 0)
        fail_msg("%s: %s", tmpl, err.message);
    assert_string_equal(out, want);
}

static void refuses(const char *tmpl, const struct manifest_vars *v, const char *message)
{
    char out[256];
    struct manifest_error err;
    assert_int_equal(manifest_expand(tmpl, v, out, sizeof out, &err), -1);
    assert_string_equal(err.path, "");
    if (!strstr(err.message, message))
        fail_msg("got \"%s\"; want \"%s\"", err.message, message);
}

static void test_port_expands_to_the_service_port(void **state)
{
    (void)state;
    expands_to("http://127.0.0.1:${PORT}/health", "http://127.0.0.1:31337/health");
}

static void test_node_expands_to_the_node_id(void **state)
{
    (void)state;
    expands_to("--node=${NODE}", "--node=node2");
}

static void test_name_expands_to_the_release_name(void **state)
{
    (void)state;
    expands_to("${NAME}", "web");
}

static void test_version_expands_to_the_release_version(void **state)
{
    (void)state;
    expands_to("v${VERSION}!", "v1.4.2!");
}

static void test_every_variable_in_one_template(void **state)
{
    (void)state;
    expands_to("${NAME}-${VERSION}@${NODE}:${PORT}${PORT}", "web-1.4.2@node2:3133731337");
}

static void test_double_dollar_is_a_literal_dollar(void **state)
{
    (void)state;
    expands_to("cost $$5 and $${PORT}", "cost $5 and ${PORT}");
}

static void test_lone_dollar_is_kept(void **state)
{
    (void)state;
    expands_to("$HOME $ x$", "$HOME $ x$");
}

static void test_template_without_variables_is_copied(void **state)
{
    (void)state;
    expands_to("", "");
    expands_to("--verbose", "--verbose");
}

static void test_unknown_variable_is_an_error(void **state)
{
    (void)state;
    refuses("${HOST}", &vars, "unknown variable ${HOST}; variables are ${PORT}");
}

static void test_empty_variable_is_unknown(void **state)
{
    (void)state;
    refuses("${}", &vars, "unknown variable ${}");
}

static void test_unterminated_variable_is_an_error(void **state)
{
    (void)state;
    refuses("a${PORT", &vars, "unterminated \"${\"");
}

static void test_port_without_a_port_is_an_error(void **state)
{
    (void)state;
    struct manifest_vars v = vars;
    v.port = 0;
    refuses("${PORT}", &v, "${PORT} needs a port");
}

static void test_missing_variable_value_is_an_error(void **state)
{
    (void)state;
    struct manifest_vars v = vars;
    v.node = NULL;
    refuses("${NODE}", &v, "no value for ${NODE}");
}

static void test_result_that_does_not_fit_is_an_error(void **state)
{
    (void)state;
    char out[5];
    struct manifest_error err;
    assert_int_equal(manifest_expand("${VERSION}", &vars, out, sizeof out, &err), -1);
    assert_string_equal(out, "");
    assert_non_null(strstr(err.message, "expands to 5 bytes; at most 4 fit"));
}

static void test_result_that_fits_exactly_is_expanded(void **state)
{
    (void)state;
    char out[6];
    struct manifest_error err;
    assert_int_equal(manifest_expand("${VERSION}", &vars, out, sizeof out, &err), 0);
    assert_string_equal(out, "1.4.2");
}

static void test_null_output_only_checks_the_template(void **state)
{
    (void)state;
    struct manifest_error err;
    assert_int_equal(manifest_expand("${PORT} and a long tail", &vars, NULL, 0, &err), 0);
    assert_int_equal(manifest_expand("${NOPE}", &vars, NULL, 0, &err), -1);
}

/* ---- durations ---- */

static uint32_t dur(const char *s)
{
    uint32_t ms = 12345;
    char why[64];
    if (manifest_parse_duration(s, &ms, why, sizeof why) != 0)
        fail_msg("%s: %s", s, why);
    return ms;
}

static void test_durations_in_every_unit(void **state)
{
    (void)state;
    assert_int_equal(dur("500ms"), 500);
    assert_int_equal(dur("10s"), 10000);
    assert_int_equal(dur("2m"), 120000);
    assert_int_equal(dur("1h"), 3600000);
    assert_int_equal(dur("0"), 0);
    assert_int_equal(dur("0s"), 0);
}

static void test_compound_and_fractional_durations(void **state)
{
    (void)state;
    assert_int_equal(dur("1m30s"), 90000);
    assert_int_equal(dur("1h2m3s4ms"), 3723004);
    assert_int_equal(dur("1.5s"), 1500);
    assert_int_equal(dur("0.25m"), 15000);
    assert_int_equal(dur("24h"), MANIFEST_MAX_DURATION_MS);
}

static void test_duration_formatting_reads_back(void **state)
{
    (void)state;
    const uint32_t cases[] = {0,     1,     999,     1000,    1500,
                              60000, 90000, 3600000, 3723004, MANIFEST_MAX_DURATION_MS};
    char buf[32];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        manifest_format_duration(cases[i], buf, sizeof buf);
        assert_int_equal(dur(buf), cases[i]);
    }
    manifest_format_duration(90000, buf, sizeof buf);
    assert_string_equal(buf, "1m30s");
    manifest_format_duration(500, buf, sizeof buf);
    assert_string_equal(buf, "500ms");
    manifest_format_duration(0, buf, sizeof buf);
    assert_string_equal(buf, "0ms");
}

/* ---- digest ---- */

static const char doc[] =
    "{\"name\":\"web\",\"version\":\"1\",\"services\":[{\"name\":\"api\",\"command\":\"api\"}]}";

static void test_digest_is_blake2b_256_of_the_tag_then_the_exact_bytes(void **state)
{
    (void)state;
    uint8_t got[MANIFEST_DIGEST_BYTES], want[MANIFEST_DIGEST_BYTES];
    size_t tlen = strlen(MANIFEST_DIGEST_TAG), n = strlen(doc);
    uint8_t *buf = malloc(tlen + n);
    assert_non_null(buf);
    memcpy(buf, MANIFEST_DIGEST_TAG, tlen);
    memcpy(buf + tlen, doc, n);
    crypto_generichash(want, sizeof want, buf, tlen + n, NULL, 0);
    manifest_digest(doc, n, got);
    assert_memory_equal(got, want, sizeof want);
    assert_string_equal(MANIFEST_DIGEST_TAG, "chimera/release/v1");
    free(buf);
}

static void test_digest_is_stable(void **state)
{
    (void)state;
    uint8_t a[MANIFEST_DIGEST_BYTES], b[MANIFEST_DIGEST_BYTES];
    manifest_digest(doc, strlen(doc), a);
    manifest_digest(doc, strlen(doc), b);
    assert_memory_equal(a, b, sizeof a);
}

static void test_digest_changes_with_any_byte(void **state)
{
    (void)state;
    size_t n = strlen(doc);
    uint8_t base[MANIFEST_DIGEST_BYTES], d[MANIFEST_DIGEST_BYTES];
    char copy[sizeof doc];
    manifest_digest(doc, n, base);
    for (size_t i = 0; i < n; i++) {
        memcpy(copy, doc, sizeof doc);
        copy[i] ^= 0x01;
        manifest_digest(copy, n, d);
        if (memcmp(base, d, sizeof d) == 0)
            fail_msg("flipping byte %zu left the digest unchanged", i);
    }
    manifest_digest(doc, n - 1, d); /* a byte fewer */
    assert_memory_not_equal(base, d, sizeof d);
}

static void test_digest_of_equivalent_json_differs(void **state)
{
    (void)state;
    /* The exact bytes are signed, not a re-encoding: whitespace counts. */
    char spaced[sizeof doc + 1];
    snprintf(spaced, sizeof spaced, "%s ", doc);
    uint8_t a[MANIFEST_DIGEST_BYTES], b[MANIFEST_DIGEST_BYTES];
    manifest_digest(doc, strlen(doc), a);
    manifest_digest(spaced, strlen(spaced), b);
    assert_memory_not_equal(a, b, sizeof a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_port_expands_to_the_service_port),
        cmocka_unit_test(test_node_expands_to_the_node_id),
        cmocka_unit_test(test_name_expands_to_the_release_name),
        cmocka_unit_test(test_version_expands_to_the_release_version),
        cmocka_unit_test(test_every_variable_in_one_template),
        cmocka_unit_test(test_double_dollar_is_a_literal_dollar),
        cmocka_unit_test(test_lone_dollar_is_kept),
        cmocka_unit_test(test_template_without_variables_is_copied),
        cmocka_unit_test(test_unknown_variable_is_an_error),
        cmocka_unit_test(test_empty_variable_is_unknown),
        cmocka_unit_test(test_unterminated_variable_is_an_error),
        cmocka_unit_test(test_port_without_a_port_is_an_error),
        cmocka_unit_test(test_missing_variable_value_is_an_error),
        cmocka_unit_test(test_result_that_does_not_fit_is_an_error),
        cmocka_unit_test(test_result_that_fits_exactly_is_expanded),
        cmocka_unit_test(test_null_output_only_checks_the_template),
        cmocka_unit_test(test_durations_in_every_unit),
        cmocka_unit_test(test_compound_and_fractional_durations),
        cmocka_unit_test(test_duration_formatting_reads_back),
        cmocka_unit_test(test_digest_is_blake2b_256_of_the_tag_then_the_exact_bytes),
        cmocka_unit_test(test_digest_is_stable),
        cmocka_unit_test(test_digest_changes_with_any_byte),
        cmocka_unit_test(test_digest_of_equivalent_json_differs),
    };
    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
