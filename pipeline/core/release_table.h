/* Release table: which release a node forgets when its table of releases
 * (the manifests and certificates of RELEASE records, kept to start them)
 * is full. Pure: the shell holds the bytes; this core only picks.
 *
 * A forgotten release is still in the ledger, so forgetting is safe for
 * what nothing will start again, and only for that: first the oldest one
 * the rollout core no longer knows (and that does not run here); failing
 * that, the oldest one nothing may need again: not the one running here,
 * not the stable one or the one before it, not the deployment in progress
 * or its target, not what any node must run. When every one is needed,
 * the table keeps them all and the new release is not kept. */
#ifndef CHIMERA_PIPELINE_CORE_RELEASE_TABLE_H
#define CHIMERA_PIPELINE_CORE_RELEASE_TABLE_H

#include <stddef.h>

#include "pipeline/core/rollout.h"

enum release_table_room {
    RELEASE_TABLE_ROOM,  /* there is room: keep the new one */
    RELEASE_TABLE_EVICT, /* forget *drop, then keep the new one */
    RELEASE_TABLE_FULL,  /* every one is needed: do not keep the new one */
};

/* ids: the n releases held (deployment ids), oldest first, in a table of
 * cap; running: the deployment running on this node ("" none). */
enum release_table_room release_table_room(const struct pl_state *pl, const char *running,
                                           const char *const *ids, size_t n, size_t cap,
                                           size_t *drop);

#endif
