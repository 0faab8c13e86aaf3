/* Integration: a harness fixture that fails the test frees what it holds
 * first. cmocka leaves a failed test by a longjmp, past every free after
 * the failure, and what was left behind is reported by LeakSanitizer at
 * exit, below the real failure and longer than it. Each case runs one
 * fixture, made to fail, as the only test of a cmocka group in a forked
 * child: the child's group must fail, and LeakSanitizer must then find
 * nothing leaked in the child. The federation: three members of which only
 * n1 runs (no quorum: not ready, no note committed), and n2, whose data
 * directory was never made (ledger verify fails on it). Built without
 * LeakSanitizer (no CHIMERA_SANITIZE), the cases check the failures only. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "harness_fixture.h"
#include "ctl_support.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#define LEAK_CHECK 1
#else
#define LEAK_CHECK 0
#endif

static struct h_cluster *cluster;

static int group_setup(void **state)
{
    (void)state;
    cluster = h_cluster_create(3);
    if (!cluster || h_node_start(cluster, 0) != 0)
        return -1;
    return h_wait_http_up(cluster, 0, h_timeout_ms()) ? 0 : -1;
}

/* ---- one failing fixture in a child ------------------------------------ */

enum child_exit { FAILED_CLEAN = 0, PASSED = 1, LEAKED = 2 };

static void (*child_case)(void);

static void run_child_case(void **state)
{
    (void)state;
    child_case();
}

/* Something the child allocated is no longer reachable (and says what on
 * stderr). */
static bool leaked(void)
{
#if LEAK_CHECK
    return __lsan_do_recoverable_leak_check() != 0;
#else
    return false;
#endif
}

/* Runs fn as the one test of a group in a forked child, its output in
 * DIR/name.out; how the child ended. The child leaves by _exit: the
 * nodes are the parent's, and so are the harness's exit handlers. */
static enum child_exit run_in_child(const char *name, void (*fn)(void), char **output)
{
    char log[H_PATH_MAX + 64];
    snprintf(log, sizeof log, "%s/%s.out", cluster->dir, name);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
            _exit(127);
        child_case = fn;
        const struct CMUnitTest one[] = {{name, run_child_case, NULL, NULL, NULL}};
        int failed = _cmocka_run_group_tests(name, one, 1, NULL, NULL);
        enum child_exit how = failed != 1 ? PASSED : leaked() ? LEAKED : FAILED_CLEAN;
        fflush(NULL);
        _exit(how);
    }
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    *output = h_read_file(log);
    if (!WIFEXITED(st) || WEXITSTATUS(st) > LEAKED) {
        fprintf(stderr, "ERROR: the child for %s ended with raw status %d:\n%s\n", name, st,
                *output ? *output : "");
        free(*output);
        *output = NULL;
        fail();
    }
    return (enum child_exit)WEXITSTATUS(st);
}

/* fn fails its test and leaves nothing behind. */
static void expect_fails_clean(const char *name, void (*fn)(void))
{
    char *out = NULL;
    enum child_exit how = run_in_child(name, fn, &out);
    if (how != FAILED_CLEAN) /* not print_error: it cuts the child's report short */
        fprintf(stderr, "ERROR: %s %s:\n%s\n", name,
                how == PASSED ? "did not fail the test" : "left memory behind when it failed",
                out ? out : "");
    free(out);
    if (how != FAILED_CLEAN)
        fail();
}

/* ---- the fixtures, made to fail ------------------------------------------ */

static void ready_on_a_node_without_quorum(void)
{
    h_expect_ready(cluster, 0, 200);
}

static void note_to_a_node_without_quorum(void)
{
    h_note_committed(cluster, 0, "harness failure case");
}

static void ledger_verify_without_a_data_directory(void)
{
    json_decref(h_ledger_verify(cluster, 1));
}

static void ctl_expectation_not_met(void)
{
    struct run r = CTL(cluster, 0, "no-such-command");
    EXPECT(r.code == 0, r);
    run_free(&r);
}

static void test_expect_ready_frees_the_answer_when_it_fails(void **state)
{
    (void)state;
    expect_fails_clean("expect_ready", ready_on_a_node_without_quorum);
}

static void test_note_committed_frees_the_answer_when_it_fails(void **state)
{
    (void)state;
    expect_fails_clean("note_committed", note_to_a_node_without_quorum);
}

static void test_ledger_verify_frees_what_chimeractl_printed_when_it_fails(void **state)
{
    (void)state;
    expect_fails_clean("ledger_verify", ledger_verify_without_a_data_directory);
}

static void test_expect_frees_what_chimeractl_printed_when_it_fails(void **state)
{
    (void)state;
    expect_fails_clean("ctl_expect", ctl_expectation_not_met);
}

/* ---- the check itself sees a leak --------------------------------------- */

static void leak_then_fail(void)
{
    char *held = h_read_file("/proc/self/stat");
    assert_non_null(held);
    fail_msg("a failure that leaves a buffer behind");
}

/* The cases above would pass on a check that sees nothing. */
static void test_the_check_sees_what_a_failed_test_leaves_behind(void **state)
{
    (void)state;
    if (!LEAK_CHECK)
        skip(); /* no LeakSanitizer in this build */
    char *out = NULL;
    enum child_exit how = run_in_child("leak_then_fail", leak_then_fail, &out);
    if (how != LEAKED)
        fprintf(stderr, "ERROR: a buffer left behind went unseen (child exit %d):\n%s\n", how,
                out ? out : "");
    free(out);
    assert_int_equal(how, LEAKED);
}

int main(void)
{
    static const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_the_check_sees_what_a_failed_test_leaves_behind),
        cmocka_unit_test(test_expect_ready_frees_the_answer_when_it_fails),
        cmocka_unit_test(test_note_committed_frees_the_answer_when_it_fails),
        cmocka_unit_test(test_ledger_verify_frees_what_chimeractl_printed_when_it_fails),
        cmocka_unit_test(test_expect_frees_what_chimeractl_printed_when_it_fails),
    };
    return h_group_end(cluster, cmocka_run_group_tests(tests, group_setup, NULL));
}
