/* Integration: the console's files as chimerad serves them (README
 * "Console"), on a real federation: compiled in, each with its content
 * type, nothing it loads from elsewhere, nothing inline that the
 * Content-Security-Policy would block; and how far each member's ledger is,
 * which its member cards show. What the page does is tests/browser's (a
 * real browser); this runs wherever chimerad builds. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

/* Its raw HTTP helpers (headers included); the stream readers stay unused here. */
#pragma GCC diagnostic ignored "-Wunused-function"
#include "sse_support.h"

static int leader = -1;

static int setup(void **state)
{
    struct h_cluster *c = h_cluster_create(3);
    *state = c;
    return c && (leader = h_start_agreed(c, "test_console_assets", NULL)) >= 0 ? 0 : -1;
}

static int teardown(void **state)
{
    h_cluster_destroy(*state);
    return 0;
}

/* GET path; the whole answer (free it), its status in *status. */
static char *get(struct h_cluster *c, const char *path, int *status)
{
    char head[512];
    snprintf(head, sizeof(head), "GET %s HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n",
             path);
    return raw_answer(c, 0, head, status);
}

/* GET path with If-None-Match: inm; the whole answer (free it). */
static char *get_if_none_match(struct h_cluster *c, const char *path, const char *inm, int *status)
{
    char head[512];
    snprintf(head, sizeof(head),
             "GET %s HTTP/1.1\r\nHost: test\r\nIf-None-Match: %s\r\nConnection: close\r\n\r\n",
             path, inm);
    return raw_answer(c, 0, head, status);
}

static const char *body_of(const char *answer)
{
    const char *b = strstr(answer, "\r\n\r\n");
    return b ? b + 4 : "";
}

/* Asserts path answers 200 with content type want; the answer (free it). */
static char *expect_file(struct h_cluster *c, const char *path, const char *want)
{
    int st = 0;
    char *a = get(c, path, &st);
    if (st != 200)
        fail_msg("GET %s answered %d: %.300s", path, st, a);
    struct sse s = {.text = a};
    char type[128] = "";
    if (!sse_header(&s, "Content-Type", type, sizeof(type)) || strcmp(type, want) != 0)
        fail_msg("GET %s: Content-Type \"%s\", expected \"%s\"", path, type, want);
    return a;
}

static void test_the_page_is_served_at_ui_as_html(void **state)
{
    char *a = expect_file(*state, "/ui/", "text/html; charset=utf-8");
    assert_non_null(strstr(body_of(a), "<script src=\"app.js\""));
    free(a);
    free(expect_file(*state, "/ui/index.html", "text/html; charset=utf-8"));
}

static void test_each_file_has_its_content_type(void **state)
{
    free(expect_file(*state, "/ui/app.js", "text/javascript; charset=utf-8"));
    free(expect_file(*state, "/ui/style.css", "text/css; charset=utf-8"));
    free(expect_file(*state, "/ui/favicon.svg", "image/svg+xml"));
}

/* The answer's header name (cap bytes), failing the test without it. */
static void header_of(const char *answer, const char *name, char *out, size_t cap)
{
    struct sse s = {.text = (char *)answer};
    if (!answer || !sse_header(&s, name, out, cap))
        fail_msg("no %s header in: %.300s", name, answer ? answer : "(no answer)");
}

/* A strong tag (no W/), one per file, and "no-cache" (a copy may be kept,
 * but is checked each time): never no-store, which forbids the copy. */
static void test_each_file_has_a_strong_etag_and_is_revalidated_each_time(void **state)
{
    static const char *const paths[] = {"/ui/", "/ui/app.js", "/ui/style.css"};
    char tags[3][128];
    for (size_t i = 0; i < 3; i++) {
        char *a = expect_file(*state, paths[i],
                              i == 0   ? "text/html; charset=utf-8"
                              : i == 1 ? "text/javascript; charset=utf-8"
                                       : "text/css; charset=utf-8");
        char cache[64];
        header_of(a, "ETag", tags[i], sizeof(tags[i]));
        header_of(a, "Cache-Control", cache, sizeof(cache));
        assert_string_equal(cache, "no-cache");
        if (tags[i][0] != '"' || strlen(tags[i]) < 10 || tags[i][strlen(tags[i]) - 1] != '"')
            fail_msg("GET %s: ETag %s is not a strong entity tag", paths[i], tags[i]);
        free(a);
    }
    assert_string_not_equal(tags[0], tags[1]);
    assert_string_not_equal(tags[1], tags[2]);
    /* the same file keeps its tag */
    char *a = expect_file(*state, "/ui/index.html", "text/html; charset=utf-8");
    char again[128];
    header_of(a, "ETag", again, sizeof(again));
    assert_string_equal(again, tags[0]);
    free(a);
}

/* The browser's copy is current: 304 with the tag, and no body. */
static void test_a_copy_whose_etag_is_current_is_answered_304_without_a_body(void **state)
{
    char *a = expect_file(*state, "/ui/app.js", "text/javascript; charset=utf-8");
    char tag[128], inm[300];
    header_of(a, "ETag", tag, sizeof(tag));
    free(a);
    int st = 0;
    snprintf(inm, sizeof(inm), "\"0000\", W/%s", tag);
    a = get_if_none_match(*state, "/ui/app.js", inm, &st);
    assert_int_equal(st, 304);
    char again[128], cache[64];
    header_of(a, "ETag", again, sizeof(again));
    assert_string_equal(again, tag);
    header_of(a, "Cache-Control", cache, sizeof(cache));
    assert_string_equal(cache, "no-cache");
    assert_string_equal(body_of(a), "");
    free(a);
    /* another file's tag, or an older one, gets the file */
    a = get_if_none_match(*state, "/ui/style.css", tag, &st);
    assert_int_equal(st, 200);
    assert_true(strlen(body_of(a)) > 0);
    free(a);
}

/* Every src= and href= of the page names a file the node serves itself:
 * no CDN, no other origin, nothing to install beside chimerad. */
static void test_the_page_loads_only_files_of_its_own(void **state)
{
    char *a = expect_file(*state, "/ui/", "text/html; charset=utf-8");
    size_t checked = 0;
    for (const char *p = body_of(a); (p = strpbrk(p, "sh"));) {
        size_t skip = strncmp(p, "src=\"", 5) == 0 ? 5 : strncmp(p, "href=\"", 6) == 0 ? 6 : 0;
        if (!skip || (p > a && p[-1] != ' ')) {
            p++;
            continue;
        }
        p += skip;
        size_t n = strcspn(p, "\"");
        char ref[128], path[160];
        snprintf(ref, sizeof(ref), "%.*s", (int)n, p);
        if (strchr(ref, ':') || strncmp(ref, "//", 2) == 0)
            fail_msg("index.html refers to another origin: %s", ref);
        snprintf(path, sizeof(path), "/ui/%s", ref);
        int st = 0;
        free(get(*state, path, &st));
        if (st != 200)
            fail_msg("index.html refers to %s, which answers %d", ref, st);
        checked++;
        p += n;
    }
    assert_true(checked >= 3); /* app.js, style.css, favicon.svg */
    free(a);
}

/* The Content-Security-Policy forbids inline script and style: the page
 * must have neither, or the browser would refuse them. */
static void test_the_page_has_no_inline_script_or_style(void **state)
{
    char *a = expect_file(*state, "/ui/", "text/html; charset=utf-8");
    const char *b = body_of(a);
    for (const char *p = b; (p = strstr(p, "<script")); p++)
        if (strncmp(p, "<script src=", 12) != 0)
            fail_msg("an inline <script> in index.html: %.60s", p);
    assert_null(strstr(b, "style="));
    assert_null(strstr(b, "<style"));
    for (const char *p = b; (p = strstr(p, " on")); p++) { /* onclick= and the like */
        const char *q = p + 3;
        while (*q >= 'a' && *q <= 'z')
            q++;
        if (*q == '=')
            fail_msg("an inline handler in index.html: %.40s", p + 1);
    }
    free(a);
}

static void test_an_unknown_file_is_404_naming_it(void **state)
{
    int st = 0;
    char *a = get(*state, "/ui/nope.js", &st);
    assert_int_equal(st, 404);
    assert_non_null(strstr(body_of(a), "/ui/nope.js"));
    free(a);
    a = get(*state, "/ui/../federation/state", &st);
    assert_int_equal(st, 404);
    free(a);
}

/* The page's relative URLs (app.js) need the trailing slash. */
static void test_ui_without_the_slash_redirects_to_ui(void **state)
{
    int st = 0;
    char *a = get(*state, "/ui", &st);
    assert_int_equal(st, 308);
    struct sse s = {.text = a};
    char loc[64] = "";
    assert_true(sse_header(&s, "Location", loc, sizeof(loc)));
    assert_string_equal(loc, "/ui/");
    free(a);
}

static void test_a_mutation_of_the_console_is_refused_405(void **state)
{
    long st = 0;
    free(h_http_request(*state, 0, "POST", "/ui/app.js", "{}", ((struct h_cluster *)*state)->token,
                        0, &st));
    assert_int_equal(st, 405);
}

/* Every member's "ledger" in node i's GET /federation/state is known
 * (index and committed) and at the index of i's own ledger. */
static bool ledgers_known_to(struct h_cluster *c, int i)
{
    long status = 0;
    json_t *st = h_http_get_json(c, i, "/federation/state", &status);
    json_int_t own = json_integer_value(json_object_get(json_object_get(st, "ledger"), "index"));
    bool all = st && own > 0;
    for (int k = 0; all && k < c->n; k++) {
        const json_t *l = json_object_get(h_find_peer(st, c->nodes[k].id), "ledger");
        all = json_integer_value(json_object_get(l, "index")) == own &&
              json_integer_value(json_object_get(l, "committed")) == own;
    }
    json_decref(st);
    return all;
}

static bool leader_knows_every_ledger(void *arg)
{
    return ledgers_known_to(arg, leader);
}

static void test_the_leader_tells_how_far_every_members_ledger_is(void **state)
{
    struct h_cluster *c = *state;
    if (!h_wait_until(leader_knows_every_ledger, c, h_timeout_ms()))
        fail_msg("the leader %s does not show every member's ledger at its own index: %s",
                 c->nodes[leader].id, h_views_line(c));
}

static void test_a_follower_tells_only_its_own_ledger(void **state)
{
    struct h_cluster *c = *state;
    int f = (leader + 1) % c->n;
    long status = 0;
    json_t *st = h_http_get_json(c, f, "/federation/state", &status);
    assert_non_null(st);
    for (int k = 0; k < c->n; k++) {
        const json_t *l = json_object_get(h_find_peer(st, c->nodes[k].id), "ledger");
        if (k == f) {
            assert_true(json_integer_value(json_object_get(l, "index")) > 0);
            assert_non_null(json_object_get(l, "committed"));
        } else {
            assert_true(json_is_null(l));
        }
    }
    json_decref(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_the_page_is_served_at_ui_as_html),
        cmocka_unit_test(test_each_file_has_its_content_type),
        cmocka_unit_test(test_each_file_has_a_strong_etag_and_is_revalidated_each_time),
        cmocka_unit_test(test_a_copy_whose_etag_is_current_is_answered_304_without_a_body),
        cmocka_unit_test(test_the_page_loads_only_files_of_its_own),
        cmocka_unit_test(test_the_page_has_no_inline_script_or_style),
        cmocka_unit_test(test_an_unknown_file_is_404_naming_it),
        cmocka_unit_test(test_ui_without_the_slash_redirects_to_ui),
        cmocka_unit_test(test_a_mutation_of_the_console_is_refused_405),
        cmocka_unit_test(test_the_leader_tells_how_far_every_members_ledger_is),
        cmocka_unit_test(test_a_follower_tells_only_its_own_ledger),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
