/*
 * thread.h - per-thread runtime state and the thread registry.
 *
 * Each attached thread owns one struct ouro_thread.  Fields say who may
 * touch them: "owner" = only the thread itself; "registry" = under
 * ouro__registry_lock; "counter" = written by the owner with relaxed
 * stores, read by anyone with relaxed loads (statistics only).
 */
#ifndef OURO_THREAD_H
#define OURO_THREAD_H

#include "gp.h"
#include "pool.h"

#include <pthread.h>

/* A batch of deferred decrements (decref_buffer.c).  An entry with its low
 * bit set is a raw memory block to free after the grace period. */
typedef struct ouro_batch {
    struct ouro_batch *next;   /* owner: FIFO of sealed batches */
    uint64_t goal;             /* owner: grace period to wait for */
    uint32_t len;              /* owner: entries in use once sealed */
    uint32_t pos;              /* owner: entries applied so far */
    ouro_object *entries[];    /* ouro__rt.batch_cap of them */
} ouro_batch;

#define OURO__PAUSE_BUCKETS 608   /* = OURO_PAUSE_BUCKETS */

/* One thread's pause histogram (collector/pause.c): the owner writes it
 * with relaxed load+store, readers sum racy snapshots.  Only the owner
 * ever zeroes it: when it finds that ouro_gc_pauses_reset moved the epoch
 * on since its last pause; until then readers take it as empty. */
struct ouro__pause_hist {
    _Atomic uint64_t hist[OURO__PAUSE_BUCKETS];
    _Atomic uint64_t count, total_ns, max_ns;
    _Atomic uint64_t epoch;   /* ouro__pause_epoch it counts from */
};

/* A sum of histograms (registry lock or a private copy). */
struct ouro__pause_sum {
    uint64_t hist[OURO__PAUSE_BUCKETS];
    uint64_t count, total_ns, max_ns;
};

struct ouro_thread_counters {
    _Atomic uint64_t allocated, freed, finalized, resurrected, immortalized;
    _Atomic uint64_t merges, queued_merges, batches_applied;
    _Atomic uint64_t max_slice_ns, max_slice_objects;
    /* Pauses by the monotonic clock, and by the thread's CPU clock when
     * ouro_config.pause_cpu_clock is set (collector/pause.c). */
    struct ouro__pause_hist pause, pause_cpu;
};

typedef struct ouro_thread {
    uint32_t tid;                      /* owner; never reused */
    ouro_gp_slot *gp;                  /* owner */
    unsigned blocking_depth;           /* owner: nesting of blocking regions */
    bool in_free_work;                 /* owner: guards re-entrant freeing */
    bool internal;                     /* registry: the runtime's own thread */

    /* Deferred decrements (owner).  `cur` backs ouro__tls.dec_pos/dec_end. */
    ouro_batch *cur;
    ouro_batch *pending_head, *pending_tail;
    uint32_t npending;
    ouro_batch *spare;                 /* recycled batches */

    /* Objects whose count reached zero, linked through _ob_free_next. */
    ouro_object *dead_top;             /* owner */
    uint64_t ndead;                    /* owner */

    /* Merge requests from other threads (registry).  The owner's merge
     * pass swaps mq_spare in for the array it takes, so a request never
     * finds the queue without an array and never needs memory for a first
     * one; the emptied array is the next pass's spare, or the queue's if
     * it is the larger.  Outside a pass both exist, each with room for 16
     * or more. */
    ouro_object **mq;
    size_t mq_len, mq_cap;
    ouro_object **mq_spare;            /* owner */
    size_t mq_spare_cap;               /* owner */
    _Atomic bool mq_nonempty;          /* set under registry, read lock-free */

    ouro__pool_caches pool;            /* owner: object memory (pool.h) */

    struct ouro_thread *next, *prev;   /* registry */
    struct ouro_thread_counters c;     /* counter */
} ouro_thread;

/* The calling thread's state, NULL when unattached. */
extern __thread ouro_thread *ouro__self
    __attribute__((tls_model("initial-exec")));

OURO_COLD __attribute__((noreturn)) void ouro__die_unattached(const char *api);

/* The calling thread's state; aborts naming `api` if it is not attached. */
static inline ouro_thread *ouro__self_or_die(const char *api)
{
    ouro_thread *t = ouro__self;
    if (OURO_UNLIKELY(!t)) {
        ouro__die_unattached(api);
    }
    return t;
}

/* A quiescent point of thread t, which must be online: announce it, then
 * divert t's inline increments while a collection runs (the order matters:
 * the acquire in ouro__gp_quiescent makes the collector's flag visible). */
static inline void ouro__quiescent(ouro_thread *t)
{
    ouro__gp_quiescent(t->gp);
    uint32_t bit = atomic_load_explicit(&ouro__gc_active, memory_order_relaxed)
                       ? OURO__TID_GC_BIT : 0;
    ouro__tls.tid = t->tid | bit;
}

/* Decrements are applied only while the thread is online, so that a
 * collector's handshake waits for one in flight (docs/collector.md,
 * completeness step 2).  A thread inside a blocking region comes online
 * around such work: _begin returns whether it did, _end takes that. */
static inline bool ouro__apply_online_begin(ouro_thread *t)
{
    if (OURO_LIKELY(t->blocking_depth == 0))
        return false;
    ouro__gp_online(t->gp);
    return true;
}

static inline void ouro__apply_online_end(ouro_thread *t, bool went_online)
{
    if (went_online)
        ouro__gp_offline(t->gp);
}

/* Add to one of the calling thread's counters. */
#define OURO__COUNT(t, field, n)                                              \
    atomic_store_explicit(&(t)->c.field,                                      \
        atomic_load_explicit(&(t)->c.field, memory_order_relaxed) + (n),      \
        memory_order_relaxed)

/* Attach the calling thread; `internal` marks the runtime's own threads
 * (not counted in ouro_stats.attached_threads). */
int ouro__thread_attach(bool internal);

/* Registry of attached threads, for merge hand-over and statistics. */
extern pthread_mutex_t ouro__registry_lock;

/* Push `o` onto the merge queue of thread `tid` (caller holds the queued
 * reference).  Returns false when that thread has detached. */
bool ouro__registry_queue_merge(uint32_t tid, ouro_object *o);

/* Totals of detached threads' counters (registry). */
extern struct ouro_thread_totals {
    uint64_t allocated, freed, finalized, resurrected, immortalized;
    uint64_t merges, queued_merges, batches_applied;
    uint64_t max_slice_ns, max_slice_objects;
    struct ouro__pause_sum pause, pause_cpu;
} ouro__dead_totals;

/* Sum of every thread's counters, live and detached, and the number of
 * attached threads. */
void ouro__collect_counters(struct ouro_thread_totals *out, uint32_t *threads);
uint32_t ouro__registry_count(void);
/* Until no thread is between leaving the registry and the end of its
 * detach (ouro_shutdown: such a thread still frees into the pools, hands
 * work to the orphan pool and releases its grace-period slot).  A detach
 * never waits, so this ends. */
void ouro__registry_wait_detaches(void);
/* Threads waiting in ouro__registry_wait_detaches (white-box tests). */
uint32_t ouro__registry_detach_waiters(void);
/* White-box tests only: called by a detaching thread right after it left
 * the registry, before the rest of its detach. */
extern void (*_Atomic ouro__detach_test_hook)(void);
/* Call fn on every attached thread, under the registry lock. */
void ouro__registry_each(void (*fn)(ouro_thread *t, void *arg), void *arg);
void ouro__reset_registry(void);

#endif /* OURO_THREAD_H */
