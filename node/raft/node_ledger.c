/* The node's ledger: opened at start (with recovery), closed at stop, and
 * read by the HTTP API. Replication (the leader appending, witnesses
 * verifying and cosigning) builds on this. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/node.h"

/* A checkpoint, cosignature or evidence signature counts only from the key
 * the ledger records for its signer (node_witness.c records them). */
#define NODE_LEDGER_KEYS LEDGER_KEYS_MEMBERSHIP

int node_ledger_open(struct node *n)
{
    char err[1024];
    int created = ledger_key_load_or_create(n->base.cfg.data, &n->raft.key_pair, err, sizeof(err));
    if (created < 0) {
        fprintf(stderr, "chimerad: %s\n", err);
        return -1;
    }
    struct ledger_options opt = {.keys = NODE_LEDGER_KEYS};
    struct ledger_recovery rec;
    struct ledger_problem bad;
    memset(&rec, 0, sizeof(rec));
    enum ledger_error rv = ledger_open(n->base.cfg.data, &opt, &n->raft.ledger, &rec, &bad, err, sizeof(err));
    if (rv != LEDGER_OK) {
        /* Corruption with valid records after it is not a crash's torn
         * write: refuse, naming where, rather than guess. */
        fprintf(stderr, "chimerad: ledger: %s\n", err);
        return -1;
    }
    char pk[2 * LEDGER_PUBKEY_BYTES + 1];
    ledger_hex(n->raft.key_pair.pk, LEDGER_PUBKEY_BYTES, pk);
    if (created)
        node_event(&n->base, "ledger.key_created", NULL, "created node key %s/node.key (public %s)",
                   n->base.cfg.data, pk);
    if (rec.truncated)
        node_event(&n->base, "ledger.recovered", NULL,
                   "torn tail truncated: %" PRIu64 " bytes at %s offset %" PRIu64
                   " (first index lost %" PRIu64 ": %s)",
                   rec.bytes, rec.at.file, rec.at.offset, rec.at.index, rec.at.reason);
    return 0;
}

void node_ledger_close(struct node *n)
{
    if (n->raft.batch)
        ledger_batch_free(n->raft.batch);
    n->raft.batch = NULL;
    if (n->raft.ledger)
        ledger_close(n->raft.ledger);
    n->raft.ledger = NULL;
    ledger_key_wipe(&n->raft.key_pair);
}

bool node_ledger_failed(struct node *n, enum ledger_error rv, const char *what, char *why,
                        size_t len)
{
    char desc[256];
    ledger_describe(n->raft.ledger, rv, desc, sizeof(desc));
    /* A failed sync (or an undo that failed) leaves the files unknown:
     * nothing may be acknowledged any more (store.h, LEDGER_EFATAL). */
    if (rv == LEDGER_EFATAL)
        node_fatal(&n->base, "ledger: %s: %s", what, desc);
    if (rv != LEDGER_EIO)
        return false;
    /* An undone write (the disk is full, say): the ledger is as it was, so
     * the node lives on, but it must not lead until it can write again. */
    int e = ledger_io_errno(n->raft.ledger);
    char sys[128];
    if (e)
        snprintf(why, len, "cannot write the ledger: %s", ledger_syserror(e, sys, sizeof(sys)));
    else
        snprintf(why, len, "cannot write the ledger: %s", desc);
    node_cons_storage_failed(n, why);
    return true;
}

bool node_ledger_writable(const struct node *n, char *why, size_t len)
{
    if (!n->raft.cons.storage_failed)
        return true;
    snprintf(why, len, "%s", n->raft.storage_error[0] ? n->raft.storage_error : "cannot write the ledger");
    return false;
}

bool node_ledger_unready(struct node *n, struct http_request *req)
{
    char why[256];
    if (node_ledger_writable(n, why, sizeof(why)))
        return false;
    const struct cons *c = &n->raft.cons;
    const char *leader =
        c->leader >= 0 && (size_t)c->leader < n->base.peers.n ? n->base.peers.m[c->leader].id : NULL;
    http_respond_json(req, 503,
                      json_pack("{s:s, s:s, s:s, s:s?, s:b}", "status", "unavailable", "node",
                                n->base.cfg.id, "reason", why, "leader", leader, "read_only",
                                cons_read_only(c, uv_now(n->base.loop))));
    return true;
}

/* Appends what the batch holds; a failed sync ends the process. */
bool node_ledger_write(struct node *n, const char *what)
{
    if (ledger_batch_records(n->raft.batch) == 0)
        return true;
    enum ledger_error rv = ledger_append_batch(n->raft.ledger, n->raft.batch);
    if (rv == LEDGER_OK) {
        node_cons_storage_ok(n);
        return true;
    }
    char why[256];
    if (!node_ledger_failed(n, rv, what, why, sizeof(why)))
        node_event(&n->base, "ledger.write_failed", NULL, "%s: %s", what, ledger_strerror(rv));
    return false;
}
