/*
 * threads_test.c - attaching, detaching, exiting without detaching, merge
 * hand-over between threads, blocking regions and safepoints.
 */
#include "fixture.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

static ouro_object *shared_list;

static void attach_rules(void **state)
{
    assert_true(ouro_thread_is_attached());
    assert_int_equal(ouro_thread_attach(), OURO_ESTATE);
    assert_int_equal(ouro_init(NULL), OURO_ESTATE);
    assert_int_not_equal(ouro_thread_id(), 0);
}

static void *exit_without_detach(void *arg)
{
    (void)arg;
    assert_int_equal(ouro_thread_attach(), OURO_OK);
    ouro_object *mine = ouro_str_from("made by a thread that exits");
    ouro_list_append(shared_list, mine);   /* the list keeps it */
    ouro_object *garbage = ouro_list_new(0);
    ouro_decref(garbage);                  /* pending at exit */
    ouro_decref(mine);
    return NULL;                           /* no ouro_thread_detach */
}

static void thread_exit_without_detach_is_cleaned_up(void **state)
{
    shared_list = ouro_list_new(0);
    pthread_t th;
    pthread_create(&th, NULL, exit_without_detach, NULL);
    pthread_join(th, NULL);
    ouro_stats st;
    ouro_get_stats(&st);
    assert_int_equal(st.attached_threads, 1);
    /* Its decrements still waiting for a grace period were handed over and
     * are applied by the next thread to flush; what the list keeps survived
     * and is readable. */
    ouro_flush();
    ouro_get_stats(&st);
    assert_int_equal(st.live_objects, 2);
    assert_int_equal(ouro_list_len(shared_list), 1);
    ouro_object *s = ouro_list_get(shared_list, 0);
    assert_string_equal(ouro_str_data(s), "made by a thread that exits");
    assert_int_equal(ouro_refcnt(s), 2);
    ouro_decref(s);
    ouro_decref(shared_list);      /* frees the string via an orphan merge */
    assert_int_equal(ouro_test_live(), 0);
}

/* Owner alive: a non-owner's decrement that crosses zero is queued to the
 * owner, which merges at its next safepoint. */
static _Atomic int phase;
static ouro_object *handed;

/* Makes `handed` with 1 + arg references (its local count, owned here),
 * which main takes over; merges when main says so, then waits to leave.
 * It waits in a blocking region: a safepoint would process its merge queue
 * as soon as main queues a request, and main checks in between that the
 * request is queued and the object not yet freed. */
static void *owner_thread(void *arg)
{
    ouro_thread_attach();
    handed = ouro_list_new(0);
    for (intptr_t i = 0; i < (intptr_t)arg; i++)
        ouro_incref(handed);
    ouro_blocking_begin();                 /* grace periods go on without us */
    atomic_store(&phase, 1);              /* main takes over our references */
    while (atomic_load(&phase) != 2)
        sched_yield();
    ouro_blocking_end();
    ouro_flush();                          /* merges the queued request */
    atomic_store(&phase, 3);
    while (atomic_load(&phase) != 4)
        ouro_safepoint();
    ouro_thread_detach();
    return NULL;
}

/* The owner makes `handed` with 1 + extra references and waits; `drop`
 * releases them from here, which queues exactly one merge request and
 * frees nothing until the owner merges, which frees the object. */
static void hand_over_and_merge(intptr_t extra, void (*drop)(void))
{
    atomic_store(&phase, 0);
    pthread_t th;
    pthread_create(&th, NULL, owner_thread, (void *)extra);
    while (atomic_load(&phase) != 1)
        ouro_safepoint();
    ouro_stats before;
    ouro_get_stats(&before);
    drop();
    ouro_flush();                          /* applies it: queued to the owner */
    ouro_stats mid;
    ouro_get_stats(&mid);
    assert_int_equal(mid.queued_merges, before.queued_merges + 1);
    assert_int_equal(mid.freed, before.freed);
    atomic_store(&phase, 2);
    while (atomic_load(&phase) != 3)
        ouro_safepoint();
    ouro_stats after;
    ouro_get_stats(&after);
    assert_int_equal(after.queued_merges, before.queued_merges + 1);
    assert_int_equal(after.freed, before.freed + 1);
    atomic_store(&phase, 4);
    pthread_join(th, NULL);
}

static void drop_the_one_reference(void)
{
    ouro_decref(handed);                   /* crosses zero on the shared side */
}

static void queued_merge_frees_on_owner(void **state)
{
    hand_over_and_merge(0, drop_the_one_reference);
}

/* A run of decrements by a non-owner is applied in one step: here it takes
 * the shared count from 2 past zero to -2, so one reference goes to the
 * owner's merge queue, and the owner's merge (local 3, shared -2, less the
 * queued reference) frees the object. */
static void drop_a_run_of_five(void)
{
    ouro_incref(handed);
    ouro_incref(handed);                   /* shared count 2 */
    assert_int_equal(ouro_refcnt(handed), 5);
    for (int i = 0; i < 5; i++)
        ouro_decref(handed);               /* one run of 5 in the batch */
}

static void decrement_run_crosses_zero_once(void **state)
{
    hand_over_and_merge(2, drop_a_run_of_five);   /* 3 references */
}

/* A run on a merged object: the decrement that reaches zero frees it. */
static void merged_run_frees_exactly_at_zero(void **state)
{
    ouro_object *d = ouro_test_orphan_dict();
    assert_non_null(d);
    for (int i = 0; i < 6; i++)
        ouro_incref(d);
    assert_int_equal(ouro_refcnt(d), 7);
    for (int i = 0; i < 6; i++)
        ouro_decref(d);                    /* a run of 6 */
    ouro_flush();
    assert_int_equal(ouro_refcnt(d), 1);
    assert_int_equal(ouro_test_live(), 1);
    ouro_decref(d);
    ouro_flush();
    assert_int_equal(ouro_test_live(), 0);
}

/* Owner gone: the thread whose decrement crosses zero merges itself. */
static void orphan_merge_frees_on_requester(void **state)
{
    ouro_object *d = ouro_test_orphan_dict();
    assert_non_null(d);
    assert_int_equal(ouro_refcnt(d), 1);
    ouro_incref(d);
    assert_int_equal(ouro_refcnt(d), 2);
    ouro_decref(d);
    ouro_decref(d);
    assert_int_equal(ouro_test_live(), 0);
}

/* A thread parked in a blocking region never delays a grace period; a
 * thread that is online does until its next safepoint. */
static _Atomic int blocked_ready, release_blocked, passed_safepoint;

static void *blocker(void *arg)
{
    (void)arg;
    ouro_thread_attach();
    ouro_blocking_begin();
    atomic_store(&blocked_ready, 1);
    while (!atomic_load(&release_blocked))
        ;                                   /* "blocked in a system call" */
    ouro_blocking_end();
    ouro_thread_detach();
    return NULL;
}

static void blocking_region_does_not_delay_grace_periods(void **state)
{
    atomic_store(&blocked_ready, 0);
    atomic_store(&release_blocked, 0);
    pthread_t th;
    pthread_create(&th, NULL, blocker, NULL);
    while (!atomic_load(&blocked_ready))
        ;
    ouro_object *l = ouro_list_new(0);
    ouro_decref(l);
    ouro_flush();             /* would spin forever if the blocker counted */
    atomic_store(&release_blocked, 1);
    pthread_join(th, NULL);
}

static _Atomic int laggard_go;

static void *laggard(void *arg)
{
    (void)arg;
    ouro_thread_attach();
    atomic_store(&blocked_ready, 1);
    while (!atomic_load(&laggard_go))
        ;                                   /* online, no safepoint */
    atomic_store(&passed_safepoint, 1);
    ouro_safepoint();
    ouro_thread_detach();
    return NULL;
}

static void *release_laggard(void *arg)
{
    (void)arg;
    for (volatile int i = 0; i < 1000000; i++)
        ;
    atomic_store(&laggard_go, 1);
    return NULL;
}

static void online_thread_delays_grace_period_until_safepoint(void **state)
{
    atomic_store(&blocked_ready, 0);
    atomic_store(&laggard_go, 0);
    atomic_store(&passed_safepoint, 0);
    pthread_t th, rel;
    pthread_create(&th, NULL, laggard, NULL);
    while (!atomic_load(&blocked_ready))
        ;
    ouro_object *l = ouro_list_new(0);
    ouro_decref(l);
    pthread_create(&rel, NULL, release_laggard, NULL);
    ouro_flush();
    /* The flush could only finish after the laggard's safepoint. */
    assert_int_equal(atomic_load(&passed_safepoint), 1);
    pthread_join(rel, NULL);
    pthread_join(th, NULL);
}

static void blocking_regions_nest(void **state)
{
    ouro_blocking_begin();
    ouro_blocking_begin();
    ouro_object *s = ouro_str_from("refs may be counted while offline");
    ouro_incref(s);
    ouro_decref(s);
    ouro_blocking_end();
    ouro_blocking_end();
    ouro_decref(s);
}

static void *attach_detach_many(void *arg)
{
    (void)arg;
    for (int i = 0; i < 50; i++) {
        assert_int_equal(ouro_thread_attach(), OURO_OK);
        ouro_object *item = ouro_int_new(100000 + i);
        ouro_list_append(shared_list, item);
        ouro_decref(item);
        ouro_safepoint();
        ouro_thread_detach();
    }
    return NULL;
}

static void repeated_attach_detach_hands_objects_over(void **state)
{
    shared_list = ouro_list_new(0);
    pthread_t th[3];
    for (int i = 0; i < 3; i++)
        pthread_create(&th[i], NULL, attach_detach_many, NULL);
    for (int i = 0; i < 3; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(ouro_list_len(shared_list), 150);
    ouro_flush();   /* apply what the exited threads left pending */
    ouro_object *x;
    while ((x = ouro_list_pop(shared_list, -1))) {
        assert_int_equal(ouro_refcnt(x), 1);
        ouro_decref(x);
    }
    ouro_decref(shared_list);
}

static void runtime_restarts(void **state)
{
    ouro_shutdown();
    assert_int_equal(ouro_thread_attach(), OURO_ESTATE);
    assert_int_equal(ouro_init(NULL), OURO_OK);
    assert_int_equal(ouro_thread_attach(), OURO_OK);
    ouro_config bad = {.decref_batch = 3};
    ouro_shutdown();
    assert_int_equal(ouro_init(&bad), OURO_EINVAL);
    assert_int_equal(ouro_init(NULL), OURO_OK);
    assert_int_equal(ouro_thread_attach(), OURO_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        OURO_TEST(attach_rules),
        OURO_TEST(thread_exit_without_detach_is_cleaned_up),
        OURO_TEST(queued_merge_frees_on_owner),
        OURO_TEST(orphan_merge_frees_on_requester),
        OURO_TEST(decrement_run_crosses_zero_once),
        OURO_TEST(merged_run_frees_exactly_at_zero),
        OURO_TEST(blocking_region_does_not_delay_grace_periods),
        OURO_TEST(online_thread_delays_grace_period_until_safepoint),
        OURO_TEST(blocking_regions_nest),
        OURO_TEST(repeated_attach_detach_hands_objects_over),
        OURO_TEST(runtime_restarts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
