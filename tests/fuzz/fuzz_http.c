/* libFuzzer harness for chimerad's HTTP listener (node/net/http*.c): the input is
 * what one client sends on one connection, then it half-closes. A real
 * listener on 127.0.0.1 runs on a libuv loop in this process, with a
 * handler that reads the query and the body as the API does. It checks:
 *  - nothing crashes or leaks (ASan, UBSan), whatever the bytes;
 *  - every connection ends (the node closes it once the input is used up);
 *  - whatever the node sends is HTTP/1.1 answers, each with a status line.
 * Build and run like fuzz_envelope (README.md), with --target fuzz_http;
 * seed the corpus with a few requests, e.g.
 * printf 'GET /a?b=1 HTTP/1.1\r\nHost: x\r\n\r\n' > build-fuzz/corpus-http/get. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "node/net/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uv_loop_t loop;
static struct http_server *srv;
static int port;

static void handler(void *ctx, struct http_request *req)
{
    (void)ctx;
    char v[64];
    http_query_param(req->query, "limit", v, sizeof(v));
    if (req->body_len) {
        static const char *const known[] = {"note", "notes", NULL};
        json_t *body = http_body_object(req, known, "{\"note\": text}");
        if (!body)
            return; /* answered 400 */
        json_decref(body);
    }
    http_respond_json(req, 200, json_pack("{s:s, s:s}", "method", req->method, "path", req->path));
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0)
        abort();
    close(fd);
    return ntohs(a.sin_port);
}

static void start(void)
{
    char hostport[32], err[256];
    uv_loop_init(&loop);
    /* The port free_port found may be taken before the listener binds it
     * (other tests run beside the replay in ctest): another one then. */
    for (int tries = 1;; tries++) {
        port = free_port();
        snprintf(hostport, sizeof(hostport), "127.0.0.1:%d", port);
        int rc = http_start(&srv, &loop, hostport, handler, NULL, err, sizeof(err));
        if (rc == 0)
            break;
        if (rc != UV_EADDRINUSE || tries == 10) {
            fprintf(stderr, "fuzz_http: %s\n", err);
            abort();
        }
    }
    http_set_admin_token(srv, "fuzz-admin-token-0123456789");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!srv)
        start();
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0 && errno != EINPROGRESS))
        abort();
    size_t sent = 0, got = 0;
    static char answer[1 << 20];
    bool shut = false;
    for (;;) {
        uv_run(&loop, UV_RUN_NOWAIT);
        if (sent < size) {
            ssize_t n = send(fd, data + sent, size - sent, MSG_NOSIGNAL);
            if (n > 0)
                sent += (size_t)n;
        } else if (!shut) {
            shutdown(fd, SHUT_WR);
            shut = true;
        }
        ssize_t r = recv(fd, answer + got, sizeof(answer) - 1 - got, MSG_DONTWAIT);
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != ENOTCONN))
            break; /* the node closed the connection */
        if (r > 0 && (got += (size_t)r) == sizeof(answer) - 1)
            got = 0; /* only the first bytes are checked */
        struct pollfd p = {fd, POLLIN, 0};
        poll(&p, 1, 1);
    }
    answer[got] = '\0';
    if (got && strncmp(answer, "HTTP/1.1 ", 9) != 0)
        abort();
    close(fd);
    uv_run(&loop, UV_RUN_NOWAIT); /* the node's side closes */
    return 0;
}
