/* chimeractl: the operator CLI, a client of chimerad's HTTP API.
 * This file only separates the global options (accepted before or after the
 * command, like kubectl's) from the command's own arguments. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/ctl.h"

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
    {"version", ctl_cmd_version},
    {"drill", ctl_cmd_drill},
    {"chaos", ctl_cmd_chaos},
    {"recovery", ctl_cmd_recovery},
    {"health", ctl_cmd_health},
    {"leader", ctl_cmd_leader},
    /* clang-format on */
};

/* The value of a global option, refused with exit 2 and where it came
 * from when it is not a valid --addr list. */
static int check_addr(const struct ctl_opts *o)
{
    char err[512];
    if (ctl_parse_endpoints(o->addr, NULL, CTL_MAX_ENDPOINTS, err, sizeof err) >= 0)
        return CTL_OK;
    fprintf(stderr, "chimeractl: invalid %s: %s\n", o->addr_from, err);
    return CTL_USAGE;
}

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
        .addr_from = "CHIMERA_ADDR",
        .timeout_ms = CTL_DEFAULT_TIMEOUT_MS,
        .token_file = getenv("CHIMERA_ADMIN_TOKEN_FILE"),
    };
    /* The token file is read once, here: every request sends the token. */
    char token_err[512] = "", *token = NULL;
    o.token_err = token_err;
    if (!o.addr || !*o.addr) {
        o.addr = CTL_DEFAULT_ADDR;
        o.addr_from = "default address";
    }

    /* The command's own argv: its name first, then whatever is not global. */
    char **rest = calloc((size_t)argc + 1, sizeof *rest);
    if (!rest) {
        fprintf(stderr, "chimeractl: out of memory\n");
        return CTL_FAILED;
    }
    int nrest = 0;
    bool only_args = false, help = false;
    int rc = -1;
    for (int i = 1; i < argc && rc < 0; i++) {
        const char *a = argv[i];
        const char *val;
        if (only_args || a[0] != '-' || a[1] == '\0') {
            rest[nrest++] = argv[i];
        } else if (strcmp(a, "--") == 0) {
            only_args = true;
            rest[nrest++] = argv[i]; /* the command sees it too (ledger note -- -x) */
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            help = true;
        } else if (strcmp(a, "--version") == 0) {
            printf("chimeractl %s\n", CHIMERA_VERSION);
            rc = CTL_OK;
        } else if (strcmp(a, "--json") == 0) {
            o.json = true;
        } else if (take_value(argc, argv, &i, "--addr", &val)) {
            if (!val || !*val)
                rc = usage_error("--addr needs HOST:PORT[,HOST:PORT...], got", val ? val : "");
            o.addr = val;
            o.addr_from = "--addr";
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
            rc = ctl_bad_argument("", a);
        }
    }
    /* "--" was only a separator for the global parser, except for the
     * commands that take free text. */
    if (rc < 0 && nrest > 0 && strcmp(rest[0], "ledger") != 0) {
        int k = 0;
        for (int i = 0; i < nrest; i++)
            if (strcmp(rest[i], "--") != 0)
                rest[k++] = rest[i];
        nrest = k;
    }
    if (rc < 0 && help) /* COMMAND --help, help COMMAND: the same page */
        rc = nrest > 0 && strcmp(rest[0], "help") == 0 ? ctl_help(nrest - 1, rest + 1)
                                                       : ctl_help(nrest, rest);
    if (rc < 0 && nrest == 0) {
        ctl_help_global(stderr);
        rc = CTL_USAGE;
    }
    if (rc < 0 && strcmp(rest[0], "help") == 0)
        rc = ctl_help(nrest - 1, rest + 1);
    for (size_t c = 0; rc < 0 && c < sizeof commands / sizeof commands[0]; c++)
        if (strcmp(rest[0], commands[c].name) == 0) {
            bool offline =
                strcmp(rest[0], "keygen") == 0 ||
                (strcmp(rest[0], "ledger") == 0 && nrest > 1 && strcmp(rest[1], "verify") == 0) ||
                (strcmp(rest[0], "version") == 0 && nrest > 1 &&
                 strcmp(rest[1], "--client") == 0) ||
                (strcmp(rest[0], "drill") == 0 && nrest > 1 && strcmp(rest[1], "run") != 0 &&
                 strcmp(rest[1], "history") != 0);
            rc = offline ? CTL_OK : check_addr(&o);
            if (rc == CTL_OK && !offline && o.token_file && *o.token_file)
                o.token = token = ctl_read_token(o.token_file, token_err, sizeof token_err);
            if (rc == CTL_OK)
                rc = commands[c].run(&o, nrest, rest);
        }
    if (rc < 0)
        rc = ctl_unknown_command(rest[0]);
    ctl_free_token(token);
    free(rest);
    return rc;
}
