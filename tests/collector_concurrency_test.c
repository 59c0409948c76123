/*
 * collector_concurrency_test.c - mutators keep building, linking,
 * unlinking and dropping cycles in a shared pool while the collector runs
 * continuously (automatic collections at a tiny threshold plus a thread
 * calling ouro_gc_collect in a loop).
 *
 * Checked: every object reached is intact (type and payload), so nothing
 * live was freed (debug builds poison freed headers; ASan catches use after
 * free); at the end every object has been freed exactly once (object
 * accounting returns to zero; a double free aborts under ASan and in the
 * debug quarantine).
 */
#include "fixture.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#define MUTATORS 3
#define POOL 48
#define OPS 60000

static ouro_type node_type;
static ouro_object *pool;        /* a record with POOL slots */
static ouro_type pool_type;
static ouro_object *payload;     /* every node's slot 1 */
static _Atomic int stop_collecting;
static _Atomic uint64_t checks;

static void check_node(ouro_object *n)
{
    assert_ptr_equal(ouro_type_of(n), &node_type);
    ouro_object *p = ouro_record_get(n, 1);
    assert_ptr_equal(p, payload);
    ouro_decref(p);
    atomic_fetch_add_explicit(&checks, 1, memory_order_relaxed);
}

static ouro_object *new_node(void)
{
    ouro_object *n = ouro_record_new(&node_type);
    ouro_record_set(n, 1, payload);
    return n;
}

static uint64_t next_rand(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void *mutator(void *arg)
{
    uint64_t seed = (uint64_t)(uintptr_t)arg * 0x9e3779b97f4a7c15ull + 1;
    ouro_thread_attach();
    for (int op = 0; op < OPS; op++) {
        uint64_t r = next_rand(&seed);
        uint32_t i = (uint32_t)(r % POOL), j = (uint32_t)((r >> 8) % POOL);
        switch ((r >> 16) % 6) {
        case 0: {   /* a new two-object cycle into slot i */
            ouro_object *a = new_node(), *b = new_node();
            ouro_record_set(a, 0, b);
            ouro_record_set(b, 0, a);
            ouro_record_set(pool, i, a);
            ouro_decref(a);
            ouro_decref(b);
            break;
        }
        case 1: {   /* link pool[i] -> pool[j] (may close bigger cycles) */
            ouro_object *a = ouro_record_get(pool, i);
            ouro_object *b = ouro_record_get(pool, j);
            if (a && b)
                ouro_record_set(a, 0, b);
            ouro_xdecref(a);
            ouro_xdecref(b);
            break;
        }
        case 2: {   /* unlink */
            ouro_object *a = ouro_record_get(pool, i);
            if (a)
                ouro_record_set(a, 0, NULL);
            ouro_xdecref(a);
            break;
        }
        case 3:     /* drop: whatever was there may become garbage */
            ouro_record_set(pool, i, NULL);
            break;
        default: {  /* walk a few links from pool[i], checking each node */
            ouro_object *n = ouro_record_get(pool, i);
            for (int k = 0; n && k < 4; k++) {
                check_node(n);
                ouro_object *next = ouro_record_get(n, 0);
                ouro_decref(n);
                n = next;
            }
            ouro_xdecref(n);
            break;
        }
        }
        if (op % 16 == 0)
            ouro_safepoint();
    }
    ouro_thread_detach();
    return NULL;
}

static void *collector_loop(void *arg)
{
    (void)arg;
    ouro_thread_attach();
    while (!atomic_load(&stop_collecting))
        assert_true(ouro_gc_collect() >= 0);
    ouro_thread_detach();
    return NULL;
}

static void cycles_churn_while_the_collector_runs(void **state)
{
    ouro_record_type_init(&node_type, "Node", 2, NULL);
    ouro_record_type_init(&pool_type, "Pool", POOL, NULL);
    pool = ouro_record_new(&pool_type);
    payload = ouro_str_from("payload");
    ouro_gc_set_threshold(32);
    ouro_gc_enable();
    atomic_store(&stop_collecting, 0);
    pthread_t m[MUTATORS], c;
    ouro_blocking_begin();
    pthread_create(&c, NULL, collector_loop, NULL);
    for (long i = 0; i < MUTATORS; i++)
        pthread_create(&m[i], NULL, mutator, (void *)(i + 1));
    for (int i = 0; i < MUTATORS; i++)
        pthread_join(m[i], NULL);
    atomic_store(&stop_collecting, 1);
    pthread_join(c, NULL);
    ouro_blocking_end();
    ouro_gc_disable();

    ouro_gc_stats st;
    ouro_gc_get_stats(&st);
    print_message("collections %llu, unreachable %llu, collected %llu, "
                  "dropped by validation %llu, zombies %llu, checks %llu\n",
                  (unsigned long long)st.collections,
                  (unsigned long long)st.unreachable,
                  (unsigned long long)st.collected,
                  (unsigned long long)st.aborted,
                  (unsigned long long)st.zombies,
                  (unsigned long long)atomic_load(&checks));
    assert_true(st.collections > 0);
    assert_true(st.collected > 0);

    /* Release everything; what is left are cycles for the collector. */
    for (uint32_t i = 0; i < POOL; i++)
        ouro_record_set(pool, i, NULL);
    ouro_decref(pool);
    ouro_flush();
    while (ouro_gc_collect() > 0)
        ;
    ouro_decref(payload);
    /* the fixture's teardown checks that nothing is left */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        OURO_TEST(cycles_churn_while_the_collector_runs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
