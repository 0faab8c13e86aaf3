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
    case CONS_MSG_HEARTBEAT_RESP:
        snprintf(args, sizeof args, " granted=%d", m->granted);
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
    if (nd->c.role == CONS_LEADER)
        nd->last_leader_at = s->now;
    nd->up = false;
    nd->inc++;
    size_t lost = net_purge_to(&s->net, i);
    s->st.dropped_crash += lost;
    s->st.crashes++;
    sim_tracef(s, "fault crash n%d (%s term=%" PRIu64 "; %zu in-flight messages to it lost)", i,
               cons_role_name(nd->c.role), nd->c.term, lost);
    sim_refresh(s);
}

void sim_restart(struct sim *s, int i)
{
    struct sim_node *nd = &s->nodes[i];
    if (nd->up)
        return;
    if (s->brk == BREAK_VOTE && nd->disk.voted_for != CONS_NONE) {
        sim_tracef(s, "break: n%d's disk forgets its vote for n%d in term %" PRIu64, i,
                   nd->disk.voted_for, nd->disk.term);
        nd->disk.voted_for = CONS_NONE;
    }
    struct cons_config cfg = config_of(s, i);
    cons_init(&nd->c, &cfg, &nd->disk, s->now, rng_next(&s->rng));
    nd->up = true;
    nd->role = nd->c.role;
    nd->term = nd->c.term;
    s->st.restarts++;
    sim_tracef(s, "fault restart n%d from disk term=%" PRIu64 " vote=%d", i, nd->disk.term,
               nd->disk.voted_for);
    sim_refresh(s);
}

/* Puts one message on the wire: cut links and loss drop it at once,
 * duplication sends a second copy with its own latency. */
static void send(struct sim *s, const struct cons_msg *m)
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
        net_push(&s->net, s->now + lat, s->nodes[m->to].inc, m);
        if (s->trace) {
            char extra[48];
            snprintf(extra, sizeof extra, " (+%" PRIu32 " ms%s)", lat, k ? ", duplicate" : "");
            trace_msg(s, "send", m, extra);
        }
    }
    s->st.duplicated += (uint64_t)(copies - 1);
}

/* Performs a cons_out of node i: the persist first, then the messages. */
static void route(struct sim *s, int i, const struct cons_out *out)
{
    struct sim_node *nd = &s->nodes[i];
    if (out->nmsgs > CONS_MAX_OUT) {
        sim_fail(s, "contract", "n%d returned nmsgs=%zu > CONS_MAX_OUT", i, out->nmsgs);
        return;
    }
    if (out->persist && s->brk == BREAK_PERSIST) {
        sim_tracef(s, "break: n%d's persist of term=%" PRIu64 " vote=%d is not written", i,
                   out->state.term, out->state.voted_for);
    } else if (out->persist) {
        check_persist(s, i, &out->state);
        nd->disk = out->state;
        sim_tracef(s, "persist n%d term=%" PRIu64 " vote=%d", i, nd->disk.term, nd->disk.voted_for);
    }
    for (size_t k = 0; k < out->nmsgs && !s->failed; k++) {
        const struct cons_msg *m = &out->msgs[k];
        check_send(s, i, m);
        if (s->failed)
            return;
        send(s, m);
        if (s->brk == BREAK_QUORUM && m->type == CONS_MSG_HEARTBEAT) {
            /* The broken shell acknowledges every heartbeat itself, whatever
             * the network does: the leader always "hears" a majority. */
            struct cons_msg ack = {.type = CONS_MSG_HEARTBEAT_RESP,
                                   .from = m->to,
                                   .to = i,
                                   .term = m->term,
                                   .granted = true};
            net_push(&s->net, s->now + 1, nd->inc, &ack);
            trace_msg(s, "break: forged", &ack, "");
        }
    }
}

static void deliver(struct sim *s)
{
    struct net_msg nm;
    net_pop(&s->net, &nm);
    const struct cons_msg *m = &nm.m;
    struct sim_node *nd = &s->nodes[m->to];
    if (!nd->up || nm.inc != nd->inc) {
        s->st.dropped_crash++;
        trace_msg(s, "drop(crashed)", m, "");
        return;
    }
    bool forged = s->brk == BREAK_QUORUM && m->type == CONS_MSG_HEARTBEAT_RESP;
    if (!s->net.link[m->from][m->to] && !forged) {
        s->st.dropped_cut++;
        trace_msg(s, "drop(cut)", m, "");
        return;
    }
    s->st.delivered++;
    trace_msg(s, "deliver", m, "");
    if (m->type == CONS_MSG_HEARTBEAT) {
        nd->hb_from = m->from;
        nd->hb_at = s->now;
    } else if (m->type == CONS_MSG_HEARTBEAT_RESP) {
        nd->ack_at[m->from] = s->now;
    }
    struct cons_out out;
    memset(&out, 0, sizeof out);
    cons_recv(&nd->c, s->now, m, &out);
    route(s, m->to, &out);
}

static void tick(struct sim *s, int i)
{
    struct sim_node *nd = &s->nodes[i];
    sim_tracef(s, "timer n%d (%s term=%" PRIu64 ")", i, cons_role_name(nd->c.role), nd->c.term);
    struct cons_out out;
    memset(&out, 0, sizeof out);
    cons_tick(&nd->c, s->now, &out);
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
    for (int i = 0; i < n; i++) {
        struct sim_node *nd = &s->nodes[i];
        nd->disk = (struct cons_persist){.term = 0, .voted_for = CONS_NONE};
        nd->last_leader_at = NET_NEVER;
        nd->hb_from = CONS_NONE;
        nd->hb_at = NET_NEVER;
        for (int j = 0; j < n; j++)
            nd->ack_at[j] = NET_NEVER;
        struct cons_config cfg = config_of(s, i);
        cons_init(&nd->c, &cfg, &nd->disk, 0, rng_next(&s->rng));
        nd->up = true;
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
        uint64_t t = t_fault;
        if (t_msg < t)
            t = t_msg;
        if (t_tick < t)
            t = t_tick;
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
        s->now = t;
        if (t_fault <= t) {
            if (t_fault == s->heal_at)
                faults_heal(s);
            else
                faults_apply(s);
        } else if (t_msg <= t) {
            deliver(s);
        } else {
            tick(s, who);
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
