/*
 * orphan.h - work left behind by detached threads (orphan.c).
 *
 * A detaching thread does not wait for grace periods: it hands its sealed
 * batches (each with its goal) and its dead objects to a process-wide pool.
 * Any attached thread adopts them at a safepoint or flush: batches whose
 * goal has been reached (anywhere in the pool: goals of different threads
 * arrive in no particular order) are applied as ordinary non-owner decrements (the
 * detached thread owns nothing any more), dead objects join the adopter's
 * dead list.
 */
#ifndef OURO_ORPHAN_H
#define OURO_ORPHAN_H

#include "thread.h"

/* Set while the pool holds anything; read lock-free as a hint. */
extern _Atomic bool ouro__orphans_present;

/* Move t's pending batches and dead objects into the pool. */
void ouro__orphan_hand_over(ouro_thread *t);
/* Take the pool's ready batches (applying them) and its dead objects. */
void ouro__orphan_adopt(ouro_thread *t);
/* Largest goal among pooled batches, 0 if none. */
uint64_t ouro__orphan_max_goal(void);

#endif /* OURO_ORPHAN_H */
