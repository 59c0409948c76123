/*
 * settle.c - the collector's settle step (see settle.h).
 *
 * Lock order: the walk gate, then the side locks in index order.  Every
 * other path holds at most one side lock at a time (a walk, after the
 * gate), so the order cannot deadlock.
 */
#include "settle.h"

#include "heap.h"

void (*_Atomic ouro__settle_test_hook)(void);
void (*_Atomic ouro__settle_batch_test_hook)(void);
void (*_Atomic ouro__settle_round_test_hook)(void);

void ouro__settle_begin(void)
{
    ouro__walk_gate_close();
}

void ouro__settle_end(void)
{
    ouro__walk_gate_open();
}

void ouro__settle_lock(void)
{
    ouro__side_lock_all();
}

void ouro__settle_unlock(void)
{
    ouro__side_unlock_all();
}

void ouro__settle_leave_locked(ouro_object *o)
{
    ouro__heap_untrack_locked(o);
}

void ouro__settle_weak_locked(ouro_object *o,
                              bool (*is_garbage)(ouro_object *w, void *arg),
                              void *arg, ouro__weak_pending *due)
{
    ouro__weak_detach_garbage_locked(o, is_garbage, arg, due);
}

void ouro__settle_keep(ouro_object *o)
{
    ouro__heap_track(o);
}
