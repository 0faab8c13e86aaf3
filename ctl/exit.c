/* chimeractl's exit codes and its --addr list: pure functions, no I/O.
 *
 * Every command reports an outcome; ctl_exit_code is the only place that
 * turns one into a number, so that one table (README "Exit codes") holds
 * for every command. deploy and rollback keep the 2 they documented for a
 * request the node refused before doing anything. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/ctl.h"

int ctl_exit_code(enum ctl_family fam, enum ctl_outcome oc)
{
    switch (oc) {
    case CTL_O_OK:
        return CTL_OK;
    case CTL_O_FAILED:
        return CTL_FAILED;
    case CTL_O_USAGE:
        return CTL_USAGE;
    case CTL_O_NO_ANSWER:
        return CTL_CANNOT_CONNECT;
    case CTL_O_AUTH:
        return CTL_AUTH;
    case CTL_O_NOT_FOUND:
        return fam == CTL_FAM_ROLLBACK ? CTL_USAGE : CTL_NOT_FOUND;
    case CTL_O_CONFLICT:
        return fam == CTL_FAM_COMMON ? CTL_CONFLICT : CTL_USAGE;
    case CTL_O_INVALID:
        return fam == CTL_FAM_DEPLOY ? CTL_DEPLOY_REJECTED : CTL_SERVER;
    case CTL_O_UNAVAILABLE:
        return CTL_UNAVAILABLE;
    case CTL_O_SERVER:
        return CTL_SERVER;
    case CTL_O_REVERTED:
        return CTL_DEPLOY_REVERTED;
    case CTL_O_TIMEOUT:
        return CTL_TIMEOUT;
    }
    return CTL_FAILED;
}

enum ctl_outcome ctl_outcome_of_status(long status)
{
    if (status >= 200 && status < 300)
        return CTL_O_OK;
    switch (status) {
    case 400:
    case 422:
        return CTL_O_INVALID;
    case 401:
    case 403:
        return CTL_O_AUTH;
    case 404:
        return CTL_O_NOT_FOUND;
    case 409:
        return CTL_O_CONFLICT;
    case 503:
        return CTL_O_UNAVAILABLE;
    default:
        return CTL_O_SERVER;
    }
}

/* ---- --addr ----------------------------------------------------------- */

static int bad(char *err, size_t errlen, const char *item, size_t len, const char *why)
{
    snprintf(err, errlen, "'%.*s': %s", (int)len, item, why);
    return -1;
}

/* One item of the list, [p, p+len): into *e when e is not NULL. */
static int parse_one(const char *p, size_t len, struct ctl_endpoint *e, char *err, size_t errlen)
{
    const char *item = p, *end = p + len;
    const char *scheme_end = NULL;
    for (const char *q = p; q + 2 < end; q++)
        if (q[0] == ':' && q[1] == '/' && q[2] == '/') {
            scheme_end = q;
            break;
        }
    bool https = false;
    if (scheme_end) {
        size_t sl = (size_t)(scheme_end - p);
        if (sl == 4 && strncasecmp(p, "http", 4) == 0)
            https = false;
        else if (sl == 5 && strncasecmp(p, "https", 5) == 0)
            https = true;
        else
            return bad(err, errlen, item, len, "the scheme must be http:// or https://");
        p = scheme_end + 3;
    }
    /* host[:port][/prefix]; a prefix only with a scheme (a proxy). */
    const char *slash = memchr(p, '/', (size_t)(end - p));
    const char *hp_end = slash ? slash : end;
    if (slash && !scheme_end)
        return bad(err, errlen, item, len,
                   "a path needs a full URL (http://HOST:PORT/prefix); use HOST:PORT");
    const char *host = p, *host_end, *port = NULL;
    if (*p == '[') {
        const char *rb = memchr(p, ']', (size_t)(hp_end - p));
        if (!rb)
            return bad(err, errlen, item, len, "an IPv6 address needs its closing ']'");
        host_end = rb + 1;
        if (host_end < hp_end && *host_end != ':')
            return bad(err, errlen, item, len, "expected ':PORT' after ']'");
        if (host_end == p + 2)
            return bad(err, errlen, item, len, "empty host");
    } else {
        host_end = memchr(p, ':', (size_t)(hp_end - p));
        if (!host_end)
            host_end = hp_end;
    }
    if (host_end < hp_end)
        port = host_end + 1;
    if (host_end == host)
        return bad(err, errlen, item, len, "empty host (expected HOST:PORT)");
    for (const char *q = host; q < host_end; q++)
        if (isspace((unsigned char)*q) || *q == '@' || *q == '?' || *q == '#')
            return bad(err, errlen, item, len, "not a host name or address");
    long portnum = https ? 443 : 80;
    if (!port && !scheme_end)
        return bad(err, errlen, item, len,
                   "missing port (expected HOST:PORT, e.g. 127.0.0.1:8101)");
    if (port) {
        size_t pl = (size_t)(hp_end - port);
        if (pl == 0)
            return bad(err, errlen, item, len, "empty port (expected HOST:PORT)");
        portnum = 0;
        for (const char *q = port; q < hp_end; q++) {
            if (!isdigit((unsigned char)*q))
                return bad(err, errlen, item, len, "the port must be a number from 1 to 65535");
            portnum = portnum * 10 + (*q - '0');
            if (portnum > 65535)
                break;
        }
        if (portnum < 1 || portnum > 65535)
            return bad(err, errlen, item, len, "the port must be a number from 1 to 65535");
    }
    if (e) {
        size_t tail = (size_t)(end - p);
        while (tail > 0 && p[tail - 1] == '/')
            tail--;
        if (!port)
            snprintf(e->base, sizeof e->base, "%s://%.*s:%ld%.*s", https ? "https" : "http",
                     (int)(host_end - host), host, portnum, (int)(end - hp_end), hp_end);
        else
            snprintf(e->base, sizeof e->base, "%s://%.*s", https ? "https" : "http", (int)tail, p);
        size_t bl = strlen(e->base);
        while (bl > 0 && e->base[bl - 1] == '/')
            e->base[--bl] = '\0';
        snprintf(e->shown, sizeof e->shown, "%.*s", (int)len, item);
    }
    return 0;
}

const char *ctl_base_url(const char *addr, char *out, size_t len)
{
    snprintf(out, len, "%s%s", strstr(addr, "://") ? "" : "http://", addr);
    return out;
}

const char *ctl_addr_text(const struct ctl_opts *o, const char *addr, char *out, size_t len)
{
    const char *rest = strncasecmp(addr, "http://", 7) == 0 ? addr + 7 : NULL;
    if (!strchr(addr, ':')) /* "-", "?": no address to write */
        snprintf(out, len, "%s", addr);
    else if (o->addr && strstr(o->addr, "://"))
        ctl_base_url(addr, out, len);
    else if (rest && !strchr(rest, '/'))
        snprintf(out, len, "%s", rest);
    else
        snprintf(out, len, "%s", addr);
    return out;
}

int ctl_parse_endpoints(const char *list, struct ctl_endpoint *out, size_t max, char *err,
                        size_t errlen)
{
    if (!list || !*list) {
        snprintf(err, errlen, "no address given (expected HOST:PORT[,HOST:PORT...])");
        return -1;
    }
    size_t n = 0;
    const char *p = list;
    for (;;) {
        const char *comma = strchr(p, ',');
        const char *end = comma ? comma : p + strlen(p);
        while (p < end && isspace((unsigned char)*p))
            p++;
        const char *e = end;
        while (e > p && isspace((unsigned char)e[-1]))
            e--;
        if (e == p) {
            snprintf(err, errlen, "an empty item in the list '%s' (expected HOST:PORT,...)", list);
            return -1;
        }
        if (n == max) {
            snprintf(err, errlen, "more than %zu addresses", max);
            return -1;
        }
        if (parse_one(p, (size_t)(e - p), out ? &out[n] : NULL, err, errlen) != 0)
            return -1;
        n++;
        if (!comma)
            break;
        p = comma + 1;
    }
    return (int)n;
}
