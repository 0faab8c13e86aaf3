/* The consensus message body on the wire (see cons_msg_encode). The
 * envelope has already pre-scanned and unpacked it; here every field's type
 * and range is checked. */
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#include "consensus/consensus.h"

#define FIELDS 11
#define FIELDS_UNSIGNED 10

static void pack_bin(msgpack_packer *pk, const void *p, size_t n)
{
    msgpack_pack_bin(pk, n);
    msgpack_pack_bin_body(pk, p, n);
}

int cons_msg_encode(const struct cons_msg *m, const struct cons_wire_entry *entries, uint8_t **out,
                    size_t *len)
{
    if (m->n_entries > CONS_MAX_BATCH || (m->n_entries > 0 && !entries))
        return -1;
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, FIELDS);
    msgpack_pack_uint32(&pk, (uint32_t)m->type);
    msgpack_pack_uint64(&pk, m->term);
    msgpack_pack_uint64(&pk, m->last_log_index);
    msgpack_pack_uint64(&pk, m->last_log_term);
    /* A VOTE and a HEARTBEAT have no use for granted: its slot carries
     * transfer and quiet. */
    if (m->type == CONS_MSG_VOTE        ? m->transfer
        : m->type == CONS_MSG_HEARTBEAT ? m->quiet
                                        : m->granted)
        msgpack_pack_true(&pk);
    else
        msgpack_pack_false(&pk);
    msgpack_pack_uint64(&pk, m->commit);
    msgpack_pack_uint64(&pk, m->prev_index);
    pack_bin(&pk, m->prev_hash, CONS_HASH_BYTES);
    msgpack_pack_uint64(&pk, m->match_index);
    msgpack_pack_array(&pk, m->n_entries);
    for (uint32_t i = 0; i < m->n_entries; i++)
        pack_bin(&pk, entries[i].bytes, entries[i].len);
    pack_bin(&pk, m->sig, m->has_sig ? CONS_SIG_BYTES : 0);
    if (!sb.data) {
        msgpack_sbuffer_destroy(&sb);
        return -1;
    }
    *len = sb.size;
    *out = (uint8_t *)msgpack_sbuffer_release(&sb);
    return 0;
}

static int get_u64(const msgpack_object *o, uint64_t *v)
{
    if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return -1;
    *v = o->via.u64;
    return 0;
}

int cons_msg_decode(const struct msgpack_object *body, struct cons_msg *m,
                    struct cons_wire_entry entries[CONS_MAX_BATCH])
{
    memset(m, 0, sizeof(*m));
    if (body->type != MSGPACK_OBJECT_ARRAY ||
        (body->via.array.size != FIELDS && body->via.array.size != FIELDS_UNSIGNED))
        return -1;
    const msgpack_object *f = body->via.array.ptr;
    uint64_t type;
    if (get_u64(&f[0], &type) != 0 || type < CONS_MSG_PREVOTE || type >= CONS_MSG_TYPE_END ||
        get_u64(&f[1], &m->term) != 0 || get_u64(&f[2], &m->last_log_index) != 0 ||
        get_u64(&f[3], &m->last_log_term) != 0 || f[4].type != MSGPACK_OBJECT_BOOLEAN ||
        get_u64(&f[5], &m->commit) != 0 || get_u64(&f[6], &m->prev_index) != 0 ||
        f[7].type != MSGPACK_OBJECT_BIN || f[7].via.bin.size != CONS_HASH_BYTES ||
        get_u64(&f[8], &m->match_index) != 0 || f[9].type != MSGPACK_OBJECT_ARRAY ||
        f[9].via.array.size > CONS_MAX_BATCH)
        return -1;
    const msgpack_object_array *list = &f[9].via.array;
    for (uint32_t i = 0; i < list->size; i++) {
        if (list->ptr[i].type != MSGPACK_OBJECT_BIN || list->ptr[i].via.bin.size == 0)
            return -1;
        entries[i].bytes = (const uint8_t *)list->ptr[i].via.bin.ptr;
        entries[i].len = list->ptr[i].via.bin.size;
    }
    /* Only an APPEND carries entries. */
    if (list->size > 0 && type != CONS_MSG_APPEND)
        return -1;
    if (body->via.array.size == FIELDS) {
        const msgpack_object *sig = &f[10];
        if (sig->type != MSGPACK_OBJECT_BIN ||
            (sig->via.bin.size != 0 && sig->via.bin.size != CONS_SIG_BYTES))
            return -1;
        m->has_sig = sig->via.bin.size == CONS_SIG_BYTES;
        if (m->has_sig)
            memcpy(m->sig, sig->via.bin.ptr, CONS_SIG_BYTES);
    }
    m->type = (enum cons_msg_type)type;
    if (m->type == CONS_MSG_VOTE)
        m->transfer = f[4].via.boolean;
    else if (m->type == CONS_MSG_HEARTBEAT)
        m->quiet = f[4].via.boolean;
    else
        m->granted = f[4].via.boolean;
    memcpy(m->prev_hash, f[7].via.bin.ptr, CONS_HASH_BYTES);
    m->n_entries = list->size;
    return 0;
}
