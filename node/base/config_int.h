/* Private to the config module: the table of settings and the loader that
 * config.c (the table, config_load), config_sources.c (each setting's text
 * from a flag, the environment or the --config file) and config_resolve.c
 * (that text parsed and checked into struct config) share. */
#ifndef CHIMERA_CONFIG_INT_H
#define CHIMERA_CONFIG_INT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "node/base/config.h"

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

struct config_opt {
    const char *flag, *env, *key; /* key NULL: not allowed in the file */
    enum kind kind;
    size_t off, cap;   /* where the value lands in struct config */
    uint32_t min, max; /* K_NUM only */
};

extern const struct config_opt config__opts[O_COUNT];

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

/* The name the operator used for the setting, so the fix points at it. */
const char *config__name_of(const struct loader *ld, enum opt o);
/* Reports the first error only (ld->failed); returns CONFIG_ERROR. o ==
 * O_COUNT: the line is not about one setting, so it gets no prefix. */
enum config_result config__fail(struct loader *ld, enum opt o, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* config_sources.c: each setting's text, from the strongest source. Keeps
 * scanning after an error so that --help anywhere still wins. */
void config__parse_args(struct loader *ld, int argc, char *const argv[], bool *help);
void config__parse_env(struct loader *ld, char *const envp[]);
/* The --config file (ld->val[O_CONFIG]): its keys, type-checked. */
void config__load_file(struct loader *ld);

/* config_resolve.c: the defaults, then every setting's text parsed and
 * checked into c. */
enum config_result config__resolve(struct loader *ld, struct config *c);

#endif
