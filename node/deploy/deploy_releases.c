/* The releases this node holds (node_deploy.rels): what the ledger's
 * RELEASE records carried, kept in memory so a node can start a release
 * and the API can show it; a bounded table, whose eviction never drops a
 * release the rollout core may still need (the policy:
 * pipeline/core/release_table.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/deploy/deploy.h"
#include "pipeline/core/release_table.h"

void deploy_releases_keep(struct node_deploy *dp, const char *id, const char *manifest, size_t mlen,
                          const char *cert, size_t clen)
{
    const char *ids[PL_MAX_DEPLOYMENTS];
    for (size_t i = 0; i < dp->nrels; i++)
        ids[i] = dp->rels[i].id;
    size_t drop;
    enum release_table_room room = release_table_room(&dp->pl, dp->run.plan.running, ids, dp->nrels,
                                                      PL_MAX_DEPLOYMENTS, &drop);
    if (room == RELEASE_TABLE_FULL)
        return; /* every one may be needed; this one stays in the ledger */
    if (room == RELEASE_TABLE_EVICT) {
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
