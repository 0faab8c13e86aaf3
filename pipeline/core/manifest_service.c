/* Release manifests: parsing and validation of one service (the schema is
 * in manifest.h and the README), with its health check, port, args and
 * env. */
#include "pipeline/core/manifest_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int parse_health(json_t *h, const char *base, bool has_port, struct manifest_health *out,
                        struct manifest_error *err)
{
    static const char *const keys[] = {
        "url", "interval", "timeout", "healthy_threshold", "unhealthy_threshold", NULL};
    char p[MANIFEST_PATH_CAP], d1[32], d2[32];
    if (!json_is_object(h))
        return manifest_fail(
            err, base,
            "must be an object such as {\"url\": \"http://127.0.0.1:${PORT}/health\"}, "
            "not %s",
            manifest_type_name(h));
    if (manifest_check_keys(h, base, keys, err))
        return -1;
    const char *url = NULL;
    manifest_key_path(p, base, "url");
    int r = manifest_get_str(h, base, "url", MANIFEST_STRING_MAX, "a URL string", &url, err);
    if (r < 0)
        return -1;
    if (r == 0)
        return manifest_fail(err, p,
                             "missing: the URL to check, e.g. \"http://127.0.0.1:${PORT}/health\"");
    const char *rest = strncmp(url, "http://", 7) == 0    ? url + 7
                       : strncmp(url, "https://", 8) == 0 ? url + 8
                                                          : NULL;
    char b[48];
    if (!rest)
        return manifest_fail(err, p, "\"%s\" must start with http:// or https://",
                             manifest_show(url, b));
    if (*rest == '\0' || *rest == '/')
        return manifest_fail(err, p, "\"%s\" has no host", manifest_show(url, b));
    if (strpbrk(url, " \t"))
        return manifest_fail(err, p, "\"%s\" must not contain spaces", manifest_show(url, b));
    if (manifest_check_template(url, p, has_port, err))
        return -1;
    bool interval_given, timeout_given;
    if (manifest_get_duration(h, base, "interval", MANIFEST_DEFAULT_INTERVAL_MS, &out->interval_ms,
                              &interval_given, err))
        return -1;
    if (out->interval_ms == 0) {
        manifest_key_path(p, base, "interval");
        return manifest_fail(err, p, "must be longer than 0, e.g. \"1s\"");
    }
    uint32_t def_timeout = MANIFEST_DEFAULT_TIMEOUT_MS < out->interval_ms
                               ? MANIFEST_DEFAULT_TIMEOUT_MS
                               : out->interval_ms;
    if (manifest_get_duration(h, base, "timeout", def_timeout, &out->timeout_ms, &timeout_given,
                              err))
        return -1;
    manifest_key_path(p, base, "timeout");
    if (out->timeout_ms == 0)
        return manifest_fail(err, p, "must be longer than 0, e.g. \"500ms\"");
    if (out->timeout_ms > out->interval_ms) {
        manifest_format_duration(out->timeout_ms, d1, sizeof d1);
        manifest_format_duration(out->interval_ms, d2, sizeof d2);
        return manifest_fail(err, p, "timeout (%s) must not be longer than interval (%s%s)", d1, d2,
                             manifest_given_note(interval_given));
    }
    if (manifest_get_uint(h, base, "healthy_threshold", 1, MANIFEST_MAX_THRESHOLD,
                          MANIFEST_DEFAULT_HEALTHY_THRESHOLD, &out->healthy_threshold, err) ||
        manifest_get_uint(h, base, "unhealthy_threshold", 1, MANIFEST_MAX_THRESHOLD,
                          MANIFEST_DEFAULT_UNHEALTHY_THRESHOLD, &out->unhealthy_threshold, err))
        return -1;
    manifest_key_path(p, base, "url");
    if (manifest_dup(url, &out->url, p, err))
        return -1;
    out->enabled = true;
    return 0;
}

static int parse_port(const json_t *js, const char *base, struct manifest_service *s,
                      struct manifest_error *err)
{
    json_t *v = manifest_field(js, "port");
    char p[MANIFEST_PATH_CAP], b[48];
    manifest_key_path(p, base, "port");
    if (!v)
        return 0;
    if (json_is_string(v)) {
        if (strcmp(json_string_value(v), "auto") != 0)
            return manifest_fail(err, p,
                                 "\"%s\" is not a port; use \"auto\" or an integer 1..65535",
                                 manifest_show(json_string_value(v), b));
        s->port_kind = MANIFEST_PORT_AUTO;
        return 0;
    }
    if (!json_is_integer(v))
        return manifest_fail(err, p, "must be \"auto\" or an integer 1..65535, not %s",
                             manifest_type_name(v));
    json_int_t x = json_integer_value(v);
    if (x < 1 || x > 65535)
        return manifest_fail(err, p,
                             "%" JSON_INTEGER_FORMAT
                             " is out of range; a port is 1..65535 (or \"auto\" "
                             "for one the node assigns)",
                             x);
    s->port_kind = MANIFEST_PORT_FIXED;
    s->port = (uint16_t)x;
    return 0;
}

static int parse_args(const json_t *js, const char *base, struct manifest_service *s,
                      struct manifest_error *err)
{
    json_t *a = manifest_field(js, "args");
    char p[MANIFEST_PATH_CAP];
    manifest_key_path(p, base, "args");
    if (!a)
        return 0;
    if (!json_is_array(a))
        return manifest_fail(err, p,
                             "must be an array of strings, e.g. [\"--port\", \"${PORT}\"], not %s",
                             manifest_type_name(a));
    size_t n = json_array_size(a);
    if (n > MANIFEST_MAX_ARGS)
        return manifest_fail(err, p, "%zu arguments; at most %d", n, MANIFEST_MAX_ARGS);
    s->args = calloc(n ? n : 1, sizeof *s->args);
    if (!s->args)
        return manifest_fail(err, p, "out of memory");
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_array_get(a, i);
        char ip[MANIFEST_PATH_CAP];
        manifest_index_path(ip, p, i);
        if (!json_is_string(v))
            return manifest_fail(err, ip, "must be a string, not %s", manifest_type_name(v));
        if (json_string_length(v) > MANIFEST_STRING_MAX)
            return manifest_fail(err, ip, "%zu bytes is too long; at most %d",
                                 json_string_length(v), MANIFEST_STRING_MAX);
        if (manifest_check_template(json_string_value(v), ip, s->port_kind != MANIFEST_PORT_NONE,
                                    err) ||
            manifest_dup(json_string_value(v), &s->args[i], ip, err))
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
    json_t *e = manifest_field(js, "env");
    char p[MANIFEST_PATH_CAP], b[48];
    manifest_key_path(p, base, "env");
    if (!e)
        return 0;
    if (!json_is_object(e))
        return manifest_fail(err, p,
                             "must be an object of strings, e.g. {\"MODE\": \"fast\"}, not %s",
                             manifest_type_name(e));
    size_t n = json_object_size(e);
    if (n > MANIFEST_MAX_ENV)
        return manifest_fail(err, p, "%zu variables; at most %d", n, MANIFEST_MAX_ENV);
    s->env = calloc(n ? n : 1, sizeof *s->env);
    if (!s->env)
        return manifest_fail(err, p, "out of memory");
    const char *name;
    json_t *v;
    json_object_foreach(e, name, v)
    {
        char vp[MANIFEST_PATH_CAP];
        manifest_key_path(vp, p, name);
        if (!valid_env_name(name))
            return manifest_fail(
                err, vp,
                "\"%s\" is not a valid variable name: letters, digits and '_', not "
                "starting with a digit, at most %d bytes",
                manifest_show(name, b), MANIFEST_ENV_NAME_MAX);
        if (!json_is_string(v))
            return manifest_fail(err, vp, "must be a string (quote numbers: \"8080\"), not %s",
                                 manifest_type_name(v));
        if (json_string_length(v) > MANIFEST_STRING_MAX)
            return manifest_fail(err, vp, "%zu bytes is too long; at most %d",
                                 json_string_length(v), MANIFEST_STRING_MAX);
        struct manifest_env *slot = &s->env[s->nenv];
        if (manifest_check_template(json_string_value(v), vp, s->port_kind != MANIFEST_PORT_NONE,
                                    err) ||
            manifest_dup(name, &slot->name, vp, err))
            return -1;
        s->nenv++; /* the name is owned now; manifest_free takes both */
        if (manifest_dup(json_string_value(v), &slot->value, vp, err))
            return -1;
    }
    return 0;
}

/* An optional absolute path (key's value) into *out. */
static int parse_path(const json_t *js, const char *base, const char *key, char **out,
                      struct manifest_error *err)
{
    const char *str = NULL;
    char p[MANIFEST_PATH_CAP], b[48];
    manifest_key_path(p, base, key);
    if (manifest_get_str(js, base, key, MANIFEST_STRING_MAX, "an absolute path", &str, err) < 0)
        return -1;
    if (str && *str != '/')
        return manifest_fail(err, p, "\"%s\" must be an absolute path", manifest_show(str, b));
    return str ? manifest_dup(str, out, p, err) : 0;
}

/* "UID" or "UID:GID", each below (uid_t)-1, which means "unchanged" to
 * setuid and chown. */
static bool numeric_user(const char *s)
{
    for (int part = 0; part < 2; part++) {
        unsigned long long v = 0;
        const char *d = s;
        while (*s >= '0' && *s <= '9' && v < 4294967295ull)
            v = v * 10 + (unsigned long long)(*s++ - '0');
        if (s == d || v >= 4294967295ull || (*s >= '0' && *s <= '9'))
            return false;
        if (*s == '\0')
            return true;
        if (*s++ != ':' || part == 1)
            return false;
    }
    return false;
}

/* A portable user name (useradd's rules, less strict on case). */
static bool user_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > MANIFEST_USER_NAME_MAX || *s == '-')
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '.' || c == '-' || (c == '$' && i == n - 1 && n > 1);
        if (!ok)
            return false;
    }
    return true;
}

static int parse_user(const json_t *js, const char *base, struct manifest_service *s,
                      struct manifest_error *err)
{
    const char *str = NULL;
    char p[MANIFEST_PATH_CAP], b[48];
    manifest_key_path(p, base, "user");
    int r = manifest_get_str(js, base, "user", MANIFEST_STRING_MAX, "a user name or \"UID[:GID]\"",
                             &str, err);
    if (r <= 0)
        return r;
    bool digits = strspn(str, "0123456789:") == strlen(str);
    if (digits ? !numeric_user(str) : !user_name(str))
        return manifest_fail(err, p,
                             "\"%s\" is not a user: give a user name (letters, digits, '_', '.', "
                             "'-', at most %d bytes) or \"UID\" or \"UID:GID\", e.g. \"1000:1000\"",
                             manifest_show(str, b), MANIFEST_USER_NAME_MAX);
    return manifest_dup(str, &s->user, p, err);
}

/* "restart" (Nomad's restart block); r gets the defaults when absent. */
static int parse_restart(const json_t *js, const char *base, struct manifest_restart *r,
                         struct manifest_error *err)
{
    static const char *const keys[] = {"attempts", "interval", "delay", "mode", NULL};
    json_t *o = manifest_field(js, "restart");
    char p[MANIFEST_PATH_CAP], b[48], d1[32], d2[32];
    manifest_key_path(p, base, "restart");
    *r = (struct manifest_restart){.attempts = MANIFEST_DEFAULT_RESTART_ATTEMPTS,
                                   .interval_ms = MANIFEST_DEFAULT_RESTART_INTERVAL_MS,
                                   .delay_ms = MANIFEST_DEFAULT_RESTART_DELAY_MS,
                                   .mode = MANIFEST_RESTART_DELAY};
    if (!o)
        return 0;
    if (!json_is_object(o))
        return manifest_fail(err, p,
                             "must be an object such as {\"attempts\": 3, \"interval\": \"1m\", "
                             "\"delay\": \"500ms\", \"mode\": \"delay\"}, not %s",
                             manifest_type_name(o));
    bool interval_given, delay_given;
    if (manifest_check_keys(o, p, keys, err) ||
        manifest_get_uint(o, p, "attempts", 0, MANIFEST_MAX_RESTART_ATTEMPTS,
                          MANIFEST_DEFAULT_RESTART_ATTEMPTS, &r->attempts, err) ||
        manifest_get_duration(o, p, "interval", MANIFEST_DEFAULT_RESTART_INTERVAL_MS,
                              &r->interval_ms, &interval_given, err) ||
        manifest_get_duration(o, p, "delay", MANIFEST_DEFAULT_RESTART_DELAY_MS, &r->delay_ms,
                              &delay_given, err))
        return -1;
    char fp[MANIFEST_PATH_CAP];
    manifest_key_path(fp, p, interval_given ? "interval" : "delay");
    if (r->interval_ms <= r->delay_ms) {
        manifest_format_duration(r->interval_ms, d1, sizeof d1);
        manifest_format_duration(r->delay_ms, d2, sizeof d2);
        return manifest_fail(err, fp,
                             "interval (%s%s) must be longer than delay (%s%s): attempts are "
                             "counted within the interval",
                             d1, manifest_given_note(interval_given), d2,
                             manifest_given_note(delay_given));
    }
    const char *mode = NULL;
    manifest_key_path(fp, p, "mode");
    if (manifest_get_str(o, p, "mode", MANIFEST_STRING_MAX, "\"delay\" or \"fail\"", &mode, err) <
        0)
        return -1;
    if (mode && strcmp(mode, "delay") != 0 && strcmp(mode, "fail") != 0)
        return manifest_fail(err, fp,
                             "\"%s\" is not a mode; use \"delay\" (keep restarting at the longest "
                             "backoff) or \"fail\" (mark the service failed)",
                             manifest_show(mode, b));
    if (mode && strcmp(mode, "fail") == 0)
        r->mode = MANIFEST_RESTART_FAIL;
    return 0;
}

int manifest_parse_service(json_t *js, size_t i, struct manifest *m, struct manifest_error *err)
{
    static const char *const keys[] = {"name",     "driver",      "command", "args",   "env",
                                       "env_file", "working_dir", "port",    "health", "stop_grace",
                                       "user",     "restart",     NULL};
    struct manifest_service *s = &m->services[i];
    char base[MANIFEST_PATH_CAP], p[MANIFEST_PATH_CAP], b[48];
    manifest_index_path(base, "services", i);
    if (!json_is_object(js))
        return manifest_fail(
            err, base,
            "must be an object such as {\"name\": \"api\", \"command\": \"/usr/bin/api\"}"
            ", not %s",
            manifest_type_name(js));
    if (manifest_check_keys(js, base, keys, err) ||
        manifest_get_id(js, base, "name", "the service's name", s->name, err))
        return -1;
    for (size_t k = 0; k < i; k++) {
        if (strcmp(m->services[k].name, s->name) == 0) {
            manifest_key_path(p, base, "name");
            return manifest_fail(err, p, "duplicate service name \"%s\" (also services[%zu].name)",
                                 s->name, k);
        }
    }

    const char *str = NULL;
    manifest_key_path(p, base, "driver");
    if (manifest_get_str(js, base, "driver", MANIFEST_STRING_MAX, "a string such as \"process\"",
                         &str, err) < 0)
        return -1;
    if (str && strcmp(str, "process") != 0)
        return manifest_fail(err, p, "driver \"%s\" is not supported; supported drivers: process",
                             manifest_show(str, b));
    s->driver = MANIFEST_DRIVER_PROCESS;

    str = NULL;
    manifest_key_path(p, base, "command");
    int r = manifest_get_str(js, base, "command", MANIFEST_STRING_MAX, "a string", &str, err);
    if (r < 0)
        return -1;
    if (r == 0 || *str == '\0')
        return manifest_fail(
            err, p, "missing: the program to run, an absolute path or a name looked up in PATH");
    if (*str != '/' && strchr(str, '/'))
        return manifest_fail(
            err, p, "\"%s\" is a relative path; use an absolute path or a name looked up in PATH",
            manifest_show(str, b));
    if (*str != '/' && strpbrk(str, " \t"))
        return manifest_fail(err, p, "\"%s\" is not a command name; put its arguments in \"args\"",
                             manifest_show(str, b));
    if (manifest_dup(str, &s->command, p, err))
        return -1;

    if (parse_port(js, base, s, err) || parse_args(js, base, s, err) || parse_env(js, base, s, err))
        return -1;

    if (parse_path(js, base, "env_file", &s->env_file, err) ||
        parse_path(js, base, "working_dir", &s->working_dir, err) || parse_user(js, base, s, err))
        return -1;
    manifest_key_path(p, base, "env_file");
    if (s->env_file &&
        manifest_check_template(s->env_file, p, s->port_kind != MANIFEST_PORT_NONE, err))
        return -1;

    json_t *h = manifest_field(js, "health");
    manifest_key_path(p, base, "health");
    if (h && parse_health(h, p, s->port_kind != MANIFEST_PORT_NONE, &s->health, err))
        return -1;
    bool given;
    if (manifest_get_duration(js, base, "stop_grace", MANIFEST_DEFAULT_STOP_GRACE_MS,
                              &s->stop_grace_ms, &given, err))
        return -1;
    return parse_restart(js, base, &s->restart, err);
}
