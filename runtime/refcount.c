/*
 * refcount.c - biased reference counting: the slow paths.
 *
 * The owner thread changes ob_ref_local with plain loads and stores (see
 * ouro_inline.h); every other thread works on ob_ref_shared with atomic
 * read-modify-writes.  The two halves are merged into ob_ref_shared, and
 * ownership given up, when
 *   - the owner's own count reaches zero (merge_zero_local), or
 *   - another thread's decrement would take the shared half below zero: it
 *     marks the object QUEUED, hands its reference to the owner's merge
 *     queue, and the owner merges at its next safepoint (merge_queued), or
 *   - the owner has detached: the requesting thread merges itself, since a
 *     detached owner's local count can no longer change (merge_orphan).
 * Only a MERGED object is ever freed, and only when ob_ref_shared's count
 * reaches zero.  Every decrement reaching this file has already waited out a
 * grace period (or releases a reference held by a dead object), so a count
 * of zero means no thread can still reach the object.  docs/counting.md
 * states the invariants and argues them.
 */
#include "refcount.h"

#include "candidates.h"
#include "gc.h"
#include "dealloc.h"

#include <inttypes.h>
#include <string.h>

/* Largest count the shared half can hold. */
#define SHARED_MAX ((int64_t)(INT32_MAX / OURO__SHARED_ONE) - 1)

static OURO_COLD __attribute__((noreturn)) void
die_underflow(const ouro_object *o, int64_t count)
{
    ouro__fatal("reference count underflow on a '%s' object at %p (count "
                "would be %" PRId64 "): more decrements than references",
                o->ob_type ? o->ob_type->name : "?", (const void *)o, count);
}

void ouro__incref_shared(ouro_object *o)
{
    if (ouro__is_immortal(o))
        return;
    uint32_t tid = atomic_load_explicit(&o->ob_tid, memory_order_relaxed);
    if (tid == (ouro__tls.tid & ~OURO__TID_GC_BIT)) {
        /* The owner, diverted from the inline path during a collection. */
        uint32_t local = atomic_load_explicit(&o->ob_ref_local,
                                              memory_order_relaxed);
        atomic_store_explicit(&o->ob_ref_local, local + 1,
                              memory_order_relaxed);
        ouro__note_touch(o);
        return;
    }
    /* relaxed: an increment needs no ordering; the caller already holds a
     * reference, or a pointer protected by the grace period. */
    int32_t old = atomic_fetch_add_explicit(&o->ob_ref_shared,
                                            OURO__SHARED_ONE,
                                            memory_order_relaxed);
    if (OURO_UNLIKELY(ouro__shared_count(old) >= SHARED_MAX))
        ouro__fatal("shared reference count overflow on a '%s' object at %p",
                    o->ob_type->name, (void *)o);
    ouro__note_touch(o);
}

bool ouro__try_incref_shared(ouro_object *o)
{
    /* acquire (load and failed CAS): when we find the death decided, the
     * object becomes ours to free, so the dying thread's writes to it (its
     * merge's last stores) must happen before ours; pairs with the acq_rel
     * CAS that took the count to zero.  Caught by TSan in
     * collector_concurrency_test. */
    int32_t old = atomic_load_explicit(&o->ob_ref_shared, memory_order_acquire);
    do {
        if ((old & OURO__SHARED_STATE_MASK) == OURO__SHARED_MERGED &&
            ouro__shared_count(old) == 0)
            return false;   /* its death was decided */
        /* acquire on success too (C11 forbids a failure order stronger
         * than success's); the CAS excludes the deciding decrement. */
    } while (!atomic_compare_exchange_weak_explicit(
        &o->ob_ref_shared, &old, old + OURO__SHARED_ONE, memory_order_acquire,
        memory_order_acquire));
    return true;
}

/* The count of `o` reached zero on this thread.  If `o` is a cycle
 * candidate, whoever takes it out of the candidate set owns its death: this
 * thread if it removes it, otherwise the collector, which took it and will
 * find its count zero (a zombie; docs/collector.md). */
static void object_died(ouro_thread *t, ouro_object *o)
{
    uint32_t gc = atomic_load_explicit(&o->ob_gc, memory_order_relaxed);
    if (OURO_UNLIKELY(gc & OURO__GC_BUFFERED)) {
        /* Taken by the collector, which will also find the death: one of
         * the two frees it (ouro__zombie_claim). */
        if (!ouro__cand_remove(o)) {
            ouro__zombie_claim(t, o);
            return;
        }
        atomic_fetch_and_explicit(&o->ob_gc, ~(uint32_t)OURO__GC_BUFFERED,
                                  memory_order_relaxed);
    }
    ouro__push_dead(t, o);
}

static void decref_shared(ouro_thread *t, ouro_object *o);

/* Fold `local` into the shared count and give up ownership.  The caller
 * holds one reference that is part of the count being merged (the queued
 * reference, or, for merge_zero_local, an extra one added here); it is
 * released only after ob_ref_local and ob_tid are written, so no other
 * thread can free `o` while this thread still writes to it (the race was
 * caught by concurrency_test under TSan). */
static void merge_into_shared(ouro_thread *t, ouro_object *o, int64_t local)
{
    int32_t old = atomic_load_explicit(&o->ob_ref_shared, memory_order_relaxed);
    int64_t total;
    do {
        total = local + ouro__shared_count(old);
        if (OURO_UNLIKELY(total > SHARED_MAX))
            ouro__fatal("reference count of a '%s' object too large to merge",
                        o->ob_type->name);
        /* acq_rel: release publishes the owner's plain writes to whoever
         * frees the object later; acquire pairs with their releases. */
    } while (!atomic_compare_exchange_weak_explicit(
        &o->ob_ref_shared, &old, ouro__shared_make(total, OURO__SHARED_MERGED),
        memory_order_acq_rel, memory_order_relaxed));
    /* release: a reader of the count (ouro__raw_refcnt, acquire) that sees
     * local 0 also sees the MERGED total, never neither half. */
    atomic_store_explicit(&o->ob_ref_local, 0, memory_order_release);
    /* release: pairs with the acquire load in queue_merge; a thread that
     * reads ob_tid == 0 also sees the MERGED state. */
    atomic_store_explicit(&o->ob_tid, 0, memory_order_release);
    OURO__COUNT(t, merges, 1);
    decref_shared(t, o);   /* the caller's reference; may free `o` */
}

/* The owner's local count just reached zero: merge, holding one extra
 * reference for the duration. */
static void merge_zero_local(ouro_thread *t, ouro_object *o)
{
    merge_into_shared(t, o, 1);
}

static void queue_merge(ouro_thread *t, ouro_object *o);

/* n decrements of an object this thread does not own (or a merged one),
 * in one atomic step.  Decrements that will probably leave the count
 * positive first make the object a cycle candidate: this thread still
 * holds the references it is releasing, so the object cannot die under
 * the buffering. */
static void decref_shared_n(ouro_thread *t, ouro_object *o, uint32_t n,
                            bool buffer);

static void decref_shared(ouro_thread *t, ouro_object *o)
{
    decref_shared_n(t, o, 1, true);
}

void (*_Atomic ouro__decref_test_hook)(ouro_object *o);
void (*_Atomic ouro__death_test_hook)(ouro_object *o);
void (*_Atomic ouro__merge_pass_test_hook)(void);

static void decref_shared_n(ouro_thread *t, ouro_object *o, uint32_t n,
                            bool buffer)
{
    int32_t old = atomic_load_explicit(&o->ob_ref_shared, memory_order_relaxed);
    if (buffer && (int64_t)ouro__shared_count(old) +
                          atomic_load_explicit(&o->ob_ref_local,
                                               memory_order_relaxed) > n)
        ouro__maybe_buffer(o);
    void (*hook)(ouro_object *) = atomic_load_explicit(&ouro__decref_test_hook,
                                                       memory_order_relaxed);
    if (OURO_UNLIKELY(hook != NULL))
        hook(o);   /* between the buffering and the count change */
    int32_t new;
    bool dead, queue;
    for (;;) {
        int state = old & OURO__SHARED_STATE_MASK;
        int32_t count = ouro__shared_count(old);
        dead = queue = false;
        if (state == OURO__SHARED_MERGED) {
            if (OURO_UNLIKELY(count < (int64_t)n))
                die_underflow(o, (int64_t)count - n);
            new = ouro__shared_make((int64_t)count - n, OURO__SHARED_MERGED);
            dead = count == (int64_t)n;
        } else if (state == OURO__SHARED_UNQUEUED && count < (int64_t)n) {
            /* Going negative.  As n single steps: `count` of them reach
             * zero, the next keeps the count and gives its reference to
             * the owner's merge queue, and the rest go below zero. */
            new = ouro__shared_make((int64_t)count - n + 1,
                                    OURO__SHARED_QUEUED);
            queue = true;
        } else {
            new = ouro__shared_make((int64_t)count - n, state);
        }
        /* acq_rel: release so the thread that frees sees our writes to the
         * object; acquire so that, if we free it, we see theirs. */
        if (atomic_compare_exchange_weak_explicit(&o->ob_ref_shared, &old, new,
                                                  memory_order_acq_rel,
                                                  memory_order_relaxed))
            break;
    }
    if (dead) {
        void (*died)(ouro_object *) = atomic_load_explicit(
            &ouro__death_test_hook, memory_order_relaxed);
        if (OURO_UNLIKELY(died != NULL))
            died(o);   /* death decided, weak references not yet cleared */
        object_died(t, o);
    } else if (queue) {
        queue_merge(t, o);
    }
}

/* Merge an object whose owner has detached.  The caller holds the QUEUED
 * reference (it set QUEUED, or took it out of a dead thread's queue), so no
 * other thread merges `o` concurrently.  The registry lock, taken while
 * finding the owner gone, orders the owner's last plain writes of
 * ob_ref_local before our read. */
static void merge_orphan(ouro_thread *t, ouro_object *o)
{
    int32_t old = atomic_load_explicit(&o->ob_ref_shared, memory_order_relaxed);
    if ((old & OURO__SHARED_STATE_MASK) == OURO__SHARED_MERGED) {
        /* The owner merged before it left: release the queued reference. */
        decref_shared(t, o);
        return;
    }
    merge_into_shared(t, o, atomic_load_explicit(&o->ob_ref_local,
                                                 memory_order_relaxed));
}

static void queue_merge(ouro_thread *t, ouro_object *o)
{
    /* acquire: pairs with the release store of ob_tid in merge_into_shared;
     * 0 means the state is MERGED. */
    uint32_t owner = atomic_load_explicit(&o->ob_tid, memory_order_acquire);
    OURO__COUNT(t, queued_merges, 1);
    if (owner == 0) {
        decref_shared(t, o);
        return;
    }
    if (!ouro__registry_queue_merge(owner, o))
        merge_orphan(t, o);
}

/* The misuse checks of an applied decrement (NULL, freed, dead). */
static void check_decrement(const ouro_object *o)
{
    if (OURO_UNLIKELY(!o))
        ouro__fatal("ouro_decref(NULL): use ouro_xdecref for maybe-NULL "
                    "pointers");
    ouro__check_not_freed(o, "a deferred decrement");
    if (OURO_UNLIKELY(atomic_load_explicit(&((ouro_object *)o)->ob_gc,
                                           memory_order_relaxed) &
                      OURO__GC_DEAD))
        die_underflow(o, -1);
}

void ouro__apply_decref(ouro_thread *t, ouro_object *o)
{
    check_decrement(o);
    uint32_t local = atomic_load_explicit(&o->ob_ref_local,
                                          memory_order_relaxed);
    if (local == OURO__IMMORTAL_LOCAL)
        return;
    if (ouro__owner_of(o) == t->tid) {
        if (OURO_UNLIKELY(local == 0))
            die_underflow(o, -1);
        atomic_store_explicit(&o->ob_ref_local, local - 1,
                              memory_order_relaxed);
        if (local == 1)
            merge_zero_local(t, o);
        else
            ouro__maybe_buffer(o);   /* owner: nobody else can kill it */
        return;
    }
    decref_shared(t, o);
}

void ouro__release_hold(ouro_thread *t, ouro_object *o)
{
    /* Applied at once: a hold was never stored where another thread could
     * load it, so no grace period is needed (docs/grace-periods.md, G3);
     * and it does not make the object a candidate. */
    uint32_t local = atomic_load_explicit(&o->ob_ref_local,
                                          memory_order_relaxed);
    if (local == OURO__IMMORTAL_LOCAL)
        return;
    if (ouro__owner_of(o) == t->tid && local > 1) {
        atomic_store_explicit(&o->ob_ref_local, local - 1,
                              memory_order_relaxed);
        return;
    }
    if (ouro__owner_of(o) == t->tid) {
        ouro__apply_decref(t, o);   /* the owner's last local reference */
        return;
    }
    decref_shared_n(t, o, 1, false);
}

void ouro__apply_decref_n(ouro_thread *t, ouro_object *o, uint32_t n)
{
    /* A run on the shared count is one CAS: a thread that keeps taking and
     * dropping references to an object it does not own pays one atomic per
     * increment and one per run of decrements, not one per decrement. */
    if (n > 1 && o && !ouro__is_immortal(o) && ouro__owner_of(o) != t->tid) {
        check_decrement(o);
        decref_shared_n(t, o, n, true);
        return;
    }
    while (n--)
        ouro__apply_decref(t, o);
}

/* The owner takes one queued reference: merge and give up ownership. */
static void merge_queued(ouro_thread *t, ouro_object *o)
{
    if (ouro__owner_of(o) != t->tid) {
        /* Already merged by merge_zero_local; the queue's reference is an
         * ordinary shared one now. */
        decref_shared(t, o);
        return;
    }
    merge_into_shared(t, o, atomic_load_explicit(&o->ob_ref_local,
                                                 memory_order_relaxed));
}

void ouro__process_merge_queue(ouro_thread *t)
{
    ouro_object **q;
    size_t n, cap;
    if (OURO_UNLIKELY(!t->mq_spare))   /* merging frees nothing: no nesting */
        ouro__fatal("internal: a merge pass inside a merge pass");
    /* Take the queue's array and put the spare in its place: requests that
     * arrive during the pass find room without allocating (thread.h). */
    pthread_mutex_lock(&ouro__registry_lock);
    q = t->mq;
    n = t->mq_len;
    cap = t->mq_cap;
    t->mq = t->mq_spare;
    t->mq_cap = t->mq_spare_cap;
    t->mq_len = 0;
    atomic_store_explicit(&t->mq_nonempty, false, memory_order_relaxed);
    pthread_mutex_unlock(&ouro__registry_lock);
    t->mq_spare = NULL;
    void (*hook)(void) = atomic_load_explicit(&ouro__merge_pass_test_hook,
                                              memory_order_relaxed);
    if (OURO_UNLIKELY(hook))
        hook();
    for (size_t i = 0; i < n; i++) {
        if (t->tid == OURO__TID_NONE)
            merge_orphan(t, q[i]);   /* detaching: we are the orphaning owner */
        else
            merge_queued(t, q[i]);
    }
    /* The emptied array is the next pass's spare, unless it is the larger
     * one: then the queue moves into it, so that the capacity a burst of
     * requests grew stays where the next burst needs it. */
    pthread_mutex_lock(&ouro__registry_lock);
    if (cap > t->mq_cap) {
        if (t->mq_len)
            memcpy(q, t->mq, t->mq_len * sizeof *q);
        ouro_object **small = t->mq;
        size_t small_cap = t->mq_cap;
        t->mq = q;
        t->mq_cap = cap;
        q = small;
        cap = small_cap;
    }
    pthread_mutex_unlock(&ouro__registry_lock);
    t->mq_spare = q;
    t->mq_spare_cap = cap;
}

void ouro__revive_for_finalizer(ouro_thread *t, ouro_object *o)
{
    /* The object is unreachable: plain (relaxed) stores suffice. */
    uint32_t gc = atomic_load_explicit(&o->ob_gc, memory_order_relaxed);
    atomic_store_explicit(&o->ob_gc, gc & ~(uint32_t)OURO__GC_DEAD,
                          memory_order_relaxed);
    if (OURO_LIKELY(!t->internal)) {
        atomic_store_explicit(&o->ob_ref_local, 1, memory_order_relaxed);
        atomic_store_explicit(&o->ob_ref_shared,
                              ouro__shared_make(0, OURO__SHARED_UNQUEUED),
                              memory_order_relaxed);
        atomic_store_explicit(&o->ob_tid, t->tid, memory_order_relaxed);
    } else {
        /* On the runtime's own thread (the collector runs finalizers of
         * garbage it proved): merged, with no owner, like the objects that
         * thread allocates (object.c).  Owned by it, a resurrected object
         * would wait in its merge queue until its next collection. */
        atomic_store_explicit(&o->ob_ref_local, 0, memory_order_relaxed);
        atomic_store_explicit(&o->ob_ref_shared,
                              ouro__shared_make(1, OURO__SHARED_MERGED),
                              memory_order_relaxed);
        atomic_store_explicit(&o->ob_tid, 0, memory_order_relaxed);
    }
}

int64_t ouro__raw_refcnt_queued(const ouro_object *obj, bool *queued)
{
    ouro_object *o = (ouro_object *)obj;
    *queued = false;
    /* acquire: pairs with the release store of 0 in merge_into_shared, so
     * that a merge in progress is never read as local 0 + old shared (the
     * collector's validation relies on reads never undercounting). */
    uint32_t local = atomic_load_explicit(&o->ob_ref_local, memory_order_acquire);
    if (local == OURO__IMMORTAL_LOCAL)
        return OURO_IMMORTAL_REFCNT;
    int32_t shared = atomic_load_explicit(&o->ob_ref_shared, memory_order_relaxed);
    int64_t count = (int64_t)local + ouro__shared_count(shared);
    /* The merge queue's reference stands for one already released. */
    if ((shared & OURO__SHARED_STATE_MASK) == OURO__SHARED_QUEUED) {
        *queued = true;
        count -= 1;
    }
    return count;
}

int64_t ouro__raw_refcnt(const ouro_object *o)
{
    bool queued;
    return ouro__raw_refcnt_queued(o, &queued);
}
