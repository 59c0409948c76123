/*
 * runtime.c - starting and stopping the runtime, the allocator hook, the
 * clock and the statistics snapshot.
 */
#include "builtin.h"
#include "gc.h"
#include "heap.h"
#include "weakref.h"
#include "orphan.h"
#include "pool.h"
#include "thread.h"

#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define DEFAULT_BATCH 2048
#define DEFAULT_FREE_SLICE 1024
#define MIN_BATCH 16

struct ouro_runtime ouro__rt;

void *ouro__mem_alloc(size_t size)
{
    if (ouro__rt.config.malloc_fn)
        return ouro__rt.config.malloc_fn(size, ouro__rt.config.alloc_ctx);
    return malloc(size);
}

void *ouro__mem_calloc(size_t size)
{
    void *p = ouro__mem_alloc(size);
    if (p)
        memset(p, 0, size);
    return p;
}

void ouro__mem_free(void *ptr)
{
    if (!ptr)
        return;
    if (ouro__rt.config.free_fn)
        ouro__rt.config.free_fn(ptr, ouro__rt.config.alloc_ctx);
    else
        free(ptr);
}

uint64_t ouro__now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t random_seed(void)
{
    uint64_t seed;
    if (getrandom(&seed, sizeof seed, GRND_NONBLOCK) != (ssize_t)sizeof seed)
        seed = ouro__now_ns() ^ (uintptr_t)&seed;
    return seed;
}

int ouro_init(const ouro_config *config)
{
    if (atomic_load_explicit(&ouro__rt.running, memory_order_acquire))
        return OURO_ESTATE;
    ouro_config cfg = config ? *config : (ouro_config){0};
    if (!cfg.malloc_fn != !cfg.free_fn)
        return OURO_EINVAL;
    if (cfg.decref_batch == 0)
        cfg.decref_batch = DEFAULT_BATCH;
    if (cfg.decref_batch < MIN_BATCH)
        return OURO_EINVAL;
    if (cfg.free_slice == 0)
        cfg.free_slice = DEFAULT_FREE_SLICE;
    ouro__rt.config = cfg;
    ouro__rt.batch_cap = cfg.decref_batch;
    ouro__rt.free_slice = cfg.free_slice;
    ouro__rt.pause_cpu_clock = cfg.pause_cpu_clock != 0;
    ouro__rt.hash_seed = random_seed();
    ouro__reset_registry();
    ouro__pool_init(&cfg);
    ouro__heap_init();
    ouro__weak_init();
    int err = ouro__gp_init();
    if (err == OURO_OK)
        err = ouro__builtin_init();
    if (err != OURO_OK) {
        ouro__weak_fini();
        ouro__gp_fini();
        ouro__pool_fini();
        return err;
    }
    /* release: pairs with the acquire in ouro_thread_attach. */
    atomic_store_explicit(&ouro__rt.running, 1, memory_order_release);
    err = ouro__gc_start(&cfg);
    if (err != OURO_OK) {
        atomic_store_explicit(&ouro__rt.running, 0, memory_order_release);
        ouro__builtin_fini();
        ouro__weak_fini();
        ouro__gp_fini();
        ouro__pool_fini();
    }
    return err;
}

void ouro_shutdown(void)
{
    if (!atomic_load_explicit(&ouro__rt.running, memory_order_acquire))
        return;
    /* Drain what detached threads left behind, as an attached thread. */
    if (!ouro__self && ouro_thread_attach() != OURO_OK)
        ouro__fatal("ouro_shutdown could not attach to free what remains");
    ouro__gc_stop();
    /* A thread that has left the registry may still be detaching (one that
     * exited without being joined): its last frees and hand-overs must
     * land before the pools and the grace periods go. */
    ouro__registry_wait_detaches();
    uint32_t n = ouro__registry_count();
    if (n > 1)
        ouro__fatal("ouro_shutdown while %u other thread(s) are still "
                    "attached", n - 1);
    ouro_flush();
    ouro_thread_detach();
    ouro__gc_fini();   /* the flush and the detach may still buffer */
    OURO_ASSERT(!atomic_load_explicit(&ouro__orphans_present,
                                      memory_order_relaxed));
    atomic_store_explicit(&ouro__rt.running, 0, memory_order_release);
    ouro__builtin_fini();
    ouro__weak_fini();
    ouro__gp_fini();
    ouro__pool_fini();   /* last: the frees above give blocks back */
}

void ouro_get_stats(ouro_stats *out)
{
    struct ouro_thread_totals c;
    uint32_t threads;
    ouro__collect_counters(&c, &threads);
    memset(out, 0, sizeof *out);
    out->allocated = c.allocated;
    out->freed = c.freed;
    out->immortal_objects = c.immortalized;
    out->live_objects = c.allocated - c.freed - c.immortalized;
    out->finalized = c.finalized;
    out->resurrected = c.resurrected;
    out->merges = c.merges;
    out->queued_merges = c.queued_merges;
    out->pool_bytes = ouro__pool_bytes();
    out->batches_applied = c.batches_applied;
    out->grace_periods = ouro__gp_count();
    out->max_free_slice_ns = c.max_slice_ns;
    out->max_free_slice_objects = c.max_slice_objects;
    out->attached_threads = threads;
}
