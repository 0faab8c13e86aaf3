/* The consensus term and vote on disk (data/consensus.state), so a restarted
 * node never votes twice in a term (§3.8). A fixed-size record:
 *   "CHRCONS1" | term (u64 big-endian) | voted-for id length (u8) |
 *   voted-for id (64 bytes, zero padded) | BLAKE2b-128 of all before.
 * The vote is kept as a member id, not a number, so reordering --peers
 * cannot redirect it. A short, foreign or corrupt file is refused, never
 * silently reset: forgetting a vote could elect two leaders in one term. */
#ifndef CHIMERA_CONS_STORE_H
#define CHIMERA_CONS_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "node/base/config.h"

#define CONS_STORE_FILE "consensus.state"
#define CONS_STORE_BYTES (8 + 8 + 1 + 64 + 16)

struct cons_stored {
    uint64_t term;
    char voted_for[CONFIG_ID_MAX]; /* "" for none */
    bool missing;                  /* load: there was no file (term 0, no vote) */
};

void cons_store_encode(const struct cons_stored *s, uint8_t out[CONS_STORE_BYTES]);

/* Returns 0, or -1 with the reason in err (torn, not ours, corrupt). */
int cons_store_decode(const uint8_t *buf, size_t len, struct cons_stored *s, char *err,
                      size_t errlen);

/* Loads data_dir/consensus.state; a missing file is a fresh node (term 0, no
 * vote, s->missing), which the caller must check against its ledger: a node
 * whose ledger has entries has voted before. Returns 0, or -1 with one line
 * in err naming the file. */
int cons_store_load(const char *data_dir, struct cons_stored *s, char *err, size_t errlen);

/* Writes and syncs it: over the existing record in place, or as a new file
 * when there is none (see cons_store.c). Returns 0, or with one line in err
 * -1 (the old file is untouched: retryable) or -2 (what survives a crash is
 * unknown); see durable_write. */
int cons_store_save(const char *data_dir, const struct cons_stored *s, char *err, size_t errlen);

#endif
