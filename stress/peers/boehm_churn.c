/*
 * boehm_churn.c - workload 2 for Boehm: each thread allocates nodes with
 * GC_MALLOC, keeping the last CHURN_RING reachable; older ones become
 * garbage and the collector reclaims them as it sees fit.  The figure
 * includes the collections that happen while the threads run.  Checked:
 * collections did run, and the heap stayed far smaller than everything
 * allocated.
 */
#include <stdio.h>

#include "boehm_peer.h"
#include "clock.h"
#include "memory.h"
#include "shape.h"
#include "workers.h"

static void churn_body(worker *w)
{
    const long *objects = w->arg;
    struct node *ring[CHURN_RING] = {0};
    boehm_thread_begin();
    worker_start(w);
    for (long i = 0; i < *objects; i++)
        ring[i % CHURN_RING] = boehm_node_new();
    worker_stop(w);
    /* The ring must stay live up to here; a volatile read keeps it. */
    struct node *volatile keep = ring[0];
    (void)keep;
    boehm_thread_end();
}

int boehm_churn(const peer_options *o)
{
    long objects = o->objects;
    GC_word gc0 = GC_get_gc_no();
    workers_result r;
    if (workers_run(o->threads, churn_body, &objects, &r) != 0)
        return 1;
    GC_word collections = GC_get_gc_no() - gc0;
    size_t heap = GC_get_heap_size();
    double allocated = (double)objects * o->threads * boehm_node_bytes();
    int ok = collections > 0 && (double)heap < allocated / 2;
    printf("{\"workload\": \"churn\", \"system\": \"boehm\", "
           "\"threads\": %d, \"objects_per_thread\": %ld, "
           "\"ns_per_object\": %.3f, \"cpu_ns_per_object\": %.3f, "
           "\"object_bytes\": %zu, \"collections\": %lu, "
           "\"heap_mib\": %.1f, \"markers\": %d, \"all_freed\": %s, "
           "\"peak_rss_mib\": %.1f}\n",
           o->threads, objects, (double)r.wall_ns / (double)objects,
           (double)r.cpu_ns / o->threads / (double)objects,
           boehm_node_bytes(), (unsigned long)collections,
           heap / 1048576.0, boehm_markers(), ok ? "true" : "false",
           peak_rss_mib());
    return ok ? 0 : 1;
}
