/* Building answers: the status line and headers of an answer and the
 * {"error": ...} body of a refusal (pure, shared by a connection and the
 * listener's refusals at once), and the JSON answers of the public API,
 * which end in http_respond (http_conn.c). */
#include "node/net/http_conn.h"
#include "pipeline/core/text.h"

#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Nothing but this origin's own files, no inline script or style, no
 * frames around its pages: the console's assets are all files of its own. */
#define SECURITY_HEADERS                                                                           \
    "Content-Security-Policy: default-src 'self'; script-src 'self'; style-src 'self'; "           \
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "          \
    "form-action 'self'\r\nX-Content-Type-Options: nosniff\r\n"

/* The head is put together by copying its parts: it is built for every
 * answer, and one snprintf of a dozen strings showed in a loaded leader's
 * profile. Like snprintf, it returns the whole length, writing what fits
 * and a NUL when cap allows. */
struct head_buf {
    char *p;
    size_t cap, len;
};

static void put(struct head_buf *h, const char *s, size_t n)
{
    if (h->len < h->cap)
        memcpy(h->p + h->len, s, h->len + n < h->cap ? n : h->cap - h->len);
    h->len += n;
}

static void puts_(struct head_buf *h, const char *s)
{
    if (s)
        put(h, s, strlen(s));
}

static void put_uint(struct head_buf *h, uint64_t v)
{
    char digits[24];
    size_t n = sizeof(digits);
    do
        digits[--n] = (char)('0' + v % 10);
    while ((v /= 10) > 0);
    put(h, digits + n, sizeof(digits) - n);
}

/* "name: value\r\n" when value is set. */
static void put_header(struct head_buf *h, const char *name, const char *value)
{
    if (!value)
        return;
    puts_(h, name);
    puts_(h, value);
    put(h, "\r\n", 2);
}

/* An answer is never cached unless its handler says otherwise, and of a
 * known length unless it is a stream (HTTP_LEN_NONE: it ends with the
 * connection). */
int http_answer_head(char *buf, size_t cap, const struct http_answer *a)
{
    const char *reason = http_status_str((enum http_status)a->status);
    if (strcmp(reason, "<unknown>") == 0)
        reason = "Status";
    struct head_buf h = {buf, cap, 0};
    puts_(&h, "HTTP/1.1 ");
    put_uint(&h, (uint64_t)(a->status < 0 ? 0 : a->status));
    put(&h, " ", 1);
    puts_(&h, reason);
    put(&h, "\r\n", 2);
    if (a->status != 204 && a->status != 304) { /* no body, and no header that announces one */
        put_header(&h, "Content-Type: ", a->ctype ? a->ctype : "");
        if (a->len != HTTP_LEN_NONE) {
            puts_(&h, "Content-Length: ");
            put_uint(&h, a->len);
            put(&h, "\r\n", 2);
        }
    }
    put_header(&h, "Cache-Control: ", a->cache ? a->cache : "no-store");
    put_header(&h, "ETag: ", a->etag);
    put(&h, SECURITY_HEADERS, sizeof(SECURITY_HEADERS) - 1);
    put_header(&h, "Location: ", a->location);
    puts_(&h, a->conn_hdr);
    puts_(&h, a->extra);
    put(&h, "\r\n", 2);
    if (cap > 0)
        buf[h.len < cap ? h.len : cap - 1] = '\0';
    return h.len > INT_MAX ? -1 : (int)h.len;
}

int http_error_body(char *buf, size_t cap, const char *msg)
{
    json_t *j = json_pack("{s:s}", "error", msg);
    char *text = j ? json_dumps(j, HTTP_JSON_FLAGS) : NULL;
    json_decref(j);
    int n = snprintf(buf, cap, "%s\n", text ? text : "{\"error\":\"out of memory\"}");
    free(text);
    return n < 0 ? 0 : (size_t)n < cap ? n : (int)cap - 1;
}

void http_respond_json(struct http_request *req, int status, json_t *body)
{
    char *text = body ? json_dumps(body, HTTP_JSON_FLAGS | JSON_ENCODE_ANY) : NULL;
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

void http_respond_redirect(struct http_request *req, int status, const char *location, json_t *body)
{
    req->location = location;
    http_respond_json(req, status, body ? body : json_pack("{s:s}", "location", location));
}

void http_respond_error(struct http_request *req, int status, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    /* It may quote what the client sent (a path, a header): bytes that are
     * not UTF-8 would make it no JSON string, and the answer a 500. */
    pl_clean_text(msg);
    http_respond_json(req, status, json_pack("{s:s}", "error", msg));
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
