/*
 * weakref_test.c - weak references: dereference, clearing, callbacks, the
 * collector's rules (cleared before finalizers, no callback for garbage
 * weak references, no resurrection through a callback), and a weak
 * dereference racing with the last release on several threads.
 */
#include "fixture.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

static ouro_type node_type, fin_type, empty_type;
static int calls;
static ouro_object *last_called;
static char events[32];
static int nevents;
static ouro_object *watched;   /* a weak reference the finalizer checks */

static void note(char c)
{
    if (nevents < (int)sizeof events - 1)
        events[nevents++] = c;
}

static void on_death(ouro_object *wr, ouro_object *data)
{
    calls++;
    last_called = wr;
    /* The referent is gone for the callback too: no resurrection. */
    ouro_object *r = ouro_weakref_get(wr);
    assert_null(r);
    note(data ? ouro_str_data(data)[0] : 'c');
}

static void fin_check(ouro_object *self)
{
    /* Every weak reference to a dying object is cleared before its
     * finalizer runs. */
    if (watched)
        assert_null(ouro_weakref_get(watched));
    note('F');
}

static int setup(void **state)
{
    ouro_record_type_init(&node_type, "Node", 2, NULL);
    ouro_record_type_init(&fin_type, "Fin", 2, fin_check);
    ouro_record_type_init(&empty_type, "Empty", 0, NULL);   /* untracked */
    calls = 0;
    last_called = NULL;
    nevents = 0;
    memset(events, 0, sizeof events);
    watched = NULL;
    return ouro_test_setup(state);
}

#define TEST(fn) cmocka_unit_test_setup_teardown(fn, setup, ouro_test_teardown)

static void get_returns_a_new_reference_then_null(void **state)
{
    ouro_object *l = ouro_list_new(0);
    ouro_object *w = ouro_weakref_new(l, NULL, NULL);
    assert_non_null(w);
    assert_int_equal(ouro_refcnt(l), 1);   /* weak: not counted */
    assert_int_equal(ouro_weakref_count(l), 1);
    ouro_object *got = ouro_weakref_get(w);
    assert_ptr_equal(got, l);
    assert_int_equal(ouro_refcnt(l), 2);
    ouro_decref(got);
    ouro_decref(l);
    ouro_flush();
    assert_null(ouro_weakref_get(w));
    assert_null(ouro_weakref_get(w));   /* and stays so */
    ouro_decref(w);
}

static void types_must_opt_in(void **state)
{
    ouro_object *i = ouro_int_new(1000), *s = ouro_str_from("x");
    assert_null(ouro_weakref_new(i, NULL, NULL));
    assert_null(ouro_weakref_new(s, NULL, NULL));
    /* NULL, and a get of what is no weak reference, abort (errors_test). */
    ouro_object *d = ouro_dict_new(), *r = ouro_record_new(&node_type);
    ouro_object *wd = ouro_weakref_new(d, NULL, NULL);
    ouro_object *wr = ouro_weakref_new(r, NULL, NULL);
    ouro_object *ww = ouro_weakref_new(wd, NULL, NULL);   /* of a weakref */
    assert_non_null(wd);
    assert_non_null(wr);
    assert_non_null(ww);
    ouro_decref(wd);
    ouro_flush();
    assert_null(ouro_weakref_get(ww));
    ouro_decref(ww);
    ouro_decref(wr);
    ouro_decref(r);
    ouro_decref(d);
    ouro_decref(i);
    ouro_decref(s);
}

static void callback_runs_once_after_death_with_data(void **state)
{
    ouro_object *l = ouro_list_new(0), *tag = ouro_str_from("A");
    ouro_object *w1 = ouro_weakref_new(l, on_death, tag);
    ouro_object *w2 = ouro_weakref_new(l, on_death, NULL);
    ouro_decref(tag);
    ouro_object *data = ouro_weakref_data(w1);
    assert_string_equal(ouro_str_data(data), "A");
    ouro_decref(data);
    assert_int_equal(ouro_weakref_count(l), 2);
    ouro_flush();
    assert_int_equal(calls, 0);
    ouro_decref(l);
    ouro_flush();
    assert_int_equal(calls, 2);
    /* Newest registration first. */
    assert_string_equal(events, "cA");
    ouro_flush();
    assert_int_equal(calls, 2);
    ouro_decref(w1);
    ouro_decref(w2);
}

static void untracked_referent(void **state)
{
    ouro_object *e = ouro_record_new(&empty_type);
    assert_false(ouro_gc_is_tracked(e));
    ouro_object *w = ouro_weakref_new(e, on_death, NULL);
    ouro_object *got = ouro_weakref_get(w);
    assert_ptr_equal(got, e);
    ouro_decref(got);
    ouro_decref(e);
    ouro_flush();
    assert_null(ouro_weakref_get(w));
    assert_int_equal(calls, 1);
    ouro_decref(w);
}

static void weakref_dying_first_is_forgotten(void **state)
{
    ouro_object *l = ouro_list_new(0);
    ouro_object *w = ouro_weakref_new(l, on_death, NULL);
    ouro_decref(w);
    ouro_flush();
    assert_int_equal(ouro_weakref_count(l), 0);
    ouro_decref(l);
    ouro_flush();
    assert_int_equal(calls, 0);
}

static void callback_runs_before_the_finalizer(void **state)
{
    ouro_object *f = ouro_record_new(&fin_type), *tag = ouro_str_from("W");
    ouro_object *w = ouro_weakref_new(f, on_death, tag);
    watched = w;
    ouro_decref(tag);
    ouro_decref(f);
    ouro_flush();
    assert_string_equal(events, "WF");
    ouro_decref(w);
}

/* ---- the collector's rules ----------------------------------------------- */

static void garbage_cycle_clears_weakrefs_before_finalizers(void **state)
{
    ouro_object *a = ouro_record_new(&fin_type), *b = ouro_record_new(&node_type);
    ouro_record_set(a, 0, b);
    ouro_record_set(b, 0, a);
    ouro_object *tag = ouro_str_from("W");
    ouro_object *wa = ouro_weakref_new(a, on_death, tag);
    ouro_object *wb = ouro_weakref_new(b, NULL, NULL);
    ouro_decref(tag);
    watched = wa;
    ouro_decref(a);
    ouro_decref(b);
    assert_int_equal(ouro_gc_collect(), 2);
    assert_int_equal(calls, 1);
    assert_ptr_equal(last_called, wa);
    assert_string_equal(events, "WF");
    assert_null(ouro_weakref_get(wa));
    assert_null(ouro_weakref_get(wb));
    ouro_decref(wa);
    ouro_decref(wb);
}

static void garbage_weakref_callback_is_not_called(void **state)
{
    /* a <-> b, and a weak reference to a stored in b: all three garbage. */
    ouro_object *a = ouro_record_new(&node_type), *b = ouro_record_new(&node_type);
    ouro_record_set(a, 0, b);
    ouro_record_set(b, 0, a);
    ouro_object *w = ouro_weakref_new(a, on_death, NULL);
    ouro_record_set(b, 1, w);
    ouro_decref(w);
    ouro_decref(a);
    ouro_decref(b);
    assert_int_equal(ouro_gc_collect(), 3);
    assert_int_equal(calls, 0);
}

static void garbage_weakref_to_live_object_is_unlinked(void **state)
{
    /* w <-> r (r is w's data and holds w); the referent x stays alive. */
    ouro_object *x = ouro_list_new(0), *r = ouro_record_new(&node_type);
    ouro_object *w = ouro_weakref_new(x, on_death, r);
    ouro_record_set(r, 0, w);
    ouro_decref(w);
    ouro_decref(r);
    assert_int_equal(ouro_weakref_count(x), 1);
    assert_int_equal(ouro_gc_collect(), 2);
    assert_int_equal(ouro_weakref_count(x), 0);
    ouro_decref(x);
    ouro_flush();
    assert_int_equal(calls, 0);
}

static void dereferenced_member_survives_the_collection(void **state)
{
    /* Garbage by counting, but a weak dereference takes a reference
     * before the collection: the cycle is alive and stays intact. */
    ouro_object *a = ouro_record_new(&node_type), *b = ouro_record_new(&node_type);
    ouro_record_set(a, 0, b);
    ouro_record_set(b, 0, a);
    ouro_object *w = ouro_weakref_new(b, on_death, NULL);
    ouro_decref(a);
    ouro_decref(b);
    ouro_object *back = ouro_weakref_get(w);
    assert_non_null(back);
    assert_int_equal(ouro_gc_collect(), 0);
    ouro_object *a2 = ouro_record_get(back, 0);
    assert_ptr_equal(ouro_type_of(a2), &node_type);
    ouro_decref(a2);
    ouro_decref(back);
    assert_int_equal(ouro_gc_collect(), 2);
    assert_int_equal(calls, 1);
    ouro_decref(w);
}

/* ---- a weak dereference racing with the last release ---------------------- */

#define READERS 2
#define ROUNDS 400
#define PER_ROUND 8

static ouro_object *board;            /* list of PER_ROUND weak references */
static _Atomic int stop_reading;
static _Atomic uint64_t hits, misses, race_calls, bad;

static void count_call(ouro_object *wr, ouro_object *data)
{
    if (ouro_weakref_get(wr) != NULL)
        atomic_fetch_add_explicit(&bad, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&race_calls, 1, memory_order_relaxed);
}

static void *reader(void *arg)
{
    (void)arg;
    ouro_thread_attach();
    while (!atomic_load_explicit(&stop_reading, memory_order_acquire)) {
        for (ptrdiff_t i = 0; i < PER_ROUND; i++) {
            ouro_object *w = ouro_list_get(board, i);
            if (!w)
                continue;
            /* None until the first round's weak references are there. */
            ouro_object *r = ouro_type_of(w) == &ouro_weakref_type
                                 ? ouro_weakref_get(w) : NULL;
            if (r) {
                /* Intact: the right type, readable. */
                if (ouro_type_of(r) != &ouro_list_type ||
                    ouro_list_len(r) != 1)
                    atomic_fetch_add_explicit(&bad, 1, memory_order_relaxed);
                atomic_fetch_add_explicit(&hits, 1, memory_order_relaxed);
                ouro_decref(r);
            } else {
                atomic_fetch_add_explicit(&misses, 1, memory_order_relaxed);
            }
            ouro_decref(w);
        }
        ouro_safepoint();
    }
    ouro_thread_detach();
    return NULL;
}

static void weak_get_races_with_the_last_release(void **state)
{
    board = ouro_list_new(PER_ROUND);
    for (int i = 0; i < PER_ROUND; i++)
        ouro_list_append(board, ouro_none());
    atomic_store(&stop_reading, 0);
    atomic_store(&hits, 0);
    atomic_store(&misses, 0);
    atomic_store(&race_calls, 0);
    atomic_store(&bad, 0);
    pthread_t th[READERS];
    for (int i = 0; i < READERS; i++)
        pthread_create(&th[i], NULL, reader, NULL);
    ouro_object *one = ouro_int_new(7);
    /* Every weak reference outlives its referent, so every one is called. */
    ouro_object *keep = ouro_list_new(ROUNDS * PER_ROUND);
    for (int round = 0; round < ROUNDS; round++) {
        ouro_object *objs[PER_ROUND];
        for (int i = 0; i < PER_ROUND; i++) {
            objs[i] = ouro_list_new(0);
            ouro_list_append(objs[i], one);
            ouro_object *w = ouro_weakref_new(objs[i], count_call, NULL);
            ouro_list_set(board, i, w);
            ouro_list_append(keep, w);
            ouro_decref(w);
        }
        ouro_safepoint();
        /* Once, a reader must have found a referent alive: on a busy
         * machine the readers may otherwise not run before the rounds end
         * (a CI run saw no get at all). */
        while (round == 0 && atomic_load(&hits) == 0)
            ouro_safepoint();
        /* The last strong references go while readers dereference. */
        for (int i = 0; i < PER_ROUND; i++)
            ouro_decref(objs[i]);
        ouro_safepoint();
    }
    ouro_decref(one);
    ouro_flush();
    atomic_store_explicit(&stop_reading, 1, memory_order_release);
    ouro_blocking_begin();
    for (int i = 0; i < READERS; i++)
        pthread_join(th[i], NULL);
    ouro_blocking_end();
    ouro_flush();
    assert_int_equal(atomic_load(&bad), 0);
    /* Every referent died and every weak reference was called once. */
    assert_int_equal(atomic_load(&race_calls), (uint64_t)ROUNDS * PER_ROUND);
    print_message("weak gets: %llu hits, %llu misses\n",
                  (unsigned long long)atomic_load(&hits),
                  (unsigned long long)atomic_load(&misses));
    assert_true(atomic_load(&hits) > 0);
    for (ptrdiff_t i = 0; i < PER_ROUND; i++) {
        ouro_object *w = ouro_list_get(board, i);
        assert_null(ouro_weakref_get(w));
        ouro_decref(w);
    }
    ouro_decref(board);
    ouro_decref(keep);
}

/* ---- weak dereferences racing with the collector ---------------------------
 * Readers dereference weak references to members of garbage cycles while
 * the collector finds and frees them.  A reader that gets a member reads
 * through it to the other member: if the settle step let a dereference
 * through after the garbage was decided, that read would hit freed memory
 * (ASan; poisoned types in debug builds). */

#define CYCLE_ROUNDS 300

static _Atomic int stop_collecting;

static void *reader_of_cycles(void *arg)
{
    (void)arg;
    ouro_thread_attach();
    while (!atomic_load_explicit(&stop_reading, memory_order_acquire)) {
        for (ptrdiff_t i = 0; i < PER_ROUND; i++) {
            ouro_object *w = ouro_list_get(board, i);
            ouro_object *a = w && ouro_type_of(w) == &ouro_weakref_type
                                 ? ouro_weakref_get(w) : NULL;
            if (a) {
                ouro_object *b = ouro_record_get(a, 0);
                ouro_object *back = b ? ouro_record_get(b, 0) : NULL;
                if (ouro_type_of(a) != &node_type || !b ||
                    ouro_type_of(b) != &node_type || back != a)
                    atomic_fetch_add_explicit(&bad, 1, memory_order_relaxed);
                atomic_fetch_add_explicit(&hits, 1, memory_order_relaxed);
                ouro_xdecref(back);
                ouro_xdecref(b);
                ouro_decref(a);
            }
            ouro_xdecref(w);
        }
        ouro_safepoint();
    }
    ouro_thread_detach();
    return NULL;
}

static void *collecting(void *arg)
{
    (void)arg;
    ouro_thread_attach();
    while (!atomic_load_explicit(&stop_collecting, memory_order_acquire))
        ouro_gc_collect();
    ouro_thread_detach();
    return NULL;
}

static void weak_gets_race_with_the_collector(void **state)
{
    board = ouro_list_new(PER_ROUND);
    for (int i = 0; i < PER_ROUND; i++)
        ouro_list_append(board, ouro_none());
    atomic_store(&stop_reading, 0);
    atomic_store(&stop_collecting, 0);
    atomic_store(&hits, 0);
    atomic_store(&race_calls, 0);
    atomic_store(&bad, 0);
    ouro_object *keep = ouro_list_new(CYCLE_ROUNDS * PER_ROUND);
    pthread_t th[READERS], gc_thread;
    for (int i = 0; i < READERS; i++)
        pthread_create(&th[i], NULL, reader_of_cycles, NULL);
    pthread_create(&gc_thread, NULL, collecting, NULL);
    for (int round = 0; round < CYCLE_ROUNDS; round++) {
        for (int i = 0; i < PER_ROUND; i++) {
            ouro_object *a = ouro_record_new(&node_type);
            ouro_object *b = ouro_record_new(&node_type);
            ouro_record_set(a, 0, b);
            ouro_record_set(b, 0, a);
            ouro_object *w = ouro_weakref_new(a, count_call, NULL);
            ouro_list_set(board, i, w);
            ouro_list_append(keep, w);
            ouro_decref(w);
            ouro_decref(a);   /* garbage from now on, but weakly reachable */
            ouro_decref(b);
        }
        ouro_safepoint();
    }
    atomic_store_explicit(&stop_reading, 1, memory_order_release);
    ouro_blocking_begin();
    for (int i = 0; i < READERS; i++)
        pthread_join(th[i], NULL);
    atomic_store_explicit(&stop_collecting, 1, memory_order_release);
    pthread_join(gc_thread, NULL);
    ouro_blocking_end();
    ouro_gc_collect();
    ouro_gc_collect();
    assert_int_equal(atomic_load(&bad), 0);
    assert_int_equal(atomic_load(&race_calls),
                     (uint64_t)CYCLE_ROUNDS * PER_ROUND);
    print_message("weak gets of garbage members: %llu hits\n",
                  (unsigned long long)atomic_load(&hits));
    ouro_decref(board);
    ouro_decref(keep);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(get_returns_a_new_reference_then_null),
        TEST(types_must_opt_in),
        TEST(callback_runs_once_after_death_with_data),
        TEST(untracked_referent),
        TEST(weakref_dying_first_is_forgotten),
        TEST(callback_runs_before_the_finalizer),
        TEST(garbage_cycle_clears_weakrefs_before_finalizers),
        TEST(garbage_weakref_callback_is_not_called),
        TEST(garbage_weakref_to_live_object_is_unlinked),
        TEST(dereferenced_member_survives_the_collection),
        TEST(weak_get_races_with_the_last_release),
        TEST(weak_gets_race_with_the_collector),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
