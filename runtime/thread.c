/*
 * thread.c - attaching and detaching threads, safepoints, blocking regions,
 * and the registry that lets a thread hand a merge request to an object's
 * owner.
 *
 * Detaching (docs/counting.md, "Owner exit") never waits for other threads:
 *   1. as the owner: merge queued requests, seal the current batch, apply
 *      the batches whose grace period is over;
 *   2. under the registry lock: leave the registry, take the last merge
 *      requests, and stop being an owner (its id is never reused), so from
 *      the unlock on, any thread may merge the objects biased to it;
 *   3. merge those last requests as an orphaning owner, then hand the
 *      batches still waiting for a grace period and the dead objects to the
 *      orphan pool (orphan.c), which attached threads drain at safepoints.
 * From step 2 to the end of step 3 the thread counts as detaching, and
 * ouro_shutdown waits for it.  A thread that exits without detaching is
 * detached by a thread-specific data destructor.
 */
#include "thread.h"

#include "dealloc.h"
#include "decref_buffer.h"
#include "orphan.h"
#include "pause.h"
#include "refcount.h"

#include <stdlib.h>
#include <string.h>

_Thread_local struct ouro__tls ouro__tls = {.tid = OURO__TID_NONE};
_Atomic int ouro__gc_active;
_Atomic bool ouro__gc_pacing;
__thread ouro_thread *ouro__self;

pthread_mutex_t ouro__registry_lock = PTHREAD_MUTEX_INITIALIZER;
struct ouro_thread_totals ouro__dead_totals;      /* registry */
static ouro_thread *registry_head;                /* registry */
static uint32_t registry_count;                   /* registry */
/* Threads out of the registry whose detach has not finished; the last one
 * to finish broadcasts detaches_done. */
static uint32_t detaching;                        /* registry */
static uint32_t detach_waiters;                   /* registry */
static pthread_cond_t detaches_done = PTHREAD_COND_INITIALIZER;
static uint32_t next_tid = 1;                     /* registry */

static pthread_key_t exit_key;
static pthread_once_t exit_key_once = PTHREAD_ONCE_INIT;

static void detach_thread(ouro_thread *t);

static void on_thread_exit(void *arg)
{
    ouro_thread *t = arg;
    if (t && ouro__self == t)
        detach_thread(t);
}

static void make_exit_key(void)
{
    if (pthread_key_create(&exit_key, on_thread_exit) != 0)
        ouro__fatal("pthread_key_create failed");
}

void ouro__die_unattached(const char *api)
{
    ouro__fatal("%s called from a thread that is not attached (call "
                "ouro_thread_attach first)", api);
}

void ouro__debug_check_object(const ouro_object *o, const char *op)
{
    if (!o)
        ouro__fatal("%s(NULL): use the ouro_x* variant for maybe-NULL "
                    "pointers", op);
    if (!ouro__self)
        ouro__die_unattached(op);
    ouro__check_not_freed(o, op);
}

void ouro__reset_registry(void)
{
    pthread_mutex_lock(&ouro__registry_lock);
    memset(&ouro__dead_totals, 0, sizeof ouro__dead_totals);
    pthread_mutex_unlock(&ouro__registry_lock);
}

void ouro__registry_each(void (*fn)(ouro_thread *t, void *arg), void *arg)
{
    pthread_mutex_lock(&ouro__registry_lock);
    for (ouro_thread *t = registry_head; t; t = t->next)
        fn(t, arg);
    pthread_mutex_unlock(&ouro__registry_lock);
}

void (*_Atomic ouro__detach_test_hook)(void);

void ouro__registry_wait_detaches(void)
{
    pthread_mutex_lock(&ouro__registry_lock);
    while (detaching) {
        detach_waiters++;
        pthread_cond_wait(&detaches_done, &ouro__registry_lock);
        detach_waiters--;
    }
    pthread_mutex_unlock(&ouro__registry_lock);
}

uint32_t ouro__registry_detach_waiters(void)
{
    pthread_mutex_lock(&ouro__registry_lock);
    uint32_t n = detach_waiters;
    pthread_mutex_unlock(&ouro__registry_lock);
    return n;
}

uint32_t ouro__registry_count(void)
{
    pthread_mutex_lock(&ouro__registry_lock);
    uint32_t n = registry_count;
    pthread_mutex_unlock(&ouro__registry_lock);
    return n;
}

static void registry_add_locked(ouro_thread *t)
{
    t->next = registry_head;
    t->prev = NULL;
    if (registry_head)
        registry_head->prev = t;
    registry_head = t;
    registry_count++;
}

static void registry_remove_locked(ouro_thread *t)
{
    if (t->prev)
        t->prev->next = t->next;
    else
        registry_head = t->next;
    if (t->next)
        t->next->prev = t->prev;
    registry_count--;
}

bool ouro__registry_queue_merge(uint32_t tid, ouro_object *o)
{
    pthread_mutex_lock(&ouro__registry_lock);
    ouro_thread *t = registry_head;
    while (t && t->tid != tid)
        t = t->next;
    if (!t) {
        pthread_mutex_unlock(&ouro__registry_lock);
        return false;
    }
    /* Grown at half full: a growth that finds no memory leaves room, and
     * the next request tries again.  A decrement cannot report an error, so
     * a queue that filled while every growth failed is fatal.  The queue
     * always has an array, even while the owner's merge pass works through
     * the previous one (its spare, thread.h), so requests seldom allocate
     * at all. */
    OURO_ASSERT(t->mq && t->mq_cap >= 16);
    if (t->mq_len * 2 >= t->mq_cap) {
        size_t cap = t->mq_cap * 2;
        ouro_object **q = ouro__mem_alloc(cap * sizeof *q);
        if (q) {
            if (t->mq_len)
                memcpy(q, t->mq, t->mq_len * sizeof *q);
            ouro__mem_free(t->mq);
            t->mq = q;
            t->mq_cap = cap;
        } else if (t->mq_len == t->mq_cap) {
            ouro__fatal("out of memory while queueing a reference-count "
                        "merge");
        }
    }
    t->mq[t->mq_len++] = o;
    atomic_store_explicit(&t->mq_nonempty, true, memory_order_relaxed);
    pthread_mutex_unlock(&ouro__registry_lock);
    return true;
}

int ouro_thread_attach(void)
{
    return ouro__thread_attach(false);
}

int ouro__thread_attach(bool internal)
{
    if (!atomic_load_explicit(&ouro__rt.running, memory_order_acquire) ||
        ouro__self)
        return OURO_ESTATE;
    pthread_once(&exit_key_once, make_exit_key);
    ouro_thread *t = ouro__mem_calloc(sizeof *t);
    if (!t)
        return OURO_ENOMEM;
    t->gp = ouro__gp_slot_acquire();
    /* The merge queue and its spare exist from the start: a request (a
     * decrement on another thread) cannot report running out of memory. */
    t->mq_cap = t->mq_spare_cap = 16;
    t->mq = ouro__mem_alloc(t->mq_cap * sizeof *t->mq);
    t->mq_spare = ouro__mem_alloc(t->mq_spare_cap * sizeof *t->mq_spare);
    if (!t->gp || !t->mq || !t->mq_spare || ouro__decbuf_init(t) != OURO_OK) {
        if (t->gp)
            ouro__gp_slot_release(t->gp);
        ouro__mem_free(t->mq);
        ouro__mem_free(t->mq_spare);
        ouro__mem_free(t);
        ouro__tls.dec_pos = ouro__tls.dec_end = NULL;
        return OURO_ENOMEM;
    }
    pthread_mutex_lock(&ouro__registry_lock);
    if (next_tid >= OURO__TID_GC_BIT) {
        pthread_mutex_unlock(&ouro__registry_lock);
        ouro__decbuf_fini(t);
        ouro__gp_slot_release(t->gp);
        ouro__mem_free(t->mq);
        ouro__mem_free(t->mq_spare);
        ouro__mem_free(t);
        return OURO_ESTATE;   /* 2^31 - 1 attaches: ids exhausted */
    }
    t->tid = next_tid++;
    t->internal = internal;
    registry_add_locked(t);
    pthread_mutex_unlock(&ouro__registry_lock);

    ouro__self = t;
    ouro__tls.tid = t->tid;
    pthread_setspecific(exit_key, t);
    ouro__gp_online(t->gp);
    ouro__quiescent(t);
    return OURO_OK;
}

/* Add t's counters into d (maxima for the slice figures). */
static void accumulate(struct ouro_thread_totals *d, const ouro_thread *t)
{
#define ADD(f) d->f += atomic_load_explicit(&t->c.f, memory_order_relaxed)
    ADD(allocated); ADD(freed); ADD(finalized); ADD(resurrected);
    ADD(immortalized); ADD(merges); ADD(queued_merges); ADD(batches_applied);
#undef ADD
    uint64_t ns = atomic_load_explicit(&t->c.max_slice_ns, memory_order_relaxed);
    uint64_t n = atomic_load_explicit(&t->c.max_slice_objects,
                                      memory_order_relaxed);
    if (ns > d->max_slice_ns)
        d->max_slice_ns = ns;
    if (n > d->max_slice_objects)
        d->max_slice_objects = n;
    ouro__pause_accumulate(d, t);
}

static void detach_thread(ouro_thread *t)
{
    if (atomic_load_explicit(&t->mq_nonempty, memory_order_relaxed))
        ouro__process_merge_queue(t);                     /* step 1 */
    bool went_online = ouro__apply_online_begin(t);
    ouro__decbuf_seal(t);
    ouro__decbuf_apply_ready(t);
    ouro__apply_online_end(t, went_online);

    pthread_mutex_lock(&ouro__registry_lock);             /* step 2 */
    registry_remove_locked(t);
    detaching++;   /* ouro_shutdown waits for the rest of this detach */
    t->tid = OURO__TID_NONE;
    ouro__tls.tid = OURO__TID_NONE;
    pthread_mutex_unlock(&ouro__registry_lock);
    void (*hook)(void) = atomic_load_explicit(&ouro__detach_test_hook,
                                              memory_order_relaxed);
    if (OURO_UNLIKELY(hook != NULL))
        hook();

    ouro__process_merge_queue(t);                         /* step 3 */
    ouro__mem_free(t->mq);   /* nobody queues now */
    ouro__mem_free(t->mq_spare);
    t->mq = t->mq_spare = NULL;
    ouro__orphan_hand_over(t);

    ouro__quarantine_flush(t);
    ouro__pool_flush(&t->pool);   /* after the last free */
    ouro__decbuf_fini(t);
    ouro__gp_slot_release(t->gp);
    pthread_mutex_lock(&ouro__registry_lock);
    accumulate(&ouro__dead_totals, t);
    pthread_mutex_unlock(&ouro__registry_lock);
    ouro__self = NULL;
    pthread_setspecific(exit_key, NULL);
    ouro__mem_free(t);
    /* Last: ouro_shutdown may go on from here, and the allocator t came
     * from (a configured one) may go with it.  The registry lock is
     * static, so it outlives the runtime. */
    pthread_mutex_lock(&ouro__registry_lock);
    if (--detaching == 0)
        pthread_cond_broadcast(&detaches_done);
    pthread_mutex_unlock(&ouro__registry_lock);
}

void ouro_thread_detach(void)
{
    detach_thread(ouro__self_or_die("ouro_thread_detach"));
}

int ouro_thread_is_attached(void)
{
    return ouro__self != NULL;
}

uint32_t ouro_thread_id(void)
{
    ouro_thread *t = ouro__self;
    return t ? t->tid : 0;
}

/* Work a safepoint may have to do, besides announcing a quiescent state. */
static bool safepoint_has_work(ouro_thread *t, bool online)
{
    return ouro__decbuf_should_seal(t) || t->pending_head ||
           (atomic_load_explicit(&ouro__gc_pacing, memory_order_relaxed) &&
            online && !t->internal) ||
           atomic_load_explicit(&t->mq_nonempty, memory_order_relaxed) ||
           atomic_load_explicit(&ouro__orphans_present, memory_order_relaxed) ||
           (t->dead_top && online);
}

void ouro_safepoint(void)
{
    ouro_thread *t = ouro__self_or_die("ouro_safepoint");
    bool online = t->blocking_depth == 0;
    if (OURO_LIKELY(online))
        ouro__quiescent(t);
    if (!safepoint_has_work(t, online))
        return;
    /* The slow part is a mutator pause: time it (collector/pause.h). */
    ouro__pause_clock pc = ouro__pause_begin();
    bool went_online = ouro__apply_online_begin(t);
    if (atomic_load_explicit(&t->mq_nonempty, memory_order_relaxed))
        ouro__process_merge_queue(t);
    if (t->pending_head) {
        /* At least what this thread recorded since its last safepoint, or
         * its backlog would grow by the difference every time. */
        uint32_t made = ouro__decbuf_len(t);
        ouro__decbuf_apply_some(t, made > OURO__APPLY_PER_PAUSE
                                       ? made : OURO__APPLY_PER_PAUSE);
    }
    if (ouro__decbuf_should_seal(t))   /* after: it may have emptied the FIFO */
        ouro__decbuf_seal(t);
    if (atomic_load_explicit(&ouro__orphans_present, memory_order_relaxed))
        ouro__orphan_adopt(t);
    ouro__apply_online_end(t, went_online);
    /* Finalizers may read containers: never while offline. */
    if (t->dead_top && OURO_LIKELY(online))
        ouro__free_slice(t, ouro__rt.free_slice);
    if (OURO_UNLIKELY(atomic_load_explicit(&ouro__gc_pacing,
                                           memory_order_relaxed)) &&
        online && !t->internal)
        ouro__gc_pace_wait();
    ouro__pause_end(t, pc);
}

void ouro_blocking_begin(void)
{
    ouro_thread *t = ouro__self_or_die("ouro_blocking_begin");
    if (t->blocking_depth++ == 0) {
        ouro__decbuf_seal(t);
        ouro__decbuf_apply_ready(t);
        ouro__gp_offline(t->gp);
    }
}

void ouro_blocking_end(void)
{
    ouro_thread *t = ouro__self_or_die("ouro_blocking_end");
    if (t->blocking_depth == 0)
        ouro__fatal("ouro_blocking_end without a matching ouro_blocking_begin");
    if (--t->blocking_depth == 0) {
        ouro__gp_online(t->gp);
        ouro__quiescent(t);
    }
}

void ouro_flush(void)
{
    ouro__flush_all(ouro__self_or_die("ouro_flush"));
}

void ouro__collect_counters(struct ouro_thread_totals *out, uint32_t *threads)
{
    pthread_mutex_lock(&ouro__registry_lock);
    *out = ouro__dead_totals;
    *threads = 0;
    for (ouro_thread *t = registry_head; t; t = t->next) {
        accumulate(out, t);
        *threads += !t->internal;
    }
    pthread_mutex_unlock(&ouro__registry_lock);
}
