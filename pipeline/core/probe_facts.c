/* Probe facts in JSON (see probe_facts.h): encoding, and strict decoding that
 * names the field at fault. Pure: no I/O. */
#include "pipeline/core/probe_facts.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *kind_name(enum manifest_port k)
{
    return k == MANIFEST_PORT_AUTO ? "auto" : k == MANIFEST_PORT_FIXED ? "fixed" : "none";
}

static void put(json_t *o, const char *k, json_t *v, bool *ok)
{
    if (!v || json_object_set_new(o, k, v) != 0)
        *ok = false;
}

static json_t *obj(bool *ok)
{
    json_t *o = json_object();
    if (!o)
        *ok = false;
    return o;
}

static json_t *service_json(const struct probe_service *s, bool *ok)
{
    json_t *o = obj(ok), *c = obj(ok), *w = obj(ok), *p = obj(ok), *h = obj(ok), *e = obj(ok),
           *a = obj(ok), *f = obj(ok), *u = obj(ok);
    if (!*ok) {
        json_t *all[] = {o, c, w, p, h, e, a, f, u};
        for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
            json_decref(all[i]);
        return NULL;
    }
    put(o, "name", json_string(s->name), ok);
    put(c, "found", json_boolean(s->command_found), ok);
    put(c, "executable", json_boolean(s->command_executable), ok);
    put(c, "path", json_string(s->command_path), ok);
    put(o, "command", c, ok);
    put(w, "set", json_boolean(s->working_dir_set), ok);
    put(w, "exists", json_boolean(s->working_dir_exists), ok);
    put(w, "is_dir", json_boolean(s->working_dir_is_dir), ok);
    put(w, "creatable", json_boolean(s->working_dir_creatable), ok);
    put(o, "working_dir", w, ok);
    put(p, "kind", json_string(kind_name(s->port_kind)), ok);
    put(p, "port", json_integer(s->port), ok);
    put(p, "free", json_boolean(s->port_free), ok);
    put(p, "own", json_boolean(s->port_own), ok);
    put(o, "port", p, ok);
    put(h, "set", json_boolean(s->health_set), ok);
    put(h, "ok", json_boolean(s->health_ok), ok);
    put(h, "url", json_string(s->health_url), ok);
    put(h, "error", json_string(s->health_error), ok);
    put(o, "health", h, ok);
    put(e, "ok", json_boolean(s->env_ok), ok);
    put(e, "error", json_string(s->env_error), ok);
    put(o, "env", e, ok);
    put(a, "ok", json_boolean(s->args_ok), ok);
    put(a, "error", json_string(s->args_error), ok);
    put(o, "args", a, ok);
    put(f, "set", json_boolean(s->env_file_set), ok);
    put(f, "ok", json_boolean(s->env_file_ok), ok);
    put(f, "error", json_string(s->env_file_error), ok);
    put(o, "env_file", f, ok);
    put(u, "set", json_boolean(s->user_set), ok);
    put(u, "root", json_boolean(s->user_root), ok);
    put(u, "ok", json_boolean(s->user_ok), ok);
    put(u, "error", json_string(s->user_error), ok);
    put(o, "user", u, ok);
    return o;
}

json_t *probe_facts_to_json(const struct probe_facts *f)
{
    bool ok = true;
    json_t *root = json_object(), *svcs = json_array();
    if (!root || !svcs) {
        json_decref(root);
        json_decref(svcs);
        return NULL;
    }
    put(root, "node", json_string(f->node), &ok);
    put(root, "answered", json_boolean(f->answered), &ok);
    put(root, "error", json_string(f->error), &ok);
    put(root, "services", svcs, &ok);
    for (size_t i = 0; ok && i < f->nservices && i < MANIFEST_MAX_SERVICES; i++) {
        json_t *s = service_json(&f->services[i], &ok);
        if (!s || json_array_append_new(svcs, s) != 0)
            ok = false;
    }
    if (!ok) {
        json_decref(root);
        return NULL;
    }
    return root;
}

/* Strict decoding: a field's path and what is wrong with it. */
struct dec {
    char *err;
    size_t errlen;
};

__attribute__((format(printf, 3, 4))) static int bad(struct dec *d, const char *path,
                                                     const char *fmt, ...)
{
    char msg[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (d->errlen)
        snprintf(d->err, d->errlen, "%s: %s", path[0] ? path : "facts", msg);
    return -1;
}

/* o must be an object with exactly these keys. */
/* Every key of want must be there; those of may (NULL: none) may be. */
static int keys(struct dec *d, const json_t *o, const char *path, const char *const *want,
                const char *const *may)
{
    if (!json_is_object(o))
        return bad(d, path, "%s", "must be an object");
    for (size_t i = 0; want[i]; i++)
        if (!json_object_get(o, want[i])) {
            char p[160];
            snprintf(p, sizeof(p), "%s%s%s", path, path[0] ? "." : "", want[i]);
            return bad(d, p, "%s", "missing");
        }
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)o, k, v)
    {
        bool known = false;
        for (size_t i = 0; want[i] && !known; i++)
            known = strcmp(k, want[i]) == 0;
        for (size_t i = 0; may && may[i] && !known; i++)
            known = strcmp(k, may[i]) == 0;
        if (!known) {
            char p[160];
            snprintf(p, sizeof(p), "%s%s%.64s", path, path[0] ? "." : "", k);
            return bad(d, p, "%s", "unknown field");
        }
        (void)v;
    }
    return 0;
}

static void sub(char *out, size_t cap, const char *path, const char *key)
{
    /* A path cut short only shortens an error message. */
    int k = snprintf(out, cap, "%s%s", path, path[0] ? "." : "");
    if (k >= 0 && (size_t)k < cap)
        strncat(out, key, cap - (size_t)k - 1);
}

static int get_bool(struct dec *d, const json_t *o, const char *path, const char *key, bool *out)
{
    const json_t *v = json_object_get(o, key);
    if (!json_is_boolean(v)) {
        char p[160];
        sub(p, sizeof(p), path, key);
        return bad(d, p, "%s", "must be true or false");
    }
    *out = json_is_true(v);
    return 0;
}

static int get_str(struct dec *d, const json_t *o, const char *path, const char *key, char *out,
                   size_t cap)
{
    const json_t *v = json_object_get(o, key);
    char p[160];
    sub(p, sizeof(p), path, key);
    if (!json_is_string(v))
        return bad(d, p, "%s", "must be a string");
    size_t len = json_string_length(v);
    const char *s = json_string_value(v);
    if (len >= cap)
        return bad(d, p, "longer than %zu bytes", cap - 1);
    if (memchr(s, '\0', len))
        return bad(d, p, "%s", "contains a NUL");
    memcpy(out, s, len + 1);
    return 0;
}

static int get_obj(struct dec *d, const json_t *o, const char *path, const char *key,
                   const char *const *want, const json_t **out, char *subpath, size_t cap)
{
    sub(subpath, cap, path, key);
    *out = json_object_get(o, key);
    return keys(d, *out, subpath, want, NULL);
}

static int service_from_json(struct dec *d, const json_t *o, const char *path,
                             struct probe_service *s)
{
    static const char *const top[] = {"name",   "command", "working_dir", "port",
                                      "health", "env",     "args",        NULL};
    static const char *const later[] = {"env_file", "user", NULL};
    static const char *const user[] = {"set", "root", "ok", "error", NULL};
    static const char *const cmd[] = {"found", "executable", "path", NULL};
    static const char *const wd[] = {"set", "exists", "is_dir", "creatable", NULL};
    static const char *const port[] = {"kind", "port", "free", "own", NULL};
    static const char *const health[] = {"set", "ok", "url", "error", NULL};
    static const char *const okerr[] = {"ok", "error", NULL};
    static const char *const setokerr[] = {"set", "ok", "error", NULL};
    const json_t *x;
    char p[160];

    if (keys(d, o, path, top, later) || get_str(d, o, path, "name", s->name, sizeof(s->name)))
        return -1;
    if (!s->name[0]) {
        sub(p, sizeof(p), path, "name");
        return bad(d, p, "%s", "must not be empty");
    }
    if (get_obj(d, o, path, "command", cmd, &x, p, sizeof(p)) ||
        get_bool(d, x, p, "found", &s->command_found) ||
        get_bool(d, x, p, "executable", &s->command_executable) ||
        get_str(d, x, p, "path", s->command_path, sizeof(s->command_path)))
        return -1;
    if (get_obj(d, o, path, "working_dir", wd, &x, p, sizeof(p)) ||
        get_bool(d, x, p, "set", &s->working_dir_set) ||
        get_bool(d, x, p, "exists", &s->working_dir_exists) ||
        get_bool(d, x, p, "is_dir", &s->working_dir_is_dir) ||
        get_bool(d, x, p, "creatable", &s->working_dir_creatable))
        return -1;
    if (get_obj(d, o, path, "port", port, &x, p, sizeof(p)))
        return -1;
    char kp[160];
    sub(kp, sizeof(kp), p, "kind");
    const char *kind = json_string_value(json_object_get(x, "kind"));
    if (kind && strcmp(kind, "none") == 0)
        s->port_kind = MANIFEST_PORT_NONE;
    else if (kind && strcmp(kind, "auto") == 0)
        s->port_kind = MANIFEST_PORT_AUTO;
    else if (kind && strcmp(kind, "fixed") == 0)
        s->port_kind = MANIFEST_PORT_FIXED;
    else
        return bad(d, kp, "%s", "must be \"none\", \"auto\" or \"fixed\"");
    const json_t *pv = json_object_get(x, "port");
    if (!json_is_integer(pv) || json_integer_value(pv) < 0 || json_integer_value(pv) > 65535) {
        sub(kp, sizeof(kp), p, "port");
        return bad(d, kp, "%s", "must be an integer 0..65535");
    }
    s->port = (uint16_t)json_integer_value(pv);
    if (get_bool(d, x, p, "free", &s->port_free) || get_bool(d, x, p, "own", &s->port_own))
        return -1;
    if (get_obj(d, o, path, "health", health, &x, p, sizeof(p)) ||
        get_bool(d, x, p, "set", &s->health_set) || get_bool(d, x, p, "ok", &s->health_ok) ||
        get_str(d, x, p, "url", s->health_url, sizeof(s->health_url)) ||
        get_str(d, x, p, "error", s->health_error, sizeof(s->health_error)))
        return -1;
    if (get_obj(d, o, path, "env", okerr, &x, p, sizeof(p)) ||
        get_bool(d, x, p, "ok", &s->env_ok) ||
        get_str(d, x, p, "error", s->env_error, sizeof(s->env_error)))
        return -1;
    if (get_obj(d, o, path, "args", okerr, &x, p, sizeof(p)) ||
        get_bool(d, x, p, "ok", &s->args_ok) ||
        get_str(d, x, p, "error", s->args_error, sizeof(s->args_error)))
        return -1;
    /* env_file and user came later: a node of an earlier version leaves them
     * out, and can run no manifest that sets them (its parser refuses the
     * keys, so it answers with an error instead). Absent reads as "not set",
     * so a federation in the middle of an upgrade can still deploy. */
    s->env_file_ok = s->user_ok = true;
    if (json_object_get(o, "env_file") &&
        (get_obj(d, o, path, "env_file", setokerr, &x, p, sizeof(p)) ||
         get_bool(d, x, p, "set", &s->env_file_set) || get_bool(d, x, p, "ok", &s->env_file_ok) ||
         get_str(d, x, p, "error", s->env_file_error, sizeof(s->env_file_error))))
        return -1;
    if (json_object_get(o, "user") &&
        (get_obj(d, o, path, "user", user, &x, p, sizeof(p)) ||
         get_bool(d, x, p, "set", &s->user_set) || get_bool(d, x, p, "root", &s->user_root) ||
         get_bool(d, x, p, "ok", &s->user_ok) ||
         get_str(d, x, p, "error", s->user_error, sizeof(s->user_error))))
        return -1;
    return 0;
}

int probe_facts_from_json(const json_t *js, struct probe_facts *out, char *err, size_t errlen)
{
    static const char *const top[] = {"node", "answered", "error", "services", NULL};
    struct dec d = {err, errlen};
    memset(out, 0, sizeof(*out));
    if (errlen)
        err[0] = '\0';
    int rc = -1;
    if (keys(&d, js, "", top, NULL) || get_str(&d, js, "", "node", out->node, sizeof(out->node)) ||
        get_bool(&d, js, "", "answered", &out->answered) ||
        get_str(&d, js, "", "error", out->error, sizeof(out->error)))
        goto done;
    if (!out->node[0]) {
        bad(&d, "node", "%s", "must not be empty");
        goto done;
    }
    const json_t *svcs = json_object_get(js, "services");
    if (!json_is_array(svcs)) {
        bad(&d, "services", "%s", "must be an array");
        goto done;
    }
    if (json_array_size(svcs) > MANIFEST_MAX_SERVICES) {
        bad(&d, "services", "more than %d services", MANIFEST_MAX_SERVICES);
        goto done;
    }
    for (size_t i = 0; i < json_array_size(svcs); i++) {
        char p[32];
        snprintf(p, sizeof(p), "services[%zu]", i);
        if (service_from_json(&d, json_array_get(svcs, i), p, &out->services[i]))
            goto done;
        for (size_t j = 0; j < i; j++)
            if (strcmp(out->services[j].name, out->services[i].name) == 0) {
                char np[48];
                snprintf(np, sizeof(np), "%s.name", p);
                bad(&d, np, "duplicate service \"%s\"", out->services[i].name);
                goto done;
            }
    }
    out->nservices = json_array_size(svcs);
    rc = 0;
done:
    if (rc)
        memset(out, 0, sizeof(*out));
    return rc;
}
