/*
 * object.c - allocating objects and looking at them.
 */
#include "builtin.h"
#include "dealloc.h"
#include "decref_buffer.h"
#include "heap.h"
#include "refcount.h"

#include <string.h>

size_t ouro__block_bytes(const ouro_object *o)
{
    const ouro_type *tp = o->ob_type;
    size_t size = tp->size;
    if (tp == &ouro_str_type)
        size += ((const ouro_str_obj *)o)->len + 1;
    else if (tp == &ouro_tuple_type)
        size += ((const ouro_tuple_obj *)o)->len * sizeof(ouro_object *);
    return size + ouro__preheader_size(tp);
}

void ouro__block_free(ouro_thread *t, void *block, size_t bytes)
{
    int cls = ouro__pool_class(bytes);
    if (cls >= 0)
        ouro__pool_free(t ? &t->pool : NULL, cls, block);
    else
        ouro__mem_free(block);
}

ouro_object *ouro__alloc_object(const ouro_type *type, size_t size)
{
    ouro_thread *t = ouro__self_or_die("allocating an object");
    /* Tracked types get the registry's links in front (heap.h).  Object
     * memory comes from this thread's pool cache (pool.h), if the block
     * has a class. */
    size_t pre = ouro__preheader_size(type);
    int cls = ouro__pool_class(size + pre);
    char *block = cls >= 0 ? ouro__pool_alloc(&t->pool, cls)
                           : ouro__mem_alloc(size + pre);
    if (OURO_UNLIKELY(!block))
        return NULL;
    if (pre)
        *(ouro__heap_link *)block = (ouro__heap_link){NULL, NULL};
    ouro_object *o = (ouro_object *)(block + pre);
    /* The candidate set has one bit per 16 bytes (collector/candidates.c);
     * malloc aligns to 16 on every 64-bit ABI we build for, and so must a
     * configured allocator. */
    if (OURO_UNLIKELY((uintptr_t)o & 15))
        ouro__fatal("an object block not aligned to 16 bytes (%p): the "
                    "configured malloc_fn must align as malloc does",
                    (void *)block);
    /* Plain (relaxed) stores: the object is not shared yet; whoever
     * publishes it does so with a release store. */
    if (OURO_LIKELY(!t->internal)) {
        atomic_store_explicit(&o->ob_tid, t->tid, memory_order_relaxed);
        atomic_store_explicit(&o->ob_ref_local, 1, memory_order_relaxed);
        atomic_store_explicit(&o->ob_ref_shared, 0, memory_order_relaxed);
    } else {
        /* Allocated by the runtime's own thread (a finalizer run by the
         * collector): born merged, with no owner.  An owner must drain
         * its merge queue at every quiescent point, and the collector
         * does not; an object queued to it could be freed as garbage
         * while still in its queue (docs/counting.md, "Owners"). */
        atomic_store_explicit(&o->ob_tid, 0, memory_order_relaxed);
        atomic_store_explicit(&o->ob_ref_local, 0, memory_order_relaxed);
        atomic_store_explicit(&o->ob_ref_shared,
                              ouro__shared_make(1, OURO__SHARED_MERGED),
                              memory_order_relaxed);
    }
    atomic_store_explicit(&o->ob_gc, 0, memory_order_relaxed);
    o->ob_type = type;
    OURO__COUNT(t, allocated, 1);
    return o;
}

void ouro__free_unshared(ouro_object *o)
{
    ouro_thread *t = ouro__self_or_die("freeing an object");
    OURO__COUNT(t, freed, 1);
    ouro__heap_untrack(o);
    ouro__block_free(t, ouro__object_block(o, o->ob_type),
                     ouro__block_bytes(o));
}

ouro_object *ouro_new(const ouro_type *type)
{
    if (!type || type->size < sizeof(ouro_object))
        return NULL;
    ouro_object *o = ouro__alloc_object(type, type->size);
    if (o) {
        memset(o + 1, 0, type->size - sizeof(ouro_object));
        ouro__heap_track(o);
    }
    return o;
}

const ouro_type *ouro_type_of(const ouro_object *o)
{
    return o->ob_type;
}

const char *ouro_type_name(const ouro_object *o)
{
    return o->ob_type->name;
}

int ouro_is_immortal(const ouro_object *o)
{
    return ouro__is_immortal(o);
}

int64_t ouro_refcnt(ouro_object *o)
{
    OURO__DEBUG_CHECK(o, "ouro_refcnt");
    int64_t n = ouro__raw_refcnt(o);
    if (n == OURO_IMMORTAL_REFCNT)
        return n;
    /* The collector's hold, if any, is not the user's reference. */
    if (atomic_load_explicit(&o->ob_gc, memory_order_relaxed) & OURO__GC_HELD)
        n -= 1;
    ouro_thread *t = ouro__self;
    if (t)
        n -= (int64_t)ouro__decbuf_count(t, o);
    return n;
}

int ouro_make_immortal(ouro_object *o)
{
    ouro_thread *t = ouro__self_or_die("ouro_make_immortal");
    if (ouro__is_immortal(o))
        return OURO_OK;
    uint32_t owner = ouro__owner_of(o);
    if (owner != t->tid && owner != 0)
        return OURO_ESTATE;
    /* Only the owner writes ob_ref_local, and a merged object's local count
     * is never written again, so this store races with nobody. */
    atomic_store_explicit(&o->ob_ref_local, OURO__IMMORTAL_LOCAL,
                          memory_order_relaxed);
    atomic_store_explicit(&o->ob_tid, 0, memory_order_relaxed);
    /* Never freed, so its chunk must outlive ouro_shutdown (interned
     * strings excepted: the intern table frees them). */
    if (!(atomic_load_explicit(&o->ob_gc, memory_order_relaxed) &
          OURO__GC_INTERNED) &&
        ouro__pool_class(ouro__block_bytes(o)) >= 0)
        ouro__pool_pin();
    OURO__COUNT(t, immortalized, 1);
    return OURO_OK;
}
