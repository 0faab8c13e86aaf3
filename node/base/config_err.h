/* Private to the config module: one-line error messages shared by the
 * parser (config.c) and the file checks (config_files.c). */
#ifndef CHIMERA_CONFIG_ERR_H
#define CHIMERA_CONFIG_ERR_H

#include <stdarg.h>
#include <stddef.h>

/* keygen --out creates the file 0600, as config_check_files wants it;
 * `chimeractl keygen > FILE` would follow the umask. */
#define KEYGEN_CMD "chimeractl keygen --out"
#define KEYGEN "generate one with: " KEYGEN_CMD

/* Writes prefix and the formatted message into err, replacing control
 * characters so an echoed value cannot break the one-line promise. */
void config_vput(char *err, size_t len, const char *prefix, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));

/* config_vput without a prefix; returns -1 so callers can return it. */
int config_put(char *err, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
