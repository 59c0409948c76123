/*
 * weakref.h - weak references and the weak table (weakref.c).
 *
 * Invariants W1-W5 and the clearing rules are in docs/weakrefs.md.  In
 * short: a weak dereference try-increments the referent under the lock of
 * the referent's stripe; an object leaves the table (its weak references
 * cleared) under that lock before its count fields are reused or its
 * memory freed, by counting (ouro__weak_referent_died, from
 * ouro__push_dead) or by the collector (the settle step, with every stripe
 * locked).
 */
#ifndef OURO_WEAKREF_H
#define OURO_WEAKREF_H

#include "thread.h"

int ouro__weak_init(void);
void ouro__weak_fini(void);

static inline bool ouro__is_weakref(const ouro_object *o)
{
    return o->ob_type == &ouro_weakref_type;
}

/* The death of `o` was decided by counting and `o` had HAS_WEAKREFS: clear
 * `referent` of its weak references (they stay linked until
 * ouro__weak_clear_and_call).  Runs before the dead-list link is written. */
void ouro__weak_referent_died(ouro_object *o);
/* The weak reference `w` died by counting: unlink it, so that no clearing
 * ever takes a reference to it. */
void ouro__weak_self_died(ouro_object *w);

/* At the freeing of dead `o` (HAS_WEAKREFS set), before its finalizer:
 * unlink its weak references and call their callbacks on this thread. */
void ouro__weak_clear_and_call(ouro_thread *t, ouro_object *o);

/* ---- for the collector's settle step (collector/settle.c) --------------- */

/* Weak references whose callbacks are due, linked through pending_next. */
typedef struct ouro__weak_pending {
    ouro_object *head, *tail;
} ouro__weak_pending;

/* With every side lock held: `o` is garbage.  Clear its weak references,
 * queueing (with a reference taken) the callbacks of those for which
 * is_garbage() is false; if `o` is itself a weak reference, unlink it. */
void ouro__weak_detach_garbage_locked(ouro_object *o,
                                      bool (*is_garbage)(ouro_object *w,
                                                         void *arg),
                                      void *arg, ouro__weak_pending *due);
/* Call the queued callbacks and drop the references taken for them. */
void ouro__weak_run_callbacks(ouro__weak_pending *due);

#endif /* OURO_WEAKREF_H */
