/* The HTTP server: NNG's HTTP server accepts and parses on its own threads,
 * then every request is handed to the libuv loop (uv_async), which owns all
 * state, and answered from there.
 *
 * What a request may make the node read or hold is checked from its headers
 * before the body is read, and refused with the connection closed:
 * - a URL over HTTP_MAX_URI bytes: 414;
 * - a chunked body (Transfer-Encoding): 411, send a Content-Length;
 * - a body over HTTP_MAX_BODY bytes: 413, and over HTTP_MAX_UNAUTH_BODY
 *   without the admin token (every mutation needs it): 413 too;
 * - a body not read within HTTP_BODY_TIMEOUT_MS: the connection is closed.
 * Known limits of NNG 1.5.2's server, which offers no hook for them: no
 * timeout for the request line and headers nor between requests, no cap on
 * connections, a request line or header line over 8 KiB closes the
 * connection without an answer, and its accept loop retries at once when
 * accept() fails (out of descriptors). */
#ifndef CHIMERA_HTTP_H
#define CHIMERA_HTTP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#define HTTP_MAX_BODY (1024u * 1024u)
#define HTTP_MAX_UNAUTH_BODY 4096u
#define HTTP_MAX_URI 4096u
#define HTTP_BODY_TIMEOUT_MS 10000

struct http_server;

struct http_request {
    const char *method;
    const char *path;  /* without the query */
    const char *query; /* after '?', or "" */
    const char *auth;  /* the Authorization header, or "" */
    const void *body;
    size_t body_len;
    /* Set by the handler before it answers (a 307 to the leader): sent as
     * the Location header. NULL: none. */
    const char *location;
    void *priv;
};

/* Runs on the loop thread; must answer with exactly one http_respond*. */
typedef void (*http_handler_fn)(void *ctx, struct http_request *req);

/* Serves on hostport ("host:port"). On failure returns an NNG error code
 * with one line in err; NNG_EADDRINUSE means the port is taken. */
int http_start(struct http_server **out, uv_loop_t *loop, const char *hostport,
               http_handler_fn handler, void *ctx, char *err, size_t errlen);

/* The admin token, checked before reading a body over HTTP_MAX_UNAUTH_BODY
 * bytes (NULL or "": none, then no such body is read). Until it is set, no
 * such body is read. */
void http_set_admin_token(struct http_server *s, const char *token);

void http_respond(struct http_request *req, int status, const char *content_type, const char *body,
                  size_t len);

/* Serializes and frees body (it takes the reference). */
void http_respond_json(struct http_request *req, int status, json_t *body);

/* {"error": message} with status. */
void http_respond_error(struct http_request *req, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The credentials of an Authorization header of the Bearer scheme, its
 * name in any case (RFC 9110 section 11.1) and one or more spaces after it;
 * NULL when the header names another scheme or none. */
const char *http_bearer_token(const char *auth);

/* Whether given is token, in constant time; an empty token matches nothing. */
bool http_token_equal(const char *given, const char *token);

/* The request's body as a JSON object whose keys are all in known[]
 * (NULL-terminated). Otherwise answers 400 {"error","path"} and returns
 * NULL: an empty body ("empty body: expected <expect>"), one that is not
 * JSON (jansson's message, with the line and column where it has them),
 * not an object, or one with a key not in known[] (naming it and them). */
json_t *http_body_object(struct http_request *req, const char *const known[], const char *expect);

/* Why a body was refused: the message and the JSON path of the problem. */
struct http_body_error {
    char msg[512];
    char path[68];
};
/* http_body_object in two halves, so that a large body can be parsed off
 * the loop: the parse touches no request and no shared state (jansson
 * only), so it may run on any thread; NULL with the problem in *e, which
 * http_body_refuse answers (on the loop) exactly as http_body_object does. */
json_t *http_body_parse(const void *data, size_t len, const char *const known[], const char *expect,
                        struct http_body_error *e);
void http_body_refuse(struct http_request *req, const struct http_body_error *e);

/* Value of name in the query string (percent-decoding not needed for the
 * numbers and ids we accept), copied into buf; returns 1 found, 0 absent. */
int http_query_param(const char *query, const char *name, char *buf, size_t buflen);

/* Stops accepting, answers what is still queued with 503 and frees the server
 * once libuv has closed its async handle (run the loop after calling this). */
void http_stop(struct http_server *s);

#endif
