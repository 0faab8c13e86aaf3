/* Where each setting's text comes from (config_int.h): a flag, the
 * environment or the --config file, the strongest first; nothing is parsed
 * here but the file's JSON types. */
#include "node/base/config_int.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The likely typo is a dropped or extra suffix: --heartbeat for --heartbeat-ms. */
static void unknown_flag(struct loader *ld, const char *a, size_t n)
{
    for (int o = 0; o < O_COUNT; o++) {
        size_t fn = strlen(config__opts[o].flag), m = n < fn ? n : fn;
        if (m > 3 && strncmp(a, config__opts[o].flag, m) == 0) {
            config__fail(ld, O_COUNT, "%.*s: unknown flag (did you mean %s?); see --help", (int)n,
                         a, config__opts[o].flag);
            return;
        }
    }
    config__fail(ld, O_COUNT, "%.*s: unknown flag; see --help", (int)n, a);
}

/* The K_BOOL option whose flag (without a value) a is, or -1: a switch
 * takes its value after '=' only. */
static int bool_flag(const char *a)
{
    for (int o = 0; o < O_COUNT; o++)
        if (config__opts[o].kind == K_BOOL && strcmp(a, config__opts[o].flag) == 0)
            return o;
    return -1;
}

/* Keeps scanning after an error so that --help anywhere still wins. */
void config__parse_args(struct loader *ld, int argc, char *const argv[], bool *help)
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
                config__fail(ld, (enum opt)b, "takes no separate value; use %s=%.16s",
                             config__opts[b].flag, a);
            else
                config__fail(ld, O_COUNT,
                             "unexpected argument \"%.64s\"; use --flag VALUE (see --help)", a);
            continue;
        }
        const char *eq = strchr(a, '=');
        size_t n = eq ? (size_t)(eq - a) : strlen(a);
        int o = 0;
        while (o < O_COUNT &&
               !(strlen(config__opts[o].flag) == n && strncmp(a, config__opts[o].flag, n) == 0))
            o++;
        if (o == O_COUNT) {
            unknown_flag(ld, a, n);
            continue;
        }
        ld->from[o] = FROM_FLAG;
        if (eq)
            ld->val[o] = eq + 1;
        else if (config__opts[o].kind == K_BOOL)
            ld->val[o] = "true";
        else if (i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0)
            ld->val[o] = argv[++i];
        else
            config__fail(ld, (enum opt)o, "missing value; use %s VALUE or %s=VALUE",
                         config__opts[o].flag, config__opts[o].flag);
    }
}

/* The issue that asked for a viewer token called it CHIMERA_HTTP_READ_TOKEN;
 * it is accepted as another name of CHIMERA_HTTP_READ_TOKEN_FILE. It names
 * the file and never holds the token: the node's environment is inherited by
 * every service it starts. */
#define READ_TOKEN_ALIAS "CHIMERA_HTTP_READ_TOKEN"

void config__parse_env(struct loader *ld, char *const envp[])
{
    const size_t an = strlen(READ_TOKEN_ALIAS);
    for (size_t i = 0; envp && envp[i]; i++) {
        const char *alias = envp[i] + an + 1;
        if (strncmp(envp[i], READ_TOKEN_ALIAS, an) != 0 || envp[i][an] != '=' || !*alias)
            continue;
        if (ld->from[O_READ_TOKEN] == FROM_ENV && strcmp(ld->val[O_READ_TOKEN], alias) != 0)
            config__fail(ld, O_READ_TOKEN,
                         "and " READ_TOKEN_ALIAS " name different files; set only one of them");
        else if (ld->from[O_READ_TOKEN] == FROM_DEFAULT)
            ld->val[O_READ_TOKEN] = alias, ld->from[O_READ_TOKEN] = FROM_ENV;
    }
    for (size_t i = 0; envp && envp[i]; i++) {
        for (int o = 0; o < O_COUNT; o++) {
            size_t n = strlen(config__opts[o].env);
            /* An empty variable counts as unset: compose files write FOO= to mean "no FOO". */
            if (strncmp(envp[i], config__opts[o].env, n) != 0 || envp[i][n] != '=' ||
                !envp[i][n + 1])
                continue;
            if (o == O_READ_TOKEN && ld->from[o] == FROM_ENV &&
                strcmp(ld->val[o], envp[i] + n + 1) != 0)
                config__fail(ld, O_READ_TOKEN,
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
        if (config__opts[o].key && distance(key, config__opts[o].key) <= 2) {
            config__fail(ld, O_CONFIG, "%s: unknown key \"%.64s\" (did you mean %s?)", ld->file,
                         key, config__opts[o].key);
            return;
        }
    for (int o = 0; o < O_COUNT && n < sizeof known; o++)
        if (config__opts[o].key)
            n += (size_t)snprintf(known + n, sizeof known - n, "%s%s", n ? ", " : "",
                                  config__opts[o].key);
    config__fail(ld, O_CONFIG, "%s: unknown key \"%.64s\"; known keys are %s", ld->file, key,
                 known);
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
            config__fail(ld, o, "element %zu must be a string", i);
            return false;
        }
        int w = snprintf(buf + n, sizeof buf - n, "%s%s", i ? "," : "", t);
        if (w < 0 || (size_t)w >= sizeof buf - n) {
            ld->from[o] = FROM_FILE;
            config__fail(ld, o, "too long; at most %zu bytes in all", sizeof buf - 1);
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
    enum kind k = config__opts[o].kind;
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
                config__fail(ld, o, "member \"%.64s\" must map to a URL string", mid);
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
    config__fail(ld, o, "must be %s", want[k]);
    return false;
}

void config__load_file(struct loader *ld)
{
    json_error_t je;
    ld->file = ld->val[O_CONFIG];
    ld->root = json_load_file(ld->file, JSON_REJECT_DUPLICATES, &je);
    if (!ld->root) {
        if (je.line > 0)
            config__fail(ld, O_CONFIG, "%s: line %d, column %d: %s; fix the JSON", ld->file,
                         je.line, je.column, je.text);
        else
            config__fail(ld, O_CONFIG, "%s", je.text); /* jansson's text names the file and errno */
        return;
    }
    if (!json_is_object(ld->root)) {
        config__fail(ld, O_CONFIG, "%s: must hold a JSON object, e.g. {\"id\": \"node1\"}",
                     ld->file);
        return;
    }
    const char *key;
    json_t *v;
    json_object_foreach(ld->root, key, v)
    {
        int o = 0;
        while (o < O_COUNT && !(config__opts[o].key && strcmp(config__opts[o].key, key) == 0))
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
