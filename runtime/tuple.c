/*
 * tuple.c - fixed-size immutable sequences.  Items are written before the
 * tuple is returned and never change, so reads need no synchronisation
 * beyond the release store that shares the tuple.
 */
#include "builtin.h"
#include "heap.h"

#include <stdarg.h>

static void tuple_traverse(ouro_object *self, ouro_visit_fn visit, void *arg)
{
    ouro_tuple_obj *t = (ouro_tuple_obj *)self;
    for (size_t i = 0; i < t->len; i++)
        if (t->items[i])
            visit(t->items[i], arg);
}

const ouro_type ouro_tuple_type = {
    .name = "tuple",
    .size = sizeof(ouro_tuple_obj),
    .flags = OURO_TYPE_GC,
    .traverse = tuple_traverse,
};

static ouro_tuple_obj *tuple_alloc(size_t n)
{
    if (n > (SIZE_MAX - sizeof(ouro_tuple_obj)) / sizeof(ouro_object *))
        return NULL;
    ouro_tuple_obj *t = (ouro_tuple_obj *)ouro__alloc_object(
        &ouro_tuple_type, sizeof(ouro_tuple_obj) + n * sizeof(ouro_object *));
    if (t)
        t->len = n;
    return t;
}

ouro_object *ouro_tuple_new(size_t n, ouro_object *const *items)
{
    if (n && !items)
        return NULL;
    for (size_t i = 0; i < n; i++)
        if (!items[i])
            return NULL;
    ouro_tuple_obj *t = tuple_alloc(n);
    if (!t)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        ouro_incref(items[i]);
        t->items[i] = items[i];
    }
    ouro__heap_track(&t->ob);
    return &t->ob;
}

ouro_object *ouro_tuple_pack(size_t n, ...)
{
    ouro_object *items[n ? n : 1];
    va_list ap;
    va_start(ap, n);
    for (size_t i = 0; i < n; i++)
        items[i] = va_arg(ap, ouro_object *);
    va_end(ap);
    return ouro_tuple_new(n, items);
}

static const ouro_tuple_obj *as_tuple(const ouro_object *o)
{
    return o && o->ob_type == &ouro_tuple_type ? (const ouro_tuple_obj *)o
                                               : NULL;
}

size_t ouro_tuple_len(const ouro_object *t)
{
    const ouro_tuple_obj *tt = as_tuple(t);
    return tt ? tt->len : 0;
}

ouro_object *ouro_tuple_get(ouro_object *t, size_t i)
{
    const ouro_tuple_obj *tt = as_tuple(t);
    if (!tt || i >= tt->len)
        return NULL;
    ouro_incref(tt->items[i]);
    return tt->items[i];
}
