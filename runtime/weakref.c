/*
 * weakref.c - weak references: the weakref type and the weak table.
 *
 * The table maps a referent's address to the weak reference objects that
 * point at it.  32 stripes, chosen by address, each under a side lock
 * (heap.h) and holding a chained hash table whose chains run through the weak reference objects
 * themselves.  docs/weakrefs.md gives the invariants (W1-W5); the comments
 * below name the one each step keeps.
 */
#include "weakref.h"

#include "argcheck.h"
#include "builtin.h"
#include "heap.h"
#include "refcount.h"

#include <string.h>

#define STRIPES OURO__SIDE_STRIPES
#define MIN_BUCKETS 16

typedef struct weakref_obj weakref_obj;
struct weakref_obj {
    ouro_object ob;
    ouro_object *key;                  /* the referent's address; fixed */
    /* key until cleared, then NULL (never back); written under the
     * stripe lock, read under it (or relaxed as a hint). */
    ouro_object *_Atomic referent;
    ouro_weakref_callback callback;    /* fixed */
    ouro_object *data;                 /* fixed; a counted reference */
    bool immortal_referent;            /* fixed: never registered */
    weakref_obj *next, **pprev;        /* stripe lock; pprev NULL: unlinked */
    weakref_obj *pending_next;         /* the clearing thread only */
};

/* Stripe i is guarded by side lock i (heap.h), which also guards the
 * registry shard of the same addresses. */
typedef struct stripe {
    weakref_obj **buckets;             /* lock */
    size_t nbuckets, count;            /* lock */
} stripe;

static stripe stripes[STRIPES];

static uint64_t addr_hash(const ouro_object *o)
{
    return (uint64_t)(uintptr_t)o * 0x9e3779b97f4a7c15ull;
}

static stripe *stripe_of(const ouro_object *key)
{
    return &stripes[ouro__side_stripe(key)];
}

static pthread_mutex_t *lock_of(const stripe *s)
{
    return &ouro__side_locks[s - stripes].mutex;
}

static weakref_obj **bucket_of(stripe *s, const ouro_object *key)
{
    return &s->buckets[(addr_hash(key) >> 20) & (s->nbuckets - 1)];
}

int ouro__weak_init(void)
{
    for (int i = 0; i < STRIPES; i++) {
        stripes[i].buckets = NULL;
        stripes[i].nbuckets = stripes[i].count = 0;
    }
    return OURO_OK;
}

void ouro__weak_fini(void)
{
    for (int i = 0; i < STRIPES; i++) {
        ouro__mem_free(stripes[i].buckets);
        stripes[i].buckets = NULL;
        stripes[i].nbuckets = stripes[i].count = 0;
    }
}

/* ---- the chains (stripe lock held) ---------------------------------------- */

static void link_locked(stripe *s, weakref_obj *w)
{
    weakref_obj **b = bucket_of(s, w->key);
    w->next = *b;
    if (*b)
        (*b)->pprev = &w->next;
    w->pprev = b;
    *b = w;
    s->count++;
}

static void unlink_locked(stripe *s, weakref_obj *w)
{
    *w->pprev = w->next;
    if (w->next)
        w->next->pprev = w->pprev;
    w->next = NULL;
    w->pprev = NULL;
    s->count--;
}

/* Room for one more entry: grow when chains average two.  False only when
 * the stripe has no buckets at all and none can be allocated; a failed
 * growth just keeps longer chains. */
static bool reserve_locked(stripe *s)
{
    if (s->nbuckets && s->count < s->nbuckets * 2)
        return true;
    size_t nb = s->nbuckets ? s->nbuckets * 2 : MIN_BUCKETS;
    weakref_obj **buckets = ouro__mem_calloc(nb * sizeof *buckets);
    if (!buckets)
        return s->nbuckets != 0;
    weakref_obj **old = s->buckets;
    size_t oldn = s->nbuckets;
    s->buckets = buckets;
    s->nbuckets = nb;
    s->count = 0;
    for (size_t i = 0; i < oldn; i++) {
        for (weakref_obj *w = old[i], *next; w; w = next) {
            next = w->next;
            link_locked(s, w);
        }
    }
    ouro__mem_free(old);
    return true;
}

static bool has_entries_locked(stripe *s, const ouro_object *key)
{
    if (!s->nbuckets)
        return false;
    for (weakref_obj *w = *bucket_of(s, key); w; w = w->next)
        if (w->key == key)
            return true;
    return false;
}

/* ---- the type --------------------------------------------------------- */

static void weakref_traverse(ouro_object *self, ouro_visit_fn visit, void *arg)
{
    weakref_obj *w = (weakref_obj *)self;
    if (w->data)
        visit(w->data, arg);
}

static void weakref_destroy(ouro_object *self)
{
    weakref_obj *w = (weakref_obj *)self;
    /* Left the table at its death (ouro__weak_self_died or the settle). */
    OURO_ASSERT(w->pprev == NULL);
    (void)w;
}

const ouro_type ouro_weakref_type = {
    .name = "weakref",
    .size = sizeof(weakref_obj),
    .flags = OURO_TYPE_GC | OURO_TYPE_WEAKREFABLE,
    .traverse = weakref_traverse,
    .destroy = weakref_destroy,
};

static weakref_obj *as_weakref(ouro_object *o)
{
    return o && o->ob_type == &ouro_weakref_type ? (weakref_obj *)o : NULL;
}

/* The weak reference argument of `api`: NULL or another type aborts (a
 * NULL result would read as "the referent is dead"). */
static weakref_obj *weakref_arg(ouro_object *o, const char *api)
{
    ouro__check_arg(o, api, "weakref");
    if (OURO_UNLIKELY(o->ob_type != &ouro_weakref_type))
        ouro__fatal("%s of a '%s' object (%p): not a weak reference", api,
                    o->ob_type->name, (void *)o);
    return (weakref_obj *)o;
}

ouro_object *ouro_weakref_new(ouro_object *referent,
                              ouro_weakref_callback callback,
                              ouro_object *data)
{
    ouro__self_or_die("ouro_weakref_new");
    ouro__check_arg(referent, "ouro_weakref_new", "referent");
    if (data)
        ouro__check_alive(data, "ouro_weakref_new");
    if (!(referent->ob_type->flags & OURO_TYPE_WEAKREFABLE))
        return NULL;
    weakref_obj *w = (weakref_obj *)ouro__alloc_object(&ouro_weakref_type,
                                                       sizeof *w);
    if (!w)
        return NULL;
    w->key = referent;
    atomic_init(&w->referent, referent);
    w->callback = callback;
    w->data = NULL;
    w->next = w->pending_next = NULL;
    w->pprev = NULL;
    /* An immortal never dies: nothing to clear, no entry needed. */
    w->immortal_referent = ouro__is_immortal(referent);
    if (!w->immortal_referent) {
        stripe *s = stripe_of(referent);
        pthread_mutex_lock(lock_of(s));
        if (!reserve_locked(s)) {
            pthread_mutex_unlock(lock_of(s));
            ouro__free_unshared(&w->ob);
            return NULL;
        }
        link_locked(s, w);
        /* Under the lock (W3): the settle step reads it under the lock,
         * and the thread deciding the death is ordered after our
         * reference's release. */
        atomic_fetch_or_explicit(&referent->ob_gc, OURO__GC_HAS_WEAKREFS,
                                 memory_order_relaxed);
        pthread_mutex_unlock(lock_of(s));
    }
    /* The callback cannot run before the referent dies, and it cannot die
     * while our caller holds it: data is set in time. */
    ouro_xincref(data);
    w->data = data;
    ouro__heap_track(&w->ob);
    return &w->ob;
}

ouro_object *ouro_weakref_get(ouro_object *weakref)
{
    ouro__reader("ouro_weakref_get");   /* W5: online only */
    weakref_obj *w = weakref_arg(weakref, "ouro_weakref_get");
    if (w->immortal_referent)
        return w->key;
    /* relaxed: a hint; NULL is final (it never goes back). */
    if (!atomic_load_explicit(&w->referent, memory_order_relaxed))
        return NULL;
    stripe *s = stripe_of(w->key);
    ouro_object *r, *got = NULL;
    pthread_mutex_lock(lock_of(s));
    /* Under the lock: non-NULL means the header is intact (W1). */
    r = atomic_load_explicit(&w->referent, memory_order_relaxed);
    if (r && ouro__try_incref_shared(r)) {   /* W2 */
        ouro__note_touch(r);                 /* W4 */
        got = r;
    }
    pthread_mutex_unlock(lock_of(s));
    return got;
}

ouro_object *ouro_weakref_data(ouro_object *weakref)
{
    weakref_obj *w = weakref_arg(weakref, "ouro_weakref_data");
    ouro_xincref(w->data);
    return w->data;
}

size_t ouro_weakref_count(ouro_object *o)
{
    ouro__check_arg(o, "ouro_weakref_count", "o");
    /* relaxed: a hint; the entries are read under the lock. */
    if (!(atomic_load_explicit(&o->ob_gc, memory_order_relaxed) &
          OURO__GC_HAS_WEAKREFS))
        return 0;
    stripe *s = stripe_of(o);
    size_t n = 0;
    pthread_mutex_lock(lock_of(s));
    if (s->nbuckets)
        for (weakref_obj *w = *bucket_of(s, o); w; w = w->next)
            n += w->key == o &&
                 atomic_load_explicit(&w->referent, memory_order_relaxed);
    pthread_mutex_unlock(lock_of(s));
    return n;
}

/* ---- clearing at a death by counting -------------------------------------- */

void ouro__weak_referent_died(ouro_object *o)
{
    stripe *s = stripe_of(o);
    pthread_mutex_lock(lock_of(s));
    if (s->nbuckets)
        for (weakref_obj *w = *bucket_of(s, o); w; w = w->next)
            if (w->key == o)
                atomic_store_explicit(&w->referent, NULL,
                                      memory_order_relaxed);
    pthread_mutex_unlock(lock_of(s));
}

void ouro__weak_self_died(ouro_object *wo)
{
    weakref_obj *w = (weakref_obj *)wo;
    if (w->immortal_referent)
        return;
    stripe *s = stripe_of(w->key);
    pthread_mutex_lock(lock_of(s));
    if (w->pprev) {
        bool referent_alive =
            atomic_load_explicit(&w->referent, memory_order_relaxed) != NULL;
        unlink_locked(s, w);
        /* The last weak reference of a live referent: its deaths go back
         * to paying nothing.  Its header is intact while the referent is
         * not cleared (W1). */
        if (referent_alive && !has_entries_locked(s, w->key))
            atomic_fetch_and_explicit(&w->key->ob_gc,
                                      ~(uint32_t)OURO__GC_HAS_WEAKREFS,
                                      memory_order_relaxed);
    }
    atomic_store_explicit(&w->referent, NULL, memory_order_relaxed);
    pthread_mutex_unlock(lock_of(s));
}

static void queue_due(ouro__weak_pending *due, weakref_obj *w)
{
    w->pending_next = NULL;
    if (due->tail)
        ((weakref_obj *)due->tail)->pending_next = w;
    else
        due->head = &w->ob;
    due->tail = &w->ob;
}

/* Unlink every weak reference to `key` (lock held); queue the callbacks of
 * those that are alive (a linked weak reference is never on a dead list,
 * so its count is intact: W1) and not garbage. */
static void detach_locked(stripe *s, ouro_object *key,
                          bool (*is_garbage)(ouro_object *, void *), void *arg,
                          ouro__weak_pending *due)
{
    if (!s->nbuckets)
        return;
    weakref_obj **b = bucket_of(s, key);
    for (weakref_obj *w = *b, *next; w; w = next) {
        next = w->next;
        if (w->key != key)
            continue;
        unlink_locked(s, w);
        atomic_store_explicit(&w->referent, NULL, memory_order_relaxed);
        if (!w->callback || (is_garbage && is_garbage(&w->ob, arg)))
            continue;
        if (ouro__try_incref_shared(&w->ob)) {
            ouro__note_touch(&w->ob);   /* W4, for the weak reference */
            queue_due(due, w);
        }
    }
}

void ouro__weak_run_callbacks(ouro__weak_pending *due)
{
    for (ouro_object *o = due->head, *next; o; o = next) {
        weakref_obj *w = (weakref_obj *)o;
        next = w->pending_next ? &w->pending_next->ob : NULL;
        w->callback(o, w->data);
        ouro_decref(o);
    }
    due->head = due->tail = NULL;
}

void ouro__weak_clear_and_call(ouro_thread *t, ouro_object *o)
{
    (void)t;
    stripe *s = stripe_of(o);
    ouro__weak_pending due = {NULL, NULL};
    pthread_mutex_lock(lock_of(s));
    detach_locked(s, o, NULL, NULL, &due);
    atomic_fetch_and_explicit(&o->ob_gc, ~(uint32_t)OURO__GC_HAS_WEAKREFS,
                              memory_order_relaxed);
    pthread_mutex_unlock(lock_of(s));
    ouro__weak_run_callbacks(&due);
}

/* ---- the collector's settle step ----------------------------------------- */

void ouro__weak_detach_garbage_locked(ouro_object *o,
                                      bool (*is_garbage)(ouro_object *w,
                                                         void *arg),
                                      void *arg, ouro__weak_pending *due)
{
    if (atomic_load_explicit(&o->ob_gc, memory_order_relaxed) &
        OURO__GC_HAS_WEAKREFS) {
        detach_locked(stripe_of(o), o, is_garbage, arg, due);
        atomic_fetch_and_explicit(&o->ob_gc,
                                  ~(uint32_t)OURO__GC_HAS_WEAKREFS,
                                  memory_order_relaxed);
    }
    weakref_obj *w = as_weakref(o);
    if (w && w->pprev) {
        /* Garbage itself: its callback is never called. */
        unlink_locked(stripe_of(w->key), w);
        atomic_store_explicit(&w->referent, NULL, memory_order_relaxed);
    }
}
