/*
 * hook_wait.h - for white-box tests whose hook holds the collector thread
 * while another thread works: wait there, quiescent, so that the other
 * thread's flushes (grace periods) still complete.
 */
#ifndef OURO_TEST_HOOK_WAIT_H
#define OURO_TEST_HOOK_WAIT_H

#include "thread.h"

#include <sched.h>
#include <stdatomic.h>

/* Until *flag is set (acquire: what the other thread did before setting
 * it is visible afterwards). */
static inline void hook_wait_quiescent(_Atomic int *flag)
{
    while (!atomic_load_explicit(flag, memory_order_acquire)) {
        ouro__quiescent(ouro__self);
        sched_yield();
    }
}

#endif /* OURO_TEST_HOOK_WAIT_H */
