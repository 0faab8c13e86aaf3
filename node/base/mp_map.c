/* msgpack maps with string keys, as the node's ledger payloads use them
 * (deployment records, read-only episodes): writing one key and value,
 * and reading a key's value back. Readers check the value's type. */
#include <string.h>

#include "node/base/base.h"
#include "wire/map.h"

void node_mp_kv_str(msgpack_packer *pk, const char *k, const char *v, size_t n)
{
    msgpack_pack_str_with_body(pk, k, strlen(k));
    msgpack_pack_str_with_body(pk, v, n);
}

void node_mp_kv_u64(msgpack_packer *pk, const char *k, uint64_t v)
{
    msgpack_pack_str_with_body(pk, k, strlen(k));
    msgpack_pack_uint64(pk, v);
}

void node_mp_kv_bool(msgpack_packer *pk, const char *k, bool v)
{
    msgpack_pack_str_with_body(pk, k, strlen(k));
    if (v)
        msgpack_pack_true(pk);
    else
        msgpack_pack_false(pk);
}

bool node_mp_get_str(const msgpack_object *map, const char *key, char *out, size_t cap)
{
    const msgpack_object *v = wire_map_get(map, key);
    if (!v || v->type != MSGPACK_OBJECT_STR || v->via.str.size >= cap)
        return false;
    memcpy(out, v->via.str.ptr, v->via.str.size);
    out[v->via.str.size] = '\0';
    return true;
}

bool node_mp_get_u64(const msgpack_object *map, const char *key, uint64_t *out)
{
    const msgpack_object *v = wire_map_get(map, key);
    if (!v || v->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return false;
    *out = v->via.u64;
    return true;
}

bool node_mp_get_bool(const msgpack_object *map, const char *key, bool *out)
{
    const msgpack_object *v = wire_map_get(map, key);
    if (!v || v->type != MSGPACK_OBJECT_BOOLEAN)
        return false;
    *out = v->via.boolean;
    return true;
}
