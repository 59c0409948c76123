/*
 * refcount.h - the biased counting protocol (refcount.c).
 *
 * Count of an object = ob_ref_local + (ob_ref_shared >> 2).
 * ob_ref_shared's low two bits are its state:
 *   UNQUEUED  owner alive or not yet known dead; shared part may be >= 0
 *   QUEUED    a non-owner drove the shared part below zero and handed one
 *             reference to the owner's merge queue (the queue holds it)
 *   MERGED    ob_tid is 0 and ob_ref_local is 0: the shared part is the
 *             whole count; reaching zero frees the object
 * The protocol, its invariants and the proof sketch are in docs/counting.md.
 */
#ifndef OURO_REFCOUNT_H
#define OURO_REFCOUNT_H

#include "dealloc.h"
#include "thread.h"

#define OURO__SHARED_UNQUEUED 0
#define OURO__SHARED_QUEUED 2
#define OURO__SHARED_MERGED 3
#define OURO__SHARED_STATE_MASK 3
#define OURO__SHARED_ONE 4

/* Count part of an ob_ref_shared value (exact division: state is
 * subtracted first, so negative counts work). */
static inline int32_t ouro__shared_count(int32_t shared)
{
    return (shared - (shared & OURO__SHARED_STATE_MASK)) / OURO__SHARED_ONE;
}

static inline int32_t ouro__shared_make(int64_t count, int state)
{
    return (int32_t)(count * OURO__SHARED_ONE + state);
}

static inline bool ouro__is_immortal(const ouro_object *o)
{
    return atomic_load_explicit(&((ouro_object *)o)->ob_ref_local,
                                memory_order_relaxed) == OURO__IMMORTAL_LOCAL;
}

/* Apply one decrement of `o` now, on thread t.  Only valid when no thread
 * can still be loading `o` through the reference being released: after a
 * grace period, or when the reference lives in a dead object.  If the count
 * reaches zero the object joins t's dead list. */
void ouro__apply_decref(ouro_thread *t, ouro_object *o);

/* Make `o` a cycle candidate (collector/candidates.c).  The caller holds a
 * reference to it. */
void ouro__buffer_candidate(ouro_object *o);
static inline void ouro__maybe_buffer(ouro_object *o)
{
    uint32_t gc = atomic_load_explicit(&o->ob_gc, memory_order_relaxed);
    if (!(gc & (OURO__GC_BUFFERED | OURO__GC_FROZEN)) &&
        (o->ob_type->flags & OURO_TYPE_GC))
        ouro__buffer_candidate(o);
}

/* An increment of an object the collector is validating: record it.  The
 * thread's quiescent point after the collector's marks orders the IN_GC
 * load (docs/collector.md, safety step 1). */
static inline void ouro__note_touch(ouro_object *o)
{
    uint32_t gc = atomic_load_explicit(&o->ob_gc, memory_order_relaxed);
    if (OURO_UNLIKELY(gc & OURO__GC_IN_GC) && !(gc & OURO__GC_TOUCHED))
        atomic_fetch_or_explicit(&o->ob_gc, OURO__GC_TOUCHED,
                                 memory_order_relaxed);
}

/* Increment unless the object's death has been decided (merged count 0);
 * the collector's way to take a hold on a candidate. */
bool ouro__try_incref_shared(ouro_object *o);

/* Apply `n` decrements of `o` at once (a run of equal entries in a batch):
 * the owner's common case inline, everything else out of line.  Equivalent
 * to n calls of ouro__apply_decref: the intermediate counts of a run cannot
 * reach zero in a correct program. */
void ouro__apply_decref_n(ouro_thread *t, ouro_object *o, uint32_t n);
static inline void ouro__apply_decref_run(ouro_thread *t, ouro_object *o,
                                          uint32_t n)
{
    ouro__check_not_freed(o, "a deferred decrement");
    uint32_t local = atomic_load_explicit(&o->ob_ref_local,
                                          memory_order_relaxed);
    uint32_t gc = atomic_load_explicit(&o->ob_gc, memory_order_relaxed);
    if (OURO_LIKELY(local > n && local != OURO__IMMORTAL_LOCAL &&
                    ouro__owner_of(o) == t->tid && !(gc & OURO__GC_DEAD))) {
        atomic_store_explicit(&o->ob_ref_local, local - n,
                              memory_order_relaxed);
        /* Left positive by the owner: a cycle candidate, if tracked. */
        if (!(gc & (OURO__GC_BUFFERED | OURO__GC_FROZEN)) &&
            (o->ob_type->flags & OURO_TYPE_GC))
            ouro__buffer_candidate(o);
        return;
    }
    ouro__apply_decref_n(t, o, n);
}

/* Drop a reference the collector took (a hold), at once and without
 * making the object a candidate. */
void ouro__release_hold(ouro_thread *t, ouro_object *o);

/* Merge requests that other threads queued for t. */
void ouro__process_merge_queue(ouro_thread *t);

/* Give a dead object one reference again, owned by t, so that its finalizer
 * may run; the caller drops it with ouro__apply_decref afterwards. */
void ouro__revive_for_finalizer(ouro_thread *t, ouro_object *o);

/* White-box tests only: called by a non-owner's decrement after it decided
 * whether to buffer the object and before it changes the count. */
extern void (*_Atomic ouro__decref_test_hook)(ouro_object *o);
/* White-box tests only: called by the decrement that took o's merged count
 * to zero, right after its compare-and-swap decided the death and before
 * the object leaves the weak table and the registry (ouro__push_dead), so
 * that a test can race a weak dereference against the death exactly
 * there. */
extern void (*_Atomic ouro__death_test_hook)(ouro_object *o);

/* White-box tests only: called by the owner's merge pass after it took
 * the queue's array and put the spare in its place, before it merges. */
extern void (*_Atomic ouro__merge_pass_test_hook)(void);

/* Applied count (local + shared, less a queued reference), racy snapshot. */
int64_t ouro__raw_refcnt(const ouro_object *o);
/* The same, and whether the snapshot was QUEUED, from one load of the
 * shared count: a merge's CAS cannot fall between the two answers. */
int64_t ouro__raw_refcnt_queued(const ouro_object *o, bool *queued);

#endif /* OURO_REFCOUNT_H */
