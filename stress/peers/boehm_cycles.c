/*
 * boehm_cycles.c - workload 3 for Boehm: K nodes in cycles of one length,
 * built with collection disabled, dropped, then one GC_gcollect().  The
 * collector traces from the roots and sweeps, so cycles cost it nothing
 * special.  Checked from the heap statistics: the bytes in use fell by at
 * least 90% of the K nodes' bytes (a conservative collector may keep a few
 * cycles alive through stale stack words).  The figure is the call's wall
 * time per freed node.
 */
#include <stdio.h>
#include <string.h>

#include "boehm_peer.h"
#include "clock.h"
#include "memory.h"

static __attribute__((noinline)) void build_cycles(long ncycles, long len)
{
    for (long c = 0; c < ncycles; c++) {
        struct node *first = boehm_node_new(), *prev = first;
        for (long i = 1; i < len; i++) {
            struct node *n = boehm_node_new();
            prev->a = n;
            prev = n;
        }
        prev->a = first;
    }
}

/* Overwrite the stack the builder used, so stale words there do not keep
 * cycles alive. */
static __attribute__((noinline)) void scrub_stack(void)
{
    volatile char junk[16384];
    memset((char *)junk, 0, sizeof junk);
}

int boehm_cycles(const peer_options *o)
{
    long ncycles = o->objects / o->cycle, k = ncycles * o->cycle;
    GC_gcollect();   /* start from a collected heap */
    size_t used0 = boehm_used_bytes();
    GC_disable();
    uint64_t t0 = wall_ns();
    build_cycles(ncycles, o->cycle);
    uint64_t build_ns = wall_ns() - t0;
    GC_enable();
    scrub_stack();
    size_t used1 = boehm_used_bytes();
    t0 = wall_ns();
    GC_gcollect();
    uint64_t collect_ns = wall_ns() - t0;
    size_t used2 = boehm_used_bytes();
    double freed_bytes = (double)used1 - (double)used2;
    double freed = freed_bytes / (double)boehm_node_bytes();
    int ok = freed >= 0.9 * (double)k;
    printf("{\"workload\": \"cycles\", \"system\": \"boehm\", \"cycle\": %ld, "
           "\"objects\": %ld, \"freed\": %.0f, \"collect_ms\": %.3f, "
           "\"ns_per_object\": %.2f, \"build_ms\": %.1f, "
           "\"used_mib_before\": %.1f, \"used_mib_built\": %.1f, "
           "\"used_mib_after\": %.1f, \"node_bytes\": %zu, \"markers\": %d, \"verified\": %s, "
           "\"peak_rss_mib\": %.1f}\n",
           o->cycle, k, freed, collect_ns / 1e6,
           freed > 0 ? (double)collect_ns / freed : 0.0, build_ns / 1e6,
           used0 / 1048576.0, used1 / 1048576.0, used2 / 1048576.0,
           boehm_node_bytes(), boehm_markers(), ok ? "true" : "false", peak_rss_mib());
    return ok ? 0 : 1;
}
