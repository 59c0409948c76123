/*
 * debug.c - gc.set_debug() and gc.garbage, in C.
 *
 * The flags and the stream are set by any thread and read by the collector
 * thread when it reports.  Both change, and every report is written, under
 * debug_lock: once ouro_gc_set_debug has returned, no report is still
 * writing to the stream it replaced, and none starts, so the caller may
 * close that stream at once.  (With the stream loaded outside the lock, a
 * collection could write to it after it was unset and closed.)  The lock
 * is held for one report line at a time, so a set_debug waits at most for
 * one line to be written.
 *
 * The garbage list is an ordinary list, created on first use and made
 * immortal (the runtime's reference is never dropped while it runs);
 * ouro_shutdown empties and frees it.  Objects left in it at shutdown are
 * released without a collection, so a cycle among them leaks: empty it
 * first.
 */
#include "debug.h"

#include "builtin.h"
#include "heap.h"

#include <inttypes.h>

#define KNOWN_FLAGS                                                           \
    (OURO_GC_DEBUG_STATS | OURO_GC_DEBUG_COLLECTABLE | OURO_GC_DEBUG_SAVEALL)

static pthread_mutex_t debug_lock = PTHREAD_MUTEX_INITIALIZER;
/* Written under debug_lock; atomic so that ouro_gc_get_debug and a
 * collection deciding whether to keep its garbage may read it without. */
static _Atomic unsigned debug_flags;
static FILE *debug_stream;   /* debug_lock; NULL: stderr */
static pthread_mutex_t garbage_lock = PTHREAD_MUTEX_INITIALIZER;
static ouro_object *garbage;   /* garbage_lock to create; then fixed */

unsigned ouro__gc_debug_flags(void)
{
    return atomic_load_explicit(&debug_flags, memory_order_relaxed);
}

/* The stream to write a report for `flag` to, with debug_lock held, or
 * NULL (and the lock not held) when that report is off now.  The flag is
 * read again under the lock: the caller's earlier read may be stale. */
static FILE *report_begin(unsigned flag)
{
    pthread_mutex_lock(&debug_lock);
    /* relaxed: debug_lock orders it with the set_debug that wrote it. */
    if (!(atomic_load_explicit(&debug_flags, memory_order_relaxed) & flag)) {
        pthread_mutex_unlock(&debug_lock);
        return NULL;
    }
    return debug_stream ? debug_stream : stderr;
}

static void report_end(void)
{
    pthread_mutex_unlock(&debug_lock);
}

int ouro_gc_set_debug(unsigned flags, FILE *out)
{
    if (flags & ~(unsigned)KNOWN_FLAGS)
        return OURO_EINVAL;
    /* Waits for a report being written to the old stream. */
    pthread_mutex_lock(&debug_lock);
    debug_stream = out;
    /* relaxed: readers that write reports take debug_lock; the others only
     * decide whether to look. */
    atomic_store_explicit(&debug_flags, flags, memory_order_relaxed);
    pthread_mutex_unlock(&debug_lock);
    return OURO_OK;
}

unsigned ouro_gc_get_debug(void)
{
    return ouro__gc_debug_flags();
}

/* The garbage list, created on first use; NULL out of memory. */
static ouro_object *garbage_list(void)
{
    pthread_mutex_lock(&garbage_lock);
    if (!garbage) {
        ouro_object *l = ouro_list_new(0);
        /* Ours, so making it immortal cannot fail. */
        if (l && ouro_make_immortal(l) == OURO_OK)
            garbage = l;
    }
    ouro_object *l = garbage;
    pthread_mutex_unlock(&garbage_lock);
    return l;
}

ouro_object *ouro_gc_garbage(void)
{
    ouro__self_or_die("ouro_gc_garbage");
    return garbage_list();   /* immortal: a reference costs nothing */
}

void ouro__gc_report_collectable(ouro_object *o)
{
    FILE *out = report_begin(OURO_GC_DEBUG_COLLECTABLE);
    if (!out)
        return;
    fprintf(out, "gc: collectable <%s %p>\n", o->ob_type->name, (void *)o);
    report_end();
}

bool ouro__gc_save_garbage(ouro_object *o)
{
    ouro_object *l = garbage_list();
    return l && ouro_list_append(l, o) == OURO_OK;
}

void ouro__gc_report_start(const ouro_gc_info *info, uint64_t candidates)
{
    FILE *out = report_begin(OURO_GC_DEBUG_STATS);
    if (!out)
        return;
    fprintf(out, "gc: collection %" PRIu64 " (%s): %" PRIu64
            " candidates buffered\n", info->collection,
            info->full ? "full" : "young", candidates);
    report_end();
}

void ouro__gc_report_stop(const ouro_gc_info *info, uint64_t examined,
                          uint64_t elapsed_ns)
{
    FILE *out = report_begin(OURO_GC_DEBUG_STATS);
    if (!out)
        return;
    fprintf(out,
            "gc: done, %" PRIu64 " candidates, %" PRIu64 " examined, %" PRIu64
            " unreachable, %" PRIu64 " collected, %" PRIu64
            " aborted, %.6fs elapsed\n",
            info->candidates, examined, info->unreachable, info->collected,
            info->aborted, (double)elapsed_ns / 1e9);
    report_end();
}

void ouro__gc_debug_fini(void)
{
    pthread_mutex_lock(&garbage_lock);
    ouro_object *l = garbage;
    garbage = NULL;
    pthread_mutex_unlock(&garbage_lock);
    ouro_gc_set_debug(0, NULL);
    if (!l)
        return;
    ouro_object *o;
    while ((o = ouro_list_pop(l, -1)))
        ouro_decref(o);
    /* The immortal list itself: freed by hand, as interned strings are. */
    ouro__heap_untrack(l);
    l->ob_type->destroy(l);
    ouro__block_free(ouro__self, ouro__object_block(l, l->ob_type),
                     ouro__block_bytes(l));
}
