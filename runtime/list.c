/*
 * list.c - thread-safe lists with lock-free reads.
 *
 * Writers (append, set, pop, clear) take the list's mutex.  Readers take no
 * lock: they load `len` (acquire), then the items array (acquire), then the
 * slot (acquire).  The orders:
 *   - a writer that grows the list publishes the new array (release) before
 *     raising `len` past the old capacity (release), so a reader that sees
 *     the larger `len` also sees the new array;
 *   - a slot is written (release) before `len` covers it;
 *   - a replaced array is freed after a grace period, and a replaced item is
 *     released by a deferred decrement, so whatever a reader loaded stays
 *     valid until its next quiescent point.
 * A reader may see a slot that a concurrent pop just emptied (NULL): it
 * reports the index as absent, as if the pop had come first.
 */
#include "builtin.h"
#include "decref_buffer.h"
#include "gc.h"
#include "heap.h"

#include <pthread.h>

typedef struct ouro_list_array {
    size_t cap;
    ouro_object *_Atomic items[];
} ouro_list_array;

typedef struct ouro_list_obj {
    ouro_object ob;
    pthread_mutex_t lock;
    _Atomic size_t len;                  /* written under lock */
    ouro_list_array *_Atomic array;      /* written under lock */
} ouro_list_obj;

#define MIN_CAPACITY 4

static ouro_list_array *array_new(size_t cap)
{
    ouro_list_array *a = ouro__mem_calloc(sizeof *a + cap * sizeof a->items[0]);
    if (a)
        a->cap = cap;
    return a;
}

static void list_traverse(ouro_object *self, ouro_visit_fn visit, void *arg)
{
    ouro_list_obj *l = (ouro_list_obj *)self;
    size_t n = atomic_load_explicit(&l->len, memory_order_acquire);
    ouro_list_array *a = atomic_load_explicit(&l->array, memory_order_acquire);
    for (size_t i = 0; i < n && i < a->cap; i++) {
        ouro_object *item = atomic_load_explicit(&a->items[i],
                                                 memory_order_acquire);
        if (item)
            visit(item, arg);
    }
}

static void list_clear(ouro_object *self)
{
    ouro_list_obj *l = (ouro_list_obj *)self;
    pthread_mutex_lock(&l->lock);
    size_t n = atomic_load_explicit(&l->len, memory_order_relaxed);
    ouro_list_array *a = atomic_load_explicit(&l->array, memory_order_relaxed);
    atomic_store_explicit(&l->len, 0, memory_order_release);
    for (size_t i = 0; i < n; i++)
        ouro_xdecref(atomic_exchange_explicit(&a->items[i], NULL,
                                              memory_order_acq_rel));
    pthread_mutex_unlock(&l->lock);
    ouro__gc_written(self);
}

static void list_destroy(ouro_object *self)
{
    ouro_list_obj *l = (ouro_list_obj *)self;
    ouro__defer_free(atomic_load_explicit(&l->array, memory_order_relaxed));
    pthread_mutex_destroy(&l->lock);
}

const ouro_type ouro_list_type = {
    .name = "list",
    .size = sizeof(ouro_list_obj),
    .flags = OURO_TYPE_GC | OURO_TYPE_WEAKREFABLE,
    .traverse = list_traverse,
    .clear = list_clear,
    .destroy = list_destroy,
};

static ouro_list_obj *as_list(ouro_object *o)
{
    return o && o->ob_type == &ouro_list_type ? (ouro_list_obj *)o : NULL;
}

ouro_object *ouro_list_new(size_t capacity_hint)
{
    ouro_list_obj *l = (ouro_list_obj *)ouro__alloc_object(&ouro_list_type,
                                                           sizeof *l);
    if (!l)
        return NULL;
    ouro_list_array *a = array_new(capacity_hint > MIN_CAPACITY
                                       ? capacity_hint : MIN_CAPACITY);
    if (!a) {
        ouro__free_unshared(&l->ob);
        return NULL;
    }
    pthread_mutex_init(&l->lock, NULL);
    atomic_init(&l->len, 0);
    atomic_init(&l->array, a);
    ouro__heap_track(&l->ob);
    return &l->ob;
}

/* Python-style index -> position, or SIZE_MAX when out of [0, n). */
static size_t position(ptrdiff_t index, size_t n)
{
    if (index < 0)
        index += (ptrdiff_t)n;
    return index < 0 || (size_t)index >= n ? SIZE_MAX : (size_t)index;
}

/* Under lock: make room for one more item (may publish a new array). */
static int grow_locked(ouro_list_obj *l, size_t n)
{
    ouro_list_array *a = atomic_load_explicit(&l->array, memory_order_relaxed);
    if (n < a->cap)
        return OURO_OK;
    ouro_list_array *b = array_new(a->cap * 2);
    if (!b)
        return OURO_ENOMEM;
    for (size_t i = 0; i < n; i++)
        atomic_store_explicit(&b->items[i],
                              atomic_load_explicit(&a->items[i],
                                                   memory_order_relaxed),
                              memory_order_relaxed);
    /* release: a reader that loads b sees the copied items. */
    atomic_store_explicit(&l->array, b, memory_order_release);
    ouro__defer_free(a);
    return OURO_OK;
}

int ouro_list_append(ouro_object *list, ouro_object *item)
{
    ouro_list_obj *l = as_list(list);
    if (!l || !item)
        return OURO_EINVAL;
    ouro__reader("ouro_list_append");
    pthread_mutex_lock(&l->lock);
    size_t n = atomic_load_explicit(&l->len, memory_order_relaxed);
    int err = grow_locked(l, n);
    if (err == OURO_OK) {
        ouro_list_array *a = atomic_load_explicit(&l->array,
                                                  memory_order_relaxed);
        ouro_incref(item);
        /* release (both): slot before len, see the file comment. */
        atomic_store_explicit(&a->items[n], item, memory_order_release);
        atomic_store_explicit(&l->len, n + 1, memory_order_release);
    }
    pthread_mutex_unlock(&l->lock);
    ouro__gc_written(list);   /* after the store: docs/collector.md */
    return err;
}

ouro_object *ouro_list_get(ouro_object *list, ptrdiff_t index)
{
    ouro_list_obj *l = as_list(list);
    if (!l)
        return NULL;
    ouro__reader("ouro_list_get");
    /* acquire: pairs with the release stores of len; see file comment. */
    size_t n = atomic_load_explicit(&l->len, memory_order_acquire);
    size_t i = position(index, n);
    if (i == SIZE_MAX)
        return NULL;
    ouro_list_array *a = atomic_load_explicit(&l->array, memory_order_acquire);
    if (i >= a->cap)
        return NULL;
    ouro_object *item = atomic_load_explicit(&a->items[i], memory_order_acquire);
    ouro_xincref(item);   /* safe until our next safepoint: deferred decrefs */
    return item;
}

int ouro_list_set(ouro_object *list, ptrdiff_t index, ouro_object *item)
{
    ouro_list_obj *l = as_list(list);
    if (!l || !item)
        return OURO_EINVAL;
    ouro__reader("ouro_list_set");
    pthread_mutex_lock(&l->lock);
    size_t i = position(index, atomic_load_explicit(&l->len,
                                                    memory_order_relaxed));
    ouro_object *old = NULL;
    if (i != SIZE_MAX) {
        ouro_list_array *a = atomic_load_explicit(&l->array,
                                                  memory_order_relaxed);
        ouro_incref(item);
        /* release: readers see the new item's contents. */
        old = atomic_exchange_explicit(&a->items[i], item, memory_order_acq_rel);
    }
    pthread_mutex_unlock(&l->lock);
    if (i == SIZE_MAX)
        return OURO_EINDEX;
    ouro__gc_written(list);
    ouro_xdecref(old);
    return OURO_OK;
}

ouro_object *ouro_list_pop(ouro_object *list, ptrdiff_t index)
{
    ouro_list_obj *l = as_list(list);
    if (!l)
        return NULL;
    ouro__reader("ouro_list_pop");
    pthread_mutex_lock(&l->lock);
    size_t n = atomic_load_explicit(&l->len, memory_order_relaxed);
    size_t i = position(index, n);
    ouro_object *item = NULL;
    if (i != SIZE_MAX) {
        ouro_list_array *a = atomic_load_explicit(&l->array,
                                                  memory_order_relaxed);
        item = atomic_load_explicit(&a->items[i], memory_order_relaxed);
        for (size_t j = i; j + 1 < n; j++)
            atomic_store_explicit(&a->items[j],
                                  atomic_load_explicit(&a->items[j + 1],
                                                       memory_order_relaxed),
                                  memory_order_release);
        atomic_store_explicit(&a->items[n - 1], NULL, memory_order_release);
        atomic_store_explicit(&l->len, n - 1, memory_order_release);
    }
    pthread_mutex_unlock(&l->lock);
    if (item)
        ouro__gc_written(list);
    return item;   /* the list's reference passes to the caller */
}

size_t ouro_list_len(ouro_object *list)
{
    ouro_list_obj *l = as_list(list);
    return l ? atomic_load_explicit(&l->len, memory_order_acquire) : 0;
}
