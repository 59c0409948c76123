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

int main(void)
{
    const struct CMUnitTest tests[] = {
        OURO_TEST(flush_with_nothing_to_do_is_a_quiescent_point),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
