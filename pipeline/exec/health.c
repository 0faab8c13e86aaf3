/* HTTP health checks: curl's multi interface on the libuv loop (see
 * health.h). The pattern of curl's multi-uv example: curl tells us, through
 * CURLMOPT_SOCKETFUNCTION, which sockets to watch for what, and we keep one
 * uv_poll per socket; through CURLMOPT_TIMERFUNCTION, when to call it back,
 * and we keep one uv_timer. Either firing calls curl_multi_socket_action,
 * after which finished transfers are collected with curl_multi_info_read. */
#include "pipeline/exec/health.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

struct probe {
    struct probe *prev, *next;
    CURL *easy;
    health_fn cb;
    void *arg;
    uint64_t started_ns;
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
    CURLM *multi;
    uv_timer_t timer;
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
            const char *why = p->errbuf[0] ? p->errbuf : curl_easy_strerror(code);
            size_t n = strnlen(why, sizeof r.error - 1); /* curl's lines may be longer */
            memcpy(r.error, why, n);
            r.error[n] = '\0';
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
        health_fn cb = p->cb;
        void *arg = p->arg;
        free(p);
        cb(&r, arg);
    }
    hc->dispatching = false;
    if (hc->doomed)
        really_free(hc);
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
    /* Reference-counted by curl; matched by the cleanup in really_free. */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return NULL;
    struct health_checker *hc = calloc(1, sizeof *hc);
    CURLM *multi = curl_multi_init();
    if (!hc || !multi) {
        free(hc);
        if (multi)
            curl_multi_cleanup(multi);
        curl_global_cleanup();
        return NULL;
    }
    hc->loop = loop;
    hc->multi = multi;
    uv_timer_init(loop, &hc->timer);
    hc->timer.data = hc;
    hc->open_handles = 1;
    curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, socket_fn);
    curl_multi_setopt(multi, CURLMOPT_SOCKETDATA, hc);
    curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, timer_fn);
    curl_multi_setopt(multi, CURLMOPT_TIMERDATA, hc);
    return hc;
}

static size_t discard(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    (void)ptr;
    (void)userdata;
    return size * nmemb;
}

int health_probe(struct health_checker *hc, const char *url, uint32_t timeout_ms, health_fn cb,
                 void *arg)
{
    if (!hc || hc->doomed || !url || !cb)
        return -1;
    struct probe *p = calloc(1, sizeof *p);
    CURL *easy = curl_easy_init();
    if (!p || !easy)
        goto fail;
    p->easy = easy;
    p->cb = cb;
    p->arg = arg;
    p->started_ns = uv_hrtime();
    if (curl_easy_setopt(easy, CURLOPT_URL, url) != CURLE_OK)
        goto fail;
    curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, p->errbuf);
    curl_easy_setopt(easy, CURLOPT_PRIVATE, p);
    curl_easy_setopt(easy, CURLOPT_USERAGENT, "chimera-health/" CHIMERA_VERSION);
    if (curl_multi_add_handle(hc->multi, easy) != CURLM_OK)
        goto fail;
    p->next = hc->probes;
    if (hc->probes)
        hc->probes->prev = p;
    hc->probes = p;
    hc->in_flight++;
    return 0;
fail:
    if (easy)
        curl_easy_cleanup(easy);
    free(p);
    return -1;
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
    hc->in_flight = 0;
    /* May still report sockets removed (closing cached connections). */
    curl_multi_cleanup(hc->multi);
    hc->multi = NULL;
    while (hc->socks)
        sock_close(hc->socks);
    uv_close((uv_handle_t *)&hc->timer, on_timer_closed);
    hc->released = true;
    curl_global_cleanup();
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
