/*
 * runqueue.h - how long the calling thread has waited for a CPU: runnable
 * but not running, because other threads (of this process or any other)
 * had the cores.  Linux keeps it per thread in /proc/thread-self/schedstat
 * (second field, ns).  On a shared 2-core machine this is where most long
 * gaps in a request trace come from, for every system alike.
 */
#ifndef PEERS_RUNQUEUE_H
#define PEERS_RUNQUEUE_H

#include <stdint.h>
#include <stdio.h>

/* Nanoseconds spent waiting on a run queue so far; -1 if not available. */
static inline int64_t runqueue_wait_ns(void)
{
    FILE *f = fopen("/proc/thread-self/schedstat", "r");
    if (!f)
        return -1;
    unsigned long long run, wait;
    int n = fscanf(f, "%llu %llu", &run, &wait);
    fclose(f);
    return n == 2 ? (int64_t)wait : -1;
}

#endif /* PEERS_RUNQUEUE_H */
