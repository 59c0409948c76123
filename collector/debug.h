/*
 * debug.h - the gc debug flags and the garbage list (debug.c).
 */
#ifndef OURO_GC_DEBUG_H
#define OURO_GC_DEBUG_H

#include "thread.h"

/* The flags now (relaxed: a collection reads them once, at its end). */
unsigned ouro__gc_debug_flags(void);

/* DEBUG_COLLECTABLE: one line for garbage object `o`. */
void ouro__gc_report_collectable(ouro_object *o);
/* DEBUG_SAVEALL: append garbage object `o` to the garbage list; false if
 * out of memory (the collector then keeps it for the next collection). */
bool ouro__gc_save_garbage(ouro_object *o);
/* DEBUG_STATS: lines at the start and the end of collection `info`. */
void ouro__gc_report_start(const ouro_gc_info *info, uint64_t candidates);
void ouro__gc_report_stop(const ouro_gc_info *info, uint64_t examined,
                          uint64_t elapsed_ns);

/* At shutdown, on an attached thread: empty and free the garbage list. */
void ouro__gc_debug_fini(void);

#endif /* OURO_GC_DEBUG_H */
