/* chimeractl drill run: a fault action (drill_run_int.h): the target
 * resolved (ctl_resolve_node), POST /chaos/inject, then its SLO measured. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/deploy_int.h"
#include "ctl/drill_run_int.h"

static int inject(struct drun *x, const struct drill_action *a, struct drill_step_result *s,
                  char *node, size_t cap, struct node_watch *w)
{
    char why[256];
    bool svc = a->fault == DRILL_FAULT_KILL_SERVICE || a->fault == DRILL_FAULT_PAUSE_SERVICE;
    if (ctl_resolve_node(x->o, svc ? a->node : a->target, node, cap, why, sizeof why) != 0) {
        drun_fail_step(s, "%s", why);
        return -1;
    }
    /* The node's request (chaos/fault.h, chaos_request_from_json): the
     * target is always a node; a kill's duration is the time the
     * federation is given to recover, the SLO's. */
    drun_watch_start(x, a, node, w);
    json_t *body = json_pack(
        "{s:s,s:s,s:I}", "kind", drill_fault_name(a->fault), "target", node, "duration_ms",
        (json_int_t)(a->duration_ms ? a->duration_ms : a->slo.recover_within_ms));
    if (svc)
        json_object_set_new(body, "service", json_string(a->target));
    if (a->delay_ms)
        json_object_set_new(body, "delay_ms", json_integer(a->delay_ms));
    if (a->peer[0])
        json_object_set_new(body, "peer", json_string(a->peer));
    char *payload = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    struct ctl_reply r;
    int rc = payload ? drun_post(x, "/chaos/inject", payload, false, &r) : -1;
    free(payload);
    if (!payload) {
        drun_fail_step(s, "out of memory");
        return -1;
    }
    bool ok = rc == 0 && r.status >= 200 && r.status < 300;
    w->injected_wall = drun_now_ms(x);
    snprintf(w->fault_id, sizeof w->fault_id, "(%s)",
             ctl_json_str(json_object_get(r.json, "fault"), "id", "?"));
    if (!ok && rc == 0 && r.status == 404)
        drun_fail_step(s, NO_CHAOS);
    else if (!ok) {
        drun_refusal(&r, rc, why, sizeof why);
        drun_fail_step(s, "the fault was refused: %s", why);
    }
    ctl_reply_free(&r);
    return ok ? 0 : -1;
}

/* Node id had a lasting fault applied (once each: heal stops it there). */
static void note_faulted(struct drun *x, const char *id)
{
    for (size_t i = 0; i < x->nfaulted; i++)
        if (strcmp(x->faulted[i], id) == 0)
            return;
    if (x->nfaulted < DRILL_MAX_ACTIONS)
        snprintf(x->faulted[x->nfaulted++], DRILL_ID_MAX, "%s", id);
}

void drun_run_fault(struct drun *x, const struct drill_action *a, struct drill_step_result *s)
{
    char node[DRILL_ID_MAX];
    struct node_watch w = {0};
    if (inject(x, a, s, node, sizeof node, &w) != 0)
        return;
    int64_t t = ctl_mono_ms();
    x->injected = true;
    if (a->fault == DRILL_FAULT_KILL_NODE && x->nkilled < DRILL_MAX_ACTIONS)
        snprintf(x->killed[x->nkilled++], DRILL_ID_MAX, "%s", node);
    else if (a->fault != DRILL_FAULT_KILL_SERVICE)
        note_faulted(x, node);
    snprintf(s->detail, sizeof s->detail, "%s %s%s%s", drill_fault_name(a->fault), a->target,
             strcmp(a->target, node) ? " on " : "", strcmp(a->target, node) ? node : "");
    drun_progress(x, "  injected %s", s->detail);
    s->status = DRILL_STEP_DONE;
    drun_measure(x, a, s, t, false, &w);
}
