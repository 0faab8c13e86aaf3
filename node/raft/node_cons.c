/* The shell around the consensus core: loads and persists the term and vote,
 * runs the core's timer, carries its messages in sealed envelopes (APPEND
 * entries through node_repl.c), makes log changes durable before sending,
 * and turns what changed (role, leader, term, read-only) into events. */
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/raft/cons_store.h"
#include "node/base/durable.h"
#include "node/net/transport.h"
#include "node/raft/raft.h"
#include "pipeline/core/manifest.h"
#include "node/base/timer_at.h"

static void cons_timer_arm(struct node_raft *r);
static void probe_storage(struct node_raft *r);

/* Bytes the disk must take for a probe to pass: about what one large
 * batch of notes needs. */
#define STORAGE_PROBE_BYTES (256u * 1024u)

/* Writes the term and vote: true, or false when the write failed and the
 * old file is untouched (the disk is full, say): the core goes back to it
 * and nothing that depends on the new state is sent. */
static bool persist(struct node_raft *r, const struct cons_persist *p)
{
    struct cons_stored s = {.term = p->term};
    if (p->voted_for != CONS_NONE)
        snprintf(s.voted_for, sizeof(s.voted_for), "%s", r->base->peers.m[p->voted_for].id);
    char err[512];
    int rv = cons_store_write(&r->store, &s, err, sizeof(err));
    if (rv == -2)
        node_fatal(r->base, "%s", err);
    if (rv != 0) {
        node_cons_storage_failed(r, err);
        return false;
    }
    r->cons_disk = *p;
    return true;
}

const char *node_cons_member_id(const struct node_raft *r, int32_t idx)
{
    return idx >= 0 && (size_t)idx < r->base->peers.n ? r->base->peers.m[idx].id : NULL;
}

/* Compares the core's state with what was last reported and raises events. */
static void report_changes(struct node_raft *r, uint64_t now)
{
    const struct cons *c = &r->cons;
    struct node_cons_seen *seen = &r->seen;
    if (c->role != seen->role || c->term != seen->term) {
        /* What waits on this leadership can no longer be promised. */
        if (seen->role == CONS_LEADER)
            raft_metrics_lost_lead(&r->metrics, c->commit);
        if (seen->role == CONS_LEADER && r->hooks.on_leadership)
            r->hooks.on_leadership(r->hooks.ctx, false);
        if (c->role == CONS_LEADER) {
            r->elected_pending = true; /* apply_log appends the election entry */
            if (r->hooks.on_leadership)
                r->hooks.on_leadership(r->hooks.ctx, true);
            node_event(r->base, "consensus.elected", NULL, "%s elected leader for term %" PRIu64,
                       r->base->cfg.id, c->term);
        } else if (seen->role == CONS_LEADER)
            node_event(r->base, "consensus.step_down", NULL,
                       "%s stepped down as leader (term %" PRIu64 ", now %s)%s%s", r->base->cfg.id,
                       c->term, cons_role_name(c->role), c->storage_failed ? ": " : "",
                       c->storage_failed ? r->storage_error : "");
        else if (c->role == CONS_CANDIDATE && seen->role != CONS_CANDIDATE)
            node_event(r->base, "consensus.candidate", NULL,
                       "%s stands for election in term %" PRIu64, r->base->cfg.id, c->term);
    }
    if (c->leader != seen->leader && c->leader != CONS_NONE)
        r->metrics.leader_changes++;
    if (c->leader != seen->leader && c->leader != CONS_NONE && c->leader != c->cfg.self)
        node_event(r->base, "consensus.leader", node_cons_member_id(r, c->leader),
                   "%s follows leader %s in term %" PRIu64, r->base->cfg.id,
                   node_cons_member_id(r, c->leader), c->term);
    bool ro = cons_read_only(c, now);
    if (seen->role == CONS_LEADER && c->role != CONS_LEADER && !seen->read_only && !ro &&
        !cons_handing_over(c, now) && r->hooks.on_read_only) {
        /* Deposed by a higher term before its own check-quorum saw the
         * quorum gone (a leader thawed after a pause hears its successor
         * first): it lost its quorum-backed leadership all the same, so the
         * episode is recorded, lasting no read-only time on this side. A
         * leader that handed over lost nothing. */
        r->hooks.on_read_only(r->hooks.ctx, true, true);
        r->hooks.on_read_only(r->hooks.ctx, false, true);
    }
    if (ro != seen->read_only) {
        if (r->hooks.on_read_only)
            r->hooks.on_read_only(r->hooks.ctx, ro,
                                  seen->role == CONS_LEADER || c->role == CONS_LEADER);
        if (ro)
            node_event(r->base, "consensus.read_only.enter", NULL,
                       "%s is read-only: no quorum-backed leader is reachable", r->base->cfg.id);
        else
            node_event(r->base, "consensus.read_only.exit", node_cons_member_id(r, c->leader),
                       "%s left read-only mode: leader %s has a quorum (term %" PRIu64 ")",
                       r->base->cfg.id, node_cons_member_id(r, c->leader), c->term);
    }
    seen->role = c->role;
    seen->term = c->term;
    seen->leader = c->leader;
    seen->read_only = ro;
}

static void send_msg(struct node_raft *r, const struct cons_msg *m)
{
    if (m->to < 0 || (size_t)m->to >= r->base->peers.n || r->base->out[m->to] < 0)
        return;
    if (m->n_entries > 0) {
        struct cons_msg copy = *m;
        node_repl_send_append(r, &copy);
        return;
    }
    if (m->type == CONS_MSG_HEARTBEAT) /* one unanswered for an election timeout was lost */
        raft_metrics_heartbeat_sent(&r->metrics, (size_t)m->to, m->quiet, uv_hrtime(),
                                    (uint64_t)r->base->cfg.election_timeout_ms * 1000000u);
    uint8_t *body;
    size_t blen;
    if (cons_msg_encode(m, NULL, &body, &blen) != 0)
        return;
    node_send(r->base, (size_t)m->to, ENV_CONSENSUS, body, blen);
    free(body);
}

/* A transfer ended (the core said so in out, or the node stops): the event,
 * then whoever waits on it. */
static void transfer_ended(struct node_raft *r, bool done, int32_t to, const char *why)
{
    struct node_cons_transfer t = r->transfer;
    r->transfer.fn = NULL;
    uint64_t ms = uv_now(r->base->loop) - t.started_ms;
    const struct cons *c = &r->cons;
    const char *tid = node_cons_member_id(r, to) ? node_cons_member_id(r, to) : "?";
    char took[32];
    manifest_duration_text(ms, took, sizeof took);
    if (done)
        node_event(r->base, "consensus.transfer.done", tid,
                   "%s leads in term %" PRIu64 ": leadership transferred from %s in %s", tid,
                   c->term, r->base->cfg.id, took);
    else
        node_event(r->base, "consensus.transfer.failed", tid,
                   "leadership transfer from %s to %s failed after %s: %s%s", r->base->cfg.id, tid,
                   took, why,
                   c->role == CONS_LEADER ? "; it leads on and takes proposals again" : "");
    if (t.fn)
        t.fn(r, t.arg, done, to, c->term, why);
}

static void on_flush(uv_check_t *h)
{
    struct node_raft *r = h->data;
    /* The turn's open group first (it would be written by its own check,
     * which may run after this one): its APPENDs carry the new commit
     * index, so a follower they go to needs no push of its own. Under
     * many writers there nearly always is one, and the push was a second
     * message per follower per commit. */
    node_group_flush(r);
    uv_check_stop(h);
    struct cons_out out;
    cons_flush(&r->cons, uv_now(r->base->loop), &out);
    node_cons_apply(r, &out);
}

enum cons_transfer_rc node_cons_transfer(struct node_raft *r, int32_t to, const char *cause,
                                         node_transfer_fn fn, void *arg)
{
    if (r->base->stopping)
        return CONS_TRANSFER_NOT_LEADER;
    /* Entries taken in this turn (the open group) are written and handed to
     * the core first: the transfer then waits until the target has them and
     * they are committed, so whoever waits on them gets an answer (rather
     * than a group dropped when leadership is gone). */
    node_group_flush(r);
    uint64_t now = uv_now(r->base->loop);
    int32_t target = CONS_NONE;
    struct cons_out out;
    enum cons_transfer_rc rc = cons_transfer(&r->cons, now, to, &target, &out);
    if (rc != CONS_TRANSFER_OK)
        return rc;
    r->transfer = (struct node_cons_transfer){.fn = fn, .arg = arg, .started_ms = now};
    node_event(r->base, "consensus.transfer.start", node_cons_member_id(r, target),
               "%s hands leadership to %s in term %" PRIu64 " (%s; its log matches to %" PRIu64
               " of %" PRIu64 "); proposals are refused until it is done",
               r->base->cfg.id, node_cons_member_id(r, target), r->cons.term, cause,
               r->cons.match_index[target], r->cons.last_log_index);
    node_cons_apply(r, &out);
    return CONS_TRANSFER_OK;
}

/* Performs the core's output in the order its contract demands: the term
 * and vote, then the log changes (carried: the entry bytes of the APPEND
 * being handled), reach the disk before any message that depends on them
 * leaves. */
static void apply_log(struct node_raft *r, const struct cons_out *out,
                      const struct cons_wire_entry *carried)
{
    uint64_t now = uv_now(r->base->loop);
    /* How a transfer ended is news whatever happens to this out: the target
     * leads, or the leader gave up waiting, neither of which a disk that
     * refuses the write below undoes. */
    if (out->transfer_end != CONS_TRANSFER_NONE)
        transfer_ended(r, out->transfer_end == CONS_TRANSFER_DONE, out->transfer_target,
                       out->transfer_why);
    /* A write that failed was reported (node_cons_storage_failed): the
     * core is back at what the disk holds, and none of these messages may
     * leave. */
    if (out->persist && !persist(r, &out->state))
        return;
    if ((out->truncate || out->append_count > 0) && !node_repl_apply_log(r, out, carried))
        return;
    if (out->probe_storage)
        probe_storage(r);
    if (out->lost_prevote)
        node_event(r->base, "consensus.leader_disconnected",
                   node_cons_member_id(r, out->lost_leader),
                   "%s lost its connection to leader %s (term %" PRIu64
                   "): it asks for a pre-vote now rather than after an election timeout",
                   r->base->cfg.id, node_cons_member_id(r, out->lost_leader), r->cons.term);
    for (size_t i = 0; i < out->nmsgs; i++)
        send_msg(r, &out->msgs[i]);
    report_changes(r, now);
    if (r->cons.commit_push && !r->base->stopping)
        uv_check_start(&r->flush, on_flush);
    if (out->commit > 0)
        raft_metrics_committed(&r->metrics, out->commit, uv_hrtime());
    if (out->commit > 0 && r->hooks.on_commit)
        r->hooks.on_commit(r->hooks.ctx, out->commit);
    if (r->elected_pending && r->cons.role == CONS_LEADER && !r->base->stopping && r->ledger) {
        /* Record the election (also Raft's no-op, §8) in the new term. */
        r->elected_pending = false;
        node_repl_elected(r);
    }
    if (r->hooks.after_output)
        r->hooks.after_output(r->hooks.ctx);
    cons_timer_arm(r);
}

static void storage_recovered(struct node_raft *r)
{
    cons_storage_ok(&r->cons);
    node_event(r->base, "ledger.write_recovered", NULL,
               "the disk takes writes again (it failed with: %s); %s may stand for election",
               r->storage_error, r->base->cfg.id);
    r->storage_error[0] = '\0';
}

/* On a pool thread: touches only the probe's fields. In the data directory
 * itself, not among the ledger's segments: a probe file a crash left there
 * would stop the ledger from opening. */
static void probe_on_pool(uv_work_t *w)
{
    struct node_raft *r = w->data;
    r->probe.rc =
        durable_probe(r->base->cfg.data, STORAGE_PROBE_BYTES, r->probe.err, sizeof(r->probe.err));
}

static void probed(uv_work_t *w, int status)
{
    struct node_raft *r = w->data;
    r->probe.running = false;
    if (status != 0 || r->base->stopping || r->probe.rc != 0 || !r->cons.storage_failed)
        return;
    storage_recovered(r);
    report_changes(r, uv_now(r->base->loop));
    cons_timer_arm(r);
}

/* 256 KiB written and synced: milliseconds on a working disk, which the
 * loop (heartbeats, answers) does not wait for. At most one runs, and one
 * starts no sooner than an election timeout after the one before: the
 * core asks after T, 2T, then every 4T, and every write that succeeds
 * asks too (node_cons_storage_ok), which under load is hundreds a second. */
static void probe_storage(struct node_raft *r)
{
    struct node_cons_probe *p = &r->probe;
    uint64_t now = uv_now(r->base->loop);
    if (p->running || r->base->stopping ||
        (p->ran && now - p->last_ms < r->base->cfg.election_timeout_ms))
        return;
    p->running = p->ran = true;
    p->last_ms = now;
    p->work.data = r;
    /* Fails only for a NULL callback. */
    uv_queue_work(r->base->loop, &p->work, probe_on_pool, probed);
}

void node_cons_storage_failed(struct node_raft *r, const char *why)
{
    bool first = !r->cons.storage_failed;
    snprintf(r->storage_error, sizeof(r->storage_error), "%s", why);
    struct cons_entry last = {0};
    if (r->ledger) {
        last.index = ledger_last_index(r->ledger);
        last.term = ledger_last_term(r->ledger);
        ledger_head_hash(r->ledger, last.hash);
    }
    uint64_t now = uv_now(r->base->loop);
    cons_storage_failed(&r->cons, now, &r->cons_disk, &last);
    if (first)
        node_event(r->base, "ledger.write_failed", NULL,
                   "%s; %s stands for no election until the disk takes writes again", why,
                   r->base->cfg.id);
    report_changes(r, now);
    cons_timer_arm(r);
}

void node_cons_storage_ok(struct node_raft *r)
{
    /* A small write succeeds on a full disk too (in the free end of a
     * segment's last block, or in what the failed write's undo freed): only
     * a write begun now and as large as the probe says space is back. */
    if (r->cons.storage_failed)
        probe_storage(r);
}

void node_cons_apply(struct node_raft *r, const struct cons_out *out)
{
    apply_log(r, out, NULL);
}

/* The transport's connection to a peer dropped or opened again
 * (cons_peer_lost): a leader killed outright is replaced in a few ms. */
static void on_link(void *ctx, int peer, bool up)
{
    struct node_raft *r = ctx;
    for (size_t i = 0; i < r->base->peers.n; i++) {
        if (r->base->out[i] != peer || peer < 0)
            continue;
        uint64_t now = uv_now(r->base->loop);
        if (up)
            cons_peer_back(&r->cons, now, (int32_t)i);
        else
            cons_peer_lost(&r->cons, now, (int32_t)i);
        cons_timer_arm(r);
    }
}

/* Called by node.c once the transport is up (it starts after the core);
 * the transport replays the links already open. */
void node_cons_watch_links(struct node_raft *r)
{
    transport_set_link(r->base->transport, on_link, r);
}

/* Raft's timer: the core's election timeouts and Raft's heartbeats
 * (CONS_MSG_HEARTBEAT, inside ENV_CONSENSUS). Not the liveness hello, which
 * node.c's tick sends (ENV_HELLO). */
static void cons_run(struct node_raft *r)
{
    struct cons_out out;
    cons_tick(&r->cons, uv_now(r->base->loop), &out);
    node_cons_apply(r, &out);
}

static void on_cons_timer(uv_timer_t *t)
{
    cons_run(t->data);
}

static void cons_timer_arm(struct node_raft *r)
{
    if (r->base->stopping)
        return;
    /* Only when the core has something due: read-only changes, which
     * come with no deadline, are looked for by node_cons_tick on the node's
     * tick, so an idle follower hearing its leader never wakes for this. */
    node_timer_at(&r->cons_timer, on_cons_timer, cons_next_deadline(&r->cons),
                  uv_now(r->base->loop));
}

void node_cons_tick(struct node_raft *r)
{
    if (!r->base->stopping)
        cons_run(r);
}

void node_cons_recv(struct node_raft *r, size_t from, const msgpack_object *body)
{
    struct cons_msg m;
    static struct cons_wire_entry carried[CONS_MAX_BATCH];
    static struct cons_entry meta[CONS_MAX_BATCH];
    /* Carried entries are decoded, hashed and checked to chain before the
     * core sees their metadata; one bad entry drops the whole message. */
    int checked = 0;
    if (cons_msg_decode(body, &m, carried) != 0 ||
        (m.n_entries > 0 &&
         (!r->ledger || (checked = node_repl_check(r, from, &m, carried, meta)) != 0))) {
        if (checked != 1)
            node_drop(r->base, DROP_SHAPE, "consensus body");
        return;
    }
    m.entries = m.n_entries > 0 ? meta : NULL;
    m.from = (int32_t)from;
    if (m.type == CONS_MSG_HEARTBEAT_RESP && m.term == r->cons.term && r->cons.role == CONS_LEADER)
        raft_metrics_heartbeat_answered(&r->metrics, from, uv_hrtime());
    m.to = r->cons.cfg.self;
    uint64_t now = uv_now(r->base->loop);
    /* What time alone has changed is seen before the message changes it: a
     * leader thawed after a pause longer than an election timeout has lost
     * its quorum (read-only, an episode to record) even when the first thing
     * it hears is its successor's higher term rather than its own timer. */
    report_changes(r, now);
    struct cons_out out;
    cons_recv(&r->cons, now, &m, &out);
    if (m.type == CONS_MSG_TIMEOUT_NOW && r->cons.role == CONS_CANDIDATE)
        r->stand_term = r->cons.term;
    apply_log(r, &out, carried);
}

bool node_cons_standing_by_transfer(const struct node_raft *r)
{
    return r->cons.role == CONS_CANDIDATE && r->stand_term == r->cons.term;
}

int node_cons_start(struct node_raft *r)
{
    r->shell.apply = node_cons_apply;
    r->shell.storage_failed = node_cons_storage_failed;
    r->shell.storage_ok = node_cons_storage_ok;
    raft_metrics_init(&r->metrics);
    struct cons_stored s;
    char err[1024];
    if (cons_store_load(r->base->cfg.data, &s, err, sizeof(err)) != 0) {
        fprintf(stderr, "chimerad: %s\n", err);
        return -1;
    }
    struct cons_persist p = {.term = s.term, .voted_for = CONS_NONE};
    if (s.voted_for[0]) {
        p.voted_for = peers_find(&r->base->peers, s.voted_for);
        if (p.voted_for < 0) {
            fprintf(stderr,
                    "chimerad: %s/%s: voted for \"%s\", who is not a member; fix --peers or "
                    "wipe the data directory to rejoin as a new node\n",
                    r->base->cfg.data, CONS_STORE_FILE, s.voted_for);
            return -1;
        }
    }
    struct cons_config cc = {
        .self = (int32_t)r->base->peers.self,
        .n = (int32_t)r->base->peers.n,
        .heartbeat_ms = r->base->cfg.heartbeat_ms,
        .election_timeout_ms = r->base->cfg.election_timeout_ms,
    };
    uint64_t seed;
    randombytes_buf(&seed, sizeof(seed));
    cons_init(&r->cons, &cc, &p, uv_now(r->base->loop), seed);
    cons_store_attach(&r->store, r->base->cfg.data);
    r->cons_disk = p;
    r->seen.role = r->cons.role;
    r->seen.term = r->cons.term;
    r->seen.leader = CONS_NONE;
    r->seen.read_only = true; /* a node starts read-only; leaving it is news */
    uv_timer_init(r->base->loop, &r->cons_timer);
    r->cons_timer.data = r;
    uv_check_init(r->base->loop, &r->flush);
    r->flush.data = r;
    cons_timer_arm(r);
    return 0;
}

void node_cons_stop(struct node_raft *r)
{
    /* Before the HTTP server stops: it waits for every request answered. */
    if (r->hooks.on_stop)
        r->hooks.on_stop(r->hooks.ctx);
    uv_timer_stop(&r->cons_timer);
    uv_close((uv_handle_t *)&r->cons_timer, NULL);
    uv_check_stop(&r->flush);
    uv_close((uv_handle_t *)&r->flush, NULL);
    /* A probe still queued is dropped; one under way completes in the
     * loop's last turns. */
    if (r->probe.running)
        uv_cancel((uv_req_t *)&r->probe.work);
    cons_store_detach(&r->store);
    if (r->transfer.fn)
        transfer_ended(r, false, r->cons.transfer_to, "this node is stopping");
    node_repl_stop(r);
}

int node_cons_check_state(struct node_raft *r)
{
    struct cons_stored s;
    char err[1024];
    if (cons_store_load(r->base->cfg.data, &s, err, sizeof(err)) != 0 || !s.missing ||
        ledger_last_index(r->ledger) == 0)
        return 0;
    /* Raft's safety rests on a vote surviving restarts (§3.8). A ledger with
     * entries means this node took part in elections up to at least the
     * last entry's term, and maybe voted in that term or a later one:
     * starting again from term 0 with no vote could give a second vote in
     * one of them, and elect two leaders in one term. */
    fprintf(stderr,
            "chimerad: %s/%s is missing, but the ledger holds entries up to term %" PRIu64
            " (index %" PRIu64 "): this node may have voted, and could vote twice in a term "
            "without it; refusing to start. Restore the file from a backup of this data "
            "directory, or wipe the data directory to rejoin as a new node (it copies the "
            "ledger from the leader)\n",
            r->base->cfg.data, CONS_STORE_FILE, ledger_last_term(r->ledger),
            ledger_last_index(r->ledger));
    return -1;
}
