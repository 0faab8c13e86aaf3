/* Integration: chimeractl ledger show, tail and tail --follow against a real
 * 3-node federation. One federation serves every test; each test posts the
 * notes it looks for. Every wait is on a condition with a deadline, never
 * on time. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "harness_fixture.h"

#define NODES 3

static struct h_cluster *cluster;

/* A chimeractl running in the background (tail --follow), its stdout on a
 * non-blocking pipe collected into out. */
static struct bg {
    pid_t pid; /* 0 when none runs */
    int fd;
    char out[64 * 1024];
    size_t len;
    int status; /* raw wait status once reaped */
} bg = {.fd = -1};

static int group_setup(void **state)
{
    (void)state;
    cluster = h_cluster_create(NODES);
    if (!cluster)
        return -1;
    return h_cluster_start_all(cluster, h_timeout_ms(), "test_ctl_ledger");
}

static int group_teardown(void **state)
{
    (void)state;
    if (bg.pid > 0) {
        kill(bg.pid, SIGKILL);
        waitpid(bg.pid, NULL, 0);
    }
    if (bg.fd >= 0)
        close(bg.fd);
    return 0;
}

static int leader_of(struct h_cluster *c)
{
    int leader;
    if (!h_wait_agreed(c, 0, h_timeout_ms(), &leader, NULL))
        fail_msg("no leader agreed: %s", h_views_line(c));
    return leader;
}

struct post_arg {
    struct h_cluster *c;
    const char *body;
    json_int_t last; /* out: last_index of the 201 */
};

static bool posted(void *arg)
{
    struct post_arg *a = arg;
    int leader;
    if (!h_agreed(a->c, 0, &leader, NULL))
        return false;
    long st = 0;
    char *text =
        h_http_request(a->c, leader, "POST", "/ledger/notes", a->body, a->c->token, 0, &st);
    json_t *j = text ? json_loads(text, 0, NULL) : NULL;
    if (st == 201)
        a->last = json_integer_value(json_object_get(j, "last_index"));
    json_decref(j);
    free(text);
    return st == 201;
}

/* Posts body to the leader's /ledger/notes until it is committed (201);
 * returns the last index. */
static json_int_t post_notes(struct h_cluster *c, const char *body)
{
    struct post_arg a = {.c = c, .body = body};
    if (!h_wait_until(posted, &a, h_timeout_ms()))
        fail_msg("%s never committed: %s", body, h_views_line(c));
    return a.last;
}

/* The hash of entry `index` as node `node` serves it (malloc'd). */
static char *entry_hash(struct h_cluster *c, int node, unsigned long long index)
{
    char path[64];
    snprintf(path, sizeof path, "/ledger?from=%llu&limit=1", index);
    long st = 0;
    json_t *page = h_http_get_json(c, node, path, &st);
    const char *hash = json_string_value(
        json_object_get(json_array_get(json_object_get(page, "entries"), 0), "hash"));
    if (st != 200 || !hash)
        fail_msg("%s: no entry %llu (HTTP %ld)", c->nodes[node].id, index, st);
    char *copy = strdup(hash);
    json_decref(page);
    return copy;
}

/* ---- show ------------------------------------------------------------- */

static void test_show_prints_a_posted_notes_text(void **state)
{
    (void)state;
    struct h_cluster *c = cluster;
    json_int_t index = post_notes(c, "{\"note\":\"note for show: 42 apples\"}");
    char arg[32], want_index[64];
    snprintf(arg, sizeof arg, "%lld", (long long)index);
    snprintf(want_index, sizeof want_index, "index:      %lld\n", (long long)index);
    int code;
    char *out, *err;
    assert_true(h_ctl(c, leader_of(c), &code, &out, &err, "ledger", "show", arg, NULL));
    if (code != 0 || !strstr(out, "\"note for show: 42 apples\"") || !strstr(out, want_index) ||
        !strstr(out, "type:       note"))
        fail_msg("exit %d; stdout:\n%s\nstderr:\n%s", code, out, err);
    free(out);
    free(err);
}

static void test_show_json_is_valid_json_with_the_index(void **state)
{
    (void)state;
    struct h_cluster *c = cluster;
    json_int_t index = post_notes(c, "{\"note\":\"note for show --json\"}");
    char arg[32];
    snprintf(arg, sizeof arg, "%lld", (long long)index);
    int code;
    char *out, *err;
    assert_true(h_ctl(c, leader_of(c), &code, &out, &err, "ledger", "show", arg, "--json", NULL));
    assert_int_equal(code, 0);
    json_error_t jerr;
    json_t *e = json_loads(out, 0, &jerr);
    if (!json_is_object(e))
        fail_msg("not a JSON object (%s): %s", jerr.text, out);
    assert_int_equal(json_integer_value(json_object_get(e, "index")), index);
    assert_string_equal(json_string_value(json_object_get(e, "type")), "note");
    assert_string_equal(json_string_value(json_object_get(e, "payload_decoded")),
                        "note for show --json");
    json_decref(e);
    free(out);
    free(err);
}

/* The first membership entry of the leader's ledger (a fresh federation
 * records its members' keys), or 0 when there is none yet. */
static json_int_t first_membership(struct h_cluster *c, int node)
{
    long st = 0;
    json_t *page = h_http_get_json(c, node, "/ledger?from=1&limit=100", &st);
    json_t *entries = json_object_get(page, "entries"), *e;
    size_t i;
    json_int_t found = 0;
    json_array_foreach(entries, i, e)
    {
        const char *type = json_string_value(json_object_get(e, "type"));
        if (!found && type && strcmp(type, "membership") == 0)
            found = json_integer_value(json_object_get(e, "index"));
    }
    json_decref(page);
    return found;
}

static bool has_membership(void *arg)
{
    struct h_cluster *c = arg;
    return first_membership(c, leader_of(c)) > 0;
}

static void test_show_names_a_membership_changes_fields(void **state)
{
    (void)state;
    struct h_cluster *c = cluster;
    if (!h_wait_until(has_membership, c, h_timeout_ms()))
        fail_msg("no membership entry in the leader's ledger: %s", h_views_line(c));
    int leader = leader_of(c);
    char arg[32];
    snprintf(arg, sizeof arg, "%lld", (long long)first_membership(c, leader));
    int code;
    char *out, *err;
    assert_true(h_ctl(c, leader, &code, &out, &err, "ledger", "show", arg, NULL));
    if (code != 0 || !strstr(out, "type:       membership") || !strstr(out, "\"op\": \"add\"") ||
        !strstr(out, "\"node\": \"n") || !strstr(out, "\"pubkey\": \""))
        fail_msg("exit %d; stdout:\n%s\nstderr:\n%s", code, out, err);
    free(out);
    free(err);
}

static void test_show_beyond_the_head_fails_with_exit_4(void **state)
{
    (void)state;
    struct h_cluster *c = cluster;
    int leader = leader_of(c);
    unsigned long long beyond = (unsigned long long)h_ledger_head_index(c, leader) + 1000;
    char arg[32], want[96];
    snprintf(arg, sizeof arg, "%llu", beyond);
    snprintf(want, sizeof want, "ledger show: no entry at index %llu", beyond);
    int code;
    char *out, *err;
    assert_true(h_ctl(c, leader, &code, &out, &err, "ledger", "show", arg, NULL));
    if (code != 4 || !strstr(err, want) || h_count_lines(err) != 1)
        fail_msg("want exit 4 and \"%s\"; got %d and: %s", want, code, err);
    assert_string_equal(out, "");
    free(out);
    free(err);
}

/* ---- tail ------------------------------------------------------------- */

static void test_tail_n_3_prints_exactly_the_last_3_entries(void **state)
{
    (void)state;
    struct h_cluster *c = cluster;
    post_notes(c, "{\"notes\":[\"tail one\",\"tail two\",\"tail three\",\"tail four\"]}");
    int leader = leader_of(c);
    json_int_t before = h_ledger_head_index(c, leader);
    int code;
    char *out, *err;
    assert_true(h_ctl(c, leader, &code, &out, &err, "ledger", "tail", "-n", "3", NULL));
    json_int_t after = h_ledger_head_index(c, leader);
    if (code != 0 || h_count_lines(out) != 4 || strncmp(out, "INDEX", 5) != 0)
        fail_msg("want a header and 3 lines, exit 0; got %d:\n%s\nstderr:\n%s", code, out, err);
    bool has_four = strstr(out, "\"tail four\"") != NULL; /* before strtok cuts out */
    /* Three consecutive entries, the last being the head at some instant
     * during the run, each with the hash the node serves. */
    unsigned long long first = 0, prev = 0;
    int n = 0;
    for (char *line = strtok(strchr(out, '\n') + 1, "\n"); line; line = strtok(NULL, "\n"), n++) {
        unsigned long long index, term;
        char when[64], type[32], author[32], hash[32];
        if (sscanf(line, "%llu %llu %63s %31s %31s %31s", &index, &term, when, type, author,
                   hash) != 6)
            fail_msg("cannot read the line: %s", line);
        if (n == 0)
            first = index;
        else if (index != prev + 1)
            fail_msg("entries not consecutive:\n%s", out);
        char *full = entry_hash(c, leader, index);
        if (strncmp(full, hash, strlen(hash)) != 0 || strlen(hash) < 8)
            fail_msg("entry %llu: printed hash %s, the node has %s", index, hash, full);
        free(full);
        prev = index;
    }
    assert_int_equal(n, 3);
    assert_int_equal(prev, first + 2);
    if ((json_int_t)prev < before || (json_int_t)prev > after)
        fail_msg("last printed %llu, head was %lld before and %lld after", prev, (long long)before,
                 (long long)after);
    if (before == after) /* nothing came after the notes: the last is the last note */
        assert_true(has_four);
    free(out);
    free(err);
}

/* A note longer than a line's room is cut between whole UTF-8 characters
 * and ends in "...", as the node cuts its texts. */
static void test_tail_cuts_a_long_note_between_whole_characters(void **state)
{
    (void)state;
    struct h_cluster *c = cluster;
    /* "\"" then 2-byte characters: no cut at an even count of bytes ends a
     * character, so a cut by bytes alone would split one */
    char body[512] = "{\"note\":\"";
    for (int i = 0; i < 100; i++)
        strcat(body, "\u00e9");
    strcat(body, "\"}");
    post_notes(c, body);
    int code;
    char *out, *err;
    assert_true(h_ctl(c, leader_of(c), &code, &out, &err, "ledger", "tail", "-n", "20", NULL));
    const char *at = strstr(out, "\"\xc3\xa9");
    if (code != 0 || !at)
        fail_msg("want the note's line, exit 0; got %d:\n%s\nstderr:\n%s", code, out, err);
    size_t len = strcspn(at, "\n");
    json_t *utf8 = json_stringn(at, len); /* NULL for a split character */
    bool whole = utf8 != NULL;
    json_decref(utf8);
    if (len < 4 || len > 63 || strncmp(at + len - 3, "...", 3) != 0 || !whole)
        fail_msg("want at most 60 bytes of whole characters then \"...\"; got %zu bytes: %.*s", len,
                 (int)len, at);
    free(out);
    free(err);
}

static void test_tail_json_gives_one_object_per_line(void **state)
{
    (void)state;
    struct h_cluster *c = cluster;
    post_notes(c, "{\"notes\":[\"ndjson one\",\"ndjson two\"]}");
    int code;
    char *out, *err;
    assert_true(
        h_ctl(c, leader_of(c), &code, &out, &err, "ledger", "tail", "-n", "5", "--json", NULL));
    assert_int_equal(code, 0);
    assert_int_equal(h_count_lines(out), 5);
    json_int_t prev = 0;
    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
        json_t *e = json_loads(line, 0, NULL);
        if (!json_is_object(e))
            fail_msg("not one JSON object per line: %s", line);
        json_int_t index = json_integer_value(json_object_get(e, "index"));
        if (prev && index != prev + 1)
            fail_msg("entries not consecutive: %s", line);
        assert_true(json_is_string(json_object_get(e, "hash")));
        assert_non_null(json_object_get(e, "payload_decoded"));
        prev = index;
        json_decref(e);
    }
    free(out);
    free(err);
}

/* ---- tail --follow ---------------------------------------------------- */

static void ctl_path(char *out, size_t len)
{
    /* chimeractl is built next to the test programs. */
    char self[H_PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    assert_true(n > 0);
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    assert_non_null(slash);
    *slash = '\0';
    snprintf(out, len, "%s/chimeractl", self);
    if (access(out, X_OK) != 0)
        fail_msg("no chimeractl at %s: %s", out, strerror(errno));
}

static void bg_start(struct h_cluster *c, int node, const char *const *args)
{
    char path[H_PATH_MAX + 16], addr[64], err_path[H_PATH_MAX + 32];
    ctl_path(path, sizeof path);
    snprintf(addr, sizeof addr, "%s:%d", c->nodes[node].http_host, c->nodes[node].http_port);
    snprintf(err_path, sizeof err_path, "%s/follow.err", c->dir);
    const char *argv[16] = {path, "--addr", addr};
    int a = 3;
    while (*args && a < 15)
        argv[a++] = *args++;
    argv[a] = NULL;
    int p[2];
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int e = open(err_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (dup2(p[1], STDOUT_FILENO) < 0 || e < 0 || dup2(e, STDERR_FILENO) < 0)
            _exit(127);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGINT, SIG_DFL);
        signal(SIGPIPE, SIG_DFL);
        unsetenv("CHIMERA_ADDR");
        unsetenv("CHIMERA_ADMIN_TOKEN_FILE");
        execv(path, (char *const *)argv);
        _exit(127);
    }
    close(p[1]);
    assert_int_equal(fcntl(p[0], F_SETFL, O_NONBLOCK), 0);
    bg.pid = pid;
    bg.fd = p[0];
    bg.len = 0;
    bg.out[0] = '\0';
}

static void bg_drain(void)
{
    ssize_t n;
    while (bg.len < sizeof bg.out - 1 &&
           (n = read(bg.fd, bg.out + bg.len, sizeof bg.out - 1 - bg.len)) > 0)
        bg.len += (size_t)n;
    bg.out[bg.len] = '\0';
}

static bool bg_lines_at_least(void *arg)
{
    bg_drain();
    return h_count_lines(bg.out) >= *(const size_t *)arg;
}

static bool bg_printed(void *arg)
{
    bg_drain();
    return strstr(bg.out, arg) != NULL;
}

static bool bg_exited(void *arg)
{
    (void)arg;
    bg_drain();
    if (waitpid(bg.pid, &bg.status, WNOHANG) != bg.pid)
        return false;
    bg.pid = 0;
    return true;
}

static void test_tail_follow_prints_a_note_posted_after_it_started(void **state)
{
    (void)state;
    struct h_cluster *c = cluster;
    int follower = (leader_of(c) + 1) % c->n;
    const char *const args[] = {"ledger", "tail", "-n", "1", "--follow", NULL};
    bg_start(c, follower, args);
    /* The header and the last entry: the initial tail is done, so what the
     * note brings can only come from following. */
    size_t two = 2;
    if (!h_wait_until(bg_lines_at_least, &two, h_timeout_ms()))
        fail_msg("tail --follow printed no initial tail: %s", bg.out);

    char note[96], body[128];
    snprintf(note, sizeof note, "posted while following (%d)", (int)bg.pid);
    snprintf(body, sizeof body, "{\"note\":\"%s\"}", note);
    post_notes(c, body);
    if (!h_wait_until(bg_printed, note, h_timeout_ms()))
        fail_msg("tail --follow on %s never printed \"%s\"; it printed:\n%s", c->nodes[follower].id,
                 note, bg.out);

    kill(bg.pid, SIGINT);
    if (!h_wait_until(bg_exited, NULL, h_timeout_ms()))
        fail_msg("tail --follow did not exit after SIGINT");
    if (!WIFEXITED(bg.status) || WEXITSTATUS(bg.status) != 0)
        fail_msg("tail --follow ended with wait status %#x (see %s/follow.err)", bg.status, c->dir);
    close(bg.fd);
    bg.fd = -1;
}

int main(void)
{
    /* A test that dies on SIGPIPE tells us nothing; let write errors show. */
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_show_prints_a_posted_notes_text),
        cmocka_unit_test(test_show_json_is_valid_json_with_the_index),
        cmocka_unit_test(test_show_names_a_membership_changes_fields),
        cmocka_unit_test(test_show_beyond_the_head_fails_with_exit_4),
        cmocka_unit_test(test_tail_n_3_prints_exactly_the_last_3_entries),
        cmocka_unit_test(test_tail_cuts_a_long_note_between_whole_characters),
        cmocka_unit_test(test_tail_json_gives_one_object_per_line),
        cmocka_unit_test(test_tail_follow_prints_a_note_posted_after_it_started),
    };
    int failed = h_group_end(
        cluster, cmocka_run_group_tests_name("ctl_ledger", tests, group_setup, group_teardown));
    if (failed) {
        /* A failed assertion longjmps past the frees of its test; skipping
         * the exit-time leak check keeps the failure itself readable. */
        fflush(NULL);
        _exit(1);
    }
    return 0;
}
