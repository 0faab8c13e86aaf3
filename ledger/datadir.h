/* The data directory's lock: one chimerad per data directory.
 *
 * A node takes an exclusive flock(2) on DATA/LOCK before it reads or
 * writes anything else there, and holds it until it exits; the kernel
 * releases it then, however the process ends, so a LOCK file left by a
 * node that was killed never blocks the next start (the reason for flock
 * rather than O_EXCL). The holder's pid is written in the file, for the
 * messages of whoever finds the lock taken. Readers (chimeractl ledger
 * verify) probe it with a shared lock they release at once. */
#ifndef CHIMERA_LEDGER_DATADIR_H
#define CHIMERA_LEDGER_DATADIR_H

#include <stddef.h>
#include <sys/types.h>

#define DATADIR_LOCK_FILE "LOCK"

/* Takes the lock on dir and writes this process's pid in it. Returns the
 * lock's file descriptor (close-on-exec: services never inherit it; keep
 * it open for the life of the process), or -1 with one line in err: when
 * another process holds it, *holder is its pid (0 when it could not be
 * read) and the line names dir and that pid. */
int datadir_lock(const char *dir, pid_t *holder, char *err, size_t errlen);

/* Whether a process holds dir's lock: 1 (its pid in *holder, 0 if
 * unknown), 0 (no lock file, or nobody holds it), -1 with one line in err
 * when the lock file cannot be read. Takes no lock that outlives the
 * call. */
int datadir_in_use(const char *dir, pid_t *holder, char *err, size_t errlen);

#endif
