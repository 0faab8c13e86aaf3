/* The HTTP server: chimerad's own HTTP/1.1 listener on the node's libuv
 * loop. Requests are parsed by libhttp-parser (no hand-written parser) and
 * handed to the handler on the loop, one at a time per connection:
 * keep-alive, HTTP/1.0, "Connection: close" and pipelined requests (answered
 * in order; parsing pauses until the request in flight is answered).
 *
 * What a request may make the node read or hold is checked from its request
 * line and headers, before any body byte is read, and refused with a JSON
 * answer ({"error": ...}) and the connection closed:
 * - a URL over HTTP_MAX_URI bytes: 414;
 * - a request line and headers over HTTP_MAX_HEADER_BYTES: 431;
 * - a malformed request: 400; an Expect other than 100-continue: 417;
 * - an HTTP version other than 1.x: 505 (the answers are HTTP/1.1);
 * - a chunked body (Transfer-Encoding): 411, send a Content-Length;
 * - a body over HTTP_MAX_BODY bytes: 413, and over HTTP_MAX_UNAUTH_BODY
 *   without the admin token (every mutation needs it): 413 too.
 * "Expect: 100-continue" gets "100 Continue" only when the body will be read.
 *
 * Time and connection limits (defaults like nginx's and Go's servers'):
 * - the request line and headers must arrive within HTTP_HEADER_TIMEOUT_MS of
 *   the connection, or of the first byte of a later request; a body within
 *   HTTP_BODY_TIMEOUT_MS of its headers; an answer must be taken by the
 *   client within HTTP_IDLE_TIMEOUT_MS; a keep-alive connection idle
 *   between requests for HTTP_IDLE_TIMEOUT_MS is closed;
 * - at most HTTP_MAX_CONNS connections are open at once, or half the open
 *   files limit at start when that is lower (peers, ledger and service logs
 *   need descriptors too); one more gets a 503 and is closed. At most
 *   HTTP_MAX_REFUSING such refusals (or a quarter of the cap when that is
 *   lower), uncounted by the cap, wait at once for their client to read
 *   the 503; past that, one more is sent the 503 if its socket takes it at
 *   once and is closed at once, so that a flood cannot take the descriptors
 *   the cap leaves to the rest of the node;
 * - when accept() runs out of descriptors (EMFILE, ENFILE), the listener
 *   stops polling and tries again after a backoff (HTTP_ACCEPT_BACKOFF_*_MS,
 *   doubling), so it never spins; what waits stays in the kernel's backlog.
 * Hitting the cap ("http.connection_limit") or an accept failure
 * ("http.accept_failed") is reported through the notice callback at most once
 * every HTTP_NOTICE_INTERVAL_MS per kind, with a count of what it held back;
 * http_stats counts everything.
 *
 * Every answer carries a Content-Security-Policy that lets a page load
 * nothing but this origin's own scripts, styles and connections (no inline
 * script, no frames), and X-Content-Type-Options: nosniff. Cross-origin
 * requests (CORS) are refused unless http_set_cors_origins lists the
 * requesting Origin: then its answers carry Access-Control-Allow-Origin with
 * it and Vary: Origin, and its preflight (OPTIONS with
 * Access-Control-Request-Method) is answered 204 here, before the handler;
 * a preflight from an origin not listed gets 403 and no CORS header.
 *
 * Streams (Server-Sent Events): http_stream_open answers a request with an
 * open-ended body that the node writes to as things happen. A stream is
 * exempt from the answer's write deadline but not from a stall: once output
 * waits, the client must take some within HTTP_IDLE_TIMEOUT_MS. At most
 * HTTP_MAX_STREAMS (http_set_max_streams) are open at once; one more is
 * answered 503 naming the cap. A client that leaves more than
 * HTTP_STREAM_MAX_QUEUED bytes unread, or takes nothing for the idle
 * timeout, is dropped and reported ("http.stream_dropped", naming its
 * address and why). */
#ifndef CHIMERA_HTTP_H
#define CHIMERA_HTTP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#define HTTP_MAX_BODY (1024u * 1024u)
#define HTTP_MAX_UNAUTH_BODY 4096u
#define HTTP_MAX_URI 4096u
#define HTTP_MAX_HEADER_BYTES (16u * 1024u)
#define HTTP_HEADER_TIMEOUT_MS 10000
#define HTTP_BODY_TIMEOUT_MS 10000
#define HTTP_IDLE_TIMEOUT_MS 60000
#define HTTP_MAX_CONNS 512
#define HTTP_MAX_REFUSING 32
#define HTTP_NOTICE_INTERVAL_MS 10000
#define HTTP_ACCEPT_BACKOFF_MIN_MS 5
#define HTTP_ACCEPT_BACKOFF_MAX_MS 1000
#define HTTP_MAX_STREAMS 64
#define HTTP_READ_BYTES (64u * 1024u) /* the most one read of a connection takes */
/* Above what a resumed stream's backlog (the whole event ring) takes. */
#define HTTP_STREAM_MAX_QUEUED (1024u * 1024u)
/* Tests only: CHIMERAD_TEST_HTTP_HEADER_TIMEOUT_MS, CHIMERAD_TEST_HTTP_BODY_TIMEOUT_MS,
 * CHIMERAD_TEST_HTTP_IDLE_TIMEOUT_MS, CHIMERAD_TEST_HTTP_MAX_CONNS,
 * CHIMERAD_TEST_HTTP_STREAM_MAX_QUEUED and CHIMERAD_TEST_HTTP_STREAM_SNDBUF (a
 * stream socket's send buffer, which the kernel otherwise grows to megabytes
 * before a stalled client's output waits in the node) in
 * chimerad's environment replace the
 * defaults above, so that tests need not wait out the real ones (named
 * CHIMERAD_ so that the test harness, which keeps CHIMERA_* settings from
 * the nodes it starts, lets them through). */

struct http_server;

struct http_request {
    const char *method;
    const char *path;  /* without the query */
    const char *query; /* after '?', or "" */
    const char *auth;  /* the Authorization header, or "" */
    /* The Last-Event-ID header (an EventSource resuming), or "" */
    const char *last_event_id;
    const void *body;
    size_t body_len;
    /* Set by the handler before it answers (a 307 to the leader): sent as
     * the Location header. NULL: none. */
    const char *location;
    /* Set by the handler before it answers, like location: the
     * Cache-Control value (NULL: no-store) and the ETag (NULL: none). */
    const char *cache_control;
    const char *etag;
    /* The If-None-Match header, or "" */
    const char *if_none_match;
    /* The Content-Type header, or "" (POST /ledger/notes reads msgpack
     * bodies by it) */
    const char *content_type;
    void *priv;
    /* The handler's bookkeeping (the API's request durations): on_answer,
     * when set, is called once with the status as the request is answered
     * (before its memory is freed); the rest is the handler's to set. */
    void (*on_answer)(struct http_request *req, int status);
    void *answer_ctx;
    const char *route;
    uint64_t started_ns;
};

/* Runs on the loop thread; must answer with exactly one http_respond*, at
 * once or later (the connection reads no further request until then). */
typedef void (*http_handler_fn)(void *ctx, struct http_request *req);

/* Serves on hostport ("host:port", "[v6]:port"). On failure returns a libuv
 * error code (negative) with one line in err; UV_EADDRINUSE means the port
 * is taken. */
int http_start(struct http_server **out, uv_loop_t *loop, const char *hostport,
               http_handler_fn handler, void *ctx, char *err, size_t errlen);

/* The admin token, checked before reading a body over HTTP_MAX_UNAUTH_BODY
 * bytes (NULL or "": none, then no such body is read). Until it is set, no
 * such body is read. */
void http_set_admin_token(struct http_server *s, const char *token);

void http_respond(struct http_request *req, int status, const char *content_type, const char *body,
                  size_t len);

/* How the node writes JSON for its clients (answers, the event stream):
 * compact, and reals with 15 significant digits, so that a 0.15 reads
 * 0.15 and not 0.14999999999999999 (jansson's default, %.17g). 15 digits
 * give back any decimal of up to 15 digits that a person or a file wrote.
 * Nothing that must come back bit for bit is a real: hashes, signatures
 * and a ledger entry's payload are hex strings (its "data" beside it is
 * for reading), counters and times integers. */
#define HTTP_JSON_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(15))

/* Serializes and frees body (it takes the reference). */
void http_respond_json(struct http_request *req, int status, json_t *body);

/* Redirects to location (kept until answered) with status (301, 302, 307,
 * 308); body is the answer's JSON (it takes the reference), NULL:
 * {"location": location}. */
void http_respond_redirect(struct http_request *req, int status, const char *location,
                           json_t *body);
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
/* A key of a body as an error message may show it (out: cap >= 5 bytes):
 * printable ASCII, '?' for any other byte, cut with "..." to fit, so that
 * the answer stays valid UTF-8 and one line. */
void http_show_key(const char *key, size_t len, char *out, size_t cap);

/* Value of name in the query string (percent-decoding not needed for the
 * numbers and ids we accept), copied into buf; returns 1 found, 0 absent. */
int http_query_param(const char *query, const char *name, char *buf, size_t buflen);

/* What a request's headers say of its body, as the listener judges them
 * before reading any of it. */
struct http_head {
    const char *auth;   /* the Authorization header, "" none */
    const char *expect; /* the Expect header, "" none */
    uint64_t length;    /* Content-Length (0: none) */
    bool transfer_encoding;
    bool http11; /* HTTP/1.1 or later: 100 Continue may be sent */
};

/* The decision on a request's headers (pure): 0 to read its body, with
 * *send_continue when "100 Continue" is to be sent first; else the status
 * to refuse it with (411, 417, 413), with the message in msg. token: the
 * admin token ("" none). */
int http_head_verdict(const struct http_head *h, const char *token, bool *send_continue, char *msg,
                      size_t msglen);

/* Called on the loop thread to report a limit that was hit, with an event
 * kind ("http.connection_limit", "http.accept_failed") and one line. */
typedef void (*http_notice_fn)(void *ctx, const char *kind, const char *msg);

/* Sets the callback for limit notices (none by default). */
void http_set_notice(struct http_server *s, http_notice_fn fn, void *ctx);

/* What the listener did since it started, for /metrics. */
struct http_stats {
    uint64_t open;            /* connections open now */
    uint64_t max_open;        /* the cap */
    uint64_t refused;         /* turned away at the cap (503) */
    uint64_t timed_out;       /* closed by a header, body, write or idle timeout */
    uint64_t accept_errors;   /* accept() failures (out of descriptors) */
    uint64_t streams;         /* streams open now */
    uint64_t max_streams;     /* their cap */
    uint64_t streams_dropped; /* dropped: their client did not keep up */
};
const struct http_stats *http_stats(const struct http_server *s);

/* The origins whose cross-origin requests are allowed: a comma list of
 * SCHEME://HOST[:PORT], or "*" for any; NULL or "": none (the default). */
void http_set_cors_origins(struct http_server *s, const char *list);

/* Whether origin (an Origin header) is allowed by list (as above): exact,
 * ignoring case; pure. */
bool http_cors_allowed(const char *list, const char *origin);

/* Whether an If-None-Match header (RFC 9110 section 13.1.2: "*", or a
 * comma list of entity tags, compared weakly: W/"x" matches "x") names
 * etag (quoted, as sent in ETag): the client's copy is current (304); pure.
 * NULL or "": no. */
bool http_etag_matches(const char *if_none_match, const char *etag);

/* ---- streams ---- */

/* Bytes written to many streams, made once and shared (reference counted). */
struct http_chunk;
struct http_chunk *http_chunk_new(const char *data, size_t len); /* NULL: out of memory */
/* A chunk of room bytes that its maker writes into (http_chunk_data) before
 * it shares it, then shortens to what it wrote (http_chunk_set_len, at most
 * room): the bytes are written once, where they are sent from. */
struct http_chunk *http_chunk_alloc(size_t room); /* NULL: out of memory */
char *http_chunk_data(struct http_chunk *ch);
void http_chunk_set_len(struct http_chunk *ch, size_t len);
void http_chunk_unref(struct http_chunk *ch);

void http_set_max_streams(struct http_server *s, unsigned max);
/* Writes text to every stream every every_ms (an SSE comment), so that
 * clients and proxies see an idle stream live. */
void http_set_stream_heartbeat(struct http_server *s, const char *text, uint64_t every_ms);

/* Answers req 200 with content type ctype and a body without end, whose
 * first len bytes are first (len 0: none); the stream is one of topic's
 * (http_stream_broadcast). 0, or -1 when it could not be opened: over the
 * cap (req answered 503 {"error"} naming it) or the client already left. */
int http_stream_open(struct http_request *req, const void *topic, const char *ctype,
                     const char *first, size_t len);

/* Writes ch to every stream of topic (NULL: every stream). A stream whose
 * client left more than the bound unread is dropped and reported. */
void http_stream_broadcast(struct http_server *s, const void *topic, struct http_chunk *ch);

/* Stops accepting and closes every connection; the server frees itself once
 * libuv has closed its handles (run the loop after calling this). A request
 * still held by a handler (a commit wait) stays valid: its answer is dropped
 * and its memory freed when it is given. */
void http_stop(struct http_server *s);

#endif
