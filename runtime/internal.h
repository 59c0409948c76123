/*
 * internal.h - declarations shared by the runtime's own files.
 *
 * Never included by users: the build defines OURO_INTERNAL only for the
 * library's own targets (runtime/, collector/).
 */
#ifndef OURO_INTERNAL_H
#define OURO_INTERNAL_H

#ifndef OURO_INTERNAL
#error "runtime/internal.h is private to the ouro library"
#endif

#include <ouro.h>
#include <stdbool.h>

#define OURO_NOINLINE __attribute__((noinline))
#define OURO_COLD __attribute__((cold, noinline))

/* ---- broken invariants and misuse (fatal.c) ------------------------------
 * Always active: prints "ouro: <message> [file:line func]" and aborts. */
OURO_COLD __attribute__((noreturn, format(printf, 4, 5))) void
ouro__fatal_at(const char *file, int line, const char *func, const char *fmt,
               ...);
#define ouro__fatal(...) ouro__fatal_at(__FILE__, __LINE__, __func__, __VA_ARGS__)

/* Debug-only assertion of an internal invariant. */
#ifndef NDEBUG
#define OURO_ASSERT(cond)                                                     \
    do {                                                                      \
        if (OURO_UNLIKELY(!(cond)))                                           \
            ouro__fatal("internal invariant broken: %s", #cond);            \
    } while (0)
#else
#define OURO_ASSERT(cond) ((void)0)
#endif

/* ---- memory (runtime.c) ---------------------------------------------------
 * Every allocation of the runtime goes through the configured allocator. */
void *ouro__mem_alloc(size_t size);          /* NULL on failure */
void *ouro__mem_calloc(size_t size);         /* zeroed, NULL on failure */
void ouro__mem_free(void *ptr);

/* ---- runtime-wide settings, fixed between ouro_init and ouro_shutdown ---- */
struct ouro_runtime {
    _Atomic int running;          /* 1 between init and shutdown */
    uint32_t batch_cap;           /* entries per decrement batch */
    uint32_t free_slice;          /* objects freed per safepoint */
    bool pause_cpu_clock;         /* time pauses by CPU clock too */
    uint64_t hash_seed;           /* str hash seed, random per run */
    ouro_config config;
};
extern struct ouro_runtime ouro__rt;

/* Monotonic clock in nanoseconds. */
uint64_t ouro__now_ns(void);

/* Object flags kept in ob_gc (docs/collector.md has the collector's). */
enum {
    OURO__GC_FINALIZED = 1u << 0,   /* finalizer has run (or is running) */
    OURO__GC_STATIC = 1u << 1,      /* statically allocated, never freed */
    OURO__GC_INTERNED = 1u << 2,    /* str in the intern table */
    OURO__GC_DEAD = 1u << 3,        /* count reached zero, on a dead list */
    OURO__GC_BUFFERED = 1u << 4,    /* a cycle candidate (candidates.h) */
    OURO__GC_ZCLAIM = 1u << 5,      /* zombie hand-over claim (candidates.c) */
    OURO__GC_HELD = 1u << 6,        /* the collector holds a reference */
    OURO__GC_IN_GC = 1u << 7,       /* member of the set being validated */
    OURO__GC_TOUCHED = 1u << 8,     /* incremented while IN_GC */
    OURO__GC_DIRTY = 1u << 9,       /* its references changed while IN_GC */
    OURO__GC_HAS_WEAKREFS = 1u << 10,  /* may have weak references (weakref.h) */
    OURO__GC_FROZEN = 1u << 11,     /* never examined by the collector */
    OURO__GC_OLD = 1u << 12,        /* survived a collection that examined it */
};

/* Bits 13..31 of ob_gc: while the collector holds an object, the number
 * of the run of side-table nodes that holds its node (0: none; the index
 * shifted right by the table's shift, plus one): collector/table.h. */
#define OURO__GC_NODE_SHIFT 13
#define OURO__GC_NODE_MAX ((1u << (32 - OURO__GC_NODE_SHIFT)) - 1)
#define OURO__GC_FLAGS_MASK ((1u << OURO__GC_NODE_SHIFT) - 1)

/* While a collection runs, every online thread sets this bit in its own
 * fast-path id (ouro__tls.tid), so that its inline increments miss and take
 * the path that sets TOUCHED on IN_GC objects.  Thread ids stay below it. */
#define OURO__TID_GC_BIT 0x80000000u

/* Nonzero while a collection runs (collector/collect.c); written with
 * release before the collector's first handshake, read at quiescent
 * points. */
extern _Atomic int ouro__gc_active;

/* Set while a running collection has fallen behind: the threads have
 * buffered more new candidates than it may let them (collector/gc.c,
 * "Pacing").  Online mutators then wait at their next safepoint, for the
 * collection to end or for a short while, in ouro__gc_pace_wait. */
extern _Atomic bool ouro__gc_pacing;
void ouro__gc_pace_wait(void);

/* The owner's id (0 if none). */
static inline uint32_t ouro__owner_of(const ouro_object *o)
{
    return atomic_load_explicit(&((ouro_object *)o)->ob_tid,
                                memory_order_relaxed);
}

#endif /* OURO_INTERNAL_H */
