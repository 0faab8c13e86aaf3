/* Integration: GET /events/stream on a real chimerad. Events arrive as
 * Server-Sent Events with their seq as id; a stream resumed from
 * Last-Event-ID loses none and repeats none; an idle stream gets a
 * keep-alive comment; streams past the cap are refused 503; a consumer
 * that stops reading is dropped with http.stream_dropped while the other
 * streams and the API keep answering. Every answer carries the CSP. Every
 * wait is on a condition with a deadline. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>

#include "sse_support.h"

#define MAX_STREAMS 3
/* A consumer is dropped past this many unsent bytes (the default, 1 MiB,
 * would take long to fill). The node's socket keeps the kernel's own send
 * buffer, which grows to megabytes: what waits there counts as unsent. */
#define MAX_QUEUED "8192"

/* One node, with the test setting name=value in its environment and these
 * arguments. */
static int start_node(void **state, const char *name, const char *value, const char *const *args)
{
    struct h_cluster *c = h_cluster_create(1);
    *state = c;
    if (!c)
        return -1;
    c->node_args = args;
    setenv(name, value, 1);
    int rv = h_start_agreed(c, "test_events_stream", NULL) < 0 ? -1 : 0;
    unsetenv(name);
    return rv;
}

static int setup(void **state)
{
    static const char *const args[] = {"--http-max-streams=3", NULL};
    return start_node(state, "CHIMERAD_TEST_HTTP_STREAM_MAX_QUEUED", MAX_QUEUED, args);
}

static int teardown(void **state)
{
    h_cluster_destroy(*state);
    return 0;
}

/* A note the leader (the only node) appends: a ledger.notes_appended event
 * (at most one a second: the next may wait that long). */
static void post_note(struct h_cluster *c)
{
    char *body = NULL;
    long st = h_mutation(c, 0, c->token, 0, &body);
    if (st != 201)
        fail_msg("POST /ledger/notes answered %ld: %s", st, body ? body : "");
    free(body);
}

/* A fault the node refuses (kill_node is not listed): a chaos.refused
 * event at once, as often as asked. */
static void refused_fault(struct h_cluster *c)
{
    long st = 0;
    free(h_http_request(c, 0, "POST", "/chaos/inject", "{\"kind\":\"kill_node\",\"target\":\"n1\"}",
                        c->token, 0, &st));
    assert_int_equal(st, 409);
}

static void wait_streams(struct h_cluster *c, double want)
{
    uint64_t end = h_now_ns() + (uint64_t)h_timeout_ms() * 1000000u;
    double v = -1;
    while ((!h_metric(c, 0, "chimera_http_streams", &v) || v != want) && h_now_ns() < end)
        usleep(20000);
    if (v != want)
        fail_msg("chimera_http_streams is %g, not %g", v, want);
}

static void test_events_arrive_with_their_seq_as_id(void **state)
{
    struct h_cluster *c = *state;
    struct sse s;
    sse_open(&s, c, 0, "/events/stream", "");
    if (!sse_wait_for(&s, "\r\n\r\n", h_timeout_ms()))
        fail_msg("no answer to GET /events/stream: %s", s.text ? s.text : "");
    assert_int_equal(sse_status(&s), 200);
    char ctype[64];
    assert_true(sse_header(&s, "Content-Type", ctype, sizeof(ctype)));
    assert_string_equal(ctype, "text/event-stream");
    wait_streams(c, 1);
    post_note(c);
    if (!sse_wait_for(&s, "\"kind\":\"ledger.notes_appended\"", h_timeout_ms()))
        fail_msg("the note's event did not come: %s", s.text);
    unsigned long long ids[64];
    json_t *data[64];
    size_t n = sse_events(&s, ids, data, 64);
    assert_true(n >= 1);
    for (size_t i = 0; i < n; i++) {
        assert_non_null(data[i]);
        assert_int_equal((unsigned long long)json_integer_value(json_object_get(data[i], "seq")),
                         ids[i]);
        json_decref(data[i]);
    }
    sse_close(&s);
    h_cluster_pass(c);
}

/* Reads s until it holds the event with this id. */
static void wait_id(struct sse *s, unsigned long long id)
{
    char needle[48];
    snprintf(needle, sizeof(needle), "\nid: %llu\n", id);
    if (!sse_wait_for(s, needle, h_timeout_ms()))
        fail_msg("event %llu did not come: %s", id, s->text ? s->text : "");
}

static void test_a_stream_resumed_from_last_event_id_loses_none_and_repeats_none(void **state)
{
    struct h_cluster *c = *state;
    refused_fault(c);
    unsigned long long first = h_last_event_seq(c, 0);
    struct sse a;
    sse_open(&a, c, 0, "/events/stream?since=0", "");
    wait_id(&a, first);
    sse_close(&a); /* the client goes away ... */
    for (int k = 0; k < 3; k++)
        refused_fault(c); /* ... while events happen */
    unsigned long long last = h_last_event_seq(c, 0);
    char hdr[64];
    snprintf(hdr, sizeof(hdr), "Last-Event-ID: %llu\r\n", first);
    struct sse b; /* the URL's since is older: the header wins, as for an EventSource */
    sse_open(&b, c, 0, "/events/stream?since=0", hdr);
    wait_id(&b, last);
    unsigned long long ids[64];
    size_t n = sse_events(&b, ids, NULL, 64);
    long st = 0;
    json_t *ring = h_http_get_json(c, 0, "/events?limit=1000", &st);
    assert_non_null(ring);
    size_t want = 0, i;
    json_t *e;
    json_array_foreach(ring, i, e)
    {
        unsigned long long seq = (unsigned long long)json_integer_value(json_object_get(e, "seq"));
        if (seq <= first || seq > last)
            continue;
        if (want >= n || ids[want] != seq)
            fail_msg("the resumed stream's event %zu is %llu, not %llu", want,
                     want < n ? ids[want] : 0ULL, seq);
        want++;
    }
    json_decref(ring);
    assert_true(want >= 3);
    for (size_t k = 1; k < n; k++)
        assert_true(ids[k] > ids[k - 1]); /* none twice */
    assert_true(n > 0 && ids[0] > first);
    sse_close(&b);
    h_cluster_pass(c);
}

static void test_an_idle_stream_gets_a_keep_alive_comment(void **state)
{
    struct h_cluster *c = *state;
    struct sse s;
    sse_open(&s, c, 0, "/events/stream", "");
    /* one every 5 s */
    if (!sse_wait_for(&s, "\n: keep-alive\n\n", 5000 + h_timeout_ms()))
        fail_msg("no keep-alive comment: %s", s.text ? s.text : "");
    sse_close(&s);
    h_cluster_pass(c);
}

static void test_a_stream_over_the_cap_is_refused_503_naming_it(void **state)
{
    struct h_cluster *c = *state;
    wait_streams(c, 0);
    struct sse s[MAX_STREAMS + 1];
    for (int i = 0; i < MAX_STREAMS; i++) {
        sse_open(&s[i], c, 0, "/events/stream", "");
        assert_true(sse_wait_for(&s[i], "\r\n\r\n", h_timeout_ms()));
        assert_int_equal(sse_status(&s[i]), 200);
    }
    sse_open(&s[MAX_STREAMS], c, 0, "/events/stream", "");
    assert_true(sse_wait_for(&s[MAX_STREAMS], "}", h_timeout_ms()));
    assert_int_equal(sse_status(&s[MAX_STREAMS]), 503);
    assert_non_null(strstr(s[MAX_STREAMS].text, "at most 3"));
    wait_streams(c, MAX_STREAMS);
    sse_close(&s[0]); /* a place frees up */
    sse_close(&s[MAX_STREAMS]);
    wait_streams(c, MAX_STREAMS - 1);
    sse_open(&s[0], c, 0, "/events/stream", "");
    assert_true(sse_wait_for(&s[0], "\r\n\r\n", h_timeout_ms()));
    assert_int_equal(sse_status(&s[0]), 200);
    for (int i = 0; i < MAX_STREAMS; i++)
        sse_close(&s[i]);
    h_cluster_pass(c);
}

/* Raises events (refused faults) until the stream that reads has read
 * `bytes` more of them or shows an http.stream_dropped; true once it shows
 * one (waiting up to the timeout after the last event). */
static bool events_until_dropped(struct h_cluster *c, struct sse *good, size_t bytes)
{
    static const char dropped[] = "\"kind\":\"http.stream_dropped\"";
    size_t start = good->len;
    uint64_t end = h_now_ns() + (uint64_t)h_timeout_ms() * 4000000u;
    while (!sse_wait_for(good, dropped, 0) && good->len - start < bytes && h_now_ns() < end) {
        refused_fault(c);
        sse_pump(good, 0);
    }
    return sse_wait_for(good, dropped, h_timeout_ms());
}

/* A consumer that stops reading takes its receive window (a few KiB here);
 * past that, once MAX_QUEUED bytes wait for it in the node (in its queue or
 * in the kernel's send buffer, which would hold a megabyte or more), it is
 * dropped: well before this many bytes of events. A bound in bytes, not in
 * time: a loaded machine raises the events slower, not fewer. */
#define DROPPED_WITHIN (64 * 1024)

static void test_a_consumer_that_stops_reading_is_dropped_and_the_rest_go_on(void **state)
{
    struct h_cluster *c = *state;
    wait_streams(c, 0);
    struct sse good, slow;
    sse_open(&good, c, 0, "/events/stream", "");
    sse_open_raw(&slow, c, 0, 2048,
                 "GET /events/stream HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"); /* and never reads */
    wait_streams(c, 2);
    double dropped = -1;
    if (!events_until_dropped(c, &good, DROPPED_WITHIN)) /* events the slow one does not take */
        fail_msg("no http.stream_dropped on the stream that reads after %zu bytes of events (log: "
                 "%s)",
                 good.len, c->nodes[0].log);
    assert_non_null(strstr(good.text, "dropped the stream to 127.0.0.1:"));
    assert_non_null(strstr(good.text, "fell behind"));
    wait_streams(c, 1);
    assert_true(h_metric(c, 0, "chimera_http_streams_dropped_total", &dropped));
    assert_true(dropped >= 1);
    /* the API and the stream that reads go on */
    assert_true(h_http_up(c, 0));
    refused_fault(c);
    unsigned long long last = h_last_event_seq(c, 0);
    wait_id(&good, last);
    sse_close(&slow);
    sse_close(&good);
    h_cluster_pass(c);
}

static void test_every_answer_carries_the_content_security_policy(void **state)
{
    struct h_cluster *c = *state;
    static const char *const heads[] = {
        "GET /health/live HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        "GET /no/such HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        "POST /ledger/notes HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof(heads) / sizeof(heads[0]); i++) {
        int st;
        char *text = raw_answer(c, 0, heads[i], &st);
        assert_true(st > 0);
        assert_non_null(strstr(text, "\r\nContent-Security-Policy: default-src 'self'; "
                                     "script-src 'self';"));
        assert_non_null(strstr(text, "frame-ancestors 'none'"));
        assert_non_null(strstr(text, "\r\nX-Content-Type-Options: nosniff\r\n"));
        free(text);
    }
    struct sse s;
    sse_open(&s, c, 0, "/events/stream", "");
    assert_true(sse_wait_for(&s, "\r\n\r\n", h_timeout_ms()));
    char csp[512];
    assert_true(sse_header(&s, "Content-Security-Policy", csp, sizeof(csp)));
    sse_close(&s);
    h_cluster_pass(c);
}

static void test_a_resume_point_that_is_not_a_number_is_refused_400_naming_it(void **state)
{
    struct h_cluster *c = *state;
    int st;
    char *text = raw_answer(c, 0,
                            "GET /events/stream?since=yesterday HTTP/1.1\r\nHost: x\r\n"
                            "Connection: close\r\n\r\n",
                            &st);
    assert_int_equal(st, 400);
    assert_non_null(strstr(text, "since: must be a sequence number"));
    free(text);
    text = raw_answer(c, 0,
                      "GET /events/stream HTTP/1.1\r\nHost: x\r\nLast-Event-ID: -3\r\n"
                      "Connection: close\r\n\r\n",
                      &st);
    assert_int_equal(st, 400);
    assert_non_null(strstr(text, "Last-Event-ID: \\\"-3\\\" is not an event sequence number"));
    free(text);
    h_cluster_pass(c);
}

static void test_the_front_page_redirects_to_the_console(void **state)
{
    struct h_cluster *c = *state;
    int st;
    char *text = raw_answer(c, 0, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", &st);
    assert_int_equal(st, 302);
    assert_non_null(strstr(text, "\r\nLocation: /ui/\r\n"));
    free(text);
    h_cluster_pass(c);
}

/* Spawns `chimeractl --addr NODE events --follow [--json]`, its output in
 * files of the cluster's directory named after tag. */
static pid_t follow(struct h_cluster *c, const char *tag, bool json, char *out, char *err,
                    size_t len)
{
    snprintf(out, len, "%s/%s.out", c->dir, tag);
    snprintf(err, len, "%s/%s.err", c->dir, tag);
    char ctl[H_PATH_MAX + 16], addr[64];
    snprintf(ctl, sizeof(ctl), "%s/chimeractl", h_bin_dir());
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", c->nodes[0].http_port);
    pid_t pid = fork();
    if (pid == 0) {
        int fo = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int fe = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2(fo, 1);
        dup2(fe, 2);
        const char *argv[] = {ctl,        "--addr",  addr, "events",
                              "--follow", "--limit", "5",  json ? "--json" : NULL,
                              NULL};
        execv(ctl, (char *const *)argv);
        _exit(127);
    }
    assert_true(pid > 0);
    return pid;
}

static int ctl_interrupt(pid_t pid)
{
    kill(pid, SIGINT);
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void test_chimeractl_events_follow_shows_a_note_posted_after_it_started(void **state)
{
    struct h_cluster *c = *state;
    wait_streams(c, 0);
    char out[H_PATH_MAX + 16], err[H_PATH_MAX + 16], jout[H_PATH_MAX + 16], jerr[H_PATH_MAX + 16];
    pid_t text = follow(c, "follow", false, out, err, sizeof(out));
    pid_t json = follow(c, "follow-json", true, jout, jerr, sizeof(jout));
    wait_streams(c, 2); /* both follow the stream now */
    bool seen = false;
    uint64_t end = h_now_ns() + (uint64_t)h_timeout_ms() * 2000000u;
    while (!seen && h_now_ns() < end) {
        post_note(c); /* one event a second at most: again until it shows */
        for (int k = 0; k < 75 && !seen; k++) {
            seen = h_file_contains(out, "ledger.notes_appended") &&
                   h_file_contains(jout, "\"kind\":\"ledger.notes_appended\"");
            usleep(20000);
        }
    }
    int rc_text = ctl_interrupt(text), rc_json = ctl_interrupt(json);
    if (!seen)
        fail_msg("the note's event did not show (see %s, %s)", out, jout);
    assert_int_equal(rc_text, 0);
    assert_int_equal(rc_json, 0);
    char *lines = h_read_file(jout);
    assert_non_null(lines);
    for (char *l = strtok(lines, "\n"); l; l = strtok(NULL, "\n")) {
        json_t *e = json_loads(l, 0, NULL);
        if (!json_is_object(e) || !json_is_integer(json_object_get(e, "seq")))
            fail_msg("--json printed a line that is not an event: %s", l);
        json_decref(e);
    }
    free(lines);
    h_cluster_pass(c);
}

/* A node whose idle timeout is short (the default is a minute), so that a
 * stalled stream is dropped soon (long before its unsent output reaches the
 * default bound, 1 MiB); streams are exempt from it otherwise. */
#define IDLE_MS "1500"

static int setup_short_idle(void **state)
{
    return start_node(state, "CHIMERAD_TEST_HTTP_IDLE_TIMEOUT_MS", IDLE_MS, NULL);
}

static void test_a_stream_that_reads_outlives_the_idle_timeout(void **state)
{
    struct h_cluster *c = *state;
    struct sse s;
    sse_open(&s, c, 0, "/events/stream", "");
    /* two keep-alives 5 s apart: well past the 1.5 s timeout */
    assert_true(sse_wait_for(&s, "\n: keep-alive\n\n", 5000 + h_timeout_ms()));
    size_t first = s.len;
    uint64_t end = h_now_ns() + (uint64_t)(5000 + h_timeout_ms()) * 1000000u;
    while (!s.closed && !strstr(s.text + first, ": keep-alive") && h_now_ns() < end)
        sse_pump(&s, 20);
    if (s.closed)
        fail_msg("the node closed a stream that reads: %s", s.text);
    assert_non_null(strstr(s.text + first, ": keep-alive"));
    sse_close(&s);
    h_cluster_pass(c);
}

static void test_a_stalled_consumer_is_dropped_after_the_idle_timeout(void **state)
{
    struct h_cluster *c = *state;
    struct sse good, slow; /* slow: below the bytes' bound, but taking nothing */
    sse_open(&good, c, 0, "/events/stream", "");
    sse_open_raw(&slow, c, 0, 2048, "GET /events/stream HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    wait_streams(c, 2);
    /* a few times its receive buffer: output waits, in the node's kernel
     * (whose send buffer takes it all) if not in the node */
    if (!events_until_dropped(c, &good, 16 * 1024))
        fail_msg("no http.stream_dropped for a stalled consumer (log: %s)", c->nodes[0].log);
    if (!strstr(good.text, "took none of the output for 1s500ms"))
        fail_msg("dropped for another reason: %.400s",
                 strstr(good.text, "\"kind\":\"http.stream_dropped\""));
    sse_close(&good);
    wait_streams(c, 0);
    assert_true(h_http_up(c, 0));
    sse_close(&slow);
    h_cluster_pass(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_events_arrive_with_their_seq_as_id),
        cmocka_unit_test(test_a_stream_resumed_from_last_event_id_loses_none_and_repeats_none),
        cmocka_unit_test(test_an_idle_stream_gets_a_keep_alive_comment),
        cmocka_unit_test(test_a_stream_over_the_cap_is_refused_503_naming_it),
        cmocka_unit_test(test_a_consumer_that_stops_reading_is_dropped_and_the_rest_go_on),
        cmocka_unit_test(test_every_answer_carries_the_content_security_policy),
        cmocka_unit_test(test_a_resume_point_that_is_not_a_number_is_refused_400_naming_it),
        cmocka_unit_test(test_the_front_page_redirects_to_the_console),
        cmocka_unit_test(test_chimeractl_events_follow_shows_a_note_posted_after_it_started),
    };
    const struct CMUnitTest short_idle[] = {
        cmocka_unit_test(test_a_stream_that_reads_outlives_the_idle_timeout),
        cmocka_unit_test(test_a_stalled_consumer_is_dropped_after_the_idle_timeout),
    };
    return cmocka_run_group_tests(tests, setup, teardown) |
           cmocka_run_group_tests(short_idle, setup_short_idle, teardown);
}
