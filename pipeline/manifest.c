/* Release manifests: parsing and validation (the schema is in manifest.h
 * and the README). The first problem found wins; checks run in document
 * order within an object, after its keys have been checked. */
#include "pipeline/manifest.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/base.h"

#define PATH_CAP sizeof(((struct manifest_error *)0)->path)

static int fail(struct manifest_error *err, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(struct manifest_error *err, const char *path, const char *fmt, ...)
{
    va_list ap;
    snprintf(err->path, sizeof err->path, "%s", path);
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    /* One line, whatever the document held in its keys and values. */
    for (char *c = err->path; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            *c = '?';
    for (char *c = err->message; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            *c = '?';
    return -1;
}

/* Appends at most max bytes of s to out (PATH_CAP bytes, NUL-terminated);
 * a path that does not fit is cut short. */
static void path_put(char *out, const char *s, size_t max)
{
    size_t n = strlen(out);
    while (*s && max-- && n + 1 < PATH_CAP)
        out[n++] = *s++;
    out[n] = '\0';
}

static void key_path(char *out, const char *base, const char *key)
{
    out[0] = '\0';
    path_put(out, base, PATH_CAP);
    if (*base)
        path_put(out, ".", 1);
    path_put(out, key, 64);
}

static void index_path(char *out, const char *base, size_t i)
{
    char num[24];
    snprintf(num, sizeof num, "[%zu]", i);
    out[0] = '\0';
    path_put(out, base, PATH_CAP);
    path_put(out, num, sizeof num);
}

/* A user's value quoted in a message: at most 40 bytes of it. */
static const char *show(const char *v, char buf[48])
{
    size_t n = strlen(v);
    if (n <= 40)
        snprintf(buf, 48, "%s", v);
    else
        snprintf(buf, 48, "%.37s...", v);
    return buf;
}

static const char *type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
        return "an integer";
    case JSON_REAL:
        return "a number with a fraction";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    default:
        return "null";
    }
}

/* The value of key, or NULL when absent or null. */
static json_t *field(const json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return json_is_null(v) ? NULL : v;
}

static int check_keys(json_t *obj, const char *base, const char *const known[],
                      struct manifest_error *err)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        size_t k = 0;
        while (known[k] && strcmp(known[k], key) != 0)
            k++;
        if (known[k])
            continue;
        char list[256] = "", p[PATH_CAP], b[48];
        for (k = 0; known[k]; k++) {
            size_t n = strlen(list);
            snprintf(list + n, sizeof list - n, "%s%s", k ? ", " : "", known[k]);
        }
        key_path(p, base, key);
        return fail(err, p, "unknown key \"%s\"; known keys here are %s", show(key, b), list);
    }
    return 0;
}

/* 1 present, 0 absent, -1 error (also for a string over max bytes). */
static int get_str(const json_t *obj, const char *base, const char *key, size_t max,
                   const char *expect, const char **out, struct manifest_error *err)
{
    json_t *v = field(obj, key);
    if (!v)
        return 0;
    char p[PATH_CAP];
    key_path(p, base, key);
    if (!json_is_string(v))
        return fail(err, p, "must be %s, not %s", expect, type_name(v));
    if (json_string_length(v) > max)
        return fail(err, p, "%zu bytes is too long; at most %zu", json_string_length(v), max);
    *out = json_string_value(v);
    return 1;
}

static int get_id(const json_t *obj, const char *base, const char *key, const char *what,
                  char out[MANIFEST_ID_MAX], struct manifest_error *err)
{
    const char *s = NULL;
    char p[PATH_CAP], b[48];
    key_path(p, base, key);
    int r = get_str(obj, base, key, (size_t)-1, "an id such as \"web\"", &s, err);
    if (r < 0)
        return -1;
    if (r == 0)
        return fail(err, p, "missing: %s, an id such as \"web\"", what);
    if (!ledger_valid_id(s, strlen(s)))
        return fail(err, p,
                    "\"%s\" is not a valid id: 1-63 letters, digits, '.', '_' or '-', starting "
                    "with a letter or digit",
                    show(s, b));
    snprintf(out, MANIFEST_ID_MAX, "%s", s);
    return 0;
}

static int get_duration(const json_t *obj, const char *base, const char *key, uint32_t def,
                        uint32_t *out, bool *given, struct manifest_error *err)
{
    json_t *v = field(obj, key);
    *out = def;
    *given = v != NULL;
    if (!v)
        return 0;
    char p[PATH_CAP], why[64], b[48];
    key_path(p, base, key);
    if (json_is_integer(v)) {
        json_int_t x = json_integer_value(v);
        if (x < 0)
            return fail(err, p, "%" JSON_INTEGER_FORMAT " is negative; a duration is >= 0", x);
        if (x > (json_int_t)MANIFEST_MAX_DURATION_MS)
            return fail(err, p, "%" JSON_INTEGER_FORMAT " ms is too long; at most 24h (%u ms)", x,
                        MANIFEST_MAX_DURATION_MS);
        *out = (uint32_t)x;
        return 0;
    }
    if (!json_is_string(v))
        return fail(err, p,
                    "must be a duration such as \"10s\" or an integer of milliseconds, not %s",
                    type_name(v));
    if (manifest_parse_duration(json_string_value(v), out, why, sizeof why) != 0)
        return fail(err, p,
                    "\"%s\" is not a duration (%s); use e.g. \"500ms\", \"10s\", \"2m\", "
                    "\"1h\", \"1m30s\" or an integer of milliseconds",
                    show(json_string_value(v), b), why);
    return 0;
}

static int get_uint(const json_t *obj, const char *base, const char *key, uint32_t lo, uint32_t hi,
                    uint32_t def, uint32_t *out, struct manifest_error *err)
{
    json_t *v = field(obj, key);
    *out = def;
    if (!v)
        return 0;
    char p[PATH_CAP];
    key_path(p, base, key);
    if (!json_is_integer(v))
        return fail(err, p, "must be an integer %u..%u, not %s", lo, hi, type_name(v));
    json_int_t x = json_integer_value(v);
    if (x < lo || x > hi)
        return fail(err, p, "%" JSON_INTEGER_FORMAT " is out of range; allowed: %u..%u", x, lo, hi);
    *out = (uint32_t)x;
    return 0;
}

static int dup(const char *s, char **out, const char *path, struct manifest_error *err)
{
    *out = strdup(s);
    return *out ? 0 : fail(err, path, "out of memory");
}

/* Variables are checked at parse time; nothing is expanded. */
static int check_template(const char *s, const char *path, bool has_port,
                          struct manifest_error *err)
{
    const struct manifest_vars v = {"node", "name", "version", has_port ? 1u : 0u};
    struct manifest_error e;
    if (manifest_expand(s, &v, NULL, 0, &e) != 0)
        return fail(err, path, "%s", e.message);
    return 0;
}

static const char *given_note(bool given)
{
    return given ? "" : ", the default";
}

static int parse_health(json_t *h, const char *base, bool has_port, struct manifest_health *out,
                        struct manifest_error *err)
{
    static const char *const keys[] = {
        "url", "interval", "timeout", "healthy_threshold", "unhealthy_threshold", NULL};
    char p[PATH_CAP], d1[32], d2[32];
    if (!json_is_object(h))
        return fail(err, base,
                    "must be an object such as {\"url\": \"http://127.0.0.1:${PORT}/health\"}, "
                    "not %s",
                    type_name(h));
    if (check_keys(h, base, keys, err))
        return -1;
    const char *url = NULL;
    key_path(p, base, "url");
    int r = get_str(h, base, "url", MANIFEST_STRING_MAX, "a URL string", &url, err);
    if (r < 0)
        return -1;
    if (r == 0)
        return fail(err, p, "missing: the URL to check, e.g. \"http://127.0.0.1:${PORT}/health\"");
    const char *rest = strncmp(url, "http://", 7) == 0    ? url + 7
                       : strncmp(url, "https://", 8) == 0 ? url + 8
                                                          : NULL;
    char b[48];
    if (!rest)
        return fail(err, p, "\"%s\" must start with http:// or https://", show(url, b));
    if (*rest == '\0' || *rest == '/')
        return fail(err, p, "\"%s\" has no host", show(url, b));
    if (strpbrk(url, " \t"))
        return fail(err, p, "\"%s\" must not contain spaces", show(url, b));
    if (check_template(url, p, has_port, err))
        return -1;
    bool interval_given, timeout_given;
    if (get_duration(h, base, "interval", MANIFEST_DEFAULT_INTERVAL_MS, &out->interval_ms,
                     &interval_given, err))
        return -1;
    if (out->interval_ms == 0) {
        key_path(p, base, "interval");
        return fail(err, p, "must be longer than 0, e.g. \"1s\"");
    }
    uint32_t def_timeout = MANIFEST_DEFAULT_TIMEOUT_MS < out->interval_ms
                               ? MANIFEST_DEFAULT_TIMEOUT_MS
                               : out->interval_ms;
    if (get_duration(h, base, "timeout", def_timeout, &out->timeout_ms, &timeout_given, err))
        return -1;
    key_path(p, base, "timeout");
    if (out->timeout_ms == 0)
        return fail(err, p, "must be longer than 0, e.g. \"500ms\"");
    if (out->timeout_ms > out->interval_ms) {
        manifest_format_duration(out->timeout_ms, d1, sizeof d1);
        manifest_format_duration(out->interval_ms, d2, sizeof d2);
        return fail(err, p, "timeout (%s) must not be longer than interval (%s%s)", d1, d2,
                    given_note(interval_given));
    }
    if (get_uint(h, base, "healthy_threshold", 1, MANIFEST_MAX_THRESHOLD,
                 MANIFEST_DEFAULT_HEALTHY_THRESHOLD, &out->healthy_threshold, err) ||
        get_uint(h, base, "unhealthy_threshold", 1, MANIFEST_MAX_THRESHOLD,
                 MANIFEST_DEFAULT_UNHEALTHY_THRESHOLD, &out->unhealthy_threshold, err))
        return -1;
    key_path(p, base, "url");
    if (dup(url, &out->url, p, err))
        return -1;
    out->enabled = true;
    return 0;
}

static int parse_port(const json_t *js, const char *base, struct manifest_service *s,
                      struct manifest_error *err)
{
    json_t *v = field(js, "port");
    char p[PATH_CAP], b[48];
    key_path(p, base, "port");
    if (!v)
        return 0;
    if (json_is_string(v)) {
        if (strcmp(json_string_value(v), "auto") != 0)
            return fail(err, p, "\"%s\" is not a port; use \"auto\" or an integer 1..65535",
                        show(json_string_value(v), b));
        s->port_kind = MANIFEST_PORT_AUTO;
        return 0;
    }
    if (!json_is_integer(v))
        return fail(err, p, "must be \"auto\" or an integer 1..65535, not %s", type_name(v));
    json_int_t x = json_integer_value(v);
    if (x < 1 || x > 65535)
        return fail(err, p,
                    "%" JSON_INTEGER_FORMAT " is out of range; a port is 1..65535 (or \"auto\" "
                    "for one the node assigns)",
                    x);
    s->port_kind = MANIFEST_PORT_FIXED;
    s->port = (uint16_t)x;
    return 0;
}

static int parse_args(const json_t *js, const char *base, struct manifest_service *s,
                      struct manifest_error *err)
{
    json_t *a = field(js, "args");
    char p[PATH_CAP];
    key_path(p, base, "args");
    if (!a)
        return 0;
    if (!json_is_array(a))
        return fail(err, p, "must be an array of strings, e.g. [\"--port\", \"${PORT}\"], not %s",
                    type_name(a));
    size_t n = json_array_size(a);
    if (n > MANIFEST_MAX_ARGS)
        return fail(err, p, "%zu arguments; at most %d", n, MANIFEST_MAX_ARGS);
    s->args = calloc(n ? n : 1, sizeof *s->args);
    if (!s->args)
        return fail(err, p, "out of memory");
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_array_get(a, i);
        char ip[PATH_CAP];
        index_path(ip, p, i);
        if (!json_is_string(v))
            return fail(err, ip, "must be a string, not %s", type_name(v));
        if (json_string_length(v) > MANIFEST_STRING_MAX)
            return fail(err, ip, "%zu bytes is too long; at most %d", json_string_length(v),
                        MANIFEST_STRING_MAX);
        if (check_template(json_string_value(v), ip, s->port_kind != MANIFEST_PORT_NONE, err) ||
            dup(json_string_value(v), &s->args[i], ip, err))
            return -1;
        s->nargs++;
    }
    return 0;
}

static bool valid_env_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > MANIFEST_ENV_NAME_MAX || (*s >= '0' && *s <= '9'))
        return false;
    for (; *s; s++)
        if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
              *s == '_'))
            return false;
    return true;
}

static int parse_env(const json_t *js, const char *base, struct manifest_service *s,
                     struct manifest_error *err)
{
    json_t *e = field(js, "env");
    char p[PATH_CAP], b[48];
    key_path(p, base, "env");
    if (!e)
        return 0;
    if (!json_is_object(e))
        return fail(err, p, "must be an object of strings, e.g. {\"MODE\": \"fast\"}, not %s",
                    type_name(e));
    size_t n = json_object_size(e);
    if (n > MANIFEST_MAX_ENV)
        return fail(err, p, "%zu variables; at most %d", n, MANIFEST_MAX_ENV);
    s->env = calloc(n ? n : 1, sizeof *s->env);
    if (!s->env)
        return fail(err, p, "out of memory");
    const char *name;
    json_t *v;
    json_object_foreach(e, name, v)
    {
        char vp[PATH_CAP];
        key_path(vp, p, name);
        if (!valid_env_name(name))
            return fail(err, vp,
                        "\"%s\" is not a valid variable name: letters, digits and '_', not "
                        "starting with a digit, at most %d bytes",
                        show(name, b), MANIFEST_ENV_NAME_MAX);
        if (!json_is_string(v))
            return fail(err, vp, "must be a string (quote numbers: \"8080\"), not %s",
                        type_name(v));
        if (json_string_length(v) > MANIFEST_STRING_MAX)
            return fail(err, vp, "%zu bytes is too long; at most %d", json_string_length(v),
                        MANIFEST_STRING_MAX);
        struct manifest_env *slot = &s->env[s->nenv];
        if (check_template(json_string_value(v), vp, s->port_kind != MANIFEST_PORT_NONE, err) ||
            dup(name, &slot->name, vp, err))
            return -1;
        s->nenv++; /* the name is owned now; manifest_free takes both */
        if (dup(json_string_value(v), &slot->value, vp, err))
            return -1;
    }
    return 0;
}

static int parse_service(json_t *js, size_t i, struct manifest *m, struct manifest_error *err)
{
    static const char *const keys[] = {"name",        "driver", "command", "args",       "env",
                                       "working_dir", "port",   "health",  "stop_grace", NULL};
    struct manifest_service *s = &m->services[i];
    char base[PATH_CAP], p[PATH_CAP], b[48];
    index_path(base, "services", i);
    if (!json_is_object(js))
        return fail(err, base,
                    "must be an object such as {\"name\": \"api\", \"command\": \"/usr/bin/api\"}"
                    ", not %s",
                    type_name(js));
    if (check_keys(js, base, keys, err) ||
        get_id(js, base, "name", "the service's name", s->name, err))
        return -1;
    for (size_t k = 0; k < i; k++) {
        if (strcmp(m->services[k].name, s->name) == 0) {
            key_path(p, base, "name");
            return fail(err, p, "duplicate service name \"%s\" (also services[%zu].name)", s->name,
                        k);
        }
    }

    const char *str = NULL;
    key_path(p, base, "driver");
    if (get_str(js, base, "driver", MANIFEST_STRING_MAX, "a string such as \"process\"", &str,
                err) < 0)
        return -1;
    if (str && strcmp(str, "process") != 0)
        return fail(err, p, "driver \"%s\" is not supported; supported drivers: process",
                    show(str, b));
    s->driver = MANIFEST_DRIVER_PROCESS;

    str = NULL;
    key_path(p, base, "command");
    int r = get_str(js, base, "command", MANIFEST_STRING_MAX, "a string", &str, err);
    if (r < 0)
        return -1;
    if (r == 0 || *str == '\0')
        return fail(err, p,
                    "missing: the program to run, an absolute path or a name looked up in PATH");
    if (*str != '/' && strchr(str, '/'))
        return fail(err, p,
                    "\"%s\" is a relative path; use an absolute path or a name looked up in PATH",
                    show(str, b));
    if (*str != '/' && strpbrk(str, " \t"))
        return fail(err, p, "\"%s\" is not a command name; put its arguments in \"args\"",
                    show(str, b));
    if (dup(str, &s->command, p, err))
        return -1;

    if (parse_port(js, base, s, err) || parse_args(js, base, s, err) || parse_env(js, base, s, err))
        return -1;

    str = NULL;
    key_path(p, base, "working_dir");
    if (get_str(js, base, "working_dir", MANIFEST_STRING_MAX, "an absolute path", &str, err) < 0)
        return -1;
    if (str && *str != '/')
        return fail(err, p, "\"%s\" must be an absolute path", show(str, b));
    if (str && dup(str, &s->working_dir, p, err))
        return -1;

    json_t *h = field(js, "health");
    key_path(p, base, "health");
    if (h && parse_health(h, p, s->port_kind != MANIFEST_PORT_NONE, &s->health, err))
        return -1;
    bool given;
    return get_duration(js, base, "stop_grace", MANIFEST_DEFAULT_STOP_GRACE_MS, &s->stop_grace_ms,
                        &given, err);
}

static int parse_rollout(json_t *ro, struct manifest_rollout *r, struct manifest_error *err)
{
    static const char *const keys[] = {"max_parallel",      "min_healthy_time", "healthy_deadline",
                                       "progress_deadline", "auto_revert",      NULL};
    json_t *empty = NULL;
    if (!ro)
        ro = empty = json_object(); /* every default */
    if (!ro)
        return fail(err, "rollout", "out of memory");
    int rc = -1;
    bool mht_given, hd_given, pd_given;
    char d1[32], d2[32];
    if (!json_is_object(ro)) {
        fail(err, "rollout", "must be an object such as {\"max_parallel\": 1}, not %s",
             type_name(ro));
        goto out;
    }
    if (check_keys(ro, "rollout", keys, err) ||
        get_uint(ro, "rollout", "max_parallel", 1, MANIFEST_MAX_PARALLEL,
                 MANIFEST_DEFAULT_MAX_PARALLEL, &r->max_parallel, err) ||
        get_duration(ro, "rollout", "min_healthy_time", MANIFEST_DEFAULT_MIN_HEALTHY_TIME_MS,
                     &r->min_healthy_time_ms, &mht_given, err) ||
        get_duration(ro, "rollout", "healthy_deadline", MANIFEST_DEFAULT_HEALTHY_DEADLINE_MS,
                     &r->healthy_deadline_ms, &hd_given, err) ||
        get_duration(ro, "rollout", "progress_deadline", MANIFEST_DEFAULT_PROGRESS_DEADLINE_MS,
                     &r->progress_deadline_ms, &pd_given, err))
        goto out;
    json_t *ar = field(ro, "auto_revert");
    r->auto_revert = true;
    if (ar && !json_is_boolean(ar)) {
        fail(err, "rollout.auto_revert", "must be true or false, not %s", type_name(ar));
        goto out;
    }
    if (ar)
        r->auto_revert = json_is_true(ar);
    if (r->healthy_deadline_ms <= r->min_healthy_time_ms) {
        manifest_format_duration(r->healthy_deadline_ms, d1, sizeof d1);
        manifest_format_duration(r->min_healthy_time_ms, d2, sizeof d2);
        fail(err, hd_given ? "rollout.healthy_deadline" : "rollout.min_healthy_time",
             "healthy_deadline (%s%s) must be longer than min_healthy_time (%s%s)", d1,
             given_note(hd_given), d2, given_note(mht_given));
        goto out;
    }
    if (r->progress_deadline_ms < r->healthy_deadline_ms) {
        manifest_format_duration(r->progress_deadline_ms, d1, sizeof d1);
        manifest_format_duration(r->healthy_deadline_ms, d2, sizeof d2);
        fail(err, pd_given ? "rollout.progress_deadline" : "rollout.healthy_deadline",
             "progress_deadline (%s%s) must be at least healthy_deadline (%s%s)", d1,
             given_note(pd_given), d2, given_note(hd_given));
        goto out;
    }
    rc = 0;
out:
    json_decref(empty);
    return rc;
}

static int parse_root(json_t *root, struct manifest *m, struct manifest_error *err)
{
    static const char *const keys[] = {"name",     "version", "description",
                                       "services", "rollout", NULL};
    char b[48];
    if (!json_is_object(root))
        return fail(err, "",
                    "a manifest must be a JSON object such as {\"name\": \"web\", \"version\": "
                    "\"1.0.0\", \"services\": [...]}");
    if (check_keys(root, "", keys, err) ||
        get_id(root, "", "name", "the release's name", m->name, err))
        return -1;

    const char *str = NULL;
    int r =
        get_str(root, "", "version", MANIFEST_STRING_MAX, "a string such as \"1.4.2\"", &str, err);
    if (r < 0)
        return -1;
    if (r == 0)
        return fail(err, "version", "missing: the release's version, e.g. \"1.4.2\"");
    size_t n = strlen(str);
    bool ok = n >= 1 && n < MANIFEST_VERSION_MAX;
    for (const char *c = str; ok && *c; c++)
        ok = *c > 0x20 && *c < 0x7f;
    if (!ok)
        return fail(err, "version",
                    "\"%s\" is not a valid version: 1-64 printable ASCII characters without "
                    "spaces, e.g. \"1.4.2\"",
                    show(str, b));
    memcpy(m->version, str, n + 1);

    str = NULL;
    if (get_str(root, "", "description", MANIFEST_DESCRIPTION_MAX, "a string", &str, err) < 0)
        return -1;
    if (str)
        snprintf(m->description, sizeof m->description, "%s", str);

    json_t *svcs = field(root, "services");
    if (!svcs)
        return fail(err, "services",
                    "missing: at least one service, e.g. [{\"name\": \"api\", \"command\": "
                    "\"/usr/bin/api\"}]");
    if (!json_is_array(svcs))
        return fail(err, "services", "must be an array of services, not %s", type_name(svcs));
    size_t ns = json_array_size(svcs);
    if (ns == 0)
        return fail(err, "services", "empty: at least one service is required");
    if (ns > MANIFEST_MAX_SERVICES)
        return fail(err, "services", "%zu services; at most %d", ns, MANIFEST_MAX_SERVICES);
    for (size_t i = 0; i < ns; i++) {
        m->nservices = i + 1; /* what parse_service allocated is freed on failure */
        if (parse_service(json_array_get(svcs, i), i, m, err))
            return -1;
    }
    return parse_rollout(field(root, "rollout"), &m->rollout, err);
}

int manifest_parse(const char *json, size_t len, struct manifest *m, struct manifest_error *err)
{
    memset(m, 0, sizeof *m);
    memset(err, 0, sizeof *err);
    if (len > MANIFEST_MAX_BYTES)
        return fail(err, "", "the manifest is %zu bytes; at most %u (256 KiB)", len,
                    MANIFEST_MAX_BYTES);
    json_error_t je;
    json_t *root = json_loadb(json ? json : "", json ? len : 0, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return fail(err, "", "not valid JSON: line %d, column %d: %s", je.line, je.column, je.text);
    int rc = parse_root(root, m, err);
    json_decref(root);
    if (rc)
        manifest_free(m);
    return rc;
}
