/*
 * heapgraph.c - see heapgraph.h.
 */
#include "heapgraph.h"

#include "refcount.h"

#include <stdlib.h>
#include <string.h>

static int cmp_ptr(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t) * (ouro_object *const *)a;
    uintptr_t y = (uintptr_t) * (ouro_object *const *)b;
    return x < y ? -1 : x > y;
}

int64_t heapgraph_find(const heapgraph *g, const ouro_object *o)
{
    ouro_object *const *p = bsearch(&o, g->obj, g->n, sizeof *g->obj, cmp_ptr);
    return p ? p - g->obj : -1;
}

typedef struct edge_pass {
    heapgraph *g;
    uint32_t src;
    size_t *count;     /* per node: pass 1 counts */
    uint32_t *dst;     /* pass 2 fills, NULL in pass 1 */
    size_t *fill;
    size_t budget;     /* pass 2: edges pass 1 counted from src */
} edge_pass;

static void visit_edge(ouro_object *child, void *arg)
{
    edge_pass *p = arg;
    int64_t j = heapgraph_find(p->g, child);
    if (j < 0)
        return;
    if (!p->dst) {
        p->count[p->src]++;
    } else if (p->budget) {
        /* A container that grew between the passes: its new edges are
         * beyond what was counted and are left out. */
        p->dst[p->fill[p->src]++] = (uint32_t)j;
        p->budget--;
    }
}

int64_t heapgraph_refcnt(const heapgraph *g, size_t i)
{
    ouro_object *o = g->obj[i];
    int64_t rc = ouro__raw_refcnt(o);
    if (rc == OURO_IMMORTAL_REFCNT)
        return rc;
    if (atomic_load_explicit(&o->ob_gc, memory_order_relaxed) & OURO__GC_HELD)
        rc -= 1;   /* the collector's hold is nobody's reference */
    return rc - g->held[i] - g->pending[i];
}

/* The caller's decrements recorded but not applied: ouro_refcnt subtracts
 * them per object with a scan of the buffers (decref_buffer.c); here one
 * pass serves the whole graph.  Raw memory entries (odd) match no node. */
static void count_pending(heapgraph *g)
{
    ouro_thread *t = ouro__self;
    for (ouro_object **p = t->cur->entries; p < ouro__tls.dec_pos; p++) {
        int64_t j = heapgraph_find(g, *p);
        if (j >= 0)
            g->pending[j]++;
    }
    for (const ouro_batch *b = t->pending_head; b; b = b->next) {
        for (uint32_t i = b->pos; i < b->len; i++) {
            int64_t j = heapgraph_find(g, b->entries[i]);
            if (j >= 0)
                g->pending[j]++;
        }
    }
}

void heapgraph_free(heapgraph *g)
{
    for (size_t i = 0; i < g->n; i++)
        for (uint32_t k = g->held ? g->held[i] : 1; k; k--)
            ouro_decref(g->obj[i]);
    ouro__mem_free(g->held);
    ouro__mem_free(g->pending);
    ouro__mem_free(g->obj);
    ouro__mem_free(g->outside);
    ouro__mem_free(g->out_start);
    ouro__mem_free(g->out_dst);
    ouro__mem_free(g->in_start);
    ouro__mem_free(g->in_src);
    memset(g, 0, sizeof *g);
}

int heapgraph_build(heapgraph *g, ouro_object **objs, size_t n)
{
    memset(g, 0, sizeof *g);
    qsort(objs, n, sizeof *objs, cmp_ptr);
    uint32_t *held = ouro__mem_calloc((n + 1) * sizeof *held);
    if (!held) {
        for (size_t i = 0; i < n; i++)
            ouro_decref(objs[i]);
        ouro__mem_free(objs);
        return OURO_ENOMEM;
    }
    /* Merge duplicates; the graph holds all their references. */
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (!k || objs[k - 1] != objs[i])
            objs[k++] = objs[i];
        held[k - 1]++;
    }
    g->obj = objs;
    g->n = k;
    g->held = held;
    size_t slots = k + 1;
    g->outside = ouro__mem_calloc(slots * sizeof *g->outside);
    g->out_start = ouro__mem_calloc(slots * sizeof *g->out_start);
    g->in_start = ouro__mem_calloc(slots * sizeof *g->in_start);
    g->pending = ouro__mem_calloc(slots * sizeof *g->pending);
    size_t *fill = ouro__mem_calloc(slots * sizeof *fill);
    if (!g->outside || !g->out_start || !g->in_start || !g->pending || !fill)
        goto oom;
    count_pending(g);

    /* Pass 1: count the edges from each node. */
    edge_pass p = {.g = g, .count = g->out_start + 1};
    for (size_t i = 0; i < k; i++) {
        p.src = (uint32_t)i;
        if (objs[i]->ob_type->traverse)
            objs[i]->ob_type->traverse(objs[i], visit_edge, &p);
    }
    for (size_t i = 0; i < k; i++)
        g->out_start[i + 1] += g->out_start[i];
    g->nedges = g->out_start[k];
    g->out_dst = ouro__mem_alloc((g->nedges + 1) * sizeof *g->out_dst);
    g->in_src = ouro__mem_alloc((g->nedges + 1) * sizeof *g->in_src);
    if (!g->out_dst || !g->in_src)
        goto oom;
    /* Pass 2: fill them (a container that shrank leaves its slots unused:
     * trimmed below). */
    memcpy(fill, g->out_start, k * sizeof *fill);
    p.dst = g->out_dst;
    p.fill = fill;
    for (size_t i = 0; i < k; i++) {
        p.src = (uint32_t)i;
        p.budget = g->out_start[i + 1] - g->out_start[i];
        if (objs[i]->ob_type->traverse)
            objs[i]->ob_type->traverse(objs[i], visit_edge, &p);
    }
    size_t e = 0;
    for (size_t i = 0; i < k; i++) {
        size_t from = g->out_start[i], to = fill[i];
        g->out_start[i] = e;
        for (size_t x = from; x < to; x++)
            g->out_dst[e++] = g->out_dst[x];
    }
    g->out_start[k] = e;
    g->nedges = e;

    /* Reverse edges and the outside counts. */
    for (size_t x = 0; x < e; x++)
        g->in_start[g->out_dst[x] + 1]++;
    for (size_t i = 0; i < k; i++)
        g->in_start[i + 1] += g->in_start[i];
    memcpy(fill, g->in_start, k * sizeof *fill);
    for (size_t i = 0; i < k; i++)
        for (size_t x = g->out_start[i]; x < g->out_start[i + 1]; x++)
            g->in_src[fill[g->out_dst[x]]++] = (uint32_t)i;
    for (size_t i = 0; i < k; i++) {
        int64_t rc = heapgraph_refcnt(g, i);
        if (rc == OURO_IMMORTAL_REFCNT) {
            g->outside[i] = OURO__OUTSIDE_IMMORTAL;
            continue;
        }
        int64_t internal = (int64_t)(g->in_start[i + 1] - g->in_start[i]);
        g->outside[i] = rc - internal;
    }
    ouro__mem_free(fill);
    return OURO_OK;

oom:
    ouro__mem_free(fill);
    heapgraph_free(g);
    return OURO_ENOMEM;
}
