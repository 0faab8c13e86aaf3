/* Deployment records in the ledger: the rollout core's records (pipeline/
 * rollout.h) as entries, and every committed one fed to the core on every
 * node, in ledger order, so that all nodes know the same deployments.
 *
 * Payload of a LEDGER_ENTRY_DEPLOYMENT (release, wave, stable, failed,
 * reverted) or LEDGER_ENTRY_ROLLBACK entry: a msgpack map
 *   "record"  str: release | wave | stable | failed | rollback | reverted
 *   "id"      str: the deployment (for rollback and reverted: the rollback)
 *   release:  "name", "version" (str), "digest" (bin 32), "manifest" (str: the
 *             exact submitted JSON), "policy" {max_parallel, min_healthy_time_ms,
 *             healthy_deadline_ms, progress_deadline_ms, auto_revert},
 *             "certificate" (str: JSON, as GET /deployments/ID shows it)
 *   wave:     "wave" (uint), "nodes" [str, ...]
 *   failed:   "reason" (str)
 *   rollback: "target", "from" (str), "reason" (str), "automatic" (bool),
 *             "in_waves" (bool: in waves under the policy; absent: every
 *             node at once, as every rollback before it existed)
 *   wave, stable, reverted: "down" [str, ...] the members passed over as
 *             down (absent: none, as in records made before it existed)
 * The record's time is the entry's timestamp. Keys are only ever added:
 * records in existing ledgers must keep decoding. */
#include <inttypes.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/deploy/deploy.h"
#include "wire/map.h"

static void pack_ids(msgpack_packer *pk, const char *key, const char (*ids)[PL_ID_MAX], size_t n)
{
    msgpack_pack_str_with_body(pk, key, strlen(key));
    msgpack_pack_array(pk, (uint32_t)n);
    for (size_t i = 0; i < n; i++)
        msgpack_pack_str_with_body(pk, ids[i], strlen(ids[i]));
}

/* An array of member ids under key; absent is an empty list when optional. */
static bool decode_ids(const msgpack_object *o, const char *key, bool optional,
                       char (*ids)[PL_ID_MAX], size_t *n)
{
    const msgpack_object *a = wire_map_get(o, key);
    *n = 0;
    if (!a)
        return optional;
    if (a->type != MSGPACK_OBJECT_ARRAY || a->via.array.size > PL_MAX_NODES)
        return false;
    for (uint32_t i = 0; i < a->via.array.size; i++) {
        const msgpack_object *s = &a->via.array.ptr[i];
        if (s->type != MSGPACK_OBJECT_STR || s->via.str.size >= PL_ID_MAX)
            return false;
        memcpy(ids[i], s->via.str.ptr, s->via.str.size);
        ids[i][s->via.str.size] = '\0';
    }
    *n = a->via.array.size;
    return true;
}

uint32_t deploy_record_encode(const struct pl_record *r, const char *manifest, size_t mlen,
                              const char *cert, struct node_pack *p)
{
    msgpack_packer *pk = &p->pk;
    const char *kind = pl_record_name(r->kind);
    uint32_t fields = 2 + (r->ndown > 0);
    switch (r->kind) {
    case PL_REC_RELEASE:
        fields += 6;
        break;
    case PL_REC_WAVE:
        fields += 2;
        break;
    case PL_REC_FAILED:
        fields += 1;
        break;
    case PL_REC_ROLLBACK:
        fields += 4 + r->in_waves;
        break;
    default:
        break;
    }
    msgpack_pack_map(pk, fields);
    node_mp_kv_str(pk, "record", kind, strlen(kind));
    node_mp_kv_str(pk, "id", r->deployment, strlen(r->deployment));
    switch (r->kind) {
    case PL_REC_RELEASE: {
        const struct pl_release *rel = &r->release;
        node_mp_kv_str(pk, "name", rel->name, strlen(rel->name));
        node_mp_kv_str(pk, "version", rel->version, strlen(rel->version));
        msgpack_pack_str_with_body(pk, "digest", 6);
        msgpack_pack_bin_with_body(pk, rel->digest, sizeof(rel->digest));
        node_mp_kv_str(pk, "manifest", manifest ? manifest : "", manifest ? mlen : 0);
        msgpack_pack_str_with_body(pk, "policy", 6);
        msgpack_pack_map(pk, 5);
        node_mp_kv_u64(pk, "max_parallel", rel->policy.max_parallel);
        node_mp_kv_u64(pk, "min_healthy_time_ms", rel->policy.min_healthy_time_ms);
        node_mp_kv_u64(pk, "healthy_deadline_ms", rel->policy.healthy_deadline_ms);
        node_mp_kv_u64(pk, "progress_deadline_ms", rel->policy.progress_deadline_ms);
        node_mp_kv_bool(pk, "auto_revert", rel->policy.auto_revert);
        node_mp_kv_str(pk, "certificate", cert ? cert : "null", cert ? strlen(cert) : 4);
        break;
    }
    case PL_REC_WAVE:
        node_mp_kv_u64(pk, "wave", r->wave);
        pack_ids(pk, "nodes", r->nodes, r->nnodes);
        break;
    case PL_REC_FAILED:
        node_mp_kv_str(pk, "reason", r->reason, strlen(r->reason));
        break;
    case PL_REC_ROLLBACK:
        node_mp_kv_str(pk, "target", r->target, strlen(r->target));
        node_mp_kv_str(pk, "from", r->from_deployment, strlen(r->from_deployment));
        node_mp_kv_str(pk, "reason", r->reason, strlen(r->reason));
        node_mp_kv_bool(pk, "automatic", r->automatic);
        if (r->in_waves)
            node_mp_kv_bool(pk, "in_waves", true);
        break;
    default:
        break;
    }
    if (r->ndown > 0)
        pack_ids(pk, "down", r->down, r->ndown);
    return r->kind == PL_REC_ROLLBACK ? LEDGER_ENTRY_ROLLBACK : LEDGER_ENTRY_DEPLOYMENT;
}

static bool decode_release(const msgpack_object *o, struct pl_record *r)
{
    struct pl_release *rel = &r->release;
    const msgpack_object *digest = wire_map_get(o, "digest"), *policy = wire_map_get(o, "policy");
    uint64_t mp = 0, mh = 0, hd = 0, pd = 0;
    if (!node_mp_get_str(o, "name", rel->name, sizeof(rel->name)) ||
        !node_mp_get_str(o, "version", rel->version, sizeof(rel->version)) || !digest ||
        digest->type != MSGPACK_OBJECT_BIN || digest->via.bin.size != sizeof(rel->digest) ||
        !policy || !node_mp_get_u64(policy, "max_parallel", &mp) ||
        !node_mp_get_u64(policy, "min_healthy_time_ms", &mh) ||
        !node_mp_get_u64(policy, "healthy_deadline_ms", &hd) ||
        !node_mp_get_u64(policy, "progress_deadline_ms", &pd) ||
        !node_mp_get_bool(policy, "auto_revert", &rel->policy.auto_revert) || mp > PL_MAX_NODES)
        return false;
    memcpy(rel->digest, digest->via.bin.ptr, sizeof(rel->digest));
    rel->policy.max_parallel = (uint32_t)mp;
    rel->policy.min_healthy_time_ms = mh;
    rel->policy.healthy_deadline_ms = hd;
    rel->policy.progress_deadline_ms = pd;
    return true;
}

int deploy_record_decode(const uint8_t *payload, size_t len, uint64_t at_ms, struct pl_record *r,
                         const char **manifest, size_t *mlen, const char **cert, size_t *clen)
{
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    int rv = -1;
    memset(r, 0, sizeof(*r));
    *manifest = *cert = NULL;
    *mlen = *clen = 0;
    if (msgpack_unpack_next(&u, (const char *)payload, len, &off) != MSGPACK_UNPACK_SUCCESS)
        goto out;
    const msgpack_object *o = &u.data;
    char kind[16];
    if (!node_mp_get_str(o, "record", kind, sizeof(kind)) ||
        !node_mp_get_str(o, "id", r->deployment, sizeof(r->deployment)))
        goto out;
    r->at_ms = at_ms;
    for (int k = PL_REC_RELEASE; k <= PL_REC_REVERTED; k++)
        if (strcmp(kind, pl_record_name((enum pl_record_kind)k)) == 0)
            r->kind = (enum pl_record_kind)k;
    switch (r->kind) {
    case PL_REC_RELEASE: {
        const msgpack_object *m = wire_map_get(o, "manifest"), *c = wire_map_get(o, "certificate");
        if (!decode_release(o, r) || !m || m->type != MSGPACK_OBJECT_STR)
            goto out;
        /* msgpack-c unpacks strings in place: these point into payload. */
        *manifest = m->via.str.ptr;
        *mlen = m->via.str.size;
        if (c && c->type == MSGPACK_OBJECT_STR) {
            *cert = c->via.str.ptr;
            *clen = c->via.str.size;
        }
        break;
    }
    case PL_REC_WAVE: {
        uint64_t wave;
        if (!node_mp_get_u64(o, "wave", &wave) ||
            !decode_ids(o, "nodes", false, r->nodes, &r->nnodes) ||
            !decode_ids(o, "down", true, r->down, &r->ndown))
            goto out;
        r->wave = (uint32_t)wave;
        break;
    }
    case PL_REC_FAILED:
        if (!node_mp_get_str(o, "reason", r->reason, sizeof(r->reason)))
            goto out;
        break;
    case PL_REC_ROLLBACK:
        if (!node_mp_get_str(o, "target", r->target, sizeof(r->target)) ||
            !node_mp_get_str(o, "from", r->from_deployment, sizeof(r->from_deployment)) ||
            !node_mp_get_str(o, "reason", r->reason, sizeof(r->reason)) ||
            !node_mp_get_bool(o, "automatic", &r->automatic) ||
            (wire_map_get(o, "in_waves") && !node_mp_get_bool(o, "in_waves", &r->in_waves)))
            goto out;
        break;
    case PL_REC_STABLE:
    case PL_REC_REVERTED:
        if (!decode_ids(o, "down", true, r->down, &r->ndown))
            goto out;
        break;
    default:
        goto out;
    }
    rv = 0;
out:
    msgpack_unpacked_destroy(&u);
    return rv;
}
