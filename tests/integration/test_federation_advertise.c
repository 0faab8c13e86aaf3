/* Integration: --advertise-http, the HTTP address clients are told to use
 * for a node (a container's published port, a NAT), on real chimerad
 * processes on 127.0.0.1. Every member reports it for that node in
 * /federation/state, and a follower's 307 sends clients there. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "harness.h"

#define NODES 3

/* Node i's advertised address: "localhost" and its own port, so it is
 * reachable and still differs from its --http 127.0.0.1:PORT. */
static const char *scheme = ""; /* or "https://": a TLS proxy in front */

static void advertised(const struct h_cluster *c, int i, char *out, size_t len)
{
    snprintf(out, len, "%slocalhost:%d", scheme, c->nodes[i].http_port);
}

/* Starts every node with --advertise-http and waits for one leader. */
static int start_advertising(struct h_cluster *c)
{
    char adv[NODES][64];
    for (int i = 0; i < NODES; i++) {
        advertised(c, i, adv[i], sizeof adv[i]);
        const char *extra[] = {"--advertise-http", adv[i], NULL};
        struct h_start o = {.extra = extra};
        assert_int_equal(h_node_start_opts(c, i, &o), 0);
    }
    int leader = -1;
    if (!h_wait_agreed(c, 0, h_timeout_ms(), &leader, NULL))
        fail_msg("no leader all agree on: %s (logs in %s)", h_views_line(c), c->dir);
    return leader;
}

struct http_is {
    struct h_cluster *c;
    int observer, member;
    char want[64];
    char seen[128];
};

/* The observer's /federation/state gives the member's "http" as want. */
static bool reports_http(void *arg)
{
    struct http_is *w = arg;
    long st;
    json_t *s = h_http_get_json(w->c, w->observer, "/federation/state", &st);
    const char *http =
        json_string_value(json_object_get(h_find_peer(s, w->c->nodes[w->member].id), "http"));
    snprintf(w->seen, sizeof w->seen, "%s", http ? http : "(none)");
    bool ok = http && strcmp(http, w->want) == 0;
    json_decref(s);
    return ok;
}

static void test_every_member_reports_each_nodes_advertised_http(void **state)
{
    (void)state;
    struct h_cluster *c = h_cluster_create(NODES);
    assert_non_null(c);
    start_advertising(c);
    for (int obs = 0; obs < NODES; obs++)
        for (int m = 0; m < NODES; m++) {
            struct http_is w = {.c = c, .observer = obs, .member = m};
            advertised(c, m, w.want, sizeof w.want);
            /* Peers learn it from hellos: wait for the first to arrive. */
            if (!h_wait_until(reports_http, &w, h_timeout_ms()))
                fail_msg("%s reports %s's http as %s, not %s", c->nodes[obs].id, c->nodes[m].id,
                         w.seen, w.want);
        }
    h_cluster_pass(c);
    h_cluster_destroy(c);
}

static size_t discard(char *p, size_t size, size_t n, void *ctx)
{
    (void)p, (void)ctx;
    return size * n;
}

/* POSTs a note to node i without following redirects; the status, and the
 * Location header into loc ("" when none). */
static long post_note(const struct h_cluster *c, int i, char *loc, size_t loclen)
{
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/ledger/notes", c->nodes[i].http_port);
    char auth[128];
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", c->token);
    CURL *h = curl_easy_init();
    assert_non_null(h);
    struct curl_slist *hdr = curl_slist_append(NULL, auth);
    hdr = curl_slist_append(hdr, "Content-Type: application/json");
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, "{\"note\": \"advertise\"}");
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)h_timeout_ms());
    long st = 0;
    char *redirect = NULL;
    loc[0] = '\0';
    if (curl_easy_perform(h) == CURLE_OK) {
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &st);
        if (curl_easy_getinfo(h, CURLINFO_REDIRECT_URL, &redirect) == CURLE_OK && redirect)
            snprintf(loc, loclen, "%s", redirect);
    }
    curl_slist_free_all(hdr);
    curl_easy_cleanup(h);
    return st;
}

static void test_a_follower_redirects_to_the_leaders_advertised_http(void **state)
{
    (void)state;
    struct h_cluster *c = h_cluster_create(NODES);
    assert_non_null(c);
    int leader = start_advertising(c), follower = (leader + 1) % NODES;
    struct http_is w = {.c = c, .observer = follower, .member = leader};
    advertised(c, leader, w.want, sizeof w.want);
    if (!h_wait_until(reports_http, &w, h_timeout_ms()))
        fail_msg("the follower never learnt the leader's http (%s)", w.seen);
    char loc[256], want[256];
    long st = post_note(c, follower, loc, sizeof loc);
    snprintf(want, sizeof want, "%s%s/ledger/notes", scheme[0] ? "" : "http://", w.want);
    if (st != 307 || strcmp(loc, want) != 0)
        fail_msg("the follower answered %ld with Location \"%s\"; want 307 to %s", st, loc, want);
    h_cluster_pass(c);
    h_cluster_destroy(c);
}

static void test_an_advertised_https_url_keeps_its_scheme_in_the_redirect(void **state)
{
    scheme = "https://";
    test_a_follower_redirects_to_the_leaders_advertised_http(state);
    scheme = "";
}

static void test_a_bad_advertise_http_is_refused_at_start_naming_the_setting(void **state)
{
    (void)state;
    struct h_cluster *c = h_cluster_create(1);
    assert_non_null(c);
    char errpath[H_PATH_MAX];
    snprintf(errpath, sizeof errpath, "%s/n1.err", c->dir);
    const char *extra[] = {"--advertise-http", "0.0.0.0:8080", NULL};
    struct h_start o = {.extra = extra, .stderr_path = errpath};
    int st;
    assert_int_equal(h_node_start_opts(c, 0, &o), 0);
    if (!h_node_wait_exit(c, 0, h_timeout_ms(), &st))
        fail_msg("chimerad kept running with a wildcard --advertise-http");
    char *err = h_read_file(errpath);
    assert_non_null(err);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 2 || h_count_lines(err) != 1 ||
        !strstr(err, "--advertise-http: \"0.0.0.0:8080\" is a wildcard"))
        fail_msg("want exit 2 and one line: --advertise-http is a wildcard; got status %d and:\n%s",
                 st, err);
    free(err);
    h_cluster_pass(c);
    h_cluster_destroy(c);
}

static void test_a_wildcard_http_without_advertise_http_warns_at_start(void **state)
{
    (void)state;
    struct h_cluster *c = h_cluster_create(1);
    assert_non_null(c);
    /* Listens on every interface; the harness reaches it at 0.0.0.0 too. */
    snprintf(c->nodes[0].http_host, sizeof c->nodes[0].http_host, "0.0.0.0");
    assert_int_equal(h_node_start(c, 0), 0);
    assert_true(h_wait_http_up(c, 0, h_timeout_ms()));
    if (!h_wait_event(c, 0, "node.advertise_wildcard", NULL, 0, h_timeout_ms()))
        fail_msg("no node.advertise_wildcard event (log: %s)", c->nodes[0].log);
    struct http_is w = {.c = c, .observer = 0, .member = 0};
    snprintf(w.want, sizeof w.want, "0.0.0.0:%d", c->nodes[0].http_port);
    assert_true(reports_http(&w));
    h_cluster_pass(c);
    h_cluster_destroy(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_member_reports_each_nodes_advertised_http),
        cmocka_unit_test(test_a_follower_redirects_to_the_leaders_advertised_http),
        cmocka_unit_test(test_an_advertised_https_url_keeps_its_scheme_in_the_redirect),
        cmocka_unit_test(test_a_bad_advertise_http_is_refused_at_start_naming_the_setting),
        cmocka_unit_test(test_a_wildcard_http_without_advertise_http_warns_at_start),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
