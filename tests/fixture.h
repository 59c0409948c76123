/*
 * fixture.h - shared CMocka set-up for ouro tests: a running runtime with
 * the calling thread attached, and a check at the end that every object
 * allocated by the test has been freed.
 *
 * Automatic cycle collection is off: a collection in progress holds
 * references for a while, which would make "freed after ouro_flush()"
 * timing-dependent.  Collector tests turn it on or call ouro_gc_collect().
 */
#ifndef OURO_TEST_FIXTURE_H
#define OURO_TEST_FIXTURE_H

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ouro.h>

/* Initialise with `cfg` and attach this thread: 0, or -1 (a setup's
 * failure). */
static inline int ouro_test_start(const ouro_config *cfg)
{
    if (ouro_init(cfg) != OURO_OK || ouro_thread_attach() != OURO_OK)
        return -1;
    return 0;
}

static inline int ouro_test_setup(void **state)
{
    (void)state;
    ouro_config cfg = {.gc_disabled = 1};
    return ouro_test_start(&cfg);
}

/* Objects neither freed nor immortal, after applying this thread's
 * decrements. */
static inline uint64_t ouro_test_live(void)
{
    ouro_flush();
    ouro_stats st;
    ouro_get_stats(&st);
    return st.live_objects;
}

static inline int ouro_test_teardown(void **state)
{
    (void)state;
    uint64_t live = ouro_test_live();
    ouro_stats st;
    ouro_get_stats(&st);
    if (st.attached_threads > 1) {
        /* A failed assertion left a helper thread unjoined: report it here,
         * where the assertion's message is still printed, rather than let
         * ouro_shutdown abort the whole binary. */
        print_error("%u helper thread(s) still attached\n",
                    (unsigned)st.attached_threads - 1);
        return -1;
    }
    ouro_shutdown();
    if (live != 0) {
        print_error("%llu object(s) leaked\n", (unsigned long long)live);
        return -1;
    }
    return 0;
}

/* Drop a ring of n records of type t (slot 0 links each to the next),
 * allocated in ring order: garbage only the collector can free. */
static inline void ouro_test_drop_ring(ouro_type *t, int n)
{
    ouro_object *first = ouro_record_new(t), *prev = first;
    for (int i = 1; i < n; i++) {
        ouro_object *next = ouro_record_new(t);
        ouro_record_set(prev, 0, next);
        if (prev != first)
            ouro_decref(prev);
        prev = next;
    }
    ouro_record_set(prev, 0, first);
    if (prev != first)
        ouro_decref(prev);
    ouro_decref(first);
}

static inline void *ouro_test_make_dict_and_leave(void *arg)
{
    ouro_thread_attach();
    *(ouro_object **)arg = ouro_dict_new();
    ouro_thread_detach();
    return NULL;
}

/* A dict made by a thread that has since detached: its owner is gone, so
 * the first decrement that crosses zero merges it (docs/counting.md).  The
 * caller holds its one reference. */
static inline ouro_object *ouro_test_orphan_dict(void)
{
    ouro_object *d = NULL;
    pthread_t th;
    pthread_create(&th, NULL, ouro_test_make_dict_and_leave, &d);
    pthread_join(th, NULL);
    return d;
}

#define OURO_TEST(fn) \
    cmocka_unit_test_setup_teardown(fn, ouro_test_setup, ouro_test_teardown)

#endif /* OURO_TEST_FIXTURE_H */
