/* Entries: codec and hash (entry.h). Pure. */
#include "ledger/internal.h"
#include "wire/prescan.h"

#include <sodium.h>
#include <string.h>

#define ENTRY_FIELDS 7

static bool payload_ok(const uint8_t *p, size_t n)
{
    return wire_prescan(p, n, LEDGER_MAX_DEPTH) == 0;
}

static void write_entry(struct ledger_mpw *w, const struct ledger_entry *e)
{
    ledger_mpw_array(w, ENTRY_FIELDS);
    ledger_mpw_uint(w, e->index);
    ledger_mpw_uint(w, e->term);
    ledger_mpw_uint(w, e->type);
    ledger_mpw_uint(w, e->timestamp_ms);
    ledger_mpw_str(w, e->author, strnlen(e->author, LEDGER_ID_MAX));
    ledger_mpw_bin(w, e->payload, e->payload_len);
    ledger_mpw_bin(w, e->prev_hash, LEDGER_HASH_BYTES);
}

static enum ledger_error check_fields(const struct ledger_entry *e)
{
    if (e->index == 0 || e->term == 0 || e->type == 0 ||
        !ledger_valid_id(e->author, strnlen(e->author, LEDGER_ID_MAX)))
        return LEDGER_EINVAL;
    if (e->payload_len > LEDGER_MAX_ENTRY)
        return LEDGER_ETOOBIG;
    if (e->payload == NULL || !payload_ok(e->payload, e->payload_len))
        return LEDGER_EINVAL;
    return LEDGER_OK;
}

size_t ledger_entry_encoded_len(const struct ledger_entry *e)
{
    if (check_fields(e) != LEDGER_OK)
        return 0;
    struct ledger_mpw w = {NULL, 0, 0};
    write_entry(&w, e);
    return w.len;
}

enum ledger_error ledger_entry_encode(const struct ledger_entry *e, uint8_t *out, size_t cap,
                                      size_t *len)
{
    enum ledger_error err = check_fields(e);
    if (err != LEDGER_OK)
        return err;
    struct ledger_mpw w = {NULL, 0, 0};
    write_entry(&w, e); /* measure first: never write a partial entry */
    if (w.len > LEDGER_MAX_ENTRY || w.len > cap)
        return LEDGER_ETOOBIG;
    ledger_entry_write(e, out, w.len);
    *len = w.len;
    return LEDGER_OK;
}

void ledger_entry_write(const struct ledger_entry *e, uint8_t *out, size_t len)
{
    struct ledger_mpw w = {out, len, 0};
    write_entry(&w, e);
}

static enum ledger_error bad(const char **why, const char *what)
{
    if (why)
        *why = what;
    return LEDGER_EMALFORMED;
}

enum ledger_error ledger_entry_peek_type(const uint8_t *bytes, size_t len, uint32_t *type)
{
    struct ledger_mpr r = {bytes, len, 0};
    uint32_t n;
    uint64_t skip, t;
    if (bytes == NULL || len == 0 || len > LEDGER_MAX_ENTRY || !ledger_mpr_array(&r, &n) ||
        n != ENTRY_FIELDS || !ledger_mpr_uint(&r, &skip) || !ledger_mpr_uint(&r, &skip) ||
        !ledger_mpr_uint(&r, &t) || t == 0 || t > UINT32_MAX)
        return LEDGER_EMALFORMED;
    *type = (uint32_t)t;
    return LEDGER_OK;
}

enum ledger_error ledger_entry_decode(const uint8_t *bytes, size_t len, struct ledger_entry *e,
                                      const char **why)
{
    struct ledger_mpr r = {bytes, len, 0};
    uint32_t n;
    uint64_t type;
    const uint8_t *s;
    size_t sn;

    if (why)
        *why = NULL;
    memset(e, 0, sizeof(*e));
    if (bytes == NULL || len == 0)
        return bad(why, "empty");
    if (len > LEDGER_MAX_ENTRY)
        return bad(why, "entry larger than the limit");
    if (!ledger_mpr_array(&r, &n) || n != ENTRY_FIELDS)
        return bad(why, "not an array of 7 fields");
    if (!ledger_mpr_uint(&r, &e->index) || e->index == 0)
        return bad(why, "index is not an unsigned integer >= 1");
    if (!ledger_mpr_uint(&r, &e->term) || e->term == 0)
        return bad(why, "term is not an unsigned integer >= 1");
    if (!ledger_mpr_uint(&r, &type) || type == 0 || type > UINT32_MAX)
        return bad(why, "type is not an unsigned integer from 1 to 2^32-1");
    e->type = (uint32_t)type;
    if (!ledger_mpr_uint(&r, &e->timestamp_ms))
        return bad(why, "timestamp is not an unsigned integer");
    if (!ledger_mpr_str(&r, &s, &sn) || !ledger_valid_id((const char *)s, sn))
        return bad(why, "author is not a node id string");
    memcpy(e->author, s, sn);
    e->author[sn] = '\0';
    if (!ledger_mpr_bin(&r, &e->payload, &e->payload_len))
        return bad(why, "payload is not a bin");
    if (!payload_ok(e->payload, e->payload_len))
        return bad(why, "payload is not exactly one msgpack object within the limits");
    if (!ledger_mpr_bin_exact(&r, e->prev_hash, LEDGER_HASH_BYTES))
        return bad(why, "prev_hash is not a 32-byte bin");
    if (r.off != len)
        return bad(why, "bytes after the entry");
    return LEDGER_OK;
}

void ledger_entry_hash(const uint8_t prev_hash[LEDGER_HASH_BYTES], const uint8_t *bytes, size_t len,
                       uint8_t out[LEDGER_HASH_BYTES])
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, LEDGER_HASH_BYTES);
    crypto_generichash_update(&st, (const uint8_t *)LEDGER_ENTRY_HASH_TAG,
                              sizeof(LEDGER_ENTRY_HASH_TAG) - 1);
    crypto_generichash_update(&st, prev_hash, LEDGER_HASH_BYTES);
    crypto_generichash_update(&st, bytes, len);
    crypto_generichash_final(&st, out, LEDGER_HASH_BYTES);
}

const char *ledger_entry_type_name(uint32_t type)
{
    static const char *const names[LEDGER_ENTRY_TYPE_END] = {
        [LEDGER_ENTRY_ELECTION] = "election",
        [LEDGER_ENTRY_MEMBERSHIP] = "membership",
        [LEDGER_ENTRY_READ_ONLY_ENTER] = "read_only_enter",
        [LEDGER_ENTRY_READ_ONLY_EXIT] = "read_only_exit",
        [LEDGER_ENTRY_NOTE] = "note",
        [LEDGER_ENTRY_DEPLOYMENT] = "deployment",
        [LEDGER_ENTRY_ROLLBACK] = "rollback",
        [LEDGER_ENTRY_RECOVERY] = "recovery",
        [LEDGER_ENTRY_CHAOS] = "chaos",
        [LEDGER_ENTRY_CHECKPOINT] = "checkpoint",
        [LEDGER_ENTRY_EVIDENCE] = "evidence",
    };
    if (type < LEDGER_ENTRY_TYPE_END && names[type] != NULL)
        return names[type];
    return "unknown";
}

/* ---- membership payloads ---------------------------------------------- */

enum ledger_error ledger_membership_encode(const struct ledger_membership *m,
                                           uint8_t out[LEDGER_MEMBERSHIP_MAX], size_t *len)
{
    size_t idn = strnlen(m->node, LEDGER_ID_MAX);
    if ((m->op != LEDGER_MEMBER_ADD && m->op != LEDGER_MEMBER_REMOVE) ||
        !ledger_valid_id(m->node, idn))
        return LEDGER_EINVAL;
    struct ledger_mpw w = {out, LEDGER_MEMBERSHIP_MAX, 0};
    ledger_mpw_array(&w, 3);
    ledger_mpw_uint(&w, m->op);
    ledger_mpw_str(&w, m->node, idn);
    ledger_mpw_bin(&w, m->pubkey, LEDGER_PUBKEY_BYTES);
    *len = w.len;
    return LEDGER_OK;
}

enum ledger_error ledger_membership_decode(const uint8_t *payload, size_t len,
                                           struct ledger_membership *m)
{
    struct ledger_mpr r = {payload, len, 0};
    uint32_t n;
    uint64_t op;
    memset(m, 0, sizeof(*m));
    if (payload == NULL || !ledger_mpr_array(&r, &n) || n < 3 || !ledger_mpr_uint(&r, &op) ||
        (op != LEDGER_MEMBER_ADD && op != LEDGER_MEMBER_REMOVE) || !ledger_mpr_id(&r, m->node) ||
        !ledger_mpr_bin_exact(&r, m->pubkey, LEDGER_PUBKEY_BYTES))
        return LEDGER_EMALFORMED;
    for (uint32_t i = 3; i < n; i++)
        if (!ledger_mpr_skip(&r))
            return LEDGER_EMALFORMED;
    if (r.off != len)
        return LEDGER_EMALFORMED;
    m->op = (uint32_t)op;
    return LEDGER_OK;
}
