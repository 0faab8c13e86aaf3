/* Durations in event text (harness_duration.h). */
#include "harness_duration.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "pipeline/core/manifest.h"

long h_duration_ms(const char *text)
{
    char tok[32], why[64];
    size_t n = strspn(text, "0123456789hms");
    if (n == 0 || n >= sizeof tok)
        return -1;
    snprintf(tok, sizeof tok, "%.*s", (int)n, text);
    uint32_t ms;
    return manifest_parse_duration(tok, &ms, why, sizeof why) == 0 ? (long)ms : -1;
}
