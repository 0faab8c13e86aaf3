/* chimeractl chaos status|enable|disable|stop|inject: the node's chaos
 * endpoints (README "Chaos"). Mutations carry the admin token and follow a
 * follower's 307 to the leader (deploy_conn.c); `stop` is answered by the
 * node asked even when it is read-only (the kill switch). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chaos/fault.h"
#include "ctl/deploy_int.h"
#include "ctl/drill_int.h"

static int usage(const char *cmd, const char *what, const char *arg)
{
    fprintf(stderr, "chimeractl: %s: %s%s%s%s (see chimeractl %s --help)\n", cmd, what,
            arg ? " '" : "", arg ? arg : "", arg ? "'" : "", cmd);
    return CTL_USAGE;
}

/* The chaos endpoints: what a 404 says this node lacks (an older one). */
static int exchange(const struct ctl_opts *o, const char *cmd, const char *path,
                    const char *payload, json_t **out)
{
    char missing[96];
    snprintf(missing, sizeof(missing), "chaos endpoints (%s)", path);
    return ctl_exchange(o, cmd, path, payload, missing, out);
}

static void print_json(const json_t *j)
{
    json_dumpf(j, stdout, JSON_INDENT(2) | CTL_JSON_REAL);
    putchar('\n');
}

/* A duration field of the API (ms) as drill output writes it ("5s"). */
static const char *ms_field(const json_t *o, const char *key, char *out, size_t cap)
{
    return ctl_ms_text(json_integer_value(json_object_get(o, key)), out, cap);
}

static void print_fault(const char *label, const json_t *f)
{
    char d[32];
    printf("%-10s %s %s on %s", label, ctl_json_str(f, "id", "?"), ctl_json_str(f, "kind", "?"),
           ctl_json_str(f, "node", "?"));
    if (json_object_get(f, "service"))
        printf(" service %s", ctl_json_str(f, "service", "?"));
    if (json_object_get(f, "delay_ms"))
        printf(" by %s", ms_field(f, "delay_ms", d, sizeof d));
    printf(", %s, %s\n", ms_field(f, "duration_ms", d, sizeof d), ctl_json_str(f, "origin", "?"));
}

static int cmd_status(const struct ctl_opts *o)
{
    json_t *j;
    int rc = exchange(o, "chaos status", "/chaos", NULL, &j);
    if (rc != CTL_OK)
        return rc;
    if (o->json) {
        print_json(j);
        json_decref(j);
        return CTL_OK;
    }
    const json_t *s = json_object_get(j, "settings");
    char *faults = json_dumps(json_object_get(s, "faults"), JSON_COMPACT | CTL_JSON_REAL);
    char every[32], most[32];
    ms_field(s, "interval_ms", every, sizeof every);
    ms_field(s, "max_duration_ms", most, sizeof most);
    printf("injector   %s%s, every %s, probability %g, window %s\n",
           json_is_true(json_object_get(s, "enabled")) ? "enabled" : "disabled",
           json_is_true(json_object_get(s, "dry_run")) ? " (dry run)" : "", every,
           json_number_value(json_object_get(s, "probability")), ctl_json_str(s, "window", "?"));
    printf("faults     %s, at most %s\n", faults ? faults : "?", most);
    free(faults);
    printf("stopped    %s\n", json_is_true(json_object_get(j, "stopped"))
                                  ? "yes (kill switch; chimeractl chaos enable lifts it)"
                                  : "no");
    const json_t *active = json_object_get(j, "active");
    if (json_is_object(active))
        print_fault("active", active);
    else
        printf("active     none\n");
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(j, "applied_here"), i, f) print_fault("here", f);
    const json_t *h = json_object_get(j, "history");
    size_t n = json_array_size(h), from = n > 10 ? n - 10 : 0;
    if (n)
        printf("history (last %zu of %zu):\n", n - from, n);
    for (i = from; i < n; i++) {
        const json_t *r = json_array_get(h, i);
        printf("  %6" JSON_INTEGER_FORMAT "  %-8s %s %s %s\n",
               json_integer_value(json_object_get(r, "index")), ctl_json_str(r, "record", "?"),
               ctl_json_str(r, "id", ""), ctl_json_str(r, "kind", ""),
               ctl_json_str(r, "reason", ctl_json_str(r, "node", "")));
    }
    json_decref(j);
    return CTL_OK;
}

int ctl_chaos_stop_at(const struct ctl_opts *o, const char *token, const char *http)
{
    struct ctl_opts oo = *o;
    oo.addr = http;
    struct ctl_client *cl = http ? ctl_client_new(&oo) : NULL;
    struct ctl_reply r;
    int healed = -1;
    if (!cl)
        return -1;
    if (ctl_post(cl, "/chaos/stop", NULL, token, &r) == 0 && r.status >= 200 && r.status < 400)
        healed = (int)json_integer_value(json_object_get(r.json, "healed_here"));
    ctl_reply_free(&r);
    ctl_client_free(cl);
    return healed;
}

/* After the stop: each other member told directly (ctl_chaos_stop_at), so
 * that one cut off from the leader heals now. Those that healed something
 * are named in out ("n3"). */
static void stop_members(const struct ctl_opts *o, char *out, size_t cap)
{
    struct ctl_client *cl = ctl_client_new(o);
    struct ctl_reply r;
    out[0] = '\0';
    if (!cl || ctl_get(cl, "/federation/state", &r) != 0) {
        ctl_client_free(cl);
        return;
    }
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(r.json, "peers"), i, p)
    {
        if (json_is_true(json_object_get(p, "self")) ||
            ctl_chaos_stop_at(o, o->token, json_string_value(json_object_get(p, "http"))) <= 0)
            continue;
        size_t n = strlen(out);
        snprintf(out + n, cap - n, "%s%s", n ? ", " : "", ctl_json_str(p, "node", "?"));
    }
    ctl_reply_free(&r);
    ctl_client_free(cl);
}

static int cmd_post(const struct ctl_opts *o, const char *cmd, const char *path)
{
    json_t *j;
    int rc = exchange(o, cmd, path, "{}", &j);
    if (rc != CTL_OK)
        return rc;
    char also[256] = "";
    if (strcmp(path, "/chaos/stop") == 0)
        stop_members(o, also, sizeof also);
    if (o->json)
        print_json(j);
    else if (strcmp(path, "/chaos/enable") == 0)
        printf("chaos enabled again (committed at index %" JSON_INTEGER_FORMAT ")\n",
               json_integer_value(json_object_get(j, "index")));
    else {
        printf("healed %" JSON_INTEGER_FORMAT " fault(s) on the node asked",
               json_integer_value(json_object_get(j, "healed_here")));
        if (*also)
            printf("; also healed on %s, told directly (cut off from the leader)", also);
        if (json_is_true(json_object_get(j, "stopped")))
            printf("; stop committed at index %" JSON_INTEGER_FORMAT
                   ": every node heals, the injector stays off until chimeractl chaos enable\n",
                   json_integer_value(json_object_get(j, "index")));
        else
            printf("\nwarning: %s\n", ctl_json_str(j, "warning", "the stop was not recorded"));
    }
    json_decref(j);
    return CTL_OK;
}

/* The target a selector names ("leader", "follower", "any"), resolved as
 * drill run resolves it and said on stdout; a node id as it is. CTL_OK, or
 * the exit code after saying why. */
static int pick_target(const struct ctl_opts *o, const char *cmd, json_t *body)
{
    const char *sel = json_string_value(json_object_get(body, "target"));
    if (!ctl_node_selector(sel))
        return CTL_OK;
    char node[CHAOS_NAME_MAX], why[160];
    int rc = ctl_resolve_node(o, sel, node, sizeof node, why, sizeof why);
    if (rc != 0) {
        fprintf(stderr, "chimeractl: %s: %s\n", cmd, why);
        return ctl_exit_code(CTL_FAM_COMMON, rc == -1 ? CTL_O_NO_ANSWER : CTL_O_CONFLICT);
    }
    if (!o->json)
        printf("target     %s: %s (from the leader's view of the members)\n", sel, node);
    json_object_set_new(body, "target", json_string(node));
    return CTL_OK;
}

/* inject KIND --target NODE|leader|follower|any [--service S] [--peer P]
 * [--delay D] [--duration D] [--force] */
static int cmd_inject(const struct ctl_opts *o, int argc, char **argv)
{
    const char *cmd = "chaos inject";
    if (argc < 3 || argv[2][0] == '-')
        return usage(cmd,
                     "needs a KIND (kill_service, pause_service, isolate_node, "
                     "delay_messages, kill_node)",
                     NULL);
    int kind = chaos_kind_parse(argv[2], strlen(argv[2]));
    if (kind < 0)
        return usage(cmd, "unknown fault kind", argv[2]);
    json_t *body = json_pack("{s:s}", "kind", argv[2]);
    int rc = CTL_OK;
    for (int i = 3; i < argc && rc == CTL_OK; i++) {
        const char *a = argv[i], *key = NULL;
        if (strcmp(a, "--force") == 0) {
            json_object_set_new(body, "force", json_true());
            continue;
        }
        if (strcmp(a, "--target") == 0)
            key = "target";
        else if (strcmp(a, "--service") == 0)
            key = "service";
        else if (strcmp(a, "--peer") == 0)
            key = "peer";
        else if (strcmp(a, "--duration") == 0 || strcmp(a, "--delay") == 0)
            key = a + 2;
        else {
            rc = ctl_bad_argument(cmd, a);
            break;
        }
        if (i + 1 >= argc) {
            rc = usage(cmd, "needs a value after", a);
            break;
        }
        const char *v = argv[++i];
        uint64_t ms;
        if (strcmp(key, "delay") == 0) {
            if (chaos_duration_parse(v, &ms) != 0)
                rc = usage(cmd, "--delay needs a duration (200ms, 1s), got", v);
            else
                json_object_set_new(body, "delay_ms", json_integer((json_int_t)ms));
        } else {
            json_object_set_new(body, key, json_string(v));
        }
    }
    if (rc == CTL_OK && !json_object_get(body, "target"))
        rc = usage(cmd, "needs --target NODE (a node id, leader, follower or any)", NULL);
    /* The node's rules for each kind's options, said in this command's
     * options (the node names its body's keys: "delay_ms: missing"), before
     * any node is asked. */
    bool on_service = chaos_kind_on_service((enum chaos_kind)kind),
         delays = kind == CHAOS_DELAY_MESSAGES;
    if (rc == CTL_OK && on_service && !json_object_get(body, "service"))
        rc = usage(cmd, "needs --service S, the service to act on, for", argv[2]);
    else if (rc == CTL_OK && !on_service && json_object_get(body, "service"))
        rc = usage(cmd, "--service is only for kill_service and pause_service, not", argv[2]);
    else if (rc == CTL_OK && kind != CHAOS_ISOLATE_NODE && json_object_get(body, "peer"))
        rc = usage(cmd, "--peer is only for isolate_node, not", argv[2]);
    else if (rc == CTL_OK && delays && !json_object_get(body, "delay_ms"))
        rc = usage(cmd, "needs --delay D (200ms, 1s), how long each message waits, for", argv[2]);
    else if (rc == CTL_OK && !delays && json_object_get(body, "delay_ms"))
        rc = usage(cmd, "--delay is only for delay_messages, not", argv[2]);
    if (rc == CTL_OK)
        rc = pick_target(o, cmd, body);
    char *payload = rc == CTL_OK ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (rc != CTL_OK)
        return rc;
    json_t *j;
    rc = exchange(o, cmd, "/chaos/inject", payload, &j);
    free(payload);
    if (rc != CTL_OK)
        return rc;
    if (o->json)
        print_json(j);
    else
        print_fault("injected", json_object_get(j, "fault"));
    json_decref(j);
    return CTL_OK;
}

static const char *const chaos_names[] = {"status", "enable", "disable", "stop", "inject"};

int ctl_cmd_chaos(const struct ctl_opts *o, int argc, char **argv)
{
    if (argc < 2)
        return usage("chaos", "needs a subcommand: status, enable, disable, stop or inject", NULL);
    const char *sub = argv[1];
    if (strcmp(sub, "inject") == 0)
        return cmd_inject(o, argc, argv);
    bool known = false;
    for (size_t i = 0; i < sizeof chaos_names / sizeof chaos_names[0]; i++)
        known = known || strcmp(sub, chaos_names[i]) == 0;
    if (!known && chaos_kind_parse(sub, strlen(sub)) >= 0) { /* `chimeractl chaos kill_node` */
        char how[160];
        snprintf(how, sizeof how,
                 "to inject that fault: chimeractl chaos inject %s --target NODE (see chimeractl "
                 "chaos inject --help)",
                 sub);
        return ctl_unknown_meant("chaos command", sub, how);
    }
    /* A drill's rollback is "heal", and Chaos Toolkit's word for ending
     * faults too: here the kill switch does it. */
    if (!known && (strcmp(sub, "heal") == 0 || strcmp(sub, "clear") == 0))
        return ctl_unknown_meant("chaos command", sub,
                                 "to heal every fault now: chimeractl chaos stop (then chaos "
                                 "enable to let faults in again)");
    if (!known)
        return ctl_unknown("chaos command", sub, chaos_names,
                           sizeof chaos_names / sizeof chaos_names[0]);
    if (argc > 2) {
        char page[32];
        snprintf(page, sizeof page, "chaos %s", sub);
        return ctl_bad_argument(page, argv[2]);
    }
    if (strcmp(sub, "status") == 0)
        return cmd_status(o);
    if (strcmp(sub, "enable") == 0)
        return cmd_post(o, "chaos enable", "/chaos/enable");
    /* disable is the kill switch: heals, and keeps the injector off */
    return cmd_post(o, strcmp(sub, "stop") == 0 ? "chaos stop" : "chaos disable", "/chaos/stop");
}
