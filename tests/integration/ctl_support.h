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

/* chimeractl with --addr at node i of c (i < 0: none) and the arguments. */
#define CTL(c, i, ...)                                                                             \
    ({                                                                                             \
        struct run r_ = {0};                                                                       \
        if (!h_ctl((c), (i), &r_.code, &r_.out, &r_.err, __VA_ARGS__, NULL))                       \
            fail_msg("chimeractl did not finish");                                                 \
        r_;                                                                                        \
    })

#define EXPECT(cond, r)                                                                            \
    do {                                                                                           \
        if (!(cond))                                                                               \
            fail_msg("expected %s; exit %d\nstdout:\n%s\nstderr:\n%s", #cond, (r).code,            \
                     (r).out ? (r).out : "", (r).err ? (r).err : "");                              \
    } while (0)

static inline void run_free(struct run *r)
{
    free(r->out);
    free(r->err);
}

static inline void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

#endif
