/* The fault schedule: random faults for a while, then a full heal (all links
 * up, every node up, no loss, no duplicates, no spikes) and a liveness
 * window. Each schedule draws its own mix of faults and their pace, so some
 * schedules are crash-heavy, some partition-heavy, some lossy. */
#include "lib/sim.h"

#include <inttypes.h>
#include <stdio.h>

/* Length of the fault phase (virtual ms). */
#define FAULT_PHASE_MIN 5000u
#define FAULT_PHASE_MAX 20000u

static const char *const fault_names[F_COUNT] = {
    "partition",    "partition-leader", "one-way", "heal-link", "heal-links", "crash",
    "crash-leader", "restart",          "drop",    "dup",       "latency",    "calm",
    "disk",         "transfer",         "flap",    "conn-drop"};

void faults_plan(struct sim *s)
{
    s->heal_at = rng_range(&s->rng, FAULT_PHASE_MIN, FAULT_PHASE_MAX);
    s->end_at = s->heal_at + SIM_LIVE_BOUND + SIM_STABLE_MS;
    /* The connection faults join the mix only when asked for
     * (faults_conn_loss), so that the draws of the others stay as they
     * were. */
    for (int k = 0; k < F_FLAP; k++)
        s->weight[k] = (uint32_t)rng_below(&s->rng, 6);
    /* Every schedule partitions and crashes somewhat, and gets healed now
     * and then, so leaders form, get cut off and get replaced. */
    s->weight[F_PARTITION] += 2;
    s->weight[F_PARTITION_LEADER] += 2;
    s->weight[F_CRASH_LEADER] += 1;
    s->weight[F_RESTART] += 2;
    s->weight[F_HEAL_LINKS] += 1;
    static const uint32_t gaps[] = {300, 1000, 3000};
    s->gap_max = gaps[rng_below(&s->rng, 3)];
    s->next_fault_at = rng_range(&s->rng, 10, s->gap_max);
}

void faults_conn_loss(struct sim *s)
{
    s->conn_loss = true;
    s->weight[F_FLAP] = 1 + (uint32_t)rng_below(&s->rng, 6);
    s->weight[F_CONN_DROP] = 1 + (uint32_t)rng_below(&s->rng, 6);
}

void faults_flapping(struct sim *s)
{
    /* Nothing but flapping links, one at a time, often: the leader stays
     * reachable by a majority throughout (check.c, N). */
    s->flap_mode = s->conn_loss = true;
    for (int k = 0; k < F_COUNT; k++)
        s->weight[k] = 0;
    s->weight[F_FLAP] = 1;
    s->gap_max = 300;
}

static int pick_up(struct sim *s, bool up);

/* ---- connection notices ------------------------------------------------ */

static void notice(struct sim *s, uint64_t at, int to, int peer, bool up, bool cut)
{
    if (!s->conn_loss)
        return; /* the schedule is as without connection notices */
    struct net_notice nt = {.at = at,
                            .inc = s->nodes[to].inc,
                            .to = (int8_t)to,
                            .peer = (int8_t)peer,
                            .up = up,
                            .cut = cut};
    net_notice(&s->net, &nt);
}

/* A killed process's connections close at once: every peer's transport
 * sees it within a ms or two (the loop's wake-up). */
void faults_crashed(struct sim *s, int i)
{
    if (s->nodes[i].c.role == CONS_LEADER && s->crash_at == NET_NEVER) {
        s->crash_at = s->now;
        s->crash_term = s->nodes[i].c.term;
    }
    for (int j = 0; j < s->n && s->conn_loss; j++)
        if (j != i && s->nodes[j].up)
            notice(s, s->now + rng_range(&s->rng, 0, 2), j, i, false, false);
}

/* The peers redial a restarted node (NNG's reconnect interval). */
void faults_restarted(struct sim *s, int i)
{
    for (int j = 0; j < s->n && s->conn_loss; j++)
        if (j != i && s->nodes[j].up)
            notice(s, s->now + rng_range(&s->rng, 1, 60), j, i, true, false);
}

/* One pair's connection drops and is back a little later, again and again
 * for a while: notices to both ends. In flapping schedules the pair is
 * often the leader and a follower, and the link may also be cut while
 * down (a reset that loses what was in flight); elsewhere messages flow as
 * the other faults let them, so notices and traffic disagree, which the
 * core must survive too. */
static void flap(struct sim *s, int leader)
{
    if (s->flap_mode && (!s->flap_based || s->now < s->flap_until))
        return;
    int a = (int)rng_below(&s->rng, (uint64_t)s->n);
    int b = (int)rng_below(&s->rng, (uint64_t)s->n - 1);
    b += b >= a;
    if (leader >= 0 && rng_chance(&s->rng, 700000)) {
        a = leader;
        b = (int)rng_below(&s->rng, (uint64_t)s->n - 1);
        b += b >= a;
    }
    bool cut = s->flap_mode && rng_chance(&s->rng, 500000);
    int times = (int)rng_range(&s->rng, 1, 20);
    uint64_t at = s->now;
    for (int k = 0; k < times; k++) {
        uint64_t down = rng_range(&s->rng, 1, 80);
        for (int e = 0; e < 2; e++) {
            int to = e ? b : a, peer = e ? a : b;
            if (!s->nodes[to].up)
                continue;
            /* One end's notices carry the cut, in order: the link is up
             * again at the end of every window. */
            notice(s, at + rng_below(&s->rng, 3), to, peer, false, cut && !e);
            notice(s, at + 3 + down + rng_below(&s->rng, 3), to, peer, true, cut && !e);
        }
        at += down + 6 + rng_range(&s->rng, 1, 100);
    }
    /* The next episode waits until everyone heard the leader again: a
     * follower whose link was down for most of an election timeout may
     * have given up on the leader, and two such at once are two faults. */
    s->flap_until = at + 3 + 2 * SIM_T + SIM_H;
    s->st.flaps++;
    sim_tracef(s, "fault flap n%d<->n%d %d times until %" PRIu64 "%s", a, b, times, at,
               cut ? " (cut while down)" : "");
}

/* A live node's connections all drop (its network was reset, say): every
 * peer sees it, and it sees every peer, then all redial. */
static void conn_drop(struct sim *s, int leader)
{
    int x = leader >= 0 && rng_chance(&s->rng, 500000) ? leader : pick_up(s, true);
    if (x < 0)
        return;
    uint64_t back = s->now + rng_range(&s->rng, 10, 300);
    for (int j = 0; j < s->n; j++) {
        if (j == x || !s->nodes[j].up)
            continue;
        notice(s, s->now + rng_below(&s->rng, 3), j, x, false, false);
        notice(s, s->now + rng_below(&s->rng, 3), x, j, false, false);
        notice(s, back + rng_below(&s->rng, 50), j, x, true, false);
        notice(s, back + rng_below(&s->rng, 50), x, j, true, false);
    }
    s->st.conn_drops++;
    sim_tracef(s, "fault conn-drop: every connection of n%d drops (%s), back by %" PRIu64, x,
               cons_role_name(s->nodes[x].c.role), back + 50);
}

void faults_notice(struct sim *s)
{
    struct net_notice nt;
    net_notice_pop(&s->net, &nt);
    struct sim_node *nd = &s->nodes[nt.to];
    if (nt.cut) {
        s->net.link[nt.to][nt.peer] = s->net.link[nt.peer][nt.to] = nt.up;
        sim_refresh(s);
    }
    if (!nd->up || nd->inc != nt.inc)
        return;
    s->st.notices++;
    sim_tracef(s, "notice n%d: connection to n%d %s", nt.to, nt.peer, nt.up ? "back" : "lost");
    if (nt.up) {
        cons_peer_back(&nd->c, s->now, nt.peer);
    } else if (s->brk == BREAK_NOTICE_ALL) {
        sim_tracef(s, "break: every node hears n%d's connection to n%d lost", nt.to, nt.peer);
        for (int j = 0; j < s->n; j++)
            if (s->nodes[j].up)
                cons_peer_lost(&s->nodes[j].c, s->now, nt.peer);
    } else {
        cons_peer_lost(&nd->c, s->now, nt.peer);
    }
}

static int pick_up(struct sim *s, bool up)
{
    int cand[SIM_MAX_NODES], k = 0;
    for (int i = 0; i < s->n; i++)
        if (s->nodes[i].up == up)
            cand[k++] = i;
    return k ? cand[rng_below(&s->rng, (uint64_t)k)] : -1;
}

/* Links up inside each side, cut across. */
static void split(struct sim *s, uint32_t mask)
{
    char a[32] = "", b[32] = "";
    size_t la = 0, lb = 0;
    for (int i = 0; i < s->n; i++) {
        for (int j = 0; j < s->n; j++)
            s->net.link[i][j] = ((mask >> i) & 1) == ((mask >> j) & 1);
        if ((mask >> i) & 1)
            la += (size_t)snprintf(a + la, sizeof a - la, "%s%d", la ? "," : "", i);
        else
            lb += (size_t)snprintf(b + lb, sizeof b - lb, "%s%d", lb ? "," : "", i);
    }
    s->st.partitions++;
    sim_tracef(s, "fault partition {%s} | {%s}", a, b);
}

static void random_split(struct sim *s)
{
    uint32_t all = (1u << s->n) - 1;
    split(s, 1 + (uint32_t)rng_below(&s->rng, all - 1)); /* both sides non-empty */
}

static void set_latency(struct sim *s, uint32_t lo, uint32_t hi, uint32_t spike_ppm)
{
    s->net.lat_min = lo;
    s->net.lat_max = hi;
    s->net.spike_ppm = spike_ppm;
}

static void calm(struct sim *s)
{
    for (int i = 0; i < s->n; i++)
        s->nodes[i].disk_bad = false;
    net_heal_links(&s->net);
    s->net.drop_ppm = s->net.dup_ppm = 0;
    set_latency(s, 1, 20, 0);
    for (int i = 0; i < s->n; i++)
        sim_restart(s, i);
}

static void apply(struct sim *s, enum fault_kind f)
{
    int leader = sim_leader(s);
    switch (f) {
    case F_PARTITION:
        random_split(s);
        break;
    case F_PARTITION_LEADER: {
        if (leader < 0) {
            random_split(s);
            break;
        }
        /* The leader and up to (n-1)/2 - 1 others form the minority. */
        uint32_t mask = 1u << leader;
        int size = 1 + (int)rng_below(&s->rng, (uint64_t)((s->n - 1) / 2));
        while (__builtin_popcount(mask) < size)
            mask |= 1u << rng_below(&s->rng, (uint64_t)s->n);
        split(s, mask);
        break;
    }
    case F_ONEWAY: {
        int cuts = 1 + (int)rng_below(&s->rng, (uint64_t)s->n);
        for (int k = 0; k < cuts; k++) {
            int a = (int)rng_below(&s->rng, (uint64_t)s->n);
            int b = (int)rng_below(&s->rng, (uint64_t)s->n - 1);
            b += b >= a;
            s->net.link[a][b] = false;
            sim_tracef(s, "fault cut %d->%d (one way)", a, b);
        }
        break;
    }
    case F_HEAL_LINK: {
        int a = (int)rng_below(&s->rng, (uint64_t)s->n);
        int b = (int)rng_below(&s->rng, (uint64_t)s->n - 1);
        b += b >= a;
        s->net.link[a][b] = s->net.link[b][a] = true;
        sim_tracef(s, "fault heal link %d<->%d", a, b);
        break;
    }
    case F_HEAL_LINKS:
        net_heal_links(&s->net);
        sim_tracef(s, "fault heal all links");
        break;
    case F_CRASH_LEADER:
        if (leader >= 0) {
            sim_crash(s, leader);
            break;
        }
        /* fall through */
    case F_CRASH: {
        int i = pick_up(s, true);
        if (i >= 0)
            sim_crash(s, i);
        break;
    }
    case F_RESTART: {
        int i = pick_up(s, false);
        if (i >= 0)
            sim_restart(s, i);
        break;
    }
    case F_DROP: {
        static const uint32_t ppm[] = {0, 10000, 50000, 200000, 500000};
        s->net.drop_ppm = ppm[rng_below(&s->rng, 5)];
        sim_tracef(s, "fault loss %.1f%%", s->net.drop_ppm / 1e4);
        break;
    }
    case F_DUP: {
        static const uint32_t ppm[] = {0, 10000, 50000, 200000};
        s->net.dup_ppm = ppm[rng_below(&s->rng, 4)];
        sim_tracef(s, "fault duplication %.1f%%", s->net.dup_ppm / 1e4);
        break;
    }
    case F_LATENCY: {
        static const uint32_t lo[] = {1, 1, 5}, hi[] = {5, 20, 50};
        static const uint32_t spike[] = {0, 10000, 50000};
        int p = (int)rng_below(&s->rng, 3);
        set_latency(s, lo[p], hi[p], spike[rng_below(&s->rng, 3)]);
        sim_tracef(s, "fault latency %" PRIu32 "-%" PRIu32 " ms, spikes to %u ms %.1f%%",
                   s->net.lat_min, s->net.lat_max, NET_D_MAX, s->net.spike_ppm / 1e4);
        break;
    }
    case F_CALM:
        sim_tracef(s, "fault calm: all links up, all nodes up, no loss, every disk writable");
        calm(s);
        break;
    case F_DISK: {
        int bad[SIM_MAX_NODES], k = 0;
        for (int i = 0; i < s->n; i++)
            if (s->nodes[i].disk_bad)
                bad[k++] = i;
        if (k && rng_chance(&s->rng, 500000)) {
            int i = bad[rng_below(&s->rng, (uint64_t)k)];
            s->nodes[i].disk_bad = false;
            sim_tracef(s, "fault disk of n%d takes writes again", i);
            break;
        }
        int i = leader >= 0 && rng_chance(&s->rng, 500000) ? leader : pick_up(s, true);
        if (i < 0)
            break;
        s->nodes[i].disk_bad = true;
        s->st.disk_faults++;
        sim_tracef(s, "fault disk of n%d refuses every write", i);
        break;
    }
    case F_TRANSFER:
        /* Sometimes to a member that cannot take it (itself, one cut off):
         * refused, or failed and resumed. Not so close to the heal that it
         * (or a TIMEOUT_NOW still in flight after it failed) could move
         * leadership once the stability window (5b) runs: by design it
         * does. */
        if (leader >= 0 && s->now + SIM_T + 2 * NET_D_MAX < s->heal_at)
            sim_transfer(s, leader,
                         rng_chance(&s->rng, 500000) ? CONS_NONE
                                                     : (int32_t)rng_below(&s->rng, (uint64_t)s->n));
        break;
    case F_FLAP:
        flap(s, leader);
        break;
    case F_CONN_DROP:
        conn_drop(s, leader);
        break;
    case F_COUNT:
        break;
    }
}

void faults_apply(struct sim *s)
{
    uint32_t total = 0;
    for (int k = 0; k < F_COUNT; k++)
        total += s->weight[k];
    uint32_t r = (uint32_t)rng_below(&s->rng, total);
    enum fault_kind f = 0;
    while (r >= s->weight[f])
        r -= s->weight[f++];
    s->st.faults++;
    sim_tracef(s, "fault draw: %s", fault_names[f]);
    apply(s, f);
    sim_refresh(s);
    s->next_fault_at = s->now + rng_range(&s->rng, 10, s->gap_max);
}

void faults_heal(struct sim *s)
{
    s->healed = true;
    /* The connections settle: what was still to be reported is moot, and
     * every node hears its connections open (restarts below add theirs). */
    s->net.nnotes = 0;
    for (int i = 0; i < s->n && s->conn_loss; i++)
        for (int j = 0; j < s->n; j++)
            if (i != j && s->nodes[i].up)
                notice(s, s->now + rng_range(&s->rng, 1, 60), i, j, true, false);
    if (s->brk == BREAK_HEAL) {
        /* The broken heal restarts nodes and stops loss but forgets the
         * links. */
        sim_tracef(s, "break: heal leaves the links as they are");
        s->net.drop_ppm = s->net.dup_ppm = 0;
        set_latency(s, 1, 20, 0);
        for (int i = 0; i < s->n; i++)
            sim_restart(s, i);
    } else {
        sim_tracef(s, "heal: all links up, all nodes up, no loss, no duplicates, no spikes");
        calm(s);
    }
    sim_refresh(s);
}
