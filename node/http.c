#include "node/http.h"

#include <nng/nng.h>
#include <nng/supplemental/http/http.h>
#include <nng/supplemental/util/platform.h>
#include <sodium.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct pending {
    struct http_request req; /* handed to the loop; priv points back here */
    struct http_server *s;
    nng_aio *aio;  /* NNG's handler aio, finished by the answer */
    nng_aio *read; /* reads the body, once its length passed the checks */
    char method[16];
    char *uri; /* owned copy, split into path and query */
    char *auth;
    void *body;
    struct pending *next;
};

struct http_server {
    uv_loop_t *loop;
    uv_async_t wake;
    nng_http_server *srv;
    nng_mtx *mtx;
    struct pending *head, *tail; /* guarded by mtx */
    bool stopping;               /* guarded by mtx */
    http_handler_fn handler;
    void *ctx;
    char token[256]; /* the admin token ("" none); guarded by mtx */
};

/* close: the request's body was left unread, so the connection cannot
 * carry another request (NNG closes it once the answer is written). */
static void finish(nng_aio *aio, int status, const char *ctype, const char *body, size_t len,
                   const char *location, bool close)
{
    nng_http_res *res;
    if (nng_http_res_alloc(&res) != 0) {
        nng_aio_finish(aio, NNG_ENOMEM);
        return;
    }
    nng_http_res_set_status(res, (uint16_t)status);
    nng_http_res_set_header(res, "Content-Type", ctype);
    nng_http_res_set_header(res, "Cache-Control", "no-store");
    if (location)
        nng_http_res_set_header(res, "Location", location);
    if (close)
        nng_http_res_set_header(res, "Connection", "close");
    if (len > 0 && nng_http_res_copy_data(res, body, len) != 0) {
        nng_http_res_free(res);
        nng_aio_finish(aio, NNG_ENOMEM);
        return;
    }
    nng_aio_set_output(aio, 0, res);
    nng_aio_finish(aio, 0);
}

static void finish_unavailable(nng_aio *aio)
{
    static const char body[] = "{\"error\":\"node is shutting down\"}\n";
    finish(aio, 503, "application/json", body, sizeof(body) - 1, NULL, false);
}

/* An answer given on NNG's thread before the body is read. */
static void finish_early(nng_aio *aio, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void finish_early(nng_aio *aio, int status, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    json_t *j = json_pack("{s:s}", "error", msg);
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    char line[600];
    int n = text ? snprintf(line, sizeof(line), "%s\n", text) : -1;
    free(text);
    if (n < 0 || (size_t)n >= sizeof(line)) {
        nng_aio_finish(aio, NNG_ENOMEM);
        return;
    }
    finish(aio, status, "application/json", line, (size_t)n, NULL, true);
}

static void pending_free(struct pending *p)
{
    if (p->read)
        nng_aio_reap(p->read); /* may run in its own callback */
    free(p->body);
    free(p->uri);
    free(p->auth);
    free(p);
}

/* Hands p to the loop, or answers 503 when the server is stopping. */
static void enqueue(struct http_server *s, struct pending *p)
{
    nng_mtx_lock(s->mtx);
    if (s->stopping) {
        nng_mtx_unlock(s->mtx);
        nng_aio *aio = p->aio;
        pending_free(p);
        finish_unavailable(aio);
        return;
    }
    if (s->tail)
        s->tail->next = p;
    else
        s->head = p;
    s->tail = p;
    /* Sent under the lock so it cannot race with uv_close in http_stop. */
    uv_async_send(&s->wake);
    nng_mtx_unlock(s->mtx);
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

/* The admin token, as api.c checks it later; here only to decide whether a
 * large body is worth reading. */
static bool authorized(struct http_server *s, const char *auth)
{
    const char *given = http_bearer_token(auth);
    if (!given)
        return false;
    nng_mtx_lock(s->mtx);
    bool ok = http_token_equal(given, s->token);
    nng_mtx_unlock(s->mtx);
    return ok;
}

/* Checks what the headers say of the body before any of it is read;
 * answers and returns false when it will not be read. *len: its length. */
static bool body_acceptable(struct http_server *s, nng_http_req *hreq, const struct pending *p,
                            size_t *len)
{
    *len = 0;
    const char *uri = nng_http_req_get_uri(hreq);
    if (strlen(uri) > HTTP_MAX_URI) {
        finish_early(p->aio, 414, "the URL is %zu bytes long; at most %u are accepted", strlen(uri),
                     HTTP_MAX_URI);
        return false;
    }
    if (nng_http_req_get_header(hreq, "Transfer-Encoding")) {
        finish_early(p->aio, 411,
                     "a chunked request body (Transfer-Encoding) is not accepted: send the body "
                     "with a Content-Length header");
        return false;
    }
    const char *cl = nng_http_req_get_header(hreq, "Content-Length");
    if (!cl)
        return true;
    char *end;
    errno = 0;
    unsigned long long n = strtoull(cl, &end, 10);
    if (end == cl || *end || errno || cl[0] == '-') {
        finish_early(p->aio, 400, "Content-Length \"%.40s\" is not a number of bytes", cl);
        return false;
    }
    if (n > HTTP_MAX_BODY) {
        finish_early(p->aio, 413, "the request body is %llu bytes; at most %u are accepted", n,
                     HTTP_MAX_BODY);
        return false;
    }
    if (n > HTTP_MAX_UNAUTH_BODY && !authorized(s, p->auth)) {
        finish_early(p->aio, 413,
                     "the request body is %llu bytes; without the admin token "
                     "(\"Authorization: Bearer <admin token>\") at most %u are read",
                     n, HTTP_MAX_UNAUTH_BODY);
        return false;
    }
    *len = (size_t)n;
    return true;
}

/* Runs on an NNG thread when the body has been read, or not in time. */
static void on_body(void *arg)
{
    struct pending *p = arg;
    int rv = nng_aio_result(p->read);
    if (rv != 0) {
        nng_aio *aio = p->aio;
        pending_free(p);
        nng_aio_finish(aio, rv); /* NNG closes the connection */
        return;
    }
    enqueue(p->s, p);
}

/* Runs on an NNG thread once the headers are in (NNG does not collect the
 * body, so that it is read only after the checks above): copy what the loop
 * needs, read the body, queue it. */
static void on_request(nng_aio *aio)
{
    nng_http_req *hreq = nng_aio_get_input(aio, 0);
    nng_http_handler *h = nng_aio_get_input(aio, 1);
    nng_http_conn *conn = nng_aio_get_input(aio, 2);
    struct http_server *s = nng_http_handler_get_data(h);
    struct pending *p = calloc(1, sizeof(*p));
    const char *auth = nng_http_req_get_header(hreq, "Authorization");
    if (!p || !(p->uri = strdup(nng_http_req_get_uri(hreq))) ||
        !(p->auth = strdup(auth ? auth : ""))) {
        if (p)
            pending_free(p);
        nng_aio_finish(aio, NNG_ENOMEM);
        return;
    }
    p->s = s;
    p->aio = aio;
    size_t blen;
    if (!body_acceptable(s, hreq, p, &blen)) {
        pending_free(p);
        return;
    }
    snprintf(p->method, sizeof(p->method), "%s", nng_http_req_get_method(hreq));
    char *q = strchr(p->uri, '?');
    if (q)
        *q++ = '\0';
    p->req.method = p->method;
    p->req.path = p->uri;
    p->req.query = q ? q : "";
    p->req.auth = p->auth;
    p->req.priv = p;
    if (blen == 0) {
        enqueue(s, p);
        return;
    }
    nng_iov iov = {.iov_buf = p->body = malloc(blen), .iov_len = blen};
    if (!p->body || nng_aio_alloc(&p->read, on_body, p) != 0) {
        pending_free(p);
        nng_aio_finish(aio, NNG_ENOMEM);
        return;
    }
    p->req.body = p->body;
    p->req.body_len = blen;
    nng_aio_set_iov(p->read, 1, &iov);
    nng_aio_set_timeout(p->read, HTTP_BODY_TIMEOUT_MS);
    nng_http_conn_read_all(conn, p->read);
}

static struct pending *take_all(struct http_server *s)
{
    nng_mtx_lock(s->mtx);
    struct pending *list = s->head;
    s->head = s->tail = NULL;
    nng_mtx_unlock(s->mtx);
    return list;
}

static void on_wake(uv_async_t *a)
{
    struct http_server *s = a->data;
    struct pending *p = take_all(s);
    while (p) {
        struct pending *next = p->next;
        s->handler(s->ctx, &p->req);
        p = next;
    }
}

void http_respond(struct http_request *req, int status, const char *content_type, const char *body,
                  size_t len)
{
    struct pending *p = req->priv;
    finish(p->aio, status, content_type, body, len, p->req.location, false);
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

/* NNG answers some requests itself (malformed, too large); make those JSON
 * too, so clients never have to parse HTML. */
static void set_json_error_pages(nng_http_server *srv)
{
    static const struct {
        uint16_t code;
        const char *msg;
    } pages[] = {
        {400, "bad request"},        {404, "not found"},
        {405, "method not allowed"}, {411, "length required"},
        {413, "request too large"},  {414, "URL too long"},
        {500, "internal error"},     {501, "not implemented"},
        {503, "unavailable"},        {505, "HTTP version not supported"},
    };
    for (size_t i = 0; i < sizeof(pages) / sizeof(pages[0]); i++) {
        char body[96];
        snprintf(body, sizeof(body), "{\"error\":\"%s\"}\n", pages[i].msg);
        nng_http_server_set_error_page(srv, pages[i].code, body);
    }
}

static int start_server(struct http_server *s, const char *hostport, char *err, size_t errlen)
{
    char urlbuf[300];
    nng_url *url = NULL;
    nng_http_handler *h = NULL;
    snprintf(urlbuf, sizeof(urlbuf), "http://%s", hostport);
    int rv = nng_url_parse(&url, urlbuf);
    if (rv != 0) {
        snprintf(err, errlen, "--http: \"%s\" is not a valid host:port", hostport);
        return rv;
    }
    rv = nng_http_server_hold(&s->srv, url);
    nng_url_free(url);
    if (rv == 0)
        rv = nng_http_handler_alloc(&h, "/", on_request);
    if (rv == 0 && ((rv = nng_http_handler_set_method(h, NULL)) != 0 ||
                    (rv = nng_http_handler_set_tree(h)) != 0 ||
                    (rv = nng_http_handler_collect_body(h, false, 0)) != 0 ||
                    (rv = nng_http_handler_set_data(h, s, NULL)) != 0 ||
                    (rv = nng_http_server_add_handler(s->srv, h)) != 0)) {
        nng_http_handler_free(h);
    }
    if (rv == 0) {
        set_json_error_pages(s->srv);
        rv = nng_http_server_start(s->srv);
    }
    if (rv != 0) {
        if (rv == NNG_EADDRINUSE)
            snprintf(err, errlen, "--http: %s is already in use; pick a free port", hostport);
        else
            snprintf(err, errlen, "--http: cannot serve on %s: %s", hostport, nng_strerror(rv));
    }
    return rv;
}

int http_start(struct http_server **out, uv_loop_t *loop, const char *hostport,
               http_handler_fn handler, void *ctx, char *err, size_t errlen)
{
    struct http_server *s = calloc(1, sizeof(*s));
    if (!s || nng_mtx_alloc(&s->mtx) != 0) {
        free(s);
        snprintf(err, errlen, "http: out of memory");
        return NNG_ENOMEM;
    }
    s->loop = loop;
    s->handler = handler;
    s->ctx = ctx;
    uv_async_init(loop, &s->wake, on_wake);
    s->wake.data = s;
    int rv = start_server(s, hostport, err, errlen);
    if (rv != 0) {
        if (s->srv)
            nng_http_server_release(s->srv);
        s->srv = NULL;
        http_stop(s);
        return rv;
    }
    *out = s;
    return 0;
}

void http_set_admin_token(struct http_server *s, const char *token)
{
    nng_mtx_lock(s->mtx);
    snprintf(s->token, sizeof(s->token), "%s", token ? token : "");
    nng_mtx_unlock(s->mtx);
}

static void on_wake_closed(uv_handle_t *h)
{
    struct http_server *s = h->data;
    nng_mtx_free(s->mtx);
    free(s);
}

void http_stop(struct http_server *s)
{
    /* Order matters: stop queueing first, answer what was queued, and only
     * then stop NNG's server, which waits for every handler aio to finish. */
    nng_mtx_lock(s->mtx);
    s->stopping = true;
    nng_mtx_unlock(s->mtx);
    for (struct pending *p = take_all(s), *next; p; p = next) {
        next = p->next;
        finish_unavailable(p->aio);
        pending_free(p);
    }
    if (s->srv) {
        nng_http_server_stop(s->srv);
        nng_http_server_release(s->srv);
        s->srv = NULL;
    }
    uv_close((uv_handle_t *)&s->wake, on_wake_closed);
}
