/* chimeractl internals: the HTTP client (client.c), the commands
 * (commands.c) and the exit codes that scripts rely on. main.c only parses
 * the global options and dispatches. */
#ifndef CHIMERA_CTL_H
#define CHIMERA_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

/* Exit codes: part of the CLI contract, the table in README "Exit codes"
 * and in `chimeractl help exit-codes`. 0-3 keep the meanings they had; the
 * cases that used to hide under 1 and 3 got codes of their own. Commands
 * never pick a number themselves: they name an outcome and ctl_exit_code
 * maps it (exit.c). */
enum ctl_exit {
    CTL_OK = 0,
    CTL_FAILED = 1,         /* failed otherwise (an answer we cannot use, I/O) */
    CTL_UNREACHABLE = 1,    /* the old name of CTL_FAILED (ledger verify uses it) */
    CTL_USAGE = 2,          /* unknown command or option, bad value, bad --addr */
    CTL_SERVER = 3,         /* the node answered with another error status */
    CTL_NOT_FOUND = 4,      /* 404: no such deployment, no entry at that index */
    CTL_CANNOT_CONNECT = 5, /* no endpoint answered */
    CTL_AUTH = 6,           /* 401/403: token missing, wrong, or mutations off */
    CTL_UNAVAILABLE = 7,    /* 503 (read-only, no leader); status: not healthy */
    CTL_CONFLICT = 8,       /* 409 (deploy and rollback keep their 2) */
    CTL_TIMEOUT = 9,        /* a --timeout of --wait/--watch passed */
    /* `ledger verify` only (its own contract, from the ledger issue): */
    CTL_LEDGER_TORN = 3,     /* the ledger ends in a torn write */
    CTL_LEDGER_TAMPERED = 4, /* tampered with, or forked */
    /* `ledger show` only: */
    CTL_LEDGER_NO_ENTRY = 4, /* no entry at that index (beyond the head) */
};

/* What happened, before it becomes an exit code. */
enum ctl_outcome {
    CTL_O_OK,
    CTL_O_FAILED,
    CTL_O_USAGE,
    CTL_O_NO_ANSWER,   /* no endpoint answered (refused, timed out, no such host) */
    CTL_O_AUTH,        /* 401, 403 */
    CTL_O_NOT_FOUND,   /* 404 */
    CTL_O_CONFLICT,    /* 409 */
    CTL_O_INVALID,     /* 400, 422: the request itself was refused */
    CTL_O_UNAVAILABLE, /* 503 */
    CTL_O_SERVER,      /* any other error status */
    CTL_O_REVERTED,    /* deploy --wait: failed, and the rollback restored the last stable */
    CTL_O_TIMEOUT,     /* the command's own --timeout passed */
};

/* Commands whose codes predate the common scheme and were kept. */
enum ctl_family {
    CTL_FAM_COMMON,
    CTL_FAM_DEPLOY,   /* 400, 422, 409 and a rejected dry run: 2 */
    CTL_FAM_ROLLBACK, /* refused (409, 404): 2 */
};

/* The one mapping from an outcome to an exit code (exit.c). */
int ctl_exit_code(enum ctl_family fam, enum ctl_outcome oc);
/* An HTTP status as an outcome: 2xx OK, 401/403 AUTH, 404 NOT_FOUND, ... */
enum ctl_outcome ctl_outcome_of_status(long status);

/* The flags every JSON chimeractl prints adds: reals with 15 significant
 * digits, as the nodes write them: a probability of 0.15 prints "0.15",
 * where jansson's default (%.17g) prints 0.14999999999999999. Any decimal
 * of up to 15 digits reads back as the double it was. Not for a drill
 * journal: its digest is over the full precision, which a reader must get
 * back from the file. */
#define CTL_JSON_REAL JSON_REAL_PRECISION(15)

/* Used when neither --addr nor CHIMERA_ADDR is given: a single chimerad on
 * its default HTTP port, then `make run`'s three nodes. */
#define CTL_DEFAULT_ADDR "127.0.0.1:8100,127.0.0.1:8101,127.0.0.1:8102,127.0.0.1:8103"
#define CTL_DEFAULT_TIMEOUT_MS 3000L
#define CTL_MAX_ENDPOINTS 16
/* The connect timeout of a look for the leader among addresses: a node on
 * a working network connects in far less. */
#define CTL_LOOKUP_CONNECT_MS 500L

/* One endpoint of --addr: base is scheme://host:port[/prefix] with no
 * trailing slash; shown is the text the user gave. */
struct ctl_endpoint {
    char base[512];
    char shown[256];
};

/* Parses a comma-separated --addr list ("HOST:PORT", "[v6]:PORT",
 * "http(s)://HOST[:PORT][/prefix]"). Returns the number of endpoints, or -1
 * with one line in err saying which item is wrong and why. out may be NULL
 * (validation only). */
int ctl_parse_endpoints(const char *list, struct ctl_endpoint *out, size_t max, char *err,
                        size_t errlen);

struct ctl_opts;
/* An address for a message, written as the user writes them in --addr
 * (CHIMERA_ADDR), so that every message writes addresses one way and each
 * can be pasted back: addr is a base URL ("http://127.0.0.1:8102", a
 * leader's from a redirect) or what a node advertises ("127.0.0.1:8102").
 * With the scheme when the user's --addr has one; else without it, but for
 * an address that cannot be written so (https://, a path). Returns out. */
const char *ctl_addr_text(const struct ctl_opts *o, const char *addr, char *out, size_t len);

/* addr as a base URL into out: "http://" before it when it names no
 * scheme (a node advertises host:port). Returns out. */
const char *ctl_base_url(const char *addr, char *out, size_t len);

struct ctl_opts {
    const char *addr;      /* endpoints: "host:port,..." or base URLs (validated) */
    const char *addr_from; /* where addr came from: "--addr", "CHIMERA_ADDR", "default" */
    bool json;             /* machine-readable output */
    long timeout_ms;       /* per request */
    /* How long a connection may take to open (0 or more than timeout_ms:
     * timeout_ms). A look for a node among several sets it short: an
     * address that silently drops connections must not cost the whole
     * request timeout per endpoint. */
    long connect_timeout_ms;
    const char *token_file; /* the admin token's file */
    /* The token in it, read once by main.c before the command runs (NULL
     * when there is no file, or with token_err saying why it cannot be
     * read): sent with every request, required by mutations. */
    const char *token;
    const char *token_err;
};

/* One HTTP exchange. A transport failure leaves status 0 and fills error;
 * otherwise status is the HTTP status and json is the parsed body, or NULL
 * when the body is not JSON (text stays available either way). */
struct ctl_reply {
    long status;
    json_t *json;
    char *text;
    size_t len;
    char error[1024];
    char location[1024]; /* a 3xx's Location, made absolute; "" otherwise */
    bool no_answer;      /* the failure is that no endpoint answered */
    char endpoint[256];  /* the endpoint that answered, or the list tried */
};

struct ctl_client;

/* NULL only when out of memory or when curl cannot be initialised. The
 * endpoints of o->addr are tried in order until one answers (any HTTP
 * status); that one serves every later request of this client. */
struct ctl_client *ctl_client_new(const struct ctl_opts *o);
void ctl_client_free(struct ctl_client *cl);
/* The endpoint that answered (the first one until then), as the user gave
 * it: for messages. */
const char *ctl_client_addr(const struct ctl_client *cl);

/* Returns 0 when the node answered (any status), -1 on transport failure.
 * Aborts early (returns -1, error "interrupted") once *cancel is non-zero,
 * so a Ctrl-C during --follow does not wait out the timeout. */
int ctl_get(struct ctl_client *cl, const char *path, struct ctl_reply *r);
/* GET path as a stream: a 2xx answer's body goes to on_data as it arrives
 * (return false to stop), for as long as the node sends it; the exchange
 * fails when nothing arrives for idle_ms. headers: more header lines
 * ("Name: value"), NULL-terminated, or NULL. Results as ctl_get: 0 once the
 * node answered and the stream ended (another status's body is in r), -1
 * on transport failure. */
int ctl_stream(struct ctl_client *cl, const char *path, const char *const *headers, long idle_ms,
               bool (*on_data)(void *arg, const char *p, size_t n), void *arg, struct ctl_reply *r);
/* Server-Sent Events read from a stream (sse.c, pure). Zero-initialise;
 * ctl_sse_feed the bytes as they come: fn gets each event's id (the last
 * "id:" seen, "" none) and data (its "data:" lines joined by newlines).
 * -1 when a line passes CTL_SSE_MAX_LINE bytes or memory runs out. */
#define CTL_SSE_MAX_LINE (4u * 1024u * 1024u)
struct ctl_sse {
    char *line, *data;
    size_t len, cap, dlen, dcap;
    bool has_data, after_cr;
    char id[64];
};
typedef void (*ctl_sse_fn)(void *arg, const char *id, const char *data);
int ctl_sse_feed(struct ctl_sse *s, const char *p, size_t n, ctl_sse_fn fn, void *arg);
void ctl_sse_free(struct ctl_sse *s);

/* token may be NULL; body may be NULL (an empty JSON object is sent). */
int ctl_post(struct ctl_client *cl, const char *path, const json_t *body, const char *token,
             struct ctl_reply *r);
/* POSTs payload (a NUL-terminated document) exactly as given, byte for
 * byte: a manifest is signed over the bytes submitted, never a
 * re-encoding. */
int ctl_post_raw(struct ctl_client *cl, const char *path, const char *payload, const char *token,
                 struct ctl_reply *r);
void ctl_reply_free(struct ctl_reply *r);
/* The /federation/state of the --addr endpoint that is node `node` (a new
 * reference), its base URL into base (may be NULL); NULL when none is. The
 * address a node gives for itself is its own listen address, which a client
 * outside its network (a container's published port, NAT) cannot reach;
 * the user's --addr list can. */
json_t *ctl_addr_state_of(const struct ctl_opts *o, const char *node, char *base, size_t blen);

/* Lets long-running commands abort a request in flight (set from a signal
 * handler). May be NULL. */
void ctl_client_set_cancel(struct ctl_client *cl, volatile int *cancel);

/* Reads the admin token (trimmed of surrounding whitespace) into a malloc'd
 * string. Returns NULL with one line in err on failure. */
char *ctl_read_token(const char *path, char *err, size_t errlen);

/* file.c: a document (a manifest, a drill) read whole from file ("-":
 * stdin), malloc'd and NUL-terminated, *len its bytes kept: at most
 * max + 1, so that a caller sees it is too large; *size (may be NULL) the
 * whole input's, the rest read and not kept, for the error to say how
 * large. NULL with "cannot read FILE: why" in why. */
char *ctl_file_read(const char *file, size_t max, size_t *len, size_t *size, char *why,
                    size_t whylen);

/* An answer's body as curl delivers it, NUL-terminated; past max bytes the
 * transfer fails with too_big set. */
struct ctl_body {
    char *buf;
    size_t len, cap, max;
    bool too_big;
};
/* The CURLOPT_WRITEFUNCTION for a struct ctl_body. */
size_t ctl_body_write(char *ptr, size_t size, size_t nmemb, void *userdata);

/* The outcome of an exchange: NO_ANSWER (or FAILED: interrupted, too big)
 * when rc != 0, else that of the status; a 2xx that is not JSON FAILED. */
enum ctl_outcome ctl_outcome_of_reply(int rc, const struct ctl_reply *r);

/* Maps a failed or error reply to an exit code (common family) after
 * printing one line to stderr. rc is ctl_get's result. Returns CTL_OK when
 * the reply is a 2xx JSON answer. */
int ctl_check_reply(int rc, const struct ctl_reply *r);
/* The line ctl_check_reply prints for a failure, for callers that print
 * their own: "cannot reach ... " or the node's error with its status. */
void ctl_say_failure(const char *cmd, int rc, const struct ctl_reply *r);

/* Commands: argv[0] is the command name; argv holds only the arguments the
 * global parser did not consume. Each returns an enum ctl_exit. */
int ctl_cmd_status(const struct ctl_opts *o, int argc, char **argv);
int ctl_cmd_events(const struct ctl_opts *o, int argc, char **argv);
int ctl_cmd_keygen(const struct ctl_opts *o, int argc, char **argv);
/* status.c: status (with every member's release, health and service
 * ports) and version. */
int ctl_cmd_version(const struct ctl_opts *o, int argc, char **argv);
/* ledger_note.c: ledger note TEXT... (POST /ledger/notes). */
int ctl_cmd_ledger_note(const struct ctl_opts *o, int argc, char **argv);
/* The admin token of o (--token-file, CHIMERA_ADMIN_TOKEN_FILE), or NULL
 * after one line on stderr naming cmd. It belongs to o. */
const char *ctl_token_for(const struct ctl_opts *o, const char *cmd);
/* Wipes and frees what ctl_read_token returned. */
void ctl_free_token(char *tok);

/* help.c: per-command help and "did you mean". */
/* The global help. */
void ctl_help_global(FILE *f);
/* Help for words[0..n) ("deploy", "ledger verify", "exit-codes"): printed
 * to stdout, CTL_OK; an unknown one gets a suggestion and CTL_USAGE. */
int ctl_help(int n, char **words);
/* The known name nearest to word (edit distance, at most 2 edits, or 1 for
 * a short word), or NULL. */
const char *ctl_nearest(const char *word, const char *const *names, size_t n);
/* Says "unknown command 'x'" (with "did you mean 'y'?" when one is near)
 * for `what` ("command", "ledger command") among names; CTL_USAGE. */
int ctl_unknown(const char *what, const char *word, const char *const *names, size_t n);
/* The option nearest to word ("--wiat", "--timeot=5m") among those the
 * help page of cmd ("deploy", "ledger tail") names and the global ones, or
 * NULL. */
const char *ctl_nearest_option(const char *cmd, const char *word);
/* Refuses arg, an argument command cmd does not take: "unknown option"
 * (with "did you mean" when one is near) when it starts with '-', else
 * "unexpected argument"; both point at cmd's page. CTL_USAGE. */
int ctl_bad_argument(const char *cmd, const char *arg);
/* The same for a top-level command and a ledger subcommand. */
int ctl_unknown_command(const char *word);
int ctl_unknown_ledger_command(const char *word);
/* For a word that is no `what` but names something else the user likely
 * meant (a drill, a fault kind): says so with the command that does it
 * (`how`), and returns CTL_USAGE. */
int ctl_unknown_meant(const char *what, const char *word, const char *how);
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
    CTL_DEPLOY_ERROR = 1,    /* failed without a rollback, or an answer not understood */
    CTL_DEPLOY_REJECTED = 2, /* rejected before deploying: bad manifest, 409, 422, usage */
    CTL_DEPLOY_REVERTED = 3, /* failed and reverted to the last stable release */
    /* and the common 5 cannot connect, 6 auth, 7 unavailable, 9 timeout */
};
int ctl_cmd_deploy(const struct ctl_opts *o, int argc, char **argv);
int ctl_cmd_deployments(const struct ctl_opts *o, int argc, char **argv);
int ctl_cmd_deployment(const struct ctl_opts *o, int argc, char **argv);
int ctl_cmd_rollback(const struct ctl_opts *o, int argc, char **argv);

/* drill.c, drill_run.c: drill validate|list|run (chaos/drill.h). An
 * invalid drill file is a usage error (2), as an invalid manifest is for
 * deploy; a run has two codes of its own. */
enum ctl_drill_exit {
    CTL_DRILL_DEVIATED = 10, /* a fault's recovery missed its SLO, or the steady state was lost */
    CTL_DRILL_COULD_NOT_RUN = 11, /* the steady state did not hold at the start, or a step failed */
    /* The verdict held, but a rollback failed: a fault or a stopped node
     * may remain, which the verdict (about the hypothesis) does not say. */
    CTL_DRILL_ROLLBACK_FAILED = 12,
};
int ctl_cmd_drill(const struct ctl_opts *o, int argc, char **argv);
/* chaos.c: chaos status|enable|disable|stop|inject (the node's /chaos). */
int ctl_cmd_chaos(const struct ctl_opts *o, int argc, char **argv);
/* POST /chaos/stop to the node at http itself (the kill switch's local
 * half): it heals what is applied on it, even cut off from the leader,
 * whose committed stop such a node does not hear until its fault expires.
 * A node that knows the leader answers 307 after healing; the redirect is
 * not followed (the leader's stop is the caller's). The faults it healed,
 * or -1 when it did not answer so (http NULL: unknown). */
int ctl_chaos_stop_at(const struct ctl_opts *o, const char *token, const char *http);
/* recovery.c: every member's recovery watchtower (GET /recovery). */
int ctl_cmd_recovery(const struct ctl_opts *o, int argc, char **argv);
int ctl_cmd_drill_run(const struct ctl_opts *o, int argc, char **argv);
int ctl_cmd_drill_history(const struct ctl_opts *o, int argc, char **argv);
/* health.c: health [--ready], one probe of /health/live (or /ready). */
int ctl_cmd_health(const struct ctl_opts *o, int argc, char **argv);
/* leader.c: leader transfer [--to ID] (POST /leader/transfer). */
int ctl_cmd_leader(const struct ctl_opts *o, int argc, char **argv);

/* deploy_view.c: how deployments are printed for people. */
/* The plan of a POST /deployments answer (202, 200 dry run, 422):
 * simulation issues, healing changes, certification links. */
void ctl_print_plan(const json_t *answer);
/* A dry run's plan that is not certified only for critical issues healing
 * would mend, all of them healable and healing listed ("would_run"): the
 * real deploy heals first and is then certified, if the healing works. */
bool ctl_plan_certified_after_healing(const json_t *answer);
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
/* Marks each node of d that the deployment passed over as down with its
 * liveness now ("member": "alive", "dead", ...: its peers[] status in
 * state, GET /federation/state of the node d came from), so that the views
 * show a member that came back as it is now and the skip as past. Whether
 * d names such a node, for asking state only then. */
void ctl_mark_members(json_t *d, const json_t *state);
bool ctl_deployment_skipped_some(const json_t *d);
/* Local wall-clock time as "HH:MM:SS" (UTC). */
void ctl_clock(char *buf, size_t len);
/* A JSON integer of Unix ms as "2026-11-25T05:50:01Z", or with millis
 * "2026-11-25T05:50:01.042Z"; "-" when it is not a positive integer (0
 * means "not yet" in a deployment's fields). */
void ctl_iso_ms(const json_t *ms, bool millis, char *buf, size_t len);

/* duration.c: the one way chimeractl writes a duration for people, as a
 * drill file does ("101ms", "2s685ms", "10m", zero "0ms"). */
/* ms, negative as 0; returns out (32 bytes hold any). */
const char *ctl_ms_text(int64_t ms, char *out, size_t cap);
/* A JSON number of ms (last_contact_ms, an MTTR) the same way, rounded to
 * the ms; "never" when v is not a non-negative number. */
void ctl_human_ms(const json_t *v, char *out, size_t len);
/* The duration at the start of s as a node's message writes it ("2s685ms",
 * up to a ',' or the end), or as nodes wrote it before ("412 ms"); -1 if
 * there is none. */
int64_t ctl_ms_of_text(const char *s);

/* interrupt.c: Ctrl-C for the commands that follow or wait. */
/* Set by SIGINT/SIGTERM once ctl_catch_signals ran; hand it to
 * ctl_client_set_cancel to cut a request in flight short too. */
extern volatile int ctl_interrupted;
void ctl_catch_signals(void);
/* Sleeps ms, or less when interrupted. */
void ctl_sleep_ms(long ms);
int64_t ctl_mono_ms(void);

/* Strict unsigned parse: digits only, within [min, max]. Returns 0 or -1. */
int ctl_parse_ulong(const char *s, unsigned long long min, unsigned long long max,
                    unsigned long long *out);

#endif
