/*
 * scenario_graph.c - scenario 1: a shared cyclic graph under a collector
 * that never rests.
 *
 * A shared pool (a list of POOL slots) holds nodes and lists.  Workers
 * (more than there are cores) pick random operations: allocate into the
 * pool, link one pool object to another (making cycles through nodes and
 * lists), unlink, walk paths through other threads' objects, build small
 * cycles and drop or publish them, empty slots, and keep some objects in
 * thread-private hands across safepoints.  One more thread runs
 * collections back to back, and the automatic threshold is low.
 *
 * Checked: every node touched is intact and live (node_check); at the
 * end, after collecting everything unreachable, the census finds exactly
 * the live objects, each with its exact count; then the pool is dropped
 * and everything must be freed (stress_runtime_finish).
 */
#include "harness.h"

#include <pthread.h>
#include <stdlib.h>

#define POOL 256
#define HELD 16
#define WALK 8
#define MAX_LIST 8
#define SAFEPOINT_EVERY 32

typedef struct worker {
    stress_run *run;
    ouro_object *pool;
    uint64_t rng;
} worker;

static ouro_object *pool_get(worker *w)
{
    ouro_object *o = ouro_list_get(w->pool, (ptrdiff_t)stress_below(&w->rng,
                                                                    POOL));
    if (o == ouro_none()) {
        ouro_decref(o);
        return NULL;
    }
    return o;
}

static void pool_put(worker *w, ouro_object *o)
{
    int err = ouro_list_set(w->pool, (ptrdiff_t)stress_below(&w->rng, POOL),
                            o ? o : ouro_none());
    STRESS_CHECK(err == OURO_OK, "graph: list_set on the pool: %s",
                 ouro_strerror(err));
}

static void check_any(ouro_object *o, const char *where)
{
    if (node_is(o))
        node_check(o, where);
    else
        STRESS_CHECK(ouro_type_of(o) == &ouro_list_type,
                     "%s: pool object of unexpected type '%s'", where,
                     ouro_type_name(o));
}

static ouro_object *new_object(worker *w)
{
    ouro_object *o = stress_below(&w->rng, 4) ? node_new(&node_type, 0)
                                              : ouro_list_new(0);
    STRESS_CHECK(o != NULL, "graph: allocation failed");
    return o;
}

/* a -> b: a node slot, or a list element. */
static void link_to(worker *w, ouro_object *a, ouro_object *b)
{
    if (node_is(a)) {
        node_set(a, (unsigned)stress_below(&w->rng, NODE_SLOTS), b);
        return;
    }
    size_t len = ouro_list_len(a);
    int err = len < MAX_LIST
                  ? ouro_list_append(a, b)
                  : ouro_list_set(a, (ptrdiff_t)stress_below(&w->rng, len), b);
    /* A list may shrink between len and set (a pop by another thread). */
    STRESS_CHECK(err == OURO_OK || err == OURO_EINDEX,
                 "graph: storing into a list: %s", ouro_strerror(err));
}

static void unlink_from(worker *w, ouro_object *a)
{
    if (node_is(a)) {
        node_set(a, (unsigned)stress_below(&w->rng, NODE_SLOTS), NULL);
        return;
    }
    ouro_object *gone = ouro_list_pop(a, -1);
    if (gone) {
        check_any(gone, "graph: popped");
        ouro_decref(gone);
    }
}

/* Follow up to WALK random references from a pool object. */
static void walk(worker *w)
{
    ouro_object *o = pool_get(w);
    for (int d = 0; o && d < WALK; d++) {
        check_any(o, "graph: walk");
        ouro_object *next;
        if (node_is(o)) {
            next = node_get(o, (unsigned)stress_below(&w->rng, NODE_SLOTS));
        } else {
            size_t len = ouro_list_len(o);
            next = len ? ouro_list_get(o, (ptrdiff_t)stress_below(&w->rng, len))
                       : NULL;
        }
        ouro_decref(o);
        o = next;
    }
    ouro_xdecref(o);
}

/* A ring of 1..6 objects; published into the pool half of the time. */
static void make_cycle(worker *w)
{
    int n = 1 + (int)stress_below(&w->rng, 6);
    ouro_object *first = new_object(w), *prev = first;
    if (!first)
        return;
    for (int i = 1; i < n; i++) {
        ouro_object *o = new_object(w);
        if (!o)
            break;
        link_to(w, prev, o);
        if (prev != first)
            ouro_decref(prev);
        prev = o;
    }
    link_to(w, prev, first);
    if (prev != first)
        ouro_decref(prev);
    if (stress_below(&w->rng, 2))
        pool_put(w, first);
    ouro_decref(first);
}

static void *graph_worker(void *arg)
{
    worker *w = arg;
    ouro_object *held[HELD] = {NULL};
    unsigned nheld = 0;
    if (ouro_thread_attach() != OURO_OK) {
        stress_violation("graph: attach failed");
        return NULL;
    }
    uint64_t ops = 0;
    while (!stress_time_up(w->run)) {
        for (int i = 0; i < SAFEPOINT_EVERY; i++) {
            unsigned r = (unsigned)stress_below(&w->rng, 100);
            ouro_object *a, *b;
            if (r < 20) {
                if ((a = new_object(w))) {
                    pool_put(w, a);
                    ouro_decref(a);
                }
            } else if (r < 40) {
                a = pool_get(w);
                b = pool_get(w);
                if (a && b) {
                    check_any(a, "graph: link source");
                    check_any(b, "graph: link target");
                    link_to(w, a, b);
                }
                ouro_xdecref(a);
                ouro_xdecref(b);
            } else if (r < 50) {
                if ((a = pool_get(w))) {
                    unlink_from(w, a);
                    ouro_decref(a);
                }
            } else if (r < 70) {
                walk(w);
            } else if (r < 80) {
                make_cycle(w);
            } else if (r < 88) {
                pool_put(w, NULL);
            } else {
                /* Keep a counted reference across safepoints. */
                if ((a = pool_get(w))) {
                    unsigned k = nheld < HELD ? nheld++
                                              : (unsigned)stress_below(&w->rng,
                                                                       HELD);
                    ouro_xdecref(held[k]);
                    held[k] = a;
                }
            }
        }
        ops += SAFEPOINT_EVERY;
        for (unsigned k = 0; k < nheld; k++)
            check_any(held[k], "graph: held across safepoints");
        ouro_safepoint();
        if (ops % 1024 == 0)
            stress_op(w->run, 1024);
    }
    for (unsigned k = 0; k < nheld; k++) {
        check_any(held[k], "graph: held at the end");
        ouro_decref(held[k]);
    }
    stress_op(w->run, ops % 1024);
    ouro_thread_detach();
    return NULL;
}

static void *collector_driver(void *arg)
{
    stress_run *run = arg;
    if (ouro_thread_attach() != OURO_OK) {
        stress_violation("graph: attach failed");
        return NULL;
    }
    while (!stress_time_up(run)) {
        int64_t found = ouro_gc_collect();
        STRESS_CHECK(found >= 0, "graph: ouro_gc_collect: %s",
                     ouro_strerror((int)found));
    }
    ouro_thread_detach();
    return NULL;
}

void scenario_graph(stress_run *run)
{
    ouro_config cfg = {.gc_threshold = 256};
    if (!stress_runtime_start(run, cfg))
        return;
    ouro_object *pool = ouro_list_new(POOL);
    for (int i = 0; i < POOL; i++)
        ouro_list_append(pool, ouro_none());
    STRESS_CHECK(ouro_list_len(pool) == POOL, "graph: pool not filled");

    int n = run->opts->threads;
    worker *ws = calloc((size_t)n, sizeof *ws);
    pthread_t *th = calloc((size_t)n + 1, sizeof *th);
    for (int i = 0; i < n; i++)
        ws[i] = (worker){run, pool, stress_seed_for(run->seed, (uint64_t)i)};
    stress_spawn(n, graph_worker, ws, sizeof *ws, th);
    stress_spawn(1, collector_driver, run, 0, th + n);
    stress_join(n + 1, th);

    ouro_gc_stats gs;
    ouro_gc_get_stats(&gs);
    STRESS_CHECK(gs.collected > 0, "graph: the collector freed nothing");
    uint64_t live = stress_quiesce();
    uint64_t found = stress_census(&pool, 1);
    STRESS_CHECK(found == live,
                 "graph: %llu objects live but %llu reachable from the pool",
                 (unsigned long long)live, (unsigned long long)found);
    ouro_decref(pool);
    free(ws);
    free(th);
    stress_runtime_finish(run);
}
