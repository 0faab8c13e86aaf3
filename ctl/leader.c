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
    const char *token = ctl_token_for(o, cmd);
    if (!token)
        return CTL_USAGE;
    json_t *body = to ? json_pack("{s:s}", "to", to) : json_object();
    char *payload = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (!payload)
        return CTL_FAILED;
    struct ctl_conn c;
    if (ctl_conn_open(&c, o) != 0) {
        free(payload);
        return CTL_FAILED;
    }
    struct ctl_reply r;
    int got = ctl_conn_post(&c, "/leader/transfer", payload, token, &r);
    free(payload);
    enum ctl_outcome oc = ctl_outcome_of_reply(got, &r);
    if (oc == CTL_O_OK && o->json) {
        json_dumpf(r.json, stdout, JSON_INDENT(2));
        putchar('\n');
    } else if (oc == CTL_O_OK) {
        printf("leadership moved from %s to %s (term %" JSON_INTEGER_FORMAT ")\n",
               ctl_json_str(r.json, "from", "?"), ctl_json_str(r.json, "to", "?"),
               json_integer_value(json_object_get(r.json, "term")));
    } else if (got == 0 && r.status == 404) {
        fprintf(stderr, "chimeractl: %s: this node has no /leader/transfer (an older chimerad)\n",
                cmd);
    } else {
        ctl_say_failure(cmd, got, &r);
    }
    ctl_reply_free(&r);
    ctl_conn_close(&c);
    return ctl_exit_code(CTL_FAM_COMMON, oc);
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
