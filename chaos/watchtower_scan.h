/* The stray scan's memory (node/chaos/watch.c): which processes a scan of
 * /proc already found without this node's mark, so that the scan, every
 * WATCH_SCAN_EVERY_MS, reads /proc/PID/environ (and asks getpgid) only for
 * processes it has not judged yet, not for every process of the machine.
 *
 * A process is known by its pid and the inode number of its /proc entry
 * (readdir's d_ino): a pid reused by a new process comes with a new entry
 * (Linux numbers /proc/PID inodes as it creates them), so it is checked
 * afresh; an entry renumbered for the same process is merely checked again.
 * An environment changes only at an exec, and a process caught between
 * fork and exec still shows its parent's: one is trusted to be unmarked
 * only once two scans in a row found it so (a spawn's fork-to-exec window
 * is far shorter than the interval). Whatever else could hide a stray (an
 * exec long after the fork, a kernel numbering entries otherwise) is found
 * by a full scan, every process checked, every WT_SCAN_FULL_EVERY scans.
 * Processes that carry the mark or belong to a service's group are never
 * remembered: they are looked at every scan, as is every process beyond
 * WT_SCAN_MAX.
 *
 * Pure. The shell calls wt_scan_begin, then for each /proc entry
 * wt_scan_check, and for each process a check found unmarked
 * wt_scan_unmarked, then wt_scan_end. */
#ifndef CHIMERA_CHAOS_WATCHTOWER_SCAN_H
#define CHIMERA_CHAOS_WATCHTOWER_SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WT_SCAN_MAX 2048
#define WT_SCAN_FULL_EVERY 15 /* scans: 30 s at one scan every 2 s */
#define WT_SCAN_TRUSTED 2     /* scans in a row that found a process unmarked */

struct wt_scan_entry {
    int32_t pid;
    uint32_t seen; /* scans in a row that found it unmarked */
    uint64_t ino;
};

struct wt_scan {
    struct wt_scan_entry known[WT_SCAN_MAX]; /* the last scan's, by pid */
    size_t nknown;
    struct wt_scan_entry next[WT_SCAN_MAX]; /* this scan's */
    size_t nnext;
    uint32_t scans; /* counts scans, for the full ones */
    bool full;      /* this scan checks every process */
};

void wt_scan_begin(struct wt_scan *s);
/* Whether to check process pid (its /proc entry's inode ino) for the mark;
 * false: it is known to be unmarked (and stays known). */
bool wt_scan_check(struct wt_scan *s, int64_t pid, uint64_t ino);
/* A check found process pid without the mark (and outside every service's
 * group). */
void wt_scan_unmarked(struct wt_scan *s, int64_t pid, uint64_t ino);
void wt_scan_end(struct wt_scan *s);

#endif
