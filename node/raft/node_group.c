/* Group commit on the leader (ledger/group.h has the decisions), and the
 * one sync of the ledger that the leader's groups and a follower's APPENDs
 * share.
 *
 * Notes, records and the leader's own entries that arrive in one turn of
 * the loop join one ledger batch. At the end of the turn it is written (to
 * the page cache: the loop does not wait for the disk) and handed to the
 * core at once (cons_written), which sends it to the followers while the
 * leader's own sync runs (Raft's §10.2.1): the round trip and the sync
 * overlap instead of adding up. The core counts the leader's own match only
 * for what is durable (cons_synced), so a commit still needs a majority of
 * durable copies.
 *
 * Syncs: one fdatasync at a time runs on libuv's thread pool; whatever is
 * written while it runs (more groups, more APPENDs) is covered by the next
 * one, started when it returns. So heartbeats, votes and requests go on
 * while the disk works, and a busy node makes one sync per disk round, not
 * one per write. A follower's answer that acknowledges entries is held by
 * the core until the sync covering them returned (persist before
 * acknowledge, §3.8). A truncation is durable on return
 * (ledger_truncate_after) and a sync under way then proves nothing beyond
 * the cut (node_sync_cut). A failed sync ends the process, as on every
 * path.
 *
 * "End of the turn" is a check handle (after the loop's I/O callbacks,
 * where requests and the thread pool's parsed bodies arrive) and a prepare
 * handle (before the loop waits for I/O, for what timers appended): an
 * open group never waits for the next wake-up. Both run only while a
 * group is open or records wait for their sync, which starts there too.
 *
 * A group of a leadership that ended is never written: the end of the
 * turn drops it (ledger_group_writable), whatever a new leader's APPENDs
 * wrote meanwhile, so nothing on a follower's path needs to flush it (its
 * waiters heard "leadership lost" at the step-down, node_cons.c).
 *
 * Other records (checkpoints, cosignatures, evidence: node_ledger_write)
 * may be written while a group is open; the group is then rebuilt on the
 * new head before it is written (ledger_batch_rebuild; its entries do not
 * depend on those records). They are written without a sync as well and
 * counted (ledger_records): the same pool sync covers them, and the
 * messages that announce them are held until it returned
 * (node_ledger_send_durable, ledger/group.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "node/raft/raft.h"

static void end_of_turn_check(uv_check_t *h)
{
    node_group_flush(h->data);
}

static void end_of_turn_prepare(uv_prepare_t *h)
{
    node_group_flush(h->data);
}

/* The end-of-turn handles run while a group is open, and only then. */
static void arm(struct node_group *gr, bool on)
{
    if (!gr->open || gr->armed == on)
        return;
    gr->armed = on;
    if (on) {
        uv_check_start(&gr->after_poll, end_of_turn_check);
        uv_prepare_start(&gr->before_poll, end_of_turn_prepare);
    } else {
        uv_check_stop(&gr->after_poll);
        uv_prepare_stop(&gr->before_poll);
    }
}

static void close_group(struct node_group *gr)
{
    gr->g.entries = gr->g.bytes = 0;
    arm(gr, false);
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
    gr->armed = false;
    gr->sync.durable = ledger_last_index(r->ledger);
    gr->sync.fd = gr->sync.left = -1;
    /* Writes are synced off the loop from now on: the core holds what it
     * would acknowledge before the sync returned (consensus.h). */
    cons_set_async_sync(&r->cons, true);
    return 0;
}

/* Sends what the records durable now let go, in the order it was held. */
static void release_held(struct node_raft *r)
{
    struct node_group *gr = &r->group;
    struct ledger_held_msg m;
    while (ledger_held_pop(&gr->held, gr->sync.rec.durable, &m)) {
        node_send(r->base, m.to, m.type, m.body, m.len);
        free(m.body);
    }
}

void node_group_stop(struct node_raft *r)
{
    struct node_group *gr = &r->group;
    if (gr->batch && r->ledger)
        drop(r);
    /* Not durable (as far as this process knows): never sent, as after a
     * crash. */
    struct ledger_held_msg m;
    while (ledger_held_pop(&gr->held, UINT64_MAX, &m))
        free(m.body);
    /* What is written and not synced stays, as after a crash: acknowledged
     * by no one. */
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

/* The core hears how far the ledger is durable. */
static void tell_durable(struct node_raft *r)
{
    struct cons_out out;
    cons_synced(&r->cons, uv_now(r->base->loop), r->group.sync.durable, &out);
    r->shell.apply(r, &out);
}

/* On a pool thread: touches only the job's fields (struct node_group). */
static void sync_on_pool(uv_work_t *w)
{
    struct node_raft *r = w->data;
    struct node_group *gr = &r->group;
    gr->sync.t0 = uv_hrtime();
    gr->sync.rc = gr->sync.left >= 0 ? fdatasync(gr->sync.left) : 0;
    if (gr->sync.rc == 0)
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
    if (gr->sync.left >= 0)
        close(gr->sync.left);
    gr->sync.fd = gr->sync.left = -1;
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
    uint64_t upto = gr->sync.target < gr->sync.cut ? gr->sync.target : gr->sync.cut;
    if (upto > gr->sync.durable)
        gr->sync.durable = upto;
    /* A truncation rewrites the records after its cut durably: no cut
     * applies to them. */
    ledger_records_synced(&gr->sync.rec);
    node_sync_kick(r); /* what was written meanwhile */
    release_held(r);
    tell_durable(r);
}

/* The ledger synced on the loop, in the rare case the pool cannot take it
 * (no descriptor to spare, too many messages held): every record written
 * is durable on return, and the held messages leave. The entries are too,
 * but the core hears that only when entries is set: the caller may be in
 * the middle of a message of its own (the next pool sync tells it). */
static void sync_here(struct node_raft *r, bool entries)
{
    struct node_group *gr = &r->group;
    enum ledger_error rv = ledger_sync_now(r->ledger);
    if (rv != LEDGER_OK) {
        char desc[256];
        node_fatal(r->base, "ledger: %s", ledger_describe(r->ledger, rv, desc, sizeof(desc)));
    }
    ledger_records_all_durable(&gr->sync.rec);
    release_held(r);
    if (!entries)
        return;
    uint64_t last = ledger_last_index(r->ledger);
    if (last > gr->sync.durable)
        gr->sync.durable = last;
    tell_durable(r);
}

void node_ledger_send_durable(struct node_raft *r, size_t to, uint32_t type, struct node_pack *p)
{
    struct node_group *gr = &r->group;
    if (ledger_held_may_send(&gr->held, &gr->sync.rec)) {
        node_pack_send(r->base, to, type, p);
        return;
    }
    if (gr->sync.stopped || r->base->stopping || !r->ledger) {
        node_pack_free(p);
        return;
    }
    struct ledger_held_msg m = {
        .seq = gr->sync.rec.written, .to = to, .type = type, .body = p->sb.data, .len = p->sb.size};
    if (!ledger_held_push(&gr->held, &m)) {
        /* A disk slower than the messages come: wait for it here, once,
         * rather than lose what the records announce. */
        sync_here(r, false);
        node_pack_send(r->base, to, type, p);
        return;
    }
    msgpack_sbuffer_release(&p->sb); /* the queue owns the body now */
}

void node_sync_kick(struct node_raft *r)
{
    struct node_group *gr = &r->group;
    if (gr->sync.busy || gr->sync.stopped || !r->ledger || r->base->stopping)
        return;
    uint64_t last = ledger_last_index(r->ledger);
    if (last <= gr->sync.durable && !ledger_records_unsynced(&gr->sync.rec))
        return;
    int left;
    int fd = ledger_sync_fd(r->ledger, &left);
    if (fd < 0) { /* no descriptor to spare: synced here */
        sync_here(r, true);
        return;
    }
    gr->sync.fd = fd;
    gr->sync.left = left;
    gr->sync.target = last;
    gr->sync.cut = UINT64_MAX;
    ledger_records_sync_started(&gr->sync.rec);
    gr->sync.busy = true;
    gr->sync.work.data = r;
    /* Fails only for a NULL callback. */
    uv_queue_work(r->base->loop, &gr->sync.work, sync_on_pool, synced);
}

void node_sync_cut(struct node_raft *r, uint64_t after)
{
    struct node_group *gr = &r->group;
    if (gr->sync.durable > after)
        gr->sync.durable = after;
    if (gr->sync.busy && gr->sync.cut > after)
        gr->sync.cut = after;
}

/* The open group, at the end of the turn: written and handed to the core,
 * or dropped, or kept while leadership is handed over. */
static void write_group(struct node_raft *r)
{
    struct node_group *gr = &r->group;
    if (gr->g.entries == 0) {
        close_group(gr);
        return;
    }
    bool leader = r->cons.role == CONS_LEADER && !r->base->stopping;
    if (!ledger_group_writable(&gr->g, leader, r->cons.term)) {
        drop(r);
        return;
    }
    /* The log stays put while leadership is handed over: the target was
     * found up to date with it as it is (written if the transfer fails). */
    if (cons_transferring(&r->cons))
        return;
    size_t n = gr->g.entries;
    /* Closed before anything below can append again (the core's output
     * may lead to more entries: they form the next group). */
    close_group(gr);
    enum ledger_error rv = ledger_batch_rebuild(gr->batch, r->ledger, n);
    if (rv == LEDGER_OK)
        rv = ledger_append_batch_unsynced(r->ledger, gr->batch);
    if (rv != LEDGER_OK) {
        ledger_batch_begin(gr->batch, r->ledger);
        write_failed(r, rv);
        return;
    }
    r->shell.storage_ok(r);
    struct cons_entry end = {.index = ledger_last_index(r->ledger),
                             .term = ledger_last_term(r->ledger)};
    ledger_head_hash(r->ledger, end.hash);
    struct cons_out out;
    cons_written(&r->cons, uv_now(r->base->loop), &end, &out);
    r->shell.apply(r, &out);
}

void node_group_flush(struct node_raft *r)
{
    write_group(r);
    /* One sync for what this turn wrote: the group, a follower's APPENDs
     * and the records (node_group_records_written), rather than a sync
     * for the records that the entries' sync would then wait behind. */
    node_sync_kick(r);
}

void node_group_records_written(struct node_raft *r)
{
    struct node_group *gr = &r->group;
    ledger_records_written(&gr->sync.rec);
    if (gr->open)
        arm(gr, true);
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
    arm(gr, true);
    gr->g.entries += count;
    gr->g.bytes += bytes;
    raft_metrics_appended(&r->metrics, *last, started);
    return 0;
}
