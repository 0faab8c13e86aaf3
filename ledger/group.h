/* Group commit on the leader: the pure decisions. Entries a leader appends
 * in one turn of its loop join one open group (one ledger batch), written
 * with one fdatasync at the end of the turn and then replicated together;
 * the shell (node/raft/node_group.c) does the I/O. */
#ifndef CHIMERA_LEDGER_GROUP_H
#define CHIMERA_LEDGER_GROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A group holds at most this much before it is written (unless a single
 * append alone is larger: it then makes a group of its own). Four APPENDs
 * of 256 entries or 256 KiB fill a follower's pipeline (consensus.h), so a
 * larger group would only wait on the wire, and the bound caps the memory
 * an open group holds. */
#define LEDGER_GROUP_MAX_ENTRIES 1024u
#define LEDGER_GROUP_MAX_BYTES (1024u * 1024u)

/* The open group: entries and payload bytes so far (0: none open), and the
 * term its entries were made in. */
struct ledger_group {
    size_t entries, bytes;
    uint64_t term;
};

enum ledger_group_step {
    LEDGER_GROUP_JOIN,        /* add the new entries to the group */
    LEDGER_GROUP_WRITE_FIRST, /* write the group, then start a new one with them */
    LEDGER_GROUP_DROP_FIRST,  /* the group is of an older term: drop it, start anew */
};

/* A leader of term appends entries of bytes payload bytes. */
enum ledger_group_step ledger_group_on_append(const struct ledger_group *g, uint64_t term,
                                              size_t entries, size_t bytes);

/* At the end of the turn: whether the group may be written. Only by the
 * leader of the term its entries were made in; anything else (it stepped
 * down, or a new term began) drops them: they were acknowledged to no one,
 * and a follower's log is the new leader's to change. */
bool ledger_group_writable(const struct ledger_group *g, bool leader, uint64_t term);

#endif
