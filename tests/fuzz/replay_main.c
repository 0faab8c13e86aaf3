/* main() for a libFuzzer harness without libFuzzer: replays inputs, no
 * fuzzing. The normal builds (GCC, release and sanitized) link every
 * tests/fuzz/fuzz_*.c with this file as fuzz_replay_<name>, so the harnesses
 * keep compiling under the project's -Werror and their corpus
 * (tests/fuzz/corpus/<name>/) runs under ASan and UBSan in ctest
 * (fuzz.replay.<name>). The clang build with CHIMERA_FUZZ=ON links libFuzzer's
 * main instead (README.md).
 *
 *   fuzz_replay_<name> PATH...   each PATH a file, or a directory whose
 *                                files (not subdirectories, not dotfiles)
 *                                are replayed in name order
 *
 * A path that cannot be read, or no input at all, is an error (exit 2): a
 * corpus that went missing must not pass as one that passed. A harness that
 * finds a bug aborts, as under libFuzzer; the input's name is printed before
 * it runs, so the last one named is the one to look at. */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* libFuzzer calls it once before any input when the harness defines it. */
__attribute__((weak)) int LLVMFuzzerInitialize(int *argc, char ***argv);

static int replay_file(const char *path, size_t *ran)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        return -1;
    }
    size_t cap = 4096, len = 0;
    uint8_t *buf = malloc(cap);
    for (;;) {
        if (buf == NULL) {
            fprintf(stderr, "replay: %s: out of memory\n", path);
            fclose(f);
            return -1;
        }
        len += fread(buf + len, 1, cap - len, f);
        if (len < cap)
            break;
        uint8_t *more = realloc(buf, cap * 2);
        if (more == NULL)
            free(buf);
        buf = more;
        cap *= 2;
    }
    int failed = ferror(f);
    fclose(f);
    if (failed) {
        fprintf(stderr, "replay: %s: read error\n", path);
        free(buf);
        return -1;
    }
    /* An exact-size copy, as libFuzzer gives: ASan then sees a read one
     * byte past the input. */
    uint8_t *data = malloc(len ? len : 1);
    if (data == NULL) {
        fprintf(stderr, "replay: %s: out of memory\n", path);
        free(buf);
        return -1;
    }
    memcpy(data, buf, len);
    free(buf);
    fprintf(stderr, "replay: %s (%zu bytes)\n", path, len);
    int rv = LLVMFuzzerTestOneInput(data, len);
    free(data);
    /* libFuzzer takes 0, and -1 for "keep out of the corpus"; anything else
     * is a harness bug it refuses too. */
    if (rv != 0 && rv != -1) {
        fprintf(stderr, "replay: %s: the harness returned %d\n", path, rv);
        return -1;
    }
    (*ran)++;
    return 0;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

static int replay_dir(const char *dir, size_t *ran)
{
    struct dirent **names;
    int n = scandir(dir, &names, NULL, by_name);
    if (n < 0) {
        fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
        return -1;
    }
    int rv = 0;
    for (int i = 0; i < n; i++) {
        const char *name = names[i]->d_name;
        char path[4096];
        struct stat st;
        if (rv == 0 && name[0] != '.') {
            if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path) {
                fprintf(stderr, "replay: %s/%s: path too long\n", dir, name);
                rv = -1;
            } else if (stat(path, &st) != 0) {
                fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
                rv = -1;
            } else if (S_ISREG(st.st_mode)) {
                rv = replay_file(path, ran);
            }
        }
        free(names[i]);
    }
    free(names);
    return rv;
}

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        fprintf(stderr, "usage: %s PATH...  (files, or directories of files, to replay)\n",
                argv[0]);
        return 2;
    }
    if (LLVMFuzzerInitialize)
        LLVMFuzzerInitialize(&argc, &argv);
    size_t ran = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        int rv;
        if (stat(argv[i], &st) != 0) {
            fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
            rv = -1;
        } else if (S_ISDIR(st.st_mode)) {
            rv = replay_dir(argv[i], &ran);
        } else {
            rv = replay_file(argv[i], &ran);
        }
        if (rv != 0)
            return 2;
    }
    if (ran == 0) {
        fprintf(stderr, "replay: no input found in the paths given\n");
        return 2;
    }
    printf("replay: ran %zu inputs\n", ran);
    return 0;
}
