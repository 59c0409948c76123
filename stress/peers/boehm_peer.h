/*
 * boehm_peer.h - the Boehm-Demers-Weiser collector (Debian's libgc, 8.2)
 * in the peer benchmarks: workloads 2 (churn), 3 (cycles) and 4 (server).
 *
 * Threads are created by workers.c with plain pthread_create and register
 * themselves (boehm_thread_begin/end), so the collector scans their stacks.
 */
#ifndef PEERS_BOEHM_PEER_H
#define PEERS_BOEHM_PEER_H

#define GC_THREADS 1
#include <gc.h>

#include <stdlib.h>

#include "options.h"

/* Every object is a node with two pointer fields (shape.h). */
struct node {
    struct node *a, *b;
};

/* Start the collector in a variant:
 *   default      as the library comes: GC_INIT() and nothing else
 *   incremental  GC_enable_incremental() (incremental, generational)
 *   serial       GC_set_markers_count(1): no parallel marker threads
 * 0, or -1 for an unknown variant. */
int boehm_start(const char *variant);
/* Marker threads in use (1 = serial marking) and whether incremental. */
int boehm_markers(void);
int boehm_incremental(void);
/* The library's version, as "8.2.2" (into buf, which it returns). */
const char *boehm_version(char *buf, size_t size);

/* Register and unregister the calling (non-main) thread. */
void boehm_thread_begin(void);
void boehm_thread_end(void);

/* A new node, zeroed; aborts when out of memory. */
static inline struct node *boehm_node_new(void)
{
    struct node *n = GC_MALLOC(sizeof *n);
    if (!n)
        abort();
    return n;
}

/* Bytes the collector really gives a node (GC_MALLOC rounds the request
 * up, plus one byte when interior pointers are recognised, the default). */
size_t boehm_node_bytes(void);

/* Heap bytes in use (heap size less free bytes; free blocks that lazy
 * sweeping has not reached yet still count as used). */
size_t boehm_used_bytes(void);

int boehm_churn(const peer_options *o);
int boehm_cycles(const peer_options *o);
int boehm_server(const peer_options *o);

#endif /* PEERS_BOEHM_PEER_H */
