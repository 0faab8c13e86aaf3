/* The listener's pure decisions on a request's headers: whether its body
 * is read (http_head_verdict), the admin token's check and the CORS origins'. No libuv, no
 * parser: unit tests link this file alone. */
#include "node/net/http.h"

#include <ctype.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

int http_head_verdict(const struct http_head *h, const char *token, bool *send_continue, char *msg,
                      size_t msglen)
{
    *send_continue = false;
    if (h->transfer_encoding) {
        snprintf(msg, msglen,
                 "a chunked request body (Transfer-Encoding) is not accepted: send the body with "
                 "a Content-Length header");
        return 411;
    }
    bool cont = *h->expect && strcasecmp(h->expect, "100-continue") == 0;
    if (*h->expect && !cont) {
        char shown[41];
        size_t k = 0;
        for (; h->expect[k] && k < sizeof(shown) - 1; k++) /* JSON-safe */
            shown[k] = h->expect[k] >= ' ' && h->expect[k] <= '~' ? h->expect[k] : '?';
        shown[k] = '\0';
        snprintf(msg, msglen, "Expect: \"%s\" is not supported (only 100-continue is)", shown);
        return 417;
    }
    if (h->length > HTTP_MAX_BODY) {
        snprintf(msg, msglen, "the request body is %llu bytes; at most %u are accepted",
                 (unsigned long long)h->length, HTTP_MAX_BODY);
        return 413;
    }
    const char *given = http_bearer_token(h->auth);
    if (h->length > HTTP_MAX_UNAUTH_BODY && !(given && http_token_equal(given, token))) {
        snprintf(msg, msglen,
                 "the request body is %llu bytes; without the admin token "
                 "(\"Authorization: Bearer <admin token>\") at most %u are read",
                 (unsigned long long)h->length, HTTP_MAX_UNAUTH_BODY);
        return 413;
    }
    *send_continue = cont && h->length > 0 && h->http11;
    return 0;
}

const char *http_bearer_token(const char *auth)
{
    static const char scheme[] = "Bearer";
    size_t n = sizeof(scheme) - 1;
    if (strncasecmp(auth, scheme, n) != 0 || auth[n] != ' ')
        return NULL;
    return auth + n + strspn(auth + n, " ");
}

bool http_token_equal(const char *given, const char *token)
{
    size_t tlen = strlen(token);
    return tlen && strlen(given) == tlen && sodium_memcmp(given, token, tlen) == 0;
}

/* What an origin (RFC 6454 serialized) may hold: scheme, host, port. A
 * header with anything else is never echoed back. */
static bool origin_chars(const char *s)
{
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr(":/.-[]_", *s))
            return false;
    return true;
}

bool http_cors_allowed(const char *list, const char *origin)
{
    size_t olen = strlen(origin);
    if (!list || !olen || !origin_chars(origin))
        return false;
    for (const char *p = list; *p;) {
        p += strspn(p, " ,");
        size_t n = strcspn(p, ","), k = n;
        while (k && p[k - 1] == ' ')
            k--;
        if ((k == 1 && p[0] == '*') || (k == olen && strncasecmp(p, origin, k) == 0))
            return true;
        p += n;
    }
    return false;
}

bool http_etag_matches(const char *if_none_match, const char *etag)
{
    if (!if_none_match || !etag)
        return false;
    size_t elen = strlen(etag);
    const char *p = if_none_match;
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        if (!*p)
            return false;
        if (*p == '*')
            return true;
        if (strncmp(p, "W/", 2) == 0)
            p += 2;
        const char *end = *p == '"' ? strchr(p + 1, '"') : NULL;
        if (!end) /* not an entity tag: skip to the next one */
            end = p + strcspn(p, ",") - 1;
        else if ((size_t)(end + 1 - p) == elen && memcmp(p, etag, elen) == 0)
            return true;
        p = end + 1;
    }
}
