/* chimeractl internals: the HTTP client (client.c), the commands
 * (commands.c) and the exit codes that scripts rely on. main.c only parses
 * the global options and dispatches. */
#ifndef CHIMERA_CTL_H
#define CHIMERA_CTL_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

/* Exit codes: part of the CLI contract, documented in --help. */
enum ctl_exit {
    CTL_OK = 0,
    CTL_UNREACHABLE = 1, /* node unreachable, or the request failed */
    CTL_USAGE = 2,       /* unknown command or option, bad number */
    CTL_SERVER = 3,      /* the node answered with an error status */
    /* `ledger verify` only (its own contract, from the ledger issue): */
    CTL_LEDGER_TORN = 3,     /* the ledger ends in a torn write */
    CTL_LEDGER_TAMPERED = 4, /* tampered with, or forked */
    /* `ledger show` only: */
    CTL_LEDGER_NO_ENTRY = 4, /* no entry at that index (beyond the head) */
};

#define CTL_DEFAULT_ADDR "127.0.0.1:8100"
#define CTL_DEFAULT_TIMEOUT_MS 3000L

struct ctl_opts {
    const char *addr;       /* host:port, or a full http:// base URL */
    bool json;              /* machine-readable output */
    long timeout_ms;        /* per request */
    const char *token_file; /* admin token, read only by mutations */
};

/* One HTTP exchange. A transport failure leaves status 0 and fills error;
 * otherwise status is the HTTP status and json is the parsed body, or NULL
 * when the body is not JSON (text stays available either way). */
struct ctl_reply {
    long status;
    json_t *json;
    char *text;
    size_t len;
    char error[256];
    char location[1024]; /* a 3xx's Location, made absolute; "" otherwise */
};

struct ctl_client;

/* NULL only when out of memory or when curl cannot be initialised. */
struct ctl_client *ctl_client_new(const struct ctl_opts *o);
void ctl_client_free(struct ctl_client *cl);

/* Returns 0 when the node answered (any status), -1 on transport failure.
 * Aborts early (returns -1, error "interrupted") once *cancel is non-zero,
 * so a Ctrl-C during --follow does not wait out the timeout. */
int ctl_get(struct ctl_client *cl, const char *path, struct ctl_reply *r);
/* token may be NULL; body may be NULL (an empty JSON object is sent). */
int ctl_post(struct ctl_client *cl, const char *path, const json_t *body, const char *token,
             struct ctl_reply *r);
/* POSTs payload (a NUL-terminated document) exactly as given, byte for
 * byte: a manifest is signed over the bytes submitted, never a
 * re-encoding. */
int ctl_post_raw(struct ctl_client *cl, const char *path, const char *payload, const char *token,
                 struct ctl_reply *r);
void ctl_reply_free(struct ctl_reply *r);

/* Lets long-running commands abort a request in flight (set from a signal
 * handler). May be NULL. */
void ctl_client_set_cancel(struct ctl_client *cl, volatile int *cancel);

/* Reads the admin token (trimmed of surrounding whitespace) into a malloc'd
 * string. Returns NULL with one line in err on failure. */
char *ctl_read_token(const char *path, char *err, size_t errlen);

/* Maps a failed or error reply to an exit code after printing one line to
 * stderr: CTL_UNREACHABLE for transport failures and replies that are not
 * the JSON we expect, CTL_SERVER for error statuses. rc is ctl_get's
 * result. Returns CTL_OK when the reply is a 2xx JSON answer. */
int ctl_check_reply(const struct ctl_opts *o, int rc, const struct ctl_reply *r);

/* Commands: argv[0] is the command name; argv holds only the arguments the
 * global parser did not consume. Each returns an enum ctl_exit. */
int ctl_cmd_status(const struct ctl_opts *o, int argc, char **argv);
int ctl_cmd_events(const struct ctl_opts *o, int argc, char **argv);
int ctl_cmd_keygen(const struct ctl_opts *o, int argc, char **argv);
/* ledger.c: offline commands on a ledger's files (ledger verify). */
int ctl_cmd_ledger(const struct ctl_opts *o, int argc, char **argv);
/* ledger_view.c: the `ledger` command: show, tail and head ask a running
 * node; verify is passed on to ctl_cmd_ledger. */
int ctl_cmd_ledger_any(const struct ctl_opts *o, int argc, char **argv);
/* ledger_payload.c: decodes an entry object's "payload" (hex of msgpack)
 * into JSON (a new reference), or returns NULL with the reason in *why
 * ("empty" for a payload of no bytes). */
json_t *ctl_decode_payload(const json_t *entry, const char **why);

/* deploy.c: deploy, deployments, deployment and rollback (POST
 * /deployments, GET /deployments[/ID], POST /rollback). deploy has its own
 * exit codes (CTL_DEPLOY_*); the others use the common ones, except that
 * rollback answers 2 when the node refuses it (409, 404). */
enum ctl_deploy_exit {
    CTL_DEPLOY_STABLE = 0,   /* stable (or submitted, without --wait) */
    CTL_DEPLOY_ERROR = 1,    /* unreachable, refused otherwise, failed, timed out */
    CTL_DEPLOY_REJECTED = 2, /* rejected before deploying: bad manifest, 409, 422, usage */
    CTL_DEPLOY_REVERTED = 3, /* failed and reverted to the last stable release */
};
int ctl_cmd_deploy(const struct ctl_opts *o, int argc, char **argv);
int ctl_cmd_deployments(const struct ctl_opts *o, int argc, char **argv);
int ctl_cmd_deployment(const struct ctl_opts *o, int argc, char **argv);
int ctl_cmd_rollback(const struct ctl_opts *o, int argc, char **argv);

/* deploy_view.c: how deployments are printed for people. */
/* The plan of a POST /deployments answer (202, 200 dry run, 422):
 * simulation issues, healing changes, certification links. */
void ctl_print_plan(const json_t *answer);
/* GET /deployments as a table, current and stable marked. */
void ctl_print_deployments(const json_t *list);
/* GET /deployments/ID: fields, per-node table, events. */
void ctl_print_deployment(const json_t *d);
/* Progress of a deployment being watched: compares d with *last (NULL the
 * first time) and prints one line per change (the stage, then each node
 * whose desired or running release or health changed), or with as_json one
 * compact object per change. *last becomes a copy of d. Nodes report the
 * deployment id they run; list (GET /deployments, may be NULL) names its
 * version. */
void ctl_print_progress(json_t **last, const json_t *d, const json_t *list, bool as_json);
/* Whether every deployment id the nodes of d name is d's own or in list. */
bool ctl_progress_names_known(const json_t *d, const json_t *list);
/* Local wall-clock time as "HH:MM:SS" (UTC). */
void ctl_clock(char *buf, size_t len);
/* A JSON integer of Unix ms as "2026-11-25T05:50:01Z" ("-" otherwise). */
void ctl_iso_ms(const json_t *ms, char *buf, size_t len);

/* Strict unsigned parse: digits only, within [min, max]. Returns 0 or -1. */
int ctl_parse_ulong(const char *s, unsigned long long min, unsigned long long max,
                    unsigned long long *out);

#endif
