/* Server-Sent Events as a client reads them (the WHATWG event stream
 * format): lines end in LF, CRLF or CR; "data:" lines accumulate, "id:"
 * names the event, a blank line dispatches it, lines starting with ':' are
 * comments (keep-alives). Pure: bytes in, events out. */
#include <stdlib.h>
#include <string.h>

#include "ctl/ctl.h"

/* Appends n bytes to a growing buffer kept NUL-terminated. */
static int grow(char **buf, size_t *len, size_t *cap, const char *p, size_t n)
{
    if (*len + n + 1 > CTL_SSE_MAX_LINE)
        return -1;
    if (*len + n + 1 > *cap) {
        size_t c = *cap ? *cap : 256;
        while (c < *len + n + 1)
            c *= 2;
        char *nb = realloc(*buf, c);
        if (!nb)
            return -1;
        *buf = nb;
        *cap = c;
    }
    memcpy(*buf + *len, p, n);
    *len += n;
    (*buf)[*len] = '\0';
    return 0;
}

/* One whole line (without its end). */
static int line(struct ctl_sse *s, ctl_sse_fn fn, void *arg)
{
    const char *l = s->line ? s->line : "";
    size_t n = s->len;
    s->len = 0;
    if (n == 0) { /* dispatch */
        if (s->has_data)
            fn(arg, s->id, s->data ? s->data : "");
        s->has_data = false;
        s->dlen = 0;
        if (s->data)
            s->data[0] = '\0';
        return 0;
    }
    if (l[0] == ':')
        return 0;
    const char *colon = memchr(l, ':', n);
    size_t fl = colon ? (size_t)(colon - l) : n;
    const char *v = colon ? colon + 1 : l + n;
    if (*v == ' ')
        v++;
    size_t vl = n - (size_t)(v - l);
    if (fl == 4 && memcmp(l, "data", 4) == 0) {
        if (s->has_data && grow(&s->data, &s->dlen, &s->dcap, "\n", 1) != 0)
            return -1;
        s->has_data = true;
        return grow(&s->data, &s->dlen, &s->dcap, v, vl);
    }
    if (fl == 2 && memcmp(l, "id", 2) == 0 && vl < sizeof(s->id) && !memchr(v, '\0', vl)) {
        memcpy(s->id, v, vl); /* it stays until another id (the last event id) */
        s->id[vl] = '\0';
    }
    return 0; /* event:, retry: and the rest: nothing we use */
}

int ctl_sse_feed(struct ctl_sse *s, const char *p, size_t n, ctl_sse_fn fn, void *arg)
{
    for (size_t i = 0; i < n; i++) {
        char ch = p[i];
        if (ch == '\n' && s->after_cr) { /* the LF of a CRLF */
            s->after_cr = false;
            continue;
        }
        s->after_cr = ch == '\r';
        if (ch == '\n' || ch == '\r') {
            if (line(s, fn, arg) != 0)
                return -1;
            continue;
        }
        size_t run = 1; /* the rest of the line at once */
        while (i + run < n && p[i + run] != '\n' && p[i + run] != '\r')
            run++;
        if (grow(&s->line, &s->len, &s->cap, p + i, run) != 0)
            return -1;
        i += run - 1;
    }
    return 0;
}

void ctl_sse_free(struct ctl_sse *s)
{
    free(s->line);
    free(s->data);
    memset(s, 0, sizeof(*s));
}
