/* Benchmark: the live event stream. With S streams of GET /events/stream
 * open on a one-node federation, raises one event at a time (a fault the
 * node refuses at once: POST /chaos/inject of kill_node, not listed) and
 * measures from the POST to the event's arrival on every stream. Prints
 * latency and the node's CPU per level; it judges nothing, so it fails only
 * when the federation cannot be set up, a stream cannot be opened or is
 * closed, or the node dies.
 *
 *   bench_events_stream [--seconds N] [--streams a,b,c]   (10; 1,16,64) */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"

#define MAX_LEVELS 8
#define MAX_STREAMS 64 /* the node's default cap */
#define KIND "\"kind\":\"chaos.refused\""

struct stream {
    int fd;
    unsigned long long seen; /* events of KIND read */
    char carry[sizeof(KIND)];
    size_t carry_len;
};

/* Counts KIND in what arrived, across reads. false: the node closed it. */
static bool drain(struct stream *s)
{
    char buf[8192 + sizeof(KIND)];
    memcpy(buf, s->carry, s->carry_len);
    ssize_t r = recv(s->fd, buf + s->carry_len, 8192, MSG_DONTWAIT);
    if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR))
        return false;
    if (r < 0)
        return true;
    size_t n = s->carry_len + (size_t)r;
    buf[n] = '\0';
    for (const char *p = buf; (p = strstr(p, KIND)); p += sizeof(KIND) - 1)
        s->seen++;
    s->carry_len = n < sizeof(KIND) - 1 ? n : sizeof(KIND) - 1;
    memcpy(s->carry, buf + n - s->carry_len, s->carry_len);
    return true;
}

static bool open_stream(const struct h_cluster *c, struct stream *s)
{
    memset(s, 0, sizeof(*s));
    s->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)c->nodes[0].http_port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    static const char req[] = "GET /events/stream HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    return s->fd >= 0 && connect(s->fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
           send(s->fd, req, sizeof(req) - 1, MSG_NOSIGNAL) == (ssize_t)(sizeof(req) - 1);
}

/* Reads every stream until each saw want events, or a deadline. */
static bool wait_all(struct stream *st, int n, unsigned long long want)
{
    uint64_t end = h_now_ns() + (uint64_t)h_timeout_ms() * 1000000u;
    struct pollfd p[MAX_STREAMS];
    for (;;) {
        int k = 0;
        for (int i = 0; i < n; i++)
            if (st[i].seen < want)
                p[k++] = (struct pollfd){.fd = st[i].fd, .events = POLLIN};
        if (k == 0)
            return true;
        if (h_now_ns() >= end || h_interrupted())
            return false;
        if (poll(p, (nfds_t)k, 10) <= 0)
            continue;
        for (int i = 0; i < n; i++)
            if (st[i].seen < want && !drain(&st[i]))
                return false;
    }
}

struct level_result {
    int streams;
    struct h_latency lat;
    double node_cpu_pct, secs;
};

static int run_level(struct h_cluster *c, int n, int seconds, struct level_result *r)
{
    struct stream st[MAX_STREAMS];
    int opened = 0;
    int rc = 0;
    for (; opened < n; opened++)
        if (!open_stream(c, &st[opened])) {
            rc = -1;
            break;
        }
    struct h_samples lat = {0};
    unsigned long long want = 0;
    uint64_t start = h_now_ns(), end = start + (uint64_t)seconds * 1000000000u;
    double cpu0 = h_proc_cpu_seconds(c->nodes[0].pid);
    while (rc == 0 && h_now_ns() < end && !h_interrupted()) {
        uint64_t t0 = h_now_ns();
        long status = 0;
        free(h_http_request(c, 0, "POST", "/chaos/inject",
                            "{\"kind\":\"kill_node\",\"target\":\"n1\"}", c->token, 0, &status));
        want++;
        if (status != 409 || !wait_all(st, n, want)) {
            rc = -1;
            break;
        }
        h_samples_add(&lat, h_now_ns() - t0);
    }
    double cpu1 = h_proc_cpu_seconds(c->nodes[0].pid);
    r->streams = n;
    r->secs = (double)(h_now_ns() - start) / 1e9;
    r->node_cpu_pct = cpu0 >= 0 && cpu1 >= 0 ? (cpu1 - cpu0) / r->secs * 100.0 : -1;
    h_samples_summarise(&lat, &r->lat);
    for (int i = 0; i < opened; i++)
        close(st[i].fd);
    return rc;
}

int main(int argc, char **argv)
{
    int seconds = 10, levels[MAX_LEVELS] = {1, 16, 64}, nlevels = 3;
    const struct h_bench_opts opts = {3600, "--streams", MAX_STREAMS, MAX_LEVELS, NULL};
    if (h_bench_args(argc, argv, &opts, &seconds, levels, &nlevels) != 0)
        return 2;
    h_on_interrupt();
    setvbuf(stdout, NULL, _IOLBF, 0);
    int rc;
    struct h_cluster *c = h_bench_cluster(1, "bench_events_stream", &rc);
    if (!c)
        return rc;
    if (!h_wait_agreed(c, 0, h_timeout_ms(), NULL, NULL)) {
        fprintf(stderr, "bench_events_stream: no leader (log: %s)\n", c->nodes[0].log);
        return h_bench_finish(c, 1);
    }
    printf("bench_events_stream: S streams of GET /events/stream on a 1-node federation\n");
    printf("  event       a refused fault (POST /chaos/inject kill_node: 409 and chaos.refused)\n");
    printf("  latency     from the POST to the event on every stream, one event at a time\n");
    printf("  machine     nproc=%ld; the client and the node share it\n",
           sysconf(_SC_NPROCESSORS_ONLN));
    printf("\n%7s %8s %8s %8s %8s %8s\n", "S", "events", "p50_ms", "p99_ms", "max_ms", "n1_cpu%");
    struct level_result res[MAX_LEVELS];
    int done = 0;
    rc = 0;
    for (int k = 0; k < nlevels && !h_interrupted(); k++) {
        struct level_result *r = &res[k];
        if (run_level(c, levels[k], seconds, r) != 0 && !h_interrupted()) {
            fprintf(stderr, "bench_events_stream: %d streams: a stream failed (log: %s)\n",
                    levels[k], c->nodes[0].log);
            rc = 1;
            break;
        }
        done++;
        printf("%7d %8llu %8.3f %8.3f %8.3f %8.1f\n", r->streams, (unsigned long long)r->lat.n,
               r->lat.p50_ms, r->lat.p99_ms, r->lat.max_ms, r->node_cpu_pct);
    }
    if (done > 0) {
        printf("RESULT bench=events_stream seconds=%d nproc=%ld", seconds,
               sysconf(_SC_NPROCESSORS_ONLN));
        for (int k = 0; k < done; k++)
            printf(" s%d_events=%llu s%d_p50_ms=%.3f s%d_p99_ms=%.3f s%d_max_ms=%.3f",
                   res[k].streams, (unsigned long long)res[k].lat.n, res[k].streams,
                   res[k].lat.p50_ms, res[k].streams, res[k].lat.p99_ms, res[k].streams,
                   res[k].lat.max_ms);
        printf("\n");
    }
    return h_bench_finish(c, rc);
}
