/* chimeractl drill run: what the nodes recorded of a fault (drill_run_int.h),
 * read from their events while the runner sweeps. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/deploy_int.h"
#include "ctl/drill_run_int.h"

/* Node i's events after seq since; NULL when it does not answer. */
static json_t *events_since(const struct drun *x, const char *http, json_int_t since)
{
    char path[96];
    long st;
    snprintf(path, sizeof path, "/events?since=%" JSON_INTEGER_FORMAT "&limit=1000", since);
    struct ctl_opts oo = *x->o;
    oo.addr = http;
    struct ctl_client *cl = ctl_client_new(&oo);
    struct ctl_reply r;
    json_t *j = NULL;
    st = 0;
    if (cl && ctl_get(cl, path, &r) == 0) {
        st = r.status;
        if (st == 200 && json_is_array(r.json))
            j = json_incref(r.json);
    }
    if (cl) {
        ctl_reply_free(&r);
        ctl_client_free(cl);
    }
    return j;
}

/* The first event after seq after of this kind whose message holds about
 * (and about2, unless NULL) in evs; NULL when none. */
static json_t *event_find(json_t *evs, json_int_t after, const char *kind, const char *about,
                          const char *about2)
{
    size_t i;
    json_t *e;
    json_array_foreach(evs, i, e)
    {
        const char *k = json_string_value(json_object_get(e, "kind"));
        const char *m = json_string_value(json_object_get(e, "message"));
        if (k && m && json_integer_value(json_object_get(e, "seq")) > after &&
            strcmp(k, kind) == 0 && strstr(m, about) && (!about2 || strstr(m, about2)))
            return e;
    }
    return NULL;
}

/* Before the injection: every member but skip (or only, with only_skip)
 * and its last event's seq. */
static void watch_members(const struct drun *x, struct node_watch *w, const char *node,
                          bool only_node)
{
    json_t *s = ctl_leader_state(x->o), *m;
    size_t i;
    w->n = 0;
    json_array_foreach(s ? json_object_get(s, "peers") : NULL, i, m)
    {
        const char *id = json_string_value(json_object_get(m, "node"));
        const char *http = json_string_value(json_object_get(m, "http"));
        if (!id || !http || w->n == WATCH_MAX || (strcmp(id, node) == 0) != only_node)
            continue;
        json_t *evs = events_since(x, http, 0);
        size_t k = json_array_size(evs);
        w->since[w->n] =
            k ? json_integer_value(json_object_get(json_array_get(evs, k - 1), "seq")) : 0;
        json_decref(evs);
        snprintf(w->id[w->n], sizeof w->id[0], "%s", id);
        snprintf(w->http[w->n], sizeof w->http[0], "%s", http);
        w->n++;
    }
    json_decref(s);
}

void drun_watch_start(const struct drun *x, const struct drill_action *a, const char *node,
                      struct node_watch *w)
{
    memset(w, 0, sizeof *w);
    if (a->kind != DRILL_ACTION_FAULT || a->slo.from != DRILL_SLO_FROM_INJECT)
        return;
    if (a->fault == DRILL_FAULT_KILL_SERVICE) {
        w->kind = WATCH_SERVICE;
        snprintf(w->service, sizeof w->service, "%s", a->target);
        watch_members(x, w, node, true);
    } else if (a->fault == DRILL_FAULT_KILL_NODE) {
        w->kind = WATCH_ELECTION;
        watch_members(x, w, node, false);
    }
}

uint32_t drun_ms_between(json_int_t from, json_int_t to)
{
    return to > from ? (uint32_t)(to - from) : 0;
}

/* Looks for the node's record of the fault once more; fills s->node when
 * found. */
void drun_watch_poll(const struct drun *x, struct node_watch *w, struct drill_step_result *s)
{
    if (w->kind == WATCH_NONE || s->node.seen || w->n == 0)
        return;
    struct drill_node_times *nt = &s->node;
    if (w->kind == WATCH_SERVICE) {
        json_t *evs = events_since(x, w->http[0], w->since[0]);
        if (!w->injected_seq) {
            json_t *inj = event_find(evs, 0, "chaos.injected", w->fault_id, NULL);
            w->injected_seq = json_integer_value(json_object_get(inj, "seq"));
            w->injected_t = json_integer_value(json_object_get(inj, "time_ms"));
        }
        char about[96];
        snprintf(about, sizeof about, "service %s on ", w->service);
        /* The first restart after the kill: the watchtower may have
         * restarted the service for another cause before it. */
        json_t *rec = w->injected_seq ? event_find(evs, w->injected_seq, "recovery.restarted",
                                                   about, "after signal")
                                      : NULL;
        const char *msg = json_string_value(json_object_get(rec, "message"));
        const char *again = msg ? strstr(msg, "healthy again in ") : NULL;
        if (again) {
            json_int_t t = json_integer_value(json_object_get(rec, "time_ms"));
            int64_t took = ctl_ms_of_text(again + strlen("healthy again in "));
            if (took < 0)
                took = 0; /* unreadable: taken as detected when it recovered */
            nt->seen = true;
            nt->t.detected = nt->t.recovered = true;
            nt->t.recover_ms = drun_ms_between(w->injected_t, t);
            nt->t.detect_ms = drun_ms_between(w->injected_t, t - took);
            char in[32];
            snprintf(nt->what, sizeof nt->what,
                     "%.24s on %.24s healthy again %s after the kill (recovery.restarted)",
                     w->service, w->id[0], ctl_ms_text(nt->t.recover_ms, in, sizeof in));
        }
        json_decref(evs);
        return;
    }
    json_int_t first = 0;
    const char *by = NULL;
    for (size_t i = 0; i < w->n; i++) {
        json_t *evs = events_since(x, w->http[i], w->since[i]);
        json_t *e = event_find(evs, 0, "consensus.elected", "elected leader", NULL);
        json_int_t t = json_integer_value(json_object_get(e, "time_ms"));
        if (e && (!first || t < first)) {
            first = t;
            by = w->id[i];
        }
        json_decref(evs);
    }
    if (!first)
        return;
    nt->seen = true;
    nt->t.detected = nt->t.recovered = true;
    nt->t.detect_ms = nt->t.recover_ms = drun_ms_between(w->injected_wall, first);
    char in[32];
    snprintf(nt->what, sizeof nt->what,
             "new leader %.32s elected %s after the kill (consensus.elected)", by,
             ctl_ms_text(nt->t.recover_ms, in, sizeof in));
}
