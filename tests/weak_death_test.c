/*
 * weak_death_test.c - white-box test of a weak dereference racing with the
 * last release of its referent (docs/weakrefs.md, W2).
 *
 * The death hook stops the releasing thread right after the decrement that
 * took the count to zero, while the weak reference is still linked and
 * not yet cleared: exactly the moment a dereference can slip in.  Another
 * thread dereferences there and must get NULL.  A dereference that took its
 * reference with a plain increment would revive the dying object and hand
 * out a pointer the releasing thread is about to free.
 */
#include "fixture.h"

#include "refcount.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

static ouro_object *target;   /* the referent being released */
static ouro_object *weak;     /* to target */
static _Atomic int reader_ready, go, done;
static ouro_object *_Atomic seen;   /* what the reader's dereference gave */
static _Atomic int hook_calls;

/* On the releasing thread, with target's death decided. */
static void let_the_reader_in(ouro_object *o)
{
    if (o != target)
        return;
    atomic_store_explicit(&ouro__death_test_hook, NULL, memory_order_relaxed);
    atomic_fetch_add_explicit(&hook_calls, 1, memory_order_relaxed);
    /* release/acquire: the reader starts after the death was decided, and
     * we go on only after its dereference returned. */
    atomic_store_explicit(&go, 1, memory_order_release);
    while (!atomic_load_explicit(&done, memory_order_acquire))
        sched_yield();
}

static void *reader(void *arg)
{
    (void)arg;
    ouro_thread_attach();
    atomic_store_explicit(&reader_ready, 1, memory_order_release);
    /* Online and passing safepoints, so the releasing thread's flush is
     * not held up by us before the hook. */
    while (!atomic_load_explicit(&go, memory_order_acquire))
        ouro_safepoint();
    atomic_store_explicit(&seen, ouro_weakref_get(weak), memory_order_relaxed);
    atomic_store_explicit(&done, 1, memory_order_release);
    ouro_thread_detach();
    return NULL;
}

static void weak_get_after_death_decided_returns_null(void **state)
{
    static ouro_type node_type;
    ouro_record_type_init(&node_type, "Node", 1, NULL);
    atomic_store(&reader_ready, 0);
    atomic_store(&go, 0);
    atomic_store(&done, 0);
    atomic_store(&seen, NULL);
    atomic_store(&hook_calls, 0);
    target = ouro_record_new(&node_type);
    weak = ouro_weakref_new(target, NULL, NULL);
    assert_non_null(weak);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, reader, NULL), 0);
    while (!atomic_load_explicit(&reader_ready, memory_order_acquire))
        ouro_safepoint();
    atomic_store(&ouro__death_test_hook, let_the_reader_in);
    ouro_decref(target);   /* the last reference */
    ouro_flush();          /* applies it: the hook runs in here */
    ouro_blocking_begin();
    pthread_join(th, NULL);
    ouro_blocking_end();
    assert_int_equal(atomic_load(&hook_calls), 1);
    /* Dead from the decrement on: the dereference must not revive it. */
    assert_null(atomic_load(&seen));
    assert_null(ouro_weakref_get(weak));
    ouro_decref(weak);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        OURO_TEST(weak_get_after_death_decided_returns_null),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
