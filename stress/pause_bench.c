/*
 * pause_bench.c - the cycle collector under load: collection cost and the
 * pauses it causes, against CPython's gc.collect() on the same shapes,
 * measured in one run.
 *
 *   bazel run -c opt //stress:pause_bench [-- --live N --garbage G
 *                                            --mutators M --batch B
 *                                            --slice S --pace-max-us U
 *                                            --no-python]
 *
 * 1. A live heap of N records (default 1,000,000) in clusters of 8 linked
 *    in a ring, held by a root list.
 * 2. Two mutator threads keep working on it: read links, relink within a
 *    cluster, allocate and drop temporaries, with a safepoint every 64 ops.
 * 3. The main thread builds G objects of garbage (default 1,000,000) as
 *    two-object cycles, drops them, and runs one collection.
 * 4. Reported: collection wall time, ns per collected object, and the
 *    mutators' pauses (ouro_gc_pauses) during the collection.
 * 5. The machine's floor: the longest a ~1 us piece of work takes with as
 *    many busy threads and no ouro running (machine_floor).
 * 6. python3 builds the same live heap and garbage and times gc.collect().
 * The last line is one JSON object.
 */
#include <ouro.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CLUSTER 8
#define MAX_MUTATORS 16

static long live_n = 1000000, garbage_n = 1000000;
static int run_python = 1, mutators = 2;
static unsigned decref_batch, free_slice;   /* 0: the runtime's defaults */
static int pace_max_us;   /* 0: the default; negative: pacing off */
static ouro_type node_type;
static ouro_object **clusters;   /* first node of each cluster */
static long nclusters;
static _Atomic int stop;
static _Atomic uint64_t mutator_ops;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void build_live(ouro_object *root)
{
    nclusters = live_n / CLUSTER;
    clusters = malloc((size_t)nclusters * sizeof *clusters);
    for (long c = 0; c < nclusters; c++) {
        ouro_object *first = ouro_record_new(&node_type), *prev = first;
        for (int k = 1; k < CLUSTER; k++) {
            ouro_object *n = ouro_record_new(&node_type);
            ouro_record_set(prev, 0, n);
            if (prev != first)
                ouro_decref(prev);
            prev = n;
        }
        ouro_record_set(prev, 0, first);   /* a live ring */
        if (prev != first)
            ouro_decref(prev);
        ouro_list_append(root, first);
        clusters[c] = first;               /* borrowed: the root holds it */
        ouro_decref(first);
        if (c % 1024 == 0)
            ouro_safepoint();
    }
}

static uint64_t xorshift(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void *mutator(void *arg)
{
    uint64_t seed = (uint64_t)(uintptr_t)arg * 0x9e3779b97f4a7c15ull + 7;
    ouro_thread_attach();
    uint64_t ops = 0;
    while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
        uint64_t r = xorshift(&seed);
        ouro_object *n = clusters[r % nclusters];
        ouro_incref(n);
        /* walk a few links */
        for (int k = 0; k < (int)((r >> 20) % 4); k++) {
            ouro_object *next = ouro_record_get(n, 0);
            ouro_decref(n);
            n = next;
        }
        if ((r >> 24) % 4 == 0) {
            /* a temporary that points into the cluster, then dropped */
            ouro_object *tmp = ouro_record_new(&node_type);
            ouro_record_set(tmp, 1, n);
            ouro_decref(tmp);
        } else if ((r >> 24) % 4 == 1) {
            /* touch slot 1 within the cluster (no new cycles outside it) */
            ouro_object *next = ouro_record_get(n, 0);
            ouro_record_set(n, 1, next);
            ouro_record_set(n, 1, NULL);
            ouro_decref(next);
        }
        ouro_decref(n);
        if (++ops % 64 == 0)
            ouro_safepoint();
    }
    atomic_fetch_add(&mutator_ops, ops);
    ouro_thread_detach();
    return NULL;
}

static void build_garbage(void)
{
    for (long i = 0; i < garbage_n / 2; i++) {
        ouro_object *a = ouro_record_new(&node_type), *b = ouro_record_new(&node_type);
        ouro_record_set(a, 0, b);
        ouro_record_set(b, 0, a);
        ouro_decref(a);
        ouro_decref(b);
        if (i % 1024 == 0)
            ouro_safepoint();
    }
    ouro_flush();   /* apply the drops: every cycle is now a candidate */
}

/* The machine's floor: the longest time a small, fixed piece of work (about
 * a microsecond) takes here when nothing of ouro runs, by the same two
 * clocks as the pauses.  `workers` threads time such pieces back to back
 * for `ms` while `spinners` more threads only burn CPU (stand-ins for the
 * collector thread).  On a virtual machine the host preempts the guest's
 * CPUs now and then, and a thread's CPU clock can go on counting while it
 * does; no pause measured here can be told apart from one below this floor. */
struct floor_result {
    uint64_t max_ns, cpu_max_ns;
};

static _Atomic int floor_stop;
static struct floor_result floor_of[MAX_MUTATORS];

static uint64_t clock_ns(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void *floor_worker(void *arg)
{
    struct floor_result *r = arg;
    uint64_t seed = 88172645463325252ull, sink = 0;
    while (!atomic_load_explicit(&floor_stop, memory_order_relaxed)) {
        uint64_t w = clock_ns(CLOCK_MONOTONIC);
        uint64_t c = clock_ns(CLOCK_THREAD_CPUTIME_ID);
        for (int i = 0; i < 256; i++)
            sink += xorshift(&seed);
        uint64_t dc = clock_ns(CLOCK_THREAD_CPUTIME_ID) - c;
        uint64_t dw = clock_ns(CLOCK_MONOTONIC) - w;
        if (dw > r->max_ns)
            r->max_ns = dw;
        if (dc > r->cpu_max_ns)
            r->cpu_max_ns = dc;
    }
    return (void *)(uintptr_t)(sink & 1);
}

static void *floor_spinner(void *arg)
{
    uint64_t seed = (uint64_t)(uintptr_t)arg | 1, sink = 0;
    while (!atomic_load_explicit(&floor_stop, memory_order_relaxed))
        sink += xorshift(&seed);
    return (void *)(uintptr_t)(sink & 1);
}

static struct floor_result machine_floor(double ms, int workers, int spinners)
{
    pthread_t th[2 * MAX_MUTATORS];
    int n = 0;
    atomic_store(&floor_stop, 0);
    for (int i = 0; i < workers; i++) {
        floor_of[i] = (struct floor_result){0, 0};
        pthread_create(&th[n++], NULL, floor_worker, &floor_of[i]);
    }
    for (int i = 0; i < spinners; i++)
        pthread_create(&th[n++], NULL, floor_spinner, (void *)(uintptr_t)(i + 2));
    struct timespec d = {(time_t)(ms / 1e3),
                         (long)((ms - (double)(time_t)(ms / 1e3) * 1e3) * 1e6)};
    nanosleep(&d, NULL);
    atomic_store(&floor_stop, 1);
    for (int i = 0; i < n; i++)
        pthread_join(th[i], NULL);
    struct floor_result r = {0, 0};
    for (int i = 0; i < workers; i++) {
        if (floor_of[i].max_ns > r.max_ns)
            r.max_ns = floor_of[i].max_ns;
        if (floor_of[i].cpu_max_ns > r.cpu_max_ns)
            r.cpu_max_ns = floor_of[i].cpu_max_ns;
    }
    return r;
}

static const char *PY =
    "import gc, sys, time\n"
    "class Node:\n"
    "    __slots__ = ('a', 'b')\n"
    "live_n, garbage_n = int(sys.argv[1]), int(sys.argv[2])\n"
    "gc.disable()\n"
    "live = []\n"
    "for i in range(live_n // 8):\n"
    "    c = [Node() for _ in range(8)]\n"
    "    for j in range(8):\n"
    "        c[j].a = c[(j + 1) % 8]; c[j].b = None\n"
    "    live.append(c[0])\n"
    "    del c\n"
    "for i in range(garbage_n // 2):\n"
    "    x = Node(); y = Node(); x.a = y; y.a = x; x.b = None; y.b = None\n"
    "x = y = None\n"
    "t = time.perf_counter(); n = gc.collect(); dt = time.perf_counter() - t\n"
    "print(n, dt * 1e3)\n";

/* ns per collected object of CPython's gc.collect() on the same shapes;
 * -1 when python3 is unavailable. */
static double cpython_ns_per_object(double *ms, long *found)
{
    char path[] = "/tmp/ouro_pause_bench_XXXXXX.py";
    int fd = mkstemps(path, 3);
    if (fd < 0)
        return -1;
    FILE *f = fdopen(fd, "w");
    fputs(PY, f);
    fclose(f);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "python3 %s %ld %ld 2>/dev/null", path, live_n,
             garbage_n);
    FILE *p = popen(cmd, "r");
    double ns = -1;
    if (p && fscanf(p, "%ld %lf", found, ms) == 2 && *found > 0)
        ns = *ms * 1e6 / (double)*found;
    if (p)
        pclose(p);
    remove(path);
    return ns;
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--live") && i + 1 < argc)
            live_n = atol(argv[++i]);
        else if (!strcmp(argv[i], "--garbage") && i + 1 < argc)
            garbage_n = atol(argv[++i]);
        else if (!strcmp(argv[i], "--batch") && i + 1 < argc)
            decref_batch = (unsigned)atoi(argv[++i]);
        else if (!strcmp(argv[i], "--slice") && i + 1 < argc)
            free_slice = (unsigned)atoi(argv[++i]);
        else if (!strcmp(argv[i], "--pace-max-us") && i + 1 < argc)
            pace_max_us = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--mutators") && i + 1 < argc)
            mutators = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--no-python"))
            run_python = 0;
    }
    if (mutators < 0 || mutators > MAX_MUTATORS)
        mutators = 2;
    if (live_n < CLUSTER)
        live_n = CLUSTER;
    /* One collection, on demand; pauses timed by both clocks, so that the
     * report separates work from waiting for a CPU. */
    ouro_config cfg = {.gc_disabled = 1, .pause_cpu_clock = 1,
                       .decref_batch = decref_batch, .free_slice = free_slice,
                       .gc_pace_max_us = pace_max_us};
    if (ouro_init(&cfg) != OURO_OK || ouro_thread_attach() != OURO_OK)
        return 1;
    ouro_record_type_init(&node_type, "Node", 2, NULL);
    ouro_object *root = ouro_list_new((size_t)(live_n / CLUSTER));
    double t0 = now_ms();
    build_live(root);
    ouro_flush();
    double build_ms = now_ms() - t0;

    pthread_t m[MAX_MUTATORS];
    for (long i = 0; i < mutators; i++)
        pthread_create(&m[i], NULL, mutator, (void *)(i + 1));
    build_garbage();

    ouro_gc_pauses_reset();
    ouro_gc_stats before;
    ouro_gc_get_stats(&before);
    t0 = now_ms();
    int64_t found = ouro_gc_collect();
    double collect_ms = now_ms() - t0;
    ouro_gc_stats after;
    ouro_gc_get_stats(&after);
    ouro_pause_stats ps, pc;
    ouro_gc_pauses(&ps, NULL);
    ouro_gc_pauses_cpu(&pc, NULL);

    atomic_store(&stop, 1);
    ouro_blocking_begin();
    for (int i = 0; i < mutators; i++)
        pthread_join(m[i], NULL);
    ouro_blocking_end();
    uint64_t collected = after.collected - before.collected;
    double ns_per = collected ? collect_ms * 1e6 / (double)collected : 0;
    double cpu_ns_per = collected ? (double)after.last_collection_cpu_ns /
                                        (double)collected : 0;

    /* As long as the collection took, with as many busy threads (the
     * mutators and the collector), then without the collector's. */
    double floor_ms = collect_ms > 200 ? collect_ms : 200;
    struct floor_result fl = machine_floor(floor_ms, mutators, 1);
    struct floor_result fl_alone = machine_floor(floor_ms, mutators, 0);

    double py_ms = 0;
    long py_found = 0;
    double py_ns = run_python ? cpython_ns_per_object(&py_ms, &py_found) : -1;

    ouro_decref(root);
    free(clusters);
    ouro_shutdown();

    printf("ouro pause_bench: live heap %ld objects (built in %.0f ms), "
           "garbage %ld objects in 2-cycles, %d mutators\n",
           live_n, build_ms, garbage_n, mutators);
    printf("  collection: %.1f ms wall (%.1f ms of collector CPU), found %lld "
           "unreachable, freed %llu: %.1f ns wall, %.1f ns CPU per object\n",
           collect_ms, after.last_collection_cpu_ns / 1e6, (long long)found,
           (unsigned long long)collected, ns_per, cpu_ns_per);
    printf("  examined: %llu candidates, %llu objects visited by trial "
           "deletion (the garbage, and what live candidates reach)\n",
           (unsigned long long)(after.candidates - before.candidates),
           (unsigned long long)(after.examined - before.examined));
    printf("  phases (ms): candidates %.1f, trial deletion %.1f, validate "
           "%.1f, finalize %.1f, free %.1f\n",
           after.last_phase_ns[OURO_GC_PHASE_CANDIDATES] / 1e6,
           after.last_phase_ns[OURO_GC_PHASE_TRIAL] / 1e6,
           after.last_phase_ns[OURO_GC_PHASE_VALIDATE] / 1e6,
           after.last_phase_ns[OURO_GC_PHASE_FINALIZE] / 1e6,
           after.last_phase_ns[OURO_GC_PHASE_FREE] / 1e6);
    printf("  mutator pauses during the collection: %llu, p50 %.2f us, p99 "
           "%.2f us, p99.9 %.2f us, max %.2f us (%llu mutator ops in all; "
           "%llu safepoints waited for the collection to catch up)\n",
           (unsigned long long)ps.count, ps.p50_ns / 1e3, ps.p99_ns / 1e3,
           ps.p999_ns / 1e3, ps.max_ns / 1e3,
           (unsigned long long)atomic_load(&mutator_ops),
           (unsigned long long)(after.paced - before.paced));
    printf("  the same pauses by the threads' CPU clocks (work done, without "
           "waiting for a CPU): p50 %.2f us, p99 %.2f us, p99.9 %.2f us, max "
           "%.2f us\n", pc.p50_ns / 1e3, pc.p99_ns / 1e3, pc.p999_ns / 1e3,
           pc.max_ns / 1e3);
    printf("  the machine's floor, no ouro running (%.0f ms; a 1 us piece of "
           "work timed back to back): with %d threads busy as during the "
           "collection, up to %.2f us wall, %.2f us CPU; with %d, up to %.2f us "
           "wall, %.2f us CPU\n", floor_ms, mutators + 1, fl.max_ns / 1e3,
           fl.cpu_max_ns / 1e3, mutators, fl_alone.max_ns / 1e3,
           fl_alone.cpu_max_ns / 1e3);
    if (py_ns > 0)
        printf("  CPython gc.collect() on the same shapes: %.1f ms for %ld "
               "objects = %.1f ns per object; ouro/CPython = %.2f (wall), "
               "%.2f (CPU)\n",
               py_ms, py_found, py_ns, ns_per / py_ns, cpu_ns_per / py_ns);
    else
        printf("  CPython comparison skipped\n");
    printf("{\"live_objects\": %ld, \"garbage_objects\": %ld, \"collected\": "
           "%llu, \"collect_ms\": %.2f, \"ns_per_object\": %.2f, "
           "\"cpu_ns_per_object\": %.2f, "
           "\"cpython_ns_per_object\": %.2f, \"pause_p50_us\": %.3f, "
           "\"pause_p99_us\": %.3f, \"pause_p999_us\": %.3f, "
           "\"pause_max_us\": %.3f, \"pauses\": %llu, \"paced\": %llu, "
           "\"pause_cpu_p99_us\": %.3f, \"pause_cpu_max_us\": %.3f, "
           "\"floor_max_us\": %.3f, \"floor_cpu_max_us\": %.3f, "
           "\"floor_alone_max_us\": %.3f, \"floor_alone_cpu_max_us\": %.3f}\n",
           live_n, garbage_n, (unsigned long long)collected, collect_ms,
           ns_per, cpu_ns_per, py_ns, ps.p50_ns / 1e3, ps.p99_ns / 1e3, ps.p999_ns / 1e3,
           ps.max_ns / 1e3, (unsigned long long)ps.count,
           (unsigned long long)(after.paced - before.paced), pc.p99_ns / 1e3,
           pc.max_ns / 1e3, fl.max_ns / 1e3, fl.cpu_max_ns / 1e3,
           fl_alone.max_ns / 1e3, fl_alone.cpu_max_ns / 1e3);
    return 0;
}
