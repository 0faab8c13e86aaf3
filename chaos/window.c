/* The chaos time window (see window.h). */
#include "chaos/window.h"
#include "chaos/chaos_err.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define DAY_MS 86400000ull
#define MIN_MS 60000ull
#define SYNTAX                                                                                     \
    "write it as \"always\" or e.g. \"Mon-Fri 09:00-17:00\" (UTC; ranges separated by ',')"

static const char *const day_names[7] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};

/* A day: its three-letter name or its full English name. */
static int parse_day(const char **s)
{
    static const char *const full[7] = {"monday", "tuesday",  "wednesday", "thursday",
                                        "friday", "saturday", "sunday"};
    for (int d = 0; d < 7; d++) {
        size_t n = strlen(full[d]);
        if (strncasecmp(*s, full[d], n) == 0 && !isalpha((unsigned char)(*s)[n]))
            return *s += n, d;
        if (strncasecmp(*s, day_names[d], 3) == 0 && !isalpha((unsigned char)(*s)[3]))
            return *s += 3, d;
    }
    return -1;
}

/* HH:MM, 00:00 to 24:00 (24:00 only where allow_24). */
static int parse_hhmm(const char **s, bool allow_24)
{
    const char *p = *s;
    if (!isdigit((unsigned char)p[0]) || !isdigit((unsigned char)p[1]) || p[2] != ':' ||
        !isdigit((unsigned char)p[3]) || !isdigit((unsigned char)p[4]))
        return -1;
    int h = (p[0] - '0') * 10 + (p[1] - '0'), m = (p[3] - '0') * 10 + (p[4] - '0');
    if (m > 59 || h > 24 || (h == 24 && (m != 0 || !allow_24)))
        return -1;
    *s = p + 5;
    return h * 60 + m;
}

static void skip_space(const char **s)
{
    while (isspace((unsigned char)**s))
        (*s)++;
}

/* One range, text[0..n) trimmed. */
static int parse_range(const char *text, size_t n, struct chaos_window_range *r, char *err,
                       size_t errlen)
{
    char buf[CHAOS_WINDOW_TEXT_MAX];
    memcpy(buf, text, n);
    buf[n] = '\0';
    const char *s = buf;
    r->days = 0x7f;
    if (isalpha((unsigned char)*s)) {
        int a = parse_day(&s), b = a;
        if (a >= 0 && *s == '-' && isalpha((unsigned char)s[1])) {
            s++;
            b = parse_day(&s);
        }
        if (a < 0 || b < 0)
            return chaos_put(
                err, errlen,
                "\"%s\": unknown day; use Mon, Tue, Wed, Thu, Fri, Sat or Sun, or a span "
                "like Mon-Fri",
                buf);
        r->days = 0;
        for (int d = a;; d = (d + 1) % 7) {
            r->days |= (uint8_t)(1u << d);
            if (d == b)
                break;
        }
        if (!isspace((unsigned char)*s))
            return chaos_put(err, errlen, "\"%s\": put a space between the days and the hours",
                             buf);
        skip_space(&s);
    }
    int from = parse_hhmm(&s, false), to = -1;
    if (from >= 0 && *s == '-') {
        s++;
        to = parse_hhmm(&s, true);
    }
    if (from < 0 || to < 0 || *s)
        return chaos_put(err, errlen, "\"%s\": hours must be HH:MM-HH:MM (00:00 to 24:00); " SYNTAX,
                         buf);
    if (from == to)
        return chaos_put(err, errlen, "\"%s\": the range opens and closes at the same minute", buf);
    r->from_min = (uint16_t)from;
    r->to_min = (uint16_t)to;
    return 0;
}

int chaos_window_parse(const char *text, struct chaos_window *w, char *err, size_t errlen)
{
    memset(w, 0, sizeof *w);
    if (err && errlen)
        err[0] = '\0';
    if (!text)
        text = "";
    size_t len = strlen(text);
    if (len >= CHAOS_WINDOW_TEXT_MAX)
        return chaos_put(err, errlen, "%zu bytes is too long; at most %d", len,
                         CHAOS_WINDOW_TEXT_MAX - 1);
    const char *t = text;
    skip_space(&t);
    size_t tn = strlen(t);
    while (tn > 0 && isspace((unsigned char)t[tn - 1]))
        tn--;
    if (tn == strlen("always") && strncasecmp(t, "always", tn) == 0) {
        w->always = true;
        return 0;
    }
    if (tn == 0)
        return chaos_put(err, errlen, "empty; " SYNTAX);
    for (const char *p = t, *end = t + tn; p <= end;) {
        size_t n = strcspn(p, ",");
        if (p + n > end)
            n = (size_t)(end - p);
        const char *s = p, *e = p + n;
        p = e + 1;
        while (s < e && isspace((unsigned char)*s))
            s++;
        while (e > s && isspace((unsigned char)e[-1]))
            e--;
        if (s == e)
            return chaos_put(err, errlen, "\"%s\": an empty range; " SYNTAX, text);
        if (w->n == CHAOS_WINDOW_MAX)
            return chaos_put(err, errlen, "more than %d ranges; merge some", CHAOS_WINDOW_MAX);
        if (parse_range(s, (size_t)(e - s), &w->r[w->n], err, errlen) != 0)
            return -1;
        w->n++;
    }
    return 0;
}

static unsigned weekday(uint64_t t_ms) /* 0 Monday; 1970-01-01 was a Thursday */
{
    return (unsigned)((t_ms / DAY_MS + 3) % 7);
}

bool chaos_window_inside(const struct chaos_window *w, uint64_t t_ms)
{
    if (w->always)
        return true;
    unsigned d = weekday(t_ms), prev = (d + 6) % 7;
    unsigned m = (unsigned)(t_ms % DAY_MS / MIN_MS);
    for (size_t i = 0; i < w->n; i++) {
        const struct chaos_window_range *r = &w->r[i];
        bool today = r->days >> d & 1, yesterday = r->days >> prev & 1;
        if (r->from_min < r->to_min ? today && m >= r->from_min && m < r->to_min
                                    : (today && m >= r->from_min) || (yesterday && m < r->to_min))
            return true;
    }
    return false;
}

uint64_t chaos_window_next_open(const struct chaos_window *w, uint64_t t_ms)
{
    if (chaos_window_inside(w, t_ms))
        return t_ms;
    uint64_t day0 = t_ms - t_ms % DAY_MS, best = UINT64_MAX;
    for (unsigned off = 0; off <= 7; off++) {
        unsigned d = (weekday(day0) + off) % 7;
        for (size_t i = 0; i < w->n; i++) {
            uint64_t s = day0 + off * DAY_MS + w->r[i].from_min * MIN_MS;
            if ((w->r[i].days >> d & 1) && s >= t_ms && s < best)
                best = s;
        }
    }
    return best;
}
