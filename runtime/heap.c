/*
 * heap.c - the registry of tracked objects (see heap.h).
 *
 * Cost per tracked object: 16 bytes, and one uncontended shard lock when
 * it is linked (end of construction) and one when it leaves (its death).
 */
#include "heap.h"

#include "refcount.h"
#include "weakref.h"

#define SHARDS OURO__SIDE_STRIPES

ouro__side_lock ouro__side_locks[OURO__SIDE_STRIPES];

/* Shard i is guarded by side lock i. */
typedef struct shard {
    ouro__heap_link head;   /* circular, sentinel */
    /* Objects linked.  Written under the lock; atomic only so that
     * ouro__heap_count may read it without the lock (a hint). */
    _Atomic size_t count;
} shard;

static shard shards[SHARDS];

/* Shared by the walks, exclusive to the settle step (heap.h).  Writer
 * first: a settle waits for the walks under way, and walks that come after
 * it wait for it, so a stream of walks cannot hold a collection back.
 * (Writer preference is a glibc extension; elsewhere the default kind
 * lets a stream of overlapping walks delay a settle, never break one.) */
#ifdef PTHREAD_RWLOCK_WRITER_NONRECURSIVE_INITIALIZER_NP
static pthread_rwlock_t walk_gate =
    PTHREAD_RWLOCK_WRITER_NONRECURSIVE_INITIALIZER_NP;
#elif defined(__GLIBC__)
#error "build with _GNU_SOURCE: the walk gate needs glibc's writer-first kind"
#else
static pthread_rwlock_t walk_gate = PTHREAD_RWLOCK_INITIALIZER;
#endif

/* The gate's calls fail only on misuse (a walk inside the settle step on
 * its own thread: EDEADLK on glibc; other C libraries may hang instead) or
 * on a reader count past the system's limit; going on would break W4's
 * exclusion, so either is fatal. */
static void gate_check(int err, const char *what)
{
    if (OURO_UNLIKELY(err))
        ouro__fatal("the registry's walk gate: %s failed (error %d)", what,
                    err);
}

void ouro__walk_gate_enter(void)
{
    gate_check(pthread_rwlock_rdlock(&walk_gate), "entering a walk");
}

void ouro__walk_gate_leave(void)
{
    gate_check(pthread_rwlock_unlock(&walk_gate), "leaving a walk");
}

void ouro__walk_gate_close(void)
{
    gate_check(pthread_rwlock_wrlock(&walk_gate), "closing for the settle step");
}

void ouro__walk_gate_open(void)
{
    gate_check(pthread_rwlock_unlock(&walk_gate), "opening after the settle step");
}

static shard *shard_of(const ouro_object *o)
{
    return &shards[ouro__side_stripe(o)];
}

static pthread_mutex_t *lock_of(const shard *s)
{
    return &ouro__side_locks[s - shards].mutex;
}

static ouro__heap_link *link_of(ouro_object *o)
{
    return (ouro__heap_link *)o - 1;
}

static ouro_object *object_of(ouro__heap_link *l)
{
    return (ouro_object *)(l + 1);
}

void ouro__heap_init(void)
{
    for (int i = 0; i < SHARDS; i++) {
        pthread_mutex_init(&ouro__side_locks[i].mutex, NULL);
        /* Objects left over from an earlier run (immortals) are forgotten. */
        shards[i].head.prev = shards[i].head.next = &shards[i].head;
        atomic_store_explicit(&shards[i].count, 0, memory_order_relaxed);
    }
}

static void track_locked(ouro_object *o)
{
    shard *s = shard_of(o);
    ouro__heap_link *l = link_of(o);
    if (l->next)
        return;
    l->next = s->head.next;
    l->prev = &s->head;
    s->head.next->prev = l;
    s->head.next = l;
    atomic_store_explicit(&s->count,
                          atomic_load_explicit(&s->count,
                                               memory_order_relaxed) + 1,
                          memory_order_relaxed);
}

void ouro__heap_track(ouro_object *o)
{
    if (!ouro__has_preheader(o->ob_type))
        return;
    pthread_mutex_t *m = lock_of(shard_of(o));
    pthread_mutex_lock(m);
    track_locked(o);
    pthread_mutex_unlock(m);
}

void ouro__heap_untrack_locked(ouro_object *o)
{
    ouro__heap_link *l = link_of(o);
    if (!l->next)
        return;
    l->prev->next = l->next;
    l->next->prev = l->prev;
    l->prev = l->next = NULL;
    shard *s = shard_of(o);
    atomic_store_explicit(&s->count,
                          atomic_load_explicit(&s->count,
                                               memory_order_relaxed) - 1,
                          memory_order_relaxed);
}

size_t ouro__heap_count(void)
{
    size_t n = 0;
    for (int i = 0; i < SHARDS; i++)
        n += atomic_load_explicit(&shards[i].count, memory_order_relaxed);
    return n;
}

void ouro__heap_untrack(ouro_object *o)
{
    shard *s = shard_of(o);
    pthread_mutex_lock(lock_of(s));
    ouro__heap_untrack_locked(o);
    pthread_mutex_unlock(lock_of(s));
}

void ouro__leave_side_tables(ouro_object *o, uint32_t gc)
{
    if (ouro__has_preheader(o->ob_type)) {
        ouro__heap_untrack(o);
        if (ouro__is_weakref(o))
            ouro__weak_self_died(o);
    }
    if (gc & OURO__GC_HAS_WEAKREFS)
        ouro__weak_referent_died(o);
}

void ouro__side_lock_all(void)
{
    for (int i = 0; i < OURO__SIDE_STRIPES; i++)
        pthread_mutex_lock(&ouro__side_locks[i].mutex);
}

void ouro__side_unlock_all(void)
{
    for (int i = OURO__SIDE_STRIPES - 1; i >= 0; i--)
        pthread_mutex_unlock(&ouro__side_locks[i].mutex);
}

void ouro__heap_release(ouro_object **objs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        ouro_decref(objs[i]);
    ouro__mem_free(objs);
}

int ouro__heap_snapshot(bool (*filter)(ouro_object *o, void *arg), void *arg,
                        ouro_object ***out, size_t *n)
{
    ouro_object **all = NULL;
    size_t k = 0, cap = 0;
    ouro__walk_gate_enter();
    for (int i = 0; i < SHARDS; i++) {
        shard *s = &shards[i];
        pthread_mutex_lock(lock_of(s));
        for (ouro__heap_link *l = s->head.next; l != &s->head; l = l->next) {
            ouro_object *o = object_of(l);
            if (filter && !filter(o, arg))
                continue;
            if (k == cap) {
                /* Growing under the lock: the allocator takes none of
                 * ours. */
                size_t c = cap ? cap * 2 : 256;
                ouro_object **bigger = ouro__mem_alloc(c * sizeof *bigger);
                if (!bigger) {
                    pthread_mutex_unlock(lock_of(s));
                    ouro__walk_gate_leave();
                    ouro__heap_release(all, k);
                    *out = NULL;
                    *n = 0;
                    return OURO_ENOMEM;
                }
                if (k)
                    __builtin_memcpy(bigger, all, k * sizeof *bigger);
                ouro__mem_free(all);
                all = bigger;
                cap = c;
            }
            /* Linked, so its count fields are intact (W1); a decided death
             * makes the try-increment fail (W2). */
            if (ouro__is_immortal(o)) {
                all[k++] = o;
            } else if (ouro__try_incref_shared(o)) {
                ouro__note_touch(o);   /* W4 */
                all[k++] = o;
            }
        }
        pthread_mutex_unlock(lock_of(s));
    }
    ouro__walk_gate_leave();
    *out = all;
    *n = k;
    return OURO_OK;
}

void ouro__heap_each_locked(void (*fn)(ouro_object *o, void *arg), void *arg)
{
    ouro__walk_gate_enter();
    for (int i = 0; i < SHARDS; i++) {
        shard *s = &shards[i];
        pthread_mutex_lock(lock_of(s));
        for (ouro__heap_link *l = s->head.next; l != &s->head; l = l->next)
            fn(object_of(l), arg);
        pthread_mutex_unlock(lock_of(s));
    }
    ouro__walk_gate_leave();
}
