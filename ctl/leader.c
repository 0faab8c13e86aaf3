/* chimeractl leader transfer [--to ID] [--json]: POST /leader/transfer
 * (README "HTTP API"), etcdctl move-leader's counterpart. The admin token
 * goes with it and a follower's 307 is followed to the leader
 * (deploy_conn.c); the leader answers once the target leads. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/deploy_int.h"

static int usage(const char *what, const char *arg)
{
    fprintf(stderr, "chimeractl: leader: %s%s%s%s (see chimeractl leader --help)\n", what,
            arg ? " '" : "", arg ? arg : "", arg ? "'" : "");
    return CTL_USAGE;
}

static int transfer(const struct ctl_opts *o, const char *to)
{
    const char *cmd = "leader transfer";
    json_t *body = to ? json_pack("{s:s}", "to", to) : json_object();
    char *payload = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (!payload)
        return CTL_FAILED;
    json_t *j;
    int rc = ctl_exchange(o, cmd, "/leader/transfer", payload,
                          "/leader/transfer (an older chimerad)", &j);
    free(payload);
    if (rc != CTL_OK)
        return rc;
    if (o->json) {
        json_dumpf(j, stdout, JSON_INDENT(2));
        putchar('\n');
    } else
        printf("leadership moved from %s to %s (term %" JSON_INTEGER_FORMAT ")\n",
               ctl_json_str(j, "from", "?"), ctl_json_str(j, "to", "?"),
               json_integer_value(json_object_get(j, "term")));
    json_decref(j);
    return CTL_OK;
}

int ctl_cmd_leader(const struct ctl_opts *o, int argc, char **argv)
{
    if (argc < 2)
        return usage("needs a subcommand: transfer", NULL);
    if (strcmp(argv[1], "transfer") != 0) {
        static const char *const names[] = {"transfer"};
        return ctl_unknown("leader command", argv[1], names, 1);
    }
    const char *to = NULL;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--to") == 0 && i + 1 < argc)
            to = argv[++i];
        else if (strncmp(argv[i], "--to=", 5) == 0)
            to = argv[i] + 5;
        else if (strcmp(argv[i], "--to") == 0)
            return usage("--to needs a member id", NULL);
        else
            return usage("unexpected argument", argv[i]);
    }
    if (to && !to[0])
        return usage("--to needs a member id", NULL);
    return transfer(o, to);
}
