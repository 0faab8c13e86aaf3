/* The ledger's shared vocabulary: sizes and limits, error codes, CRC32C and
 * hex helpers. Every other ledger header includes this one; most users
 * include "ledger/ledger.h", which includes them all. */
#ifndef CHIMERA_LEDGER_BASE_H
#define CHIMERA_LEDGER_BASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LEDGER_HASH_BYTES 32   /* BLAKE2b-256 */
#define LEDGER_PUBKEY_BYTES 32 /* Ed25519 public key */
#define LEDGER_SEED_BYTES 32   /* Ed25519 seed: what node.key holds */
#define LEDGER_SECKEY_BYTES 64 /* libsodium's expanded secret key */
#define LEDGER_SIG_BYTES 64    /* Ed25519 signature */

/* Node and federation ids: 1 to 63 letters, digits, '.', '_' or '-',
 * starting with a letter or digit (the configuration's rule). */
#define LEDGER_ID_MAX 64 /* including the NUL */

/* Framing limit: the bytes a record's length field may announce (kind byte
 * and body). Checked before anything is allocated or read. */
#define LEDGER_MAX_RECORD (4u * 1024u * 1024u)
/* An encoded entry; its payload is a little less. One entry must fit a
 * node-to-node message (4 MiB) with room for a batch around it. */
#define LEDGER_MAX_ENTRY (1024u * 1024u)
/* Nesting allowed inside an entry's payload (depth rule: wire/prescan.h). */
#define LEDGER_MAX_DEPTH 8
/* Signatures on one checkpoint (leader plus cosigners) and members in a
 * federation: the design has 3 to 7 nodes; 16 leaves room. */
#define LEDGER_MAX_SIGS 16
#define LEDGER_MAX_MEMBERS 16

enum ledger_error {
    LEDGER_OK = 0,
    LEDGER_EMALFORMED,    /* bytes do not decode: bad msgpack, wrong type, trailing bytes */
    LEDGER_ETOOBIG,       /* over a size limit */
    LEDGER_EINVAL,        /* bad argument or field value (id, type 0, index 0, ...) */
    LEDGER_ECHAIN,        /* entry is not the next index, or prev_hash is not the head */
    LEDGER_ERANGE,        /* no such index (or a checkpoint beyond the last entry) */
    LEDGER_ECONFLICT,     /* contradicts what is stored (checkpoint head hash, or a
                           * truncation below a signed checkpoint) */
    LEDGER_EEXIST,        /* already stored: an old checkpoint, a repeated cosignature */
    LEDGER_EBADSIG,       /* a signature does not verify */
    LEDGER_EKEY,          /* a valid signature by a key that is not pinned */
    LEDGER_EEQUIVOCATION, /* two validly signed statements disagree on one index */
    LEDGER_ESTALE,        /* a batch built against a head that is no longer the head */
    LEDGER_ECORRUPT,      /* stored bytes fail their CRC or checks (open: refuses) */
    LEDGER_EIO,           /* an I/O error that left the ledger as it was: retryable */
    LEDGER_ENOMEM,
    /* fdatasync/fsync failed, or a failed change could not be undone. What
     * is on disk is unknown (the kernel may have dropped the dirty pages),
     * so nothing may be acknowledged: the caller must abort the process and
     * let start-up recovery judge the files. The handle refuses every later
     * call with LEDGER_EFATAL. The library never exits by itself. */
    LEDGER_EFATAL,
};

/* A short lower-case description of err. */
const char *ledger_strerror(enum ledger_error err);

/* strerror(errnum) in lower case ("no space left on device"), as the
 * messages of the ledger and the node are written (operators grep for the
 * system's words). Returns buf. */
const char *ledger_syserror(int errnum, char *buf, size_t len);

/* CRC32C (Castagnoli, reflected 0x82F63B78). Pass 0 to start; pass a
 * previous result to continue over more bytes.
 * ledger_crc32c(0, "123456789", 9) == 0xE3069283. */
uint32_t ledger_crc32c(uint32_t crc, const void *buf, size_t len);

/* Lower-case hex of n bytes into out (2n + 1 bytes, NUL-terminated). */
void ledger_hex(const uint8_t *bytes, size_t n, char *out);

/* Parses exactly 2n hex digits into n bytes. Returns 0 or -1. */
int ledger_unhex(const char *hex, uint8_t *out, size_t n);

/* The id rule above. */
bool ledger_valid_id(const char *s, size_t n);

#endif
