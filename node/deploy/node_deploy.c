/* Deployments in the node: committed deployment records fed to the
 * rollout core on every node (so every node knows what it must run), and
 * the leader's side: it asks the core what to record next and appends it,
 * one record at a time, each waited on until committed. A new leader has
 * the same state from the ledger, so it simply carries on. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/deploy/deploy.h"

/* The event a committed record raises (the design guide's topic names). */
/* "every node", or the members that were up and those passed over as down
 * (they apply the release when they come back). */
static void who_runs(const struct pl_record *r, char *out, size_t len)
{
    if (r->ndown == 0) {
        snprintf(out, len, "every node");
        return;
    }
    size_t k = (size_t)snprintf(out, len, "every member that is up (passed over as down:");
    for (size_t i = 0; i < r->ndown && k < len; i++)
        k += (size_t)snprintf(out + k, len - k, " %s", r->down[i]);
    if (k < len)
        snprintf(out + k, len - k, "; they apply it when they come back)");
}

static void record_event(struct node_deploy *dp, const struct pl_record *r)
{
    char who[PL_MAX_NODES * PL_ID_MAX + 96];
    who_runs(r, who, sizeof(who));
    switch (r->kind) {
    case PL_REC_RELEASE:
        node_event(dp->base, "deploy.initiated", NULL,
                   "deployment %s: %s %s committed; rollout begins", r->deployment, r->release.name,
                   r->release.version);
        break;
    case PL_REC_WAVE:
        node_event(dp->base, "chimera.deploy.wave", NULL,
                   "deployment %s: wave %" PRIu32 " (%zu node%s)", r->deployment, r->wave,
                   r->nnodes, r->nnodes == 1 ? "" : "s");
        break;
    case PL_REC_STABLE:
        node_event(dp->base, "chimera.deploy.complete", NULL, "deployment %s is stable on %s",
                   r->deployment, who);
        break;
    case PL_REC_FAILED:
        node_event(dp->base, "chimera.deploy.failed", NULL, "deployment %s failed: %s",
                   r->deployment, r->reason);
        break;
    case PL_REC_ROLLBACK:
        node_event(dp->base, "chimera.rollback.triggered", NULL, "%s rollback %s to %s: %s",
                   r->automatic ? "automatic" : "manual", r->deployment, r->target, r->reason);
        break;
    case PL_REC_REVERTED:
        node_event(dp->base, "chimera.rollback.complete", NULL,
                   "rollback %s complete: %s runs the last good release again", r->deployment, who);
        break;
    }
}

/* Whether a committed entry is news, which raises its event, or history
 * being replayed into the state, which must not: an alert on
 * chimera.deploy.failed would fire again on every restart. The rule is the
 * entry's ledger timestamp against this process's start, not its index
 * against the log's end at start: a restarted follower learns the commit
 * index from the leader only after it starts, so entries already in its
 * log are "committed" again then; a node with a wiped data directory
 * receives the whole history from the leader after it starts; and a
 * follower's uncommitted tail that the leader replaces is replaced by
 * entries written after the start. The timestamp is the author's clock:
 * a leader whose clock lags this node's by more than the time since this
 * start would have its first records taken as history (their state still
 * applies; only the events are lost). */
static bool is_news(const struct node_deploy *dp, const struct ledger_entry *e)
{
    return e->timestamp_ms >= dp->history_before_ms;
}

static int apply_entry(uint64_t index, uint64_t term, const uint8_t *bytes, size_t len, void *arg)
{
    (void)term;
    struct node_deploy *dp = arg;
    struct ledger_entry e;
    uint32_t type;
    dp->applied = index;
    /* Notes are most of the log: their type is enough to pass them by. */
    if (ledger_entry_peek_type(bytes, len, &type) != LEDGER_OK ||
        (type != LEDGER_ENTRY_DEPLOYMENT && type != LEDGER_ENTRY_ROLLBACK) ||
        ledger_entry_decode(bytes, len, &e, NULL) != LEDGER_OK)
        return 0;
    struct pl_record r;
    const char *manifest, *cert;
    size_t mlen, clen;
    if (deploy_record_decode(e.payload, e.payload_len, e.timestamp_ms, &r, &manifest, &mlen, &cert,
                             &clen) != 0) {
        if (is_news(dp, &e))
            node_event(dp->base, "deploy.record_ignored", NULL,
                       "ledger entry %" PRIu64 " is not a deployment record this node understands",
                       index);
        return 0;
    }
    if (r.kind == PL_REC_RELEASE)
        deploy_releases_keep(dp, r.deployment, manifest, mlen, cert, clen);
    enum pl_outcome outcome = pl_record_outcome(&dp->pl, &r);
    if (pl_apply(&dp->pl, &r) != 0) {
        if (is_news(dp, &e))
            node_event(dp->base, "deploy.record_ignored", NULL,
                       "ledger entry %" PRIu64 " (%s %s) does not fit the deployments known here",
                       index, pl_record_name(r.kind), r.deployment);
        return 0;
    }
    dp->fed_record = true;
    if (outcome != PL_OUTCOME_NONE)
        dp->outcomes[outcome]++;
    if (r.kind == PL_REC_ROLLBACK)
        dp->rollbacks[pl_rollback_cause(&r)]++;
    if (is_news(dp, &e))
        record_event(dp, &r);
    return 0;
}

void node_deploy_committed(struct node_deploy *dp, uint64_t commit)
{
    struct node_deploy *d = dp;
    if (!dp->raft->ledger || commit <= d->applied)
        return;
    d->fed_record = false;
    node_ledger_feed(dp->raft, &d->applied, commit, apply_entry, dp);
    if (d->pending_index && d->applied >= d->pending_index)
        d->pending_index = 0;
    /* Act on the new state now rather than at the next tick: the leader's
     * next decision (a rollback right after a failure), and this node's
     * release (a rollback applied at once). The release is switched in the
     * loop's next turn, not in this call: on the leader this call comes
     * before the commit notices of this turn are sent (raft/node_cons.c
     * sends them after the turn's callbacks), and a switch holds the loop
     * for the spawn of each service started; every other node learned the
     * rollback that much later. Only a deployment record can change what
     * runs here; a commit of notes leaves it to the node's tick. */
    node_deploy_tick(dp);
    if (d->fed_record)
        deploy_run_soon(dp);
}

int node_deploy_start(struct node_deploy *dp)
{
    struct node_deploy *d = dp;
    d->history_before_ms = (uint64_t)node_wall_ms();
    char ids[PL_MAX_NODES][PL_ID_MAX];
    for (size_t i = 0; i < dp->base->peers.n && i < PL_MAX_NODES; i++)
        snprintf(ids[i], PL_ID_MAX, "%s", dp->base->peers.m[i].id);
    pl_init(&d->pl, (const char(*)[PL_ID_MAX])ids, dp->base->peers.n);
    dp->run.hc = health_new(dp->base->loop);
    if (!dp->run.hc) {
        fprintf(stderr, "chimerad: cannot set up health checks (libcurl)\n");
        return -1;
    }
    uv_idle_init(dp->base->loop, &dp->run.next_turn);
    dp->run.next_turn.data = dp;
    dp->run.next_turn_ready = true;
    deploy_run_cleanup_strays(dp);
    node_deploy_committed(dp, dp->raft->cons.commit);
    deploy_run_tick(dp); /* what the ledger says runs here starts with the node */
    return 0;
}

void node_deploy_stop(struct node_deploy *dp)
{
    deploy_run_stop(dp);
    for (size_t i = 0; i < dp->nrels; i++) {
        free(dp->rels[i].manifest);
        free(dp->rels[i].cert);
    }
    dp->nrels = 0;
}

int node_deploy_append(struct node_deploy *dp, const struct pl_record *r, const char *manifest,
                       size_t mlen, const char *cert, uint64_t *index, char *err, size_t errlen)
{
    struct node_pack p;
    node_pack_init(&p);
    uint32_t type = deploy_record_encode(r, manifest, mlen, cert, &p);
    const uint8_t *payload = (const uint8_t *)p.sb.data;
    size_t len = p.sb.size;
    uint64_t first;
    int rv = node_repl_append(dp->raft, type, &payload, &len, 1, &first, index, err, errlen);
    node_pack_free(&p);
    if (rv == 0)
        dp->pending_index = *index;
    return rv;
}

/* Which members are up, for the rollout core: down is the peers' dead
 * status (nothing heard for dead_after_ms), never merely suspect, so a slow
 * member is waited for. A member never heard from since this node started
 * counts as down only once dead_after_ms have passed since the start: a
 * fresh leader has not heard everyone yet. */
static void feed_members(struct node_deploy *dp, uint64_t wall)
{
    uint64_t now = uv_now(dp->base->loop);
    bool settled = now - dp->base->started_ms >= dp->base->peers.dead_after_ms;
    for (size_t i = 0; i < dp->base->peers.n && i < PL_MAX_NODES; i++) {
        const struct peer *m = &dp->base->peers.m[i];
        bool down = m->status == PEER_DEAD && (m->heard || settled);
        pl_member(&dp->pl, m->id, !down, wall);
    }
}

void node_deploy_tick(struct node_deploy *dp)
{
    struct node_deploy *d = dp;
    feed_members(dp, (uint64_t)node_wall_ms());
    if (dp->raft->cons.role != CONS_LEADER)
        d->pending_index = 0; /* whoever leads next decides afresh */
    if (dp->raft->cons.role != CONS_LEADER || dp->base->stopping || !dp->raft->ledger ||
        cons_read_only(&dp->raft->cons, uv_now(dp->base->loop)))
        return;
    /* One record at a time: the next decision is taken on the state that
     * includes the last one. */
    if (d->pending_index && d->pending_index > dp->raft->cons.commit)
        return;
    if (d->applied < dp->raft->cons.commit)
        return;
    struct pl_record r;
    if (!pl_tick(&d->pl, (uint64_t)node_wall_ms(), &r))
        return;
    char err[256];
    uint64_t index;
    if (node_deploy_append(dp, &r, NULL, 0, NULL, &index, err, sizeof(err)) != 0)
        node_event(dp->base, "deploy.record_failed", NULL, "cannot record %s of %s: %s",
                   pl_record_name(r.kind), r.deployment, err);
}

void node_deploy_elected(struct node_deploy *dp)
{
    pl_forget_reports(&dp->pl); /* heard in an earlier term: maybe stale */
}
