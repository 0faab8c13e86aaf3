/* Node configuration (see config.h): the table of settings and
 * config_load. Where a setting's text comes from is config_sources.c; how
 * it is parsed and checked, config_resolve.c; --help, config_usage.c.
 *
 * Every setting is first resolved to the string from the strongest source
 * that has it (flag, environment, file), and only then parsed and checked,
 * so a value is validated the same way wherever it came from and its error
 * names the place the operator has to edit. */
#include "node/base/config.h"
#include "node/base/config_err.h"
#include "node/base/config_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define STR(f) K_STR, offsetof(struct config, f), sizeof(((struct config *)0)->f), 0, 0
#define NUM(f, lo, hi) K_NUM, offsetof(struct config, f), 0, lo, hi
#define BOOL(f) K_BOOL, offsetof(struct config, f), 0, 0, 0
#define SECS(f, lo, hi) K_SECS, offsetof(struct config, f), 0, lo, hi
#define DAYS(n) ((n)*86400u) /* in seconds */

const struct config_opt config__opts[O_COUNT] = {
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

const char *config__name_of(const struct loader *ld, enum opt o)
{
    if (ld->from[o] == FROM_ENV)
        return config__opts[o].env;
    if (ld->from[o] == FROM_FILE)
        return config__opts[o].key;
    return config__opts[o].flag;
}

enum config_result config__fail(struct loader *ld, enum opt o, const char *fmt, ...)
{
    if (ld->failed)
        return CONFIG_ERROR;
    ld->failed = true;
    char prefix[CONFIG_PATH_MAX + 64] = "";
    if (o != O_COUNT && ld->from[o] == FROM_FILE)
        snprintf(prefix, sizeof prefix, "%s: %s: ", ld->file, config__opts[o].key);
    else if (o != O_COUNT)
        snprintf(prefix, sizeof prefix, "%s: ", config__name_of(ld, o));
    va_list ap;
    va_start(ap, fmt);
    config_vput(ld->err, ld->errlen, prefix, fmt, ap);
    va_end(ap);
    return CONFIG_ERROR;
}

enum config_result config_load(struct config *c, int argc, char *const argv[], char *const envp[],
                               char *err, size_t errlen)
{
    struct loader ld = {.err = err, .errlen = errlen};
    bool help = false;
    memset(c, 0, sizeof *c);
    if (err && errlen)
        err[0] = '\0';
    config__parse_args(&ld, argc, argv, &help);
    if (help)
        return CONFIG_HELP;
    if (ld.failed)
        return CONFIG_ERROR;
    config__parse_env(&ld, envp);
    if (ld.val[O_CONFIG] && ld.val[O_CONFIG][0])
        config__load_file(&ld);
    enum config_result r = ld.failed ? CONFIG_ERROR : config__resolve(&ld, c);
    json_decref(ld.root);
    for (int o = 0; o < O_COUNT; o++)
        json_decref(ld.joined[o]);
    return r;
}
