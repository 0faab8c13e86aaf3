/* The simulation programs' shared command line (opts.h). */
#include "lib/opts.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int parse_u64(const char *s, uint64_t *v)
{
    char *end;
    errno = 0;
    unsigned long long x = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-')
        return -1;
    *v = x;
    return 0;
}

int sim_opts_parse(struct sim_opts *o, int argc, char **argv, const char *prog,
                   const char *const *breaks, int nbreaks, void (*usage)(FILE *))
{
    *o = (struct sim_opts){.schedules = 1, .start = 1};
    uint64_t seed = 0;
    bool have_seed = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int bad = 0;
        if (!strcmp(a, "--trace")) {
            o->trace = true;
            continue;
        }
        if (!strcmp(a, "--slow-sync")) {
            o->slow_sync = true;
            continue;
        }
        if (!strcmp(a, "--conn-loss")) {
            o->conn_loss = true;
            continue;
        }
        if (!strcmp(a, "--flap")) {
            o->flap = true;
            continue;
        }
        if (!strcmp(a, "--keep-going")) {
            o->keep_going = true;
            continue;
        }
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        }
        if (!v) {
            usage(stderr);
            return 2;
        }
        i++;
        if (!strcmp(a, "--schedules"))
            bad = parse_u64(v, &o->schedules) || o->schedules == 0;
        else if (!strcmp(a, "--start"))
            bad = parse_u64(v, &o->start);
        else if (!strcmp(a, "--seed"))
            bad = parse_u64(v, &seed), have_seed = true;
        else if (!strcmp(a, "--nodes"))
            bad = parse_u64(v, &o->nodes) || (o->nodes != 3 && o->nodes != 5 && o->nodes != 7);
        else if (!strcmp(a, "--break")) {
            bad = 1;
            for (int k = 1; k < nbreaks; k++)
                if (!strcmp(v, breaks[k]))
                    o->brk = k, bad = 0;
        } else
            bad = 1;
        if (bad) {
            fprintf(stderr, "%s: bad option %s %s\n", prog, a, v);
            usage(stderr);
            return 2;
        }
    }
    if (have_seed) {
        o->start = seed;
        o->schedules = 1;
    }
    return -1;
}

int sim_opts_nodes(const struct sim_opts *o, uint64_t seed)
{
    return o->nodes ? (int)o->nodes : 3 + 2 * (int)(seed % 3);
}
