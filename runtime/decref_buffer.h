/*
 * decref_buffer.h - per-thread buffers of deferred decrements.
 *
 * ouro_decref appends to the current batch (ouro__tls.dec_pos).  A batch is
 * sealed when full, at a safepoint, or on flush: sealing starts a grace
 * period and moves the batch to the pending FIFO.  A pending batch is applied
 * once its grace period has ended; batches are applied in order.
 */
#ifndef OURO_DECREF_BUFFER_H
#define OURO_DECREF_BUFFER_H

#include "thread.h"

#include <string.h>

/* Give t a first batch and point the fast path at it. */
int ouro__decbuf_init(ouro_thread *t);
/* Free t's batches (all must be empty). */
void ouro__decbuf_fini(ouro_thread *t);

/* Entries in t's current batch. */
static inline uint32_t ouro__decbuf_len(const ouro_thread *t)
{
    return (uint32_t)(ouro__tls.dec_pos - t->cur->entries);
}

void ouro__decbuf_seal(ouro_thread *t);

/* Should a safepoint seal t's current batch?  When no batch is pending, or
 * when it is a quarter full.  Every sealed batch is a whole block held
 * until its grace period ends: sealing a few entries at every safepoint
 * while grace periods are slow (more busy threads than cores) kept
 * thousands of nearly empty batches, gigabytes, waiting.  Entries left in
 * the current batch are only applied a little later. */
static inline bool ouro__decbuf_should_seal(const ouro_thread *t)
{
    uint32_t len = ouro__decbuf_len(t);
    return len && (!t->pending_head || len >= ouro__rt.batch_cap / 4);
}
/* Are the next OURO__RUN_STEP entries all o?  Applying a batch asks this
 * once an entry repeats its predecessor: eight vector comparisons instead
 * of a branch per entry, for a thread that counts one object over and over
 * and so records long runs of it.  A pointer is equal where all its lanes
 * are.  The caller guarantees that many entries from e. */
typedef uint32_t ouro__run_vec __attribute__((vector_size(16)));
#define OURO__RUN_STEP (8 * sizeof(ouro__run_vec) / sizeof(ouro_object *))
_Static_assert(sizeof(ouro__run_vec) % sizeof(ouro_object *) == 0,
               "a vector holds whole pointers");

static inline ouro__run_vec ouro__run_lanes(ouro_object *const *e, size_t i)
{
    ouro__run_vec v;
    memcpy(&v, (const char *)e + i * sizeof v, sizeof v);
    return v;
}

static inline bool ouro__run_continues(ouro_object *const *e, ouro_object *o)
{
    ouro_object *fill[sizeof(ouro__run_vec) / sizeof(ouro_object *)];
    for (size_t i = 0; i < sizeof fill / sizeof *fill; i++)
        fill[i] = o;
    ouro__run_vec want;
    memcpy(&want, fill, sizeof want);
    ouro__run_vec eq =
        (ouro__run_lanes(e, 0) == want) & (ouro__run_lanes(e, 1) == want) &
        (ouro__run_lanes(e, 2) == want) & (ouro__run_lanes(e, 3) == want) &
        (ouro__run_lanes(e, 4) == want) & (ouro__run_lanes(e, 5) == want) &
        (ouro__run_lanes(e, 6) == want) & (ouro__run_lanes(e, 7) == want);
    uint64_t half[2];
    memcpy(half, &eq, sizeof half);
    return (half[0] & half[1]) == UINT64_MAX;
}

/* Apply the pending decrements whose grace period is over: all of them, or
 * about `max` entries (a run of one object is not split).  Safepoints
 * apply OURO__APPLY_PER_PAUSE, or what the thread recorded since its last
 * safepoint if that is more, so that one pause stays short and the backlog
 * does not grow; a full buffer applies one batch's worth, so that a thread
 * that never reaches a safepoint still keeps up.  The rest waits for the
 * next; a batch may be left half applied. */
#define OURO__APPLY_PER_PAUSE 256
void ouro__decbuf_apply_ready(ouro_thread *t);
void ouro__decbuf_apply_some(ouro_thread *t, uint32_t max);

/* Apply a sealed batch whose grace period is over, then recycle it. */
void ouro__decbuf_apply_batch(ouro_thread *t, ouro_batch *b);

/* Queue a raw memory block (from ouro__mem_alloc) to be freed after a grace
 * period, by the calling attached thread. */
void ouro__defer_free(void *block);

/* Apply everything this thread has recorded, and the work detached threads
 * left behind, and free everything that dies, waiting for grace periods as
 * needed.  The caller must hold no borrowed
 * pointers: this passes quiescent points. */
void ouro__flush_all(ouro_thread *t);

/* Wait, passing quiescent points, until grace period `goal` is over (t is
 * online and holds no borrowed pointers). */
void ouro__wait_grace_period(ouro_thread *t, uint64_t goal);

/* Occurrences of o among t's unapplied decrements. */
uint64_t ouro__decbuf_count(const ouro_thread *t, const ouro_object *o);

#endif /* OURO_DECREF_BUFFER_H */
