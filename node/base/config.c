/* Node configuration (see config.h).
 *
 * Every setting is first resolved to the string from the strongest source
 * that has it (flag, environment, file), and only then parsed and checked,
 * so a value is validated the same way wherever it came from and its error
 * names the place the operator has to edit. */
#include "node/base/config.h"
#include "node/base/config_err.h"
#include "chaos/watchtower.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum opt {
    O_ID,
    O_LISTEN,
    O_HTTP,
    O_ADVERTISE_HTTP,
    O_HTTP_MAX_STREAMS,
    O_HTTP_CORS,
    O_PEERS,
    O_DATA,
    O_KEY,
    O_TOKEN,
    O_READ_TOKEN,
    O_HEARTBEAT,
    O_ELECTION,
    O_SUSPECT,
    O_DEAD,
    O_CHAOS,
    O_CHAOS_INTERVAL,
    O_CHAOS_PROBABILITY,
    O_CHAOS_DRY_RUN,
    O_CHAOS_FAULTS,
    O_CHAOS_EXCLUDE,
    O_CHAOS_MAX_DURATION,
    O_CHAOS_WINDOW,
    O_RECOVERY,
    O_RECOVERY_REVERT_WINDOW,
    O_LOG,
    O_LOG_FORMAT,
    O_FEDERATION,
    O_REPLACE_KEY,
    O_CONFIG,
    O_COUNT
};

/* K_SECS: a duration (seconds, or with a unit: 1500ms, 90s, 10m, 1h) into a
 * uint64_t of milliseconds, min and max in seconds. K_PROB: a number from 0
 * to 1 into a double. K_LIST: a comma list (in the file also an array of
 * strings), parsed by its own rule in resolve(). */
enum kind { K_STR, K_NUM, K_BOOL, K_PEERS, K_SECS, K_PROB, K_LIST };

#define STR(f) K_STR, offsetof(struct config, f), sizeof(((struct config *)0)->f), 0, 0
#define NUM(f, lo, hi) K_NUM, offsetof(struct config, f), 0, lo, hi
#define BOOL(f) K_BOOL, offsetof(struct config, f), 0, 0, 0
#define SECS(f, lo, hi) K_SECS, offsetof(struct config, f), 0, lo, hi
#define DAYS(n) ((n)*86400u) /* in seconds */

static const struct {
    const char *flag, *env, *key; /* key NULL: not allowed in the file */
    enum kind kind;
    size_t off, cap;   /* where the value lands in struct config */
    uint32_t min, max; /* K_NUM only */
} opts[O_COUNT] = {
    [O_ID] = {"--id", "CHIMERA_ID", "id", STR(id)},
    [O_LISTEN] = {"--listen", "CHIMERA_LISTEN", "listen", STR(listen)},
    [O_HTTP] = {"--http", "CHIMERA_HTTP", "http", STR(http)},
    [O_ADVERTISE_HTTP] = {"--advertise-http", "CHIMERA_ADVERTISE_HTTP", "advertise_http",
                          STR(advertise_http)},
    [O_HTTP_MAX_STREAMS] = {"--http-max-streams", "CHIMERA_HTTP_MAX_STREAMS", "http_max_streams",
                            NUM(http_max_streams, 1, 4096)},
    [O_HTTP_CORS] = {"--http-cors-origins", "CHIMERA_HTTP_CORS_ORIGINS", "http_cors_origins",
                     K_LIST, 0, 0, 0, 0},
    [O_PEERS] = {"--peers", "CHIMERA_PEERS", "peers", K_PEERS, 0, 0, 0, 0},
    [O_DATA] = {"--data", "CHIMERA_DATA", "data", STR(data)},
    [O_KEY] = {"--cluster-key-file", "CHIMERA_CLUSTER_KEY_FILE", "cluster_key_file",
               STR(cluster_key_file)},
    [O_TOKEN] = {"--admin-token-file", "CHIMERA_ADMIN_TOKEN_FILE", "admin_token_file",
                 STR(admin_token_file)},
    [O_READ_TOKEN] = {"--read-token-file", "CHIMERA_HTTP_READ_TOKEN_FILE", "read_token_file",
                      STR(read_token_file)},
    [O_HEARTBEAT] = {"--heartbeat-ms", "CHIMERA_HEARTBEAT_MS", "heartbeat_ms",
                     NUM(heartbeat_ms, 5, 10000)},
    [O_ELECTION] = {"--election-timeout-ms", "CHIMERA_ELECTION_TIMEOUT_MS", "election_timeout_ms",
                    NUM(election_timeout_ms, 20, 60000)},
    [O_SUSPECT] = {"--suspect-after-ms", "CHIMERA_SUSPECT_AFTER_MS", "suspect_after_ms",
                   NUM(suspect_after_ms, 10, 600000)},
    [O_DEAD] = {"--dead-after-ms", "CHIMERA_DEAD_AFTER_MS", "dead_after_ms",
                NUM(dead_after_ms, 20, 3600000)},
    [O_CHAOS] = {"--chaos-enabled", "CHIMERA_CHAOS_ENABLED", "chaos_enabled", BOOL(chaos.enabled)},
    [O_CHAOS_INTERVAL] = {"--chaos-interval", "CHIMERA_CHAOS_INTERVAL", "chaos_interval",
                          SECS(chaos.interval_ms, 1, DAYS(7))},
    [O_CHAOS_PROBABILITY] = {"--chaos-probability", "CHIMERA_CHAOS_PROBABILITY",
                             "chaos_probability", K_PROB,
                             offsetof(struct config, chaos.probability), 0, 0, 0},
    [O_CHAOS_DRY_RUN] = {"--chaos-dry-run", "CHIMERA_CHAOS_DRY_RUN", "chaos_dry_run",
                         BOOL(chaos.dry_run)},
    [O_CHAOS_FAULTS] = {"--chaos-faults", "CHIMERA_CHAOS_FAULTS", "chaos_faults", K_LIST, 0, 0, 0,
                        0},
    [O_CHAOS_EXCLUDE] = {"--chaos-exclude", "CHIMERA_CHAOS_EXCLUDE", "chaos_exclude", K_LIST, 0, 0,
                         0, 0},
    [O_CHAOS_MAX_DURATION] = {"--chaos-max-duration", "CHIMERA_CHAOS_MAX_DURATION",
                              "chaos_max_duration", SECS(chaos.max_duration_ms, 1, DAYS(1))},
    [O_CHAOS_WINDOW] = {"--chaos-window", "CHIMERA_CHAOS_WINDOW", "chaos_window",
                        STR(chaos_window)},
    [O_RECOVERY] = {"--recovery-enabled", "CHIMERA_RECOVERY_ENABLED", "recovery_enabled",
                    BOOL(recovery_enabled)},
    [O_RECOVERY_REVERT_WINDOW] = {"--recovery-revert-window", "CHIMERA_RECOVERY_REVERT_WINDOW",
                                  "recovery_revert_window",
                                  SECS(recovery_revert_window_ms, 0, DAYS(7))},
    [O_LOG] = {"--log-level", "CHIMERA_LOG_LEVEL", "log_level", STR(log_level)},
    [O_LOG_FORMAT] = {"--log-format", "CHIMERA_LOG_FORMAT", "log_format", STR(log_format)},
    [O_FEDERATION] = {"--federation", "CHIMERA_FEDERATION", "federation", STR(federation)},
    /* Not in the file: a replaced key is said once, not kept as a setting. */
    [O_REPLACE_KEY] = {"--replace-node-key", "CHIMERA_REPLACE_NODE_KEY", NULL,
                       BOOL(replace_node_key)},
    [O_CONFIG] = {"--config", "CHIMERA_CONFIG", NULL, STR(config_file)},
};

#define ID_RULE "use 1 to 63 letters, digits, '.', '_' or '-', starting with a letter or digit"
#define URL_FIX "use tcp://HOST:PORT or ipc:///PATH"

enum origin { FROM_DEFAULT, FROM_FILE, FROM_ENV, FROM_FLAG };

struct loader {
    const char *val[O_COUNT];
    enum origin from[O_COUNT];
    json_t *root;
    json_t *peers_obj;       /* the file's peers, when given as an object */
    char num[O_COUNT][32];   /* file numbers, printed so they parse like flags */
    json_t *joined[O_COUNT]; /* file arrays of K_LIST, joined into "a,b" */
    const char *file;
    char *err;
    size_t errlen;
    bool failed; /* only the first error is reported */
};

void config_vput(char *err, size_t len, const char *prefix, const char *fmt, va_list ap)
{
    if (!err || len == 0)
        return;
    int k = snprintf(err, len, "%s", prefix);
    if (k >= 0 && (size_t)k < len)
        vsnprintf(err + k, len - (size_t)k, fmt, ap);
    /* Values are echoed back; a newline or escape in one must not break the one-line promise. */
    for (char *p = err; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
}

int config_put(char *err, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    config_vput(err, len, "", fmt, ap);
    va_end(ap);
    return -1;
}

/* The name the operator used for the setting, so the fix points at it. */
static const char *name_of(const struct loader *ld, enum opt o)
{
    if (ld->from[o] == FROM_ENV)
        return opts[o].env;
    if (ld->from[o] == FROM_FILE)
        return opts[o].key;
    return opts[o].flag;
}

/* o == O_COUNT: the line is not about one setting, so it gets no prefix. */
__attribute__((format(printf, 3, 4))) static enum config_result fail(struct loader *ld, enum opt o,
                                                                     const char *fmt, ...)
{
    if (ld->failed)
        return CONFIG_ERROR;
    ld->failed = true;
    char prefix[CONFIG_PATH_MAX + 64] = "";
    if (o != O_COUNT && ld->from[o] == FROM_FILE)
        snprintf(prefix, sizeof prefix, "%s: %s: ", ld->file, opts[o].key);
    else if (o != O_COUNT)
        snprintf(prefix, sizeof prefix, "%s: ", name_of(ld, o));
    va_list ap;
    va_start(ap, fmt);
    config_vput(ld->err, ld->errlen, prefix, fmt, ap);
    va_end(ap);
    return CONFIG_ERROR;
}

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

/* The likely typo is a dropped or extra suffix: --heartbeat for --heartbeat-ms. */
static void unknown_flag(struct loader *ld, const char *a, size_t n)
{
    for (int o = 0; o < O_COUNT; o++) {
        size_t fn = strlen(opts[o].flag), m = n < fn ? n : fn;
        if (m > 3 && strncmp(a, opts[o].flag, m) == 0) {
            fail(ld, O_COUNT, "%.*s: unknown flag (did you mean %s?); see --help", (int)n, a,
                 opts[o].flag);
            return;
        }
    }
    fail(ld, O_COUNT, "%.*s: unknown flag; see --help", (int)n, a);
}

/* The K_BOOL option whose flag (without a value) a is, or -1: a switch
 * takes its value after '=' only. */
static int bool_flag(const char *a)
{
    for (int o = 0; o < O_COUNT; o++)
        if (opts[o].kind == K_BOOL && strcmp(a, opts[o].flag) == 0)
            return o;
    return -1;
}

/* Keeps scanning after an error so that --help anywhere still wins. */
static void parse_args(struct loader *ld, int argc, char *const argv[], bool *help)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            *help = true;
            continue;
        }
        if (a[0] != '-') {
            int b = bool_flag(i > 1 ? argv[i - 1] : "");
            if (b >= 0)
                fail(ld, (enum opt)b, "takes no separate value; use %s=%.16s", opts[b].flag, a);
            else
                fail(ld, O_COUNT, "unexpected argument \"%.64s\"; use --flag VALUE (see --help)",
                     a);
            continue;
        }
        const char *eq = strchr(a, '=');
        size_t n = eq ? (size_t)(eq - a) : strlen(a);
        int o = 0;
        while (o < O_COUNT && !(strlen(opts[o].flag) == n && strncmp(a, opts[o].flag, n) == 0))
            o++;
        if (o == O_COUNT) {
            unknown_flag(ld, a, n);
            continue;
        }
        ld->from[o] = FROM_FLAG;
        if (eq)
            ld->val[o] = eq + 1;
        else if (opts[o].kind == K_BOOL)
            ld->val[o] = "true";
        else if (i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0)
            ld->val[o] = argv[++i];
        else
            fail(ld, (enum opt)o, "missing value; use %s VALUE or %s=VALUE", opts[o].flag,
                 opts[o].flag);
    }
}

/* The issue that asked for a viewer token called it CHIMERA_HTTP_READ_TOKEN;
 * it is accepted as another name of CHIMERA_HTTP_READ_TOKEN_FILE. It names
 * the file and never holds the token: the node's environment is inherited by
 * every service it starts. */
#define READ_TOKEN_ALIAS "CHIMERA_HTTP_READ_TOKEN"

static void parse_env(struct loader *ld, char *const envp[])
{
    const size_t an = strlen(READ_TOKEN_ALIAS);
    for (size_t i = 0; envp && envp[i]; i++) {
        const char *alias = envp[i] + an + 1;
        if (strncmp(envp[i], READ_TOKEN_ALIAS, an) != 0 || envp[i][an] != '=' || !*alias)
            continue;
        if (ld->from[O_READ_TOKEN] == FROM_ENV && strcmp(ld->val[O_READ_TOKEN], alias) != 0)
            fail(ld, O_READ_TOKEN,
                 "and " READ_TOKEN_ALIAS " name different files; set only one of them");
        else if (ld->from[O_READ_TOKEN] == FROM_DEFAULT)
            ld->val[O_READ_TOKEN] = alias, ld->from[O_READ_TOKEN] = FROM_ENV;
    }
    for (size_t i = 0; envp && envp[i]; i++) {
        for (int o = 0; o < O_COUNT; o++) {
            size_t n = strlen(opts[o].env);
            /* An empty variable counts as unset: compose files write FOO= to mean "no FOO". */
            if (strncmp(envp[i], opts[o].env, n) != 0 || envp[i][n] != '=' || !envp[i][n + 1])
                continue;
            if (o == O_READ_TOKEN && ld->from[o] == FROM_ENV &&
                strcmp(ld->val[o], envp[i] + n + 1) != 0)
                fail(ld, O_READ_TOKEN,
                     "and " READ_TOKEN_ALIAS " name different files; set only one of them");
            if (ld->from[o] != FROM_FLAG)
                ld->val[o] = envp[i] + n + 1, ld->from[o] = FROM_ENV;
        }
    }
}

/* Edit distance (insertions, deletions, substitutions), for "did you mean". */
static size_t distance(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b), row[CONFIG_ID_MAX + 1];
    if (na > CONFIG_ID_MAX || nb > CONFIG_ID_MAX)
        return SIZE_MAX;
    for (size_t j = 0; j <= nb; j++)
        row[j] = j;
    for (size_t i = 1; i <= na; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= nb; j++) {
            size_t up = row[j], best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            diag = up;
            row[j] = best;
        }
    }
    return row[nb];
}

/* A misspelt key gets its likely spelling; anything else the list of keys. */
static void unknown_key(struct loader *ld, const char *key)
{
    char known[1024] = "";
    size_t n = 0;
    for (int o = 0; o < O_COUNT; o++)
        if (opts[o].key && distance(key, opts[o].key) <= 2) {
            fail(ld, O_CONFIG, "%s: unknown key \"%.64s\" (did you mean %s?)", ld->file, key,
                 opts[o].key);
            return;
        }
    for (int o = 0; o < O_COUNT && n < sizeof known; o++)
        if (opts[o].key)
            n += (size_t)snprintf(known + n, sizeof known - n, "%s%s", n ? ", " : "", opts[o].key);
    fail(ld, O_CONFIG, "%s: unknown key \"%.64s\"; known keys are %s", ld->file, key, known);
}

/* A K_LIST given as an array of strings: joined into "a,b" so that it
 * parses like the flag. */
static bool join_list(struct loader *ld, enum opt o, const json_t *v, const char **out)
{
    char buf[CHAOS_EXCLUDE_MAX * CHAOS_NAME_MAX + 64];
    size_t n = 0, i;
    const json_t *e;
    json_array_foreach(v, i, e)
    {
        const char *t = json_string_value(e);
        if (!t) {
            ld->from[o] = FROM_FILE;
            fail(ld, o, "element %zu must be a string", i);
            return false;
        }
        int w = snprintf(buf + n, sizeof buf - n, "%s%s", i ? "," : "", t);
        if (w < 0 || (size_t)w >= sizeof buf - n) {
            ld->from[o] = FROM_FILE;
            fail(ld, o, "too long; at most %zu bytes in all", sizeof buf - 1);
            return false;
        }
        n += (size_t)w;
    }
    ld->joined[o] = json_string(buf);
    *out = json_string_value(ld->joined[o]);
    return *out != NULL;
}

/* The file's value of setting o, as text that parses like its flag; false
 * (and the error) when its JSON type is not one the setting takes. */
static bool file_value(struct loader *ld, enum opt o, json_t *v, const char **s)
{
    enum kind k = opts[o].kind;
    if (json_is_string(v) && k != K_NUM && k != K_BOOL && k != K_PROB) {
        *s = json_string_value(v);
        return true;
    }
    if ((json_is_integer(v) && (k == K_NUM || k == K_SECS || k == K_PROB)) ||
        (json_is_real(v) && k == K_PROB)) {
        if (json_is_integer(v))
            snprintf(ld->num[o], sizeof ld->num[o], "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        else
            snprintf(ld->num[o], sizeof ld->num[o], "%.17g", json_real_value(v));
        *s = ld->num[o];
        return true;
    }
    if (json_is_boolean(v) && k == K_BOOL) {
        *s = json_is_true(v) ? "true" : "false";
        return true;
    }
    if (json_is_array(v) && k == K_LIST)
        return join_list(ld, o, v, s);
    if (json_is_object(v) && k == K_PEERS) {
        const char *mid;
        json_t *url;
        json_object_foreach(v, mid, url)
        {
            if (!json_is_string(url)) {
                ld->from[o] = FROM_FILE; /* name the file, not an overriding flag */
                fail(ld, o, "member \"%.64s\" must map to a URL string", mid);
                return false;
            }
        }
        return true;
    }
    static const char *const want[] = {
        [K_STR] = "a string",
        [K_NUM] = "a whole number of milliseconds",
        [K_BOOL] = "true or false",
        [K_PEERS] = "a string \"id=url,...\" or an object {\"id\": \"url\", ...}",
        [K_SECS] = "a whole number of seconds or a duration string like \"10m\"",
        [K_PROB] = "a number from 0 to 1",
        [K_LIST] = "a string \"a,b\" or an array of strings",
    };
    ld->from[o] = FROM_FILE;
    fail(ld, o, "must be %s", want[k]);
    return false;
}

static void load_file(struct loader *ld)
{
    json_error_t je;
    ld->file = ld->val[O_CONFIG];
    ld->root = json_load_file(ld->file, JSON_REJECT_DUPLICATES, &je);
    if (!ld->root) {
        if (je.line > 0)
            fail(ld, O_CONFIG, "%s: line %d, column %d: %s; fix the JSON", ld->file, je.line,
                 je.column, je.text);
        else
            fail(ld, O_CONFIG, "%s", je.text); /* jansson's text names the file and errno */
        return;
    }
    if (!json_is_object(ld->root)) {
        fail(ld, O_CONFIG, "%s: must hold a JSON object, e.g. {\"id\": \"node1\"}", ld->file);
        return;
    }
    const char *key;
    json_t *v;
    json_object_foreach(ld->root, key, v)
    {
        int o = 0;
        while (o < O_COUNT && !(opts[o].key && strcmp(opts[o].key, key) == 0))
            o++;
        if (o == O_COUNT) {
            unknown_key(ld, key);
            return;
        }
        const char *s = NULL;
        bool overridden = ld->from[o] != FROM_DEFAULT;
        if (json_is_null(v))
            continue; /* null reads as "not set", like an absent key */
        if (!file_value(ld, (enum opt)o, v, &s))
            return;
        if (overridden)
            continue; /* type-checked all the same: the file is wrong even if overridden */
        ld->val[o] = s;
        ld->from[o] = FROM_FILE;
        if (o == O_PEERS)
            ld->peers_obj = json_is_object(v) ? v : NULL;
    }
}

static enum config_result add_member(struct loader *ld, struct config *c, const char *id,
                                     size_t idn, const char *url, size_t urln)
{
    int ei = (int)(idn < 200 ? idn : 200), eu = (int)(urln < 300 ? urln : 300);
    if (c->nmembers == CONFIG_MAX_MEMBERS)
        return fail(ld, O_PEERS, "more than %d members; a federation has at most %d",
                    CONFIG_MAX_MEMBERS, CONFIG_MAX_MEMBERS);
    if (!valid_id(id, idn))
        return fail(ld, O_PEERS, "\"%.*s=%.*s\": bad member id \"%.*s\"; " ID_RULE, ei, id, eu, url,
                    ei, id);
    struct config_member *m = &c->members[c->nmembers];
    memcpy(m->id, id, idn);
    m->id[idn] = '\0';
    if (urln >= CONFIG_URL_MAX)
        return fail(ld, O_PEERS, "URL of member %s is %zu bytes; at most %d allowed", m->id, urln,
                    CONFIG_URL_MAX - 1);
    memcpy(m->url, url, urln);
    m->url[urln] = '\0';
    const char *why = check_url(m->url);
    if (why)
        return fail(ld, O_PEERS, "\"%s=%s\": bad URL for member %s (%s); " URL_FIX, m->id, m->url,
                    m->id, why);
    for (size_t i = 0; i < c->nmembers; i++) {
        if (strcmp(c->members[i].id, m->id) == 0)
            return fail(ld, O_PEERS, "member id %s appears twice; give each member its own id",
                        m->id);
        if (strcmp(c->members[i].url, m->url) == 0)
            return fail(ld, O_PEERS,
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
            return fail(ld, O_PEERS,
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
        void *at = (char *)c + opts[o].off;
        uint64_t ms;
        char *end;
        if (!v)
            continue;
        if (opts[o].kind == K_NUM && !parse_u32(v, opts[o].min, opts[o].max, at))
            return fail(ld, (enum opt)o,
                        "must be a whole number%s between %u and %u, not \"%.32s\"",
                        o == O_HTTP_MAX_STREAMS ? "" : " of milliseconds", (unsigned)opts[o].min,
                        (unsigned)opts[o].max, v);
        if (opts[o].kind == K_BOOL && !parse_bool(v, at))
            return fail(ld, (enum opt)o, "must be true or false (or 1/0, yes/no), not \"%.32s\"",
                        v);
        if (opts[o].kind == K_SECS) {
            if (chaos_duration_parse(v, &ms) != 0 || ms < (uint64_t)opts[o].min * 1000 ||
                ms > (uint64_t)opts[o].max * 1000)
                return fail(ld, (enum opt)o,
                            "must be a duration from %u to %u seconds (e.g. 90, 90s, 10m, 1h), "
                            "not \"%.32s\"",
                            (unsigned)opts[o].min, (unsigned)opts[o].max, v);
            memcpy(at, &ms, sizeof ms);
        }
        if (opts[o].kind == K_PROB) {
            errno = 0;
            double p = strtod(v, &end);
            /* !(p >= 0 && p <= 1) also turns NaN away. */
            if (errno || end == v || *end || !(p >= 0 && p <= 1))
                return fail(ld, (enum opt)o,
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
        return fail(ld, O_CHAOS_FAULTS, "%s", why);
    if (chaos_window_parse(c->chaos_window, &c->chaos.window, why, sizeof why) != 0)
        return fail(ld, O_CHAOS_WINDOW, "%s", why);
    const char *p = ld->val[O_CHAOS_EXCLUDE] ? ld->val[O_CHAOS_EXCLUDE] : "", *s;
    size_t n;
    while (chaos_list_next(&p, &s, &n)) {
        if (!valid_id(s, n))
            return fail(ld, O_CHAOS_EXCLUDE,
                        "\"%.*s\" is not a node or service name; " ID_RULE ", comma-separated",
                        (int)(n < 64 ? n : 64), s);
        if (c->chaos.nexclude == CHAOS_EXCLUDE_MAX)
            return fail(ld, O_CHAOS_EXCLUDE, "more than %d names; at most %d", CHAOS_EXCLUDE_MAX,
                        CHAOS_EXCLUDE_MAX);
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
            return fail(ld, O_HTTP_CORS,
                        "\"%.*s\" is not an origin; use SCHEME://HOST[:PORT] as the browser "
                        "shows it (e.g. https://console.example.com:8443, no path), "
                        "comma-separated, or *",
                        (int)(n < 200 ? n : 200), s);
        if (used + n + 2 > sizeof c->http_cors_origins)
            return fail(ld, O_HTTP_CORS, "too long; at most %zu bytes of origins",
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
        return fail(ld, O_ADVERTISE_HTTP,
                    "\"%s\": the scheme must be http:// or https://; " ADVERTISE_FIX, a);
    if (n > 0 && rest[n - 1] == '/')
        n--; /* http://host:port/ is the same place */
    if (memchr(rest, '/', n))
        return fail(ld, O_ADVERTISE_HTTP,
                    "\"%s\": no path allowed, clients add the API's own paths; " ADVERTISE_FIX, a);
    memcpy(hp, rest, n);
    hp[n] = '\0';
    if ((why = check_hostport(hp)))
        return fail(ld, O_ADVERTISE_HTTP, "\"%s\": %s; " ADVERTISE_FIX, a, why);
    if (is_wildcard(hp))
        return fail(ld, O_ADVERTISE_HTTP,
                    "\"%s\" is a wildcard, an address to listen on, not one clients can reach; "
                    "give the host:port clients use for this node, e.g. 127.0.0.1:8201",
                    a);
    if (!https)
        memmove(a, hp, n + 1);
    else
        a[8 + n] = '\0';
    return CONFIG_OK;
}

static enum config_result resolve(struct loader *ld, struct config *c)
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
        if (!v || opts[o].kind != K_STR)
            continue;
        size_t n = strlen(v);
        if (n >= opts[o].cap)
            return fail(ld, (enum opt)o, "%zu bytes is too long; at most %zu allowed", n,
                        opts[o].cap - 1);
        memcpy((char *)c + opts[o].off, v, n + 1);
    }
    if (!c->id[0])
        return fail(ld, O_ID, "missing; set --id or CHIMERA_ID to this node's id, e.g. node1");
    if (!valid_id(c->id, strlen(c->id)))
        return fail(ld, O_ID, "\"%s\" is not a valid id; " ID_RULE, c->id);
    if (!valid_id(c->federation, strlen(c->federation)))
        return fail(ld, O_FEDERATION, "\"%s\" is not a valid name; " ID_RULE, c->federation);
    if (!c->cluster_key_file[0])
        return fail(ld, O_KEY,
                    "missing; set --cluster-key-file or CHIMERA_CLUSTER_KEY_FILE (" KEYGEN
                    " FILE)");
    if (!ld->val[O_DATA])
        snprintf(c->data, sizeof c->data, "./data/%s", c->id);
    else if (!c->data[0])
        return fail(ld, O_DATA, "empty; give the directory for this node's state, e.g. ./data/%s",
                    c->id);
    const char *why = check_url(c->listen);
    if (why)
        return fail(ld, O_LISTEN, "\"%s\": bad URL (%s); " URL_FIX, c->listen, why);
    if (strstr(c->http, "://"))
        return fail(ld, O_HTTP, "\"%s\": no scheme here; use HOST:PORT, e.g. 127.0.0.1:8100",
                    c->http);
    if ((why = check_hostport(c->http)))
        return fail(ld, O_HTTP, "\"%s\": %s; use HOST:PORT, e.g. 127.0.0.1:8100", c->http, why);
    if (resolve_advertise(ld, c) != CONFIG_OK)
        return CONFIG_ERROR;
    if (resolve_typed(ld, c) != CONFIG_OK || resolve_chaos(ld, c) != CONFIG_OK ||
        resolve_cors(ld, c) != CONFIG_OK)
        return CONFIG_ERROR;
    if (strcmp(c->log_level, "debug") && strcmp(c->log_level, "info") &&
        strcmp(c->log_level, "warn") && strcmp(c->log_level, "error"))
        return fail(ld, O_LOG, "\"%s\" is not a log level; use debug, info, warn or error",
                    c->log_level);
    if (strcmp(c->log_format, "text") && strcmp(c->log_format, "json"))
        return fail(ld, O_LOG_FORMAT,
                    "\"%s\" is not a log format; use text (one line per event) or json (one "
                    "JSON object per line)",
                    c->log_format);
    uint32_t hb = c->heartbeat_ms, el = c->election_timeout_ms;
    /* Followers must hear at least two heartbeats per election timeout, or a
     * single late one starts an election against a healthy leader. */
    if ((uint64_t)hb * 2 >= el)
        return fail(ld, O_HEARTBEAT,
                    "%u ms must be less than half of %s (%u ms) for a sane ratio; lower %s or "
                    "raise %s above %u",
                    (unsigned)hb, name_of(ld, O_ELECTION), (unsigned)el, name_of(ld, O_HEARTBEAT),
                    name_of(ld, O_ELECTION), (unsigned)hb * 2);
    if (!ld->val[O_SUSPECT])
        c->suspect_after_ms = 3 * hb;
    if (!ld->val[O_DEAD])
        c->dead_after_ms = 2 * el > 1000 ? 2 * el : 1000;
    if (c->suspect_after_ms >= c->dead_after_ms)
        return fail(ld, O_SUSPECT, "%u ms must be less than %s (%u ms); lower %s or raise %s",
                    (unsigned)c->suspect_after_ms, name_of(ld, O_DEAD), (unsigned)c->dead_after_ms,
                    name_of(ld, O_SUSPECT), name_of(ld, O_DEAD));
    if (parse_peers(ld, c) != CONFIG_OK)
        return CONFIG_ERROR;
    if (is_member(c, c->id))
        return CONFIG_OK; /* --peers names us: its URL may be an advertise address */
    for (size_t i = 0; i < c->nmembers; i++)
        if (strcmp(c->members[i].url, c->listen) == 0)
            return fail(ld, O_LISTEN,
                        "\"%s\" is also the URL of member %s; give this node its own address or "
                        "name %s in %s",
                        c->listen, c->members[i].id, c->id, name_of(ld, O_PEERS));
    if (c->nmembers == CONFIG_MAX_MEMBERS)
        return fail(ld, O_PEERS,
                    "names %d members but not this node (%s); a federation has at most %d",
                    CONFIG_MAX_MEMBERS, c->id, CONFIG_MAX_MEMBERS);
    struct config_member *self = &c->members[c->nmembers++];
    memcpy(self->id, c->id, sizeof self->id);
    memcpy(self->url, c->listen, sizeof self->url);
    return CONFIG_OK;
}

enum config_result config_load(struct config *c, int argc, char *const argv[], char *const envp[],
                               char *err, size_t errlen)
{
    struct loader ld = {.err = err, .errlen = errlen};
    bool help = false;
    memset(c, 0, sizeof *c);
    if (err && errlen)
        err[0] = '\0';
    parse_args(&ld, argc, argv, &help);
    if (help)
        return CONFIG_HELP;
    if (ld.failed)
        return CONFIG_ERROR;
    parse_env(&ld, envp);
    if (ld.val[O_CONFIG] && ld.val[O_CONFIG][0])
        load_file(&ld);
    enum config_result r = ld.failed ? CONFIG_ERROR : resolve(&ld, c);
    json_decref(ld.root);
    for (int o = 0; o < O_COUNT; o++)
        json_decref(ld.joined[o]);
    return r;
}

const char *config_usage(void)
{
    return "Usage: chimerad --id ID --cluster-key-file FILE [flags]\n"
           "\n"
           "Each flag can also be set by its environment variable or in the --config file.\n"
           "A flag wins over the environment, the environment over the file, the file over\n"
           "the default. Values are given as --flag VALUE or --flag=VALUE; an empty\n"
           "environment variable counts as unset.\n"
           "\n"
           "  --id ID                     CHIMERA_ID (required)\n"
           "      This node's id: 1-63 of [A-Za-z0-9._-], starting with a letter or digit.\n"
           "  --listen URL                CHIMERA_LISTEN (default tcp://127.0.0.1:7100)\n"
           "      NNG URL this node's inbox listens on: tcp://HOST:PORT (also tcp4://,\n"
           "      tcp6://, with [IPv6] in brackets) or ipc:///PATH.\n"
           "  --http HOST:PORT            CHIMERA_HTTP (default 127.0.0.1:8100)\n"
           "      Address of the HTTP API.\n"
           "  --advertise-http ADDRESS    CHIMERA_ADVERTISE_HTTP (default: the --http address)\n"
           "      HOST:PORT (or http://HOST:PORT, https://HOST:PORT) clients should use for\n"
           "      this node: its \"http\" in /federation/state and a follower's redirect to\n"
           "      it. Set it when --http is a wildcard (0.0.0.0, [::]) or behind a NAT or a\n"
           "      published container port.\n"
           "  --http-max-streams N        CHIMERA_HTTP_MAX_STREAMS (default 64; 1 to 4096)\n"
           "      Event streams (GET /events/stream) open at once; one more gets 503.\n"
           "  --http-cors-origins LIST    CHIMERA_HTTP_CORS_ORIGINS (default: none, CORS off)\n"
           "      Origins whose pages may call this node's API from a browser:\n"
           "      SCHEME://HOST[:PORT],... as the browser shows them, or *.\n"
           "  --peers ID=URL,...          CHIMERA_PEERS (default: none, a federation of one)\n"
           "      Every member of the federation. This node is added with its --listen URL\n"
           "      if not named; if named, its URL here is the address others dial.\n"
           "  --data DIR                  CHIMERA_DATA (default ./data/ID)\n"
           "      State directory; created with mode 0700 if missing.\n"
           "  --cluster-key-file FILE     CHIMERA_CLUSTER_KEY_FILE (required)\n"
           "      64 hex digits shared by all members, in a file of mode 0600 owned by\n"
           "      chimerad's user; make one with: chimeractl keygen --out FILE\n"
           "  --admin-token-file FILE     CHIMERA_ADMIN_TOKEN_FILE (default: none)\n"
           "      File holding the token admin HTTP calls must present (mode 0600, owned\n"
           "      by chimerad's user, at least 16 bytes).\n"
           "  --read-token-file FILE      CHIMERA_HTTP_READ_TOKEN_FILE (default: none)\n"
           "      File holding a viewer token (mode 0600, at least 16 bytes): reads that\n"
           "      reveal manifests (GET /ledger, GET /deployments/ID) then need it or the\n"
           "      admin token. CHIMERA_HTTP_READ_TOKEN is another name for the variable.\n"
           "  --heartbeat-ms N            CHIMERA_HEARTBEAT_MS (default 50; 5 to 10000)\n"
           "      Leader heartbeat interval; must be less than half the election timeout.\n"
           "  --election-timeout-ms N     CHIMERA_ELECTION_TIMEOUT_MS (default 150; 20 to 60000)\n"
           "  --suspect-after-ms N        CHIMERA_SUSPECT_AFTER_MS (default 3 heartbeats)\n"
           "      Silence after which a member is suspect; 10 to 600000.\n"
           "  --dead-after-ms N           CHIMERA_DEAD_AFTER_MS (default 1000, at least twice\n"
           "      the election timeout); silence after which a member is dead; 20 to 3600000.\n"
           "  --chaos-enabled[=BOOL]      CHIMERA_CHAOS_ENABLED (default false)\n"
           "      Run the chaos injector (on the leader); BOOL is true/false, 1/0 or yes/no.\n"
           "  --chaos-interval DURATION   CHIMERA_CHAOS_INTERVAL (default 600)\n"
           "      How often the injector considers a fault: seconds, or 90s, 10m, 1h;\n"
           "      1 s to 7 days.\n"
           "  --chaos-probability P       CHIMERA_CHAOS_PROBABILITY (default 0.15)\n"
           "      Chance of a fault at each interval, 0 to 1.\n"
           "  --chaos-dry-run[=BOOL]      CHIMERA_CHAOS_DRY_RUN (default false)\n"
           "      Decide and report \"would inject\", inject nothing.\n"
           "  --chaos-faults KINDS        CHIMERA_CHAOS_FAULTS (default every kind but kill_node)\n"
           "      Comma list of kill_service, pause_service, isolate_node, delay_messages,\n"
           "      kill_node (kill_node only when listed).\n"
           "  --chaos-exclude NAMES       CHIMERA_CHAOS_EXCLUDE (default: none)\n"
           "      Comma list of nodes and services chaos never touches.\n"
           "  --chaos-max-duration DURATION  CHIMERA_CHAOS_MAX_DURATION (default 60)\n"
           "      How long a fault lasts (an operator's at most): 1 s to 1 day.\n"
           "  --chaos-window WINDOW       CHIMERA_CHAOS_WINDOW (default always)\n"
           "      When chaos may run, in UTC: always, or e.g. \"Mon-Fri 09:00-17:00\"\n"
           "      (ranges separated by ','; 22:00-02:00 crosses midnight).\n"
           "  --recovery-enabled[=BOOL]   CHIMERA_RECOVERY_ENABLED (default true)\n"
           "      The recovery watchtower: restart services that exit or stay unhealthy.\n"
           "  --recovery-revert-window DURATION  CHIMERA_RECOVERY_REVERT_WINDOW (default 300)\n"
           "      A crash loop reverts a release that became stable less than this ago\n"
           "      (or is still rolling out); 0 to 7 days, 0: only while rolling out.\n"
           "  --log-level LEVEL           CHIMERA_LOG_LEVEL (default info)\n"
           "      debug, info, warn or error.\n"
           "  --log-format FORMAT         CHIMERA_LOG_FORMAT (default text)\n"
           "      text, or json: one JSON object per line on stderr (time, level, node, kind,\n"
           "      message, fields), for log shippers.\n"
           "  --federation NAME           CHIMERA_FEDERATION (default chimera)\n"
           "      The federation's name: the origin its ledger checkpoints are signed for.\n"
           "      Every member must use the same one.\n"
           "  --replace-node-key[=BOOL]   CHIMERA_REPLACE_NODE_KEY (default false)\n"
           "      DATA/node.key was replaced on purpose: start although the ledger pins another\n"
           "      key for this node (the leader then rotates it on the record). Not read from\n"
           "      the --config file.\n"
           "  --config FILE               CHIMERA_CONFIG (default: none)\n"
           "      JSON object with keys id, listen, http, advertise_http, http_max_streams,\n"
           "      http_cors_origins (\"a,b\" or [\"a\", \"b\"]), peers\n"
           "      (\"id=url,...\" or {\"id\": \"url\"}), data, cluster_key_file,\n"
           "      admin_token_file, read_token_file, heartbeat_ms, election_timeout_ms,\n"
           "      suspect_after_ms, dead_after_ms,\n"
           "      chaos_enabled (bool), chaos_interval (seconds or \"10m\"), chaos_probability\n"
           "      (number), chaos_dry_run (bool), chaos_faults and chaos_exclude (\"a,b\" or\n"
           "      [\"a\", \"b\"]), chaos_max_duration, chaos_window, recovery_enabled (bool),\n"
           "      recovery_revert_window, log_level, log_format, federation. Unknown keys are\n"
           "      errors; null means unset.\n"
           "  -h, --help                  Print this help and exit.\n"
           "  --version                   Print \"chimerad VERSION\" and exit.\n"
           "\n"
           "Bad configuration exits with status 2 and one line naming the field and the fix.\n";
}
