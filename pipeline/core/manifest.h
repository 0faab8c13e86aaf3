/* Release manifests: the JSON document an operator submits to POST
 * /deployments, parsed and validated into a struct manifest. Pure code: no
 * I/O besides the bytes the caller passes in, no clock. The schema is in the
 * README ("Releases (manifests)").
 *
 * Validation is strict: unknown keys, wrong types and out-of-range values
 * are errors; the first problem is reported with its JSON path
 * ("services[0].health.url", "rollout.max_parallel", or "" for the document
 * as a whole) and one line saying what is wrong and what is allowed, which
 * the API answers with 400. A null value reads as an absent key (for a
 * required key: missing), like the node's configuration file.
 *
 * What is checked here is the document alone. Whether a command exists on a
 * node, whether a fixed port is free there, etc. is the simulate stage's.
 *
 * Variables. In args, env values, env_file and the health URL, "${PORT}" expands to
 * the service's port (with "port": "auto", the one the node assigned),
 * "${NODE}" to the node's id, "${NAME}" and "${VERSION}" to the release's.
 * "$$" is a literal "$"; a "$" followed by anything else is kept as it is.
 * An unknown variable, an unterminated "${", or ${PORT} in a service without
 * a port are parse errors. Nothing is expanded at parse time: the node
 * expands with manifest_expand when it starts the service.
 *
 * Memory. manifest_parse allocates the variable-size parts (command, args,
 * env, env_file, working_dir, user, health URL); manifest_free releases them. On failure
 * manifest_parse leaves nothing allocated (*m is zeroed), so manifest_free is
 * needed only after success (calling it on a zeroed struct is harmless). */
#ifndef CHIMERA_PIPELINE_MANIFEST_H
#define CHIMERA_PIPELINE_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define MANIFEST_MAX_BYTES (256u * 1024u) /* a submitted document; checked before parsing */
#define MANIFEST_ID_MAX 64                /* ids: 1-63 of [A-Za-z0-9._-], alnum first (+NUL) */
#define MANIFEST_VERSION_MAX 65           /* 1-64 printable ASCII, no spaces (+NUL) */
#define MANIFEST_DESCRIPTION_MAX 1024     /* bytes, without the NUL */
#define MANIFEST_MAX_SERVICES 16
#define MANIFEST_MAX_ARGS 64
#define MANIFEST_MAX_ENV 64
#define MANIFEST_ENV_NAME_MAX 128 /* bytes of an environment variable's name */
#define MANIFEST_STRING_MAX 4096  /* bytes of a command, arg, env value, working_dir, URL */
#define MANIFEST_MAX_DURATION_MS (24u * 3600u * 1000u) /* any duration: at most 24h */
#define MANIFEST_MAX_PARALLEL 16
#define MANIFEST_MAX_THRESHOLD 100
#define MANIFEST_USER_NAME_MAX 32 /* bytes of a user name in "user" */

/* Defaults (milliseconds where it is a duration). */
#define MANIFEST_DEFAULT_INTERVAL_MS 1000u
#define MANIFEST_DEFAULT_TIMEOUT_MS 1000u /* or the interval, if that is shorter */
#define MANIFEST_DEFAULT_HEALTHY_THRESHOLD 1u
#define MANIFEST_DEFAULT_UNHEALTHY_THRESHOLD 3u
#define MANIFEST_DEFAULT_STOP_GRACE_MS 5000u
#define MANIFEST_DEFAULT_MAX_PARALLEL 1u
#define MANIFEST_DEFAULT_MIN_HEALTHY_TIME_MS 10000u
#define MANIFEST_DEFAULT_HEALTHY_DEADLINE_MS 300000u
#define MANIFEST_DEFAULT_PROGRESS_DEADLINE_MS 600000u
/* A service's restart block (the recovery watchtower's policy, Nomad's
 * names): the watchtower's defaults (chaos/watchtower.h, WT_DEFAULT_*). */
#define MANIFEST_DEFAULT_RESTART_ATTEMPTS 3u
#define MANIFEST_DEFAULT_RESTART_INTERVAL_MS 60000u
#define MANIFEST_DEFAULT_RESTART_DELAY_MS 500u
#define MANIFEST_MAX_RESTART_ATTEMPTS 100

/* The domain tag manifest_digest prepends. */
#define MANIFEST_DIGEST_TAG "chimera/release/v1"
#define MANIFEST_DIGEST_BYTES 32 /* BLAKE2b-256 */

enum manifest_driver {
    MANIFEST_DRIVER_PROCESS = 1, /* "process": the only one supported so far */
};

enum manifest_port {
    MANIFEST_PORT_NONE = 0, /* no "port": the service gets none; ${PORT} is an error */
    MANIFEST_PORT_AUTO,     /* "auto": the node assigns a free port */
    MANIFEST_PORT_FIXED,    /* an integer 1..65535 */
};

struct manifest_env {
    char *name; /* [A-Za-z_][A-Za-z0-9_]*, 1..MANIFEST_ENV_NAME_MAX bytes */
    char *value;
};

struct manifest_health {
    bool enabled; /* false: no "health"; the service is healthy once it has run
                   * for rollout.min_healthy_time. The other fields are then 0. */
    char *url;    /* http:// or https://; may hold variables */
    uint32_t interval_ms;
    uint32_t timeout_ms;          /* <= interval_ms */
    uint32_t healthy_threshold;   /* consecutive passes to be healthy, 1..100 */
    uint32_t unhealthy_threshold; /* consecutive failures to be unhealthy, 1..100 */
};

/* After a crash loop: "delay" keeps restarting at the longest backoff,
 * "fail" marks the service failed (Nomad's modes). */
enum manifest_restart_mode {
    MANIFEST_RESTART_DELAY = 1,
    MANIFEST_RESTART_FAIL,
};

/* "restart": restarts of a service that exits or fails its liveness
 * (chaos/watchtower.h); every field defaulted when absent. */
struct manifest_restart {
    uint32_t attempts;    /* restarts within interval before a crash loop, 0..100 */
    uint32_t interval_ms; /* longer than delay */
    uint32_t delay_ms;    /* the backoff's base (the second restart's wait); may be 0 */
    enum manifest_restart_mode mode;
};

struct manifest_service {
    char name[MANIFEST_ID_MAX];
    enum manifest_driver driver;
    char *command; /* an absolute path, or a name (no '/') looked up in PATH */
    char **args;   /* nargs strings, not counting the command; may hold variables */
    size_t nargs;
    struct manifest_env *env; /* nenv pairs, in the document's order */
    size_t nenv;
    char *env_file;    /* an absolute path on each node (env_file.h), or NULL: only the
                        * path is in the manifest; the node reads the values at start.
                        * May hold variables (${NODE}: one file per node on one host) */
    char *working_dir; /* an absolute path, or NULL for the node's */
    /* The user the service runs as, or NULL for chimerad's own: a user name
     * (1-32 of [A-Za-z0-9_.-], not starting with '-', an optional final '$')
     * or "UID" or "UID:GID" (decimal, below 4294967295). Whether it exists,
     * and whether chimerad may switch to it (it runs as root), is the
     * simulate stage's (probe.h). */
    char *user;
    enum manifest_port port_kind;
    uint16_t port; /* MANIFEST_PORT_FIXED: the port; otherwise 0 */
    struct manifest_health health;
    uint32_t stop_grace_ms; /* SIGTERM, then SIGKILL after this */
    struct manifest_restart restart;
};

/* The rollout policy, with Nomad's names. */
struct manifest_rollout {
    uint32_t max_parallel;         /* nodes updated at a time, 1..16 */
    uint32_t min_healthy_time_ms;  /* healthy this long: the node's update succeeded */
    uint32_t healthy_deadline_ms;  /* > min_healthy_time_ms */
    uint32_t progress_deadline_ms; /* >= healthy_deadline_ms */
    bool auto_revert;
};

struct manifest {
    char name[MANIFEST_ID_MAX];
    char version[MANIFEST_VERSION_MAX];
    char description[MANIFEST_DESCRIPTION_MAX + 1]; /* "" when absent */
    struct manifest_service services[MANIFEST_MAX_SERVICES];
    size_t nservices; /* 1..MANIFEST_MAX_SERVICES, names unique */
    struct manifest_rollout rollout;
};

struct manifest_error {
    char path[160];    /* JSON path of the first problem; "" for the document */
    char message[320]; /* one line: what is wrong and what is allowed */
};

/* Parses and validates len bytes of JSON (not NUL-terminated necessarily)
 * into *m, with every default filled in. Returns 0, or -1 with *err set and
 * *m zeroed. A document over MANIFEST_MAX_BYTES is refused before parsing;
 * invalid JSON gives jansson's line and column in the message, path "". */
int manifest_parse(const char *json, size_t len, struct manifest *m, struct manifest_error *err);

/* Releases what manifest_parse allocated and zeroes *m. NULL is accepted. */
void manifest_free(struct manifest *m);

/* What the variables expand to on one node. */
struct manifest_vars {
    const char *node;    /* ${NODE} */
    const char *name;    /* ${NAME}: the release's name */
    const char *version; /* ${VERSION} */
    uint32_t port;       /* ${PORT}; 0: the service has no port (${PORT} is an error) */
};

/* Expands the variables of tmpl into out (cap bytes, NUL-terminated).
 * Returns 0, or -1 with err->message set (err->path is "": the caller knows
 * where tmpl came from) for an unknown variable, an unterminated "${",
 * ${PORT} with vars->port 0, a NULL variable, or a result that does not fit.
 * On error out holds "". With out NULL (and cap 0) it only checks tmpl. */
int manifest_expand(const char *tmpl, const struct manifest_vars *vars, char *out, size_t cap,
                    struct manifest_error *err);

/* BLAKE2b-256 (libsodium's crypto_generichash) over MANIFEST_DIGEST_TAG
 * (without its NUL) followed by the exact submitted bytes. This is what
 * certification signs: the bytes as submitted, never a re-encoding. */
void manifest_digest(const void *json, size_t len, uint8_t out[MANIFEST_DIGEST_BYTES]);

/* The normalised manifest for GET /deployments: every key present, defaults
 * filled in, durations as integers of milliseconds under the schema's own
 * names ("interval": 1000), absent optional parts as null ("port",
 * "working_dir", "health"). The result is itself a valid manifest that
 * parses to the same struct. Returns a new reference, or NULL on allocation
 * failure. */
json_t *manifest_to_json(const struct manifest *m);

/* Parses a duration string, Go/Nomad style: one or more <number><unit>
 * with units "ms", "s", "m", "h" and an optional fraction ("1m30s",
 * "1.5s"), or "0". (In a manifest a JSON integer is milliseconds; that form
 * is manifest_parse's.) The result must be a whole number of milliseconds,
 * at most MANIFEST_MAX_DURATION_MS. Returns 0, or -1 with a short reason in
 * why: "empty", "negative", "missing unit", "unknown unit \"x\"", ... */
int manifest_parse_duration(const char *s, uint32_t *ms, char *why, size_t whylen);

/* Formats ms the way manifest_parse_duration reads it: "1m30s", "500ms",
 * "2h", "0ms". out should hold at least 32 bytes. */
void manifest_format_duration(uint32_t ms, char *out, size_t cap);
/* The same for a message's "%s": any ms (beyond UINT32_MAX ms, ~49 days,
 * it reads as that), returns out. */
const char *manifest_duration_text(uint64_t ms, char *out, size_t cap);

#endif
