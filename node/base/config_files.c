/* The configuration's checks that touch the machine: the cluster key, the
 * admin and read token files, and the data directory. Kept apart from config.c,
 * whose parsing and validation are pure. */
#include "node/base/config.h"
#include "node/base/config_err.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Reads at most cap bytes; *len == cap means the file may hold more. */
static int read_small(const char *path, char *buf, size_t cap, size_t *len)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return errno;
    *len = fread(buf, 1, cap, f);
    int e = ferror(f) ? (errno ? errno : EIO) : 0;
    fclose(f);
    return e;
}

static size_t trim_right(const char *s, size_t n)
{
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        n--;
    return n;
}

/* A secret file must be this user's alone, as node.key is (ledger/key.c): a
 * key or token that others can read is no secret. missing is a hint added
 * when the file does not exist. */
static int check_private(const char *flag, const char *what, const char *path, const char *missing,
                         char *err, size_t errlen)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        int e = errno;
        return config_put(err, errlen, "%s: cannot read %s: %s%s%s", flag, path, strerror(e),
                          e == ENOENT && missing ? "; " : "",
                          e == ENOENT && missing ? missing : "");
    }
    if (S_ISDIR(st.st_mode))
        return config_put(err, errlen, "%s: cannot read %s: %s", flag, path, strerror(EISDIR));
    if (!S_ISREG(st.st_mode))
        return config_put(err, errlen, "%s: %s is not a regular file", flag, path);
    if (st.st_uid != geteuid())
        return config_put(err, errlen,
                          "%s: %s belongs to uid %u, not to the user chimerad runs as (uid %u); "
                          "chown %u %s",
                          flag, path, (unsigned)st.st_uid, (unsigned)geteuid(), (unsigned)geteuid(),
                          path);
    if (st.st_mode & 077)
        return config_put(err, errlen,
                          "%s: %s has mode %04o; a %s others can read is no secret: chmod 600 %s",
                          flag, path, (unsigned)(st.st_mode & 07777), what, path);
    return 0;
}

static int check_key(const char *path, uint8_t key[CONFIG_KEY_BYTES], char *err, size_t errlen)
{
    static const char flag[] = "--cluster-key-file";
    char buf[2 * CONFIG_KEY_BYTES + 64], hint[CONFIG_PATH_MAX + 64];
    size_t n = 0, bin = 0;
    const char *end = NULL;
    snprintf(hint, sizeof hint, KEYGEN " %s", path);
    if (check_private(flag, "key", path, hint, err, errlen))
        return -1;
    int e = read_small(path, buf, sizeof buf, &n), rc = 0;
    if (e)
        return config_put(err, errlen, "%s: cannot read %s: %s", flag, path, strerror(e));
    /* A full buffer means more bytes follow than any key plus a newline. */
    if (n == sizeof buf || (n = trim_right(buf, n)) != 2 * CONFIG_KEY_BYTES ||
        sodium_hex2bin(key, CONFIG_KEY_BYTES, buf, n, NULL, &bin, &end) != 0 ||
        bin != CONFIG_KEY_BYTES || end != buf + n)
        rc = config_put(err, errlen,
                        "%s: %s is not a cluster key (it must hold exactly %d hex digits); "
                        "replace it: rm %s && " KEYGEN_CMD " %s",
                        flag, path, 2 * CONFIG_KEY_BYTES, path, path);
    sodium_memzero(buf, sizeof buf);
    if (rc)
        sodium_memzero(key, CONFIG_KEY_BYTES);
    return rc;
}

/* A bearer token file (flag names it in messages, what says whose token):
 * the user's alone (check_private), not empty, no NUL, at least
 * CONFIG_TOKEN_MIN bytes (a token must not be guessable) and at most
 * tokenlen - 1 once trailing white space is trimmed. The token is left in
 * token only when every check passes. */
static int check_token(const char *flag, const char *what, const char *path, char *token,
                       size_t tokenlen, char *err, size_t errlen)
{
    char buf[4096]; /* far beyond any sane token; a full buffer is reported as too long */
    size_t n = 0, max = token && tokenlen && tokenlen <= sizeof buf ? tokenlen - 1 : sizeof buf - 1;
    int rc = 0, e;
    if (check_private(flag, "token", path, NULL, err, errlen))
        return -1;
    if ((e = read_small(path, buf, sizeof buf, &n)))
        rc = config_put(err, errlen, "%s: cannot read %s: %s", flag, path, strerror(e));
    else if (n == sizeof buf || (n = trim_right(buf, n)) > max || (token && !tokenlen))
        rc = config_put(err, errlen, "%s: the token in %s is too long; at most %zu bytes", flag,
                        path, max);
    else if (n == 0)
        rc = config_put(err, errlen, "%s: %s is empty; write the %s into it", flag, path, what);
    else if (memchr(buf, '\0', n))
        rc = config_put(err, errlen, "%s: %s holds a NUL byte; a token is text", flag, path);
    else if (n < CONFIG_TOKEN_MIN)
        rc = config_put(err, errlen,
                        "%s: the token in %s is %zu bytes; at least %d: write a longer one, e.g. "
                        "rm %s && " KEYGEN_CMD " %s",
                        flag, path, n, CONFIG_TOKEN_MIN, path, path);
    else if (token) {
        memcpy(token, buf, n);
        token[n] = '\0';
    }
    sodium_memzero(buf, sizeof buf);
    return rc;
}

/* mkdir -p: every missing component is created 0700, as the data is private. */
static int mkdir_p(const char *path)
{
    char tmp[CONFIG_PATH_MAX];
    size_t n = strlen(path);
    if (n >= sizeof tmp)
        return ENAMETOOLONG;
    memcpy(tmp, path, n + 1);
    for (char *p = tmp + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char saved = *p;
        *p = '\0';
        if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
            return errno;
        *p = saved;
        if (!saved)
            return 0;
    }
}

static int check_data(const char *path, char *err, size_t errlen)
{
    char probe[CONFIG_PATH_MAX + 32];
    struct stat st;
    int e;
    if (!path[0])
        return config_put(err, errlen, "--data: empty; give the directory for this node's state");
    if ((e = mkdir_p(path)))
        return config_put(err, errlen, "--data: cannot create %s: %s", path, strerror(e));
    if (stat(path, &st) != 0)
        return config_put(err, errlen, "--data: cannot use %s: %s", path, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return config_put(err, errlen,
                          "--data: %s exists and is not a directory; point --data at one", path);
    /* A probe file rather than access(W_OK): it also catches read-only mounts and full disks. */
    snprintf(probe, sizeof probe, "%s/.chimera-probe-XXXXXX", path);
    int fd = mkstemp(probe);
    if (fd < 0)
        return config_put(err, errlen, "--data: %s is not writable: %s", path, strerror(errno));
    close(fd);
    unlink(probe);
    return 0;
}

int config_check_files(struct config *c, uint8_t key[CONFIG_KEY_BYTES], char *token,
                       size_t tokenlen, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (token && tokenlen)
        token[0] = '\0';
    if (check_key(c->cluster_key_file, key, err, errlen) != 0)
        return -1;
    sodium_memzero(c->read_token, sizeof c->read_token);
    if ((c->admin_token_file[0] &&
         check_token("--admin-token-file", "admin token", c->admin_token_file, token, tokenlen, err,
                     errlen)) ||
        (c->read_token_file[0] && check_token("--read-token-file", "read token", c->read_token_file,
                                              c->read_token, sizeof c->read_token, err, errlen)) ||
        check_data(c->data, err, errlen)) {
        sodium_memzero(key, CONFIG_KEY_BYTES); /* no secrets left behind on failure */
        sodium_memzero(c->read_token, sizeof c->read_token);
        if (token && tokenlen)
            sodium_memzero(token, tokenlen);
        return -1;
    }
    return 0;
}
