/* Witnesses: what makes the replicated ledger signed rather than merely
 * replicated.
 *
 *   - The leader signs every APPEND it sends: an entry signature over the
 *     last carried entry (ledger/sign.h), which through the hash chain
 *     covers every carried entry. A witness verifies it against the
 *     leader's key before the consensus core may acknowledge anything.
 *   - Keys: each node announces its public key in its heartbeats (sealed
 *     with the cluster key). The leader records every member's key in the
 *     ledger (membership entries), and from then on the recorded key is the
 *     only one accepted for that node: it is pinned. A node whose key
 *     changed (its data directory was wiped) is rotated by the leader in
 *     the ledger, REMOVE then ADD, with an event, so the change is on the
 *     record rather than silent. A node whose own ledger pins another key
 *     for it than DATA/node.key holds refuses to start (a key file edited
 *     or swapped by mistake must not become a new identity) unless told
 *     with --replace-node-key; one without a ledger (wiped) takes a new
 *     key as before.
 *   - Checkpoints: the leader signs a checkpoint over the committed head at
 *     most once per heartbeat interval while the commit index moves, stores
 *     it and sends it to the witnesses; each witness that holds the same
 *     entry at that index stores it, cosigns and answers with its
 *     cosignature; a checkpoint signed by a quorum of members is notarized,
 *     and the leader sends it once more with every signature so that every
 *     node holds the notarized form.
 *   - Persist before acknowledge (§3.8): a checkpoint or cosignature is
 *     written without a sync and made durable by the sync the ledger's
 *     entries share, on the thread pool (node_group.c); every message of
 *     this file leaves only once the records written before it are durable
 *     (node_ledger_send_durable), so no member hears of a checkpoint or a
 *     cosignature that a crash could take back.
 *   - Equivocation: a checkpoint for an index that already has one with
 *     another head hash is never accepted; the two signed statements are
 *     stored as evidence and an event is raised.
 *
 * Ledger messages (envelope type ENV_LEDGER) are the msgpack array
 *     [kind (uint), ...]
 *   MSG_CHECKPOINT  [1, checkpoint (bin: exact bytes), [sig, ...]]  leader's first
 *   MSG_COSIGN      [2, checkpoint (bin: exact bytes), sig]
 * with sig = [signer (str), pubkey (bin 32), signature (bin 64)]; read-only
 * reports (node_episodes.c) use kinds 3 and 4. */
#include <inttypes.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/witness/witness.h"

/* ---- keys ------------------------------------------------------------- */

/* The key recorded for member id among ids/keys (n of them), or NULL. */
static const uint8_t *recorded_key(const char (*ids)[LEDGER_ID_MAX],
                                   const uint8_t (*keys)[LEDGER_PUBKEY_BYTES], size_t n,
                                   const char *id)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(ids[i], id) == 0)
            return keys[i];
    return NULL;
}

/* Whether this node's key is the one recorded for it at index: only then
 * may it sign checkpoints the store (LEDGER_KEYS_MEMBERSHIP) will accept. */
static bool self_recorded_at(struct node_witness *wit, uint64_t index)
{
    static uint8_t keys[LEDGER_MAX_MEMBERS][LEDGER_PUBKEY_BYTES];
    static char ids[LEDGER_MAX_MEMBERS][LEDGER_ID_MAX];
    size_t k = ledger_members_at(wit->raft->ledger, index, keys, ids);
    const uint8_t *pk =
        recorded_key((const char(*)[LEDGER_ID_MAX])ids, (const uint8_t(*)[LEDGER_PUBKEY_BYTES])keys,
                     k, wit->base->cfg.id);
    return pk != NULL && memcmp(pk, wit->raft->key_pair.pk, LEDGER_PUBKEY_BYTES) == 0;
}

int node_witness_check_own_key(struct node_witness *wit)
{
    static uint8_t keys[LEDGER_MAX_MEMBERS][LEDGER_PUBKEY_BYTES];
    static char ids[LEDGER_MAX_MEMBERS][LEDGER_ID_MAX];
    size_t k =
        ledger_members_at(wit->raft->ledger, ledger_last_index(wit->raft->ledger), keys, ids);
    const uint8_t *pinned =
        recorded_key((const char(*)[LEDGER_ID_MAX])ids, (const uint8_t(*)[LEDGER_PUBKEY_BYTES])keys,
                     k, wit->base->cfg.id);
    /* Nothing pinned (a new federation, a wiped data directory): the key
     * is recorded, or rotated, on the record by the leader. */
    if (pinned == NULL || memcmp(pinned, wit->raft->key_pair.pk, LEDGER_PUBKEY_BYTES) == 0)
        return 0;
    char have[2 * LEDGER_PUBKEY_BYTES + 1], want[2 * LEDGER_PUBKEY_BYTES + 1];
    ledger_hex(wit->raft->key_pair.pk, LEDGER_PUBKEY_BYTES, have);
    ledger_hex(pinned, LEDGER_PUBKEY_BYTES, want);
    if (wit->base->cfg.replace_node_key) {
        node_event(wit->base, "ledger.key_replaced", NULL,
                   "%s/node.key holds public key %.16s..., the ledger pins %.16s... for %s: "
                   "replaced on purpose (--replace-node-key), the leader rotates it",
                   wit->base->cfg.data, have, want, wit->base->cfg.id);
        return 0;
    }
    fprintf(stderr,
            "chimerad: %s/node.key: public key %.16s... is not the key the ledger pins for %s "
            "(%.16s...); put back the node.key this node had, or start once with "
            "--replace-node-key if it was replaced on purpose (the leader then rotates it on the "
            "record)\n",
            wit->base->cfg.data, have, wit->base->cfg.id, want);
    return -1;
}

void node_witness_peer_key(struct node_witness *wit, size_t idx,
                           const uint8_t pk[LEDGER_PUBKEY_BYTES])
{
    bool changed = wit->peer_has_pk[idx] && memcmp(wit->peer_pk[idx], pk, LEDGER_PUBKEY_BYTES) != 0;
    bool fresh = !wit->peer_has_pk[idx];
    if (!changed && !fresh)
        return;
    memcpy(wit->peer_pk[idx], pk, LEDGER_PUBKEY_BYTES);
    wit->peer_has_pk[idx] = true;
    if (changed) {
        char hex[2 * LEDGER_PUBKEY_BYTES + 1];
        ledger_hex(pk, LEDGER_PUBKEY_BYTES, hex);
        node_event(wit->base, "peer.key_changed", wit->base->peers.m[idx].id,
                   "%s announces a new node key %s (its data directory was replaced?)",
                   wit->base->peers.m[idx].id, hex);
        /* A new key means a new data directory, and so a log that may have
         * lost what the leader counted as matched, even when the restart
         * went unseen (a wiped node restarted within the same second
         * reuses its boot epoch). */
        cons_peer_restarted(&wit->raft->cons, (int32_t)idx);
    }
    if (wit->raft->cons.role == CONS_LEADER)
        node_witness_record_members(wit);
}

/* Appends one membership entry payload to the list. */
static void push_change(uint8_t (*buf)[LEDGER_MEMBERSHIP_MAX], size_t *lens, size_t *k, uint32_t op,
                        const char *id, const uint8_t pk[LEDGER_PUBKEY_BYTES])
{
    struct ledger_membership m = {.op = op};
    snprintf(m.node, sizeof(m.node), "%s", id);
    memcpy(m.pubkey, pk, LEDGER_PUBKEY_BYTES);
    if (ledger_membership_encode(&m, buf[*k], &lens[*k]) == LEDGER_OK)
        (*k)++;
}

void node_witness_record_members(struct node_witness *wit)
{
    if (wit->raft->cons.role != CONS_LEADER || wit->base->stopping || !wit->raft->ledger ||
        wit->raft->elected_pending)
        return;
    static uint8_t keys[LEDGER_MAX_MEMBERS][LEDGER_PUBKEY_BYTES];
    static char ids[LEDGER_MAX_MEMBERS][LEDGER_ID_MAX];
    size_t nrec =
        ledger_members_at(wit->raft->ledger, ledger_last_index(wit->raft->ledger), keys, ids);
    /* Two changes per member at most (a rotation). */
    static uint8_t buf[2 * CONFIG_MAX_MEMBERS][LEDGER_MEMBERSHIP_MAX];
    size_t lens[2 * CONFIG_MAX_MEMBERS], k = 0;
    const uint8_t *payloads[2 * CONFIG_MAX_MEMBERS];
    for (size_t i = 0; i < wit->base->peers.n; i++) {
        const char *id = wit->base->peers.m[i].id;
        const uint8_t *want = i == wit->base->peers.self ? wit->raft->key_pair.pk : wit->peer_pk[i];
        if (i != wit->base->peers.self && !wit->peer_has_pk[i])
            continue; /* not heard yet: recorded once it announces its key */
        const uint8_t *have = recorded_key((const char(*)[LEDGER_ID_MAX])ids,
                                           (const uint8_t(*)[LEDGER_PUBKEY_BYTES])keys, nrec, id);
        if (have && memcmp(have, want, LEDGER_PUBKEY_BYTES) == 0)
            continue;
        if (have)
            push_change(buf, lens, &k, LEDGER_MEMBER_REMOVE, id, have);
        push_change(buf, lens, &k, LEDGER_MEMBER_ADD, id, want);
    }
    if (k == 0)
        return;
    for (size_t i = 0; i < k; i++)
        payloads[i] = buf[i];
    uint64_t first, last;
    char err[256];
    if (node_repl_append(wit->raft, LEDGER_ENTRY_MEMBERSHIP, payloads, lens, k, &first, &last, err,
                         sizeof(err)) != 0) {
        node_event(wit->base, "ledger.membership_failed", NULL, "cannot record member keys: %s",
                   err);
        return;
    }
    for (uint64_t idx = first; idx <= last; idx++) {
        struct ledger_membership m;
        ledger_membership_decode(buf[idx - first], lens[idx - first], &m);
        char hex[2 * LEDGER_PUBKEY_BYTES + 1];
        ledger_hex(m.pubkey, LEDGER_PUBKEY_BYTES, hex);
        node_event(wit->base,
                   m.op == LEDGER_MEMBER_ADD ? "ledger.member_key_recorded"
                                             : "ledger.member_key_retired",
                   m.node, "entry %" PRIu64 ": %s key of %s: %s", idx,
                   m.op == LEDGER_MEMBER_ADD ? "recorded the" : "retired the old", m.node, hex);
    }
}

/* ---- signed APPENDs ---------------------------------------------------- */

/* The last entry signed, so that one APPEND sent to every follower costs
 * one signature. */
static struct {
    bool valid;
    uint64_t index, term;
    uint8_t hash[LEDGER_HASH_BYTES];
    uint8_t sig[LEDGER_SIG_BYTES];
} last_signed;

/* What the leader signs for an APPEND: the index, term and hash of its last
 * carried entry. An APPEND mostly ends at the leader's last entry, whose
 * hash the ledger holds (its head) and whose term its index does: nothing
 * to decode or hash. One ending earlier (a follower catching up) has its
 * last entry decoded and hashed from the bytes carried. */
static int append_statement(struct node_witness *wit, const struct cons_msg *m,
                            const struct cons_wire_entry *e, uint64_t *index, uint64_t *term,
                            uint8_t hash[LEDGER_HASH_BYTES])
{
    struct ledger *l = wit->raft->ledger;
    uint64_t last = m->prev_index + m->n_entries;
    if (last == ledger_last_index(l)) {
        *index = last;
        return ledger_term_at(l, last, term) == LEDGER_OK &&
                       ledger_hash_at(l, last, hash) == LEDGER_OK
                   ? 0
                   : -1;
    }
    struct ledger_entry entry;
    const struct cons_wire_entry *w = &e[m->n_entries - 1];
    if (ledger_entry_decode(w->bytes, w->len, &entry, NULL) != LEDGER_OK)
        return -1;
    ledger_entry_hash(entry.prev_hash, w->bytes, w->len, hash);
    *index = entry.index;
    *term = entry.term;
    return 0;
}

int node_witness_sign_append(struct node_witness *wit, struct cons_msg *m,
                             const struct cons_wire_entry *e)
{
    uint64_t index, term;
    uint8_t hash[LEDGER_HASH_BYTES];
    if (append_statement(wit, m, e, &index, &term, hash) != 0)
        return -1;
    if (!last_signed.valid || last_signed.index != index || last_signed.term != term ||
        memcmp(last_signed.hash, hash, LEDGER_HASH_BYTES) != 0) {
        struct ledger_sig s;
        ledger_entry_sign(&wit->raft->key_pair, wit->base->cfg.id, index, term, hash, &s);
        last_signed.valid = true;
        last_signed.index = index;
        last_signed.term = term;
        memcpy(last_signed.hash, hash, LEDGER_HASH_BYTES);
        memcpy(last_signed.sig, s.sig, LEDGER_SIG_BYTES);
    }
    m->has_sig = true;
    memcpy(m->sig, last_signed.sig, LEDGER_SIG_BYTES);
    return 0;
}

int node_witness_verify_append(struct node_witness *wit, size_t from, const struct cons_msg *m,
                               const struct cons_wire_entry *carried, const struct cons_entry *meta)
{
    /* A witness that lacks prev_index refuses the APPEND without storing
     * anything: there is nothing to verify yet, and the refusal's hint is
     * what brings the leader back to where this log ends. */
    if (m->prev_index > ledger_last_index(wit->raft->ledger))
        return 0;
    if (!m->has_sig)
        return -1;
    const char *leader = wit->base->peers.m[from].id;
    static uint8_t keys[LEDGER_MAX_MEMBERS][LEDGER_PUBKEY_BYTES];
    static char ids[LEDGER_MAX_MEMBERS][LEDGER_ID_MAX];
    size_t k = ledger_members_at(wit->raft->ledger, m->prev_index, keys, ids);
    const uint8_t *pk = recorded_key((const char(*)[LEDGER_ID_MAX])ids,
                                     (const uint8_t(*)[LEDGER_PUBKEY_BYTES])keys, k, leader);
    bool recorded = pk != NULL;
    /* The carried entries may record or rotate the leader's own key (its
     * first APPENDs after it took office): the chain then says which key
     * signs from there on. */
    static struct ledger_membership change;
    static uint8_t carried_pk[LEDGER_PUBKEY_BYTES];
    for (uint32_t i = 0; i < m->n_entries; i++) {
        struct ledger_entry e;
        uint32_t type;
        if (ledger_entry_peek_type(carried[i].bytes, carried[i].len, &type) != LEDGER_OK ||
            type != LEDGER_ENTRY_MEMBERSHIP ||
            ledger_entry_decode(carried[i].bytes, carried[i].len, &e, NULL) != LEDGER_OK ||
            ledger_membership_decode(e.payload, e.payload_len, &change) != LEDGER_OK ||
            strcmp(change.node, leader) != 0)
            continue;
        recorded = change.op == LEDGER_MEMBER_ADD;
        memcpy(carried_pk, change.pubkey, LEDGER_PUBKEY_BYTES);
        pk = recorded ? carried_pk : NULL;
    }
    /* Not recorded yet (a new federation's first entries): the key the
     * leader announces under the cluster key, until the ledger pins one. */
    if (!recorded && wit->peer_has_pk[from])
        pk = wit->peer_pk[from];
    if (pk == NULL)
        return -1;
    const struct cons_entry *last = &meta[m->n_entries - 1];
    struct ledger_sig s;
    snprintf(s.signer, sizeof(s.signer), "%s", leader);
    memcpy(s.pubkey, pk, LEDGER_PUBKEY_BYTES);
    memcpy(s.sig, m->sig, LEDGER_SIG_BYTES);
    if (!ledger_entry_sig_valid(last->index, last->term, last->hash, &s))
        return -1;
    return node_evidence_check_append(wit, leader, m, meta, &s);
}

/* ---- checkpoints and cosignatures -------------------------------------- */

static void pack_bin(msgpack_packer *pk, const void *p, size_t len)
{
    msgpack_pack_bin(pk, len);
    msgpack_pack_bin_body(pk, p, len);
}

static void pack_sig(msgpack_packer *pk, const struct ledger_sig *s)
{
    msgpack_pack_array(pk, 3);
    size_t len = strnlen(s->signer, LEDGER_ID_MAX - 1);
    msgpack_pack_str_with_body(pk, s->signer, len);
    pack_bin(pk, s->pubkey, LEDGER_PUBKEY_BYTES);
    pack_bin(pk, s->sig, LEDGER_SIG_BYTES);
}

static int unpack_sig(const msgpack_object *o, struct ledger_sig *s)
{
    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size != 3)
        return -1;
    const msgpack_object *f = o->via.array.ptr;
    if (f[0].type != MSGPACK_OBJECT_STR || f[0].via.str.size == 0 ||
        f[0].via.str.size >= LEDGER_ID_MAX || f[1].type != MSGPACK_OBJECT_BIN ||
        f[1].via.bin.size != LEDGER_PUBKEY_BYTES || f[2].type != MSGPACK_OBJECT_BIN ||
        f[2].via.bin.size != LEDGER_SIG_BYTES)
        return -1;
    memcpy(s->signer, f[0].via.str.ptr, f[0].via.str.size);
    s->signer[f[0].via.str.size] = '\0';
    memcpy(s->pubkey, f[1].via.bin.ptr, LEDGER_PUBKEY_BYTES);
    memcpy(s->sig, f[2].via.bin.ptr, LEDGER_SIG_BYTES);
    return 0;
}

static void send_checkpoint(struct node_witness *wit, size_t to,
                            const struct ledger_signed_checkpoint *cp)
{
    struct node_pack p;
    node_pack_init(&p);
    msgpack_pack_array(&p.pk, 3);
    msgpack_pack_uint32(&p.pk, MSG_CHECKPOINT);
    pack_bin(&p.pk, cp->bytes, cp->len);
    msgpack_pack_array(&p.pk, (uint32_t)cp->nsigs);
    for (size_t i = 0; i < cp->nsigs; i++)
        pack_sig(&p.pk, &cp->sigs[i]);
    node_ledger_send_durable(wit->raft, to, ENV_LEDGER, &p);
}

static void broadcast_checkpoint(struct node_witness *wit,
                                 const struct ledger_signed_checkpoint *cp)
{
    for (size_t i = 0; i < wit->base->peers.n; i++)
        if (i != wit->base->peers.self)
            send_checkpoint(wit, i, cp);
}

static void send_cosign(struct node_witness *wit, size_t to, const uint8_t *bytes, size_t len,
                        const struct ledger_sig *sig)
{
    struct node_pack p;
    node_pack_init(&p);
    msgpack_pack_array(&p.pk, 3);
    msgpack_pack_uint32(&p.pk, MSG_COSIGN);
    pack_bin(&p.pk, bytes, len);
    pack_sig(&p.pk, sig);
    node_ledger_send_durable(wit->raft, to, ENV_LEDGER, &p);
}

bool node_witness_notarized(struct node_witness *wit, const struct ledger_signed_checkpoint *cp)
{
    static uint8_t keys[LEDGER_MAX_MEMBERS][LEDGER_PUBKEY_BYTES];
    size_t k = ledger_members_at(wit->raft->ledger, cp->cp.index, keys, NULL);
    return ledger_checkpoint_notarized(cp->bytes, cp->len, cp->sigs, cp->nsigs,
                                       (const uint8_t(*)[LEDGER_PUBKEY_BYTES])keys, k,
                                       &wit->verified);
}

/* Messages get lost (a member restarting, a partition): the latest
 * checkpoint goes again, now and then, to each member whose cosignature
 * the leader lacks (when: notary_tick); one that holds it already answers
 * with its cosignature again. */
static void resend_for_cosigns(struct node_witness *wit, const struct ledger_signed_checkpoint *cp)
{
    for (size_t i = 0; i < wit->base->peers.n; i++)
        if (i != wit->base->peers.self && notary_lacks(cp, wit->base->peers.m[i].id))
            send_checkpoint(wit, i, cp);
}

/* The leader checkpoints its commit index, or asks again for missing
 * cosignatures, when the notary says so (witness/notary.h). */
void node_witness_tick(struct node_witness *wit)
{
    uint64_t now = uv_now(wit->base->loop);
    uint64_t commit = wit->raft->cons.commit;
    if (wit->raft->cons.role != CONS_LEADER || wit->base->stopping || !wit->raft->ledger ||
        !notary_due(&wit->notary, now, commit, ledger_last_index(wit->raft->ledger)))
        return;
    static struct ledger_signed_checkpoint last;
    bool have = ledger_last_checkpoint(wit->raft->ledger, &last) == LEDGER_OK;
    enum notary_tick next =
        notary_tick(&wit->notary, now, commit, have ? &last : NULL, wit->base->cfg.id);
    if (next == NOTARY_RESEND)
        resend_for_cosigns(wit, &last);
    if (next != NOTARY_CHECKPOINT)
        return;
    /* The store accepts a signature only from a key the ledger records for
     * its signer at or below the checkpoint's index. */
    if (!self_recorded_at(wit, commit))
        return;
    struct ledger_checkpoint cp = {.index = commit, .term = wit->raft->cons.term};
    snprintf(cp.origin, sizeof(cp.origin), "%s", wit->base->cfg.federation);
    if (ledger_hash_at(wit->raft->ledger, commit, cp.head_hash) != LEDGER_OK)
        return;
    static struct ledger_signed_checkpoint out;
    memset(&out, 0, sizeof(out));
    if (ledger_checkpoint_encode(&cp, out.bytes, &out.len) != LEDGER_OK)
        return;
    out.cp = cp;
    ledger_checkpoint_sign(&wit->raft->key_pair, wit->base->cfg.id, out.bytes, out.len,
                           &out.sigs[0]);
    out.nsigs = 1;
    ledger_batch_begin(wit->raft->batch, wit->raft->ledger);
    enum ledger_error rv =
        ledger_batch_add_checkpoint(wit->raft->batch, out.bytes, out.len, out.sigs, 1);
    if (rv != LEDGER_OK) {
        node_event(wit->base, "ledger.checkpoint_failed", NULL,
                   "cannot checkpoint index %" PRIu64 ": %s", commit, ledger_strerror(rv));
        ledger_batch_begin(wit->raft->batch, wit->raft->ledger);
        notary_checkpoint_refused(&wit->notary, now);
        return;
    }
    if (!node_ledger_write(wit->raft, "checkpoint"))
        return;
    /* The store checked it: counting its signers need not check it again. */
    ledger_sig_memo_vouch(&wit->verified, out.bytes, out.len, &out.sigs[0]);
    notary_checkpointed(&wit->notary, now);
    wit->base->metrics.checkpoints++;
    broadcast_checkpoint(wit, &out);
}

/* Whether this log holds the entry cp names (notary_holds_fn): not if it
 * is not replicated here yet, or this log still holds an uncommitted entry
 * of another term there. */
static bool holds_entry(void *ctx, const struct ledger_checkpoint *cp)
{
    struct node_witness *wit = ctx;
    uint8_t hash[LEDGER_HASH_BYTES];
    return cp->index <= ledger_last_index(wit->raft->ledger) &&
           ledger_hash_at(wit->raft->ledger, cp->index, hash) == LEDGER_OK &&
           memcmp(hash, cp->head_hash, LEDGER_HASH_BYTES) == 0;
}

/* A witness receives a checkpoint: store it if it holds the same entry at
 * that index, cosign, and answer with the cosignature. One it already
 * holds only brings cosignatures it lacks. */
static void on_checkpoint(struct node_witness *wit, size_t from, const uint8_t *bytes, size_t len,
                          const struct ledger_sig *sigs, size_t nsigs)
{
    static struct ledger_signed_checkpoint mine;
    struct ledger_checkpoint cp;
    enum notary_offer offer = notary_offer(wit->base->peers.m[from].id, wit->base->cfg.federation,
                                           bytes, len, sigs, nsigs, &cp);
    if (offer != NOTARY_OFFER_VALID) {
        node_drop(wit->base, DROP_SHAPE,
                  offer == NOTARY_OFFER_FOREIGN
                      ? "checkpoint for another federation (check --federation)"
                      : "checkpoint");
        return;
    }
    bool have = ledger_last_checkpoint(wit->raft->ledger, &mine) == LEDGER_OK;
    ledger_batch_begin(wit->raft->batch, wit->raft->ledger);
    enum notary_take take = notary_take(have ? &mine : NULL, bytes, len, &cp, holds_entry, wit);
    if (take == NOTARY_TAKE_MERGE) {
        bool added[LEDGER_MAX_SIGS] = {false};
        for (size_t i = 0; i < nsigs; i++)
            added[i] =
                notary_lacks(&mine, sigs[i].signer) &&
                ledger_batch_add_cosignature(wit->raft->batch, bytes, len, &sigs[i]) == LEDGER_OK;
        if (node_ledger_write(wit->raft, "cosignatures"))
            for (size_t i = 0; i < nsigs; i++)
                if (added[i]) /* the store checked it */
                    ledger_sig_memo_vouch(&wit->verified, bytes, len, &sigs[i]);
        /* The sender lacks this node's cosignature: it was lost; again. */
        const struct ledger_sig *again = notary_own_again(&mine, sigs, nsigs, wit->base->cfg.id);
        if (again)
            send_cosign(wit, from, bytes, len, again);
        return;
    }
    if (take == NOTARY_TAKE_IGNORE)
        return;
    enum notary_stored stored =
        notary_stored(ledger_batch_add_checkpoint(wit->raft->batch, bytes, len, sigs, nsigs));
    if (stored == NOTARY_STORED_EQUIVOCATION) {
        static struct ledger_statement a, b;
        if (ledger_statement_checkpoint(mine.bytes, mine.len, &mine.sigs[0], &a) == LEDGER_OK &&
            ledger_statement_checkpoint(bytes, len, &sigs[0], &b) == LEDGER_OK)
            node_evidence_record(wit, wit->base->peers.m[from].id, &a, &b);
        return;
    }
    if (stored != NOTARY_STORED_KEPT) {
        ledger_batch_begin(wit->raft->batch, wit->raft->ledger);
        if (stored == NOTARY_STORED_REFUSED)
            node_drop(wit->base, DROP_SIGNATURE, "checkpoint refused");
        return;
    }
    struct ledger_sig own;
    bool cosign = notary_cosigns(self_recorded_at(wit, cp.index), sigs, nsigs, wit->base->cfg.id);
    if (cosign) {
        ledger_checkpoint_sign(&wit->raft->key_pair, wit->base->cfg.id, bytes, len, &own);
        cosign = ledger_batch_add_cosignature(wit->raft->batch, bytes, len, &own) == LEDGER_OK;
    }
    if (!node_ledger_write(wit->raft, "checkpoint"))
        return;
    for (size_t i = 0; i < nsigs; i++) /* the store checked them */
        ledger_sig_memo_vouch(&wit->verified, bytes, len, &sigs[i]);
    if (cosign)
        ledger_sig_memo_vouch(&wit->verified, bytes, len, &own);
    wit->base->metrics.checkpoints++;
    if (cosign)
        send_cosign(wit, from, bytes, len, &own);
}

/* The leader receives a cosignature of its latest checkpoint; once a
 * quorum signed it, every witness gets the notarized form. */
static void on_cosign(struct node_witness *wit, size_t from, const uint8_t *bytes, size_t len,
                      const struct ledger_sig *sig)
{
    static struct ledger_signed_checkpoint mine;
    bool have = ledger_last_checkpoint(wit->raft->ledger, &mine) == LEDGER_OK;
    enum notary_cosign take =
        notary_cosign(wit->base->peers.m[from].id, sig, have ? &mine : NULL, bytes, len);
    if (take == NOTARY_COSIGN_MALFORMED) {
        node_drop(wit->base, DROP_SHAPE, "cosignature");
        return;
    }
    if (take == NOTARY_COSIGN_STALE)
        return; /* superseded by a newer checkpoint, or a repeat */
    bool was = node_witness_notarized(wit, &mine);
    ledger_batch_begin(wit->raft->batch, wit->raft->ledger);
    enum ledger_error rv = ledger_batch_add_cosignature(wit->raft->batch, bytes, len, sig);
    if (rv != LEDGER_OK) {
        ledger_batch_begin(wit->raft->batch, wit->raft->ledger);
        node_drop(wit->base, DROP_SIGNATURE, "cosignature refused");
        return;
    }
    if (!node_ledger_write(wit->raft, "cosignature"))
        return;
    /* The store checked it (one Ed25519 check per cosignature taken); the
     * signatures counted before stay counted. */
    ledger_sig_memo_vouch(&wit->verified, bytes, len, sig);
    if (ledger_last_checkpoint(wit->raft->ledger, &mine) != LEDGER_OK)
        return;
    bool is = !was && node_witness_notarized(wit, &mine);
    unsigned tally = notary_tally(was, is, wit->raft->cons.role == CONS_LEADER);
    if (tally & NOTARY_TALLY_COUNT)
        wit->base->metrics.notarized++;
    if (tally & NOTARY_TALLY_BROADCAST)
        broadcast_checkpoint(wit, &mine);
}

void node_witness_on_checkpoint(struct node_witness *wit, size_t from, const msgpack_object *f)
{
    static struct ledger_sig sigs[LEDGER_MAX_SIGS];
    const msgpack_object *list = &f[2];
    if (list->type != MSGPACK_OBJECT_ARRAY || list->via.array.size == 0 ||
        list->via.array.size > LEDGER_MAX_SIGS) {
        node_drop(wit->base, DROP_SHAPE, "checkpoint signatures");
        return;
    }
    for (uint32_t i = 0; i < list->via.array.size; i++)
        if (unpack_sig(&list->via.array.ptr[i], &sigs[i]) != 0) {
            node_drop(wit->base, DROP_SHAPE, "checkpoint signature");
            return;
        }
    on_checkpoint(wit, from, (const uint8_t *)f[1].via.bin.ptr, f[1].via.bin.size, sigs,
                  list->via.array.size);
}

void node_witness_on_cosign(struct node_witness *wit, size_t from, const msgpack_object *f)
{
    struct ledger_sig sig;
    if (unpack_sig(&f[2], &sig) != 0) {
        node_drop(wit->base, DROP_SHAPE, "cosignature");
        return;
    }
    on_cosign(wit, from, (const uint8_t *)f[1].via.bin.ptr, f[1].via.bin.size, &sig);
}
