/*
 * gp.c - grace-period sequence numbers and the per-thread slots.
 *
 * Slots live in fixed chunks of 64 that are never moved or freed before
 * ouro_shutdown, so a poller walks them without a lock.  Acquiring and
 * releasing a slot takes slot_lock (attach/detach only).
 *
 * Why not liburcu's urcu-qsbr: see docs/grace-periods.md (0.13 has no
 * non-blocking poll of a grace period, and its inline-assembly barriers are
 * invisible to ThreadSanitizer).
 */
#include "gp.h"

#include <pthread.h>

#define GP_CHUNK_SLOTS 64

struct gp_chunk {
    ouro_gp_slot slots[GP_CHUNK_SLOTS];
    /* Written once under slot_lock (release), read by pollers (acquire). */
    struct gp_chunk *_Atomic next;
};

/* Starts at 1 so that 0 can mean "offline". */
_Atomic uint64_t ouro__gp_wr_seq = 1;
/* Cached lower bound of every online slot's seq: a goal at or below it has
 * been reached.  Only grows. */
static _Atomic uint64_t gp_rd_seq = 1;
static struct gp_chunk *_Atomic gp_chunks;
static pthread_mutex_t slot_lock = PTHREAD_MUTEX_INITIALIZER;

int ouro__gp_init(void)
{
    atomic_store_explicit(&ouro__gp_wr_seq, 1, memory_order_relaxed);
    atomic_store_explicit(&gp_rd_seq, 1, memory_order_relaxed);
    return OURO_OK;
}

void ouro__gp_fini(void)
{
    pthread_mutex_lock(&slot_lock);
    struct gp_chunk *c = atomic_load_explicit(&gp_chunks, memory_order_relaxed);
    atomic_store_explicit(&gp_chunks, NULL, memory_order_relaxed);
    while (c) {
        struct gp_chunk *next = atomic_load_explicit(&c->next,
                                                     memory_order_relaxed);
        ouro__mem_free(c);
        c = next;
    }
    pthread_mutex_unlock(&slot_lock);
}

static ouro_gp_slot *find_free_slot_locked(struct gp_chunk **tail)
{
    *tail = NULL;
    for (struct gp_chunk *c = atomic_load_explicit(&gp_chunks,
                                                   memory_order_relaxed);
         c; c = atomic_load_explicit(&c->next, memory_order_relaxed)) {
        for (int i = 0; i < GP_CHUNK_SLOTS; i++)
            if (!c->slots[i].in_use)
                return &c->slots[i];
        *tail = c;
    }
    return NULL;
}

ouro_gp_slot *ouro__gp_slot_acquire(void)
{
    pthread_mutex_lock(&slot_lock);
    struct gp_chunk *tail;
    ouro_gp_slot *slot = find_free_slot_locked(&tail);
    if (!slot) {
        struct gp_chunk *c = ouro__mem_calloc(sizeof *c);
        if (c) {
            /* release: a poller that finds the chunk sees zeroed slots. */
            if (tail)
                atomic_store_explicit(&tail->next, c, memory_order_release);
            else
                atomic_store_explicit(&gp_chunks, c, memory_order_release);
            slot = &c->slots[0];
        }
    }
    if (slot)
        slot->in_use = true;
    pthread_mutex_unlock(&slot_lock);
    return slot;
}

void ouro__gp_slot_release(ouro_gp_slot *slot)
{
    ouro__gp_offline(slot);
    pthread_mutex_lock(&slot_lock);
    slot->in_use = false;
    pthread_mutex_unlock(&slot_lock);
}

void ouro__gp_online(ouro_gp_slot *slot)
{
    uint64_t seq = atomic_load_explicit(&ouro__gp_wr_seq, memory_order_acquire);
    atomic_store_explicit(&slot->seq, seq, memory_order_relaxed);
    /* seq_cst fence: pairs with the fence in ouro__gp_poll.  Store-buffering
     * case: either the poller sees this slot online, or this thread's later
     * loads see every unlink made before the poller's fence. */
    atomic_thread_fence(memory_order_seq_cst);
}

void ouro__gp_offline(ouro_gp_slot *slot)
{
    /* release: pairs with the acquire load in ouro__gp_poll. */
    atomic_store_explicit(&slot->seq, OURO__GP_OFFLINE, memory_order_release);
}

uint64_t ouro__gp_advance(void)
{
    /* release: the caller's unlinking stores are visible to every reader
     * whose acquire load in ouro__gp_quiescent returns the new value. */
    return atomic_fetch_add_explicit(&ouro__gp_wr_seq, 2,
                                     memory_order_release) + 2;
}

uint64_t ouro__gp_count(void)
{
    return (atomic_load_explicit(&ouro__gp_wr_seq, memory_order_relaxed) - 1) / 2;
}

/* Smallest seq among online slots, or `min` when none is lower. */
static uint64_t scan_min_seq(uint64_t min)
{
    for (struct gp_chunk *c = atomic_load_explicit(&gp_chunks,
                                                   memory_order_acquire);
         c; c = atomic_load_explicit(&c->next, memory_order_acquire)) {
        for (int i = 0; i < GP_CHUNK_SLOTS; i++) {
            /* acquire: pairs with the release store of a quiescent point or
             * of going offline. */
            uint64_t s = atomic_load_explicit(&c->slots[i].seq,
                                              memory_order_acquire);
            if (s != OURO__GP_OFFLINE && s < min)
                min = s;
        }
    }
    return min;
}

bool ouro__gp_poll(uint64_t goal)
{
    /* acquire: pairs with the release CAS below made by another poller,
     * which itself acquired every slot it read. */
    if (goal <= atomic_load_explicit(&gp_rd_seq, memory_order_acquire))
        return true;
    /* acquire, and before the fence: every unlink published by an advance
     * up to this value happens before the fence, so the fence argument
     * (pairs with the fence in ouro__gp_online) covers it.  The cached
     * rd_seq inherits this through its release/acquire. */
    uint64_t now = atomic_load_explicit(&ouro__gp_wr_seq, memory_order_acquire);
    atomic_thread_fence(memory_order_seq_cst);
    uint64_t min = scan_min_seq(now);
    uint64_t cached = atomic_load_explicit(&gp_rd_seq, memory_order_relaxed);
    while (cached < min &&
           !atomic_compare_exchange_weak_explicit(&gp_rd_seq, &cached, min,
                                                  memory_order_release,
                                                  memory_order_relaxed))
        ;
    return goal <= min;
}
