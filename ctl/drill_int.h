/* chimeractl drill: shared by drill.c (validate, list, the loader) and
 * drill_run.c (run). */
#ifndef CHIMERA_CTL_DRILL_INT_H
#define CHIMERA_CTL_DRILL_INT_H

#include <limits.h>

#include "chaos/drill.h"
#include "ctl/ctl.h"

/* A drill file read and validated: FILE as given, or NAME found among the
 * built-in drills (ctl_drill_dirs). */
struct ctl_drill_file {
    char path[PATH_MAX];
    char dir[PATH_MAX]; /* its folder: a deploy's manifest file is relative to it */
    struct drill d;
};

/* Loads and validates FILE|NAME, printing one line for what is wrong.
 * Returns CTL_OK, CTL_USAGE (an invalid drill, an unknown name) or
 * CTL_FAILED (unreadable); with as_json the refusal is printed as
 * {"valid": false, ...} on stdout. */
int ctl_drill_load(const char *cmd, const char *arg, bool as_json, struct ctl_drill_file *f);
void ctl_drill_unload(struct ctl_drill_file *f);
/* Reads a deploy action's manifest (inline or a file next to the drill)
 * into a malloc'd string; NULL with why filled in. */
char *ctl_drill_manifest(const struct ctl_drill_file *f, const struct drill_action *a, char *why,
                         size_t whylen);

#endif
