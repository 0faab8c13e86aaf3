/* Raft leader election: the pure core (see consensus.h for the contract).
 * Log replication lives in replicate.c (the leader's side) and follow.c (the
 * follower's).
 *
 * Section numbers refer to Diego Ongaro, "Consensus: Bridging Theory and
 * Practice", Stanford PhD dissertation, 2014. The core never reads a clock or
 * draws platform randomness: time arrives as now_ms, and election timeouts
 * come from a splitmix64 stream seeded by the caller, so the deterministic
 * simulation can replay any run from its seed. */
#include "consensus/consensus.h"

#include <assert.h>
#include <string.h>

#include "consensus/cons_internal.h"

/* ---- small helpers ---------------------------------------------------- */

/* splitmix64 (Steele, Lea, Flood 2014): tiny, full-period, and good enough
 * to spread election timeouts; all that matters here is that it is
 * deterministic for a seed. */
static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* §3.4: each election timeout is drawn at random from [T, 2T) so that split
 * votes are rare and resolve quickly. */
static void reset_election_deadline(struct cons *c, uint64_t now)
{
    uint64_t t = cons_timeout_ms(c);
    uint64_t jitter = t ? splitmix64(&c->rng) % t : 0;
    c->election_deadline = cons_sat_add(now, t + jitter);
    c->early_for = CONS_NONE; /* a full timeout supersedes an early pre-vote */
}

/* A link that flaps while the leader lives on would otherwise start a
 * pre-vote at every drop: each one is refused (§9.6), but each costs a round
 * of messages, so the ones that start are spaced out, further while they
 * leave the term unchanged. */
static void space_early(struct cons *c, uint64_t now)
{
    uint64_t t = cons_timeout_ms(c), most = 8 * t;
    bool again = c->early_term == c->term && c->early_gap_ms > 0;
    c->early_gap_ms = again ? (2 * c->early_gap_ms < most ? 2 * c->early_gap_ms : most) : t;
    c->early_term = c->term;
    c->early_not_before = cons_sat_add(now, c->early_gap_ms);
}

/* An early pre-vote (cons_peer_lost) not yet started is called off: the
 * election timer runs on as if the connection had never dropped. */
static void cancel_early(struct cons *c)
{
    if (c->early_for == CONS_NONE)
        return;
    c->election_deadline = c->early_saved;
    c->early_for = CONS_NONE;
}

/* The shell must persist term and vote before sending anything in this out
 * (§3.8); the state is refreshed once more when the call finishes, so it is
 * always the final one. */
static void mark_persist(struct cons *c, struct cons_out *out)
{
    out->persist = true;
    out->state.term = c->term;
    out->state.voted_for = c->voted_for;
}

void cons__emit(struct cons_out *out, const struct cons_msg *m)
{
    /* Cannot happen (a call sends at most one broadcast plus one reply, and
     * the leader's APPENDs stop when out is full), but never write past the
     * array whatever the state. */
    if (out->nmsgs >= CONS_MAX_OUT)
        return;
    out->msgs[out->nmsgs++] = *m;
}

struct cons_msg cons__reply(const struct cons *c, enum cons_msg_type type, int32_t to,
                            uint64_t term, bool granted)
{
    struct cons_msg m = {
        .type = type,
        .from = c->cfg.self,
        .to = to,
        .term = term,
        .last_log_index = c->last_log_index,
        .last_log_term = c->last_log_term,
        .granted = granted,
    };
    return m;
}

static void send_to(const struct cons *c, struct cons_out *out, enum cons_msg_type type, int32_t to,
                    uint64_t term, bool granted)
{
    struct cons_msg m = cons__reply(c, type, to, term, granted);
    cons__emit(out, &m);
}

static void broadcast(const struct cons *c, struct cons_out *out, enum cons_msg_type type,
                      uint64_t term)
{
    for (int32_t i = 0; i < c->cfg.n; i++)
        if (i != c->cfg.self)
            send_to(c, out, type, i, term, false);
}

static int32_t count_votes(const struct cons *c)
{
    int32_t k = 0;
    for (int32_t i = 0; i < c->cfg.n; i++)
        k += c->votes[i];
    return k;
}

/* §3.6.1: a voter denies its vote if its own log is more up to date than the
 * candidate's: compare the last terms, then the last indexes. */
static bool log_ok(const struct cons *c, const struct cons_msg *m)
{
    return m->last_log_term > c->last_log_term ||
           (m->last_log_term == c->last_log_term && m->last_log_index >= c->last_log_index);
}

/* §4.2.3: a server that believes a current leader exists (it heard from one
 * within the minimum election timeout) disregards RequestVote, so a
 * removed or partitioned server cannot depose a working leader. The leader
 * itself counts as being in a lease; check-quorum (§6.2) ends that lease when
 * it loses its majority. */
static bool heard_leader_lately(const struct cons *c, uint64_t now)
{
    if (c->leader == CONS_NONE || !c->heard_leader)
        return false;
    return now < c->last_leader_contact || now - c->last_leader_contact < cons_timeout_ms(c);
}

static bool in_lease(const struct cons *c, uint64_t now)
{
    if (c->role == CONS_LEADER)
        return true;
    if (!heard_leader_lately(c, now))
        return false;
    /* The connection to the leader dropped and nothing came from it since
     * (cons_peer_lost): its process most likely died, which closes every
     * connection at once, so the other followers see the same and a quick
     * election needs their grants. A leader that lives on is heard again
     * by its next heartbeat, which restores the lease. */
    return !(c->link_down[c->leader] && c->last_leader_contact <= c->link_lost_at[c->leader]);
}

/* §6.2 check-quorum: the leader stays a leader only while a majority (itself
 * included) answered within the last election timeout. That fails when the
 * (quorum-1)th most recent ack from the others goes stale, so the earliest
 * failure time is that ack plus T. Keeping it as a single deadline makes
 * cons_read_only and cons_tick agree exactly. */
static void update_quorum_check(struct cons *c)
{
    int32_t need = cons_quorum(c) - 1; /* acks needed from the others */
    if (need <= 0) {
        c->quorum_check_due = UINT64_MAX; /* a single node is its own majority */
        return;
    }
    uint64_t acks[CONS_MAX_MEMBERS];
    int32_t k = 0;
    for (int32_t i = 0; i < c->cfg.n; i++)
        if (i != c->cfg.self)
            acks[k++] = c->last_ack[i];
    /* Insertion sort, newest first: n is at most 16. */
    for (int32_t i = 1; i < k; i++) {
        uint64_t v = acks[i];
        int32_t j = i - 1;
        for (; j >= 0 && acks[j] < v; j--)
            acks[j + 1] = acks[j];
        acks[j + 1] = v;
    }
    c->quorum_check_due = cons_sat_add(acks[need - 1], cons_timeout_ms(c));
}

/* ---- role transitions ------------------------------------------------- */

/* Adopts a newer term (§3.3: "if one server's current term is smaller than
 * the other's, then it updates its current term"): no vote cast in it yet,
 * no leader known. Persisted before anything is sent (§3.8). */
void cons__become_follower(struct cons *c, uint64_t now, uint64_t term, struct cons_out *out)
{
    /* A leader deposed by the election its own transfer started, while it
     * still had its quorum (cons_handing_over). */
    if (term == c->term + 1 && c->role == CONS_LEADER && c->transfer_to != CONS_NONE &&
        now < c->quorum_check_due)
        c->handover_until = c->quorum_check_due;
    if (term > c->term) {
        c->term = term;
        c->voted_for = CONS_NONE;
        c->leader = CONS_NONE;
        c->heard_leader = false;
        /* The leader whose connection dropped belongs to an older term. */
        cancel_early(c);
        mark_persist(c, out);
    }
    if (c->role != CONS_FOLLOWER) {
        c->role = CONS_FOLLOWER;
        /* A deposed leader or abandoned candidate waits a full timeout
         * before standing again; a follower keeps its running timer. */
        reset_election_deadline(c, now);
    }
}

static void become_leader(struct cons *c, uint64_t now, struct cons_out *out)
{
    c->role = CONS_LEADER;
    c->leader = c->cfg.self;
    c->heard_leader = true;
    c->last_leader_contact = now;
    /* A granted vote is the voter's last word to us, so check-quorum
     * (§6.2) counts from when each vote arrived (become_candidate cleared the
     * rest). Counting every member as heard at the moment of election would
     * keep a leader whose voters have since vanished writable for up to a
     * further election timeout. */
    for (int32_t i = 0; i < c->cfg.n; i++)
        c->acked[i] = false;
    c->acked[c->cfg.self] = true;
    update_quorum_check(c);
    /* §3.5: replication state starts optimistic (next = last + 1). */
    cons__rep_start(c);
    /* §3.4: a new leader asserts itself at once, so that no other election
     * times out. */
    cons__rep_heartbeat(c, out);
    c->heartbeat_due = cons_sat_add(now, c->cfg.heartbeat_ms);
}

/* §3.4: increment the term, vote for itself, ask everyone else. transfer:
 * the leader handed over (TIMEOUT_NOW, §3.10), and the VOTEs say so. */
void cons__become_candidate(struct cons *c, uint64_t now, bool transfer, struct cons_out *out)
{
    c->role = CONS_CANDIDATE;
    c->term++;
    c->voted_for = c->cfg.self;
    c->leader = CONS_NONE;
    mark_persist(c, out);
    memset(c->votes, 0, sizeof(c->votes));
    memset(c->last_ack, 0, sizeof(c->last_ack));
    c->votes[c->cfg.self] = true;
    reset_election_deadline(c, now);
    for (int32_t i = 0; i < c->cfg.n; i++) {
        if (i == c->cfg.self)
            continue;
        struct cons_msg m = cons__reply(c, CONS_MSG_VOTE, i, c->term, false);
        m.transfer = transfer;
        cons__emit(out, &m);
    }
    if (count_votes(c) >= cons_quorum(c))
        become_leader(c, now, out);
}

/* §9.6 pre-vote: before disturbing anyone's term, ask whether a majority
 * would vote for this node in term+1. A partitioned node keeps failing here
 * and so never inflates its term; when it rejoins it cannot depose the
 * leader. Neither the term nor the vote changes. */
static void become_precandidate(struct cons *c, uint64_t now, bool early, struct cons_out *out)
{
    reset_election_deadline(c, now);
    if (c->term == UINT64_MAX)
        return; /* no term left to stand in; stay put rather than wrap */
    c->role = CONS_PRECANDIDATE;
    c->early_running = early;
    /* Timing out means the leader is considered gone. A dropped connection
     * only suspects it (cons_peer_lost): the leader stays known, so this
     * node is not read-only (cons_read_only) while a live leader's next
     * heartbeat is on its way; the lease is ended already (in_lease), and
     * a successful round forgets it (cons__become_candidate). */
    if (!early)
        c->leader = CONS_NONE;
    memset(c->votes, 0, sizeof(c->votes));
    c->votes[c->cfg.self] = true;
    broadcast(c, out, CONS_MSG_PREVOTE, c->term + 1);
    if (count_votes(c) >= cons_quorum(c))
        cons__become_candidate(c, now, false, out);
}

/* ---- message handlers ------------------------------------------------- */

static void on_prevote(struct cons *c, uint64_t now, const struct cons_msg *m, struct cons_out *out)
{
    /* §9.6: grant when this node would itself grant a vote in term m->term:
     * the term is newer, the log is current (§3.6.1), and no live leader is
     * known (§4.2.3). voted_for is irrelevant: no vote exists yet in a future
     * term. Nothing is changed or persisted. */
    bool grant = m->term > c->term && log_ok(c, m) && !in_lease(c, now);
    send_to(c, out, CONS_MSG_PREVOTE_RESP, m->from, grant ? m->term : c->term, grant);
    /* Early pre-votes (cons_peer_lost) go in member order: one numbered
     * below this node asks first and this one grants, so it stands back
     * rather than race that round into a split vote; if the round fails,
     * the election timeout still runs. */
    if (!grant || m->from > c->cfg.self)
        return;
    if (c->early_for != CONS_NONE) {
        cancel_early(c);
    } else if (c->role == CONS_PRECANDIDATE && c->early_running) {
        cons__become_follower(c, now, c->term, out);
    }
}

static void on_prevote_resp(struct cons *c, uint64_t now, const struct cons_msg *m,
                            struct cons_out *out)
{
    if (!m->granted) {
        /* A refusal carries the voter's term: if it is newer, this node
         * is behind and catches up as a follower. */
        if (m->term > c->term)
            cons__become_follower(c, now, m->term, out);
        return;
    }
    /* A grant carries the term it was asked about; anything else is a
     * leftover from an earlier round. */
    if (c->role != CONS_PRECANDIDATE || c->term == UINT64_MAX || m->term != c->term + 1)
        return;
    c->votes[m->from] = true;
    if (count_votes(c) >= cons_quorum(c))
        cons__become_candidate(c, now, false, out);
}

static void on_vote(struct cons *c, uint64_t now, const struct cons_msg *m, struct cons_out *out)
{
    /* §4.2.3 leader stickiness: with a live leader, the request is
     * disregarded entirely: no reply, and the term does not move; unless
     * the leader itself asked the candidate to stand (§3.10), which is why
     * it is running at all. */
    if (!m->transfer && in_lease(c, now))
        return;
    /* The candidate stands because the leader asked (cons_handing_over). */
    if (m->transfer && m->term > c->term && c->role != CONS_LEADER && heard_leader_lately(c, now))
        c->handover_until = cons_sat_add(c->last_leader_contact, cons_timeout_ms(c));
    if (m->term > c->term)
        cons__become_follower(c, now, m->term, out);
    bool grant = m->term == c->term && (c->voted_for == CONS_NONE || c->voted_for == m->from) &&
                 log_ok(c, m);
    if (grant) {
        /* §3.8: the vote reaches the disk before the reply leaves (the
         * shell persists out->state before sending out->msgs). */
        c->voted_for = m->from;
        mark_persist(c, out);
        /* §3.4: granting a vote restarts the election timer; a pre-candidate
         * that recognises a candidate in its own term stands down rather
         * than race it into term+1. */
        if (c->role == CONS_PRECANDIDATE)
            c->role = CONS_FOLLOWER;
        reset_election_deadline(c, now);
    }
    send_to(c, out, CONS_MSG_VOTE_RESP, m->from, c->term, grant);
}

static void on_vote_resp(struct cons *c, uint64_t now, const struct cons_msg *m,
                         struct cons_out *out)
{
    if (m->term > c->term) {
        cons__become_follower(c, now, m->term, out);
        return;
    }
    if (c->role != CONS_CANDIDATE || m->term != c->term || !m->granted)
        return;
    c->votes[m->from] = true;
    c->last_ack[m->from] = now;
    if (count_votes(c) >= cons_quorum(c))
        become_leader(c, now, out);
}

static void on_heartbeat(struct cons *c, uint64_t now, const struct cons_msg *m,
                         struct cons_out *out)
{
    if (m->term < c->term) {
        /* §3.3: reject, with the current term, so a stale leader learns it
         * has been replaced and steps down. */
        send_to(c, out, CONS_MSG_HEARTBEAT_RESP, m->from, c->term, false);
        return;
    }
    /* Two leaders in one term would break election safety (§3.6.3). It
     * cannot happen; if it did, yielding would hide it, so ignore it. */
    if (m->term == c->term && c->role == CONS_LEADER)
        return;
    cons__follow(c, now, m, out);
    /* The leader sends min(its commit, what this follower is known to
     * match), so everything up to it is in this log and matches (§3.5). */
    cons__commit_to(c, m->commit < c->last_log_index ? m->commit : c->last_log_index, out);
    if (!m->quiet)
        send_to(c, out, CONS_MSG_HEARTBEAT_RESP, m->from, c->term, true);
}

void cons__follow(struct cons *c, uint64_t now, const struct cons_msg *m, struct cons_out *out)
{
    /* §3.4: a (pre-)candidate that hears from a leader of its own term or a
     * newer one recognises it and returns to follower. */
    cons__become_follower(c, now, m->term, out);
    /* A leader that handed over and hears another member lead lost its
     * leadership to an election it did not ask for (cons_handing_over). */
    if (c->transfer_to != CONS_NONE && m->from != c->transfer_to)
        c->handover_until = 0;
    c->leader = m->from;
    c->heard_leader = true;
    c->last_leader_contact = now;
    reset_election_deadline(c, now);
}

static void on_heartbeat_resp(struct cons *c, uint64_t now, const struct cons_msg *m,
                              struct cons_out *out)
{
    if (m->term > c->term) {
        cons__become_follower(c, now, m->term, out);
        return;
    }
    if (c->role != CONS_LEADER || m->term != c->term)
        return;
    cons__ack(c, now, m->from);
}

/* A response of the current term from a follower: it counts for
 * check-quorum (§6.2), whether a HEARTBEAT_RESP or an APPEND_RESP. */
bool cons__live(const struct cons *c, uint64_t now, int32_t i)
{
    return c->acked[i] && (now < c->last_ack[i] || now - c->last_ack[i] < cons_timeout_ms(c));
}

void cons__ack(struct cons *c, uint64_t now, int32_t from)
{
    c->last_ack[from] = now;
    c->acked[from] = true;
    update_quorum_check(c);
}

/* ---- public interface ------------------------------------------------- */

void cons_init(struct cons *c, const struct cons_config *cfg, const struct cons_persist *p,
               uint64_t now_ms, uint64_t seed)
{
    assert(cfg->n >= 1 && cfg->n <= CONS_MAX_MEMBERS);
    assert(cfg->self >= 0 && cfg->self < cfg->n);
    memset(c, 0, sizeof(*c));
    c->cfg = *cfg;
    c->role = CONS_FOLLOWER;
    /* §3.8: the term and vote survive restarts, so a node never votes
     * twice in one term. */
    c->term = p->term;
    c->voted_for = p->voted_for;
    c->leader = CONS_NONE;
    /* Mix the member number in so nodes handed the same seed still draw
     * different timeouts (identical timers would split every vote). A
     * multiplier other than splitmix's own increment keeps the streams from
     * being shifted copies of each other. */
    c->rng = seed ^ ((uint64_t)cfg->self * 0xD1B54A32D192ED03ULL);
    reset_election_deadline(c, now_ms);
    c->heartbeat_due = UINT64_MAX;
    c->quorum_check_due = UINT64_MAX;
    c->transfer_to = CONS_NONE;
    c->early_for = CONS_NONE;
}

void cons_tick(struct cons *c, uint64_t now_ms, struct cons_out *out)
{
    cons__begin(c, out);
    if (c->role == CONS_LEADER) {
        if (now_ms >= c->quorum_check_due) {
            /* §6.2: step down in the same term; the majority may already be
             * electing someone else. */
            c->leader = CONS_NONE;
            c->heard_leader = false;
            cons__become_follower(c, now_ms, c->term, out);
        } else if (now_ms >= c->heartbeat_due) {
            cons__rep_heartbeat(c, out);
            /* Again, in case the last TIMEOUT_NOW was lost. */
            cons__transfer_progress(c, out);
            c->heartbeat_due = cons_sat_add(now_ms, c->cfg.heartbeat_ms);
        }
    } else {
        if (c->storage_failed && now_ms >= c->storage_probe_at) {
            out->probe_storage = true;
            uint64_t most = 4 * (uint64_t)cons_timeout_ms(c);
            c->storage_backoff_ms =
                2 * c->storage_backoff_ms < most ? 2 * c->storage_backoff_ms : most;
            c->storage_probe_at = cons_sat_add(now_ms, c->storage_backoff_ms);
        }
        if (now_ms >= c->election_deadline && c->storage_failed) {
            /* A node that cannot append would only be elected to step down
             * at its first entry (its election entry, §8): it waits. */
            c->leader = CONS_NONE;
            reset_election_deadline(c, now_ms);
        } else if (now_ms >= c->election_deadline) {
            /* Followers and candidates alike start with a pre-vote round; a
             * candidate whose election timed out (split vote) does too, so a
             * stranded candidate cannot keep raising its term (§9.6). */
            int32_t early = c->early_for;
            become_precandidate(c, now_ms, early != CONS_NONE, out);
            out->lost_prevote = early != CONS_NONE;
            out->lost_leader = early;
            if (out->lost_prevote)
                space_early(c, now_ms);
        }
    }
    cons__transfer_check(c, now_ms, out);
    if (out->persist)
        mark_persist(c, out);
}

void cons_recv(struct cons *c, uint64_t now_ms, const struct cons_msg *m, struct cons_out *out)
{
    cons__begin(c, out);
    if (!m || m->from < 0 || m->from >= c->cfg.n || m->from == c->cfg.self ||
        m->to != c->cfg.self || m->type < CONS_MSG_PREVOTE || m->type >= CONS_MSG_TYPE_END)
        return;
    switch (m->type) {
    case CONS_MSG_PREVOTE:
        on_prevote(c, now_ms, m, out);
        break;
    case CONS_MSG_PREVOTE_RESP:
        on_prevote_resp(c, now_ms, m, out);
        break;
    case CONS_MSG_VOTE:
        on_vote(c, now_ms, m, out);
        break;
    case CONS_MSG_VOTE_RESP:
        on_vote_resp(c, now_ms, m, out);
        break;
    case CONS_MSG_HEARTBEAT:
        on_heartbeat(c, now_ms, m, out);
        break;
    case CONS_MSG_HEARTBEAT_RESP:
        on_heartbeat_resp(c, now_ms, m, out);
        break;
    case CONS_MSG_APPEND:
        /* Malformed entry metadata is ignored like any bad field. */
        if (cons__append_valid(m))
            cons__on_append(c, now_ms, m, out);
        break;
    case CONS_MSG_APPEND_RESP:
        cons__on_append_resp(c, now_ms, m, out);
        break;
    case CONS_MSG_TIMEOUT_NOW:
        cons__on_timeout_now(c, now_ms, m, out);
        break;
    case CONS_MSG_TYPE_END:
        break;
    }
    cons__transfer_check(c, now_ms, out);
    if (out->persist)
        mark_persist(c, out);
}

void cons_peer_lost(struct cons *c, uint64_t now_ms, int32_t member)
{
    if (member < 0 || member >= c->cfg.n || member == c->cfg.self)
        return;
    c->link_down[member] = true;
    c->link_lost_at[member] = now_ms;
    /* Only a follower's own leader matters: a candidate is electing already,
     * a leader has check-quorum (§6.2), a drop between two followers says
     * nothing of the leader, and one for an old leader comes too late. */
    if (c->role != CONS_FOLLOWER || member != c->leader || !c->heard_leader || c->storage_failed ||
        c->early_for != CONS_NONE || now_ms < c->early_not_before)
        return;
    /* The followers all see a dead leader's connection drop at the same
     * moment: in a fixed order, one step apart, they rarely stand together
     * and split the vote (what §3.4's randomized timeouts are for, on the
     * election timeout's scale, which is too coarse here). */
    uint64_t rank = 0;
    for (int32_t i = 0; i < c->cfg.self; i++)
        rank += i != member;
    uint64_t delay = 1 + rank * CONS_LOST_STEP_MS + splitmix64(&c->rng) % CONS_LOST_JITTER_MS;
    uint64_t at = cons_sat_add(now_ms, delay);
    if (at >= c->election_deadline)
        return;
    c->early_saved = c->election_deadline;
    c->election_deadline = at;
    c->early_for = member;
}

void cons_peer_back(struct cons *c, uint64_t now_ms, int32_t member)
{
    (void)now_ms;
    if (member < 0 || member >= c->cfg.n || member == c->cfg.self)
        return;
    c->link_down[member] = false;
    /* Connected again before the pre-vote started: the leader's process is
     * alive (it accepted the connection), so leave it to its heartbeats. */
    if (c->early_for == member)
        cancel_early(c);
}

void cons_storage_failed(struct cons *c, uint64_t now_ms, const struct cons_persist *p,
                         const struct cons_entry *last)
{
    /* A follower that stays in its term keeps the leader it heard (there is
     * one per term, and it did hear it): its disk failing is no news about
     * the leader, and forgetting it would flap read-only at every APPEND the
     * disk refuses. */
    bool keep = c->role == CONS_FOLLOWER && p->term == c->term;
    c->term = p->term;
    c->voted_for = p->voted_for;
    c->role = CONS_FOLLOWER;
    if (!keep) {
        c->leader = CONS_NONE;
        c->heard_leader = false;
        reset_election_deadline(c, now_ms);
    }
    c->heartbeat_due = UINT64_MAX;
    c->quorum_check_due = UINT64_MAX;
    /* The commit index stays what it was as far as the log reaches: every
     * commit reported so far was of entries then durable, and a log never
     * loses a committed entry (§3.5), so the clamp only drops what the
     * failed out would have reported. Except when that out also replaced
     * entries the commit covered: the log on disk still holds the old ones,
     * which are not known committed, so the commit index goes back to
     * where it was before that out. */
    if (c->commit_undo_set && c->commit_undo < c->commit)
        c->commit = c->commit_undo;
    c->commit_undo_set = false;
    struct cons_log view = c->log;
    cons_set_log(c, &view, last, c->commit);
    if (!c->storage_failed) {
        c->storage_failed = true;
        c->storage_backoff_ms = cons_timeout_ms(c);
        c->storage_probe_at = cons_sat_add(now_ms, c->storage_backoff_ms);
    }
}

void cons_storage_ok(struct cons *c)
{
    c->storage_failed = false;
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

uint64_t cons_next_deadline(const struct cons *c)
{
    uint64_t at;
    if (c->role == CONS_LEADER)
        at = min_u64(c->heartbeat_due, c->quorum_check_due);
    else if (c->storage_failed)
        at = min_u64(c->storage_probe_at, c->election_deadline);
    else
        at = c->election_deadline;
    return c->transfer_to != CONS_NONE ? min_u64(at, c->transfer_deadline) : at;
}

bool cons_read_only(const struct cons *c, uint64_t now_ms)
{
    if (c->role == CONS_LEADER)
        return now_ms >= c->quorum_check_due;
    /* Only silence makes a follower read-only, as before connection loss
     * was heard of: a connection closed and replaced (a redial, a stale one
     * closed after a partition healed) while the leader's heartbeats go on
     * must not flip it, and with it /health/ready. The lost connection only
     * ends the lease for votes (in_lease), which is what a quick election
     * needs. */
    return !heard_leader_lately(c, now_ms) && !cons_handing_over(c, now_ms);
}

bool cons_handing_over(const struct cons *c, uint64_t now_ms)
{
    return c->role != CONS_LEADER && now_ms < c->handover_until;
}

int32_t cons_quorum(const struct cons *c)
{
    return c->cfg.n / 2 + 1;
}

const char *cons_role_name(enum cons_role r)
{
    switch (r) {
    case CONS_FOLLOWER:
        return "follower";
    case CONS_PRECANDIDATE:
        return "precandidate";
    case CONS_CANDIDATE:
        return "candidate";
    case CONS_LEADER:
        return "leader";
    }
    return "unknown";
}
