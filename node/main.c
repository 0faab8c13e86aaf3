/* chimerad: one node of a Chimera federation. */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "node/config.h"
#include "node/node.h"

extern char **environ;

int main(int argc, char **argv)
{
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
