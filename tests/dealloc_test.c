/*
 * dealloc_test.c - finalizers (exactly once, resurrection), release of held
 * references, and freeing long chains in bounded slices.
 */
#include "fixture.h"

#include <stdlib.h>

static int finalized;
static ouro_object *lifeboat;   /* where a resurrecting finalizer stores */
static ouro_type node_type, phoenix_type, spawner_type;

static void count_finalize(ouro_object *self)
{
    (void)self;
    finalized++;
}

static void resurrect(ouro_object *self)
{
    finalized++;
    ouro_list_append(lifeboat, self);
}

static void spawn_garbage(ouro_object *self)
{
    finalized++;
    /* A finalizer may allocate, store and drop references. */
    ouro_object *l = ouro_list_new(0);
    ouro_object *s = ouro_str_from("made in a finalizer");
    ouro_list_append(l, s);
    ouro_record_set(self, 0, l);       /* released with self */
    ouro_decref(s);
    ouro_decref(l);
}

static int setup(void **state)
{
    ouro_record_type_init(&node_type, "Node", 1, count_finalize);
    ouro_record_type_init(&phoenix_type, "Phoenix", 1, resurrect);
    ouro_record_type_init(&spawner_type, "Spawner", 1, spawn_garbage);
    finalized = 0;
    return ouro_test_setup(state);
}

static void finalizer_runs_once_when_freed(void **state)
{
    ouro_object *n = ouro_record_new(&node_type);
    ouro_incref(n);
    ouro_decref(n);
    ouro_flush();
    assert_int_equal(finalized, 0);
    ouro_decref(n);
    ouro_flush();
    assert_int_equal(finalized, 1);
    ouro_stats st;
    ouro_get_stats(&st);
    assert_int_equal(st.finalized, 1);
}

static void resurrected_object_lives_and_is_not_finalized_again(void **state)
{
    lifeboat = ouro_list_new(0);
    ouro_object *p = ouro_record_new(&phoenix_type);
    ouro_object *payload = ouro_str_from("kept alive with its phoenix");
    ouro_record_set(p, 0, payload);
    ouro_decref(payload);
    ouro_decref(p);
    ouro_flush();
    assert_int_equal(finalized, 1);
    assert_int_equal(ouro_list_len(lifeboat), 1);
    ouro_object *back = ouro_list_get(lifeboat, 0);
    assert_ptr_equal(ouro_type_of(back), &phoenix_type);
    ouro_object *still = ouro_record_get(back, 0);
    assert_string_equal(ouro_str_data(still), "kept alive with its phoenix");
    assert_int_equal(ouro_refcnt(back), 2);
    ouro_stats st;
    ouro_get_stats(&st);
    assert_int_equal(st.resurrected, 1);
    ouro_decref(still);
    ouro_decref(back);
    ouro_decref(lifeboat);             /* second death: no finalizer */
    ouro_flush();
    assert_int_equal(finalized, 1);
}

static void finalizer_may_allocate_and_drop(void **state)
{
    ouro_object *s = ouro_record_new(&spawner_type);
    ouro_decref(s);
    ouro_flush();
    assert_int_equal(finalized, 1);
}

/* Build head -> n1 -> n2 -> ... (each node holds the next). */
static ouro_object *make_chain(size_t n)
{
    ouro_object *head = NULL;
    for (size_t i = 0; i < n; i++) {
        ouro_object *node = ouro_record_new(&node_type);
        assert_non_null(node);
        if (head) {
            ouro_record_set(node, 0, head);
            ouro_decref(head);
        }
        head = node;
    }
    return head;
}

#define CHAIN 1000000

static void long_chain_frees_iteratively(void **state)
{
    ouro_object *head = make_chain(CHAIN);
    ouro_decref(head);
    ouro_flush();                      /* would overflow a recursive free */
    assert_int_equal(finalized, CHAIN);
}

static void safepoints_free_in_bounded_slices(void **state)
{
    ouro_shutdown();
    ouro_config cfg = {.free_slice = 500, .gc_disabled = 1};
    assert_int_equal(ouro_init(&cfg), OURO_OK);
    assert_int_equal(ouro_thread_attach(), OURO_OK);
    ouro_object *head = make_chain(100000);
    ouro_decref(head);
    ouro_stats st;
    unsigned safepoints = 0;
    do {
        ouro_safepoint();
        safepoints++;
        ouro_get_stats(&st);
    } while (st.freed < 100000 && safepoints < 1000000);
    assert_int_equal(st.freed, 100000);
    assert_true(st.max_free_slice_objects <= 500);
    assert_true(safepoints >= 100000 / 500);
    print_message("largest slice: %llu objects, %llu ns\n",
                  (unsigned long long)st.max_free_slice_objects,
                  (unsigned long long)st.max_free_slice_ns);
}

/* Finalizers may read containers, so they never run while the thread is
 * offline: a safepoint inside a blocking region applies decrements but
 * leaves the freeing for later; a flush there comes online to do it.
 * (Found by review: a finalizer ran inside a blocking region.) */
static void no_finalizer_runs_while_offline(void **state)
{
    lifeboat = ouro_list_new(0);
    ouro_object *p = ouro_record_new(&phoenix_type);
    ouro_decref(p);
    ouro_blocking_begin();
    for (int i = 0; i < 100; i++)
        ouro_safepoint();
    assert_int_equal(finalized, 0);
    ouro_blocking_end();
    ouro_safepoint();
    ouro_safepoint();
    assert_int_equal(finalized, 1);            /* resurrected into lifeboat */
    ouro_object *q = ouro_record_new(&phoenix_type);
    ouro_decref(q);
    ouro_blocking_begin();
    ouro_flush();                              /* online for the flush */
    assert_int_equal(finalized, 2);
    ouro_blocking_end();
    ouro_decref(lifeboat);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(finalizer_runs_once_when_freed, setup,
                                        ouro_test_teardown),
        cmocka_unit_test_setup_teardown(
            resurrected_object_lives_and_is_not_finalized_again, setup,
            ouro_test_teardown),
        cmocka_unit_test_setup_teardown(finalizer_may_allocate_and_drop, setup,
                                        ouro_test_teardown),
        cmocka_unit_test_setup_teardown(long_chain_frees_iteratively, setup,
                                        ouro_test_teardown),
        cmocka_unit_test_setup_teardown(safepoints_free_in_bounded_slices,
                                        setup, ouro_test_teardown),
        cmocka_unit_test_setup_teardown(no_finalizer_runs_while_offline, setup,
                                        ouro_test_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
