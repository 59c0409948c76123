/*
 * ouro_inline.h - the counting fast paths, inlined into callers.
 *
 * Included by ouro.h; do not include directly.  Everything named ouro__*
 * here is private to the runtime even though it is visible.
 *
 * Increment: the owner thread (ob_tid == its id) adds one to ob_ref_local
 * with a relaxed load and a relaxed store, no read-modify-write; any other
 * thread takes the out-of-line path, which adds to ob_ref_shared atomically.
 *
 * Decrement: whoever calls it appends the pointer to its own buffer; the
 * buffer is applied after a grace period (runtime/decref_buffer.c).  The
 * only work done here is one store and one pointer bump.
 */
#ifndef OURO_INLINE_H
#define OURO_INLINE_H

#ifndef OURO_H
#error "include <ouro.h>, not ouro_inline.h"
#endif

#if defined(__GNUC__)
#define OURO_LIKELY(x) __builtin_expect(!!(x), 1)
#define OURO_UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define OURO_LIKELY(x) (x)
#define OURO_UNLIKELY(x) (x)
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Id seen by an unattached thread: matches no object's ob_tid. */
#define OURO__TID_NONE UINT32_MAX
/* ob_ref_local of an immortal object. */
#define OURO__IMMORTAL_LOCAL UINT32_MAX

/* Per-thread fast-path state; owned by the thread itself. */
struct ouro__tls {
    uint32_t tid;               /* OURO__TID_NONE while unattached */
    ouro_object **dec_pos;      /* next free slot of the decrement batch */
    ouro_object **dec_end;      /* end of that batch; == dec_pos when full */
};
extern _Thread_local struct ouro__tls ouro__tls
    __attribute__((tls_model("initial-exec")));

void ouro__incref_shared(ouro_object *o);
void ouro__decref_slow(ouro_object *o);
#ifndef NDEBUG
void ouro__debug_check_object(const ouro_object *o, const char *op);
#define OURO__DEBUG_CHECK(o, op) ouro__debug_check_object((o), (op))
#else
#define OURO__DEBUG_CHECK(o, op) ((void)0)
#endif

static inline void ouro_incref(ouro_object *o)
{
    OURO__DEBUG_CHECK(o, "ouro_incref");
    /* relaxed: only the owner writes ob_ref_local and ob_tid changes away
     * from the owner's id only on the owner's own thread. */
    uint32_t tid = atomic_load_explicit(&o->ob_tid, memory_order_relaxed);
    if (OURO_LIKELY(tid == ouro__tls.tid)) {
        uint32_t local = atomic_load_explicit(&o->ob_ref_local,
                                              memory_order_relaxed);
        /* At UINT32_MAX the object saturates into immortality. */
        if (OURO_LIKELY(local != OURO__IMMORTAL_LOCAL))
            atomic_store_explicit(&o->ob_ref_local, local + 1,
                                  memory_order_relaxed);
        return;
    }
    ouro__incref_shared(o);
}

static inline void ouro_decref(ouro_object *o)
{
    OURO__DEBUG_CHECK(o, "ouro_decref");
    struct ouro__tls *t = &ouro__tls;
    if (OURO_LIKELY(t->dec_pos != t->dec_end)) {
        *t->dec_pos++ = o;
        return;
    }
    ouro__decref_slow(o);
}

static inline void ouro_xincref(ouro_object *o)
{
    if (o)
        ouro_incref(o);
}

static inline void ouro_xdecref(ouro_object *o)
{
    if (o)
        ouro_decref(o);
}

static inline void ouro_setref(ouro_object **slot, ouro_object *value)
{
    ouro_object *old = *slot;
    ouro_xincref(value);
    *slot = value;
    ouro_xdecref(old);
}

#ifdef __cplusplus
}
#endif

#endif /* OURO_INLINE_H */
