/* Equivocation: two signed statements about one index that cannot both be
 * true. For checkpoints that is two head hashes for one index (checkpoints
 * cover committed entries, which never change); for entries it is a leader
 * that, within its own term, signs two different entries for one index.
 * Raft's Log Matching property (§3.5) makes the latter impossible for an
 * honest leader: it never rewrites its own entries, and a term has one
 * leader. So a witness that sees an APPEND rewrite one of its entries of
 * that same term refuses it, and proves it when it can: it keeps the
 * leader's recent signed statements (the last carried entry of each APPEND
 * it accepted), and a conflicting statement for the same index is the
 * evidence, stored in the ledger (ledger_batch_add_evidence). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "node/witness/witness.h"

/* Statements remembered: enough to cover the APPENDs in flight plus a
 * margin; an equivocation older than that is still refused, only not
 * proven. */
#define STATEMENTS 64

static struct {
    struct ledger_statement st;
    uint64_t index, term;
    bool used;
} recent[STATEMENTS];
static size_t next_slot;

void node_evidence_record(struct node_witness *wit, const char *from,
                          const struct ledger_statement *a, const struct ledger_statement *b)
{
    static struct ledger_evidence ev;
    if (!ledger_equivocation(a, b, &ev))
        return;
    ledger_batch_begin(wit->raft->batch, wit->raft->ledger);
    enum ledger_error rv = ledger_batch_add_evidence(wit->raft->batch, &ev);
    bool written = rv == LEDGER_OK && node_ledger_write(wit->raft, "evidence");
    if (rv != LEDGER_OK)
        ledger_batch_begin(wit->raft->batch, wit->raft->ledger);
    wit->base->metrics.equivocations++;
    /* The record is written, not yet durable: it joins the sync the
     * entries share (node_ledger_write), which a crash may beat. The event
     * says so rather than waiting for it: a failed sync ends the process. */
    const char *fate = rv != LEDGER_OK ? ledger_strerror(rv)
                       : written       ? "written to the ledger, durable once its sync returns"
                                       : "not written (the ledger write failed)";
    node_event(wit->base, "ledger.equivocation", from,
               "two different signed %s for index %" PRIu64 " (signed by %s and %s); the second "
               "is refused; evidence %s",
               ev.kind == LEDGER_STMT_ENTRY ? "entries" : "checkpoints", ev.index, a->sig.signer,
               b->sig.signer, fate);
}

static void remember(uint64_t index, uint64_t term, const uint8_t hash[LEDGER_HASH_BYTES],
                     const struct ledger_sig *sig)
{
    size_t slot = next_slot;
    for (size_t i = 0; i < STATEMENTS; i++)
        if (recent[i].used && recent[i].index == index && recent[i].term == term) {
            slot = i; /* the same statement again (a resend) */
            break;
        }
    if (slot == next_slot)
        next_slot = (next_slot + 1) % STATEMENTS;
    ledger_statement_entry(index, term, hash, sig, &recent[slot].st);
    recent[slot].index = index;
    recent[slot].term = term;
    recent[slot].used = true;
}

/* The remembered statement for (index, term) signed by the same key, or
 * NULL. */
static const struct ledger_statement *recalled(uint64_t index, uint64_t term,
                                               const uint8_t pubkey[LEDGER_PUBKEY_BYTES])
{
    for (size_t i = 0; i < STATEMENTS; i++)
        if (recent[i].used && recent[i].index == index && recent[i].term == term &&
            memcmp(recent[i].st.sig.pubkey, pubkey, LEDGER_PUBKEY_BYTES) == 0)
            return &recent[i].st;
    return NULL;
}

int node_evidence_check_append(struct node_witness *wit, const char *leader,
                               const struct cons_msg *m, const struct cons_entry *meta,
                               const struct ledger_sig *sig)
{
    const struct cons_entry *last = &meta[m->n_entries - 1];
    uint64_t mine = ledger_last_index(wit->raft->ledger);
    /* The carried entries chain from prev_index, so they all agree with
     * this log up to the last one they share with it exactly when that one
     * does: one comparison covers them. */
    uint64_t shared = last->index < mine ? last->index : mine;
    if (shared > m->prev_index) {
        const struct cons_entry *theirs = &meta[shared - m->prev_index - 1];
        uint64_t term;
        uint8_t hash[LEDGER_HASH_BYTES];
        if (ledger_term_at(wit->raft->ledger, shared, &term) == LEDGER_OK && term == theirs->term &&
            ledger_hash_at(wit->raft->ledger, shared, hash) == LEDGER_OK &&
            memcmp(hash, theirs->hash, LEDGER_HASH_BYTES) != 0) {
            /* Refused every time; reported once (the leader will retry). */
            static uint64_t reported_term, reported_index;
            if (reported_term == term && reported_index == shared)
                return -2;
            reported_term = term;
            reported_index = shared;
            const struct ledger_statement *before = recalled(last->index, last->term, sig->pubkey);
            static struct ledger_statement now;
            ledger_statement_entry(last->index, last->term, last->hash, sig, &now);
            if (before != NULL && memcmp(before->bytes, now.bytes, now.len) != 0)
                node_evidence_record(wit, leader, before, &now);
            else {
                wit->base->metrics.equivocations++;
                node_event(wit->base, "ledger.equivocation", leader,
                           "%s sent entry %" PRIu64 " of term %" PRIu64
                           " differing from the one it sent before in that term; refused (no "
                           "signed statement for that index at hand to keep as evidence)",
                           leader, shared, term);
            }
            return -2;
        }
    }
    remember(last->index, last->term, last->hash, sig);
    return 0;
}
