/* chimeractl drill run: the rollbacks' actions (drill_run_int.h): heal
 * (the kill switch, also on each node a lasting fault was applied on,
 * then chaos enabled again) and restart_nodes (--restart-cmd for each node
 * a kill_node took down). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "ctl/deploy_int.h"
#include "ctl/drill_run_int.h"

/* POST path to the leader (twice if need be); false after failing s. */
static bool heal_call(struct drun *x, const char *path, struct drill_step_result *s)
{
    struct ctl_reply r;
    int rc = drun_post(x, path, "{}", true, &r);
    bool ok = rc == 0 && r.status >= 200 && r.status < 300;
    char why[256];
    if (!ok)
        drun_refusal(&r, rc, why, sizeof why);
    ctl_reply_free(&r);
    if (!ok)
        drun_fail_step(s, "POST %s: %s", path, why);
    return ok;
}

void drun_run_heal(struct drun *x, struct drill_step_result *s)
{
    if (!x->injected) {
        snprintf(s->detail, sizeof s->detail, "nothing to heal: this run injected no fault");
        s->status = DRILL_STEP_DONE;
        return;
    }
    /* The kill switch heals everywhere at once but leaves chaos stopped,
     * also on each node a lasting fault was applied on (before chaos is
     * enabled again: a node that redirects its stop to the leader must not
     * stop chaos after that). A fault was injected, so chaos was not
     * stopped before this run: lift the switch again, or the next drill
     * would be refused. */
    char there[160] = "";
    if (!heal_call(x, "/chaos/stop", s))
        return;
    json_t *state = x->nfaulted ? ctl_leader_state(x->o) : NULL;
    for (size_t k = 0; k < x->nfaulted; k++)
        if (ctl_chaos_stop_at(x->o, x->token, ctl_member_http(state, x->faulted[k])) >= 0)
            drun_append(there, sizeof there, x->faulted[k]);
    json_decref(state);
    if (!heal_call(x, "/chaos/enable", s))
        return;
    snprintf(s->detail, sizeof s->detail,
             "every fault healed (POST /chaos/stop%s%s), chaos enabled again as before the drill",
             *there ? ", also on " : "", there);
    s->status = DRILL_STEP_DONE;
}

void drun_run_restart(struct drun *x, struct drill_step_result *s)
{
    s->status = DRILL_STEP_DONE;
    if (x->nkilled == 0) {
        snprintf(s->detail, sizeof s->detail, "no node was killed");
        return;
    }
    if (!x->restart_cmd) {
        snprintf(s->detail, sizeof s->detail,
                 "left to the nodes' supervisor (no --restart-cmd given)");
        return;
    }
    for (size_t i = 0; i < x->nkilled; i++) {
        char cmd[2048] = "";
        for (const char *p = x->restart_cmd; *p; p++) {
            size_t n = strlen(cmd);
            if (strncmp(p, "{node}", 6) == 0) {
                snprintf(cmd + n, sizeof cmd - n, "%s", x->killed[i]);
                p += 5;
            } else if (n + 1 < sizeof cmd) {
                cmd[n] = *p;
                cmd[n + 1] = '\0';
            }
        }
        /* system()'s answer is a wait status (256 for exit 1), not the
         * code the command exited with. */
        int st = system(cmd);
        if (st == -1) {
            drun_fail_step(s, "restarting %s: `%s` could not be run: %s", x->killed[i], cmd,
                           strerror(errno));
            return;
        }
        if (WIFSIGNALED(st)) {
            drun_fail_step(s, "restarting %s: `%s` was killed by signal %d", x->killed[i], cmd,
                           WTERMSIG(st));
            return;
        }
        if (WEXITSTATUS(st) != 0) {
            drun_fail_step(s, "restarting %s: `%s` exited with status %d", x->killed[i], cmd,
                           WEXITSTATUS(st));
            return;
        }
    }
    snprintf(s->detail, sizeof s->detail, "restarted %zu node(s) with --restart-cmd", x->nkilled);
}
