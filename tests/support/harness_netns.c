/* Test harness: real network partitions. Each node runs in a network
 * namespace of its own, wired to a switch namespace that holds two bridges;
 * a cut moves switch ports from one bridge to the other. The harness reaches
 * a node's HTTP API by entering its namespace around each request, so it can
 * query every node while the node is cut off, without giving the test's own
 * namespace any address or route. See harness.h for the layout. */
#include "harness.h"
#include "harness_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TAG_PREFIX "chpt"
#define NETNS_DIR "/run/netns"
#define IP_TIMEOUT_MS 15000
#define MAX_WORDS 24

const char *h_ip_path(void)
{
    static const char *const candidates[] = {"/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"};
    for (size_t k = 0; k < sizeof candidates / sizeof candidates[0]; k++)
        if (access(candidates[k], X_OK) == 0)
            return candidates[k];
    return NULL;
}

/* Runs `ip` with the arguments of fmt, split at spaces (no argument here
 * ever holds one). Returns 0, or -1 after printing the command and its
 * stderr unless quiet. The output goes to *out when out is not NULL. */
static int ip(bool quiet, char **out, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int ip(bool quiet, char **out, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    const char *argv[MAX_WORDS + 2];
    int a = 0;
    argv[a++] = h_ip_path();
    if (!argv[0]) {
        if (!quiet)
            fprintf(stderr, "harness: no ip program (install iproute2)\n");
        return -1;
    }
    char words[512];
    snprintf(words, sizeof words, "%s", line);
    char *save = NULL;
    for (char *w = strtok_r(words, " ", &save); w && a <= MAX_WORDS; w = strtok_r(NULL, " ", &save))
        argv[a++] = w;
    argv[a] = NULL;
    int code = -1;
    char *err = NULL;
    bool done = h_run(NULL, argv, IP_TIMEOUT_MS, &code, out, &err);
    int rc = done && code == 0 ? 0 : -1;
    if (rc != 0 && !quiet) {
        size_t len = err ? strcspn(err, "\n") : 0;
        fprintf(stderr, "harness: `ip %s` failed (%s %d): %.*s\n", line,
                done ? "exit" : "timed out,", code, (int)len, err ? err : "");
    }
    free(err);
    return rc;
}

/* ---- entering a namespace ------------------------------------------------ */

int h_netns_enter(const char *ns)
{
    static int home = -1; /* the namespace the test started in */
    if (!ns || !ns[0])
        return -1;
    if (home < 0 && (home = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)) < 0)
        return -2;
    char path[128];
    snprintf(path, sizeof path, NETNS_DIR "/%s", ns);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -2;
    int rc = setns(fd, CLONE_NEWNET);
    close(fd);
    return rc == 0 ? home : -2;
}

void h_netns_leave(int token)
{
    if (token < 0)
        return;
    if (setns(token, CLONE_NEWNET) != 0) {
        /* Every later socket would open in a node's namespace: nothing the
         * test saw from here on could be trusted. */
        fprintf(stderr, "harness: cannot return to the test's network namespace: %s\n",
                strerror(errno));
        abort();
    }
}

/* ---- availability, cleanup ------------------------------------------------ */

bool h_netns_available(char *why, size_t len)
{
    if (geteuid() != 0) {
        snprintf(why, len, "not running as root (network namespaces need CAP_SYS_ADMIN)");
        return false;
    }
    if (!h_ip_path()) {
        snprintf(why, len, "no ip program (install iproute2: deploy/install-deps.sh)");
        return false;
    }
    char probe[48];
    snprintf(probe, sizeof probe, TAG_PREFIX "%d-probe", (int)getpid());
    ip(true, NULL, "netns del %s", probe);
    bool ok = ip(false, NULL, "netns add %s", probe) == 0;
    if (!ok)
        snprintf(why, len, "`ip netns add` failed (see above)");
    if (ok && (ip(false, NULL, "-n %s link add pa type veth peer name pb", probe) != 0 ||
               ip(false, NULL, "-n %s link add pbr type bridge", probe) != 0)) {
        snprintf(why, len, "cannot make a veth pair or a bridge in a namespace (see above)");
        ok = false;
    }
    ip(true, NULL, "netns del %s", probe);
    return ok;
}

/* Kills every process inside namespace name, then deletes it. */
static void delete_netns(const char *name)
{
    char *pids = NULL;
    if (ip(true, &pids, "netns pids %s", name) == 0 && pids) {
        char *save = NULL;
        for (char *w = strtok_r(pids, " \n", &save); w; w = strtok_r(NULL, " \n", &save)) {
            long pid = strtol(w, NULL, 10);
            if (pid > 1 && pid != (long)getpid())
                kill((pid_t)pid, SIGKILL);
        }
    }
    free(pids);
    /* A killed process may take a moment to leave; deletion works anyway
     * (the namespace lives on until its last process is gone). */
    if (ip(true, NULL, "netns del %s", name) != 0)
        ip(false, NULL, "netns del %s", name);
}

/* Deletes the namespaces whose names start with prefix (all of ours start
 * with TAG_PREFIX) and, when stale_only, whose maker's pid is gone (or is
 * this process: a leftover from a run that had the same pid). */
static void delete_matching(const char *prefix, bool stale_only)
{
    DIR *d = opendir(NETNS_DIR);
    if (!d)
        return;
    char names[64][64];
    int k = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && k < 64) {
        if (strncmp(e->d_name, prefix, strlen(prefix)) != 0 || strlen(e->d_name) >= 64)
            continue;
        if (stale_only) {
            char *end;
            long pid = strtol(e->d_name + strlen(TAG_PREFIX), &end, 10);
            if (end == e->d_name + strlen(TAG_PREFIX) || *end != '-' || pid <= 0)
                continue; /* not one of ours */
            if (pid != (long)getpid() && (kill((pid_t)pid, 0) == 0 || errno != ESRCH))
                continue; /* its run is still going */
            fprintf(stderr, "harness: deleting stale namespace %s (pid %ld is gone)\n", e->d_name,
                    pid);
        }
        memcpy(names[k++], e->d_name, strlen(e->d_name) + 1); /* length checked above */
    }
    closedir(d);
    for (int i = 0; i < k; i++)
        delete_netns(names[i]);
}

void h_netns_teardown(struct h_cluster *c)
{
    if (!c || !c->netns_tag[0])
        return;
    char prefix[32];
    snprintf(prefix, sizeof prefix, "%s-", c->netns_tag);
    delete_matching(prefix, false);
    c->netns_tag[0] = '\0';
    for (int i = 0; i < c->n; i++)
        c->nodes[i].netns[0] = '\0';
}

/* ---- layout ------------------------------------------------------------ */

int h_netns_setup(struct h_cluster *c)
{
    static bool swept;
    static int seq;
    for (int i = 0; i < c->n; i++)
        if (c->nodes[i].pid > 0) {
            fprintf(stderr, "harness: h_netns_setup: %s is already running\n", c->nodes[i].id);
            return -1;
        }
    if (c->n > 250 || c->netns_tag[0]) {
        fprintf(stderr, "harness: h_netns_setup: already set up, or too many nodes\n");
        return -1;
    }
    if (!swept) {
        delete_matching(TAG_PREFIX, true);
        swept = true;
    }
    snprintf(c->netns_tag, sizeof c->netns_tag, TAG_PREFIX "%d-%d", (int)getpid(), ++seq);
    const char *t = c->netns_tag;
    int rc = ip(false, NULL, "netns add %s-sw", t);
    if (rc == 0)
        rc = ip(false, NULL, "-n %s-sw link set lo up", t);
    for (int b = 0; rc == 0 && b < 2; b++) {
        const char *br = b ? "br-b" : "br-a";
        /* No STP: a port forwards as soon as it is enslaved. */
        rc = ip(false, NULL, "-n %s-sw link add %s type bridge stp_state 0", t, br);
        if (rc == 0)
            rc = ip(false, NULL, "-n %s-sw link set %s up", t, br);
    }
    for (int i = 0; rc == 0 && i < c->n; i++) {
        struct h_node *nd = &c->nodes[i];
        char ns[48];
        snprintf(ns, sizeof ns, "%s-n%d", t, i + 1);
        rc = ip(false, NULL, "netns add %s", ns);
        if (rc == 0)
            rc = ip(false, NULL, "-n %s link set lo up", ns);
        if (rc == 0)
            rc = ip(false, NULL, "-n %s-sw link add v%d type veth peer name cl0 netns %s", t, i + 1,
                    ns);
        if (rc == 0)
            rc = ip(false, NULL, "-n %s-sw link set v%d master br-a", t, i + 1);
        if (rc == 0)
            rc = ip(false, NULL, "-n %s-sw link set v%d up", t, i + 1);
        if (rc == 0)
            rc = ip(false, NULL, "-n %s addr add 10.201.0.%d/24 dev cl0", ns, i + 1);
        if (rc == 0)
            rc = ip(false, NULL, "-n %s link set cl0 up", ns);
        if (rc == 0) {
            snprintf(nd->netns, sizeof nd->netns, "%s", ns);
            snprintf(nd->host, sizeof nd->host, "10.201.0.%d", i + 1);
            snprintf(nd->http_host, sizeof nd->http_host, "127.0.0.1");
        }
    }
    if (rc != 0) {
        h_netns_teardown(c);
        for (int i = 0; i < c->n; i++)
            snprintf(c->nodes[i].host, sizeof c->nodes[i].host, "127.0.0.1");
        return -1;
    }
    return 0;
}

static int place(struct h_cluster *c, const int *idx, int k)
{
    if (!c->netns_tag[0]) {
        fprintf(stderr, "harness: no namespaces: call h_netns_setup() first\n");
        return -1;
    }
    int rc = 0;
    for (int i = 0; i < c->n; i++) {
        bool cut = false;
        for (int j = 0; j < k; j++)
            cut = cut || idx[j] == i;
        if (ip(false, NULL, "-n %s-sw link set v%d master %s", c->netns_tag, i + 1,
               cut ? "br-b" : "br-a") != 0)
            rc = -1;
    }
    return rc;
}

int h_netns_partition(struct h_cluster *c, const int *idx, int k)
{
    return place(c, idx, k);
}

int h_netns_heal(struct h_cluster *c)
{
    return place(c, NULL, 0);
}

/* ---- black holes ------------------------------------------------------- */

/* Splits "addr:port" (IPv4, as ss prints it) in place; false if it is not. */
static bool split_endpoint(char *s, int *port)
{
    char *colon = strrchr(s, ':');
    if (!colon)
        return false;
    *colon = '\0';
    *port = atoi(colon + 1);
    return *port > 0;
}

int h_netns_blackhole(struct h_cluster *c, int i, bool outgoing_only)
{
    const char *ns = c->nodes[i].netns;
    char *list = NULL;
    if (!ns[0] || ip(false, &list, "netns exec %s ss -Htn state established", ns) != 0) {
        fprintf(stderr, "harness: cannot list %s's connections\n", c->nodes[i].id);
        free(list);
        return -1;
    }
    int n = 0, rc = 0;
    char *save = NULL;
    for (char *line = strtok_r(list, "\n", &save); line && rc == 0;
         line = strtok_r(NULL, "\n", &save)) {
        char local[64], peer[64];
        int lport, pport;
        if (sscanf(line, "%*s %*s %63s %63s", local, peer) != 2 || !split_endpoint(local, &lport) ||
            !split_endpoint(peer, &pport))
            continue;
        if (strcmp(local, c->nodes[i].host) != 0 ||
            (outgoing_only && lport == c->nodes[i].listen_port))
            continue; /* the harness's own HTTP on lo, or one the node accepted */
        rc = ip(false, NULL,
                "netns exec %s iptables -w -I OUTPUT -p tcp -s %s --sport %d -d %s --dport %d -j "
                "DROP",
                ns, local, lport, peer, pport);
        if (rc == 0)
            rc = ip(false, NULL,
                    "netns exec %s iptables -w -I INPUT -p tcp -s %s --sport %d -d %s --dport %d "
                    "-j DROP",
                    ns, peer, pport, local, lport);
        n++;
    }
    free(list);
    return rc == 0 ? n : -1;
}
