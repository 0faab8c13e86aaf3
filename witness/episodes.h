/* Episodes: the read-only episodes a node owes the ledger, and when it
 * reports, records, and forgets them. Pure: the node's shell tells it when
 * the node enters or leaves read-only mode (with the wall clock and the
 * term), reads its ledger to say whether an episode is on the record, and
 * sends, appends and acknowledges as told.
 *
 * A node that loses its quorum-backed leader cannot append anything (that
 * is what read-only means), so it remembers when the episode began and,
 * once it hears a leader with a quorum again, reports the episode to that
 * leader, which records it on its behalf (a leader records its own). Only
 * a fall from a quorum is an episode: a node starts read-only. At most
 * EPISODES_MAX wait; the newest are kept. An episode is forgotten only
 * once its enter entry is committed in this node's own ledger, so a leader
 * that dies in between loses nothing: the next one is told again. An
 * acknowledged index whose committed entry turns out to be another (that
 * leader's log was cut) is reported again. */
#ifndef CHIMERA_WITNESS_EPISODES_H
#define CHIMERA_WITNESS_EPISODES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EPISODES_MAX 16

struct episode {
    uint64_t enter_ms, exit_ms; /* wall clock */
    uint64_t enter_term, exit_term;
    bool was_leader;
    uint64_t index; /* the enter entry's index, once a leader appended it (0 not yet) */
};

struct episodes {
    bool open; /* in a read-only episode that began after a quorum */
    uint64_t enter_ms, enter_term;
    bool was_leader;
    struct episode list[EPISODES_MAX]; /* oldest first */
    size_t n;
};

/* The node entered (read_only) or left read-only mode at wall time now_ms
 * in term; was_leader: it led until then. Returns true when an episode
 * ended with EPISODES_MAX waiting and the oldest was dropped. */
bool episodes_change(struct episodes *eps, bool read_only, bool was_leader, uint64_t term,
                     uint64_t now_ms);

/* Whether episodes are to be reported at all now: some wait, a leader is
 * known, and this node is not read-only. */
bool episodes_due(const struct episodes *eps, bool leader_known, bool read_only);

/* Whether the entry at e's index may be its committed enter entry (the
 * shell then reads it to be sure): appended, committed and in this log. */
bool episodes_may_be_recorded(const struct episode *e, uint64_t commit, uint64_t last_index);

enum episodes_do {
    EPISODES_WAIT,   /* appended, not committed yet: wait */
    EPISODES_FORGET, /* on the record: done */
    EPISODES_RECORD, /* this node leads: append it; set its index */
    EPISODES_REPORT, /* tell the leader */
};

/* What to do with e, given whether its enter entry is committed here
 * (recorded), the commit index and whether this node leads. */
enum episodes_do episodes_step(struct episode *e, bool recorded, uint64_t commit, bool self_leads);

/* Forgets the episodes whose step (what[i] for list[i]) was
 * EPISODES_FORGET, keeping the order of the rest. */
void episodes_sweep(struct episodes *eps, const enum episodes_do *what);

/* The leader acknowledged the episode that entered at enter_ms with the
 * index of its enter entry; from_leader: the acknowledgement came from the
 * leader this node follows (any other is ignored). */
void episodes_ack(struct episodes *eps, uint64_t enter_ms, uint64_t index, bool from_leader);

/* How long e lasted (0 if the clock went back). */
uint64_t episodes_duration(const struct episode *e);

#endif
