/* The settings' text parsed and checked into struct config (config_int.h):
 * defaults first, then each value, then the rules between settings. Every
 * error names the flag, variable or file key the operator used. */
#include "node/base/config_err.h"
#include "node/base/config_int.h"
#include "chaos/watchtower.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ID_RULE "use 1 to 63 letters, digits, '.', '_' or '-', starting with a letter or digit"
#define URL_FIX "use tcp://HOST:PORT or ipc:///PATH"

static bool valid_id(const char *s, size_t n)
{
    if (n == 0 || n >= CONFIG_ID_MAX || !isalnum((unsigned char)s[0]))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && !strchr("._-", s[i]))
            return false;
    return true;
}

static bool parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *out)
{
    uint64_t v = 0;
    for (const char *p = s; *p; p++) {
        if (!isdigit((unsigned char)*p) || (v = v * 10 + (uint64_t)(*p - '0')) > max)
            return false;
    }
    if (!*s || v < min)
        return false;
    *out = (uint32_t)v;
    return true;
}

/* Returns NULL when s is HOST:PORT (or [IPV6]:PORT), else what is wrong with it. */
static const char *check_hostport(const char *s)
{
    const char *colon = strrchr(s, ':');
    uint32_t port;
    if (s[0] == '[') {
        const char *rb = strchr(s, ']');
        if (!rb || rb == s + 1 || rb[1] != ':')
            return rb ? "missing host or :PORT" : "missing ']' after the IPv6 address";
    } else {
        if (!colon)
            return "missing :PORT";
        if (colon == s)
            return "missing host";
        if (memchr(s, ':', (size_t)(colon - s)))
            return "IPv6 addresses need brackets, e.g. [::1]:7100";
        for (const char *p = s; p < colon; p++)
            if (!isalnum((unsigned char)*p) && !strchr(".-_", *p))
                return "bad character in host";
    }
    return parse_u32(colon + 1, 1, 65535, &port) ? NULL : "port must be 1 to 65535";
}

/* NNG URLs this runtime can use: tcp needs a host and a port to dial. */
static const char *check_url(const char *u)
{
    static const char *const tcp[] = {"tcp://", "tcp4://", "tcp6://"};
    if (strncmp(u, "ipc://", 6) == 0)
        return u[6] ? NULL : "ipc:// needs a path";
    for (size_t i = 0; i < sizeof tcp / sizeof tcp[0]; i++) {
        size_t n = strlen(tcp[i]);
        if (strncmp(u, tcp[i], n) == 0)
            return strchr(u + n, '/') ? "no path allowed after the port" : check_hostport(u + n);
    }
    return "scheme must be tcp://, tcp4://, tcp6:// or ipc://";
}

static bool parse_bool(const char *s, bool *out)
{
    static const char *const words[] = {"false", "true", "0", "1", "no", "yes"};
    for (size_t i = 0; i < 6; i++)
        if (strcasecmp(s, words[i]) == 0)
            return *out = i % 2, true;
    return false;
}

static enum config_result add_member(struct loader *ld, struct config *c, const char *id,
                                     size_t idn, const char *url, size_t urln)
{
    int ei = (int)(idn < 200 ? idn : 200), eu = (int)(urln < 300 ? urln : 300);
    if (c->nmembers == CONFIG_MAX_MEMBERS)
        return config__fail(ld, O_PEERS, "more than %d members; a federation has at most %d",
                            CONFIG_MAX_MEMBERS, CONFIG_MAX_MEMBERS);
    if (!valid_id(id, idn))
        return config__fail(ld, O_PEERS, "\"%.*s=%.*s\": bad member id \"%.*s\"; " ID_RULE, ei, id,
                            eu, url, ei, id);
    struct config_member *m = &c->members[c->nmembers];
    memcpy(m->id, id, idn);
    m->id[idn] = '\0';
    if (urln >= CONFIG_URL_MAX)
        return config__fail(ld, O_PEERS, "URL of member %s is %zu bytes; at most %d allowed", m->id,
                            urln, CONFIG_URL_MAX - 1);
    memcpy(m->url, url, urln);
    m->url[urln] = '\0';
    const char *why = check_url(m->url);
    if (why)
        return config__fail(ld, O_PEERS, "\"%s=%s\": bad URL for member %s (%s); " URL_FIX, m->id,
                            m->url, m->id, why);
    for (size_t i = 0; i < c->nmembers; i++) {
        if (strcmp(c->members[i].id, m->id) == 0)
            return config__fail(ld, O_PEERS,
                                "member id %s appears twice; give each member its own id", m->id);
        if (strcmp(c->members[i].url, m->url) == 0)
            return config__fail(
                ld, O_PEERS,
                "members %s and %s have the same URL %s; give each member its own address",
                c->members[i].id, m->id, m->url);
    }
    c->nmembers++;
    return CONFIG_OK;
}

static enum config_result parse_peers(struct loader *ld, struct config *c)
{
    if (ld->from[O_PEERS] == FROM_FILE && ld->peers_obj) {
        const char *id;
        json_t *url;
        json_object_foreach(ld->peers_obj, id, url)
        {
            const char *u = json_string_value(url);
            if (add_member(ld, c, id, strlen(id), u, strlen(u)) != CONFIG_OK)
                return CONFIG_ERROR;
        }
        return CONFIG_OK;
    }
    const char *p = ld->val[O_PEERS] ? ld->val[O_PEERS] : "", *s;
    size_t n;
    while (chaos_list_next(&p, &s, &n)) {
        const char *e = s + n, *eq = memchr(s, '=', n);
        if (!eq)
            return config__fail(ld, O_PEERS,
                                "\"%.*s\": missing '='; use ID=URL, e.g. node1=tcp://HOST:7100",
                                (int)(n < 300 ? n : 300), s);
        const char *ide = eq, *url = eq + 1;
        while (ide > s && isspace((unsigned char)ide[-1]))
            ide--;
        while (url < e && isspace((unsigned char)*url))
            url++;
        if (add_member(ld, c, s, (size_t)(ide - s), url, (size_t)(e - url)) != CONFIG_OK)
            return CONFIG_ERROR;
    }
    return CONFIG_OK;
}

static bool is_member(const struct config *c, const char *id)
{
    for (size_t i = 0; i < c->nmembers; i++)
        if (strcmp(c->members[i].id, id) == 0)
            return true;
    return false;
}

/* K_NUM, K_BOOL, K_SECS and K_PROB settings, each where its offset says. */
static enum config_result resolve_typed(struct loader *ld, struct config *c)
{
    for (int o = 0; o < O_COUNT; o++) {
        const char *v = ld->val[o];
        void *at = (char *)c + config__opts[o].off;
        uint64_t ms;
        char *end;
        if (!v)
            continue;
        if (config__opts[o].kind == K_NUM &&
            !parse_u32(v, config__opts[o].min, config__opts[o].max, at))
            return config__fail(ld, (enum opt)o,
                                "must be a whole number%s between %u and %u, not \"%.32s\"",
                                o == O_HTTP_MAX_STREAMS ? "" : " of milliseconds",
                                (unsigned)config__opts[o].min, (unsigned)config__opts[o].max, v);
        if (config__opts[o].kind == K_BOOL && !parse_bool(v, at))
            return config__fail(ld, (enum opt)o,
                                "must be true or false (or 1/0, yes/no), not \"%.32s\"", v);
        if (config__opts[o].kind == K_SECS) {
            if (chaos_duration_parse(v, &ms) != 0 || ms < (uint64_t)config__opts[o].min * 1000 ||
                ms > (uint64_t)config__opts[o].max * 1000)
                return config__fail(
                    ld, (enum opt)o,
                    "must be a duration from %u to %u seconds (e.g. 90, 90s, 10m, 1h), "
                    "not \"%.32s\"",
                    (unsigned)config__opts[o].min, (unsigned)config__opts[o].max, v);
            memcpy(at, &ms, sizeof ms);
        }
        if (config__opts[o].kind == K_PROB) {
            errno = 0;
            double p = strtod(v, &end);
            /* !(p >= 0 && p <= 1) also turns NaN away. */
            if (errno || end == v || *end || !(p >= 0 && p <= 1))
                return config__fail(
                    ld, (enum opt)o,
                    "must be a number from 0 to 1 (e.g. 0.15 for 15%%), not \"%.32s\"", v);
            memcpy(at, &p, sizeof p);
        }
    }
    return CONFIG_OK;
}

/* The chaos settings parsed by chaos/: the fault kinds, the excluded names
 * and the window. */
static enum config_result resolve_chaos(struct loader *ld, struct config *c)
{
    char why[CHAOS_REASON_MAX];
    if (ld->val[O_CHAOS_FAULTS] &&
        chaos_kinds_parse(ld->val[O_CHAOS_FAULTS], &c->chaos.kinds, why, sizeof why) != 0)
        return config__fail(ld, O_CHAOS_FAULTS, "%s", why);
    if (chaos_window_parse(c->chaos_window, &c->chaos.window, why, sizeof why) != 0)
        return config__fail(ld, O_CHAOS_WINDOW, "%s", why);
    const char *p = ld->val[O_CHAOS_EXCLUDE] ? ld->val[O_CHAOS_EXCLUDE] : "", *s;
    size_t n;
    while (chaos_list_next(&p, &s, &n)) {
        if (!valid_id(s, n))
            return config__fail(ld, O_CHAOS_EXCLUDE,
                                "\"%.*s\" is not a node or service name; " ID_RULE
                                ", comma-separated",
                                (int)(n < 64 ? n : 64), s);
        if (c->chaos.nexclude == CHAOS_EXCLUDE_MAX)
            return config__fail(ld, O_CHAOS_EXCLUDE, "more than %d names; at most %d",
                                CHAOS_EXCLUDE_MAX, CHAOS_EXCLUDE_MAX);
        memcpy(c->chaos.exclude[c->chaos.nexclude], s, n);
        c->chaos.exclude[c->chaos.nexclude++][n] = '\0';
    }
    return CONFIG_OK;
}

/* --http-cors-origins: "*" or origins as browsers send them in Origin,
 * SCHEME://HOST[:PORT] (http or https, no path), kept as "a,b". */
static enum config_result resolve_cors(struct loader *ld, struct config *c)
{
    const char *p = ld->val[O_HTTP_CORS] ? ld->val[O_HTTP_CORS] : "", *s;
    size_t n, used = 0;
    while (chaos_list_next(&p, &s, &n)) {
        size_t scheme = strncmp(s, "https://", 8) == 0 ? 8 : strncmp(s, "http://", 7) == 0 ? 7 : 0;
        size_t host = scheme ? strspn(s + scheme, "abcdefghijklmnopqrstuvwxyz"
                                                  "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-[]:")
                             : 0;
        if (!(n == 1 && s[0] == '*') && (!scheme || host == 0 || scheme + host != n))
            return config__fail(
                ld, O_HTTP_CORS,
                "\"%.*s\" is not an origin; use SCHEME://HOST[:PORT] as the browser "
                "shows it (e.g. https://console.example.com:8443, no path), "
                "comma-separated, or *",
                (int)(n < 200 ? n : 200), s);
        if (used + n + 2 > sizeof c->http_cors_origins)
            return config__fail(ld, O_HTTP_CORS, "too long; at most %zu bytes of origins",
                                sizeof c->http_cors_origins - 1);
        used += (size_t)snprintf(c->http_cors_origins + used, sizeof c->http_cors_origins - used,
                                 "%s%.*s", used ? "," : "", (int)n, s);
    }
    return CONFIG_OK;
}

/* 0.0.0.0 and [::] say where to listen (everywhere), not where to connect. */
static bool is_wildcard(const char *hostport)
{
    return strncmp(hostport, "0.0.0.0:", 8) == 0 || strncmp(hostport, "[::]:", 5) == 0;
}

#define ADVERTISE_FIX "use HOST:PORT or http://HOST:PORT, e.g. 127.0.0.1:8201"

/* The HTTP address clients are told to use for this node (in
 * /federation/state and a follower's redirect to the leader): HOST:PORT, or
 * https://HOST:PORT when a TLS proxy fronts the node; http://HOST:PORT is
 * kept as HOST:PORT, the form the "http" field has always had. Default:
 * the --http address, flagged when it is a wildcard. */
static enum config_result resolve_advertise(struct loader *ld, struct config *c)
{
    char *a = c->advertise_http, hp[CONFIG_URL_MAX];
    if (!ld->val[O_ADVERTISE_HTTP]) {
        memcpy(a, c->http, sizeof c->http);
        c->advertise_http_wildcard = is_wildcard(c->http);
        return CONFIG_OK;
    }
    bool https = strncmp(a, "https://", 8) == 0;
    const char *rest = https ? a + 8 : strncmp(a, "http://", 7) == 0 ? a + 7 : a, *why;
    size_t n = strlen(rest);
    if (rest == a && strstr(a, "://"))
        return config__fail(ld, O_ADVERTISE_HTTP,
                            "\"%s\": the scheme must be http:// or https://; " ADVERTISE_FIX, a);
    if (n > 0 && rest[n - 1] == '/')
        n--; /* http://host:port/ is the same place */
    if (memchr(rest, '/', n))
        return config__fail(
            ld, O_ADVERTISE_HTTP,
            "\"%s\": no path allowed, clients add the API's own paths; " ADVERTISE_FIX, a);
    memcpy(hp, rest, n);
    hp[n] = '\0';
    if ((why = check_hostport(hp)))
        return config__fail(ld, O_ADVERTISE_HTTP, "\"%s\": %s; " ADVERTISE_FIX, a, why);
    if (is_wildcard(hp))
        return config__fail(
            ld, O_ADVERTISE_HTTP,
            "\"%s\" is a wildcard, an address to listen on, not one clients can reach; "
            "give the host:port clients use for this node, e.g. 127.0.0.1:8201",
            a);
    if (!https)
        memmove(a, hp, n + 1);
    else
        a[8 + n] = '\0';
    return CONFIG_OK;
}

enum config_result config__resolve(struct loader *ld, struct config *c)
{
    strcpy(c->listen, "tcp://127.0.0.1:7100");
    strcpy(c->http, "127.0.0.1:8100");
    strcpy(c->log_level, "info");
    strcpy(c->log_format, "text");
    strcpy(c->federation, "chimera");
    c->heartbeat_ms = 50;
    c->election_timeout_ms = 150;
    chaos_settings_default(&c->chaos);
    strcpy(c->chaos_window, "always");
    c->recovery_enabled = true;
    c->recovery_revert_window_ms = WT_DEFAULT_REVERT_WINDOW_MS;
    c->http_max_streams = 64;
    for (int o = 0; o < O_COUNT; o++) {
        const char *v = ld->val[o];
        if (!v || config__opts[o].kind != K_STR)
            continue;
        size_t n = strlen(v);
        if (n >= config__opts[o].cap)
            return config__fail(ld, (enum opt)o, "%zu bytes is too long; at most %zu allowed", n,
                                config__opts[o].cap - 1);
        memcpy((char *)c + config__opts[o].off, v, n + 1);
    }
    if (!c->id[0])
        return config__fail(ld, O_ID,
                            "missing; set --id or CHIMERA_ID to this node's id, e.g. node1");
    if (!valid_id(c->id, strlen(c->id)))
        return config__fail(ld, O_ID, "\"%s\" is not a valid id; " ID_RULE, c->id);
    if (!valid_id(c->federation, strlen(c->federation)))
        return config__fail(ld, O_FEDERATION, "\"%s\" is not a valid name; " ID_RULE,
                            c->federation);
    if (!c->cluster_key_file[0])
        return config__fail(ld, O_KEY,
                            "missing; set --cluster-key-file or CHIMERA_CLUSTER_KEY_FILE (" KEYGEN
                            " FILE)");
    if (!ld->val[O_DATA])
        snprintf(c->data, sizeof c->data, "./data/%s", c->id);
    else if (!c->data[0])
        return config__fail(
            ld, O_DATA, "empty; give the directory for this node's state, e.g. ./data/%s", c->id);
    const char *why = check_url(c->listen);
    if (why)
        return config__fail(ld, O_LISTEN, "\"%s\": bad URL (%s); " URL_FIX, c->listen, why);
    if (strstr(c->http, "://"))
        return config__fail(ld, O_HTTP,
                            "\"%s\": no scheme here; use HOST:PORT, e.g. 127.0.0.1:8100", c->http);
    if ((why = check_hostport(c->http)))
        return config__fail(ld, O_HTTP, "\"%s\": %s; use HOST:PORT, e.g. 127.0.0.1:8100", c->http,
                            why);
    if (resolve_advertise(ld, c) != CONFIG_OK)
        return CONFIG_ERROR;
    if (resolve_typed(ld, c) != CONFIG_OK || resolve_chaos(ld, c) != CONFIG_OK ||
        resolve_cors(ld, c) != CONFIG_OK)
        return CONFIG_ERROR;
    if (strcmp(c->log_level, "debug") && strcmp(c->log_level, "info") &&
        strcmp(c->log_level, "warn") && strcmp(c->log_level, "error"))
        return config__fail(ld, O_LOG, "\"%s\" is not a log level; use debug, info, warn or error",
                            c->log_level);
    if (strcmp(c->log_format, "text") && strcmp(c->log_format, "json"))
        return config__fail(
            ld, O_LOG_FORMAT,
            "\"%s\" is not a log format; use text (one line per event) or json (one "
            "JSON object per line)",
            c->log_format);
    uint32_t hb = c->heartbeat_ms, el = c->election_timeout_ms;
    /* Followers must hear at least two heartbeats per election timeout, or a
     * single late one starts an election against a healthy leader. */
    if ((uint64_t)hb * 2 >= el)
        return config__fail(
            ld, O_HEARTBEAT,
            "%u ms must be less than half of %s (%u ms) for a sane ratio; lower %s or "
            "raise %s above %u",
            (unsigned)hb, config__name_of(ld, O_ELECTION), (unsigned)el,
            config__name_of(ld, O_HEARTBEAT), config__name_of(ld, O_ELECTION), (unsigned)hb * 2);
    if (!ld->val[O_SUSPECT])
        c->suspect_after_ms = 3 * hb;
    if (!ld->val[O_DEAD])
        c->dead_after_ms = 2 * el > 1000 ? 2 * el : 1000;
    if (c->suspect_after_ms >= c->dead_after_ms)
        return config__fail(
            ld, O_SUSPECT, "%u ms must be less than %s (%u ms); lower %s or raise %s",
            (unsigned)c->suspect_after_ms, config__name_of(ld, O_DEAD), (unsigned)c->dead_after_ms,
            config__name_of(ld, O_SUSPECT), config__name_of(ld, O_DEAD));
    if (parse_peers(ld, c) != CONFIG_OK)
        return CONFIG_ERROR;
    if (is_member(c, c->id))
        return CONFIG_OK; /* --peers names us: its URL may be an advertise address */
    for (size_t i = 0; i < c->nmembers; i++)
        if (strcmp(c->members[i].url, c->listen) == 0)
            return config__fail(
                ld, O_LISTEN,
                "\"%s\" is also the URL of member %s; give this node its own address or "
                "name %s in %s",
                c->listen, c->members[i].id, c->id, config__name_of(ld, O_PEERS));
    if (c->nmembers == CONFIG_MAX_MEMBERS)
        return config__fail(ld, O_PEERS,
                            "names %d members but not this node (%s); a federation has at most %d",
                            CONFIG_MAX_MEMBERS, c->id, CONFIG_MAX_MEMBERS);
    struct config_member *self = &c->members[c->nmembers++];
    memcpy(self->id, c->id, sizeof self->id);
    memcpy(self->url, c->listen, sizeof self->url);
    return CONFIG_OK;
}
