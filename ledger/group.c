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

uint64_t ledger_records_written(struct ledger_records *r)
{
    return ++r->written;
}

bool ledger_records_unsynced(const struct ledger_records *r)
{
    return r->written > r->durable;
}

void ledger_records_sync_started(struct ledger_records *r)
{
    r->syncing = r->written;
}

void ledger_records_synced(struct ledger_records *r)
{
    if (r->syncing > r->durable)
        r->durable = r->syncing;
}

void ledger_records_all_durable(struct ledger_records *r)
{
    r->durable = r->syncing = r->written;
}

bool ledger_held_may_send(const struct ledger_held *h, const struct ledger_records *r)
{
    return h->count == 0 && r->durable >= r->written;
}

bool ledger_held_push(struct ledger_held *h, const struct ledger_held_msg *m)
{
    if (h->count == LEDGER_HELD_MAX)
        return false;
    h->q[(h->head + h->count++) % LEDGER_HELD_MAX] = *m;
    return true;
}

bool ledger_held_pop(struct ledger_held *h, uint64_t durable, struct ledger_held_msg *out)
{
    if (h->count == 0 || h->q[h->head].seq > durable)
        return false;
    *out = h->q[h->head];
    h->head = (h->head + 1) % LEDGER_HELD_MAX;
    h->count--;
    return true;
}
