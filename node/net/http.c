#include "node/net/http.h"

#include <errno.h>
#include <http_parser.h>
#include <netdb.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define READ_BUF (64u * 1024u)
/* After a refusal the client may still be sending (a body it was told not
 * to send): read and drop it for this long, or closing with unread bytes
 * would reset the connection before the client read the answer. */
#define LINGER_MS 2000
#define AUTH_MAX 512
#define FIELD_MAX 32
#define EXPECT_MAX 32
#define ACCEPT_BATCH 64

enum conn_state {
    C_HEAD,    /* waiting for or reading a request line and headers */
    C_BODY,    /* reading a body */
    C_HANDLER, /* the handler holds the request */
    C_WRITING, /* the answer is being written */
    C_IDLE,    /* keep-alive, between requests */
    C_LINGER,  /* the last answer is out; dropping input until the client closes */
    C_CLOSED,
};

enum header { H_OTHER, H_AUTH, H_EXPECT };

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
    char *body;
    bool head; /* HEAD: the answer goes without its body */
};

/* One client connection. A later issue's Server-Sent Events can keep one in
 * C_WRITING and write to it (write_out) instead of finishing the answer. */
struct conn {
    uv_tcp_t tcp;
    uv_timer_t timer; /* the deadline of the current state */
    uv_shutdown_t shut;
    struct http_server *s;
    struct conn *prev, *next;
    http_parser parser;
    enum conn_state state;
    int handles;       /* libuv handles not yet closed */
    int writes;        /* writes not yet completed */
    bool counted;      /* holds a place under the cap (a refused one does not) */
    bool served;       /* answered a request: a later one's header time starts at its first byte */
    bool keep_alive;   /* the request in flight allows another after it */
    bool close_after;  /* close once the answer is written */
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
};

struct http_server {
    uv_loop_t *loop;
    uv_poll_t poll;      /* the listening socket, accepted by hand to back off */
    uv_timer_t backoff;  /* polling again after accept() failed */
    uv_timer_t reporter; /* a notice held back by the interval */
    int fd;
    int handles; /* libuv handles and connections not yet closed */
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
    char rbuf[READ_BUF]; /* every read lands here and is parsed at once */
};

static void close_conn(struct conn *c);
static void feed(struct conn *c, const char *data, size_t len);

static void pending_free(struct pending *p)
{
    free(p->uri);
    free(p->body);
    free(p);
}

static void server_release(struct http_server *s)
{
    if (--s->handles == 0)
        free(s);
}

static void on_handle_closed(uv_handle_t *h)
{
    server_release(h->data);
}

static void on_timeout(uv_timer_t *t);

/* The deadline of c's current state; 0: none. */
static void arm(struct conn *c, uint64_t ms)
{
    if (ms)
        uv_timer_start(&c->timer, on_timeout, ms, 0);
    else
        uv_timer_stop(&c->timer);
}

static void on_reporter(uv_timer_t *t);

/* Whether r has something to report now: at most once an interval; what is
 * held back goes into the next report, which the reporter timer brings. */
static bool due(struct http_server *s, struct limit_report *r)
{
    uint64_t now = uv_now(s->loop);
    if (r->count == r->reported)
        return false;
    if (r->used && now - r->last_ms < HTTP_NOTICE_INTERVAL_MS) {
        if (!uv_is_active((uv_handle_t *)&s->reporter))
            uv_timer_start(&s->reporter, on_reporter, HTTP_NOTICE_INTERVAL_MS - (now - r->last_ms),
                           0);
        return false;
    }
    r->last_ms = now;
    r->used = true;
    return true;
}

static void report_all(struct http_server *s)
{
    char msg[320];
    if (due(s, &s->limited)) {
        snprintf(
            msg, sizeof(msg),
            "%llu HTTP connection(s) turned away at the cap with 503 (%llu open, at most %llu; "
            "%llu since the start)",
            (unsigned long long)(s->limited.count - s->limited.reported),
            (unsigned long long)s->stats.open, (unsigned long long)s->stats.max_open,
            (unsigned long long)s->limited.count);
        s->limited.reported = s->limited.count;
        if (s->notice)
            s->notice(s->notice_ctx, "http.connection_limit", msg);
    }
    if (due(s, &s->accept_failed)) {
        snprintf(msg, sizeof(msg),
                 "accepting HTTP connections failed %llu time(s): %s; backing off (at most %d ms) "
                 "until descriptors free up (%llu open; %llu since the start)",
                 (unsigned long long)(s->accept_failed.count - s->accept_failed.reported),
                 strerror(s->accept_errno), HTTP_ACCEPT_BACKOFF_MAX_MS,
                 (unsigned long long)s->stats.open, (unsigned long long)s->accept_failed.count);
        s->accept_failed.reported = s->accept_failed.count;
        if (s->notice)
            s->notice(s->notice_ctx, "http.accept_failed", msg);
    }
}

static void on_reporter(uv_timer_t *t)
{
    report_all(t->data);
}

/* ---- writing ---- */

struct out {
    uv_write_t w;
    struct conn *c;
    char data[];
};

static void on_written(uv_write_t *w, int status);

/* Sends len bytes of o (from out_alloc) to c, which frees it once written. */
static void out_send(struct conn *c, struct out *o, size_t len)
{
    o->c = c;
    uv_buf_t b = uv_buf_init(o->data, (unsigned)len);
    if (uv_write(&o->w, (uv_stream_t *)&c->tcp, &b, 1, on_written) != 0) {
        free(o);
        close_conn(c);
        return;
    }
    c->writes++;
}

/* Queues len bytes (copied) to c. */
static void write_out(struct conn *c, const char *data, size_t len)
{
    struct out *o = malloc(sizeof(*o) + len);
    if (!o) {
        close_conn(c);
        return;
    }
    memcpy(o->data, data, len);
    out_send(c, o, len);
}

static void start_reading(struct conn *c);

static void on_shutdown(uv_shutdown_t *r, int status)
{
    (void)r;
    (void)status; /* a failed one ends in a read error, or the linger deadline */
}

/* The last answer is out: half-close, then drop what the client still sends
 * until it closes or LINGER_MS pass. */
static void linger(struct conn *c)
{
    c->state = C_LINGER;
    arm(c, LINGER_MS);
    if (uv_shutdown(&c->shut, (uv_stream_t *)&c->tcp, on_shutdown) != 0) {
        close_conn(c);
        return;
    }
    start_reading(c);
}

/* An answer was written: the next request (already read, or to come). */
static void answered(struct conn *c)
{
    if (c->close_after || c->s->stopping) {
        linger(c);
        return;
    }
    c->served = true;
    c->state = C_IDLE;
    arm(c, c->s->idle_ms);
    if (c->rest) {
        char *buf = c->rest;
        size_t len = c->rest_len;
        c->rest = NULL;
        c->rest_len = 0;
        feed(c, buf, len);
        free(buf);
    }
    if (c->state == C_IDLE || c->state == C_HEAD || c->state == C_BODY)
        start_reading(c);
}

static void on_written(uv_write_t *w, int status)
{
    struct out *o = (struct out *)w;
    struct conn *c = o->c;
    free(o);
    c->writes--;
    if (c->state == C_CLOSED)
        return;
    if (status < 0)
        close_conn(c);
    else if (c->state == C_WRITING && c->writes == 0)
        answered(c);
}

#define ANSWER_HEAD                                                                                \
    "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nCache-Control: no-store\r\n"     \
    "%s%s%s%s\r\n"

/* Writes an answer with today's headers, in one write and one copy of the
 * body; close: the connection ends after it. */
static void send_answer(struct conn *c, int status, const char *ctype, const char *body, size_t len,
                        const char *location, bool head, bool close)
{
    const char *conn_hdr = close ? "Connection: close\r\n"
                           : c->parser.http_major == 1 && c->parser.http_minor == 0
                               ? "Connection: keep-alive\r\n"
                               : "";
    const char *reason = http_status_str((enum http_status)status);
    if (strcmp(reason, "<unknown>") == 0)
        reason = "Status";
    const char *loc[3] = {"", "", ""};
    if (location) {
        loc[0] = "Location: ";
        loc[1] = location;
        loc[2] = "\r\n";
    }
    int hl = snprintf(NULL, 0, ANSWER_HEAD, status, reason, ctype, len, loc[0], loc[1], loc[2],
                      conn_hdr);
    size_t blen = head ? 0 : len;
    struct out *o = hl < 0 ? NULL : malloc(sizeof(*o) + (size_t)hl + 1 + blen);
    if (!o) {
        close_conn(c);
        return;
    }
    snprintf(o->data, (size_t)hl + 1, ANSWER_HEAD, status, reason, ctype, len, loc[0], loc[1],
             loc[2], conn_hdr);
    if (blen)
        memcpy(o->data + hl, body, blen);
    c->close_after = close;
    c->state = C_WRITING;
    arm(c, c->s->idle_ms); /* a client that never reads its answer */
    out_send(c, o, (size_t)hl + blen);
}

/* An answer decided before the handler saw the request: JSON, and the
 * connection closed after it (its body, if any, was not read). */
static void refuse(struct conn *c, int status, const char *msg)
{
    json_t *j = json_pack("{s:s}", "error", msg);
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    char line[400];
    int n = snprintf(line, sizeof(line), "%s\n", text ? text : "{\"error\":\"out of memory\"}");
    free(text);
    if (c->p) {
        pending_free(c->p);
        c->p = NULL;
    }
    send_answer(c, status, "application/json", line, (size_t)n, NULL, false, true);
}

/* ---- reading and parsing ---- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    struct conn *c = h->data;
    *buf = uv_buf_init(c->s->rbuf, sizeof(c->s->rbuf));
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    struct conn *c = st->data;
    if (nread < 0) {
        close_conn(c); /* the client closed (or reset) its end */
        return;
    }
    if (nread == 0 || c->state == C_LINGER)
        return;
    feed(c, buf->base, (size_t)nread);
}

static void start_reading(struct conn *c)
{
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0)
        close_conn(c);
}

/* Records why the request is refused and stops the parser (a callback
 * returning non-zero); feed answers it. */
static int stop_parsing(struct conn *c, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int stop_parsing(struct conn *c, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->refuse_msg, sizeof(c->refuse_msg), fmt, ap);
    va_end(ap);
    c->refuse_status = status;
    return -1;
}

/* Counts bytes of the request line and headers against their cap. */
static int count_head(struct conn *c, size_t len)
{
    c->head_bytes += len;
    if (c->head_bytes <= HTTP_MAX_HEADER_BYTES)
        return 0;
    return stop_parsing(c, 431,
                        "the request line and headers are over %u bytes; at most %u are accepted",
                        HTTP_MAX_HEADER_BYTES, HTTP_MAX_HEADER_BYTES);
}

static int on_begin(http_parser *hp)
{
    struct conn *c = hp->data;
    c->p = calloc(1, sizeof(*c->p));
    if (!c->p)
        return stop_parsing(c, 503, "out of memory");
    c->p->c = c;
    c->head_bytes = 0;
    c->field_len = 0;
    c->in_value = false;
    c->which = H_OTHER;
    c->expect_len = 0;
    if (c->state == C_IDLE)
        arm(c, c->s->header_ms); /* from the first byte of this request */
    c->state = C_HEAD;
    return 0;
}

static int on_url(http_parser *hp, const char *at, size_t len)
{
    struct conn *c = hp->data;
    struct pending *p = c->p;
    if (p->uri_len + len > HTTP_MAX_URI)
        return stop_parsing(c, 414, "the URL is over %u bytes long; at most %u are accepted",
                            HTTP_MAX_URI, HTTP_MAX_URI);
    if (count_head(c, len))
        return -1;
    char *u = realloc(p->uri, p->uri_len + len + 1);
    if (!u)
        return stop_parsing(c, 503, "out of memory");
    memcpy(u + p->uri_len, at, len);
    p->uri = u;
    p->uri_len += len;
    u[p->uri_len] = '\0';
    return 0;
}

static int on_field(http_parser *hp, const char *at, size_t len)
{
    struct conn *c = hp->data;
    if (c->in_value || c->field_len == 0) {
        c->in_value = false;
        c->field_len = 0;
        if (count_head(c, 4)) /* ": " and CRLF */
            return -1;
    }
    if (count_head(c, len))
        return -1;
    for (size_t i = 0; i < len; i++, c->field_len++)
        if (c->field_len < FIELD_MAX - 1)
            c->field[c->field_len] = at[i];
    c->field[c->field_len < FIELD_MAX ? c->field_len : FIELD_MAX - 1] = '\0';
    return 0;
}

static void append(char *dst, size_t *dlen, size_t cap, const char *at, size_t len)
{
    size_t n = *dlen + len < cap ? len : cap - *dlen;
    memcpy(dst + *dlen, at, n);
    *dlen += n;
    dst[*dlen] = '\0';
}

static int on_value(http_parser *hp, const char *at, size_t len)
{
    struct conn *c = hp->data;
    if (count_head(c, len))
        return -1;
    if (!c->in_value) {
        c->in_value = true;
        c->which = H_OTHER;
        if (c->field_len < FIELD_MAX && strcasecmp(c->field, "Authorization") == 0 &&
            c->p->auth_len == 0)
            c->which = H_AUTH;
        else if (c->field_len < FIELD_MAX && strcasecmp(c->field, "Expect") == 0)
            c->which = H_EXPECT;
    }
    if (c->which == H_AUTH)
        append(c->p->auth, &c->p->auth_len, AUTH_MAX, at, len);
    else if (c->which == H_EXPECT)
        append(c->expect, &c->expect_len, EXPECT_MAX - 1, at, len);
    return 0;
}

int http_head_verdict(const struct http_head *h, const char *token, bool *send_continue, char *msg,
                      size_t msglen)
{
    *send_continue = false;
    if (h->transfer_encoding) {
        snprintf(msg, msglen,
                 "a chunked request body (Transfer-Encoding) is not accepted: send the body with "
                 "a Content-Length header");
        return 411;
    }
    bool cont = *h->expect && strcasecmp(h->expect, "100-continue") == 0;
    if (*h->expect && !cont) {
        char shown[41];
        size_t k = 0;
        for (; h->expect[k] && k < sizeof(shown) - 1; k++) /* JSON-safe */
            shown[k] = h->expect[k] >= ' ' && h->expect[k] <= '~' ? h->expect[k] : '?';
        shown[k] = '\0';
        snprintf(msg, msglen, "Expect: \"%s\" is not supported (only 100-continue is)", shown);
        return 417;
    }
    if (h->length > HTTP_MAX_BODY) {
        snprintf(msg, msglen, "the request body is %llu bytes; at most %u are accepted",
                 (unsigned long long)h->length, HTTP_MAX_BODY);
        return 413;
    }
    const char *given = http_bearer_token(h->auth);
    if (h->length > HTTP_MAX_UNAUTH_BODY && !(given && http_token_equal(given, token))) {
        snprintf(msg, msglen,
                 "the request body is %llu bytes; without the admin token "
                 "(\"Authorization: Bearer <admin token>\") at most %u are read",
                 (unsigned long long)h->length, HTTP_MAX_UNAUTH_BODY);
        return 413;
    }
    *send_continue = cont && h->length > 0 && h->http11;
    return 0;
}

/* Decides from the headers, before any body byte is read, whether the
 * request goes on; a refusal stops the parser. */
static int on_headers(http_parser *hp)
{
    struct conn *c = hp->data;
    struct pending *p = c->p;
    c->keep_alive = http_should_keep_alive(hp) && !hp->upgrade;
    struct http_head h = {
        .auth = p->auth,
        .expect = c->expect,
        .length = (hp->flags & F_CONTENTLENGTH) ? hp->content_length : 0,
        .transfer_encoding = (hp->flags & F_CHUNKED) || hp->uses_transfer_encoding,
        .http11 = hp->http_major > 1 || hp->http_minor >= 1,
    };
    bool cont;
    int status = http_head_verdict(&h, c->s->token, &cont, c->refuse_msg, sizeof(c->refuse_msg));
    if (status) {
        c->refuse_status = status;
        return -1;
    }
    if (!p->uri)
        return stop_parsing(c, 400, "malformed request: no URL");
    snprintf(p->method, sizeof(p->method), "%s", http_method_str((enum http_method)hp->method));
    p->head = hp->method == HTTP_HEAD;
    if (h.length == 0)
        return 0;
    if (!(p->body = malloc(h.length)))
        return stop_parsing(c, 503, "out of memory");
    p->req.body = p->body;
    c->state = C_BODY;
    arm(c, c->s->body_ms);
    if (cont) {
        static const char go[] = "HTTP/1.1 100 Continue\r\n\r\n";
        write_out(c, go, sizeof(go) - 1);
    }
    return 0;
}

static int on_body(http_parser *hp, const char *at, size_t len)
{
    struct conn *c = hp->data;
    struct pending *p = c->p;
    if (c->state == C_CLOSED) /* a write failed in on_headers */
        return -1;
    memcpy(p->body + p->req.body_len, at, len); /* the parser stops at Content-Length */
    p->req.body_len += len;
    return 0;
}

static int on_complete(http_parser *hp)
{
    struct conn *c = hp->data;
    if (c->state == C_CLOSED)
        return -1;
    c->state = C_HANDLER;
    http_parser_pause(hp, 1); /* one request in flight: feed hands it over */
    return 0;
}

static const http_parser_settings parse_settings = {
    .on_message_begin = on_begin,
    .on_url = on_url,
    .on_header_field = on_field,
    .on_header_value = on_value,
    .on_headers_complete = on_headers,
    .on_body = on_body,
    .on_message_complete = on_complete,
};

/* What the parser refused, as an answer. */
static void refuse_parse_error(struct conn *c)
{
    enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
    char msg[200];
    if (c->refuse_status) {
        refuse(c, c->refuse_status, c->refuse_msg);
        return;
    }
    switch (e) {
    case HPE_HEADER_OVERFLOW:
        snprintf(msg, sizeof(msg),
                 "the request line and headers are over %u bytes; at most %u are accepted",
                 HTTP_MAX_HEADER_BYTES, HTTP_MAX_HEADER_BYTES);
        refuse(c, 431, msg);
        return;
    case HPE_INVALID_TRANSFER_ENCODING:
        refuse(c, 411,
               "a chunked request body (Transfer-Encoding) is not accepted: send the body with a "
               "Content-Length header");
        return;
    case HPE_INVALID_CONTENT_LENGTH:
    case HPE_UNEXPECTED_CONTENT_LENGTH:
        refuse(c, 400, "malformed request: Content-Length is not one number of bytes");
        return;
    default:
        snprintf(msg, sizeof(msg), "malformed request: %s", http_errno_description(e));
        refuse(c, 400, msg);
    }
}

/* Hands the complete request to the handler. */
static void dispatch(struct conn *c)
{
    struct pending *p = c->p;
    arm(c, 0); /* the handler's time is the node's to bound */
    char *q = strchr(p->uri, '?');
    if (q)
        *q++ = '\0';
    p->req.method = p->method;
    p->req.path = p->uri;
    p->req.query = q ? q : "";
    p->req.auth = p->auth;
    p->req.priv = p;
    c->s->handler(c->s->ctx, &p->req);
}

/* Parses what was read; a complete request pauses the parser, keeps what
 * follows it for later and goes to the handler. */
static void feed(struct conn *c, const char *data, size_t len)
{
    if (c->state == C_HANDLER || c->state == C_WRITING) {
        char *r = realloc(c->rest, c->rest_len + len); /* read before reading stopped */
        if (!r) {
            close_conn(c);
            return;
        }
        memcpy(r + c->rest_len, data, len);
        c->rest = r;
        c->rest_len += len;
        return;
    }
    size_t n = http_parser_execute(&c->parser, &parse_settings, data, len);
    enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
    if (c->state == C_CLOSED)
        return;
    if (e == HPE_PAUSED) {
        http_parser_pause(&c->parser, 0);
        uv_read_stop((uv_stream_t *)&c->tcp);
        if (n < len && !(c->rest = malloc(len - n))) {
            pending_free(c->p); /* never handed over */
            c->p = NULL;
            close_conn(c);
            return;
        }
        if (n < len)
            memcpy(c->rest, data + n, c->rest_len = len - n);
        dispatch(c);
        return;
    }
    if (e != HPE_OK) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        refuse_parse_error(c);
    }
}

static void on_timeout(uv_timer_t *t)
{
    struct conn *c = t->data;
    if (c->state == C_HEAD || c->state == C_BODY || c->state == C_WRITING)
        c->s->stats.timed_out++;
    close_conn(c);
}

static void on_conn_handle_closed(uv_handle_t *h)
{
    struct conn *c = h->data;
    if (--c->handles > 0)
        return;
    struct http_server *s = c->s;
    free(c);
    server_release(s);
}

static void close_conn(struct conn *c)
{
    if (c->state == C_CLOSED)
        return;
    struct http_server *s = c->s;
    if (c->p) {
        if (c->state == C_HANDLER)
            c->p->c = NULL; /* the handler still holds it: its answer is dropped */
        else
            pending_free(c->p);
        c->p = NULL;
    }
    c->state = C_CLOSED;
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    if (c->counted)
        s->stats.open--;
    free(c->rest);
    c->rest = NULL;
    uv_close((uv_handle_t *)&c->timer, on_conn_handle_closed);
    uv_close((uv_handle_t *)&c->tcp, on_conn_handle_closed);
}

const char *http_bearer_token(const char *auth)
{
    static const char scheme[] = "Bearer";
    size_t n = sizeof(scheme) - 1;
    if (strncasecmp(auth, scheme, n) != 0 || auth[n] != ' ')
        return NULL;
    return auth + n + strspn(auth + n, " ");
}

bool http_token_equal(const char *given, const char *token)
{
    size_t tlen = strlen(token);
    return tlen && strlen(given) == tlen && sodium_memcmp(given, token, tlen) == 0;
}

/* ---- accepting ---- */

static void on_listen(uv_poll_t *h, int status, int events);

static void on_backoff(uv_timer_t *t)
{
    struct http_server *s = t->data;
    if (!s->stopping)
        uv_poll_start(&s->poll, UV_READABLE, on_listen);
}

/* accept() failed for want of descriptors (or memory): stop polling the
 * listener, which would report it readable at once, and try again later. */
static void accept_failed(struct http_server *s, int err)
{
    s->stats.accept_errors++;
    s->accept_failed.count++;
    s->accept_errno = err;
    s->backoff_ms = s->backoff_ms ? 2 * s->backoff_ms : HTTP_ACCEPT_BACKOFF_MIN_MS;
    if (s->backoff_ms > HTTP_ACCEPT_BACKOFF_MAX_MS)
        s->backoff_ms = HTTP_ACCEPT_BACKOFF_MAX_MS;
    uv_poll_stop(&s->poll);
    uv_timer_start(&s->backoff, on_backoff, s->backoff_ms, 0);
    report_all(s);
}

static void adopt(struct http_server *s, int fd)
{
    struct conn *c = calloc(1, sizeof(*c));
    if (!c) {
        close(fd);
        return;
    }
    c->s = s;
    if (uv_tcp_init(s->loop, &c->tcp) != 0) {
        free(c);
        close(fd);
        return;
    }
    uv_timer_init(s->loop, &c->timer);
    c->tcp.data = c->timer.data = c;
    c->handles = 2;
    s->handles++;
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;
    c->state = C_HEAD;
    if (uv_tcp_open(&c->tcp, fd) != 0) {
        close(fd);
        close_conn(c);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    if (s->stats.open >= s->stats.max_open) {
        s->stats.refused++;
        s->limited.count++;
        char msg[160];
        snprintf(msg, sizeof(msg), "too many HTTP connections (at most %llu); try again later",
                 (unsigned long long)s->stats.max_open);
        refuse(c, 503, msg);
        report_all(s);
        return;
    }
    c->counted = true;
    s->stats.open++;
    arm(c, s->header_ms);
    start_reading(c);
}

static void on_listen(uv_poll_t *h, int status, int events)
{
    (void)events;
    struct http_server *s = h->data;
    if (status < 0) {
        accept_failed(s, -status);
        return;
    }
    for (int i = 0; i < ACCEPT_BATCH && !s->stopping; i++) {
        int fd = accept4(s->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            s->backoff_ms = 0;
            adopt(s, fd);
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            return;
        } else if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO || errno == EPERM) {
            continue; /* that connection is gone; the next may be fine */
        } else {
            accept_failed(s, errno);
            return;
        }
    }
}

/* The listening socket for hostport ("host:port", "[v6]:port", ":port"). */
static int listen_on(struct http_server *s, const char *hostport, char *err, size_t errlen)
{
    const char *colon = strrchr(hostport, ':');
    char host[256], port[16];
    size_t hl = colon ? (size_t)(colon - hostport) : 0;
    if (!colon || hl >= sizeof(host) || !colon[1] || strlen(colon + 1) >= sizeof(port) ||
        strspn(colon + 1, "0123456789") != strlen(colon + 1)) {
        snprintf(err, errlen, "--http: \"%s\" is not a valid host:port", hostport);
        return UV_EINVAL;
    }
    memcpy(host, hostport, hl);
    host[hl] = '\0';
    snprintf(port, sizeof(port), "%s", colon + 1);
    char *h = host;
    if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {
        host[hl - 1] = '\0';
        h = host + 1;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    int gai = getaddrinfo(*h ? h : NULL, port, &hints, &res);
    if (gai != 0) {
        snprintf(err, errlen, "--http: cannot resolve \"%s\": %s", hostport, gai_strerror(gai));
        return UV_EINVAL;
    }
    int fd = -1, last = EADDRNOTAVAIL;
    for (struct addrinfo *a = res; a && fd < 0; a = a->ai_next) {
        fd = socket(a->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        int one = 1;
        if (fd >= 0 && (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
                        bind(fd, a->ai_addr, a->ai_addrlen) != 0 || listen(fd, 511) != 0)) {
            last = errno;
            close(fd);
            fd = -1;
        } else if (fd < 0) {
            last = errno;
        }
    }
    freeaddrinfo(res);
    if (fd < 0) {
        if (last == EADDRINUSE)
            snprintf(err, errlen, "--http: %s is already in use; pick a free port", hostport);
        else
            snprintf(err, errlen, "--http: cannot serve on %s: %s", hostport, strerror(last));
        return -last;
    }
    s->fd = fd;
    return 0;
}

/* A hidden override for tests (see http.h), else dflt. */
static uint64_t tunable(const char *name, uint64_t dflt)
{
    const char *v = getenv(name);
    char *end;
    unsigned long long n = v ? strtoull(v, &end, 10) : 0;
    return v && *v && !*end && n > 0 ? n : dflt;
}

/* HTTP_MAX_CONNS, or half the open files limit when that is lower. */
static uint64_t conn_cap(void)
{
    uint64_t cap = HTTP_MAX_CONNS;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur / 2 < cap)
        cap = rl.rlim_cur / 2 > 0 ? rl.rlim_cur / 2 : 1;
    return tunable("CHIMERAD_TEST_HTTP_MAX_CONNS", cap);
}

int http_start(struct http_server **out, uv_loop_t *loop, const char *hostport,
               http_handler_fn handler, void *ctx, char *err, size_t errlen)
{
    struct http_server *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(err, errlen, "http: out of memory");
        return UV_ENOMEM;
    }
    int rv = listen_on(s, hostport, err, errlen);
    if (rv != 0) {
        free(s);
        return rv;
    }
    s->loop = loop;
    s->handler = handler;
    s->ctx = ctx;
    s->header_ms = tunable("CHIMERAD_TEST_HTTP_HEADER_TIMEOUT_MS", HTTP_HEADER_TIMEOUT_MS);
    s->body_ms = tunable("CHIMERAD_TEST_HTTP_BODY_TIMEOUT_MS", HTTP_BODY_TIMEOUT_MS);
    s->idle_ms = tunable("CHIMERAD_TEST_HTTP_IDLE_TIMEOUT_MS", HTTP_IDLE_TIMEOUT_MS);
    s->stats.max_open = conn_cap();
    uv_poll_init(loop, &s->poll, s->fd);
    uv_timer_init(loop, &s->backoff);
    uv_timer_init(loop, &s->reporter);
    s->poll.data = s->backoff.data = s->reporter.data = s;
    s->handles = 3;
    uv_poll_start(&s->poll, UV_READABLE, on_listen);
    *out = s;
    return 0;
}

void http_set_admin_token(struct http_server *s, const char *token)
{
    snprintf(s->token, sizeof(s->token), "%s", token ? token : "");
}

void http_set_notice(struct http_server *s, http_notice_fn fn, void *ctx)
{
    s->notice = fn;
    s->notice_ctx = ctx;
}

const struct http_stats *http_stats(const struct http_server *s)
{
    return &s->stats;
}

void http_stop(struct http_server *s)
{
    s->stopping = true;
    uv_close((uv_handle_t *)&s->poll, on_handle_closed);
    close(s->fd); /* uv_close stopped polling it */
    uv_close((uv_handle_t *)&s->backoff, on_handle_closed);
    uv_close((uv_handle_t *)&s->reporter, on_handle_closed);
    while (s->conns)
        close_conn(s->conns);
}

void http_respond(struct http_request *req, int status, const char *content_type, const char *body,
                  size_t len)
{
    struct pending *p = req->priv;
    struct conn *c = p->c;
    if (c && c->state == C_HANDLER) {
        c->p = NULL;
        send_answer(c, status, content_type, body, len, p->req.location, p->head,
                    !c->keep_alive || c->s->stopping);
    }
    pending_free(p);
}

void http_respond_json(struct http_request *req, int status, json_t *body)
{
    char *text = body ? json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    json_decref(body);
    if (!text) {
        static const char oom[] = "{\"error\":\"out of memory\"}\n";
        http_respond(req, 500, "application/json", oom, sizeof(oom) - 1);
        return;
    }
    size_t n = strlen(text);
    char *line = realloc(text, n + 2);
    if (line) {
        text = line;
        text[n++] = '\n';
        text[n] = '\0';
    }
    http_respond(req, status, "application/json", text, n);
    free(text);
}

void http_respond_error(struct http_request *req, int status, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    http_respond_json(req, status, json_pack("{s:s}", "error", msg));
}

/* A key as a message may show it: printable ASCII, at most 64 bytes (the
 * answer must stay valid UTF-8 and one line). */
static void show_key(const char *key, char *out, size_t cap)
{
    size_t k = 0;
    for (const char *c = key; *c && k + 4 < cap; c++)
        out[k++] = *c >= ' ' && *c < 0x7f ? *c : '?';
    if (key[k] != '\0') {
        memcpy(out + k, "...", 3);
        k += 3;
    }
    out[k] = '\0';
}

static json_t *refuse_body(struct http_body_error *e, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static json_t *refuse_body(struct http_body_error *e, const char *path, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
    va_end(ap);
    snprintf(e->path, sizeof(e->path), "%s", path);
    return NULL;
}

json_t *http_body_parse(const void *data, size_t len, const char *const known[], const char *expect,
                        struct http_body_error *e)
{
    if (len == 0)
        return refuse_body(e, "", "empty body: expected %s", expect);
    json_error_t je;
    json_t *body = json_loadb(data, len, JSON_REJECT_DUPLICATES, &je);
    if (!body && je.line > 0)
        return refuse_body(e, "", "body: not JSON: %s (line %d, column %d); expected %s", je.text,
                           je.line, je.column, expect);
    if (!body)
        return refuse_body(e, "", "body: not JSON: %s; expected %s", je.text, expect);
    if (!json_is_object(body)) {
        json_decref(body);
        return refuse_body(e, "", "body: not a JSON object; expected %s", expect);
    }
    const char *key;
    json_t *v;
    json_object_foreach(body, key, v)
    {
        size_t k = 0;
        while (known[k] && strcmp(known[k], key) != 0)
            k++;
        if (known[k])
            continue;
        char list[256] = "", shown[68];
        for (k = 0; known[k]; k++) {
            size_t n = strlen(list);
            snprintf(list + n, sizeof(list) - n, "%s\"%s\"", k ? ", " : "", known[k]);
        }
        show_key(key, shown, sizeof(shown));
        json_decref(body);
        return refuse_body(e, shown, "unknown key \"%s\"; known keys here are %s (expected %s)",
                           shown, list, expect);
    }
    return body;
}

void http_body_refuse(struct http_request *req, const struct http_body_error *e)
{
    http_respond_json(req, 400, json_pack("{s:s, s:s}", "error", e->msg, "path", e->path));
}

json_t *http_body_object(struct http_request *req, const char *const known[], const char *expect)
{
    struct http_body_error e;
    json_t *body = http_body_parse(req->body, req->body_len, known, expect, &e);
    if (!body)
        http_body_refuse(req, &e);
    return body;
}

int http_query_param(const char *query, const char *name, char *buf, size_t buflen)
{
    size_t nlen = strlen(name);
    for (const char *p = query; p && *p;) {
        const char *end = strchr(p, '&');
        size_t plen = end ? (size_t)(end - p) : strlen(p);
        if (plen >= nlen && strncmp(p, name, nlen) == 0 && (plen == nlen || p[nlen] == '=')) {
            const char *v = plen == nlen ? p + plen : p + nlen + 1;
            size_t vlen = plen - (size_t)(v - p);
            if (vlen >= buflen)
                vlen = buflen - 1;
            memcpy(buf, v, vlen);
            buf[vlen] = '\0';
            return 1;
        }
        p = end ? end + 1 : NULL;
    }
    return 0;
}
