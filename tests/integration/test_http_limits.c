/* Integration: the HTTP listener's limits (issue 10 item 3) on a real
 * chimerad, bounded in time on 127.0.0.1: slow and idle connections are
 * closed, the connection cap answers 503 and says so, running out of
 * descriptors is survived and said, over-long requests are answered rather
 * than dropped, 100-continue and pipelining behave (requests pipelined
 * behind one that waits for its commit, or past a read buffer's worth, or
 * followed by a half-close, are all answered in order). The node's timeouts and
 * cap are lowered through its hidden CHIMERAD_TEST_HTTP_* variables (http.h)
 * so that the tests need not wait out the real ones. Every wait is on a
 * condition with a deadline, never on time. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "harness.h"
#include "node/net/http.h"

#define SHORT_MS 1000 /* the header or idle timeout a test lowers the node's to */
#define CAP 4         /* the connection cap of the cap test */
#define FD_LIMIT 64
#define FD_HOGS 80
/* Pipelined requests: three reads' worth of them (the node reads at most
 * HTTP_READ_BYTES at a time), about 40 bytes each. */
#define MANY ((int)(3 * HTTP_READ_BYTES / 40))

/* Starts one node with these test overrides (0: the default). */
static int start_node(void **state, int header_ms, int idle_ms, int max_conns)
{
    const struct {
        const char *name;
        int value;
    } vars[] = {{"CHIMERAD_TEST_HTTP_HEADER_TIMEOUT_MS", header_ms},
                {"CHIMERAD_TEST_HTTP_IDLE_TIMEOUT_MS", idle_ms},
                {"CHIMERAD_TEST_HTTP_MAX_CONNS", max_conns}};
    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
        char v[16];
        snprintf(v, sizeof(v), "%d", vars[i].value);
        if (vars[i].value)
            setenv(vars[i].name, v, 1);
        else
            unsetenv(vars[i].name);
    }
    struct h_cluster *c = h_cluster_create(1);
    *state = c;
    if (!c || h_node_start(c, 0) != 0 || !h_wait_http_up(c, 0, h_timeout_ms()))
        return -1;
    return 0;
}

static int setup_defaults(void **state)
{
    return start_node(state, 0, 0, 0);
}

static int setup_short_header(void **state)
{
    return start_node(state, SHORT_MS, 0, 0);
}

static int setup_short_idle(void **state)
{
    return start_node(state, 0, SHORT_MS, 0);
}

static int setup_cap(void **state)
{
    return start_node(state, 0, 0, CAP);
}

static int teardown(void **state)
{
    h_cluster_destroy(*state);
    return 0;
}

static int tcp_connect(const struct h_cluster *c)
{
    /* close-on-exec: a test that fails with sockets open leaks none of them
     * into the next test's node */
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)c->nodes[0].http_port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0)
        fail_msg("connect: %s", strerror(errno));
    struct timeval tv = {h_timeout_ms() / 1000, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return fd;
}

static void send_text(int fd, const char *text)
{
    size_t len = strlen(text);
    assert_int_equal(send(fd, text, len, MSG_NOSIGNAL), (ssize_t)len);
}

/* Reads whatever the node sent; true once it closed its end. */
static bool closed_by_peer(int fd)
{
    char buf[256];
    ssize_t r;
    while ((r = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
    }
    return r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK);
}

static bool is_closed(void *arg)
{
    return closed_by_peer(*(int *)arg);
}

/* A slowloris: one more byte of its header each time it is asked. */
static bool trickled_and_closed(void *arg)
{
    int fd = *(int *)arg;
    send(fd, "a", 1, MSG_NOSIGNAL | MSG_DONTWAIT);
    return closed_by_peer(fd);
}

/* Answers read from one connection, one at a time. */
struct reader {
    int fd;
    size_t len;
    char buf[64 * 1024];
};

/* The next answer's status and body (cut to cap); 0 when none came before
 * the node closed the connection or the deadline passed. */
static int next_answer(struct reader *r, char *body, size_t cap)
{
    for (;;) {
        char *end = strstr(r->buf, "\r\n\r\n");
        if (end) {
            size_t head = (size_t)(end + 4 - r->buf);
            const char *cl = strcasestr(r->buf, "\r\nContent-Length:");
            size_t blen = cl && cl < end ? strtoul(cl + 17, NULL, 10) : 0;
            if (r->len >= head + blen) {
                int status = 0;
                sscanf(r->buf, "HTTP/1.%*d %d", &status);
                size_t n = blen < cap - 1 ? blen : cap - 1;
                memcpy(body, r->buf + head, n);
                body[n] = '\0';
                memmove(r->buf, r->buf + head + blen, r->len - head - blen);
                r->len -= head + blen;
                r->buf[r->len] = '\0';
                return status;
            }
        }
        if (r->len + 1 >= sizeof(r->buf))
            return 0;
        ssize_t n = recv(r->fd, r->buf + r->len, sizeof(r->buf) - 1 - r->len, 0);
        if (n <= 0)
            return 0;
        r->len += (size_t)n;
        r->buf[r->len] = '\0';
    }
}

static struct reader *reader_new(int fd)
{
    struct reader *r = calloc(1, sizeof(*r));
    assert_non_null(r);
    r->fd = fd;
    return r;
}

static void assert_live(struct h_cluster *c)
{
    long status = 0;
    free(h_http_get_text(c, 0, "/health/live", &status));
    assert_int_equal(status, 200);
}

/* Sends head on a fresh connection; the first answer's status and body. */
static int ask(struct h_cluster *c, const char *head, char *body, size_t cap)
{
    int fd = tcp_connect(c);
    send_text(fd, head);
    struct reader *r = reader_new(fd);
    int status = next_answer(r, body, cap);
    free(r);
    close(fd);
    return status;
}

static const char live[] = "GET /health/live HTTP/1.1\r\nHost: n1\r\n\r\n";

static void test_slowloris_header_is_closed_after_the_header_timeout(void **state)
{
    struct h_cluster *c = *state;
    int fd = tcp_connect(c);
    send_text(fd, "GET /health/live HTTP/1.1\r\nHost: n1\r\nX-Slow: ");
    if (!h_wait_until(trickled_and_closed, &fd, SHORT_MS + h_timeout_ms()))
        fail_msg("a header trickled byte by byte kept its connection open");
    close(fd);
    assert_live(c);
    h_cluster_pass(c);
}

static void test_connection_that_sends_nothing_is_closed_after_the_header_timeout(void **state)
{
    struct h_cluster *c = *state;
    int fd = tcp_connect(c);
    if (!h_wait_until(is_closed, &fd, SHORT_MS + h_timeout_ms()))
        fail_msg("a connection that sent nothing was kept open");
    close(fd);
    double timed_out = 0;
    assert_true(h_metric(c, 0, "chimera_http_connections_timed_out_total", &timed_out));
    assert_true(timed_out >= 1);
    h_cluster_pass(c);
}

static void test_idle_keep_alive_connection_is_closed_after_the_idle_timeout(void **state)
{
    struct h_cluster *c = *state;
    int fd = tcp_connect(c);
    send_text(fd, live);
    struct reader *r = reader_new(fd);
    char body[512];
    assert_int_equal(next_answer(r, body, sizeof(body)), 200);
    free(r);
    if (!h_wait_until(is_closed, &fd, SHORT_MS + h_timeout_ms()))
        fail_msg("an idle keep-alive connection was kept open");
    close(fd);
    h_cluster_pass(c);
}

/* A fresh connection the node serves (retried while the harness's own last
 * connection may still hold a place under the cap). */
struct served {
    struct h_cluster *c;
    int fd;
};

static bool got_served(void *arg)
{
    struct served *s = arg;
    s->fd = tcp_connect(s->c);
    send_text(s->fd, live);
    struct reader *r = reader_new(s->fd);
    char body[512];
    int status = next_answer(r, body, sizeof(body));
    free(r);
    if (status != 200)
        close(s->fd);
    return status == 200;
}

/* CAP connections the node serves, held open in fd[]. */
static void fill_the_cap(struct h_cluster *c, int fd[CAP])
{
    for (int i = 0; i < CAP; i++) {
        struct served s = {c, -1};
        if (!h_wait_until(got_served, &s, h_timeout_ms()))
            fail_msg("connection %d of %d was not served", i + 1, CAP);
        fd[i] = s.fd;
    }
}

static void
test_connection_over_the_cap_gets_503_and_an_event_while_open_ones_keep_working(void **state)
{
    struct h_cluster *c = *state;
    unsigned long long after = h_last_event_seq(c, 0);
    int fd[CAP];
    fill_the_cap(c, fd);
    char body[512];
    int status = ask(c, live, body, sizeof(body));
    if (status != 503 || !strstr(body, "too many HTTP connections"))
        fail_msg("one connection over the cap got %d: %s", status, body);
    struct reader *r = reader_new(fd[0]);
    send_text(fd[0], live);
    assert_int_equal(next_answer(r, body, sizeof(body)), 200);
    free(r);
    for (int i = 0; i < CAP; i++)
        close(fd[i]);
    if (!h_wait_event(c, 0, "http.connection_limit", NULL, after, h_timeout_ms()))
        fail_msg("no http.connection_limit event (log: %s)", c->nodes[0].log);
    double refused = 0;
    assert_true(h_metric(c, 0, "chimera_http_connections_refused_total", &refused));
    assert_true(refused >= 1);
    h_cluster_pass(c);
}

static int open_fds(pid_t pid);

/* A flood over the cap: every refused connection is held by its client
 * (never closed, never read past the answer). The 503s the node lingers on
 * are bounded (HTTP_MAX_REFUSING), so a flood cannot take the descriptors
 * that the cap leaves to peers, the ledger and service logs. */
static void test_a_flood_over_the_cap_holds_at_most_a_bounded_number_of_descriptors(void **state)
{
    struct h_cluster *c = *state;
    pid_t pid = c->nodes[0].pid;
    int fd[CAP];
    fill_the_cap(c, fd);
    int before = open_fds(pid);
    enum { FLOOD = 4 * HTTP_MAX_REFUSING };
    int flood[FLOOD];
    for (int i = 0; i < FLOOD; i++) {
        flood[i] = tcp_connect(c);
        send(flood[i], live, strlen(live), MSG_NOSIGNAL); /* may be reset: refused at once */
        struct reader *r = reader_new(flood[i]);
        char body[512];
        int status = next_answer(r, body, sizeof(body)); /* 503, or closed at once */
        free(r);
        if (status != 0 && status != 503)
            fail_msg("connection %d over the cap got %d: %s", i + 1, status, body);
    }
    int during = open_fds(pid);
    if (during > before + HTTP_MAX_REFUSING + CAP) /* slack: the node's own files */
        fail_msg("%d refused connections held %d descriptors (at most %d may linger)", FLOOD,
                 during - before, HTTP_MAX_REFUSING);
    for (int i = 0; i < FLOOD; i++)
        close(flood[i]);
    for (int i = 0; i < CAP; i++)
        close(fd[i]);
    assert_true(h_wait_http_up(c, 0, h_timeout_ms()));
    h_cluster_pass(c);
}

/* before, pad bytes of padding, then after: a request too long somewhere. */
static char *padded(const char *before, size_t pad, const char *after)
{
    size_t lb = strlen(before), la = strlen(after);
    char *head = malloc(lb + pad + la + 1);
    assert_non_null(head);
    memcpy(head, before, lb);
    memset(head + lb, 'a', pad);
    memcpy(head + lb + pad, after, la + 1);
    return head;
}

static void expect_answer(struct h_cluster *c, const char *head, int want, const char *says)
{
    char body[1024];
    int status = ask(c, head, body, sizeof(body));
    if (status != want || !strstr(body, says))
        fail_msg("wanted %d saying \"%s\", got %d: %s", want, says, status, body);
    assert_live(c);
    h_cluster_pass(c);
}

static void test_content_length_past_2_to_the_64_gets_400(void **state)
{
    expect_answer(*state,
                  "POST /deploy HTTP/1.1\r\nHost: n1\r\n"
                  "Content-Length: 18446744073709551617\r\n\r\n",
                  400, "Content-Length is not one number of bytes");
}

static void test_content_length_of_2_to_the_63_gets_413_unread(void **state)
{
    expect_answer(*state,
                  "POST /deploy HTTP/1.1\r\nHost: n1\r\n"
                  "Content-Length: 9223372036854775808\r\n\r\n",
                  413, "9223372036854775808 bytes; at most 1048576");
}

/* A HEAD refused from its headers: the status and headers, and nothing
 * after them (an answer to HEAD has no body, RFC 9110 section 9.3.2). */
static void test_head_refused_before_its_body_gets_no_answer_body(void **state)
{
    struct h_cluster *c = *state;
    int fd = tcp_connect(c);
    send_text(fd, "HEAD /health/live HTTP/1.1\r\nHost: n1\r\nContent-Length: 99999999\r\n\r\n");
    char buf[2048];
    size_t len = 0;
    ssize_t n;
    while (len < sizeof(buf) - 1 && (n = recv(fd, buf + len, sizeof(buf) - 1 - len, 0)) > 0)
        len += (size_t)n;
    buf[len] = '\0';
    close(fd);
    const char *end = strstr(buf, "\r\n\r\n");
    if (strncmp(buf, "HTTP/1.1 413 ", 13) != 0 || !end || end[4] != '\0')
        fail_msg("a refused HEAD got: %s", buf);
    assert_non_null(strcasestr(buf, "\r\nContent-Length: "));
    assert_live(c);
    h_cluster_pass(c);
}

static void test_request_of_another_major_http_version_gets_505(void **state)
{
    expect_answer(*state, "GET /health/live HTTP/2.0\r\nHost: n1\r\n\r\n", 505,
                  "HTTP/2.0 is not supported");
}

static void test_long_header_line_gets_431(void **state)
{
    char *head = padded(
        "GET /health/live HTTP/1.1\r\nHost: n1\r\nX-Pad: ", 2 * HTTP_MAX_HEADER_BYTES, "\r\n\r\n");
    expect_answer(*state, head, 431, "at most 16384");
    free(head);
}

static void test_url_over_8_KiB_gets_414(void **state)
{
    char *head = padded("GET /health/live?pad=", 10 * 1024, " HTTP/1.1\r\nHost: n1\r\n\r\n");
    expect_answer(*state, head, 414, "at most 4096");
    free(head);
}

static void test_expect_100_continue_gets_100_when_the_body_will_be_read(void **state)
{
    struct h_cluster *c = *state;
    static const char note[] = "{\"note\":\"continued\"}";
    char head[512];
    snprintf(head, sizeof(head),
             "POST /ledger/notes HTTP/1.1\r\nHost: n1\r\nContent-Type: application/json\r\n"
             "Authorization: Bearer %s\r\nExpect: 100-continue\r\nContent-Length: %zu\r\n\r\n",
             c->token, sizeof(note) - 1);
    int fd = tcp_connect(c);
    send_text(fd, head);
    struct reader *r = reader_new(fd);
    char body[512];
    int status = next_answer(r, body, sizeof(body));
    if (status != 100)
        fail_msg("wanted 100 Continue before the body, got %d: %s", status, body);
    send_text(fd, note);
    status = next_answer(r, body, sizeof(body));
    if (status == 0 || status == 413 || status == 100)
        fail_msg("the body after 100 Continue got %d: %s", status, body);
    free(r);
    close(fd);
    h_cluster_pass(c);
}

static void test_expect_100_continue_gets_413_at_once_for_a_body_it_will_not_read(void **state)
{
    struct h_cluster *c = *state;
    int fd = tcp_connect(c);
    send_text(fd, "POST /ledger/notes HTTP/1.1\r\nHost: n1\r\nContent-Type: application/json\r\n"
                  "Expect: 100-continue\r\nContent-Length: 100000\r\n\r\n");
    struct reader *r = reader_new(fd);
    char body[512];
    int status = next_answer(r, body, sizeof(body));
    if (status != 413 || !strstr(body, "without the admin token"))
        fail_msg("wanted 413 at once, got %d: %s", status, body);
    free(r);
    close(fd);
    assert_live(c);
    h_cluster_pass(c);
}

static void test_pipelined_requests_are_answered_in_order(void **state)
{
    struct h_cluster *c = *state;
    int fd = tcp_connect(c);
    send_text(fd, "GET /health/live HTTP/1.1\r\nHost: n1\r\n\r\n"
                  "GET /no/such/endpoint HTTP/1.1\r\nHost: n1\r\n\r\n"
                  "GET /federation/state HTTP/1.1\r\nHost: n1\r\n\r\n");
    struct reader *r = reader_new(fd);
    char body[4096];
    int first = next_answer(r, body, sizeof(body));
    assert_true(first == 200 && strstr(body, "\"status\""));
    int second = next_answer(r, body, sizeof(body));
    assert_true(second == 404 && strstr(body, "no such endpoint"));
    int third = next_answer(r, body, sizeof(body));
    assert_true(third == 200 && strstr(body, "\"role\""));
    free(r);
    close(fd);
    h_cluster_pass(c);
}

/* The node leads itself (a note needs a leader to commit). */
static void start(struct h_cluster *c)
{
    if (!h_wait_agreed(c, 0, h_timeout_ms(), NULL, NULL))
        fail_msg("n1 did not come up as leader (log: %s)", c->nodes[0].log);
}

/* Whether the node closed the connection (nothing more came before it). */
static bool ends(struct reader *r)
{
    char b[16];
    return r->len == 0 && recv(r->fd, b, sizeof(b), 0) == 0;
}

/* Sends text on a fresh connection and half-closes it: the reader of the
 * answers. */
static struct reader *send_and_half_close(struct h_cluster *c, const char *text)
{
    int fd = tcp_connect(c);
    send_text(fd, text);
    assert_int_equal(shutdown(fd, SHUT_WR), 0);
    return reader_new(fd);
}

/* A POST /ledger/notes request for note, appended to out. */
static void note_request(const struct h_cluster *c, const char *note, char *out, size_t cap)
{
    char body[128];
    int bl = snprintf(body, sizeof(body), "{\"note\":\"%s\"}", note);
    size_t at = strlen(out);
    snprintf(out + at, cap - at,
             "POST /ledger/notes HTTP/1.1\r\nHost: n1\r\nContent-Type: application/json\r\n"
             "Authorization: Bearer %s\r\nContent-Length: %d\r\n\r\n%s",
             c->token, bl, body);
}

/* The first_index of a 201's body; fails the test on another answer. */
static long long committed_at(int status, const char *body)
{
    long long first = -1;
    const char *f = strstr(body, "\"first_index\":");
    if (status != 201 || !f || sscanf(f + 14, "%lld", &first) != 1)
        fail_msg("wanted 201 with first_index, got %d: %s", status, body);
    return first;
}

static void test_requests_pipelined_behind_a_note_are_answered_in_order(void **state)
{
    struct h_cluster *c = *state;
    start(c);
    char text[2048] = "";
    note_request(c, "first", text, sizeof(text));
    note_request(c, "second", text, sizeof(text));
    snprintf(text + strlen(text), sizeof(text) - strlen(text),
             "GET /no/such/endpoint/third HTTP/1.1\r\nHost: n1\r\n\r\n");
    int fd = tcp_connect(c);
    send_text(fd, text);
    struct reader *r = reader_new(fd);
    char body[1024];
    int status = next_answer(r, body, sizeof(body));
    long long first = committed_at(status, body);
    status = next_answer(r, body, sizeof(body));
    long long second = committed_at(status, body);
    assert_true(second == first + 1);
    status = next_answer(r, body, sizeof(body));
    if (status != 404 || !strstr(body, "/no/such/endpoint/third"))
        fail_msg("wanted the third request's 404, got %d: %s", status, body);
    free(r);
    close(fd);
    h_cluster_pass(c);
}

struct sender {
    int fd;
    char *text;
    size_t len;
};

/* The requests go out while the answers are read: a client that sent all
 * before reading could fill both directions' buffers. */
static void *send_in_background(void *arg)
{
    struct sender *s = arg;
    size_t at = 0;
    while (at < s->len) {
        ssize_t n = send(s->fd, s->text + at, s->len - at, MSG_NOSIGNAL);
        if (n <= 0)
            break;
        at += (size_t)n;
    }
    return NULL;
}

static void test_more_pipelined_requests_than_one_read_holds_are_answered_in_order(void **state)
{
    struct h_cluster *c = *state;
    start(c);
    size_t cap = MANY * 64;
    char *text = malloc(cap);
    assert_non_null(text);
    size_t len = 0;
    for (int i = 0; i < MANY; i++)
        len += (size_t)snprintf(text + len, cap - len,
                                "GET /no/such/%d HTTP/1.1\r\nHost: n1\r\n\r\n", i);
    if (len <= 2 * HTTP_READ_BYTES)
        fail_msg("%d pipelined requests are %zu bytes: not more than two reads of %u", MANY, len,
                 HTTP_READ_BYTES);
    int fd = tcp_connect(c);
    struct sender s = {fd, text, len};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, send_in_background, &s), 0);
    struct reader *r = reader_new(fd);
    char body[512], want[64];
    for (int i = 0; i < MANY; i++) {
        int status = next_answer(r, body, sizeof(body));
        snprintf(want, sizeof(want), "GET /no/such/%d:", i);
        if (status != 404 || !strstr(body, want))
            fail_msg("answer %d: wanted the 404 of /no/such/%d, got %d: %s", i, i, status, body);
    }
    pthread_join(th, NULL);
    free(r);
    free(text);
    close(fd);
    h_cluster_pass(c);
}

static void test_a_note_sent_before_a_half_close_is_answered_then_the_connection_ends(void **state)
{
    struct h_cluster *c = *state;
    start(c);
    char text[1024] = "";
    note_request(c, "then half-closed", text, sizeof(text));
    struct reader *r = send_and_half_close(c, text);
    char body[1024];
    int status = next_answer(r, body, sizeof(body));
    committed_at(status, body);
    assert_true(ends(r));
    close(r->fd);
    free(r);
    h_cluster_pass(c);
}

static void test_requests_pipelined_before_a_half_close_are_all_answered(void **state)
{
    struct h_cluster *c = *state;
    start(c);
    char text[2048] = "";
    note_request(c, "one", text, sizeof(text));
    snprintf(text + strlen(text), sizeof(text) - strlen(text),
             "GET /health/live HTTP/1.1\r\nHost: n1\r\n\r\n");
    note_request(c, "two", text, sizeof(text));
    struct reader *r = send_and_half_close(c, text);
    char body[1024];
    int status = next_answer(r, body, sizeof(body));
    long long one = committed_at(status, body);
    status = next_answer(r, body, sizeof(body));
    if (status != 200 || !strstr(body, "\"status\""))
        fail_msg("wanted /health/live's 200, got %d: %s", status, body);
    status = next_answer(r, body, sizeof(body));
    assert_true(committed_at(status, body) == one + 1);
    assert_true(ends(r));
    close(r->fd);
    free(r);
    h_cluster_pass(c);
}

static void test_one_connection_serves_note_after_note(void **state)
{
    struct h_cluster *c = *state;
    start(c);
    int fd = tcp_connect(c);
    struct reader *r = reader_new(fd);
    long long last = -1;
    for (int i = 0; i < 200; i++) {
        char text[1024] = "", note[32], body[1024];
        snprintf(note, sizeof(note), "note %d", i);
        note_request(c, note, text, sizeof(text));
        send_text(fd, text);
        int status = next_answer(r, body, sizeof(body));
        long long at = committed_at(status, body);
        if (last >= 0 && at != last + 1)
            fail_msg("note %d committed at %lld, after %lld", i, at, last);
        last = at;
    }
    free(r);
    close(fd);
    h_cluster_pass(c);
}

/* Descriptors node pid holds. */
static int open_fds(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
    DIR *d = opendir(path);
    if (!d)
        return -1;
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

static bool out_of_fds(void *arg)
{
    return open_fds(*(pid_t *)arg) >= FD_LIMIT;
}

static void test_out_of_descriptors_says_so_and_serves_again_once_they_free_up(void **state)
{
    struct h_cluster *c = *state;
    unsigned long long after = h_last_event_seq(c, 0);
    pid_t pid = c->nodes[0].pid;
    struct rlimit rl = {FD_LIMIT, FD_LIMIT};
    assert_int_equal(prlimit(pid, RLIMIT_NOFILE, &rl, NULL), 0);
    int fd[FD_HOGS];
    for (int i = 0; i < FD_HOGS; i++)
        fd[i] = tcp_connect(c);
    if (!h_wait_until(out_of_fds, &pid, h_timeout_ms()))
        fail_msg("the node never ran out of descriptors (%d open)", open_fds(pid));
    for (int i = 0; i < FD_HOGS; i++)
        close(fd[i]);
    if (!h_wait_event(c, 0, "http.accept_failed", NULL, after, h_timeout_ms()))
        fail_msg("no http.accept_failed event (log: %s)", c->nodes[0].log);
    assert_true(h_wait_http_up(c, 0, h_timeout_ms()));
    double errors = 0;
    assert_true(h_metric(c, 0, "chimera_http_accept_errors_total", &errors));
    assert_true(errors >= 1);
    h_cluster_pass(c);
}

int main(void)
{
#define T(name, setup) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_slowloris_header_is_closed_after_the_header_timeout, setup_short_header),
        T(test_connection_that_sends_nothing_is_closed_after_the_header_timeout,
          setup_short_header),
        T(test_idle_keep_alive_connection_is_closed_after_the_idle_timeout, setup_short_idle),
        T(test_connection_over_the_cap_gets_503_and_an_event_while_open_ones_keep_working,
          setup_cap),
        T(test_a_flood_over_the_cap_holds_at_most_a_bounded_number_of_descriptors, setup_cap),
        T(test_content_length_past_2_to_the_64_gets_400, setup_defaults),
        T(test_content_length_of_2_to_the_63_gets_413_unread, setup_defaults),
        T(test_head_refused_before_its_body_gets_no_answer_body, setup_defaults),
        T(test_request_of_another_major_http_version_gets_505, setup_defaults),
        T(test_long_header_line_gets_431, setup_defaults),
        T(test_url_over_8_KiB_gets_414, setup_defaults),
        T(test_expect_100_continue_gets_100_when_the_body_will_be_read, setup_defaults),
        T(test_expect_100_continue_gets_413_at_once_for_a_body_it_will_not_read, setup_defaults),
        T(test_pipelined_requests_are_answered_in_order, setup_defaults),
        T(test_requests_pipelined_behind_a_note_are_answered_in_order, setup_defaults),
        T(test_more_pipelined_requests_than_one_read_holds_are_answered_in_order, setup_defaults),
        T(test_a_note_sent_before_a_half_close_is_answered_then_the_connection_ends,
          setup_defaults),
        T(test_requests_pipelined_before_a_half_close_are_all_answered, setup_defaults),
        T(test_one_connection_serves_note_after_note, setup_defaults),
        T(test_out_of_descriptors_says_so_and_serves_again_once_they_free_up, setup_defaults),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
