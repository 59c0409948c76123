/*
 * harness.c - a scenario's lifecycle: starting the runtime on the checking
 * allocator, the progress line, violation reports, threads, and the checks
 * every scenario ends with.
 */
#include "harness.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define REPORTED_VIOLATIONS 20   /* printed per scenario; all are counted */
#define PROGRESS_PERIOD_NS 250000000L
#define MAX_FINAL_COLLECTIONS 16

static stress_run *current;      /* the scenario running now */
static int64_t block_baseline;   /* allocator blocks live before it */

static pthread_t progress_thread;
static bool progress_running;
static pthread_mutex_t progress_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t progress_wake = PTHREAD_COND_INITIALIZER;
static bool progress_stop;

double stress_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

bool stress_time_up(stress_run *run)
{
    /* relaxed: a stop flag; whoever sees it late does one more round. */
    if (atomic_load_explicit(&run->stop, memory_order_relaxed))
        return true;
    if (stress_now() < run->deadline)
        return false;
    atomic_store_explicit(&run->stop, 1, memory_order_relaxed);
    return true;
}

void stress_violation(const char *fmt, ...)
{
    stress_run *run = current;
    uint64_t n = run ? atomic_fetch_add_explicit(&run->violations, 1,
                                                 memory_order_relaxed)
                     : 0;
    if (n >= REPORTED_VIOLATIONS)
        return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nVIOLATION [%s]: %s\n", run ? run->name : "suite", msg);
}

uint64_t stress_seed_for(uint64_t seed, uint64_t index)
{
    /* splitmix64 of the pair: distinct, well-mixed, never zero. */
    uint64_t z = seed + (index + 1) * 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return z ? z : 1;
}

void stress_spawn(int n, stress_thread_fn fn, void *base, size_t stride,
                  void *threads_out)
{
    pthread_t *th = threads_out;
    for (int i = 0; i < n; i++) {
        if (pthread_create(&th[i], NULL, fn, (char *)base + (size_t)i * stride)
            != 0) {
            fprintf(stderr, "stress: pthread_create failed\n");
            abort();
        }
    }
}

void stress_join(int n, void *threads)
{
    pthread_t *th = threads;
    bool attached = ouro_thread_is_attached();
    /* pthread_join blocks: go offline so that nobody waits for us. */
    if (attached)
        ouro_blocking_begin();
    for (int i = 0; i < n; i++)
        pthread_join(th[i], NULL);
    if (attached)
        ouro_blocking_end();
}

/* ---- progress line -------------------------------------------------------- */

/* The runtime's, the collector's and the pause figures, now. */
static void read_stats(ouro_stats *st, ouro_gc_stats *gs, ouro_pause_stats *ps)
{
    ouro_get_stats(st);
    ouro_gc_get_stats(gs);
    ouro_gc_pauses(ps, NULL);
}

static void *progress_main(void *arg)
{
    stress_run *run = arg;
    uint64_t last_ops = 0;
    double last_t = stress_now();
    pthread_mutex_lock(&progress_lock);
    while (!progress_stop) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += PROGRESS_PERIOD_NS;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&progress_wake, &progress_lock, &until);
        if (progress_stop)
            break;
        ouro_stats st;
        ouro_gc_stats gs;
        ouro_pause_stats ps;
        read_stats(&st, &gs, &ps);
        uint64_t ops = atomic_load_explicit(&run->ops, memory_order_relaxed);
        double t = stress_now();
        double rate = (double)(ops - last_ops) / (t - last_t);
        last_ops = ops;
        last_t = t;
        fprintf(stderr,
                "\r%-10s %5.1fs  %9.0f ops/s  %6llu gc  %10llu freed  "
                "%9llu live  %8llu cand  %6llu paced  "
                "p99 pause %7.1f us  %llu violations  ",
                run->name, t - run->started, rate,
                (unsigned long long)gs.collections,
                (unsigned long long)st.freed,
                (unsigned long long)st.live_objects,
                (unsigned long long)ouro_gc_get_count(),
                (unsigned long long)gs.paced, (double)ps.p99_ns / 1e3,
                (unsigned long long)atomic_load_explicit(
                    &run->violations, memory_order_relaxed));
        fflush(stderr);
    }
    pthread_mutex_unlock(&progress_lock);
    fprintf(stderr, "\r%*s\r", 150, "");
    return NULL;
}

static void progress_start(stress_run *run)
{
    if (!run->opts->progress)
        return;
    progress_stop = false;
    progress_running =
        pthread_create(&progress_thread, NULL, progress_main, run) == 0;
}

static void progress_end(void)
{
    if (!progress_running)
        return;
    pthread_mutex_lock(&progress_lock);
    progress_stop = true;
    pthread_cond_signal(&progress_wake);
    pthread_mutex_unlock(&progress_lock);
    pthread_join(progress_thread, NULL);
    progress_running = false;
}

/* ---- lifecycle -------------------------------------------------------------- */

bool stress_runtime_start(stress_run *run, ouro_config cfg)
{
    current = run;
    cfg.malloc_fn = check_alloc_malloc;
    cfg.free_fn = check_alloc_free;
    /* Blocks an earlier scenario leaked were reported there. */
    block_baseline = check_alloc_live();
    int err = ouro_init(&cfg);
    if (err == OURO_OK)
        err = ouro_thread_attach();
    if (err != OURO_OK) {
        stress_violation("runtime did not start: %s", ouro_strerror(err));
        return false;
    }
    node_counters_reset();
    node_finalize_hook = NULL;
    ouro_gc_pauses_reset();
    run->started = stress_now();
    run->deadline = run->started + run->opts->seconds;
    progress_start(run);
    return true;
}

uint64_t stress_quiesce(void)
{
    /* Automatic collection off, then collect until nothing is found; each
     * collection waits for any automatic one still running. */
    ouro_gc_disable();
    int rounds = 0;
    int64_t found;
    do {
        found = ouro_gc_collect();
        ouro_flush();
    } while (found > 0 && ++rounds < MAX_FINAL_COLLECTIONS);
    if (found != 0)
        stress_violation("collections at the end still find garbage "
                         "(%lld after %d rounds)", (long long)found, rounds);
    ouro_stats st;
    ouro_get_stats(&st);
    return st.live_objects;
}

void stress_runtime_finish(stress_run *run)
{
    run->seconds = stress_now() - run->started;
    progress_end();
    stress_quiesce();
    ouro_stats st;
    ouro_gc_stats gs;
    ouro_pause_stats ps;
    read_stats(&st, &gs, &ps);
    STRESS_CHECK(st.live_objects == 0,
                 "%llu object(s) still live at shutdown (allocated %llu, "
                 "freed %llu)", (unsigned long long)st.live_objects,
                 (unsigned long long)st.allocated,
                 (unsigned long long)st.freed);
    STRESS_CHECK(st.attached_threads == 1,
                 "%u user threads attached at the end (1 expected)",
                 st.attached_threads);
    struct node_counters nc;
    node_counters_get(&nc);
    STRESS_CHECK(nc.created == nc.destroyed,
                 "%llu node(s) created but %llu destroyed",
                 (unsigned long long)nc.created,
                 (unsigned long long)nc.destroyed);
    STRESS_CHECK(st.finalized == nc.finalized,
                 "the runtime counts %llu finalizer runs, the nodes %llu",
                 (unsigned long long)st.finalized,
                 (unsigned long long)nc.finalized);
    run->freed = st.freed;
    run->collections = gs.collections;
    run->pause_p99_ns = ps.p99_ns;

    ouro_shutdown();
    check_alloc_drain();
    int64_t blocks = check_alloc_live() - block_baseline;
    STRESS_CHECK(blocks == 0,
                 "%lld allocator block(s) not returned after shutdown",
                 (long long)blocks);
    current = NULL;
}
