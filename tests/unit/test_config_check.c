/* config_check_files: the cluster key, the admin token and the data dir. */
#include "test_config_support.h"

#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#define ADMIN_TOKEN "s3cr3t-admin-token"
#define HEX "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

struct fixture {
    char dir[64];
    struct config c;
    uint8_t key[CONFIG_KEY_BYTES];
    char token[64];
    char err[512];
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    make_tmpdir(f->dir);
    write_file(f->dir, "key", HEX "\n", f->c.cluster_key_file, sizeof f->c.cluster_key_file);
    snprintf(f->c.data, sizeof f->c.data, "%s/data", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    rm_tree(f->dir);
    free(f);
    return 0;
}

static int check(struct fixture *f)
{
    return config_check_files(&f->c, f->key, f->token, sizeof f->token, f->err, sizeof f->err);
}

static void set_key(struct fixture *f, const char *content)
{
    write_file(f->dir, "key", content, f->c.cluster_key_file, sizeof f->c.cluster_key_file);
}

static void set_token(struct fixture *f, const char *content)
{
    write_file(f->dir, "token", content, f->c.admin_token_file, sizeof f->c.admin_token_file);
}

static void test_good_key_file_is_decoded(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(check(f), 0);
    for (int i = 0; i < CONFIG_KEY_BYTES; i++)
        assert_int_equal(f->key[i], i);
    assert_string_equal(f->err, "");
}

static void test_key_without_newline_is_accepted(void **state)
{
    struct fixture *f = *state;
    set_key(f, HEX);
    assert_int_equal(check(f), 0);
    assert_int_equal(f->key[31], 31);
}

static void test_key_with_trailing_crlf_and_spaces_is_accepted(void **state)
{
    struct fixture *f = *state;
    set_key(f, HEX "  \r\n\n");
    assert_int_equal(check(f), 0);
}

static void test_uppercase_hex_key_is_accepted(void **state)
{
    struct fixture *f = *state;
    set_key(f, "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F\n");
    assert_int_equal(check(f), 0);
    assert_int_equal(f->key[10], 10);
}

static void test_short_key_is_an_error(void **state)
{
    struct fixture *f = *state;
    set_key(f, "00010203\n");
    assert_int_equal(check(f), -1);
    assert_err_has(f->err, "--cluster-key-file: ");
    assert_err_has(f->err, f->c.cluster_key_file);
    assert_err_has(f->err, "replace it: rm ");
    assert_err_has(f->err, " && chimeractl keygen --out ");
}

static void test_long_key_is_an_error(void **state)
{
    struct fixture *f = *state;
    set_key(f, HEX "00\n");
    assert_int_equal(check(f), -1);
    assert_err_has(f->err, "exactly 64 hex digits");
}

static void test_key_followed_by_padding_and_more_text_is_an_error(void **state)
{
    struct fixture *f = *state;
    char content[300] = HEX;
    memset(content + 64, ' ', 200);
    strcpy(content + 264, "junk");
    set_key(f, content);
    assert_int_equal(check(f), -1);
    assert_err_has(f->err, "is not a cluster key");
}

static void test_non_hex_key_is_an_error(void **state)
{
    struct fixture *f = *state;
    set_key(f, "zz0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n");
    assert_int_equal(check(f), -1);
    assert_err_has(f->err, "--cluster-key-file: ");
    assert_err_has(f->err, "replace it: rm ");
    assert_err_has(f->err, " && chimeractl keygen --out ");
}

static void test_key_with_leading_space_is_an_error(void **state)
{
    struct fixture *f = *state;
    set_key(f, " " HEX);
    assert_int_equal(check(f), -1);
    assert_err_has(f->err, "--cluster-key-file: ");
}

static void test_key_error_does_not_reveal_the_key(void **state)
{
    struct fixture *f = *state;
    set_key(f, "secretsecret0405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n");
    assert_int_equal(check(f), -1);
    assert_null(strstr(f->err, "secretsecret"));
    assert_null(strstr(f->err, "0405060708"));
}

static void test_missing_key_file_is_an_error_with_the_reason(void **state)
{
    struct fixture *f = *state;
    snprintf(f->c.cluster_key_file, sizeof f->c.cluster_key_file, "%s/nope", f->dir);
    assert_int_equal(check(f), -1);
    assert_err_has(f->err, "--cluster-key-file: cannot read ");
    assert_err_has(f->err, f->c.cluster_key_file);
    assert_err_has(f->err, strerror(ENOENT));
    assert_err_has(f->err, "chimeractl keygen");
}

static void test_key_file_that_is_a_directory_is_an_error(void **state)
{
    struct fixture *f = *state;
    snprintf(f->c.cluster_key_file, sizeof f->c.cluster_key_file, "%s", f->dir);
    assert_int_equal(check(f), -1);
    assert_err_has(f->err, "--cluster-key-file: cannot read ");
    assert_err_has(f->err, strerror(EISDIR));
}

static void test_token_file_is_read_without_trailing_newline(void **state)
{
    struct fixture *f = *state;
    set_token(f, ADMIN_TOKEN "\n");
    assert_int_equal(check(f), 0);
    assert_string_equal(f->token, ADMIN_TOKEN);
}

static void test_no_token_file_gives_an_empty_token(void **state)
{
    struct fixture *f = *state;
    strcpy(f->token, "stale");
    assert_int_equal(check(f), 0);
    assert_string_equal(f->token, "");
}

static void test_token_file_checked_without_a_token_buffer(void **state)
{
    struct fixture *f = *state;
    set_token(f, ADMIN_TOKEN "\n");
    assert_int_equal(config_check_files(&f->c, f->key, NULL, 0, f->err, sizeof f->err), 0);
}

static void test_blank_token_file_is_an_error(void **state)
{
    struct fixture *f = *state;
    set_token(f, " \n\n");
    assert_int_equal(check(f), -1);
    assert_err_has(f->err, "--admin-token-file: ");
    assert_err_has(f->err, "is empty");
}

static void test_token_too_long_for_the_buffer_is_an_error(void **state)
{
    struct fixture *f = *state;
    char big[100];
    memset(big, 'T', 99);
    big[99] = '\0';
    set_token(f, big);
    assert_int_equal(check(f), -1);
    assert_err_has(f->err, "--admin-token-file: ");
    assert_err_has(f->err, "too long; at most 63 bytes");
    assert_null(strstr(f->err, "TTTT"));
}

static void test_huge_token_file_is_an_error_without_a_token_buffer(void **state)
{
    struct fixture *f = *state;
    static char big[10000];
    memset(big, 'T', sizeof big - 1);
    set_token(f, big);
    assert_int_equal(config_check_files(&f->c, f->key, NULL, 0, f->err, sizeof f->err), -1);
    assert_err_has(f->err, "--admin-token-file: the token in ");
    assert_err_has(f->err, "is too long");
}

static void test_token_of_exactly_the_buffer_size_fits(void **state)
{
    struct fixture *f = *state;
    char tok[64];
    memset(tok, 'T', 63);
    tok[63] = '\0';
    set_token(f, tok);
    assert_int_equal(check(f), 0);
    assert_string_equal(f->token, tok);
}

static void test_missing_token_file_is_an_error(void **state)
{
    struct fixture *f = *state;
    snprintf(f->c.admin_token_file, sizeof f->c.admin_token_file, "%s/nope", f->dir);
    assert_int_equal(check(f), -1);
    assert_err_has(f->err, "--admin-token-file: cannot read ");
    assert_err_has(f->err, strerror(ENOENT));
}

static void test_failure_wipes_the_key(void **state)
{
    struct fixture *f = *state;
    snprintf(f->c.admin_token_file, sizeof f->c.admin_token_file, "%s/nope", f->dir);
    assert_int_equal(check(f), -1);
    for (int i = 0; i < CONFIG_KEY_BYTES; i++)
        assert_int_equal(f->key[i], 0);
}

static void test_data_dir_is_created_with_mode_0700(void **state)
{
    struct fixture *f = *state;
    snprintf(f->c.data, sizeof f->c.data, "%s/a/b/c", f->dir);
    mode_t old = umask(022);
    int rc = check(f);
    umask(old);
    assert_int_equal(rc, 0);
    struct stat st;
    assert_int_equal(stat(f->c.data, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0700);
    char parent[256];
    snprintf(parent, sizeof parent, "%s/a", f->dir);
    assert_int_equal(stat(parent, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0700);
}

static void test_existing_data_dir_is_accepted_and_left_clean(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(mkdir(f->c.data, 0755), 0);
    assert_int_equal(check(f), 0);
    assert_int_equal(rmdir(f->c.data), 0); /* fails if the write probe was left behind */
}

static void test_data_dir_with_trailing_slash_is_accepted(void **state)
{
    struct fixture *f = *state;
    snprintf(f->c.data, sizeof f->c.data, "%s/x/", f->dir);
    assert_int_equal(check(f), 0);
}

static void test_data_dir_under_a_regular_file_is_an_error(void **state)
{
    /* Fails for root too, unlike a chmod'ed parent: CI runs the tests as root. */
    struct fixture *f = *state;
    char file[256];
    write_file(f->dir, "file", "x", file, sizeof file);
    snprintf(f->c.data, sizeof f->c.data, "%s/sub", file);
    assert_int_equal(check(f), -1);
    assert_err_has(f->err, "--data: cannot create ");
    assert_err_has(f->err, f->c.data);
    assert_err_has(f->err, strerror(ENOTDIR));
}

static void test_data_path_that_is_a_file_is_an_error(void **state)
{
    struct fixture *f = *state;
    write_file(f->dir, "file", "x", f->c.data, sizeof f->c.data);
    assert_int_equal(check(f), -1);
    assert_err_has(f->err, "--data: ");
    assert_err_has(f->err, "is not a directory");
}

static void test_data_dir_in_a_read_only_parent_is_an_error(void **state)
{
    struct fixture *f = *state;
    if (geteuid() == 0)
        skip(); /* root ignores the mode; the regular-file test covers this case */
    char parent[256];
    snprintf(parent, sizeof parent, "%s/ro", f->dir);
    assert_int_equal(mkdir(parent, 0500), 0);
    snprintf(f->c.data, sizeof f->c.data, "%s/data", parent);
    int rc = check(f);
    chmod(parent, 0700);
    assert_int_equal(rc, -1);
    assert_err_has(f->err, "--data: cannot create ");
    assert_err_has(f->err, strerror(EACCES));
}

static void test_read_only_data_dir_is_an_error(void **state)
{
    struct fixture *f = *state;
    if (geteuid() == 0)
        skip();
    assert_int_equal(mkdir(f->c.data, 0500), 0);
    int rc = check(f);
    chmod(f->c.data, 0700);
    assert_int_equal(rc, -1);
    assert_err_has(f->err, "--data: ");
    assert_err_has(f->err, "is not writable");
}

/* ---- who may read the key and the tokens ------------------------------- */

static void test_key_file_readable_by_others_is_refused(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(chmod(f->c.cluster_key_file, 0644), 0);
    assert_int_equal(check(f), -1);
    assert_null(strchr(f->err, '\n'));
    assert_err_has(f->err, "--cluster-key-file: ");
    assert_err_has(f->err, "has mode 0644");
    char fix[CONFIG_PATH_MAX + 16];
    snprintf(fix, sizeof fix, "chmod 600 %s", f->c.cluster_key_file);
    assert_err_has(f->err, fix);
    for (int i = 0; i < CONFIG_KEY_BYTES; i++)
        assert_int_equal(f->key[i], 0);
}

static void test_key_file_readable_by_the_group_is_refused(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(chmod(f->c.cluster_key_file, 0640), 0);
    assert_int_equal(check(f), -1);
    assert_err_has(f->err, "--cluster-key-file: ");
    assert_err_has(f->err, "has mode 0640");
}

static void test_key_file_mode_0400_is_accepted(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(chmod(f->c.cluster_key_file, 0400), 0);
    assert_int_equal(check(f), 0);
}

static void test_key_file_of_another_user_is_refused(void **state)
{
    struct fixture *f = *state;
    if (geteuid() != 0)
        skip(); /* only root can give a file away */
    assert_int_equal(chown(f->c.cluster_key_file, 12345, 12345), 0);
    assert_int_equal(check(f), -1);
    assert_err_has(f->err, "--cluster-key-file: ");
    assert_err_has(f->err, "belongs to uid 12345");
    assert_err_has(f->err, "chown ");
}

static void test_key_file_that_is_not_a_regular_file_is_refused(void **state)
{
    struct fixture *f = *state;
    snprintf(f->c.cluster_key_file, sizeof f->c.cluster_key_file, "%s/fifo", f->dir);
    assert_int_equal(mkfifo(f->c.cluster_key_file, 0600), 0);
    assert_int_equal(check(f), -1); /* and does not block on the FIFO */
    assert_err_has(f->err, "is not a regular file");
}

static void test_admin_token_file_readable_by_others_is_refused(void **state)
{
    struct fixture *f = *state;
    set_token(f, ADMIN_TOKEN "\n");
    assert_int_equal(chmod(f->c.admin_token_file, 0644), 0);
    assert_int_equal(check(f), -1);
    assert_null(strchr(f->err, '\n'));
    assert_err_has(f->err, "--admin-token-file: ");
    assert_err_has(f->err, "has mode 0644");
    char fix[CONFIG_PATH_MAX + 16];
    snprintf(fix, sizeof fix, "chmod 600 %s", f->c.admin_token_file);
    assert_err_has(f->err, fix);
    assert_null(strstr(f->err, ADMIN_TOKEN));
    assert_string_equal(f->token, "");
}

static void test_admin_token_file_readable_by_the_group_is_refused(void **state)
{
    struct fixture *f = *state;
    set_token(f, ADMIN_TOKEN "\n");
    assert_int_equal(chmod(f->c.admin_token_file, 0660), 0);
    assert_int_equal(check(f), -1);
    assert_err_has(f->err, "has mode 0660");
}

static void test_admin_token_file_of_another_user_is_refused(void **state)
{
    struct fixture *f = *state;
    if (geteuid() != 0)
        skip();
    set_token(f, ADMIN_TOKEN "\n");
    assert_int_equal(chown(f->c.admin_token_file, 12345, 12345), 0);
    assert_int_equal(check(f), -1);
    assert_err_has(f->err, "--admin-token-file: ");
    assert_err_has(f->err, "belongs to uid 12345");
}

static void test_admin_token_shorter_than_16_bytes_is_refused(void **state)
{
    struct fixture *f = *state;
    set_token(f, "fifteen-bytes-x\n");
    assert_int_equal(check(f), -1);
    assert_null(strchr(f->err, '\n'));
    assert_err_has(f->err, "--admin-token-file: the token in ");
    assert_err_has(f->err, "is 15 bytes; at least 16");
    assert_err_has(f->err, "chimeractl keygen --out");
    assert_null(strstr(f->err, "fifteen-bytes-x"));
    assert_string_equal(f->token, "");
}

static void test_admin_token_of_16_bytes_is_accepted(void **state)
{
    struct fixture *f = *state;
    set_token(f, "sixteen-bytes-xx\n");
    assert_int_equal(check(f), 0);
    assert_string_equal(f->token, "sixteen-bytes-xx");
}

static void test_short_admin_token_is_refused_without_a_token_buffer(void **state)
{
    struct fixture *f = *state;
    set_token(f, "tok\n");
    assert_int_equal(config_check_files(&f->c, f->key, NULL, 0, f->err, sizeof f->err), -1);
    assert_err_has(f->err, "is 3 bytes; at least 16");
}

/* ---- the read token ----------------------------------------------------- */

#define READ_TOKEN "0123456789abcdef0123"

static void set_read_token(struct fixture *f, const char *content, mode_t mode)
{
    write_file(f->dir, "read.token", content, f->c.read_token_file, sizeof f->c.read_token_file);
    assert_int_equal(chmod(f->c.read_token_file, mode), 0);
}

static void test_no_read_token_file_leaves_reads_open(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(check(f), 0);
    assert_string_equal(f->c.read_token, "");
}

static void test_read_token_file_mode_0600_is_read_without_trailing_newline(void **state)
{
    struct fixture *f = *state;
    set_read_token(f, READ_TOKEN "\n", 0600);
    assert_int_equal(check(f), 0);
    assert_string_equal(f->c.read_token, READ_TOKEN);
}

static void test_read_token_file_readable_by_others_is_refused(void **state)
{
    struct fixture *f = *state;
    set_read_token(f, READ_TOKEN, 0644);
    assert_int_equal(check(f), -1);
    assert_err_has(f->err, "--read-token-file: ");
    assert_err_has(f->err, "has mode 0644");
    assert_err_has(f->err, "chmod 600");
    assert_null(strstr(f->err, READ_TOKEN));
    assert_string_equal(f->c.read_token, "");
}

static void test_read_token_file_readable_by_the_group_is_refused(void **state)
{
    struct fixture *f = *state;
    set_read_token(f, READ_TOKEN, 0640);
    assert_int_equal(check(f), -1);
    assert_err_has(f->err, "has mode 0640");
}

static void test_read_token_file_of_another_user_is_refused(void **state)
{
    struct fixture *f = *state;
    if (geteuid() != 0)
        skip(); /* only root can give a file away */
    set_read_token(f, READ_TOKEN, 0600);
    assert_int_equal(chown(f->c.read_token_file, 12345, 12345), 0);
    assert_int_equal(check(f), -1);
    assert_err_has(f->err, "belongs to uid 12345");
}

static void test_read_token_shorter_than_16_bytes_is_refused(void **state)
{
    struct fixture *f = *state;
    set_read_token(f, "short-token\n", 0600);
    assert_int_equal(check(f), -1);
    assert_err_has(f->err, "--read-token-file: the token in ");
    assert_err_has(f->err, "is 11 bytes; at least 16");
    assert_null(strstr(f->err, "short-token"));
    assert_string_equal(f->c.read_token, "");
}

static void test_empty_read_token_file_is_refused(void **state)
{
    struct fixture *f = *state;
    set_read_token(f, "\n", 0600);
    assert_int_equal(check(f), -1);
    assert_err_has(f->err, "is empty; write the read token into it");
}

static void test_missing_read_token_file_is_an_error(void **state)
{
    struct fixture *f = *state;
    snprintf(f->c.read_token_file, sizeof f->c.read_token_file, "%s/nope", f->dir);
    assert_int_equal(check(f), -1);
    assert_err_has(f->err, "--read-token-file: cannot read ");
    assert_err_has(f->err, strerror(ENOENT));
}

static void test_read_token_is_wiped_when_a_later_check_fails(void **state)
{
    struct fixture *f = *state;
    set_read_token(f, READ_TOKEN, 0600);
    snprintf(f->c.data, sizeof f->c.data, "%s/read.token/data", f->dir); /* under a file */
    assert_int_equal(check(f), -1);
    assert_string_equal(f->c.read_token, "");
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_good_key_file_is_decoded),
        T(test_key_without_newline_is_accepted),
        T(test_key_with_trailing_crlf_and_spaces_is_accepted),
        T(test_uppercase_hex_key_is_accepted),
        T(test_short_key_is_an_error),
        T(test_long_key_is_an_error),
        T(test_key_followed_by_padding_and_more_text_is_an_error),
        T(test_non_hex_key_is_an_error),
        T(test_key_with_leading_space_is_an_error),
        T(test_key_error_does_not_reveal_the_key),
        T(test_missing_key_file_is_an_error_with_the_reason),
        T(test_key_file_that_is_a_directory_is_an_error),
        T(test_token_file_is_read_without_trailing_newline),
        T(test_no_token_file_gives_an_empty_token),
        T(test_token_file_checked_without_a_token_buffer),
        T(test_blank_token_file_is_an_error),
        T(test_token_too_long_for_the_buffer_is_an_error),
        T(test_huge_token_file_is_an_error_without_a_token_buffer),
        T(test_token_of_exactly_the_buffer_size_fits),
        T(test_missing_token_file_is_an_error),
        T(test_failure_wipes_the_key),
        T(test_data_dir_is_created_with_mode_0700),
        T(test_existing_data_dir_is_accepted_and_left_clean),
        T(test_data_dir_with_trailing_slash_is_accepted),
        T(test_data_dir_under_a_regular_file_is_an_error),
        T(test_data_path_that_is_a_file_is_an_error),
        T(test_data_dir_in_a_read_only_parent_is_an_error),
        T(test_read_only_data_dir_is_an_error),
        T(test_key_file_readable_by_others_is_refused),
        T(test_key_file_readable_by_the_group_is_refused),
        T(test_key_file_mode_0400_is_accepted),
        T(test_key_file_of_another_user_is_refused),
        T(test_key_file_that_is_not_a_regular_file_is_refused),
        T(test_admin_token_file_readable_by_others_is_refused),
        T(test_admin_token_file_readable_by_the_group_is_refused),
        T(test_admin_token_file_of_another_user_is_refused),
        T(test_admin_token_shorter_than_16_bytes_is_refused),
        T(test_admin_token_of_16_bytes_is_accepted),
        T(test_short_admin_token_is_refused_without_a_token_buffer),
        T(test_no_read_token_file_leaves_reads_open),
        T(test_read_token_file_mode_0600_is_read_without_trailing_newline),
        T(test_read_token_file_readable_by_others_is_refused),
        T(test_read_token_file_readable_by_the_group_is_refused),
        T(test_read_token_file_of_another_user_is_refused),
        T(test_read_token_shorter_than_16_bytes_is_refused),
        T(test_empty_read_token_file_is_refused),
        T(test_missing_read_token_file_is_an_error),
        T(test_read_token_is_wiped_when_a_later_check_fails),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
