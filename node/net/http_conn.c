/* One HTTP connection's state machine: reading and parsing a request
 * (libhttp-parser, paused while one is in flight), the header, body and
 * write deadlines, handing the request to the handler, writing its answer,
 * keep-alive and pipelining, lingering after the last answer, and closing
 * (every close path ends in http_conn_close, which gives back the place
 * under the cap). */
#include "node/net/http_conn.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* After a refusal the client may still be sending (a body it was told not
 * to send): read and drop it for this long, or closing with unread bytes
 * would reset the connection before the client read the answer. */
#define LINGER_MS 2000

static void feed(struct conn *c, const char *data, size_t len);

static void pending_free(struct pending *p)
{
    free(p->uri);
    free(p->body);
    free(p);
}

static void on_timeout(uv_timer_t *t);

/* The deadline of c's current state, ms from now; 0: none. A request takes
 * a connection through four states (headers, body, handler, idle), each
 * with its own deadline, and restarting libuv's timer for each (a heap
 * removal and insertion) showed in a loaded leader's profile. So the timer
 * is started again only when the new deadline comes before it fires; when
 * it fires before the deadline (the deadline moved later meanwhile), it is
 * started again for the rest, and with no deadline it does nothing. A
 * keep-alive connection's timer then fires about once per header timeout
 * instead of being restarted four times per request; every deadline holds
 * to the millisecond as before. */
static void arm(struct conn *c, uint64_t ms)
{
    if (ms == 0) {
        c->deadline = 0;
        return;
    }
    uint64_t due = uv_now(c->s->loop) + ms;
    c->deadline = due;
    if (!uv_is_active((uv_handle_t *)&c->timer) || due < c->timer_due) {
        uv_timer_start(&c->timer, on_timeout, ms, 0);
        c->timer_due = due;
    }
}

void http_conn_arm(struct conn *c, uint64_t ms)
{
    arm(c, ms);
}

bool http_conn_armed(const struct conn *c)
{
    return c->deadline != 0;
}

/* ---- writing ---- */

struct out {
    uv_write_t w;
    struct conn *c;
    struct http_chunk *ch; /* the bytes lie in this shared chunk, not in data */
    char data[];
};

static void on_written(uv_write_t *w, int status);

static void out_free(struct out *o)
{
    if (o->ch)
        http_chunk_unref(o->ch);
    free(o);
}

/* Sends len bytes at base (in o's data, or in its chunk) to c, which frees
 * o once written. 0, or -1 when c was closed. */
static int out_send_at(struct conn *c, struct out *o, const char *base, size_t len)
{
    o->c = c;
    uv_buf_t b = uv_buf_init((char *)base, (unsigned)len);
    if (uv_write(&o->w, (uv_stream_t *)&c->tcp, &b, 1, on_written) != 0) {
        out_free(o);
        http_conn_close(c);
        return -1;
    }
    c->writes++;
    return 0;
}

static int out_send(struct conn *c, struct out *o, size_t len)
{
    return out_send_at(c, o, o->data, len);
}

int http_conn_write(struct conn *c, const char *data, size_t len, struct http_chunk *owner)
{
    struct out *o = calloc(1, sizeof(*o) + (owner ? 0 : len));
    if (!o) {
        http_conn_close(c);
        return -1;
    }
    if (owner)
        o->ch = http_chunk_ref(owner);
    else
        memcpy(o->data, data, len);
    return out_send_at(c, o, owner ? data : o->data, len);
}

/* Queues len bytes (copied) to c. */
static void write_out(struct conn *c, const char *data, size_t len)
{
    http_conn_write(c, data, len, NULL);
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
        http_conn_close(c);
        return;
    }
    start_reading(c);
}

/* An answer was written: the next request (already read, or to come).
 * Inside feed (the handler it called answered at once), feed goes on with
 * what follows in its own buffer; there is no rest then. */
static void answered(struct conn *c)
{
    if (c->close_after || c->s->stopping) {
        linger(c);
        return;
    }
    c->state = C_IDLE;
    arm(c, c->s->idle_ms);
    if (c->feeding)
        return;
    if (c->rest) {
        char *buf = c->rest;
        size_t len = c->rest_len;
        c->rest = NULL;
        c->rest_len = 0;
        feed(c, buf, len);
        free(buf);
    }
    if (c->state != C_IDLE && c->state != C_HEAD && c->state != C_BODY)
        return;
    if (c->eof)
        http_conn_close(c); /* the client said all it had to say, and was answered */
    else
        start_reading(c);
}

static void on_written(uv_write_t *w, int status)
{
    struct out *o = (struct out *)w;
    struct conn *c = o->c;
    out_free(o);
    c->writes--;
    if (c->state == C_CLOSED)
        return;
    if (status < 0)
        http_conn_close(c);
    else if (c->state == C_WRITING && c->writes == 0)
        answered(c);
    else if (c->state == C_STREAM)
        http_stream_written(c);
}

/* Queues the bytes of bufs that a write at once did not take (done of
 * them went), copied into one out. 0, or -1 when c was closed. */
static int queue_rest(struct conn *c, const uv_buf_t *bufs, unsigned nbufs, size_t done)
{
    size_t total = 0;
    for (unsigned i = 0; i < nbufs; i++)
        total += bufs[i].len;
    struct out *o = calloc(1, sizeof(*o) + (total - done));
    if (!o) {
        http_conn_close(c);
        return -1;
    }
    size_t at = 0;
    for (unsigned i = 0; i < nbufs; i++) {
        size_t skip = done < bufs[i].len ? done : bufs[i].len;
        done -= skip;
        memcpy(o->data + at, bufs[i].base + skip, bufs[i].len - skip);
        at += bufs[i].len - skip;
    }
    return out_send(c, o, at);
}

long http_conn_answer(struct conn *c, struct http_answer a, bool preflight, const char *more,
                      const char *body, size_t blen)
{
    char extra[ORIGIN_MAX + 512] = "";
    if (c->origin[0] && http_cors_allowed(c->s->cors, c->origin))
        snprintf(extra, sizeof(extra), "Access-Control-Allow-Origin: %s\r\nVary: Origin\r\n%s",
                 c->origin,
                 preflight ? "Access-Control-Allow-Methods: GET, HEAD, POST\r\n"
                             "Access-Control-Allow-Headers: Authorization, Content-Type, "
                             "Last-Event-ID\r\nAccess-Control-Max-Age: 600\r\n"
                           : "");
    snprintf(extra + strlen(extra), sizeof(extra) - strlen(extra), "%s", more);
    a.extra = extra;
    /* the head is built on the stack: one that does not fit (a long
     * Location, say) is built again on the heap */
    char stack[2048], *head = stack;
    int hl = http_answer_head(stack, sizeof(stack), &a);
    if (hl >= (int)sizeof(stack) && (head = malloc((size_t)hl + 1)))
        http_answer_head(head, (size_t)hl + 1, &a);
    if (hl < 0 || !head) {
        http_conn_close(c);
        return -1;
    }
    /* Header and body in one write, at once when nothing is queued ahead
     * of it (the usual case: the socket takes a small answer whole), so an
     * answer costs one writev and no allocation; only what the socket does
     * not take is copied and queued. A connection with pipelined requests
     * kept (rest) answers through the queue: its next request is then read
     * from on_written, never from inside the handler's http_respond (a
     * handler must not be re-entered). */
    uv_buf_t bufs[2] = {uv_buf_init(head, (unsigned)hl), uv_buf_init((char *)body, (unsigned)blen)};
    unsigned nbufs = blen ? 2 : 1;
    size_t total = (size_t)hl + blen, done = 0;
    if (c->writes == 0 && !c->rest) {
        int n = uv_try_write((uv_stream_t *)&c->tcp, bufs, nbufs);
        if (n < 0 && n != UV_EAGAIN) {
            if (head != stack)
                free(head);
            http_conn_close(c); /* the client is gone */
            return -1;
        }
        done = n > 0 ? (size_t)n : 0;
    }
    int rv = done < total ? queue_rest(c, bufs, nbufs, done) : 0;
    if (head != stack)
        free(head);
    return rv == 0 ? (long)total : -1;
}

/* Writes an answer with today's headers, in one write and one copy of the
 * body; close: the connection ends after it. req: the handler's headers
 * (Location, Cache-Control, ETag), or NULL. */
static void send_answer(struct conn *c, int status, const char *ctype, const char *body, size_t len,
                        const struct http_request *req, bool head, bool close)
{
    struct http_answer a = {
        .status = status,
        .ctype = ctype,
        .len = len,
        .location = req ? req->location : NULL,
        .cache = req ? req->cache_control : NULL,
        .etag = req ? req->etag : NULL,
        .conn_hdr = close ? "Connection: close\r\n"
                    : c->parser.http_major == 1 && c->parser.http_minor == 0
                        ? "Connection: keep-alive\r\n"
                        : "",
    };
    c->close_after = close;
    c->state = C_WRITING;
    if (http_conn_answer(c, a, status == 204 && c->preflight, "", body, head ? 0 : len) < 0)
        return;
    if (c->writes == 0)
        answered(c); /* the socket took it all at once */
    else
        arm(c, c->refusing ? LINGER_MS : c->s->idle_ms); /* a client that never reads its answer */
}

void http_conn_refuse(struct conn *c, int status, const char *msg)
{
    char line[400];
    int n = http_error_body(line, sizeof(line), msg);
    bool head = c->p && c->p->head;
    if (c->p) {
        pending_free(c->p);
        c->p = NULL;
    }
    send_answer(c, status, "application/json", line, (size_t)n, NULL, head, true);
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
    if (nread == UV_EOF && (c->state == C_HANDLER || c->state == C_WRITING)) {
        /* a client may half-close once it has sent its request(s) (libuv
         * stopped reading): they are answered, then the connection ends */
        c->reading = false;
        c->eof = true;
        return;
    }
    if (nread < 0) {
        http_conn_close(c); /* the client closed (or reset) its end */
        return;
    }
    if (nread == 0 || c->state == C_LINGER || c->state == C_STREAM)
        return; /* a stream's client has nothing more to say */
    feed(c, buf->base, (size_t)nread);
}

/* A connection is read all the time, a request in flight or not: only
 * bytes pipelined behind one stop the reading (keep), so the usual client,
 * which waits for each answer, costs no epoll_ctl per request. */
static void start_reading(struct conn *c)
{
    if (c->reading)
        return;
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0) {
        http_conn_close(c);
        return;
    }
    c->reading = true;
}

static void stop_reading(struct conn *c)
{
    if (c->reading)
        uv_read_stop((uv_stream_t *)&c->tcp);
    c->reading = false;
}

void http_conn_read(struct conn *c)
{
    start_reading(c);
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
    c->origin[0] = '\0';
    c->origin_len = 0;
    c->preflight = false;
    if (c->state == C_IDLE)
        arm(c, c->s->header_ms); /* from the first byte of this request */
    c->state = C_HEAD;
    return 0;
}

static int on_url(http_parser *hp, const char *at, size_t len)
{
    struct conn *c = hp->data;
    struct pending *p = c->p;
    /* the method is whole once the URL begins (before, "HEAX" may have left
     * HTTP_HEAD in the parser); a refusal from here on knows it */
    p->head = hp->method == HTTP_HEAD;
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
        else if (c->field_len < FIELD_MAX && strcasecmp(c->field, "Origin") == 0)
            c->which = H_ORIGIN;
        else if (c->field_len < FIELD_MAX && strcasecmp(c->field, "Last-Event-ID") == 0)
            c->which = H_LAST_ID;
        else if (c->field_len < FIELD_MAX && strcasecmp(c->field, "If-None-Match") == 0)
            c->which = H_INM;
        else if (c->field_len < FIELD_MAX && strcasecmp(c->field, "Content-Type") == 0 &&
                 c->p->ctype_len == 0) /* the first one, as for Authorization */
            c->which = H_CTYPE;
        else if (c->field_len < FIELD_MAX &&
                 strcasecmp(c->field, "Access-Control-Request-Method") == 0)
            c->preflight = true;
    }
    if (c->which == H_AUTH)
        append(c->p->auth, &c->p->auth_len, AUTH_MAX, at, len);
    else if (c->which == H_EXPECT)
        append(c->expect, &c->expect_len, EXPECT_MAX - 1, at, len);
    else if (c->which == H_ORIGIN)
        append(c->origin, &c->origin_len, ORIGIN_MAX - 1, at, len);
    else if (c->which == H_LAST_ID)
        append(c->p->last_id, &c->p->last_id_len, LAST_ID_MAX - 1, at, len);
    else if (c->which == H_INM)
        append(c->p->inm, &c->p->inm_len, INM_MAX - 1, at, len);
    else if (c->which == H_CTYPE)
        append(c->p->ctype, &c->p->ctype_len, CTYPE_MAX - 1, at, len);
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
    if (hp->http_major != 1) /* our answers are HTTP/1.1: its client could not read them */
        return stop_parsing(c, 505, "HTTP/%u.%u is not supported: send HTTP/1.1 or HTTP/1.0",
                            hp->http_major, hp->http_minor);
    bool cont;
    int status = http_head_verdict(&h, c->s->token, &cont, c->refuse_msg, sizeof(c->refuse_msg));
    if (status) {
        c->refuse_status = status;
        return -1;
    }
    if (!p->uri)
        return stop_parsing(c, 400, "malformed request: no URL");
    snprintf(p->method, sizeof(p->method), "%s", http_method_str((enum http_method)hp->method));
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
        http_conn_refuse(c, c->refuse_status, c->refuse_msg);
        return;
    }
    switch (e) {
    case HPE_HEADER_OVERFLOW:
        snprintf(msg, sizeof(msg),
                 "the request line and headers are over %u bytes; at most %u are accepted",
                 HTTP_MAX_HEADER_BYTES, HTTP_MAX_HEADER_BYTES);
        http_conn_refuse(c, 431, msg);
        return;
    case HPE_INVALID_TRANSFER_ENCODING:
        http_conn_refuse(
            c, 411,
            "a chunked request body (Transfer-Encoding) is not accepted: send the body with a "
            "Content-Length header");
        return;
    case HPE_INVALID_CONTENT_LENGTH:
    case HPE_UNEXPECTED_CONTENT_LENGTH:
        http_conn_refuse(c, 400, "malformed request: Content-Length is not one number of bytes");
        return;
    default:
        snprintf(msg, sizeof(msg), "malformed request: %s", http_errno_description(e));
        http_conn_refuse(c, 400, msg);
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
    p->req.last_event_id = p->last_id;
    p->req.if_none_match = p->inm;
    p->req.content_type = p->ctype;
    p->req.priv = p;
    if (strcmp(p->method, "OPTIONS") == 0 && c->origin[0] && c->preflight) {
        /* a browser asks whether it may send a cross-origin request: the
         * listener's to answer, before any handler or token check */
        if (http_cors_allowed(c->s->cors, c->origin))
            http_respond(&p->req, 204, "", "", 0);
        else
            http_respond_error(&p->req, 403,
                               "origin %.200s may not make cross-origin requests to this node "
                               "(CHIMERA_HTTP_CORS_ORIGINS lists those that may)",
                               c->origin);
        return;
    }
    c->s->handler(c->s->ctx, &p->req);
}

/* Keeps bytes read while a request is in flight (pipelined behind it) for
 * when it is answered, and stops reading until then: never more than one
 * read buffer is kept for a connection (libuv reads no more after
 * uv_read_stop). */
static void keep(struct conn *c, const char *data, size_t len)
{
    stop_reading(c);
    char *r = c->rest_len + len <= READ_BUF ? realloc(c->rest, c->rest_len + len) : NULL;
    if (!r) {
        http_conn_close(c);
        return;
    }
    memcpy(r + c->rest_len, data, len);
    c->rest = r;
    c->rest_len += len;
}

/* Parses what was read; a complete request pauses the parser and goes to
 * the handler. What follows it is parsed at once when the handler answered
 * at once, else kept for later. */
static void feed(struct conn *c, const char *data, size_t len)
{
    if (c->state == C_HANDLER || c->state == C_WRITING) {
        keep(c, data, len);
        return;
    }
    c->feeding = true;
    while (len > 0 && (c->state == C_IDLE || c->state == C_HEAD || c->state == C_BODY)) {
        size_t n = http_parser_execute(&c->parser, &parse_settings, data, len);
        enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
        if (c->state == C_CLOSED)
            break;
        if (e != HPE_PAUSED && e != HPE_OK) {
            refuse_parse_error(c);
            break;
        }
        if (e != HPE_PAUSED)
            break; /* all of it parsed, the request not yet whole */
        http_parser_pause(&c->parser, 0);
        data += n;
        len -= n;
        dispatch(c);
        if (len > 0 && (c->state == C_HANDLER || c->state == C_WRITING))
            keep(c, data, len);
    }
    c->feeding = false;
}

static void on_timeout(uv_timer_t *t)
{
    struct conn *c = t->data;
    uint64_t now = uv_now(c->s->loop);
    if (c->deadline == 0)
        return; /* disarmed since the timer was started */
    if (now < c->deadline) {
        uv_timer_start(&c->timer, on_timeout, c->deadline - now, 0);
        c->timer_due = c->deadline;
        return;
    }
    c->deadline = 0;
    if (c->state == C_STREAM) {
        http_stream_stalled(c);
        return;
    }
    if (c->state == C_HEAD || c->state == C_BODY || c->state == C_WRITING)
        c->s->stats.timed_out++;
    http_conn_close(c);
}

static void on_conn_handle_closed(uv_handle_t *h)
{
    struct conn *c = h->data;
    if (--c->handles > 0)
        return;
    struct http_server *s = c->s;
    free(c);
    http_server_release(s);
}

void http_conn_close(struct conn *c)
{
    if (c->state == C_CLOSED)
        return;
    struct http_server *s = c->s;
    bool streaming = c->state == C_STREAM;
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
    if (streaming)
        s->stats.streams--;
    if (c->refusing)
        s->refusing--;
    free(c->rest);
    c->rest = NULL;
    uv_close((uv_handle_t *)&c->timer, on_conn_handle_closed);
    uv_close((uv_handle_t *)&c->tcp, on_conn_handle_closed);
}

struct conn *http_conn_new(struct http_server *s, int fd)
{
    struct conn *c = calloc(1, sizeof(*c));
    if (!c) {
        close(fd);
        return NULL;
    }
    c->s = s;
    if (uv_tcp_init(s->loop, &c->tcp) != 0) {
        free(c);
        close(fd);
        return NULL;
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
        http_conn_close(c);
        return NULL;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    return c;
}

void http_conn_serve(struct conn *c)
{
    arm(c, c->s->header_ms);
    start_reading(c);
}

void http_conn_release(struct http_request *req)
{
    struct pending *p = req->priv;
    if (p->c && p->c->state == C_HANDLER)
        p->c->p = NULL;
    pending_free(p);
}

void http_respond(struct http_request *req, int status, const char *content_type, const char *body,
                  size_t len)
{
    struct pending *p = req->priv;
    struct conn *c = p->c;
    if (req->on_answer)
        req->on_answer(req, status);
    if (c && c->state == C_HANDLER) {
        c->p = NULL;
        send_answer(c, status, content_type, body, len, &p->req, p->head,
                    !c->keep_alive || c->s->stopping);
    }
    pending_free(p);
}
