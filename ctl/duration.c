/* chimeractl's one way of writing a duration for people: as a drill file
 * does ("101ms", "2s685ms", "10m"; manifest_format_duration). Every table
 * and line of chimeractl goes through here; --json keeps the nodes' ms. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/ctl.h"
#include "pipeline/core/manifest.h"

const char *ctl_ms_text(int64_t ms, char *out, size_t cap)
{
    return manifest_duration_text(ms < 0 ? 0 : (uint64_t)ms, out, cap);
}

void ctl_human_ms(const json_t *v, char *out, size_t len)
{
    double ms = json_number_value(v);
    if ((!json_is_integer(v) && !json_is_real(v)) || ms < 0)
        snprintf(out, len, "never");
    else
        ctl_ms_text(ms >= (double)UINT32_MAX ? UINT32_MAX : (int64_t)(ms + 0.5), out, len);
}

int64_t ctl_ms_of_text(const char *s)
{
    char tok[32], why[64];
    size_t n = strspn(s, "0123456789.hms"); /* the duration's own characters */
    snprintf(tok, sizeof tok, "%.*s", (int)(n < sizeof tok ? n : sizeof tok - 1), s);
    uint32_t ms;
    if (n > 0 && n < sizeof tok && manifest_parse_duration(tok, &ms, why, sizeof why) == 0)
        return ms;
    char *end;
    long v = strtol(s, &end, 10); /* a node before: "412 ms" */
    return end != s && v >= 0 && strncmp(end, " ms", 3) == 0 ? v : -1;
}
