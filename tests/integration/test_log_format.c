/* Integration: the log format of chimerad's stderr, on three real
 * processes. --log-format=json (CHIMERA_LOG_FORMAT=json) writes one JSON
 * object per line, for log shippers: {"time", "level", "node", "kind",
 * "message", "fields": {"seq", "peer" when the event has one}}, the seq
 * being the one GET /events gives the event; the text format (the default)
 * stays "TIME LEVEL NODE KIND: MESSAGE". */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define NODES 3
#define WHO "test_log_format"
#define ISO_MS "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z"

static const char *const JSON_ARGS[] = {"--log-format=json", NULL};

static int setup(void **state)
{
    *state = h_cluster_create(NODES);
    return *state ? 0 : -1;
}

static int teardown(void **state)
{
    h_cluster_destroy(*state);
    return 0;
}

static bool matches(const char *pattern, const char *s)
{
    regex_t re;
    if (regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB) != 0)
        fail_msg("bad pattern %s", pattern);
    bool ok = regexec(&re, s, 0, NULL, 0) == 0;
    regfree(&re);
    return ok;
}

/* Starts the federation, waits for a leader, then stops every node
 * (node.stop is logged last) and returns node i's log. */
static char *run_and_read_log(struct h_cluster *c, int i, json_t **events)
{
    if (h_start_agreed(c, WHO, NULL) < 0)
        fail_msg("the federation did not come up with a leader");
    if (!h_wait_all_alive(c, h_timeout_ms()))
        fail_msg("the members did not all see each other alive");
    *events = h_events(c, i);
    assert_non_null(*events);
    for (int k = 0; k < NODES; k++)
        assert_int_equal(h_node_stop(c, k), 0);
    char *log = h_read_file(c->nodes[i].log);
    assert_non_null(log);
    return log;
}

/* The event of GET /events with this seq, or NULL. */
static json_t *event_with_seq(json_t *events, json_int_t seq)
{
    size_t k;
    json_t *e;
    json_array_foreach(events, k, e)
    {
        if (json_integer_value(json_object_get(e, "seq")) == seq)
            return e;
    }
    return NULL;
}

static void expect_json_line(struct h_cluster *c, int i, const char *line, json_t *events,
                             int *with_peer, int *matched)
{
    json_error_t jerr;
    json_t *o = json_loads(line, 0, &jerr);
    if (!json_is_object(o))
        fail_msg("%s: not a JSON object (%s): %s", c->nodes[i].id, jerr.text, line);
    const char *time = json_string_value(json_object_get(o, "time"));
    const char *level = json_string_value(json_object_get(o, "level"));
    const char *node = json_string_value(json_object_get(o, "node"));
    const char *kind = json_string_value(json_object_get(o, "kind"));
    json_t *fields = json_object_get(o, "fields");
    if (!time || !matches(ISO_MS "$", time))
        fail_msg("time is not ISO-8601 UTC with ms: %s", line);
    if (!level || !matches("^(debug|info|warn|error|fatal)$", level))
        fail_msg("bad level: %s", line);
    if (!node || strcmp(node, c->nodes[i].id) != 0)
        fail_msg("node is not %s: %s", c->nodes[i].id, line);
    if (!kind || !*kind || !json_is_string(json_object_get(o, "message")))
        fail_msg("kind or message missing: %s", line);
    if (!json_is_object(fields) || !json_is_integer(json_object_get(fields, "seq")))
        fail_msg("fields.seq missing: %s", line);
    json_t *peer = json_object_get(fields, "peer");
    if (peer && !json_is_string(peer))
        fail_msg("fields.peer is not a string: %s", line);
    *with_peer += peer != NULL;
    /* The same event as GET /events says, when it is still held there. */
    json_t *e = event_with_seq(events, json_integer_value(json_object_get(fields, "seq")));
    if (e) {
        const char *epeer = json_string_value(json_object_get(e, "peer"));
        assert_string_equal(json_string_value(json_object_get(e, "kind")), kind);
        assert_string_equal(json_string_value(json_object_get(e, "message")),
                            json_string_value(json_object_get(o, "message")));
        if ((epeer && *epeer) != (peer != NULL) ||
            (peer && strcmp(epeer, json_string_value(peer)) != 0))
            fail_msg("fields.peer differs from the event's peer (%s): %s", epeer ? epeer : "",
                     line);
        (*matched)++;
    }
    json_decref(o);
}

static void test_json_format_writes_one_object_per_line_with_its_fields(void **state)
{
    struct h_cluster *c = *state;
    c->node_args = JSON_ARGS;
    json_t *events;
    char *log = run_and_read_log(c, 0, &events);
    int lines = 0, with_peer = 0, matched = 0;
    for (char *save, *line = strtok_r(log, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        expect_json_line(c, 0, line, events, &with_peer, &matched);
        lines++;
    }
    print_message("%d JSON lines, %d with a peer, %d matched to GET /events\n", lines, with_peer,
                  matched);
    assert_true(lines > 0);
    assert_true(with_peer > 0); /* peer.alive and the like name the member */
    assert_true(matched > 0);
    json_decref(events);
    free(log);
    h_cluster_pass(c);
}

static void test_text_format_is_the_default_and_unchanged(void **state)
{
    struct h_cluster *c = *state;
    json_t *events;
    char *log = run_and_read_log(c, 1, &events);
    char pattern[128];
    snprintf(pattern, sizeof pattern, ISO_MS " (INFO|WARN) %s [a-z0-9_.]+: ", c->nodes[1].id);
    int lines = 0;
    for (char *save, *line = strtok_r(log, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (!matches(pattern, line))
            fail_msg("not a text log line: %s", line);
        lines++;
    }
    assert_true(lines > 0);
    json_decref(events);
    free(log);
    h_cluster_pass(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_json_format_writes_one_object_per_line_with_its_fields,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_text_format_is_the_default_and_unchanged, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
