/* Integration: a real chimerad opens its ledger at start. It creates its
 * node key, serves the entries and the head over HTTP, truncates a torn
 * tail (and says so in an event), and refuses to start on corruption that
 * valid records follow, naming the file and offset. The ledgers are made
 * with the ledger library itself before the node starts. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "harness_fixture.h"
#include "harness_release.h"
#include "ledger/ledger.h"
#include "node/raft/cons_store.h"

static void start(struct h_cluster *c)
{
    assert_int_equal(h_node_start(c, 0), 0);
    if (!h_wait_http_up(c, 0, h_timeout_ms()))
        fail_msg("n1 did not serve /health/live (log: %s)", c->nodes[0].log);
}

/* Appends `count` note entries to node 0's ledger, as a leader would. */
static void write_notes(struct h_cluster *c, int count)
{
    const char *data = c->nodes[0].data;
    if (mkdir(data, 0700) != 0 && errno != EEXIST)
        fail_msg("mkdir %s: %s", data, strerror(errno));
    struct ledger *l;
    struct ledger_options opt = {0};
    char err[512];
    assert_int_equal(ledger_open(data, &opt, &l, NULL, NULL, err, sizeof(err)), LEDGER_OK);
    struct ledger_batch *b = ledger_batch_new();
    assert_non_null(b);
    ledger_batch_begin(b, l);
    static const uint8_t payload[] = {0xa4, 'n', 'o', 't', 'e'}; /* msgpack "note" */
    for (int i = 0; i < count; i++)
        assert_int_equal(ledger_batch_add_entry(b, 1, LEDGER_ENTRY_NOTE, 1000 + (uint64_t)i, "n1",
                                                payload, sizeof(payload), NULL, NULL),
                         LEDGER_OK);
    assert_int_equal(ledger_append_batch(l, b), LEDGER_OK);
    ledger_batch_free(b);
    ledger_close(l);
    /* A node that wrote entries of term 1 was in term 1: without the state
     * file it would refuse to start (it could vote twice). */
    struct cons_stored st = {.term = 1};
    assert_int_equal(cons_store_save(data, &st, err, sizeof(err)), 0);
}

static void segment_path(struct h_cluster *c, char *out, size_t len)
{
    snprintf(out, len, "%s/ledger/seg-%020d.log", c->nodes[0].data, 1);
}

static void test_first_start_creates_a_node_key_only_its_owner_can_read(void **state)
{
    struct h_cluster *c = *state;
    start(c);
    char path[H_PATH_MAX + 16];
    snprintf(path, sizeof(path), "%s/node.key", c->nodes[0].data);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0077, 0);
    assert_true(h_event_seq(c, 0, "ledger.key_created", NULL, 0) > 0);
    long status = 0;
    json_t *head = h_http_get_json(c, 0, "/ledger/head", &status);
    assert_int_equal(status, 200);
    assert_int_equal(strlen(json_string_value(json_object_get(head, "node_pubkey"))), 64);
    /* Empty, or holding only what the node appended as the single member's
     * leader (its election entry). */
    json_t *hash = json_object_get(head, "hash");
    assert_true(json_is_null(hash) || strlen(json_string_value(hash)) == 64);
    json_decref(head);
    h_cluster_pass(c);
}

static void test_the_ledgers_entries_and_head_are_served(void **state)
{
    struct h_cluster *c = *state;
    write_notes(c, 3);
    start(c);
    /* 3, and one more once the single member records its election. */
    assert_true(h_ledger_head_index(c, 0) >= 3);
    long status = 0;
    json_t *page = h_http_get_json(c, 0, "/ledger?from=2&limit=2", &status);
    assert_int_equal(status, 200);
    json_t *entries = json_object_get(page, "entries");
    assert_int_equal(json_array_size(entries), 2);
    json_t *first = json_array_get(entries, 0);
    assert_int_equal(json_integer_value(json_object_get(first, "index")), 2);
    assert_string_equal(json_string_value(json_object_get(first, "type")), "note");
    assert_string_equal(json_string_value(json_object_get(first, "author")), "n1");
    assert_string_equal(json_string_value(json_object_get(first, "payload")), "a46e6f7465");
    json_decref(page);
    json_t *state_json = h_http_get_json(c, 0, "/federation/state", &status);
    json_t *ledger = json_object_get(state_json, "ledger");
    assert_true(json_integer_value(json_object_get(ledger, "index")) >= 3);
    assert_int_equal(strlen(json_string_value(json_object_get(ledger, "head"))), 64);
    json_decref(state_json);
    h_cluster_pass(c);
}

static void test_bad_ledger_queries_are_refused_with_400(void **state)
{
    struct h_cluster *c = *state;
    start(c);
    long status = 0;
    json_t *body = h_http_get_json(c, 0, "/ledger?from=0", &status);
    assert_int_equal(status, 400);
    assert_non_null(json_object_get(body, "error"));
    json_decref(body);
    body = h_http_get_json(c, 0, "/ledger?limit=5000", &status);
    assert_int_equal(status, 400);
    json_decref(body);
    h_cluster_pass(c);
}

static void test_a_torn_tail_is_truncated_at_start_and_reported(void **state)
{
    struct h_cluster *c = *state;
    write_notes(c, 3);
    char seg[H_PATH_MAX + 64];
    segment_path(c, seg, sizeof(seg));
    FILE *f = fopen(seg, "ab"); /* half a record, as a crash mid-append leaves */
    assert_non_null(f);
    fwrite("\x40\x00\x00\x00\x12\x34", 1, 6, f);
    fclose(f);
    start(c);
    assert_true(h_ledger_head_index(c, 0) >= 3);
    assert_true(h_event_seq(c, 0, "ledger.recovered", NULL, 0) > 0);
    h_cluster_pass(c);
}

static void test_corruption_followed_by_valid_records_refuses_to_start(void **state)
{
    struct h_cluster *c = *state;
    write_notes(c, 3);
    char seg[H_PATH_MAX + 64], errpath[H_PATH_MAX + 16];
    segment_path(c, seg, sizeof(seg));
    int fd = open(seg, O_RDWR);
    assert_true(fd >= 0);
    uint8_t byte;
    assert_int_equal(pread(fd, &byte, 1, 12), 1); /* inside the first record's body */
    byte ^= 0x01;
    assert_int_equal(pwrite(fd, &byte, 1, 12), 1);
    close(fd);
    snprintf(errpath, sizeof(errpath), "%s/n1.err", c->dir);
    struct h_start o = {.stderr_path = errpath};
    assert_int_equal(h_node_start_opts(c, 0, &o), 0);
    int status = 0;
    assert_true(h_node_wait_exit(c, 0, h_timeout_ms(), &status));
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) != 0);
    char *err = h_read_file(errpath);
    assert_non_null(err);
    assert_non_null(strstr(err, "seg-"));
    assert_non_null(strstr(err, "offset"));
    free(err);
    h_cluster_pass(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_first_start_creates_a_node_key_only_its_owner_can_read,
                                        h_setup_one_node, h_teardown_cluster),
        cmocka_unit_test_setup_teardown(test_the_ledgers_entries_and_head_are_served,
                                        h_setup_one_node, h_teardown_cluster),
        cmocka_unit_test_setup_teardown(test_bad_ledger_queries_are_refused_with_400,
                                        h_setup_one_node, h_teardown_cluster),
        cmocka_unit_test_setup_teardown(test_a_torn_tail_is_truncated_at_start_and_reported,
                                        h_setup_one_node, h_teardown_cluster),
        cmocka_unit_test_setup_teardown(test_corruption_followed_by_valid_records_refuses_to_start,
                                        h_setup_one_node, h_teardown_cluster),
    };
    return cmocka_run_group_tests_name("ledger_node", tests, NULL, NULL);
}
