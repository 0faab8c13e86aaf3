/* The command line every simulation program takes (sim_consensus,
 * sim_witness): how many schedules from which seed, or one seed to replay,
 * the cluster size, tracing, and a deliberate bug to inject by name. */
#ifndef SIM_OPTS_H
#define SIM_OPTS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct sim_opts {
    uint64_t schedules, start; /* schedule k runs seed start + k */
    uint64_t nodes;            /* 3, 5 or 7; 0: by seed (3 + 2 * (seed % 3)) */
    bool trace, keep_going;
    bool slow_sync; /* --slow-sync: the leader syncs off its loop, sometimes slowly */
    bool conn_loss; /* --conn-loss: flapping connections and drops join the faults */
    bool flap;      /* --flap: the only fault is flapping connections (sim_consensus) */
    int brk;        /* index in the program's break names; 0: none */
};

/* Parses argv into o (defaults: 1 schedule from seed 1). breaks[0] is
 * "none"; usage prints the program's synopsis. Returns -1 to go on, or the
 * exit status: 0 after --help, 2 after a bad option (usage printed). */
int sim_opts_parse(struct sim_opts *o, int argc, char **argv, const char *prog,
                   const char *const *breaks, int nbreaks, void (*usage)(FILE *));

/* The cluster size of seed under o. */
int sim_opts_nodes(const struct sim_opts *o, uint64_t seed);

#endif
