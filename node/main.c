/* chimerad: one node of a Chimera federation. */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "node/base/config.h"
#include "node/node.h"

extern char **environ;

#if defined(__SANITIZE_ADDRESS__)
/* The sanitized build (make test): NNG 1.5.2, Debian 12's, can leave a
 * closed socket's dialer and a connection still in its handshake unreaped
 * (its issue #1636, fixed in 1.6.0) and loses a message handed to a
 * connection as it closes (#1713). A node that stops, or refuses to start,
 * just as a peer (re)connects leaks them: about 4 KiB, all allocated inside
 * libnng, some on its own threads, and nothing the node can free. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
    return "leak:libnng.so\n";
}

/* A refusal to start is one line on stderr; the list of suppressions used
 * would add lines to it. */
const char *__lsan_default_options(void);
const char *__lsan_default_options(void)
{
    return "print_suppressions=0";
}
#endif

/* Every peer, HTTP client, ledger file and service log holds a descriptor,
 * and running out is costly: NNG's HTTP server retries accept() at once
 * (spinning a core) and a failed open of a state file is fatal. The soft
 * limit (often 1024) is raised to the hard one, which the administrator
 * sets (LimitNOFILE=); node.start says what it is. */
static void raise_nofile_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= rl.rlim_max)
        return;
    rlim_t soft = rl.rlim_cur;
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
        fprintf(stderr,
                "chimerad: warning: cannot raise the open files limit from %llu to %llu: %s\n",
                (unsigned long long)soft, (unsigned long long)rl.rlim_max, strerror(errno));
}

int main(int argc, char **argv)
{
    raise_nofile_limit(); /* before anything opens a file */
    /* Before the configuration: a version query must not need a key,
     * a token or free ports. */
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--version") == 0) {
            printf("chimerad %s\n", CHIMERA_VERSION);
            return 0;
        }
    struct config cfg;
    char err[512];
    switch (config_load(&cfg, argc, argv, environ, err, sizeof(err))) {
    case CONFIG_HELP:
        fputs(config_usage(), stdout);
        return 0;
    case CONFIG_ERROR:
        fprintf(stderr, "chimerad: %s\n", err);
        return 2;
    case CONFIG_OK:
        break;
    }
    if (sodium_init() < 0) {
        fprintf(stderr, "chimerad: libsodium failed to initialise\n");
        return 1;
    }
    uint8_t key[CONFIG_KEY_BYTES];
    char token[256];
    if (config_check_files(&cfg, key, token, sizeof(token), err, sizeof(err)) != 0) {
        fprintf(stderr, "chimerad: %s\n", err);
        return 2;
    }
    int status = node_run(&cfg, key, token);
    sodium_memzero(key, sizeof(key));
    sodium_memzero(token, sizeof(token));
    sodium_memzero(cfg.read_token, sizeof(cfg.read_token));
    return status;
}
