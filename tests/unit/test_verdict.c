/* The health verdict (pipeline/core/verdict.h): a service's thresholds,
 * the node's health judged from its services, what a change of health
 * calls for, and the durations reports carry. The tests play the shell:
 * they feed probe outcomes and exits with a wall clock of their own. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "pipeline/core/verdict.h"

static const struct manifest_health checks = {.enabled = true,
                                              .interval_ms = 1000,
                                              .timeout_ms = 500,
                                              .healthy_threshold = 2,
                                              .unhealthy_threshold = 3};

static void probes(struct verdict_service *s, bool ok, int times, uint64_t at)
{
    for (int i = 0; i < times; i++)
        verdict_probe(s, &checks, ok, ok ? "" : "connection refused", at);
}

/* Two services, web (checked) and worker (unchecked unless asked). */
static void two_services(struct manifest_service ms[2], bool worker_checked)
{
    memset(ms, 0, 2 * sizeof(ms[0]));
    strcpy(ms[0].name, "web");
    ms[0].health = checks;
    strcpy(ms[1].name, "worker");
    if (worker_checked)
        ms[1].health = checks;
}

static struct verdict judged(struct verdict_service *svc, const struct manifest_service *ms,
                             size_t n, uint64_t now)
{
    struct verdict_service *each[2] = {&svc[0], &svc[1]};
    struct verdict cur = {.health = PL_H_STARTING}, out;
    assert_true(verdict_judge(&cur, true, each, ms, n, now, &out));
    return out;
}

static void test_a_service_is_healthy_after_healthy_threshold_passes_in_a_row(void **state)
{
    (void)state;
    struct verdict_service s = {0};
    probes(&s, true, 1, 100);
    assert_false(s.healthy);
    probes(&s, true, 1, 200);
    assert_true(s.healthy);
    assert_int_equal(s.healthy_since, 200);
}

static void test_a_failed_probe_starts_the_passes_again(void **state)
{
    (void)state;
    struct verdict_service s = {0};
    probes(&s, true, 1, 100);
    probes(&s, false, 1, 200);
    probes(&s, true, 1, 300);
    assert_false(s.healthy);
    probes(&s, true, 1, 400);
    assert_true(s.healthy);
    assert_int_equal(s.healthy_since, 400);
}

static void test_a_service_is_unhealthy_after_unhealthy_threshold_failures_in_a_row(void **state)
{
    (void)state;
    struct verdict_service s = {0};
    probes(&s, true, 2, 100);
    probes(&s, false, 2, 200);
    assert_true(s.healthy);
    assert_false(s.unhealthy);
    probes(&s, false, 1, 300);
    assert_false(s.healthy);
    assert_true(s.unhealthy);
    assert_string_equal(s.last_error, "connection refused");
}

static void test_a_passed_probe_starts_the_failures_again(void **state)
{
    (void)state;
    struct verdict_service s = {0};
    probes(&s, false, 2, 100);
    probes(&s, true, 1, 200);
    probes(&s, false, 2, 300);
    assert_false(s.unhealthy);
}

static void test_a_recovered_service_is_healthy_again_since_it_recovered(void **state)
{
    (void)state;
    struct verdict_service s = {0};
    probes(&s, true, 2, 100);
    probes(&s, false, 3, 200);
    probes(&s, true, 2, 900);
    assert_true(s.healthy);
    assert_int_equal(s.healthy_since, 900);
}

static void test_a_node_whose_service_exited_is_crashed_and_says_how(void **state)
{
    (void)state;
    struct manifest_service ms[2];
    two_services(ms, false);
    struct verdict_service svc[2] = {0};
    verdict_exited(&svc[1], 3, 0);
    struct verdict v = judged(svc, ms, 2, 100);
    assert_int_equal(v.health, PL_H_CRASHED);
    assert_string_equal(v.detail, "worker exited (status 3)");
    verdict_exited(&svc[0], 0, 9);
    v = judged(svc, ms, 2, 200);
    assert_string_equal(v.detail, "web exited (signal 9)");
}

static void test_a_service_without_a_health_check_is_healthy_once_it_runs(void **state)
{
    (void)state;
    struct manifest_service ms[2];
    two_services(ms, false);
    struct verdict_service svc[2] = {0};
    judged(svc, ms, 2, 700);
    assert_false(svc[0].healthy);
    assert_true(svc[1].healthy);
    assert_int_equal(svc[1].healthy_since, 700);
    judged(svc, ms, 2, 800);
    assert_int_equal(svc[1].healthy_since, 700);
}

static void test_a_node_is_healthy_since_its_last_service_became_healthy(void **state)
{
    (void)state;
    struct manifest_service ms[2];
    two_services(ms, true);
    struct verdict_service svc[2] = {0};
    probes(&svc[0], true, 2, 300);
    probes(&svc[1], true, 2, 500);
    struct verdict v = judged(svc, ms, 2, 600);
    assert_int_equal(v.health, PL_H_HEALTHY);
    assert_int_equal(v.healthy_since, 500);
    assert_string_equal(v.detail, "");
}

static void test_a_node_is_starting_while_a_service_has_not_passed_yet(void **state)
{
    (void)state;
    struct manifest_service ms[2];
    two_services(ms, true);
    struct verdict_service svc[2] = {0};
    probes(&svc[0], true, 2, 300);
    probes(&svc[1], false, 2, 300);
    struct verdict v = judged(svc, ms, 2, 600);
    assert_int_equal(v.health, PL_H_STARTING);
    assert_int_equal(v.healthy_since, 0);
    assert_string_equal(v.detail, "");
}

static void test_a_node_is_unhealthy_naming_the_service_that_fails_its_checks(void **state)
{
    (void)state;
    struct manifest_service ms[2];
    two_services(ms, true);
    struct verdict_service svc[2] = {0};
    probes(&svc[0], true, 2, 300);
    probes(&svc[1], false, 3, 300);
    struct verdict v = judged(svc, ms, 2, 600);
    assert_int_equal(v.health, PL_H_UNHEALTHY);
    assert_string_equal(v.detail, "worker: connection refused");
}

static void test_a_crash_outweighs_a_failing_health_check(void **state)
{
    (void)state;
    struct manifest_service ms[2];
    two_services(ms, true);
    struct verdict_service svc[2] = {0};
    probes(&svc[0], false, 3, 300);
    verdict_exited(&svc[1], 1, 0);
    struct verdict v = judged(svc, ms, 2, 600);
    assert_int_equal(v.health, PL_H_CRASHED);
    assert_string_equal(v.detail, "worker exited (status 1)");
}

static void test_with_two_services_failing_the_detail_names_the_later_one(void **state)
{
    (void)state;
    struct manifest_service ms[2];
    two_services(ms, true);
    struct verdict_service svc[2] = {0};
    probes(&svc[0], false, 3, 300);
    probes(&svc[1], false, 3, 300);
    assert_string_equal(judged(svc, ms, 2, 600).detail, "worker: connection refused");
}

static void test_a_release_that_failed_to_start_or_has_no_manifest_is_not_judged(void **state)
{
    (void)state;
    struct manifest_service ms[2];
    two_services(ms, false);
    struct verdict_service svc[2] = {0};
    struct verdict_service *each[2] = {&svc[0], &svc[1]};
    struct verdict failed = {.health = PL_H_START_FAILED}, ok = {.health = PL_H_STARTING}, out;
    assert_false(verdict_judge(&failed, true, each, ms, 2, 100, &out));
    assert_false(verdict_judge(&ok, false, each, ms, 2, 100, &out));
    assert_false(svc[1].healthy);
}

static void test_a_change_of_health_or_detail_is_news_for_the_leader(void **state)
{
    (void)state;
    struct verdict v = {.health = PL_H_STARTING};
    assert_false(verdict_set(&v, PL_H_STARTING, 0, "").report);
    assert_true(verdict_set(&v, PL_H_UNHEALTHY, 0, "web: refused").report);
    assert_false(verdict_set(&v, PL_H_UNHEALTHY, 0, "web: refused").report);
    assert_true(verdict_set(&v, PL_H_UNHEALTHY, 0, "web: timeout").report);
    assert_string_equal(v.detail, "web: timeout");
}

static void test_only_turning_healthy_unhealthy_or_crashed_is_an_event(void **state)
{
    (void)state;
    struct verdict v = {.health = PL_H_NONE};
    assert_null(verdict_set(&v, PL_H_STARTING, 0, "").event);
    assert_string_equal(verdict_set(&v, PL_H_HEALTHY, 10, "").event, "deploy.healthy");
    assert_int_equal(v.healthy_since, 10);
    assert_null(verdict_set(&v, PL_H_HEALTHY, 10, "").event);
    assert_string_equal(verdict_set(&v, PL_H_UNHEALTHY, 0, "x").event, "deploy.unhealthy");
    assert_string_equal(verdict_set(&v, PL_H_CRASHED, 0, "x").event, "deploy.unhealthy");
    assert_null(verdict_set(&v, PL_H_START_FAILED, 0, "x").event);
    assert_null(verdict_set(&v, PL_H_NONE, 0, "").event);
}

static void test_a_report_carries_how_long_the_node_has_been_healthy(void **state)
{
    (void)state;
    assert_int_equal(verdict_healthy_for(PL_H_HEALTHY, 1000, 4000), 3000);
    assert_int_equal(verdict_healthy_for(PL_H_HEALTHY, 5000, 4000), 0); /* clock went back */
    assert_int_equal(verdict_healthy_for(PL_H_STARTING, 1000, 4000), 0);
}

static void test_the_leader_turns_a_duration_into_a_time_on_its_own_clock(void **state)
{
    (void)state;
    assert_int_equal(verdict_healthy_since(PL_H_HEALTHY, 3000, 10000), 7000);
    assert_int_equal(verdict_healthy_since(PL_H_HEALTHY, 30000, 10000), 0);
    assert_int_equal(verdict_healthy_since(PL_H_UNHEALTHY, 3000, 10000), 0);
}

/* What a health check says when it got no answer: the URL probed, what
 * happened there and curl's own words (pipeline/exec/health.c), 150 bytes
 * and more; the 128 bytes a last error had cut curl's words off. */
#define LONG_ERROR                                                                                 \
    "GET http://127.0.0.1:40123/internal/health/ready?verbose=1: the connection broke before an "  \
    "answer (did the service exit?) (curl: Recv failure: Connection reset by peer)"

static void test_a_long_health_error_is_kept_whole_in_the_detail(void **state)
{
    (void)state;
    struct manifest_service ms[2];
    two_services(ms, false);
    struct verdict_service svc[2] = {0};
    for (int i = 0; i < 3; i++)
        verdict_probe(&svc[0], &checks, false, LONG_ERROR, 100);
    assert_string_equal(svc[0].last_error, LONG_ERROR);
    struct verdict v = judged(svc, ms, 2, 200);
    assert_string_equal(v.detail, "web: " LONG_ERROR);
    struct verdict cur = {0};
    verdict_set(&cur, v.health, 0, v.detail);
    assert_string_equal(cur.detail, "web: " LONG_ERROR);
}

static void test_an_error_longer_than_a_verdict_holds_is_cut_visibly(void **state)
{
    (void)state;
    char huge[2 * VERDICT_ERROR_MAX];
    memset(huge, 'x', sizeof huge - 1);
    huge[sizeof huge - 1] = '\0';
    struct verdict_service s = {0};
    verdict_probe(&s, &checks, false, huge, 100);
    size_t n = strlen(s.last_error);
    assert_int_equal(n, VERDICT_ERROR_MAX - 1);
    assert_string_equal(s.last_error + n - 3, "...");
    assert_memory_equal(s.last_error, huge, n - 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_service_is_healthy_after_healthy_threshold_passes_in_a_row),
        cmocka_unit_test(test_a_failed_probe_starts_the_passes_again),
        cmocka_unit_test(test_a_service_is_unhealthy_after_unhealthy_threshold_failures_in_a_row),
        cmocka_unit_test(test_a_passed_probe_starts_the_failures_again),
        cmocka_unit_test(test_a_recovered_service_is_healthy_again_since_it_recovered),
        cmocka_unit_test(test_a_node_whose_service_exited_is_crashed_and_says_how),
        cmocka_unit_test(test_a_service_without_a_health_check_is_healthy_once_it_runs),
        cmocka_unit_test(test_a_node_is_healthy_since_its_last_service_became_healthy),
        cmocka_unit_test(test_a_node_is_starting_while_a_service_has_not_passed_yet),
        cmocka_unit_test(test_a_node_is_unhealthy_naming_the_service_that_fails_its_checks),
        cmocka_unit_test(test_a_crash_outweighs_a_failing_health_check),
        cmocka_unit_test(test_with_two_services_failing_the_detail_names_the_later_one),
        cmocka_unit_test(test_a_release_that_failed_to_start_or_has_no_manifest_is_not_judged),
        cmocka_unit_test(test_a_change_of_health_or_detail_is_news_for_the_leader),
        cmocka_unit_test(test_only_turning_healthy_unhealthy_or_crashed_is_an_event),
        cmocka_unit_test(test_a_report_carries_how_long_the_node_has_been_healthy),
        cmocka_unit_test(test_the_leader_turns_a_duration_into_a_time_on_its_own_clock),
        cmocka_unit_test(test_a_long_health_error_is_kept_whole_in_the_detail),
        cmocka_unit_test(test_an_error_longer_than_a_verdict_holds_is_cut_visibly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
