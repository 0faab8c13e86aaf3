/* Leadership transfer (dissertation §3.10): the leader hands over to a
 * chosen follower, so that a planned restart costs no election timeout.
 *
 *   1. The leader stops taking proposals (cons_transferring: the shell
 *      refuses them), so the target can catch up with a log that stays put.
 *   2. It replicates to the target as usual until the target is known to
 *      match its whole log and the whole log is committed, then sends
 *      TIMEOUT_NOW (again at each heartbeat, in case one is lost). The
 *      commit is not in §3.10: without it, the entries whose commit was
 *      still on its way (this node's own sync, §10.2.1, or another
 *      follower's answer) are committed only by the target, after this node
 *      stepped down, and what waits on them here hears "leadership lost"
 *      rather than its answer; it costs at most one sync, which runs while
 *      the target catches up anyway.
 *   3. The target stands for election at once, in term + 1, without a
 *      pre-vote: the leader asked, so there is no live leader to protect,
 *      and its VOTEs carry `transfer` so that voters who still hear the
 *      leader disregard their leases (§4.2.3) for it. Voting is otherwise
 *      unchanged (term, one vote per term, the log check of §3.6.1), so
 *      safety does not depend on any of this: only liveness does.
 *   4. The transfer is done when this node hears the target lead in a newer
 *      term; it fails when another member leads instead, or when an
 *      election timeout passes first: a leader that still leads then takes
 *      proposals again (the target may be slow or gone).
 * One transfer at a time; the outcome is reported once, in a cons_out. */
#include <string.h>

#include "consensus/cons_internal.h"

static void end_transfer(struct cons *c, enum cons_transfer_end how, const char *why,
                         struct cons_out *out)
{
    out->transfer_end = how;
    out->transfer_target = c->transfer_to;
    out->transfer_why = why;
    c->transfer_to = CONS_NONE;
}

/* The follower most worth handing over to: the longest known log among
 * those heard within an election timeout (the sooner caught up), the one
 * heard last on a tie. */
static int32_t best_target(const struct cons *c, uint64_t now)
{
    int32_t best = CONS_NONE;
    for (int32_t i = 0; i < c->cfg.n; i++) {
        if (i == c->cfg.self || !cons__live(c, now, i))
            continue;
        if (best == CONS_NONE || c->match_index[i] > c->match_index[best] ||
            (c->match_index[i] == c->match_index[best] && c->last_ack[i] > c->last_ack[best]))
            best = i;
    }
    return best;
}

enum cons_transfer_rc cons_transfer(struct cons *c, uint64_t now_ms, int32_t to, int32_t *target,
                                    struct cons_out *out)
{
    cons__begin(c, out);
    if (c->role != CONS_LEADER)
        return CONS_TRANSFER_NOT_LEADER;
    if (c->transfer_to != CONS_NONE)
        return CONS_TRANSFER_RUNNING;
    if (to != CONS_NONE && (to < 0 || to >= c->cfg.n))
        return CONS_TRANSFER_BAD_TARGET;
    if (to == c->cfg.self)
        return CONS_TRANSFER_SELF;
    if (to != CONS_NONE && !cons__live(c, now_ms, to))
        return CONS_TRANSFER_SILENT;
    if (to == CONS_NONE && (to = best_target(c, now_ms)) == CONS_NONE)
        return CONS_TRANSFER_NO_TARGET;
    c->transfer_to = to;
    c->transfer_term = c->term;
    c->transfer_deadline = cons_sat_add(now_ms, cons_timeout_ms(c));
    if (target)
        *target = to;
    /* What was held back for the target (replicate.c: has_work) goes now:
     * the log stays put, so there is nothing more to wait for. */
    cons__rep_send(c, to, out);
    cons__transfer_progress(c, out);
    return CONS_TRANSFER_OK;
}

bool cons_transferring(const struct cons *c)
{
    return c->role == CONS_LEADER && c->transfer_to != CONS_NONE;
}

int32_t cons_transfer_successor(const struct cons *c)
{
    bool stands = c->transfer_to != CONS_NONE && c->role == CONS_FOLLOWER &&
                  c->leader == CONS_NONE && c->term == c->transfer_term + 1 &&
                  c->voted_for == c->transfer_to;
    return stands ? c->transfer_to : CONS_NONE;
}

void cons__transfer_progress(struct cons *c, struct cons_out *out)
{
    int32_t t = c->transfer_to;
    if (c->role != CONS_LEADER || t == CONS_NONE || c->match_index[t] < c->last_log_index ||
        c->commit < c->last_log_index)
        return;
    struct cons_msg m = cons__reply(c, CONS_MSG_TIMEOUT_NOW, t, c->term, false);
    cons__emit(out, &m);
}

void cons__transfer_check(struct cons *c, uint64_t now, struct cons_out *out)
{
    if (c->transfer_to == CONS_NONE || out->transfer_end != CONS_TRANSFER_NONE)
        return;
    if (c->term > c->transfer_term && c->leader != CONS_NONE && c->leader != c->cfg.self) {
        if (c->leader == c->transfer_to)
            end_transfer(c, CONS_TRANSFER_DONE, "the target leads", out);
        else
            end_transfer(c, CONS_TRANSFER_FAILED, "another member was elected", out);
    } else if (c->term > c->transfer_term && c->role == CONS_LEADER) {
        end_transfer(c, CONS_TRANSFER_FAILED, "this node was elected again", out);
    } else if (c->term == c->transfer_term && c->role != CONS_LEADER) {
        end_transfer(c, CONS_TRANSFER_FAILED, "this node stepped down before the target stood",
                     out);
    } else if (now >= c->transfer_deadline) {
        end_transfer(c, CONS_TRANSFER_FAILED,
                     c->role == CONS_LEADER
                         ? "the target did not take over within an election timeout"
                         : "no leader was elected within an election timeout",
                     out);
    }
}

void cons__on_timeout_now(struct cons *c, uint64_t now, const struct cons_msg *m,
                          struct cons_out *out)
{
    /* From a deposed leader, or a leftover of an earlier term: the
     * transfer it was part of is over. */
    if (m->term < c->term)
        return;
    /* Its leader asked, just now (cons_handing_over). */
    if (m->term == c->term && m->from == c->leader && c->role != CONS_LEADER)
        c->handover_until = cons_sat_add(now, cons_timeout_ms(c));
    if (m->term > c->term)
        cons__become_follower(c, now, m->term, out);
    /* A leader of this term is the sender itself, which cannot be (two
     * leaders in one term); a node that cannot append waits (as in
     * cons_tick), and the transfer fails at its deadline. */
    if (c->role == CONS_LEADER || c->storage_failed || c->term == UINT64_MAX)
        return;
    cons__become_candidate(c, now, true, out);
}

const char *cons_transfer_strerror(enum cons_transfer_rc rc)
{
    switch (rc) {
    case CONS_TRANSFER_OK:
        return "ok";
    case CONS_TRANSFER_NOT_LEADER:
        return "this node is not the leader";
    case CONS_TRANSFER_RUNNING:
        return "a leadership transfer is already running";
    case CONS_TRANSFER_BAD_TARGET:
        return "the target is not a voting member";
    case CONS_TRANSFER_SILENT:
        return "the target has not answered within an election timeout";
    case CONS_TRANSFER_SELF:
        return "it is this node, which leads already: nothing to do";
    case CONS_TRANSFER_NO_TARGET:
        return "no follower has answered within an election timeout";
    }
    return "unknown";
}
