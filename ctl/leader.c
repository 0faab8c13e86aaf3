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

struct target {
    const struct ctl_opts *o;
    const char *to;
};

/* A 409 for --to ID where ID leads already: the node refuses a transfer to
 * itself. Nothing needed doing, so it is no failure: 0, as etcd's raft
 * ignores a transfer to the leader itself (etcdctl move-leader succeeds)
 * and kubectl exits 0 when the state asked for holds already ("node/x
 * already cordoned"). The node that answered is asked who leads. */
static int already_leads(struct ctl_conn *c, int rc, const struct ctl_reply *r, void *arg)
{
    const struct target *t = arg;
    if (rc != 0 || r->status != 409 || !t->to)
        return -1;
    struct ctl_reply st;
    int got = ctl_conn_get(c, "/federation/state", &st);
    const char *leader = got == 0 && st.status == 200 ? ctl_json_str(st.json, "leader", "") : "";
    json_int_t term = json_integer_value(json_object_get(st.json, "term"));
    int out = -1;
    if (strcmp(leader, t->to) == 0) {
        if (t->o->json) {
            json_t *j = json_pack("{s:s, s:s, s:I, s:b}", "from", leader, "to", leader, "term",
                                  term, "transferred", 0);
            json_dumpf(j, stdout, JSON_INDENT(2) | CTL_JSON_REAL);
            putchar('\n');
            json_decref(j);
        } else {
            printf("%s is already the leader (term %" JSON_INTEGER_FORMAT "); nothing was done\n",
                   leader, term);
        }
        out = CTL_OK;
    }
    ctl_reply_free(&st);
    return out;
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
    struct target t = {o, to};
    int rc = ctl_exchange_or(o, cmd, "/leader/transfer", payload,
                             "/leader/transfer (an older chimerad)", &j, already_leads, &t);
    free(payload);
    if (!j)
        return rc;
    if (o->json) {
        json_dumpf(j, stdout, JSON_INDENT(2) | CTL_JSON_REAL);
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
            return ctl_bad_argument("leader", argv[i]);
    }
    if (to && !to[0])
        return usage("--to needs a member id", NULL);
    return transfer(o, to);
}
