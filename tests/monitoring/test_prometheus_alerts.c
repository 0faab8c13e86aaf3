/* Monitoring, end to end: a real Prometheus server (Debian's package) with
 * the real alert rules (deploy/prometheus/alerts.yml) scrapes a 3-node
 * federation on 127.0.0.1 every second. Two nodes are killed; the no-leader
 * alert fires, as Prometheus' HTTP API (/api/v1/alerts) says.
 *
 * Skipped (77) when prometheus is not on PATH, unless
 * CHIMERA_REQUIRE_PROMETHEUS=1 (CI): then that is a failure. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "harness.h"
#include "harness_int.h"
#include "mon.h"

#define NODES 3
#define JOB "chimera-test"
#define ALERT "ChimeraNoLeader"
/* The alert's `for:` in alerts.yml; the wait for it to fire adds this. */
#define NO_LEADER_FOR_MS 20000

static char prometheus[H_PATH_MAX];

struct fixture {
    struct h_cluster *c;
    pid_t prom;
    int port;
    char log[H_PATH_MAX + 32];
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    *state = f;
    if (!f)
        return -1;
    f->c = h_cluster_create(NODES);
    return f->c && h_start_agreed(f->c, "test_prometheus_alerts", NULL) >= 0 ? 0 : -1;
}

static void stop_prometheus(struct fixture *f)
{
    if (f->prom <= 0)
        return;
    kill(f->prom, SIGTERM);
    if (!h_wait_pid(f->prom, h_timeout_ms(), NULL)) {
        kill(f->prom, SIGKILL);
        waitpid(f->prom, NULL, 0);
    }
    f->prom = 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    if (!f)
        return 0;
    stop_prometheus(f);
    h_cluster_destroy(f->c);
    free(f);
    return 0;
}

/* A config scraping every node each second, with the real rules. */
static void write_config(struct fixture *f, const char *path)
{
    FILE *cf = fopen(path, "w");
    assert_non_null(cf);
    fprintf(cf,
            "global: {scrape_interval: 1s, scrape_timeout: 900ms, evaluation_interval: 1s}\n"
            "rule_files: [\"%s/deploy/prometheus/alerts.yml\"]\n"
            "scrape_configs:\n"
            "  - job_name: " JOB "\n"
            "    static_configs:\n"
            "      - targets: [",
            CHIMERA_SOURCE_DIR);
    for (int i = 0; i < NODES; i++)
        fprintf(cf, "%s\"%s:%d\"", i ? ", " : "", f->c->nodes[i].http_host,
                f->c->nodes[i].http_port);
    fprintf(cf, "]\n");
    fclose(cf);
}

static json_t *prom_get(const struct fixture *f, const char *path_and_query)
{
    long status = 0;
    char *body = mon_http_get(f->port, path_and_query, 2000, &status);
    json_t *j = body && status == 200 ? json_loads(body, 0, NULL) : NULL;
    free(body);
    return j;
}

static bool prometheus_ready(void *arg)
{
    const struct fixture *f = arg;
    long status = 0;
    free(mon_http_get(f->port, "/-/ready", 1000, &status));
    return status == 200;
}

/* An instant query's single value, or -1 when it has none. */
static double query_value(const struct fixture *f, const char *promql)
{
    CURL *cu = curl_easy_init();
    char *q = cu ? curl_easy_escape(cu, promql, 0) : NULL;
    char path[768];
    snprintf(path, sizeof path, "/api/v1/query?query=%s", q ? q : "");
    curl_free(q);
    curl_easy_cleanup(cu);
    json_t *j = prom_get(f, path);
    json_t *result = json_object_get(json_object_get(j, "data"), "result");
    double v = -1;
    if (json_array_size(result) == 1) {
        const char *s = json_string_value(
            json_array_get(json_object_get(json_array_get(result, 0), "value"), 1));
        if (s)
            v = strtod(s, NULL);
    }
    json_decref(j);
    return v;
}

/* Prometheus has scraped every node and each of them knows the leader. */
static bool all_scraped_with_a_leader(void *arg)
{
    return query_value(arg, "count(chimera_has_leader{job=\"" JOB "\"} == 1)") == NODES;
}

/* The state ("pending", "firing") of the alert for this job; "" when none. */
static void alert_state(const struct fixture *f, char *out, size_t len)
{
    snprintf(out, len, "%s", "");
    json_t *j = prom_get(f, "/api/v1/alerts");
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(json_object_get(j, "data"), "alerts"), i, a)
    {
        json_t *labels = json_object_get(a, "labels");
        const char *name = json_string_value(json_object_get(labels, "alertname"));
        const char *job = json_string_value(json_object_get(labels, "job"));
        const char *st = json_string_value(json_object_get(a, "state"));
        if (name && job && st && strcmp(name, ALERT) == 0 && strcmp(job, JOB) == 0)
            snprintf(out, len, "%s", st);
    }
    json_decref(j);
}

static bool no_leader_firing(void *arg)
{
    char st[16];
    alert_state(arg, st, sizeof st);
    return strcmp(st, "firing") == 0;
}

static void test_killing_two_of_three_nodes_fires_the_no_leader_alert(void **state)
{
    struct fixture *f = *state;
    struct h_cluster *c = f->c;
    char config[H_PATH_MAX + 32], data[H_PATH_MAX + 32], flag_config[H_PATH_MAX + 64],
        flag_data[H_PATH_MAX + 64], flag_listen[64];
    snprintf(config, sizeof config, "%s/prometheus.yml", c->dir);
    snprintf(data, sizeof data, "%s/prometheus-data", c->dir);
    snprintf(f->log, sizeof f->log, "%s/prometheus.log", c->dir);
    write_config(f, config);
    f->port = h_free_port();
    assert_true(f->port > 0);
    snprintf(flag_config, sizeof flag_config, "--config.file=%s", config);
    snprintf(flag_data, sizeof flag_data, "--storage.tsdb.path=%s", data);
    snprintf(flag_listen, sizeof flag_listen, "--web.listen-address=127.0.0.1:%d", f->port);
    const char *argv[] = {prometheus,  flag_config,        flag_data,
                          flag_listen, "--log.level=warn", NULL};
    f->prom = h_spawn(argv, f->log, f->log);
    assert_true(f->prom > 0);
    if (!h_wait_until(prometheus_ready, f, h_timeout_ms()))
        fail_msg("prometheus did not become ready on 127.0.0.1:%d (log: %s)", f->port, f->log);
    if (!h_wait_until(all_scraped_with_a_leader, f, h_timeout_ms()))
        fail_msg("prometheus never saw chimera_has_leader 1 on all %d nodes (log: %s; %s)", NODES,
                 f->log, h_views_line(c));
    char st[16];
    alert_state(f, st, sizeof st);
    assert_string_equal(st, "");

    int leader = -1;
    assert_true(h_wait_agreed(c, 0, h_timeout_ms(), &leader, NULL));
    int other = (leader + 1) % NODES;
    h_node_kill(c, leader);
    h_node_kill(c, other);

    if (!h_wait_until(no_leader_firing, f, NO_LEADER_FOR_MS + 2 * h_timeout_ms())) {
        alert_state(f, st, sizeof st);
        fail_msg("%s never fired (state '%s'; chimera_has_leader of the node left: %g; %s; "
                 "prometheus log: %s)",
                 ALERT, st, query_value(f, "max(chimera_has_leader{job=\"" JOB "\"})"),
                 h_views_line(c), f->log);
    }
    stop_prometheus(f);
    h_cluster_pass(c);
}

int main(void)
{
    if (!mon_find_program("prometheus", prometheus, sizeof prometheus)) {
        if (mon_prometheus_required()) {
            fprintf(stderr, "test_prometheus_alerts: prometheus is not on PATH "
                            "(deploy/install-test-deps.sh installs it)\n");
            return 1;
        }
        printf("test_prometheus_alerts: skipped: prometheus is not on PATH\n");
        return MON_SKIPPED;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_killing_two_of_three_nodes_fires_the_no_leader_alert,
                                        setup, teardown),
    };
    int failed = cmocka_run_group_tests_name("prometheus", tests, NULL, NULL);
    curl_global_cleanup();
    return failed;
}
