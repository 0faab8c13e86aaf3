/* Replication, the follower's side (dissertation §3.5, §3.8): an APPEND
 * checked for consistency and taken (entries already held skipped, a
 * conflicting suffix cut, a committed entry never replaced), and its answer
 * held until the entries it acknowledges are durable (persist before
 * acknowledge). The leader's side is replicate.c. */
#include <string.h>

#include "consensus/cons_internal.h"

/* A held answer leaves once the entries it acknowledges are durable, and
 * only in the term it was made in: after a new term (or a truncation,
 * which only a newer leader's entries cause) the old leader must not hear
 * it. */
static bool held_stale(const struct cons *c, const struct cons_msg *m)
{
    return m->term != c->term || c->role != CONS_FOLLOWER || m->match_index > c->last_log_index;
}

void cons__release_held(struct cons *c, struct cons_out *out)
{
    uint32_t kept = 0;
    for (uint32_t k = 0; k < c->nheld; k++) {
        const struct cons_msg *m = &c->held[k];
        if (held_stale(c, m))
            continue;
        if (m->match_index <= c->synced && out->nmsgs < CONS_MAX_OUT)
            cons__emit(out, m);
        else
            c->held[kept++] = *m;
    }
    c->nheld = kept;
}

/* A follower's answer that acknowledges entries not yet durable waits. A
 * full queue drops its oldest: the leader presumes that APPEND lost and
 * its next probe finds where this log is. A probe (no entries) is what a
 * leader sends when it heard nothing for a heartbeat interval: while its
 * answer waits, a HEARTBEAT_RESP tells it at once that this follower is
 * alive (check-quorum, §6.2) and acknowledges nothing. */
static void answer(struct cons *c, const struct cons_msg *r, bool probe, struct cons_out *out)
{
    if (!r->granted || r->match_index <= c->synced) {
        cons__emit(out, r);
        return;
    }
    if (probe) {
        struct cons_msg alive = cons__reply(c, CONS_MSG_HEARTBEAT_RESP, r->to, r->term, true);
        cons__emit(out, &alive);
    }
    const uint32_t cap = sizeof(c->held) / sizeof(c->held[0]);
    if (c->nheld == cap) {
        memmove(&c->held[0], &c->held[1], (cap - 1) * sizeof(c->held[0]));
        c->nheld--;
    }
    c->held[c->nheld++] = *r;
}

bool cons__append_valid(const struct cons_msg *m)
{
    if (m->n_entries == 0)
        return true;
    if (m->n_entries > CONS_MAX_BATCH || !m->entries || m->prev_index > UINT64_MAX - m->n_entries)
        return false;
    /* Contiguous from prev_index + 1, terms never decreasing (a log's terms
     * only grow), none newer than the leader's term, none of term 0 (no
     * leader exists in term 0). */
    uint64_t term = 1;
    for (uint32_t k = 0; k < m->n_entries; k++) {
        const struct cons_entry *e = &m->entries[k];
        if (e->index != m->prev_index + 1 + k || e->term < term || e->term > m->term)
            return false;
        term = e->term;
    }
    return true;
}

/* Where the leader should retry after a mismatch at prev (our entry there
 * has term prev_term, or the view could not read it: !found). Any index
 * below prev is correct (the leader only retries from hint + 1, and the
 * hint strictly decreases, down to 0 which always matches); a good one
 * saves round trips. Entries up to our commit index are committed, hence
 * in every later leader's log (Leader Completeness, §3.6.3): they match,
 * so commit is a safe lower bound. Above it, we skip our whole conflicting
 * term at once (the optimisation sketched at the end of §3.5): the first
 * index of prev_term in our log is found by binary search (terms never
 * decrease along the log), and the hint is the entry before it. */
static uint64_t conflict_hint(const struct cons *c, uint64_t prev, uint64_t prev_term, bool found)
{
    if (prev == 0)
        return 0;
    uint64_t low = c->commit < prev ? c->commit : prev - 1;
    if (!found)
        return low;
    uint64_t lo = low + 1, hi = prev; /* term_at(hi) == prev_term */
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2, t;
        uint8_t h[CONS_HASH_BYTES];
        if (!cons__meta_at(c, mid, &t, h))
            return low;
        if (t >= prev_term)
            hi = mid;
        else
            lo = mid + 1;
    }
    return hi - 1;
}

void cons__on_append(struct cons *c, uint64_t now, const struct cons_msg *m, struct cons_out *out)
{
    struct cons_msg r = cons__reply(c, CONS_MSG_APPEND_RESP, m->from, c->term, false);
    /* Which APPEND this answers (the leader's side, cons__on_append_resp in replicate.c). */
    r.prev_index = m->prev_index;
    if (m->term < c->term) {
        /* §3.3: refuse with the current term, so a stale leader steps
         * down (exactly as for a stale HEARTBEAT). */
        r.match_index = c->last_log_index;
        cons__emit(out, &r);
        return;
    }
    /* Two leaders in one term cannot happen (§3.6.3); ignore, as for a
     * HEARTBEAT. */
    if (m->term == c->term && c->role == CONS_LEADER)
        return;

    /* Consistency check (§3.5) on (prev_index, prev_hash). Nothing changes
     * before it is known whether the message is acceptable at all. */
    uint64_t prev_term = 0;
    uint8_t hash[CONS_HASH_BYTES];
    bool found = false, match = false;
    if (m->prev_index <= c->last_log_index) {
        found = cons__meta_at(c, m->prev_index, &prev_term, hash);
        match = found && memcmp(hash, m->prev_hash, CONS_HASH_BYTES) == 0;
    }
    if (!match) {
        /* It is still the leader speaking: follow it and renew its lease
         * (an APPEND is a heartbeat), then refuse with a hint so that it
         * backs off in one step rather than one entry per round trip: our
         * last index when we are behind, else see conflict_hint. */
        cons__follow(c, now, m, out);
        r.term = c->term;
        r.match_index = m->prev_index > c->last_log_index
                            ? c->last_log_index
                            : conflict_hint(c, m->prev_index, prev_term, found);
        cons__emit(out, &r);
        return;
    }

    /* §3.5: "If an existing entry conflicts with a new one (same index but
     * different terms), delete the existing entry and all that follow it";
     * entries already present are skipped (the APPEND may be a duplicate or
     * arrive late), and anything after the carried ones is kept. */
    uint32_t k = 0;
    bool truncate = false;
    for (; k < m->n_entries; k++) {
        const struct cons_entry *e = &m->entries[k];
        if (e->index > c->last_log_index)
            break;
        uint64_t t;
        bool have = cons__meta_at(c, e->index, &t, hash);
        if (have && t == e->term && memcmp(hash, e->hash, CONS_HASH_BYTES) == 0)
            continue;
        /* A committed entry is never replaced: a leader asking for it
         * breaks Leader Completeness (§3.6.3). The message is ignored, no
         * answer and no lease; an entry our own view cannot read is
         * treated the same way below commit, and replaced above it. */
        if (e->index <= c->commit)
            return;
        truncate = true;
        break;
    }

    cons__follow(c, now, m, out);
    if (truncate) {
        out->truncate = true;
        out->truncate_after = m->entries[k].index - 1;
        /* The cut is durable before anything is sent; what follows it is
         * not yet (a sync under way covered the old entries). */
        cons__synced_to_end(c, out->truncate_after);
        uint32_t kept = 0;
        for (uint32_t h = 0; h < c->nheld; h++)
            if (c->held[h].match_index <= out->truncate_after)
                c->held[kept++] = c->held[h];
        c->nheld = kept;
    }
    if (k < m->n_entries) {
        out->append_from = k;
        out->append_count = m->n_entries - k;
        cons__set_last(c, &m->entries[m->n_entries - 1]);
    }
    /* The log now matches the leader's up to prev + n (not necessarily
     * beyond: older entries after it are not known to match), so that is
     * both the acknowledged match and the most that may be committed. */
    uint64_t matched = m->prev_index + m->n_entries;
    if (out->truncate || out->append_count) {
        /* The commit may cover entries this out writes: it holds only if
         * the write does (cons_storage_failed). */
        c->commit_undo = c->commit;
        c->commit_undo_set = true;
    }
    cons__commit_to(c, m->commit < matched ? m->commit : matched, out);
    r.term = c->term;
    r.granted = true;
    r.match_index = matched;
    r.last_log_index = c->last_log_index;
    r.last_log_term = c->last_log_term;
    answer(c, &r, m->n_entries == 0, out);
}
