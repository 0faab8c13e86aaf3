/* Env files: the parser (pipeline/core/env_file.c) with ordinary and hostile
 * input, the merge with the manifest's env, the probe that reads the file on
 * a node, and the simulate stage's judgement of what the probe found. No
 * error message ever holds a value from the file. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "pipeline/core/certify.h"
#include "pipeline/core/env_file.h"
#include "pipeline/exec/probe.h"

#define SECRET "s3cr3t-value"

static struct envfile parse_ok(const char *text)
{
    struct envfile f;
    struct envfile_error e;
    int rc = envfile_parse(text, strlen(text), &f, &e);
    if (rc)
        fprintf(stderr, "unexpected error: %s\n", e.message);
    assert_int_equal(rc, 0);
    return f;
}

static const char *value_of(const struct envfile *f, const char *name)
{
    for (size_t i = 0; i < f->n; i++)
        if (f->e[i].name_len == strlen(name) && memcmp(f->e[i].kv, name, f->e[i].name_len) == 0)
            return f->e[i].kv + f->e[i].name_len + 1;
    return NULL;
}

/* Parsing buf fails on line (0: the file) with a message holding want and
 * never the secret. */
static void parse_fails(const char *buf, size_t len, size_t line, const char *want)
{
    struct envfile f;
    struct envfile_error e;
    assert_int_equal(envfile_parse(buf, len, &f, &e), -1);
    if (!strstr(e.message, want))
        fprintf(stderr, "got \"%s\", want \"%s\"\n", e.message, want);
    assert_non_null(strstr(e.message, want));
    assert_int_equal(e.line, line);
    assert_null(strstr(e.message, SECRET));
    assert_int_equal(f.n, 0);
    assert_null(f.e);
}

#define FAILS(text, line, want) parse_fails(text, sizeof(text) - 1, line, want)

/* ---- the format --------------------------------------------------------- */

static void test_name_value_lines_are_read_in_order(void **state)
{
    (void)state;
    struct envfile f = parse_ok("DB_PASSWORD=" SECRET "\nAPI_KEY=abc\n");
    assert_int_equal(f.n, 2);
    assert_string_equal(f.e[0].kv, "DB_PASSWORD=" SECRET);
    assert_int_equal(f.e[0].name_len, 11);
    assert_int_equal(f.e[0].line, 1);
    assert_string_equal(f.e[1].kv, "API_KEY=abc");
    assert_int_equal(f.e[1].line, 2);
    envfile_free(&f);
}

static void test_comments_and_blank_lines_are_skipped(void **state)
{
    (void)state;
    struct envfile f = parse_ok("# the web tier's secrets\n\n   \n\t# indented comment\nA=1\n");
    assert_int_equal(f.n, 1);
    assert_int_equal(f.e[0].line, 5);
    envfile_free(&f);
}

static void test_export_prefix_is_accepted(void **state)
{
    (void)state;
    struct envfile f = parse_ok("export TOKEN=x\nexport\tOTHER=y\n");
    assert_string_equal(value_of(&f, "TOKEN"), "x");
    assert_string_equal(value_of(&f, "OTHER"), "y");
    envfile_free(&f);
}

static void test_a_variable_named_export_is_still_a_variable(void **state)
{
    (void)state;
    struct envfile f = parse_ok("export=1\n");
    assert_string_equal(value_of(&f, "export"), "1");
    envfile_free(&f);
}

static void test_blanks_around_the_equals_and_an_unquoted_value_are_trimmed(void **state)
{
    (void)state;
    struct envfile f = parse_ok("  A = spaced value  \t\n");
    assert_string_equal(value_of(&f, "A"), "spaced value");
    envfile_free(&f);
}

static void test_hash_after_a_blank_starts_a_comment_in_an_unquoted_value(void **state)
{
    (void)state;
    struct envfile f = parse_ok("A=value # note\nB=pa#ss\n");
    assert_string_equal(value_of(&f, "A"), "value");
    assert_string_equal(value_of(&f, "B"), "pa#ss");
    envfile_free(&f);
}

static void test_quoted_values_are_taken_as_they_are(void **state)
{
    (void)state;
    struct envfile f =
        parse_ok("A='a \"b\" # c'\nB=\"it's $HOME ${X} \\n\"  # note\nC=\"\"\nD=''\n");
    assert_string_equal(value_of(&f, "A"), "a \"b\" # c");
    assert_string_equal(value_of(&f, "B"), "it's $HOME ${X} \\n");
    assert_string_equal(value_of(&f, "C"), "");
    assert_string_equal(value_of(&f, "D"), "");
    envfile_free(&f);
}

static void test_dollar_is_never_expanded(void **state)
{
    (void)state;
    struct envfile f = parse_ok("A=$PATH\nB=${NODE}\n");
    assert_string_equal(value_of(&f, "A"), "$PATH");
    assert_string_equal(value_of(&f, "B"), "${NODE}");
    envfile_free(&f);
}

static void test_empty_value_is_an_empty_string(void **state)
{
    (void)state;
    struct envfile f = parse_ok("EMPTY=\n");
    assert_string_equal(value_of(&f, "EMPTY"), "");
    envfile_free(&f);
}

static void test_crlf_line_endings_and_no_final_newline_are_accepted(void **state)
{
    (void)state;
    struct envfile f = parse_ok("A=1\r\nB=\"2\"\r\nC=3");
    assert_string_equal(value_of(&f, "A"), "1");
    assert_string_equal(value_of(&f, "B"), "2");
    assert_string_equal(value_of(&f, "C"), "3");
    envfile_free(&f);
}

static void test_empty_file_has_no_variables(void **state)
{
    (void)state;
    struct envfile f;
    struct envfile_error e;
    assert_int_equal(envfile_parse("", 0, &f, &e), 0);
    assert_int_equal(f.n, 0);
    envfile_free(&f);
    assert_int_equal(envfile_parse(NULL, 0, &f, &e), 0);
    envfile_free(&f);
}

/* ---- hostile input: line and reason, never the value --------------------- */

static void test_name_starting_with_a_digit_is_refused(void **state)
{
    (void)state;
    FAILS("A=1\n1X=" SECRET "\n", 2, "line 2: invalid variable name");
}

static void test_name_with_a_dash_is_refused(void **state)
{
    (void)state;
    FAILS("DB-PASS=" SECRET "\n", 1, "invalid variable name");
}

static void test_line_without_equals_is_refused(void **state)
{
    (void)state;
    FAILS("\n\nJUSTANAME\n", 3, "line 3: expected NAME=value");
}

static void test_line_that_is_only_a_value_is_refused(void **state)
{
    (void)state;
    FAILS(SECRET "-with-dash\n", 1, "invalid variable name");
}

static void test_equals_without_a_name_is_refused(void **state)
{
    (void)state;
    FAILS("=" SECRET "\n", 1, "no variable name before '='");
}

static void test_unterminated_double_quote_is_refused(void **state)
{
    (void)state;
    FAILS("A=\"" SECRET "\nB=2\n", 1, "line 1: unterminated double quote");
}

static void test_unterminated_single_quote_is_refused(void **state)
{
    (void)state;
    FAILS("A='" SECRET "\n", 1, "unterminated single quote");
}

static void test_text_after_a_closing_quote_is_refused(void **state)
{
    (void)state;
    FAILS("A=\"x\"" SECRET "\n", 1, "unexpected text after the closing quote");
}

static void test_nul_byte_is_refused_with_its_line(void **state)
{
    (void)state;
    static const char text[] = "A=1\nB=" SECRET "\0tail\nC=3\n";
    parse_fails(text, sizeof(text) - 1, 2, "line 2: a NUL byte");
}

static void test_name_set_twice_is_refused_on_its_second_line(void **state)
{
    (void)state;
    FAILS("A=1\nB=2\nA=" SECRET "\n", 3, "line 3: the variable of line 1 is set again");
}

static void test_name_over_128_bytes_is_refused(void **state)
{
    (void)state;
    char text[300];
    memset(text, 'N', 129);
    snprintf(text + 129, sizeof(text) - 129, "=%s\n", SECRET);
    parse_fails(text, strlen(text), 1, "variable name longer than 128 bytes");
}

static void test_value_over_4096_bytes_is_refused(void **state)
{
    (void)state;
    size_t n = 2 + ENVFILE_VALUE_MAX + 1;
    char *text = malloc(n + 1);
    assert_non_null(text);
    memcpy(text, "A=", 2);
    memset(text + 2, 'v', ENVFILE_VALUE_MAX + 1);
    text[n] = '\0';
    parse_fails(text, n, 1, "value longer than 4096 bytes");
    free(text);
}

static void test_value_of_exactly_4096_bytes_is_accepted(void **state)
{
    (void)state;
    size_t n = 2 + ENVFILE_VALUE_MAX;
    char *text = malloc(n + 1);
    assert_non_null(text);
    memcpy(text, "A=", 2);
    memset(text + 2, 'v', ENVFILE_VALUE_MAX);
    text[n] = '\0';
    struct envfile f = parse_ok(text);
    assert_int_equal(strlen(value_of(&f, "A")), ENVFILE_VALUE_MAX);
    envfile_free(&f);
    free(text);
}

static void test_a_long_line_without_newlines_is_refused_not_overrun(void **state)
{
    (void)state;
    size_t n = ENVFILE_MAX_BYTES; /* one 64 KiB line */
    char *text = malloc(n);
    assert_non_null(text);
    memset(text, 'x', n);
    parse_fails(text, n, 1, "expected NAME=value");
    free(text);
}

static void test_file_over_64_kib_is_refused_before_parsing(void **state)
{
    (void)state;
    size_t n = ENVFILE_MAX_BYTES + 1;
    char *text = malloc(n);
    assert_non_null(text);
    memset(text, '\n', n);
    parse_fails(text, n, 0, "65537 bytes; an env file holds at most 65536 (64 KiB)");
    free(text);
}

static void test_more_than_256_variables_are_refused(void **state)
{
    (void)state;
    char *text = malloc(ENVFILE_MAX_BYTES);
    assert_non_null(text);
    size_t k = 0;
    for (int i = 0; i <= ENVFILE_MAX_ENTRIES; i++)
        k += (size_t)snprintf(text + k, ENVFILE_MAX_BYTES - k, "V%d=1\n", i);
    parse_fails(text, k, ENVFILE_MAX_ENTRIES + 1, "more than 256 variables");
    free(text);
}

static void test_binary_garbage_is_refused_with_a_line(void **state)
{
    (void)state;
    static const char text[] = "\xff\xfe\x01=\x80\n";
    parse_fails(text, sizeof(text) - 1, 1, "invalid variable name");
}

static void test_free_wipes_and_empties(void **state)
{
    (void)state;
    struct envfile f = parse_ok("A=" SECRET "\n");
    envfile_free(&f);
    assert_null(f.e);
    assert_int_equal(f.n, 0);
    envfile_free(&f); /* twice is harmless */
    envfile_free(NULL);
}

/* ---- merge -------------------------------------------------------------- */

static void test_merge_lets_the_manifest_and_the_node_win(void **state)
{
    (void)state;
    struct envfile f = parse_ok("MODE=from-file\nSECRET=x\nPORT=1\nCHIMERA_SERVICE_OWNER=/x\n");
    const char *env[8] = {"PORT=8080", "MODE=fast", "CHIMERA_SERVICE_OWNER=/data/n1"};
    size_t k = envfile_merge(&f, env, 3, 8);
    assert_int_equal(k, 4);
    assert_string_equal(env[0], "PORT=8080");
    assert_string_equal(env[1], "MODE=fast");
    assert_string_equal(env[3], "SECRET=x");
    envfile_free(&f);
}

static void test_merge_compares_whole_names(void **state)
{
    (void)state;
    struct envfile f = parse_ok("MODE_X=1\nMOD=2\n");
    const char *env[4] = {"MODE=fast"};
    assert_int_equal(envfile_merge(&f, env, 1, 4), 3);
    envfile_free(&f);
}

static void test_merge_stops_at_capacity(void **state)
{
    (void)state;
    struct envfile f = parse_ok("A=1\nB=2\nC=3\n");
    const char *env[2] = {0};
    assert_int_equal(envfile_merge(&f, env, 0, 2), 2);
    envfile_free(&f);
}

/* ---- probe and judge ---------------------------------------------------- */

struct fixture {
    char dir[64];
    struct manifest m;
    struct probe_facts f;
};

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));
    assert_non_null(fx);
    snprintf(fx->dir, sizeof(fx->dir), "/tmp/chimera-envfile-XXXXXX");
    assert_non_null(mkdtemp(fx->dir));
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    manifest_free(&fx->m);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->dir);
    assert_int_equal(system(cmd), 0);
    free(fx);
    return 0;
}

static void path_in(const struct fixture *fx, const char *name, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s", fx->dir, name);
}

static void write_text(const char *path, const char *text, mode_t mode)
{
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
    assert_int_equal(chmod(path, mode), 0);
}

/* One service "svc" running /bin/sh with env_file path, probed as n1. */
static void probe_with(struct fixture *fx, const char *path)
{
    char doc[1024];
    snprintf(doc, sizeof(doc),
             "{\"name\": \"demo\", \"version\": \"1\", \"services\": [{\"name\": \"svc\","
             " \"command\": \"/bin/sh\", \"env_file\": \"%s\"}]}",
             path);
    struct manifest_error e;
    assert_int_equal(manifest_parse(doc, strlen(doc), &fx->m, &e), 0);
    assert_int_equal(probe_release(&fx->m, "n1", &fx->f), 0);
}

static const struct cert_issue *find_issue(const struct cert_issue *is, size_t n, const char *code)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(is[i].code, code) == 0)
            return &is[i];
    return NULL;
}

static void test_probe_reads_a_good_env_file(void **state)
{
    struct fixture *fx = *state;
    char p[128];
    path_in(fx, "good.env", p, sizeof(p));
    write_text(p, "TOKEN=" SECRET "\n", 0600);
    probe_with(fx, p);
    assert_true(fx->f.services[0].env_file_set);
    assert_true(fx->f.services[0].env_file_ok);
    struct cert_issue is[8];
    size_t n = cert_judge(&fx->m, &fx->f, 1, is, 8);
    assert_null(find_issue(is, n, "env_file_invalid"));
}

static void test_missing_env_file_is_a_critical_unhealable_issue_naming_the_file(void **state)
{
    struct fixture *fx = *state;
    char p[128];
    path_in(fx, "missing.env", p, sizeof(p));
    probe_with(fx, p);
    assert_true(fx->f.services[0].env_file_set);
    assert_false(fx->f.services[0].env_file_ok);
    struct cert_issue is[8];
    size_t n = cert_judge(&fx->m, &fx->f, 1, is, 8);
    const struct cert_issue *i = find_issue(is, n, "env_file_invalid");
    assert_non_null(i);
    assert_int_equal(i->severity, CERT_CRITICAL);
    assert_false(i->healable);
    assert_string_equal(i->node, "n1");
    assert_string_equal(i->service, "svc");
    assert_non_null(strstr(i->message, p));
    assert_non_null(strstr(i->message, "No such file or directory"));
}

static void test_malformed_env_file_is_reported_with_its_line_and_no_value(void **state)
{
    struct fixture *fx = *state;
    char p[128];
    path_in(fx, "bad.env", p, sizeof(p));
    write_text(p, "OK=1\nPASSWORD=\"" SECRET "\n", 0600);
    probe_with(fx, p);
    assert_false(fx->f.services[0].env_file_ok);
    assert_non_null(strstr(fx->f.services[0].env_file_error, "line 2: unterminated"));
    assert_null(strstr(fx->f.services[0].env_file_error, SECRET));
}

static void test_unreadable_env_file_is_reported(void **state)
{
    struct fixture *fx = *state;
    if (geteuid() == 0)
        skip(); /* root reads anything */
    char p[128];
    path_in(fx, "locked.env", p, sizeof(p));
    write_text(p, "A=1\n", 0000);
    probe_with(fx, p);
    assert_false(fx->f.services[0].env_file_ok);
    assert_non_null(strstr(fx->f.services[0].env_file_error, "Permission denied"));
}

static void test_a_directory_is_not_an_env_file(void **state)
{
    struct fixture *fx = *state;
    probe_with(fx, fx->dir);
    assert_false(fx->f.services[0].env_file_ok);
    assert_non_null(strstr(fx->f.services[0].env_file_error, "not a regular file"));
}

static void test_env_file_over_64_kib_is_refused_by_the_probe(void **state)
{
    struct fixture *fx = *state;
    char p[128];
    path_in(fx, "big.env", p, sizeof(p));
    FILE *fp = fopen(p, "w");
    assert_non_null(fp);
    for (size_t i = 0; i < ENVFILE_MAX_BYTES + 10; i++)
        fputc('\n', fp);
    fclose(fp);
    probe_with(fx, p);
    assert_false(fx->f.services[0].env_file_ok);
    assert_non_null(strstr(fx->f.services[0].env_file_error, "at most 65536"));
}

static void test_facts_without_the_env_file_check_are_critical(void **state)
{
    struct fixture *fx = *state;
    char p[128];
    path_in(fx, "good.env", p, sizeof(p));
    write_text(p, "A=1\n", 0600);
    probe_with(fx, p);
    fx->f.services[0].env_file_set = false; /* a node that did not look */
    fx->f.services[0].env_file_ok = false;
    struct cert_issue is[8];
    size_t n = cert_judge(&fx->m, &fx->f, 1, is, 8);
    assert_non_null(find_issue(is, n, "env_file_invalid"));
}

static void test_node_in_the_env_file_path_picks_each_node_its_file(void **state)
{
    struct fixture *fx = *state;
    char p[128], tmpl[128];
    path_in(fx, "n1.env", p, sizeof(p));
    write_text(p, "A=1\n", 0600);
    path_in(fx, "${NODE}.env", tmpl, sizeof(tmpl));
    probe_with(fx, tmpl); /* probed as n1 */
    assert_true(fx->f.services[0].env_file_ok);
    assert_int_equal(probe_release(&fx->m, "n2", &fx->f), 0);
    assert_false(fx->f.services[0].env_file_ok);
    assert_non_null(strstr(fx->f.services[0].env_file_error, "/n2.env: cannot read"));
}

static void test_env_file_facts_survive_json(void **state)
{
    struct fixture *fx = *state;
    char p[128], err[200];
    path_in(fx, "missing.env", p, sizeof(p));
    probe_with(fx, p);
    json_t *js = probe_facts_to_json(&fx->f);
    assert_non_null(js);
    struct probe_facts *back = malloc(sizeof(*back));
    assert_non_null(back);
    assert_int_equal(probe_facts_from_json(js, back, err, sizeof(err)), 0);
    assert_true(back->services[0].env_file_set);
    assert_false(back->services[0].env_file_ok);
    assert_string_equal(back->services[0].env_file_error, fx->f.services[0].env_file_error);
    json_decref(js);
    free(back);
}

int main(void)
{
    static const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_name_value_lines_are_read_in_order),
        cmocka_unit_test(test_comments_and_blank_lines_are_skipped),
        cmocka_unit_test(test_export_prefix_is_accepted),
        cmocka_unit_test(test_a_variable_named_export_is_still_a_variable),
        cmocka_unit_test(test_blanks_around_the_equals_and_an_unquoted_value_are_trimmed),
        cmocka_unit_test(test_hash_after_a_blank_starts_a_comment_in_an_unquoted_value),
        cmocka_unit_test(test_quoted_values_are_taken_as_they_are),
        cmocka_unit_test(test_dollar_is_never_expanded),
        cmocka_unit_test(test_empty_value_is_an_empty_string),
        cmocka_unit_test(test_crlf_line_endings_and_no_final_newline_are_accepted),
        cmocka_unit_test(test_empty_file_has_no_variables),
        cmocka_unit_test(test_name_starting_with_a_digit_is_refused),
        cmocka_unit_test(test_name_with_a_dash_is_refused),
        cmocka_unit_test(test_line_without_equals_is_refused),
        cmocka_unit_test(test_line_that_is_only_a_value_is_refused),
        cmocka_unit_test(test_equals_without_a_name_is_refused),
        cmocka_unit_test(test_unterminated_double_quote_is_refused),
        cmocka_unit_test(test_unterminated_single_quote_is_refused),
        cmocka_unit_test(test_text_after_a_closing_quote_is_refused),
        cmocka_unit_test(test_nul_byte_is_refused_with_its_line),
        cmocka_unit_test(test_name_set_twice_is_refused_on_its_second_line),
        cmocka_unit_test(test_name_over_128_bytes_is_refused),
        cmocka_unit_test(test_value_over_4096_bytes_is_refused),
        cmocka_unit_test(test_value_of_exactly_4096_bytes_is_accepted),
        cmocka_unit_test(test_a_long_line_without_newlines_is_refused_not_overrun),
        cmocka_unit_test(test_file_over_64_kib_is_refused_before_parsing),
        cmocka_unit_test(test_more_than_256_variables_are_refused),
        cmocka_unit_test(test_binary_garbage_is_refused_with_a_line),
        cmocka_unit_test(test_free_wipes_and_empties),
        cmocka_unit_test(test_merge_lets_the_manifest_and_the_node_win),
        cmocka_unit_test(test_merge_compares_whole_names),
        cmocka_unit_test(test_merge_stops_at_capacity),
        cmocka_unit_test_setup_teardown(test_probe_reads_a_good_env_file, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_missing_env_file_is_a_critical_unhealable_issue_naming_the_file, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_malformed_env_file_is_reported_with_its_line_and_no_value, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unreadable_env_file_is_reported, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_directory_is_not_an_env_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_env_file_over_64_kib_is_refused_by_the_probe, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_facts_without_the_env_file_check_are_critical, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_node_in_the_env_file_path_picks_each_node_its_file,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_env_file_facts_survive_json, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
