/*
 * failing_alloc.h - an allocator hook for out-of-memory tests: once armed
 * it fails every Nth allocation (1: all of them), and it counts the blocks
 * handed out and not yet returned, so a teardown can check that nothing
 * leaked.  One copy per test program (static state).
 */
#ifndef OURO_TEST_FAILING_ALLOC_H
#define OURO_TEST_FAILING_ALLOC_H

#include "fixture.h"

#include <stdatomic.h>
#include <stdlib.h>

/* Atomic: the collector thread allocates through the same hook. */
static _Atomic unsigned long calls, fail_every, failures;
static _Atomic long outstanding;   /* blocks handed out and not yet freed */

static void *failing_malloc(size_t size, void *ctx)
{
    (void)ctx;
    unsigned long every = fail_every;
    if (every && ++calls % every == 0) {
        failures++;
        return NULL;
    }
    void *p = malloc(size);
    if (p)
        outstanding++;
    return p;
}

static void counting_free(void *p, void *ctx)
{
    (void)ctx;
    if (p)
        outstanding--;
    free(p);
}

/* A runtime that allocates through the hook, disarmed, collection off. */
static int failing_alloc_setup(void **state)
{
    (void)state;
    calls = failures = 0;
    fail_every = 0;
    outstanding = 0;
    ouro_config cfg = {.malloc_fn = failing_malloc, .free_fn = counting_free,
                       .gc_disabled = 1};
    return ouro_test_start(&cfg);
}

/* Disarm, shut the runtime down, and fail if a block is still out. */
static int failing_alloc_teardown(void **state)
{
    fail_every = 0;
    int err = ouro_test_teardown(state);
    if (outstanding != 0) {
        print_error("%ld runtime allocation(s) not returned\n",
                    (long)outstanding);
        return -1;
    }
    return err;
}

#endif /* OURO_TEST_FAILING_ALLOC_H */
