/*
 * boehm_cycles.c - workload 3 for Boehm: K nodes in cycles of one length,
 * built with collection disabled, dropped, then one GC_gcollect();
 * --collections C repeats that in one process (collections.h says which
 * one is reported).  The collector traces from the roots and sweeps, so
 * cycles cost it nothing special.  Checked for every collection, from the
 * heap statistics: the bytes in use fell by at least 90% of the K nodes'
 * bytes (a conservative collector may keep a few cycles alive through
 * stale stack words).  The figure is the call's wall time per freed node.
 */
#include <stdio.h>
#include <string.h>

#include "boehm_peer.h"
#include "clock.h"
#include "collections.h"
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

typedef struct one_collection {
    uint64_t build_ns, collect_ns;
    size_t used_built, used_after;
    double freed;
} one_collection;

/* One collection (collections.h): its record in *rec. */
static uint64_t build_and_collect(void *rec, long ncycles, long len, int *ok)
{
    one_collection r = {0};
    long k = ncycles * len;
    GC_disable();
    uint64_t t0 = wall_ns();
    build_cycles(ncycles, len);
    r.build_ns = wall_ns() - t0;
    GC_enable();
    scrub_stack();
    r.used_built = boehm_used_bytes();
    t0 = wall_ns();
    GC_gcollect();
    r.collect_ns = wall_ns() - t0;
    r.used_after = boehm_used_bytes();
    r.freed = ((double)r.used_built - (double)r.used_after) /
              (double)boehm_node_bytes();
    *(one_collection *)rec = r;
    *ok &= r.freed >= 0.9 * (double)k;
    return r.collect_ns;
}

int boehm_cycles(const peer_options *o)
{
    long k = o->objects / o->cycle * o->cycle;
    GC_gcollect();   /* start from a collected heap */
    size_t used0 = boehm_used_bytes();
    uint64_t ns[PEER_MAX_COLLECTIONS];
    int n, ok;
    one_collection runs[PEER_MAX_COLLECTIONS];
    const one_collection *s = &runs[run_collections(
        o, runs, sizeof runs[0], build_and_collect, ns, &n, &ok)];
    printf("{\"workload\": \"cycles\", \"system\": \"boehm\", \"cycle\": %ld, "
           "\"objects\": %ld, \"collections\": %d, \"freed\": %.0f, "
           "\"collect_ms\": %.3f, \"ns_per_object\": %.2f, "
           "\"first_collect_ms\": %.3f, \"first_ns_per_object\": %.2f, "
           "\"build_ms\": %.1f, \"used_mib_before\": %.1f, "
           "\"used_mib_built\": %.1f, \"used_mib_after\": %.1f, "
           "\"node_bytes\": %zu, \"markers\": %d, \"verified\": %s, "
           "\"peak_rss_mib\": %.1f, \"collect_ms_each\": [",
           o->cycle, k, n, s->freed, s->collect_ns / 1e6,
           s->freed > 0 ? (double)s->collect_ns / s->freed : 0.0,
           runs[0].collect_ns / 1e6,
           runs[0].freed > 0 ? (double)runs[0].collect_ns / runs[0].freed
                             : 0.0,
           s->build_ns / 1e6, used0 / 1048576.0, s->used_built / 1048576.0,
           s->used_after / 1048576.0, boehm_node_bytes(), boehm_markers(),
           ok ? "true" : "false", peak_rss_mib());
    for (int i = 0; i < n; i++)
        printf("%s%.3f", i ? ", " : "", ns[i] / 1e6);
    printf("]}\n");
    return ok ? 0 : 1;
}
