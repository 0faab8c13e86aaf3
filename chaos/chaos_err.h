/* Private to chaos/: the one-line error writer and the id rule its parsers
 * share. */
#ifndef CHIMERA_CHAOS_ERR_H
#define CHIMERA_CHAOS_ERR_H

#include <stdbool.h>
#include <stddef.h>

/* Formats one line into err (control characters replaced, so an echoed
 * value cannot break it); returns -1 so callers can return it. */
int chaos_put(char *err, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* 1-63 of [A-Za-z0-9._-], starting with a letter or digit: node, service
 * and fault ids, as the configuration and the manifest spell them. */
bool chaos_valid_name(const char *s);

#endif
