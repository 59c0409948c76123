/*
 * pool.h - object memory: per-thread caches of fixed-size blocks
 * (docs/allocator.md).
 *
 * Every object's memory block (pre-header included) of up to
 * OURO__POOL_MAX_BLOCK bytes comes from one of OURO__POOL_CLASSES size
 * classes, 16 bytes apart.  A thread allocates from and frees into its own
 * cache of each class, without atomics; whole batches of
 * OURO__POOL_BATCH blocks move between the caches and a shared depot under
 * its lock; a thread whose caches and the depot are empty cuts new
 * blocks from a chunk of its own, and chunks go back only at
 * ouro_shutdown.  So a block freed by one thread (the collector,
 * freeing garbage the mutators made) reaches another in a batch.
 *
 * The pools are off, and every block comes from ouro__mem_alloc, when the
 * configuration names its own allocator (it sees every object), and under
 * AddressSanitizer (it sees every object's life).
 */
#ifndef OURO_POOL_H
#define OURO_POOL_H

#include "internal.h"

#define OURO__POOL_GRAIN 16
#define OURO__POOL_MAX_BLOCK 512
#define OURO__POOL_CLASSES (OURO__POOL_MAX_BLOCK / OURO__POOL_GRAIN)
#define OURO__POOL_BATCH 64

/* One thread's cache of one class: `cur`, a list of `ncur` free blocks
 * (linked through their first word), and `full`, one complete batch or
 * NULL; then what is left of the chunk it cuts blocks from. */
typedef struct ouro__pool_cache {
    void *cur;
    uint32_t ncur;
    void *full;
    char *bump, *bump_end;
} ouro__pool_cache;

typedef struct ouro__pool_caches {
    ouro__pool_cache c[OURO__POOL_CLASSES];
} ouro__pool_caches;

/* Whether blocks come from the pools (set by ouro__pool_init). */
extern bool ouro__pool_on;

/* The class of a block of `size` bytes, or -1 if it has none (too large,
 * or the pools are off). */
static inline int ouro__pool_class(size_t size)
{
    if (!ouro__pool_on || size - 1 >= OURO__POOL_MAX_BLOCK)
        return -1;
    return (int)((size - 1) / OURO__POOL_GRAIN);
}

void *ouro__pool_alloc_slow(ouro__pool_caches *p, int cls);
void ouro__pool_free_slow(ouro__pool_caches *p, int cls, void *block);

/* A block of class `cls` from the cache `p` (the calling thread's); NULL
 * when out of memory. */
static inline void *ouro__pool_alloc(ouro__pool_caches *p, int cls)
{
    ouro__pool_cache *c = &p->c[cls];
    void *b = c->cur;
    if (OURO_LIKELY(b != NULL)) {
        c->cur = *(void **)b;
        c->ncur--;
        return b;
    }
    return ouro__pool_alloc_slow(p, cls);
}

/* Give `block` of class `cls` back to the cache `p` (the calling
 * thread's), or, with p NULL (no attached thread), to the depot. */
static inline void ouro__pool_free(ouro__pool_caches *p, int cls, void *block)
{
    ouro__pool_cache *c = p ? &p->c[cls] : NULL;
    if (OURO_LIKELY(c && c->ncur < OURO__POOL_BATCH)) {
        *(void **)block = c->cur;
        c->cur = block;
        c->ncur++;
        return;
    }
    ouro__pool_free_slow(p, cls, block);
}

/* A thread detaches: everything its caches hold goes to the depot. */
void ouro__pool_flush(ouro__pool_caches *p);

/* ouro_init: the pools start empty, on unless `cfg` names an allocator. */
void ouro__pool_init(const ouro_config *cfg);
/* An object in the pools will never be freed (ouro_make_immortal): the
 * chunks outlive ouro_shutdown. */
void ouro__pool_pin(void);
/* ouro_shutdown, after every thread detached: the chunks are freed, unless
 * pinned. */
void ouro__pool_fini(void);
/* Bytes of chunks the pools hold (in use or free). */
size_t ouro__pool_bytes(void);

#endif /* OURO_POOL_H */
