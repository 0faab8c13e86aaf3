/* The node's Ed25519 key in DATA/node.key (sign.h). The file holds the
 * 32-byte seed as hex: the seed is the whole secret, and the public key is
 * derived from it, so there is nothing to get out of step. */
#include "ledger/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define KEY_TEXT (2 * LEDGER_SEED_BYTES + 1) /* hex digits and a newline */

void ledger_key_from_seed(const uint8_t seed[LEDGER_SEED_BYTES], struct ledger_key *key)
{
    if (sodium_init() < 0) {
        memset(key, 0, sizeof(*key));
        return;
    }
    crypto_sign_seed_keypair(key->pk, key->sk, seed);
}

void ledger_key_wipe(struct ledger_key *key)
{
    sodium_memzero(key, sizeof(*key));
}

static int fail(char *err, size_t errlen, const char *what, const char *path)
{
    snprintf(err, errlen, "cannot %s %s: %s", what, path, strerror(errno));
    return -1;
}

static int load(const char *path, struct ledger_key *key, char *err, size_t errlen)
{
    char text[KEY_TEXT + 2];
    uint8_t seed[LEDGER_SEED_BYTES];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return fail(err, errlen, "open", path);
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        close(fd);
        return fail(err, errlen, "stat", path);
    }
    if (!S_ISREG(sb.st_mode) || (sb.st_mode & 077) != 0) {
        close(fd);
        snprintf(err, errlen,
                 "%s: the node key must be a regular file only its owner can access (mode %04o); "
                 "fix with chmod 600 %s",
                 path, (unsigned)(sb.st_mode & 07777), path);
        return -1;
    }
    ssize_t n;
    do
        n = read(fd, text, sizeof(text));
    while (n < 0 && errno == EINTR);
    close(fd);
    if (n < 0)
        return fail(err, errlen, "read", path);
    /* Exactly 64 hex digits, optionally one newline: anything else is not a
     * key we wrote, and guessing could mean signing with the wrong one. */
    size_t len = (size_t)n;
    if (len > 0 && text[len - 1] == '\n')
        len--;
    text[len] = '\0';
    if (len != 2 * LEDGER_SEED_BYTES || ledger_unhex(text, seed, sizeof(seed)) != 0) {
        sodium_memzero(text, sizeof(text));
        snprintf(err, errlen,
                 "%s: not a node key (expected 64 hex digits); put back this node's key, or "
                 "move it away to generate a new one (a new identity: where the ledger pins "
                 "the old key, start with --replace-node-key)",
                 path);
        return -1;
    }
    ledger_key_from_seed(seed, key);
    sodium_memzero(seed, sizeof(seed));
    sodium_memzero(text, sizeof(text));
    return 0;
}

static int write_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

static int create(const char *dir, const char *path, struct ledger_key *key, char *err,
                  size_t errlen)
{
    char tmp[LEDGER_PATH_MAX + 16], text[KEY_TEXT + 1];
    uint8_t seed[LEDGER_SEED_BYTES];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    unlink(tmp); /* a leftover of a crash during creation: never linked, never used */
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return fail(err, errlen, "create", tmp);
    randombytes_buf(seed, sizeof(seed));
    ledger_hex(seed, sizeof(seed), text);
    strcat(text, "\n");
    int bad = write_all(fd, text, strlen(text)) != 0 || fsync(fd) != 0;
    int saved = errno;
    sodium_memzero(text, sizeof(text));
    if (close(fd) != 0 && !bad)
        bad = 1, saved = errno;
    if (bad) {
        unlink(tmp);
        sodium_memzero(seed, sizeof(seed));
        errno = saved;
        return fail(err, errlen, "write", tmp);
    }
    /* link, not rename: if a key appeared meanwhile it wins and is kept. */
    if (link(tmp, path) != 0) {
        saved = errno;
        unlink(tmp);
        sodium_memzero(seed, sizeof(seed));
        if (saved == EEXIST)
            return load(path, key, err, errlen);
        errno = saved;
        return fail(err, errlen, "create", path);
    }
    unlink(tmp);
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0 || fsync(dfd) != 0) {
        saved = errno;
        if (dfd >= 0)
            close(dfd);
        sodium_memzero(seed, sizeof(seed));
        errno = saved;
        return fail(err, errlen, "sync the directory", dir);
    }
    close(dfd);
    ledger_key_from_seed(seed, key);
    sodium_memzero(seed, sizeof(seed));
    return 1;
}

int ledger_key_load_or_create(const char *dir, struct ledger_key *key, char *err, size_t errlen)
{
    char path[LEDGER_PATH_MAX];
    struct stat sb;
    memset(key, 0, sizeof(*key));
    if (sodium_init() < 0) {
        snprintf(err, errlen, "libsodium failed to initialise");
        return -1;
    }
    if (dir == NULL || stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        snprintf(err, errlen, "data directory %s does not exist or is not a directory",
                 dir ? dir : "(none)");
        return -1;
    }
    if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, LEDGER_KEY_FILE) >= sizeof(path)) {
        snprintf(err, errlen, "data directory path too long");
        return -1;
    }
    if (lstat(path, &sb) == 0)
        return load(path, key, err, errlen);
    if (errno != ENOENT)
        return fail(err, errlen, "stat", path);
    return create(dir, path, key, err, errlen);
}
