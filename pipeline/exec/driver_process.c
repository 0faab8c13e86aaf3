/* The `process` driver (see driver.h). */
#include "pipeline/exec/driver.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

struct drv_proc {
    uv_poll_t exit_watch; /* the pidfd: readable once the process has exited */
    uv_timer_t kill_timer;
    drv_exit_fn on_exit;
    void *arg;
    int pid;
    int pidfd;
    int open_handles; /* handles not yet closed; the memory goes with the last */
    bool running;
    bool stopping;
    bool freed;
};

static void on_handle_closed(uv_handle_t *h)
{
    struct drv_proc *p = h->data;
    if (--p->open_handles == 0) {
        close(p->pidfd);
        free(p);
    }
}

static void close_all(struct drv_proc *p)
{
    uv_close((uv_handle_t *)&p->kill_timer, on_handle_closed);
    uv_close((uv_handle_t *)&p->exit_watch, on_handle_closed);
}

static void kill_group(int pid, int sig)
{
    if (pid > 0)
        (void)kill(-pid, sig);
}

static void on_exited(uv_poll_t *h, int status, int events)
{
    (void)status;
    (void)events;
    struct drv_proc *p = h->data;
    siginfo_t si;
    memset(&si, 0, sizeof(si));
    if (waitid(P_PID, (id_t)p->pid, &si, WEXITED | WNOHANG) != 0 || si.si_pid == 0)
        return; /* not over yet */
    uv_poll_stop(h);
    p->running = false;
    uv_timer_stop(&p->kill_timer);
    /* What is left of the instance's group goes with its leader. */
    kill_group(p->pid, SIGKILL);
    if (p->freed) {
        close_all(p);
        return;
    }
    bool exited = si.si_code == CLD_EXITED;
    if (p->on_exit)
        p->on_exit(p, exited ? si.si_status : 0, exited ? 0 : si.si_status, p->arg);
}

static void on_grace_over(uv_timer_t *t)
{
    struct drv_proc *p = t->data;
    if (p->running)
        kill_group(p->pid, SIGKILL);
}

/* Whether a variable of the node's environment reaches services. */
static bool kept(const char *entry)
{
    static const char *const names[] = {DRV_ENV_KEPT};
    const char *eq = strchr(entry, '=');
    size_t len = eq ? (size_t)(eq - entry) : strlen(entry);
    if (len > 3 && strncmp(entry, "LC_", 3) == 0)
        return true;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strlen(names[i]) == len && strncmp(entry, names[i], len) == 0)
            return true;
    return false;
}

/* The kept part of the node's environment with spec's entries added or
 * overriding. */
static char **merge_env(const char *const *extra)
{
    size_t n = 0, m = 0;
    while (environ && environ[n])
        n++;
    while (extra && extra[m])
        m++;
    char **env = calloc(n + m + 1, sizeof *env);
    if (!env)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const char *eq = strchr(environ[i], '=');
        size_t len = eq ? (size_t)(eq - environ[i]) : strlen(environ[i]);
        bool dropped = !kept(environ[i]);
        for (size_t j = 0; j < m && !dropped; j++)
            dropped = strncmp(extra[j], environ[i], len) == 0 && extra[j][len] == '=';
        if (!dropped)
            env[k++] = environ[i];
    }
    for (size_t j = 0; j < m; j++)
        env[k++] = (char *)extra[j];
    env[k] = NULL;
    return env;
}

/* The header line, padded with spaces to a width that does not depend on
 * the pid (pids are at most 7 digits on Linux: pid_max <= 2^22). */
#define HEADER_PID_WIDTH 7

/* A service gets stdin, stdout and stderr and nothing else: whatever this
 * process inherited from whoever started it (a lock file's descriptor, a
 * socket) or opened without O_CLOEXEC must not outlive it in a service.
 * Marking them close-on-exec in the parent is enough, and harmless to it:
 * the flag only acts at exec, so libuv's and NNG's descriptors keep working
 * here, and the log descriptor reaches the child through dup2 onto 1 and 2,
 * which clears the flag on the copies. */
static void cloexec_all_but_stdio(void)
{
#ifdef CLOSE_RANGE_CLOEXEC
    if (close_range(3, ~0u, CLOSE_RANGE_CLOEXEC) == 0)
        return;
#endif
    /* Kernels before 5.11: walk the descriptors this process has. */
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return;
    int self = dirfd(d);
    for (struct dirent *e; (e = readdir(d));) {
        char *end;
        long fd = strtol(e->d_name, &end, 10);
        if (*end || end == e->d_name || fd <= 2 || fd == self)
            continue;
        int flags = fcntl((int)fd, F_GETFD);
        if (flags >= 0 && !(flags & FD_CLOEXEC))
            fcntl((int)fd, F_SETFD, flags | FD_CLOEXEC);
    }
    closedir(d);
}

static int format_header(char *line, size_t size, const char *stamp, int pid)
{
    char pid_s[16] = "?";
    if (pid > 0)
        snprintf(pid_s, sizeof pid_s, "%d", pid);
    int len = snprintf(line, size, "=== started %s pid %s ===", stamp, pid_s);
    int pad = HEADER_PID_WIDTH - (int)strlen(pid_s);
    while (pad-- > 0 && len > 0 && (size_t)len + 2 < size)
        line[len++] = ' ';
    if (len > 0 && (size_t)len + 1 < size) {
        line[len++] = '\n';
        line[len] = '\0';
    }
    return len;
}

/* Appends the header before the child exists (so that it precedes the
 * child's output whatever the scheduling) with "?" for the pid; returns its
 * offset in the file, or -1. */
static off_t write_header(int fd, char stamp[32])
{
    char line[128];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(stamp, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
    int len = format_header(line, sizeof line, stamp, 0);
    if (len <= 0 || write(fd, line, (size_t)len) != len)
        return -1;
    /* With O_APPEND the offset of this open file is the end of our write,
     * whatever others append to the file meanwhile. */
    off_t end = lseek(fd, 0, SEEK_CUR);
    return end < len ? -1 : end - len;
}

/* Writes the pid over the placeholder, through a descriptor of its own:
 * on Linux, pwrite on an O_APPEND descriptor appends. */
static void fill_header_pid(const char *log, off_t at, const char *stamp, int pid)
{
    char line[128];
    int len = format_header(line, sizeof line, stamp, pid);
    int fd = open(log, O_WRONLY | O_CLOEXEC);
    if (fd < 0 || at < 0 || len <= 0) {
        if (fd >= 0)
            close(fd);
        return;
    }
    (void)!pwrite(fd, line, (size_t)len, at);
    close(fd);
}

/* ---- spawning ------------------------------------------------------------
 * Not uv_spawn: libuv forks, and the loop then waits until the child has
 * exec'd. A fork copies the page tables of chimerad (threads, heaps, maps)
 * and makes every page the loop writes until the exec a copy-on-write
 * fault; on a loaded machine that held the loop for 10-100 ms per service
 * started, during which no Raft message was read (a rollback's commit
 * reached the other nodes that much later). Here the child shares the
 * parent's memory until it execs (CLONE_VM | CLONE_VFORK, what glibc's
 * posix_spawn does; posix_spawn itself cannot switch users), and its exit
 * is watched on a pidfd by the loop. */

/* What the child needs; read by the child in the parent's memory. */
struct child {
    const char *cmd;    /* argv[0]: a path, or a name to look up in search */
    const char *search; /* the service's PATH (NULL: cmd is a path) */
    char *const *argv;
    char **sh_argv; /* /bin/sh path argv[1..]: execvp's way with a file execve refuses */
    char *const *envp;
    const char *cwd;
    int log_fd;
    int err_fd; /* written the errno of a failed step; closed by the exec */
    bool set_user;
    uid_t uid;
    gid_t gid;
};

#define CHILD_STACK_BYTES (64 * 1024)

/* Descriptor from becomes to, open across the exec (dup2 onto itself
 * would leave its close-on-exec flag). */
__attribute__((no_sanitize_address)) static int child_fd(int from, int to)
{
    return from == to ? fcntl(to, F_SETFD, 0) : dup2(from, to);
}

/* Runs path; returns only when that failed (errno says why). */
__attribute__((no_sanitize_address)) static void child_exec(const struct child *c, char *path)
{
    execve(path, c->argv, c->envp);
    /* An executable file without a "#!" line: a shell script, to execvp
     * (and to libuv's spawn, which used it). */
    if (errno == ENOEXEC) {
        c->sh_argv[1] = path;
        execve("/bin/sh", c->sh_argv, c->envp);
    }
}

/* execvp's search, made by the child as the service's user (after the
 * switch), as posix_spawnp and libuv's execvp did: a file the service
 * cannot run is passed over for the next one in its PATH, which a check
 * made by chimerad (root) would have picked and then failed to exec. The
 * errors are execvp's: a file found but refused (EACCES) wins over none
 * found; an error that is not about where the file is stops the search.
 * Nothing here allocates: the child runs in the parent's memory (its
 * heap's locks included) on a small stack. */
__attribute__((no_sanitize_address)) static void child_search(const struct child *c)
{
    if (!c->search) {
        child_exec(c, (char *)c->cmd);
        return;
    }
    char path[PATH_MAX];
    size_t clen = 0;
    while (c->cmd[clen])
        clen++;
    bool refused = false;
    errno = ENOENT;
    for (const char *dir = c->search;;) {
        const char *end = dir;
        while (*end && *end != ':')
            end++;
        size_t dlen = (size_t)(end - dir), at = 0;
        /* An empty entry is the working directory; one too long for
         * PATH_MAX is passed over, as by execvp. */
        if (dlen + 1 + clen < sizeof(path)) {
            for (size_t k = 0; k < dlen; k++)
                path[at++] = dir[k];
            if (dlen)
                path[at++] = '/';
            for (size_t k = 0; k <= clen; k++)
                path[at++] = c->cmd[k];
            child_exec(c, path);
            if (errno == EACCES)
                refused = true;
            else if (errno != ENOENT && errno != ENOTDIR && errno != ESTALE && errno != ENODEV &&
                     errno != ETIMEDOUT)
                return;
        }
        if (!*end)
            break;
        dir = end + 1;
    }
    if (refused)
        errno = EACCES;
}

/* The child, on its own stack in the parent's memory while the parent is
 * suspended: system calls only (glibc's setuid would signal the parent's
 * threads; raw calls switch this process alone). The order is libuv's:
 * its own session, descriptors, directory, then the user. */
__attribute__((no_sanitize_address)) static int child_main(void *arg)
{
    const struct child *c = arg;
    struct sigaction dfl;
    memset(&dfl, 0, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++)
        (void)sigaction(sig, &dfl, NULL); /* SIGKILL, SIGSTOP and glibc's own refuse: fine */
    int nul = -1;
    if (setsid() < 0 || (nul = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0 ||
        child_fd(nul, 0) < 0 || child_fd(c->log_fd, 1) < 0 || child_fd(c->log_fd, 2) < 0)
        goto fail;
    if (c->cwd && chdir(c->cwd) != 0)
        goto fail;
    if (c->set_user && ((syscall(SYS_setgroups, 0, NULL) != 0 && errno != EPERM) ||
                        syscall(SYS_setgid, c->gid) != 0 || syscall(SYS_setuid, c->uid) != 0))
        goto fail;
    sigset_t none;
    sigemptyset(&none);
    (void)sigprocmask(SIG_SETMASK, &none, NULL);
    child_search(c);
fail:;
    int e = errno;
    (void)!write(c->err_fd, &e, sizeof(e));
    _exit(127);
}

/* The PATH a bare command name is looked up in: the service's (the one in
 * env: libuv set the child's environment before execvp), else execvp's
 * default, confstr's _CS_PATH (glibc: "/bin:/usr/bin"). NULL when cmd
 * names a path (it has a slash). */
static const char *search_path(const char *cmd, char *const *env, char *dflt, size_t cap)
{
    if (strchr(cmd, '/'))
        return NULL;
    for (char *const *e = env; *e; e++)
        if (strncmp(*e, "PATH=", 5) == 0)
            return *e + 5;
    size_t n = confstr(_CS_PATH, dflt, cap);
    if (n == 0 || n > cap)
        snprintf(dflt, cap, "%s", "/bin:/usr/bin");
    return dflt;
}

/* Runs c; its pid, or a negative libuv error (the exec's own included:
 * CLONE_VFORK returns once the child exec'd or gave up). */
static int spawn(struct child *c)
{
    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC) != 0)
        return uv_translate_sys_error(errno);
    c->err_fd = pipefd[1];
    void *stack = mmap(NULL, CHILD_STACK_BYTES, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stack == MAP_FAILED) {
        int rc = uv_translate_sys_error(errno);
        close(pipefd[0]);
        close(pipefd[1]);
        return rc;
    }
    /* No handler of ours may run in the child before it resets them. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int pid =
        clone(child_main, (char *)stack + CHILD_STACK_BYTES, CLONE_VM | CLONE_VFORK | SIGCHLD, c);
    int e = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    munmap(stack, CHILD_STACK_BYTES);
    close(pipefd[1]);
    int child_errno = 0;
    ssize_t n = 0;
    while (pid >= 0 && (n = read(pipefd[0], &child_errno, sizeof(child_errno))) < 0 &&
           errno == EINTR)
        ;
    close(pipefd[0]);
    if (pid < 0)
        return uv_translate_sys_error(e);
    if (n == (ssize_t)sizeof(child_errno)) {
        (void)waitpid(pid, NULL, 0);
        return uv_translate_sys_error(child_errno);
    }
    return pid;
}

/* The driver hears of an exit through a pidfd: without pidfd_open (Linux
 * before 5.3, or a seccomp filter that refuses it) it cannot watch a
 * service, so it starts none. Asked once. */
static bool pidfd_supported(void)
{
    static int known; /* 0 not asked, 1 yes, -1 no */
    if (!known) {
        int fd = (int)syscall(SYS_pidfd_open, getpid(), 0);
        known = fd < 0 && (errno == ENOSYS || errno == EPERM) ? -1 : 1;
        if (fd >= 0)
            close(fd);
    }
    return known > 0;
}

/* Spawns c and watches its exit on the loop: 0 or a negative libuv error. */
static int start_process(uv_loop_t *loop, struct drv_proc *p, struct child *c)
{
    int pid = spawn(c);
    if (pid < 0)
        return pid;
    p->pid = pid;
    p->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    int rc =
        p->pidfd < 0 ? uv_translate_sys_error(errno) : uv_poll_init(loop, &p->exit_watch, p->pidfd);
    if (rc != 0) { /* no way to hear of its exit: it must not run unwatched */
        kill_group(pid, SIGKILL);
        (void)waitpid(pid, NULL, 0);
        if (p->pidfd >= 0)
            close(p->pidfd);
        return rc;
    }
    p->exit_watch.data = p;
    p->kill_timer.data = p;
    uv_timer_init(loop, &p->kill_timer);
    p->open_handles = 2;
    p->running = true;
    uv_poll_start(&p->exit_watch, UV_READABLE, on_exited);
    return 0;
}

int drv_start(uv_loop_t *loop, const struct drv_spec *spec, drv_exit_fn on_exit, void *arg,
              struct drv_proc **out, char *err, size_t errlen)
{
    *out = NULL;
    if (errlen)
        err[0] = '\0';
    if (!spec || !spec->argv || !spec->argv[0]) {
        snprintf(err, errlen, "cannot start: no command");
        return UV_EINVAL;
    }
    const char *cmd = spec->argv[0];
    const char *log = spec->log_path ? spec->log_path : "/dev/null";
    int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (fd < 0) {
        int rc = uv_translate_sys_error(errno);
        snprintf(err, errlen, "cannot start %s: cannot open log %s: %s", cmd, log, uv_strerror(rc));
        return rc;
    }
    if (fd < 3) { /* chimerad started with 0-2 closed: the child's dup2 onto 0 would lose it */
        int high = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        close(fd);
        if (high < 0) {
            int rc = uv_translate_sys_error(errno);
            snprintf(err, errlen, "cannot start %s: %s", cmd, uv_strerror(rc));
            return rc;
        }
        fd = high;
    }
    char stamp[32];
    off_t header_at = write_header(fd, stamp);
    char **env = merge_env(spec->env);
    struct drv_proc *p = calloc(1, sizeof *p);
    if (!env || !p) {
        free(env);
        free(p);
        close(fd);
        snprintf(err, errlen, "cannot start %s: out of memory", cmd);
        return UV_ENOMEM;
    }
    p->on_exit = on_exit;
    p->arg = arg;
    char dflt[256];
    size_t argc = 0;
    while (spec->argv[argc])
        argc++;
    const char **sh_argv = calloc(argc + 2, sizeof(*sh_argv));
    if (!sh_argv || !pidfd_supported()) {
        int rc = sh_argv ? UV_ENOSYS : UV_ENOMEM;
        snprintf(err, errlen, "cannot start %s: %s", cmd,
                 sh_argv ? "pidfd_open is not supported by this kernel: the process driver needs "
                           "Linux 5.3 or later"
                         : "out of memory");
        free(sh_argv);
        free(env);
        free(p);
        close(fd);
        return rc;
    }
    sh_argv[0] = "/bin/sh";
    sh_argv[1] = cmd; /* the child puts the file it found here */
    for (size_t a = 1; a < argc; a++)
        sh_argv[a + 1] = spec->argv[a];
    struct child c = {.cmd = cmd,
                      .search = search_path(cmd, env, dflt, sizeof(dflt)),
                      .argv = (char *const *)spec->argv,
                      .sh_argv = (char **)sh_argv,
                      .envp = env,
                      .cwd = spec->cwd,
                      .log_fd = fd,
                      .set_user = spec->set_user,
                      .uid = (uid_t)spec->uid,
                      .gid = (gid_t)spec->gid};
    cloexec_all_but_stdio();
    int rc = start_process(loop, p, &c);
    free(sh_argv);
    free(env);
    if (rc != 0) {
        snprintf(err, errlen, "cannot start %s: %s", cmd, uv_strerror(rc));
        char line[320];
        int len = snprintf(line, sizeof line, "=== %s ===\n", err);
        if (len > 0)
            (void)!write(fd, line, strnlen(line, sizeof line));
        close(fd);
        free(p);
        return rc;
    }
    close(fd);
    fill_header_pid(log, header_at, stamp, p->pid);
    *out = p;
    return 0;
}

void drv_stop(struct drv_proc *p, uint32_t grace_ms)
{
    if (!p || !p->running || p->stopping)
        return;
    p->stopping = true;
    kill_group(p->pid, SIGTERM);
    uv_timer_start(&p->kill_timer, on_grace_over, grace_ms, 0);
}

void drv_set_exit(struct drv_proc *p, drv_exit_fn on_exit, void *arg)
{
    p->on_exit = on_exit;
    p->arg = arg;
}

int drv_pid(const struct drv_proc *p)
{
    return p ? p->pid : 0;
}

bool drv_running(const struct drv_proc *p)
{
    return p && p->running;
}

void drv_free(struct drv_proc *p)
{
    if (!p || p->freed)
        return;
    p->freed = true;
    if (p->running) {
        /* Reaped by on_exit_cb, which then closes the handles. */
        uv_timer_stop(&p->kill_timer);
        kill_group(p->pid, SIGKILL);
        return;
    }
    close_all(p);
}

bool drv_pid_has_mark(long pid, const char *mark, size_t mlen)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%ld/environ", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    static char env[256 * 1024];
    ssize_t n = read(fd, env, sizeof(env) - 1);
    close(fd);
    if (n <= 0)
        return false;
    env[n] = '\0';
    for (ssize_t at = 0; at < n; at += (ssize_t)strlen(env + at) + 1)
        if (strlen(env + at) == mlen && memcmp(env + at, mark, mlen) == 0)
            return true;
    return false;
}

int drv_kill_marked(const char *mark)
{
    DIR *d = opendir("/proc");
    if (!d)
        return 0;
    size_t mlen = strlen(mark);
    int found = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        char *end;
        long pid = strtol(de->d_name, &end, 10);
        if (*end || pid <= 1 || pid == (long)getpid() || !drv_pid_has_mark(pid, mark, mlen))
            continue;
        pid_t group = getpgid((pid_t)pid);
        if (group > 1 && group != getpgrp())
            kill(-group, SIGKILL);
        kill((pid_t)pid, SIGKILL);
        found++;
    }
    closedir(d);
    return found;
}
