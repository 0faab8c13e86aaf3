/* The consensus message body on the wire: [type, term, last_log_index,
 * last_log_term, granted]. The envelope has already pre-scanned and unpacked
 * it; here every field's type and range is checked. */
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#include "consensus/consensus.h"

#define FIELDS 5

int cons_msg_encode(const struct cons_msg *m, uint8_t **out, size_t *len)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, FIELDS);
    msgpack_pack_uint32(&pk, (uint32_t)m->type);
    msgpack_pack_uint64(&pk, m->term);
    msgpack_pack_uint64(&pk, m->last_log_index);
    msgpack_pack_uint64(&pk, m->last_log_term);
    if (m->granted)
        msgpack_pack_true(&pk);
    else
        msgpack_pack_false(&pk);
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

int cons_msg_decode(const struct msgpack_object *body, struct cons_msg *m)
{
    memset(m, 0, sizeof(*m));
    if (body->type != MSGPACK_OBJECT_ARRAY || body->via.array.size != FIELDS)
        return -1;
    const msgpack_object *f = body->via.array.ptr;
    uint64_t type;
    if (get_u64(&f[0], &type) != 0 || type < CONS_MSG_PREVOTE || type >= CONS_MSG_TYPE_END ||
        get_u64(&f[1], &m->term) != 0 || get_u64(&f[2], &m->last_log_index) != 0 ||
        get_u64(&f[3], &m->last_log_term) != 0 || f[4].type != MSGPACK_OBJECT_BOOLEAN)
        return -1;
    m->type = (enum cons_msg_type)type;
    m->granted = f[4].via.boolean;
    return 0;
}
