/* Monitoring: what a live federation's /metrics says passes `promtool check
 * metrics` without a word, and the alert rules (deploy/prometheus) and the
 * Grafana dashboard (deploy/grafana) name only metrics a live node exposes,
 * so that neither drifts from the code. The dashboard takes its data source
 * from a variable, so that it imports into any Grafana. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "mon.h"

#define NODES 3
#define ALERTS "deploy/prometheus/alerts.yml"
#define DASHBOARD "deploy/grafana/chimera.json"

static struct h_cluster *fed;

static int setup(void **state)
{
    (void)state;
    fed = h_cluster_create(NODES);
    if (!fed || h_start_agreed(fed, "test_monitoring", NULL) < 0)
        return -1;
    /* One committed note: the commit, fsync and HTTP series have samples. */
    int leader = -1;
    if (!h_wait_agreed(fed, 0, h_timeout_ms(), &leader, NULL))
        return -1;
    return h_mutation_accepted(h_mutation(fed, leader, fed->token, 0, NULL)) ? 0 : -1;
}

static int finished;
#define SHARED_TESTS 3

static int teardown(void **state)
{
    (void)state;
    if (finished == SHARED_TESTS)
        h_cluster_pass(fed);
    h_cluster_destroy(fed);
    return 0;
}

static char *metrics_of(int i)
{
    long status = 0;
    char *text = h_http_get_text(fed, i, "/metrics", &status);
    assert_non_null(text);
    assert_int_equal(status, 200);
    return text;
}

/* What every node exposes, together: Prometheus scrapes them all. */
static void exposed(struct mon_names *names, struct mon_names *hist)
{
    for (int i = 0; i < NODES; i++) {
        char *text = metrics_of(i);
        mon_names_exposed(text, names, hist);
        free(text);
    }
}

static void check_file_names_only_exposed_metrics(const char *rel)
{
    char *text = mon_source_file(rel);
    assert_non_null(text);
    struct mon_names refs = {0}, names = {0}, hist = {0};
    mon_names_referenced(text, &refs);
    /* A file that names no metric at all checks nothing. */
    assert_true(refs.n > 0);
    exposed(&names, &hist);
    char *missing = mon_names_missing(&refs, &names, &hist);
    if (missing)
        fail_msg("%s names metrics no node exposes: %s", rel, missing);
    mon_names_free(&refs);
    mon_names_free(&names);
    mon_names_free(&hist);
    free(text);
}

/* promtool's path in out; false when there is none and it is not required
 * (the test fails when it is). */
static bool promtool_found(char *out, size_t len)
{
    if (mon_find_program("promtool", out, len))
        return true;
    if (mon_prometheus_required())
        fail_msg("promtool is not on PATH (deploy/install-test-deps.sh installs prometheus)");
    return false;
}

static void test_promtool_check_metrics_finds_nothing_on_any_node(void **state)
{
    (void)state;
    char promtool[H_PATH_MAX];
    if (!promtool_found(promtool, sizeof promtool)) {
        finished++;
        skip();
    }
    for (int i = 0; i < NODES; i++) {
        char *text = metrics_of(i);
        char path[H_PATH_MAX + 32];
        snprintf(path, sizeof path, "%s/metrics-%s.txt", fed->dir, fed->nodes[i].id);
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fputs(text, f);
        fclose(f);
        free(text);
        /* promtool reads the exposition on stdin only. */
        const char *argv[] = {"/bin/sh", "-c", "exec \"$0\" check metrics < \"$1\"",
                              promtool,  path, NULL};
        int code = -1;
        char *out = NULL, *err = NULL;
        assert_true(h_run(fed, argv, h_timeout_ms(), &code, &out, &err));
        /* Its lint findings (naming, units, HELP) are failures too. */
        if (code != 0 || (out && *out) || (err && *err))
            fail_msg("promtool check metrics on %s's /metrics (%s) exited %d:\n%s%s",
                     fed->nodes[i].id, path, code, out ? out : "", err ? err : "");
        free(out);
        free(err);
    }
    finished++;
}

static void test_the_alert_rules_name_only_metrics_a_node_exposes(void **state)
{
    (void)state;
    check_file_names_only_exposed_metrics(ALERTS);
    finished++;
}

static void test_the_dashboard_names_only_metrics_a_node_exposes(void **state)
{
    (void)state;
    check_file_names_only_exposed_metrics(DASHBOARD);
    finished++;
}

/* The check itself: a name that is not exposed is reported, a histogram's
 * series are known by their family. */
static void test_a_name_no_node_exposes_is_reported(void **state)
{
    (void)state;
    const char *exposition = "# HELP chimera_term Current consensus term.\n"
                             "# TYPE chimera_term gauge\n"
                             "chimera_term 3\n"
                             "# TYPE chimera_ledger_fsync_duration_seconds histogram\n"
                             "chimera_ledger_fsync_duration_seconds_bucket{le=\"+Inf\"} 0\n"
                             "# TYPE chimera_deployments_total counter\n";
    const char *rules = "expr: chimera_term > 1 and rate(chimera_ledger_fsync_duration_seconds_"
                        "bucket[5m]) > 0 or chimera_deployments_total{outcome=\"failed\"}\n"
                        "or rate(chimera_ledger_fsync_duration_seconds_count[1m]) > 0\n"
                        "or chimera_no_such_total > 0 or chimera_term_count > 0\n";
    struct mon_names refs = {0}, names = {0}, hist = {0};
    mon_names_referenced(rules, &refs);
    mon_names_exposed(exposition, &names, &hist);
    char *missing = mon_names_missing(&refs, &names, &hist);
    assert_non_null(missing);
    /* chimera_term is a gauge: it has no _count. */
    assert_string_equal(missing, "chimera_no_such_total, chimera_term_count");
    free(missing);
    mon_names_free(&refs);
    mon_names_free(&names);
    mon_names_free(&hist);
}

/* Every panel and every query of a dashboard (rows hold panels too). */
static void check_datasources(json_t *panels, int *queries)
{
    size_t i;
    json_t *p;
    json_array_foreach(panels, i, p)
    {
        const char *title = json_string_value(json_object_get(p, "title"));
        json_t *nested = json_object_get(p, "panels");
        if (nested)
            check_datasources(nested, queries);
        if (strcmp(json_string_value(json_object_get(p, "type")), "row") == 0)
            continue;
        const char *uid =
            json_string_value(json_object_get(json_object_get(p, "datasource"), "uid"));
        if (!uid || strcmp(uid, "${datasource}") != 0)
            fail_msg("panel '%s' does not take its data source from $datasource", title);
        json_t *targets = json_object_get(p, "targets");
        assert_true(json_array_size(targets) > 0);
        size_t k;
        json_t *t;
        json_array_foreach(targets, k, t)
        {
            const char *expr = json_string_value(json_object_get(t, "expr"));
            if (!expr || !strstr(expr, "chimera_"))
                fail_msg("panel '%s' has a query without a chimera metric", title);
            (*queries)++;
        }
    }
}

/* expr with Grafana's variables replaced by what PromQL takes in their
 * place, malloc'd. */
static char *plain_promql(const char *expr)
{
    static const char *const vars[][2] = {
        {"$__rate_interval", "1m"}, {"$__range", "1h"}, {"$job", "x"}, {"$instance", ".*"}};
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    assert_non_null(f);
    for (const char *p = expr; *p;) {
        size_t k = 0, n = sizeof vars / sizeof *vars;
        while (k < n && strncmp(p, vars[k][0], strlen(vars[k][0])) != 0)
            k++;
        if (k < n) {
            fputs(vars[k][1], f);
            p += strlen(vars[k][0]);
        } else {
            fputc(*p++, f);
        }
    }
    fclose(f);
    return out;
}

/* Appends every query of panels (and of the panels rows hold) to f as a
 * recording rule. */
static void queries_as_rules(json_t *panels, FILE *f, int *n)
{
    size_t i, k;
    json_t *p, *t;
    json_array_foreach(panels, i, p)
    {
        queries_as_rules(json_object_get(p, "panels"), f, n);
        json_array_foreach(json_object_get(p, "targets"), k, t)
        {
            char *expr = plain_promql(json_string_value(json_object_get(t, "expr")));
            /* A JSON string is a YAML string. */
            json_t *js = json_string(expr);
            char *quoted = json_dumps(js, JSON_ENCODE_ANY);
            fprintf(f, "      - record: dashboard_query_%d\n        expr: %s\n", ++*n, quoted);
            free(quoted);
            json_decref(js);
            free(expr);
        }
    }
}

/* promtool parses every query of the dashboard, as the rules of a group. */
static void test_every_dashboard_query_is_valid_promql(void **state)
{
    (void)state;
    char promtool[H_PATH_MAX];
    if (!promtool_found(promtool, sizeof promtool))
        skip();
    char *text = mon_source_file(DASHBOARD);
    assert_non_null(text);
    json_t *d = json_loads(text, 0, NULL);
    assert_non_null(d);
    char path[] = "/tmp/chimera-dashboard-rules-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    assert_non_null(f);
    fputs("groups:\n  - name: dashboard\n    rules:\n", f);
    int n = 0;
    queries_as_rules(json_object_get(d, "panels"), f, &n);
    fclose(f);
    assert_true(n > 0);
    const char *argv[] = {promtool, "check", "rules", path, NULL};
    int code = -1;
    char *out = NULL, *err = NULL;
    bool done = h_run(NULL, argv, h_timeout_ms(), &code, &out, &err);
    if (!done || code != 0)
        fail_msg("promtool check rules on the dashboard's %d queries (%s) exited %d:\n%s%s", n,
                 path, code, out ? out : "", err ? err : "");
    unlink(path);
    free(out);
    free(err);
    json_decref(d);
    free(text);
}

static void test_the_dashboard_takes_its_data_source_from_a_variable(void **state)
{
    (void)state;
    char *text = mon_source_file(DASHBOARD);
    assert_non_null(text);
    json_error_t jerr;
    json_t *d = json_loads(text, 0, &jerr);
    if (!d)
        fail_msg("%s:%d: %s", DASHBOARD, jerr.line, jerr.text);
    bool has_variable = false;
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(json_object_get(d, "templating"), "list"), i, v)
    {
        const char *type = json_string_value(json_object_get(v, "type"));
        const char *name = json_string_value(json_object_get(v, "name"));
        const char *query = json_string_value(json_object_get(v, "query"));
        if (type && name && query && strcmp(type, "datasource") == 0 &&
            strcmp(name, "datasource") == 0 && strcmp(query, "prometheus") == 0)
            has_variable = true;
    }
    assert_true(has_variable);
    assert_non_null(json_string_value(json_object_get(d, "title")));
    assert_non_null(json_string_value(json_object_get(d, "uid")));
    int queries = 0;
    check_datasources(json_object_get(d, "panels"), &queries);
    assert_true(queries > 0);
    json_decref(d);
    free(text);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest live[] = {
        cmocka_unit_test(test_promtool_check_metrics_finds_nothing_on_any_node),
        cmocka_unit_test(test_the_alert_rules_name_only_metrics_a_node_exposes),
        cmocka_unit_test(test_the_dashboard_names_only_metrics_a_node_exposes),
    };
    const struct CMUnitTest files[] = {
        cmocka_unit_test(test_a_name_no_node_exposes_is_reported),
        cmocka_unit_test(test_the_dashboard_takes_its_data_source_from_a_variable),
        cmocka_unit_test(test_every_dashboard_query_is_valid_promql),
    };
    int failed = cmocka_run_group_tests_name("files", files, NULL, NULL);
    failed += cmocka_run_group_tests_name("a live federation", live, setup, teardown);
    curl_global_cleanup();
    return failed;
}
