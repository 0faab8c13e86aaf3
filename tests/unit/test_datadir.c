/* The data directory's lock (ledger/datadir.c). flock locks belong to an
 * open file, so one process can play both nodes: a second open of LOCK is
 * refused while the first holds it, as a second chimerad would be. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ledger/datadir.h"

static int make_dir(void **state)
{
    static char dir[64];
    snprintf(dir, sizeof(dir), "/tmp/chimera-datadir-XXXXXX");
    *state = mkdtemp(dir);
    return *state ? 0 : -1;
}

static int remove_dir(void **state)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/" DATADIR_LOCK_FILE, (char *)*state);
    unlink(path);
    rmdir(*state);
    return 0;
}

static void test_the_lock_holds_the_pid_of_its_holder(void **state)
{
    char err[512], path[128], buf[32] = "";
    pid_t holder = -1;
    int fd = datadir_lock(*state, &holder, err, sizeof(err));
    assert_true(fd >= 0);
    snprintf(path, sizeof(path), "%s/" DATADIR_LOCK_FILE, (char *)*state);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    assert_non_null(fgets(buf, sizeof(buf), f));
    fclose(f);
    assert_int_equal(atol(buf), (long)getpid());
    close(fd);
}

static void test_a_second_lock_is_refused_naming_the_directory_and_the_holder(void **state)
{
    char err[512], want[256];
    pid_t holder = -1;
    int fd = datadir_lock(*state, &holder, err, sizeof(err));
    assert_true(fd >= 0);
    assert_int_equal(datadir_lock(*state, &holder, err, sizeof(err)), -1);
    assert_int_equal(holder, getpid());
    snprintf(want, sizeof(want),
             "--data: %s is in use by another chimerad (pid %ld); stop it first or choose "
             "another --data",
             (char *)*state, (long)getpid());
    assert_string_equal(err, want);
    close(fd);
}

static void test_a_lock_released_by_its_holder_can_be_taken_again(void **state)
{
    char err[512];
    pid_t holder;
    int fd = datadir_lock(*state, &holder, err, sizeof(err));
    assert_true(fd >= 0);
    close(fd); /* what the kernel does when the holder dies */
    fd = datadir_lock(*state, &holder, err, sizeof(err));
    assert_true(fd >= 0);
    close(fd);
}

static void test_in_use_says_who_holds_the_lock_and_takes_none(void **state)
{
    char err[512];
    pid_t holder = -1;
    assert_int_equal(datadir_in_use(*state, &holder, err, sizeof(err)), 0); /* no LOCK yet */
    int fd = datadir_lock(*state, &holder, err, sizeof(err));
    assert_true(fd >= 0);
    assert_int_equal(datadir_in_use(*state, &holder, err, sizeof(err)), 1);
    assert_int_equal(holder, getpid());
    close(fd);
    assert_int_equal(datadir_in_use(*state, &holder, err, sizeof(err)), 0);
    /* The probe left no lock behind. */
    fd = datadir_lock(*state, &holder, err, sizeof(err));
    assert_true(fd >= 0);
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_the_lock_holds_the_pid_of_its_holder, make_dir,
                                        remove_dir),
        cmocka_unit_test_setup_teardown(
            test_a_second_lock_is_refused_naming_the_directory_and_the_holder, make_dir,
            remove_dir),
        cmocka_unit_test_setup_teardown(test_a_lock_released_by_its_holder_can_be_taken_again,
                                        make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_in_use_says_who_holds_the_lock_and_takes_none,
                                        make_dir, remove_dir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
