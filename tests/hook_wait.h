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
#include <stdbool.h>
#include <time.h>

/* Until *flag is set (acquire: what the other thread did before setting
 * it is visible afterwards), or 10 s have passed: a hook that waits for
 * something that cannot happen (a lock it holds stops the other thread)
 * returns, and the test fails on what did not happen instead of hanging.
 * Whether the flag was set. */
static inline bool hook_wait_quiescent(_Atomic int *flag)
{
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        if (atomic_load_explicit(flag, memory_order_acquire))
            return true;
        ouro__quiescent(ouro__self);
        sched_yield();
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - start.tv_sec >= 10)
            return false;
    }
}

#endif /* OURO_TEST_HOOK_WAIT_H */
