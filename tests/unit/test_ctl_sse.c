/* chimeractl's reader of Server-Sent Events (ctl/sse.c): events come out
 * whole whatever the bytes' split, with their id; comments and other
 * fields are passed over. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "ctl/ctl.h"

struct seen {
    int n;
    char id[8][64];
    char data[8][256];
};

static void on_event(void *arg, const char *id, const char *data)
{
    struct seen *s = arg;
    if (s->n < 8) {
        snprintf(s->id[s->n], sizeof(s->id[0]), "%s", id);
        snprintf(s->data[s->n], sizeof(s->data[0]), "%s", data);
    }
    s->n++;
}

/* Feeds text in pieces of step bytes. */
static struct seen feed(const char *text, size_t step)
{
    struct seen s = {0};
    struct ctl_sse p = {0};
    size_t n = strlen(text);
    for (size_t at = 0; at < n; at += step)
        assert_int_equal(ctl_sse_feed(&p, text + at, n - at < step ? n - at : step, on_event, &s),
                         0);
    ctl_sse_free(&p);
    return s;
}

static const char STREAM[] = ": ok\n\nid: 7\ndata: {\"seq\":7}\n\n: keep-alive\n\n"
                             "id: 8\ndata: {\"seq\":8}\n\n";

static void test_events_come_whole_with_their_id(void **state)
{
    (void)state;
    struct seen s = feed(STREAM, sizeof(STREAM));
    assert_int_equal(s.n, 2);
    assert_string_equal(s.id[0], "7");
    assert_string_equal(s.data[0], "{\"seq\":7}");
    assert_string_equal(s.id[1], "8");
    assert_string_equal(s.data[1], "{\"seq\":8}");
}

static void test_any_split_of_the_bytes_gives_the_same_events(void **state)
{
    (void)state;
    for (size_t step = 1; step < 12; step++) {
        struct seen s = feed(STREAM, step);
        assert_int_equal(s.n, 2);
        assert_string_equal(s.data[1], "{\"seq\":8}");
    }
}

static void test_crlf_and_cr_end_lines_too(void **state)
{
    (void)state;
    struct seen s = feed("id: 1\r\ndata: a\r\n\r\nid: 2\rdata: b\r\r", 1);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.data[0], "a");
    assert_string_equal(s.id[1], "2");
    assert_string_equal(s.data[1], "b");
}

static void test_data_lines_join_and_a_comment_alone_is_no_event(void **state)
{
    (void)state;
    struct seen s = feed(": keep-alive\n\nevent: x\ndata: one\ndata:two\n\n", 3);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.data[0], "one\ntwo");
    assert_string_equal(s.id[0], "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_events_come_whole_with_their_id),
        cmocka_unit_test(test_any_split_of_the_bytes_gives_the_same_events),
        cmocka_unit_test(test_crlf_and_cr_end_lines_too),
        cmocka_unit_test(test_data_lines_join_and_a_comment_alone_is_no_event),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
