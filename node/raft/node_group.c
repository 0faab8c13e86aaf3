/* Group commit on the leader (ledger/group.h has the decisions). Notes,
 * records and the leader's own entries that arrive in one turn of the
 * loop join one ledger batch. At the end of the turn it is written (to the
 * page cache: the loop does not wait for the disk) and its one fdatasync
 * runs on libuv's thread pool; only when that sync returned is the group
 * handed to the core (cons_appended), which counts it as the leader's own
 * match and replicates it. So the leader counts itself in a quorum only
 * for entries on its disk, and heartbeats, votes and requests go on while
 * the disk works. Groups are synced one at a time: what arrives while a
 * sync is under way forms the next group, written when it returns.
 * (Sending a group to the followers before the leader's own sync returned,
 * Raft's §10.2.1, needs the core to count the leader's match apart from its
 * log's end; it does not yet: consensus.h, cons_appended.)
 *
 * "End of the turn" is a check handle (after the loop's I/O callbacks,
 * where requests and the thread pool's parsed bodies arrive) and a prepare
 * handle (before the loop waits for I/O, for what timers appended): an
 * open group never waits for the next wake-up. Both run only while a
 * group is open.
 *
 * Other records (checkpoints, cosignatures, evidence: node_ledger_write)
 * may be written while a group is open; the group is then rebuilt on the
 * new head before it is written (ledger_batch_rebuild; its entries do not
 * depend on those records).
 *
 * Written entries not yet told to the core ("untold") exist only in this
 * node's ledger: they were sent to no one and acknowledged to no one. If
 * this node stops leading their term before their sync returned, they are
 * cut from the ledger (reconcile) before anything else is appended, so the
 * ledger is again exactly the core's log; a follower's log changes come
 * only after that. A failed sync ends the process, as on every path. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "node/raft/raft.h"

/* The group written last is durable: the core may count it. */
static void told(struct node_raft *r)
{
    struct cons_entry end = r->group.sync.end;
    r->group.sync.untold = false;
    r->shell.storage_ok(r);
    struct cons_out out;
    cons_appended(&r->cons, uv_now(r->base->loop), &end, &out);
    r->shell.apply(r, &out);
}

void node_group_abandon(struct node_raft *r)
{
    struct node_group *gr = &r->group;
    if (!gr->sync.untold || !r->ledger)
        return;
    gr->sync.untold = false;
    gr->sync.epoch++; /* a sync under way now proves nothing the core needs */
    uint64_t last = ledger_last_index(r->ledger);
    if (last < gr->sync.first)
        return;
    enum ledger_error rv = ledger_truncate_after(r->ledger, gr->sync.first - 1);
    if (rv != LEDGER_OK) {
        char desc[256];
        node_fatal(r->base, "ledger: truncate: %s",
                   ledger_describe(r->ledger, rv, desc, sizeof(desc)));
    }
    node_event(r->base, "ledger.truncated", NULL,
               "dropped entries %" PRIu64 "..%" PRIu64 " (appended as leader of term %" PRIu64
               ", never replicated: leadership ended before they were durable)",
               gr->sync.first, last, gr->sync.term);
}

static bool leads(const struct node_raft *r, uint64_t term)
{
    return r->cons.role == CONS_LEADER && r->cons.term == term && !r->base->stopping;
}

/* Untold entries of a leadership that ended are cut (see the top). */
static void reconcile(struct node_raft *r)
{
    if (r->group.sync.untold && !r->base->stopping && !leads(r, r->group.sync.term))
        node_group_abandon(r);
}

static void end_of_turn_check(uv_check_t *h)
{
    node_group_flush(h->data);
}

static void end_of_turn_prepare(uv_prepare_t *h)
{
    node_group_flush(h->data);
}

static void close_group(struct node_group *gr)
{
    gr->g.entries = gr->g.bytes = 0;
    if (gr->open) {
        uv_check_stop(&gr->after_poll);
        uv_prepare_stop(&gr->before_poll);
    }
}

/* Entries of a leadership that ended: acknowledged to no one, never
 * written (what waits on them heard "leadership lost" and counted them as
 * failed, node_cons.c). */
static void drop(struct node_raft *r)
{
    ledger_batch_begin(r->group.batch, r->ledger);
    close_group(&r->group);
}

int node_group_start(struct node_raft *r)
{
    struct node_group *gr = &r->group;
    gr->batch = ledger_batch_new();
    if (!gr->batch) {
        fprintf(stderr, "chimerad: out of memory\n");
        return -1;
    }
    uv_check_init(r->base->loop, &gr->after_poll);
    uv_prepare_init(r->base->loop, &gr->before_poll);
    gr->after_poll.data = gr->before_poll.data = r;
    gr->open = true;
    return 0;
}

void node_group_stop(struct node_raft *r)
{
    struct node_group *gr = &r->group;
    if (gr->batch && r->ledger)
        drop(r);
    /* Untold entries stay, as after a crash: uncommitted, this node's only. */
    gr->sync.stopped = true;
    if (gr->open) {
        uv_close((uv_handle_t *)&gr->after_poll, NULL);
        uv_close((uv_handle_t *)&gr->before_poll, NULL);
    }
    gr->open = false;
    ledger_batch_free(gr->batch);
    gr->batch = NULL;
}

/* A write that failed and was undone, or a group that no longer fits the
 * ledger: the ledger is as it was, and entries were promised to waiters,
 * so this node steps down (they hear "leadership lost"); a failed sync
 * ends the process (node_ledger_failed). */
static void write_failed(struct node_raft *r, enum ledger_error rv)
{
    char why[256];
    if (node_ledger_failed(r, rv, "append", why, sizeof(why)))
        return;
    char desc[200];
    snprintf(why, sizeof(why), "cannot write the ledger: %s",
             ledger_describe(r->ledger, rv, desc, sizeof(desc)));
    r->shell.storage_failed(r, why);
}

/* On a pool thread: touches only the job's fields (struct node_group). */
static void sync_on_pool(uv_work_t *w)
{
    struct node_raft *r = w->data;
    struct node_group *gr = &r->group;
    gr->sync.t0 = uv_hrtime();
    gr->sync.rc = fdatasync(gr->sync.fd);
    gr->sync.err = errno;
    gr->sync.t1 = uv_hrtime();
}

/* Back on the loop (status is never UV_ECANCELED: nothing cancels it). */
static void synced(uv_work_t *w, int status)
{
    (void)status;
    struct node_raft *r = w->data;
    struct node_group *gr = &r->group;
    gr->sync.busy = false;
    close(gr->sync.fd);
    gr->sync.fd = -1;
    if (gr->sync.rc != 0) {
        /* What reached the disk is unknown (store.h): nothing more may be
         * acknowledged, by this process. */
        if (r->ledger && !gr->sync.stopped)
            ledger_sync_failed(r->ledger, gr->sync.err);
        node_fatal(r->base, "ledger: fdatasync: %s", strerror(gr->sync.err));
    }
    if (gr->sync.stopped)
        return;
    histogram_observe_ns(&r->metrics.fsync, gr->sync.t0, gr->sync.t1);
    if (gr->sync.work_epoch != gr->sync.epoch)
        gr->sync.untold = false; /* cut meanwhile (node_group_abandon) */
    node_group_flush(r);         /* tells the core, then writes what arrived meanwhile */
}

void node_group_flush(struct node_raft *r)
{
    struct node_group *gr = &r->group;
    reconcile(r);
    /* Durable entries wait while leadership is being handed over: the
     * target was found up to date with the log as it is, and a longer one
     * could cost it the votes (the transfer's end cuts them, or tells). */
    if (gr->sync.untold && !gr->sync.busy && leads(r, gr->sync.term) &&
        !cons_transferring(&r->cons))
        told(r);
    if (gr->g.entries == 0) {
        close_group(gr);
        if (gr->sync.untold && !gr->sync.busy && gr->open) { /* look again next turn */
            uv_check_start(&gr->after_poll, end_of_turn_check);
            uv_prepare_start(&gr->before_poll, end_of_turn_prepare);
        }
        return;
    }
    bool leader = r->cons.role == CONS_LEADER && !r->base->stopping;
    if (!ledger_group_writable(&gr->g, leader, r->cons.term)) {
        drop(r);
        return;
    }
    if (gr->sync.busy || gr->sync.untold)
        return; /* the sync's completion writes it */
    if (cons_transferring(&r->cons))
        return; /* the log stays put for the target (written if it fails) */
    size_t n = gr->g.entries;
    /* Closed before anything below can append again (the core's output
     * may lead to more entries: they form the next group). */
    close_group(gr);
    int fd = -1;
    enum ledger_error rv = ledger_batch_rebuild(gr->batch, r->ledger, n);
    if (rv == LEDGER_OK)
        rv = ledger_append_batch_nosync(r->ledger, gr->batch, &fd);
    if (rv != LEDGER_OK) {
        ledger_batch_begin(gr->batch, r->ledger);
        write_failed(r, rv);
        return;
    }
    struct cons_entry end = {.index = ledger_last_index(r->ledger),
                             .term = ledger_last_term(r->ledger)};
    ledger_head_hash(r->ledger, end.hash);
    gr->sync.end = end;
    gr->sync.first = end.index - n + 1;
    gr->sync.term = r->cons.term;
    gr->sync.untold = true;
    if (fd < 0) { /* durable already (no descriptor to spare: synced here) */
        told(r);
        return;
    }
    gr->sync.fd = fd;
    gr->sync.busy = true;
    gr->sync.work_epoch = gr->sync.epoch;
    gr->sync.work.data = r;
    /* Fails only for a NULL callback. */
    uv_queue_work(r->base->loop, &gr->sync.work, sync_on_pool, synced);
}

int node_group_add(struct node_raft *r, const uint32_t *types, const uint8_t *const *payloads,
                   const size_t *lens, size_t count, uint64_t *first, uint64_t *last, char *err,
                   size_t errlen)
{
    struct node_group *gr = &r->group;
    if (!gr->batch) {
        snprintf(err, errlen, "node is shutting down");
        return -1;
    }
    size_t bytes = 0;
    for (size_t i = 0; i < count; i++)
        bytes += lens[i];
    reconcile(r);
    switch (ledger_group_on_append(&gr->g, r->cons.term, count, bytes)) {
    case LEDGER_GROUP_WRITE_FIRST:
        node_group_flush(r);
        break;
    case LEDGER_GROUP_DROP_FIRST:
        drop(r);
        break;
    case LEDGER_GROUP_JOIN:
        break;
    }
    if (r->cons.role != CONS_LEADER) { /* writing the full group failed */
        raft_metrics_refused(&r->metrics, count);
        snprintf(err, errlen, "%s; this node stepped down as leader, retry with the next one",
                 r->storage_error[0] ? r->storage_error : "cannot write the ledger");
        return -2;
    }
    if (gr->g.entries == 0) {
        ledger_batch_begin(gr->batch, r->ledger);
        gr->g.term = r->cons.term;
    }
    uint64_t started = uv_hrtime();
    uint64_t now = (uint64_t)node_wall_ms();
    for (size_t i = 0; i < count; i++) {
        uint64_t index;
        enum ledger_error rv =
            ledger_batch_add_entry(gr->batch, r->cons.term, types[i], now, r->base->cfg.id,
                                   payloads[i], lens[i], &index, NULL);
        if (rv != LEDGER_OK) {
            snprintf(err, errlen, "entry %zu: %s", i, ledger_strerror(rv));
            raft_metrics_refused(&r->metrics, count);
            /* The entries before this call's stay; if even that fails, the
             * group is lost and so is this leadership. */
            enum ledger_error undo = ledger_batch_rebuild(gr->batch, r->ledger, gr->g.entries);
            if (undo != LEDGER_OK) {
                close_group(gr);
                write_failed(r, undo);
            }
            return -1;
        }
        if (i == 0)
            *first = index;
        *last = index;
    }
    if (gr->g.entries == 0 && gr->open) {
        uv_check_start(&gr->after_poll, end_of_turn_check);
        uv_prepare_start(&gr->before_poll, end_of_turn_prepare);
    }
    gr->g.entries += count;
    gr->g.bytes += bytes;
    raft_metrics_appended(&r->metrics, *last, started);
    return 0;
}
