/*
 * workers.c - threads that start together and are timed (workers.h).
 */
#include "workers.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "clock.h"
#include "runqueue.h"

#define MAX_WORKERS 64

struct workers {
    pthread_barrier_t start;
    void (*body)(worker *w);
    _Atomic uint64_t first_start, last_stop, cpu, span;
    _Atomic int64_t runq;
    _Atomic int runq_unknown;   /* some thread could not read its wait */
};

/* Keep the earliest (later == 0) or the latest (later == 1) time seen. */
static void keep_extreme(_Atomic uint64_t *slot, uint64_t t, int later)
{
    uint64_t seen = atomic_load_explicit(slot, memory_order_relaxed);
    while ((later ? seen < t : seen > t) &&
           !atomic_compare_exchange_weak_explicit(slot, &seen, t,
                                                  memory_order_relaxed,
                                                  memory_order_relaxed))
        ;
}

void worker_start(worker *w)
{
    pthread_barrier_wait(&w->all->start);
    w->runq0 = runqueue_wait_ns();
    w->cpu0 = thread_cpu_ns();
    w->start = wall_ns();
    keep_extreme(&w->all->first_start, w->start, 0);
}

void worker_stop(worker *w)
{
    uint64_t now = wall_ns();
    keep_extreme(&w->all->last_stop, now, 1);
    atomic_fetch_add_explicit(&w->all->span, now - w->start,
                              memory_order_relaxed);
    atomic_fetch_add_explicit(&w->all->cpu, thread_cpu_ns() - w->cpu0,
                              memory_order_relaxed);
    int64_t runq = runqueue_wait_ns();
    if (runq < 0 || w->runq0 < 0)
        atomic_store_explicit(&w->all->runq_unknown, 1, memory_order_relaxed);
    else
        atomic_fetch_add_explicit(&w->all->runq, runq - w->runq0,
                                  memory_order_relaxed);
}

static void *thread_main(void *arg)
{
    worker *w = arg;
    w->all->body(w);
    return NULL;
}

int workers_run(int n, void (*body)(worker *w), void *arg,
                workers_result *out)
{
    if (n < 1 || n > MAX_WORKERS)
        return -1;
    workers all = {.body = body};
    atomic_init(&all.first_start, UINT64_MAX);
    atomic_init(&all.last_stop, 0);
    atomic_init(&all.cpu, 0);
    atomic_init(&all.span, 0);
    atomic_init(&all.runq, 0);
    atomic_init(&all.runq_unknown, 0);
    pthread_barrier_init(&all.start, NULL, (unsigned)n);
    worker w[MAX_WORKERS];
    pthread_t th[MAX_WORKERS];
    for (int i = 0; i < n; i++) {
        w[i] = (worker){.all = &all, .id = i, .arg = arg};
        if (pthread_create(&th[i], NULL, thread_main, &w[i]) != 0) {
            /* The threads already started wait at a barrier that can
             * never open: a benchmark cannot go on from here. */
            fprintf(stderr, "workers: cannot create thread %d\n", i);
            abort();
        }
    }
    for (int i = 0; i < n; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&all.start);
    /* relaxed: pthread_join ordered the workers' writes before these reads */
    out->start_ns = atomic_load_explicit(&all.first_start, memory_order_relaxed);
    out->wall_ns = atomic_load_explicit(&all.last_stop, memory_order_relaxed) -
                   out->start_ns;
    out->cpu_ns = atomic_load_explicit(&all.cpu, memory_order_relaxed);
    out->span_ns = atomic_load_explicit(&all.span, memory_order_relaxed);
    out->runq_ns = atomic_load_explicit(&all.runq, memory_order_relaxed);
    if (atomic_load_explicit(&all.runq_unknown, memory_order_relaxed))
        out->runq_ns = -1;
    return 0;
}
