/* chimeractl's one way of writing a duration for people: as a drill file
 * does ("101ms", "2s685ms", "10m"; manifest_format_duration). Every table
 * and line of chimeractl goes through here; --json keeps the nodes' ms. */
#include <stdio.h>

#include "ctl/ctl.h"
#include "pipeline/core/manifest.h"

const char *ctl_ms_text(int64_t ms, char *out, size_t cap)
{
    manifest_format_duration(ms < 0 ? 0 : ms > UINT32_MAX ? UINT32_MAX : (uint32_t)ms, out, cap);
    return out;
}

void ctl_human_ms(const json_t *v, char *out, size_t len)
{
    double ms = json_number_value(v);
    if ((!json_is_integer(v) && !json_is_real(v)) || ms < 0)
        snprintf(out, len, "never");
    else
        ctl_ms_text(ms >= (double)UINT32_MAX ? UINT32_MAX : (int64_t)(ms + 0.5), out, len);
}
