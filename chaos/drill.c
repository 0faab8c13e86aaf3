/* Drill files: parsing and validation (the schema is in drill.h and the
 * README, "Drills"). The first problem found wins; within an object its
 * keys are checked first, then its fields in document order.
 *
 * The field readers are the release manifest's (manifest_int.h): the same
 * paths, the same wording, so an operator reads one style of error from
 * chimeractl whichever file was wrong. They fill a struct manifest_error,
 * which drill_parse copies out. */
#include "chaos/drill.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/base.h"
#include "pipeline/core/manifest_int.h"

typedef struct manifest_error merr;
#define PATH_CAP MANIFEST_PATH_CAP
#define fail manifest_fail

static const char *const fault_names[] = {
    [DRILL_FAULT_KILL_SERVICE] = "kill_service", [DRILL_FAULT_PAUSE_SERVICE] = "pause_service",
    [DRILL_FAULT_ISOLATE_NODE] = "isolate_node", [DRILL_FAULT_DELAY_MESSAGES] = "delay_messages",
    [DRILL_FAULT_KILL_NODE] = "kill_node",
};
static const char *const probe_names[] = {
    [DRILL_PROBE_LEADER] = "leader_exists",
    [DRILL_PROBE_ALL_ALIVE] = "all_alive",
    [DRILL_PROBE_NONE_READ_ONLY] = "none_read_only",
    [DRILL_PROBE_RELEASE_HEALTHY] = "release_healthy",
    [DRILL_PROBE_NOTE_COMMITS] = "note_commits",
    [DRILL_PROBE_HTTP] = "http",
};
static const char *const action_names[] = {
    [DRILL_ACTION_FAULT] = "fault",
    [DRILL_ACTION_DEPLOY] = "deploy",
    [DRILL_ACTION_PAUSE] = "pause",
    [DRILL_ACTION_HEAL] = "heal",
    [DRILL_ACTION_RESTART_NODES] = "restart_nodes",
};
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const char *name_of(const char *const *names, size_t n, int k)
{
    return k > 0 && (size_t)k < n && names[k] ? names[k] : "?";
}

const char *drill_fault_name(enum drill_fault_kind k)
{
    return name_of(fault_names, COUNT(fault_names), (int)k);
}

const char *drill_probe_name(enum drill_probe_kind k)
{
    return name_of(probe_names, COUNT(probe_names), (int)k);
}

const char *drill_action_name(enum drill_action_kind k)
{
    return name_of(action_names, COUNT(action_names), (int)k);
}

/* The index of s among names[1..n), or 0; list gets "a, b or c". */
static int lookup(const char *const *names, size_t n, const char *s, char *list, size_t cap)
{
    int found = 0;
    list[0] = '\0';
    for (size_t k = 1; k < n; k++) {
        if (!names[k])
            continue;
        size_t l = strlen(list);
        snprintf(list + l, cap - l, "%s\"%s\"", l == 0 ? "" : k + 1 == n ? " or " : ", ", names[k]);
        if (strcmp(names[k], s) == 0)
            found = (int)k;
    }
    return found;
}

/* ---- field readers beyond the manifest's ---- */

/* A required string of 1..cap-1 bytes into out. */
static int get_text(const json_t *obj, const char *base, const char *key, size_t cap,
                    const char *what, char *out, merr *err)
{
    const char *s = NULL;
    char p[PATH_CAP];
    manifest_key_path(p, base, key);
    int r = manifest_get_str(obj, base, key, cap - 1, "a string", &s, err);
    if (r < 0)
        return -1;
    if (r == 0 || !*s)
        return fail(err, p, "missing: %s", what);
    snprintf(out, cap, "%s", s);
    return 0;
}

/* A duration string; def when absent (given false). Bare numbers are
 * refused: Chaos Toolkit reads them as seconds, manifests as ms. */
static int get_duration(const json_t *obj, const char *base, const char *key, uint32_t def,
                        bool positive, uint32_t *out, bool *given, merr *err)
{
    json_t *v = manifest_field(obj, key);
    char p[PATH_CAP], why[64], b[48];
    manifest_key_path(p, base, key);
    *out = def;
    if (given)
        *given = v != NULL;
    if (!v)
        return 0;
    if (json_is_number(v))
        return fail(err, p,
                    "must be a duration with its unit, such as \"5s\" or \"500ms\"; a bare number "
                    "is ambiguous (Chaos Toolkit reads seconds, Chimera milliseconds)");
    if (!json_is_string(v))
        return fail(err, p, "must be a duration such as \"5s\", not %s", manifest_type_name(v));
    const char *s = json_string_value(v);
    if (manifest_parse_duration(s, out, why, sizeof why) != 0)
        return fail(err, p,
                    "\"%s\" is not a duration (%s); use e.g. \"500ms\", \"10s\", \"2m\", "
                    "\"1m30s\"",
                    manifest_show(s, b), why);
    if (*out > DRILL_MAX_DURATION_MS)
        return fail(err, p, "\"%s\" is too long; at most 1h", manifest_show(s, b));
    if (positive && *out == 0)
        return fail(err, p, "must be longer than 0");
    return 0;
}

static int get_required_duration(const json_t *obj, const char *base, const char *key,
                                 const char *what, uint32_t *out, merr *err)
{
    bool given;
    if (get_duration(obj, base, key, 0, true, out, &given, err))
        return -1;
    if (given)
        return 0;
    char p[PATH_CAP];
    manifest_key_path(p, base, key);
    return fail(err, p, "missing: %s, a duration such as \"10s\"", what);
}

/* A node id or one of the selectors the runner resolves. */
static int check_node_ref(const char *s, const char *p, merr *err)
{
    char b[48];
    if (strcmp(s, "leader") == 0 || strcmp(s, "follower") == 0 || strcmp(s, "any") == 0 ||
        ledger_valid_id(s, strlen(s)))
        return 0;
    return fail(err, p,
                "\"%s\" is not a node: a node id such as \"n2\", or \"leader\", \"follower\" or "
                "\"any\"",
                manifest_show(s, b));
}

static int check_id(const char *s, const char *p, const char *what, merr *err)
{
    char b[48];
    if (ledger_valid_id(s, strlen(s)))
        return 0;
    return fail(err, p,
                "\"%s\" is not a valid %s: 1-63 letters, digits, '.', '_' or '-', starting with a "
                "letter or digit",
                manifest_show(s, b), what);
}

/* "type": absent or exactly want (Chaos Toolkit's activity types). */
static int check_activity_type(const json_t *obj, const char *base, const char *want,
                               const char *where, merr *err)
{
    const char *t = NULL;
    char p[PATH_CAP], b[48];
    manifest_key_path(p, base, "type");
    if (manifest_get_str(obj, base, "type", 64, "a string", &t, err) < 0)
        return -1;
    if (!t || strcmp(t, want) == 0)
        return 0;
    if (strcmp(t, "probe") == 0 || strcmp(t, "action") == 0)
        return fail(err, p, "%s %s does not belong here: %s holds only %ss",
                    t[0] == 'a' ? "an" : "a", t, where, want);
    return fail(err, p, "\"%s\" is not an activity type; expected \"%s\"", manifest_show(t, b),
                want);
}

/* ---- the steady-state hypothesis ---- */

static int parse_statuses(json_t *v, const char *p, struct drill_probe *pr, merr *err)
{
    json_t *one = v, *arr = NULL;
    if (json_is_integer(v)) {
        arr = json_array();
        if (!arr || json_array_append(arr, one))
            return json_decref(arr), fail(err, p, "out of memory");
        v = arr;
    }
    int rc = -1;
    if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > DRILL_MAX_STATUSES) {
        fail(err, p, "must be an HTTP status such as 200, or an array of 1 to %d of them",
             DRILL_MAX_STATUSES);
        goto out;
    }
    for (size_t i = 0; i < json_array_size(v); i++) {
        json_t *s = json_array_get(v, i);
        char ip[PATH_CAP];
        if (arr)
            snprintf(ip, sizeof ip, "%s", p);
        else
            manifest_index_path(ip, p, i);
        if (!json_is_integer(s) || json_integer_value(s) < 100 || json_integer_value(s) > 599) {
            fail(err, ip, "must be an HTTP status from 100 to 599");
            goto out;
        }
        pr->statuses[pr->nstatuses++] = (int)json_integer_value(s);
    }
    rc = 0;
out:
    json_decref(arr);
    return rc;
}

static int parse_probe(json_t *jp, const char *base, struct drill_probe *pr, merr *err)
{
    static const char *const keys[] = {"type", "name", "provider", "tolerance", NULL};
    static const char *const plain_keys[] = {"type", NULL};
    static const char *const http_keys[] = {"type", "url", "timeout", NULL};
    char p[PATH_CAP], pp[PATH_CAP], tp[PATH_CAP], list[160], b[48];
    if (!json_is_object(jp))
        return fail(err, base,
                    "must be a probe such as {\"type\": \"probe\", \"name\": \"a leader exists\", "
                    "\"provider\": {\"type\": \"leader_exists\"}}, not %s",
                    manifest_type_name(jp));
    if (manifest_check_keys(jp, base, keys, err) ||
        check_activity_type(jp, base, "probe", "the steady-state hypothesis", err) ||
        get_text(jp, base, "name", DRILL_NAME_MAX, "the probe's name, e.g. \"a leader exists\"",
                 pr->name, err))
        return -1;
    manifest_key_path(pp, base, "provider");
    manifest_key_path(tp, base, "tolerance");
    json_t *prov = manifest_field(jp, "provider");
    if (!prov)
        return fail(err, pp, "missing: what to probe, e.g. {\"type\": \"leader_exists\"}");
    if (!json_is_object(prov))
        return fail(err, pp, "must be an object such as {\"type\": \"leader_exists\"}, not %s",
                    manifest_type_name(prov));
    const char *t = NULL;
    manifest_key_path(p, pp, "type");
    if (manifest_get_str(prov, pp, "type", 64, "a string", &t, err) < 0)
        return -1;
    int k = lookup(probe_names, COUNT(probe_names), t ? t : "", list, sizeof list);
    if (!t)
        return fail(err, p, "missing: the probe's type, one of %s", list);
    if (!k)
        return fail(err, p, "\"%s\" is not a probe type; expected one of %s", manifest_show(t, b),
                    list);
    pr->kind = (enum drill_probe_kind)k;
    json_t *tol = manifest_field(jp, "tolerance");
    switch (pr->kind) {
    case DRILL_PROBE_NOTE_COMMITS:
        if (manifest_check_keys(prov, pp, plain_keys, err))
            return -1;
        return get_duration(jp, base, "tolerance", DRILL_DEFAULT_COMMIT_WITHIN_MS, true,
                            &pr->within_ms, NULL, err);
    case DRILL_PROBE_HTTP: {
        const char *url = NULL;
        manifest_key_path(p, pp, "url");
        if (manifest_check_keys(prov, pp, http_keys, err) ||
            manifest_get_str(prov, pp, "url", DRILL_URL_MAX - 1, "a URL", &url, err) < 0 ||
            get_duration(prov, pp, "timeout", DRILL_DEFAULT_HTTP_TIMEOUT_MS, true, &pr->timeout_ms,
                         NULL, err))
            return -1;
        if (!url)
            return fail(err, p, "missing: the URL to ask, e.g. \"http://127.0.0.1:8080/health\"");
        if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
            return fail(err, p, "\"%s\" must start with http:// or https://",
                        manifest_show(url, b));
        snprintf(pr->url, sizeof pr->url, "%s", url);
        if (!tol) {
            pr->statuses[0] = 200;
            pr->nstatuses = 1;
            return 0;
        }
        return parse_statuses(tol, tp, pr, err);
    }
    default:
        if (manifest_check_keys(prov, pp, plain_keys, err))
            return -1;
        pr->expect = true;
        if (tol && !json_is_boolean(tol))
            return fail(err, tp, "must be true or false (what the probe must find), not %s",
                        manifest_type_name(tol));
        if (tol)
            pr->expect = json_is_true(tol);
        return 0;
    }
}

static int parse_hypothesis(json_t *h, struct drill *d, merr *err)
{
    static const char *const keys[] = {"title", "probes", NULL};
    const char *base = "steady-state-hypothesis";
    if (!h)
        return fail(err, base,
                    "missing: the steady state the federation must be in before and after, e.g. "
                    "{\"probes\": [{\"name\": \"a leader exists\", \"provider\": {\"type\": "
                    "\"leader_exists\"}}]}");
    if (!json_is_object(h))
        return fail(err, base, "must be an object with \"probes\", not %s", manifest_type_name(h));
    const char *t = NULL;
    if (manifest_check_keys(h, base, keys, err) ||
        manifest_get_str(h, base, "title", DRILL_TITLE_MAX - 1, "a string", &t, err) < 0)
        return -1;
    if (t)
        snprintf(d->hypothesis_title, sizeof d->hypothesis_title, "%s", t);
    json_t *probes = manifest_field(h, "probes");
    const char *pp = "steady-state-hypothesis.probes";
    if (!probes)
        return fail(err, pp, "missing: at least one probe");
    if (!json_is_array(probes))
        return fail(err, pp, "must be an array of probes, not %s", manifest_type_name(probes));
    size_t n = json_array_size(probes);
    if (n == 0 || n > DRILL_MAX_PROBES)
        return fail(err, pp, "%zu probes; expected 1 to %d", n, DRILL_MAX_PROBES);
    for (size_t i = 0; i < n; i++) {
        char ip[PATH_CAP], np[PATH_CAP], b[48];
        manifest_index_path(ip, pp, i);
        if (parse_probe(json_array_get(probes, i), ip, &d->probes[i], err))
            return -1;
        for (size_t j = 0; j < i; j++)
            if (strcmp(d->probes[j].name, d->probes[i].name) == 0) {
                manifest_key_path(np, ip, "name");
                return fail(err, np, "\"%s\" names probe %zu too; probe names must be unique",
                            manifest_show(d->probes[i].name, b), j);
            }
        d->nprobes = i + 1;
    }
    return 0;
}

/* ---- actions ---- */

static bool heals_at_expiry(enum drill_fault_kind k)
{
    return k == DRILL_FAULT_PAUSE_SERVICE || k == DRILL_FAULT_ISOLATE_NODE ||
           k == DRILL_FAULT_DELAY_MESSAGES;
}

static bool on_service(enum drill_fault_kind k)
{
    return k == DRILL_FAULT_KILL_SERVICE || k == DRILL_FAULT_PAUSE_SERVICE;
}

/* A key that the fault's kind does not take: why, naming the kinds that do. */
static int refuse_key(const json_t *prov, const char *pp, const char *key, const char *who,
                      const char *kind, merr *err)
{
    if (!manifest_field(prov, key))
        return 0;
    char p[PATH_CAP];
    manifest_key_path(p, pp, key);
    return fail(err, p, "%s is not for %s (only %s)", key, kind, who);
}

static int parse_fault(json_t *prov, const char *pp, struct drill_action *a, merr *err)
{
    static const char *const keys[] = {"type",     "kind",  "target", "node",
                                       "duration", "delay", "peer",   NULL};
    char p[PATH_CAP], list[160], b[48];
    const char *s = NULL;
    if (manifest_check_keys(prov, pp, keys, err))
        return -1;
    manifest_key_path(p, pp, "kind");
    if (manifest_get_str(prov, pp, "kind", 64, "a string", &s, err) < 0)
        return -1;
    int k = lookup(fault_names, COUNT(fault_names), s ? s : "", list, sizeof list);
    if (!s)
        return fail(err, p, "missing: the fault's kind, one of %s", list);
    if (!k)
        return fail(err, p, "\"%s\" is not a fault kind; expected one of %s", manifest_show(s, b),
                    list);
    a->fault = (enum drill_fault_kind)k;
    const char *kind = fault_names[k];
    bool svc = on_service(a->fault);
    manifest_key_path(p, pp, "target");
    if (get_text(prov, pp, "target", DRILL_ID_MAX,
                 svc ? "the service to hit, e.g. \"web\""
                     : "the node to hit: a node id such as \"n2\", or \"leader\", \"follower\" or "
                       "\"any\"",
                 a->target, err) ||
        (svc ? check_id(a->target, p, "service name", err) : check_node_ref(a->target, p, err)))
        return -1;
    snprintf(a->node, sizeof a->node, "any");
    if (svc) {
        manifest_key_path(p, pp, "node");
        if (manifest_get_str(prov, pp, "node", DRILL_ID_MAX - 1, "a node id or selector", &s, err) <
            0)
            return -1;
        if (manifest_field(prov, "node")) {
            if (check_node_ref(s, p, err))
                return -1;
            snprintf(a->node, sizeof a->node, "%s", s);
        }
    } else if (refuse_key(prov, pp, "node",
                          "kill_service and pause_service: the target is the node", kind, err))
        return -1;
    if (heals_at_expiry(a->fault)) {
        if (get_required_duration(prov, pp, "duration", "how long the fault lasts", &a->duration_ms,
                                  err))
            return -1;
    } else if (refuse_key(prov, pp, "duration",
                          "pause_service, isolate_node and delay_messages: a kill is instantaneous",
                          kind, err))
        return -1;
    if (a->fault == DRILL_FAULT_DELAY_MESSAGES) {
        if (get_required_duration(prov, pp, "delay", "how long each message is held back",
                                  &a->delay_ms, err))
            return -1;
    } else if (refuse_key(prov, pp, "delay", "delay_messages", kind, err))
        return -1;
    if (a->fault != DRILL_FAULT_ISOLATE_NODE)
        return refuse_key(prov, pp, "peer", "isolate_node", kind, err);
    manifest_key_path(p, pp, "peer");
    if (manifest_get_str(prov, pp, "peer", DRILL_ID_MAX - 1, "a node id such as \"n3\"", &s, err) <
        0)
        return -1;
    if (!manifest_field(prov, "peer"))
        return 0; /* from every peer */
    if (check_id(s, p, "node id", err))
        return -1;
    snprintf(a->peer, sizeof a->peer, "%s", s);
    return 0;
}

static int parse_deploy(json_t *prov, const char *pp, struct drill_action *a, merr *err)
{
    static const char *const keys[] = {"type", "manifest", "expect", NULL};
    char p[PATH_CAP], b[48];
    if (manifest_check_keys(prov, pp, keys, err))
        return -1;
    manifest_key_path(p, pp, "manifest");
    json_t *m = manifest_field(prov, "manifest");
    if (!m)
        return fail(err, p,
                    "missing: the release to deploy, a file (relative to the drill's folder) or "
                    "the manifest itself");
    if (json_is_string(m)) {
        if (json_string_length(m) == 0 || json_string_length(m) > 4096)
            return fail(err, p, "must be a file name of 1 to 4096 bytes");
        a->manifest = strdup(json_string_value(m));
    } else if (json_is_object(m)) {
        /* Checked now, so a bad release fails the drill's validation and
         * not half-way through its run. */
        char *text = json_dumps(m, JSON_COMPACT);
        struct manifest man;
        merr me;
        if (!text)
            return fail(err, p, "out of memory");
        if (manifest_parse(text, strlen(text), &man, &me) != 0) {
            char mp[PATH_CAP];
            free(text);
            if (*me.path)
                manifest_key_path(mp, p, me.path);
            else
                snprintf(mp, sizeof mp, "%s", p);
            return fail(err, mp, "%s", me.message);
        }
        manifest_free(&man);
        a->manifest = text;
        a->manifest_inline = true;
    } else
        return fail(err, p, "must be a file name or a manifest object, not %s",
                    manifest_type_name(m));
    if (!a->manifest)
        return fail(err, p, "out of memory");
    const char *e = NULL;
    manifest_key_path(p, pp, "expect");
    if (manifest_get_str(prov, pp, "expect", 64, "\"stable\" or \"reverted\"", &e, err) < 0)
        return -1;
    if (e && strcmp(e, "reverted") == 0)
        a->expect_reverted = true;
    else if (e && strcmp(e, "stable") != 0)
        return fail(err, p,
                    "\"%s\" is not an outcome; expected \"stable\" (the default) or \"reverted\" "
                    "(the release must fail and be rolled back automatically)",
                    manifest_show(e, b));
    return 0;
}

static int parse_slo(json_t *slo, const char *base, const struct drill *d, struct drill_action *a,
                     merr *err)
{
    static const char *const keys[] = {"recover_within", "from", "probes", NULL};
    char p[PATH_CAP], b[48];
    manifest_key_path(p, base, "slo");
    bool fault = a->kind == DRILL_ACTION_FAULT;
    if (!slo) {
        if (fault)
            return fail(err, p,
                        "missing: the fault's SLO, the time the federation has to recover, e.g. "
                        "{\"recover_within\": \"5s\"}");
        return 0;
    }
    if (!fault && a->kind != DRILL_ACTION_DEPLOY)
        return fail(err, p, "only a fault or a deploy has an SLO, not a %s", action_names[a->kind]);
    if (!json_is_object(slo))
        return fail(err, p, "must be an object such as {\"recover_within\": \"5s\"}, not %s",
                    manifest_type_name(slo));
    const char *base2 = p;
    const char *from = NULL;
    char fp[PATH_CAP];
    manifest_key_path(fp, base2, "from");
    if (manifest_check_keys(slo, base2, keys, err) ||
        get_required_duration(slo, base2, "recover_within",
                              "the time the federation has to recover", &a->slo.recover_within_ms,
                              err) ||
        manifest_get_str(slo, base2, "from", 16, "\"inject\" or \"heal\"", &from, err) < 0)
        return -1;
    a->slo.set = true;
    if (from && strcmp(from, "heal") == 0) {
        if (!fault || !heals_at_expiry(a->fault))
            return fail(err, fp,
                        "\"heal\" is only for faults that last (pause_service, isolate_node, "
                        "delay_messages); this one is over at once");
        a->slo.from = DRILL_SLO_FROM_HEAL;
    } else if (from && strcmp(from, "inject") != 0)
        return fail(err, fp, "\"%s\" is not a start; expected \"inject\" (the default) or \"heal\"",
                    manifest_show(from, b));
    json_t *names = manifest_field(slo, "probes");
    char np[PATH_CAP];
    manifest_key_path(np, base2, "probes");
    if (!names) {
        a->slo.probes = d->nprobes >= 32 ? 0xffffffffu : (1u << d->nprobes) - 1;
        return 0;
    }
    if (!json_is_array(names) || json_array_size(names) == 0)
        return fail(err, np,
                    "must be an array of the hypothesis' probe names (leave it out for all)");
    for (size_t i = 0; i < json_array_size(names); i++) {
        json_t *v = json_array_get(names, i);
        char ip[PATH_CAP];
        manifest_index_path(ip, np, i);
        if (!json_is_string(v))
            return fail(err, ip, "must be a probe's name, not %s", manifest_type_name(v));
        size_t j = 0;
        while (j < d->nprobes && strcmp(d->probes[j].name, json_string_value(v)) != 0)
            j++;
        if (j == d->nprobes)
            return fail(err, ip, "\"%s\" names no probe of steady-state-hypothesis.probes",
                        manifest_show(json_string_value(v), b));
        a->slo.probes |= 1u << j;
    }
    return 0;
}

static int parse_pauses(json_t *ps, const char *base, struct drill_action *a, merr *err)
{
    static const char *const keys[] = {"before", "after", NULL};
    char p[PATH_CAP];
    manifest_key_path(p, base, "pauses");
    if (!ps)
        return 0;
    if (!json_is_object(ps))
        return fail(err, p, "must be an object such as {\"after\": \"5s\"}, not %s",
                    manifest_type_name(ps));
    return manifest_check_keys(ps, p, keys, err) ||
                   get_duration(ps, p, "before", 0, false, &a->pause_before_ms, NULL, err) ||
                   get_duration(ps, p, "after", 0, false, &a->pause_after_ms, NULL, err)
               ? -1
               : 0;
}

static int parse_action(json_t *ja, const char *base, bool rollback, const struct drill *d,
                        struct drill_action *a, merr *err)
{
    static const char *const keys[] = {"type", "name", "provider", "pauses", "slo", NULL};
    static const char *const plain_keys[] = {"type", NULL};
    static const char *const pause_keys[] = {"type", "duration", NULL};
    char p[PATH_CAP], pp[PATH_CAP], list[160], b[48];
    if (!json_is_object(ja))
        return fail(err, base,
                    "must be an action such as {\"type\": \"action\", \"name\": \"kill web\", "
                    "\"provider\": {\"type\": \"fault\", ...}}, not %s",
                    manifest_type_name(ja));
    if (manifest_check_keys(ja, base, keys, err) ||
        check_activity_type(ja, base, "action", rollback ? "rollbacks" : "the method", err) ||
        get_text(ja, base, "name", DRILL_NAME_MAX, "the action's name, e.g. \"kill the leader\"",
                 a->name, err))
        return -1;
    manifest_key_path(pp, base, "provider");
    json_t *prov = manifest_field(ja, "provider");
    if (!prov)
        return fail(err, pp,
                    "missing: what to do, e.g. {\"type\": \"fault\", \"kind\": "
                    "\"kill_service\", \"target\": \"web\"}");
    if (!json_is_object(prov))
        return fail(err, pp,
                    "must be an object such as {\"type\": \"pause\", \"duration\": "
                    "\"5s\"}, not %s",
                    manifest_type_name(prov));
    const char *t = NULL;
    manifest_key_path(p, pp, "type");
    if (manifest_get_str(prov, pp, "type", 64, "a string", &t, err) < 0)
        return -1;
    int k = lookup(action_names, COUNT(action_names), t ? t : "", list, sizeof list);
    if (!t)
        return fail(err, p, "missing: the action's type, one of %s", list);
    if (!k)
        return fail(err, p, "\"%s\" is not an action type; expected one of %s", manifest_show(t, b),
                    list);
    a->kind = (enum drill_action_kind)k;
    int rc;
    switch (a->kind) {
    case DRILL_ACTION_FAULT:
        if (rollback)
            return fail(err, p,
                        "a rollback injects no fault; use \"heal\", \"restart_nodes\", "
                        "\"deploy\" or \"pause\"");
        rc = parse_fault(prov, pp, a, err);
        break;
    case DRILL_ACTION_DEPLOY:
        rc = parse_deploy(prov, pp, a, err);
        break;
    case DRILL_ACTION_PAUSE:
        rc = manifest_check_keys(prov, pp, pause_keys, err) ||
                     get_required_duration(prov, pp, "duration", "how long to wait",
                                           &a->duration_ms, err)
                 ? -1
                 : 0;
        break;
    default:
        rc = manifest_check_keys(prov, pp, plain_keys, err);
    }
    return rc ? -1
           : parse_pauses(manifest_field(ja, "pauses"), base, a, err) ||
                   parse_slo(manifest_field(ja, "slo"), base, d, a, err)
               ? -1
               : 0;
}

static int parse_actions(json_t *arr, const char *base, bool rollback, struct drill *d, merr *err)
{
    size_t max = rollback ? DRILL_MAX_ROLLBACKS : DRILL_MAX_ACTIONS;
    struct drill_action *out = rollback ? d->rollbacks : d->method;
    size_t *n = rollback ? &d->nrollbacks : &d->nmethod;
    if (!json_is_array(arr))
        return fail(err, base, "must be an array of actions, not %s", manifest_type_name(arr));
    size_t len = json_array_size(arr);
    if ((!rollback && len == 0) || len > max)
        return fail(err, base, "%zu actions; expected %d to %zu", len, rollback ? 0 : 1, max);
    for (size_t i = 0; i < len; i++) {
        char ip[PATH_CAP];
        manifest_index_path(ip, base, i);
        *n = i + 1; /* what parse_action allocated is freed on failure */
        if (parse_action(json_array_get(arr, i), ip, rollback, d, &out[i], err))
            return -1;
    }
    return 0;
}

static void default_rollbacks(struct drill *d)
{
    d->rollbacks[0].kind = DRILL_ACTION_HEAL;
    snprintf(d->rollbacks[0].name, DRILL_NAME_MAX, "heal every fault");
    d->rollbacks[1].kind = DRILL_ACTION_RESTART_NODES;
    snprintf(d->rollbacks[1].name, DRILL_NAME_MAX, "restart killed nodes");
    d->nrollbacks = 2;
}

static int parse_root(json_t *root, struct drill *d, merr *err)
{
    static const char *const keys[] = {
        "version", "title",     "description", "tags", "steady-state-hypothesis",
        "method",  "rollbacks", NULL};
    const char *s = NULL;
    if (!json_is_object(root))
        return fail(err, "",
                    "a drill must be a JSON object with \"title\", \"steady-state-hypothesis\" "
                    "and \"method\"");
    if (manifest_check_keys(root, "", keys, err) ||
        manifest_get_str(root, "", "version", 32, "a string such as \"1.0.0\"", &s, err) < 0 ||
        get_text(root, "", "title", DRILL_TITLE_MAX, "the drill's title, e.g. \"Leader loss\"",
                 d->title, err))
        return -1;
    s = NULL;
    if (manifest_get_str(root, "", "description", DRILL_DESCRIPTION_MAX - 1, "a string", &s, err) <
        0)
        return -1;
    if (s)
        snprintf(d->description, sizeof d->description, "%s", s);
    json_t *tags = manifest_field(root, "tags");
    if (tags && !json_is_array(tags))
        return fail(err, "tags", "must be an array of strings, not %s", manifest_type_name(tags));
    for (size_t i = 0; tags && i < json_array_size(tags); i++)
        if (!json_is_string(json_array_get(tags, i))) {
            char ip[PATH_CAP];
            manifest_index_path(ip, "tags", i);
            return fail(err, ip, "must be a string, not %s",
                        manifest_type_name(json_array_get(tags, i)));
        }
    if (parse_hypothesis(manifest_field(root, "steady-state-hypothesis"), d, err))
        return -1;
    json_t *method = manifest_field(root, "method");
    if (!method)
        return fail(err, "method", "missing: at least one action (a fault, a deploy, a pause)");
    if (parse_actions(method, "method", false, d, err))
        return -1;
    json_t *rb = manifest_field(root, "rollbacks");
    if (!rb) {
        default_rollbacks(d);
        return 0;
    }
    return parse_actions(rb, "rollbacks", true, d, err);
}

int drill_parse(const char *json, size_t len, struct drill *d, struct drill_error *err)
{
    merr me;
    memset(d, 0, sizeof *d);
    memset(err, 0, sizeof *err);
    memset(&me, 0, sizeof me);
    int rc = -1;
    if (len > DRILL_MAX_BYTES) {
        fail(&me, "", "the drill is %zu bytes; at most %u (256 KiB)", len, DRILL_MAX_BYTES);
    } else {
        json_error_t je;
        json_t *root = json_loadb(json ? json : "", json ? len : 0, JSON_REJECT_DUPLICATES, &je);
        if (!root)
            fail(&me, "", "not valid JSON: line %d, column %d: %s", je.line, je.column, je.text);
        else
            rc = parse_root(root, d, &me);
        json_decref(root);
    }
    if (rc) {
        drill_free(d);
        snprintf(err->path, sizeof err->path, "%s", me.path);
        snprintf(err->message, sizeof err->message, "%s", me.message);
    }
    return rc;
}

void drill_free(struct drill *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->nmethod; i++)
        free(d->method[i].manifest);
    for (size_t i = 0; i < d->nrollbacks; i++)
        free(d->rollbacks[i].manifest);
    memset(d, 0, sizeof *d);
}

bool drill_has_faults(const struct drill *d)
{
    for (size_t i = 0; i < d->nmethod; i++)
        if (d->method[i].kind == DRILL_ACTION_FAULT)
            return true;
    return false;
}
