/* Test harness, the talking half: HTTP to the nodes, their federation state,
 * metrics and events, and the waits built on them. Processes and the
 * cluster's lifecycle are in harness.c. See harness.h. */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

/* ---- HTTP --------------------------------------------------------------- */

struct buf {
    char *p;
    size_t len;
};

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct buf *b = userdata;
    size_t n = size * nmemb;
    char *np = realloc(b->p, b->len + n + 1);
    if (!np)
        return 0;
    memcpy(np + b->len, ptr, n);
    b->p = np;
    b->len += n;
    b->p[b->len] = '\0';
    return n;
}

char *h_http_send(const struct h_cluster *c, int i, const char *method, const char *path,
                  const void *body, size_t len, const char *const *headers, const char *bearer,
                  int timeout_ms, long *status)
{
    char url[256], auth[512];
    const struct h_node *nd = &c->nodes[i];
    snprintf(url, sizeof url, "http://%s:%d%s", nd->http_host, nd->http_port, path);
    *status = 0;
    if (timeout_ms <= 0)
        timeout_ms = 2000; /* short: a poll that hangs would eat the caller's deadline */
    CURL *cu = curl_easy_init();
    if (!cu)
        return NULL;
    struct curl_slist *hdrs = NULL;
    for (size_t k = 0; headers && headers[k]; k++)
        hdrs = curl_slist_append(hdrs, headers[k]);
    if (bearer) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", bearer);
        hdrs = curl_slist_append(hdrs, auth);
    }
    /* No "Expect: 100-continue" round trip before a larger body. */
    if (body)
        hdrs = curl_slist_append(hdrs, "Expect:");
    struct buf b = {0};
    curl_easy_setopt(cu, CURLOPT_URL, url);
    curl_easy_setopt(cu, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(cu, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(cu, CURLOPT_CONNECTTIMEOUT_MS,
                     (long)(timeout_ms / 2 > 0 ? timeout_ms / 2 : 1));
    curl_easy_setopt(cu, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(cu, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(cu, CURLOPT_WRITEDATA, &b);
    if (strcmp(method, "GET") != 0)
        curl_easy_setopt(cu, CURLOPT_CUSTOMREQUEST, method);
    if (body) {
        curl_easy_setopt(cu, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(cu, CURLOPT_POSTFIELDSIZE, (long)len);
    }
    if (hdrs)
        curl_easy_setopt(cu, CURLOPT_HTTPHEADER, hdrs);
    /* A node in a namespace is reached from inside it: the socket belongs
     * to the namespace the thread is in when curl opens it. */
    int ns = h_netns_enter(nd->netns);
    CURLcode rc = ns == -2 ? CURLE_COULDNT_CONNECT : curl_easy_perform(cu);
    h_netns_leave(ns);
    if (rc == CURLE_OK) {
        curl_easy_getinfo(cu, CURLINFO_RESPONSE_CODE, status);
        if (!b.p)
            b.p = strdup("");
    } else {
        free(b.p);
        b.p = NULL;
    }
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(cu);
    return b.p;
}

char *h_http_request(const struct h_cluster *c, int i, const char *method, const char *path,
                     const char *json_body, const char *bearer, int timeout_ms, long *status)
{
    static const char *const json[] = {"Content-Type: application/json", NULL};
    return h_http_send(c, i, method, path, json_body, json_body ? strlen(json_body) : 0,
                       json_body ? json : NULL, bearer, timeout_ms, status);
}

char *h_http_get_text(const struct h_cluster *c, int i, const char *path, long *status)
{
    return h_http_request(c, i, "GET", path, NULL, NULL, 0, status);
}

json_t *h_http_get_json(const struct h_cluster *c, int i, const char *path, long *status)
{
    char *text = h_http_get_text(c, i, path, status);
    if (!text)
        return NULL;
    json_t *j = json_loads(text, JSON_DECODE_ANY, NULL);
    free(text);
    return j;
}

bool h_http_up(const struct h_cluster *c, int i)
{
    long st;
    char *t = h_http_get_text(c, i, "/health/live", &st);
    free(t);
    return st == 200;
}

struct up_arg {
    const struct h_cluster *c;
    int i;
};

static bool up_pred(void *arg)
{
    struct up_arg *u = arg;
    return h_http_up(u->c, u->i);
}

bool h_wait_http_up(const struct h_cluster *c, int i, int timeout_ms)
{
    struct up_arg u = {c, i};
    return h_wait_until(up_pred, &u, timeout_ms);
}

/* ---- federation state ------------------------------------------------- */

const json_t *h_find_peer(const json_t *state, const char *member)
{
    size_t k;
    const json_t *p;
    json_array_foreach(json_object_get(state, "peers"), k, p)
    {
        const char *id = json_string_value(json_object_get(p, "node"));
        if (id && strcmp(id, member) == 0)
            return p;
    }
    return NULL;
}

bool h_member_status(const struct h_cluster *c, int i, const char *member, char *out, size_t outlen)
{
    long st;
    json_t *state = h_http_get_json(c, i, "/federation/state", &st);
    const char *s = json_string_value(json_object_get(h_find_peer(state, member), "status"));
    bool ok = st == 200 && s;
    if (ok)
        snprintf(out, outlen, "%s", s);
    json_decref(state);
    return ok;
}

bool h_member_is(const struct h_cluster *c, int i, const char *member, const char *status)
{
    char s[32];
    return h_member_status(c, i, member, s, sizeof s) && strcmp(s, status) == 0;
}

struct member_arg {
    const struct h_cluster *c;
    int i;
    const char *member, *status;
};

static bool member_pred(void *arg)
{
    struct member_arg *m = arg;
    return h_member_is(m->c, m->i, m->member, m->status);
}

bool h_wait_member_is(const struct h_cluster *c, int i, const char *member, const char *status,
                      int timeout_ms)
{
    struct member_arg m = {c, i, member, status};
    return h_wait_until(member_pred, &m, timeout_ms);
}

static bool all_alive_pred(void *arg)
{
    struct h_cluster *c = arg;
    for (int i = 0; i < c->n; i++) {
        if (!h_node_running(c, i))
            continue;
        long st;
        json_t *state = h_http_get_json(c, i, "/federation/state", &st);
        bool ok = st == 200;
        for (int j = 0; ok && j < c->n; j++) {
            if (c->nodes[j].pid <= 0)
                continue;
            const char *s =
                json_string_value(json_object_get(h_find_peer(state, c->nodes[j].id), "status"));
            ok = s && strcmp(s, "alive") == 0;
        }
        json_decref(state);
        if (!ok)
            return false;
    }
    return true;
}

bool h_wait_all_alive(struct h_cluster *c, int timeout_ms)
{
    return h_wait_until(all_alive_pred, c, timeout_ms);
}

/* ---- starting a federation ------------------------------------------- */

/* Names, on one line, a node that keeps the federation from being all
 * alive, with its log. */
static void report_not_all_alive(struct h_cluster *c, const char *who)
{
    for (int i = 0; i < c->n; i++)
        if (!h_node_running(c, i)) {
            fprintf(stderr, "%s: %s exited while the federation was starting (log: %s)\n", who,
                    c->nodes[i].id, c->nodes[i].log);
            return;
        }
    for (int i = 0; i < c->n; i++)
        for (int j = 0; j < c->n; j++) {
            char st[32] = "no answer";
            if (h_member_is(c, i, c->nodes[j].id, "alive"))
                continue;
            h_member_status(c, i, c->nodes[j].id, st, sizeof st);
            fprintf(stderr, "%s: %s never saw %s alive (last seen: %s; log: %s)\n", who,
                    c->nodes[i].id, c->nodes[j].id, st, c->nodes[i].log);
            return;
        }
    fprintf(stderr, "%s: the nodes never all saw each other alive (logs: %s/n*.log)\n", who,
            c->dir);
}

int h_cluster_start_all(struct h_cluster *c, int timeout_ms, const char *who)
{
    for (int i = 0; i < c->n; i++)
        if (h_node_start(c, i) != 0) {
            fprintf(stderr, "%s: cannot start %s (log: %s)\n", who, c->nodes[i].id,
                    c->nodes[i].log);
            return -1;
        }
    for (int i = 0; i < c->n; i++)
        if (!h_wait_http_up(c, i, timeout_ms)) {
            if (!h_interrupted())
                fprintf(stderr, "%s: %s did not serve /health/live on %s:%d%s%s (log: %s)\n", who,
                        c->nodes[i].id, c->nodes[i].http_host, c->nodes[i].http_port,
                        c->nodes[i].netns[0] ? " in namespace " : "", c->nodes[i].netns,
                        c->nodes[i].log);
            return -1;
        }
    if (!h_wait_all_alive(c, timeout_ms)) {
        if (!h_interrupted())
            report_not_all_alive(c, who);
        return -1;
    }
    return 0;
}

/* ---- metrics and events ----------------------------------------------- */

bool h_metric(const struct h_cluster *c, int i, const char *sample, double *value)
{
    long st;
    char *text = h_http_get_text(c, i, "/metrics", &st);
    bool found = false;
    size_t n = strlen(sample);
    for (char *line = text; st == 200 && line && *line && !found;) {
        char *nl = strchr(line, '\n');
        if (strncmp(line, sample, n) == 0 && (line[n] == ' ' || line[n] == '\t')) {
            char *end;
            double v = strtod(line + n + 1, &end);
            if (end != line + n + 1) {
                *value = v;
                found = true;
            }
        }
        line = nl ? nl + 1 : NULL;
    }
    free(text);
    return found;
}

json_t *h_events(const struct h_cluster *c, int i)
{
    long st;
    json_t *ev = h_http_get_json(c, i, "/events?limit=1000", &st);
    if (st != 200 || !json_is_array(ev)) {
        json_decref(ev);
        return NULL;
    }
    return ev;
}

unsigned long long h_event_seq(const struct h_cluster *c, int i, const char *kind, const char *peer,
                               unsigned long long after)
{
    json_t *ev = h_events(c, i);
    size_t k;
    json_t *e;
    unsigned long long found = 0;
    json_array_foreach(ev, k, e)
    {
        const char *ek = json_string_value(json_object_get(e, "kind"));
        const char *ep = json_string_value(json_object_get(e, "peer"));
        json_int_t seq = json_integer_value(json_object_get(e, "seq"));
        if (!ek || strcmp(ek, kind) != 0 || seq <= 0 || (unsigned long long)seq <= after)
            continue;
        if (peer && (!ep || strcmp(ep, peer) != 0))
            continue;
        found = (unsigned long long)seq;
        break;
    }
    json_decref(ev);
    return found;
}

struct event_wait {
    struct h_cluster *c;
    int i;
    const char *kind, *peer;
    unsigned long long after, seq;
};

static bool event_came(void *arg)
{
    struct event_wait *e = arg;
    e->seq = h_event_seq(e->c, e->i, e->kind, e->peer, e->after);
    return e->seq > 0;
}

unsigned long long h_wait_event(struct h_cluster *c, int i, const char *kind, const char *peer,
                                unsigned long long after, int timeout_ms)
{
    struct event_wait e = {c, i, kind, peer, after, 0};
    return h_wait_until(event_came, &e, timeout_ms) ? e.seq : 0;
}

unsigned long long h_last_event_seq(const struct h_cluster *c, int i)
{
    json_t *ev = h_events(c, i);
    size_t n = json_array_size(ev);
    unsigned long long seq = n ? (unsigned long long)json_integer_value(
                                     json_object_get(json_array_get(ev, n - 1), "seq"))
                               : 0;
    json_decref(ev);
    return seq;
}

long h_ready_status(const struct h_cluster *c, int i)
{
    long st = 0;
    free(h_http_get_text(c, i, "/health/ready", &st));
    return st;
}
