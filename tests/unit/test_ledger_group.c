/* Group commit: which appends join the leader's open group, when it is
 * written first, and when it is dropped; and the batch rebuilt on a head
 * that moved under it (ledger_batch_rebuild). */
#include "test_ledger_support.h"

#include <dirent.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "ledger/group.h"

/* ---- the decisions (ledger/group.h) ------------------------------------- */

static void test_an_append_with_no_group_open_starts_one(void **state)
{
    (void)state;
    struct ledger_group g = {0};
    assert_int_equal(ledger_group_on_append(&g, 3, 1, 100), LEDGER_GROUP_JOIN);
}

static void test_appends_of_the_same_term_join_the_open_group(void **state)
{
    (void)state;
    struct ledger_group g = {.entries = 63, .bytes = 6300, .term = 3};
    assert_int_equal(ledger_group_on_append(&g, 3, 1, 100), LEDGER_GROUP_JOIN);
}

static void test_a_group_of_an_older_term_is_dropped_before_a_new_one_starts(void **state)
{
    (void)state;
    struct ledger_group g = {.entries = 5, .bytes = 500, .term = 3};
    assert_int_equal(ledger_group_on_append(&g, 4, 1, 100), LEDGER_GROUP_DROP_FIRST);
}

static void test_a_group_that_would_exceed_its_entries_is_written_first(void **state)
{
    (void)state;
    struct ledger_group g = {.entries = LEDGER_GROUP_MAX_ENTRIES - 1, .bytes = 100, .term = 3};
    assert_int_equal(ledger_group_on_append(&g, 3, 1, 1), LEDGER_GROUP_JOIN);
    assert_int_equal(ledger_group_on_append(&g, 3, 2, 1), LEDGER_GROUP_WRITE_FIRST);
}

static void test_a_group_that_would_exceed_its_bytes_is_written_first(void **state)
{
    (void)state;
    struct ledger_group g = {.entries = 1, .bytes = LEDGER_GROUP_MAX_BYTES - 10, .term = 3};
    assert_int_equal(ledger_group_on_append(&g, 3, 1, 10), LEDGER_GROUP_JOIN);
    assert_int_equal(ledger_group_on_append(&g, 3, 1, 11), LEDGER_GROUP_WRITE_FIRST);
}

static void test_an_append_larger_than_a_group_makes_a_group_of_its_own(void **state)
{
    (void)state;
    struct ledger_group none = {0};
    assert_int_equal(ledger_group_on_append(&none, 3, 2 * LEDGER_GROUP_MAX_ENTRIES, 1),
                     LEDGER_GROUP_JOIN);
    struct ledger_group over = {.entries = 2 * LEDGER_GROUP_MAX_ENTRIES, .bytes = 1, .term = 3};
    assert_int_equal(ledger_group_on_append(&over, 3, 1, 1), LEDGER_GROUP_WRITE_FIRST);
    assert_int_equal(ledger_group_on_append(&over, 3, SIZE_MAX, SIZE_MAX),
                     LEDGER_GROUP_WRITE_FIRST);
}

static void test_only_the_leader_of_the_groups_term_writes_it(void **state)
{
    (void)state;
    struct ledger_group g = {.entries = 2, .bytes = 200, .term = 3};
    assert_true(ledger_group_writable(&g, true, 3));
    assert_false(ledger_group_writable(&g, false, 3)); /* stepped down */
    assert_false(ledger_group_writable(&g, true, 4));  /* leads a later term */
    struct ledger_group empty = {.term = 3};
    assert_false(ledger_group_writable(&empty, true, 3));
}

/* ---- rebuilding a batch ------------------------------------------------- */

static void test_a_group_outlives_a_checkpoint_written_under_it(void **state)
{
    (void)state;
    struct fx *f = fx_new();
    struct ledger_batch *group = ledger_batch_new();
    assert_non_null(group);
    fx_build_small(f, NULL);
    ledger_batch_begin(group, f->l);
    struct fx g = *f;
    g.b = group;
    fx_note(&g, 2, 10);
    fx_note(&g, 2, 11);
    /* a checkpoint of 9 is written while the group is open */
    fx_begin(f);
    fx_checkpoint(f, 2, 0, 1, 2);
    fx_commit(f);
    assert_int_equal(ledger_batch_rebuild(group, f->l, 2), LEDGER_OK);
    assert_int_equal(ledger_append_batch(f->l, group), LEDGER_OK);
    assert_int_equal(ledger_last_index(f->l), 11);
    struct ledger_verify_report rep;
    assert_int_equal(verify_dir(f, &rep), LEDGER_VERIFY_OK);
    ledger_batch_free(group);
    fx_free(f);
}

static void test_rebuilding_keeps_only_the_entries_asked_for(void **state)
{
    (void)state;
    struct fx *f = fx_new();
    fx_build_small(f, NULL);
    fx_begin(f);
    fx_note(f, 2, 10);
    fx_note(f, 2, 11);
    fx_note(f, 2, 12);
    assert_int_equal(ledger_batch_rebuild(f->b, f->l, 1), LEDGER_OK);
    assert_int_equal(ledger_batch_records(f->b), 1);
    fx_note(f, 2, 11); /* the next index is 11 again */
    fx_commit(f);
    assert_int_equal(ledger_last_index(f->l), 11);
    fx_free(f);
}

static void test_a_group_whose_entries_no_longer_follow_the_head_is_refused(void **state)
{
    (void)state;
    struct fx *f = fx_new();
    struct ledger_batch *group = ledger_batch_new();
    fx_build_small(f, NULL);
    ledger_batch_begin(group, f->l);
    struct fx g = *f;
    g.b = group;
    fx_note(&g, 2, 10);
    fx_begin(f); /* another entry 10 reached the store first */
    fx_note(f, 2, 99);
    fx_commit(f);
    assert_int_equal(ledger_batch_rebuild(group, f->l, 1), LEDGER_ECHAIN);
    assert_int_equal(ledger_batch_records(group), 0);
    assert_int_equal(ledger_last_index(f->l), 10);
    ledger_batch_free(group);
    fx_free(f);
}

static void test_a_batch_holding_other_records_is_not_rebuilt(void **state)
{
    (void)state;
    struct fx *f = fx_new();
    fx_build_small(f, NULL);
    fx_begin(f);
    fx_checkpoint(f, 2, 0, 1, 2);
    assert_int_equal(ledger_batch_rebuild(f->b, f->l, 0), LEDGER_EINVAL);
    fx_free(f);
}

/* ---- writing now, syncing elsewhere ------------------------------------ */

/* fd is open on the ledger's last segment file, the one the batches went
 * to: a descriptor of any other file would sync nothing of theirs. */
static void assert_fd_is_the_last_segment(struct fx *f, int fd)
{
    char path[512];
    struct stat seg, got;
    assert_true(ledger_seg_path(f->l, f->l->nsegs - 1, path, sizeof(path)));
    assert_int_equal(stat(path, &seg), 0);
    assert_int_equal(fstat(fd, &got), 0);
    assert_true(got.st_dev == seg.st_dev);
    assert_true(got.st_ino == seg.st_ino);
}

static int count_syncs(int fd, enum ledger_sync_what what, void *arg)
{
    (*(int *)arg)++;
    return what == LEDGER_SYNC_DATA ? fdatasync(fd) : fsync(fd);
}

/* The small ledger, opened with opt, which counts its syncs in *syncs. */
static struct fx *counted_small(int *syncs, struct ledger_options *opt)
{
    struct fx *f = fx_new();
    *opt = (struct ledger_options){.sync = count_syncs, .sync_arg = syncs};
    fx_build_small(f, opt);
    return f;
}

/* The latest checkpoint is for index, with nsigs signatures. */
static void expect_last_checkpoint(struct fx *f, uint64_t index, size_t nsigs)
{
    struct ledger_signed_checkpoint cp;
    assert_int_equal(ledger_last_checkpoint(f->l, &cp), LEDGER_OK);
    assert_int_equal(cp.cp.index, index);
    assert_int_equal(cp.nsigs, nsigs);
}

static void
test_a_batch_written_without_its_sync_is_readable_and_leaves_the_sync_to_the_caller(void **state)
{
    (void)state;
    int syncs = 0;
    struct ledger_options opt;
    struct fx *f = counted_small(&syncs, &opt);
    int before = syncs, fd = -1;
    fx_begin(f);
    fx_note(f, 2, 10);
    fx_note(f, 2, 11);
    assert_int_equal(ledger_append_batch_nosync(f->l, f->b, &fd), LEDGER_OK);
    assert_int_equal(syncs, before); /* the store synced nothing */
    assert_true(fd >= 0);
    assert_fd_is_the_last_segment(f, fd);
    assert_int_equal(ledger_last_index(f->l), 11);
    uint8_t *b;
    size_t n;
    assert_int_equal(ledger_read_entry(f->l, 11, &b, &n), LEDGER_OK);
    free(b);
    assert_int_equal(fdatasync(fd), 0);
    close(fd);
    fx_begin(f); /* the next batch chains on the unsynced one */
    fx_note(f, 2, 12);
    fx_commit(f);
    fx_open(f, &opt);
    assert_int_equal(ledger_last_index(f->l), 12);
    struct ledger_verify_report rep;
    assert_int_equal(verify_dir(f, &rep), LEDGER_VERIFY_OK);
    fx_free(f);
}

/* A checkpoint and its cosignatures written without their sync: the
 * store holds them at once, and a later sync descriptor makes them
 * durable (what the node's pool sync does for them). */
static void
test_a_checkpoint_written_without_its_sync_counts_at_once_and_a_later_sync_keeps_it(void **state)
{
    (void)state;
    int syncs = 0;
    struct ledger_options opt;
    struct fx *f = counted_small(&syncs, &opt);
    int before = syncs;
    fx_begin(f);
    fx_checkpoint(f, 2, 0, 1, 2); /* checkpoint(9) by n1, cosigned by n2 and n3 */
    assert_int_equal(ledger_append_batch_unsynced(f->l, f->b), LEDGER_OK);
    assert_int_equal(syncs, before); /* the caller waited for no disk */
    expect_last_checkpoint(f, 9, 3);
    int left, fd = ledger_sync_fd(f->l, &left);
    assert_true(fd >= 0);
    assert_int_equal(left, -1);
    assert_int_equal(fdatasync(fd), 0);
    close(fd);
    fx_open(f, &opt);
    expect_last_checkpoint(f, 9, 3);
    fx_free(f);
}

static int count_data_syncs(int fd, enum ledger_sync_what what, void *arg)
{
    *(int *)arg += what == LEDGER_SYNC_DATA;
    return what == LEDGER_SYNC_DATA ? fdatasync(fd) : fsync(fd);
}

static void test_unsynced_batches_are_covered_by_one_later_sync_descriptor(void **state)
{
    (void)state;
    int syncs = 0;
    struct ledger_options opt;
    struct fx *f = counted_small(&syncs, &opt);
    int before = syncs;
    for (int k = 10; k <= 12; k++) {
        fx_begin(f);
        fx_note(f, 2, k);
        assert_int_equal(ledger_append_batch_unsynced(f->l, f->b), LEDGER_OK);
    }
    assert_int_equal(syncs, before);
    assert_int_equal(ledger_last_index(f->l), 12);
    int left, fd = ledger_sync_fd(f->l, &left);
    assert_true(fd >= 0);
    assert_fd_is_the_last_segment(f, fd);
    assert_int_equal(left, -1); /* one segment: nothing left by a roll */
    assert_int_equal(fdatasync(fd), 0);
    close(fd);
    fx_open(f, &opt);
    assert_int_equal(ledger_last_index(f->l), 12);
    struct ledger_verify_report rep;
    assert_int_equal(verify_dir(f, &rep), LEDGER_VERIFY_OK);
    fx_free(f);
}

/* The name of the file in dir whose inode fd has; "" when none. */
static void file_of(const char *dir, int fd, char *name, size_t len)
{
    struct stat st;
    name[0] = '\0';
    assert_int_equal(fstat(fd, &st), 0);
    DIR *d = opendir(dir);
    assert_non_null(d);
    for (struct dirent *e; (e = readdir(d));)
        if (e->d_ino == st.st_ino)
            snprintf(name, len, "%s", e->d_name);
    closedir(d);
}

/* Every segment is full after one batch: the next one rolls. */
static const struct ledger_options *rolling(int *data_syncs)
{
    static struct ledger_options opt;
    opt = (struct ledger_options){
        .sync = count_data_syncs, .sync_arg = data_syncs, .segment_bytes = 1};
    return &opt;
}

static void unsynced_note(struct fx *f, uint64_t k)
{
    fx_begin(f);
    fx_note(f, 2, k);
    assert_int_equal(ledger_append_batch_unsynced(f->l, f->b), LEDGER_OK);
}

/* What the node's sync on the pool does. */
static void sync_elsewhere(struct fx *f)
{
    int left, fd = ledger_sync_fd(f->l, &left);
    assert_true(fd >= 0);
    if (left >= 0) {
        assert_int_equal(fdatasync(left), 0);
        close(left);
    }
    assert_int_equal(fdatasync(fd), 0);
    close(fd);
}

/* Entry 10 written and synced as the node does, then 11 in a new segment;
 * *before: the data syncs before 11 was written. */
static struct fx *rolled_once(int *data_syncs, int *before)
{
    struct fx *f = fx_new();
    fx_build_small(f, rolling(data_syncs));
    unsynced_note(f, 10);
    sync_elsewhere(f);
    *before = *data_syncs;
    unsynced_note(f, 11);
    return f;
}

static void test_a_roll_leaves_the_segment_it_leaves_to_the_next_sync(void **state)
{
    (void)state;
    int data_syncs = 0, before;
    struct fx *f = rolled_once(&data_syncs, &before);
    /* The loop waits for no disk on a roll ... */
    assert_int_equal(data_syncs, before);
    /* ... the next sync takes entry 10's segment along with the new one. */
    int left, fd = ledger_sync_fd(f->l, &left);
    assert_true(fd >= 0);
    assert_true(left >= 0);
    char left_name[256], fd_name[256];
    file_of(f->ldir, left, left_name, sizeof left_name);
    file_of(f->ldir, fd, fd_name, sizeof fd_name);
    assert_true(left_name[0] != '\0' && fd_name[0] != '\0');
    assert_string_not_equal(left_name, fd_name);
    assert_int_equal(fdatasync(left), 0);
    assert_int_equal(fdatasync(fd), 0);
    close(left);
    close(fd);
    fd = ledger_sync_fd(f->l, &left); /* handed over once */
    assert_int_equal(left, -1);
    close(fd);
    fx_free(f);
}

static void test_a_second_roll_before_a_sync_syncs_the_segment_between_at_once(void **state)
{
    (void)state;
    int data_syncs = 0, before;
    struct fx *f = rolled_once(&data_syncs, &before); /* 10's segment waits for a sync */
    before = data_syncs;
    unsynced_note(f, 12); /* one segment waits at most: 11's is synced here */
    assert_int_equal(data_syncs, before + 1);
    int left, fd = ledger_sync_fd(f->l, &left);
    assert_true(left >= 0 && fd >= 0);
    close(left);
    close(fd);
    fx_free(f);
}

static void test_a_sync_here_covers_the_segment_a_roll_left(void **state)
{
    (void)state;
    int data_syncs = 0, before;
    struct fx *f = rolled_once(&data_syncs, &before);
    before = data_syncs;
    assert_int_equal(ledger_sync_now(f->l), LEDGER_OK);
    assert_int_equal(data_syncs, before + 2);
    int left, fd = ledger_sync_fd(f->l, &left);
    assert_int_equal(left, -1);
    close(fd);
    fx_free(f);
}

/* ---- reading what was just written -------------------------------------- */

/* Overwrites, behind the store's back, the copy in dir's files of the len
 * bytes at p; true when it found one. */
static bool scribble_on_disk(const char *dir, const uint8_t *p, size_t len)
{
    bool found = false;
    DIR *d = opendir(dir);
    assert_non_null(d);
    for (struct dirent *e; (e = readdir(d)) && !found;) {
        char path[600];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        int fd = open(path, O_RDWR);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
            if (fd >= 0)
                close(fd);
            continue;
        }
        uint8_t *all = malloc((size_t)st.st_size + 1);
        assert_non_null(all);
        ssize_t n = pread(fd, all, (size_t)st.st_size, 0);
        const uint8_t *at = n > 0 ? memmem(all, (size_t)n, p, len) : NULL;
        if (at) {
            uint8_t junk[64];
            memset(junk, 0x5a, sizeof junk);
            assert_int_equal(pwrite(fd, junk, len < sizeof junk ? len : sizeof junk, at - all),
                             (ssize_t)(len < sizeof junk ? len : sizeof junk));
            found = true;
        }
        free(all);
        close(fd);
    }
    closedir(d);
    return found;
}

static void test_the_entries_last_written_are_read_from_memory(void **state)
{
    (void)state;
    struct fx *f = fx_new();
    fx_build_small(f, NULL);
    unsynced_note(f, 10);
    uint8_t *before, *after;
    size_t n, m;
    assert_int_equal(ledger_read_entry(f->l, 10, &before, &n), LEDGER_OK);
    /* What a leader sends and the feeds read right after a write needs no
     * pread: the store still holds the bytes it wrote. */
    assert_true(scribble_on_disk(f->ldir, before, n));
    assert_int_equal(ledger_read_entry(f->l, 10, &after, &m), LEDGER_OK);
    assert_int_equal(m, n);
    assert_memory_equal(after, before, n);
    free(before);
    free(after);
    fx_free(f);
}

static void test_a_truncation_drops_the_bytes_held_from_the_last_writes(void **state)
{
    (void)state;
    struct fx *f = fx_new();
    fx_build_small(f, NULL);
    unsynced_note(f, 10);
    uint8_t *old, *fresh;
    size_t n, m;
    assert_int_equal(ledger_read_entry(f->l, 10, &old, &n), LEDGER_OK);
    assert_int_equal(ledger_truncate_after(f->l, 9), LEDGER_OK);
    fx_begin(f);
    fx_note(f, 3, 10); /* another entry 10, of a later term */
    fx_commit(f);
    assert_int_equal(ledger_read_entry(f->l, 10, &fresh, &m), LEDGER_OK);
    assert_false(m == n && memcmp(fresh, old, n) == 0);
    assert_int_equal(ledger_last_term(f->l), 3);
    free(old);
    free(fresh);
    fx_free(f);
}

static void test_a_sync_that_failed_elsewhere_poisons_the_store(void **state)
{
    (void)state;
    struct fx *f = fx_new();
    fx_build_small(f, NULL);
    int fd = -1;
    fx_begin(f);
    fx_note(f, 2, 10);
    assert_int_equal(ledger_append_batch_nosync(f->l, f->b, &fd), LEDGER_OK);
    close(fd);
    ledger_sync_failed(f->l, EIO);
    fx_begin(f);
    assert_int_equal(ledger_batch_add_entry(f->b, 2, LEDGER_ENTRY_NOTE, 0, "n1",
                                            (const uint8_t *)"\xa1x", 2, NULL, NULL),
                     LEDGER_EFATAL);
    assert_int_equal(ledger_append_batch(f->l, f->b), LEDGER_EFATAL);
    assert_int_equal(ledger_io_errno(f->l), EIO);
    fx_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_an_append_with_no_group_open_starts_one),
        cmocka_unit_test(test_appends_of_the_same_term_join_the_open_group),
        cmocka_unit_test(test_a_group_of_an_older_term_is_dropped_before_a_new_one_starts),
        cmocka_unit_test(test_a_group_that_would_exceed_its_entries_is_written_first),
        cmocka_unit_test(test_a_group_that_would_exceed_its_bytes_is_written_first),
        cmocka_unit_test(test_an_append_larger_than_a_group_makes_a_group_of_its_own),
        cmocka_unit_test(test_only_the_leader_of_the_groups_term_writes_it),
        cmocka_unit_test(test_a_group_outlives_a_checkpoint_written_under_it),
        cmocka_unit_test(test_rebuilding_keeps_only_the_entries_asked_for),
        cmocka_unit_test(test_a_group_whose_entries_no_longer_follow_the_head_is_refused),
        cmocka_unit_test(test_a_batch_holding_other_records_is_not_rebuilt),
        cmocka_unit_test(
            test_a_batch_written_without_its_sync_is_readable_and_leaves_the_sync_to_the_caller),
        cmocka_unit_test(test_a_sync_that_failed_elsewhere_poisons_the_store),
        cmocka_unit_test(test_the_entries_last_written_are_read_from_memory),
        cmocka_unit_test(test_a_truncation_drops_the_bytes_held_from_the_last_writes),
        cmocka_unit_test(test_unsynced_batches_are_covered_by_one_later_sync_descriptor),
        cmocka_unit_test(
            test_a_checkpoint_written_without_its_sync_counts_at_once_and_a_later_sync_keeps_it),
        cmocka_unit_test(test_a_roll_leaves_the_segment_it_leaves_to_the_next_sync),
        cmocka_unit_test(test_a_second_roll_before_a_sync_syncs_the_segment_between_at_once),
        cmocka_unit_test(test_a_sync_here_covers_the_segment_a_roll_left),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
