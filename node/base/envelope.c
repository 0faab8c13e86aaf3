/* The wire envelope between nodes: see envelope.h and design.md
 * ("Node-to-node transport").
 *
 * Depth: the plaintext is pre-scanned with wire_prescan and ENV_MAX_DEPTH
 * (depth rule in wire/prescan.h). The envelope itself is an array, so the
 * body of an opened message may nest at most ENV_MAX_DEPTH - 1 deep, and
 * env_seal refuses a body deeper than that rather than send what every
 * receiver drops. */
#include "node/base/envelope.h"
#include "wire/prescan.h"

#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define ENV_OVERHEAD (crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES)
_Static_assert(ENV_NONCE_BYTES == crypto_secretbox_NONCEBYTES, "XSalsa20's nonce is 24 bytes");

static bool sodium_ready(void)
{
    /* Idempotent and thread-safe; cheap after the first call. */
    return sodium_init() >= 0;
}

/* ---- nonces ------------------------------------------------------------ */

/* XSalsa20-Poly1305 needs a nonce never used twice under one key, and every
 * node of a federation seals under the same cluster key, across restarts.
 * A nonce is a prefix of 16 random bytes drawn when this process first
 * seals, followed by the envelope's counter (big-endian):
 *   - within one prefix, nonces differ because the counters sealed under it
 *     strictly increase: a counter not above the last one sealed (only a
 *     test does that; chimerad's counters grow, base.c: next_counter)
 *     draws a new prefix first, and so does a forked child;
 *   - two prefixes (another node, another start of this one, a redraw)
 *     collide with probability 2^-128 per pair: with a billion starts
 *     across all nodes, the chance that any two share one is below 2^-68.
 * So one getrandom per start, not one per message, and the receiver needs
 * nothing: the nonce travels in front of the box as before. */
static struct {
    pthread_mutex_t lock;
    bool drawn;
    uint64_t last; /* highest counter sealed under prefix */
    uint8_t prefix[ENV_NONCE_PREFIX_BYTES];
} nonces = {.lock = PTHREAD_MUTEX_INITIALIZER};

static pthread_once_t nonces_once = PTHREAD_ONCE_INIT;

/* A forked child is another sealer: it must not continue its parent's
 * counters under its parent's prefix. */
static void nonces_forked(void)
{
    nonces.drawn = false;
}

static void nonces_register_fork(void)
{
    pthread_atfork(NULL, NULL, nonces_forked);
}

void env_nonce(uint8_t nonce[ENV_NONCE_BYTES], const uint8_t prefix[ENV_NONCE_PREFIX_BYTES],
               uint64_t counter)
{
    memcpy(nonce, prefix, ENV_NONCE_PREFIX_BYTES);
    for (int i = 0; i < 8; i++)
        nonce[ENV_NONCE_PREFIX_BYTES + i] = (uint8_t)(counter >> (56 - 8 * i));
}

static void next_nonce(uint8_t nonce[ENV_NONCE_BYTES], uint64_t counter)
{
    pthread_once(&nonces_once, nonces_register_fork);
    pthread_mutex_lock(&nonces.lock);
    if (!nonces.drawn || counter <= nonces.last) {
        randombytes_buf(nonces.prefix, sizeof(nonces.prefix));
        nonces.drawn = true;
    }
    nonces.last = counter;
    env_nonce(nonce, nonces.prefix, counter);
    pthread_mutex_unlock(&nonces.lock);
}

/* ---- seal -------------------------------------------------------------- */

static bool valid_type(uint64_t type)
{
    return type >= 1 && type < ENV_TYPE_MAX;
}

/* Returns the length of a valid sender id, or 0 if it is not one. */
static size_t from_len(const char *from)
{
    size_t n = strnlen(from, ENV_FROM_MAX);
    return n < ENV_FROM_MAX ? n : 0;
}

int env_seal(const uint8_t key[ENV_KEY_BYTES], uint32_t type, const char *from, uint64_t counter,
             const void *body_mp, size_t body_len, uint8_t **out, size_t *out_len)
{
    if (out == NULL || out_len == NULL)
        return ENV_ESHAPE;
    *out = NULL;
    *out_len = 0;
    if (key == NULL || from == NULL || !valid_type(type) || counter == 0)
        return ENV_ESHAPE;
    size_t flen = from_len(from);
    if (flen == 0)
        return ENV_ESHAPE;
    if (body_len > ENV_MAX_MSG)
        return ENV_ETOOLONG;
    if (wire_prescan(body_mp, body_len, ENV_MAX_DEPTH - 1) != 0)
        return ENV_EMALFORMED;
    if (!sodium_ready())
        return ENV_ENOMEM;

    msgpack_sbuffer sbuf;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sbuf);
    msgpack_packer_init(&pk, &sbuf, msgpack_sbuffer_write);
    /* Every msgpack-c pack error is a failed realloc. */
    int err = msgpack_pack_array(&pk, 5) || msgpack_pack_uint32(&pk, ENV_VERSION) ||
              msgpack_pack_uint32(&pk, type) || msgpack_pack_str(&pk, flen) ||
              msgpack_pack_str_body(&pk, from, flen) || msgpack_pack_uint64(&pk, counter) ||
              msgpack_sbuffer_write(&sbuf, body_mp, body_len);
    if (err) {
        msgpack_sbuffer_destroy(&sbuf);
        return ENV_ENOMEM;
    }
    if (sbuf.size > ENV_MAX_MSG - ENV_OVERHEAD) {
        msgpack_sbuffer_destroy(&sbuf);
        return ENV_ETOOLONG;
    }

    size_t n = ENV_OVERHEAD + sbuf.size;
    uint8_t *wire = malloc(n);
    if (wire == NULL) {
        msgpack_sbuffer_destroy(&sbuf);
        return ENV_ENOMEM;
    }
    next_nonce(wire, counter);
    crypto_secretbox_easy(wire + crypto_secretbox_NONCEBYTES, (const uint8_t *)sbuf.data, sbuf.size,
                          wire, key);
    msgpack_sbuffer_destroy(&sbuf);
    *out = wire;
    *out_len = n;
    return ENV_OK;
}

/* ---- open -------------------------------------------------------------- */

static bool is_uint(const msgpack_object *o)
{
    return o->type == MSGPACK_OBJECT_POSITIVE_INTEGER;
}

/* Fills msg from the unpacked root, or says why it does not fit. */
static enum env_error check_shape(const msgpack_object *root, struct env_msg *msg)
{
    if (root->type != MSGPACK_OBJECT_ARRAY || root->via.array.size == 0)
        return ENV_ESHAPE;
    const msgpack_object *f = root->via.array.ptr;

    /* The version decides the shape, so it is judged before the rest: a
     * newer peer gets "version", not "shape". */
    if (!is_uint(&f[0]))
        return ENV_ESHAPE;
    if (f[0].via.u64 != ENV_VERSION)
        return ENV_EVERSION;
    if (root->via.array.size != 5)
        return ENV_ESHAPE;

    if (!is_uint(&f[1]) || !valid_type(f[1].via.u64))
        return ENV_ESHAPE;

    if (f[2].type != MSGPACK_OBJECT_STR)
        return ENV_ESHAPE;
    uint32_t flen = f[2].via.str.size;
    if (flen == 0 || flen >= ENV_FROM_MAX || memchr(f[2].via.str.ptr, '\0', flen) != NULL)
        return ENV_ESHAPE;

    /* Counters start at 1 (env_replay treats 0 as never valid). */
    if (!is_uint(&f[3]) || f[3].via.u64 == 0)
        return ENV_ESHAPE;

    msg->version = ENV_VERSION;
    msg->type = (uint32_t)f[1].via.u64;
    memcpy(msg->from, f[2].via.str.ptr, flen);
    msg->from[flen] = '\0';
    msg->counter = f[3].via.u64;
    msg->body = f[4];
    return ENV_OK;
}

enum env_error env_open(const uint8_t key[ENV_KEY_BYTES], const void *buf, size_t len,
                        struct env_msg *msg)
{
    if (msg == NULL)
        return ENV_ESHAPE;
    memset(msg, 0, sizeof(*msg));
    if (key == NULL)
        return ENV_ESHAPE;
    if (buf == NULL || len < ENV_OVERHEAD + 1)
        return ENV_ETOOSHORT;
    if (len > ENV_MAX_MSG)
        return ENV_ETOOLONG;
    if (!sodium_ready())
        return ENV_ENOMEM;

    const uint8_t *wire = buf;
    size_t plain_len = len - ENV_OVERHEAD;
    msgpack_zone *zone = msgpack_zone_new(MSGPACK_ZONE_CHUNK_SIZE);
    if (zone == NULL)
        return ENV_ENOMEM;
    /* msgpack_unpack leaves str, bin and ext objects pointing into its
     * input, so the plaintext lives in the zone and dies with the body. */
    uint8_t *plain = msgpack_zone_malloc(zone, plain_len);
    enum env_error err = ENV_ENOMEM;
    if (plain == NULL)
        goto fail;

    err = ENV_EAUTH;
    if (crypto_secretbox_open_easy(plain, wire + crypto_secretbox_NONCEBYTES,
                                   len - crypto_secretbox_NONCEBYTES, wire, key) != 0)
        goto fail;

    err = ENV_EMALFORMED;
    if (wire_prescan(plain, plain_len, ENV_MAX_DEPTH) != 0)
        goto fail;

    msgpack_object root;
    size_t off = 0;
    msgpack_unpack_return ur = msgpack_unpack((const char *)plain, plain_len, &off, zone, &root);
    if (ur == MSGPACK_UNPACK_NOMEM_ERROR) {
        err = ENV_ENOMEM;
        goto fail;
    }
    if (ur != MSGPACK_UNPACK_SUCCESS || off != plain_len)
        goto fail;

    err = check_shape(&root, msg);
    if (err != ENV_OK)
        goto fail;
    msg->zone = zone;
    return ENV_OK;

fail:
    msgpack_zone_free(zone);
    memset(msg, 0, sizeof(*msg));
    return err;
}

void env_msg_free(struct env_msg *msg)
{
    if (msg == NULL)
        return;
    if (msg->zone != NULL)
        msgpack_zone_free(msg->zone);
    memset(msg, 0, sizeof(*msg));
}

const char *env_strerror(enum env_error err)
{
    switch (err) {
    case ENV_OK:
        return "ok";
    case ENV_ETOOSHORT:
        return "too short";
    case ENV_ETOOLONG:
        return "too long";
    case ENV_EAUTH:
        return "auth";
    case ENV_EMALFORMED:
        return "malformed";
    case ENV_ESHAPE:
        return "shape";
    case ENV_EVERSION:
        return "version";
    case ENV_ENOMEM:
        return "no memory";
    }
    return "unknown";
}

/* ---- replay window ----------------------------------------------------- */

uint64_t env_counter_at(uint64_t sec, uint32_t nsec)
{
    return (sec << 32) | (((uint64_t)nsec << 32) / 1000000000u);
}

uint64_t env_counter_ms(uint64_t counter)
{
    return (counter >> 32) * 1000u + (((counter & UINT32_MAX) * 1000u) >> 32);
}

void env_replay_start(struct env_replay *r, uint64_t floor)
{
    r->floor = floor;
    r->top = 0;
    r->window = 0;
}

enum env_verdict env_replay_check(struct env_replay *r, uint64_t counter)
{
    if (counter == 0)
        return ENV_REPLAY;
    if (counter <= r->floor)
        return ENV_STALE;
    if (counter > r->top) {
        uint64_t shift = counter - r->top;
        /* Shifting a 64-bit value by 64 or more is undefined. */
        r->window = shift >= 64 ? 1 : (r->window << shift) | 1;
        r->top = counter;
        return ENV_FRESH;
    }
    uint64_t age = r->top - counter;
    if (age >= 64)
        return ENV_REPLAY;
    uint64_t bit = UINT64_C(1) << age;
    if (r->window & bit)
        return ENV_REPLAY;
    r->window |= bit;
    return ENV_FRESH;
}

bool env_replay_accept(struct env_replay *r, uint64_t counter)
{
    return env_replay_check(r, counter) == ENV_FRESH;
}
