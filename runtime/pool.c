/*
 * pool.c - the depot and the chunks behind the per-thread block caches
 * (see pool.h and docs/allocator.md).
 *
 * A batch is a list of free blocks linked through their first word; in the
 * depot its first block also holds the next batch (second word) and the
 * batch's length (third word): every block in use is 32 bytes or more
 * (an object is 24 or more; class 0 stays empty).  A block
 * is in exactly one place: handed out, in one thread's cache, or in one
 * depot batch.  The depot's lock orders a batch's hand-over, so whatever a
 * thread wrote to a block before it gave the batch away happens before
 * the next owner's writes (that is all the reuse of memory needs: a block
 * is freed only after every access to its object, on any thread, happens
 * before the free; docs/counting.md).
 */
#include "pool.h"

#include <pthread.h>
#include <stdint.h>

#if defined(__SANITIZE_ADDRESS__)
#define POOL_UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define POOL_UNDER_ASAN 1
#endif
#endif

/* Blocks are cut from chunks of this many bytes (a 16-byte link to the
 * next chunk first, then the blocks). */
#define CHUNK_BYTES (64u * 1024)
#define CHUNK_HEAD 16

_Static_assert(OURO__POOL_GRAIN * 2 >= 3 * sizeof(void *),
               "a batch's first block holds three words");

bool ouro__pool_on;

typedef struct depot {
    _Alignas(64) pthread_mutex_t lock;   /* one line per class, or more */
    void *batches;      /* through each first block's second word */
} depot;

static depot depots[OURO__POOL_CLASSES];

static pthread_mutex_t chunk_lock = PTHREAD_MUTEX_INITIALIZER;
static void *chunks;                /* every chunk, through its first word */
static _Atomic size_t chunk_bytes;  /* written under chunk_lock */
static atomic_bool pinned;          /* an immortal object is in a chunk */

static size_t block_size(int cls)
{
    return (size_t)(cls + 1) * OURO__POOL_GRAIN;
}

void ouro__pool_init(const ouro_config *cfg)
{
#ifdef POOL_UNDER_ASAN
    ouro__pool_on = false;
#else
    ouro__pool_on = cfg->malloc_fn == NULL;
#endif
    for (int i = 0; i < OURO__POOL_CLASSES; i++) {
        pthread_mutex_init(&depots[i].lock, NULL);
        depots[i].batches = NULL;
    }
    atomic_store_explicit(&pinned, false, memory_order_relaxed);
}

void ouro__pool_pin(void)
{
    atomic_store_explicit(&pinned, true, memory_order_relaxed);
}

void ouro__pool_fini(void)
{
    pthread_mutex_lock(&chunk_lock);
    void *c = chunks;
    chunks = NULL;
    atomic_store_explicit(&chunk_bytes, 0, memory_order_relaxed);
    pthread_mutex_unlock(&chunk_lock);
    /* relaxed: every thread that could pin has detached, and the registry
     * lock ordered its work before ours. */
    if (atomic_load_explicit(&pinned, memory_order_relaxed))
        c = NULL;   /* an immortal lives in one of them: left in place */
    while (c) {
        void *next = *(void **)c;
        ouro__mem_free(c);
        c = next;
    }
    for (int i = 0; i < OURO__POOL_CLASSES; i++) {
        depots[i].batches = NULL;
        pthread_mutex_destroy(&depots[i].lock);
    }
}

size_t ouro__pool_bytes(void)
{
    return atomic_load_explicit(&chunk_bytes, memory_order_relaxed);
}

/* ---- the depot ---------------------------------------------------------- */

static void depot_put(int cls, void *head, uint32_t n)
{
    depot *d = &depots[cls];
    ((void **)head)[2] = (void *)(uintptr_t)n;
    pthread_mutex_lock(&d->lock);
    ((void **)head)[1] = d->batches;
    d->batches = head;
    pthread_mutex_unlock(&d->lock);
}

/* A batch from the depot, its length in *n; NULL if it has none. */
static void *depot_get(int cls, uint32_t *n)
{
    depot *d = &depots[cls];
    pthread_mutex_lock(&d->lock);
    void *head = d->batches;
    if (head)
        d->batches = ((void **)head)[1];
    pthread_mutex_unlock(&d->lock);
    if (head)
        *n = (uint32_t)(uintptr_t)((void **)head)[2];
    return head;
}

/* ---- the slow paths ----------------------------------------------------- */

/* A fresh chunk for c to cut blocks from; false without memory. */
static bool new_chunk(ouro__pool_cache *c)
{
    char *chunk = ouro__mem_alloc(CHUNK_BYTES);
    if (!chunk)
        return false;
    pthread_mutex_lock(&chunk_lock);
    *(void **)chunk = chunks;
    chunks = chunk;
    atomic_store_explicit(&chunk_bytes,
                          atomic_load_explicit(&chunk_bytes,
                                               memory_order_relaxed) +
                              CHUNK_BYTES,
                          memory_order_relaxed);
    pthread_mutex_unlock(&chunk_lock);
    /* What is left of the last chunk (less than a block) is lost. */
    c->bump = chunk + CHUNK_HEAD;
    c->bump_end = chunk + CHUNK_BYTES;
    return true;
}

void *ouro__pool_alloc_slow(ouro__pool_caches *p, int cls)
{
    ouro__pool_cache *c = &p->c[cls];
    /* The cache's spare batch, then one from the depot, then a block cut
     * from the chunk, in that order: freed memory before new memory. */
    uint32_t n = OURO__POOL_BATCH;
    void *b = c->full;
    if (b)
        c->full = NULL;
    else
        b = depot_get(cls, &n);
    if (b) {
        c->cur = *(void **)b;
        c->ncur = n - 1;
        return b;
    }
    size_t size = block_size(cls);
    if ((size_t)(c->bump_end - c->bump) < size && !new_chunk(c))
        return NULL;
    b = c->bump;
    c->bump += size;
    return b;
}

void ouro__pool_free_slow(ouro__pool_caches *p, int cls, void *block)
{
    *(void **)block = NULL;
    if (!p) {   /* no thread: a batch of one */
        depot_put(cls, block, 1);
        return;
    }
    /* `cur` is a whole batch: it becomes the spare, and the spare, if any,
     * goes to the depot for other threads. */
    ouro__pool_cache *c = &p->c[cls];
    if (c->full)
        depot_put(cls, c->full, OURO__POOL_BATCH);
    c->full = c->cur;
    c->cur = block;
    c->ncur = 1;
}

void ouro__pool_flush(ouro__pool_caches *p)
{
    for (int cls = 0; cls < OURO__POOL_CLASSES; cls++) {
        ouro__pool_cache *c = &p->c[cls];
        /* The rest of the chunk first, cut into blocks for the depot, then
         * the freed blocks: the depot is a stack, and blocks freed lately
         * are the likeliest to be in a cache still. */
        size_t size = block_size(cls);
        void *head = NULL;
        uint32_t n = 0;
        for (; (size_t)(c->bump_end - c->bump) >= size; c->bump += size) {
            *(void **)c->bump = head;
            head = c->bump;
            if (++n == OURO__POOL_BATCH) {
                depot_put(cls, head, n);
                head = NULL;
                n = 0;
            }
        }
        if (head)
            depot_put(cls, head, n);
        if (c->full)
            depot_put(cls, c->full, OURO__POOL_BATCH);
        if (c->cur)
            depot_put(cls, c->cur, c->ncur);
        *c = (ouro__pool_cache){0};
    }
}
