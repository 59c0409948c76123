/*
 * table.c - the collector's side table (see table.h).
 */
#include "table.h"

#include <string.h>

static size_t hash_ptr(const ouro_object *o, size_t cap)
{
    uint64_t h = (uint64_t)(uintptr_t)o * 0x9e3779b97f4a7c15ull;
    return (size_t)(h >> 17) & (cap - 1);
}

void gc_table_init(gc_table *t)
{
    memset(t, 0, sizeof *t);
    t->numbered = OURO__GC_NODE_MAX - 1;
}

void gc_table_free(gc_table *t)
{
    ouro__mem_free(t->nodes);
    ouro__mem_free(t->objs);
    ouro__mem_free(t->index);
    ouro__mem_free(t->edges);
    ouro__mem_free(t->tdst);
    gc_table_init(t);
}

void gc_table_reset(gc_table *t, size_t expect)
{
    /* The smallest runs that number `expect` nodes: one pointer each up
     * to about half a million nodes, 32 (four cache lines) at 16 million. */
    t->shift = 0;
    while (((size_t)(OURO__GC_NODE_MAX - 1) << t->shift) < expect &&
           t->shift < 16)
        t->shift++;
    t->numbered = (size_t)(OURO__GC_NODE_MAX - 1) << t->shift;
    t->n = 0;
    t->nedges = 0;
    t->ntdst = 0;
    if (t->icap)
        memset(t->index, 0, t->icap * sizeof *t->index);
}

void gc_table_trim(gc_table *t)
{
    if (t->n * 4 < t->cap)
        gc_table_free(t);
}

int64_t gc_table_find(const gc_table *t, const ouro_object *obj)
{
    if (!t->icap)
        return -1;
    for (size_t i = hash_ptr(obj, t->icap);; i = (i + 1) & (t->icap - 1)) {
        uint32_t k = t->index[i];
        if (!k)
            return -1;
        if (t->objs[k - 1] == obj)
            return (int64_t)k - 1;
    }
}

static bool grow_index(gc_table *t)
{
    size_t icap = t->icap ? t->icap * 2 : 1024;
    uint32_t *index = ouro__mem_calloc(icap * sizeof *index);
    if (!index)
        return false;
    /* Only nodes past the header-numbered ones are hashed. */
    for (size_t n = t->numbered; n < t->n; n++) {
        size_t i = hash_ptr(t->objs[n], icap);
        while (index[i])
            i = (i + 1) & (icap - 1);
        index[i] = (uint32_t)n + 1;
    }
    ouro__mem_free(t->index);
    t->index = index;
    t->icap = icap;
    return true;
}

bool gc_grow_array(void **arr, size_t *cap, size_t elem, size_t need,
                   size_t used, size_t first)
{
    if (need <= *cap)
        return true;
    size_t c = *cap ? *cap * 2 : first;
    while (c < need)
        c *= 2;
    void *p = ouro__mem_alloc(c * elem);
    if (!p)
        return false;
    if (used)
        memcpy(p, *arr, used * elem);
    ouro__mem_free(*arr);
    *arr = p;
    *cap = c;
    return true;
}

static bool grow(void **arr, size_t *cap, size_t elem, size_t need,
                 size_t used)
{
    return gc_grow_array(arr, cap, elem, need, used, 1024);
}

/* Both node arrays at `need` or more. */
static bool grow_nodes(gc_table *t, size_t need)
{
    size_t cap = t->cap;
    if (!grow((void **)&t->nodes, &cap, sizeof *t->nodes, need, t->n))
        return false;
    if (!grow((void **)&t->objs, &t->cap, sizeof *t->objs, need, t->n)) {
        /* nodes grew, objs did not: cap stays at the smaller one */
        return false;
    }
    return true;
}

int64_t gc_table_add_slow(gc_table *t, ouro_object *obj)
{
    bool hashed = t->n >= t->numbered;
    if (hashed && (t->n + 1) * 2 > t->icap && !grow_index(t))
        return -1;
    if (!grow_nodes(t, t->n + 1))
        return -1;
    gc_node *node = &t->nodes[t->n];
    memset(node, 0, sizeof *node);
    node->color = GC_GRAY;
    t->objs[t->n] = obj;
    if (hashed) {
        size_t i = hash_ptr(obj, t->icap);
        while (t->index[i])
            i = (i + 1) & (t->icap - 1);
        t->index[i] = (uint32_t)t->n + 1;
    }
    return (int64_t)t->n++;
}

bool gc_table_reserve(gc_table *t, size_t nodes)
{
    /* About as many references as nodes, in the common shapes. */
    grow((void **)&t->tdst, &t->tdst_cap, sizeof *t->tdst, nodes, t->ntdst);
    return grow_nodes(t, nodes);
}

bool gc_table_reserve_edges(gc_table *t, size_t edges)
{
    return grow((void **)&t->edges, &t->edges_cap, sizeof *t->edges, edges,
                t->nedges);
}

bool gc_table_add_edge_slow(gc_table *t, uint32_t src, uint32_t dst)
{
    if (!grow((void **)&t->edges, &t->edges_cap, sizeof *t->edges,
              t->nedges + 1, t->nedges))
        return false;
    t->edges[t->nedges++] = (gc_edge){src, dst};
    return true;
}

bool gc_table_add_tdst_slow(gc_table *t, uint32_t dst)
{
    if (!grow((void **)&t->tdst, &t->tdst_cap, sizeof *t->tdst, t->ntdst + 1,
              t->ntdst))
        return false;
    t->tdst[t->ntdst++] = dst;
    return true;
}
