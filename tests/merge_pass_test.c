/*
 * merge_pass_test.c - merge requests that arrive while the owner's merge
 * pass is working through its queue, or while the queue cannot grow, with
 * allocations failing.
 *
 * A decrement cannot report an error, so a request must find room in the
 * owner's queue without allocating.  The pass takes the queue's array; the
 * requests that arrive meanwhile go to the spare it put in its place
 * (runtime/thread.h).  The pass's test hook holds the owner exactly there.
 */
#include "failing_alloc.h"
#include "fixture.h"
#include "hook_wait.h"
#include "refcount.h"

#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

static int setup(void **state) { return failing_alloc_setup(state); }

static int teardown(void **state)
{
    atomic_store(&ouro__merge_pass_test_hook, NULL);
    return failing_alloc_teardown(state);
}

/* More than the queue's half-full mark, fewer than its first capacity:
 * the queue tries to grow, fails, and still has room. */
#define HANDED 12

enum { STARTED = 1, PASS_HELD, REQUESTS_QUEUED, DONE };
static _Atomic int phase;
static _Atomic int release_pass;
static _Atomic uint32_t owner_tid;
static ouro_object *trigger;
static ouro_object *handed[HANDED];

/* On the owner, inside its merge pass, after the queue's array was taken:
 * let the main thread queue its requests now. */
static void hold_the_pass(void)
{
    if (ouro_thread_id() != atomic_load(&owner_tid) ||
        atomic_load(&phase) != STARTED)
        return;
    atomic_store_explicit(&phase, PASS_HELD, memory_order_release);
    hook_wait_quiescent(&release_pass);   /* the main thread's flush waits */
}

static void *owner(void *arg)
{
    (void)arg;
    if (ouro_thread_attach() != OURO_OK)
        return NULL;
    atomic_store(&owner_tid, ouro_thread_id());
    trigger = ouro_list_new(0);
    for (int i = 0; i < HANDED; i++)
        handed[i] = ouro_list_new(0);   /* owned here, handed to main */
    atomic_store(&phase, STARTED);
    while (atomic_load(&phase) != DONE)
        ouro_safepoint();               /* merge passes run here */
    ouro_thread_detach();
    return NULL;
}

/* The owner's last flush and its detach wait for grace periods: wait for
 * it inside a blocking region. */
static void join_quiescent(pthread_t th)
{
    ouro_blocking_begin();
    pthread_join(th, NULL);
    ouro_blocking_end();
}

static uint64_t freed_now(void)
{
    ouro_stats s;
    ouro_get_stats(&s);
    return s.freed;
}

static double seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Safepoints until `what` holds; a failure, not a hang, after 20 s. */
#define WAIT_FOR(what)                                                        \
    do {                                                                      \
        double until_ = seconds() + 20;                                       \
        while (!(what) && seconds() < until_) {                               \
            ouro_safepoint();                                                 \
            sched_yield();                                                    \
        }                                                                     \
        assert_true(what);                                                    \
    } while (0)

static void wait_freed(uint64_t target)
{
    WAIT_FOR(freed_now() >= target);
}

static void requests_during_a_pass_need_no_memory(void **state)
{
    (void)state;
    atomic_store(&phase, 0);
    atomic_store(&release_pass, 0);
    atomic_store(&ouro__merge_pass_test_hook, hold_the_pass);
    pthread_t th;
    pthread_create(&th, NULL, owner, NULL);
    WAIT_FOR(atomic_load(&phase) == STARTED);
    assert_non_null(trigger);
    for (int i = 0; i < HANDED; i++)
        assert_non_null(handed[i]);

    /* The trigger's request starts a merge pass on the owner, which the
     * hook holds after the pass took the queue's array.  The flush also
     * leaves this thread a spare decrement batch for the next one. */
    uint64_t freed0 = freed_now();
    ouro_decref(trigger);
    ouro_flush();
    WAIT_FOR(atomic_load_explicit(&phase, memory_order_acquire) == PASS_HELD);

    ouro_stats before;
    ouro_get_stats(&before);
    for (int i = 0; i < HANDED; i++)
        ouro_decref(handed[i]);   /* each one crosses zero on the shared side */
    fail_every = 1;   /* every allocation fails */
    unsigned long failures0 = failures;
    ouro_flush();                 /* queues HANDED requests, mid-pass */
    fail_every = 0;
    ouro_stats mid;
    ouro_get_stats(&mid);
    assert_int_equal(mid.queued_merges, before.queued_merges + HANDED);
    assert_true(failures > failures0);   /* the queue tried to grow (at 8) */

    atomic_store(&phase, REQUESTS_QUEUED);
    atomic_store_explicit(&release_pass, 1, memory_order_release);
    /* The held pass frees the trigger; the owner's next one, the rest. */
    wait_freed(freed0 + 1 + HANDED);
    atomic_store(&phase, DONE);
    join_quiescent(th);
}

/* Many passes, with requests arriving during most of them (as it
 * happens): the two arrays take turns and grow as needed, and every
 * request is merged once. */
#define ROUNDS 200
#define PER_ROUND 40

static void *busy_owner(void *arg)
{
    ouro_object **objs = arg;
    if (ouro_thread_attach() != OURO_OK)
        return NULL;
    for (int i = 0; i < ROUNDS * PER_ROUND; i++)
        objs[i] = ouro_list_new(0);
    atomic_store(&phase, STARTED);
    while (atomic_load(&phase) != DONE)
        ouro_safepoint();
    ouro_thread_detach();
    return NULL;
}

static void requests_in_many_passes_are_merged_once(void **state)
{
    (void)state;
    atomic_store(&phase, 0);
    ouro_object **objs = calloc(ROUNDS * PER_ROUND, sizeof *objs);
    assert_non_null(objs);
    pthread_t th;
    pthread_create(&th, NULL, busy_owner, objs);
    WAIT_FOR(atomic_load(&phase) == STARTED);
    uint64_t freed0 = freed_now();
    for (int r = 0; r < ROUNDS; r++) {
        for (int i = 0; i < PER_ROUND; i++) {
            assert_non_null(objs[r * PER_ROUND + i]);
            ouro_decref(objs[r * PER_ROUND + i]);
        }
        ouro_flush();
    }
    wait_freed(freed0 + ROUNDS * PER_ROUND);
    assert_int_equal(freed_now(), freed0 + ROUNDS * PER_ROUND);
    atomic_store(&phase, DONE);
    join_quiescent(th);
    free(objs);
}

/* A burst grows the queue; after a pass has emptied it, the next burst
 * finds that capacity again, with every allocation failing: the queue
 * keeps the larger of its two arrays. */
#define FIRST_BURST 40
#define SECOND_BURST 30

enum { BURST_STARTED = 1, RUN_PASS, PASSED, FINISH };
static ouro_object *burst[FIRST_BURST + SECOND_BURST];

static void *blocked_owner(void *arg)
{
    (void)arg;
    if (ouro_thread_attach() != OURO_OK)
        return NULL;
    for (int i = 0; i < FIRST_BURST + SECOND_BURST; i++)
        burst[i] = ouro_list_new(0);   /* owned here, handed to main */
    ouro_blocking_begin();   /* grace periods go on; no merge pass */
    atomic_store(&phase, BURST_STARTED);
    while (atomic_load(&phase) != RUN_PASS)
        sched_yield();
    ouro_blocking_end();
    ouro_flush();            /* one pass: merges (frees) the first burst */
    ouro_blocking_begin();
    atomic_store(&phase, PASSED);
    while (atomic_load(&phase) != FINISH)
        sched_yield();
    ouro_blocking_end();
    ouro_flush();            /* merges the second burst */
    ouro_thread_detach();
    return NULL;
}

/* The blocked owner, started, with its burst of objects made. */
static pthread_t start_blocked_owner(void)
{
    atomic_store(&phase, 0);
    pthread_t th;
    pthread_create(&th, NULL, blocked_owner, NULL);
    WAIT_FOR(atomic_load(&phase) == BURST_STARTED);
    for (int i = 0; i < FIRST_BURST + SECOND_BURST; i++)
        assert_non_null(burst[i]);
    return th;
}

static void a_grown_queue_keeps_its_capacity(void **state)
{
    (void)state;
    pthread_t th = start_blocked_owner();
    uint64_t freed0 = freed_now();
    for (int i = 0; i < FIRST_BURST; i++)
        ouro_decref(burst[i]);
    ouro_flush();            /* grows the queue to 64; leaves a spare batch */
    atomic_store(&phase, RUN_PASS);
    WAIT_FOR(atomic_load(&phase) == PASSED);
    assert_int_equal(freed_now(), freed0 + FIRST_BURST);

    for (int i = FIRST_BURST; i < FIRST_BURST + SECOND_BURST; i++)
        ouro_decref(burst[i]);
    fail_every = 1;   /* every allocation fails */
    ouro_flush();            /* more than 16 requests, none may allocate */
    fail_every = 0;
    atomic_store(&phase, FINISH);
    join_quiescent(th);
    wait_freed(freed0 + FIRST_BURST + SECOND_BURST);
}

/* Growth that fails while requests arrive: the queue starts with room
 * for 16, tries to grow at its half-full mark, and a failure there leaves
 * room for the rest.  Every other allocation fails during the flush that
 * queues HANDED requests (its own batch may get memory or not). */
static void growth_failures_leave_room(void **state)
{
    (void)state;
    pthread_t th = start_blocked_owner();
    ouro_stats before;
    ouro_get_stats(&before);
    for (int i = 0; i < HANDED; i++)
        ouro_decref(burst[i]);   /* each one crosses zero on the shared side */
    calls = failures = 0;
    fail_every = 2;
    ouro_flush();                /* queues HANDED requests to the owner */
    fail_every = 0;
    ouro_stats mid;
    ouro_get_stats(&mid);
    assert_int_equal(mid.queued_merges, before.queued_merges + HANDED);
    assert_true(failures > 0);   /* the queue tried to grow, and failed */
    atomic_store(&phase, RUN_PASS);
    WAIT_FOR(atomic_load(&phase) == PASSED);
    assert_int_equal(freed_now(), before.freed + HANDED);
    for (int i = HANDED; i < FIRST_BURST + SECOND_BURST; i++)
        ouro_decref(burst[i]);
    ouro_flush();
    atomic_store(&phase, FINISH);
    join_quiescent(th);
    wait_freed(before.freed + FIRST_BURST + SECOND_BURST);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(requests_during_a_pass_need_no_memory,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(requests_in_many_passes_are_merged_once,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(a_grown_queue_keeps_its_capacity,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(growth_failures_leave_room, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
