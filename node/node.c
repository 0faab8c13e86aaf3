/* The loop and the composition (node.h): start and stop, the tick, signals,
 * opening and authenticating arriving envelopes before node/msg.c hands
 * them to a layer, and the hooks through which the lower layers reach up
 * (compose). Every decision lives in a layer or a pure core. */
#include "node/node.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <msgpack.h>
#include <nng/nng.h>
#include <signal.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "ledger/datadir.h"
#include "node/base/durable.h"
#include "node/base/envelope.h"
#include "node/msg.h"
#include "node/net/transport.h"
#include "pipeline/core/manifest.h"

/* The boot epoch tells peers that this node restarted (it differs from
 * the last start's: past both the last one recorded and the clock).
 * Written and fsynced before the first message goes out. Envelope counters
 * do not depend on it: see next_counter. */
static int load_boot_epoch(struct node *n)
{
    char buf[32], err[512];
    uint64_t last = 0;
    long len = durable_read(n->base.cfg.data, "boot", buf, sizeof(buf) - 1, err, sizeof(err));
    if (len >= 0) {
        buf[len] = '\0';
        if (sscanf(buf, "%" SCNu64, &last) != 1)
            last = 0;
    }
    uint64_t now = (uint64_t)(node_wall_ms() / 1000);
    n->base.boot = last + 1 > now ? last + 1 : now;
    events_set_boot(&n->base.events, n->base.boot); /* event numbers continue across restarts */
    n->base.counter = 0;
    int k = snprintf(buf, sizeof(buf), "%" PRIu64 "\n", n->base.boot);
    if (durable_write(n->base.cfg.data, "boot", buf, (size_t)k, err, sizeof(err)) != 0) {
        fprintf(stderr, "chimerad: --data: fatal: %s\n", err);
        return -1;
    }
    return 0;
}

/* ---- receiving ---- */

static void report_change(struct node *n, const struct peer_change *c)
{
    const struct peer *p = &n->base.peers.m[c->idx];
    char kind[32];
    snprintf(kind, sizeof(kind), "peer.%s", peer_status_name(c->to));
    node_event(&n->base, kind, p->id, "%s is %s (was %s)", p->id, peer_status_name(c->to),
               peer_status_name(c->from));
}

/* How long after the start messages sealed before it are taken for what
 * the peers queued while this node was down (their dialers retry at least
 * every second): twice the dead-after time, at least 5 s. */
static uint64_t stale_grace_ms(const struct node *n)
{
    uint64_t g = 2u * (uint64_t)n->base.cfg.dead_after_ms;
    return g > 5000 ? g : 5000;
}

/* A message member idx sealed before this node started (env_replay_start:
 * what this node accepted before a restart is forgotten, so everything
 * sealed earlier is refused). Right after the start these are what the
 * peers queued while this node was down, or a replay: news, counted. Once
 * this node has been up for longer than stale_grace_ms, a member still
 * sealing before its start has a clock that lags (or is being replayed):
 * a warning that names the skew, since the member stays unheard until its
 * clock passes this node's start. Both at most once every
 * NODE_DROP_EVENT_INTERVAL_MS. */
static void drop_stale(struct node *n, size_t idx, uint64_t counter)
{
    n->base.metrics.dropped[DROP_STALE]++;
    uint64_t held;
    if (!events_limiter_allow(&n->base.drop_limit[DROP_STALE], node_wall_ms(),
                              NODE_DROP_EVENT_INTERVAL_MS, &held))
        return;
    const struct peer *p = &n->base.peers.m[idx];
    uint64_t sealed = env_counter_ms(counter), start = env_counter_ms(p->replay.floor);
    uint64_t now = env_counter_ms(node_wall_counter());
    uint64_t before = start - sealed, behind = now > sealed ? now - sealed : 0;
    char more[64] = "";
    if (held)
        snprintf(more, sizeof(more), "; %" PRIu64 " more since the last report", held);
    uint64_t grace = stale_grace_ms(n);
    char ago[32], over[32];
    if (uv_now(n->base.loop) - n->base.started_ms > grace)
        node_event(&n->base, "transport.clock_skew", p->id,
                   "dropped a message from %s sealed %s ago, before this node started: its clock "
                   "lags by about that (over %s), or it is a replay; unheard until its clock "
                   "passes this node's start%s",
                   p->id, manifest_duration_text(behind, ago, sizeof(ago)),
                   manifest_duration_text(grace, over, sizeof(over)), more);
    else
        node_event(&n->base, "transport.stale", p->id,
                   "dropped a message from %s sealed %s before this node started (queued while it "
                   "was down, or replayed)%s",
                   p->id, manifest_duration_text(before, ago, sizeof(ago)), more);
}

static void on_message(void *ctx, const void *buf, size_t len)
{
    struct node *n = ctx;
    struct env_msg msg;
    enum env_error err = env_open(n->base.key, buf, len, &msg);
    if (err != ENV_OK) {
        enum node_drop why = err == ENV_EAUTH || err == ENV_ETOOSHORT ? DROP_AUTH
                             : err == ENV_ESHAPE                      ? DROP_SHAPE
                             : err == ENV_EVERSION                    ? DROP_VERSION
                                                                      : DROP_MALFORMED;
        node_drop(&n->base, why, env_strerror(err));
        return;
    }
    int idx = peers_find(&n->base.peers, msg.from);
    enum env_verdict verdict;
    if (idx < 0 || (size_t)idx == n->base.peers.self) {
        node_drop(&n->base, DROP_UNKNOWN_MEMBER, msg.from);
    } else if (!node_chaos_admits(&n->chaos, (size_t)idx)) {
        /* isolated from this peer by a chaos fault: as if never sent */
    } else if ((verdict = env_replay_check(&n->base.peers.m[idx].replay, msg.counter)) ==
               ENV_STALE) {
        drop_stale(n, (size_t)idx, msg.counter);
    } else if (verdict == ENV_REPLAY) {
        node_drop(&n->base, DROP_REPLAY, msg.from);
    } else {
        transport_heard(n->base.transport, n->base.out[idx]);
        n->base.metrics.msgs_received++;
        struct peer_change chg;
        if (peers_heard(&n->base.peers, (size_t)idx, uv_now(n->base.loop), &chg))
            report_change(n, &chg);
        node_msg_dispatch(&n->msg, (size_t)idx, msg.type, &msg.body);
    }
    env_msg_free(&msg);
}

/* ---- the layers' hooks: how a lower layer reaches up ---- */

static void raft_on_commit(void *ctx, uint64_t commit)
{
    struct node *n = ctx;
    node_deploy_committed(&n->deploy, commit);
    node_chaos_committed(&n->chaos, commit);
    api_commit_wait_committed(&n->api.waits, commit);
}

/* Requests waiting on this node's leadership can no longer be promised. */
static void fail_waits(struct node *n, const char *cause)
{
    if (n->base.stopping)
        api_notes_stop(&n->api); /* not yet appended: "node is shutting down" */
    api_commit_wait_fail_all(&n->api.waits, cause);
}

static void raft_on_leadership(void *ctx, bool gained)
{
    struct node *n = ctx;
    if (gained)
        node_deploy_elected(&n->deploy);
    else /* a write the disk refused (the leader's group) names its cause */
        fail_waits(n, n->raft.cons.storage_failed && n->raft.storage_error[0]
                          ? n->raft.storage_error
                          : "leadership lost");
    node_chaos_leadership(&n->chaos, gained);
}

static void raft_on_read_only(void *ctx, bool ro, bool was_leader)
{
    node_episodes_change(&((struct node *)ctx)->wit, ro, was_leader);
}

static void raft_after_output(void *ctx)
{
    node_witness_tick(&((struct node *)ctx)->wit);
    api_hold_poll(&((struct node *)ctx)->api); /* a transfer done: its held writes, 307 */
}

/* In the output that made this node leader, after its election entry:
 * what it appends now joins that entry's group (one APPEND, one sync). */
static void raft_on_elected(void *ctx)
{
    struct node *n = ctx;
    notary_elected(&n->wit.notary, uv_now(n->base.loop));
    node_witness_record_members(&n->wit);
    node_episodes_tick(&n->wit); /* its own read-only episode of the election */
}

static void raft_on_stop(void *ctx)
{
    api_hold_stop(&((struct node *)ctx)->api); /* held writes: 307 to the next leader */
    fail_waits(ctx, "node is shutting down");
}

static int raft_sign_append(void *ctx, struct cons_msg *m, const struct cons_wire_entry *e)
{
    return node_witness_sign_append(&((struct node *)ctx)->wit, m, e);
}

static int raft_verify_append(void *ctx, size_t from, const struct cons_msg *m,
                              const struct cons_wire_entry *carried, const struct cons_entry *meta)
{
    return node_witness_verify_append(&((struct node *)ctx)->wit, from, m, carried, meta);
}

/* Ties the layers together: each gets the base, the Raft layer its hooks. */
static void compose(struct node *n)
{
    n->raft.base = &n->base;
    n->wit.base = &n->base;
    n->wit.raft = &n->raft;
    notary_init(&n->wit.notary, n->base.cfg.heartbeat_ms);
    n->deploy.base = &n->base;
    n->deploy.raft = &n->raft;
    n->chaos.base = &n->base;
    n->chaos.raft = &n->raft;
    n->chaos.deploy = &n->deploy;
    n->api.chaos = &n->chaos;
    n->watch.base = &n->base; /* the leader's side works with the watchtower off */
    n->watch.raft = &n->raft;
    n->watch.dp = &n->deploy;
    n->api.base = &n->base;
    n->api.raft = &n->raft;
    n->api.wit = &n->wit;
    n->api.deploy = &n->deploy;
    n->api.watch = &n->watch;
    n->api.lag = &n->lag;
    loop_lag_init(&n->lag);
    n->msg = (struct node_msg){.base = &n->base,
                               .raft = &n->raft,
                               .wit = &n->wit,
                               .deploy = &n->deploy,
                               .watch = &n->watch};
    n->raft.hooks = (struct node_raft_hooks){.ctx = n,
                                             .on_commit = raft_on_commit,
                                             .on_leadership = raft_on_leadership,
                                             .on_read_only = raft_on_read_only,
                                             .after_output = raft_after_output,
                                             .on_elected = raft_on_elected,
                                             .on_stop = raft_on_stop,
                                             .sign_append = raft_sign_append,
                                             .verify_append = raft_verify_append};
}

/* ---- timers, signals, lifecycle ---- */

static void on_tick(uv_timer_t *t);

/* The node's tick: the liveness hellos, the peers' statuses, the layers'
 * timers and Raft's check of its own deadlines (node_cons_tick). It runs
 * once an interval, with a wake-up the loop has anyway where one comes
 * within the slack (tick_slack.h), else on its own timer. */
static void run_tick(struct node *n, bool on_timer)
{
    uint64_t now = uv_now(n->base.loop);
    /* Late against the tick's schedule: its timer's when it ran on it, one
     * interval after the last when it rode on another wake-up (a wake-up
     * past that came late: the loop was held), so the loop-lag probe still
     * looks once an interval. */
    loop_lag_tick(&n->lag, uv_hrtime(),
                  on_timer ? (uint32_t)tick_slack_timer_ms(&n->tick_plan)
                           : n->base.cfg.heartbeat_ms);
    tick_slack_ran(&n->tick_plan, now);
    uv_timer_start(&n->tick, on_tick, tick_slack_timer_ms(&n->tick_plan), 0);
    /* Liveness (ENV_HELLO) to the peers nothing else reached lately (base/
     * peers.h); Raft's heartbeats: raft/node_cons.c. */
    node_msg_send_hello(&n->msg);
    /* A leader records the member keys it learnt; retried here when the
     * append was refused (once retried on every hello, now rarer). */
    node_witness_record_members(&n->wit);
    node_episodes_tick(&n->wit);
    node_deploy_tick(&n->deploy);
    deploy_run_tick(&n->deploy);
    watch_tick(&n->watch);
    deploy_plan_tick(&n->deploy);
    node_chaos_tick(&n->chaos);
    struct peer_change chg[CONFIG_MAX_MEMBERS];
    size_t k = peers_tick(&n->base.peers, now, chg, CONFIG_MAX_MEMBERS);
    for (size_t i = 0; i < k; i++)
        report_change(n, &chg[i]);
    node_cons_tick(&n->raft);
    if (n->base.transport)
        transport_tick(n->base.transport);
}

static void on_tick(uv_timer_t *t)
{
    run_tick(t->data, true);
}

/* Before the loop waits again: a tick due within the slack runs now. */
static void on_tick_ride(uv_prepare_t *p)
{
    struct node *n = p->data;
    if (n->base.stopping || !tick_slack_early(&n->tick_plan, uv_now(n->base.loop)))
        return;
    run_tick(n, false);
    /* What the tick proposed (a deployment's step, a rollback, the member
     * keys) leaves now: the group's own end-of-turn handle, started during
     * this pass over the prepare handles, would run only after the loop
     * waited. */
    node_group_flush(&n->raft);
}

/* Stops the consensus timer, the HTTP server and the transport; each frees
 * itself once the loop has run its close callbacks. */
static void close_io(struct node *n)
{
    n->base.stopping = true;
    node_cons_stop(&n->raft);
    deploy_plan_tick(&n->deploy); /* a plan under way is answered 503 */
    node_chaos_stop(&n->chaos);   /* resumes paused services before they are stopped */
    watch_stop(&n->watch);
    node_deploy_stop(&n->deploy);
    api_events_stop(&n->api);
    if (n->http)
        http_stop(n->http);
    if (n->base.transport)
        transport_stop(n->base.transport);
    n->http = NULL;
    n->base.transport = NULL;
}

static void shutdown_node(struct node *n, const char *why)
{
    if (n->base.stopping)
        return;
    n->base.stopping = true;
    node_event(&n->base, "node.stop", NULL, "stopping (%s)", why);
    uv_timer_stop(&n->tick);
    uv_close((uv_handle_t *)&n->tick, NULL);
    uv_close((uv_handle_t *)&n->tick_ride, NULL);
    uv_close((uv_handle_t *)&n->stop_timer, NULL);
    for (size_t i = 0; i < NODE_STOP_SIGNALS; i++)
        uv_close((uv_handle_t *)&n->signals[i], NULL);
    close_io(n);
}

/* Every signal that ends the node by default is a clean stop: services
 * stopped, node.stop logged. Nothing is reloadable yet, so SIGHUP is a stop
 * too (README "Signals"). */
static const struct {
    int signum;
    const char *name;
} stop_signals[NODE_STOP_SIGNALS] = {
    {SIGINT, "SIGINT"}, {SIGTERM, "SIGTERM"}, {SIGHUP, "SIGHUP"}, {SIGQUIT, "SIGQUIT"}};

static void stop_after_hand_over(uv_timer_t *t)
{
    shutdown_node(t->data, "SIGTERM");
}

/* Called from deep inside the consensus shell (a message being handled):
 * the stop, which closes the transport that delivered it, waits for the
 * next turn of the loop. */
static void on_handed_over(struct node_raft *r, void *arg, bool done, int32_t to, uint64_t term,
                           const char *why)
{
    (void)r, (void)done, (void)to, (void)term, (void)why;
    struct node *n = arg;
    if (!n->base.stopping) /* a stop under way ends the transfer too: nothing to defer */
        uv_timer_start(&n->stop_timer, stop_after_hand_over, 0, 0);
}

/* SIGTERM on the leader of a federation: leadership goes to the most
 * up-to-date follower first (§3.10), so a rolling restart has no write gap
 * of an election timeout; the node stops when that is done or has failed
 * (within an election timeout). A second signal stops it at once. */
static bool hand_over(struct node *n)
{
    if (n->base.stopping || n->raft.cons.role != CONS_LEADER || n->raft.transfer.fn)
        return false;
    return node_cons_transfer(&n->raft, CONS_NONE, "SIGTERM", on_handed_over, n) ==
           CONS_TRANSFER_OK;
}

static void on_signal(uv_signal_t *s, int signum)
{
    if (signum == SIGTERM && hand_over(s->data))
        return;
    const char *name = "signal";
    for (size_t i = 0; i < NODE_STOP_SIGNALS; i++)
        if (stop_signals[i].signum == signum)
            name = stop_signals[i].name;
    shutdown_node(s->data, name);
}

/* A listener hit one of its limits (transport.h, http.h). */
static void on_net_notice(void *ctx, const char *kind, const char *msg)
{
    node_event(&((struct node *)ctx)->base, kind, NULL, "%s", msg);
}

static int open_io(struct node *n)
{
    char err[512];
    int rv = transport_start(&n->base.transport, n->base.loop, n->base.cfg.listen, on_message, n,
                             err, sizeof(err));
    if (rv == 0) {
        transport_set_notice(n->base.transport, on_net_notice, n);
        /* A few election timeouts of silence while a message (a hello or
         * Raft's) flows each way every heartbeat: the connection is dead,
         * not slow (transport.pipe_stale). */
        transport_set_stale_ms(n->base.transport, 8ull * n->base.cfg.election_timeout_ms);
        /* Its scans ride on the tick (run_tick), a wake-up the loop has
         * anyway, rather than wake an idle loop on timers of their own. */
        transport_ride_tick(n->base.transport);
        node_cons_watch_links(&n->raft);
        rv = http_start(&n->http, n->base.loop, n->base.cfg.http, api_handle, &n->api, err,
                        sizeof(err));
        if (rv == 0) {
            http_set_admin_token(n->http, n->api.token);
            http_set_notice(n->http, on_net_notice, n);
            n->api.http = n->http;
            api_events_start(&n->api); /* the streams, CORS, the event hook */
        }
    }
    for (size_t i = 0; rv == 0 && i < n->base.peers.n; i++) {
        n->base.out[i] = -1;
        if (i != n->base.peers.self &&
            (n->base.out[i] = transport_add_peer(n->base.transport, n->base.peers.m[i].address, err,
                                                 sizeof(err))) < 0)
            rv = -1;
    }
    if (rv != 0)
        fprintf(stderr, "chimerad: %s\n", err);
    return rv;
}

int node_run(const struct config *cfg, const uint8_t key[CONFIG_KEY_BYTES], const char *token)
{
    struct node *n = calloc(1, sizeof(*n));
    if (!n) {
        fprintf(stderr, "chimerad: out of memory\n");
        return 1;
    }
    n->base.cfg = *cfg;
    memcpy(n->base.key, key, CONFIG_KEY_BYTES);
    snprintf(n->api.token, sizeof(n->api.token), "%s", token ? token : "");
    n->base.loop = uv_default_loop();
    compose(n);
    signal(SIGPIPE, SIG_IGN);
    events_init(&n->base.events, cfg->id);
    n->base.started_ms = uv_now(n->base.loop);
    peers_init(&n->base.peers, cfg, n->base.started_ms);
    /* Replay windows live in memory: a restarted node refuses whatever was
     * sealed before it started (envelope.h, README "The wire"). */
    uint64_t floor = node_wall_counter();
    for (size_t i = 0; i < n->base.peers.n; i++)
        env_replay_start(&n->base.peers.m[i].replay, floor);

    /* The data directory's lock comes first: a second chimerad on it must
     * touch nothing there (boot epoch, state, ledger, the services found
     * as strays). A corrupt state file is refused before any port is bound.
     * The ports come before the ledger, so a configuration that cannot be
     * served fails with its one line before the ledger is touched or a key
     * created. */
    char err[512];
    pid_t holder;
    int lock = datadir_lock(cfg->data, &holder, err, sizeof(err));
    int status = 0;
    if (lock < 0) {
        fprintf(stderr, "chimerad: %s\n", err);
        status = 2;
    } else if (load_boot_epoch(n) != 0 || node_cons_start(&n->raft) != 0) {
        status = 1;
    } else {
        if (open_io(n) != 0)
            status = 2;
        else if (node_ledger_open(&n->raft) != 0)
            status = 1;
        else if (node_witness_check_own_key(&n->wit) != 0)
            status = 2; /* node.key is not the key the ledger pins for this node */
        else if (node_cons_check_state(&n->raft) != 0)
            status = 2; /* consensus.state is missing next to a ledger */
        else if (node_repl_start(&n->raft) != 0 ||
                 watch_start(&n->watch, &n->base, &n->raft, &n->deploy) != 0 ||
                 node_deploy_start(&n->deploy) != 0 || node_chaos_start(&n->chaos) != 0)
            status = 1;
        if (status != 0)
            close_io(n);
    }
    if (status == 0) {
        uv_timer_init(n->base.loop, &n->tick);
        n->tick.data = n;
        uv_prepare_init(n->base.loop, &n->tick_ride);
        n->tick_ride.data = n;
        tick_slack_init(&n->tick_plan, cfg->heartbeat_ms);
        /* The node's tick (run_tick): at once, then once an interval. */
        uv_timer_start(&n->tick, on_tick, 0, 0);
        uv_prepare_start(&n->tick_ride, on_tick_ride);
        uv_timer_init(n->base.loop, &n->stop_timer);
        n->stop_timer.data = n;
        for (size_t i = 0; i < NODE_STOP_SIGNALS; i++) {
            uv_signal_init(n->base.loop, &n->signals[i]);
            n->signals[i].data = n;
            uv_signal_start(&n->signals[i], on_signal, stop_signals[i].signum);
        }
        struct rlimit nofile = {0};
        getrlimit(RLIMIT_NOFILE, &nofile); /* raised in main.c */
        node_event(&n->base, "node.start", NULL,
                   "started %s: inbox %s, http %s, %zu members, boot epoch %" PRIu64
                   ", open files limit %llu",
                   CHIMERA_VERSION, cfg->listen, cfg->http, n->base.peers.n, n->base.boot,
                   (unsigned long long)nofile.rlim_cur);
        if (cfg->advertise_http_wildcard)
            node_event(&n->base, "node.advertise_wildcard", NULL,
                       "this node gives its HTTP address as %s, a wildcard that clients elsewhere "
                       "cannot reach; set --advertise-http (CHIMERA_ADVERTISE_HTTP) to the "
                       "host:port they use",
                       cfg->advertise_http);
    }
    uv_run(n->base.loop, UV_RUN_DEFAULT);
    if (uv_loop_close(n->base.loop) != 0) {
        fprintf(stderr, "chimerad: warning: handles left open at exit\n");
    }
    node_ledger_close(&n->raft);
    /* Everything acknowledged is durable and the services are stopped by
     * now; what is left is NNG closing its connections, which NNG 1.5.2
     * can wedge for good (transport_drain): the node exits anyway. */
    bool drained = transport_drain(NODE_STOP_DRAIN_MS);
    char in[32];
    if (!drained)
        node_event(&n->base, "node.stop_stuck", NULL,
                   "the network library did not finish closing its connections in %s; "
                   "exiting anyway",
                   manifest_duration_text(NODE_STOP_DRAIN_MS, in, sizeof(in)));
    sodium_memzero(n->base.key, sizeof(n->base.key));
    sodium_memzero(n->api.token, sizeof(n->api.token));
    sodium_memzero(n->base.cfg.read_token, sizeof(n->base.cfg.read_token));
    events_free(&n->base.events);
    free(n);
    if (lock >= 0)
        close(lock); /* last: nothing of this node touches the directory now */
    if (!drained) {
        /* NNG's exit handler (nng_fini) would wait for the wedged close */
        fflush(NULL);
        _exit(status);
    }
    return status;
}
