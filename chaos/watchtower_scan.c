#include "chaos/watchtower_scan.h"

#include <stdlib.h>
#include <string.h>

static const struct wt_scan_entry *find(const struct wt_scan *s, int64_t pid)
{
    size_t lo = 0, hi = s->nknown;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->known[mid].pid == pid)
            return &s->known[mid];
        if (s->known[mid].pid < pid)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* How many scans in a row found pid (with entry ino) unmarked before this one. */
static uint32_t seen_before(const struct wt_scan *s, int64_t pid, uint64_t ino)
{
    const struct wt_scan_entry *e = find(s, pid);
    return e && e->ino == ino ? e->seen : 0;
}

static void remember(struct wt_scan *s, int64_t pid, uint64_t ino, uint32_t seen)
{
    if (s->nnext < WT_SCAN_MAX)
        s->next[s->nnext++] = (struct wt_scan_entry){(int32_t)pid, seen, ino};
}

void wt_scan_begin(struct wt_scan *s)
{
    s->nnext = 0;
    s->full = s->scans % WT_SCAN_FULL_EVERY == WT_SCAN_FULL_EVERY - 1;
    s->scans++;
}

bool wt_scan_check(struct wt_scan *s, int64_t pid, uint64_t ino)
{
    if (pid <= 0 || pid > INT32_MAX)
        return true;
    uint32_t seen = seen_before(s, pid, ino);
    if (s->full || seen < WT_SCAN_TRUSTED)
        return true;
    remember(s, pid, ino, seen);
    return false;
}

void wt_scan_unmarked(struct wt_scan *s, int64_t pid, uint64_t ino)
{
    if (pid <= 0 || pid > INT32_MAX)
        return;
    uint32_t seen = seen_before(s, pid, ino);
    remember(s, pid, ino, seen < WT_SCAN_TRUSTED ? seen + 1 : seen);
}

static int by_pid(const void *a, const void *b)
{
    const struct wt_scan_entry *x = a, *y = b;
    return (x->pid > y->pid) - (x->pid < y->pid);
}

static bool ascending(const struct wt_scan_entry *e, size_t n)
{
    for (size_t i = 1; i < n; i++)
        if (e[i - 1].pid >= e[i].pid)
            return false;
    return true;
}

void wt_scan_end(struct wt_scan *s)
{
    /* /proc lists pids in ascending order, so a scan of it needs no sort;
     * find() halves by pid, so any other order is sorted. */
    if (!ascending(s->next, s->nnext))
        qsort(s->next, s->nnext, sizeof(s->next[0]), by_pid);
    memcpy(s->known, s->next, s->nnext * sizeof(s->next[0]));
    s->nknown = s->nnext;
}
