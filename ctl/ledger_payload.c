/* chimeractl: an entry's payload, served as the hex of its exact msgpack
 * bytes, decoded for display as JSON. The bytes come from the network, so
 * they pass the wire pre-scan (as every reader of untrusted msgpack does)
 * before msgpack-c unpacks them. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "ledger/ledger.h"
#include "ctl/ctl.h"
#include "wire/prescan.h"

#define PAYLOAD_MAX_DEPTH 32 /* msgpack-c's own nesting limit */

static json_t *hex_string(const char *prefix, const void *bytes, size_t n)
{
    size_t plen = strlen(prefix);
    char *s = malloc(plen + 2 * n + 1);
    if (!s)
        return NULL;
    memcpy(s, prefix, plen);
    ledger_hex(bytes, n, s + plen);
    json_t *j = json_string(s);
    free(s);
    return j;
}

/* msgpack to JSON: bin and ext become "0x..." hex, a str that is not UTF-8
 * too, integers beyond JSON's int64 a decimal string, non-string map keys
 * their JSON text. NULL only when out of memory. */
static json_t *mp_to_json(const msgpack_object *o)
{
    char num[32];
    switch (o->type) {
    case MSGPACK_OBJECT_NIL:
        return json_null();
    case MSGPACK_OBJECT_BOOLEAN:
        return json_boolean(o->via.boolean);
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        if (o->via.u64 <= INT64_MAX)
            return json_integer((json_int_t)o->via.u64);
        snprintf(num, sizeof num, "%" PRIu64, o->via.u64);
        return json_string(num);
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        return json_integer((json_int_t)o->via.i64);
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64: {
        json_t *r = json_real(o->via.f64); /* NULL for NaN and infinities */
        if (r)
            return r;
        snprintf(num, sizeof num, "%g", o->via.f64);
        return json_string(num);
    }
    case MSGPACK_OBJECT_STR: {
        json_t *s = json_stringn(o->via.str.ptr, o->via.str.size);
        return s ? s : hex_string("0x", o->via.str.ptr, o->via.str.size);
    }
    case MSGPACK_OBJECT_BIN:
        return hex_string("0x", o->via.bin.ptr, o->via.bin.size);
    case MSGPACK_OBJECT_EXT: /* the type is dropped: the ledger uses none */
        return hex_string("0x", o->via.ext.ptr, o->via.ext.size);
    case MSGPACK_OBJECT_ARRAY: {
        json_t *a = json_array();
        for (uint32_t i = 0; a && i < o->via.array.size; i++)
            if (json_array_append_new(a, mp_to_json(&o->via.array.ptr[i])) != 0)
                json_decref(a), a = NULL;
        return a;
    }
    case MSGPACK_OBJECT_MAP: {
        json_t *m = json_object();
        for (uint32_t i = 0; m && i < o->via.map.size; i++) {
            const msgpack_object *k = &o->via.map.ptr[i].key;
            json_t *kj = mp_to_json(k), *v = mp_to_json(&o->via.map.ptr[i].val);
            int rc = -1;
            if (kj && v && k->type == MSGPACK_OBJECT_STR && json_is_string(kj)) {
                rc = json_object_setn_new(m, json_string_value(kj), json_string_length(kj), v);
                v = NULL;         /* taken, even on failure */
            } else if (kj && v) { /* not a string: the key's JSON text */
                char *ks = json_dumps(kj, JSON_ENCODE_ANY | JSON_COMPACT | CTL_JSON_REAL);
                if (ks)
                    rc = json_object_set_new(m, ks, v), v = NULL;
                free(ks);
            }
            json_decref(v);
            json_decref(kj);
            if (rc != 0)
                json_decref(m), m = NULL;
        }
        return m;
    }
    }
    return json_null();
}

/* Decodes an entry's "payload". Returns the value (new reference), or NULL
 * with the reason in *why ("empty" for a payload of no bytes). */
json_t *ctl_decode_payload(const json_t *entry, const char **why)
{
    const char *hex = json_string_value(json_object_get(entry, "payload"));
    size_t hlen = hex ? strlen(hex) : 0;
    *why = NULL;
    if (!hex || hlen % 2 != 0) {
        *why = hex ? "the payload is not hex" : "the node sent no payload";
        return NULL;
    }
    if (hlen == 0) {
        *why = "empty";
        return NULL;
    }
    uint8_t *buf = malloc(hlen / 2);
    json_t *out = NULL;
    msgpack_zone zone;
    msgpack_object root;
    size_t off = 0;
    if (!buf)
        *why = "out of memory";
    else if (ledger_unhex(hex, buf, hlen / 2) != 0)
        *why = "the payload is not hex";
    else if (wire_prescan(buf, hlen / 2, PAYLOAD_MAX_DEPTH) != 0)
        *why = "the payload is not well-formed msgpack";
    else if (!msgpack_zone_init(&zone, MSGPACK_ZONE_CHUNK_SIZE))
        *why = "out of memory";
    else {
        if (msgpack_unpack((const char *)buf, hlen / 2, &off, &zone, &root) !=
                MSGPACK_UNPACK_SUCCESS ||
            off != hlen / 2)
            *why = "the payload is not well-formed msgpack";
        else if (!(out = mp_to_json(&root)))
            *why = "out of memory";
        msgpack_zone_destroy(&zone);
    }
    free(buf);
    return out;
}
