/* Env files: parsing (see env_file.h). Pure: bytes in, entries out. */
#include "pipeline/core/env_file.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

__attribute__((format(printf, 3, 4))) static int fail(struct envfile_error *err, size_t line,
                                                      const char *fmt, ...)
{
    char what[sizeof err->message - 32]; /* room for "line N: " */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    err->line = line;
    if (line)
        snprintf(err->message, sizeof err->message, "line %zu: %s", line, what);
    else
        snprintf(err->message, sizeof err->message, "%s", what);
    return -1;
}

static bool blank(char c)
{
    return c == ' ' || c == '\t';
}

static bool name_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

static const char *skip_blank(const char *p, const char *end)
{
    while (p < end && blank(*p))
        p++;
    return p;
}

/* The value of a line, from p (after the '=' and its blanks) to end. */
static int parse_value(const char *p, const char *end, size_t line, const char **v, size_t *vlen,
                       struct envfile_error *err)
{
    if (p < end && (*p == '\'' || *p == '"')) {
        const char *close = memchr(p + 1, *p, (size_t)(end - p - 1));
        if (!close)
            return fail(err, line, "unterminated %s quote (a value ends on its line)",
                        *p == '"' ? "double" : "single");
        const char *after = skip_blank(close + 1, end);
        if (after < end && *after != '#')
            return fail(err, line, "unexpected text after the closing quote");
        *v = p + 1;
        *vlen = (size_t)(close - p - 1);
        return 0;
    }
    const char *stop = end;
    for (const char *c = p; c < end; c++)
        if (*c == '#' && c > p && blank(c[-1])) {
            stop = c; /* "value # note" */
            break;
        }
    while (stop > p && blank(stop[-1]))
        stop--;
    *v = p;
    *vlen = (size_t)(stop - p);
    return 0;
}

static int add(struct envfile *f, const char *name, size_t nlen, const char *v, size_t vlen,
               size_t line, struct envfile_error *err)
{
    for (size_t i = 0; i < f->n; i++)
        if (f->e[i].name_len == nlen && memcmp(f->e[i].kv, name, nlen) == 0)
            return fail(err, line, "the variable of line %zu is set again", f->e[i].line);
    if (f->n == ENVFILE_MAX_ENTRIES)
        return fail(err, line, "more than %d variables", ENVFILE_MAX_ENTRIES);
    char *kv = malloc(nlen + 1 + vlen + 1);
    if (!kv)
        return fail(err, 0, "out of memory");
    memcpy(kv, name, nlen);
    kv[nlen] = '=';
    memcpy(kv + nlen + 1, v, vlen);
    kv[nlen + 1 + vlen] = '\0';
    f->e[f->n++] = (struct envfile_entry){kv, nlen, line};
    return 0;
}

static int parse_line(struct envfile *f, const char *p, const char *end, size_t line,
                      struct envfile_error *err)
{
    if (memchr(p, '\0', (size_t)(end - p)))
        return fail(err, line, "a NUL byte; an env file is text");
    if (end > p && end[-1] == '\r')
        end--;
    p = skip_blank(p, end);
    if (p == end || *p == '#')
        return 0;
    if ((size_t)(end - p) > 6 && memcmp(p, "export", 6) == 0 && blank(p[6]))
        p = skip_blank(p + 6, end);
    const char *name = p;
    while (p < end && name_char(*p))
        p++;
    size_t nlen = (size_t)(p - name);
    p = skip_blank(p, end);
    if (nlen == 0 && p < end && *p == '=')
        return fail(err, line, "no variable name before '='");
    if (p == end && nlen > 0)
        return fail(err, line, "expected NAME=value");
    if (nlen == 0 || *p != '=' || (name[0] >= '0' && name[0] <= '9'))
        return fail(err, line,
                    "invalid variable name: letters, digits and '_', not starting with a digit");
    if (nlen > ENVFILE_NAME_MAX)
        return fail(err, line, "variable name longer than %d bytes", ENVFILE_NAME_MAX);
    const char *v = NULL;
    size_t vlen = 0;
    if (parse_value(skip_blank(p + 1, end), end, line, &v, &vlen, err))
        return -1;
    if (vlen > ENVFILE_VALUE_MAX)
        return fail(err, line, "value longer than %d bytes", ENVFILE_VALUE_MAX);
    return add(f, name, nlen, v, vlen, line, err);
}

int envfile_parse(const char *buf, size_t len, struct envfile *out, struct envfile_error *err)
{
    memset(out, 0, sizeof *out);
    memset(err, 0, sizeof *err);
    if (len > ENVFILE_MAX_BYTES)
        return fail(err, 0, "%zu bytes; an env file holds at most %u (64 KiB)", len,
                    ENVFILE_MAX_BYTES);
    out->e = calloc(ENVFILE_MAX_ENTRIES, sizeof *out->e);
    if (!out->e)
        return fail(err, 0, "out of memory");
    const char *p = buf ? buf : "", *end = p + (buf ? len : 0);
    for (size_t line = 1; p < end; line++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *eol = nl ? nl : end;
        if (parse_line(out, p, eol, line, err)) {
            envfile_free(out);
            return -1;
        }
        p = nl ? nl + 1 : end;
    }
    return 0;
}

void envfile_free(struct envfile *f)
{
    if (!f)
        return;
    for (size_t i = 0; f->e && i < f->n; i++) {
        sodium_memzero(f->e[i].kv, strlen(f->e[i].kv));
        free(f->e[i].kv);
    }
    free(f->e);
    memset(f, 0, sizeof *f);
}

size_t envfile_merge(const struct envfile *f, const char **env, size_t k, size_t cap)
{
    size_t given = k;
    for (size_t i = 0; i < f->n && k < cap; i++) {
        const struct envfile_entry *en = &f->e[i];
        bool taken = false;
        for (size_t j = 0; j < given && !taken; j++)
            taken = strncmp(env[j], en->kv, en->name_len + 1) == 0;
        if (!taken)
            env[k++] = en->kv;
    }
    return k;
}
