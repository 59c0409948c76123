/*
 * stress_regression_test.c - bugs the stress suite (stress/) found, each
 * reduced to a test that fails on the old code.
 */
#include "fixture.h"

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

static _Atomic int stop_spinning, spinner_ready;
static _Atomic int waiter_done;

static void *flush_spinner(void *arg)
{
    (void)arg;
    if (ouro_thread_attach() != OURO_OK)
        return NULL;
    atomic_store(&spinner_ready, 1);
    while (!atomic_load(&stop_spinning))
        ouro_flush();   /* nothing to do: still a quiescent point */
    ouro_thread_detach();
    return NULL;
}

static void *grace_period_waiter(void *arg)
{
    (void)arg;
    if (ouro_thread_attach() != OURO_OK)
        return NULL;
    ouro_object *o = ouro_list_new(0);
    ouro_decref(o);
    ouro_flush();   /* waits for a grace period: the spinner must pass one */
    atomic_store(&waiter_done, 1);
    ouro_thread_detach();
    return NULL;
}

/* ouro_flush() is a quiescent point (docs/grace-periods.md) even when the
 * caller has nothing to flush.  It used to return at once without
 * announcing one, so a thread that called it in a loop (waiting for
 * another thread's objects to be freed) stalled every grace period: other
 * threads' flushes and the collector's handshakes waited until it
 * stopped.  The stress suite's cascade scenario hung on it. */
static void flush_with_nothing_to_do_is_a_quiescent_point(void **state)
{
    (void)state;
    atomic_store(&stop_spinning, 0);
    atomic_store(&spinner_ready, 0);
    atomic_store(&waiter_done, 0);
    pthread_t spinner, waiter;
    assert_int_equal(pthread_create(&spinner, NULL, flush_spinner, NULL), 0);
    while (!atomic_load(&spinner_ready))
        ouro_safepoint();
    assert_int_equal(pthread_create(&waiter, NULL, grace_period_waiter, NULL),
                     0);
    ouro_blocking_begin();
    for (int i = 0; i < 1000 && !atomic_load(&waiter_done); i++) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    int done = atomic_load(&waiter_done);
    atomic_store(&stop_spinning, 1);   /* unblocks the waiter if it hung */
    pthread_join(spinner, NULL);
    pthread_join(waiter, NULL);
    ouro_blocking_end();
    assert_true(done);
}

static ouro_object *handed_over;   /* a reference given to the dropper */
static int64_t found_while_queued;

static void *drop_and_collect(void *arg)
{
    (void)arg;
    if (ouro_thread_attach() != OURO_OK)
        return NULL;
    /* Not the owner, and the shared count is 0: the drop cannot go below
     * zero, so it goes to the owner's merge queue (state QUEUED). */
    ouro_decref(handed_over);
    ouro_flush();
    found_while_queued = ouro_gc_collect();
    ouro_thread_detach();
    return NULL;
}

/* A cycle member in its owner's merge queue is not garbage yet: the owner
 * will read it when it merges (docs/counting.md, C5a).  The collector used
 * to count the queued reference as released, find the cycle garbage and
 * free it, and the owner's merge then wrote to freed memory (the stress
 * suite's finalizers scenario, a use-after-free in merge_queued). */
static void queued_cycle_member_survives_until_merged(void **state)
{
    (void)state;
    ouro_object *a = ouro_list_new(0), *b = ouro_list_new(0);
    assert_int_equal(ouro_list_append(a, b), OURO_OK);
    assert_int_equal(ouro_list_append(b, a), OURO_OK);
    ouro_decref(b);   /* b is a candidate; a's references are all local */
    ouro_flush();
    handed_over = a;   /* our reference, now the other thread's */
    found_while_queued = -1;
    /* Offline: the other thread's grace periods and the collector's
     * handshakes do not wait for us, and we do not merge meanwhile. */
    ouro_blocking_begin();
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, drop_and_collect, NULL), 0);
    pthread_join(t, NULL);
    ouro_blocking_end();
    assert_int_equal(found_while_queued, 0);
    ouro_flush();   /* merges a: now it is garbage */
    assert_int_equal(ouro_gc_collect(), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        OURO_TEST(flush_with_nothing_to_do_is_a_quiescent_point),
        OURO_TEST(queued_cycle_member_survives_until_merged),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
