/* Integration: CORS on a real chimerad. Off by default: no
 * Access-Control-* header whatever the Origin, and a preflight refused.
 * With --http-cors-origins, a listed Origin gets Access-Control-Allow-Origin
 * (and Vary: Origin) on its answers, streams included, and its preflight
 * 204 naming the methods and headers; an unlisted one gets none. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "sse_support.h"

#define LISTED "https://console.example:8443"
#define OFF 0 /* node n1: CORS off (the default) */
#define ON 1  /* node n2: LISTED may call it */

static int setup(void **state)
{
    struct h_cluster *c = h_cluster_create(2);
    *state = c;
    if (!c)
        return -1;
    static const char *const on[] = {"--http-cors-origins=http://other.example," LISTED, NULL};
    if (h_node_start(c, OFF) != 0 || h_node_start_opts(c, ON, &(struct h_start){.extra = on}) != 0)
        return -1;
    return h_wait_http_up(c, OFF, h_timeout_ms()) && h_wait_http_up(c, ON, h_timeout_ms()) ? 0 : -1;
}

static int teardown(void **state)
{
    h_cluster_destroy(*state);
    return 0;
}

/* The whole answer of node i to method path from origin (NULL: no Origin),
 * with more header lines (may be ""). */
static char *ask(struct h_cluster *c, int i, const char *method, const char *path,
                 const char *origin, const char *more, int *status)
{
    char head[1024], from[300] = "";
    if (origin)
        snprintf(from, sizeof(from), "Origin: %s\r\n", origin);
    snprintf(head, sizeof(head), "%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n%s%s\r\n",
             method, path, from, more);
    return raw_answer(c, i, head, status);
}

static void test_cors_is_off_by_default(void **state)
{
    struct h_cluster *c = *state;
    int st;
    char *text = ask(c, OFF, "GET", "/federation/state", LISTED, "", &st);
    assert_int_equal(st, 200);
    assert_null(strcasestr(text, "Access-Control-"));
    free(text);
    text = ask(c, OFF, "OPTIONS", "/ledger/notes", LISTED,
               "Access-Control-Request-Method: POST\r\n", &st);
    assert_int_equal(st, 403);
    assert_null(strcasestr(text, "Access-Control-"));
    assert_non_null(strstr(text, "may not make cross-origin requests"));
    free(text);
    h_cluster_pass(c);
}

static void test_a_listed_origin_is_allowed_and_told_so(void **state)
{
    struct h_cluster *c = *state;
    int st;
    char *text = ask(c, ON, "GET", "/health/live", LISTED, "", &st);
    assert_int_equal(st, 200);
    assert_non_null(strstr(text, "\r\nAccess-Control-Allow-Origin: " LISTED "\r\n"));
    assert_non_null(strstr(text, "\r\nVary: Origin\r\n"));
    free(text);
    struct sse s;
    sse_open(&s, c, ON, "/events/stream", "Origin: " LISTED "\r\n");
    assert_true(sse_wait_for(&s, "\r\n\r\n", h_timeout_ms()));
    char allow[300];
    assert_true(sse_header(&s, "Access-Control-Allow-Origin", allow, sizeof(allow)));
    assert_string_equal(allow, LISTED);
    sse_close(&s);
    h_cluster_pass(c);
}

static void test_an_unlisted_origin_gets_no_cors_header(void **state)
{
    struct h_cluster *c = *state;
    int st;
    char *text = ask(c, ON, "GET", "/health/live", "https://evil.example", "", &st);
    assert_int_equal(st, 200);
    assert_null(strcasestr(text, "Access-Control-"));
    free(text);
    text = ask(c, ON, "OPTIONS", "/ledger/notes", "https://evil.example",
               "Access-Control-Request-Method: POST\r\n", &st);
    assert_int_equal(st, 403);
    assert_null(strcasestr(text, "Access-Control-"));
    free(text);
    h_cluster_pass(c);
}

static void test_a_preflight_from_a_listed_origin_is_answered_204(void **state)
{
    struct h_cluster *c = *state;
    int st;
    char *text = ask(c, ON, "OPTIONS", "/ledger/notes", LISTED,
                     "Access-Control-Request-Method: POST\r\n"
                     "Access-Control-Request-Headers: authorization, content-type\r\n",
                     &st);
    assert_int_equal(st, 204);
    assert_non_null(strstr(text, "\r\nAccess-Control-Allow-Origin: " LISTED "\r\n"));
    assert_non_null(strstr(text, "\r\nAccess-Control-Allow-Methods: GET, HEAD, POST\r\n"));
    assert_non_null(strstr(text, "Access-Control-Allow-Headers: Authorization, Content-Type"));
    assert_null(strstr(text, "Content-Length"));
    free(text);
    h_cluster_pass(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cors_is_off_by_default),
        cmocka_unit_test(test_a_listed_origin_is_allowed_and_told_so),
        cmocka_unit_test(test_an_unlisted_origin_gets_no_cors_header),
        cmocka_unit_test(test_a_preflight_from_a_listed_origin_is_answered_204),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
