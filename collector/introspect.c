/*
 * introspect.c - what Python's gc module tells about objects:
 * get_objects, get_referrers, get_referents, is_tracked, is_finalized.
 *
 * Snapshot semantics (docs/leak-hunting.md): the registry is walked one
 * shard at a time, each under its side lock, so a result is a union of
 * per-shard snapshots: every object tracked for the whole call and not
 * dead is in it; an object created or killed during the call may or may
 * not be.  Each object returned was alive, and is held by the result.
 */
#include "argcheck.h"
#include "builtin.h"
#include "heap.h"
#include "refcount.h"

#include <stdlib.h>

/* A list holding the n objects (the references taken for the array are
 * released); NULL out of memory. */
static ouro_object *list_of(ouro_object **objs, size_t n)
{
    ouro_object *list = ouro_list_new(n);
    for (size_t i = 0; list && i < n; i++) {
        if (ouro_list_append(list, objs[i]) != OURO_OK) {
            ouro_decref(list);
            list = NULL;
        }
    }
    ouro__heap_release(objs, n);
    return list;
}

/* Tracked as ouro_gc_is_tracked says (an immortal is in the registry but
 * never examined: not listed), and of the type asked for, if any. */
static bool of_type(ouro_object *o, void *arg)
{
    return !ouro__is_immortal(o) &&
           (!arg || o->ob_type == (const ouro_type *)arg);
}

ouro_object *ouro_gc_get_objects(const ouro_type *type)
{
    ouro__reader("ouro_gc_get_objects");
    ouro_object **objs;
    size_t n;
    if (ouro__heap_snapshot(of_type, (void *)type, &objs, &n) != OURO_OK)
        return NULL;
    return list_of(objs, n);
}

/* ---- referents ---------------------------------------------------------- */

typedef struct collect {
    ouro_object **v;
    size_t n, cap;
    bool oom;
} collect;

static void add(collect *c, ouro_object *o)
{
    if (c->oom)
        return;
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 16;
        ouro_object **v = ouro__mem_alloc(cap * sizeof *v);
        if (!v) {
            c->oom = true;
            return;
        }
        if (c->n)
            __builtin_memcpy(v, c->v, c->n * sizeof *v);
        ouro__mem_free(c->v);
        c->v = v;
        c->cap = cap;
    }
    /* A borrowed pointer read by traverse: valid until our next quiescent
     * point, so the increment is safe. */
    ouro_incref(o);
    c->v[c->n++] = o;
}

static void visit_add(ouro_object *child, void *arg)
{
    add(arg, child);
}

/* objs[0..n) of a call that returns NULL only when out of memory: a NULL
 * array or element aborts, a dead element too (debug builds;
 * argcheck.h). */
static void check_objs(size_t n, ouro_object *const *objs, const char *api)
{
    if (OURO_UNLIKELY(n && !objs))
        ouro__fatal("%s: objs is NULL with n = %zu", api, n);
    for (size_t i = 0; i < n; i++) {
        if (OURO_UNLIKELY(!objs[i]))
            ouro__fatal("%s: objs[%zu] is NULL", api, i);
        ouro__check_alive(objs[i], api);
    }
}

ouro_object *ouro_gc_get_referents(size_t n, ouro_object *const *objs)
{
    ouro__reader("ouro_gc_get_referents");
    check_objs(n, objs, "ouro_gc_get_referents");
    collect c = {0};
    for (size_t i = 0; i < n; i++)
        if (objs[i]->ob_type->traverse)
            objs[i]->ob_type->traverse(objs[i], visit_add, &c);
    if (c.oom) {
        ouro__heap_release(c.v, c.n);
        return NULL;
    }
    return list_of(c.v, c.n);
}

/* ---- referrers ---------------------------------------------------------- */

static int cmp_ptr(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t) * (ouro_object *const *)a;
    uintptr_t y = (uintptr_t) * (ouro_object *const *)b;
    return x < y ? -1 : x > y;
}

typedef struct referrer_scan {
    ouro_object **targets;   /* sorted */
    size_t ntargets;
    bool hit;
} referrer_scan;

static void visit_hit(ouro_object *child, void *arg)
{
    referrer_scan *s = arg;
    if (!s->hit && bsearch(&child, s->targets, s->ntargets, sizeof child,
                           cmp_ptr))
        s->hit = true;
}

ouro_object *ouro_gc_get_referrers(size_t n, ouro_object *const *objs)
{
    ouro__reader("ouro_gc_get_referrers");
    check_objs(n, objs, "ouro_gc_get_referrers");
    ouro_object **targets = ouro__mem_alloc((n ? n : 1) * sizeof *targets);
    if (!targets)
        return NULL;
    if (n)
        __builtin_memcpy(targets, objs, n * sizeof *targets);
    qsort(targets, n, sizeof *targets, cmp_ptr);
    ouro_object **all;
    size_t nall;
    if (ouro__heap_snapshot(NULL, NULL, &all, &nall) != OURO_OK) {
        ouro__mem_free(targets);
        return NULL;
    }
    /* Keep the referrers in place, release the rest. */
    size_t k = 0;
    for (size_t i = 0; i < nall; i++) {
        referrer_scan s = {targets, n, false};
        ouro_object *o = all[i];
        if (o->ob_type->traverse)
            o->ob_type->traverse(o, visit_hit, &s);
        if (s.hit)
            all[k++] = o;
        else
            ouro_decref(o);
    }
    ouro__mem_free(targets);
    return list_of(all, k);
}

/* ---- flags -------------------------------------------------------------- */

int ouro_gc_is_tracked(const ouro_object *o)
{
    ouro__check_arg(o, "ouro_gc_is_tracked", "o");
    return (o->ob_type->flags & OURO_TYPE_GC) && !ouro__is_immortal(o);
}

int ouro_gc_is_finalized(const ouro_object *o)
{
    ouro__check_arg(o, "ouro_gc_is_finalized", "o");
    /* relaxed: a flag read; the caller's reference keeps `o` alive. */
    return (atomic_load_explicit(&((ouro_object *)o)->ob_gc,
                                 memory_order_relaxed) &
            OURO__GC_FINALIZED) != 0;
}
