/*
 * oom_test.c - allocation failure: every allocating call reports it (NULL
 * or OURO_ENOMEM), leaves its arguments unchanged, and nothing leaks.
 *
 * The runtime's allocator hook fails every Nth allocation once armed.
 */
#include "failing_alloc.h"

#include <stdio.h>
#include <stdlib.h>

static int setup(void **state) { return failing_alloc_setup(state); }
static int teardown(void **state) { return failing_alloc_teardown(state); }

static void workload(unsigned long every)
{
    ouro_object *keep = ouro_list_new(0);
    ouro_object *dict = ouro_dict_new();
    assert_non_null(keep);
    assert_non_null(dict);
    fail_every = every;
    unsigned long seen_failures = failures;
    char key[32];
    for (int i = 0; i < 3000; i++) {
        ouro_object *v = ouro_int_new(1000 + i);
        if (!v)
            continue;                                  /* reported */
        size_t before = ouro_list_len(keep);
        int err = ouro_list_append(keep, v);
        assert_true(err == OURO_OK || err == OURO_ENOMEM);
        assert_int_equal(ouro_list_len(keep), before + (err == OURO_OK));
        snprintf(key, sizeof key, "k%d", i % 500);
        size_t dbefore = ouro_dict_len(dict);
        err = ouro_dict_set_cstr(dict, key, v);
        assert_true(err == OURO_OK || err == OURO_ENOMEM);
        if (err == OURO_ENOMEM)
            assert_int_equal(ouro_dict_len(dict), dbefore);
        ouro_object *t = ouro_tuple_pack(2, v, v);
        if (t) {
            assert_int_equal(ouro_tuple_len(t), 2);
            ouro_decref(t);
        }
        ouro_object *s = ouro_intern_cstr(key);
        if (s)
            assert_string_equal(ouro_str_data(s), key);
        ouro_decref(v);
        if (i % 100 == 0)
            ouro_safepoint();
    }
    assert_true(failures > seen_failures);
    fail_every = 0;
    /* Every value in the list is intact. */
    for (size_t i = 0; i < ouro_list_len(keep); i++) {
        ouro_object *v = ouro_list_get(keep, (ptrdiff_t)i);
        assert_true(ouro_int_value(v) >= 1000);
        ouro_decref(v);
    }
    ouro_decref(keep);
    ouro_decref(dict);
}

static void every_third_allocation_fails(void **state) { workload(3); }
static void every_seventh_allocation_fails(void **state) { workload(7); }
static void every_hundredth_allocation_fails(void **state) { workload(100); }

static void attach_reports_out_of_memory(void **state)
{
    ouro_thread_detach();
    fail_every = 1;   /* everything fails */
    assert_int_equal(ouro_thread_attach(), OURO_ENOMEM);
    assert_false(ouro_thread_is_attached());
    fail_every = 0;
    assert_int_equal(ouro_thread_attach(), OURO_OK);
}

/* A two-cycle of lists: a, returned, and *b, both held by the caller. */
static ouro_object *list_cycle(ouro_object **b)
{
    ouro_object *a = ouro_list_new(0);
    *b = ouro_list_new(0);
    assert_non_null(a);
    assert_non_null(*b);
    assert_int_equal(ouro_list_append(a, *b), OURO_OK);
    assert_int_equal(ouro_list_append(*b, a), OURO_OK);
    return a;
}

/* A two-cycle of lists, dropped by this thread (its decrements applied). */
static void drop_a_cycle(void)
{
    ouro_object *b, *a = list_cycle(&b);
    ouro_decref(a);
    ouro_decref(b);
}

/* The last decrement of a cycle found no memory to make it a candidate:
 * nothing else will ever decrement it again, so the collector must still
 * find it once memory is back (completeness, docs/collector.md). */
static void cycle_whose_buffering_failed_is_collected(void **state)
{
    (void)state;
    /* The collector thread attaches (allocates) first; nothing is
     * buffered, so the candidate set has no bitmap region yet. */
    assert_int_equal(ouro_gc_collect(), 0);
    ouro_object *a = ouro_list_new(0), *b = ouro_list_new(0);
    assert_int_equal(ouro_list_append(a, b), OURO_OK);
    assert_int_equal(ouro_list_append(b, a), OURO_OK);
    /* A spare decrement batch, so that applying ours needs no memory. */
    ouro_decref(ouro_list_new(0));
    ouro_flush();
    /* Buffering has to allocate the objects' bitmap region, and fails. */
    fail_every = 1;
    unsigned long seen = failures;
    ouro_decref(a);
    ouro_decref(b);
    ouro_flush();
    fail_every = 0;
    assert_true(failures > seen);   /* the buffering did fail */
    assert_int_equal(ouro_gc_get_count(), 0);
    assert_int_equal(ouro_test_live(), 2);
    assert_int_equal(ouro_gc_collect(), 2);
    assert_int_equal(ouro_test_live(), 0);
}

/* Collections that run out of memory at every possible point prove
 * nothing garbage and keep their candidates: the first clean collection
 * frees the cycle. */
static void collection_out_of_memory_keeps_the_cycle(void **state)
{
    (void)state;
    /* The collector thread attaches (allocates) before anything is armed:
     * an attach that fails is retried, and would keep failing. */
    assert_int_equal(ouro_gc_collect(), 0);
    /* A live cycle, a candidate in every collection: black from its outside
     * reference, whatever allocation fails, and never freed.  (The scan
     * without recorded edges has its own test, in internal_test.) */
    ouro_object *other, *live = list_cycle(&other);
    ouro_decref(other);
    for (unsigned long every = 1; every <= 40; every++) {
        drop_a_cycle();
        ouro_incref(other);
        ouro_decref(other);   /* a candidate again */
        ouro_flush();
        fail_every = every;
        calls = 0;
        int64_t found = ouro_gc_collect();
        fail_every = 0;
        assert_true(found == 0 || found == 2 || found == OURO_ENOMEM);
        if (found != 2) {
            int64_t again = ouro_gc_collect();
            if (again != 2)
                fail_msg("failing every %lu: found %lld, then %lld", every,
                         (long long)found, (long long)again);
        }
        assert_int_equal(ouro_test_live(), 2);   /* the live cycle */
    }
    ouro_decref(live);
    assert_int_equal(ouro_gc_collect(), 2);
    assert_int_equal(ouro_test_live(), 0);
}

/* A take that finds no memory leaves the candidates where they are, and
 * still counted for the automatic trigger: the count used to be zeroed as
 * the take began, so a program that then went quiet was never collected
 * again. */
static void failed_take_keeps_the_candidates_counted(void **state)
{
    (void)state;
    assert_int_equal(ouro_gc_collect(), 0);   /* the collector attaches */
    drop_a_cycle();
    ouro_flush();
    assert_int_equal(ouro_gc_get_count(), 2);
    fail_every = 1;
    int64_t found = ouro_gc_collect();
    fail_every = 0;
    assert_true(found == 0 || found == OURO_ENOMEM);
    assert_int_equal(ouro_gc_get_count(), 2);
    assert_int_equal(ouro_test_live(), 2);
    assert_int_equal(ouro_gc_collect(), 2);
    assert_int_equal(ouro_test_live(), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(every_third_allocation_fails, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(every_seventh_allocation_fails, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(every_hundredth_allocation_fails,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(attach_reports_out_of_memory, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            cycle_whose_buffering_failed_is_collected, setup, teardown),
        cmocka_unit_test_setup_teardown(
            collection_out_of_memory_keeps_the_cycle, setup, teardown),
        cmocka_unit_test_setup_teardown(
            failed_take_keeps_the_candidates_counted, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
