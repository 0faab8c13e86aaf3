/* Raft log replication (dissertation §3.5, §3.6): the pure core's half that
 * moves entries from the leader to the followers and decides what is
 * committed; the follower's side, taking APPENDs and answering them once
 * durable, is follow.c. See consensus.h for the contract with the shell.
 *
 * The core knows entries only by (index, term, hash). The hash covers the
 * whole chain, so a match on (prev_index, prev_hash) proves the whole prefix
 * matches: it plays the role of §3.5's (prevLogIndex, prevLogTerm) check,
 * and the Log Matching Property follows from the chain.
 *
 * Leader side, per follower i: next_index[i] is the next entry to send,
 * match_index[i] the highest known to match, inflight[i] the APPENDs sent
 * and not yet answered (a flow-control count, not an exact one: a lost
 * message keeps it high until a probe is answered, a duplicated answer
 * lowers it early, which only lets a few more APPENDs out). Sending is
 * optimistic and pipelined: next_index advances as soon as an APPEND leaves,
 * up to CONS_MAX_INFLIGHT APPENDs of at most CONS_MAX_BATCH entries each
 * (§10.2.2 "pipelining"), though behind an unanswered one only a full
 * batch leaves at once (has_work). So a lost answer that leaves the
 * follower short of what it was sent holds its next entries until the
 * heartbeat's probe is answered: up to two heartbeat intervals and a round
 * trip (the interval in which the APPEND left does not count as stuck).
 * Answers are lost only with a connection or a full queue, and the
 * alternatives measured worse (sending held entries in the heartbeat's
 * place; resetting the count, which lets late answers drain the next
 * pipeline's). The APPENDs sent since next_index was last set
 * back form the current pipeline; its first one, the head, has prev_index
 * pipe_base[i], and each later one starts where the previous one ended.
 *
 * Refusals. §3.5 says "decrement nextIndex and retry"; applied to every
 * refusal of a pipeline, that rule is what amplifies: each late refusal
 * rewinds next_index and resends a whole window, whose own late refusals
 * rewind it again. An APPEND_RESP echoes the prev_index p of the APPEND it
 * answers. A refusal means that when the follower handled that APPEND its
 * log did not match at p: that APPEND's entries were not stored. It says
 * nothing about the APPENDs sent after it, which may still be on their way
 * and will succeed if what they follow arrives first. So a refusal moves
 * next_index back only when it must:
 *   - the head's (p == pipe_base) above the known match: the pipeline
 *     starts at a point the follower does not have, so every APPEND of it
 *     will be refused: restart after the hint (which a correct follower
 *     puts below p), never below match_index;
 *   - one after the head (pipe_base < p < next_index, p >= match_index) is
 *     remembered (the lowest, refused_lo); once the follower is known to
 *     match exactly up to it, everything before it has arrived and its
 *     entries are missing: restart after the match, at once, rather than
 *     when the answers still in flight come back. If the match passes it
 *     instead, a copy of those entries got through and it is forgotten;
 *   - and, failing both, when the pipeline drains (inflight reaches 0 on
 *     an answer that may be the current pipeline's) with the match still
 *     short of what was sent: restart after the match (once per heartbeat
 *     interval at a given match: see cons__on_append_resp).
 * A restart does not reset inflight: the APPENDs still in flight keep
 * their place in the count, so the new pipeline only fills as their
 * answers come back, and a rewind never puts more than CONS_MAX_INFLIGHT
 * APPENDs on the wire. Every other refusal is ignored: one of an APPEND
 * sent before the last restart (an older pipeline, p < pipe_base), and one
 * below match_index (the head's at match_index too: the APPEND it answers
 * is an older one with the same p, since the follower holds p). And no
 * hint below match_index is ever followed. That relies on the follower's
 * matching prefix never shrinking while we lead this term: its log is
 * durable before it answers (§3.8), only this term's leader changes it,
 * and it never cuts an entry that matches ours (§3.5), so a refusal at
 * p < match_index, or one whose hint (the follower's last index when it is
 * behind) is below it, was produced before the success that taught us
 * match_index. That is, we trust match_index over such a hint, and do not
 * refill the window for it (the old rule restarted from match + 1 with an
 * empty count on every such refusal: up to a window per answer). A
 * follower whose storage was wiped or restored from a backup breaks the
 * assumption: the shell reports it with cons_peer_restarted, which starts
 * over (match 0). Were that report missing, the follower would stay
 * behind (its refusals ignored; the old rule clamped them to match + 1
 * and resent from there forever), but nothing unsafe happens: next_index
 * never affects safety, the follower's consistency check does. Stale
 * answers whose p happens to fall in the current pipeline cannot be told
 * apart from current ones without a generation on the wire; at worst each
 * causes one extra restart, bounded by the count above.
 *
 * Lost messages: on each heartbeat, a follower not known to hold the whole
 * log that cannot be sent anything new (its pipeline is full, or everything
 * was sent) gets a probe instead of a HEARTBEAT when its pipeline looks
 * stuck: nothing is in flight, or during the whole last heartbeat interval
 * no APPEND_RESP came from it and no entries were sent to it. The probe,
 * an APPEND with no entries and prev_index = next_index - 1, becomes the
 * head of a new (empty) pipeline. If the follower has everything sent so
 * far it accepts (and the leader learns its match, which also repairs lost
 * answers); if APPENDs were lost it refuses with a hint and the pipeline
 * restarts from there. When APPENDs were in flight, nothing more is sent
 * until the probe is answered (probing), and those still unanswered then
 * are presumed lost (inflight restarts at 0); so a follower that is cut off
 * costs one empty APPEND per heartbeat, not a window of entries into the
 * void. A pipeline that is still being answered,
 * or was just sent, gets a plain HEARTBEAT instead: a probe would overtake
 * its APPENDs, be refused and resend the whole window for nothing. No timer
 * and no exact in-flight count is needed, so losses, duplicates and
 * reordering cannot leave a follower stuck. */
#include <string.h>

#include "consensus/cons_internal.h"

/* ---- the log as the core sees it -------------------------------------- */

/* Metadata of entry idx of this node's log: index 0 is the empty prefix
 * (term 0, zero hash), the last entry is kept by the core, older ones come
 * from the shell's read-only view. False when the view cannot answer. */
bool cons__meta_at(const struct cons *c, uint64_t idx, uint64_t *term,
                   uint8_t hash[CONS_HASH_BYTES])
{
    if (idx == 0) {
        *term = 0;
        memset(hash, 0, CONS_HASH_BYTES);
        return true;
    }
    if (idx == c->last_log_index) {
        *term = c->last_log_term;
        memcpy(hash, c->last_log_hash, CONS_HASH_BYTES);
        return true;
    }
    if (idx > c->last_log_index || !c->log.meta)
        return false;
    return c->log.meta(c->log.ctx, idx, term, hash) == 0;
}

/* The log now ends (or was cut) at end. Without async sync, a log change
 * is durable before anything that depends on it is sent: the log's end is
 * what is durable. With it, what was durable stays so up to end, and what
 * is written beyond it is not until cons_synced says so. */
void cons__synced_to_end(struct cons *c, uint64_t end)
{
    if (!c->async_sync || c->synced > end)
        c->synced = end;
}

/* How far this node's log is durable. */
static uint64_t durable(const struct cons *c)
{
    return c->synced < c->last_log_index ? c->synced : c->last_log_index;
}

void cons__set_last(struct cons *c, const struct cons_entry *e)
{
    c->last_log_index = e->index;
    c->last_log_term = e->term;
    memcpy(c->last_log_hash, e->hash, CONS_HASH_BYTES);
    cons__synced_to_end(c, e->index);
}

void cons__commit_to(struct cons *c, uint64_t index, struct cons_out *out)
{
    /* The commit index never moves back (§3.5); out->commit reports it only
     * when it advanced in this call. */
    if (index > c->commit) {
        c->commit = index;
        out->commit = index;
        c->commit_push = c->role == CONS_LEADER;
        /* A transfer waits for the whole log to be committed (transfer.c). */
        cons__transfer_progress(c, out);
    }
}

void cons_set_log(struct cons *c, const struct cons_log *log, const struct cons_entry *last,
                  uint64_t commit)
{
    memset(&c->log, 0, sizeof(c->log));
    if (log)
        c->log = *log;
    struct cons_entry none = {0};
    /* At start-up the files are what this node relies on. After a refused
     * write (cons_storage_failed), entries written earlier whose sync is
     * under way stay not durable until cons_synced says so. */
    cons__set_last(c, last ? last : &none);
    c->nheld = 0;
    /* Nothing beyond the log can be known committed here. */
    c->commit = commit < c->last_log_index ? commit : c->last_log_index;
}

/* ---- leader: sending -------------------------------------------------- */

void cons__rep_start(struct cons *c)
{
    /* §3.5: "When a leader first comes to power, it initializes all
     * nextIndex values to the index just after the last one in its log";
     * nothing is known to match yet. */
    for (int32_t i = 0; i < c->cfg.n; i++) {
        c->next_index[i] = c->last_log_index + 1;
        c->pipe_base[i] = c->last_log_index;
        c->match_index[i] = 0;
        c->inflight[i] = 0;
        c->rep_live[i] = false;
        c->probing[i] = false;
        c->refused_lo[i] = UINT64_MAX;
        c->drain_match[i] = UINT64_MAX;
        c->commit_told[i] = 0;
        c->commit_noticed[i] = 0;
    }
    /* Only what is durable counts (§10.2.1): a follower elected while its
     * sync was under way counts the rest when the sync returns. */
    c->match_index[c->cfg.self] = durable(c);
    c->commit_push = false;
}

void cons_peer_restarted(struct cons *c, int32_t member)
{
    if (member < 0 || member >= c->cfg.n || member == c->cfg.self)
        return;
    c->next_index[member] = c->last_log_index + 1;
    c->pipe_base[member] = c->last_log_index;
    c->match_index[member] = 0;
    c->inflight[member] = 0;
    c->rep_live[member] = false;
    c->probing[member] = false;
    c->refused_lo[member] = UINT64_MAX;
    c->drain_match[member] = UINT64_MAX;
}

/* Starts a new pipeline to i after entry after: the next APPEND is its
 * head. */
static void restart_pipeline(struct cons *c, int32_t i, uint64_t after)
{
    c->next_index[i] = after + 1;
    c->pipe_base[i] = after;
    c->refused_lo[i] = UINT64_MAX;
}

/* Whether an APPEND with entries may go to i now. While APPENDs to i are
 * unanswered, entries too few to fill a batch (cfg.batch_min) wait until
 * the answers are in and then go together: Nagle's rule for APPENDs. Under
 * load the APPENDs grow rather than multiply, and each costs both sides a
 * message, a signature (made here, checked by the witness) and a sync
 * whatever it carries. A backlog still goes as a pipeline of full batches
 * (a follower catching up). Unloaded, nothing is in flight when an entry
 * comes, and it leaves at once. */
static bool has_work(const struct cons *c, int32_t i)
{
    if (c->next_index[i] > c->last_log_index || c->inflight[i] >= CONS_MAX_INFLIGHT ||
        c->probing[i])
        return false;
    /* Nothing to wait for when the follower is known to hold everything it
     * was sent (the answers that did not come were lost, not late; a commit
     * notice's carries no entries), nor during a transfer, whose log stays
     * put: the target must catch up before TIMEOUT_NOW, within a deadline. */
    if (c->inflight[i] == 0 || c->match_index[i] + 1 >= c->next_index[i] ||
        c->transfer_to != CONS_NONE)
        return true;
    uint64_t min =
        c->cfg.batch_min && c->cfg.batch_min < CONS_MAX_BATCH ? c->cfg.batch_min : CONS_MAX_BATCH;
    return c->last_log_index - c->next_index[i] + 1 >= min;
}

/* Follower i was sent commit index commit, capped at upto (what the
 * message lets it apply). */
static void tell_commit(struct cons *c, int32_t i, uint64_t upto)
{
    uint64_t k = c->commit < upto ? c->commit : upto;
    if (k > c->commit_told[i])
        c->commit_told[i] = k;
}

/* One APPEND to i, from next_index[i], with up to max entries (0: a
 * probe). False (nothing sent) when out is full or the entry before
 * next_index cannot be read from the view. */
static bool send_append(struct cons *c, int32_t i, uint64_t max, struct cons_out *out)
{
    if (out->nmsgs >= CONS_MAX_OUT)
        return false;
    struct cons_msg m = cons__reply(c, CONS_MSG_APPEND, i, c->term, false);
    uint64_t prev_term;
    m.prev_index = c->next_index[i] - 1;
    if (!cons__meta_at(c, m.prev_index, &prev_term, m.prev_hash))
        return false;
    uint64_t n = c->last_log_index - m.prev_index;
    m.n_entries = (uint32_t)(n < max ? n : max);
    /* The entries travel with the message, so the follower can commit up to
     * the leader's commit as far as they reach (it caps it itself). */
    m.commit = c->commit;
    tell_commit(c, i, m.prev_index + m.n_entries);
    cons__emit(out, &m);
    if (c->inflight[i] < CONS_MAX_INFLIGHT)
        c->inflight[i]++;
    c->next_index[i] += m.n_entries;
    /* Entries just sent cannot have been answered yet: the pipeline gets a
     * whole interval before it counts as stuck. */
    if (m.n_entries)
        c->rep_live[i] = true;
    return true;
}

void cons__rep_send(struct cons *c, int32_t i, struct cons_out *out)
{
    while (has_work(c, i) && send_append(c, i, CONS_MAX_BATCH, out))
        ;
}

/* The heartbeat's probe to i (see the top of the file): the head of a new,
 * empty pipeline. When APPENDs were in flight (and so went unanswered for
 * a whole interval), nothing more is sent until the probe is answered;
 * those still unanswered then are presumed lost (the count restarts at 0).
 * Not before: with latency spikes above the heartbeat interval they may
 * only be late, and their answers must not lower the next pipeline's
 * count. */
static bool send_probe(struct cons *c, int32_t i, struct cons_out *out)
{
    bool pause = c->inflight[i] > 0;
    if (!send_append(c, i, 0, out))
        return false;
    restart_pipeline(c, i, c->next_index[i] - 1);
    c->probing[i] = pause;
    return true;
}

/* quiet: a commit push, which the follower does not answer (cons_msg). */
static void send_heartbeat(struct cons *c, int32_t i, bool quiet, struct cons_out *out)
{
    struct cons_msg m = cons__reply(c, CONS_MSG_HEARTBEAT, i, c->term, false);
    m.quiet = quiet;
    /* A heartbeat proves nothing about the follower's log, so it carries at
     * most what the follower is known to match: it can never make a
     * follower commit an entry that differs from the leader's. */
    m.commit = c->commit < c->match_index[i] ? c->commit : c->match_index[i];
    tell_commit(c, i, m.commit);
    cons__emit(out, &m);
}

/* The commit notice to i: an APPEND without entries whose prev_index is
 * the committed end of the log. A follower that holds that entry (same
 * hash: the whole prefix matches, §3.5) commits it on receipt, without
 * waiting for its own sync and for its answer to come back here first; one
 * that does not refuses it like any APPEND, and is told by its answer as
 * before. Due only while the whole log is committed (no APPEND about to
 * carry the commit index anyway), once per commit index, to a follower it
 * was sent to that has not answered for it yet. The follower is not counted
 * as told: its answer, once durable, still brings a HEARTBEAT (the notice
 * may have been lost). */
static void send_commit_notice(struct cons *c, int32_t i, struct cons_out *out)
{
    if (c->commit != c->last_log_index || c->match_index[i] >= c->commit ||
        c->next_index[i] <= c->commit || c->commit_noticed[i] >= c->commit || c->probing[i] ||
        out->nmsgs >= CONS_MAX_OUT)
        return;
    struct cons_msg m = cons__reply(c, CONS_MSG_APPEND, i, c->term, false);
    uint64_t term;
    m.prev_index = c->commit;
    if (!cons__meta_at(c, m.prev_index, &term, m.prev_hash))
        return;
    m.commit = c->commit;
    cons__emit(out, &m);
    c->commit_noticed[i] = c->commit;
    /* Answered like any APPEND: counted like one. */
    if (c->inflight[i] < CONS_MAX_INFLIGHT)
        c->inflight[i]++;
}

void cons_flush(struct cons *c, uint64_t now_ms, struct cons_out *out)
{
    (void)now_ms;
    cons__begin(c, out);
    /* Cleared whatever the role: a leader that stepped down with a push
     * due has nothing to push, and the shell would ask again every turn. */
    bool due = c->commit_push;
    c->commit_push = false;
    if (c->role != CONS_LEADER || !due)
        return;
    /* A follower that was sent entries the new commit index covers applies
     * them now rather than up to a heartbeat interval later: what waits on
     * every member (a rollback applied everywhere) waits that much less. */
    for (int32_t i = 0; i < c->cfg.n; i++) {
        if (i == c->cfg.self)
            continue;
        uint64_t can = c->commit < c->match_index[i] ? c->commit : c->match_index[i];
        if (can > c->commit_told[i])
            send_heartbeat(c, i, true, out);
        else if (c->commit > c->commit_told[i])
            send_commit_notice(c, i, out);
    }
}

/* Fills followers' pipelines round-robin, one APPEND per follower per
 * round, so that when out fills up every follower has had its share. On a
 * heartbeat, round 0 sends every follower exactly one message: an APPEND
 * if there is something it may be sent (an APPEND is a heartbeat too), else a
 * probe if it is not known to hold the whole log and its pipeline looks
 * stuck, else a HEARTBEAT. Round 0 is at most one message per follower,
 * which always fits (n - 1 < CONS_MAX_OUT). */
static void replicate(struct cons *c, bool heartbeat, struct cons_out *out)
{
    for (int round = 0; round < CONS_MAX_INFLIGHT; round++)
        for (int32_t i = 0; i < c->cfg.n; i++) {
            if (i == c->cfg.self)
                continue;
            /* Whether the pipeline showed life during the heartbeat
             * interval that ends here (what is sent now counts for the
             * next one). */
            bool live = c->rep_live[i];
            if (heartbeat && round == 0) {
                c->rep_live[i] = false;
                c->drain_match[i] = UINT64_MAX;
            }
            bool sent = has_work(c, i) && send_append(c, i, CONS_MAX_BATCH, out);
            if (sent || !heartbeat || round > 0)
                continue;
            bool stuck = c->inflight[i] == 0 || !live;
            if (c->match_index[i] < c->last_log_index && stuck && send_probe(c, i, out))
                continue;
            send_heartbeat(c, i, false, out);
        }
}

void cons__rep_heartbeat(struct cons *c, struct cons_out *out)
{
    replicate(c, true, out);
}

/* §3.6.2: the leader commits the largest N > commit that a majority
 * (itself included) has stored, but only if entry N is of its own term:
 * an entry of an earlier term is never committed by counting replicas
 * (Figure 3.7); it becomes committed indirectly, with the first
 * current-term entry after it. Terms never decrease along the log, so
 * checking the quorum-th largest match is enough: if its term is older,
 * so is every smaller N's. */
static void advance_commit(struct cons *c, struct cons_out *out)
{
    uint64_t m[CONS_MAX_MEMBERS];
    int32_t n = c->cfg.n;
    for (int32_t i = 0; i < n; i++)
        m[i] = c->match_index[i];
    /* Insertion sort, largest first: n is at most 16. */
    for (int32_t i = 1; i < n; i++) {
        uint64_t v = m[i];
        int32_t j = i - 1;
        for (; j >= 0 && m[j] < v; j--)
            m[j + 1] = m[j];
        m[j + 1] = v;
    }
    uint64_t idx = m[cons_quorum(c) - 1], term;
    uint8_t hash[CONS_HASH_BYTES];
    if (idx <= c->commit || !cons__meta_at(c, idx, &term, hash) || term != c->term)
        return;
    cons__commit_to(c, idx, out);
}

void cons_set_async_sync(struct cons *c, bool on)
{
    c->async_sync = on;
}

/* The leader's log grows by what the shell wrote; false when it may not. */
static bool leader_writes(struct cons *c, const struct cons_entry *last)
{
    /* The core never invents entries: the shell appends (its election
     * entry is §8's no-op) and tells the core. Only a leader appends, only
     * in its own term, and its log only grows (Leader Append-Only, §3.5). */
    if (!last || c->role != CONS_LEADER || last->term != c->term ||
        last->index <= c->last_log_index)
        return false;
    cons__set_last(c, last);
    return true;
}

/* The leader counts itself only for durable entries: with the followers'
 * durable copies that makes the majority a commit needs. */
static void leader_synced(struct cons *c, struct cons_out *out)
{
    uint64_t mine = durable(c);
    if (mine > c->match_index[c->cfg.self])
        c->match_index[c->cfg.self] = mine;
    advance_commit(c, out);
}

void cons_appended(struct cons *c, uint64_t now_ms, const struct cons_entry *last,
                   struct cons_out *out)
{
    cons__begin(c, out);
    (void)now_ms;
    if (!leader_writes(c, last))
        return;
    c->synced = last->index;
    replicate(c, false, out);
    leader_synced(c, out);
}

void cons_written(struct cons *c, uint64_t now_ms, const struct cons_entry *last,
                  struct cons_out *out)
{
    cons__begin(c, out);
    (void)now_ms;
    /* §10.2.1: the followers write in parallel with the leader's own sync,
     * so a round trip and a sync overlap instead of adding up. */
    if (leader_writes(c, last))
        replicate(c, false, out);
}

void cons_synced(struct cons *c, uint64_t now_ms, uint64_t index, struct cons_out *out)
{
    cons__begin(c, out);
    (void)now_ms;
    if (index > c->last_log_index)
        index = c->last_log_index;
    if (index > c->synced)
        c->synced = index;
    if (c->role == CONS_LEADER)
        leader_synced(c, out);
    else
        cons__release_held(c, out);
}

/* ---- leader: answers -------------------------------------------------- */

void cons__on_append_resp(struct cons *c, uint64_t now, const struct cons_msg *m,
                          struct cons_out *out)
{
    if (m->term > c->term) {
        cons__become_follower(c, now, m->term, out);
        return;
    }
    if (c->role != CONS_LEADER || m->term != c->term)
        return;
    int32_t i = m->from;
    cons__ack(c, now, i); /* an answer in our term: counts for check-quorum */
    c->rep_live[i] = true;
    if (c->inflight[i] > 0)
        c->inflight[i]--;
    /* The probe's answer opens the pipeline again, empty: what was sent
     * before the probe and is still unanswered is presumed lost. */
    if (c->probing[i] && m->prev_index == c->pipe_base[i]) {
        c->probing[i] = false;
        c->inflight[i] = 0;
    }
    if (m->granted) {
        /* A follower cannot match beyond our log in our term; such a
         * claim is ignored rather than counted. */
        if (m->match_index <= c->last_log_index && m->match_index > c->match_index[i])
            c->match_index[i] = m->match_index;
        if (c->next_index[i] <= c->match_index[i])
            c->next_index[i] = c->match_index[i] + 1;
    } else if (m->prev_index == c->pipe_base[i] && m->prev_index > c->match_index[i]) {
        /* The head of the current pipeline was refused (see the top of the
         * file): restart after the hint, which a correct follower puts
         * below p, but never below what is known to match (a hint below it
         * is stale or, after a conflict, merely conservative). */
        uint64_t after = m->match_index < m->prev_index ? m->match_index : c->match_index[i];
        restart_pipeline(c, i, after > c->match_index[i] ? after : c->match_index[i]);
    } else if (m->prev_index >= c->match_index[i] && m->prev_index > c->pipe_base[i] &&
               m->prev_index < c->next_index[i] && m->prev_index < c->refused_lo[i]) {
        /* One after the head: the ones before it may still be coming. */
        c->refused_lo[i] = m->prev_index;
    }
    /* A refused APPEND of the pipeline starts exactly where the follower is
     * now known to match: everything before it arrived, its own entries
     * were not stored; resend from there without waiting for the answers
     * still in flight. */
    if (c->refused_lo[i] <= c->match_index[i]) {
        if (c->refused_lo[i] == c->match_index[i])
            restart_pipeline(c, i, c->match_index[i]);
        c->refused_lo[i] = UINT64_MAX;
    }
    /* Every APPEND sent has been answered (as far as the count knows), the
     * current pipeline carried entries, and the follower is still not known
     * to hold them all: they were refused out of order; restart after the
     * match. Only an answer that may belong to the current pipeline counts
     * here (p >= its head's): one of an APPEND sent before the last rewind
     * may have been presumed lost already (see send_probe), and the count
     * it lowers is the new pipeline's. Once per heartbeat interval unless
     * the match moved since: duplicated answers drain the count early, and
     * when the new head is not answered either (lost, or refused by the
     * follower's disk: cons_storage_failed sends nothing), every further
     * stale answer would drain it again and resend, each resend drawing
     * more answers than it sent (a storm). A pipeline still short then is
     * probed at the heartbeat. */
    uint64_t sent_to = c->next_index[i] - 1;
    if (c->inflight[i] == 0 && m->prev_index >= c->pipe_base[i] && c->match_index[i] < sent_to &&
        c->pipe_base[i] < sent_to && c->drain_match[i] != c->match_index[i]) {
        c->drain_match[i] = c->match_index[i];
        restart_pipeline(c, i, c->match_index[i]);
    }
    cons__rep_send(c, i, out);
    advance_commit(c, out);
    /* The answer to a commit notice (send_commit_notice): the follower
     * committed the entry it named; it needs no HEARTBEAT for it. (An
     * earlier probe at that index answers alike: if the notice was lost
     * too, the follower hears the commit at the next heartbeat.) */
    if (m->granted && m->prev_index == c->commit_noticed[i] && m->match_index == m->prev_index)
        tell_commit(c, i, m->prev_index);
    /* An answer that came after the commit index passed its entries (a
     * slower follower than the quorum's): it is told at the next flush,
     * not at the next heartbeat, so what waits on every member (a
     * rollback applied everywhere) waits for the slowest one only. */
    if (m->granted &&
        (c->commit < c->match_index[i] ? c->commit : c->match_index[i]) > c->commit_told[i])
        c->commit_push = true;
    /* A commit that advanced here asked already (cons__commit_to). */
    if (i == c->transfer_to && m->granted && out->commit == 0)
        cons__transfer_progress(c, out);
}
