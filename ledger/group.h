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

/* Records (checkpoints, cosignatures, evidence) are written without a sync
 * too and join the group's sync on the thread pool; what announces them (a
 * checkpoint sent to the witnesses, a cosignature sent back) is held until
 * that sync returned: persist before acknowledge, §3.8. Each record write
 * takes the next number of a sequence (struct node_group, ledger_records);
 * a message is held with the number of the last record written before it,
 * and leaves once the records are durable up to it, in the order it was
 * held. The bodies are the caller's (malloc'd): this only orders them. */
#define LEDGER_HELD_MAX 64u

struct ledger_held_msg {
    uint64_t seq; /* leaves once records up to seq are durable */
    size_t to;    /* the member it goes to */
    uint32_t type;
    void *body;
    size_t len;
};

struct ledger_held {
    struct ledger_held_msg q[LEDGER_HELD_MAX];
    size_t head, count;
};

/* How far the records are written, synced and durable. */
struct ledger_records {
    uint64_t written; /* records written so far (the last one's number) */
    uint64_t syncing; /* the sync under way covers records up to this */
    uint64_t durable; /* records durable up to this */
};

/* A record was written: its number. */
uint64_t ledger_records_written(struct ledger_records *r);
/* Whether records written are not durable yet. */
bool ledger_records_unsynced(const struct ledger_records *r);
/* A sync starts: it covers every record written so far. */
void ledger_records_sync_started(struct ledger_records *r);
/* That sync returned: those records are durable. */
void ledger_records_synced(struct ledger_records *r);
/* Everything written was synced (a sync made here, on the loop). */
void ledger_records_all_durable(struct ledger_records *r);

/* Whether a message may leave now (every record written is durable, and
 * nothing held is ahead of it). */
bool ledger_held_may_send(const struct ledger_held *h, const struct ledger_records *r);
/* Holds m (m->seq: the last record written). false: the queue is full. */
bool ledger_held_push(struct ledger_held *h, const struct ledger_held_msg *m);
/* The oldest held message whose records are durable up to `durable`,
 * taken from the queue into *out; false when there is none. */
bool ledger_held_pop(struct ledger_held *h, uint64_t durable, struct ledger_held_msg *out);

#endif
