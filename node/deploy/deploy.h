/* The deployment layer of the node: the ledger's deployment records
 * (deploy_records.c, node_deploy.c), the plan of a submitted release
 * (deploy_plan.c) and the release running here (deploy_run.c). */
#ifndef CHIMERA_NODE_DEPLOY_H
#define CHIMERA_NODE_DEPLOY_H

#include <jansson.h>
#include <msgpack.h>
#include <stdbool.h>
#include <stdint.h>

#include "node/base/base.h"
#include "node/base/release_watch.h"
#include "pipeline/driver.h"
#include "pipeline/health.h"
#include "pipeline/manifest.h"
#include "pipeline/rollout.h"

struct node;
struct http_request;

/* A release the ledger holds (its RELEASE record): what a node needs to
 * run it. */
struct node_release {
    char id[PL_ID_MAX];
    char *manifest; /* the exact submitted JSON */
    size_t mlen;
    char *cert; /* the certificate as JSON text */
};

struct node_deploy {
    struct pl_state pl;
    uint64_t applied; /* ledger index fed to the core so far */
    struct node_release rels[PL_MAX_DEPLOYMENTS];
    size_t nrels;
    uint64_t pending_index;     /* leader: a record appended and not yet committed */
    uint64_t history_before_ms; /* wall clock at start: older records are history (node_deploy.c) */
};

/* One service of the release running here (deploy_run.c). */
struct node_service_run {
    struct node *node;
    char name[MANIFEST_ID_MAX];
    struct drv_proc *proc; /* NULL once exited */
    bool exited;
    int64_t status;
    int sig;
    uint16_t port;
    char url[1024];
    uint64_t started_ms, next_probe;
    bool probing, healthy, unhealthy;
    uint32_t passes, fails;
    uint64_t healthy_since; /* wall clock */
    char last_error[128];
};

struct node_run {
    char running[PL_ID_MAX]; /* the deployment whose release runs here ("" none) */
    uint32_t gen;            /* pl_desired_gen when it was started */
    uint64_t epoch;          /* counts starts; a probe answer of an older one is dropped */
    struct manifest m;
    bool have_manifest;
    struct node_service_run svc[MANIFEST_MAX_SERVICES];
    size_t nsvc;
    bool stopping;
    uint64_t min_healthy_ms;
    enum pl_health health;
    uint64_t healthy_since;
    char detail[PL_REASON_MAX];
    uint64_t report_due;
    struct release_watch watch; /* leader: the members' release health, as events */
    struct health_checker *hc;  /* the HTTP health checks of the services here */
};

/* Deployment records (deploy_records.c): encode returns the entry type. */
uint32_t deploy_record_encode(const struct pl_record *r, const char *manifest, size_t mlen,
                              const char *cert, struct node_pack *p);
int deploy_record_decode(const uint8_t *payload, size_t len, uint64_t at_ms, struct pl_record *r,
                         const char **manifest, size_t *mlen, const char **cert, size_t *clen);

/* Deployments (node_deploy.c): start after the ledger and consensus; feed
 * committed entries; the leader's decisions on each tick. */
int node_deploy_start(struct node *n);
void node_deploy_stop(struct node *n);
void node_deploy_committed(struct node *n, uint64_t commit);
void node_deploy_tick(struct node *n);
/* Leader: appends a record (one fdatasync); *index is its entry. */
int node_deploy_append(struct node *n, const struct pl_record *r, const char *manifest, size_t mlen,
                       const char *cert, uint64_t *index, char *err, size_t errlen);
const struct node_release *node_deploy_release(const struct node *n, const char *id);

/* The release running here (deploy_run.c). */
void node_run_cleanup_strays(struct node *n);
void node_run_tick(struct node *n);
void node_run_stop(struct node *n);
bool node_run_recv(struct node *n, size_t from, uint64_t kind, const struct msgpack_object *body);

/* Simulate on every node, heal, certify (deploy_plan.c); ends in
 * api_deploy_planned, or answers req itself on error. */
void deploy_plan_start(struct node *n, struct http_request *req, const char *manifest, size_t mlen,
                       const struct manifest *m, bool dry_run);
void node_plan_tick(struct node *n);
bool node_plan_recv(struct node *n, size_t from, uint64_t kind, const struct msgpack_object *body);

#endif
