/* The log invariants, checked at every log change, every send, every commit
 * and after every step. A node's log is its mem log while up, its disk log
 * while down (what it will restart with). C is the global committed prefix:
 * every entry any node ever reported committed (out->commit, read from that
 * node's log), recorded the first time.
 *
 *  L1  log matching: every log is a valid chain (entry k's hash is
 *      H(hash k-1, term k, payload k), its index is k, terms never decrease),
 *      checked from the first changed index at every change; and for any two
 *      nodes, an index where both hold the same hash holds the same term and
 *      payload (checked incrementally over the changed range). With the
 *      chain, equal hashes at k mean identical logs up to k.
 *  L2  no committed entry is lost or changed: held(i) is the longest
 *      prefix of C node i's log has matched (it grows when C or the log
 *      does; a node still catching up may hold a different, uncommitted
 *      entry at a committed index until it is truncated). At every change
 *      the log must still match C up to held(i): a committed entry a node
 *      held is never cut or changed, crashes included. A truncate never
 *      cuts below the node's reported commit nor below held(i). The last
 *      committed entry is held by a majority after every step (it reached
 *      a majority's disk to be committed, and nothing may remove it; with
 *      slow syncs, where a log runs ahead of its disk, on a majority's
 *      disks, and a crash takes what was not synced). A node
 *      first seen leading a term holds all of C (leader completeness).
 *  L3  a node's reported commit never decreases within an incarnation and
 *      never exceeds its last index; after every step the core's commit is
 *      at most the shell's last index.
 *  L4  persist before ack: an APPEND_RESP granted with match M leaves only
 *      when the sender's disk holds M entries, the disk's entry M equals its
 *      log's, and equals the leader's entry M when the receiver still leads
 *      that term (a leader's log only grows within its term).
 *  L5  liveness of replication (the workload stops at the heal): within
 *      SIM_CONV_BOUND of the agreement on a leader (invariant 5), every log
 *      has the leader's length and last hash, every core's commit reaches
 *      it, and the leader's last entry is of its term; it stays so to the
 *      end. The bound, T + 5H = 400 ms: after the heal nothing is lost and
 *      latency is at most 20 ms (RTT 40). A pipeline whose APPENDs were lost
 *      before the heal is probed at the first heartbeat that ends a whole
 *      interval without an answer from the follower: by A + 2H (an answer
 *      to an older APPEND may arrive in the first interval). Then the
 *      refused probe backs off in one step (40), the largest backlog
 *      (~2000 entries, two windows of CONS_MAX_INFLIGHT x CONS_MAX_BATCH =
 *      1024) takes two round trips (80), and the commit reaches the
 *      followers with the next heartbeat (H + 20): 100 + 40 + 80 + 70 =
 *      290, leaving 110 ms (almost three round trips) for resending
 *      APPENDs that overtook their predecessors and were refused (the
 *      network reorders freely). Measured: see the summary.
 *  contract: the core's last index, term and hash equal the shell's log
 *      after every step; appends extend the log exactly at its end; APPENDs
 *      carry at most CONS_MAX_BATCH entries and a prev_hash that is the
 *      sender's own. */
#include "lib/sim.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static int quorum(const struct sim *s)
{
    return s->n / 2 + 1;
}

static const struct sim_log *log_of(const struct sim *s, int i)
{
    return sim_log_of(&s->nodes[i]);
}

static bool same_hash(const struct sim_ent *a, const struct sim_ent *b)
{
    return !memcmp(a->e.hash, b->e.hash, CONS_HASH_BYTES);
}

/* L2: node i's log still holds the committed entries it held, from index
 * from on (the change started there); then held grows over every further
 * committed entry it now holds. An entry that differs from C at a committed
 * index is legal while the node has not caught up (an uncommitted suffix of
 * an old leader, to be truncated); losing one it held is not. */
static void against_committed(struct sim *s, int i, uint64_t from)
{
    struct sim_node *nd = &s->nodes[i];
    const struct sim_log *l = log_of(s, i);
    for (uint64_t k = from ? from : 1; k <= nd->held; k++) {
        const struct sim_ent *c = &s->committed.v[k - 1];
        if (k > l->len || !same_hash(&l->v[k - 1], c)) {
            char has[96] = "nothing (its log ends before)";
            if (k <= l->len)
                snprintf(has, sizeof has, "term %" PRIu64 " payload %" PRIu64 " %02x%02x..",
                         l->v[k - 1].e.term, l->v[k - 1].payload, l->v[k - 1].e.hash[0],
                         l->v[k - 1].e.hash[1]);
            sim_fail(s, "L2 committed entry lost",
                     "n%d held committed entry %" PRIu64 " (term %" PRIu64 " payload %" PRIu64
                     " %02x%02x..) and now has %s",
                     i, k, c->e.term, c->payload, c->e.hash[0], c->e.hash[1], has);
            return;
        }
    }
    uint64_t to = l->len < s->committed.len ? l->len : s->committed.len;
    while (nd->held < to && same_hash(&l->v[nd->held], &s->committed.v[nd->held]))
        nd->held++;
}

void check_log_changed(struct sim *s, int i, uint64_t from)
{
    const struct sim_log *l = log_of(s, i);
    if (from < 1)
        from = 1;
    for (uint64_t k = from; k <= l->len; k++) {
        const struct sim_ent *e = &l->v[k - 1];
        uint8_t h[CONS_HASH_BYTES];
        log_hash(log_hash_at(l, k - 1), e->e.term, e->payload, h);
        uint64_t prev_term = k > 1 ? l->v[k - 2].e.term : 0;
        if (e->e.index != k || memcmp(h, e->e.hash, CONS_HASH_BYTES) || e->e.term < prev_term) {
            sim_fail(s, "L1 log matching",
                     "n%d's log is not a chain at %" PRIu64 ": entry index %" PRIu64
                     " term %" PRIu64 " (previous term %" PRIu64
                     "), hash %s H(previous, term, payload)",
                     i, k, e->e.index, e->e.term, prev_term,
                     memcmp(h, e->e.hash, CONS_HASH_BYTES) ? "!=" : "==");
            return;
        }
    }
    for (int j = 0; j < s->n; j++) {
        if (j == i)
            continue;
        const struct sim_log *o = log_of(s, j);
        uint64_t to = l->len < o->len ? l->len : o->len;
        for (uint64_t k = from; k <= to; k++) {
            const struct sim_ent *a = &l->v[k - 1], *b = &o->v[k - 1];
            if (same_hash(a, b) && (a->e.term != b->e.term || a->payload != b->payload)) {
                sim_fail(s, "L1 log matching",
                         "n%d and n%d hold the same hash at %" PRIu64 " for different entries", i,
                         j, k);
                return;
            }
        }
    }
    if (from <= s->nodes[i].held)
        against_committed(s, i, from);
    else
        against_committed(s, i, 0); /* only grows held */
}

void check_log_truncate(struct sim *s, int i, uint64_t after)
{
    const struct sim_node *nd = &s->nodes[i];
    if (after < nd->commit) {
        sim_fail(s, "L2 truncate below commit",
                 "n%d truncates after %" PRIu64 " but reported commit %" PRIu64, i, after,
                 nd->commit);
        return;
    }
    if (after < nd->held)
        sim_fail(s, "L2 truncate below commit",
                 "n%d truncates after %" PRIu64
                 " and so drops committed entries it holds (up to %" PRIu64 "; committed %" PRIu64
                 ")",
                 i, after, nd->held, s->committed.len);
}

void check_log_commit(struct sim *s, int i, uint64_t commit)
{
    struct sim_node *nd = &s->nodes[i];
    if (commit < nd->commit || commit > nd->mem.len) {
        sim_fail(s, "L3 commit",
                 "n%d reports commit %" PRIu64 " (previously %" PRIu64 ", its last index %" PRIu64
                 ")",
                 i, commit, nd->commit, nd->mem.len);
        return;
    }
    nd->commit = commit;
    uint64_t old = s->committed.len;
    if (commit <= old)
        return;
    sim_tracef(s, "commit n%d up to %" PRIu64 " (globally %" PRIu64 " -> %" PRIu64 ")", i, commit,
               old, commit);
    for (uint64_t k = old + 1; k <= commit; k++) {
        const struct sim_ent *e = &nd->mem.v[k - 1];
        log_push(&s->committed, e);
        uint64_t at = s->propose_at[e->payload];
        if (at == NET_NEVER) {
            s->st.committed_noops++;
            continue;
        }
        s->st.committed++;
        if (s->lat_hist) {
            uint64_t lat = s->now - at;
            s->lat_hist[lat < SIM_LAT_BUCKETS - 1 ? lat : SIM_LAT_BUCKETS - 1]++;
        }
    }
    for (int j = 0; j < s->n && !s->failed; j++)
        against_committed(s, j, 0);
}

void check_log_send(struct sim *s, int i, const struct cons_msg *m)
{
    if (m->type != CONS_MSG_APPEND_RESP || !m->granted)
        return;
    const struct sim_node *nd = &s->nodes[i];
    uint64_t M = m->match_index;
    if (M > nd->disk.len) {
        sim_fail(s, "L4 persist before ack",
                 "n%d acknowledges match %" PRIu64 " to n%d but its disk holds %" PRIu64
                 " entries (its log %" PRIu64 ")",
                 i, M, m->to, nd->disk.len, nd->mem.len);
        return;
    }
    if (!M)
        return;
    if (M > nd->mem.len || !same_hash(&nd->disk.v[M - 1], &nd->mem.v[M - 1])) {
        sim_fail(s, "L4 persist before ack",
                 "n%d acknowledges match %" PRIu64 " but its disk's entry differs from its log's",
                 i, M);
        return;
    }
    const struct sim_node *l = &s->nodes[m->to];
    if (l->up && l->c.role == CONS_LEADER && l->c.term == m->term && l->mem.len >= M &&
        !same_hash(&nd->disk.v[M - 1], &l->mem.v[M - 1]))
        sim_fail(s, "L4 persist before ack",
                 "n%d acknowledges match %" PRIu64 " to leader n%d of term %" PRIu64
                 " but holds a different entry there",
                 i, M, m->to, m->term);
}

static void leader_complete(struct sim *s, int i)
{
    const struct sim_log *l = log_of(s, i);
    against_committed(s, i, 0);
    if (!s->failed && s->nodes[i].held < s->committed.len)
        sim_fail(s, "L2 leader completeness",
                 "n%d leads term %" PRIu64 " with %" PRIu64 " entries but holds only %" PRIu64
                 " of the %" PRIu64 " committed ones",
                 i, s->nodes[i].c.term, l->len, s->nodes[i].held, s->committed.len);
}

static bool converged(const struct sim *s, int ld)
{
    const struct sim_log *ll = &s->nodes[ld].mem;
    /* With slow syncs, entries the leader wrote before the heal may still
     * be syncing: its log is not final before they joined it. */
    if (!ll->len || ll->v[ll->len - 1].e.term != s->nodes[ld].c.term ||
        s->nodes[ld].sync_at != NET_NEVER)
        return false;
    for (int i = 0; i < s->n; i++) {
        const struct sim_node *nd = &s->nodes[i];
        if (!nd->up || nd->mem.len != ll->len || nd->c.commit != ll->len ||
            !same_hash(&nd->mem.v[ll->len - 1], &ll->v[ll->len - 1]))
            return false;
    }
    return true;
}

/* With slow syncs each round trip of the bound's derivation (the refused
 * probe's, the backlog's two) may also wait for a follower's sync before
 * its answer leaves: up to 2H each. */
static unsigned conv_bound(const struct sim *s)
{
    return SIM_CONV_BOUND + (s->slow_sync ? 3u * 2u * SIM_H : 0u);
}

static void liveness(struct sim *s)
{
    int ld = s->agreed_leader;
    bool ok = converged(s, ld);
    if (ok && !s->converged) {
        s->converged = true;
        s->converged_at = s->now;
        s->st.conv_ms = s->now - s->agreed_at;
        sim_tracef(s, "logs converged on n%d's %" PRIu64 " entries, %" PRIu64 " ms after agreement",
                   ld, s->nodes[ld].mem.len, s->st.conv_ms);
        return;
    }
    if (ok)
        return;
    char state[400];
    size_t off = 0;
    for (int i = 0; i < s->n && off < sizeof state; i++)
        off += (size_t)snprintf(state + off, sizeof state - off,
                                "%sn%d last=%" PRIu64 " commit=%" PRIu64, i ? "; " : "", i,
                                s->nodes[i].mem.len, s->nodes[i].c.commit);
    if (s->converged)
        sim_fail(s, "L5 replication liveness", "logs diverged again after converging: %s", state);
    else if (s->now > s->agreed_at + conv_bound(s))
        sim_fail(s, "L5 replication liveness",
                 "logs not converged on leader n%d %u ms after agreement: %s", ld, conv_bound(s),
                 state);
}

void check_log_step(struct sim *s)
{
    int holders = 0;
    for (int i = 0; i < s->n && !s->failed; i++) {
        const struct sim_node *nd = &s->nodes[i];
        /* With slow syncs mem may run ahead of disk: only a disk counts. */
        holders +=
            nd->held >= s->committed.len && (!s->slow_sync || nd->disk.len >= s->committed.len);
        if (!nd->up)
            continue;
        const struct cons *c = &nd->c;
        const struct sim_log *l = &nd->mem;
        const uint8_t *h = log_hash_at(l, l->len);
        uint64_t term = l->len ? l->v[l->len - 1].e.term : 0;
        if (c->last_log_index != l->len || c->last_log_term != term ||
            memcmp(c->last_log_hash, h, CONS_HASH_BYTES)) {
            sim_fail(s, "contract",
                     "n%d's core believes its log ends at %" PRIu64 " term %" PRIu64
                     " but the shell's ends at %" PRIu64 " term %" PRIu64 "%s",
                     i, c->last_log_index, c->last_log_term, l->len, term,
                     c->last_log_index == l->len ? " (hash differs)" : "");
            return;
        }
        if (c->commit > l->len || c->commit < nd->commit) {
            sim_fail(s, "L3 commit",
                     "n%d's core commit is %" PRIu64 ": its log ends at %" PRIu64
                     ", it reported %" PRIu64,
                     i, c->commit, l->len, nd->commit);
            return;
        }
        if (c->role == CONS_LEADER && (nd->role != CONS_LEADER || nd->term != c->term))
            leader_complete(s, i);
    }
    if (!s->failed && s->committed.len && holders < quorum(s)) {
        sim_fail(s, "L2 committed entry lost",
                 "committed entry %" PRIu64 " is on %d disks (quorum %d)", s->committed.len,
                 holders, quorum(s));
        return;
    }
    if (!s->failed && s->agreed)
        liveness(s);
}
