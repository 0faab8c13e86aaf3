/* Release manifests: reading the fields of a parsed JSON document, with
 * the path of the field at fault in every error (manifest_int.h). */
#include "pipeline/core/manifest_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/base.h"

int manifest_fail(struct manifest_error *err, const char *path, const char *fmt, ...)
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

/* Appends at most max bytes of s to out (MANIFEST_PATH_CAP bytes, NUL-terminated);
 * a path that does not fit is cut short. */
static void path_put(char *out, const char *s, size_t max)
{
    size_t n = strlen(out);
    while (*s && max-- && n + 1 < MANIFEST_PATH_CAP)
        out[n++] = *s++;
    out[n] = '\0';
}

void manifest_key_path(char *out, const char *base, const char *key)
{
    out[0] = '\0';
    path_put(out, base, MANIFEST_PATH_CAP);
    if (*base)
        path_put(out, ".", 1);
    path_put(out, key, 64);
}

void manifest_index_path(char *out, const char *base, size_t i)
{
    char num[24];
    snprintf(num, sizeof num, "[%zu]", i);
    out[0] = '\0';
    path_put(out, base, MANIFEST_PATH_CAP);
    path_put(out, num, sizeof num);
}

/* A user's value quoted in a message: at most 40 bytes of it. */
const char *manifest_show(const char *v, char buf[48])
{
    size_t n = strlen(v);
    if (n <= 40)
        snprintf(buf, 48, "%s", v);
    else
        snprintf(buf, 48, "%.37s...", v);
    return buf;
}

const char *manifest_type_name(const json_t *v)
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
json_t *manifest_field(const json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return json_is_null(v) ? NULL : v;
}

int manifest_check_keys(json_t *obj, const char *base, const char *const known[],
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
        char list[256] = "", p[MANIFEST_PATH_CAP], b[48];
        for (k = 0; known[k]; k++) {
            size_t n = strlen(list);
            snprintf(list + n, sizeof list - n, "%s%s", k ? ", " : "", known[k]);
        }
        manifest_key_path(p, base, key);
        return manifest_fail(err, p, "unknown key \"%s\"; known keys here are %s",
                             manifest_show(key, b), list);
    }
    return 0;
}

/* 1 present, 0 absent, -1 error (also for a string over max bytes). */
int manifest_get_str(const json_t *obj, const char *base, const char *key, size_t max,
                     const char *expect, const char **out, struct manifest_error *err)
{
    json_t *v = manifest_field(obj, key);
    if (!v)
        return 0;
    char p[MANIFEST_PATH_CAP];
    manifest_key_path(p, base, key);
    if (!json_is_string(v))
        return manifest_fail(err, p, "must be %s, not %s", expect, manifest_type_name(v));
    if (json_string_length(v) > max)
        return manifest_fail(err, p, "%zu bytes is too long; at most %zu", json_string_length(v),
                             max);
    *out = json_string_value(v);
    return 1;
}

int manifest_get_id(const json_t *obj, const char *base, const char *key, const char *what,
                    char out[MANIFEST_ID_MAX], struct manifest_error *err)
{
    const char *s = NULL;
    char p[MANIFEST_PATH_CAP], b[48];
    manifest_key_path(p, base, key);
    int r = manifest_get_str(obj, base, key, (size_t)-1, "an id such as \"web\"", &s, err);
    if (r < 0)
        return -1;
    if (r == 0)
        return manifest_fail(err, p, "missing: %s, an id such as \"web\"", what);
    if (!ledger_valid_id(s, strlen(s)))
        return manifest_fail(
            err, p,
            "\"%s\" is not a valid id: 1-63 letters, digits, '.', '_' or '-', starting "
            "with a letter or digit",
            manifest_show(s, b));
    snprintf(out, MANIFEST_ID_MAX, "%s", s);
    return 0;
}

int manifest_get_duration(const json_t *obj, const char *base, const char *key, uint32_t def,
                          uint32_t *out, bool *given, struct manifest_error *err)
{
    json_t *v = manifest_field(obj, key);
    *out = def;
    *given = v != NULL;
    if (!v)
        return 0;
    char p[MANIFEST_PATH_CAP], why[64], b[48];
    manifest_key_path(p, base, key);
    if (json_is_integer(v)) {
        json_int_t x = json_integer_value(v);
        if (x < 0)
            return manifest_fail(err, p, "%" JSON_INTEGER_FORMAT " is negative; a duration is >= 0",
                                 x);
        if (x > (json_int_t)MANIFEST_MAX_DURATION_MS)
            return manifest_fail(err, p,
                                 "%" JSON_INTEGER_FORMAT " ms is too long; at most 24h (%u ms)", x,
                                 MANIFEST_MAX_DURATION_MS);
        *out = (uint32_t)x;
        return 0;
    }
    if (!json_is_string(v))
        return manifest_fail(
            err, p, "must be a duration such as \"10s\" or an integer of milliseconds, not %s",
            manifest_type_name(v));
    if (manifest_parse_duration(json_string_value(v), out, why, sizeof why) != 0)
        return manifest_fail(err, p,
                             "\"%s\" is not a duration (%s); use e.g. \"500ms\", \"10s\", \"2m\", "
                             "\"1h\", \"1m30s\" or an integer of milliseconds",
                             manifest_show(json_string_value(v), b), why);
    return 0;
}

int manifest_get_uint(const json_t *obj, const char *base, const char *key, uint32_t lo,
                      uint32_t hi, uint32_t def, uint32_t *out, struct manifest_error *err)
{
    json_t *v = manifest_field(obj, key);
    *out = def;
    if (!v)
        return 0;
    char p[MANIFEST_PATH_CAP];
    manifest_key_path(p, base, key);
    if (!json_is_integer(v))
        return manifest_fail(err, p, "must be an integer %u..%u, not %s", lo, hi,
                             manifest_type_name(v));
    json_int_t x = json_integer_value(v);
    if (x < lo || x > hi)
        return manifest_fail(err, p, "%" JSON_INTEGER_FORMAT " is out of range; allowed: %u..%u", x,
                             lo, hi);
    *out = (uint32_t)x;
    return 0;
}

int manifest_dup(const char *s, char **out, const char *path, struct manifest_error *err)
{
    *out = strdup(s);
    return *out ? 0 : manifest_fail(err, path, "out of memory");
}

/* Variables are checked at parse time; nothing is expanded. */
int manifest_check_template(const char *s, const char *path, bool has_port,
                            struct manifest_error *err)
{
    const struct manifest_vars v = {"node", "name", "version", has_port ? 1u : 0u};
    struct manifest_error e;
    if (manifest_expand(s, &v, NULL, 0, &e) != 0)
        return manifest_fail(err, path, "%s", e.message);
    return 0;
}

const char *manifest_given_note(bool given)
{
    return given ? "" : ", the default";
}
