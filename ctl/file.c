/* A document read whole from a file or stdin: a manifest (deploy), a drill
 * (drill validate|run). See ctl.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/ctl.h"

char *ctl_file_read(const char *file, size_t max, size_t *len, size_t *size, char *why,
                    size_t whylen)
{
    FILE *f = strcmp(file, "-") == 0 ? stdin : fopen(file, "re");
    if (!f) {
        snprintf(why, whylen, "cannot read %s: %s", file, strerror(errno));
        return NULL;
    }
    size_t cap = max + 2, n = 0;
    char *buf = malloc(cap);
    int err = buf ? 0 : ENOMEM;
    while (buf && n < cap - 1) {
        size_t got = fread(buf + n, 1, cap - 1 - n, f);
        if (got == 0)
            break;
        n += got;
    }
    /* Past max the rest is counted, not kept: the error says how large. */
    size_t total = n;
    if (buf && n > max) {
        char sink[8192];
        size_t got;
        while ((got = fread(sink, 1, sizeof sink, f)) > 0)
            total += got;
    }
    if (buf && ferror(f))
        err = errno; /* a directory: EISDIR */
    if (f != stdin)
        fclose(f);
    if (err) {
        snprintf(why, whylen, "cannot read %s: %s", file, strerror(err));
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    if (size)
        *size = total;
    return buf;
}
