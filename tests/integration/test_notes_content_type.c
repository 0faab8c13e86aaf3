/* Integration: a POST /ledger/notes with its Content-Type header given
 * twice is read by the first one, as the Authorization header is (the
 * listener picks the header, node/net/http_conn.c; there is no unit test
 * of its header parser). Either way round, the body is read in the
 * encoding the first header names and committed. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <curl/curl.h>

#include <msgpack.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "harness_fixture.h"
#include "harness_release.h"

static void start_leader(struct h_cluster *c)
{
    if (h_start_agreed(c, "test_notes_content_type", NULL) < 0)
        fail_msg("n1 did not come up as leader (log: %s)", c->nodes[0].log);
}

/* POST /ledger/notes on n1 with the body and these two Content-Type
 * headers, in this order (libcurl sends every header of its list, the
 * repeated one too); the status. */
static long post_two_types(struct h_cluster *c, const char *first, const char *second,
                           const void *body, size_t len)
{
    char t1[96], t2[96];
    snprintf(t1, sizeof t1, "Content-Type: %s", first);
    snprintf(t2, sizeof t2, "Content-Type: %s", second);
    const char *const types[] = {t1, t2, NULL};
    long status = 0;
    char *text = h_http_send(c, 0, "POST", "/ledger/notes", body, len, types, c->token,
                             h_timeout_ms(), &status);
    if (!text)
        fail_msg("POST /ledger/notes: node n1 could not be reached");
    free(text);
    return status;
}

static void test_a_msgpack_body_under_msgpack_then_json_is_committed(void **state)
{
    struct h_cluster *c = *state;
    start_leader(c);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 1);
    msgpack_pack_str_with_body(&pk, "note", 4);
    msgpack_pack_str_with_body(&pk, "first type counts", 17);
    long st = post_two_types(c, "application/msgpack", "application/json", sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
    assert_int_equal(st, 201);
    h_cluster_pass(c);
}

static void test_a_json_body_under_json_then_msgpack_is_committed(void **state)
{
    struct h_cluster *c = *state;
    start_leader(c);
    const char *body = "{\"note\": \"first type counts\"}";
    long st = post_two_types(c, "application/json", "application/msgpack", body, strlen(body));
    assert_int_equal(st, 201);
    h_cluster_pass(c);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_ALL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_a_msgpack_body_under_msgpack_then_json_is_committed,
                                        h_setup_one_node, h_teardown_cluster),
        cmocka_unit_test_setup_teardown(test_a_json_body_under_json_then_msgpack_is_committed,
                                        h_setup_one_node, h_teardown_cluster),
    };
    int rv = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rv;
}
