/* Test harness: runs real chimerad processes on 127.0.0.1 for integration
 * tests and benchmarks, and talks to them over HTTP.
 *
 * A cluster lives in a fresh directory under /tmp holding the cluster key,
 * the admin token, each node's data directory and each node's log
 * (DIR/nI.log, stdout and stderr appended). Node indices are 0-based: index
 * i is the member with id "n<i+1>". Ports are fixed at creation, so a node
 * restarts on the same addresses.
 *
 * Tests wait on conditions (h_wait_until and the h_wait_* helpers) with
 * generous deadlines; they never assert on elapsed time.
 *
 * Not thread-safe: one thread drives a cluster.
 *
 * harness.c holds processes and the cluster lifecycle; harness_http.c holds
 * HTTP, federation state, metrics, events and the waits built on them
 * (h_cluster_start_all among them); harness_consensus.c reads roles, terms,
 * leaders and read-only mode and waits on them; harness_netns.c puts each
 * node in its own network namespace and cuts the network between them;
 * harness_load.c holds what the load benchmarks share (clock, latency
 * samples, their threads, sleep and command line).
 *
 * By default every node listens on 127.0.0.1 in the test's own network
 * namespace. A node may instead run in a namespace (h_node.netns, set by
 * h_netns_setup()): then chimerad is started with `ip netns exec`, its NNG
 * inbox listens on h_node.host, and the harness reaches its HTTP API on
 * h_node.http_host by entering the namespace for each request. */
#ifndef CHIMERA_TEST_HARNESS_H
#define CHIMERA_TEST_HARNESS_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#define H_MAX_NODES 9
#define H_PATH_MAX 512

/* The default deadline for waits, in ms. CHIMERA_TEST_TIMEOUT_MS overrides
 * it (slow machines, valgrind). */
int h_timeout_ms(void);

struct h_node {
    char id[16];
    int listen_port;    /* NNG inbox: tcp://host:listen_port */
    int http_port;      /* HTTP API: http_host:http_port */
    char host[40];      /* NNG listen (and --peers) address; "127.0.0.1" */
    char http_host[40]; /* HTTP API address; "127.0.0.1" */
    char netns[48];     /* network namespace it runs in; "" for the test's own */
    char data[H_PATH_MAX];
    char log[H_PATH_MAX];
    pid_t pid;       /* 0 when not running */
    int exit_status; /* raw wait status of the last exit, -1 if none yet */
    bool paused;     /* stopped with SIGSTOP by h_node_pause() */
};

struct h_cluster {
    char dir[64]; /* /tmp/chimera-test-XXXXXX */
    char key_file[H_PATH_MAX];
    char token_file[H_PATH_MAX];
    char token[65];
    int n;
    struct h_node nodes[H_MAX_NODES];
    /* Passed as --heartbeat-ms / --election-timeout-ms when non-zero. Set
     * them before starting nodes. */
    int heartbeat_ms;
    int election_timeout_ms;
    /* NULL-terminated arguments every node gets (after h_start's extra),
     * e.g. {"--recovery-enabled=false", NULL}; NULL: none. */
    const char *const *node_args;
    /* Set by h_cluster_pass(); without it h_cluster_destroy() keeps the
     * directory and prints its path, so the logs can be read. */
    bool passed;
    /* Set by h_netns_setup(): the prefix of every namespace made for this
     * cluster, removed by h_cluster_destroy() (and at exit). */
    char netns_tag[24];
};

/* Creates the directory, key and token files and picks free ports for n
 * nodes (1 <= n <= H_MAX_NODES). Starts nothing. Returns NULL (after
 * printing why) on failure. */
struct h_cluster *h_cluster_create(int n);

/* Marks the test as passed: its directory may be removed. */
void h_cluster_pass(struct h_cluster *c);

/* Kills (SIGKILL) and reaps every node still running, deletes the network
 * namespaces made for the cluster (if any), then removes the directory
 * unless the test did not pass or CHIMERA_TEST_KEEP is set; a kept
 * directory's path is printed. NULL is fine. */
void h_cluster_destroy(struct h_cluster *c);

/* Ends a cmocka group whose tests share cluster c: failed is what
 * cmocka_run_group_tests returned. The cluster passes (its directory is
 * removed) only when no test failed; counting teardowns cannot tell that,
 * since cmocka runs a test's teardown after a failure too. Returns failed. */
int h_group_end(struct h_cluster *c, int failed);

/* The --peers value naming every member: "n1=tcp://HOST1:P1,...". */
const char *h_peers(const struct h_cluster *c);

/* Options for h_node_start_opts; every field may be left zero. */
struct h_start {
    const char *key_file;     /* instead of the cluster's key */
    const char *peers;        /* instead of h_peers(c) */
    const char *stderr_path;  /* stderr there instead of the node's log */
    const char *const *extra; /* NULL-terminated extra arguments */
};

/* Starts node i (which must not be running). Returns 0, or -1 if the
 * process could not be spawned. Does not wait for it to serve: use
 * h_wait_http_up(). */
int h_node_start(struct h_cluster *c, int i);
int h_node_start_opts(struct h_cluster *c, int i, const struct h_start *o);

/* Sends sig to node i (no-op when not running). */
void h_node_signal(struct h_cluster *c, int i, int sig);

/* SIGSTOP / SIGCONT node i and record it in h_node.paused. A paused node
 * still holds its ports (the kernel accepts connections for it) but answers
 * nothing: to the others it is indistinguishable from a cut-off node. */
void h_node_pause(struct h_cluster *c, int i);
void h_node_resume(struct h_cluster *c, int i);

/* Node i is running and not paused: it should answer HTTP. */
bool h_node_up(struct h_cluster *c, int i);

/* Waits up to timeout_ms for node i to exit and reaps it. Returns true and
 * stores the raw wait status in *status (may be NULL) when it exited. */
bool h_node_wait_exit(struct h_cluster *c, int i, int timeout_ms, int *status);

/* kill -9 and reap. */
void h_node_kill(struct h_cluster *c, int i);

/* SIGKILLs every service process node i started (they carry its data
 * directory as a mark; drv_kill_marked): what a killed node leaves behind. */
void h_node_kill_services(const struct h_cluster *c, int i);

/* SIGTERM (and SIGCONT, should it be paused), wait up to h_timeout_ms(),
 * then SIGKILL. Returns the raw wait status. */
int h_node_stop(struct h_cluster *c, int i);

/* True while node i's process has not exited (reaps it if it has). */
bool h_node_running(struct h_cluster *c, int i);

/* Starts every node (none may be running), then waits up to timeout_ms for
 * each to serve /health/live and up to timeout_ms more for all of them to
 * see each other alive. Returns 0, or -1 after printing one line to stderr,
 * prefixed with `who`, that names the node at fault and its log (nothing is
 * printed when the wait ended on h_interrupted()). */
int h_cluster_start_all(struct h_cluster *c, int timeout_ms, const char *who);

/* For benchmarks: h_cluster_create(n) and h_cluster_start_all(). Returns
 * the running cluster, or NULL with the code to exit with in *exit_code:
 * 130 when interrupted (the directory is removed), 1 otherwise (it is
 * kept, with the logs). */
struct h_cluster *h_bench_cluster(int n, const char *who, int *exit_code);

/* A benchmark's end: passes the cluster when rc is 0 (its directory is then
 * removed), destroys it, and returns the code to exit with: rc, or 130 when
 * it was 0 but the run was cut short by h_interrupted(). */
int h_bench_finish(struct h_cluster *c, int rc);

/* ---- for load benchmarks (harness_load.c) ---------------------------- */

/* CLOCK_MONOTONIC in ns. */
uint64_t h_now_ns(void);

/* Latency samples in ns, e.g. one array per client thread merged at the
 * end. Zero-initialise; h_samples_free() releases and resets. Adding never
 * fails: when the array cannot grow the sample is dropped and lost set. */
struct h_samples {
    uint64_t *v;
    size_t n, cap;
    bool lost;
};
void h_samples_add(struct h_samples *s, uint64_t ns);
/* Appends src's samples (and its lost flag) to dst and frees src; false
 * when out of memory (dst's samples are then unchanged). */
bool h_samples_take(struct h_samples *dst, struct h_samples *src);
void h_samples_sort(struct h_samples *s);
/* On sorted samples, nearest rank: the smallest sample with at least a
 * fraction p of them at or below it, in ms (p = 1 gives the maximum; 0
 * when there are none). */
double h_samples_pct_ms(const struct h_samples *s, double p);
void h_samples_free(struct h_samples *s);

/* What a level's figures need of its samples: count, percentiles in ms. */
struct h_latency {
    uint64_t n;
    double p50_ms, p90_ms, p99_ms, max_ms;
    bool lost; /* some samples were dropped: out of memory */
};
/* Sorts s, summarises it into *l and frees it. */
void h_samples_summarise(struct h_samples *s, struct h_latency *l);

/* Starts n threads, th[k] running fn(items + k * size), with SIGINT and
 * SIGTERM blocked in them so ^C reaches the caller. Exits with status 1,
 * after saying so prefixed with `who`, when one cannot be started (a
 * barrier the threads wait on would never open). */
void h_bench_spawn(const char *who, pthread_t *th, int n, void *(*fn)(void *), void *items,
                   size_t size);

/* Sleeps `seconds` in short slices, returning early on h_interrupted(). */
void h_bench_sleep(int seconds);

/* Parses a comma-separated list ("1,8,32") of 1..max_levels integers in
 * min..max into levels and *n. Returns 0, or -1 (nothing printed). */
int h_parse_levels(const char *s, int min, int max, int *levels, int max_levels, int *n);
/* Parses a whole number of seconds in 1..max. Returns 0, or -1. */
int h_parse_seconds(const char *s, int max, int *seconds);

/* A benchmark's command line: [--seconds N] and, when levels_opt is set,
 * [levels_opt a,b,c] with values in 1..max_level. */
struct h_bench_opts {
    int max_seconds;
    const char *levels_opt; /* e.g. "--concurrency", or NULL */
    int max_level, max_levels;
    const char *more_usage; /* the bench's own options, for its usage line, or NULL */
};
/* Parses argv into *seconds and levels and *nlevels (left as they are when the
 * option is absent). Returns 0, or -1 after printing why to stderr. */
int h_bench_args(int argc, char **argv, const struct h_bench_opts *o, int *seconds, int *levels,
                 int *nlevels);

/* CPU time (utime + stime from /proc/PID/stat) of pid in seconds, or -1
 * when it cannot be read. */
double h_proc_cpu_seconds(pid_t pid);

/* The run time of each thread of a process, to the nanosecond (the first
 * field of /proc/PID/task/TID/schedstat: time spent on a CPU). utime and
 * stime count whole clock ticks, and on a tick-sampled kernel a process
 * that wakes for microseconds at a time is charged a tick or nothing: an
 * idle member's ~0.6 % of a core over 30 s is ~20 ticks, +-5 % at best. */
#define H_MAX_THREADS 256
struct h_thread_cpu {
    int n;
    int tid[H_MAX_THREADS];
    unsigned long long ns[H_MAX_THREADS];
};
/* false when the process is gone or no thread could be read. */
bool h_thread_cpu_read(pid_t pid, struct h_thread_cpu *t);
/* The threads' run time from a to b, in seconds: a thread in both counts
 * its growth, one born since counts whole; *gone (may be NULL) is how many
 * of a's threads b lacks (exited, their time since a lost). */
double h_thread_cpu_delta(const struct h_thread_cpu *a, const struct h_thread_cpu *b, int *gone);

/* Writes a fresh random cluster key (64 hex + newline, 0600) to DIR/name
 * and returns its path in out. Returns 0 or -1. */
int h_write_key_file(const struct h_cluster *c, const char *name, char *out, size_t outlen);

/* Reads a whole file into a malloc'd NUL-terminated string (NULL on error). */
char *h_read_file(const char *path);
/* The directory chimerad (and chimeractl, chimera-demo) were built in. */
const char *h_bin_dir(void);

/* Whether the file exists and its text contains needle. */
bool h_file_contains(const char *path, const char *needle);

/* HTTP GET http://<node i's http_host>:<http_port><path>. Returns the body
 * (malloc'd, free it) and the status in *status (0 when the node could not
 * be reached, then NULL is returned). */
char *h_http_get_text(const struct h_cluster *c, int i, const char *path, long *status);

/* Any request to node i: method ("GET", "POST", ...), path, an optional JSON
 * body (NULL: none), an optional bearer token (NULL: no Authorization
 * header), and the whole request's timeout in ms (<= 0: the default 2000;
 * the connect timeout is half of it). Same results as h_http_get_text. */
char *h_http_request(const struct h_cluster *c, int i, const char *method, const char *path,
                     const char *json_body, const char *bearer, int timeout_ms, long *status);

/* The same with any body (len bytes; NULL: none) and extra header lines
 * (a NULL-terminated list, e.g. {"Content-Type: application/msgpack",
 * NULL}; NULL: none). */
char *h_http_send(const struct h_cluster *c, int i, const char *method, const char *path,
                  const void *body, size_t len, const char *const *headers, const char *bearer,
                  int timeout_ms, long *status);

/* Same, parsed as JSON (NULL when unreachable or not JSON). */
json_t *h_http_get_json(const struct h_cluster *c, int i, const char *path, long *status);

/* Polls pred(arg) every 20 ms until it returns true (returns true) or
 * timeout_ms passes or h_interrupted() (returns false). */
bool h_wait_until(bool (*pred)(void *arg), void *arg, int timeout_ms);

/* Installs a SIGINT and SIGTERM handler (without SA_RESTART, so sleeps
 * wake) that makes h_interrupted() true; every h_wait_* then gives up
 * promptly. For benchmarks; tests do not call it. */
void h_on_interrupt(void);
bool h_interrupted(void);

/* Node i answers GET /health/live with 200. */
bool h_http_up(const struct h_cluster *c, int i);
bool h_wait_http_up(const struct h_cluster *c, int i, int timeout_ms);

/* The entry of member `member` in the "peers" array of a /federation/state
 * document, or NULL (also when state is NULL). */
const json_t *h_find_peer(const json_t *state, const char *member);

/* Status ("alive", "suspect", "dead") of member `member` as node i reports
 * it in /federation/state, copied into out; false when node i does not
 * answer or does not list the member. */
bool h_member_status(const struct h_cluster *c, int i, const char *member, char *out,
                     size_t outlen);

/* Node i reports member `member` with exactly this status. */
bool h_member_is(const struct h_cluster *c, int i, const char *member, const char *status);

/* Waits until node i reports member `member` with this status. */
bool h_wait_member_is(const struct h_cluster *c, int i, const char *member, const char *status,
                      int timeout_ms);

/* Waits until every running node lists every running node (itself
 * included) as alive. */
bool h_wait_all_alive(struct h_cluster *c, int timeout_ms);

/* Value of a Prometheus sample from node i's /metrics; `sample` is the
 * metric name with its labels exactly as printed, e.g.
 * chimera_messages_dropped_total{reason="auth"}. Returns false when the node
 * does not answer or has no such sample (then *value is untouched). */
bool h_metric(const struct h_cluster *c, int i, const char *sample, double *value);

/* Events of node i (GET /events?limit=1000), a JSON array, or NULL. */
json_t *h_events(const struct h_cluster *c, int i);

/* Sequence number of the first event of node i with this kind (and this
 * peer, unless peer is NULL) whose seq is greater than after; 0 if none. */
unsigned long long h_event_seq(const struct h_cluster *c, int i, const char *kind, const char *peer,
                               unsigned long long after);

/* Waits up to timeout_ms for such an event; its seq, or 0 if none came. */
unsigned long long h_wait_event(struct h_cluster *c, int i, const char *kind, const char *peer,
                                unsigned long long after, int timeout_ms);

/* The highest event sequence number node i has recorded (0: none or no
 * answer), to wait for events that come after now. */
unsigned long long h_last_event_seq(const struct h_cluster *c, int i);

/* The status GET /health/ready answers on node i (0: no answer). */
long h_ready_status(const struct h_cluster *c, int i);

/* Runs argv (argv[0] is the program path) with stdout and stderr captured,
 * waiting up to timeout_ms (then it is killed). Returns true when it exited
 * in time, with its exit code in *code (128+signal when killed by one) and
 * its output in *out and *err (malloc'd; either may be NULL to discard). */
bool h_run(const struct h_cluster *c, const char *const argv[], int timeout_ms, int *code,
           char **out, char **err);

/* Runs chimeractl with --addr pointing at node i (i < 0: no --addr added),
 * followed by the NULL-terminated arguments. Same results as h_run. */
bool h_ctl(const struct h_cluster *c, int i, int *code, char **out, char **err, ...)
    __attribute__((sentinel));

/* A free TCP port on 127.0.0.1 outside the kernel's ephemeral range (so no
 * outgoing connection can be holding it when a node binds it), or -1. */
int h_free_port(void);

/* Counts the non-empty lines of s. */
size_t h_count_lines(const char *s);

/* ---- consensus (harness_consensus.c) ------------------------------------ */

/* What one node says about consensus in its /federation/state. */
struct h_view {
    char role[16]; /* follower | precandidate | candidate | leader */
    unsigned long long term;
    char leader[16]; /* "" when the node names none (null) */
    bool read_only;
    int quorum;
};

/* Node i's view; false when it does not answer within timeout_ms (<= 0: the
 * default of h_http_request) or the document lacks a field. */
bool h_view(const struct h_cluster *c, int i, int timeout_ms, struct h_view *v);

/* The index of the member with this id, or -1. */
int h_node_index(const struct h_cluster *c, const char *id);

/* Steady state among the nodes that are up (h_node_up): exactly one of them
 * is leader, every one of them reports the same term, greater than
 * after_term, and names that leader; every other is a follower; none is
 * read-only. Then *leader (an index) and *term are set (either may be
 * NULL). */
bool h_agreed(struct h_cluster *c, unsigned long long after_term, int *leader,
              unsigned long long *term);
bool h_wait_agreed(struct h_cluster *c, unsigned long long after_term, int timeout_ms, int *leader,
                   unsigned long long *term);

/* The same among the nodes idx[0..k) only (say, one side of a partition);
 * *leader is an index into c->nodes, not into idx. */
bool h_agreed_among(struct h_cluster *c, const int *idx, int k, unsigned long long after_term,
                    int *leader, unsigned long long *term);
bool h_wait_agreed_among(struct h_cluster *c, const int *idx, int k, unsigned long long after_term,
                         int timeout_ms, int *leader, unsigned long long *term);

/* Starts every node (h_cluster_start_all) and waits for one leader all
 * agree on. Returns its index (and its term in *term, may be NULL), or -1
 * after printing one line prefixed with who. */
int h_start_agreed(struct h_cluster *c, const char *who, unsigned long long *term);
/* The same, waiting up to agree_ms for the leader (netns tests: slower). */
int h_start_agreed_within(struct h_cluster *c, const char *who, int agree_ms,
                          unsigned long long *term);

/* Every node's view on one line ("n1 leader t3 ro=0 | n2 ... | n4 down"),
 * for failure messages; a static buffer, overwritten by the next call. */
const char *h_views_line(struct h_cluster *c);

/* Waits until every node idx[0..k) reports read_only == want. */
bool h_wait_read_only(struct h_cluster *c, const int *idx, int k, bool want, int timeout_ms);

/* The mutation the federation offers so far. No mutation endpoint exists
 * yet (POST /ledger/notes comes with the ledger), but every POST, PUT and
 * DELETE passes the same gate first: the admin token (401 missing, 403
 * wrong), then read-only mode (503 {"error":"read-only: ...",
 * "read_only":true}); past the gate a leader commits the note (201).
 *
 * h_mutation sends POST /ledger/notes {"note":"..."} to node i with the
 * given bearer token (NULL: no Authorization header) and returns the HTTP
 * status (0 when unreachable within timeout_ms; <= 0: the default), the
 * body in *body when body is not NULL (malloc'd, may be NULL).
 *
 * "A mutation is accepted" means, until the ledger brings the endpoint:
 * with the right token the request got past the gate, i.e. it was answered
 * with anything but 401, 403, 503 or another 5xx (a leader: 201). */
long h_mutation(const struct h_cluster *c, int i, const char *bearer, int timeout_ms, char **body);
bool h_mutation_accepted(long status);

/* ---- network namespaces (harness_netns.c) ------------------------------- */

/* Whether network namespaces can be made here: root, an `ip` program, and a
 * probe namespace that could be made and deleted. When false, why holds the
 * reason. */
bool h_netns_available(char *why, size_t len);

/* Puts every node of c (none may be running; call before starting any) in
 * a network namespace of its own and wires them through a switch:
 *   - namespace TAG-sw holds two bridges, br-a and br-b;
 *   - namespace TAG-nK (node K = index K-1) holds lo (up, 127.0.0.1: the
 *     HTTP API listens there) and cl0, 10.201.0.K/24, whose veth peer vK
 *     sits in TAG-sw, enslaved to br-a. NNG listens on 10.201.0.K and
 *     --peers names those addresses.
 * TAG is "chpt<pid>-<seq>", so parallel runs never collide; namespaces left
 * by a run that died (its pid is gone) are swept first: processes inside
 * them are killed and they are deleted. No address outside these
 * namespaces is ever used or changed. Returns 0, or -1 after printing why
 * (whatever was made is deleted again). */
int h_netns_setup(struct h_cluster *c);

/* Cuts nodes idx[0..k) off from the rest: their switch ports move to br-b,
 * so they reach each other but none of the others (and the others still
 * reach each other). Replaces any earlier cut. Returns 0 or -1. */
int h_netns_partition(struct h_cluster *c, const int *idx, int k);

/* Every switch port back on br-a. Returns 0 or -1. */
int h_netns_heal(struct h_cluster *c);

/* Black-holes node i's TCP connections open now on its cl0 address (only
 * those it dialed when outgoing_only): iptables in its namespace drops
 * their packets both ways, without a reset, as when an address goes away;
 * new connections pass. Returns how many, or -1 after printing why. */
int h_netns_blackhole(struct h_cluster *c, int i, bool outgoing_only);

/* Kills whatever still runs in c's namespaces and deletes them. Called by
 * h_cluster_destroy() and at exit; safe to call twice. */
void h_netns_teardown(struct h_cluster *c);

/* For the harness: makes the calling thread's network namespace ns (""
 * or NULL: stay) so that sockets opened next belong to it. Returns a token
 * for h_netns_leave (-1 when nothing changed), or -2 when ns cannot be
 * entered. */
int h_netns_enter(const char *ns);
void h_netns_leave(int token);

/* Path of the `ip` program, or NULL when there is none. */
const char *h_ip_path(void);

/* ---- forged node-to-node messages (harness_forge.c) --------------------- */

/* The harness holds the cluster key, so a test can do what any member can:
 * seal envelopes as any member id and push them into a node's inbox the way
 * a peer does (NNG push0 to the node's pull0 inbox), or take a stopped
 * member's inbox address and read what the others send it. Forge as a
 * member whose process is stopped (its own counters would clash).
 * Envelope counters start at H_FORGE_COUNTER_BASE, above any counter a real
 * node uses (the wall clock in seconds << 32), so they are fresh;
 * the member's real messages are replays to the target from then on. */
#define H_FORGE_COUNTER_BASE (((uint64_t)UINT32_MAX - 1) << 32)

struct h_forge;
struct env_msg;    /* node/envelope.h */
struct ledger_key; /* ledger/sign.h */

/* Reads the cluster key from c->key_file. NULL (after printing why) on
 * failure. */
struct h_forge *h_forge_open(const struct h_cluster *c);
/* Closes every socket (NULL is fine). */
void h_forge_close(struct h_forge *f);

/* Seals body (exactly one encoded msgpack object) as the envelope
 * [version, type, from, counter, body] with the next counter and pushes it
 * to node i's inbox. The push socket to node i is dialed on first use and
 * kept open until h_forge_close (closing it could drop what it has not
 * written yet). Returns 0 once NNG took the message, or -1 after printing
 * why. */
int h_forge_send(struct h_forge *f, int i, uint32_t type, const char *from, const void *body,
                 size_t len);
/* The same with the caller's counter (say, a replay). */
int h_forge_send_counter(struct h_forge *f, int i, uint32_t type, const char *from,
                         uint64_t counter, const void *body, size_t len);

/* Listens on node i's inbox address with a pull0 socket (node i must be
 * stopped), so that what the others send to node i arrives here; retries
 * until the port is free, up to h_timeout_ms(). Returns 0 or -1. */
int h_forge_listen(struct h_forge *f, int i);
/* The next message that arrives at the listener within timeout_ms, opened
 * with the cluster key (ones that do not open are skipped). Returns 0 with
 * *msg filled (release it with env_msg_free), or -1 on timeout. */
int h_forge_recv(struct h_forge *f, int timeout_ms, struct env_msg *msg);

/* Node i's Ed25519 key pair from DATA/node.key (the hex of its seed), as
 * ledger_key_from_seed makes it. Returns 0 or -1. */
int h_node_key(const struct h_cluster *c, int i, struct ledger_key *key);

/* ---- libuv loops (harness_loop.c) ------------------------------------- */

typedef struct uv_loop_s uv_loop_t;
/* Runs loop until pred(arg) holds (checked at least every 10 ms) or
 * timeout_ms pass; returns whether it holds. */
bool h_loop_until(uv_loop_t *loop, bool (*pred)(void *), void *arg, int timeout_ms);
/* Runs loop until nothing is left on it (handles closed, processes
 * reaped), for at most timeout_ms. */
void h_loop_drain(uv_loop_t *loop, int timeout_ms);
/* Drains loop and closes it: 0, or -1 (said on stderr) when a handle was
 * left open. */
int h_loop_close(uv_loop_t *loop, int timeout_ms);
/* Removes a directory tree (a test's scratch directory); quiet. */
void h_remove_tree(const char *dir);

#endif
