/*
 * pause.c - mutator pause histograms: bucketing, summing, percentiles.
 */
#include "pause.h"

#include <string.h>
#include <time.h>

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

uint64_t ouro__thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

_Atomic uint64_t ouro__pause_epoch;

void ouro__pause_hist_renew(struct ouro__pause_hist *h, uint64_t e)
{
    for (unsigned i = 0; i < OURO__PAUSE_BUCKETS; i++)
        atomic_store_explicit(&h->hist[i], 0, memory_order_relaxed);
    atomic_store_explicit(&h->count, 0, memory_order_relaxed);
    atomic_store_explicit(&h->total_ns, 0, memory_order_relaxed);
    atomic_store_explicit(&h->max_ns, 0, memory_order_relaxed);
    /* release: a reader that sees the new epoch (acquire, hist_add) sees
     * the zeroes, not the counts from before the reset. */
    atomic_store_explicit(&h->epoch, e, memory_order_release);
}

/* Add h, unless it still counts from before the last reset (its owner has
 * had no pause since: empty). */
static void hist_add(struct ouro__pause_sum *d, const struct ouro__pause_hist *h)
{
    if (atomic_load_explicit(&((struct ouro__pause_hist *)h)->epoch,
                             memory_order_acquire) !=
        atomic_load_explicit(&ouro__pause_epoch, memory_order_relaxed))
        return;
    for (unsigned i = 0; i < OURO__PAUSE_BUCKETS; i++)
        d->hist[i] += atomic_load_explicit(&h->hist[i], memory_order_relaxed);
    d->count += atomic_load_explicit(&h->count, memory_order_relaxed);
    d->total_ns += atomic_load_explicit(&h->total_ns, memory_order_relaxed);
    uint64_t max = atomic_load_explicit(&h->max_ns, memory_order_relaxed);
    if (max > d->max_ns)
        d->max_ns = max;
}

void ouro__pause_accumulate(struct ouro_thread_totals *d, const ouro_thread *t)
{
    hist_add(&d->pause, &t->c.pause);
    hist_add(&d->pause_cpu, &t->c.pause_cpu);
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

struct pause_query {
    bool cpu;
    struct ouro__pause_sum sum;
};

static void add_live(ouro_thread *t, void *arg)
{
    struct pause_query *q = arg;
    hist_add(&q->sum, q->cpu ? &t->c.pause_cpu : &t->c.pause);
}

static void pauses(bool cpu, ouro_pause_stats *out, uint64_t *hist)
{
    static struct pause_query q;   /* large: not on the stack */
    static pthread_mutex_t q_lock = PTHREAD_MUTEX_INITIALIZER;
    pthread_mutex_lock(&q_lock);
    q.cpu = cpu;
    pthread_mutex_lock(&ouro__registry_lock);
    q.sum = cpu ? ouro__dead_totals.pause_cpu : ouro__dead_totals.pause;
    pthread_mutex_unlock(&ouro__registry_lock);
    ouro__registry_each(add_live, &q);
    const struct ouro__pause_sum *s = &q.sum;
    out->count = s->count;
    out->total_ns = s->total_ns;
    out->max_ns = s->max_ns;
    out->p50_ns = quantile(s->hist, s->count, s->max_ns, 0.50);
    out->p90_ns = quantile(s->hist, s->count, s->max_ns, 0.90);
    out->p99_ns = quantile(s->hist, s->count, s->max_ns, 0.99);
    out->p999_ns = quantile(s->hist, s->count, s->max_ns, 0.999);
    if (hist)
        memcpy(hist, s->hist, sizeof s->hist);
    pthread_mutex_unlock(&q_lock);
}

void ouro_gc_pauses(ouro_pause_stats *out, uint64_t *hist)
{
    pauses(false, out, hist);
}

void ouro_gc_pauses_cpu(ouro_pause_stats *out, uint64_t *hist)
{
    pauses(true, out, hist);
}

void ouro_gc_pauses_reset(void)
{
    pthread_mutex_lock(&ouro__registry_lock);
    memset(&ouro__dead_totals.pause, 0, sizeof ouro__dead_totals.pause);
    memset(&ouro__dead_totals.pause_cpu, 0, sizeof ouro__dead_totals.pause_cpu);
    /* Under the registry lock, like a detaching thread's accumulation:
     * its counts land in the totals just zeroed only if it has had a
     * pause since (hist_add). */
    atomic_fetch_add_explicit(&ouro__pause_epoch, 1, memory_order_relaxed);
    pthread_mutex_unlock(&ouro__registry_lock);
}
