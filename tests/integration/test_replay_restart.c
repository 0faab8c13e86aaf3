/* Integration: replay protection survives a receiver's restart. A recording
 * proxy in the test process sits between two real chimerad processes: n1's
 * inbox URL for n2 points at the proxy, which copies every byte to n2's
 * inbox and keeps what n1 sent (NNG's TCP stream: the 8-byte SP header,
 * then frames of an 8-byte big-endian length and one sealed envelope).
 * Then n1 is stopped, n2 restarted, and the recorded stream is sent to n2
 * again over a fresh connection, byte for byte. n2 must refuse every frame
 * (it was sealed before n2 started: reason "stale"), go on showing n1 dead,
 * and keep its term and leader. Every wait is on a condition, never on
 * time. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"

#define NODES 3
#define SENDER 0   /* n1 */
#define RECEIVER 1 /* n2 */
#define MIN_FRAMES 100
#define REC_MAX (8u << 20)
#define SP_HEADER 8
#define STALE "chimera_messages_dropped_total{reason=\"stale\"}"
#define REPLAY "chimera_messages_dropped_total{reason=\"replay\"}"

/* ---- the recording proxy ---------------------------------------------- */

struct proxy {
    int listen_fd;
    int target_port;
    atomic_bool stop, recording;
    pthread_t th;
    pthread_mutex_t mu;
    uint8_t *rec; /* what the first connection carried from n1 to n2 */
    size_t len;
};

static int connect_port(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int listen_port(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 8) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

static bool write_all(int fd, const uint8_t *p, size_t len)
{
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        p += w;
        len -= (size_t)w;
    }
    return true;
}

/* Copies bytes both ways between one client (n1's dialer) and n2's inbox
 * at a time; a client that goes is replaced by the next. Only the first
 * connection is recorded. */
static void *proxy_main(void *arg)
{
    struct proxy *p = arg;
    int client = -1, server = -1;
    bool first = true;
    uint8_t buf[65536];
    while (!atomic_load(&p->stop)) {
        struct pollfd fds[3] = {
            {p->listen_fd, POLLIN, 0}, {client, POLLIN, 0}, {server, POLLIN, 0}};
        if (poll(fds, 3, 20) <= 0)
            continue;
        if (fds[0].revents & POLLIN) {
            int fd = accept4(p->listen_fd, NULL, NULL, SOCK_CLOEXEC);
            if (fd >= 0 && client >= 0) {
                close(fd); /* one at a time */
            } else if (fd >= 0) {
                client = fd;
                server = connect_port(p->target_port);
                if (server < 0) {
                    close(client);
                    client = -1;
                }
                continue;
            }
        }
        bool done = false;
        if (fds[1].revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t r = read(client, buf, sizeof buf);
            done = r <= 0 || !write_all(server, buf, (size_t)r);
            if (r > 0 && first && atomic_load(&p->recording)) {
                pthread_mutex_lock(&p->mu);
                if (p->len + (size_t)r <= REC_MAX) {
                    memcpy(p->rec + p->len, buf, (size_t)r);
                    p->len += (size_t)r;
                }
                pthread_mutex_unlock(&p->mu);
            }
        }
        if (!done && (fds[2].revents & (POLLIN | POLLHUP | POLLERR))) {
            ssize_t r = read(server, buf, sizeof buf);
            done = r <= 0 || !write_all(client, buf, (size_t)r);
        }
        if (done) {
            close(client);
            close(server);
            client = server = -1;
            first = false;
        }
    }
    if (client >= 0)
        close(client);
    if (server >= 0)
        close(server);
    return NULL;
}

static struct proxy the_proxy;

static int proxy_start(struct proxy *p, int target_port)
{
    memset(p, 0, sizeof *p);
    int port = h_free_port();
    p->listen_fd = port > 0 ? listen_port(port) : -1;
    p->rec = malloc(REC_MAX);
    if (p->listen_fd < 0 || !p->rec)
        return -1;
    p->target_port = target_port;
    atomic_store(&p->recording, true);
    pthread_mutex_init(&p->mu, NULL);
    if (pthread_create(&p->th, NULL, proxy_main, p) != 0)
        return -1;
    return port;
}

static void proxy_stop(struct proxy *p)
{
    if (p->listen_fd <= 0)
        return;
    atomic_store(&p->stop, true);
    pthread_join(p->th, NULL);
    close(p->listen_fd);
    p->listen_fd = -1;
}

/* Whole frames in what was recorded (after the SP header); *used: the
 * bytes they and the header take. */
static size_t count_frames(const uint8_t *b, size_t len, size_t *used)
{
    size_t off = SP_HEADER, n = 0;
    *used = len < SP_HEADER ? 0 : SP_HEADER;
    while (len >= SP_HEADER && off + 8 <= len) {
        uint64_t flen = 0;
        for (int i = 0; i < 8; i++)
            flen = flen << 8 | b[off + (size_t)i];
        if (flen > len - off - 8)
            break;
        off += 8 + (size_t)flen;
        n++;
        *used = off;
    }
    return n;
}

static bool enough_recorded(void *arg)
{
    struct proxy *p = arg;
    size_t used;
    pthread_mutex_lock(&p->mu);
    size_t n = count_frames(p->rec, p->len, &used);
    pthread_mutex_unlock(&p->mu);
    return n >= MIN_FRAMES;
}

/* ---- the test ----------------------------------------------------------- */

static int setup(void **state)
{
    struct h_cluster *c = h_cluster_create(NODES);
    *state = c;
    return c ? 0 : -1;
}

static int teardown(void **state)
{
    proxy_stop(&the_proxy);
    free(the_proxy.rec);
    the_proxy.rec = NULL;
    h_cluster_destroy(*state);
    return 0;
}

struct dropped_arg {
    struct h_cluster *c;
    double want;
    double got;
};

static bool dropped_enough(void *arg)
{
    struct dropped_arg *a = arg;
    double stale = 0, replay = 0;
    h_metric(a->c, RECEIVER, STALE, &stale);
    h_metric(a->c, RECEIVER, REPLAY, &replay);
    a->got = stale + replay;
    return a->got >= a->want;
}

static void test_frames_recorded_before_a_restart_are_refused_after_it(void **state)
{
    struct h_cluster *c = *state;
    struct proxy *p = &the_proxy;
    int port = proxy_start(p, c->nodes[RECEIVER].listen_port);
    assert_true(port > 0);
    char peers[H_MAX_NODES * 80];
    snprintf(peers, sizeof peers, "%s", h_peers(c));
    char real[64], via[64];
    snprintf(real, sizeof real, "tcp://%s:%d", c->nodes[RECEIVER].host,
             c->nodes[RECEIVER].listen_port);
    snprintf(via, sizeof via, "tcp://127.0.0.1:%d", port);
    char *at = strstr(peers, real);
    assert_non_null(at);
    char rest[H_MAX_NODES * 80];
    snprintf(rest, sizeof rest, "%s", at + strlen(real));
    snprintf(at, sizeof peers - (size_t)(at - peers), "%s%s", via, rest);

    struct h_start through = {.peers = peers};
    assert_int_equal(h_node_start_opts(c, SENDER, &through), 0);
    for (int i = 0; i < NODES; i++)
        if (i != SENDER)
            assert_int_equal(h_node_start(c, i), 0);
    if (!h_wait_all_alive(c, h_timeout_ms()) || !h_wait_agreed(c, 0, h_timeout_ms(), NULL, NULL))
        fail_msg("the federation did not come up: %s", h_views_line(c));
    if (!h_wait_until(enough_recorded, p, h_timeout_ms()))
        fail_msg("the proxy recorded fewer than %d frames from n1 to n2", MIN_FRAMES);
    atomic_store(&p->recording, false);
    pthread_mutex_lock(&p->mu);
    size_t used, frames = count_frames(p->rec, p->len, &used);
    pthread_mutex_unlock(&p->mu);

    /* The sender goes for good; the receiver restarts. */
    assert_int_equal(h_node_stop(c, SENDER), 0);
    proxy_stop(p);
    assert_int_equal(h_node_stop(c, RECEIVER), 0);
    assert_int_equal(h_node_start(c, RECEIVER), 0);
    int pair[2] = {1, 2}, leader;
    unsigned long long term;
    if (!h_wait_agreed_among(c, pair, 2, 0, h_timeout_ms(), &leader, &term))
        fail_msg("n2 and n3 agreed on no leader: %s", h_views_line(c));
    assert_true(h_member_is(c, RECEIVER, c->nodes[SENDER].id, "dead"));
    struct dropped_arg d = {.c = c};
    dropped_enough(&d);
    d.want = d.got + (double)frames;

    int fd = connect_port(c->nodes[RECEIVER].listen_port);
    assert_true(fd >= 0);
    assert_true(write_all(fd, p->rec, used));
    bool refused = h_wait_until(dropped_enough, &d, h_timeout_ms());
    close(fd);
    if (!refused)
        fail_msg("n2 refused %g of the %zu replayed frames (log: %s)", d.got - (d.want - frames),
                 frames, c->nodes[RECEIVER].log);

    /* Nothing of it reached the membership or consensus. */
    char status[16];
    assert_true(h_member_status(c, RECEIVER, c->nodes[SENDER].id, status, sizeof status));
    if (strcmp(status, "dead") != 0 || h_event_seq(c, RECEIVER, "peer.alive", "n1", 0) != 0)
        fail_msg("n2 shows the stopped n1 %s after the replay (log: %s)", status,
                 c->nodes[RECEIVER].log);
    struct h_view v;
    assert_true(h_view(c, RECEIVER, 0, &v));
    assert_true(v.term == term);
    assert_string_equal(v.leader, c->nodes[leader].id);
    printf("replayed %zu frames (%zu bytes) recorded from n1 to n2: all refused after n2 "
           "restarted\n",
           frames, used);
    h_cluster_pass(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_frames_recorded_before_a_restart_are_refused_after_it,
                                        setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
