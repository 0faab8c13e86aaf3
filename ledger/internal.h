/* Not public: what the ledger's source files share. Names still start with
 * ledger_ because they have external linkage inside the library. */
#ifndef CHIMERA_LEDGER_INTERNAL_H
#define CHIMERA_LEDGER_INTERNAL_H

#include "ledger/ledger.h"

/* ---- msgpack: a bounded writer and a strict reader ----------------------
 * The writer counts every byte it would write but stores only what fits in
 * cap, so a run with cap 0 measures and w.len > w.cap means "too small". */
struct ledger_mpw {
    uint8_t *p;
    size_t cap, len;
};
void ledger_mpw_array(struct ledger_mpw *w, uint32_t n);
void ledger_mpw_uint(struct ledger_mpw *w, uint64_t v);
void ledger_mpw_str(struct ledger_mpw *w, const char *s, size_t n);
void ledger_mpw_bin(struct ledger_mpw *w, const void *b, size_t n);

/* The reader never reads past len; every call returns false (leaving off
 * anywhere) on a type mismatch or a length beyond the bytes left. */
struct ledger_mpr {
    const uint8_t *p;
    size_t len, off;
};
bool ledger_mpr_array(struct ledger_mpr *r, uint32_t *n);
bool ledger_mpr_uint(struct ledger_mpr *r, uint64_t *v); /* any width; signed if >= 0 */
bool ledger_mpr_str(struct ledger_mpr *r, const uint8_t **s, size_t *n);
bool ledger_mpr_bin(struct ledger_mpr *r, const uint8_t **b, size_t *n);
bool ledger_mpr_id(struct ledger_mpr *r, char out[LEDGER_ID_MAX]); /* str, valid id */
bool ledger_mpr_bin_exact(struct ledger_mpr *r, uint8_t *out, size_t n);
bool ledger_mpr_skip(struct ledger_mpr *r); /* one well-formed object */

/* [signer (str), pubkey (bin 32), signature (bin 64)] */
void ledger_sig_write(struct ledger_mpw *w, const struct ledger_sig *s);
bool ledger_sig_read(struct ledger_mpr *r, struct ledger_sig *s);

/* ---- records -------------------------------------------------------- */

#define LEDGER_FRAME_HDR 8 /* u32 length, u32 CRC32C */
#define LEDGER_REC_KIND_END 5

enum ledger_frame {
    LEDGER_FRAME_OK,
    LEDGER_FRAME_SHORT,  /* the header or the announced bytes run past the end */
    LEDGER_FRAME_BADLEN, /* length 0 or over LEDGER_MAX_RECORD */
    LEDGER_FRAME_BADCRC,
    LEDGER_FRAME_BADKIND,
};
/* Checks the record at p (avail bytes to the end of the file): the length
 * against the limit and the bytes left first, then the CRC, then the kind.
 * *len: the length field (kind + body). */
enum ledger_frame ledger_frame_check(const uint8_t *p, size_t avail, uint32_t *len);
const char *ledger_frame_reason(enum ledger_frame f);
const char *ledger_rec_kind_name(uint8_t kind);

struct ledger_buf {
    uint8_t *p;
    size_t len, cap;
};
bool ledger_buf_reserve(struct ledger_buf *b, size_t more);
void ledger_buf_free(struct ledger_buf *b);
/* Appends a framed record; false when out of memory or too big. */
bool ledger_frame_append(struct ledger_buf *b, uint8_t kind, const uint8_t *body, size_t len);

/* Record bodies (store.h). Encoders measure when out is NULL. */
size_t ledger_rec_checkpoint_encode(const uint8_t *cp, size_t cplen, const struct ledger_sig *sigs,
                                    size_t nsigs, uint8_t *out, size_t cap);
size_t ledger_rec_cosig_encode(const uint8_t *cp, size_t cplen, const struct ledger_sig *sig,
                               uint8_t *out, size_t cap);
size_t ledger_rec_evidence_encode(const struct ledger_evidence *ev, uint8_t *out, size_t cap);
/* Decoders point cp into the body. */
bool ledger_rec_checkpoint_decode(const uint8_t *body, size_t len, const uint8_t **cp,
                                  size_t *cplen, struct ledger_sig *sigs, size_t *nsigs);
bool ledger_rec_cosig_decode(const uint8_t *body, size_t len, const uint8_t **cp, size_t *cplen,
                             struct ledger_sig *sig);
bool ledger_rec_evidence_decode(const uint8_t *body, size_t len, struct ledger_evidence *ev);

/* ---- the chain: what every record is checked against ------------------- */

struct ledger_member_change {
    uint64_t index;
    struct ledger_membership m;
};
struct ledger_hist {
    struct ledger_member_change *v;
    size_t n, cap;
};

/* Where the chain is: copied into a batch at begin, back at append. */
struct ledger_chain_state {
    uint64_t last_index, last_term;
    uint8_t head[LEDGER_HASH_BYTES];
    bool have_cp;
    struct ledger_signed_checkpoint cp; /* the latest, with every signature */
};

/* (term, hash) of an entry at or below last_index that is not the head. */
typedef enum ledger_error (*ledger_lookup_fn)(void *arg, uint64_t index, uint64_t *term,
                                              uint8_t hash[LEDGER_HASH_BYTES]);

struct ledger_chain {
    struct ledger_chain_state st;
    /* Membership changes: base's first nbase (the ledger's, for a batch),
     * then hist (where this chain records new ones). */
    const struct ledger_hist *base;
    size_t nbase;
    struct ledger_hist *hist;
    enum ledger_keys keys;
    const uint8_t (*pinned)[LEDGER_PUBKEY_BYTES];
    size_t npinned;
    ledger_lookup_fn lookup;
    void *lookup_arg;
};

/* Each checks one record against the chain and, if it passes, advances the
 * chain. why (may be NULL) gets one short phrase. entry: e and hash may be
 * NULL. */
enum ledger_error ledger_chain_entry(struct ledger_chain *c, const uint8_t *b, size_t n,
                                     struct ledger_entry *e, uint8_t hash[LEDGER_HASH_BYTES],
                                     char *why, size_t whylen);
/* Writes e (len bytes, as ledger_entry_encoded_len measured it, so e's
 * fields are checked already) into out. */
void ledger_entry_write(const struct ledger_entry *e, uint8_t *out, size_t len);

/* The same check for an entry the caller decoded from b already (e) and,
 * when known is not NULL, hashed with ledger_entry_hash: a follower checks
 * an APPEND's entries on receipt and does not decode or hash them twice. */
enum ledger_error ledger_chain_decoded(struct ledger_chain *c, const struct ledger_entry *e,
                                       const uint8_t *b, size_t n,
                                       const uint8_t known[LEDGER_HASH_BYTES],
                                       uint8_t hash[LEDGER_HASH_BYTES], char *why, size_t whylen);
enum ledger_error ledger_chain_record(struct ledger_chain *c, uint8_t kind, const uint8_t *body,
                                      size_t n, uint64_t *about, char *why, size_t whylen);
size_t ledger_chain_members(const struct ledger_chain *c, uint64_t index,
                            struct ledger_membership *out);
bool ledger_hist_reserve(struct ledger_hist *h, size_t more);
/* Drops membership changes above index (truncation). */
void ledger_hist_cut(struct ledger_hist *h, uint64_t index);

/* ---- the store's handle ------------------------------------------------ */

struct ledger_seg {
    uint64_t first;
    uint64_t size;
};

struct ledger_idx {
    uint64_t term;
    uint64_t off;
    uint32_t seg;
    uint32_t len; /* the length field: kind + entry bytes */
};

struct ledger {
    char dir[LEDGER_PATH_MAX]; /* DATA/ledger */
    int dirfd;
    struct ledger_options opt;
    uint8_t (*pinned)[LEDGER_PUBKEY_BYTES]; /* our copy */
    struct ledger_seg *segs;
    size_t nsegs, capsegs;
    struct ledger_idx *idx; /* idx[i - 1]: entry i */
    size_t capidx;
    struct ledger_chain chain;
    struct ledger_hist hist;
    int wfd;                /* the last segment, for appends; -1: none */
    int left_fd;            /* the segment a roll left with writes not yet synced; -1: none */
    int rfd;                /* a cached read-only descriptor ... */
    size_t rseg;            /* ... of this segment */
    uint64_t gen;           /* bumped by every change: stale batches */
    bool poisoned;          /* a sync failed: LEDGER_EFATAL from now on */
    const char *io_what;    /* the last failed system call ("write", "fdatasync"), or NULL */
    int io_errno;           /* and its errno */
    struct ledger_buf rbuf; /* read scratch */
    /* The bytes last written to the end of a segment (up to
     * LEDGER_TAIL_MAX), as they are in the file: what a leader sends in its
     * APPENDs and what the committed-entry feeds read come from here rather
     * than a pread each. len 0: nothing held. */
    struct {
        uint8_t *p;
        size_t len, cap, seg;
        uint64_t off; /* where p[0] lies in segment seg */
    } tail;
};

#define LEDGER_TAIL_MAX (256u * 1024u)
/* The file changed other than by an append (a truncation): nothing held. */
void ledger_tail_drop(struct ledger *l);
/* len bytes at p were written at off of segment seg. */
void ledger_tail_note(struct ledger *l, size_t seg, uint64_t off, const uint8_t *p, size_t len);

void ledger_seg_name(uint64_t first, char out[32]);
bool ledger_seg_path(const struct ledger *l, size_t seg, char *out, size_t n);
/* A descriptor to read segment seg (cached; do not close). */
int ledger_seg_fd(struct ledger *l, size_t seg);
void ledger_drop_rfd(struct ledger *l);
int ledger_sync(struct ledger *l, int fd, enum ledger_sync_what what);
/* Syncs and closes the segment a roll left unsynced (left_fd), if any;
 * false when the sync failed (the caller poisons the store). */
bool ledger_sync_left(struct ledger *l);
/* Room for entries up to index in l->idx; records where entry index is. */
bool ledger_idx_reserve(struct ledger *l, uint64_t index);
bool ledger_idx_set(struct ledger *l, uint64_t index, const struct ledger_idx *e);
/* Reads [off, off + len) of segment seg into b (replacing its contents). */
enum ledger_error ledger_read_span(struct ledger *l, size_t seg, uint64_t off, size_t len,
                                   struct ledger_buf *b);
/* Reads entry index's record: *bytes points into l->rbuf. */
enum ledger_error ledger_read_at(struct ledger *l, uint64_t index, const uint8_t **bytes,
                                 size_t *len);
enum ledger_error ledger_lookup(void *arg, uint64_t index, uint64_t *term,
                                uint8_t hash[LEDGER_HASH_BYTES]);

/* Writes framed records at the end of the ledger, starting a new segment
 * first if there is none or, when may_roll (the first record is an entry),
 * if the last one is full; then syncs (data, and the directory for a new
 * segment). On LEDGER_OK, *seg and *off say where the bytes went. */
enum ledger_error ledger_write_frames(struct ledger *l, const uint8_t *p, size_t len, bool may_roll,
                                      size_t *seg, uint64_t *off);
/* Records errno as the reason of a failed call what, and returns err. */
enum ledger_error ledger_io_fail(struct ledger *l, const char *what, enum ledger_error err);
/* Marks l unusable after a failed sync (what failed, with errno): LEDGER_EFATAL. */
enum ledger_error ledger_poison(struct ledger *l, const char *what);

/* Scanning every segment at open and in verify. */
enum ledger_load_result { LEDGER_LOAD_OK, LEDGER_LOAD_TORN, LEDGER_LOAD_BAD, LEDGER_LOAD_IO };
struct ledger_load_out {
    enum ledger_load_result result;
    enum ledger_error code; /* LOAD_BAD: the chain's verdict (LEDGER_EEQUIVOCATION: forked) */
    struct ledger_problem at;
    size_t seg;          /* TORN: the segment */
    uint64_t torn_bytes; /* TORN */
    uint64_t bytes;      /* bytes scanned */
};
/* Called after each accepted record; nonzero stops the load as LOAD_BAD
 * at this record, with the hook's out->code and out->at.reason. */
typedef int (*ledger_load_hook)(void *arg, struct ledger *l, uint8_t kind, const uint8_t *body,
                                size_t len, struct ledger_load_out *out);
/* l->dir, opt, chain policy set; lists and scans the segments. */
void ledger_load(struct ledger *l, ledger_load_hook hook, void *arg, struct ledger_load_out *out);
/* A handle for dir with nothing loaded; NULL when out of memory or when
 * dir is longer than LEDGER_DIR_MAX (room left for "/seg-...log"). */
#define LEDGER_DIR_MAX (LEDGER_PATH_MAX - 40)
struct ledger *ledger_alloc(const char *dir, const struct ledger_options *opt);
void ledger_free(struct ledger *l);

#endif
