/* Node configuration: flags, environment variables and a JSON file.
 *
 * Precedence is flag > environment > file > default. Parsing and validation
 * are pure (no sockets, no files but the --config file itself); checks that
 * touch the machine (key file readable, data dir writable) live in
 * config_check_files(), and bind errors are reported by the shell. */
#ifndef CHIMERA_CONFIG_H
#define CHIMERA_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chaos/injector.h"

#define CONFIG_ID_MAX 64     /* including the NUL */
#define CONFIG_URL_MAX 256   /* including the NUL */
#define CONFIG_PATH_MAX 1024 /* including the NUL */
#define CONFIG_MAX_MEMBERS 16
#define CONFIG_KEY_BYTES 32
#define CONFIG_TOKEN_MAX 256 /* a bearer token, including the NUL */
#define CONFIG_TOKEN_MIN 16  /* bytes: a bearer token must not be guessable */

struct config_member {
    char id[CONFIG_ID_MAX];
    char url[CONFIG_URL_MAX]; /* NNG URL of the member's inbox */
};

struct config {
    char id[CONFIG_ID_MAX];
    char listen[CONFIG_URL_MAX]; /* NNG URL this node's inbox listens on */
    char http[CONFIG_URL_MAX];   /* host:port of the HTTP API */
    /* What clients are told to use for this node's HTTP API: HOST:PORT or
     * https://HOST:PORT; --advertise-http, else http. */
    char advertise_http[CONFIG_URL_MAX];
    /* The default was taken from a wildcard --http (0.0.0.0, [::]), which
     * clients elsewhere cannot dial: the node warns at start. */
    bool advertise_http_wildcard;
    /* The HTTP listener: streams open at once (default 64); the origins
     * allowed cross-origin requests, "a,b" of SCHEME://HOST[:PORT] or "*"
     * (default "": none, CORS off). */
    uint32_t http_max_streams;
    char http_cors_origins[1024];
    /* Every member of the federation, this node included (it is added
     * with its --listen URL when --peers does not name it). */
    struct config_member members[CONFIG_MAX_MEMBERS];
    size_t nmembers;
    char data[CONFIG_PATH_MAX];
    char cluster_key_file[CONFIG_PATH_MAX];
    /* The cluster key, admin token and read token files must each be mode
     * 0600 or stricter (no access for group or others) and owned by the
     * node's user, as node.key is; tokens hold at least CONFIG_TOKEN_MIN
     * bytes. */
    char admin_token_file[CONFIG_PATH_MAX]; /* empty: no admin token */
    /* Reads that reveal manifests (GET /ledger, GET /deployments/ID) need this
     * token or the admin token; empty: they are open. read_token is filled by
     * config_check_files, never from the environment. */
    char read_token_file[CONFIG_PATH_MAX];
    char read_token[CONFIG_TOKEN_MAX];
    char config_file[CONFIG_PATH_MAX]; /* empty: none */
    uint32_t heartbeat_ms;             /* default 50 */
    uint32_t election_timeout_ms;      /* default 150 */
    uint32_t suspect_after_ms;         /* default 3 heartbeats */
    uint32_t dead_after_ms;            /* default 1000 */
    /* The chaos injector's settings, parsed (chaos/injector.h); defaults:
     * off, every 600 s, probability 0.15, not dry-run, every kind but
     * kill_node, nothing excluded, 60 s, always. */
    struct chaos_settings chaos;
    char chaos_window[CHAOS_WINDOW_TEXT_MAX]; /* chaos.window as written */
    bool recovery_enabled;                    /* the watchtower; default true */
    /* A crash loop reverts a release that became stable less than this ago
     * (or is still rolling out); default WT_DEFAULT_REVERT_WINDOW_MS (5 min). */
    uint64_t recovery_revert_window_ms;
    char log_level[16];             /* debug|info|warn|error */
    char log_format[8];             /* text|json (stderr lines); default text */
    char federation[CONFIG_ID_MAX]; /* checkpoint origin; default "chimera" */

    /* --replace-node-key: start although the ledger pins another key for
     * this node (DATA/node.key was replaced on purpose). */
    bool replace_node_key;
};

enum config_result {
    CONFIG_OK = 0,
    CONFIG_HELP = 1,  /* --help was given: print config_usage() and exit 0 */
    CONFIG_ERROR = 2, /* err holds one line naming the field and the fix */
};

/* Fills *c from argv (argv[0] is the program name), envp (NULL-terminated
 * "NAME=value" strings; may be NULL) and the --config / CHIMERA_CONFIG file.
 * Validates everything that can be validated without touching the machine. */
enum config_result config_load(struct config *c, int argc, char *const argv[], char *const envp[],
                               char *err, size_t errlen);

/* Checks that the cluster key file and the token files (when set) are the
 * node user's alone (regular files, owned by the effective uid, no group or
 * other bits), reads the cluster key (64 hex digits, optional trailing
 * newline) into key, the admin token into token (CONFIG_TOKEN_MIN to
 * tokenlen - 1 bytes; token may be NULL to check only) and the read token
 * into c->read_token (same bounds), and
 * checks that the data directory exists or can be created and is writable.
 * Returns 0, or -1 with one line in err (and no token left in c). */
int config_check_files(struct config *c, uint8_t key[CONFIG_KEY_BYTES], char *token,
                       size_t tokenlen, char *err, size_t errlen);

/* The --help text. */
const char *config_usage(void);

#endif
