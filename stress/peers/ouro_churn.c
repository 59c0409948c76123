/*
 * ouro_churn.c - workload 2 for ouro: each thread allocates small objects
 * and drops them again, keeping the last CHURN_RING alive (shape.h).
 *
 *   tracked    a record type with two slots (the collector tracks it)
 *   untracked  a type with two pointer-sized fields and no references
 *              (OURO_TYPE_GC not set: the collector never sees it)
 *
 * The figure includes everything: the deferred decrements, their grace
 * periods, the freeing at safepoints (one every SAFEPOINT_EVERY objects)
 * and the final ouro_flush().  Automatic collection is on, as a user gets
 * it; these objects die acyclic, so it has nothing to do.
 */
#include <ouro.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memory.h"
#include "ouro_peer.h"
#include "shape.h"
#include "workers.h"

struct untracked {
    ouro_object head;
    void *a, *b;
};

static ouro_type tracked_type;
static const ouro_type untracked_type = {
    .name = "Untracked",
    .size = sizeof(struct untracked),
    .flags = 0,
};

struct churn {
    const ouro_type *type;
    long objects;
};

static void churn_body(worker *w)
{
    const struct churn *c = w->arg;
    ouro_object *ring[CHURN_RING] = {0};
    if (ouro_thread_attach() != OURO_OK)
        abort();
    ouro_blocking_begin();
    worker_start(w);
    ouro_blocking_end();
    for (long i = 0; i < c->objects; i++) {
        ouro_object *o = ouro_new(c->type);
        if (!o)
            abort();
        ouro_object **slot = &ring[i % CHURN_RING];
        ouro_xdecref(*slot);
        *slot = o;
        if (i % SAFEPOINT_EVERY == 0)
            ouro_safepoint();
    }
    for (int k = 0; k < CHURN_RING; k++)
        ouro_xdecref(ring[k]);
    ouro_flush();
    worker_stop(w);
    ouro_thread_detach();
}

int ouro_churn(const peer_options *o)
{
    int tracked = !strcmp(o->variant, "tracked");
    if (!tracked && strcmp(o->variant, "untracked")) {
        fprintf(stderr, "ouro_peer: churn variants: tracked, untracked\n");
        return 2;
    }
    if (ouro_init(NULL) != OURO_OK)
        return 1;
    ouro_record_type_init(&tracked_type, "Node", 2, NULL);
    struct churn c = {.type = tracked ? &tracked_type : &untracked_type,
                      .objects = o->objects};
    workers_result r;
    if (workers_run(o->threads, churn_body, &c, &r) != 0)
        return 1;
    ouro_stats st;
    ouro_get_stats(&st);
    int ok = st.live_objects == 0 &&
             st.freed >= (uint64_t)o->objects * (uint64_t)o->threads;
    printf("{\"workload\": \"churn\", \"system\": \"ouro-%s\", "
           "\"threads\": %d, \"objects_per_thread\": %ld, "
           "\"ns_per_object\": %.3f, \"cpu_ns_per_object\": %.3f, "
           "\"object_bytes\": %zu, \"all_freed\": %s, "
           "\"peak_rss_mib\": %.1f}\n",
           o->variant, o->threads, o->objects,
           (double)r.wall_ns / (double)o->objects,
           (double)r.cpu_ns / o->threads / (double)o->objects,
           c.type->size, ok ? "true" : "false", peak_rss_mib());
    ouro_shutdown();
    return ok ? 0 : 1;
}
