/*
 * count_peers.c - workload 1, counting: one increment+decrement pair,
 * from 1 to N threads, for every system that counts, in one process with
 * the rounds interleaved (so the ratios are measured side by side):
 *
 *   plain          a non-atomic counter per thread, on its own cache line
 *   atomic         a C11 atomic counter per thread, on its own cache line
 *   atomic-shared  one C11 atomic counter used by every thread
 *   ouro           an ouro object per thread, owned by that thread
 *   ouro-shared    one ouro object used by every thread, owned by thread 0
 *
 * A plain counter shared by several threads is not measured: that is a
 * data race and loses counts.  The ouro cases pay everything a program
 * pays: a safepoint every 1024 pairs and a final ouro_flush(), so every
 * deferred decrement is applied inside the measured time.
 *
 *   count_peers [--threads N] [--pairs P] [--rounds R]
 *
 * Reported, the median of the rounds: ns per pair per thread by the wall
 * clock (from the first thread's start to the last thread's end, divided
 * by the pairs each thread did), and by the threads' CPU clocks (their mean
 * CPU time divided by the same), which leaves out the time a thread waited
 * for a core: this machine is shared and has 2 cores, so from 3 threads on
 * the wall figure grows with the thread count.  One JSON line per
 * (threads, system).
 */
#include <ouro.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"

#define MAX_THREADS 16
#define MAX_ROUNDS 31
#define OURO_SAFEPOINT_EVERY 1024

#define compiler_barrier() __asm__ __volatile__("" ::: "memory")

enum kase { PLAIN, ATOMIC, ATOMIC_SHARED, OURO, OURO_SHARED, NCASES };
static const char *const case_name[NCASES] = {
    "plain", "atomic", "atomic-shared", "ouro", "ouro-shared"};

struct padded_plain {
    long v;
} __attribute__((aligned(64)));

struct padded_atomic {
    _Atomic long v;
} __attribute__((aligned(64)));

static struct padded_plain plain_counters[MAX_THREADS];
static struct padded_atomic atomic_counters[MAX_THREADS];
static struct padded_atomic shared_counter;

static ouro_type node_type;
static long pairs = 10 * 1000 * 1000;

struct run {
    enum kase kase;
    int nthreads;
    pthread_barrier_t start, done;
    _Atomic(ouro_object *) shared_obj;   /* ouro-shared: set by thread 0 */
    _Atomic uint64_t start_ns;           /* the first thread's start */
    _Atomic uint64_t end_ns;             /* the last thread's end */
    _Atomic uint64_t cpu_ns;             /* the threads' CPU time, summed */
    _Atomic int failed;                  /* a final count was wrong */
};

struct worker {
    struct run *run;
    int id;
};

static void ouro_loop(ouro_object *o)
{
    for (long i = 0; i < pairs; i++) {
        ouro_incref(o);
        ouro_decref(o);
        if ((i & (OURO_SAFEPOINT_EVERY - 1)) == 0)
            ouro_safepoint();
    }
    ouro_flush();
}

/* Keep the earliest (sign -1) or latest (sign 1) of the times seen. */
static void note_extreme(_Atomic uint64_t *slot, uint64_t t, int sign)
{
    uint64_t seen = atomic_load_explicit(slot, memory_order_relaxed);
    while ((sign > 0 ? seen < t : seen > t) &&
           !atomic_compare_exchange_weak_explicit(slot, &seen, t,
                                                  memory_order_relaxed,
                                                  memory_order_relaxed))
        ;
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct run *r = w->run;
    int uses_ouro = r->kase == OURO || r->kase == OURO_SHARED;
    ouro_object *obj = NULL;
    if (uses_ouro) {
        if (ouro_thread_attach() != OURO_OK)
            abort();
        if (r->kase == OURO || w->id == 0) {
            obj = ouro_record_new(&node_type);
            if (!obj)
                abort();
        }
        if (r->kase == OURO_SHARED && w->id == 0)
            /* release: the other threads read the object's header */
            atomic_store_explicit(&r->shared_obj, obj, memory_order_release);
    }
    /* Goes offline while it waits, so nobody's grace period waits for it. */
    if (uses_ouro)
        ouro_blocking_begin();
    pthread_barrier_wait(&r->start);
    if (uses_ouro)
        ouro_blocking_end();
    if (r->kase == OURO_SHARED && w->id != 0)
        obj = atomic_load_explicit(&r->shared_obj, memory_order_acquire);
    uint64_t cpu0 = thread_cpu_ns();
    note_extreme(&r->start_ns, wall_ns(), -1);

    switch (r->kase) {
    case PLAIN: {
        struct padded_plain *c = &plain_counters[w->id];
        for (long i = 0; i < pairs; i++) {
            c->v++;
            compiler_barrier();
            c->v--;
            compiler_barrier();
        }
        break;
    }
    case ATOMIC: {
        struct padded_atomic *c = &atomic_counters[w->id];
        for (long i = 0; i < pairs; i++) {
            atomic_fetch_add_explicit(&c->v, 1, memory_order_relaxed);
            atomic_fetch_sub_explicit(&c->v, 1, memory_order_relaxed);
        }
        break;
    }
    case ATOMIC_SHARED:
        for (long i = 0; i < pairs; i++) {
            atomic_fetch_add_explicit(&shared_counter.v, 1,
                                      memory_order_relaxed);
            atomic_fetch_sub_explicit(&shared_counter.v, 1,
                                      memory_order_relaxed);
        }
        break;
    case OURO:
    case OURO_SHARED:
        ouro_loop(obj);
        break;
    case NCASES:
        break;
    }
    note_extreme(&r->end_ns, wall_ns(), 1);
    atomic_fetch_add_explicit(&r->cpu_ns, thread_cpu_ns() - cpu0,
                              memory_order_relaxed);

    if (uses_ouro) {
        /* Every thread's decrements are applied (each flushed); only then
         * is the count of the shared object exact. */
        ouro_blocking_begin();
        pthread_barrier_wait(&r->done);
        ouro_blocking_end();
        if (obj && (r->kase == OURO || w->id == 0)) {
            if (ouro_refcnt(obj) != 1)
                atomic_store_explicit(&r->failed, 1, memory_order_relaxed);
            ouro_decref(obj);
        }
        ouro_thread_detach();
    }
    return NULL;
}

/* One measurement: ns per pair per thread, by the wall clock (returned)
 * and by the CPU clocks (*cpu_ns). */
static double measure(enum kase kase, int nthreads, double *cpu_ns,
                      int *failed)
{
    struct run r = {.kase = kase, .nthreads = nthreads};
    pthread_barrier_init(&r.start, NULL, (unsigned)nthreads + 1);
    pthread_barrier_init(&r.done, NULL, (unsigned)nthreads);
    atomic_init(&r.shared_obj, NULL);
    atomic_init(&r.start_ns, UINT64_MAX);
    atomic_init(&r.end_ns, 0);
    atomic_init(&r.cpu_ns, 0);
    atomic_init(&r.failed, 0);
    struct worker w[MAX_THREADS];
    pthread_t th[MAX_THREADS];
    for (int i = 0; i < nthreads; i++) {
        w[i] = (struct worker){.run = &r, .id = i};
        if (pthread_create(&th[i], NULL, worker_main, &w[i]) != 0)
            abort();
    }
    pthread_barrier_wait(&r.start);
    for (int i = 0; i < nthreads; i++)
        pthread_join(th[i], NULL);
    /* relaxed: pthread_join ordered the workers' writes before these */
    uint64_t t0 = atomic_load_explicit(&r.start_ns, memory_order_relaxed);
    uint64_t t1 = atomic_load_explicit(&r.end_ns, memory_order_relaxed);
    *cpu_ns = (double)atomic_load_explicit(&r.cpu_ns, memory_order_relaxed) /
              nthreads / (double)pairs;
    if (atomic_load_explicit(&r.failed, memory_order_relaxed))
        *failed = 1;
    pthread_barrier_destroy(&r.start);
    pthread_barrier_destroy(&r.done);
    return (double)(t1 - t0) / (double)pairs;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    int max_threads = 4, rounds = 5;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--threads"))
            max_threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--pairs"))
            pairs = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--rounds"))
            rounds = atoi(argv[i + 1]);
        else {
            fprintf(stderr, "usage: %s [--threads N] [--pairs P] "
                            "[--rounds R]\n", argv[0]);
            return 2;
        }
    }
    if (max_threads < 1 || max_threads > MAX_THREADS || pairs < 1 ||
        rounds < 1 || rounds > MAX_ROUNDS) {
        fprintf(stderr, "%s: an option is out of range\n", argv[0]);
        return 2;
    }
    if (ouro_init(NULL) != OURO_OK)
        return 1;
    ouro_record_type_init(&node_type, "Node", 2, NULL);

    int failed = 0;
    for (int t = 1; t <= max_threads; t++) {
        double ns[NCASES][MAX_ROUNDS], cpu[NCASES][MAX_ROUNDS];
        for (int r = 0; r < rounds; r++)
            for (int k = 0; k < NCASES; k++)
                ns[k][r] = measure((enum kase)k, t, &cpu[k][r], &failed);
        for (int k = 0; k < NCASES; k++) {
            qsort(ns[k], (size_t)rounds, sizeof(double), cmp_double);
            qsort(cpu[k], (size_t)rounds, sizeof(double), cmp_double);
            printf("{\"workload\": \"counting\", \"system\": \"%s\", "
                   "\"threads\": %d, \"ns_per_pair\": %.3f, "
                   "\"cpu_ns_per_pair\": %.3f, \"pairs_per_thread\": %ld, "
                   "\"rounds\": %d}\n",
                   case_name[k], t, ns[k][rounds / 2], cpu[k][rounds / 2],
                   pairs, rounds);
        }
        fflush(stdout);
    }
    ouro_shutdown();
    if (failed)
        fprintf(stderr, "count_peers: an ouro object's final count was "
                        "wrong\n");
    return failed;
}
