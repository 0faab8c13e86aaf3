/* What the Raft layer measures for /metrics, kept apart from the shell
 * that feeds it (node_cons.c, node_repl.c, node_ledger.c): pure, the
 * caller passes monotonic times in ns.
 *
 * A proposal is an entry the leader appends (a note, a deployment, chaos
 * or drill record, its election entry). committed counts every entry this
 * node saw committed since it started (every member; after a restart the
 * entries after its last checkpoint count again, as the commit index
 * starts there). failed counts the entries a leader's append refused and
 * those not committed when it stopped leading: what waited on them was
 * answered as failed (the next leader may still commit them). */
#ifndef CHIMERA_RAFT_METRICS_H
#define CHIMERA_RAFT_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "node/base/config.h"
#include "node/base/histogram.h"

#define RAFT_METRICS_APPENDS 64 /* a leader's appends awaiting commit that are timed */

struct raft_metrics {
    uint64_t leader_changes; /* another leader became known (or one again after none) */
    uint64_t committed;
    uint64_t failed;
    uint64_t commit_seen;    /* the commit index counted up to */
    uint64_t led_last;       /* leader: the last entry it appended in this leadership (0: none) */
    struct histogram fsync;  /* every sync of the ledger */
    struct histogram commit; /* leader: an append to the commit that covers it */
    struct {
        uint64_t last, at_ns;
    } appends[RAFT_METRICS_APPENDS]; /* a ring, oldest at head */
    size_t head, count;
    /* Leader: heartbeat round trips per member, one heartbeat timed at a
     * time (the answers carry no id: under loss an answer to a later
     * heartbeat ends the wait, at most a heartbeat interval long). */
    struct histogram rtt[CONFIG_MAX_MEMBERS];
    uint64_t hb_sent_ns[CONFIG_MAX_MEMBERS]; /* 0: none awaiting an answer */
};

/* Empties m and sets the histograms' bounds (before the ledger opens:
 * its syncs are timed). */
void raft_metrics_init(struct raft_metrics *m);
/* The commit index the node starts from: counting begins there. */
void raft_metrics_from(struct raft_metrics *m, uint64_t commit);

/* Leader: entries up to last were appended, the append having started at
 * at_ns; pending until a commit covers them. A full ring forgets its oldest
 * (never timed). */
void raft_metrics_appended(struct raft_metrics *m, uint64_t last, uint64_t at_ns);
/* count entries were refused by an append. */
void raft_metrics_refused(struct raft_metrics *m, size_t count);
/* The commit index advanced to commit at now_ns: entries counted, the
 * appends it covers timed. */
void raft_metrics_committed(struct raft_metrics *m, uint64_t commit, uint64_t now_ns);
/* This node stopped leading with commit the commit index: what it
 * appended beyond failed; nothing it timed is awaited any more. */
void raft_metrics_lost_lead(struct raft_metrics *m, uint64_t commit);
/* The leader's entries not committed yet (0 unless leading). */
uint64_t raft_metrics_pending(const struct raft_metrics *m, bool leading, uint64_t commit);

/* A leader's heartbeat to member `to` leaves at now_ns: timed unless one
 * is awaited, one awaited for longer than lost_ns counting as lost. A
 * quiet one (a commit push, cons_msg.quiet) is never answered: timing it
 * would leave the next heartbeat untimed and measure the gap to it. */
void raft_metrics_heartbeat_sent(struct raft_metrics *m, size_t to, bool quiet, uint64_t now_ns,
                                 uint64_t lost_ns);
/* The answer to a heartbeat of this leadership came from member `from`. */
void raft_metrics_heartbeat_answered(struct raft_metrics *m, size_t from, uint64_t now_ns);

#endif
