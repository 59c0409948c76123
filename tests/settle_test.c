/*
 * settle_test.c - white-box regression tests for the collector's settle
 * step (docs/weakrefs.md, W4), where the refine after the second handshake
 * runs:
 *   - a weak dereference of a garbage member made after the second
 *     handshake, right before the settle step, must keep the cycle alive.
 *     Without the refinement under the side locks the collector frees the
 *     cycle while the reader holds it, and the reader's next read hits
 *     freed memory.  The other member leaves the registry before black
 *     spreads to it, and must be linked again.  Garbage that refers to
 *     the kept cycle must release its reference when it is freed;
 *   - garbage that refers to a cycle validation kept (its count changed
 *     after trial deletion) releases that reference when it is freed;
 *   - the same dereference made during the settle step, after its first
 *     pass let the member go: the last step, under every side lock, must
 *     see it; a registry walk started then waits for the settle step and
 *     lists the kept cycle whole;
 *   - two such dereferences, of two cycles: one after pass 1, the other
 *     between the last step's first and second rounds, which must read
 *     every flag again;
 *   - a garbage weak reference whose referent dies by counting during the
 *     settle step, after pass 1 let it go: its callback keeps it, and the
 *     last step must see that;
 *   - a mutator that links, unlinks and dereferences during the settle
 *     step of a large garbage set is not stopped by it;
 *   - an owner offline through both handshakes, with a member in its merge
 *     queue, that comes back and merges right before the settle step: its
 *     merge still writes to the member after the CAS that ends QUEUED, so
 *     validation must have made it black before the second handshake;
 *   - an owner that detaches while offline, merging (and stalled after the
 *     CAS) right after validation read the member's count: the count and
 *     the queue state must come from one snapshot.  With two loads the
 *     collection freed the cycle under the merge (found by review).
 */
#include "expect_death.h"
#include "fixture.h"
#include "hook_wait.h"

#include "gc.h"
#include "heap.h"
#include "refcount.h"
#include "settle.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

static ouro_type node_type;
static ouro_object *weak;                 /* to a, in the garbage cycle */
static _Atomic int go, got, collected;
static _Atomic int intact;

/* On the collector thread, between W2 and the settle step's locks. */
static void let_the_reader_in(void)
{
    atomic_store_explicit(&ouro__settle_test_hook, NULL, memory_order_relaxed);
    atomic_store_explicit(&go, 1, memory_order_release);
    while (!atomic_load_explicit(&got, memory_order_acquire))
        sched_yield();
}

static void *reader(void *arg)
{
    (void)arg;
    ouro_thread_attach();
    while (!atomic_load_explicit(&go, memory_order_acquire))
        ouro_safepoint();   /* acknowledges the collector's handshakes */
    ouro_object *a = ouro_weakref_get(weak);
    atomic_store_explicit(&got, 1, memory_order_release);
    while (!atomic_load_explicit(&collected, memory_order_acquire))
        ouro_safepoint();
    if (a) {
        ouro_object *b = ouro_record_get(a, 0);
        ouro_object *back = ouro_record_get(b, 0);
        atomic_store(&intact, ouro_type_of(b) == &node_type && back == a);
        ouro_decref(back);
        ouro_decref(b);
        ouro_decref(a);
    }
    ouro_thread_detach();
    return NULL;
}

/* Start the reader; `hook` lets it dereference `weak` right before the
 * settle step. */
static pthread_t start_reader(void (*hook)(void))
{
    atomic_store(&go, 0);
    atomic_store(&got, 0);
    atomic_store(&collected, 0);
    atomic_store(&intact, 0);
    atomic_store(&ouro__settle_test_hook, hook);
    pthread_t th;
    pthread_create(&th, NULL, reader, NULL);
    return th;
}

/* The collection is over: the reader checks what it got, drops it and
 * leaves. */
static void finish_reader(pthread_t th)
{
    atomic_store_explicit(&collected, 1, memory_order_release);
    ouro_blocking_begin();
    pthread_join(th, NULL);
    ouro_blocking_end();
    assert_true(atomic_load(&got));
    assert_true(atomic_load(&intact));
}

/* Cycle a <-> b of records with `slots` slots, `weak` to a; returns a,
 * b in *b.  The caller drops both. */
static ouro_object *weak_cycle(size_t slots, ouro_object **b)
{
    ouro_record_type_init(&node_type, "Node", slots, NULL);
    ouro_object *a = ouro_record_new(&node_type);
    *b = ouro_record_new(&node_type);
    ouro_record_set(a, 0, *b);
    ouro_record_set(*b, 0, a);
    weak = ouro_weakref_new(a, NULL, NULL);
    return a;
}

static void weak_get_before_settle_keeps_the_cycle(void **state)
{
    (void)state;
    ouro_object *b, *a = weak_cycle(1, &b);
    ouro_decref(a);
    ouro_decref(b);
    ouro_flush();
    pthread_t th = start_reader(let_the_reader_in);
    /* Found garbage by the handshakes, dereferenced before the settle. */
    assert_int_equal(ouro_gc_collect(), 0);
    /* b, linked again, is not a candidate again: its count has not moved
     * (the reader holds a alone until it is told the collection is over),
     * and it was not garbage after the first validation, so nothing asks
     * for it to be buffered (it would be, were it still marked as
     * settled garbage).  The cycle keeps b alive, so its header is ours to
     * read. */
    assert_false(atomic_load_explicit(&b->ob_gc, memory_order_relaxed) &
                 OURO__GC_BUFFERED);
    finish_reader(th);
    /* Both kept, so both still in the registry: the member that left it
     * before black spread from the touched one was linked again. */
    ouro_object *listed = ouro_gc_get_objects(&node_type);
    assert_non_null(listed);
    assert_int_equal(ouro_list_len(listed), 2);
    ouro_decref(listed);
    /* Released by the reader: garbage again, and freed. */
    assert_int_equal(ouro_gc_collect(), 2);
    assert_null(ouro_weakref_get(weak));
    ouro_decref(weak);
}

/* Garbage x (a self-cycle) refers to cycle a <-> b, which a weak
 * dereference before the settle step keeps: x is freed, and must release
 * its reference to a, counted at validation as an edge between white
 * nodes.  Without that release a and b are never collected. */
static void garbage_releases_what_the_settle_kept(void **state)
{
    (void)state;
    ouro_object *b, *a = weak_cycle(2, &b);
    ouro_object *x = ouro_record_new(&node_type);
    ouro_record_set(x, 0, x);
    ouro_record_set(x, 1, a);
    ouro_decref(a);
    ouro_decref(b);
    ouro_decref(x);
    ouro_flush();
    pthread_t th = start_reader(let_the_reader_in);
    assert_int_equal(ouro_gc_collect(), 1);   /* x alone */
    finish_reader(th);
    assert_int_equal(ouro_gc_collect(), 2);
    assert_null(ouro_weakref_get(weak));
    ouro_decref(weak);
}

/* Garbage cycle g1 <-> g2, g1 also referring to cycle k1 <-> k2.  Right
 * after validation read the first count, the collector thread itself
 * (through the recount hook) clears k2's reference to k1: validation
 * counts one reference to k1 from white nodes where its count has two, so
 * k1 is black, and black spreads to k2.  Nothing is flagged white after
 * that (k2, DIRTY, is black already), so the settle step spreads nothing:
 * the mark that g1 must release k1 when it is freed comes from validation
 * alone.  Without it g1 is freed holding k1, which is never freed. */
static ouro_object *unlink_k1, *unlink_k2;

static void unlink_k1_from_k2(ouro_object *o)
{
    (void)o;
    atomic_store(&ouro__recount_test_hook, NULL);
    ouro_record_set(unlink_k2, 0, NULL);
}

static void garbage_releases_what_validation_kept(void **state)
{
    (void)state;
    ouro_record_type_init(&node_type, "Node", 2, NULL);
    ouro_object *g1 = ouro_record_new(&node_type);
    ouro_object *g2 = ouro_record_new(&node_type);
    unlink_k1 = ouro_record_new(&node_type);
    unlink_k2 = ouro_record_new(&node_type);
    ouro_record_set(g1, 0, g2);
    ouro_record_set(g2, 0, g1);
    ouro_record_set(g1, 1, unlink_k1);
    ouro_record_set(unlink_k1, 0, unlink_k2);
    ouro_record_set(unlink_k2, 0, unlink_k1);
    ouro_decref(g1);
    ouro_decref(g2);
    ouro_decref(unlink_k1);
    ouro_decref(unlink_k2);
    ouro_flush();
    atomic_store(&ouro__recount_test_hook, unlink_k1_from_k2);
    assert_int_equal(ouro_gc_collect(), 2);   /* g1 and g2 */
    atomic_store(&ouro__recount_test_hook, NULL);
    /* k1 and k2 died by counting when g1 released k1. */
    ouro_flush();
    ouro_gc_collect();
    assert_int_equal(ouro_test_live(), 0);
}

/* Garbage cycle a1 <-> a2.  Right after validation read a1's count, the
 * collector thread (the recount hook) points a1 at live y instead of a2.
 * Validation reads a1's reference back from trial deletion's record where
 * it is unchanged; this one changed, so it must ask the table, which
 * answers that y is no node.  a2's count still has a1's old reference (its
 * decrement is deferred until the collection ends), so a2 is miscounted,
 * and black spreads to a1: validation itself finds nothing, and the settle
 * step never runs.  Taking the recorded a2 for y would let validation find
 * the set whole (the settle step would then see a1 DIRTY; validation must
 * not lean on that), and debug builds abort on that replayed answer. */
static ouro_object *swap_a1, *swap_y;
static _Atomic int swap_settled;

static void note_settle(void)
{
    atomic_store(&swap_settled, 1);
}

static void point_a1_at_y(ouro_object *o)
{
    if (o != swap_a1)
        return;
    atomic_store(&ouro__recount_test_hook, NULL);
    ouro_record_set(swap_a1, 0, swap_y);
}

static void validation_reads_a_changed_reference_afresh(void **state)
{
    (void)state;
    ouro_record_type_init(&node_type, "Node", 2, NULL);
    swap_a1 = ouro_record_new(&node_type);
    ouro_object *a2 = ouro_record_new(&node_type);
    swap_y = ouro_record_new(&node_type);
    ouro_record_set(swap_a1, 0, a2);
    ouro_record_set(a2, 0, swap_a1);
    ouro_decref(swap_a1);
    ouro_decref(a2);
    ouro_flush();
    atomic_store(&swap_settled, 0);
    atomic_store(&ouro__settle_test_hook, note_settle);
    atomic_store(&ouro__recount_test_hook, point_a1_at_y);
    int64_t found = ouro_gc_collect();
    atomic_store(&ouro__recount_test_hook, NULL);
    atomic_store(&ouro__settle_test_hook, NULL);
    assert_int_equal(found, 0);
    assert_false(atomic_load(&swap_settled));   /* validation found none */
    /* a2's deferred decrement frees it, then a1, which releases y. */
    ouro_flush();
    ouro_gc_collect();
    assert_int_equal(ouro_test_live(), 1);
    assert_int_equal(ouro_refcnt(swap_y), 1);
    ouro_decref(swap_y);
    assert_int_equal(ouro_test_live(), 0);
}

/* ---- during the settle step ---------------------------------------------
 *
 * The settle step holds one side lock at a time, between batches none
 * (its batch hook runs there), and every side lock only for the members
 * with a weak side.  A dereference of a member's weak reference after the
 * first pass decided that member must still keep the cycle: the last step
 * reads the members with a weak side again.  A registry walk started then
 * waits for the settle step, so it sees the kept cycle whole. */

static ouro_object *member_a;
static _Atomic int walk_go, walk_listed;

/* Has `o` left the registry?  Read on the collector thread, which alone
 * writes o's links while o is a member. */
static bool left_registry(ouro_object *o)
{
    return ((ouro__heap_link *)o - 1)->next == NULL;
}

/* In a batch hook, once: let another thread go, and wait until it says
 * it is done. */
static void hand_over(_Atomic int *go_flag, _Atomic int *done)
{
    atomic_store(&ouro__settle_batch_test_hook, NULL);
    atomic_store_explicit(go_flag, 1, memory_order_release);
    hook_wait_quiescent(done);
}

/* The batch hook: once a has left the registry, the reader dereferences
 * the weak reference to it, and a walker starts a walk. */
static void let_the_reader_in_mid_settle(void)
{
    if (!left_registry(member_a))
        return;
    hand_over(&go, &got);
    atomic_store(&walk_go, 1);
    /* Long enough for the walk to reach the gate; without the gate it
     * would be over, having missed a and b. */
    for (int i = 0; i < 20; i++) {
        ouro__quiescent(ouro__self);
        struct timespec ts = {0, 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

static void *walker(void *arg)
{
    (void)arg;
    ouro_thread_attach();
    while (!atomic_load(&walk_go))
        ouro_safepoint();
    ouro_object *listed = ouro_gc_get_objects(&node_type);
    atomic_store(&walk_listed, listed ? (int)ouro_list_len(listed) : -1);
    ouro_xdecref(listed);
    ouro_thread_detach();
    return NULL;
}

static void weak_get_mid_settle_keeps_the_cycle(void **state)
{
    (void)state;
    ouro_object *b;
    member_a = weak_cycle(1, &b);
    ouro_decref(member_a);
    ouro_decref(b);
    ouro_flush();
    atomic_store(&walk_go, 0);
    atomic_store(&walk_listed, -2);
    pthread_t w;
    pthread_create(&w, NULL, walker, NULL);
    pthread_t th = start_reader(NULL);
    atomic_store(&ouro__settle_batch_test_hook, let_the_reader_in_mid_settle);
    int64_t found = ouro_gc_collect();
    /* Undo the set-up before any assertion (see the between-rounds test). */
    atomic_store(&ouro__settle_batch_test_hook, NULL);
    atomic_store(&go, 1);
    atomic_store(&walk_go, 1);
    ouro_blocking_begin();
    pthread_join(w, NULL);
    ouro_blocking_end();
    finish_reader(th);
    /* The first pass let a go; the last step saw it touched. */
    assert_int_equal(found, 0);
    assert_int_equal(atomic_load(&walk_listed), 2);
    assert_int_equal(ouro_gc_collect(), 2);
    assert_null(ouro_weakref_get(weak));
    ouro_decref(weak);
}

/* A garbage weak reference whose referent dies by counting during the
 * settle step, after pass 1 let the weak reference go: the dying thread
 * takes a reference to it for its callback, which keeps it.  The last step
 * must see that (a weak reference always has a weak side), so the weak
 * reference and the cycle through its data survive. */
static ouro_object *weak_member, *escaped;
static _Atomic int dropper_ready, drop_go, dropped, dropper_intact;

static void keep_the_weakref(ouro_object *w, ouro_object *data)
{
    (void)data;
    ouro_incref(w);
    escaped = w;
}

static void let_the_referent_die_mid_settle(void)
{
    if (!left_registry(weak_member))
        return;
    hand_over(&drop_go, &dropped);
}

static void *dropper(void *arg)
{
    (void)arg;
    ouro_thread_attach();
    ouro_object *r = ouro_record_new(&node_type);
    ouro_object *x = ouro_record_new(&node_type);
    weak_member = ouro_weakref_new(r, keep_the_weakref, x);
    ouro_record_set(x, 0, weak_member);   /* x <-> the weak reference */
    ouro_decref(x);
    ouro_decref(weak_member);
    ouro_flush();
    atomic_store(&dropper_ready, 1);
    while (!atomic_load(&drop_go))
        ouro_safepoint();
    ouro_decref(r);
    ouro_flush();   /* r dies here: the callback runs on this thread */
    atomic_store_explicit(&dropped, 1, memory_order_release);
    while (!atomic_load_explicit(&collected, memory_order_acquire))
        ouro_safepoint();
    if (escaped) {
        ouro_object *data = ouro_weakref_data(escaped);
        ouro_object *back = data ? ouro_record_get(data, 0) : NULL;
        atomic_store(&dropper_intact, back == escaped);
        ouro_xdecref(back);
        ouro_xdecref(data);
        ouro_decref(escaped);
    }
    ouro_thread_detach();
    return NULL;
}

static void weakref_callback_mid_settle_keeps_the_weakref(void **state)
{
    (void)state;
    ouro_record_type_init(&node_type, "Node", 1, NULL);
    atomic_store(&dropper_ready, 0);
    atomic_store(&drop_go, 0);
    atomic_store(&dropped, 0);
    atomic_store(&dropper_intact, 0);
    atomic_store(&collected, 0);
    escaped = NULL;
    pthread_t d;
    pthread_create(&d, NULL, dropper, NULL);
    while (!atomic_load(&dropper_ready))
        ouro_safepoint();
    atomic_store(&ouro__settle_batch_test_hook,
                 let_the_referent_die_mid_settle);
    /* The callback took the weak reference after pass 1 let it go. */
    assert_int_equal(ouro_gc_collect(), 0);
    atomic_store(&ouro__settle_batch_test_hook, NULL);
    assert_true(atomic_load(&dropped));
    atomic_store_explicit(&collected, 1, memory_order_release);
    ouro_blocking_begin();
    pthread_join(d, NULL);
    ouro_blocking_end();
    assert_true(atomic_load(&dropper_intact));
    ouro_flush();
    assert_int_equal(ouro_gc_collect(), 2);   /* released: garbage again */
}

/* A mutator links and unlinks objects and dereferences a weak reference
 * while the settle step works through a large garbage set: the hook
 * waits for it.
 * When the first pass held every side lock, the mutator stopped at its
 * first allocation until the pass was over, and the hook timed out. */
static _Atomic int mutate_go, mutated, weak_live_lost;
static ouro_object *weak_live;

static void let_a_mutator_work(void)
{
    hand_over(&mutate_go, &mutated);
}

static void *busy_mutator(void *arg)
{
    (void)arg;
    ouro_thread_attach();
    while (!atomic_load(&mutate_go))
        ouro_safepoint();
    for (int i = 0; i < 100; i++) {
        ouro_object *r = ouro_record_new(&node_type);   /* linked */
        ouro_decref(r);
        ouro_flush();                                   /* unlinked */
        ouro_object *l = ouro_weakref_get(weak_live);
        if (!l)
            atomic_store(&weak_live_lost, 1);
        ouro_xdecref(l);
    }
    atomic_store_explicit(&mutated, 1, memory_order_release);
    ouro_thread_detach();
    return NULL;
}

static void settle_stops_no_mutator(void **state)
{
    (void)state;
    ouro_record_type_init(&node_type, "Node", 1, NULL);
    enum { PAIRS = 4096 };
    for (int i = 0; i < PAIRS; i++) {
        ouro_object *x = ouro_record_new(&node_type);
        ouro_object *y = ouro_record_new(&node_type);
        ouro_record_set(x, 0, y);
        ouro_record_set(y, 0, x);
        ouro_decref(x);
        ouro_decref(y);
    }
    ouro_object *live = ouro_record_new(&node_type);
    weak_live = ouro_weakref_new(live, NULL, NULL);
    ouro_flush();
    atomic_store(&mutate_go, 0);
    atomic_store(&mutated, 0);
    atomic_store(&weak_live_lost, 0);
    pthread_t m;
    pthread_create(&m, NULL, busy_mutator, NULL);
    atomic_store(&ouro__settle_batch_test_hook, let_a_mutator_work);
    assert_int_equal(ouro_gc_collect(), 2 * PAIRS);
    atomic_store(&ouro__settle_batch_test_hook, NULL);
    assert_true(atomic_load(&mutated));   /* done before the pass was */
    ouro_blocking_begin();
    pthread_join(m, NULL);
    ouro_blocking_end();
    assert_false(atomic_load(&weak_live_lost));
    ouro_decref(weak_live);
    ouro_decref(live);
}

/* ---- the refine without memory ------------------------------------------
 *
 * A weak dereference before the settle step touches a; the refine makes it
 * black and pushes it to spread black to b, and that push finds no memory.
 * Nothing is proven then: b must stay black too, its weak reference
 * intact (review finding: with the stack still empty, the check that
 * turns everything black was skipped, and b's weak reference was cleared
 * while the reader kept it alive through a). */

static _Atomic int fail_stack_block, stack_block_failed;

/* The collector's first stack block is 1024 node indices. */
static void *failing_malloc(size_t size, void *ctx)
{
    (void)ctx;
    if (atomic_load(&fail_stack_block) && size == 1024 * sizeof(uint32_t) &&
        !atomic_exchange(&stack_block_failed, 1))
        return NULL;
    return malloc(size);
}

static void plain_free(void *p, void *ctx)
{
    (void)ctx;
    free(p);
}

static int failing_setup(void **state)
{
    (void)state;
    atomic_store(&fail_stack_block, 0);
    atomic_store(&stack_block_failed, 0);
    ouro_config cfg = {.malloc_fn = failing_malloc, .free_fn = plain_free,
                       .gc_disabled = 1};
    return ouro_test_start(&cfg);
}

static void let_the_reader_in_then_fail(void)
{
    let_the_reader_in();
    atomic_store(&fail_stack_block, 1);
}

static void refine_without_memory_keeps_weak_references(void **state)
{
    (void)state;
    ouro_object *b, *a = weak_cycle(1, &b);
    ouro_object *weak_b = ouro_weakref_new(b, NULL, NULL);
    ouro_decref(a);
    ouro_decref(b);
    ouro_flush();
    pthread_t th = start_reader(let_the_reader_in_then_fail);
    int64_t found = ouro_gc_collect();
    atomic_store(&fail_stack_block, 0);
    ouro_object *bb = ouro_weakref_get(weak_b);   /* alive: a refers to it */
    finish_reader(th);
    assert_true(atomic_load(&stack_block_failed));
    assert_true(found == 0 || found == OURO_ENOMEM);
    assert_non_null(bb);
    ouro_decref(bb);
    ouro_flush();
    assert_int_equal(ouro_gc_collect(), 2);
    assert_null(ouro_weakref_get(weak));
    ouro_decref(weak);
    ouro_decref(weak_b);
}

/* ---- a merge in progress during the settle step ------------------------ */

/* Sleep in steps of 1 ms until *flag is set, for `ms` at most. */
static void wait_for(_Atomic int *flag, int ms)
{
    for (int i = 0; i < ms && !atomic_load(flag); i++) {
        struct timespec ts = {0, 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

/* A two-list cycle a <-> b made by this thread, b released: returns a,
 * whose references (ours and b's slot) are all local. */
static ouro_object *cycle_with_local_member(void)
{
    ouro_object *a = ouro_list_new(0), *b = ouro_list_new(0);
    assert_int_equal(ouro_list_append(a, b), OURO_OK);
    assert_int_equal(ouro_list_append(b, a), OURO_OK);
    ouro_decref(b);   /* b is a candidate */
    ouro_flush();
    return a;
}

static ouro_object *queued_member;        /* a, owned by the test thread */
static pthread_t owner_thread;
static _Atomic int merge_now, mid_merge, merge_done;
static _Atomic int64_t found_during_merge;

/* On the collector thread, between W2 and the settle step's locks: let the
 * owner come back and merge, and wait until it is inside the merge. */
static void let_the_owner_merge(void)
{
    atomic_store(&ouro__settle_test_hook, NULL);
    atomic_store(&merge_now, 1);
    while (!atomic_load(&mid_merge))
        sched_yield();
}

/* In the owner's merge of the queued member, after its CAS and before the
 * count change (decref_shared): stay there while the collection settles
 * and frees what it found (or for 200 ms, if the collection needs this
 * thread to pass a quiescent point first). */
static void stall_the_merge(ouro_object *o)
{
    if (o != queued_member || !pthread_equal(pthread_self(), owner_thread) ||
        atomic_exchange(&mid_merge, 1))
        return;
    wait_for(&merge_done, 200);
}

static void *drop_and_collect(void *arg)
{
    (void)arg;
    if (ouro_thread_attach() != OURO_OK)
        return NULL;
    /* Not the owner, and the shared count is 0: into the owner's merge
     * queue (QUEUED). */
    ouro_decref(queued_member);
    ouro_flush();
    atomic_store(&ouro__settle_test_hook, let_the_owner_merge);
    atomic_store(&found_during_merge, ouro_gc_collect());
    atomic_store(&merge_done, 1);
    ouro_thread_detach();
    return NULL;
}

static void owner_merging_during_settle_keeps_the_cycle(void **state)
{
    (void)state;
    queued_member = cycle_with_local_member();   /* our reference: theirs */
    owner_thread = pthread_self();
    atomic_store(&merge_now, 0);
    atomic_store(&mid_merge, 0);
    atomic_store(&merge_done, 0);
    atomic_store(&found_during_merge, -1);
    atomic_store(&ouro__decref_test_hook, stall_the_merge);
    /* Offline through the handshakes: they do not wait for us, and we do
     * not merge until the collector's hook lets us. */
    ouro_blocking_begin();
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, drop_and_collect, NULL), 0);
    /* The hook fires only if validation left a white: it must not. */
    while (!atomic_load(&merge_now) && !atomic_load(&merge_done))
        sched_yield();
    ouro_blocking_end();
    ouro_safepoint();   /* merges a (stalling in the hook, if settling) */
    ouro_blocking_begin();
    pthread_join(t, NULL);
    ouro_blocking_end();
    atomic_store(&ouro__decref_test_hook, NULL);
    atomic_store(&ouro__settle_test_hook, NULL);
    /* a was queued when its count was read: black, with b.  (Left white,
     * they reach the settle step; our merge starts there, and the refine,
     * which no longer sees QUEUED, frees them under it.) */
    assert_int_equal(atomic_load(&found_during_merge), 0);
    assert_false(atomic_load(&merge_now));
    ouro_flush();
    assert_int_equal(ouro_gc_collect(), 2);
}

/* ---- an owner detaching offline, right after the count was read ------- */

static ouro_object *detached_member;
static pthread_t detaching_thread;
static _Atomic int owner_ready, detach_now, detach_mid, detach_done;

/* In the detaching owner's merge of the member, after its CAS. */
static void stall_the_detach(ouro_object *o)
{
    if (o != detached_member || !atomic_load(&detach_now) ||
        !pthread_equal(pthread_self(), detaching_thread) ||
        atomic_exchange(&detach_mid, 1))
        return;
    wait_for(&detach_done, 500);
}

/* On the collector, right after pass 3 read the member's count: let the
 * owner detach and wait until its merge is past the CAS (1 s at most). */
static void detach_after_the_read(ouro_object *o)
{
    if (o != detached_member)
        return;
    atomic_store(&ouro__recount_test_hook, NULL);
    atomic_store(&detach_now, 1);
    wait_for(&detach_mid, 1000);
}

static void *detaching_owner(void *arg)
{
    (void)arg;
    if (ouro_thread_attach() != OURO_OK)
        return NULL;
    detached_member = cycle_with_local_member();   /* our reference: main's */
    ouro_blocking_begin();
    atomic_store(&owner_ready, 1);
    while (!atomic_load(&detach_now))
        sched_yield();
    ouro_thread_detach();   /* offline: merges a, with no handshake */
    return NULL;
}

static void owner_detaching_offline_mid_merge_keeps_the_cycle(void **state)
{
    (void)state;
    atomic_store(&owner_ready, 0);
    atomic_store(&detach_now, 0);
    atomic_store(&detach_mid, 0);
    atomic_store(&detach_done, 0);
    atomic_store(&ouro__decref_test_hook, stall_the_detach);
    assert_int_equal(
        pthread_create(&detaching_thread, NULL, detaching_owner, NULL), 0);
    while (!atomic_load(&owner_ready))
        ouro_safepoint();
    ouro_decref(detached_member);   /* not the owner, shared 0: QUEUED */
    ouro_flush();
    atomic_store(&ouro__recount_test_hook, detach_after_the_read);
    int64_t found = ouro_gc_collect();
    atomic_store(&detach_done, 1);
    ouro_blocking_begin();
    pthread_join(detaching_thread, NULL);
    ouro_blocking_end();
    atomic_store(&ouro__decref_test_hook, NULL);
    atomic_store(&ouro__recount_test_hook, NULL);
    assert_true(atomic_load(&detach_mid));   /* the window was reached */
    assert_int_equal(found, 0);
    ouro_flush();
    assert_int_equal(ouro_gc_collect(), 2);
}

/* Two garbage cycles, each with a weak reference to a member, and a
 * reader for each.  The first reader dereferences its weak reference once
 * pass 1 let both members go; the last step's first round finds that
 * member flagged, and between that round and the next the second reader
 * dereferences the other: the next round must read the flags again
 * (every round is a new read), and keep the second cycle too. */
struct cue {
    ouro_object *weak;
    _Atomic int go, got;
    _Atomic int intact;
};
static struct cue cue1, cue2;
static ouro_object *round_a1, *round_a2;
static _Atomic int between_rounds;

static void *cued_reader(void *arg)
{
    struct cue *q = arg;
    ouro_thread_attach();
    while (!atomic_load_explicit(&q->go, memory_order_acquire))
        ouro_safepoint();
    ouro_object *a = ouro_weakref_get(q->weak);
    atomic_store_explicit(&q->got, 1, memory_order_release);
    while (!atomic_load_explicit(&collected, memory_order_acquire))
        ouro_safepoint();
    if (a) {
        ouro_object *b = ouro_record_get(a, 0);
        ouro_object *back = ouro_record_get(b, 0);
        atomic_store(&q->intact, ouro_type_of(b) == &node_type && back == a);
        ouro_decref(back);
        ouro_decref(b);
        ouro_decref(a);
    }
    ouro_thread_detach();
    return NULL;
}

static void let_the_first_reader_in(void)
{
    if (!left_registry(round_a1) || !left_registry(round_a2))
        return;
    hand_over(&cue1.go, &cue1.got);
}

static void let_the_second_reader_in(void)
{
    atomic_store(&ouro__settle_round_test_hook, NULL);
    atomic_store(&between_rounds, 1);
    atomic_store_explicit(&cue2.go, 1, memory_order_release);
    hook_wait_quiescent(&cue2.got);
}

static void weak_get_between_rounds_keeps_the_cycle(void **state)
{
    (void)state;
    ouro_object *b1, *b2;
    round_a1 = weak_cycle(1, &b1);
    cue1 = (struct cue){.weak = weak};
    round_a2 = weak_cycle(1, &b2);
    cue2 = (struct cue){.weak = weak};
    ouro_decref(round_a1);
    ouro_decref(b1);
    ouro_decref(round_a2);
    ouro_decref(b2);
    ouro_flush();
    atomic_store(&collected, 0);
    atomic_store(&between_rounds, 0);
    pthread_t r1, r2;
    pthread_create(&r1, NULL, cued_reader, &cue1);
    pthread_create(&r2, NULL, cued_reader, &cue2);
    atomic_store(&ouro__settle_batch_test_hook, let_the_first_reader_in);
    atomic_store(&ouro__settle_round_test_hook, let_the_second_reader_in);
    int64_t found = ouro_gc_collect();
    /* Undo the set-up before any assertion, so that a failure leaves no
     * hook set and no reader waiting. */
    atomic_store(&ouro__settle_batch_test_hook, NULL);
    atomic_store(&ouro__settle_round_test_hook, NULL);
    atomic_store(&cue1.go, 1);
    atomic_store(&cue2.go, 1);
    atomic_store_explicit(&collected, 1, memory_order_release);
    ouro_blocking_begin();
    pthread_join(r1, NULL);
    pthread_join(r2, NULL);
    ouro_blocking_end();
    /* Round 1 found the first member flagged, round 2 the second. */
    assert_int_equal(found, 0);
    assert_true(atomic_load(&between_rounds));
    assert_true(atomic_load(&cue1.got) && atomic_load(&cue2.got));
    assert_true(atomic_load(&cue1.intact));
    assert_true(atomic_load(&cue2.intact));
    ouro_flush();
    assert_int_equal(ouro_gc_collect(), 4);
    assert_null(ouro_weakref_get(cue1.weak));
    assert_null(ouro_weakref_get(cue2.weak));
    ouro_decref(cue1.weak);
    ouro_decref(cue2.weak);
}

/* A registry walk inside the settle step, on its own thread, would wait
 * for itself at the gate: the runtime dies naming the gate instead of
 * hanging or walking a registry the settle step is changing. */
static void walk_inside_the_settle(void)
{
    atomic_store(&ouro__settle_batch_test_hook, NULL);
    ouro__walk_gate_enter();
}

static void walk_inside_the_settle_body(void)
{
    ouro_config cfg = {.gc_disabled = 1};
    if (ouro_test_start(&cfg) != 0)
        return;
    ouro_object *b;
    ouro_object *a = weak_cycle(1, &b);
    ouro_decref(a);
    ouro_decref(b);
    ouro_flush();
    atomic_store(&ouro__settle_batch_test_hook, walk_inside_the_settle);
    ouro_gc_collect();
}

static void walk_inside_the_settle_aborts(void **state)
{
    (void)state;
    expect_death(walk_inside_the_settle_body, "walk gate");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        OURO_TEST(weak_get_before_settle_keeps_the_cycle),
        OURO_TEST(garbage_releases_what_the_settle_kept),
        OURO_TEST(garbage_releases_what_validation_kept),
        OURO_TEST(validation_reads_a_changed_reference_afresh),
        OURO_TEST(weak_get_mid_settle_keeps_the_cycle),
        OURO_TEST(weakref_callback_mid_settle_keeps_the_weakref),
        OURO_TEST(weak_get_between_rounds_keeps_the_cycle),
        OURO_TEST(settle_stops_no_mutator),
        cmocka_unit_test_setup_teardown(
            refine_without_memory_keeps_weak_references, failing_setup,
            ouro_test_teardown),
        OURO_TEST(owner_merging_during_settle_keeps_the_cycle),
        OURO_TEST(owner_detaching_offline_mid_merge_keeps_the_cycle),
        cmocka_unit_test(walk_inside_the_settle_aborts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
