/* The shell around the consensus core: loads and persists the term and vote,
 * runs the core's timer, carries its messages in sealed envelopes, and turns
 * what changed (role, leader, term, read-only) into events. */
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/cons_store.h"
#include "node/node.h"

static void cons_timer_arm(struct node *n);

static void fatal(struct node *n, const char *what)
{
    /* Persist before acknowledging: a vote that did not reach the disk must
     * not be sent, and a node that cannot write its state cannot go on. */
    fprintf(stderr, "chimerad: %s: fatal: %s\n", n->cfg.id, what);
    exit(1);
}

static void persist(struct node *n, const struct cons_persist *p)
{
    struct cons_stored s = {.term = p->term};
    if (p->voted_for != CONS_NONE)
        snprintf(s.voted_for, sizeof(s.voted_for), "%s", n->peers.m[p->voted_for].id);
    char err[512];
    if (cons_store_save(n->cfg.data, &s, err, sizeof(err)) != 0)
        fatal(n, err);
}

static const char *member_id(const struct node *n, int32_t idx)
{
    return idx >= 0 && (size_t)idx < n->peers.n ? n->peers.m[idx].id : NULL;
}

/* Compares the core's state with what was last reported and raises events. */
static void report_changes(struct node *n, uint64_t now)
{
    const struct cons *c = &n->cons;
    struct node_cons_seen *seen = &n->seen;
    if (c->role != seen->role || c->term != seen->term) {
        if (c->role == CONS_LEADER)
            node_event(n, "consensus.elected", NULL, "%s elected leader for term %" PRIu64,
                       n->cfg.id, c->term);
        else if (seen->role == CONS_LEADER)
            node_event(n, "consensus.step_down", NULL,
                       "%s stepped down as leader (term %" PRIu64 ", now %s)", n->cfg.id, c->term,
                       cons_role_name(c->role));
        else if (c->role == CONS_CANDIDATE && seen->role != CONS_CANDIDATE)
            node_event(n, "consensus.candidate", NULL, "%s stands for election in term %" PRIu64,
                       n->cfg.id, c->term);
    }
    if (c->leader != seen->leader && c->leader != CONS_NONE && c->leader != c->cfg.self)
        node_event(n, "consensus.leader", member_id(n, c->leader),
                   "%s follows leader %s in term %" PRIu64, n->cfg.id, member_id(n, c->leader),
                   c->term);
    bool ro = cons_read_only(c, now);
    if (ro != seen->read_only) {
        if (ro)
            node_event(n, "consensus.read_only.enter", NULL,
                       "%s is read-only: no quorum-backed leader is reachable", n->cfg.id);
        else
            node_event(n, "consensus.read_only.exit", member_id(n, c->leader),
                       "%s left read-only mode: leader %s has a quorum (term %" PRIu64 ")",
                       n->cfg.id, member_id(n, c->leader), c->term);
    }
    seen->role = c->role;
    seen->term = c->term;
    seen->leader = c->leader;
    seen->read_only = ro;
}

static void send_msg(struct node *n, const struct cons_msg *m)
{
    if (m->to < 0 || (size_t)m->to >= n->peers.n || n->out[m->to] < 0)
        return;
    uint8_t *body;
    size_t blen;
    /* chimerad does not replicate yet: its cores emit no APPEND entries. */
    if (cons_msg_encode(m, NULL, &body, &blen) != 0)
        return;
    node_send(n, (size_t)m->to, ENV_CONSENSUS, body, blen);
    free(body);
}

/* Performs the core's output in the order its contract demands: the term
 * and vote reach the disk before any message that depends on them leaves. */
static void apply(struct node *n, const struct cons_out *out)
{
    uint64_t now = uv_now(n->loop);
    if (out->persist)
        persist(n, &out->state);
    for (size_t i = 0; i < out->nmsgs; i++)
        send_msg(n, &out->msgs[i]);
    report_changes(n, now);
    cons_timer_arm(n);
}

static void on_cons_timer(uv_timer_t *t)
{
    struct node *n = t->data;
    struct cons_out out;
    cons_tick(&n->cons, uv_now(n->loop), &out);
    apply(n, &out);
}

static void cons_timer_arm(struct node *n)
{
    if (n->stopping)
        return;
    uint64_t now = uv_now(n->loop), at = cons_next_deadline(&n->cons);
    /* Wake at least every heartbeat so read-only changes are seen promptly
     * even when the core has nothing due. */
    uint64_t wait = at > now ? at - now : 0;
    if (wait > n->cfg.heartbeat_ms)
        wait = n->cfg.heartbeat_ms;
    uv_timer_start(&n->cons_timer, on_cons_timer, wait, 0);
}

void node_cons_recv(struct node *n, size_t from, const msgpack_object *body)
{
    struct cons_msg m;
    static struct cons_wire_entry carried[CONS_MAX_BATCH];
    /* Entries are refused until chimerad replicates the ledger (issue 4):
     * their bytes would have to be verified and stored first. */
    if (cons_msg_decode(body, &m, carried) != 0 || m.n_entries > 0) {
        node_drop(n, DROP_SHAPE, "consensus body");
        return;
    }
    m.from = (int32_t)from;
    m.to = n->cons.cfg.self;
    struct cons_out out;
    cons_recv(&n->cons, uv_now(n->loop), &m, &out);
    apply(n, &out);
}

int node_cons_start(struct node *n)
{
    struct cons_stored s;
    char err[1024];
    if (cons_store_load(n->cfg.data, &s, err, sizeof(err)) != 0) {
        fprintf(stderr, "chimerad: %s\n", err);
        return -1;
    }
    struct cons_persist p = {.term = s.term, .voted_for = CONS_NONE};
    if (s.voted_for[0]) {
        p.voted_for = peers_find(&n->peers, s.voted_for);
        if (p.voted_for < 0) {
            fprintf(stderr,
                    "chimerad: %s/%s: voted for \"%s\", who is not a member; fix --peers or "
                    "wipe the data directory to rejoin as a new node\n",
                    n->cfg.data, CONS_STORE_FILE, s.voted_for);
            return -1;
        }
    }
    struct cons_config cc = {
        .self = (int32_t)n->peers.self,
        .n = (int32_t)n->peers.n,
        .heartbeat_ms = n->cfg.heartbeat_ms,
        .election_timeout_ms = n->cfg.election_timeout_ms,
    };
    uint64_t seed;
    randombytes_buf(&seed, sizeof(seed));
    cons_init(&n->cons, &cc, &p, uv_now(n->loop), seed);
    n->seen.role = n->cons.role;
    n->seen.term = n->cons.term;
    n->seen.leader = CONS_NONE;
    n->seen.read_only = true; /* a node starts read-only; leaving it is news */
    uv_timer_init(n->loop, &n->cons_timer);
    n->cons_timer.data = n;
    cons_timer_arm(n);
    return 0;
}

void node_cons_stop(struct node *n)
{
    uv_timer_stop(&n->cons_timer);
    uv_close((uv_handle_t *)&n->cons_timer, NULL);
}
