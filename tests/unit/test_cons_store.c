/* The persisted term and vote: round trips, and every kind of damage is
 * refused rather than read as a fresh node. */
#include <stdarg.h>
#include <stdbool.h>
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
    struct stat st; /* not patched at its start: the tail of x's is gone */
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, CONS_STORE_FILE_BYTES);
}

static void state_path(char *path, size_t len)
{
    snprintf(path, len, "%s/%s", dir, CONS_STORE_FILE);
}

static void write_file(const void *buf, size_t len)
{
    char path[128];
    state_path(path, sizeof(path));
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fwrite(buf, 1, len, f), len);
    fclose(f);
}

/* Overwrites len bytes at off with garbage, as a write cut by a power loss
 * leaves a sector. */
static void tear(long off, size_t len)
{
    char path[128];
    state_path(path, sizeof(path));
    FILE *f = fopen(path, "r+");
    assert_non_null(f);
    assert_int_equal(fseek(f, off, SEEK_SET), 0);
    for (size_t i = 0; i < len; i++)
        fputc(0x5a, f);
    fclose(f);
}

static void save_term(uint64_t term, const char *vote)
{
    struct cons_stored s = {.term = term};
    snprintf(s.voted_for, sizeof(s.voted_for), "%s", vote);
    char err[512];
    assert_int_equal(cons_store_save(dir, &s, err, sizeof(err)), 0);
}

/* A save writes the slot not holding the newest record: a power loss in
 * the middle of it leaves the record before, which was the last one acted
 * upon (the torn one's sync never returned). */
static void test_a_torn_newest_slot_falls_back_to_the_other(void **state)
{
    (void)state;
    save_term(7, "n1");
    save_term(8, "n2");
    tear(CONS_STORE_SLOT + 20, 40); /* the second save went to slot B */
    struct cons_stored back;
    char err[512];
    assert_int_equal(cons_store_load(dir, &back, err, sizeof(err)), 0);
    assert_int_equal(back.term, 7);
    assert_string_equal(back.voted_for, "n1");
}

static void test_a_save_after_a_torn_slot_writes_over_the_torn_one(void **state)
{
    (void)state;
    save_term(7, "n1");
    save_term(8, "n2");
    tear(CONS_STORE_SLOT + 20, 40);
    save_term(9, "n3");
    tear(20, 40); /* slot A, with term 7: only the new record is left */
    struct cons_stored back;
    char err[512];
    assert_int_equal(cons_store_load(dir, &back, err, sizeof(err)), 0);
    assert_int_equal(back.term, 9);
    assert_string_equal(back.voted_for, "n3");
}

static void test_the_newer_slot_wins_whichever_it_is(void **state)
{
    (void)state;
    for (uint64_t term = 1; term <= 5; term++)
        save_term(term, "n1");
    struct cons_stored back;
    char err[512];
    assert_int_equal(cons_store_load(dir, &back, err, sizeof(err)), 0);
    assert_int_equal(back.term, 5);
}

static void test_a_file_with_only_slot_b_valid_loads_it(void **state)
{
    (void)state;
    uint8_t file[CONS_STORE_FILE_BYTES] = {0};
    struct cons_stored s = {.term = 11}, back;
    snprintf(s.voted_for, sizeof(s.voted_for), "n4");
    cons_store_encode_slot(&s, 3, file + CONS_STORE_SLOT);
    write_file(file, sizeof(file));
    char err[512];
    assert_int_equal(cons_store_load(dir, &back, err, sizeof(err)), 0);
    assert_int_equal(back.term, 11);
    assert_string_equal(back.voted_for, "n4");
}

/* A rolling upgrade: a node restarted on this version finds the single
 * record the version before wrote. */
static void test_the_format_of_before_loads_and_is_converted_at_the_next_save(void **state)
{
    (void)state;
    uint8_t old[CONS_STORE_BYTES];
    encode_sample(old);
    write_file(old, sizeof(old));
    struct cons_stored back;
    char err[512];
    assert_int_equal(cons_store_load(dir, &back, err, sizeof(err)), 0);
    assert_true(back.term == 0x0102030405060708ull);
    assert_string_equal(back.voted_for, "node-7");
    save_term(0x0102030405060709ull, "node-2");
    char path[128];
    state_path(path, sizeof(path));
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, CONS_STORE_FILE_BYTES);
    assert_int_equal(cons_store_load(dir, &back, err, sizeof(err)), 0);
    assert_true(back.term == 0x0102030405060709ull);
    assert_string_equal(back.voted_for, "node-2");
}

/* The read(2) and pread(2) calls this process has made so far
 * (/proc/self/io's syscr: a count, where rchar's bytes would change with
 * the length of the file's own numbers). */
static unsigned long long reads_made(void)
{
    FILE *f = fopen("/proc/self/io", "r");
    assert_non_null(f);
    char line[128];
    unsigned long long n = 0;
    bool found = false;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "syscr: %llu", &n) == 1) {
            found = true;
            break;
        }
    fclose(f);
    assert_true(found);
    return n;
}

/* A vote is on the critical path of every election: once the file was
 * read at start, a save writes one slot and syncs it, reading nothing
 * back (this process is the file's only writer). */
static void test_saves_after_the_first_read_nothing_back(void **state)
{
    (void)state;
    save_term(1, "n1");
    struct cons_store st;
    cons_store_attach(&st, dir);
    char err[512];
    struct cons_stored s = {.term = 2};
    /* Reading /proc/self/io reads too: what one look costs, measured. */
    unsigned long long look = reads_made(), before = reads_made();
    look = before - look;
    for (uint64_t term = 2; term < 50; term++) {
        s.term = term;
        snprintf(s.voted_for, sizeof(s.voted_for), "n%d", (int)(term % 3) + 1);
        assert_int_equal(cons_store_write(&st, &s, err, sizeof(err)), 0);
    }
    unsigned long long read_meanwhile = reads_made() - before - look;
    cons_store_detach(&st);
    assert_int_equal(read_meanwhile, 0);
    struct cons_stored back;
    assert_int_equal(cons_store_load(dir, &back, err, sizeof(err)), 0);
    assert_int_equal(back.term, 49);
    assert_string_equal(back.voted_for, "n2");
    /* The record before it is in the other slot, for a torn write: the
     * 48th save went to slot A. */
    tear(20, 40);
    assert_int_equal(cons_store_load(dir, &back, err, sizeof(err)), 0);
    assert_int_equal(back.term, 48);
    assert_string_equal(back.voted_for, "n1");
}

/* The first save of a fresh node creates the file, and the saves after it
 * go in place through what that one left. */
static void test_saves_through_one_handle_from_a_fresh_node_load_back(void **state)
{
    (void)state;
    struct cons_store st;
    cons_store_attach(&st, dir);
    char err[512];
    struct cons_stored s = {.term = 1}, back;
    assert_int_equal(cons_store_write(&st, &s, err, sizeof(err)), 0);
    ino_t first = inode_of_state();
    s.term = 2;
    snprintf(s.voted_for, sizeof(s.voted_for), "n3");
    assert_int_equal(cons_store_write(&st, &s, err, sizeof(err)), 0);
    s.term = 3;
    assert_int_equal(cons_store_write(&st, &s, err, sizeof(err)), 0);
    cons_store_detach(&st);
    assert_true(inode_of_state() == first);
    assert_int_equal(cons_store_load(dir, &back, err, sizeof(err)), 0);
    assert_int_equal(back.term, 3);
    assert_string_equal(back.voted_for, "n3");
}

static void test_both_slots_torn_is_refused_saying_what_and_where(void **state)
{
    (void)state;
    save_term(7, "n1");
    save_term(8, "n2");
    tear(20, 40);
    tear(CONS_STORE_SLOT + 20, 40);
    struct cons_stored back;
    char err[1024], path[128];
    state_path(path, sizeof(path));
    assert_int_equal(cons_store_load(dir, &back, err, sizeof(err)), -1);
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, "both slots are damaged"));
    assert_non_null(strstr(err, "slot A at byte 0: corrupt"));
    assert_non_null(strstr(err, "slot B at byte 512: corrupt"));
    assert_non_null(strstr(err, "refusing to start"));
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
        cmocka_unit_test_setup_teardown(test_a_torn_newest_slot_falls_back_to_the_other, make_dir,
                                        remove_dir),
        cmocka_unit_test_setup_teardown(test_a_save_after_a_torn_slot_writes_over_the_torn_one,
                                        make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_the_newer_slot_wins_whichever_it_is, make_dir,
                                        remove_dir),
        cmocka_unit_test_setup_teardown(test_a_file_with_only_slot_b_valid_loads_it, make_dir,
                                        remove_dir),
        cmocka_unit_test_setup_teardown(
            test_the_format_of_before_loads_and_is_converted_at_the_next_save, make_dir,
            remove_dir),
        cmocka_unit_test_setup_teardown(test_both_slots_torn_is_refused_saying_what_and_where,
                                        make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_saves_after_the_first_read_nothing_back, make_dir,
                                        remove_dir),
        cmocka_unit_test_setup_teardown(test_saves_through_one_handle_from_a_fresh_node_load_back,
                                        make_dir, remove_dir),
    };
    return cmocka_run_group_tests_name("cons_store", tests, NULL, NULL);
}
