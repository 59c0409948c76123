/*
 * pool_test.c - object memory comes from per-thread pools
 * (docs/allocator.md): freed blocks are reused by the thread that freed
 * them, reach other threads in batches (a detaching thread's, the
 * collector's), and every block goes back to the class it came from.  A
 * configured allocator, or AddressSanitizer, turns the pools off.
 */
#include "fixture.h"

#include <stdlib.h>
#include <string.h>

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifdef UNDER_ASAN
#include <sanitizer/lsan_interface.h>
static const int pools_expected = 0;
#else
static const int pools_expected = 1;
#endif

/* More than a thread's cache keeps back, and than the debug build's
 * quarantine of freed objects (256 per thread) delays. */
#define MANY 1200

static ouro_type rec_type;

static uint64_t pool_bytes(void)
{
    ouro_stats st;
    ouro_get_stats(&st);
    return st.pool_bytes;
}

static int contains(void *const *set, size_t n, const void *p)
{
    for (size_t i = 0; i < n; i++)
        if (set[i] == p)
            return 1;
    return 0;
}

static int setup(void **state)
{
    ouro_record_type_init(&rec_type, "Rec", 2, NULL);
    return ouro_test_setup(state);
}

/* Objects freed on this thread come back to it: the next allocation of
 * the same size is one of their blocks. */
static void freed_blocks_are_reused_by_the_thread(void **state)
{
    (void)state;
    static void *old[MANY];
    for (int i = 0; i < MANY; i++) {
        ouro_object *o = ouro_record_new(&rec_type);
        assert_non_null(o);
        old[i] = o;
        ouro_decref(o);
    }
    ouro_flush();   /* all of them freed, on this thread */
    assert_int_equal(pool_bytes() > 0, pools_expected);
    ouro_object *again = ouro_record_new(&rec_type);
    assert_non_null(again);
    if (pools_expected)
        assert_true(contains(old, MANY, again));
    ouro_decref(again);
}

struct made {
    void *addr[MANY];
};

static void *make_and_free_then_detach(void *arg)
{
    struct made *m = arg;
    assert_int_equal(ouro_thread_attach(), OURO_OK);
    for (int i = 0; i < MANY; i++) {
        ouro_object *o = ouro_record_new(&rec_type);
        m->addr[i] = o;
        ouro_decref(o);
    }
    ouro_flush();
    ouro_thread_detach();   /* its cache goes to the depot */
    return NULL;
}

/* A thread that detaches leaves its free blocks to the others: this
 * thread, whose cache of that class is empty, allocates one of them. */
static void a_detached_threads_blocks_reach_another_thread(void **state)
{
    (void)state;
    static struct made m;
    pthread_t th;
    ouro_blocking_begin();
    assert_int_equal(pthread_create(&th, NULL, make_and_free_then_detach, &m),
                     0);
    pthread_join(th, NULL);
    ouro_blocking_end();
    ouro_object *o = ouro_record_new(&rec_type);
    assert_non_null(o);
    if (pools_expected)
        assert_true(contains(m.addr, MANY, o));
    ouro_decref(o);
}

/* Garbage cycles are freed on the collector's thread; its full batches
 * go to the depot, where the mutator that made them finds them again. */
static void the_collectors_frees_reach_the_mutators(void **state)
{
    (void)state;
    static void *garbage[MANY];
    for (int i = 0; i < MANY; i += 2) {
        ouro_object *a = ouro_record_new(&rec_type);
        ouro_object *b = ouro_record_new(&rec_type);
        assert_int_equal(ouro_record_set(a, 0, b), OURO_OK);
        assert_int_equal(ouro_record_set(b, 0, a), OURO_OK);
        garbage[i] = a;
        garbage[i + 1] = b;
        ouro_decref(a);
        ouro_decref(b);
    }
    assert_int_equal(ouro_gc_collect(), MANY);
    assert_int_equal(ouro_test_live(), 0);
    /* This thread cut all of them from a chunk: its cache is empty, so the
     * next block comes from the depot, which holds the collector's. */
    ouro_object *o = ouro_record_new(&rec_type);
    assert_non_null(o);
    if (pools_expected)
        assert_true(contains(garbage, MANY, o));
    ouro_decref(o);
}

/* Strings and tuples of every length up to past the largest class, made,
 * partly freed and made again in turns: every block goes back to its own
 * class (a block freed into a larger class would be overrun by its next
 * object), so every live object keeps its contents. */
static void every_size_goes_back_to_its_class(void **state)
{
    (void)state;
    enum { LENS = 700, STEP = 3, N = LENS / STEP };
    static ouro_object *strs[N], *tups[N];
    static char buf[LENS];
    ouro_object *item = ouro_int_new(1000);
    for (int round = 0; round < 4; round++) {
        for (int k = 0; k < N; k++) {
            if (strs[k] && (k + round) % 2)
                continue;   /* keep every other one alive */
            if (strs[k]) {
                ouro_decref(strs[k]);
                ouro_decref(tups[k]);
            }
            size_t len = (size_t)k * STEP;
            memset(buf, 'a' + (k + round) % 26, len);
            strs[k] = ouro_str_new(buf, len);
            assert_non_null(strs[k]);
            size_t n = (size_t)k / 4;
            ouro_object *items[N / 4 + 1];
            for (size_t i = 0; i < n; i++)
                items[i] = item;
            tups[k] = ouro_tuple_new(n, n ? items : NULL);
            assert_non_null(tups[k]);
        }
        ouro_flush();   /* the decrements applied: blocks reused */
        for (int k = 0; k < N; k++) {
            size_t len = (size_t)k * STEP;
            assert_int_equal(ouro_str_len(strs[k]), len);
            const char *d = ouro_str_data(strs[k]);
            for (size_t i = 1; i < len; i++)
                assert_int_equal(d[i], d[0]);
            assert_int_equal(d[len], '\0');
            assert_int_equal(ouro_tuple_len(tups[k]), (size_t)k / 4);
            for (size_t i = 0; i < (size_t)k / 4; i++) {
                ouro_object *x = ouro_tuple_get(tups[k], i);
                assert_ptr_equal(x, item);
                ouro_decref(x);
            }
        }
    }
    for (int k = 0; k < N; k++) {
        ouro_decref(strs[k]);
        ouro_decref(tups[k]);
        strs[k] = tups[k] = NULL;
    }
    ouro_decref(item);
}

/* An immortal object is never freed, even by ouro_shutdown: its chunk stays,
 * so a later run's objects (cut from new chunks, which malloc would place
 * in the memory of freed ones) never overwrite it. */
static void an_immortal_outlives_shutdown(void **state)
{
    (void)state;
    ouro_config cfg = {.gc_disabled = 1};
    assert_int_equal(ouro_test_start(&cfg), 0);
    ouro_object *keep = ouro_record_new(&rec_type);
    assert_non_null(keep);
    assert_int_equal(ouro_make_immortal(keep), OURO_OK);
#ifdef UNDER_ASAN
    __lsan_ignore_object(keep);   /* the leak an immortal is */
#endif
    for (int i = 0; i < MANY; i++)
        ouro_decref(ouro_record_new(&rec_type));
    assert_int_equal(ouro_test_teardown(NULL), 0);

    assert_int_equal(ouro_test_start(&cfg), 0);
    static ouro_object *fresh[4 * MANY];
    for (int i = 0; i < 4 * MANY; i++) {
        fresh[i] = ouro_record_new(&rec_type);
        assert_non_null(fresh[i]);
        assert_ptr_not_equal(fresh[i], keep);
    }
    assert_ptr_equal(ouro_type_of(keep), &rec_type);
    assert_int_equal(ouro_refcnt(keep), OURO_IMMORTAL_REFCNT);
    for (int i = 0; i < 4 * MANY; i++)
        ouro_decref(fresh[i]);
    assert_int_equal(ouro_test_teardown(NULL), 0);
}

static atomic_long mallocs;

static void *counting_malloc(size_t size, void *ctx)
{
    (void)ctx;
    atomic_fetch_add(&mallocs, 1);
    return malloc(size);
}

static void counting_free(void *p, void *ctx)
{
    (void)ctx;
    free(p);
}

/* With its own allocator configured, a program sees one call per object:
 * the pools are off. */
static void a_configured_allocator_sees_every_object(void **state)
{
    (void)state;
    ouro_config cfg = {.gc_disabled = 1, .malloc_fn = counting_malloc,
                       .free_fn = counting_free};
    assert_int_equal(ouro_test_start(&cfg), 0);
    long before = atomic_load(&mallocs);
    for (int i = 0; i < 100; i++)
        ouro_decref(ouro_record_new(&rec_type));
    assert_int_equal(atomic_load(&mallocs) - before, 100);
    assert_int_equal(pool_bytes(), 0);
    assert_int_equal(ouro_test_teardown(NULL), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(freed_blocks_are_reused_by_the_thread,
                                        setup, ouro_test_teardown),
        cmocka_unit_test_setup_teardown(
            a_detached_threads_blocks_reach_another_thread, setup,
            ouro_test_teardown),
        cmocka_unit_test_setup_teardown(the_collectors_frees_reach_the_mutators,
                                        setup, ouro_test_teardown),
        cmocka_unit_test_setup_teardown(every_size_goes_back_to_its_class,
                                        setup, ouro_test_teardown),
        cmocka_unit_test(a_configured_allocator_sees_every_object),
        cmocka_unit_test(an_immortal_outlives_shutdown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
