/*
 * settle.h - the collector's settle step (settle.c; docs/weakrefs.md, W4).
 *
 * Weak dereferences and registry walks reach objects without a counted
 * reference, so the handshakes alone do not close the garbage set against
 * them.  After each validation that found garbage, the collector takes
 * every side lock (heap.h: they guard the registry and the weak table),
 * refines the garbage set (TOUCHED, DIRTY or QUEUED members are black,
 * with all they reach: step 8, which runs only here), and, still under
 * the locks, takes the remaining members out of
 * the registry and clears their weak references.  The refine and the
 * registry go in one pass over the members: one that is not flagged
 * leaves the registry at once, and one that black reaches later in the
 * pass is linked again before the locks are released, so nobody sees the
 * difference.  The callbacks due run
 * after the locks are released, before any finalizer.
 */
#ifndef OURO_GC_SETTLE_H
#define OURO_GC_SETTLE_H

#include "weakref.h"

/* White-box tests only: called on the collector thread right before the
 * settle step takes its locks, to schedule a weak dereference there. */
extern void (*_Atomic ouro__settle_test_hook)(void);

void ouro__settle_lock(void);
void ouro__settle_unlock(void);
/* Under the settle locks, `o` is garbage: it leaves the registry (_leave;
 * _return links it again, if black spreads to it after all), and, once
 * the garbage set is final, its weak references are cleared (_weak, which
 * only members that _has_weak_side names need).  is_garbage tells which
 * weak references are garbage too (their callbacks are not called). */
void ouro__settle_leave_locked(ouro_object *o);
void ouro__settle_return_locked(ouro_object *o);
static inline bool ouro__settle_has_weak_side(const ouro_object *o,
                                              uint32_t gc)
{
    return (gc & OURO__GC_HAS_WEAKREFS) || ouro__is_weakref(o);
}
void ouro__settle_weak_locked(ouro_object *o,
                              bool (*is_garbage)(ouro_object *w, void *arg),
                              void *arg, ouro__weak_pending *due);
/* A member kept after all (resurrected by a finalizer, saved by SAVEALL,
 * or out of memory): back in the registry. */
void ouro__settle_keep(ouro_object *o);

#endif /* OURO_GC_SETTLE_H */
