/* chimeractl: the operator CLI, a client of chimerad's HTTP API.
 * This file only separates the global options (accepted before or after the
 * command, like kubectl's) from the command's own arguments. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/ctl/ctl.h"

static const char usage[] =
    "Usage: chimeractl [global options] <command> [command options]\n"
    "\n"
    "Commands:\n"
    "  status                      federation state as seen by the node: leader, term,\n"
    "                              quorum and every member's liveness\n"
    "  events [--limit N] [--since SEQ] [--follow]\n"
    "                              recent events, oldest first (default limit 50, at most\n"
    "                              1000); --since shows those after SEQ; --follow keeps\n"
    "                              polling until Ctrl-C and rides out node restarts\n"
    "  keygen [--out FILE]         a new cluster key (64 hex digits); FILE is created with\n"
    "                              mode 0600 and never overwritten\n"
    "  ledger show INDEX           one ledger entry: index, term, type, time (UTC), author,\n"
    "                              hash, prev_hash, checkpoint coverage and the payload\n"
    "                              decoded from msgpack (--json: the node's entry object\n"
    "                              plus \"payload_decoded\")\n"
    "  ledger tail [-n N] [--follow]\n"
    "                              the last N entries (default 10), one line each (--json:\n"
    "                              one object per line); --follow prints new entries as\n"
    "                              they appear until Ctrl-C\n"
    "  ledger head                 the node's ledger head, committed index and last\n"
    "                              checkpoint with its signers\n"
    "  ledger verify --data DIR [--pubkey HEX ...]\n"
    "                              check a ledger offline (a stopped node's data directory,\n"
    "                              or a copy): framing, CRCs, hash chain, checkpoint\n"
    "                              signatures (by the pinned --pubkey keys, else by the keys\n"
    "                              its membership entries record); reports the first bad\n"
    "                              index and byte offset, and entries verified per second\n"
    "  deploy FILE [--dry-run] [--wait] [--timeout DURATION]\n"
    "                              submit a release manifest (FILE, or - for stdin) to the\n"
    "                              leader: prints the plan (simulation issues, healing,\n"
    "                              certification) and the deployment id; --dry-run only\n"
    "                              prints the plan; --wait follows the rollout per stage\n"
    "                              and node until it is stable or reverted (--timeout,\n"
    "                              default 10m); --json with --wait: one object per change,\n"
    "                              then the final deployment\n"
    "  deployments                 every deployment, newest first; current and stable marked\n"
    "  deployment ID [--watch] [--timeout DURATION]\n"
    "                              one deployment: stage, nodes, events; --watch prints\n"
    "                              changes until it ends (0 stable or reverted, 1 otherwise)\n"
    "  rollback [--to VERSION] [--wait] [--timeout DURATION]\n"
    "                              roll every node back to the last stable release (or to an\n"
    "                              earlier stable VERSION); --wait until it is done\n"
    "\n"
    "Global options (before or after the command):\n"
    "  --addr HOST:PORT            node HTTP address (env CHIMERA_ADDR; default " CTL_DEFAULT_ADDR
    ")\n"
    "  --json                      machine-readable output (events: one object per line)\n"
    "  --timeout-ms N              per-request timeout (default 3000)\n"
    "  --token-file FILE           admin token for mutations (deploy, rollback; env\n"
    "                              CHIMERA_ADMIN_TOKEN_FILE)\n"
    "  -h, --help                  this text\n"
    "  --version                   print the version\n"
    "\n"
    "Exit status:\n"
    "  0  success\n"
    "  1  the node is unreachable or the request failed\n"
    "  2  usage error (unknown command or option, bad number)\n"
    "  3  the node answered with an error status (its message is printed)\n"
    "  ledger show: 4 no entry at INDEX (beyond the node's head)\n"
    "  deploy: 0 stable (or submitted, without --wait), 1 error (unreachable,\n"
    "  read-only, failed without a rollback, --timeout), 2 rejected before deploying\n"
    "  (invalid manifest, not certified, another deployment in progress; a dry run\n"
    "  that would be rejected), 3 failed and reverted to the last stable release\n"
    "  rollback: 2 refused (nothing to roll back to, already running it, no such\n"
    "  stable version); with --wait 1 when the rollback fails\n"
    "  ledger verify: 0 ok, 3 torn tail (a crash cut the last write; the node\n"
    "  repairs it at start), 4 tampered or forked, 1 unreadable, 2 usage\n";

struct command {
    const char *name;
    int (*run)(const struct ctl_opts *o, int argc, char **argv);
};

static const struct command commands[] = {
    /* clang-format off */
    {"status", ctl_cmd_status},
    {"events", ctl_cmd_events},
    {"keygen", ctl_cmd_keygen},
    {"ledger", ctl_cmd_ledger_any},
    {"deploy", ctl_cmd_deploy},
    {"deployments", ctl_cmd_deployments},
    {"deployment", ctl_cmd_deployment},
    {"rollback", ctl_cmd_rollback},
    /* clang-format on */
};

static int usage_error(const char *what, const char *arg)
{
    fprintf(stderr, "chimeractl: %s '%s' (see chimeractl --help)\n", what, arg);
    return CTL_USAGE;
}

/* Matches "--name value" and "--name=value"; advances *i past the value. */
static int take_value(int argc, char **argv, int *i, const char *name, const char **val)
{
    size_t n = strlen(name);
    const char *a = argv[*i];
    if (strncmp(a, name, n) != 0)
        return 0;
    if (a[n] == '=') {
        *val = a + n + 1;
        return 1;
    }
    if (a[n] != '\0')
        return 0;
    if (*i + 1 >= argc) {
        *val = NULL;
        return 1;
    }
    *val = argv[++*i];
    return 1;
}

int main(int argc, char **argv)
{
    struct ctl_opts o = {
        .addr = getenv("CHIMERA_ADDR"),
        .timeout_ms = CTL_DEFAULT_TIMEOUT_MS,
        .token_file = getenv("CHIMERA_ADMIN_TOKEN_FILE"),
    };
    if (!o.addr || !*o.addr)
        o.addr = CTL_DEFAULT_ADDR;

    /* The command's own argv: its name first, then whatever is not global. */
    char **rest = calloc((size_t)argc + 1, sizeof *rest);
    if (!rest) {
        fprintf(stderr, "chimeractl: out of memory\n");
        return CTL_UNREACHABLE;
    }
    int nrest = 0;
    bool only_args = false;
    int rc = -1;
    for (int i = 1; i < argc && rc < 0; i++) {
        const char *a = argv[i];
        const char *val;
        if (only_args || a[0] != '-' || a[1] == '\0') {
            rest[nrest++] = argv[i];
        } else if (strcmp(a, "--") == 0) {
            only_args = true;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(usage, stdout);
            rc = CTL_OK;
        } else if (strcmp(a, "--version") == 0) {
            printf("chimeractl %s\n", CHIMERA_VERSION);
            rc = CTL_OK;
        } else if (strcmp(a, "--json") == 0) {
            o.json = true;
        } else if (take_value(argc, argv, &i, "--addr", &val)) {
            if (!val || !*val)
                rc = usage_error("--addr needs HOST:PORT, got", val ? val : "");
            o.addr = val;
        } else if (take_value(argc, argv, &i, "--token-file", &val)) {
            if (!val || !*val)
                rc = usage_error("--token-file needs a file, got", val ? val : "");
            o.token_file = val;
        } else if (take_value(argc, argv, &i, "--timeout-ms", &val)) {
            unsigned long long ms;
            if (ctl_parse_ulong(val, 1, 3600000, &ms) != 0)
                rc = usage_error("--timeout-ms needs milliseconds from 1 to 3600000, got",
                                 val ? val : "");
            o.timeout_ms = (long)ms;
        } else if (nrest > 0) {
            rest[nrest++] = argv[i]; /* the command's option; it judges */
        } else {
            rc = usage_error("unknown option", a);
        }
    }
    if (rc >= 0) {
        free(rest);
        return rc;
    }
    if (nrest == 0) {
        fputs(usage, stderr);
        free(rest);
        return CTL_USAGE;
    }
    if (strcmp(rest[0], "help") == 0) {
        fputs(usage, stdout);
        free(rest);
        return CTL_OK;
    }
    for (size_t c = 0; c < sizeof commands / sizeof commands[0]; c++)
        if (strcmp(rest[0], commands[c].name) == 0) {
            rc = commands[c].run(&o, nrest, rest);
            free(rest);
            return rc;
        }
    rc = usage_error("unknown command", rest[0]);
    free(rest);
    return rc;
}
