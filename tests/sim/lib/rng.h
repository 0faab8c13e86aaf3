/* Seeded pseudo-random numbers for the simulation: splitmix64 to expand a
 * seed, xoshiro256** for the stream. Every random choice of a schedule comes
 * from one of these, seeded from the schedule's seed, so a run replays
 * exactly. */
#ifndef SIM_RNG_H
#define SIM_RNG_H

#include <stdbool.h>
#include <stdint.h>

struct rng {
    uint64_t s[4];
};

uint64_t splitmix64(uint64_t *x);
void rng_seed(struct rng *r, uint64_t seed);
uint64_t rng_next(struct rng *r);
/* Uniform in [0, n); n > 0. */
uint64_t rng_below(struct rng *r, uint64_t n);
/* Uniform in [lo, hi]; lo <= hi. */
uint64_t rng_range(struct rng *r, uint64_t lo, uint64_t hi);
/* True with probability ppm / 1e6. */
bool rng_chance(struct rng *r, uint32_t ppm);

#endif
