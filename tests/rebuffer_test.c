/*
 * rebuffer_test.c - white-box regression test for completeness step 2
 * (docs/collector.md): a decrement that found its object still BUFFERED
 * did not buffer it, so the collector must buffer it again when it lets
 * it go.
 *
 * The window: candidate Y is reached from an earlier candidate X, so it is
 * held, marked and counted while it still carries BUFFERED from the set
 * (it loses the flag only when the collector's loop comes to it).  A
 * thread that increments and then drops Y in that window leaves the count
 * as it was read, marks Y touched (so this collection keeps the cycle),
 * and its decrement skips the buffering.  The stress suite's faults
 * scenario leaked such cycles: nothing ever looked at them again.
 */
#include "fixture.h"

#include "gc.h"
#include "thread.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

static ouro_type node_type;
static ouro_object *x, *y;
static ouro_object *_Atomic target;   /* set by the hook for the toucher */
static _Atomic int touched;

/* On the collector thread, after the first candidate's walk: the other
 * member is held and counted, and still BUFFERED. */
static void touch_the_other(ouro_object *walked)
{
    atomic_store_explicit(&ouro__walk_test_hook, NULL, memory_order_relaxed);
    /* release: the toucher sees the collector's marks (IN_GC). */
    atomic_store_explicit(&target, walked == x ? y : x, memory_order_release);
    /* Quiescent while we wait: the toucher's flush needs a grace period. */
    while (!atomic_load_explicit(&touched, memory_order_acquire)) {
        ouro__quiescent(ouro__self);
        sched_yield();
    }
}

static void *toucher(void *arg)
{
    (void)arg;
    ouro_thread_attach();
    ouro_object *o;
    while (!(o = atomic_load_explicit(&target, memory_order_acquire)))
        ouro_safepoint();
    ouro_safepoint();
    ouro_incref(o);   /* TOUCHED: it is IN_GC */
    ouro_decref(o);
    ouro_flush();     /* applied: BUFFERED, so not buffered */
    atomic_store_explicit(&touched, 1, memory_order_release);
    ouro_thread_detach();
    return NULL;
}

static void touched_candidate_is_buffered_again(void **state)
{
    (void)state;
    ouro_record_type_init(&node_type, "Node", 1, NULL);
    x = ouro_record_new(&node_type);
    y = ouro_record_new(&node_type);
    ouro_record_set(x, 0, y);
    ouro_record_set(y, 0, x);
    ouro_decref(x);
    ouro_decref(y);
    ouro_flush();   /* both candidates */
    atomic_store(&target, NULL);
    atomic_store(&touched, 0);
    atomic_store(&ouro__walk_test_hook, touch_the_other);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, toucher, NULL), 0);
    /* Touched during the collection: kept this time. */
    assert_int_equal(ouro_gc_collect(), 0);
    ouro_blocking_begin();
    pthread_join(th, NULL);
    ouro_blocking_end();
    assert_true(atomic_load(&touched));
    /* Nothing decrements the cycle again: only the collector's buffering
     * brings it back. */
    assert_int_equal(ouro_gc_collect(), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        OURO_TEST(touched_candidate_is_buffered_again),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
