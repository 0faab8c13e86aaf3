/* Integration: the attacks of issue 10 item 3 on a real chimerad's two
 * listeners, bounded in time on 127.0.0.1. The node's inbox caps inbound
 * connections and closes those that go quiet, saying so in events; its HTTP
 * API refuses what it will not read before reading it. Every wait is on a
 * condition with a deadline, never on time. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "harness.h"
#include "node/net/http.h"
#include "node/net/transport.h"

/* A lone node holds no peer connection: its inbox takes this many. */
#define INBOX_CAP (TRANSPORT_MAX_PIPES_PER_PEER + TRANSPORT_SPARE_PIPES)
#define INBOX_CONNS (INBOX_CAP + 6)

static int setup(void **state)
{
    struct h_cluster *c = h_cluster_create(1);
    *state = c;
    if (!c)
        return -1;
    if (h_node_start(c, 0) != 0 || !h_wait_http_up(c, 0, h_timeout_ms()))
        return -1;
    return 0;
}

static int teardown(void **state)
{
    h_cluster_destroy(*state);
    return 0;
}

static int tcp_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0)
        fail_msg("connect to port %d: %s", port, strerror(errno));
    return fd;
}

static void send_all(int fd, const void *buf, size_t len)
{
    assert_int_equal(send(fd, buf, len, MSG_NOSIGNAL), (ssize_t)len);
}

/* An inbox connection as a push0 peer makes it, announcing a frame just
 * under the limit and sending none of it: what NNG would hold a buffer for. */
static int inbox_hog(const struct h_cluster *c)
{
    int fd = tcp_connect(c->nodes[0].listen_port);
    static const uint8_t sp_push0[8] = {0, 'S', 'P', 0, 0x00, 0x50, 0, 0};
    uint64_t announce = TRANSPORT_MAX_MSG - 16;
    uint8_t len[8];
    for (int i = 0; i < 8; i++)
        len[i] = (uint8_t)(announce >> (56 - 8 * i));
    send_all(fd, sp_push0, sizeof(sp_push0));
    send_all(fd, len, sizeof(len));
    return fd;
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

struct conns {
    int *fd;
    int n, want_closed;
};

static bool enough_closed(void *arg)
{
    struct conns *cs = arg;
    int closed = 0;
    for (int i = 0; i < cs->n; i++)
        closed += closed_by_peer(cs->fd[i]);
    return closed >= cs->want_closed;
}

static void close_all(int *fd, int n)
{
    for (int i = 0; i < n; i++)
        close(fd[i]);
}

static void assert_live(struct h_cluster *c)
{
    long status = 0;
    free(h_http_get_text(c, 0, "/health/live", &status));
    assert_int_equal(status, 200);
}

static void test_inbox_keeps_at_most_its_cap_of_connections_and_says_so(void **state)
{
    struct h_cluster *c = *state;
    unsigned long long after = h_last_event_seq(c, 0);
    int fd[INBOX_CONNS];
    for (int i = 0; i < INBOX_CONNS; i++)
        fd[i] = inbox_hog(c);
    if (!h_wait_event(c, 0, "transport.connection_limit", NULL, after, h_timeout_ms()))
        fail_msg("no transport.connection_limit event (log: %s)", c->nodes[0].log);
    struct conns cs = {fd, INBOX_CONNS, INBOX_CONNS - INBOX_CAP};
    if (!h_wait_until(enough_closed, &cs, h_timeout_ms()))
        fail_msg("the inbox kept more than %d connections open", INBOX_CAP);
    assert_live(c);
    close_all(fd, INBOX_CONNS);
    h_cluster_pass(c);
}

static void test_inbox_closes_a_connection_that_sends_nothing_authentic(void **state)
{
    struct h_cluster *c = *state;
    unsigned long long after = h_last_event_seq(c, 0);
    int fd[2] = {inbox_hog(c), inbox_hog(c)};
    if (!h_wait_event(c, 0, "transport.connection_idle", NULL, after,
                      TRANSPORT_IDLE_MS + h_timeout_ms()))
        fail_msg("no transport.connection_idle event (log: %s)", c->nodes[0].log);
    struct conns cs = {fd, 2, 2};
    if (!h_wait_until(enough_closed, &cs, h_timeout_ms()))
        fail_msg("the inbox kept a connection that sent half a frame");
    assert_live(c);
    close_all(fd, 2);
    h_cluster_pass(c);
}

static int setup3(void **state)
{
    struct h_cluster *c = h_cluster_create(3);
    *state = c;
    return c && h_start_agreed(c, "test_conn_limits", NULL) >= 0 ? 0 : -1;
}

/* Strangers hold every spare place in n1's inbox, and take the one n2 held
 * while it restarts: n2 still gets back in (it takes a stranger's place) and
 * n1 hears it well before the strangers would go idle. */
static void test_peer_reconnecting_while_strangers_fill_the_inbox_gets_in(void **state)
{
    struct h_cluster *c = *state;
    unsigned long long after = h_last_event_seq(c, 0);
    int fd[INBOX_CONNS + 4], n = 0;
    for (; n < INBOX_CONNS; n++)
        fd[n] = inbox_hog(c);
    if (!h_wait_event(c, 0, "transport.connection_limit", NULL, after, h_timeout_ms()))
        fail_msg("no transport.connection_limit event (log: %s)", c->nodes[0].log);
    h_node_stop(c, 1);
    for (; n < INBOX_CONNS + 4; n++)
        fd[n] = inbox_hog(c);
    after = h_last_event_seq(c, 0);
    assert_int_equal(h_node_start(c, 1), 0);
    if (!h_wait_event(c, 0, "peer.restarted", "n2", after, h_timeout_ms()))
        fail_msg("n1 did not hear n2 after its restart (log: %s)", c->nodes[0].log);
    close_all(fd, n);
    h_cluster_pass(c);
}

/* Sends a request's head (and no more) on a fresh connection and reads the
 * answer until the node closes the connection or the deadline passes. The
 * status (0: none within the deadline) and the answer's text (free it). */
static char *raw_http(const struct h_cluster *c, const char *head, int *status)
{
    int fd = tcp_connect(c->nodes[0].http_port);
    struct timeval tv = {h_timeout_ms() / 1000, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    send_all(fd, head, strlen(head));
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    assert_non_null(buf);
    ssize_t r;
    while (n < cap - 1 && (r = recv(fd, buf + n, cap - 1 - n, 0)) > 0)
        n += (size_t)r;
    buf[n] = '\0';
    close(fd);
    *status = 0;
    sscanf(buf, "HTTP/1.1 %d", status);
    return buf;
}

static void expect_refusal(struct h_cluster *c, const char *head, int want, const char *says)
{
    int status;
    char *answer = raw_http(c, head, &status);
    if (status != want || !strstr(answer, says))
        fail_msg("wanted %d saying \"%s\", got:\n%s", want, says, answer);
    free(answer);
    assert_live(c);
    h_cluster_pass(c);
}

static void test_http_body_over_the_limit_gets_413_before_it_is_sent(void **state)
{
    expect_refusal(*state,
                   "POST /ledger/notes HTTP/1.1\r\nHost: n1\r\nContent-Type: application/json\r\n"
                   "Content-Length: 2097152\r\n\r\n",
                   413, "at most 1048576");
}

static void test_http_unauthenticated_large_body_gets_413_before_it_is_sent(void **state)
{
    expect_refusal(*state,
                   "POST /ledger/notes HTTP/1.1\r\nHost: n1\r\nContent-Type: application/json\r\n"
                   "Authorization: Bearer not-the-token\r\nContent-Length: 524288\r\n\r\n",
                   413, "without the admin token");
}

static void test_http_chunked_body_gets_411(void **state)
{
    struct h_cluster *c = *state;
    char head[512];
    snprintf(head, sizeof(head),
             "POST /ledger/notes HTTP/1.1\r\nHost: n1\r\nContent-Type: application/json\r\n"
             "Authorization: Bearer %s\r\nTransfer-Encoding: chunked\r\n\r\n"
             "e\r\n{\"note\":\"hi\"}\r\n0\r\n\r\n",
             c->token);
    expect_refusal(c, head, 411, "Content-Length");
}

static void test_http_long_url_gets_414(void **state)
{
    char head[HTTP_MAX_URI + 200];
    int n = snprintf(head, sizeof(head), "GET /health/live?pad=");
    memset(head + n, 'a', HTTP_MAX_URI);
    snprintf(head + n + HTTP_MAX_URI, sizeof(head) - (size_t)n - HTTP_MAX_URI,
             " HTTP/1.1\r\nHost: n1\r\n\r\n");
    expect_refusal(*state, head, 414, "at most 4096");
}

/* The node's body timeout lowered (http.h's CHIMERAD_TEST_HTTP_BODY_TIMEOUT_MS)
 * so that the test need not wait out the real one. */
#define SHORT_BODY_MS 1000

static int setup_short_body(void **state)
{
    setenv("CHIMERAD_TEST_HTTP_BODY_TIMEOUT_MS", "1000", 1); /* SHORT_BODY_MS */
    int rv = setup(state);
    unsetenv("CHIMERAD_TEST_HTTP_BODY_TIMEOUT_MS");
    return rv;
}

static void test_http_body_not_sent_in_time_closes_the_connection(void **state)
{
    struct h_cluster *c = *state;
    char head[512];
    snprintf(head, sizeof(head),
             "POST /ledger/notes HTTP/1.1\r\nHost: n1\r\nContent-Type: application/json\r\n"
             "Authorization: Bearer %s\r\nContent-Length: 100\r\n\r\n{",
             c->token);
    int fd = tcp_connect(c->nodes[0].http_port);
    send_all(fd, head, strlen(head));
    struct conns cs = {&fd, 1, 1};
    if (!h_wait_until(enough_closed, &cs, SHORT_BODY_MS + h_timeout_ms()))
        fail_msg("the node kept waiting for a body that never came");
    close(fd);
    assert_live(c);
    h_cluster_pass(c);
}

/* The admin token lets a large body through to the API. */
static void test_http_authenticated_large_body_is_read(void **state)
{
    struct h_cluster *c = *state;
    size_t len = 512 * 1024;
    char *body = malloc(len + 1);
    assert_non_null(body);
    memset(body, ' ', len);
    memcpy(body, "{\"note\":\"x\"}", 12);
    body[len] = '\0';
    long status = 0;
    char *answer = h_http_request(c, 0, "POST", "/ledger/notes", body, c->token, 0, &status);
    free(body);
    if (status == 0 || status == 413)
        fail_msg("an authenticated 512 KiB body got %ld: %s", status, answer ? answer : "");
    free(answer);
    h_cluster_pass(c);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_inbox_keeps_at_most_its_cap_of_connections_and_says_so),
        T(test_inbox_closes_a_connection_that_sends_nothing_authentic),
        cmocka_unit_test_setup_teardown(
            test_peer_reconnecting_while_strangers_fill_the_inbox_gets_in, setup3, teardown),
        T(test_http_body_over_the_limit_gets_413_before_it_is_sent),
        T(test_http_unauthenticated_large_body_gets_413_before_it_is_sent),
        T(test_http_chunked_body_gets_411),
        T(test_http_long_url_gets_414),
        T(test_http_authenticated_large_body_is_read),
        cmocka_unit_test_setup_teardown(test_http_body_not_sent_in_time_closes_the_connection,
                                        setup_short_body, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
