/*
 * candidates.c - the sharded candidate set (see candidates.h).
 */
#include "candidates.h"

#include "dealloc.h"
#include "gc.h"

#include <pthread.h>
#include <string.h>

#define SHARDS 64
#define MIN_CAP 64
#define TOMBSTONE ((ouro_object *)1)

typedef struct shard {
    pthread_mutex_t lock;
    ouro_object **slots;   /* NULL, TOMBSTONE or a candidate */
    size_t cap, used, live;   /* used counts tombstones too */
    char pad[64];
} shard;

static shard shards[SHARDS];

/* The tables the last take swapped out, kept for ouro__cand_was_taken until
 * ouro__cand_forget_taken (collector thread only). */
static struct taken_table {
    ouro_object **slots;
    size_t cap;
} taken[SHARDS];
static _Atomic uint64_t added;   /* since the last take */
static atomic_bool overflowed;   /* a buffering found no memory */

static shard *shard_of(const ouro_object *o)
{
    uintptr_t h = (uintptr_t)o >> 4;
    h ^= h >> 17;
    return &shards[h % SHARDS];
}

static size_t slot_hash(const ouro_object *o, size_t cap)
{
    uint64_t h = (uint64_t)(uintptr_t)o * 0x9e3779b97f4a7c15ull;
    return (size_t)(h >> 20) & (cap - 1);
}

int ouro__cand_init(void)
{
    for (int i = 0; i < SHARDS; i++) {
        pthread_mutex_init(&shards[i].lock, NULL);
        shards[i].slots = NULL;
        shards[i].cap = shards[i].used = shards[i].live = 0;
    }
    atomic_store_explicit(&added, 0, memory_order_relaxed);
    atomic_store_explicit(&overflowed, false, memory_order_relaxed);
    return OURO_OK;
}

void ouro__cand_fini(void)
{
    ouro__cand_forget_taken();
    for (int i = 0; i < SHARDS; i++) {
        ouro__mem_free(shards[i].slots);
        shards[i].slots = NULL;
        shards[i].cap = shards[i].used = shards[i].live = 0;
        pthread_mutex_destroy(&shards[i].lock);
    }
}

/* Capacity for about `live` entries without growing. */
static size_t cap_for(size_t live)
{
    size_t cap = MIN_CAP;
    while (cap * 3 < (live + 1) * 4 * 2)
        cap *= 2;
    return cap;
}

static void place(ouro_object **slots, size_t cap, ouro_object *o)
{
    size_t i = slot_hash(o, cap);
    while (slots[i])
        i = (i + 1) & (cap - 1);
    slots[i] = o;
}

/* Room for one more entry, rehashing away tombstones; false if OOM. */
static bool reserve_locked(shard *s)
{
    if (s->cap && (s->used + 1) * 4 <= s->cap * 3)
        return true;
    size_t cap = cap_for(s->live);
    ouro_object **slots = ouro__mem_calloc(cap * sizeof *slots);
    if (!slots)
        return false;
    for (size_t i = 0; i < s->cap; i++)
        if (s->slots[i] && s->slots[i] != TOMBSTONE)
            place(slots, cap, s->slots[i]);
    ouro__mem_free(s->slots);
    s->slots = slots;
    s->cap = cap;
    s->used = s->live;
    return true;
}

void ouro__buffer_candidate(ouro_object *o)
{
    shard *s = shard_of(o);
    pthread_mutex_lock(&s->lock);
    uint32_t gc = atomic_load_explicit(&o->ob_gc, memory_order_relaxed);
    if (!(gc & OURO__GC_BUFFERED) && reserve_locked(s)) {
        /* Under the shard lock: ouro__cand_remove and the collector's take
         * see BUFFERED and the entry together. */
        atomic_fetch_or_explicit(&o->ob_gc, OURO__GC_BUFFERED,
                                 memory_order_relaxed);
        place(s->slots, s->cap, o);
        s->used++;
        s->live++;
        uint64_t n = atomic_fetch_add_explicit(&added, 1,
                                               memory_order_relaxed) + 1;
        pthread_mutex_unlock(&s->lock);
        ouro__gc_candidates_grew(n);
        return;
    }
    pthread_mutex_unlock(&s->lock);
    if (!(gc & OURO__GC_BUFFERED)) {
        /* Out of memory.  This may have been the last decrement its cycle
         * will ever see, so the next collection looks at the whole heap;
         * collecting is also the way to get memory back. */
        ouro__cand_overflow_set();
    }
}

void ouro__cand_overflow_set(void)
{
    /* release, with the acquire in _take: the collector that clears the
     * mark sees the registry as it was when the buffering failed (the
     * object is linked there). */
    atomic_store_explicit(&overflowed, true, memory_order_release);
    /* A collection now: nothing else may ever ask for one (the failed
     * buffering may have been the garbage's last decrement), and
     * collecting is also the way to get memory back. */
    ouro__gc_candidates_grew(UINT64_MAX);
}

bool ouro__cand_overflow_take(void)
{
    /* Plain load first: the common case writes nothing. */
    return atomic_load_explicit(&overflowed, memory_order_relaxed) &&
           atomic_exchange_explicit(&overflowed, false, memory_order_acquire);
}

bool ouro__cand_remove(ouro_object *o)
{
    shard *s = shard_of(o);
    bool found = false;
    pthread_mutex_lock(&s->lock);
    if (s->cap) {
        size_t i = slot_hash(o, s->cap);
        for (ouro_object *e; (e = s->slots[i]); i = (i + 1) & (s->cap - 1)) {
            if (e == o) {
                s->slots[i] = TOMBSTONE;
                s->live--;
                found = true;
                break;
            }
        }
    }
    pthread_mutex_unlock(&s->lock);
    return found;
}

/* Room in *all for `extra` more entries (allocated outside any lock). */
static bool make_room(ouro_object ***all, size_t k, size_t *cap, size_t extra)
{
    if (k + extra <= *cap)
        return true;
    size_t want = (k + extra) * 2 + 64;
    ouro_object **bigger = ouro__mem_alloc(want * sizeof *bigger);
    if (!bigger)
        return false;
    if (k)
        memcpy(bigger, *all, k * sizeof *bigger);
    ouro__mem_free(*all);
    *all = bigger;
    *cap = want;
    return true;
}

/* Take shard s's entries into *all; false if there is no memory for them,
 * leaving s untouched.  Under the lock the shard only swaps its array for
 * a fresh one sized for as many entries as it had, allocated outside the
 * lock: buffering threads never wait for the copying, and do not regrow
 * the shard step by step (each step rehashes it under the lock, a long
 * pause for the thread that happens to buffer then).  The objects are not
 * touched: they keep BUFFERED until the collector holds them (collect.c). */
static bool take_shard(shard *s, ouro_object ***all, size_t *k, size_t *cap)
{
    ouro_object **slots, **fresh = NULL;
    size_t scap, fresh_cap = 0;
    bool sized = false;   /* fresh was allocated (or could not be) */
    for (;;) {
        pthread_mutex_lock(&s->lock);
        size_t live = s->live;
        if (sized && *k + live <= *cap) {
            slots = s->slots;
            scap = s->cap;
            s->slots = fresh;   /* NULL without memory: it grows later */
            s->cap = fresh_cap;
            s->used = s->live = 0;
            pthread_mutex_unlock(&s->lock);
            break;
        }
        pthread_mutex_unlock(&s->lock);
        if (!make_room(all, *k, cap, live + live / 8 + 16)) {
            ouro__mem_free(fresh);
            return false;
        }
        if (!sized && live) {
            /* Zeroed here, not by calloc: a large calloc maps pages that
             * fault on first touch, and that touch would be a buffering
             * mutator's, inside its pause. */
            fresh_cap = cap_for(live);
            fresh = ouro__mem_alloc(fresh_cap * sizeof *fresh);
            if (fresh)
                memset(fresh, 0, fresh_cap * sizeof *fresh);
            else
                fresh_cap = 0;
        }
        sized = true;
    }
    for (size_t j = 0; j < scap; j++)
        if (slots[j] && slots[j] != TOMBSTONE)
            (*all)[(*k)++] = slots[j];
    struct taken_table *tt = &taken[s - shards];
    ouro__mem_free(tt->slots);
    tt->slots = slots;
    tt->cap = scap;
    return true;
}

bool ouro__cand_was_taken(const ouro_object *o)
{
    const struct taken_table *tt = &taken[shard_of(o) - shards];
    if (!tt->cap)
        return false;
    for (size_t i = slot_hash(o, tt->cap);; i = (i + 1) & (tt->cap - 1)) {
        const ouro_object *e = tt->slots[i];
        if (!e)
            return false;
        if (e == o)
            return true;
    }
}

void ouro__cand_forget_taken(void)
{
    for (int i = 0; i < SHARDS; i++) {
        ouro__mem_free(taken[i].slots);
        taken[i].slots = NULL;
        taken[i].cap = 0;
    }
}

int ouro__cand_take_all(ouro_object ***out, size_t *n)
{
    ouro_object **all = NULL;
    size_t k = 0, cap = 0;
    ouro__cand_forget_taken();
    atomic_store_explicit(&added, 0, memory_order_relaxed);
    for (int i = 0; i < SHARDS; i++)
        if (!take_shard(&shards[i], &all, &k, &cap))
            break;   /* out of memory: the rest stay for the next time */
    *out = all;
    *n = k;
    return OURO_OK;
}

void ouro__cand_forget(ouro_object *o)
{
    if (!(atomic_load_explicit(&o->ob_gc, memory_order_relaxed) &
          OURO__GC_BUFFERED))
        return;
    if (!ouro__cand_remove(o))
        ouro__fatal("a candidate marked BUFFERED is missing from the set");
    atomic_fetch_and_explicit(&o->ob_gc, ~(uint32_t)OURO__GC_BUFFERED,
                              memory_order_relaxed);
}

void ouro__zombie_claim(ouro_thread *t, ouro_object *o)
{
    /* acq_rel: the second claimer frees, and must see everything the first
     * did to the object; the first never touches it again. */
    uint32_t old = atomic_fetch_or_explicit(&o->ob_gc, OURO__GC_ZCLAIM,
                                            memory_order_acq_rel);
    if (!(old & OURO__GC_ZCLAIM))
        return;   /* the other party will free it */
    /* BUFFERED stayed set since the take, so nobody put it back in the
     * set: clearing the flags is all that is left of its candidacy. */
    atomic_fetch_and_explicit(
        &o->ob_gc, ~(uint32_t)(OURO__GC_BUFFERED | OURO__GC_ZCLAIM),
        memory_order_relaxed);
    ouro__push_dead(t, o);
}

uint64_t ouro__cand_count(void)
{
    return atomic_load_explicit(&added, memory_order_relaxed);
}
