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
#include "node/node.h"

static void cons_timer_arm(struct node *n);
static void probe_storage(struct node *n);

/* Bytes the disk must take for a probe to pass: about what one large
 * batch of notes needs. */
#define STORAGE_PROBE_BYTES (256u * 1024u)

/* Writes the term and vote: true, or false when the write failed and the
 * old file is untouched (the disk is full, say): the core goes back to it
 * and nothing that depends on the new state is sent. */
static bool persist(struct node *n, const struct cons_persist *p)
{
    struct cons_stored s = {.term = p->term};
    if (p->voted_for != CONS_NONE)
        snprintf(s.voted_for, sizeof(s.voted_for), "%s", n->base.peers.m[p->voted_for].id);
    char err[512];
    int rv = cons_store_save(n->base.cfg.data, &s, err, sizeof(err));
    if (rv == -2)
        node_fatal(&n->base, "%s", err);
    if (rv != 0) {
        node_cons_storage_failed(n, err);
        return false;
    }
    n->raft.cons_disk = *p;
    return true;
}

static const char *member_id(const struct node *n, int32_t idx)
{
    return idx >= 0 && (size_t)idx < n->base.peers.n ? n->base.peers.m[idx].id : NULL;
}

/* Compares the core's state with what was last reported and raises events. */
static void report_changes(struct node *n, uint64_t now)
{
    const struct cons *c = &n->raft.cons;
    struct node_cons_seen *seen = &n->raft.seen;
    if (c->role != seen->role || c->term != seen->term) {
        /* Notes waiting on this leadership can no longer be promised. */
        if (seen->role == CONS_LEADER)
            node_notes_fail_all(n, "leadership lost before the note was committed; it may or may "
                                   "not be committed, check GET /ledger");
        if (c->role == CONS_LEADER) {
            n->raft.elected_pending = true;        /* apply_log appends the election entry */
            pl_forget_reports(&n->deploy.pl); /* heard in an earlier term: maybe stale */
            node_event(&n->base, "consensus.elected", NULL, "%s elected leader for term %" PRIu64,
                       n->base.cfg.id, c->term);
        } else if (seen->role == CONS_LEADER)
            node_event(&n->base, "consensus.step_down", NULL,
                       "%s stepped down as leader (term %" PRIu64 ", now %s)%s%s", n->base.cfg.id,
                       c->term, cons_role_name(c->role), c->storage_failed ? ": " : "",
                       c->storage_failed ? n->raft.storage_error : "");
        else if (c->role == CONS_CANDIDATE && seen->role != CONS_CANDIDATE)
            node_event(&n->base, "consensus.candidate", NULL, "%s stands for election in term %" PRIu64,
                       n->base.cfg.id, c->term);
    }
    if (c->leader != seen->leader && c->leader != CONS_NONE && c->leader != c->cfg.self)
        node_event(&n->base, "consensus.leader", member_id(n, c->leader),
                   "%s follows leader %s in term %" PRIu64, n->base.cfg.id, member_id(n, c->leader),
                   c->term);
    bool ro = cons_read_only(c, now);
    if (ro != seen->read_only) {
        node_episodes_change(n, ro, seen->role == CONS_LEADER || c->role == CONS_LEADER);
        if (ro)
            node_event(&n->base, "consensus.read_only.enter", NULL,
                       "%s is read-only: no quorum-backed leader is reachable", n->base.cfg.id);
        else
            node_event(&n->base, "consensus.read_only.exit", member_id(n, c->leader),
                       "%s left read-only mode: leader %s has a quorum (term %" PRIu64 ")",
                       n->base.cfg.id, member_id(n, c->leader), c->term);
    }
    seen->role = c->role;
    seen->term = c->term;
    seen->leader = c->leader;
    seen->read_only = ro;
}

static void send_msg(struct node *n, const struct cons_msg *m)
{
    if (m->to < 0 || (size_t)m->to >= n->base.peers.n || n->base.out[m->to] < 0)
        return;
    if (m->n_entries > 0) {
        struct cons_msg copy = *m;
        node_repl_send_append(n, &copy);
        return;
    }
    uint8_t *body;
    size_t blen;
    if (cons_msg_encode(m, NULL, &body, &blen) != 0)
        return;
    node_send(&n->base, (size_t)m->to, ENV_CONSENSUS, body, blen);
    free(body);
}

/* Performs the core's output in the order its contract demands: the term
 * and vote, then the log changes (carried: the entry bytes of the APPEND
 * being handled), reach the disk before any message that depends on them
 * leaves. */
static void apply_log(struct node *n, const struct cons_out *out,
                      const struct cons_wire_entry *carried)
{
    uint64_t now = uv_now(n->base.loop);
    /* A write that failed was reported (node_cons_storage_failed): the
     * core is back at what the disk holds, and none of these messages may
     * leave. */
    if (out->persist && !persist(n, &out->state))
        return;
    if ((out->truncate || out->append_count > 0) && !node_repl_apply_log(n, out, carried))
        return;
    if (out->probe_storage)
        probe_storage(n);
    for (size_t i = 0; i < out->nmsgs; i++)
        send_msg(n, &out->msgs[i]);
    report_changes(n, now);
    if (out->commit > 0) {
        node_deploy_committed(n, out->commit);
        node_notes_committed(n, out->commit);
    }
    if (n->raft.elected_pending && n->raft.cons.role == CONS_LEADER && !n->base.stopping && n->raft.ledger) {
        /* Record the election (also Raft's no-op, §8) in the new term. */
        n->raft.elected_pending = false;
        node_repl_elected(n);
    }
    node_witness_tick(n);
    cons_timer_arm(n);
}

static void probe_storage(struct node *n)
{
    /* In the data directory itself, not among the ledger's segments: a
     * probe file a crash left there would stop the ledger from opening. */
    char err[512];
    if (durable_probe(n->base.cfg.data, STORAGE_PROBE_BYTES, err, sizeof(err)) == 0)
        node_cons_storage_ok(n);
}

void node_cons_storage_failed(struct node *n, const char *why)
{
    bool first = !n->raft.cons.storage_failed;
    snprintf(n->raft.storage_error, sizeof(n->raft.storage_error), "%s", why);
    struct cons_entry last = {0};
    if (n->raft.ledger) {
        last.index = ledger_last_index(n->raft.ledger);
        last.term = ledger_last_term(n->raft.ledger);
        ledger_head_hash(n->raft.ledger, last.hash);
    }
    uint64_t now = uv_now(n->base.loop);
    cons_storage_failed(&n->raft.cons, now, &n->raft.cons_disk, &last);
    if (first)
        node_event(&n->base, "ledger.write_failed", NULL,
                   "%s; %s stands for no election until the disk takes writes again", why,
                   n->base.cfg.id);
    report_changes(n, now);
    cons_timer_arm(n);
}

void node_cons_storage_ok(struct node *n)
{
    if (!n->raft.cons.storage_failed)
        return;
    cons_storage_ok(&n->raft.cons);
    node_event(&n->base, "ledger.write_recovered", NULL,
               "the disk takes writes again (it failed with: %s); %s may stand for election",
               n->raft.storage_error, n->base.cfg.id);
    n->raft.storage_error[0] = '\0';
}

void node_cons_apply(struct node *n, const struct cons_out *out)
{
    apply_log(n, out, NULL);
}

static void on_cons_timer(uv_timer_t *t)
{
    struct node *n = t->data;
    struct cons_out out;
    cons_tick(&n->raft.cons, uv_now(n->base.loop), &out);
    node_cons_apply(n, &out);
}

static void cons_timer_arm(struct node *n)
{
    if (n->base.stopping)
        return;
    uint64_t now = uv_now(n->base.loop), at = cons_next_deadline(&n->raft.cons);
    /* Wake at least every heartbeat so read-only changes are seen promptly
     * even when the core has nothing due. */
    uint64_t wait = at > now ? at - now : 0;
    if (wait > n->base.cfg.heartbeat_ms)
        wait = n->base.cfg.heartbeat_ms;
    uv_timer_start(&n->raft.cons_timer, on_cons_timer, wait, 0);
}

void node_cons_recv(struct node *n, size_t from, const msgpack_object *body)
{
    struct cons_msg m;
    static struct cons_wire_entry carried[CONS_MAX_BATCH];
    static struct cons_entry meta[CONS_MAX_BATCH];
    /* Carried entries are decoded, hashed and checked to chain before the
     * core sees their metadata; one bad entry drops the whole message. */
    int checked = 0;
    if (cons_msg_decode(body, &m, carried) != 0 ||
        (m.n_entries > 0 &&
         (!n->raft.ledger || (checked = node_repl_check(n, from, &m, carried, meta)) != 0))) {
        if (checked != 1)
            node_drop(&n->base, DROP_SHAPE, "consensus body");
        return;
    }
    m.entries = m.n_entries > 0 ? meta : NULL;
    m.from = (int32_t)from;
    m.to = n->raft.cons.cfg.self;
    struct cons_out out;
    cons_recv(&n->raft.cons, uv_now(n->base.loop), &m, &out);
    apply_log(n, &out, carried);
}

int node_cons_start(struct node *n)
{
    struct cons_stored s;
    char err[1024];
    if (cons_store_load(n->base.cfg.data, &s, err, sizeof(err)) != 0) {
        fprintf(stderr, "chimerad: %s\n", err);
        return -1;
    }
    struct cons_persist p = {.term = s.term, .voted_for = CONS_NONE};
    if (s.voted_for[0]) {
        p.voted_for = peers_find(&n->base.peers, s.voted_for);
        if (p.voted_for < 0) {
            fprintf(stderr,
                    "chimerad: %s/%s: voted for \"%s\", who is not a member; fix --peers or "
                    "wipe the data directory to rejoin as a new node\n",
                    n->base.cfg.data, CONS_STORE_FILE, s.voted_for);
            return -1;
        }
    }
    struct cons_config cc = {
        .self = (int32_t)n->base.peers.self,
        .n = (int32_t)n->base.peers.n,
        .heartbeat_ms = n->base.cfg.heartbeat_ms,
        .election_timeout_ms = n->base.cfg.election_timeout_ms,
    };
    uint64_t seed;
    randombytes_buf(&seed, sizeof(seed));
    cons_init(&n->raft.cons, &cc, &p, uv_now(n->base.loop), seed);
    n->raft.cons_disk = p;
    n->raft.seen.role = n->raft.cons.role;
    n->raft.seen.term = n->raft.cons.term;
    n->raft.seen.leader = CONS_NONE;
    n->raft.seen.read_only = true; /* a node starts read-only; leaving it is news */
    uv_timer_init(n->base.loop, &n->raft.cons_timer);
    n->raft.cons_timer.data = n;
    cons_timer_arm(n);
    return 0;
}

void node_cons_stop(struct node *n)
{
    /* Before the HTTP server stops: it waits for every request answered. */
    node_notes_fail_all(n, "node is shutting down before the note was committed; it may or may "
                           "not be committed, check GET /ledger");
    uv_timer_stop(&n->raft.cons_timer);
    uv_close((uv_handle_t *)&n->raft.cons_timer, NULL);
    node_repl_stop(n);
}

int node_cons_check_state(struct node *n)
{
    struct cons_stored s;
    char err[1024];
    if (cons_store_load(n->base.cfg.data, &s, err, sizeof(err)) != 0 || !s.missing ||
        ledger_last_index(n->raft.ledger) == 0)
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
            n->base.cfg.data, CONS_STORE_FILE, ledger_last_term(n->raft.ledger),
            ledger_last_index(n->raft.ledger));
    return -1;
}
