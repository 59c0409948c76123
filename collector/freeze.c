/*
 * freeze.c - gc.freeze(): every tracked object alive now becomes FROZEN,
 * and the collector never examines it (collect.c treats it as held from
 * outside and drops it as a candidate); decrements stop buffering it.
 *
 * Snapshot semantics: like ouro_gc_get_objects, shard by shard; objects
 * created during or after the call are not frozen.  A collection already
 * running when freeze is called may still finish examining an object it
 * had reached; collections that start after freeze returns never do.
 * Calls to freeze and unfreeze are serialised.
 */
#include "builtin.h"
#include "heap.h"
#include "refcount.h"

static pthread_mutex_t freeze_lock = PTHREAD_MUTEX_INITIALIZER;

/* Immortals are in the registry but not tracked (ouro_gc_is_tracked):
 * the collector never examines them anyway, so they are neither frozen
 * nor counted. */
static void freeze_one(ouro_object *o, void *arg)
{
    if (ouro__is_immortal(o))
        return;
    uint32_t old = atomic_fetch_or_explicit(&o->ob_gc, OURO__GC_FROZEN,
                                            memory_order_relaxed);
    *(uint64_t *)arg += !(old & OURO__GC_FROZEN);
}

uint64_t ouro_gc_freeze(void)
{
    ouro__self_or_die("ouro_gc_freeze");
    uint64_t n = 0;
    pthread_mutex_lock(&freeze_lock);
    ouro__heap_each_locked(freeze_one, &n);
    pthread_mutex_unlock(&freeze_lock);
    return n;
}

static void count_frozen(ouro_object *o, void *arg)
{
    if (ouro__is_immortal(o))
        return;
    *(uint64_t *)arg += (atomic_load_explicit(&o->ob_gc, memory_order_relaxed) &
                         OURO__GC_FROZEN) != 0;
}

uint64_t ouro_gc_get_freeze_count(void)
{
    uint64_t n = 0;
    ouro__heap_each_locked(count_frozen, &n);
    return n;
}

static bool is_frozen(ouro_object *o, void *arg)
{
    (void)arg;
    return atomic_load_explicit(&o->ob_gc, memory_order_relaxed) &
           OURO__GC_FROZEN;
}

int ouro_gc_unfreeze(void)
{
    ouro__reader("ouro_gc_unfreeze");
    ouro_object **objs;
    size_t n;
    pthread_mutex_lock(&freeze_lock);
    int err = ouro__heap_snapshot(is_frozen, NULL, &objs, &n);
    if (err == OURO_OK) {
        for (size_t i = 0; i < n; i++) {
            atomic_fetch_and_explicit(&objs[i]->ob_gc,
                                      ~(uint32_t)OURO__GC_FROZEN,
                                      memory_order_relaxed);
            /* A frozen object's decrements did not buffer it: make it a
             * candidate now (we hold a reference), so that garbage made
             * while it was frozen is found. */
            ouro__maybe_buffer(objs[i]);
        }
        ouro__heap_release(objs, n);
    }
    pthread_mutex_unlock(&freeze_lock);
    return err;
}
