/* The HTTP server: NNG's HTTP server accepts and parses on its own threads,
 * then every request is handed to the libuv loop (uv_async), which owns all
 * state, and answered from there. */
#ifndef CHIMERA_HTTP_H
#define CHIMERA_HTTP_H

#include <jansson.h>
#include <stddef.h>
#include <uv.h>

#define HTTP_MAX_BODY (1024u * 1024u)

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

void http_respond(struct http_request *req, int status, const char *content_type, const char *body,
                  size_t len);

/* Serializes and frees body (it takes the reference). */
void http_respond_json(struct http_request *req, int status, json_t *body);

/* {"error": message} with status. */
void http_respond_error(struct http_request *req, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Value of name in the query string (percent-decoding not needed for the
 * numbers and ids we accept), copied into buf; returns 1 found, 0 absent. */
int http_query_param(const char *query, const char *name, char *buf, size_t buflen);

/* Stops accepting, answers what is still queued with 503 and frees the server
 * once libuv has closed its async handle (run the loop after calling this). */
void http_stop(struct http_server *s);

#endif
