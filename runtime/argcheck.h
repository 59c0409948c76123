/*
 * argcheck.h - object arguments of the introspection and weak reference
 * calls, checked before use.
 *
 * These calls return NULL (or 0) for "nothing", and NULL for out of
 * memory, so a NULL argument cannot be reported through the result: it
 * aborts with a message naming the call, in every build, as ouro_decref(NULL)
 * does.  An argument whose death was decided (its count reached zero) or
 * that was already freed is a use after free: debug builds abort naming the
 * call (the freed objects they keep poisoned in the quarantine are caught
 * too); release builds do not look.
 */
#ifndef OURO_ARGCHECK_H
#define OURO_ARGCHECK_H

#include "dealloc.h"

OURO_COLD __attribute__((noreturn)) void ouro__die_null_arg(const char *api,
                                                            const char *arg);
OURO_COLD __attribute__((noreturn)) void ouro__die_dead_arg(const char *api,
                                                            const ouro_object *o);

/* `o` is no object any more (debug builds only). */
static inline void ouro__check_alive(const ouro_object *o, const char *api)
{
#ifndef NDEBUG
    ouro__check_not_freed(o, api);
    /* relaxed: the caller holds a reference to `o` if it uses the API
     * correctly, and then nobody sets DEAD; a flag found set is misuse
     * whatever the order. */
    if (OURO_UNLIKELY(atomic_load_explicit(&((ouro_object *)o)->ob_gc,
                                           memory_order_relaxed) &
                      OURO__GC_DEAD))
        ouro__die_dead_arg(api, o);
#else
    (void)o;
    (void)api;
#endif
}

/* Argument `arg` of `api` must be a live object. */
static inline void ouro__check_arg(const ouro_object *o, const char *api,
                                   const char *arg)
{
    if (OURO_UNLIKELY(!o))
        ouro__die_null_arg(api, arg);
    ouro__check_alive(o, api);
}

#endif /* OURO_ARGCHECK_H */
