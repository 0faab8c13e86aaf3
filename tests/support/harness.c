/* Test harness, the process half: chimerad processes, the cluster's
 * lifecycle, files and ports. Running other programs is in harness_run.c;
 * HTTP, federation state, metrics and events are in harness_http.c. See
 * harness.h. */
#include "harness.h"
#include "harness_int.h"
#include "pipeline/exec/driver.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <sodium.h>

extern char **environ;

#define POLL_MS 20
#define MAX_ARGS 64

/* ---- time and waiting ------------------------------------------------- */

long long h_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void h_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

int h_timeout_ms(void)
{
    const char *s = getenv("CHIMERA_TEST_TIMEOUT_MS");
    int v = s ? atoi(s) : 0;
    return v > 0 ? v : 10000;
}

/* Set by the handler h_on_interrupt() installs; never set otherwise. */
static volatile sig_atomic_t interrupted;

static void on_interrupt(int sig)
{
    (void)sig;
    interrupted = 1;
}

void h_on_interrupt(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_interrupt; /* no SA_RESTART: sleeps must wake */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

bool h_interrupted(void)
{
    return interrupted != 0;
}

bool h_wait_until(bool (*pred)(void *arg), void *arg, int timeout_ms)
{
    long long deadline = h_now_ms() + timeout_ms;
    for (;;) {
        if (pred(arg))
            return true;
        if (interrupted || h_now_ms() >= deadline)
            return false;
        h_sleep_ms(POLL_MS);
    }
}

/* ---- processes ---------------------------------------------------------- */

/* Clusters still alive, so that a test that failed before it destroyed
 * its cluster (a cmocka failure leaves the test by a longjmp) or exit()
 * from cmocka does not leave daemons and their services running behind
 * it, nor its logs unnamed. */
static struct h_cluster *live[32];

static void kill_all_at_exit(void)
{
    for (size_t k = 0; k < sizeof live / sizeof live[0]; k++)
        h_cluster_destroy(live[k]); /* kept unless it passed, and said where */
}

/* The environment for children minus what could change their behaviour
 * behind the test's back: CHIMERA_* settings (flags win, but a stray
 * CHIMERA_CONFIG would add a file) and proxies (chimeractl must talk to
 * 127.0.0.1 directly). */
static char **child_env(void)
{
    size_t n = 0;
    while (environ[n])
        n++;
    char **env = calloc(n + 1, sizeof *env);
    if (!env)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const char *e = environ[i];
        if (strncmp(e, "CHIMERA_", 8) == 0 || strncasecmp(e, "http_proxy=", 11) == 0 ||
            strncasecmp(e, "https_proxy=", 12) == 0 || strncasecmp(e, "all_proxy=", 10) == 0)
            continue;
        env[k++] = environ[i];
    }
    return env;
}

pid_t h_spawn(const char *const argv[], const char *out_path, const char *err_path)
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, out_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (strcmp(out_path, err_path) == 0)
        posix_spawn_file_actions_adddup2(&fa, 1, 2);
    else
        posix_spawn_file_actions_addopen(&fa, 2, err_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    /* The test may ignore or block signals; the daemon must see defaults. */
    posix_spawnattr_t at;
    posix_spawnattr_init(&at);
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &all);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

    char **env = child_env();
    pid_t pid = -1;
    int rc = env ? posix_spawn(&pid, argv[0], &fa, &at, (char *const *)argv, env) : ENOMEM;
    free(env);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    if (rc != 0) {
        fprintf(stderr, "harness: cannot spawn %s: %s\n", argv[0], strerror(rc));
        return -1;
    }
    return pid;
}

bool h_wait_pid(pid_t pid, int timeout_ms, int *status)
{
    long long deadline = h_now_ms() + timeout_ms;
    for (;;) {
        int st;
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid) {
            if (status)
                *status = st;
            return true;
        }
        if (r < 0 && errno != EINTR)
            return false;
        if (h_now_ms() >= deadline)
            return false;
        h_sleep_ms(5);
    }
}

/* ---- files -------------------------------------------------------------- */

char *h_read_file(const char *path)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return NULL;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    while (buf) {
        size_t got = fread(buf + len, 1, cap - len - 1, f);
        len += got;
        if (len + 1 < cap)
            break;
        cap *= 2;
        char *nb = realloc(buf, cap);
        if (!nb) {
            free(buf);
            buf = NULL;
        } else {
            buf = nb;
        }
    }
    fclose(f);
    if (buf)
        buf[len] = '\0';
    return buf;
}

bool h_file_contains(const char *path, const char *needle)
{
    char *text = h_read_file(path);
    bool found = text && strstr(text, needle) != NULL;
    free(text);
    return found;
}

static int write_secret(const char *path, const char *content)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    size_t len = strlen(content);
    ssize_t w = write(fd, content, len);
    int rc = (w == (ssize_t)len) ? 0 : -1;
    if (close(fd) != 0)
        rc = -1;
    return rc;
}

static void random_hex(char *out, size_t bytes)
{
    unsigned char buf[64];
    randombytes_buf(buf, bytes);
    sodium_bin2hex(out, bytes * 2 + 1, buf, bytes);
}

int h_write_key_file(const struct h_cluster *c, const char *name, char *out, size_t outlen)
{
    char hex[65];
    random_hex(hex, 32);
    char content[80];
    snprintf(content, sizeof content, "%s\n", hex);
    if ((size_t)snprintf(out, outlen, "%s/%s", c->dir, name) >= outlen)
        return -1;
    return write_secret(out, content);
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

size_t h_count_lines(const char *s)
{
    size_t n = 0;
    while (s && *s) {
        const char *nl = strchr(s, '\n');
        size_t len = nl ? (size_t)(nl - s) : strlen(s);
        if (len > 0)
            n++;
        s = nl ? nl + 1 : s + len;
    }
    return n;
}

/* ---- ports -------------------------------------------------------------- */

static bool port_bindable(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

int h_free_port(void)
{
    /* Ports handed out by this process, so two nodes never get the same
     * one even before either binds it. */
    static int given[1024];
    static size_t ngiven;
    int lo = 32768;
    FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "re");
    if (f) {
        if (fscanf(f, "%d", &lo) != 1)
            lo = 32768;
        fclose(f);
    }
    /* Below the ephemeral range no outgoing connection (a peer's dialer, a
     * curl client) can be sitting on the port when a restarted node wants
     * it back. */
    int base = 10000, span = lo - base;
    for (int attempt = 0; span > 1000 && attempt < 2000; attempt++) {
        int p = base + (int)randombytes_uniform((uint32_t)span);
        bool used = false;
        for (size_t k = 0; k < ngiven && k < 1024 && !used; k++)
            used = given[k] == p;
        if (used || !port_bindable(p))
            continue;
        given[ngiven++ % 1024] = p;
        return p;
    }
    return -1;
}

/* ---- cluster ------------------------------------------------------------ */

struct h_cluster *h_cluster_create(int n)
{
    static bool global_done;
    if (!global_done) {
        if (sodium_init() < 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
            fprintf(stderr, "harness: cannot initialise libsodium or libcurl\n");
            return NULL;
        }
        atexit(kill_all_at_exit);
        global_done = true;
    }
    if (n < 1 || n > H_MAX_NODES) {
        fprintf(stderr, "harness: %d nodes is out of range\n", n);
        return NULL;
    }
    struct h_cluster *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->n = n;
    snprintf(c->dir, sizeof c->dir, "/tmp/chimera-test-XXXXXX");
    if (!mkdtemp(c->dir)) {
        fprintf(stderr, "harness: mkdtemp: %s\n", strerror(errno));
        free(c);
        return NULL;
    }
    size_t k;
    for (k = 0; k < sizeof live / sizeof live[0] && live[k]; k++) {
    }
    if (k < sizeof live / sizeof live[0])
        live[k] = c;

    char tok[80];
    random_hex(c->token, 32);
    snprintf(tok, sizeof tok, "%s\n", c->token);
    snprintf(c->token_file, sizeof c->token_file, "%s/admin.token", c->dir);
    if (h_write_key_file(c, "cluster.key", c->key_file, sizeof c->key_file) != 0 ||
        write_secret(c->token_file, tok) != 0) {
        fprintf(stderr, "harness: cannot write the key or token in %s\n", c->dir);
        h_cluster_destroy(c);
        return NULL;
    }
    for (int i = 0; i < n; i++) {
        struct h_node *nd = &c->nodes[i];
        snprintf(nd->id, sizeof nd->id, "n%d", i + 1);
        snprintf(nd->data, sizeof nd->data, "%s/n%d", c->dir, i + 1);
        snprintf(nd->log, sizeof nd->log, "%s/n%d.log", c->dir, i + 1);
        snprintf(nd->host, sizeof nd->host, "127.0.0.1");
        snprintf(nd->http_host, sizeof nd->http_host, "127.0.0.1");
        nd->listen_port = h_free_port();
        nd->http_port = h_free_port();
        nd->exit_status = -1;
        if (nd->listen_port < 0 || nd->http_port < 0) {
            fprintf(stderr, "harness: no free port on 127.0.0.1\n");
            h_cluster_destroy(c);
            return NULL;
        }
    }
    return c;
}

void h_cluster_pass(struct h_cluster *c)
{
    c->passed = true;
}

void h_node_kill_services(const struct h_cluster *c, int i)
{
    char mark[PATH_MAX + 64], abs[PATH_MAX];
    snprintf(mark, sizeof(mark), "CHIMERA_SERVICE_OWNER=%s",
             realpath(c->nodes[i].data, abs) ? abs : c->nodes[i].data);
    drv_kill_marked(mark);
}

int h_group_end(struct h_cluster *c, int failed)
{
    if (c && failed == 0)
        h_cluster_pass(c);
    h_cluster_destroy(c);
    return failed;
}

/* Node i's threads' stacks go into its log (when gdb is there), under a
 * line saying why. gdb gets a minute: attaching to a process stuck in the
 * kernel (D state) could hold it, and the test run with it. */
static void log_stacks(struct h_cluster *c, int i, const char *why)
{
    char cmd[H_PATH_MAX + 200];
    snprintf(cmd, sizeof(cmd),
             "command -v gdb >/dev/null && { echo '=== harness: %s %s, its stacks:'; "
             "timeout -k 5 60 gdb -batch -p %d -ex 'thread apply all bt'; } >> '%s' 2>&1",
             c->nodes[i].id, why, (int)c->nodes[i].pid, c->nodes[i].log);
    if (system(cmd) != 0)
        fprintf(stderr, "harness: no stacks of %s (gdb missing, or it took over a minute?)\n",
                c->nodes[i].id);
}

void h_cluster_destroy(struct h_cluster *c)
{
    if (!c)
        return;
    /* A node that no longer answers when its test failed may be why: its
     * loop is stuck somewhere, and the kill below would take the evidence
     * with it. (One drill run found a member silent for minutes, its log
     * ending mid-rollout, and nothing to say where it hung.) */
    for (int i = 0; i < c->n && !c->passed; i++)
        if (h_node_up(c, i) && !h_http_up(c, i)) {
            log_stacks(c, i, "did not answer /health/live when its test failed");
            fprintf(stderr, "harness: %s did not answer when its test failed; its stacks: %s\n",
                    c->nodes[i].id, c->nodes[i].log);
        }
    for (int i = 0; i < c->n; i++) {
        h_node_kill(c, i);
        h_node_kill_services(c, i);
    }
    h_netns_teardown(c);
    for (size_t k = 0; k < sizeof live / sizeof live[0]; k++)
        if (live[k] == c)
            live[k] = NULL;
    if (!c->passed || getenv("CHIMERA_TEST_KEEP"))
        fprintf(stderr, "harness: kept %s (node logs: %s/n*.log)\n", c->dir, c->dir);
    else
        nftw(c->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(c);
}

const char *h_peers(const struct h_cluster *c)
{
    static char buf[H_MAX_NODES * 80];
    size_t off = 0;
    buf[0] = '\0';
    for (int i = 0; i < c->n; i++)
        off += (size_t)snprintf(buf + off, sizeof buf - off, "%s%s=tcp://%s:%d", i ? "," : "",
                                c->nodes[i].id, c->nodes[i].host, c->nodes[i].listen_port);
    return buf;
}

int h_node_start(struct h_cluster *c, int i)
{
    return h_node_start_opts(c, i, NULL);
}

int h_node_start_opts(struct h_cluster *c, int i, const struct h_start *o)
{
    static const struct h_start none;
    if (!o)
        o = &none;
    struct h_node *nd = &c->nodes[i];
    if (nd->pid > 0) {
        fprintf(stderr, "harness: %s is already running\n", nd->id);
        return -1;
    }
    char listen[64], http[64], hb[16], et[16];
    snprintf(listen, sizeof listen, "tcp://%s:%d", nd->host, nd->listen_port);
    snprintf(http, sizeof http, "%s:%d", nd->http_host, nd->http_port);
    const char *argv[MAX_ARGS];
    int a = 0;
    if (nd->netns[0]) {
        /* `ip netns exec` enters the namespace and execs chimerad: the pid
         * stays the daemon's, so signals reach it directly. */
        if (!h_ip_path()) {
            fprintf(stderr, "harness: %s runs in namespace %s, but there is no ip program\n",
                    nd->id, nd->netns);
            return -1;
        }
        argv[a++] = h_ip_path();
        argv[a++] = "netns";
        argv[a++] = "exec";
        argv[a++] = nd->netns;
    }
    argv[a++] = CHIMERAD_PATH;
    argv[a++] = "--id";
    argv[a++] = nd->id;
    argv[a++] = "--listen";
    argv[a++] = listen;
    argv[a++] = "--http";
    argv[a++] = http;
    argv[a++] = "--peers";
    argv[a++] = o->peers ? o->peers : h_peers(c);
    argv[a++] = "--data";
    argv[a++] = nd->data;
    argv[a++] = "--cluster-key-file";
    argv[a++] = o->key_file ? o->key_file : c->key_file;
    argv[a++] = "--admin-token-file";
    argv[a++] = c->token_file;
    if (c->heartbeat_ms > 0) {
        snprintf(hb, sizeof hb, "%d", c->heartbeat_ms);
        argv[a++] = "--heartbeat-ms";
        argv[a++] = hb;
    }
    if (c->election_timeout_ms > 0) {
        snprintf(et, sizeof et, "%d", c->election_timeout_ms);
        argv[a++] = "--election-timeout-ms";
        argv[a++] = et;
    }
    for (size_t k = 0; o->extra && o->extra[k] && a < MAX_ARGS - 1; k++)
        argv[a++] = o->extra[k];
    for (size_t k = 0; c->node_args && c->node_args[k] && a < MAX_ARGS - 1; k++)
        argv[a++] = c->node_args[k];
    argv[a] = NULL;

    pid_t pid = h_spawn(argv, nd->log, o->stderr_path ? o->stderr_path : nd->log);
    if (pid < 0)
        return -1;
    nd->pid = pid;
    nd->paused = false;
    return 0;
}

void h_node_signal(struct h_cluster *c, int i, int sig)
{
    if (c->nodes[i].pid > 0)
        kill(c->nodes[i].pid, sig);
}

void h_node_pause(struct h_cluster *c, int i)
{
    if (c->nodes[i].pid <= 0)
        return;
    kill(c->nodes[i].pid, SIGSTOP);
    c->nodes[i].paused = true;
}

void h_node_resume(struct h_cluster *c, int i)
{
    if (c->nodes[i].pid > 0)
        kill(c->nodes[i].pid, SIGCONT);
    c->nodes[i].paused = false;
}

bool h_node_up(struct h_cluster *c, int i)
{
    return h_node_running(c, i) && !c->nodes[i].paused;
}

bool h_node_wait_exit(struct h_cluster *c, int i, int timeout_ms, int *status)
{
    struct h_node *nd = &c->nodes[i];
    if (nd->pid <= 0) {
        if (status)
            *status = nd->exit_status;
        return nd->exit_status != -1;
    }
    int st;
    if (!h_wait_pid(nd->pid, timeout_ms, &st))
        return false;
    nd->pid = 0;
    nd->paused = false;
    nd->exit_status = st;
    if (status)
        *status = st;
    return true;
}

void h_node_kill(struct h_cluster *c, int i)
{
    struct h_node *nd = &c->nodes[i];
    if (nd->pid <= 0)
        return;
    kill(nd->pid, SIGKILL);
    int st;
    if (waitpid(nd->pid, &st, 0) == nd->pid)
        nd->exit_status = st;
    nd->pid = 0;
    nd->paused = false;
}

int h_node_stop(struct h_cluster *c, int i)
{
    int st;
    h_node_signal(c, i, SIGTERM);
    if (c->nodes[i].paused)
        h_node_resume(c, i); /* a stopped process cannot act on SIGTERM */
    if (!h_node_wait_exit(c, i, h_timeout_ms(), &st)) {
        /* A node that does not stop is a bug to find. */
        log_stacks(c, i, "did not stop");
        fprintf(stderr, "harness: %s did not stop within %d ms after SIGTERM (log: %s)\n",
                c->nodes[i].id, h_timeout_ms(), c->nodes[i].log);
        h_node_kill(c, i);
        st = c->nodes[i].exit_status;
    }
    return st;
}

bool h_node_running(struct h_cluster *c, int i)
{
    struct h_node *nd = &c->nodes[i];
    if (nd->pid <= 0)
        return false;
    int st;
    if (waitpid(nd->pid, &st, WNOHANG) == nd->pid) {
        nd->pid = 0;
        nd->paused = false;
        nd->exit_status = st;
        return false;
    }
    return true;
}

void h_remove_tree(const char *dir)
{
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

const char *h_bin_dir(void)
{
    static char dir[H_PATH_MAX];
    snprintf(dir, sizeof(dir), "%s", CHIMERAD_PATH);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    return dir;
}
