/*
 * rng.h - xorshift64: the cheap pseudo-random numbers that pick graph sizes
 * and live objects in every system's workload (the Python scripts use their
 * own generator; only the distribution has to match, not the sequence).
 */
#ifndef PEERS_RNG_H
#define PEERS_RNG_H

#include <stdint.h>

static inline uint64_t rng_seed(uint64_t stream)
{
    return stream * 0x9e3779b97f4a7c15ull + 0x2545f4914f6cdd1dull;
}

static inline uint64_t rng_next(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *state = x;
    return x;
}

#endif /* PEERS_RNG_H */
