/* Simulate, heal, certify: the leader's plan for a submitted release,
 * before anything is committed. One plan at a time.
 *
 * Each round the leader sends every other member the manifest (and the
 * heal actions addressed to it, if any) and probes itself; each member
 * heals what it was asked to, probes this machine (pipeline/exec/probe.h) and
 * answers with its facts. A round ends when every member answered or is
 * down (dead: not heard from for dead_after_ms), or PLAN_ROUND_MS passed
 * (a member that did not answer is judged as such: a warning, as it
 * applies the release when it comes back).
 * The certify core (pipeline/core/certify.h) then says heal again (at most
 * CERT_MAX_HEAL_ATTEMPTS rounds of healing), or certify. A dry run heals
 * nothing: it reports what healing would do.
 *
 * Messages (ENV_LEDGER):
 *   MSG_PLAN_PROBE  [6, plan (uint), manifest (str), actions [[service, kind], ...]]
 *   MSG_PLAN_FACTS  [7, plan (uint), facts (str: JSON), results [[ok, detail], ...]] */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/deploy/deploy.h"
#include "pipeline/core/manifest.h"

#define PLAN_ROUND_MS 2000

/* Runs the heal actions addressed to node id, then probes this machine. */
static void heal_and_probe(struct node_deploy *dp, const struct manifest *m,
                           const struct cert_heal_action *acts, size_t nacts,
                           struct cert_heal_result *res, struct probe_facts *out)
{
    if (nacts > 0)
        probe_heal(m, acts, nacts, res);
    probe_release(m, dp->base->cfg.id, out);
    /* Ports the release running here holds are freed before a new one starts. */
    uint16_t ports[MANIFEST_MAX_SERVICES];
    size_t k = 0;
    for (size_t i = 0; i < dp->run.nsvc; i++)
        if (dp->run.svc[i].proc && dp->run.svc[i].port)
            ports[k++] = dp->run.svc[i].port;
    probe_mark_own_ports(out, ports, k);
}

static void send_round(struct node_deploy *dp)
{
    struct deploy_plan *plan = &dp->plan;
    uint64_t now = uv_now(dp->base->loop);
    plan->deadline = now + PLAN_ROUND_MS;
    for (size_t i = 0; i < dp->base->peers.n; i++) {
        plan->got[i] = false;
        memset(&plan->facts[i], 0, sizeof(plan->facts[i]));
        snprintf(plan->facts[i].node, sizeof(plan->facts[i].node), "%s", dp->base->peers.m[i].id);
        char within[32];
        snprintf(plan->facts[i].error, sizeof(plan->facts[i].error), "did not answer within %s",
                 manifest_duration_text(PLAN_ROUND_MS, within, sizeof(within)));
    }
    for (size_t i = 0; i < dp->base->peers.n; i++) {
        /* The actions for member i, in order. */
        struct cert_heal_action mine[CERT_MAX_ACTIONS];
        size_t k = 0;
        for (size_t a = 0; a < plan->nactions; a++)
            if (strcmp(plan->actions[a].node, dp->base->peers.m[i].id) == 0)
                mine[k++] = plan->actions[a];
        if (i == dp->base->peers.self) {
            struct cert_heal_result res[CERT_MAX_ACTIONS];
            heal_and_probe(dp, &plan->m, mine, k, res, &plan->facts[i]);
            for (size_t a = 0, j = 0; a < plan->nactions && j < k; a++)
                if (strcmp(plan->actions[a].node, dp->base->cfg.id) == 0)
                    plan->results[a] = res[j++];
            plan->got[i] = true;
            continue;
        }
        struct node_pack p;
        node_pack_init(&p);
        msgpack_pack_array(&p.pk, 4);
        msgpack_pack_uint32(&p.pk, MSG_PLAN_PROBE);
        msgpack_pack_uint64(&p.pk, plan->id);
        msgpack_pack_str_with_body(&p.pk, plan->manifest, plan->mlen);
        msgpack_pack_array(&p.pk, (uint32_t)k);
        for (size_t a = 0; a < k; a++) {
            msgpack_pack_array(&p.pk, 2);
            msgpack_pack_str_with_body(&p.pk, mine[a].service, strlen(mine[a].service));
            msgpack_pack_uint32(&p.pk, (uint32_t)mine[a].kind);
        }
        node_pack_send(dp->base, i, ENV_LEDGER, &p);
    }
}

/* Ends the plan: tells whoever started it how, and frees it. */
static void finish(struct node_deploy *dp, enum deploy_plan_end end, json_t *plan_json,
                   bool certified)
{
    struct deploy_plan *plan = &dp->plan;
    plan->active = false;
    struct deploy_plan_outcome o = {.end = end,
                                    .manifest = plan->manifest,
                                    .mlen = plan->mlen,
                                    .m = &plan->m,
                                    .plan = plan_json,
                                    .certified = certified,
                                    .dry_run = plan->dry_run};
    plan->done(plan->ctx, plan->arg, &o);
    plan->done = NULL;
    plan->ctx = plan->arg = NULL;
    manifest_free(&plan->m);
    free(plan->manifest);
    plan->manifest = NULL;
    json_decref(plan->planned);
    plan->planned = NULL;
}

/* The round is over: judge, then heal again or certify. */
static void judge_round(struct node_deploy *dp)
{
    struct deploy_plan *plan = &dp->plan;
    if (plan->nactions > 0 && !plan->dry_run)
        cert_session_record(&plan->sess, plan->actions, plan->results, plan->nactions);
    for (size_t i = 0; i < dp->base->peers.n; i++)
        plan->facts[i].answered = plan->got[i];
    size_t nactions = 0;
    enum cert_next next = cert_session_next(&plan->sess, &plan->m, plan->facts, dp->base->peers.n,
                                            plan->actions, CERT_MAX_ACTIONS, &nactions);
    if (next == CERT_NEXT_HEAL && !plan->dry_run) {
        plan->nactions = nactions;
        memset(plan->results, 0, sizeof(plan->results));
        send_round(dp);
        return;
    }
    if (next == CERT_NEXT_HEAL) {
        plan->planned = json_array();
        for (size_t a = 0; a < nactions && a < CERT_MAX_ACTIONS; a++)
            json_array_append_new(plan->planned,
                                  json_pack("{s:s, s:s, s:s}", "node", plan->actions[a].node,
                                            "service", plan->actions[a].service, "action",
                                            cert_heal_kind_name(plan->actions[a].kind)));
    }
    uint8_t digest[MANIFEST_DIGEST_BYTES];
    manifest_digest(plan->manifest, plan->mlen, digest);
    static struct cert_certificate cert;
    bool certified = cert_certify(&plan->sess, &plan->m, true, digest, &dp->raft->key_pair,
                                  dp->base->cfg.id, &cert) == 0;
    json_t *j = cert_to_json(&plan->sess, &cert);
    if (!j) {
        finish(dp, DEPLOY_PLAN_NO_MEMORY, NULL, false);
        return;
    }
    /* The API's shape: the issues under "simulation". */
    json_t *issues = json_incref(json_object_get(j, "issues"));
    json_t *total = json_incref(json_object_get(j, "issues_total"));
    json_object_del(j, "issues");
    json_object_del(j, "issues_total");
    json_object_set_new(j, "simulation",
                        json_pack("{s:o, s:o, s:i}", "issues", issues, "issues_total", total,
                                  "nodes_answered", (int)plan->sess.nanswered));
    if (plan->planned)
        json_object_set(json_object_get(j, "healing"), "would_run", plan->planned);
    node_event(dp->base, "chimera.simulate.complete", NULL, "%s %s: %zu issue%s on %zu node%s",
               plan->m.name, plan->m.version, plan->sess.issues_total,
               plan->sess.issues_total == 1 ? "" : "s", plan->sess.nnodes,
               plan->sess.nnodes == 1 ? "" : "s");
    size_t nwould = json_array_size(plan->planned);
    if (plan->dry_run && nwould > 0) /* its one attempt is of healing that never ran */
        node_event(dp->base, "deploy.heal.complete", NULL,
                   "%s %s: dry run: healing would run %zu action%s, none ran", plan->m.name,
                   plan->m.version, nwould, nwould == 1 ? "" : "s");
    else if (plan->sess.attempts > 0)
        node_event(dp->base, "deploy.heal.complete", NULL, "%s %s: %u healing attempt%s",
                   plan->m.name, plan->m.version, plan->sess.attempts,
                   plan->sess.attempts == 1 ? "" : "s");
    char failed[128];
    cert_failed_links(&cert, failed, sizeof(failed));
    node_event(dp->base, certified ? "deploy.certified" : "deploy.rejected", NULL, "%s %s: %s%s",
               plan->m.name, plan->m.version,
               certified ? "certified, signed by " : "not certified: ",
               certified ? dp->base->cfg.id : failed);
    finish(dp, DEPLOY_PLAN_JUDGED, j, certified);
}

enum deploy_plan_start deploy_plan_start(struct node_deploy *dp, const char *manifest, size_t mlen,
                                         bool dry_run, deploy_plan_done_cb done, void *ctx,
                                         void *arg)
{
    struct deploy_plan *plan = &dp->plan;
    if (plan->active)
        return DEPLOY_PLAN_BUSY;
    memset(&plan->m, 0, sizeof(plan->m));
    struct manifest_error me;
    plan->manifest = malloc(mlen + 1);
    if (!plan->manifest || manifest_parse(manifest, mlen, &plan->m, &me) != 0) {
        free(plan->manifest);
        plan->manifest = NULL;
        return DEPLOY_PLAN_CANNOT_HOLD;
    }
    memcpy(plan->manifest, manifest, mlen);
    plan->manifest[mlen] = '\0';
    plan->mlen = mlen;
    plan->active = true;
    plan->done = done;
    plan->ctx = ctx;
    plan->arg = arg;
    plan->dry_run = dry_run;
    plan->id = ++plan->last_id;
    plan->nactions = 0;
    plan->planned = NULL;
    cert_session_init(&plan->sess);
    send_round(dp);
    deploy_plan_tick(dp);
    return DEPLOY_PLAN_STARTED;
}

void deploy_plan_tick(struct node_deploy *dp)
{
    struct deploy_plan *plan = &dp->plan;
    if (!plan->active)
        return;
    bool all = true;
    for (size_t i = 0; i < dp->base->peers.n; i++) {
        /* Nobody waits for a member that is down. */
        bool down =
            !plan->got[i] && dp->base->peers.m[i].heard && dp->base->peers.m[i].status == PEER_DEAD;
        if (down)
            snprintf(plan->facts[i].error, sizeof(plan->facts[i].error), "it is down");
        all = all && (plan->got[i] || down);
    }
    if (dp->base->stopping) {
        finish(dp, DEPLOY_PLAN_STOPPING, NULL, false);
        return;
    }
    if (all || uv_now(dp->base->loop) >= plan->deadline)
        judge_round(dp);
}

/* A member asked to probe (and maybe heal) for the leader's plan-> */
void deploy_plan_on_probe(struct node_deploy *dp, size_t from, const msgpack_object *f)
{
    static struct manifest m;
    struct manifest_error me;
    struct cert_heal_action acts[MANIFEST_MAX_SERVICES];
    struct cert_heal_result res[MANIFEST_MAX_SERVICES];
    size_t k = 0;
    const msgpack_object_array *list = &f[3].via.array;
    static struct probe_facts facts;
    memset(&facts, 0, sizeof(facts));
    memset(res, 0, sizeof(res));
    if (manifest_parse(f[2].via.str.ptr, f[2].via.str.size, &m, &me) != 0) {
        snprintf(facts.node, sizeof(facts.node), "%s", dp->base->cfg.id);
        snprintf(facts.error, sizeof(facts.error), "manifest refused here: %.40s: %.100s", me.path,
                 me.message);
    } else {
        /* Probing changes nothing; healing does, so only the leader may ask. */
        uint32_t nlist = (int32_t)from == dp->raft->cons.leader ? list->size : 0;
        for (uint32_t i = 0; i < nlist && k < MANIFEST_MAX_SERVICES; i++) {
            const msgpack_object *a = &list->ptr[i];
            if (a->type != MSGPACK_OBJECT_ARRAY || a->via.array.size != 2 ||
                a->via.array.ptr[0].type != MSGPACK_OBJECT_STR ||
                a->via.array.ptr[0].via.str.size >= MANIFEST_ID_MAX ||
                a->via.array.ptr[1].type != MSGPACK_OBJECT_POSITIVE_INTEGER)
                continue;
            memset(&acts[k], 0, sizeof(acts[k]));
            snprintf(acts[k].node, sizeof(acts[k].node), "%s", dp->base->cfg.id);
            memcpy(acts[k].service, a->via.array.ptr[0].via.str.ptr,
                   a->via.array.ptr[0].via.str.size);
            acts[k].kind = (enum cert_heal_kind)a->via.array.ptr[1].via.u64;
            k++;
        }
        heal_and_probe(dp, &m, acts, k, res, &facts);
        manifest_free(&m);
    }
    json_t *j = probe_facts_to_json(&facts);
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    struct node_pack p;
    node_pack_init(&p);
    msgpack_pack_array(&p.pk, 4);
    msgpack_pack_uint32(&p.pk, MSG_PLAN_FACTS);
    msgpack_pack_uint64(&p.pk, f[1].via.u64);
    msgpack_pack_str_with_body(&p.pk, text ? text : "{}", text ? strlen(text) : 2);
    msgpack_pack_array(&p.pk, (uint32_t)k);
    for (size_t i = 0; i < k; i++) {
        msgpack_pack_array(&p.pk, 2);
        if (res[i].ok)
            msgpack_pack_true(&p.pk);
        else
            msgpack_pack_false(&p.pk);
        msgpack_pack_str_with_body(&p.pk, res[i].detail, strlen(res[i].detail));
    }
    node_pack_send(dp->base, from, ENV_LEDGER, &p);
    free(text);
}

/* A member's facts for the current round. */
void deploy_plan_on_facts(struct node_deploy *dp, size_t from, const msgpack_object *f)
{
    struct deploy_plan *plan = &dp->plan;
    if (!plan->active || f[1].via.u64 != plan->id || plan->got[from])
        return;
    json_error_t jerr;
    json_t *j = json_loadb(f[2].via.str.ptr, f[2].via.str.size, 0, &jerr);
    char err[256];
    if (!j || probe_facts_from_json(j, &plan->facts[from], err, sizeof(err)) != 0) {
        memset(&plan->facts[from], 0, sizeof(plan->facts[from]));
        snprintf(plan->facts[from].node, sizeof(plan->facts[from].node), "%s",
                 dp->base->peers.m[from].id);
        snprintf(plan->facts[from].error, sizeof(plan->facts[from].error),
                 "sent facts that do not decode");
    }
    json_decref(j);
    const msgpack_object_array *list = &f[3].via.array;
    for (size_t a = 0, i = 0; a < plan->nactions && i < list->size; a++) {
        if (strcmp(plan->actions[a].node, dp->base->peers.m[from].id) != 0)
            continue;
        const msgpack_object *r = &list->ptr[i++];
        if (r->type == MSGPACK_OBJECT_ARRAY && r->via.array.size == 2 &&
            r->via.array.ptr[0].type == MSGPACK_OBJECT_BOOLEAN &&
            r->via.array.ptr[1].type == MSGPACK_OBJECT_STR) {
            plan->results[a].ok = r->via.array.ptr[0].via.boolean;
            snprintf(plan->results[a].detail, sizeof(plan->results[a].detail), "%.*s",
                     (int)r->via.array.ptr[1].via.str.size, r->via.array.ptr[1].via.str.ptr);
        }
    }
    plan->got[from] = true;
    deploy_plan_tick(dp);
}
