/* Integration: chimeractl as an operator meets it, against a real 3-node
 * federation: per-command help and "did you mean", version (client and
 * server), ledger note, CHIMERA_ADDR with several endpoints, and status
 * showing every member's release, health and service ports. One federation
 * serves every test; every wait is on a condition with a deadline. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "harness_release.h"
#include "ctl_support.h"

static struct h_cluster *fed;
static int leader;
static char ctl_path[H_PATH_MAX];

/* Runs argv (argv[0] a program path) like h_ctl. */
static struct run run(const char *const *argv)
{
    struct run r = {0};
    if (!h_run(fed, argv, h_timeout_ms(), &r.code, &r.out, &r.err))
        fail_msg("%s did not finish", argv[0]);
    return r;
}

static int group_setup(void **state)
{
    (void)state;
    h_path_add_bin_dir();
    snprintf(ctl_path, sizeof ctl_path, "%s/chimeractl", h_bin_dir());
    fed = h_cluster_create(3);
    if (!fed)
        return -1;
    /* What is tested is the command line, not elections: at the default
     * 150 ms a loaded machine's scheduler alone costs the leader now and then,
     * and the tests keep the leader they found (`ledger note` exited 7 between
     * leaders at load 9-13 under the sanitizers). */
    fed->election_timeout_ms = 1000;
    leader = h_start_agreed(fed, "test_ctl_cli", NULL);
    return leader < 0 ? -1 : 0;
}

static int follower(void)
{
    return (leader + 1) % fed->n;
}

/* deploy/examples/NAME */
static void example(const char *name, char *out, size_t len)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s", __FILE__);
    snprintf(out, len, "%s/../../deploy/examples/%s", dirname(dir), name);
}

/* The line of text that starts with prefix (a malloc'd copy), or NULL. */
static char *line_starting(const char *text, const char *prefix)
{
    for (const char *line = text; line && *line;) {
        const char *nl = strchr(line, '\n');
        size_t n = nl ? (size_t)(nl - line) : strlen(line);
        if (strncmp(line, prefix, strlen(prefix)) == 0)
            return strndup(line, n);
        line = nl ? nl + 1 : NULL;
    }
    return NULL;
}

/* ---- help --------------------------------------------------------------- */

static void test_command_help_and_help_command_print_the_same_page(void **state)
{
    (void)state;
    struct run a = CTL(fed, -1, "deploy", "--help");
    struct run b = CTL(fed, -1, "help", "deploy");
    EXPECT(a.code == 0 && b.code == 0 && strcmp(a.out, b.out) == 0, a);
    EXPECT(strncmp(a.out, "Usage: chimeractl deploy FILE", 29) == 0, a);
    EXPECT(strstr(a.out, "--timeout DURATION") && strstr(a.out, "default 10m"), a);
    EXPECT(strstr(a.out, "Example:") && strstr(a.out, "Exit codes:"), a);
    EXPECT(strstr(a.out, "3 failed and\n  reverted") || strstr(a.out, "3 failed and reverted"), a);
    EXPECT(h_count_lines(a.out) < 40, a); /* the command's page, not the global help */
    run_free(&a);
    run_free(&b);
}

static void test_every_command_has_its_own_help_page(void **state)
{
    (void)state;
    static const char *const cmds[][2] = {
        {"status", NULL},     {"events", NULL},      {"keygen", NULL},     {"version", NULL},
        {"ledger", NULL},     {"deployments", NULL}, {"deployment", NULL}, {"rollback", NULL},
        {"ledger", "show"},   {"ledger", "tail"},    {"ledger", "head"},   {"ledger", "note"},
        {"ledger", "verify"}, {"health", NULL},      {"deploy", NULL},     {"chaos", NULL},
        {"chaos", "inject"},  {"drill", NULL},       {"drill", "run"},     {"drill", "list"},
        {"drill", "history"}, {"recovery", NULL},    {"leader", NULL},     {"leader", "transfer"},
    };
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        struct run r = cmds[i][1] ? CTL(fed, -1, cmds[i][0], cmds[i][1], "--help")
                                  : CTL(fed, -1, cmds[i][0], "-h");
        char want[64];
        snprintf(want, sizeof want, "Usage: chimeractl %s%s%s", cmds[i][0], cmds[i][1] ? " " : "",
                 cmds[i][1] ? cmds[i][1] : "");
        EXPECT(r.code == 0 && strncmp(r.out, want, strlen(want)) == 0, r);
        EXPECT(strstr(r.out, "Exit codes:"), r);
        run_free(&r);
    }
    struct run r = CTL(fed, -1, "help", "exit-codes");
    EXPECT(r.code == 0 && strstr(r.out, "5  cannot connect") && strstr(r.out, "9  timeout"), r);
    /* Every code a command exits with is in the table, drill run's 12 too. */
    EXPECT(strstr(r.out, "12 drill run: held, but a rollback failed"), r);
    /* A mutation without a token is refused here (2), not by the node (6). */
    EXPECT(strstr(r.out, "admin token given for a mutation"), r);
    EXPECT(strstr(r.out, "the node refused the admin token"), r);
    run_free(&r);
}

static void test_a_mistyped_command_gets_did_you_mean_and_exit_2(void **state)
{
    (void)state;
    struct run r = CTL(fed, -1, "deplyo", "x.json");
    EXPECT(r.code == 2 && strstr(r.err, "unknown command 'deplyo'; did you mean 'deploy'?"), r);
    run_free(&r);
    r = CTL(fed, -1, "ledger", "shwo", "1");
    EXPECT(r.code == 2 && strstr(r.err, "did you mean 'show'?"), r);
    run_free(&r);
    r = CTL(fed, -1, "help", "rollbak");
    EXPECT(r.code == 2 && strstr(r.err, "did you mean 'rollback'?"), r);
    run_free(&r);
    r = CTL(fed, -1, "zzzzzz");
    EXPECT(r.code == 2 && !strstr(r.err, "did you mean"), r);
    run_free(&r);
}

/* A subcommand's list is on its command's page, not on the top one. */
static void test_an_unknown_subcommand_points_at_its_commands_help(void **state)
{
    (void)state;
    struct run r = CTL(fed, -1, "leader", "move");
    EXPECT(r.code == 2 &&
               strstr(r.err, "unknown leader command 'move' (see chimeractl leader --help)"),
           r);
    run_free(&r);
    r = CTL(fed, -1, "ledger", "shwo", "1");
    EXPECT(r.code == 2 && strstr(r.err, "(see chimeractl ledger --help)"), r);
    run_free(&r);
    r = CTL(fed, -1, "zzzzzz");
    EXPECT(r.code == 2 && strstr(r.err, "(see chimeractl --help)"), r);
    run_free(&r);
}

/* An option is explained on its command's page, not on the top one. */
static void test_an_unknown_option_points_at_its_commands_help(void **state)
{
    (void)state;
    struct run r = CTL(fed, -1, "events", "--limt", "3");
    EXPECT(r.code == 2 && strstr(r.err, "'--limt'") &&
               strstr(r.err, "(see chimeractl events --help)"),
           r);
    run_free(&r);
    r = CTL(fed, -1, "keygen", "--bogus");
    EXPECT(r.code == 2 && strstr(r.err, "'--bogus' (see chimeractl keygen --help)"), r);
    run_free(&r);
    r = CTL(fed, -1, "ledger", "verify");
    EXPECT(r.code == 2 && strstr(r.err, "--data DIR (see chimeractl ledger verify --help)"), r);
    run_free(&r);
    r = CTL(fed, -1, "ledger");
    EXPECT(r.code == 2 && strstr(r.err, "see chimeractl ledger --help)"), r);
    run_free(&r);
}

static void test_a_mistyped_option_gets_did_you_mean_and_exit_2(void **state)
{
    (void)state;
    struct run r = CTL(fed, -1, "deploy", "x.json", "--wiat");
    EXPECT(r.code == 2 && strstr(r.err, "chimeractl: deploy: unknown option '--wiat'; did you mean "
                                        "'--wait'? (see chimeractl deploy --help)"),
           r);
    run_free(&r);
    r = CTL(fed, -1, "ledger", "tail", "--folow");
    EXPECT(r.code == 2 && strstr(r.err, "did you mean '--follow'? (see chimeractl ledger tail"), r);
    run_free(&r);
    r = CTL(fed, -1, "--adr", "127.0.0.1:1", "status");
    EXPECT(r.code == 2 && strstr(r.err, "unknown option '--adr'; did you mean '--addr'?"), r);
    run_free(&r);
    r = CTL(fed, -1, "deploy", "x.json", "--frobnicate");
    EXPECT(r.code == 2 && strstr(r.err, "unknown option '--frobnicate' (see") &&
               !strstr(r.err, "did you mean"),
           r);
    run_free(&r);
}

static void test_a_fault_kind_without_inject_says_how_to_inject_it(void **state)
{
    (void)state;
    struct run r = CTL(fed, -1, "chaos", "kill_node");
    EXPECT(
        r.code == 2 &&
            strstr(r.err, "to inject that fault: chimeractl chaos inject kill_node --target NODE"),
        r);
    run_free(&r);
}

static void test_chaos_heal_points_at_the_kill_switch(void **state)
{
    (void)state;
    struct run r = CTL(fed, -1, "chaos", "heal");
    EXPECT(r.code == 2 && strstr(r.err, "to heal every fault now: chimeractl chaos stop"), r);
    run_free(&r);
}

/* Each fault kind's options are checked before any node is asked (none
 * listens at addr: asking one would exit 5), in the command's terms. */
static void test_chaos_inject_says_which_option_a_kind_needs_or_refuses(void **state)
{
    (void)state;
    char addr[32];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", h_free_port());
    struct run r = CTL(fed, -1, "--addr", addr, "--token-file", fed->token_file, "chaos", "inject",
                       "kill_service", "--target", "n1");
    EXPECT(r.code == 2 && strstr(r.err, "needs --service S"), r);
    run_free(&r);
    r = CTL(fed, -1, "--addr", addr, "--token-file", fed->token_file, "chaos", "inject",
            "delay_messages", "--target", "n1");
    EXPECT(r.code == 2 && strstr(r.err, "needs --delay D"), r);
    run_free(&r);
    r = CTL(fed, -1, "--addr", addr, "--token-file", fed->token_file, "chaos", "inject",
            "isolate_node", "--target", "n1", "--delay", "1s");
    EXPECT(r.code == 2 && strstr(r.err, "--delay is only for delay_messages"), r);
    run_free(&r);
    r = CTL(fed, -1, "--addr", addr, "--token-file", fed->token_file, "chaos", "inject",
            "kill_node", "--target", "n1", "--peer", "n2");
    EXPECT(r.code == 2 && strstr(r.err, "--peer is only for isolate_node"), r);
    run_free(&r);
    r = CTL(fed, -1, "--addr", addr, "--token-file", fed->token_file, "chaos", "inject",
            "isolate_node", "--target", "n1", "--service", "web");
    EXPECT(r.code == 2 && strstr(r.err, "--service is only for kill_service and pause_service"), r);
    run_free(&r);
}

/* The kill switch reaches a node cut off from the leader: the stop the
 * leader commits does not, and an isolated follower stayed isolated, and
 * read-only, until its fault expired (60 s here). chaos stop tells each
 * member directly. */
static void test_chaos_stop_heals_an_isolated_follower_at_once(void **state)
{
    (void)state;
    int f = follower();
    struct run r = CTL(fed, leader, "--token-file", fed->token_file, "chaos", "inject",
                       "isolate_node", "--target", fed->nodes[f].id, "--duration", "60s");
    EXPECT(r.code == 0, r);
    run_free(&r);
    assert_true(h_wait_read_only(fed, &f, 1, true, h_timeout_ms()));
    r = CTL(fed, leader, "--token-file", fed->token_file, "chaos", "stop");
    char want[64];
    snprintf(want, sizeof want, "also healed on %s", fed->nodes[f].id);
    EXPECT(r.code == 0 && strstr(r.out, want), r);
    run_free(&r);
    if (!h_wait_read_only(fed, &f, 1, false, h_timeout_ms()))
        fail_msg("%s is still read-only after chaos stop: %s", fed->nodes[f].id, h_views_line(fed));
    r = CTL(fed, leader, "--token-file", fed->token_file, "chaos", "enable");
    EXPECT(r.code == 0, r);
    run_free(&r);
}

/* ---- events ------------------------------------------------------------- */

/* Sequence numbers are 16 digits (the boot epoch times 2^20): the table's
 * columns line up with its header all the same. */
static void test_events_columns_line_up_with_the_header(void **state)
{
    (void)state;
    struct run r = CTL(fed, leader, "events", "--limit", "3");
    EXPECT(r.code == 0, r);
    char *row = strchr(r.out, '\n');
    const char *time = strstr(r.out, "TIME");
    EXPECT(row && time && time < row && strlen(row + 1) > 40, r);
    size_t col = (size_t)(time - r.out);
    row++;
    /* The row's time, 2026-12-06T..., starts where the header's TIME does. */
    EXPECT(row[col - 1] == ' ' && row[col] >= '0' && row[col] <= '9' && row[col + 4] == '-' &&
               row[col + 10] == 'T',
           r);
    run_free(&r);
}

/* -n N is --limit N, as ledger tail's -n N. */
static void test_events_n_takes_as_many_as_limit(void **state)
{
    (void)state;
    struct run r = CTL(fed, leader, "events", "-n", "2");
    EXPECT(r.code == 0 && h_count_lines(r.out) == 3, r); /* the header and 2 */
    run_free(&r);
}

/* -nN too, as ledger tail's: "did you mean '-n'?" named what it refused. */
static void test_events_n_takes_its_number_attached(void **state)
{
    (void)state;
    struct run r = CTL(fed, leader, "events", "-n2");
    EXPECT(r.code == 0 && h_count_lines(r.out) == 3, r); /* the header and 2 */
    run_free(&r);
}

/* ---- version ------------------------------------------------------------ */

static void test_version_prints_the_client_and_the_servers_with_its_node(void **state)
{
    (void)state;
    struct run r = CTL(fed, leader, "version");
    char want[64];
    snprintf(want, sizeof want, "Server Version: %s (node %s at ", CHIMERA_VERSION,
             fed->nodes[leader].id);
    EXPECT(r.code == 0 && strstr(r.out, "Client Version: " CHIMERA_VERSION "\n"), r);
    EXPECT(strstr(r.out, want), r);
    run_free(&r);
    r = CTL(fed, leader, "version", "--json");
    json_t *j = json_loads(r.out, 0, NULL);
    EXPECT(r.code == 0 && j, r);
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "client"), "version")),
                        CHIMERA_VERSION);
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "server"), "node")),
                        fed->nodes[leader].id);
    json_decref(j);
    run_free(&r);
}

static void test_version_client_and_dash_dash_version_ask_no_node(void **state)
{
    (void)state;
    char dead[32];
    snprintf(dead, sizeof dead, "127.0.0.1:%d", h_free_port());
    struct run r = CTL(fed, -1, "--addr", dead, "version", "--client");
    EXPECT(r.code == 0 && strcmp(r.out, "Client Version: " CHIMERA_VERSION "\n") == 0, r);
    run_free(&r);
    r = CTL(fed, -1, "--version");
    EXPECT(r.code == 0 && strcmp(r.out, "chimeractl " CHIMERA_VERSION "\n") == 0, r);
    run_free(&r);
    /* The server's is missing, not the client's: 5, the client printed. */
    r = CTL(fed, -1, "--addr", dead, "version");
    EXPECT(r.code == 5 && strstr(r.out, "Client Version: " CHIMERA_VERSION), r);
    run_free(&r);
}

static void test_chimerad_version_needs_no_configuration(void **state)
{
    (void)state;
    char chimerad[H_PATH_MAX];
    snprintf(chimerad, sizeof chimerad, "%s/chimerad", h_bin_dir());
    const char *argv[] = {chimerad, "--version", NULL};
    struct run r = run(argv);
    EXPECT(r.code == 0 && strcmp(r.out, "chimerad " CHIMERA_VERSION "\n") == 0, r);
    run_free(&r);
}

/* ---- ledger note -------------------------------------------------------- */

static void test_ledger_note_commits_each_text_through_the_leader(void **state)
{
    (void)state;
    struct run r = CTL(fed, follower(), "--token-file", fed->token_file, "ledger", "note",
                       "first of two", "second of two");
    EXPECT(r.code == 0, r);
    unsigned long long first, last, term;
    const char *at = strstr(r.out, "committed 2 notes at indexes ");
    EXPECT(at && sscanf(at, "committed 2 notes at indexes %llu..%llu (term %llu)", &first, &last,
                        &term) == 3,
           r);
    assert_int_equal(last, first + 1);
    run_free(&r);
    char ix[32];
    snprintf(ix, sizeof ix, "%llu", last);
    r = CTL(fed, leader, "ledger", "show", ix);
    EXPECT(r.code == 0 && strstr(r.out, "\"second of two\""), r);
    run_free(&r);
}

static void test_ledger_note_dash_reads_one_note_per_line_of_stdin(void **state)
{
    (void)state;
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "printf 'drill start\\n\\ndrill end\\n' | '%s' --addr %s:%d --token-file '%s' "
             "--json ledger note -",
             ctl_path, fed->nodes[leader].http_host, fed->nodes[leader].http_port, fed->token_file);
    const char *argv[] = {"/bin/sh", "-c", cmd, NULL};
    struct run r = run(argv);
    json_t *j = json_loads(r.out, 0, NULL);
    EXPECT(r.code == 0 && j, r);
    json_int_t first = json_integer_value(json_object_get(j, "first_index"));
    json_int_t last = json_integer_value(json_object_get(j, "last_index"));
    EXPECT(first > 0 && last == first + 1, r); /* the empty line is no note */
    json_decref(j);
    run_free(&r);
}

/* A token that can be read once (a FIFO, or bash's --token-file <(pass show
 * ...)): chimeractl reads the file once, so the note goes through. It used
 * to read it again for the client and wait there for a writer forever. */
static void test_ledger_note_reads_a_token_file_that_can_be_read_once(void **state)
{
    (void)state;
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "f='%s/token.fifo' && rm -f \"$f\" && mkfifo -m 600 \"$f\" && "
             "{ cat '%s' > \"$f\" & } && "
             "exec '%s' --addr %s:%d --token-file \"$f\" ledger note 'from a fifo'",
             fed->dir, fed->token_file, ctl_path, fed->nodes[leader].http_host,
             fed->nodes[leader].http_port);
    const char *argv[] = {"/bin/sh", "-c", cmd, NULL};
    struct run r = run(argv);
    EXPECT(r.code == 0 && strstr(r.out, "committed the note at index"), r);
    run_free(&r);
}

static void test_ledger_note_without_a_token_is_a_usage_error(void **state)
{
    (void)state;
    const char *argv[] = {"/usr/bin/env",
                          "-u",
                          "CHIMERA_ADMIN_TOKEN_FILE",
                          ctl_path,
                          "--addr",
                          NULL,
                          "ledger",
                          "note",
                          "x",
                          NULL};
    char addr[64];
    snprintf(addr, sizeof addr, "%s:%d", fed->nodes[leader].http_host,
             fed->nodes[leader].http_port);
    argv[5] = addr;
    struct run r = run(argv);
    EXPECT(r.code == 2 && strstr(r.err, "needs the admin token"), r);
    run_free(&r);
}

/* ---- endpoints ---------------------------------------------------------- */

static void test_chimera_addr_lists_endpoints_tried_in_order(void **state)
{
    (void)state;
    char env[160];
    snprintf(env, sizeof env, "CHIMERA_ADDR=127.0.0.1:%d, %s:%d", h_free_port(),
             fed->nodes[follower()].http_host, fed->nodes[follower()].http_port);
    const char *argv[] = {"/usr/bin/env", env, ctl_path, "version", NULL};
    struct run r = run(argv);
    char want[64];
    snprintf(want, sizeof want, "(node %s at ", fed->nodes[follower()].id);
    EXPECT(r.code == 0 && strstr(r.out, want), r);
    run_free(&r);
}

/* ---- status ------------------------------------------------------------- */

/* The row of member id in a status table (a malloc'd copy). */
static char *row_of(const struct run *r, const char *id)
{
    char *row = line_starting(r->out, id);
    if (!row)
        fail_msg("no row for %s in:\n%s", id, r->out);
    return row;
}

static void test_status_shows_each_members_release_health_and_ports(void **state)
{
    (void)state;
    char good[PATH_MAX + 64];
    example("demo-good.json", good, sizeof good);
    struct run r = CTL(fed, follower(), "--token-file", fed->token_file, "deploy", good, "--wait");
    EXPECT(r.code == 0, r);
    run_free(&r);

    r = CTL(fed, follower(), "status");
    EXPECT(r.code == 0, r);
    char *head = line_starting(r.out, "NODE");
    EXPECT(head && strstr(head, "RELEASE") && strstr(head, "HEALTH") && strstr(head, "PORTS"), r);
    free(head);
    for (int i = 0; i < fed->n; i++) {
        char *row = row_of(&r, fed->nodes[i].id);
        if (!strstr(row, "demo 1.0.0") || !strstr(row, " healthy "))
            fail_msg("%s's row lacks demo 1.0.0 healthy: %s\n%s", fed->nodes[i].id, row, r.out);
        /* Ports appear where the node reports its services. */
        long st = 0;
        json_t *s = h_http_get_json(fed, i, "/federation/state", &st);
        const json_t *svc =
            json_array_get(json_object_get(json_object_get(s, "release"), "services"), 0);
        if (json_is_integer(json_object_get(svc, "port"))) {
            char want[32];
            snprintf(want, sizeof want, "web=%" JSON_INTEGER_FORMAT,
                     json_integer_value(json_object_get(svc, "port")));
            if (!strstr(row, want))
                fail_msg("%s's row lacks %s: %s", fed->nodes[i].id, want, row);
        }
        const char *health =
            json_string_value(json_object_get(json_object_get(s, "release"), "health"));
        if (health && !strstr(row, health))
            fail_msg("%s's row lacks its health %s: %s", fed->nodes[i].id, health, row);
        json_decref(s);
        free(row);
    }
    run_free(&r);

    /* deploy keeps its 2 for a 409: that release is already the stable one. */
    r = CTL(fed, leader, "--token-file", fed->token_file, "deploy", good);
    EXPECT(r.code == 2, r);
    run_free(&r);
}

static void test_status_json_adds_what_each_member_answered(void **state)
{
    (void)state;
    struct run r = CTL(fed, leader, "status", "--json");
    json_t *j = json_loads(r.out, 0, NULL);
    EXPECT(r.code == 0 && j, r);
    EXPECT(json_object_get(j, "peers") && json_object_get(j, "leader"), r); /* the node's JSON */
    const json_t *members = json_object_get(j, "members"), *m;
    EXPECT(json_array_size(members) == (size_t)fed->n, r);
    size_t i;
    json_array_foreach(members, i, m)
    {
        EXPECT(json_is_true(json_object_get(m, "reachable")), r);
        EXPECT(json_is_object(json_object_get(m, "release")), r);
    }
    json_decref(j);
    run_free(&r);
}

static void test_status_shows_a_member_that_does_not_answer_as_unreachable(void **state)
{
    (void)state;
    int quiet = (leader + 2) % fed->n; /* a follower: the federation keeps its leader */
    h_node_pause(fed, quiet);
    struct run r = CTL(fed, leader, "status");
    h_node_resume(fed, quiet);
    EXPECT(r.code == 0, r);
    char *row = row_of(&r, fed->nodes[quiet].id);
    EXPECT(strstr(row, "unreachable"), r);
    free(row);
    for (int i = 0; i < fed->n; i++) {
        if (i == quiet)
            continue;
        row = row_of(&r, fed->nodes[i].id);
        EXPECT(!strstr(row, "unreachable"), r);
        free(row);
    }
    run_free(&r);
}

/* ---- health --------------------------------------------------------------- */

static void test_health_answers_by_its_exit_status_live_ready_or_unreachable(void **state)
{
    (void)state;
    char want[64];
    snprintf(want, sizeof want, "%s live\n", fed->nodes[follower()].id);
    struct run r = CTL(fed, follower(), "health");
    EXPECT(r.code == 0 && strstr(r.out, want), r);
    run_free(&r);
    r = CTL(fed, follower(), "health", "--ready", "--json");
    json_t *j = json_loads(r.out, 0, NULL);
    EXPECT(r.code == 0 && j && strcmp(json_string_value(json_object_get(j, "status")), "ok") == 0,
           r);
    json_decref(j);
    run_free(&r);
    r = CTL(fed, -1, "--addr", "127.0.0.1:1", "health");
    EXPECT(r.code == 5 && strstr(r.err, "cannot reach"), r);
    run_free(&r);
    r = CTL(fed, follower(), "health", "--bogus");
    EXPECT(r.code == 2 && strstr(r.err, "unknown option '--bogus'"), r);
    run_free(&r);
}

/* Last: it kills a follower for good. The leader's last report of a member
 * it no longer hears is stale; status does not show it as that member's
 * health. Runs after the release test deployed demo 1.0.0. */
static void test_status_shows_a_dead_members_health_as_unknown(void **state)
{
    (void)state;
    int gone = (leader + 1) % fed->n;
    h_node_kill(fed, gone);
    h_node_kill_services(fed, gone);
    if (!h_wait_member_is(fed, leader, fed->nodes[gone].id, "dead", h_timeout_ms()))
        fail_msg("%s never reported %s dead", fed->nodes[leader].id, fed->nodes[gone].id);
    struct run r = CTL(fed, leader, "status");
    EXPECT(r.code == 0, r);
    char *row = row_of(&r, fed->nodes[gone].id);
    EXPECT(strstr(row, "dead") && strstr(row, "unknown") && !strstr(row, "healthy"), r);
    free(row);
    run_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_command_help_and_help_command_print_the_same_page),
        cmocka_unit_test(test_every_command_has_its_own_help_page),
        cmocka_unit_test(test_a_mistyped_command_gets_did_you_mean_and_exit_2),
        cmocka_unit_test(test_an_unknown_subcommand_points_at_its_commands_help),
        cmocka_unit_test(test_an_unknown_option_points_at_its_commands_help),
        cmocka_unit_test(test_a_mistyped_option_gets_did_you_mean_and_exit_2),
        cmocka_unit_test(test_a_fault_kind_without_inject_says_how_to_inject_it),
        cmocka_unit_test(test_chaos_heal_points_at_the_kill_switch),
        cmocka_unit_test(test_chaos_inject_says_which_option_a_kind_needs_or_refuses),
        cmocka_unit_test(test_chaos_stop_heals_an_isolated_follower_at_once),
        cmocka_unit_test(test_events_columns_line_up_with_the_header),
        cmocka_unit_test(test_events_n_takes_as_many_as_limit),
        cmocka_unit_test(test_events_n_takes_its_number_attached),
        cmocka_unit_test(test_version_prints_the_client_and_the_servers_with_its_node),
        cmocka_unit_test(test_version_client_and_dash_dash_version_ask_no_node),
        cmocka_unit_test(test_chimerad_version_needs_no_configuration),
        cmocka_unit_test(test_ledger_note_commits_each_text_through_the_leader),
        cmocka_unit_test(test_ledger_note_dash_reads_one_note_per_line_of_stdin),
        cmocka_unit_test(test_ledger_note_reads_a_token_file_that_can_be_read_once),
        cmocka_unit_test(test_ledger_note_without_a_token_is_a_usage_error),
        cmocka_unit_test(test_chimera_addr_lists_endpoints_tried_in_order),
        cmocka_unit_test(test_status_shows_each_members_release_health_and_ports),
        cmocka_unit_test(test_status_json_adds_what_each_member_answered),
        cmocka_unit_test(test_status_shows_a_member_that_does_not_answer_as_unreachable),
        cmocka_unit_test(test_health_answers_by_its_exit_status_live_ready_or_unreachable),
        cmocka_unit_test(test_status_shows_a_dead_members_health_as_unknown),
    };
    return h_group_end(fed, cmocka_run_group_tests(tests, group_setup, NULL));
}
