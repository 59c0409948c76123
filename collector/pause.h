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

/* Bumped by ouro_gc_pauses_reset (under the registry lock). */
extern _Atomic uint64_t ouro__pause_epoch;

/* The owner starts its histogram over, from epoch e. */
void ouro__pause_hist_renew(struct ouro__pause_hist *h, uint64_t e);

static inline void ouro__pause_hist_record(struct ouro__pause_hist *h,
                                           uint64_t ns)
{
    /* A reset zeroing another thread's counters would race with this
     * load+store (the old count written back over the zero); the owner
     * zeroes its own instead, on its first pause after the reset. */
    uint64_t e = atomic_load_explicit(&ouro__pause_epoch, memory_order_relaxed);
    if (OURO_UNLIKELY(atomic_load_explicit(&h->epoch, memory_order_relaxed) != e))
        ouro__pause_hist_renew(h, e);
    ouro__pause_add(&h->hist[ouro__pause_bucket(ns)], 1);
    ouro__pause_add(&h->count, 1);
    ouro__pause_add(&h->total_ns, ns);
    if (ns > atomic_load_explicit(&h->max_ns, memory_order_relaxed))
        atomic_store_explicit(&h->max_ns, ns, memory_order_relaxed);
}

/* CPU time of the calling thread, in ns (a system call: about 0.5 us). */
uint64_t ouro__thread_cpu_ns(void);

/* Start and end of one pause on thread t. */
typedef struct ouro__pause_clock {
    uint64_t wall, cpu;
} ouro__pause_clock;

static inline ouro__pause_clock ouro__pause_begin(void)
{
    ouro__pause_clock pc = {ouro__now_ns(), 0};
    if (OURO_UNLIKELY(ouro__rt.pause_cpu_clock))
        pc.cpu = ouro__thread_cpu_ns();
    return pc;
}

static inline void ouro__pause_end(ouro_thread *t, ouro__pause_clock pc)
{
    ouro__pause_hist_record(&t->c.pause, ouro__now_ns() - pc.wall);
    if (OURO_UNLIKELY(ouro__rt.pause_cpu_clock))
        ouro__pause_hist_record(&t->c.pause_cpu, ouro__thread_cpu_ns() - pc.cpu);
}

/* Add t's histograms into d (registry lock held). */
void ouro__pause_accumulate(struct ouro_thread_totals *d, const ouro_thread *t);

#endif /* OURO_PAUSE_H */
