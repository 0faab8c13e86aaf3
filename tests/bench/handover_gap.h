/* bench_handover's figure for one round, apart so that a unit test can
 * hold it to its definition (tests/unit/test_handover_gap.c). */
#ifndef CHIMERA_BENCH_HANDOVER_GAP_H
#define CHIMERA_BENCH_HANDOVER_GAP_H

#include <stdbool.h>
#include <stdint.h>

/* The write gap of a round (ns, monotonic): from old_last, the old
 * leader's last acknowledgement (0: it never gave one), to first, the first
 * by another node. A round in which the old leader acknowledged nothing
 * since it began (round_start) has no gap to take: its last
 * acknowledgement, if any, belongs to an earlier round, and first minus it
 * (or minus 0: the monotonic clock itself, 69220020 ms in one run) says
 * nothing about the hand-over. Such a round is skipped, false. */
static inline bool handover_gap(uint64_t round_start, uint64_t old_last, uint64_t first,
                                uint64_t *gap)
{
    if (old_last <= round_start || first < old_last)
        return false;
    *gap = first - old_last;
    return true;
}

#endif
