/*
 * ouro_server.c - workload 4 for ouro: T mutators serve requests (shape.h)
 * against a live heap of L nodes for S seconds, each recording a trace of
 * its request boundaries (trace.h).
 *
 *   gc    automatic collection on: the collector thread frees the requests'
 *         cyclic garbage while the mutators run
 *   nogc  automatic collection off: the garbage stays (the baseline that
 *         "p99 within 1.2x of disabled" compares against)
 *
 * Before the run, with the mutators not yet started, one ouro_gc_collect()
 * on the freshly built live heap clears the candidates the build made; its
 * time is reported as idle_collect_ms (ouro's counterpart of the peers'
 * full collection, though it stops no mutator).  Also reported: ouro's own
 * pause accounting (ouro_gc_pauses, and ouro_gc_pauses_cpu with
 * pause_cpu_clock on), the collections during the run and the time they
 * took, process CPU per request, and the objects still alive at the end.
 */
#include <ouro.h>

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "memory.h"
#include "ouro_peer.h"
#include "rng.h"
#include "shape.h"
#include "trace.h"
#include "workers.h"

struct server {
    ouro_object **clusters;   /* first node of each ring; the root holds them */
    long nclusters;
    double seconds;
    trace *traces;
    _Atomic uint64_t requests;
};

static ouro_object *build_live(long live, struct server *s)
{
    s->nclusters = live / CLUSTER;
    s->clusters = malloc((size_t)s->nclusters * sizeof *s->clusters);
    ouro_object *root = ouro_list_new((size_t)s->nclusters);
    if (!s->clusters || !root)
        abort();
    for (long c = 0; c < s->nclusters; c++) {
        ouro_object *first = peer_ring(CLUSTER);
        if (ouro_list_append(root, first) != OURO_OK)
            abort();
        s->clusters[c] = first;   /* borrowed: the root holds it */
        ouro_decref(first);
        if (c % 1024 == 0)
            ouro_safepoint();
    }
    return root;
}

static void request(const struct server *s, uint64_t *seed, uint64_t k)
{
    uint64_t r = rng_next(seed);
    int n = GRAPH_MIN + (int)(r % (GRAPH_MAX - GRAPH_MIN + 1));
    ouro_object *head = peer_node_new(), *prev = head;
    for (int i = 1; i < n; i++) {
        ouro_object *x = peer_node_new();
        ouro_record_set(prev, 0, x);
        ouro_record_set(x, 1, head);   /* back-reference */
        if (prev != head)
            ouro_decref(prev);
        prev = x;
    }
    ouro_record_set(prev, 0, head);    /* the cycle */
    for (int t = 0; t < TOUCHES; t++) {
        ouro_object *live = s->clusters[rng_next(seed) % (uint64_t)s->nclusters];
        ouro_object *next = ouro_record_get(live, 0);
        if (t == 0)
            ouro_record_set(head, 1, next);   /* the graph refers to the heap */
        ouro_decref(next);
    }
    if (k % WRITE_EVERY == 0) {
        ouro_object *live = s->clusters[rng_next(seed) % (uint64_t)s->nclusters];
        ouro_object *next = ouro_record_get(live, 0);
        ouro_record_set(live, 1, next);
        ouro_decref(next);
    }
    if (prev != head)
        ouro_decref(prev);
    ouro_decref(head);
    ouro_safepoint();
}

static void mutator(worker *w)
{
    struct server *s = w->arg;
    trace *tr = &s->traces[w->id];
    uint64_t seed = rng_seed((uint64_t)w->id + 1);
    if (ouro_thread_attach() != OURO_OK)
        abort();
    ouro_blocking_begin();
    worker_start(w);
    ouro_blocking_end();
    uint64_t now = wall_ns(), deadline = now + (uint64_t)(s->seconds * 1e9);
    trace_mark(tr, now);
    uint64_t k = 0;
    do {
        request(s, &seed, k++);
        now = wall_ns();
    } while (trace_mark(tr, now) && now < deadline);
    worker_stop(w);
    atomic_fetch_add_explicit(&s->requests, k, memory_order_relaxed);
    ouro_thread_detach();
}

static uint64_t phases_ns(const ouro_gc_stats *st)
{
    uint64_t sum = 0;
    for (int p = 0; p < OURO_GC_PHASES; p++)
        sum += st->total_phase_ns[p];
    return sum;
}

/* Seconds the collections between two snapshots spent in one phase. */
static double phase_s(const ouro_gc_stats *a, const ouro_gc_stats *b, int p)
{
    return (double)(b->total_phase_ns[p] - a->total_phase_ns[p]) / 1e9;
}

int ouro_server(const peer_options *o)
{
    int gc = !strcmp(o->variant, "gc");
    if (!gc && strcmp(o->variant, "nogc")) {
        fprintf(stderr, "ouro_peer: server variants: gc, nogc\n");
        return 2;
    }
    if (!o->trace) {
        fprintf(stderr, "ouro_peer: server needs --trace PATH\n");
        return 2;
    }
    ouro_config cfg = {.gc_disabled = 1, .pause_cpu_clock = 1};
    if (ouro_init(&cfg) != OURO_OK || ouro_thread_attach() != OURO_OK)
        return 1;
    peer_nodes_init();
    struct server s = {.seconds = o->seconds};
    atomic_init(&s.requests, 0);
    s.traces = calloc((size_t)o->threads, sizeof *s.traces);
    if (!s.traces)
        return 1;
    for (int i = 0; i < o->threads; i++)
        if (trace_init(&s.traces[i], (size_t)o->max_requests + 1) != 0)
            return 1;

    uint64_t t0 = wall_ns();
    ouro_object *root = build_live(o->live, &s);
    ouro_flush();
    uint64_t build_ns = wall_ns() - t0;
    t0 = wall_ns();
    int64_t idle_found = ouro_gc_collect();
    uint64_t idle_collect_ns = wall_ns() - t0;
    ouro_stats st0;
    ouro_get_stats(&st0);

    if (gc)
        ouro_gc_enable();
    ouro_gc_pauses_reset();
    ouro_gc_stats g0, g1;
    ouro_gc_get_stats(&g0);
    uint64_t cpu0 = process_cpu_ns();
    workers_result wr;
    ouro_blocking_begin();
    int rc = workers_run(o->threads, mutator, &s, &wr);
    ouro_blocking_end();
    if (rc != 0)
        return 1;
    uint64_t cpu = process_cpu_ns() - cpu0;
    ouro_gc_get_stats(&g1);
    ouro_pause_stats pw, pc;
    ouro_gc_pauses(&pw, NULL);
    ouro_gc_pauses_cpu(&pc, NULL);
    ouro_stats st1;
    ouro_get_stats(&st1);
    uint64_t requests = atomic_load_explicit(&s.requests, memory_order_relaxed);
    if (trace_write(o->trace, s.traces, o->threads) != 0) {
        fprintf(stderr, "ouro_peer: cannot write %s\n", o->trace);
        return 1;
    }

    printf("{\"workload\": \"server\", \"system\": \"ouro%s\", "
           "\"live\": %ld, \"mutators\": %d, \"seconds\": %.3f, "
           "\"requests\": %llu, \"requests_per_s\": %.0f, "
           "\"cpu_us_per_request\": %.3f, \"build_s\": %.2f, "
           "\"idle_collect_ms\": %.1f, \"idle_collect_found\": %lld, "
           "\"collections\": %llu, \"collected\": %llu, "
           "\"candidates\": %llu, \"examined\": %llu, \"deferred\": %llu, "
           "\"full_collections\": %llu, \"collecting_s\": %.3f, "
           "\"collector_cpu_s\": %.3f, \"paced\": %llu, \"phase_s\": {\"candidates\": %.3f, "
           "\"trial\": %.3f, \"validate\": %.3f, \"finalize\": %.3f, "
           "\"free\": %.3f}, "
           "\"objects_at_start\": %llu, \"objects_at_end\": %llu, "
           "\"own_pauses\": %llu, \"own_pause_p50_us\": %.2f, "
           "\"own_pause_p99_us\": %.2f, \"own_pause_p999_us\": %.2f, "
           "\"own_pause_max_us\": %.2f, \"own_pause_cpu_p50_us\": %.2f, "
           "\"own_pause_cpu_p99_us\": %.2f, \"own_pause_cpu_p999_us\": %.2f, "
           "\"own_pause_cpu_max_us\": %.2f, \"peak_rss_mib\": %.1f, "
           "\"runqueue_wait_fraction\": %.4f, \"trace\": \"%s\"}\n",
           gc ? "" : "-nogc", o->live, o->threads, wr.wall_ns / 1e9,
           (unsigned long long)requests,
           requests / (wr.wall_ns / 1e9),
           requests ? cpu / 1e3 / (double)requests : 0.0, build_ns / 1e9,
           idle_collect_ns / 1e6, (long long)idle_found,
           (unsigned long long)(g1.collections - g0.collections),
           (unsigned long long)(g1.collected - g0.collected),
           (unsigned long long)(g1.candidates - g0.candidates),
           (unsigned long long)(g1.examined - g0.examined),
           (unsigned long long)(g1.deferred - g0.deferred),
           (unsigned long long)(g1.full_collections - g0.full_collections),
           (phases_ns(&g1) - phases_ns(&g0)) / 1e9,
           (g1.total_collection_cpu_ns - g0.total_collection_cpu_ns) / 1e9,
           (unsigned long long)(g1.paced - g0.paced),
           phase_s(&g0, &g1, OURO_GC_PHASE_CANDIDATES),
           phase_s(&g0, &g1, OURO_GC_PHASE_TRIAL),
           phase_s(&g0, &g1, OURO_GC_PHASE_VALIDATE),
           phase_s(&g0, &g1, OURO_GC_PHASE_FINALIZE),
           phase_s(&g0, &g1, OURO_GC_PHASE_FREE),
           (unsigned long long)st0.live_objects,
           (unsigned long long)st1.live_objects,
           (unsigned long long)pw.count, pw.p50_ns / 1e3, pw.p99_ns / 1e3,
           pw.p999_ns / 1e3, pw.max_ns / 1e3, pc.p50_ns / 1e3,
           pc.p99_ns / 1e3, pc.p999_ns / 1e3, pc.max_ns / 1e3,
           peak_rss_mib(),
           wr.runq_ns < 0 ? -1.0 : (double)wr.runq_ns / (double)wr.span_ns,
           o->trace);
    /* The heap is left to the process's exit: tearing down millions of
     * objects would only add minutes to the run. */
    (void)root;
    return 0;
}
