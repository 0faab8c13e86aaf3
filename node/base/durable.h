/* Small files that must survive a crash whole: written to a temporary file,
 * fsynced, renamed over the old one, and the directory fsynced, so a reader
 * sees either the old contents or the new, never a mix. */
#ifndef CHIMERA_DURABLE_H
#define CHIMERA_DURABLE_H

#include <stddef.h>

/* Replaces dir/name with len bytes of buf. Returns 0, or with one line in
 * err: -1 when the old file is untouched (creating, writing or syncing the
 * temporary file failed, or the rename did: the disk is full, say), so the
 * caller may go on without the new contents and retry later; -2 when the
 * rename happened but the directory sync failed, so which contents survive
 * a crash is unknown. Persisted state that did not reach the disk must
 * never be acted upon. */
int durable_write(const char *dir, const char *name, const void *buf, size_t len, char *err,
                  size_t errlen);

/* Reads dir/name into buf (at most cap bytes). Returns the length, -1 when
 * the file does not exist, or -2 with one line in err on any other error
 * (including a file larger than cap). */
long durable_read(const char *dir, const char *name, void *buf, size_t cap, char *err,
                  size_t errlen);

/* Whether dir takes writes: writes bytes to a scratch file there, syncs and
 * removes it. Returns 0, or -1 with one line in err ("no space left on
 * device"). */
int durable_probe(const char *dir, size_t bytes, char *err, size_t errlen);

#endif
