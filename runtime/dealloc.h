/*
 * dealloc.h - freeing dead objects in bounded slices (dealloc.c).
 *
 * An object whose count reached zero is pushed on its thread's dead list
 * (linked through the header, so pushing never allocates).  Safepoints pop
 * at most one slice of them: run the finalizer once, release the references
 * the object holds (those decrements apply at once: nobody can read a dead
 * object), free the memory.  Children that die go on the same list, so a
 * long chain is freed iteratively, never recursively.
 */
#ifndef OURO_DEALLOC_H
#define OURO_DEALLOC_H

#include "thread.h"

void ouro__leave_side_tables(ouro_object *o, uint32_t gc);   /* heap.c */

static inline void ouro__push_dead(ouro_thread *t, ouro_object *o)
{
    /* The flag catches decrements past zero (ouro__apply_decref). */
    uint32_t gc = atomic_fetch_or_explicit(&o->ob_gc, OURO__GC_DEAD,
                                           memory_order_relaxed);
    /* Leave the registry and the weak table before the link below reuses
     * the count fields (docs/weakrefs.md, W1). */
    if (OURO_UNLIKELY((gc & OURO__GC_HAS_WEAKREFS) ||
                      (o->ob_type->flags & OURO_TYPE_GC)))
        ouro__leave_side_tables(o, gc);
    o->_ob_free_next = t->dead_top;
    t->dead_top = o;
    t->ndead++;
}

/* Free at most `budget` dead objects; returns how many were processed.
 * Does nothing when called from inside a finalizer of the same thread. */
uint64_t ouro__free_slice(ouro_thread *t, uint64_t budget);

/* Debug builds keep freed objects poisoned for a while (a quarantine) so
 * that a decrement of a freed object is reported instead of corrupting
 * memory. */
extern const ouro_type ouro__freed_type;
#ifndef NDEBUG
#define OURO__QUARANTINE 256
void ouro__quarantine_flush(ouro_thread *t);
static inline void ouro__check_not_freed(const ouro_object *o, const char *op)
{
    if (OURO_UNLIKELY(o->ob_type == &ouro__freed_type))
        ouro__fatal("%s of an object that was already freed (%p)", op,
                    (const void *)o);
}
#else
static inline void ouro__quarantine_flush(ouro_thread *t) { (void)t; }
static inline void ouro__check_not_freed(const ouro_object *o, const char *op)
{
    (void)o;
    (void)op;
}
#endif

#endif /* OURO_DEALLOC_H */
