/* Release manifests: durations, variable expansion, the digest, the
 * normalised JSON form and manifest_free. Parsing and validation are in
 * manifest.c. */
#include "pipeline/core/manifest.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

/* ---- durations ---- */

static const struct {
    const char *name;
    uint32_t ms;
} units[] = {{"ms", 1}, {"s", 1000}, {"m", 60 * 1000}, {"h", 3600 * 1000}};

int manifest_parse_duration(const char *s, uint32_t *ms, char *why, size_t whylen)
{
    const char *p = s;
    uint64_t total = 0;
    if (*p == '\0') {
        snprintf(why, whylen, "empty");
        return -1;
    }
    if (*p == '-') {
        snprintf(why, whylen, "negative");
        return -1;
    }
    if (strcmp(p, "0") == 0) {
        *ms = 0;
        return 0;
    }
    while (*p) {
        uint64_t whole = 0, frac = 0, scale = 1;
        int digits = 0;
        while (*p >= '0' && *p <= '9') {
            if (whole > MANIFEST_MAX_DURATION_MS) {
                snprintf(why, whylen, "too long; at most 24h");
                return -1;
            }
            whole = whole * 10 + (uint64_t)(*p++ - '0');
            digits++;
        }
        if (*p == '.') {
            p++;
            while (*p >= '0' && *p <= '9') {
                if (scale < 1000000000u) { /* digits beyond 9 cannot make whole ms */
                    frac = frac * 10 + (uint64_t)(*p - '0');
                    scale *= 10;
                } else if (*p != '0') {
                    snprintf(why, whylen, "not a whole number of milliseconds");
                    return -1;
                }
                p++;
                digits++;
            }
        }
        if (digits == 0) {
            snprintf(why, whylen, "expected a number at \"%.16s\"", p);
            return -1;
        }
        size_t ulen = 0;
        while (p[ulen] && !(p[ulen] >= '0' && p[ulen] <= '9') && p[ulen] != '.')
            ulen++;
        if (ulen == 0) {
            snprintf(why, whylen, "missing unit");
            return -1;
        }
        uint32_t unit = 0;
        for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
            if (strlen(units[i].name) == ulen && memcmp(units[i].name, p, ulen) == 0)
                unit = units[i].ms;
        if (unit == 0) {
            snprintf(why, whylen, "unknown unit \"%.*s\"", (int)(ulen > 8 ? 8 : ulen), p);
            return -1;
        }
        p += ulen;
        uint64_t fpart = frac * unit;
        if (fpart % scale != 0) {
            snprintf(why, whylen, "not a whole number of milliseconds");
            return -1;
        }
        total += whole * unit + fpart / scale;
        if (total > MANIFEST_MAX_DURATION_MS) {
            snprintf(why, whylen, "too long; at most 24h");
            return -1;
        }
    }
    *ms = (uint32_t)total;
    return 0;
}

void manifest_format_duration(uint32_t ms, char *out, size_t cap)
{
    if (ms == 0) {
        snprintf(out, cap, "0ms"); /* in the unit of the "3ms" beside it in a report */
        return;
    }
    uint32_t h = ms / 3600000u, m = ms / 60000u % 60u, s = ms / 1000u % 60u, r = ms % 1000u;
    size_t n = 0;
    out[0] = '\0';
#define PUT(v, u)                                                                                  \
    do {                                                                                           \
        if ((v) && n < cap)                                                                        \
            n += (size_t)snprintf(out + n, cap - n, "%" PRIu32 u, (v));                            \
    } while (0)
    PUT(h, "h");
    PUT(m, "m");
    PUT(s, "s");
    PUT(r, "ms");
#undef PUT
}

const char *manifest_duration_text(uint64_t ms, char *out, size_t cap)
{
    manifest_format_duration(ms > UINT32_MAX ? UINT32_MAX : (uint32_t)ms, out, cap);
    return out;
}

/* ---- variables ---- */

static int expand_fail(struct manifest_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int expand_fail(struct manifest_error *err, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        err->path[0] = '\0';
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
        for (char *c = err->message; *c; c++)
            if ((unsigned char)*c < 0x20 || *c == 0x7f)
                *c = '?'; /* one line, whatever the template held */
    }
    return -1;
}

#define VARIABLES "variables are ${PORT}, ${NODE}, ${NAME}, ${VERSION} (\"$$\" for a literal \"$\")"

int manifest_expand(const char *tmpl, const struct manifest_vars *vars, char *out, size_t cap,
                    struct manifest_error *err)
{
    size_t n = 0;  /* bytes of the result so far */
    char port[12]; /* ${PORT}'s text: outlives the piece that points to it */
    const char *p = tmpl;
    if (out && cap)
        out[0] = '\0'; /* what an error leaves */
    while (*p) {
        const char *piece = p;
        size_t plen = 1;
        if (p[0] == '$' && p[1] == '$') {
            p += 2;
        } else if (p[0] == '$' && p[1] == '{') {
            const char *name = p + 2, *end = strchr(name, '}');
            if (!end)
                return expand_fail(err, "unterminated \"${\"; " VARIABLES);
            size_t nlen = (size_t)(end - name);
            p = end + 1;
            const char *val = NULL;
            if (nlen == 4 && memcmp(name, "PORT", 4) == 0) {
                if (vars->port == 0)
                    return expand_fail(err, "${PORT} needs a port: set the service's \"port\" to "
                                            "\"auto\" or a number");
                snprintf(port, sizeof port, "%" PRIu32, vars->port);
                val = port;
            } else if (nlen == 4 && memcmp(name, "NODE", 4) == 0) {
                val = vars->node;
            } else if (nlen == 4 && memcmp(name, "NAME", 4) == 0) {
                val = vars->name;
            } else if (nlen == 7 && memcmp(name, "VERSION", 7) == 0) {
                val = vars->version;
            } else {
                return expand_fail(err, "unknown variable ${%.*s}; " VARIABLES,
                                   (int)(nlen > 32 ? 32 : nlen), name);
            }
            if (!val)
                return expand_fail(err, "no value for ${%.*s}", (int)nlen, name);
            piece = val;
            plen = strlen(val);
        } else {
            p++;
        }
        if (out && n + plen < cap)
            memcpy(out + n, piece, plen);
        n += plen;
    }
    if (!out)
        return 0; /* only checking */
    if (n >= cap) {
        if (err) {
            err->path[0] = '\0';
            snprintf(err->message, sizeof err->message, "expands to %zu bytes; at most %zu fit", n,
                     cap ? cap - 1 : 0);
        }
        if (out && cap)
            out[0] = '\0';
        return -1;
    }
    out[n] = '\0';
    return 0;
}

/* ---- memory ---- */

void manifest_free(struct manifest *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->nservices && i < MANIFEST_MAX_SERVICES; i++) {
        struct manifest_service *s = &m->services[i];
        free(s->command);
        for (size_t k = 0; k < s->nargs; k++)
            free(s->args[k]);
        free(s->args);
        for (size_t k = 0; k < s->nenv; k++) {
            free(s->env[k].name);
            free(s->env[k].value);
        }
        free(s->env);
        free(s->env_file);
        free(s->working_dir);
        free(s->user);
        free(s->health.url);
    }
    memset(m, 0, sizeof *m);
}

/* ---- digest ---- */

void manifest_digest(const void *json, size_t len, uint8_t out[MANIFEST_DIGEST_BYTES])
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, MANIFEST_DIGEST_BYTES);
    crypto_generichash_update(&st, (const uint8_t *)MANIFEST_DIGEST_TAG,
                              sizeof(MANIFEST_DIGEST_TAG) - 1);
    crypto_generichash_update(&st, json, len);
    crypto_generichash_final(&st, out, MANIFEST_DIGEST_BYTES);
}

/* ---- normalised JSON ---- */

static int put(json_t *obj, const char *key, json_t *v)
{
    return v ? json_object_set_new(obj, key, v) : -1;
}

static json_t *service_json(const struct manifest_service *s)
{
    json_t *o = json_object(), *args = json_array(), *env = json_object();
    int bad = !o || !args || !env;
    for (size_t i = 0; !bad && i < s->nargs; i++)
        bad = json_array_append_new(args, json_string(s->args[i])) != 0;
    for (size_t i = 0; !bad && i < s->nenv; i++)
        bad = put(env, s->env[i].name, json_string(s->env[i].value)) != 0;
    json_t *port = s->port_kind == MANIFEST_PORT_AUTO    ? json_string("auto")
                   : s->port_kind == MANIFEST_PORT_FIXED ? json_integer(s->port)
                                                         : json_null();
    json_t *health = json_null();
    if (s->health.enabled) {
        json_decref(health);
        health = json_pack("{s:s, s:I, s:I, s:I, s:I}", "url", s->health.url, "interval",
                           (json_int_t)s->health.interval_ms, "timeout",
                           (json_int_t)s->health.timeout_ms, "healthy_threshold",
                           (json_int_t)s->health.healthy_threshold, "unhealthy_threshold",
                           (json_int_t)s->health.unhealthy_threshold);
    }
    if (bad) {
        json_decref(port);
        json_decref(health);
        json_decref(args);
        json_decref(env);
        json_decref(o);
        return NULL;
    }
    bad |= put(o, "name", json_string(s->name));
    bad |= put(o, "driver", json_string("process"));
    bad |= put(o, "command", json_string(s->command));
    bad |= put(o, "args", args);
    bad |= put(o, "env", env);
    bad |= put(o, "env_file", s->env_file ? json_string(s->env_file) : json_null());
    bad |= put(o, "working_dir", s->working_dir ? json_string(s->working_dir) : json_null());
    bad |= put(o, "user", s->user ? json_string(s->user) : json_null());
    bad |= put(o, "port", port);
    bad |= put(o, "health", health);
    bad |= put(o, "stop_grace", json_integer(s->stop_grace_ms));
    bad |= put(o, "restart",
               json_pack("{s:I, s:I, s:I, s:s}", "attempts", (json_int_t)s->restart.attempts,
                         "interval", (json_int_t)s->restart.interval_ms, "delay",
                         (json_int_t)s->restart.delay_ms, "mode",
                         s->restart.mode == MANIFEST_RESTART_FAIL ? "fail" : "delay"));
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

json_t *manifest_to_json(const struct manifest *m)
{
    json_t *services = json_array();
    for (size_t i = 0; services && i < m->nservices; i++) {
        if (json_array_append_new(services, service_json(&m->services[i])) != 0) {
            json_decref(services);
            return NULL;
        }
    }
    if (!services)
        return NULL;
    const struct manifest_rollout *r = &m->rollout;
    return json_pack("{s:s, s:s, s:s, s:o, s:{s:I, s:I, s:I, s:I, s:b}}", "name", m->name,
                     "version", m->version, "description", m->description, "services", services,
                     "rollout", "max_parallel", (json_int_t)r->max_parallel, "min_healthy_time",
                     (json_int_t)r->min_healthy_time_ms, "healthy_deadline",
                     (json_int_t)r->healthy_deadline_ms, "progress_deadline",
                     (json_int_t)r->progress_deadline_ms, "auto_revert", (int)r->auto_revert);
}
