/* The event ring: the last EVENTS_CAPACITY things that happened on this
 * node, each with a sequence number that never repeats, across restarts
 * too (events_set_boot). Pure: callers pass the time and the boot epoch. */
#ifndef CHIMERA_EVENTS_H
#define CHIMERA_EVENTS_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EVENTS_CAPACITY 1000
#define EVENTS_DEFAULT_LIMIT 50

/* The longest event text, with its NUL: room for a release's health
 * detail whole (PL_DETAIL_MAX) with the member, release and deployment
 * before it (node/deploy/deploy_run.c checks), as /deployments and
 * /federation/state give it. A text is stored at its own length, so the
 * room costs only the events that take it. */
#define EVENTS_MESSAGE_MAX 1024

/* A run's first sequence number is its boot epoch shifted left by this:
 * boot epochs grow by at least one per start (and follow the clock in
 * seconds), so a run's numbers lie above every number an earlier run
 * handed out unless that run recorded more than 2^20 events per second it
 * lived. Below 2^53 (exact in a JSON double) until the year 2242. */
#define EVENTS_BOOT_SHIFT 20

struct event {
    uint64_t seq;    /* grows by one per event; see EVENTS_BOOT_SHIFT */
    uint64_t boot;   /* the boot epoch of the run that recorded it (0: not set) */
    int64_t time_ms; /* wall clock, Unix epoch milliseconds */
    char node[64];   /* the node that recorded it */
    char kind[48];   /* dotted topic, e.g. "peer.dead" */
    char peer[64];   /* the member it is about, or "" */
    char *message;   /* never NULL; owned by the ring (at most EVENTS_MESSAGE_MAX with its NUL) */
};

struct events {
    struct event ring[EVENTS_CAPACITY];
    uint64_t first_seq; /* seq of this run's first event */
    uint64_t next_seq;  /* seq the next event gets */
    uint64_t boot;
    char node[64];
};

/* Sequence numbers start at 1 until events_set_boot. */
void events_init(struct events *ev, const char *node);

/* Frees the events' texts: ev holds none after it (events_init again to
 * use it). */
void events_free(struct events *ev);

/* This run's boot epoch (it grows with every start of the node): numbers
 * continue from boot << EVENTS_BOOT_SHIFT, so a reader's `since` cursor
 * from an earlier run lies below every event of this one and loses none of
 * them. Events already held are renumbered (call it before anyone reads). */
void events_set_boot(struct events *ev, uint64_t boot);

/* Events recorded by this run (held or already overwritten). */
uint64_t events_recorded(const struct events *ev);

/* Records an event; message is printf-formatted, and one longer than
 * EVENTS_MESSAGE_MAX - 1 bytes is cut as pl_cut_text cuts (whole UTF-8
 * characters, then "..."); a byte of it that is not UTF-8 is stored as '?'
 * (pl_clean_text). Returns it. */
const struct event *events_add(struct events *ev, int64_t time_ms, const char *kind,
                               const char *peer, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
const struct event *events_vadd(struct events *ev, int64_t time_ms, const char *kind,
                                const char *peer, const char *fmt, va_list ap)
    __attribute__((format(printf, 5, 0)));

/* Events in order, oldest first: with has_since, the first `limit` whose seq
 * is greater than since (a since below this run's numbers, an earlier
 * run's, starts at the oldest held); without, the newest `limit`. Fills out[] with
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
