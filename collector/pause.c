/*
 * pause.c - mutator pause histograms: bucketing, summing, percentiles.
 */
#include "pause.h"

#include <string.h>

#define LINEAR 16
#define SUB_BITS 4

unsigned ouro__pause_bucket(uint64_t ns)
{
    if (ns < LINEAR)
        return (unsigned)ns;
    unsigned e = 63u - (unsigned)__builtin_clzll(ns);   /* >= 4 */
    unsigned sub = (unsigned)(ns >> (e - SUB_BITS)) & (LINEAR - 1);
    unsigned b = LINEAR + (e - SUB_BITS) * LINEAR + sub;
    return b < OURO__PAUSE_BUCKETS ? b : OURO__PAUSE_BUCKETS - 1;
}

uint64_t ouro_pause_bucket_floor(unsigned b)
{
    if (b < LINEAR)
        return b;
    unsigned e = (b - LINEAR) / LINEAR + SUB_BITS;
    uint64_t sub = (b - LINEAR) % LINEAR;
    return ((uint64_t)LINEAR + sub) << (e - SUB_BITS);
}

void ouro__pause_accumulate(struct ouro_thread_totals *d, const ouro_thread *t)
{
    for (unsigned i = 0; i < OURO__PAUSE_BUCKETS; i++)
        d->pause_hist[i] += atomic_load_explicit(&t->c.pause_hist[i],
                                                 memory_order_relaxed);
    d->pause_count += atomic_load_explicit(&t->c.pause_count,
                                           memory_order_relaxed);
    d->pause_total_ns += atomic_load_explicit(&t->c.pause_total_ns,
                                              memory_order_relaxed);
    uint64_t max = atomic_load_explicit(&t->c.pause_max_ns,
                                        memory_order_relaxed);
    if (max > d->pause_max_ns)
        d->pause_max_ns = max;
}

/* Upper edge of the bucket holding the q-quantile (never above max). */
static uint64_t quantile(const uint64_t *hist, uint64_t count, uint64_t max,
                         double q)
{
    if (!count)
        return 0;
    uint64_t rank = (uint64_t)(q * (double)count);
    if (rank >= count)
        rank = count - 1;
    uint64_t seen = 0;
    for (unsigned i = 0; i < OURO__PAUSE_BUCKETS; i++) {
        seen += hist[i];
        if (seen > rank) {
            uint64_t hi = i + 1 < OURO__PAUSE_BUCKETS
                              ? ouro_pause_bucket_floor(i + 1) : max;
            return hi < max ? hi : max;
        }
    }
    return max;
}

static void add_live(ouro_thread *t, void *arg)
{
    ouro__pause_accumulate(arg, t);
}

void ouro_gc_pauses(ouro_pause_stats *out, uint64_t *hist)
{
    static struct ouro_thread_totals sum;   /* large: not on the stack */
    static pthread_mutex_t sum_lock = PTHREAD_MUTEX_INITIALIZER;
    pthread_mutex_lock(&sum_lock);
    memset(&sum, 0, sizeof sum);
    pthread_mutex_lock(&ouro__registry_lock);
    memcpy(sum.pause_hist, ouro__dead_totals.pause_hist, sizeof sum.pause_hist);
    sum.pause_count = ouro__dead_totals.pause_count;
    sum.pause_total_ns = ouro__dead_totals.pause_total_ns;
    sum.pause_max_ns = ouro__dead_totals.pause_max_ns;
    pthread_mutex_unlock(&ouro__registry_lock);
    ouro__registry_each(add_live, &sum);
    out->count = sum.pause_count;
    out->total_ns = sum.pause_total_ns;
    out->max_ns = sum.pause_max_ns;
    out->p50_ns = quantile(sum.pause_hist, sum.pause_count, sum.pause_max_ns, 0.50);
    out->p90_ns = quantile(sum.pause_hist, sum.pause_count, sum.pause_max_ns, 0.90);
    out->p99_ns = quantile(sum.pause_hist, sum.pause_count, sum.pause_max_ns, 0.99);
    out->p999_ns = quantile(sum.pause_hist, sum.pause_count, sum.pause_max_ns, 0.999);
    if (hist)
        memcpy(hist, sum.pause_hist, sizeof sum.pause_hist);
    pthread_mutex_unlock(&sum_lock);
}

static void reset_live(ouro_thread *t, void *arg)
{
    (void)arg;
    for (unsigned i = 0; i < OURO__PAUSE_BUCKETS; i++)
        atomic_store_explicit(&t->c.pause_hist[i], 0, memory_order_relaxed);
    atomic_store_explicit(&t->c.pause_count, 0, memory_order_relaxed);
    atomic_store_explicit(&t->c.pause_total_ns, 0, memory_order_relaxed);
    atomic_store_explicit(&t->c.pause_max_ns, 0, memory_order_relaxed);
}

void ouro_gc_pauses_reset(void)
{
    pthread_mutex_lock(&ouro__registry_lock);
    memset(ouro__dead_totals.pause_hist, 0, sizeof ouro__dead_totals.pause_hist);
    ouro__dead_totals.pause_count = ouro__dead_totals.pause_total_ns = 0;
    ouro__dead_totals.pause_max_ns = 0;
    pthread_mutex_unlock(&ouro__registry_lock);
    ouro__registry_each(reset_live, NULL);
}
