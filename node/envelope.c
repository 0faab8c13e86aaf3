/* The wire envelope between nodes: see envelope.h and design.md
 * ("Node-to-node transport").
 *
 * Depth rule used by env_prescan (and so by env_open with ENV_MAX_DEPTH):
 * a container's depth is 1 + the number of containers around it; scalars
 * add nothing. A top-level scalar has depth 0, [1, 2] has depth 1, [[]]
 * has depth 2. The envelope itself is an array, so the body of an opened
 * message may nest at most ENV_MAX_DEPTH - 1 deep, and env_seal refuses a
 * body deeper than that rather than send what every receiver drops. */
#include "node/envelope.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

/* msgpack-c's parser keeps its own stack of 32 open non-empty containers
 * (MSGPACK_EMBED_STACK_SIZE) and fails beyond it; prescan never passes
 * deeper, so that whatever it accepts, msgpack_unpack can parse. */
#define PRESCAN_DEPTH_CAP 32u

#define ENV_OVERHEAD (crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES)

static bool sodium_ready(void)
{
    /* Idempotent and thread-safe; cheap after the first call. */
    return sodium_init() >= 0;
}

/* ---- pre-scan ---------------------------------------------------------- */

enum item_kind { ITEM_INVALID, ITEM_SCALAR, ITEM_ARRAY, ITEM_MAP };

struct item {
    enum item_kind kind;
    size_t hdr;     /* bytes of the format byte and its fixed fields */
    uint64_t size;  /* payload bytes after hdr (scalars) or element count */
    size_t lenoff;  /* where a big-endian length field starts (0: none) */
    size_t lenbits; /* its width: 8, 16 or 32 */
};

/* Classifies the format byte b. A length or count carried in the following
 * bytes is described by lenoff/lenbits and read by the caller once it knows
 * those bytes are there. */
static struct item classify(uint8_t b)
{
    struct item it = {ITEM_SCALAR, 1, 0, 0, 0};

    if (b <= 0x7f || b >= 0xe0) /* positive and negative fixint */
        return it;
    if (b <= 0x8f) {
        it.kind = ITEM_MAP;
        it.size = b & 0x0fu;
        return it;
    }
    if (b <= 0x9f) {
        it.kind = ITEM_ARRAY;
        it.size = b & 0x0fu;
        return it;
    }
    if (b <= 0xbf) {
        it.size = b & 0x1fu;
        return it;
    }

    switch (b) {
    case 0xc0: /* nil */
    case 0xc2: /* false */
    case 0xc3: /* true */
        return it;
    case 0xc4: /* bin 8/16/32 */
    case 0xd9: /* str 8/16/32 */
        it.hdr = 2, it.lenoff = 1, it.lenbits = 8;
        return it;
    case 0xc5:
    case 0xda:
        it.hdr = 3, it.lenoff = 1, it.lenbits = 16;
        return it;
    case 0xc6:
    case 0xdb:
        it.hdr = 5, it.lenoff = 1, it.lenbits = 32;
        return it;
    case 0xc7: /* ext 8/16/32: length, then a type byte, then data */
        it.hdr = 3, it.lenoff = 1, it.lenbits = 8;
        return it;
    case 0xc8:
        it.hdr = 4, it.lenoff = 1, it.lenbits = 16;
        return it;
    case 0xc9:
        it.hdr = 6, it.lenoff = 1, it.lenbits = 32;
        return it;
    case 0xca: /* float 32 */
    case 0xce: /* uint 32 */
    case 0xd2: /* int 32 */
        it.hdr = 5;
        return it;
    case 0xcb: /* float 64 */
    case 0xcf: /* uint 64 */
    case 0xd3: /* int 64 */
        it.hdr = 9;
        return it;
    case 0xcc: /* uint 8 */
    case 0xd0: /* int 8 */
        it.hdr = 2;
        return it;
    case 0xcd: /* uint 16 */
    case 0xd1: /* int 16 */
        it.hdr = 3;
        return it;
    case 0xd4: /* fixext 1/2/4/8/16: type byte, then fixed data */
    case 0xd5:
    case 0xd6:
    case 0xd7:
    case 0xd8:
        it.hdr = 2;
        it.size = 1u << (b - 0xd4);
        return it;
    case 0xdc: /* array 16/32 */
        it.kind = ITEM_ARRAY, it.hdr = 3, it.lenoff = 1, it.lenbits = 16;
        return it;
    case 0xdd:
        it.kind = ITEM_ARRAY, it.hdr = 5, it.lenoff = 1, it.lenbits = 32;
        return it;
    case 0xde: /* map 16/32 */
        it.kind = ITEM_MAP, it.hdr = 3, it.lenoff = 1, it.lenbits = 16;
        return it;
    case 0xdf:
        it.kind = ITEM_MAP, it.hdr = 5, it.lenoff = 1, it.lenbits = 32;
        return it;
    default: /* 0xc1: never used */
        it.kind = ITEM_INVALID;
        return it;
    }
}

static uint64_t read_be(const uint8_t *p, size_t bits)
{
    uint64_t v = 0;
    for (size_t i = 0; i < bits / 8; i++)
        v = v << 8 | p[i];
    return v;
}

int env_prescan(const void *buf, size_t len, unsigned max_depth)
{
    const uint8_t *p = buf;
    size_t off = 0;
    /* Objects still to read, over every open container and the top level.
     * Each needs at least one byte, so it never exceeds len - off, and the
     * objects msgpack-c allocates stay bounded by len. */
    uint64_t pending = 1;
    /* Elements left in each open non-empty container, innermost last. */
    uint64_t left[PRESCAN_DEPTH_CAP];
    unsigned sp = 0;

    if (p == NULL || len == 0)
        return -1;
    if (max_depth > PRESCAN_DEPTH_CAP)
        max_depth = PRESCAN_DEPTH_CAP;

    while (pending > 0) {
        if (off >= len)
            return -1;
        struct item it = classify(p[off]);
        if (it.kind == ITEM_INVALID || it.hdr > len - off)
            return -1;
        if (it.lenbits != 0)
            it.size = read_be(p + off + it.lenoff, it.lenbits);
        off += it.hdr;

        pending--;
        if (sp > 0)
            left[sp - 1]--;

        if (it.kind == ITEM_SCALAR) {
            if (it.size > len - off)
                return -1;
            off += (size_t)it.size;
        } else {
            /* sp is the number of containers around this one. */
            if (sp + 1 > max_depth)
                return -1;
            uint64_t elems = it.kind == ITEM_MAP ? 2 * it.size : it.size;
            pending += elems;
            if (pending > len - off)
                return -1;
            if (elems > 0)
                left[sp++] = elems;
        }
        while (sp > 0 && left[sp - 1] == 0)
            sp--;
    }
    return off == len ? 0 : -1;
}

/* ---- seal -------------------------------------------------------------- */

static bool valid_type(uint64_t type)
{
    return type >= 1 && type < ENV_TYPE_MAX;
}

/* Returns the length of a valid sender id, or 0 if it is not one. */
static size_t from_len(const char *from)
{
    size_t n = strnlen(from, ENV_FROM_MAX);
    return n < ENV_FROM_MAX ? n : 0;
}

int env_seal(const uint8_t key[ENV_KEY_BYTES], uint32_t type, const char *from, uint64_t counter,
             const void *body_mp, size_t body_len, uint8_t **out, size_t *out_len)
{
    if (out == NULL || out_len == NULL)
        return ENV_ESHAPE;
    *out = NULL;
    *out_len = 0;
    if (key == NULL || from == NULL || !valid_type(type) || counter == 0)
        return ENV_ESHAPE;
    size_t flen = from_len(from);
    if (flen == 0)
        return ENV_ESHAPE;
    if (body_len > ENV_MAX_MSG)
        return ENV_ETOOLONG;
    if (env_prescan(body_mp, body_len, ENV_MAX_DEPTH - 1) != 0)
        return ENV_EMALFORMED;
    if (!sodium_ready())
        return ENV_ENOMEM;

    msgpack_sbuffer sbuf;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sbuf);
    msgpack_packer_init(&pk, &sbuf, msgpack_sbuffer_write);
    /* Every msgpack-c pack error is a failed realloc. */
    int err = msgpack_pack_array(&pk, 5) || msgpack_pack_uint32(&pk, ENV_VERSION) ||
              msgpack_pack_uint32(&pk, type) || msgpack_pack_str(&pk, flen) ||
              msgpack_pack_str_body(&pk, from, flen) || msgpack_pack_uint64(&pk, counter) ||
              msgpack_sbuffer_write(&sbuf, body_mp, body_len);
    if (err) {
        msgpack_sbuffer_destroy(&sbuf);
        return ENV_ENOMEM;
    }
    if (sbuf.size > ENV_MAX_MSG - ENV_OVERHEAD) {
        msgpack_sbuffer_destroy(&sbuf);
        return ENV_ETOOLONG;
    }

    size_t n = ENV_OVERHEAD + sbuf.size;
    uint8_t *wire = malloc(n);
    if (wire == NULL) {
        msgpack_sbuffer_destroy(&sbuf);
        return ENV_ENOMEM;
    }
    randombytes_buf(wire, crypto_secretbox_NONCEBYTES);
    crypto_secretbox_easy(wire + crypto_secretbox_NONCEBYTES, (const uint8_t *)sbuf.data, sbuf.size,
                          wire, key);
    msgpack_sbuffer_destroy(&sbuf);
    *out = wire;
    *out_len = n;
    return ENV_OK;
}

/* ---- open -------------------------------------------------------------- */

static bool is_uint(const msgpack_object *o)
{
    return o->type == MSGPACK_OBJECT_POSITIVE_INTEGER;
}

/* Fills msg from the unpacked root, or says why it does not fit. */
static enum env_error check_shape(const msgpack_object *root, struct env_msg *msg)
{
    if (root->type != MSGPACK_OBJECT_ARRAY || root->via.array.size == 0)
        return ENV_ESHAPE;
    const msgpack_object *f = root->via.array.ptr;

    /* The version decides the shape, so it is judged before the rest: a
     * newer peer gets "version", not "shape". */
    if (!is_uint(&f[0]))
        return ENV_ESHAPE;
    if (f[0].via.u64 != ENV_VERSION)
        return ENV_EVERSION;
    if (root->via.array.size != 5)
        return ENV_ESHAPE;

    if (!is_uint(&f[1]) || !valid_type(f[1].via.u64))
        return ENV_ESHAPE;

    if (f[2].type != MSGPACK_OBJECT_STR)
        return ENV_ESHAPE;
    uint32_t flen = f[2].via.str.size;
    if (flen == 0 || flen >= ENV_FROM_MAX || memchr(f[2].via.str.ptr, '\0', flen) != NULL)
        return ENV_ESHAPE;

    /* Counters start at 1 (env_replay treats 0 as never valid). */
    if (!is_uint(&f[3]) || f[3].via.u64 == 0)
        return ENV_ESHAPE;

    msg->version = ENV_VERSION;
    msg->type = (uint32_t)f[1].via.u64;
    memcpy(msg->from, f[2].via.str.ptr, flen);
    msg->from[flen] = '\0';
    msg->counter = f[3].via.u64;
    msg->body = f[4];
    return ENV_OK;
}

enum env_error env_open(const uint8_t key[ENV_KEY_BYTES], const void *buf, size_t len,
                        struct env_msg *msg)
{
    if (msg == NULL)
        return ENV_ESHAPE;
    memset(msg, 0, sizeof(*msg));
    if (key == NULL)
        return ENV_ESHAPE;
    if (buf == NULL || len < ENV_OVERHEAD + 1)
        return ENV_ETOOSHORT;
    if (len > ENV_MAX_MSG)
        return ENV_ETOOLONG;
    if (!sodium_ready())
        return ENV_ENOMEM;

    const uint8_t *wire = buf;
    size_t plain_len = len - ENV_OVERHEAD;
    msgpack_zone *zone = msgpack_zone_new(MSGPACK_ZONE_CHUNK_SIZE);
    if (zone == NULL)
        return ENV_ENOMEM;
    /* msgpack_unpack leaves str, bin and ext objects pointing into its
     * input, so the plaintext lives in the zone and dies with the body. */
    uint8_t *plain = msgpack_zone_malloc(zone, plain_len);
    enum env_error err = ENV_ENOMEM;
    if (plain == NULL)
        goto fail;

    err = ENV_EAUTH;
    if (crypto_secretbox_open_easy(plain, wire + crypto_secretbox_NONCEBYTES,
                                   len - crypto_secretbox_NONCEBYTES, wire, key) != 0)
        goto fail;

    err = ENV_EMALFORMED;
    if (env_prescan(plain, plain_len, ENV_MAX_DEPTH) != 0)
        goto fail;

    msgpack_object root;
    size_t off = 0;
    msgpack_unpack_return ur = msgpack_unpack((const char *)plain, plain_len, &off, zone, &root);
    if (ur == MSGPACK_UNPACK_NOMEM_ERROR) {
        err = ENV_ENOMEM;
        goto fail;
    }
    if (ur != MSGPACK_UNPACK_SUCCESS || off != plain_len)
        goto fail;

    err = check_shape(&root, msg);
    if (err != ENV_OK)
        goto fail;
    msg->zone = zone;
    return ENV_OK;

fail:
    msgpack_zone_free(zone);
    memset(msg, 0, sizeof(*msg));
    return err;
}

void env_msg_free(struct env_msg *msg)
{
    if (msg == NULL)
        return;
    if (msg->zone != NULL)
        msgpack_zone_free(msg->zone);
    memset(msg, 0, sizeof(*msg));
}

const char *env_strerror(enum env_error err)
{
    switch (err) {
    case ENV_OK:
        return "ok";
    case ENV_ETOOSHORT:
        return "too short";
    case ENV_ETOOLONG:
        return "too long";
    case ENV_EAUTH:
        return "auth";
    case ENV_EMALFORMED:
        return "malformed";
    case ENV_ESHAPE:
        return "shape";
    case ENV_EVERSION:
        return "version";
    case ENV_ENOMEM:
        return "no memory";
    }
    return "unknown";
}

/* ---- replay window ----------------------------------------------------- */

bool env_replay_accept(struct env_replay *r, uint64_t counter)
{
    if (counter == 0)
        return false;
    if (counter > r->top) {
        uint64_t shift = counter - r->top;
        /* Shifting a 64-bit value by 64 or more is undefined. */
        r->window = shift >= 64 ? 1 : (r->window << shift) | 1;
        r->top = counter;
        return true;
    }
    uint64_t age = r->top - counter;
    if (age >= 64)
        return false;
    uint64_t bit = UINT64_C(1) << age;
    if (r->window & bit)
        return false;
    r->window |= bit;
    return true;
}
