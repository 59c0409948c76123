/*
 * gc.h - the collector's internal interface (docs/collector.md).
 */
#ifndef OURO_GC_H
#define OURO_GC_H

#include "thread.h"

/* Start the collector thread (from ouro_init) / stop it and drain the
 * candidate set (from ouro_shutdown, on an attached thread). */
int ouro__gc_start(const ouro_config *config);
void ouro__gc_stop(void);
/* After the last flush and detach of ouro_shutdown (which may still buffer
 * candidates): free the candidate set. */
void ouro__gc_fini(void);

/* The candidate set reached n entries: maybe wake the collector, or, if
 * the running collection has fallen behind, start pacing the mutators. */
void ouro__gc_candidates_grew(uint64_t n);
/* The old set reached n entries since the last full take: once that is a
 * quarter of the tracked objects (and the base threshold), ask for a
 * collection, which full_due() makes full.  Never paces: old candidates
 * are live objects that were read, or old garbage, which is bounded by
 * what collections made old. */
void ouro__gc_old_candidates_grew(uint64_t n);
/* Ask for an automatic collection now (if automatic collection is on),
 * whatever the candidate count. */
void ouro__gc_request(void);
/* A collection took `taken` candidates: how many new ones it allows. */
void ouro__gc_pace_begin(uint64_t taken);

/* The write barrier: a reference held by `o` changed. */
static inline void ouro__gc_written(ouro_object *o)
{
    /* relaxed: the collector's handshake orders this load after its marks
     * (docs/collector.md, safety step 2). */
    uint32_t gc = atomic_load_explicit(&o->ob_gc, memory_order_relaxed);
    if (OURO_UNLIKELY(gc & OURO__GC_IN_GC) && !(gc & OURO__GC_DIRTY))
        atomic_fetch_or_explicit(&o->ob_gc, OURO__GC_DIRTY,
                                 memory_order_relaxed);
}

/* One collection on the collector thread.  Fills `info` (per-phase times,
 * figures); returns the number of unreachable objects found. */
struct ouro_gc_run {
    bool young;   /* in: old candidates deferred, old objects not entered */
    uint64_t candidates, examined, unreachable, collected, aborted, zombies;
    uint64_t deferred;   /* out: old candidates moved to the old set */
    bool old_taken;      /* out: the whole old set was taken (a full one) */
    uint64_t phase_ns[OURO_GC_PHASES];
};
int64_t ouro__gc_collect_once(ouro_thread *self, struct ouro_gc_run *run);
/* Free what collections keep between them (ouro__gc_stop). */
void ouro__gc_collect_fini(void);

/* White-box tests only: called on the collector thread after each taken
 * candidate's subgraph has been walked, to schedule mutator work there.
 * While it is set, trial deletion reads every node as soon as it is
 * added (no lag), so the walk is done when it runs. */
extern void (*_Atomic ouro__walk_test_hook)(ouro_object *candidate);
/* White-box tests only: called on the collector thread in validation's
 * pass 3 right after a member's count (and queue state) was read. */
extern void (*_Atomic ouro__recount_test_hook)(ouro_object *o);
/* White-box tests only: called on the collector thread in trial deletion
 * right before a node's count is read, with the production lag (the node
 * was held and marked some nodes earlier, and quiescent points may have
 * passed since), to schedule mutator work in that gap.  It may pass
 * quiescent points itself. */
extern void (*_Atomic ouro__drain_test_hook)(ouro_object *o);
/* White-box tests only: if set, collections scan black by traversing the
 * objects, as when there was no memory to record trial deletion's
 * edges. */
extern atomic_bool ouro__trial_edges_test_off;
/* Tests: if set, the collector counts its searches of the taken
 * candidates (in_cands in collect.c) and the entries they looked at. */
struct ouro__search_count {
    uint64_t searches, probes;
};
extern struct ouro__search_count *_Atomic ouro__take_search_count;

/* Free a dead object's memory (after destroy), counting it. */
void ouro__release_object(ouro_thread *t, ouro_object *o);

#endif /* OURO_GC_H */
