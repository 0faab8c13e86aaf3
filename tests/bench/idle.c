/* Benchmark: what an idle 3-node federation costs. Samples each node's CPU
 * time and resident set once a second and prints, per node: CPU %, RSS,
 * threads, context switches per second (every thread's: the wakeups) and
 * the loop thread's voluntary ones (loop/s: how often the loop woke), and
 * the messages and sealed bytes it sent per peer per heartbeat interval
 * (from its /metrics), with its role. It never judges them, so it fails only when the
 * federation cannot be set up or a node dies during the window.
 *
 *   bench_idle [--seconds N]   (default 30) */
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define NODES 3
/* chimerad's default; the harness passes --heartbeat-ms only when asked. */
#define DEFAULT_HEARTBEAT_MS 50
/* Startup (key loading, first connections, the burst of first events) is
 * not the idle cost being measured. */
#define SETTLE_MS 1000

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Reads a small /proc file into buf; false when it is gone. */
static bool read_small(const char *path, char *buf, size_t len)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return false;
    size_t got = fread(buf, 1, len - 1, f);
    fclose(f);
    buf[got] = '\0';
    return got > 0;
}

/* A "Name:  value" line of /proc/PID/status, as a number (kB for Vm*). */
static bool proc_status_field(pid_t pid, const char *name, long *value)
{
    char path[64], buf[4096];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    if (!read_small(path, buf, sizeof buf))
        return false;
    size_t n = strlen(name);
    for (const char *line = buf; line && *line;) {
        if (strncmp(line, name, n) == 0 && line[n] == ':')
            return sscanf(line + n + 1, "%ld", value) == 1;
        const char *nl = strchr(line, '\n');
        line = nl ? nl + 1 : NULL;
    }
    return false;
}

/* Busy and total jiffies of the whole machine (first line of /proc/stat), so
 * the figures can be read against whatever else was running. */
static bool machine_jiffies(unsigned long long *busy, unsigned long long *total)
{
    char buf[512];
    unsigned long long v[8] = {0};
    if (!read_small("/proc/stat", buf, sizeof buf) ||
        sscanf(buf, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
               &v[4], &v[5], &v[6], &v[7]) < 5)
        return false;
    *total = 0;
    for (int k = 0; k < 8; k++)
        *total += v[k];
    *busy = *total - v[3] - v[4]; /* minus idle and iowait */
    return true;
}

static void cpu_model(char *out, size_t len)
{
    char buf[8192];
    snprintf(out, len, "unknown CPU");
    if (!read_small("/proc/cpuinfo", buf, sizeof buf))
        return;
    const char *m = strstr(buf, "model name");
    const char *colon = m ? strchr(m, ':') : NULL;
    if (!colon)
        return;
    colon++;
    while (*colon == ' ' || *colon == '\t')
        colon++;
    size_t k = strcspn(colon, "\n");
    snprintf(out, len, "%.*s", (int)k, colon);
}

/* Voluntary context switches of pid's loop thread (its main thread): the
 * times the loop woke from a wait, whatever the load; -1 when it is gone. */
static long long loop_wakeups(pid_t pid)
{
    char path[64], buf[4096];
    snprintf(path, sizeof path, "/proc/%d/task/%d/status", (int)pid, (int)pid);
    if (!read_small(path, buf, sizeof buf))
        return -1;
    const char *k = strstr(buf, "\nvoluntary_ctxt_switches:");
    return k ? atoll(k + strlen("\nvoluntary_ctxt_switches:")) : -1;
}

/* One thread's context switches, by its name (NNG and libuv name theirs:
 * nng:task, nng:poll, nng:timer, nng:reap..., and the loop is chimerad). */
#define MAX_TASKS 64
struct task_csw {
    int tid;
    char comm[24];
    long long csw;
};

/* Every thread of pid now; returns how many (at most MAX_TASKS). */
static int task_snapshot(pid_t pid, struct task_csw *t)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    DIR *d = opendir(path);
    if (!d)
        return 0;
    int n = 0;
    struct dirent *e;
    while (n < MAX_TASKS && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char tpath[320], buf[4096];
        snprintf(tpath, sizeof tpath, "/proc/%d/task/%s/status", (int)pid, e->d_name);
        if (!read_small(tpath, buf, sizeof buf))
            continue;
        t[n].tid = atoi(e->d_name);
        t[n].csw = 0;
        for (const char *k = strstr(buf, "ctxt_switches:"); k; k = strstr(k + 1, "ctxt_switches:"))
            t[n].csw += atoll(k + strlen("ctxt_switches:"));
        const char *name = strncmp(buf, "Name:", 5) == 0 ? buf + 5 : "?";
        name += strspn(name, " \t");
        snprintf(t[n].comm, sizeof t[n].comm, "%.*s", (int)strcspn(name, "\n"), name);
        if (t[n].tid == (int)pid)
            snprintf(t[n].comm, sizeof t[n].comm, "loop");
        n++;
    }
    closedir(d);
    return n;
}

/* Context switches of every thread of pid (voluntary ones are wakeups
 * after a wait); -1 when it is gone. */
static long long proc_ctxt_switches(pid_t pid)
{
    struct task_csw t[MAX_TASKS];
    int n = task_snapshot(pid, t);
    long long total = 0;
    for (int i = 0; i < n; i++)
        total += t[i].csw;
    return n > 0 ? total : -1;
}

/* Context switches per second by thread name over the window, the busiest
 * first: where the wake-ups go (the loop's are ours; NNG's threads hand
 * each message on to each other). */
static void print_task_rates(const char *id, const char *role, const struct task_csw *a, int na,
                             const struct task_csw *b, int nb, double secs)
{
    struct {
        char comm[24];
        double csw;
        int threads;
    } g[MAX_TASKS];
    int ng = 0;
    for (int i = 0; i < nb; i++) {
        long long before = 0;
        for (int j = 0; j < na; j++)
            if (a[j].tid == b[i].tid)
                before = a[j].csw;
        int k = 0;
        while (k < ng && strcmp(g[k].comm, b[i].comm) != 0)
            k++;
        if (k == ng) {
            snprintf(g[ng].comm, sizeof g[ng].comm, "%s", b[i].comm);
            g[ng].csw = 0;
            g[ng].threads = 0;
            ng++;
        }
        g[k].csw += (double)(b[i].csw - before);
        g[k].threads++;
    }
    printf("  %-4s %-8s csw/s by thread:", id, role);
    for (int done = 0; done < ng; done++) {
        int best = -1;
        for (int k = 0; k < ng; k++)
            if (g[k].threads > 0 && (best < 0 || g[k].csw > g[best].csw))
                best = k;
        printf(" %s(x%d)=%.1f", g[best].comm, g[best].threads, secs > 0 ? g[best].csw / secs : 0.0);
        g[best].threads = 0;
    }
    printf("\n");
}

struct series {
    pid_t pid;
    struct task_csw tasks0[MAX_TASKS], tasks1[MAX_TASKS];
    int ntasks0, ntasks1;
    double cpu0, cpu_prev, cpu_last; /* h_proc_cpu_seconds */
    long rss_start, rss_end, rss_max;
    long threads;
    double max_pct; /* highest one-second sample */
    long long csw0, csw1;
    long long loop0, loop1; /* loop_wakeups */
    double sent0, recv0, sent1, recv1, bytes0, bytes1;
    bool have_metrics, have_bytes;
    char role[16]; /* from /federation/state after the window; "?" unknown */
};

/* The node's own role: the first "role" of /federation/state (its peers'
 * come after, in "peers"). */
static void read_role(const struct h_cluster *c, int i, char *role, size_t len)
{
    long st;
    char *text = h_http_get_text(c, i, "/federation/state", &st);
    const char *k = st == 200 && text ? strstr(text, "\"role\"") : NULL;
    const char *q = k ? strchr(k + 6, '"') : NULL;
    snprintf(role, len, "?");
    if (q)
        snprintf(role, len, "%.*s", (int)strcspn(q + 1, "\""), q + 1);
    free(text);
}

/* The sum of a labelled family's samples in a /metrics text; false when
 * there is none. */
static bool family_sum(const char *text, const char *family, double *sum)
{
    size_t n = strlen(family);
    bool found = false;
    *sum = 0;
    for (const char *line = text; line && *line;) {
        if (strncmp(line, family, n) == 0 && line[n] == '{') {
            const char *sp = strchr(line, ' ');
            if (sp) {
                *sum += strtod(sp + 1, NULL);
                found = true;
            }
        }
        const char *nl = strchr(line, '\n');
        line = nl ? nl + 1 : NULL;
    }
    return found;
}

static void read_metrics(const struct h_cluster *c, int i, double *sent, double *recv,
                         double *bytes, bool *ok, bool *ok_bytes)
{
    *ok = h_metric(c, i, "chimera_messages_sent_total", sent) &&
          h_metric(c, i, "chimera_messages_received_total", recv);
    long st;
    char *text = h_http_get_text(c, i, "/metrics", &st);
    /* Nodes before chimera_message_bytes_sent_total print "-" there. */
    *ok_bytes = st == 200 && text && family_sum(text, "chimera_message_bytes_sent_total", bytes);
    free(text);
}

/* Sleeps until the absolute monotonic time t (seconds); false on ^C. */
static bool sleep_until(double t)
{
    struct timespec ts = {(time_t)t, (long)((t - (double)(time_t)t) * 1e9)};
    while (!h_interrupted()) {
        int rc = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
        if (rc == 0)
            return true;
        if (rc != EINTR)
            return false;
    }
    return false;
}

/* Samples every node once a second for `seconds`. Returns the number of
 * one-second samples taken (fewer on ^C) or -1 when a node went away. */
static int sample(struct h_cluster *c, struct series *s, int seconds, double *window)
{
    double t0 = now_s(), tprev = t0;
    for (int i = 0; i < c->n; i++) {
        s[i].cpu0 = h_proc_cpu_seconds(s[i].pid);
        if (s[i].cpu0 < 0 || !proc_status_field(s[i].pid, "VmRSS", &s[i].rss_start))
            return -1;
        s[i].cpu_prev = s[i].cpu_last = s[i].cpu0;
        s[i].rss_end = s[i].rss_max = s[i].rss_start;
        s[i].csw0 = s[i].csw1 = proc_ctxt_switches(s[i].pid);
        s[i].loop0 = s[i].loop1 = loop_wakeups(s[i].pid);
        s[i].ntasks0 = task_snapshot(s[i].pid, s[i].tasks0);
    }
    int taken = 0;
    for (int k = 1; k <= seconds; k++) {
        if (!sleep_until(t0 + k))
            break;
        double t = now_s();
        for (int i = 0; i < c->n; i++) {
            double cpu = h_proc_cpu_seconds(s[i].pid);
            long rss;
            /* A dead node that is not yet reaped still has a /proc entry. */
            if (!h_node_running(c, i) || cpu < 0 || !proc_status_field(s[i].pid, "VmRSS", &rss)) {
                fprintf(stderr, "bench_idle: %s (pid %d) went away after %d s (log: %s)\n",
                        c->nodes[i].id, (int)s[i].pid, k, c->nodes[i].log);
                return -1;
            }
            double pct = (cpu - s[i].cpu_prev) / (t - tprev) * 100.0;
            if (pct > s[i].max_pct)
                s[i].max_pct = pct;
            s[i].cpu_prev = s[i].cpu_last = cpu;
            s[i].rss_end = rss;
            if (rss > s[i].rss_max)
                s[i].rss_max = rss;
            proc_status_field(s[i].pid, "Threads", &s[i].threads);
            s[i].csw1 = proc_ctxt_switches(s[i].pid);
            s[i].loop1 = loop_wakeups(s[i].pid);
        }
        tprev = t;
        taken = k;
    }
    for (int i = 0; i < c->n; i++)
        s[i].ntasks1 = task_snapshot(s[i].pid, s[i].tasks1);
    *window = tprev - t0;
    return taken;
}

static double avg_pct(const struct series *s, double window)
{
    return window > 0 ? (s->cpu_last - s->cpu0) / window * 100.0 : 0.0;
}

static double rate(double a, double b, double secs)
{
    return secs > 0 ? (b - a) / secs : 0.0;
}

int main(int argc, char **argv)
{
    int seconds = 30;
    const struct h_bench_opts opts = {.max_seconds = 86400};
    if (h_bench_args(argc, argv, &opts, &seconds, NULL, NULL) != 0)
        return 2;

    h_on_interrupt(); /* ^C ends the sampling early; the figures so far are printed */
    setvbuf(stdout, NULL, _IOLBF, 0);
    int rc;
    struct h_cluster *c = h_bench_cluster(NODES, "bench_idle", &rc);
    if (!c)
        return rc;
    struct timespec settle = {SETTLE_MS / 1000, (SETTLE_MS % 1000) * 1000000L};
    nanosleep(&settle, NULL);

    char model[128];
    cpu_model(model, sizeof model);
    struct utsname un;
    if (uname(&un) != 0)
        snprintf(un.release, sizeof un.release, "?");
    char load0[64] = "?";
    read_small("/proc/loadavg", load0, sizeof load0);
    load0[strcspn(load0, "\n")] = '\0';
    long nproc = sysconf(_SC_NPROCESSORS_ONLN);
    printf("bench_idle: idle cost of a %d-node federation (nothing but heartbeats)\n", NODES);
    printf("  nodes       %d chimerad on 127.0.0.1, heartbeat interval %d ms (chimerad default)\n",
           NODES, DEFAULT_HEARTBEAT_MS);
    printf("  measured    /proc/PID/stat utime+stime (CLK_TCK=%ld, so a 1 s sample resolves "
           "%.1f%%)\n",
           sysconf(_SC_CLK_TCK), 100.0 / (double)sysconf(_SC_CLK_TCK));
    printf("              and /proc/PID/status VmRSS, every 1 s for %d s after a %d ms settle\n",
           seconds, SETTLE_MS);
    printf("  machine     nproc=%ld, %s, Linux %s\n", nproc, model, un.release);
    printf("  loadavg     %s (at start)\n", load0);
    printf("sampling for %d s...\n", seconds);

    struct series s[NODES];
    memset(s, 0, sizeof s);
    for (int i = 0; i < NODES; i++) {
        s[i].pid = c->nodes[i].pid;
        read_metrics(c, i, &s[i].sent0, &s[i].recv0, &s[i].bytes0, &s[i].have_metrics,
                     &s[i].have_bytes);
    }
    double tm0 = now_s();
    unsigned long long mb0 = 0, mt0 = 0, mb1 = 0, mt1 = 0;
    bool have_machine = machine_jiffies(&mb0, &mt0);
    double window = 0;
    int taken = sample(c, s, seconds, &window);
    have_machine = have_machine && machine_jiffies(&mb1, &mt1);
    double tm1 = now_s();
    for (int i = 0; i < NODES && taken >= 0; i++) {
        bool ok, ok_bytes;
        read_metrics(c, i, &s[i].sent1, &s[i].recv1, &s[i].bytes1, &ok, &ok_bytes);
        s[i].have_metrics = s[i].have_metrics && ok;
        s[i].have_bytes = s[i].have_bytes && ok_bytes;
        read_role(c, i, s[i].role, sizeof s[i].role);
    }
    if (taken < 0) {
        h_cluster_destroy(c);
        return 1;
    }
    if (taken == 0) {
        fprintf(stderr, "bench_idle: interrupted before the first sample\n");
        h_cluster_pass(c);
        h_cluster_destroy(c);
        return 130;
    }
    double msecs = tm1 - tm0;
    double busy_pct =
        have_machine && mt1 > mt0 ? (double)(mb1 - mb0) / (double)(mt1 - mt0) * 100.0 : -1.0;

    /* Per peer per heartbeat interval: what each member costs each other. */
    double intervals = msecs * 1000.0 / DEFAULT_HEARTBEAT_MS;
    printf("\n%-4s %-8s %8s %9s %9s %10s %10s %7s %9s %7s %8s %8s %10s %11s\n", "node", "role",
           "pid", "cpu_avg%", "cpu_max%", "rss0_KiB", "rss1_KiB", "threads", "csw/s", "loop/s",
           "sent/s", "recv/s", "msgs/p/int", "bytes/p/int");
    for (int i = 0; i < NODES; i++) {
        char sent[16] = "-", recv[16] = "-", mpi[16] = "-", bpi[16] = "-";
        if (s[i].have_metrics) {
            snprintf(sent, sizeof sent, "%.1f", rate(s[i].sent0, s[i].sent1, msecs));
            snprintf(recv, sizeof recv, "%.1f", rate(s[i].recv0, s[i].recv1, msecs));
            snprintf(mpi, sizeof mpi, "%.2f",
                     (s[i].sent1 - s[i].sent0) / intervals / (double)(NODES - 1));
        }
        if (s[i].have_bytes)
            snprintf(bpi, sizeof bpi, "%.0f",
                     (s[i].bytes1 - s[i].bytes0) / intervals / (double)(NODES - 1));
        printf("%-4s %-8s %8d %9.2f %9.2f %10ld %10ld %7ld %9.0f %7.1f %8s %8s %10s %11s\n",
               c->nodes[i].id, s[i].role, (int)s[i].pid, avg_pct(&s[i], window), s[i].max_pct,
               s[i].rss_start, s[i].rss_end, s[i].threads,
               rate((double)s[i].csw0, (double)s[i].csw1, window),
               rate((double)s[i].loop0, (double)s[i].loop1, window), sent, recv, mpi, bpi);
    }

    printf("\n");
    for (int i = 0; i < NODES; i++)
        print_task_rates(c->nodes[i].id, s[i].role, s[i].tasks0, s[i].ntasks0, s[i].tasks1,
                         s[i].ntasks1, window);

    const struct series *n1 = &s[0];
    double expect = (double)(NODES - 1) * 1000.0 / DEFAULT_HEARTBEAT_MS;
    printf("\nn1 over %.1f s (%d samples%s):\n", window, taken,
           taken < seconds ? ", interrupted" : "");
    printf("  cpu          %.2f %% of one core on average, %.2f %% in the busiest second\n",
           avg_pct(n1, window), n1->max_pct);
    printf("  rss          start %ld KiB, end %ld KiB, max %ld KiB (end - start: %+ld KiB)\n",
           n1->rss_start, n1->rss_end, n1->rss_max, n1->rss_end - n1->rss_start);
    printf("  wakeups      %.0f context switches/s over its %ld threads\n",
           rate((double)n1->csw0, (double)n1->csw1, window), n1->threads);
    if (n1->have_metrics)
        printf("  messages     %.1f sent/s (one per peer per interval: %d peers x %d/s = %.0f), "
               "%.1f received/s\n",
               rate(n1->sent0, n1->sent1, msecs), NODES - 1, 1000 / DEFAULT_HEARTBEAT_MS, expect,
               rate(n1->recv0, n1->recv1, msecs));
    else
        printf("  messages     (chimera_messages_*_total not readable from /metrics)\n");
    if (busy_pct >= 0)
        printf("  machine      %.1f %% of all %ld cores busy during the window (every process)\n",
               busy_pct, nproc);

    printf("RESULT bench=idle nodes=%d heartbeat_ms=%d seconds=%.1f nproc=%ld cpu_avg_pct=%.2f "
           "cpu_max_pct=%.2f rss_start_kib=%ld rss_end_kib=%ld rss_max_kib=%ld",
           NODES, DEFAULT_HEARTBEAT_MS, window, nproc, avg_pct(n1, window), n1->max_pct,
           n1->rss_start, n1->rss_end, n1->rss_max);
    if (n1->have_metrics)
        printf(" msgs_sent_per_s=%.1f msgs_per_peer_per_interval=%.2f",
               rate(n1->sent0, n1->sent1, msecs),
               (n1->sent1 - n1->sent0) / intervals / (double)(NODES - 1));
    if (n1->have_bytes)
        printf(" bytes_per_peer_per_interval=%.0f",
               (n1->bytes1 - n1->bytes0) / intervals / (double)(NODES - 1));
    printf(" csw_per_s=%.0f threads=%ld", rate((double)n1->csw0, (double)n1->csw1, window),
           n1->threads);
    double all = 0, rss_max = 0;
    for (int i = 0; i < NODES; i++) {
        all += avg_pct(&s[i], window);
        if (s[i].rss_max > rss_max)
            rss_max = (double)s[i].rss_max;
    }
    printf(" all_nodes_cpu_avg_pct=%.2f max_node_rss_kib=%.0f", all, rss_max);
    /* The figure is per role: a follower's and the leader's CPU
     * against etcd's (compare_etcd). */
    double fsum = 0, floop = 0;
    int nf = 0;
    for (int i = 0; i < NODES; i++) {
        if (strcmp(s[i].role, "leader") == 0)
            printf(" leader_cpu_avg_pct=%.2f leader_csw_per_s=%.0f", avg_pct(&s[i], window),
                   rate((double)s[i].csw0, (double)s[i].csw1, window));
        else if (strcmp(s[i].role, "follower") == 0)
            fsum += avg_pct(&s[i], window), nf++,
                floop += rate((double)s[i].loop0, (double)s[i].loop1, window);
    }
    /* Loop wake-ups are the load-insensitive side of the follower's CPU. */
    if (nf > 0)
        printf(" follower_cpu_avg_pct=%.2f follower_loop_wakeups_per_s=%.1f", fsum / nf,
               floop / nf);
    if (busy_pct >= 0)
        printf(" machine_busy_pct=%.1f", busy_pct);
    printf("\n");

    h_cluster_pass(c);
    h_cluster_destroy(c);
    return taken < seconds ? 130 : 0;
}
