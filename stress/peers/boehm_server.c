/*
 * boehm_server.c - workload 4 for Boehm: T mutators serve requests
 * (shape.h) against a live heap of L nodes for S seconds, each recording a
 * trace of its request boundaries (trace.h).  The collector runs whenever
 * allocation asks for it, stopping every registered thread.
 *
 * Before the run, with the mutators not yet started, one GC_gcollect() on
 * the live heap gives the full-collection pause (idle_collect_ms): the
 * world is stopped for all of it.  Boehm's own pause accounting is the
 * time from each stop of the world to its restart, taken from the
 * library's collection events.
 */
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "boehm_peer.h"
#include "clock.h"
#include "memory.h"
#include "rng.h"
#include "shape.h"
#include "trace.h"
#include "workers.h"

/* The root of the live heap: static data, so the collector scans it. */
static struct node **clusters;
static long nclusters;

struct server {
    double seconds;
    trace *traces;
    _Atomic uint64_t requests;
};

/* ---- stopped-world intervals, from the collection events.  The
 * callback runs with the collector's lock held, one at a time. */
#define MAX_STOPS 1000000
static uint64_t stop_began;
static uint64_t *stops;
static size_t nstops;

static void on_event(GC_EventType e)
{
    if (e == GC_EVENT_PRE_STOP_WORLD)
        stop_began = wall_ns();
    else if (e == GC_EVENT_POST_START_WORLD && stop_began && nstops < MAX_STOPS)
        stops[nstops++] = wall_ns() - stop_began;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static double stop_percentile_us(double p)
{
    if (nstops == 0)
        return 0;
    size_t i = (size_t)(p * (double)(nstops - 1) + 0.5);
    return stops[i] / 1e3;
}

/* ---- the workload */

static void build_live(long live)
{
    nclusters = live / CLUSTER;
    clusters = GC_MALLOC((size_t)nclusters * sizeof *clusters);
    if (!clusters)
        abort();
    for (long c = 0; c < nclusters; c++) {
        struct node *first = boehm_node_new(), *prev = first;
        for (int k = 1; k < CLUSTER; k++) {
            struct node *n = boehm_node_new();
            prev->a = n;
            prev = n;
        }
        prev->a = first;
        clusters[c] = first;
    }
}

static volatile uintptr_t sink;   /* keeps the reads from being dropped */

static void request(uint64_t *seed, uint64_t k)
{
    uint64_t r = rng_next(seed);
    int n = GRAPH_MIN + (int)(r % (GRAPH_MAX - GRAPH_MIN + 1));
    struct node *head = boehm_node_new(), *prev = head;
    for (int i = 1; i < n; i++) {
        struct node *x = boehm_node_new();
        prev->a = x;
        x->b = head;   /* back-reference */
        prev = x;
    }
    prev->a = head;    /* the cycle */
    uintptr_t seen = 0;
    for (int t = 0; t < TOUCHES; t++) {
        struct node *live = clusters[rng_next(seed) % (uint64_t)nclusters];
        struct node *next = live->a;
        if (t == 0)
            head->b = next;   /* the graph refers to the heap */
        seen ^= (uintptr_t)next->a;
    }
    if (k % WRITE_EVERY == 0) {
        struct node *live = clusters[rng_next(seed) % (uint64_t)nclusters];
        live->b = live->a;
    }
    sink = seen;
    /* The graph is dropped when head and prev go out of scope. */
}

static void mutator(worker *w)
{
    struct server *s = w->arg;
    trace *tr = &s->traces[w->id];
    uint64_t seed = rng_seed((uint64_t)w->id + 1);
    boehm_thread_begin();
    worker_start(w);
    uint64_t now = wall_ns(), deadline = now + (uint64_t)(s->seconds * 1e9);
    trace_mark(tr, now);
    uint64_t k = 0;
    do {
        request(&seed, k++);
        now = wall_ns();
    } while (trace_mark(tr, now) && now < deadline);
    worker_stop(w);
    atomic_fetch_add_explicit(&s->requests, k, memory_order_relaxed);
    boehm_thread_end();
}

int boehm_server(const peer_options *o)
{
    if (!o->trace) {
        fprintf(stderr, "boehm_peer: server needs --trace PATH\n");
        return 2;
    }
    stops = malloc(MAX_STOPS * sizeof *stops);
    struct server s = {.seconds = o->seconds};
    atomic_init(&s.requests, 0);
    s.traces = calloc((size_t)o->threads, sizeof *s.traces);
    if (!stops || !s.traces)
        return 1;
    for (int i = 0; i < o->threads; i++)
        if (trace_init(&s.traces[i], (size_t)o->max_requests + 1) != 0)
            return 1;

    uint64_t t0 = wall_ns();
    build_live(o->live);
    uint64_t build_ns = wall_ns() - t0;
    t0 = wall_ns();
    GC_gcollect();
    uint64_t idle_collect_ns = wall_ns() - t0;
    size_t live_used = boehm_used_bytes();

    GC_set_on_collection_event(on_event);
    /* The collection counter, incremental collections included. */
    GC_word gc0 = GC_get_gc_no();
    uint64_t cpu0 = process_cpu_ns();
    workers_result wr;
    if (workers_run(o->threads, mutator, &s, &wr) != 0)
        return 1;
    uint64_t cpu = process_cpu_ns() - cpu0;
    GC_word collections = GC_get_gc_no() - gc0;
    GC_set_on_collection_event(0);
    /* The callback is off and the mutators are gone: the figures are
     * stable now. */
    uint64_t stopped_total = 0;
    for (size_t i = 0; i < nstops; i++)
        stopped_total += stops[i];
    qsort(stops, nstops, sizeof *stops, cmp_u64);
    uint64_t requests = atomic_load_explicit(&s.requests, memory_order_relaxed);
    if (trace_write(o->trace, s.traces, o->threads) != 0) {
        fprintf(stderr, "boehm_peer: cannot write %s\n", o->trace);
        return 1;
    }
    char version[32];
    const char *name = !strcmp(o->variant, "default") ? "boehm"
                       : !strcmp(o->variant, "incremental") ? "boehm-incremental"
                                                            : "boehm-serial";
    printf("{\"workload\": \"server\", \"system\": \"%s\", "
           "\"live\": %ld, \"mutators\": %d, \"seconds\": %.3f, "
           "\"requests\": %llu, \"requests_per_s\": %.0f, "
           "\"cpu_us_per_request\": %.3f, \"build_s\": %.2f, "
           "\"idle_collect_ms\": %.1f, \"live_used_mib\": %.1f, "
           "\"collections\": %llu, \"stopped_s\": %.3f, "
           "\"own_pauses\": %zu, \"own_pause_p50_us\": %.2f, "
           "\"own_pause_p99_us\": %.2f, \"own_pause_p999_us\": %.2f, "
           "\"own_pause_max_us\": %.2f, \"markers\": %d, "
           "\"incremental\": %d, \"libgc\": \"%s\", \"heap_mib\": %.1f, \"peak_rss_mib\": %.1f, "
           "\"runqueue_wait_fraction\": %.4f, \"trace\": \"%s\"}\n",
           name, o->live, o->threads, wr.wall_ns / 1e9,
           (unsigned long long)requests, requests / (wr.wall_ns / 1e9),
           requests ? cpu / 1e3 / (double)requests : 0.0, build_ns / 1e9,
           idle_collect_ns / 1e6, live_used / 1048576.0,
           (unsigned long long)collections, stopped_total / 1e9, nstops,
           stop_percentile_us(0.5), stop_percentile_us(0.99),
           stop_percentile_us(0.999), nstops ? stops[nstops - 1] / 1e3 : 0.0,
           boehm_markers(), boehm_incremental(),
           boehm_version(version, sizeof version), GC_get_heap_size() / 1048576.0, peak_rss_mib(),
           wr.runq_ns < 0 ? -1.0 : (double)wr.runq_ns / (double)wr.span_ns,
           o->trace);
    return 0;
}
