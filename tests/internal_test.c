/*
 * internal_test.c - white-box regression tests that force interleavings the
 * public API cannot schedule deterministically.  Each reproduces a bug that
 * an independent review found (see docs/grace-periods.md, "Regressions").
 */
#include "fixture.h"

#include "decref_buffer.h"
#include "orphan.h"
#include "strtab.h"
#include "dealloc.h"
#include "candidates.h"
#include "gc.h"
#include "refcount.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

/* ---- 1. a dict rebuild must publish its new array before it records the
 * decrements of tombstoned keys ----------------------------------------- */

#define SMALL_BATCH 16

typedef struct {
    ouro_object ob;
    ouro_strtab tab;
} dict_layout;   /* matches runtime/dict.c */

static pthread_t writer_thread;
static _Atomic int hook_armed, hook_in_rebuild, stage;
static int batch_allocs_in_rebuild;

static bool is_strtab_array_size(size_t n)
{
    if (n <= sizeof(ouro_strtab_array))
        return false;
    size_t bytes = n - sizeof(ouro_strtab_array);
    if (bytes % sizeof(ouro_strtab_entry))
        return false;
    size_t cap = bytes / sizeof(ouro_strtab_entry);
    return cap >= 8 && (cap & (cap - 1)) == 0;
}

/* On the writer: note when a rebuild allocates its array; at the second
 * batch allocation after that (a seal in the middle of the rebuild), stop
 * and let the reader run. */
static void *pausing_malloc(size_t n, void *ctx)
{
    (void)ctx;
    if (atomic_load(&hook_armed) && pthread_equal(pthread_self(), writer_thread)) {
        if (!atomic_load(&hook_in_rebuild) && is_strtab_array_size(n)) {
            atomic_store(&hook_in_rebuild, 1);
        } else if (atomic_load(&hook_in_rebuild) &&
                   n == sizeof(ouro_batch) + SMALL_BATCH * sizeof(ouro_object *) &&
                   ++batch_allocs_in_rebuild == 2) {
            atomic_store(&hook_armed, 0);
            atomic_store(&stage, 1);
            while (atomic_load(&stage) != 2)
                sched_yield();
        }
    }
    return malloc(n);
}

static void plain_free(void *p, void *ctx)
{
    (void)ctx;
    free(p);
}

static ouro_object *dict;
static size_t freed_keys_seen;

static void *rebuild_reader(void *arg)
{
    (void)arg;
    ouro_thread_attach();
    while (atomic_load(&stage) == 0)
        ouro_safepoint();
    ouro_safepoint();   /* quiescent point inside the writer's rebuild */
    /* The first step of a lookup: load the current array. */
    ouro_strtab_array *a = atomic_load_explicit(
        &((dict_layout *)dict)->tab.array, memory_order_acquire);
    atomic_store(&stage, 2);
    while (atomic_load(&stage) != 3)
        sched_yield();
    /* Still before our next quiescent point: every key we could compare
     * must be alive. */
    for (size_t i = 0; i <= a->mask; i++) {
        ouro_object *k = atomic_load_explicit(&a->e[i].key,
                                              memory_order_acquire);
        if (k && k->ob_type == &ouro__freed_type)
            freed_keys_seen++;
    }
    atomic_store(&stage, 4);
    ouro_thread_detach();
    return NULL;
}

static void rebuild_publishes_before_releasing_tombstones(void **state)
{
    (void)state;
#ifdef NDEBUG
    skip();   /* freed keys are recognisable only in debug builds */
#endif
    writer_thread = pthread_self();
    ouro_config cfg = {.malloc_fn = pausing_malloc, .free_fn = plain_free,
                       .decref_batch = SMALL_BATCH, .gc_disabled = 1};
    assert_int_equal(ouro_init(&cfg), OURO_OK);
    assert_int_equal(ouro_thread_attach(), OURO_OK);
    dict = ouro_dict_new();
    pthread_t r;
    pthread_create(&r, NULL, rebuild_reader, NULL);
    char name[32];
    for (int i = 0; i < 100; i++) {
        snprintf(name, sizeof name, "old%d", i);
        ouro_dict_set_cstr(dict, name, ouro_none());
    }
    for (int i = 0; i < 100; i++) {
        snprintf(name, sizeof name, "old%d", i);
        ouro_object *k = ouro_str_from(name);
        ouro_dict_del(dict, k);
        ouro_decref(k);
    }
    ouro_flush();   /* the tombstoned keys are now held by the table alone */
    atomic_store(&hook_armed, 1);
    for (int i = 0; atomic_load(&stage) < 2; i++) {
        snprintf(name, sizeof name, "new%d", i);
        ouro_dict_set_cstr(dict, name, ouro_none());
    }
    for (int i = 0; i < 4; i++)
        ouro_safepoint();   /* apply whatever is ready, free a slice */
    atomic_store(&stage, 3);
    ouro_blocking_begin();
    while (atomic_load(&stage) != 4)
        sched_yield();
    pthread_join(r, NULL);
    ouro_blocking_end();
    assert_int_equal(freed_keys_seen, 0);
    ouro_decref(dict);
    ouro_shutdown();
}

/* ---- 2. orphaned batches arrive out of goal order; a flush must still
 * apply every ready one ---------------------------------------------------- */

static _Atomic int parked, unpark;

static void *online_laggard(void *arg)
{
    (void)arg;
    ouro_thread_attach();   /* online at the current wr_seq */
    atomic_store(&parked, 1);
    while (!atomic_load(&unpark))
        sched_yield();      /* no safepoint: holds back later goals */
    ouro_thread_detach();
    return NULL;
}

/* An online thread that holds back every grace period from now on. */
static pthread_t start_laggard(void)
{
    atomic_store(&parked, 0);
    atomic_store(&unpark, 0);
    pthread_t lag;
    pthread_create(&lag, NULL, online_laggard, NULL);
    while (!atomic_load(&parked))
        sched_yield();
    return lag;
}

static void stop_laggard(pthread_t lag)
{
    atomic_store(&unpark, 1);
    ouro_blocking_begin();
    pthread_join(lag, NULL);
    ouro_blocking_end();
}

static ouro_batch *batch_with(ouro_object *o, uint64_t goal)
{
    ouro_batch *b = malloc(sizeof *b + ouro__rt.batch_cap * sizeof(ouro_object *));
    b->next = NULL;
    b->goal = goal;
    b->len = 1;
    b->pos = 0;
    b->entries[0] = o;
    return b;
}

static void orphan_pool_applies_ready_batches_in_any_order(void **state)
{
    (void)state;
    ouro_object *early = ouro_str_from("released before the laggard came");
    ouro_object *late = ouro_str_from("released after");
    ouro_incref(early);
    ouro_incref(late);
    ouro_flush();
    uint64_t g_early = ouro__gp_advance();
    ouro_safepoint();              /* our slot reaches g_early */
    pthread_t lag = start_laggard();
    uint64_t g_late = ouro__gp_advance();   /* the laggard holds it back */
    ouro_safepoint();

    /* Two "detached threads" hand over in the wrong order: late, early. */
    ouro_thread fake_late = {0}, fake_early = {0};
    fake_late.pending_head = fake_late.pending_tail = batch_with(late, g_late);
    fake_early.pending_head = fake_early.pending_tail = batch_with(early, g_early);
    ouro__orphan_hand_over(&fake_late);
    ouro__orphan_hand_over(&fake_early);
    assert_int_equal(ouro__orphan_max_goal(), g_late);

    ouro__orphan_adopt(ouro__self);
    assert_int_equal(ouro_refcnt(early), 1);   /* applied behind an unready one */
    assert_int_equal(ouro_refcnt(late), 2);    /* still waiting */

    stop_laggard(lag);
    ouro_flush();                               /* terminates, applies late */
    assert_int_equal(ouro_refcnt(late), 1);
    ouro_decref(early);
    ouro_decref(late);
}

/* ---- 3. slow grace periods: safepoints do not pile up small batches --
 *
 * Every sealed batch is a whole block held until its grace period ends.
 * Safepoints used to seal the current batch however few entries it held:
 * while an online thread held grace periods back, a thread that dropped a
 * few references between safepoints kept one nearly empty batch per
 * safepoint (the stress suite's graph scenario had over 100,000 of them,
 * gigabytes). */

static void safepoints_do_not_pile_up_small_batches(void **state)
{
    (void)state;
    ouro_object *o = ouro_list_new(0);
    ouro_flush();
    pthread_t lag = start_laggard();
    for (int i = 0; i < 1000; i++) {   /* no grace period can end now */
        ouro_incref(o);
        ouro_decref(o);
        ouro_safepoint();
    }
    unsigned pending = ouro__self->npending;
    stop_laggard(lag);
    ouro_flush();
    assert_true(pending <= 2);
    assert_int_equal(ouro_refcnt(o), 1);
    ouro_decref(o);
}

/* ---- 4. a safepoint applies at least what was made since the last one --
 *
 * Safepoints apply a bounded number of pending decrements, to keep each
 * pause short.  When that bound was fixed (256), a thread that made 1000
 * decrements between safepoints fell behind by the difference at every
 * one, and its backlog of sealed batches grew without end. */

static void safepoint_backlog_stays_bounded(void **state)
{
    (void)state;
    ouro_object *o = ouro_list_new(0), *p = ouro_list_new(0);
    ouro_flush();
    unsigned most = 0;
    for (int round = 0; round < 200; round++) {
        for (int i = 0; i < 500; i++) {   /* alternating: no long runs */
            ouro_incref(o);
            ouro_decref(o);
            ouro_incref(p);
            ouro_decref(p);
        }
        ouro_safepoint();
        if (ouro__self->npending > most)
            most = ouro__self->npending;
    }
    ouro_flush();
    assert_true(most <= 4);
    assert_int_equal(ouro_refcnt(o), 1);
    assert_int_equal(ouro_refcnt(p), 1);
    ouro_decref(o);
    ouro_decref(p);
}

/* ---- 5. buffering the same objects again allocates nothing ------------
 *
 * The candidate set's bitmap regions are allocated once, by the first
 * buffering in their 2 MiB of addresses, and a take leaves them in place:
 * buffering as many candidates again, after a collection, allocates no
 * memory in the mutator's pause.  (The hashed shards this replaced had to
 * recycle their taken tables for the same effect.) */

#define RECYCLED_N 40000
#define BIG_ALLOC 4096   /* a bitmap region, or a table of 512 slots */

static _Atomic int big_armed;
static _Atomic unsigned big_allocs;

static void *noting_malloc(size_t size, void *ctx)
{
    (void)ctx;
    if (size >= BIG_ALLOC && atomic_load(&big_armed))
        atomic_fetch_add(&big_allocs, 1);
    return malloc(size);
}

static int noting_setup(void **state)
{
    (void)state;
    atomic_store(&big_armed, 0);
    atomic_store(&big_allocs, 0);
    /* Small batches: a decrement batch stays under BIG_ALLOC. */
    ouro_config cfg = {.gc_disabled = 1, .decref_batch = 256,
                       .malloc_fn = noting_malloc, .free_fn = plain_free};
    return ouro_test_start(&cfg);
}

/* An increment and a decrement of each: all become candidates. */
static void buffer_all(ouro_object **objs)
{
    for (int i = 0; i < RECYCLED_N; i++) {
        ouro_incref(objs[i]);
        ouro_decref(objs[i]);
        if (i % 200 == 0)
            ouro_safepoint();
    }
    ouro_flush();
}

static void candidate_set_buffers_again_without_allocating(void **state)
{
    (void)state;
    static ouro_type rec;   /* outlives the objects, freed at teardown */
    ouro_record_type_init(&rec, "Rec", 1, NULL);
    ouro_object **objs = malloc(RECYCLED_N * sizeof *objs);
    assert_non_null(objs);
    for (int i = 0; i < RECYCLED_N; i++)
        assert_non_null(objs[i] = ouro_record_new(&rec));
    ouro_flush();
    buffer_all(objs);
    assert_int_equal(ouro_gc_get_count(), RECYCLED_N);
    assert_int_equal(ouro_gc_collect(), 0);   /* all live: all kept */
    assert_int_equal(ouro_gc_get_count(), 0);
    atomic_store(&big_armed, 1);
    buffer_all(objs);
    atomic_store(&big_armed, 0);
    /* Old now (kept by a collection): they went to the old set. */
    assert_int_equal(ouro_gc_get_count(), 0);
    assert_int_equal(ouro__cand_old_count(), RECYCLED_N);
    assert_int_equal(atomic_load(&big_allocs), 0);
    /* The set still works: a cycle among them is found and freed. */
    ouro_record_set(objs[0], 0, objs[1]);
    ouro_record_set(objs[1], 0, objs[0]);
    assert_int_equal(ouro_gc_collect(), 0);   /* held by the test */
    for (int i = 0; i < RECYCLED_N; i++)
        ouro_decref(objs[i]);
    assert_int_equal(ouro_gc_collect(), 2);
    free(objs);
}

/* ---- 6. a walk finds taken candidates near its last search, however wide
 * the candidates' address range ----------------------------------------
 * Objects of the main thread in the heap and of other threads in mapped
 * arenas lie about 2^46 bytes apart.  A sort that ordered only by the top
 * bits of that range once left whole rings in one run of equal keys, and
 * the search scanned the run: quadratic.  The take's order is exact at any
 * distance.  Two bump arenas up to 2^44 bytes apart stand in for the heap
 * and an arena. */

#define ARENA_BYTES ((size_t)256 << 20)
static char *arena[2];
static _Atomic size_t arena_used[2];
static _Atomic int arena_far;

static void *arena_malloc(size_t size, void *ctx)
{
    (void)ctx;
    int a = atomic_load(&arena_far);
    size_t at = atomic_fetch_add(&arena_used[a], (size + 15) & ~(size_t)15);
    return at + size <= ARENA_BYTES ? arena[a] + at : NULL;
}

static void arena_free(void *p, void *ctx)
{
    (void)p;
    (void)ctx;   /* the arenas go at teardown */
}

static int arenas_setup(void **state)
{
    (void)state;
    arena[0] = mmap(NULL, ARENA_BYTES, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (arena[0] == MAP_FAILED)
        return -1;
    /* As far away as the address space (and a sanitizer's shadow
     * ranges) allow: the farther, the more directories the take walks. */
    arena[1] = MAP_FAILED;
    for (unsigned bits = 44; arena[1] == MAP_FAILED && bits >= 34; bits--)
        for (int below = 1; below >= 0 && arena[1] == MAP_FAILED; below--) {
            uintptr_t off = (uintptr_t)1 << bits, base = (uintptr_t)arena[0];
            if (below ? base < off : UINTPTR_MAX - base < 2 * off)
                continue;
            void *want = (void *)((below ? base - off : base + off) &
                                  ~(uintptr_t)0xfffff);
            arena[1] = mmap(want, ARENA_BYTES, PROT_READ | PROT_WRITE,
                            MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE |
                                MAP_FIXED_NOREPLACE, -1, 0);
            if (arena[1] != MAP_FAILED && arena[1] != want) {
                munmap(arena[1], ARENA_BYTES);   /* an old kernel's hint */
                arena[1] = MAP_FAILED;
            }
        }
    if (arena[1] == MAP_FAILED)
        return -1;
    atomic_store(&arena_used[0], 0);
    atomic_store(&arena_used[1], 0);
    atomic_store(&arena_far, 0);
    ouro_config cfg = {.gc_disabled = 1, .malloc_fn = arena_malloc,
                       .free_fn = arena_free};
    return ouro_test_start(&cfg);
}

static int arenas_teardown(void **state)
{
    int rc = ouro_test_teardown(state);
    munmap(arena[0], ARENA_BYTES);
    munmap(arena[1], ARENA_BYTES);
    return rc;
}

/* A far ring and a near pair, dropped; the collection's searches of the
 * taken candidates, counted. */
static struct ouro__search_count collect_far_ring_and_near_pair(int ring)
{
    static ouro_type rec;
    ouro_record_type_init(&rec, "Rec", 1, NULL);
    atomic_store(&arena_far, 1);   /* the ring far away, in address order */
    uintptr_t far = atomic_load(&arena_used[1]) + (uintptr_t)arena[1];
    ouro_test_drop_ring(&rec, ring);
    atomic_store(&arena_far, 0);   /* a pair, and all else, near */
    ouro_object *a = ouro_record_new(&rec), *b = ouro_record_new(&rec);
    ouro_record_set(a, 0, b);
    ouro_record_set(b, 0, a);
    ouro_decref(a);
    ouro_decref(b);
    ouro_flush();
    uintptr_t near = (uintptr_t)a;
    assert_true((near > far ? near - far : far - near) >= (uintptr_t)1 << 33);
    struct ouro__search_count count = {0, 0};
    atomic_store(&ouro__take_search_count, &count);
    assert_int_equal(ouro_gc_collect(), ring + 2);
    atomic_store(&ouro__take_search_count, NULL);
    return count;
}

static void no_walk_work(ouro_object *candidate)
{
    (void)candidate;
}

static void take_search_stays_near_on_a_wide_range(void **state)
{
    (void)state;
    enum { RING = 20000 };
    /* With the walk hook set, each candidate's subgraph is read at once:
     * each ring member is reached from its neighbour before the loop
     * comes to it, and searched for near the last search. */
    atomic_store(&ouro__walk_test_hook, no_walk_work);
    struct ouro__search_count count = collect_far_ring_and_near_pair(RING);
    atomic_store(&ouro__walk_test_hook, NULL);
    assert_true(count.searches >= RING - 1);
    assert_true(count.probes <= 4 * count.searches);
    /* Without it, trial deletion reads a little behind the loop, which
     * has added the next members as candidates already: no search. */
    count = collect_far_ring_and_near_pair(RING);
    assert_true(count.searches <= RING / 100);
}

/* Black spreads from a live cycle's outside reference to its other
 * member in trial deletion, whether along the recorded edges or, without
 * them, through the objects: validation would catch a member left white,
 * but count it as a suspect dropped (`aborted`). */
static void live_cycle_is_black_in_trial(bool edges_off)
{
    static ouro_type rec;
    ouro_record_type_init(&rec, "Rec", 1, NULL);
    ouro_object *holder = ouro_list_new(0);
    ouro_object *a = ouro_record_new(&rec), *b = ouro_record_new(&rec);
    ouro_record_set(a, 0, b);
    ouro_record_set(b, 0, a);
    assert_int_equal(ouro_list_append(holder, a), OURO_OK);
    ouro_decref(a);
    ouro_decref(b);   /* both candidates, both live */
    ouro_object *x = ouro_record_new(&rec), *y = ouro_record_new(&rec);
    ouro_record_set(x, 0, y);
    ouro_record_set(y, 0, x);
    ouro_decref(x);
    ouro_decref(y);   /* garbage */
    ouro_flush();
    ouro_gc_stats before, after;
    ouro_gc_get_stats(&before);
    atomic_store(&ouro__trial_edges_test_off, edges_off);
    assert_int_equal(ouro_gc_collect(), 2);
    atomic_store(&ouro__trial_edges_test_off, false);
    ouro_gc_get_stats(&after);
    assert_int_equal(after.aborted - before.aborted, 0);
    assert_int_equal(after.examined - before.examined, 4);
    ouro_decref(holder);
    assert_int_equal(ouro_gc_collect(), 2);
}

static void trial_spreads_black_along_recorded_edges(void **state)
{
    (void)state;
    live_cycle_is_black_in_trial(false);
}

static void trial_spreads_black_through_the_objects(void **state)
{
    (void)state;
    live_cycle_is_black_in_trial(true);
}

/* A run of decrements by a thread that does not own the object is one
 * atomic step on the shared count (docs/counting.md, Runs): the hook that
 * sits in each shared decrement fires once for the whole run. */
static ouro_object *_Atomic hooked_object;
static _Atomic int hooked_calls;

static void count_shared_decrements(ouro_object *o)
{
    if (o == atomic_load(&hooked_object))
        atomic_fetch_add(&hooked_calls, 1);
}

static void shared_decrement_run_is_one_step(void **state)
{
    ouro_object *o = ouro_test_orphan_dict();
    for (int i = 0; i < 8; i++)
        ouro_incref(o);
    ouro_flush();
    atomic_store(&hooked_object, o);
    atomic_store(&hooked_calls, 0);
    atomic_store(&ouro__decref_test_hook, count_shared_decrements);
    for (int i = 0; i < 8; i++)
        ouro_decref(o);
    ouro_flush();
    atomic_store(&ouro__decref_test_hook, NULL);
    assert_int_equal(atomic_load(&hooked_calls), 1);
    assert_int_equal(ouro_refcnt(o), 1);
    ouro_decref(o);
}

/* Every run of one object is one step, whatever its length, and ends at
 * the first other object wherever that falls: applying compares many
 * entries at a time (decref_buffer.c), so here another object follows
 * runs of every length up to and past a few of those steps. */
#define LONGEST_RUN 40

static void runs_of_every_length_are_counted_exactly(void **state)
{
    (void)state;
    ouro_object *a = ouro_test_orphan_dict(), *b = ouro_test_orphan_dict();
    const int lengths = LONGEST_RUN + 1;   /* 1..LONGEST_RUN, then 300 */
    int of_a = 300;
    for (int len = 1; len <= LONGEST_RUN; len++)
        of_a += len;
    for (int i = 0; i < of_a; i++)
        ouro_incref(a);
    for (int i = 0; i < lengths; i++)
        ouro_incref(b);
    ouro_flush();
    /* All in one batch, or a batch's end would split a run. */
    assert_true(of_a + lengths <= (int)ouro__rt.batch_cap);
    atomic_store(&hooked_object, a);
    atomic_store(&hooked_calls, 0);
    atomic_store(&ouro__decref_test_hook, count_shared_decrements);
    for (int len = 1; len <= lengths; len++) {
        for (int i = 0; i < (len > LONGEST_RUN ? 300 : len); i++)
            ouro_decref(a);
        ouro_decref(b);
    }
    ouro_flush();
    atomic_store(&ouro__decref_test_hook, NULL);
    assert_int_equal(atomic_load(&hooked_calls), lengths);
    assert_int_equal(ouro_refcnt(a), 1);
    assert_int_equal(ouro_refcnt(b), 1);
    ouro_decref(a);
    ouro_decref(b);
}

/* The scan itself, on made-up pointers (it never reads through them):
 * one entry unlike the others, at every position of a step, unlike in its
 * low half or in its high half only.  Two objects of one heap mostly
 * share their high halves, so the test above would miss a high lane left
 * out of the comparison. */
static void run_scan_compares_every_lane(void **state)
{
    (void)state;
    uintptr_t base = (uintptr_t)0x7f0012345670u;
    uintptr_t unlike[2] = {base ^ 0x100u, 0};
    size_t kinds = 1;
    if (sizeof(uintptr_t) > 4)   /* a high half to differ in */
        unlike[kinds++] = base ^ ((uintptr_t)1 << (sizeof(uintptr_t) * 8 - 20));
    ouro_object *o = (ouro_object *)base;
    ouro_object *e[OURO__RUN_STEP];
    for (size_t i = 0; i < OURO__RUN_STEP; i++)
        e[i] = o;
    assert_true(ouro__run_continues(e, o));
    for (size_t k = 0; k < kinds; k++)
        for (size_t i = 0; i < OURO__RUN_STEP; i++) {
            e[i] = (ouro_object *)unlike[k];
            if (ouro__run_continues(e, o))
                fail_msg("entry %zu differing in its %s half was taken for "
                         "the run", i, k ? "high" : "low");
            e[i] = o;
        }
}

/* ---- 7. a long collection lets grace periods end -----------------------
 *
 * The collector passes a quiescent point every so many steps of its long
 * passes (take, trial deletion, validation, settle, free, release).
 * Before, only trial deletion did: a thread's sealed decrements waited for
 * the rest of the collection (100 ms and more at 2M candidates) and piled
 * up, and each safepoint afterwards applied stale ones, out of cache.
 * Here the garbage's destroy callbacks, which run in one pass of the free
 * phase, start a grace period at the first and find it over at the last.
 * No other thread is online (the main thread waits offline in
 * ouro_gc_collect), so only the collector's own quiescent points end it. */

#define DESTROYED_PAIRS 2048

typedef struct pair_node {
    ouro_object ob;
    ouro_object *peer;
} pair_node;

static _Atomic uint64_t destroy_goal;
static _Atomic int destroyed, goal_done_at_last;

static void pair_traverse(ouro_object *self, ouro_visit_fn visit, void *arg)
{
    ouro_object *peer = ((pair_node *)self)->peer;
    if (peer)
        visit(peer, arg);
}

static void pair_destroy(ouro_object *self)
{
    (void)self;
    int k = atomic_fetch_add(&destroyed, 1) + 1;
    if (k == 1)
        atomic_store(&destroy_goal, ouro__gp_advance());
    else if (k == 2 * DESTROYED_PAIRS)
        atomic_store(&goal_done_at_last,
                     ouro__gp_poll(atomic_load(&destroy_goal)) ? 1 : 2);
}

static const ouro_type pair_type = {
    .name = "pair", .size = sizeof(pair_node), .flags = OURO_TYPE_GC,
    .traverse = pair_traverse, .destroy = pair_destroy};

static void collector_passes_quiescent_points_while_freeing(void **state)
{
    (void)state;
    atomic_store(&destroyed, 0);
    atomic_store(&goal_done_at_last, 0);
    for (int i = 0; i < DESTROYED_PAIRS; i++) {
        ouro_object *a = ouro_new(&pair_type), *b = ouro_new(&pair_type);
        assert_non_null(a);
        assert_non_null(b);
        ouro_incref(b);
        ((pair_node *)a)->peer = b;
        ouro_incref(a);
        ((pair_node *)b)->peer = a;
        ouro_decref(a);
        ouro_decref(b);
    }
    ouro_flush();
    assert_int_equal(ouro_gc_collect(), 2 * DESTROYED_PAIRS);
    assert_int_equal(atomic_load(&destroyed), 2 * DESTROYED_PAIRS);
    assert_int_equal(atomic_load(&goal_done_at_last), 1);
}

/* The same for the take, which reads no object: its array (of nonzero
 * bitmap words) is allocated as it starts; a grace period
 * started there must be over when the first candidate has been walked (the
 * walks' own quiescent points come every 1024 nodes, later). */
static _Atomic int take_armed, take_goal_set, take_goal_done;
static _Atomic uint64_t take_goal;

static void *goal_at_take_malloc(size_t size, void *ctx)
{
    (void)ctx;
    if (size >= 2 * DESTROYED_PAIRS * sizeof(ouro_object *) &&
        atomic_load(&take_armed) && !atomic_exchange(&take_goal_set, 1))
        atomic_store(&take_goal, ouro__gp_advance());
    return malloc(size);
}

static void check_goal_at_first_walk(ouro_object *candidate)
{
    (void)candidate;
    if (atomic_load(&take_goal_set) && !atomic_load(&take_goal_done))
        atomic_store(&take_goal_done,
                     ouro__gp_poll(atomic_load(&take_goal)) ? 1 : 2);
}

static int take_goal_setup(void **state)
{
    (void)state;
    atomic_store(&take_armed, 0);
    atomic_store(&take_goal_set, 0);
    atomic_store(&take_goal_done, 0);
    ouro_config cfg = {.gc_disabled = 1, .malloc_fn = goal_at_take_malloc,
                       .free_fn = plain_free};
    return ouro_test_start(&cfg);
}

static void collector_passes_quiescent_points_while_taking(void **state)
{
    (void)state;
    ouro_object *keep[2 * DESTROYED_PAIRS];
    for (int i = 0; i < DESTROYED_PAIRS; i++) {
        ouro_object *a = ouro_list_new(0), *b = ouro_list_new(0);
        assert_int_equal(ouro_list_append(a, b), OURO_OK);
        assert_int_equal(ouro_list_append(b, a), OURO_OK);
        keep[2 * i] = a;
        keep[2 * i + 1] = b;
        ouro_incref(a);
        ouro_incref(b);
        ouro_decref(a);   /* both stay alive: candidates, not garbage */
        ouro_decref(b);
    }
    ouro_flush();
    atomic_store(&ouro__walk_test_hook, check_goal_at_first_walk);
    atomic_store(&take_armed, 1);
    ouro_gc_collect();
    atomic_store(&take_armed, 0);
    atomic_store(&ouro__walk_test_hook, NULL);
    assert_int_equal(atomic_load(&take_goal_set), 1);
    assert_int_equal(atomic_load(&take_goal_done), 1);
    for (int i = 0; i < 2 * DESTROYED_PAIRS; i++)
        ouro_decref(keep[i]);
    ouro_gc_collect();
}

/* ---- 8. a mutator's buffering (young set) and a walk's boundary
 * insertion (old set) of one object race: exactly one of them places it --
 * A young take and then a full one find each object once, in one set. */

#define RACED 4000
static ouro_object *raced[RACED];
static _Atomic int raced_turn[RACED];

/* Both sides meet at each object, then insert it at once. */
static void meet(int i)
{
    atomic_fetch_add(&raced_turn[i], 1);
    while (atomic_load(&raced_turn[i]) < 2)
        ;
}

static void *buffer_as_mutator(void *arg)
{
    (void)arg;
    ouro_thread_attach();
    for (int i = 0; i < RACED; i++) {
        meet(i);
        ouro__buffer_candidate(raced[i]);
    }
    ouro_thread_detach();
    return NULL;
}

static int by_address(const void *a, const void *b)
{
    uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
    return x < y ? -1 : x > y;
}

/* The objects of a take, into dst; how many. */
static size_t taken_objects(const ouro__taken *t, ouro_object **dst)
{
    size_t n = 0;
    ouro__taken_cursor cu = ouro__taken_cursor_start();
    unsigned k;
    for (ouro_object *o; (o = ouro__taken_next(t, &cu, &k));)
        dst[n++] = o;
    return n;
}

static void racing_insertions_place_an_object_once(void **state)
{
    (void)state;
    for (int i = 0; i < RACED; i++) {
        raced[i] = ouro_list_new(0);
        atomic_store(&raced_turn[i], 0);
    }
    pthread_t th;
    pthread_create(&th, NULL, buffer_as_mutator, NULL);
    for (int i = 0; i < RACED; i++) {
        meet(i);
        ouro__cand_buffer_old(raced[i]);   /* as a young walk's boundary */
    }
    pthread_join(th, NULL);
    ouro__taken young, rest;
    assert_int_equal(ouro__cand_take_all(NULL, true, &young), OURO_OK);
    assert_int_equal(ouro__cand_take_all(NULL, false, &rest), OURO_OK);
    size_t n = young.n + rest.n;
    ouro_object **taken = malloc((n ? n : 1) * sizeof *taken);
    assert_non_null(taken);
    size_t listed = taken_objects(&young, taken);
    listed += taken_objects(&rest, taken + listed);
    assert_int_equal(listed, n);
    ouro__taken_free(&young);
    ouro__taken_free(&rest);
    qsort(taken, n, sizeof *taken, by_address);
    size_t twice = 0;
    for (size_t i = 1; i < n; i++)
        twice += taken[i] == taken[i - 1];
    /* Out of the set: their candidacy ends here. */
    for (size_t i = 0; i < n; i++)
        atomic_fetch_and(&taken[i]->ob_gc, ~(uint32_t)OURO__GC_BUFFERED);
    free(taken);
    for (int i = 0; i < RACED; i++)
        ouro_decref(raced[i]);
    assert_int_equal(twice, 0);
    assert_int_equal(n, RACED);
}


/* ---- 9. ouro_shutdown waits for a detach in progress ------------------
 *
 * A thread that exits while attached detaches in its exit destructor.  If
 * the program calls ouro_shutdown without joining it first, the thread
 * may already be out of the registry (so shutdown counted no other
 * thread) while it still frees into the pools, hands its batches to the
 * orphan pool and releases its grace-period slot: after shutdown had
 * freed all of those, before the fix. */

static _Atomic int detach_in_hook, shutdown_returned, returned_early,
    saw_waiter;
static _Thread_local bool exits_unjoined;   /* the thread under test */

/* On the thread under test only (every detach runs the hook: shutdown's
 * own, the collector's), just out of the registry: wait until
 * ouro_shutdown waits for this detach (up to 10 s), passing quiescent
 * points meanwhile (the slot is still online, and shutdown's flush must
 * not wait for it), and note whether shutdown returned first. */
static void slow_detach(void)
{
    if (!exits_unjoined)
        return;
    atomic_store(&detach_in_hook, 1);
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    do {
        if (atomic_load(&shutdown_returned)) {
            atomic_store(&returned_early, 1);
            return;
        }
        if (ouro__registry_detach_waiters()) {
            atomic_store(&saw_waiter, 1);
            return;
        }
        ouro__quiescent(ouro__self);
        struct timespec d = {0, 1000000};
        nanosleep(&d, NULL);
        clock_gettime(CLOCK_MONOTONIC, &now);
    } while (now.tv_sec - start.tv_sec < 10);
}

static void *exits_attached(void *arg)
{
    (void)arg;
    if (ouro_thread_attach() != OURO_OK)
        return NULL;
    exits_unjoined = true;
    /* Work for the rest of its detach: freed blocks in its pool cache,
     * and decrements whose grace period has not ended. */
    for (int i = 0; i < 1000; i++)
        ouro_decref(ouro_list_new(0));
    ouro_safepoint();
    ouro_object *pending = ouro_str_from("dropped as it exits");
    ouro_decref(pending);
    return NULL;   /* still attached: the exit destructor detaches */
}

static void shutdown_waits_for_a_detach_in_progress(void **state)
{
    (void)state;
    atomic_store(&detach_in_hook, 0);
    atomic_store(&shutdown_returned, 0);
    atomic_store(&returned_early, 0);
    atomic_store(&saw_waiter, 0);
    assert_int_equal(ouro_init(NULL), OURO_OK);
    atomic_store(&ouro__detach_test_hook, slow_detach);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, exits_attached, NULL), 0);
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    do {   /* this thread is not attached: nothing waits for it */
        sched_yield();
        clock_gettime(CLOCK_MONOTONIC, &now);
    } while (!atomic_load(&detach_in_hook) && now.tv_sec - start.tv_sec < 10);
    assert_true(atomic_load(&detach_in_hook));
    ouro_shutdown();   /* not joined: the thread is in its detach */
    atomic_store(&shutdown_returned, 1);
    pthread_join(t, NULL);
    atomic_store(&ouro__detach_test_hook, NULL);
    assert_false(atomic_load(&returned_early));
    assert_true(atomic_load(&saw_waiter));
    assert_int_equal(ouro__registry_detach_waiters(), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rebuild_publishes_before_releasing_tombstones),
        OURO_TEST(orphan_pool_applies_ready_batches_in_any_order),
        OURO_TEST(shared_decrement_run_is_one_step),
        OURO_TEST(runs_of_every_length_are_counted_exactly),
        OURO_TEST(run_scan_compares_every_lane),
        OURO_TEST(trial_spreads_black_along_recorded_edges),
        OURO_TEST(trial_spreads_black_through_the_objects),
        OURO_TEST(safepoints_do_not_pile_up_small_batches),
        OURO_TEST(safepoint_backlog_stays_bounded),
        OURO_TEST(collector_passes_quiescent_points_while_freeing),
        cmocka_unit_test_setup_teardown(
            collector_passes_quiescent_points_while_taking, take_goal_setup,
            ouro_test_teardown),
        cmocka_unit_test_setup_teardown(
            candidate_set_buffers_again_without_allocating, noting_setup,
            ouro_test_teardown),
        cmocka_unit_test_setup_teardown(
            take_search_stays_near_on_a_wide_range, arenas_setup,
            arenas_teardown),
        OURO_TEST(racing_insertions_place_an_object_once),
        cmocka_unit_test(shutdown_waits_for_a_detach_in_progress),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
