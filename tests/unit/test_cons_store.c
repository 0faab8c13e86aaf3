/* The persisted term and vote: round trips, and every kind of damage is
 * refused rather than read as a fresh node. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "node/raft/cons_store.h"

static void encode_sample(uint8_t buf[CONS_STORE_BYTES])
{
    struct cons_stored s = {.term = 0x0102030405060708ull};
    snprintf(s.voted_for, sizeof(s.voted_for), "node-7");
    cons_store_encode(&s, buf);
}

static void test_round_trip_keeps_term_and_vote(void **state)
{
    (void)state;
    uint8_t buf[CONS_STORE_BYTES];
    encode_sample(buf);
    struct cons_stored back;
    char err[128];
    assert_int_equal(cons_store_decode(buf, sizeof(buf), &back, err, sizeof(err)), 0);
    assert_true(back.term == 0x0102030405060708ull);
    assert_string_equal(back.voted_for, "node-7");
}

static void test_no_vote_round_trips_as_empty(void **state)
{
    (void)state;
    struct cons_stored s = {.term = 9}, back;
    uint8_t buf[CONS_STORE_BYTES];
    char err[128];
    cons_store_encode(&s, buf);
    assert_int_equal(cons_store_decode(buf, sizeof(buf), &back, err, sizeof(err)), 0);
    assert_string_equal(back.voted_for, "");
}

static void test_every_truncation_is_refused_as_torn(void **state)
{
    (void)state;
    uint8_t buf[CONS_STORE_BYTES];
    encode_sample(buf);
    struct cons_stored back;
    char err[128];
    for (size_t len = 0; len < CONS_STORE_BYTES; len++) {
        assert_int_equal(cons_store_decode(buf, len, &back, err, sizeof(err)), -1);
        assert_non_null(strstr(err, "torn"));
    }
}

static void test_every_flipped_byte_is_refused(void **state)
{
    (void)state;
    uint8_t buf[CONS_STORE_BYTES];
    encode_sample(buf);
    struct cons_stored back;
    char err[128];
    for (size_t i = 0; i < CONS_STORE_BYTES; i++) {
        buf[i] ^= 0x20;
        assert_int_equal(cons_store_decode(buf, sizeof(buf), &back, err, sizeof(err)), -1);
        buf[i] ^= 0x20;
    }
}

static char dir[64];

static int make_dir(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/chimera-cons-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int remove_dir(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof(path), "%s/%s", dir, CONS_STORE_FILE);
    unlink(path);
    rmdir(dir);
    return 0;
}

static void test_missing_file_is_a_fresh_node(void **state)
{
    (void)state;
    struct cons_stored s = {.term = 5};
    char err[512];
    assert_int_equal(cons_store_load(dir, &s, err, sizeof(err)), 0);
    assert_int_equal(s.term, 0);
    assert_string_equal(s.voted_for, "");
    assert_true(s.missing); /* the caller checks it against its ledger */
}

static void test_saved_state_loads_back(void **state)
{
    (void)state;
    struct cons_stored s = {.term = 42}, back;
    snprintf(s.voted_for, sizeof(s.voted_for), "n3");
    char err[512];
    assert_int_equal(cons_store_save(dir, &s, err, sizeof(err)), 0);
    assert_int_equal(cons_store_load(dir, &back, err, sizeof(err)), 0);
    assert_int_equal(back.term, 42);
    assert_string_equal(back.voted_for, "n3");
    assert_false(back.missing);
}

static ino_t inode_of_state(void)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/%s", dir, CONS_STORE_FILE);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return st.st_ino;
}

/* A vote is on the critical path of every election (the candidate's and
 * each voter's): a new file renamed over the old costs two journal
 * commits of the file system, an overwrite only the data's. */
static void test_a_later_save_overwrites_the_file_in_place(void **state)
{
    (void)state;
    struct cons_stored s = {.term = 7}, back;
    char err[512];
    assert_int_equal(cons_store_save(dir, &s, err, sizeof(err)), 0);
    ino_t first = inode_of_state();
    s.term = 8;
    snprintf(s.voted_for, sizeof(s.voted_for), "n2");
    assert_int_equal(cons_store_save(dir, &s, err, sizeof(err)), 0);
    assert_true(inode_of_state() == first);
    assert_int_equal(cons_store_load(dir, &back, err, sizeof(err)), 0);
    assert_int_equal(back.term, 8);
    assert_string_equal(back.voted_for, "n2");
}

/* A file of another size (a damaged one, say) is replaced whole, never
 * patched at its start. */
static void test_a_file_of_another_size_is_replaced_whole(void **state)
{
    (void)state;
    char path[128], err[512];
    snprintf(path, sizeof(path), "%s/%s", dir, CONS_STORE_FILE);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    for (int i = 0; i < 3 * CONS_STORE_BYTES; i++)
        fputc('x', f);
    fclose(f);
    struct cons_stored s = {.term = 3}, back;
    assert_int_equal(cons_store_save(dir, &s, err, sizeof(err)), 0);
    assert_int_equal(cons_store_load(dir, &back, err, sizeof(err)), 0);
    assert_int_equal(back.term, 3);
}

static void test_torn_file_on_disk_refuses_with_its_path(void **state)
{
    (void)state;
    char path[128], err[512];
    snprintf(path, sizeof(path), "%s/%s", dir, CONS_STORE_FILE);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("CHRCONS1\x00\x00", f);
    fclose(f);
    struct cons_stored back;
    assert_int_equal(cons_store_load(dir, &back, err, sizeof(err)), -1);
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, "torn"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_keeps_term_and_vote),
        cmocka_unit_test(test_no_vote_round_trips_as_empty),
        cmocka_unit_test(test_every_truncation_is_refused_as_torn),
        cmocka_unit_test(test_every_flipped_byte_is_refused),
        cmocka_unit_test_setup_teardown(test_missing_file_is_a_fresh_node, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_saved_state_loads_back, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_a_later_save_overwrites_the_file_in_place, make_dir,
                                        remove_dir),
        cmocka_unit_test_setup_teardown(test_a_file_of_another_size_is_replaced_whole, make_dir,
                                        remove_dir),
        cmocka_unit_test_setup_teardown(test_torn_file_on_disk_refuses_with_its_path, make_dir,
                                        remove_dir),
    };
    return cmocka_run_group_tests_name("cons_store", tests, NULL, NULL);
}
