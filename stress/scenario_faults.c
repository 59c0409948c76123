/*
 * scenario_faults.c - scenario 6: allocation failures and a thread that
 * blocks for a long time.
 *
 * Allocation failures.  Workers arm the checking allocator around each
 * allocating call (every Nth allocation of the thread fails, N changing
 * as they go) and check the outcome of each call:
 *   ouro_new / ouro_tuple_pack / ouro_list_new: NULL exactly when an
 *     allocation failed during the call (each makes one allocation);
 *   ouro_list_append / ouro_dict_set_cstr: OURO_ENOMEM only when an
 *     allocation failed, and then the container is unchanged (same length,
 *     same value under the key); otherwise the store happened.
 * The collector thread is armed as well while it collects (a gc callback):
 * a collection that runs out of memory must prove nothing garbage and try
 * again later.  Each worker works on structures of its own, so that no
 * decrement of another thread ever has to queue a merge: merges and
 * decrement batches abort when out of memory (docs/counting.md), by
 * design, and are not what this scenario tests.
 *
 * A blocked thread.  One thread holds a ring of nodes (its only reference)
 * and stays in a blocking region for a long time (half the budget, and
 * then until two collections have completed and freed something), touching
 * its counts from there (allowed offline).  Meanwhile collections must keep completing and
 * freeing other garbage, and afterwards the ring must be intact.
 *
 * Checked: the outcomes above; every node intact; everything freed at the
 * end and every allocator block returned (harness).
 */
#include "harness.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define RING 64
#define PRIVATE_MAX 256
#define KEYS 64

typedef struct worker {
    stress_run *run;
    uint64_t rng;
} worker;

static _Atomic int collector_faults;   /* arm the collector at all */

/* Every third collection runs with every Nth allocation failing (N from 3
 * to 15); the others run clean, so garbage does get freed.  START arms the
 * collector thread, STOP disarms it. */
static void arm_collector(ouro_gc_event event, const ouro_gc_info *info,
                          void *arg)
{
    (void)arg;
    unsigned every = 0;
    if (event == OURO_GC_START && info->collection % 3 == 0 &&
        atomic_load_explicit(&collector_faults, memory_order_relaxed))
        every = 3 + (unsigned)(info->collection % 13);
    check_alloc_fail_every(every);
}

/* Run `call` with injection armed; *failed = allocations it saw fail. */
#define ARMED(every, failed, call)                                            \
    do {                                                                      \
        uint64_t before_ = check_alloc_injected();                            \
        check_alloc_fail_every(every);                                        \
        call;                                                                 \
        check_alloc_fail_every(0);                                            \
        *(failed) = check_alloc_injected() - before_;                         \
    } while (0)

static void faulty_round(worker *w, ouro_object *list, ouro_object *dict,
                         unsigned every)
{
    uint64_t failed;
    ouro_object *n;
    ARMED(every, &failed, n = node_new(&node_type, 0));
    STRESS_CHECK((n == NULL) == (failed > 0),
                 "faults: ouro_new returned %p with %llu failed allocation(s)",
                 (void *)n, (unsigned long long)failed);
    if (!n)
        return;

    size_t len = ouro_list_len(list);
    int err;
    ARMED(every, &failed, err = ouro_list_append(list, n));
    if (err == OURO_ENOMEM) {
        STRESS_CHECK(failed > 0, "faults: list_append reported ENOMEM but no "
                                 "allocation failed");
        STRESS_CHECK(ouro_list_len(list) == len,
                     "faults: failed list_append changed the list");
    } else {
        STRESS_CHECK(err == OURO_OK && ouro_list_len(list) == len + 1,
                     "faults: list_append: %s, length %zu -> %zu",
                     ouro_strerror(err), len, ouro_list_len(list));
    }

    char key[16];
    snprintf(key, sizeof key, "k%u", (unsigned)stress_below(&w->rng, KEYS));
    ouro_object *old = ouro_dict_get_cstr(dict, key);
    size_t dlen = ouro_dict_len(dict);
    ARMED(every, &failed, err = ouro_dict_set_cstr(dict, key, n));
    ouro_object *now = ouro_dict_get_cstr(dict, key);
    if (err == OURO_ENOMEM) {
        STRESS_CHECK(failed > 0, "faults: dict_set reported ENOMEM but no "
                                 "allocation failed");
        STRESS_CHECK(now == old && ouro_dict_len(dict) == dlen,
                     "faults: failed dict_set changed the dict");
    } else {
        STRESS_CHECK(err == OURO_OK && now == n,
                     "faults: dict_set: %s, value not stored",
                     ouro_strerror(err));
    }
    ouro_xdecref(old);
    ouro_xdecref(now);

    ouro_object *t;
    ARMED(every, &failed, t = ouro_tuple_pack(2, n, n));
    STRESS_CHECK((t == NULL) == (failed > 0),
                 "faults: tuple_pack returned %p with %llu failed "
                 "allocation(s)", (void *)t, (unsigned long long)failed);
    if (t) {
        /* A private cycle: n -> tuple -> n, garbage once n is dropped from
         * the containers. */
        node_set(n, 0, t);
        ouro_decref(t);
    }
    ouro_object *l;
    ARMED(every, &failed, l = ouro_list_new(4));
    STRESS_CHECK((l == NULL) == (failed > 0),
                 "faults: list_new returned %p with %llu failed "
                 "allocation(s)", (void *)l, (unsigned long long)failed);
    if (l) {
        node_set(n, 1, l);
        ouro_decref(l);
    }
    node_check(n, "faults: fresh node");
    ouro_decref(n);

    while (ouro_list_len(list) > PRIVATE_MAX) {
        ouro_object *gone = ouro_list_pop(list, 0);
        node_check(gone, "faults: popped");
        ouro_decref(gone);
    }
}

static void *fault_worker(void *arg)
{
    worker *w = arg;
    if (ouro_thread_attach() != OURO_OK) {
        stress_violation("faults: attach failed");
        return NULL;
    }
    ouro_object *list = ouro_list_new(0), *dict = ouro_dict_new();
    while (!stress_time_up(w->run)) {
        unsigned every = 2 + (unsigned)stress_below(&w->rng, 40);
        for (int i = 0; i < 16; i++)
            faulty_round(w, list, dict, every);
        ouro_safepoint();
        stress_op(w->run, 16);
    }
    for (size_t i = 0; i < ouro_list_len(list); i++) {
        ouro_object *o = ouro_list_get(list, (ptrdiff_t)i);
        node_check(o, "faults: kept node");
        ouro_decref(o);
    }
    ouro_decref(list);
    ouro_decref(dict);
    ouro_thread_detach();
    return NULL;
}

typedef struct blocker {
    stress_run *run;
    double seconds;
    uint64_t collections;   /* completed while it was blocked */
    uint64_t collected;
    _Atomic int done;       /* out of its blocking region */
} blocker;

/* The blocked thread stays blocked for its time, and then until the
 * collections it waits for have happened (up to this long): a slow build
 * (ThreadSanitizer on a busy machine) may complete only one or two a
 * second. */
#define BLOCKED_MAX_SECONDS 60.0
#define BLOCKED_MIN_COLLECTIONS 2

static void *blocked_thread(void *arg)
{
    blocker *b = arg;
    if (ouro_thread_attach() != OURO_OK) {
        stress_violation("faults: attach failed");
        return NULL;
    }
    ouro_object *ring[RING];
    for (int i = 0; i < RING; i++)
        ring[i] = node_new(&node_type, 0);
    for (int i = 0; i < RING; i++)
        node_set(ring[i], 0, ring[(i + 1) % RING]);
    for (int i = 1; i < RING; i++)
        ouro_decref(ring[i]);   /* only the ring and ring[0] keep them */

    ouro_gc_stats before, after;
    ouro_gc_get_stats(&before);
    ouro_blocking_begin();
    double start = stress_now();
    for (;;) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
        ouro_incref(ring[0]);           /* counting is allowed offline */
        node_check(ring[0], "faults: held while blocked");
        ouro_decref(ring[0]);
        double now = stress_now();
        if (now - start < b->seconds)
            continue;
        ouro_gc_get_stats(&after);
        if ((after.collections - before.collections >=
                 BLOCKED_MIN_COLLECTIONS &&
             after.collected > before.collected) ||
            now - start > BLOCKED_MAX_SECONDS)
            break;
    }
    ouro_blocking_end();
    atomic_store_explicit(&b->done, 1, memory_order_relaxed);
    b->collections = after.collections - before.collections;
    b->collected = after.collected - before.collected;

    ouro_object *o = ring[0];
    ouro_incref(o);
    for (int i = 0; i < RING; i++) {
        node_check(o, "faults: ring after the blocking region");
        ouro_object *next = node_get(o, 0);
        ouro_decref(o);
        o = next;
    }
    STRESS_CHECK(o == ring[0], "faults: the ring lost a link while its "
                               "holder was blocked");
    ouro_xdecref(o);
    ouro_decref(ring[0]);
    ouro_thread_detach();
    return NULL;
}

/* Garbage two-cycles and collections, until the time is up and the
 * blocked thread is done. */
static void *garbage_maker(void *arg)
{
    blocker *b = arg;
    stress_run *run = b->run;
    if (ouro_thread_attach() != OURO_OK) {
        stress_violation("faults: attach failed");
        return NULL;
    }
    while (!stress_time_up(run) ||
           !atomic_load_explicit(&b->done, memory_order_relaxed)) {
        for (int i = 0; i < 64; i++) {
            ouro_object *a = node_new(&node_type, 0), *b = node_new(&node_type,
                                                                    0);
            node_set(a, 0, b);
            node_set(b, 0, a);
            ouro_decref(a);
            ouro_decref(b);
        }
        int64_t found = ouro_gc_collect();
        STRESS_CHECK(found >= 0 || found == OURO_ENOMEM,
                     "faults: ouro_gc_collect: %lld", (long long)found);
        stress_op(run, 64);
    }
    ouro_thread_detach();
    return NULL;
}

void scenario_faults(stress_run *run)
{
    ouro_config cfg = {.gc_threshold = 256};
    if (!stress_runtime_start(run, cfg))
        return;
    atomic_store_explicit(&collector_faults, 1, memory_order_relaxed);
    ouro_gc_callback_add(arm_collector, NULL);

    int n = run->opts->threads - 2 > 0 ? run->opts->threads - 2 : 1;
    worker *ws = calloc((size_t)n, sizeof *ws);
    pthread_t *th = calloc((size_t)n + 2, sizeof *th);
    for (int i = 0; i < n; i++)
        ws[i] = (worker){run, stress_seed_for(run->seed, (uint64_t)i)};
    blocker b = {.run = run, .seconds = run->opts->seconds / 2};
    stress_spawn(n, fault_worker, ws, sizeof *ws, th);
    stress_spawn(1, blocked_thread, &b, 0, th + n);
    stress_spawn(1, garbage_maker, &b, 0, th + n + 1);
    stress_join(n + 2, th);

    /* Collections completed, and cycles freed, while the thread was
     * blocked. */
    STRESS_CHECK(b.collections >= BLOCKED_MIN_COLLECTIONS && b.collected > 0,
                 "faults: while a thread was blocked for %.1f s only %llu "
                 "collection(s) completed, freeing %llu object(s)", b.seconds,
                 (unsigned long long)b.collections,
                 (unsigned long long)b.collected);
    /* Disarm: a collection that starts now runs clean and its STOP leaves
     * the collector thread disarmed; only then may the callback go. */
    atomic_store_explicit(&collector_faults, 0, memory_order_relaxed);
    ouro_gc_collect();
    ouro_gc_callback_remove(arm_collector, NULL);
    ouro_gc_stats gs;
    ouro_gc_get_stats(&gs);
    STRESS_CHECK(gs.collected > 0, "faults: the collector freed nothing");
    free(ws);
    free(th);
    stress_runtime_finish(run);
}
