/*
 * settle_test.c - white-box regression test for the collector's settle
 * step (docs/weakrefs.md, W4): a weak dereference of a garbage member made
 * after the second handshake, right before the settle step, must keep the
 * cycle alive.  Without the refinement under the side locks the collector
 * frees the cycle while the reader holds it, and the reader's next read
 * hits freed memory.
 */
#include "fixture.h"

#include "settle.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

static ouro_type node_type;
static ouro_object *weak;                 /* to a, in the garbage cycle */
static _Atomic int go, got, collected;
static _Atomic int intact;

/* On the collector thread, between W2 and the settle step's locks. */
static void let_the_reader_in(void)
{
    atomic_store_explicit(&ouro__settle_test_hook, NULL, memory_order_relaxed);
    atomic_store_explicit(&go, 1, memory_order_release);
    while (!atomic_load_explicit(&got, memory_order_acquire))
        sched_yield();
}

static void *reader(void *arg)
{
    (void)arg;
    ouro_thread_attach();
    while (!atomic_load_explicit(&go, memory_order_acquire))
        ouro_safepoint();   /* acknowledges the collector's handshakes */
    ouro_object *a = ouro_weakref_get(weak);
    atomic_store_explicit(&got, 1, memory_order_release);
    while (!atomic_load_explicit(&collected, memory_order_acquire))
        ouro_safepoint();
    if (a) {
        ouro_object *b = ouro_record_get(a, 0);
        ouro_object *back = ouro_record_get(b, 0);
        atomic_store(&intact, ouro_type_of(b) == &node_type && back == a);
        ouro_decref(back);
        ouro_decref(b);
        ouro_decref(a);
    }
    ouro_thread_detach();
    return NULL;
}

static void weak_get_before_settle_keeps_the_cycle(void **state)
{
    ouro_record_type_init(&node_type, "Node", 1, NULL);
    ouro_object *a = ouro_record_new(&node_type), *b = ouro_record_new(&node_type);
    ouro_record_set(a, 0, b);
    ouro_record_set(b, 0, a);
    weak = ouro_weakref_new(a, NULL, NULL);
    ouro_decref(a);
    ouro_decref(b);
    ouro_flush();
    atomic_store(&go, 0);
    atomic_store(&got, 0);
    atomic_store(&collected, 0);
    atomic_store(&intact, 0);
    atomic_store(&ouro__settle_test_hook, let_the_reader_in);
    pthread_t th;
    pthread_create(&th, NULL, reader, NULL);
    /* Found garbage by the handshakes, dereferenced before the settle. */
    assert_int_equal(ouro_gc_collect(), 0);
    atomic_store_explicit(&collected, 1, memory_order_release);
    ouro_blocking_begin();
    pthread_join(th, NULL);
    ouro_blocking_end();
    assert_true(atomic_load(&got));
    assert_true(atomic_load(&intact));
    /* Released by the reader: garbage again, and freed. */
    assert_int_equal(ouro_gc_collect(), 2);
    assert_null(ouro_weakref_get(weak));
    ouro_decref(weak);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        OURO_TEST(weak_get_before_settle_keeps_the_cycle),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
