/* The cluster: nodes, the event loop, and the routing of cons_out. */
#include "lib/sim.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *sim_msg_name(enum cons_msg_type t)
{
    switch (t) {
    case CONS_MSG_PREVOTE:
        return "PREVOTE";
    case CONS_MSG_PREVOTE_RESP:
        return "PREVOTE_RESP";
    case CONS_MSG_VOTE:
        return "VOTE";
    case CONS_MSG_VOTE_RESP:
        return "VOTE_RESP";
    case CONS_MSG_HEARTBEAT:
        return "HEARTBEAT";
    case CONS_MSG_HEARTBEAT_RESP:
        return "HEARTBEAT_RESP";
    case CONS_MSG_APPEND:
        return "APPEND";
    case CONS_MSG_APPEND_RESP:
        return "APPEND_RESP";
    case CONS_MSG_TIMEOUT_NOW:
        return "TIMEOUT_NOW";
    default:
        return "?";
    }
}

void sim_tracef(const struct sim *s, const char *fmt, ...)
{
    if (!s->trace)
        return;
    va_list ap;
    printf("%8" PRIu64 " ms  ", s->now);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
}

void sim_fail(struct sim *s, const char *inv, const char *fmt, ...)
{
    if (s->failed)
        return;
    s->failed = true;
    snprintf(s->inv, sizeof s->inv, "%s", inv);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->why, sizeof s->why, fmt, ap);
    va_end(ap);
    sim_tracef(s, "VIOLATION %s: %s", s->inv, s->why);
}

static void trace_msg(const struct sim *s, const char *what, const struct cons_msg *m,
                      const char *extra)
{
    if (!s->trace)
        return;
    char args[96] = "";
    switch (m->type) {
    case CONS_MSG_PREVOTE:
    case CONS_MSG_VOTE:
        snprintf(args, sizeof args, " lli=%" PRIu64 " llt=%" PRIu64, m->last_log_index,
                 m->last_log_term);
        break;
    case CONS_MSG_PREVOTE_RESP:
    case CONS_MSG_VOTE_RESP:
        snprintf(args, sizeof args, " granted=%d", m->granted);
        break;
    case CONS_MSG_HEARTBEAT:
        snprintf(args, sizeof args, " commit=%" PRIu64, m->commit);
        break;
    case CONS_MSG_HEARTBEAT_RESP:
        snprintf(args, sizeof args, " granted=%d", m->granted);
        break;
    case CONS_MSG_APPEND_RESP:
        snprintf(args, sizeof args, " granted=%d match=%" PRIu64 " (prev=%" PRIu64 ")", m->granted,
                 m->match_index, m->prev_index);
        break;
    case CONS_MSG_APPEND:
        snprintf(args, sizeof args, " prev=%" PRIu64 "/%02x%02x n=%" PRIu32 " commit=%" PRIu64,
                 m->prev_index, m->prev_hash[0], m->prev_hash[1], m->n_entries, m->commit);
        break;
    default:
        break;
    }
    sim_tracef(s, "%s %d->%d %s term=%" PRIu64 "%s%s", what, m->from, m->to, sim_msg_name(m->type),
               m->term, args, extra);
}

void sim_refresh(struct sim *s)
{
    bool up[SIM_MAX_NODES];
    for (int i = 0; i < s->n; i++)
        up[i] = s->nodes[i].up;
    net_refresh(&s->net, up, s->now);
}

const struct sim_log *sim_log_of(const struct sim_node *nd)
{
    return nd->up ? &nd->mem : &nd->disk;
}

int sim_leader(const struct sim *s)
{
    int best = -1;
    for (int i = 0; i < s->n; i++) {
        const struct sim_node *nd = &s->nodes[i];
        if (nd->up && nd->c.role == CONS_LEADER && (best < 0 || nd->c.term > s->nodes[best].c.term))
            best = i;
    }
    return best;
}

static struct cons_config config_of(const struct sim *s, int i)
{
    return (struct cons_config){
        .self = i, .n = s->n, .heartbeat_ms = SIM_H, .election_timeout_ms = SIM_T};
}

void sim_crash(struct sim *s, int i)
{
    struct sim_node *nd = &s->nodes[i];
    if (!nd->up)
        return;
    faults_crashed(s, i);
    if (nd->c.role == CONS_LEADER)
        nd->last_leader_at = s->now;
    nd->last_writable_leader_at = NET_NEVER; /* it restarts with no leadership */
    nd->up = false;
    nd->inc++;
    nd->mem.len = 0;             /* what was not synced is gone */
    if (nd->held > nd->disk.len) /* slow syncs: held, but never acknowledged */
        nd->held = nd->disk.len;
    nd->sync_at = NET_NEVER;
    size_t lost = net_purge_to(&s->net, i);
    s->st.dropped_crash += lost;
    s->st.crashes++;
    sim_tracef(s, "fault crash n%d (%s term=%" PRIu64 "; %zu in-flight messages to it lost)", i,
               cons_role_name(nd->c.role), nd->c.term, lost);
    sim_refresh(s);
}

/* The broken recoveries of --break truncate-committed and flip-hash, applied
 * to the disk on restart: returns the first index changed, or 0. */
static uint64_t break_recovery(struct sim *s, int i)
{
    struct sim_log *d = &s->nodes[i].disk;
    uint64_t c = s->committed.len < d->len ? s->committed.len : d->len;
    if (!c)
        return 0;
    if (s->brk == BREAK_TRUNCATE_COMMITTED) {
        sim_tracef(s,
                   "break: n%d's recovery cuts its log after %" PRIu64 " of %" PRIu64 " (%" PRIu64
                   " committed)",
                   i, c / 2, d->len, s->committed.len);
        log_cut(d, c / 2);
        return c / 2 + 1;
    }
    if (s->brk == BREAK_FLIP_HASH) {
        sim_tracef(s, "break: n%d's recovery flips a bit of entry %" PRIu64 "'s hash", i, c);
        d->v[c - 1].e.hash[0] ^= 1;
        return c;
    }
    return 0;
}

void sim_restart(struct sim *s, int i)
{
    struct sim_node *nd = &s->nodes[i];
    if (nd->up)
        return;
    if (s->brk == BREAK_VOTE && nd->disk_state.voted_for != CONS_NONE) {
        sim_tracef(s, "break: n%d's disk forgets its vote for n%d in term %" PRIu64, i,
                   nd->disk_state.voted_for, nd->disk_state.term);
        nd->disk_state.voted_for = CONS_NONE;
    }
    uint64_t changed = break_recovery(s, i);
    log_copy(&nd->mem, &nd->disk, 1);
    struct cons_config cfg = config_of(s, i);
    cons_init(&nd->c, &cfg, &nd->disk_state, s->now, rng_next(&s->rng));
    nd->up = true;
    nd->refused = false; /* a new process: nothing refused it yet */
    log_attach(s, i);
    cons_set_async_sync(&nd->c, s->slow_sync);
    nd->role = nd->c.role;
    nd->term = nd->c.term;
    s->st.restarts++;
    if (changed)
        check_log_changed(s, i, changed);
    sim_tracef(s, "fault restart n%d from disk term=%" PRIu64 " vote=%d", i, nd->disk_state.term,
               nd->disk_state.voted_for);
    faults_restarted(s, i);
    sim_refresh(s);
}

/* Puts one message on the wire: cut links and loss drop it at once,
 * duplication sends a second copy with its own latency. */
static void send(struct sim *s, const struct cons_msg *m, const struct cons_entry *ents,
                 const uint64_t *payloads)
{
    s->st.sent++;
    if (!s->net.link[m->from][m->to] || !s->nodes[m->to].up) {
        s->st.dropped_cut++;
        trace_msg(s, "drop(cut)", m, "");
        return;
    }
    if (rng_chance(&s->rng, s->net.drop_ppm)) {
        s->st.dropped_loss++;
        trace_msg(s, "drop(loss)", m, "");
        return;
    }
    int copies = rng_chance(&s->rng, s->net.dup_ppm) ? 2 : 1;
    for (int k = 0; k < copies; k++) {
        uint32_t lat = net_latency(&s->net, &s->rng);
        net_push(&s->net, s->now + lat, s->nodes[m->to].inc, m, ents, payloads);
        if (s->trace) {
            char extra[48];
            snprintf(extra, sizeof extra, " (+%" PRIu32 " ms%s)", lat, k ? ", duplicate" : "");
            trace_msg(s, "send", m, extra);
        }
    }
    s->st.duplicated += (uint64_t)(copies - 1);
    if (m->type == CONS_MSG_APPEND)
        s->st.entries_dup += (uint64_t)(copies - 1) * m->n_entries;
}

/* The APPEND being handled, whose entries an out may append. */
struct src {
    const struct cons_entry *ents;
    const uint64_t *payloads;
    uint32_t n;
};

/* Applies the out's truncate and append to node i's log: returns the first
 * index changed, or 0 (nothing changed, or a contract violation). */
static uint64_t apply_log(struct sim *s, int i, const struct cons_out *out, const struct src *src)
{
    struct sim_node *nd = &s->nodes[i];
    uint64_t from = 0;
    if (out->truncate && out->truncate_after < nd->mem.len) {
        check_log_truncate(s, i, out->truncate_after);
        if (s->failed)
            return 0;
        sim_tracef(s, "truncate n%d after %" PRIu64 " (drops %" PRIu64 ")", i, out->truncate_after,
                   nd->mem.len - out->truncate_after);
        s->st.truncations++;
        s->st.truncated += nd->mem.len - out->truncate_after;
        log_cut(&nd->mem, out->truncate_after);
        from = out->truncate_after + 1;
    }
    if (!out->append_count)
        return from;
    if (!src || (uint64_t)out->append_from + out->append_count > src->n) {
        sim_fail(s, "contract",
                 "n%d appends entries [%" PRIu32 ", +%" PRIu32 ") of an APPEND with %u", i,
                 out->append_from, out->append_count, src ? src->n : 0);
        return 0;
    }
    if (!from)
        from = nd->mem.len + 1;
    for (uint32_t k = out->append_from; k < out->append_from + out->append_count; k++) {
        if (src->ents[k].index != nd->mem.len + 1) {
            sim_fail(s, "contract",
                     "n%d appends entry %" PRIu64 " to a log that ends at %" PRIu64
                     " (truncate=%d after %" PRIu64 ")",
                     i, src->ents[k].index, nd->mem.len, out->truncate, out->truncate_after);
            return 0;
        }
        log_push(&nd->mem, &(struct sim_ent){.e = src->ents[k], .payload = src->payloads[k]});
    }
    s->st.entries_appended += out->append_count;
    sim_tracef(s, "append n%d %" PRIu64 "..%" PRIu64, i, src->ents[out->append_from].index,
               nd->mem.len);
    if (nd->mem.len > s->st.max_log)
        s->st.max_log = nd->mem.len;
    return from;
}

/* Sends an APPEND the core emitted, filled from node i's log like the shell
 * would: entries prev_index+1 .. prev_index+n_entries. */
static void send_append(struct sim *s, int i, const struct cons_msg *m)
{
    const struct sim_log *l = &s->nodes[i].mem;
    if (m->n_entries > CONS_MAX_BATCH) {
        sim_fail(s, "contract", "n%d sends an APPEND of %" PRIu32 " entries", i, m->n_entries);
        return;
    }
    if (m->prev_index + m->n_entries > l->len) {
        s->st.stale_appends++;
        trace_msg(s, "drop(stale: sender's log too short)", m, "");
        return;
    }
    if (memcmp(m->prev_hash, log_hash_at(l, m->prev_index), CONS_HASH_BYTES)) {
        sim_fail(s, "contract",
                 "n%d sends an APPEND with prev %" PRIu64 " whose hash is not its own", i,
                 m->prev_index);
        return;
    }
    struct cons_entry ents[CONS_MAX_BATCH];
    uint64_t payloads[CONS_MAX_BATCH];
    for (uint32_t k = 0; k < m->n_entries; k++) {
        ents[k] = l->v[m->prev_index + k].e;
        payloads[k] = l->v[m->prev_index + k].payload;
    }
    s->st.entries_sent += m->n_entries;
    send(s, m, ents, payloads);
}

static void route_src(struct sim *s, int i, const struct cons_out *out, const struct src *src);

/* Node i's disk refused a write: nothing of it was written (mem is still
 * the disk) and nothing that depends on it is sent; the core goes back to
 * what the disk holds and, if leader, steps down. */
static void storage_failed(struct sim *s, int i)
{
    struct sim_node *nd = &s->nodes[i];
    nd->refused = true;
    s->st.disk_refusals++;
    if (nd->c.role == CONS_LEADER) {
        /* It may have led only within this step (elected, then its election
         * entry refused), and its heartbeats are out: like a crashed
         * leader's, they count for the checker. */
        nd->last_leader_at = s->now;
        s->st.disk_stepdowns++;
    }
    /* The refused write was undone; what was written before stays (with
     * slow syncs, maybe not yet durable: a sync under way covers it). */
    const struct sim_log *l = s->slow_sync ? &nd->mem : &nd->disk;
    struct cons_entry last = {0};
    if (l->len)
        last = l->v[l->len - 1].e;
    sim_tracef(s,
               "n%d's disk refuses a write (%s term=%" PRIu64 "): back to term=%" PRIu64
               " vote=%d last=%" PRIu64,
               i, cons_role_name(nd->c.role), nd->c.term, nd->disk_state.term,
               nd->disk_state.voted_for, last.index);
    cons_storage_failed(&nd->c, s->now, &nd->disk_state, &last);
}

/* A write (or the core's probe) of node i succeeded. */
static void storage_ok(struct sim *s, int i)
{
    struct sim_node *nd = &s->nodes[i];
    if (!nd->refused)
        return;
    nd->refused = false;
    cons_storage_ok(&nd->c);
    sim_tracef(s, "n%d's disk takes writes again", i);
}

/* The leader i cannot append (its disk refuses): true when it may not. */
static bool leader_append_refused(struct sim *s, int i)
{
    if (!s->nodes[i].disk_bad)
        return false;
    if (s->brk == BREAK_DISK) {
        s->nodes[i].refused = true;
        sim_tracef(s, "break: n%d's disk refuses its entries and the core is not told", i);
        return true;
    }
    storage_failed(s, i);
    return true;
}

static void route(struct sim *s, int i, const struct cons_out *out);

/* How long the leader's sync takes: mostly quick, often longer than a
 * heartbeat interval (the loop goes on meanwhile). */
static uint64_t sync_delay(struct sim *s)
{
    return rng_chance(&s->rng, 300000) ? rng_range(&s->rng, SIM_H, 2 * SIM_H)
                                       : rng_range(&s->rng, 1, 5);
}

/* Slow syncs (--slow-sync) model the node's shell (node/raft/node_group.c):
 * every node writes its log changes to mem at once and syncs them to disk
 * off its loop, one sync at a time, each covering what was written before
 * it began; the core runs with async sync (consensus.h): the leader sends
 * what it wrote at once (cons_written) and counts itself once the sync
 * returned (cons_synced), a follower's answers wait in the core until
 * then. A truncation reaches the disk at once, and a sync under way proves
 * nothing beyond it (sync_cut). */
static void sync_kick(struct sim *s, int i)
{
    struct sim_node *nd = &s->nodes[i];
    if (nd->sync_at != NET_NEVER || nd->mem.len <= nd->disk.len)
        return;
    nd->sync_at = s->now + sync_delay(s);
    nd->sync_to = nd->mem.len;
    nd->sync_cut = UINT64_MAX;
    sim_tracef(s, "n%d syncs entries up to %" PRIu64 "; returns at %" PRIu64, i, nd->sync_to,
               nd->sync_at);
}

/* The core of node i hears that its log is durable up to index. */
static void tell_synced(struct sim *s, int i, uint64_t index)
{
    struct cons_out out;
    memset(&out, 0, sizeof out);
    cons_synced(&s->nodes[i].c, s->now, index, &out);
    route(s, i, &out);
}

/* The broken shells of --break tell-early (a leader) and ack-unsynced (a
 * follower) tell their core that what they just wrote is durable. */
static void break_synced(struct sim *s, int i, bool leader)
{
    struct sim_node *nd = &s->nodes[i];
    if ((leader && s->brk != BREAK_TELL_EARLY) || (!leader && s->brk != BREAK_ACK_UNSYNCED) ||
        nd->mem.len <= nd->disk.len)
        return;
    sim_tracef(s, "break: n%d's core hears entries up to %" PRIu64 " are durable before its sync",
               i, nd->mem.len);
    tell_synced(s, i, nd->mem.len);
}

/* Slow syncs: the leader's shell writes count entries, hands them to the
 * core at once and syncs them off its loop. */
static void leader_write(struct sim *s, int i, uint64_t count, bool noop)
{
    struct sim_node *nd = &s->nodes[i];
    struct cons_entry last;
    log_leader_write(s, i, count, noop, &last);
    sim_tracef(s, "n%d writes %" PRIu64 " entries up to %" PRIu64 " in term %" PRIu64, i, count,
               last.index, last.term);
    storage_ok(s, i);
    struct cons_out out;
    memset(&out, 0, sizeof out);
    cons_written(&nd->c, s->now, &last, &out);
    route(s, i, &out);
    if (s->failed)
        return;
    sync_kick(s, i);
    break_synced(s, i, true);
}

static void sync_done(struct sim *s, int i)
{
    struct sim_node *nd = &s->nodes[i];
    nd->sync_at = NET_NEVER;
    uint64_t upto = nd->sync_to < nd->sync_cut ? nd->sync_to : nd->sync_cut;
    if (upto > nd->mem.len)
        upto = nd->mem.len;
    if (upto > nd->disk.len) {
        log_copy(&nd->disk, &nd->mem, nd->disk.len + 1);
        log_cut(&nd->disk, upto);
    }
    sim_tracef(s, "n%d's sync returned: durable up to %" PRIu64, i, upto);
    sync_kick(s, i);
    tell_synced(s, i, upto);
}

/* Slow syncs: a follower's log changes of out. A truncation is durable at
 * once (and cuts what a sync under way may claim); appended entries wait
 * for the next sync. */
static void follower_wrote(struct sim *s, int i, const struct cons_out *out)
{
    struct sim_node *nd = &s->nodes[i];
    if (out->truncate) {
        log_cut(&nd->disk, out->truncate_after);
        if (nd->sync_cut > out->truncate_after)
            nd->sync_cut = out->truncate_after;
    }
    sync_kick(s, i);
}

/* Right after a node becomes leader, its shell appends the entry recording
 * the election (the no-op of §8). */
static void election_entry(struct sim *s, int i)
{
    struct sim_node *nd = &s->nodes[i];
    if (s->failed || nd->c.role != CONS_LEADER || nd->noop_term == nd->c.term)
        return;
    nd->noop_term = nd->c.term;
    if (leader_append_refused(s, i))
        return;
    if (s->slow_sync) {
        leader_write(s, i, 1, true);
        return;
    }
    struct cons_entry last;
    log_leader_append(s, i, 1, true, &last);
    sim_tracef(s, "n%d appends its election entry %" PRIu64 " in term %" PRIu64, i, last.index,
               last.term);
    struct cons_out out;
    memset(&out, 0, sizeof out);
    cons_appended(&nd->c, s->now, &last, &out);
    route_src(s, i, &out, NULL);
}

/* Performs a cons_out of node i in the contract's order: the term and vote,
 * then the log changes, made durable, then the messages, then the commit. */
static void route_src(struct sim *s, int i, const struct cons_out *out, const struct src *src)
{
    struct sim_node *nd = &s->nodes[i];
    if (out->nmsgs > CONS_MAX_OUT) {
        sim_fail(s, "contract", "n%d returned nmsgs=%zu > CONS_MAX_OUT", i, out->nmsgs);
        return;
    }
    if (nd->disk_bad && (out->persist || out->truncate || out->append_count)) {
        storage_failed(s, i);
        return;
    }
    if (out->persist && s->brk == BREAK_PERSIST) {
        sim_tracef(s, "break: n%d's persist of term=%" PRIu64 " vote=%d is not written", i,
                   out->state.term, out->state.voted_for);
    } else if (out->persist) {
        check_persist(s, i, &out->state);
        nd->disk_state = out->state;
        sim_tracef(s, "persist n%d term=%" PRIu64 " vote=%d", i, nd->disk_state.term,
                   nd->disk_state.voted_for);
    }
    uint64_t changed = apply_log(s, i, out, src);
    if (s->failed)
        return;
    if (changed && s->slow_sync)
        follower_wrote(s, i, out);
    else if (changed && s->brk != BREAK_ACK_EARLY)
        log_copy(&nd->disk, &nd->mem, changed);
    if (changed)
        check_log_changed(s, i, changed);
    for (size_t k = 0; k < out->nmsgs && !s->failed; k++) {
        const struct cons_msg *m = &out->msgs[k];
        check_send(s, i, m);
        check_log_send(s, i, m);
        if (s->failed)
            return;
        if (m->type == CONS_MSG_APPEND) {
            send_append(s, i, m);
            continue;
        }
        send(s, m, NULL, NULL);
        if (s->brk == BREAK_QUORUM && m->type == CONS_MSG_HEARTBEAT) {
            /* The broken shell acknowledges every heartbeat itself, whatever
             * the network does: the leader always "hears" a majority. */
            struct cons_msg ack = {.type = CONS_MSG_HEARTBEAT_RESP,
                                   .from = m->to,
                                   .to = i,
                                   .term = m->term,
                                   .granted = true};
            net_push(&s->net, s->now + 1, nd->inc, &ack, NULL, NULL);
            trace_msg(s, "break: forged", &ack, "");
        }
    }
    if (changed && s->brk == BREAK_ACK_EARLY) {
        sim_tracef(s, "break: n%d's log reaches the disk after its messages", i);
        log_copy(&nd->disk, &nd->mem, changed);
    }
    if (out->append_count || (out->probe_storage && !nd->disk_bad))
        storage_ok(s, i);
    if (out->append_count && s->slow_sync)
        break_synced(s, i, false);
    if (out->commit && !s->failed)
        check_log_commit(s, i, out->commit);
    if (out->transfer_end != CONS_TRANSFER_NONE) {
        bool done = out->transfer_end == CONS_TRANSFER_DONE;
        s->st.transfers_done += done;
        s->st.transfers_failed += !done;
        s->st.transfers_resumed += !done && nd->c.role == CONS_LEADER;
        sim_tracef(s, "n%d's transfer to n%d %s: %s", i, out->transfer_target,
                   done ? "done" : "failed", out->transfer_why);
    }
    election_entry(s, i);
}

static void route(struct sim *s, int i, const struct cons_out *out)
{
    route_src(s, i, out, NULL);
}

/* The end of a wake-up of node i's loop: a commit index that advanced goes
 * out to the followers now (the shell calls cons_flush once per wake-up). */
static void flush(struct sim *s, int i)
{
    if (s->failed || !s->nodes[i].up)
        return;
    struct cons_out out;
    memset(&out, 0, sizeof out);
    cons_flush(&s->nodes[i].c, s->now, &out);
    route(s, i, &out);
}

void sim_transfer(struct sim *s, int i, int32_t to)
{
    struct cons_out out;
    memset(&out, 0, sizeof out);
    int32_t target = CONS_NONE;
    enum cons_transfer_rc rc = cons_transfer(&s->nodes[i].c, s->now, to, &target, &out);
    sim_tracef(s, "n%d asked to transfer to %d: %s (target n%d)", i, to, cons_transfer_strerror(rc),
               target);
    if (rc != CONS_TRANSFER_OK)
        return;
    s->st.transfers++;
    route(s, i, &out);
}

static void deliver(struct sim *s)
{
    struct net_msg nm;
    net_pop(&s->net, &nm);
    struct cons_msg *m = &nm.m;
    struct sim_node *nd = &s->nodes[m->to];
    if (!nd->up || nm.inc != nd->inc) {
        s->st.dropped_crash++;
        trace_msg(s, "drop(crashed)", m, "");
        net_msg_free(&nm);
        return;
    }
    bool forged = s->brk == BREAK_QUORUM && m->type == CONS_MSG_HEARTBEAT_RESP;
    if (!s->net.link[m->from][m->to] && !forged) {
        s->st.dropped_cut++;
        trace_msg(s, "drop(cut)", m, "");
        net_msg_free(&nm);
        return;
    }
    s->st.delivered++;
    trace_msg(s, "deliver", m, "");
    /* An APPEND is a heartbeat too (the leader sends one or the other); one
     * from a deposed leader's older term is refused, and is no heartbeat. */
    if ((m->type == CONS_MSG_HEARTBEAT || m->type == CONS_MSG_APPEND) && m->term >= nd->c.term) {
        nd->hb_from = m->from;
        nd->hb_at = s->now;
    } else if (m->type == CONS_MSG_HEARTBEAT_RESP || m->type == CONS_MSG_APPEND_RESP) {
        nd->ack_at[m->from] = s->now;
    }
    m->entries = nm.ents;
    struct src src = {.ents = nm.ents, .payloads = nm.payloads, .n = nm.ents ? m->n_entries : 0};
    struct cons_out out;
    memset(&out, 0, sizeof out);
    cons_recv(&nd->c, s->now, m, &out);
    if (m->type == CONS_MSG_APPEND && m->n_entries) {
        const struct cons_msg *r = NULL;
        for (size_t k = 0; k < out.nmsgs && !r; k++)
            if (out.msgs[k].type == CONS_MSG_APPEND_RESP)
                r = &out.msgs[k];
        if (!r)
            s->st.entries_ignored += m->n_entries;
        else if (!r->granted)
            s->st.entries_refused += m->n_entries;
        else
            s->st.entries_held += m->n_entries - out.append_count;
    }
    route_src(s, m->to, &out, &src);
    net_msg_free(&nm);
    flush(s, m->to);
}

/* The workload: a leader (any node that believes it leads, so stale leaders
 * in a minority append entries that will be truncated) appends a batch. */
static void propose(struct sim *s)
{
    s->next_propose_at = s->now + rng_range(&s->rng, 1, s->propose_gap_max);
    int cand[SIM_MAX_NODES], k = 0;
    /* A leader handing over refuses proposals (cons_transferring). */
    for (int i = 0; i < s->n; i++)
        if (s->nodes[i].up && s->nodes[i].c.role == CONS_LEADER &&
            !cons_transferring(&s->nodes[i].c))
            cand[k++] = i;
    if (!k)
        return;
    int i = cand[rng_below(&s->rng, (uint64_t)k)];
    if (leader_append_refused(s, i))
        return;
    uint64_t count = log_next_batch(s);
    if (!count)
        return;
    if (s->slow_sync) {
        leader_write(s, i, count, false);
        return;
    }
    struct cons_entry last;
    log_leader_append(s, i, count, false, &last);
    sim_tracef(s, "n%d proposes %" PRIu64 " entries, up to %" PRIu64, i, count, last.index);
    if (s->failed)
        return;
    storage_ok(s, i);
    struct cons_out out;
    memset(&out, 0, sizeof out);
    cons_appended(&s->nodes[i].c, s->now, &last, &out);
    route(s, i, &out);
    flush(s, i);
}

static void tick(struct sim *s, int i)
{
    struct sim_node *nd = &s->nodes[i];
    sim_tracef(s, "timer n%d (%s term=%" PRIu64 ")", i, cons_role_name(nd->c.role), nd->c.term);
    struct cons_out out;
    memset(&out, 0, sizeof out);
    cons_tick(&nd->c, s->now, &out);
    s->st.early_prevotes += out.lost_prevote;
    route(s, i, &out);
    uint64_t next = cons_next_deadline(&nd->c);
    if (next <= s->now)
        sim_fail(s, "contract",
                 "n%d: cons_next_deadline is %" PRIu64 " right after cons_tick at %" PRIu64
                 " (tick must fire everything due)",
                 i, next, s->now);
}

void sim_init(struct sim *s, uint64_t seed, int n, enum sim_break brk, bool trace)
{
    memset(s, 0, sizeof *s);
    s->n = n;
    s->seed = seed;
    s->brk = brk;
    s->trace = trace;
    uint64_t x = seed ^ ((uint64_t)n << 56);
    rng_seed(&s->rng, splitmix64(&x));
    net_init(&s->net, n);
    check_init(s);
    faults_plan(s);
    /* The workload's pace: some schedules write often, some rarely. */
    static const uint64_t gaps[] = {100, 300, 1000};
    s->propose_gap_max = gaps[rng_below(&s->rng, 3)];
    s->next_propose_at = rng_range(&s->rng, 1, s->propose_gap_max);
    s->budget = SIM_PROPOSE_BUDGET;
    s->crash_at = NET_NEVER;
    for (int i = 0; i < n; i++) {
        struct sim_node *nd = &s->nodes[i];
        nd->disk_state = (struct cons_persist){.term = 0, .voted_for = CONS_NONE};
        nd->last_leader_at = nd->last_writable_leader_at = NET_NEVER;
        nd->hb_from = CONS_NONE;
        nd->hb_at = NET_NEVER;
        nd->sync_at = NET_NEVER;
        for (int j = 0; j < n; j++)
            nd->ack_at[j] = NET_NEVER;
        struct cons_config cfg = config_of(s, i);
        cons_init(&nd->c, &cfg, &nd->disk_state, 0, rng_next(&s->rng));
        nd->up = true;
        log_attach(s, i);
        nd->role = nd->c.role;
        nd->term = nd->c.term;
    }
    sim_refresh(s);
    sim_tracef(s,
               "schedule seed=%" PRIu64 " nodes=%d heal at %" PRIu64 " ms, end at %" PRIu64 " ms",
               seed, n, s->heal_at, s->end_at);
}

void sim_free(struct sim *s)
{
    net_free(&s->net);
    check_free(s);
    log_free_all(s);
}

uint64_t sim_time_to_leader(const struct sim *s)
{
    return s->agreed ? s->agreed_at - s->heal_at : NET_NEVER;
}

int sim_run(struct sim *s)
{
    /* Bounds a burst of events at one instant (a core answering itself in a
     * loop would otherwise never let the clock move). */
    const uint64_t max_same_instant = 100000;
    uint64_t same = 0;
    for (int i = 0; i < s->n; i++)
        cons_set_async_sync(&s->nodes[i].c, s->slow_sync);
    check_step(s);
    while (!s->failed) {
        uint64_t t_fault =
            s->healed ? NET_NEVER : (s->next_fault_at < s->heal_at ? s->next_fault_at : s->heal_at);
        uint64_t t_msg = net_next(&s->net);
        uint64_t t_tick = NET_NEVER;
        int who = -1;
        for (int i = 0; i < s->n; i++) {
            if (!s->nodes[i].up)
                continue;
            uint64_t d = cons_next_deadline(&s->nodes[i].c);
            if (d < t_tick) {
                t_tick = d;
                who = i;
            }
        }
        /* The workload stops at the heal, so that L5 can ask for converged
         * logs. */
        uint64_t t_sync = NET_NEVER;
        int synced = -1;
        for (int i = 0; i < s->n; i++)
            if (s->nodes[i].up && s->nodes[i].sync_at < t_sync) {
                t_sync = s->nodes[i].sync_at;
                synced = i;
            }
        uint64_t t_prop = s->healed || !s->budget ? NET_NEVER : s->next_propose_at;
        uint64_t t_note = net_notice_next(&s->net);
        uint64_t t = t_fault;
        if (t_note < t)
            t = t_note;
        if (t_msg < t)
            t = t_msg;
        if (t_tick < t)
            t = t_tick;
        if (t_sync < t)
            t = t_sync;
        if (t_prop < t)
            t = t_prop;
        if (t > s->end_at)
            break;
        if (t < s->now)
            t = s->now; /* a deadline already passed: due now */
        same = t == s->now ? same + 1 : 0;
        if (same > max_same_instant) {
            sim_fail(s, "contract", "more than %" PRIu64 " events at one instant",
                     max_same_instant);
            break;
        }
        /* Bounds a message storm (a core that answers one message with
         * several, round after round) before it eats CI's memory. */
        if (s->net.len > s->st.max_in_flight)
            s->st.max_in_flight = s->net.len;
        if (s->net.len > SIM_MAX_IN_FLIGHT) {
            sim_fail(s, "contract", "message storm: %zu messages in flight (limit %u)", s->net.len,
                     SIM_MAX_IN_FLIGHT);
            break;
        }
        s->now = t;
        if (t_fault <= t) {
            if (t_fault == s->heal_at)
                faults_heal(s);
            else
                faults_apply(s);
        } else if (t_note <= t) {
            faults_notice(s);
        } else if (t_msg <= t) {
            deliver(s);
        } else if (t_tick <= t) {
            tick(s, who);
        } else if (t_sync <= t) {
            sync_done(s, synced);
        } else {
            propose(s);
        }
        s->st.steps++;
        if (!s->failed)
            check_step(s);
    }
    if (!s->failed) {
        s->now = s->end_at;
        check_step(s);
    }
    s->st.virtual_ms = s->now;
    return s->failed ? 1 : 0;
}
