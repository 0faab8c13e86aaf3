/* The node's ledger: opened at start (with recovery), closed at stop, and
 * read by the HTTP API. Replication (the leader appending, witnesses
 * verifying and cosigning) builds on this. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "node/raft/raft.h"

/* A checkpoint, cosignature or evidence signature counts only from the key
 * the ledger records for its signer (node_witness.c records them). */
#define NODE_LEDGER_KEYS LEDGER_KEYS_MEMBERSHIP

/* The ledger's syncs, timed for /metrics (the ledger itself reads no clock). */
static int timed_sync(int fd, enum ledger_sync_what what, void *arg)
{
    struct node_raft *r = arg;
    r->loop_syncs++; /* the ledger syncs here only on the caller's thread: the loop */
    uint64_t t0 = uv_hrtime();
    int rv = what == LEDGER_SYNC_DATA ? fdatasync(fd) : fsync(fd);
    int e = errno;
    histogram_observe_ns(&r->metrics.fsync, t0, uv_hrtime());
    errno = e;
    return rv;
}

int node_ledger_open(struct node_raft *r)
{
    char err[1024];
    int created = ledger_key_load_or_create(r->base->cfg.data, &r->key_pair, err, sizeof(err));
    if (created < 0) {
        fprintf(stderr, "chimerad: %s\n", err);
        return -1;
    }
    struct ledger_options opt = {.keys = NODE_LEDGER_KEYS, .sync = timed_sync, .sync_arg = r};
    struct ledger_recovery rec;
    struct ledger_problem bad;
    memset(&rec, 0, sizeof(rec));
    enum ledger_error rv =
        ledger_open(r->base->cfg.data, &opt, &r->ledger, &rec, &bad, err, sizeof(err));
    if (rv != LEDGER_OK) {
        /* Corruption with valid records after it is not a crash's torn
         * write: refuse, naming where, rather than guess. */
        fprintf(stderr, "chimerad: ledger: %s\n", err);
        return -1;
    }
    char pk[2 * LEDGER_PUBKEY_BYTES + 1];
    ledger_hex(r->key_pair.pk, LEDGER_PUBKEY_BYTES, pk);
    if (created)
        node_event(r->base, "ledger.key_created", NULL, "created node key %s/node.key (public %s)",
                   r->base->cfg.data, pk);
    if (rec.truncated)
        node_event(r->base, "ledger.recovered", NULL,
                   "torn tail truncated: %" PRIu64 " bytes at %s offset %" PRIu64
                   " (first index lost %" PRIu64 ": %s)",
                   rec.bytes, rec.at.file, rec.at.offset, rec.at.index, rec.at.reason);
    return 0;
}

void node_ledger_close(struct node_raft *r)
{
    if (r->batch)
        ledger_batch_free(r->batch);
    r->batch = NULL;
    if (r->ledger)
        ledger_close(r->ledger);
    r->ledger = NULL;
    ledger_key_wipe(&r->key_pair);
}

void node_ledger_feed(struct node_raft *r, uint64_t *applied, uint64_t commit, ledger_entry_fn fn,
                      void *arg)
{
    if (!r->ledger || commit <= *applied)
        return;
    uint64_t last = ledger_last_index(r->ledger);
    if (commit > last)
        commit = last;
    while (*applied < commit) {
        uint64_t from = *applied + 1;
        if (ledger_read_range(r->ledger, from, commit - *applied, 4u * 1024u * 1024u, fn, arg) !=
                LEDGER_OK ||
            *applied < from)
            break;
    }
}

bool node_ledger_failed(struct node_raft *r, enum ledger_error rv, const char *what, char *why,
                        size_t len)
{
    char desc[256];
    ledger_describe(r->ledger, rv, desc, sizeof(desc));
    /* A failed sync (or an undo that failed) leaves the files unknown:
     * nothing may be acknowledged any more (store.h, LEDGER_EFATAL). */
    if (rv == LEDGER_EFATAL)
        node_fatal(r->base, "ledger: %s: %s", what, desc);
    if (rv != LEDGER_EIO)
        return false;
    /* An undone write (the disk is full, say): the ledger is as it was, so
     * the node lives on, but it must not lead until it can write again. */
    int e = ledger_io_errno(r->ledger);
    char sys[128];
    if (e)
        snprintf(why, len, "cannot write the ledger: %s", ledger_syserror(e, sys, sizeof(sys)));
    else
        snprintf(why, len, "cannot write the ledger: %s", desc);
    /* The core goes back to what the ledger holds (what is written and
     * not yet durable stays not durable: consensus.h, cons_set_log). */
    r->shell.storage_failed(r, why);
    return true;
}

bool node_ledger_writable(const struct node_raft *r, char *why, size_t len)
{
    if (!r->cons.storage_failed)
        return true;
    snprintf(why, len, "%s", r->storage_error[0] ? r->storage_error : "cannot write the ledger");
    return false;
}

/* Appends what the batch holds without a sync: a checkpoint, cosignature
 * or evidence record is made durable by the sync that entries share, on
 * the thread pool (node_group.c), and what announces it waits for that
 * (node_ledger_send_durable). Before, each one's fdatasync ran here, on
 * the loop: about once per heartbeat on a leader under writes, plus once
 * per witness's cosignature, while APPENDs, answers and requests queued. */
bool node_ledger_write(struct node_raft *r, const char *what)
{
    if (ledger_batch_records(r->batch) == 0)
        return true;
    enum ledger_error rv = ledger_append_batch_unsynced(r->ledger, r->batch);
    if (rv == LEDGER_OK) {
        node_group_records_written(r);
        r->shell.storage_ok(r);
        return true;
    }
    char why[256];
    if (!node_ledger_failed(r, rv, what, why, sizeof(why)))
        node_event(r->base, "ledger.write_failed", NULL, "%s: %s", what, ledger_strerror(rv));
    return false;
}
