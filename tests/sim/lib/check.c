/* The invariants, checked after every step of the simulation (and at each
 * persist and each send). Exactly what is checked:
 *
 * Connectivity, as the checker sees it. The directed path a->b is usable at
 * time t when the link a->b is up and b is up (a message already sent still
 * arrives after its sender crashed; one to a crashed node is lost). A message
 * is delivered at t only if its path is usable at t, and it spends at most
 * D = NET_D_MAX ms in flight. fresh(a->b, W): the path was usable at some
 * moment of (now - W, now]. contact(i, W) = {i} + {j : fresh(i->j, W) and
 * fresh(j->i, W)}. isolated(i, W): |contact(i, W)| < quorum, i.e. for the
 * last W ms i has had no two-way connectivity with a majority. A node on the
 * minority side of a partition formed at s is isolated(i, W) from s + W on.
 *
 * Bounds, from T (election timeout) and D, with eps = 2 ms for the edges of
 * "within": B_RO = T + D + eps (227 ms), B_SD = T + D + eps (227 ms),
 * B_MIN = B_SD + T + D + eps (454 ms).
 *
 *  1  election safety: at most one leader per term over the whole history,
 *     restarts included (term -> leader is recorded at every step).
 *  1b legitimacy: when i is first seen leading term t, a quorum voted for it
 *     in t: granted VOTE_RESPs sent to i in t, plus i's own persisted vote.
 *  2a an up leader with isolated(i, B_RO) is read-only (cons_read_only). A
 *     leader is read-only once it has not heard a majority within T; an answer
 *     from j arrives only over a usable j->i and answers a message delivered
 *     over i->j at most D earlier, so if j is not in contact(i, B_RO) its last
 *     answer is older than now - B_RO + D = now - T - eps.
 *  2b an up node with isolated(i, B_SD) is not leader: its last answers from a
 *     majority are older than T, and the core evaluates check-quorum as a
 *     deadline (the (quorum-1)th newest ack + T), so it has stepped down.
 *  3  an up non-leader that is not read-only could have heard a leader within
 *     T: some L != i was leader at a step within the last T + D + eps and
 *     fresh(L->i, T + eps). (A follower is read-only unless its leader's
 *     heartbeat, sent at most D earlier, arrived within T.) Or i itself was a
 *     leader that was not read-only at a step within the last T + eps: a
 *     leader that handed over (§3.10) stays out of read-only mode until its
 *     check-quorum would have failed (cons_handing_over).
 *  3m minority sides: an up non-leader with isolated(i, B_MIN) is read-only,
 *     unless some L != i with fresh(L->i, T + eps) is not isolated(L, B_MIN)
 *     (i may legitimately follow a quorum-backed leader over a one-way link).
 *     A node on the minority side of a clean partition formed at s is thus
 *     read-only from s + B_MIN (= s + 2T + 2D + 2eps) while it holds. That
 *     is "within two election timeouts" plus the network's delays: a
 *     follower of the old leader keeps hearing its heartbeats until
 *     check-quorum steps it down (up to B_SD), then trusts it T more (+D).
 *  4  one vote per term per node, across restarts: every vote a node persists
 *     and every granted VOTE_RESP it sends are recorded as (term, voter) ->
 *     candidate; a different candidate for the same (term, voter) fails.
 *  4b persist before send: a granted VOTE_RESP to c in term t is sent only
 *     when the sender's disk holds (t, c); no message but the pre-votes
 *     carries a term above the sender's disk term.
 *  5  liveness: after the full heal at h, by h + SIM_LIVE_BOUND there is a
 *     step where exactly one node is leader and not read-only, and every
 *     other node is a follower in its term, names it leader, is not
 *     read-only, has received a HEARTBEAT or APPEND from it since h, and
 *     the leader has received an answer from it since h ("agreement"; the last two
 *     conditions keep a state left over from before the heal from counting).
 *  5b stability: from agreement to the end of the schedule the agreement
 *     holds at every step, with the same leader and term.
 *  6  durability: after every step each up core's term and vote equal its
 *     disk; a persist never lowers the term or changes a vote within a term.
 *  S  storage: a node whose disk refused a write (and has taken none since,
 *     probe included) is not leader after the step, and sends no PREVOTE or
 *     VOTE (it stands for no election).
 *  T  transfer: a leadership transfer has ended by its deadline (one
 *     election timeout after it started), so a leader whose transfer failed
 *     takes proposals again.
 *  N  no election storm: in a flapping schedule (--flap: the only fault is
 *     one pair's connection dropping and coming back, again and again, its
 *     link sometimes cut while down, so the leader stays reachable by a
 *     majority throughout), once every node follows one leader the term
 *     never moves again. An early pre-vote (cons_peer_lost) may start at
 *     each drop, but voters that still hear the leader refuse it (§9.6),
 *     so a flapping link costs no term.
 *  R  no read-only turn for a flap: in such a schedule, from that moment,
 *     a member that received a HEARTBEAT or APPEND from the leader less
 *     than an election timeout ago is not read-only, whatever its early
 *     pre-vote: a reset connection to a live leader is a suspicion, and
 *     /health/ready must not flip for it.
 *  contract: messages come from self to another member with a known type,
 *     nmsgs <= CONS_MAX_OUT, and cons_tick leaves the next deadline > now.
 *  L1-L5: the log invariants, in check_log.c. */
#include "lib/sim.h"

#include <inttypes.h>
#include <stdio.h>

/* With slow syncs a follower's answer to an APPEND waits for its sync (at
 * most 2H, cluster.c): to the leader's check-quorum that is latency, as the
 * follower's fdatasync before answering always was (a synchronous sync was
 * modelled as taking no time). */
#define B_HOLD (s->slow_sync ? 2u * SIM_H : 0u)
#define B_RO (SIM_T + NET_D_MAX + SIM_SLACK + B_HOLD)
#define B_SD (SIM_T + NET_D_MAX + SIM_SLACK + B_HOLD)
#define B_MIN (B_SD + SIM_T + NET_D_MAX + SIM_SLACK)
#define B_HEARD (SIM_T + SIM_SLACK)
#define B_LEADER_RECENT (SIM_T + NET_D_MAX + SIM_SLACK)

void check_init(struct sim *s)
{
    tmap_init(&s->leader_of);
    tmap_init(&s->vote_of);
    tmap_init(&s->grants);
}

void check_free(struct sim *s)
{
    tmap_free(&s->leader_of);
    tmap_free(&s->vote_of);
    tmap_free(&s->grants);
}

static int quorum(const struct sim *s)
{
    return s->n / 2 + 1;
}

static int contacts(const struct sim *s, int i, uint64_t window)
{
    int k = 1;
    for (int j = 0; j < s->n; j++)
        if (j != i && net_fresh(&s->net, i, j, window, s->now) &&
            net_fresh(&s->net, j, i, window, s->now))
            k++;
    return k;
}

static bool isolated(const struct sim *s, int i, uint64_t window)
{
    return contacts(s, i, window) < quorum(s);
}

static void record_vote(struct sim *s, int voter, uint64_t term, int32_t cand, const char *how)
{
    bool added;
    int32_t *v = tmap_put(&s->vote_of, term, voter, cand, &added);
    if (!added && *v != cand) {
        sim_fail(s, "4 one vote per term",
                 "n%d voted for n%d and for n%d in term %" PRIu64 " (second one %s)", voter, *v,
                 cand, term, how);
        return;
    }
    *tmap_put(&s->grants, term, cand, 0, &added) |= 1 << voter;
}

void check_persist(struct sim *s, int i, const struct cons_persist *st)
{
    const struct cons_persist *old = &s->nodes[i].disk_state;
    if (st->voted_for != CONS_NONE && (st->voted_for < 0 || st->voted_for >= s->n)) {
        sim_fail(s, "contract", "n%d persists vote=%d", i, st->voted_for);
        return;
    }
    if (st->term < old->term) {
        sim_fail(s, "6 durability",
                 "n%d persists term %" PRIu64 " over term %" PRIu64 " (term went back)", i,
                 st->term, old->term);
        return;
    }
    if (st->term == old->term && old->voted_for != CONS_NONE && st->voted_for != old->voted_for) {
        sim_fail(s, "6 durability", "n%d changes its persisted vote in term %" PRIu64 ": %d -> %d",
                 i, st->term, old->voted_for, st->voted_for);
        return;
    }
    if (st->voted_for != CONS_NONE)
        record_vote(s, i, st->term, st->voted_for, "persisted");
}

void check_send(struct sim *s, int i, const struct cons_msg *m)
{
    const struct cons_persist *disk = &s->nodes[i].disk_state;
    if (m->from != i || m->to < 0 || m->to >= s->n || m->to == i || m->type < CONS_MSG_PREVOTE ||
        m->type >= CONS_MSG_TYPE_END) {
        sim_fail(s, "contract", "n%d emits a malformed message: type=%d from=%d to=%d", i,
                 (int)m->type, m->from, m->to);
        return;
    }
    if (s->nodes[i].refused && (m->type == CONS_MSG_PREVOTE || m->type == CONS_MSG_VOTE)) {
        sim_fail(s, "S storage",
                 "n%d stands for election in term %" PRIu64 " (%s) although its "
                 "disk refused a write and has taken none since",
                 i, m->term, sim_msg_name(m->type));
        return;
    }
    if (m->type != CONS_MSG_PREVOTE && m->type != CONS_MSG_PREVOTE_RESP && m->term > disk->term) {
        sim_fail(s, "4b persist before send",
                 "n%d sends %s in term %" PRIu64 " but its disk holds term %" PRIu64, i,
                 sim_msg_name(m->type), m->term, disk->term);
        return;
    }
    if (m->type == CONS_MSG_VOTE_RESP && m->granted) {
        if (disk->term != m->term || disk->voted_for != m->to) {
            sim_fail(s, "4b persist before send",
                     "n%d grants its vote to n%d in term %" PRIu64
                     " but its disk holds term %" PRIu64 " vote %d",
                     i, m->to, m->term, disk->term, disk->voted_for);
            return;
        }
        record_vote(s, i, m->term, m->to, "granted in a VOTE_RESP");
    }
}

/* Tracks role changes and when each node was last leader. */
static void bookkeeping(struct sim *s)
{
    for (int i = 0; i < s->n; i++) {
        struct sim_node *nd = &s->nodes[i];
        if (!nd->up)
            continue;
        if (nd->role == CONS_LEADER || nd->c.role == CONS_LEADER)
            nd->last_leader_at = s->now;
        if (nd->role != nd->c.role || nd->term != nd->c.term)
            sim_tracef(s, "role n%d %s -> %s term=%" PRIu64 " leader=%d read_only=%d", i,
                       cons_role_name(nd->role), cons_role_name(nd->c.role), nd->c.term,
                       nd->c.leader, cons_read_only(&nd->c, s->now));
        nd->role = nd->c.role;
        nd->term = nd->c.term;
    }
}

static void describe(const struct sim *s, char *buf, size_t len)
{
    size_t off = 0;
    buf[0] = '\0';
    for (int i = 0; i < s->n && off < len; i++) {
        const struct sim_node *nd = &s->nodes[i];
        if (!nd->up)
            off += (size_t)snprintf(buf + off, len - off, "%sn%d down", i ? "; " : "", i);
        else
            off += (size_t)snprintf(buf + off, len - off, "%sn%d %s t=%" PRIu64 " leader=%d ro=%d",
                                    i ? "; " : "", i, cons_role_name(nd->c.role), nd->c.term,
                                    nd->c.leader, cons_read_only(&nd->c, s->now));
    }
}

static void check_leader(struct sim *s, int i, bool ro)
{
    const struct sim_node *nd = &s->nodes[i];
    bool added;
    int32_t *who = tmap_put(&s->leader_of, nd->c.term, 0, i, &added);
    if (added) {
        s->st.elections++;
        if (s->crash_at != NET_NEVER && nd->c.term > s->crash_term) {
            /* A crashed leader's successor: how long the federation had
             * none (connection loss makes it short, cons_peer_lost). */
            uint64_t ms = s->now - s->crash_at;
            s->st.failovers++;
            s->st.failover_ms_total += ms;
            if (ms > s->st.failover_ms_max)
                s->st.failover_ms_max = ms;
            if (s->fo_hist)
                s->fo_hist[ms < SIM_LAT_BUCKETS ? ms : SIM_LAT_BUCKETS - 1]++;
            s->crash_at = NET_NEVER;
        }
        int32_t *mask = tmap_get(&s->grants, nd->c.term, i);
        int votes = mask ? __builtin_popcount((unsigned)*mask) : 0;
        if (votes < quorum(s)) {
            sim_fail(s, "1b leader legitimacy",
                     "n%d leads term %" PRIu64 " with %d recorded votes (quorum %d)", i, nd->c.term,
                     votes, quorum(s));
            return;
        }
    } else if (*who != i) {
        sim_fail(s, "1 election safety", "n%d and n%d are both leaders of term %" PRIu64, *who, i,
                 nd->c.term);
        return;
    }
    if (!ro && isolated(s, i, B_RO)) {
        sim_fail(s, "2a minority leader read-only",
                 "n%d leads term %" PRIu64 " and is not read-only, but has had two-way contact "
                 "with only %d nodes (quorum %d) in the last %u ms",
                 i, nd->c.term, contacts(s, i, B_RO), quorum(s), B_RO);
        return;
    }
    if (isolated(s, i, B_SD))
        sim_fail(s, "2b minority leader steps down",
                 "n%d still leads term %" PRIu64 " (read_only=%d) after %u ms with two-way contact "
                 "with only %d nodes (quorum %d)",
                 i, nd->c.term, ro, B_SD, contacts(s, i, B_SD), quorum(s));
}

static void check_follower(struct sim *s, int i)
{
    bool heard = false, backed = false;
    for (int l = 0; l < s->n; l++) {
        if (l == i || !net_fresh(&s->net, l, i, B_HEARD, s->now))
            continue;
        uint64_t last = s->nodes[l].last_leader_at;
        if (last != NET_NEVER && last + B_LEADER_RECENT >= s->now)
            heard = true;
        if (!isolated(s, l, B_MIN))
            backed = true;
    }
    const struct sim_node *nd = &s->nodes[i];
    /* Its own leadership counts only as long as it would as a leader (2a):
     * the grace of a leader that handed over ends with its check-quorum. */
    if (nd->last_writable_leader_at != NET_NEVER &&
        nd->last_writable_leader_at + B_HEARD >= s->now && !isolated(s, i, B_RO))
        heard = true;
    if (!heard) {
        sim_fail(s, "3 read-only without a reachable leader",
                 "n%d (%s term %" PRIu64 " leader=%d) is not read-only, but no node that was "
                 "leader in the last %u ms could reach it in the last %u ms",
                 i, cons_role_name(nd->c.role), nd->c.term, nd->c.leader, B_LEADER_RECENT, B_HEARD);
        return;
    }
    if (!backed && isolated(s, i, B_MIN))
        sim_fail(s, "3m minority read-only",
                 "n%d (%s term %" PRIu64 " leader=%d) is not read-only after %u ms with two-way "
                 "contact with only %d nodes (quorum %d), and no quorum-connected node reaches it",
                 i, cons_role_name(nd->c.role), nd->c.term, nd->c.leader, B_MIN,
                 contacts(s, i, B_MIN), quorum(s));
}

/* Agreement on one leader, established after the heal: the states alone
 * could still reflect heartbeats from before it, so every follower must also
 * have received a heartbeat from the leader since the heal and the leader an
 * answer from each of them. */
static bool agreement(const struct sim *s, int *leader)
{
    int l = sim_leader(s);
    if (l < 0 || cons_read_only(&s->nodes[l].c, s->now))
        return false;
    for (int i = 0; i < s->n; i++) {
        const struct sim_node *nd = &s->nodes[i];
        const struct cons *c = &nd->c;
        if (i == l)
            continue;
        if (!nd->up || c->role != CONS_FOLLOWER || c->term != s->nodes[l].c.term ||
            c->leader != l || cons_read_only(c, s->now))
            return false;
        if (nd->hb_from != l || nd->hb_at == NET_NEVER || nd->hb_at < s->heal_at ||
            s->nodes[l].ack_at[i] == NET_NEVER || s->nodes[l].ack_at[i] < s->heal_at)
            return false;
    }
    *leader = l;
    return true;
}

static void check_liveness(struct sim *s)
{
    char state[400];
    int l = -1;
    bool ok = agreement(s, &l);
    if (!s->agreed) {
        if (ok) {
            s->agreed = true;
            s->agreed_at = s->now;
            s->agreed_leader = l;
            s->agreed_term = s->nodes[l].c.term;
            sim_tracef(s, "agreement: n%d leads term %" PRIu64 ", %" PRIu64 " ms after the heal", l,
                       s->agreed_term, s->now - s->heal_at);
        } else if (s->now > s->heal_at + SIM_LIVE_BOUND) {
            describe(s, state, sizeof state);
            sim_fail(s, "5 liveness after heal", "no agreed leader %u ms after the heal: %s",
                     SIM_LIVE_BOUND, state);
        }
    } else if (!ok || l != s->agreed_leader || s->nodes[l].c.term != s->agreed_term) {
        describe(s, state, sizeof state);
        sim_fail(s, "5b stability after heal",
                 "agreement on n%d term %" PRIu64 " lost %" PRIu64 " ms after it formed: %s",
                 s->agreed_leader, s->agreed_term, s->now - s->agreed_at, state);
    }
}

/* N (see the top): the base is the first moment every node follows one
 * leader that is not read-only. */
static void check_storm(struct sim *s)
{
    int l = sim_leader(s);
    if (!s->flap_based) {
        if (l < 0 || cons_read_only(&s->nodes[l].c, s->now))
            return;
        for (int i = 0; i < s->n; i++) {
            const struct cons *c = &s->nodes[i].c;
            if (i != l && (!s->nodes[i].up || c->role != CONS_FOLLOWER || c->leader != l ||
                           c->term != s->nodes[l].c.term))
                return;
        }
        s->flap_based = true;
        s->flap_term = s->nodes[l].c.term;
        sim_tracef(s, "flapping starts: n%d leads term %" PRIu64, l, s->flap_term);
        return;
    }
    char state[400];
    for (int i = 0; i < s->n; i++) {
        const struct sim_node *nd = &s->nodes[i];
        if (nd->up && nd->c.term > s->flap_term) {
            describe(s, state, sizeof state);
            sim_fail(s, "N no election storm",
                     "n%d reached term %" PRIu64 " though only one link at a time flapped "
                     "from term %" PRIu64 " on: %s",
                     i, nd->c.term, s->flap_term, state);
            return;
        }
        if (nd->up && l >= 0 && i != l && nd->hb_from == l && nd->hb_at != NET_NEVER &&
            s->now - nd->hb_at < SIM_T && cons_read_only(&nd->c, s->now)) {
            describe(s, state, sizeof state);
            sim_fail(s, "R no read-only turn for a flap",
                     "n%d (%s) is read-only though it heard leader n%d %" PRIu64 " ms ago: %s", i,
                     cons_role_name(nd->c.role), l, s->now - nd->hb_at, state);
            return;
        }
    }
}

void check_step(struct sim *s)
{
    /* The log invariants (check_log.c) first: they see who just became
     * leader before bookkeeping records it. */
    check_log_step(s);
    if (s->failed)
        return;
    bookkeeping(s);
    int writable_leaders = 0;
    for (int i = 0; i < s->n && !s->failed; i++) {
        struct sim_node *nd = &s->nodes[i];
        if (!nd->up)
            continue;
        if (nd->c.term != nd->disk_state.term || nd->c.voted_for != nd->disk_state.voted_for) {
            sim_fail(s, "6 durability",
                     "n%d runs with term %" PRIu64 " vote %d but its disk holds term %" PRIu64
                     " vote %d",
                     i, nd->c.term, nd->c.voted_for, nd->disk_state.term, nd->disk_state.voted_for);
            break;
        }
        if (nd->c.transfer_to != CONS_NONE && s->now > nd->c.transfer_deadline) {
            sim_fail(s, "T transfer",
                     "n%d's transfer to n%d is still running at %" PRIu64
                     " ms, past its deadline %" PRIu64,
                     i, nd->c.transfer_to, s->now, nd->c.transfer_deadline);
            break;
        }
        bool ro = cons_read_only(&nd->c, s->now);
        if (nd->refused && nd->c.role == CONS_LEADER) {
            sim_fail(s, "S storage",
                     "n%d still leads term %" PRIu64 " although its disk refused a write", i,
                     nd->c.term);
            break;
        }
        if (nd->c.role == CONS_LEADER) {
            writable_leaders += !ro;
            if (!ro)
                nd->last_writable_leader_at = s->now;
            check_leader(s, i, ro);
        } else if (!ro) {
            check_follower(s, i);
        }
    }
    if (writable_leaders > 1 && !s->dual)
        s->st.dual_writable++;
    s->dual = writable_leaders > 1;
    if (s->healed && !s->failed)
        check_liveness(s);
    if (s->flap_mode && !s->failed)
        check_storm(s);
}
