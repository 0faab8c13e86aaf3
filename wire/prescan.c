/* The msgpack pre-scan: see prescan.h for what it checks and the depth
 * rule. */
#include "wire/prescan.h"

#include <stdbool.h>
#include <stdint.h>

/* msgpack-c's parser keeps its own stack of 32 open non-empty containers
 * (MSGPACK_EMBED_STACK_SIZE) and fails beyond it; the pre-scan never
 * passes deeper, so that whatever it accepts, msgpack_unpack can parse. */
#define PRESCAN_DEPTH_CAP 32u

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

/* wire_object_len, counting into n when it is not NULL (max_items: see
 * struct wire_counts), with where the items of the map holding the wide
 * container start in *wide_in (WIRE_NO_KEY: no map holds it). Scalars,
 * most of what is walked, cost nothing more. */
static size_t walk(const void *buf, size_t len, unsigned max_depth, uint64_t max_items,
                   struct wire_counts *n, size_t *wide_in)
{
    const uint8_t *p = buf;
    size_t off = 0;
    /* Objects still to read, over every open container and the top level.
     * Each needs at least one byte, so it never exceeds len - off, and the
     * objects msgpack-c allocates stay bounded by len. */
    uint64_t pending = 1;
    /* Elements left in each open non-empty container, innermost last, and
     * where the items of each that is a map start (counted walks only). */
    uint64_t left[PRESCAN_DEPTH_CAP];
    size_t opened[PRESCAN_DEPTH_CAP];
    unsigned sp = 0;

    if (p == NULL || len == 0)
        return 0;
    if (max_depth > PRESCAN_DEPTH_CAP)
        max_depth = PRESCAN_DEPTH_CAP;

    while (pending > 0) {
        if (off >= len)
            return 0;
        struct item it = classify(p[off]);
        if (it.kind == ITEM_INVALID || it.hdr > len - off)
            return 0;
        if (it.lenbits != 0)
            it.size = read_be(p + off + it.lenoff, it.lenbits);
        off += it.hdr;

        pending--;
        if (sp > 0)
            left[sp - 1]--;

        if (it.kind == ITEM_SCALAR) {
            if (it.size > len - off)
                return 0;
            off += (size_t)it.size;
        } else {
            /* sp is the number of containers around this one. */
            if (sp + 1 > max_depth)
                return 0;
            uint64_t elems = it.kind == ITEM_MAP ? 2 * it.size : it.size;
            pending += elems;
            if (pending > len - off)
                return 0;
            if (n) {
                n->objects += elems;
                if (it.size > max_items && n->wide_items == 0) {
                    n->wide_items = it.size;
                    n->wide_at = off - it.hdr;
                    *wide_in = sp > 0 ? opened[sp - 1] : WIRE_NO_KEY;
                }
                opened[sp] = it.kind == ITEM_MAP ? off : WIRE_NO_KEY;
            }
            if (elems > 0)
                left[sp++] = elems;
        }
        while (sp > 0 && left[sp - 1] == 0)
            sp--;
    }
    return off;
}

size_t wire_object_len(const void *buf, size_t len, unsigned max_depth)
{
    return walk(buf, len, max_depth, UINT64_MAX, NULL, NULL);
}

/* Where the key of the item at item_at starts, in the map whose items
 * start at off (WIRE_NO_KEY: the item is a key). Walks the items before it
 * once more: only for a container found too wide. */
static size_t key_before(const uint8_t *p, size_t len, size_t off, size_t item_at)
{
    size_t key = WIRE_NO_KEY;
    for (bool is_key = true; off < item_at; is_key = !is_key) {
        key = is_key ? off : WIRE_NO_KEY;
        size_t step = walk(p + off, len - off, PRESCAN_DEPTH_CAP, UINT64_MAX, NULL, NULL);
        if (step == 0)
            return WIRE_NO_KEY;
        off += step;
    }
    return key;
}

int wire_prescan_counted(const void *buf, size_t len, unsigned max_depth, uint64_t max_items,
                         struct wire_counts *out)
{
    *out = (struct wire_counts){.objects = 1, .wide_key_at = WIRE_NO_KEY};
    size_t wide_in = WIRE_NO_KEY;
    if (len == 0 || walk(buf, len, max_depth, max_items, out, &wide_in) != len)
        return -1;
    if (out->wide_items > 0 && wide_in != WIRE_NO_KEY)
        out->wide_key_at = key_before(buf, len, wide_in, out->wide_at);
    return 0;
}

int wire_prescan(const void *buf, size_t len, unsigned max_depth)
{
    /* wire_object_len is 0 for len 0, so this also refuses an empty buf. */
    return len != 0 && wire_object_len(buf, len, max_depth) == len ? 0 : -1;
}
