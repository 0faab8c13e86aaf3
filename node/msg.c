/* The one registry of node-to-node messages (msg.h): two tables, one for
 * envelope types and one for ENV_LEDGER kinds, each row {number, name,
 * shape check, handler}. The numbers are on the wire (base/envelope.h);
 * the shapes are checked here, before any layer sees a body. */
#include "node/msg.h"

#include <string.h>

#include "node/base/envelope.h"
#include "node/chaos/watch.h"
#include "node/deploy/deploy.h"
#include "node/raft/raft.h"
#include "node/witness/witness.h"

/* ---- ENV_HELLO: liveness, boot epoch, HTTP address, key ---------------- */

/* Hello body: [boot epoch, HTTP address, node public key (bin 32), the
 * receiver's boot epoch as the sender knows it (0: unknown), whether the
 * sender wants an answer]. Nodes before the last two fields send and take
 * the first three (and ignore what follows). Sent on the node's tick
 * (heartbeat_ms) to the members it is due to (base/peers.h: when nothing
 * else went to them lately, or after a restart until both sides know);
 * Raft's heartbeats are ENV_CONSENSUS. The HTTP address is the advertised
 * one (--advertise-http): peers only ever hand it to clients, so nodes of
 * every version show and redirect to it. */
static void send_hello(struct node_msg *m, size_t idx)
{
    const struct peers *ps = &m->base->peers;
    struct node_pack p;
    node_pack_init(&p);
    msgpack_pack_array(&p.pk, 5);
    msgpack_pack_uint64(&p.pk, m->base->boot);
    const char *http = ps->m[ps->self].http; /* the advertised one */
    size_t hlen = strlen(http);
    msgpack_pack_str(&p.pk, hlen);
    msgpack_pack_str_body(&p.pk, http, hlen);
    msgpack_pack_bin(&p.pk, LEDGER_PUBKEY_BYTES);
    msgpack_pack_bin_body(&p.pk, m->raft->key_pair.pk, LEDGER_PUBKEY_BYTES);
    msgpack_pack_uint64(&p.pk, ps->m[idx].boot);
    if (peers_hello_wants_answer(ps, idx))
        msgpack_pack_true(&p.pk);
    else
        msgpack_pack_false(&p.pk);
    node_pack_send(m->base, idx, ENV_HELLO, &p);
}

void node_msg_send_hello(struct node_msg *m)
{
    uint64_t now = uv_now(m->base->loop);
    for (size_t i = 0; i < m->base->peers.n; i++)
        if (peers_hello_due(&m->base->peers, i, now, m->base->cfg.heartbeat_ms))
            send_hello(m, i);
}

static void on_hello(struct node_msg *m, size_t idx, const msgpack_object *body)
{
    if (body->type != MSGPACK_OBJECT_ARRAY || body->via.array.size < 2 ||
        body->via.array.ptr[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
        body->via.array.ptr[1].type != MSGPACK_OBJECT_STR ||
        body->via.array.ptr[1].via.str.size >= CONFIG_URL_MAX) {
        node_drop(m->base, DROP_SHAPE, "heartbeat body is not [boot, http]");
        return;
    }
    const msgpack_object *f = body->via.array.ptr;
    uint32_t size = body->via.array.size;
    struct peer *p = &m->base->peers.m[idx];
    uint64_t boot = f[0].via.u64;
    const msgpack_object_str *http = &f[1].via.str;
    if (p->boot != 0 && boot != p->boot) {
        node_event(m->base, "peer.restarted", p->id, "%s restarted", p->id);
        cons_peer_restarted(&m->raft->cons, (int32_t)idx);
    }
    p->boot = boot;
    memcpy(p->http, http->ptr, http->size);
    p->http[http->size] = '\0';
    /* A hello of an earlier version has no handshake: it is answered every
     * tick, as that version expects. */
    struct peer_hello h = {.boot = boot};
    if (size >= 5 && f[3].type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
        f[4].type == MSGPACK_OBJECT_BOOLEAN)
        h = (struct peer_hello){.boot = boot,
                                .has_handshake = true,
                                .knows = f[3].via.u64,
                                .wants_answer = f[4].via.boolean};
    peers_hello_heard(&m->base->peers, idx, &h, m->base->boot);
    /* The key travels sealed with the cluster key; the ledger pins it. */
    if (size >= 3 && f[2].type == MSGPACK_OBJECT_BIN && f[2].via.bin.size == LEDGER_PUBKEY_BYTES)
        node_witness_peer_key(m->wit, idx, (const uint8_t *)f[2].via.bin.ptr);
}

static void on_consensus(struct node_msg *m, size_t idx, const msgpack_object *body)
{
    node_cons_recv(m->raft, idx, body);
}

/* ---- ENV_LEDGER kinds: shapes ----------------------------------------- */

static bool is_uint(const msgpack_object *o)
{
    return o->type == MSGPACK_OBJECT_POSITIVE_INTEGER;
}

/* [kind, checkpoint (bin: exact bytes), sig or [sig, ...]] */
static bool checkpoint_shape(const msgpack_object *f, uint32_t size)
{
    return size == 3 && f[1].type == MSGPACK_OBJECT_BIN &&
           f[1].via.bin.size <= LEDGER_CHECKPOINT_MAX;
}

/* [3, enter_ms, exit_ms, enter_term, exit_term, was_leader] */
static bool episode_report_shape(const msgpack_object *f, uint32_t size)
{
    return size == 6 && is_uint(&f[1]) && is_uint(&f[2]) && is_uint(&f[3]) && is_uint(&f[4]) &&
           f[5].type == MSGPACK_OBJECT_BOOLEAN;
}

/* [4, enter_ms, index] */
static bool episode_ack_shape(const msgpack_object *f, uint32_t size)
{
    return size == 3 && is_uint(&f[1]) && is_uint(&f[2]);
}

/* [5, deployment, health, healthy_for_ms, detail, gen] */
static bool deploy_report_shape(const msgpack_object *f, uint32_t size)
{
    return size == 6 && f[1].type == MSGPACK_OBJECT_STR && f[1].via.str.size < PL_ID_MAX &&
           is_uint(&f[2]) && f[2].via.u64 <= PL_H_START_FAILED && is_uint(&f[3]) &&
           f[4].type == MSGPACK_OBJECT_STR && is_uint(&f[5]) && f[5].via.u64 <= UINT32_MAX;
}

/* [6 or 7, plan, manifest or facts (str), actions or results (array)] */
static bool plan_shape(const msgpack_object *f, uint32_t size)
{
    return size == 4 && is_uint(&f[1]) && f[2].type == MSGPACK_OBJECT_STR &&
           f[3].type == MSGPACK_OBJECT_ARRAY;
}

static bool is_int(const msgpack_object *o)
{
    return o->type == MSGPACK_OBJECT_POSITIVE_INTEGER || o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER;
}

static bool is_name(const msgpack_object *o)
{
    return o->type == MSGPACK_OBJECT_STR && o->via.str.size > 0 && o->via.str.size < WT_NAME_MAX;
}

/* [8, service, attempts, cause_kind, cause_code, deployment] */
static bool crash_loop_shape(const msgpack_object *f, uint32_t size)
{
    return size == 6 && is_name(&f[1]) && is_uint(&f[2]) && f[2].via.u64 <= UINT32_MAX &&
           is_uint(&f[3]) && f[3].via.u64 >= WT_CAUSE_EXIT &&
           f[3].via.u64 <= WT_CAUSE_START_FAILED && is_int(&f[4]) &&
           f[5].type == MSGPACK_OBJECT_STR && f[5].via.str.size < PL_ID_MAX;
}

/* [9, service, verdict] */
static bool crash_verdict_shape(const msgpack_object *f, uint32_t size)
{
    return size == 3 && is_name(&f[1]) && is_uint(&f[2]) && f[2].via.u64 >= WT_VERDICT_REVERT &&
           f[2].via.u64 <= WT_VERDICT_MARK_FAILED;
}

/* [10, service, cause_kind, cause_code, attempts, failed_at_ms, ttr_ms] */
static bool recovery_shape(const msgpack_object *f, uint32_t size)
{
    return size == 7 && is_name(&f[1]) && is_uint(&f[2]) && f[2].via.u64 >= WT_CAUSE_EXIT &&
           f[2].via.u64 <= WT_CAUSE_START_FAILED && is_int(&f[3]) && is_uint(&f[4]) &&
           f[4].via.u64 <= UINT32_MAX && is_uint(&f[5]) && is_uint(&f[6]);
}

/* [11, failed_at_ms, index] */
static bool recovery_ack_shape(const msgpack_object *f, uint32_t size)
{
    return size == 3 && is_uint(&f[1]) && is_uint(&f[2]);
}

/* The handlers, each in its layer (the table's rows name these). */
#define LAYER_HANDLER(name, fn, layer)                                                             \
    static void name(struct node_msg *m, size_t from, const msgpack_object *f)                     \
    {                                                                                              \
        fn(m->layer, from, f);                                                                     \
    }
LAYER_HANDLER(on_checkpoint, node_witness_on_checkpoint, wit)
LAYER_HANDLER(on_cosign, node_witness_on_cosign, wit)
LAYER_HANDLER(on_episode_report, node_episodes_on_report, wit)
LAYER_HANDLER(on_episode_ack, node_episodes_on_ack, wit)
LAYER_HANDLER(on_deploy_report, deploy_run_on_report, deploy)
LAYER_HANDLER(on_plan_probe, deploy_plan_on_probe, deploy)
LAYER_HANDLER(on_plan_facts, deploy_plan_on_facts, deploy)
LAYER_HANDLER(on_crash_loop, watch_on_crash_loop, watch)
LAYER_HANDLER(on_crash_verdict, watch_on_crash_verdict, watch)
LAYER_HANDLER(on_recovery, watch_on_recovery, watch)
LAYER_HANDLER(on_recovery_ack, watch_on_recovery_ack, watch)

static const struct {
    const char *name;
    bool (*shape)(const msgpack_object *f, uint32_t size);
    const char *bad_shape; /* the drop's detail when the shape is wrong */
    void (*handle)(struct node_msg *m, size_t from, const msgpack_object *f);
} ledger_kinds[MSG_KIND_MAX] = {
    [MSG_CHECKPOINT] = {"checkpoint", checkpoint_shape, "ledger message", on_checkpoint},
    [MSG_COSIGN] = {"cosign", checkpoint_shape, "ledger message", on_cosign},
    [MSG_EPISODE_REPORT] = {"episode_report", episode_report_shape, "ledger message kind",
                            on_episode_report},
    [MSG_EPISODE_ACK] = {"episode_ack", episode_ack_shape, "ledger message kind", on_episode_ack},
    [MSG_DEPLOY_REPORT] = {"deploy_report", deploy_report_shape, "ledger message kind",
                           on_deploy_report},
    [MSG_PLAN_PROBE] = {"plan_probe", plan_shape, "ledger message kind", on_plan_probe},
    [MSG_PLAN_FACTS] = {"plan_facts", plan_shape, "ledger message kind", on_plan_facts},
    [MSG_CRASH_LOOP] = {"crash_loop", crash_loop_shape, "ledger message kind", on_crash_loop},
    [MSG_CRASH_VERDICT] = {"crash_verdict", crash_verdict_shape, "ledger message kind",
                           on_crash_verdict},
    [MSG_RECOVERY] = {"recovery", recovery_shape, "ledger message kind", on_recovery},
    [MSG_RECOVERY_ACK] = {"recovery_ack", recovery_ack_shape, "ledger message kind",
                          on_recovery_ack},
};

const char *node_msg_kind_name(uint64_t kind)
{
    return kind < MSG_KIND_MAX && ledger_kinds[kind].name ? ledger_kinds[kind].name : "unknown";
}

static void on_ledger(struct node_msg *m, size_t from, const msgpack_object *body)
{
    if (!m->raft->ledger || body->type != MSGPACK_OBJECT_ARRAY || body->via.array.size == 0 ||
        !is_uint(&body->via.array.ptr[0])) {
        node_drop(m->base, DROP_SHAPE, "ledger message");
        return;
    }
    const msgpack_object *f = body->via.array.ptr;
    uint64_t kind = f[0].via.u64;
    if (kind >= MSG_KIND_MAX || !ledger_kinds[kind].handle) {
        node_drop(m->base, DROP_SHAPE, "ledger message kind"); /* unknown kinds: counted here */
        return;
    }
    if (!ledger_kinds[kind].shape(f, body->via.array.size)) {
        node_drop(m->base, DROP_SHAPE, ledger_kinds[kind].bad_shape);
        return;
    }
    ledger_kinds[kind].handle(m, from, f);
}

/* ---- envelope types --------------------------------------------------- */

static const struct {
    const char *name;
    void (*handle)(struct node_msg *m, size_t from, const msgpack_object *body);
} env_types[ENV_TYPE_MAX] = {
    [ENV_HELLO] = {"hello", on_hello},
    [ENV_CONSENSUS] = {"consensus", on_consensus},
    [ENV_LEDGER] = {"ledger", on_ledger},
};

const char *node_msg_type_name(uint32_t type)
{
    return type < ENV_TYPE_MAX && env_types[type].name ? env_types[type].name : "unknown";
}

void node_msg_dispatch(struct node_msg *m, size_t from, uint32_t type, const msgpack_object *body)
{
    /* env_open refuses types outside 1..ENV_TYPE_MAX-1 (DROP_SHAPE). */
    if (type < ENV_TYPE_MAX && env_types[type].handle)
        env_types[type].handle(m, from, body);
}
