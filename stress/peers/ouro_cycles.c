/*
 * ouro_cycles.c - workload 3 for ouro: K nodes in cycles of one length,
 * dropped, then one ouro_gc_collect().  Automatic collection is off, so
 * nothing is collected before the timed call.  The figure is the call's
 * wall time per freed object; the collector's own CPU time is reported
 * beside it, with the time of each of its phases.  Checked: the call's
 * return value and the collector's count of freed objects both equal K.
 */
#include <ouro.h>

#include <stdio.h>
#include <stdlib.h>

#include "clock.h"
#include "memory.h"
#include "ouro_peer.h"

int ouro_cycles(const peer_options *o)
{
    ouro_config cfg = {.gc_disabled = 1};
    if (ouro_init(&cfg) != OURO_OK || ouro_thread_attach() != OURO_OK)
        return 1;
    peer_nodes_init();
    long ncycles = o->objects / o->cycle, k = ncycles * o->cycle;
    uint64_t t0 = wall_ns();
    for (long c = 0; c < ncycles; c++) {
        ouro_decref(peer_ring(o->cycle));   /* garbage at once */
        if (c % 64 == 0)
            ouro_safepoint();
    }
    ouro_flush();   /* every drop applied: each node is now a candidate */
    uint64_t build_ns = wall_ns() - t0;

    ouro_gc_stats before, after;
    ouro_gc_get_stats(&before);
    t0 = wall_ns();
    int64_t found = ouro_gc_collect();
    uint64_t collect_ns = wall_ns() - t0;
    ouro_gc_get_stats(&after);
    uint64_t freed = after.collected - before.collected;
    ouro_stats st;
    ouro_get_stats(&st);
    int ok = found == k && freed == (uint64_t)k && st.live_objects == 0;
    printf("{\"workload\": \"cycles\", \"system\": \"ouro\", \"cycle\": %ld, "
           "\"objects\": %ld, \"found\": %lld, \"freed\": %llu, "
           "\"collect_ms\": %.3f, \"ns_per_object\": %.2f, "
           "\"collector_cpu_ns_per_object\": %.2f, \"build_ms\": %.1f, "
           "\"verified\": %s, \"peak_rss_mib\": %.1f, "
           "\"phase_ms\": {\"candidates\": %.1f, \"trial\": %.1f, "
           "\"validate\": %.1f, \"finalize\": %.1f, \"free\": %.1f}}\n",
           o->cycle, k, (long long)found, (unsigned long long)freed,
           collect_ns / 1e6, k ? (double)collect_ns / (double)k : 0.0,
           k ? (double)after.last_collection_cpu_ns / (double)k : 0.0,
           build_ns / 1e6, ok ? "true" : "false", peak_rss_mib(),
           after.last_phase_ns[OURO_GC_PHASE_CANDIDATES] / 1e6,
           after.last_phase_ns[OURO_GC_PHASE_TRIAL] / 1e6,
           after.last_phase_ns[OURO_GC_PHASE_VALIDATE] / 1e6,
           after.last_phase_ns[OURO_GC_PHASE_FINALIZE] / 1e6,
           after.last_phase_ns[OURO_GC_PHASE_FREE] / 1e6);
    ouro_shutdown();
    return ok ? 0 : 1;
}
