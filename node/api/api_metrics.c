/* GET /metrics: the node's state and what it measured, in Prometheus'
 * text format (version 0.0.4), base units, bounded labels (members, the
 * route table's patterns, fixed sets of outcomes, causes, kinds and
 * verdicts). Every histogram is a struct histogram (node/base/histogram.h).
 * The names are a contract with deploy/prometheus and deploy/grafana
 * (README "Metrics"): extend, never rename. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/api/api.h"
#include "node/msg.h"

#ifndef CHIMERA_COMMIT
#define CHIMERA_COMMIT "unknown"
#endif

static void metric(FILE *f, const char *name, const char *type, const char *help)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One unlabelled series with its HELP and TYPE lines. */
static void metric_u64(FILE *f, const char *name, const char *type, const char *help,
                       uint64_t value)
{
    metric(f, name, type, help);
    fprintf(f, "%s %" PRIu64 "\n", name, value);
}

/* The HTTP listener's counters (http.h). */
static void http_metrics(FILE *f, const struct http_stats *hs)
{
    const struct {
        const char *name, *type, *help;
        uint64_t value;
    } m[] = {
        {"chimera_http_connections", "gauge", "HTTP connections open.", hs->open},
        {"chimera_http_connections_max", "gauge", "HTTP connections allowed at once.",
         hs->max_open},
        {"chimera_http_connections_refused_total", "counter",
         "HTTP connections turned away at the cap (503).", hs->refused},
        {"chimera_http_connections_timed_out_total", "counter",
         "HTTP connections closed by the header, body or write timeout.", hs->timed_out},
        {"chimera_http_accept_errors_total", "counter",
         "accept() failures on the HTTP listener (out of descriptors).", hs->accept_errors},
        {"chimera_http_streams", "gauge", "Event streams open (GET /events/stream).", hs->streams},
        {"chimera_http_streams_max", "gauge", "Event streams allowed at once.", hs->max_streams},
        {"chimera_http_streams_dropped_total", "counter",
         "Event streams dropped: their client fell behind or took nothing.", hs->streams_dropped},
    };
    for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++)
        metric_u64(f, m[i].name, m[i].type, m[i].help, m[i].value);
}

/* ---- HTTP request durations ---- */

static const double request_le[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                    0.25,  0.5,    1,     2.5,  5,     10};

const char api_route_other[] = "other";

/* route is a route table row's path or api_route_other: one pointer per
 * route, so the lookup compares pointers. */
static struct api_request_series *request_series(struct node_api *api, const char *route, int code)
{
    for (size_t i = 0; i < api->nrequests; i++) {
        struct api_request_series *s = &api->requests[i];
        if (s->code == code && s->route == route)
            return s;
    }
    struct api_request_series *s = &api->requests[api->nrequests];
    if (api->nrequests == API_REQUEST_SERIES - 1) {
        route = api_route_other; /* the last one takes the rest */
        code = 0;
        if (s->route)
            return s;
    } else
        api->nrequests++;
    s->route = route;
    s->code = code;
    histogram_init(&s->h, request_le, sizeof(request_le) / sizeof(request_le[0]));
    return s;
}

void api_metrics_answered(struct http_request *req, int status)
{
    struct node_api *api = req->answer_ctx;
    if (!api || !req->route)
        return;
    histogram_observe_ns(&request_series(api, req->route, status)->h, req->started_ns, uv_hrtime());
}

static void request_metrics(FILE *f, const struct node_api *api)
{
    const char *name = "chimera_http_request_duration_seconds";
    histogram_header(f, name,
                     "HTTP requests from their handling (the body read) to their answer, by "
                     "route (the route table's pattern, or other) and status code.");
    size_t n = api->nrequests + (api->requests[API_REQUEST_SERIES - 1].route ? 1 : 0);
    for (size_t i = 0; i < n && i < API_REQUEST_SERIES; i++) {
        const struct api_request_series *s = &api->requests[i];
        char route[128], labels[192], code[16] = "other";
        if (s->code)
            snprintf(code, sizeof(code), "%d", s->code);
        snprintf(labels, sizeof(labels), "route=\"%s\",code=\"%s\"",
                 histogram_label_value(s->route, route, sizeof(route)), code);
        histogram_write(f, name, labels, &s->h);
    }
}

/* ---- consensus and the ledger ---- */

static void raft_metrics(FILE *f, struct node_api *api)
{
    const struct node_raft *r = api->raft;
    const struct raft_metrics *m = &r->metrics;
    metric(f, "chimera_build_info", "gauge",
           "Always 1: the version of chimerad and the commit it was built from.");
    fprintf(f, "chimera_build_info{version=\"%s\",commit=\"%s\"} 1\n", CHIMERA_VERSION,
            CHIMERA_COMMIT);
    /* The judgement GET /health/ready makes: a leader known, and not
     * read-only (the leader has a quorum). */
    metric_u64(f, "chimera_has_leader", "gauge",
               "1 when this node knows a quorum-backed leader (itself included).",
               api_gate_leader_id(api) && !api_gate_read_only(api));
    metric_u64(f, "chimera_leader_changes_seen_total", "counter",
               "Times this node saw another leader (or one again after none).", m->leader_changes);
    metric_u64(f, "chimera_ledger_index", "gauge", "Index of the last entry in this node's ledger.",
               r->ledger ? ledger_last_index(r->ledger) : 0);
    metric_u64(f, "chimera_ledger_committed_index", "gauge",
               "Highest ledger index this node knows committed.", r->cons.commit);
    metric_u64(f, "chimera_proposals_committed_total", "counter",
               "Ledger entries this node saw committed since it started.", m->committed);
    metric_u64(f, "chimera_proposals_failed_total", "counter",
               "Entries this node, as leader, could not append or did not see committed before "
               "it stopped leading.",
               m->failed);
    metric_u64(f, "chimera_proposals_pending", "gauge",
               "Entries this node appended as leader and has not seen committed yet.",
               raft_metrics_pending(m, r->cons.role == CONS_LEADER, r->cons.commit));
    histogram_header(f, "chimera_ledger_fsync_duration_seconds",
                     "Syncs of the ledger's files (fdatasync of a batch of entries, fsync of "
                     "the folder when a segment starts).");
    histogram_write(f, "chimera_ledger_fsync_duration_seconds", "", &m->fsync);
    metric_u64(f, "chimera_ledger_loop_syncs_total", "counter",
               "Syncs of the ledger the node's loop waited for (start-up, a new segment's folder, "
               "a truncation); the others run on the thread pool.",
               r->loop_syncs);
    histogram_header(f, "chimera_ledger_commit_duration_seconds",
                     "Leader: from the start of an append (one batch of entries) to its commit.");
    histogram_write(f, "chimera_ledger_commit_duration_seconds", "", &m->commit);
    histogram_header(f, "chimera_peer_round_trip_time_seconds",
                     "Leader: round trips of heartbeats to each member.");
    for (size_t i = 0; i < api->base->peers.n && i < CONFIG_MAX_MEMBERS; i++) {
        if (i == api->base->peers.self)
            continue;
        char peer[128], labels[160];
        snprintf(labels, sizeof(labels), "peer=\"%s\"",
                 histogram_label_value(api->base->peers.m[i].id, peer, sizeof(peer)));
        histogram_write(f, "chimera_peer_round_trip_time_seconds", labels, &m->rtt[i]);
    }
}

/* ---- deployments, chaos and drills (folded from the ledger) ---- */

static void deploy_metrics(FILE *f, const struct node_deploy *dp)
{
    metric(f, "chimera_deployments_total", "counter",
           "Deployments of releases in the ledger, by outcome: stable, rolled_back (failed, "
           "and its policy rolled it back), failed, aborted (a rollback replaced it).");
    for (int o = 0; o < PL_OUTCOME_COUNT; o++)
        fprintf(f, "chimera_deployments_total{outcome=\"%s\"} %" PRIu64 "\n",
                pl_outcome_name((enum pl_outcome)o), dp->outcomes[o]);
    metric(f, "chimera_rollbacks_total", "counter",
           "Rollbacks in the ledger, by cause (manual, or the failure an automatic one reverts).");
    for (int c = 0; c < PL_CAUSE_COUNT; c++)
        fprintf(f, "chimera_rollbacks_total{cause=\"%s\"} %" PRIu64 "\n",
                pl_cause_name((enum pl_cause)c), dp->rollbacks[c]);
}

static void chaos_metrics(FILE *f, const struct node_chaos *c)
{
    static const char *const outcomes[CHAOS_OUTCOMES] = {"injected", "healed", "refused"};
    metric(f, "chimera_chaos_faults_total", "counter",
           "Chaos faults in the ledger, by kind and outcome (injected, healed, refused).");
    for (int k = 0; k <= CHAOS_KIND_COUNT; k++)
        for (int o = 0; o < CHAOS_OUTCOMES; o++)
            fprintf(f, "chimera_chaos_faults_total{kind=\"%s\",outcome=\"%s\"} %" PRIu64 "\n",
                    k < CHAOS_KIND_COUNT ? chaos_kind_name((enum chaos_kind)k) : "unknown",
                    outcomes[o], c->faults[k][o]);
    /* The oldest fault the ledger has not healed: one in force past its
     * duration is one the leader failed to heal. */
    const struct chaos_fault *oldest = c->state.nactive ? &c->state.active[0] : NULL;
    uint64_t now = (uint64_t)node_wall_ms();
    metric_u64(f, "chimera_chaos_fault_active", "gauge",
               "1 while a chaos fault is in force (injected, not yet healed).", oldest != NULL);
    metric(f, "chimera_chaos_fault_active_seconds", "gauge",
           "Age of the oldest chaos fault in force (0 when none).");
    fprintf(f, "chimera_chaos_fault_active_seconds %.3f\n",
            oldest && now > oldest->start_ms ? (double)(now - oldest->start_ms) / 1000.0 : 0.0);
    metric(f, "chimera_chaos_fault_planned_seconds", "gauge",
           "Planned duration of the oldest chaos fault in force (0 when none).");
    fprintf(f, "chimera_chaos_fault_planned_seconds %.3f\n",
            oldest ? (double)oldest->duration_ms / 1000.0 : 0.0);
    metric(f, "chimera_drills_total", "counter", "Drill results in the ledger, by verdict.");
    for (int v = 0; v < DRILL_VERDICTS; v++)
        fprintf(f, "chimera_drills_total{verdict=\"%s\"} %" PRIu64 "\n",
                drill_verdict_name((enum drill_verdict)v), c->drills[v]);
}

void api_metrics_get(struct node_api *api, struct http_request *req)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) {
        http_respond_error(req, 500, "out of memory");
        return;
    }
    uint64_t now = uv_now(api->base->loop);
    metric(f, "chimera_uptime_seconds", "gauge", "Seconds since this node started.");
    fprintf(f, "chimera_uptime_seconds %.3f\n", (double)(now - api->base->started_ms) / 1000.0);
    metric_u64(f, "chimera_messages_received_total", "counter", "Node-to-node messages accepted.",
               api->base->metrics.msgs_received);
    metric_u64(f, "chimera_messages_sent_total", "counter",
               "Node-to-node messages queued for sending.", api->base->metrics.msgs_sent);
    metric(f, "chimera_messages_sent_by_type_total", "counter",
           "Node-to-node messages queued for sending, by envelope type.");
    for (uint32_t t = 1; t < ENV_TYPE_MAX; t++)
        fprintf(f, "chimera_messages_sent_by_type_total{type=\"%s\"} %" PRIu64 "\n",
                node_msg_type_name(t), api->base->metrics.sent_by_type[t]);
    metric(f, "chimera_message_bytes_sent_total", "counter",
           "Sealed bytes of node-to-node messages queued for sending, by envelope type.");
    for (uint32_t t = 1; t < ENV_TYPE_MAX; t++)
        fprintf(f, "chimera_message_bytes_sent_total{type=\"%s\"} %" PRIu64 "\n",
                node_msg_type_name(t), api->base->metrics.sent_bytes_by_type[t]);
    metric(f, "chimera_messages_dropped_total", "counter",
           "Node-to-node messages dropped, by reason.");
    for (int d = 0; d < DROP_COUNT; d++)
        fprintf(f, "chimera_messages_dropped_total{reason=\"%s\"} %" PRIu64 "\n",
                node_drop_name((enum node_drop)d), api->base->metrics.dropped[d]);
    metric(f, "chimera_members", "gauge", "Members by liveness status.");
    size_t count[3] = {0};
    for (size_t i = 0; i < api->base->peers.n; i++)
        count[api->base->peers.m[i].status]++;
    for (int s = PEER_DEAD; s <= PEER_ALIVE; s++)
        fprintf(f, "chimera_members{status=\"%s\"} %zu\n", peer_status_name((enum peer_status)s),
                count[s]);
    metric(f, "chimera_peer_last_contact_seconds", "gauge",
           "Seconds since each member was last heard from (absent: never).");
    for (size_t i = 0; i < api->base->peers.n; i++) {
        int64_t age = peers_age_ms(&api->base->peers, i, now);
        if (age >= 0)
            fprintf(f, "chimera_peer_last_contact_seconds{peer=\"%s\"} %.3f\n",
                    api->base->peers.m[i].id, (double)age / 1000.0);
    }
    metric_u64(f, "chimera_events_total", "counter", "Events recorded.",
               events_recorded(&api->base->events));
    metric_u64(f, "chimera_http_requests_total", "counter", "HTTP requests served.",
               api->base->metrics.http_requests);
    metric(f, "chimera_http_auth_failures_total", "counter",
           "HTTP requests refused for want of a token (missing: 401) or with a wrong one (403).");
    fprintf(f, "chimera_http_auth_failures_total{reason=\"missing\"} %" PRIu64 "\n",
            api->base->metrics.http_auth_failures[API_AUTH_MISSING]);
    fprintf(f, "chimera_http_auth_failures_total{reason=\"wrong\"} %" PRIu64 "\n",
            api->base->metrics.http_auth_failures[API_AUTH_WRONG]);
    if (api->http)
        http_metrics(f, http_stats(api->http));
    request_metrics(f, api);
    metric_u64(f, "chimera_ledger_checkpoints_total", "counter",
               "Ledger checkpoints stored (signed here as leader, or received and cosigned).",
               api->base->metrics.checkpoints);
    metric_u64(f, "chimera_ledger_notarized_total", "counter",
               "Checkpoints this node led that a quorum of members signed.",
               api->base->metrics.notarized);
    metric_u64(f, "chimera_ledger_equivocations_total", "counter",
               "Conflicting signed checkpoints detected (evidence kept).",
               api->base->metrics.equivocations);
    api_recovery_metrics(api, f);
    const struct deploy_run *r = &api->deploy->run;
    enum pl_health own = api_own_health(api);
    metric(f, "chimera_release_healthy", "gauge",
           "1 when the release running here is healthy (or nothing runs), 0 otherwise.");
    fprintf(f, "chimera_release_healthy %d\n", own == PL_H_HEALTHY || own == PL_H_NONE);
    metric(f, "chimera_release_health", "gauge",
           "1 for the health of the release running here, 0 for the others.");
    for (int h = PL_H_NONE; h <= PL_H_START_FAILED; h++)
        fprintf(f, "chimera_release_health{health=\"%s\"} %d\n", pl_health_name((enum pl_health)h),
                own == (enum pl_health)h);
    static const char *const states[] = {"starting", "running", "exited", "start_failed",
                                         "stopped"};
    metric(f, "chimera_services", "gauge", "Services of the release running here, by state.");
    for (size_t k = 0; k < sizeof(states) / sizeof(states[0]); k++) {
        size_t in_state = 0;
        for (size_t i = 0; r->plan.running[0] && r->have_manifest && i < r->m.nservices; i++)
            in_state += strcmp(api_service_state(r, i), states[k]) == 0;
        fprintf(f, "chimera_services{state=\"%s\"} %zu\n", states[k], in_state);
    }
    metric_u64(f, "chimera_term", "gauge", "Current consensus term.", api->raft->cons.term);
    metric_u64(f, "chimera_is_leader", "gauge", "1 when this node is the leader.",
               api->raft->cons.role == CONS_LEADER);
    metric_u64(f, "chimera_read_only", "gauge", "1 when this node refuses mutations.",
               api_gate_read_only(api));
    raft_metrics(f, api);
    deploy_metrics(f, api->deploy);
    chaos_metrics(f, api->chaos);
    loop_lag_metrics(f, api->lag);
    fclose(f);
    http_respond(req, 200, "text/plain; version=0.0.4", text, len);
    free(text);
}
