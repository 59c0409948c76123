/*
 * scenario_finalizers.c - scenario 5: finalizer storms.
 *
 * Workers create finalizable nodes alone (freed by counting, finalized at
 * a safepoint) and in small cycles (finalized on the collector thread),
 * share some through a list that others drain.  Each node's finalizer
 * does one thing, chosen at creation:
 *   ALLOC      allocate nodes into its own slots and one into a sink list
 *   RESURRECT  store itself into the lazarus list (it lives on)
 *   DROP       clear its own slots
 *   CYCLE      make a new garbage cycle of finalizable nodes
 *   COLLECT    ask for a collection (refused on the collector thread)
 * Workers drain the lazarus and sink lists, checking each node, so
 * resurrected nodes die again later, without a second finalizer run.
 *
 * Checked: node_check everywhere (also inside every finalizer); every fin
 * node is destroyed after exactly one finalizer run (node.c); the runtime's
 * finalized count equals the nodes' own count (harness); resurrections
 * happened; at the end the census finds every live object with its exact
 * count.
 */
#include "harness.h"

#include <pthread.h>
#include <stdlib.h>

enum { MODE_NOTHING, MODE_ALLOC, MODE_RESURRECT, MODE_DROP, MODE_CYCLE,
       MODE_COLLECT, MODES };

#define SHARED_MAX 128
#define DRAIN_BATCH 8

static ouro_object *lazarus, *sink, *shared;
static _Atomic uint64_t resurrections, collect_calls;
static _Thread_local uint64_t hook_rng = 0x9E3779B97F4A7C15ull;

typedef struct worker {
    stress_run *run;
    uint64_t rng;
} worker;

/* A mode for a node made by a finalizer: never CYCLE or COLLECT, so that
 * each storm dies out. */
static uint32_t quiet_mode(uint64_t *rng)
{
    return (uint32_t)stress_below(rng, MODE_DROP + 1);
}

static void make_cycle(int len, uint64_t *rng, bool quiet)
{
    ouro_object *first = NULL, *prev = NULL;
    for (int i = 0; i < len; i++) {
        uint32_t mode = quiet ? quiet_mode(rng)
                              : (uint32_t)stress_below(rng, MODES);
        ouro_object *n = node_new(&fin_node_type, mode);
        if (!n)
            break;
        if (prev) {
            node_set(prev, 0, n);
            if (prev != first)
                ouro_decref(prev);
        } else {
            first = n;
        }
        prev = n;
    }
    if (!first)
        return;
    node_set(prev, 0, first);
    if (prev != first)
        ouro_decref(prev);
    ouro_decref(first);
}

static void finalize_hook(ouro_object *self, uint32_t mode)
{
    switch (mode) {
    case MODE_ALLOC: {
        for (unsigned s = 1; s < NODE_SLOTS; s++) {
            ouro_object *n = node_new(&node_type, 0);
            node_set(self, s, n);
            ouro_xdecref(n);
        }
        ouro_object *n = node_new(&node_type, 0);
        if (n) {
            ouro_list_append(sink, n);
            ouro_decref(n);
        }
        break;
    }
    case MODE_RESURRECT:
        if (ouro_list_append(lazarus, self) == OURO_OK)
            atomic_fetch_add_explicit(&resurrections, 1, memory_order_relaxed);
        break;
    case MODE_DROP:
        for (unsigned s = 0; s < NODE_SLOTS; s++)
            node_set(self, s, NULL);
        break;
    case MODE_CYCLE:
        make_cycle(2, &hook_rng, true);
        break;
    case MODE_COLLECT: {
        int64_t r = ouro_gc_collect();
        STRESS_CHECK(r >= 0 || r == OURO_ESTATE,
                     "finalizers: ouro_gc_collect from a finalizer: %lld",
                     (long long)r);
        atomic_fetch_add_explicit(&collect_calls, 1, memory_order_relaxed);
        break;
    }
    default:
        break;
    }
}

static void drain(ouro_object *list, const char *where)
{
    for (int i = 0; i < DRAIN_BATCH; i++) {
        ouro_object *o = ouro_list_pop(list, 0);
        if (!o)
            return;
        node_check(o, where);
        if (list == lazarus)
            STRESS_CHECK(node_finalizer_runs(o) == 1,
                         "finalizers: resurrected node with %u finalizer "
                         "runs", node_finalizer_runs(o));
        ouro_decref(o);
    }
}

static void *fin_worker(void *arg)
{
    worker *w = arg;
    if (ouro_thread_attach() != OURO_OK) {
        stress_violation("finalizers: attach failed");
        return NULL;
    }
    hook_rng = w->rng ^ 0x5555;
    while (!stress_time_up(w->run)) {
        for (int i = 0; i < 8; i++) {
            unsigned r = (unsigned)stress_below(&w->rng, 100);
            /* COLLECT is rare: each one is a whole collection. */
            uint32_t mode = stress_below(&w->rng, 50)
                                ? (uint32_t)stress_below(&w->rng, MODE_COLLECT)
                                : MODE_COLLECT;
            if (r < 40) {
                ouro_object *n = node_new(&fin_node_type, mode);
                if (n && stress_below(&w->rng, 3) == 0 &&
                    ouro_list_len(shared) < SHARED_MAX)
                    ouro_list_append(shared, n);
                ouro_xdecref(n);
            } else if (r < 70) {
                make_cycle(1 + (int)stress_below(&w->rng, 3), &w->rng, false);
            } else {
                drain(shared, "finalizers: shared");
                drain(lazarus, "finalizers: lazarus");
                drain(sink, "finalizers: sink");
            }
        }
        ouro_safepoint();
        stress_op(w->run, 8);
    }
    ouro_thread_detach();
    return NULL;
}

void scenario_finalizers(stress_run *run)
{
    ouro_config cfg = {.gc_threshold = 128};
    if (!stress_runtime_start(run, cfg))
        return;
    atomic_store_explicit(&resurrections, 0, memory_order_relaxed);
    atomic_store_explicit(&collect_calls, 0, memory_order_relaxed);
    lazarus = ouro_list_new(0);
    sink = ouro_list_new(0);
    shared = ouro_list_new(0);
    node_finalize_hook = finalize_hook;

    int n = run->opts->threads;
    worker *ws = calloc((size_t)n, sizeof *ws);
    pthread_t *th = calloc((size_t)n, sizeof *th);
    for (int i = 0; i < n; i++)
        ws[i] = (worker){run, stress_seed_for(run->seed, (uint64_t)i)};
    stress_spawn(n, fin_worker, ws, sizeof *ws, th);
    stress_join(n, th);

    uint64_t live = stress_quiesce();
    ouro_object *roots[] = {lazarus, sink, shared};
    uint64_t found = stress_census(roots, 3);
    STRESS_CHECK(found == live,
                 "finalizers: %llu objects live but %llu reachable",
                 (unsigned long long)live, (unsigned long long)found);
    STRESS_CHECK(atomic_load_explicit(&resurrections, memory_order_relaxed) > 0,
                 "finalizers: no finalizer resurrected its object");
    STRESS_CHECK(atomic_load_explicit(&collect_calls, memory_order_relaxed) > 0,
                 "finalizers: no finalizer asked for a collection");
    /* Empty the lists.  Their members die (resurrected ones a second
     * time, with no second finalizer run), and the finalizers of those not
     * yet finalized may refill them or make new garbage cycles whose
     * finalizers refill them later: repeat until the lists stay empty and
     * a collection finds nothing.  Only then may the lists go. */
    ouro_object *lists[] = {lazarus, sink, shared};
    bool empty = false;
    for (int round = 0; round < 1000 && !empty; round++) {
        for (int i = 0; i < 3; i++) {
            ouro_object *o;
            while ((o = ouro_list_pop(lists[i], -1))) {
                node_check(o, "finalizers: final drain");
                ouro_decref(o);
            }
        }
        int64_t found = ouro_gc_collect();
        ouro_flush();
        empty = found == 0;
        for (int i = 0; i < 3; i++)
            empty = empty && ouro_list_len(lists[i]) == 0;
    }
    STRESS_CHECK(empty, "finalizers: finalizers kept refilling the lists");
    for (int i = 0; i < 3; i++)
        ouro_decref(lists[i]);
    free(ws);
    free(th);
    stress_runtime_finish(run);
    node_finalize_hook = NULL;
}
