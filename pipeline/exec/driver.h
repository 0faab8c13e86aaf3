/* The `process` driver: runs one service instance as a child process on a
 * libuv loop. Shell code (it performs I/O); the rollout core decides when to
 * start and stop, this only does it. Everything runs on the loop's thread.
 *
 * Spawning. The child shares this process's memory until it execs
 * (clone with CLONE_VM | CLONE_VFORK, as glibc's posix_spawn), so a start
 * holds the loop only for the exec itself, not for a copy of chimerad's
 * page tables (uv_spawn forks); its exit is watched on a pidfd (Linux 5.3
 * or later: without pidfd_open, drv_start fails with UV_ENOSYS and says so,
 * before any spawn). A command without a slash is looked up in the
 * service's PATH (execvp's default, confstr's _CS_PATH, when it has none)
 * by the child, as the service's user: a file that user may not run is
 * passed over, as execvp does; an executable file without a "#!" line is
 * run by /bin/sh with its arguments (execvp's ENOEXEC fallback).
 *
 * Process group. The child calls setsid() and leads a new session and
 * process group whose id is its pid.
 * drv_stop signals the whole group (kill(-pid, ...)), so the children of a
 * shell wrapper (`sh -c 'server & ...'`) are stopped with it. When the
 * group's leader exits (on its own or stopped), whatever is left of its group
 * is SIGKILLed: the instance is over, and orphaned workers must not keep its
 * port or its files. The price of its own session: the child does not die with the
 * node (no controlling terminal, no SIGHUP); the node stops its instances
 * explicitly, and a restarted node must find and stop stale ones itself.
 *
 * Logs. stdout and stderr are appended to spec->log_path (created 0640);
 * before the child's output the driver appends a line
 *   === started 2026-11-25T05:40:00Z pid 1234 ===
 * padded with trailing spaces to a fixed width: the line is appended before
 * the spawn (so it precedes the child's output, which otherwise races it)
 * with "?" for the pid, and the pid is written over it once known. When the
 * spawn fails, "=== cannot start CMD: REASON ===" follows it.
 *
 * Descriptors. The child gets stdin (/dev/null), stdout and stderr (the log)
 * and no other descriptor: drv_start marks every descriptor above 2 of this
 * process close-on-exec before it spawns, so nothing chimerad inherited from
 * whoever started it (a lock file, a socket) reaches a service.
 *
 * Environment. A service does not inherit chimerad's environment, which
 * names chimerad's secrets (CHIMERA_CLUSTER_KEY_FILE, CHIMERA_ADMIN_TOKEN_FILE,
 * ...) and whatever else its starter set: it gets only the variables of
 * this process named in DRV_ENV_KEPT (or starting with LC_), then spec->env
 * on top. Never a CHIMERA_* variable of this process.
 *
 * User. With spec->set_user, the child switches to spec->uid and spec->gid
 * before exec, and drops every supplementary group (as libuv's
 * UV_PROCESS_SETUID/SETGID did); only root may do this. The
 * working directory is entered before the switch, and the log is opened
 * here, by this process, and passed as descriptors 1 and 2: the service needs
 * no access to the log file, only to what it reads and writes itself.
 *
 * Lifetime. drv_start allocates a struct drv_proc; drv_free releases it. The
 * memory goes back when libuv has run the close callbacks of its handles, so
 * the loop must run after drv_free (as for any libuv handle). drv_free on a
 * running process SIGKILLs its group and waits (on the loop) to reap it; the
 * exit callback is never called after drv_free. drv_free may be called from
 * the exit callback. */
#ifndef CHIMERA_PIPELINE_DRIVER_H
#define CHIMERA_PIPELINE_DRIVER_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#include <uv.h>

struct drv_spec {
    const char *const *argv; /* NULL-terminated; argv[0] a path or looked up in PATH */
    const char *const *env;  /* NULL-terminated "NAME=value"s added to / overriding the
                                kept part of the node's environment; NULL for none */
    const char *cwd;         /* working directory, or NULL for the node's */
    const char *log_path;    /* stdout and stderr appended here; NULL: /dev/null */
    bool set_user;           /* run as uid:gid (see User above); false: as this process */
    uint32_t uid, gid;
};

/* The variables of the node's environment a service gets ("LC_*" too):
 * what a program needs to find programs, its locale and its time zone. */
#define DRV_ENV_KEPT "PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LANGUAGE", "TZ", "TMPDIR"

struct drv_proc;

/* Called once when the process exits, for whatever reason: exit_status is
 * its exit code (0 when killed by a signal), term_signal the signal that
 * killed it or 0. */
typedef void (*drv_exit_fn)(struct drv_proc *proc, int64_t exit_status, int term_signal, void *arg);

/* Spawns the process. Returns 0 and *out, or a negative libuv error code
 * with *out NULL and err holding one line that names the command (or the
 * log file), e.g. "cannot start nosuch-cmd: no such file or directory". */
int drv_start(uv_loop_t *loop, const struct drv_spec *spec, drv_exit_fn on_exit, void *arg,
              struct drv_proc **out, char *err, size_t errlen);

/* SIGTERM to the process group, then SIGKILL if the process is still
 * running grace_ms later. Idempotent (a second call changes nothing); does
 * nothing once the process has exited. The exit callback fires once. */
void drv_stop(struct drv_proc *proc, uint32_t grace_ms);

/* The exit callback is on_exit(arg) from now on: who owns the process
 * changed (a release's services handed aside while they exit). */
void drv_set_exit(struct drv_proc *proc, drv_exit_fn on_exit, void *arg);

int drv_pid(const struct drv_proc *proc);      /* its pid (also its process group id) */
bool drv_running(const struct drv_proc *proc); /* spawned and not yet exited */

/* Releases the process (see Lifetime above). NULL is accepted. */
void drv_free(struct drv_proc *proc);

/* Kills (SIGKILL) every process whose environment holds exactly the entry
 * mark ("NAME=value"), with its process group, and returns how many it
 * found. A node marks the services it starts with its data directory, so
 * that whatever an earlier run left behind (it was killed, or killed just
 * after a spawn and before it could note the pid) is found at the next
 * start, pid files or not. Linux: it reads /proc/PID/environ. */
int drv_kill_marked(const char *mark);
/* Whether process pid's environment holds exactly the entry mark (mlen
 * bytes, "NAME=VALUE"): how drv_kill_marked recognises a service. */
bool drv_pid_has_mark(long pid, const char *mark, size_t mlen);

#endif
