/* HTTP health checks: curl's multi interface on the libuv loop (see
 * health.h). The pattern of curl's multi-uv example: curl tells us, through
 * CURLMOPT_SOCKETFUNCTION, which sockets to watch for what, and we keep one
 * uv_poll per socket; through CURLMOPT_TIMERFUNCTION, when to call it back,
 * and we keep one uv_timer. Either firing calls curl_multi_socket_action,
 * after which finished transfers are collected with curl_multi_info_read. */
#include "pipeline/exec/health.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "pipeline/core/text.h"

/* libcurl and what it pulls in (TLS, Kerberos, LDAP, ...: some 8 MiB of
 * resident pages and 100 ms or more to load on a busy machine) are loaded
 * when the first probe asks, on a thread of libuv's pool, not when the
 * program starts: a node that runs nothing with an HTTP check never loads
 * them, and the loop never waits for the loading. chimerad links a loader
 * (node/curl_lazy.c) that resolves the curl_* functions with dlopen; a
 * program linked with libcurl itself has none, and nothing to load. */
int health_curl_load(char *err, size_t len) __attribute__((weak));

enum curl_state { CURL_COLD = 0, CURL_READY, CURL_FAILED };

/* Process-wide: loaded (and curl_global_init run) once, kept until exit. */
static atomic_int curl_process = CURL_COLD;
static char curl_load_error[128];

struct probe {
    struct probe *prev, *next;
    CURL *easy;
    health_fn cb;
    void *arg;
    uint64_t started_ns;
    uint32_t timeout_ms;
    char *url; /* while it waits for curl to load */
    char errbuf[CURL_ERROR_SIZE];
};

struct sock {
    struct sock *prev, *next;
    uv_poll_t poll;
    curl_socket_t fd;
    struct health_checker *hc;
};

struct health_checker {
    uv_loop_t *loop;
    CURLM *multi; /* NULL until curl is loaded and a probe asked */
    uv_timer_t timer;
    uv_work_t load;
    bool loading;          /* load is queued or running */
    struct probe *waiting; /* probes asked before curl was loaded */
    struct probe *probes;
    struct sock *socks;
    unsigned in_flight;
    int open_handles; /* the timer and the polls not yet closed */
    bool dispatching; /* inside dispatch(), calling probes' callbacks */
    bool doomed;      /* health_free was called during dispatch() */
    bool released;    /* curl is gone; the memory goes with the last handle */
};

static void release_if_done(struct health_checker *hc)
{
    if (hc->released && hc->open_handles == 0)
        free(hc);
}

static void on_sock_closed(uv_handle_t *h)
{
    struct sock *s = h->data;
    struct health_checker *hc = s->hc;
    free(s);
    hc->open_handles--;
    release_if_done(hc);
}

static void sock_close(struct sock *s)
{
    struct health_checker *hc = s->hc;
    if (s->prev)
        s->prev->next = s->next;
    else
        hc->socks = s->next;
    if (s->next)
        s->next->prev = s->prev;
    uv_close((uv_handle_t *)&s->poll, on_sock_closed);
}

static void really_free(struct health_checker *hc);

/* Reports r to p's caller, p freed first (the callback may free the
 * checker: dispatch_done finishes that). */
static void answer(struct probe *p, const struct health_result *r)
{
    health_fn cb = p->cb;
    void *arg = p->arg;
    free(p);
    cb(r, arg);
}

static void dispatch_done(struct health_checker *hc)
{
    hc->dispatching = false;
    if (hc->doomed)
        really_free(hc);
}

/* The detail an operator reads when a probe got no HTTP answer: what was
 * probed and what happened there, in plain words. curl's own line is kept
 * as a suffix only where it adds something: for a connection reset under a
 * request in flight it is "select/poll returned error" (our poll saw the
 * error first), which is no explanation, but it names the failure curl saw. */
static void describe_failure(CURL *easy, CURLcode code, const struct probe *p, char *out,
                             size_t len)
{
    char *url = NULL;
    long os_errno = 0;
    curl_easy_getinfo(easy, CURLINFO_EFFECTIVE_URL, &url);
    curl_easy_getinfo(easy, CURLINFO_OS_ERRNO, &os_errno);
    char what[96];
    bool with_curl = false;
    switch (code) {
    case CURLE_COULDNT_CONNECT:
        if (os_errno == ECONNREFUSED)
            snprintf(what, sizeof what, "connection refused (is the service running?)");
        else
            snprintf(what, sizeof what, "could not connect%s%s", os_errno ? ": " : "",
                     os_errno ? strerror((int)os_errno) : "");
        break;
    case CURLE_OPERATION_TIMEDOUT: {
        char within[32];
        snprintf(what, sizeof what, "timed out: no answer within %s",
                 manifest_duration_text(p->timeout_ms, within, sizeof within));
        break;
    }
    case CURLE_COULDNT_RESOLVE_HOST:
        snprintf(what, sizeof what, "cannot resolve the host");
        break;
    case CURLE_GOT_NOTHING:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
        snprintf(what, sizeof what,
                 "the connection broke before an answer (did the service exit?)");
        with_curl = true;
        break;
    default:
        snprintf(what, sizeof what, "no answer");
        with_curl = true;
    }
    /* Whole in out (VERDICT_ERROR_MAX) unless the URL is very long: then
     * cut at the end, with "...". */
    char full[MANIFEST_STRING_MAX + CURL_ERROR_SIZE + 256];
    int n = snprintf(full, sizeof full, "GET %s: %s", url ? url : "?", what);
    if (with_curl && n >= 0 && (size_t)n < sizeof full)
        snprintf(full + n, sizeof full - (size_t)n, " (curl: %s)",
                 p->errbuf[0] ? p->errbuf : curl_easy_strerror(code));
    pl_cut_text(out, len, full);
}

/* Collects finished transfers and reports them. */
static void dispatch(struct health_checker *hc)
{
    CURLMsg *msg;
    int pending;
    hc->dispatching = true;
    while (!hc->doomed && (msg = curl_multi_info_read(hc->multi, &pending))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        CURL *easy = msg->easy_handle; /* msg dies with curl_multi_remove_handle */
        CURLcode code = msg->data.result;
        struct probe *p = NULL;
        curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&p);
        struct health_result r = {0};
        r.elapsed_ms = (double)(uv_hrtime() - p->started_ns) / 1e6;
        if (code == CURLE_OK) {
            curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &r.status);
            r.healthy = r.status >= 200 && r.status < 300;
            if (!r.healthy)
                snprintf(r.error, sizeof r.error, "HTTP %ld", r.status);
        } else {
            describe_failure(easy, code, p, r.error, sizeof r.error);
        }
        curl_multi_remove_handle(hc->multi, easy);
        curl_easy_cleanup(easy);
        if (p->prev)
            p->prev->next = p->next;
        else
            hc->probes = p->next;
        if (p->next)
            p->next->prev = p->prev;
        hc->in_flight--;
        answer(p, &r);
    }
    dispatch_done(hc);
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    struct sock *s = h->data;
    struct health_checker *hc = s->hc;
    int flags = 0, running;
    if (status < 0)
        flags = CURL_CSELECT_ERR;
    if (events & UV_READABLE)
        flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE)
        flags |= CURL_CSELECT_OUT;
    curl_multi_socket_action(hc->multi, s->fd, flags, &running);
    dispatch(hc);
}

static void on_timeout(uv_timer_t *t)
{
    struct health_checker *hc = t->data;
    int running;
    curl_multi_socket_action(hc->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    dispatch(hc);
}

/* CURLMOPT_TIMERFUNCTION: curl wants to be called back in timeout_ms (-1:
 * never). Calling curl from here is not allowed: a 0 goes through the loop. */
static int timer_fn(CURLM *multi, long timeout_ms, void *userp)
{
    (void)multi;
    struct health_checker *hc = userp;
    if (timeout_ms < 0)
        uv_timer_stop(&hc->timer);
    else
        uv_timer_start(&hc->timer, on_timeout, (uint64_t)timeout_ms, 0);
    return 0;
}

/* CURLMOPT_SOCKETFUNCTION: watch fd for what curl asks, or stop. */
static int socket_fn(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    (void)easy;
    struct health_checker *hc = userp;
    struct sock *s = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (s) {
            curl_multi_assign(hc->multi, fd, NULL);
            sock_close(s);
        }
        return 0;
    }
    if (!s) {
        s = calloc(1, sizeof *s);
        if (!s)
            return -1;
        if (uv_poll_init_socket(hc->loop, &s->poll, fd) != 0) {
            free(s);
            return -1;
        }
        s->fd = fd;
        s->hc = hc;
        s->poll.data = s;
        s->next = hc->socks;
        if (hc->socks)
            hc->socks->prev = s;
        hc->socks = s;
        hc->open_handles++;
        curl_multi_assign(hc->multi, fd, s);
    }
    int events = 0;
    if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
        events |= UV_READABLE;
    if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
        events |= UV_WRITABLE;
    uv_poll_start(&s->poll, events, on_poll);
    return 0;
}

static void on_timer_closed(uv_handle_t *h)
{
    struct health_checker *hc = h->data;
    hc->open_handles--;
    release_if_done(hc);
}

struct health_checker *health_new(uv_loop_t *loop)
{
    struct health_checker *hc = calloc(1, sizeof *hc);
    if (!hc)
        return NULL;
    hc->loop = loop;
    uv_timer_init(loop, &hc->timer);
    hc->timer.data = hc;
    hc->open_handles = 1;
    return hc;
}

static void load_curl_once(void)
{
    char err[sizeof curl_load_error] = "";
    if (health_curl_load && health_curl_load(err, sizeof err) != 0) {
        snprintf(curl_load_error, sizeof curl_load_error, "%s", err);
        atomic_store(&curl_process, CURL_FAILED);
    } else if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        snprintf(curl_load_error, sizeof curl_load_error, "curl_global_init failed");
        atomic_store(&curl_process, CURL_FAILED);
    } else {
        atomic_store(&curl_process, CURL_READY);
    }
}

/* On a pool thread. One load at a time (two checkers may ask at once), and
 * no curl call runs before it succeeded: curl_global_init is safe. */
static void load_curl(uv_work_t *w)
{
    (void)w;
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    pthread_mutex_lock(&lock);
    if (atomic_load(&curl_process) == CURL_COLD)
        load_curl_once();
    pthread_mutex_unlock(&lock);
}

/* This checker's multi handle, once curl is loaded; false when it cannot
 * be had. */
static bool open_multi(struct health_checker *hc)
{
    if (hc->multi)
        return true;
    if (atomic_load(&curl_process) != CURL_READY || !(hc->multi = curl_multi_init()))
        return false;
    curl_multi_setopt(hc->multi, CURLMOPT_SOCKETFUNCTION, socket_fn);
    curl_multi_setopt(hc->multi, CURLMOPT_SOCKETDATA, hc);
    curl_multi_setopt(hc->multi, CURLMOPT_TIMERFUNCTION, timer_fn);
    curl_multi_setopt(hc->multi, CURLMOPT_TIMERDATA, hc);
    return true;
}

static size_t discard(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    (void)ptr;
    (void)userdata;
    return size * nmemb;
}

static void link_probe(struct probe **list, struct probe *p)
{
    p->prev = NULL;
    p->next = *list;
    if (*list)
        (*list)->prev = p;
    *list = p;
}

/* Hands p's GET to curl; -1 when curl refused it (p is not linked then). */
static int start_probe(struct health_checker *hc, struct probe *p, const char *url)
{
    CURL *easy = curl_easy_init();
    if (!easy)
        return -1;
    p->easy = easy;
    if (curl_easy_setopt(easy, CURLOPT_URL, url) != CURLE_OK)
        goto fail;
    curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, (long)p->timeout_ms);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, p->errbuf);
    curl_easy_setopt(easy, CURLOPT_PRIVATE, p);
    curl_easy_setopt(easy, CURLOPT_USERAGENT, "chimera-health/" CHIMERA_VERSION);
    if (curl_multi_add_handle(hc->multi, easy) != CURLM_OK)
        goto fail;
    link_probe(&hc->probes, p);
    hc->in_flight++;
    return 0;
fail:
    curl_easy_cleanup(easy);
    p->easy = NULL;
    return -1;
}

static void on_curl_loaded(uv_work_t *w, int status);

int health_probe(struct health_checker *hc, const char *url, uint32_t timeout_ms, health_fn cb,
                 void *arg)
{
    if (!hc || hc->doomed || !url || !cb || atomic_load(&curl_process) == CURL_FAILED)
        return -1;
    struct probe *p = calloc(1, sizeof *p);
    if (!p)
        return -1;
    p->cb = cb;
    p->arg = arg;
    p->started_ns = uv_hrtime();
    p->timeout_ms = timeout_ms;
    if (open_multi(hc)) {
        if (start_probe(hc, p, url) == 0)
            return 0;
        free(p);
        return -1;
    }
    if (!(p->url = strdup(url))) {
        free(p);
        return -1;
    }
    link_probe(&hc->waiting, p);
    hc->in_flight++;
    if (!hc->loading) {
        hc->load.data = hc;
        if (uv_queue_work(hc->loop, &hc->load, load_curl, on_curl_loaded) != 0) {
            hc->waiting = p->next;
            hc->in_flight--;
            free(p->url);
            free(p);
            return -1;
        }
        hc->loading = true;
        hc->open_handles++; /* the checker outlives the load */
    }
    return 0;
}

static void free_waiting(struct health_checker *hc)
{
    while (hc->waiting) {
        struct probe *p = hc->waiting;
        hc->waiting = p->next;
        free(p->url);
        free(p);
    }
}

/* On the loop: the probes that waited start now, or learn why not. */
static void on_curl_loaded(uv_work_t *w, int status)
{
    (void)status;
    struct health_checker *hc = w->data;
    hc->loading = false;
    hc->open_handles--;
    if (hc->released) {
        release_if_done(hc);
        return;
    }
    bool ready = open_multi(hc);
    hc->dispatching = true;
    while (hc->waiting && !hc->doomed) {
        struct probe *p = hc->waiting;
        hc->waiting = p->next;
        hc->in_flight--;
        char *url = p->url;
        p->url = NULL;
        p->prev = p->next = NULL;
        int rc = ready ? start_probe(hc, p, url) : -1;
        free(url);
        if (rc == 0)
            continue;
        struct health_result r = {0};
        r.elapsed_ms = (double)(uv_hrtime() - p->started_ns) / 1e6;
        snprintf(r.error, sizeof r.error, "%s",
                 ready ? "the probe could not be started"
                       : (curl_load_error[0] ? curl_load_error : "libcurl is not available"));
        answer(p, &r);
    }
    dispatch_done(hc);
}

unsigned health_in_flight(const struct health_checker *hc)
{
    return hc ? hc->in_flight : 0;
}

static void really_free(struct health_checker *hc)
{
    while (hc->probes) {
        struct probe *p = hc->probes;
        hc->probes = p->next;
        curl_multi_remove_handle(hc->multi, p->easy);
        curl_easy_cleanup(p->easy);
        free(p);
    }
    free_waiting(hc);
    hc->in_flight = 0;
    /* May still report sockets removed (closing cached connections). */
    if (hc->multi)
        curl_multi_cleanup(hc->multi);
    hc->multi = NULL;
    while (hc->socks)
        sock_close(hc->socks);
    uv_close((uv_handle_t *)&hc->timer, on_timer_closed);
    hc->released = true; /* curl stays loaded: another checker may use it */
}

void health_free(struct health_checker *hc)
{
    if (!hc || hc->doomed || hc->released)
        return;
    if (hc->dispatching) {
        hc->doomed = true; /* dispatch() finishes the job */
        return;
    }
    hc->doomed = true;
    really_free(hc);
}
