/*
 * scenario_cascade.c - scenario 4: huge structures released while other
 * threads work.
 *
 * The scenario's thread builds, in turn, a long chain, a complete binary
 * tree, and a long ring (a cycle only the collector can free), walks each
 * one to check every node, and releases it: itself, or by handing it to a
 * worker through a shared list (the last reference then goes from a thread
 * that does not own the root).  Workers meanwhile allocate, link and drop
 * small structures and pass safepoints.  free_slice is small, so releases
 * are spread over many safepoints.
 *
 * Checked: every node of each structure is intact before release; the
 * structure is entirely freed afterwards (its nodes are marked and
 * counted apart from the workers'); no safepoint
 * freed more than free_slice objects; the collector finds the whole ring.
 */
#include "harness.h"

#include <pthread.h>
#include <stdlib.h>

#define FREE_SLICE 256

typedef struct worker {
    stress_run *run;
    ouro_object *handoff;
    uint64_t rng;
} worker;

static void *cascade_worker(void *arg)
{
    worker *w = arg;
    if (ouro_thread_attach() != OURO_OK) {
        stress_violation("cascade: attach failed");
        return NULL;
    }
    ouro_object *keep = NULL;
    while (!stress_time_up(w->run)) {
        ouro_object *big = ouro_list_pop(w->handoff, -1);
        if (big) {
            node_check(big, "cascade: handed-off root");
            ouro_decref(big);   /* the structure's last reference */
        }
        for (int i = 0; i < 32; i++) {
            ouro_object *n = node_new(&node_type, 0);
            if (!n)
                continue;
            if (keep && stress_below(&w->rng, 2))
                node_set(n, 0, keep);
            if (stress_below(&w->rng, 8) == 0)
                node_set(n, 1, n);            /* a self-cycle */
            ouro_xdecref(keep);
            keep = n;
        }
        node_check(keep, "cascade: worker chain");
        if (stress_below(&w->rng, 4) == 0) {
            ouro_decref(keep);
            keep = NULL;
        }
        ouro_safepoint();
        stress_op(w->run, 32);
    }
    ouro_xdecref(keep);
    ouro_thread_detach();
    return NULL;
}

static ouro_object *build_chain(uint64_t n, bool ring)
{
    ouro_object *head = node_new(&node_type, NODE_MARK), *tail = head;
    ouro_incref(tail);
    for (uint64_t i = 1; i < n; i++) {
        ouro_object *next = node_new(&node_type, NODE_MARK);
        node_set(tail, 0, next);
        ouro_decref(tail);
        tail = next;
        if (i % 4096 == 0)
            ouro_safepoint();
    }
    if (ring)
        node_set(tail, 0, head);
    ouro_decref(tail);
    return head;
}

static ouro_object *build_tree(int depth)
{
    ouro_object *n = node_new(&node_type, NODE_MARK);
    if (depth > 1) {
        for (unsigned s = 0; s < 2; s++) {
            ouro_object *child = build_tree(depth - 1);
            node_set(n, s, child);
            ouro_decref(child);
        }
    }
    return n;
}

/* Check every node reachable from root (a chain, ring or tree); returns
 * how many there are.  Recursion depth is the tree's depth at most. */
static uint64_t walk(ouro_object *root, ouro_object *stop)
{
    uint64_t n = 0;
    ouro_object *o = root;
    ouro_incref(o);
    while (o) {
        node_check(o, "cascade: structure");
        n++;
        ouro_object *right = node_get(o, 1);
        if (right) {
            n += walk(right, stop);
            ouro_decref(right);
        }
        ouro_object *next = node_get(o, 0);
        ouro_decref(o);
        if (next && next == stop) {
            ouro_decref(next);
            break;
        }
        o = next;
        if (n % 4096 == 0)
            ouro_safepoint();
    }
    return n;
}

static uint64_t destroyed_now(void)
{
    struct node_counters nc;
    node_counters_get(&nc);
    return nc.marked_destroyed;
}

void scenario_cascade(stress_run *run)
{
    ouro_config cfg = {.free_slice = FREE_SLICE, .gc_threshold = 2000};
    if (!stress_runtime_start(run, cfg))
        return;
    const bool small = run->opts->short_form;
    const uint64_t chain_len = small ? 100000 : 1000000;
    const int tree_depth = small ? 16 : 20;
    ouro_object *handoff = ouro_list_new(0);

    int n = run->opts->threads - 1 > 0 ? run->opts->threads - 1 : 1;
    worker *ws = calloc((size_t)n, sizeof *ws);
    pthread_t *th = calloc((size_t)n, sizeof *th);
    for (int i = 0; i < n; i++)
        ws[i] = (worker){run, handoff, stress_seed_for(run->seed, (uint64_t)i)};
    stress_spawn(n, cascade_worker, ws, sizeof *ws, th);

    for (unsigned round = 0; !stress_time_up(run); round++) {
        unsigned shape = round % 3;
        bool hand_off = (round / 3) % 2 == 1;
        ouro_object *big;
        uint64_t expect;
        if (shape == 0) {
            big = build_chain(chain_len, false);
            expect = chain_len;
        } else if (shape == 1) {
            big = build_tree(tree_depth);
            expect = (1ull << tree_depth) - 1;
        } else {
            big = build_chain(chain_len, true);
            expect = chain_len;
        }
        uint64_t seen = walk(big, shape == 2 ? big : NULL);
        STRESS_CHECK(seen == expect,
                     "cascade: shape %u has %llu nodes, built %llu", shape,
                     (unsigned long long)seen, (unsigned long long)expect);
        ouro_flush();
        uint64_t before = destroyed_now();
        if (hand_off && shape != 2) {
            ouro_list_append(handoff, big);
            ouro_decref(big);
            /* Wait (online) until a worker took it, or time ran out. */
            while (ouro_list_len(handoff) && !stress_time_up(run))
                ouro_safepoint();
            ouro_object *left = ouro_list_pop(handoff, -1);
            ouro_xdecref(left);
        } else {
            ouro_decref(big);
        }
        if (shape == 2) {
            ouro_flush();
            int64_t found = ouro_gc_collect();
            /* An automatic collection may have taken part of it first. */
            uint64_t gone = destroyed_now() - before;
            STRESS_CHECK(found >= 0 && gone == expect,
                         "cascade: ring of %llu released, collection found "
                         "%lld, %llu nodes destroyed",
                         (unsigned long long)expect, (long long)found,
                         (unsigned long long)gone);
        } else {
            /* Released in slices by whoever dropped the last reference. */
            double give_up = stress_now() + 60;
            while (destroyed_now() - before < expect && stress_now() < give_up)
                ouro_flush();
            STRESS_CHECK(destroyed_now() - before == expect,
                         "cascade: shape %u: only %llu of %llu nodes freed",
                         shape, (unsigned long long)(destroyed_now() - before),
                         (unsigned long long)expect);
        }
        stress_op(run, expect);
    }
    stress_join(n, th);

    ouro_stats st;
    ouro_get_stats(&st);
    STRESS_CHECK(st.max_free_slice_objects <= FREE_SLICE,
                 "cascade: a slice freed %llu objects (free_slice %d)",
                 (unsigned long long)st.max_free_slice_objects, FREE_SLICE);
    ouro_decref(handoff);
    free(ws);
    free(th);
    stress_runtime_finish(run);
}
