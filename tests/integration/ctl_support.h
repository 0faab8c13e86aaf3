/* What the chimeractl integration tests share: running chimeractl and
 * saying what it printed when an expectation fails. Include after cmocka.h
 * and harness.h. */
#ifndef CHIMERA_CTL_SUPPORT_H
#define CHIMERA_CTL_SUPPORT_H

#include <stdio.h>
#include <stdlib.h>

struct run {
    int code;
    char *out, *err;
};

static inline void run_free(struct run *r)
{
    free(r->out);
    free(r->err);
}

/* Fails the test at file:line (cmocka's fail() there). A failure leaves
 * the test by a longjmp: what the run printed is said, then freed, before
 * it fails, so that the sanitizer's report of a failed test is about the
 * failure and not about these buffers. */
__attribute__((noreturn)) static inline void run_fail(struct run *r, const char *what,
                                                      const char *file, int line)
{
    print_error("ERROR: %s; exit %d\nstdout:\n%s\nstderr:\n%s\n", what, r->code,
                r->out ? r->out : "", r->err ? r->err : "");
    run_free(r);
    r->out = r->err = NULL;
    _fail(file, line);
    __builtin_unreachable(); /* cmocka 1.1 does not declare _fail noreturn */
}

/* chimeractl with --addr at node i of c (i < 0: none) and the arguments. */
#define CTL(c, i, ...)                                                                             \
    ({                                                                                             \
        struct run r_ = {0};                                                                       \
        if (!h_ctl((c), (i), &r_.code, &r_.out, &r_.err, __VA_ARGS__, NULL))                       \
            run_fail(&r_, "chimeractl did not finish", __FILE__, __LINE__);                        \
        r_;                                                                                        \
    })

#define EXPECT(cond, r)                                                                            \
    do {                                                                                           \
        if (!(cond))                                                                               \
            run_fail(&(r), "expected " #cond, __FILE__, __LINE__);                                 \
    } while (0)

static inline void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

#endif
