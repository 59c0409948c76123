/*
 * debug.c - gc.set_debug() and gc.garbage, in C.
 *
 * The flags and the stream are set by any thread and read by the collector
 * thread; a collection reads them when it reports.  The garbage list is an
 * ordinary list, created on first use and made immortal (the runtime's
 * reference is never dropped while it runs); ouro_shutdown empties and
 * frees it.  Objects left in it at shutdown are released without a
 * collection, so a cycle among them leaks: empty it first.
 */
#include "debug.h"

#include "builtin.h"
#include "heap.h"

#include <inttypes.h>

#define KNOWN_FLAGS                                                           \
    (OURO_GC_DEBUG_STATS | OURO_GC_DEBUG_COLLECTABLE | OURO_GC_DEBUG_SAVEALL)

static _Atomic unsigned debug_flags;
static FILE *_Atomic debug_stream;
static pthread_mutex_t garbage_lock = PTHREAD_MUTEX_INITIALIZER;
static ouro_object *garbage;   /* garbage_lock to create; then fixed */

unsigned ouro__gc_debug_flags(void)
{
    return atomic_load_explicit(&debug_flags, memory_order_relaxed);
}

static FILE *stream(void)
{
    /* acquire: pairs with the release in ouro_gc_set_debug, so the stream
     * the caller set up is visible with it. */
    FILE *f = atomic_load_explicit(&debug_stream, memory_order_acquire);
    return f ? f : stderr;
}

int ouro_gc_set_debug(unsigned flags, FILE *out)
{
    if (flags & ~(unsigned)KNOWN_FLAGS)
        return OURO_EINVAL;
    atomic_store_explicit(&debug_stream, out, memory_order_release);
    atomic_store_explicit(&debug_flags, flags, memory_order_relaxed);
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
    fprintf(stream(), "gc: collectable <%s %p>\n", o->ob_type->name,
            (void *)o);
}

bool ouro__gc_save_garbage(ouro_object *o)
{
    ouro_object *l = garbage_list();
    return l && ouro_list_append(l, o) == OURO_OK;
}

void ouro__gc_report_start(const ouro_gc_info *info, uint64_t candidates)
{
    if (!(ouro__gc_debug_flags() & OURO_GC_DEBUG_STATS))
        return;
    fprintf(stream(), "gc: collection %" PRIu64 ": %" PRIu64
            " candidates buffered\n", info->collection, candidates);
}

void ouro__gc_report_stop(const ouro_gc_info *info, uint64_t examined,
                          uint64_t elapsed_ns)
{
    if (!(ouro__gc_debug_flags() & OURO_GC_DEBUG_STATS))
        return;
    fprintf(stream(),
            "gc: done, %" PRIu64 " candidates, %" PRIu64 " examined, %" PRIu64
            " unreachable, %" PRIu64 " collected, %" PRIu64
            " aborted, %.6fs elapsed\n",
            info->candidates, examined, info->unreachable, info->collected,
            info->aborted, (double)elapsed_ns / 1e9);
}

void ouro__gc_debug_fini(void)
{
    pthread_mutex_lock(&garbage_lock);
    ouro_object *l = garbage;
    garbage = NULL;
    pthread_mutex_unlock(&garbage_lock);
    atomic_store_explicit(&debug_flags, 0, memory_order_relaxed);
    atomic_store_explicit(&debug_stream, NULL, memory_order_relaxed);
    if (!l)
        return;
    ouro_object *o;
    while ((o = ouro_list_pop(l, -1)))
        ouro_decref(o);
    /* The immortal list itself: freed by hand, as interned strings are. */
    ouro__heap_untrack(l);
    l->ob_type->destroy(l);
    ouro__mem_free(ouro__object_block(l, l->ob_type));
}
