/*
 * dealloc.c - the end of an object's life.
 *
 * Order for one object (docs/counting.md, "Freeing"):
 *   1. If its type has a finalizer that has not run: mark FINALIZED, give the
 *      object one reference owned by this thread, run the finalizer, drop
 *      the reference at once.  If the count is then zero the object is back
 *      on the dead list (and goes to step 2 next time); otherwise the
 *      finalizer resurrected it and it lives on, never finalized again.
 *   2. Release every reference it holds (traverse), immediately.
 *   3. type->destroy, then free the memory.
 * Dropping the finalizer's reference immediately is safe: that reference was
 * never stored anywhere another thread could load it from.
 */
#include "dealloc.h"

#include "builtin.h"
#include "refcount.h"
#include "gc.h"
#include "heap.h"
#include "weakref.h"

const ouro_type ouro__freed_type = {.name = "<freed object>"};

static void release_visit(ouro_object *child, void *arg)
{
    if (child)
        ouro__apply_decref((ouro_thread *)arg, child);
}

#ifndef NDEBUG
/* Ring of poisoned, not yet freed objects (owner).  Lives outside
 * ouro_thread so that release builds don't carry it. */
static __thread void *quarantine[OURO__QUARANTINE];   /* memory blocks */
static __thread size_t quarantine_bytes[OURO__QUARANTINE];
static __thread unsigned quarantine_pos;

static void release_memory(ouro_thread *t, ouro_object *o)
{
    void *block = ouro__object_block(o, o->ob_type);
    size_t bytes = ouro__block_bytes(o);
    o->ob_type = &ouro__freed_type;
    atomic_store_explicit(&o->ob_tid, 0, memory_order_relaxed);
    unsigned slot = quarantine_pos++ % OURO__QUARANTINE;
    if (quarantine[slot])
        ouro__block_free(t, quarantine[slot], quarantine_bytes[slot]);
    quarantine[slot] = block;
    quarantine_bytes[slot] = bytes;
}

void ouro__quarantine_flush(ouro_thread *t)
{
    for (unsigned i = 0; i < OURO__QUARANTINE; i++) {
        if (quarantine[i])
            ouro__block_free(t, quarantine[i], quarantine_bytes[i]);
        quarantine[i] = NULL;
    }
}
#else
static void release_memory(ouro_thread *t, ouro_object *o)
{
    ouro__block_free(t, ouro__object_block(o, o->ob_type),
                     ouro__block_bytes(o));
}
#endif

static void dealloc_one(ouro_thread *t, ouro_object *o)
{
    const ouro_type *tp = o->ob_type;
    uint32_t gc = atomic_load_explicit(&o->ob_gc, memory_order_relaxed);
    /* Weak references are cleared, and their callbacks run, before the
     * finalizer (docs/weakrefs.md). */
    if (OURO_UNLIKELY(gc & OURO__GC_HAS_WEAKREFS))
        ouro__weak_clear_and_call(t, o);
    if (tp->finalize && !(gc & OURO__GC_FINALIZED)) {
        atomic_fetch_or_explicit(&o->ob_gc, OURO__GC_FINALIZED,
                                 memory_order_relaxed);
        ouro__revive_for_finalizer(t, o);
        tp->finalize(o);
        OURO__COUNT(t, finalized, 1);
        /* Stored somewhere: alive again, so back in the registry, linked
         * while our reference still keeps it alive. */
        if (ouro__raw_refcnt(o) > 1)
            ouro__heap_track(o);
        ouro__apply_decref(t, o);
        if (t->dead_top != o)
            OURO__COUNT(t, resurrected, 1);
        return;
    }
    if (tp->traverse)
        tp->traverse(o, release_visit, t);
    if (tp->destroy)
        tp->destroy(o);
    ouro__release_object(t, o);
}

void ouro__release_object(ouro_thread *t, ouro_object *o)
{
    OURO__COUNT(t, freed, 1);
    release_memory(t, o);
}

static void record_slice(ouro_thread *t, uint64_t ns, uint64_t n)
{
    if (ns > atomic_load_explicit(&t->c.max_slice_ns, memory_order_relaxed))
        atomic_store_explicit(&t->c.max_slice_ns, ns, memory_order_relaxed);
    if (n > atomic_load_explicit(&t->c.max_slice_objects, memory_order_relaxed))
        atomic_store_explicit(&t->c.max_slice_objects, n, memory_order_relaxed);
}

uint64_t ouro__free_slice(ouro_thread *t, uint64_t budget)
{
    if (t->in_free_work || !t->dead_top)
        return 0;
    t->in_free_work = true;
    uint64_t start = ouro__now_ns();
    uint64_t n = 0;
    while (t->dead_top && n < budget) {
        ouro_object *o = t->dead_top;
        t->dead_top = o->_ob_free_next;
        t->ndead--;
        dealloc_one(t, o);
        n++;
    }
    record_slice(t, ouro__now_ns() - start, n);
    t->in_free_work = false;
    return n;
}
