/*
 * record.c - user-defined types with N reference slots.
 *
 * Each slot is an atomic pointer: a get loads it (acquire) and increments;
 * a set exchanges it (acq_rel) and releases the old value with a deferred
 * decrement, so concurrent gets and sets need no lock.
 */
#include "builtin.h"
#include "gc.h"

typedef struct ouro_record_obj {
    ouro_object ob;
    ouro_object *_Atomic slots[];
} ouro_record_obj;

static void record_traverse(ouro_object *self, ouro_visit_fn visit, void *arg)
{
    ouro_record_obj *r = (ouro_record_obj *)self;
    for (uint32_t i = 0; i < self->ob_type->nslots; i++) {
        ouro_object *v = atomic_load_explicit(&r->slots[i],
                                              memory_order_acquire);
        if (v)
            visit(v, arg);
    }
}

static void record_clear(ouro_object *self)
{
    ouro_record_obj *r = (ouro_record_obj *)self;
    for (uint32_t i = 0; i < self->ob_type->nslots; i++)
        ouro_xdecref(atomic_exchange_explicit(&r->slots[i], NULL,
                                              memory_order_acq_rel));
    ouro__gc_written(self);
}

void ouro_record_type_init(ouro_type *type, const char *name, uint32_t nslots,
                           void (*finalize)(ouro_object *self))
{
    *type = (ouro_type){
        .name = name,
        .size = sizeof(ouro_record_obj) + nslots * sizeof(ouro_object *),
        .flags = (nslots ? OURO_TYPE_GC : 0) | OURO_TYPE_WEAKREFABLE,
        .nslots = nslots,
        .traverse = record_traverse,
        .finalize = finalize,
        .clear = record_clear,
    };
}

static ouro_record_obj *as_record(ouro_object *o, uint32_t slot)
{
    if (!o || o->ob_type->traverse != record_traverse ||
        slot >= o->ob_type->nslots)
        return NULL;
    return (ouro_record_obj *)o;
}

ouro_object *ouro_record_new(const ouro_type *type)
{
    if (!type || type->traverse != record_traverse)
        return NULL;
    return ouro_new(type);
}

ouro_object *ouro_record_get(ouro_object *rec, uint32_t slot)
{
    ouro_record_obj *r = as_record(rec, slot);
    if (!r)
        return NULL;
    ouro__reader("ouro_record_get");
    ouro_object *v = atomic_load_explicit(&r->slots[slot], memory_order_acquire);
    ouro_xincref(v);   /* safe until our next safepoint: deferred decrefs */
    return v;
}

int ouro_record_set(ouro_object *rec, uint32_t slot, ouro_object *value)
{
    ouro_record_obj *r = as_record(rec, slot);
    if (!r)
        return OURO_EINVAL;
    ouro__reader("ouro_record_set");
    ouro_xincref(value);
    /* release: readers see the value's contents; acquire: we own old. */
    ouro_object *old = atomic_exchange_explicit(&r->slots[slot], value,
                                                memory_order_acq_rel);
    ouro__gc_written(rec);   /* after the store: docs/collector.md */
    ouro_xdecref(old);
    return OURO_OK;
}
