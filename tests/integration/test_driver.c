/* Integration: the `process` driver (pipeline/exec/driver.h) runs real processes
 * on a libuv loop, and the chimera-demo service exits as documented. Every
 * wait is on a condition with a deadline, never on time. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "pipeline/exec/driver.h"

#define DEADLINE_MS 20000

struct fixture {
    uv_loop_t loop;
    char dir[64];
    char log[128];
};

struct exited {
    int calls;
    int64_t status;
    int signal;
};

static void on_exit_record(struct drv_proc *p, int64_t status, int sig, void *arg)
{
    (void)p;
    struct exited *e = arg;
    e->calls++;
    e->status = status;
    e->signal = sig;
}

static bool run_until(uv_loop_t *loop, bool (*pred)(void *), void *arg)
{
    return h_loop_until(loop, pred, arg, DEADLINE_MS);
}

static bool has_exited(void *arg)
{
    return ((struct exited *)arg)->calls > 0;
}

static void wait_exit(struct fixture *f, struct exited *e)
{
    if (!run_until(&f->loop, has_exited, e))
        fail_msg("the process did not exit within %d ms", DEADLINE_MS);
}

/* The file's text ("" when it cannot be read); free it. */
static char *slurp(const char *path)
{
    char *s = h_read_file(path);
    return s ? s : strdup("");
}

struct log_wait {
    const char *path;
    const char *needle;
};

static bool log_contains(void *arg)
{
    struct log_wait *w = arg;
    return h_file_contains(w->path, w->needle);
}

static void wait_log(struct fixture *f, const char *needle)
{
    struct log_wait w = {f->log, needle};
    if (!run_until(&f->loop, log_contains, &w))
        fail_msg("%s never showed \"%s\"", f->log, needle);
}

static struct drv_proc *start(struct fixture *f, const char *const *argv, const char *const *env,
                              const char *cwd, struct exited *e)
{
    struct drv_spec spec = {.argv = argv, .env = env, .cwd = cwd, .log_path = f->log};
    struct drv_proc *p = NULL;
    char err[256];
    int rc = drv_start(&f->loop, &spec, on_exit_record, e, &p, err, sizeof err);
    if (rc != 0)
        fail_msg("drv_start: %s", err);
    assert_non_null(p);
    return p;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    if (!f || uv_loop_init(&f->loop) != 0)
        return -1;
    snprintf(f->dir, sizeof f->dir, "/tmp/chimera-drv-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->log, sizeof f->log, "%s/service.log", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    int rc = h_loop_close(&f->loop, DEADLINE_MS);
    h_remove_tree(f->dir);
    free(f);
    return rc;
}

static void test_exit_status_is_reported(void **state)
{
    struct fixture *f = *state;
    struct exited e = {0};
    const char *argv[] = {"/bin/sh", "-c", "exit 7", NULL};
    struct drv_proc *p = start(f, argv, NULL, NULL, &e);
    assert_true(drv_pid(p) > 0);
    wait_exit(f, &e);
    assert_int_equal(e.calls, 1);
    assert_int_equal(e.status, 7);
    assert_int_equal(e.signal, 0);
    assert_false(drv_running(p));
    drv_free(p);
}

static void test_env_and_cwd_reach_the_process(void **state)
{
    struct fixture *f = *state;
    struct exited e = {0};
    const char *argv[] = {"/bin/sh", "-c", "echo \"X=$X\"; pwd", NULL};
    const char *env[] = {"X=hello-chimera", NULL};
    struct drv_proc *p = start(f, argv, env, f->dir, &e);
    wait_exit(f, &e);
    assert_int_equal(e.status, 0);
    drv_free(p);
    char real[PATH_MAX], want[PATH_MAX + 2];
    assert_non_null(realpath(f->dir, real));
    snprintf(want, sizeof want, "\n%s\n", real);
    char *log = slurp(f->log);
    assert_non_null(strstr(log, "X=hello-chimera\n"));
    assert_non_null(strstr(log, want));
    free(log);
}

static void test_env_overrides_the_node_environment(void **state)
{
    struct fixture *f = *state;
    struct exited e = {0};
    setenv("CHIMERA_TEST_VAR", "from-node", 1);
    const char *argv[] = {"/bin/sh", "-c", "echo \"V=$CHIMERA_TEST_VAR\"; echo \"P=$PATH\"", NULL};
    const char *env[] = {"CHIMERA_TEST_VAR=from-spec", NULL};
    struct drv_proc *p = start(f, argv, env, NULL, &e);
    wait_exit(f, &e);
    drv_free(p);
    unsetenv("CHIMERA_TEST_VAR");
    char *log = slurp(f->log);
    assert_non_null(strstr(log, "V=from-spec\n"));
    assert_null(strstr(log, "from-node"));
    assert_non_null(strstr(log, "P=/")); /* the node's PATH is kept */
    free(log);
}

/* A bare command name is looked up in the PATH the service gets (the spec's
 * when it sets one), as execvp does in the service's environment. */
/* Starts argv and waits for its exit. */
static struct exited run_to_exit(struct fixture *f, const char *const *argv, const char *const *env)
{
    struct exited e = {0};
    struct drv_proc *p = start(f, argv, env, NULL, &e);
    wait_exit(f, &e);
    drv_free(p);
    return e;
}

/* An executable file (mode 0755) holding text. */
static void write_executable(const char *path, const char *text)
{
    FILE *file = fopen(path, "w");
    assert_non_null(file);
    fputs(text, file);
    fclose(file);
    assert_int_equal(chmod(path, 0755), 0);
}

static void test_a_command_is_found_in_the_service_path(void **state)
{
    struct fixture *f = *state;
    char bin[160], tool[200];
    snprintf(bin, sizeof bin, "%s/bin", f->dir);
    snprintf(tool, sizeof tool, "%s/chimera-path-probe", bin);
    assert_int_equal(mkdir(bin, 0755), 0);
    write_executable(tool, "#!/bin/sh\necho found-in-service-path\n");
    char path[200];
    snprintf(path, sizeof path, "PATH=/nonexistent:%s", bin);
    const char *argv[] = {"chimera-path-probe", NULL};
    const char *env[] = {path, NULL};
    assert_int_equal(run_to_exit(f, argv, env).status, 0);
    wait_log(f, "found-in-service-path\n");
}

/* execvp's fallback, as libuv's spawn had it: an executable file without a
 * "#!" line (ENOEXEC from execve) is run by /bin/sh, with its arguments. */
static void test_a_script_without_an_interpreter_line_runs_with_bin_sh(void **state)
{
    struct fixture *f = *state;
    char tool[160];
    snprintf(tool, sizeof tool, "%s/no-shebang", f->dir);
    write_executable(tool, "echo ran-by-sh \"$1\" \"$2\"\nexit 4\n");
    const char *argv[] = {tool, "first", "second", NULL};
    assert_int_equal(run_to_exit(f, argv, NULL).status, 4);
    wait_log(f, "ran-by-sh first second\n");
}

static void test_missing_command_fails_naming_it(void **state)
{
    struct fixture *f = *state;
    const char *argv[] = {"chimera-no-such-command", "--flag", NULL};
    struct drv_spec spec = {.argv = argv, .log_path = f->log};
    struct drv_proc *p = (struct drv_proc *)1;
    char err[256];
    struct exited e = {0};
    int rc = drv_start(&f->loop, &spec, on_exit_record, &e, &p, err, sizeof err);
    assert_int_equal(rc, UV_ENOENT);
    assert_null(p);
    assert_non_null(strstr(err, "chimera-no-such-command"));
    assert_null(strchr(err, '\n'));
    uv_run(&f->loop, UV_RUN_NOWAIT);
    assert_int_equal(e.calls, 0);
}

static void test_stop_sends_sigterm(void **state)
{
    struct fixture *f = *state;
    struct exited e = {0};
    const char *argv[] = {"sleep", "1000", NULL}; /* found in PATH */
    struct drv_proc *p = start(f, argv, NULL, NULL, &e);
    assert_true(drv_running(p));
    drv_stop(p, 10000);
    wait_exit(f, &e);
    assert_int_equal(e.calls, 1);
    assert_int_equal(e.signal, SIGTERM);
    drv_free(p);
}

static void test_term_ignored_is_killed_after_grace(void **state)
{
    struct fixture *f = *state;
    struct exited e = {0};
    const char *argv[] = {"/bin/sh", "-c", "trap '' TERM; echo ready; while :; do sleep 1; done",
                          NULL};
    struct drv_proc *p = start(f, argv, NULL, NULL, &e);
    wait_log(f, "ready\n");
    drv_stop(p, 200);
    drv_stop(p, 200); /* idempotent */
    wait_exit(f, &e);
    assert_int_equal(e.signal, SIGKILL);
    drv_stop(p, 200); /* after the exit: nothing */
    uv_run(&f->loop, UV_RUN_NOWAIT);
    assert_int_equal(e.calls, 1);
    drv_free(p);
}

static bool pid_gone(void *arg)
{
    int pid = *(int *)arg;
    if (kill(pid, 0) != 0 && errno == ESRCH)
        return true;
    char path[64], stat[256];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *fp = fopen(path, "r");
    if (!fp)
        return true;
    size_t n = fread(stat, 1, sizeof stat - 1, fp);
    fclose(fp);
    stat[n] = '\0';
    const char *close = strrchr(stat, ')');
    return close && close[1] == ' ' && (close[2] == 'Z' || close[2] == 'X'); /* a zombie */
}

static void test_shell_child_is_killed_with_the_group(void **state)
{
    struct fixture *f = *state;
    struct exited e = {0};
    const char *argv[] = {"/bin/sh", "-c", "sleep 1000 & echo \"child=$!\"; wait", NULL};
    struct drv_proc *p = start(f, argv, NULL, NULL, &e);
    wait_log(f, "child=");
    char *log = slurp(f->log);
    int child = atoi(strstr(log, "child=") + 6);
    free(log);
    assert_true(child > 0);
    assert_false(pid_gone(&child));
    drv_stop(p, 10000);
    wait_exit(f, &e);
    assert_int_equal(e.calls, 1);
    if (!run_until(&f->loop, pid_gone, &child))
        fail_msg("the shell's child %d survived the stop", child);
    drv_free(p);
}

/* The descriptors the shell has, as "0 1 2": ls runs as the shell's child
 * (`; echo end` keeps the shell from exec'ing it), so the listing is the
 * shell's own, without a descriptor of ls's reading the directory. */
static void test_service_gets_only_stdin_stdout_stderr(void **state)
{
    struct fixture *f = *state;
    int leak = open("/dev/null", O_RDONLY); /* no O_CLOEXEC, as an inherited lock file */
    assert_true(leak > 2);
    struct exited e = {0};
    const char *argv[] = {"/bin/sh", "-c", "ls /proc/$$/fd; echo end", NULL};
    struct drv_proc *p = start(f, argv, NULL, NULL, &e);
    wait_exit(f, &e);
    close(leak);
    char *log = slurp(f->log), fds[64] = "";
    char *line = strchr(log, '\n'); /* past the "=== started" header */
    for (char *next; line && (line = line + 1, next = strchr(line, '\n'));) {
        *next = '\0';
        if (strcmp(line, "end") == 0)
            break;
        snprintf(fds + strlen(fds), sizeof fds - strlen(fds), "%s%s", fds[0] ? " " : "", line);
        line = next;
    }
    free(log);
    assert_string_equal(fds, "0 1 2");
    drv_free(p);
}

static void test_processes_left_with_a_mark_are_found_and_killed(void **state)
{
    struct fixture *f = *state;
    struct exited e = {0};
    char mark[160];
    snprintf(mark, sizeof(mark), "CHIMERA_SERVICE_OWNER=%s/owner", f->dir);
    const char *env[] = {mark, NULL};
    const char *argv[] = {"/bin/sh", "-c", "sleep 1000 & echo \"child=$!\"; wait", NULL};
    struct drv_proc *p = start(f, argv, env, NULL, &e);
    wait_log(f, "child=");
    char *log = slurp(f->log);
    int child = atoi(strstr(log, "child=") + 6), shell = drv_pid(p);
    free(log);
    /* As after a node's death: nobody holds a handle, only the mark is left. */
    char other[200];
    snprintf(other, sizeof(other), "%s-not", mark);
    assert_int_equal(drv_kill_marked(other), 0);
    assert_true(drv_kill_marked(mark) >= 1);
    if (!run_until(&f->loop, pid_gone, &shell) || !run_until(&f->loop, pid_gone, &child))
        fail_msg("a marked process survived drv_kill_marked");
    wait_exit(f, &e);
    drv_free(p);
}

static void test_free_while_running_kills_without_callback(void **state)
{
    struct fixture *f = *state;
    struct exited e = {0};
    const char *argv[] = {"sleep", "1000", NULL};
    struct drv_proc *p = start(f, argv, NULL, NULL, &e);
    int pid = drv_pid(p);
    drv_free(p);
    if (!run_until(&f->loop, pid_gone, &pid))
        fail_msg("drv_free left %d running", pid);
    uv_run(&f->loop, UV_RUN_NOWAIT);
    assert_int_equal(e.calls, 0);
}

static void test_log_gets_header_and_output_across_starts(void **state)
{
    struct fixture *f = *state;
    mode_t old = umask(027);
    int pids[2];
    for (int i = 0; i < 2; i++) {
        struct exited e = {0};
        const char *argv[] = {"/bin/sh", "-c", i == 0 ? "echo first; echo oops >&2" : "echo second",
                              NULL};
        struct drv_proc *p = start(f, argv, NULL, NULL, &e);
        pids[i] = drv_pid(p);
        wait_exit(f, &e);
        drv_free(p);
    }
    umask(old);
    struct stat st;
    assert_int_equal(stat(f->log, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0640);
    char *log = slurp(f->log);
    /* header 1, its output, header 2, its output; headers end in spaces */
    const char *at = log;
    for (int i = 0; i < 2; i++) {
        char pid[32];
        snprintf(pid, sizeof pid, " pid %d ===", pids[i]);
        const char *eol = strchr(at, '\n');
        if (strncmp(at, "=== started 20", 14) != 0 || !eol || !strstr(at, pid) ||
            strstr(at, pid) > eol)
            fail_msg("no header for pid %d where expected in:\n%s", pids[i], log);
        at = eol + 1;
        const char *out = i == 0 ? "first\noops\n" : "second\n";
        if (strncmp(at, out, strlen(out)) != 0)
            fail_msg("output %d not after its header in:\n%s", i, log);
        at += strlen(out);
    }
    assert_string_equal(at, "");
    free(log);
}

/* chimera-demo sits next to the test programs in the build directory. */
static const char *demo_path(void)
{
    static char path[PATH_MAX];
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    assert_true(n > 0);
    self[n] = '\0';
    snprintf(path, sizeof path, "%s/chimera-demo", dirname(self));
    return path;
}

static void test_demo_crash_after_exits_3(void **state)
{
    struct fixture *f = *state;
    struct exited e = {0};
    const char *argv[] = {demo_path(), "--port", "0", "--crash-after", "100ms", NULL};
    struct drv_proc *p = start(f, argv, NULL, NULL, &e);
    wait_exit(f, &e);
    assert_int_equal(e.status, 3);
    assert_int_equal(e.signal, 0);
    drv_free(p);
}

static void test_demo_sigterm_exits_0(void **state)
{
    struct fixture *f = *state;
    struct exited e = {0};
    const char *argv[] = {demo_path(), "--port", "0", "--version", "9.9", NULL};
    struct drv_proc *p = start(f, argv, NULL, NULL, &e);
    wait_log(f, "version 9.9 listening");
    drv_stop(p, 10000);
    wait_exit(f, &e);
    assert_int_equal(e.status, 0);
    assert_int_equal(e.signal, 0);
    wait_log(f, "SIGTERM received");
    drv_free(p);
}

static void test_demo_bad_option_exits_2(void **state)
{
    struct fixture *f = *state;
    const char *bad[][3] = {
        {"--bogus", NULL, NULL},
        {"--crash-after", "soon", NULL},
        {"--port", "70000", NULL},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct exited e = {0};
        const char *argv[] = {demo_path(), bad[i][0], bad[i][1], NULL};
        struct drv_proc *p = start(f, argv, NULL, NULL, &e);
        wait_exit(f, &e);
        assert_int_equal(e.status, 2);
        drv_free(p);
    }
    wait_log(f, "chimera-demo: unknown option --bogus (see --help)\n");
    wait_log(f, "chimera-demo: bad duration for --crash-after: soon (see --help)\n");
}

static void test_service_gets_only_the_kept_part_of_the_node_environment(void **state)
{
    struct fixture *f = *state;
    struct exited e = {0};
    setenv("CHIMERA_ADMIN_TOKEN_FILE", "/etc/chimera/admin.token", 1);
    setenv("CHIMERA_CLUSTER_KEY_FILE", "/etc/chimera/cluster.key", 1);
    setenv("CHIMERA_HTTP_READ_TOKEN", "/etc/chimera/read.token", 1);
    setenv("NODE_ONLY_SETTING", "node", 1);
    setenv("LC_TIME", "C", 1);
    setenv("TZ", "UTC", 1);
    const char *argv[] = {"/bin/sh", "-c", "env; echo END", NULL};
    const char *env[] = {"FROM_SPEC=yes", NULL};
    struct drv_proc *p = start(f, argv, env, NULL, &e);
    wait_exit(f, &e);
    drv_free(p);
    unsetenv("CHIMERA_ADMIN_TOKEN_FILE");
    unsetenv("CHIMERA_CLUSTER_KEY_FILE");
    unsetenv("CHIMERA_HTTP_READ_TOKEN");
    unsetenv("NODE_ONLY_SETTING");
    unsetenv("LC_TIME");
    unsetenv("TZ");
    char *log = slurp(f->log);
    assert_non_null(strstr(log, "\nEND\n"));
    if (strstr(log, "CHIMERA_") || strstr(log, "NODE_ONLY_SETTING"))
        fail_msg("the service got more than the kept variables:\n%s", log);
    assert_non_null(strstr(log, "\nFROM_SPEC=yes\n"));
    assert_non_null(strstr(log, "\nPATH=/"));
    assert_non_null(strstr(log, "\nLC_TIME=C\n"));
    assert_non_null(strstr(log, "\nTZ=UTC\n"));
    free(log);
}

/* Skips the calling test unless it runs as root (CI does: there it must). */
static void require_root(const char *what)
{
    if (geteuid() == 0)
        return;
    const char *req = getenv("CHIMERA_REQUIRE_NETNS");
    if (req && strcmp(req, "1") == 0)
        fail_msg("CHIMERA_REQUIRE_NETNS=1 but the test does not run as root");
    fprintf(stderr, "*** test_driver: %s SKIPPED (not root)\n", what);
    skip();
}

/* Starts spec (the test fails if it cannot) and waits for its exit status. */
static int64_t spec_exit_status(struct fixture *f, const struct drv_spec *spec)
{
    struct exited e = {0};
    struct drv_proc *p = NULL;
    char err[256];
    if (drv_start(&f->loop, spec, on_exit_record, &e, &p, err, sizeof err) != 0)
        fail_msg("drv_start: %s", err);
    wait_exit(f, &e);
    drv_free(p);
    return e.status;
}

static void test_service_runs_as_the_given_uid_and_gid(void **state)
{
    struct fixture *f = *state;
    require_root("set_user");
    /* The log is opened here, as root, in a directory the user cannot
     * enter: the service writes it through descriptors 1 and 2. */
    assert_int_equal(chmod(f->dir, 0700), 0);
    const char *argv[] = {"/bin/sh", "-c", "echo \"ids $(id -u) $(id -g) [$(id -G)]\"", NULL};
    struct drv_spec spec = {
        .argv = argv, .log_path = f->log, .set_user = true, .uid = 4000111, .gid = 4000222};
    assert_int_equal(spec_exit_status(f, &spec), 0);
    /* No supplementary group of this process (root's) is left. */
    wait_log(f, "ids 4000111 4000222 [4000222]\n");
}

/* The PATH search is made as the service's user, as execvp in the child
 * did: a file there that only root may run is passed over for the next
 * one, rather than picked because chimerad (root) could run it and then
 * refused at the exec ("permission denied"). */
static void test_a_file_the_service_user_may_not_run_is_passed_over_in_its_path(void **state)
{
    struct fixture *f = *state;
    require_root("path search as the service user");
    assert_int_equal(chmod(f->dir, 0755), 0);
    char first[160], second[160], tool[200], path[400];
    snprintf(first, sizeof first, "%s/root-only", f->dir);
    snprintf(second, sizeof second, "%s/everyone", f->dir);
    assert_int_equal(mkdir(first, 0755), 0);
    assert_int_equal(mkdir(second, 0755), 0);
    snprintf(tool, sizeof tool, "%s/chimera-path-probe", first);
    write_executable(tool, "#!/bin/sh\necho ran-the-root-only-copy\n");
    assert_int_equal(chmod(tool, 0700), 0);
    snprintf(tool, sizeof tool, "%s/chimera-path-probe", second);
    write_executable(tool, "#!/bin/sh\necho ran-as-the-service-user\n");
    snprintf(path, sizeof path, "PATH=%s:%s", first, second);
    const char *argv[] = {"chimera-path-probe", NULL};
    const char *env[] = {path, NULL};
    struct drv_spec spec = {.argv = argv,
                            .env = env,
                            .log_path = f->log,
                            .set_user = true,
                            .uid = 4000111,
                            .gid = 4000222};
    assert_int_equal(spec_exit_status(f, &spec), 0);
    wait_log(f, "ran-as-the-service-user\n");
}

/* A service whose environment has no PATH gets execvp's search, in the
 * directories confstr(_CS_PATH) names ("/bin:/usr/bin" with glibc), not
 * /usr/local/bin too. */
static void test_without_a_path_a_command_is_looked_up_where_execvp_looks(void **state)
{
    struct fixture *f = *state;
    require_root("a probe in /usr/local/bin");
    char cs[256];
    size_t n = confstr(_CS_PATH, cs, sizeof cs);
    if (n == 0 || n > sizeof cs || strstr(cs, "/usr/local/bin")) {
        fprintf(stderr, "*** test_driver: _CS_PATH has /usr/local/bin: SKIPPED\n");
        skip();
    }
    char tool[128], name[64];
    snprintf(name, sizeof name, "chimera-cs-path-probe-%d", (int)getpid());
    snprintf(tool, sizeof tool, "/usr/local/bin/%s", name);
    write_executable(tool, "#!/bin/sh\necho found-in-usr-local-bin\n");
    char *saved = getenv("PATH") ? strdup(getenv("PATH")) : NULL;
    unsetenv("PATH");
    const char *local_argv[] = {name, NULL}, *sh_argv[] = {"sh", "-c", "exit 5", NULL};
    struct drv_spec local = {.argv = local_argv, .log_path = f->log};
    struct drv_spec sh = {.argv = sh_argv, .log_path = f->log};
    struct exited le = {0}, se = {0};
    struct drv_proc *lp = NULL, *sp = NULL;
    char lerr[256], serr[256];
    int lrc = drv_start(&f->loop, &local, on_exit_record, &le, &lp, lerr, sizeof lerr);
    int src = drv_start(&f->loop, &sh, on_exit_record, &se, &sp, serr, sizeof serr);
    if (saved)
        setenv("PATH", saved, 1);
    free(saved);
    unlink(tool);
    if (lp) {
        wait_exit(f, &le);
        drv_free(lp);
        if (sp) {
            wait_exit(f, &se);
            drv_free(sp);
        }
        fail_msg("%s in /usr/local/bin ran without a PATH", name);
    }
    assert_int_equal(lrc, UV_ENOENT);
    assert_non_null(strstr(lerr, name));
    if (src != 0)
        fail_msg("sh without a PATH: %s", serr);
    wait_exit(f, &se);
    drv_free(sp);
    assert_int_equal(se.status, 5);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_exit_status_is_reported),
        T(test_env_and_cwd_reach_the_process),
        T(test_env_overrides_the_node_environment),
        T(test_a_command_is_found_in_the_service_path),
        T(test_a_script_without_an_interpreter_line_runs_with_bin_sh),
        T(test_missing_command_fails_naming_it),
        T(test_stop_sends_sigterm),
        T(test_term_ignored_is_killed_after_grace),
        T(test_shell_child_is_killed_with_the_group),
        T(test_service_gets_only_stdin_stdout_stderr),
        T(test_processes_left_with_a_mark_are_found_and_killed),
        T(test_free_while_running_kills_without_callback),
        T(test_log_gets_header_and_output_across_starts),
        T(test_demo_crash_after_exits_3),
        T(test_demo_sigterm_exits_0),
        T(test_demo_bad_option_exits_2),
        T(test_service_gets_only_the_kept_part_of_the_node_environment),
        T(test_service_runs_as_the_given_uid_and_gid),
        T(test_a_file_the_service_user_may_not_run_is_passed_over_in_its_path),
        T(test_without_a_path_a_command_is_looked_up_where_execvp_looks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
