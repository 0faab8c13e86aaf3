/* libFuzzer harness for the ledger's decoders (see README.md), the entry
 * decoder first. The input is taken as exact entry bytes. It checks:
 *  - ledger_entry_decode never crashes and accepts only well-formed fields
 *    whose payload lies inside the input;
 *  - what it accepts re-encodes, and the re-encoding decodes to the same
 *    fields (the codec is consistent, even where the input was not in
 *    shortest form);
 *  - the payload pre-scan's promise: an accepted payload unpacks with
 *    msgpack_unpack completely;
 *  - the same input fed to the checkpoint, membership and record-body
 *    decoders never crashes them.
 * Build and run like fuzz_envelope (README.md), with --target
 * fuzz_ledger_entry; seed the corpus with an entry, e.g.
 *   printf '\x97\x01\x01\x05\x00\xa2n1\xc4\x01\xc0\xc4\x20' > corpus/e
 *   head -c 32 /dev/zero >> corpus/e */
#include <msgpack.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/internal.h"
#include "ledger/ledger.h"
#include "wire/prescan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_payload_unpacks(const uint8_t *p, size_t n)
{
    msgpack_zone *z = msgpack_zone_new(MSGPACK_ZONE_CHUNK_SIZE);
    msgpack_object obj;
    size_t off = 0;
    if (z == NULL)
        abort();
    if (msgpack_unpack((const char *)p, n, &off, z, &obj) != MSGPACK_UNPACK_SUCCESS || off != n)
        abort();
    msgpack_zone_free(z);
}

static void check_entry(const uint8_t *data, size_t size)
{
    struct ledger_entry e, again;
    if (ledger_entry_decode(data, size, &e, NULL) != LEDGER_OK)
        return;
    size_t alen = strnlen(e.author, LEDGER_ID_MAX);
    if (e.index == 0 || e.term == 0 || e.type == 0 || !ledger_valid_id(e.author, alen) ||
        e.payload < data || e.payload_len > size || e.payload > data + size - e.payload_len)
        abort();
    check_payload_unpacks(e.payload, e.payload_len);
    size_t cap = ledger_entry_encoded_len(&e), n;
    uint8_t *buf = malloc(cap ? cap : 1);
    if (buf == NULL || cap == 0 || cap > size ||
        ledger_entry_encode(&e, buf, cap, &n) != LEDGER_OK || n != cap ||
        ledger_entry_decode(buf, n, &again, NULL) != LEDGER_OK)
        abort();
    if (again.index != e.index || again.term != e.term || again.type != e.type ||
        again.timestamp_ms != e.timestamp_ms || strcmp(again.author, e.author) != 0 ||
        again.payload_len != e.payload_len ||
        memcmp(again.payload, e.payload, e.payload_len) != 0 ||
        memcmp(again.prev_hash, e.prev_hash, LEDGER_HASH_BYTES) != 0)
        abort();
    uint8_t h[LEDGER_HASH_BYTES];
    ledger_entry_hash(e.prev_hash, data, size, h);
    free(buf);
}

static void check_others(const uint8_t *data, size_t size)
{
    struct ledger_checkpoint cp;
    struct ledger_membership m;
    struct ledger_sig sigs[LEDGER_MAX_SIGS];
    struct ledger_evidence ev;
    const uint8_t *b;
    size_t n, ns;
    if (ledger_checkpoint_decode(data, size, &cp) == LEDGER_OK &&
        (cp.index == 0 || cp.term == 0 || !ledger_valid_id(cp.origin, strlen(cp.origin))))
        abort();
    if (ledger_membership_decode(data, size, &m) == LEDGER_OK && m.op != LEDGER_MEMBER_ADD &&
        m.op != LEDGER_MEMBER_REMOVE)
        abort();
    if (ledger_rec_checkpoint_decode(data, size, &b, &n, sigs, &ns) &&
        (ns == 0 || ns > LEDGER_MAX_SIGS || n > LEDGER_CHECKPOINT_MAX))
        abort();
    ledger_rec_cosig_decode(data, size, &b, &n, sigs);
    ledger_rec_evidence_decode(data, size, &ev);
    size_t obj = wire_object_len(data, size, LEDGER_MAX_DEPTH);
    if (obj > size)
        abort();
    if (obj > 0)
        check_payload_unpacks(data, obj);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_entry(data, size);
    check_others(data, size);
    return 0;
}
