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

/* Strict unsigned parse: digits only, within [min, max]. Returns 0 or -1. */
int ctl_parse_ulong(const char *s, unsigned long long min, unsigned long long max,
                    unsigned long long *out);

#endif
