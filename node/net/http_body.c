/* The request helpers of the public API that touch no connection: the
 * JSON body's parse and check, and the query string's parameters. Pure
 * (jansson only): unit tests and the body parse off the loop use them. */
#include "node/net/http.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void http_show_key(const char *key, size_t len, char *out, size_t cap)
{
    size_t k = 0;
    for (; k < len && k + 4 < cap; k++)
        out[k] = key[k] >= ' ' && key[k] < 0x7f ? key[k] : '?';
    if (k < len) {
        memcpy(out + k, "...", 3);
        k += 3;
    }
    out[k] = '\0';
}

static json_t *refuse_body(struct http_body_error *e, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static json_t *refuse_body(struct http_body_error *e, const char *path, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
    va_end(ap);
    /* One line, whatever the body held: jansson quotes the text near a
     * syntax error as it came, control characters included. */
    for (char *c = e->msg; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            *c = '?';
    snprintf(e->path, sizeof(e->path), "%s", path);
    return NULL;
}

json_t *http_body_parse(const void *data, size_t len, const char *const known[], const char *expect,
                        struct http_body_error *e)
{
    if (len == 0)
        return refuse_body(e, "", "empty body: expected %s", expect);
    json_error_t je;
    json_t *body = json_loadb(data, len, JSON_REJECT_DUPLICATES, &je);
    if (!body && je.line > 0)
        return refuse_body(e, "", "body: not JSON: %s (line %d, column %d); expected %s", je.text,
                           je.line, je.column, expect);
    if (!body)
        return refuse_body(e, "", "body: not JSON: %s; expected %s", je.text, expect);
    if (!json_is_object(body)) {
        json_decref(body);
        return refuse_body(e, "", "body: not a JSON object; expected %s", expect);
    }
    const char *key;
    json_t *v;
    json_object_foreach(body, key, v)
    {
        size_t k = 0;
        while (known[k] && strcmp(known[k], key) != 0)
            k++;
        if (known[k])
            continue;
        char list[256] = "", shown[68];
        for (k = 0; known[k]; k++) {
            size_t n = strlen(list);
            snprintf(list + n, sizeof(list) - n, "%s\"%s\"", k ? ", " : "", known[k]);
        }
        http_show_key(key, strlen(key), shown, sizeof(shown));
        json_decref(body);
        return refuse_body(e, shown, "unknown key \"%s\"; known keys here are %s (expected %s)",
                           shown, list, expect);
    }
    return body;
}

int http_query_param(const char *query, const char *name, char *buf, size_t buflen)
{
    size_t nlen = strlen(name);
    for (const char *p = query; p && *p;) {
        const char *end = strchr(p, '&');
        size_t plen = end ? (size_t)(end - p) : strlen(p);
        if (plen >= nlen && strncmp(p, name, nlen) == 0 && (plen == nlen || p[nlen] == '=')) {
            const char *v = plen == nlen ? p + plen : p + nlen + 1;
            size_t vlen = plen - (size_t)(v - p);
            if (vlen >= buflen)
                vlen = buflen - 1;
            memcpy(buf, v, vlen);
            buf[vlen] = '\0';
            return 1;
        }
        p = end ? end + 1 : NULL;
    }
    return 0;
}
