/* chimeractl drill: shared by drill.c (validate, list, the loader),
 * drill_run.c (run) and, for its selectors, chaos.c (chaos inject). */
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

/* ---- the federation, as drill run and chaos inject ask it
 * (drill_federation.c) ---- */

/* GET path from the first endpoint of addr (NULL: --addr) that answers; a
 * new client each time, so a killed node is passed over. The answer when
 * it is an object, with its status in *status; NULL when none answers. */
json_t *ctl_get_json(const struct ctl_opts *o, const char *addr, const char *path, long *status);
/* Member id's HTTP address in a /federation/state, or NULL. */
const char *ctl_member_http(const json_t *state, const char *id);
/* The federation as its leader sees it (only the leader hears every
 * member's release); the state of whichever node answered when there is no
 * leader or it cannot be asked. NULL when no node answers. */
json_t *ctl_leader_state(const struct ctl_opts *o);
/* Whether s is a node selector rather than a node id: "leader",
 * "follower" (any alive member but the leader) or "any" (an alive
 * follower if there is one). */
bool ctl_node_selector(const char *s);
/* sel as a node id in out, a selector resolved from the leader's view (an
 * id is copied as it is). 0; or -1 when no node answered, -2 when there is
 * none to pick, after saying so in why. */
int ctl_resolve_node(const struct ctl_opts *o, const char *sel, char *out, size_t cap, char *why,
                     size_t whylen);

#endif
