/*
 * pacing_test.c - white-box test of pacing (docs/collector.md, "Pacing"):
 * while a collection runs, mutators may buffer only so many new
 * candidates; past that, their safepoints wait for the collection (for a
 * bounded time), so that the collector is not outrun for ever.
 */
#include "fixture.h"

#include "gc.h"
#include "hook_wait.h"
#include "thread.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>

#define MANY 70000   /* above the pacing floor of 65536 new candidates */

static _Atomic int collecting, release_collector;

/* On the collector thread, after the first candidate's walk: the
 * collection stays running (and quiescent) until the test lets it go. */
static void hold_the_collection(ouro_object *walked)
{
    (void)walked;
    atomic_store_explicit(&ouro__walk_test_hook, NULL, memory_order_relaxed);
    atomic_store_explicit(&collecting, 1, memory_order_release);
    hook_wait_quiescent(&release_collector);
}

static void *collect(void *arg)
{
    (void)arg;
    ouro_thread_attach();
    ouro_gc_collect();
    ouro_thread_detach();
    return NULL;
}

/* Hold a collection (the walk hook), buffer MANY new candidates, pass a
 * safepoint, let the collection go; whether pacing was raised and how
 * many safepoints waited. */
static void run_behind_a_held_collection(bool *raised, uint64_t *waited)
{
    ouro_object **objs = malloc(MANY * sizeof *objs);
    assert_non_null(objs);
    for (int i = 0; i < MANY; i++)
        assert_non_null(objs[i] = ouro_list_new(0));
    ouro_object *cycle = ouro_list_new(0);   /* one candidate to take */
    assert_int_equal(ouro_list_append(cycle, cycle), OURO_OK);
    ouro_decref(cycle);
    ouro_flush();

    atomic_store(&collecting, 0);
    atomic_store(&release_collector, 0);
    atomic_store(&ouro__walk_test_hook, hold_the_collection);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, collect, NULL), 0);
    while (!atomic_load_explicit(&collecting, memory_order_acquire))
        ouro_safepoint();

    /* The collection took one candidate; buffer MANY new ones. */
    ouro_gc_stats before, after;
    ouro_gc_get_stats(&before);
    for (int i = 0; i < MANY; i++) {
        ouro_incref(objs[i]);
        ouro_decref(objs[i]);
    }
    ouro_flush();
    *raised = atomic_load(&ouro__gc_pacing);
    ouro_safepoint();   /* waits, a bounded while, if pacing */
    ouro_gc_get_stats(&after);
    *waited = after.paced - before.paced;

    atomic_store_explicit(&release_collector, 1, memory_order_release);
    ouro_blocking_begin();
    pthread_join(th, NULL);
    ouro_blocking_end();
    /* The collection ended: no more pacing. */
    assert_false(atomic_load(&ouro__gc_pacing));
    ouro_gc_get_stats(&before);
    ouro_safepoint();
    ouro_gc_get_stats(&after);
    assert_int_equal(after.paced, before.paced);

    for (int i = 0; i < MANY; i++)
        ouro_decref(objs[i]);
    free(objs);
    assert_int_equal(ouro_gc_collect(), 0);   /* the candidates were live */
}

static void safepoints_wait_when_the_collector_falls_behind(void **state)
{
    (void)state;
    bool raised;
    uint64_t waited;
    run_behind_a_held_collection(&raised, &waited);
    assert_true(raised);
    assert_int_equal(waited, 1);
}

/* On a heap of H tracked objects the collection allows H/4 new
 * candidates however few it took: MANY new ones on a heap of 5 MANY are
 * no reason to wait, but on a heap a little under 4 MANY (H/4 above the
 * floor of 65536, below MANY) they are. */
static void behind_on_a_heap_of(size_t extra, bool *raised, uint64_t *waited)
{
    ouro_object **heap = malloc(extra * sizeof *heap);
    assert_non_null(heap);
    for (size_t i = 0; i < extra; i++)
        assert_non_null(heap[i] = ouro_list_new(0));
    run_behind_a_held_collection(raised, waited);
    for (size_t i = 0; i < extra; i++)
        ouro_decref(heap[i]);
    free(heap);
}

static void a_large_heap_allows_a_quarter_of_it(void **state)
{
    (void)state;
    bool raised;
    uint64_t waited;
    behind_on_a_heap_of(4 * MANY, &raised, &waited);   /* H ~ 5 MANY */
    assert_false(raised);
    assert_int_equal(waited, 0);
    behind_on_a_heap_of(200000, &raised, &waited);     /* H/4 ~ 67,500 */
    assert_true(raised);
    assert_int_equal(waited, 1);
}

static int setup_pacing_off(void **state)
{
    (void)state;
    ouro_config cfg = {.gc_disabled = 1, .gc_pace_max_us = -1};
    return ouro_test_start(&cfg);
}

static void pacing_can_be_turned_off(void **state)
{
    (void)state;
    bool raised;
    uint64_t waited;
    run_behind_a_held_collection(&raised, &waited);
    assert_false(raised);
    assert_int_equal(waited, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        OURO_TEST(safepoints_wait_when_the_collector_falls_behind),
        OURO_TEST(a_large_heap_allows_a_quarter_of_it),
        cmocka_unit_test_setup_teardown(pacing_can_be_turned_off,
                                        setup_pacing_off, ouro_test_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
