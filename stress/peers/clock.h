/*
 * clock.h - the clocks every peer benchmark reads: wall time (monotonic,
 * the same clock as Python's time.monotonic_ns), the calling thread's CPU
 * time and the whole process's CPU time, all in nanoseconds.
 */
#ifndef PEERS_CLOCK_H
#define PEERS_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t clock_read_ns(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline uint64_t wall_ns(void)
{
    return clock_read_ns(CLOCK_MONOTONIC);
}

static inline uint64_t thread_cpu_ns(void)
{
    return clock_read_ns(CLOCK_THREAD_CPUTIME_ID);
}

static inline uint64_t process_cpu_ns(void)
{
    return clock_read_ns(CLOCK_PROCESS_CPUTIME_ID);
}

#endif /* PEERS_CLOCK_H */
