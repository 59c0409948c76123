/*
 * table.h - the collector's side table: one node per object it examines,
 * found by address.  Scratch counts and colours live here, not in object
 * headers, so a collection costs memory proportional to the subgraph it
 * examines.
 */
#ifndef OURO_GC_TABLE_H
#define OURO_GC_TABLE_H

#include "internal.h"

enum { GC_WHITE, GC_GRAY, GC_BLACK, GC_DEAD /* a zombie, freed */ };

/* 16 bytes: the table is written and read by every pass, so its size is
 * memory traffic.  The object's address is in objs[] alone. */
typedef struct gc_node {
    int32_t count;       /* applied count at trial deletion, less our hold */
    int32_t recount;     /* the same, read again after handshake W1;
                          * until then, where its run in tdst starts */
    uint32_t in_edges;   /* references from examined objects */
    uint8_t color;
    bool candidate;      /* taken from the set, or from the registry */
    bool was_white;      /* garbage after the first validation */
    uint8_t finalizer : 1;   /* its type has a finalizer */
    uint8_t left : 1;        /* settle: out of the registry */
    uint8_t outside : 1;     /* validation: refers to something that is
                              * not a white node (the free releases it) */
} gc_node;

_Static_assert(sizeof(gc_node) == 16, "a node is 16 bytes");

/* A count a node records when it has none to compare: negative, so that
 * it equals no number of references, and the node is black.  (An object
 * with more than INT32_MAX references is therefore never collected: its
 * count could not be compared anyway, edge counts being 32-bit.) */
#define GC_COUNT_QUEUED (-1)    /* QUEUED: a merge queue holds a reference */
#define GC_COUNT_TOO_MANY (-2)  /* beyond int32_t */

/* `count` (less our hold) as a node records it. */
static inline int32_t gc_count_of(int64_t count)
{
    return count > INT32_MAX ? GC_COUNT_TOO_MANY : (int32_t)count;
}

typedef struct gc_edge {
    uint32_t src, dst;
} gc_edge;

typedef struct gc_table {
    gc_node *nodes;
    ouro_object **objs;  /* node i's object, packed: what lookups scan */
    size_t n, cap;
    /* Header numbers: number k (1, 2, ...) stands for the nodes
     * (k - 1) << shift up to k << shift, a run of 1 << shift pointers in
     * objs.  The shift is chosen at reset from the size of the heap, so
     * that all nodes are numbered; any past `numbered` (a heap that grew
     * during the collection) go into the hash index instead. */
    unsigned shift;
    size_t numbered;
    uint32_t *index;     /* open addressing: node index + 1, 0 = empty */
    size_t icap;
    gc_edge *edges;      /* validation: edges between white nodes, in
                          * table order of their sources */
    size_t nedges, edges_cap;
    /* Trial deletion: the targets of the references it counted, grouped by
     * source in table order (it reads the nodes in that order); node i's
     * run starts at its `recount` field, free until validation. */
    uint32_t *tdst;
    size_t ntdst, tdst_cap;
} gc_table;

/* Grow *arr (of *cap elements of `elem` bytes) to hold `need`, doubling
 * from `first`; the first `used` are copied (a kept table's arrays hold the
 * last collection's stale ones beyond).  False when out of memory (*arr
 * unchanged). */
bool gc_grow_array(void **arr, size_t *cap, size_t elem, size_t need,
                   size_t used, size_t first);

void gc_table_init(gc_table *t);
void gc_table_free(gc_table *t);
/* Empty, keeping the arrays (a table reused by the next collection), and
 * ready to number up to `expect` nodes in headers. */
void gc_table_reset(gc_table *t, size_t expect);
/* After a collection: free the arrays if it used less than a quarter of
 * them, so that a table kept for the next one follows recent sizes. */
void gc_table_trim(gc_table *t);
/* Index of obj's node, or -1. */
int64_t gc_table_find(const gc_table *t, const ouro_object *obj);
/* Add a node for obj (not present); its index, or -1 when out of memory.
 * Nodes past `numbered` also go into the hash index.  The common case, a
 * numbered node with room, inline; the rest in table.c. */
int64_t gc_table_add_slow(gc_table *t, ouro_object *obj);
static inline int64_t gc_table_add(gc_table *t, ouro_object *obj)
{
    if (OURO_UNLIKELY(t->n >= t->numbered || t->n >= t->cap))
        return gc_table_add_slow(t, obj);
    /* The lines a few adds on, for writing: a store that misses holds up
     * the collector's next atomic read-modify-write (it drains the store
     * buffer), and the next one is never far. */
    if (t->n + 16 < t->cap) {
        __builtin_prefetch(&t->nodes[t->n + 16], 1);
        __builtin_prefetch(&t->objs[t->n + 16], 1);
    }
    t->nodes[t->n] = (gc_node){.color = GC_GRAY};
    t->objs[t->n] = obj;
    return (int64_t)t->n++;
}
/* Node i's run of trial deletion's targets is [its `recount`, this): the
 * next node's start, or the end of tdst for the last node.  Valid until
 * validation overwrites the field (table order, so node i + 1's start is
 * still there while node i is read). */
static inline size_t gc_table_tdst_end(const gc_table *t, size_t i)
{
    return i + 1 < t->n ? (size_t)t->nodes[i + 1].recount : t->ntdst;
}
bool gc_table_add_edge_slow(gc_table *t, uint32_t src, uint32_t dst);
bool gc_table_add_tdst_slow(gc_table *t, uint32_t dst);
static inline bool gc_table_add_tdst(gc_table *t, uint32_t dst)
{
    if (OURO_UNLIKELY(t->ntdst >= t->tdst_cap))
        return gc_table_add_tdst_slow(t, dst);
    t->tdst[t->ntdst++] = dst;
    return true;
}
static inline bool gc_table_add_edge(gc_table *t, uint32_t src, uint32_t dst)
{
    if (OURO_UNLIKELY(t->nedges >= t->edges_cap))
        return gc_table_add_edge_slow(t, src, dst);
    t->edges[t->nedges++] = (gc_edge){src, dst};
    return true;
}
/* Room for `edges` edges without growing (a hint: false is harmless). */
bool gc_table_reserve_edges(gc_table *t, size_t edges);
/* Room for `nodes` nodes (and as many trial edges) without growing (a
 * hint: false is harmless). */
bool gc_table_reserve(gc_table *t, size_t nodes);

/* The number node `index` gets in its object's header (0: none, the node
 * is in the hash index). */
static inline uint32_t gc_table_number(const gc_table *t, size_t index)
{
    return index < t->numbered ? (uint32_t)(index >> t->shift) + 1 : 0;
}

/* Node index of obj: from the run of nodes its header number names (a
 * cache line or two of objs), else from the hash index; -1 if absent.  A
 * number left from a collection that let go of obj cannot mislead: the
 * run holds obj only if obj is a node. */
static inline int64_t gc_table_lookup(const gc_table *t, const ouro_object *obj)
{
    uint32_t k = atomic_load_explicit(&((ouro_object *)obj)->ob_gc,
                                      memory_order_relaxed) >>
                 OURO__GC_NODE_SHIFT;
    if (k) {
        size_t lo = (size_t)(k - 1) << t->shift;
        size_t hi = lo + ((size_t)1 << t->shift);
        if (hi > t->n)
            hi = t->n;
        for (size_t i = lo; i < hi; i++)
            if (t->objs[i] == obj)
                return (int64_t)i;
        return -1;
    }
    return t->n > t->numbered ? gc_table_find(t, obj) : -1;
}


#endif /* OURO_GC_TABLE_H */
