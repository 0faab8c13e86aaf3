#include "node/base/events.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/core/text.h"

/* An event's text when there was no memory for its own. */
static char no_text[] = "";

static void copy_str(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src ? src : "");
}

void events_init(struct events *ev, const char *node)
{
    memset(ev, 0, sizeof(*ev));
    ev->first_seq = ev->next_seq = 1;
    copy_str(ev->node, sizeof(ev->node), node);
}

static void drop_text(struct event *e)
{
    if (e->message != no_text)
        free(e->message);
    e->message = NULL;
}

void events_free(struct events *ev)
{
    for (size_t i = 0; i < EVENTS_CAPACITY; i++)
        drop_text(&ev->ring[i]);
}

uint64_t events_recorded(const struct events *ev)
{
    return ev->next_seq - ev->first_seq;
}

/* The ring slot of seq: slots follow the run's own count, so any base works. */
static size_t slot(const struct events *ev, uint64_t seq)
{
    return (size_t)((seq - ev->first_seq) % EVENTS_CAPACITY);
}

void events_set_boot(struct events *ev, uint64_t boot)
{
    uint64_t recorded = events_recorded(ev);
    uint64_t first = boot << EVENTS_BOOT_SHIFT;
    if (first == 0)
        first = 1;
    for (uint64_t seq = ev->first_seq; seq < ev->next_seq; seq++) {
        struct event *e = &ev->ring[slot(ev, seq)];
        if (e->seq == seq) {
            e->seq = first + (seq - ev->first_seq);
            e->boot = boot;
        }
    }
    ev->boot = boot;
    ev->first_seq = first;
    ev->next_seq = first + recorded;
}

const struct event *events_vadd(struct events *ev, int64_t time_ms, const char *kind,
                                const char *peer, const char *fmt, va_list ap)
{
    /* One byte more than an event holds: a longer text shows that it is
     * longer, and is cut as the whole of it would be (text.h). */
    char full[EVENTS_MESSAGE_MAX + 1], text[EVENTS_MESSAGE_MAX];
    vsnprintf(full, sizeof(full), fmt, ap);
    pl_cut_text(text, sizeof(text), full);
    /* What is not UTF-8 (a request's path, bytes off the wire) would make
     * the event no JSON string: /events and the stream would leave it out. */
    pl_clean_text(text);
    struct event *e = &ev->ring[slot(ev, ev->next_seq)];
    drop_text(e);
    size_t len = strlen(text) + 1;
    e->message = malloc(len);
    if (e->message)
        memcpy(e->message, text, len);
    else
        e->message = no_text;
    e->seq = ev->next_seq++;
    e->boot = ev->boot;
    e->time_ms = time_ms;
    copy_str(e->node, sizeof(e->node), ev->node);
    copy_str(e->kind, sizeof(e->kind), kind);
    copy_str(e->peer, sizeof(e->peer), peer);
    /* A peer's name comes off the wire, and the copy may cut it. */
    pl_clean_text(e->peer);
    return e;
}

const struct event *events_add(struct events *ev, int64_t time_ms, const char *kind,
                               const char *peer, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    const struct event *e = events_vadd(ev, time_ms, kind, peer, fmt, ap);
    va_end(ap);
    return e;
}

size_t events_count(const struct events *ev)
{
    uint64_t recorded = events_recorded(ev);
    return recorded < EVENTS_CAPACITY ? (size_t)recorded : EVENTS_CAPACITY;
}

size_t events_query(const struct events *ev, bool has_since, uint64_t since, size_t limit,
                    const struct event **out)
{
    size_t held = events_count(ev);
    if (limit > EVENTS_CAPACITY)
        limit = EVENTS_CAPACITY;
    if (held == 0 || limit == 0)
        return 0;
    uint64_t oldest = ev->next_seq - held; /* seq of the oldest event held */
    uint64_t newest = ev->next_seq - 1;
    uint64_t first;
    if (has_since) {
        if (since >= newest)
            return 0;
        first = since + 1 > oldest ? since + 1 : oldest;
    } else {
        first = held > limit ? newest - limit + 1 : oldest;
    }
    size_t n = 0;
    for (uint64_t seq = first; seq <= newest && n < limit; seq++)
        out[n++] = &ev->ring[slot(ev, seq)];
    return n;
}

bool events_limiter_allow(struct events_limiter *l, int64_t now_ms, int64_t interval_ms,
                          uint64_t *held_back)
{
    if (l->used && now_ms - l->last_ms < interval_ms) {
        l->held_back++;
        return false;
    }
    *held_back = l->held_back;
    l->held_back = 0;
    l->last_ms = now_ms;
    l->used = true;
    return true;
}
