/* Read-only episodes in the ledger. A node that loses its quorum-backed
 * leader cannot append anything itself (that is what read-only means), so
 * it remembers when the episode began and, once it hears a leader with a
 * quorum again, reports the episode to that leader, which records it as a
 * LEDGER_ENTRY_READ_ONLY_ENTER and a LEDGER_ENTRY_READ_ONLY_EXIT entry on
 * its behalf. A leader that lost its quorum stepped down: the enter entry
 * says so (was_leader). The reporter keeps an episode until it sees the
 * entries committed in its own ledger, so a leader that dies in between
 * loses nothing: the next one is told again. When to report, record,
 * wait for and forget an episode is the pure core's decision
 * (witness/episodes.h); this file reads the ledger, appends and sends.
 *
 * Payloads (msgpack maps):
 *   enter: {"node": id, "at_ms": wall ms, "term": term, "was_leader": bool}
 *   exit:  {"node": id, "at_ms": wall ms, "term": term, "leader": id, "duration_ms": ms}
 * Messages (ENV_LEDGER, see node_witness.c):
 *   MSG_EPISODE_REPORT  [3, enter_ms, exit_ms, enter_term, exit_term, was_leader]
 *   MSG_EPISODE_ACK    [4, enter_ms, index of the enter entry] */
#include <inttypes.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/witness/witness.h"

/* How far back a leader looks for an episode it already recorded (a report
 * repeated after a lost acknowledgement or a change of leader). */
#define EPISODE_LOOKBACK 512

void node_episodes_change(struct node_witness *wit, bool read_only, bool was_leader)
{
    if (episodes_change(&wit->episodes, read_only, was_leader, wit->raft->cons.term,
                        (uint64_t)node_wall_ms()))
        node_event(wit->base, "ledger.episode_dropped", NULL,
                   "too many read-only episodes waiting to be recorded; the oldest was dropped");
}

/* Whether payload is a map saying {"node": node, key: value}. */
static bool payload_is(const uint8_t *payload, size_t len, const char *node, const char *key,
                       uint64_t value)
{
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    char who[CONFIG_ID_MAX];
    uint64_t v = 0;
    bool ok = msgpack_unpack_next(&u, (const char *)payload, len, &off) == MSGPACK_UNPACK_SUCCESS &&
              node_mp_get_str(&u.data, "node", who, sizeof(who)) &&
              node_mp_get_u64(&u.data, key, &v) && strcmp(who, node) == 0 && v == value;
    msgpack_unpacked_destroy(&u);
    return ok;
}

struct find {
    uint32_t type;
    const char *node, *key;
    uint64_t value, found;
};

static int find_entry(uint64_t index, uint64_t term, const uint8_t *bytes, size_t len, void *arg)
{
    (void)term;
    struct find *f = arg;
    struct ledger_entry e;
    if (ledger_entry_decode(bytes, len, &e, NULL) == LEDGER_OK && e.type == f->type &&
        payload_is(e.payload, e.payload_len, f->node, f->key, f->value))
        f->found = index;
    return 0;
}

uint64_t node_ledger_recorded(struct node_raft *raft, uint32_t type, const char *node,
                              const char *key, uint64_t value)
{
    uint64_t last = ledger_last_index(raft->ledger);
    if (last == 0)
        return 0;
    struct find f = {.type = type, .node = node, .key = key, .value = value};
    uint64_t from = last > EPISODE_LOOKBACK ? last - EPISODE_LOOKBACK + 1 : 1;
    ledger_read_range(raft->ledger, from, EPISODE_LOOKBACK, SIZE_MAX, find_entry, &f);
    return f.found;
}

bool node_ledger_holds(struct node_raft *raft, uint64_t index, uint32_t type, const char *node,
                       const char *key, uint64_t value)
{
    uint8_t *bytes;
    size_t len;
    struct ledger_entry le;
    bool ok = false;
    if (ledger_read_entry(raft->ledger, index, &bytes, &len) != LEDGER_OK)
        return false;
    if (ledger_entry_decode(bytes, len, &le, NULL) == LEDGER_OK)
        ok = le.type == type && payload_is(le.payload, le.payload_len, node, key, value);
    free(bytes);
    return ok;
}

/* Leader: records one episode of node (two entries, one fdatasync) unless
 * it is already in the ledger. Returns the enter entry's index, or 0. */
static uint64_t record(struct node_witness *wit, const char *node, const struct episode *e)
{
    uint64_t have =
        node_ledger_recorded(wit->raft, LEDGER_ENTRY_READ_ONLY_ENTER, node, "at_ms", e->enter_ms);
    if (have != 0)
        return have;
    struct node_pack a, b;
    node_pack_init(&a);
    node_pack_init(&b);
    msgpack_pack_map(&a.pk, 4);
    node_mp_kv_str(&a.pk, "node", node, strlen(node));
    node_mp_kv_u64(&a.pk, "at_ms", e->enter_ms);
    node_mp_kv_u64(&a.pk, "term", e->enter_term);
    node_mp_kv_bool(&a.pk, "was_leader", e->was_leader);
    msgpack_pack_map(&b.pk, 5);
    node_mp_kv_str(&b.pk, "node", node, strlen(node));
    node_mp_kv_u64(&b.pk, "at_ms", e->exit_ms);
    node_mp_kv_u64(&b.pk, "term", e->exit_term);
    node_mp_kv_str(&b.pk, "leader", wit->base->cfg.id, strlen(wit->base->cfg.id));
    node_mp_kv_u64(&b.pk, "duration_ms", episodes_duration(e));
    const uint32_t types[2] = {LEDGER_ENTRY_READ_ONLY_ENTER, LEDGER_ENTRY_READ_ONLY_EXIT};
    const uint8_t *payloads[2] = {(const uint8_t *)a.sb.data, (const uint8_t *)b.sb.data};
    size_t lens[2] = {a.sb.size, b.sb.size};
    uint64_t first = 0, last;
    char err[256];
    if (node_repl_append_types(wit->raft, types, payloads, lens, 2, &first, &last, err,
                               sizeof(err)) != 0)
        first = 0;
    node_pack_free(&a);
    node_pack_free(&b);
    return first;
}

/* Whether the enter entry at index is this node's episode and committed. */
static bool committed_here(struct node_witness *wit, const struct episode *e)
{
    return episodes_may_be_recorded(e, wit->raft->cons.commit,
                                    ledger_last_index(wit->raft->ledger)) &&
           node_ledger_holds(wit->raft, e->index, LEDGER_ENTRY_READ_ONLY_ENTER, wit->base->cfg.id,
                             "at_ms", e->enter_ms);
}

/* Reports, records and forgets episodes as the core says (episodes.h). */
void node_episodes_tick(struct node_witness *wit)
{
    struct episodes *eps = &wit->episodes;
    int32_t leader = wit->raft->cons.leader;
    if (!wit->raft->ledger || wit->base->stopping ||
        !episodes_due(eps, leader != CONS_NONE,
                      cons_read_only(&wit->raft->cons, uv_now(wit->base->loop))))
        return;
    enum episodes_do what[EPISODES_MAX];
    for (size_t i = 0; i < eps->n; i++) {
        struct episode *e = &eps->list[i];
        what[i] = episodes_step(e, committed_here(wit, e), wit->raft->cons.commit,
                                leader == wit->raft->cons.cfg.self);
        if (what[i] == EPISODES_RECORD) {
            e->index = record(wit, wit->base->cfg.id, e);
        } else if (what[i] == EPISODES_REPORT) {
            struct node_pack p;
            node_pack_init(&p);
            msgpack_pack_array(&p.pk, 6);
            msgpack_pack_uint32(&p.pk, MSG_EPISODE_REPORT);
            msgpack_pack_uint64(&p.pk, e->enter_ms);
            msgpack_pack_uint64(&p.pk, e->exit_ms);
            msgpack_pack_uint64(&p.pk, e->enter_term);
            msgpack_pack_uint64(&p.pk, e->exit_term);
            if (e->was_leader)
                msgpack_pack_true(&p.pk);
            else
                msgpack_pack_false(&p.pk);
            node_pack_send(wit->base, (size_t)leader, ENV_LEDGER, &p);
        }
    }
    episodes_sweep(eps, what);
}

void node_episodes_on_report(struct node_witness *wit, size_t from, const msgpack_object *f)
{
    if (wit->raft->cons.role != CONS_LEADER || wit->base->stopping)
        return; /* it will report again to whoever leads */
    struct episode e = {.enter_ms = f[1].via.u64,
                        .exit_ms = f[2].via.u64,
                        .enter_term = f[3].via.u64,
                        .exit_term = f[4].via.u64,
                        .was_leader = f[5].via.boolean};
    uint64_t index = record(wit, wit->base->peers.m[from].id, &e);
    if (index == 0)
        return;
    struct node_pack p;
    node_pack_init(&p);
    msgpack_pack_array(&p.pk, 3);
    msgpack_pack_uint32(&p.pk, MSG_EPISODE_ACK);
    msgpack_pack_uint64(&p.pk, e.enter_ms);
    msgpack_pack_uint64(&p.pk, index);
    node_pack_send(wit->base, from, ENV_LEDGER, &p);
}

void node_episodes_on_ack(struct node_witness *wit, size_t from, const msgpack_object *f)
{
    episodes_ack(&wit->episodes, f[1].via.u64, f[2].via.u64,
                 (int32_t)from == wit->raft->cons.leader);
}
