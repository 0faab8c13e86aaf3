/* Shared between the election part (consensus.c), log replication
 * (replicate.c: the leader's side; follow.c: the follower's) and leadership
 * transfer (transfer.c) of the consensus core; not part of the public
 * interface. */
#ifndef CHIMERA_CONS_INTERNAL_H
#define CHIMERA_CONS_INTERNAL_H

#include <string.h>

#include "consensus/consensus.h"

static inline uint64_t cons_sat_add(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static inline uint64_t cons_timeout_ms(const struct cons *c)
{
    return c->cfg.election_timeout_ms;
}

/* The start of every entry point that fills a cons_out: the out starts
 * empty, and the commit index undo (cons_storage_failed) covers only this
 * call's log changes. */
static inline void cons__begin(struct cons *c, struct cons_out *out)
{
    memset(out, 0, sizeof(*out));
    c->commit_undo_set = false;
}

/* consensus.c */
void cons__emit(struct cons_out *out, const struct cons_msg *m);
struct cons_msg cons__reply(const struct cons *c, enum cons_msg_type type, int32_t to,
                            uint64_t term, bool granted);
void cons__become_follower(struct cons *c, uint64_t now, uint64_t term, struct cons_out *out);
/* m (a HEARTBEAT or an APPEND of term >= ours) comes from the leader: follow
 * it and renew its lease. */
void cons__follow(struct cons *c, uint64_t now, const struct cons_msg *m, struct cons_out *out);
void cons__ack(struct cons *c, uint64_t now, int32_t from);
void cons__become_candidate(struct cons *c, uint64_t now, bool transfer, struct cons_out *out);
/* Leader: member i answered within the last election timeout. */
bool cons__live(const struct cons *c, uint64_t now, int32_t i);

/* transfer.c */
/* Leader: sends TIMEOUT_NOW to the transfer's target if its log is known
 * to match ours to the end. */
void cons__transfer_progress(struct cons *c, struct cons_out *out);
/* Ends a transfer that finished or failed (reported in out). */
void cons__transfer_check(struct cons *c, uint64_t now, struct cons_out *out);
void cons__on_timeout_now(struct cons *c, uint64_t now, const struct cons_msg *m,
                          struct cons_out *out);

/* replicate.c */
void cons__rep_start(struct cons *c);
void cons__rep_heartbeat(struct cons *c, struct cons_out *out);
/* Sends follower i what it may be sent now (has_work), in APPENDs. */
void cons__rep_send(struct cons *c, int32_t i, struct cons_out *out);
void cons__commit_to(struct cons *c, uint64_t index, struct cons_out *out);
/* The log as the core sees it: entry idx's metadata (false when the view
 * cannot read it), the log's end moved or cut, a new last entry. */
bool cons__meta_at(const struct cons *c, uint64_t idx, uint64_t *term,
                   uint8_t hash[CONS_HASH_BYTES]);
void cons__synced_to_end(struct cons *c, uint64_t end);
void cons__set_last(struct cons *c, const struct cons_entry *e);

/* follow.c */
bool cons__append_valid(const struct cons_msg *m);
/* A follower's held answers whose entries are now durable leave. */
void cons__release_held(struct cons *c, struct cons_out *out);
void cons__on_append(struct cons *c, uint64_t now, const struct cons_msg *m, struct cons_out *out);

/* replicate.c */
void cons__on_append_resp(struct cons *c, uint64_t now, const struct cons_msg *m,
                          struct cons_out *out);

#endif
