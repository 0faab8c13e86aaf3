/* Run plan: stop-then-start and restart decisions of the release running
 * on this node (run_plan.h). Pure: the shell does the processes. */
#include "pipeline/core/run_plan.h"

#include <stdio.h>
#include <string.h>

/* The stop under way is over: nothing runs here any more. */
static bool settle(struct run_plan *p, bool any_running)
{
    if (!p->stopping || any_running)
        return false;
    p->stopping = false;
    p->running[0] = '\0';
    return true;
}

bool run_plan_ports_auto(const struct manifest *m)
{
    if (!m)
        return false;
    for (size_t i = 0; i < m->nservices; i++)
        if (m->services[i].port_kind != MANIFEST_PORT_AUTO)
            return false;
    return true;
}

bool run_plan_may_overlap(bool automatic_revert, const struct manifest *from,
                          const struct manifest *to)
{
    return automatic_revert && run_plan_ports_auto(from) && run_plan_ports_auto(to);
}

unsigned run_plan_tick(struct run_plan *p, enum pl_health health, bool any_running,
                       const char *desired, uint32_t desired_gen, bool overlap)
{
    unsigned act = 0;
    if (settle(p, any_running)) {
        act |= RUN_PLAN_SETTLE;
        health = PL_H_NONE;
    }
    bool broken = health == PL_H_CRASHED || health == PL_H_START_FAILED;
    /* A new decision for the release it runs restarts only what is broken. */
    if (!p->stopping && !broken && strcmp(desired, p->running) == 0)
        p->gen = desired_gen;
    bool change = strcmp(desired, p->running) != 0 || p->gen != desired_gen;
    if (change && overlap && desired[0] && p->running[0] && any_running) {
        /* Start-while-stopping (run_plan_may_overlap): the old services
         * are stopped and handed aside; their exits concern no release. */
        p->stopping = false;
        snprintf(p->running, sizeof(p->running), "%s", desired);
        p->gen = desired_gen;
        return RUN_PLAN_STOP | RUN_PLAN_START | RUN_PLAN_WATCH;
    }
    if (change && !p->stopping && p->running[0]) {
        p->stopping = true;
        if (any_running)
            act |= RUN_PLAN_STOP;
        else if (settle(p, false)) /* nothing was left running (it had crashed) */
            act |= RUN_PLAN_SETTLE;
    }
    if (change && !p->stopping && !p->running[0]) {
        if (desired[0]) {
            snprintf(p->running, sizeof(p->running), "%s", desired);
            act |= RUN_PLAN_START;
        }
        p->gen = desired_gen;
    }
    if (!p->stopping)
        act |= RUN_PLAN_WATCH;
    return act;
}

static bool same_report(const struct run_plan_said *a, const struct run_plan_said *b)
{
    return strcmp(a->deployment, b->deployment) == 0 && a->health == b->health &&
           a->healthy_since == b->healthy_since && a->gen == b->gen &&
           strcmp(a->detail, b->detail) == 0 && a->leader == b->leader && a->term == b->term;
}

bool run_plan_report_due(struct run_plan_reports *r, const struct run_plan_said *now_says,
                         uint64_t now_ms)
{
    if (now_ms < r->due && same_report(&r->last, now_says))
        return false;
    r->last = *now_says;
    r->due = now_ms + RUN_PLAN_REPORT_EVERY_MS;
    return true;
}

uint32_t run_plan_stop_grace(const struct manifest *m, size_t i)
{
    return m ? m->services[i].stop_grace_ms : RUN_PLAN_STOP_GRACE_MS;
}
