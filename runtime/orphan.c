/*
 * orphan.c - the pool of work handed over by detached threads.
 */
#include "orphan.h"

#include "dealloc.h"
#include "decref_buffer.h"

_Atomic bool ouro__orphans_present;

/* All protected by pool_lock. */
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static ouro_batch *pool_head, *pool_tail;   /* FIFO, goals increasing */
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
    ouro_batch *ready = NULL, **link = &ready;
    pthread_mutex_lock(&pool_lock);
    while (pool_head && ouro__gp_poll(pool_head->goal)) {
        *link = pool_head;
        link = &pool_head->next;
        pool_head = pool_head->next;
    }
    *link = NULL;
    if (!pool_head)
        pool_tail = NULL;
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

uint64_t ouro__orphan_last_goal(void)
{
    pthread_mutex_lock(&pool_lock);
    uint64_t goal = pool_tail ? pool_tail->goal : 0;
    pthread_mutex_unlock(&pool_lock);
    return goal;
}
