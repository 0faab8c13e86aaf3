/* Internal to the HTTP listener (node/net/http*.c), not for its callers:
 * the state of the server and of one connection, shared by the listener
 * (http.c), the connection's state machine (http_conn.c) and the answers
 * (http_answer.c). */
#ifndef CHIMERA_HTTP_CONN_H
#define CHIMERA_HTTP_CONN_H

#include <http_parser.h>

#include "node/net/http.h"

#define READ_BUF HTTP_READ_BYTES
#define AUTH_MAX 512
#define FIELD_MAX 32
#define EXPECT_MAX 32
#define ORIGIN_MAX 256
#define LAST_ID_MAX 32
#define INM_MAX 128
#define CTYPE_MAX 128
/* http_answer_head's len for an answer whose body ends when the connection
 * does (a stream): no Content-Length. */
#define HTTP_LEN_NONE ((size_t)-1)

enum conn_state {
    C_HEAD,    /* waiting for or reading a request line and headers */
    C_BODY,    /* reading a body */
    C_HANDLER, /* the handler holds the request */
    C_WRITING, /* the answer is being written */
    C_IDLE,    /* keep-alive, between requests */
    C_LINGER,  /* the last answer is out; dropping input until the client closes */
    C_STREAM,  /* an open-ended answer (http_stream.c): written to until either side ends it */
    C_CLOSED,
};

enum header { H_OTHER, H_AUTH, H_EXPECT, H_ORIGIN, H_LAST_ID, H_INM, H_CTYPE, H_PREFLIGHT };

/* What a limit did, and what was already reported. */
struct limit_report {
    uint64_t count, reported, last_ms;
    bool used;
};

struct conn;

struct pending {
    struct http_request req; /* handed to the handler; priv points back here */
    struct conn *c;          /* NULL once the connection closed: the answer is dropped */
    char method[16];
    char *uri; /* owned, split into path and query */
    size_t uri_len;
    char auth[AUTH_MAX + 1];
    size_t auth_len;
    char last_id[LAST_ID_MAX]; /* the Last-Event-ID header, "" none */
    size_t last_id_len;
    char inm[INM_MAX]; /* the If-None-Match header, "" none (cut at INM_MAX - 1) */
    size_t inm_len;
    char ctype[CTYPE_MAX]; /* the Content-Type header, "" none (cut at CTYPE_MAX - 1) */
    size_t ctype_len;
    char *body;
    bool head; /* HEAD: the answer goes without its body */
};

/* One client connection. */
struct conn {
    uv_tcp_t tcp;
    uv_timer_t timer; /* fires at or before the deadline of the current state */
    /* The deadline (loop time, 0: none) and when the timer fires: see arm()
     * in http_conn.c. */
    uint64_t deadline, timer_due;
    uv_shutdown_t shut;
    struct http_server *s;
    struct conn *prev, *next;
    http_parser parser;
    enum conn_state state;
    int handles;       /* libuv handles not yet closed */
    int writes;        /* writes not yet completed */
    bool counted;      /* holds a place under the cap (a refused one does not) */
    bool refusing;     /* a refusal at the cap, lingering: one of HTTP_MAX_REFUSING */
    bool keep_alive;   /* the request in flight allows another after it */
    bool close_after;  /* close once the answer is written */
    bool reading;      /* uv_read_start is in effect */
    bool feeding;      /* inside feed: it parses what follows an answered request */
    bool eof;          /* the client half-closed with a request in flight */
    struct pending *p; /* the request being read or in flight */
    int refuse_status;
    char refuse_msg[240];
    size_t head_bytes;
    char field[FIELD_MAX];
    size_t field_len;
    bool in_value;
    enum header which;
    char expect[EXPECT_MAX];
    size_t expect_len;
    char *rest; /* bytes read past the request in flight (pipelined) */
    size_t rest_len;
    char origin[ORIGIN_MAX]; /* the request's Origin header, "" none (CORS) */
    size_t origin_len;
    bool preflight;    /* it carries Access-Control-Request-Method */
    const void *topic; /* C_STREAM: what it was opened for (http_stream_broadcast) */
    bool dropping;     /* C_STREAM: to be dropped once the broadcast is done */
    char peer[64];     /* C_STREAM: the client's address, for the drop notice */
    uint64_t queued;   /* C_STREAM: bytes written to it so far */
    uint64_t taken;    /* C_STREAM: bytes its client had taken when the stall timer started */
};

/* Broadcasts waiting while one is under way (a drop's notice raises an
 * event, which is broadcast in turn). */
struct http_cast {
    struct http_cast *next;
    const void *topic;
    struct http_chunk *ch;
};

struct http_server {
    uv_loop_t *loop;
    uv_poll_t poll;      /* the listening socket, accepted by hand to back off */
    uv_timer_t backoff;  /* polling again after accept() failed */
    uv_timer_t reporter; /* a notice held back by the interval */
    int fd;
    int handles;           /* libuv handles and connections not yet closed */
    unsigned refusing;     /* refusals at the cap still open */
    unsigned max_refusing; /* HTTP_MAX_REFUSING, or a quarter of the cap when lower */
    bool stopping;
    unsigned backoff_ms;
    struct conn *conns;
    http_handler_fn handler;
    void *ctx;
    http_notice_fn notice;
    void *notice_ctx;
    char token[256]; /* the admin token ("" none) */
    struct http_stats stats;
    struct limit_report limited, accept_failed;
    int accept_errno;
    uint64_t header_ms, body_ms, idle_ms;
    char cors[1024];      /* the origins allowed cross-origin requests ("" none) */
    size_t max_queued;    /* a stream's unsent bytes beyond which it is dropped */
    int stream_sndbuf;    /* tests: a stream socket's send buffer (0: the kernel's) */
    uv_timer_t heartbeat; /* a comment to every stream, so idle ones show they live */
    struct http_chunk *beat;
    struct http_cast *casts, **casts_tail;
    bool casting;
    char rbuf[READ_BUF]; /* every read lands here and is parsed at once */
};

/* An answer's status line and headers: a body of len bytes (HTTP_LEN_NONE:
 * until the connection ends). */
struct http_answer {
    int status;
    const char *ctype;
    size_t len;
    const char *location; /* NULL: none */
    const char *cache;    /* Cache-Control's value; NULL: no-store */
    const char *etag;     /* NULL: none */
    const char *conn_hdr; /* a Connection header line, or "" */
    const char *extra;    /* more header lines, or "" */
};
/* Connections (http_conn.c). A new one for fd, listed in s's connections
 * and holding a reference on s; NULL (fd closed) when it cannot be had. */
struct conn *http_conn_new(struct http_server *s, int fd);
/* Reads requests on c, the header deadline running. */
void http_conn_serve(struct conn *c);
/* Answers {"error": msg} with status, then lingers and closes. */
void http_conn_refuse(struct conn *c, int status, const char *msg);
void http_conn_close(struct conn *c);

/* Frees what req holds without answering it (a stream answers on its own). */
void http_conn_release(struct http_request *req);
/* Arms c's deadline (0: none). */
void http_conn_arm(struct conn *c, uint64_t ms);
/* Whether c has a deadline. */
bool http_conn_armed(const struct conn *c);
/* Reads from c again (a stream reads only to see the client go). */
void http_conn_read(struct conn *c);
/* Queues len bytes of data to c: copied, or, with owner, a reference on
 * the chunk they lie in. 0, or -1 when c was closed. */
int http_conn_write(struct conn *c, const char *data, size_t len, struct http_chunk *owner);
/* Writes answer a's head to c, with the header lines an answer on c carries
 * besides a's (CORS for an allowed Origin; with preflight, the methods and
 * headers too) and then more (or ""), followed by blen bytes of body: one
 * write, one copy. Returns the bytes queued, or -1 when c was closed. */
long http_conn_answer(struct conn *c, struct http_answer a, bool preflight, const char *more,
                      const char *body, size_t blen);

/* Another reference on ch (http_stream.c). */
struct http_chunk *http_chunk_ref(struct http_chunk *ch);
/* Streams (http_stream.c): a write of c completed; c's deadline passed. */
void http_stream_written(struct conn *c);
void http_stream_stalled(struct conn *c);
/* Starts and stops the server's stream timer (http_start, http_stop). */
void http_stream_init(struct http_server *s);
void http_stream_stop(struct http_server *s);

/* Drops a reference on s, freeing it with the last (http.c). */
void http_server_release(struct http_server *s);

/* Answers (http_answer.c, pure). The head of answer a, snprintf-style into
 * buf (NULL, 0: measure). Every answer carries the Content-Security-Policy
 * and X-Content-Type-Options; a 204 and a 304 have no Content-Type and no
 * Content-Length. */
int http_answer_head(char *buf, size_t cap, const struct http_answer *a);
/* {"error": msg} and a newline, snprintf-style into buf. */
int http_error_body(char *buf, size_t cap, const char *msg);

#endif
