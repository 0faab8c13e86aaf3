/* Episodes: when a node reports, records and forgets its read-only
 * episodes (episodes.h). Pure: no ledger reads, no clock, no sends. */
#include "witness/episodes.h"

#include <string.h>

bool episodes_change(struct episodes *eps, bool read_only, bool was_leader, uint64_t term,
                     uint64_t now_ms)
{
    if (read_only) {
        eps->open = true;
        eps->enter_ms = now_ms;
        eps->enter_term = term;
        eps->was_leader = was_leader;
        return false;
    }
    if (!eps->open)
        return false;
    eps->open = false;
    bool dropped = eps->n == EPISODES_MAX;
    if (dropped) {
        /* Keep the newest; the caller says one was dropped rather than grow. */
        memmove(&eps->list[0], &eps->list[1], sizeof(eps->list[0]) * (EPISODES_MAX - 1));
        eps->n--;
    }
    eps->list[eps->n++] = (struct episode){.enter_ms = eps->enter_ms,
                                           .exit_ms = now_ms,
                                           .enter_term = eps->enter_term,
                                           .exit_term = term,
                                           .was_leader = eps->was_leader};
    return dropped;
}

bool episodes_due(const struct episodes *eps, bool leader_known, bool read_only)
{
    return eps->n != 0 && leader_known && !read_only;
}

bool episodes_may_be_recorded(const struct episode *e, uint64_t commit, uint64_t last_index)
{
    return e->index != 0 && e->index <= commit && e->index <= last_index;
}

enum episodes_do episodes_step(struct episode *e, bool recorded, uint64_t commit, bool self_leads)
{
    if (recorded)
        return EPISODES_FORGET;
    if (e->index != 0 && e->index <= commit)
        e->index = 0; /* the entry there is another: that leader's log was cut */
    if (e->index != 0)
        return EPISODES_WAIT;
    return self_leads ? EPISODES_RECORD : EPISODES_REPORT;
}

void episodes_sweep(struct episodes *eps, const enum episodes_do *what)
{
    size_t k = 0;
    for (size_t i = 0; i < eps->n; i++)
        if (what[i] != EPISODES_FORGET)
            eps->list[k++] = eps->list[i];
    eps->n = k;
}

void episodes_ack(struct episodes *eps, uint64_t enter_ms, uint64_t index, bool from_leader)
{
    for (size_t i = 0; i < eps->n && from_leader; i++)
        if (eps->list[i].enter_ms == enter_ms)
            eps->list[i].index = index;
}

uint64_t episodes_duration(const struct episode *e)
{
    return e->exit_ms > e->enter_ms ? e->exit_ms - e->enter_ms : 0;
}
