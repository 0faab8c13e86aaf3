/* Segment storage: the ledger on disk, start-up recovery, group commit,
 * Raft truncation and reads by index.
 *
 * Files: DATA/ledger/seg-<20-digit index>.log. A segment is named after
 * the index of the first entry it holds; every segment but the first starts
 * with an entry record, and a new one is started (rolled) before a batch
 * that begins with an entry once the current one reaches segment_bytes.
 * A segment is a sequence of records:
 *     u32 LE length | u32 LE CRC32C | kind (1 byte) | body
 * length counts kind + body (1 .. LEDGER_MAX_RECORD) and the CRC covers
 * them. Kinds and bodies (msgpack):
 *     ENTRY        the exact entry bytes
 *     CHECKPOINT   [checkpoint (bin: exact bytes), [sig, ...]]  leader's sig first
 *     COSIGNATURE  [checkpoint (bin: exact bytes), sig]
 *     EVIDENCE     [kind, index, a (bin), a_sig, b (bin), b_sig]
 * where sig = [signer (str), pubkey (bin 32), signature (bin 64)].
 * Rules (enforced on append, at open and by ledger_verify):
 *   - entries are contiguous from index 1, each prev_hash is the hash of the
 *     entry before it (zeros for index 1), terms never decrease;
 *   - a checkpoint covers an entry already stored (index <= last), its head
 *     hash is that entry's hash, its term is >= that entry's term, and its
 *     index is above the previous checkpoint's; every signature verifies;
 *   - a cosignature is for the latest checkpoint before it (same exact
 *     bytes) from a key that has not signed it yet;
 *   - evidence is valid (ledger_evidence_valid);
 *   - membership entries follow the rules in entry.h;
 *   - signatures must also satisfy the key policy (see enum ledger_keys).
 *
 * Threading: a handle is used by one thread at a time (the node's loop, or
 * a worker it hands the handle to); the library takes no locks.
 * Core/shell: this file does blocking file I/O; entry.h and sign.h are the
 * pure parts. */
#ifndef CHIMERA_LEDGER_STORE_H
#define CHIMERA_LEDGER_STORE_H

#include "ledger/base.h"
#include "ledger/entry.h"
#include "ledger/sign.h"

#define LEDGER_SUBDIR "ledger"
#define LEDGER_SEGMENT_DEFAULT (64u * 1024u * 1024u)
#define LEDGER_PATH_MAX 512

enum ledger_record_kind {
    LEDGER_REC_ENTRY = 1,
    LEDGER_REC_CHECKPOINT = 2,
    LEDGER_REC_COSIGNATURE = 3,
    LEDGER_REC_EVIDENCE = 4,
};

/* Which keys may sign checkpoints, cosignatures and evidence. */
enum ledger_keys {
    LEDGER_KEYS_ANY = 0,    /* any valid signature (the signature is still checked) */
    LEDGER_KEYS_MEMBERSHIP, /* the key recorded for signer by the membership entries at
                             * or below the statement's index */
    LEDGER_KEYS_PINNED,     /* one of the keys given in pinned */
};

/* What ledger_open calls to make data durable; replaceable so that tests
 * can count and fail syncs. Returns 0 or -1 with errno set. */
enum ledger_sync_what { LEDGER_SYNC_DATA, LEDGER_SYNC_DIR };
typedef int (*ledger_sync_fn)(int fd, enum ledger_sync_what what, void *arg);

struct ledger_options {
    uint64_t segment_bytes; /* roll threshold; 0: LEDGER_SEGMENT_DEFAULT */
    ledger_sync_fn sync;    /* NULL: fdatasync for data, fsync for directories */
    void *sync_arg;
    enum ledger_keys keys;
    const uint8_t (*pinned)[LEDGER_PUBKEY_BYTES]; /* LEDGER_KEYS_PINNED; copied */
    size_t npinned;
    bool read_only; /* open without changing anything; a torn tail is reported */
};

/* Where something is wrong, for messages and events. index: for a damaged
 * or entry record, the entry index that record holds or would hold (the
 * last good index + 1); for a checkpoint, cosignature or evidence record
 * that decodes, the index it is about. */
struct ledger_problem {
    char file[LEDGER_PATH_MAX]; /* the segment's path */
    uint64_t offset;            /* byte offset of the record in file */
    uint64_t index;
    char reason[256];
};

/* What start-up recovery did. A torn tail is the damage that a crash during
 * an append leaves: in the last segment, a record that does not frame or
 * fails its CRC with no valid record starting anywhere after it. It is cut
 * off (it was never acknowledged, since nothing is before its fdatasync),
 * and the caller should raise an event with the numbers below. */
struct ledger_recovery {
    bool truncated;
    struct ledger_problem at; /* the file, the offset cut at, the first index lost */
    uint64_t bytes;           /* bytes removed */
    bool removed_file;        /* the cut emptied the segment, so it was deleted */
};

struct ledger;

/* Opens (creating DATA/ledger, mode 0700, if needed) and recovers: scans
 * every segment, checks framing, CRCs, decoding, the chain and the record
 * rules, and builds the in-memory index (24 bytes per entry). A torn tail
 * is truncated and reported in *rec (rec may be NULL). Anything else, such
 * as a bad record followed by valid ones, a broken chain, a missing segment
 * or a bad signature, refuses to open: LEDGER_ECORRUPT with one line in err
 * naming the file, the byte offset and the index, and *bad (may be NULL)
 * filled. I/O errors: LEDGER_EIO. */
enum ledger_error ledger_open(const char *data_dir, const struct ledger_options *opt,
                              struct ledger **out, struct ledger_recovery *rec,
                              struct ledger_problem *bad, char *err, size_t errlen);
void ledger_close(struct ledger *l);

/* ---- state ------------------------------------------------------------ */

uint64_t ledger_last_index(const struct ledger *l);                            /* 0: empty */
uint64_t ledger_last_term(const struct ledger *l);                             /* 0: empty */
void ledger_head_hash(const struct ledger *l, uint8_t out[LEDGER_HASH_BYTES]); /* zeros: empty */

/* Term of entry index; index 0 gives 0 (Raft's prev term before entry 1). */
enum ledger_error ledger_term_at(const struct ledger *l, uint64_t index, uint64_t *term);
/* Hash of entry index (index 0: zeros). Reads the entry unless it is the
 * head; LEDGER_ECORRUPT if the stored bytes no longer check. */
enum ledger_error ledger_hash_at(struct ledger *l, uint64_t index, uint8_t out[LEDGER_HASH_BYTES]);

/* The latest checkpoint and every signature stored for it.
 * LEDGER_ERANGE when there is none. */
enum ledger_error ledger_last_checkpoint(const struct ledger *l,
                                         struct ledger_signed_checkpoint *out);

/* The keys of the members at index (membership entries at or below it),
 * and how many; at most LEDGER_MAX_MEMBERS. ids may be NULL. */
size_t ledger_members_at(const struct ledger *l, uint64_t index,
                         uint8_t keys[][LEDGER_PUBKEY_BYTES], char ids[][LEDGER_ID_MAX]);

/* ---- reads ------------------------------------------------------------ */

/* The exact stored bytes of entry index in a malloc'ed buffer. */
enum ledger_error ledger_read_entry(struct ledger *l, uint64_t index, uint8_t **bytes, size_t *len);

/* Calls fn for entries from, from + 1, ... until max_count entries, or
 * max_bytes of entry bytes (at least one entry is given), or the last
 * entry; bytes are valid during the call only. fn returns nonzero to stop.
 * LEDGER_ERANGE if from is 0 or beyond the last index. */
typedef int (*ledger_entry_fn)(uint64_t index, uint64_t term, const uint8_t *bytes, size_t len,
                               void *arg);
enum ledger_error ledger_read_range(struct ledger *l, uint64_t from, uint64_t max_count,
                                    size_t max_bytes, ledger_entry_fn fn, void *arg);

/* ---- appending: batches and group commit -------------------------------
 * A batch is built against the current head (ledger_batch_begin), every
 * record checked as it is added exactly as the store would check it, then
 * written by ledger_append_batch with one write and one fdatasync (plus a
 * directory fsync when it started a new segment). Nothing in a batch may be
 * acknowledged before ledger_append_batch returned LEDGER_OK. A batch is
 * reusable: begin again after append, error or abandonment. */
struct ledger_batch;

struct ledger_batch *ledger_batch_new(void);
void ledger_batch_free(struct ledger_batch *b);

/* Starts an empty batch on top of l's current head. */
void ledger_batch_begin(struct ledger_batch *b, struct ledger *l);

/* Leader: a new entry at the next index, chained to the batch's head.
 * index_out and hash_out may be NULL. */
enum ledger_error ledger_batch_add_entry(struct ledger_batch *b, uint64_t term, uint32_t type,
                                         uint64_t timestamp_ms, const char *author,
                                         const uint8_t *payload, size_t payload_len,
                                         uint64_t *index_out, uint8_t hash_out[LEDGER_HASH_BYTES]);

/* Follower: exact entry bytes received from the leader, decoded and checked
 * against the batch's head (LEDGER_ECHAIN if not the next index or not
 * chained to the head), stored as they are. hash_out may be NULL. */
enum ledger_error ledger_batch_add_entry_bytes(struct ledger_batch *b, const uint8_t *bytes,
                                               size_t len, uint8_t hash_out[LEDGER_HASH_BYTES]);

/* What a caller learnt from entry bytes already: e from ledger_entry_decode
 * of those very bytes (its payload may point into them) and hash from
 * ledger_entry_hash(e.prev_hash, bytes, len). */
struct ledger_known_entry {
    struct ledger_entry e;
    uint8_t hash[LEDGER_HASH_BYTES];
};

/* ledger_batch_add_entry_bytes for bytes the caller decoded and hashed
 * (known, may be NULL): the same chain checks (index, prev_hash, term,
 * membership) run on known, without decoding or hashing the bytes again. */
enum ledger_error ledger_batch_add_entry_known(struct ledger_batch *b, const uint8_t *bytes,
                                               size_t len, const struct ledger_known_entry *known,
                                               uint8_t hash_out[LEDGER_HASH_BYTES]);

/* A checkpoint (exact bytes) with 1..LEDGER_MAX_SIGS signatures, the
 * signing leader's first. LEDGER_ERANGE beyond the batch's last entry,
 * LEDGER_ECONFLICT if the head hash is not that of the stored entry,
 * LEDGER_EEXIST if not above the latest checkpoint, LEDGER_EEQUIVOCATION if
 * the latest checkpoint is for the same index with another head hash (build
 * evidence from ledger_last_checkpoint and this one). */
enum ledger_error ledger_batch_add_checkpoint(struct ledger_batch *b, const uint8_t *bytes,
                                              size_t len, const struct ledger_sig *sigs,
                                              size_t nsigs);

/* A cosignature of the latest checkpoint. LEDGER_EEXIST if that key already
 * signed it; LEDGER_EEQUIVOCATION if the bytes are a different checkpoint
 * for the latest checkpoint's index; LEDGER_ESTALE if they are an older (or
 * unknown) checkpoint: a newer checkpoint supersedes it, cosign that. */
enum ledger_error ledger_batch_add_cosignature(struct ledger_batch *b, const uint8_t *bytes,
                                               size_t len, const struct ledger_sig *sig);

/* Equivocation evidence (checked with ledger_evidence_valid and the key
 * policy). */
enum ledger_error ledger_batch_add_evidence(struct ledger_batch *b,
                                            const struct ledger_evidence *ev);

/* Records and bytes in the batch so far. */
size_t ledger_batch_records(const struct ledger_batch *b);
size_t ledger_batch_bytes(const struct ledger_batch *b);

/* A batch of entries only, kept open while the store changed under it
 * (a checkpoint, cosignature or evidence record was appended since
 * begin): begins it again on l's current head with its first keep entries,
 * each checked again (LEDGER_ECHAIN if they no longer follow the head;
 * the batch is then empty). Also drops the entries after keep (keep <
 * records: undo a partial add). LEDGER_EINVAL for a batch holding other
 * records. */
enum ledger_error ledger_batch_rebuild(struct ledger_batch *b, struct ledger *l, size_t keep);

/* Writes the batch and makes it durable: one write, one fdatasync. Returns
 * only after the sync. LEDGER_ESTALE if the ledger changed since begin;
 * LEDGER_EIO if the write failed and was undone (nothing changed);
 * LEDGER_EFATAL if a sync failed or a failed write could not be undone:
 * abort the process. The batch is emptied either way. */
enum ledger_error ledger_append_batch(struct ledger *l, struct ledger_batch *b);

/* The same without the fdatasync, for a sync made elsewhere (on another
 * thread: the node's loop must not wait for the disk). The records are in
 * the store at once (read, chained to, replicated by what knows better than
 * to acknowledge them) but not durable: nothing that depends on them may
 * be acknowledged before fdatasync(*sync_fd) returned 0. *sync_fd is a
 * descriptor of the segment they went to, the caller's to sync and close
 * (-1: nothing to sync, they are durable already). A failed sync is fatal
 * as for append: report it with ledger_sync_failed (errno of the sync),
 * which poisons the store. */
enum ledger_error ledger_append_batch_nosync(struct ledger *l, struct ledger_batch *b,
                                             int *sync_fd);
void ledger_sync_failed(struct ledger *l, int err);
/* The same as nosync without a descriptor: the caller syncs later with
 * the descriptors from ledger_sync_fd, which cover everything written
 * before they were taken. A roll to a new segment leaves the old one's sync
 * to them (or syncs it at once if a segment left earlier still waits), so
 * the caller's loop never waits for the disk on a roll. */
enum ledger_error ledger_append_batch_unsynced(struct ledger *l, struct ledger_batch *b);
/* A descriptor of the segment being written, the caller's to fdatasync
 * (on another thread) and close; -1: none (no segment yet, or no
 * descriptor to spare: sync with ledger_sync_now). *left: the segment a
 * roll left unsynced since the last call, the caller's to fdatasync and
 * close as well (-1: none). */
int ledger_sync_fd(struct ledger *l, int *left);
/* fdatasync of the segment being written, here; LEDGER_EFATAL (poisoned)
 * when it fails. */
enum ledger_error ledger_sync_now(struct ledger *l);

/* Raft: removes every entry after index (a conflicting uncommitted
 * suffix), across segment boundaries. Checkpoint, cosignature and evidence
 * records stored after the cut are rewritten after it, in order (a crash in
 * between loses only them; they can be fetched again). Refuses
 * (LEDGER_ECONFLICT) to cut below the latest checkpoint: those entries are
 * committed. index >= last index: nothing to do. Durable on return;
 * LEDGER_EFATAL as for append. */
enum ledger_error ledger_truncate_after(struct ledger *l, uint64_t index);

/* ---- why an I/O error happened -----------------------------------------
 * LEDGER_EIO and LEDGER_EFATAL say what kind of failure it was; these say
 * why: the errno of l's last failed system call (ENOSPC: the disk is full),
 * 0 when none failed. */
int ledger_io_errno(const struct ledger *l);

/* One line for err as l returned it: ledger_strerror(err), and for
 * LEDGER_EIO and LEDGER_EFATAL the failed call and the system's reason in
 * lower case, e.g. "i/o error: write: no space left on device" or
 * "fatal: fdatasync: input/output error (...)". Returns buf. */
const char *ledger_describe(const struct ledger *l, enum ledger_error err, char *buf, size_t len);

#endif
