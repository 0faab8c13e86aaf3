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

/* Returns 0 if buf holds exactly one well-formed msgpack object (nothing
 * after it), -1 otherwise (including buf NULL or len 0). */
int wire_prescan(const void *buf, size_t len, unsigned max_depth);

/* For readers that walk a sequence: the length of the one well-formed
 * object at the start of buf, whatever follows it, or 0 if there is none. */
size_t wire_object_len(const void *buf, size_t len, unsigned max_depth);

#endif
