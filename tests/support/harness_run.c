/* Test harness: running programs (chimeractl, ip, ...) with their output
 * captured, and what benchmarks share. See harness.h. */
#include "harness.h"
#include "harness_int.h"

#include <dirent.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_ARGS 64

/* ---- for benchmarks --------------------------------------------------- */

struct h_cluster *h_bench_cluster(int n, const char *who, int *exit_code)
{
    struct h_cluster *c = h_cluster_create(n);
    *exit_code = 1;
    if (c && h_cluster_start_all(c, h_timeout_ms(), who) != 0) {
        if (h_interrupted()) {
            h_cluster_pass(c); /* nothing went wrong: no logs to keep */
            *exit_code = 130;
        }
        h_cluster_destroy(c); /* otherwise kept: the logs say why */
        c = NULL;
    }
    return c;
}

double h_proc_cpu_seconds(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return -1;
    size_t got = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[got] = '\0';
    /* comm (field 2) may hold spaces or parentheses: parse after the last ')'. */
    const char *p = strrchr(buf, ')');
    unsigned long long ut, st;
    if (!p ||
        sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

bool h_thread_cpu_read(pid_t pid, struct h_thread_cpu *t)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    t->n = 0;
    DIR *d = opendir(path);
    if (!d)
        return false;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && t->n < H_MAX_THREADS) {
        char *end;
        long tid = strtol(e->d_name, &end, 10);
        if (*end || tid <= 0)
            continue;
        char stat[96];
        snprintf(stat, sizeof stat, "/proc/%d/task/%ld/schedstat", (int)pid, tid);
        FILE *f = fopen(stat, "re");
        unsigned long long ns;
        if (f && fscanf(f, "%llu", &ns) == 1) {
            t->tid[t->n] = (int)tid;
            t->ns[t->n++] = ns;
        }
        if (f)
            fclose(f);
    }
    closedir(d);
    return t->n > 0;
}

double h_thread_cpu_delta(const struct h_thread_cpu *a, const struct h_thread_cpu *b, int *gone)
{
    unsigned long long sum = 0;
    int matched = 0;
    for (int j = 0; j < b->n; j++) {
        unsigned long long before = 0;
        for (int i = 0; i < a->n; i++)
            if (a->tid[i] == b->tid[j]) {
                before = a->ns[i] <= b->ns[j] ? a->ns[i] : b->ns[j];
                matched++;
                break;
            }
        sum += b->ns[j] - before;
    }
    if (gone)
        *gone = a->n - matched;
    return (double)sum / 1e9;
}

/* ---- running programs ------------------------------------------------- */

bool h_run(const struct h_cluster *c, const char *const argv[], int timeout_ms, int *code,
           char **out, char **err)
{
    static unsigned seq;
    char out_path[H_PATH_MAX + 32], err_path[H_PATH_MAX + 32];
    const char *dir = c ? c->dir : "/tmp";
    seq++;
    snprintf(out_path, sizeof out_path, "%s/run-%d-%u.out", dir, (int)getpid(), seq);
    snprintf(err_path, sizeof err_path, "%s/run-%d-%u.err", dir, (int)getpid(), seq);
    unlink(out_path);
    unlink(err_path);
    pid_t pid = h_spawn(argv, out_path, err_path);
    bool done = false;
    int st = 0;
    if (pid > 0) {
        done = h_wait_pid(pid, timeout_ms, &st);
        if (!done) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
        }
    }
    if (code)
        *code = !done ? -1 : WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    if (out)
        *out = h_read_file(out_path);
    if (err)
        *err = h_read_file(err_path);
    /* Kept with the cluster for post-mortems; loose files in /tmp are not. */
    if (!c) {
        unlink(out_path);
        unlink(err_path);
    }
    return done;
}

bool h_ctl(const struct h_cluster *c, int i, int *code, char **out, char **err, ...)
{
    const char *argv[MAX_ARGS];
    char addr[64];
    int a = 0;
    /* A node in a namespace is only reachable from inside it. */
    if (i >= 0 && c->nodes[i].netns[0] && h_ip_path()) {
        argv[a++] = h_ip_path();
        argv[a++] = "netns";
        argv[a++] = "exec";
        argv[a++] = c->nodes[i].netns;
    }
    argv[a++] = CHIMERACTL_PATH;
    if (i >= 0) {
        snprintf(addr, sizeof addr, "%s:%d", c->nodes[i].http_host, c->nodes[i].http_port);
        argv[a++] = "--addr";
        argv[a++] = addr;
    }
    va_list ap;
    va_start(ap, err);
    const char *s;
    while ((s = va_arg(ap, const char *)) != NULL && a < MAX_ARGS - 1)
        argv[a++] = s;
    va_end(ap);
    argv[a] = NULL;
    return h_run(c, argv, h_timeout_ms(), code, out, err);
}

int h_bench_finish(struct h_cluster *c, int rc)
{
    if (rc == 0)
        h_cluster_pass(c);
    h_cluster_destroy(c);
    if (rc == 0 && h_interrupted())
        rc = 130;
    return rc;
}
