/*
 * scenario_hot.c - scenario 2: every thread counts the same few objects.
 *
 * A shared list holds HOT nodes.  Workers increment and decrement them in
 * bursts (the owner counts locally, everyone else on the shared count),
 * store them into short-lived nodes of their own (decrements applied when
 * those die), replace them (the old one's last reference often goes from a
 * thread that does not own it: a queued merge for its owner), and pass
 * their own nodes to each other through a mailbox list, where the taker
 * drops the last reference (the queued-merge path again).
 *
 * Checked: every node touched is intact; at the end each hot object and
 * each node in the mailbox has exactly the count the census finds, the
 * census finds every live object, and the run went through queued merges.
 */
#include "harness.h"

#include <pthread.h>
#include <stdlib.h>

#define HOT 4
#define MAX_BURST 8
#define MAILBOX_MAX 64
#define SAFEPOINT_EVERY 16

typedef struct worker {
    stress_run *run;
    ouro_object *hot, *mailbox;
    uint64_t rng;
} worker;

static void burst(worker *w)
{
    ouro_object *h = ouro_list_get(w->hot, (ptrdiff_t)stress_below(&w->rng,
                                                                  HOT));
    node_check(h, "hot: burst");
    int k = 1 + (int)stress_below(&w->rng, MAX_BURST);
    for (int i = 0; i < k; i++)
        ouro_incref(h);
    STRESS_CHECK(ouro_refcnt(h) >= 1 + k,
                 "hot: count %lld below the %d references this thread holds",
                 (long long)ouro_refcnt(h), 1 + k);
    node_check(h, "hot: burst");
    for (int i = 0; i < k; i++)
        ouro_decref(h);
    ouro_decref(h);
}

static void store_in_temporary(worker *w)
{
    ouro_object *h = ouro_list_get(w->hot, (ptrdiff_t)stress_below(&w->rng,
                                                                  HOT));
    ouro_object *t = node_new(&node_type, 0);
    if (t) {
        node_set(t, 0, h);
        node_set(t, 1, h);
        ouro_decref(t);   /* its death releases both references to h */
    }
    ouro_decref(h);
}

static void replace(worker *w)
{
    ouro_object *fresh = node_new(&node_type, 0);
    if (!fresh)
        return;
    int err = ouro_list_set(w->hot, (ptrdiff_t)stress_below(&w->rng, HOT),
                            fresh);
    STRESS_CHECK(err == OURO_OK, "hot: list_set: %s", ouro_strerror(err));
    ouro_decref(fresh);
}

static void mail(worker *w)
{
    if (ouro_list_len(w->mailbox) < MAILBOX_MAX) {
        ouro_object *n = node_new(&node_type, 0);
        if (n) {
            int err = ouro_list_append(w->mailbox, n);
            STRESS_CHECK(err == OURO_OK, "hot: append: %s",
                         ouro_strerror(err));
            ouro_decref(n);
        }
    }
    ouro_object *got = ouro_list_pop(w->mailbox, 0);
    if (got) {
        node_check(got, "hot: mailbox");
        ouro_decref(got);
    }
}

static void *hot_worker(void *arg)
{
    worker *w = arg;
    if (ouro_thread_attach() != OURO_OK) {
        stress_violation("hot: attach failed");
        return NULL;
    }
    uint64_t ops = 0;
    while (!stress_time_up(w->run)) {
        for (int i = 0; i < SAFEPOINT_EVERY; i++) {
            unsigned r = (unsigned)stress_below(&w->rng, 100);
            if (r < 60)
                burst(w);
            else if (r < 75)
                store_in_temporary(w);
            else if (r < 80)
                replace(w);
            else
                mail(w);
        }
        ouro_safepoint();
        ops += SAFEPOINT_EVERY;
        if (ops % 1024 == 0)
            stress_op(w->run, 1024);
    }
    stress_op(w->run, ops % 1024);
    ouro_thread_detach();
    return NULL;
}

void scenario_hot(stress_run *run)
{
    ouro_config cfg = {.gc_threshold = 1000};
    if (!stress_runtime_start(run, cfg))
        return;
    ouro_object *hot = ouro_list_new(HOT), *mailbox = ouro_list_new(0);
    for (int i = 0; i < HOT; i++) {
        ouro_object *n = node_new(&node_type, 0);
        ouro_list_append(hot, n);
        ouro_decref(n);
    }
    int n = run->opts->threads;
    worker *ws = calloc((size_t)n, sizeof *ws);
    pthread_t *th = calloc((size_t)n, sizeof *th);
    for (int i = 0; i < n; i++)
        ws[i] = (worker){run, hot, mailbox,
                         stress_seed_for(run->seed, (uint64_t)i)};
    stress_spawn(n, hot_worker, ws, sizeof *ws, th);
    stress_join(n, th);

    uint64_t live = stress_quiesce();
    ouro_object *roots[] = {hot, mailbox};
    uint64_t found = stress_census(roots, 2);
    STRESS_CHECK(found == live,
                 "hot: %llu objects live but %llu reachable",
                 (unsigned long long)live, (unsigned long long)found);
    for (int i = 0; i < HOT; i++) {
        ouro_object *h = ouro_list_get(hot, i);
        STRESS_CHECK(ouro_refcnt(h) == 2,
                     "hot: object %d has count %lld at quiescence (2: the "
                     "list's and ours)", i, (long long)ouro_refcnt(h));
        ouro_decref(h);
    }
    ouro_stats st;
    ouro_get_stats(&st);
    STRESS_CHECK(st.queued_merges > 0,
                 "hot: no queued merge happened; the owner-merge path was "
                 "not exercised");
    ouro_decref(hot);
    ouro_decref(mailbox);
    free(ws);
    free(th);
    stress_runtime_finish(run);
}
