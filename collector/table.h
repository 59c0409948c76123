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

typedef struct gc_node {
    ouro_object *obj;
    int64_t count;       /* applied count at trial deletion, less our hold */
    int64_t recount;     /* the same, read again after handshake W1 */
    uint32_t in_edges;   /* references from examined objects */
    uint8_t color;
    bool candidate;      /* taken from the set, or from the registry */
    bool was_white;      /* garbage after the first validation */
    bool finalizer;      /* its type has a finalizer */
} gc_node;

typedef struct gc_edge {
    uint32_t src, dst;
} gc_edge;

typedef struct gc_table {
    gc_node *nodes;
    size_t n, cap;
    uint32_t *index;     /* open addressing: node index + 1, 0 = empty */
    size_t icap;
    gc_edge *edges;      /* validation: edges between white nodes */
    size_t nedges, edges_cap;
} gc_table;

void gc_table_init(gc_table *t);
void gc_table_free(gc_table *t);
/* Empty, keeping the arrays (a table reused by the next collection). */
void gc_table_reset(gc_table *t);
/* After a collection: free the arrays if it used less than a quarter of
 * them, so that a table kept for the next one follows recent sizes. */
void gc_table_trim(gc_table *t);
/* Index of obj's node, or -1. */
int64_t gc_table_find(const gc_table *t, const ouro_object *obj);
/* Add a node for obj (not present); its index, or -1 when out of memory.
 * Nodes past OURO__GC_NODE_MAX - 1 also go into the hash index. */
int64_t gc_table_add(gc_table *t, ouro_object *obj);
bool gc_table_add_edge(gc_table *t, uint32_t src, uint32_t dst);
/* Room for `nodes` nodes without growing (a hint: false is harmless). */
bool gc_table_reserve(gc_table *t, size_t nodes);

/* Node index of obj: from its header if the collector numbered it there
 * (the first OURO__GC_NODE_MAX - 1 nodes), else from the hash index; -1 if
 * absent. */
static inline int64_t gc_table_lookup(const gc_table *t, const ouro_object *obj)
{
    uint32_t k = atomic_load_explicit(&((ouro_object *)obj)->ob_gc,
                                      memory_order_relaxed) >>
                 OURO__GC_NODE_SHIFT;
    if (k && k <= t->n && t->nodes[k - 1].obj == obj)
        return (int64_t)k - 1;
    return t->n >= OURO__GC_NODE_MAX ? gc_table_find(t, obj) : -1;
}


#endif /* OURO_GC_TABLE_H */
