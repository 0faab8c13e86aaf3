/* Private to chaos/: the one-line error writer, the id rule and the
 * msgpack helpers (chaos_mp.c) its parsers and packers share. */
#ifndef CHIMERA_CHAOS_ERR_H
#define CHIMERA_CHAOS_ERR_H

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Formats one line into err (control characters replaced, so an echoed
 * value cannot break it); returns -1 so callers can return it. */
int chaos_put(char *err, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* 1-63 of [A-Za-z0-9._-], starting with a letter or digit: node, service
 * and fault ids, as the configuration and the manifest spell them. */
bool chaos_valid_name(const char *s);

/* Whether s (n bytes) holds no control character (nor NUL). */
bool chaos_is_text(const char *s, size_t n);

/* Packs a map's key; a key and its string or whole-number value. */
void chaos_mp_key(msgpack_packer *pk, const char *k);
void chaos_mp_kv_str(msgpack_packer *pk, const char *k, const char *v);
void chaos_mp_kv_u64(msgpack_packer *pk, const char *k, uint64_t v);

/* The string under key in map into out (cap bytes with the NUL): no NUL
 * inside, and with text no control character either. An absent optional
 * one is "". 0, or -1 with "<at><key>: ..." in err. */
int chaos_mp_get_str(const msgpack_object *map, const char *at, const char *key, bool optional,
                     bool text, char *out, size_t cap, char *err, size_t errlen);
/* The whole number under key, at most max, into *out (0 when an optional
 * one is absent). With known, nil is allowed too: *known says whether a
 * number was there. 0, or -1 as chaos_mp_get_str. */
int chaos_mp_get_u64(const msgpack_object *map, const char *at, const char *key, bool optional,
                     uint64_t max, uint64_t *out, bool *known, char *err, size_t errlen);

#endif
