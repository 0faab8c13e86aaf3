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
    int created = ledger_key_load_or_create(n->cfg.data, &n->key_pair, err, sizeof(err));
    if (created < 0) {
        fprintf(stderr, "chimerad: %s\n", err);
        return -1;
    }
    struct ledger_options opt = {.keys = NODE_LEDGER_KEYS};
    struct ledger_recovery rec;
    struct ledger_problem bad;
    memset(&rec, 0, sizeof(rec));
    enum ledger_error rv = ledger_open(n->cfg.data, &opt, &n->ledger, &rec, &bad, err, sizeof(err));
    if (rv != LEDGER_OK) {
        /* Corruption with valid records after it is not a crash's torn
         * write: refuse, naming where, rather than guess. */
        fprintf(stderr, "chimerad: ledger: %s\n", err);
        return -1;
    }
    char pk[2 * LEDGER_PUBKEY_BYTES + 1];
    ledger_hex(n->key_pair.pk, LEDGER_PUBKEY_BYTES, pk);
    if (created)
        node_event(n, "ledger.key_created", NULL, "created node key %s/node.key (public %s)",
                   n->cfg.data, pk);
    if (rec.truncated)
        node_event(n, "ledger.recovered", NULL,
                   "torn tail truncated: %" PRIu64 " bytes at %s offset %" PRIu64
                   " (first index lost %" PRIu64 ": %s)",
                   rec.bytes, rec.at.file, rec.at.offset, rec.at.index, rec.at.reason);
    return 0;
}

void node_ledger_close(struct node *n)
{
    if (n->batch)
        ledger_batch_free(n->batch);
    n->batch = NULL;
    if (n->ledger)
        ledger_close(n->ledger);
    n->ledger = NULL;
    ledger_key_wipe(&n->key_pair);
}

/* Appends what the batch holds; a failed sync ends the process. */
bool node_ledger_write(struct node *n, const char *what)
{
    if (ledger_batch_records(n->batch) == 0)
        return true;
    enum ledger_error rv = ledger_append_batch(n->ledger, n->batch);
    if (rv == LEDGER_EFATAL)
        node_fatal(n, "ledger: %s: %s", what, ledger_strerror(rv));
    if (rv != LEDGER_OK) {
        node_event(n, "ledger.write_failed", NULL, "%s: %s", what, ledger_strerror(rv));
        return false;
    }
    return true;
}
