/* The event ring: the last EVENTS_CAPACITY things that happened on this
 * node, each with a sequence number that never repeats while it runs. Pure:
 * callers pass the time. */
#ifndef CHIMERA_EVENTS_H
#define CHIMERA_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EVENTS_CAPACITY 1000
#define EVENTS_DEFAULT_LIMIT 50

struct event {
    uint64_t seq;    /* 1, 2, 3, ... */
    int64_t time_ms; /* wall clock, Unix epoch milliseconds */
    char node[64];   /* the node that recorded it */
    char kind[48];   /* dotted topic, e.g. "peer.dead" */
    char peer[64];   /* the member it is about, or "" */
    char message[256];
};

struct events {
    struct event ring[EVENTS_CAPACITY];
    uint64_t next_seq; /* seq the next event gets */
    char node[64];
};

void events_init(struct events *ev, const char *node);

/* Records an event; message is printf-formatted and cut to fit. Returns it. */
const struct event *events_add(struct events *ev, int64_t time_ms, const char *kind,
                               const char *peer, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Events in order, oldest first: with has_since, the first `limit` whose seq
 * is greater than since; without, the newest `limit`. Fills out[] with
 * pointers into the ring (valid until the next events_add) and returns how
 * many. limit is clamped to EVENTS_CAPACITY. */
size_t events_query(const struct events *ev, bool has_since, uint64_t since, size_t limit,
                    const struct event **out);

/* Number of events currently held. */
size_t events_count(const struct events *ev);

/* A limiter for noisy event kinds: allows one event per interval and counts
 * what it held back, so the next allowed event can say "and N more". */
struct events_limiter {
    int64_t last_ms;
    bool used;
    uint64_t held_back;
};

/* Returns true when an event may be recorded now; then *held_back is the
 * number suppressed since the last one (and the count restarts). */
bool events_limiter_allow(struct events_limiter *l, int64_t now_ms, int64_t interval_ms,
                          uint64_t *held_back);

#endif
