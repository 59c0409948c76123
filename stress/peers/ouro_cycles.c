/*
 * ouro_cycles.c - workload 3 for ouro: K nodes in cycles of one length,
 * dropped, then one ouro_gc_collect(); --collections C repeats that in one
 * process (collections.h says which one is reported).  Automatic
 * collection is off, so nothing is collected before the timed call.  The
 * figure is the call's wall time per freed object; the collector's own
 * CPU time is reported beside it, with the time of each of its phases.
 * Checked for every collection: the call's return value and the
 * collector's count of freed objects both equal K, and nothing is left.
 */
#include <ouro.h>

#include <stdio.h>
#include <stdlib.h>

#include "clock.h"
#include "collections.h"
#include "memory.h"
#include "ouro_peer.h"

typedef struct one_collection {
    uint64_t build_ns, collect_ns, cpu_ns;
    int64_t found;
    uint64_t freed;
    uint64_t phase_ns[OURO_GC_PHASES];
} one_collection;

/* One collection (collections.h): its record in *rec. */
static uint64_t build_and_collect(void *rec, long ncycles, long len, int *ok)
{
    one_collection r = {0};
    long k = ncycles * len;
    uint64_t t0 = wall_ns();
    for (long c = 0; c < ncycles; c++) {
        ouro_decref(peer_ring(len));   /* garbage at once */
        if (c % 64 == 0)
            ouro_safepoint();
    }
    ouro_flush();   /* every drop applied: each node is now a candidate */
    r.build_ns = wall_ns() - t0;

    ouro_gc_stats before, after;
    ouro_gc_get_stats(&before);
    t0 = wall_ns();
    int64_t found = r.found = ouro_gc_collect();
    r.collect_ns = wall_ns() - t0;
    ouro_gc_get_stats(&after);
    uint64_t freed = r.freed = after.collected - before.collected;
    ouro_stats st;
    ouro_get_stats(&st);
    int good = found == k && freed == (uint64_t)k && st.live_objects == 0;
    if (!good)
        fprintf(stderr, "ouro cycles: found %lld, freed %llu of %ld; %llu "
                        "objects left\n", (long long)found,
                (unsigned long long)freed, k,
                (unsigned long long)st.live_objects);
    r.cpu_ns = after.last_collection_cpu_ns;
    for (int p = 0; p < OURO_GC_PHASES; p++)
        r.phase_ns[p] = after.last_phase_ns[p];
    *(one_collection *)rec = r;
    *ok &= good;
    return r.collect_ns;
}

int ouro_cycles(const peer_options *o)
{
    ouro_config cfg = {.gc_disabled = 1};
    if (ouro_init(&cfg) != OURO_OK || ouro_thread_attach() != OURO_OK)
        return 1;
    peer_nodes_init();
    long k = o->objects / o->cycle * o->cycle;
    uint64_t ns[PEER_MAX_COLLECTIONS];
    int n, ok;
    one_collection runs[PEER_MAX_COLLECTIONS];
    const one_collection *s = &runs[run_collections(
        o, runs, sizeof runs[0], build_and_collect, ns, &n, &ok)];
    printf("{\"workload\": \"cycles\", \"system\": \"ouro\", \"cycle\": %ld, "
           "\"objects\": %ld, \"collections\": %d, \"found\": %lld, "
           "\"freed\": %llu, \"collect_ms\": %.3f, \"ns_per_object\": %.2f, "
           "\"first_collect_ms\": %.3f, \"first_ns_per_object\": %.2f, "
           "\"collector_cpu_ns_per_object\": %.2f, \"build_ms\": %.1f, "
           "\"verified\": %s, \"peak_rss_mib\": %.1f, "
           "\"phase_ms\": {\"candidates\": %.1f, \"trial\": %.1f, "
           "\"validate\": %.1f, \"finalize\": %.1f, \"free\": %.1f}, "
           "\"collect_ms_each\": [",
           o->cycle, k, n, (long long)s->found,
           (unsigned long long)s->freed, s->collect_ns / 1e6,
           k ? (double)s->collect_ns / (double)k : 0.0,
           runs[0].collect_ns / 1e6,
           k ? (double)runs[0].collect_ns / (double)k : 0.0,
           k ? (double)s->cpu_ns / (double)k : 0.0, s->build_ns / 1e6,
           ok ? "true" : "false", peak_rss_mib(),
           s->phase_ns[OURO_GC_PHASE_CANDIDATES] / 1e6,
           s->phase_ns[OURO_GC_PHASE_TRIAL] / 1e6,
           s->phase_ns[OURO_GC_PHASE_VALIDATE] / 1e6,
           s->phase_ns[OURO_GC_PHASE_FINALIZE] / 1e6,
           s->phase_ns[OURO_GC_PHASE_FREE] / 1e6);
    for (int i = 0; i < n; i++)
        printf("%s%.3f", i ? ", " : "", ns[i] / 1e6);
    printf("]}\n");
    ouro_shutdown();
    return ok ? 0 : 1;
}
