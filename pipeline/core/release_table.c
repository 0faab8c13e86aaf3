/* Release table: the eviction policy of the node's releases
 * (release_table.h). Pure. */
#include "pipeline/core/release_table.h"

#include <stdbool.h>
#include <string.h>

static bool same(const char *a, const char *b)
{
    return strcmp(a, b) == 0;
}

/* Whether release id may be started again by anyone. */
static bool needed(const struct pl_state *ps, const char *running, const char *id)
{
    if (same(id, running) || same(id, ps->prev_stable) ||
        (ps->stable >= 0 && same(id, ps->deps[ps->stable].id)) ||
        (ps->active >= 0 &&
         (same(id, ps->deps[ps->active].id) || same(id, ps->deps[ps->active].target))))
        return true;
    for (size_t i = 0; i < ps->nnodes; i++)
        if (same(id, ps->desired[i]))
            return true;
    return false;
}

enum release_table_room release_table_room(const struct pl_state *pl, const char *running,
                                           const char *const *ids, size_t n, size_t cap,
                                           size_t *drop)
{
    if (n < cap)
        return RELEASE_TABLE_ROOM;
    /* The core kept its state of the oldest: forget those first. */
    for (size_t k = 0; k < n; k++)
        if (!pl_find(pl, ids[k]) && !same(ids[k], running)) {
            *drop = k;
            return RELEASE_TABLE_EVICT;
        }
    for (size_t k = 0; k < n; k++)
        if (!needed(pl, running, ids[k])) {
            *drop = k;
            return RELEASE_TABLE_EVICT;
        }
    return RELEASE_TABLE_FULL;
}
