/* The witness layer of the node: signed APPENDs, member keys, checkpoints
 * and cosignatures (node_witness.c), equivocation evidence
 * (node_evidence.c), read-only episodes (node_episodes.c). */
#ifndef CHIMERA_NODE_WITNESS_H
#define CHIMERA_NODE_WITNESS_H

#include <msgpack.h>
#include <stdbool.h>
#include <stdint.h>

#include "consensus/consensus.h"
#include "ledger/ledger.h"
#include "node/base/base.h"
#include "node/raft/raft.h"
#include "witness/episodes.h"
#include "witness/notary.h"

/* The witness layer's state, embedded in struct node. */
struct node_witness {
    struct node_base *base; /* set by node.c */
    struct node_raft *raft;
    uint8_t peer_pk[CONFIG_MAX_MEMBERS][LEDGER_PUBKEY_BYTES]; /* announced in heartbeats */
    bool peer_has_pk[CONFIG_MAX_MEMBERS];
    struct notary notary;     /* leader: when to checkpoint and ask again (witness/notary.h) */
    struct episodes episodes; /* read-only episodes owed to the ledger (witness/episodes.h) */
    /* The latest checkpoint's signatures found valid: its notarization is
     * asked at each cosignature and each GET /ledger/head. */
    struct ledger_sig_memo verified;
};

/* Witnesses (node_witness.c): signed APPENDs, member keys, checkpoints. */
/* Leader: signs the APPEND m carrying entries e (sets m->sig). -1: unsigned. */
int node_witness_sign_append(struct node_witness *wit, struct cons_msg *m,
                             const struct cons_wire_entry *e);
/* Witness: 0 when the APPEND from member `from` is signed by that member's
 * key (the one the ledger records, else the one it announces), or carries
 * nothing to verify yet; -1: drop it unacknowledged. */
int node_witness_verify_append(struct node_witness *wit, size_t from, const struct cons_msg *m,
                               const struct cons_wire_entry *carried,
                               const struct cons_entry *meta);
/* After the ledger opened: 0 when this node's key is the one its ledger
 * pins for it (or none is pinned, or --replace-node-key was given), else
 * -1 with one line printed (node_witness.c). */
int node_witness_check_own_key(struct node_witness *wit);
/* A member announced its public key (heartbeat). */
void node_witness_peer_key(struct node_witness *wit, size_t idx,
                           const uint8_t pk[LEDGER_PUBKEY_BYTES]);
/* Leader: records in the ledger every member key it knows and the ledger
 * lacks or holds another for. */
void node_witness_record_members(struct node_witness *wit);
/* Leader: checkpoints the committed head when due. */
void node_witness_tick(struct node_witness *wit);
/* Equivocation (node_evidence.c). Two signed statements about one index
 * that disagree: stored as evidence (when the ledger accepts it), counted
 * and raised as a ledger.equivocation event naming `from`. */
void node_evidence_record(struct node_witness *wit, const char *from,
                          const struct ledger_statement *a, const struct ledger_statement *b);
/* A verified APPEND (sig: its leader's signature over the last carried
 * entry) that rewrites an entry of this log in the same term is the
 * leader's equivocation: reported (with evidence when an earlier signed
 * statement for that index is at hand) and refused, -2. Otherwise the
 * statement is remembered and 0 returned. */
int node_evidence_check_append(struct node_witness *wit, const char *leader,
                               const struct cons_msg *m, const struct cons_entry *meta,
                               const struct ledger_sig *sig);
/* Whether a quorum of the members recorded at cp's index signed it. */
bool node_witness_notarized(struct node_witness *wit, const struct ledger_signed_checkpoint *cp);
/* MSG_CHECKPOINT and MSG_COSIGN arrived (f: the body's fields, whose shape
 * node/msg.c checked). */
void node_witness_on_checkpoint(struct node_witness *wit, size_t from, const msgpack_object *f);
void node_witness_on_cosign(struct node_witness *wit, size_t from, const msgpack_object *f);

/* Read-only episodes (node_episodes.c). */
void node_episodes_change(struct node_witness *wit, bool read_only, bool was_leader);
void node_episodes_tick(struct node_witness *wit);
/* MSG_EPISODE_REPORT (leader: record it, acknowledge) and MSG_EPISODE_ACK
 * arrived (shape checked by node/msg.c). */
void node_episodes_on_report(struct node_witness *wit, size_t from, const msgpack_object *f);
void node_episodes_on_ack(struct node_witness *wit, size_t from, const msgpack_object *f);
/* What a leader records on a member's behalf (episodes, the watchtower's
 * recoveries) is told apart by {"node": node, key: value} in an entry of
 * type: the index of such an entry among the last ones, or 0 (a report
 * repeated after a lost acknowledgement or a change of leader is not
 * recorded twice); and whether the entry at index is one. */
uint64_t node_ledger_recorded(struct node_raft *raft, uint32_t type, const char *node,
                              const char *key, uint64_t value);
bool node_ledger_holds(struct node_raft *raft, uint64_t index, uint32_t type, const char *node,
                       const char *key, uint64_t value);

#endif
