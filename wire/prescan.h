/* A walk over msgpack format bytes and length fields only, run before
 * msgpack-c (or a hand-written reader) touches bytes an attacker may have
 * written. msgpack-c has no limits of its own: a count of four billion
 * makes it allocate four billion objects. The pre-scan reads no data,
 * allocates nothing and checks:
 *  - every format byte is a valid one (0xc1 is not);
 *  - every length fits in the bytes left, and every container count, over
 *    all open containers, fits too (each element needs at least a byte);
 *  - nesting is no deeper than max_depth.
 *
 * Depth rule: a container's depth is 1 + the number of containers around
 * it; scalars add nothing. A top-level scalar has depth 0, [1, 2] has
 * depth 1, [[]] has depth 2, and siblings do not add up. max_depth is
 * capped at 32, msgpack-c's own parser limit, so that whatever passes here
 * also unpacks with msgpack_unpack.
 *
 * One implementation for the node's envelope and the ledger, so that both
 * mean the same by "well-formed"; it lives apart from node/ because the
 * ledger library must not depend on the node. */
#ifndef CHIMERA_WIRE_PRESCAN_H
#define CHIMERA_WIRE_PRESCAN_H

#include <stddef.h>
#include <stdint.h>

/* Returns 0 if buf holds exactly one well-formed msgpack object (nothing
 * after it), -1 otherwise (including buf NULL or len 0). */
int wire_prescan(const void *buf, size_t len, unsigned max_depth);

/* For readers that walk a sequence: the length of the one well-formed
 * object at the start of buf, whatever follows it, or 0 if there is none. */
size_t wire_object_len(const void *buf, size_t len, unsigned max_depth);

/* What wire_prescan_counted found in an object. msgpack-c allocates an
 * object (24 bytes) for every item of a container as soon as it reads the
 * container's count, so a reader with limits of its own checks them here,
 * before unpacking. */
struct wire_counts {
    uint64_t objects; /* the object and every one within it */
    /* The first container (by where it starts) of more than max_items
     * items, a map's pair counting as one: its items (0: none is), the
     * offset of its format byte, and where its key starts when it is a
     * map's value (else WIRE_NO_KEY). */
    uint64_t wide_items;
    size_t wide_at;
    size_t wide_key_at;
};

#define WIRE_NO_KEY SIZE_MAX

/* wire_prescan, and what is in the object counted into *out. */
int wire_prescan_counted(const void *buf, size_t len, unsigned max_depth, uint64_t max_items,
                         struct wire_counts *out);

#endif
