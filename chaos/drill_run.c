/* Drills: the pure pieces of a run (drill.h): the drill back as JSON, the
 * verdict from what the runner measured, the journal, its digest and the
 * report. The runner owns the clock; nothing here reads one. */
#include "chaos/drill.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "pipeline/core/manifest.h"

static json_t *duration(uint32_t ms)
{
    char buf[32];
    manifest_format_duration(ms, buf, sizeof buf);
    return json_string(buf);
}

/* ---- the drill as JSON ---- */

static json_t *probe_json(const struct drill_probe *p)
{
    json_t *prov = json_pack("{s:s}", "type", drill_probe_name(p->kind));
    json_t *o = json_pack("{s:s,s:s,s:o}", "type", "probe", "name", p->name, "provider", prov);
    if (!o)
        return NULL;
    if (p->kind == DRILL_PROBE_NOTE_COMMITS) {
        json_object_set_new(o, "tolerance", duration(p->within_ms));
    } else if (p->kind == DRILL_PROBE_HTTP) {
        json_t *st = json_array();
        for (size_t i = 0; i < p->nstatuses; i++)
            json_array_append_new(st, json_integer(p->statuses[i]));
        json_object_set_new(prov, "url", json_string(p->url));
        json_object_set_new(prov, "timeout", duration(p->timeout_ms));
        json_object_set_new(o, "tolerance", st);
    } else {
        json_object_set_new(o, "tolerance", json_boolean(p->expect));
    }
    return o;
}

static json_t *action_json(const struct drill *d, const struct drill_action *a)
{
    json_t *prov = json_pack("{s:s}", "type", drill_action_name(a->kind));
    json_t *o = json_pack("{s:s,s:s,s:o}", "type", "action", "name", a->name, "provider", prov);
    if (!o)
        return NULL;
    switch (a->kind) {
    case DRILL_ACTION_FAULT:
        json_object_set_new(prov, "kind", json_string(drill_fault_name(a->fault)));
        json_object_set_new(prov, "target", json_string(a->target));
        if (a->fault == DRILL_FAULT_KILL_SERVICE || a->fault == DRILL_FAULT_PAUSE_SERVICE)
            json_object_set_new(prov, "node", json_string(a->node));
        if (a->duration_ms)
            json_object_set_new(prov, "duration", duration(a->duration_ms));
        if (a->fault == DRILL_FAULT_DELAY_MESSAGES)
            json_object_set_new(prov, "delay", duration(a->delay_ms));
        if (a->peer[0])
            json_object_set_new(prov, "peer", json_string(a->peer));
        break;
    case DRILL_ACTION_DEPLOY:
        json_object_set_new(prov, "manifest",
                            a->manifest_inline ? json_loads(a->manifest, 0, NULL)
                                               : json_string(a->manifest));
        json_object_set_new(prov, "expect",
                            json_string(a->expect_reverted ? "reverted" : "stable"));
        break;
    case DRILL_ACTION_PAUSE:
        json_object_set_new(prov, "duration", duration(a->duration_ms));
        break;
    default:
        break;
    }
    if (a->pause_before_ms || a->pause_after_ms)
        json_object_set_new(o, "pauses",
                            json_pack("{s:o,s:o}", "before", duration(a->pause_before_ms), "after",
                                      duration(a->pause_after_ms)));
    if (a->slo.set) {
        json_t *names = json_array();
        for (size_t i = 0; i < d->nprobes; i++)
            if (a->slo.probes & (1u << i))
                json_array_append_new(names, json_string(d->probes[i].name));
        json_object_set_new(
            o, "slo",
            json_pack("{s:o,s:s,s:o}", "recover_within", duration(a->slo.recover_within_ms), "from",
                      a->slo.from == DRILL_SLO_FROM_HEAL ? "heal" : "inject", "probes", names));
    }
    return o;
}

json_t *drill_to_json(const struct drill *d)
{
    json_t *probes = json_array(), *method = json_array(), *rb = json_array();
    for (size_t i = 0; i < d->nprobes; i++)
        json_array_append_new(probes, probe_json(&d->probes[i]));
    for (size_t i = 0; i < d->nmethod; i++)
        json_array_append_new(method, action_json(d, &d->method[i]));
    for (size_t i = 0; i < d->nrollbacks; i++)
        json_array_append_new(rb, action_json(d, &d->rollbacks[i]));
    return json_pack("{s:s,s:s,s:s,s:{s:s,s:o},s:o,s:o}", "version", "1", "title", d->title,
                     "description", d->description, "steady-state-hypothesis", "title",
                     d->hypothesis_title, "probes", probes, "method", method, "rollbacks", rb);
}

/* ---- measuring ---- */

bool drill_probe_due(const struct drill_probe *p, int64_t last_ms, int64_t now_ms)
{
    return p->kind != DRILL_PROBE_NOTE_COMMITS || last_ms == 0 ||
           now_ms - last_ms >= (int64_t)DRILL_NOTE_SWEEP_MS;
}

uint32_t drill_sweep_resolution(const struct drill *d, uint32_t mask)
{
    uint32_t r = DRILL_SWEEP_MS;
    for (size_t i = 0; i < d->nprobes; i++)
        if ((mask & (1u << i)) && d->probes[i].kind == DRILL_PROBE_NOTE_COMMITS)
            r = DRILL_NOTE_SWEEP_MS;
    return r;
}

bool drill_node_decides(const struct drill_action *a)
{
    return (a->kind == DRILL_ACTION_FAULT && a->fault == DRILL_FAULT_KILL_SERVICE) ||
           (a->kind == DRILL_ACTION_DEPLOY && a->expect_reverted);
}

/* Whether the node's figures stand for step s of action a. */
static bool from_node(const struct drill_action *a, const struct drill_step_result *s)
{
    return s->node.seen && s->node.t.recovered && (drill_node_decides(a) || !s->probes.detected);
}

void drill_step_settle(const struct drill_action *a, struct drill_step_result *s)
{
    const struct drill_times *t = from_node(a, s) ? &s->node.t : &s->probes;
    s->detected = t->detected;
    s->detect_ms = t->detect_ms;
    s->recovered = t->recovered;
    s->recover_ms = t->recover_ms;
}

uint32_t drill_slo_start_ms(const struct drill_action *a)
{
    return a->kind == DRILL_ACTION_FAULT && a->slo.from == DRILL_SLO_FROM_HEAL ? a->duration_ms : 0;
}

/* How long the fault acts: a pause, an isolation, a delay for its
 * duration; a kill at once (what it broke then heals or not). */
static uint32_t acts_for_ms(const struct drill_action *a)
{
    return a->kind == DRILL_ACTION_FAULT ? a->duration_ms : 0;
}

uint32_t drill_measure_give_up_ms(const struct drill_action *a, uint32_t begun_ms)
{
    uint32_t from = drill_slo_start_ms(a) > begun_ms ? drill_slo_start_ms(a) : begun_ms;
    return from + 2 * a->slo.recover_within_ms + 5000;
}

bool drill_measure_sweep(const struct drill_action *a, struct drill_step_result *s, bool held,
                         uint32_t since_ms, bool ended)
{
    uint32_t start = drill_slo_start_ms(a);
    struct drill_times *p = &s->probes;
    if (!held) {
        if (!p->detected) {
            p->detected = true;
            p->detect_ms = since_ms;
        }
        p->recovered = false; /* a relapse: recovery starts over */
        return false;
    }
    if (p->detected && !p->recovered) {
        p->recovered = true;
        p->recover_ms = since_ms > start ? since_ms - start : 0;
    }
    /* A fault still acting may yet show, or show again: a failure the
     * probes see only after a short SLO is a miss, not a masked fault. */
    if (since_ms < start || since_ms < acts_for_ms(a))
        return false;
    bool quiet = since_ms - start > a->slo.recover_within_ms;
    if (!(ended || p->detected || from_node(a, s) || quiet))
        return false;
    if (!p->detected) {
        p->recovered = true; /* masked */
        p->recover_ms = 0;
    }
    return true;
}

/* ---- the verdict ---- */

static void say(char *why, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void say(char *why, size_t len, const char *fmt, ...)
{
    if (!why || !len)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, len, fmt, ap);
    va_end(ap);
}

/* Whether step s of action a met its SLO (true for actions without one). */
static bool slo_met(const struct drill_action *a, const struct drill_step_result *s)
{
    return !a->slo.set || s->status != DRILL_STEP_DONE ||
           (s->recovered && s->recover_ms <= a->slo.recover_within_ms);
}

enum drill_verdict drill_verdict(const struct drill *d, const struct drill_run *r, char *why,
                                 size_t whylen)
{
    say(why, whylen, "every SLO met; the steady state held before and after");
    if (!r->before_checked) {
        say(why, whylen, "the steady state was not checked before the method%s%s",
            *r->stopped ? ": " : "", r->stopped);
        return DRILL_COULD_NOT_RUN;
    }
    for (size_t i = 0; i < d->nprobes; i++)
        if (!r->before[i].held) {
            say(why, whylen, "the steady state did not hold before the method: probe \"%s\": %s",
                d->probes[i].name, r->before[i].detail);
            return DRILL_COULD_NOT_RUN;
        }
    /* A deviation measured outweighs a later failure to go on. */
    for (size_t i = 0; i < d->nmethod; i++) {
        const struct drill_action *a = &d->method[i];
        const struct drill_step_result *s = &r->method[i];
        char got[32], slo[32];
        if (slo_met(a, s))
            continue;
        manifest_format_duration(a->slo.recover_within_ms, slo, sizeof slo);
        if (!s->recovered) {
            say(why, whylen, "\"%s\": the federation did not recover (SLO %s)", a->name, slo);
        } else {
            manifest_format_duration(s->recover_ms, got, sizeof got);
            say(why, whylen, "\"%s\": recovered in %s, over its SLO of %s", a->name, got, slo);
        }
        return DRILL_DEVIATED;
    }
    for (size_t i = 0; i < d->nmethod; i++)
        if (r->method[i].status == DRILL_STEP_FAILED) {
            say(why, whylen, "\"%s\" could not be carried out: %s", d->method[i].name,
                r->method[i].detail);
            return DRILL_COULD_NOT_RUN;
        }
    if (*r->stopped) {
        say(why, whylen, "the run stopped: %s", r->stopped);
        return DRILL_COULD_NOT_RUN;
    }
    if (!r->after_checked) {
        say(why, whylen, "the steady state was not checked after the method");
        return DRILL_COULD_NOT_RUN;
    }
    for (size_t i = 0; i < d->nprobes; i++)
        if (!r->after[i].held) {
            say(why, whylen, "the steady state did not hold after the method: probe \"%s\": %s",
                d->probes[i].name, r->after[i].detail);
            return DRILL_DEVIATED;
        }
    return DRILL_HELD;
}

const char *drill_verdict_name(enum drill_verdict v)
{
    switch (v) {
    case DRILL_HELD:
        return "held";
    case DRILL_DEVIATED:
        return "deviated";
    default:
        return "could_not_run";
    }
}

/* ---- the journal ---- */

static const char *step_status(enum drill_step_status s)
{
    return s == DRILL_STEP_DONE ? "done" : s == DRILL_STEP_FAILED ? "failed" : "skipped";
}

static json_t *hypothesis_json(const struct drill *d, bool checked,
                               const struct drill_probe_result *res)
{
    json_t *probes = json_array();
    bool held = checked;
    for (size_t i = 0; checked && i < d->nprobes; i++) {
        held = held && res[i].held;
        json_array_append_new(probes, json_pack("{s:s,s:b,s:s}", "name", d->probes[i].name, "held",
                                                res[i].held, "detail", res[i].detail));
    }
    return json_pack("{s:b,s:b,s:o}", "checked", checked, "held", held, "probes", probes);
}

static json_t *ms_or_null(bool known, uint32_t ms)
{
    return known ? json_integer(ms) : json_null();
}

static json_t *steps_json(const struct drill *d, const struct drill_action *acts, size_t n,
                          const struct drill_step_result *res)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        const struct drill_step_result *s = &res[i];
        json_t *o = json_pack("{s:s,s:s,s:s,s:I,s:I,s:s}", "name", acts[i].name, "action",
                              drill_action_name(acts[i].kind), "status", step_status(s->status),
                              "started", (json_int_t)s->started_ms, "ended",
                              (json_int_t)s->ended_ms, "detail", s->detail);
        if (acts[i].kind == DRILL_ACTION_FAULT)
            json_object_set_new(o, "fault",
                                json_pack("{s:s,s:s}", "kind", drill_fault_name(acts[i].fault),
                                          "target", acts[i].target));
        if (acts[i].slo.set) {
            json_object_set_new(o, "slo_ms", json_integer(acts[i].slo.recover_within_ms));
            json_object_set_new(o, "detect_ms", ms_or_null(s->detected, s->detect_ms));
            json_object_set_new(o, "recover_ms", ms_or_null(s->recovered, s->recover_ms));
            json_object_set_new(o, "slo_met",
                                json_boolean(s->status == DRILL_STEP_DONE && slo_met(&acts[i], s)));
            /* Where the figures above come from, and both sources'. */
            json_object_set_new(o, "figures_from",
                                json_string(from_node(&acts[i], s) ? "node" : "probes"));
            json_object_set_new(o, "resolution_ms", json_integer(s->resolution_ms));
            json_object_set_new(o, "probes",
                                json_pack("{s:o,s:o}", "detect_ms",
                                          ms_or_null(s->probes.detected, s->probes.detect_ms),
                                          "recover_ms",
                                          ms_or_null(s->probes.recovered, s->probes.recover_ms)));
            json_object_set_new(
                o, "node",
                s->node.seen
                    ? json_pack("{s:o,s:o,s:s}", "detect_ms",
                                ms_or_null(s->node.t.detected, s->node.t.detect_ms), "recover_ms",
                                ms_or_null(s->node.t.recovered, s->node.t.recover_ms), "what",
                                s->node.what)
                    : json_null());
        }
        (void)d;
        json_array_append_new(arr, o);
    }
    return arr;
}

json_t *drill_journal(const struct drill *d, const struct drill_run *r)
{
    char why[320];
    enum drill_verdict v = drill_verdict(d, r, why, sizeof why);
    return json_pack(
        "{s:i,s:s,s:I,s:I,s:I,s:s,s:s,s:{s:o,s:o},s:o,s:o,s:s,s:o}", "journal_version", 1, "title",
        d->title, "started", (json_int_t)r->started_ms, "ended", (json_int_t)r->ended_ms,
        "duration_ms", (json_int_t)(r->ended_ms - r->started_ms), "verdict", drill_verdict_name(v),
        "reason", why, "steady_states", "before", hypothesis_json(d, r->before_checked, r->before),
        "after", hypothesis_json(d, r->after_checked, r->after), "run",
        steps_json(d, d->method, d->nmethod, r->method), "rollbacks",
        steps_json(d, d->rollbacks, d->nrollbacks, r->rollbacks), "stopped", r->stopped, "drill",
        drill_to_json(d));
}

int drill_journal_digest(const json_t *journal, uint8_t out[DRILL_DIGEST_BYTES])
{
    char *text = json_dumps(journal, JSON_COMPACT | JSON_SORT_KEYS);
    if (!text)
        return -1;
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, DRILL_DIGEST_BYTES);
    crypto_generichash_update(&st, (const unsigned char *)DRILL_DIGEST_TAG,
                              strlen(DRILL_DIGEST_TAG));
    crypto_generichash_update(&st, (const unsigned char *)text, strlen(text));
    crypto_generichash_final(&st, out, DRILL_DIGEST_BYTES);
    free(text);
    return 0;
}

/* ---- the report ---- */

struct text {
    char *buf;
    size_t len, cap;
    bool oom;
};

static void put(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct text *t, const char *fmt, ...)
{
    va_list ap;
    for (int tries = 0; tries < 2 && !t->oom; tries++) {
        va_start(ap, fmt);
        int n = vsnprintf(t->buf ? t->buf + t->len : NULL, t->buf ? t->cap - t->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            t->oom = true;
            return;
        }
        if (t->buf && t->len + (size_t)n < t->cap) {
            t->len += (size_t)n;
            return;
        }
        size_t cap = (t->cap + (size_t)n + 1) * 2;
        char *nb = realloc(t->buf, cap);
        if (!nb) {
            t->oom = true;
            return;
        }
        t->buf = nb;
        t->cap = cap;
    }
}

static void put_ms(struct text *t, const char *label, bool known, uint32_t ms)
{
    char buf[32];
    manifest_format_duration(ms, buf, sizeof buf);
    put(t, "%s %s", label, known ? buf : "-");
}

static void put_hypothesis(struct text *t, const struct drill *d, const char *when, bool checked,
                           const struct drill_probe_result *res)
{
    put(t, "Steady state %s:%s\n", when, checked ? "" : " not checked");
    for (size_t i = 0; checked && i < d->nprobes; i++)
        put(t, "  %-4s %s: %s\n", res[i].held ? "ok" : "FAIL", d->probes[i].name, res[i].detail);
}

/* A step's figures, then whose they are and what the other source saw:
 * "detected in 1ms, recovered in 221ms[, SLO 5s (met)]; by the node: web on
 * n2 healthy again 221ms after the kill (recovery.restarted); the probes
 * (every 100ms) saw: detected in 101ms, recovered in 306ms". */
static void put_figures(struct text *t, const struct drill_action *a,
                        const struct drill_step_result *s, bool with_slo)
{
    char res[32];
    manifest_format_duration(s->resolution_ms, res, sizeof res);
    put_ms(t, "detected in", s->detected, s->detect_ms);
    put_ms(t, ", recovered in", s->recovered, s->recover_ms);
    if (with_slo) {
        put_ms(t, ", SLO", true, a->slo.recover_within_ms);
        put(t, " (%s)", slo_met(a, s) ? "met" : "MISSED");
    }
    if (!from_node(a, s)) {
        put(t, "; by the probes (every %s)", res);
        if (s->node.seen)
            put(t, "; the node saw: %s", s->node.what);
        return;
    }
    put(t, "; by the node: %s; the probes (every %s) saw: ", s->node.what, res);
    if (!s->probes.detected) {
        put(t, "no failure");
        return;
    }
    put_ms(t, "detected in", true, s->probes.detect_ms);
    put_ms(t, ", recovered in", s->probes.recovered, s->probes.recover_ms);
}

void drill_step_figures(const struct drill_action *a, const struct drill_step_result *s, char *out,
                        size_t cap)
{
    struct text t = {0};
    put_figures(&t, a, s, false);
    snprintf(out, cap, "%s", t.buf && !t.oom ? t.buf : "");
    free(t.buf);
}

static void put_steps(struct text *t, const char *title, const struct drill_action *acts, size_t n,
                      const struct drill_step_result *res)
{
    put(t, "%s:\n", title);
    for (size_t i = 0; i < n; i++) {
        const struct drill_step_result *s = &res[i];
        put(t, "  %-7s %s", step_status(s->status), acts[i].name);
        if (acts[i].slo.set && s->status == DRILL_STEP_DONE) {
            put(t, " -- ");
            put_figures(t, &acts[i], s, true);
        }
        if (*s->detail)
            put(t, ": %s", s->detail);
        put(t, "\n");
    }
}

char *drill_report(const struct drill *d, const struct drill_run *r)
{
    struct text t = {0};
    char why[320], dur[32];
    enum drill_verdict v = drill_verdict(d, r, why, sizeof why);
    int64_t span = r->ended_ms > r->started_ms ? r->ended_ms - r->started_ms : 0;
    manifest_format_duration(span > (int64_t)UINT32_MAX ? UINT32_MAX : (uint32_t)span, dur,
                             sizeof dur);
    put(&t, "Drill: %s\n", d->title);
    if (*d->description)
        put(&t, "%s\n", d->description);
    put(&t, "\n");
    put_hypothesis(&t, d, "before", r->before_checked, r->before);
    put_steps(&t, "Method", d->method, d->nmethod, r->method);
    put_hypothesis(&t, d, "after", r->after_checked, r->after);
    put_steps(&t, "Rollbacks", d->rollbacks, d->nrollbacks, r->rollbacks);
    put(&t, "\nVerdict: %s (%s), in %s\n", drill_verdict_name(v), why, dur);
    if (t.oom) {
        free(t.buf);
        return NULL;
    }
    return t.buf;
}

/* ---- the result in the ledger ---- */

#define NOTE_DIGEST "; journal blake2b "

size_t drill_note(const struct drill *d, const struct drill_run *r,
                  const uint8_t digest[DRILL_DIGEST_BYTES], char *out, size_t cap)
{
    char hex[2 * DRILL_DIGEST_BYTES + 1];
    if (cap == 0)
        return 0;
    for (size_t i = 0; i < DRILL_DIGEST_BYTES; i++)
        snprintf(hex + 2 * i, 3, "%02x", digest[i]);
    size_t n = 0;
    int w = snprintf(out, cap, "drill \"%s\": %s" NOTE_DIGEST "%s", d->title,
                     drill_verdict_name(drill_verdict(d, r, NULL, 0)), hex);
    n = w < 0 ? 0 : (size_t)w < cap ? (size_t)w : cap - 1;
    for (size_t i = 0; i < d->nmethod && n + 1 < cap; i++) {
        const struct drill_action *a = &d->method[i];
        const struct drill_step_result *s = &r->method[i];
        if (!a->slo.set || s->status != DRILL_STEP_DONE)
            continue;
        char one[DRILL_NAME_MAX + 96], got[32], slo[32];
        manifest_format_duration(s->recover_ms, got, sizeof got);
        manifest_format_duration(a->slo.recover_within_ms, slo, sizeof slo);
        if (s->recovered)
            snprintf(one, sizeof one, "; %s: recovered in %s (SLO %s)", a->name, got, slo);
        else
            snprintf(one, sizeof one, "; %s: not recovered (SLO %s)", a->name, slo);
        if (n + strlen(one) >= cap)
            break; /* whole results only */
        memcpy(out + n, one, strlen(one) + 1);
        n += strlen(one);
    }
    return n;
}

bool drill_note_parse(const char *text, struct drill_note *out)
{
    static const char head[] = "drill \"";
    memset(out, 0, sizeof *out);
    if (strncmp(text, head, sizeof head - 1) != 0)
        return false;
    const char *dg = strstr(text, NOTE_DIGEST);
    if (!dg)
        return false;
    /* The verdict follows the last "\": " before the digest: a title may
     * hold quotes. */
    const char *sep = NULL;
    for (const char *p = text + sizeof head - 1; p + 3 <= dg; p++)
        if (memcmp(p, "\": ", 3) == 0)
            sep = p;
    if (!sep)
        return false;
    size_t tl = (size_t)(sep - (text + sizeof head - 1)), vl = (size_t)(dg - (sep + 3));
    const char *hex = dg + strlen(NOTE_DIGEST);
    size_t hl = strspn(hex, "0123456789abcdef");
    if (tl == 0 || tl >= sizeof out->title || vl == 0 || vl >= sizeof out->verdict ||
        hl != 2 * DRILL_DIGEST_BYTES || (hex[hl] != '\0' && hex[hl] != ';'))
        return false;
    memcpy(out->title, text + sizeof head - 1, tl);
    memcpy(out->verdict, sep + 3, vl);
    memcpy(out->digest, hex, hl);
    out->results = hex[hl] == ';' ? hex + hl + 2 : "";
    return true;
}
