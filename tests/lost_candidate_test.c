/*
 * lost_candidate_test.c - white-box regression tests for completeness
 * step 2 (docs/collector.md): a decrement that finds its object BUFFERED
 * does not buffer it, so the collector must never let a candidate go with
 * such a decrement unaccounted for.  Each test schedules one race through
 * a test hook and then checks that the cycle is still freed by a later
 * collection: nothing else will ever look at it again.
 */
#include "fixture.h"

#include "gc.h"
#include "hook_wait.h"
#include "refcount.h"
#include "thread.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <time.h>

static ouro_type node_type;

/* Collections until one finds nothing; the total found. */
static int64_t collect_until_idle(void)
{
    int64_t total = 0, n;
    for (int i = 0; i < 4 && (n = ouro_gc_collect()) != 0; i++)
        total += n;
    return total;
}

/* ---- a candidate reached from an earlier one ---------------------------
 *
 * Candidate Y, reached from an earlier candidate X, is held, marked and
 * counted before the collector's loop comes to Y itself.  It used to keep
 * BUFFERED until then: a thread that incremented and dropped Y in that
 * window left the count as it was read, marked Y touched (so the
 * collection kept the cycle), and its decrement skipped the buffering.
 * The stress suite's faults scenario leaked such cycles.  Now whoever
 * marks a taken candidate first ends its candidacy in the same step. */

static ouro_object *x, *y;
static ouro_object *_Atomic target;   /* set by the walk hook */
static _Atomic int worked;

/* On the collector thread, after the first candidate's walk. */
static void touch_the_other(ouro_object *walked)
{
    atomic_store_explicit(&ouro__walk_test_hook, NULL, memory_order_relaxed);
    /* release: the toucher sees the collector's marks (IN_GC). */
    atomic_store_explicit(&target, walked == x ? y : x, memory_order_release);
    /* Quiescent while we wait: the toucher's flush needs a grace period. */
    hook_wait_quiescent(&worked);
}

static void *toucher(void *arg)
{
    (void)arg;
    ouro_thread_attach();
    ouro_object *o;
    while (!(o = atomic_load_explicit(&target, memory_order_acquire)))
        ouro_safepoint();
    ouro_safepoint();
    ouro_incref(o);   /* TOUCHED: it is IN_GC */
    ouro_decref(o);
    ouro_flush();
    atomic_store_explicit(&worked, 1, memory_order_release);
    ouro_thread_detach();
    return NULL;
}

static void touched_after_being_reached(void **state)
{
    (void)state;
    ouro_record_type_init(&node_type, "Node", 1, NULL);
    x = ouro_record_new(&node_type);
    y = ouro_record_new(&node_type);
    ouro_record_set(x, 0, y);
    ouro_record_set(y, 0, x);
    ouro_decref(x);
    ouro_decref(y);
    ouro_flush();   /* both candidates */
    atomic_store(&target, NULL);
    atomic_store(&worked, 0);
    atomic_store(&ouro__walk_test_hook, touch_the_other);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, toucher, NULL), 0);
    int64_t first = ouro_gc_collect();   /* kept if the touch was seen */
    ouro_blocking_begin();
    pthread_join(th, NULL);
    ouro_blocking_end();
    assert_true(atomic_load(&worked));
    assert_int_equal(first + collect_until_idle(), 2);
}

/* ---- an owner that has not seen the collection start -------------------
 *
 * The owner passes no quiescent point after the collection starts, so its
 * increments are inline (never TOUCHED).  After the collector has reached
 * its candidate, it moves its own outside reference inside the cycle (an
 * inline increment) and drops the outside one: the count is back to the
 * value the collector read, which included the outside reference, so the
 * collection keeps the cycle.  The decrement must buffer it. */

static ouro_object *first_made, *second_made;
static _Atomic int owner_done, walked_first;
static bool divert;

static void hand_second_to_owner(ouro_object *walked)
{
    atomic_store_explicit(&ouro__walk_test_hook, NULL, memory_order_relaxed);
    atomic_store(&walked_first, walked == first_made);
    atomic_store_explicit(&target, second_made, memory_order_release);
    hook_wait_quiescent(&owner_done);
}

static void *owner(void *arg)
{
    (void)arg;
    ouro_thread_attach();
    ouro_object *a = ouro_record_new(&node_type);
    ouro_object *b = ouro_record_new(&node_type);
    /* The collector's loop takes candidates in address order. */
    first_made = (uintptr_t)a < (uintptr_t)b ? a : b;
    second_made = first_made == a ? b : a;
    ouro_record_set(first_made, 0, second_made);
    ouro_record_set(second_made, 0, first_made);
    ouro_decref(first_made);   /* count 1, from second: a candidate */
    ouro_incref(second_made);
    ouro_decref(second_made);  /* count 2, first's and ours: a candidate */
    ouro_flush();
    atomic_store(&ouro__walk_test_hook, hand_second_to_owner);
    ouro_gc_enable();          /* threshold 1: a collection starts now */
    /* No quiescent point from here on (unless diverting). */
    ouro_object *o;
    while (!(o = atomic_load_explicit(&target, memory_order_acquire)))
        sched_yield();
    if (divert)
        ouro_safepoint();
    ouro_record_set(o, 1, o);  /* an inline increment */
    ouro_decref(o);            /* our outside reference */
    ouro_flush();
    atomic_store_explicit(&owner_done, 1, memory_order_release);
    ouro_thread_detach();
    return NULL;
}

static void owner_move(bool diverted)
{
    ouro_record_type_init(&node_type, "Node2", 2, NULL);
    divert = diverted;
    atomic_store(&target, NULL);
    atomic_store(&owner_done, 0);
    atomic_store(&walked_first, 0);
    ouro_gc_set_threshold(1);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, owner, NULL), 0);
    ouro_blocking_begin();
    pthread_join(th, NULL);
    ouro_blocking_end();
    ouro_gc_disable();
    assert_true(atomic_load(&walked_first));
    collect_until_idle();
    ouro_gc_stats st;
    ouro_gc_get_stats(&st);
    assert_int_equal(st.collected, 2);
}

static void undiverted_owner_moves_its_reference(void **state)
{
    (void)state;
    owner_move(false);
}

static void diverted_owner_moves_its_reference(void **state)
{
    (void)state;
    owner_move(true);
}

/* ---- a decrement preempted across a collection -------------------------
 *
 * A non-owner's decrement decides whether to buffer before it changes the
 * count (it may not touch the object after).  Preempted in between, it
 * read BUFFERED, so it does not buffer; the collector counts the
 * reference still there, finds the cycle live and lets it go; then the
 * count changes.  The collector must not let its candidates go before
 * such decrements have landed: it ends every collection with a handshake
 * (none was done when nothing looked like garbage), and threads apply
 * decrements only while online, even from inside a blocking region. */

static _Atomic int stalled, resume, incremented, flushed;

static void stall(ouro_object *o)
{
    if (o != x)
        return;
    atomic_store(&ouro__decref_test_hook, NULL);
    atomic_store(&stalled, 1);
    while (!atomic_load(&resume))
        sched_yield();
}

static void *dropper(void *arg)
{
    (void)arg;
    ouro_thread_attach();
    ouro_incref(x);   /* an outside reference, in the shared count */
    atomic_store(&incremented, 1);
    ouro_blocking_begin();
    ouro_decref(x);
    /* Stalled online, we would hold up the main thread's flush. */
    while (!atomic_load(&flushed))
        sched_yield();
    atomic_store(&ouro__decref_test_hook, stall);
    while (!atomic_load(&stalled))
        ouro_safepoint();   /* applies the decrement */
    ouro_blocking_end();
    ouro_thread_detach();
    return NULL;
}

static _Atomic int collected_once;

static void *collect_once(void *arg)
{
    (void)arg;
    ouro_thread_attach();
    ouro_gc_collect();
    atomic_store(&collected_once, 1);
    ouro_thread_detach();
    return NULL;
}

static void decrement_preempted_across_a_collection(void **state)
{
    (void)state;
    ouro_record_type_init(&node_type, "Node", 1, NULL);
    atomic_store(&stalled, 0);
    atomic_store(&resume, 0);
    atomic_store(&incremented, 0);
    atomic_store(&flushed, 0);
    atomic_store(&collected_once, 0);
    x = ouro_record_new(&node_type);
    y = ouro_record_new(&node_type);
    ouro_record_set(x, 0, y);
    ouro_record_set(y, 0, x);
    ouro_decref(y);   /* y: count 1, a candidate */
    pthread_t drop, coll;
    assert_int_equal(pthread_create(&drop, NULL, dropper, NULL), 0);
    while (!atomic_load(&incremented))
        ouro_safepoint();
    ouro_decref(x);   /* x: y's reference and the dropper's */
    ouro_flush();     /* x: a candidate */
    atomic_store(&flushed, 1);
    while (!atomic_load(&stalled))
        ouro_safepoint();
    /* The dropper is inside its decrement of x.  A collection now finds x
     * referenced from outside.  It may not finish before the decrement
     * lands: give it time to (the old code did), then let the dropper go. */
    ouro_blocking_begin();
    assert_int_equal(pthread_create(&coll, NULL, collect_once, NULL), 0);
    for (int i = 0; i < 20 && !atomic_load(&collected_once); i++) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    atomic_store(&resume, 1);
    pthread_join(coll, NULL);
    pthread_join(drop, NULL);
    ouro_blocking_end();
    /* Garbage now, and nothing will decrement it again. */
    assert_int_equal(collect_until_idle(), 2);
}

/* ---- a reference dropped between a mark and its count read -------------
 *
 * With the production lag, trial deletion reads a candidate's count some
 * nodes after the loop held and marked it, and quiescent points may pass in
 * between (the walk hook above turns the lag off, so those tests never see
 * this gap).  Here a helper thread drops the one outside reference to X, of
 * the cycle X <-> Y, inside that gap: before X's count is read (the
 * collection finds the cycle), or after it (the collection keeps it; the
 * mark ended X's candidacy, so X must be buffered again, and the next
 * collection finds it). */

static ouro_object *lo, *hi;            /* the cycle, lo at the lower address */
static ouro_object *_Atomic drop_at;     /* the node whose drain drops it */
static _Atomic int drop_go, drop_done;

static void drop_in_the_gap(ouro_object *o)
{
    if (o != atomic_load_explicit(&drop_at, memory_order_relaxed))
        return;
    atomic_store_explicit(&ouro__drain_test_hook, NULL, memory_order_relaxed);
    atomic_store_explicit(&drop_go, 1, memory_order_release);
    hook_wait_quiescent(&drop_done);   /* the drop applied, then the read */
}

static void *gap_dropper(void *arg)
{
    ouro_object *x = arg;   /* a counted reference, handed over */
    ouro_thread_attach();
    while (!atomic_load_explicit(&drop_go, memory_order_acquire))
        ouro_safepoint();
    ouro_decref(x);
    ouro_flush();   /* applied: X's count is 1 (Y's slot) */
    atomic_store_explicit(&drop_done, 1, memory_order_release);
    ouro_thread_detach();
    return NULL;
}

/* Drop X's outside reference in the gap, before or after X's count is
 * read; what the first collection found. */
static int64_t drop_outside_reference_in_the_gap(bool before_read)
{
    ouro_record_type_init(&node_type, "Node", 1, NULL);
    lo = ouro_record_new(&node_type);
    hi = ouro_record_new(&node_type);
    if ((uintptr_t)hi < (uintptr_t)lo) {
        ouro_object *t = lo;
        lo = hi;
        hi = t;
    }
    ouro_record_set(lo, 0, hi);
    ouro_record_set(hi, 0, lo);
    /* X is lo: drained first (the table is in address order), so its
     * count is read before hi's drain and after lo's. */
    ouro_object *x = lo;
    ouro_incref(x);   /* the gap_dropper's */
    ouro_decref(lo);
    ouro_decref(hi);
    ouro_flush();     /* both candidates; X at 2, Y at 1 */
    atomic_store(&drop_go, 0);
    atomic_store(&drop_done, 0);
    atomic_store(&drop_at, before_read ? lo : hi);
    atomic_store(&ouro__drain_test_hook, drop_in_the_gap);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, gap_dropper, x), 0);
    int64_t first = ouro_gc_collect();
    atomic_store(&ouro__drain_test_hook, NULL);
    ouro_blocking_begin();
    pthread_join(th, NULL);
    ouro_blocking_end();
    assert_true(atomic_load(&drop_done));   /* the hook ran */
    return first;
}

static void dropped_before_the_count_read(void **state)
{
    (void)state;
    int64_t first = drop_outside_reference_in_the_gap(true);
    assert_int_equal(first, 2);
    assert_int_equal(collect_until_idle(), 0);
}

static void dropped_after_the_count_read(void **state)
{
    (void)state;
    int64_t first = drop_outside_reference_in_the_gap(false);
    assert_int_equal(first, 0);   /* X's count included the reference */
    assert_int_equal(collect_until_idle(), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        OURO_TEST(touched_after_being_reached),
        OURO_TEST(diverted_owner_moves_its_reference),
        OURO_TEST(undiverted_owner_moves_its_reference),
        OURO_TEST(decrement_preempted_across_a_collection),
        OURO_TEST(dropped_before_the_count_read),
        OURO_TEST(dropped_after_the_count_read),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
