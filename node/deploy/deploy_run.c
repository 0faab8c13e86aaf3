/* What runs on this node: the release the ledger says this node must run
 * (pl_desired), started through the process driver, watched by health
 * checks, and reported to the leader. Every node does this, the leader
 * included; the leader's decisions live in the rollout core
 * (pipeline/core/rollout.c), which node_deploy.c drives. This file does the
 * I/O; what to stop, start or restart is the run plan's decision
 * (pipeline/core/run_plan.h), how healthy the node is the verdict's
 * (pipeline/core/verdict.h).
 *
 * A change of release stops every service of the old one (SIGTERM to its
 * process group, SIGKILL after its stop_grace), waits for all to exit, and
 * only then starts the new one, so a fixed port is free again; an
 * automatic revert between releases whose services all have "port":
 * "auto" starts the good one at once and lets the failing one exit aside
 * (run_plan_may_overlap; run.old). Each
 * service's output is appended to DATA/services/<service>.log. Every
 * service carries CHIMERA_SERVICE_OWNER=<this data directory> in
 * its environment, so that a node killed with its services still running
 * finds and stops them at its next start (drv_kill_marked).
 *
 * A service with a "user" runs as that user (chimerad must be root; the
 * simulate stage says so before a deployment): HOME, USER and LOGNAME are
 * then the user's (unless the manifest's env sets them), not chimerad's.
 *
 * Report messages (ENV_LEDGER): [5, deployment, health, healthy_for_ms,
 * detail, gen]: what runs here (gen: the decision it answers, see
 * pl_desired_gen), sent to the leader on every change (of what it says, or
 * of the leader) and otherwise every RUN_PLAN_REPORT_EVERY_MS. */
#include <limits.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "node/deploy/deploy.h"
#include "pipeline/exec/probe.h"

#define SERVICES_DIR "services"

static void svc_path(const struct node_deploy *dp, const char *svc, const char *ext, char *out,
                     size_t cap)
{
    snprintf(out, cap, "%s/" SERVICES_DIR "/%s.%s", dp->base->cfg.data, svc, ext);
}

/* The environment entry that marks this node's services. Resolved at its
 * first use and kept: realpath walks the path, a system call per part, and
 * did so on the loop at every start; and the watchtower's stray scan and
 * every service of this run must carry one mark, even if a symlink on the
 * way to the data directory is changed while the node runs. */
const char *deploy_run_mark(struct node_deploy *dp)
{
    char *mark = dp->run.mark;
    if (!mark[0]) {
        char abs[PATH_MAX];
        snprintf(mark, sizeof(dp->run.mark), "CHIMERA_SERVICE_OWNER=%s",
                 realpath(dp->base->cfg.data, abs) ? abs : dp->base->cfg.data);
    }
    return mark;
}

void deploy_run_cleanup_strays(struct node_deploy *dp)
{
    char dir[CONFIG_PATH_MAX + 16];
    snprintf(dir, sizeof(dir), "%s/" SERVICES_DIR, dp->base->cfg.data);
    mkdir(dir, 0750);
    for (size_t i = 0; i < MANIFEST_MAX_SERVICES; i++)
        dp->run.svc[i].proc = dp->run.old[i].proc = NULL;
    /* Services an earlier run of this node left running (it was killed):
     * found by their mark, even one spawned just before the node died. */
    int k = drv_kill_marked(deploy_run_mark(dp));
    if (k > 0)
        node_event(dp->base, "deploy.stray_stopped", NULL,
                   "stopped %d service process%s left running by an earlier start", k,
                   k == 1 ? "" : "es");
}

static void set_health(struct node_deploy *dp, enum pl_health h, uint64_t since, const char *detail)
{
    struct deploy_run *r = &dp->run;
    struct verdict_news news = verdict_set(&r->verdict, h, since, detail);
    if (news.report)
        r->reports.due = 0; /* tell the leader now */
    if (news.event)
        node_event(dp->base, news.event, NULL, "%s: release of %s %s%s%s", dp->base->cfg.id,
                   r->plan.running, pl_health_name(h), detail[0] ? ": " : "", detail);
}

static void judge_health(struct node_deploy *dp);
static void send_report(struct node_deploy *dp);

static void on_exit_cb(struct drv_proc *proc, int64_t status, int sig, void *arg)
{
    struct deploy_service_run *s = arg;
    struct node_deploy *dp = s->owner;
    /* A service stopped to be restarted keeps the health it had (failing
     * checks, not a crash) until it starts again. */
    if (!s->restarting)
        verdict_exited(&s->v, status, sig);
    drv_free(proc);
    s->proc = NULL;
    if (dp->run.plan.stopping) {
        deploy_run_tick(dp); /* the last one out starts the next release */
        return;
    }
    node_event(dp->base, "deploy.service_exited", NULL, "service %s of %s exited (%s %d)", s->name,
               dp->run.plan.running, sig ? "signal" : "status", sig ? sig : (int)status);
    /* The leader hears of the crash before any restart heals it: a crash
     * in a rollout still fails it (rollout.c). */
    judge_health(dp);
    send_report(dp);
    if (dp->obs.exited)
        dp->obs.exited(dp->obs.arg, s->name, s->pid, status, sig);
}

static bool env_sets(const struct manifest_service *ms, const char *name)
{
    for (size_t e = 0; e < ms->nenv; e++)
        if (strcmp(ms->env[e].name, name) == 0)
            return true;
    return false;
}

/* Resolves the service's user into spec and adds its HOME, USER and
 * LOGNAME to envp at *k (3 slots of envbuf). */
static int service_user(const struct manifest_service *ms, struct drv_spec *spec,
                        char envbuf[][4096 + 256], const char **envp, size_t *k, char *err,
                        size_t errlen)
{
    if (!ms->user)
        return 0;
    struct probe_user u;
    char why[256];
    if (geteuid() != 0) {
        snprintf(err, errlen, "%s: user set but chimerad is not root", ms->name);
        return -1;
    }
    if (probe_user_resolve(ms->user, &u, why, sizeof(why)) != 0) {
        snprintf(err, errlen, "%s: %s", ms->name, why);
        return -1;
    }
    spec->set_user = true;
    spec->uid = u.uid;
    spec->gid = u.gid;
    const char *vars[][2] = {{"HOME", u.named && u.home[0] ? u.home : "/"},
                             {"USER", u.named ? u.name : NULL},
                             {"LOGNAME", u.named ? u.name : NULL}};
    for (size_t v = 0; v < 3; v++) {
        if (env_sets(ms, vars[v][0]))
            continue;
        /* A user without a name must not pass for chimerad's. */
        snprintf(envbuf[*k], sizeof(envbuf[*k]), "%s=%s", vars[v][0], vars[v][1] ? vars[v][1] : "");
        envp[*k] = envbuf[*k];
        (*k)++;
    }
    return 0;
}

static int start_service(struct node_deploy *dp, size_t i, const struct manifest *m, char *err,
                         size_t errlen)
{
    struct deploy_run *r = &dp->run;
    const struct manifest_service *ms = &m->services[i];
    struct deploy_service_run *s = &r->svc[i];
    memset(s, 0, sizeof(*s));
    s->owner = dp;
    snprintf(s->name, sizeof(s->name), "%s", ms->name);
    s->port = ms->port_kind == MANIFEST_PORT_FIXED  ? ms->port
              : ms->port_kind == MANIFEST_PORT_AUTO ? probe_free_port()
                                                    : 0;
    struct manifest_vars vars = {
        .node = dp->base->cfg.id, .name = m->name, .version = m->version, .port = s->port};
    struct manifest_error me;
    static char argbuf[MANIFEST_MAX_ARGS + 1][4096];
    static char envbuf[MANIFEST_MAX_ENV + 5][4096 + 256];
    const char *argv[MANIFEST_MAX_ARGS + 2], *envp[MANIFEST_MAX_ENV + ENVFILE_MAX_ENTRIES + 6];
    argv[0] = ms->command;
    for (size_t a = 0; a < ms->nargs; a++) {
        if (manifest_expand(ms->args[a], &vars, argbuf[a], sizeof(argbuf[a]), &me) != 0) {
            snprintf(err, errlen, "%s: args[%zu]: %s", ms->name, a, me.message);
            return -1;
        }
        argv[a + 1] = argbuf[a];
    }
    argv[ms->nargs + 1] = NULL;
    size_t k = 0;
    if (s->port) {
        snprintf(envbuf[k], sizeof(envbuf[k]), "PORT=%u", s->port);
        envp[k] = envbuf[k];
        k++;
    }
    for (size_t e = 0; e < ms->nenv; e++) {
        char value[4096];
        if (manifest_expand(ms->env[e].value, &vars, value, sizeof(value), &me) != 0) {
            snprintf(err, errlen, "%s: env.%s: %s", ms->name, ms->env[e].name, me.message);
            return -1;
        }
        snprintf(envbuf[k], sizeof(envbuf[k]), "%s=%s", ms->env[e].name, value);
        envp[k] = envbuf[k];
        k++;
    }
    snprintf(envbuf[k], sizeof(envbuf[k]), "%s", deploy_run_mark(dp));
    envp[k] = envbuf[k];
    k++;
    struct drv_spec spec = {.argv = argv, .env = envp, .cwd = ms->working_dir};
    if (service_user(ms, &spec, envbuf, envp, &k, err, errlen) != 0)
        return -1;
    envp[k] = NULL;
    if (ms->health.enabled &&
        manifest_expand(ms->health.url, &vars, s->url, sizeof(s->url), &me) != 0) {
        snprintf(err, errlen, "%s: health.url: %s", ms->name, me.message);
        return -1;
    }
    char why[256];
    /* Secrets: read here, at each start, never kept; the manifest's env and
     * the node's own variables win over the file's. */
    struct envfile ef;
    if (probe_env_file_read(ms, &vars, &ef, why, sizeof(why)) != 0) {
        snprintf(err, errlen, "%s: %s", ms->name, why);
        return -1;
    }
    k = envfile_merge(&ef, envp, k, MANIFEST_MAX_ENV + ENVFILE_MAX_ENTRIES + 5);
    envp[k] = NULL;
    char log[CONFIG_PATH_MAX + 128];
    svc_path(dp, ms->name, "log", log, sizeof(log));
    spec.log_path = log;
    int rc = drv_start(dp->base->loop, &spec, on_exit_cb, s, &s->proc, why, sizeof(why));
    envfile_free(&ef);
    if (rc != 0) {
        snprintf(err, errlen, "%s: %s", ms->name, why);
        s->proc = NULL;
        return -1;
    }
    s->started_ms = uv_now(dp->base->loop);
    s->pid = drv_pid(s->proc);
    if (dp->obs.started)
        dp->obs.started(dp->obs.arg, s->name, s->pid);
    return 0;
}

static void start_release(struct node_deploy *dp, const char *id)
{
    struct deploy_run *r = &dp->run;
    const struct node_release *rel = deploy_releases_find(dp, id);
    r->epoch++; /* answers to probes of what ran before are dropped */
    r->nsvc = 0;
    r->told_reverting = false;
    if (r->have_manifest)
        manifest_free(&r->m);
    r->have_manifest = false;
    struct manifest_error me;
    if (!rel || manifest_parse(rel->manifest, rel->mlen, &r->m, &me) != 0) {
        set_health(dp, PL_H_START_FAILED, 0,
                   rel ? me.message : "the release is not in this node's ledger");
        return;
    }
    r->have_manifest = true;
    if (dp->obs.release)
        dp->obs.release(dp->obs.arg, &r->m);
    r->min_healthy_ms = r->m.rollout.min_healthy_time_ms;
    set_health(dp, PL_H_STARTING, 0, "");
    for (size_t i = 0; i < r->m.nservices; i++) {
        char err[512];
        r->nsvc = i + 1;
        if (start_service(dp, i, &r->m, err, sizeof(err)) != 0) {
            set_health(dp, PL_H_START_FAILED, 0, err);
            node_event(dp->base, "deploy.start_failed", NULL, "%s: %s", id, err);
            if (dp->obs.start_failed)
                dp->obs.start_failed(dp->obs.arg, r->m.services[i].name, err);
            return;
        }
    }
    node_event(dp->base, "deploy.applied", NULL, "%s runs %s %s (deployment %s)", dp->base->cfg.id,
               r->m.name, r->m.version, id);
}

/* A probe in flight names the start it belongs to: the slot may hold the
 * next release's service by the time it answers. */
struct probe_ctx {
    struct deploy_service_run *s;
    uint64_t epoch;
    int64_t pid;
};

static void on_probe(const struct health_result *res, void *arg)
{
    struct probe_ctx *ctx = arg;
    struct deploy_service_run *s = ctx->s;
    struct node_deploy *dp = s->owner;
    bool stale = ctx->epoch != dp->run.epoch;
    int64_t ctx_pid = ctx->pid;
    free(ctx);
    if (stale)
        return;
    s->probing = false;
    if (ctx_pid != s->pid)
        return; /* asked of a process since restarted */
    verdict_probe(&s->v, &dp->run.m.services[s - dp->run.svc].health, res->healthy, res->error,
                  (uint64_t)node_wall_ms());
    if (dp->obs.check)
        dp->obs.check(dp->obs.arg, s->name, res->healthy);
}

static bool all_stopped(const struct deploy_run *r)
{
    for (size_t i = 0; i < r->nsvc; i++)
        if (r->svc[i].proc)
            return false;
    return true;
}

/* Derives this node's health from its services (verdict.h). */
static void judge_health(struct node_deploy *dp)
{
    struct deploy_run *r = &dp->run;
    struct verdict_service *svc[MANIFEST_MAX_SERVICES];
    for (size_t i = 0; i < r->nsvc; i++)
        svc[i] = &r->svc[i].v;
    struct verdict out;
    if (verdict_judge(&r->verdict, r->have_manifest, svc, r->m.services, r->nsvc,
                      (uint64_t)node_wall_ms(), &out))
        set_health(dp, out.health, out.healthy_since, out.detail);
}

static void probe_due(struct node_deploy *dp)
{
    struct deploy_run *r = &dp->run;
    uint64_t now = uv_now(dp->base->loop);
    for (size_t i = 0; i < r->nsvc && r->have_manifest; i++) {
        struct deploy_service_run *s = &r->svc[i];
        const struct manifest_health *h = &r->m.services[i].health;
        if (!h->enabled || !s->proc || s->probing || now < s->next_probe)
            continue;
        s->next_probe = now + h->interval_ms;
        struct probe_ctx *ctx = malloc(sizeof(*ctx));
        if (!ctx)
            continue;
        *ctx = (struct probe_ctx){s, r->epoch, s->pid};
        if (health_probe(dp->run.hc, s->url, h->timeout_ms, on_probe, ctx) == 0)
            s->probing = true;
        else
            free(ctx);
    }
}

/* release.unhealthy, the longest text of a deployment's events, fits an
 * event whole: the member, "NAME VERSION ", the deployment, the health name
 * (16), the detail, what was held back (64) and the words (32). */
_Static_assert(EVENTS_MESSAGE_MAX >= CONFIG_ID_MAX + PL_ID_MAX + PL_VERSION_MAX + 1 + PL_ID_MAX +
                                         16 + PL_DETAIL_MAX + 64 + 32,
               "an event holds a member's health detail whole");

/* Leader: a member's report, judged for news (release_watch.h): a release
 * that turns bad on a member, in a deployment or long after one, is an
 * event here, where operators watch, not only in that member's log. */
static void watch_report(struct node_deploy *dp, size_t idx, const struct pl_report *rep)
{
    uint64_t held = 0;
    enum release_watch_news news =
        release_watch_report(&dp->run.watch, dp->raft->cons.term, idx, rep->health, rep->deployment,
                             node_wall_ms(), RELEASE_WATCH_INTERVAL_MS, &held);
    if (news == RELEASE_WATCH_NOTHING || idx >= dp->base->peers.n)
        return;
    const char *who = dp->base->peers.m[idx].id;
    const struct pl_deployment *d = pl_find(&dp->pl, rep->deployment);
    char rel[PL_ID_MAX + PL_VERSION_MAX + 1] = "";
    if (d)
        snprintf(rel, sizeof(rel), "%s %s ", d->release.name, d->release.version);
    if (news == RELEASE_WATCH_HEALTHY) {
        node_event(dp->base, "release.healthy", who,
                   "%s: release %s(deployment %s) is healthy again", who, rel, rep->deployment);
        return;
    }
    char more[64] = "";
    if (held)
        snprintf(more, sizeof(more), " (%" PRIu64 " more held back)", held);
    node_event(dp->base, "release.unhealthy", who, "%s: release %s(deployment %s) %s: %s%s", who,
               rel, rep->deployment, pl_health_name(rep->health),
               rep->detail[0] ? rep->detail : "no detail", more);
}

/* Report messages carry how long the node has been healthy, not since
 * when: the leader turns it into a time on its own clock, so clocks that
 * disagree between nodes do not shorten or stretch min_healthy_time. */
/* The leader takes member idx's report (its own included): what it runs,
 * how healthy and for how long (a duration, so that clocks need not agree;
 * only a healthy node has been healthy since some time). */
static void lead_report(struct node_deploy *dp, size_t idx, const char *dep, size_t dlen,
                        enum pl_health h, uint64_t healthy_for, const char *detail, size_t len,
                        uint32_t gen)
{
    uint64_t wall = (uint64_t)node_wall_ms();
    struct pl_report rep = {.health = h,
                            .healthy_since_ms = verdict_healthy_since(h, healthy_for, wall),
                            .at_ms = wall,
                            .gen = gen};
    snprintf(rep.deployment, sizeof(rep.deployment), "%.*s", (int)dlen, dep);
    snprintf(rep.detail, sizeof(rep.detail), "%.*s", (int)len, detail);
    pl_report(&dp->pl, dp->base->peers.m[idx].id, &rep);
    watch_report(dp, idx, &rep);
}

static void send_report(struct node_deploy *dp)
{
    struct deploy_run *r = &dp->run;
    const char *running = r->plan.running, *detail = r->verdict.detail;
    enum pl_health h = running[0] ? r->verdict.health : PL_H_NONE;
    int32_t leader = dp->raft->cons.leader;
    struct run_plan_said says = {.health = h,
                                 .healthy_since = h == PL_H_HEALTHY ? r->verdict.healthy_since : 0,
                                 .gen = r->plan.gen,
                                 .leader = leader,
                                 .term = dp->raft->cons.term};
    snprintf(says.deployment, sizeof(says.deployment), "%s", running);
    snprintf(says.detail, sizeof(says.detail), "%s", detail);
    if (!run_plan_report_due(&r->reports, &says, uv_now(dp->base->loop)))
        return;
    uint64_t healthy_for =
        verdict_healthy_for(h, r->verdict.healthy_since, (uint64_t)node_wall_ms());
    if (leader == dp->raft->cons.cfg.self) {
        lead_report(dp, dp->base->peers.self, running, strlen(running), h, healthy_for, detail,
                    strlen(detail), r->plan.gen);
        node_deploy_tick(dp); /* as for a member's report (deploy_run_on_report) */
        return;
    }
    if (leader == CONS_NONE)
        return;
    struct node_pack p;
    node_pack_init(&p);
    msgpack_pack_array(&p.pk, 6);
    msgpack_pack_uint32(&p.pk, MSG_DEPLOY_REPORT);
    msgpack_pack_str_with_body(&p.pk, running, strlen(running));
    msgpack_pack_uint32(&p.pk, (uint32_t)h);
    msgpack_pack_uint64(&p.pk, healthy_for);
    msgpack_pack_str_with_body(&p.pk, detail, strlen(detail));
    msgpack_pack_uint32(&p.pk, r->plan.gen);
    node_pack_send(dp->base, (size_t)leader, ENV_LEDGER, &p);
}

void deploy_run_on_report(struct node_deploy *dp, size_t from, const msgpack_object *f)
{
    if (dp->raft->cons.role != CONS_LEADER)
        return;
    lead_report(dp, from, f[1].via.str.ptr, f[1].via.str.size, (enum pl_health)f[2].via.u64,
                f[3].via.u64, f[4].via.str.ptr, f[4].via.str.size, (uint32_t)f[5].via.u64);
    /* The report may decide the next record (a crash fails the rollout, and
     * the rollback follows at its commit): decided now, not at the next
     * tick, up to a heartbeat interval later. */
    node_deploy_tick(dp);
}

static void free_proc(struct deploy_service_run *s)
{
    if (s->proc)
        drv_free(s->proc);
    s->proc = NULL;
}

static void on_old_exit_cb(struct drv_proc *proc, int64_t status, int sig, void *arg)
{
    (void)proc; /* s->proc */
    (void)status;
    (void)sig;
    free_proc(arg);
}

/* Whether the change to desired may start it while what runs here exits
 * (run_plan_may_overlap): an automatic revert, every port "auto" on both
 * sides, and the services an earlier overlap handed aside gone (their
 * slots are where these go). */
static bool may_overlap(struct node_deploy *dp, const char *desired)
{
    struct deploy_run *r = &dp->run;
    if (!desired[0] || !r->have_manifest || strcmp(desired, r->plan.running) == 0 ||
        !pl_automatic_revert_to(&dp->pl, desired) || !run_plan_ports_auto(&r->m))
        return false; /* before parsing desired's manifest, which each tick would */
    for (size_t i = 0; i < MANIFEST_MAX_SERVICES; i++)
        if (r->old[i].proc)
            return false;
    const struct node_release *rel = deploy_releases_find(dp, desired);
    struct manifest *to = rel ? malloc(sizeof(*to)) : NULL;
    struct manifest_error me;
    if (!to || manifest_parse(rel->manifest, rel->mlen, to, &me) != 0) {
        free(to);
        return false;
    }
    bool ok = run_plan_may_overlap(true, &r->m, to);
    manifest_free(to);
    free(to);
    return ok;
}

/* The services still running are handed aside to exit there: their slots
 * are the new release's. grace: each one's stop grace, from the manifest
 * the new release's replaces. */
static void hand_aside(struct deploy_run *r, uint32_t grace[])
{
    for (size_t i = 0; i < r->nsvc; i++) {
        if (!r->svc[i].proc)
            continue;
        r->old[i] = r->svc[i];
        r->svc[i].proc = NULL;
        grace[i] = run_plan_stop_grace(&r->m, i);
        drv_set_exit(r->old[i].proc, on_old_exit_cb, &r->old[i]);
    }
}

/* Stopped once the new release has started, not before: their exits (as
 * many as the federation has nodes, all at once) do not compete with the
 * good release's start for the CPU. */
static void stop_aside(struct deploy_run *r, const uint32_t grace[])
{
    for (size_t i = 0; i < MANIFEST_MAX_SERVICES; i++)
        if (r->old[i].proc)
            drv_stop(r->old[i].proc, grace[i]);
}

static void on_next_turn(uv_idle_t *h)
{
    uv_idle_stop(h);
    deploy_run_tick(h->data);
}

void deploy_run_soon(struct node_deploy *dp)
{
    if (dp->run.next_turn_ready && !dp->base->stopping)
        uv_idle_start(&dp->run.next_turn, on_next_turn);
}

/* Asks the run plan what to do (run_plan.h) and does it. */
void deploy_run_tick(struct node_deploy *dp)
{
    struct deploy_run *r = &dp->run;
    if (!dp->run.hc || dp->base->stopping)
        return;
    const char *desired = pl_desired(&dp->pl, dp->base->cfg.id);
    unsigned act =
        run_plan_tick(&r->plan, r->verdict.health, !all_stopped(r), desired,
                      pl_desired_gen(&dp->pl, dp->base->cfg.id), may_overlap(dp, desired));
    if ((act & (RUN_PLAN_SETTLE | RUN_PLAN_STOP)) && dp->obs.release)
        dp->obs.release(dp->obs.arg, NULL);
    if (act & RUN_PLAN_SETTLE) {
        r->nsvc = 0;
        set_health(dp, PL_H_NONE, 0, "");
    }
    uint32_t grace[MANIFEST_MAX_SERVICES] = {0};
    bool aside = (act & RUN_PLAN_STOP) && (act & RUN_PLAN_START);
    if (aside)
        hand_aside(r, grace);
    for (size_t i = 0; (act & RUN_PLAN_STOP) && i < r->nsvc; i++)
        if (r->svc[i].proc)
            drv_stop(r->svc[i].proc, run_plan_stop_grace(r->have_manifest ? &r->m : NULL, i));
    if (act & RUN_PLAN_START)
        start_release(dp, r->plan.running);
    if (aside)
        stop_aside(r, grace);
    if (act & RUN_PLAN_WATCH) {
        probe_due(dp);
        judge_health(dp);
    }
    /* Whatever of it crashes from now on stays down until the revert. */
    if (!r->told_reverting && r->plan.running[0] && !r->plan.stopping &&
        pl_being_reverted(&dp->pl, r->plan.running)) {
        r->told_reverting = true;
        if (dp->obs.reverting)
            dp->obs.reverting(dp->obs.arg);
    }
    send_report(dp);
}

/* Whether some service has no process. */
static bool any_down(const struct deploy_run *r)
{
    for (size_t i = 0; i < r->nsvc; i++)
        if (!r->svc[i].proc)
            return true;
    return false;
}

static struct deploy_service_run *find_service(struct node_deploy *dp, const char *svc)
{
    for (size_t i = 0; i < dp->run.nsvc; i++)
        if (strcmp(dp->run.svc[i].name, svc) == 0)
            return &dp->run.svc[i];
    return NULL;
}

int deploy_run_restart(struct node_deploy *dp, const char *svc, char *err, size_t errlen)
{
    struct deploy_run *r = &dp->run;
    struct deploy_service_run *s = find_service(dp, svc);
    if (!s || !r->have_manifest || r->plan.stopping || dp->base->stopping) {
        snprintf(err, errlen, "%s: not a service of the release running here", svc);
        return -1;
    }
    if (s->proc) {
        snprintf(err, errlen, "%s: still running", svc);
        return -1;
    }
    size_t i = (size_t)(s - r->svc);
    if (start_service(dp, i, &r->m, err, errlen) != 0) {
        s->owner = dp;
        set_health(dp, PL_H_START_FAILED, 0, err);
        if (dp->obs.start_failed)
            dp->obs.start_failed(dp->obs.arg, svc, err);
        return -1;
    }
    /* Every service runs again: a start that had failed is healed. */
    if (r->verdict.health == PL_H_START_FAILED && r->nsvc == r->m.nservices && !any_down(r))
        set_health(dp, PL_H_STARTING, 0, "");
    judge_health(dp);
    return 0;
}

bool deploy_run_stop_service(struct node_deploy *dp, const char *svc, int64_t pid)
{
    struct deploy_service_run *s = find_service(dp, svc);
    if (!s || !s->proc || s->pid != pid)
        return false;
    s->restarting = true;
    drv_stop(s->proc, run_plan_stop_grace(dp->run.have_manifest ? &dp->run.m : NULL,
                                          (size_t)(s - dp->run.svc)));
    return true;
}

bool deploy_run_owns_group(const struct node_deploy *dp, int64_t pgid)
{
    for (size_t i = 0; i < MANIFEST_MAX_SERVICES; i++)
        if ((i < dp->run.nsvc && dp->run.svc[i].proc && dp->run.svc[i].pid == pgid) ||
            (dp->run.old[i].proc && dp->run.old[i].pid == pgid))
            return true;
    return false;
}

void deploy_run_stop(struct node_deploy *dp)
{
    struct deploy_run *r = &dp->run;
    r->plan.stopping = true;
    /* The services go with the node: killed with their process groups,
     * those handed aside too. */
    for (size_t i = 0; i < MANIFEST_MAX_SERVICES; i++) {
        if (i < r->nsvc)
            free_proc(&r->svc[i]);
        free_proc(&r->old[i]);
    }
    if (r->have_manifest)
        manifest_free(&r->m);
    r->have_manifest = false;
    if (dp->run.hc)
        health_free(dp->run.hc);
    dp->run.hc = NULL;
    if (r->next_turn_ready) {
        uv_idle_stop(&r->next_turn);
        uv_close((uv_handle_t *)&r->next_turn, NULL);
        r->next_turn_ready = false;
    }
}

int deploy_run_service_pid(const struct node_deploy *dp, const char *service)
{
    const struct deploy_run *r = &dp->run;
    for (size_t i = 0; i < r->nsvc; i++)
        if (r->svc[i].proc && strcmp(r->svc[i].name, service) == 0)
            return drv_pid(r->svc[i].proc);
    return -1;
}
