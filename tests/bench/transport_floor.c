/* Benchmark: the floor that NNG 1.5 sets under Chimera's cost per message.
 * Two processes on 127.0.0.1, each driving NNG the way chimerad's transport
 * does (node/net/transport*.c): one libuv loop thread; a pull0 inbox that
 * listens, polled through NNG_OPT_RECVFD and drained with one reused aio at
 * a zero timeout until NNG has nothing more (what nng_recvmsg with
 * NNG_FLAG_NONBLOCK does, without an aio per call); a push0 socket dialed
 * to the peer's inbox (SENDBUF 128, reconnect 50 ms..1 s), each message a
 * fresh nng_msg sent through one reused aio at a zero timeout; a sender
 * whose queue is full waits on NNG_OPT_SENDFD. Nothing else: no sealing,
 * no msgpack, no consensus, no disk. What is left is NNG's threads and
 * their hand-offs and the kernel's TCP over loopback: what any message of
 * chimerad's costs at the least.
 *
 *   one way          A sends back to back; B takes each message
 *   request/answer   A keeps W requests out; B answers each as it takes it
 *                    (ANSWER_BYTES, as an acknowledgement is short); A
 *                    sends the next request on each answer (W = 1: a ping
 *                    pong, the most hand-offs per message)
 *   paced R/s        A sends R requests a second on a timer, B answers
 *                    each: an idle leader's traffic (R = 40: a heartbeat
 *                    every 50 ms to each of two followers, and their
 *                    answers), where every message finds the threads
 *                    asleep. A's CPU a second is the least an idle
 *                    leader's messages can cost, to set beside
 *                    bench_compare_etcd's idle leader CPU
 *
 * Per mode: messages per second (each direction counts), then per message
 * each process's CPU (all its threads, getrusage) and voluntary context
 * switches (all threads: each is a thread that waited for another, a
 * hand-off), the involuntary ones of both apart (what a loaded machine's
 * scheduler adds), and for request/answer the round trip p50/p99/max. CPU
 * and voluntary context switches per message are the figures a loaded
 * machine moves least; the load average is printed with them.
 *
 *   bench_transport_floor [--seconds N] [--size BYTES] [--window a,b] [--paced R]
 *                                                        (5; 256; 1,64; 40, 0: none)
 *
 * A third process, this one, only forks the two, tells them when to start
 * and stop measuring over a socketpair each, and prints. It never touches
 * NNG itself, so each mode forks both ends afresh (a process holding NNG's
 * threads cannot fork a working copy of itself). */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/pipeline0/pull.h>
#include <nng/protocol/pipeline0/push.h>
#include <nng/supplemental/util/platform.h>
#include <uv.h>

#include "harness.h"
#include "harness_release.h"

#define SIZE_DEFAULT 256 /* about a sealed APPEND carrying one ~100-byte note */
#define SIZE_MAX_BYTES (1024 * 1024)
#define ANSWER_BYTES 96 /* about a sealed APPEND answer */
#define MAX_WINDOWS 8
#define MAX_WINDOW SEND_QUEUE_MSGS /* every request and answer fits a send queue */
/* As node/net/transport*.c sets them. */
#define RECV_MAX (4 * 1024 * 1024)
#define SEND_QUEUE_MSGS 128
#define RECONNECT_MIN_MS 50
#define RECONNECT_MAX_MS 1000
/* A sender's turn ends after this many sends, so that its loop hears the
 * coordinator (the stop) even while the queue never fills. */
#define SENDS_PER_TURN 1024
#define WARM_MS 500
#define CONTROL_MS 10000 /* how long an end waits for its connection */
/* An idle leader's messages a second at the default 50 ms heartbeat, to
 * two followers. */
#define PACED_DEFAULT 40
#define PACED_MAX 1000 /* a timer of at least 1 ms */

enum mode { ONE_WAY, REQUEST_ANSWER, PACED };
enum role { SENDER, RECEIVER }; /* A, B */

/* Coordinator -> end. */
struct cmd {
    char op; /* 'P' peer's port (0: none), 'G' go, 'S' start, 'E' end, 'Q' quit */
    int port;
};

/* End -> coordinator: its port, then ready, then its figures. */
struct report {
    int port;     /* its inbox's bound port, 0: none */
    int err;      /* NNG's error, 0: none */
    uint64_t got; /* messages taken from the inbox while measuring */
    uint64_t sent;
    double cpu_us, secs;
    uint64_t vcs, ivcs;
    struct h_latency rtt; /* request/answer, the requester's */
};

struct end {
    enum mode mode;
    enum role role;
    size_t size; /* of what this end sends */
    int window;  /* request/answer: requests out; paced: requests a second */
    int ctl;     /* its socketpair end */
    uv_loop_t loop;
    uv_poll_t ctl_poll, in_poll, out_poll;
    uv_timer_t pace;
    uint64_t pace_t0, paced; /* paced: when the level began, requests sent */
    nng_socket in, out;
    bool has_in, has_out;
    nng_aio *rx, *tx;
    uint8_t *buf;
    bool measuring;
    uint64_t got, sent;
    struct rusage ru0;
    uint64_t t0;
    struct h_samples rtt;
};

static void die(struct end *e, const char *what, int rv)
{
    struct report r = {.err = rv ? rv : -1};
    fprintf(stderr, "bench_transport_floor: %s end: %s: %s\n", e->role == SENDER ? "A" : "B", what,
            rv ? nng_strerror(rv) : "failed");
    if (write(e->ctl, &r, sizeof(r)) < 0) {
        /* the coordinator sees the end exit instead */
    }
    _exit(1);
}

/* What nng_sendmsg(NNG_FLAG_NONBLOCK) does, with the reused aio, as
 * transport_out.c's send_now: 0, or NNG's error (a full queue times out). */
static int send_now(struct end *e, size_t len)
{
    nng_msg *msg;
    if (nng_msg_alloc(&msg, 0) != 0)
        return NNG_ENOMEM;
    if (nng_msg_append(msg, e->buf, len) != 0) {
        nng_msg_free(msg);
        return NNG_ENOMEM;
    }
    nng_aio_set_msg(e->tx, msg);
    nng_aio_set_timeout(e->tx, NNG_DURATION_ZERO);
    nng_send_aio(e->out, e->tx);
    nng_aio_wait(e->tx);
    int rv = nng_aio_result(e->tx);
    nng_aio_set_msg(e->tx, NULL);
    if (rv != 0)
        nng_msg_free(msg);
    else if (e->measuring)
        e->sent++;
    return rv;
}

/* A request carries when it left; its answer carries it back. */
static void send_request(struct end *e)
{
    uint64_t now = h_now_ns();
    memcpy(e->buf, &now, sizeof(now));
    send_now(e, e->size);
}

/* One way: back to back until NNG's queue is full, then wait for it
 * (SENDFD) with the loop free. */
static void on_sendable(uv_poll_t *h, int status, int events)
{
    (void)status;
    (void)events;
    struct end *e = h->data;
    for (int k = 0; k < SENDS_PER_TURN; k++)
        if (send_now(e, e->size) != 0)
            return;
}

/* What one message asks of its taker. */
static void took(struct end *e, nng_msg *msg)
{
    if (e->measuring)
        e->got++;
    if (e->mode == ONE_WAY)
        return;
    uint64_t sent_at;
    memcpy(&sent_at, nng_msg_body(msg), sizeof(sent_at));
    if (e->role == RECEIVER) {
        /* chimerad reads the message, then sends its answer as a new one */
        memcpy(e->buf, &sent_at, sizeof(sent_at));
        send_now(e, e->size);
        return;
    }
    if (e->measuring)
        h_samples_add(&e->rtt, h_now_ns() - sent_at);
    if (e->mode == REQUEST_ANSWER)
        send_request(e); /* paced: the timer sends the next */
}

/* Paced: the requests due by the clock at `window` a second. A timer of
 * 1000 / R whole milliseconds alone would send at another rate than the
 * level names (R = 600: every 1 ms, 1000 a second; R = 30: 30.3). */
static void on_pace(uv_timer_t *h)
{
    struct end *e = h->data;
    uint64_t due = (h_now_ns() - e->pace_t0) * (uint64_t)e->window / 1000000000u + 1;
    for (; e->paced < due; e->paced++)
        send_request(e);
}

/* As transport.c's on_readable: the fd only says there is something. */
static void on_readable(uv_poll_t *h, int status, int events)
{
    (void)events;
    struct end *e = h->data;
    if (status < 0)
        return;
    for (;;) {
        nng_aio_set_timeout(e->rx, NNG_DURATION_ZERO);
        nng_recv_aio(e->in, e->rx);
        nng_aio_wait(e->rx);
        if (nng_aio_result(e->rx) != 0)
            break;
        nng_msg *msg = nng_aio_get_msg(e->rx);
        took(e, msg);
        nng_msg_free(msg);
    }
}

static double tv_us(struct timeval tv)
{
    return (double)tv.tv_sec * 1e6 + (double)tv.tv_usec;
}

static void on_control(uv_poll_t *h, int status, int events)
{
    (void)status;
    (void)events;
    struct end *e = h->data;
    struct cmd c;
    if (read(e->ctl, &c, sizeof(c)) != (ssize_t)sizeof(c))
        _exit(1); /* the coordinator is gone */
    if (c.op == 'G') {
        if (e->mode == ONE_WAY) {
            int fd;
            int rv = nng_socket_get_int(e->out, NNG_OPT_SENDFD, &fd);
            if (rv != 0 || uv_poll_init(&e->loop, &e->out_poll, fd) != 0)
                die(e, "cannot poll the send queue", rv);
            e->out_poll.data = e;
            uv_poll_start(&e->out_poll, UV_READABLE, on_sendable);
        } else if (e->mode == PACED) {
            uint64_t every = (uint64_t)(1000 / e->window); /* at most one due a tick */
            uv_timer_init(&e->loop, &e->pace);
            e->pace.data = e;
            e->pace_t0 = h_now_ns();
            e->paced = 0;
            on_pace(&e->pace); /* the first at once */
            uv_timer_start(&e->pace, on_pace, every, every);
        } else {
            for (int k = 0; k < e->window; k++)
                send_request(e);
        }
    } else if (c.op == 'S') {
        e->measuring = true;
        e->got = e->sent = 0;
        getrusage(RUSAGE_SELF, &e->ru0);
        e->t0 = h_now_ns();
    } else if (c.op == 'E') {
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        struct report r = {
            .got = e->got,
            .sent = e->sent,
            .secs = (double)(h_now_ns() - e->t0) / 1e9,
            .cpu_us = tv_us(ru.ru_utime) + tv_us(ru.ru_stime) - tv_us(e->ru0.ru_utime) -
                      tv_us(e->ru0.ru_stime),
            .vcs = (uint64_t)(ru.ru_nvcsw - e->ru0.ru_nvcsw),
            .ivcs = (uint64_t)(ru.ru_nivcsw - e->ru0.ru_nivcsw),
        };
        e->measuring = false;
        h_samples_summarise(&e->rtt, &r.rtt);
        if (write(e->ctl, &r, sizeof(r)) != (ssize_t)sizeof(r))
            _exit(1);
    } else if (c.op == 'Q') {
        /* Without closing the sockets: NNG 1.5.2's close can wedge for
         * good (nng #1636), and the process's end closes everything. */
        _exit(0);
    }
}

static int open_inbox(struct end *e)
{
    nng_listener l;
    int port = 0, rv;
    if ((rv = nng_pull0_open(&e->in)) != 0 ||
        (rv = nng_socket_set_size(e->in, NNG_OPT_RECVMAXSZ, RECV_MAX)) != 0 ||
        (rv = nng_listen(e->in, "tcp://127.0.0.1:0", &l, 0)) != 0 ||
        (rv = nng_listener_get_int(l, NNG_OPT_TCP_BOUND_PORT, &port)) != 0)
        die(e, "cannot listen on 127.0.0.1", rv);
    e->has_in = true;
    return port;
}

static atomic_bool connected; /* the push socket has a connection (an NNG thread sets it) */

static void on_connected(nng_pipe p, nng_pipe_ev ev, void *arg)
{
    (void)p;
    (void)ev;
    (void)arg;
    atomic_store(&connected, true);
}

/* Dials the peer's inbox and waits for the connection (the coordinator
 * starts nothing before both ends are connected: with a send queue, a push
 * socket takes messages before it has one). */
static void dial_peer(struct end *e, int port)
{
    char url[64];
    int rv;
    snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", port);
    if ((rv = nng_push0_open(&e->out)) != 0 ||
        (rv = nng_socket_set_ms(e->out, NNG_OPT_RECONNMINT, RECONNECT_MIN_MS)) != 0 ||
        (rv = nng_socket_set_ms(e->out, NNG_OPT_RECONNMAXT, RECONNECT_MAX_MS)) != 0 ||
        (rv = nng_socket_set_int(e->out, NNG_OPT_SENDBUF, SEND_QUEUE_MSGS)) != 0 ||
        (rv = nng_pipe_notify(e->out, NNG_PIPE_EV_ADD_POST, on_connected, NULL)) != 0 ||
        (rv = nng_dial(e->out, url, NULL, NNG_FLAG_NONBLOCK)) != 0)
        die(e, "cannot dial the peer", rv);
    e->has_out = true;
    for (int ms = 0; !atomic_load(&connected); ms += 5) {
        if (ms >= CONTROL_MS)
            die(e, "the peer's inbox took no connection", 0);
        nng_msleep(5);
    }
}

static void end_main(enum mode mode, enum role role, size_t size, int window, int ctl)
{
    signal(SIGINT, SIG_IGN); /* ^C is the coordinator's: it ends the level */
    signal(SIGTERM, SIG_DFL);
    static struct end e;
    e = (struct end){.mode = mode, .role = role, .window = window, .ctl = ctl};
    e.size = role == SENDER || mode == ONE_WAY ? size : ANSWER_BYTES;
    e.buf = calloc(1, size > ANSWER_BYTES ? size : ANSWER_BYTES);
    if (!e.buf || nng_aio_alloc(&e.rx, NULL, NULL) != 0 || nng_aio_alloc(&e.tx, NULL, NULL) != 0)
        die(&e, "out of memory", 0);
    memset(e.buf + sizeof(uint64_t), 'x', size - sizeof(uint64_t));
    /* B always takes; A takes the answers */
    struct report r = {0};
    if (role == RECEIVER || mode != ONE_WAY)
        r.port = open_inbox(&e);
    if (write(ctl, &r, sizeof(r)) != (ssize_t)sizeof(r))
        _exit(1);
    struct cmd c;
    if (read(ctl, &c, sizeof(c)) != (ssize_t)sizeof(c) || c.op != 'P')
        _exit(1);
    if (c.port > 0)
        dial_peer(&e, c.port);
    if (write(ctl, &r, sizeof(r)) != (ssize_t)sizeof(r)) /* ready */
        _exit(1);

    uv_loop_init(&e.loop);
    uv_poll_init(&e.loop, &e.ctl_poll, ctl);
    e.ctl_poll.data = e.in_poll.data = &e;
    uv_poll_start(&e.ctl_poll, UV_READABLE, on_control);
    if (e.has_in) {
        int fd, rv = nng_socket_get_int(e.in, NNG_OPT_RECVFD, &fd);
        if (rv != 0 || uv_poll_init(&e.loop, &e.in_poll, fd) != 0)
            die(&e, "cannot poll the inbox", rv);
        uv_poll_start(&e.in_poll, UV_READABLE, on_readable);
    }
    uv_run(&e.loop, UV_RUN_DEFAULT);
    _exit(0);
}

/* ---- the coordinator ---- */

struct pair {
    pid_t pid[2];
    int ctl[2];
};

static bool ctl_read(int fd, struct report *r)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, 2 * CONTROL_MS) != 1) /* longer than an end waits for its connection */
        return false;
    return read(fd, r, sizeof(*r)) == (ssize_t)sizeof(*r) && r->err == 0;
}

static bool ctl_send(int fd, char op, int port)
{
    struct cmd c = {.op = op, .port = port};
    return write(fd, &c, sizeof(c)) == (ssize_t)sizeof(c);
}

static void pair_end(struct pair *p)
{
    for (int k = 0; k < 2; k++) {
        if (p->pid[k] <= 0)
            continue;
        ctl_send(p->ctl[k], 'Q', 0);
        close(p->ctl[k]);
        int status;
        bool gone = false;
        for (int ms = 0; ms < CONTROL_MS && !gone; ms += 10) {
            gone = waitpid(p->pid[k], &status, WNOHANG) == p->pid[k];
            if (!gone)
                usleep(10000);
        }
        if (!gone) { /* ours, forked above */
            kill(p->pid[k], SIGKILL);
            waitpid(p->pid[k], &status, 0);
        }
        p->pid[k] = 0;
    }
}

/* Forks both ends, connects them, and lets A go. */
static bool pair_start(struct pair *p, enum mode mode, size_t size, int window)
{
    *p = (struct pair){0};
    for (int k = 0; k < 2; k++) {
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
            return false;
        fflush(NULL);
        pid_t pid = fork();
        if (pid < 0) {
            close(sv[0]);
            close(sv[1]);
            return false;
        }
        if (pid == 0) {
            close(sv[0]);
            for (int j = 0; j < k; j++)
                close(p->ctl[j]);
            end_main(mode, k == 0 ? SENDER : RECEIVER, size, window, sv[1]);
        }
        close(sv[1]);
        p->pid[k] = pid;
        p->ctl[k] = sv[0];
    }
    struct report a, b;
    if (!ctl_read(p->ctl[0], &a) || !ctl_read(p->ctl[1], &b) || !ctl_send(p->ctl[0], 'P', b.port) ||
        !ctl_send(p->ctl[1], 'P', a.port) || !ctl_read(p->ctl[0], &a) || !ctl_read(p->ctl[1], &b) ||
        !ctl_send(p->ctl[0], 'G', 0))
        return false;
    usleep(WARM_MS * 1000);
    return true;
}

struct level {
    enum mode mode;
    int window;
    struct report a, b;
    double msgs, secs, rate;
};

static int run_level(struct level *l, size_t size, int seconds)
{
    struct pair p;
    bool ok = pair_start(&p, l->mode, size, l->window) && ctl_send(p.ctl[0], 'S', 0) &&
              ctl_send(p.ctl[1], 'S', 0);
    if (ok) {
        h_bench_sleep(seconds);
        ok = ctl_send(p.ctl[0], 'E', 0) && ctl_send(p.ctl[1], 'E', 0) &&
             ctl_read(p.ctl[0], &l->a) && ctl_read(p.ctl[1], &l->b);
    }
    pair_end(&p);
    if (!ok)
        return -1;
    l->msgs = (double)(l->a.got + l->b.got); /* each direction's, taken */
    l->secs = (l->a.secs + l->b.secs) / 2;
    l->rate = l->secs > 0 ? l->msgs / l->secs : 0;
    return 0;
}

static double per(double v, double n)
{
    return n > 0 ? v / n : 0;
}

static void print_level(const struct level *l)
{
    char name[32];
    snprintf(name, sizeof(name),
             l->mode == ONE_WAY ? "one-way"
             : l->mode == PACED ? "paced %d/s"
                                : "req/ans W=%d",
             l->window);
    double n = l->msgs;
    printf("%-14s %10.0f %8.2f %8.2f %8.2f %7.2f %7.2f %7.2f %7.2f", name, l->rate,
           per(l->a.cpu_us, n), per(l->b.cpu_us, n), per(l->a.cpu_us + l->b.cpu_us, n),
           per((double)l->a.vcs, n), per((double)l->b.vcs, n),
           per((double)(l->a.vcs + l->b.vcs), n), per((double)(l->a.ivcs + l->b.ivcs), n));
    if (l->mode != ONE_WAY)
        printf(" %8.3f %8.3f %8.3f", l->a.rtt.p50_ms, l->a.rtt.p99_ms, l->a.rtt.max_ms);
    printf("%s\n", h_interrupted() ? "  (interrupted)" : "");
}

int main(int argc, char **argv)
{
    int seconds = 5, windows[MAX_WINDOWS] = {1, 64}, nwindows = 2;
    long size = SIZE_DEFAULT, paced = PACED_DEFAULT;
    const struct h_bench_opts opts = {3600, "--window", MAX_WINDOW, MAX_WINDOWS,
                                      "[--size BYTES] [--paced R]"};
    int kept = 1;
    for (int a = 1; a < argc; a++) {
        if (strcmp(argv[a], "--size") == 0 && a + 1 < argc) {
            char *end;
            size = strtol(argv[++a], &end, 10);
            if (*end || size < (long)sizeof(uint64_t) || size > SIZE_MAX_BYTES) {
                fprintf(stderr, "--size: want %zu..%d bytes, got %s\n", sizeof(uint64_t),
                        SIZE_MAX_BYTES, argv[a]);
                return 2;
            }
        } else if (strcmp(argv[a], "--paced") == 0 && a + 1 < argc) {
            char *end;
            paced = strtol(argv[++a], &end, 10);
            if (*end || paced < 0 || paced > PACED_MAX) {
                fprintf(stderr,
                        "--paced: want 0..%d requests a second (0: no paced level), got %s\n",
                        PACED_MAX, argv[a]);
                return 2;
            }
        } else {
            argv[kept++] = argv[a];
        }
    }
    if (h_bench_args(kept, argv, &opts, &seconds, windows, &nwindows) != 0)
        return 2;
    h_on_interrupt();
    signal(SIGPIPE, SIG_IGN); /* an end that died: its socketpair says so */
    setvbuf(stdout, NULL, _IOLBF, 0);

    long nproc = sysconf(_SC_NPROCESSORS_ONLN);
    printf("bench_transport_floor: NNG %s push0/pull0 over TCP on 127.0.0.1 between two "
           "processes, driven as chimerad's transport drives it\n",
           nng_version());
    printf("  ends        a libuv loop each; inbox polled via RECVFD and drained with a reused "
           "aio at a zero timeout; sends through a reused aio at a zero timeout, a new nng_msg "
           "each (SENDBUF %d; a full queue waits on SENDFD)\n",
           SEND_QUEUE_MSGS);
    printf("  modes       one way: A sends %ld-byte messages back to back, B takes them; "
           "req/ans W: A keeps W %ld-byte requests out, B answers each with %d bytes; "
           "paced R/s: A sends R requests a second on a timer, B answers each (an idle "
           "leader's heartbeats and answers)\n",
           size, size, ANSWER_BYTES);
    printf("  figures     msgs/s counts both directions; CPU (us, all threads, getrusage) and "
           "voluntary context switches (all threads; invol: both ends' involuntary ones) per "
           "message taken; %d s each after "
           "%d ms of warm-up\n",
           seconds, WARM_MS);
    printf("  machine     nproc=%ld; both ends and this coordinator share it\n", nproc);

    struct level levels[MAX_WINDOWS + 2];
    int n = 0;
    levels[n++] = (struct level){.mode = ONE_WAY};
    for (int k = 0; k < nwindows; k++)
        levels[n++] = (struct level){.mode = REQUEST_ANSWER, .window = windows[k]};
    if (paced > 0)
        levels[n++] = (struct level){.mode = PACED, .window = (int)paced};
    double load_start = h_load_average();
    printf("\n%-14s %10s %8s %8s %8s %7s %7s %7s %7s %8s %8s %8s\n", "mode", "msgs/s", "A_us",
           "B_us", "all_us", "A_cs", "B_cs", "all_cs", "invol", "rtt_p50", "rtt_p99", "rtt_max");
    int done = 0, rc = 0;
    for (int k = 0; k < n && !h_interrupted(); k++, done++) {
        if (run_level(&levels[k], (size_t)size, seconds) != 0) {
            fprintf(stderr,
                    "bench_transport_floor: the ends of level %d could not be set up or "
                    "did not report\n",
                    k + 1);
            rc = 1;
            break;
        }
        print_level(&levels[k]);
    }
    double load_end = h_load_average();
    printf("\nper message = per message taken by either end (a round trip is two); all_us and "
           "all_cs are both ends', all threads; rtt in ms\n");
    for (int k = 0; k < done; k++) {
        const struct level *l = &levels[k];
        if (l->mode == PACED)
            printf("paced %d/s: A (as an idle leader: its requests and their answers) used "
                   "%.2f ms of CPU a second (%.2f %%), B %.2f ms\n",
                   l->window, per(l->a.cpu_us, l->a.secs) / 1000, per(l->a.cpu_us, l->a.secs) / 1e4,
                   per(l->b.cpu_us, l->b.secs) / 1000);
    }
    printf("load average %.2f at the start, %.2f at the end (information only)\n", load_start,
           load_end);
    printf("RESULT bench=transport_floor nng=%s size=%ld seconds=%d nproc=%ld", nng_version(), size,
           seconds, nproc);
    for (int k = 0; k < done; k++) {
        const struct level *l = &levels[k];
        char p[32];
        snprintf(p, sizeof(p),
                 l->mode == ONE_WAY ? "oneway"
                 : l->mode == PACED ? "paced%d"
                                    : "rr%d",
                 l->window);
        double m = l->msgs;
        printf(" %s_msgs_per_s=%.0f %s_us_per_msg=%.2f %s_cs_per_msg=%.2f %s_invol_per_msg=%.2f", p,
               l->rate, p, per(l->a.cpu_us + l->b.cpu_us, m), p,
               per((double)(l->a.vcs + l->b.vcs), m), p, per((double)(l->a.ivcs + l->b.ivcs), m));
        if (l->mode != ONE_WAY)
            printf(" %s_rtt_p50_ms=%.3f %s_rtt_p99_ms=%.3f", p, l->a.rtt.p50_ms, p,
                   l->a.rtt.p99_ms);
        if (l->mode == PACED)
            printf(" %s_a_cpu_ms_per_s=%.3f %s_b_cpu_ms_per_s=%.3f", p,
                   per(l->a.cpu_us, l->a.secs) / 1000, p, per(l->b.cpu_us, l->b.secs) / 1000);
    }
    printf(" load_start=%.2f load_end=%.2f\n", load_start, load_end);
    return rc != 0 ? rc : h_interrupted() ? 130 : 0;
}
