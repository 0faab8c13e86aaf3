/* The releases this node holds (node_deploy.rels): what the ledger's
 * RELEASE records carried, kept in memory so a node can start a release
 * and the API can show it; a bounded table, whose eviction never drops a
 * release the rollout core may still need. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/deploy/deploy.h"

void deploy_releases_keep(struct node_deploy *dp, const char *id, const char *manifest, size_t mlen,
                          const char *cert, size_t clen)
{
    if (dp->nrels == PL_MAX_DEPLOYMENTS) {
        /* Forget the oldest release not in use (the core kept its state). */
        size_t drop = 0;
        while (drop < dp->nrels && (pl_find(&dp->pl, dp->rels[drop].id) ||
                                    strcmp(dp->rels[drop].id, dp->run.running) == 0))
            drop++;
        /* Every one is known to the core: forget the oldest that nothing
         * may need again (never the stable one, the one in progress or its
         * target, or what any node must run); if all are needed, keep them
         * and not this one (it stays in the ledger). */
        for (size_t k = 0; drop == dp->nrels && k < dp->nrels; k++) {
            const char *rid = dp->rels[k].id;
            const struct pl_state *ps = &dp->pl;
            bool needed = strcmp(rid, dp->run.running) == 0 || strcmp(rid, ps->prev_stable) == 0 ||
                          (ps->stable >= 0 && strcmp(rid, ps->deps[ps->stable].id) == 0) ||
                          (ps->active >= 0 && (strcmp(rid, ps->deps[ps->active].id) == 0 ||
                                               strcmp(rid, ps->deps[ps->active].target) == 0));
            for (size_t i = 0; i < ps->nnodes && !needed; i++)
                needed = strcmp(rid, ps->desired[i]) == 0;
            if (!needed)
                drop = k;
        }
        if (drop == dp->nrels)
            return;
        free(dp->rels[drop].manifest);
        free(dp->rels[drop].cert);
        memmove(&dp->rels[drop], &dp->rels[drop + 1], sizeof(dp->rels[0]) * (dp->nrels - drop - 1));
        dp->nrels--;
    }
    struct node_release *r = &dp->rels[dp->nrels];
    memset(r, 0, sizeof(*r));
    snprintf(r->id, sizeof(r->id), "%s", id);
    r->manifest = malloc(mlen + 1);
    r->cert = malloc(clen + 1);
    if (!r->manifest || !r->cert) {
        free(r->manifest);
        free(r->cert);
        return;
    }
    memcpy(r->manifest, manifest, mlen);
    r->manifest[mlen] = '\0';
    r->mlen = mlen;
    memcpy(r->cert, cert ? cert : "", clen);
    r->cert[clen] = '\0';
    dp->nrels++;
}

const struct node_release *deploy_releases_find(const struct node_deploy *dp, const char *id)
{
    for (size_t i = 0; i < dp->nrels; i++)
        if (strcmp(dp->rels[i].id, id) == 0)
            return &dp->rels[i];
    return NULL;
}
