/*
 * orphan.c - the pool of work handed over by detached threads.
 */
#include "orphan.h"

#include "dealloc.h"
#include "decref_buffer.h"

_Atomic bool ouro__orphans_present;

/* All protected by pool_lock. */
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
/* Batches in hand-over order; goals are NOT ordered (threads seal and hand
 * over in different orders), so adoption scans the whole list. */
static ouro_batch *pool_head, *pool_tail;
static uint64_t pool_max_goal;              /* largest goal in the list */
static ouro_object *pool_dead;              /* linked via _ob_free_next */
static uint64_t pool_ndead;

static void update_present_locked(void)
{
    atomic_store_explicit(&ouro__orphans_present, pool_head || pool_dead,
                          memory_order_relaxed);
}

void ouro__orphan_hand_over(ouro_thread *t)
{
    if (!t->pending_head && !t->dead_top)
        return;
    pthread_mutex_lock(&pool_lock);
    if (t->pending_head) {
        if (pool_tail)
            pool_tail->next = t->pending_head;
        else
            pool_head = t->pending_head;
        pool_tail = t->pending_tail;
        /* A thread's own batches are in goal order: its tail is its max. */
        if (t->pending_tail->goal > pool_max_goal)
            pool_max_goal = t->pending_tail->goal;
    }
    while (t->dead_top) {
        ouro_object *o = t->dead_top;
        t->dead_top = o->_ob_free_next;
        o->_ob_free_next = pool_dead;
        pool_dead = o;
        pool_ndead++;
    }
    update_present_locked();
    pthread_mutex_unlock(&pool_lock);
    t->pending_head = t->pending_tail = NULL;
    t->npending = 0;
    t->ndead = 0;
}

void ouro__orphan_adopt(ouro_thread *t)
{
    ouro_batch *ready = NULL;
    pthread_mutex_lock(&pool_lock);
    /* Take every batch whose goal is reached, wherever it is in the list:
     * decrements commute, only each one's own grace period matters. */
    ouro_batch **link = &pool_head, *last = NULL;
    while (*link) {
        ouro_batch *b = *link;
        if (ouro__gp_poll(b->goal)) {
            *link = b->next;
            b->next = ready;
            ready = b;
        } else {
            last = b;
            link = &b->next;
        }
    }
    pool_tail = last;
    if (!pool_head)
        pool_max_goal = 0;
    ouro_object *dead = pool_dead;
    pool_dead = NULL;
    pool_ndead = 0;
    update_present_locked();
    pthread_mutex_unlock(&pool_lock);

    while (dead) {
        ouro_object *o = dead;
        dead = o->_ob_free_next;
        ouro__push_dead(t, o);
    }
    while (ready) {
        ouro_batch *b = ready;
        ready = b->next;
        ouro__decbuf_apply_batch(t, b);
    }
}

uint64_t ouro__orphan_max_goal(void)
{
    pthread_mutex_lock(&pool_lock);
    uint64_t goal = pool_head ? pool_max_goal : 0;
    pthread_mutex_unlock(&pool_lock);
    return goal;
}
