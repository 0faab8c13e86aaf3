/* Helpers shared by the test_config*.c programs (each is its own executable,
 * so these are static inline rather than a library). */
#ifndef CHIMERA_TEST_CONFIG_SUPPORT_H
#define CHIMERA_TEST_CONFIG_SUPPORT_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "node/base/config.h"

/* NULL-terminated lists, so a test reads like the command line it checks. */
#define ARGV(...) ((const char *const[]){"chimerad", __VA_ARGS__, NULL})
#define NOARGS ((const char *const[]){"chimerad", NULL})
#define ENV(...) ((const char *const[]){__VA_ARGS__, NULL})
#define NOENV ((const char *const *)NULL)
/* The two flags every valid configuration needs. */
#define REQ "--id", "a", "--cluster-key-file", "/k"

static inline enum config_result load(struct config *c, char *err, size_t errlen,
                                      const char *const *argv, const char *const *envp)
{
    int argc = 0;
    while (argv[argc])
        argc++;
    /* config_load takes the char *const[] shape of main()'s argv and never writes through it. */
    return config_load(c, argc, (char *const *)argv, (char *const *)envp, err, errlen);
}

#define LOAD(c, err, argv, envp) load((c), (err), sizeof(err), (argv), (envp))

/* Checks that err names what it must, and shows err when it does not. */
#define assert_err_has(err, needle)                                                                \
    do {                                                                                           \
        if (!strstr((err), (needle))) {                                                            \
            print_error("error line \"%s\" does not mention \"%s\"\n", (err), (needle));           \
            fail();                                                                                \
        }                                                                                          \
    } while (0)

/* Expects CONFIG_ERROR, a one-line message, and that it mentions needle. */
#define assert_config_error(argv, envp, needle)                                                    \
    do {                                                                                           \
        struct config c_;                                                                          \
        char e_[512];                                                                              \
        assert_int_equal(LOAD(&c_, e_, (argv), (envp)), CONFIG_ERROR);                             \
        assert_null(strchr(e_, '\n'));                                                             \
        assert_err_has(e_, (needle));                                                              \
    } while (0)

static inline void make_tmpdir(char dir[64])
{
    strcpy(dir, "/tmp/chimera-config-test-XXXXXX");
    assert_non_null(mkdtemp(dir));
}

/* Writes content to dir/name, mode 0600 (chimerad refuses key and token
 * files others can read), and returns the path in out. */
static inline const char *write_file(const char *dir, const char *name, const char *content,
                                     char *out, size_t outlen)
{
    snprintf(out, outlen, "%s/%s", dir, name);
    FILE *f = fopen(out, "w");
    assert_non_null(f);
    assert_int_equal(fputs(content, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(chmod(out, 0600), 0);
    return out;
}

static inline int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static inline void rm_tree(const char *dir)
{
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* The fixture of the tests that write a --config file: a scratch folder
 * (setup/teardown) and the file's path. */
struct file_fixture {
    char dir[64];
    char path[256];
};

static inline int file_fixture_setup(void **state)
{
    struct file_fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    make_tmpdir(f->dir);
    *state = f;
    return 0;
}

static inline int file_fixture_teardown(void **state)
{
    struct file_fixture *f = *state;
    rm_tree(f->dir);
    free(f);
    return 0;
}

/* Writes json as the fixture's config file; returns its path. */
static inline const char *conf(void **state, const char *json)
{
    struct file_fixture *f = *state;
    return write_file(f->dir, "chimera.json", json, f->path, sizeof f->path);
}

#endif
