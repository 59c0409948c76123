/*
 * boehm_peer.c - starting the Boehm collector in each variant, thread
 * registration, and the dispatch to workloads 2-4.  By hand:
 *
 *   boehm_peer --workload churn  --threads T --objects N
 *   boehm_peer --workload cycles --objects K --cycle LEN
 *   boehm_peer --workload server --variant default|incremental|serial
 *              --threads T --live L --seconds S --trace PATH
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "boehm_peer.h"

int boehm_start(const char *variant)
{
    if (!strcmp(variant, "serial"))
        GC_set_markers_count(1);
    else if (!strcmp(variant, "incremental"))
        GC_enable_incremental();
    else if (strcmp(variant, "default"))
        return -1;
    GC_INIT();
    /* Lets plain pthreads register themselves; also starts the parallel
     * marker threads when the library uses them. */
    GC_allow_register_threads();
    return 0;
}

int boehm_markers(void)
{
    return GC_get_parallel() + 1;
}

int boehm_incremental(void)
{
    return GC_is_incremental_mode();
}

const char *boehm_version(char *buf, size_t size)
{
    unsigned v = GC_get_version();   /* major << 16 | minor << 8 | micro */
    snprintf(buf, size, "%u.%u.%u", v >> 16, (v >> 8) & 0xff, v & 0xff);
    return buf;
}

void boehm_thread_begin(void)
{
    struct GC_stack_base sb;
    if (GC_get_stack_base(&sb) != GC_SUCCESS)
        abort();
    GC_register_my_thread(&sb);
}

void boehm_thread_end(void)
{
    GC_unregister_my_thread();
}

size_t boehm_node_bytes(void)
{
    return GC_size(boehm_node_new());
}

size_t boehm_used_bytes(void)
{
    GC_word heap = 0, free_bytes = 0;
    GC_get_heap_usage_safe(&heap, &free_bytes, NULL, NULL, NULL);
    return (size_t)(heap - free_bytes);
}

int main(int argc, char **argv)
{
    peer_options o;
    if (options_parse(&o, argc, argv) != 0)
        return 2;
    if (boehm_start(o.variant) != 0) {
        fprintf(stderr, "%s: variants: default, incremental, serial\n",
                argv[0]);
        return 2;
    }
    if (!strcmp(o.workload, "churn"))
        return boehm_churn(&o);
    if (!strcmp(o.workload, "cycles"))
        return boehm_cycles(&o);
    if (!strcmp(o.workload, "server"))
        return boehm_server(&o);
    fprintf(stderr, "%s: no workload %s\n", argv[0], o.workload);
    return 2;
}
