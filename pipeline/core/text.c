/* Texts for people: see text.h. Pure. */
#include "pipeline/core/text.h"

#include <string.h>

void pl_cut_text(char *out, size_t cap, const char *text)
{
    size_t n = strlen(text);
    if (n < cap) {
        memcpy(out, text, n + 1);
        return;
    }
    if (cap < 4) {
        if (cap)
            out[0] = '\0';
        return;
    }
    size_t keep = cap - 4;
    while (keep > 0 && ((unsigned char)text[keep] & 0xC0) == 0x80)
        keep--; /* text[keep] would continue a character that is cut */
    memcpy(out, text, keep);
    memcpy(out + keep, "...", 4);
}
