/*
 * check_alloc.c - the allocator the stress scenarios give the runtime.
 *
 * Layout of a block:  [head: size, tag] [payload: size bytes] [tail guard]
 * The tag is LIVE_TAG or FREED_TAG mixed with the head's own address, so a
 * pointer we never returned almost never carries a valid tag.  free swaps
 * LIVE for FREED with a CAS: of two frees of one block, exactly one wins,
 * and the other reports a double free.  The payload is then poisoned and
 * the block waits in a quarantine ring; when it leaves the ring the poison
 * is verified, which catches writes to freed memory, and only then does
 * the memory go back to malloc.
 */
#include "harness.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define LIVE_TAG 0x4c49564542304b53ull    /* arbitrary bit patterns */
#define FREED_TAG 0x465245454430f00dull
#define TAIL_GUARD 0x5441494c47554152ull
#define POISON 0xdb
#define POISON_CHECKED 256   /* bytes of poison verified per block */
#define QUARANTINE_SHARDS 16
#define QUARANTINE_DEPTH 128

typedef struct block_head {
    uint64_t size;
    _Atomic uint64_t tag;
} block_head;   /* 16 bytes: the payload keeps malloc's alignment */

static struct quarantine {
    pthread_mutex_t lock;
    block_head *ring[QUARANTINE_DEPTH];
    unsigned pos;
} quarantine[QUARANTINE_SHARDS];

static pthread_once_t quarantine_once = PTHREAD_ONCE_INIT;
static _Atomic int64_t live_blocks;

static _Thread_local unsigned fail_every;
static _Thread_local uint64_t armed_calls, injected;

static void quarantine_init(void)
{
    for (int i = 0; i < QUARANTINE_SHARDS; i++)
        pthread_mutex_init(&quarantine[i].lock, NULL);
}

static uint64_t tag_for(const block_head *h, uint64_t base)
{
    return base ^ ((uintptr_t)h * 0x9E3779B97F4A7C15ull);
}

void *check_alloc_malloc(size_t size, void *ctx)
{
    (void)ctx;
    if (fail_every && ++armed_calls % fail_every == 0) {
        injected++;
        return NULL;
    }
    block_head *h = malloc(sizeof *h + size + sizeof(uint64_t));
    if (!h)
        return NULL;
    h->size = size;
    /* relaxed: the block is not shared until the caller publishes it. */
    atomic_store_explicit(&h->tag, tag_for(h, LIVE_TAG), memory_order_relaxed);
    uint64_t guard = TAIL_GUARD;
    memcpy((char *)(h + 1) + size, &guard, sizeof guard);
    /* relaxed: a statistic, read after the threads are joined. */
    atomic_fetch_add_explicit(&live_blocks, 1, memory_order_relaxed);
    return h + 1;
}

/* Verify and release a block leaving the quarantine. */
static void release(block_head *h)
{
    size_t n = h->size < POISON_CHECKED ? h->size : POISON_CHECKED;
    const unsigned char *p = (const unsigned char *)(h + 1);
    for (size_t i = 0; i < n; i++) {
        if (p[i] != POISON) {
            stress_violation("write after free: byte %zu of a freed %llu-byte "
                             "block at %p changed to 0x%02x",
                             i, (unsigned long long)h->size, (void *)p, p[i]);
            break;
        }
    }
    free(h);
}

void check_alloc_free(void *ptr, void *ctx)
{
    (void)ctx;
    if (!ptr)
        return;
    block_head *h = (block_head *)ptr - 1;
    uint64_t expect = tag_for(h, LIVE_TAG);
    /* acq_rel: of two racing frees exactly one wins, and the winner sees
     * every write the other threads made to the block before freeing. */
    if (!atomic_compare_exchange_strong_explicit(&h->tag, &expect,
                                                 tag_for(h, FREED_TAG),
                                                 memory_order_acq_rel,
                                                 memory_order_acquire)) {
        if (expect == tag_for(h, FREED_TAG))
            stress_violation("double free of the block at %p", ptr);
        else
            stress_violation("free of a pointer the allocator never returned "
                             "(or a corrupted block header) at %p", ptr);
        return;   /* leave it alone: freeing it would corrupt malloc */
    }
    uint64_t guard;
    memcpy(&guard, (char *)ptr + h->size, sizeof guard);
    if (guard != TAIL_GUARD)
        stress_violation("write past the end of the %llu-byte block at %p",
                         (unsigned long long)h->size, ptr);
    memset(ptr, POISON, h->size);
    atomic_fetch_sub_explicit(&live_blocks, 1, memory_order_relaxed);

    pthread_once(&quarantine_once, quarantine_init);
    struct quarantine *q =
        &quarantine[((uintptr_t)h >> 4) % QUARANTINE_SHARDS];
    pthread_mutex_lock(&q->lock);
    block_head *old = q->ring[q->pos];
    q->ring[q->pos] = h;
    q->pos = (q->pos + 1) % QUARANTINE_DEPTH;
    pthread_mutex_unlock(&q->lock);
    if (old)
        release(old);
}

int64_t check_alloc_live(void)
{
    return atomic_load_explicit(&live_blocks, memory_order_relaxed);
}

void check_alloc_drain(void)
{
    pthread_once(&quarantine_once, quarantine_init);
    for (int s = 0; s < QUARANTINE_SHARDS; s++) {
        struct quarantine *q = &quarantine[s];
        pthread_mutex_lock(&q->lock);
        for (unsigned i = 0; i < QUARANTINE_DEPTH; i++) {
            if (q->ring[i])
                release(q->ring[i]);
            q->ring[i] = NULL;
        }
        q->pos = 0;
        pthread_mutex_unlock(&q->lock);
    }
}

void check_alloc_fail_every(unsigned every)
{
    fail_every = every;
    armed_calls = 0;
}

uint64_t check_alloc_injected(void)
{
    return injected;
}
