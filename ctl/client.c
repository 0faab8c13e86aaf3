/* chimeractl's HTTP client: one libcurl easy handle per process, reused so
 * that --follow polls ride one keep-alive connection. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "ctl/ctl.h"

/* Far above anything the API returns (1000 events); a bound so a confused
 * server cannot make the CLI eat all memory. */
#define CTL_MAX_BODY (16u * 1024u * 1024u)

struct ctl_client {
    CURL *curl;
    struct ctl_endpoint ep[CTL_MAX_ENDPOINTS];
    size_t nep;
    size_t cur;  /* the endpoint in use */
    bool pinned; /* it answered once: no more trying others */
    long timeout_ms, connect_timeout_ms;
    volatile int *cancel;
    /* --token-file's token, sent with reads too: a node with a read token
     * (--read-token-file) gates the reads that reveal manifests, and takes
     * the read token or the admin token there. */
    const char *token;
    struct ctl_stream *stream; /* set during ctl_stream: the body goes there */
};

/* A GET whose body is handed on as it arrives (ctl_stream). */
struct ctl_stream {
    bool (*on_data)(void *arg, const char *p, size_t n);
    void *arg;
    const char *const *headers;
    long idle_ms;
    CURL *curl;
    struct ctl_body *body; /* an answer other than 2xx lands here */
    bool stopped;          /* on_data asked to stop */
};

static size_t stream_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct ctl_stream *st = userdata;
    long code = 0;
    curl_easy_getinfo(st->curl, CURLINFO_RESPONSE_CODE, &code);
    if (code < 200 || code >= 300)
        return ctl_body_write(ptr, size, nmemb, st->body);
    if (st->on_data(st->arg, ptr, size * nmemb))
        return size * nmemb;
    st->stopped = true;
    return 0;
}

size_t ctl_body_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct ctl_body *b = userdata;
    size_t n = size * nmemb;
    if (b->len + n > b->max) {
        b->too_big = true;
        return 0; /* makes curl fail the transfer */
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *nb = realloc(b->buf, cap);
        if (!nb)
            return 0;
        b->buf = nb;
        b->cap = cap;
    }
    memcpy(b->buf + b->len, ptr, n);
    b->len += n;
    b->buf[b->len] = '\0';
    return n;
}

static int on_progress(void *userdata, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
    struct ctl_client *cl = userdata;
    return cl->cancel && *cl->cancel ? 1 : 0;
}

struct ctl_client *ctl_client_new(const struct ctl_opts *o)
{
    static bool global_done;
    if (!global_done) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
            return NULL;
        global_done = true;
    }
    struct ctl_client *cl = calloc(1, sizeof *cl);
    if (!cl)
        return NULL;
    cl->curl = curl_easy_init();
    if (!cl->curl) {
        free(cl);
        return NULL;
    }
    cl->timeout_ms = o->timeout_ms;
    cl->connect_timeout_ms = o->connect_timeout_ms > 0 && o->connect_timeout_ms < o->timeout_ms
                                 ? o->connect_timeout_ms
                                 : o->timeout_ms;
    /* main.c validated --addr; a leader's address from a redirect is one
     * endpoint. */
    char err[256];
    int n = ctl_parse_endpoints(o->addr, cl->ep, CTL_MAX_ENDPOINTS, err, sizeof err);
    if (n <= 0) {
        fprintf(stderr, "chimeractl: invalid address %s\n", err);
        curl_easy_cleanup(cl->curl);
        free(cl);
        return NULL;
    }
    cl->nep = (size_t)n;
    cl->pinned = cl->nep == 1;
    /* A token file that cannot be read is reported by the commands that
     * need it (ctl_token_for); a read goes without. */
    cl->token = o->token;
    return cl;
}

const char *ctl_client_addr(const struct ctl_client *cl)
{
    return cl->ep[cl->cur].shown;
}

void ctl_client_free(struct ctl_client *cl)
{
    if (!cl)
        return;
    curl_easy_cleanup(cl->curl);
    free(cl);
}

void ctl_client_set_cancel(struct ctl_client *cl, volatile int *cancel)
{
    cl->cancel = cancel;
}

void ctl_reply_free(struct ctl_reply *r)
{
    json_decref(r->json);
    free(r->text);
    memset(r, 0, sizeof *r);
}

/* Says why the node could not be reached in the words an operator expects:
 * "Connection refused" rather than curl's longer sentence. */
static void describe_failure(struct ctl_client *cl, CURLcode rc, const char *errbuf,
                             const struct ctl_body *b, struct ctl_reply *r)
{
    long os_errno = 0;
    curl_easy_getinfo(cl->curl, CURLINFO_OS_ERRNO, &os_errno);
    if (cl->cancel && *cl->cancel)
        snprintf(r->error, sizeof r->error, "interrupted");
    else if (b->too_big)
        snprintf(r->error, sizeof r->error, "answer larger than %u bytes", CTL_MAX_BODY);
    else if (rc == CURLE_OPERATION_TIMEDOUT) {
        curl_off_t connected = 0;
        curl_easy_getinfo(cl->curl, CURLINFO_CONNECT_TIME_T, &connected);
        bool connecting = connected == 0 && cl->connect_timeout_ms < cl->timeout_ms;
        char within[32];
        snprintf(r->error, sizeof r->error, "%s within %s",
                 connecting ? "no connection" : "no answer",
                 ctl_ms_text(connecting ? cl->connect_timeout_ms : cl->timeout_ms, within,
                             sizeof within));
    } else if (rc == CURLE_COULDNT_CONNECT && os_errno != 0)
        snprintf(r->error, sizeof r->error, "%s", strerror((int)os_errno));
    else if (rc == CURLE_UNSUPPORTED_PROTOCOL || rc == CURLE_WEIRD_SERVER_REPLY)
        /* curl says "Received HTTP/0.9 when not allowed": what a node's NNG
         * port (7101, BASE+i) sends back, the easy slip beside its HTTP one. */
        snprintf(r->error, sizeof r->error,
                 "no HTTP there (a node's NNG port? --addr takes its HTTP "
                 "address, chimerad's --http)");
    else if (errbuf[0])
        snprintf(r->error, sizeof r->error, "%s", errbuf);
    else
        snprintf(r->error, sizeof r->error, "%s", curl_easy_strerror(rc));
}

/* One exchange with endpoint cl->cur. *retry is set when the request
 * cannot have reached a node (nothing connected), so another endpoint may
 * be tried even for a mutation. */
static int perform_one(struct ctl_client *cl, const char *method, const char *path,
                       const char *payload, const char *token, struct ctl_reply *r, bool *retry)
{
    memset(r, 0, sizeof *r);
    *retry = false;
    snprintf(r->endpoint, sizeof r->endpoint, "%s", cl->ep[cl->cur].shown);
    char url[1024];
    if ((size_t)snprintf(url, sizeof url, "%s%s", cl->ep[cl->cur].base, path) >= sizeof url) {
        snprintf(r->error, sizeof r->error, "request path too long");
        return -1;
    }
    CURL *c = cl->curl;
    curl_easy_reset(c);
    char errbuf[CURL_ERROR_SIZE] = "";
    struct ctl_body b = {.max = CTL_MAX_BODY};
    struct curl_slist *hdrs = NULL;
    char auth[1024];

    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L); /* our SIGINT handler must stay ours */
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, cl->timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, cl->connect_timeout_ms);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, ctl_body_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    struct ctl_stream *st = cl->stream;
    if (st) { /* no end in time, but a silent connection is dead */
        st->curl = c;
        st->body = &b;
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, stream_write);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, st);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 0L);
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, (st->idle_ms + 999) / 1000);
        for (size_t k = 0; st->headers && st->headers[k]; k++)
            hdrs = curl_slist_append(hdrs, st->headers[k]);
    }
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, cl);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "chimeractl/" CHIMERA_VERSION);
    hdrs = curl_slist_append(hdrs, st ? "Accept: text/event-stream" : "Accept: application/json");
    if (token) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
        hdrs = curl_slist_append(hdrs, auth);
    }
    if (strcmp(method, "POST") == 0) {
        hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
        /* No "Expect: 100-continue" for bodies over 1 KiB (a manifest): it
         * costs a round trip, or a second when the server ignores it. */
        hdrs = curl_slist_append(hdrs, "Expect:");
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, payload);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(payload));
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);

    CURLcode rc = curl_easy_perform(c);
    curl_slist_free_all(hdrs);
    explicit_bzero(auth, sizeof auth);
    if (st && st->stopped)
        rc = CURLE_OK; /* ended by the reader, not by a failure */
    if (rc != CURLE_OK) {
        describe_failure(cl, rc, errbuf, &b, r);
        curl_off_t connected = 0;
        curl_easy_getinfo(c, CURLINFO_CONNECT_TIME_T, &connected);
        bool cancelled = cl->cancel && *cl->cancel;
        r->no_answer = !b.too_big && !cancelled;
        /* A GET may go elsewhere after any failure; a mutation only when
         * it never left (it may have been applied otherwise). */
        *retry = r->no_answer && (strcmp(method, "GET") == 0 || connected == 0 ||
                                  rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST);
        free(b.buf);
        return -1;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    char *location = NULL;
    if (r->status >= 300 && r->status < 400 &&
        curl_easy_getinfo(c, CURLINFO_REDIRECT_URL, &location) == CURLE_OK && location)
        snprintf(r->location, sizeof r->location, "%s", location);
    r->text = b.buf ? b.buf : strdup("");
    r->len = b.len;
    if (!r->text) {
        snprintf(r->error, sizeof r->error, "out of memory");
        r->status = 0;
        return -1;
    }
    if (r->len > 0)
        r->json = json_loadb(r->text, r->len, JSON_DECODE_ANY, NULL);
    return 0;
}

/* Tries the endpoints in order until one answers; after that, only that
 * one (a follow loop must stay with the node whose cursor it holds). */
static int perform(struct ctl_client *cl, const char *method, const char *path, const char *payload,
                   const char *token, struct ctl_reply *r)
{
    bool retry;
    int rc = perform_one(cl, method, path, payload, token, r, &retry);
    if (rc == 0 || cl->pinned) {
        cl->pinned = cl->pinned || rc == 0;
        return rc;
    }
    /* Why each endpoint failed, for the one line that says none answered. */
    char why[sizeof r->error];
    snprintf(why, sizeof why, "%.200s: %.200s", cl->ep[cl->cur].shown, r->error);
    while (rc != 0 && retry && cl->cur + 1 < cl->nep) {
        cl->cur++;
        rc = perform_one(cl, method, path, payload, token, r, &retry);
        if (rc != 0) {
            size_t wl = strlen(why);
            snprintf(why + wl, sizeof why - wl, "; %.200s: %.200s", cl->ep[cl->cur].shown,
                     r->error);
        }
    }
    if (rc == 0) {
        cl->pinned = true;
        return 0;
    }
    if (cl->nep > 1 && r->no_answer) {
        snprintf(r->error, sizeof r->error, "%s", why);
        r->endpoint[0] = '\0'; /* the error names each */
    }
    cl->cur = 0; /* next time, from the first again */
    return rc;
}

int ctl_get(struct ctl_client *cl, const char *path, struct ctl_reply *r)
{
    return perform(cl, "GET", path, NULL, cl->token, r);
}

int ctl_stream(struct ctl_client *cl, const char *path, const char *const *headers, long idle_ms,
               bool (*on_data)(void *arg, const char *p, size_t n), void *arg, struct ctl_reply *r)
{
    struct ctl_stream st = {.on_data = on_data, .arg = arg, .headers = headers, .idle_ms = idle_ms};
    cl->stream = &st;
    int rc = perform(cl, "GET", path, NULL, cl->token, r);
    cl->stream = NULL;
    return rc;
}

int ctl_post(struct ctl_client *cl, const char *path, const json_t *body, const char *token,
             struct ctl_reply *r)
{
    char *payload = body ? json_dumps(body, JSON_COMPACT) : strdup("{}");
    if (!payload) {
        memset(r, 0, sizeof *r);
        snprintf(r->error, sizeof r->error, "out of memory");
        return -1;
    }
    int rc = perform(cl, "POST", path, payload, token, r);
    free(payload);
    return rc;
}

int ctl_post_raw(struct ctl_client *cl, const char *path, const char *payload, const char *token,
                 struct ctl_reply *r)
{
    return perform(cl, "POST", path, payload, token, r);
}

char *ctl_read_token(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "re");
    if (!f) {
        snprintf(err, errlen, "cannot read admin token file %s: %s", path, strerror(errno));
        return NULL;
    }
    char buf[1024];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *s = buf;
    while (*s && isspace((unsigned char)*s))
        s++;
    size_t len = strlen(s);
    while (len > 0 && isspace((unsigned char)s[len - 1]))
        s[--len] = '\0';
    if (len == 0) {
        snprintf(err, errlen, "admin token file %s is empty", path);
        return NULL;
    }
    char *tok = strdup(s);
    explicit_bzero(buf, sizeof buf);
    if (!tok)
        snprintf(err, errlen, "out of memory");
    return tok;
}

const char *ctl_token_for(const struct ctl_opts *o, const char *cmd)
{
    if (!o->token_file || !*o->token_file) {
        fprintf(stderr,
                "chimeractl: %s needs the admin token: --token-file FILE or "
                "CHIMERA_ADMIN_TOKEN_FILE\n",
                cmd);
        return NULL;
    }
    if (!o->token)
        fprintf(stderr, "chimeractl: %s: %s\n", cmd,
                o->token_err ? o->token_err : "the admin token was not read");
    return o->token;
}

void ctl_free_token(char *tok)
{
    if (tok) {
        explicit_bzero(tok, strlen(tok));
        free(tok);
    }
}

enum ctl_outcome ctl_outcome_of_reply(int rc, const struct ctl_reply *r)
{
    if (rc != 0)
        return r->no_answer ? CTL_O_NO_ANSWER : CTL_O_FAILED;
    enum ctl_outcome oc = ctl_outcome_of_status(r->status);
    return oc == CTL_O_OK && !r->json ? CTL_O_FAILED : oc;
}

void ctl_say_failure(const char *cmd, int rc, const struct ctl_reply *r)
{
    const char *sep = cmd ? ": " : "";
    cmd = cmd ? cmd : "";
    if (rc != 0 && r->no_answer && !r->endpoint[0]) {
        fprintf(stderr,
                "chimeractl: %s%scannot reach any node: %s (is chimerad running? set --addr or "
                "CHIMERA_ADDR)\n",
                cmd, sep, r->error);
        return;
    }
    if (rc != 0 && r->no_answer) {
        fprintf(stderr,
                "chimeractl: %s%scannot reach node at %s: %s (is chimerad running? set --addr or "
                "CHIMERA_ADDR)\n",
                cmd, sep, r->endpoint, r->error);
        return;
    }
    if (rc != 0) {
        fprintf(stderr, "chimeractl: %s%s%s\n", cmd, sep, r->error);
        return;
    }
    const char *msg = json_string_value(json_object_get(r->json, "error"));
    if (r->status >= 200 && r->status < 300)
        fprintf(stderr, "chimeractl: %s%snode at %s sent an answer that is not JSON\n", cmd, sep,
                r->endpoint);
    else if (msg)
        fprintf(stderr, "chimeractl: %s%s%s (HTTP %ld from %s)\n", cmd, sep, msg, r->status,
                r->endpoint);
    else
        fprintf(stderr, "chimeractl: %s%snode at %s answered HTTP %ld\n", cmd, sep, r->endpoint,
                r->status);
}

int ctl_check_reply(int rc, const struct ctl_reply *r)
{
    enum ctl_outcome oc = ctl_outcome_of_reply(rc, r);
    if (oc != CTL_O_OK)
        ctl_say_failure(NULL, rc, r);
    return ctl_exit_code(CTL_FAM_COMMON, oc);
}

int ctl_parse_ulong(const char *s, unsigned long long min, unsigned long long max,
                    unsigned long long *out)
{
    if (!s || !*s)
        return -1;
    for (const char *p = s; *p; p++)
        if (!isdigit((unsigned char)*p))
            return -1;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

json_t *ctl_addr_state_of(const struct ctl_opts *o, const char *node, char *base, size_t blen)
{
    struct ctl_endpoint ep[CTL_MAX_ENDPOINTS];
    char err[256];
    int n = ctl_parse_endpoints(o->addr, ep, CTL_MAX_ENDPOINTS, err, sizeof err);
    for (int i = 0; i < n; i++) {
        struct ctl_opts one = *o;
        one.addr = ep[i].base;
        struct ctl_client *cl = ctl_client_new(&one);
        struct ctl_reply r;
        json_t *found = NULL;
        if (cl && ctl_get(cl, "/federation/state", &r) == 0) {
            const char *id = json_string_value(json_object_get(r.json, "node"));
            if (r.status == 200 && id && strcmp(id, node) == 0)
                found = json_incref(r.json);
            ctl_reply_free(&r);
        }
        ctl_client_free(cl);
        size_t len = strnlen(ep[i].base, sizeof ep[i].base);
        if (found && base && len < blen)
            memcpy(base, ep[i].base, len + 1);
        if (found)
            return found;
    }
    return NULL;
}
