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
/* Slots of the previous table moved per insertion while a shard grows:
 * enough that the old table is empty long before the new one fills (it
 * has at most 3/8 of the new capacity in entries). */
#define DRAIN_STEP 32

/* An open-addressing table of candidates. */
typedef struct table {
    ouro_object **slots;   /* NULL, TOMBSTONE or a candidate */
    size_t cap, used;      /* used counts tombstones too */
} table;

/* A shard grows without a pause: a bigger table is allocated and zeroed
 * outside the lock, becomes `cur`, and the previous one (`old`) is moved
 * into it DRAIN_STEP slots per insertion.  Until it is empty, lookups look
 * in both. */
typedef struct shard {
    pthread_mutex_t lock;
    table cur, old;
    /* A zeroed table the shard may grow into without allocating: the
     * collector recycles each taken table into it once it is done with it
     * (ouro__cand_forget_taken), so that growth in a buffering mutator's
     * pause, or the next take, costs no zeroing. */
    table ready;
    size_t old_pos;    /* old's slots below this have moved */
    size_t old_live;   /* candidates still in old */
    size_t live;       /* candidates in both */
    char pad[64];
} shard;

/* Two sets of SHARDS shards each: the young set (mutators buffer here)
 * and the old set (candidates that were old when a young collection took
 * them, and old objects its walks stopped at; the collector alone inserts
 * there). */
enum { YOUNG_SET = 0, OLD_SET = 1 };
static shard shards[2 * SHARDS];

/* The tables the last take swapped out, kept for ouro__cand_was_taken until
 * ouro__cand_forget_taken (collector thread only). */
static struct taken_tables {
    table cur, old;
    size_t live;   /* the candidates taken from them */
} taken[2 * SHARDS];
static _Atomic uint64_t added;      /* young, since the last take */
static _Atomic uint64_t old_added;  /* old, since the last full take */
static atomic_bool overflowed;   /* a buffering found no memory */

/* Candidates are placed by address: a 4 KiB page's objects go to one
 * shard, and each 512-byte chunk of it to one block of 16 slots (two cache
 * lines), at its 32-byte offset in the chunk.  Objects buffered together
 * were mostly allocated together, so a run of bufferings (or of deaths
 * removing themselves) touches a few lines instead of missing the cache
 * once each.  Objects are 40 bytes apart at least, so a chunk's objects
 * have distinct offsets and fill at most 13 of its 16 slots: a block
 * overflows into the next only when another chunk shares it, and probe
 * runs stay about as short as with scattered keys.  Pages and chunks are
 * spread over shards and blocks by a multiplicative hash. */
#define PAGE_SHIFT 12
#define CHUNK_SHIFT 9
#define SLOT_SHIFT 5           /* one slot per 32 bytes of a chunk */
#define BLOCK_SLOTS (1u << (CHUNK_SHIFT - SLOT_SHIFT))

static inline uint64_t spread(uintptr_t x)
{
    return (uint64_t)x * 0x9e3779b97f4a7c15ull;
}

static shard *shard_of(int set, const ouro_object *o)
{
    _Static_assert(SHARDS == 64, "shard_of takes the top 6 bits");
    return &shards[set * SHARDS +
                   (size_t)(spread((uintptr_t)o >> PAGE_SHIFT) >> 58)];
}

static size_t slot_hash(const ouro_object *o, size_t cap)
{
    _Static_assert(MIN_CAP >= BLOCK_SLOTS, "a block fits a table");
    uintptr_t a = (uintptr_t)o;
    size_t block = (size_t)(spread(a >> CHUNK_SHIFT) >> 24);
    size_t within = (a >> SLOT_SHIFT) & (BLOCK_SLOTS - 1);
    return (block * BLOCK_SLOTS + within) & (cap - 1);
}

static void table_free(table *t)
{
    ouro__mem_free(t->slots);
    *t = (table){NULL, 0, 0};
}

int ouro__cand_init(void)
{
    for (int i = 0; i < 2 * SHARDS; i++) {
        shard *s = &shards[i];
        pthread_mutex_init(&s->lock, NULL);
        s->cur = s->old = s->ready = (table){NULL, 0, 0};
        s->old_pos = s->old_live = s->live = 0;
    }
    atomic_store_explicit(&added, 0, memory_order_relaxed);
    atomic_store_explicit(&old_added, 0, memory_order_relaxed);
    atomic_store_explicit(&overflowed, false, memory_order_relaxed);
    return OURO_OK;
}

void ouro__cand_fini(void)
{
    ouro__cand_forget_taken(NULL);
    for (int i = 0; i < 2 * SHARDS; i++) {
        shard *s = &shards[i];
        table_free(&s->cur);
        table_free(&s->old);
        table_free(&s->ready);
        s->old_pos = s->old_live = s->live = 0;
        pthread_mutex_destroy(&s->lock);
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

/* A zeroed array of cap slots, or NULL.  Zeroed here, not by calloc: a
 * large calloc maps pages that fault on first touch, and that touch would
 * be under the shard lock, inside a buffering mutator's pause. */
static ouro_object **zeroed_slots(size_t cap)
{
    ouro_object **slots = ouro__mem_alloc(cap * sizeof *slots);
    if (slots)
        memset(slots, 0, cap * sizeof *slots);
    return slots;
}

static void place(table *t, ouro_object *o)
{
    size_t i = slot_hash(o, t->cap);
    while (t->slots[i])
        i = (i + 1) & (t->cap - 1);
    t->slots[i] = o;
    t->used++;
}

/* Tombstone o's slot in t; false if o is not there. */
static bool table_remove(table *t, const ouro_object *o)
{
    if (!t->cap)
        return false;
    for (size_t i = slot_hash(o, t->cap);; i = (i + 1) & (t->cap - 1)) {
        ouro_object *e = t->slots[i];
        if (!e)
            return false;
        if (e == o) {
            t->slots[i] = TOMBSTONE;
            return true;
        }
    }
}

static bool table_has(const table *t, const ouro_object *o)
{
    if (!t->cap)
        return false;
    for (size_t i = slot_hash(o, t->cap);; i = (i + 1) & (t->cap - 1)) {
        const ouro_object *e = t->slots[i];
        if (!e)
            return false;
        if (e == o)
            return true;
    }
}

/* Move up to `n` slots of s's old table into cur (tombstoned behind, so
 * that probe chains in old stay intact); free old once it is empty. */
static void drain_old(shard *s, size_t n)
{
    table *old = &s->old;
    while (old->slots && n--) {
        if (s->old_pos == old->cap) {
            table_free(old);
            s->old_pos = 0;
            break;
        }
        ouro_object *e = old->slots[s->old_pos];
        if (e && e != TOMBSTONE) {
            place(&s->cur, e);
            old->slots[s->old_pos] = TOMBSTONE;
            s->old_live--;
        }
        s->old_pos++;
    }
}

/* Room in cur for one more entry, counting what old still holds: 0, or the
 * capacity of the table that s needs next. */
static size_t need_locked(shard *s)
{
    drain_old(s, DRAIN_STEP);
    if (s->cur.cap &&
        (s->cur.used + s->old_live + 1) * 4 <= s->cur.cap * 3)
        return 0;
    return cap_for(s->live);
}

/* Make `slots` (cap entries, zeroed) s's table; the previous one drains
 * into it.  An old table not yet empty (rare: a shard that grows again at
 * once) is moved now. */
static void grow_locked(shard *s, ouro_object **slots, size_t cap)
{
    drain_old(s, SIZE_MAX);
    s->old = s->cur;
    s->old_pos = 0;
    s->old_live = s->live;
    s->cur = (table){slots, cap, 0};
}

/* Place o in `set`; false if it was BUFFERED already or there was no
 * memory.  A taken candidate (still BUFFERED, in no set) is placed all the
 * same. */
static bool insert(int set, ouro_object *o, bool taken_one)
{
    shard *s = shard_of(set, o);
    ouro_object **spare = NULL;   /* a bigger table, made outside the lock */
    size_t spare_cap = 0;
    pthread_mutex_lock(&s->lock);
    for (;;) {
        uint32_t gc = atomic_load_explicit(&o->ob_gc, memory_order_relaxed);
        if ((gc & OURO__GC_BUFFERED) && !taken_one) {
            pthread_mutex_unlock(&s->lock);
            ouro__mem_free(spare);
            return false;
        }
        size_t need = need_locked(s);
        if (!need)
            break;
        /* The ready table, if it holds what the shard has at half load
         * at most (cap_for asks for 3/8). */
        if (s->ready.cap > s->cur.cap && s->ready.cap >= 2 * (s->live + 1)) {
            table r = s->ready;
            s->ready = (table){NULL, 0, 0};
            grow_locked(s, r.slots, r.cap);
            break;
        }
        if (spare && spare_cap >= need) {
            grow_locked(s, spare, spare_cap);
            spare = NULL;
            break;
        }
        pthread_mutex_unlock(&s->lock);
        ouro__mem_free(spare);
        spare_cap = need;
        spare = zeroed_slots(spare_cap);
        pthread_mutex_lock(&s->lock);
        if (!spare) {
            /* Out of memory.  Past 3/4 full the table still takes entries
             * (slower probes) while one slot stays empty; the next
             * insertion tries to grow it again. */
            bool mine = taken_one || !(atomic_load_explicit(
                                           &o->ob_gc, memory_order_relaxed) &
                                       OURO__GC_BUFFERED);
            if (mine && s->cur.cap &&
                s->cur.used + s->old_live + 2 <= s->cur.cap)
                break;
            pthread_mutex_unlock(&s->lock);
            /* Full, or no table at all.  This may have been the last
             * decrement its cycle will ever see, so the next collection
             * looks at the whole heap; collecting is also the way to get
             * memory back.  (Buffered meanwhile by another thread: fine.) */
            if (mine)
                ouro__cand_overflow_set();
            return false;
        }
    }
    /* Under the shard lock: ouro__cand_remove and the collector's take see
     * BUFFERED and the entry together.  The lock alone does not exclude a
     * second insertion: the young and the old shard of o have different
     * locks, and a mutator's buffering and a walk's boundary insertion may
     * race.  The flag's old value decides: whoever set it places o, so a
     * BUFFERED object is in exactly one set (or taken). */
    uint32_t prev = atomic_fetch_or_explicit(&o->ob_gc, OURO__GC_BUFFERED,
                                             memory_order_relaxed);
    if ((prev & OURO__GC_BUFFERED) && !taken_one) {
        pthread_mutex_unlock(&s->lock);
        ouro__mem_free(spare);
        return false;
    }
    place(&s->cur, o);
    s->live++;
    pthread_mutex_unlock(&s->lock);
    ouro__mem_free(spare);   /* someone else grew the shard meanwhile */
    return true;
}

void ouro__buffer_candidate(ouro_object *o)
{
    if (!insert(YOUNG_SET, o, false))
        return;
    uint64_t n = atomic_fetch_add_explicit(&added, 1, memory_order_relaxed) + 1;
    ouro__gc_candidates_grew(n);
}

bool ouro__cand_defer(ouro_object *o)
{
    if (!insert(OLD_SET, o, true))
        return false;
    atomic_fetch_add_explicit(&old_added, 1, memory_order_relaxed);
    return true;
}

void ouro__cand_buffer_old(ouro_object *o)
{
    if (insert(OLD_SET, o, false))
        atomic_fetch_add_explicit(&old_added, 1, memory_order_relaxed);
}

uint64_t ouro__cand_old_count(void)
{
    return atomic_load_explicit(&old_added, memory_order_relaxed);
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
    ouro__gc_request();
}

bool ouro__cand_overflow_pending(void)
{
    return atomic_load_explicit(&overflowed, memory_order_relaxed);
}

bool ouro__cand_overflow_take(void)
{
    /* Plain load first: the common case writes nothing. */
    return atomic_load_explicit(&overflowed, memory_order_relaxed) &&
           atomic_exchange_explicit(&overflowed, false, memory_order_acquire);
}

static bool remove_from(shard *s, const ouro_object *o)
{
    pthread_mutex_lock(&s->lock);
    bool found = table_remove(&s->cur, o);
    if (!found && table_remove(&s->old, o)) {
        found = true;
        s->old_live--;
    }
    if (found)
        s->live--;
    pthread_mutex_unlock(&s->lock);
    return found;
}

bool ouro__cand_remove(ouro_object *o)
{
    /* Young first: an old candidate's death is the rarer case. */
    return remove_from(shard_of(YOUNG_SET, o), o) ||
           remove_from(shard_of(OLD_SET, o), o);
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

static void copy_entries(const table *t, ouro_object **all, size_t *k)
{
    for (size_t j = 0; j < t->cap; j++)
        if (t->slots[j] && t->slots[j] != TOMBSTONE)
            all[(*k)++] = t->slots[j];
}

/* Take shard s's entries into *all; false if there is no memory for them,
 * leaving s untouched.  Under the lock the shard only swaps its tables for
 * its ready table, or else for a fresh one sized for as many entries as it
 * had, allocated and zeroed outside the lock: buffering threads never wait
 * for the copying, and do not regrow the shard step by step (zeroing a
 * bigger table in a mutator's pause).  The objects are not touched: they
 * keep BUFFERED until the collector holds them (collect.c). */
static bool take_shard(shard *s, ouro_object ***all, size_t *k, size_t *cap)
{
    table cur, old;
    ouro_object **fresh = NULL;
    size_t fresh_cap = 0;
    bool tried = false;   /* a fresh table was made, or could not be */
    for (;;) {
        pthread_mutex_lock(&s->lock);
        size_t live = s->live;
        bool ready = s->ready.slots != NULL;
        if (*k + live <= *cap && (ready || tried || !live)) {
            cur = s->cur;
            old = s->old;
            if (ready) {
                s->cur = s->ready;
                s->ready = (table){NULL, 0, 0};
            } else {   /* NULL without memory: it grows later */
                s->cur = (table){fresh, fresh ? fresh_cap : 0, 0};
                fresh = NULL;
            }
            s->old = (table){NULL, 0, 0};
            s->old_pos = s->old_live = s->live = 0;
            pthread_mutex_unlock(&s->lock);
            break;
        }
        pthread_mutex_unlock(&s->lock);
        if (!make_room(all, *k, cap, live + live / 8 + 16)) {
            ouro__mem_free(fresh);
            return false;
        }
        if (!ready && live && !tried) {
            fresh_cap = cap_for(live);
            fresh = zeroed_slots(fresh_cap);
            tried = true;
        }
    }
    ouro__mem_free(fresh);   /* a ready table was swapped in instead */
    size_t before = *k;
    copy_entries(&cur, *all, k);
    copy_entries(&old, *all, k);
    struct taken_tables *tt = &taken[s - shards];
    table_free(&tt->cur);
    table_free(&tt->old);
    tt->cur = cur;
    tt->old = old;
    tt->live = *k - before;
    return true;
}

bool ouro__cand_was_taken(const ouro_object *o)
{
    for (int set = YOUNG_SET; set <= OLD_SET; set++) {
        const struct taken_tables *tt = &taken[shard_of(set, o) - shards];
        if (table_has(&tt->cur, o) || table_has(&tt->old, o))
            return true;
    }
    return false;
}

void ouro__cand_untake(const ouro_object *o)
{
    for (int set = YOUNG_SET; set <= OLD_SET; set++) {
        struct taken_tables *tt = &taken[shard_of(set, o) - shards];
        if (table_remove(&tt->cur, o) || table_remove(&tt->old, o))
            return;
    }
}

void ouro__cand_forget_taken(ouro_thread *self)
{
    for (int i = 0; i < 2 * SHARDS; i++) {
        if (self)
            ouro__quiescent(self);
        /* The larger taken table is zeroed here, on the collector, and
         * becomes the shard's ready table unless it has a larger one.  One
         * far larger than the shard needed this time (a burst of
         * candidates once) is replaced by one for twice what it held:
         * every take copies a table's every slot, and this zeroes them. */
        table t = taken[i].cur.cap >= taken[i].old.cap ? taken[i].cur
                                                       : taken[i].old;
        table other = taken[i].cur.cap >= taken[i].old.cap ? taken[i].old
                                                           : taken[i].cur;
        size_t want = cap_for(2 * taken[i].live);
        taken[i].cur = taken[i].old = (table){NULL, 0, 0};
        taken[i].live = 0;
        table_free(&other);
        if (!t.slots)
            continue;
        if (t.cap > 4 * want) {
            table_free(&t);
            ouro_object **slots = zeroed_slots(want);
            if (!slots)
                continue;
            t = (table){slots, want, 0};
        } else {
            memset(t.slots, 0, t.cap * sizeof *t.slots);
            t.used = 0;
        }
        shard *s = &shards[i];
        pthread_mutex_lock(&s->lock);
        if (s->ready.cap < t.cap) {
            table swap = s->ready;
            s->ready = t;
            t = swap;
        }
        pthread_mutex_unlock(&s->lock);
        table_free(&t);
    }
}

int ouro__cand_take_all(ouro_thread *self, bool young, ouro_object ***out,
                        size_t *n)
{
    ouro_object **all = NULL;
    size_t k = 0, cap = 0, total = 0;
    int nshards = young ? SHARDS : 2 * SHARDS;
    ouro__cand_forget_taken(self);
    /* One array for all of them, as far as the count now tells
     * (make_room grows it for what is buffered meanwhile). */
    for (int i = 0; i < nshards; i++) {
        pthread_mutex_lock(&shards[i].lock);
        total += shards[i].live;
        pthread_mutex_unlock(&shards[i].lock);
    }
    if (total && !make_room(&all, 0, &cap, total + total / 8 + 64)) {
        *out = NULL;
        *n = 0;
        return OURO_ENOMEM;   /* all stay for the next time */
    }
    atomic_store_explicit(&added, 0, memory_order_relaxed);
    int err = OURO_OK;
    for (int i = 0; i < nshards; i++) {
        if (!take_shard(&shards[i], &all, &k, &cap)) {
            err = OURO_ENOMEM;   /* the rest stay for the next time */
            break;
        }
        if (self)
            ouro__quiescent(self);
    }
    /* Only the collector inserts into the old set, and it is here. */
    if (!young && err == OURO_OK)
        atomic_store_explicit(&old_added, 0, memory_order_relaxed);
    *out = all;
    *n = k;
    return err;
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
