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
#include "node/durable.h"
#include "node/envelope.h"

#define DROP_EVENT_INTERVAL_MS 5000

int64_t node_wall_ms(void)
{
    uv_timeval64_t tv;
    uv_gettimeofday(&tv);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

const char *node_drop_name(enum node_drop d)
{
    static const char *names[DROP_COUNT] = {
        [DROP_AUTH] = "auth",     [DROP_MALFORMED] = "malformed",
        [DROP_SHAPE] = "shape",   [DROP_VERSION] = "version",
        [DROP_REPLAY] = "replay", [DROP_UNKNOWN_MEMBER] = "unknown_member",
        [DROP_SEND] = "send",     [DROP_SIGNATURE] = "signature",
        [DROP_STALE] = "stale",
    };
    return d < DROP_COUNT ? names[d] : "unknown";
}

/* Log severity of an event kind: trouble is a warning, the rest news. */
static int event_level(const char *kind)
{
    static const char *const warn[] = {"failure",         "malformed",   "dead",        "step_down",
                                       "read_only.enter", "suspect",     "unverified",  "_failed",
                                       "equivocation",    "dropped",     "key_changed", "unhealthy",
                                       ".failed",         "connection_", "clock_skew"};
    for (size_t i = 0; i < sizeof(warn) / sizeof(warn[0]); i++)
        if (strstr(kind, warn[i]))
            return 2;
    return 1;
}

static int config_level(const char *name)
{
    return strcmp(name, "debug") == 0   ? 0
           : strcmp(name, "warn") == 0  ? 2
           : strcmp(name, "error") == 0 ? 3
                                        : 1;
}

void node_event(struct node *n, const char *kind, const char *peer, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    const struct event *e = events_add(&n->events, node_wall_ms(), kind, peer, "%s", msg);
    int level = event_level(kind);
    if (level < config_level(n->cfg.log_level))
        return;
    time_t secs = (time_t)(e->time_ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    fprintf(stderr, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ %s %s %s: %s\n", tm.tm_year + 1900,
            tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(e->time_ms % 1000),
            level >= 2 ? "WARN" : "INFO", n->cfg.id, kind, msg);
}

void node_fatal(struct node *n, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fprintf(stderr, "chimerad: %s: fatal: %s\n", n->cfg.id, msg);
    exit(1);
}

/* The boot epoch tells peers that this node restarted (it differs from
 * the last start's: past both the last one recorded and the clock).
 * Written and fsynced before the first message goes out. Envelope counters
 * do not depend on it: see next_counter. */
static int load_boot_epoch(struct node *n)
{
    char buf[32], err[512];
    uint64_t last = 0;
    long len = durable_read(n->cfg.data, "boot", buf, sizeof(buf) - 1, err, sizeof(err));
    if (len >= 0) {
        buf[len] = '\0';
        if (sscanf(buf, "%" SCNu64, &last) != 1)
            last = 0;
    }
    uint64_t now = (uint64_t)(node_wall_ms() / 1000);
    n->boot = last + 1 > now ? last + 1 : now;
    events_set_boot(&n->events, n->boot); /* event numbers continue across restarts */
    n->counter = 0;
    int k = snprintf(buf, sizeof(buf), "%" PRIu64 "\n", n->boot);
    if (durable_write(n->cfg.data, "boot", buf, (size_t)k, err, sizeof(err)) != 0) {
        fprintf(stderr, "chimerad: --data: fatal: %s\n", err);
        return -1;
    }
    return 0;
}

void node_drop(struct node *n, enum node_drop why, const char *detail)
{
    n->metrics.dropped[why]++;
    uint64_t held;
    if (why == DROP_SEND ||
        !events_limiter_allow(&n->drop_limit[why], node_wall_ms(), DROP_EVENT_INTERVAL_MS, &held))
        return;
    const char *kind = why == DROP_AUTH        ? "transport.auth_failure"
                       : why == DROP_SIGNATURE ? "transport.unverified"
                                               : "transport.malformed";
    char more[64] = "";
    if (held)
        snprintf(more, sizeof(more), "; %" PRIu64 " more since the last report", held);
    node_event(n, kind, NULL, "dropped a message (%s: %s)%s", node_drop_name(why), detail, more);
}

/* ---- sending ---- */

/* Envelope counters follow the wall clock in 2^-32 s ticks (seconds in the
 * high word, as boot epochs were), never going back within a process:
 * whatever an earlier incarnation of this node sent carries counters below
 * the clock of any later start, with or without its data directory (a
 * wiped node, one restarted many times within a second), so peers never
 * mistake a restarted node for a replay. Only a clock set back can: its
 * messages are dropped until the clock passes what peers saw. */
static uint64_t wall_counter(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return env_counter_at((uint64_t)ts.tv_sec, (uint32_t)ts.tv_nsec);
}

static uint64_t next_counter(struct node *n)
{
    uint64_t ticks = wall_counter();
    n->counter = n->counter + 1 > ticks ? n->counter + 1 : ticks;
    return n->counter;
}

void node_send(struct node *n, size_t idx, uint32_t type, const void *body, size_t len)
{
    uint8_t *wire;
    size_t wlen;
    if (n->out[idx] < 0 ||
        env_seal(n->key, type, n->cfg.id, next_counter(n), body, len, &wire, &wlen) != ENV_OK)
        return;
    if (transport_send(n->transport, n->out[idx], wire, wlen) == 0)
        n->metrics.msgs_sent++;
    else
        node_drop(n, DROP_SEND, n->peers.m[idx].id);
    free(wire);
}

void node_pack_init(struct node_pack *p)
{
    msgpack_sbuffer_init(&p->sb);
    msgpack_packer_init(&p->pk, &p->sb, msgpack_sbuffer_write);
}

void node_pack_free(struct node_pack *p)
{
    msgpack_sbuffer_destroy(&p->sb);
}

void node_pack_send(struct node *n, size_t idx, uint32_t type, struct node_pack *p)
{
    node_send(n, idx, type, p->sb.data, p->sb.size);
    node_pack_free(p);
}

static void broadcast(struct node *n, uint32_t type, const msgpack_sbuffer *body)
{
    for (size_t i = 0; i < n->peers.n; i++)
        node_send(n, i, type, body->data, body->size);
}

/* Heartbeat body: [boot epoch, HTTP address, node public key (bin 32)]. */
static void send_heartbeats(struct node *n)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 3);
    msgpack_pack_uint64(&pk, n->boot);
    size_t hlen = strlen(n->cfg.http);
    msgpack_pack_str(&pk, hlen);
    msgpack_pack_str_body(&pk, n->cfg.http, hlen);
    msgpack_pack_bin(&pk, LEDGER_PUBKEY_BYTES);
    msgpack_pack_bin_body(&pk, n->key_pair.pk, LEDGER_PUBKEY_BYTES);
    broadcast(n, ENV_HEARTBEAT, &sb);
    msgpack_sbuffer_destroy(&sb);
}

/* ---- receiving ---- */

static void report_change(struct node *n, const struct peer_change *c)
{
    const struct peer *p = &n->peers.m[c->idx];
    char kind[32];
    snprintf(kind, sizeof(kind), "peer.%s", peer_status_name(c->to));
    node_event(n, kind, p->id, "%s is %s (was %s)", p->id, peer_status_name(c->to),
               peer_status_name(c->from));
}

static void on_heartbeat(struct node *n, size_t idx, const msgpack_object *body)
{
    if (body->type != MSGPACK_OBJECT_ARRAY || body->via.array.size < 2 ||
        body->via.array.ptr[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
        body->via.array.ptr[1].type != MSGPACK_OBJECT_STR ||
        body->via.array.ptr[1].via.str.size >= CONFIG_URL_MAX) {
        node_drop(n, DROP_SHAPE, "heartbeat body is not [boot, http]");
        return;
    }
    struct peer *p = &n->peers.m[idx];
    uint64_t boot = body->via.array.ptr[0].via.u64;
    const msgpack_object_str *http = &body->via.array.ptr[1].via.str;
    if (p->boot != 0 && boot != p->boot) {
        node_event(n, "peer.restarted", p->id, "%s restarted", p->id);
        cons_peer_restarted(&n->cons, (int32_t)idx);
    }
    p->boot = boot;
    memcpy(p->http, http->ptr, http->size);
    p->http[http->size] = '\0';
    /* The key travels sealed with the cluster key; the ledger pins it. */
    if (body->via.array.size >= 3 && body->via.array.ptr[2].type == MSGPACK_OBJECT_BIN &&
        body->via.array.ptr[2].via.bin.size == LEDGER_PUBKEY_BYTES)
        node_witness_peer_key(n, idx, (const uint8_t *)body->via.array.ptr[2].via.bin.ptr);
}

/* How long after the start messages sealed before it are taken for what
 * the peers queued while this node was down (their dialers retry at least
 * every second): twice the dead-after time, at least 5 s. */
static uint64_t stale_grace_ms(const struct node *n)
{
    uint64_t g = 2u * (uint64_t)n->cfg.dead_after_ms;
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
 * DROP_EVENT_INTERVAL_MS. */
static void drop_stale(struct node *n, size_t idx, uint64_t counter)
{
    n->metrics.dropped[DROP_STALE]++;
    uint64_t held;
    if (!events_limiter_allow(&n->drop_limit[DROP_STALE], node_wall_ms(), DROP_EVENT_INTERVAL_MS,
                              &held))
        return;
    const struct peer *p = &n->peers.m[idx];
    uint64_t sealed = env_counter_ms(counter), start = env_counter_ms(p->replay.floor);
    uint64_t now = env_counter_ms(wall_counter());
    uint64_t before = start - sealed, behind = now > sealed ? now - sealed : 0;
    char more[64] = "";
    if (held)
        snprintf(more, sizeof(more), "; %" PRIu64 " more since the last report", held);
    uint64_t grace = stale_grace_ms(n);
    if (uv_now(n->loop) - n->started_ms > grace)
        node_event(n, "transport.clock_skew", p->id,
                   "dropped a message from %s sealed %" PRIu64 ".%03u s ago, before this node "
                   "started: its clock lags by about that (over %" PRIu64
                   " ms), or it is a replay; unheard until its clock passes this node's start%s",
                   p->id, behind / 1000, (unsigned)(behind % 1000), grace, more);
    else
        node_event(n, "transport.stale", p->id,
                   "dropped a message from %s sealed %" PRIu64 ".%03u s before this node started "
                   "(queued while it was down, or replayed)%s",
                   p->id, before / 1000, (unsigned)(before % 1000), more);
}

static void on_message(void *ctx, const void *buf, size_t len)
{
    struct node *n = ctx;
    struct env_msg msg;
    enum env_error err = env_open(n->key, buf, len, &msg);
    if (err != ENV_OK) {
        enum node_drop why = err == ENV_EAUTH || err == ENV_ETOOSHORT ? DROP_AUTH
                             : err == ENV_ESHAPE                      ? DROP_SHAPE
                             : err == ENV_EVERSION                    ? DROP_VERSION
                                                                      : DROP_MALFORMED;
        node_drop(n, why, env_strerror(err));
        return;
    }
    int idx = peers_find(&n->peers, msg.from);
    enum env_verdict verdict;
    if (idx < 0 || (size_t)idx == n->peers.self) {
        node_drop(n, DROP_UNKNOWN_MEMBER, msg.from);
    } else if ((verdict = env_replay_check(&n->peers.m[idx].replay, msg.counter)) == ENV_STALE) {
        drop_stale(n, (size_t)idx, msg.counter);
    } else if (verdict == ENV_REPLAY) {
        node_drop(n, DROP_REPLAY, msg.from);
    } else {
        transport_heard(n->transport);
        n->metrics.msgs_received++;
        struct peer_change chg;
        if (peers_heard(&n->peers, (size_t)idx, uv_now(n->loop), &chg))
            report_change(n, &chg);
        if (msg.type == ENV_HEARTBEAT)
            on_heartbeat(n, (size_t)idx, &msg.body);
        else if (msg.type == ENV_CONSENSUS)
            node_cons_recv(n, (size_t)idx, &msg.body);
        else if (msg.type == ENV_LEDGER)
            node_witness_recv(n, (size_t)idx, &msg.body);
    }
    env_msg_free(&msg);
}

/* ---- timers, signals, lifecycle ---- */

static void on_tick(uv_timer_t *t)
{
    struct node *n = t->data;
    loop_lag_tick(&n->lag, uv_hrtime(), n->cfg.heartbeat_ms);
    send_heartbeats(n);
    node_episodes_tick(n);
    node_deploy_tick(n);
    node_run_tick(n);
    node_plan_tick(n);
    struct peer_change chg[CONFIG_MAX_MEMBERS];
    size_t k = peers_tick(&n->peers, uv_now(n->loop), chg, CONFIG_MAX_MEMBERS);
    for (size_t i = 0; i < k; i++)
        report_change(n, &chg[i]);
}

/* Stops the consensus timer, the HTTP server and the transport; each frees
 * itself once the loop has run its close callbacks. */
static void close_io(struct node *n)
{
    n->stopping = true;
    node_cons_stop(n);
    node_plan_tick(n); /* a plan under way is answered 503 */
    node_deploy_stop(n);
    if (n->http)
        http_stop(n->http);
    if (n->transport)
        transport_stop(n->transport);
    n->http = NULL;
    n->transport = NULL;
}

static void shutdown_node(struct node *n, const char *why)
{
    if (n->stopping)
        return;
    n->stopping = true;
    node_event(n, "node.stop", NULL, "stopping (%s)", why);
    uv_timer_stop(&n->tick);
    uv_close((uv_handle_t *)&n->tick, NULL);
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

static void on_signal(uv_signal_t *s, int signum)
{
    const char *name = "signal";
    for (size_t i = 0; i < NODE_STOP_SIGNALS; i++)
        if (stop_signals[i].signum == signum)
            name = stop_signals[i].name;
    shutdown_node(s->data, name);
}

/* A listener hit one of its limits (transport.h, http.h). */
static void on_net_notice(void *ctx, const char *kind, const char *msg)
{
    node_event(ctx, kind, NULL, "%s", msg);
}

static int open_io(struct node *n)
{
    char err[512];
    int rv =
        transport_start(&n->transport, n->loop, n->cfg.listen, on_message, n, err, sizeof(err));
    if (rv == 0) {
        transport_set_notice(n->transport, on_net_notice, n);
        rv = http_start(&n->http, n->loop, n->cfg.http, api_handle, n, err, sizeof(err));
        if (rv == 0) {
            http_set_admin_token(n->http, n->token);
            http_set_notice(n->http, on_net_notice, n);
        }
    }
    for (size_t i = 0; rv == 0 && i < n->peers.n; i++) {
        n->out[i] = -1;
        if (i != n->peers.self && (n->out[i] = transport_add_peer(
                                       n->transport, n->peers.m[i].address, err, sizeof(err))) < 0)
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
    n->cfg = *cfg;
    memcpy(n->key, key, CONFIG_KEY_BYTES);
    snprintf(n->token, sizeof(n->token), "%s", token ? token : "");
    n->loop = uv_default_loop();
    signal(SIGPIPE, SIG_IGN);
    events_init(&n->events, cfg->id);
    n->started_ms = uv_now(n->loop);
    peers_init(&n->peers, cfg, n->started_ms);
    /* Replay windows live in memory: a restarted node refuses whatever was
     * sealed before it started (envelope.h, README "The wire"). */
    uint64_t floor = wall_counter();
    for (size_t i = 0; i < n->peers.n; i++)
        env_replay_start(&n->peers.m[i].replay, floor);

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
    } else if (load_boot_epoch(n) != 0 || node_cons_start(n) != 0) {
        status = 1;
    } else {
        if (open_io(n) != 0)
            status = 2;
        else if (node_ledger_open(n) != 0)
            status = 1;
        else if (node_witness_check_own_key(n) != 0)
            status = 2; /* node.key is not the key the ledger pins for this node */
        else if (node_cons_check_state(n) != 0)
            status = 2; /* consensus.state is missing next to a ledger */
        else if (node_repl_start(n) != 0 || node_deploy_start(n) != 0)
            status = 1;
        if (status != 0)
            close_io(n);
    }
    if (status == 0) {
        uv_timer_init(n->loop, &n->tick);
        n->tick.data = n;
        uv_timer_start(&n->tick, on_tick, 0, cfg->heartbeat_ms);
        for (size_t i = 0; i < NODE_STOP_SIGNALS; i++) {
            uv_signal_init(n->loop, &n->signals[i]);
            n->signals[i].data = n;
            uv_signal_start(&n->signals[i], on_signal, stop_signals[i].signum);
        }
        struct rlimit nofile = {0};
        getrlimit(RLIMIT_NOFILE, &nofile); /* raised in main.c */
        node_event(n, "node.start", NULL,
                   "started %s: inbox %s, http %s, %zu members, boot epoch %" PRIu64
                   ", open files limit %llu",
                   CHIMERA_VERSION, cfg->listen, cfg->http, n->peers.n, n->boot,
                   (unsigned long long)nofile.rlim_cur);
    }
    uv_run(n->loop, UV_RUN_DEFAULT);
    if (uv_loop_close(n->loop) != 0) {
        fprintf(stderr, "chimerad: warning: handles left open at exit\n");
    }
    node_ledger_close(n);
    sodium_memzero(n->key, sizeof(n->key));
    sodium_memzero(n->token, sizeof(n->token));
    sodium_memzero(n->cfg.read_token, sizeof(n->cfg.read_token));
    free(n);
    if (lock >= 0)
        close(lock); /* last: nothing of this node touches the directory now */
    return status;
}
