/*
 * collections.h - workload 3 repeated in one process (--collections C):
 * which of the C timed collections to report.
 *
 * The first collection of a process is reported apart ("first"): it also
 * pays for memory the system touches for the first time (a side table's
 * fresh pages, a heap's first growth).  The figure for the rest ("steady")
 * is their median, the collection a long-running program sees.  Every
 * system goes through the same protocol.
 */
#ifndef PEERS_COLLECTIONS_H
#define PEERS_COLLECTIONS_H

#include <stddef.h>
#include <stdint.h>

#include "options.h"

#define PEER_MAX_COLLECTIONS 100   /* options.c's bound */

/* The index of the median of ns[1..n-1] (the lower middle one for an even
 * count), or 0 when there is only the first. */
static inline int steady_collection(const uint64_t *ns, int n)
{
    if (n < 2)
        return 0;
    int best = 1;
    for (int i = 1; i < n; i++) {
        int below = 0, equal_before = 0;
        for (int j = 1; j < n; j++) {
            below += ns[j] < ns[i];
            equal_before += ns[j] == ns[i] && j < i;
        }
        /* rank of i among the n - 1 later ones, ties broken by index */
        if (below + equal_before == (n - 2) / 2)
            best = i;
    }
    return best;
}

/* Run o->collections collections (at most PEER_MAX_COLLECTIONS): the i-th
 * calls one(rec_i, ncycles, len, ok), where rec_i is the i-th record of
 * `size` bytes in `recs`; one builds the garbage, collects it once, keeps
 * what it measured in its record, returns the collection's wall time in
 * ns, and clears *ok if it did not free what it should have.  ns[] gets
 * the times.  Returns the index of the collection to report; *n, how many
 * ran. */
static inline int run_collections(const peer_options *o, void *recs,
                                  size_t size,
                                  uint64_t (*one)(void *rec, long ncycles,
                                                  long len, int *ok),
                                  uint64_t *ns, int *n, int *ok)
{
    *n = o->collections > PEER_MAX_COLLECTIONS ? PEER_MAX_COLLECTIONS
                                               : o->collections;
    *ok = 1;
    for (int i = 0; i < *n; i++)
        ns[i] = one((char *)recs + (size_t)i * size, o->objects / o->cycle,
                    o->cycle, ok);
    return steady_collection(ns, *n);
}

#endif /* PEERS_COLLECTIONS_H */
