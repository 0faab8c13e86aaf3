/* The time window in which the chaos injector may run (Chaos Monkey only
 * runs in business hours): pure, times in wall-clock milliseconds since the
 * Unix epoch, read in UTC.
 *
 * Syntax (case-insensitive, spaces around parts are free):
 *   always
 *   RANGE [, RANGE ...]          at most CHAOS_WINDOW_MAX ranges
 *   RANGE = [DAYS] HH:MM-HH:MM   DAYS: Mon, Mon-Fri, Fri-Mon (wraps), or
 *                                none (every day); 24:00 ends at midnight
 * e.g. "Mon-Fri 09:00-17:00", "Sat-Sun 10:00-12:00, Wed 22:00-02:00".
 * A range whose end is not after its start crosses midnight: it opens on the
 * named day and closes the next day ("Fri 22:00-02:00" ends Saturday 02:00).
 * The start is inside the window, the end is not. */
#ifndef CHIMERA_CHAOS_WINDOW_H
#define CHIMERA_CHAOS_WINDOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CHAOS_WINDOW_MAX 8        /* ranges */
#define CHAOS_WINDOW_TEXT_MAX 256 /* bytes of its text, with the NUL */

struct chaos_window_range {
    uint8_t days;      /* bit 0 Monday .. bit 6 Sunday: the days it opens on */
    uint16_t from_min; /* minutes after midnight, 0..1439 */
    uint16_t to_min;   /* 1..1440; <= from_min: closes the next day */
};

struct chaos_window {
    bool always;
    size_t n;
    struct chaos_window_range r[CHAOS_WINDOW_MAX];
};

/* Parses text into *w. Returns 0, or -1 with one line in err saying what is
 * wrong, where (the range's text) and how it is written. */
int chaos_window_parse(const char *text, struct chaos_window *w, char *err, size_t errlen);

/* Whether t is inside the window. */
bool chaos_window_inside(const struct chaos_window *w, uint64_t t_ms);

/* The first time at or after t at which the window is open: t itself when
 * inside, else the next start of a range (within the coming week). */
uint64_t chaos_window_next_open(const struct chaos_window *w, uint64_t t_ms);

#endif
