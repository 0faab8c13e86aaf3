/* See group.h. */
#include "ledger/group.h"

enum ledger_group_step ledger_group_on_append(const struct ledger_group *g, uint64_t term,
                                              size_t entries, size_t bytes)
{
    if (g->entries == 0)
        return LEDGER_GROUP_JOIN;
    if (g->term != term)
        return LEDGER_GROUP_DROP_FIRST;
    /* Written as subtractions: no sum can wrap. */
    if (g->entries >= LEDGER_GROUP_MAX_ENTRIES || entries > LEDGER_GROUP_MAX_ENTRIES - g->entries ||
        g->bytes >= LEDGER_GROUP_MAX_BYTES || bytes > LEDGER_GROUP_MAX_BYTES - g->bytes)
        return LEDGER_GROUP_WRITE_FIRST;
    return LEDGER_GROUP_JOIN;
}

bool ledger_group_writable(const struct ledger_group *g, bool leader, uint64_t term)
{
    return g->entries > 0 && leader && g->term == term;
}
