/* Integration: hostile and careless HTTP requests of issue 10 (items 3, 4,
 * 10, 11, 12) against a real chimerad on 127.0.0.1. A flood of requests
 * with a wrong token neither flushes the event ring nor floods the log, and
 * every one of them is counted; a bearer scheme is accepted in any case;
 * bodies that are empty, not JSON or carry keys nobody reads are refused
 * with a message saying so; a ledger cursor beyond what JSON echoes is
 * refused; the node raises its soft open-files limit to the hard one. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "harness.h"

#define FLOOD 1100
/* api.c's AUTH_EVENT_INTERVAL_MS: at most one api.auth_failure per this. */
#define AUTH_EVENT_INTERVAL_MS 5000

static struct h_cluster *shared;

static int setup(void **state)
{
    struct h_cluster *c = shared = h_cluster_create(1);
    *state = c;
    if (!c)
        return -1;
    return h_start_agreed(c, "test_api_hostile", NULL) < 0 ? -1 : 0;
}

static size_t keep_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    char *b = userdata;
    size_t have = strlen(b), n = size * nmemb, room = 1023 - have;
    memcpy(b + have, ptr, n < room ? n : room);
    b[have + (n < room ? n : room)] = '\0';
    return n;
}

/* A handle for requests to node 0 with this Authorization header (NULL:
 * none) and body (NULL: no body and no Content-Length); answers land in
 * body[1024]. Reused, it keeps its connection alive. */
static CURL *client(const struct h_cluster *c, const char *method, const char *path,
                    const char *auth, const char *json, char *body, struct curl_slist **hdrs)
{
    char url[256];
    snprintf(url, sizeof(url), "http://%s:%d%s", c->nodes[0].http_host, c->nodes[0].http_port,
             path);
    CURL *cu = curl_easy_init();
    assert_non_null(cu);
    *hdrs = NULL;
    if (auth)
        *hdrs = curl_slist_append(*hdrs, auth);
    curl_easy_setopt(cu, CURLOPT_URL, url);
    curl_easy_setopt(cu, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(cu, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(cu, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(cu, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(cu, CURLOPT_WRITEFUNCTION, keep_body);
    curl_easy_setopt(cu, CURLOPT_WRITEDATA, body);
    if (json) {
        curl_easy_setopt(cu, CURLOPT_POSTFIELDS, json);
        curl_easy_setopt(cu, CURLOPT_POSTFIELDSIZE, (long)strlen(json));
    }
    if (*hdrs)
        curl_easy_setopt(cu, CURLOPT_HTTPHEADER, *hdrs);
    return cu;
}

static long perform(CURL *cu, char *body)
{
    body[0] = '\0';
    assert_int_equal(curl_easy_perform(cu), CURLE_OK);
    long status = 0;
    curl_easy_getinfo(cu, CURLINFO_RESPONSE_CODE, &status);
    return status;
}

/* One request; its status, and its JSON answer in *answer (owned). */
static long request(const struct h_cluster *c, const char *method, const char *path,
                    const char *auth, const char *json, json_t **answer)
{
    char body[1024];
    struct curl_slist *hdrs;
    CURL *cu = client(c, method, path, auth, json, body, &hdrs);
    long status = perform(cu, body);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(cu);
    *answer = json_loads(body, 0, NULL);
    if (!*answer)
        fail_msg("%s %s answered %ld, not JSON: %s", method, path, status, body);
    return status;
}

static const char *error_of(const json_t *answer)
{
    const char *e = json_string_value(json_object_get(answer, "error"));
    return e ? e : "";
}

static void assert_contains(const char *text, const char *needle)
{
    if (!strstr(text, needle))
        fail_msg("\"%s\" does not say \"%s\"", text, needle);
}

static double metric(const struct h_cluster *c, const char *sample)
{
    double v = -1;
    if (!h_metric(c, 0, sample, &v))
        fail_msg("no %s in /metrics", sample);
    return v;
}

static size_t log_lines(const struct h_cluster *c)
{
    char *text = h_read_file(c->nodes[0].log);
    size_t n = h_count_lines(text);
    free(text);
    return n;
}

/* ---- item 4: the event ring cannot be flushed without a token ---------- */

static void test_a_flood_of_wrong_tokens_keeps_the_event_ring_and_the_log(void **state)
{
    struct h_cluster *c = *state;
    unsigned long long start = h_event_seq(c, 0, "node.start", NULL, 0);
    assert_true(start > 0);
    double wrong_before = 0; /* absent before the flood is 0 */
    h_metric(c, 0, "chimera_http_auth_failures_total{reason=\"wrong\"}", &wrong_before);
    size_t lines_before = log_lines(c);

    char body[1024];
    struct curl_slist *hdrs;
    CURL *cu = client(c, "POST", "/ledger/notes", "Authorization: Bearer not-the-admin-token",
                      "{\"note\":\"flood\"}", body, &hdrs);
    uint64_t t0 = h_now_ns();
    for (int i = 0; i < FLOOD; i++)
        assert_int_equal(perform(cu, body), 403);
    uint64_t elapsed_ms = (h_now_ns() - t0) / 1000000;
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(cu);

    /* One event when the flood began, then at most one per interval. */
    size_t allowed = 2 + (size_t)(elapsed_ms / AUTH_EVENT_INTERVAL_MS);
    assert_true(h_event_seq(c, 0, "node.start", NULL, 0) == start);
    json_t *events = h_events(c, 0);
    assert_non_null(events);
    size_t failures = 0, i;
    json_t *e;
    json_array_foreach(events, i, e)
    {
        failures += strcmp(json_string_value(json_object_get(e, "kind")), "api.auth_failure") == 0;
    }
    json_decref(events);
    if (failures < 1 || failures > allowed)
        fail_msg("%zu api.auth_failure events for %d refusals in %llu ms (at most %zu)", failures,
                 FLOOD, (unsigned long long)elapsed_ms, allowed);
    assert_true(metric(c, "chimera_http_auth_failures_total{reason=\"wrong\"}") - wrong_before ==
                FLOOD);
    size_t grown = log_lines(c) - lines_before;
    if (grown > allowed)
        fail_msg("the log grew by %zu lines for %d refusals (at most %zu)", grown, FLOOD, allowed);
}

static void test_a_later_report_says_how_many_were_held_back(void **state)
{
    struct h_cluster *c = *state;
    /* The flood above held some back; the next report, an interval on,
     * counts them. */
    unsigned long long after = h_last_event_seq(c, 0);
    json_t *answer = NULL;
    unsigned long long seq = 0;
    for (int tries = 0; !seq && tries * 250 < 2 * AUTH_EVENT_INTERVAL_MS + h_timeout_ms();
         tries++) {
        assert_int_equal(request(c, "POST", "/ledger/notes", NULL, "{\"note\":\"x\"}", &answer),
                         401);
        json_decref(answer);
        seq = h_wait_event(c, 0, "api.auth_failure", NULL, after, 250);
    }
    assert_true(seq > 0);
    json_t *events = h_events(c, 0);
    size_t i;
    json_t *e;
    const char *message = NULL;
    json_array_foreach(events, i, e)
    {
        if (json_integer_value(json_object_get(e, "seq")) == (json_int_t)seq)
            message = json_string_value(json_object_get(e, "message"));
    }
    assert_non_null(message);
    assert_contains(message, "without a bearer token");
    assert_contains(message, "more since the last report");
    json_decref(events);
    assert_true(metric(c, "chimera_http_auth_failures_total{reason=\"missing\"}") >= 1);
}

/* One request with this scheme and the admin token. */
static long authed(const struct h_cluster *c, const char *scheme, const char *method,
                   const char *path, const char *json, json_t **answer)
{
    char auth[160];
    snprintf(auth, sizeof(auth), "Authorization: %s %s", scheme, c->token);
    return request(c, method, path, auth, json, answer);
}

static long admin(const struct h_cluster *c, const char *method, const char *path, const char *json,
                  json_t **answer)
{
    return authed(c, "Bearer", method, path, json, answer);
}

/* A 400 whose error says `says` and whose "path" is path. */
static void assert_refused(const struct h_cluster *c, const char *endpoint, const char *json,
                           const char *says, const char *path)
{
    json_t *answer;
    assert_int_equal(admin(c, "POST", endpoint, json, &answer), 400);
    assert_contains(error_of(answer), says);
    assert_string_equal(json_string_value(json_object_get(answer, "path")), path);
    json_decref(answer);
}

/* ---- item 12: the bearer scheme in any case; clear body errors --------- */

static void post_note_with_scheme(struct h_cluster *c, const char *scheme)
{
    json_t *answer;
    long status = authed(c, scheme, "POST", "/ledger/notes", "{\"note\":\"scheme\"}", &answer);
    if (status != 201)
        fail_msg("scheme \"%s\": %ld %s", scheme, status, error_of(answer));
    json_decref(answer);
}

static void test_the_bearer_scheme_is_accepted_in_any_case(void **state)
{
    post_note_with_scheme(*state, "bearer");
    post_note_with_scheme(*state, "BEARER");
    post_note_with_scheme(*state, "bEaReR");
}

static void test_a_large_body_with_a_lower_case_scheme_is_read(void **state)
{
    /* http.c reads a body over 4 KiB only for the admin token: the same
     * case-insensitive check. */
    struct h_cluster *c = *state;
    static char big[6000];
    memset(big, ' ', sizeof(big) - 1);
    memcpy(big, "{\"note\":\"big\"}", 14);
    json_t *answer;
    long status = authed(c, "bearer", "POST", "/ledger/notes", big, &answer);
    if (status != 201)
        fail_msg("%ld %s", status, error_of(answer));
    json_decref(answer);
}

static void test_a_post_without_a_body_says_the_body_is_empty(void **state)
{
    struct h_cluster *c = *state;
    json_t *answer;
    assert_int_equal(admin(c, "POST", "/ledger/notes", NULL, &answer), 400);
    assert_contains(error_of(answer), "empty body: expected");
    assert_null(strstr(error_of(answer), "line -1"));
    json_decref(answer);
    assert_int_equal(admin(c, "POST", "/deployments", NULL, &answer), 400);
    assert_contains(error_of(answer), "empty body: expected a release manifest");
    json_decref(answer);
}

static void test_a_body_that_is_not_json_says_where(void **state)
{
    struct h_cluster *c = *state;
    json_t *answer;
    assert_int_equal(admin(c, "POST", "/ledger/notes", "{\"note\": ", &answer), 400);
    assert_contains(error_of(answer), "body: not JSON: ");
    assert_contains(error_of(answer), "(line 1, column ");
    json_decref(answer);
}

static void test_a_body_with_bytes_that_are_not_utf8_is_refused_in_json(void **state)
{
    json_t *answer; /* request() fails the test when the answer is not JSON */
    assert_int_equal(admin(*state, "POST", "/ledger/notes", "{\"no\xff\xfe\": 1}", &answer), 400);
    assert_contains(error_of(answer), "body: not JSON: ");
    json_decref(answer);
    assert_int_equal(admin(*state, "POST", "/ledger/notes", "[\"\xc3\xa9\", tru\xc3\xa9]", &answer),
                     400);
    assert_contains(error_of(answer), "body: not JSON: ");
    json_decref(answer);
}

/* A note the body holds that is not valid: named in "path" too, as every
 * other endpoint's 400 does. */
static void test_a_bad_note_is_refused_with_its_path(void **state)
{
    assert_refused(*state, "/ledger/notes", "{\"notes\": [\"a\", 5]}", "notes[1]: must be a string",
                   "notes[1]");
    assert_refused(*state, "/ledger/notes", "{\"note\": \"\"}", "note: must be a string", "note");
}

/* ---- item 10: POST /rollback reads what it is given, or refuses it ----- */

static void test_rollback_refuses_an_unknown_key_naming_it(void **state)
{
    assert_refused(*state, "/rollback", "{\"version\":\"9.9.9\"}",
                   "unknown key \"version\"; known keys here are \"to\"", "version");
}

static void test_rollback_refuses_a_version_that_is_not_a_string(void **state)
{
    assert_refused(*state, "/rollback", "{\"to\": 5}", "to: must be a string", "to");
    assert_refused(*state, "/rollback", "{\"to\": 5}", "not a number", "to");
}

static void test_rollback_without_a_body_still_means_the_previous_release(void **state)
{
    struct h_cluster *c = *state;
    json_t *answer;
    /* Nothing was ever deployed: nothing to go back to (409), not a 400. */
    assert_int_equal(admin(c, "POST", "/rollback", NULL, &answer), 409);
    json_decref(answer);
}

/* ---- item 11: GET /ledger echoes the cursor it was given, or refuses it - */

static void test_ledger_refuses_a_from_beyond_what_it_can_echo(void **state)
{
    json_t *answer;
    assert_int_equal(
        request(*state, "GET", "/ledger?from=18446744073709551615", NULL, NULL, &answer), 400);
    assert_contains(error_of(answer), "from: must be an entry index from 1 to 9223372036854775807");
    json_decref(answer);
}

static void test_ledger_echoes_the_largest_from_it_accepts(void **state)
{
    json_t *answer;
    assert_int_equal(
        request(*state, "GET", "/ledger?from=9223372036854775807", NULL, NULL, &answer), 200);
    assert_true(json_integer_value(json_object_get(answer, "from")) == INT64_MAX);
    assert_int_equal(json_array_size(json_object_get(answer, "entries")), 0);
    json_decref(answer);
}

/* A query number is digits only, as Last-Event-ID always was: a sign,
 * which strtoull would take, is refused. */
static void test_a_query_number_with_a_sign_is_refused(void **state)
{
    json_t *answer;
    assert_int_equal(request(*state, "GET", "/events?limit=+3", NULL, NULL, &answer), 400);
    assert_contains(error_of(answer), "limit: must be a whole number from 1 to");
    json_decref(answer);
    assert_int_equal(request(*state, "GET", "/events?limit=3", NULL, NULL, &answer), 200);
    json_decref(answer);
}

/* A refusal that quotes what the client sent, bytes that are not UTF-8
 * and all, is still a JSON error with its status (not a 500). */
static void test_a_refusal_quoting_bytes_that_are_not_utf8_keeps_its_status(void **state)
{
    json_t *answer;
    assert_int_equal(
        request(*state, "GET", "/events/stream", "Last-Event-ID: x\xc3\xa9\xff", NULL, &answer),
        400);
    assert_contains(error_of(answer), "Last-Event-ID: \"x\xc3\xa9?\" is not an event sequence");
    json_decref(answer);
}

/* ---- item 3: the node raises its soft open-files limit ----------------- */

/* The soft "Max open files" of pid from /proc, or 0. */
static unsigned long long soft_nofile(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/limits", (int)pid);
    char *text = h_read_file(path);
    const char *line = text ? strstr(text, "Max open files") : NULL;
    unsigned long long soft = 0;
    if (line)
        sscanf(line + strlen("Max open files"), "%llu", &soft);
    free(text);
    return soft;
}

static void test_the_soft_open_files_limit_is_raised_to_the_hard_one(void **state)
{
    (void)state;
    struct rlimit mine;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &mine), 0);
    if (mine.rlim_max < 512 || mine.rlim_max == RLIM_INFINITY)
        skip(); /* no room between a low soft limit and the hard one */
    struct h_cluster *c = h_cluster_create(1);
    assert_non_null(c);
    /* The node inherits a low soft limit under a high hard one. */
    struct rlimit low = {.rlim_cur = 256, .rlim_max = mine.rlim_max};
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
    int started = h_node_start(c, 0);
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &mine), 0);
    assert_int_equal(started, 0);
    assert_true(h_wait_http_up(c, 0, h_timeout_ms()));
    assert_true(soft_nofile(c->nodes[0].pid) == (unsigned long long)mine.rlim_max);
    char said[64];
    snprintf(said, sizeof(said), "open files limit %llu", (unsigned long long)mine.rlim_max);
    assert_true(h_file_contains(c->nodes[0].log, said));
    h_cluster_pass(c);
    h_cluster_destroy(c);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_flood_of_wrong_tokens_keeps_the_event_ring_and_the_log),
        cmocka_unit_test(test_a_later_report_says_how_many_were_held_back),
        cmocka_unit_test(test_the_bearer_scheme_is_accepted_in_any_case),
        cmocka_unit_test(test_a_large_body_with_a_lower_case_scheme_is_read),
        cmocka_unit_test(test_a_post_without_a_body_says_the_body_is_empty),
        cmocka_unit_test(test_a_body_that_is_not_json_says_where),
        cmocka_unit_test(test_a_body_with_bytes_that_are_not_utf8_is_refused_in_json),
        cmocka_unit_test(test_a_bad_note_is_refused_with_its_path),
        cmocka_unit_test(test_rollback_refuses_an_unknown_key_naming_it),
        cmocka_unit_test(test_rollback_refuses_a_version_that_is_not_a_string),
        cmocka_unit_test(test_rollback_without_a_body_still_means_the_previous_release),
        cmocka_unit_test(test_ledger_refuses_a_from_beyond_what_it_can_echo),
        cmocka_unit_test(test_ledger_echoes_the_largest_from_it_accepts),
        cmocka_unit_test(test_a_query_number_with_a_sign_is_refused),
        cmocka_unit_test(test_a_refusal_quoting_bytes_that_are_not_utf8_keeps_its_status),
    };
    const struct CMUnitTest alone[] = {
        cmocka_unit_test(test_the_soft_open_files_limit_is_raised_to_the_hard_one),
    };
    int failed = h_group_end(shared, cmocka_run_group_tests_name("one node", tests, setup, NULL));
    failed += cmocka_run_group_tests_name("own node", alone, NULL, NULL);
    curl_global_cleanup();
    return failed;
}
