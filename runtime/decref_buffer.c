/*
 * decref_buffer.c - deferred decrements: batches, sealing, application.
 *
 * The invariant that makes lock-free "load then incref" safe
 * (docs/grace-periods.md): a decrement is applied only after a grace period
 * that started after the decrement was recorded.  A reader that loaded a
 * pointer from a shared location before the location was overwritten is
 * still before its next quiescent point, or has already incremented; in
 * both cases the count cannot reach zero under it.
 */
#include "decref_buffer.h"

#include "dealloc.h"
#include "orphan.h"
#include "pause.h"
#include "refcount.h"

#include <sched.h>
#include <time.h>

#define SPARE_BATCHES 2
#define RAW_TAG ((uintptr_t)1)

static ouro_batch *batch_alloc(void)
{
    return ouro__mem_alloc(sizeof(ouro_batch) +
                           (size_t)ouro__rt.batch_cap * sizeof(ouro_object *));
}

static ouro_batch *batch_get(ouro_thread *t)
{
    ouro_batch *b = t->spare;
    if (b) {
        t->spare = b->next;
        return b;
    }
    return batch_alloc();
}

static void batch_recycle(ouro_thread *t, ouro_batch *b)
{
    unsigned n = 0;
    for (ouro_batch *s = t->spare; s; s = s->next)
        n++;
    if (n >= SPARE_BATCHES) {
        ouro__mem_free(b);
        return;
    }
    b->next = t->spare;
    t->spare = b;
}

static void bind_current(ouro_thread *t, ouro_batch *b)
{
    t->cur = b;
    ouro__tls.dec_pos = b->entries;
    ouro__tls.dec_end = b->entries + ouro__rt.batch_cap;
}

int ouro__decbuf_init(ouro_thread *t)
{
    ouro_batch *b = batch_alloc();
    if (!b)
        return OURO_ENOMEM;
    bind_current(t, b);
    return OURO_OK;
}

void ouro__decbuf_fini(ouro_thread *t)
{
    OURO_ASSERT(!t->pending_head && ouro__decbuf_len(t) == 0);
    ouro__mem_free(t->cur);
    t->cur = NULL;
    while (t->spare) {
        ouro_batch *b = t->spare;
        t->spare = b->next;
        ouro__mem_free(b);
    }
    ouro__tls.dec_pos = ouro__tls.dec_end = NULL;
}

void ouro__decbuf_seal(ouro_thread *t)
{
    uint32_t len = ouro__decbuf_len(t);
    if (len == 0)
        return;
    ouro_batch *fresh = batch_get(t);
    /* Out of memory: applying ready batches may recycle one; a counting
     * operation cannot fail, so only then give up. */
    for (int tries = 0; OURO_UNLIKELY(!fresh) && tries < 3; tries++) {
        ouro__decbuf_apply_ready(t);
        fresh = batch_get(t);
    }
    if (OURO_UNLIKELY(!fresh))
        ouro__fatal("out of memory for a deferred-decrement batch "
                    "(%u batches pending)", t->npending);
    ouro_batch *b = t->cur;
    b->len = len;
    b->pos = 0;
    b->next = NULL;
    b->goal = ouro__gp_advance();
    if (t->pending_tail)
        t->pending_tail->next = b;
    else
        t->pending_head = b;
    t->pending_tail = b;
    t->npending++;
    bind_current(t, fresh);
}

#define PREFETCH_AHEAD 8

/* Apply b's entries from b->pos, about `budget` of them (a run of one
 * object is not split); true once the batch is done. */
static bool apply_entries(ouro_thread *t, ouro_batch *b, uint32_t budget)
{
    ouro_object **e = b->entries + b->pos, **end = b->entries + b->len;
    ouro_object **stop = (uint32_t)(end - e) > budget ? e + budget : end;
    while (e < stop) {
        /* The objects were released a grace period ago and are mostly
         * out of cache: start the next misses now, for writing (the
         * counts change).  A prefetch never faults, so a raw block's
         * tagged pointer or one past the batch's end is harmless. */
        if (e + PREFETCH_AHEAD < end)
            __builtin_prefetch(e[PREFETCH_AHEAD], 1);
        ouro_object *o = *e++;
        if ((uintptr_t)o & RAW_TAG) {
            ouro__mem_free((void *)((uintptr_t)o & ~RAW_TAG));
            continue;
        }
        if (OURO_UNLIKELY(!o))
            ouro__apply_decref(t, o);   /* reports ouro_decref(NULL) */
        uint32_t n = 1;
        if (e < end && *e == o) {   /* a run of the same object */
            while ((size_t)(end - e) >= OURO__RUN_STEP &&
                   ouro__run_continues(e, o)) {
                e += OURO__RUN_STEP;
                n += OURO__RUN_STEP;
            }
            while (e < end && *e == o) {
                e++;
                n++;
            }
        }
        ouro__apply_decref_run(t, o, n);
    }
    b->pos = (uint32_t)(e - b->entries);
    if (e < end)
        return false;
    OURO__COUNT(t, batches_applied, 1);
    return true;
}

void ouro__decbuf_apply_batch(ouro_thread *t, ouro_batch *b)
{
    apply_entries(t, b, UINT32_MAX);
    batch_recycle(t, b);
}

void ouro__decbuf_apply_ready(ouro_thread *t)
{
    ouro__decbuf_apply_some(t, UINT32_MAX);
}

void ouro__decbuf_apply_some(ouro_thread *t, uint32_t max)
{
    ouro_batch *b;
    while (max && (b = t->pending_head) && ouro__gp_poll(b->goal)) {
        uint32_t before = b->pos;
        bool done = apply_entries(t, b, max);
        uint32_t applied = b->pos - before;
        max = applied >= max ? 0 : max - applied;
        if (!done)
            break;
        t->pending_head = b->next;
        if (!t->pending_head)
            t->pending_tail = NULL;
        t->npending--;
        batch_recycle(t, b);
    }
}

void ouro__decref_slow(ouro_object *o)
{
    ouro_thread *t = ouro__self_or_die("ouro_decref");
    ouro__pause_clock pc = ouro__pause_begin();   /* a full buffer is a pause too */
    bool went_online = ouro__apply_online_begin(t);
    ouro__decbuf_seal(t);
    ouro__decbuf_apply_some(t, ouro__rt.batch_cap);
    ouro__apply_online_end(t, went_online);
    *ouro__tls.dec_pos++ = o;
    ouro__pause_end(t, pc);
}

void ouro__defer_free(void *block)
{
    if (!block)
        return;
    ouro_thread *t = ouro__self_or_die("ouro__defer_free");
    if (ouro__tls.dec_pos == ouro__tls.dec_end) {
        bool went_online = ouro__apply_online_begin(t);
        ouro__decbuf_seal(t);
        ouro__decbuf_apply_ready(t);
        ouro__apply_online_end(t, went_online);
    }
    *ouro__tls.dec_pos++ = (ouro_object *)((uintptr_t)block | RAW_TAG);
}

void ouro__wait_grace_period(ouro_thread *t, uint64_t goal)
{
    for (unsigned spins = 0; !ouro__gp_poll(goal); spins++) {
        ouro__quiescent(t);
        if (spins < 64) {
            sched_yield();
        } else {
            struct timespec ts = {0, spins < 256 ? 20000 : 200000};
            nanosleep(&ts, NULL);
        }
    }
}

static bool has_work(ouro_thread *t)
{
    return ouro__decbuf_len(t) || t->pending_head ||
           (t->dead_top && !t->in_free_work) ||
           atomic_load_explicit(&t->mq_nonempty, memory_order_relaxed) ||
           atomic_load_explicit(&ouro__orphans_present, memory_order_relaxed);
}

void ouro__flush_all(ouro_thread *t)
{
    /* Flush is a quiescent point and may run finalizers, which read
     * containers: inside a blocking region, come online for its duration. */
    unsigned depth = t->blocking_depth;
    if (depth) {
        t->blocking_depth = 0;
        ouro__gp_online(t->gp);
    }
    /* A quiescent point even with nothing to do: a thread that calls
     * ouro_flush() in a loop must not stall everyone's grace periods. */
    ouro__quiescent(t);
    while (has_work(t)) {
        ouro__quiescent(t);
        if (atomic_load_explicit(&t->mq_nonempty, memory_order_relaxed))
            ouro__process_merge_queue(t);
        ouro__decbuf_seal(t);
        if (t->pending_tail) {
            ouro__wait_grace_period(t, t->pending_tail->goal);
            ouro__decbuf_apply_ready(t);
        }
        uint64_t orphan_goal = ouro__orphan_max_goal();
        if (orphan_goal)
            ouro__wait_grace_period(t, orphan_goal);
        ouro__orphan_adopt(t);
        if (t->in_free_work)
            break;   /* called from a finalizer: the outer slice goes on */
        while (ouro__free_slice(t, ouro__rt.free_slice))
            ouro__quiescent(t);
    }
    if (depth) {
        ouro__gp_offline(t->gp);
        t->blocking_depth = depth;
    }
}

uint64_t ouro__decbuf_count(const ouro_thread *t, const ouro_object *o)
{
    uint64_t n = 0;
    for (ouro_object **p = t->cur->entries; p < ouro__tls.dec_pos; p++)
        n += *p == o;
    for (const ouro_batch *b = t->pending_head; b; b = b->next)
        for (uint32_t i = b->pos; i < b->len; i++)
            n += b->entries[i] == o;
    return n;
}
