/*
 * settle.h - the collector's settle step (settle.c; docs/weakrefs.md, W4).
 *
 * Weak dereferences and registry walks reach objects without a counted
 * reference, so the handshakes alone do not close the garbage set against
 * them.  After each validation that found garbage, the collector closes
 * the walk gate (heap.h: walks wait), then goes through the members one
 * side lock at a time: flagged members (TOUCHED, DIRTY or QUEUED: step 8
 * of docs/collector.md, which runs only here) are black with all they
 * reach, the others leave the registry.  Only the members with a weak side
 * are decided under every side lock: read again until a read finds none
 * flagged (black spreads between reads, the locks released), then their
 * weak references cleared under the locks of that read.  A member that black reaches after it left the
 * registry is linked again before the gate opens, so no walk sees the
 * difference.  The callbacks due run after that, before any finalizer.
 */
#ifndef OURO_GC_SETTLE_H
#define OURO_GC_SETTLE_H

#include "weakref.h"

/* White-box tests only: called on the collector thread right before the
 * settle step starts, to schedule a weak dereference there; after each
 * batch of its first pass; and after each round of the last step that
 * found a member flagged (before black spreads and the next round), with
 * no lock held (the gate closed). */
extern void (*_Atomic ouro__settle_test_hook)(void);
extern void (*_Atomic ouro__settle_batch_test_hook)(void);
extern void (*_Atomic ouro__settle_round_test_hook)(void);

/* The settle step's span: the walk gate closed, then open. */
void ouro__settle_begin(void);
void ouro__settle_end(void);
/* Every side lock: the last step, for the members with a weak side. */
void ouro__settle_lock(void);
void ouro__settle_unlock(void);
/* Under o's side lock, `o` is garbage so far: it leaves the registry.
 * Once the garbage set is final, its weak references are cleared (_weak,
 * under every side lock, which only members that _has_weak_side names
 * need).  is_garbage tells which weak references are garbage too (their
 * callbacks are not called). */
void ouro__settle_leave_locked(ouro_object *o);
static inline bool ouro__settle_has_weak_side(const ouro_object *o,
                                              uint32_t gc)
{
    return (gc & OURO__GC_HAS_WEAKREFS) || ouro__is_weakref(o);
}
void ouro__settle_weak_locked(ouro_object *o,
                              bool (*is_garbage)(ouro_object *w, void *arg),
                              void *arg, ouro__weak_pending *due);
/* A member kept after all (black spread to it after it left, resurrected
 * by a finalizer, saved by SAVEALL, or out of memory): back in the
 * registry, under its side lock (taken here). */
void ouro__settle_keep(ouro_object *o);

#endif /* OURO_GC_SETTLE_H */
