/* Segment storage: appends, reads, reopening, group commit and sync
 * failures, segment rolling, and the chain rules on the follower's path. */
#include "test_ledger_support.h"

#include <signal.h>
#include <sys/resource.h>

struct syncs {
    int data, dir;
    int fail_data_at; /* fail the n-th data sync (1-based); 0: never */
    int fail_errno;   /* with this errno (0: EIO) */
};

static int count_sync(int fd, enum ledger_sync_what what, void *arg)
{
    struct syncs *s = arg;
    if (what == LEDGER_SYNC_DIR) {
        s->dir++;
        return fsync(fd);
    }
    if (++s->data == s->fail_data_at) {
        errno = s->fail_errno ? s->fail_errno : EIO;
        return -1;
    }
    return fdatasync(fd);
}

static void test_empty_ledger_opens_with_zero_head(void **state)
{
    (void)state;
    struct fx *f = fx_new();
    uint8_t h[32], zero[32] = {0};
    fx_open(f, NULL);
    assert_int_equal(ledger_last_index(f->l), 0);
    assert_int_equal(ledger_last_term(f->l), 0);
    ledger_head_hash(f->l, h);
    assert_memory_equal(h, zero, 32);
    struct ledger_signed_checkpoint cp;
    assert_int_equal(ledger_last_checkpoint(f->l, &cp), LEDGER_ERANGE);
    fx_free(f);
}

static void test_reopen_after_append_keeps_everything(void **state)
{
    (void)state;
    struct fx *f = fx_new();
    fx_build_small(f, NULL);
    uint8_t head[32], head2[32];
    ledger_head_hash(f->l, head);
    uint8_t *before[10];
    size_t lens[10];
    for (uint64_t i = 1; i <= 9; i++)
        assert_int_equal(ledger_read_entry(f->l, i, &before[i], &lens[i]), LEDGER_OK);
    fx_open(f, NULL);
    assert_int_equal(ledger_last_index(f->l), 9);
    assert_int_equal(ledger_last_term(f->l), 2);
    ledger_head_hash(f->l, head2);
    assert_memory_equal(head, head2, 32);
    for (uint64_t i = 1; i <= 9; i++) {
        uint8_t *b;
        size_t n;
        assert_int_equal(ledger_read_entry(f->l, i, &b, &n), LEDGER_OK);
        assert_int_equal(n, lens[i]);
        assert_memory_equal(b, before[i], n);
        free(b);
        free(before[i]);
    }
    struct ledger_signed_checkpoint cp;
    assert_int_equal(ledger_last_checkpoint(f->l, &cp), LEDGER_OK);
    assert_int_equal(cp.cp.index, 8);
    assert_int_equal(cp.nsigs, 2);
    assert_string_equal(cp.sigs[0].signer, "n1");
    assert_string_equal(cp.sigs[1].signer, "n2");
    fx_free(f);
}

static void test_group_commit_syncs_once_per_batch(void **state)
{
    (void)state;
    struct fx *f = fx_new();
    struct syncs s = {0};
    struct ledger_options opt = {.sync = count_sync, .sync_arg = &s};
    fx_open(f, &opt);
    int dir_at_open = s.dir;
    fx_begin(f);
    for (int k = 0; k < 500; k++)
        fx_note(f, 1, k);
    assert_int_equal(ledger_batch_records(f->b), 500);
    assert_int_equal(s.data, 0); /* nothing written before append */
    fx_commit(f);
    assert_int_equal(s.data, 1);
    assert_int_equal(s.dir, dir_at_open + 1); /* the new segment's name */
    fx_begin(f);
    for (int k = 0; k < 100; k++)
        fx_note(f, 1, k);
    fx_commit(f);
    assert_int_equal(s.data, 2);
    assert_int_equal(s.dir, dir_at_open + 1);
    assert_int_equal(ledger_last_index(f->l), 600);
    fx_free(f);
}

static void test_failed_sync_is_fatal_and_sticks(void **state)
{
    (void)state;
    struct fx *f = fx_new();
    struct syncs s = {.fail_data_at = 2};
    struct ledger_options opt = {.sync = count_sync, .sync_arg = &s};
    fx_open(f, &opt);
    fx_begin(f);
    fx_note(f, 1, 1);
    fx_commit(f);
    fx_begin(f);
    fx_note(f, 1, 2);
    assert_int_equal(ledger_append_batch(f->l, f->b), LEDGER_EFATAL);
    assert_int_equal(ledger_last_index(f->l), 1); /* never acknowledged */
    fx_begin(f);
    assert_int_equal(ledger_batch_add_entry(f->b, 1, LEDGER_ENTRY_NOTE, 0, "n1",
                                            (const uint8_t *)"\xc0", 1, NULL, NULL),
                     LEDGER_EFATAL);
    assert_int_equal(ledger_append_batch(f->l, f->b), LEDGER_EFATAL);
    assert_int_equal(ledger_truncate_after(f->l, 0), LEDGER_EFATAL);
    uint8_t *b;
    size_t n;
    assert_int_equal(ledger_read_entry(f->l, 1, &b, &n), LEDGER_EFATAL);
    /* The process would abort here; a restart judges the files. */
    fx_open(f, NULL);
    assert_true(ledger_last_index(f->l) >= 1);
    fx_free(f);
}

/* Writes past bytes fail with EFBIG from now on; returns the old limit. */
static struct rlimit limit_file_size(rlim_t bytes)
{
    struct rlimit old, lim;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, SIG_IGN);
    lim = old;
    lim.rlim_cur = bytes;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    return old;
}

static void test_a_failed_sync_says_which_call_failed_and_why(void **state)
{
    (void)state;
    struct fx *f = fx_new();
    struct syncs s = {.fail_data_at = 1, .fail_errno = ENOSPC};
    struct ledger_options opt = {.sync = count_sync, .sync_arg = &s};
    fx_open(f, &opt);
    assert_int_equal(ledger_io_errno(f->l), 0);
    fx_begin(f);
    fx_note(f, 1, 1);
    enum ledger_error rc = ledger_append_batch(f->l, f->b);
    assert_int_equal(rc, LEDGER_EFATAL);
    assert_int_equal(ledger_io_errno(f->l), ENOSPC);
    char buf[256];
    ledger_describe(f->l, rc, buf, sizeof(buf));
    assert_non_null(strstr(buf, "fatal: fdatasync: no space left on device"));
    fx_free(f);
}

/* The errno of a failed write reaches the caller's message (the one
 * description that used to read "i/o error" whatever the cause). */
static void test_a_failed_write_says_why(void **state)
{
    (void)state;
    struct fx *f = fx_new();
    fx_open(f, NULL);
    fx_begin(f);
    fx_note(f, 1, 1);
    fx_commit(f);
    struct rlimit old = limit_file_size(200);
    fx_begin(f);
    for (int k = 0; k < 10; k++)
        fx_note(f, 1, 100 + k);
    enum ledger_error rc = ledger_append_batch(f->l, f->b);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    assert_int_equal(rc, LEDGER_EIO);
    assert_int_equal(ledger_io_errno(f->l), EFBIG);
    char buf[256];
    assert_string_equal(ledger_describe(f->l, rc, buf, sizeof(buf)),
                        "i/o error: write: file too large");
    /* Errors that are not I/O read as before. */
    assert_string_equal(ledger_describe(f->l, LEDGER_ECHAIN, buf, sizeof(buf)),
                        ledger_strerror(LEDGER_ECHAIN));
    fx_free(f);
}

/* A write that fails (here: EFBIG past RLIMIT_FSIZE, as ENOSPC would) is
 * undone, reported as LEDGER_EIO, and the ledger stays usable. */
static void test_failed_write_is_undone_and_retryable(void **state)
{
    (void)state;
    struct fx *f = fx_new();
    struct ledger_options opt = {.segment_bytes = 400};
    fx_open(f, &opt);
    fx_begin(f);
    fx_note(f, 1, 1);
    fx_commit(f);
    struct rlimit old = limit_file_size(300), lim;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &lim), 0);
    for (int round = 0; round < 2; round++) {
        /* Round 0 appends to the segment, round 1 starts a new one. */
        fx_begin(f);
        for (int k = 0; k < 10; k++)
            fx_note(f, 1, 100 + k);
        enum ledger_error rc = ledger_append_batch(f->l, f->b);
        assert_int_equal(rc, LEDGER_EIO);
        assert_int_equal(ledger_last_index(f->l), round == 0 ? 1 : 7);
        if (round == 0) {
            assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
            fx_begin(f);
            for (int k = 2; k <= 7; k++)
                fx_note(f, 1, k); /* fills the first segment past 400 bytes */
            fx_commit(f);
            assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
        }
    }
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    char **paths;
    size_t n = seg_paths(f->ldir, &paths);
    assert_int_equal(n, 1); /* the new segment was removed again */
    free_paths(paths, n);
    fx_begin(f);
    fx_note(f, 1, 8);
    fx_commit(f);
    n = seg_paths(f->ldir, &paths);
    assert_int_equal(n, 2); /* and is started again */
    free_paths(paths, n);
    fx_open(f, &opt);
    assert_int_equal(ledger_last_index(f->l), 8);
    struct ledger_verify_report rep;
    assert_int_equal(verify_dir(f, &rep), LEDGER_VERIFY_OK);
    fx_free(f);
}

static void test_batch_built_on_an_old_head_is_stale(void **state)
{
    (void)state;
    struct fx *f = fx_new();
    struct ledger_batch *other = ledger_batch_new();
    fx_open(f, NULL);
    ledger_batch_begin(other, f->l);
    assert_int_equal(ledger_batch_add_entry(other, 1, LEDGER_ENTRY_NOTE, 0, "n2",
                                            (const uint8_t *)"\xc0", 1, NULL, NULL),
                     LEDGER_OK);
    fx_begin(f);
    fx_note(f, 1, 1);
    fx_commit(f);
    assert_int_equal(ledger_append_batch(f->l, other), LEDGER_ESTALE);
    assert_int_equal(ledger_last_index(f->l), 1);
    ledger_batch_free(other);
    fx_free(f);
}

/* Copies the leader's entries, as bytes, into a follower's ledger. */
static int copy_entry(uint64_t index, uint64_t term, const uint8_t *b, size_t n, void *arg)
{
    (void)index, (void)term;
    uint8_t h[32];
    return ledger_batch_add_entry_bytes(arg, b, n, h) != LEDGER_OK;
}

static void test_follower_appending_leader_bytes_gets_the_same_head(void **state)
{
    (void)state;
    struct fx *f = fx_new(), *g = fx_new();
    fx_build_small(f, NULL);
    fx_open(g, NULL);
    ledger_batch_begin(g->b, g->l);
    assert_int_equal(ledger_read_range(f->l, 1, 100, SIZE_MAX, copy_entry, g->b), LEDGER_OK);
    assert_int_equal(ledger_batch_records(g->b), 9);
    assert_int_equal(ledger_append_batch(g->l, g->b), LEDGER_OK);
    uint8_t h1[32], h2[32];
    ledger_head_hash(f->l, h1);
    ledger_head_hash(g->l, h2);
    assert_memory_equal(h1, h2, 32);
    fx_free(f);
    fx_free(g);
}

/* f holds the small ledger, g an empty one; entries 1, 2 and 5 of f as bytes. */
static void leader_and_follower(struct fx *f, struct fx *g, uint8_t **e1, size_t *n1, uint8_t **e2,
                                size_t *n2, uint8_t **e5, size_t *n5)
{
    fx_build_small(f, NULL);
    fx_open(g, NULL);
    assert_int_equal(ledger_read_entry(f->l, 1, e1, n1), LEDGER_OK);
    assert_int_equal(ledger_read_entry(f->l, 2, e2, n2), LEDGER_OK);
    assert_int_equal(ledger_read_entry(f->l, 5, e5, n5), LEDGER_OK);
}

static void test_entry_bytes_that_do_not_extend_the_chain_are_refused(void **state)
{
    (void)state;
    struct fx *f = fx_new(), *g = fx_new();
    uint8_t *e1, *e2, *e5;
    size_t n1, n2, n5;
    leader_and_follower(f, g, &e1, &n1, &e2, &n2, &e5, &n5);
    ledger_batch_begin(g->b, g->l);
    assert_int_equal(ledger_batch_add_entry_bytes(g->b, e2, n2, NULL), LEDGER_ECHAIN); /* gap */
    assert_int_equal(ledger_batch_add_entry_bytes(g->b, e1, n1, NULL), LEDGER_OK);
    assert_int_equal(ledger_batch_add_entry_bytes(g->b, e1, n1, NULL), LEDGER_ECHAIN); /* dup */
    assert_int_equal(ledger_batch_add_entry_bytes(g->b, e5, n5, NULL), LEDGER_ECHAIN);
    e2[n2 - 1] ^= 1; /* prev_hash no longer the head */
    assert_int_equal(ledger_batch_add_entry_bytes(g->b, e2, n2, NULL), LEDGER_ECHAIN);
    assert_int_equal(ledger_batch_add_entry_bytes(g->b, e2, n2 - 1, NULL), LEDGER_EMALFORMED);
    assert_int_equal(ledger_batch_records(g->b), 1);
    free(e1), free(e2), free(e5);
    fx_free(f);
    fx_free(g);
}

static struct ledger_known_entry known_of(const uint8_t *b, size_t n)
{
    struct ledger_known_entry k;
    assert_int_equal(ledger_entry_decode(b, n, &k.e, NULL), LEDGER_OK);
    ledger_entry_hash(k.e.prev_hash, b, n, k.hash);
    return k;
}

static void test_entry_bytes_decoded_by_the_caller_get_the_same_chain_checks(void **state)
{
    (void)state;
    struct fx *f = fx_new(), *g = fx_new();
    uint8_t *e1, *e2, *e5;
    size_t n1, n2, n5;
    leader_and_follower(f, g, &e1, &n1, &e2, &n2, &e5, &n5);
    struct ledger_known_entry k1 = known_of(e1, n1), k2 = known_of(e2, n2), k5 = known_of(e5, n5);
    ledger_batch_begin(g->b, g->l);
    assert_int_equal(ledger_batch_add_entry_known(g->b, e2, n2, &k2, NULL), LEDGER_ECHAIN);
    uint8_t h[32];
    assert_int_equal(ledger_batch_add_entry_known(g->b, e1, n1, &k1, h), LEDGER_OK);
    assert_memory_equal(h, k1.hash, 32);
    assert_int_equal(ledger_batch_add_entry_known(g->b, e1, n1, &k1, NULL), LEDGER_ECHAIN);
    assert_int_equal(ledger_batch_add_entry_known(g->b, e5, n5, &k5, NULL), LEDGER_ECHAIN);
    struct ledger_known_entry bad = k2;
    bad.e.prev_hash[0] ^= 1; /* prev_hash no longer the head */
    assert_int_equal(ledger_batch_add_entry_known(g->b, e2, n2, &bad, NULL), LEDGER_ECHAIN);
    bad = k2;
    bad.e.term = 0; /* below entry 1's term */
    assert_int_equal(ledger_batch_add_entry_known(g->b, e2, n2, &bad, NULL), LEDGER_ECHAIN);
    assert_int_equal(ledger_batch_add_entry_known(g->b, e2, n2, &k2, NULL), LEDGER_OK);
    assert_int_equal(ledger_batch_records(g->b), 2);
    assert_int_equal(ledger_append_batch(g->l, g->b), LEDGER_OK);
    uint8_t at2[32];
    assert_int_equal(ledger_hash_at(g->l, 2, at2), LEDGER_OK);
    assert_memory_equal(at2, k2.hash, 32);
    free(e1), free(e2), free(e5);
    fx_free(f);
    fx_free(g);
}

static void test_terms_never_decrease(void **state)
{
    (void)state;
    struct fx *f = fx_new();
    fx_open(f, NULL);
    fx_begin(f);
    fx_note(f, 3, 1);
    assert_int_equal(ledger_batch_add_entry(f->b, 2, LEDGER_ENTRY_NOTE, 0, "n1",
                                            (const uint8_t *)"\xc0", 1, NULL, NULL),
                     LEDGER_ECHAIN);
    fx_note(f, 3, 2);
    fx_commit(f);
    uint64_t t;
    assert_int_equal(ledger_term_at(f->l, 0, &t), LEDGER_OK);
    assert_int_equal(t, 0);
    assert_int_equal(ledger_term_at(f->l, 2, &t), LEDGER_OK);
    assert_int_equal(t, 3);
    assert_int_equal(ledger_term_at(f->l, 3, &t), LEDGER_ERANGE);
    fx_free(f);
}

static void test_segments_roll_at_the_configured_size(void **state)
{
    (void)state;
    struct fx *f = fx_new();
    struct ledger_options opt = {.segment_bytes = 200};
    fx_open(f, &opt);
    for (int k = 1; k <= 40; k++) {
        fx_begin(f);
        fx_note(f, 1, k);
        fx_commit(f);
    }
    char **paths;
    size_t n = seg_paths(f->ldir, &paths);
    assert_true(n >= 5);
    uint64_t expect = 1;
    for (size_t i = 0; i < n; i++) {
        char name[32];
        ledger_seg_name(expect, name);
        assert_non_null(strstr(paths[i], name));
        size_t len;
        uint8_t *p = read_file(paths[i], &len);
        struct frame fr[64];
        size_t nf = frames_of(p, len, fr, 64);
        assert_int_equal(fr[0].kind, LEDGER_REC_ENTRY);
        expect += nf;
        free(p);
    }
    assert_int_equal(expect, 41);
    free_paths(paths, n);
    fx_open(f, &opt);
    assert_int_equal(ledger_last_index(f->l), 40);
    fx_free(f);
}

struct collected {
    uint64_t first, count;
    size_t bytes;
    uint64_t stop_after;
};

static int collect(uint64_t index, uint64_t term, const uint8_t *b, size_t n, void *arg)
{
    struct collected *c = arg;
    struct ledger_entry e;
    (void)term;
    assert_int_equal(ledger_entry_decode(b, n, &e, NULL), LEDGER_OK);
    assert_int_equal(e.index, index);
    if (c->count++ == 0)
        c->first = index;
    c->bytes += n;
    return c->stop_after && c->count >= c->stop_after;
}

static void test_read_range_honours_count_bytes_and_stop(void **state)
{
    (void)state;
    struct fx *f = fx_new();
    struct ledger_options opt = {.segment_bytes = 300};
    fx_open(f, &opt);
    for (int k = 1; k <= 30; k++) {
        fx_begin(f);
        fx_note(f, 1, k);
        if (k % 10 == 0)
            fx_commit(f), fx_begin(f), fx_checkpoint(f, 1, 0, -1, -1);
        fx_commit(f);
    }
    struct collected c = {0};
    assert_int_equal(ledger_read_range(f->l, 3, 1000, SIZE_MAX, collect, &c), LEDGER_OK);
    assert_true(c.first == 3 && c.count == 28);
    c = (struct collected){0};
    assert_int_equal(ledger_read_range(f->l, 5, 7, SIZE_MAX, collect, &c), LEDGER_OK);
    assert_int_equal(c.count, 7);
    c = (struct collected){0};
    /* Entries 1-9 are 59 bytes each: 120 bytes hold two. */
    assert_int_equal(ledger_read_range(f->l, 1, 1000, 120, collect, &c), LEDGER_OK);
    assert_true(c.count == 2 && c.bytes == 118);
    c = (struct collected){0};
    assert_int_equal(ledger_read_range(f->l, 1, 1000, 1, collect, &c), LEDGER_OK);
    assert_int_equal(c.count, 1); /* at least one, even over the byte limit */
    c = (struct collected){.stop_after = 4};
    assert_int_equal(ledger_read_range(f->l, 2, 1000, SIZE_MAX, collect, &c), LEDGER_OK);
    assert_int_equal(c.count, 4);
    assert_int_equal(ledger_read_range(f->l, 0, 1, SIZE_MAX, collect, &c), LEDGER_ERANGE);
    assert_int_equal(ledger_read_range(f->l, 31, 1, SIZE_MAX, collect, &c), LEDGER_ERANGE);
    fx_free(f);
}

static void test_hash_at_matches_the_chain(void **state)
{
    (void)state;
    struct fx *f = fx_new();
    fx_build_small(f, NULL);
    uint8_t h[32], zero[32] = {0};
    assert_int_equal(ledger_hash_at(f->l, 0, h), LEDGER_OK);
    assert_memory_equal(h, zero, 32);
    for (uint64_t i = 1; i < 9; i++) {
        uint8_t *b;
        size_t n;
        struct ledger_entry e;
        assert_int_equal(ledger_read_entry(f->l, i + 1, &b, &n), LEDGER_OK);
        assert_int_equal(ledger_entry_decode(b, n, &e, NULL), LEDGER_OK);
        assert_int_equal(ledger_hash_at(f->l, i, h), LEDGER_OK);
        assert_memory_equal(h, e.prev_hash, 32);
        free(b);
    }
    assert_int_equal(ledger_hash_at(f->l, 10, h), LEDGER_ERANGE);
    fx_free(f);
}

static void test_read_only_open_refuses_changes(void **state)
{
    (void)state;
    struct fx *f = fx_new();
    fx_build_small(f, NULL);
    struct ledger_options ro = {.read_only = true};
    fx_open(f, &ro);
    fx_begin(f);
    fx_note(f, 2, 10);
    assert_int_equal(ledger_append_batch(f->l, f->b), LEDGER_EINVAL);
    assert_int_equal(ledger_truncate_after(f->l, 8), LEDGER_EINVAL);
    fx_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_ledger_opens_with_zero_head),
        cmocka_unit_test(test_reopen_after_append_keeps_everything),
        cmocka_unit_test(test_group_commit_syncs_once_per_batch),
        cmocka_unit_test(test_failed_sync_is_fatal_and_sticks),
        cmocka_unit_test(test_failed_write_is_undone_and_retryable),
        cmocka_unit_test(test_a_failed_sync_says_which_call_failed_and_why),
        cmocka_unit_test(test_a_failed_write_says_why),
        cmocka_unit_test(test_batch_built_on_an_old_head_is_stale),
        cmocka_unit_test(test_follower_appending_leader_bytes_gets_the_same_head),
        cmocka_unit_test(test_entry_bytes_that_do_not_extend_the_chain_are_refused),
        cmocka_unit_test(test_entry_bytes_decoded_by_the_caller_get_the_same_chain_checks),
        cmocka_unit_test(test_terms_never_decrease),
        cmocka_unit_test(test_segments_roll_at_the_configured_size),
        cmocka_unit_test(test_read_range_honours_count_bytes_and_stop),
        cmocka_unit_test(test_hash_at_matches_the_chain),
        cmocka_unit_test(test_read_only_open_refuses_changes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
