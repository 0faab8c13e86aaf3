/* The consensus term and vote on disk (data/consensus.state), so a restarted
 * node never votes twice in a term (§3.8). Two slots of 512 bytes (A at
 * byte 0, B at byte 512), each one sector holding a record:
 *   "CHRCONS2" | sequence (u64 big-endian) | term (u64) |
 *   voted-for id length (u8) | voted-for id (64 bytes, zero padded) |
 *   BLAKE2b-128 of all before; zeros to the end of the slot.
 * A save overwrites the slot not holding the newest valid record; load
 * takes the valid slot with the higher sequence. The format of before, one
 * 97-byte record ("CHRCONS1" | term | id length | id | BLAKE2b-128), still
 * loads and becomes a two-slot file at the next save.
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
#define CONS_STORE_BYTES (8 + 8 + 1 + 64 + 16) /* the single record of before */
#define CONS_STORE_SLOT 512
#define CONS_STORE_SLOT_RECORD (8 + 8 + 8 + 1 + 64 + 16)
#define CONS_STORE_FILE_BYTES (2 * CONS_STORE_SLOT)

struct cons_stored {
    uint64_t term;
    char voted_for[CONFIG_ID_MAX]; /* "" for none */
    bool missing;                  /* load: there was no file (term 0, no vote) */
};

/* The single record of before (kept to read old files, and to write them in
 * tests). */
void cons_store_encode(const struct cons_stored *s, uint8_t out[CONS_STORE_BYTES]);

/* Returns 0, or -1 with the reason in err (torn, not ours, corrupt). */
int cons_store_decode(const uint8_t *buf, size_t len, struct cons_stored *s, char *err,
                      size_t errlen);

/* One slot's record with its sequence. */
void cons_store_encode_slot(const struct cons_stored *s, uint64_t seq,
                            uint8_t out[CONS_STORE_SLOT_RECORD]);

/* Loads data_dir/consensus.state (the newest valid slot; one valid slot is
 * enough); a missing file is a fresh node (term 0, no
 * vote, s->missing), which the caller must check against its ledger: a node
 * whose ledger has entries has voted before. Returns 0, or -1 with one line
 * in err naming the file. */
int cons_store_load(const char *data_dir, struct cons_stored *s, char *err, size_t errlen);

/* The file as this process last left it, so that a save (on the critical
 * path of every election, §3.8) writes one slot and syncs it, reading
 * nothing: this process is the file's only writer (the data directory is
 * locked), so which slot holds the newest record, and its sequence, are
 * known from the last load or save. */
struct cons_store {
    const char *dir;
    int fd;       /* the two-slot file, open for writing; -1: none yet */
    int newest;   /* the slot (0, 1) holding the newest record; -1: no two-slot file */
    uint64_t seq; /* that record's sequence */
};

/* Reads the file once, for the saves through st that follow: a file that
 * is not a two-slot file with a valid slot (none, the format of before, a
 * damaged one) is replaced whole at the first save. Call after a
 * successful cons_store_load. */
void cons_store_attach(struct cons_store *st, const char *data_dir);

/* Writes and syncs s: over the older slot in place, or as a new two-slot
 * file (see cons_store_attach). Returns 0, or with one line in err
 * -1 (the old file is untouched: retryable) or -2 (what survives a crash is
 * unknown); see durable_write. */
int cons_store_write(struct cons_store *st, const struct cons_stored *s, char *err, size_t errlen);

void cons_store_detach(struct cons_store *st);

/* cons_store_attach, cons_store_write and cons_store_detach in one. */
int cons_store_save(const char *data_dir, const struct cons_stored *s, char *err, size_t errlen);

#endif
