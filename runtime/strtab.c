/*
 * strtab.c - see strtab.h for the design.
 *
 * Ordering: a writer inserting a new key stores the value first, then the
 * key (both release); a reader loads the key, then the value (both
 * acquire), so a reader that finds the key also finds its first value.  A
 * reader that sees a NULL key stops probing: keys are only ever added to an
 * array, so the probe sequence it saw was a prefix of the current one.
 */
#include "strtab.h"

#include "decref_buffer.h"

#include <string.h>

#define MIN_CAPACITY 8

static ouro_strtab_array *array_new(size_t capacity)
{
    ouro_strtab_array *a = ouro__mem_calloc(sizeof *a +
                                            capacity * sizeof a->e[0]);
    if (a)
        a->mask = capacity - 1;
    return a;
}

static size_t round_capacity(size_t n)
{
    size_t cap = MIN_CAPACITY;
    while (cap < n)
        cap *= 2;
    return cap;
}

int ouro__strtab_init(ouro_strtab *tab, size_t capacity)
{
    ouro_strtab_array *a = array_new(round_capacity(capacity));
    if (!a)
        return OURO_ENOMEM;
    atomic_init(&tab->array, a);
    atomic_init(&tab->live, 0);
    tab->used = 0;
    pthread_mutex_init(&tab->lock, NULL);
    return OURO_OK;
}

void ouro__strtab_free_now(ouro_strtab *tab)
{
    ouro__mem_free(atomic_load_explicit(&tab->array, memory_order_relaxed));
    pthread_mutex_destroy(&tab->lock);
}

void ouro__strtab_free_deferred(ouro_strtab *tab)
{
    ouro__defer_free(atomic_load_explicit(&tab->array, memory_order_relaxed));
    pthread_mutex_destroy(&tab->lock);
}

static uint64_t key_hash(const ouro_object *key)
{
    return ((const ouro_str_obj *)key)->hash;
}

ouro_object *ouro__strtab_find(ouro_strtab *tab, const char *bytes, size_t len,
                               uint64_t hash)
{
    /* acquire: pairs with the release publication in rebuild_locked. */
    ouro_strtab_array *a = atomic_load_explicit(&tab->array,
                                                memory_order_acquire);
    size_t i = hash & a->mask;
    for (size_t n = 0; n <= a->mask; n++, i = (i + 1) & a->mask) {
        /* acquire: pairs with the release store of the key in place_locked;
         * the key's contents and first value are visible. */
        ouro_object *k = atomic_load_explicit(&a->e[i].key,
                                              memory_order_acquire);
        if (!k)
            return NULL;
        if (ouro__str_matches(k, bytes, len, hash))
            /* acquire: pairs with the release stores of values. */
            return atomic_load_explicit(&a->e[i].value, memory_order_acquire);
    }
    return NULL;
}

/* Index of key's entry in a, or of the empty entry where it would go. */
static size_t probe_locked(ouro_strtab_array *a, const ouro_object *key)
{
    const ouro_str_obj *ks = (const ouro_str_obj *)key;
    size_t i = ks->hash & a->mask;
    for (;;) {
        ouro_object *k = atomic_load_explicit(&a->e[i].key,
                                              memory_order_relaxed);
        if (!k || k == key || ouro__str_matches(k, ks->data, ks->len, ks->hash))
            return i;
        i = (i + 1) & a->mask;
    }
}

/* Copy the live pairs into a new array of `capacity`, publish it, and only
 * then release the tombstoned keys (deferred) and the old array (after a
 * grace period).  Publishing first keeps rule G2 of docs/grace-periods.md:
 * a decrement may seal a batch and take its goal at once, so it must come
 * after the store that unlinks the key from readers' view. */
static int rebuild_locked(ouro_strtab *tab, size_t capacity)
{
    ouro_strtab_array *old = atomic_load_explicit(&tab->array,
                                                  memory_order_relaxed);
    ouro_strtab_array *a = array_new(capacity);
    if (!a)
        return OURO_ENOMEM;
    size_t used = 0;
    for (size_t i = 0; i <= old->mask; i++) {
        ouro_object *k = atomic_load_explicit(&old->e[i].key,
                                              memory_order_relaxed);
        ouro_object *v = atomic_load_explicit(&old->e[i].value,
                                              memory_order_relaxed);
        if (!k || !v)
            continue;
        size_t j = key_hash(k) & a->mask;
        while (atomic_load_explicit(&a->e[j].key, memory_order_relaxed))
            j = (j + 1) & a->mask;
        atomic_store_explicit(&a->e[j].value, v, memory_order_relaxed);
        atomic_store_explicit(&a->e[j].key, k, memory_order_relaxed);
        used++;
    }
    /* release: readers that load the new array see its entries. */
    atomic_store_explicit(&tab->array, a, memory_order_release);
    tab->used = used;
    for (size_t i = 0; i <= old->mask; i++) {
        ouro_object *k = atomic_load_explicit(&old->e[i].key,
                                              memory_order_relaxed);
        if (k && !atomic_load_explicit(&old->e[i].value, memory_order_relaxed))
            ouro_decref(k);   /* tombstone: no longer in the live array */
    }
    ouro__defer_free(old);
    return OURO_OK;
}

/* Make room for one more key if the array would be over 2/3 full. */
int ouro__strtab_reserve_locked(ouro_strtab *tab)
{
    ouro_strtab_array *a = atomic_load_explicit(&tab->array,
                                                memory_order_relaxed);
    size_t cap = a->mask + 1;
    if ((tab->used + 1) * 3 <= cap * 2)
        return OURO_OK;
    size_t live = atomic_load_explicit(&tab->live, memory_order_relaxed);
    return rebuild_locked(tab, round_capacity((live + 1) * 2));
}

int ouro__strtab_set_locked(ouro_strtab *tab, ouro_object *key,
                            ouro_object *value, ouro_object **old)
{
    *old = NULL;
    ouro_strtab_array *a = atomic_load_explicit(&tab->array,
                                                memory_order_relaxed);
    size_t i = probe_locked(a, key);
    if (!atomic_load_explicit(&a->e[i].key, memory_order_relaxed)) {
        int err = ouro__strtab_reserve_locked(tab);
        if (err != OURO_OK)
            return err;
        a = atomic_load_explicit(&tab->array, memory_order_relaxed);
        i = probe_locked(a, key);
        ouro_incref(key);
        ouro_incref(value);
        /* release (both): see the file comment; value before key. */
        atomic_store_explicit(&a->e[i].value, value, memory_order_release);
        atomic_store_explicit(&a->e[i].key, key, memory_order_release);
        tab->used++;
        atomic_fetch_add_explicit(&tab->live, 1, memory_order_relaxed);
        return OURO_OK;
    }
    ouro_incref(value);
    /* release: the new value's contents are visible to readers. */
    *old = atomic_exchange_explicit(&a->e[i].value, value,
                                    memory_order_acq_rel);
    if (!*old)
        atomic_fetch_add_explicit(&tab->live, 1, memory_order_relaxed);
    return OURO_OK;
}

void ouro__strtab_del_locked(ouro_strtab *tab, ouro_object *key,
                             ouro_object **old)
{
    ouro_strtab_array *a = atomic_load_explicit(&tab->array,
                                                memory_order_relaxed);
    size_t i = probe_locked(a, key);
    *old = NULL;
    if (!atomic_load_explicit(&a->e[i].key, memory_order_relaxed))
        return;
    *old = atomic_exchange_explicit(&a->e[i].value, NULL, memory_order_acq_rel);
    if (*old)
        atomic_fetch_sub_explicit(&tab->live, 1, memory_order_relaxed);
}

/* Call fn(key, value-or-NULL) for every entry with a key in the current
 * array. */
static void walk(ouro_strtab *tab, ouro_strtab_pair_fn fn, void *arg)
{
    ouro_strtab_array *a = atomic_load_explicit(&tab->array,
                                                memory_order_acquire);
    for (size_t i = 0; i <= a->mask; i++) {
        ouro_object *k = atomic_load_explicit(&a->e[i].key,
                                              memory_order_acquire);
        if (k)
            fn(k, atomic_load_explicit(&a->e[i].value, memory_order_acquire),
               arg);
    }
}

struct pair_fn {
    ouro_strtab_pair_fn fn;
    void *arg;
};

static void call_if_live(ouro_object *key, ouro_object *value, void *arg)
{
    struct pair_fn *p = arg;
    if (value)
        p->fn(key, value, p->arg);
}

void ouro__strtab_each(ouro_strtab *tab, ouro_strtab_pair_fn fn, void *arg)
{
    walk(tab, call_if_live, &(struct pair_fn){fn, arg});
}

struct visit_fn {
    ouro_visit_fn visit;
    void *arg;
};

static void visit_entry(ouro_object *key, ouro_object *value, void *arg)
{
    struct visit_fn *v = arg;
    v->visit(key, v->arg);
    if (value)
        v->visit(value, v->arg);
}

void ouro__strtab_traverse(ouro_strtab *tab, ouro_visit_fn visit, void *arg)
{
    walk(tab, visit_entry, &(struct visit_fn){visit, arg});
}

ouro_strtab_array *ouro__strtab_swap_empty_locked(ouro_strtab *tab)
{
    ouro_strtab_array *empty = array_new(MIN_CAPACITY);
    if (!empty)
        return NULL;
    ouro_strtab_array *old = atomic_load_explicit(&tab->array,
                                                  memory_order_relaxed);
    /* release: readers of the new array see it initialised. */
    atomic_store_explicit(&tab->array, empty, memory_order_release);
    tab->used = 0;
    atomic_store_explicit(&tab->live, 0, memory_order_relaxed);
    return old;
}

void ouro__strtab_release_array(ouro_strtab_array *a)
{
    for (size_t i = 0; i <= a->mask; i++) {
        ouro_xdecref(atomic_load_explicit(&a->e[i].key, memory_order_relaxed));
        ouro_xdecref(atomic_load_explicit(&a->e[i].value,
                                          memory_order_relaxed));
    }
    ouro__defer_free(a);
}
