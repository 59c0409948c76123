/*
 * heapgraph.h - a snapshot of a set of objects as a graph, for the dumps
 * and "why is this alive?" (heapgraph.c).
 *
 * For each object: a counted reference (so it stays valid), its edges to
 * the other objects of the set, and `outside`: its count minus the
 * references from the set's objects, the subtraction trial deletion does.
 * Counts and edges are read object by object while other threads run, so
 * the graph is exact only for the part of the heap nobody changes meanwhile
 * (docs/leak-hunting.md).
 */
#ifndef OURO_GC_HEAPGRAPH_H
#define OURO_GC_HEAPGRAPH_H

#include "thread.h"

#define OURO__OUTSIDE_IMMORTAL INT64_MAX

typedef struct heapgraph {
    ouro_object **obj;       /* sorted by address; each holds a reference */
    size_t n;
    int64_t *outside;        /* references from outside the set */
    uint32_t *held;          /* references the graph holds to each */
    uint32_t *pending;       /* the caller's unapplied decrements of each */
    size_t *out_start;       /* edges from i: dst[out_start[i]..out_start[i+1]) */
    uint32_t *out_dst;
    size_t *in_start;        /* edges into i: src[in_start[i]..in_start[i+1]) */
    uint32_t *in_src;
    size_t nedges;
} heapgraph;

/* Build the graph of objs[0..n) (an array from ouro__mem_alloc), taking
 * over it and the references it holds: released by heapgraph_free, or at
 * once on failure.  Duplicates are merged (the graph keeps holding their
 * references until it is freed).  Counts are as ouro_refcnt gives them:
 * less the caller's unapplied decrements (found in one pass over its
 * buffers, not one per object); other threads' unapplied decrements count
 * as references.  OURO_ENOMEM on failure. */
int heapgraph_build(heapgraph *g, ouro_object **objs, size_t n);
void heapgraph_free(heapgraph *g);
/* Count of node i as ouro_refcnt gives it, less the graph's references;
 * OURO_IMMORTAL_REFCNT for immortals. */
int64_t heapgraph_refcnt(const heapgraph *g, size_t i);
/* Index of o in the graph, or -1. */
int64_t heapgraph_find(const heapgraph *g, const ouro_object *o);

#endif /* OURO_GC_HEAPGRAPH_H */
