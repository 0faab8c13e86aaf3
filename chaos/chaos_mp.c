/* The msgpack helpers the chaos records' packers and decoders share
 * (chaos_err.h): a fault record (fault.c) and a drill record
 * (drill_record.c) are maps of strings and whole numbers, judged alike. */
#include <inttypes.h>
#include <string.h>

#include "chaos/chaos_err.h"
#include "wire/map.h"

bool chaos_is_text(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return false;
    return true;
}

void chaos_mp_key(msgpack_packer *pk, const char *k)
{
    msgpack_pack_str_with_body(pk, k, strlen(k));
}

void chaos_mp_kv_str(msgpack_packer *pk, const char *k, const char *v)
{
    chaos_mp_key(pk, k);
    msgpack_pack_str_with_body(pk, v, strlen(v));
}

void chaos_mp_kv_u64(msgpack_packer *pk, const char *k, uint64_t v)
{
    chaos_mp_key(pk, k);
    msgpack_pack_uint64(pk, v);
}

int chaos_mp_get_str(const msgpack_object *map, const char *at, const char *key, bool optional,
                     bool text, char *out, size_t cap, char *err, size_t errlen)
{
    const msgpack_object *v = wire_map_get(map, key);
    out[0] = '\0';
    if (!v)
        return optional ? 0 : chaos_put(err, errlen, "%s%s: missing", at, key);
    if (v->type != MSGPACK_OBJECT_STR)
        return chaos_put(err, errlen, "%s%s: must be a string", at, key);
    if (v->via.str.size >= cap)
        return chaos_put(err, errlen, "%s%s: too long (at most %zu bytes)", at, key, cap - 1);
    if (text && !chaos_is_text(v->via.str.ptr, v->via.str.size))
        return chaos_put(err, errlen, "%s%s: holds a control character", at, key);
    if (!text && memchr(v->via.str.ptr, '\0', v->via.str.size))
        return chaos_put(err, errlen, "%s%s: holds a NUL byte", at, key);
    memcpy(out, v->via.str.ptr, v->via.str.size);
    out[v->via.str.size] = '\0';
    return 0;
}

int chaos_mp_get_u64(const msgpack_object *map, const char *at, const char *key, bool optional,
                     uint64_t max, uint64_t *out, bool *known, char *err, size_t errlen)
{
    const msgpack_object *v = wire_map_get(map, key);
    *out = 0;
    if (known)
        *known = false;
    if (!v)
        return optional ? 0 : chaos_put(err, errlen, "%s%s: missing", at, key);
    if (known && v->type == MSGPACK_OBJECT_NIL)
        return 0;
    if (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER || v->via.u64 > max)
        return max == UINT64_MAX
                   ? chaos_put(err, errlen, "%s%s: must be a whole number", at, key)
                   : chaos_put(err, errlen, "%s%s: must be a whole number up to %" PRIu64, at, key,
                               max);
    *out = v->via.u64;
    if (known)
        *known = true;
    return 0;
}
