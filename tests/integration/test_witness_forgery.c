/* Integration: forged node-to-node messages against real chimerad
 * processes. The cluster key lets a process seal envelopes as any member
 * (design.md, "Node-to-node transport"), but it must not let it write the
 * ledger: APPENDs are signed by the leader and checkpoints by pinned member
 * keys (node/witness/node_witness.c). Each test starts three nodes, waits until
 * the ledger records every member's key and is checkpointed at its head,
 * stops one follower for good (the "forged" member: its id is the one the
 * test impersonates, with envelope counters above any it used) and sends
 * what it forges to the other follower (the target) through the target's
 * NNG inbox, as a peer would. Every wait is on a condition, never on time. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <msgpack.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness.h"

#include "consensus/consensus.h"
#include "ledger/entry.h"
#include "ledger/sign.h"
#include "node/base/envelope.h"

#define NODES 3
#define HEX_HASH (2 * LEDGER_HASH_BYTES + 1)
#define HEX_PK (2 * LEDGER_PUBKEY_BYTES + 1)

/* ENV_LEDGER kinds (node/witness/node_witness.c). */
enum { WITNESS_CHECKPOINT = 1, WITNESS_COSIGN = 2 };

#define DROPPED_SIGNATURE "chimera_messages_dropped_total{reason=\"signature\"}"
#define DROPPED_SHAPE "chimera_messages_dropped_total{reason=\"shape\"}"
#define EQUIVOCATIONS "chimera_ledger_equivocations_total"

struct fixture {
    struct h_cluster *c;
    struct h_forge *f;
};

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));
    if (!fx)
        return -1;
    *state = fx;
    fx->c = h_cluster_create(NODES);
    /* What is tested is what a node does with forged messages, not elections:
     * the scene keeps its leader and the target's checkpoint, and at the
     * default 150 ms a loaded machine's scheduler alone costs the leader now
     * and then (an election checkpoints anew: "n2's checkpoint changed"). */
    if (fx->c)
        fx->c->election_timeout_ms = 1000;
    fx->f = fx->c ? h_forge_open(fx->c) : NULL;
    return fx->f ? 0 : -1;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    h_forge_close(fx->f);
    h_cluster_destroy(fx->c);
    free(fx);
    return 0;
}

/* ---- what a node reports ------------------------------------------------ */

struct head {
    uint64_t index, committed, term;
    uint8_t hash[LEDGER_HASH_BYTES];
    bool has_cp;
    uint64_t cp_index, cp_term;
    uint8_t cp_hash[LEDGER_HASH_BYTES];
    char origin[LEDGER_ID_MAX];
    size_t cp_nsigs;
    char cp_signers[LEDGER_MAX_SIGS][LEDGER_ID_MAX];
    char cp_keys[LEDGER_MAX_SIGS][HEX_PK]; /* the signers' public keys, hex */
};

static bool unhex_json(const json_t *j, uint8_t *out, size_t n)
{
    const char *s = json_string_value(j);
    return s && ledger_unhex(s, out, n) == 0;
}

/* GET /ledger/head on node i. */
static bool get_head(const struct h_cluster *c, int i, struct head *h)
{
    long st = 0;
    json_t *j = h_http_get_json(c, i, "/ledger/head", &st);
    memset(h, 0, sizeof(*h));
    bool ok = st == 200 && json_is_object(j);
    if (ok) {
        h->index = (uint64_t)json_integer_value(json_object_get(j, "index"));
        h->committed = (uint64_t)json_integer_value(json_object_get(j, "committed"));
        h->term = (uint64_t)json_integer_value(json_object_get(j, "term"));
        ok = h->index == 0 || unhex_json(json_object_get(j, "hash"), h->hash, LEDGER_HASH_BYTES);
    }
    const json_t *cp = ok ? json_object_get(j, "checkpoint") : NULL;
    if (ok && json_is_object(cp)) {
        h->has_cp = true;
        h->cp_index = (uint64_t)json_integer_value(json_object_get(cp, "index"));
        h->cp_term = (uint64_t)json_integer_value(json_object_get(cp, "term"));
        const char *origin = json_string_value(json_object_get(cp, "origin"));
        const json_t *sigs = json_object_get(cp, "signatures");
        ok = origin &&
             unhex_json(json_object_get(cp, "head_hash"), h->cp_hash, LEDGER_HASH_BYTES) &&
             json_is_array(sigs) && json_array_size(sigs) <= LEDGER_MAX_SIGS;
        if (ok) {
            snprintf(h->origin, sizeof(h->origin), "%s", origin);
            h->cp_nsigs = json_array_size(sigs);
            for (size_t k = 0; k < h->cp_nsigs; k++) {
                const json_t *sg = json_array_get(sigs, k);
                const char *signer = json_string_value(json_object_get(sg, "signer"));
                const char *pk = json_string_value(json_object_get(sg, "pubkey"));
                snprintf(h->cp_signers[k], LEDGER_ID_MAX, "%s", signer ? signer : "");
                snprintf(h->cp_keys[k], HEX_PK, "%s", pk ? pk : "");
            }
        }
    }
    json_decref(j);
    return ok;
}

/* The public key node i's ledger records for member id (hex), following
 * membership entries (ADD, REMOVE) from index 1. */
static bool recorded_key(const struct h_cluster *c, int i, const char *id, char out[HEX_PK])
{
    bool found = false;
    for (long long from = 1;;) {
        char path[96];
        long st = 0;
        snprintf(path, sizeof(path), "/ledger?from=%lld&limit=1000", from);
        json_t *j = h_http_get_json(c, i, path, &st);
        const json_t *entries = json_object_get(j, "entries");
        if (st != 200 || !json_is_array(entries)) {
            json_decref(j);
            return false;
        }
        size_t n = json_array_size(entries);
        for (size_t k = 0; k < n; k++) {
            const json_t *e = json_array_get(entries, k);
            const char *type = json_string_value(json_object_get(e, "type"));
            const json_t *d = json_object_get(e, "data");
            const char *op = json_string_value(json_object_get(d, "op"));
            const char *node = json_string_value(json_object_get(d, "node"));
            const char *pk = json_string_value(json_object_get(d, "pubkey"));
            if (!type || strcmp(type, "membership") != 0 || !op || !node || !pk ||
                strcmp(node, id) != 0)
                continue;
            found = strcmp(op, "add") == 0;
            snprintf(out, HEX_PK, "%s", pk);
        }
        json_decref(j);
        if (n == 0)
            break;
        from += (long long)n;
    }
    return found;
}

struct metric_arg {
    struct h_cluster *c;
    int node;
    const char *sample;
    double at_least;
    double value;
};

static bool metric_at_least(void *arg)
{
    struct metric_arg *a = arg;
    return h_metric(a->c, a->node, a->sample, &a->value) && a->value >= a->at_least;
}

static double metric(struct h_cluster *c, int i, const char *sample)
{
    double v = -1;
    if (!h_metric(c, i, sample, &v))
        fail_msg("%s does not report %s", c->nodes[i].id, sample);
    return v;
}

static void wait_metric(struct h_cluster *c, int i, const char *sample, double at_least,
                        const char *what)
{
    struct metric_arg a = {.c = c, .node = i, .sample = sample, .at_least = at_least};
    if (!h_wait_until(metric_at_least, &a, h_timeout_ms()))
        fail_msg("%s: %s's %s stayed at %g, below %g (log: %s)", what, c->nodes[i].id, sample,
                 a.value, at_least, c->nodes[i].log);
}

/* ---- the scene: three nodes, one follower stopped ------------------------ */

struct scene {
    int leader, forged, target; /* node indices */
    const char *forged_id;
    unsigned long long term;      /* the target's (and the leader's) term */
    struct head head;             /* the target's */
    struct ledger_key forged_key; /* the forged member's real node key */
};

struct stable_arg {
    struct h_cluster *c;
    struct scene *s;
};

/* Leader and target agree on one head, committed and checkpointed; the
 * target follows the leader; its ledger records every member's key, the
 * forged member's being the one in its node.key. */
static bool stable(void *arg)
{
    struct stable_arg *a = arg;
    struct h_cluster *c = a->c;
    struct scene *s = a->s;
    struct head hl, ht;
    struct h_view vl, vt;
    if (!get_head(c, s->leader, &hl) || !get_head(c, s->target, &ht) ||
        !h_view(c, s->leader, 0, &vl) || !h_view(c, s->target, 0, &vt))
        return false;
    if (ht.index == 0 || ht.index != ht.committed || !ht.has_cp || ht.cp_index != ht.index ||
        hl.index != ht.index || hl.committed != hl.index || !hl.has_cp || hl.cp_index != hl.index ||
        memcmp(hl.hash, ht.hash, LEDGER_HASH_BYTES) != 0 || strcmp(vl.role, "leader") != 0 ||
        strcmp(vt.role, "follower") != 0 || strcmp(vt.leader, c->nodes[s->leader].id) != 0 ||
        vt.term != vl.term || vt.read_only)
        return false;
    char hex[HEX_PK], want[HEX_PK];
    for (int i = 0; i < c->n; i++)
        if (!recorded_key(c, s->target, c->nodes[i].id, hex))
            return false;
    recorded_key(c, s->target, s->forged_id, hex);
    ledger_hex(s->forged_key.pk, LEDGER_PUBKEY_BYTES, want);
    if (strcmp(hex, want) != 0)
        return false;
    s->term = vt.term;
    s->head = ht;
    return true;
}

/* Starts the cluster, stops a follower for good (the forged member) and
 * waits until the other follower (the target) is in a steady state. */
static void prepare(struct h_cluster *c, struct scene *s)
{
    memset(s, 0, sizeof(*s));
    int leader = h_start_agreed(c, "test_witness_forgery", NULL);
    if (leader < 0)
        fail_msg("the federation did not come up with a leader (the line above says why)");
    s->forged = leader == 0 ? 1 : 0;
    s->forged_id = c->nodes[s->forged].id;
    if (h_node_key(c, s->forged, &s->forged_key) != 0)
        fail_msg("cannot read %s's node key in %s", s->forged_id, c->nodes[s->forged].data);
    /* Its key must be on the record before it goes. */
    struct stable_arg a = {.c = c, .s = s};
    s->leader = leader;
    s->target = 3 - leader - s->forged;
    if (!h_wait_until(stable, &a, h_timeout_ms()))
        fail_msg("the ledger never recorded every key at a checkpointed head: %s", h_views_line(c));
    assert_int_equal(h_node_stop(c, s->forged), 0);
    if (!h_wait_agreed(c, 0, h_timeout_ms(), &leader, NULL))
        fail_msg("no leader agreed after %s stopped: %s", s->forged_id, h_views_line(c));
    s->leader = leader;
    s->target = 3 - leader - s->forged;
    if (!h_wait_until(stable, &a, h_timeout_ms()))
        fail_msg("%s and %s never reached one checkpointed head: %s", c->nodes[s->leader].id,
                 c->nodes[s->target].id, h_views_line(c));
}

/* ---- forging ----------------------------------------------------------- */

static void random_key(struct ledger_key *k)
{
    uint8_t seed[LEDGER_SEED_BYTES];
    randombytes_buf(seed, sizeof(seed));
    ledger_key_from_seed(seed, k);
}

/* A note entry (exact bytes into buf) and its hash. */
static size_t note_entry(uint64_t index, uint64_t term, const char *author, const char *text,
                         const uint8_t prev[LEDGER_HASH_BYTES], uint8_t *buf, size_t cap,
                         uint8_t hash[LEDGER_HASH_BYTES])
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_str_with_body(&pk, text, strlen(text));
    struct ledger_entry e = {.index = index,
                             .term = term,
                             .type = LEDGER_ENTRY_NOTE,
                             .timestamp_ms = (uint64_t)time(NULL) * 1000u,
                             .payload = (const uint8_t *)sb.data,
                             .payload_len = sb.size};
    snprintf(e.author, sizeof(e.author), "%s", author);
    memcpy(e.prev_hash, prev, LEDGER_HASH_BYTES);
    size_t len = 0;
    assert_int_equal(ledger_entry_encode(&e, buf, cap, &len), LEDGER_OK);
    msgpack_sbuffer_destroy(&sb);
    ledger_entry_hash(prev, buf, len, hash);
    return len;
}

/* An APPEND of n entries after the target's head in term, signed by key
 * over the last one's statement, sent as the forged member. */
static void send_append(struct h_forge *f, const struct scene *s, uint64_t term,
                        const struct cons_wire_entry *entries, uint32_t n,
                        const uint8_t last_hash[LEDGER_HASH_BYTES], const struct ledger_key *key)
{
    struct ledger_sig sig;
    ledger_entry_sign(key, s->forged_id, s->head.index + n, term, last_hash, &sig);
    struct cons_msg m = {.type = CONS_MSG_APPEND,
                         .term = term,
                         .commit = s->head.committed,
                         .prev_index = s->head.index,
                         .n_entries = n,
                         .has_sig = true};
    memcpy(m.prev_hash, s->head.hash, LEDGER_HASH_BYTES);
    memcpy(m.sig, sig.sig, LEDGER_SIG_BYTES);
    uint8_t *body;
    size_t len;
    assert_int_equal(cons_msg_encode(&m, entries, &body, &len), 0);
    assert_int_equal(h_forge_send(f, s->target, ENV_CONSENSUS, s->forged_id, body, len), 0);
    free(body);
}

static void pack_bin(msgpack_packer *pk, const void *p, size_t n)
{
    msgpack_pack_bin(pk, n);
    msgpack_pack_bin_body(pk, p, n);
}

static void pack_sig(msgpack_packer *pk, const struct ledger_sig *s)
{
    msgpack_pack_array(pk, 3);
    msgpack_pack_str_with_body(pk, s->signer, strlen(s->signer));
    pack_bin(pk, s->pubkey, LEDGER_PUBKEY_BYTES);
    pack_bin(pk, s->sig, LEDGER_SIG_BYTES);
}

/* Encodes a checkpoint like the target's latest with this head hash and
 * term into bytes. */
static size_t checkpoint_bytes(const struct scene *s, const uint8_t hash[LEDGER_HASH_BYTES],
                               uint64_t term, uint8_t bytes[LEDGER_CHECKPOINT_MAX])
{
    struct ledger_checkpoint cp = {.index = s->head.cp_index, .term = term};
    snprintf(cp.origin, sizeof(cp.origin), "%s", s->head.origin);
    memcpy(cp.head_hash, hash, LEDGER_HASH_BYTES);
    size_t len = 0;
    assert_int_equal(ledger_checkpoint_encode(&cp, bytes, &len), LEDGER_OK);
    return len;
}

/* Sends [WITNESS_CHECKPOINT, bytes, [sig]] as the forged member. */
static void send_checkpoint(struct h_forge *f, const struct scene *s, const uint8_t *bytes,
                            size_t len, const struct ledger_sig *sig)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 3);
    msgpack_pack_uint32(&pk, WITNESS_CHECKPOINT);
    pack_bin(&pk, bytes, len);
    msgpack_pack_array(&pk, 1);
    pack_sig(&pk, sig);
    assert_int_equal(h_forge_send(f, s->target, ENV_LEDGER, s->forged_id, sb.data, sb.size), 0);
    msgpack_sbuffer_destroy(&sb);
}

/* The checkpoint the target reports is still the one it had. */
static void expect_checkpoint_unchanged(struct h_cluster *c, const struct scene *s)
{
    struct head now;
    if (!get_head(c, s->target, &now))
        fail_msg("%s does not answer GET /ledger/head", c->nodes[s->target].id);
    char was[HEX_HASH], is[HEX_HASH];
    ledger_hex(s->head.cp_hash, LEDGER_HASH_BYTES, was);
    ledger_hex(now.cp_hash, LEDGER_HASH_BYTES, is);
    if (!now.has_cp || now.cp_index != s->head.cp_index || now.cp_term != s->head.cp_term ||
        strcmp(is, was) != 0)
        fail_msg("%s's checkpoint changed: index %llu term %llu head %s, was index %llu term "
                 "%llu head %s",
                 c->nodes[s->target].id, (unsigned long long)now.cp_index,
                 (unsigned long long)now.cp_term, is, (unsigned long long)s->head.cp_index,
                 (unsigned long long)s->head.cp_term, was);
}

/* ---- 1. APPEND signed by a key that is not the leader's ----------------- */

/* The ledger page of node i from index `from` holds these hashes. */
static void expect_entries(struct h_cluster *c, int i, uint64_t from,
                           const uint8_t (*hashes)[LEDGER_HASH_BYTES], size_t n)
{
    char path[96];
    long st = 0;
    snprintf(path, sizeof(path), "/ledger?from=%llu&limit=%zu", (unsigned long long)from, n);
    json_t *j = h_http_get_json(c, i, path, &st);
    const json_t *entries = json_object_get(j, "entries");
    if (st != 200 || json_array_size(entries) != n)
        fail_msg("%s: GET %s answered %ld with %zu entries, want %zu", c->nodes[i].id, path, st,
                 json_array_size(entries), n);
    for (size_t k = 0; k < n; k++) {
        char want[HEX_HASH];
        ledger_hex(hashes[k], LEDGER_HASH_BYTES, want);
        const char *got = json_string_value(json_object_get(json_array_get(entries, k), "hash"));
        if (!got || strcmp(got, want) != 0)
            fail_msg("%s: entry %llu has hash %s, want the forged member's %s", c->nodes[i].id,
                     (unsigned long long)(from + k), got ? got : "(none)", want);
    }
    json_decref(j);
}

static void test_append_signed_by_unrecorded_key_is_neither_acknowledged_nor_stored(void **state)
{
    struct fixture *fx = *state;
    struct h_cluster *c = fx->c;
    struct scene s;
    prepare(c, &s);
    const char *target_id = c->nodes[s.target].id;

    /* Take the forged member's inbox, so that the target's answers to it
     * arrive here; the target's first heartbeat says its dialer found us. */
    assert_int_equal(h_forge_listen(fx->f, s.forged), 0);
    bool heard = false;
    uint64_t deadline = h_now_ns() + (uint64_t)h_timeout_ms() * 1000000u;
    while (!heard && h_now_ns() < deadline) {
        struct env_msg msg;
        if (h_forge_recv(fx->f, 200, &msg) != 0)
            continue;
        heard = strcmp(msg.from, target_id) == 0;
        env_msg_free(&msg);
    }
    if (!heard)
        fail_msg("%s never sent anything to %s's inbox", target_id, s.forged_id);

    /* Two notes after the target's head, in the next term: the target takes
     * the sender for that term's leader, and checks the chain and the
     * signature against the key its ledger records for the sender. */
    uint64_t term = s.term + 1;
    static uint8_t buf[2][512];
    uint8_t hashes[2][LEDGER_HASH_BYTES];
    struct cons_wire_entry e[2];
    e[0].bytes = buf[0];
    e[0].len = note_entry(s.head.index + 1, term, s.forged_id, "forged one", s.head.hash, buf[0],
                          sizeof(buf[0]), hashes[0]);
    e[1].bytes = buf[1];
    e[1].len = note_entry(s.head.index + 2, term, s.forged_id, "forged two", hashes[0], buf[1],
                          sizeof(buf[1]), hashes[1]);

    /* The first note alone, chained right but signed by a stranger's key. */
    struct ledger_key stranger;
    random_key(&stranger);
    double dropped = metric(c, s.target, DROPPED_SIGNATURE);
    send_append(fx->f, &s, term, e, 1, hashes[0], &stranger);
    wait_metric(c, s.target, DROPPED_SIGNATURE, dropped + 1,
                "an APPEND signed by a key the ledger does not record for its sender");
    struct head after;
    if (!get_head(c, s.target, &after))
        fail_msg("%s does not answer GET /ledger/head", target_id);
    if (after.index != s.head.index || memcmp(after.hash, s.head.hash, LEDGER_HASH_BYTES) != 0)
        fail_msg("%s's head moved from %llu to %llu after a refused APPEND", target_id,
                 (unsigned long long)s.head.index, (unsigned long long)after.index);

    /* Positive control: both notes signed with the sender's real key are
     * stored and acknowledged (match_index head + 2). An answer to the
     * refused APPEND would have come first (one connection, in order) and
     * would say match_index head + 1. */
    send_append(fx->f, &s, term, e, 2, hashes[1], &s.forged_key);
    bool acked = false, refused_acked = false;
    deadline = h_now_ns() + (uint64_t)h_timeout_ms() * 1000000u;
    while (!acked && h_now_ns() < deadline) {
        struct env_msg msg;
        if (h_forge_recv(fx->f, 200, &msg) != 0)
            continue;
        struct cons_msg m;
        static struct cons_wire_entry carried[CONS_MAX_BATCH];
        if (strcmp(msg.from, target_id) == 0 && msg.type == ENV_CONSENSUS &&
            cons_msg_decode(&msg.body, &m, carried) == 0 && m.type == CONS_MSG_APPEND_RESP &&
            m.granted) {
            refused_acked |= m.match_index == s.head.index + 1;
            acked |= m.match_index == s.head.index + 2;
        }
        env_msg_free(&msg);
    }
    if (refused_acked)
        fail_msg("%s acknowledged the APPEND signed by a stranger's key", target_id);
    if (!acked)
        fail_msg("%s never acknowledged the APPEND signed by %s's recorded key (log: %s)",
                 target_id, s.forged_id, c->nodes[s.target].log);
    expect_entries(c, s.target, s.head.index + 1, (const uint8_t(*)[LEDGER_HASH_BYTES])hashes, 2);
    assert_true(metric(c, s.target, DROPPED_SIGNATURE) == dropped + 1);
    h_cluster_pass(c);
}

/* ---- 2. equivocating checkpoint by a recorded key ------------------------ */

/* Stops node i and checks that offline verify counts exactly one piece of
 * evidence in its ledger. */
static void expect_evidence_offline(struct h_cluster *c, int i)
{
    assert_int_equal(h_node_stop(c, i), 0);
    int code = -1;
    char *out = NULL, *err = NULL;
    assert_true(h_ctl(c, -1, &code, &out, &err, "ledger", "verify", "--data", c->nodes[i].data,
                      "--json", NULL));
    json_t *rep = out ? json_loads(out, 0, NULL) : NULL;
    const json_t *evidence = json_object_get(rep, "evidence");
    if (!json_is_integer(evidence) || json_integer_value(evidence) != 1)
        fail_msg("chimeractl ledger verify --data %s --json (exit %d) reports evidence %s: %s %s",
                 c->nodes[i].data, code, json_is_integer(evidence) ? "other than 1" : "nowhere",
                 out ? out : "", err ? err : "");
    json_decref(rep);
    free(out);
    free(err);
}

/* Node i's event number seq says words in its message. */
static void expect_event_says(struct h_cluster *c, int i, unsigned long long seq, const char *words)
{
    json_t *ev = h_events(c, i);
    size_t k;
    json_t *e;
    const char *said = NULL;
    json_array_foreach(ev, k, e)
    {
        if ((unsigned long long)json_integer_value(json_object_get(e, "seq")) == seq)
            said = json_string_value(json_object_get(e, "message"));
    }
    if (!said || !strstr(said, words))
        fail_msg("%s's event %llu says \"%s\", not \"%s\"", c->nodes[i].id, seq,
                 said ? said : "(gone)", words);
    json_decref(ev);
}

static void
test_conflicting_checkpoint_by_recorded_key_is_refused_and_kept_as_evidence(void **state)
{
    struct fixture *fx = *state;
    struct h_cluster *c = fx->c;
    struct scene s;
    prepare(c, &s);
    const char *target_id = c->nodes[s.target].id;
    assert_true(metric(c, s.target, EQUIVOCATIONS) == 0);

    /* The index of the target's latest checkpoint, another head hash,
     * signed by the forged member's real (recorded) key. */
    uint8_t other[LEDGER_HASH_BYTES];
    do
        randombytes_buf(other, sizeof(other));
    while (memcmp(other, s.head.cp_hash, LEDGER_HASH_BYTES) == 0);
    uint8_t bytes[LEDGER_CHECKPOINT_MAX];
    size_t len = checkpoint_bytes(&s, other, s.head.cp_term, bytes);
    struct ledger_sig sig;
    ledger_checkpoint_sign(&s.forged_key, s.forged_id, bytes, len, &sig);

    unsigned long long after = h_last_event_seq(c, s.target);
    send_checkpoint(fx->f, &s, bytes, len, &sig);
    unsigned long long seq =
        h_wait_event(c, s.target, "ledger.equivocation", s.forged_id, after, h_timeout_ms());
    if (!seq)
        fail_msg("%s raised no ledger.equivocation event for a second checkpoint of index %llu "
                 "(log: %s)",
                 target_id, (unsigned long long)s.head.cp_index, c->nodes[s.target].log);
    /* Raised when the evidence is written, before its sync returns: it
     * claims no more than that. */
    expect_event_says(c, s.target, seq, "evidence written to the ledger, durable once its sync");
    wait_metric(c, s.target, EQUIVOCATIONS, 1, "a conflicting checkpoint");
    assert_true(metric(c, s.target, EQUIVOCATIONS) == 1);
    expect_checkpoint_unchanged(c, &s);

    /* The evidence is in the ledger: offline verify counts it. */
    expect_evidence_offline(c, s.target);

    /* Evidence it recorded itself does not keep the node from starting,
     * and the checkpoint it serves is still the original one. */
    assert_int_equal(h_node_start(c, s.target), 0);
    if (!h_wait_http_up(c, s.target, h_timeout_ms()))
        fail_msg("%s did not start again on a ledger holding evidence (log: %s)", target_id,
                 c->nodes[s.target].log);
    expect_checkpoint_unchanged(c, &s);
    h_cluster_pass(c);
}

/* ---- 2b. two different entries for one index in one term ---------------- */

struct head_arg {
    struct h_cluster *c;
    int i;
    uint64_t index;
    const uint8_t *hash;
};

static bool head_is(void *arg)
{
    struct head_arg *a = arg;
    struct head h;
    return get_head(a->c, a->i, &h) && h.index == a->index &&
           memcmp(h.hash, a->hash, LEDGER_HASH_BYTES) == 0;
}

static void
test_a_second_entry_signed_for_one_index_in_one_term_is_refused_as_evidence(void **state)
{
    struct fixture *fx = *state;
    struct h_cluster *c = fx->c;
    struct scene s;
    prepare(c, &s);
    const char *target_id = c->nodes[s.target].id;
    assert_true(metric(c, s.target, EQUIVOCATIONS) == 0);

    /* As the leader of the next term, one note after the head, properly
     * signed: stored. */
    uint64_t term = s.term + 1;
    static uint8_t buf[2][512];
    uint8_t hashes[2][LEDGER_HASH_BYTES];
    struct cons_wire_entry first = {buf[0], 0}, second = {buf[1], 0};
    first.len = note_entry(s.head.index + 1, term, s.forged_id, "said first", s.head.hash, buf[0],
                           sizeof(buf[0]), hashes[0]);
    second.len = note_entry(s.head.index + 1, term, s.forged_id, "said instead", s.head.hash,
                            buf[1], sizeof(buf[1]), hashes[1]);
    send_append(fx->f, &s, term, &first, 1, hashes[0], &s.forged_key);
    struct head_arg ha = {.c = c, .i = s.target, .index = s.head.index + 1, .hash = hashes[0]};
    if (!h_wait_until(head_is, &ha, h_timeout_ms()))
        fail_msg("%s never stored the first, properly signed note (log: %s)", target_id,
                 c->nodes[s.target].log);

    /* The same index in the same term, another entry, signed by the same
     * key: the leader of that term equivocated. */
    unsigned long long after = h_last_event_seq(c, s.target);
    send_append(fx->f, &s, term, &second, 1, hashes[1], &s.forged_key);
    if (!h_wait_event(c, s.target, "ledger.equivocation", s.forged_id, after, h_timeout_ms()))
        fail_msg("%s raised no ledger.equivocation event for a second entry at index %llu of "
                 "term %llu (log: %s)",
                 target_id, (unsigned long long)(s.head.index + 1), (unsigned long long)term,
                 c->nodes[s.target].log);
    wait_metric(c, s.target, EQUIVOCATIONS, 1, "a second entry for one index in one term");
    /* The second was never accepted: the first is still there. */
    expect_entries(c, s.target, s.head.index + 1, (const uint8_t(*)[LEDGER_HASH_BYTES])hashes, 1);
    expect_evidence_offline(c, s.target);
    h_cluster_pass(c);
}

/* ---- 3. checkpoint signed by a key not recorded for its signer ---------- */

static void test_checkpoint_signed_by_key_not_recorded_for_signer_is_refused(void **state)
{
    struct fixture *fx = *state;
    struct h_cluster *c = fx->c;
    struct scene s;
    prepare(c, &s);

    /* A checkpoint of the target's latest index with the right head hash
     * (only its term differs, so its bytes are new), claimed by the forged
     * member but signed by (a) a stranger's key, (b) the leader's key,
     * which the ledger records for the leader, not for the signer. */
    uint8_t bytes[LEDGER_CHECKPOINT_MAX];
    size_t len = checkpoint_bytes(&s, s.head.cp_hash, s.head.cp_term + 1, bytes);
    struct ledger_key keys[2];
    random_key(&keys[0]);
    if (h_node_key(c, s.leader, &keys[1]) != 0)
        fail_msg("cannot read %s's node key", c->nodes[s.leader].id);
    const char *what[2] = {"a stranger's key", "the leader's key"};
    for (int k = 0; k < 2; k++) {
        struct ledger_sig sig;
        ledger_checkpoint_sign(&keys[k], s.forged_id, bytes, len, &sig);
        double dropped = metric(c, s.target, DROPPED_SIGNATURE);
        send_checkpoint(fx->f, &s, bytes, len, &sig);
        wait_metric(c, s.target, DROPPED_SIGNATURE, dropped + 1, what[k]);
        expect_checkpoint_unchanged(c, &s);
        struct head now;
        assert_true(get_head(c, s.target, &now));
        char hex[HEX_PK];
        ledger_hex(keys[k].pk, LEDGER_PUBKEY_BYTES, hex);
        for (size_t i = 0; i < now.cp_nsigs; i++)
            if (strcmp(now.cp_signers[i], s.forged_id) == 0 && strcmp(now.cp_keys[i], hex) == 0)
                fail_msg("the checkpoint now carries %s's signature by %s", s.forged_id, what[k]);
    }
    assert_true(metric(c, s.target, EQUIVOCATIONS) == 0);
    h_cluster_pass(c);
}

/* ---- 4. malformed ledger messages --------------------------------------- */

struct bad_body {
    const char *name;
    void (*pack)(msgpack_packer *pk, const struct ledger_sig *sig, const uint8_t *cp, size_t len);
};

static void b_uint(msgpack_packer *pk, const struct ledger_sig *sig, const uint8_t *cp, size_t len)
{
    (void)sig, (void)cp, (void)len;
    msgpack_pack_uint32(pk, WITNESS_CHECKPOINT);
}

static void b_map(msgpack_packer *pk, const struct ledger_sig *sig, const uint8_t *cp, size_t len)
{
    (void)sig;
    msgpack_pack_map(pk, 1);
    msgpack_pack_str_with_body(pk, "checkpoint", 10);
    pack_bin(pk, cp, len);
}

static void b_str(msgpack_packer *pk, const struct ledger_sig *sig, const uint8_t *cp, size_t len)
{
    (void)sig, (void)cp, (void)len;
    msgpack_pack_str_with_body(pk, "checkpoint", 10);
}

static void b_bin(msgpack_packer *pk, const struct ledger_sig *sig, const uint8_t *cp, size_t len)
{
    (void)sig;
    pack_bin(pk, cp, len);
}

static void b_empty(msgpack_packer *pk, const struct ledger_sig *sig, const uint8_t *cp, size_t len)
{
    (void)sig, (void)cp, (void)len;
    msgpack_pack_array(pk, 0);
}

static void b_kind_str(msgpack_packer *pk, const struct ledger_sig *sig, const uint8_t *cp,
                       size_t len)
{
    msgpack_pack_array(pk, 3);
    msgpack_pack_str_with_body(pk, "1", 1);
    pack_bin(pk, cp, len);
    msgpack_pack_array(pk, 1);
    pack_sig(pk, sig);
}

static void b_kind_negative(msgpack_packer *pk, const struct ledger_sig *sig, const uint8_t *cp,
                            size_t len)
{
    msgpack_pack_array(pk, 3);
    msgpack_pack_int32(pk, -1);
    pack_bin(pk, cp, len);
    msgpack_pack_array(pk, 1);
    pack_sig(pk, sig);
}

static void b_kind_0(msgpack_packer *pk, const struct ledger_sig *sig, const uint8_t *cp,
                     size_t len)
{
    msgpack_pack_array(pk, 3);
    msgpack_pack_uint32(pk, 0);
    pack_bin(pk, cp, len);
    msgpack_pack_array(pk, 1);
    pack_sig(pk, sig);
}

static void b_kind_99(msgpack_packer *pk, const struct ledger_sig *sig, const uint8_t *cp,
                      size_t len)
{
    msgpack_pack_array(pk, 3);
    msgpack_pack_uint32(pk, 99);
    pack_bin(pk, cp, len);
    msgpack_pack_array(pk, 1);
    pack_sig(pk, sig);
}

static void b_kind_max(msgpack_packer *pk, const struct ledger_sig *sig, const uint8_t *cp,
                       size_t len)
{
    (void)sig, (void)cp, (void)len;
    msgpack_pack_array(pk, 1);
    msgpack_pack_uint64(pk, UINT64_MAX);
}

static void b_cp_two_fields(msgpack_packer *pk, const struct ledger_sig *sig, const uint8_t *cp,
                            size_t len)
{
    (void)sig;
    msgpack_pack_array(pk, 2);
    msgpack_pack_uint32(pk, WITNESS_CHECKPOINT);
    pack_bin(pk, cp, len);
}

static void b_cp_four_fields(msgpack_packer *pk, const struct ledger_sig *sig, const uint8_t *cp,
                             size_t len)
{
    msgpack_pack_array(pk, 4);
    msgpack_pack_uint32(pk, WITNESS_CHECKPOINT);
    pack_bin(pk, cp, len);
    msgpack_pack_array(pk, 1);
    pack_sig(pk, sig);
    msgpack_pack_nil(pk);
}

static void b_cp_bytes_str(msgpack_packer *pk, const struct ledger_sig *sig, const uint8_t *cp,
                           size_t len)
{
    (void)cp, (void)len;
    msgpack_pack_array(pk, 3);
    msgpack_pack_uint32(pk, WITNESS_CHECKPOINT);
    msgpack_pack_str_with_body(pk, "checkpoint", 10);
    msgpack_pack_array(pk, 1);
    pack_sig(pk, sig);
}

static void b_cp_sigs_str(msgpack_packer *pk, const struct ledger_sig *sig, const uint8_t *cp,
                          size_t len)
{
    (void)sig;
    msgpack_pack_array(pk, 3);
    msgpack_pack_uint32(pk, WITNESS_CHECKPOINT);
    pack_bin(pk, cp, len);
    msgpack_pack_str_with_body(pk, "sigs", 4);
}

static void b_cp_sigs_bare(msgpack_packer *pk, const struct ledger_sig *sig, const uint8_t *cp,
                           size_t len)
{
    /* One signature where the list of them belongs. */
    msgpack_pack_array(pk, 3);
    msgpack_pack_uint32(pk, WITNESS_CHECKPOINT);
    pack_bin(pk, cp, len);
    pack_sig(pk, sig);
}

static void b_cp_no_sigs(msgpack_packer *pk, const struct ledger_sig *sig, const uint8_t *cp,
                         size_t len)
{
    (void)sig;
    msgpack_pack_array(pk, 3);
    msgpack_pack_uint32(pk, WITNESS_CHECKPOINT);
    pack_bin(pk, cp, len);
    msgpack_pack_array(pk, 0);
}

static void b_cp_too_many_sigs(msgpack_packer *pk, const struct ledger_sig *sig, const uint8_t *cp,
                               size_t len)
{
    msgpack_pack_array(pk, 3);
    msgpack_pack_uint32(pk, WITNESS_CHECKPOINT);
    pack_bin(pk, cp, len);
    msgpack_pack_array(pk, LEDGER_MAX_SIGS + 1);
    for (int i = 0; i < LEDGER_MAX_SIGS + 1; i++)
        pack_sig(pk, sig);
}

static void b_sig_short(msgpack_packer *pk, const struct ledger_sig *sig, const uint8_t *cp,
                        size_t len)
{
    msgpack_pack_array(pk, 3);
    msgpack_pack_uint32(pk, WITNESS_CHECKPOINT);
    pack_bin(pk, cp, len);
    msgpack_pack_array(pk, 1);
    msgpack_pack_array(pk, 3);
    msgpack_pack_str_with_body(pk, sig->signer, strlen(sig->signer));
    pack_bin(pk, sig->pubkey, LEDGER_PUBKEY_BYTES);
    pack_bin(pk, sig->sig, LEDGER_SIG_BYTES - 1);
}

static void b_sig_signer_uint(msgpack_packer *pk, const struct ledger_sig *sig, const uint8_t *cp,
                              size_t len)
{
    msgpack_pack_array(pk, 3);
    msgpack_pack_uint32(pk, WITNESS_CHECKPOINT);
    pack_bin(pk, cp, len);
    msgpack_pack_array(pk, 1);
    msgpack_pack_array(pk, 3);
    msgpack_pack_uint32(pk, 1);
    pack_bin(pk, sig->pubkey, LEDGER_PUBKEY_BYTES);
    pack_bin(pk, sig->sig, LEDGER_SIG_BYTES);
}

static void b_sig_pubkey_str(msgpack_packer *pk, const struct ledger_sig *sig, const uint8_t *cp,
                             size_t len)
{
    msgpack_pack_array(pk, 3);
    msgpack_pack_uint32(pk, WITNESS_CHECKPOINT);
    pack_bin(pk, cp, len);
    msgpack_pack_array(pk, 1);
    msgpack_pack_array(pk, 3);
    msgpack_pack_str_with_body(pk, sig->signer, strlen(sig->signer));
    msgpack_pack_str_with_body(pk, (const char *)sig->pubkey, LEDGER_PUBKEY_BYTES);
    pack_bin(pk, sig->sig, LEDGER_SIG_BYTES);
}

static void b_sig_two_fields(msgpack_packer *pk, const struct ledger_sig *sig, const uint8_t *cp,
                             size_t len)
{
    msgpack_pack_array(pk, 3);
    msgpack_pack_uint32(pk, WITNESS_CHECKPOINT);
    pack_bin(pk, cp, len);
    msgpack_pack_array(pk, 1);
    msgpack_pack_array(pk, 2);
    msgpack_pack_str_with_body(pk, sig->signer, strlen(sig->signer));
    pack_bin(pk, sig->pubkey, LEDGER_PUBKEY_BYTES);
}

static void b_cp_oversize(msgpack_packer *pk, const struct ledger_sig *sig, const uint8_t *cp,
                          size_t len)
{
    static uint8_t big[LEDGER_CHECKPOINT_MAX + 1];
    (void)len;
    memcpy(big, cp, len);
    msgpack_pack_array(pk, 3);
    msgpack_pack_uint32(pk, WITNESS_CHECKPOINT);
    pack_bin(pk, big, sizeof(big));
    msgpack_pack_array(pk, 1);
    pack_sig(pk, sig);
}

static void b_cp_huge(msgpack_packer *pk, const struct ledger_sig *sig, const uint8_t *cp,
                      size_t len)
{
    static uint8_t huge[1024 * 1024];
    (void)cp, (void)len;
    msgpack_pack_array(pk, 3);
    msgpack_pack_uint32(pk, WITNESS_CHECKPOINT);
    pack_bin(pk, huge, sizeof(huge));
    msgpack_pack_array(pk, 1);
    pack_sig(pk, sig);
}

static void b_cp_undecodable(msgpack_packer *pk, const struct ledger_sig *sig, const uint8_t *cp,
                             size_t len)
{
    /* A msgpack array of three small integers: not a checkpoint. */
    static const uint8_t junk[] = {0x93, 0x01, 0x02, 0x03};
    (void)cp, (void)len;
    msgpack_pack_array(pk, 3);
    msgpack_pack_uint32(pk, WITNESS_CHECKPOINT);
    pack_bin(pk, junk, sizeof(junk));
    msgpack_pack_array(pk, 1);
    pack_sig(pk, sig);
}

static void b_cosign_oversize(msgpack_packer *pk, const struct ledger_sig *sig, const uint8_t *cp,
                              size_t len)
{
    static uint8_t big[4096];
    (void)cp, (void)len;
    msgpack_pack_array(pk, 3);
    msgpack_pack_uint32(pk, WITNESS_COSIGN);
    pack_bin(pk, big, sizeof(big));
    pack_sig(pk, sig);
}

static void b_cosign_sig_str(msgpack_packer *pk, const struct ledger_sig *sig, const uint8_t *cp,
                             size_t len)
{
    (void)sig;
    msgpack_pack_array(pk, 3);
    msgpack_pack_uint32(pk, WITNESS_COSIGN);
    pack_bin(pk, cp, len);
    msgpack_pack_str_with_body(pk, "sig", 3);
}

static void b_cosign_sig_list(msgpack_packer *pk, const struct ledger_sig *sig, const uint8_t *cp,
                              size_t len)
{
    /* A checkpoint's list of signatures where a cosignature's one belongs. */
    msgpack_pack_array(pk, 3);
    msgpack_pack_uint32(pk, WITNESS_COSIGN);
    pack_bin(pk, cp, len);
    msgpack_pack_array(pk, 1);
    pack_sig(pk, sig);
}

static void b_episode_report_bare(msgpack_packer *pk, const struct ledger_sig *sig,
                                  const uint8_t *cp, size_t len)
{
    (void)sig, (void)cp, (void)len;
    msgpack_pack_array(pk, 1);
    msgpack_pack_uint32(pk, 3);
}

static void b_episode_ack_str(msgpack_packer *pk, const struct ledger_sig *sig, const uint8_t *cp,
                              size_t len)
{
    (void)sig, (void)cp, (void)len;
    msgpack_pack_array(pk, 3);
    msgpack_pack_uint32(pk, 4);
    msgpack_pack_str_with_body(pk, "when", 4);
    msgpack_pack_uint32(pk, 1);
}

static const struct bad_body bad_bodies[] = {
    {"not an array: an unsigned integer", b_uint},
    {"not an array: a map", b_map},
    {"not an array: a string", b_str},
    {"not an array: the checkpoint bytes alone", b_bin},
    {"an empty array", b_empty},
    {"kind is a string", b_kind_str},
    {"kind is negative", b_kind_negative},
    {"unknown kind 0", b_kind_0},
    {"unknown kind 99 with a checkpoint's fields", b_kind_99},
    {"unknown kind UINT64_MAX", b_kind_max},
    {"checkpoint without its signatures", b_cp_two_fields},
    {"checkpoint with a fourth field", b_cp_four_fields},
    {"checkpoint bytes as a string", b_cp_bytes_str},
    {"checkpoint signatures as a string", b_cp_sigs_str},
    {"checkpoint with one bare signature instead of a list", b_cp_sigs_bare},
    {"checkpoint with an empty list of signatures", b_cp_no_sigs},
    {"checkpoint with more than LEDGER_MAX_SIGS signatures", b_cp_too_many_sigs},
    {"signature of 63 bytes", b_sig_short},
    {"signer is an integer", b_sig_signer_uint},
    {"public key as a string", b_sig_pubkey_str},
    {"signature without its signature bytes", b_sig_two_fields},
    {"checkpoint bin one byte over LEDGER_CHECKPOINT_MAX", b_cp_oversize},
    {"checkpoint bin of 1 MiB", b_cp_huge},
    {"checkpoint bytes that are not a checkpoint", b_cp_undecodable},
    {"cosignature of a 4 KiB bin", b_cosign_oversize},
    {"cosignature that is a string", b_cosign_sig_str},
    {"cosignature given as a list of signatures", b_cosign_sig_list},
    {"episode report without its fields", b_episode_report_bare},
    {"episode acknowledgement with a string time", b_episode_ack_str},
};

static void test_malformed_ledger_messages_are_dropped_as_shape_and_node_keeps_serving(void **state)
{
    struct fixture *fx = *state;
    struct h_cluster *c = fx->c;
    struct scene s;
    prepare(c, &s);
    const char *target_id = c->nodes[s.target].id;

    /* Well-formed parts to build the bad bodies around: the target's own
     * latest checkpoint, signed by the forged member's recorded key. */
    uint8_t cp[LEDGER_CHECKPOINT_MAX];
    size_t len = checkpoint_bytes(&s, s.head.cp_hash, s.head.cp_term, cp);
    struct ledger_sig sig;
    ledger_checkpoint_sign(&s.forged_key, s.forged_id, cp, len, &sig);
    double signature = metric(c, s.target, DROPPED_SIGNATURE);

    for (size_t k = 0; k < sizeof(bad_bodies) / sizeof(bad_bodies[0]); k++) {
        msgpack_sbuffer sb;
        msgpack_packer pk;
        msgpack_sbuffer_init(&sb);
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        bad_bodies[k].pack(&pk, &sig, cp, len);
        double dropped = metric(c, s.target, DROPPED_SHAPE);
        if (h_forge_send(fx->f, s.target, ENV_LEDGER, s.forged_id, sb.data, sb.size) != 0)
            fail_msg("could not send \"%s\"", bad_bodies[k].name);
        msgpack_sbuffer_destroy(&sb);
        wait_metric(c, s.target, DROPPED_SHAPE, dropped + 1, bad_bodies[k].name);
        if (!h_http_up(c, s.target))
            fail_msg("%s stopped serving /health/live after \"%s\" (log: %s)", target_id,
                     bad_bodies[k].name, c->nodes[s.target].log);
    }
    /* Still the same follower, with the same checkpoint, nothing taken for
     * a bad signature or an equivocation. */
    if (!h_wait_agreed(c, 0, h_timeout_ms(), NULL, NULL))
        fail_msg("the two nodes no longer agree: %s", h_views_line(c));
    expect_checkpoint_unchanged(c, &s);
    assert_true(metric(c, s.target, DROPPED_SIGNATURE) == signature);
    assert_true(metric(c, s.target, EQUIVOCATIONS) == 0);
    h_cluster_pass(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_append_signed_by_unrecorded_key_is_neither_acknowledged_nor_stored, setup,
            teardown),
        cmocka_unit_test_setup_teardown(
            test_conflicting_checkpoint_by_recorded_key_is_refused_and_kept_as_evidence, setup,
            teardown),
        cmocka_unit_test_setup_teardown(
            test_a_second_entry_signed_for_one_index_in_one_term_is_refused_as_evidence, setup,
            teardown),
        cmocka_unit_test_setup_teardown(
            test_checkpoint_signed_by_key_not_recorded_for_signer_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_malformed_ledger_messages_are_dropped_as_shape_and_node_keeps_serving, setup,
            teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
