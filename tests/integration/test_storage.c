/* Integration: what a node does when its storage fails it.
 *
 * A full disk, for real: each node's data directory is a small tmpfs, and
 * the test fills the leader's until the kernel answers ENOSPC. The leader
 * must answer the next note 503 naming the cause, step down with a
 * consensus.step_down event that says why, fail /health/ready, and leave the
 * others to elect a leader that commits notes; once space is freed it
 * rejoins as a follower and catches up. A follower whose disk fills keeps
 * running (it used to exit), acknowledges nothing it could not store, fails
 * readiness, and catches up once space is back. Mounting needs root (CI is root):
 * elsewhere the test is skipped with a loud message, and
 * CHIMERA_REQUIRE_NETNS=1 (CI's switch for the root-only tests) turns the
 * skip into a failure. (RLIMIT_FSIZE is no substitute: it gives EFBIG, not
 * ENOSPC.)
 *
 * A lost consensus.state: a node whose ledger holds entries but whose
 * state file is gone must refuse to start (exit 2, one line naming the file,
 * the ledger's last term and what to do), and start again once the data
 * directory is wiped as the message says. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/inotify.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#define TMPFS_SIZE "32m"

static bool mounted[H_MAX_NODES];

static int setup(void **state)
{
    struct h_cluster *c = h_cluster_create(3);
    if (!c)
        return -1;
    /* What is tested is what a disk does to a node, not how fast: at the
     * default 150 ms a loaded machine's scheduler alone costs the leader
     * now and then (2 of 10 runs at load 12.6 under the sanitizers, a 503
     * with no disk failure yet). */
    c->election_timeout_ms = 1000;
    memset(mounted, 0, sizeof(mounted));
    *state = c;
    return 0;
}

static int teardown(void **state)
{
    struct h_cluster *c = *state;
    if (!c)
        return 0;
    /* The nodes first: a mount they hold open cannot go. */
    for (int i = 0; i < c->n; i++)
        h_node_kill(c, i);
    for (int i = 0; i < c->n; i++)
        if (mounted[i] && umount2(c->nodes[i].data, MNT_DETACH) != 0)
            fprintf(stderr, "test_storage: cannot unmount %s: %s\n", c->nodes[i].data,
                    strerror(errno));
    h_cluster_destroy(c);
    return 0;
}

/* Gives every node's data directory a tmpfs of its own, or skips (not
 * root) unless CHIMERA_REQUIRE_NETNS=1. */
static void mount_tmpfs_or_skip(struct h_cluster *c)
{
    char why[H_PATH_MAX + 256] = "";
    if (geteuid() != 0)
        snprintf(why, sizeof(why), "mounting a tmpfs needs root");
    for (int i = 0; i < c->n && !why[0]; i++) {
        if (mkdir(c->nodes[i].data, 0700) != 0 && errno != EEXIST)
            snprintf(why, sizeof(why), "mkdir %s: %s", c->nodes[i].data, strerror(errno));
        else if (mount("tmpfs", c->nodes[i].data, "tmpfs", 0, "size=" TMPFS_SIZE ",mode=0700") != 0)
            snprintf(why, sizeof(why), "mount -t tmpfs %s: %s", c->nodes[i].data, strerror(errno));
        else
            mounted[i] = true;
    }
    if (!why[0])
        return;
    const char *req = getenv("CHIMERA_REQUIRE_NETNS");
    if (req && strcmp(req, "1") == 0)
        fail_msg("CHIMERA_REQUIRE_NETNS=1 but the full-disk test cannot run: %s", why);
    fprintf(stderr, "*** test_storage: full disk SKIPPED (%s)\n", why);
    h_cluster_pass(c);
    skip();
}

/* Writes dir/filler until the filesystem has no byte left: ENOSPC. */
static void fill(const char *dir, char *path, size_t len)
{
    snprintf(path, len, "%s/filler", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    static char buf[1 << 20];
    memset(buf, 'x', sizeof(buf));
    for (size_t chunk = sizeof(buf); chunk > 0; chunk /= 2) {
        for (;;) {
            ssize_t k = write(fd, buf, chunk);
            if (k < 0 && errno == EINTR)
                continue;
            if (k < 0) {
                assert_int_equal(errno, ENOSPC);
                break;
            }
        }
    }
    close(fd);
}

static long post_note(struct h_cluster *c, int i, const char *text, char **body)
{
    char json[128];
    snprintf(json, sizeof(json), "{\"note\":\"%s\"}", text);
    long status = 0;
    char *b = h_http_request(c, i, "POST", "/ledger/notes", json, c->token, 5000, &status);
    if (body)
        *body = b;
    else
        free(b);
    return status;
}

/* Posts 16 KB of notes, more than the slack a full disk leaves in the
 * last page of a segment file. Returns the body; the status in *status. */
static char *post_big(struct h_cluster *c, int i, long *status)
{
    static char big[8 * 2100 + 64];
    size_t at = (size_t)snprintf(big, sizeof(big), "{\"notes\":[");
    for (int k = 0; k < 8; k++) {
        big[at++] = k ? ',' : ' ';
        big[at++] = '"';
        memset(big + at, 'a' + k, 2000);
        at += 2000;
        big[at++] = '"';
    }
    snprintf(big + at, sizeof(big) - at, "]}");
    return h_http_request(c, i, "POST", "/ledger/notes", big, c->token, 5000, status);
}

/* The message of node i's first event of this kind after seq `after`. */
static char *event_message(struct h_cluster *c, int i, const char *kind, unsigned long long after)
{
    json_t *ev = h_events(c, i);
    char *msg = NULL;
    size_t k;
    json_t *e;
    json_array_foreach(ev, k, e)
    {
        const char *kd = json_string_value(json_object_get(e, "kind"));
        json_int_t seq = json_integer_value(json_object_get(e, "seq"));
        if (!msg && kd && strcmp(kd, kind) == 0 && (unsigned long long)seq > after)
            msg = strdup(json_string_value(json_object_get(e, "message")));
    }
    json_decref(ev);
    return msg;
}

struct head_wait {
    struct h_cluster *c;
    int a, b;
};

/* Nodes a and b report the same ledger head index and commit, above 0. */
static bool same_head(void *arg)
{
    struct head_wait *w = arg;
    long sa = 0, sb = 0;
    json_t *ha = h_http_get_json(w->c, w->a, "/ledger/head", &sa);
    json_t *hb = h_http_get_json(w->c, w->b, "/ledger/head", &sb);
    bool ok = sa == 200 && sb == 200 && json_integer_value(json_object_get(ha, "index")) > 0 &&
              json_integer_value(json_object_get(ha, "index")) ==
                  json_integer_value(json_object_get(hb, "index")) &&
              json_integer_value(json_object_get(ha, "committed")) ==
                  json_integer_value(json_object_get(hb, "committed"));
    json_decref(ha);
    json_decref(hb);
    return ok;
}

struct ready_wait {
    struct h_cluster *c;
    int i;
    long want;
};

static bool ready_is(void *arg)
{
    struct ready_wait *w = arg;
    return h_ready_status(w->c, w->i) == w->want;
}

static size_t count_events(struct h_cluster *c, int i, const char *kind, unsigned long long after)
{
    size_t k = 0;
    for (unsigned long long seq = after; (seq = h_event_seq(c, i, kind, NULL, seq)) > 0;)
        k++;
    return k;
}

static void test_a_leader_whose_disk_fills_steps_down_and_rejoins_when_space_returns(void **state)
{
    struct h_cluster *c = *state;
    mount_tmpfs_or_skip(c);
    unsigned long long term;
    int old = h_start_agreed(c, "test_storage", &term);
    if (old < 0)
        fail_msg("the federation did not come up with a leader (the line above says why)");
    assert_int_equal(post_note(c, old, "before the disk fills", NULL), 201);
    unsigned long long seq = h_last_event_seq(c, old), failed_at = seq;

    char filler[H_PATH_MAX + 16];
    fill(c->nodes[old].data, filler, sizeof(filler));
    long st = 0;
    char *body = post_big(c, old, &st);
    if (st != 503 || !body || !strstr(body, "no space left on device"))
        fail_msg("a note to the leader with a full disk: %ld %s (want 503 naming \"no space "
                 "left on device\")",
                 st, body ? body : "(no body)");
    free(body);

    if (!h_wait_event(c, old, "consensus.step_down", NULL, seq, h_timeout_ms()))
        fail_msg("%s raised no consensus.step_down (log: %s)", c->nodes[old].id, c->nodes[old].log);
    char *msg = event_message(c, old, "consensus.step_down", seq);
    if (!msg || !strstr(msg, "cannot write the ledger: no space left on device"))
        fail_msg("the step-down does not name the cause: %s", msg ? msg : "(none)");
    free(msg);
    assert_true(h_event_seq(c, old, "ledger.write_failed", NULL, seq) > 0);
    struct ready_wait rw = {c, old, 503};
    if (!h_wait_until(ready_is, &rw, h_timeout_ms()))
        fail_msg("%s still answers /health/ready %ld with a full disk", c->nodes[old].id,
                 h_ready_status(c, old));
    long rs = 0;
    json_t *ready = h_http_get_json(c, old, "/health/ready", &rs);
    const char *reason = json_string_value(json_object_get(ready, "reason"));
    if (rs != 503 || !reason || !strstr(reason, "no space left on device"))
        fail_msg("/health/ready on %s: %ld, reason %s (want the cause)", c->nodes[old].id, rs,
                 reason ? reason : "(none)");
    json_decref(ready);

    /* The others elect a leader that commits; the full node cannot be it. */
    int others[2], k = 0;
    for (int i = 0; i < c->n; i++)
        if (i != old)
            others[k++] = i;
    int leader;
    unsigned long long term2;
    if (!h_wait_agreed_among(c, others, 2, term, 3 * h_timeout_ms(), &leader, &term2))
        fail_msg("no new leader among the others: %s", h_views_line(c));
    assert_int_not_equal(leader, old);
    assert_int_equal(post_note(c, leader, "after the step-down", NULL), 201);

    /* The new leader's entries reached the full node as small writes: one
     * that fits is no sign that space is back. */
    assert_int_equal(count_events(c, old, "ledger.write_recovered", failed_at), 0);

    /* Space comes back: the old leader follows and catches up. */
    seq = h_last_event_seq(c, old);
    assert_int_equal(unlink(filler), 0);
    assert_int_equal(post_note(c, leader, "after the space came back", NULL), 201);
    struct head_wait hw = {c, leader, old};
    if (!h_wait_until(same_head, &hw, 3 * h_timeout_ms()))
        fail_msg("%s did not catch up with %s once space was freed: %s", c->nodes[old].id,
                 c->nodes[leader].id, h_views_line(c));
    if (!h_wait_agreed(c, term, 3 * h_timeout_ms(), NULL, NULL))
        fail_msg("the three nodes do not agree on a leader again: %s", h_views_line(c));
    assert_true(h_wait_event(c, old, "ledger.write_recovered", NULL, seq, h_timeout_ms()) > 0);
    rw.want = 200;
    if (!h_wait_until(ready_is, &rw, h_timeout_ms()))
        fail_msg("%s is not ready again: %ld", c->nodes[old].id, h_ready_status(c, old));
    assert_true(h_node_running(c, old));
    h_cluster_pass(c);
}

/* Mounts the tmpfs, starts the federation and fills a follower's disk:
 * that follower, with the leader in *leader, the follower's last event
 * before in *seq and the filler's path. */
static int fill_a_follower(struct h_cluster *c, int *leader, unsigned long long *seq, char *filler,
                           size_t len)
{
    mount_tmpfs_or_skip(c);
    unsigned long long term;
    *leader = h_start_agreed(c, "test_storage", &term);
    if (*leader < 0)
        fail_msg("the federation did not come up with a leader (the line above says why)");
    int f = (*leader + 1) % c->n;
    *seq = h_last_event_seq(c, f);
    fill(c->nodes[f].data, filler, len);
    return f;
}

static void test_a_follower_whose_disk_fills_keeps_running_and_catches_up(void **state)
{
    struct h_cluster *c = *state;
    int leader;
    unsigned long long seq;
    char filler[H_PATH_MAX + 16];
    int f = fill_a_follower(c, &leader, &seq, filler, sizeof(filler));
    /* The leader and the other follower still commit; the full one cannot
     * store what it is sent, and must neither die nor acknowledge it. */
    for (int k = 0; k < 4; k++) {
        long st = 0;
        free(post_big(c, leader, &st));
        assert_int_equal(st, 201);
    }
    if (!h_wait_event(c, f, "ledger.write_failed", NULL, seq, h_timeout_ms()))
        fail_msg("%s raised no ledger.write_failed (log: %s)", c->nodes[f].id, c->nodes[f].log);
    char *msg = event_message(c, f, "ledger.write_failed", seq);
    if (!msg || !strstr(msg, "no space left on device"))
        fail_msg("the failure does not name the cause: %s", msg ? msg : "(none)");
    free(msg);
    struct ready_wait rw = {c, f, 503};
    if (!h_wait_until(ready_is, &rw, h_timeout_ms()))
        fail_msg("%s answers /health/ready %ld with a full disk", c->nodes[f].id,
                 h_ready_status(c, f));
    assert_true(h_node_running(c, f));
    /* It keeps following its leader: no read-only episode per refusal. */
    assert_true(count_events(c, f, "consensus.read_only.enter", seq) <= 1);
    assert_int_equal(count_events(c, f, "ledger.write_failed", seq), 1);
    assert_int_equal(count_events(c, f, "ledger.write_recovered", seq), 0);

    assert_int_equal(unlink(filler), 0);
    struct head_wait hw = {c, leader, f};
    if (!h_wait_until(same_head, &hw, 3 * h_timeout_ms()))
        fail_msg("%s did not catch up once space was freed: %s", c->nodes[f].id, h_views_line(c));
    rw.want = 200;
    if (!h_wait_until(ready_is, &rw, h_timeout_ms()))
        fail_msg("%s is not ready again: %ld", c->nodes[f].id, h_ready_status(c, f));
    h_cluster_pass(c);
}

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* The probes of a disk (durable_probe creates dir/.write-probe each time),
 * as inotify sees them: watch, then count what came since. */
static int watch_probes(const char *dir)
{
    int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    assert_true(fd >= 0);
    /* Deletions too: inotify folds an event into an identical one still
     * unread, so creations alone would count as one. */
    assert_true(inotify_add_watch(fd, dir, IN_CREATE | IN_DELETE) >= 0);
    return fd;
}

static int count_probes(int fd)
{
    int n = 0;
    _Alignas(struct inotify_event) char buf[8192];
    for (ssize_t k; (k = read(fd, buf, sizeof(buf))) > 0;)
        for (char *p = buf; p < buf + k;) {
            const struct inotify_event *e = (const void *)p;
            if ((e->mask & IN_CREATE) && e->len && strcmp(e->name, ".write-probe") == 0)
                n++;
            p += sizeof(*e) + e->len;
        }
    return n;
}

#define SMALL_NOTES 30

/* While a disk is marked failed, every write that succeeds asks whether
 * space is back, and only a probe of 256 KiB written and synced may say
 * so: a probe starts at most once an election timeout (and on the pool,
 * not on the loop), not once per append, which under writes would be
 * hundreds of 256 KiB writes a second to a disk that just failed. */
static void test_a_failed_disk_is_probed_at_most_once_an_election_timeout(void **state)
{
    struct h_cluster *c = *state;
    int leader;
    unsigned long long seq;
    char filler[H_PATH_MAX + 16];
    int f = fill_a_follower(c, &leader, &seq, filler, sizeof(filler));
    long st = 0;
    free(post_big(c, leader, &st));
    assert_int_equal(st, 201);
    if (!h_wait_event(c, f, "ledger.write_failed", NULL, seq, h_timeout_ms()))
        fail_msg("%s raised no ledger.write_failed (log: %s)", c->nodes[f].id, c->nodes[f].log);

    /* Room for the notes but not for a probe: the follower's appends
     * succeed while its disk stays marked failed. */
    int probes = watch_probes(c->nodes[f].data);
    uint64_t t0 = mono_ms();
    struct stat fs;
    assert_int_equal(stat(filler, &fs), 0);
    assert_int_equal(truncate(filler, fs.st_size - 128 * 1024), 0);
    /* One at a time, each stored by the full follower before the next: an
     * append of its own for each. */
    struct head_wait hw = {c, leader, f};
    for (int k = 0; k < SMALL_NOTES; k++) {
        char text[32];
        snprintf(text, sizeof(text), "small note %d", k);
        assert_int_equal(post_note(c, leader, text, NULL), 201);
        if (!h_wait_until(same_head, &hw, 3 * h_timeout_ms()))
            fail_msg("%s did not store note %d once there was room for it: %s", c->nodes[f].id, k,
                     h_views_line(c));
    }
    uint64_t elapsed = mono_ms() - t0;
    int n = count_probes(probes);
    close(probes);
    /* Starts an election timeout apart, give or take the loop turn one
     * started in. */
    uint64_t most = 2 + elapsed / (uint64_t)c->election_timeout_ms;
    print_message("%d probes in %llu ms while %d notes were appended\n", n,
                  (unsigned long long)elapsed, SMALL_NOTES);
    if ((uint64_t)n > most)
        fail_msg("%s probed its disk %d times in %llu ms (%d notes appended); at most %llu with "
                 "one per election timeout (%d ms)",
                 c->nodes[f].id, n, (unsigned long long)elapsed, SMALL_NOTES,
                 (unsigned long long)most, c->election_timeout_ms);
    assert_int_equal(count_events(c, f, "ledger.write_recovered", seq), 0);

    /* Space back: a probe says so. */
    seq = h_last_event_seq(c, f);
    assert_int_equal(unlink(filler), 0);
    assert_int_equal(post_note(c, leader, "after the space came back", NULL), 201);
    if (!h_wait_event(c, f, "ledger.write_recovered", NULL, seq, 3 * h_timeout_ms()))
        fail_msg("%s never found its disk writable again (log: %s)", c->nodes[f].id,
                 c->nodes[f].log);
    assert_true(h_node_running(c, f));
    h_cluster_pass(c);
}

static void test_a_lost_consensus_state_next_to_a_ledger_refuses_to_start(void **state)
{
    struct h_cluster *c = *state;
    unsigned long long term;
    int leader = h_start_agreed(c, "test_storage", &term);
    if (leader < 0)
        fail_msg("the federation did not come up with a leader (the line above says why)");
    assert_int_equal(post_note(c, leader, "kept in every ledger", NULL), 201);
    int f = (leader + 1) % c->n;
    struct head_wait hw = {c, leader, f};
    if (!h_wait_until(same_head, &hw, h_timeout_ms()))
        fail_msg("%s did not catch up", c->nodes[f].id);
    h_node_stop(c, f);

    char path[H_PATH_MAX + 32], err_path[H_PATH_MAX + 32];
    snprintf(path, sizeof(path), "%s/consensus.state", c->nodes[f].data);
    assert_int_equal(unlink(path), 0);
    snprintf(err_path, sizeof(err_path), "%s/n%d.refused.err", c->dir, f + 1);
    struct h_start o = {.stderr_path = err_path};
    assert_int_equal(h_node_start_opts(c, f, &o), 0);
    int status;
    if (!h_node_wait_exit(c, f, h_timeout_ms(), &status))
        fail_msg("%s started without its consensus.state", c->nodes[f].id);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 2);
    char *err = h_read_file(err_path);
    assert_non_null(err);
    char want[64];
    snprintf(want, sizeof(want), "up to term %llu", term);
    if (h_count_lines(err) != 1 || !strstr(err, path) || !strstr(err, "is missing") ||
        !strstr(err, want) || !strstr(err, "wipe the data directory"))
        fail_msg("the refusal is not one line naming the file, the term (%s) and the fix: %s", want,
                 err);
    free(err);

    /* The fix the message gives: a wiped node rejoins and copies the
     * ledger. */
    h_remove_tree(c->nodes[f].data);
    assert_int_equal(h_node_start(c, f), 0);
    if (!h_wait_http_up(c, f, h_timeout_ms()))
        fail_msg("%s did not start with a wiped data directory (log: %s)", c->nodes[f].id,
                 c->nodes[f].log);
    assert_int_equal(post_note(c, leader, "after the wipe", NULL), 201);
    if (!h_wait_until(same_head, &hw, 3 * h_timeout_ms()))
        fail_msg("%s did not catch up after the wipe: %s", c->nodes[f].id, h_views_line(c));
    h_cluster_pass(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_a_leader_whose_disk_fills_steps_down_and_rejoins_when_space_returns, setup,
            teardown),
        cmocka_unit_test_setup_teardown(
            test_a_follower_whose_disk_fills_keeps_running_and_catches_up, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_a_failed_disk_is_probed_at_most_once_an_election_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_a_lost_consensus_state_next_to_a_ledger_refuses_to_start, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
