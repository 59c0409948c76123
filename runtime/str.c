/*
 * str.c - immutable byte strings, their hash, and interning.
 *
 * Interned strings are immortal and live in one process-wide strtab: a
 * lookup is lock-free, an insertion takes the table's lock and looks again
 * before inserting, so two threads interning equal bytes get one object.
 * Being immortal, an interned string is never removed, which is what lets
 * lookups run without taking references.
 */
#include "builtin.h"
#include "strtab.h"

#include <string.h>

const ouro_type ouro_str_type = {
    .name = "str",
    .size = sizeof(ouro_str_obj),
};

static ouro_strtab intern_table;

/* 64-bit multiply-and-fold hash over 8-byte words, seeded per run so that
 * key collisions cannot be precomputed; finished with an avalanche mix. */
uint64_t ouro__hash_bytes(const char *bytes, size_t len)
{
    const uint64_t k = 0x9e3779b97f4a7c15ull;
    uint64_t h = ouro__rt.hash_seed ^ (len * k);
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, bytes + i, 8);
        h = (h ^ w) * k;
        h ^= h >> 29;
    }
    uint64_t tail = 0;
    memcpy(&tail, bytes + i, len - i);
    h = (h ^ tail) * k;
    h ^= h >> 32;
    h *= 0xd6e8feb86659fd93ull;
    h ^= h >> 32;
    return h;
}

ouro_object *ouro__str_create(const char *bytes, size_t len, uint64_t hash)
{
    ouro_str_obj *s = (ouro_str_obj *)ouro__alloc_object(
        &ouro_str_type, sizeof(ouro_str_obj) + len + 1);
    if (!s)
        return NULL;
    s->len = len;
    s->hash = hash;
    if (len)
        memcpy(s->data, bytes, len);
    s->data[len] = '\0';
    return &s->ob;
}

ouro_object *ouro_str_new(const char *bytes, size_t len)
{
    if (!bytes && len)
        return NULL;
    return ouro__str_create(bytes, len, ouro__hash_bytes(bytes, len));
}

ouro_object *ouro_str_from(const char *cstr)
{
    return cstr ? ouro_str_new(cstr, strlen(cstr)) : NULL;
}

static const ouro_str_obj *as_str(const ouro_object *o, const char *api)
{
    if (o->ob_type != &ouro_str_type)
        ouro__fatal("%s on a '%s' object", api, o->ob_type->name);
    return (const ouro_str_obj *)o;
}

const char *ouro_str_data(const ouro_object *o)
{
    return as_str(o, "ouro_str_data")->data;
}

size_t ouro_str_len(const ouro_object *o)
{
    return as_str(o, "ouro_str_len")->len;
}

int ouro_str_equal(const ouro_object *a, const ouro_object *b)
{
    const ouro_str_obj *sb = as_str(b, "ouro_str_equal");
    return a == b || ouro__str_matches(&as_str(a, "ouro_str_equal")->ob,
                                       sb->data, sb->len, sb->hash);
}

int ouro__intern_init(void)
{
    return ouro__strtab_init(&intern_table, 1024);
}

static void free_interned(ouro_object *key, ouro_object *value, void *arg)
{
    (void)value;
    (void)arg;
    ouro__block_free(ouro__self, key, ouro__block_bytes(key));
}

void ouro__intern_fini(void)
{
    ouro__strtab_each(&intern_table, free_interned, NULL);
    ouro__strtab_free_now(&intern_table);
}

ouro_object *ouro_intern(const char *bytes, size_t len)
{
    ouro__reader("ouro_intern");
    if (!bytes && len)
        return NULL;
    uint64_t hash = ouro__hash_bytes(bytes, len);
    ouro_object *s = ouro__strtab_find(&intern_table, bytes, len, hash);
    if (s)
        return s;
    pthread_mutex_lock(&intern_table.lock);
    s = ouro__strtab_find(&intern_table, bytes, len, hash);
    /* Room first, so that the insertion below cannot fail once the string
     * is immortal; immortal before it is published. */
    if (!s && ouro__strtab_reserve_locked(&intern_table) == OURO_OK &&
        (s = ouro__str_create(bytes, len, hash))) {
        atomic_fetch_or_explicit(&s->ob_gc, OURO__GC_INTERNED,
                                 memory_order_relaxed);
        ouro_make_immortal(s);
        ouro_object *old;
        int err = ouro__strtab_set_locked(&intern_table, s, s, &old);
        OURO_ASSERT(err == OURO_OK && old == NULL);
        (void)err;
    }
    pthread_mutex_unlock(&intern_table.lock);
    return s;
}

ouro_object *ouro_intern_cstr(const char *cstr)
{
    return cstr ? ouro_intern(cstr, strlen(cstr)) : NULL;
}
