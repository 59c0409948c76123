/*
 * int.c - the int type, the small-int cache (-5..256) and None.
 *
 * Cached ints and None are static, immortal objects: counting operations on
 * them do nothing, so any thread may use them without touching shared cache
 * lines.
 */
#include "builtin.h"
#include "refcount.h"

#define SMALL_MIN (-5)
#define SMALL_MAX 256

const ouro_type ouro_int_type = {
    .name = "int",
    .size = sizeof(ouro_int_obj),
};

const ouro_type ouro_none_type = {
    .name = "NoneType",
    .size = sizeof(ouro_object),
};

static ouro_int_obj small_ints[SMALL_MAX - SMALL_MIN + 1];
static ouro_object none_object;

void ouro__init_static_immortal(ouro_object *o, const ouro_type *type)
{
    atomic_store_explicit(&o->ob_tid, 0, memory_order_relaxed);
    atomic_store_explicit(&o->ob_gc, OURO__GC_STATIC, memory_order_relaxed);
    atomic_store_explicit(&o->ob_ref_local, OURO__IMMORTAL_LOCAL,
                          memory_order_relaxed);
    atomic_store_explicit(&o->ob_ref_shared,
                          ouro__shared_make(0, OURO__SHARED_MERGED),
                          memory_order_relaxed);
    o->ob_type = type;
}

int ouro__builtin_init(void)
{
    for (int64_t v = SMALL_MIN; v <= SMALL_MAX; v++) {
        ouro_int_obj *i = &small_ints[v - SMALL_MIN];
        ouro__init_static_immortal(&i->ob, &ouro_int_type);
        i->value = v;
    }
    ouro__init_static_immortal(&none_object, &ouro_none_type);
    return ouro__intern_init();
}

void ouro__builtin_fini(void)
{
    ouro__intern_fini();
}

ouro_object *ouro_none(void)
{
    return &none_object;
}

ouro_object *ouro_int_new(int64_t value)
{
    if (value >= SMALL_MIN && value <= SMALL_MAX)
        return &small_ints[value - SMALL_MIN].ob;
    ouro_int_obj *i = (ouro_int_obj *)ouro__alloc_object(&ouro_int_type,
                                                         sizeof *i);
    if (!i)
        return NULL;
    i->value = value;
    return &i->ob;
}

int64_t ouro_int_value(const ouro_object *o)
{
    if (o->ob_type != &ouro_int_type)
        ouro__fatal("ouro_int_value on a '%s' object", o->ob_type->name);
    return ((const ouro_int_obj *)o)->value;
}
