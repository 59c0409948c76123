/*
 * pause.h - per-thread histograms of mutator pauses (pause.c).
 *
 * Log-linear buckets: values below 16 ns have a bucket each; above, each
 * power of two is split into 16 equal buckets, so a bucket is at most 1/16
 * (6.25%) wide relative to its floor.  The owner thread writes its own
 * histogram with relaxed load+store (no RMW); readers sum racy snapshots.
 */
#ifndef OURO_PAUSE_H
#define OURO_PAUSE_H

#include "thread.h"

unsigned ouro__pause_bucket(uint64_t ns);

static inline void ouro__pause_add(_Atomic uint64_t *c, uint64_t n)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
                          memory_order_relaxed);
}

/* Record one pause of `ns` on the calling thread t. */
static inline void ouro__pause_record(ouro_thread *t, uint64_t ns)
{
    ouro__pause_add(&t->c.pause_hist[ouro__pause_bucket(ns)], 1);
    ouro__pause_add(&t->c.pause_count, 1);
    ouro__pause_add(&t->c.pause_total_ns, ns);
    if (ns > atomic_load_explicit(&t->c.pause_max_ns, memory_order_relaxed))
        atomic_store_explicit(&t->c.pause_max_ns, ns, memory_order_relaxed);
}

/* Add t's histogram into d (registry lock held). */
void ouro__pause_accumulate(struct ouro_thread_totals *d, const ouro_thread *t);

#endif /* OURO_PAUSE_H */
