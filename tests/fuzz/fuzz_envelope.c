/* libFuzzer harness for the envelope decoder (see README.md).
 *
 * The input is taken as a plaintext. It checks:
 *  - the pre-scan's promise: whatever wire_prescan accepts, msgpack_unpack
 *    parses completely, with every byte consumed;
 *  - env_open on the input sealed with a fixed key never crashes, accepts
 *    only what the pre-scan accepts, and yields well-formed fields;
 *  - env_open on the raw input (not sealed) never opens. */
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "node/base/envelope.h"
#include "wire/prescan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t key[ENV_KEY_BYTES] = {
    0x63, 0x68, 0x69, 0x6d, 0x65, 0x72, 0x61, 0x2d, 0x66, 0x75, 0x7a, 0x7a, 0x2d, 0x6b, 0x65, 0x79,
    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
};

static void check_prescan_promise(const uint8_t *data, size_t size, int scanned)
{
    if (scanned != 0)
        return;
    msgpack_zone *z = msgpack_zone_new(MSGPACK_ZONE_CHUNK_SIZE);
    if (z == NULL)
        abort();
    msgpack_object obj;
    size_t off = 0;
    if (msgpack_unpack((const char *)data, size, &off, z, &obj) != MSGPACK_UNPACK_SUCCESS ||
        off != size)
        abort();
    msgpack_zone_free(z);
}

static void check_sealed_open(const uint8_t *data, size_t size, int scanned)
{
    size_t overhead = crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES;
    if (size > ENV_MAX_MSG - overhead)
        return;
    uint8_t *wire = malloc(overhead + size);
    if (wire == NULL)
        abort();
    /* A fixed nonce keeps a crashing input reproducible. */
    memset(wire, 0x4e, crypto_secretbox_NONCEBYTES);
    crypto_secretbox_easy(wire + crypto_secretbox_NONCEBYTES, data, size, wire, key);

    struct env_msg msg;
    enum env_error err = env_open(key, wire, overhead + size, &msg);
    free(wire);
    if (err != ENV_OK) {
        if (msg.zone != NULL || (size == 0 && err != ENV_ETOOSHORT))
            abort();
        return;
    }
    size_t flen = strnlen(msg.from, ENV_FROM_MAX);
    if (scanned != 0 || msg.version != ENV_VERSION || msg.type < 1 || msg.type >= ENV_TYPE_MAX ||
        flen == 0 || flen >= ENV_FROM_MAX || msg.counter == 0 || msg.zone == NULL)
        abort();
    env_msg_free(&msg);
}

static void check_raw_open(const uint8_t *data, size_t size)
{
    struct env_msg msg;
    if (env_open(key, data, size, &msg) == ENV_OK)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready) {
        if (sodium_init() < 0)
            abort();
        ready = 1;
    }
    int scanned = wire_prescan(data, size, ENV_MAX_DEPTH);
    check_prescan_promise(data, size, scanned);
    check_sealed_open(data, size, scanned);
    check_raw_open(data, size);
    return 0;
}
