/*
 * dict.c - dictionaries with str keys, on a strtab: lock-free reads,
 * writers serialised by the dict's lock.
 */
#include "strtab.h"

#include "dealloc.h"
#include "decref_buffer.h"
#include "gc.h"
#include "heap.h"

#include <string.h>

typedef struct ouro_dict_obj {
    ouro_object ob;
    ouro_strtab tab;
} ouro_dict_obj;

static void dict_traverse(ouro_object *self, ouro_visit_fn visit, void *arg)
{
    ouro__strtab_traverse(&((ouro_dict_obj *)self)->tab, visit, arg);
}

static void dict_destroy(ouro_object *self)
{
    ouro__strtab_free_deferred(&((ouro_dict_obj *)self)->tab);
}

/* Drop every entry (the cycle collector's way of breaking a cycle). */
static void dict_clear(ouro_object *self)
{
    ouro_dict_obj *d = (ouro_dict_obj *)self;
    pthread_mutex_lock(&d->tab.lock);
    ouro_strtab_array *old = ouro__strtab_swap_empty_locked(&d->tab);
    pthread_mutex_unlock(&d->tab.lock);
    ouro__gc_written(self);
    if (old)
        ouro__strtab_release_array(old);
}

const ouro_type ouro_dict_type = {
    .name = "dict",
    .size = sizeof(ouro_dict_obj),
    .flags = OURO_TYPE_GC | OURO_TYPE_WEAKREFABLE,
    .traverse = dict_traverse,
    .clear = dict_clear,
    .destroy = dict_destroy,
};

static ouro_dict_obj *as_dict(ouro_object *o)
{
    return o && o->ob_type == &ouro_dict_type ? (ouro_dict_obj *)o : NULL;
}

static bool is_str(const ouro_object *o)
{
    return o && o->ob_type == &ouro_str_type;
}

ouro_object *ouro_dict_new(void)
{
    ouro_dict_obj *d = (ouro_dict_obj *)ouro__alloc_object(&ouro_dict_type,
                                                           sizeof *d);
    if (!d)
        return NULL;
    if (ouro__strtab_init(&d->tab, 0) != OURO_OK) {
        ouro__free_unshared(&d->ob);
        return NULL;
    }
    ouro__heap_track(&d->ob);
    return &d->ob;
}

int ouro_dict_set(ouro_object *dict, ouro_object *key, ouro_object *value)
{
    ouro_dict_obj *d = as_dict(dict);
    if (!d || !is_str(key) || !value)
        return OURO_EINVAL;
    ouro__reader("ouro_dict_set");
    ouro_object *old;
    pthread_mutex_lock(&d->tab.lock);
    int err = ouro__strtab_set_locked(&d->tab, key, value, &old);
    pthread_mutex_unlock(&d->tab.lock);
    ouro__gc_written(dict);   /* after the store: docs/collector.md */
    ouro_xdecref(old);
    return err;
}

static ouro_object *get_bytes(ouro_dict_obj *d, const char *bytes, size_t len,
                              uint64_t hash)
{
    ouro_object *v = ouro__strtab_find(&d->tab, bytes, len, hash);
    ouro_xincref(v);   /* safe: v cannot be freed before our next safepoint */
    return v;
}

ouro_object *ouro_dict_get(ouro_object *dict, ouro_object *key)
{
    ouro_dict_obj *d = as_dict(dict);
    if (!d || !is_str(key))
        return NULL;
    ouro__reader("ouro_dict_get");
    const ouro_str_obj *k = (const ouro_str_obj *)key;
    return get_bytes(d, k->data, k->len, k->hash);
}

ouro_object *ouro_dict_get_cstr(ouro_object *dict, const char *key)
{
    ouro_dict_obj *d = as_dict(dict);
    if (!d || !key)
        return NULL;
    ouro__reader("ouro_dict_get_cstr");
    size_t len = strlen(key);
    return get_bytes(d, key, len, ouro__hash_bytes(key, len));
}

int ouro_dict_set_cstr(ouro_object *dict, const char *key, ouro_object *value)
{
    if (!as_dict(dict) || !key || !value)
        return OURO_EINVAL;
    ouro_object *k = ouro_str_from(key);
    if (!k)
        return OURO_ENOMEM;
    int err = ouro_dict_set(dict, k, value);
    ouro_decref(k);
    return err;
}

int ouro_dict_del(ouro_object *dict, ouro_object *key)
{
    ouro_dict_obj *d = as_dict(dict);
    if (!d || !is_str(key))
        return OURO_EINVAL;
    ouro__reader("ouro_dict_del");
    ouro_object *old;
    pthread_mutex_lock(&d->tab.lock);
    ouro__strtab_del_locked(&d->tab, key, &old);
    pthread_mutex_unlock(&d->tab.lock);
    if (!old)
        return OURO_EKEY;
    ouro__gc_written(dict);
    ouro_decref(old);
    return OURO_OK;
}

size_t ouro_dict_len(ouro_object *dict)
{
    ouro_dict_obj *d = as_dict(dict);
    return d ? atomic_load_explicit(&d->tab.live, memory_order_relaxed) : 0;
}

struct keys_ctx {
    ouro_object *list;
    int err;
};

static void add_key(ouro_object *key, ouro_object *value, void *arg)
{
    (void)value;
    struct keys_ctx *ctx = arg;
    if (ctx->err == OURO_OK)
        ctx->err = ouro_list_append(ctx->list, key);
}

ouro_object *ouro_dict_keys(ouro_object *dict)
{
    ouro_dict_obj *d = as_dict(dict);
    if (!d)
        return NULL;
    ouro__reader("ouro_dict_keys");
    struct keys_ctx ctx = {ouro_list_new(ouro_dict_len(dict)), OURO_OK};
    if (!ctx.list)
        return NULL;
    ouro__strtab_each(&d->tab, add_key, &ctx);
    if (ctx.err != OURO_OK) {
        ouro_decref(ctx.list);
        return NULL;
    }
    return ctx.list;
}
