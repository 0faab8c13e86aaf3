/* Simulate -> heal -> certify: the pure core (see certify.h). */
#include "pipeline/core/certify.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

const char *cert_severity_name(enum cert_severity sev)
{
    switch (sev) {
    case CERT_INFO:
        return "info";
    case CERT_WARNING:
        return "warning";
    case CERT_CRITICAL:
        return "critical";
    }
    return "unknown";
}

const char *cert_heal_kind_name(enum cert_heal_kind k)
{
    switch (k) {
    case CERT_HEAL_CREATE_DIR:
        return "create_working_dir";
    case CERT_HEAL_REPROBE:
        return "reprobe_port";
    }
    return "unknown";
}

/* ---- judge ------------------------------------------------------------- */

struct sink {
    struct cert_issue *issues;
    size_t max;
    size_t n; /* found */
};

__attribute__((format(printf, 7, 8))) static void add(struct sink *k, const char *node,
                                                      const char *service, const char *code,
                                                      enum cert_severity sev, bool healable,
                                                      const char *fmt, ...)
{
    if (k->n < k->max) {
        struct cert_issue *is = &k->issues[k->n];
        memset(is, 0, sizeof(*is));
        snprintf(is->node, sizeof(is->node), "%s", node);
        snprintf(is->service, sizeof(is->service), "%s", service);
        snprintf(is->code, sizeof(is->code), "%s", code);
        is->severity = sev;
        is->healable = healable;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(is->message, sizeof(is->message), fmt, ap);
        va_end(ap);
    }
    k->n++;
}

static const struct probe_service *find_service(const struct probe_facts *f, const char *name)
{
    for (size_t i = 0; i < f->nservices && i < MANIFEST_MAX_SERVICES; i++)
        if (strcmp(f->services[i].name, name) == 0)
            return &f->services[i];
    return NULL;
}

static void judge_service(struct sink *k, const char *node, const struct manifest_service *ms,
                          const struct probe_service *ps)
{
    const char *sv = ms->name;
    if (!ps->command_found)
        add(k, node, sv, "command_not_found", CERT_CRITICAL, false,
            "command \"%.128s\" not found%s", ms->command,
            strchr(ms->command, '/') ? "" : " in PATH");
    else if (!ps->command_executable)
        add(k, node, sv, "command_not_executable", CERT_CRITICAL, false,
            "%.160s is not an executable regular file", ps->command_path);

    if (ms->working_dir) {
        if (ps->working_dir_exists && !ps->working_dir_is_dir)
            add(k, node, sv, "working_dir_not_directory", CERT_CRITICAL, false,
                "working_dir %.160s exists but is not a directory", ms->working_dir);
        else if (!ps->working_dir_exists && ps->working_dir_creatable)
            add(k, node, sv, "working_dir_missing", CERT_CRITICAL, true,
                "working_dir %.160s does not exist (it can be created)", ms->working_dir);
        else if (!ps->working_dir_exists)
            add(k, node, sv, "working_dir_uncreatable", CERT_CRITICAL, false,
                "working_dir %.160s does not exist and cannot be created", ms->working_dir);
    }

    if (ms->port_kind == MANIFEST_PORT_FIXED && !ps->port_free) {
        if (ps->port_own)
            add(k, node, sv, "port_held_by_release", CERT_INFO, false,
                "port %u is held by the release running now; it is freed before this one "
                "starts",
                (unsigned)ms->port);
        else
            add(k, node, sv, "port_in_use", CERT_CRITICAL, false, "port %u is in use on 127.0.0.1",
                (unsigned)ms->port);
    } else if (ms->port_kind == MANIFEST_PORT_AUTO && (!ps->port_free || ps->port == 0)) {
        add(k, node, sv, "auto_port_unavailable", CERT_CRITICAL, true,
            "no free port could be assigned");
    }

    if (ms->health.enabled && !ps->health_ok)
        add(k, node, sv, "health_url_invalid", CERT_CRITICAL, false, "health URL: %.200s",
            ps->health_error[0] ? ps->health_error : "invalid");
    if (!ps->env_ok)
        add(k, node, sv, "env_invalid", CERT_CRITICAL, false, "env: %.200s",
            ps->env_error[0] ? ps->env_error : "a value does not expand");
    if (!ps->args_ok)
        add(k, node, sv, "args_invalid", CERT_CRITICAL, false, "args: %.200s",
            ps->args_error[0] ? ps->args_error : "an argument does not expand");
    if (ms->user && (!ps->user_set || !ps->user_root))
        add(k, node, sv, "user_not_root", CERT_CRITICAL, false,
            "user \"%.64s\" set but chimerad is not root on node %s: it can run services only "
            "as its own user",
            ms->user, node);
    else if (ms->user && !ps->user_ok)
        add(k, node, sv, "user_unknown", CERT_CRITICAL, false, "node %s: %.160s", node,
            ps->user_error[0] ? ps->user_error : "the user does not exist");
    if (ms->env_file && !(ps->env_file_set && ps->env_file_ok))
        add(k, node, sv, "env_file_invalid", CERT_CRITICAL, false, "%.200s",
            ps->env_file_error[0] ? ps->env_file_error : "env_file: not checked by this node");
}

size_t cert_judge(const struct manifest *m, const struct probe_facts *per_node, size_t nnodes,
                  struct cert_issue *issues, size_t max)
{
    struct sink k = {issues, issues ? max : 0, 0};
    if (!m)
        return 0;

    /* The release as a whole. */
    for (size_t i = 0; i < m->nservices; i++) {
        const struct manifest_service *a = &m->services[i];
        if (a->port_kind == MANIFEST_PORT_FIXED)
            for (size_t j = 0; j < i; j++)
                if (m->services[j].port_kind == MANIFEST_PORT_FIXED &&
                    m->services[j].port == a->port) {
                    add(&k, "", a->name, "port_collision", CERT_CRITICAL, false,
                        "port %u is also the port of service \"%s\"", (unsigned)a->port,
                        m->services[j].name);
                    break;
                }
        if (!a->health.enabled)
            add(&k, "", a->name, "no_health_check", CERT_INFO, false,
                "no health check: healthy once it has run min_healthy_time");
    }

    size_t answered = 0;
    for (size_t n = 0; n < nnodes; n++)
        answered += per_node[n].answered;
    bool quorum = answered * 2 > nnodes;

    for (size_t n = 0; n < nnodes; n++) {
        const struct probe_facts *f = &per_node[n];
        if (!f->answered) {
            add(&k, f->node, "", "node_unreachable", quorum ? CERT_WARNING : CERT_CRITICAL, false,
                "did not answer the simulation%s%.120s; %s", f->error[0] ? ": " : "", f->error,
                quorum ? "it applies the release when it returns" : "no quorum of nodes answered");
            continue;
        }
        for (size_t i = 0; i < m->nservices; i++) {
            const struct probe_service *ps = find_service(f, m->services[i].name);
            if (!ps)
                add(&k, f->node, m->services[i].name, "service_not_probed", CERT_CRITICAL, false,
                    "the node's facts do not cover this service");
            else
                judge_service(&k, f->node, &m->services[i], ps);
        }
    }
    return k.n;
}

/* ---- heal plan ---------------------------------------------------------- */

static bool heal_kind_of(const struct cert_issue *is, enum cert_heal_kind *kind)
{
    if (!is->healable)
        return false;
    if (strcmp(is->code, "working_dir_missing") == 0)
        *kind = CERT_HEAL_CREATE_DIR;
    else if (strcmp(is->code, "auto_port_unavailable") == 0)
        *kind = CERT_HEAL_REPROBE;
    else
        return false;
    return true;
}

size_t cert_heal_plan(const struct cert_issue *issues, size_t n, struct cert_heal_action *actions,
                      size_t max)
{
    size_t count = 0;
    for (size_t i = 0; i < n; i++) {
        enum cert_heal_kind kind;
        if (!heal_kind_of(&issues[i], &kind))
            continue;
        bool dup = false;
        for (size_t j = 0; j < i && !dup; j++) {
            enum cert_heal_kind kj;
            dup = heal_kind_of(&issues[j], &kj) && kj == kind &&
                  strcmp(issues[j].node, issues[i].node) == 0 &&
                  strcmp(issues[j].service, issues[i].service) == 0;
        }
        if (dup)
            continue;
        if (count < max) {
            struct cert_heal_action *a = &actions[count];
            memset(a, 0, sizeof(*a));
            snprintf(a->node, sizeof(a->node), "%s", issues[i].node);
            snprintf(a->service, sizeof(a->service), "%s", issues[i].service);
            a->kind = kind;
        }
        count++;
    }
    return count;
}

/* ---- session ------------------------------------------------------------ */

void cert_session_init(struct cert_session *s)
{
    memset(s, 0, sizeof(*s));
}

enum cert_next cert_session_next(struct cert_session *s, const struct manifest *m,
                                 const struct probe_facts *per_node, size_t nnodes,
                                 struct cert_heal_action *actions, size_t max, size_t *nactions)
{
    *nactions = 0;
    s->issues_total = cert_judge(m, per_node, nnodes, s->issues, CERT_MAX_ISSUES);
    s->nissues = s->issues_total < CERT_MAX_ISSUES ? s->issues_total : CERT_MAX_ISSUES;
    s->judged = true;
    s->nnodes = nnodes;
    s->nanswered = 0;
    for (size_t i = 0; i < nnodes; i++)
        s->nanswered += per_node[i].answered;

    size_t planned = cert_heal_plan(s->issues, s->nissues, actions, max);
    if (planned == 0)
        return CERT_NEXT_CERTIFY;
    if (s->attempts >= CERT_MAX_HEAL_ATTEMPTS) {
        s->limit_reached = true;
        return CERT_NEXT_GIVE_UP;
    }
    s->attempts++;
    *nactions = planned < max ? planned : max;
    return CERT_NEXT_HEAL;
}

void cert_session_record(struct cert_session *s, const struct cert_heal_action *actions,
                         const struct cert_heal_result *results, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s->nchanges >= CERT_MAX_CHANGES) {
            s->changes_dropped++;
            continue;
        }
        struct cert_change *c = &s->changes[s->nchanges++];
        memset(c, 0, sizeof(*c));
        c->attempt = s->attempts;
        snprintf(c->node, sizeof(c->node), "%s", actions[i].node);
        snprintf(c->service, sizeof(c->service), "%s", actions[i].service);
        snprintf(c->action, sizeof(c->action), "%s", cert_heal_kind_name(actions[i].kind));
        snprintf(c->detail, sizeof(c->detail), "%s", results[i].detail);
        c->ok = results[i].ok;
    }
}

/* ---- certification ------------------------------------------------------ */

__attribute__((format(printf, 4, 5))) static void link_set(struct cert_link *l, const char *name,
                                                           bool ok, const char *fmt, ...)
{
    l->name = name;
    l->ok = ok;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(l->detail, sizeof(l->detail), fmt, ap);
    va_end(ap);
}

static void cert_message(const uint8_t digest[MANIFEST_DIGEST_BYTES],
                         uint8_t out[sizeof(CERT_SIG_TAG) - 1 + MANIFEST_DIGEST_BYTES])
{
    memcpy(out, CERT_SIG_TAG, sizeof(CERT_SIG_TAG) - 1);
    memcpy(out + sizeof(CERT_SIG_TAG) - 1, digest, MANIFEST_DIGEST_BYTES);
}

int cert_certify(const struct cert_session *s, const struct manifest *m, bool manifest_valid,
                 const uint8_t digest[MANIFEST_DIGEST_BYTES], const struct ledger_key *key,
                 const char *signer, struct cert_certificate *out)
{
    memset(out, 0, sizeof(*out));
    memcpy(out->digest, digest, MANIFEST_DIGEST_BYTES);

    bool config = manifest_valid && m && m->nservices > 0;
    link_set(&out->links[0], "config_valid", config, "%s",
             config ? "the manifest is valid" : "the manifest did not parse or validate");

    if (!s || !s->judged)
        link_set(&out->links[1], "simulation_passed", false, "no simulation was run");
    else if (s->nnodes == 0)
        link_set(&out->links[1], "simulation_passed", false, "no node to simulate on");
    else
        link_set(&out->links[1], "simulation_passed", s->nanswered * 2 > s->nnodes,
                 "%zu of %zu nodes answered%s", s->nanswered, s->nnodes,
                 s->nanswered * 2 > s->nnodes ? "" : " (no quorum)");

    size_t critical = 0, healable = 0;
    const struct cert_issue *first = NULL;
    for (size_t i = 0; s && i < s->nissues; i++) {
        if (s->issues[i].severity == CERT_CRITICAL && critical++ == 0)
            first = &s->issues[i];
        healable += s->issues[i].healable;
    }
    bool overflow = s && s->issues_total > s->nissues;
    if (!s || !s->judged)
        link_set(&out->links[2], "no_critical_issue", false, "no simulation was run");
    else if (critical)
        link_set(&out->links[2], "no_critical_issue", false,
                 "%zu critical issue%s, first: %s%s%s %s", critical, critical == 1 ? "" : "s",
                 first->node[0] ? first->node : "release", first->service[0] ? "/" : "",
                 first->service, first->code);
    else if (overflow)
        link_set(&out->links[2], "no_critical_issue", false,
                 "%zu issues found, more than the %d judged", s->issues_total, CERT_MAX_ISSUES);
    else
        link_set(&out->links[2], "no_critical_issue", true, "no critical issue");

    if (!s || !s->judged)
        link_set(&out->links[3], "healing_ok", false, "no simulation was run");
    else if (s->limit_reached)
        link_set(&out->links[3], "healing_ok", false,
                 "heal limit reached: %zu healable issue%s left after %u attempts", healable,
                 healable == 1 ? "" : "s", s->attempts);
    else if (healable)
        link_set(&out->links[3], "healing_ok", false, "%zu healable issue%s left", healable,
                 healable == 1 ? "" : "s");
    else
        link_set(&out->links[3], "healing_ok", true, "%zu change%s in %u attempt%s",
                 s->nchanges + s->changes_dropped, s->nchanges + s->changes_dropped == 1 ? "" : "s",
                 s->attempts, s->attempts == 1 ? "" : "s");

    bool all = true;
    for (size_t i = 0; i < CERT_NLINKS; i++)
        all = all && out->links[i].ok;
    if (!all || !key)
        return -1;

    uint8_t msg[sizeof(CERT_SIG_TAG) - 1 + MANIFEST_DIGEST_BYTES];
    cert_message(digest, msg);
    crypto_sign_detached(out->signature, NULL, msg, sizeof(msg), key->sk);
    memcpy(out->pubkey, key->pk, sizeof(out->pubkey));
    snprintf(out->signer, sizeof(out->signer), "%s", signer ? signer : "");
    out->certified = true;
    return 0;
}

void cert_failed_links(const struct cert_certificate *c, char *out, size_t cap)
{
    if (cap == 0)
        return;
    out[0] = '\0';
    size_t len = 0;
    for (size_t i = 0; i < CERT_NLINKS; i++) {
        if (c->links[i].ok || !c->links[i].name)
            continue;
        int w = snprintf(out + len, cap - len, "%s%s", len ? "," : "", c->links[i].name);
        if (w < 0 || (size_t)w >= cap - len)
            return;
        len += (size_t)w;
    }
}

bool cert_verify(const struct cert_certificate *c, const uint8_t digest[MANIFEST_DIGEST_BYTES],
                 const uint8_t pubkey[LEDGER_PUBKEY_BYTES])
{
    if (!c || !c->certified || sodium_memcmp(c->digest, digest, MANIFEST_DIGEST_BYTES) != 0)
        return false;
    for (size_t i = 0; i < CERT_NLINKS; i++)
        if (!c->links[i].ok)
            return false;
    uint8_t msg[sizeof(CERT_SIG_TAG) - 1 + MANIFEST_DIGEST_BYTES];
    cert_message(digest, msg);
    return crypto_sign_verify_detached(c->signature, msg, sizeof(msg), pubkey) == 0;
}

/* ---- JSON --------------------------------------------------------------- */

static json_t *hex(const uint8_t *b, size_t n)
{
    char buf[2 * 64 + 1];
    if (n > 64)
        return NULL;
    sodium_bin2hex(buf, sizeof(buf), b, n);
    return json_string(buf);
}

/* json_object_set_new that remembers a failure. */
static void put(json_t *o, const char *k, json_t *v, bool *ok)
{
    if (!v || json_object_set_new(o, k, v) != 0)
        *ok = false;
}

static json_t *issues_json(const struct cert_session *s, bool *ok)
{
    json_t *a = json_array();
    if (!a) {
        *ok = false;
        return NULL;
    }
    for (size_t i = 0; s && i < s->nissues; i++) {
        const struct cert_issue *is = &s->issues[i];
        json_t *o = json_object();
        if (!o || json_array_append_new(a, o) != 0) {
            *ok = false;
            break;
        }
        put(o, "node", json_string(is->node), ok);
        put(o, "service", json_string(is->service), ok);
        put(o, "code", json_string(is->code), ok);
        put(o, "severity", json_string(cert_severity_name(is->severity)), ok);
        put(o, "message", json_string(is->message), ok);
        put(o, "healable", json_boolean(is->healable), ok);
    }
    return a;
}

static json_t *healing_json(const struct cert_session *s, bool *ok)
{
    json_t *h = json_object();
    json_t *ch = json_array();
    if (!h || !ch) {
        json_decref(h);
        json_decref(ch);
        *ok = false;
        return NULL;
    }
    put(h, "attempts", json_integer(s ? s->attempts : 0), ok);
    put(h, "limit", json_integer(CERT_MAX_HEAL_ATTEMPTS), ok);
    put(h, "limit_reached", json_boolean(s && s->limit_reached), ok);
    put(h, "changes_dropped", json_integer(s ? (json_int_t)s->changes_dropped : 0), ok);
    put(h, "changes", ch, ok);
    for (size_t i = 0; s && i < s->nchanges; i++) {
        const struct cert_change *c = &s->changes[i];
        json_t *o = json_object();
        if (!o || json_array_append_new(ch, o) != 0) {
            *ok = false;
            break;
        }
        put(o, "attempt", json_integer(c->attempt), ok);
        put(o, "node", json_string(c->node), ok);
        put(o, "service", json_string(c->service), ok);
        put(o, "action", json_string(c->action), ok);
        put(o, "detail", json_string(c->detail), ok);
        put(o, "ok", json_boolean(c->ok), ok);
    }
    return h;
}

static json_t *certificate_json(const struct cert_certificate *c, bool *ok)
{
    json_t *o = json_object();
    json_t *links = json_array();
    if (!o || !links) {
        json_decref(o);
        json_decref(links);
        *ok = false;
        return NULL;
    }
    put(o, "certified", json_boolean(c->certified), ok);
    put(o, "links", links, ok);
    for (size_t i = 0; i < CERT_NLINKS; i++) {
        json_t *l = json_object();
        if (!l || json_array_append_new(links, l) != 0) {
            *ok = false;
            break;
        }
        put(l, "name", json_string(c->links[i].name ? c->links[i].name : ""), ok);
        put(l, "ok", json_boolean(c->links[i].ok), ok);
        put(l, "detail", json_string(c->links[i].detail), ok);
    }
    put(o, "signer", json_string(c->certified ? c->signer : ""), ok);
    put(o, "pubkey", c->certified ? hex(c->pubkey, sizeof(c->pubkey)) : json_string(""), ok);
    put(o, "signature", c->certified ? hex(c->signature, sizeof(c->signature)) : json_string(""),
        ok);
    put(o, "digest", hex(c->digest, sizeof(c->digest)), ok);
    return o;
}

json_t *cert_to_json(const struct cert_session *s, const struct cert_certificate *c)
{
    json_t *root = json_object();
    if (!root)
        return NULL;
    bool ok = true;
    put(root, "issues", issues_json(s, &ok), &ok);
    put(root, "issues_total", json_integer(s ? (json_int_t)s->issues_total : 0), &ok);
    put(root, "healing", healing_json(s, &ok), &ok);
    put(root, "certification", c ? certificate_json(c, &ok) : json_null(), &ok);
    if (!ok) {
        json_decref(root);
        return NULL;
    }
    return root;
}
