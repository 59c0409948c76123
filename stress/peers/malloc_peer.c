/*
 * malloc_peer.c - workload 2 for plain malloc/free (glibc): each thread
 * allocates nodes and frees each one again CHURN_RING allocations later,
 * exactly when ouro's churn drops it.
 *
 *   malloc_peer --workload churn --threads T --objects N
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memory.h"
#include "options.h"
#include "shape.h"
#include "workers.h"

struct node {
    struct node *a, *b;
};

static void churn_body(worker *w)
{
    const long *objects = w->arg;
    struct node *ring[CHURN_RING] = {0};
    worker_start(w);
    for (long i = 0; i < *objects; i++) {
        struct node *n = malloc(sizeof *n);
        if (!n)
            abort();
        n->a = n->b = NULL;   /* as the collectors' allocators zero it */
        struct node **slot = &ring[i % CHURN_RING];
        free(*slot);
        *slot = n;
    }
    for (int k = 0; k < CHURN_RING; k++)
        free(ring[k]);
    worker_stop(w);
}

int main(int argc, char **argv)
{
    peer_options o;
    if (options_parse(&o, argc, argv) != 0)
        return 2;
    if (strcmp(o.workload, "churn")) {
        fprintf(stderr, "%s: only --workload churn\n", argv[0]);
        return 2;
    }
    long objects = o.objects;
    workers_result r;
    if (workers_run(o.threads, churn_body, &objects, &r) != 0)
        return 1;
    printf("{\"workload\": \"churn\", \"system\": \"malloc\", "
           "\"threads\": %d, \"objects_per_thread\": %ld, "
           "\"ns_per_object\": %.3f, \"cpu_ns_per_object\": %.3f, "
           "\"object_bytes\": %zu, \"all_freed\": true, "
           "\"peak_rss_mib\": %.1f}\n",
           o.threads, objects, (double)r.wall_ns / (double)objects,
           (double)r.cpu_ns / o.threads / (double)objects,
           sizeof(struct node), peak_rss_mib());
    return 0;
}
