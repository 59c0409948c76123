/*
 * memory.h - the process's peak resident set size, the memory side of
 * "what does it cost".
 */
#ifndef PEERS_MEMORY_H
#define PEERS_MEMORY_H

#include <sys/resource.h>

static inline double peak_rss_mib(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return -1;
    return (double)ru.ru_maxrss / 1024.0;   /* ru_maxrss is in KiB */
}

#endif /* PEERS_MEMORY_H */
