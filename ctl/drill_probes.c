/* chimeractl drill run: the steady-state probes (drill_run_int.h), a
 * sweep of them, and the measuring of an action against its SLO by
 * sweeps (the decisions are chaos/drill's drill_measure_sweep). */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/deploy_int.h"
#include "ctl/drill_run_int.h"
#include "pipeline/core/manifest.h"

static bool probe_state(const struct drun *x, const struct drill_probe *p, json_t *state,
                        char *detail, size_t cap)
{
    detail[0] = '\0';
    if (!state) {
        snprintf(detail, cap, "no node answered");
        return false;
    }
    json_t *peers = json_object_get(state, "peers"), *m;
    size_t i;
    switch (p->kind) {
    case DRILL_PROBE_LEADER: {
        const char *l = json_string_value(json_object_get(state, "leader"));
        snprintf(detail, cap, l ? "leader %s" : "no leader", l);
        return l != NULL;
    }
    case DRILL_PROBE_ALL_ALIVE:
        json_array_foreach(peers, i, m)
        {
            const char *st = json_string_value(json_object_get(m, "status"));
            if (!st || strcmp(st, "alive") != 0) {
                char one[96];
                snprintf(one, sizeof one, "%s %s", ctl_json_str(m, "node", "?"), st ? st : "?");
                drun_append(detail, cap, one);
            }
        }
        if (!*detail)
            snprintf(detail, cap, "%zu members alive", json_array_size(peers));
        return strstr(detail, "members alive") != NULL;
    case DRILL_PROBE_NONE_READ_ONLY: {
        /* Each member says for itself; one that does not answer is
         * all_alive's business. */
        bool any = false;
        json_array_foreach(peers, i, m)
        {
            const char *http = json_string_value(json_object_get(m, "http"));
            long st;
            json_t *s = http ? ctl_get_json(x->o, http, "/federation/state", &st) : NULL;
            if (s && json_is_true(json_object_get(s, "read_only"))) {
                drun_append(detail, cap, ctl_json_str(m, "node", "?"));
                any = true;
            }
            json_decref(s);
        }
        if (any) {
            char tmp[160];
            snprintf(tmp, sizeof tmp, "read-only: %s", detail);
            snprintf(detail, cap, "%s", tmp);
        } else
            snprintf(detail, cap, "no member read-only");
        return !any;
    }
    case DRILL_PROBE_RELEASE_HEALTHY: {
        bool any_release = false;
        json_array_foreach(peers, i, m)
        {
            json_t *rel = json_object_get(m, "release");
            const char *h = json_string_value(json_object_get(rel, "health"));
            if (json_is_string(json_object_get(rel, "running")))
                any_release = true;
            /* The leader's view of a member it no longer hears is that
             * member's last report: stale, as chimeractl status shows it. */
            if (strcmp(ctl_json_str(m, "status", ""), "dead") == 0)
                h = "unknown (dead)";
            if (!h || strcmp(h, "healthy") != 0) {
                char one[96];
                snprintf(one, sizeof one, "%s %s", ctl_json_str(m, "node", "?"), h ? h : "?");
                drun_append(detail, cap, one);
            }
        }
        if (!any_release) {
            snprintf(detail, cap, "no release deployed");
            return false;
        }
        if (*detail)
            return false;
        snprintf(detail, cap, "healthy on %zu members", json_array_size(peers));
        return true;
    }
    default:
        return false;
    }
}

static bool probe_note(struct drun *x, const struct drill_probe *p, char *detail, size_t cap)
{
    char text[DRILL_TITLE_MAX + DRILL_NAME_MAX + 32];
    snprintf(text, sizeof text, "drill \"%s\": probe \"%s\"", x->f.d.title, p->name);
    json_t *body = json_pack("{s:[s]}", "notes", text);
    char *payload = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (!payload) {
        snprintf(detail, cap, "out of memory");
        return false;
    }
    int64_t t = ctl_mono_ms();
    struct ctl_reply r;
    int rc = drun_post(x, "/ledger/notes", payload, false, &r);
    int64_t took = ctl_mono_ms() - t;
    free(payload);
    bool ok = rc == 0 && r.status >= 200 && r.status < 300;
    char want[32], in[32];
    manifest_format_duration(p->within_ms, want, sizeof want);
    if (!ok)
        snprintf(detail, cap, "not committed: %.120s",
                 rc != 0 ? r.error : ctl_json_str(r.json, "error", "error status"));
    else
        snprintf(detail, cap, "committed in %s (tolerance %s)", ctl_ms_text(took, in, sizeof in),
                 want);
    ctl_reply_free(&r);
    return ok && took <= (int64_t)p->within_ms;
}

static bool probe_http(const struct drill_probe *p, char *detail, size_t cap)
{
    CURL *c = curl_easy_init();
    if (!c) {
        snprintf(detail, cap, "curl cannot start");
        return false;
    }
    struct ctl_body body = {.max = 64 * 1024};
    curl_easy_setopt(c, CURLOPT_URL, p->url);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)p->timeout_ms);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, ctl_body_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
    CURLcode rc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    free(body.buf);
    if (rc != CURLE_OK && !body.too_big) {
        snprintf(detail, cap, "%s", curl_easy_strerror(rc));
        return false;
    }
    snprintf(detail, cap, "answered %ld", status);
    for (size_t i = 0; i < p->nstatuses; i++)
        if (p->statuses[i] == status)
            return true;
    return false;
}

/* One sweep of the probes in mask; res gets each one's result. True when
 * every one held. */
bool drun_sweep(struct drun *x, uint32_t mask, struct drill_probe_result *res)
{
    const struct drill *d = &x->f.d;
    json_t *state = NULL;
    bool have_state = false, all = true;
    for (size_t i = 0; i < d->nprobes; i++) {
        if (!(mask & (1u << i)))
            continue;
        const struct drill_probe *p = &d->probes[i];
        bool got;
        int64_t now = ctl_mono_ms();
        if (!drill_probe_due(p, x->last_ms[i], now)) {
            res[i] = x->last[i];
            all = all && res[i].held;
            continue;
        }
        x->last_ms[i] = now;
        if (p->kind == DRILL_PROBE_NOTE_COMMITS)
            got = probe_note(x, p, res[i].detail, sizeof res[i].detail);
        else if (p->kind == DRILL_PROBE_HTTP)
            got = probe_http(p, res[i].detail, sizeof res[i].detail);
        else {
            if (!have_state)
                state = ctl_leader_state(x->o), have_state = true;
            got = probe_state(x, p, state, res[i].detail, sizeof res[i].detail) == p->expect;
        }
        res[i].held = got;
        x->last[i] = res[i];
        all = all && res[i].held;
    }
    json_decref(state);
    return all;
}

/* The next sweep runs fresh: every probe is due. */
void drun_sweep_fresh(struct drun *x)
{
    memset(x->last_ms, 0, sizeof x->last_ms);
}

uint32_t drun_all_probes(const struct drill *d)
{
    return d->nprobes >= 32 ? 0xffffffffu : (1u << d->nprobes) - 1;
}

/* The probes' first failure, as it happens: the node's figures, where
 * they count, come with the step's last line. */
void drun_say_detected(const struct drun *x, const struct drill_action *a,
                       const struct drill_step_result *s)
{
    char in[32], every[32];
    drun_progress(x, "  detected by the probes (every %s), %s after the %s",
                  ctl_ms_text(drill_sweep_resolution(&x->f.d, a->slo.probes), every, sizeof every),
                  ctl_ms_text(s->probes.detect_ms, in, sizeof in),
                  a->kind == DRILL_ACTION_DEPLOY ? "submission" : "injection");
}

/* Sweeps the SLO's probes of action a, started (injected, submitted) at
 * t_start (monotonic ms), until drill_measure_sweep says it is done or
 * probes that fail reach drill_measure_give_up_ms. ended: a deployment
 * that has ended as expected, so the probes holding is the end. w (may be
 * NULL) looks for the node's own record meanwhile. */
void drun_measure(struct drun *x, const struct drill_action *a, struct drill_step_result *s,
                  int64_t t_start, bool ended, struct node_watch *w)
{
    struct drill_probe_result res[DRILL_MAX_PROBES];
    uint32_t give_up = drill_measure_give_up_ms(a, (uint32_t)(ctl_mono_ms() - t_start));
    uint32_t since = 0;
    bool done = false, held = false;
    s->resolution_ms = drill_sweep_resolution(&x->f.d, a->slo.probes);
    memset(res, 0, sizeof res);
    while (!done && !ctl_interrupted && (held || since <= give_up)) {
        int64_t begun = ctl_mono_ms();
        held = drun_sweep(x, a->slo.probes, res);
        since = (uint32_t)(ctl_mono_ms() - t_start);
        bool seen = s->probes.detected;
        if (w)
            drun_watch_poll(x, w, s);
        done = drill_measure_sweep(a, s, held, since, ended);
        if (!seen && s->probes.detected)
            drun_say_detected(x, a, s);
        /* A sweep every DRILL_SWEEP_MS from its start, not after it. */
        int64_t next = begun + DRILL_SWEEP_MS - ctl_mono_ms();
        if (!done)
            ctl_sleep_ms(next > 0 ? (uint32_t)next : 0);
    }
    /* Unfinished, the probes failing past the SLO already missed it; a
     * recovery seen while the fault still acted is not one yet. */
    bool missed =
        !held && s->probes.detected && since > drill_slo_start_ms(a) + a->slo.recover_within_ms;
    if (!done)
        s->probes.recovered = false;
    drill_step_settle(a, s);
    char got[32];
    size_t n = strlen(s->detail);
    /* A Ctrl-C before the step could be judged leaves it unmeasured: the
     * step did not finish (could not run), rather than missing its SLO
     * (deviated). One past its SLO, unrecovered, did miss it. */
    if (!s->recovered && ctl_interrupted && !missed) {
        char what[sizeof s->detail / 2];
        snprintf(what, sizeof what, "%.*s", (int)sizeof what - 1, s->detail);
        manifest_format_duration(a->slo.recover_within_ms, got, sizeof got);
        drun_fail_step(s, "%s; interrupted before it recovered, within its SLO of %s", what, got);
    } else if (!s->recovered) {
        snprintf(s->detail + n, sizeof s->detail - n, "; not recovered");
        drun_progress(x, "  NOT recovered");
    } else if (!s->detected) {
        snprintf(s->detail + n, sizeof s->detail - n,
                 "; not detected: the probes held throughout and the node recorded no failure");
        drun_progress(x, "  masked: the probes held throughout and the node recorded no failure");
    } else {
        char figures[512];
        drill_step_figures(a, s, figures, sizeof figures);
        drun_progress(x, "  recovered: %s", figures);
    }
}
