/* Integration: real chimerad processes on 127.0.0.1, driven through the
 * harness. Each test states one behaviour; every wait is on a condition with
 * a generous deadline (h_timeout_ms()), never on elapsed time. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "harness_release.h"

/* ---- fixtures ----------------------------------------------------------- */

static void start(struct h_cluster *c, int i)
{
    assert_int_equal(h_node_start(c, i), 0);
    if (!h_wait_http_up(c, i, h_timeout_ms()))
        fail_msg("%s did not serve /health/live on 127.0.0.1:%d (log: %s)", c->nodes[i].id,
                 c->nodes[i].http_port, c->nodes[i].log);
}

static void start_all(struct h_cluster *c)
{
    if (h_cluster_start_all(c, h_timeout_ms(), "test_federation") != 0)
        fail_msg("the federation did not come up (the line above says why; logs in %s)", c->dir);
}

static void expect_status(struct h_cluster *c, int observer, const char *member, const char *status)
{
    if (!h_wait_member_is(c, observer, member, status, h_timeout_ms())) {
        char now[32] = "(no answer)";
        h_member_status(c, observer, member, now, sizeof now);
        fail_msg("%s never reported %s %s; last seen %s", c->nodes[observer].id, member, status,
                 now);
    }
}

/* A listening socket on 127.0.0.1:port, so a node cannot take the port. */
static int occupy_port(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(fd, 4), 0);
    return fd;
}

/* Runs node 0 with the given options (its stderr goes to DIR/n1.err) and
 * expects a configuration failure: exit status 2 and exactly one line on
 * stderr that names `field`. */
static void expect_config_error(struct h_cluster *c, struct h_start o, const char *field)
{
    char errpath[H_PATH_MAX];
    snprintf(errpath, sizeof errpath, "%s/n1.err", c->dir);
    o.stderr_path = errpath;
    int st;
    assert_int_equal(h_node_start_opts(c, 0, &o), 0);
    if (!h_node_wait_exit(c, 0, h_timeout_ms(), &st))
        fail_msg("chimerad kept running with a bad configuration");
    char *err = h_read_file(errpath);
    assert_non_null(err);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 2 || h_count_lines(err) != 1 || !strstr(err, field))
        fail_msg("want exit 2 and one line naming %s; got %s %d and stderr:\n%s", field,
                 WIFEXITED(st) ? "exit" : "signal", WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st),
                 err);
    free(err);
}

/* ---- membership and liveness ------------------------------------------ */

static void test_three_nodes_see_each_other_alive(void **state)
{
    struct h_cluster *c = *state;
    start_all(c);
    for (int i = 0; i < c->n; i++) {
        long st;
        json_t *fs = h_http_get_json(c, i, "/federation/state", &st);
        assert_int_equal(st, 200);
        assert_string_equal(json_string_value(json_object_get(fs, "node")), c->nodes[i].id);
        assert_int_equal(json_array_size(json_object_get(fs, "peers")), 3);
        for (int j = 0; j < c->n; j++) {
            const json_t *p = h_find_peer(fs, c->nodes[j].id);
            assert_non_null(p);
            assert_string_equal(json_string_value(json_object_get(p, "status")), "alive");
            assert_int_equal(json_is_true(json_object_get(p, "self")), i == j);
        }
        json_decref(fs);
    }
    h_cluster_pass(c);
}

static void test_killed_node_is_marked_dead_by_the_others(void **state)
{
    struct h_cluster *c = *state;
    start_all(c);
    h_node_kill(c, 2);
    expect_status(c, 0, "n3", "dead");
    expect_status(c, 1, "n3", "dead");
    h_cluster_pass(c);
}

static void test_restarted_node_is_seen_alive_again_without_restarting_the_others(void **state)
{
    struct h_cluster *c = *state;
    start_all(c);
    pid_t p1 = c->nodes[0].pid, p2 = c->nodes[1].pid;
    h_node_kill(c, 2);
    expect_status(c, 0, "n3", "dead");
    expect_status(c, 1, "n3", "dead");

    start(c, 2);
    expect_status(c, 0, "n3", "alive");
    expect_status(c, 1, "n3", "alive");
    expect_status(c, 2, "n1", "alive");
    expect_status(c, 2, "n2", "alive");
    assert_true(h_node_running(c, 0));
    assert_true(h_node_running(c, 1));
    assert_int_equal(c->nodes[0].pid, p1);
    assert_int_equal(c->nodes[1].pid, p2);
    h_cluster_pass(c);
}

struct auth_arg {
    struct h_cluster *c;
    double before[2];
};

static bool auth_drops_grew(void *arg)
{
    struct auth_arg *a = arg;
    for (int i = 0; i < 2; i++) {
        double v;
        if (!h_metric(a->c, i, "chimera_messages_dropped_total{reason=\"auth\"}", &v) ||
            v <= a->before[i])
            return false;
    }
    return true;
}

static bool n3_alive_anywhere(void *arg)
{
    struct h_cluster *c = arg;
    return h_member_is(c, 0, "n3", "alive") || h_member_is(c, 1, "n3", "alive");
}

static bool auth_event_recorded(void *arg)
{
    return h_event_seq(arg, 0, "transport.auth_failure", NULL, 0) > 0;
}

static void test_node_with_wrong_cluster_key_is_never_a_member(void **state)
{
    struct h_cluster *c = *state;
    start(c, 0);
    start(c, 1);
    expect_status(c, 0, "n2", "alive");
    expect_status(c, 1, "n1", "alive");

    struct auth_arg a = {.c = c};
    for (int i = 0; i < 2; i++)
        if (!h_metric(c, i, "chimera_messages_dropped_total{reason=\"auth\"}", &a.before[i]))
            a.before[i] = 0;

    /* The impostor claims n3's id and addresses, but holds another key. */
    char wrong[H_PATH_MAX];
    assert_int_equal(h_write_key_file(c, "wrong.key", wrong, sizeof wrong), 0);
    struct h_start o = {.key_file = wrong};
    assert_int_equal(h_node_start_opts(c, 2, &o), 0);
    assert_true(h_wait_http_up(c, 2, h_timeout_ms()));

    /* Its messages do arrive, and are rejected... */
    if (!h_wait_until(auth_drops_grew, &a, h_timeout_ms()))
        fail_msg("n1 and n2 never counted an auth drop from the wrong-key node");
    assert_true(h_wait_until(auth_event_recorded, c, h_timeout_ms()));

    /* ...and over many heartbeats it is never taken for a member. */
    int window = 20 * (c->heartbeat_ms > 0 ? c->heartbeat_ms : 50);
    assert_false(h_wait_until(n3_alive_anywhere, c, window < 1000 ? 1000 : window));
    for (int i = 0; i < 2; i++) {
        long st;
        json_t *fs = h_http_get_json(c, i, "/federation/state", &st);
        const json_t *p = h_find_peer(fs, "n3");
        assert_non_null(p);
        assert_string_not_equal(json_string_value(json_object_get(p, "status")), "alive");
        assert_true(json_is_null(json_object_get(p, "last_contact_ms")));
        json_decref(fs);
    }
    assert_true(h_node_running(c, 2));
    h_cluster_pass(c);
}

/* ---- lifecycle ---------------------------------------------------------- */

static void test_sigterm_exits_zero_within_deadline(void **state)
{
    struct h_cluster *c = *state;
    start_all(c);
    int st;
    h_node_signal(c, 0, SIGTERM);
    if (!h_node_wait_exit(c, 0, 5000, &st))
        fail_msg("n1 still running 5 s after SIGTERM");
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        fail_msg("n1 ended with %s %d after SIGTERM, want exit 0 (log: %s)",
                 WIFEXITED(st) ? "exit" : "signal", WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st),
                 c->nodes[0].log);
    h_cluster_pass(c);
}

struct event_arg {
    struct h_cluster *c;
    const char *kind, *peer;
    unsigned long long after, seq;
};

static bool event_after(void *arg)
{
    struct event_arg *e = arg;
    e->seq = h_event_seq(e->c, 0, e->kind, e->peer, e->after);
    return e->seq > 0;
}

static unsigned long long expect_event(struct h_cluster *c, const char *kind, const char *peer,
                                       unsigned long long after)
{
    struct event_arg e = {c, kind, peer, after, 0};
    if (!h_wait_until(event_after, &e, h_timeout_ms()))
        fail_msg("n1 recorded no %s event%s%s after seq %llu", kind, peer ? " about " : "",
                 peer ? peer : "", after);
    return e.seq;
}

static void test_events_record_peer_state_changes(void **state)
{
    struct h_cluster *c = *state;
    start_all(c);
    h_node_kill(c, 2);
    expect_status(c, 0, "n3", "dead");
    start(c, 2);
    expect_status(c, 0, "n3", "alive");

    expect_event(c, "node.start", NULL, 0);
    unsigned long long dead = expect_event(c, "peer.dead", "n3", 0);
    expect_event(c, "peer.alive", "n3", dead);

    /* Oldest first, and every event carries the documented fields. */
    json_t *ev = h_events(c, 0);
    assert_non_null(ev);
    json_int_t prev = 0;
    size_t k;
    json_t *e;
    json_array_foreach(ev, k, e)
    {
        json_int_t seq = json_integer_value(json_object_get(e, "seq"));
        assert_true(seq > prev);
        prev = seq;
        assert_non_null(json_string_value(json_object_get(e, "time")));
        assert_string_equal(json_string_value(json_object_get(e, "node")), "n1");
        assert_non_null(json_string_value(json_object_get(e, "kind")));
        assert_non_null(json_string_value(json_object_get(e, "message")));
    }
    json_decref(ev);
    h_cluster_pass(c);
}

/* ---- chimeractl --------------------------------------------------------- */

static void test_chimeractl_status_lists_members(void **state)
{
    struct h_cluster *c = *state;
    start_all(c);
    /* status exits 7 while the node knows no leader: wait for one. */
    assert_true(h_wait_agreed(c, 0, h_timeout_ms(), NULL, NULL));
    int code;
    char *out, *err;
    assert_true(h_ctl(c, 0, &code, &out, &err, "status", NULL));
    if (code != 0)
        fail_msg("chimeractl status exited %d: %s", code, err);
    assert_non_null(strstr(out, "federation: "));
    assert_non_null(strstr(out, "(as seen by n1)"));
    for (int i = 0; i < c->n; i++) {
        char want[32];
        snprintf(want, sizeof want, "\n%s%s ", c->nodes[i].id, i == 0 ? "*" : "");
        const char *row = strstr(out, want);
        if (!row)
            fail_msg("no row for %s in:\n%s", c->nodes[i].id, out);
        const char *eol = strchr(row + 1, '\n');
        const char *alive = strstr(row, " alive ");
        assert_true(alive && (!eol || alive < eol));
    }
    free(out);
    free(err);

    /* Global options after the command; --json gives the server's state. */
    char addr[32];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", c->nodes[1].http_port);
    assert_true(h_ctl(c, -1, &code, &out, &err, "status", "--json", "--addr", addr, NULL));
    assert_int_equal(code, 0);
    json_t *j = json_loads(out, 0, NULL);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "node")), "n2");
    assert_int_equal(json_array_size(json_object_get(j, "peers")), 3);
    json_decref(j);
    free(out);
    free(err);
    h_cluster_pass(c);
}

/* 5: cannot connect (it was 1 before the one exit-code scheme). */
static void test_chimeractl_unreachable_exits_5(void **state)
{
    struct h_cluster *c = *state;
    int port = h_free_port(); /* nothing listens there */
    assert_true(port > 0);
    char addr[32], want[96];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
    snprintf(want, sizeof want, "cannot reach node at %s: Connection refused", addr);
    int code;
    char *out, *err;
    assert_true(h_ctl(c, -1, &code, &out, &err, "--addr", addr, "status", NULL));
    if (code != 5 || !strstr(err, want) || h_count_lines(err) != 1)
        fail_msg("want exit 5 and \"%s\"; got %d and: %s", want, code, err);
    assert_string_equal(out, "");
    free(out);
    free(err);
    assert_true(h_ctl(c, -1, &code, NULL, NULL, "--addr", addr, "events", NULL));
    assert_int_equal(code, 5);
    h_cluster_pass(c);
}

static void test_chimeractl_events_prints_node_start_as_ndjson(void **state)
{
    struct h_cluster *c = *state;
    start(c, 0);
    int code;
    char *out, *err;
    assert_true(h_ctl(c, 0, &code, &out, &err, "events", "--json", "--limit", "1000", NULL));
    assert_int_equal(code, 0);
    bool seen = false;
    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
        json_t *e = json_loads(line, 0, NULL);
        if (!e)
            fail_msg("not one JSON object per line: %s", line);
        const char *kind = json_string_value(json_object_get(e, "kind"));
        seen = seen || (kind && strcmp(kind, "node.start") == 0);
        json_decref(e);
    }
    assert_true(seen);
    free(out);
    free(err);
    h_cluster_pass(c);
}

static void test_chimeractl_usage_errors_exit_2(void **state)
{
    struct h_cluster *c = *state;
    int code;
    assert_true(h_ctl(c, -1, &code, NULL, NULL, "frobnicate", NULL));
    assert_int_equal(code, 2);
    assert_true(h_ctl(c, -1, &code, NULL, NULL, "status", "--bogus", NULL));
    assert_int_equal(code, 2);
    assert_true(h_ctl(c, -1, &code, NULL, NULL, "events", "--limit", "ten", NULL));
    assert_int_equal(code, 2);
    assert_true(h_ctl(c, -1, &code, NULL, NULL, NULL));
    assert_int_equal(code, 2);
    h_cluster_pass(c);
}

static void test_chimeractl_keygen_writes_a_private_key_once(void **state)
{
    struct h_cluster *c = *state;
    char path[H_PATH_MAX];
    snprintf(path, sizeof path, "%s/new.key", c->dir);
    int code;
    assert_true(h_ctl(c, -1, &code, NULL, NULL, "keygen", "--out", path, NULL));
    assert_int_equal(code, 0);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    char *key = h_read_file(path);
    assert_int_equal(strlen(key), 65);
    assert_int_equal(strspn(key, "0123456789abcdef"), 64);
    assert_int_equal(key[64], '\n');

    assert_true(h_ctl(c, -1, &code, NULL, NULL, "keygen", "--out", path, NULL));
    assert_int_equal(code, 1);
    char *again = h_read_file(path);
    assert_string_equal(again, key); /* untouched */
    free(again);
    free(key);
    h_cluster_pass(c);
}

/* ---- bad configuration ------------------------------------------------ */

static void test_duplicate_member_ids_exit_2_naming_the_field(void **state)
{
    struct h_cluster *c = *state;
    char peers[256];
    snprintf(peers, sizeof peers,
             "n1=tcp://127.0.0.1:%d,n1=tcp://127.0.0.1:%d,n2=tcp://127.0.0.1:%d",
             c->nodes[0].listen_port, c->nodes[1].listen_port, c->nodes[1].listen_port);
    expect_config_error(c, (struct h_start){.peers = peers}, "--peers");
    h_cluster_pass(c);
}

static void test_http_port_in_use_exits_2_naming_the_field(void **state)
{
    struct h_cluster *c = *state;
    int fd = occupy_port(c->nodes[0].http_port);
    expect_config_error(c, (struct h_start){0}, "--http");
    close(fd);
    h_cluster_pass(c);
}

static void test_listen_port_in_use_exits_2_naming_the_field(void **state)
{
    struct h_cluster *c = *state;
    int fd = occupy_port(c->nodes[0].listen_port);
    expect_config_error(c, (struct h_start){0}, "--listen");
    close(fd);
    h_cluster_pass(c);
}

#define T(name) cmocka_unit_test_setup_teardown(name, h_setup_three_nodes, h_teardown_cluster)

int main(void)
{
    /* A test that dies on SIGPIPE tells us nothing; let write errors show. */
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        T(test_three_nodes_see_each_other_alive),
        T(test_killed_node_is_marked_dead_by_the_others),
        T(test_restarted_node_is_seen_alive_again_without_restarting_the_others),
        T(test_node_with_wrong_cluster_key_is_never_a_member),
        T(test_sigterm_exits_zero_within_deadline),
        T(test_events_record_peer_state_changes),
        T(test_chimeractl_status_lists_members),
        T(test_chimeractl_unreachable_exits_5),
        T(test_chimeractl_events_prints_node_start_as_ndjson),
        T(test_chimeractl_usage_errors_exit_2),
        T(test_chimeractl_keygen_writes_a_private_key_once),
        T(test_duplicate_member_ids_exit_2_naming_the_field),
        T(test_http_port_in_use_exits_2_naming_the_field),
        T(test_listen_port_in_use_exits_2_naming_the_field),
    };
    int failed = cmocka_run_group_tests_name("federation", tests, NULL, NULL);
    if (failed) {
        /* A failed assertion longjmps past the frees of its test; skipping
         * the exit-time leak check keeps the failure itself readable. */
        fflush(NULL);
        _exit(1);
    }
    return 0;
}
