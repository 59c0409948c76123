/*
 * rc_bench.c - cost of one increment+decrement pair, ouro against a plain
 * counter and a C11 atomic counter, measured side by side in one run.
 *
 *   plain      non-atomic counter in memory (what a GIL runtime does)
 *   atomic     C11 atomic_fetch_add/sub, relaxed (what naive thread-safe
 *              counting does; the order does not change the instruction)
 *   owned      ouro_incref/ouro_decref on an object the thread owns
 *   owned x8   the same over 8 owned objects in turn (no two consecutive
 *              decrements of one object, so batches cannot fold runs)
 *   foreign    the same on an object another thread owns
 *   contended  two threads hammering one object: ouro (owner + one other
 *              thread) and C11 atomics (both threads)
 *
 * ouro's figures include everything a real program pays: each thread calls
 * ouro_safepoint() every 1024 pairs, so the deferred decrements are applied
 * within the measured time.  Rounds are interleaved and the median is
 * reported.  Run optimised: bazel run -c opt //stress:rc_bench [-- --pairs N]
 * The last line is one JSON object.
 */
#include <ouro.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SAFEPOINT_EVERY 1024
#define ROUNDS 7

#define barrier() __asm__ __volatile__("" ::: "memory")

static long pairs = 20 * 1000 * 1000;

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

struct plain_obj {
    long refcnt;
    char rest[16];
};

static double bench_plain(void)
{
    static struct plain_obj obj;
    struct plain_obj *o = &obj;
    barrier();
    double t0 = now_ns();
    for (long i = 0; i < pairs; i++) {
        o->refcnt++;
        barrier();
        o->refcnt--;
        barrier();
    }
    return (now_ns() - t0) / pairs;
}

static _Atomic long atomic_counter;

static double bench_atomic(void)
{
    double t0 = now_ns();
    for (long i = 0; i < pairs; i++) {
        atomic_fetch_add_explicit(&atomic_counter, 1, memory_order_relaxed);
        atomic_fetch_sub_explicit(&atomic_counter, 1, memory_order_relaxed);
    }
    return (now_ns() - t0) / pairs;
}

static double ouro_pairs(ouro_object *o, long n)
{
    double t0 = now_ns();
    for (long i = 0; i < n; i++) {
        ouro_incref(o);
        ouro_decref(o);
        if ((i & (SAFEPOINT_EVERY - 1)) == 0)
            ouro_safepoint();
    }
    ouro_safepoint();
    return (now_ns() - t0) / n;
}

/* Owned objects used in turn, so that no two consecutive decrements are of
 * the same object (the batch cannot fold runs). */
static double ouro_pairs_spread(ouro_object **objs, int nobjs, long n)
{
    double t0 = now_ns();
    for (long i = 0; i < n; i++) {
        ouro_object *o = objs[i % nobjs];
        ouro_incref(o);
        ouro_decref(o);
        if ((i & (SAFEPOINT_EVERY - 1)) == 0)
            ouro_safepoint();
    }
    ouro_safepoint();
    return (now_ns() - t0) / n;
}

/* ---- an object owned by another thread -------------------------------- */
static ouro_object *foreign_obj;
static _Atomic int foreign_state;   /* 0 starting, 1 ready, 2 stop */

static void *foreign_owner(void *arg)
{
    (void)arg;
    ouro_thread_attach();
    foreign_obj = ouro_list_new(0);
    atomic_store(&foreign_state, 1);
    ouro_blocking_begin();     /* parked: delays nobody's grace period */
    while (atomic_load(&foreign_state) != 2) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    ouro_blocking_end();
    ouro_decref(foreign_obj);
    ouro_thread_detach();
    return NULL;
}

/* ---- two threads on one object ---------------------------------------- */
struct duo {
    pthread_barrier_t start;
    ouro_object *obj;
    int use_ouro;
    double ns;
};

static void hammer(struct duo *d)
{
    if (d->use_ouro) {
        pthread_barrier_wait(&d->start);
        ouro_pairs(d->obj, pairs / 2);
    } else {
        pthread_barrier_wait(&d->start);
        for (long i = 0; i < pairs / 2; i++) {
            atomic_fetch_add_explicit(&atomic_counter, 1, memory_order_relaxed);
            atomic_fetch_sub_explicit(&atomic_counter, 1, memory_order_relaxed);
        }
    }
}

static void *partner(void *arg)
{
    struct duo *d = arg;
    if (d->use_ouro)
        ouro_thread_attach();
    hammer(d);
    if (d->use_ouro) {
        ouro_flush();
        ouro_thread_detach();
    }
    return NULL;
}

static double bench_contended(int use_ouro, ouro_object *owned)
{
    struct duo d = {.obj = owned, .use_ouro = use_ouro};
    pthread_barrier_init(&d.start, NULL, 2);
    pthread_t th;
    pthread_create(&th, NULL, partner, &d);
    double t0 = now_ns();
    hammer(&d);
    if (use_ouro)
        ouro_blocking_begin();   /* don't hold up the partner's flush */
    pthread_join(th, NULL);
    if (use_ouro)
        ouro_blocking_end();
    double ns = (now_ns() - t0) / (pairs / 2);
    pthread_barrier_destroy(&d.start);
    return ns;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v)
{
    qsort(v, ROUNDS, sizeof *v, cmp_double);
    return v[ROUNDS / 2];
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--pairs") && i + 1 < argc)
            pairs = atol(argv[++i]);
    if (ouro_init(NULL) != OURO_OK || ouro_thread_attach() != OURO_OK) {
        fprintf(stderr, "rc_bench: cannot start ouro\n");
        return 1;
    }
    pthread_t owner;
    pthread_create(&owner, NULL, foreign_owner, NULL);
    while (atomic_load(&foreign_state) != 1)
        ;
    ouro_object *mine = ouro_list_new(0);
    ouro_object *spread[8];
    for (int i = 0; i < 8; i++)
        spread[i] = ouro_list_new(0);

    double plain[ROUNDS], atomic[ROUNDS], owned[ROUNDS], foreign[ROUNDS];
    double owned8[ROUNDS];
    double c_ouro[ROUNDS], c_atomic[ROUNDS];
    for (int r = 0; r < ROUNDS; r++) {
        plain[r] = bench_plain();
        atomic[r] = bench_atomic();
        owned[r] = ouro_pairs(mine, pairs);
        owned8[r] = ouro_pairs_spread(spread, 8, pairs);
        foreign[r] = ouro_pairs(foreign_obj, pairs);
        c_ouro[r] = bench_contended(1, mine);
        c_atomic[r] = bench_contended(0, NULL);
    }
    atomic_store(&foreign_state, 2);
    ouro_blocking_begin();
    pthread_join(owner, NULL);
    ouro_blocking_end();

    double p = median(plain), a = median(atomic), o = median(owned);
    double f = median(foreign), co = median(c_ouro), ca = median(c_atomic);
    double o8 = median(owned8);
    ouro_flush();
    for (int i = 0; i < 8; i++)
        ouro_decref(spread[i]);
    int64_t final = ouro_refcnt(mine);
    ouro_decref(mine);
    ouro_shutdown();

    printf("ouro rc_bench: %ld pairs per measurement, median of %d rounds\n",
           pairs, ROUNDS);
    printf("%-44s %10s\n", "increment+decrement pair", "ns/pair");
    printf("%-44s %10.2f\n", "(a) plain non-atomic counter", p);
    printf("%-44s %10.2f\n", "(b) C11 atomic counter", a);
    printf("%-44s %10.2f\n", "(c) ouro, object owned by this thread", o);
    printf("%-44s %10.2f\n", "(c') ouro, 8 owned objects in turn", o8);
    printf("%-44s %10.2f\n", "(d) ouro, object owned by another thread", f);
    printf("%-44s %10.2f\n", "(e) 2 threads, one object: ouro", co);
    printf("%-44s %10.2f\n", "(e) 2 threads, one object: C11 atomics", ca);
    printf("ratios: owned/plain %.2f (target <= 2.5), owned/atomic %.2f "
           "(target <= 0.5), contended ouro/atomic %.2f\n",
           o / p, o / a, co / ca);
    printf("        8 objects in turn: owned/plain %.2f, owned/atomic %.2f\n",
           o8 / p, o8 / a);
    printf("object header: %zu bytes; final count of the owned object: %lld\n",
           sizeof(ouro_object), (long long)final);
    printf("{\"pairs\": %ld, \"plain_ns\": %.3f, \"atomic_ns\": %.3f, "
           "\"owned_ns\": %.3f, \"owned_spread_ns\": %.3f, \"foreign_ns\": %.3f, "
           "\"contended_ouro_ns\": %.3f, \"contended_atomic_ns\": %.3f, "
           "\"owned_over_plain\": %.3f, \"owned_over_atomic\": %.3f, "
           "\"contended_ouro_over_atomic\": %.3f, \"header_bytes\": %zu}\n",
           pairs, p, a, o, o8, f, co, ca, o / p, o / a, co / ca,
           sizeof(ouro_object));
    return final == 1 ? 0 : 1;
}
