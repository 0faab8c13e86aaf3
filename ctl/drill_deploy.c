/* chimeractl drill run: a deploy action (drill_run_int.h): POST
 * /deployments, the wait for it (and for the leader's revert, when it is
 * expected to be reverted) to end, then its SLO measured. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/deploy_int.h"
#include "ctl/drill_run_int.h"

/* A deployment's start and end (the leader's record: Unix ms, the
 * committing node's clock; finished 0 while it goes on). */
struct span {
    json_int_t started, finished;
};

/* The stage of deployment id ("unknown" when not heard); its times in
 * *times. */
static void deployment_stage(struct drun *x, const char *id, char *stage, size_t cap,
                             struct span *times)
{
    char path[160];
    long st;
    snprintf(path, sizeof path, "/deployments/%.128s", id);
    json_t *d = ctl_get_json(x->o, NULL, path, &st);
    snprintf(stage, cap, "%s", d ? ctl_json_str(d, "stage", "unknown") : "unknown");
    times->started = json_integer_value(json_object_get(d, "started_ms"));
    times->finished = json_integer_value(json_object_get(d, "finished_ms"));
    json_decref(d);
}

/* The stage of the rollback the leader started for deployment ours (which
 * started at started): "" while none is listed. */
static void rollback_stage(struct drun *x, const char *ours, json_int_t started, char *stage,
                           size_t cap, struct span *times)
{
    long st;
    json_t *list = ctl_get_json(x->o, NULL, "/deployments", &st), *d;
    size_t i;
    char other[128];
    stage[0] = '\0';
    json_array_foreach(json_object_get(list, "deployments"), i, d)
    {
        ctl_deploy_id(d, other, sizeof other);
        if (json_is_true(json_object_get(d, "rollback")) && strcmp(other, ours) != 0 &&
            json_integer_value(json_object_get(d, "started_ms")) >= started) {
            snprintf(stage, cap, "%s", ctl_json_str(d, "stage", "unknown"));
            times->started = json_integer_value(json_object_get(d, "started_ms"));
            times->finished = json_integer_value(json_object_get(d, "finished_ms"));
            break;
        }
    }
    json_decref(list);
}

static bool unfinished(const char *stage, bool rollback)
{
    return (rollback && !*stage) || strcmp(stage, "deploying") == 0 ||
           strcmp(stage, "rolling_back") == 0 || strcmp(stage, "unknown") == 0;
}

/* Waits until the deployment (or its rollback) ends, watching the SLO's
 * probes meanwhile: the time to detect is the federation's, not the
 * rollout's end. */
static void wait_deployment(struct drun *x, const struct drill_action *a,
                            struct drill_step_result *s, const char *id, bool rollback,
                            json_int_t started, int64_t t, char *stage, size_t cap,
                            struct span *times)
{
    /* The rollout's own deadlines bound it; this only guards the runner. */
    int64_t give_up = t + 15 * 60 * 1000;
    struct drill_probe_result res[DRILL_MAX_PROBES];
    for (;;) {
        if (rollback)
            rollback_stage(x, id, started, stage, cap, times);
        else
            deployment_stage(x, id, stage, cap, times);
        if (!unfinished(stage, rollback) || ctl_interrupted || ctl_mono_ms() >= give_up)
            return;
        if (a->slo.set && !s->probes.detected && !drun_sweep(x, a->slo.probes, res)) {
            s->probes.detected = true;
            s->probes.detect_ms = (uint32_t)(ctl_mono_ms() - t);
            drun_say_detected(x, a, s);
        }
        ctl_sleep_ms(DRILL_SWEEP_MS);
    }
}

/* The node's figures for a release reverted: detected when it failed
 * (from its start), recovered when its rollback ended reverted, healthy
 * everywhere (from the failure). */
static void revert_times(struct drill_node_times *nt, const struct span *ours,
                         const struct span *back)
{
    nt->seen = true;
    nt->t.detected = nt->t.recovered = true;
    nt->t.detect_ms = drun_ms_between(ours->started, ours->finished);
    nt->t.recover_ms = drun_ms_between(ours->finished, back->finished);
    char failed[32], reverted[32];
    snprintf(nt->what, sizeof nt->what,
             "failed %s after it started, reverted and healthy everywhere %s after the failure "
             "(GET /deployments)",
             ctl_ms_text(nt->t.detect_ms, failed, sizeof failed),
             ctl_ms_text(nt->t.recover_ms, reverted, sizeof reverted));
}

void drun_run_deploy(struct drun *x, const struct drill_action *a, struct drill_step_result *s)
{
    char why[512], id[128], stage[32], rb[32] = "";
    char *doc = ctl_drill_manifest(&x->f, a, why, sizeof why);
    if (!doc) {
        drun_fail_step(s, "%s", why);
        return;
    }
    struct ctl_reply r;
    int rc = drun_post(x, "/deployments", doc, false, &r);
    free(doc);
    int64_t t = ctl_mono_ms();
    if (rc != 0 || r.status != 202) {
        drun_refusal(&r, rc, why, sizeof why);
        drun_fail_step(s, "the deployment was refused: %s", why);
        ctl_reply_free(&r);
        return;
    }
    ctl_deploy_id(r.json, id, sizeof id);
    ctl_reply_free(&r);
    drun_progress(x, "  deployment %s submitted", id);
    struct span ours = {0}, back = {0};
    wait_deployment(x, a, s, id, false, 0, t, stage, sizeof stage, &ours);
    deployment_stage(x, id, stage, sizeof stage, &ours);
    bool as_expected = strcmp(stage, "stable") == 0;
    if (a->expect_reverted && strcmp(stage, "failed") == 0) {
        /* Reverted means the leader's rollback is over, not just begun. */
        wait_deployment(x, a, s, id, true, ours.started, t, rb, sizeof rb, &back);
        as_expected = strcmp(rb, "reverted") == 0;
        if (as_expected && ours.finished && back.finished)
            revert_times(&s->node, &ours, &back);
    } else if (a->expect_reverted) {
        as_expected = strcmp(stage, "reverted") == 0;
    }
    snprintf(s->detail, sizeof s->detail, "deployment %s ended %s%s%s (expected %s)", id, stage,
             *rb ? ", its rollback " : "", rb,
             a->expect_reverted ? "failed and reverted" : "stable");
    drun_progress(x, "  %s", s->detail);
    if (!as_expected) {
        s->status = DRILL_STEP_FAILED;
        return;
    }
    s->status = DRILL_STEP_DONE;
    if (a->slo.set)
        drun_measure(x, a, s, t, true, NULL);
}
